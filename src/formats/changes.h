/* Change events for the sink: one input line (JSON) -> one typed change.
 *
 * Input formats (chosen by dp_change_format_opts.format, or per line by
 * shape with DP_CHANGE_FMT_AUTO):
 *
 *   json             a plain object is an upsert of that row
 *                      {"id": 1, "name": "a"}
 *   feldera          {"insert": {row}} -> upsert, {"delete": {row}} -> delete
 *   debezium         {"before": {..}|null, "after": {..}|null, "op": "c|r|u|d", ...}
 *                    with or without the Kafka Connect wrapper
 *                    {"schema": {..}, "payload": {envelope}}.
 *                    c, r, u -> upsert of "after"; d -> delete of "before".
 *                    A tombstone (the line `null`, or a null "payload") is
 *                    DP_CHANGE_TOMBSTONE, in auto and debezium mode.
 *   dynamodb-stream  a DynamoDB Streams record
 *                      {"eventName": "INSERT|MODIFY|REMOVE",
 *                       "dynamodb": {"Keys": {typed}, "NewImage": {typed}, "OldImage": {typed}}}
 *                    typed images are used as they are (lossless); INSERT and
 *                    MODIFY -> upsert of NewImage, REMOVE -> delete of Keys.
 *   ddbpipe          (recognised in auto mode, and in dynamodb-stream mode)
 *                    the lines `ddbpipe source` writes (see events.h):
 *                      {"op": "snapshot|insert|modify|remove", "format": "dynamodb",
 *                       "table": .., "keys": .., "new": .., "old": .., ...}
 *                    with "format": "dynamodb" the images are typed (lossless),
 *                    without it they are plain JSON. snapshot, insert, modify
 *                    -> upsert of "new"; remove -> delete of "keys".
 *
 * Auto detection, in this order: "eventName" + "dynamodb" object ->
 * dynamodb-stream; a "payload" object holding "op", or a one-letter "op"
 * beside "before"/"after" -> debezium; "op" of snapshot/insert/modify/remove
 * beside "keys"/"new"/"old" -> ddbpipe; an object whose only member is
 * "insert" or "delete" holding an object -> feldera; any other object ->
 * json (a row). A row that happens to look like an envelope is read as the
 * envelope: force --format json for such data.
 *
 * Plain values become AttributeValues with the configured column types
 * (dp_attr_from_plain); the key attributes, when they have no column type
 * but the table's key type is known (partition_type / sort_type), are
 * converted to that type (N accepts numbers and numeric strings, B needs
 * base64). The resulting item is validated by DynamoDB's rules
 * (dp_item_validate_typed: keys, numbers, sets, nesting, 400 KB), so a
 * change that parses is one DynamoDB will accept.
 *
 * Pure functions, no I/O (fuzzed by tests/fuzz/fuzz_change_line.c).
 */
#ifndef DP_FORMATS_CHANGES_H
#define DP_FORMATS_CHANGES_H

#include <stddef.h>

#include "common/json.h"
#include "ddb/attr.h"
#include "ddbpipe/ddbpipe.h"

/* DP_CHANGE_TOMBSTONE: a Debezium/Kafka tombstone (the line `null`, or
 * {"schema": .., "payload": null}) that Debezium writes after every delete
 * for log compaction. It changes nothing (the delete came before it); item
 * is NULL. */
typedef enum dp_change_op {
    DP_CHANGE_UPSERT = 0,
    DP_CHANGE_DELETE = 1,
    DP_CHANGE_TOMBSTONE = 2
} dp_change_op;

typedef enum dp_change_format {
    DP_CHANGE_FMT_AUTO = 0,
    DP_CHANGE_FMT_JSON,
    DP_CHANGE_FMT_FELDERA,
    DP_CHANGE_FMT_DEBEZIUM,
    DP_CHANGE_FMT_DYNAMODB_STREAM,
    DP_CHANGE_FMT_DDBPIPE /* ddbpipe source events; only reported in dp_change.format */
} dp_change_format;

/* "auto", "json", "feldera", "debezium", "dynamodb-stream" (also
 * "dynamodb" and "ddbpipe" as aliases of dynamodb-stream). 0 ok, -1 unknown. */
int dp_change_format_parse(const char *name, dp_change_format *out);
const char *dp_change_format_name(dp_change_format f);

