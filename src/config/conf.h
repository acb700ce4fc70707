/* Internal typed access to the configuration (see ddbpipe.h for the public
 * side). Values are stored as text and checked against the property table. */
#ifndef DP_CONFIG_CONF_H
#define DP_CONFIG_CONF_H

#include <stdint.h>

#include "common/buf.h"
#include "config/settings.h"
#include "ddbpipe/ddbpipe.h"

/* Typed access: dp_conf_settings() in config/settings.h. By name, for
 * tests and the fuzz target only (no property name appears in the library
 * outside src/config): text with defaults applied, NULL when unset or
 * "null"; integers (dflt when unset, -1 when null); booleans. */
const char *dp_conf_str(const ddbpipe_conf_t *conf, const char *name);
int64_t dp_conf_int(const ddbpipe_conf_t *conf, const char *name, int64_t dflt);
int dp_conf_bool(const ddbpipe_conf_t *conf, const char *name, int dflt);

/* Notices collected while loading (dialect options with no effect, ...). */
size_t dp_conf_notice_count(const ddbpipe_conf_t *conf);
const char *dp_conf_notice_at(const ddbpipe_conf_t *conf, size_t i);

/* ---- additions (owner: config) ---- */

/* Add a one-line notice (deduplicated). */
void dp_conf_notice_add(ddbpipe_conf_t *conf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Load configuration text (YAML, JSON or SQL DDL, sniffed; dialects detected
 * by shape). origin names the source in messages (a file name). No I/O:
 * this is what ddbpipe_conf_load_file and the fuzz target call. */
ddbpipe_result_t dp_conf_load_text(ddbpipe_conf_t *conf, const char *text, size_t len, const char *origin,
                                   char *errstr, size_t errstr_size);

/* Apply the CREATE TABLE of a DynamoDB table found in SQL text to conf
 * (config/table_def.c over lang/'s dp_ddl_parse): a Flink table with
 * 'connector' = 'dynamodb', or a Feldera table/view whose 'connectors' hold
 * a dynamodb_output transport. With several, pick the one whose SQL name
 * (or 'table-name') is table_name_or_NULL. Other statements (INSERT,
 * SELECT, ...) are skipped. DDBPIPE_ERR_PARSE (syntax, "line L, column C:
 * ...") or DDBPIPE_ERR_CONFIG (no such table, a bad option) in errstr. */
ddbpipe_result_t dp_conf_load_sql_ddl(ddbpipe_conf_t *conf, const char *text, size_t len,
                                      const char *table_name_or_NULL, char *errstr, size_t errstr_size);

/* Placeholders in a configuration value: ${NAME} is the environment
 * variable's value, ${NAME:-default} the default when NAME is unset or
 * empty. An unset NAME without a default is DDBPIPE_ERR_CONFIG with a
 * message naming key and NAME (callers add the file). *out: caller frees. */
ddbpipe_result_t dp_conf_expand_env(const char *key, const char *s, char **out, char *errstr,
                                    size_t errstr_size);

/* Columns as parsed from the `columns` property ("id BIGINT, name VARCHAR"). */
typedef struct dp_conf_column {
    char *name; /* unquoted */
    char *type; /* SQL type text, whitespace collapsed, e.g. "DECIMAL(10, 2)" */
} dp_conf_column;
ddbpipe_result_t dp_conf_columns_parse(const char *text, dp_conf_column **out, size_t *count, char *errstr,
                                       size_t errstr_size);
void dp_conf_columns_free(dp_conf_column *cols, size_t count);
/* Append a column name as the `columns` text needs it: bare when it is a
 * plain identifier, else in backticks with ` doubled ("full name" ->
 * `full name`), so any name survives a round trip. */
ddbpipe_result_t dp_conf_column_name_append(dp_buf *b, const char *name);
/* Every column's type is one the sink can map (dp_coltype_parse); the
 * error names the column and its type. */
ddbpipe_result_t dp_conf_columns_check(const char *text, char *errstr, size_t errstr_size);

/* DynamoDB key attribute type for a SQL column type: 'N' for integer,
 * decimal and floating types, 'B' for binary types, 'S' otherwise. */
char dp_sql_type_key_type(const char *sql_type);

/* docs/configuration.md, generated from the property table. */
ddbpipe_result_t dp_conf_doc_markdown(dp_buf *out);

/* Set a kafka.<property> (name without the "kafka." prefix). */
ddbpipe_result_t dp_conf_kafka_set(ddbpipe_conf_t *conf, const char *name, const char *value);

/* Was credentials_provider given as Flink's ASSUME_ROLE? */
int dp_conf_assume_role(const ddbpipe_conf_t *conf);

#endif
