/* The source engine: a parallel Scan snapshot and the DynamoDB Streams change
 * feed, driven on one thread by the async client's event loop.
 *
 * Phases:
 *   PREP      (snapshot+stream, first start only) list the shards and take a
 *             LATEST iterator for every open shard: this records the stream
 *             position before the scan reads anything.
 *   SNAPSHOT  N Scan segments in flight at once, each following
 *             LastEvaluatedKey to its end. ConsistentRead, so no write made
 *             before the recorded position is missed.
 *   STREAM    shards are read parent before child; discovery on an interval
 *             and at once (ShardFilter CHILD_SHARDS) when a shard closes.
 *
 * Stream during the scan (one process, no lease table): the shards are read
 * from their LATEST positions while the Scan runs, so a scan longer than the
 * stream's 24-hour retention loses nothing to the trim horizon. A snapshot row
 * must never overtake a newer change, so a GetRecords answer that arrives
 * while Scan calls are in flight is held (one page per shard, DP_SHARD_HELD)
 * until every Scan call sent before it arrived has been answered and emitted:
 * a Scan call sent after a record was read reads the item at or after that
 * write (ConsistentRead). The output interleaves snapshot rows and stream
 * events; a change written during the scan can come out twice (in a snapshot
 * row and as a stream event): duplicates are possible and harmless, loss is
 * not. With a lease table, stream events are held back until every segment is
 * done (workers cannot see each other's Scan calls); a held iterator that
 * expires (15 minutes) is renewed from TRIM_HORIZON: more duplicates, never a
 * gap, but records older than the retention are lost.
 *
 * Delivery is at-least-once: the checkpoint is written only after the caller
 * flushed the output, and records position of what was emitted; a restart
 * resumes after it (AFTER_SEQUENCE_NUMBER; Scan ExclusiveStartKey).
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "common/json.h"
#include "common/list.h"
#include "common/log.h"
#include "common/util.h"
#include "config/conf.h"
#include "config/settings.h"
#include "ddb/attr.h"
#include "ddb/capacity.h"
#include "ddb/capacity_fraction.h"
#include "ddb/client.h"
#include "ddb/lease.h"
#include "ddb/ops.h"
#include "formats/scan_lines.h"
#include "metrics/metrics.h"
#include "source/source.h"

#define SRC_MAX_FAILURES 10 /* consecutive retryable failures of one task before giving up */
/* how often the trim horizon may pass a fresh iterator of one shard before its
 * first read is taken for data loss (see on_records) */
#define SRC_MAX_HORIZON_REFRESHES 3
#define SRC_CHILD_RETRIES 5
#define SRC_LOOP_MAX_WAIT_MS 100 /* stop flag latency */
#define SRC_CHECKPOINT_INTERVAL_MS 1000
#define SRC_DRAIN_MS 3000 /* in-flight calls finished after a stop */
#define SRC_GETRECORDS_LIMIT 1000
#define SRC_TIP_EMPTY_ANSWERS 3 /* empty GetRecords answers in a row that count as an open shard's tip */

typedef enum { PH_PREP = 0, PH_SNAPSHOT, PH_STREAM, PH_DONE } src_phase;
typedef enum { CALL_DISCOVER = 0, CALL_CHILDREN, CALL_ITER, CALL_RECORDS, CALL_SCAN } call_kind;

typedef struct src_call {
    struct ddbpipe_source *src;
    call_kind kind;
    dp_shard *shard;
    int segment;
    dp_list_node link; /* on src->calls */
} src_call;

typedef struct src_stats {
    uint64_t events[4];
    uint64_t scan_pages, get_records_calls, empty_polls;
    uint64_t iterator_renewals, trimmed_losses, trim_horizon_fallbacks;
    uint64_t describe_stream_calls, inconsistent_listings, child_listings;
    uint64_t checkpoints_written, retries;
    uint64_t streams_replaced; /* follow_new_stream switches */
    uint64_t fenced_answers;
    uint64_t leases_held, leases_taken, leases_stolen, leases_lost, lease_renewals, lease_renewal_ms_max;
    uint64_t leases_deleted; /* leases of trimmed shards cleaned up */
    /* stream during the scan: GetRecords answers held behind Scan calls */
    uint64_t held_pages, held_now, held_ms_max, stream_events_during_scan;
} src_stats;

struct ddbpipe_source {
    ddbpipe_conf_t *conf;
    char mode[32], from[32], format[16];
    dp_event_format fmt;
    char *checkpoint_path;
    int until_caught_up;
    int (*emit)(const char *line, size_t len, void *opaque);
    int (*flush)(void *opaque);
    int (*emit_keyed)(const char *key, size_t key_len, const char *line, size_t len, int is_remove,
                      void *opaque);
    void *opaque;
    int64_t checkpoint_interval_ms;

    int do_snapshot, do_stream;
    int64_t discovery_interval_ms, poll_idle_ms, poll_busy_ms;
    int trimmed_continue;
    int follow_new_stream; /* a replaced stream is followed, not an error */
    int segments_wanted;
    int segments_explicit;    /* --segments or the property given: a different split is refused on resume */
    dp_capacity_bucket *rcap; /* max_read_capacity_per_s: one bucket for every segment; NULL: no cap */
    double rcap_fraction;     /* read_capacity_fraction; 0: unset */
    int64_t rcap_absolute;    /* max_read_capacity_per_s; 0: unset */
    /* read_capacity_fraction: DescribeTable re-read every 60 s on a thread
     * with its own client (a slow call does not stall the scan); the bucket
     * has its own lock */
    ddbpipe_client_t *rcap_client;
    dp_capacity_reread *rcap_reread;

    ddbpipe_client_t *client;
    /* Lease calls block on their own client, so no stream callback runs
     * (and frees shard state) in the middle of one. */
    ddbpipe_client_t *lease_client;
    dp_ddb *lease_ddb; /* borrowed from lease_client */
    dp_ddb *ddb;       /* borrowed from client */
    char table[256], pk[256], sk[256];

    dp_src_checkpoint st; /* state: what the checkpoint holds, plus engine fields */
    src_phase phase;
    int started;
    int checkpoint_loaded_positions; /* resumed: unknown positions start at TRIM_HORIZON */

    /* discovery */
    int disc_pending;
    int disc_done_once;
    int disc_inconsistent;    /* retries for the current listing */
    int inconsistent_retries; /* inconsistent_listing_retries */
    int64_t disc_due_ms;
    int disc_failures;
    int graph_changed;
    int child_pending;
    int stream_disabled;     /* DescribeStream said DISABLED/DISABLING: no new shards will come */
    int64_t vanish_check_ms; /* follow_new_stream, table without a stream: next DescribeTable */
    int waiting_for_stream;  /* warned once */

    volatile sig_atomic_t stop_requested;
    ddbpipe_result_t fatal;
    char fatal_msg[768];
    int need_flush;
    int dirty;
    int64_t last_checkpoint_ms;
    dp_list calls; /* src_call in flight */
    dp_buf line;
    dp_buf key;                   /* emit_keyed: the event's item key as canonical JSON */
    dp_buf scan_lines, scan_rest; /* a Scan page's lines by the one-pass path, the page without Items */
    int scan_general_only;        /* DDBPIPE_SOURCE_GENERAL_PATH set: no one-pass path (benchmarks, tests) */
    src_stats stats;
    int64_t started_ms;
    /* Prometheus metrics (served when metrics_address is set). */
    dp_metrics *metrics;
    dp_metrics_server *msrv;
    dp_metric *m_events[4], *m_renewals, *m_trimmed, *m_open, *m_closed, *m_pages, *m_polls;
    /* lease mode (lease_table set): see the leases section */
    char lease_table[256], app[256], worker[256];
    int64_t lease_ms, max_leases, lease_due_ms;
    int64_t lease_next_expiry_ms; /* the next round comes no later, so takeovers wait no extra interval */
    dp_lease *leases;             /* the application's leases as last listed */
    size_t n_leases;
    int leases_listed;
    dp_metric *m_held, *m_taken, *m_stolen, *m_lost, *m_renew_ms, *m_deleted;
    /* leased snapshot: the "#snapshot" item as last observed; every segment at SEGMENT_END */
    char *meta_obs_owner;
    int64_t meta_obs_counter, meta_obs_ms;
    int seg_all_done;
    int lease_again; /* the next step needs another round soon */
    /* clean-up of trimmed shards' leases: SHARD_END leases of shards no
     * listing shows, with the listing generation when first seen so */
    struct trim_cand {
        char *key;
        uint32_t gen;
    } * trim_cands;
    size_t n_trim_cands;
    uint32_t listed_gen;  /* generation of the last complete listing */
    int64_t scan_limit;   /* scan_page_items: Scan Limit; 0: DynamoDB's 1 MB pages */
    uint64_t scan_calls;  /* Scan calls sent: numbers them for the held GetRecords answers */
    int retention_warned; /* leased snapshot+stream older than 20 h: warned once */
    dp_metric *m_scan_held, *m_scan_stream;
};

static void metrics_setup(ddbpipe_source_t *src) {
    static const char *const ops[] = {"snapshot", "insert", "modify", "remove"};
    dp_metrics *m = src->metrics;
    for (int i = 0; i < 4; i++)
        src->m_events[i] =
            dp_metrics_counter(m, "ddbpipe_source_events_total", "Events emitted, by op.", "op", ops[i]);
    src->m_renewals =
        dp_metrics_counter(m, "ddbpipe_source_iterator_renewals_total",
                           "Shard iterators renewed after ExpiredIteratorException.", NULL, NULL);
    src->m_trimmed =
        dp_metrics_counter(m, "ddbpipe_source_trimmed_data_losses_total",
                           "TrimmedDataAccessException: records lost before they were read.", NULL, NULL);
    src->m_open =
        dp_metrics_gauge(m, "ddbpipe_source_shards_open", "Shards not read to their end.", NULL, NULL);
    src->m_closed =
        dp_metrics_gauge(m, "ddbpipe_source_shards_closed", "Shards read to their end.", NULL, NULL);
    src->m_pages = dp_metrics_counter(m, "ddbpipe_source_scan_pages_total", "Scan pages read.", NULL, NULL);
    src->m_polls =
        dp_metrics_counter(m, "ddbpipe_source_get_records_calls_total", "GetRecords calls.", NULL, NULL);
    src->m_held =
        dp_metrics_gauge(m, "ddbpipe_source_leases_held", "Shard leases this worker holds.", NULL, NULL);
    src->m_scan_held = dp_metrics_gauge(
        m, "ddbpipe_source_held_pages",
        "snapshot+stream: GetRecords answers waiting for the Scan calls sent before they arrived.", NULL,
        NULL);
    src->m_scan_stream = dp_metrics_counter(
        m, "ddbpipe_source_stream_events_during_scan_total",
        "snapshot+stream: stream events emitted while the snapshot was running.", NULL, NULL);
    src->m_taken = dp_metrics_counter(m, "ddbpipe_source_leases_taken_total",
                                      "Shard leases taken (free, expired or stolen).", NULL, NULL);
    src->m_stolen =
        dp_metrics_counter(m, "ddbpipe_source_leases_stolen_total",
                           "Shard leases taken from a live worker to balance the load.", NULL, NULL);
    src->m_lost =
        dp_metrics_counter(m, "ddbpipe_source_leases_lost_total",
                           "Shard leases lost (a conditional renewal or checkpoint failed).", NULL, NULL);
    src->m_deleted =
        dp_metrics_counter(m, "ddbpipe_source_leases_deleted_total",
                           "Leases of trimmed shards at SHARD_END deleted from the lease table.", NULL, NULL);
    static const double renew_buckets[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
    src->m_renew_ms = dp_metrics_histogram(
        m, "ddbpipe_source_lease_renewal_ms", "Latency of lease renewals and checkpoints, in milliseconds.",
        NULL, NULL, renew_buckets, sizeof renew_buckets / sizeof renew_buckets[0]);
}

static void metrics_shards(ddbpipe_source_t *src) {
    size_t open = 0, closed = 0;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        if (src->st.shards.v[i]->finished)
            closed++;
        else
            open++;
    }
    dp_metric_set(src->m_open, (double)open);
    dp_metric_set(src->m_closed, (double)closed);
}

static void metrics_behind(ddbpipe_source_t *src, dp_shard *s) {
    if (!s->m_behind && src->metrics)
        s->m_behind =
            dp_metrics_gauge(src->metrics, "ddbpipe_source_shard_ms_behind",
                             "Milliseconds between now and the last record read, per shard.", "shard", s->id);
    dp_metric_set(s->m_behind, (double)s->ms_behind);
}

/* ------------------------------------------------------------ utilities */

static void set_fatal(ddbpipe_source_t *src, ddbpipe_result_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fatal(ddbpipe_source_t *src, ddbpipe_result_t rc, const char *fmt, ...) {
    if (src->fatal != DDBPIPE_OK)
        return;
    src->fatal = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(src->fatal_msg, sizeof src->fatal_msg, fmt, ap);
    va_end(ap);
    char why[600];
    snprintf(why, sizeof why, "fatal: %.500s", src->fatal_msg);
    dp_metrics_server_set_ready(src->msrv, 0, why); /* /readyz */
}

static int stopping(const ddbpipe_source_t *src) {
    return src->stop_requested || src->fatal != DDBPIPE_OK;
}

static int64_t backoff_ms(int failures) {
    int64_t d = 250LL << (failures < 7 ? failures : 7);
    return d > 30000 ? 30000 : d;
}

static src_call *call_new(ddbpipe_source_t *src, call_kind kind, dp_shard *shard, int segment) {
    src_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->src = src;
    c->kind = kind;
    c->shard = shard;
    c->segment = segment;
    dp_list_push_front(&src->calls, &c->link);
    return c;
}

static void call_free(src_call *c) {
    dp_list_remove(&c->src->calls, &c->link);
    free(c);
}

static void on_done(void *opaque, dp_ddb_result *res);

/* Start one async call; body is built by the caller. */
static int send_call(ddbpipe_source_t *src, call_kind kind, dp_shard *shard, int segment, dp_ddb_api api,
                     const char *op, const dp_buf *body) {
    if (stopping(src))
        return -1; /* draining after a stop: finish what is in flight, start nothing */
    src_call *c = call_new(src, kind, shard, segment);
    if (!c) {
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
        return -1;
    }
    ddbpipe_result_t rc = dp_ddb_call_async(src->ddb, api, op, body->data, body->len, on_done, c);
    if (rc != DDBPIPE_OK) {
        call_free(c);
        set_fatal(src, rc, "%s: could not start the call: %s", op, ddbpipe_strerror(rc));
        return -1;
    }
    return 0;
}

static void fail_res(dp_ddb_result *res, ddbpipe_result_t rc, const char *msg) {
    res->result = rc;
    snprintf(res->message, sizeof res->message, "%s", msg);
}

static const char *res_code(const dp_ddb_result *res) {
    return res->error_code[0] ? res->error_code : ddbpipe_strerror(res->result);
}

/* ------------------------------------------------------------ output */

/* The item key of an event as canonical JSON: {"pk":v[,"sk":v]} in key
 * schema order, S and B as JSON strings (B base64, as sent), N as the
 * canonical number (1.50 and 1.5 give one key). 0 ok, -1 no key. */
static int event_key_json(const ddbpipe_source_t *src, const dp_event *ev, dp_buf *out) {
    const dp_json *from = ev->keys ? ev->keys : ev->new_image ? ev->new_image : ev->old_image;
    const char *names[2] = {src->pk, src->sk[0] ? src->sk : NULL};
    dp_buf_reset(out);
    dp_buf_putc(out, '{');
    for (int i = 0; i < 2 && names[i]; i++) {
        const dp_json *av = dp_json_get(from, names[i]);
        if (!av || !dp_json_is(av, DP_JSON_OBJECT) || av->count != 1 ||
            !dp_json_is(av->members[0].value, DP_JSON_STRING))
            return -1;
        const char *t = av->members[0].key;
        const dp_json *v = av->members[0].value;
        if (i)
            dp_buf_putc(out, ',');
        dp_json_write_cstr(out, names[i]);
        dp_buf_putc(out, ':');
        if (strcmp(t, "N") == 0) {
            if (dp_ddb_number_canonical(v->str, v->len, out) != 0)
                return -1;
        } else if (strcmp(t, "S") == 0 || strcmp(t, "B") == 0) {
            dp_json_write_string(out, v->str, v->len);
        } else {
            return -1;
        }
    }
    return dp_buf_putc(out, '}') == DDBPIPE_OK ? 0 : -1;
}

static int emit_event(ddbpipe_source_t *src, dp_event *ev) {
    char err[256] = "";
    dp_buf_reset(&src->line);
    ev->table = src->table;
    ddbpipe_result_t rc = dp_event_write(&src->line, src->fmt, ev, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        set_fatal(src, rc, "formatting an event of shard %s sequence %s: %s", ev->shard ? ev->shard : "-",
                  ev->sequence ? ev->sequence : "-", err[0] ? err : ddbpipe_strerror(rc));
        return -1;
    }
    if (src->emit_keyed) {
        if (event_key_json(src, ev, &src->key) != 0) {
            set_fatal(src, DDBPIPE_ERR_PARSE, "an event of shard %s sequence %s has no usable key",
                      ev->shard ? ev->shard : "-", ev->sequence ? ev->sequence : "-");
            return -1;
        }
        if (src->emit_keyed(src->key.data, src->key.len, src->line.data, src->line.len,
                            ev->op == DP_EVENT_REMOVE, src->opaque) != 0) {
            set_fatal(src, DDBPIPE_ERR_IO, "the output refused an event (closed or full)");
            return -1;
        }
    } else if (src->emit && src->emit(src->line.data, src->line.len, src->opaque) != 0) {
        set_fatal(src, DDBPIPE_ERR_IO, "the output refused an event (closed or full)");
        return -1;
    }
    src->stats.events[ev->op]++;
    dp_metric_inc(src->m_events[ev->op]);
    src->need_flush = 1;
    return 0;
}

/* Snapshot lines formatted by dp_scan_lines_write ('\n' after each), given
 * to the output as emit_event gives one event's line. */
static int emit_scan_lines(ddbpipe_source_t *src, const char *p, size_t len) {
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        if (src->emit && src->emit(p, n, src->opaque) != 0) {
            set_fatal(src, DDBPIPE_ERR_IO, "the output refused an event (closed or full)");
            return -1;
        }
        src->stats.events[DP_EVENT_SNAPSHOT]++;
        dp_metric_inc(src->m_events[DP_EVENT_SNAPSHOT]);
        src->need_flush = 1;
        p = nl + 1;
    }
    return 0;
}

