/*
 * ddbpipe public API.
 *
 * Everything the CLI (and any embedding program) uses lives here. Handles are
 * opaque; every *_new has a *_destroy that accepts NULL; functions return a
 * ddbpipe_result_t and, where a human needs details, fill a caller buffer.
 */
#ifndef DDBPIPE_H
#define DDBPIPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DDBPIPE_VERSION_STR, DDBPIPE_VERSION_MAJOR/MINOR/PATCH/NUM: generated
 * from CMake's project version (the only place the version is written). */
#include "ddbpipe/version.h"

/* Every public function is marked DDBPIPE_API: the shared library is built
 * with hidden visibility, so only these symbols (all named ddbpipe_*) are
 * exported; everything else stays internal and cannot collide with an
 * embedding program's names. */
#if defined(__GNUC__) || defined(__clang__)
#define DDBPIPE_API __attribute__((visibility("default")))
#else
#define DDBPIPE_API
#endif

/* ABI (the rule is in docs/architecture.md): handles are opaque. A public
 * struct that may grow (options, stats) only ever gets fields appended, and
 * a new field's zero value keeps the old behaviour. Functions taking such a
 * struct are macros over a *_sz symbol that also receives sizeof the struct
 * as the caller was compiled: the library reads (options) or writes (stats)
 * only that many bytes, so a program built against an older header keeps
 * working with a newer libddbpipe.so.0. Structs the library returns by
 * pointer (ddbpipe_conf_prop_info_t) are read-only and also append-only.
 * ddbpipe_key_schema_t and ddbpipe_table_info_t are frozen. */

/* One append-only error enum (never renumber; add at the end). */
typedef enum ddbpipe_result {
    DDBPIPE_OK = 0,
    DDBPIPE_ERR_NOMEM = 1,
    DDBPIPE_ERR_INVALID_ARG = 2,
    DDBPIPE_ERR_PARSE = 3,        /* malformed input (JSON, YAML, XML, ...) */
    DDBPIPE_ERR_IO = 4,           /* file or pipe error */
    DDBPIPE_ERR_CONFIG = 5,       /* invalid configuration */
    DDBPIPE_ERR_CREDENTIALS = 6,  /* no provider could supply credentials */
    DDBPIPE_ERR_TRANSPORT = 7,    /* connect/reset/DNS: retryable */
    DDBPIPE_ERR_TIMEOUT = 8,      /* connect or read timeout: retryable */
    DDBPIPE_ERR_CRC32 = 9,        /* x-amz-crc32 mismatch: retryable */
    DDBPIPE_ERR_SERVICE = 10,     /* the service answered with an error */
    DDBPIPE_ERR_TOO_LARGE = 11,   /* a size cap was hit */
    DDBPIPE_ERR_QUEUE_FULL = 12,  /* backpressure: flush and try again */
    DDBPIPE_ERR_NOT_FOUND = 13,   /* table/stream/profile missing */
    DDBPIPE_ERR_UNSUPPORTED = 14, /* feature not built or not applicable */
    DDBPIPE_ERR_AUTH = 15,        /* signature/credentials rejected */
    DDBPIPE_ERR_VALIDATION = 16,  /* record or request invalid for DynamoDB */
    DDBPIPE_ERR_RETRIES_EXHAUSTED = 17,
    DDBPIPE_ERR_INTERRUPTED = 18,
    DDBPIPE_ERR_SCHEMA_MISMATCH = 19, /* table key schema differs from config */
    DDBPIPE_ERR_DATA_LOSS = 20,       /* e.g. TrimmedDataAccessException */
    DDBPIPE_ERR_TLS = 21,             /* TLS: certificate not verified, bad CA file */
    DDBPIPE_ERR__COUNT
} ddbpipe_result_t;

/* The library's version ("0.1.0"), which may differ from the header's
 * DDBPIPE_VERSION_STR when a program runs against a newer libddbpipe.so. */
DDBPIPE_API const char *ddbpipe_version(void);

/* Human-readable, static string for a result code. Never NULL. */
DDBPIPE_API const char *ddbpipe_strerror(ddbpipe_result_t r);

/* Process exit codes used by the CLI (documented in docs/ddbpipe.1.md). */
enum {
    DDBPIPE_EXIT_OK = 0,
    DDBPIPE_EXIT_DEAD_LETTERED = 1, /* finished, some records dead-lettered */
    DDBPIPE_EXIT_USAGE = 2,         /* bad usage/config, or not built yet */
    DDBPIPE_EXIT_FATAL = 3,         /* auth, missing table, unreachable, data loss */
    DDBPIPE_EXIT_INTERRUPTED = 130  /* second signal: aborted */
};

/* ---------------------------------------------------------------- config */

/* Configuration: one table of known properties (name, type, default, range,
 * doc) drives parsing, validation, --help and docs/configuration.md. */
typedef struct ddbpipe_conf ddbpipe_conf_t;

DDBPIPE_API ddbpipe_conf_t *ddbpipe_conf_new(void);
DDBPIPE_API void ddbpipe_conf_destroy(ddbpipe_conf_t *conf);
DDBPIPE_API ddbpipe_conf_t *ddbpipe_conf_dup(const ddbpipe_conf_t *conf);

/* Set one property by name (canonical name or a dialect alias). On failure
 * writes a message naming key, value and allowed range into errstr. */
DDBPIPE_API ddbpipe_result_t ddbpipe_conf_set(ddbpipe_conf_t *conf, const char *name, const char *value,
                                              char *errstr, size_t errstr_size);
/* Load a YAML or JSON file (format sniffed). Unknown keys are errors that
 * name the closest known key. */
DDBPIPE_API ddbpipe_result_t ddbpipe_conf_load_file(ddbpipe_conf_t *conf, const char *path, char *errstr,
                                                    size_t errstr_size);
/* Value as text (defaults applied); NULL when unset and no default. Secret
 * properties return their value here: callers must never print them. */
DDBPIPE_API const char *ddbpipe_conf_get(const ddbpipe_conf_t *conf, const char *name);
/* The DynamoDB table name (the `table` property), NULL when unset. */
DDBPIPE_API const char *ddbpipe_conf_table(const ddbpipe_conf_t *conf);
/* Is this property set explicitly (not just defaulted)? */
DDBPIPE_API int ddbpipe_conf_is_set(const ddbpipe_conf_t *conf, const char *name);
/* Validate cross-field rules (keys, batch size per mode, ...). */
DDBPIPE_API ddbpipe_result_t ddbpipe_conf_validate(const ddbpipe_conf_t *conf, const char *subcommand,
                                                   char *errstr, size_t errstr_size);

