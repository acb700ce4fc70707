/* Unit tests for the typed DynamoDB operations of ddb/ops.h: each request
 * builder writes the body DynamoDB documents (checked by parsing it back),
 * and each response parser reads the fields the callers use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "ddb/ops.h"

/* Parse b as JSON; the test fails when it is not. */
static dp_json_doc *parse_body(const dp_buf *b) {
    dp_json_error jerr;
    dp_json_doc *doc = dp_json_parse(b->data, b->len, &jerr);
    assert_non_null(doc);
    return doc;
}

static void test_create_table_on_demand_with_stream(void **state) {
    (void)state;
    dp_ddb_create_table_req req = {.table = "t\"1", .stream_view_type = "NEW_IMAGE"};
    snprintf(req.key.partition_key, sizeof req.key.partition_key, "pk");
    req.key.partition_type = 'S';
    snprintf(req.key.sort_key, sizeof req.key.sort_key, "sk");
    req.key.sort_type = 'N';
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_ddb_build_create_table(&req, &b), DDBPIPE_OK);
    dp_json_doc *doc = parse_body(&b);
    const dp_json *r = dp_json_root(doc);
    assert_string_equal(dp_json_get_string(r, "TableName"), "t\"1");
    assert_string_equal(dp_json_get_string(r, "BillingMode"), "PAY_PER_REQUEST");
    assert_null(dp_json_get(r, "ProvisionedThroughput"));
    const dp_json *ks = dp_json_get(r, "KeySchema");
    assert_int_equal(ks->count, 2);
    assert_string_equal(dp_json_get_string(dp_json_at(ks, 0), "AttributeName"), "pk");
    assert_string_equal(dp_json_get_string(dp_json_at(ks, 0), "KeyType"), "HASH");
    assert_string_equal(dp_json_get_string(dp_json_at(ks, 1), "KeyType"), "RANGE");
    const dp_json *defs = dp_json_get(r, "AttributeDefinitions");
    assert_string_equal(dp_json_get_string(dp_json_at(defs, 1), "AttributeType"), "N");
    assert_string_equal(dp_json_get_string(dp_json_get(r, "StreamSpecification"), "StreamViewType"),
                        "NEW_IMAGE");
    dp_json_doc_free(doc);
    dp_buf_free(&b);
}

static void test_create_table_provisioned_and_invalid(void **state) {
    (void)state;
    dp_ddb_create_table_req req = {
        .table = "t", .provisioned = 1, .read_capacity_units = 5, .write_capacity_units = 7};
    snprintf(req.key.partition_key, sizeof req.key.partition_key, "id");
    req.key.partition_type = 'B';
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_ddb_build_create_table(&req, &b), DDBPIPE_OK);
    dp_json_doc *doc = parse_body(&b);
    const dp_json *r = dp_json_root(doc);
    assert_string_equal(dp_json_get_string(r, "BillingMode"), "PROVISIONED");
    const dp_json *pt = dp_json_get(r, "ProvisionedThroughput");
    assert_string_equal(dp_json_get(pt, "ReadCapacityUnits")->str, "5");
    assert_string_equal(dp_json_get(pt, "WriteCapacityUnits")->str, "7");
    assert_int_equal(dp_json_get(r, "KeySchema")->count, 1);
    assert_null(dp_json_get(r, "StreamSpecification"));
    dp_json_doc_free(doc);
    /* capacity below 1, a bad key type, no table: not built */
    req.write_capacity_units = 0;
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_create_table(&req, &b), DDBPIPE_ERR_INVALID_ARG);
    req.write_capacity_units = 1;
    req.key.partition_type = 'X';
    assert_int_equal(dp_ddb_build_create_table(&req, &b), DDBPIPE_ERR_INVALID_ARG);
    req.key.partition_type = 'S';
    req.table = "";
    assert_int_equal(dp_ddb_build_create_table(&req, &b), DDBPIPE_ERR_INVALID_ARG);
    dp_buf_free(&b);
}

