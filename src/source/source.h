/* Source engine internals: the DynamoDB Streams shard graph, the checkpoint
 * document, and the parsers of DescribeStream / GetRecords / Scan answers.
 * Everything here is pure (no I/O) so it can be unit-tested and fuzzed; the
 * event loop that drives the calls lives in source.c. */
#ifndef DP_SOURCE_SOURCE_H
#define DP_SOURCE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddbpipe/ddbpipe.h"
#include "formats/events.h"

/* ------------------------------------------------------------ shard graph */

/* Runtime state of one shard in the engine. */
typedef enum dp_shard_state {
    DP_SHARD_WAITING = 0,  /* parent not read to the end yet, or stream phase not started */
    DP_SHARD_NEED_ITER,    /* needs GetShardIterator */
    DP_SHARD_ITER_PENDING, /* GetShardIterator in flight */
    DP_SHARD_IDLE,         /* holds an iterator; GetRecords due at due_ms */
    DP_SHARD_GET_PENDING,  /* GetRecords in flight */
    DP_SHARD_FINISHED,     /* read to the end (or skipped: closed before a LATEST start) */
    DP_SHARD_HELD          /* a GetRecords answer waits for the Scan calls sent before it arrived */
} dp_shard_state;

typedef struct dp_shard {
    char *id;
    char *parent_id;  /* NULL: none */
    char *end_seq;    /* EndingSequenceNumber from a listing: shard is closed */
    char *last_seq;   /* last emitted sequence number (checkpointed) */
    int finished;     /* read to the end: GetRecords returned no NextShardIterator */
    int start_latest; /* first iterator is LATEST (first start with --from latest) */
    /* engine fields */
    dp_shard_state state;
    char *iterator;
    int64_t due_ms;
    int at_tip;           /* empty GetRecords answers in a row on an open shard */
    int children_checked; /* CHILD_SHARDS listing done after it closed */
    int child_retries;
    int failures;          /* consecutive retryable failures */
    int horizon_refreshes; /* TRIM_HORIZON iterators renewed after TrimmedDataAccessException, no record read
                            */
    int64_t ms_behind;
    uint64_t records;
    struct dp_metric *m_behind; /* gauge of ms behind, registered on first use */
    uint32_t seen_gen;          /* last full listing that showed it */
    int child_pending;          /* a CHILD_SHARDS listing of it is in flight */
    /* snapshot+stream: a GetRecords answer (its body) that arrived while Scan
     * calls were in flight; emitted once every Scan call numbered up to
     * held_barrier has been answered (see source.c "Stream during the scan") */
    char *held;
    size_t held_len;
    uint64_t held_barrier;
    /* lease mode (lease_table set) */
    int leased;                   /* this worker holds the shard's lease */
    int lease_known;              /* the lease item exists */
    int64_t lease_counter;        /* counter of the item as this worker last wrote or read it */
    int64_t lease_valid_until_ms; /* emit only before this (monotonic; renewal send time + lease duration) */
    char *lease_cp;               /* checkpoint last written */
    int lease_tip;                /* at_tip last written */
    int64_t obs_counter;          /* counter seen in the last lease listing */
    int64_t obs_changed_ms;       /* when counter or owner were last seen to change (this worker's clock) */
    char *obs_owner;
} dp_shard;

typedef struct dp_shard_graph {
    dp_shard **v;
    size_t n, cap;
    uint32_t gen; /* full listing generation; merge stamps shards with it */
} dp_shard_graph;

void dp_shard_graph_init(dp_shard_graph *g);
void dp_shard_graph_free(dp_shard_graph *g);
dp_shard *dp_shard_graph_find(const dp_shard_graph *g, const char *id);
/* Add a shard (or return the existing one). NULL on NOMEM. */
dp_shard *dp_shard_graph_add(dp_shard_graph *g, const char *id, const char *parent_id);
/* Replace *slot with a copy of s (NULL clears). 0 ok, -1 nomem. */
int dp_strdup_to(char **slot, const char *s);