static int flush_output(ddbpipe_source_t *src) {
    if (!src->need_flush)
        return 0;
    if (src->flush && src->flush(src->opaque) != 0) {
        set_fatal(src, DDBPIPE_ERR_IO, "flushing the output failed");
        return -1;
    }
    src->need_flush = 0;
    return 0;
}

static int write_checkpoint(ddbpipe_source_t *src) {
    if (!src->checkpoint_path || !src->dirty)
        return 0;
    /* The checkpoint must never be ahead of the output. */
    if (flush_output(src) != 0)
        return -1;
    dp_buf b;
    dp_buf_init(&b, 0);
    ddbpipe_result_t rc = dp_src_checkpoint_write(&src->st, &b);
    int ok = rc == DDBPIPE_OK && dp_write_file_atomic(src->checkpoint_path, b.data, b.len) == 0;
    dp_buf_free(&b);
    if (!ok) {
        set_fatal(src, DDBPIPE_ERR_IO, "writing checkpoint %s failed", src->checkpoint_path);
        return -1;
    }
    src->dirty = 0;
    src->last_checkpoint_ms = dp_now_ms();
    src->stats.checkpoints_written++;
    return 0;
}

/* ------------------------------------------------------------ leases
 *
 * With lease_table set, workers running the same command share the
 * stream's shards (KCL's design, see docs/semantics.md): one lease item per
 * shard; a worker reads only the shards it holds. Every lease_ms/3 it
 * checkpoints or renews each held lease (conditional on owner and counter),
 * lists the application's leases, and takes leases: expired ones first,
 * then at most one from the most loaded worker. Expiry is judged on this
 * worker's clock (counter unchanged for lease_ms), so clocks need not agree.
 * Fencing: records are emitted only while the last successful renewal was
 * sent less than lease_ms ago; a failed conditional write drops the shard. */

static int lease_mode(const ddbpipe_source_t *src) {
    return src->lease_table[0] != 0;
}

/* May this worker emit records of s now? */
static int lease_valid(const ddbpipe_source_t *src, const dp_shard *s) {
    return !lease_mode(src) || (s->leased && dp_now_ms() < s->lease_valid_until_ms);
}

static void lease_key(const ddbpipe_source_t *src, const char *shard, dp_lease *l) {
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s/%s", src->app, shard);
    snprintf(l->shard, sizeof l->shard, "%s", shard);
}

/* A shard's lease is keyed on the stream too (application/label/shard): a
 * re-enabled stream (or a re-created table) never reuses the checkpoints
 * of the one before, whose leases are ignored. */
static const char *stream_label(const ddbpipe_source_t *src) {
    const char *arn = src->st.stream_arn ? src->st.stream_arn : "";
    const char *p = strstr(arn, "/stream/");
    return p ? p + strlen("/stream/") : arn;
}

static void shard_lease_key(const ddbpipe_source_t *src, const char *shard, dp_lease *l) {
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s/%s/%s", src->app, stream_label(src), shard);
    snprintf(l->shard, sizeof l->shard, "%s", shard);
}

/* Is l a shard lease of the stream being read? */
static int lease_of_stream(const ddbpipe_source_t *src, const dp_lease *l) {
    dp_lease k;
    shard_lease_key(src, l->shard, &k);
    return l->shard[0] != '#' && strcmp(k.key, l->key) == 0;
}

static void lease_drop(ddbpipe_source_t *src, dp_shard *s, const char *why) {
    if (!s->leased)
        return;
    s->leased = 0;
    src->stats.leases_lost++;
    dp_metric_inc(src->m_lost);
    DP_LOG_WARN("source: lease of shard %s lost (%s); no more records of it are emitted by this worker",
                s->id, why);
    dp_strdup_to(&s->iterator, NULL);
    if (s->state != DP_SHARD_FINISHED)
        s->state = DP_SHARD_WAITING;
}

/* The checkpoint this worker would write for a held shard. */
static const char *lease_cp_now(const dp_shard *s) {
    if (s->finished)
        return DP_LEASE_SHARD_END;
    if (s->last_seq)
        return s->last_seq;
    return s->lease_cp ? s->lease_cp : "TRIM_HORIZON";
}

/* A renewal or checkpoint the lease table accepted (asked at t0, answered at t1, ms): counted, its latency
 * observed. Shard and scan-segment leases alike. */
static void lease_renewed(ddbpipe_source_t *src, int64_t t0, int64_t t1) {
    src->stats.lease_renewals++;
    if ((uint64_t)(t1 - t0) > src->stats.lease_renewal_ms_max)
        src->stats.lease_renewal_ms_max = (uint64_t)(t1 - t0);
    dp_metric_observe(src->m_renew_ms, (double)(t1 - t0));
}

/* Take the lease *l as seen in the table (on success *l is the lease now held, *t0_ms when it was asked for).
 * what names it in the warning when the call fails other than by losing the race ("shard ID", "scan segment
 * N"). 0 when taken, -1 otherwise. */
static int lease_take_call(ddbpipe_source_t *src, const char *what, dp_lease *l, int64_t *t0_ms) {
    int lost = 0;
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    *t0_ms = dp_now_ms();
    ddbpipe_result_t rc = dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_TAKE, l, src->worker,
                                          NULL, 0, &lost, &res);
    if (rc != DDBPIPE_OK && !lost)
        DP_LOG_WARN("source: taking the lease of %s failed: %s: %s", what, res_code(&res), res.message);
    dp_ddb_result_free(&res);
    return rc == DDBPIPE_OK ? 0 : -1;
}

/* A lease taken (steal: from a live owner): counted. */
static void lease_taken(ddbpipe_source_t *src, int steal) {
    src->stats.leases_taken++;
    dp_metric_inc(src->m_taken);
    if (steal) {
        src->stats.leases_stolen++;
        dp_metric_inc(src->m_stolen);
    }
}

/* Checkpoint (when it moved) or renew one held lease. */
static void lease_renew(ddbpipe_source_t *src, dp_shard *s) {
    dp_lease l;
    shard_lease_key(src, s->id, &l);
    l.counter = s->lease_counter;
    const char *cp = lease_cp_now(s);
    int tip = !s->finished && s->at_tip >= SRC_TIP_EMPTY_ANSWERS;
    int moved = !s->lease_cp || strcmp(cp, s->lease_cp) != 0 || tip != s->lease_tip;
    /* The checkpoint must never be ahead of the output. */
    if (moved && flush_output(src) != 0)
        return;
    int lost = 0;
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    int64_t t0 = dp_now_ms();
    ddbpipe_result_t rc =
        dp_lease_update(src->lease_ddb, src->lease_table, moved ? DP_LEASE_CHECKPOINT : DP_LEASE_RENEW, &l,
                        src->worker, cp, tip, &lost, &res);
    int64_t t1 = dp_now_ms();
    if (rc == DDBPIPE_OK) {
        s->lease_counter = l.counter;
        s->lease_valid_until_ms = t0 + src->lease_ms;
        lease_renewed(src, t0, t1);
        if (moved) {
            dp_strdup_to(&s->lease_cp, cp);
            s->lease_tip = tip;
            src->stats.checkpoints_written++;
        }
        if (s->finished) {
            /* SHARD_END: nobody reads it again; its children may start. */
            s->leased = 0;
            DP_LOG_INFO("source: shard %s checkpointed at SHARD_END", s->id);
        }
    } else if (lost) {
        lease_drop(src, s, "its counter or owner changed in the lease table");
    } else {
        /* Not fatal: the lease stays valid until lease_valid_until_ms, the
         * next round tries again. */
        src->stats.retries++;
        DP_LOG_WARN("source: renewing the lease of shard %s failed: %s: %s", s->id, res_code(&res),
                    res.message);
    }
    dp_ddb_result_free(&res);
}

static int lease_take(ddbpipe_source_t *src, dp_shard *s, const dp_lease *seen, int steal) {
    dp_lease l = *seen;
    int64_t t0;
    char what[300];
    snprintf(what, sizeof what, "shard %s", s->id);
    if (lease_take_call(src, what, &l, &t0) != 0)
        return -1;
    s->leased = 1;
    s->lease_counter = l.counter;
    s->lease_valid_until_ms = t0 + src->lease_ms;
    s->lease_tip = l.at_tip;
    dp_strdup_to(&s->lease_cp, l.checkpoint);
    /* Resume from the lease's checkpoint, whatever this worker read before. */
    int is_seq = l.checkpoint[0] >= '0' && l.checkpoint[0] <= '9';
    dp_strdup_to(&s->last_seq, is_seq ? l.checkpoint : NULL);
    s->start_latest = strcmp(l.checkpoint, "LATEST") == 0;
    s->finished = 0;
    s->at_tip = 0;
    s->failures = 0;
    s->state = DP_SHARD_NEED_ITER;
    s->due_ms = dp_now_ms();
    /* A position recorded before a leased snapshot: the iterator itself (an
     * expired one falls back to TRIM_HORIZON: duplicates, no gap). */
    int iter = strcmp(l.checkpoint, "ITERATOR") == 0 && seen->pos;
    if (dp_strdup_to(&s->iterator, iter ? seen->pos : NULL) != 0)
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
    if (iter)
        s->state = DP_SHARD_IDLE;
    lease_taken(src, steal);
    DP_LOG_INFO("source: took the lease of shard %s%s%s (checkpoint %s)", s->id,
                seen->owner[0] ? " from " : "", seen->owner, l.checkpoint);
    return 0;
}

static const dp_lease *lease_find(const dp_lease *v, size_t n, const char *shard) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].shard, shard) == 0)
            return &v[i];
    return NULL;
}

/* Every parent is at SHARD_END (a parent with no lease and not in the graph
 * was trimmed away long ago and does not block). */
static int lease_parents_done(const ddbpipe_source_t *src, const dp_lease *v, size_t n, const dp_lease *l) {
    for (int k = 0; k < l->n_parents; k++) {
        const dp_lease *p = lease_find(v, n, l->parents[k]);
        const dp_shard *ps = p ? NULL : dp_shard_graph_find(&src->st.shards, l->parents[k]);
        /* no lease: trimmed and cleaned up (finished here), or not created yet */
        if (p ? strcmp(p->checkpoint, DP_LEASE_SHARD_END) != 0 : ps && !ps->finished)
            return 0;
    }
    return 1;
}

static int lease_expired(const ddbpipe_source_t *src, const dp_shard *s, const dp_lease *l, int64_t now) {
    return !l->owner[0] || now - s->obs_changed_ms >= src->lease_ms;
}

static void trim_cands_free(struct trim_cand *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i].key);
    free(v);
}

/* Delete the leases of shards DynamoDB trimmed: at SHARD_END and missing
 * from a complete listing that started after this worker first saw them
 * missing (a shard is listed before its lease is created, so a lagging
 * listing cannot make a live shard look trimmed). Deletes are conditional
 * on the counter and SHARD_END; at most 25 a round. */
static void lease_cleanup(ddbpipe_source_t *src) {
    struct trim_cand *next = NULL;
    size_t n_next = 0, deleted = 0;
    for (size_t i = 0; i < src->n_leases && src->disc_done_once; i++) {
        const dp_lease *l = &src->leases[i];
        if (strcmp(l->checkpoint, DP_LEASE_SHARD_END) != 0 || dp_shard_graph_find(&src->st.shards, l->shard))
            continue;
        uint32_t gen = src->st.shards.gen;
        for (size_t k = 0; k < src->n_trim_cands; k++)
            if (strcmp(src->trim_cands[k].key, l->key) == 0)
                gen = src->trim_cands[k].gen;
        if (src->listed_gen > gen && deleted < 25) {
            int lost = 0;
            dp_ddb_result res;
            dp_ddb_result_init(&res);
            int ok = dp_lease_delete(src->lease_ddb, src->lease_table, l, DP_LEASE_SHARD_END, &lost, &res) ==
                     DDBPIPE_OK;
            if (ok) {
                deleted++;
                src->stats.leases_deleted++;
                dp_metric_inc(src->m_deleted);
                DP_LOG_INFO("source: deleted the lease of shard %s (at SHARD_END, trimmed from the stream)",
                            l->shard);
            } else if (!lost) {
                DP_LOG_WARN("source: deleting the lease of trimmed shard %s failed: %s: %s", l->shard,
                            res_code(&res), res.message);
            }
            dp_ddb_result_free(&res);
            if (ok || lost) /* gone, or changed: seen again next round */
                continue;
        }
        struct trim_cand *nv = realloc(next, (n_next + 1) * sizeof *nv);
        char *key = strdup(l->key);
        if (!nv || !key) {
            free(key);
            if (nv)
                next = nv;
            break; /* out of memory: try again next round */
        }
        next = nv;
        next[n_next].key = key;
        next[n_next].gen = gen;
        n_next++;
    }
    trim_cands_free(src->trim_cands, src->n_trim_cands);
    src->trim_cands = next;
    src->n_trim_cands = n_next;
}

