/* Write operations: BatchWriteItem, BatchGetItem (the sink's merge reads),
 * TransactWriteItems, and conditional single-item PutItem / UpdateItem /
 * DeleteItem. The batch builders append straight into the caller's request
 * buffer (the sink's hot path: no copy of an item besides that one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "ddb/condition.h"
#include "ddb/ops.h"

/* ---- BatchWriteItem */

ddbpipe_result_t dp_ddb_batch_write_begin(dp_buf *b, const char *table) {
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"RequestItems\":{");
    if (!rc)
        rc = dp_json_write_cstr(b, table);
    if (!rc)
        rc = dp_buf_puts(b, ":[");
    return rc;
}

ddbpipe_result_t dp_ddb_batch_write_add(dp_buf *b, int first, int is_delete, const char *json, size_t len) {
    ddbpipe_result_t rc = first ? DDBPIPE_OK : dp_buf_putc(b, ',');
    if (!rc)
        rc = dp_buf_puts(b, is_delete ? "{\"DeleteRequest\":{\"Key\":" : "{\"PutRequest\":{\"Item\":");
    if (!rc)
        rc = dp_buf_append(b, json, len);
    if (!rc)
        rc = dp_buf_puts(b, "}}");
    return rc;
}

ddbpipe_result_t dp_ddb_batch_write_end(dp_buf *b, int return_consumed_capacity) {
    ddbpipe_result_t rc = dp_buf_puts(b, "]}");
    if (!rc && return_consumed_capacity)
        rc = dp_buf_puts(b, ",\"ReturnConsumedCapacity\":\"TOTAL\"");
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

/* ---- BatchGetItem */

ddbpipe_result_t dp_ddb_batch_get_begin(dp_buf *b, const char *table, int consistent_read) {
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"RequestItems\":{");
    if (!rc)
        rc = dp_json_write_cstr(b, table);
    if (!rc)
        rc = dp_buf_puts(b, consistent_read ? ":{\"ConsistentRead\":true,\"Keys\":[" : ":{\"Keys\":[");
    return rc;
}

ddbpipe_result_t dp_ddb_batch_get_add(dp_buf *b, int first, const char *key, size_t len) {
    ddbpipe_result_t rc = first ? DDBPIPE_OK : dp_buf_putc(b, ',');
    if (!rc)
        rc = dp_buf_append(b, key, len);
    return rc;
}

ddbpipe_result_t dp_ddb_batch_get_end(dp_buf *b) {
    return dp_buf_puts(b, "]}}}");
}

/* ---- TransactWriteItems */

ddbpipe_result_t dp_ddb_transact_write_begin(dp_buf *b) {
    return dp_buf_puts(b, "{\"TransactItems\":[");
}

