/* Fault tests for the HTTP engine and the DynamoDB client against
 * tests/fault/fault_double.py (started once on an ephemeral loopback port,
 * reconfigured per test through POST /__faults). */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/json.h"
#include "common/util.h"
#include "ddb/capacity_fraction.h"
#include "ddb/client.h"
#include "ddb/ops.h"
#include "http/http.h"

static pid_t g_pid = -1;
static int g_stdin_fd = -1;
static char g_url[128];

static const char *double_path(void) {
    static char path[4096];
    const char *src = getenv("DDBPIPE_SOURCE_DIR");
    if (src) {
        snprintf(path, sizeof(path), "%s/tests/fault/fault_double.py", src);
    } else {
        snprintf(path, sizeof(path), "%s", __FILE__);
        char *slash = strrchr(path, '/');
        if (slash)
            strcpy(slash + 1, "fault_double.py");
    }
    return path;
}

static int start_double(void **state) {
    (void)state;
    int in[2], out[2];
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "SKIPPED: /usr/bin/python3 missing\n");
        return -1;
    }
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    g_pid = fork();
    if (g_pid < 0)
        return -1;
    if (g_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", double_path(), "--watch-stdin", "--table", "t1:pk:S", "--table",
              "t2:pk:S:sk:N", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    g_stdin_fd = in[1];
    char line[64] = "";
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0)
            break;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    close(out[0]);
    int port = 0;
    if (sscanf(line, "PORT %d", &port) != 1) {
        fprintf(stderr, "fault double did not start (got '%s')\n", line);
        return -1;
    }
    snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", port);
    return 0;
}

static int stop_double(void **state) {
    (void)state;
    if (g_stdin_fd >= 0)
        close(g_stdin_fd);
    if (g_pid > 0) {
        kill(g_pid, SIGTERM);
        waitpid(g_pid, NULL, 0);
    }
    return 0;
}

/* Admin call to the double: returns the body (caller frees). */
static char *admin(const char *method, const char *path, const char *body) {
    char url[256];
    snprintf(url, sizeof(url), "%s%s", g_url, path);
    dp_http_request req = {url, method, NULL, 0, body, body ? strlen(body) : 0, 5000};
    dp_http_response resp;
    dp_http_response_init(&resp);
    assert_int_equal(dp_http_perform(NULL, &req, &resp), DDBPIPE_OK);
    assert_int_equal(resp.status, 200);
    return dp_buf_steal(&resp.body);
}

static void set_faults(const char *json) {
    free(admin("POST", "/__faults", json));
    free(admin("POST", "/__reset", "{}"));
}

/* Integer stat by path "faults.throttle" (0 when absent). */
static long stat_of(const char *name) {
    char *b = admin("GET", "/__stats", NULL);
    dp_json_doc *d = dp_json_parse(b, strlen(b), NULL);
    assert_non_null(d);
    const dp_json *v = dp_json_root(d);
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s", name);
    for (char *part = strtok(tmp, "."); part && v; part = strtok(NULL, "."))
        v = dp_json_get(v, part);
    long r = dp_json_is(v, DP_JSON_NUMBER) ? atol(v->str) : 0;
    dp_json_doc_free(d);
    free(b);
    return r;
}

static dp_ddb *client(int max_attempts, void (*tweak)(dp_ddb_options *)) {
    char err[256];
    dp_ddb_options o;
    dp_ddb_options_init(&o);
    o.region = "us-east-1";
    o.endpoint_url = g_url;
    o.max_attempts = max_attempts;
    o.backoff_base_ms = 5;
    o.adaptive = 0;
    if (tweak)
        tweak(&o);
    dp_ddb *c = dp_ddb_new(&o, err, sizeof(err));
    if (!c)
        fail_msg("dp_ddb_new: %s", err);
    return c;
}

static const char *k_list = "{}";

static void test_throttles_then_success(void **state) {
    (void)state;
    set_faults("{\"sequence\":[\"throttle\",\"throttle\",\"ok\"]}");
    dp_ddb *c = client(10, NULL);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.http_status, 200);
    assert_non_null(strstr(r.body.data, "TableNames"));
    assert_true(r.latency_ns > 0);
    assert_int_equal(stat_of("faults.throttle"), 2);
    assert_int_equal(stat_of("requests"), 3);
    /* two retries cost 10 tokens; the success refunds the retry's cost */
    assert_int_equal(dp_ddb_retry_tokens(c), 495);
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void test_persistent_500_gives_up(void **state) {
    (void)state;
    set_faults("{\"error500\":1.0}");
    dp_ddb *c = client(3, NULL);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_ERR_SERVICE);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.retryable, 1);
    assert_int_equal(r.http_status, 500);
    assert_string_equal(r.error_code, "InternalServerError");
    assert_int_equal(stat_of("requests"), 3);
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void small_bucket(dp_ddb_options *o) {
    o->retry_tokens = 10;
}

