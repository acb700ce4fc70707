/* Sink metrics on the shared registry (metrics/metrics.h): the sink's
 * counters are mirrored into Prometheus counters (deltas pushed from the
 * caller's thread at most every 250 ms and at flush), the write-call
 * latency is observed directly. Names: ddbpipe_sink_* plus Feldera's
 * dynamodb_output_* aliases where Feldera has the metric. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "metrics/metrics.h"
#include "sink/sink_internal.h"

enum {
    M_IN,
    M_WRITTEN,
    M_DELETED,
    M_RETRIES,
    M_THROTTLED,
    M_FAILED,
    M_OVERSIZED,
    M_CHUNKS,
    M_FOLDED,
    M_COND,
    M_DEAD,
    M_TOMBSTONES,
    M__N
};

static const struct {
    const char *name, *alias, *help;
} k_counters[M__N] = {
    {"ddbpipe_sink_records_in_total", NULL, "Input records read."},
    {"ddbpipe_sink_records_written_total", "dynamodb_output_records_written_total",
     "Items written (puts and deletes acknowledged by DynamoDB)."},
    {"ddbpipe_sink_records_deleted_total", NULL, "Deletes acknowledged by DynamoDB."},
    {"ddbpipe_sink_retries_total", "dynamodb_output_retries_total", "Retried write calls."},
    {"ddbpipe_sink_throttled_items_total", "dynamodb_output_throttled_items_total",
     "Items returned unprocessed or throttled."},
    {"ddbpipe_sink_failed_items_total", "dynamodb_output_failed_items_total",
     "Items that could not be written."},
    {"ddbpipe_sink_oversized_items_dropped_total", "dynamodb_output_oversized_items_dropped_total",
     "Items over 400 KB dropped before sending."},
    {"ddbpipe_sink_write_chunks_total", "dynamodb_output_write_chunks_total",
     "BatchWriteItem / TransactWriteItems calls started."},
    {"ddbpipe_sink_duplicate_keys_folded_total", "dynamodb_output_duplicate_keys_folded_total",
     "Changes folded into a later change of the same key."},
    {"ddbpipe_sink_condition_failed_total", "dynamodb_output_condition_check_failures_total",
     "Changes skipped because their condition expression was false (transactional mode)."},
    {"ddbpipe_sink_dead_lettered_total", NULL, "Records sent to the dead-letter file."},
    {"ddbpipe_sink_tombstones_total", NULL, "Debezium tombstones skipped (nothing to write)."},
};

typedef struct sk_metrics {
    dp_metrics *reg;
    dp_metrics_server *srv;
    dp_metric *c[M__N], *alias[M__N];
    uint64_t last[M__N];
    dp_metric *lat, *lat_alias, *buffered, *fill, *in_flight;
    int64_t last_sync_ms;
    pthread_mutex_t mu;
} sk_metrics;

static void values(const ddbpipe_sink_stats_t *st, uint64_t v[M__N]) {
    v[M_IN] = st->records_in;
    v[M_WRITTEN] = st->records_written + st->records_deleted;
    v[M_DELETED] = st->records_deleted;
    v[M_RETRIES] = st->retries;
    v[M_THROTTLED] = st->throttled_items;
    v[M_FAILED] = st->failed_items;
    v[M_OVERSIZED] = st->oversized_dropped;
    v[M_CHUNKS] = st->write_chunks;
    v[M_FOLDED] = st->duplicates_folded;
    v[M_COND] = st->condition_check_failures;
    v[M_DEAD] = st->dead_lettered;
    v[M_TOMBSTONES] = st->tombstones;
}

void sk_metrics_sync(struct ddbpipe_sink *s, int force) {
    sk_metrics *m = s->metrics;
    if (!m)
        return;
    int64_t now = dp_now_ms();
    if (!force && now - m->last_sync_ms < 250)
        return;
    ddbpipe_sink_stats_t st;
    uint64_t v[M__N];
    ddbpipe_sink_stats(s, &st);
    values(&st, v);
    pthread_mutex_lock(&m->mu);
    m->last_sync_ms = now;
    for (int i = 0; i < M__N; i++) {
        if (v[i] > m->last[i]) {
            dp_metric_add(m->c[i], v[i] - m->last[i]);
            dp_metric_add(m->alias[i], v[i] - m->last[i]);
            m->last[i] = v[i];
        }
    }
    pthread_mutex_unlock(&m->mu);
    dp_metric_set(m->buffered, (double)st.buffered_records);
    dp_metric_set(
        m->fill, s->max_buffered_records ? (double)st.buffered_records / (double)s->max_buffered_records : 0);
    dp_metric_set(m->in_flight, (double)st.in_flight_requests);
}

dp_metrics *sk_metrics_registry(struct ddbpipe_sink *s) {
    sk_metrics *m = s ? s->metrics : NULL;
    return m ? m->reg : NULL;
}

/* The public handle is the registry's own metric: ddbpipe_metric_t is
 * never defined, only converted to and from dp_metric. */
