/* Flink SQL DDL as configuration (seed 002's examples as written) and the
 * `ddbpipe sql` statement parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/conf.h"
#include "lang/parse.h"

static char err[1024];

#define assert_err(...)                                                                                      \
    do {                                                                                                     \
        const char *subs_[] = {__VA_ARGS__};                                                                 \
        for (size_t i_ = 0; i_ < sizeof subs_ / sizeof subs_[0]; i_++)                                       \
            if (!strstr(err, subs_[i_]))                                                                     \
                fail_msg("error message lacks \"%s\": %s", subs_[i_], err);                                  \
    } while (0)

static ddbpipe_conf_t *load_data(const char *name) {
    char path[1024];
    const char *src = getenv("DDBPIPE_SOURCE_DIR");
    assert_non_null(src);
    snprintf(path, sizeof path, "%s/tests/data/config/%s", src, name);
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    err[0] = 0;
    if (ddbpipe_conf_load_file(c, path, err, sizeof err) != DDBPIPE_OK)
        fail_msg("loading %s: %s", name, err);
    return c;
}

static ddbpipe_result_t ddl(ddbpipe_conf_t *c, const char *sql, const char *table) {
    err[0] = 0;
    return dp_conf_load_sql_ddl(c, sql, strlen(sql), table, err, sizeof err);
}

static int has_notice(const ddbpipe_conf_t *c, const char *sub) {
    for (size_t i = 0; i < dp_conf_notice_count(c); i++)
        if (strstr(dp_conf_notice_at(c, i), sub))
            return 1;
    return 0;
}

static void test_seed_002_ddl(void **state) {
    (void)state;
    ddbpipe_conf_t *c = load_data("flink_user_behavior.sql");
    assert_string_equal(ddbpipe_conf_get(c, "table"), "user_behavior");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-east-2");
    assert_string_equal(ddbpipe_conf_get(c, "columns"),
                        "user_id BIGINT, item_id BIGINT, category_id BIGINT, behavior STRING");
    assert_null(ddbpipe_conf_get(c, "partition_key"));
    assert_null(ddbpipe_conf_get(c, "dedup_keys"));
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    c = load_data("flink_user_behavior_partitioned.sql");
    assert_string_equal(ddbpipe_conf_get(c, "table"), "user_behavior");
    assert_string_equal(ddbpipe_conf_get(c, "dedup_keys"), "user_id");
    assert_true(has_notice(c, "PARTITIONED BY (user_id)"));
    assert_true(has_notice(c, "not the full primary key"));
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);
}

static const char *full_ddl = "-- every Flink option\n"
                              "CREATE TABLE IF NOT EXISTS cat.db.`Orders` (\n"
                              "  `user_id` BIGINT NOT NULL,\n"
                              "  item_id VARBINARY(16) NOT NULL COMMENT 'raw id',\n"
                              "  price DECIMAL(38, 10),\n"
                              "  tags ARRAY<STRING>,\n"
                              "  attrs ROW<a INT NOT NULL, b MAP<STRING, INT>>,\n"
                              "  ts TIMESTAMP(3) WITH LOCAL TIME ZONE,\n"
                              "  total AS price * 2,\n"
                              "  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,\n"
                              "  CONSTRAINT pk PRIMARY KEY (user_id, item_id) NOT ENFORCED\n"
                              ") COMMENT 'orders' PARTITIONED BY (item_id, user_id)\n"
                              "WITH (\n"
                              "  'connector' = 'dynamodb',\n"
                              "  'table-name' = 'orders',\n"
                              "  'aws.region' = 'eu-west-1',\n"
                              "  'aws.endpoint' = 'http://localhost:8000',\n"
                              "  'aws.trust.all.certificates' = 'true',\n"
                              "  'aws.credentials.provider' = 'BASIC',\n"
                              "  'aws.credentials.basic.accesskeyid' = 'AKIDEXAMPLE',\n"
                              "  'aws.credentials.basic.secretkey' = 'it''s secret',\n"
                              "  'sink.batch.max-size' = '20',\n"
                              "  'sink.requests.max-inflight' = '40',\n"
                              "  'sink.requests.max-buffered' = '5000',\n"
                              "  'sink.flush-buffer.timeout' = '2000',\n"
                              "  'sink.fail-on-error' = 'true',\n"
                              "  'sink.ignore-nulls' = 'true',\n"
                              "  'sink.http-client.max-concurrency' = '10000',\n"
                              "  'sink.http-client.read-timeout' = '360000'\n"
                              ");\n"
                              "INSERT INTO Orders SELECT * FROM STDIN;\n";

static void test_full_flink_ddl(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(ddl(c, full_ddl, NULL), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "orders");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "eu-west-1");
    assert_string_equal(ddbpipe_conf_get(c, "endpoint_url"), "http://localhost:8000");
    assert_true(dp_conf_bool(c, "trust_all_certificates", 0));
    assert_string_equal(ddbpipe_conf_get(c, "credentials_provider"), "static");
    assert_string_equal(ddbpipe_conf_get(c, "aws_access_key_id"), "AKIDEXAMPLE");
    assert_string_equal(ddbpipe_conf_get(c, "aws_secret_access_key"), "it's secret");
    assert_int_equal(dp_conf_int(c, "batch_size", 0), 20);
    assert_int_equal(dp_conf_int(c, "max_concurrent_requests", 0), 40);
    assert_int_equal(dp_conf_int(c, "max_buffered_records", 0), 5000);
    assert_int_equal(dp_conf_int(c, "flush_interval_ms", 0), 2000);
    assert_true(dp_conf_bool(c, "fail_on_error", 0));
    assert_true(dp_conf_bool(c, "ignore_nulls", 0));
    assert_int_equal(dp_conf_int(c, "request_timeout_ms", 0), 360000);
    assert_true(has_notice(c, "sink.http-client.max-concurrency"));
    assert_true(has_notice(c, "WATERMARK"));
    assert_true(has_notice(c, "'total'"));
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "user_id");
    assert_string_equal(ddbpipe_conf_get(c, "partition_key_type"), "N");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key"), "item_id");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key_type"), "B");
    assert_string_equal(
        ddbpipe_conf_get(c, "columns"),
        "user_id BIGINT, item_id VARBINARY(16), price DECIMAL(38, 10), tags ARRAY<STRING>, "
        "attrs ROW<a INT NOT NULL, b MAP<STRING, INT>>, ts TIMESTAMP(3) WITH LOCAL TIME ZONE");
    assert_string_equal(ddbpipe_conf_get(c, "dedup_keys"), "item_id,user_id");
    assert_false(has_notice(c, "not the full primary key")); /* same set, other order */
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);
}

