/* Every DynamoDB / DynamoDB Streams operation the product uses, typed: a
 * request builder (struct in, JSON appended to a dp_buf), a response parser
 * (bytes in, struct out; pure, fuzzed by tests/fuzz/fuzz_ddb_ops.c) and,
 * for blocking callers, one call that builds, sends and parses. Layers above
 * ddb/ never write DynamoDB JSON themselves; async callers (sink, source)
 * use the builders with dp_ddb_call_async and the parsers on the answer.
 *   ops_table.c    CreateTable, DescribeTable, ListTables
 *   ops_read.c     Query and Scan pages, the paging loop
 *   ops_streams.c  DescribeStream, GetShardIterator, GetRecords (DynamoDB Streams)
 * Blocking calls are not thread-safe per dp_ddb. On failure res keeps the
 * service error (error_code, message); the result is the classified code
 * (ResourceNotFoundException -> DDBPIPE_ERR_NOT_FOUND, ...). */
#ifndef DP_DDB_OPS_H
#define DP_DDB_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"

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

/* The table's CreationDateTime (epoch seconds, the number's text as sent)
 * from a DescribeTable answer into out; "" when absent or longer than n - 1.
 * (ddbpipe_table_info_t is frozen, see the ABI rule.) */
void dp_ddb_parse_table_created(const char *body, size_t len, char *out, size_t n);

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

/* Query (key_condition_expression set) or Scan. Expressions are DynamoDB
 * expression text; names and values are JSON object text
 * ({"#n0":"id"}, {":v0":{"N":"1"}}) built by the caller. */
typedef struct dp_ddb_read_req {
    const char *table;
    const char *key_condition_expression;    /* NULL/"": Scan */
    const char *filter_expression;           /* NULL/"": none */
    const char *projection_expression;       /* NULL/"": every attribute */
    const char *expression_attribute_names;  /* JSON object or NULL */
    const char *expression_attribute_values; /* JSON object or NULL */
    int consistent_read;
    int64_t limit;                   /* items evaluated per page; 0: service default (1 MB) */
    int segment, total_segments;     /* parallel Scan; total_segments 0: not parallel */
    int return_consumed_capacity;    /* 1: ReturnConsumedCapacity TOTAL */
    const char *exclusive_start_key; /* JSON object (a LastEvaluatedKey); NULL/"": first page */
} dp_ddb_read_req;
/* "Query" or "Scan": the operation req is for. */
const char *dp_ddb_read_operation(const dp_ddb_read_req *req);
/* Append the request body. INVALID_ARG without a table or with a segment
 * outside [0, total_segments). */
ddbpipe_result_t dp_ddb_build_read(const dp_ddb_read_req *req, dp_buf *b);

/* One Query/Scan answer. */
typedef struct dp_ddb_read_page {
    dp_json_doc *doc;          /* owns everything below */
    const dp_json *root;       /* the answer (ConsumedCapacity, Count, ...) */
    const dp_json *items;      /* array of items; NULL when the answer has none */
    dp_buf last_evaluated_key; /* compact JSON object; len 0 on the last page */
} dp_ddb_read_page;
void dp_ddb_read_page_init(dp_ddb_read_page *p);
void dp_ddb_read_page_free(dp_ddb_read_page *p); /* accepts NULL; p can be parsed into again */
/* Parse an answer into p (replacing what it held). PARSE (errstr names op
 * and the field) for invalid JSON, Items not an array, LastEvaluatedKey
 * not an object. An empty LastEvaluatedKey counts as the last page. */
ddbpipe_result_t dp_ddb_parse_read_page(const char *op, const char *body, size_t len, dp_ddb_read_page *p,
                                        char *errstr, size_t errstr_size);

/* Blocking paging loop: sends req from its exclusive_start_key and calls cb
 * with every page until the last one or until cb returns nonzero. A page
 * whose LastEvaluatedKey equals the key it started from is
 * DDBPIPE_ERR_SERVICE (the paging would never end). */
typedef int (*dp_ddb_page_fn)(const dp_ddb_read_page *page, void *opaque);
ddbpipe_result_t dp_ddb_read_pages(dp_ddb *c, const dp_ddb_read_req *req, dp_ddb_page_fn cb, void *opaque,
                                   dp_ddb_result *res);

