/* Differential check of the source's two Scan-page paths for `--format json`
 * snapshots (formats/scan_lines.c, one pass, against dp_ddb_parse_read_page
 * then dp_event_write per item, what source.c's on_scan did before), shared
 * by tests/unit/test_scan_lines.c and tests/fuzz/fuzz_scan_lines.c.
 * Header-only: both include it once. */
#ifndef DDBPIPE_TESTS_SCAN_LINES_COMPARE_H
#define DDBPIPE_TESTS_SCAN_LINES_COMPARE_H

#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "ddb/capacity.h"
#include "ddb/ops.h"
#include "formats/events.h"
#include "formats/scan_lines.h"

/* The general path: every item's line and '\n', as on_scan emits them.
 * 0 ok; -1 the page is refused (the source stops with an error). */
static int slc_general(const char *page, size_t len, const dp_scan_lines_opts *o, dp_buf *lines, dp_buf *lek,
                       int *has_cu, double *cu, size_t *count) {
    dp_ddb_read_page p;
    char err[512];
    int rc = -1;
    dp_ddb_read_page_init(&p);
    *count = 0;
    if (dp_ddb_parse_read_page("Scan", page, len, &p, err, sizeof err) != DDBPIPE_OK)
        goto out;
    const char *sk = o->sort_key && *o->sort_key ? o->sort_key : NULL;
    for (size_t k = 0; p.items && k < p.items->count; k++) {
        const dp_json *item = p.items->items[k];
        if (!dp_json_is(item, DP_JSON_OBJECT) || !dp_json_get(item, o->partition_key) ||
            (sk && !dp_json_get(item, sk)))
            goto out;
        dp_event ev;
        memset(&ev, 0, sizeof ev);
        ev.op = DP_EVENT_SNAPSHOT;
        ev.table = o->table;
        ev.new_image = item;
        ev.partition_key = o->partition_key;
        ev.sort_key = sk;
        if (dp_event_write(lines, DP_EVENT_FMT_JSON, &ev, err, sizeof err) != DDBPIPE_OK ||
            dp_buf_putc(lines, '\n') != DDBPIPE_OK)
            goto out;
        (*count)++;
    }
    if (dp_buf_append(lek, p.last_evaluated_key.data ? p.last_evaluated_key.data : "",
                      p.last_evaluated_key.len) != DDBPIPE_OK)
        goto out;
    *has_cu = dp_consumed_capacity(p.root, cu);
    rc = 0;
out:
    dp_ddb_read_page_free(&p);
    return rc;
}

/* Runs both paths on one page. Returns -1 on a mismatch (why in `why`), 1
 * when the one-pass path handled the page and the general path gives the
 * same lines, LastEvaluatedKey and consumed capacity, 0 when the one-pass
 * path left the page to the general path (as source.c then does). */
static int slc_compare(const char *page, size_t len, const dp_scan_lines_opts *o, char *why,
                       size_t why_size) {
    dp_buf fl, gl, rest, flek, glek;
    dp_buf_init(&fl, 0);
    dp_buf_init(&gl, 0);
    dp_buf_init(&rest, 0);
    dp_buf_init(&flek, 0);
    dp_buf_init(&glek, 0);
    dp_ddb_read_page rp;
    dp_ddb_read_page_init(&rp);
    int rc = 0, fcu = 0, gcu = 0;
    double fu = 0, gu = 0;
    size_t fcount = 0, gcount = 0;
    char err[512];
    int handled = dp_scan_lines_write(page, len, o, &fl, &rest, &fcount) == 1 &&
                  dp_ddb_parse_read_page("Scan", rest.data, rest.len, &rp, err, sizeof err) == DDBPIPE_OK &&
                  !rp.items;
    int general = slc_general(page, len, o, &gl, &glek, &gcu, &gu, &gcount);
    if (!handled)
        goto out;
    rc = -1;
    fcu = dp_consumed_capacity(rp.root, &fu);
    if (rp.last_evaluated_key.len &&
        dp_buf_append(&flek, rp.last_evaluated_key.data, rp.last_evaluated_key.len))
        snprintf(why, why_size, "out of memory");
    else if (general != 0)
        snprintf(why, why_size, "the one-pass path accepted a page the general path refuses");
    else if (fcount != gcount)
        snprintf(why, why_size, "%zu items against %zu", fcount, gcount);
    else if (fl.len != gl.len || (fl.len && memcmp(fl.data, gl.data, fl.len) != 0))
        snprintf(why, why_size, "lines differ:\n%.*s\nagainst\n%.*s", (int)(fl.len > 400 ? 400 : fl.len),
                 fl.data ? fl.data : "", (int)(gl.len > 400 ? 400 : gl.len), gl.data ? gl.data : "");
    else if (flek.len != glek.len || (flek.len && memcmp(flek.data, glek.data, flek.len) != 0))
        snprintf(why, why_size, "LastEvaluatedKey differs");
    else if (fcu != gcu || fu != gu)
        snprintf(why, why_size, "consumed capacity differs");
    else
        rc = 1;
out:
    dp_ddb_read_page_free(&rp);
    dp_buf_free(&fl);
    dp_buf_free(&gl);
    dp_buf_free(&rest);
    dp_buf_free(&flek);
    dp_buf_free(&glek);
    return rc;
}

#endif