/* Iterate the property table (for --help, `config --list`, doc generation). */
typedef struct ddbpipe_conf_prop_info {
    const char *name;
    const char *type;  /* "string", "int", "bool", "enum", "secret", "duration_ms", ... */
    const char *dflt;  /* NULL: no default */
    const char *range; /* human text: "1..25", "batch|transactional", NULL */
    const char *doc;
    const char *scope;   /* subcommands using it: "sink,source,check" */
    const char *aliases; /* dialect names: "table-name,resource.table" or NULL */
} ddbpipe_conf_prop_info_t;
DDBPIPE_API size_t ddbpipe_conf_prop_count(void);
DDBPIPE_API const ddbpipe_conf_prop_info_t *ddbpipe_conf_prop_at(size_t i);

/* `kafka.<property>` keys are not in the property table: they are kept in
 * the order set (a repeated name replaces the value) and passed to
 * librdkafka as they are. Names are returned without the "kafka." prefix.
 * ddbpipe_conf_kafka_is_secret says whether a value must never be printed
 * (passwords, secrets, private keys). */
DDBPIPE_API size_t ddbpipe_conf_kafka_count(const ddbpipe_conf_t *conf);
DDBPIPE_API const char *ddbpipe_conf_kafka_name(const ddbpipe_conf_t *conf, size_t i);
DDBPIPE_API const char *ddbpipe_conf_kafka_value(const ddbpipe_conf_t *conf, size_t i);
DDBPIPE_API int ddbpipe_conf_kafka_is_secret(const char *name);
/* kafka_enabled: true (the CLI then behaves as with --kafka). */
DDBPIPE_API int ddbpipe_conf_kafka_enabled(const ddbpipe_conf_t *conf);
/* lease_table is set: the source keeps its positions in a lease table
 * (scale-out), so a restarted worker appends to its output. */
DDBPIPE_API int ddbpipe_conf_source_leased(const ddbpipe_conf_t *conf);

/* ---------------------------------------------------------------- logging */

typedef enum {
    DDBPIPE_LOG_ERROR = 0,
    DDBPIPE_LOG_WARN,
    DDBPIPE_LOG_INFO,
    DDBPIPE_LOG_DEBUG
} ddbpipe_log_level_t;
/* Global log level for stderr logging (default WARN). */
DDBPIPE_API void ddbpipe_log_set_level(ddbpipe_log_level_t level);
/* The configured log_level: 1 and *out when the configuration sets it,
 * 0 when it is left at its default. */
DDBPIPE_API int ddbpipe_conf_log_level(const ddbpipe_conf_t *conf, ddbpipe_log_level_t *out);

/* ---------------------------------------------------------------- client */

/* A DynamoDB client: region, endpoint, credentials chain, HTTP engine and
 * retry policy. Not thread-safe: one per thread. */
typedef struct ddbpipe_client ddbpipe_client_t;

DDBPIPE_API ddbpipe_result_t ddbpipe_client_new(const ddbpipe_conf_t *conf, ddbpipe_client_t **out,
                                                char *errstr, size_t errstr_size);
DDBPIPE_API void ddbpipe_client_destroy(ddbpipe_client_t *client);

/* Name of the provider that supplied credentials ("static", "environment",
 * "web-identity", "profile:NAME", "process", "assume-role", "container",
 * "imds"). Resolves credentials if needed. Never the secret itself. */
DDBPIPE_API ddbpipe_result_t ddbpipe_client_credentials_source(ddbpipe_client_t *client,
                                                               const char **provider,
                                                               const char **access_key_id_masked,
                                                               char *errstr, size_t errstr_size);
DDBPIPE_API const char *ddbpipe_client_region(const ddbpipe_client_t *client);
DDBPIPE_API const char *ddbpipe_client_endpoint(const ddbpipe_client_t *client);

/* Key schema of a table. */
typedef struct ddbpipe_key_schema {
    char partition_key[256];
    char partition_type; /* 'S', 'N' or 'B' */
    char sort_key[256];  /* "" when none */
    char sort_type;      /* 0 when none */
} ddbpipe_key_schema_t;

typedef struct ddbpipe_table_info {
    ddbpipe_key_schema_t key;
    char status[32];           /* ACTIVE, CREATING, ... */
    char stream_arn[512];      /* "" when no stream */
    char stream_view_type[32]; /* NEW_AND_OLD_IMAGES, ... */
    char billing_mode[32];
    int64_t item_count;
} ddbpipe_table_info_t;

DDBPIPE_API ddbpipe_result_t ddbpipe_describe_table(ddbpipe_client_t *client, const char *table,
                                                    ddbpipe_table_info_t *out, char *errstr,
                                                    size_t errstr_size);

/* Create the table described by conf (table, key columns and types,
 * billing_mode, stream_view_type) and wait for ACTIVE. Idempotent when the
 * table exists with that key schema; DDBPIPE_ERR_SCHEMA_MISMATCH naming the
 * difference otherwise. *created is set to 1 when a new table was made. */
DDBPIPE_API ddbpipe_result_t ddbpipe_create_table(ddbpipe_client_t *client, const ddbpipe_conf_t *conf,
                                                  int *created, char *errstr, size_t errstr_size);

/* List table names, one per callback. */
DDBPIPE_API ddbpipe_result_t ddbpipe_list_tables(ddbpipe_client_t *client,
                                                 void (*cb)(const char *name, void *opaque), void *opaque,
                                                 char *errstr, size_t errstr_size);

/* Check: config valid, credentials resolve, table exists, configured key
 * columns match. Writes a human report line by line through cb. */
DDBPIPE_API ddbpipe_result_t ddbpipe_check(const ddbpipe_conf_t *conf,
                                           void (*cb)(const char *line, void *opaque), void *opaque);

/* ---------------------------------------------------------------- sink */

typedef struct ddbpipe_sink ddbpipe_sink_t;

/* One input record (librdkafka's model): the value is one change in any
 * input format; the key, when given, is a JSON object of key attributes
 * (plain, or in a Kafka Connect {"schema":..,"payload":{..}} envelope as
 * Debezium writes it) that supplies the item key when the value is a plain
 * row without it, and makes a record without a value (a tombstone) a
 * delete of that key (see ddbpipe_sink_options.tombstones). The sink copies
 * what it keeps: the caller's buffers may be reused when produce returns. */