static void test_key_types(void **state) {
    (void)state;
    assert_int_equal(dp_sql_type_key_type("BIGINT"), 'N');
    assert_int_equal(dp_sql_type_key_type("decimal(10,2)"), 'N');
    assert_int_equal(dp_sql_type_key_type("DOUBLE"), 'N');
    assert_int_equal(dp_sql_type_key_type("BYTES"), 'B');
    assert_int_equal(dp_sql_type_key_type("BINARY(4)"), 'B');
    assert_int_equal(dp_sql_type_key_type("VARCHAR(20)"), 'S');
    assert_int_equal(dp_sql_type_key_type("TIMESTAMP(3)"), 'S');
    assert_int_equal(dp_sql_type_key_type("INTERVAL"), 'S');
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (id STRING PRIMARY KEY NOT ENFORCED, v INT) WITH ("
                         "'connector'='dynamodb','table-name'='tbl')",
                         NULL),
                     DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "id");
    assert_string_equal(ddbpipe_conf_get(c, "partition_key_type"), "S");
    assert_null(ddbpipe_conf_get(c, "sort_key"));
    ddbpipe_conf_destroy(c);
}

static void test_ddl_errors(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.provider'='CUSTOM',"
                         "'aws.credentials.custom.class'='org.acme.Creds')",
                         NULL),
                     DDBPIPE_ERR_CONFIG);
    assert_err("aws.credentials.provider", "CUSTOM", "credential_process");
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.custom.class'='org.acme.Creds')",
                         NULL),
                     DDBPIPE_ERR_CONFIG);
    assert_err("aws.credentials.custom.class", "credential_process");
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.provider'='SYS_PROP')",
                         NULL),
                     DDBPIPE_ERR_CONFIG);
    assert_err("SYS_PROP", "Java system properties", "AWS_ACCESS_KEY_ID", "environment");
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT, b INT, d INT, PRIMARY KEY (a, b, d) NOT ENFORCED) WITH "
                         "('connector'='dynamodb','table-name'='tbl')",
                         NULL),
                     DDBPIPE_ERR_CONFIG);
    assert_err("PRIMARY KEY has 3 columns", "at most 2");
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT, PRIMARY KEY (z) NOT ENFORCED) WITH "
                         "('connector'='dynamodb','table-name'='tbl')",
                         NULL),
                     DDBPIPE_ERR_CONFIG);
    assert_err("'z' is not a column");
    assert_int_equal(
        ddl(c, "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','sink.batch.max-sise'='5')", NULL),
        DDBPIPE_ERR_CONFIG);
    assert_err("unknown configuration key 'sink.batch.max-sise' (did you mean 'sink.batch.max-size'?)");
    assert_int_equal(
        ddl(c, "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','sink.batch.max-size'='500')", NULL),
        DDBPIPE_ERR_CONFIG);
    assert_err("'500'", "sink.batch.max-size", "out of range");
    assert_int_equal(ddl(c, "CREATE TABLE t (a INT) WITH ('connector'='kafka')", NULL), DDBPIPE_ERR_CONFIG);
    assert_err("no CREATE TABLE with 'connector' = 'dynamodb'");
    assert_int_equal(ddl(c, "CREATE TABLE t (a INT\n  WITH", NULL), DDBPIPE_ERR_PARSE);
    assert_err("line 2, column");
    assert_int_equal(ddl(c, "CREATE TABLE t (a INT) WITH ('connector' = 'dynamodb)", NULL),
                     DDBPIPE_ERR_PARSE);
    assert_err("unterminated string");
    static const char *two = "CREATE TABLE a1 (x INT) WITH ('connector'='dynamodb','table-name'='ta1');\n"
                             "CREATE TABLE a2 (x INT) WITH ('connector'='dynamodb','table-name'='ta2');\n";
    assert_int_equal(ddl(c, two, NULL), DDBPIPE_ERR_CONFIG);
    assert_err("2 DynamoDB tables", "a1, a2");
    assert_int_equal(ddl(c, two, "a2"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "ta2");
    assert_int_equal(ddl(c, two, "ta1"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "ta1");
    assert_int_equal(ddl(c, two, "nope"), DDBPIPE_ERR_CONFIG);
    assert_err("no DynamoDB table named 'nope'");
    ddbpipe_conf_destroy(c);
}

static void test_ddl_providers(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.provider'='PROFILE','aws.credentials.profile.name'='dev',"
                         "'aws.credentials.profile.path'='/etc/aws/credentials')",
                         NULL),
                     DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "credentials_provider"), "profile");
    assert_string_equal(ddbpipe_conf_get(c, "profile"), "dev");
    assert_string_equal(ddbpipe_conf_get(c, "credentials_file"), "/etc/aws/credentials");
    ddbpipe_conf_destroy(c);

    c = ddbpipe_conf_new();
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.provider'='ASSUME_ROLE')",
                         NULL),
                     DDBPIPE_OK);
    assert_true(dp_conf_assume_role(c));
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("ASSUME_ROLE", "role_arn");
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.provider'='ASSUME_ROLE',"
                         "'aws.credentials.role.arn'='arn:aws:iam::123456789012:role/x',"
                         "'aws.credentials.role.sessionName'='s1','aws.credentials.role.externalId'='e1',"
                         "'aws.credentials.role.provider'='ENV_VAR')",
                         NULL),
                     DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "role_arn"), "arn:aws:iam::123456789012:role/x");
    assert_string_equal(ddbpipe_conf_get(c, "role_session_name"), "s1");
    assert_string_equal(ddbpipe_conf_get(c, "external_id"), "e1");
    assert_string_equal(ddbpipe_conf_get(c, "credentials_provider"), "environment");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    c = ddbpipe_conf_new();
    assert_int_equal(ddl(c,
                         "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='tbl',"
                         "'aws.credentials.provider'='WEB_IDENTITY_TOKEN',"
                         "'aws.credentials.webIdentityToken.file'='/var/run/token',"
                         "'aws.credentials.role.arn'='arn:aws:iam::1:role/r')",
                         NULL),
                     DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "credentials_provider"), "web-identity");
    assert_string_equal(ddbpipe_conf_get(c, "web_identity_token_file"), "/var/run/token");
    ddbpipe_conf_destroy(c);
}

