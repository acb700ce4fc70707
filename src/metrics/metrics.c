/* Metrics registry and renderers (see metrics.h). */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "metrics/metrics.h"

const double dp_metrics_latency_buckets_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                               1,     2.5,  5,     10,   30,  60};
const size_t dp_metrics_latency_buckets_count = sizeof dp_metrics_latency_buckets_s / sizeof(double);

struct dp_metric {
    dp_metric_type type;
    char *name;
    char *help;
    char *label_name; /* NULL: no label */
    char *label_value;
    _Atomic uint64_t counter;
    _Atomic uint64_t gauge_bits; /* double stored as its bits (atomic doubles are not portable) */
    /* histogram */
    double *bounds;
    size_t nbounds;
    _Atomic uint64_t *bucket_counts; /* nbounds + 1 (last: above every bound), not cumulative */
    _Atomic uint64_t sum_bits;
};

struct dp_metrics {
    pthread_mutex_t lock;
    dp_metric **items;
    size_t count, cap;
};

static uint64_t double_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double bits_double(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

dp_metrics *dp_metrics_new(void) {
    dp_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void metric_free(dp_metric *x) {
    if (!x)
        return;
    free(x->name);
    free(x->help);
    free(x->label_name);
    free(x->label_value);
    free(x->bounds);
    free((void *)x->bucket_counts);
    free(x);
}

void dp_metrics_destroy(dp_metrics *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        metric_free(m->items[i]);
    free(m->items);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int valid_name(const char *s, int allow_colon) {
    if (!s || !*s)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static char *dup_or_null(const char *s, int *failed) {
    if (!s)
        return NULL;
    char *r = strdup(s);
    if (!r)
        *failed = 1;
    return r;
}

static dp_metric *metric_register(dp_metrics *m, dp_metric_type type, const char *name, const char *help,
                                  const char *label_name, const char *label_value, const double *buckets,
                                  size_t nbuckets) {
    dp_metric *found = NULL, *x = NULL;
    int failed = 0;
    if (!m || !valid_name(name, 1) || (label_name == NULL) != (label_value == NULL) ||
        (label_name && (!valid_name(label_name, 0) || strncmp(label_name, "__", 2) == 0)))
        return NULL;
    if (type == DP_METRIC_HISTOGRAM) {
        if (!buckets || nbuckets == 0)
            return NULL;
        for (size_t i = 0; i < nbuckets; i++)
            if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
                return NULL;
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->count; i++) {
        dp_metric *e = m->items[i];
        if (strcmp(e->name, name) != 0)
            continue;
        if (e->type != type) {
            found = NULL;
            failed = 1; /* one name, one type */
            goto out;
        }
        if (same_str(e->label_name, label_name) && same_str(e->label_value, label_value)) {
            found = e;
            goto out;
        }
    }
    x = calloc(1, sizeof *x);
    if (!x) {
        failed = 1;
        goto out;
    }
    x->type = type;
    x->name = dup_or_null(name, &failed);
    x->help = dup_or_null(help ? help : "", &failed);
    x->label_name = dup_or_null(label_name, &failed);
    x->label_value = dup_or_null(label_value, &failed);
    if (type == DP_METRIC_HISTOGRAM) {
        x->nbounds = nbuckets;
        x->bounds = malloc(nbuckets * sizeof *x->bounds);
        x->bucket_counts = calloc(nbuckets + 1, sizeof *x->bucket_counts);
        if (!x->bounds || !x->bucket_counts)
            failed = 1;
        else
            memcpy(x->bounds, buckets, nbuckets * sizeof *x->bounds);
    }
    atomic_init(&x->gauge_bits, double_bits(0.0));
    atomic_init(&x->sum_bits, double_bits(0.0));
    if (!failed && m->count == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        dp_metric **n = realloc(m->items, ncap * sizeof *n);
        if (!n)
            failed = 1;
        else {
            m->items = n;
            m->cap = ncap;
        }
    }
    if (failed)
        goto out;
    m->items[m->count++] = x;
    found = x;
    x = NULL;
out:
    pthread_mutex_unlock(&m->lock);
    metric_free(x);
    return failed ? NULL : found;
}

dp_metric *dp_metrics_counter(dp_metrics *m, const char *name, const char *help, const char *label_name,
                              const char *label_value) {
    return metric_register(m, DP_METRIC_COUNTER, name, help, label_name, label_value, NULL, 0);
}

dp_metric *dp_metrics_gauge(dp_metrics *m, const char *name, const char *help, const char *label_name,
                            const char *label_value) {
    return metric_register(m, DP_METRIC_GAUGE, name, help, label_name, label_value, NULL, 0);
}

dp_metric *dp_metrics_histogram(dp_metrics *m, const char *name, const char *help, const char *label_name,
                                const char *label_value, const double *buckets, size_t n) {
    return metric_register(m, DP_METRIC_HISTOGRAM, name, help, label_name, label_value, buckets, n);
}

void dp_metric_add(dp_metric *c, uint64_t n) {
    if (c && c->type == DP_METRIC_COUNTER)
        atomic_fetch_add_explicit(&c->counter, n, memory_order_relaxed);
}

void dp_metric_inc(dp_metric *c) {
    dp_metric_add(c, 1);
}

void dp_metric_set(dp_metric *g, double v) {
    if (g && g->type == DP_METRIC_GAUGE)
        atomic_store_explicit(&g->gauge_bits, double_bits(v), memory_order_relaxed);
}

static void atomic_add_double(_Atomic uint64_t *bits, double d) {
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, double_bits(bits_double(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void dp_metric_gauge_add(dp_metric *g, double d) {
    if (g && g->type == DP_METRIC_GAUGE)
        atomic_add_double(&g->gauge_bits, d);
}

void dp_metric_observe(dp_metric *h, double v) {
    if (!h || h->type != DP_METRIC_HISTOGRAM || isnan(v))
        return;
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i]) /* le: v <= bound counts in that bucket */
        i++;
    atomic_fetch_add_explicit(&h->bucket_counts[i], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

uint64_t dp_metric_counter_value(const dp_metric *c) {
    return c && c->type == DP_METRIC_COUNTER ? atomic_load(&((dp_metric *)c)->counter) : 0;
}

double dp_metric_gauge_value(const dp_metric *g) {
    return g && g->type == DP_METRIC_GAUGE ? bits_double(atomic_load(&((dp_metric *)g)->gauge_bits)) : 0.0;
}

uint64_t dp_metric_histogram_count(const dp_metric *h) {
    uint64_t total = 0;
    if (!h || h->type != DP_METRIC_HISTOGRAM)
        return 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        total += atomic_load(&h->bucket_counts[i]);
    return total;
}

double dp_metric_histogram_sum(const dp_metric *h) {
    return h && h->type == DP_METRIC_HISTOGRAM ? bits_double(atomic_load(&((dp_metric *)h)->sum_bits)) : 0.0;
}

/* Shortest text that reads back as the same double ("0.1", not
 * "0.10000000000000001"); Prometheus spellings for NaN and infinities. */
static void format_double(double v, char out[40]) {
    if (isnan(v)) {
        memcpy(out, "NaN", sizeof "NaN");
        return;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", sizeof "+Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static ddbpipe_result_t put_escaped(dp_buf *out, const char *s, int quote) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    for (; *s && rc == DDBPIPE_OK; s++) {
        if (*s == '\\')
            rc = dp_buf_puts(out, "\\\\");
        else if (*s == '\n')
            rc = dp_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            rc = dp_buf_puts(out, "\\\"");
        else
            rc = dp_buf_putc(out, *s);
    }
    return rc;
}

/* name{label="value",extra} ; extra is e.g. le="0.1" or NULL */
static ddbpipe_result_t put_series(dp_buf *out, const dp_metric *x, const char *suffix,
                                   const char *extra_name, const char *extra_value) {
    ddbpipe_result_t rc = dp_buf_printf(out, "%s%s", x->name, suffix);
    int braces = x->label_name || extra_name;
    if (rc == DDBPIPE_OK && braces)
        rc = dp_buf_putc(out, '{');
    if (rc == DDBPIPE_OK && x->label_name) {
        rc = dp_buf_printf(out, "%s=\"", x->label_name);
        if (rc == DDBPIPE_OK)
            rc = put_escaped(out, x->label_value, 1);
        if (rc == DDBPIPE_OK)
            rc = dp_buf_putc(out, '"');
    }
    if (rc == DDBPIPE_OK && extra_name)
        rc = dp_buf_printf(out, "%s%s=\"%s\"", x->label_name ? "," : "", extra_name, extra_value);
    if (rc == DDBPIPE_OK && braces)
        rc = dp_buf_putc(out, '}');
    return rc;
}

static const char *type_name(dp_metric_type t) {
    return t == DP_METRIC_COUNTER ? "counter" : t == DP_METRIC_GAUGE ? "gauge" : "histogram";
}

static ddbpipe_result_t render_series_prom(dp_buf *out, const dp_metric *x) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    char num[40];
    if (x->type == DP_METRIC_COUNTER) {
        if ((rc = put_series(out, x, "", NULL, NULL)) == DDBPIPE_OK)
            rc = dp_buf_printf(out, " %" PRIu64 "\n", dp_metric_counter_value(x));
        return rc;
    }
    if (x->type == DP_METRIC_GAUGE) {
        format_double(dp_metric_gauge_value(x), num);
        if ((rc = put_series(out, x, "", NULL, NULL)) == DDBPIPE_OK)
            rc = dp_buf_printf(out, " %s\n", num);
        return rc;
    }
    /* Histogram: read each bucket once, so cumulative counts, +Inf and
     * _count agree even while other threads observe. */
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= x->nbounds && rc == DDBPIPE_OK; i++) {
        cumulative += atomic_load(&x->bucket_counts[i]);
        if (i < x->nbounds)
            format_double(x->bounds[i], num);
        else
            strcpy(num, "+Inf");
        rc = put_series(out, x, "_bucket", "le", num);
        if (rc == DDBPIPE_OK)
            rc = dp_buf_printf(out, " %" PRIu64 "\n", cumulative);
    }
    format_double(dp_metric_histogram_sum(x), num);
    if (rc == DDBPIPE_OK && (rc = put_series(out, x, "_sum", NULL, NULL)) == DDBPIPE_OK)
        rc = dp_buf_printf(out, " %s\n", num);
    if (rc == DDBPIPE_OK && (rc = put_series(out, x, "_count", NULL, NULL)) == DDBPIPE_OK)
        rc = dp_buf_printf(out, " %" PRIu64 "\n", cumulative);
    return rc;
}

ddbpipe_result_t dp_metrics_render_prometheus(dp_metrics *m, dp_buf *out) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    if (!m || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->count && rc == DDBPIPE_OK; i++) {
        const dp_metric *x = m->items[i];
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->items[j]->name, x->name) == 0)
                first = 0;
        if (!first)
            continue; /* rendered with its family */
        rc = dp_buf_printf(out, "# HELP %s ", x->name);
        if (rc == DDBPIPE_OK)
            rc = put_escaped(out, x->help, 0);
        if (rc == DDBPIPE_OK)
            rc = dp_buf_printf(out, "\n# TYPE %s %s\n", x->name, type_name(x->type));
        for (size_t j = i; j < m->count && rc == DDBPIPE_OK; j++)
            if (strcmp(m->items[j]->name, x->name) == 0)
                rc = render_series_prom(out, m->items[j]);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static ddbpipe_result_t json_number(dp_buf *out, double v) {
    char num[40];
    if (!isfinite(v))
        return dp_buf_puts(out, "null");
    format_double(v, num);
    return dp_buf_puts(out, num);
}

ddbpipe_result_t dp_metrics_render_json(dp_metrics *m, dp_buf *out) {
    ddbpipe_result_t rc;
    if (!m || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    pthread_mutex_lock(&m->lock);
    rc = dp_buf_puts(out, "{\"metrics\":[");
    for (size_t i = 0; i < m->count && rc == DDBPIPE_OK; i++) {
        const dp_metric *x = m->items[i];
        if (i)
            rc = dp_buf_putc(out, ',');
        if (rc == DDBPIPE_OK)
            rc = dp_buf_puts(out, "{\"name\":");
        if (rc == DDBPIPE_OK)
            rc = dp_json_write_cstr(out, x->name);
        if (rc == DDBPIPE_OK)
            rc = dp_buf_printf(out, ",\"type\":\"%s\",\"help\":", type_name(x->type));
        if (rc == DDBPIPE_OK)
            rc = dp_json_write_cstr(out, x->help);
        if (rc == DDBPIPE_OK)
            rc = dp_buf_puts(out, ",\"labels\":{");
        if (rc == DDBPIPE_OK && x->label_name) {
            rc = dp_json_write_cstr(out, x->label_name);
            if (rc == DDBPIPE_OK)
                rc = dp_buf_putc(out, ':');
            if (rc == DDBPIPE_OK)
                rc = dp_json_write_cstr(out, x->label_value);
        }
        if (rc == DDBPIPE_OK)
            rc = dp_buf_putc(out, '}');
        if (rc != DDBPIPE_OK)
            break;
        if (x->type == DP_METRIC_COUNTER) {
            rc = dp_buf_printf(out, ",\"value\":%" PRIu64 "}", dp_metric_counter_value(x));
        } else if (x->type == DP_METRIC_GAUGE) {
            rc = dp_buf_puts(out, ",\"value\":");
            if (rc == DDBPIPE_OK)
                rc = json_number(out, dp_metric_gauge_value(x));
            if (rc == DDBPIPE_OK)
                rc = dp_buf_putc(out, '}');
        } else {
            uint64_t cumulative = 0;
            rc = dp_buf_puts(out, ",\"buckets\":[");
            for (size_t b = 0; b <= x->nbounds && rc == DDBPIPE_OK; b++) {
                cumulative += atomic_load(&x->bucket_counts[b]);
                rc = dp_buf_puts(out, b ? ",{\"le\":" : "{\"le\":");
                if (rc == DDBPIPE_OK)
                    rc = b < x->nbounds ? json_number(out, x->bounds[b]) : dp_buf_puts(out, "\"+Inf\"");
                if (rc == DDBPIPE_OK)
                    rc = dp_buf_printf(out, ",\"count\":%" PRIu64 "}", cumulative);
            }
            if (rc == DDBPIPE_OK)
                rc = dp_buf_printf(out, "],\"count\":%" PRIu64 ",\"sum\":", cumulative);
            if (rc == DDBPIPE_OK)
                rc = json_number(out, dp_metric_histogram_sum(x));
            if (rc == DDBPIPE_OK)
                rc = dp_buf_putc(out, '}');
        }
    }
    if (rc == DDBPIPE_OK)
        rc = dp_buf_puts(out, "]}");
    pthread_mutex_unlock(&m->lock);
    return rc;
}