ddbpipe_result_t dp_ddb_transact_write_add(dp_buf *b, int first, const char *table, int is_delete,
                                           const char *json, size_t len, const char *condition_expression,
                                           const dp_json *names, const dp_json *values) {
    ddbpipe_result_t rc = first ? DDBPIPE_OK : dp_buf_putc(b, ',');
    if (!rc)
        rc = dp_buf_puts(b, is_delete ? "{\"Delete\":{\"TableName\":" : "{\"Put\":{\"TableName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, table);
    if (!rc)
        rc = dp_buf_puts(b, is_delete ? ",\"Key\":" : ",\"Item\":");
    if (!rc)
        rc = dp_buf_append(b, json, len);
    if (!rc)
        rc = dp_ddb_put_condition(b, condition_expression, names, values);
    if (!rc)
        rc = dp_buf_puts(b, "}}");
    return rc;
}

ddbpipe_result_t dp_ddb_transact_write_end(dp_buf *b, int return_consumed_capacity,
                                           const char *client_request_token) {
    ddbpipe_result_t rc = dp_buf_putc(b, ']');
    if (!rc && return_consumed_capacity)
        rc = dp_buf_puts(b, ",\"ReturnConsumedCapacity\":\"TOTAL\"");
    if (!rc && client_request_token && client_request_token[0]) {
        rc = dp_buf_puts(b, ",\"ClientRequestToken\":");
        if (!rc)
            rc = dp_json_write_cstr(b, client_request_token);
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

/* ---- answers */

void dp_ddb_write_answer_free(dp_ddb_write_answer *a) {
    if (!a)
        return;
    dp_json_doc_free(a->doc);
    memset(a, 0, sizeof *a);
}

static ddbpipe_result_t parse_root(const char *op, const char *body, size_t len, dp_ddb_write_answer *a,
                                   char *errstr, size_t errstr_size) {
    dp_json_error jerr;
    dp_json_doc_free(a->doc);
    memset(a, 0, sizeof *a);
    a->doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!a->doc) {
        dp_errf(errstr, errstr_size, "%s: invalid JSON answer at byte %zu: %s", op, jerr.offset,
                jerr.message);
        return DDBPIPE_ERR_PARSE;
    }
    a->root = dp_json_root(a->doc);
    if (!dp_json_is(a->root, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "%s: the answer is not a JSON object", op);
        return DDBPIPE_ERR_PARSE;
    }
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_ddb_parse_batch_write(const char *body, size_t len, const char *table,
                                          dp_ddb_write_answer *a, char *errstr, size_t errstr_size) {
    /* An empty body (some test doubles) is an answer with nothing left over. */
    ddbpipe_result_t rc = parse_root("BatchWriteItem", body && len ? body : "{}", body && len ? len : 2, a,
                                     errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        return rc;
    const dp_json *un = dp_json_get(dp_json_get(a->root, "UnprocessedItems"), table);
    a->unprocessed = dp_json_is(un, DP_JSON_ARRAY) ? un : NULL;
    return DDBPIPE_OK;
}

const dp_json *dp_ddb_unprocessed_write_item(const dp_json *request) {
    const dp_json *it = dp_json_get(dp_json_get(request, "PutRequest"), "Item");
    return it ? it : dp_json_get(dp_json_get(request, "DeleteRequest"), "Key");
}

ddbpipe_result_t dp_ddb_parse_batch_get(const char *body, size_t len, const char *table,
                                        dp_ddb_write_answer *a, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = parse_root("BatchGetItem", body, len, a, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        return rc;
    const dp_json *items = dp_json_get(dp_json_get(a->root, "Responses"), table);
    const dp_json *unk = dp_json_get(dp_json_get(dp_json_get(a->root, "UnprocessedKeys"), table), "Keys");
    a->responses = dp_json_is(items, DP_JSON_ARRAY) ? items : NULL;
    a->unprocessed = dp_json_is(unk, DP_JSON_ARRAY) ? unk : NULL;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_ddb_parse_transact_cancel(const char *body, size_t len, dp_ddb_write_answer *a,
                                              char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = parse_root("TransactWriteItems", body, len, a, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        return rc;
    const dp_json *r = dp_json_get(a->root, "CancellationReasons");
    if (!dp_json_is(r, DP_JSON_ARRAY)) {
        dp_errf(errstr, errstr_size, "TransactWriteItems: no CancellationReasons array");
        return DDBPIPE_ERR_PARSE;
    }
    a->cancellation_reasons = r;
    return DDBPIPE_OK;
}

dp_ddb_cancel_reason dp_ddb_cancel_reason_of(const dp_json *reason, const char **code, const char **message) {
    const char *c = dp_json_get_string(reason, "Code");
    if (code)
        *code = c;
    if (message)
        *message = dp_json_get_string(reason, "Message");
    if (!c)
        return DP_DDB_CANCEL_UNKNOWN;
    if (strcmp(c, "None") == 0)
        return DP_DDB_CANCEL_NONE;
    if (strcmp(c, "ConditionalCheckFailed") == 0)
        return DP_DDB_CANCEL_CONDITION_FAILED;
    if (strcmp(c, "ValidationError") == 0 || strcmp(c, "ItemCollectionSizeLimitExceeded") == 0)
        return DP_DDB_CANCEL_INVALID;
    if (strcmp(c, "ThrottlingError") == 0 || strcmp(c, "ProvisionedThroughputExceeded") == 0)
        return DP_DDB_CANCEL_THROTTLED;
    return DP_DDB_CANCEL_OTHER; /* TransactionConflict, ... */
}

dp_ddb_write_error dp_ddb_write_error_of(const dp_ddb_result *res) {
    if (!res || res->result == DDBPIPE_OK)
        return DP_DDB_WRITE_ERR_NONE;
    if (strcmp(res->error_code, "ConditionalCheckFailedException") == 0)
        return DP_DDB_WRITE_ERR_CONDITION_FAILED;
    if (strcmp(res->error_code, "TransactionCanceledException") == 0)
        return DP_DDB_WRITE_ERR_TRANSACTION_CANCELED;
    if (strcmp(res->error_code, "IdempotentParameterMismatchException") == 0)
        return DP_DDB_WRITE_ERR_IDEMPOTENT_MISMATCH;
    if (res->result == DDBPIPE_ERR_VALIDATION || strcmp(res->error_code, "ValidationException") == 0 ||
        strcmp(res->error_code, "SerializationException") == 0)
        return DP_DDB_WRITE_ERR_VALIDATION;
    return DP_DDB_WRITE_ERR_OTHER;
}

/* ---- single-item conditional writes */

static const char *item_op_name(dp_ddb_item_op op) {
    return op == DP_DDB_PUT_ITEM ? "PutItem" : op == DP_DDB_UPDATE_ITEM ? "UpdateItem" : "DeleteItem";
}

ddbpipe_result_t dp_ddb_build_item_write(const dp_ddb_item_write_req *req, dp_buf *b) {
    int raw = (req->expression_attribute_names && req->expression_attribute_names[0]) ||
              (req->expression_attribute_values && req->expression_attribute_values[0]);
    if (!req->table || !req->table[0] || !req->item || !req->item_len ||
        (req->op != DP_DDB_PUT_ITEM && req->op != DP_DDB_UPDATE_ITEM && req->op != DP_DDB_DELETE_ITEM) ||
        (req->op == DP_DDB_UPDATE_ITEM) != (req->update_expression && req->update_expression[0]) ||
        (raw && (req->condition_names || req->condition_values)))
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"TableName\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->table);
    if (!rc)
        rc = dp_buf_puts(b, req->op == DP_DDB_PUT_ITEM ? ",\"Item\":" : ",\"Key\":");
    if (!rc)
        rc = dp_buf_append(b, req->item, req->item_len);
    if (!rc && req->update_expression && req->update_expression[0]) {
        rc = dp_buf_puts(b, ",\"UpdateExpression\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->update_expression);
    }
    if (!rc && req->return_values && req->return_values[0]) {
        rc = dp_buf_puts(b, ",\"ReturnValues\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->return_values);
    }
    if (!rc && raw) {
        /* the caller wrote every placeholder of both expressions */
        if (req->condition_expression && req->condition_expression[0]) {
            rc = dp_buf_puts(b, ",\"ConditionExpression\":");
            if (!rc)
                rc = dp_json_write_cstr(b, req->condition_expression);
        }
        if (!rc && req->expression_attribute_names && req->expression_attribute_names[0])
            rc = dp_buf_printf(b, ",\"ExpressionAttributeNames\":%s", req->expression_attribute_names);
        if (!rc && req->expression_attribute_values && req->expression_attribute_values[0])
            rc = dp_buf_printf(b, ",\"ExpressionAttributeValues\":%s", req->expression_attribute_values);
    } else if (!rc) {
        rc = dp_ddb_put_condition(b, req->condition_expression, req->condition_names, req->condition_values);
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

ddbpipe_result_t dp_ddb_parse_item_write(const char *body, size_t len, dp_ddb_write_answer *a, char *errstr,
                                         size_t errstr_size) {
    ddbpipe_result_t rc =
        parse_root("item write", body && len ? body : "{}", body && len ? len : 2, a, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        return rc;
    const dp_json *at = dp_json_get(a->root, "Attributes");
    a->attributes = dp_json_is(at, DP_JSON_OBJECT) && at->count > 0 ? at : NULL;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_ddb_write_item(dp_ddb *c, const dp_ddb_item_write_req *req, int *condition_failed,
                                   dp_ddb_write_answer *answer, dp_ddb_result *res) {
    const char *op = item_op_name(req->op);
    dp_buf b;
    if (condition_failed)
        *condition_failed = 0;
    dp_buf_init(&b, 0);
    ddbpipe_result_t rc = dp_ddb_build_item_write(req, &b);
    if (rc != DDBPIPE_OK) {
        dp_buf_free(&b);
        dp_ddb_result_free(res);
        dp_ddb_result_init(res);
        res->result = rc;
        snprintf(res->message, sizeof res->message, "%s request: %s", op, ddbpipe_strerror(rc));
        return rc;
    }
    rc = dp_ddb_call(c, DP_DDB_API_DYNAMODB, op, b.data, b.len, res);
    dp_buf_free(&b);
    if (rc != DDBPIPE_OK) {
        if (condition_failed && dp_ddb_write_error_of(res) == DP_DDB_WRITE_ERR_CONDITION_FAILED)
            *condition_failed = 1;
        return rc;
    }
    if (answer) {
        rc =
            dp_ddb_parse_item_write(res->body.data, res->body.len, answer, res->message, sizeof res->message);
        res->result = rc;
    }
    return rc;
}
