/* Table operations: CreateTable, DescribeTable, ListTables, UpdateTable.
 * Each has a pure request builder / response parser and one blocking call. */
#include "ddb/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"

static int copy_str(char *dst, size_t size, const dp_json *v) {
    if (!dp_json_is(v, DP_JSON_STRING))
        return -1;
    if (v->len >= size)
        return -2;
    memcpy(dst, v->str, v->len);
    dst[v->len] = 0;
    return 0;
}

/* Type of attribute `name` in AttributeDefinitions: 'S', 'N', 'B' or 0. */
static char attr_type(const dp_json *defs, const char *name) {
    for (size_t i = 0; defs && i < defs->count; i++) {
        const dp_json *d = dp_json_at(defs, i);
        const char *n = dp_json_get_string(d, "AttributeName");
        const char *t = dp_json_get_string(d, "AttributeType");
        if (n && t && strcmp(n, name) == 0 && strlen(t) == 1 && strchr("SNB", t[0]))
            return t[0];
    }
    return 0;
}

/* DescribeTable's {"Table": ...} or UpdateTable's {"TableDescription": ...}. */
static ddbpipe_result_t parse_table_answer(const char *op, const char *member, const char *body, size_t len,
                                           ddbpipe_table_info_t *out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_ERR_PARSE;
    dp_json_error jerr;
    memset(out, 0, sizeof(*out));
    dp_json_doc *doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!doc) {
        dp_errf(errstr, errstr_size, "%s response: invalid JSON at byte %zu: %s", op, jerr.offset,
                jerr.message);
        goto out;
    }
    const dp_json *t = dp_json_get(dp_json_root(doc), member);
    if (!dp_json_is(t, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "%s response: no %s object", op, member);
        goto out;
    }
    const dp_json *ks = dp_json_get(t, "KeySchema");
    const dp_json *defs = dp_json_get(t, "AttributeDefinitions");
    if (!dp_json_is(ks, DP_JSON_ARRAY) || ks->count < 1 || ks->count > 2) {
        dp_errf(errstr, errstr_size, "%s response: %s.KeySchema must hold 1 or 2 keys", op, member);
        goto out;
    }
    for (size_t i = 0; i < ks->count; i++) {
        const dp_json *k = dp_json_at(ks, i);
        const char *kt = dp_json_get_string(k, "KeyType");
        const dp_json *name = dp_json_get(k, "AttributeName");
        int is_hash = kt && strcmp(kt, "HASH") == 0;
        int is_range = kt && strcmp(kt, "RANGE") == 0;
        char *dst = is_hash ? out->key.partition_key : out->key.sort_key;
        if ((!is_hash && !is_range) || copy_str(dst, sizeof(out->key.partition_key), name) != 0 || !dst[0]) {
            dp_errf(errstr, errstr_size,
                    "%s response: %s.KeySchema[%zu] needs AttributeName and KeyType HASH or RANGE", op,
                    member, i);
            goto out;
        }
        char ty = attr_type(defs, dst);
        if (!ty) {
            dp_errf(errstr, errstr_size,
                    "%s response: key '%.100s' has no S/N/B type in AttributeDefinitions", op, dst);
            goto out;
        }
        if (is_hash)
            out->key.partition_type = ty;
        else
            out->key.sort_type = ty;
    }
    if (!out->key.partition_key[0]) {
        dp_errf(errstr, errstr_size, "%s response: %s.KeySchema has no HASH key", op, member);
        goto out;
    }
    copy_str(out->status, sizeof(out->status), dp_json_get(t, "TableStatus"));
    copy_str(out->stream_arn, sizeof(out->stream_arn), dp_json_get(t, "LatestStreamArn"));
    const dp_json *ss = dp_json_get(t, "StreamSpecification");
    const dp_json *se = dp_json_get(ss, "StreamEnabled");
    if (!dp_json_is(se, DP_JSON_BOOL) || se->boolean)
        copy_str(out->stream_view_type, sizeof(out->stream_view_type), dp_json_get(ss, "StreamViewType"));
    /* BillingModeSummary is absent for tables that were always PROVISIONED. */
    if (copy_str(out->billing_mode, sizeof(out->billing_mode),
                 dp_json_get(dp_json_get(t, "BillingModeSummary"), "BillingMode")) != 0)
        snprintf(out->billing_mode, sizeof(out->billing_mode), "PROVISIONED");
    const dp_json *ic = dp_json_get(t, "ItemCount");
    if (dp_json_is(ic, DP_JSON_NUMBER)) {
        /* A whole number that fits int64; anything else leaves the count unset. */
        char *end = NULL;
        errno = 0;
        long long v = strtoll(ic->str, &end, 10);
        if (end != ic->str && *end == '\0' && errno != ERANGE)
            out->item_count = v;
    }
    rc = DDBPIPE_OK;
