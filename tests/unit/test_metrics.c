/* Metrics registry: exact Prometheus text, JSON, registration rules, the
 * HTTP endpoint (fetched with libcurl), and updates from worker threads
 * while the server thread renders. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/json.h"
#include "metrics/metrics.h"

static void test_render_prometheus_exact(void **state) {
    dp_metrics *m = dp_metrics_new();
    assert_non_null(m);
    dp_metric *ins = dp_metrics_counter(m, "ddbpipe_records_total", "Records written.", "op", "insert");
    dp_metric *gauge = dp_metrics_gauge(m, "ddbpipe_in_flight_requests", "Requests in flight.", NULL, NULL);
    double buckets[] = {0.1, 0.5, 1};
    dp_metric *lat = dp_metrics_histogram(m, "ddbpipe_write_latency_seconds", "BatchWriteItem latency.", NULL,
                                          NULL, buckets, 3);
    dp_metric *del =
        dp_metrics_counter(m, "ddbpipe_records_total", "ignored: first help wins", "op", "delete");
    dp_metric *odd = dp_metrics_counter(m, "odd_total", "Help with \\ and\nnewline.", "v", "a\"b\\c\nd");
    assert_non_null(ins);
    assert_non_null(gauge);
    assert_non_null(lat);
    assert_non_null(del);
    assert_non_null(odd);

    dp_metric_add(ins, 41);
    dp_metric_inc(ins);
    dp_metric_add(del, 7);
    dp_metric_set(gauge, 12);
    dp_metric_gauge_add(gauge, -2.5);
    dp_metric_observe(lat, 0.05);
    dp_metric_observe(lat, 0.1); /* le is inclusive */
    dp_metric_observe(lat, 0.7);
    dp_metric_observe(lat, 3);
    dp_metric_observe(lat, NAN); /* ignored */

    dp_buf out;
    dp_buf_init(&out, 0);
    assert_int_equal(dp_metrics_render_prometheus(m, &out), DDBPIPE_OK);
    assert_string_equal(out.data, "# HELP ddbpipe_records_total Records written.\n"
                                  "# TYPE ddbpipe_records_total counter\n"
                                  "ddbpipe_records_total{op=\"insert\"} 42\n"
                                  "ddbpipe_records_total{op=\"delete\"} 7\n"
                                  "# HELP ddbpipe_in_flight_requests Requests in flight.\n"
                                  "# TYPE ddbpipe_in_flight_requests gauge\n"
                                  "ddbpipe_in_flight_requests 9.5\n"
                                  "# HELP ddbpipe_write_latency_seconds BatchWriteItem latency.\n"
                                  "# TYPE ddbpipe_write_latency_seconds histogram\n"
                                  "ddbpipe_write_latency_seconds_bucket{le=\"0.1\"} 2\n"
                                  "ddbpipe_write_latency_seconds_bucket{le=\"0.5\"} 2\n"
                                  "ddbpipe_write_latency_seconds_bucket{le=\"1\"} 3\n"
                                  "ddbpipe_write_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                                  "ddbpipe_write_latency_seconds_sum 3.85\n"
                                  "ddbpipe_write_latency_seconds_count 4\n"
                                  "# HELP odd_total Help with \\\\ and\\nnewline.\n"
                                  "# TYPE odd_total counter\n"
                                  "odd_total{v=\"a\\\"b\\\\c\\nd\"} 0\n");
    assert_int_equal(dp_metric_counter_value(ins), 42);
    assert_true(dp_metric_gauge_value(gauge) == 9.5);
    assert_int_equal(dp_metric_histogram_count(lat), 4);

    /* Labeled histogram and special gauge values. */
    dp_buf_reset(&out);
    dp_metrics *m2 = dp_metrics_new();
    dp_metric *h = dp_metrics_histogram(m2, "lat_seconds", "L", "op", "scan", buckets, 1);
    dp_metric *g = dp_metrics_gauge(m2, "g", "", NULL, NULL);
    dp_metric_observe(h, 0.01);
    dp_metric_set(g, INFINITY);
    assert_int_equal(dp_metrics_render_prometheus(m2, &out), DDBPIPE_OK);
    assert_string_equal(out.data, "# HELP lat_seconds L\n# TYPE lat_seconds histogram\n"
                                  "lat_seconds_bucket{op=\"scan\",le=\"0.1\"} 1\n"
                                  "lat_seconds_bucket{op=\"scan\",le=\"+Inf\"} 1\n"
                                  "lat_seconds_sum{op=\"scan\"} 0.01\n"
                                  "lat_seconds_count{op=\"scan\"} 1\n"
                                  "# HELP g \n# TYPE g gauge\ng +Inf\n");
    dp_buf_free(&out);
    dp_metrics_destroy(m2);
    dp_metrics_destroy(m);
}