static void test_read_parallel_scan_page(void **state) {
    (void)state;
    dp_ddb_read_req req = {.table = "t",
                           .segment = 2,
                           .total_segments = 4,
                           .consistent_read = 1,
                           .return_consumed_capacity = 1,
                           .exclusive_start_key = "{\"pk\":{\"S\":\"a\"}}"};
    assert_string_equal(dp_ddb_read_operation(&req), "Scan");
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_ddb_build_read(&req, &b), DDBPIPE_OK);
    assert_string_equal(b.data,
                        "{\"TableName\":\"t\",\"Segment\":2,\"TotalSegments\":4,\"ConsistentRead\":true,"
                        "\"ExclusiveStartKey\":{\"pk\":{\"S\":\"a\"}},\"ReturnConsumedCapacity\":\"TOTAL\"}");
    req.segment = 4; /* outside [0, 4) */
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_read(&req, &b), DDBPIPE_ERR_INVALID_ARG);
    dp_ddb_read_req q = {.table = "t",
                         .key_condition_expression = "#n0 = :v0",
                         .expression_attribute_names = "{\"#n0\":\"pk\"}",
                         .expression_attribute_values = "{\":v0\":{\"S\":\"x\"}}",
                         .limit = 10};
    assert_string_equal(dp_ddb_read_operation(&q), "Query");
    assert_int_equal(dp_ddb_build_read(&q, &b), DDBPIPE_OK);
    dp_json_doc *doc = parse_body(&b);
    const dp_json *r = dp_json_root(doc);
    assert_string_equal(dp_json_get_string(r, "KeyConditionExpression"), "#n0 = :v0");
    assert_string_equal(dp_json_get_string(dp_json_get(r, "ExpressionAttributeNames"), "#n0"), "pk");
    assert_string_equal(dp_json_get(r, "Limit")->str, "10");
    assert_null(dp_json_get(r, "ConsistentRead"));
    dp_json_doc_free(doc);
    dp_buf_free(&b);

    /* the answer: items, paging key; {} and no key end the paging */
    dp_ddb_read_page p;
    char err[256] = "";
    dp_ddb_read_page_init(&p);
    const char *ans = "{\"Items\":[{\"pk\":{\"S\":\"a\"}},{\"pk\":{\"S\":\"b\"}}],\"Count\":2,"
                      "\"LastEvaluatedKey\":{\"pk\":{\"S\":\"b\"}}}";
    assert_int_equal(dp_ddb_parse_read_page("Scan", ans, strlen(ans), &p, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(p.items->count, 2);
    assert_string_equal(p.last_evaluated_key.data, "{\"pk\":{\"S\":\"b\"}}");
    ans = "{\"Items\":[],\"LastEvaluatedKey\":{}}";
    assert_int_equal(dp_ddb_parse_read_page("Scan", ans, strlen(ans), &p, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(p.items->count, 0);
    assert_int_equal(p.last_evaluated_key.len, 0);
    ans = "{\"Count\":0}";
    assert_int_equal(dp_ddb_parse_read_page("Scan", ans, strlen(ans), &p, err, sizeof err), DDBPIPE_OK);
    assert_null(p.items);
    ans = "{\"Items\":{}}";
    assert_int_equal(dp_ddb_parse_read_page("Query", ans, strlen(ans), &p, err, sizeof err),
                     DDBPIPE_ERR_PARSE);
    assert_string_equal(err, "Query: Items is not an array");
    ans = "{\"Items\":[],\"LastEvaluatedKey\":\"k\"}";
    assert_int_equal(dp_ddb_parse_read_page("Scan", ans, strlen(ans), &p, err, sizeof err),
                     DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "LastEvaluatedKey"));
    assert_int_equal(dp_ddb_parse_read_page("Scan", "{\"It", 4, &p, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "invalid JSON"));
    dp_ddb_read_page_free(&p);
}

static void test_streams_requests(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_ddb_describe_stream_req d = {.stream_arn = "arn:s", .limit = 100, .exclusive_start_shard_id = "sh-1"};
    assert_int_equal(dp_ddb_build_describe_stream(&d, &b), DDBPIPE_OK);
    assert_string_equal(b.data, "{\"StreamArn\":\"arn:s\",\"Limit\":100,\"ExclusiveStartShardId\":\"sh-1\"}");
    dp_ddb_describe_stream_req c = {.stream_arn = "arn:s", .child_shards_of = "sh-2"};
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_describe_stream(&c, &b), DDBPIPE_OK);
    assert_string_equal(b.data,
                        "{\"StreamArn\":\"arn:s\",\"ShardFilter\":{\"Type\":\"CHILD_SHARDS\",\"ShardId\":"
                        "\"sh-2\"}}");
    dp_ddb_shard_iterator_req it = {.stream_arn = "arn:s",
                                    .shard_id = "sh-1",
                                    .type = DP_DDB_ITER_AFTER_SEQUENCE_NUMBER,
                                    .sequence_number = "42"};
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_get_shard_iterator(&it, &b), DDBPIPE_OK);
    assert_string_equal(b.data, "{\"StreamArn\":\"arn:s\",\"ShardId\":\"sh-1\",\"ShardIteratorType\":"
                                "\"AFTER_SEQUENCE_NUMBER\",\"SequenceNumber\":\"42\"}");
    it.type = DP_DDB_ITER_LATEST;
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_get_shard_iterator(&it, &b), DDBPIPE_OK);
    assert_null(strstr(b.data, "SequenceNumber"));
    assert_non_null(strstr(b.data, "\"LATEST\""));
    it.type = DP_DDB_ITER_AT_SEQUENCE_NUMBER;
    it.sequence_number = NULL; /* a sequence type needs the number */
    assert_int_equal(dp_ddb_build_get_shard_iterator(&it, &b), DDBPIPE_ERR_INVALID_ARG);
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_get_records("it\"1", 1000, &b), DDBPIPE_OK);
    assert_string_equal(b.data, "{\"ShardIterator\":\"it\\\"1\",\"Limit\":1000}");
    assert_int_equal(dp_ddb_build_get_records("", 1000, &b), DDBPIPE_ERR_INVALID_ARG);
    dp_buf_free(&b);
}

