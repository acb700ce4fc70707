/* Table operations of the public API: describe, create (idempotent, waits
 * for ACTIVE), list; and the key-schema comparison check shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_internal.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "ddb/ops.h"

/* CreateTable to ACTIVE takes milliseconds on DynamoDB Local, seconds to a
 * minute or two on AWS. */
#define DP_API_ACTIVE_WAIT_MS (5 * 60 * 1000)
#define DP_API_POLL_MS 500

ddbpipe_result_t ddbpipe_describe_table(ddbpipe_client_t *client, const char *table,
                                        ddbpipe_table_info_t *out, char *errstr, size_t errstr_size) {
    dp_ddb_result res;
    ddbpipe_result_t rc;
    if (!client || !table || !table[0] || !out) {
        dp_errf(errstr, errstr_size, "describe table: client and table name are required");
        return DDBPIPE_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    dp_ddb_result_init(&res);
    rc = dp_ddb_describe_table(client->ddb, table, out, &res);
    if (rc != DDBPIPE_OK)
        dp_client_call_error(client, "DescribeTable", table, rc, &res, errstr, errstr_size);
    dp_ddb_result_free(&res);
    return rc;
}

ddbpipe_result_t dp_client_conf_key_schema(const dp_settings *st, ddbpipe_key_schema_t *out,
                                           int *explicit_types, char *errstr, size_t errstr_size) {
    const char *pk = st->partition_key;
    const char *sk = st->sort_key;
    memset(out, 0, sizeof *out);
    *explicit_types = 0;
    if (!pk || !pk[0]) {
        dp_errf(errstr, errstr_size,
                "no partition key configured: set partition_key (and partition_key_type S|N|B), "
                "or key: pk[,sk]");
        return DDBPIPE_ERR_CONFIG;
    }
    if (strlen(pk) >= sizeof out->partition_key || (sk && strlen(sk) >= sizeof out->sort_key)) {
        dp_errf(errstr, errstr_size, "key attribute names are at most 255 bytes");
        return DDBPIPE_ERR_CONFIG;
    }
    snprintf(out->partition_key, sizeof out->partition_key, "%s", pk);
    out->partition_type = dp_key_type_char(st->partition_key_type);
    if (dp_settings_is_set(st, &st->partition_key_type))
        *explicit_types |= 1;
    if (sk && sk[0]) {
        snprintf(out->sort_key, sizeof out->sort_key, "%s", sk);
        out->sort_type = dp_key_type_char(st->sort_key_type);
        if (dp_settings_is_set(st, &st->sort_key_type))
            *explicit_types |= 2;
    }
    return DDBPIPE_OK;
}

int dp_client_key_schema_diff(const char *table, const ddbpipe_key_schema_t *have,
                              const ddbpipe_key_schema_t *want, int explicit_types, char *msg,
                              size_t msg_size) {
    int pk_type_differs = (explicit_types & 1) && have->partition_type != want->partition_type;
    if (strcmp(have->partition_key, want->partition_key) != 0 || pk_type_differs) {
        dp_errf(msg, msg_size, "table '%s' has partition key %s (%c) but config says %s (%c)", table,
                have->partition_key, have->partition_type ? have->partition_type : '?', want->partition_key,
                want->partition_type);
        return -1;
    }
    if (!have->sort_key[0] && want->sort_key[0]) {
        dp_errf(msg, msg_size, "table '%s' has no sort key but config says sort key %s (%c)", table,
                want->sort_key, want->sort_type);
        return -1;
    }
    if (have->sort_key[0] && !want->sort_key[0]) {
        dp_errf(msg, msg_size, "table '%s' has sort key %s (%c) but config has none (set sort_key: %s)",
                table, have->sort_key, have->sort_type ? have->sort_type : '?', have->sort_key);
        return -1;
    }
    if (have->sort_key[0] && (strcmp(have->sort_key, want->sort_key) != 0 ||
                              ((explicit_types & 2) && have->sort_type != want->sort_type))) {
        dp_errf(msg, msg_size, "table '%s' has sort key %s (%c) but config says %s (%c)", table,
                have->sort_key, have->sort_type ? have->sort_type : '?', want->sort_key, want->sort_type);
        return -1;
    }
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Poll DescribeTable until ACTIVE (or the wait cap). */
static ddbpipe_result_t wait_active(ddbpipe_client_t *client, const char *table, ddbpipe_table_info_t *info,
                                    char *errstr, size_t errstr_size) {
    int64_t deadline = dp_now_ms() + (int64_t)DP_API_ACTIVE_WAIT_MS;
    for (;;) {
        ddbpipe_result_t rc = ddbpipe_describe_table(client, table, info, errstr, errstr_size);
        if (rc != DDBPIPE_OK)
            return rc;
        if (strcmp(info->status, "ACTIVE") == 0)
            return DDBPIPE_OK;
        if (strcmp(info->status, "CREATING") != 0 && strcmp(info->status, "UPDATING") != 0) {
            dp_errf(errstr, errstr_size, "table '%s' is %s, not ACTIVE", table, info->status);
            return DDBPIPE_ERR_SERVICE;
        }
        if (dp_now_ms() > deadline) {
            dp_errf(errstr, errstr_size, "table '%s' still %s after %d s", table, info->status,
                    DP_API_ACTIVE_WAIT_MS / 1000);
            return DDBPIPE_ERR_TIMEOUT;
        }
        sleep_ms(DP_API_POLL_MS);
    }
}

/* CreateTable request from config. */
static ddbpipe_result_t create_request(const dp_settings *st, const char *table,
                                       const ddbpipe_key_schema_t *ks, dp_ddb_create_table_req *req,
                                       char *errstr, size_t errstr_size) {
    memset(req, 0, sizeof *req);
    req->table = table;
    req->key = *ks;
    req->provisioned = st->billing_mode == DP_BILLING_PROVISIONED;
    req->stream_view_type = dp_settings_enum_text(st, &st->stream_view_type);
    if (req->provisioned) {
        req->read_capacity_units = st->read_capacity;
        req->write_capacity_units = st->write_capacity;
        if (req->read_capacity_units < 1 || req->write_capacity_units < 1) {
            dp_errf(errstr, errstr_size, "PROVISIONED needs read_capacity and write_capacity of at least 1");
            return DDBPIPE_ERR_CONFIG;
        }
    }
    return DDBPIPE_OK;
}

/* The table exists: same key schema (wait for ACTIVE) or a mismatch. */
static ddbpipe_result_t accept_existing(ddbpipe_client_t *client, const dp_settings *st, const char *table,
                                        ddbpipe_table_info_t *info, const ddbpipe_key_schema_t *want,
                                        int explicit_types, char *errstr, size_t errstr_size) {
    if (dp_client_key_schema_diff(table, &info->key, want, explicit_types, errstr, errstr_size) != 0)
        return DDBPIPE_ERR_SCHEMA_MISMATCH;
    const char *svt = dp_settings_enum_text(st, &st->stream_view_type);
    if (svt && svt[0] && strcmp(info->stream_view_type, svt) != 0)
        DP_LOG_WARN("table '%s' exists with stream %s, not %s as configured; left unchanged", table,
                    info->stream_view_type[0] ? info->stream_view_type : "disabled", svt);
    if (strcmp(info->status, "ACTIVE") != 0)
        return wait_active(client, table, info, errstr, errstr_size);
    return DDBPIPE_OK;
}

ddbpipe_result_t ddbpipe_create_table(ddbpipe_client_t *client, const ddbpipe_conf_t *conf, int *created,
                                      char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc;
    ddbpipe_key_schema_t want;
    ddbpipe_table_info_t info;
    dp_ddb_result res;
    dp_ddb_create_table_req req;
    int explicit_types = 0, exists = 0;
    dp_settings st;
    dp_conf_settings(conf, &st);
    const char *table = conf ? st.table : NULL;

    if (created)
        *created = 0;
    dp_ddb_result_init(&res);
    if (!client || !conf) {
        rc = DDBPIPE_ERR_INVALID_ARG;
        dp_errf(errstr, errstr_size, "create table: client and config are required");
        goto out;
    }
    if (!table || !table[0]) {
        rc = DDBPIPE_ERR_CONFIG;
        dp_errf(errstr, errstr_size, "no table configured: set table (e.g. --set table=events)");
        goto out;
    }
    rc = dp_client_conf_key_schema(&st, &want, &explicit_types, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        goto out;
    /* For a new table every type is what the config says (S by default). */
    rc = create_request(&st, table, &want, &req, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        goto out;

    rc = dp_ddb_describe_table(client->ddb, table, &info, &res);
    if (rc == DDBPIPE_OK) {
        rc = accept_existing(client, &st, table, &info, &want, explicit_types, errstr, errstr_size);
        goto out;
    }
    if (rc != DDBPIPE_ERR_NOT_FOUND) {
        dp_client_call_error(client, "DescribeTable", table, rc, &res, errstr, errstr_size);
        goto out;
    }
    dp_ddb_result_free(&res);
    dp_ddb_result_init(&res);
    rc = dp_ddb_create_table(client->ddb, &req, &exists, &res);
    if (rc != DDBPIPE_OK) {
        if (exists) {
            /* Someone created it between our DescribeTable and CreateTable. */
            rc = ddbpipe_describe_table(client, table, &info, errstr, errstr_size);
            if (rc == DDBPIPE_OK)
                rc = accept_existing(client, &st, table, &info, &want, explicit_types, errstr, errstr_size);
            goto out;
        }
        dp_client_call_error(client, "CreateTable", table, rc, &res, errstr, errstr_size);
        goto out;
    }
    DP_LOG_INFO("CreateTable %s sent; waiting for ACTIVE", table);
    rc = wait_active(client, table, &info, errstr, errstr_size);
    if (rc == DDBPIPE_OK && created)
        *created = 1;
out:
    dp_ddb_result_free(&res);
    return rc;
}

typedef struct list_ctx {
    void (*cb)(const char *name, void *opaque);
    void *opaque;
} list_ctx;

static void list_one(const char *name, void *opaque) {
    list_ctx *lc = opaque;
    if (lc->cb)
        lc->cb(name, lc->opaque);
}

ddbpipe_result_t ddbpipe_list_tables(ddbpipe_client_t *client, void (*cb)(const char *name, void *opaque),
                                     void *opaque, char *errstr, size_t errstr_size) {
    char last[1024] = "", start[1024] = "";
    list_ctx lc = {cb, opaque};
    ddbpipe_result_t rc = DDBPIPE_OK;
    if (!client) {
        dp_errf(errstr, errstr_size, "list tables: client is required");
        return DDBPIPE_ERR_INVALID_ARG;
    }
    do {
        dp_ddb_result res;
        dp_ddb_result_init(&res);
        rc = dp_ddb_list_tables_page(client->ddb, start, 100, list_one, &lc, last, sizeof last, &res);
        if (rc != DDBPIPE_OK)
            dp_client_call_error(client, "ListTables", NULL, rc, &res, errstr, errstr_size);
        dp_ddb_result_free(&res);
        if (rc != DDBPIPE_OK)
            break;
        if (last[0] && strcmp(last, start) == 0) {
            dp_errf(errstr, errstr_size, "ListTables: paging did not advance past '%s'", last);
            rc = DDBPIPE_ERR_SERVICE;
            break;
        }
        snprintf(start, sizeof start, "%s", last);
    } while (last[0]);
    return rc;
}
