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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_starts_empty_and_caps_burst),
        cmocka_unit_test(test_bucket_follows_rate),
        cmocka_unit_test(test_rounding_rules),
        cmocka_unit_test(test_consumed_capacity),
        cmocka_unit_test(test_capacity_fraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
