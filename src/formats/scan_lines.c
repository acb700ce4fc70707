/* One-pass Scan page -> "json" snapshot lines (see scan_lines.h).
 *
 * Byte-identical to the general path by construction: it copies a string
 * only when the JSON parser would have kept its bytes as they are (no
 * escape, valid UTF-8) and dp_json_write_string would write them back
 * unchanged (it escapes only '"', '\\' and control characters, none of which
 * can appear raw in such a string). Whatever else it meets, it gives the
 * page back (returns 0) and the general path reads it, errors included.
 * Checked against the general path by tests/unit/test_scan_lines.c and
 * tests/fuzz/fuzz_scan_lines.c. */
#include "formats/scan_lines.h"

#include <stdint.h>
#include <string.h>

#include "common/json.h"
#include "ddb/attr_internal.h"

/* AttributeValue depth this path handles (write_plain's limit is
 * DP_DDB_MAX_DEPTH; deeper items go to the general path). */
#define SL_MAX_DEPTH 24
/* Nesting of the non-Items members skipped on the way (the general parser
 * checks them again on `rest`). */
#define SL_SKIP_DEPTH 64

typedef struct sl {
    const char *s;
    size_t len, pos;
    dp_buf *out; /* the item being written */
    int bad;     /* out of memory or output full: give the page back */
} sl;

static inline void ws(sl *c) {
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->pos++;
    }
}

static inline int eat(sl *c, char ch) {
    ws(c);
    if (c->pos < c->len && c->s[c->pos] == ch) {
        c->pos++;
        return 1;
    }
    return 0;
}

static inline int peek(sl *c, char ch) {
    ws(c);
    return c->pos < c->len && c->s[c->pos] == ch;
}

/* A string without escapes at pos (after ws): its raw bytes, including the
 * quotes, in [*at, *at + *n). -1: not such a string. */
static int str_raw(sl *c, size_t *at, size_t *n) {
    ws(c);
    if (c->pos >= c->len || c->s[c->pos] != '"')
        return -1;
    size_t i = c->pos + 1;
    const unsigned char *s = (const unsigned char *)c->s;
    for (;;) {
        /* 8 bytes at a time while none is a quote, a backslash, a control
         * character or non-ASCII */
        while (i + 8 <= c->len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w;
            if (hit & highs)
                break;
            i += 8;
        }
        if (i >= c->len)
            return -1;
        unsigned char ch = s[i];
        if (ch == '"')
            break;
        if (ch == '\\' || ch < 0x20)
            return -1;
        if (ch >= 0x80) {
            size_t k = dp_json_utf8_seq(s + i, c->len - i);
            if (!k)
                return -1;
            i += k;
        } else {
            i++;
        }
    }
    *at = c->pos;
    *n = i + 1 - c->pos;
    c->pos = i + 1;
    return 0;
}

static inline void put(sl *c, const char *p, size_t n) {
    if (dp_buf_append(c->out, p, n) != DDBPIPE_OK)
        c->bad = 1;
}

static inline void putch(sl *c, char ch) {
    if (dp_buf_putc(c->out, ch) != DDBPIPE_OK)
        c->bad = 1;
}

static int lit(sl *c, const char *w, size_t n) {
    ws(c);
    if (c->len - c->pos >= n && memcmp(c->s + c->pos, w, n) == 0) {
        c->pos += n;
        return 1;
    }
    return 0;
}

/* The string at pos, checked as a DynamoDB number, written unquoted. */
static int number_str(sl *c) {
    size_t at, n;
    if (str_raw(c, &at, &n))
        return -1;
    char err[8];
    if (dp_ddb_number_check(c->s + at + 1, n - 2, err, sizeof err, NULL) != 0)
        return -1;
    put(c, c->s + at + 1, n - 2);
    return 0;
}

static int av(sl *c, int depth);

/* Members name -> AttributeValue up to '}' (the '{' eaten), written as a
 * plain object. */
static int map_body(sl *c, int depth) {
    putch(c, '{');
    if (eat(c, '}')) {
        putch(c, '}');
        return 0;
    }
    for (int first = 1;; first = 0) {
        size_t at, n;
        if (str_raw(c, &at, &n) || !eat(c, ':'))
            return -1;
        if (!first)
            putch(c, ',');
        put(c, c->s + at, n);
        putch(c, ':');
        if (av(c, depth + 1))
            return -1;
        if (eat(c, ','))
            continue;
        if (eat(c, '}'))
            break;
        return -1;
    }
    putch(c, '}');
    return 0;
}

/* An array up to ']' (the '[' eaten): kind 'L' AttributeValues, 'S'
 * strings, 'N' number strings. */
