/* Unit tests for the DynamoDB error model: error-body parsing, classify,
 * and the typed response parsers of ddb/ops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ddb/client.h"
#include "ddb/lease.h"
#include "ddb/ops.h"

static void parse(const char *body, char *code, char *msg) {
    dp_ddb_parse_error(body, strlen(body), code, 96, msg, 512);
}

static void test_parse_error_type_and_message(void **state) {
    (void)state;
    char code[96], msg[512];
    parse("{\"__type\":\"com.amazonaws.dynamodb.v20120810#ValidationException\",\"message\":\"bad key\"}",
          code, msg);
    assert_string_equal(code, "ValidationException");
    assert_string_equal(msg, "bad key");
    /* "Message" with a capital M, as some errors use */
    parse("{\"__type\":\"com.amazon.coral.validate#ThrottlingException\",\"Message\":\"slow down\"}", code,
          msg);
    assert_string_equal(code, "ThrottlingException");
    assert_string_equal(msg, "slow down");
    /* bare code, no prefix */
    parse("{\"__type\":\"ResourceNotFoundException\"}", code, msg);
    assert_string_equal(code, "ResourceNotFoundException");
    assert_string_equal(msg, "");
    /* code with a trailing ":http..." part */
    parse("{\"__type\":\"x#AccessDeniedException:http://internal\",\"message\":\"no\"}", code, msg);
    assert_string_equal(code, "AccessDeniedException");
}

static void test_parse_error_garbage_keeps_snippet(void **state) {
    (void)state;
    char code[96], msg[512];
    parse("<html>502 Bad Gateway\n</html>", code, msg);
    assert_string_equal(code, "");
    assert_string_equal(msg, "<html>502 Bad Gateway </html>"); /* control chars flattened */
    parse("", code, msg);
    assert_string_equal(code, "");
    assert_string_equal(msg, "");
    dp_ddb_parse_error(NULL, 0, code, sizeof(code), msg, sizeof(msg));
    assert_string_equal(code, "");
    /* truncation to the caller's buffer */
    char small[8];
    const char *pt = "{\"__type\":\"a#ProvisionedThroughputExceededException\"}";
    dp_ddb_parse_error(pt, strlen(pt), small, sizeof(small), msg, sizeof(msg));
    assert_string_equal(small, "Provisi");
}

typedef struct {
    long status;
    const char *code;
    ddbpipe_result_t rc;
    int retryable, throttled;
} case_t;

static void test_classify_table(void **state) {
    (void)state;
    static const case_t cases[] = {
        {200, "", DDBPIPE_OK, 0, 0},
        {400, "ProvisionedThroughputExceededException", DDBPIPE_ERR_SERVICE, 1, 1},
        {400, "ThrottlingException", DDBPIPE_ERR_SERVICE, 1, 1},
        {400, "RequestLimitExceeded", DDBPIPE_ERR_SERVICE, 1, 1},
        {400, "LimitExceededException", DDBPIPE_ERR_SERVICE, 1, 1},
        {400, "TransactionInProgressException", DDBPIPE_ERR_SERVICE, 1, 1},
        {500, "InternalServerError", DDBPIPE_ERR_SERVICE, 1, 0},
        {503, "ServiceUnavailable", DDBPIPE_ERR_SERVICE, 1, 0},
        {500, "", DDBPIPE_ERR_SERVICE, 1, 0},
        {502, "", DDBPIPE_ERR_SERVICE, 1, 0},
        {503, "", DDBPIPE_ERR_SERVICE, 1, 0},
        {504, "", DDBPIPE_ERR_SERVICE, 1, 0},
        {501, "", DDBPIPE_ERR_SERVICE, 0, 0},
        {429, "", DDBPIPE_ERR_SERVICE, 1, 1},
        {400, "ValidationException", DDBPIPE_ERR_VALIDATION, 0, 0},
        {400, "ConditionalCheckFailedException", DDBPIPE_ERR_SERVICE, 0, 0},
        {400, "TransactionCanceledException", DDBPIPE_ERR_SERVICE, 0, 0},
        {400, "ResourceInUseException", DDBPIPE_ERR_SERVICE, 0, 0},
        {400, "ResourceNotFoundException", DDBPIPE_ERR_NOT_FOUND, 0, 0},
        {400, "UnrecognizedClientException", DDBPIPE_ERR_AUTH, 0, 0},
        {403, "InvalidSignatureException", DDBPIPE_ERR_AUTH, 0, 0},
        {400, "IncompleteSignature", DDBPIPE_ERR_AUTH, 0, 0},
        {403, "MissingAuthenticationToken", DDBPIPE_ERR_AUTH, 0, 0},
        {400, "AccessDeniedException", DDBPIPE_ERR_AUTH, 0, 0},
        {400, "ExpiredTokenException", DDBPIPE_ERR_AUTH, 0, 0},
        {403, "", DDBPIPE_ERR_AUTH, 0, 0},
        {400, "TrimmedDataAccessException", DDBPIPE_ERR_DATA_LOSS, 0, 0},
        {400, "ExpiredIteratorException", DDBPIPE_ERR_SERVICE, 0, 0},
        {400, "", DDBPIPE_ERR_SERVICE, 0, 0},
        {500, "SomethingNew", DDBPIPE_ERR_SERVICE, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = -1, t = -1;
        ddbpipe_result_t rc = dp_ddb_classify(cases[i].status, cases[i].code, &r, &t);
        if (rc != cases[i].rc || r != cases[i].retryable || t != cases[i].throttled)
            fail_msg("case %zu (%ld %s): got rc=%d retry=%d throttle=%d", i, cases[i].status, cases[i].code,
                     rc, r, t);
    }
    /* NULL code and out pointers are fine */
    assert_int_equal(dp_ddb_classify(503, NULL, NULL, NULL), DDBPIPE_ERR_SERVICE);
}

static const char *k_describe =
    "{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"sort\",\"AttributeType\":\"N\"}],\"TableName\":\"t\","
    "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sort\",\"KeyType\":"
    "\"RANGE\"}],\"TableStatus\":\"ACTIVE\",\"ItemCount\":42,"
    "\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"},"
    "\"LatestStreamArn\":\"arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026\","
    "\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"}}}";