/* One round: create missing leases, renew/checkpoint held ones, list, take. */
static void lease_tick(ddbpipe_source_t *src) {
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    for (size_t i = 0; i < src->st.shards.n && !stopping(src); i++) {
        dp_shard *s = src->st.shards.v[i];
        if (s->lease_known)
            continue;
        dp_lease l;
        shard_lease_key(src, s->id, &l);
        snprintf(l.checkpoint, sizeof l.checkpoint, "%s",
                 s->finished       ? DP_LEASE_SHARD_END
                 : s->start_latest ? "LATEST"
                                   : "TRIM_HORIZON");
        if (s->parent_id) {
            snprintf(l.parents[0], sizeof l.parents[0], "%s", s->parent_id);
            l.n_parents = 1;
        }
        int created = 0;
        if (dp_lease_create(src->lease_ddb, src->lease_table, src->app, &l, &created, &res) == DDBPIPE_OK)
            s->lease_known = 1;
        else
            DP_LOG_WARN("source: creating the lease of shard %s failed: %s: %s", s->id, res_code(&res),
                        res.message);
    }
    for (size_t i = 0; i < src->st.shards.n; i++)
        if (src->st.shards.v[i]->leased)
            lease_renew(src, src->st.shards.v[i]);
    dp_lease *v = NULL;
    size_t n = 0;
    if (dp_lease_list(src->lease_ddb, src->lease_table, src->app, 0, &v, &n, &res) != DDBPIPE_OK) {
        DP_LOG_WARN("source: listing the lease table failed: %s: %s", res_code(&res), res.message);
        dp_ddb_result_free(&res);
        return;
    }
    src->leases_listed = 1;
    dp_ddb_result_free(&res);
    /* Snapshot leases ('#' names) are not shards; another stream's leases
     * are not this stream's. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lease_of_stream(src, &v[i])) {
            free(v[i].pos);
            continue;
        }
        v[kept++] = v[i];
    }
    n = kept;
    int64_t now = dp_now_ms();
    dp_lease_list_free(src->leases, src->n_leases);
    src->leases = v;
    src->n_leases = n;
    /* Observe: counters and owners that moved restart the expiry clock. */
    size_t held = 0, live_total = 0;
    for (size_t i = 0; i < n; i++) {
        const dp_lease *l = &v[i];
        dp_shard *s = dp_shard_graph_find(&src->st.shards, l->shard);
        if (!s)
            continue;
        s->lease_known = 1;
        if (!s->obs_owner || s->obs_counter != l->counter || strcmp(s->obs_owner, l->owner) != 0) {
            s->obs_counter = l->counter;
            s->obs_changed_ms = now;
            dp_strdup_to(&s->obs_owner, l->owner);
        }
        if (s->leased && strcmp(l->owner, src->worker) != 0)
            lease_drop(src, s, "another worker owns it now");
        if (!s->leased) {
            int end = strcmp(l->checkpoint, DP_LEASE_SHARD_END) == 0;
            if (end && !s->finished) {
                s->finished = 1;
                src->graph_changed = 1;
            }
        }
        if (strcmp(l->checkpoint, DP_LEASE_SHARD_END) == 0 || !lease_parents_done(src, v, n, l))
            continue;
        live_total++;
        if (s->leased)
            held++;
    }
    /* Workers with a live lease, this one included. */
    size_t workers = 1, max_count = 0;
    const char *max_owner = NULL;
    for (size_t i = 0; i < n; i++) {
        const dp_lease *l = &v[i];
        dp_shard *s = dp_shard_graph_find(&src->st.shards, l->shard);
        if (!s || !l->owner[0] || strcmp(l->owner, src->worker) == 0 ||
            strcmp(l->checkpoint, DP_LEASE_SHARD_END) == 0 || lease_expired(src, s, l, now))
            continue;
        size_t count = 0, first = 1;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(v[j].owner, l->owner) != 0 || strcmp(v[j].checkpoint, DP_LEASE_SHARD_END) == 0)
                continue;
            if (j < i)
                first = 0;
            count++;
        }
        if (first)
            workers++;
        if (count > max_count) {
            max_count = count;
            max_owner = l->owner;
        }
    }
    src->lease_next_expiry_ms = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const dp_lease *l = &v[i];
        const dp_shard *s = dp_shard_graph_find(&src->st.shards, l->shard);
        if (s && l->owner[0] && !s->leased && strcmp(l->checkpoint, DP_LEASE_SHARD_END) != 0 &&
            s->obs_changed_ms + src->lease_ms < src->lease_next_expiry_ms)
            src->lease_next_expiry_ms = s->obs_changed_ms + src->lease_ms;
    }
    size_t target = (live_total + workers - 1) / workers;
    if (src->max_leases > 0 && target > (size_t)src->max_leases)
        target = (size_t)src->max_leases;
    /* Expired (or free) leases first. */
    for (size_t i = 0; i < n && held < target && !stopping(src); i++) {
        const dp_lease *l = &v[i];
        dp_shard *s = dp_shard_graph_find(&src->st.shards, l->shard);
        if (!s || s->leased || strcmp(l->checkpoint, DP_LEASE_SHARD_END) == 0 ||
            !lease_parents_done(src, v, n, l) || !lease_expired(src, s, l, now))
            continue;
        if (lease_take(src, s, l, 0) == 0)
            held++;
    }
    /* Then at most one from the most loaded worker, when that evens things out. */
    if (held < target && max_owner && max_count > held + 1) {
        for (size_t i = 0; i < n; i++) {
            const dp_lease *l = &v[i];
            dp_shard *s = dp_shard_graph_find(&src->st.shards, l->shard);
            if (!s || s->leased || strcmp(l->owner, max_owner) != 0 ||
                strcmp(l->checkpoint, DP_LEASE_SHARD_END) == 0 || !lease_parents_done(src, v, n, l))
                continue;
            lease_take(src, s, l, 1);
            break;
        }
    }
    size_t now_held = 0;
    for (size_t i = 0; i < src->st.shards.n; i++)
        now_held += src->st.shards.v[i]->leased != 0;
    dp_metric_set(src->m_held, (double)now_held);
    src->stats.leases_held = now_held;
    lease_cleanup(src);
}

/* Graceful stop: checkpoint and free the held leases so others take them at once. */
static void lease_release_all(ddbpipe_source_t *src) {
    for (size_t i = 0; i < src->st.shards.n; i++) {
        dp_shard *s = src->st.shards.v[i];
        if (!s->leased)
            continue;
        lease_renew(src, s);
        if (!s->leased)
            continue;
        dp_lease l;
        shard_lease_key(src, s->id, &l);
        l.counter = s->lease_counter;
        int lost = 0;
        dp_ddb_result res;
        dp_ddb_result_init(&res);
        if (dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_RELEASE, &l, src->worker, NULL, 0,
                            &lost, &res) == DDBPIPE_OK)
            DP_LOG_INFO("source: released the lease of shard %s", s->id);
        dp_ddb_result_free(&res);
        s->leased = 0;
    }
}

/* --until-caught-up with leases: every lease of the application is at
 * SHARD_END or at its tip, and this worker has nothing unwritten. */
static int lease_caught_up(const ddbpipe_source_t *src) {
    if (!src->leases_listed)
        return 0;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        const dp_shard *s = src->st.shards.v[i];
        if (!s->lease_known)
            return 0;
        if (s->leased && (s->at_tip < SRC_TIP_EMPTY_ANSWERS || !s->lease_tip || !s->lease_cp ||
                          strcmp(lease_cp_now(s), s->lease_cp) != 0))
            return 0;
    }
    for (size_t i = 0; i < src->n_leases; i++) {
        const dp_lease *l = &src->leases[i];
        if (!dp_shard_graph_find(&src->st.shards, l->shard))
            continue;
        if (strcmp(l->checkpoint, DP_LEASE_SHARD_END) != 0 && !l->at_tip)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ snapshot leases
 *
 * snapshot and snapshot+stream with a lease table: one item "#snapshot"
 * (checkpoint PREP while a worker records the start, READY after; segments:
 * TotalSegments) and one per Scan segment "#segment/i" (checkpoint START,
 * KEY with pos = the LastEvaluatedKey of the last page emitted, or
 * SEGMENT_END). The worker that creates "#snapshot" first creates the segment
 * leases and, for snapshot+stream, the shard leases at the stream's position
 * now (ITERATOR with pos = a LATEST iterator; SHARD_END for closed shards),
 * then marks it READY. Every worker waits for READY, then the segments are
 * shared like shards; a segment is checkpointed after every page. The stream
 * phase starts once the lease table shows every segment at SEGMENT_END. */

#define SNAP_KEY "#snapshot"
#define SNAP_PREP "PREP"
#define SNAP_READY "READY"
#define SEG_PREFIX "#segment/"
#define SEG_START "START"
#define SEG_KEY "KEY"
#define SEG_END "SEGMENT_END"
#define SHARD_ITERATOR "ITERATOR"

static int seg_valid(const ddbpipe_source_t *src, const dp_src_segment *sg) {
    return !lease_mode(src) || (sg->leased && dp_now_ms() < sg->lease_valid_until_ms);
}

static void seg_key(const ddbpipe_source_t *src, int i, dp_lease *l) {
    char name[64];
    snprintf(name, sizeof name, SEG_PREFIX "%d", i);
    lease_key(src, name, l);
}

/* Segment index of a lease, -1 when it is not one of this snapshot's. */
static int seg_index(const ddbpipe_source_t *src, const dp_lease *l) {
    if (strncmp(l->shard, SEG_PREFIX, strlen(SEG_PREFIX)) != 0)
        return -1;
    char *end = NULL;
    long i = strtol(l->shard + strlen(SEG_PREFIX), &end, 10);
    return end && !*end && i >= 0 && i < src->st.total_segments ? (int)i : -1;
}

static void seg_drop(ddbpipe_source_t *src, int i, const char *why) {
    dp_src_segment *sg = &src->st.segments[i];
    if (!sg->leased)
        return;
    sg->leased = 0;
    src->stats.leases_lost++;
    dp_metric_inc(src->m_lost);
    DP_LOG_WARN("source: lease of scan segment %d lost (%s); no more of its items are emitted by this worker",
                i, why);
}

/* Checkpoint (when it moved) or renew the lease of held segment i. */
static void seg_renew(ddbpipe_source_t *src, int i) {
    dp_src_segment *sg = &src->st.segments[i];
    const char *pos = sg->last_key ? sg->last_key : "";
    const char *cp = sg->done ? SEG_END : sg->last_key ? SEG_KEY : SEG_START;
    int moved = sg->done != sg->lease_done || !sg->lease_pos || strcmp(pos, sg->lease_pos) != 0;
    /* The checkpoint must never be ahead of the output. */
    if (moved && flush_output(src) != 0)
        return;
    dp_lease l;
    seg_key(src, i, &l);
    l.counter = sg->lease_counter;
    int lost = 0;
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    int64_t t0 = dp_now_ms();
    ddbpipe_result_t rc =
        dp_lease_update_pos(src->lease_ddb, src->lease_table, moved ? DP_LEASE_CHECKPOINT : DP_LEASE_RENEW,
                            &l, src->worker, cp, 0, moved ? pos : NULL, &lost, &res);
    int64_t t1 = dp_now_ms();
    if (rc == DDBPIPE_OK) {
        sg->lease_counter = l.counter;
        sg->lease_valid_until_ms = t0 + src->lease_ms;
        lease_renewed(src, t0, t1);
        if (moved) {
            dp_strdup_to(&sg->lease_pos, pos);
            sg->lease_done = sg->done;
            src->stats.checkpoints_written++;
        }
        if (sg->done)
            sg->leased = 0; /* SEGMENT_END: nobody scans it again */
    } else if (lost) {
        seg_drop(src, i, "its counter or owner changed in the lease table");
    } else {
        src->stats.retries++;
        DP_LOG_WARN("source: renewing the lease of scan segment %d failed: %s: %s", i, res_code(&res),
                    res.message);
    }
    dp_ddb_result_free(&res);
}

static int seg_take(ddbpipe_source_t *src, int i, const dp_lease *seen, int steal) {
    dp_src_segment *sg = &src->st.segments[i];
    dp_lease l = *seen;
    int64_t t0;
    char what[48];
    snprintf(what, sizeof what, "scan segment %d", i);
    if (lease_take_call(src, what, &l, &t0) != 0)
        return -1;
    int at_key = strcmp(seen->checkpoint, SEG_KEY) == 0 && seen->pos;
    sg->leased = 1;
    sg->lease_counter = l.counter;
    sg->lease_valid_until_ms = t0 + src->lease_ms;
    sg->lease_done = 0;
    sg->done = 0;
    sg->failures = 0;
    sg->due_ms = dp_now_ms();
    /* Resume after the lease's checkpoint, whatever this worker read before. */
    if (dp_strdup_to(&sg->last_key, at_key ? seen->pos : NULL) != 0 ||
        dp_strdup_to(&sg->lease_pos, at_key ? seen->pos : "") != 0)
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
    lease_taken(src, steal);
    DP_LOG_INFO("source: took the lease of scan segment %d%s%s (%s)", i, seen->owner[0] ? " from " : "",
                seen->owner, at_key ? "resuming after its checkpoint" : "from its start");
    return 0;
}

/* One round of the snapshot phase: renew/checkpoint held segments, list,
 * take (expired first, then at most one from the most loaded worker). */
static void snap_tick(ddbpipe_source_t *src) {
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    int total = src->st.total_segments;
    for (int i = 0; i < total; i++)
        if (src->st.segments[i].leased)
            seg_renew(src, i);
    dp_lease *all = NULL;
    size_t n_all = 0;
    if (dp_lease_list(src->lease_ddb, src->lease_table, src->app, 0, &all, &n_all, &res) != DDBPIPE_OK) {
        DP_LOG_WARN("source: listing the lease table failed: %s: %s", res_code(&res), res.message);
        dp_ddb_result_free(&res);
        return;
    }
    dp_ddb_result_free(&res);
    int64_t now = dp_now_ms();
    /* This snapshot's segment leases, by index. */
    const dp_lease **seg = calloc((size_t)total, sizeof *seg);
    if (!seg) {
        dp_lease_list_free(all, n_all);
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t k = 0; k < n_all; k++) {
        int i = seg_index(src, &all[k]);
        if (i >= 0)
            seg[i] = &all[k];
    }
    int ended = 0;
    size_t live = 0, held = 0;
    for (int i = 0; i < total; i++) {
        dp_src_segment *sg = &src->st.segments[i];
        const dp_lease *l = seg[i];
        if (!l)
            continue;
        if (!sg->obs_owner || sg->obs_counter != l->counter || strcmp(sg->obs_owner, l->owner) != 0) {
            sg->obs_counter = l->counter;
            sg->obs_changed_ms = now;
            dp_strdup_to(&sg->obs_owner, l->owner);
        }
        if (sg->leased && strcmp(l->owner, src->worker) != 0)
            seg_drop(src, i, "another worker owns it now");
        if (strcmp(l->checkpoint, SEG_END) == 0) {
            ended++;
            if (!sg->leased)
                sg->done = 1;
            continue;
        }
        live++;
        held += sg->leased != 0;
    }
    src->seg_all_done = ended == total;
    /* Workers holding a live segment lease that is not expired, this one
     * included; the most loaded of them. */
    size_t workers = 1, max_count = 0;
    const char *max_owner = NULL;
    for (int i = 0; i < total; i++) {
        const dp_lease *l = seg[i];
        if (!l || !l->owner[0] || strcmp(l->owner, src->worker) == 0 || strcmp(l->checkpoint, SEG_END) == 0 ||
            now - src->st.segments[i].obs_changed_ms >= src->lease_ms)
            continue;
        size_t count = 0, first = 1;
        for (int j = 0; j < total; j++) {
            if (!seg[j] || strcmp(seg[j]->owner, l->owner) != 0 || strcmp(seg[j]->checkpoint, SEG_END) == 0)
                continue;
            if (j < i)
                first = 0;
            count++;
        }
        workers += first;
        if (count > max_count) {
            max_count = count;
            max_owner = l->owner;
        }
    }
    src->lease_next_expiry_ms = INT64_MAX;
    for (int i = 0; i < total; i++) {
        const dp_src_segment *sg = &src->st.segments[i];
        if (seg[i] && seg[i]->owner[0] && !sg->leased && strcmp(seg[i]->checkpoint, SEG_END) != 0 &&
            sg->obs_changed_ms + src->lease_ms < src->lease_next_expiry_ms)
            src->lease_next_expiry_ms = sg->obs_changed_ms + src->lease_ms;
    }
    size_t target = (live + workers - 1) / workers;
    if (src->max_leases > 0 && target > (size_t)src->max_leases)
        target = (size_t)src->max_leases;
    for (int i = 0; i < total && held < target && !stopping(src); i++) {
        const dp_lease *l = seg[i];
        const dp_src_segment *sg = &src->st.segments[i];
        if (!l || sg->leased || strcmp(l->checkpoint, SEG_END) == 0 ||
            (l->owner[0] && now - sg->obs_changed_ms < src->lease_ms))
            continue;
        if (seg_take(src, i, l, 0) == 0)
            held++;
    }
    if (held < target && max_owner && max_count > held + 1) {
        for (int i = 0; i < total; i++) {
            const dp_lease *l = seg[i];
            if (!l || src->st.segments[i].leased || strcmp(l->owner, max_owner) != 0 ||
                strcmp(l->checkpoint, SEG_END) == 0)
                continue;
            seg_take(src, i, l, 1);
            break;
        }
    }
    size_t now_held = 0;
    for (int i = 0; i < total; i++)
        now_held += src->st.segments[i].leased != 0;
    dp_metric_set(src->m_held, (double)now_held);
    src->stats.leases_held = now_held;
    free(seg);
    dp_lease_list_free(all, n_all);
}

/* snapshot+stream, the preparing worker: list the stream (blocking, on the
 * lease client) and create each shard's lease at the position now. -1 on
 * failure (res says why; the round is retried). */
static int snap_record_positions(ddbpipe_source_t *src, dp_lease *meta, dp_ddb_result *res, size_t *n_open) {
    dp_shard_graph g;
    dp_shard_graph_init(&g);
    dp_buf iter;
    dp_buf_init(&iter, 0);
    char next[256] = "";
    int rc = -1;
    char err[256] = "";
    int64_t renewed = dp_now_ms();
    *n_open = 0;
    do { /* every page of the listing */
        dp_ddb_describe_stream_req dreq = {.stream_arn = src->st.stream_arn,
                                           .exclusive_start_shard_id = next};
        dp_ddb_stream_page page;
        memset(&page, 0, sizeof page);
        size_t added = 0;
        src->stats.describe_stream_calls++;
        ddbpipe_result_t prc = dp_ddb_describe_stream(src->lease_ddb, &dreq, &page, res);
        if (prc != DDBPIPE_OK) {
            dp_ddb_stream_page_free(&page);
            goto out;
        }
        prc = dp_shard_graph_merge(&g, page.shards, &added, err, sizeof err);
        const char *lek = page.last_evaluated_shard_id;
        snprintf(next, sizeof next, "%s", lek && strlen(lek) < sizeof next ? lek : "");
        dp_ddb_stream_page_free(&page);
        if (prc != DDBPIPE_OK) {
            fail_res(res, prc, err);
            goto out;
        }
    } while (next[0]);
    for (size_t i = 0; i < g.n && !stopping(src); i++) {
        dp_shard *s = g.v[i];
        dp_lease l;
        shard_lease_key(src, s->id, &l);
        snprintf(l.checkpoint, sizeof l.checkpoint, "%s", DP_LEASE_SHARD_END);
        if (s->parent_id) {
            snprintf(l.parents[0], sizeof l.parents[0], "%s", s->parent_id);
            l.n_parents = 1;
        }
        if (!s->end_seq) { /* open: the position is a LATEST iterator taken now */
            dp_ddb_shard_iterator_req ireq = {
                .stream_arn = src->st.stream_arn, .shard_id = s->id, .type = DP_DDB_ITER_LATEST};
            if (dp_ddb_get_shard_iterator(src->lease_ddb, &ireq, &iter, res) != DDBPIPE_OK)
                goto out;
            if (iter.len) { /* none: closed meanwhile, nothing after now */
                snprintf(l.checkpoint, sizeof l.checkpoint, "%s", SHARD_ITERATOR);
                l.pos = iter.data;
                (*n_open)++;
            }
        }
        int created = 0;
        if (dp_lease_create(src->lease_ddb, src->lease_table, src->app, &l, &created, res) != DDBPIPE_OK)
            goto out;
        if (dp_now_ms() - renewed >= src->lease_ms / 3) { /* a long listing: keep the PREP lease */
            int lost = 0;
            renewed = dp_now_ms();
            if (dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_RENEW, meta, src->worker, NULL, 0,
                                &lost, res) != DDBPIPE_OK)
                goto out;
        }
    }
    rc = stopping(src) ? -1 : 0;
out:
    dp_buf_free(&iter);
    dp_shard_graph_free(&g);
    return rc;
}