out:
    dp_json_doc_free(doc);
    return rc;
}

ddbpipe_result_t dp_ddb_parse_describe_table(const char *body, size_t len, ddbpipe_table_info_t *out,
                                             char *errstr, size_t errstr_size) {
    return parse_table_answer("DescribeTable", "Table", body, len, out, errstr, errstr_size);
}

ddbpipe_result_t dp_ddb_describe_table(dp_ddb *c, const char *table, ddbpipe_table_info_t *out,
                                       dp_ddb_result *res) {
    ddbpipe_result_t rc;
    dp_buf req;
    dp_buf_init(&req, 4096);
    if (!table || dp_buf_puts(&req, "{\"TableName\":") || dp_json_write_cstr(&req, table) ||
        dp_buf_putc(&req, '}')) {
        dp_buf_free(&req);
        dp_ddb_result_free(res);
        dp_ddb_result_init(res);
        res->result = DDBPIPE_ERR_INVALID_ARG;
        snprintf(res->message, sizeof(res->message), "table name missing or over 4 KB");
        return res->result;
    }
    rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, "DescribeTable", req.data, req.len, res);
    dp_buf_free(&req);
    if (rc != DDBPIPE_OK)
        return rc;
    rc = dp_ddb_parse_describe_table(res->body.data, res->body.len, out, res->message, sizeof(res->message));
    res->result = rc;
    return rc;
}

/* A whole non-negative number member of o; 0 when absent, negative or not
 * a whole number (OnDemandThroughput answers -1 for "no maximum"). */
static int64_t units_of(const dp_json *o, const char *name) {
    const dp_json *v = dp_json_get(o, name);
    if (!dp_json_is(v, DP_JSON_NUMBER))
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v->str, &end, 10);
    if (end == v->str || *end != '\0' || errno == ERANGE || n < 0)
        return 0;
    return (int64_t)n;
}

ddbpipe_result_t dp_ddb_parse_table_capacity(const char *body, size_t len, dp_ddb_table_capacity *out,
                                             char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_ERR_PARSE;
    dp_json_error jerr;
    memset(out, 0, sizeof(*out));
    dp_json_doc *doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!doc) {
        dp_errf(errstr, errstr_size, "DescribeTable response: invalid JSON at byte %zu: %s", jerr.offset,
                jerr.message);
        goto out;
    }
    const dp_json *t = dp_json_get(dp_json_root(doc), "Table");
    if (!dp_json_is(t, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "DescribeTable response: no Table object");
        goto out;
    }
    const char *bm = dp_json_get_string(dp_json_get(t, "BillingModeSummary"), "BillingMode");
    out->on_demand = bm && strcmp(bm, "PAY_PER_REQUEST") == 0;
    const dp_json *pt = dp_json_get(t, "ProvisionedThroughput");
    out->read_capacity_units = units_of(pt, "ReadCapacityUnits");
    out->write_capacity_units = units_of(pt, "WriteCapacityUnits");
    const dp_json *od = dp_json_get(t, "OnDemandThroughput");
    out->max_read_request_units = units_of(od, "MaxReadRequestUnits");
    out->max_write_request_units = units_of(od, "MaxWriteRequestUnits");
    rc = DDBPIPE_OK;
out:
    dp_json_doc_free(doc);
    return rc;
}

ddbpipe_result_t dp_ddb_parse_list_tables(const char *body, size_t len, dp_ddb_name_fn cb, void *opaque,
                                          char *last_evaluated, size_t last_size) {
    ddbpipe_result_t rc = DDBPIPE_ERR_PARSE;
    if (last_evaluated && last_size)
        last_evaluated[0] = 0;
    dp_json_doc *doc = dp_json_parse(body ? body : "", body ? len : 0, NULL);
    const dp_json *root = doc ? dp_json_root(doc) : NULL;
    const dp_json *names = dp_json_get(root, "TableNames");
    if (!dp_json_is(names, DP_JSON_ARRAY))
        goto out;
    for (size_t i = 0; i < names->count; i++) {
        const dp_json *n = dp_json_at(names, i);
        if (!dp_json_is(n, DP_JSON_STRING))
            goto out;
        if (cb)
            cb(n->str, opaque);
    }
    const dp_json *last = dp_json_get(root, "LastEvaluatedTableName");
    if (last && last_evaluated && last_size && copy_str(last_evaluated, last_size, last) != 0)
        goto out;
    rc = DDBPIPE_OK;
out:
    dp_json_doc_free(doc);
    return rc;
}

