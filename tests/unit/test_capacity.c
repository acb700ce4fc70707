/* Unit tests for the capacity cap: the shared token bucket (starts empty,
 * holds at most 0.1 s, debt paid off before the next call, refunds never buy
 * a burst), DynamoDB's capacity rounding rules and the ConsumedCapacity
 * parser. Time is simulated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "ddb/capacity.h"
#include "ddb/ops.h"

static void test_bucket_starts_empty_and_caps_burst(void **state) {
    (void)state;
    dp_capacity_bucket *b = dp_capacity_bucket_new(1000, 100.0);
    assert_non_null(b);
    /* empty at start: the first call waits about 1 ms (until a unit accrued) */
    assert_true(dp_capacity_bucket_wait_ms(b, 100.0) >= 1);
    /* an hour idle stores 0.1 s = 100 units, not 3.6 million */
    assert_int_equal(dp_capacity_bucket_wait_ms(b, 3700.0), 0);
    dp_capacity_bucket_charge(b, 100, 3700.0);
    assert_true(dp_capacity_bucket_wait_ms(b, 3700.0) >= 1);
    /* a 25-unit call costs 25 ms at 1000/s: debt first, then the next call */
    dp_capacity_bucket_charge(b, 25, 3700.0);
    int64_t w = dp_capacity_bucket_wait_ms(b, 3700.0);
    assert_true(w >= 25 && w <= 27);
    assert_int_equal(dp_capacity_bucket_wait_ms(b, 3700.026), 0);
    /* a refund never lifts the balance above 0.1 s */
    dp_capacity_bucket_charge(b, -1e6, 3700.026);
    dp_capacity_bucket_charge(b, 101, 3700.026);
    assert_true(dp_capacity_bucket_wait_ms(b, 3700.026) >= 1);
    dp_capacity_bucket_destroy(b);
    dp_capacity_bucket_destroy(NULL);
    assert_int_equal(dp_capacity_bucket_wait_ms(NULL, 1.0), 0); /* no cap */
    assert_null(dp_capacity_bucket_new(0, 1.0));
}

static void test_bucket_follows_rate(void **state) {
    (void)state;
    /* a greedy caller sending 25-unit calls whenever allowed, over 10 s of
     * simulated time, consumes the rate (plus at most one call and 0.1 s) */
    dp_capacity_bucket *b = dp_capacity_bucket_new(500, 0.0);
    double t = 0, used = 0;
    while (t < 10.0) {
        int64_t w = dp_capacity_bucket_wait_ms(b, t);
        if (w == 0) {
            dp_capacity_bucket_charge(b, 25, t);
            used += 25;
        } else {
            t += (double)w / 1000.0;
        }
    }
    assert_true(used <= 500 * 10.0 + 25 + 50);
    assert_true(used >= 500 * 10.0 * 0.97);
    assert_true(dp_capacity_bucket_charged(b) == used);
    dp_capacity_bucket_destroy(b);
}

static void test_rounding_rules(void **state) {
    (void)state;
    assert_true(dp_wcu_estimate(0, 0, 0) == 1);
    assert_true(dp_wcu_estimate(1024, 0, 0) == 1);
    assert_true(dp_wcu_estimate(1025, 0, 0) == 2);
    assert_true(dp_wcu_estimate(400 * 1024, 0, 0) == 400);
    assert_true(dp_wcu_estimate(5000, 1, 0) == 1); /* delete: 1 until the answer */
    assert_true(dp_wcu_estimate(1500, 0, 1) == 4); /* transactions cost twice */
    assert_true(dp_rcu_estimate(100, 0) == 0.5);   /* eventual: half of a 4 KB unit */
    assert_true(dp_rcu_estimate(4096, 1) == 1);
    assert_true(dp_rcu_estimate(4097, 1) == 2);
    assert_true(dp_rcu_estimate(1 << 20, 0) == 128); /* a full 1 MB Scan page */
}

static double consumed(const char *text, int *found) {
    dp_json_doc *d = dp_json_parse(text, strlen(text), NULL);
    assert_non_null(d);
    double u = -1;
    *found = dp_consumed_capacity(dp_json_root(d), &u);
    dp_json_doc_free(d);
    return u;
}

