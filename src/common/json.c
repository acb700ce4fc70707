#include "common/json.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ arena */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} arena_block;

struct dp_json_doc {
    arena_block *blocks;
    dp_json *root;
    int alloc_failed; /* an allocation in this document failed (dp_json_doc_alloc_failed) */
};

#define ARENA_MIN_BLOCK 4096

/* A few first-size blocks are kept per thread: the sink parses one small
 * document per input line, and malloc/free of its block showed in profiles. */
#define ARENA_CACHE_MAX 8
typedef struct block_cache {
    arena_block *blocks[ARENA_CACHE_MAX];
    int n;
} block_cache;

static void cache_destroy(void *p) { /* runs when a thread exits */
    block_cache *c = p;
    for (int i = 0; i < c->n; i++)
        free(c->blocks[i]);
    free(c);
}

static dp_thread_local cache_slot = DP_THREAD_LOCAL_INIT(cache_destroy);

static block_cache *thread_cache(int create) {
    return dp_thread_local_get(&cache_slot, sizeof(block_cache), create);
}

static void *arena_alloc(dp_json_doc *doc, size_t n) {
    n = (n + 15) & ~(size_t)15;
    arena_block *b = doc->blocks;
    if (!b || b->size - b->used < n) {
        size_t sz = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
        /* Grow blocks with the document so big inputs need few mallocs. */
        if (b && b->size * 2 > sz && b->size < (1u << 20))
            sz = b->size * 2 > n ? b->size * 2 : n;
        arena_block *nb = NULL;
        if (sz == ARENA_MIN_BLOCK) {
            block_cache *c = thread_cache(0);
            if (c && c->n > 0)
                nb = c->blocks[--c->n];
        }
        if (!nb)
            nb = malloc(sizeof(arena_block) + sz);
        if (!nb) {
            doc->alloc_failed = 1;
            return NULL;
        }
        nb->next = doc->blocks;
        nb->used = 0;
        nb->size = sz;
        doc->blocks = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

dp_json_doc *dp_json_doc_new(void) {
    return calloc(1, sizeof(dp_json_doc));
}

int dp_json_doc_alloc_failed(const dp_json_doc *doc) {
    return doc ? doc->alloc_failed : 1;
}

void dp_json_doc_free(dp_json_doc *doc) {
    if (!doc)
        return;
    arena_block *b = doc->blocks;
    block_cache *c = b ? thread_cache(1) : NULL;
    while (b) {
        arena_block *n = b->next;
        if (c && b->size == ARENA_MIN_BLOCK && c->n < ARENA_CACHE_MAX)
            c->blocks[c->n++] = b;
        else
            free(b);
        b = n;
    }
    free(doc);
}

dp_json *dp_json_root(const dp_json_doc *doc) {
    return doc ? doc->root : NULL;
}

void dp_json_set_root(dp_json_doc *doc, dp_json *root) {
    doc->root = root;
}

static dp_json *new_node(dp_json_doc *doc, dp_json_type t) {
    dp_json *v = arena_alloc(doc, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}

static char *arena_strdup(dp_json_doc *doc, const char *s, size_t len) {
    char *p = arena_alloc(doc, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ------------------------------------------------------------ builders */

dp_json *dp_json_new_null(dp_json_doc *doc) {
    return new_node(doc, DP_JSON_NULL);
}

dp_json *dp_json_new_bool(dp_json_doc *doc, int b) {
    dp_json *v = new_node(doc, DP_JSON_BOOL);
    if (v)
        v->boolean = b ? 1 : 0;
    return v;
}

static dp_json *new_text(dp_json_doc *doc, dp_json_type t, const char *s, size_t len) {
    dp_json *v = new_node(doc, t);
    if (!v)
        return NULL;
    v->str = arena_strdup(doc, s, len);
    if (!v->str)
        return NULL;
    v->len = len;
    return v;
}

dp_json *dp_json_new_string(dp_json_doc *doc, const char *s, size_t len) {
    return new_text(doc, DP_JSON_STRING, s, len);
}

dp_json *dp_json_new_number(dp_json_doc *doc, const char *text, size_t len) {
    return new_text(doc, DP_JSON_NUMBER, text, len);
}

dp_json *dp_json_new_array(dp_json_doc *doc) {
    return new_node(doc, DP_JSON_ARRAY);
}

dp_json *dp_json_new_object(dp_json_doc *doc) {
    return new_node(doc, DP_JSON_OBJECT);
}

static int grow(dp_json_doc *doc, dp_json *c, size_t elem) {
    if (c->count < c->cap)
        return 0;
    size_t ncap = c->cap ? c->cap * 2 : 4;
    void *old = c->type == DP_JSON_ARRAY ? (void *)c->items : (void *)c->members;
    void *p = arena_alloc(doc, ncap * elem);
    if (!p)
        return -1;
    if (c->count)
        memcpy(p, old, c->count * elem);
    if (c->type == DP_JSON_ARRAY)
        c->items = p;
    else
        c->members = p;
    c->cap = ncap;
    return 0;
}

int dp_json_array_append(dp_json_doc *doc, dp_json *arr, dp_json *v) {
    if (!arr || arr->type != DP_JSON_ARRAY || !v)
        return -1;
    if (grow(doc, arr, sizeof(dp_json *)))
        return -1;
    arr->items[arr->count++] = v;
    return 0;
}

static int object_add(dp_json_doc *doc, dp_json *obj, const char *key, size_t key_len, dp_json *v, int copy) {
    if (grow(doc, obj, sizeof(dp_json_member)))
        return -1;
    dp_json_member *m = &obj->members[obj->count];
    m->key = copy ? arena_strdup(doc, key, key_len) : key;
    if (!m->key)
        return -1;
    m->key_len = key_len;
    m->value = v;
    obj->count++;
    return 0;
}

int dp_json_object_set(dp_json_doc *doc, dp_json *obj, const char *key, size_t key_len, dp_json *v) {
    if (!obj || obj->type != DP_JSON_OBJECT || !v || !key)
        return -1;
    for (size_t i = 0; i < obj->count; i++) {
        if (obj->members[i].key_len == key_len && memcmp(obj->members[i].key, key, key_len) == 0) {
            obj->members[i].value = v;
            return 0;
        }
    }
    return object_add(doc, obj, key, key_len, v, 1);
}

int dp_json_object_append(dp_json_doc *doc, dp_json *obj, const char *key, size_t key_len, dp_json *v) {
    if (!obj || obj->type != DP_JSON_OBJECT || !v || !key)
        return -1;
    return object_add(doc, obj, key, key_len, v, 1);
}

int dp_json_object_remove(dp_json *obj, const char *key) {
    if (!obj || obj->type != DP_JSON_OBJECT || !key)
        return 0;
    size_t kl = strlen(key);
    int removed = 0;
    size_t w = 0;
    for (size_t i = 0; i < obj->count; i++) {
        if (obj->members[i].key_len == kl && memcmp(obj->members[i].key, key, kl) == 0) {
            removed = 1;
            continue;
        }
        obj->members[w++] = obj->members[i];
    }
    obj->count = w;
    return removed;
}

dp_json *dp_json_clone(dp_json_doc *doc, const dp_json *v) {
    if (!v)
        return NULL;
    switch (v->type) {
    case DP_JSON_NULL:
        return dp_json_new_null(doc);
    case DP_JSON_BOOL:
        return dp_json_new_bool(doc, v->boolean);
    case DP_JSON_NUMBER:
    case DP_JSON_STRING:
        return new_text(doc, v->type, v->str, v->len);
    case DP_JSON_ARRAY: {
        dp_json *a = dp_json_new_array(doc);
        if (!a)
            return NULL;
        for (size_t i = 0; i < v->count; i++) {
            dp_json *c = dp_json_clone(doc, v->items[i]);
            if (!c || dp_json_array_append(doc, a, c))
                return NULL;
        }
        return a;
    }
    case DP_JSON_OBJECT: {
        dp_json *o = dp_json_new_object(doc);
        if (!o)
            return NULL;
        for (size_t i = 0; i < v->count; i++) {
            dp_json *c = dp_json_clone(doc, v->members[i].value);
            if (!c || object_add(doc, o, v->members[i].key, v->members[i].key_len, c, 1))
                return NULL;
        }
        return o;
    }
    }
    return NULL;
}

int dp_json_equal(const dp_json *a, const dp_json *b) {
    if (a == b)
        return 1;
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case DP_JSON_NULL:
        return 1;
    case DP_JSON_BOOL:
        return a->boolean == b->boolean;
    case DP_JSON_NUMBER:
    case DP_JSON_STRING:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case DP_JSON_ARRAY:
        if (a->count != b->count)
            return 0;
        for (size_t i = 0; i < a->count; i++)
            if (!dp_json_equal(a->items[i], b->items[i]))
                return 0;
        return 1;
    case DP_JSON_OBJECT:
        if (a->count != b->count)
            return 0;
        for (size_t i = 0; i < a->count; i++) {
            const dp_json *bv = NULL;
            for (size_t j = 0; j < b->count; j++) {
                if (b->members[j].key_len == a->members[i].key_len &&
                    memcmp(b->members[j].key, a->members[i].key, a->members[i].key_len) == 0) {
                    bv = b->members[j].value;
                }
            }
            if (!bv || !dp_json_equal(a->members[i].value, bv))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ lookups */

dp_json *dp_json_get(const dp_json *obj, const char *key) {
    if (!obj || obj->type != DP_JSON_OBJECT || !key)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = obj->count; i-- > 0;) {
        if (obj->members[i].key_len == kl && memcmp(obj->members[i].key, key, kl) == 0)
            return obj->members[i].value;
    }
    return NULL;
}

dp_json *dp_json_at(const dp_json *arr, size_t i) {
    if (!arr || arr->type != DP_JSON_ARRAY || i >= arr->count)
        return NULL;
    return arr->items[i];
}

const char *dp_json_get_string(const dp_json *obj, const char *key) {
    dp_json *v = dp_json_get(obj, key);
    return v && v->type == DP_JSON_STRING ? v->str : NULL;
}

int dp_json_is(const dp_json *v, dp_json_type t) {
    return v && v->type == t;
}

/* ------------------------------------------------------------ parser */

typedef struct parser {
    const char *s;
    size_t len, pos;
    dp_json_doc *doc;
    dp_json_error *err;
    int failed;
    dp_buf scratch; /* decoded string bytes */
} parser;

static void fail(parser *p, const char *msg) {
    if (p->failed)
        return;
    p->failed = 1;
    if (p->err) {
        p->err->offset = p->pos;
        snprintf(p->err->message, sizeof p->err->message, "%s at byte %zu", msg, p->pos);
    }
}

/* Out of memory: the text may be fine, so callers must not report it as bad input. */
static void fail_nomem(parser *p) {
    if (!p->failed && p->err)
        p->err->out_of_memory = 1;
    fail(p, "out of memory");
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p->pos++;
        else
            break;
    }
}

int dp_json_number_text_valid(const char *s, size_t len) {
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == len;
}

int dp_json_hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(dp_buf *b, unsigned cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return dp_buf_append(b, o, n) == DDBPIPE_OK ? 0 : -1;
}

/* Length of a valid UTF-8 sequence starting at s (max n bytes), 0 if invalid. */
size_t dp_json_utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Parses a string at p->pos (on the opening quote) into scratch. */
static int parse_string_raw(parser *p) {
    dp_buf_reset(&p->scratch);
    p->pos++; /* opening quote */
    for (;;) {
        size_t start = p->pos;
        while (p->pos < p->len) {
            unsigned char c = (unsigned char)p->s[p->pos];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
                break;
            p->pos++;
        }
        if (p->pos > start && dp_buf_append(&p->scratch, p->s + start, p->pos - start) != DDBPIPE_OK) {
            fail(p, "string too long");
            return -1;
        }
        if (p->pos >= p->len) {
            fail(p, "unterminated string");
            return -1;
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c < 0x20) {
            fail(p, c == 0 ? "NUL byte in string" : "control character in string");
            return -1;
        }
        if (c >= 0x80) {
            size_t n = dp_json_utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
            if (n == 0) {
                fail(p, "invalid UTF-8 in string");
                return -1;
            }
            if (dp_buf_append(&p->scratch, p->s + p->pos, n) != DDBPIPE_OK) {
                fail(p, "string too long");
                return -1;
            }
            p->pos += n;
            continue;
        }
        /* backslash */
        if (p->pos + 1 >= p->len) {
            fail(p, "unterminated escape");
            return -1;
        }
        char e = p->s[p->pos + 1];
        char out;
        p->pos += 2;
        switch (e) {
        case '"':
            out = '"';
            break;
        case '\\':
            out = '\\';
            break;
        case '/':
            out = '/';
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (p->pos + 4 > p->len || dp_json_hex4(p->s + p->pos, &cp)) {
                fail(p, "bad \\u escape");
                return -1;
            }
            p->pos += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    dp_json_hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    fail(p, "unpaired surrogate in \\u escape");
                    return -1;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(p, "unpaired surrogate in \\u escape");
                return -1;
            }
            if (put_utf8(&p->scratch, cp)) {
                fail(p, "string too long");
                return -1;
            }
            continue;
        }
        default:
            p->pos -= 2;
            fail(p, "bad escape in string");
            return -1;
        }
        if (dp_buf_putc(&p->scratch, out) != DDBPIPE_OK) {
            fail(p, "string too long");
            return -1;
        }
    }
}

static dp_json *parse_value(parser *p, int depth);

static dp_json *parse_container(parser *p, int depth, int is_obj) {
    dp_json *c = new_node(p->doc, is_obj ? DP_JSON_OBJECT : DP_JSON_ARRAY);
    if (!c) {
        fail_nomem(p);
        return NULL;
    }
    p->pos++;
    skip_ws(p);
    char close = is_obj ? '}' : ']';
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return c;
    }
    for (;;) {
        skip_ws(p);
        if (is_obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                fail(p, "expected object key string");
                return NULL;
            }
            if (parse_string_raw(p))
                return NULL;
            char *key = arena_strdup(p->doc, p->scratch.data ? p->scratch.data : "", p->scratch.len);
            size_t kl = p->scratch.len;
            if (!key) {
                fail_nomem(p);
                return NULL;
            }
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                fail(p, "expected ':' after object key");
                return NULL;
            }
            p->pos++;
            dp_json *v = parse_value(p, depth + 1);
            if (!v)
                return NULL;
            if (object_add(p->doc, c, key, kl, v, 0)) {
                fail_nomem(p);
                return NULL;
            }
        } else {
            dp_json *v = parse_value(p, depth + 1);
            if (!v)
                return NULL;
            if (dp_json_array_append(p->doc, c, v)) {
                fail_nomem(p);
                return NULL;
            }
        }
        skip_ws(p);
        if (p->pos >= p->len) {
            fail(p, is_obj ? "unterminated object" : "unterminated array");
            return NULL;
        }
        char ch = p->s[p->pos];
        if (ch == ',') {
            p->pos++;
            continue;
        }
        if (ch == close) {
            p->pos++;
            return c;
        }
        fail(p, is_obj ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
        return NULL;
    }
}

static int match_lit(parser *p, const char *lit) {
    size_t n = strlen(lit);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, lit, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static dp_json *parse_value(parser *p, int depth) {
    if (depth > DP_JSON_MAX_DEPTH) {
        fail(p, "nesting too deep");
        return NULL;
    }
    skip_ws(p);
    if (p->pos >= p->len) {
        fail(p, "unexpected end of input");
        return NULL;
    }
    char c = p->s[p->pos];
    switch (c) {
    case '{':
        return parse_container(p, depth, 1);
    case '[':
        return parse_container(p, depth, 0);
    case '"': {
        /* Fast path: a string without escapes or non-ASCII is copied once. */
        size_t q = p->pos + 1;
        while (q < p->len) {
            unsigned char ch = (unsigned char)p->s[q];
            if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80)
                break;
            q++;
        }
        if (q < p->len && p->s[q] == '"') {
            dp_json *v = new_text(p->doc, DP_JSON_STRING, p->s + p->pos + 1, q - p->pos - 1);
            if (!v)
                fail_nomem(p);
            p->pos = q + 1;
            return v;
        }
        if (parse_string_raw(p))
            return NULL;
        dp_json *v = new_text(p->doc, DP_JSON_STRING, p->scratch.data ? p->scratch.data : "", p->scratch.len);
        if (!v)
            fail_nomem(p);
        return v;
    }
    case 't':
        if (match_lit(p, "true"))
            return dp_json_new_bool(p->doc, 1);
        break;
    case 'f':
        if (match_lit(p, "false"))
            return dp_json_new_bool(p->doc, 0);
        break;
    case 'n':
        if (match_lit(p, "null"))
            return dp_json_new_null(p->doc);
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = p->pos;
            while (p->pos < p->len) {
                char d = p->s[p->pos];
                if ((d >= '0' && d <= '9') || d == '-' || d == '+' || d == '.' || d == 'e' || d == 'E')
                    p->pos++;
                else
                    break;
            }
            if (!dp_json_number_text_valid(p->s + start, p->pos - start)) {
                p->pos = start;
                fail(p, "invalid number");
                return NULL;
            }
            dp_json *v = new_text(p->doc, DP_JSON_NUMBER, p->s + start, p->pos - start);
            if (!v)
                fail_nomem(p);
            return v;
        }
        break;
    }
    if (match_lit(p, "NaN") || match_lit(p, "Infinity") || match_lit(p, "-Infinity")) {
        fail(p, "NaN/Infinity are not valid JSON numbers");
        return NULL;
    }
    if (p->pos < p->len && p->s[p->pos] == '\0')
        fail(p, "NUL byte");
    else if (p->pos < p->len && (unsigned char)p->s[p->pos] >= 0x80 &&
             !dp_json_utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos))
        fail(p, "invalid UTF-8");
    else
        fail(p, "unexpected character");
    return NULL;
}