/* Merge the "Shards" array of a DescribeStream answer. *added counts new
 * shards. DDBPIPE_ERR_PARSE (errstr names the field) on malformed input. */
ddbpipe_result_t dp_shard_graph_merge(dp_shard_graph *g, const dp_json *shards, size_t *added, char *errstr,
                                      size_t errstr_size);
/* Forget shards read to their end that the last full listing (generation
 * g->gen) no longer shows: they were trimmed (24 h), so nothing can need
 * them, and the checkpoint stays small. Returns how many were removed. */
size_t dp_shard_graph_prune(dp_shard_graph *g);
/* Does any shard list id as its parent? */
int dp_shard_graph_has_child(const dp_shard_graph *g, const char *id);
/* An inconsistent listing: the first shard that is closed (listed with an
 * EndingSequenceNumber, or read to its end) but has no child in the graph.
 * Shards whose children were already looked for (children_checked) are
 * skipped. NULL when consistent. Such a shard may be a real leaf (stream disabled), so
 * callers retry a bounded number of times. */
const dp_shard *dp_shard_graph_closed_leaf(const dp_shard_graph *g);
/* A shard may be read once its parent is read to the end. A parent absent
 * from the graph (trimmed away, older than 24 h) does not block. */
int dp_shard_readable(const dp_shard_graph *g, const dp_shard *s);

/* --------------------------------------------------------------- records */

/* Parse one GetRecords "Records" element into ev (borrowed views into
 * rec; ev->table is left to the caller). DDBPIPE_ERR_PARSE with a reason
 * naming the field on malformed input. */
ddbpipe_result_t dp_src_parse_record(const dp_json *rec, const char *shard, dp_event *ev, char *errstr,
                                     size_t errstr_size);

/* ------------------------------------------------------------ checkpoint */

typedef struct dp_src_segment {
    int done;
    char *last_key; /* compact JSON of LastEvaluatedKey; NULL: from the start */
    /* engine fields */
    int pending;
    int failures;
    int64_t due_ms;
    uint64_t pages, items;
    double est_rcu;     /* read cap: what the segment's last page consumed (the next page's estimate) */
    double charged_rcu; /* read cap: charged for the page in flight */
    uint64_t call_no;   /* number of the Scan call in flight (src->scan_calls when it was sent) */
    /* lease mode (lease_table set): as the dp_shard fields */
    int leased;
    int64_t lease_counter;
    int64_t lease_valid_until_ms;
    char *lease_pos; /* last_key as last checkpointed ("" from the start) */
    int lease_done;  /* SEGMENT_END checkpointed */
    int64_t obs_counter;
    int64_t obs_changed_ms;
    char *obs_owner;
} dp_src_segment;

typedef struct dp_src_checkpoint {
    char *table;
    char *table_created; /* the table's CreationDateTime: a re-created table is another table */
    char *stream_arn;
    char *mode;
    int snapshot_done;
    int total_segments;       /* 0: no snapshot section */
    dp_src_segment *segments; /* total_segments entries */
    int stream_started;       /* the stream phase began (positions are meaningful) */
    dp_shard_graph shards;    /* id, parent, last_seq, finished */
} dp_src_checkpoint;

void dp_src_checkpoint_init(dp_src_checkpoint *cp);
void dp_src_checkpoint_free(dp_src_checkpoint *cp);
/* Serialize (pure). */
ddbpipe_result_t dp_src_checkpoint_write(const dp_src_checkpoint *cp, dp_buf *out);
/* Parse; errstr names the field. cp must be freshly initialized. */
ddbpipe_result_t dp_src_checkpoint_parse(const char *text, size_t len, dp_src_checkpoint *cp, char *errstr,
                                         size_t errstr_size);

/* -------------------------------------------------------------- helpers */

/* Compare two DynamoDB sequence numbers (decimal digit strings, up to 40
 * digits): <0, 0, >0. */
int dp_seq_cmp(const char *a, const char *b);

#endif