static void test_retry_quota_stops_a_storm(void **state) {
    (void)state;
    set_faults("{\"error503\":1.0}");
    dp_ddb *c = client(10, small_bucket);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_ERR_SERVICE);
    assert_int_equal(r.attempts, 3); /* 10 tokens = 2 retries */
    assert_non_null(strstr(r.message, "retry quota exhausted"));
    assert_int_equal(dp_ddb_retry_tokens(c), 0);
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void test_reset_is_retried(void **state) {
    (void)state;
    set_faults("{\"sequence\":[\"reset\"]}");
    dp_ddb *c = client(5, NULL);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(stat_of("faults.reset"), 1);
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void test_bad_crc_is_retried(void **state) {
    (void)state;
    set_faults("{\"sequence\":[\"bad_crc\"]}");
    dp_ddb *c = client(5, NULL);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 2);
    dp_ddb_result_free(&r);

    /* with no retries allowed the mismatch itself is the answer */
    set_faults("{\"sequence\":[\"bad_crc\"]}");
    dp_ddb *c1 = client(1, NULL);
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c1, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_ERR_CRC32);
    assert_int_equal(r.retryable, 1);
    assert_non_null(strstr(r.message, "x-amz-crc32"));
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c1);
    dp_ddb_destroy(c);
}

static void test_validation_not_retried(void **state) {
    (void)state;
    set_faults("{}");
    dp_ddb *c = client(10, NULL);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    /* a poison item: the whole batch is rejected, as DynamoDB does */
    const char *b =
        "{\"RequestItems\":{\"t1\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"},\"poison\":{\"S\":"
        "\"x\"}}}}]}}";
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "BatchWriteItem", b, strlen(b), &r),
                     DDBPIPE_ERR_VALIDATION);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.retryable, 0);
    assert_int_equal(r.http_status, 400);
    assert_string_equal(r.error_code, "ValidationException");
    assert_non_null(strstr(r.message, "poison"));
    assert_int_equal(stat_of("requests"), 1);

    /* a missing table */
    const char *d = "{\"TableName\":\"nope\"}";
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "DescribeTable", d, strlen(d), &r),
                     DDBPIPE_ERR_NOT_FOUND);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.error_code, "ResourceNotFoundException");
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void few_conns(dp_ddb_options *o) {
    o->http.max_connections = 8;
}

typedef struct {
    int done, ok;
} counter;

static void count_done(void *opaque, dp_ddb_result *res) {
    counter *k = opaque;
    k->done++;
    if (res->result == DDBPIPE_OK && res->http_status == 200)
        k->ok++;
}

static void test_many_concurrent_calls_reuse_connections(void **state) {
    (void)state;
    set_faults("{\"delay_max_ms\":5}");
    dp_ddb *c = client(5, few_conns);
    counter k = {0, 0};
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"RequestItems\":{\"t1\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"k%03d\"},"
                 "\"v\":{\"N\":\"%d\"}}}}]}}",
                 i, i);
        assert_int_equal(
            dp_ddb_call_async(c, DP_DDB_API_DYNAMODB, "BatchWriteItem", body, strlen(body), count_done, &k),
            DDBPIPE_OK);
    }
    assert_int_equal(k.done, 0); /* callbacks only from dp_ddb_run */
    assert_int_equal(dp_ddb_pending(c), N);
    int64_t deadline = dp_now_ms() + 60000;
    while (dp_ddb_pending(c) > 0 && dp_now_ms() < deadline)
        dp_ddb_run(c, 100);
    assert_int_equal(k.done, N);
    assert_int_equal(k.ok, N);
    /* keep-alive: 8 connections at most (+1 for this stats call itself) */
    long conns = stat_of("connections");
    if (conns > 9)
        fail_msg("%ld connections for %d requests", conns, N);
    assert_int_equal(stat_of("items_written"), N);
    assert_true(dp_http_connections_opened(dp_ddb_http(c)) <= 8);
    assert_true(stat_of("max_in_flight") >= 2);
    dp_ddb_destroy(c);
}