dp_json_doc *dp_json_parse(const char *text, size_t len, dp_json_error *err) {
    parser p;
    memset(&p, 0, sizeof p);
    p.s = text ? text : "";
    p.len = text ? len : 0;
    p.err = err;
    if (err)
        err->out_of_memory = 0;
    dp_buf_init(&p.scratch, len + 16);
    p.doc = dp_json_doc_new();
    if (!p.doc) {
        if (err) {
            err->offset = 0;
            err->out_of_memory = 1;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        return NULL;
    }
    dp_json *root = parse_value(&p, 0);
    if (root) {
        skip_ws(&p);
        if (p.pos != p.len)
            fail(&p, p.s[p.pos] == '\0' ? "NUL byte after the JSON value"
                                        : "trailing characters after JSON value");
    }
    dp_buf_free(&p.scratch);
    if (p.failed || !root) {
        dp_json_doc_free(p.doc);
        return NULL;
    }
    p.doc->root = root;
    return p.doc;
}

/* ------------------------------------------------------------ writer */

ddbpipe_result_t dp_json_write_string(dp_buf *out, const char *s, size_t len) {
    static const char hexd[] = "0123456789abcdef";
    ddbpipe_result_t r = dp_buf_reserve(out, len + 2);
    if (r != DDBPIPE_OK)
        return r;
    out->data[out->len++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > start && (r = dp_buf_append(out, s + start, i - start)) != DDBPIPE_OK)
            return r;
        char esc[7];
        size_t en = 2;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexd[c >> 4];
            esc[5] = hexd[c & 15];
            en = 6;
        }
        if ((r = dp_buf_append(out, esc, en)) != DDBPIPE_OK)
            return r;
        start = i + 1;
    }
    if (len > start && (r = dp_buf_append(out, s + start, len - start)) != DDBPIPE_OK)
        return r;
    return dp_buf_putc(out, '"');
}