/* Graceful stop: checkpoint and free the held segments. */
static void seg_release_all(ddbpipe_source_t *src) {
    for (int i = 0; i < src->st.total_segments; i++) {
        dp_src_segment *sg = &src->st.segments[i];
        if (!sg->leased)
            continue;
        seg_renew(src, i);
        if (!sg->leased)
            continue;
        dp_lease l;
        seg_key(src, i, &l);
        l.counter = sg->lease_counter;
        int lost = 0;
        dp_ddb_result res;
        dp_ddb_result_init(&res);
        if (dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_RELEASE, &l, src->worker, NULL, 0,
                            &lost, &res) == DDBPIPE_OK)
            DP_LOG_INFO("source: released the lease of scan segment %d", i);
        dp_ddb_result_free(&res);
        sg->leased = 0;
    }
}

/* Start of a leased snapshot: wait for, or do, the preparation; then the
 * segments are known (phase SNAPSHOT). */
static void snap_prep_tick(ddbpipe_source_t *src) {
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    dp_lease *v = NULL;
    size_t n = 0;
    int64_t now = dp_now_ms();
    src->lease_next_expiry_ms = INT64_MAX;
    if (dp_lease_list(src->lease_ddb, src->lease_table, src->app, 0, &v, &n, &res) != DDBPIPE_OK) {
        DP_LOG_WARN("source: listing the lease table failed: %s: %s", res_code(&res), res.message);
        goto out;
    }
    dp_lease meta;
    const dp_lease *m = lease_find(v, n, SNAP_KEY);
    if (!m) {
        lease_key(src, SNAP_KEY, &meta);
        snprintf(meta.checkpoint, sizeof meta.checkpoint, "%s", SNAP_PREP);
        meta.segments = src->segments_wanted;
        int created = 0;
        if (dp_lease_create(src->lease_ddb, src->lease_table, src->app, &meta, &created, &res) != DDBPIPE_OK)
            DP_LOG_WARN("source: creating the snapshot lease failed: %s: %s", res_code(&res), res.message);
        src->lease_again = 1;
        goto out;
    }
    meta = *m;
    meta.pos = NULL;
    if (strcmp(meta.checkpoint, SNAP_READY) == 0) {
        int64_t total = meta.segments > 0 ? meta.segments : src->segments_wanted;
        if (src->segments_explicit && total != src->segments_wanted)
            DP_LOG_WARN("source: the lease table's snapshot has %lld segments (not %d): using its split",
                        (long long)total, src->segments_wanted);
        src->st.segments = calloc((size_t)total, sizeof *src->st.segments);
        if (!src->st.segments) {
            set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
            goto out;
        }
        src->st.total_segments = (int)total;
        src->phase = PH_SNAPSHOT;
        src->lease_again = 1;
        DP_LOG_INFO("source: snapshot of %s in %lld segments shared through the lease table", src->table,
                    (long long)total);
        goto out;
    }
    /* PREP: taken over when free or not renewed for lease_ms (this worker's clock). */
    if (!src->meta_obs_owner || src->meta_obs_counter != meta.counter ||
        strcmp(src->meta_obs_owner, meta.owner) != 0) {
        src->meta_obs_counter = meta.counter;
        src->meta_obs_ms = now;
        dp_strdup_to(&src->meta_obs_owner, meta.owner);
    }
    int mine = strcmp(meta.owner, src->worker) == 0;
    if (!mine && meta.owner[0] && now - src->meta_obs_ms < src->lease_ms) {
        src->lease_next_expiry_ms = src->meta_obs_ms + src->lease_ms;
        goto out;
    }
    int lost = 0;
    if (!mine && dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_TAKE, &meta, src->worker, NULL, 0,
                                 &lost, &res) != DDBPIPE_OK) {
        src->lease_again = 1;
        goto out;
    }
    if (meta.segments > 0 && meta.segments != src->segments_wanted)
        src->segments_wanted = (int)meta.segments;
    DP_LOG_INFO("source: worker %s prepares the snapshot (%d segments%s)", src->worker, src->segments_wanted,
                src->do_stream ? ", stream positions first" : "");
    for (int i = 0; i < src->segments_wanted && !stopping(src); i++) {
        dp_lease l;
        seg_key(src, i, &l);
        snprintf(l.checkpoint, sizeof l.checkpoint, "%s", SEG_START);
        int created = 0;
        if (dp_lease_create(src->lease_ddb, src->lease_table, src->app, &l, &created, &res) != DDBPIPE_OK) {
            DP_LOG_WARN("source: creating the lease of scan segment %d failed: %s: %s", i, res_code(&res),
                        res.message);
            goto out;
        }
    }
    size_t n_open = 0;
    if (src->do_stream && snap_record_positions(src, &meta, &res, &n_open) != 0) {
        DP_LOG_WARN("source: recording the stream positions failed: %s: %s", res_code(&res), res.message);
        goto out;
    }
    if (stopping(src))
        goto out;
    if (dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_CHECKPOINT, &meta, src->worker, SNAP_READY,
                        0, &lost, &res) != DDBPIPE_OK) {
        DP_LOG_WARN("source: marking the snapshot ready failed: %s: %s", res_code(&res), res.message);
        goto out;
    }
    dp_lease_update(src->lease_ddb, src->lease_table, DP_LEASE_RELEASE, &meta, src->worker, NULL, 0, &lost,
                    &res);
    if (src->do_stream)
        DP_LOG_INFO(
            "source: recorded the stream position of %zu open shard(s) in the lease table; the snapshot "
            "may start",
            n_open);
    src->lease_again = 1; /* next round: READY */
out:
    dp_lease_list_free(v, n);
    dp_ddb_result_free(&res);
}

/* ------------------------------------------------------------ discovery */

/* A request that could not be built (out of memory, a missing field)
 * stops the source. Returns 1 then. */
static int build_failed(ddbpipe_source_t *src, const char *op, ddbpipe_result_t rc) {
    if (rc == DDBPIPE_OK)
        return 0;
    set_fatal(src, rc, "%s: could not build the request: %s", op, ddbpipe_strerror(rc));
    return 1;
}

static void start_listing(ddbpipe_source_t *src, const char *exclusive_start) {
    if (!exclusive_start)
        src->st.shards.gen++; /* a new full listing */
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_ddb_describe_stream_req req = {
        .stream_arn = src->st.stream_arn, .limit = 100, .exclusive_start_shard_id = exclusive_start};
    if (build_failed(src, "DescribeStream", dp_ddb_build_describe_stream(&req, &b))) {
        dp_buf_free(&b);
        return;
    }
    src->stats.describe_stream_calls++;
    if (send_call(src, CALL_DISCOVER, NULL, 0, DP_DDB_API_STREAMS, "DescribeStream", &b) == 0)
        src->disc_pending = 1;
    dp_buf_free(&b);
}

static void start_child_listing(ddbpipe_source_t *src, dp_shard *s, const char *exclusive_start) {
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_ddb_describe_stream_req req = {.stream_arn = src->st.stream_arn,
                                      .exclusive_start_shard_id = exclusive_start,
                                      .child_shards_of = s->id};
    if (build_failed(src, "DescribeStream", dp_ddb_build_describe_stream(&req, &b))) {
        dp_buf_free(&b);
        return;
    }
    src->stats.describe_stream_calls++;
    src->stats.child_listings++;
    if (send_call(src, CALL_CHILDREN, s, 0, DP_DDB_API_STREAMS, "DescribeStream", &b) == 0) {
        src->child_pending++;
        s->child_pending = 1;
    }
    dp_buf_free(&b);
}

/* First listing of a start without a checkpoint: with --from latest (and
 * for snapshot+stream) closed shards hold only history and are skipped; open
 * shards start at LATEST. Shards found later start at TRIM_HORIZON. */
static void first_listing_positions(ddbpipe_source_t *src) {
    int latest = strcmp(src->from, "latest") == 0 || src->do_snapshot;
    if (!latest)
        return;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        dp_shard *s = src->st.shards.v[i];
        if (s->end_seq) {
            s->finished = 1;
            s->state = DP_SHARD_FINISHED;
            s->children_checked = 1;
        } else {
            s->start_latest = 1;
        }
    }
}

/* One DescribeStream page (parsed into *page, which the caller frees)
 * merged into the shard graph. -1 after set_fatal when it is unreadable. */
static int merge_listing_page(ddbpipe_source_t *src, dp_ddb_result *res, dp_ddb_stream_page *page) {
    char err[256] = "";
    size_t added = 0;
    ddbpipe_result_t rc = dp_ddb_parse_describe_stream(res->body.data, res->body.len, page, err, sizeof err);
    if (rc == DDBPIPE_OK)
        rc = dp_shard_graph_merge(&src->st.shards, page->shards, &added, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        set_fatal(src, rc, "%s", err);
        return -1;
    }
    if (added) {
        src->graph_changed = 1;
        src->dirty = 1;
    }
    return 0;
}

/* A disabled stream gets no new shards: its closed shards are leaves, not
 * an inconsistent listing. What happened is found out (DescribeTable) once
 * everything in it was read. */
static void note_stream_status(ddbpipe_source_t *src, const char *st) {
    if (!st || (strcmp(st, "DISABLED") != 0 && strcmp(st, "DISABLING") != 0) || src->stream_disabled)
        return;
    src->stream_disabled = 1;
    DP_LOG_WARN("source: stream %s is %s; reading what it holds to the end", src->st.stream_arn, st);
    for (size_t i = 0; i < src->st.shards.n; i++) {
        dp_shard *s = src->st.shards.v[i];
        if (s->end_seq || s->finished)
            s->children_checked = 1;
    }
}

static void on_listing(ddbpipe_source_t *src, dp_ddb_result *res) {
    src->disc_pending = 0;
    dp_ddb_stream_page page;
    memset(&page, 0, sizeof page);
    if (res->result != DDBPIPE_OK) {
        if (res->retryable && ++src->disc_failures < SRC_MAX_FAILURES) {
            DP_LOG_WARN("source: DescribeStream failed (%s: %s); retrying", res_code(res), res->message);
            src->stats.retries++;
            src->disc_due_ms = dp_now_ms() + backoff_ms(src->disc_failures);
            return;
        }
        set_fatal(src, res->result == DDBPIPE_OK ? DDBPIPE_ERR_SERVICE : res->result,
                  "DescribeStream %s failed: %s: %s", src->st.stream_arn, res_code(res), res->message);
        return;
    }
    src->disc_failures = 0;
    if (merge_listing_page(src, res, &page) != 0)
        goto out;
    if (!src->table[0] && page.table_name)
        snprintf(src->table, sizeof src->table, "%s", page.table_name);
    note_stream_status(src, page.stream_status);
    if (page.last_evaluated_shard_id) {
        start_listing(src, page.last_evaluated_shard_id);
        goto out;
    }
    /* Listing complete: a closed shard without children means the listing
     * may be stale; list again from that shard (bounded). */
    const dp_shard *leaf = src->stream_disabled ? NULL : dp_shard_graph_closed_leaf(&src->st.shards);
    if (leaf && src->disc_inconsistent < src->inconsistent_retries) {
        src->disc_inconsistent++;
        src->stats.inconsistent_listings++;
        DP_LOG_INFO("source: shard %s is closed but its children are not listed yet; listing again",
                    leaf->id);
        start_listing(src, leaf->id);
        goto out;
    }
    if (!src->disc_done_once && !src->checkpoint_loaded_positions) /* fresh start: apply --from */
        first_listing_positions(src);
    if (dp_shard_graph_prune(&src->st.shards))
        src->dirty = 1;
    src->disc_done_once = 1;
    src->listed_gen = src->st.shards.gen;
    src->disc_inconsistent = 0;
    src->disc_due_ms = dp_now_ms() + src->discovery_interval_ms;
    src->graph_changed = 1;
out:
    dp_ddb_stream_page_free(&page);
}

