/* The public typed item (ddbpipe_attr_t, ddbpipe_sink_produce_item) to and
 * from the AttributeValue DOM of attr.h. Pure: no I/O. Only the shape is
 * checked here (types, pointers, names, depth); DynamoDB's rules are
 * dp_item_validate's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ddb/attr.h"
#include "ddb/attr_public.h"

/* Deeper than DynamoDB's 32 levels so the validator words the error; this
 * cap only keeps a cyclic or absurd caller struct off the stack. */
#define PUB_MAX_DEPTH 64

static const char *const tag[] = {NULL, "S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"};

static dp_json *scalar(dp_json_doc *doc, const ddbpipe_attr_t *a, const char *where, char *errstr, size_t n) {
    if (!a->data && a->len) {
        dp_errf(errstr, n, "attribute '%.256s': data is NULL with len %zu", where, a->len);
        return NULL;
    }
    if (a->type != DDBPIPE_ATTR_B) /* S and N: DynamoDB JSON strings */
        return dp_json_new_string(doc, a->data ? a->data : "", a->len);
    /* B: DynamoDB JSON carries base64 */
    char *b64 = malloc(4 * ((a->len + 2) / 3) + 1);
    if (!b64) {
        dp_errf(errstr, n, "out of memory");
        return NULL;
    }
    size_t bl = dp_base64_encode((const unsigned char *)(a->data ? a->data : ""), a->len, b64);
    dp_json *v = dp_json_new_string(doc, b64, bl);
    free(b64);
    return v;
}

static dp_json *from_public(dp_json_doc *doc, const ddbpipe_attr_t *a, int depth, const char *where,
                            char *errstr, size_t n);

static int add_elems(dp_json_doc *doc, dp_json *inner, const ddbpipe_attr_t *a, int depth, const char *where,
                     char *errstr, size_t n) {
    if (!a->elems && a->count) {
        dp_errf(errstr, n, "attribute '%.256s': elems is NULL with count %zu", where, a->count);
        return -1;
    }
    ddbpipe_attr_type_t want = a->type == DDBPIPE_ATTR_SS   ? DDBPIPE_ATTR_S
                               : a->type == DDBPIPE_ATTR_NS ? DDBPIPE_ATTR_N
                               : a->type == DDBPIPE_ATTR_BS ? DDBPIPE_ATTR_B
                                                            : (ddbpipe_attr_type_t)0;
    for (size_t i = 0; i < a->count; i++) {
        const ddbpipe_attr_t *e = &a->elems[i];
        if (a->type == DDBPIPE_ATTR_M && !e->name) {
            dp_errf(errstr, n, "attribute '%.256s': member %zu of an M has no name", where, i);
            return -1;
        }
        if (want && e->type != want) {
            dp_errf(errstr, n, "attribute '%.256s': member %zu of a %s is not a %s", where, i, tag[a->type],
                    tag[want]);
            return -1;
        }
        dp_json *v =
            want ? (e->type >= DDBPIPE_ATTR_S && e->type <= DDBPIPE_ATTR_B ? scalar(doc, e, where, errstr, n)
                                                                           : NULL)
                 : from_public(doc, e, depth + 1, where, errstr, n);
        if (!v)
            return -1;
        if (a->type == DDBPIPE_ATTR_M ? dp_json_object_append(doc, inner, e->name, strlen(e->name), v) != 0
                                      : dp_json_array_append(doc, inner, v) != 0) {
            dp_errf(errstr, n, "out of memory");
            return -1;
        }
    }
    return 0;
}

static dp_json *from_public(dp_json_doc *doc, const ddbpipe_attr_t *a, int depth, const char *where,
                            char *errstr, size_t n) {
    dp_json *inner = NULL;
    if (depth > PUB_MAX_DEPTH) {
        dp_errf(errstr, n, "attribute '%.256s': nested more than %d levels", where, PUB_MAX_DEPTH);
        return NULL;
    }
    switch (a->type) {
    case DDBPIPE_ATTR_S:
    case DDBPIPE_ATTR_N:
    case DDBPIPE_ATTR_B:
        inner = scalar(doc, a, where, errstr, n);
        break;
    case DDBPIPE_ATTR_BOOL:
        inner = dp_json_new_bool(doc, a->boolean != 0);
        break;
    case DDBPIPE_ATTR_NULL:
        inner = dp_json_new_bool(doc, 1);
        break;
    case DDBPIPE_ATTR_M:
    case DDBPIPE_ATTR_L:
    case DDBPIPE_ATTR_SS:
    case DDBPIPE_ATTR_NS:
    case DDBPIPE_ATTR_BS:
        inner = a->type == DDBPIPE_ATTR_M ? dp_json_new_object(doc) : dp_json_new_array(doc);
        if (inner && add_elems(doc, inner, a, depth, where, errstr, n) != 0)
            return NULL;
        break;
    default:
        dp_errf(errstr, n, "attribute '%.256s': unknown attribute type %d", where, (int)a->type);
        return NULL;
    }
    dp_json *av = inner ? dp_json_new_object(doc) : NULL;
    if (!av || dp_json_object_append(doc, av, tag[a->type], strlen(tag[a->type]), inner) != 0) {
        if (!errstr[0])
            dp_errf(errstr, n, "out of memory");
        return NULL;
    }
    return av;
}

