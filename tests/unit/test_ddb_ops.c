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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_table_on_demand_with_stream),
        cmocka_unit_test(test_create_table_provisioned_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
