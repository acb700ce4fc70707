/* Fast path of sk_parse_line for the commonest input: a plain JSON object
 * row upserted as it is, bare or in Feldera's {"insert": ROW} (format auto,
 * json or feldera, put mode, no column types, no document_attribute, a key
 * schema of S/N keys). One pass over the line
 * writes the typed item, the canonical key and the key JSON, and adds up the
 * item size by DynamoDB's rules, without building the two DOMs (plain row,
 * typed item) of the general path.
 *
 * It only ever accepts lines the general path would turn into the very same
 * change. Anything else returns "not handled" and sk_parse_line runs the
 * general parser, which also words any error: another format's envelope
 * (a top-level eventName/payload/op/delete, or insert beside other members),
 * escapes in attribute names
 * or key values, a repeated name, a key needing coercion or failing a check,
 * a number DynamoDB cannot hold, invalid JSON or UTF-8, deep nesting, an item
 * near or over 400 KB. String values are copied with their escapes as they
 * are: the same string to any JSON reader. Pure: no I/O, no allocation but
 * the output buffers. tests/unit/test_sink_parse.c and
 * tests/fuzz/fuzz_sink_fastparse.c check it against the general path. */
#include <stdint.h>
#include <string.h>

#include "ddb/attr_internal.h"
#include "sink/sink_internal.h"

/* Deeper rows go to the general path (DynamoDB's limit is 32 levels). */
#define FP_MAX_DEPTH 30
/* Names remembered for the repeated-name check, over all open objects. */
#define FP_MAX_NAMES 512

typedef struct fp_name {
    uint32_t off, len;
} fp_name;

typedef struct fp {
    const char *s;
    size_t len, pos;
    dp_buf *out;
    fp_name names[FP_MAX_NAMES];
    size_t nnames;
} fp;

/* A string token: the raw text between the quotes (escapes kept) and its
 * decoded length in bytes. */
typedef struct fp_str {
    size_t off, raw_len, dec_len;
    int escaped;
} fp_str;

#define FP_OUT(p, lit) (dp_buf_append((p)->out, (lit), sizeof(lit) - 1) == DDBPIPE_OK ? 0 : -1)

static inline void fp_ws(fp *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static size_t utf8_len_of(unsigned cp) {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* p->pos at the opening quote; leaves it after the closing one. The rules are
 * the JSON parser's (common/json.c): same escapes, same UTF-8 checks. */
static int fp_string(fp *p, fp_str *t) {
    const unsigned char *s = (const unsigned char *)p->s;
    size_t i = p->pos + 1, dec = 0;
    t->off = i;
    t->escaped = 0;
    for (;;) {
        /* 8 bytes at a time while they are plain ASCII (no quote, backslash,
         * control byte or high bit): most of a line is such string bytes */
        while (i + 8 <= p->len) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
            uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
            uint64_t special = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v) | v;
            if (special & high)
                break;
            i += 8;
            dec += 8;
        }
        while (i < p->len && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20 && s[i] < 0x80)
            i++, dec++;
        if (i >= p->len || s[i] < 0x20)
            return -1;
        if (s[i] == '"')
            break;
        if (s[i] >= 0x80) {
            size_t n = dp_json_utf8_seq(s + i, p->len - i);
            if (n == 0)
                return -1;
            i += n;
            dec += n;
            continue;
        }
        /* backslash */
        t->escaped = 1;
        if (i + 1 >= p->len)
            return -1;
        char e = (char)s[i + 1];
        if (e == 'u') {
            unsigned cp, lo;
            if (i + 6 > p->len || dp_json_hex4(p->s + i + 2, &cp))
                return -1;
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 6 > p->len || s[i] != '\\' || s[i + 1] != 'u' || dp_json_hex4(p->s + i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                i += 6;
                dec += 4;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            } else {
                dec += utf8_len_of(cp);
            }
            continue;
        }
        if (!strchr("\"\\/bfnrt", e) || e == '\0')
            return -1;
        i += 2;
        dec++;
    }
    t->raw_len = i - t->off;
    t->dec_len = dec;
    p->pos = i + 1;
    return 0;
}

/* A name of the object whose names start at names[first]: remembered, and
 * -1 when the object already has it. */