typedef struct ddbpipe_record {
    const char *value; /* NULL: no value (a tombstone) */
    size_t value_len;
    const char *key; /* NULL: no key */
    size_t key_len;
    void *opaque;     /* returned in the delivery report */
    uint64_t offset;  /* caller's position of the record, returned in the report (and the checkpoint) */
    uint64_t line_no; /* for dead-letter files and messages; 0: none */
} ddbpipe_record_t;

typedef enum ddbpipe_dr_status {
    DDBPIPE_DR_WRITTEN = 0,       /* DynamoDB acknowledged it (or a later change of its key superseded it) */
    DDBPIPE_DR_DEAD_LETTERED = 1, /* rejected (reason): bad record, or DynamoDB refused the item */
    DDBPIPE_DR_FAILED = 2,        /* not written because the sink stopped (fatal error; reason) */
    DDBPIPE_DR_IGNORED = 3        /* nothing to do (a tombstone without a key, or tombstones: ignore) */
} ddbpipe_dr_status_t;

/* A delivery report. Pointers are valid during the callback only. */
typedef struct ddbpipe_delivery_report {
    ddbpipe_dr_status_t status;
    void *opaque;       /* the record's */
    uint64_t offset;    /* the record's */
    uint64_t line_no;   /* the record's */
    const char *reason; /* DEAD_LETTERED, FAILED: why (NUL-terminated); else NULL */
    /* DEAD_LETTERED: the record as given (for a dead-letter queue); else NULL/0 */
    const char *value;
    size_t value_len;
    const char *key;
    size_t key_len;
} ddbpipe_delivery_report_t;

/* Called once per record, from ddbpipe_sink_poll and ddbpipe_sink_flush in
 * the calling thread, in produce order (so a report for a record means every
 * record produced before it was reported already: a caller's contiguous
 * watermark is simply the last reported position). */
typedef void (*ddbpipe_dr_cb_t)(ddbpipe_sink_t *sink, const ddbpipe_delivery_report_t *dr, void *dr_opaque);

typedef struct ddbpipe_sink_options {
    const char *format;           /* "auto" (default), "json", "feldera", "debezium", "dynamodb-stream" */
    const char *dead_letter_path; /* NULL: dead letters go to stderr as a warning only */
    const char *checkpoint_path;  /* NULL: no checkpoint */
    /* Added fields (zero = default). */
    int checkpoint_interval_ms; /* 0: 1000. The checkpoint is also written by flush and destroy. */
    int no_metrics_server;      /* 1: do not start the Prometheus server even if metrics_address is set */
    ddbpipe_dr_cb_t dr_cb;      /* NULL: no delivery reports */
    void *dr_opaque;
    int tombstones_ignore; /* 1: a record without a value is IGNORED even with a key (default: delete) */
    /* 1: dry run. Records are parsed and validated (bad ones dead-lettered
     * as usual) and folded to the last change per key; nothing is sent but
     * DescribeTable (create_table_if_missing does not create), no checkpoint
     * is written. Totals: ddbpipe_sink_dry_run_result. The per-key set takes
     * 32-64 bytes per distinct key (a 128-bit digest, not the key). */
    int dry_run;
    uint64_t dry_run_max_keys; /* 0: 100,000,000; past it produce stops with DDBPIPE_ERR_NOMEM */
    /* 1: the records' offsets are not positions in one input (Kafka's are per
     * partition): ddbpipe_sink_stats_json leaves out checkpoint_offset and
     * checkpoint_line, which would mean nothing. */
    int offsets_per_partition;
} ddbpipe_sink_options_t;

/* Creates the sink: resolves the key columns (config, else DescribeTable;
 * a missing table is DDBPIPE_ERR_NOT_FOUND here, before any input is read),
 * creates the table when create_table_if_missing and opens the dead-letter
 * file (append). With metrics_address set, the HTTP server (/metrics,
 * /healthz, /readyz) starts first, before any AWS call: /healthz answers
 * 200 from then on; /readyz answers 503 until DescribeTable answered, then
 * 200 until a fatal error (or a fail_on_error stop) makes it 503 again.
 *
 * checkpoint_path and dead_letter_path are the file transport's (the sink
 * core writes no file; it hands the transport its delivery reports, see
 * docs/architecture.md): kept here for embedders, with the same files.
 *
 * Dead-letter file: one JSON object per line, flushed per line, in input
 * order as poll/flush serve the records' reports:
 *   {"line":N,"offset":O,"reason":"...","record":"<original line>"}
 * (offset = byte offset just past the line, as given to produce).
 *
 * Checkpoint file (written atomically, at most every checkpoint_interval_ms,
 * at flush and at destroy): {"offset":N,"line":L}: every input record that
 * ends at or before byte offset N (line L) is acknowledged (written,
 * dead-lettered or superseded). Resume: seek the input to N and continue
 * numbering lines at L+1 (see ddbpipe_sink_checkpoint_read). With
 * ddbpipe_sink_set_checkpoint_input it also names the input ("file"), and
 * ddbpipe_sink_checkpoint_resume refuses it for any other input. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_new_sz(const ddbpipe_conf_t *conf,
                                                 const ddbpipe_sink_options_t *opts, size_t opts_size,
                                                 ddbpipe_sink_t **out, char *errstr, size_t errstr_size);
#define ddbpipe_sink_new(conf, opts, out, errstr, errstr_size)                                               \
    ddbpipe_sink_new_sz((conf), (opts), sizeof(ddbpipe_sink_options_t), (out), (errstr), (errstr_size))
/* Does not flush: call ddbpipe_sink_flush first. Writes the checkpoint. */
DDBPIPE_API void ddbpipe_sink_destroy(ddbpipe_sink_t *sink);

