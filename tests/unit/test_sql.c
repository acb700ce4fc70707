/* ddbpipe sql, the parts without a service: statement splitting, literal
 * typing, Query/Scan bodies, the text table, and the errors ddbpipe_sql_run
 * reports before any request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "sql/sql.h"

static void test_split(void **state) {
    (void)state;
    const char *t =
        "-- head; comment\nSELECT 'a;b' FROM t;\n\n /* x; */ ;\nINSERT INTO t VALUES (\"q;\", `c;`);\n"
        "DELETE FROM t WHERE k = 'it''s;'  -- tail;\n";
    dp_sql_span *s = NULL;
    size_t n = 0;
    assert_int_equal(dp_sql_split(t, strlen(t), &s, &n), DDBPIPE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].line, 2);
    assert_true(strncmp(t + s[0].offset, "SELECT 'a;b' FROM t", s[0].length) == 0);
    assert_int_equal(s[1].line, 5);
    assert_int_equal(s[2].line, 6);
    assert_true(strncmp(t + s[2].offset, "DELETE FROM t WHERE k = 'it''s;'", 32) == 0);
    assert_int_equal(dp_sql_statement_at_line(s, n, 1), 1);
    assert_int_equal(dp_sql_statement_at_line(s, n, 5), 2);
    assert_int_equal(dp_sql_statement_at_line(s, n, 6), 3);
    free(s);
    assert_int_equal(dp_sql_split("  -- only\n ; ;", 14, &s, &n), DDBPIPE_OK);
    assert_int_equal(n, 0);
    free(s);
}

static char *lit(dp_sql_value_kind k, const char *text, const char *type, char *err, size_t n) {
    dp_coltype ct;
    dp_sql_value v = {k, (char *)text};
    char e[128];
    if (type)
        assert_int_equal(dp_coltype_parse(type, &ct, e, sizeof e), 0);
    dp_json_doc *doc = dp_json_doc_new();
    dp_json *j = dp_sql_literal_plain(doc, &v, type ? &ct : NULL, "c", err, n);
    char *out = NULL;
    if (j) {
        dp_buf b;
        dp_buf_init(&b, 0);
        assert_int_equal(dp_json_write(&b, j), DDBPIPE_OK);
        out = dp_buf_steal(&b);
    }
    dp_json_doc_free(doc);
    return out;
}

static void expect_lit(dp_sql_value_kind k, const char *text, const char *type, const char *want) {
    char err[256] = "";
    char *got = lit(k, text, type, err, sizeof err);
    if (!got)
        fail_msg("%s as %s: %s", text ? text : "NULL", type ? type : "auto", err);
    assert_string_equal(got, want);
    free(got);
}

static void test_literals(void **state) {
    (void)state;
    expect_lit(DP_SQLV_NUMBER, "12345678901234567890123456789012345678", "DECIMAL(38,0)",
               "12345678901234567890123456789012345678");
    expect_lit(DP_SQLV_NUMBER, "42", "STRING", "\"42\"");
    expect_lit(DP_SQLV_STRING, "17", "BIGINT", "\"17\""); /* numeric strings: the sink stores N */
    expect_lit(DP_SQLV_STRING, "TRUE", "BOOLEAN", "true");
    expect_lit(DP_SQLV_NUMBER, "0", "BOOLEAN", "false");
    expect_lit(DP_SQLV_STRING, "[1, \"a\"]", "ARRAY<VARIANT>", "[1,\"a\"]");
    expect_lit(DP_SQLV_STRING, "{\"k\": 1.50}", "MAP<VARCHAR, DECIMAL>", "{\"k\":1.50}");
    expect_lit(DP_SQLV_NULL, NULL, "BIGINT", "null");
    expect_lit(DP_SQLV_STRING, "x", NULL, "\"x\"");
    expect_lit(DP_SQLV_BOOL, "true", NULL, "true");

    char err[256] = "";
    char *got = lit(DP_SQLV_STRING, "x", "BIGINT", err, sizeof err);
    assert_null(got);
    assert_non_null(strstr(err, "'c'"));
    got = lit(DP_SQLV_NUMBER, "99999999999999999999", "BIGINT", err, sizeof err);
    assert_null(got);
    got = lit(DP_SQLV_STRING, "[1,", "ARRAY<INT>", err, sizeof err);
    assert_null(got);
    assert_non_null(strstr(err, "JSON"));
}

