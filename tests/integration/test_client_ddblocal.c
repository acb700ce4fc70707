/* Integration test of the DynamoDB client against DynamoDB Local (the
 * fixture's endpoint): CreateTable, DescribeTable, ListTables (paged),
 * BatchWriteItem, Scan (paged), DeleteTable, all signed with static keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/json.h"
#include "common/util.h"
#include "ddb/client.h"
#include "ddb/ops.h"

static char g_endpoint[512];
static dp_ddb *g_c;
static dp_cred_chain *g_chain;
static char g_table[64];

static int setup(void **state) {
    (void)state;
    const char *f = getenv("DDBPIPE_TEST_ENDPOINT_FILE");
    size_t n = 0;
    char *txt = f ? dp_read_file(f, sizeof(g_endpoint) - 1, &n) : NULL;
    if (!txt) {
        fprintf(stderr,
                "SKIPPED: no DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT_FILE unset or unreadable)\n");
        exit(77);
    }
    while (n && (txt[n - 1] == '\n' || txt[n - 1] == ' ' || txt[n - 1] == '\r'))
        txt[--n] = 0;
    snprintf(g_endpoint, sizeof(g_endpoint), "%s", txt);
    free(txt);
    dp_cred_provider *p = dp_cred_provider_static_new("fake", "fake", NULL);
    g_chain = dp_cred_chain_new_from(&p, 1, 0);
    char err[256];
    dp_ddb_options o;
    dp_ddb_options_init(&o);
    o.region = "us-east-1";
    o.endpoint_url = g_endpoint;
    o.creds = g_chain;
    g_c = dp_ddb_new(&o, err, sizeof(err));
    if (!g_c) {
        fprintf(stderr, "dp_ddb_new: %s\n", err);
        return -1;
    }
    snprintf(g_table, sizeof(g_table), "client_it_%d_%lld", (int)getpid(), (long long)(dp_now_ms() % 100000));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_c) {
        char body[128];
        dp_ddb_result r;
        dp_ddb_result_init(&r);
        snprintf(body, sizeof(body), "{\"TableName\":\"%s\"}", g_table);
        dp_ddb_call(g_c, DP_DDB_API_DYNAMODB, "DeleteTable", body, strlen(body), &r);
        dp_ddb_result_free(&r);
    }
    dp_ddb_destroy(g_c);
    dp_cred_chain_destroy(g_chain);
    return 0;
}

static void test_create_describe(void **state) {
    (void)state;
    char body[512];
    snprintf(body, sizeof(body),
             "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"},"
             "{\"AttributeName\":\"sort\",\"AttributeType\":\"N\"}],"
             "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sort\","
             "\"KeyType\":"
             "\"RANGE\"}],\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":\"NEW_AND_OLD_"
             "IMAGES\"}}",
             g_table);
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    ddbpipe_result_t rc = dp_ddb_call(g_c, DP_DDB_API_DYNAMODB, "CreateTable", body, strlen(body), &r);
    if (rc != DDBPIPE_OK)
        fail_msg("CreateTable: %s %s", r.error_code, r.message);
    /* creating it again is ResourceInUseException: a service error, not retried */
    rc = dp_ddb_call(g_c, DP_DDB_API_DYNAMODB, "CreateTable", body, strlen(body), &r);
    assert_int_equal(rc, DDBPIPE_ERR_SERVICE);
    assert_string_equal(r.error_code, "ResourceInUseException");
    assert_int_equal(r.attempts, 1);

    ddbpipe_table_info_t ti;
    int64_t deadline = dp_now_ms() + 30000;
    do {
        rc = dp_ddb_describe_table(g_c, g_table, &ti, &r);
        if (rc != DDBPIPE_OK)
            fail_msg("DescribeTable: %s", r.message);
    } while (strcmp(ti.status, "ACTIVE") != 0 && dp_now_ms() < deadline);
    assert_string_equal(ti.status, "ACTIVE");
    assert_string_equal(ti.key.partition_key, "id");
    assert_int_equal(ti.key.partition_type, 'S');
    assert_string_equal(ti.key.sort_key, "sort");
    assert_int_equal(ti.key.sort_type, 'N');
    assert_string_equal(ti.stream_view_type, "NEW_AND_OLD_IMAGES");
    assert_true(strlen(ti.stream_arn) > 0);
    assert_string_equal(ti.billing_mode, "PAY_PER_REQUEST");

    assert_int_equal(dp_ddb_describe_table(g_c, "no_such_table_here", &ti, &r), DDBPIPE_ERR_NOT_FOUND);
    assert_string_equal(r.error_code, "ResourceNotFoundException");
    dp_ddb_result_free(&r);
}