typedef struct dp_change_format_opts {
    dp_change_format format;  /* AUTO decides per line */
    const dp_column *columns; /* column types by name; may be NULL */
    size_t ncolumns;
    int ignore_nulls;          /* drop top-level attributes whose value is null (Flink sink.ignore-nulls) */
    const char *partition_key; /* the table's partition key name (required for key checks) */
    char partition_type;       /* 'S', 'N', 'B', or 0 when unknown */
    const char *sort_key;      /* NULL or "" when the table has none */
    char sort_type;            /* 'S', 'N', 'B', or 0 */
    const char *document_attribute; /* non-NULL: item = keys + {document_attribute: M of the whole row} */
} dp_change_format_opts;

typedef struct dp_change {
    dp_change_op op;
    dp_change_format format; /* the format the line turned out to be (never AUTO) */
    dp_json_doc *doc;        /* owns every node below; freed by dp_change_clear */
    dp_json *item;           /* typed item: the whole item (UPSERT) or the key attributes only (DELETE) */
    /* UPSERT only, for update_mode=merge (dp_item_merge_patch): the change as
     * received, after ignore_nulls. A plain object (RFC 7386 merge patch: null
     * removes an attribute) unless patch_typed, when it is a typed item
     * whose attributes replace the stored ones. With document_attribute it
     * is {keys..., document_attribute: row}. */
    const dp_json *patch;
    int patch_typed;
    size_t item_size; /* dp_item_size(item), bytes by DynamoDB's rules */
} dp_change;

/* Parse one line (without the newline) into *out. On success the caller
 * owns out->doc (dp_change_clear). On failure *out is cleared and errstr
 * holds the reason without a line number (the caller adds "line 17: "),
 * e.g. "debezium envelope has op 'x' (expected c, r, u or d)",
 * "missing partition key 'id'", "key 'id' is a BOOL, DynamoDB keys must be
 * S, N or B", "attribute 'a.b[2]': number has 40 significant digits,
 * DynamoDB allows 38".
 * Returns DDBPIPE_OK, DDBPIPE_ERR_PARSE (not JSON / not a known shape),
 * DDBPIPE_ERR_VALIDATION (DynamoDB would reject the item),
 * DDBPIPE_ERR_TOO_LARGE (an item over 400 KB by DynamoDB's size rules), or
 * DDBPIPE_ERR_NOMEM. */
/* A json row whose "_meta" object has "op": "d" (Estuary's deletion
 * documents) is a delete of its key. */
ddbpipe_result_t dp_change_parse(const char *line, size_t len, const dp_change_format_opts *opts,
                                 dp_change *out, char *errstr, size_t errstr_size);
void dp_change_clear(dp_change *c); /* accepts NULL and cleared changes */

/* An already typed change (ddbpipe_sink_produce_item): image is a typed
 * item object in doc, the whole item (is_delete 0) or at least its key
 * attributes (is_delete 1); it is checked and shaped exactly as the images
 * of a DynamoDB Streams record (ignore_nulls, document_attribute, keys,
 * DynamoDB's rules). On success out owns doc; on failure out is cleared,
 * the caller keeps doc (image may have lost its NULL attributes to
 * ignore_nulls) and errstr says why. Results as dp_change_parse. */
ddbpipe_result_t dp_change_from_typed(dp_json_doc *doc, dp_json *image, int is_delete,
                                      const dp_change_format_opts *opts, dp_change *out, char *errstr,
                                      size_t errstr_size);

/* update_mode=merge: the item to write, given the stored item (typed, as
 * BatchGetItem returned it; NULL when no item is stored) and a change's
 * patch (change.patch / change.patch_typed).
 *   plain patch: RFC 7386 JSON merge patch applied on the plain view of the
 *     stored item: a null member removes the attribute; an object member
 *     merges recursively into a stored M attribute (untouched nested
 *     attributes keep their types: sets, binary, ...); an object member over
 *     a non-M value replaces it (nulls inside dropped, as RFC 7386 says);
 *     any other value replaces the attribute. Top-level values are converted
 *     with opts' column types, nested ones automatically.
 *   typed patch: every attribute of the patch replaces the stored one
 *     (DynamoDB Streams images are whole items).
 * The result lives in doc, is validated like dp_change_parse's items, and
 * is returned; NULL with errstr set on error, and *result_code (may be
 * NULL) says which: DDBPIPE_ERR_TOO_LARGE (over 400 KB), _VALIDATION,
 * _NOMEM, _INVALID_ARG (patch not an object); DDBPIPE_OK on success. opts
 * may be NULL (no column types, no key checks). */
dp_json *dp_item_merge_patch(dp_json_doc *doc, const dp_json *stored_item, const dp_json *patch,
                             int patch_typed, const dp_change_format_opts *opts,
                             ddbpipe_result_t *result_code, char *errstr, size_t errstr_size);

#endif
