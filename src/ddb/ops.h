/* Every DynamoDB / DynamoDB Streams operation the product uses, typed: a
 * request builder (struct in, JSON appended to a dp_buf), a response parser
 * (bytes in, struct out; pure, fuzzed by tests/fuzz/fuzz_ddb_ops.c) and,
 * for blocking callers, one call that builds, sends and parses. Layers above
 * ddb/ never write DynamoDB JSON themselves; async callers (sink, source)
 * use the builders with dp_ddb_call_async and the parsers on the answer.
 *   ops_table.c    CreateTable, DescribeTable, ListTables
 * Blocking calls are not thread-safe per dp_ddb. On failure res keeps the
 * service error (error_code, message); the result is the classified code
 * (ResourceNotFoundException -> DDBPIPE_ERR_NOT_FOUND, ...). */
#ifndef DP_DDB_OPS_H
#define DP_DDB_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

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

/* CreateTable. key names the partition key (and sort key, "" none) with
 * types 'S', 'N' or 'B'. */
typedef struct dp_ddb_create_table_req {
    const char *table;
    ddbpipe_key_schema_t key;
    int provisioned;              /* 0: PAY_PER_REQUEST */
    int64_t read_capacity_units;  /* >= 1 when provisioned */
    int64_t write_capacity_units; /* >= 1 when provisioned */
    const char *stream_view_type; /* NULL/"": no stream; else NEW_IMAGE, ... */
} dp_ddb_create_table_req;
/* Append the request body. DDBPIPE_ERR_INVALID_ARG for a missing name, a
 * bad key type or provisioned capacity below 1; NOMEM past b's cap. */
ddbpipe_result_t dp_ddb_build_create_table(const dp_ddb_create_table_req *req, dp_buf *b);
/* Send CreateTable (does not wait for ACTIVE). *exists (may be NULL) is 1
 * when it failed with ResourceInUseException: the table is already there. */
ddbpipe_result_t dp_ddb_create_table(dp_ddb *c, const dp_ddb_create_table_req *req, int *exists,
                                     dp_ddb_result *res);

#endif