static void test_streams_answers(void **state) {
    (void)state;
    char err[256] = "";
    dp_ddb_stream_page sp;
    memset(&sp, 0, sizeof sp);
    const char *ans = "{\"StreamDescription\":{\"TableName\":\"t\",\"StreamStatus\":\"DISABLED\","
                      "\"Shards\":[{\"ShardId\":\"a\"}],\"LastEvaluatedShardId\":\"a\"}}";
    assert_int_equal(dp_ddb_parse_describe_stream(ans, strlen(ans), &sp, err, sizeof err), DDBPIPE_OK);
    assert_string_equal(sp.table_name, "t");
    assert_string_equal(sp.stream_status, "DISABLED");
    assert_int_equal(sp.shards->count, 1);
    assert_string_equal(sp.last_evaluated_shard_id, "a");
    ans = "{\"StreamDescription\":{\"Shards\":[],\"LastEvaluatedShardId\":\"\"}}";
    assert_int_equal(dp_ddb_parse_describe_stream(ans, strlen(ans), &sp, err, sizeof err), DDBPIPE_OK);
    assert_null(sp.last_evaluated_shard_id); /* "" is the last page too */
    ans = "{\"StreamDescription\":{\"Shards\":{}}}";
    assert_int_equal(dp_ddb_parse_describe_stream(ans, strlen(ans), &sp, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "Shards"));
    dp_ddb_stream_page_free(&sp);

    dp_buf it;
    dp_buf_init(&it, 0);
    ans = "{\"ShardIterator\":\"abc\"}";
    assert_int_equal(dp_ddb_parse_get_shard_iterator(ans, strlen(ans), &it, err, sizeof err), DDBPIPE_OK);
    assert_string_equal(it.data, "abc");
    ans = "{}"; /* nothing left to read */
    assert_int_equal(dp_ddb_parse_get_shard_iterator(ans, strlen(ans), &it, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(it.len, 0);
    assert_int_equal(dp_ddb_parse_get_shard_iterator("[", 1, &it, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "GetShardIterator: invalid JSON"));
    dp_buf_free(&it);

    dp_ddb_records_page rp;
    memset(&rp, 0, sizeof rp);
    ans = "{\"Records\":[{\"eventName\":\"INSERT\"}],\"NextShardIterator\":\"n\"}";
    assert_int_equal(dp_ddb_parse_get_records(ans, strlen(ans), &rp, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(rp.records->count, 1);
    assert_string_equal(rp.next_shard_iterator, "n");
    ans = "{\"Records\":[]}"; /* closed and read to its end */
    assert_int_equal(dp_ddb_parse_get_records(ans, strlen(ans), &rp, err, sizeof err), DDBPIPE_OK);
    assert_null(rp.next_shard_iterator);
    ans = "{\"Records\":1}";
    assert_int_equal(dp_ddb_parse_get_records(ans, strlen(ans), &rp, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_string_equal(err, "GetRecords: Records is not an array");
    dp_ddb_records_page_free(&rp);

    dp_ddb_result res;
    dp_ddb_result_init(&res);
    assert_int_equal(dp_ddb_stream_error_of(&res), DP_DDB_STREAM_ERR_NONE);
    res.result = DDBPIPE_ERR_SERVICE;
    snprintf(res.error_code, sizeof res.error_code, "ExpiredIteratorException");
    assert_int_equal(dp_ddb_stream_error_of(&res), DP_DDB_STREAM_ERR_EXPIRED_ITERATOR);
    snprintf(res.error_code, sizeof res.error_code, "TrimmedDataAccessException");
    assert_int_equal(dp_ddb_stream_error_of(&res), DP_DDB_STREAM_ERR_TRIMMED);
    res.result = DDBPIPE_ERR_NOT_FOUND;
    snprintf(res.error_code, sizeof res.error_code, "ResourceNotFoundException");
    assert_int_equal(dp_ddb_stream_error_of(&res), DP_DDB_STREAM_ERR_NOT_FOUND);
    snprintf(res.error_code, sizeof res.error_code, "InternalServerError");
    assert_int_equal(dp_ddb_stream_error_of(&res), DP_DDB_STREAM_ERR_OTHER);
    dp_ddb_result_free(&res);
}

static void test_batch_bodies(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 0);
    const char *item = "{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"1\"}}", *key = "{\"pk\":{\"S\":\"b\"}}";
    assert_int_equal(dp_ddb_batch_write_begin(&b, "t"), DDBPIPE_OK);
    assert_int_equal(dp_ddb_batch_write_add(&b, 1, 0, item, strlen(item)), DDBPIPE_OK);
    assert_int_equal(dp_ddb_batch_write_add(&b, 0, 1, key, strlen(key)), DDBPIPE_OK);
    assert_int_equal(dp_ddb_batch_write_end(&b, 1), DDBPIPE_OK);
    assert_string_equal(
        b.data, "{\"RequestItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":"
                "\"1\"}}}},{\"DeleteRequest\":{\"Key\":{\"pk\":{\"S\":\"b\"}}}}]},"
                "\"ReturnConsumedCapacity\":\"TOTAL\"}");
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_batch_get_begin(&b, "t", 1), DDBPIPE_OK);
    assert_int_equal(dp_ddb_batch_get_add(&b, 1, key, strlen(key)), DDBPIPE_OK);
    assert_int_equal(dp_ddb_batch_get_add(&b, 0, key, strlen(key)), DDBPIPE_OK);
    assert_int_equal(dp_ddb_batch_get_end(&b), DDBPIPE_OK);
    assert_string_equal(b.data,
                        "{\"RequestItems\":{\"t\":{\"ConsistentRead\":true,\"Keys\":[{\"pk\":{\"S\":\"b\"}},"
                        "{\"pk\":{\"S\":\"b\"}}]}}}");
    /* a transaction: the condition's unused names/values are not sent */
    const char *names = "{\"#s\":\"state\",\"#x\":\"unused\"}", *values = "{\":d\":{\"S\":\"done\"}}";
    dp_json_doc *nd = dp_json_parse(names, strlen(names), NULL);
    dp_json_doc *vd = dp_json_parse(values, strlen(values), NULL);
    assert_non_null(nd);
    assert_non_null(vd);
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_transact_write_begin(&b), DDBPIPE_OK);
    assert_int_equal(dp_ddb_transact_write_add(&b, 1, "t", 0, item, strlen(item), NULL, NULL, NULL),
                     DDBPIPE_OK);
    assert_int_equal(dp_ddb_transact_write_add(&b, 0, "t", 1, key, strlen(key), "#s <> :d", dp_json_root(nd),
                                               dp_json_root(vd)),
                     DDBPIPE_OK);
    assert_int_equal(dp_ddb_transact_write_end(&b, 0, "tok1"), DDBPIPE_OK);
    assert_string_equal(
        b.data, "{\"TransactItems\":[{\"Put\":{\"TableName\":\"t\",\"Item\":{\"pk\":{\"S\":\"a\"},\"v\":"
                "{\"N\":\"1\"}}}},{\"Delete\":{\"TableName\":\"t\",\"Key\":{\"pk\":{\"S\":\"b\"}},"
                "\"ConditionExpression\":\"#s <> :d\",\"ExpressionAttributeNames\":{\"#s\":\"state\"},"
                "\"ExpressionAttributeValues\":{\":d\":{\"S\":\"done\"}}}}],"
                "\"ClientRequestToken\":\"tok1\"}");
    dp_json_doc_free(nd);
    dp_json_doc_free(vd);
    /* past the buffer's cap: the error comes back, not a cut body */
    dp_buf small;
    dp_buf_init(&small, 40);
    assert_int_equal(dp_ddb_batch_write_begin(&small, "t"), DDBPIPE_OK);
    assert_int_not_equal(dp_ddb_batch_write_add(&small, 1, 0, item, strlen(item)), DDBPIPE_OK);
    dp_buf_free(&small);
    dp_buf_free(&b);
}

static void test_write_answers(void **state) {
    (void)state;
    dp_ddb_write_answer a;
    memset(&a, 0, sizeof a);
    char err[256] = "";
    const char *ans = "{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"}}}},"
                      "{\"DeleteRequest\":{\"Key\":{\"pk\":{\"S\":\"b\"}}}},{\"Other\":{}}]},"
                      "\"ConsumedCapacity\":[{\"TableName\":\"t\",\"CapacityUnits\":3}]}";
    assert_int_equal(dp_ddb_parse_batch_write(ans, strlen(ans), "t", &a, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(a.unprocessed->count, 3);
    assert_non_null(dp_json_get(dp_ddb_unprocessed_write_item(a.unprocessed->items[0]), "pk"));
    assert_non_null(dp_json_get(dp_ddb_unprocessed_write_item(a.unprocessed->items[1]), "pk"));
    assert_null(dp_ddb_unprocessed_write_item(a.unprocessed->items[2]));
    assert_non_null(dp_json_get(a.root, "ConsumedCapacity"));
    /* another table's leftovers are not ours; an empty body has none */
    assert_int_equal(dp_ddb_parse_batch_write(ans, strlen(ans), "u", &a, err, sizeof err), DDBPIPE_OK);
    assert_null(a.unprocessed);
    assert_int_equal(dp_ddb_parse_batch_write("", 0, "t", &a, err, sizeof err), DDBPIPE_OK);
    assert_null(a.unprocessed);
    assert_int_equal(dp_ddb_parse_batch_write("{\"Unpro", 7, "t", &a, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "BatchWriteItem: invalid JSON"));

    ans = "{\"Responses\":{\"t\":[{\"pk\":{\"S\":\"a\"}}]},\"UnprocessedKeys\":{\"t\":{\"Keys\":[{\"pk\":{"
          "\"S\":\"b\"}}]}}}";
    assert_int_equal(dp_ddb_parse_batch_get(ans, strlen(ans), "t", &a, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(a.responses->count, 1);
    assert_int_equal(a.unprocessed->count, 1);

    ans = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#TransactionCanceledException\","
          "\"CancellationReasons\":["
          "{\"Code\":\"None\"},{\"Code\":\"ConditionalCheckFailed\",\"Message\":\"The conditional request "
          "failed\"},"
          "{\"Code\":\"ThrottlingError\"},{\"Code\":\"ValidationError\"},{\"Code\":\"TransactionConflict\"},{"
          "}]}";
    assert_int_equal(dp_ddb_parse_transact_cancel(ans, strlen(ans), &a, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(a.cancellation_reasons->count, 6);
    const char *code = NULL, *msg = NULL;
    const dp_json *const *r = (const dp_json *const *)a.cancellation_reasons->items;
    assert_int_equal(dp_ddb_cancel_reason_of(r[0], &code, &msg), DP_DDB_CANCEL_NONE);
    assert_null(msg);
    assert_int_equal(dp_ddb_cancel_reason_of(r[1], &code, &msg), DP_DDB_CANCEL_CONDITION_FAILED);
    assert_string_equal(code, "ConditionalCheckFailed");
    assert_string_equal(msg, "The conditional request failed");
    assert_int_equal(dp_ddb_cancel_reason_of(r[2], NULL, NULL), DP_DDB_CANCEL_THROTTLED);
    assert_int_equal(dp_ddb_cancel_reason_of(r[3], NULL, NULL), DP_DDB_CANCEL_INVALID);
    assert_int_equal(dp_ddb_cancel_reason_of(r[4], NULL, NULL), DP_DDB_CANCEL_OTHER);
    assert_int_equal(dp_ddb_cancel_reason_of(r[5], &code, NULL), DP_DDB_CANCEL_UNKNOWN);
    assert_null(code);
    ans = "{\"__type\":\"x#TransactionCanceledException\"}";
    assert_int_equal(dp_ddb_parse_transact_cancel(ans, strlen(ans), &a, err, sizeof err), DDBPIPE_ERR_PARSE);

    ans = "{\"Attributes\":{\"pk\":{\"S\":\"a\"}}}";
    assert_int_equal(dp_ddb_parse_item_write(ans, strlen(ans), &a, err, sizeof err), DDBPIPE_OK);
    assert_non_null(a.attributes);
    assert_int_equal(dp_ddb_parse_item_write("{}", 2, &a, err, sizeof err), DDBPIPE_OK);
    assert_null(a.attributes);
    dp_ddb_write_answer_free(&a);

    dp_ddb_result res;
    dp_ddb_result_init(&res);
    assert_int_equal(dp_ddb_write_error_of(&res), DP_DDB_WRITE_ERR_NONE);
    res.result = DDBPIPE_ERR_SERVICE;
    snprintf(res.error_code, sizeof res.error_code, "ConditionalCheckFailedException");
    assert_int_equal(dp_ddb_write_error_of(&res), DP_DDB_WRITE_ERR_CONDITION_FAILED);
    snprintf(res.error_code, sizeof res.error_code, "TransactionCanceledException");
    assert_int_equal(dp_ddb_write_error_of(&res), DP_DDB_WRITE_ERR_TRANSACTION_CANCELED);
    snprintf(res.error_code, sizeof res.error_code, "IdempotentParameterMismatchException");
    assert_int_equal(dp_ddb_write_error_of(&res), DP_DDB_WRITE_ERR_IDEMPOTENT_MISMATCH);
    snprintf(res.error_code, sizeof res.error_code, "SerializationException");
    assert_int_equal(dp_ddb_write_error_of(&res), DP_DDB_WRITE_ERR_VALIDATION);
    res.error_code[0] = 0;
    res.result = DDBPIPE_ERR_VALIDATION;
    assert_int_equal(dp_ddb_write_error_of(&res), DP_DDB_WRITE_ERR_VALIDATION);
    dp_ddb_result_free(&res);
}

static void test_item_writes(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 0);
    const char *key = "{\"lease_key\":{\"S\":\"k\"}}";
    dp_ddb_item_write_req u = {.op = DP_DDB_UPDATE_ITEM,
                               .table = "leases",
                               .item = key,
                               .item_len = strlen(key),
                               .update_expression = "SET #c = #c + :one",
                               .condition_expression = "#c = :c",
                               .expression_attribute_names = "{\"#c\":\"counter\"}",
                               .expression_attribute_values =
                                   "{\":one\":{\"N\":\"1\"},\":c\":{\"N\":\"4\"}}"};
    assert_int_equal(dp_ddb_build_item_write(&u, &b), DDBPIPE_OK);
    assert_string_equal(
        b.data, "{\"TableName\":\"leases\",\"Key\":{\"lease_key\":{\"S\":\"k\"}},\"UpdateExpression\":"
                "\"SET #c = #c + :one\",\"ConditionExpression\":\"#c = :c\",\"ExpressionAttributeNames\":"
                "{\"#c\":\"counter\"},\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":c\":{\"N\":"
                "\"4\"}}}");
    /* an update without its expression, or names given both ways: not built */
    dp_ddb_item_write_req bad = u;
    bad.update_expression = NULL;
    assert_int_equal(dp_ddb_build_item_write(&bad, &b), DDBPIPE_ERR_INVALID_ARG);
    const char *names = "{\"#c\":\"counter\"}";
    dp_json_doc *nd = dp_json_parse(names, strlen(names), NULL);
    assert_non_null(nd);
    bad = u;
    bad.condition_names = dp_json_root(nd);
    assert_int_equal(dp_ddb_build_item_write(&bad, &b), DDBPIPE_ERR_INVALID_ARG);
    /* a delete with a configured condition sends only the names it uses */
    dp_ddb_item_write_req d = {.op = DP_DDB_DELETE_ITEM,
                               .table = "t",
                               .item = key,
                               .item_len = strlen(key),
                               .condition_expression = "attribute_exists(pk)",
                               .condition_names = dp_json_root(nd),
                               .return_values = "ALL_OLD"};
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_item_write(&d, &b), DDBPIPE_OK);
    assert_string_equal(
        b.data, "{\"TableName\":\"t\",\"Key\":{\"lease_key\":{\"S\":\"k\"}},\"ReturnValues\":\"ALL_OLD\","
                "\"ConditionExpression\":\"attribute_exists(pk)\"}");
    d.op = DP_DDB_PUT_ITEM;
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_item_write(&d, &b), DDBPIPE_OK);
    assert_non_null(strstr(b.data, "\"Item\":{\"lease_key\""));
    dp_json_doc_free(nd);
    dp_buf_free(&b);
}

static void test_update_table_and_get_item(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_ddb_update_table_req u = {.table = "t",
                                 .billing_mode = DP_DDB_BILLING_PROVISIONED,
                                 .read_capacity_units = 5,
                                 .write_capacity_units = 6,
                                 .stream_view_type = ""};
    assert_int_equal(dp_ddb_build_update_table(&u, &b), DDBPIPE_OK);
    assert_string_equal(b.data,
                        "{\"TableName\":\"t\",\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":{"
                        "\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":6},\"StreamSpecification\":{"
                        "\"StreamEnabled\":false}}");
    dp_ddb_update_table_req s2 = {.table = "t", .stream_view_type = "NEW_IMAGE"};
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_update_table(&s2, &b), DDBPIPE_OK);
    assert_string_equal(b.data, "{\"TableName\":\"t\",\"StreamSpecification\":{\"StreamEnabled\":true,"
                                "\"StreamViewType\":\"NEW_IMAGE\"}}");
    dp_ddb_update_table_req none = {.table = "t"}; /* nothing to change */
    assert_int_equal(dp_ddb_build_update_table(&none, &b), DDBPIPE_ERR_INVALID_ARG);
    dp_ddb_update_table_req ondemand_cap = {.table = "t",
                                            .billing_mode = DP_DDB_BILLING_PAY_PER_REQUEST,
                                            .read_capacity_units = 1,
                                            .write_capacity_units = 1};
    assert_int_equal(dp_ddb_build_update_table(&ondemand_cap, &b), DDBPIPE_ERR_INVALID_ARG);
    ddbpipe_table_info_t ti;
    char err[256] = "";
    const char *ans =
        "{\"TableDescription\":{\"TableName\":\"t\",\"TableStatus\":\"UPDATING\",\"KeySchema\":[{"
        "\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":"
        "\"pk\",\"AttributeType\":\"S\"}]}}";
    assert_int_equal(dp_ddb_parse_update_table(ans, strlen(ans), &ti, err, sizeof err), DDBPIPE_OK);
    assert_string_equal(ti.status, "UPDATING");
    assert_string_equal(ti.key.partition_key, "pk");
    assert_int_equal(dp_ddb_parse_update_table("{\"Table\":{}}", 12, &ti, err, sizeof err),
                     DDBPIPE_ERR_PARSE);
    assert_string_equal(err, "UpdateTable response: no TableDescription object");

    const char *key = "{\"pk\":{\"S\":\"a\"}}";
    dp_ddb_get_item_req g = {.table = "t", .key = key, .key_len = strlen(key), .consistent_read = 1};
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_build_get_item(&g, &b), DDBPIPE_OK);
    assert_string_equal(b.data,
                        "{\"TableName\":\"t\",\"Key\":{\"pk\":{\"S\":\"a\"}},\"ConsistentRead\":true}");
    dp_ddb_read_page p;
    dp_ddb_read_page_init(&p);
    ans = "{\"Item\":{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"2\"}}}";
    assert_int_equal(dp_ddb_parse_get_item(ans, strlen(ans), &p, err, sizeof err), DDBPIPE_OK);
    assert_string_equal(dp_json_get_string(dp_json_get(p.item, "v"), "N"), "2");
    assert_int_equal(dp_ddb_parse_get_item("{}", 2, &p, err, sizeof err), DDBPIPE_OK);
    assert_null(p.item); /* no item under that key */
    assert_int_equal(dp_ddb_parse_get_item("{\"Item\":[]}", 11, &p, err, sizeof err), DDBPIPE_ERR_PARSE);
    dp_ddb_read_page_free(&p);
    dp_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_table_on_demand_with_stream),
        cmocka_unit_test(test_create_table_provisioned_and_invalid),
        cmocka_unit_test(test_read_parallel_scan_page),
        cmocka_unit_test(test_streams_requests),
        cmocka_unit_test(test_streams_answers),
        cmocka_unit_test(test_batch_bodies),
        cmocka_unit_test(test_write_answers),
        cmocka_unit_test(test_item_writes),
        cmocka_unit_test(test_update_table_and_get_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