static void short_timeout(dp_ddb_options *o) {
    o->http.request_timeout_ms = 300;
}

static void test_stall_times_out(void **state) {
    (void)state;
    set_faults("{\"sequence\":[\"stall\"],\"stall_ms\":1500}");
    dp_ddb *c = client(1, short_timeout);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    int64_t t0 = dp_now_ms();
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_ERR_TIMEOUT);
    assert_true(dp_now_ms() - t0 < 1200);
    assert_int_equal(r.retryable, 1);
    assert_int_equal(r.attempts, 1);
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);

    /* with retries the next attempt succeeds */
    set_faults("{\"sequence\":[\"stall\"],\"stall_ms\":1500}");
    c = client(3, short_timeout);
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(dp_ddb_retry_tokens(c), 500); /* timeout retry cost 10, refunded on success */
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void tiny_responses(dp_ddb_options *o) {
    o->http.max_response_bytes = 64;
}

static void test_response_too_large(void **state) {
    (void)state;
    set_faults("{}");
    dp_ddb *c = client(5, tiny_responses);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    const char *d = "{\"TableName\":\"t2\"}";
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "DescribeTable", d, strlen(d), &r),
                     DDBPIPE_ERR_TOO_LARGE);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.retryable, 0);
    assert_non_null(strstr(r.message, "64 bytes"));
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static dp_cred_chain *static_chain(const char *akid) {
    dp_cred_provider *p = dp_cred_provider_static_new(akid, "secret-not-logged", NULL);
    assert_non_null(p);
    dp_cred_chain *ch = dp_cred_chain_new_from(&p, 1, 0);
    assert_non_null(ch);
    return ch;
}

static void test_signed_requests_and_expired_token(void **state) {
    (void)state;
    set_faults("{\"require_akid\":\"AKIDTEST\",\"sequence\":[\"expired_token\"]}");
    dp_cred_chain *ch = static_chain("AKIDTEST");
    char err[256];
    dp_ddb_options o;
    dp_ddb_options_init(&o);
    o.region = "us-east-1";
    o.endpoint_url = g_url;
    o.creds = ch;
    o.adaptive = 0;
    o.max_attempts = 1; /* the expired-token retry happens even then */
    dp_ddb *c = dp_ddb_new(&o, err, sizeof(err));
    assert_non_null(c);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(stat_of("faults.expired_token"), 1);

    /* wrong key: the double answers UnrecognizedClientException -> AUTH, no retry */
    dp_ddb_destroy(c);
    dp_cred_chain_destroy(ch);
    ch = static_chain("AKIDOTHER");
    o.creds = ch;
    o.max_attempts = 5;
    c = dp_ddb_new(&o, err, sizeof(err));
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_ERR_AUTH);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.error_code, "UnrecognizedClientException");
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
    dp_cred_chain_destroy(ch);
    set_faults("{\"require_akid\":null}");
}

static void adaptive_on(dp_ddb_options *o) {
    o->adaptive = 1;
}