static void test_render_json(void **state) {
    dp_metrics *m = dp_metrics_new();
    dp_metric *c = dp_metrics_counter(m, "retries_total", "Retries.", "op", "batch_write");
    dp_metric *g = dp_metrics_gauge(m, "buffered", "Buffered \"records\".", NULL, NULL);
    dp_metric *h = dp_metrics_histogram(m, "lat", "Latency.", NULL, NULL, dp_metrics_latency_buckets_s,
                                        dp_metrics_latency_buckets_count);
    dp_metric_add(c, 3);
    dp_metric_set(g, NAN);
    dp_metric_observe(h, 0.2);
    dp_metric_observe(h, 100);
    dp_buf out;
    dp_buf_init(&out, 0);
    assert_int_equal(dp_metrics_render_json(m, &out), DDBPIPE_OK);
    dp_json_error err;
    dp_json_doc *doc = dp_json_parse(out.data, out.len, &err);
    if (!doc)
        fail_msg("invalid JSON at %zu (%s): %s", err.offset, err.message, out.data);
    dp_json *arr = dp_json_get(dp_json_root(doc), "metrics");
    assert_int_equal(arr->count, 3);
    dp_json *jc = dp_json_at(arr, 0);
    assert_string_equal(dp_json_get_string(jc, "name"), "retries_total");
    assert_string_equal(dp_json_get_string(jc, "type"), "counter");
    assert_string_equal(dp_json_get_string(dp_json_get(jc, "labels"), "op"), "batch_write");
    assert_string_equal(dp_json_get(jc, "value")->str, "3");
    dp_json *jg = dp_json_at(arr, 1);
    assert_string_equal(dp_json_get_string(jg, "help"), "Buffered \"records\".");
    assert_int_equal(dp_json_get(jg, "value")->type, DP_JSON_NULL); /* NaN is not JSON */
    dp_json *jh = dp_json_at(arr, 2);
    assert_string_equal(dp_json_get(jh, "count")->str, "2");
    assert_string_equal(dp_json_get(jh, "sum")->str, "100.2");
    dp_json *b = dp_json_get(jh, "buckets");
    assert_int_equal(b->count, dp_metrics_latency_buckets_count + 1);
    assert_string_equal(dp_json_get(dp_json_at(b, 0), "le")->str, "0.005");
    assert_string_equal(dp_json_get(dp_json_at(b, 0), "count")->str, "0");
    assert_string_equal(dp_json_get(dp_json_at(b, 5), "le")->str, "0.25");
    assert_string_equal(dp_json_get(dp_json_at(b, 5), "count")->str, "1");
    assert_string_equal(dp_json_get_string(dp_json_at(b, b->count - 1), "le"), "+Inf");
    assert_string_equal(dp_json_get(dp_json_at(b, b->count - 1), "count")->str, "2");
    dp_json_doc_free(doc);
    dp_buf_free(&out);
    dp_metrics_destroy(m);
}

