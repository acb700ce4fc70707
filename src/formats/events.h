/* Output events for the source: one change (or snapshot row) -> one JSON
 * line, in one of three formats.
 *
 *   json      {"op":"insert","table":"t","keys":{plain},"new":{plain}|null,
 *              "old":{plain}|null,"sequence":"…","shard":"…",
 *              "approximate_time":"2026-01-01T00:00:00Z"}
 *             plain values as dp_attr_to_plain gives them: N as JSON number
 *             with its exact text (38 digits survive), B and BS as base64
 *             strings, sets as arrays, NULL as null.
 *   dynamodb  the same fields plus "format":"dynamodb" (right after "op"),
 *             with keys/new/old as typed AttributeValues: lossless. This is
 *             what `ddbpipe sink` reads back in auto mode (changes.h), so
 *             `ddbpipe source --format dynamodb | ddbpipe sink` copies a
 *             table exactly (sets, binary, NULL, 38-digit numbers).
 *   debezium  {"before":{plain}|null,"after":{plain}|null,"op":"r|c|u|d",
 *              "source":{"connector":"ddbpipe","table":"t","snapshot":"true|false",
 *                        "shard":"…","sequence":"…"},"ts_ms":1767225600000|null}
 *             ts_ms is the change's ApproximateCreationDateTime, or for
 *             snapshot rows the time the row was read (read_time_ms).
 *             snapshot -> r (after), insert -> c (after), modify -> u (before
 *             = old image, after = new image), remove -> d (before = old
 *             image, or the keys when the stream has no old images).
 *
 * "op" is snapshot|insert|modify|remove. "sequence" and "shard" are left
 * out when NULL (snapshot rows); "approximate_time" (ISO-8601 UTC) is left
 * out when 0. "new"/"old" are null when absent (e.g. KEYS_ONLY streams).
 */
#ifndef DP_FORMATS_EVENTS_H
#define DP_FORMATS_EVENTS_H

#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddbpipe/ddbpipe.h"

typedef enum dp_event_op {
    DP_EVENT_SNAPSHOT = 0,
    DP_EVENT_INSERT,
    DP_EVENT_MODIFY,
    DP_EVENT_REMOVE
} dp_event_op;

typedef enum dp_event_format {
    DP_EVENT_FMT_JSON = 0,
    DP_EVENT_FMT_DYNAMODB,
    DP_EVENT_FMT_DEBEZIUM
} dp_event_format;

/* "json", "dynamodb", "debezium". 0 ok, -1 unknown. */
int dp_event_format_parse(const char *name, dp_event_format *out);
const char *dp_event_format_name(dp_event_format f);
/* "snapshot", "insert", "modify", "remove". */
const char *dp_event_op_name(dp_event_op op);
/* DynamoDB Streams eventName (INSERT/MODIFY/REMOVE) -> op. 0 ok, -1 unknown. */
int dp_event_op_from_stream(const char *event_name, dp_event_op *out);

typedef struct dp_event {
    dp_event_op op;
    const char *table; /* required */
    /* Typed items (name -> AttributeValue), each may be NULL. */
    const dp_json *keys; /* NULL: taken from new_image (or old_image) using the key names below */
    const dp_json *new_image;
    const dp_json *old_image;
    const char *partition_key;  /* key names, used only when keys == NULL */
    const char *sort_key;       /* NULL when none */
    const char *sequence;       /* stream sequence number, NULL for snapshot rows */
    const char *shard;          /* shard id, NULL for snapshot rows */
    int64_t approximate_time_s; /* ApproximateCreationDateTime, epoch seconds; 0 = unknown */
    int64_t
        read_time_ms; /* when the source read it (epoch ms): debezium ts_ms of snapshot rows; 0 = unknown */
} dp_event;

/* Append one event as a single JSON line to out, WITHOUT a trailing
 * newline. On error (an image is not valid typed JSON, out of memory, the
 * buffer cap) out is left as it was and errstr says why. */
ddbpipe_result_t dp_event_write(dp_buf *out, dp_event_format fmt, const dp_event *ev, char *errstr,
                                size_t errstr_size);

/* "2026-01-01T00:00:00Z" for epoch seconds (out holds >= 32 bytes). */
const char *dp_event_iso8601(int64_t epoch_s, char *out, size_t out_size);

#endif