static int array_body(sl *c, int depth, char kind) {
    putch(c, '[');
    if (eat(c, ']')) {
        putch(c, ']');
        return 0;
    }
    for (int first = 1;; first = 0) {
        if (!first)
            putch(c, ',');
        if (kind == 'L') {
            if (av(c, depth + 1))
                return -1;
        } else if (kind == 'N') {
            if (number_str(c))
                return -1;
        } else {
            size_t at, n;
            if (str_raw(c, &at, &n))
                return -1;
            put(c, c->s + at, n);
        }
        if (eat(c, ','))
            continue;
        if (eat(c, ']'))
            break;
        return -1;
    }
    putch(c, ']');
    return 0;
}

/* One AttributeValue {"T": v}, written plain (write_plain's mapping). */
static int av(sl *c, int depth) {
    size_t at, n;
    if (depth > SL_MAX_DEPTH || !eat(c, '{') || str_raw(c, &at, &n) || !eat(c, ':'))
        return -1;
    const char *t = c->s + at + 1;
    size_t tl = n - 2;
    int rc = -1;
    if (tl == 1 && (t[0] == 'S' || t[0] == 'B')) {
        if (str_raw(c, &at, &n) == 0) {
            put(c, c->s + at, n);
            rc = 0;
        }
    } else if (tl == 1 && t[0] == 'N') {
        rc = number_str(c);
    } else if (tl == 1 && t[0] == 'M') {
        rc = eat(c, '{') ? map_body(c, depth) : -1;
    } else if (tl == 1 && t[0] == 'L') {
        rc = eat(c, '[') ? array_body(c, depth, 'L') : -1;
    } else if (tl == 2 && t[1] == 'S' && (t[0] == 'S' || t[0] == 'B' || t[0] == 'N')) {
        rc = eat(c, '[') ? array_body(c, depth, t[0] == 'N' ? 'N' : 'S') : -1;
    } else if (tl == 4 && memcmp(t, "BOOL", 4) == 0) {
        if (lit(c, "true", 4)) {
            put(c, "true", 4);
            rc = 0;
        } else if (lit(c, "false", 5)) {
            put(c, "false", 5);
            rc = 0;
        }
    } else if (tl == 4 && memcmp(t, "NULL", 4) == 0) {
        /* the general path writes null whatever the value is */
        if (lit(c, "true", 4) || lit(c, "false", 5) || lit(c, "null", 4)) {
            put(c, "null", 4);
            rc = 0;
        }
    }
    /* exactly one type key */
    if (rc == 0 && !eat(c, '}'))
        rc = -1;
    return c->bad ? -1 : rc;
}

/* Skips any value (lenient: the general parser checks `rest` again). */
static int skip_value(sl *c) {
    ws(c);
    int depth = 0;
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch == '"') {
            size_t i = c->pos + 1;
            while (i < c->len && c->s[i] != '"')
                i += c->s[i] == '\\' ? 2 : 1;
            if (i >= c->len)
                return -1;
            c->pos = i + 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > SL_SKIP_DEPTH)
                return -1;
            c->pos++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return 0;
            depth--;
            c->pos++;
        } else if (ch == ',' && depth == 0) {
            return 0;
        } else {
            c->pos++;
        }
        if (depth == 0 && (ch == '"' || ch == '}' || ch == ']'))
            return 0;
    }
    return depth == 0 ? 0 : -1;
}

/* The constant parts of a line: `{"op":"snapshot","table":T,"keys":{"pk":`
 * and `,"sk":`. */
typedef struct sl_line {
    dp_buf head, mid;
    const char *pk, *sk;
    size_t pk_len, sk_len;
} sl_line;

/* One item: written plain into c->out (an item buffer), then its line
 * appended to lines. */