static int fp_name_add(fp *p, size_t first, const fp_str *k) {
    const char *name = p->s + k->off;
    for (size_t i = first; i < p->nnames; i++)
        if (p->names[i].len == k->raw_len && !memcmp(p->s + p->names[i].off, name, k->raw_len))
            return -1;
    if (p->nnames >= FP_MAX_NAMES || k->raw_len > UINT32_MAX)
        return -1;
    p->names[p->nnames].off = (uint32_t)k->off;
    p->names[p->nnames].len = (uint32_t)k->raw_len;
    p->nnames++;
    return 0;
}

/* A number token at p->pos: its text, checked by DynamoDB's rules. */
static int fp_number(fp *p, const char **text, size_t *tlen, dp_ddb_num *num) {
    size_t i = p->pos;
    while (i < p->len) {
        char c = p->s[i];
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')
            i++;
        else
            break;
    }
    *text = p->s + p->pos;
    *tlen = i - p->pos;
    if (dp_ddb_number_scan(*text, *tlen, num) != 0 || dp_ddb_num_check_limits(num) != DP_DDB_NUM_OK)
        return -1;
    p->pos = i;
    return 0;
}

static int fp_literal(fp *p, const char *word, size_t n) {
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return -1;
    p->pos += n;
    return 0;
}

/* What fp_value wrote, when it was a string or a number: the row's key
 * attributes are taken from it. */
typedef struct fp_scalar {
    char type;        /* 'S', 'N', or 0 for anything else */
    const char *text; /* S: the raw text between the quotes; N: the number */
    size_t len;
    fp_str str; /* S only */
} fp_scalar;

static int fp_value(fp *p, int depth, size_t *size, fp_scalar *scalar);

/* The members of a nested object (written as "name":AV) or the items of a
 * list, up to the closing bracket; p->pos is after the opening one. Sizes
 * by DynamoDB's rules: 3 bytes, plus 1 a member and the member's name. The
 * row itself is fp_row's. */
static int fp_container(fp *p, int depth, int is_map, size_t *size) {
    const char close = is_map ? '}' : ']';
    size_t first = p->nnames, sz = 3;
    fp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        *size = sz;
        return 0;
    }
    for (int n = 0;; n++) {
        if (n && FP_OUT(p, ","))
            return -1;
        sz += 1;
        if (is_map) {
            fp_str k;
            fp_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"' || fp_string(p, &k) != 0 || k.escaped ||
                fp_name_add(p, first, &k) != 0)
                return -1;
            fp_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return -1;
            p->pos++;
            if (FP_OUT(p, "\"") || dp_buf_append(p->out, p->s + k.off, k.raw_len) || FP_OUT(p, "\":"))
                return -1;
            sz += k.dec_len;
        }
        size_t vs;
        if (fp_value(p, depth + 1, &vs, NULL) != 0)
            return -1;
        sz += vs;
        fp_ws(p);
        if (p->pos >= p->len)
            return -1;
        char c = p->s[p->pos++];
        if (c == close)
            break;
        if (c != ',')
            return -1;
    }
    p->nnames = first;
    *size = sz;
    return 0;
}

/* One plain JSON value at p->pos written as an AttributeValue, as the
 * general path's auto mapping does (coltype.c auto_from_plain). scalar
 * (may be NULL) tells what a string or number was. */
