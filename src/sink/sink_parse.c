/* Input line -> sink change, over the change parser (formats/changes.h).
 * Pure functions: no I/O. */
#include <stdio.h>
#include <string.h>

#include "ddb/attr_public.h"
#include "sink/sink_internal.h"

void sk_change_init(sk_change *c) {
    memset(c, 0, sizeof(*c));
    dp_buf_init(&c->key, 0);
    dp_buf_init(&c->key_json, 0);
    dp_buf_init(&c->body, 0);
}

void sk_change_free(sk_change *c) {
    dp_buf_free(&c->key);
    dp_buf_free(&c->key_json);
    dp_buf_free(&c->body);
}

static int key_part(const dp_json *av, dp_buf *out) {
    if (!av || av->type != DP_JSON_OBJECT || av->count != 1)
        return -1;
    const char *t = av->members[0].key;
    const dp_json *v = av->members[0].value;
    if (!v || v->type != DP_JSON_STRING)
        return -1;
    if (strcmp(t, "S") == 0 || strcmp(t, "B") == 0) {
        dp_buf_putc(out, t[0]);
        dp_buf_putc(out, ':');
        dp_buf_append(out, v->str, v->len);
    } else if (strcmp(t, "N") == 0) {
        /* DynamoDB's key identity: 1, 1.0 and 10E-1 are one item */
        dp_buf_puts(out, "N:");
        if (dp_ddb_number_canonical(v->str, v->len, out) != 0)
            return -1;
    } else {
        return -1;
    }
    return dp_buf_putc(out, '\x1f') == DDBPIPE_OK ? 0 : -1;
}

int sk_key_canonical(const dp_json *item, const char *pk, const char *sk, dp_buf *out) {
    dp_buf_reset(out);
    if (key_part(dp_json_get(item, pk), out) != 0)
        return -1;
    if (sk && sk[0] && key_part(dp_json_get(item, sk), out) != 0)
        return -1;
    return 0;
}

int sk_key_json(const dp_json *item, const char *pk, const char *sk, dp_buf *out) {
    dp_buf_reset(out);
    dp_buf_putc(out, '{');
    dp_json_write_cstr(out, pk);
    dp_buf_putc(out, ':');
    if (dp_json_write(out, dp_json_get(item, pk)) != DDBPIPE_OK)
        return -1;
    if (sk && sk[0]) {
        dp_buf_putc(out, ',');
        dp_json_write_cstr(out, sk);
        dp_buf_putc(out, ':');
        if (dp_json_write(out, dp_json_get(item, sk)) != DDBPIPE_OK)
            return -1;
    }
    return dp_buf_putc(out, '}') == DDBPIPE_OK ? 0 : -1;
}

/* A parsed change -> the sink's key, key JSON and body. */
static sk_bad_kind change_finish(const sk_parse_ctx *ctx, const dp_change *cp, sk_change *out, char *reason,
                                 size_t rs) {
    const dp_change ch = *cp;
    const char *sk = ctx->opts.sort_key;
    if (sk_key_canonical(ch.item, ctx->opts.partition_key, sk, &out->key) != 0 ||
        sk_key_json(ch.item, ctx->opts.partition_key, sk, &out->key_json) != 0) {
        snprintf(reason, rs, "invalid key attributes");
        return SK_BAD_RECORD;
    }
    dp_buf_reset(&out->body);
    out->item_size = ch.item_size;
    if (ch.op == DP_CHANGE_DELETE) {
        out->op = SK_OP_DELETE;
    } else if (ctx->merge) {
        /* merge mode keeps the change itself; it is applied to the stored
         * item once that is loaded */
        out->op = ch.patch_typed ? SK_OP_PUT : SK_OP_PATCH;
        if (!ch.patch || dp_json_write(&out->body, ch.patch) != DDBPIPE_OK) {
            snprintf(reason, rs, "no merge patch for this change");
            return SK_BAD_RECORD;
        }
    } else {
        out->op = SK_OP_PUT;
        if (dp_json_write(&out->body, ch.item) != DDBPIPE_OK) {
            snprintf(reason, rs, "out of memory");
            return SK_BAD_RECORD;
        }
    }
    return SK_BAD_NONE;
}

