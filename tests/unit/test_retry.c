/* Unit tests for the retry policy: full-jitter backoff bounds, the
 * retry-token bucket, the adaptive (CUBIC) rate limiter, CRC32, and the
 * client's endpoint derivation. All time is simulated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "ddb/client.h"

static void test_backoff_bounds(void **state) {
    (void)state;
    for (int n = 0; n < 64; n++) {
        int64_t ceiling = n < 20 ? 25LL << n : 20000;
        if (ceiling > 20000)
            ceiling = 20000;
        assert_int_equal(dp_retry_backoff_ms(n, 25, 20000, 0.0), 0);
        int64_t hi = dp_retry_backoff_ms(n, 25, 20000, 0.999999);
        assert_true(hi <= ceiling);
        assert_true(hi >= ceiling - 1);
        for (int i = 0; i < 50; i++) {
            int64_t d = dp_retry_backoff_ms(n, 25, 20000, dp_rand_unit());
            assert_true(d >= 0 && d <= ceiling);
        }
    }
    /* the cap applies whatever the base */
    assert_true(dp_retry_backoff_ms(3, 5000, 20000, 0.999) <= 20000);
    assert_int_equal(dp_retry_backoff_ms(1, 100, 20000, 0.5), 100); /* 0.5 * 200 */
    /* jitter really spreads: 200 draws at attempt 8 are not all equal */
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 200; i++) {
        int64_t d = dp_retry_backoff_ms(8, 25, 20000, dp_rand_unit());
        if (d < lo)
            lo = d;
        if (d > hi)
            hi = d;
    }
    assert_true(hi - lo > 1000);
}

static void test_token_bucket(void **state) {
    (void)state;
    dp_retry_bucket b;
    dp_retry_bucket_init(&b, 500);
    assert_int_equal(b.tokens, 500);
    for (int i = 0; i < 100; i++)
        assert_int_equal(dp_retry_bucket_acquire(&b, 0), 1);
    assert_int_equal(b.tokens, 0);
    assert_int_equal(dp_retry_bucket_acquire(&b, 0), 0); /* empty: no retry */
    dp_retry_bucket_release(&b, 1);                      /* a first-try success refunds 1 */
    assert_int_equal(b.tokens, 1);
    dp_retry_bucket_release(&b, 9);
    assert_int_equal(dp_retry_bucket_acquire(&b, 1), 1); /* timeouts cost 10 */
    assert_int_equal(b.tokens, 0);
    dp_retry_bucket_release(&b, 10000);
    assert_int_equal(b.tokens, 500); /* capped at capacity */
    assert_int_equal(dp_retry_cost(0), 5);
    assert_int_equal(dp_retry_cost(1), 10);
    dp_retry_bucket_init(&b, 0);
    assert_int_equal(b.capacity, 500);
}

/* Simulate a client that sends whenever the limiter lets it (at most
 * max_rps), from t0 to t1 in 1 ms steps; throttle_at < 0: no throttle. */
static double simulate(dp_rate_limiter *rl, double t0, double t1, double max_rps, double throttle_at,
                       int *sent) {
    double next_ok = t0;
    int n = 0;
    int throttled_done = 0;
    for (double t = t0; t < t1; t += 0.001) {
        if (t < next_ok)
            continue;
        if (dp_rate_limiter_acquire_delay_ms(rl, t) > 0)
            continue;
        n++;
        next_ok = t + 1.0 / max_rps;
        int thr = throttle_at >= 0 && !throttled_done && t >= throttle_at;
        if (thr)
            throttled_done = 1;
        dp_rate_limiter_update(rl, thr, t);
    }
    if (sent)
        *sent = n;
    return rl->fill_rate;
}

static void test_rate_limiter_drops_on_throttle_and_regrows(void **state) {
    (void)state;
    dp_rate_limiter rl;
    dp_rate_limiter_init(&rl);
    /* before any throttle the limiter never delays */
    int sent = 0;
    simulate(&rl, 100.0, 103.0, 200, -1, &sent);
    assert_int_equal(rl.enable_limit, 0);
    assert_true(sent > 550);
    assert_true(rl.measured_tx_rate > 150 && rl.measured_tx_rate < 250);

    /* one throttle: rate becomes beta * measured rate, limiting starts */
    double measured = rl.measured_tx_rate;
    dp_rate_limiter_update(&rl, 1, 103.0);
    assert_int_equal(rl.enable_limit, 1);
    assert_true(rl.fill_rate > 0.6 * measured && rl.fill_rate < 0.75 * measured);
    double after_throttle = rl.fill_rate;

    /* right after, sends are paced: a burst gets delays */
    int delayed = 0;
    for (int i = 0; i < 50; i++)
        if (dp_rate_limiter_acquire_delay_ms(&rl, 103.001) > 0)
            delayed++;
    assert_true(delayed > 40);

    /* cubic regrowth: below the old max for a while, then back above it */
    simulate(&rl, 103.01, 105.0, 1000, -1, NULL);
    assert_true(rl.fill_rate < rl.last_max_rate * 1.05);
    simulate(&rl, 105.0, 112.0, 1000, -1, NULL);
    assert_true(rl.fill_rate > after_throttle);
    assert_true(rl.fill_rate > rl.last_max_rate);

    /* repeated throttles keep cutting the rate */
    double before = rl.fill_rate;
    dp_rate_limiter_update(&rl, 1, 112.0);
    double r1 = rl.fill_rate;
    assert_true(r1 < before);
    dp_rate_limiter_update(&rl, 1, 112.1);
    assert_true(rl.fill_rate < r1);
    /* never below the floor of 0.5 requests/s */
    for (int i = 0; i < 100; i++)
        dp_rate_limiter_update(&rl, 1, 112.2 + i * 0.01);
    assert_true(rl.fill_rate >= 0.5);
    assert_true(dp_rate_limiter_acquire_delay_ms(&rl, 113.3) <= 2000);
}