static int item(sl *c, const sl_line *L, dp_buf *lines) {
    size_t kat[2] = {0, 0}, kn[2] = {0, 0};
    int found[2] = {0, 0};
    dp_buf_reset(c->out);
    if (!eat(c, '{'))
        return -1;
    putch(c, '{');
    if (peek(c, '}'))
        return -1; /* no key attribute */
    for (int first = 1;; first = 0) {
        size_t at, n;
        if (str_raw(c, &at, &n) || !eat(c, ':'))
            return -1;
        if (!first)
            putch(c, ',');
        put(c, c->s + at, n);
        putch(c, ':');
        int which = -1;
        if (n - 2 == L->pk_len && memcmp(c->s + at + 1, L->pk, n - 2) == 0)
            which = 0;
        else if (L->sk && n - 2 == L->sk_len && memcmp(c->s + at + 1, L->sk, n - 2) == 0)
            which = 1;
        size_t v0 = c->out->len;
        if (av(c, 0))
            return -1;
        if (which >= 0) {
            if (found[which])
                return -1; /* repeated: the general path says which one counts */
            found[which] = 1;
            kat[which] = v0;
            kn[which] = c->out->len - v0;
        }
        if (eat(c, ','))
            continue;
        if (eat(c, '}'))
            break;
        return -1;
    }
    putch(c, '}');
    if (c->bad || !found[0] || (L->sk && !found[1]))
        return -1;
    const char *ib = c->out->data;
    ddbpipe_result_t r = dp_buf_reserve(lines, L->head.len + L->mid.len + kn[0] + kn[1] + c->out->len + 32);
    if (r == DDBPIPE_OK)
        r = dp_buf_append(lines, L->head.data, L->head.len);
    if (r == DDBPIPE_OK)
        r = dp_buf_append(lines, ib + kat[0], kn[0]);
    if (r == DDBPIPE_OK && L->sk) {
        r = dp_buf_append(lines, L->mid.data, L->mid.len);
        if (r == DDBPIPE_OK)
            r = dp_buf_append(lines, ib + kat[1], kn[1]);
    }
    if (r == DDBPIPE_OK)
        r = dp_buf_append(lines, "},\"new\":", 8);
    if (r == DDBPIPE_OK)
        r = dp_buf_append(lines, ib, c->out->len);
    if (r == DDBPIPE_OK)
        r = dp_buf_append(lines, ",\"old\":null}\n", 13);
    return r == DDBPIPE_OK ? 0 : -1;
}

static int items_array(sl *c, const sl_line *L, dp_buf *lines, size_t *count) {
    if (!eat(c, '['))
        return -1;
    if (eat(c, ']'))
        return 0;
    for (;;) {
        if (item(c, L, lines))
            return -1;
        (*count)++;
        if (eat(c, ','))
            continue;
        if (eat(c, ']'))
            return 0;
        return -1;
    }
}

int dp_scan_lines_write(const char *body, size_t len, const dp_scan_lines_opts *o, dp_buf *lines,
                        dp_buf *rest, size_t *count) {
    size_t start = lines->len;
    int ok = 0, seen_items = 0;
    sl_line L;
    dp_buf ib;
    dp_buf_init(&L.head, 0);
    dp_buf_init(&L.mid, 0);
    dp_buf_init(&ib, 0);
    *count = 0;
    dp_buf_reset(rest);
    if (!body || !o || !o->partition_key || !o->table)
        goto out;
    L.pk = o->partition_key;
    L.pk_len = strlen(L.pk);
    L.sk = o->sort_key && *o->sort_key ? o->sort_key : NULL;
    L.sk_len = L.sk ? strlen(L.sk) : 0;
    if (dp_buf_puts(&L.head, "{\"op\":\"snapshot\",\"table\":") || dp_json_write_cstr(&L.head, o->table) ||
        dp_buf_puts(&L.head, ",\"keys\":{") || dp_json_write_cstr(&L.head, L.pk) || dp_buf_putc(&L.head, ':'))
        goto out;
    if (L.sk && (dp_buf_putc(&L.mid, ',') || dp_json_write_cstr(&L.mid, L.sk) || dp_buf_putc(&L.mid, ':')))
        goto out;
    sl c = {.s = body, .len = len, .pos = 0, .out = &ib, .bad = 0};
    if (!eat(&c, '{') || dp_buf_putc(rest, '{'))
        goto out;
    if (!eat(&c, '}')) {
        int nrest = 0;
        for (;;) {
            size_t at, n;
            if (str_raw(&c, &at, &n) || !eat(&c, ':'))
                goto out;
            if (n == 7 && memcmp(body + at, "\"Items\"", 7) == 0) {
                if (seen_items++ || items_array(&c, &L, lines, count))
                    goto out;
            } else {
                ws(&c);
                size_t v0 = c.pos;
                if (skip_value(&c))
                    goto out;
                if ((nrest++ && dp_buf_putc(rest, ',')) || dp_buf_append(rest, body + at, n) ||
                    dp_buf_putc(rest, ':') || dp_buf_append(rest, body + v0, c.pos - v0))
                    goto out;
            }
            if (eat(&c, ','))
                continue;
            if (eat(&c, '}'))
                break;
            goto out;
        }
    }
    ws(&c);
    if (c.pos != len || !seen_items || dp_buf_putc(rest, '}'))
        goto out;
    ok = 1;
out:
    if (!ok) {
        lines->len = start;
        if (lines->data)
            lines->data[start] = '\0';
        *count = 0;
    }
    dp_buf_free(&L.head);
    dp_buf_free(&L.mid);
    dp_buf_free(&ib);
    return ok;
}
