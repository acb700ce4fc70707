/* The SQL front end: one lexer (lang/lex.c) and recursive-descent parsers
 * for Flink/Feldera DDL (CREATE TABLE/VIEW/INDEX) and for the statements
 * of `ddbpipe sql`. Parsers only: no I/O and no configuration knowledge
 * (mapping a table definition to properties is config/table_def.c), so
 * every function here is fed bytes in unit tests and fuzzed
 * (tests/fuzz/fuzz_sql.c). Not thread-safe per result; reentrant.
 *
 * Dialect rules kept here: identifiers may be "double-quoted" or
 * `backticked` (any character, the quote doubled to escape it), a qualified
 * name a.b.c stands for its last part, -- and block comments, a UTF-8
 * byte order mark at the start is skipped. Unquoted names keep their case
 * unless fold_unquoted is set (Feldera programs: its SQL folds them to
 * lower case; Flink DDL and `ddbpipe sql` stay case-sensitive). Errors
 * are DDBPIPE_ERR_PARSE with "line L, column C: reason" in errstr. */
#ifndef DP_LANG_PARSE_H
#define DP_LANG_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ddbpipe/ddbpipe.h"

/* Caps what one text can make the parsers allocate: columns, options,
 * statements, VALUES rows x width. */
#define DP_SQL_MAX_ITEMS 100000

/* A list of malloc'd strings (names, types, option keys and values). */
typedef struct dp_sql_names {
    char **v;
    size_t n, cap;
} dp_sql_names;
/* Append x (taking it). -1 (x freed) when x is NULL, the list holds
 * DP_SQL_MAX_ITEMS or memory ran out. */
int dp_sql_names_push(dp_sql_names *s, char *x);
void dp_sql_names_free(dp_sql_names *s);

/* ------------------------------------------------------------ DDL */

/* One CREATE TABLE or CREATE [MATERIALIZED] VIEW. */
typedef struct dp_ddl_table {
    char *name; /* SQL name (last part of a qualified name) */
    int line;   /* 1-based line of the name */
    int is_view;
    dp_sql_names colnames; /* column names; a view: its (name, ...) list */
    dp_sql_names coltypes; /* type text per column, blanks collapsed ("DECIMAL(10, 2)"); empty for a view */
    dp_sql_names pk;       /* PRIMARY KEY columns, in order */
    dp_sql_names part;     /* PARTITIONED BY columns */
    dp_sql_names okeys, ovals; /* WITH ('key' = 'value', ...) in order, unquoted; ${VAR} left as written */
    char *select_from;         /* a view AS SELECT * FROM <name>: that name, else NULL */
} dp_ddl_table;

/* CREATE INDEX name ON table (cols): Feldera names the key columns so. */
typedef struct dp_ddl_index {
    char *name, *on;
    dp_sql_names cols;
} dp_ddl_index;

/* Every definition of a text, in order; other statements are skipped. */
typedef struct dp_ddl {
    dp_ddl_table *defs;
    size_t ndefs;
    dp_ddl_index *idx;
    size_t nidx;
    dp_sql_names notices; /* parts that have no effect (WATERMARK, computed and metadata columns) */
} dp_ddl;

/* Parse the DDL of text (statements separated by ';'). *out is set on
 * DDBPIPE_OK only; free with dp_ddl_free. DDBPIPE_ERR_INVALID_ARG when
 * text is NULL with len > 0. */
ddbpipe_result_t dp_ddl_parse(const char *text, size_t len, int fold_unquoted, dp_ddl **out, char *errstr,
                              size_t errstr_size);
void dp_ddl_free(dp_ddl *ddl);
/* Value of a WITH option (keys compare case-insensitively; the last one
 * given wins), NULL when absent. */
const char *dp_ddl_option(const dp_ddl_table *t, const char *key);
/* The definition named name (case-insensitive), NULL when none. */
const dp_ddl_table *dp_ddl_find(const dp_ddl *ddl, const char *name);
/* Index of a column (case-insensitive), -1 when none. */
int dp_ddl_column_index(const dp_ddl_table *t, const char *name);

/* ------------------------------------------------------------ statements */

typedef enum dp_sql_value_kind {
    DP_SQLV_NULL = 0,
    DP_SQLV_STRING,
    DP_SQLV_NUMBER,
    DP_SQLV_BOOL
} dp_sql_value_kind;
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
    DP_SQL_CREATE = 0, /* CREATE TABLE/VIEW/INDEX: its span is DDL (dp_ddl_parse, or config's loader) */
    DP_SQL_INSERT_VALUES,
    DP_SQL_INSERT_STDIN, /* INSERT INTO t SELECT * FROM STDIN */
    DP_SQL_DELETE,
    DP_SQL_SELECT
} dp_sql_kind;

typedef struct dp_sql_stmt {
    dp_sql_kind kind;
    char *table;           /* target / source table (SQL name); CREATE: the created name */
    int line;              /* 1-based line where the statement starts */
    size_t offset, length; /* statement text span (without ';') */
    char **columns;        /* INSERT column list or SELECT projection; 0 = all / '*' */
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

/* Parse a script of ';'-separated statements (CREATE, INSERT, DELETE,
 * SELECT). Errors name line and column. */
ddbpipe_result_t dp_sql_parse(const char *text, size_t len, dp_sql_script **out, char *errstr,
                              size_t errstr_size);
/* Where a parse failed, as fields rather than words to pick apart. */
typedef struct dp_sql_error {
    int line, column; /* 1-based; 0 when the failure has no position (memory) */
    char reason[400]; /* errstr without its "line L, column C: " */
} dp_sql_error;
/* dp_sql_parse that also fills *err (may be NULL) on failure. */
ddbpipe_result_t dp_sql_parse_ex(const char *text, size_t len, dp_sql_script **out, dp_sql_error *err,
                                 char *errstr, size_t errstr_size);
void dp_sql_script_free(dp_sql_script *script);

/* One statement of a script: [offset, offset+length) without the ';'. */
typedef struct dp_sql_span {
    size_t offset, length;
    int line;     /* 1-based line of the first token */
    int end_line; /* line of the last character */
} dp_sql_span;

/* Split text at ';' tokens (the same lexer, so ';' inside '...', "...",
 * `...` and comments does not split). Statements holding only blanks and
 * comments are skipped, so the n-th span is the n-th statement
 * dp_sql_parse returns; an unterminated quote runs to the end. *out is
 * malloc'd. Used to name the statement of a syntax error. */
ddbpipe_result_t dp_sql_split(const char *text, size_t len, dp_sql_span **out, size_t *count);
/* 1-based number of the statement containing line (0 when none). */
size_t dp_sql_statement_at_line(const dp_sql_span *spans, size_t count, int line);

#endif