ddbpipe_result_t dp_ddb_list_tables_page(dp_ddb *c, const char *exclusive_start, int limit, dp_ddb_name_fn cb,
                                         void *opaque, char *last_evaluated, size_t last_size,
                                         dp_ddb_result *res) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_buf req;
    dp_buf_init(&req, 4096);
    int sep = 0;
    rc = dp_buf_putc(&req, '{');
    if (!rc && exclusive_start && exclusive_start[0]) {
        rc = dp_buf_puts(&req, "\"ExclusiveStartTableName\":");
        if (!rc)
            rc = dp_json_write_cstr(&req, exclusive_start);
        sep = 1;
    }
    if (!rc && limit > 0)
        rc = dp_buf_printf(&req, "%s\"Limit\":%d", sep ? "," : "", limit);
    if (!rc)
        rc = dp_buf_putc(&req, '}');
    if (rc) {
        dp_buf_free(&req);
        return rc;
    }
    rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, "ListTables", req.data, req.len, res);
    dp_buf_free(&req);
    if (rc != DDBPIPE_OK)
        return rc;
    rc = dp_ddb_parse_list_tables(res->body.data, res->body.len, cb, opaque, last_evaluated, last_size);
    if (rc != DDBPIPE_OK)
        snprintf(res->message, sizeof(res->message), "ListTables response: malformed JSON");
    res->result = rc;
    return rc;
}