typedef struct {
    int found, names, page_names, max_page_names;
} list_seen;

static void find_name(const char *name, void *opaque) {
    list_seen *ls = opaque;
    if (strcmp(name, g_table) == 0)
        ls->found++;
    ls->names++;
    ls->page_names++;
}

static void test_list_tables_paged(void **state) {
    (void)state;
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    char last[256] = "";
    list_seen ls = {0, 0, 0, 0};
    int pages = 0;
    do {
        char start[256];
        snprintf(start, sizeof(start), "%s", last);
        ls.page_names = 0;
        assert_int_equal(dp_ddb_list_tables_page(g_c, start, 1, find_name, &ls, last, sizeof(last), &r),
                         DDBPIPE_OK);
        if (ls.page_names > ls.max_page_names)
            ls.max_page_names = ls.page_names;
        pages++;
    } while (last[0] && pages < 1000);
    /* Limit 1: one name a page, every table once (our table exactly once) */
    assert_int_equal(ls.found, 1);
    assert_int_equal(ls.max_page_names, 1);
    assert_true(pages >= ls.names);
    dp_ddb_result_free(&r);
}

static void test_batch_write_and_scan(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_buf_printf(&b, "{\"RequestItems\":{\"%s\":[", g_table);
    for (int i = 0; i < 25; i++)
        dp_buf_printf(&b,
                      "%s{\"PutRequest\":{\"Item\":{\"id\":{\"S\":\"k%02d\"},\"sort\":{\"N\":\"%d\"},"
                      "\"big\":{\"N\":\"12345678901234567890123456789012345678\"}}}}",
                      i ? "," : "", i % 5, i);
    dp_buf_puts(&b, "]}}");
    dp_ddb_result r;
    dp_ddb_result_init(&r);
    ddbpipe_result_t rc = dp_ddb_call(g_c, DP_DDB_API_DYNAMODB, "BatchWriteItem", b.data, b.len, &r);
    if (rc != DDBPIPE_OK)
        fail_msg("BatchWriteItem: %s %s", r.error_code, r.message);
    assert_non_null(strstr(r.body.data, "\"UnprocessedItems\":{}"));

    /* scan in pages of 10 until LastEvaluatedKey is absent */
    int items = 0, pages = 0, exact = 0;
    char *start = NULL;
    do {
        dp_buf_reset(&b);
        dp_buf_printf(&b, "{\"TableName\":\"%s\",\"Limit\":10%s%s}", g_table,
                      start ? ",\"ExclusiveStartKey\":" : "", start ? start : "");
        free(start);
        start = NULL;
        rc = dp_ddb_call(g_c, DP_DDB_API_DYNAMODB, "Scan", b.data, b.len, &r);
        if (rc != DDBPIPE_OK)
            fail_msg("Scan: %s %s", r.error_code, r.message);
        dp_json_doc *d = dp_json_parse(r.body.data, r.body.len, NULL);
        assert_non_null(d);
        const dp_json *its = dp_json_get(dp_json_root(d), "Items");
        assert_true(dp_json_is(its, DP_JSON_ARRAY));
        items += (int)its->count;
        for (size_t i = 0; i < its->count; i++) {
            const char *n = dp_json_get_string(dp_json_get(dp_json_at(its, i), "big"), "N");
            if (n && strcmp(n, "12345678901234567890123456789012345678") == 0)
                exact++;
        }
        const dp_json *lek = dp_json_get(dp_json_root(d), "LastEvaluatedKey");
        if (lek) {
            dp_buf kb;
            dp_buf_init(&kb, 0);
            dp_json_write(&kb, lek);
            start = dp_buf_steal(&kb);
        }
        dp_json_doc_free(d);
        pages++;
    } while (start && pages < 100);
    assert_int_equal(items, 25);
    assert_int_equal(exact, 25); /* 38 digits survive the round trip */
    assert_true(pages >= 3);
    dp_ddb_result_free(&r);
    dp_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_describe),
        cmocka_unit_test(test_list_tables_paged),
        cmocka_unit_test(test_batch_write_and_scan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