static void test_statements(void **state) {
    (void)state;
    dp_sql_script *s = NULL;
    static const char *text =
        "CREATE TABLE DynamoDbTable (`user_id` BIGINT, `behavior` STRING) WITH ('connector' = 'dynamodb', "
        "'table-name' = 'user_behavior', 'aws.region' = 'us-east-2');\n"
        "INSERT INTO DynamoDbTable VALUES (1, 'it''s'), (-2.5e3, NULL), (3, TRUE);\n"
        "INSERT INTO DynamoDbTable (user_id, behavior) VALUES (4, 'buy');\n"
        "INSERT INTO DynamoDbTable SELECT * FROM STDIN;\n"
        "DELETE FROM DynamoDbTable WHERE user_id = 1 AND behavior = 'x';\n"
        "SELECT user_id, behavior FROM DynamoDbTable WHERE user_id = 1 AND behavior >= 'b' LIMIT 10;\n"
        "SELECT * FROM DynamoDbTable;\n"
        "select * from t where k = 'a' and s between 1 and 9;\n"
        "SELECT * FROM t WHERE k = 'a' AND s LIKE 'pre%'\n";
    assert_int_equal(dp_sql_parse(text, strlen(text), &s, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(s->count, 9);
    assert_int_equal(s->stmts[0].kind, DP_SQL_CREATE);
    assert_string_equal(s->stmts[0].table, "DynamoDbTable");
    /* the CREATE span feeds the DDL loader */
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(
        dp_conf_load_sql_ddl(c, text + s->stmts[0].offset, s->stmts[0].length, NULL, err, sizeof err),
        DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "user_behavior");
    ddbpipe_conf_destroy(c);

    const dp_sql_stmt *i1 = &s->stmts[1];
    assert_int_equal(i1->kind, DP_SQL_INSERT_VALUES);
    assert_int_equal(i1->line, 2);
    assert_int_equal(i1->nrows, 3);
    assert_int_equal(i1->row_width, 2);
    assert_int_equal(i1->values[0].kind, DP_SQLV_NUMBER);
    assert_string_equal(i1->values[0].text, "1");
    assert_string_equal(i1->values[1].text, "it's");
    assert_string_equal(i1->values[2].text, "-2.5e3");
    assert_int_equal(i1->values[3].kind, DP_SQLV_NULL);
    assert_int_equal(i1->values[5].kind, DP_SQLV_BOOL);
    assert_string_equal(i1->values[5].text, "true");
    assert_int_equal(s->stmts[2].ncolumns, 2);
    assert_string_equal(s->stmts[2].columns[1], "behavior");
    assert_int_equal(s->stmts[3].kind, DP_SQL_INSERT_STDIN);
    const dp_sql_stmt *d = &s->stmts[4];
    assert_int_equal(d->kind, DP_SQL_DELETE);
    assert_int_equal(d->nwhere, 2);
    assert_string_equal(d->where[1].column, "behavior");
    assert_int_equal(d->where[1].value.kind, DP_SQLV_STRING);
    const dp_sql_stmt *q = &s->stmts[5];
    assert_int_equal(q->kind, DP_SQL_SELECT);
    assert_int_equal(q->ncolumns, 2);
    assert_int_equal(q->where[1].op, DP_SQL_OP_GE);
    assert_int_equal(q->limit, 10);
    assert_int_equal(s->stmts[6].ncolumns, 0);
    assert_int_equal(s->stmts[6].limit, -1);
    assert_int_equal(s->stmts[7].where[1].op, DP_SQL_OP_BETWEEN);
    assert_string_equal(s->stmts[7].where[1].value2.text, "9");
    assert_int_equal(s->stmts[8].where[1].op, DP_SQL_OP_BEGINS_WITH);
    assert_string_equal(s->stmts[8].where[1].value.text, "pre");
    dp_sql_script_free(s);
    dp_sql_script_free(NULL);
}

static void test_statement_errors(void **state) {
    (void)state;
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"INSERT INTO t VALUES (1, 2), (3);", "row 2 has 1 values, row 1 has 2"},
        {"INSERT INTO t (a) VALUES (1, 2);", "1 columns named but rows have 2 values"},
        {"UPDATE t SET a = 1;", "unsupported statement starting with 'UPDATE'"},
        {"SELECT * FROM t WHERE k LIKE '%x';", "prefix pattern"},
        {"SELECT * FROM t WHERE k = ;", "expected a value"},
        {"DELETE FROM t;", "expected WHERE"},
        {"SELECT * FROM t LIMIT x;", "row count after LIMIT"},
        {"SELECT * FROM t\nWHERE k == 1;", "line 2, column"},
        {"INSERT INTO t VALUES ('open);", "unterminated string"},
        {"SELECT * FROM t garbage;", "expected ';'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dp_sql_script *s = NULL;
        err[0] = 0;
        if (dp_sql_parse(cases[i].sql, strlen(cases[i].sql), &s, err, sizeof err) != DDBPIPE_ERR_PARSE)
            fail_msg("accepted: %s", cases[i].sql);
        assert_null(s);
        if (!strstr(err, cases[i].want))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].sql, err, cases[i].want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_002_ddl),     cmocka_unit_test(test_full_flink_ddl),
        cmocka_unit_test(test_key_types),        cmocka_unit_test(test_ddl_errors),
        cmocka_unit_test(test_ddl_providers),    cmocka_unit_test(test_statements),
        cmocka_unit_test(test_statement_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