ddbpipe_metric_t *ddbpipe_sink_metric(ddbpipe_sink_t *s, ddbpipe_metric_kind_t kind, const char *name,
                                      const char *help, const char *label_name, const char *label_value) {
    dp_metrics *reg = sk_metrics_registry(s);
    dp_metric *m = NULL;
    if (!reg || !name || !help)
        return NULL;
    if (kind == DDBPIPE_METRIC_COUNTER)
        m = dp_metrics_counter(reg, name, help, label_name, label_value);
    else if (kind == DDBPIPE_METRIC_GAUGE)
        m = dp_metrics_gauge(reg, name, help, label_name, label_value);
    return (ddbpipe_metric_t *)m;
}

void ddbpipe_metric_add(ddbpipe_metric_t *counter, uint64_t n) {
    dp_metric_add((dp_metric *)counter, n);
}

void ddbpipe_metric_set(ddbpipe_metric_t *gauge, double value) {
    dp_metric_set((dp_metric *)gauge, value);
}

void sk_metrics_latency(struct ddbpipe_sink *s, double seconds) {
    sk_metrics *m = s->metrics;
    if (!m)
        return;
    dp_metric_observe(m->lat, seconds);
    dp_metric_observe(m->lat_alias, seconds);
}

ddbpipe_result_t sk_metrics_render(struct ddbpipe_sink *s, dp_buf *out) {
    sk_metrics *m = s->metrics;
    if (!m)
        return DDBPIPE_ERR_INVALID_ARG;
    sk_metrics_sync(s, 1);
    return dp_metrics_render_prometheus(m->reg, out);
}

int sk_metrics_start(struct ddbpipe_sink *s, const char *address, char *errstr, size_t errstr_size) {
    sk_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    pthread_mutex_init(&m->mu, NULL);
    s->metrics = m;
    m->reg = dp_metrics_new();
    if (!m->reg)
        return -1;
    for (int i = 0; i < M__N; i++) {
        m->c[i] = dp_metrics_counter(m->reg, k_counters[i].name, k_counters[i].help, NULL, NULL);
        if (k_counters[i].alias)
            m->alias[i] = dp_metrics_counter(m->reg, k_counters[i].alias, k_counters[i].help, NULL, NULL);
    }
    m->lat = dp_metrics_histogram(m->reg, "ddbpipe_sink_write_call_latency_seconds",
                                  "Latency of DynamoDB write and load calls.", NULL, NULL,
                                  dp_metrics_latency_buckets_s, dp_metrics_latency_buckets_count);
    m->lat_alias = dp_metrics_histogram(m->reg, "dynamodb_output_write_call_latency_seconds",
                                        "Latency of DynamoDB write and load calls.", NULL, NULL,
                                        dp_metrics_latency_buckets_s, dp_metrics_latency_buckets_count);
    m->buffered = dp_metrics_gauge(m->reg, "ddbpipe_sink_buffered_records", "Records buffered or in flight.",
                                   NULL, NULL);
    m->fill = dp_metrics_gauge(m->reg, "ddbpipe_sink_buffer_fill_ratio",
                               "Buffered records / max_buffered_records.", NULL, NULL);
    m->in_flight =
        dp_metrics_gauge(m->reg, "ddbpipe_sink_in_flight_requests", "DynamoDB calls in flight.", NULL, NULL);
    if (!address)
        return 0;
    m->srv = dp_metrics_server_start(m->reg, address, errstr, errstr_size);
    if (!m->srv)
        return -1;
    DP_LOG_INFO("sink: metrics on %s (port %d)", address, dp_metrics_server_port(m->srv));
    return 0;
}

void sk_metrics_set_ready(struct ddbpipe_sink *s, int ready, const char *reason) {
    sk_metrics *m = s->metrics;
    if (m)
        dp_metrics_server_set_ready(m->srv, ready, reason);
}

void sk_metrics_stop(struct ddbpipe_sink *s) {
    sk_metrics *m = s->metrics;
    if (!m)
        return;
    dp_metrics_server_stop(m->srv);
    dp_metrics_destroy(m->reg);
    pthread_mutex_destroy(&m->mu);
    free(m);
    s->metrics = NULL;
}
