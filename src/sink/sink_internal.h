/* Sink internals: the shared core (config, parsing, dead letters, the
 * checkpoint ring, stats) and the per-worker write engine (per-key state,
 * batching, retries). One engine per worker thread; threads=1 runs the
 * single engine in the caller's thread. */
#ifndef DP_SINK_INTERNAL_H
#define DP_SINK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aws/sigv4.h"
#include "common/buf.h"
#include "common/json.h"
#include "config/settings.h"
#include "ddb/attr.h"
#include "ddb/capacity.h"
#include "ddb/capacity_fraction.h"
#include "ddb/client.h"
#include "ddbpipe/ddbpipe.h"
#include "formats/changes.h"
#include "sink/sink_tap.h"

typedef enum sk_op { SK_OP_PUT = 1, SK_OP_DELETE = 2, SK_OP_PATCH = 3 } sk_op;

/* ------------------------------------------------------------ parsing */

typedef struct sk_parse_ctx {
    dp_change_format_opts opts; /* format, columns, key names/types, ignore_nulls, document_attribute */
    int merge;                  /* update_mode=merge: upserts keep their patch */
} sk_parse_ctx;

typedef struct sk_change {
    sk_op op;
    dp_buf key;      /* canonical key string (dp_item_key_string) */
    dp_buf key_json; /* typed key object */
    dp_buf body;     /* PUT: typed item; PATCH: plain JSON patch; DELETE: empty */
    size_t item_size;
} sk_change;

/* SK_TOMBSTONE is not bad: a Debezium tombstone, skipped and counted
 * (nothing to write; out holds no change). */
typedef enum sk_bad_kind {
    SK_BAD_NONE = 0,
    SK_BAD_RECORD = 1,
    SK_BAD_OVERSIZED = 2,
    SK_TOMBSTONE = 3,
    SK_BAD_ARG = 4,  /* sk_parse_typed: the caller's structs are malformed (INVALID_ARG) */
    SK_BAD_NOMEM = 5 /* sk_parse_typed: out of memory */
} sk_bad_kind;

void sk_change_init(sk_change *c);
void sk_change_free(sk_change *c);
/* Parse one line. Returns SK_BAD_NONE on success, SK_TOMBSTONE for a
 * tombstone, else the kind of bad record with the reason in reason. A UTF-8
 * byte order mark at the start of the line is skipped (files written by
 * Windows tools start with one; concatenated files have one per file).
 * Pure (no I/O). */
sk_bad_kind sk_parse_line(const sk_parse_ctx *ctx, const char *line, size_t len, sk_change *out, char *reason,
                          size_t reason_size);
/* The two paths sk_parse_line takes. The fast one (sink_parse_fast.c) does
 * plain rows in one pass and returns 0, or -1 = not handled (out's buffers
 * may hold garbage then); the general one parses every format and words
 * every error. Exposed so tests and a fuzz target can compare them. */
int sk_parse_line_fast(const sk_parse_ctx *ctx, const char *line, size_t len, sk_change *out);
sk_bad_kind sk_parse_line_general(const sk_parse_ctx *ctx, const char *line, size_t len, sk_change *out,
                                  char *reason, size_t reason_size);
/* A record with a message key (ddbpipe_record_t): fmt != 0 forces that
 * dp_change_format for this record; a plain row that lacks key attributes
 * takes them from the key (a JSON object, or a Kafka Connect envelope's
 * payload). key NULL: as sk_parse_line. */
sk_bad_kind sk_parse_record(const sk_parse_ctx *ctx, int fmt, const char *line, size_t len, const char *key,
                            size_t key_len, sk_change *out, char *reason, size_t reason_size);
/* An already typed change (ddbpipe_sink_produce_item): no text is parsed.
 * text gets the change as a DynamoDB Streams record (the record's
 * dead-letter form) unless SK_BAD_ARG or SK_BAD_NOMEM. Pure (no I/O). */
sk_bad_kind sk_parse_typed(const sk_parse_ctx *ctx, const ddbpipe_item_record_t *rec, sk_change *out,
                           dp_buf *text, char *reason, size_t reason_size);
