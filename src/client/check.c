/* ddbpipe_check: walk what a sink/source needs, one report line per step,
 * stop at the first failure with a line that says what to fix. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/client_internal.h"
#include "common/util.h"

/* Attempts per call during check: an unreachable endpoint should answer in
 * seconds, not after the full retry budget. */
#define DP_CHECK_MAX_ATTEMPTS 3

typedef struct report {
    void (*cb)(const char *line, void *opaque);
    void *opaque;
} report;

static void say(const report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const report *r, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->cb)
        r->cb(line, r->opaque);
}

static void count_table(const char *name, void *opaque) {
    (void)name;
    (*(size_t *)opaque)++;
}

static void key_text(const ddbpipe_key_schema_t *k, char *out, size_t size) {
    if (k->sort_key[0])
        snprintf(out, size, "partition key %s (%c), sort key %s (%c)", k->partition_key, k->partition_type,
                 k->sort_key, k->sort_type);
    else
        snprintf(out, size, "partition key %s (%c), no sort key", k->partition_key, k->partition_type);
}

ddbpipe_result_t ddbpipe_check(const ddbpipe_conf_t *conf, void (*cb)(const char *line, void *opaque),
                               void *opaque) {
    report r = {cb, opaque};
    ddbpipe_client_t *client = NULL;
    ddbpipe_result_t rc;
    char err[1024] = "";
    const char *provider = NULL, *akid = NULL;
    dp_settings st;

    if (!conf)
        return DDBPIPE_ERR_INVALID_ARG;
    dp_conf_settings(conf, &st);
    const char *table = st.table;
    rc = ddbpipe_conf_validate(conf, "check", err, sizeof err);
    if (rc != DDBPIPE_OK) {
        say(&r, "config: ERROR %s", err[0] ? err : ddbpipe_strerror(rc));
        goto out;
    }
    say(&r, "config: ok");

    rc = dp_client_new(conf, DP_CHECK_MAX_ATTEMPTS, 0, &client, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        say(&r, "client: ERROR %s", err[0] ? err : ddbpipe_strerror(rc));
        goto out;
    }
    say(&r, "region: %s (from %s)", client->region, client->region_source);
    say(&r, "endpoint: %s", client->endpoint);

    err[0] = '\0';
    rc = ddbpipe_client_credentials_source(client, &provider, &akid, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        say(&r, "credentials: ERROR %s", err[0] ? err : ddbpipe_strerror(rc));
        goto out;
    }
    say(&r, "credentials: provided by %s (access key %s)", provider, akid);

    if (!table || !table[0]) {
        size_t n = 0;
        err[0] = '\0';
        rc = ddbpipe_list_tables(client, count_table, &n, err, sizeof err);
        if (rc != DDBPIPE_OK) {
            say(&r, "service: ERROR %s", err);
            goto out;
        }
        say(&r, "service: ListTables answered (%zu table%s)", n, n == 1 ? "" : "s");
        say(&r, "table: not configured (set table to check it)");
        goto out;
    }

    ddbpipe_table_info_t info;
    err[0] = '\0';
    rc = ddbpipe_describe_table(client, table, &info, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        say(&r, "table: ERROR %s", err);
        goto out;
    }
    char have[600];
    key_text(&info.key, have, sizeof have);
    say(&r, "table: '%s' %s, %s, billing %s, stream %s, about %lld items", table, info.status, have,
        info.billing_mode[0] ? info.billing_mode : "PROVISIONED",
        info.stream_view_type[0] ? info.stream_view_type : "disabled", (long long)info.item_count);

    if (!st.partition_key) {
        say(&r, "key schema: not configured; the table's key (%s) will be used", have);
    } else {
        ddbpipe_key_schema_t want;
        int explicit_types = 0;
        err[0] = '\0';
        rc = dp_client_conf_key_schema(&st, &want, &explicit_types, err, sizeof err);
        if (rc != DDBPIPE_OK) {
            say(&r, "key schema: ERROR %s", err);
            goto out;
        }
        if (dp_client_key_schema_diff(table, &info.key, &want, explicit_types, err, sizeof err) != 0) {
            rc = DDBPIPE_ERR_SCHEMA_MISMATCH;
            say(&r, "key schema: MISMATCH %s", err);
            goto out;
        }
        say(&r, "key schema: matches the config");
    }
    if (strcmp(info.status, "ACTIVE") != 0)
        say(&r, "warning: table is %s, not ACTIVE yet", info.status);
    rc = DDBPIPE_OK;
out:
    if (rc == DDBPIPE_OK)
        say(&r, "check: ok");
    else
        say(&r, "check: FAILED (%s)", ddbpipe_strerror(rc));
    ddbpipe_client_destroy(client);
    return rc;
}
