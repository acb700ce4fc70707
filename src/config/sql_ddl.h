/* Flink/Feldera SQL as configuration (CREATE TABLE ... WITH (...)) and a
 * small statement parser for `ddbpipe sql`. Parsers only: no I/O. */
#ifndef DP_CONFIG_SQL_DDL_H
#define DP_CONFIG_SQL_DDL_H

#include <stddef.h>
#include <stdint.h>

#include "ddbpipe/ddbpipe.h"

/* Apply the CREATE TABLE of a DynamoDB table found in text to conf: a Flink
 * table with 'connector' = 'dynamodb', or a Feldera table/view whose
 * 'connectors' hold a dynamodb_output transport. With several, pick the one
 * whose SQL name (or 'table-name') is table_name_or_NULL. Other statements
 * (INSERT, SELECT, ...) are skipped. */
ddbpipe_result_t dp_conf_load_sql_ddl(ddbpipe_conf_t *conf, const char *text, size_t len,
                                      const char *table_name_or_NULL, char *errstr, size_t errstr_size);

typedef enum dp_sql_value_kind { DP_SQLV_NULL = 0, DP_SQLV_STRING, DP_SQLV_NUMBER, DP_SQLV_BOOL } dp_sql_value_kind;
typedef struct dp_sql_value {
    dp_sql_value_kind kind;
    char *text; /* STRING: unescaped; NUMBER: verbatim; BOOL: "true"/"false"; NULL: NULL */
} dp_sql_value;

typedef enum dp_sql_op {
    DP_SQL_OP_EQ = 0,
    DP_SQL_OP_LT,
    DP_SQL_OP_LE,
    DP_SQL_OP_GT,
    DP_SQL_OP_GE,
    DP_SQL_OP_BETWEEN,    /* value AND value2 */
    DP_SQL_OP_BEGINS_WITH /* col LIKE 'prefix%' */
} dp_sql_op;

typedef struct dp_sql_cond {
    char *column;
    dp_sql_op op;
    dp_sql_value value, value2;
} dp_sql_cond;

typedef enum dp_sql_kind {
    DP_SQL_CREATE = 0,   /* CREATE TABLE/VIEW/INDEX: feed the span to dp_conf_load_sql_ddl */
    DP_SQL_INSERT_VALUES,
    DP_SQL_INSERT_STDIN, /* INSERT INTO t SELECT * FROM STDIN */
    DP_SQL_DELETE,
    DP_SQL_SELECT
} dp_sql_kind;

typedef struct dp_sql_stmt {
    dp_sql_kind kind;
    char *table;     /* target / source table (SQL name); CREATE: the created name */
    int line;        /* 1-based line where the statement starts */
    size_t offset, length; /* statement text span (without ';') */
    char **columns;  /* INSERT column list or SELECT projection; 0 = all / '*' */
    size_t ncolumns;
    dp_sql_value *values; /* INSERT VALUES: nrows x row_width, row-major */
    size_t nrows, row_width;
    dp_sql_cond *where; /* conjunction (AND) */
    size_t nwhere;
    int64_t limit; /* -1: none */
} dp_sql_stmt;

typedef struct dp_sql_script {
    dp_sql_stmt *stmts;
    size_t count;
} dp_sql_script;

/* Parse a script of ';'-separated statements. Errors name line and column. */
ddbpipe_result_t dp_sql_parse(const char *text, size_t len, dp_sql_script **out, char *errstr, size_t errstr_size);
void dp_sql_script_free(dp_sql_script *script);

#endif