static dp_sql_script *parse(const char *sql) {
    dp_sql_script *sc = NULL;
    char err[256] = "";
    if (dp_sql_parse(sql, strlen(sql), &sc, err, sizeof err) != DDBPIPE_OK)
        fail_msg("parse %s: %s", sql, err);
    return sc;
}

static char *body(const char *sql, const char *start, int *is_query, char *err, size_t n) {
    dp_sql_script *sc = parse(sql);
    dp_column cols[3];
    char e[128];
    memset(cols, 0, sizeof cols);
    strcpy(cols[0].name, "user_id");
    strcpy(cols[1].name, "item_id");
    strcpy(cols[2].name, "behavior");
    assert_int_equal(dp_coltype_parse("BIGINT", &cols[0].type, e, sizeof e), 0);
    assert_int_equal(dp_coltype_parse("BIGINT", &cols[1].type, e, sizeof e), 0);
    assert_int_equal(dp_coltype_parse("STRING", &cols[2].type, e, sizeof e), 0);
    dp_sql_key key = {"user_id", 'N', "item_id", 'N'};
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_sql_read rd;
    ddbpipe_result_t r = dp_sql_build_read(&rd, "ub", &sc->stmts[0], &key, cols, 3, is_query, err, n);
    if (!r) {
        rd.req.exclusive_start_key = start;
        r = dp_ddb_build_read(&rd.req, &b);
    }
    dp_sql_read_free(&rd);
    dp_sql_script_free(sc);
    if (r) {
        dp_buf_free(&b);
        return NULL;
    }
    return dp_buf_steal(&b);
}