static void on_children(ddbpipe_source_t *src, dp_shard *s, dp_ddb_result *res) {
    src->child_pending--;
    s->child_pending = 0;
    dp_ddb_stream_page page;
    memset(&page, 0, sizeof page);
    if (res->result != DDBPIPE_OK) {
        if (res->retryable && ++s->failures < SRC_MAX_FAILURES) {
            src->stats.retries++;
            s->due_ms = dp_now_ms() + backoff_ms(s->failures);
            return;
        }
        /* ShardFilter is recent: an endpoint that rejects it gets a full
         * listing instead. */
        DP_LOG_INFO("source: CHILD_SHARDS listing of %s failed (%s); using a full listing", s->id,
                    res_code(res));
        s->children_checked = 1;
        s->failures = 0;
        src->disc_due_ms = dp_now_ms();
        return;
    }
    s->failures = 0;
    if (merge_listing_page(src, res, &page) != 0)
        goto out;
    note_stream_status(src, page.stream_status);
    if (page.last_evaluated_shard_id) {
        start_child_listing(src, s, page.last_evaluated_shard_id);
        goto out;
    }
    if (src->stream_disabled || dp_shard_graph_has_child(&src->st.shards, s->id) ||
        ++s->child_retries >= SRC_CHILD_RETRIES) {
        /* No children after retries: the stream may be disabled; the
         * periodic discovery still picks up late children. */
        s->children_checked = 1;
    } else {
        s->due_ms = dp_now_ms() + 200LL * s->child_retries;
    }
out:
    dp_ddb_stream_page_free(&page);
}

/* ------------------------------------------------------------ shards */

static void request_iterator(ddbpipe_source_t *src, dp_shard *s) {
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_ddb_shard_iterator_req req = {.stream_arn = src->st.stream_arn,
                                     .shard_id = s->id,
                                     .type = s->last_seq       ? DP_DDB_ITER_AFTER_SEQUENCE_NUMBER
                                             : s->start_latest ? DP_DDB_ITER_LATEST
                                                               : DP_DDB_ITER_TRIM_HORIZON,
                                     .sequence_number = s->last_seq};
    if (build_failed(src, "GetShardIterator", dp_ddb_build_get_shard_iterator(&req, &b))) {
        dp_buf_free(&b);
        return;
    }
    if (send_call(src, CALL_ITER, s, 0, DP_DDB_API_STREAMS, "GetShardIterator", &b) == 0)
        s->state = DP_SHARD_ITER_PENDING;
    dp_buf_free(&b);
}

static void request_records(ddbpipe_source_t *src, dp_shard *s) {
    dp_buf b;
    dp_buf_init(&b, 0);
    if (build_failed(src, "GetRecords", dp_ddb_build_get_records(s->iterator, SRC_GETRECORDS_LIMIT, &b))) {
        dp_buf_free(&b);
        return;
    }
    src->stats.get_records_calls++;
    dp_metric_inc(src->m_polls);
    if (send_call(src, CALL_RECORDS, s, 0, DP_DDB_API_STREAMS, "GetRecords", &b) == 0)
        s->state = DP_SHARD_GET_PENDING;
    dp_buf_free(&b);
}

/* TrimmedDataAccessException: records were deleted (24 h retention) before
 * they were read. That is data loss: say so loudly, count it, and stop
 * unless on_trimmed_data=continue. gone: the shard itself no longer exists
 * (ResourceNotFoundException: older than 24 h, e.g. named by an old
 * checkpoint); continuing then means it is done (its children, if any, are
 * listed and read), since there is no trim horizon left to start from. */
static void on_trimmed(ddbpipe_source_t *src, dp_shard *s, const char *msg, int gone) {
    src->stats.trimmed_losses++;
    dp_metric_inc(src->m_trimmed);
    DP_LOG_ERROR(
        "source: DATA LOSS on shard %s: records after sequence %s were trimmed from the stream before "
        "they were read (%s: %s)",
        s->id, s->last_seq ? s->last_seq : "(start)",
        gone ? "ResourceNotFoundException: the shard no longer exists" : "TrimmedDataAccessException", msg);
    if (!src->trimmed_continue) {
        set_fatal(src, DDBPIPE_ERR_DATA_LOSS,
                  "data loss: shard %s of %s %s past the last read position (sequence %s); set "
                  "on_trimmed_data: continue to go on from the trim horizon",
                  s->id, src->st.stream_arn, gone ? "no longer exists: it was trimmed" : "was trimmed",
                  s->last_seq ? s->last_seq : "(start)");
        return;
    }
    src->dirty = 1;
    if (gone) {
        DP_LOG_ERROR(
            "source: on_trimmed_data=continue: shard %s no longer exists; going on with its children", s->id);
        s->finished = 1;
        s->state = DP_SHARD_FINISHED;
        src->graph_changed = 1;
        return;
    }
    DP_LOG_ERROR("source: on_trimmed_data=continue: shard %s continues from TRIM_HORIZON", s->id);
    dp_strdup_to(&s->last_seq, NULL);
    s->start_latest = 0;
    s->state = DP_SHARD_NEED_ITER;
    s->due_ms = dp_now_ms();
}

static int is_code(const dp_ddb_result *res, dp_ddb_stream_error code) {
    return dp_ddb_stream_error_of(res) == code;
}

static void on_iterator(ddbpipe_source_t *src, dp_shard *s, dp_ddb_result *res) {
    char err[256] = "";
    dp_buf it;
    dp_buf_init(&it, 0);
    s->state = DP_SHARD_NEED_ITER;
    if (!lease_valid(src, s)) {
        s->state = s->leased ? DP_SHARD_NEED_ITER : DP_SHARD_WAITING;
        return;
    }
    if (res->result != DDBPIPE_OK) {
        /* on_trimmed twice: a gone shard is trimmed only once retries give up */
        // bugprone-branch-clone: the order of these branches matters, see above
        if (is_code(res, DP_DDB_STREAM_ERR_TRIMMED)) { // NOLINT(bugprone-branch-clone)
            on_trimmed(src, s, res->message, 0);
        } else if (res->retryable && ++s->failures < SRC_MAX_FAILURES) {
            src->stats.retries++;
            s->due_ms = dp_now_ms() + backoff_ms(s->failures);
        } else if (is_code(res, DP_DDB_STREAM_ERR_NOT_FOUND) && !s->finished) {
            /* The shard is gone (older than 24 h) with records we had not read. */
            on_trimmed(src, s, res->message, 1);
        } else {
            set_fatal(src, res->result, "GetShardIterator %s failed: %s: %s", s->id, res_code(res),
                      res->message);
        }
        return;
    }
    s->failures = 0;
    ddbpipe_result_t rc =
        dp_ddb_parse_get_shard_iterator(res->body.data, res->body.len, &it, err, sizeof err);
    if (rc == DDBPIPE_OK && !it.len) {
        /* No iterator: the shard has nothing left to read. */
        s->finished = 1;
        s->state = DP_SHARD_FINISHED;
        src->graph_changed = 1;
        src->dirty = 1;
        goto out;
    }
    if (rc != DDBPIPE_OK || dp_strdup_to(&s->iterator, it.data) != 0) {
        set_fatal(src, rc ? rc : DDBPIPE_ERR_NOMEM, "%s", err);
        goto out;
    }
    s->start_latest = 0; /* a renewal without a position falls back to TRIM_HORIZON */
    s->state = DP_SHARD_IDLE;
    s->due_ms = dp_now_ms();
out:
    dp_buf_free(&it);
}

static void records_page(ddbpipe_source_t *src, dp_shard *s, const char *body, size_t len);

/* A Scan call is in flight (snapshot+stream: GetRecords answers wait). */
static int scan_in_flight(const ddbpipe_source_t *src) {
    for (int i = 0; i < src->st.total_segments; i++)
        if (src->st.segments[i].pending)
            return 1;
    return 0;
}

/* Emit the held GetRecords answers whose Scan calls were all answered: no
 * Scan call in flight was sent before such an answer arrived. */
static void release_held(ddbpipe_source_t *src) {
    if (!src->stats.held_now || src->fatal != DDBPIPE_OK)
        return;
    uint64_t oldest = UINT64_MAX; /* the oldest Scan call in flight */
    for (int i = 0; i < src->st.total_segments; i++)
        if (src->st.segments[i].pending && src->st.segments[i].call_no < oldest)
            oldest = src->st.segments[i].call_no;
    for (size_t i = 0; i < src->st.shards.n && src->fatal == DDBPIPE_OK; i++) {
        dp_shard *s = src->st.shards.v[i];
        if (s->state != DP_SHARD_HELD || s->held_barrier >= oldest)
            continue;
        char *body = s->held;
        size_t len = s->held_len;
        s->held = NULL;
        s->held_len = 0;
        src->stats.held_now--;
        int64_t waited = dp_now_ms() - s->due_ms;
        if (waited > 0 && (uint64_t)waited > src->stats.held_ms_max)
            src->stats.held_ms_max = (uint64_t)waited;
        records_page(src, s, body, len);
        free(body);
    }
    dp_metric_set(src->m_scan_held, (double)src->stats.held_now);
}

static void on_records(ddbpipe_source_t *src, dp_shard *s, dp_ddb_result *res) {
    s->state = DP_SHARD_IDLE;
    if (!lease_valid(src, s)) {
        /* Fencing: the lease was lost or may have expired (this worker was
         * paused or cut off): records fetched now are not emitted. */
        src->stats.fenced_answers++;
        dp_strdup_to(&s->iterator, NULL);
        s->state = s->leased ? DP_SHARD_NEED_ITER : DP_SHARD_WAITING;
        s->due_ms = dp_now_ms() + src->poll_idle_ms;
        return;
    }
    if (res->result != DDBPIPE_OK) {
        if (is_code(res, DP_DDB_STREAM_ERR_EXPIRED_ITERATOR)) {
            src->stats.iterator_renewals++;
            dp_metric_inc(src->m_renewals);
            if (!s->last_seq) {
                src->stats.trim_horizon_fallbacks++;
                DP_LOG_WARN("source: iterator of shard %s expired before any record was read; renewing from "
                            "TRIM_HORIZON (older records may be repeated: harmless duplicates)",
                            s->id);
            } else {
                DP_LOG_INFO("source: iterator of shard %s expired; renewing after sequence %s", s->id,
                            s->last_seq);
            }
            s->state = DP_SHARD_NEED_ITER;
            s->due_ms = dp_now_ms();
        } else if (is_code(res, DP_DDB_STREAM_ERR_TRIMMED) && !s->last_seq &&
                   s->horizon_refreshes < SRC_MAX_HORIZON_REFRESHES) {
            /* Nothing read from this shard yet: the iterator was TRIM_HORIZON
             * (or LATEST) and the trim horizon passed it before its first read.
             * No recorded position is behind the horizon, so a fresh
             * TRIM_HORIZON iterator reads everything the shard still holds.
             * DynamoDB Local does this to an iterator taken on an empty shard
             * once another table's stream record takes the next sequence
             * number. On DynamoDB it is the 24 h trim racing the first read
             * (iterators live 15 min): records that expired in that moment,
             * which a TRIM_HORIZON iterator taken a moment later would have
             * skipped without any error either. A shard's start trimmed before
             * it was reached is never reported by TRIM_HORIZON, before or after
             * this change; data loss is detected against a recorded position. */
            s->horizon_refreshes++;
            src->stats.trim_horizon_fallbacks++;
            DP_LOG_WARN("source: shard %s: the trim horizon passed a fresh iterator before its first read "
                        "(TrimmedDataAccessException); reading from the current TRIM_HORIZON",
                        s->id);
            s->start_latest = 0;
            s->state = DP_SHARD_NEED_ITER;
            s->due_ms = dp_now_ms();
        } else if (is_code(res, DP_DDB_STREAM_ERR_TRIMMED)) {
            on_trimmed(src, s, res->message, 0);
        } else if (res->retryable && ++s->failures < SRC_MAX_FAILURES) {
            src->stats.retries++;
            s->due_ms = dp_now_ms() + backoff_ms(s->failures);
        } else {
            set_fatal(src, res->result, "GetRecords on shard %s failed: %s: %s", s->id, res_code(res),
                      res->message);
        }
        return;
    }
    s->failures = 0;
    if (scan_in_flight(src)) {
        /* Stream during the scan: a Scan call in flight may have read an item
         * before a write this page holds; emitting the page first would let
         * that older snapshot row come out after the newer change. Hold it
         * until those calls are answered (at most one page per shard). */
        s->held = malloc(res->body.len + 1);
        if (!s->held) {
            set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
            return;
        }
        memcpy(s->held, res->body.data, res->body.len);
        s->held[res->body.len] = '\0';
        s->held_len = res->body.len;
        s->held_barrier = src->scan_calls;
        s->due_ms = dp_now_ms(); /* when it was held */
        s->state = DP_SHARD_HELD;
        src->stats.held_pages++;
        src->stats.held_now++;
        dp_metric_set(src->m_scan_held, (double)src->stats.held_now);
        return;
    }
    records_page(src, s, res->body.data, res->body.len);
}

