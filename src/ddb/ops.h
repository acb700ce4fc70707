/* Every DynamoDB / DynamoDB Streams operation the product uses, typed: a
 * request builder (struct in, JSON appended to a dp_buf), a response parser
 * (bytes in, struct out; pure, fuzzed by tests/fuzz/fuzz_ddb_ops.c) and,
 * for blocking callers, one call that builds, sends and parses. Layers above
 * ddb/ never write DynamoDB JSON themselves; async callers (sink, source)
 * use the builders with dp_ddb_call_async and the parsers on the answer.
 *   ops_table.c    CreateTable, DescribeTable, ListTables, UpdateTable
 *   ops_read.c     Query and Scan pages, the paging loop, GetItem
 *   ops_streams.c  DescribeStream, GetShardIterator, GetRecords (DynamoDB Streams)
 *   ops_write.c    BatchWriteItem, BatchGetItem, TransactWriteItems, conditional
 *                  PutItem / UpdateItem / DeleteItem
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

/* Capacity figures of a DescribeTable answer (not in the frozen
 * ddbpipe_table_info_t). Units a second; 0 when absent. on_demand: the
 * BillingModeSummary says PAY_PER_REQUEST; then the provisioned figures are
 * 0 and OnDemandThroughput's Max*RequestUnits (-1 or absent: no maximum)
 * are the only ceiling. */
typedef struct dp_ddb_table_capacity {
    int on_demand;
    int64_t read_capacity_units;     /* ProvisionedThroughput.ReadCapacityUnits */
    int64_t write_capacity_units;    /* ProvisionedThroughput.WriteCapacityUnits */
    int64_t max_read_request_units;  /* OnDemandThroughput.MaxReadRequestUnits; 0: none */
    int64_t max_write_request_units; /* OnDemandThroughput.MaxWriteRequestUnits; 0: none */
} dp_ddb_table_capacity;
/* Parse the capacity figures of a DescribeTable response body.
 * DDBPIPE_ERR_PARSE when the body is not JSON or has no Table object. */
ddbpipe_result_t dp_ddb_parse_table_capacity(const char *body, size_t len, dp_ddb_table_capacity *out,
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
    const dp_json *item;       /* GetItem: the item; NULL when there is none */
} dp_ddb_read_page;
void dp_ddb_read_page_init(dp_ddb_read_page *p);
void dp_ddb_read_page_free(dp_ddb_read_page *p); /* accepts NULL; p can be parsed into again */
/* Parse an answer into p (replacing what it held). PARSE (errstr names op
 * and the field) for invalid JSON, Items not an array, LastEvaluatedKey
 * not an object. An empty LastEvaluatedKey counts as the last page. */
ddbpipe_result_t dp_ddb_parse_read_page(const char *op, const char *body, size_t len, dp_ddb_read_page *p,
                                        char *errstr, size_t errstr_size);

/* GetItem: one item by its key (typed JSON object). */
typedef struct dp_ddb_get_item_req {
    const char *table;
    const char *key;
    size_t key_len;
    int consistent_read;
    const char *projection_expression;      /* NULL/"": every attribute */
    const char *expression_attribute_names; /* JSON object or NULL */
} dp_ddb_get_item_req;
ddbpipe_result_t dp_ddb_build_get_item(const dp_ddb_get_item_req *req, dp_buf *b);
/* p->item is the item, NULL when the key has none. PARSE for invalid JSON
 * or an Item that is not an object. p as for dp_ddb_parse_read_page. */
ddbpipe_result_t dp_ddb_parse_get_item(const char *body, size_t len, dp_ddb_read_page *p, char *errstr,
                                       size_t errstr_size);
/* Blocking GetItem (not used by the product yet; the typed call for the
 * next caller that reads one item). */
ddbpipe_result_t dp_ddb_get_item(dp_ddb *c, const dp_ddb_get_item_req *req, dp_ddb_read_page *p,
                                 dp_ddb_result *res);

/* Blocking paging loop: sends req from its exclusive_start_key and calls cb
 * with every page until the last one or until cb returns nonzero. A page
 * whose LastEvaluatedKey equals the key it started from is
 * DDBPIPE_ERR_SERVICE (the paging would never end). */
typedef int (*dp_ddb_page_fn)(const dp_ddb_read_page *page, void *opaque);
ddbpipe_result_t dp_ddb_read_pages(dp_ddb *c, const dp_ddb_read_req *req, dp_ddb_page_fn cb, void *opaque,
                                   dp_ddb_result *res);

/* UpdateTable: billing mode, provisioned throughput and/or the stream.
 * Not used by the product yet (create-table leaves an existing table as
 * it is); the typed call for the next caller that changes a table. */