static void test_registration_rules(void **state) {
    dp_metrics *m = dp_metrics_new();
    dp_metric *a = dp_metrics_counter(m, "x_total", "X.", "op", "insert");
    assert_non_null(a);
    assert_ptr_equal(dp_metrics_counter(m, "x_total", "X.", "op", "insert"), a);
    assert_ptr_not_equal(dp_metrics_counter(m, "x_total", "X.", "op", "remove"), a);
    assert_null(dp_metrics_gauge(m, "x_total", "X.", NULL, NULL)); /* one name, one type */
    assert_null(dp_metrics_counter(m, "9bad", "", NULL, NULL));
    assert_null(dp_metrics_counter(m, "bad-name", "", NULL, NULL));
    assert_null(dp_metrics_counter(m, "", "", NULL, NULL));
    assert_null(dp_metrics_counter(m, "ok", "", "__reserved", "v"));
    assert_null(dp_metrics_counter(m, "ok", "", "bad:label", "v"));
    assert_null(dp_metrics_counter(m, "ok", "", "op", NULL));
    assert_non_null(dp_metrics_counter(m, "ns:sub_total", "", NULL, NULL));
    double bad[] = {1, 0.5};
    double inf[] = {INFINITY};
    assert_null(dp_metrics_histogram(m, "h", "", NULL, NULL, bad, 2));
    assert_null(dp_metrics_histogram(m, "h", "", NULL, NULL, inf, 1));
    assert_null(dp_metrics_histogram(m, "h", "", NULL, NULL, bad, 0));
    /* Updates on NULL or the wrong type are harmless no-ops. */
    dp_metric_add(NULL, 1);
    dp_metric_set(a, 5);
    dp_metric_observe(a, 1);
    assert_int_equal(dp_metric_counter_value(a), 0);
    dp_metrics_destroy(m);
    dp_metrics_destroy(NULL);
}