static void test_build_read(void **state) {
    (void)state;
    int q = -1;
    char err[256] = "";
    char *b = body("SELECT behavior FROM t WHERE user_id = 1 AND item_id BETWEEN 2 AND 5 LIMIT 3", NULL, &q,
                   err, sizeof err);
    assert_non_null(b);
    assert_int_equal(q, 1);
    assert_string_equal(
        b, "{\"TableName\":\"ub\",\"KeyConditionExpression\":\"#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2\","
           "\"ProjectionExpression\":\"#n2\",\"ExpressionAttributeNames\":{\"#n0\":\"user_id\","
           "\"#n1\":\"item_id\",\"#n2\":\"behavior\"},\"ExpressionAttributeValues\":{\":v0\":{\"N\":"
           "\"1\"},\":v1\":{\"N\":\"2\"},\":v2\":{\"N\":\"5\"}},\"Limit\":3}");
    free(b);

    /* No '=' on the partition key: Scan; conditions filter; no Limit with a filter. */
    b = body("SELECT * FROM t WHERE user_id > 1 AND behavior LIKE 'pv%' LIMIT 3",
             "{\"user_id\":{\"N\":\"9\"}}", &q, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(q, 0);
    assert_non_null(strstr(b, "\"FilterExpression\":\"#n0 > :v0 AND begins_with(#n1, :v1)\""));
    assert_null(strstr(b, "Limit"));
    assert_null(strstr(b, "KeyCondition"));
    assert_non_null(strstr(b, "\"ExclusiveStartKey\":{\"user_id\":{\"N\":\"9\"}}"));
    free(b);

    /* Key column names match case-insensitively and keep the table's spelling. */
    b = body("SELECT * FROM t WHERE USER_ID = '7'", NULL, &q, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(q, 1);
    assert_non_null(strstr(b, "\"#n0\":\"user_id\""));
    assert_non_null(strstr(b, "{\"N\":\"7\"}"));
    free(b);

    assert_null(body("SELECT colour FROM t", NULL, &q, err, sizeof err));
    assert_non_null(strstr(err, "unknown column 'colour'"));
    assert_null(body("SELECT * FROM t WHERE behavior = NULL", NULL, &q, err, sizeof err));
    assert_non_null(strstr(err, "NULL"));
    assert_null(body("SELECT * FROM t WHERE user_id = 'abc'", NULL, &q, err, sizeof err));
    assert_non_null(strstr(err, "user_id"));
    assert_null(body("SELECT * FROM t WHERE user_id = 1 AND item_id LIKE 'a%'", NULL, &q, err, sizeof err));
}

static void test_render(void **state) {
    (void)state;
    const char *h[] = {"id", "name"};
    const char *cells[] = {"1", "h\xc3\xa9llo", "22", NULL};
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_sql_render_table(&b, h, 2, cells, 2, 1), DDBPIPE_OK);
    assert_string_equal(b.data, " id | name\n"
                                "----+-------\n"
                                " 1  | h\xc3\xa9llo\n"
                                " 22 | NULL\n"
                                "(2 rows)\n");
    dp_buf_free(&b);

    const char *js = "[\"a\\nb\", null, 1.50, {\"k\": [true]}]";
    dp_json_doc *doc = dp_json_parse(js, strlen(js), NULL);
    assert_non_null(doc);
    const dp_json *arr = dp_json_root(doc);
    const char *want[] = {"a\\nb", "NULL", "1.50", "{\"k\":[true]}"};
    for (size_t i = 0; i < 4; i++) {
        dp_buf_init(&b, 0);
        assert_int_equal(dp_sql_cell_text(&b, arr->items[i]), DDBPIPE_OK);
        assert_string_equal(b.data, want[i]);
        dp_buf_free(&b);
    }
    dp_json_doc_free(doc);
}

#define DDL                                                                                                  \
    "CREATE TABLE ub (user_id BIGINT, item_id BIGINT, behavior STRING, PRIMARY KEY (user_id, item_id) NOT "  \
    "ENFORCED)\nWITH ('connector' = 'dynamodb', 'table-name' = 'user_behavior', 'aws.region' = "             \
    "'us-east-2',\n"                                                                                         \
    "'aws.endpoint' = 'http://127.0.0.1:9');\n"

static ddbpipe_result_t run(const char *sql, int stdin_fd, char *err, size_t n) {
    ddbpipe_sql_options_t o;
    memset(&o, 0, sizeof o);
    o.stdin_fd = stdin_fd;
    return ddbpipe_sql_run(sql, strlen(sql), NULL, &o, NULL, err, n);
}

static void test_run_errors(void **state) {
    (void)state;
    char err[1024];
    /* None of these reach the (unreachable) endpoint. */
    assert_int_equal(run(DDL "SELECT * FROM nope;", 0, err, sizeof err), DDBPIPE_ERR_INVALID_ARG);
    assert_string_equal(err, "statement 2 (line 4): unknown table 'nope' (declared so far: ub)");
    assert_int_equal(run(DDL "SELECT x FROM ub;", 0, err, sizeof err), DDBPIPE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "statement 2 (line 4): unknown column 'x'"));
    assert_int_equal(run(DDL "\nSELECT * FORM ub;", 0, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_string_equal(err, "statement 2: syntax error at line 5, column 10: expected FROM, found 'FORM'");
    assert_int_equal(run(DDL "INSERT INTO ub VALUES (1, 2);", 0, err, sizeof err), DDBPIPE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "rows have 2 values but table 'ub' has 3 columns"));
    assert_int_equal(run(DDL "INSERT INTO ub VALUES (1, 'x', 'a');", 0, err, sizeof err),
                     DDBPIPE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "row 1: attribute 'item_id'"));
    assert_int_equal(run(DDL "DELETE FROM ub WHERE user_id = 1;", 0, err, sizeof err),
                     DDBPIPE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "WHERE user_id = ... AND item_id = ..."));
    assert_int_equal(run(DDL "DELETE FROM ub WHERE behavior = 'x' AND user_id = 1;", 0, err, sizeof err),
                     DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(run(DDL "INSERT INTO ub SELECT * FROM STDIN;", -1, err, sizeof err),
                     DDBPIPE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "stdin holds the script"));
    assert_int_equal(run("CREATE TABLE src (a INT) WITH ('connector' = 'datagen');\nSELECT * FROM src;", 0,
                         err, sizeof err),
                     DDBPIPE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "not a DynamoDB table"));
    assert_int_equal(run("CREATE TABLE t (a INT) WITH ('connector' = 'dynamodb', 'table-name' = 'x!');", 0,
                         err, sizeof err),
                     DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "statement 1 (line 1)"));
    /* Nothing declared, nothing run: an empty script is fine. */
    assert_int_equal(run("  -- nothing\n;", 0, err, sizeof err), DDBPIPE_OK);
    /* SELECT ... LIMIT 0 answers without a request. */
    assert_int_equal(run(DDL "SELECT * FROM ub LIMIT 0;", 0, err, sizeof err), DDBPIPE_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),  cmocka_unit_test(test_literals),   cmocka_unit_test(test_build_read),
        cmocka_unit_test(test_render), cmocka_unit_test(test_run_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
