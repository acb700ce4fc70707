/* Read operations: Query and Scan pages (one request builder, one page
 * parser, one paging loop for blocking callers) and GetItem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "ddb/ops.h"

const char *dp_ddb_read_operation(const dp_ddb_read_req *req) {
    return req->key_condition_expression && req->key_condition_expression[0] ? "Query" : "Scan";
}

static int has(const char *s) {
    return s && s[0];
}

/* ,"Name":"escaped text" */
static ddbpipe_result_t put_str(dp_buf *b, const char *name, const char *v) {
    ddbpipe_result_t rc = dp_buf_printf(b, ",\"%s\":", name);
    if (!rc)
        rc = dp_json_write_cstr(b, v);
    return rc;
}

/* ,"Name":{...} (JSON text the caller built) */
static ddbpipe_result_t put_raw(dp_buf *b, const char *name, const char *json) {
    ddbpipe_result_t rc = dp_buf_printf(b, ",\"%s\":", name);
    if (!rc)
        rc = dp_buf_puts(b, json);
    return rc;
}

ddbpipe_result_t dp_ddb_build_read(const dp_ddb_read_req *req, dp_buf *b) {
    ddbpipe_result_t rc;
    if (!has(req->table) || req->limit < 0 ||
        (req->total_segments && (req->segment < 0 || req->segment >= req->total_segments)))
        return DDBPIPE_ERR_INVALID_ARG;
    rc = dp_buf_puts(b, "{\"TableName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->table);
    if (!rc && req->total_segments > 0)
        rc = dp_buf_printf(b, ",\"Segment\":%d,\"TotalSegments\":%d", req->segment, req->total_segments);
    if (!rc && req->consistent_read)
        rc = dp_buf_puts(b, ",\"ConsistentRead\":true");
    if (!rc && has(req->key_condition_expression))
        rc = put_str(b, "KeyConditionExpression", req->key_condition_expression);
    if (!rc && has(req->filter_expression))
        rc = put_str(b, "FilterExpression", req->filter_expression);
    if (!rc && has(req->projection_expression))
        rc = put_str(b, "ProjectionExpression", req->projection_expression);
    if (!rc && has(req->expression_attribute_names))
        rc = put_raw(b, "ExpressionAttributeNames", req->expression_attribute_names);
    if (!rc && has(req->expression_attribute_values))
        rc = put_raw(b, "ExpressionAttributeValues", req->expression_attribute_values);
    if (!rc && req->limit > 0)
        rc = dp_buf_printf(b, ",\"Limit\":%lld", (long long)req->limit);
    if (!rc && has(req->exclusive_start_key))
        rc = put_raw(b, "ExclusiveStartKey", req->exclusive_start_key);
    if (!rc && req->return_consumed_capacity)
        rc = dp_buf_puts(b, ",\"ReturnConsumedCapacity\":\"TOTAL\"");
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

void dp_ddb_read_page_init(dp_ddb_read_page *p) {
    memset(p, 0, sizeof *p);
    dp_buf_init(&p->last_evaluated_key, 0);
}

void dp_ddb_read_page_free(dp_ddb_read_page *p) {
    if (!p)
        return;
    dp_json_doc_free(p->doc);
    dp_buf_free(&p->last_evaluated_key);
    p->doc = NULL;
    p->root = NULL;
    p->items = NULL;
    p->item = NULL;
}

ddbpipe_result_t dp_ddb_parse_read_page(const char *op, const char *body, size_t len, dp_ddb_read_page *p,
                                        char *errstr, size_t errstr_size) {
    dp_json_error jerr;
    dp_json_doc_free(p->doc);
    p->doc = NULL;
    p->root = NULL;
    p->items = NULL;
    dp_buf_reset(&p->last_evaluated_key);
    p->doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!p->doc) {
        dp_errf(errstr, errstr_size, "%s: invalid JSON answer at byte %zu: %s", op, jerr.offset,
                jerr.message);
        return DDBPIPE_ERR_PARSE;
    }
    p->root = dp_json_root(p->doc);
    if (!dp_json_is(p->root, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "%s: the answer is not a JSON object", op);
        return DDBPIPE_ERR_PARSE;
    }
    const dp_json *items = dp_json_get(p->root, "Items");
    if (items && !dp_json_is(items, DP_JSON_ARRAY)) {
        dp_errf(errstr, errstr_size, "%s: Items is not an array", op);
        return DDBPIPE_ERR_PARSE;
    }
    p->items = items;
    /* An absent or empty LastEvaluatedKey ends the paging. */
    const dp_json *lek = dp_json_get(p->root, "LastEvaluatedKey");
    if (lek && !dp_json_is(lek, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "%s: LastEvaluatedKey is not an object", op);
        return DDBPIPE_ERR_PARSE;
    }
    if (lek && lek->count > 0 && dp_json_write(&p->last_evaluated_key, lek) != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "%s: out of memory", op);
        return DDBPIPE_ERR_NOMEM;
    }
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_ddb_read_pages(dp_ddb *c, const dp_ddb_read_req *req, dp_ddb_page_fn cb, void *opaque,
                                   dp_ddb_result *res) {
    const char *op = dp_ddb_read_operation(req);
    dp_ddb_read_req r = *req;
    dp_ddb_read_page page;
    dp_buf body, start;
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_ddb_read_page_init(&page);
    dp_buf_init(&body, 0);
    dp_buf_init(&start, 0);
    if (has(req->exclusive_start_key) && dp_buf_puts(&start, req->exclusive_start_key) != DDBPIPE_OK) {
        rc = DDBPIPE_ERR_NOMEM;
        goto fail;
    }
    for (;;) {
        dp_buf_reset(&body);
        r.exclusive_start_key = start.len ? start.data : NULL;
        if ((rc = dp_ddb_build_read(&r, &body)) != DDBPIPE_OK)
            goto fail;
        dp_ddb_result_free(res);
        dp_ddb_result_init(res);
        rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, op, body.data, body.len, res);
        if (rc != DDBPIPE_OK)
            goto out;
        rc = dp_ddb_parse_read_page(op, res->body.data, res->body.len, &page, res->message,
                                    sizeof res->message);
        res->result = rc;
        if (rc != DDBPIPE_OK)
            goto out;
        int more = page.last_evaluated_key.len > 0;
        if (more && start.len && strcmp(start.data, page.last_evaluated_key.data) == 0) {
            rc = res->result = DDBPIPE_ERR_SERVICE;
            snprintf(res->message, sizeof res->message, "%s: paging did not advance past %.200s", op,
                     start.data);
            goto out;
        }
        if (cb && cb(&page, opaque) != 0)
            goto out; /* the caller has what it needs */
        if (!more)
            goto out;
        dp_buf_reset(&start);
        if (dp_buf_append(&start, page.last_evaluated_key.data, page.last_evaluated_key.len) != DDBPIPE_OK) {
            rc = DDBPIPE_ERR_NOMEM;
            goto fail;
        }
    }
fail:
    dp_ddb_result_free(res);
    dp_ddb_result_init(res);
    res->result = rc;
    snprintf(res->message, sizeof res->message, "%s request: %s", op, ddbpipe_strerror(rc));
out:
    dp_ddb_read_page_free(&page);
    dp_buf_free(&body);
    dp_buf_free(&start);
    return rc;
}