/* Emit one GetRecords answer's records and move the shard on. */
static void records_page(ddbpipe_source_t *src, dp_shard *s, const char *body, size_t len) {
    char err[256] = "";
    dp_ddb_records_page page;
    memset(&page, 0, sizeof page);
    s->state = DP_SHARD_IDLE;
    ddbpipe_result_t rc = dp_ddb_parse_get_records(body, len, &page, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        set_fatal(src, rc, "shard %s: %s", s->id, err);
        goto out;
    }
    const dp_json *recs = page.records;
    size_t n = recs ? recs->count : 0;
    int64_t last_time = 0;
    for (size_t i = 0; i < n; i++) {
        dp_event ev;
        rc = dp_src_parse_record(recs->items[i], s->id, &ev, err, sizeof err);
        if (rc != DDBPIPE_OK) {
            set_fatal(src, rc, "shard %s record %zu: %s", s->id, i, err);
            goto out;
        }
        /* A renewed iterator may overlap what was already delivered. */
        if (s->last_seq && dp_seq_cmp(ev.sequence, s->last_seq) <= 0)
            continue;
        if (emit_event(src, &ev) != 0)
            goto out;
        if (src->phase == PH_SNAPSHOT) {
            src->stats.stream_events_during_scan++;
            dp_metric_inc(src->m_scan_stream);
        }
        if (dp_strdup_to(&s->last_seq, ev.sequence) != 0) {
            set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
            goto out;
        }
        s->records++;
        src->dirty = 1;
        last_time = ev.approximate_time_s;
    }
    if (last_time) {
        int64_t now_s = dp_wall_s();
        s->ms_behind = now_s > last_time ? (now_s - last_time) * 1000 : 0;
    } else if (n == 0) {
        s->ms_behind = 0;
    }
    metrics_behind(src, s);
    const char *next = page.next_shard_iterator;
    if (!next) {
        /* Closed and read to the end: the children may start now. */
        s->finished = 1;
        s->state = DP_SHARD_FINISHED;
        s->at_tip = 1;
        dp_strdup_to(&s->iterator, NULL);
        s->due_ms = dp_now_ms();
        src->graph_changed = 1;
        src->dirty = 1;
        src->lease_due_ms = dp_now_ms(); /* lease mode: checkpoint SHARD_END soon, children wait for it */
        DP_LOG_INFO("source: shard %s read to its end (%llu records)", s->id, (unsigned long long)s->records);
        goto out;
    }
    if (dp_strdup_to(&s->iterator, next) != 0) {
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* DynamoDB Streams may answer empty in the middle of a shard (more
     * records further on): one empty answer is not the tip */
    s->at_tip = n == 0 ? s->at_tip + 1 : 0;
    if (n == 0)
        src->stats.empty_polls++;
    s->due_ms = dp_now_ms() + (n ? src->poll_busy_ms : src->poll_idle_ms);
out:
    dp_ddb_records_page_free(&page);
}

/* ------------------------------------------------------------ snapshot */

static void request_scan(ddbpipe_source_t *src, int i) {
    dp_src_segment *sg = &src->st.segments[i];
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_ddb_read_req req = {.table = src->table,
                           .segment = i,
                           .total_segments = src->st.total_segments,
                           .consistent_read = 1,
                           .exclusive_start_key = sg->last_key,
                           .limit = src->scan_limit,
                           .return_consumed_capacity = src->rcap != NULL};
    ddbpipe_result_t rc = dp_ddb_build_read(&req, &b);
    if (rc != DDBPIPE_OK) {
        set_fatal(src, rc, "Scan of %s segment %d: %s", src->table, i, ddbpipe_strerror(rc));
        dp_buf_free(&b);
        return;
    }
    if (send_call(src, CALL_SCAN, NULL, i, DP_DDB_API_DYNAMODB, "Scan", &b) == 0) {
        sg->pending = 1;
        sg->call_no = ++src->scan_calls;
        if (src->rcap) {
            /* the page's size is unknown until it arrives: estimate it as the
             * segment's last page (a first page: 4 KB, 1 unit consistent) */
            sg->charged_rcu = sg->est_rcu > 0 ? sg->est_rcu : dp_rcu_estimate(0, 1);
            dp_capacity_bucket_charge(src->rcap, sg->charged_rcu, (double)dp_now_ns() / 1e9);
        }
    }
    dp_buf_free(&b);
}

static void on_scan(ddbpipe_source_t *src, int i, dp_ddb_result *res) {
    dp_src_segment *sg = &src->st.segments[i];
    char err[256] = "";
    dp_ddb_read_page page;
    dp_ddb_read_page_init(&page);
    sg->pending = 0;
    if (!seg_valid(src, sg)) {
        /* Fencing: the segment's lease was lost or may have expired. */
        src->stats.fenced_answers++;
        sg->charged_rcu = 0;
        sg->due_ms = dp_now_ms();
        goto out;
    }
    if (res->result != DDBPIPE_OK) {
        if (src->rcap && res->throttled) /* a throttled call consumes nothing */
            dp_capacity_bucket_charge(src->rcap, -sg->charged_rcu, (double)dp_now_ns() / 1e9);
        sg->charged_rcu = 0;
        if (res->retryable && ++sg->failures < SRC_MAX_FAILURES) {
            src->stats.retries++;
            sg->due_ms = dp_now_ms() + backoff_ms(sg->failures);
        } else {
            set_fatal(src, res->result, "Scan of %s segment %d failed: %s: %s", src->table, i, res_code(res),
                      res->message);
        }
        goto out;
    }
    sg->failures = 0;
    char what[48];
    snprintf(what, sizeof what, "Scan segment %d", i);
    /* JSON lines: formatted in one pass over the page, no tree of it; the
     * general path below reads what that path gives back (errors included) */
    size_t fast_items = 0;
    int fast = 0;
    double used = 0;
    dp_buf_reset(&src->scan_lines);
    if (src->fmt == DP_EVENT_FMT_JSON && !src->emit_keyed && !src->scan_general_only) {
        dp_scan_lines_opts so = {.table = src->table, .partition_key = src->pk, .sort_key = src->sk};
        fast = dp_scan_lines_write(res->body.data, res->body.len, &so, &src->scan_lines, &src->scan_rest,
                                   &fast_items) == 1 &&
               dp_ddb_parse_read_page(what, src->scan_rest.data, src->scan_rest.len, &page, err,
                                      sizeof err) == DDBPIPE_OK &&
               !page.items && (!src->rcap || dp_consumed_capacity(page.root, &used));
        if (!fast)
            dp_buf_reset(&src->scan_lines);
    }
    ddbpipe_result_t rc =
        fast ? DDBPIPE_OK
             : dp_ddb_parse_read_page(what, res->body.data, res->body.len, &page, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        set_fatal(src, rc, "%s", err);
        goto out;
    }
    const dp_json *root = page.root;
    const dp_json *items = page.items;
    struct timespec now_ts;
    clock_gettime(CLOCK_REALTIME, &now_ts);
    int64_t read_ms = (int64_t)now_ts.tv_sec * 1000 + now_ts.tv_nsec / 1000000;
    if (src->rcap) {
        if (!fast && !dp_consumed_capacity(root, &used)) {
            /* no ConsumedCapacity (emulators): DynamoDB's rule on the page */
            size_t bytes = 0;
            for (size_t k = 0; items && k < items->count; k++)
                bytes += dp_item_size(items->items[k]);
            used = dp_rcu_estimate(bytes, 1);
        }
        dp_capacity_bucket_charge(src->rcap, used - sg->charged_rcu, (double)dp_now_ns() / 1e9);
        sg->charged_rcu = 0;
        sg->est_rcu = used;
    }
    if (fast) {
        if (emit_scan_lines(src, src->scan_lines.data, src->scan_lines.len) != 0)
            goto out;
        sg->items += fast_items;
    }
    for (size_t k = 0; items && k < items->count; k++) {
        const dp_json *item = items->items[k];
        dp_event ev;
        memset(&ev, 0, sizeof ev);
        ev.op = DP_EVENT_SNAPSHOT;
        ev.new_image = item;
        ev.read_time_ms = read_ms;
        ev.partition_key = src->pk;
        ev.sort_key = src->sk[0] ? src->sk : NULL;
        if (!dp_json_is(item, DP_JSON_OBJECT) || !dp_json_get(item, src->pk) ||
            (ev.sort_key && !dp_json_get(item, ev.sort_key))) {
            set_fatal(src, DDBPIPE_ERR_PARSE, "Scan segment %d item %zu lacks the key attribute(s) %s%s%s", i,
                      k, src->pk, src->sk[0] ? "," : "", src->sk);
            goto out;
        }
        if (emit_event(src, &ev) != 0)
            goto out;
        sg->items++;
    }
    sg->pages++;
    src->stats.scan_pages++;
    dp_metric_inc(src->m_pages);
    if (page.last_evaluated_key.len) {
        if (dp_strdup_to(&sg->last_key, page.last_evaluated_key.data) != 0) {
            set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
            goto out;
        }
        sg->due_ms = dp_now_ms();
    } else {
        sg->done = 1;
        src->lease_due_ms = 0; /* leased: list soon, the stream phase may start */
        DP_LOG_INFO("source: scan segment %d done (%llu items, %llu pages)", i, (unsigned long long)sg->items,
                    (unsigned long long)sg->pages);
    }
    src->dirty = 1;
    if (lease_mode(src))
        seg_renew(src, i); /* every page: a successor repeats at most the page in flight */
out:
    dp_ddb_read_page_free(&page);
}

static void on_done(void *opaque, dp_ddb_result *res) {
    src_call *c = opaque;
    ddbpipe_source_t *src = c->src;
    call_kind kind = c->kind;
    dp_shard *shard = c->shard;
    int segment = c->segment;
    call_free(c);
    if (!src->started) /* being destroyed */
        return;
    switch (kind) {
    case CALL_DISCOVER:
        on_listing(src, res);
        break;
    case CALL_CHILDREN:
        on_children(src, shard, res);
        break;
    case CALL_ITER:
        on_iterator(src, shard, res);
        break;
    case CALL_RECORDS:
        on_records(src, shard, res);
        break;
    case CALL_SCAN:
        on_scan(src, segment, res);
        break;
    }
}

/* ------------------------------------------------------------ scheduler */

static int snapshot_done(const ddbpipe_source_t *src) {
    for (int i = 0; i < src->st.total_segments; i++)
        if (!src->st.segments[i].done)
            return 0;
    return 1;
}

/* Everything readable is read to its tip, every closed shard's children are
 * known, and no listing is in flight. */
static int stream_caught_up(const ddbpipe_source_t *src) {
    if (!src->disc_done_once || src->disc_pending || src->child_pending)
        return 0;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        const dp_shard *s = src->st.shards.v[i];
        if (s->finished) {
            if (!s->children_checked && !dp_shard_graph_has_child(&src->st.shards, s->id)) {
                DP_LOG_DEBUG("not caught up: %s children", s->id);
                return 0;
            }
            continue;
        }
        /* A poll in flight after an empty answer still counts: its result is
         * drained (and emitted) before exit. */
        if ((s->state != DP_SHARD_IDLE && s->state != DP_SHARD_GET_PENDING) ||
            s->at_tip < SRC_TIP_EMPTY_ANSWERS) {
            DP_LOG_DEBUG("not caught up: %s state %d tip %d", s->id, s->state, s->at_tip);
            return 0;
        }
    }
    return 1;
}

/* Lease mode: every closed shard's children are known, no listing is in
 * flight, and the lease table shows every shard at its tip or end. */
static int leases_caught_up(const ddbpipe_source_t *src) {
    if (!src->disc_done_once || src->disc_pending || src->child_pending)
        return 0;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        const dp_shard *s = src->st.shards.v[i];
        if (s->finished && !s->children_checked && !dp_shard_graph_has_child(&src->st.shards, s->id))
            return 0;
    }
    return lease_caught_up(src);
}

/* PREP is over once every open shard holds its LATEST iterator. */
static int prep_done(const ddbpipe_source_t *src) {
    if (!src->disc_done_once || src->disc_pending)
        return 0;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        const dp_shard *s = src->st.shards.v[i];
        if (!s->finished && s->state != DP_SHARD_IDLE && dp_shard_readable(&src->st.shards, s))
            return 0;
    }
    return 1;
}

static int64_t schedule(ddbpipe_source_t *src) {
    int64_t now = dp_now_ms();
    int64_t next = now + SRC_LOOP_MAX_WAIT_MS;
#define WAKE(t)                                                                                              \
    do {                                                                                                     \
        if ((t) < next)                                                                                      \
            next = (t);                                                                                      \
    } while (0)
    /* (a leased snapshot records the stream positions in snap_prep_tick) */
    /* one process reads the stream during the scan too (see the top of the file) */
    int streaming =
        src->phase == PH_STREAM ||
        ((src->phase == PH_PREP || (src->phase == PH_SNAPSHOT && src->do_stream)) && !lease_mode(src));
    if (streaming && !src->disc_pending) {
        if (now >= src->disc_due_ms)
            start_listing(src, NULL);
        else
            WAKE(src->disc_due_ms);
    }
    if (streaming && src->graph_changed) {
        src->graph_changed = 0;
        for (size_t i = 0; i < src->st.shards.n; i++) {
            dp_shard *s = src->st.shards.v[i];
            if (s->state == DP_SHARD_WAITING && !s->finished && src->disc_done_once &&
                dp_shard_readable(&src->st.shards, s) && lease_valid(src, s)) {
                s->state = DP_SHARD_NEED_ITER;
                s->due_ms = now;
            } else if (s->finished && s->state != DP_SHARD_FINISHED) {
                s->state = DP_SHARD_FINISHED;
            }
        }
    }
    for (size_t i = 0; streaming && i < src->st.shards.n && !stopping(src); i++) {
        dp_shard *s = src->st.shards.v[i];
        int due = s->due_ms <= now;
        if ((s->state == DP_SHARD_NEED_ITER || s->state == DP_SHARD_IDLE) && !lease_valid(src, s))
            continue; /* lease mode: not held, or held but not renewed in time */
        switch (s->state) {
        case DP_SHARD_NEED_ITER:
            if (due)
                request_iterator(src, s);
            else
                WAKE(s->due_ms);
            break;
        case DP_SHARD_IDLE:
            if (src->phase == PH_PREP)
                break; /* hold the iterator until every open shard has its position */
            if (due)
                request_records(src, s);
            else
                WAKE(s->due_ms);
            break;
        case DP_SHARD_FINISHED:
            if (src->phase != PH_PREP && !s->children_checked &&
                !dp_shard_graph_has_child(&src->st.shards, s->id)) {
                if (due) {
                    s->due_ms = INT64_MAX; /* one listing at a time per shard */
                    start_child_listing(src, s, NULL);
                } else {
                    WAKE(s->due_ms);
                }
            } else if (!s->children_checked && dp_shard_graph_has_child(&src->st.shards, s->id)) {
                s->children_checked = 1;
            }
            break;
        default:
            break;
        }
    }
    if (src->phase == PH_SNAPSHOT) {
        for (int i = 0; i < src->st.total_segments && !stopping(src); i++) {
            dp_src_segment *sg = &src->st.segments[i];
            if (sg->done || sg->pending || !seg_valid(src, sg))
                continue;
            if (sg->due_ms > now) {
                WAKE(sg->due_ms);
                continue;
            }
            int64_t cap_wait = dp_capacity_bucket_wait_ms(src->rcap, (double)now / 1e3);
            if (cap_wait > 0) {
                /* the read cap holds every segment back until then */
                WAKE(now + cap_wait);
                break;
            }
            request_scan(src, i);
        }
    }
#undef WAKE
    return next;
}

#define SRC_RETENTION_WARN_MS (20LL * 3600 * 1000) /* the stream keeps records 24 h */

static void advance_phase(ddbpipe_source_t *src) {
    if (src->phase == PH_SNAPSHOT && src->do_stream && lease_mode(src) && !src->retention_warned &&
        dp_now_ms() - src->started_ms > SRC_RETENTION_WARN_MS) {
        /* leased snapshots hold the stream back until the last segment (see docs/semantics.md) */
        src->retention_warned = 1;
        DP_LOG_WARN("source: the leased snapshot of %s has run for 20 hours; stream records older than the "
                    "stream's 24-hour retention will be trimmed before the stream phase (exit 3 unless "
                    "on_trimmed_data: continue). A snapshot this long must run in one process (--checkpoint)",
                    src->table);
    }
    if (src->phase == PH_PREP && !lease_mode(src) && prep_done(src)) {
        DP_LOG_INFO("source: stream position recorded on %zu shard(s); starting the snapshot",
                    src->st.shards.n);
        src->phase = PH_SNAPSHOT;
        src->dirty = 1;
    }
    if (src->phase == PH_SNAPSHOT && (lease_mode(src) ? src->seg_all_done : snapshot_done(src))) {
        if (!src->st.snapshot_done) {
            src->st.snapshot_done = 1;
            src->dirty = 1;
            DP_LOG_INFO("source: snapshot of %s done (%llu rows)", src->table,
                        (unsigned long long)src->stats.events[DP_EVENT_SNAPSHOT]);
        }
        if (src->do_stream) {
            src->phase = PH_STREAM;
            src->st.stream_started = 1;
            if (lease_mode(src)) {
                /* positions are in the lease table; shards it lacks are newer: TRIM_HORIZON */
                src->checkpoint_loaded_positions = 1;
                src->lease_due_ms = 0;
            }
            src->graph_changed = 1;
            int64_t now = dp_now_ms();
            for (size_t i = 0; i < src->st.shards.n; i++)
                if (src->st.shards.v[i]->state == DP_SHARD_IDLE)
                    src->st.shards.v[i]->due_ms = now;
        } else {
            src->phase = PH_DONE;
        }
    }
    if (src->phase == PH_STREAM && src->until_caught_up &&
        (lease_mode(src) ? leases_caught_up(src) : stream_caught_up(src)))
        src->phase = PH_DONE;
}

/* The table's CreationDateTime (epoch seconds, as sent) from a DescribeTable
 * answer: a table deleted and re-created under the same name is another
 * table. "" when absent. (ddbpipe_table_info_t is frozen, see the ABI rule.) */
static void table_created_of(const dp_ddb_result *res, char *out, size_t n) {
    dp_ddb_parse_table_created(res->body.data, res->body.len, out, n);
}

/* ------------------------------------------------------------ vanished stream */

/* Every shard of the followed stream read to its end. */
static int stream_drained(const ddbpipe_source_t *src) {
    if (!src->disc_done_once || src->disc_pending || src->child_pending)
        return 0;
    for (size_t i = 0; i < src->st.shards.n; i++)
        if (!src->st.shards.v[i]->finished)
            return 0;
    return 1;
}

/* follow_new_stream: start over on the table's new stream, from its trim
 * horizon (no --from latest: what the new stream holds is newer than
 * anything the old one had). */
static void switch_stream(ddbpipe_source_t *src, const ddbpipe_table_info_t *info, const char *created) {
    DP_LOG_WARN(
        "source: the stream of table %s was replaced by %s; following it from its trim horizon. Changes "
        "made while no stream was enabled exist in no stream and are not in the output",
        src->table, info->stream_arn);
    dp_shard_graph_free(&src->st.shards);
    dp_shard_graph_init(&src->st.shards);
    if (dp_strdup_to(&src->st.stream_arn, info->stream_arn) != 0) {
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
        return;
    }
    snprintf(src->pk, sizeof src->pk, "%s", info->key.partition_key);
    snprintf(src->sk, sizeof src->sk, "%s", info->key.sort_key);
    if (created[0] && dp_strdup_to(&src->st.table_created, created) != 0) {
        set_fatal(src, DDBPIPE_ERR_NOMEM, "out of memory");
        return;
    }
    src->stream_disabled = 0;
    src->waiting_for_stream = 0;
    src->disc_done_once = 0;
    src->disc_inconsistent = 0;
    src->disc_failures = 0;
    src->checkpoint_loaded_positions = 1; /* unknown shards start at TRIM_HORIZON */
    src->disc_due_ms = dp_now_ms();
    src->graph_changed = 1;
    src->dirty = 1;
    src->stats.streams_replaced++;
}

