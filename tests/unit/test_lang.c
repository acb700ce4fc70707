/* The SQL front end (src/lang/) on its own: the typed table definition the
 * DDL parser returns (no configuration involved), the dialect rules it keeps
 * (quoted identifiers with spaces, dots and doubled quotes, qualified names,
 * Feldera's folding only when asked, the BOM), and the splitter agreeing
 * with the statement parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lang/parse.h"

static dp_ddl *parse_ddl(const char *sql, int fold) {
    dp_ddl *d = NULL;
    char err[256] = "";
    ddbpipe_result_t rc = dp_ddl_parse(sql, strlen(sql), fold, &d, err, sizeof err);
    if (rc != DDBPIPE_OK)
        fail_msg("dp_ddl_parse: %s", err);
    return d;
}

static void test_ddl_typed_table(void **state) {
    (void)state;
    const char *sql =
        "-- a Flink table\n"
        "CREATE TABLE cat.db.Orders (\n"
        "  `order id` BIGINT NOT NULL,\n"
        "  \"a.b\" DECIMAL(10,   2) COMMENT 'x',\n"
        "  `it``s` ARRAY<ROW<x INT, y STRING>>,\n"
        "  ts TIMESTAMP(3),\n"
        "  total AS amount * 2,\n"
        "  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,\n"
        "  PRIMARY KEY (`order id`, \"a.b\") NOT ENFORCED\n"
        ") PARTITIONED BY (`order id`) WITH ('connector' = 'dynamodb', 'table-name' = '${T:-orders}',\n"
        "  'Connector' = 'dynamodb');\n"
        "INSERT INTO Orders SELECT * FROM src;\n";
    dp_ddl *d = parse_ddl(sql, 0);
    assert_int_equal(d->ndefs, 1);
    const dp_ddl_table *t = &d->defs[0];
    assert_string_equal(t->name, "Orders"); /* the last part of cat.db.Orders, case kept */
    assert_int_equal(t->line, 2);
    assert_false(t->is_view);
    assert_int_equal(t->colnames.n, 4); /* the computed column and the watermark are not columns */
    assert_string_equal(t->colnames.v[0], "order id");
    assert_string_equal(t->colnames.v[1], "a.b");
    assert_string_equal(t->colnames.v[2], "it`s");
    assert_string_equal(t->colnames.v[3], "ts");
    assert_string_equal(t->coltypes.v[0], "BIGINT");
    assert_string_equal(t->coltypes.v[1], "DECIMAL(10, 2)");
    assert_string_equal(t->coltypes.v[2], "ARRAY<ROW<x INT, y STRING>>");
    assert_string_equal(t->coltypes.v[3], "TIMESTAMP(3)");
    assert_int_equal(t->pk.n, 2);
    assert_string_equal(t->pk.v[0], "order id");
    assert_string_equal(t->pk.v[1], "a.b");
    assert_int_equal(t->part.n, 1);
    assert_string_equal(t->part.v[0], "order id");
    assert_int_equal(t->okeys.n, 3);
    assert_string_equal(dp_ddl_option(t, "CONNECTOR"), "dynamodb");
    assert_string_equal(dp_ddl_option(t, "table-name"), "${T:-orders}"); /* placeholders are config's */
    assert_null(dp_ddl_option(t, "region"));
    assert_int_equal(dp_ddl_column_index(t, "TS"), 3);
    assert_int_equal(dp_ddl_column_index(t, "nope"), -1);
    assert_ptr_equal(dp_ddl_find(d, "orders"), t);
    assert_null(dp_ddl_find(d, "src"));
    assert_int_equal(d->notices.n, 2);
    assert_non_null(strstr(d->notices.v[0], "computed column 'total'"));
    assert_non_null(strstr(d->notices.v[1], "WATERMARK"));
    dp_ddl_free(d);
    dp_ddl_free(NULL);
}

static void test_ddl_feldera_fold(void **state) {
    (void)state;
    const char *sql = "\xEF\xBB\xBF"
                      "CREATE TABLE Src (ID INT, \"Name\" VARCHAR);\n"
                      "CREATE MATERIALIZED VIEW Out_V WITH ('connectors' = '[]') AS SELECT * FROM Src;\n"
                      "CREATE INDEX Out_Idx ON Out_V (ID);\n";
    dp_ddl *d = parse_ddl(sql, 0);
    assert_int_equal(d->ndefs, 2);
    assert_string_equal(d->defs[0].name, "Src");
    assert_string_equal(d->defs[0].colnames.v[0], "ID");
    assert_string_equal(d->defs[1].name, "Out_V");
    assert_true(d->defs[1].is_view);
    assert_string_equal(d->defs[1].select_from, "Src");
    assert_int_equal(d->nidx, 1);
    assert_string_equal(d->idx[0].name, "Out_Idx");
    dp_ddl_free(d);
    d = parse_ddl(sql, 1); /* Feldera: unquoted names fold to lower case, quoted ones keep theirs */
    assert_string_equal(d->defs[0].name, "src");
    assert_string_equal(d->defs[0].colnames.v[0], "id");
    assert_string_equal(d->defs[0].colnames.v[1], "Name");
    assert_string_equal(d->defs[1].name, "out_v");
    assert_string_equal(d->defs[1].select_from, "src");
    assert_string_equal(d->idx[0].name, "out_idx");
    assert_string_equal(d->idx[0].on, "out_v");
    assert_string_equal(d->idx[0].cols.v[0], "id");
    dp_ddl_free(d);
}

