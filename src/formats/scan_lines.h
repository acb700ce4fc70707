/* One-pass Scan/Query page -> "json" snapshot lines, without a tree of the
 * page. The source's hot path for `--format json` snapshots: the general
 * path (dp_ddb_parse_read_page, then dp_event_write per item) builds a DOM of
 * each ~1 MB page first. Parser only, no I/O (fuzzed against the general path
 * by tests/fuzz/fuzz_scan_lines.c). */
#ifndef DP_FORMATS_SCAN_LINES_H
#define DP_FORMATS_SCAN_LINES_H

#include <stddef.h>

#include "common/buf.h"

typedef struct dp_scan_lines_opts {
    const char *table;         /* the line's "table" field */
    const char *partition_key; /* key attribute names, as in the table's key schema */
    const char *sort_key;      /* NULL or "": none */
} dp_scan_lines_opts;

/* Formats every item of the answer `body` (len bytes) as the line
 * dp_event_write(DP_EVENT_FMT_JSON) writes for a snapshot event of that item
 * (keys taken from the item), each line followed by '\n', appended to
 * `lines`; *count = items. Copies the answer without its Items member into
 * `rest` (reset first), for dp_ddb_parse_read_page to read LastEvaluatedKey
 * and ConsumedCapacity from.
 * Returns 1 when done; 0 when the page is left to the general path: anything
 * this path does not handle byte for byte (escaped strings, an item without
 * or with a repeated key attribute, invalid JSON or AttributeValues, deep
 * nesting, out of memory...). On 0, `lines` is back at its length on entry.
 * Reentrant; no state besides the buffers given. */
int dp_scan_lines_write(const char *body, size_t len, const dp_scan_lines_opts *o, dp_buf *lines,
                        dp_buf *rest, size_t *count);

#endif