static void test_parse_describe_table(void **state) {
    (void)state;
    ddbpipe_table_info_t ti;
    char err[256] = "";
    assert_int_equal(dp_ddb_parse_describe_table(k_describe, strlen(k_describe), &ti, err, sizeof(err)),
                     DDBPIPE_OK);
    assert_string_equal(ti.key.partition_key, "id");
    assert_int_equal(ti.key.partition_type, 'S');
    assert_string_equal(ti.key.sort_key, "sort");
    assert_int_equal(ti.key.sort_type, 'N');
    assert_string_equal(ti.status, "ACTIVE");
    assert_string_equal(ti.stream_view_type, "NEW_AND_OLD_IMAGES");
    assert_string_equal(ti.stream_arn, "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026");
    assert_string_equal(ti.billing_mode, "PAY_PER_REQUEST");
    assert_int_equal(ti.item_count, 42);

    const char *hash_only =
        "{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":\"B\"}],"
        "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],\"TableStatus\":"
        "\"CREATING\"}}";
    assert_int_equal(dp_ddb_parse_describe_table(hash_only, strlen(hash_only), &ti, err, sizeof(err)),
                     DDBPIPE_OK);
    assert_string_equal(ti.key.partition_key, "k");
    assert_int_equal(ti.key.partition_type, 'B');
    assert_string_equal(ti.key.sort_key, "");
    assert_int_equal(ti.key.sort_type, 0);
    assert_string_equal(ti.billing_mode, "PROVISIONED");
    assert_string_equal(ti.stream_arn, "");
}

static void test_parse_describe_table_errors_name_the_field(void **state) {
    (void)state;
    ddbpipe_table_info_t ti;
    char err[256];
    const char *no_type = "{\"Table\":{\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}]}}";
    assert_int_equal(dp_ddb_parse_describe_table(no_type, strlen(no_type), &ti, err, sizeof(err)),
                     DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "AttributeDefinitions"));
    const char *no_table = "{}";
    assert_int_equal(dp_ddb_parse_describe_table(no_table, 2, &ti, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "Table"));
    assert_int_equal(dp_ddb_parse_describe_table("{", 1, &ti, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "invalid JSON"));
    const char *bad_kt = "{\"Table\":{\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"X\"}]}}";
    assert_int_equal(dp_ddb_parse_describe_table(bad_kt, strlen(bad_kt), &ti, err, sizeof(err)),
                     DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "KeySchema[0]"));
}

static void collect(const char *name, void *opaque) {
    char *acc = opaque;
    strcat(acc, name);
    strcat(acc, ";");
}

static void test_parse_list_tables(void **state) {
    (void)state;
    char acc[256] = "", last[64];
    const char *b = "{\"TableNames\":[\"a\",\"b\"],\"LastEvaluatedTableName\":\"b\"}";
    assert_int_equal(dp_ddb_parse_list_tables(b, strlen(b), collect, acc, last, sizeof(last)), DDBPIPE_OK);
    assert_string_equal(acc, "a;b;");
    assert_string_equal(last, "b");
    acc[0] = 0;
    b = "{\"TableNames\":[]}";
    assert_int_equal(dp_ddb_parse_list_tables(b, strlen(b), collect, acc, last, sizeof(last)), DDBPIPE_OK);
    assert_string_equal(acc, "");
    assert_string_equal(last, "");
    b = "{\"TableNames\":[1]}";
    assert_int_equal(dp_ddb_parse_list_tables(b, strlen(b), collect, acc, last, sizeof(last)),
                     DDBPIPE_ERR_PARSE);
}

/* The lease table's Scan page: items, owner absent = free, parents, paging key; malformed items are errors.
 */
