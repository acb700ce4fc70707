/* Differential check of the sink's two parse paths (sink/sink_parse_fast.c
 * against the general parser), shared by tests/unit/test_sink_parse.c and
 * tests/fuzz/fuzz_sink_fastparse.c. Header-only: both include it once. */
#ifndef DDBPIPE_TESTS_SINK_PARSE_COMPARE_H
#define DDBPIPE_TESTS_SINK_PARSE_COMPARE_H

#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "sink/sink_internal.h"

static int spc_json_same(const dp_buf *a, const dp_buf *b) {
    dp_json_doc *da = dp_json_parse(a->data, a->len, NULL);
    dp_json_doc *db = dp_json_parse(b->data, b->len, NULL);
    int same = da && db && dp_json_equal(dp_json_root(da), dp_json_root(db));
    dp_json_doc_free(da);
    dp_json_doc_free(db);
    return same;
}

/* Runs both paths on one line. Returns -1 on a mismatch (why in `why`),
 * 1 when the fast path handled the line and the general path agrees, 0 when
 * the fast path left it to the general path. */
static int spc_compare(const sk_parse_ctx *ctx, const char *line, size_t len, char *why, size_t why_size) {
    sk_change f, g;
    char reason[1024];
    int rc = 0;
    sk_change_init(&f);
    sk_change_init(&g);
    int handled = sk_parse_line_fast(ctx, line, len, &f) == 0;
    sk_bad_kind bad = sk_parse_line_general(ctx, line, len, &g, reason, sizeof reason);
    if (!handled)
        goto out;
    rc = -1;
    if (bad != SK_BAD_NONE)
        snprintf(why, why_size, "fast path accepted a line the general path rejects: %.400s", reason);
    else if (f.op != g.op)
        snprintf(why, why_size, "op %d != %d", (int)f.op, (int)g.op);
    else if (f.key.len != g.key.len || memcmp(f.key.data, g.key.data, f.key.len) != 0)
        snprintf(why, why_size, "canonical keys differ");
    else if (f.item_size != g.item_size)
        snprintf(why, why_size, "item size %zu != %zu", f.item_size, g.item_size);
    else if (!spc_json_same(&f.body, &g.body))
        snprintf(why, why_size, "items differ: %.*s vs %.*s", (int)(f.body.len > 300 ? 300 : f.body.len),
                 f.body.data, (int)(g.body.len > 300 ? 300 : g.body.len), g.body.data);
    else if (!spc_json_same(&f.key_json, &g.key_json))
        snprintf(why, why_size, "key JSON differs");
    else
        rc = 1;
out:
    sk_change_free(&f);
    sk_change_free(&g);
    return rc;
}

#endif