ddbpipe_result_t dp_ddb_build_get_item(const dp_ddb_get_item_req *req, dp_buf *b) {
    if (!has(req->table) || !req->key || !req->key_len)
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"TableName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->table);
    if (!rc)
        rc = dp_buf_puts(b, ",\"Key\":");
    if (!rc)
        rc = dp_buf_append(b, req->key, req->key_len);
    if (!rc && req->consistent_read)
        rc = dp_buf_puts(b, ",\"ConsistentRead\":true");
    if (!rc && has(req->projection_expression))
        rc = put_str(b, "ProjectionExpression", req->projection_expression);
    if (!rc && has(req->expression_attribute_names))
        rc = put_raw(b, "ExpressionAttributeNames", req->expression_attribute_names);
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

ddbpipe_result_t dp_ddb_parse_get_item(const char *body, size_t len, dp_ddb_read_page *p, char *errstr,
                                       size_t errstr_size) {
    dp_json_error jerr;
    dp_ddb_read_page_free(p);
    p->doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!p->doc) {
        dp_errf(errstr, errstr_size, "GetItem: invalid JSON answer at byte %zu: %s", jerr.offset,
                jerr.message);
        return DDBPIPE_ERR_PARSE;
    }
    p->root = dp_json_root(p->doc);
    if (!dp_json_is(p->root, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "GetItem: the answer is not a JSON object");
        return DDBPIPE_ERR_PARSE;
    }
    const dp_json *item = dp_json_get(p->root, "Item");
    if (item && !dp_json_is(item, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "GetItem: Item is not an object");
        return DDBPIPE_ERR_PARSE;
    }
    p->item = item;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_ddb_get_item(dp_ddb *c, const dp_ddb_get_item_req *req, dp_ddb_read_page *p,
                                 dp_ddb_result *res) {
    dp_buf b;
    dp_buf_init(&b, 0);
    ddbpipe_result_t rc = dp_ddb_build_get_item(req, &b);
    if (rc != DDBPIPE_OK) {
        dp_buf_free(&b);
        dp_ddb_result_free(res);
        dp_ddb_result_init(res);
        res->result = rc;
        snprintf(res->message, sizeof res->message, "GetItem request: %s", ddbpipe_strerror(rc));
        return rc;
    }
    rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, "GetItem", b.data, b.len, res);
    dp_buf_free(&b);
    if (rc != DDBPIPE_OK)
        return rc;
    rc = dp_ddb_parse_get_item(res->body.data, res->body.len, p, res->message, sizeof res->message);
    res->result = rc;
    return rc;
}