/* Offer one input line (without the newline). input_offset is the byte
 * offset just past this line in the input (for checkpoints); line_no is
 * 1-based. Returns DDBPIPE_ERR_QUEUE_FULL when buffers are full: call
 * ddbpipe_sink_poll and offer the same line again. A bad record is not an
 * error here: it is dead-lettered and counted.
 * Any other error means the sink has stopped (fatal error such as AUTH or
 * NOT_FOUND, or fail_on_error after a dead letter): stop reading, call
 * ddbpipe_sink_flush (it writes what is good unless the error is fatal),
 * then report ddbpipe_sink_fatal_error. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_produce(ddbpipe_sink_t *sink, const char *line, size_t len,
                                                  uint64_t line_no, uint64_t input_offset);
/* Offer one record (see ddbpipe_record_t); the same contract as
 * ddbpipe_sink_produce (QUEUE_FULL: poll and offer it again). Its delivery
 * report comes later from poll or flush. ddbpipe_sink_produce(line, ...) is
 * this with value = line, no key, opaque NULL. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_produce_record(ddbpipe_sink_t *sink, const ddbpipe_record_t *rec);

/* A typed attribute value (DynamoDB's AttributeValue) for
 * ddbpipe_sink_produce_item: an item is an array of named values. Every
 * pointer is borrowed for the duration of the produce call only.
 *   S     data/len: UTF-8 text
 *   N     data/len: number text as DynamoDB takes it ("12.50", "-1E+3"; at
 *         most 38 significant digits)
 *   B     data/len: the raw bytes (not base64)
 *   BOOL  boolean: 0 or 1
 *   NULL  nothing
 *   L     elems/count: the values in order (their names are ignored)
 *   M     elems/count: named values
 *   SS, NS, BS  elems/count: S, N, B values (non-empty, no duplicates)
 * name: NUL-terminated UTF-8 attribute name, required in an item and in an
 * M, ignored in an L and a set. The struct is frozen (a new field means a
 * new function). */
typedef enum ddbpipe_attr_type {
    DDBPIPE_ATTR_S = 1,
    DDBPIPE_ATTR_N = 2,
    DDBPIPE_ATTR_B = 3,
    DDBPIPE_ATTR_BOOL = 4,
    DDBPIPE_ATTR_NULL = 5,
    DDBPIPE_ATTR_L = 6,
    DDBPIPE_ATTR_M = 7,
    DDBPIPE_ATTR_SS = 8,
    DDBPIPE_ATTR_NS = 9,
    DDBPIPE_ATTR_BS = 10
} ddbpipe_attr_type_t;

typedef struct ddbpipe_attr {
    const char *name;
    ddbpipe_attr_type_t type;
    const char *data; /* S, N, B */
    size_t len;
    int boolean;                      /* BOOL */
    const struct ddbpipe_attr *elems; /* L, M, SS, NS, BS */
    size_t count;
} ddbpipe_attr_t;

typedef enum ddbpipe_item_op {
    DDBPIPE_ITEM_PUT = 0,   /* write the whole item (update_mode merge: set these attributes) */
    DDBPIPE_ITEM_DELETE = 1 /* delete the item of these key attributes (others are ignored) */
} ddbpipe_item_op_t;

/* One already typed change: no text is parsed. Frozen, like ddbpipe_attr_t. */
typedef struct ddbpipe_item_record {
    ddbpipe_item_op_t op;
    const ddbpipe_attr_t *attrs; /* the item (PUT) or at least its key attributes (DELETE) */
    size_t count;
    void *opaque;     /* returned in the delivery report */
    uint64_t offset;  /* caller's position, returned in the report (and the checkpoint) */
    uint64_t line_no; /* for dead-letter files and messages; 0: none */
} ddbpipe_item_record_t;

/* Offer one typed change (a row of `ddbpipe sql`, or an embedder's own
 * data) with the contract of ddbpipe_sink_produce_record: the sink copies
 * what it keeps (the caller's structs and buffers may be reused when it
 * returns); DDBPIPE_ERR_QUEUE_FULL: call ddbpipe_sink_poll and offer the
 * same record again; its delivery report comes later from poll or flush,
 * in produce order with every other record; any other error except
 * INVALID_ARG means the sink stopped. Per-key order and folding are the
 * same as for text records. An item DynamoDB would refuse (bad number,
 * empty or repeated set member, a key attribute missing or not of the
 * table's key type, over 400 KB, nested over 32 levels) is dead-lettered
 * with the reason, not an error; its dead-letter record (file and report
 * value) is the change rendered as a DynamoDB Streams record, which
 * `ddbpipe sink` reads back:
 *   {"eventName":"INSERT","dynamodb":{"NewImage":{"id":{"N":"1"},...}}}
 *   {"eventName":"REMOVE","dynamodb":{"Keys":{"id":{"N":"1"}}}}
 * (B values base64 there, as in any DynamoDB JSON). The item's ignore_nulls
 * and document_attribute settings apply as to a DynamoDB Streams record.
 * DDBPIPE_ERR_INVALID_ARG (nothing produced, no report): rec or sink NULL,
 * an unknown op or type, a NULL pointer with a non-zero length or count, a
 * missing name in an item or M, nesting over 64 levels. Call from one thread
 * at a time, as every produce function. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_produce_item(ddbpipe_sink_t *sink,
                                                       const ddbpipe_item_record_t *rec);
/* Drive I/O for up to timeout_ms and serve delivery reports. Returns the
 * stop error as produce does. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_poll(ddbpipe_sink_t *sink, int timeout_ms);
/* Send everything buffered and wait until all is acknowledged or timeout_ms
 * passes (-1: forever), serving delivery reports. DDBPIPE_ERR_TIMEOUT when
 * not done; the fatal error code when a fatal error stopped the sink (then
 * every record not acknowledged is reported FAILED). */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_flush(ddbpipe_sink_t *sink, int timeout_ms);
/* Fatal error (auth, missing table, fail_on_error) if one happened:
 * DDBPIPE_OK when none, else its code and a message in errstr. */
/* Reopen the dead-letter file at its path (append), e.g. after logrotate
 * renamed it; the CLI does this on SIGHUP. Thread-safe; not for a signal
 * handler (set a flag there and call this from the loop). DDBPIPE_OK also
 * when there is no dead-letter file. On failure (DDBPIPE_ERR_IO, errstr
 * set) the old file stays in use. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_reopen_dead_letter(ddbpipe_sink_t *sink, char *errstr,
                                                             size_t errstr_size);
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_fatal_error(const ddbpipe_sink_t *sink, char *errstr,
                                                      size_t errstr_size);

typedef struct ddbpipe_sink_stats {
    uint64_t records_in, records_written, records_deleted, dead_lettered, duplicates_folded;
    uint64_t retries, throttled_items, failed_items, oversized_dropped, write_chunks;
    uint64_t condition_check_failures, in_flight_requests, buffered_records, buffered_bytes;
    /* Added fields. */
    uint64_t parse_errors;      /* bad records (also in dead_lettered) */
    uint64_t items_loaded;      /* merge mode: items read with BatchGetItem */
    uint64_t checkpoint_offset; /* acknowledged input offset (0 before the first ack) */
    uint64_t checkpoint_line;
    uint64_t tombstones; /* Debezium tombstones skipped (nothing to write; not errors) */
} ddbpipe_sink_stats_t;
/* Fills the first out_size bytes of *out (the macro passes the caller's
 * sizeof; see "ABI" above). */