/* An early throttle (before the first half second of sends was measured)
 * does not collapse the rate to the floor: nothing is cut from a rate not
 * yet measured; a later throttle cuts from the measured one. */
static void test_rate_limiter_measures_before_cutting(void **state) {
    (void)state;
    dp_rate_limiter rl;
    dp_rate_limiter_init(&rl);
    int sent = 0;
    simulate(&rl, 200.0, 200.3, 200, 200.2, &sent);
    assert_int_equal(rl.enable_limit, 0);
    assert_int_equal(dp_rate_limiter_acquire_delay_ms(&rl, 200.3), 0);
    simulate(&rl, 200.3, 202.0, 200, -1, &sent);
    assert_true(rl.measured_tx_rate > 150);
    dp_rate_limiter_update(&rl, 1, 202.0);
    assert_int_equal(rl.enable_limit, 1);
    assert_true(rl.fill_rate > 0.6 * 150);
}

static void test_rate_limiter_disabled(void **state) {
    (void)state;
    dp_rate_limiter rl;
    dp_rate_limiter_init(&rl);
    rl.enabled = 0;
    for (int i = 0; i < 10; i++)
        dp_rate_limiter_update(&rl, 1, 1.0 + i);
    assert_int_equal(dp_rate_limiter_acquire_delay_ms(&rl, 20.0), 0);
}

static void test_crc32_matches_x_amz_crc32(void **state) {
    (void)state;
    /* the IEEE check value, and a value DynamoDB sends for "{}" */
    assert_int_equal(dp_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(dp_crc32("{}", 2), 2745614147u);
    assert_int_equal(dp_crc32("", 0), 0);
}

static void test_endpoints(void **state) {
    (void)state;
    char err[256];
    dp_ddb_options o;
    dp_ddb_options_init(&o);
    assert_null(dp_ddb_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "region"));
    o.region = "us-west-2";
    dp_ddb *c = dp_ddb_new(&o, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(dp_ddb_endpoint(c, DP_DDB_API_DYNAMODB), "https://dynamodb.us-west-2.amazonaws.com/");
    assert_string_equal(dp_ddb_endpoint(c, DP_DDB_API_STREAMS),
                        "https://streams.dynamodb.us-west-2.amazonaws.com/");
    assert_string_equal(dp_ddb_region(c), "us-west-2");
    assert_int_equal(dp_ddb_retry_tokens(c), 500);
    dp_ddb_destroy(c);

    o.region = "cn-north-1";
    c = dp_ddb_new(&o, err, sizeof(err));
    assert_string_equal(dp_ddb_endpoint(c, DP_DDB_API_DYNAMODB),
                        "https://dynamodb.cn-north-1.amazonaws.com.cn/");
    dp_ddb_destroy(c);

    o.region = "us-east-1";
    o.endpoint_url = "http://127.0.0.1:8000";
    c = dp_ddb_new(&o, err, sizeof(err));
    assert_string_equal(dp_ddb_endpoint(c, DP_DDB_API_DYNAMODB), "http://127.0.0.1:8000/");
    assert_string_equal(dp_ddb_endpoint(c, DP_DDB_API_STREAMS), "http://127.0.0.1:8000/");
    dp_ddb_destroy(c);

    o.streams_endpoint_url = "http://127.0.0.1:9000/";
    c = dp_ddb_new(&o, err, sizeof(err));
    assert_string_equal(dp_ddb_endpoint(c, DP_DDB_API_STREAMS), "http://127.0.0.1:9000/");
    dp_ddb_destroy(c);

    o.streams_endpoint_url = NULL;
    o.endpoint_url = "localhost:8000";
    assert_null(dp_ddb_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "http://"));
    o.endpoint_url = "http://user:pw@host/";
    assert_null(dp_ddb_new(&o, err, sizeof(err)));
    o.endpoint_url = NULL;
    o.region = "us-east-1/../x";
    assert_null(dp_ddb_new(&o, err, sizeof(err)));
    dp_ddb_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_token_bucket),
        cmocka_unit_test(test_rate_limiter_drops_on_throttle_and_regrows),
        cmocka_unit_test(test_rate_limiter_measures_before_cutting),
        cmocka_unit_test(test_rate_limiter_disabled),
        cmocka_unit_test(test_crc32_matches_x_amz_crc32),
        cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
