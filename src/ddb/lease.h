/* The lease table of source scale-out (KCL's design): one item per
 * (application, shard), taken, renewed and checkpointed with conditional
 * writes. Typed calls over dp_ddb; the item parser is separate from I/O.
 *
 * Item (all workers of all applications share the table):
 *   lease_key  S  partition key: application_name + "/" + shard id
 *   app        S  application_name
 *   shard      S  shard id
 *   owner      S  worker_id of the holder; absent: free
 *   counter    N  bumped by every renewal, take, checkpoint and release
 *   checkpoint S  TRIM_HORIZON, LATEST, a sequence number (last emitted), or SHARD_END
 *   parents    L  of S: parent shard ids
 *   at_tip     BOOL  the holder read the (open) shard to its tip at checkpoint
 *   pos        S  a position too long for checkpoint: a Scan segment's
 *                 LastEvaluatedKey (compact JSON), or a shard iterator
 *   total_segments N  snapshot lease (shard "#snapshot"): the Scan's TotalSegments
 * Snapshot leases (source.c) use shard names starting with '#', which no
 * DynamoDB shard id does.
 * Blocking calls; not thread-safe per dp_ddb (other async calls of the same
 * client may complete during them). */
#ifndef DP_DDB_LEASE_H
#define DP_DDB_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "ddb/client.h"
#include "ddbpipe/ddbpipe.h"

#define DP_LEASE_SHARD_END "SHARD_END"
#define DP_LEASE_MAX_PARENTS 2

typedef struct dp_lease {
    char key[512];
    char shard[128];
    char owner[256]; /* "": free */
    int64_t counter;
    char checkpoint[64];
    char parents[DP_LEASE_MAX_PARENTS][128];
    int n_parents;
    int at_tip;
    char *pos;        /* NULL: none; malloc'd by dp_lease_parse_page (dp_lease_list_free) */
    int64_t segments; /* 0: none */
} dp_lease;

typedef enum dp_lease_op {
    DP_LEASE_RENEW = 0,  /* owner = me AND counter = c: counter + 1 */
    DP_LEASE_TAKE,       /* counter = c AND owner is prev (or absent): owner = me, counter + 1 */
    DP_LEASE_CHECKPOINT, /* owner = me AND counter = c: checkpoint, at_tip, counter + 1 */
    DP_LEASE_RELEASE     /* owner = me AND counter = c: REMOVE owner, counter + 1 */
} dp_lease_op;

/* DescribeTable; CreateTable (PAY_PER_REQUEST, lease_key S) when missing,
 * then wait up to timeout_ms for ACTIVE. A table with another key schema is
 * DDBPIPE_ERR_CONFIG (res->message says why). */
ddbpipe_result_t dp_lease_table_ensure(dp_ddb *c, const char *table, int64_t timeout_ms, dp_ddb_result *res);

/* PutItem unless the key exists (with l->pos and l->segments when set). *created 1 when written, 0 when it
 * was there (ConditionalCheckFailedException is not an error here). */
ddbpipe_result_t dp_lease_create(dp_ddb *c, const char *table, const char *app, const dp_lease *l,
                                 int *created, dp_ddb_result *res);

/* Every lease of app (Scan pages, FilterExpression app = :a). *out is
 * malloc'd (free it), *n entries; at most max_leases or DDBPIPE_ERR_INVALID_ARG. */
ddbpipe_result_t dp_lease_list(dp_ddb *c, const char *table, const char *app, size_t max_leases,
                               dp_lease **out, size_t *n, dp_ddb_result *res);

/* Free a dp_lease_list / dp_lease_parse_page array (NULL ok). */
void dp_lease_list_free(dp_lease *v, size_t n);

/* One conditional update on l (key, counter; owner for TAKE). me: this
 * worker. checkpoint/at_tip only for CHECKPOINT. On success l->counter and
 * l->owner follow. *lost 1 when the condition failed (the lease moved on). */
ddbpipe_result_t dp_lease_update(dp_ddb *c, const char *table, dp_lease_op op, dp_lease *l, const char *me,
                                 const char *checkpoint, int at_tip, int *lost, dp_ddb_result *res);
/* dp_lease_update that also sets pos (CHECKPOINT only; NULL: left as is,
 * "": removed). */
ddbpipe_result_t dp_lease_update_pos(dp_ddb *c, const char *table, dp_lease_op op, dp_lease *l,
                                     const char *me, const char *checkpoint, int at_tip, const char *pos,
                                     int *lost, dp_ddb_result *res);
/* DeleteItem of l when its counter is still l->counter and its checkpoint
 * is checkpoint; *lost 1 when the condition failed. */
ddbpipe_result_t dp_lease_delete(dp_ddb *c, const char *table, const dp_lease *l, const char *checkpoint,
                                 int *lost, dp_ddb_result *res);

/* Parse the "Items" of a Scan answer (appended to v, n, cap; at most max_leases)
 * and LastEvaluatedKey (compact JSON into last, "" when none). */
ddbpipe_result_t dp_lease_parse_page(const char *body, size_t len, dp_lease **v, size_t *n, size_t *cap,
                                     size_t max_leases, dp_buf *last, char *errstr, size_t errstr_size);

#endif