static void test_adaptive_limiter_engages_on_throttle(void **state) {
    (void)state;
    set_faults("{\"sequence\":[\"ok\",\"ok\",\"ok\",\"throttle\"]}");
    dp_ddb *c = client(5, adaptive_on);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(dp_ddb_rate_limiter(c)->enable_limit, 0);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 2);
    /* measure before cutting: a throttle before any send rate was measured
     * does not collapse the rate to the floor (0.5/s). Measurement windows
     * are whole half seconds of the clock, so one may have closed during
     * the calls above: then the cut is from that measured rate. */
    const dp_rate_limiter *rl = dp_ddb_rate_limiter(c);
    assert_true(rl->enable_limit == 0 || (rl->measured_tx_rate > 0 && rl->fill_rate > 0.5));
    /* once a rate was measured, a throttle engages the limiter */
    usleep(600 * 1000);
    set_faults("{\"sequence\":[\"ok\",\"throttle\"]}");
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_OK);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(dp_ddb_rate_limiter(c)->enable_limit, 1);
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void test_ops_helpers(void **state) {
    (void)state;
    set_faults("{}");
    dp_ddb *c = client(3, NULL);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    ddbpipe_table_info_t ti;
    assert_int_equal(dp_ddb_describe_table(c, "t2", &ti, &r), DDBPIPE_OK);
    assert_string_equal(ti.key.partition_key, "pk");
    assert_string_equal(ti.key.sort_key, "sk");
    assert_int_equal(ti.key.sort_type, 'N');
    assert_int_equal(dp_ddb_describe_table(c, "missing", &ti, &r), DDBPIPE_ERR_NOT_FOUND);
    char names[256] = "", last[64];
    assert_int_equal(dp_ddb_list_tables_page(c, NULL, 1, NULL, NULL, last, sizeof(last), &r), DDBPIPE_OK);
    assert_string_equal(last, "t1");
    assert_int_equal(dp_ddb_list_tables_page(c, last, 0, NULL, NULL, last, sizeof(last), &r), DDBPIPE_OK);
    assert_string_equal(last, "");
    (void)names;
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

static void test_transport_errors(void **state) {
    (void)state;
    /* a port nobody listens on: connection refused -> TRANSPORT, retried */
    char err[256];
    dp_ddb_options o;
    dp_ddb_options_init(&o);
    o.region = "us-east-1";
    o.endpoint_url = "http://127.0.0.1:1";
    o.max_attempts = 2;
    o.backoff_base_ms = 1;
    dp_ddb *c = dp_ddb_new(&o, err, sizeof(err));
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    assert_int_equal(dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", k_list, 2, &r), DDBPIPE_ERR_TRANSPORT);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.retryable, 1);
    assert_non_null(strstr(r.message, "127.0.0.1"));
    dp_ddb_result_free(&r);
    dp_ddb_destroy(c);
}

/* Waits (up to 60 s: valgrind, a loaded machine) until the bucket's rate is
 * want, or, with stat set, until that stat of the double reaches want. */
static int wait_for(dp_capacity_bucket *b, const char *stat, double want) {
    for (int i = 0; i < 6000; i++) {
        if (stat ? stat_of(stat) >= (long)want : dp_capacity_bucket_rate(b) == want)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* write_capacity_fraction's re-read against the double's DescribeTable: a
 * changed figure moves the cap (provisioned, then on demand with a
 * maximum); an on-demand table without a maximum and a failing call keep
 * it, with the warning. The log is read from stderr as a user sees it. */
static void test_capacity_reread(void **state) {
    (void)state;
    char err[512] = "";
    double f = -1;
    assert_int_equal(dp_capacity_fraction_parse(DP_CAPACITY_WRITE, "1.5", &f, err, sizeof(err)),
                     DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "write_capacity_fraction 1.5 is outside 0 < f <= 1");
    assert_int_equal(dp_capacity_fraction_parse(DP_CAPACITY_READ, NULL, &f, err, sizeof(err)), DDBPIPE_OK);
    assert_true(f == 0);
    assert_int_equal(dp_capacity_fraction_parse(DP_CAPACITY_WRITE, "0.5", &f, err, sizeof(err)), DDBPIPE_OK);
    assert_true(f == 0.5);

    set_faults("{}");
    free(admin("POST", "/__capacity", "{\"wcu\":1000,\"rcu\":10,\"max_wcu\":0,\"max_rcu\":0}"));
    dp_ddb *c = client(1, NULL);
    dp_capacity_fraction frac = {DP_CAPACITY_WRITE, 0.5, 0, "t1", "sink", "cap"};
    dp_capacity_bucket *b = NULL;
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    ddbpipe_table_info_t ti;
    assert_int_equal(dp_ddb_describe_table(c, "t1", &ti, &r), DDBPIPE_OK);
    assert_int_equal(dp_capacity_fraction_apply(&frac, r.body.data, r.body.len, &b, err, sizeof(err)),
                     DDBPIPE_OK);
    dp_ddb_result_free(&r);
    assert_non_null(b);
    assert_true(dp_capacity_bucket_rate(b) == 500);
    /* an on-demand table without a maximum: no figure to take a fraction of */
    const char *no_max = "{\"Table\":{\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"}}}";
    assert_int_equal(dp_capacity_fraction_apply(&frac, no_max, strlen(no_max), &b, err, sizeof(err)),
                     DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "OnDemandThroughput.MaxWriteRequestUnits"));
    assert_non_null(strstr(err, "max_write_capacity_per_s"));
    assert_true(dp_capacity_bucket_rate(b) == 500);
    dp_capacity_reread_destroy(NULL);

    FILE *log = tmpfile();
    assert_non_null(log);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    dup2(fileno(log), 2);
    ddbpipe_log_set_level(DDBPIPE_LOG_INFO);
    dp_capacity_reread_options o = {frac, c, b, 20};
    dp_capacity_reread *rr = dp_capacity_reread_new(&o, err, sizeof(err));
    /* no assertion while the thread runs: the steps are checked after it is joined */
    int moved = 0, kept_no_max = 0, kept_failed = 0, on_demand = 0;
    long calls = 0;
    if (rr) {
        free(admin("POST", "/__capacity", "{\"wcu\":200}"));
        moved = wait_for(b, NULL, 100);
        free(admin("POST", "/__capacity", "{\"wcu\":0,\"rcu\":0}")); /* on demand, no maximum */
        long n = stat_of("ops.DescribeTable");
        kept_no_max = wait_for(NULL, "ops.DescribeTable", (double)n + 3) && dp_capacity_bucket_rate(b) == 100;
        set_faults("{\"error500\":1.0}");
        kept_failed = wait_for(NULL, "faults.error500", 3) && dp_capacity_bucket_rate(b) == 100;
        set_faults("{}");
        free(admin("POST", "/__capacity", "{\"max_wcu\":600,\"max_rcu\":50}"));
        on_demand = wait_for(b, NULL, 300);
        calls = stat_of("ops.DescribeTable");
    }
    int64_t t0 = dp_now_ns();
    dp_capacity_reread_destroy(rr);
    double destroy_s = (double)(dp_now_ns() - t0) / 1e9;
    /* a 60 s period: destroy does not wait it out */
    o.interval_ms = 60000;
    dp_capacity_reread *idle = dp_capacity_reread_new(&o, err, sizeof(err));
    int64_t t1 = dp_now_ns();
    dp_capacity_reread_destroy(idle);
    double idle_destroy_s = (double)(dp_now_ns() - t1) / 1e9;
    ddbpipe_log_set_level(DDBPIPE_LOG_WARN);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    free(admin("POST", "/__capacity", "{\"wcu\":0,\"rcu\":0,\"max_wcu\":0,\"max_rcu\":0}"));
    char text[65536];
    rewind(log);
    size_t len = fread(text, 1, sizeof(text) - 1, log);
    text[len] = 0;
    fclose(log);

    if (!rr || !idle)
        fail_msg("dp_capacity_reread_new: %s", err);
    if (!moved || !kept_no_max || !kept_failed || !on_demand)
        fail_msg(
            "re-read steps: moved %d, kept (no maximum) %d, kept (failed call) %d, on demand %d; cap %.0f; "
            "log:\n%s",
            moved, kept_no_max, kept_failed, on_demand, dp_capacity_bucket_rate(b), text);
    assert_true(calls >= 1);
    assert_non_null(strstr(text, "sink: write_capacity_fraction: cap now 100 WCU/s (was 500)"));
    assert_non_null(strstr(text, "sink: write_capacity_fraction: re-reading the table's capacity failed "
                                 "(write_capacity_fraction: table t1 is on demand (PAY_PER_REQUEST) without "
                                 "OnDemandThroughput.MaxWriteRequestUnits"));
    assert_non_null(strstr(text, "re-reading the table's capacity failed (DescribeTable: "));
    assert_non_null(strstr(text, "keeping the cap at 100 WCU/s"));
    assert_non_null(strstr(text, "sink: write_capacity_fraction: cap now 300 WCU/s (was 100)"));
    /* one call in flight at most (a loopback double answers in milliseconds) */
    assert_true(destroy_s < 30);
    assert_true(idle_destroy_s < 30);
    dp_capacity_bucket_destroy(b);
    dp_ddb_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throttles_then_success),
        cmocka_unit_test(test_persistent_500_gives_up),
        cmocka_unit_test(test_retry_quota_stops_a_storm),
        cmocka_unit_test(test_reset_is_retried),
        cmocka_unit_test(test_bad_crc_is_retried),
        cmocka_unit_test(test_validation_not_retried),
        cmocka_unit_test(test_many_concurrent_calls_reuse_connections),
        cmocka_unit_test(test_stall_times_out),
        cmocka_unit_test(test_response_too_large),
        cmocka_unit_test(test_signed_requests_and_expired_token),
        cmocka_unit_test(test_adaptive_limiter_engages_on_throttle),
        cmocka_unit_test(test_ops_helpers),
        cmocka_unit_test(test_transport_errors),
        cmocka_unit_test(test_capacity_reread),
    };
    return cmocka_run_group_tests(tests, start_double, stop_double);
}