DDBPIPE_API void ddbpipe_sink_stats_sz(const ddbpipe_sink_t *sink, ddbpipe_sink_stats_t *out,
                                       size_t out_size);
#define ddbpipe_sink_stats(sink, out) ddbpipe_sink_stats_sz((sink), (out), sizeof(ddbpipe_sink_stats_t))
/* Statistics as a JSON document (caller frees with free()). */
DDBPIPE_API char *ddbpipe_sink_stats_json(const ddbpipe_sink_t *sink);

/* A transport's own figures on the sink's metrics registry (the one
 * served on metrics_address, and in ddbpipe_sink_stats_json's company):
 * how a transport built on this API (the Kafka input's lag and commits, or
 * an embedder's own) shows next to the sink's series. name and label_name
 * follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*; label_name and
 * label_value both NULL: no label); registering the same name and label
 * value again returns the same handle. NULL when sink or name or help is
 * NULL, a name is invalid, the name is already a series of another kind,
 * or memory ran out; the update functions accept NULL (and a handle of the
 * other kind) and then do nothing, so a hot path never needs a check.
 * Handles live until ddbpipe_sink_destroy. Thread-safe: registration takes
 * the registry's lock; updates are atomic, from any thread. */
typedef struct ddbpipe_metric ddbpipe_metric_t;
typedef enum ddbpipe_metric_kind {
    DDBPIPE_METRIC_COUNTER = 0, /* monotonic: ddbpipe_metric_add */
    DDBPIPE_METRIC_GAUGE = 1    /* a level: ddbpipe_metric_set */
} ddbpipe_metric_kind_t;
DDBPIPE_API ddbpipe_metric_t *ddbpipe_sink_metric(ddbpipe_sink_t *sink, ddbpipe_metric_kind_t kind,
                                                  const char *name, const char *help, const char *label_name,
                                                  const char *label_value);
DDBPIPE_API void ddbpipe_metric_add(ddbpipe_metric_t *counter, uint64_t n);
DDBPIPE_API void ddbpipe_metric_set(ddbpipe_metric_t *gauge, double value);

/* Totals of a dry run (ddbpipe_sink_options_t.dry_run), after the whole
 * input was produced and ddbpipe_sink_flush returned. Write capacity units
 * are estimated by DynamoDB's rounding rules: ceil(item size / 1 KB) per
 * put, 1 per delete, twice that with write_mode transactional. In
 * update_mode merge a key's last patch is counted by the patch's size (the
 * stored item it merges into is not read): a lower bound. */
typedef struct ddbpipe_sink_dry_run {
    uint64_t records;       /* changes read (bad records and tombstones not included) */
    uint64_t input_bytes;   /* bytes of those records' lines */
    uint64_t items;         /* distinct keys: the writes a real run would make at least */
    uint64_t puts, deletes; /* the last change of each key */
    uint64_t item_bytes;    /* sum of the items to put, by DynamoDB's item size rules */
    double wcu;             /* estimated write capacity units */
    double cost;            /* wcu * price_per_million_wcu / 1e6; -1 when no price is configured */
    uint64_t keyset_bytes;  /* memory the per-key set took */
} ddbpipe_sink_dry_run_t;
/* DDBPIPE_ERR_INVALID_ARG when the sink is not a dry run. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_dry_run_result_sz(const ddbpipe_sink_t *sink,
                                                            ddbpipe_sink_dry_run_t *out, size_t out_size);
#define ddbpipe_sink_dry_run_result(sink, out)                                                               \
    ddbpipe_sink_dry_run_result_sz((sink), (out), sizeof(ddbpipe_sink_dry_run_t))

/* Read a checkpoint file written by the sink. DDBPIPE_ERR_NOT_FOUND when the
 * file does not exist (start from the beginning), DDBPIPE_ERR_PARSE when it
 * is malformed. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_checkpoint_read(const char *path, uint64_t *offset, uint64_t *line);
/* Parser part (no I/O; fuzzable). */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_checkpoint_parse(const char *text, size_t len, uint64_t *offset,
                                                           uint64_t *line);
/* Tie the checkpoint to the input it is taken from: fd is the input file
 * (only read with pread and fstat; the caller keeps it open and owns it),
 * name is shown in messages. Each checkpoint then also records
 *   "file":{"dev":D,"inode":I,"size":S,"prefix_sha256":"<hex>","path":"<name>"}
 * (SHA-256 of every byte before the offset; kept running as the checkpoint
 * advances, so each input byte is read once more over a run). Call before
 * the first produce. DDBPIPE_ERR_INVALID_ARG for fd < 0. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_set_checkpoint_input(ddbpipe_sink_t *sink, int fd,
                                                               const char *name);
/* Where to resume the input open on fd from the checkpoint at path: OK with
 * *offset and *line; DDBPIPE_ERR_NOT_FOUND: no checkpoint (start at 0);
 * DDBPIPE_ERR_CONFIG: the checkpoint was taken from another file, or from
 * this one before it was truncated or rewritten (errstr names both sides);
 * DDBPIPE_ERR_PARSE / DDBPIPE_ERR_IO: unreadable (errstr says why). A
 * checkpoint without "file" (older versions) gives its offset unchecked; one
 * with the older "sha256" (first and last 4 KiB before the offset) is
 * accepted when those bytes match. Reads the file's bytes before the offset
 * once. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_checkpoint_resume(const char *path, int fd, const char *input_name,
                                                            uint64_t *offset, uint64_t *line, char *errstr,
                                                            size_t errstr_size);
/* ddbpipe_sink_checkpoint_resume on the sink's own checkpoint file, then
 * ddbpipe_sink_set_checkpoint_input(sink, fd, name): the prefix digest
 * computed to check the checkpoint is kept for the next one, so a resume
 * reads the input's prefix once. Same results as
 * ddbpipe_sink_checkpoint_resume (DDBPIPE_ERR_NOT_FOUND also when the sink
 * has no checkpoint file). Call before the first produce. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sink_resume_input(ddbpipe_sink_t *sink, int fd, const char *name,
                                                       uint64_t *offset, uint64_t *line, char *errstr,
                                                       size_t errstr_size);

/* ---------------------------------------------------------------- file input */