/* A tombstone's change: {"delete": KEY} (Feldera) from the message key.
 * 0 ok; -1 with the reason when the key is not a JSON object. */
int sk_tombstone_line(const char *key, size_t key_len, dp_buf *out, char *reason, size_t reason_size);
/* Canonical key string: DynamoDB's key identity (numbers canonical, so
 * 1.50 and 1.5 are one key). item may be a whole item or a key. 0 ok. */
int sk_key_canonical(const dp_json *item, const char *pk, const char *sk, dp_buf *out);
/* Typed key object {pk: AV[, sk: AV]} of an item. 0 ok. */
int sk_key_json(const dp_json *item, const char *pk, const char *sk, dp_buf *out);

/* ------------------------------------------------------------ dry run */

/* sink_dryrun.c: the per-key set of `--dry-run` (see there for its memory). */
#define SK_DRYRUN_DEFAULT_MAX_KEYS ((uint64_t)100 * 1000 * 1000)
typedef struct sk_dryrun sk_dryrun;
typedef struct sk_dryrun_totals {
    uint64_t items;         /* distinct keys */
    uint64_t puts, deletes; /* last change per key */
    uint64_t folded;        /* changes replaced by a later change of their key */
    uint64_t item_bytes;    /* sum of the final items' sizes (DynamoDB's rules) */
    double wcu;             /* sum of dp_wcu_estimate over the final changes */
    size_t keyset_bytes;    /* memory of the set */
} sk_dryrun_totals;
sk_dryrun *sk_dryrun_new(uint64_t max_keys, int transactional); /* max_keys 0: the default */
void sk_dryrun_destroy(sk_dryrun *d);                           /* accepts NULL */
/* 0; -1 out of memory; -2 more than max_keys distinct keys. */
int sk_dryrun_add(sk_dryrun *d, const char *key, size_t key_len, int op, size_t item_size);
void sk_dryrun_get(const sk_dryrun *d, sk_dryrun_totals *out);

/* ------------------------------------------------------------ records */

/* One input record, tracked until acknowledged. One allocation holds the
 * struct, the original line and the body. */
typedef struct sk_rec {
    struct sk_rec *next;
    uint64_t seq, line_no, offset;
    sk_op op;
    char *line;
    size_t line_len;
    char *body; /* see sk_change.body */
    size_t body_len;
    size_t item_size;
    size_t mem; /* bytes accounted to the buffer */
    int64_t t_ms;
    /* key, carried from the parser to the engine (same allocation) */
    char *key;
    size_t key_len;
    char *key_json;
    size_t key_json_len;
    uint64_t hash;
    uint16_t cls;     /* size class of the block (sink.c's record cache); 0 = plain malloc */
    uint8_t no_value; /* a tombstone: line holds the delete made from the message key */
    /* the record's message key as given (for delivery reports of dead letters) */
    char *mkey;
    size_t mkey_len;
} sk_rec;

/* ------------------------------------------------------------ core */

typedef struct sk_engine sk_engine;