static void test_parse_address(void **state) {
    char host[64];
    int port = -1;
    assert_int_equal(dp_metrics_parse_address("127.0.0.1:9464", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9464);
    assert_int_equal(dp_metrics_parse_address("[::1]:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(dp_metrics_parse_address(":8080", host, sizeof host, &port), 0);
    assert_string_equal(host, "");
    assert_int_equal(port, 8080);
    const char *bad[] = {"",         "127.0.0.1", "127.0.0.1:", "host:65536", "host:-1",
                         "host:12a", "::1:80",    "[::1]80",    "[::1",       "host:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (dp_metrics_parse_address(bad[i], host, sizeof host, &port) != -1)
            fail_msg("address '%s' should be rejected", bad[i]);
    assert_int_equal(dp_metrics_parse_address("averyveryverylonghostname:1", host, 8, &port), -1);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
    dp_buf *b = userdata;
    return dp_buf_append(b, ptr, size * nmemb) == DDBPIPE_OK ? size * nmemb : 0;
}

/* GET (or other method) url without failing the test: returns the curl code,
 * status, body in out, content type copied. The limit only catches a hung
 * server: the server thread shares the CPUs with four spinning workers (and,
 * in CI, a loaded machine; under valgrind one serialised CPU), so a scrape may
 * wait seconds for its turn: 30 s, 60 s under DDBPIPE_TEST_SLOW. */
static CURLcode http_try(const char *url, const char *method, dp_buf *out, char *ctype, size_t ctype_size,
                         long *status) {
    CURL *c = curl_easy_init();
    *status = 0;
    if (!c)
        return CURLE_FAILED_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, getenv("DDBPIPE_TEST_SLOW") ? 60000L : 30000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (ctype) {
            char *ct = NULL;
            curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
            snprintf(ctype, ctype_size, "%s", ct ? ct : "");
        }
    }
    curl_easy_cleanup(c);
    return rc;
}

/* GET (or other method) url; returns status, body in out, content type copied. */
static long http_get(const char *url, const char *method, dp_buf *out, char *ctype, size_t ctype_size) {
    long status = 0;
    CURLcode rc = http_try(url, method, out, ctype, ctype_size, &status);
    if (rc != CURLE_OK)
        fail_msg("GET %s: %s", url, curl_easy_strerror(rc));
    return status;
}

static void test_http_endpoint(void **state) {
    char err[256] = "";
    dp_metrics *m = dp_metrics_new();
    dp_metric *c = dp_metrics_counter(m, "ddbpipe_items_written_total", "Items written.", "table", "orders");
    dp_metric_add(c, 5);
    dp_metrics_server *s = dp_metrics_server_start(m, "127.0.0.1:0", err, sizeof err);
    if (!s)
        fail_msg("server start: %s", err);
    int port = dp_metrics_server_port(s);
    assert_true(port > 0 && port < 65536);

    char url[128], ctype[128];
    dp_buf body;
    dp_buf_init(&body, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    assert_int_equal(http_get(url, NULL, &body, ctype, sizeof ctype), 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(body.data, "# TYPE ddbpipe_items_written_total counter\n"
                                      "ddbpipe_items_written_total{table=\"orders\"} 5\n"));
    /* Values are live: the next scrape sees the update. */
    dp_metric_add(c, 1);
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 200);
    assert_non_null(strstr(body.data, "ddbpipe_items_written_total{table=\"orders\"} 6\n"));

    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 404);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics/x", port);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 404);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    assert_int_equal(http_get(url, "DELETE", &body, NULL, 0), 405);

    /* Probes: alive at once; ready only when told, with the reason until then. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 200);
    assert_string_equal(body.data, "ok\n");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", port);
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 503);
    assert_string_equal(body.data, "not ready: starting\n");
    dp_metrics_server_set_ready(s, 0, "table orders not reached yet");
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 503);
    assert_string_equal(body.data, "not ready: table orders not reached yet\n");
    dp_metrics_server_set_ready(s, 1, NULL);
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 200);
    assert_string_equal(body.data, "ready\n");
    dp_metrics_server_set_ready(s, 0, "fatal: credentials rejected");
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 503);
    assert_string_equal(body.data, "not ready: fatal: credentials rejected\n");
    dp_metrics_server_set_ready(NULL, 1, NULL);

    /* The port is taken now: a second server on it fails with a reason. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_null(dp_metrics_server_start(m, addr, err, sizeof err));
    assert_non_null(strstr(err, "cannot listen on"));

    dp_metrics_server_stop(s);
    dp_metrics_server_stop(NULL);
    dp_buf_free(&body);
    dp_metrics_destroy(m);
}

static void test_server_bad_address(void **state) {
    char err[256] = "";
    dp_metrics *m = dp_metrics_new();
    assert_null(dp_metrics_server_start(m, "127.0.0.1", err, sizeof err));
    assert_non_null(strstr(err, "'127.0.0.1'"));
    assert_null(dp_metrics_server_start(m, "example.com:9464", err, sizeof err));
    assert_non_null(strstr(err, "'example.com' is not an IP address"));
    dp_metrics_server *s6 = dp_metrics_server_start(m, "localhost:0", err, sizeof err);
    if (!s6)
        fail_msg("localhost:0: %s", err);
    dp_metrics_server_stop(s6);
    /* Empty host means loopback. */
    dp_metrics_server *s = dp_metrics_server_start(m, ":0", err, sizeof err);
    if (!s)
        fail_msg("':0' should listen on loopback: %s", err);
    dp_metrics_server_stop(s);
    dp_metrics_destroy(m);
}

#define WORKERS 4
#define ADDS_PER_WORKER 200000

typedef struct worker_arg {
    dp_metric *counter, *hist, *gauge;
    atomic_int *stop;
    uint64_t done; /* increments made by this worker */
} worker_arg;

/* Update until told to stop (and at least ADDS_PER_WORKER times), so the
 * updates overlap the scrapes. */
static void *worker(void *p) {
    worker_arg *a = p;
    uint64_t i = 0;
    for (; i < ADDS_PER_WORKER || !atomic_load(a->stop); i++) {
        dp_metric_inc(a->counter);
        dp_metric_gauge_add(a->gauge, 1);
        if (i % 8 == 0)
            dp_metric_observe(a->hist, (double)(i % 1000) / 1000.0);
    }
    a->done = i;
    return NULL;
}

static void test_threads_update_while_scraping(void **state) {
    char err[256];
    dp_metrics *m = dp_metrics_new();
    atomic_int stop = 0;
    worker_arg a[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        a[i] = (worker_arg){
            .counter = dp_metrics_counter(m, "ops_total", "Ops.", "op", "insert"),
            .hist = dp_metrics_histogram(m, "op_seconds", "Op latency.", NULL, NULL,
                                         dp_metrics_latency_buckets_s, dp_metrics_latency_buckets_count),
            .gauge = dp_metrics_gauge(m, "level", "Level.", NULL, NULL),
            .stop = &stop,
        };
    }
    dp_metrics_server *s = dp_metrics_server_start(m, "127.0.0.1:0", err, sizeof err);
    if (!s)
        fail_msg("server start: %s", err);
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", dp_metrics_server_port(s));
    dp_buf body;
    dp_buf_init(&body, 0);
    /* A failed scrape is recorded, not asserted, until the workers are joined:
     * failing here would unwind this frame while they still use a[]. */
    char problem[512] = "";
    for (int scrape = 0; scrape < 20 && !problem[0]; scrape++) {
        dp_buf_reset(&body);
        long status = 0;
        CURLcode rc = http_try(url, NULL, &body, NULL, 0, &status);
        if (rc != CURLE_OK || status != 200) {
            snprintf(problem, sizeof problem, "scrape %d: GET %s: %s, status %ld", scrape, url,
                     curl_easy_strerror(rc), status);
            break;
        }
        /* Every scrape is self-consistent: +Inf bucket == _count. */
        const char *inf = strstr(body.data, "op_seconds_bucket{le=\"+Inf\"} ");
        const char *cnt = strstr(body.data, "op_seconds_count ");
        if (!inf || !cnt)
            snprintf(problem, sizeof problem, "scrape %d lacks op_seconds +Inf bucket or _count", scrape);
        else if (strtoull(inf + strlen("op_seconds_bucket{le=\"+Inf\"} "), NULL, 10) !=
                 strtoull(cnt + strlen("op_seconds_count "), NULL, 10))
            snprintf(problem, sizeof problem, "scrape %d: +Inf bucket differs from _count", scrape);
    }
    atomic_store(&stop, 1);
    uint64_t total = 0, observed = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        total += a[i].done;
        observed += (a[i].done + 7) / 8;
    }
    if (problem[0]) {
        dp_buf_free(&body);
        dp_metrics_server_stop(s);
        dp_metrics_destroy(m);
        fail_msg("%s", problem);
    }
    assert_int_equal(dp_metric_counter_value(a[0].counter), total);
    assert_true(dp_metric_gauge_value(a[0].gauge) == (double)total); /* exact below 2^53 */
    assert_int_equal(dp_metric_histogram_count(a[0].hist), observed);
    dp_buf_reset(&body);
    assert_int_equal(http_get(url, NULL, &body, NULL, 0), 200);
    char want[64];
    snprintf(want, sizeof want, "ops_total{op=\"insert\"} %" PRIu64 "\n", total);
    assert_non_null(strstr(body.data, want));
    dp_buf_free(&body);
    dp_metrics_server_stop(s);
    dp_metrics_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_prometheus_exact),
        cmocka_unit_test(test_render_json),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_parse_address),
        cmocka_unit_test(test_http_endpoint),
        cmocka_unit_test(test_server_bad_address),
        cmocka_unit_test(test_threads_update_while_scraping),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