/* The followed stream is DISABLED and read to its end: say what happened
 * (DescribeTable) and stop with exit 3, or follow the new stream. Called
 * with no call in flight (the describe is synchronous). */
static void stream_vanished(ddbpipe_source_t *src) {
    int64_t now = dp_now_ms();
    if (now < src->vanish_check_ms)
        return;
    int64_t iv = src->discovery_interval_ms < 5000 ? src->discovery_interval_ms : 5000;
    src->vanish_check_ms = now + iv;
    ddbpipe_table_info_t info;
    dp_ddb_result res;
    char msg[512] = "";
    memset(&info, 0, sizeof info);
    dp_ddb_result_init(&res);
    ddbpipe_result_t rc = dp_ddb_describe_table(src->ddb, src->table, &info, &res);
    if (rc == DDBPIPE_ERR_NOT_FOUND) {
        set_fatal(src, DDBPIPE_ERR_NOT_FOUND,
                  "table %s was deleted while its stream was followed; everything stream %s held was read",
                  src->table, src->st.stream_arn);
        goto out;
    }
    if (rc != DDBPIPE_OK) {
        dp_client_call_error(src->client, "DescribeTable", src->table, rc, &res, msg, sizeof msg);
        set_fatal(src, rc, "stream %s is disabled and %s", src->st.stream_arn, msg);
        goto out;
    }
    int enabled = info.stream_view_type[0] != '\0' && info.stream_arn[0] != '\0';
    if (enabled && strcmp(info.stream_arn, src->st.stream_arn) != 0) {
        if (src->follow_new_stream) {
            char created[48];
            table_created_of(&res, created, sizeof created);
            switch_stream(src, &info, created);
            goto out;
        }
        set_fatal(
            src, DDBPIPE_ERR_NOT_FOUND,
            "the stream of table %s was replaced (disabled and re-enabled, or the table re-created): %s is "
            "disabled, everything it held was read, and the table's stream is now %s. Changes made while no "
            "stream was enabled exist in no stream. --follow-new-stream (follow_new_stream: true) goes on "
            "with the new stream from its trim horizon",
            src->table, src->st.stream_arn, info.stream_arn);
        goto out;
    }
    if (src->follow_new_stream) {
        if (!src->waiting_for_stream)
            DP_LOG_WARN(
                "source: the stream of table %s was disabled and everything it held was read; waiting for "
                "a stream to be enabled (checking every %lld ms)",
                src->table, (long long)iv);
        src->waiting_for_stream = 1;
        goto out;
    }
    set_fatal(src, DDBPIPE_ERR_NOT_FOUND,
              "the stream of table %s was disabled: %s is disabled and everything it held was read. Enable a "
              "stream and run with --follow-new-stream (follow_new_stream: true) to go on with it",
              src->table, src->st.stream_arn);
out:
    dp_ddb_result_free(&res);
}

/* ------------------------------------------------------------ setup */

static int pick(const char *v, const char *dflt, const char *const *allowed, char *out, size_t out_size) {
    if (!v || !v[0])
        v = dflt;
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(v, allowed[i]) == 0) {
            snprintf(out, out_size, "%s", v);
            return 0;
        }
    return -1;
}

ddbpipe_result_t ddbpipe_source_new_sz(const ddbpipe_conf_t *conf, const ddbpipe_source_options_t *opts_in,
                                       size_t opts_size, ddbpipe_source_t **out, char *errstr,
                                       size_t errstr_size) {
    static const char *const modes[] = {"snapshot", "stream", "snapshot+stream", NULL};
    static const char *const froms[] = {"trim_horizon", "latest", NULL};
    dp_settings st;
    static const char *const formats[] = {"json", "dynamodb", "debezium", NULL};
    ddbpipe_result_t rc = DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_source_t *src = NULL;
    /* Fields unknown to an older caller's header stay zero (default). */
    ddbpipe_source_options_t opts_copy;
    const ddbpipe_source_options_t *opts = dp_abi_copy_in(&opts_copy, sizeof opts_copy, opts_in, opts_size);
    *out = NULL;
    if (!conf || !opts) {
        dp_errf(errstr, errstr_size, "source: conf and opts are required");
        goto fail;
    }
    src = calloc(1, sizeof *src);
    if (!src) {
        rc = DDBPIPE_ERR_NOMEM;
        goto fail;
    }
    dp_src_checkpoint_init(&src->st);
    dp_buf_init(&src->line, 0);
    dp_buf_init(&src->scan_lines, 0);
    dp_buf_init(&src->scan_rest, 0);
    src->scan_general_only = getenv("DDBPIPE_SOURCE_GENERAL_PATH") != NULL;
    dp_buf_init(&src->key, 0);
    if (pick(opts->mode, "stream", modes, src->mode, sizeof src->mode) != 0) {
        dp_errf(errstr, errstr_size, "source: mode '%s' is not snapshot, stream or snapshot+stream",
                opts->mode);
        goto fail;
    }
    dp_conf_settings(conf, &st);
    /* --from when given, else the stream_start_position property */
    if (pick(opts->from, dp_settings_enum_text(&st, &st.stream_start_position), froms, src->from,
             sizeof src->from) != 0) {
        dp_errf(errstr, errstr_size, "source: from '%s' is not trim_horizon or latest", opts->from);
        goto fail;
    }
    if (pick(opts->format, "json", formats, src->format, sizeof src->format) != 0 ||
        dp_event_format_parse(src->format, &src->fmt) != 0) {
        dp_errf(errstr, errstr_size, "source: format '%s' is not json, dynamodb or debezium", opts->format);
        goto fail;
    }
    src->do_snapshot = strcmp(src->mode, "stream") != 0;
    src->do_stream = strcmp(src->mode, "snapshot") != 0;
    int64_t segs = opts->segments > 0 ? opts->segments : st.segments;
    if (segs < 1 || segs > 1000000) {
        dp_errf(errstr, errstr_size, "source: segments %lld is outside 1..1000000", (long long)segs);
        goto fail;
    }
    src->segments_wanted = (int)segs;
    src->segments_explicit = opts->segments > 0 || dp_settings_is_set(&st, &st.segments);
    src->rcap_absolute = st.max_read_capacity_per_s;
    /* describe() makes the bucket from the table's figure */
    if ((rc = dp_capacity_fraction_parse(DP_CAPACITY_READ, st.read_capacity_fraction, &src->rcap_fraction,
                                         errstr, errstr_size)) != DDBPIPE_OK)
        goto fail;
    if (st.max_read_capacity_per_s > 0 && src->rcap_fraction == 0 &&
        !(src->rcap =
              dp_capacity_bucket_new((double)st.max_read_capacity_per_s, (double)dp_now_ns() / 1e9))) {
        rc = DDBPIPE_ERR_NOMEM;
        goto fail;
    }
    src->until_caught_up = opts->until_caught_up;
    src->emit = opts->emit;
    src->flush = opts->flush;
    src->emit_keyed = opts->emit_keyed;
    src->opaque = opts->opaque;
    src->checkpoint_interval_ms =
        opts->checkpoint_interval_ms > 0 ? opts->checkpoint_interval_ms : SRC_CHECKPOINT_INTERVAL_MS;
    if (opts->checkpoint_path && opts->checkpoint_path[0] &&
        !(src->checkpoint_path = strdup(opts->checkpoint_path))) {
        rc = DDBPIPE_ERR_NOMEM;
        goto fail;
    }
    src->discovery_interval_ms = st.discovery_interval_ms;
    if (st.lease_table && st.lease_table[0]) {
        rc = DDBPIPE_ERR_CONFIG;
        if (src->checkpoint_path) {
            dp_errf(errstr, errstr_size,
                    "config: lease_table keeps the checkpoints; --checkpoint is for one "
                    "worker without a lease table: give one of the two");
            goto fail;
        }
        if (!st.application_name || !st.application_name[0] || strlen(st.application_name) > 200 ||
            strchr(st.application_name, '/')) {
            dp_errf(errstr, errstr_size,
                    "config: application_name (1..200 characters, no '/') is required with a "
                    "lease table");
            goto fail;
        }
        if (st.worker_id && (!st.worker_id[0] || strlen(st.worker_id) > 200)) {
            dp_errf(errstr, errstr_size, "config: worker_id must be 1..200 characters");
            goto fail;
        }
        snprintf(src->lease_table, sizeof src->lease_table, "%s", st.lease_table);
        snprintf(src->app, sizeof src->app, "%s", st.application_name);
        if (st.worker_id) {
            snprintf(src->worker, sizeof src->worker, "%s", st.worker_id);
        } else {
            char host[128] = "";
            if (gethostname(host, sizeof host - 1) != 0 || !host[0])
                snprintf(host, sizeof host, "localhost");
            snprintf(src->worker, sizeof src->worker, "%s:%ld", host, (long)getpid());
        }
        src->lease_ms = st.lease_duration_ms > 0 ? st.lease_duration_ms : 10000;
        src->max_leases = st.max_leases_per_worker;
    }
    src->poll_idle_ms = st.poll_idle_ms;
    src->scan_limit = st.scan_page_items;
    src->inconsistent_retries = (int)st.inconsistent_listing_retries;
    src->poll_busy_ms = st.poll_busy_ms;
    src->trimmed_continue = st.on_trimmed_data == DP_ON_TRIMMED_CONTINUE;
    src->follow_new_stream = st.follow_new_stream || opts->follow_new_stream;
    const char *table = st.table;
    const char *arn = st.stream_arn;
    if (table)
        snprintf(src->table, sizeof src->table, "%s", table);
    if ((!table || !table[0]) && (src->do_snapshot || !arn || !arn[0])) {
        dp_errf(errstr, errstr_size, "config: table is required (or stream_arn for --mode stream)");
        rc = DDBPIPE_ERR_CONFIG;
        goto fail;
    }
    src->conf = ddbpipe_conf_dup(conf);
    if (!src->conf) {
        rc = DDBPIPE_ERR_NOMEM;
        goto fail;
    }
    src->metrics = dp_metrics_new();
    if (!src->metrics) {
        rc = DDBPIPE_ERR_NOMEM;
        goto fail;
    }
    metrics_setup(src);
    const char *maddr = st.metrics_address;
    if (maddr && maddr[0] &&
        !(src->msrv = dp_metrics_server_start(src->metrics, maddr, errstr, errstr_size))) {
        rc = DDBPIPE_ERR_CONFIG;
        goto fail;
    }
    /* Calls in flight: one per Scan segment, or one per open shard (at most
     * max_concurrent_requests connections then, as in the sink). */
    int in_flight = (int)(st.max_concurrent_requests > segs ? st.max_concurrent_requests : segs);
    rc = dp_client_new(conf, 0, in_flight, &src->client, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        goto fail;
    src->ddb = dp_client_ddb(src->client);
    if (src->lease_table[0]) {
        rc = dp_client_new(conf, 0, 1, &src->lease_client, errstr, errstr_size);
        if (rc != DDBPIPE_OK)
            goto fail;
        src->lease_ddb = dp_client_ddb(src->lease_client);
    }
    *out = src;
    return DDBPIPE_OK;
fail:
    ddbpipe_source_destroy(src);
    return rc;
}

void ddbpipe_source_stop(ddbpipe_source_t *source) {
    if (source)
        source->stop_requested = 1;
}

void ddbpipe_source_destroy(ddbpipe_source_t *src) {
    if (!src)
        return;
    src->started = 0;                             /* callbacks fired during teardown do nothing */
    dp_capacity_reread_destroy(src->rcap_reread); /* before its client */
    ddbpipe_client_destroy(src->rcap_client);
    ddbpipe_client_destroy(src->client);
    ddbpipe_client_destroy(src->lease_client);
    DP_LIST_FOREACH_SAFE(&src->calls, node, next) {
        call_free(DP_LIST_ENTRY(node, src_call, link));
    }
    ddbpipe_conf_destroy(src->conf);
    dp_capacity_bucket_destroy(src->rcap);
    dp_src_checkpoint_free(&src->st);
    dp_lease_list_free(src->leases, src->n_leases);
    free(src->meta_obs_owner);
    trim_cands_free(src->trim_cands, src->n_trim_cands);
    dp_buf_free(&src->line);
    dp_buf_free(&src->scan_lines);
    dp_buf_free(&src->scan_rest);
    dp_buf_free(&src->key);
    free(src->checkpoint_path);
    dp_metrics_server_stop(src->msrv);
    dp_metrics_destroy(src->metrics);
    free(src);
}

/* Table key schema and stream ARN (blocking: once, before the loop). */
/* read_capacity_fraction of the table's figure: how the snapshot's cap and
 * its re-read name it. */
static dp_capacity_fraction read_fraction(const ddbpipe_source_t *src) {
    return (dp_capacity_fraction){DP_CAPACITY_READ, src->rcap_fraction, src->rcap_absolute,
                                  src->table,       "source",           "snapshot cap"};
}

/* The re-read of read_capacity_fraction, while a snapshot remains to scan. */
static ddbpipe_result_t rcap_reread_start(ddbpipe_source_t *src, char *errstr, size_t errstr_size) {
    if (!(src->do_snapshot && src->rcap_fraction > 0 && src->rcap) || src->st.snapshot_done)
        return DDBPIPE_OK;
    ddbpipe_result_t rc = dp_client_new(src->conf, 3, 1, &src->rcap_client, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        return rc;
    dp_capacity_reread_options o = {read_fraction(src), dp_client_ddb(src->rcap_client), src->rcap, 0};
    if (!(src->rcap_reread = dp_capacity_reread_new(&o, errstr, errstr_size)))
        return DDBPIPE_ERR_NOMEM;
    return DDBPIPE_OK;
}

static ddbpipe_result_t describe(ddbpipe_source_t *src, char *errstr, size_t errstr_size) {
    dp_settings st;
    dp_conf_settings(src->conf, &st);
    const char *arn = st.stream_arn;
    if (!src->do_snapshot && arn && arn[0]) {
        if (dp_strdup_to(&src->st.stream_arn, arn) != 0)
            return DDBPIPE_ERR_NOMEM;
        if (!src->table[0])
            return DDBPIPE_OK; /* the table name comes with DescribeStream */
    }
    ddbpipe_table_info_t info;
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    memset(&info, 0, sizeof info);
    ddbpipe_result_t rc = dp_ddb_describe_table(src->ddb, src->table, &info, &res);
    if (rc != DDBPIPE_OK) {
        rc = dp_client_call_error(src->client, "DescribeTable", src->table, rc, &res, errstr, errstr_size);
        dp_ddb_result_free(&res);
        return rc;
    }
    if (src->do_snapshot && src->rcap_fraction > 0) {
        dp_capacity_fraction f = read_fraction(src);
        rc = dp_capacity_fraction_apply(&f, res.body.data, res.body.len, &src->rcap, errstr, errstr_size);
        if (rc != DDBPIPE_OK) {
            dp_ddb_result_free(&res);
            return rc;
        }
    }
    char created[48];
    table_created_of(&res, created, sizeof created);
    dp_ddb_result_free(&res);
    if (created[0] && dp_strdup_to(&src->st.table_created, created) != 0)
        return DDBPIPE_ERR_NOMEM;
    snprintf(src->pk, sizeof src->pk, "%s", info.key.partition_key);
    snprintf(src->sk, sizeof src->sk, "%s", info.key.sort_key);
    if (src->do_stream && !src->st.stream_arn) {
        const char *use = arn && arn[0] ? arn : info.stream_arn;
        if (!(arn && arn[0]) && use[0] && !info.stream_view_type[0]) {
            dp_errf(errstr, errstr_size,
                    "table %s has no enabled stream (its last stream %s is disabled): enable one, or give "
                    "stream_arn to read what the disabled stream still holds",
                    src->table, use);
            return DDBPIPE_ERR_NOT_FOUND;
        }
        /* Debezium rows live in before/after: without new images an insert
         * or update would carry no row and no key, and could not be applied */
        const char *vt = info.stream_view_type;
        int no_new = !strcmp(vt, "KEYS_ONLY") || !strcmp(vt, "OLD_IMAGE");
        if (no_new && !(arn && arn[0]) && src->fmt == DP_EVENT_FMT_DEBEZIUM) {
            dp_errf(errstr, errstr_size,
                    "--format debezium needs new images, but the stream of table %s is %s: its inserts and "
                    "updates would have no 'after' row (and no key) to apply. Use --format json or dynamodb "
                    "(every event carries 'keys'), or a NEW_IMAGE / NEW_AND_OLD_IMAGES stream",
                    src->table, vt);
            return DDBPIPE_ERR_CONFIG;
        }
        if (no_new && !(arn && arn[0]))
            DP_LOG_WARN(
                "source: the stream of table %s is %s: insert and modify events carry 'keys' but no new "
                "image, so `ddbpipe sink` cannot apply them (it dead-letters them, naming the view type)",
                src->table, vt);
        if (!use[0]) {
            dp_errf(errstr, errstr_size,
                    "table %s has no stream: enable one (StreamSpecification, e.g. NEW_AND_OLD_IMAGES) or "
                    "use --mode snapshot",
                    src->table);
            return DDBPIPE_ERR_NOT_FOUND;
        }
        if (dp_strdup_to(&src->st.stream_arn, use) != 0)
            return DDBPIPE_ERR_NOMEM;
    }
    return DDBPIPE_OK;
}

/* Resume from the checkpoint file if there is one. */
static ddbpipe_result_t load_checkpoint(ddbpipe_source_t *src, char *errstr, size_t errstr_size) {
    size_t len = 0;
    char *text = dp_read_file(src->checkpoint_path, (size_t)256 * 1024 * 1024, &len);
    if (!text)
        return DDBPIPE_OK; /* first run */
    dp_src_checkpoint cp;
    dp_src_checkpoint_init(&cp);
    char err[256] = "";
    ddbpipe_result_t rc = dp_src_checkpoint_parse(text, len, &cp, err, sizeof err);
    free(text);
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "%s: %s", src->checkpoint_path, err);
        goto out;
    }
    rc = DDBPIPE_ERR_CONFIG;
    if (cp.table_created && src->st.table_created && strcmp(cp.table_created, src->st.table_created) != 0) {
        dp_errf(
            errstr, errstr_size,
            "checkpoint %s was taken from table %s created at %s, but table %s now was created at %s "
            "(deleted "
            "and re-created): its scan and stream positions mean nothing there; --checkpoint-reset starts "
            "over",
            src->checkpoint_path, cp.table ? cp.table : "?", cp.table_created, src->table,
            src->st.table_created);
        goto out;
    }
    if (!cp.snapshot_done && cp.total_segments > 0 && src->segments_explicit &&
        cp.total_segments != src->segments_wanted) {
        dp_errf(
            errstr, errstr_size,
            "checkpoint %s holds an unfinished snapshot in %d segments, but --segments %d was asked for: the "
            "segments' positions only mean something in the same split; drop --segments to resume, or "
            "--checkpoint-reset to start over",
            src->checkpoint_path, cp.total_segments, src->segments_wanted);
        goto out;
    }
    if (cp.table && src->table[0] && strcmp(cp.table, src->table) != 0) {
        dp_errf(errstr, errstr_size, "checkpoint %s belongs to table %s, not %s: remove it to start over",
                src->checkpoint_path, cp.table, src->table);
        goto out;
    }
    if (cp.mode && strcmp(cp.mode, src->mode) != 0) {
        dp_errf(errstr, errstr_size,
                "checkpoint %s was written by --mode %s, not %s: remove it to start over",
                src->checkpoint_path, cp.mode, src->mode);
        goto out;
    }
    if (src->do_stream && cp.stream_arn && src->st.stream_arn &&
        strcmp(cp.stream_arn, src->st.stream_arn) != 0 && src->follow_new_stream) {
        /* positions of the old stream mean nothing on the new one */
        DP_LOG_WARN(
            "source: checkpoint %s is for stream %s but the table's stream is now %s; following the new "
            "stream from its trim horizon (follow_new_stream). Changes made while no stream was enabled "
            "exist in no stream",
            src->checkpoint_path, cp.stream_arn, src->st.stream_arn);
        dp_shard_graph_free(&cp.shards);
        dp_shard_graph_init(&cp.shards);
    } else if (src->do_stream && cp.stream_arn && src->st.stream_arn &&
               strcmp(cp.stream_arn, src->st.stream_arn) != 0) {
        dp_errf(
            errstr, errstr_size,
            "checkpoint %s is for stream %s but the table's stream is now %s (stream re-enabled or table "
            "re-created): changes between the two are lost; --follow-new-stream goes on with the new stream "
            "from its trim horizon, --checkpoint-reset starts over",
            src->checkpoint_path, cp.stream_arn, src->st.stream_arn);
        goto out;
    }
    /* Adopt its state. */
    src->st.snapshot_done = cp.snapshot_done;
    src->st.stream_started = cp.stream_started;
    if (cp.total_segments > 0) {
        src->st.total_segments = cp.total_segments;
        src->st.segments = cp.segments;
        cp.segments = NULL;
        cp.total_segments = 0;
        if (src->st.total_segments != src->segments_wanted && !src->st.snapshot_done)
            DP_LOG_WARN("source: resuming the snapshot with the checkpoint's %d segments (not %d)",
                        src->st.total_segments, src->segments_wanted);
    }
    dp_shard_graph_free(&src->st.shards);
    src->st.shards = cp.shards;
    dp_shard_graph_init(&cp.shards);
    for (size_t i = 0; i < src->st.shards.n; i++) {
        dp_shard *s = src->st.shards.v[i];
        s->state = s->finished ? DP_SHARD_FINISHED : DP_SHARD_WAITING;
    }
    src->checkpoint_loaded_positions = 1;
    DP_LOG_INFO("source: resuming from checkpoint %s (%zu shard positions, snapshot %s)",
                src->checkpoint_path, src->st.shards.n, src->st.snapshot_done ? "done" : "in progress");
    rc = DDBPIPE_OK;
out:
    dp_src_checkpoint_free(&cp);
    return rc;
}