typedef struct sk_worker {
    struct ddbpipe_sink *s;
    sk_engine *e;
    sk_change scratch; /* parse buffers, reused line after line (malloc showed in profiles) */
    pthread_t thread;
    int started;
    /* inbox (threads > 1) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sk_rec *in_head, *in_tail;
    size_t in_count;
} sk_worker;

/* threads > 1: lines are parsed by the workers in chunks; a sequencer hands
 * the parsed records to the engines in input order (per-key order). */
#define SK_PCHUNK_LINES 256
#define SK_PCHUNK_POOL 8
#define SK_NO_KEY ((size_t)-1)
typedef struct sk_pline {
    size_t off, len; /* in the chunk's text */
    size_t key_len;  /* message key, after the value in the text; SK_NO_KEY: none */
    uint8_t fmt;     /* 0: the sink's format; else a dp_change_format for this record */
    uint8_t no_value;
    uint64_t line_no, offset, seq;
    size_t mem;
    int64_t t_ms;
    struct sk_rec *pre; /* a typed item, made by produce: nothing to parse; NULL: parse the text */
} sk_pline;

typedef struct sk_pchunk {
    struct sk_pchunk *next_parse, *next_ord;
    uint64_t cseq;
    size_t n;
    sk_pline lines[SK_PCHUNK_LINES];
    sk_rec *recs[SK_PCHUNK_LINES]; /* parsed (NULL: dead-lettered) */
    dp_buf text;
    int done;
    int64_t t_first_ms;
} sk_pchunk;

typedef struct sk_ring_ent {
    uint64_t offset, line_no;
    void *opaque; /* the record's, for its delivery report */
    char *dl;     /* DEAD_LETTERED/FAILED: reason\0value\0key\0 (one malloc) */
    size_t dl_value_len, dl_key_len;
    uint8_t acked;
    uint8_t status;   /* ddbpipe_dr_status_t */
    uint8_t no_value; /* report value NULL */
} sk_ring_ent;

struct ddbpipe_sink {
    const ddbpipe_conf_t *conf_ref;
    ddbpipe_conf_t *conf;
    dp_settings set; /* typed, borrowing from conf */
    sk_parse_ctx pctx;
    char table[256];
    char pk[256], skey[256];
    dp_column *columns;
    size_t ncolumns;
    char pk_type, sk_type;
    /* options */
    int transactional, merge, fail_on_error;
    int batch_size;
    size_t max_buffer_bytes, byte_cap;
    size_t max_buffered_records;
    int64_t flush_interval_ms;
    int max_concurrent;
    int max_retries; /* -1 forever */
    int threads;
    char *cond_put, *cond_delete;          /* condition expressions */
    dp_json_doc *expr_names, *expr_values; /* parsed objects */
    ddbpipe_dr_cb_t dr_cb;
    void *dr_opaque;
    sk_report_tap tap; /* a transport's consumer of the reports (tap.report NULL: none) */
    int reports;       /* dr_cb or tap: records are reported (ring slots wait for it) */
    int tombstones_ignore;
    int offsets_per_partition; /* the stats JSON has no checkpoint_offset/line */
    sk_change item_scratch;    /* ddbpipe_sink_produce_item's buffers (the producer's thread) */
    dp_buf item_text;
    double wcap_fraction; /* write_capacity_fraction; 0: unset */
    /* write_capacity_fraction: DescribeTable re-read every 60 s on a thread
     * with its own client (a slow call does not stall the writes) */
    dp_capacity_reread *wcap_reread;
    ddbpipe_client_t *wcap_client;
    dp_capacity_bucket *wcap; /* max_write_capacity_per_s: one bucket for every worker; NULL: no cap */
    dp_rate_adapt *wadapt; /* retry_mode adaptive: the write rate that follows the table's grant; NULL: off */
    sk_dryrun *dry;        /* --dry-run: fold and count, send nothing; NULL: a real run */
    uint64_t dry_records, dry_input_bytes; /* --dry-run: changes folded, their lines' bytes */
    uint64_t dry_max_keys;

    /* shared state, under mu */
    pthread_mutex_t mu;
    pthread_cond_t ack_cv;
    sk_ring_ent *ring;
    size_t ring_cap;
    uint64_t next_seq, head_seq;
    uint64_t dr_seq;               /* delivery reports served below this (dr_cb only) */
    uint64_t ack_offset, ack_line; /* acknowledged position (stats) */
    int have_ack;
    size_t unacked_records, unacked_bytes;
    int bp_active; /* backpressure on (hysteresis) */
    int waiters;   /* callers waiting on ack_cv */
    int stopping;  /* threads: ask workers to exit */

    /* stop state */
    ddbpipe_result_t fatal;   /* hard fatal: nothing more is sent */
    ddbpipe_result_t stopped; /* fail_on_error: no more input; flush allowed */
    char fatal_msg[512];

    ddbpipe_sink_stats_t st; /* counters updated atomically */
    struct {
        uint64_t internal_errors; /* invariant violations (must stay 0) */
    } ist;
    uint64_t n_written_calls;

    sk_worker *workers;
    int nworkers;
    /* parse pipeline (threads > 1) */
    pthread_mutex_t pq_mu;
    sk_pchunk *cur;                 /* being filled by produce */
    sk_pchunk *pq_head, *pq_tail;   /* waiting to be parsed */
    sk_pchunk *ord_head, *ord_tail; /* submitted, not yet delivered, in input order */
    sk_pchunk *pchunk_pool;         /* delivered chunks kept for reuse (pq_mu), at most SK_PCHUNK_POOL */
    int pchunk_pooled;
    uint64_t next_cseq;
    unsigned rr;
    void *metrics;         /* sink_metrics.c */
    uint64_t flush_epoch;  /* threads: odd = workers send partial batches (flush/backpressure) */
    int flush_epoch_owner; /* flush() holds the force mode */
};

/* Writes are metered in capacity units (a cap or the adaptive rate). */
#define SK_METERED(s) ((s)->wcap != NULL || (s)->wadapt != NULL)

/* Counter helpers (atomic so workers can update them). */
#define SK_IADD(s, field, n) __atomic_add_fetch(&(s)->ist.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define SK_ADD(s, field, n) __atomic_add_fetch(&(s)->st.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define SK_SUB(s, field, n) __atomic_sub_fetch(&(s)->st.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define SK_GET(s, field) __atomic_load_n(&(s)->st.field, __ATOMIC_RELAXED)

/* Called by engines (any thread). */
void sk_core_ack(struct ddbpipe_sink *s, sk_rec *r);                             /* frees r */
void sk_core_dead_letter(struct ddbpipe_sink *s, sk_rec *r, const char *reason); /* acks + frees r */
void sk_core_fatal(struct ddbpipe_sink *s, ddbpipe_result_t code, const char *msg);
int sk_core_stopped_hard(struct ddbpipe_sink *s);
int sk_core_buffer_full(struct ddbpipe_sink *s);
void sk_core_latency(struct ddbpipe_sink *s, int64_t ns);
void sk_rec_free(sk_rec *r);

/* ------------------------------------------------------------ engine */

/* Takes ownership of client. */
sk_engine *sk_engine_new(struct ddbpipe_sink *s, ddbpipe_client_t *client);
void sk_engine_destroy(sk_engine *e); /* frees records still held (not acked) */
/* Take ownership of a record (key already canonical in key/key_json). */
void sk_engine_add(sk_engine *e, sk_rec *r);
/* Send what is due; force: send partial batches too. */
void sk_engine_dispatch(sk_engine *e, int force);
/* The same with the monotonic time (dp_now_ms) the caller has just read:
 * the per-record path reads the clock once, for the record and this. */
void sk_engine_dispatch_at(sk_engine *e, int force, int64_t now_ms);
/* Drive I/O up to timeout_ms; returns 1 when anything completed. */
int sk_engine_run(sk_engine *e, int timeout_ms);
int sk_engine_idle(const sk_engine *e); /* no records held, no calls */
size_t sk_engine_in_flight(const sk_engine *e);
int64_t sk_engine_next_timer_ms(const sk_engine *e,
                                int64_t now_ms); /* ms until a flush/retry is due; -1 none */

/* ------------------------------------------------------------ client, metrics */

int sk_metrics_start(struct ddbpipe_sink *s, const char *address, char *errstr, size_t errstr_size);
void sk_metrics_stop(struct ddbpipe_sink *s);
/* /readyz: ready, or not with a reason (no-op without a metrics server). */
void sk_metrics_set_ready(struct ddbpipe_sink *s, int ready, const char *reason);
void sk_metrics_latency(struct ddbpipe_sink *s, double seconds);
/* The sink's metrics registry (Prometheus on metrics_address), for the
 * transports that feed it (Kafka lag, commits); NULL before start. */
struct dp_metrics *sk_metrics_registry(struct ddbpipe_sink *s);
/* Push counter deltas to the registry (at most every 250 ms unless force). */
void sk_metrics_sync(struct ddbpipe_sink *s, int force);
/* Prometheus text for the sink's metrics (also used without a server). */
ddbpipe_result_t sk_metrics_render(struct ddbpipe_sink *s, dp_buf *out);

#endif