sk_bad_kind sk_parse_line(const sk_parse_ctx *ctx, const char *line, size_t len, sk_change *out, char *reason,
                          size_t rs) {
    if (len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
        line += 3;
        len -= 3;
    }
    if (sk_parse_line_fast(ctx, line, len, out) == 0) {
        reason[0] = '\0';
        return SK_BAD_NONE;
    }
    return sk_parse_line_general(ctx, line, len, out, reason, rs);
}

sk_bad_kind sk_parse_line_general(const sk_parse_ctx *ctx, const char *line, size_t len, sk_change *out,
                                  char *reason, size_t rs) {
    dp_change ch;
    sk_bad_kind kind = SK_BAD_RECORD;
    reason[0] = '\0';
    ddbpipe_result_t r = dp_change_parse(line, len, &ctx->opts, &ch, reason, rs);
    if (r != DDBPIPE_OK) {
        if (r == DDBPIPE_ERR_TOO_LARGE)
            return SK_BAD_OVERSIZED;
        if (!reason[0])
            snprintf(reason, rs, "%s", ddbpipe_strerror(r));
        return SK_BAD_RECORD;
    }
    if (ch.op == DP_CHANGE_TOMBSTONE) {
        dp_change_clear(&ch);
        return SK_TOMBSTONE;
    }
    kind = change_finish(ctx, &ch, out, reason, rs);
    dp_change_clear(&ch);
    return kind;
}

/* ------------------------------------------------------------ message keys */

/* The key object of a message key: a JSON object, or the "payload" object
 * of a Kafka Connect {"schema":..,"payload":{..}} envelope. */
static const dp_json *message_key_object(const dp_json_doc *d) {
    const dp_json *k = d ? dp_json_root(d) : NULL;
    if (!k || !dp_json_is(k, DP_JSON_OBJECT))
        return NULL;
    const dp_json *pl = dp_json_get(k, "payload");
    if (dp_json_is(pl, DP_JSON_OBJECT) && dp_json_get(k, "schema"))
        k = pl;
    return k->count > 0 ? k : NULL;
}

int sk_tombstone_line(const char *key, size_t key_len, dp_buf *out, char *reason, size_t rs) {
    dp_json_doc *d = dp_json_parse(key, key_len, NULL);
    const dp_json *k = message_key_object(d);
    int rc = -1;
    dp_buf_reset(out);
    if (!k) {
        snprintf(reason, rs, "tombstone (null value) whose key is not a JSON object of key attributes");
        goto out;
    }
    dp_buf_puts(out, "{\"delete\":");
    if (dp_json_write(out, k) != DDBPIPE_OK || dp_buf_putc(out, '}') != DDBPIPE_OK) {
        snprintf(reason, rs, "out of memory");
        goto out;
    }
    rc = 0;
out:
    dp_json_doc_free(d);
    return rc;
}

/* A plain row (no envelope member) gets the message key's attributes it
 * lacks. 0: out holds the merged row; -1: not applicable. */
static int merge_key_into_row(const char *line, size_t len, const char *key, size_t key_len, dp_buf *out) {
    static const char *const envelope[] = {"payload", "before",    "after",    "op",   "insert",
                                           "delete",  "eventName", "dynamodb", "keys", "new"};
    dp_json_doc *vd = dp_json_parse(line, len, NULL), *kd = NULL;
    const dp_json *v = vd ? dp_json_root(vd) : NULL, *k = NULL;
    int rc = -1;
    if (!dp_json_is(v, DP_JSON_OBJECT))
        goto out;
    for (size_t i = 0; i < sizeof envelope / sizeof envelope[0]; i++)
        if (dp_json_get(v, envelope[i]))
            goto out;
    kd = dp_json_parse(key, key_len, NULL);
    k = message_key_object(kd);
    if (!k)
        goto out;
    dp_buf_reset(out);
    dp_buf_putc(out, '{');
    size_t n = 0;
    for (size_t i = 0; i < k->count; i++) {
        if (dp_json_get(v, k->members[i].key))
            continue; /* the value's own attribute wins */
        if (n++)
            dp_buf_putc(out, ',');
        dp_json_write_string(out, k->members[i].key, k->members[i].key_len);
        dp_buf_putc(out, ':');
        dp_json_write(out, k->members[i].value);
    }
    if (n == 0)
        goto out; /* nothing to add: the original error stands */
    for (size_t i = 0; i < v->count; i++) {
        dp_buf_putc(out, ',');
        dp_json_write_string(out, v->members[i].key, v->members[i].key_len);
        dp_buf_putc(out, ':');
        if (dp_json_write(out, v->members[i].value) != DDBPIPE_OK)
            goto out;
    }
    rc = dp_buf_putc(out, '}') == DDBPIPE_OK ? 0 : -1;
out:
    dp_json_doc_free(vd);
    dp_json_doc_free(kd);
    return rc;
}

