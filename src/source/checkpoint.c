/* The source checkpoint document:
 *   {"version":1,"table":..,"table_created":"<CreationDateTime>","stream_arn":..,"mode":..,
 *    "snapshot":{"done":b,"total_segments":N,"segments":[{"done":b,"last_key":{..}|null}]},
 *    "stream":{"started":b,"shards":[{"id":..,"parent":..,"seq":..,"finished":b}]}}
 * last_key is the scan's LastEvaluatedKey after the last emitted page; seq the
 * last emitted sequence number of the shard. Written only after the output
 * was flushed, so a restart resumes after what is durable (at-least-once). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "source/source.h"

#define DP_CP_MAX_SEGMENTS 1000000

void dp_src_checkpoint_init(dp_src_checkpoint *cp) {
    memset(cp, 0, sizeof *cp);
    dp_shard_graph_init(&cp->shards);
}

void dp_src_checkpoint_free(dp_src_checkpoint *cp) {
    if (!cp)
        return;
    free(cp->table);
    free(cp->table_created);
    free(cp->stream_arn);
    free(cp->mode);
    for (int i = 0; i < cp->total_segments && cp->segments; i++) {
        free(cp->segments[i].last_key);
        free(cp->segments[i].lease_pos);
        free(cp->segments[i].obs_owner);
    }
    free(cp->segments);
    dp_shard_graph_free(&cp->shards);
    memset(cp, 0, sizeof *cp);
}

static ddbpipe_result_t put_str_or_null(dp_buf *out, const char *s) {
    return s ? dp_json_write_cstr(out, s) : dp_buf_puts(out, "null");
}

ddbpipe_result_t dp_src_checkpoint_write(const dp_src_checkpoint *cp, dp_buf *out) {
    ddbpipe_result_t rc = DDBPIPE_OK;
#define W(x)                                                                                                 \
    do {                                                                                                     \
        if ((rc = (x)) != DDBPIPE_OK)                                                                        \
            goto out;                                                                                        \
    } while (0)
    W(dp_buf_puts(out, "{\"version\":1,\"table\":"));
    W(put_str_or_null(out, cp->table));
    if (cp->table_created) {
        W(dp_buf_puts(out, ",\"table_created\":"));
        W(dp_json_write_cstr(out, cp->table_created));
    }
    W(dp_buf_puts(out, ",\"stream_arn\":"));
    W(put_str_or_null(out, cp->stream_arn));
    W(dp_buf_puts(out, ",\"mode\":"));
    W(put_str_or_null(out, cp->mode));
    W(dp_buf_printf(out, ",\n\"snapshot\":{\"done\":%s,\"total_segments\":%d,\"segments\":[",
                    cp->snapshot_done ? "true" : "false", cp->total_segments));
    for (int i = 0; i < cp->total_segments; i++) {
        const dp_src_segment *sg = &cp->segments[i];
        W(dp_buf_printf(out, "%s\n {\"done\":%s,\"last_key\":%s}", i ? "," : "", sg->done ? "true" : "false",
                        sg->last_key ? sg->last_key : "null"));
    }
    W(dp_buf_printf(out, "]},\n\"stream\":{\"started\":%s,\"shards\":[",
                    cp->stream_started ? "true" : "false"));
    for (size_t i = 0; i < cp->shards.n; i++) {
        const dp_shard *s = cp->shards.v[i];
        W(dp_buf_puts(out, i ? ",\n {\"id\":" : "\n {\"id\":"));
        W(dp_json_write_cstr(out, s->id));
        W(dp_buf_puts(out, ",\"parent\":"));
        W(put_str_or_null(out, s->parent_id));
        W(dp_buf_puts(out, ",\"seq\":"));
        W(put_str_or_null(out, s->last_seq));
        W(dp_buf_printf(out, ",\"finished\":%s}", s->finished ? "true" : "false"));
    }
    W(dp_buf_puts(out, "]}}\n"));
#undef W
out:
    return rc;
}

static int get_bool(const dp_json *obj, const char *key, int *out) {
    const dp_json *v = dp_json_get(obj, key);
    if (!v) {
        *out = 0;
        return 0;
    }
    if (!dp_json_is(v, DP_JSON_BOOL))
        return -1;
    *out = v->boolean;
    return 0;
}

static int get_opt_str(const dp_json *obj, const char *key, char **slot) {
    const dp_json *v = dp_json_get(obj, key);
    if (!v || dp_json_is(v, DP_JSON_NULL))
        return 0;
    if (!dp_json_is(v, DP_JSON_STRING) || strlen(v->str) != v->len)
        return -1;
    return dp_strdup_to(slot, v->str) == 0 ? 0 : -2;
}

ddbpipe_result_t dp_src_checkpoint_parse(const char *text, size_t len, dp_src_checkpoint *cp, char *errstr,
                                         size_t errstr_size) {
    dp_json_error jerr;
    dp_json_doc *doc = dp_json_parse(text, len, &jerr);
    ddbpipe_result_t rc = DDBPIPE_ERR_PARSE;
    dp_buf kb;
    dp_buf_init(&kb, 0);
    const char *field = "";
    if (!doc) {
        dp_errf(errstr, errstr_size, "checkpoint: invalid JSON at byte %zu: %s", jerr.offset, jerr.message);
        goto out;
    }
    const dp_json *root = dp_json_root(doc);
    const dp_json *ver = dp_json_get(root, "version");
    field = "version";
    if (!dp_json_is(ver, DP_JSON_NUMBER) || strcmp(ver->str, "1") != 0)
        goto bad;
    field = "table";
    if (get_opt_str(root, "table", &cp->table) != 0)
        goto bad;
    field = "table_created";
    if (get_opt_str(root, "table_created", &cp->table_created) != 0)
        goto bad;
    field = "stream_arn";
    if (get_opt_str(root, "stream_arn", &cp->stream_arn) != 0)
        goto bad;
    field = "mode";
    if (get_opt_str(root, "mode", &cp->mode) != 0)
        goto bad;

    const dp_json *snap = dp_json_get(root, "snapshot");
    if (snap) {
        field = "snapshot.done";
        if (get_bool(snap, "done", &cp->snapshot_done) != 0)
            goto bad;
        const dp_json *segs = dp_json_get(snap, "segments");
        field = "snapshot.segments";
        if (segs && !dp_json_is(segs, DP_JSON_ARRAY))
            goto bad;
        const dp_json *tot = dp_json_get(snap, "total_segments");
        field = "snapshot.total_segments";
        long n = 0;
        if (tot) {
            char *end = NULL;
            if (!dp_json_is(tot, DP_JSON_NUMBER))
                goto bad;
            n = strtol(tot->str, &end, 10);
            if (*end || n < 0 || n > DP_CP_MAX_SEGMENTS)
                goto bad;
        }
        if ((size_t)n != (segs ? segs->count : 0))
            goto bad;
        if (n > 0) {
            cp->segments = calloc((size_t)n, sizeof *cp->segments);
            if (!cp->segments) {
                rc = DDBPIPE_ERR_NOMEM;
                goto out;
            }
            cp->total_segments = (int)n;
            for (long i = 0; i < n; i++) {
                const dp_json *sg = segs->items[i];
                field = "snapshot.segments[].done";
                if (!dp_json_is(sg, DP_JSON_OBJECT) || get_bool(sg, "done", &cp->segments[i].done) != 0)
                    goto bad;
                const dp_json *lk = dp_json_get(sg, "last_key");
                field = "snapshot.segments[].last_key";
                if (lk && !dp_json_is(lk, DP_JSON_NULL)) {
                    if (!dp_json_is(lk, DP_JSON_OBJECT))
                        goto bad;
                    dp_buf_reset(&kb);
                    if (dp_json_write(&kb, lk) != DDBPIPE_OK ||
                        dp_strdup_to(&cp->segments[i].last_key, kb.data) != 0) {
                        rc = DDBPIPE_ERR_NOMEM;
                        goto out;
                    }
                }
            }
        }
    }

    const dp_json *st = dp_json_get(root, "stream");
    if (st) {
        field = "stream.started";
        if (get_bool(st, "started", &cp->stream_started) != 0)
            goto bad;
        const dp_json *sh = dp_json_get(st, "shards");
        field = "stream.shards";
        if (sh && !dp_json_is(sh, DP_JSON_ARRAY))
            goto bad;
        for (size_t i = 0; sh && i < sh->count; i++) {
            const dp_json *e = sh->items[i];
            const char *id = dp_json_get_string(e, "id");
            field = "stream.shards[].id";
            if (!id || !id[0] || strlen(id) != dp_json_get(e, "id")->len)
                goto bad;
            char *parent = NULL;
            field = "stream.shards[].parent";
            if (get_opt_str(e, "parent", &parent) != 0)
                goto bad;
            dp_shard *s = dp_shard_graph_add(&cp->shards, id, parent);
            free(parent);
            if (!s) {
                rc = DDBPIPE_ERR_NOMEM;
                goto out;
            }
            field = "stream.shards[].seq";
            if (get_opt_str(e, "seq", &s->last_seq) != 0)
                goto bad;
            if (s->last_seq)
                for (const char *p = s->last_seq; *p; p++)
                    if (*p < '0' || *p > '9')
                        goto bad;
            field = "stream.shards[].finished";
            if (get_bool(e, "finished", &s->finished) != 0)
                goto bad;
        }
    }
    rc = DDBPIPE_OK;
    goto out;
bad:
    dp_errf(errstr, errstr_size, "checkpoint: field '%s' is missing or has the wrong type", field);
    rc = DDBPIPE_ERR_PARSE;
out:
    dp_buf_free(&kb);
    dp_json_doc_free(doc);
    return rc;
}