ddbpipe_result_t dp_json_write_cstr(dp_buf *out, const char *s) {
    return dp_json_write_string(out, s, strlen(s));
}

ddbpipe_result_t dp_json_write(dp_buf *out, const dp_json *v) {
    ddbpipe_result_t r = DDBPIPE_OK;
    if (!v)
        return dp_buf_puts(out, "null");
    switch (v->type) {
    case DP_JSON_NULL:
        return dp_buf_puts(out, "null");
    case DP_JSON_BOOL:
        return dp_buf_puts(out, v->boolean ? "true" : "false");
    case DP_JSON_NUMBER:
        return dp_buf_append(out, v->str, v->len);
    case DP_JSON_STRING:
        return dp_json_write_string(out, v->str, v->len);
    case DP_JSON_ARRAY:
        if ((r = dp_buf_putc(out, '[')) != DDBPIPE_OK)
            return r;
        for (size_t i = 0; i < v->count; i++) {
            if (i && (r = dp_buf_putc(out, ',')) != DDBPIPE_OK)
                return r;
            if ((r = dp_json_write(out, v->items[i])) != DDBPIPE_OK)
                return r;
        }
        return dp_buf_putc(out, ']');
    case DP_JSON_OBJECT:
        if ((r = dp_buf_putc(out, '{')) != DDBPIPE_OK)
            return r;
        for (size_t i = 0; i < v->count; i++) {
            if (i && (r = dp_buf_putc(out, ',')) != DDBPIPE_OK)
                return r;
            if ((r = dp_json_write_string(out, v->members[i].key, v->members[i].key_len)) != DDBPIPE_OK)
                return r;
            if ((r = dp_buf_putc(out, ':')) != DDBPIPE_OK)
                return r;
            if ((r = dp_json_write(out, v->members[i].value)) != DDBPIPE_OK)
                return r;
        }
        return dp_buf_putc(out, '}');
    }
    return DDBPIPE_ERR_INVALID_ARG;
}
