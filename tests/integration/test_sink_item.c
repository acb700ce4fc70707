/* ddbpipe_sink_produce_item as an embedding program uses it (the public
 * header only) against DynamoDB Local: typed items of every attribute type,
 * deletes, folding of one key's changes, dead letters (reason, the change
 * rendered as a DynamoDB Streams record in the report and the dead-letter
 * file), malformed structs refused with INVALID_ARG, delivery reports in
 * produce order with the caller's opaque and offset, and QUEUE_FULL
 * handled by polling with four worker threads (per-key order kept). The
 * table is read back with the public source API (typed "dynamodb" lines).
 * Also a transport's metrics on the sink's registry (ddbpipe_sink_metric),
 * and a dry run past dry_run_max_keys stopping typed items with the same
 * code and message as text lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "ddbpipe/ddbpipe.h"

static char g_endpoint[512];
static char g_table[64];
static char g_dlq[128];

#define MAX_REPORTS 5000
typedef struct report {
    ddbpipe_dr_status_t status;
    void *opaque;
    uint64_t offset;
    char reason[256];
    char value[1024];
} report;
static report g_rep[MAX_REPORTS];
static size_t g_nrep;

static void on_report(ddbpipe_sink_t *sink, const ddbpipe_delivery_report_t *dr, void *opaque) {
    (void)sink;
    (void)opaque;
    if (g_nrep >= MAX_REPORTS)
        return;
    report *r = &g_rep[g_nrep++];
    r->status = dr->status;
    r->opaque = dr->opaque;
    r->offset = dr->offset;
    snprintf(r->reason, sizeof r->reason, "%s", dr->reason ? dr->reason : "");
    snprintf(r->value, sizeof r->value, "%.*s", (int)(dr->value ? dr->value_len : 0),
             dr->value ? dr->value : "");
}

static ddbpipe_conf_t *conf_new(int threads, int max_buffered) {
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    char err[256], num[32];
    const char *kv[][2] = {{"table", g_table},
                           {"region", "us-east-1"},
                           {"endpoint_url", g_endpoint},
                           {"aws_access_key_id", "AKIDITEMTEST"},
                           {"aws_secret_access_key", "secret"},
                           {"partition_key", "id"},
                           {"partition_key_type", "S"},
                           {"sort_key", "n"},
                           {"sort_key_type", "N"},
                           {"create_table_if_missing", "true"}};
    assert_non_null(c);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal(ddbpipe_conf_set(c, kv[i][0], kv[i][1], err, sizeof err), DDBPIPE_OK);
    snprintf(num, sizeof num, "%d", threads);
    assert_int_equal(ddbpipe_conf_set(c, "threads", num, err, sizeof err), DDBPIPE_OK);
    if (max_buffered) {
        snprintf(num, sizeof num, "%d", max_buffered);
        assert_int_equal(ddbpipe_conf_set(c, "max_buffered_records", num, err, sizeof err), DDBPIPE_OK);
    }
    return c;
}

static int setup(void **state) {
    (void)state;
    const char *f = getenv("DDBPIPE_TEST_ENDPOINT_FILE");
    FILE *fp = f ? fopen(f, "r") : NULL;
    if (!fp || !fgets(g_endpoint, sizeof g_endpoint, fp)) {
        fprintf(stderr, "SKIPPED: no DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT_FILE)\n");
        exit(77);
    }
    fclose(fp);
    g_endpoint[strcspn(g_endpoint, "\r\n ")] = 0;
    snprintf(g_table, sizeof g_table, "item_it_%d_%ld", (int)getpid(), (long)time(NULL) % 100000);
    snprintf(g_dlq, sizeof g_dlq, "/tmp/ddbpipe-item-it-%d.dlq", (int)getpid());
    unlink(g_dlq);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(g_dlq);
    return 0;
}

/* The table as typed "dynamodb" source lines, one per item. */
typedef struct lines {
    char *buf[4096];
    size_t n;
} lines;
static int collect(const char *line, size_t len, void *opaque) {
    lines *l = opaque;
    if (l->n < 4096)
        l->buf[l->n++] = strndup(line, len);
    return 0;
}
static void read_table(lines *out) {
    ddbpipe_conf_t *c = conf_new(1, 0);
    ddbpipe_source_options_t so;
    ddbpipe_source_t *src = NULL;
    char err[512] = "";
    memset(&so, 0, sizeof so);
    memset(out, 0, sizeof *out);
    so.mode = "snapshot";
    so.format = "dynamodb";
    so.segments = 1;
    so.emit = collect;
    so.opaque = out;
    assert_int_equal(ddbpipe_source_new(c, &so, &src, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(ddbpipe_source_run(src, err, sizeof err), DDBPIPE_OK);
    ddbpipe_source_destroy(src);
    ddbpipe_conf_destroy(c);
}
static void lines_free(lines *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->buf[i]);
}

/* A file's lines (the dead-letter file). */
static void read_lines(const char *path, lines *out) {
    FILE *fp = fopen(path, "r");
    char line[4096];
    memset(out, 0, sizeof *out);
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        collect(line, strlen(line), out);
    fclose(fp);
}

static const char *find_item(const lines *l, const char *key_json) {
    for (size_t i = 0; i < l->n; i++)
        if (strstr(l->buf[i], key_json))
            return l->buf[i];
    return NULL;
}

#define S(nm, v)                                                                                             \
    { .name = (nm), .type = DDBPIPE_ATTR_S, .data = (v), .len = sizeof(v) - 1 }
#define N(nm, v)                                                                                             \
    { .name = (nm), .type = DDBPIPE_ATTR_N, .data = (v), .len = sizeof(v) - 1 }

static ddbpipe_result_t offer(ddbpipe_sink_t *sink, const ddbpipe_item_record_t *rec, int *queue_full) {
    for (;;) {
        ddbpipe_result_t r = ddbpipe_sink_produce_item(sink, rec);
        if (r != DDBPIPE_ERR_QUEUE_FULL)
            return r;
        if (queue_full)
            (*queue_full)++;
        r = ddbpipe_sink_poll(sink, 20);
        if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
            return r;
    }
}

static void test_types_deletes_dead_letters(void **state) {
    (void)state;
    ddbpipe_conf_t *c = conf_new(1, 0);
    ddbpipe_sink_options_t o;
    ddbpipe_sink_t *sink = NULL;
    char err[512] = "";
    int marks[16];
    memset(&o, 0, sizeof o);
    o.dead_letter_path = g_dlq;
    o.no_metrics_server = 1;
    o.dr_cb = on_report;
    g_nrep = 0;
    assert_int_equal(ddbpipe_sink_new(c, &o, &sink, err, sizeof err), DDBPIPE_OK);

    /* every attribute type, nested */
    static const char bin[] = {'\0', '\x01', '\xff', 'z'};
    ddbpipe_attr_t inner[] = {N("x", "7")};
    ddbpipe_attr_t list[] = {
        S(NULL, "one"), N(NULL, "2"), {.type = DDBPIPE_ATTR_M, .elems = inner, .count = 1}};
    ddbpipe_attr_t ss[] = {S(NULL, "a"), S(NULL, "b")};
    ddbpipe_attr_t ns[] = {N(NULL, "1"), N(NULL, "2.5")};
    ddbpipe_attr_t bs[] = {{.type = DDBPIPE_ATTR_B, .data = "ab", .len = 2}};
    ddbpipe_attr_t map[] = {S("k", "v"), {.name = "t", .type = DDBPIPE_ATTR_BOOL, .boolean = 0}};
    ddbpipe_attr_t all[] = {
        S("id", "a"),
        N("n", "1"),
        N("big", "12345678901234567890123456789012345678"),
        {.name = "bin", .type = DDBPIPE_ATTR_B, .data = bin, .len = sizeof bin},
        {.name = "yes", .type = DDBPIPE_ATTR_BOOL, .boolean = 1},
        {.name = "nil", .type = DDBPIPE_ATTR_NULL},
        {.name = "l", .type = DDBPIPE_ATTR_L, .elems = list, .count = 3},
        {.name = "m", .type = DDBPIPE_ATTR_M, .elems = map, .count = 2},
        {.name = "ss", .type = DDBPIPE_ATTR_SS, .elems = ss, .count = 2},
        {.name = "ns", .type = DDBPIPE_ATTR_NS, .elems = ns, .count = 2},
        {.name = "bs", .type = DDBPIPE_ATTR_BS, .elems = bs, .count = 1},
        S("quote", "say \"hi\"\n"),
    };
    ddbpipe_attr_t b_old[] = {S("id", "b"), N("n", "2"), S("v", "old")};
    ddbpipe_attr_t b_new[] = {S("id", "b"), N("n", "2.0"), S("v", "new")}; /* 2.0 is key 2 */
    ddbpipe_attr_t c_put[] = {S("id", "c"), N("n", "3"), S("v", "gone")};
    ddbpipe_attr_t c_del[] = {S("id", "c"), N("n", "3"), S("ignored", "x")};
    ddbpipe_attr_t dup_ns[] = {N(NULL, "1"), N(NULL, "1.0")};
    ddbpipe_attr_t bad_set[] = {
        S("id", "d"), N("n", "4"), {.name = "ns", .type = DDBPIPE_ATTR_NS, .elems = dup_ns, .count = 2}};
    ddbpipe_attr_t no_sort[] = {S("id", "e"), S("v", "x")};
    ddbpipe_attr_t bad_type[] = {S("id", "f"), N("n", "6"), {.name = "q", .type = (ddbpipe_attr_type_t)99}};
    ddbpipe_attr_t no_name[] = {S("id", "g"), N("n", "7"), {.type = DDBPIPE_ATTR_NULL}};

    struct {
        ddbpipe_item_op_t op;
        ddbpipe_attr_t *a;
        size_t n;
    } recs[] = {{DDBPIPE_ITEM_PUT, all, sizeof all / sizeof all[0]},
                {DDBPIPE_ITEM_PUT, b_old, 3},
                {DDBPIPE_ITEM_PUT, b_new, 3},
                {DDBPIPE_ITEM_PUT, c_put, 3},
                {DDBPIPE_ITEM_DELETE, c_del, 3},
                {DDBPIPE_ITEM_PUT, bad_set, 3},
                {DDBPIPE_ITEM_PUT, no_sort, 2}};
    size_t nrecs = sizeof recs / sizeof recs[0];
    for (size_t i = 0; i < nrecs; i++) {
        ddbpipe_item_record_t r = {.op = recs[i].op,
                                   .attrs = recs[i].a,
                                   .count = recs[i].n,
                                   .opaque = &marks[i],
                                   .offset = 100 + i,
                                   .line_no = i + 1};
        assert_int_equal(offer(sink, &r, NULL), DDBPIPE_OK);
    }
    /* malformed structs: refused, nothing produced, no report */
    ddbpipe_item_record_t bad1 = {.op = DDBPIPE_ITEM_PUT, .attrs = bad_type, .count = 3};
    ddbpipe_item_record_t bad2 = {.op = DDBPIPE_ITEM_PUT, .attrs = no_name, .count = 3};
    ddbpipe_item_record_t bad3 = {.op = (ddbpipe_item_op_t)7, .attrs = b_old, .count = 3};
    ddbpipe_item_record_t bad4 = {.op = DDBPIPE_ITEM_PUT, .attrs = NULL, .count = 2};
    assert_int_equal(ddbpipe_sink_produce_item(sink, &bad1), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(ddbpipe_sink_produce_item(sink, &bad2), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(ddbpipe_sink_produce_item(sink, &bad3), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(ddbpipe_sink_produce_item(sink, &bad4), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(ddbpipe_sink_produce_item(NULL, &bad3), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(ddbpipe_sink_flush(sink, 30000), DDBPIPE_OK);

    ddbpipe_sink_stats_t st;
    ddbpipe_sink_stats(sink, &st);
    assert_int_equal(st.records_in, nrecs);
    assert_int_equal(st.dead_lettered, 2);
    assert_int_equal(st.records_deleted, 1);
    ddbpipe_sink_destroy(sink);
    ddbpipe_conf_destroy(c);

    /* one report per record, in produce order, with its opaque and offset */
    assert_int_equal(g_nrep, nrecs);
    for (size_t i = 0; i < nrecs; i++) {
        assert_ptr_equal(g_rep[i].opaque, &marks[i]);
        assert_int_equal(g_rep[i].offset, 100 + i);
        assert_int_equal(g_rep[i].status, i < 5 ? DDBPIPE_DR_WRITTEN : DDBPIPE_DR_DEAD_LETTERED);
    }
    assert_non_null(strstr(g_rep[5].reason, "attribute 'ns': number set has a duplicate member"));
    assert_string_equal(g_rep[5].value,
                        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"S\":\"d\"},"
                        "\"n\":{\"N\":\"4\"},\"ns\":{\"NS\":[\"1\",\"1.0\"]}}}}");
    assert_non_null(strstr(g_rep[6].reason, "missing sort key 'n'"));
    assert_non_null(strstr(g_rep[6].value, "\"NewImage\":{\"id\":{\"S\":\"e\"},\"v\":{\"S\":\"x\"}}"));

    /* the dead-letter file: the same two records, as JSON */
    lines dl;
    read_lines(g_dlq, &dl);
    assert_int_equal(dl.n, 2);
    for (size_t i = 0; i < dl.n; i++) {
        assert_non_null(strstr(dl.buf[i], "\"record\":\"{\\\"eventName\\\":\\\"INSERT\\\""));
        assert_non_null(strstr(dl.buf[i], i == 0 ? "\"line\":6" : "\"line\":7"));
    }
    lines_free(&dl);

    /* the table: a (typed exactly), b with its last change, no c */
    lines t;
    read_table(&t);
    assert_int_equal(t.n, 2);
    const char *a = find_item(&t, "\"id\":{\"S\":\"a\"}");
    const char *b = find_item(&t, "\"id\":{\"S\":\"b\"}");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(b, "\"v\":{\"S\":\"new\"}"));
    const char *want[] = {"\"big\":{\"N\":\"12345678901234567890123456789012345678\"}",
                          "\"bin\":{\"B\":\"AAH/eg==\"}",
                          "\"yes\":{\"BOOL\":true}",
                          "\"nil\":{\"NULL\":true}",
                          "{\"S\":\"one\"}",
                          "{\"M\":{\"x\":{\"N\":\"7\"}}}",
                          "\"k\":{\"S\":\"v\"}",
                          "\"t\":{\"BOOL\":false}",
                          "\"SS\":[",
                          "\"NS\":[",
                          "\"bs\":{\"BS\":[\"YWI=\"]}",
                          "\"quote\":{\"S\":\"say \\\"hi\\\"\\n\"}"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(a, want[i]))
            fail_msg("item a lacks %s: %s", want[i], a);
    }
    lines_free(&t);
}

/* Four worker threads, a small buffer: QUEUE_FULL comes, polling clears it,
 * every report arrives in order and each key ends with its last change. */
static void test_threads_queue_full_order(void **state) {
    (void)state;
    enum { KEYS = 40, CHANGES = 1200 };
    ddbpipe_conf_t *c = conf_new(4, 20);
    ddbpipe_sink_options_t o;
    ddbpipe_sink_t *sink = NULL;
    char err[512] = "";
    int queue_full = 0;
    memset(&o, 0, sizeof o);
    o.no_metrics_server = 1;
    o.dr_cb = on_report;
    g_nrep = 0;
    assert_int_equal(ddbpipe_sink_new(c, &o, &sink, err, sizeof err), DDBPIPE_OK);
    for (int i = 0; i < CHANGES; i++) {
        char id[16], v[16];
        snprintf(id, sizeof id, "k%d", i % KEYS);
        snprintf(v, sizeof v, "%d", i);
        ddbpipe_attr_t at[] = {{.name = "id", .type = DDBPIPE_ATTR_S, .data = id, .len = strlen(id)},
                               N("n", "0"),
                               {.name = "v", .type = DDBPIPE_ATTR_N, .data = v, .len = strlen(v)}};
        ddbpipe_item_record_t r = {
            .op = DDBPIPE_ITEM_PUT, .attrs = at, .count = 3, .offset = (uint64_t)i + 1};
        assert_int_equal(offer(sink, &r, &queue_full), DDBPIPE_OK);
    }
    assert_int_equal(ddbpipe_sink_flush(sink, 60000), DDBPIPE_OK);
    ddbpipe_sink_destroy(sink);
    ddbpipe_conf_destroy(c);
    assert_true(queue_full > 0);
    assert_int_equal(g_nrep, CHANGES);
    for (int i = 0; i < CHANGES; i++) {
        assert_int_equal(g_rep[i].offset, (uint64_t)i + 1);
        assert_int_equal(g_rep[i].status, DDBPIPE_DR_WRITTEN);
    }
    lines t;
    read_table(&t);
    for (int k = 0; k < KEYS; k++) {
        char key[64], v[64];
        snprintf(key, sizeof key, "\"id\":{\"S\":\"k%d\"}", k);
        snprintf(v, sizeof v, "\"v\":{\"N\":\"%d\"}", CHANGES - KEYS + k);
        const char *it = find_item(&t, key);
        if (!it || !strstr(it, v))
            fail_msg("key k%d: want %s, got %s", k, v, it ? it : "(missing)");
    }
    lines_free(&t);
}

/* A free loopback port (bound, read, released). */
static int free_port(void) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void http_get(int port, const char *path, char *out, size_t n) {
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t got = 0;
    char req[256];
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    for (;;) {
        ssize_t r = read(fd, out + got, n - 1 - got);
        if (r <= 0 || got + (size_t)r >= n - 1) {
            got += r > 0 ? (size_t)r : 0;
            break;
        }
        got += (size_t)r;
    }
    out[got] = 0;
    close(fd);
}

/* A transport's own series on the sink's registry, served on /metrics
 * beside the sink's (what the Kafka input does through the public API). */
static void test_transport_metrics_on_the_sink_registry(void **state) {
    (void)state;
    ddbpipe_conf_t *c = conf_new(1, 0);
    ddbpipe_sink_options_t o;
    ddbpipe_sink_t *sink = NULL;
    char err[512] = "", addr[64];
    static char page[1 << 16];
    int port = free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(ddbpipe_conf_set(c, "metrics_address", addr, err, sizeof err), DDBPIPE_OK);
    memset(&o, 0, sizeof o);
    assert_int_equal(ddbpipe_sink_new(c, &o, &sink, err, sizeof err), DDBPIPE_OK);
    ddbpipe_metric_t *ev = ddbpipe_sink_metric(sink, DDBPIPE_METRIC_COUNTER, "my_transport_events_total",
                                               "Events taken.", "partition", "t/0");
    ddbpipe_metric_t *lag =
        ddbpipe_sink_metric(sink, DDBPIPE_METRIC_GAUGE, "my_transport_lag", "Lag.", NULL, NULL);
    assert_non_null(ev);
    assert_non_null(lag);
    /* the same series again is the same handle; another kind of it is refused */
    assert_ptr_equal(ddbpipe_sink_metric(sink, DDBPIPE_METRIC_COUNTER, "my_transport_events_total", "x",
                                         "partition", "t/0"),
                     ev);
    assert_null(
        ddbpipe_sink_metric(sink, DDBPIPE_METRIC_GAUGE, "my_transport_events_total", "x", NULL, NULL));
    assert_null(ddbpipe_sink_metric(sink, DDBPIPE_METRIC_GAUGE, "bad name", "x", NULL, NULL));
    assert_null(ddbpipe_sink_metric(NULL, DDBPIPE_METRIC_GAUGE, "ok_name", "x", NULL, NULL));
    assert_null(ddbpipe_sink_metric(sink, (ddbpipe_metric_kind_t)9, "ok_name", "x", NULL, NULL));
    ddbpipe_metric_add(ev, 3);
    ddbpipe_metric_add(ev, 2);
    ddbpipe_metric_set(lag, 42);
    ddbpipe_metric_add(NULL, 1); /* no-ops */
    ddbpipe_metric_set(NULL, 1);
    ddbpipe_metric_set(ev, 7); /* a counter is not set */
    http_get(port, "/metrics", page, sizeof page);
    if (!strstr(page, "my_transport_events_total{partition=\"t/0\"} 5\n") ||
        !strstr(page, "my_transport_lag 42\n") || !strstr(page, "# TYPE my_transport_lag gauge") ||
        !strstr(page, "ddbpipe_sink_records_in_total"))
        fail_msg("/metrics lacks the transport's series: %s", page);
    ddbpipe_sink_destroy(sink);
    ddbpipe_conf_destroy(c);
}

/* Keyed tombstones (a key, no value) through ddbpipe_sink_produce_record:
 * one whose key is no object and one whose key lacks the key attributes are
 * dead-lettered, and the dead-letter file names them by their key with
 * "record":null (not an empty record); a good one deletes its item. */
static void test_keyed_tombstone_dead_letters(void **state) {
    (void)state;
    char dlq[160];
    snprintf(dlq, sizeof dlq, "%s.tomb", g_dlq);
    unlink(dlq);
    ddbpipe_conf_t *c = conf_new(1, 0);
    ddbpipe_sink_options_t o;
    ddbpipe_sink_t *sink = NULL;
    char err[512] = "";
    memset(&o, 0, sizeof o);
    o.dead_letter_path = dlq;
    o.no_metrics_server = 1;
    assert_int_equal(ddbpipe_sink_new(c, &o, &sink, err, sizeof err), DDBPIPE_OK);
    static const char *keys[] = {"[1]", "{\"other\":\"x\"}", "{\"id\":\"tomb\",\"n\":1}"};
    for (size_t i = 0; i < 3; i++) {
        ddbpipe_record_t rec;
        memset(&rec, 0, sizeof rec);
        rec.key = keys[i];
        rec.key_len = strlen(keys[i]);
        rec.line_no = rec.offset = i + 1;
        assert_int_equal(ddbpipe_sink_produce_record(sink, &rec), DDBPIPE_OK);
    }
    assert_int_equal(ddbpipe_sink_flush(sink, 30000), DDBPIPE_OK);
    ddbpipe_sink_stats_t st;
    ddbpipe_sink_stats(sink, &st);
    assert_int_equal(st.records_in, 3);
    assert_int_equal(st.dead_lettered, 2);
    assert_int_equal(st.records_deleted, 1);
    ddbpipe_sink_destroy(sink);
    ddbpipe_conf_destroy(c);

    lines dl;
    read_lines(dlq, &dl);
    unlink(dlq);
    assert_int_equal(dl.n, 2);
    for (size_t i = 0; i < dl.n; i++) {
        assert_non_null(strstr(dl.buf[i], i == 0 ? "\"line\":1," : "\"line\":2,"));
        assert_non_null(
            strstr(dl.buf[i], i == 0 ? "\"key\":\"[1]\"" : "\"key\":\"{\\\"other\\\":\\\"x\\\"}\""));
        assert_non_null(strstr(dl.buf[i], "\"record\":null}"));
    }
    lines_free(&dl);
}

/* A dry run past dry_run_max_keys stops the same way whether the rows come
 * typed (ddbpipe_sink_produce_item, as `ddbpipe sql` INSERT ... VALUES hands
 * them) or as text lines (`ddbpipe sink --dry-run`): DDBPIPE_ERR_NOMEM at
 * the first key past the bound, nothing after it counted, and the same
 * message naming the bound and the option to raise. */
static void dry_run_past_bound(int typed, char *msg, size_t msg_size, ddbpipe_sink_dry_run_t *d) {
    ddbpipe_conf_t *c = conf_new(1, 0);
    ddbpipe_sink_options_t o;
    ddbpipe_sink_t *sink = NULL;
    char err[512] = "";
    memset(&o, 0, sizeof o);
    o.no_metrics_server = 1;
    o.dry_run = 1;
    o.dry_run_max_keys = 5;
    assert_int_equal(ddbpipe_sink_new(c, &o, &sink, err, sizeof err), DDBPIPE_OK);
    for (int i = 0; i < 10; i++) {
        char id[16], line[64];
        snprintf(id, sizeof id, "k%d", i);
        ddbpipe_result_t r;
        if (typed) {
            ddbpipe_attr_t at[] = {{.name = "id", .type = DDBPIPE_ATTR_S, .data = id, .len = strlen(id)},
                                   N("n", "1")};
            ddbpipe_item_record_t rec = {.op = DDBPIPE_ITEM_PUT, .attrs = at, .count = 2};
            rec.offset = rec.line_no = (uint64_t)i + 1;
            r = ddbpipe_sink_produce_item(sink, &rec);
        } else {
            int n = snprintf(line, sizeof line, "{\"id\":\"%s\",\"n\":1}", id);
            r = ddbpipe_sink_produce(sink, line, (size_t)n, (uint64_t)i + 1, (uint64_t)i + 1);
        }
        /* keys 0..4 fit, key 5 is one too many and stops the run */
        assert_int_equal(r, i < 5 ? DDBPIPE_OK : DDBPIPE_ERR_NOMEM);
    }
    ddbpipe_sink_flush(sink, 10000);
    assert_int_equal(ddbpipe_sink_fatal_error(sink, msg, msg_size), DDBPIPE_ERR_NOMEM);
    assert_int_equal(ddbpipe_sink_dry_run_result(sink, d), DDBPIPE_OK);
    ddbpipe_sink_destroy(sink);
    ddbpipe_conf_destroy(c);
}

static void test_dry_run_key_bound_typed_as_text(void **state) {
    (void)state;
    char typed[512] = "", text[512] = "";
    ddbpipe_sink_dry_run_t dt, dx;
    dry_run_past_bound(1, typed, sizeof typed, &dt);
    dry_run_past_bound(0, text, sizeof text, &dx);
    assert_string_equal(typed,
                        "dry run: more than 5 distinct keys (the per-key set would outgrow its bound); "
                        "raise --dry-run-max-keys");
    assert_string_equal(typed, text);
    assert_int_equal(dt.records, 5);
    assert_int_equal(dt.items, 5);
    assert_int_equal(dx.records, 5);
    assert_int_equal(dx.items, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_deletes_dead_letters),
        cmocka_unit_test(test_threads_queue_full_order),
        cmocka_unit_test(test_transport_metrics_on_the_sink_registry),
        cmocka_unit_test(test_dry_run_key_bound_typed_as_text),
        cmocka_unit_test(test_keyed_tombstone_dead_letters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