static void test_parse_lease_page(void **state) {
    (void)state;
    const char *page =
        "{\"Items\":[{\"lease_key\":{\"S\":\"app/shardId-1\"},\"app\":{\"S\":\"app\"},\"shard\":{\"S\":"
        "\"shardId-1\"},\"owner\":{\"S\":\"host:7\"},\"counter\":{\"N\":\"42\"},\"checkpoint\":{\"S\":"
        "\"SHARD_END\"},\"parents\":{\"L\":[]},\"at_tip\":{\"BOOL\":false}},"
        "{\"lease_key\":{\"S\":\"app/shardId-2\"},\"shard\":{\"S\":\"shardId-2\"},\"counter\":{\"N\":\"0\"},"
        "\"checkpoint\":{\"S\":\"100200\"},\"parents\":{\"L\":[{\"S\":\"shardId-1\"}]},\"at_tip\":{\"BOOL\":"
        "true}}],"
        "\"LastEvaluatedKey\":{\"lease_key\":{\"S\":\"app/shardId-2\"}}}";
    dp_lease *v = NULL;
    size_t n = 0, cap = 0;
    dp_buf last;
    dp_buf_init(&last, 0);
    char err[256] = "";
    assert_int_equal(dp_lease_parse_page(page, strlen(page), &v, &n, &cap, 10, &last, err, sizeof err),
                     DDBPIPE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].owner, "host:7");
    assert_int_equal(v[0].counter, 42);
    assert_string_equal(v[0].checkpoint, DP_LEASE_SHARD_END);
    assert_string_equal(v[1].owner, "");
    assert_int_equal(v[1].n_parents, 1);
    assert_string_equal(v[1].parents[0], "shardId-1");
    assert_true(v[1].at_tip);
    assert_true(last.len > 0 && strstr(last.data, "app/shardId-2") != NULL);
    /* over the cap */
    n = 0;
    assert_int_equal(dp_lease_parse_page(page, strlen(page), &v, &n, &cap, 1, &last, err, sizeof err),
                     DDBPIPE_ERR_INVALID_ARG);
    /* a counter that is not a number names the fields */
    const char *bad =
        "{\"Items\":[{\"lease_key\":{\"S\":\"k\"},\"shard\":{\"S\":\"s\"},\"checkpoint\":{\"S\":"
        "\"x\"},\"counter\":{\"N\":\"4x\"}}]}";
    n = 0;
    assert_int_equal(dp_lease_parse_page(bad, strlen(bad), &v, &n, &cap, 10, &last, err, sizeof err),
                     DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "counter"));
    n = 0;
    assert_int_equal(dp_lease_parse_page("{", 1, &v, &n, &cap, 10, &last, err, sizeof err),
                     DDBPIPE_ERR_PARSE);
    /* snapshot leases: a segment's position (pos) and the snapshot's segment count */
    const char *snap =
        "{\"Items\":[{\"lease_key\":{\"S\":\"app/#segment/3\"},\"shard\":{\"S\":\"#segment/3\"},"
        "\"counter\":{\"N\":\"5\"},\"checkpoint\":{\"S\":\"KEY\"},\"pos\":{\"S\":"
        "\"{\\\"pk\\\":{\\\"S\\\":\\\"a\\\"}}\"}},{\"lease_key\":{\"S\":\"app/#snapshot\"},\"shard\":"
        "{\"S\":\"#snapshot\"},\"counter\":{\"N\":\"1\"},\"checkpoint\":{\"S\":\"READY\"},"
        "\"total_segments\":{\"N\":\"6\"}}]}";
    n = 0;
    assert_int_equal(dp_lease_parse_page(snap, strlen(snap), &v, &n, &cap, 10, &last, err, sizeof err),
                     DDBPIPE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].pos, "{\"pk\":{\"S\":\"a\"}}");
    assert_int_equal(v[0].segments, 0);
    assert_null(v[1].pos);
    assert_int_equal(v[1].segments, 6);
    dp_lease_list_free(v, n);
    v = NULL;
    cap = 0;
    n = 0;
    const char *badseg =
        "{\"Items\":[{\"lease_key\":{\"S\":\"k\"},\"shard\":{\"S\":\"#snapshot\"},\"checkpoint\":"
        "{\"S\":\"READY\"},\"counter\":{\"N\":\"1\"},\"total_segments\":{\"N\":\"0\"}}]}";
    assert_int_equal(dp_lease_parse_page(badseg, strlen(badseg), &v, &n, &cap, 10, &last, err, sizeof err),
                     DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "segments"));
    dp_lease_list_free(v, n);
    dp_buf_free(&last);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_error_type_and_message),
        cmocka_unit_test(test_parse_error_garbage_keeps_snippet),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_parse_describe_table),
        cmocka_unit_test(test_parse_describe_table_errors_name_the_field),
        cmocka_unit_test(test_parse_list_tables),
        cmocka_unit_test(test_parse_lease_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