static int fp_value(fp *p, int depth, size_t *size, fp_scalar *scalar) {
    fp_ws(p);
    if (p->pos >= p->len)
        return -1;
    char c = p->s[p->pos];
    fp_scalar none;
    if (!scalar)
        scalar = &none;
    scalar->type = 0;
    if (c == '"') {
        fp_str *t = &scalar->str;
        if (fp_string(p, t) != 0 || FP_OUT(p, "{\"S\":\"") ||
            dp_buf_append(p->out, p->s + t->off, t->raw_len) || FP_OUT(p, "\"}"))
            return -1;
        scalar->type = 'S';
        scalar->text = p->s + t->off;
        scalar->len = t->raw_len;
        *size = t->dec_len;
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        dp_ddb_num num;
        if (fp_number(p, &scalar->text, &scalar->len, &num) != 0 || FP_OUT(p, "{\"N\":\"") ||
            dp_buf_append(p->out, scalar->text, scalar->len) || FP_OUT(p, "\"}"))
            return -1;
        scalar->type = 'N';
        *size = dp_ddb_num_size(&num);
        return 0;
    }
    *size = 1;
    if (c == 't')
        return fp_literal(p, "true", 4) || FP_OUT(p, "{\"BOOL\":true}") ? -1 : 0;
    if (c == 'f')
        return fp_literal(p, "false", 5) || FP_OUT(p, "{\"BOOL\":false}") ? -1 : 0;
    if (c == 'n')
        return fp_literal(p, "null", 4) || FP_OUT(p, "{\"NULL\":true}") ? -1 : 0;
    if (depth >= FP_MAX_DEPTH)
        return -1;
    p->pos++;
    if (c == '[')
        return FP_OUT(p, "{\"L\":[") || fp_container(p, depth, 0, size) || FP_OUT(p, "]}") ? -1 : 0;
    if (c == '{')
        return FP_OUT(p, "{\"M\":{") || fp_container(p, depth, 1, size) || FP_OUT(p, "}}") ? -1 : 0;
    return -1;
}

/* Names that make auto detection pick another format (formats/changes.c
 * detect); a row with any of them goes to the general path. */
static int fp_envelope_name(const char *s, size_t n) {
    switch (n) {
    case 2:
        return !memcmp(s, "op", 2);
    case 5: /* Estuary's _meta.op "d" makes a row a delete */
        return !memcmp(s, "_meta", 5);
    case 6:
        return !memcmp(s, "insert", 6) || !memcmp(s, "delete", 6);
    case 7:
        return !memcmp(s, "payload", 7);
    case 9:
        return !memcmp(s, "eventName", 9);
    default:
        return 0;
    }
}

typedef struct fp_key {
    const char *name;
    size_t name_len;
    char type; /* 'S' or 'N' */
    size_t max_bytes;
    const char *val; /* raw text of the value, NULL = not seen */
    size_t val_len;
} fp_key;

/* A top-level key attribute's value, as fp_value found it: a string for an
 * S key (no escapes, so the raw text is the value, 1 byte to the key limit),
 * a number for an N key (already checked). */
static int fp_key_take(fp_key *k, const fp_scalar *v) {
    if (v->type != k->type)
        return -1;
    if (v->type == 'S' && (v->str.escaped || v->str.dec_len == 0 || v->str.dec_len > k->max_bytes))
        return -1;
    k->val = v->text;
    k->val_len = v->len;
    return 0;
}

static int fp_key_write(dp_buf *key, dp_buf *key_json, const fp_key *k, int first) {
    if (dp_buf_putc(key, k->type) || dp_buf_putc(key, ':'))
        return -1;
    if (k->type == 'S') {
        if (dp_buf_append(key, k->val, k->val_len))
            return -1;
    } else if (dp_ddb_number_canonical(k->val, k->val_len, key) != 0) {
        return -1;
    }
    if (dp_buf_putc(key, '\x1f'))
        return -1;
    if ((!first && dp_buf_putc(key_json, ',')) || dp_json_write_cstr(key_json, k->name) ||
        dp_buf_append(key_json, k->type == 'S' ? ":{\"S\":\"" : ":{\"N\":\"", 7) ||
        dp_buf_append(key_json, k->val, k->val_len) || dp_buf_append(key_json, "\"}", 2))
        return -1;
    return 0;
}

/* The whole line as one row, or as Feldera's {"insert": ROW}; 0 = handled
 * (out filled), -1 = not handled. */