/* `ddbpipe sink -i FILE`: the file transport. Reads JSON lines from a file,
 * a FIFO or stdin and feeds them to a sink (ddbpipe_sink_produce, line
 * numbers and byte offsets as positions); it owns the checkpoint and the
 * dead-letter file of sink_options (written from the sink's delivery
 * reports, see ddbpipe_sink_new_sz). Lines: a trailing CR is dropped, blank
 * lines are skipped, a last line without a newline is read, a line longer
 * than 16 MiB is cut (a warning note) and dead-lettered. With a checkpoint,
 * run resumes after it when it was taken from this input (a note says where)
 * and refuses one taken from another input or from this one rewritten
 * (DDBPIPE_ERR_CONFIG naming both). Not thread-safe: one thread calls run;
 * stop may be called from a signal handler. */
typedef struct ddbpipe_file_sink ddbpipe_file_sink_t;

typedef struct ddbpipe_file_sink_options {
    const char *input; /* a file or FIFO; NULL or "-": stdin (no checkpoint then) */
    /* The sink's options (format, dead_letter_path, checkpoint_path,
     * checkpoint_interval_ms, dry_run, dr_cb, ...) and their sizeof; NULL:
     * defaults. */
    const ddbpipe_sink_options_t *sink_options;
    size_t sink_options_size; /* 0: sizeof(ddbpipe_sink_options_t) */
    int checkpoint_reset;     /* 1: remove the checkpoint file at new and read from byte 0 */
    /* Called about every 20 ms from run (also while a FIFO waits for a
     * writer, and between flush slices): non-zero stops reading (run then
     * flushes what was read). */
    int (*tick)(ddbpipe_file_sink_t *f, void *opaque);
    /* Messages for the user (resuming at a checkpoint, a cut line; warning
     * 1 for those that must be shown); NULL: logged. */
    void (*note)(ddbpipe_file_sink_t *f, int warning, const char *msg, void *opaque);
    void *opaque;
} ddbpipe_file_sink_options_t;

/* Checks that the input is readable (DDBPIPE_ERR_CONFIG if not; a FIFO is
 * opened by run, so health endpoints answer while it waits for a writer),
 * applies checkpoint_reset, and creates the sink (ddbpipe_sink_new_sz). */
DDBPIPE_API ddbpipe_result_t ddbpipe_file_sink_new_sz(const ddbpipe_conf_t *conf,
                                                      const ddbpipe_file_sink_options_t *opts,
                                                      size_t opts_size, ddbpipe_file_sink_t **out,
                                                      char *errstr, size_t errstr_size);
#define ddbpipe_file_sink_new(conf, opts, out, errstr, errstr_size)                                          \
    ddbpipe_file_sink_new_sz((conf), (opts), sizeof(ddbpipe_file_sink_options_t), (out), (errstr),           \
                             (errstr_size))
/* Open the input, resume at its checkpoint, read to EOF (or until stop or
 * tick asks), then flush until everything is acknowledged. DDBPIPE_OK;
 * DDBPIPE_ERR_INTERRUPTED: stopped while the input (a FIFO) was still
 * waiting for a writer, nothing read; DDBPIPE_ERR_CONFIG: the input cannot
 * be opened, or the checkpoint is not this input's; DDBPIPE_ERR_IO: reading
 * failed; else the sink's fatal error (after flushing what it can). errstr
 * says why. Call once. */
DDBPIPE_API ddbpipe_result_t ddbpipe_file_sink_run(ddbpipe_file_sink_t *f, char *errstr, size_t errstr_size);
/* Async-signal-safe. */
DDBPIPE_API void ddbpipe_file_sink_stop(ddbpipe_file_sink_t *f);
/* Destroys the sink (its last checkpoint), then closes the input. */
DDBPIPE_API void ddbpipe_file_sink_destroy(ddbpipe_file_sink_t *f);
/* The sink it feeds (statistics, ddbpipe_sink_reopen_dead_letter). */
DDBPIPE_API ddbpipe_sink_t *ddbpipe_file_sink_sink(ddbpipe_file_sink_t *f);

/* ---------------------------------------------------------------- kafka input */

/* (Kafka input and output.) Checks the Kafka configuration of command "sink" (the consumer, and the
 * dead-letter producer when dead_letter_topic is set) or "source" (the
 * producer) with no network call: ddbpipe's own Kafka settings (kafka_topics
 * or kafka_topic, kafka.bootstrap.servers, kafka.group.id for the sink,
 * kafka.enable.auto.commit false), every kafka.<property> through
 * rd_kafka_conf_set, then a client made with no brokers and destroyed at
 * once (what librdkafka checks only when a client is made: conflicting
 * properties, the SASL mechanism, SSL keys and certificates). Returns
 * DDBPIPE_OK or DDBPIPE_ERR_CONFIG with errstr naming the property (at
 * client creation: the user's properties librdkafka's reason names, else
 * those without which the client is made) and librdkafka's reason, never a secret value;
 * DDBPIPE_ERR_INVALID_ARG for another command, or a NULL conf or command
 * (errstr then untouched). errstr may be NULL (errstr_size is then
 * ignored); the message is cut to errstr_size bytes, NUL-terminated.
 * ddbpipe_kafka_sink_new and ddbpipe_kafka_output_new run it first;
 * `ddbpipe config --for sink|source --kafka` runs it too. Thread-safe. */
DDBPIPE_API ddbpipe_result_t ddbpipe_kafka_conf_check(const ddbpipe_conf_t *conf, const char *command,
                                                      char *errstr, size_t errstr_size);

/* `ddbpipe sink --kafka`: a Kafka consumer group member (librdkafka's
 * high-level consumer) feeding a sink. Configuration: kafka_topics,
 * kafka_commit_interval_ms, kafka_revoke_timeout_ms, kafka_tombstones,
 * dead_letter_topic, and every kafka.<property> (given to librdkafka as is;
 * kafka.bootstrap.servers and kafka.group.id are required). Defaults:
 * enable.auto.commit=false (ddbpipe commits; true is refused),
 * auto.offset.reset=earliest.
 *
 * Offsets: a partition's offset is committed only when every message below
 * it was written or dead-lettered (a contiguous watermark; the sink reports
 * in produce order), every kafka_commit_interval_ms, when partitions are
 * revoked (stop taking them, flush for up to kafka_revoke_timeout_ms,
 * commit, then let go; eager and cooperative protocols) and at the end of
 * run. Delivery is at-least-once: after a crash, the messages after the
 * last commit are consumed again (they were written already or not; a put
 * of the same change twice is harmless, and per-key order holds within a
 * partition).
 *
 * Dead letters go to dead_letter_topic (value and key as received, headers
 * ddbpipe.reason, ddbpipe.topic, ddbpipe.partition, ddbpipe.offset; offsets
 * are committed past them only after that producer delivered them), else to
 * dead_letter_path as JSON lines {"topic","partition","offset","reason",
 * "key","record"}, else they are logged. Not thread-safe: one thread calls
 * run; stop may be called from a signal handler. */
