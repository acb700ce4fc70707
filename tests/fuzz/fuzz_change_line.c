/* libFuzzer target: one sink input line through dp_change_parse with
 * options picked by the first byte, then the parsed change through the
 * source formatters and back (the replication round trip must give the
 * same item) and through the merge helper. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddb/attr.h"
#include "formats/changes.h"
#include "formats/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *line = (const char *)data + 1;
    size_t len = size - 1;

    static dp_column cols[3];
    static int cols_ready;
    if (!cols_ready) {
        strcpy(cols[0].name, "tags");
        dp_coltype_parse("STRING SET", &cols[0].type, err, sizeof err);
        strcpy(cols[1].name, "n");
        dp_coltype_parse("DECIMAL(10,2)", &cols[1].type, err, sizeof err);
        strcpy(cols[2].name, "d");
        dp_coltype_parse("DATE", &cols[2].type, err, sizeof err);
        cols_ready = 1;
    }

    dp_change_format_opts o;
    memset(&o, 0, sizeof o);
    o.format = (dp_change_format)((sel & 0x07) % 5); /* auto, json, feldera, debezium, dynamodb-stream */
    o.partition_key = "id";
    o.partition_type = (sel & 0x08) ? 'N' : 0;
    o.sort_key = (sel & 0x10) ? "sk" : NULL;
    o.ignore_nulls = (sel & 0x20) != 0;
    o.document_attribute = (sel & 0x40) ? "doc" : NULL;
    if (sel & 0x80) {
        o.columns = cols;
        o.ncolumns = 3;
    }

    dp_change c;
    if (dp_change_parse(line, len, &o, &c, err, sizeof err) != DDBPIPE_OK)
        return 0;
    if (c.op == DP_CHANGE_TOMBSTONE) { /* nothing to write */
        if (c.item)
            abort();
        dp_change_clear(&c);
        return 0;
    }
    if (!c.doc || !c.item)
        abort();
    if (c.op == DP_CHANGE_UPSERT && dp_item_validate(c.item, "id", o.sort_key, err, sizeof err) != 0)
        abort(); /* parsed upserts are always valid items */

    dp_buf b;
    dp_buf_init(&b, 0);
    dp_buf key;
    dp_buf_init(&key, 0);
    if (dp_item_key_string(c.item, "id", o.sort_key, &key) != 0)
        abort();

    dp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.op = c.op == DP_CHANGE_UPSERT ? DP_EVENT_MODIFY : DP_EVENT_REMOVE;
    ev.table = "t";
    ev.partition_key = "id";
    ev.sort_key = o.sort_key;
    ev.sequence = "1";
    ev.shard = "s";
    ev.approximate_time_s = 1;
    if (c.op == DP_CHANGE_UPSERT)
        ev.new_image = c.item;
    else
        ev.keys = c.item;
    for (int f = 0; f < 3; f++) {
        dp_buf_reset(&b);
        if (dp_event_write(&b, (dp_event_format)f, &ev, err, sizeof err) != DDBPIPE_OK)
            abort();
    }
    /* round trip through the lossless format */
    dp_buf_reset(&b);
    if (dp_event_write(&b, DP_EVENT_FMT_DYNAMODB, &ev, err, sizeof err) != DDBPIPE_OK)
        abort();
    dp_change_format_opts o2 = o;
    o2.format = DP_CHANGE_FMT_AUTO;
    o2.ignore_nulls = 0;
    o2.document_attribute = NULL;
    dp_change c2;
    ddbpipe_result_t rc = dp_change_parse(b.data, b.len, &o2, &c2, err, sizeof err);
    if (rc == DDBPIPE_OK) {
        if (c2.op != c.op || !dp_json_equal(c2.item, c.item))
            abort();
        dp_change_clear(&c2);
    } else if (!strstr(err, "too deep")) {
        abort(); /* only the JSON parser's depth cap may refuse our own line */
    }

    if (c.op == DP_CHANGE_UPSERT) {
        dp_json *m = dp_item_merge_patch(c.doc, c.item, c.patch, c.patch_typed, &o, NULL, err, sizeof err);
        (void)m;
        m = dp_item_merge_patch(c.doc, NULL, c.patch, c.patch_typed, &o, NULL, err, sizeof err);
        (void)m;
    }
    dp_buf_free(&key);
    dp_buf_free(&b);
    dp_change_clear(&c);
    return 0;
}