dp_json *dp_item_from_public(dp_json_doc *doc, const ddbpipe_attr_t *attrs, size_t count, char *errstr,
                             size_t n) {
    if (n)
        errstr[0] = '\0';
    if (!attrs && count) {
        dp_errf(errstr, n, "attrs is NULL with count %zu", count);
        return NULL;
    }
    dp_json *item = dp_json_new_object(doc);
    if (!item) {
        dp_errf(errstr, n, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (!attrs[i].name) {
            dp_errf(errstr, n, "attribute %zu of the item has no name", i);
            return NULL;
        }
        /* messages name the top-level attribute (formatted only on error) */
        dp_json *v = from_public(doc, &attrs[i], 1, attrs[i].name, errstr, n);
        if (!v)
            return NULL;
        if (dp_json_object_append(doc, item, attrs[i].name, strlen(attrs[i].name), v) != 0) {
            dp_errf(errstr, n, "out of memory");
            return NULL;
        }
    }
    return item;
}

/* ------------------------------------------------------------ DOM -> public */

static void *arena_alloc(dp_public_item *p, size_t size) {
    if (p->nblocks == p->capblocks) {
        size_t cap = p->capblocks ? p->capblocks * 2 : 16;
        void **nb = realloc(p->blocks, cap * sizeof *nb);
        if (!nb)
            return NULL;
        p->blocks = nb;
        p->capblocks = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (m)
        p->blocks[p->nblocks++] = m;
    return m;
}

static int type_of(const char *t) {
    for (int i = 1; i < (int)(sizeof tag / sizeof tag[0]); i++)
        if (strcmp(t, tag[i]) == 0)
            return i;
    return 0;
}

static int to_public(dp_public_item *p, const dp_json *av, ddbpipe_attr_t *out, int depth);

static int scalar_to_public(dp_public_item *p, int type, const dp_json *v, ddbpipe_attr_t *out) {
    if (!v || v->type != DP_JSON_STRING)
        return -1;
    out->type = (ddbpipe_attr_type_t)type;
    if (type != DDBPIPE_ATTR_B) {
        out->data = v->str; /* borrowed from the DOM */
        out->len = v->len;
        return 0;
    }
    unsigned char *raw = arena_alloc(p, v->len / 4 * 3 + 3);
    size_t rl = 0;
    if (!raw || dp_base64_decode(v->str, v->len, raw, &rl) != 0)
        return -1;
    out->data = (const char *)raw;
    out->len = rl;
    return 0;
}

static int to_public(dp_public_item *p, const dp_json *av, ddbpipe_attr_t *out, int depth) {
    if (!av || av->type != DP_JSON_OBJECT || av->count != 1 || depth > PUB_MAX_DEPTH)
        return -1;
    int type = type_of(av->members[0].key);
    const dp_json *v = av->members[0].value;
    switch (type) {
    case DDBPIPE_ATTR_S:
    case DDBPIPE_ATTR_N:
    case DDBPIPE_ATTR_B:
        return scalar_to_public(p, type, v, out);
    case DDBPIPE_ATTR_BOOL:
        if (v->type != DP_JSON_BOOL)
            return -1;
        out->type = DDBPIPE_ATTR_BOOL;
        out->boolean = v->boolean;
        return 0;
    case DDBPIPE_ATTR_NULL:
        out->type = DDBPIPE_ATTR_NULL;
        return 0;
    case DDBPIPE_ATTR_M:
    case DDBPIPE_ATTR_L:
    case DDBPIPE_ATTR_SS:
    case DDBPIPE_ATTR_NS:
    case DDBPIPE_ATTR_BS: {
        if (v->type != (type == DDBPIPE_ATTR_M ? DP_JSON_OBJECT : DP_JSON_ARRAY))
            return -1;
        ddbpipe_attr_t *el = arena_alloc(p, v->count * sizeof *el);
        if (!el)
            return -1;
        out->type = (ddbpipe_attr_type_t)type;
        out->elems = el;
        out->count = v->count;
        for (size_t i = 0; i < v->count; i++) {
            int rc;
            if (type == DDBPIPE_ATTR_M) {
                el[i].name = v->members[i].key;
                rc = to_public(p, v->members[i].value, &el[i], depth + 1);
            } else if (type == DDBPIPE_ATTR_L) {
                rc = to_public(p, v->items[i], &el[i], depth + 1);
            } else {
                rc = scalar_to_public(p, type - DDBPIPE_ATTR_SS + DDBPIPE_ATTR_S, v->items[i], &el[i]);
            }
            if (rc != 0)
                return -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

int dp_item_to_public(const dp_json *item, dp_public_item *out) {
    memset(out, 0, sizeof *out);
    if (!item || item->type != DP_JSON_OBJECT)
        return -1;
    ddbpipe_attr_t *a = arena_alloc(out, item->count * sizeof *a);
    if (!a)
        goto fail;
    for (size_t i = 0; i < item->count; i++) {
        a[i].name = item->members[i].key;
        if (to_public(out, item->members[i].value, &a[i], 1) != 0)
            goto fail;
    }
    out->attrs = a;
    out->count = item->count;
    return 0;
fail:
    dp_public_item_free(out);
    return -1;
}

void dp_public_item_free(dp_public_item *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    memset(p, 0, sizeof *p);
}