static int fp_row(const sk_parse_ctx *ctx, fp *p, sk_change *out) {
    const dp_change_format_opts *o = &ctx->opts;
    fp_key keys[2];
    int nkeys = o->sort_key && o->sort_key[0] ? 2 : 1;
    for (int i = 0; i < nkeys; i++) {
        keys[i].name = i ? o->sort_key : o->partition_key;
        keys[i].name_len = strlen(keys[i].name);
        keys[i].type = i ? o->sort_type : o->partition_type;
        keys[i].max_bytes = i ? DP_DDB_MAX_SK_BYTES : DP_DDB_MAX_PK_BYTES;
        keys[i].val = NULL;
        if (keys[i].type != 'S' && keys[i].type != 'N')
            return -1; /* B keys (base64) and unknown key types: general path */
    }
    dp_buf_reset(&out->body);
    p->out = &out->body;
    if (dp_buf_reserve(p->out, p->len + p->len / 2 + 64) != DDBPIPE_OK || FP_OUT(p, "{"))
        return -1;
    fp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '{')
        return -1;
    p->pos++;
    /* Feldera's insert envelope (auto detects it; format feldera names it):
     * the row is its only member's value */
    static const char ins[] = "\"insert\"";
    int feldera = 0;
    fp_ws(p);
    if ((o->format == DP_CHANGE_FMT_AUTO || o->format == DP_CHANGE_FMT_FELDERA) &&
        p->len - p->pos > sizeof ins - 1 && !memcmp(p->s + p->pos, ins, sizeof ins - 1)) {
        p->pos += sizeof ins - 1;
        fp_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return -1;
        p->pos++;
        fp_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '{')
            return -1;
        p->pos++;
        feldera = 1;
    } else if (o->format == DP_CHANGE_FMT_FELDERA) {
        return -1;
    }
    size_t item_size = 0;
    int written = 0;
    fp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}')
        return -1; /* {} has no key: the general path words it */
    for (;;) {
        fp_str k;
        fp_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"' || fp_string(p, &k) != 0 || k.escaped || k.dec_len == 0 ||
            k.dec_len > 65535 || fp_name_add(p, 0, &k) != 0)
            return -1;
        const char *name = p->s + k.off;
        if (fp_envelope_name(name, k.raw_len))
            return -1;
        fp_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return -1;
        p->pos++;
        fp_key *key = NULL;
        for (int i = 0; i < nkeys; i++)
            if (keys[i].name_len == k.raw_len && !memcmp(keys[i].name, name, k.raw_len))
                key = &keys[i];
        fp_ws(p);
        if (!key && o->ignore_nulls && p->len - p->pos >= 4 && !memcmp(p->s + p->pos, "null", 4)) {
            p->pos += 4; /* dropped, as the general path does with ignore_nulls */
        } else {
            size_t vs;
            fp_scalar v;
            if ((written && FP_OUT(p, ",")) || FP_OUT(p, "\"") || dp_buf_append(p->out, name, k.raw_len) ||
                FP_OUT(p, "\":") || fp_value(p, 1, &vs, &v) != 0 || (key && fp_key_take(key, &v) != 0))
                return -1;
            written = 1;
            item_size += k.dec_len + vs;
        }
        fp_ws(p);
        if (p->pos >= p->len)
            return -1;
        char c = p->s[p->pos++];
        if (c == '}')
            break;
        if (c != ',')
            return -1;
    }
    if (FP_OUT(p, "}"))
        return -1;
    if (feldera) { /* the envelope's own closing brace: {"insert": ROW} */
        fp_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '}')
            return -1;
        p->pos++;
    }
    fp_ws(p);
    if (p->pos != p->len)
        return -1;
    /* near the limit the general path decides (and words the oversize) */
    if (item_size > (size_t)DP_DDB_MAX_ITEM_BYTES - 1024)
        return -1;
    dp_buf_reset(&out->key);
    dp_buf_reset(&out->key_json);
    if (dp_buf_putc(&out->key_json, '{'))
        return -1;
    for (int i = 0; i < nkeys; i++)
        if (!keys[i].val || fp_key_write(&out->key, &out->key_json, &keys[i], i == 0) != 0)
            return -1;
    if (dp_buf_putc(&out->key_json, '}'))
        return -1;
    out->op = SK_OP_PUT;
    out->item_size = item_size;
    return 0;
}

int sk_parse_line_fast(const sk_parse_ctx *ctx, const char *line, size_t len, sk_change *out) {
    const dp_change_format_opts *o = &ctx->opts;
    if (ctx->merge || o->ncolumns || o->document_attribute || !o->partition_key || !o->partition_key[0] ||
        (o->format != DP_CHANGE_FMT_AUTO && o->format != DP_CHANGE_FMT_JSON &&
         o->format != DP_CHANGE_FMT_FELDERA) ||
        !line)
        return -1;
    fp p;
    p.s = line;
    p.len = len;
    p.pos = 0;
    p.nnames = 0;
    p.out = NULL;
    return fp_row(ctx, &p, out);
}