static void test_consumed_capacity(void **state) {
    (void)state;
    int f;
    assert_true(consumed("{\"ConsumedCapacity\":[{\"TableName\":\"a\",\"CapacityUnits\":25.0},"
                         "{\"TableName\":\"b\",\"CapacityUnits\":3}]}",
                         &f) == 28.0);
    assert_int_equal(f, 1);
    assert_true(consumed("{\"Items\":[],\"ConsumedCapacity\":{\"TableName\":\"a\",\"CapacityUnits\":0.5}}",
                         &f) == 0.5);
    assert_int_equal(f, 1);
    consumed("{\"UnprocessedItems\":{}}", &f);
    assert_int_equal(f, 0);
    consumed("{\"ConsumedCapacity\":{\"CapacityUnits\":\"many\"}}", &f);
    assert_int_equal(f, 0);
    consumed("{\"ConsumedCapacity\":{\"CapacityUnits\":-5}}", &f);
    assert_int_equal(f, 0);
}

/* write/read_capacity_fraction: the figures of DescribeTable answers as
 * DynamoDB gives them, the fraction, the smaller of two caps, and a rate
 * change keeping the bucket's balance within 0.1 s of the new rate. */
static void test_capacity_fraction(void **state) {
    (void)state;
    dp_ddb_table_capacity c;
    char err[256];
    const char *prov =
        "{\"Table\":{\"TableName\":\"t\",\"ProvisionedThroughput\":{\"NumberOfDecreasesToday\":0,"
        "\"ReadCapacityUnits\":400,\"WriteCapacityUnits\":2000}}}";
    assert_int_equal(dp_ddb_parse_table_capacity(prov, strlen(prov), &c, err, sizeof err), 0);
    assert_int_equal(c.on_demand, 0);
    assert_int_equal(c.write_capacity_units, 2000);
    assert_int_equal(c.read_capacity_units, 400);
    double u = 0;
    assert_int_equal(dp_capacity_of_fraction(0.5, c.write_capacity_units, c.on_demand, 0, 0, &u), 0);
    assert_true(u == 1000);
    /* an absolute cap below the fraction wins, one above it does not */
    assert_int_equal(dp_capacity_of_fraction(0.5, 2000, 0, 0, 300, &u), 0);
    assert_true(u == 300);
    assert_int_equal(dp_capacity_of_fraction(0.5, 2000, 0, 0, 5000, &u), 0);
    assert_true(u == 1000);
    /* at least 1 unit a second */
    assert_int_equal(dp_capacity_of_fraction(0.01, 5, 0, 0, 0, &u), 0);
    assert_true(u == 1);
    const char *od = "{\"Table\":{\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"},"
                     "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":0,\"WriteCapacityUnits\":0},"
                     "\"OnDemandThroughput\":{\"MaxReadRequestUnits\":-1,\"MaxWriteRequestUnits\":800}}}";
    assert_int_equal(dp_ddb_parse_table_capacity(od, strlen(od), &c, err, sizeof err), 0);
    assert_int_equal(c.on_demand, 1);
    assert_int_equal(c.max_write_request_units, 800);
    assert_int_equal(c.max_read_request_units, 0); /* -1: no maximum */
    assert_int_equal(
        dp_capacity_of_fraction(0.25, c.write_capacity_units, 1, c.max_write_request_units, 0, &u), 0);
    assert_true(u == 200);
    /* on demand without a maximum: nothing to take a fraction of */
    assert_int_equal(dp_capacity_of_fraction(0.5, c.read_capacity_units, 1, c.max_read_request_units, 0, &u),
                     -1);
    assert_int_not_equal(dp_ddb_parse_table_capacity("{}", 2, &c, err, sizeof err), 0);
    assert_non_null(strstr(err, "Table"));

    dp_capacity_bucket *b = dp_capacity_bucket_new(1000, 10.0);
    assert_non_null(b);
    assert_int_equal(dp_capacity_bucket_wait_ms(b, 20.0), 0); /* 100 units stored */
    dp_capacity_bucket_set_rate(b, 100, 20.0);                /* now at most 10 */
    assert_true(dp_capacity_bucket_rate(b) == 100);
    dp_capacity_bucket_charge(b, 30, 20.0); /* 10 - 30 = -20: 200 ms at 100/s */
    int64_t w = dp_capacity_bucket_wait_ms(b, 20.0);
    assert_true(w >= 200 && w <= 202);
    dp_capacity_bucket_destroy(b);
}

/* retry_mode adaptive against a simulated table granting 3,000 units/s with
 * 1 s of burst (full at the start) and serving one call every 2 ms from a
 * queue, as the fault double does; the client keeps up to 128 calls of 25
 * units in flight, as fast as the rate allows. The first throttle comes
 * with a deep queue of calls sent far above the grant (they are throttled
 * whatever the client does). The rate must settle at the grant (not a
 * fraction of it) within 2 s, the table must then be kept busy, and the
 * probes above the grant must cost few throttled calls. */