static void sleep_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

ddbpipe_result_t ddbpipe_source_run(ddbpipe_source_t *src, char *errstr, size_t errstr_size) {
    if (!src)
        return DDBPIPE_ERR_INVALID_ARG;
    if (src->started) {
        dp_errf(errstr, errstr_size, "source: run may be called once");
        return DDBPIPE_ERR_INVALID_ARG;
    }
    src->started = 1;
    src->started_ms = dp_now_ms();
    dp_metrics_server_set_ready(src->msrv, 0, "starting: resolving credentials, reaching the table");
    ddbpipe_result_t rc = describe(src, errstr, errstr_size);
    if (rc != DDBPIPE_OK) {
        dp_metrics_server_set_ready(src->msrv, 0, "fatal: the table or stream could not be described");
        return rc;
    }
    if (lease_mode(src)) {
        dp_ddb_result res;
        dp_ddb_result_init(&res);
        rc = dp_lease_table_ensure(src->lease_ddb, src->lease_table, 60000, &res);
        if (rc != DDBPIPE_OK) {
            rc = dp_client_call_error(src->client, "lease table", src->lease_table, rc, &res, errstr,
                                      errstr_size);
            dp_ddb_result_free(&res);
            dp_metrics_server_set_ready(src->msrv, 0,
                                        "fatal: the lease table could not be reached or created");
            return rc;
        }
        dp_ddb_result_free(&res);
        DP_LOG_INFO(
            "source: worker %s of application %s shares the stream through lease table %s (lease %lld ms)",
            src->worker, src->app, src->lease_table, (long long)src->lease_ms);
    }
    /* Credentials resolved and the table (or stream) answered. */
    dp_metrics_server_set_ready(src->msrv, 1, NULL);
    if (src->checkpoint_path && (rc = load_checkpoint(src, errstr, errstr_size)) != DDBPIPE_OK)
        return rc;
    if (dp_strdup_to(&src->st.table, src->table[0] ? src->table : NULL) != 0 ||
        dp_strdup_to(&src->st.mode, src->mode) != 0)
        return DDBPIPE_ERR_NOMEM;
    if ((rc = rcap_reread_start(src, errstr, errstr_size)) != DDBPIPE_OK)
        return rc;
    if (src->do_snapshot && src->st.total_segments == 0 && !src->st.snapshot_done && !lease_mode(src)) {
        src->st.segments = calloc((size_t)src->segments_wanted, sizeof *src->st.segments);
        if (!src->st.segments)
            return DDBPIPE_ERR_NOMEM;
        src->st.total_segments = src->segments_wanted;
    }
    if (!src->do_snapshot || src->st.snapshot_done)
        src->phase = src->do_stream ? PH_STREAM : PH_DONE;
    else if ((src->do_stream && !src->checkpoint_loaded_positions) || lease_mode(src))
        src->phase = PH_PREP; /* leased: the segments come from the lease table */
    else
        src->phase = PH_SNAPSHOT;
    if (src->phase == PH_STREAM)
        src->st.stream_started = 1;
    src->disc_due_ms = dp_now_ms();
    src->dirty = 1;

    while (!stopping(src) && src->phase != PH_DONE) {
        int64_t wake = schedule(src);
        if (stopping(src))
            break;
        int64_t wait = wake - dp_now_ms();
        if (wait < 0)
            wait = 0;
        if (wait > SRC_LOOP_MAX_WAIT_MS)
            wait = SRC_LOOP_MAX_WAIT_MS;
        if (dp_ddb_pending(src->ddb) > 0)
            dp_ddb_run(src->ddb, (int)wait);
        else
            sleep_ms(wait);
        release_held(src);
        if (flush_output(src) != 0)
            break;
        if (lease_mode(src) && (src->disc_done_once || src->phase != PH_STREAM) &&
            dp_now_ms() >= src->lease_due_ms) {
            if (src->phase == PH_PREP)
                snap_prep_tick(src);
            else if (src->phase == PH_SNAPSHOT)
                snap_tick(src);
            else
                lease_tick(src);
            src->lease_due_ms = dp_now_ms() + src->lease_ms / 3;
            if (src->lease_next_expiry_ms > dp_now_ms() && src->lease_next_expiry_ms < src->lease_due_ms)
                src->lease_due_ms = src->lease_next_expiry_ms;
            if (src->lease_again)
                src->lease_due_ms = dp_now_ms() + 20;
            src->lease_again = 0;
        }
        advance_phase(src);
        if (src->phase == PH_STREAM && src->stream_disabled && stream_drained(src) &&
            dp_ddb_pending(src->ddb) == 0) {
            flush_output(src); /* what the old stream held is out before we say it ended */
            stream_vanished(src);
        }
        metrics_shards(src);
        if (src->dirty && dp_now_ms() - src->last_checkpoint_ms >= src->checkpoint_interval_ms)
            write_checkpoint(src);
    }
    /* Finish what is in flight (records already read are emitted, never
     * dropped), then make output and checkpoint durable. */
    if (src->fatal == DDBPIPE_OK) {
        int64_t deadline = dp_now_ms() + SRC_DRAIN_MS;
        while (dp_ddb_pending(src->ddb) > 0 && dp_now_ms() < deadline && src->fatal == DDBPIPE_OK) {
            dp_ddb_run(src->ddb, 50);
            release_held(src);
        }
        release_held(src); /* still held: a Scan call never answered; read again after the checkpoint */
    }
    ddbpipe_result_t fatal = src->fatal;
    if (fatal != DDBPIPE_ERR_IO) {
        src->dirty = 1;
        flush_output(src);
        write_checkpoint(src);
        if (lease_mode(src) && src->fatal == DDBPIPE_OK) {
            lease_release_all(src);
            seg_release_all(src);
        }
    }
    if (src->fatal != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "%s", src->fatal_msg);
        return src->fatal;
    }
    return DDBPIPE_OK;
}

/* ------------------------------------------------------------ stats */

char *ddbpipe_source_stats_json(const ddbpipe_source_t *src) {
    if (!src)
        return NULL;
    dp_buf b;
    dp_buf_init(&b, 0);
    const src_stats *st = &src->stats;
    size_t open = 0, closed = 0;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        if (src->st.shards.v[i]->finished)
            closed++;
        else
            open++;
    }
    int segs_done = 0;
    for (int i = 0; i < src->st.total_segments; i++)
        segs_done += src->st.segments[i].done;
    static const char *const phases[] = {"prep", "snapshot", "stream", "done"};
    dp_buf_printf(
        &b,
        "{\"mode\":\"%s\",\"phase\":\"%s\",\"events\":{\"snapshot\":%llu,\"insert\":%llu,\"modify\":%llu,"
        "\"remove\":%llu},\"snapshot\":{\"segments\":%d,\"segments_done\":%d,\"pages\":%llu},"
        "\"stream\":{\"shards_open\":%zu,\"shards_closed\":%zu,\"get_records_calls\":%llu,"
        "\"empty_polls\":%llu,\"iterator_renewals\":%llu,\"trim_horizon_fallbacks\":%llu,"
        "\"trimmed_data_losses\":%llu,\"describe_stream_calls\":%llu,\"inconsistent_listings\":%llu,"
        "\"child_listings\":%llu,\"held_pages\":%llu,\"held_now\":%llu,\"held_ms_max\":%llu,"
        "\"events_during_scan\":%llu,\"shards\":[",
        src->mode, phases[src->phase], (unsigned long long)st->events[0], (unsigned long long)st->events[1],
        (unsigned long long)st->events[2], (unsigned long long)st->events[3], src->st.total_segments,
        segs_done, (unsigned long long)st->scan_pages, open, closed,
        (unsigned long long)st->get_records_calls, (unsigned long long)st->empty_polls,
        (unsigned long long)st->iterator_renewals, (unsigned long long)st->trim_horizon_fallbacks,
        (unsigned long long)st->trimmed_losses, (unsigned long long)st->describe_stream_calls,
        (unsigned long long)st->inconsistent_listings, (unsigned long long)st->child_listings,
        (unsigned long long)st->held_pages, (unsigned long long)st->held_now,
        (unsigned long long)st->held_ms_max, (unsigned long long)st->stream_events_during_scan);
    int first = 1;
    for (size_t i = 0; i < src->st.shards.n; i++) {
        const dp_shard *s = src->st.shards.v[i];
        if (s->finished && !s->records)
            continue;
        dp_buf_puts(&b, first ? "{\"id\":" : ",{\"id\":");
        first = 0;
        dp_json_write_cstr(&b, s->id);
        dp_buf_printf(&b, ",\"records\":%llu,\"ms_behind\":%lld,\"closed\":%s}",
                      (unsigned long long)s->records, (long long)s->ms_behind,
                      s->finished ? "true" : "false");
    }
    dp_buf_printf(&b, "],\"streams_replaced\":%llu}", (unsigned long long)st->streams_replaced);
    if (lease_mode(src)) {
        dp_buf_puts(&b, ",\"leases\":{\"worker_id\":");
        dp_json_write_cstr(&b, src->worker);
        dp_buf_printf(&b,
                      ",\"held\":%llu,\"taken\":%llu,\"stolen\":%llu,\"lost\":%llu,\"renewals\":%llu,"
                      "\"renewal_ms_max\":%llu,\"fenced_answers\":%llu,\"deleted\":%llu}",
                      (unsigned long long)st->leases_held, (unsigned long long)st->leases_taken,
                      (unsigned long long)st->leases_stolen, (unsigned long long)st->leases_lost,
                      (unsigned long long)st->lease_renewals, (unsigned long long)st->lease_renewal_ms_max,
                      (unsigned long long)st->fenced_answers, (unsigned long long)st->leases_deleted);
    }
    dp_buf_printf(&b, ",\"retries\":%llu,\"checkpoints_written\":%llu,\"elapsed_ms\":%lld}",
                  (unsigned long long)st->retries, (unsigned long long)st->checkpoints_written,
                  (long long)(src->started_ms ? dp_now_ms() - src->started_ms : 0));
    return dp_buf_steal(&b);
}
