/* `ddbpipe sql`: executes the statements parsed by lang/parse.h against
 * DynamoDB (writes through the sink engine, reads with Query/Scan). The
 * pure pieces (literal typing, request building, the text table) are here
 * so they can be unit-tested without a service. */
#ifndef DP_SQL_SQL_H
#define DP_SQL_SQL_H

#include <stddef.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddb/attr.h"
#include "ddb/ops.h"
#include "ddbpipe/ddbpipe.h"
#include "lang/parse.h"

/* A SQL literal as plain JSON for a column of type (NULL: follow the
 * literal). Literals are coerced the way a SQL user expects: a number for a
 * string-like column becomes its text, a 'string' for an ARRAY/MAP/ROW
 * column is parsed as JSON, 'true'/'false' for BOOLEAN. The result is then
 * checked with the column type (dp_attr_from_plain) so a bad value is
 * reported here, naming the column. NULL with errstr set on error. */
dp_json *dp_sql_literal_plain(dp_json_doc *doc, const dp_sql_value *v, const dp_coltype *type,
                              const char *column, char *errstr, size_t errstr_size);

/* The table's key as seen by a read. */
typedef struct dp_sql_key {
    const char *pk;
    char pk_type;   /* 'S', 'N', 'B' */
    const char *sk; /* NULL when none */
    char sk_type;
} dp_sql_key;

/* The Query (when the WHERE fixes the partition key with '=') or Scan
 * answering a SELECT: key conditions, the other conditions as a
 * FilterExpression, the projection, Limit (when no filter). req points into
 * the buffers; set req.exclusive_start_key to page. */
typedef struct dp_sql_read {
    dp_buf key_condition, filter, projection, names, values;
    dp_ddb_read_req req;
} dp_sql_read;
/* Fill out (free it with dp_sql_read_free, also after an error). Columns
 * give the types of non-key values (may be NULL). Sets *is_query. Errors
 * (unknown column, comparison with NULL) name the column. */
ddbpipe_result_t dp_sql_build_read(dp_sql_read *out, const char *table, const dp_sql_stmt *s,
                                   const dp_sql_key *key, const dp_column *columns, size_t ncolumns,
                                   int *is_query, char *errstr, size_t errstr_size);
void dp_sql_read_free(dp_sql_read *r);

/* Aligned text table (psql style): header, separator, rows, "(N rows)".
 * cells is nrows x ncols, row-major; NULL cells print as NULL. Widths count
 * UTF-8 code points. */
ddbpipe_result_t dp_sql_render_table(dp_buf *out, const char *const *headers, size_t ncols,
                                     const char *const *cells, size_t nrows, int footer);

/* Text of a plain JSON value in a table cell: strings unquoted (control
 * characters escaped), null as NULL, the rest as compact JSON. */
ddbpipe_result_t dp_sql_cell_text(dp_buf *out, const dp_json *plain);

#endif
