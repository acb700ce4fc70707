/* A small metrics registry: counters, gauges and fixed-bucket histograms,
 * each with at most one label pair, rendered as Prometheus text exposition
 * format 0.0.4 or JSON, and served over HTTP (libmicrohttpd, own thread).
 *
 * Threads: registration and rendering take the registry lock; updates
 * (add/set/observe) are lock-free C11 atomics, safe from any thread while
 * the HTTP thread renders. Metric handles live until dp_metrics_destroy. */
#ifndef DP_METRICS_METRICS_H
#define DP_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct dp_metrics dp_metrics;
typedef struct dp_metric dp_metric;
typedef struct dp_metrics_server dp_metrics_server;

typedef enum dp_metric_type { DP_METRIC_COUNTER, DP_METRIC_GAUGE, DP_METRIC_HISTOGRAM } dp_metric_type;

/* Latency buckets in seconds (5 ms .. 60 s) for request timings. */
extern const double dp_metrics_latency_buckets_s[];
extern const size_t dp_metrics_latency_buckets_count;

dp_metrics *dp_metrics_new(void);
/* Stop any server using it first. Accepts NULL. */
void dp_metrics_destroy(dp_metrics *m);

/* Register (or find) a series. Names follow Prometheus rules
 * ([a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* not starting
 * with "__"). label_name/label_value may both be NULL for no label.
 * Registering the same name and label value again returns the same handle;
 * NULL on invalid names, a type clash with an existing family, or no
 * memory. All series of one name share type and help (the first wins). */
dp_metric *dp_metrics_counter(dp_metrics *m, const char *name, const char *help, const char *label_name,
                              const char *label_value);
dp_metric *dp_metrics_gauge(dp_metrics *m, const char *name, const char *help, const char *label_name,
                            const char *label_value);
/* buckets: strictly increasing finite upper bounds (the +Inf bucket is
 * implicit); n >= 1. */
dp_metric *dp_metrics_histogram(dp_metrics *m, const char *name, const char *help, const char *label_name,
                                const char *label_value, const double *buckets, size_t n);

/* Updates. Each is a no-op on NULL or on a metric of the wrong type, so a
 * failed registration never crashes a hot path. */
void dp_metric_add(dp_metric *c, uint64_t n);     /* counter */
void dp_metric_inc(dp_metric *c);                 /* counter += 1 */
void dp_metric_set(dp_metric *g, double v);       /* gauge */
void dp_metric_gauge_add(dp_metric *g, double d); /* gauge += d (d may be negative) */
void dp_metric_observe(dp_metric *h, double v);   /* histogram */

/* Reads (tests, --stats output). */
uint64_t dp_metric_counter_value(const dp_metric *c);
double dp_metric_gauge_value(const dp_metric *g);
uint64_t dp_metric_histogram_count(const dp_metric *h);
double dp_metric_histogram_sum(const dp_metric *h);

/* Prometheus text format 0.0.4 (appends to out). Families in registration
 * order, series of a family in registration order. */
ddbpipe_result_t dp_metrics_render_prometheus(dp_metrics *m, dp_buf *out);
/* JSON: {"metrics":[{"name":..,"type":..,"help":..,"labels":{..},"value":..}
 * | histogram: "count","sum","buckets":[{"le":0.005,"count":c},..,{"le":"+Inf",..}]]}.
 * Bucket counts are cumulative as in Prometheus; NaN/Inf values are null. */
ddbpipe_result_t dp_metrics_render_json(dp_metrics *m, dp_buf *out);

/* Serve GET /metrics on address "host:port" ("127.0.0.1:9464",
 * "[::1]:9464", "localhost:0"; the host is an IP address or localhost, an
 * empty host means 127.0.0.1; port 0 picks
 * a free port, see dp_metrics_server_port), and the probes: /healthz
 * answers 200 "ok" while the process is alive; /readyz answers 503
 * "not ready: REASON" until dp_metrics_server_set_ready(s, 1, NULL), then
 * 200 "ready". Anything else answers 404 (405 for other methods than GET
 * and HEAD). NULL on error, with errstr set. */
dp_metrics_server *dp_metrics_server_start(dp_metrics *m, const char *address, char *errstr,
                                           size_t errstr_size);
int dp_metrics_server_port(const dp_metrics_server *s);
/* Readiness for /readyz (thread-safe; s may be NULL). reason (copied) is
 * shown after "not ready: " while ready is 0: "starting", "table not
 * reached yet", "fatal: ...". */
void dp_metrics_server_set_ready(dp_metrics_server *s, int ready, const char *reason);
void dp_metrics_server_stop(dp_metrics_server *s); /* accepts NULL */

/* Split "host:port" / "[v6]:port" into host (out, host_size bytes) and
 * port. 0 ok, -1 malformed (no I/O: unit-tested and fuzzable). */
int dp_metrics_parse_address(const char *address, char *host, size_t host_size, int *port);

#endif
