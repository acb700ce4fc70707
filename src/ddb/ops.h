/* Small typed helpers over dp_ddb for the calls several layers need.
 * Parsers are separate from I/O so they can be tested and fuzzed. */
#ifndef DP_DDB_OPS_H
#define DP_DDB_OPS_H

#include <stddef.h>

#include "ddb/client.h"
#include "ddbpipe/ddbpipe.h"

/* DescribeTable. out is filled on success; res keeps the service error
 * (code, message) otherwise (ResourceNotFoundException -> NOT_FOUND). */
ddbpipe_result_t dp_ddb_describe_table(dp_ddb *c, const char *table, ddbpipe_table_info_t *out,
                                       dp_ddb_result *res);
/* Parse a DescribeTable response body. DDBPIPE_ERR_PARSE naming the field. */
ddbpipe_result_t dp_ddb_parse_describe_table(const char *body, size_t len, ddbpipe_table_info_t *out,
                                             char *errstr, size_t errstr_size);

/* One ListTables page. exclusive_start NULL/"" for the first page; limit
 * 0 for the service default (100). cb gets each name. last_evaluated gets
 * LastEvaluatedTableName ("" on the last page). */
typedef void (*dp_ddb_name_fn)(const char *name, void *opaque);
ddbpipe_result_t dp_ddb_list_tables_page(dp_ddb *c, const char *exclusive_start, int limit, dp_ddb_name_fn cb,
                                         void *opaque, char *last_evaluated, size_t last_size,
                                         dp_ddb_result *res);
ddbpipe_result_t dp_ddb_parse_list_tables(const char *body, size_t len, dp_ddb_name_fn cb, void *opaque,
                                          char *last_evaluated, size_t last_size);

#endif
