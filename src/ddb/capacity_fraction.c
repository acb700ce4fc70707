/* A capacity cap as a fraction of the table's capacity, and its periodic
 * re-read (see capacity_fraction.h). */
#include "ddb/capacity_fraction.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "ddb/ops.h"

#define REREAD_DEFAULT_MS 60000

/* indexed by dp_capacity_kind: the setting's word and its unit */
static const char *const k_setting[] = {"read", "write"}, *const k_unit[] = {"RCU", "WCU"};

ddbpipe_result_t dp_capacity_fraction_parse(dp_capacity_kind kind, const char *text, double *fraction,
                                            char *errstr, size_t errstr_size) {
    *fraction = 0;
    if (!text)
        return DDBPIPE_OK;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end || !(v > 0 && v <= 1)) {
        dp_errf(errstr, errstr_size, "%s_capacity_fraction %s is outside 0 < f <= 1", k_setting[kind], text);
        return DDBPIPE_ERR_CONFIG;
    }
    *fraction = v;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_capacity_fraction_apply(const dp_capacity_fraction *f, const char *body, size_t len,
                                            dp_capacity_bucket **bucket, char *errstr, size_t errstr_size) {
    dp_ddb_table_capacity cap;
    ddbpipe_result_t r = dp_ddb_parse_table_capacity(body, len, &cap, errstr, errstr_size);
    if (r != DDBPIPE_OK)
        return r;
    int w = f->kind == DP_CAPACITY_WRITE;
    const char *unit = k_unit[f->kind];
    double units = 0;
    if (dp_capacity_of_fraction(f->fraction, w ? cap.write_capacity_units : cap.read_capacity_units,
                                cap.on_demand, w ? cap.max_write_request_units : cap.max_read_request_units,
                                f->absolute_cap, &units) != 0) {
        dp_errf(errstr, errstr_size,
                "%s_capacity_fraction: table %s is on demand (PAY_PER_REQUEST) without "
                "OnDemandThroughput.Max%sRequestUnits, so there is no capacity to take a fraction of: "
                "give an absolute cap with max_%s_capacity_per_s",
                k_setting[f->kind], f->table, w ? "Write" : "Read", k_setting[f->kind]);
        return DDBPIPE_ERR_CONFIG;
    }
    double now = (double)dp_now_ns() / 1e9;
    if (!*bucket) {
        if (!(*bucket = dp_capacity_bucket_new(units, now)))
            return DDBPIPE_ERR_NOMEM;
        DP_LOG_INFO("%s: %s_capacity_fraction %g of table %s: %s %.0f %s/s", f->who, k_setting[f->kind],
                    f->fraction, f->table, f->cap_name, units, unit);
    } else if (dp_capacity_bucket_rate(*bucket) != units) { /* a re-read found a new figure */
        DP_LOG_INFO("%s: %s_capacity_fraction: %s now %.0f %s/s (was %.0f)", f->who, k_setting[f->kind],
                    f->cap_name, units, unit, dp_capacity_bucket_rate(*bucket));
        dp_capacity_bucket_set_rate(*bucket, units, now);
    }
    return DDBPIPE_OK;
}

struct dp_capacity_reread {
    dp_capacity_reread_options o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: a wall-clock step moves no re-read */
    int stop;          /* under mu */
};

/* One re-read: a changed figure (UpdateTable, a switch of billing mode)
 * moves the cap; a failed call or a figure no longer usable keeps it. */
static void reread_once(dp_capacity_reread *r) {
    const dp_capacity_fraction *f = &r->o.fraction;
    dp_ddb_result res;
    dp_ddb_result_init(&res);
    ddbpipe_table_info_t info;
    char err[512];
    err[0] = 0;
    ddbpipe_result_t rc = dp_ddb_describe_table(r->o.ddb, f->table, &info, &res);
    if (rc == DDBPIPE_OK)
        rc = dp_capacity_fraction_apply(f, res.body.data, res.body.len, &r->o.bucket, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "DescribeTable: %.400s",
                 res.message[0] ? res.message : ddbpipe_strerror(rc));
    if (rc != DDBPIPE_OK)
        DP_LOG_WARN(
            "%s: %s_capacity_fraction: re-reading the table's capacity failed (%s); keeping the %s at "
            "%.0f %s/s",
            f->who, k_setting[f->kind], err, f->cap_name, dp_capacity_bucket_rate(r->o.bucket),
            k_unit[f->kind]);
    dp_ddb_result_free(&res);
}

static void *reread_main(void *arg) {
    dp_capacity_reread *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (r->o.interval_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(r->o.interval_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {
        }
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->mu); /* destroy is not held up by more than the call in flight */
        reread_once(r);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

dp_capacity_reread *dp_capacity_reread_new(const dp_capacity_reread_options *options, char *errstr,
                                           size_t errstr_size) {
    dp_capacity_reread *r = calloc(1, sizeof(*r));
    pthread_condattr_t ca;
    if (!r || pthread_condattr_init(&ca) != 0)
        goto fail;
    r->o = *options;
    if (r->o.interval_ms <= 0) {
        const char *ms = getenv("DDBPIPE_CAPACITY_REREAD_MS"); /* tests only: a shorter re-read period */
        long long v = ms ? strtoll(ms, NULL, 10) : 0;
        r->o.interval_ms = v > 0 ? (int64_t)v : REREAD_DEFAULT_MS;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int cv_ok = pthread_cond_init(&r->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok)
        goto fail;
    pthread_mutex_init(&r->mu, NULL);
    if (pthread_create(&r->thread, NULL, reread_main, r) == 0)
        return r;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
fail:
    free(r);
    dp_errf(errstr, errstr_size, "cannot start the capacity re-read thread");
    return NULL;
}

void dp_capacity_reread_destroy(dp_capacity_reread *r) {
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