static void test_ddl_errors(void **state) {
    (void)state;
    static const struct {
        const char *sql, *want;
    } cases[] = {
        {"CREATE TABLE t (a INT", "line 1, column 22: expected ')', found end of input"},
        {"CREATE TABLE t (a)", "line 1, column 18: column 'a' has no type"},
        {"CREATE TABLE t (a INT) WITH ('k' = 'v)", "line 1, column 36: unterminated string"},
        {"CREATE TABLE t (a INT, PRIMARY KEY (a), PRIMARY KEY (a))", "more than one PRIMARY KEY"},
        {"\n\nCREATE TABLE `t (a INT)", "line 3, column 14: unterminated quoted identifier"},
        {"CREATE TABLE t (a INT) LIKE x", "unexpected 'LIKE' after the column list of t"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dp_ddl *d = (dp_ddl *)1;
        char err[256] = "";
        assert_int_equal(dp_ddl_parse(cases[i].sql, strlen(cases[i].sql), 0, &d, err, sizeof err),
                         DDBPIPE_ERR_PARSE);
        assert_null(d);
        if (!strstr(err, cases[i].want))
            fail_msg("%s: got '%s', want '%s'", cases[i].sql, err, cases[i].want);
    }
    dp_ddl *d = NULL;
    char err[64];
    assert_int_equal(dp_ddl_parse(NULL, 3, 0, &d, err, sizeof err), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(dp_ddl_parse(NULL, 0, 0, &d, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(d->ndefs, 0);
    dp_ddl_free(d);
}

/* The splitter and the parser stand on one lexer: the same statements at
 * the same offsets and lines. */
static void test_split_matches_parse(void **state) {
    (void)state;
    const char *t = "\xEF\xBB\xBF-- x;\nCREATE TABLE \"a;b\" (c INT) WITH ('k' = ';');\n"
                    "INSERT INTO t (a, `b;`) VALUES (1, 'x;y'), (2, NULL) ; ;\n"
                    "/* ; */ SELECT a FROM t WHERE a BETWEEN 1 AND 2 LIMIT 5;\n"
                    "DELETE FROM t WHERE a = -1.5e3";
    dp_sql_script *s = NULL;
    dp_sql_span *sp = NULL;
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(dp_sql_parse(t, strlen(t), &s, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(dp_sql_split(t, strlen(t), &sp, &n), DDBPIPE_OK);
    assert_int_equal(s->count, 4);
    assert_int_equal(n, 4);
    static const int lines[] = {2, 3, 4, 5};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sp[i].offset, s->stmts[i].offset);
        assert_int_equal(sp[i].length, s->stmts[i].length);
        assert_int_equal(sp[i].line, lines[i]);
        assert_int_equal(s->stmts[i].line, lines[i]);
    }
    assert_int_equal(s->stmts[0].kind, DP_SQL_CREATE);
    assert_string_equal(s->stmts[0].table, "a;b");
    assert_int_equal(s->stmts[3].kind, DP_SQL_DELETE);
    assert_string_equal(s->stmts[3].where[0].value.text, "-1.5e3");
    dp_sql_script_free(s);
    free(sp);
    /* An unterminated quote runs to the end (the parser reports it). */
    const char *u = "SELECT a FROM t;\nSELECT 'x;\n;\n";
    assert_int_equal(dp_sql_split(u, strlen(u), &sp, &n), DDBPIPE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sp[1].line, 2);
    assert_int_equal(sp[1].offset + sp[1].length, strlen(u));
    assert_int_equal(sp[1].end_line, 4);
    assert_int_equal(dp_sql_statement_at_line(sp, n, 3), 2);
    free(sp);
    assert_int_equal(dp_sql_parse(u, strlen(u), &s, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "line 2, column 8: unterminated string"));
    /* the same position as fields, for callers that add to the message */
    dp_sql_error pe;
    assert_int_equal(dp_sql_parse_ex(u, strlen(u), &s, &pe, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_int_equal(pe.line, 2);
    assert_int_equal(pe.column, 8);
    assert_string_equal(pe.reason, strstr(err, "unterminated string"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ddl_typed_table),
        cmocka_unit_test(test_ddl_feldera_fold),
        cmocka_unit_test(test_ddl_errors),
        cmocka_unit_test(test_split_matches_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