typedef enum dp_ddb_billing_mode {
    DP_DDB_BILLING_UNCHANGED = 0,
    DP_DDB_BILLING_PAY_PER_REQUEST,
    DP_DDB_BILLING_PROVISIONED
} dp_ddb_billing_mode;
typedef struct dp_ddb_update_table_req {
    const char *table;
    dp_ddb_billing_mode billing_mode;
    int64_t read_capacity_units, write_capacity_units; /* both >= 1, or both 0: unchanged */
    const char *stream_view_type;                      /* NULL: unchanged; "": disable; else enable with it */
} dp_ddb_update_table_req;
/* INVALID_ARG with nothing to change, one capacity without the other,
 * capacity with PAY_PER_REQUEST or PROVISIONED without capacity. */
ddbpipe_result_t dp_ddb_build_update_table(const dp_ddb_update_table_req *req, dp_buf *b);
/* The TableDescription of an UpdateTable answer, read as DescribeTable's Table. */
ddbpipe_result_t dp_ddb_parse_update_table(const char *body, size_t len, ddbpipe_table_info_t *out,
                                           char *errstr, size_t errstr_size);
/* Send UpdateTable (does not wait for ACTIVE); out (may be NULL) gets the
 * answer's table description. */
ddbpipe_result_t dp_ddb_update_table(dp_ddb *c, const dp_ddb_update_table_req *req, ddbpipe_table_info_t *out,
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
/* Blocking DescribeStream page into p (asynchronous readers use the builder
 * and the parser). */
ddbpipe_result_t dp_ddb_describe_stream(dp_ddb *c, const dp_ddb_describe_stream_req *req,
                                        dp_ddb_stream_page *p, dp_ddb_result *res);

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
/* Blocking GetShardIterator into iterator. */
ddbpipe_result_t dp_ddb_get_shard_iterator(dp_ddb *c, const dp_ddb_shard_iterator_req *req, dp_buf *iterator,
                                           dp_ddb_result *res);

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

/* ---- writes (ops_write.c) */

/* BatchWriteItem body for one table, appended straight into b (no copy of
 * the items besides this one): begin, add per item (first: 1 for the first
 * add), end. json is an item (put) or a key (delete) as typed JSON. Each
 * returns the first dp_buf error (NOMEM, TOO_LARGE past b's cap); the
 * body is then incomplete and must not be sent. */
ddbpipe_result_t dp_ddb_batch_write_begin(dp_buf *b, const char *table);
ddbpipe_result_t dp_ddb_batch_write_add(dp_buf *b, int first, int is_delete, const char *json, size_t len);
ddbpipe_result_t dp_ddb_batch_write_end(dp_buf *b, int return_consumed_capacity);

/* BatchGetItem body for one table, the same way (key: typed JSON). */
ddbpipe_result_t dp_ddb_batch_get_begin(dp_buf *b, const char *table, int consistent_read);
ddbpipe_result_t dp_ddb_batch_get_add(dp_buf *b, int first, const char *key, size_t len);
ddbpipe_result_t dp_ddb_batch_get_end(dp_buf *b);

/* TransactWriteItems body: Put or Delete actions on table, each with an
 * optional condition (dp_ddb_put_condition's rule: only the names/values
 * members the expression uses are sent). client_request_token NULL/"":
 * none (1..36 characters otherwise). */
ddbpipe_result_t dp_ddb_transact_write_begin(dp_buf *b);
ddbpipe_result_t dp_ddb_transact_write_add(dp_buf *b, int first, const char *table, int is_delete,
                                           const char *json, size_t len, const char *condition_expression,
                                           const dp_json *names, const dp_json *values);
ddbpipe_result_t dp_ddb_transact_write_end(dp_buf *b, int return_consumed_capacity,
                                           const char *client_request_token);

/* One write-side answer; the pointers point into doc. */
typedef struct dp_ddb_write_answer {
    dp_json_doc *doc;
    const dp_json *root;                 /* ConsumedCapacity etc. */
    const dp_json *unprocessed;          /* BatchWriteItem: the table's UnprocessedItems (requests);
                                            BatchGetItem: its UnprocessedKeys.Keys; NULL: none */
    const dp_json *responses;            /* BatchGetItem: the table's items found; NULL: none */
    const dp_json *cancellation_reasons; /* TransactWriteItems cancelled: one reason per action */
    const dp_json *attributes;           /* single-item write with ReturnValues: the item (NULL: none) */
} dp_ddb_write_answer;
/* a starts zeroed (or from an earlier parse). */
void dp_ddb_write_answer_free(dp_ddb_write_answer *a);
/* A successful BatchWriteItem answer (an empty body: nothing left over). */
ddbpipe_result_t dp_ddb_parse_batch_write(const char *body, size_t len, const char *table,
                                          dp_ddb_write_answer *a, char *errstr, size_t errstr_size);
/* The item (put) or key (delete) of one UnprocessedItems request; NULL when neither. */
const dp_json *dp_ddb_unprocessed_write_item(const dp_json *request);
ddbpipe_result_t dp_ddb_parse_batch_get(const char *body, size_t len, const char *table,
                                        dp_ddb_write_answer *a, char *errstr, size_t errstr_size);
/* The error body of a TransactionCanceledException; PARSE without a
 * CancellationReasons array. */
ddbpipe_result_t dp_ddb_parse_transact_cancel(const char *body, size_t len, dp_ddb_write_answer *a,
                                              char *errstr, size_t errstr_size);

/* What one cancellation reason means for its action. */
typedef enum dp_ddb_cancel_reason {
    DP_DDB_CANCEL_NONE = 0,         /* "None": fine, cancelled with the others */
    DP_DDB_CANCEL_CONDITION_FAILED, /* ConditionalCheckFailed */
    DP_DDB_CANCEL_INVALID,          /* ValidationError, ItemCollectionSizeLimitExceeded: never succeeds */
    DP_DDB_CANCEL_THROTTLED,        /* ThrottlingError, ProvisionedThroughputExceeded */
    DP_DDB_CANCEL_OTHER,            /* TransactionConflict, ...: try again */
    DP_DDB_CANCEL_UNKNOWN           /* no Code */
} dp_ddb_cancel_reason;
/* code/message (either may be NULL) get the reason's Code and Message (NULL when absent). */
dp_ddb_cancel_reason dp_ddb_cancel_reason_of(const dp_json *reason, const char **code, const char **message);

/* The write errors a caller acts on (from res). */
typedef enum dp_ddb_write_error {
    DP_DDB_WRITE_ERR_NONE = 0,
    DP_DDB_WRITE_ERR_CONDITION_FAILED,     /* ConditionalCheckFailedException */
    DP_DDB_WRITE_ERR_TRANSACTION_CANCELED, /* TransactionCanceledException: see the reasons */
    DP_DDB_WRITE_ERR_IDEMPOTENT_MISMATCH,  /* IdempotentParameterMismatchException: new token */
    DP_DDB_WRITE_ERR_VALIDATION,           /* ValidationException, SerializationException */
    DP_DDB_WRITE_ERR_OTHER
} dp_ddb_write_error;
dp_ddb_write_error dp_ddb_write_error_of(const dp_ddb_result *res);

/* Conditional single-item writes. */
typedef enum dp_ddb_item_op { DP_DDB_PUT_ITEM = 0, DP_DDB_UPDATE_ITEM, DP_DDB_DELETE_ITEM } dp_ddb_item_op;
typedef struct dp_ddb_item_write_req {
    dp_ddb_item_op op;
    const char *table;
    const char *item; /* PutItem: the item; UpdateItem/DeleteItem: the key (typed JSON object) */
    size_t item_len;
    const char *update_expression;    /* UpdateItem only (required there) */
    const char *condition_expression; /* NULL: unconditional */
    /* Either configured names/values, of which only the members the
     * condition uses are sent ... */
    const dp_json *condition_names, *condition_values;
    /* ... or JSON object text sent as is (the caller wrote every
     * placeholder of both expressions); not both. */
    const char *expression_attribute_names, *expression_attribute_values;
    const char *return_values; /* NULL: NONE; "ALL_OLD", ... */
} dp_ddb_item_write_req;
/* INVALID_ARG without table/item, an update expression on another op (or
 * none on UpdateItem), or both kinds of names/values. */
ddbpipe_result_t dp_ddb_build_item_write(const dp_ddb_item_write_req *req, dp_buf *b);
/* Attributes (ReturnValues) of an answer; an empty body is an empty answer. */
ddbpipe_result_t dp_ddb_parse_item_write(const char *body, size_t len, dp_ddb_write_answer *a, char *errstr,
                                         size_t errstr_size);
/* Blocking PutItem/UpdateItem/DeleteItem. *condition_failed (may be NULL)
 * is 1 when it failed with ConditionalCheckFailedException. answer (may be
 * NULL) gets the parsed answer on success. */
ddbpipe_result_t dp_ddb_write_item(dp_ddb *c, const dp_ddb_item_write_req *req, int *condition_failed,
                                   dp_ddb_write_answer *answer, dp_ddb_result *res);

#endif