/* {"AttributeName":name,"AttributeType":"S"} */
static ddbpipe_result_t write_attr_def(dp_buf *b, const char *name, char type) {
    char t[2] = {type, 0};
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"AttributeName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, name);
    if (!rc)
        rc = dp_buf_puts(b, ",\"AttributeType\":");
    if (!rc)
        rc = dp_json_write_cstr(b, t);
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

static ddbpipe_result_t write_key_elem(dp_buf *b, const char *name, const char *kind) {
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"AttributeName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, name);
    if (!rc)
        rc = dp_buf_printf(b, ",\"KeyType\":\"%s\"}", kind);
    return rc;
}

ddbpipe_result_t dp_ddb_build_create_table(const dp_ddb_create_table_req *req, dp_buf *b) {
    const ddbpipe_key_schema_t *ks = &req->key;
    ddbpipe_result_t rc;
    if (!req->table || !req->table[0] || !ks->partition_key[0] || !strchr("SNB", ks->partition_type) ||
        !ks->partition_type || (ks->sort_key[0] && (!ks->sort_type || !strchr("SNB", ks->sort_type))) ||
        (req->provisioned && (req->read_capacity_units < 1 || req->write_capacity_units < 1)))
        return DDBPIPE_ERR_INVALID_ARG;
    rc = dp_buf_puts(b, "{\"TableName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->table);
    if (!rc)
        rc = dp_buf_puts(b, ",\"AttributeDefinitions\":[");
    if (!rc)
        rc = write_attr_def(b, ks->partition_key, ks->partition_type);
    if (!rc && ks->sort_key[0]) {
        rc = dp_buf_putc(b, ',');
        if (!rc)
            rc = write_attr_def(b, ks->sort_key, ks->sort_type);
    }
    if (!rc)
        rc = dp_buf_puts(b, "],\"KeySchema\":[");
    if (!rc)
        rc = write_key_elem(b, ks->partition_key, "HASH");
    if (!rc && ks->sort_key[0]) {
        rc = dp_buf_putc(b, ',');
        if (!rc)
            rc = write_key_elem(b, ks->sort_key, "RANGE");
    }
    if (!rc)
        rc = dp_buf_printf(b, "],\"BillingMode\":\"%s\"",
                           req->provisioned ? "PROVISIONED" : "PAY_PER_REQUEST");
    if (!rc && req->provisioned)
        rc = dp_buf_printf(
            b, ",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":%lld,\"WriteCapacityUnits\":%lld}",
            (long long)req->read_capacity_units, (long long)req->write_capacity_units);
    if (!rc && req->stream_view_type && req->stream_view_type[0]) {
        rc = dp_buf_puts(b, ",\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->stream_view_type);
        if (!rc)
            rc = dp_buf_putc(b, '}');
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

/* A request that could not be built: the call is not sent. */
static ddbpipe_result_t build_failed(dp_ddb_result *res, const char *op, ddbpipe_result_t rc) {
    dp_ddb_result_free(res);
    dp_ddb_result_init(res);
    res->result = rc;
    snprintf(res->message, sizeof(res->message), "%s request: %s", op, ddbpipe_strerror(rc));
    return rc;
}

ddbpipe_result_t dp_ddb_create_table(dp_ddb *c, const dp_ddb_create_table_req *req, int *exists,
                                     dp_ddb_result *res) {
    dp_buf b;
    if (exists)
        *exists = 0;
    dp_buf_init(&b, (size_t)64 * 1024);
    ddbpipe_result_t rc = dp_ddb_build_create_table(req, &b);
    if (rc != DDBPIPE_OK) {
        dp_buf_free(&b);
        return build_failed(res, "CreateTable", rc);
    }
    rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, "CreateTable", b.data, b.len, res);
    dp_buf_free(&b);
    /* ResourceInUseException: the table exists (or is being created by
     * someone else); callers then describe it instead of failing. */
    if (rc != DDBPIPE_OK && exists && strcmp(res->error_code, "ResourceInUseException") == 0)
        *exists = 1;
    return rc;
}

void dp_ddb_parse_table_created(const char *body, size_t len, char *out, size_t n) {
    if (!out || !n)
        return;
    out[0] = '\0';
    dp_json_doc *d = dp_json_parse(body ? body : "", body ? len : 0, NULL);
    const dp_json *ct = d ? dp_json_get(dp_json_get(dp_json_root(d), "Table"), "CreationDateTime") : NULL;
    if (ct && ct->type == DP_JSON_NUMBER && ct->len < n)
        memcpy(out, ct->str, ct->len + 1);
    dp_json_doc_free(d);
}

ddbpipe_result_t dp_ddb_build_update_table(const dp_ddb_update_table_req *req, dp_buf *b) {
    int billing = req->billing_mode == DP_DDB_BILLING_PAY_PER_REQUEST ||
                  req->billing_mode == DP_DDB_BILLING_PROVISIONED;
    int throughput = req->read_capacity_units > 0 || req->write_capacity_units > 0;
    int stream = req->stream_view_type != NULL; /* "" disables */
    if (!req->table || !req->table[0] || (!billing && !throughput && !stream) ||
        (throughput && (req->read_capacity_units < 1 || req->write_capacity_units < 1)) ||
        (req->billing_mode == DP_DDB_BILLING_PAY_PER_REQUEST && throughput) ||
        (req->billing_mode == DP_DDB_BILLING_PROVISIONED && !throughput))
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"TableName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->table);
    if (!rc && billing)
        rc = dp_buf_printf(b, ",\"BillingMode\":\"%s\"",
                           req->billing_mode == DP_DDB_BILLING_PROVISIONED ? "PROVISIONED"
                                                                           : "PAY_PER_REQUEST");
    if (!rc && throughput)
        rc = dp_buf_printf(
            b, ",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":%lld,\"WriteCapacityUnits\":%lld}",
            (long long)req->read_capacity_units, (long long)req->write_capacity_units);
    if (!rc && stream && !req->stream_view_type[0])
        rc = dp_buf_puts(b, ",\"StreamSpecification\":{\"StreamEnabled\":false}");
    else if (!rc && stream) {
        rc = dp_buf_puts(b, ",\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->stream_view_type);
        if (!rc)
            rc = dp_buf_putc(b, '}');
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

ddbpipe_result_t dp_ddb_update_table(dp_ddb *c, const dp_ddb_update_table_req *req, ddbpipe_table_info_t *out,
                                     dp_ddb_result *res) {
    dp_buf b;
    dp_buf_init(&b, (size_t)64 * 1024);
    ddbpipe_result_t rc = dp_ddb_build_update_table(req, &b);
    if (rc != DDBPIPE_OK) {
        dp_buf_free(&b);
        return build_failed(res, "UpdateTable", rc);
    }
    rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, "UpdateTable", b.data, b.len, res);
    dp_buf_free(&b);
    if (rc != DDBPIPE_OK || !out)
        return rc;
    /* The answer is {"TableDescription": ...}, DescribeTable's Table. */
    rc = dp_ddb_parse_update_table(res->body.data, res->body.len, out, res->message, sizeof(res->message));
    res->result = rc;
    return rc;
}

ddbpipe_result_t dp_ddb_parse_update_table(const char *body, size_t len, ddbpipe_table_info_t *out,
                                           char *errstr, size_t errstr_size) {
    return parse_table_answer("UpdateTable", "TableDescription", body, len, out, errstr, errstr_size);
}