/* ---- DynamoDB Streams (send with DP_DDB_API_STREAMS) */

/* The Streams error codes a reader acts on (from res->error_code). */
typedef enum dp_ddb_stream_error {
    DP_DDB_STREAM_ERR_NONE = 0,         /* the call succeeded */
    DP_DDB_STREAM_ERR_EXPIRED_ITERATOR, /* ExpiredIteratorException: get a new iterator */
    DP_DDB_STREAM_ERR_TRIMMED,          /* TrimmedDataAccessException: records past retention */
    DP_DDB_STREAM_ERR_NOT_FOUND,        /* ResourceNotFoundException: stream or shard gone */
    DP_DDB_STREAM_ERR_OTHER
} dp_ddb_stream_error;
dp_ddb_stream_error dp_ddb_stream_error_of(const dp_ddb_result *res);

/* DescribeStream: one page of the full listing, or (child_shards_of set)
 * of the children of one shard (ShardFilter CHILD_SHARDS). */
typedef struct dp_ddb_describe_stream_req {
    const char *stream_arn;
    int limit;                            /* shards per page; 0: service default (100) */
    const char *exclusive_start_shard_id; /* NULL/"": first page */
    const char *child_shards_of;          /* NULL/"": every shard */
} dp_ddb_describe_stream_req;
ddbpipe_result_t dp_ddb_build_describe_stream(const dp_ddb_describe_stream_req *req, dp_buf *b);
/* One DescribeStream answer; every pointer points into doc. */
typedef struct dp_ddb_stream_page {
    dp_json_doc *doc;
    const dp_json *description;          /* StreamDescription; NULL when absent */
    const dp_json *shards;               /* its Shards array (source/shards.c reads them); NULL when absent */
    const char *table_name;              /* NULL when absent */
    const char *stream_status;           /* ENABLED, DISABLED, ...; NULL when absent */
    const char *last_evaluated_shard_id; /* NULL on the last page */
} dp_ddb_stream_page;
/* p starts zeroed (or from an earlier parse); free with dp_ddb_stream_page_free. */
ddbpipe_result_t dp_ddb_parse_describe_stream(const char *body, size_t len, dp_ddb_stream_page *p,
                                              char *errstr, size_t errstr_size);
void dp_ddb_stream_page_free(dp_ddb_stream_page *p);

typedef enum dp_ddb_iterator_type {
    DP_DDB_ITER_TRIM_HORIZON = 0,
    DP_DDB_ITER_LATEST,
    DP_DDB_ITER_AFTER_SEQUENCE_NUMBER,
    DP_DDB_ITER_AT_SEQUENCE_NUMBER
} dp_ddb_iterator_type;
typedef struct dp_ddb_shard_iterator_req {
    const char *stream_arn;
    const char *shard_id;
    dp_ddb_iterator_type type;
    const char *sequence_number; /* for AFTER_/AT_SEQUENCE_NUMBER */
} dp_ddb_shard_iterator_req;
/* INVALID_ARG without an ARN or shard, or a sequence type without a number. */
ddbpipe_result_t dp_ddb_build_get_shard_iterator(const dp_ddb_shard_iterator_req *req, dp_buf *b);
/* iterator gets the ShardIterator; len 0 when the answer has none (the
 * shard has nothing left to read). */
ddbpipe_result_t dp_ddb_parse_get_shard_iterator(const char *body, size_t len, dp_buf *iterator, char *errstr,
                                                 size_t errstr_size);

/* GetRecords; limit 0: service default (1000). */
ddbpipe_result_t dp_ddb_build_get_records(const char *shard_iterator, int limit, dp_buf *b);
typedef struct dp_ddb_records_page {
    dp_json_doc *doc;
    const dp_json *records;          /* Records array; NULL when absent */
    const char *next_shard_iterator; /* NULL: the shard is closed and read to its end */
} dp_ddb_records_page;
/* p starts zeroed (or from an earlier parse); free with dp_ddb_records_page_free. */
ddbpipe_result_t dp_ddb_parse_get_records(const char *body, size_t len, dp_ddb_records_page *p, char *errstr,
                                          size_t errstr_size);
void dp_ddb_records_page_free(dp_ddb_records_page *p);

#endif