sk_bad_kind sk_parse_record(const sk_parse_ctx *ctx, int fmt, const char *line, size_t len, const char *key,
                            size_t key_len, sk_change *out, char *reason, size_t rs) {
    sk_parse_ctx local;
    if (fmt) {
        local = *ctx;
        local.opts.format = (dp_change_format)fmt;
        ctx = &local;
    }
    sk_bad_kind bad = sk_parse_line(ctx, line, len, out, reason, rs);
    if (bad != SK_BAD_RECORD || !key || fmt ||
        (ctx->opts.format != DP_CHANGE_FMT_AUTO && ctx->opts.format != DP_CHANGE_FMT_JSON))
        return bad;
    /* the message key may supply the key attributes of a plain row */
    dp_buf merged;
    dp_buf_init(&merged, (size_t)1 << 26);
    if (merge_key_into_row(line, len, key, key_len, &merged) == 0) {
        char r2[256];
        if (sk_parse_line(ctx, merged.data, merged.len, out, r2, sizeof r2) == SK_BAD_NONE) {
            reason[0] = '\0';
            bad = SK_BAD_NONE;
        }
    }
    dp_buf_free(&merged);
    return bad;
}

/* ------------------------------------------------------------ typed items */

/* A DynamoDB Streams record of the change: the dead-letter form of a typed
 * item, which the sink reads back (format auto or dynamodb-stream). */
static int render_stream_record(const dp_json *image, int is_delete, dp_buf *out) {
    dp_buf_reset(out);
    dp_buf_puts(out, is_delete ? "{\"eventName\":\"REMOVE\",\"dynamodb\":{\"Keys\":"
                               : "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":");
    if (dp_json_write(out, image) != DDBPIPE_OK)
        return -1;
    return dp_buf_puts(out, "}}") == DDBPIPE_OK ? 0 : -1;
}

sk_bad_kind sk_parse_typed(const sk_parse_ctx *ctx, const ddbpipe_item_record_t *rec, sk_change *out,
                           dp_buf *text, char *reason, size_t rs) {
    dp_json_doc *doc = dp_json_doc_new();
    dp_change ch;
    int del = rec->op == DDBPIPE_ITEM_DELETE;
    reason[0] = '\0';
    dp_buf_reset(text);
    if (!doc)
        return SK_BAD_NOMEM;
    dp_json *image = dp_item_from_public(doc, rec->attrs, rec->count, reason, rs);
    if (!image) {
        sk_bad_kind k = dp_json_doc_alloc_failed(doc) ? SK_BAD_NOMEM : SK_BAD_ARG;
        dp_json_doc_free(doc);
        return k;
    }
    ddbpipe_result_t r = dp_change_from_typed(doc, image, del, &ctx->opts, &ch, reason, rs);
    if (r == DDBPIPE_ERR_NOMEM) {
        dp_json_doc_free(doc);
        return SK_BAD_NOMEM;
    }
    if (r != DDBPIPE_OK) {
        sk_bad_kind k = r == DDBPIPE_ERR_TOO_LARGE ? SK_BAD_OVERSIZED : SK_BAD_RECORD;
        if (render_stream_record(image, del, text) != 0)
            k = SK_BAD_NOMEM;
        dp_json_doc_free(doc);
        return k;
    }
    sk_bad_kind k = change_finish(ctx, &ch, out, reason, rs);
    /* the record's text, for a dead letter the engine may still write: a
     * put's body is the image written out already (unless the image went
     * into a document attribute), so it is framed rather than written twice */
    if (k == SK_BAD_NONE && !del && out->op == SK_OP_PUT && !ctx->opts.document_attribute) {
        dp_buf_reset(text);
        if (dp_buf_puts(text, "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":") != DDBPIPE_OK ||
            dp_buf_append(text, out->body.data, out->body.len) != DDBPIPE_OK ||
            dp_buf_puts(text, "}}") != DDBPIPE_OK)
            k = SK_BAD_NOMEM;
    } else if (render_stream_record(image, del, text) != 0) {
        k = SK_BAD_NOMEM;
    }
    dp_change_clear(&ch);
    return k;
}