#define SIM_GRANT 3000.0
#define SIM_QUEUE 128
static void test_adaptive_settles_at_grant(void **state) {
    (void)state;
    dp_rate_adapt *a = dp_rate_adapt_new(0);
    assert_non_null(a);
    double tokens = SIM_GRANT, sent_s[SIM_QUEUE];
    int head = 0, n = 0;                 /* calls queued at the table (FIFO) */
    double answer_s = -1, ans_units = 0; /* the call answered next (1 ms after it is served) */
    int ans_throttled = 0;
    long calls = 0, throttled_calls = 0, late_throttled = 0;
    double accepted_late = 0;
    for (int ms = 0; ms < 20000; ms++) {
        double now = ms / 1000.0;
        tokens += SIM_GRANT / 1000.0;
        if (tokens > SIM_GRANT)
            tokens = SIM_GRANT;
        if (answer_s >= 0 && now >= answer_s) {
            dp_rate_adapt_answer(a, ans_units, ans_throttled ? 25 - ans_units : 0, now);
            answer_s = -1;
        }
        if (ms % 2 == 0 && n > 0 && answer_s < 0 && sent_s[head] < now) { /* serve one call */
            double got = tokens >= 25 ? 25 : (double)(int)tokens;
            tokens -= got;
            ans_units = got;
            ans_throttled = got < 25;
            answer_s = now + 0.001;
            head = (head + 1) % SIM_QUEUE;
            n--;
            throttled_calls += ans_throttled;
            if (ms >= 2000) {
                late_throttled += ans_throttled;
                if (ms >= 5000)
                    accepted_late += got;
            }
        }
        while (n + (answer_s >= 0) < SIM_QUEUE && dp_rate_adapt_wait_ms(a, now) == 0) {
            dp_rate_adapt_charge(a, 25, now);
            sent_s[(head + n) % SIM_QUEUE] = now;
            n++;
            calls++;
        }
    }
    unsigned cuts = 0;
    double rate = dp_rate_adapt_rate(a, &cuts);
    print_message(
        "adaptive: %ld calls, %ld throttled (%ld after 2 s), rate %.0f, %u cuts, %.0f units/s after 5 s\n",
        calls, throttled_calls, late_throttled, rate, cuts, accepted_late / 15.0);
    assert_true(rate >= 0.9 * SIM_GRANT && rate <= 1.2 * SIM_GRANT);
    assert_true(accepted_late / 15.0 >= 0.9 * SIM_GRANT); /* the table kept busy */
    /* the calls in flight at the first throttle, and the paced measurement */
    assert_true(throttled_calls - late_throttled <= SIM_QUEUE + 40);
    assert_true(late_throttled < calls / 50); /* then a probe costs a few calls */
    dp_rate_adapt_destroy(a);
}

/* Input trickling in (one call of 10 units every 0.1 s, each a fifth of
 * them throttled whole, as a table with random throttles does): too few
 * throttled answers to measure a grant, so the rate must not collapse
 * (it once fell to 1 unit/s and a 300-record sink took minutes). Over 60 s
 * the sink keeps sending at the input's pace. */
static void test_adaptive_trickle_not_starved(void **state) {
    (void)state;
    dp_rate_adapt *a = dp_rate_adapt_new(0);
    assert_non_null(a);
    double now = 0, next_send = 0;
    unsigned sent = 0, calls = 0;
    while (now < 60.0) {
        if (now >= next_send && dp_rate_adapt_wait_ms(a, now) == 0) {
            dp_rate_adapt_charge(a, 10, now);
            if (++calls % 5 == 0)
                dp_rate_adapt_throttled(a, 10, now + 0.005);
            else {
                dp_rate_adapt_answer(a, 10, 0, now + 0.005);
                sent++;
            }
            next_send = now + 0.1;
        }
        now += 0.001;
    }
    /* the input offers 600 calls; well over half must go out */
    if (sent < 300)
        fail_msg("only %u of the trickling input's calls were accepted in 60 s", sent);
    dp_rate_adapt_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_starts_empty_and_caps_burst),
        cmocka_unit_test(test_bucket_follows_rate),
        cmocka_unit_test(test_rounding_rules),
        cmocka_unit_test(test_consumed_capacity),
        cmocka_unit_test(test_capacity_fraction),
        cmocka_unit_test(test_adaptive_settles_at_grant),
        cmocka_unit_test(test_adaptive_trickle_not_starved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