typedef struct ddbpipe_kafka_sink ddbpipe_kafka_sink_t;

typedef struct ddbpipe_kafka_sink_options {
    const char *format;           /* as ddbpipe_sink_options.format */
    const char *dead_letter_path; /* see above; NULL: none */
    int no_metrics_server;
    /* Called about every 200 ms from run (progress line): non-zero stops. */
    int (*tick)(ddbpipe_kafka_sink_t *k, void *opaque);
    void *opaque;
} ddbpipe_kafka_sink_options_t;

/* Creates the sink (as ddbpipe_sink_new: DescribeTable etc.) and the Kafka
 * consumer; DDBPIPE_ERR_CONFIG naming the property when librdkafka refuses
 * one (secret values are never shown). */
DDBPIPE_API ddbpipe_result_t ddbpipe_kafka_sink_new_sz(const ddbpipe_conf_t *conf,
                                                       const ddbpipe_kafka_sink_options_t *opts,
                                                       size_t opts_size, ddbpipe_kafka_sink_t **out,
                                                       char *errstr, size_t errstr_size);
#define ddbpipe_kafka_sink_new(conf, opts, out, errstr, errstr_size)                                         \
    ddbpipe_kafka_sink_new_sz((conf), (opts), sizeof(ddbpipe_kafka_sink_options_t), (out), (errstr),         \
                              (errstr_size))
/* Consume until ddbpipe_kafka_sink_stop (or tick) asks to stop or the sink
 * stops on a fatal error; then flush, commit, and leave the group. Returns
 * DDBPIPE_OK or the error that stopped it (message in errstr). */
DDBPIPE_API ddbpipe_result_t ddbpipe_kafka_sink_run(ddbpipe_kafka_sink_t *k, char *errstr,
                                                    size_t errstr_size);
/* Async-signal-safe. */
DDBPIPE_API void ddbpipe_kafka_sink_stop(ddbpipe_kafka_sink_t *k);
DDBPIPE_API void ddbpipe_kafka_sink_destroy(ddbpipe_kafka_sink_t *k);
/* The sink it feeds (statistics). */
DDBPIPE_API ddbpipe_sink_t *ddbpipe_kafka_sink_sink(ddbpipe_kafka_sink_t *k);

typedef struct ddbpipe_kafka_stats {
    uint64_t messages_in, rebalances, commits, commit_failures, dead_letters_produced;
    uint64_t partitions_assigned;
    int64_t lag; /* sum over assigned partitions of high watermark - next offset (-1: unknown) */
    uint64_t tombstones_ignored; /* tombstones skipped (kafka_tombstones: ignore, or no key); appended */
} ddbpipe_kafka_stats_t;
DDBPIPE_API void ddbpipe_kafka_sink_stats_sz(const ddbpipe_kafka_sink_t *k, ddbpipe_kafka_stats_t *out,
                                             size_t out_size);
#define ddbpipe_kafka_sink_stats(k, out)                                                                     \
    ddbpipe_kafka_sink_stats_sz((k), (out), sizeof(ddbpipe_kafka_stats_t))
/* The sink's statistics JSON with "kafka": {counters, "partitions": [{topic,
 * partition, committed, position, high_watermark, lag}]}. Caller frees. */
DDBPIPE_API char *ddbpipe_kafka_sink_stats_json(const ddbpipe_kafka_sink_t *k);

/* ---------------------------------------------------------------- kafka output */

/* `ddbpipe source --kafka`: events to kafka_topic through an idempotent
 * producer (kafka.enable.idempotence defaults to true; every kafka.<property>
 * is passed to librdkafka). Use it as a source's output:
 *   so.emit_keyed = ddbpipe_kafka_output_emit; so.flush = ddbpipe_kafka_output_flush; so.opaque = k;
 * Message key: the item key as canonical JSON (every change of an item in one
 * partition, in order); value: the event line. With format "debezium" a
 * delete is followed by a tombstone (key, null value) unless
 * kafka_delete_tombstones is false. flush waits (up to 60 s) for every
 * delivery report and returns non-zero if any event was not acknowledged,
 * so the source's checkpoint never passes an unacknowledged event. Not
 * thread-safe. */
typedef struct ddbpipe_kafka_output ddbpipe_kafka_output_t;
DDBPIPE_API ddbpipe_result_t ddbpipe_kafka_output_new(const ddbpipe_conf_t *conf, const char *format,
                                                      ddbpipe_kafka_output_t **out, char *errstr,
                                                      size_t errstr_size);
DDBPIPE_API void ddbpipe_kafka_output_destroy(ddbpipe_kafka_output_t *k);
DDBPIPE_API int ddbpipe_kafka_output_emit(const char *key, size_t key_len, const char *line, size_t len,
                                          int is_remove, void *opaque);
DDBPIPE_API int ddbpipe_kafka_output_flush(void *opaque);
/* Messages produced (events and tombstones), delivered, failed. */
DDBPIPE_API void ddbpipe_kafka_output_counts(const ddbpipe_kafka_output_t *k, uint64_t *produced,
                                             uint64_t *delivered, uint64_t *failed);

/* ---------------------------------------------------------------- source */

typedef struct ddbpipe_source ddbpipe_source_t;

