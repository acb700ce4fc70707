/* Input line -> typed change (see changes.h for the formats). */
#include "formats/changes.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "ddb/attr_internal.h"

static const struct {
    const char *name;
    dp_change_format fmt;
} format_names[] = {
    {"auto", DP_CHANGE_FMT_AUTO},
    {"json", DP_CHANGE_FMT_JSON},
    {"feldera", DP_CHANGE_FMT_FELDERA},
    {"debezium", DP_CHANGE_FMT_DEBEZIUM},
    {"dynamodb-stream", DP_CHANGE_FMT_DYNAMODB_STREAM},
    {"dynamodb", DP_CHANGE_FMT_DYNAMODB_STREAM},
    {"ddbpipe", DP_CHANGE_FMT_DYNAMODB_STREAM},
};

int dp_change_format_parse(const char *name, dp_change_format *out) {
    for (size_t i = 0; name && i < sizeof format_names / sizeof format_names[0]; i++) {
        if (!strcmp(name, format_names[i].name)) {
            *out = format_names[i].fmt;
            return 0;
        }
    }
    return -1;
}

const char *dp_change_format_name(dp_change_format f) {
    switch (f) {
    case DP_CHANGE_FMT_AUTO:
        return "auto";
    case DP_CHANGE_FMT_JSON:
        return "json";
    case DP_CHANGE_FMT_FELDERA:
        return "feldera";
    case DP_CHANGE_FMT_DEBEZIUM:
        return "debezium";
    case DP_CHANGE_FMT_DYNAMODB_STREAM:
        return "dynamodb-stream";
    case DP_CHANGE_FMT_DDBPIPE:
        return "ddbpipe";
    }
    return "?";
}

