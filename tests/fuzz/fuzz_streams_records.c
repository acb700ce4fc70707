/* libFuzzer target: the source's parsers. The first byte picks what the
 * rest is: a GetRecords answer (each record parsed and formatted in all
 * three output formats), a DescribeStream answer merged into a shard graph
 * (then the parent-before-child and consistency checks), or a checkpoint
 * file (parsed, written back, parsed again: must round-trip). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "formats/events.h"
#include "source/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void records(const char *text, size_t len) {
    dp_json_doc *doc = dp_json_parse(text, len, NULL);
    if (!doc)
        return;
    const dp_json *recs = dp_json_get(dp_json_root(doc), "Records");
    char err[256];
    dp_buf out;
    dp_buf_init(&out, 1 << 20);
    for (size_t i = 0; recs && dp_json_is(recs, DP_JSON_ARRAY) && i < recs->count; i++) {
        dp_event ev;
        if (dp_src_parse_record(recs->items[i], "shardId-1", &ev, err, sizeof err) != DDBPIPE_OK)
            continue;
        ev.table = "t";
        for (int f = DP_EVENT_FMT_JSON; f <= DP_EVENT_FMT_DEBEZIUM; f++) {
            dp_buf_reset(&out);
            if (dp_event_write(&out, (dp_event_format)f, &ev, err, sizeof err) == DDBPIPE_OK) {
                /* Every line we emit must be valid JSON. */
                dp_json_doc *line = dp_json_parse(out.data, out.len, NULL);
                if (!line)
                    __builtin_trap();
                dp_json_doc_free(line);
            }
        }
    }
    dp_buf_free(&out);
    dp_json_doc_free(doc);
}

static void listing(const char *text, size_t len) {
    dp_json_doc *doc = dp_json_parse(text, len, NULL);
    if (!doc)
        return;
    dp_shard_graph g;
    dp_shard_graph_init(&g);
    char err[256];
    size_t added = 0;
    const dp_json *desc = dp_json_get(dp_json_root(doc), "StreamDescription");
    if (dp_shard_graph_merge(&g, dp_json_get(desc, "Shards"), &added, err, sizeof err) == DDBPIPE_OK) {
        (void)dp_shard_graph_closed_leaf(&g);
        for (size_t i = 0; i < g.n; i++) {
            (void)dp_shard_readable(&g, g.v[i]);
            g.v[i]->finished = (int)(i & 1);
        }
        for (size_t i = 0; i < g.n; i++)
            (void)dp_shard_readable(&g, g.v[i]);
    }
    dp_shard_graph_free(&g);
    dp_json_doc_free(doc);
}

static void checkpoint(const char *text, size_t len) {
    dp_src_checkpoint a, b;
    dp_src_checkpoint_init(&a);
    dp_src_checkpoint_init(&b);
    char err[256];
    if (dp_src_checkpoint_parse(text, len, &a, err, sizeof err) == DDBPIPE_OK) {
        dp_buf o1, o2;
        dp_buf_init(&o1, 0);
        dp_buf_init(&o2, 0);
        if (dp_src_checkpoint_write(&a, &o1) == DDBPIPE_OK) {
            if (dp_src_checkpoint_parse(o1.data, o1.len, &b, err, sizeof err) != DDBPIPE_OK)
                __builtin_trap();
            if (dp_src_checkpoint_write(&b, &o2) != DDBPIPE_OK || o1.len != o2.len ||
                memcmp(o1.data, o2.data, o1.len) != 0)
                __builtin_trap();
        }
        dp_buf_free(&o1);
        dp_buf_free(&o2);
    }
    dp_src_checkpoint_free(&a);
    dp_src_checkpoint_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        records(text, len);
        break;
    case 1:
        listing(text, len);
        break;
    default:
        checkpoint(text, len);
        break;
    }
    return 0;
}