typedef struct ddbpipe_source_options {
    const char *mode;            /* "snapshot", "stream", "snapshot+stream" */
    const char *from;            /* "trim_horizon" or "latest"; NULL: the stream_start_position property */
    const char *format;          /* "json", "dynamodb", "debezium" */
    const char *checkpoint_path; /* NULL: none */
    int segments;                /* parallel scan segments, default 4 */
    int until_caught_up;         /* exit once every open shard is read to its tip */
    /* Output sink for event lines (without newline). Return non-zero to stop. */
    int (*emit)(const char *line, size_t len, void *opaque);
    /* Called after a batch of emits, before the checkpoint is written: the
     * caller must make emitted lines durable (fflush). */
    int (*flush)(void *opaque);
    void *opaque;
    int checkpoint_interval_ms; /* 0: 1000; the checkpoint is also written at exit */
    /* Instead of emit, when set: each event with its item key as canonical
     * JSON ({"pk":v[,"sk":v]}: S and B as strings, N as DynamoDB's canonical
     * number) and is_remove for deletes; for keyed outputs such as Kafka
     * (ddbpipe_kafka_output_emit). Return non-zero to stop. */
    int (*emit_keyed)(const char *key, size_t key_len, const char *line, size_t len, int is_remove,
                      void *opaque);
    int follow_new_stream; /* 1: as the follow_new_stream property (either turns it on) */
} ddbpipe_source_options_t;

/* Validates options and builds the client; no network I/O yet (config
 * errors: DDBPIPE_ERR_CONFIG / DDBPIPE_ERR_INVALID_ARG). Config used:
 * table, stream_arn, segments (when opts->segments is 0),
 * discovery_interval_ms, poll_idle_ms, poll_busy_ms, on_trimmed_data,
 * metrics_address, and the connection properties.
 *
 * Guarantees: each key's changes are emitted in write order (a child shard
 * is read only after its parent is read to the end). Delivery is
 * at-least-once: the checkpoint is written only after opts->flush
 * succeeded, so a restart may repeat events emitted after the last
 * checkpoint, never skip one. snapshot+stream takes the stream position
 * (a LATEST iterator per open shard) before the scan and holds stream
 * events until the scan is done: a change made during the scan may appear
 * both in its snapshot row and as a change (duplicates are possible and
 * harmless; replaying the lines in order gives the table's state). A shard
 * without a known position (held iterator expired, restart before the
 * stream phase) is read from TRIM_HORIZON: more duplicates, never a gap. */
DDBPIPE_API ddbpipe_result_t ddbpipe_source_new_sz(const ddbpipe_conf_t *conf,
                                                   const ddbpipe_source_options_t *opts, size_t opts_size,
                                                   ddbpipe_source_t **out, char *errstr, size_t errstr_size);
#define ddbpipe_source_new(conf, opts, out, errstr, errstr_size)                                             \
    ddbpipe_source_new_sz((conf), (opts), sizeof(ddbpipe_source_options_t), (out), (errstr), (errstr_size))
DDBPIPE_API void ddbpipe_source_destroy(ddbpipe_source_t *source);
/* Run until done (snapshot finished; with until_caught_up, every open shard
 * read to its tip) or ddbpipe_source_stop; then in-flight answers are
 * emitted, output flushed and the checkpoint written. Call once.
 * DDBPIPE_ERR_DATA_LOSS: TrimmedDataAccessException with on_trimmed_data
 * = stop (the default); DDBPIPE_ERR_IO: emit/flush/checkpoint failed. */
DDBPIPE_API ddbpipe_result_t ddbpipe_source_run(ddbpipe_source_t *source, char *errstr, size_t errstr_size);
/* Async-signal-safe request to stop at the next safe point (<= 100 ms). */
DDBPIPE_API void ddbpipe_source_stop(ddbpipe_source_t *source);
/* Statistics as JSON (caller frees): events per op, scan pages, shards
 * open/closed, ms behind per shard, iterator renewals, trimmed-data losses,
 * listings. Safe to call after run returned. */
DDBPIPE_API char *ddbpipe_source_stats_json(const ddbpipe_source_t *source);

/* ---------------------------------------------------------------- sql */

/* `ddbpipe sql`: Flink-style statements on DynamoDB tables declared with
 * CREATE TABLE ... WITH ('connector' = 'dynamodb', ...) (or a Feldera
 * dynamodb_output connector). Statements run in order, each finished
 * before the next starts:
 *   INSERT INTO t [(cols)] VALUES (...), ...   rows typed by the DDL's columns, through the sink
 *   INSERT INTO t SELECT * FROM STDIN          JSON lines (any sink format) from stdin_fd
 *   DELETE FROM t WHERE pk = v [AND sk = v]    one delete through the sink
 *   SELECT cols|* FROM t [WHERE ...] [LIMIT n] Query when the partition key is fixed with '=', else
 *                                              Scan; other conditions filter; rows go to emit
 * The whole script is parsed before anything runs. Errors name the
 * statement number and line: DDBPIPE_ERR_PARSE (syntax), INVALID_ARG
 * (unknown table/column, bad value), CONFIG (bad WITH options), service
 * errors as the client reports them. */
typedef struct ddbpipe_sql_options {
    /* One output line (a JSON object, or a line of the text table) without
     * the newline. Return non-zero to stop. NULL: rows are discarded. */
    int (*emit)(const char *line, size_t len, void *opaque);
    /* Notices and per-statement summaries ("statement 2: 3 rows written").
     * NULL: none. */
    void (*notice)(const char *line, void *opaque);
    void *opaque;
    int stdin_fd;     /* input of SELECT * FROM STDIN; -1: not available (the script came from stdin) */
    int table_output; /* 1: SELECT answers as an aligned text table (for a terminal) */
    const char *dead_letter_path; /* for the sink; NULL: rejected records are only warned about */
} ddbpipe_sql_options_t;

typedef struct ddbpipe_sql_stats {
    uint64_t statements, rows_written, rows_deleted, rows_selected, dead_lettered;
} ddbpipe_sql_stats_t;

/* base_conf (may be NULL) is the starting point of every declared table;
 * the DDL's options override it. stats_or_NULL is filled as far as the run
 * got. */
DDBPIPE_API ddbpipe_result_t ddbpipe_sql_run_sz(const char *text, size_t len, const ddbpipe_conf_t *base_conf,
                                                const ddbpipe_sql_options_t *opts, size_t opts_size,
                                                ddbpipe_sql_stats_t *stats_or_NULL, size_t stats_size,
                                                char *errstr, size_t errstr_size);
#define ddbpipe_sql_run(text, len, base_conf, opts, stats_or_NULL, errstr, errstr_size)                      \
    ddbpipe_sql_run_sz((text), (len), (base_conf), (opts), sizeof(ddbpipe_sql_options_t), (stats_or_NULL),   \
                       sizeof(ddbpipe_sql_stats_t), (errstr), (errstr_size))

#ifdef __cplusplus
}
#endif
#endif