void dp_change_clear(dp_change *c) {
    if (!c)
        return;
    dp_json_doc_free(c->doc);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------ helpers */

static int has_pk(const dp_change_format_opts *o) {
    return o && o->partition_key && *o->partition_key;
}

static int has_sk(const dp_change_format_opts *o) {
    return o && o->sort_key && *o->sort_key;
}

/* Column type to use for a top-level attribute: the configured one, else
 * the table's key type for key attributes, else NULL (auto). */
static const dp_coltype *effective_type(const dp_change_format_opts *o, const char *name, dp_coltype *tmp) {
    if (!o)
        return NULL;
    const dp_column *c = dp_column_find(o->columns, o->ncolumns, name);
    if (c)
        return &c->type;
    char kt = 0;
    if (has_pk(o) && !strcmp(name, o->partition_key))
        kt = o->partition_type;
    else if (has_sk(o) && !strcmp(name, o->sort_key))
        kt = o->sort_type;
    if (!kt)
        return NULL;
    memset(tmp, 0, sizeof *tmp);
    tmp->kind = kt == 'N' ? DP_COL_DECIMAL : kt == 'B' ? DP_COL_BINARY : DP_COL_STRING;
    return tmp;
}

static const char *kname(const dp_change_format_opts *o, int sort) {
    return sort ? o->sort_key : o->partition_key;
}

/* Plain row -> typed item with column types. */
static dp_json *row_to_item(dp_json_doc *doc, const dp_json *row, const dp_change_format_opts *o,
                            char *errstr, size_t n) {
    dp_json *item = dp_json_new_object(doc);
    if (!item)
        return NULL;
    for (size_t i = 0; i < row->count; i++) {
        const dp_json_member *m = &row->members[i];
        if (m->value->type == DP_JSON_NULL && o->ignore_nulls) {
            dp_json_object_remove(item, m->key);
            continue;
        }
        if (m->key_len == 0) {
            dp_errf(errstr, n, "an attribute name is empty; DynamoDB names are at least 1 byte");
            return NULL;
        }
        if (m->key_len > 65535) {
            dp_errf(errstr, n, "an attribute name is %zu bytes, DynamoDB allows 65535", m->key_len);
            return NULL;
        }
        dp_coltype tmp;
        dp_json *av =
            dp_attr_from_plain_at(doc, m->value, effective_type(o, m->key, &tmp), m->key, errstr, n);
        if (!av || dp_json_object_set(doc, item, m->key, m->key_len, av) != 0)
            return NULL;
    }
    return item;
}

/* Key attributes of a plain row, typed. */
static dp_json *row_to_keys(dp_json_doc *doc, const dp_json *row, const dp_change_format_opts *o,
                            char *errstr, size_t n, ddbpipe_result_t *rc) {
    dp_json *keys = dp_json_new_object(doc);
    char snip[80];
    *rc = DDBPIPE_ERR_NOMEM;
    if (!keys)
        return NULL;
    for (int s = 0; s < 2; s++) {
        if (s == 0 ? !has_pk(o) : !has_sk(o))
            continue;
        const char *name = kname(o, s);
        const dp_json *v = dp_json_get(row, name);
        *rc = DDBPIPE_ERR_VALIDATION;
        if (!v) {
            dp_errf(errstr, n, "missing %s '%s'", s ? "sort key" : "partition key",
                    dp_attr_snippet(name, strlen(name), snip, sizeof snip));
            return NULL;
        }
        if (v->type == DP_JSON_NULL) {
            dp_errf(errstr, n, "%s '%s' is null", s ? "sort key" : "partition key",
                    dp_attr_snippet(name, strlen(name), snip, sizeof snip));
            return NULL;
        }
        dp_coltype tmp;
        dp_json *av = dp_attr_from_plain_at(doc, v, effective_type(o, name, &tmp), name, errstr, n);
        if (!av)
            return NULL;
        *rc = DDBPIPE_ERR_NOMEM;
        if (dp_json_object_set(doc, keys, name, strlen(name), av) != 0)
            return NULL;
    }
    *rc = DDBPIPE_OK;
    return keys;
}

/* Shallow copy of a plain object without its null members. */
static dp_json *drop_nulls(dp_json_doc *doc, const dp_json *row) {
    dp_json *o = dp_json_new_object(doc);
    if (!o)
        return NULL;
    for (size_t i = 0; i < row->count; i++) {
        if (row->members[i].value->type == DP_JSON_NULL) {
            dp_json_object_remove(o, row->members[i].key);
            continue;
        }
        if (dp_json_object_set(doc, o, row->members[i].key, row->members[i].key_len, row->members[i].value) !=
            0)
            return NULL;
    }
    return o;
}

/* The result code of a failed dp_item_validate_typed: an item over 400 KB
 * is TOO_LARGE (the sink counts and words it apart), the rest VALIDATION. */
static ddbpipe_result_t invalid_item_rc(int v) {
    return v == DP_ITEM_TOO_LARGE ? DDBPIPE_ERR_TOO_LARGE : DDBPIPE_ERR_VALIDATION;
}

/* attrs_checked: every attribute was built by dp_attr_from_plain, which
 * only builds valid values, so only keys, names and size are left. */
static ddbpipe_result_t finish_upsert(dp_change *out, const dp_change_format_opts *o, int attrs_checked,
                                      char *errstr, size_t n) {
    if (attrs_checked) {
        if (dp_item_validate_keys(out->item, has_pk(o) ? o->partition_key : NULL, o->partition_type,
                                  has_sk(o) ? o->sort_key : NULL, o->sort_type, errstr, n) != 0)
            return DDBPIPE_ERR_VALIDATION;
        out->item_size = dp_item_size(out->item);
        if (out->item_size > (size_t)DP_DDB_MAX_ITEM_BYTES) {
            dp_errf(errstr, n, "item is %zu bytes by DynamoDB's size rules, the limit is %d (400 KB)",
                    out->item_size, DP_DDB_MAX_ITEM_BYTES);
            return DDBPIPE_ERR_TOO_LARGE;
        }
    } else {
        int v = dp_item_validate_typed(out->item, has_pk(o) ? o->partition_key : NULL, o->partition_type,
                                       has_sk(o) ? o->sort_key : NULL, o->sort_type, errstr, n);
        if (v != 0)
            return invalid_item_rc(v);
        out->item_size = dp_item_size(out->item);
    }
    out->op = DP_CHANGE_UPSERT;
    return DDBPIPE_OK;
}

static ddbpipe_result_t upsert_plain(dp_change *out, const dp_json *row, const dp_change_format_opts *o,
                                     const char *what, char *errstr, size_t n) {
    dp_json_doc *doc = out->doc;
    if (!row || row->type != DP_JSON_OBJECT) {
        dp_errf(errstr, n, "%s must be a JSON object, got %s", what, dp_json_kind_name(row));
        return DDBPIPE_ERR_PARSE;
    }
    const dp_json *patch = o->ignore_nulls ? drop_nulls(doc, row) : row;
    if (!patch)
        return DDBPIPE_ERR_NOMEM;
    if (o->document_attribute) {
        ddbpipe_result_t rc;
        dp_json *item = row_to_keys(doc, row, o, errstr, n, &rc);
        if (!item)
            return rc;
        dp_json *d = dp_attr_from_plain_at(doc, patch, NULL, o->document_attribute, errstr, n);
        if (!d)
            return DDBPIPE_ERR_VALIDATION;
        if (dp_json_object_set(doc, item, o->document_attribute, strlen(o->document_attribute), d) != 0)
            return DDBPIPE_ERR_NOMEM;
        /* patch = {keys (plain), document_attribute: row} */
        dp_json *p = dp_json_new_object(doc);
        if (!p)
            return DDBPIPE_ERR_NOMEM;
        for (int s = 0; s < 2; s++) {
            if (s == 0 ? !has_pk(o) : !has_sk(o))
                continue;
            const dp_json *kv = dp_json_get(row, kname(o, s));
            if (kv && dp_json_object_set(doc, p, kname(o, s), strlen(kname(o, s)), (dp_json *)kv) != 0)
                return DDBPIPE_ERR_NOMEM;
        }
        if (dp_json_object_set(doc, p, o->document_attribute, strlen(o->document_attribute),
                               (dp_json *)patch))
            return DDBPIPE_ERR_NOMEM;
        out->item = item;
        out->patch = p;
    } else {
        out->item = row_to_item(doc, row, o, errstr, n);
        if (!out->item)
            return dp_json_doc_alloc_failed(doc) ? DDBPIPE_ERR_NOMEM : DDBPIPE_ERR_VALIDATION;
        out->patch = patch;
    }
    out->patch_typed = 0;
    return finish_upsert(out, o, 1, errstr, n);
}

static ddbpipe_result_t delete_plain(dp_change *out, const dp_json *row, const dp_change_format_opts *o,
                                     const char *what, char *errstr, size_t n) {
    if (!row || row->type != DP_JSON_OBJECT) {
        dp_errf(errstr, n, "%s must be a JSON object, got %s", what, dp_json_kind_name(row));
        return DDBPIPE_ERR_PARSE;
    }
    ddbpipe_result_t rc = DDBPIPE_OK;
    if (!has_pk(o)) {
        /* No key schema known: the whole row is the key. */
        out->item = row_to_item(out->doc, row, o, errstr, n);
        rc = out->item ? DDBPIPE_OK : DDBPIPE_ERR_VALIDATION;
    } else {
        out->item = row_to_keys(out->doc, row, o, errstr, n, &rc);
    }
    if (!out->item)
        return rc;
    if (dp_item_validate_keys(out->item, has_pk(o) ? o->partition_key : NULL, o->partition_type,
                              has_sk(o) ? o->sort_key : NULL, o->sort_type, errstr, n) != 0)
        return DDBPIPE_ERR_VALIDATION;
    out->op = DP_CHANGE_DELETE;
    out->item_size = dp_item_size(out->item);
    return DDBPIPE_OK;
}

static ddbpipe_result_t upsert_typed(dp_change *out, dp_json *image, const dp_change_format_opts *o,
                                     const char *what, char *errstr, size_t n) {
    dp_json_doc *doc = out->doc;
    if (!image || image->type != DP_JSON_OBJECT) {
        dp_errf(errstr, n, "%s must be an object of typed AttributeValues, got %s", what,
                dp_json_kind_name(image));
        return DDBPIPE_ERR_PARSE;
    }
    if (o->ignore_nulls) {
        for (size_t i = image->count; i-- > 0;) {
            const char *t = dp_attr_type(image->members[i].value);
            if (t && !strcmp(t, "NULL"))
                dp_json_object_remove(image, image->members[i].key);
        }
    }
    if (o->document_attribute) {
        /* Check the image first so messages name its attributes. */
        int v = dp_item_validate_typed(image, NULL, 0, NULL, 0, errstr, n);
        if (v != 0)
            return invalid_item_rc(v);
        dp_json *item = dp_json_new_object(doc);
        if (!item)
            return DDBPIPE_ERR_NOMEM;
        for (int s = 0; s < 2; s++) {
            if (s == 0 ? !has_pk(o) : !has_sk(o))
                continue;
            dp_json *kv = dp_json_get(image, kname(o, s));
            if (kv && dp_json_object_set(doc, item, kname(o, s), strlen(kname(o, s)), kv) != 0)
                return DDBPIPE_ERR_NOMEM;
        }
        dp_json *m = dp_json_new_object(doc);
        if (!m || dp_json_object_set(doc, m, "M", 1, image) != 0 ||
            dp_json_object_set(doc, item, o->document_attribute, strlen(o->document_attribute), m) != 0)
            return DDBPIPE_ERR_NOMEM;
        out->item = item;
    } else {
        out->item = image;
    }
    out->patch = out->item;
    out->patch_typed = 1;
    return finish_upsert(out, o, 0, errstr, n);
}

static ddbpipe_result_t delete_typed(dp_change *out, dp_json *keys, const dp_change_format_opts *o,
                                     const char *what, char *errstr, size_t n) {
    if (!keys || keys->type != DP_JSON_OBJECT) {
        dp_errf(errstr, n, "%s must be an object of typed AttributeValues, got %s", what,
                dp_json_kind_name(keys));
        return DDBPIPE_ERR_PARSE;
    }
    if (has_pk(o)) {
        if (dp_item_validate_keys(keys, o->partition_key, o->partition_type, has_sk(o) ? o->sort_key : NULL,
                                  o->sort_type, errstr, n) != 0)
            return DDBPIPE_ERR_VALIDATION;
        out->item = dp_item_extract_keys(out->doc, keys, o->partition_key, has_sk(o) ? o->sort_key : NULL);
        if (!out->item)
            return DDBPIPE_ERR_NOMEM;
    } else {
        int v = dp_item_validate_typed(keys, NULL, 0, NULL, 0, errstr, n);
        if (v != 0)
            return invalid_item_rc(v);
        out->item = keys;
    }
    out->op = DP_CHANGE_DELETE;
    out->item_size = dp_item_size(out->item);
    return DDBPIPE_OK;
}

/* ------------------------------------------------------------ formats */

static int is_obj(const dp_json *v) {
    return v && v->type == DP_JSON_OBJECT;
}

static int str_eq(const dp_json *v, const char *s) {
    return v && v->type == DP_JSON_STRING && v->len == strlen(s) && !memcmp(v->str, s, v->len);
}

static int is_ddbpipe_op(const dp_json *op) {
    return str_eq(op, "insert") || str_eq(op, "modify") || str_eq(op, "remove") || str_eq(op, "snapshot");
}

static dp_change_format detect(const dp_json *root) {
    if (dp_json_get(root, "eventName") && is_obj(dp_json_get(root, "dynamodb")))
        return DP_CHANGE_FMT_DYNAMODB_STREAM;
    const dp_json *payload = dp_json_get(root, "payload");
    if ((is_obj(payload) && dp_json_get(payload, "op")) || (payload && dp_json_get(root, "schema")))
        return DP_CHANGE_FMT_DEBEZIUM;
    const dp_json *op = dp_json_get(root, "op");
    if (op && op->type == DP_JSON_STRING && op->len == 1 &&
        (dp_json_get(root, "before") || dp_json_get(root, "after")))
        return DP_CHANGE_FMT_DEBEZIUM;
    if (is_ddbpipe_op(op) &&
        (dp_json_get(root, "keys") || dp_json_get(root, "new") || dp_json_get(root, "old")))
        return DP_CHANGE_FMT_DDBPIPE;
    if (root->count == 1 && is_obj(root->members[0].value) &&
        (!strcmp(root->members[0].key, "insert") || !strcmp(root->members[0].key, "delete")))
        return DP_CHANGE_FMT_FELDERA;
    return DP_CHANGE_FMT_JSON;
}

static ddbpipe_result_t parse_feldera(dp_change *out, dp_json *root, const dp_change_format_opts *o,
                                      char *errstr, size_t n) {
    const dp_json *ins = dp_json_get(root, "insert");
    const dp_json *del = dp_json_get(root, "delete");
    if ((ins && del) || root->count != 1 || (!ins && !del)) {
        dp_errf(errstr, n, "feldera record must be {\"insert\": {...}} or {\"delete\": {...}}");
        return DDBPIPE_ERR_PARSE;
    }
    if (ins)
        return upsert_plain(out, ins, o, "feldera 'insert'", errstr, n);
    return delete_plain(out, del, o, "feldera 'delete'", errstr, n);
}

static ddbpipe_result_t parse_debezium(dp_change *out, dp_json *root, const dp_change_format_opts *o,
                                       char *errstr, size_t n) {
    dp_json *env = root;
    dp_json *payload = dp_json_get(root, "payload");
    if (payload) {
        if (payload->type == DP_JSON_NULL) {
            out->op = DP_CHANGE_TOMBSTONE; /* the delete before it did the work */
            return DDBPIPE_OK;
        }
        if (!is_obj(payload)) {
            dp_errf(errstr, n, "debezium 'payload' must be an object, got %s", dp_json_kind_name(payload));
            return DDBPIPE_ERR_PARSE;
        }
        env = payload;
    }
    const dp_json *op = dp_json_get(env, "op");
    char snip[32];
    if (!op) {
        dp_errf(errstr, n, "debezium envelope has no 'op'");
        return DDBPIPE_ERR_PARSE;
    }
    if (op->type != DP_JSON_STRING) {
        dp_errf(errstr, n, "debezium envelope 'op' must be a string, got %s", dp_json_kind_name(op));
        return DDBPIPE_ERR_PARSE;
    }
    const dp_json *before = dp_json_get(env, "before");
    const dp_json *after = dp_json_get(env, "after");
    if (str_eq(op, "c") || str_eq(op, "r") || str_eq(op, "u")) {
        if (!is_obj(after)) {
            dp_errf(errstr, n, "debezium '%s' envelope has no 'after' object", op->str);
            return DDBPIPE_ERR_PARSE;
        }
        return upsert_plain(out, after, o, "debezium 'after'", errstr, n);
    }
    if (str_eq(op, "d")) {
        if (!is_obj(before)) {
            dp_errf(errstr, n,
                    "debezium 'd' envelope has no 'before' object (the source must send at least the key "
                    "columns, e.g. REPLICA IDENTITY FULL or DEFAULT with a primary key)");
            return DDBPIPE_ERR_PARSE;
        }
        return delete_plain(out, before, o, "debezium 'before'", errstr, n);
    }
    if (str_eq(op, "t")) {
        dp_errf(errstr, n, "debezium truncate events (op 't') are not supported");
        return DDBPIPE_ERR_PARSE;
    }
    dp_errf(errstr, n, "debezium envelope has op '%s' (expected c, r, u or d)",
            dp_attr_snippet(op->str, op->len, snip, sizeof snip));
    return DDBPIPE_ERR_PARSE;
}

static ddbpipe_result_t parse_stream(dp_change *out, dp_json *root, const dp_change_format_opts *o,
                                     char *errstr, size_t n) {
    const dp_json *ev = dp_json_get(root, "eventName");
    dp_json *ddb = dp_json_get(root, "dynamodb");
    char snip[32];
    if (!ev || !is_obj(ddb)) {
        dp_errf(errstr, n, "DynamoDB Streams record needs \"eventName\" and a \"dynamodb\" object");
        return DDBPIPE_ERR_PARSE;
    }
    if (str_eq(ev, "INSERT") || str_eq(ev, "MODIFY")) {
        dp_json *img = dp_json_get(ddb, "NewImage");
        if (!img) {
            dp_errf(
                errstr, n,
                "%s record has no NewImage (the stream view type must be NEW_IMAGE or NEW_AND_OLD_IMAGES)",
                ev->str);
            return DDBPIPE_ERR_PARSE;
        }
        return upsert_typed(out, img, o, "NewImage", errstr, n);
    }
    if (str_eq(ev, "REMOVE")) {
        dp_json *keys = dp_json_get(ddb, "Keys");
        if (!keys)
            keys = dp_json_get(ddb, "OldImage");
        if (!keys) {
            dp_errf(errstr, n, "REMOVE record has no Keys");
            return DDBPIPE_ERR_PARSE;
        }
        return delete_typed(out, keys, o, "Keys", errstr, n);
    }
    if (ev->type == DP_JSON_STRING)
        dp_errf(errstr, n, "DynamoDB Streams record has eventName '%s' (expected INSERT, MODIFY or REMOVE)",
                dp_attr_snippet(ev->str, ev->len, snip, sizeof snip));
    else
        dp_errf(errstr, n, "DynamoDB Streams record 'eventName' must be a string, got %s",
                dp_json_kind_name(ev));
    return DDBPIPE_ERR_PARSE;
}

static ddbpipe_result_t parse_ddbpipe(dp_change *out, dp_json *root, const dp_change_format_opts *o,
                                      char *errstr, size_t n) {
    const dp_json *op = dp_json_get(root, "op");
    const dp_json *fmt = dp_json_get(root, "format");
    int typed = str_eq(fmt, "dynamodb");
    char snip[32];
    if (fmt && !typed && !str_eq(fmt, "json")) {
        dp_errf(errstr, n, "ddbpipe event has format '%s' (expected dynamodb or json)",
                fmt->type == DP_JSON_STRING ? dp_attr_snippet(fmt->str, fmt->len, snip, sizeof snip) : "?");
        return DDBPIPE_ERR_PARSE;
    }
    if (str_eq(op, "insert") || str_eq(op, "modify") || str_eq(op, "snapshot")) {
        dp_json *img = dp_json_get(root, "new");
        if (!is_obj(img)) {
            dp_errf(errstr, n,
                    "ddbpipe '%s' event has no 'new' image (the stream view type must include new images)",
                    op->str);
            return DDBPIPE_ERR_PARSE;
        }
        return typed ? upsert_typed(out, img, o, "'new'", errstr, n)
                     : upsert_plain(out, img, o, "'new'", errstr, n);
    }
    if (str_eq(op, "remove")) {
        dp_json *keys = dp_json_get(root, "keys");
        if (!is_obj(keys))
            keys = dp_json_get(root, "old");
        if (!is_obj(keys)) {
            dp_errf(errstr, n, "ddbpipe 'remove' event has no 'keys'");
            return DDBPIPE_ERR_PARSE;
        }
        return typed ? delete_typed(out, keys, o, "'keys'", errstr, n)
                     : delete_plain(out, keys, o, "'keys'", errstr, n);
    }
    dp_errf(errstr, n, "ddbpipe event has op '%s' (expected snapshot, insert, modify or remove)",
            op && op->type == DP_JSON_STRING ? dp_attr_snippet(op->str, op->len, snip, sizeof snip) : "?");
    return DDBPIPE_ERR_PARSE;
}

ddbpipe_result_t dp_change_parse(const char *line, size_t len, const dp_change_format_opts *opts,
                                 dp_change *out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_ERR_PARSE;
    dp_change_format_opts none;
    dp_json_error jerr;
    memset(out, 0, sizeof *out);
    if (!opts) {
        memset(&none, 0, sizeof none);
        opts = &none;
    }
    if (!line) {
        dp_errf(errstr, errstr_size, "empty line");
        return DDBPIPE_ERR_PARSE;
    }
    memset(&jerr, 0, sizeof jerr);
    out->doc = dp_json_parse(line, len, &jerr);
    if (!out->doc) {
        if (jerr.out_of_memory) {
            dp_errf(errstr, errstr_size, "out of memory");
            return DDBPIPE_ERR_NOMEM;
        }
        /* the parser's message names the byte offset */
        if (jerr.message[0])
            dp_errf(errstr, errstr_size, "invalid JSON: %s", jerr.message);
        else
            dp_errf(errstr, errstr_size, "invalid JSON at byte %zu: %s", jerr.offset,
                    jerr.message[0] ? jerr.message : "parse error");
        return DDBPIPE_ERR_PARSE;
    }
    dp_json *root = dp_json_root(out->doc);
    if (root->type == DP_JSON_NULL &&
        (opts->format == DP_CHANGE_FMT_AUTO || opts->format == DP_CHANGE_FMT_DEBEZIUM)) {
        /* a Kafka/Debezium tombstone: a null value after a delete */
        out->format = DP_CHANGE_FMT_DEBEZIUM;
        out->op = DP_CHANGE_TOMBSTONE;
        return DDBPIPE_OK;
    }
    if (!is_obj(root)) {
        dp_errf(errstr, errstr_size, "expected a JSON object, got %s", dp_json_kind_name(root));
        goto out;
    }
    dp_change_format f = opts->format;
    if (f == DP_CHANGE_FMT_AUTO) {
        f = detect(root);
    } else if (f == DP_CHANGE_FMT_DYNAMODB_STREAM && !dp_json_get(root, "eventName") &&
               is_ddbpipe_op(dp_json_get(root, "op"))) {
        f = DP_CHANGE_FMT_DDBPIPE;
    }
    out->format = f;
    switch (f) {
    case DP_CHANGE_FMT_JSON:
        /* Estuary documents carry {"_meta": {"op": "c|u|d"}}: "d" is a delete
         * of the document's key. */
        if (str_eq(dp_json_get(dp_json_get(root, "_meta"), "op"), "d"))
            rc = delete_plain(out, root, opts, "document", errstr, errstr_size);
        else
            rc = upsert_plain(out, root, opts, "row", errstr, errstr_size);
        break;
    case DP_CHANGE_FMT_FELDERA:
        rc = parse_feldera(out, root, opts, errstr, errstr_size);
        break;
    case DP_CHANGE_FMT_DEBEZIUM:
        rc = parse_debezium(out, root, opts, errstr, errstr_size);
        break;
    case DP_CHANGE_FMT_DYNAMODB_STREAM:
        rc = parse_stream(out, root, opts, errstr, errstr_size);
        break;
    case DP_CHANGE_FMT_DDBPIPE:
        rc = parse_ddbpipe(out, root, opts, errstr, errstr_size);
        break;
    default:
        dp_errf(errstr, errstr_size, "unknown input format");
        break;
    }
out:
    if (rc != DDBPIPE_OK)
        dp_change_clear(out);
    return rc;
}

ddbpipe_result_t dp_change_from_typed(dp_json_doc *doc, dp_json *image, int is_delete,
                                      const dp_change_format_opts *opts, dp_change *out, char *errstr,
                                      size_t errstr_size) {
    dp_change_format_opts none;
    memset(out, 0, sizeof *out);
    if (!opts) {
        memset(&none, 0, sizeof none);
        opts = &none;
    }
    out->doc = doc;
    out->format = DP_CHANGE_FMT_DYNAMODB_STREAM;
    ddbpipe_result_t rc = is_delete ? delete_typed(out, image, opts, "Keys", errstr, errstr_size)
                                    : upsert_typed(out, image, opts, "NewImage", errstr, errstr_size);
    if (rc != DDBPIPE_OK) {
        out->doc = NULL; /* the caller's still */
        dp_change_clear(out);
    }
    return rc;
}

/* ------------------------------------------------------------ merge */

/* RFC 7386: an object patch applied to a non-object is applied to {}:
 * nulls inside disappear (recursively through objects, not arrays). */
static dp_json *strip_nulls(dp_json_doc *doc, const dp_json *v) {
    if (v->type != DP_JSON_OBJECT)
        return (dp_json *)v;
    dp_json *o = dp_json_new_object(doc);
    if (!o)
        return NULL;
    for (size_t i = 0; i < v->count; i++) {
        const dp_json_member *m = &v->members[i];
        if (m->value->type == DP_JSON_NULL) {
            dp_json_object_remove(o, m->key);
            continue;
        }
        dp_json *c = strip_nulls(doc, m->value);
        if (!c || dp_json_object_set(doc, o, m->key, m->key_len, c) != 0)
            return NULL;
    }
    return o;
}

/* Merge plain object `patch` into the typed members `target` (an object of
 * name -> AttributeValue, modified in place). top: apply column types. */
static int merge_members(dp_json_doc *doc, dp_json *target, const dp_json *patch,
                         const dp_change_format_opts *o, int top, int depth, dp_attr_path *p, char *errstr,
                         size_t n) {
    for (size_t i = 0; i < patch->count; i++) {
        const dp_json_member *m = &patch->members[i];
        if (m->value->type == DP_JSON_NULL) {
            dp_json_object_remove(target, m->key);
            continue;
        }
        dp_coltype tmp;
        const dp_coltype *ct = top ? effective_type(o, m->key, &tmp) : NULL;
        size_t mark = dp_attr_path_push_member(p, m->key, m->key_len);
        dp_json *cur = dp_json_get(target, m->key);
        const char *ctype = dp_attr_type(cur);
        int merge_in =
            m->value->type == DP_JSON_OBJECT && ctype && !strcmp(ctype, "M") &&
            (!ct || ct->kind == DP_COL_MAP || ct->kind == DP_COL_AUTO || ct->kind == DP_COL_VARIANT);
        dp_json *nv = NULL;
        if (merge_in) {
            if (depth + 1 >= DP_DDB_MAX_DEPTH) {
                dp_attr_errf(errstr, n, p, "nested more than %d levels deep (DynamoDB's limit)",
                             DP_DDB_MAX_DEPTH);
                return -1;
            }
            /* copy the stored map so the caller's stored item stays untouched */
            dp_json *inner = dp_json_clone(doc, cur->members[0].value);
            if (!inner || merge_members(doc, inner, m->value, o, 0, depth + 1, p, errstr, n) != 0)
                return -1;
            nv = dp_json_new_object(doc);
            if (!nv || dp_json_object_set(doc, nv, "M", 1, inner) != 0)
                return -1;
        } else {
            dp_json *clean = strip_nulls(doc, m->value);
            if (!clean)
                return -1;
            dp_json *av = dp_attr_from_plain_at(doc, clean, ct, p->buf, errstr, n);
            if (!av)
                return -1;
            nv = av;
        }
        dp_attr_path_pop(p, mark);
        if (dp_json_object_set(doc, target, m->key, m->key_len, nv) != 0)
            return -1;
    }
    return 0;
}

dp_json *dp_item_merge_patch(dp_json_doc *doc, const dp_json *stored_item, const dp_json *patch,
                             int patch_typed, const dp_change_format_opts *opts,
                             ddbpipe_result_t *result_code, char *errstr, size_t errstr_size) {
    dp_change_format_opts none;
    ddbpipe_result_t ignored;
    if (!result_code)
        result_code = &ignored;
    *result_code = DDBPIPE_ERR_INVALID_ARG;
    if (!opts) {
        memset(&none, 0, sizeof none);
        opts = &none;
    }
    if (!doc || !patch || patch->type != DP_JSON_OBJECT) {
        dp_errf(errstr, errstr_size, "merge patch must be an object");
        return NULL;
    }
    *result_code = DDBPIPE_ERR_NOMEM;
    dp_json *result = stored_item && stored_item->type == DP_JSON_OBJECT ? dp_json_clone(doc, stored_item)
                                                                         : dp_json_new_object(doc);
    if (!result) {
        dp_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    dp_errf(errstr, errstr_size, "out of memory");
    if (patch_typed) {
        for (size_t i = 0; i < patch->count; i++) {
            dp_json *c = dp_json_clone(doc, patch->members[i].value);
            if (!c ||
                dp_json_object_set(doc, result, patch->members[i].key, patch->members[i].key_len, c) != 0)
                return NULL;
        }
    } else {
        dp_attr_path p;
        p.len = 0;
        p.buf[0] = 0;
        p.named = 1;
        if (merge_members(doc, result, patch, opts, 1, 0, &p, errstr, errstr_size) != 0) {
            if (!dp_json_doc_alloc_failed(doc))
                *result_code = DDBPIPE_ERR_VALIDATION;
            return NULL;
        }
    }
    int v =
        dp_item_validate_typed(result, has_pk(opts) ? opts->partition_key : NULL, opts->partition_type,
                               has_sk(opts) ? opts->sort_key : NULL, opts->sort_type, errstr, errstr_size);
    if (v != 0) {
        *result_code = invalid_item_rc(v);
        return NULL;
    }
    *result_code = DDBPIPE_OK;
    return result;
}
