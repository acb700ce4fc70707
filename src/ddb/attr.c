/* AttributeValue codec: numbers, base64, validation, size, keys, typed ->
 * plain. Plain -> typed with column types lives in coltype.c. */
#include "ddb/attr.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ddb/attr_internal.h"

/* ------------------------------------------------------------ messages */

void dp_attr_errf(char *errstr, size_t n, const dp_attr_path *p, const char *fmt, ...) {
    if (!errstr || n == 0)
        return;
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (p && p->len > 0) {
        if (p->named)
            snprintf(errstr, n, "attribute '%s': %s", p->buf, reason);
        else
            snprintf(errstr, n, "at '%s': %s", p->buf, reason);
    } else {
        snprintf(errstr, n, "%s", reason);
    }
}

void dp_attr_path_init(dp_attr_path *p, const char *name) {
    p->len = 0;
    p->buf[0] = 0;
    p->named = name != NULL;
    if (name)
        dp_attr_path_push_member(p, name, strlen(name));
}

/* Printable, bounded copy of user text for messages. */
const char *dp_attr_snippet(const char *s, size_t len, char *out, size_t out_size) {
    size_t o = 0, max = out_size > 4 ? out_size - 4 : 0;
    size_t i;
    for (i = 0; i < len && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (i < len && out_size >= 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < out_size ? o : out_size - 1] = 0;
    return out;
}

size_t dp_attr_path_push_member(dp_attr_path *p, const char *name, size_t len) {
    size_t mark = p->len;
    size_t room = sizeof p->buf - 1 - p->len;
    char tmp[sizeof p->buf];
    size_t n = 0;
    if (p->len > 0 && room > 0)
        tmp[n++] = '.';
    for (size_t i = 0; i < len && n < sizeof tmp - 1; i++) {
        unsigned char c = (unsigned char)name[i];
        tmp[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > room)
        n = room;
    memcpy(p->buf + p->len, tmp, n);
    p->len += n;
    p->buf[p->len] = 0;
    return mark;
}

size_t dp_attr_path_push_index(dp_attr_path *p, size_t i) {
    size_t mark = p->len;
    char tmp[32], digits[24];
    size_t n = 0, d = 0;
    do {
        digits[d++] = (char)('0' + i % 10);
        i /= 10;
    } while (i && d < sizeof digits);
    tmp[n++] = '[';
    while (d)
        tmp[n++] = digits[--d];
    tmp[n++] = ']';
    size_t room = sizeof p->buf - 1 - p->len;
    size_t k = n < room ? n : room;
    memcpy(p->buf + p->len, tmp, k);
    p->len += k;
    p->buf[p->len] = 0;
    return mark;
}

void dp_attr_path_pop(dp_attr_path *p, size_t mark) {
    p->len = mark;
    p->buf[mark] = 0;
}

/* ------------------------------------------------------------ numbers */

int dp_ddb_number_scan(const char *s, size_t len, dp_ddb_num *n) {
    memset(n, 0, sizeof *n);
    size_t i = 0;
    if (i < len && s[i] == '-') {
        n->neg = 1;
        i++;
    }
    /* JSON grammar: 0 | [1-9][0-9]* */
    size_t int_start = i;
    if (i < len && s[i] == '0') {
        i++;
    } else if (i < len && s[i] >= '1' && s[i] <= '9') {
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
    } else {
        return -1;
    }
    n->int_digits = s + int_start;
    n->int_len = i - int_start;
    if (i < len && s[i] == '.') {
        i++;
        size_t fs = i;
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
        if (i == fs)
            return -1;
        n->frac_digits = s + fs;
        n->frac_len = i - fs;
    }
    long long e = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        size_t es = i;
        while (i < len && isdigit((unsigned char)s[i])) {
            if (e < 1000000000LL) /* clamp: anything this big is out of range anyway */
                e = e * 10 + (s[i] - '0');
            i++;
        }
        if (i == es)
            return -1;
        if (eneg)
            e = -e;
    }
    if (i != len)
        return -1;
    n->exp = e;
    /* Significant digits over the concatenation int||frac. */
    size_t total = n->int_len + n->frac_len;
    size_t first = total, last = 0;
    for (size_t j = 0; j < total; j++) {
        char c = j < n->int_len ? n->int_digits[j] : n->frac_digits[j - n->int_len];
        if (c != '0') {
            if (first == total)
                first = j;
            last = j;
        }
    }
    if (first == total) {
        n->is_zero = 1;
        n->sig = 0;
        return 0;
    }
    n->first = first;
    n->sig = last - first + 1;
    n->sci_exp = (long long)n->int_len - 1 - (long long)first + e;
    n->last_exp = (long long)n->int_len - 1 - (long long)last + e;
    return 0;
}

char dp_ddb_num_digit(const dp_ddb_num *n, size_t k) {
    size_t j = n->first + k;
    return j < n->int_len ? n->int_digits[j] : n->frac_digits[j - n->int_len];
}

static int looks_like_nan_inf(const char *s, size_t len) {
    char low[16];
    size_t i = 0;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        s++;
        len--;
    }
    if (len >= sizeof low)
        return 0;
    for (i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[len] = 0;
    return !strcmp(low, "nan") || !strcmp(low, "inf") || !strcmp(low, "infinity");
}

dp_ddb_num_limit dp_ddb_num_check_limits(const dp_ddb_num *num) {
    if (num->is_zero)
        return DP_DDB_NUM_OK;
    if (num->sig > 38)
        return DP_DDB_NUM_TOO_PRECISE;
    if (num->sci_exp < -130)
        return DP_DDB_NUM_TOO_SMALL;
    if (num->sci_exp > 125)
        return DP_DDB_NUM_TOO_LARGE;
    return DP_DDB_NUM_OK;
}

size_t dp_ddb_num_size(const dp_ddb_num *num) {
    return (num->sig + 1) / 2 + 1;
}

int dp_ddb_number_check(const char *text, size_t len, char *errstr, size_t n, const dp_attr_path *p) {
    dp_ddb_num num;
    char snip[48];
    if (looks_like_nan_inf(text, len)) {
        dp_attr_errf(errstr, n, p, "'%s' cannot be stored in DynamoDB (no NaN or Infinity numbers)",
                     dp_attr_snippet(text, len, snip, sizeof snip));
        return -1;
    }
    if (dp_ddb_number_scan(text, len, &num) != 0) {
        dp_attr_errf(errstr, n, p, "'%s' is not a valid number",
                     dp_attr_snippet(text, len, snip, sizeof snip));
        return -1;
    }
    switch (dp_ddb_num_check_limits(&num)) {
    case DP_DDB_NUM_OK:
        return 0;
    case DP_DDB_NUM_TOO_PRECISE:
        dp_attr_errf(errstr, n, p, "number has %zu significant digits, DynamoDB allows 38", num.sig);
        break;
    case DP_DDB_NUM_TOO_SMALL:
        dp_attr_errf(errstr, n, p, "number %s is too small in magnitude for DynamoDB (smallest is 1E-130)",
                     dp_attr_snippet(text, len, snip, sizeof snip));
        break;
    case DP_DDB_NUM_TOO_LARGE:
        dp_attr_errf(
            errstr, n, p,
            "number %s is too large for DynamoDB (largest is 9.9999999999999999999999999999999999999E+125)",
            dp_attr_snippet(text, len, snip, sizeof snip));
        break;
    }
    return -1;
}

int dp_ddb_number_valid(const char *text, size_t len, char *errstr, size_t errstr_size) {
    if (!text)
        return 0;
    return dp_ddb_number_check(text, len, errstr, errstr_size, NULL) == 0;
}

size_t dp_ddb_number_size(const char *text, size_t len) {
    dp_ddb_num num;
    if (!text || dp_ddb_number_scan(text, len, &num) != 0)
        return len / 2 + 1; /* not a number: an estimate */
    return dp_ddb_num_size(&num);
}

int dp_ddb_number_canonical(const char *text, size_t len, dp_buf *out) {
    dp_ddb_num num;
    if (!text || dp_ddb_number_scan(text, len, &num) != 0)
        return -1;
    if (num.is_zero)
        return dp_buf_putc(out, '0') == DDBPIPE_OK ? 0 : -1;
    if (num.neg && dp_buf_putc(out, '-') != DDBPIPE_OK)
        return -1;
    for (size_t k = 0; k < num.sig; k++)
        if (dp_buf_putc(out, dp_ddb_num_digit(&num, k)) != DDBPIPE_OK)
            return -1;
    return dp_buf_printf(out, "E%lld", num.last_exp) == DDBPIPE_OK ? 0 : -1;
}

/* ------------------------------------------------------------ base64 */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int dp_base64_valid(const char *in, size_t len, size_t *out_len) {
    if (len % 4 != 0)
        return 0;
    size_t pad = 0;
    if (len >= 4) {
        if (in[len - 1] == '=')
            pad++;
        if (in[len - 2] == '=')
            pad++;
    }
    if (pad == 1 && in[len - 2] == '=')
        return 0;
    for (size_t i = 0; i < len - pad; i++)
        if (b64_val((unsigned char)in[i]) < 0)
            return 0;
    if (out_len)
        *out_len = len / 4 * 3 - pad;
    return 1;
}

int dp_base64_decode(const char *in, size_t len, unsigned char *out, size_t *out_len) {
    size_t dlen;
    if (!dp_base64_valid(in, len, &dlen))
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = in[i + k] == '=' ? 0 : b64_val((unsigned char)in[i + k]);
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        for (int k = 0; k < 3 && o < dlen; k++)
            out[o++] = b[k];
    }
    if (out_len)
        *out_len = o;
    return 0;
}

size_t dp_base64_encode(const unsigned char *in, size_t len, char *out) {
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t w = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[(w >> 18) & 63];
        out[o++] = b64_alphabet[(w >> 12) & 63];
        out[o++] = b64_alphabet[(w >> 6) & 63];
        out[o++] = b64_alphabet[w & 63];
    }
    if (len - i == 1) {
        uint32_t w = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[(w >> 18) & 63];
        out[o++] = b64_alphabet[(w >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t w = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = b64_alphabet[(w >> 18) & 63];
        out[o++] = b64_alphabet[(w >> 12) & 63];
        out[o++] = b64_alphabet[(w >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

/* ------------------------------------------------------------ shape */

static const char *const av_types[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};

const char *dp_attr_type(const dp_json *av) {
    if (!av || av->type != DP_JSON_OBJECT || av->count != 1)
        return NULL;
    const char *k = av->members[0].key;
    /* hot path: no strcmp loop */
    switch (av->members[0].key_len) {
    case 1:
        return k[0] == 'S'   ? av_types[0]
               : k[0] == 'N' ? av_types[1]
               : k[0] == 'B' ? av_types[2]
               : k[0] == 'M' ? av_types[5]
               : k[0] == 'L' ? av_types[6]
                             : NULL;
    case 2:
        if (k[1] != 'S')
            return NULL;
        return k[0] == 'S' ? av_types[7] : k[0] == 'N' ? av_types[8] : k[0] == 'B' ? av_types[9] : NULL;
    case 4:
        return !memcmp(k, "BOOL", 4) ? av_types[3] : !memcmp(k, "NULL", 4) ? av_types[4] : NULL;
    }
    return NULL;
}

static const char *json_type_name(const dp_json *v) {
    if (!v)
        return "nothing";
    switch (v->type) {
    case DP_JSON_NULL:
        return "null";
    case DP_JSON_BOOL:
        return "a boolean";
    case DP_JSON_NUMBER:
        return "a number";
    case DP_JSON_STRING:
        return "a string";
    case DP_JSON_ARRAY:
        return "an array";
    case DP_JSON_OBJECT:
        return "an object";
    }
    return "?";
}

const char *dp_json_kind_name(const dp_json *v) {
    return json_type_name(v);
}

/* ------------------------------------------------------------ validation */

typedef struct set_elem {
    const char *p;
    size_t len;
} set_elem;

static int set_elem_cmp(const void *a, const void *b) {
    const set_elem *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, m);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Check set members are unique. Members are compared by value: numbers in
 * canonical form, binaries decoded. */
static int set_check_unique(const dp_json *arr, char kind, char *errstr, size_t n, const dp_attr_path *p) {
    int rc = -1;
    size_t cnt = arr->count;
    set_elem *el = calloc(cnt, sizeof *el);
    dp_buf canon;
    dp_buf_init(&canon, 0);
    size_t *offs = NULL;
    if (!el) {
        dp_attr_errf(errstr, n, p, "out of memory");
        goto out;
    }
    if (kind != 'S') {
        offs = calloc(cnt + 1, sizeof *offs);
        if (!offs) {
            dp_attr_errf(errstr, n, p, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < cnt; i++) {
            const dp_json *e = arr->items[i];
            offs[i] = canon.len;
            if (kind == 'N') {
                if (dp_ddb_number_canonical(e->str, e->len, &canon) != 0)
                    goto nomem;
            } else {
                size_t dl = 0;
                if (dp_buf_reserve(&canon, e->len + 4) != DDBPIPE_OK)
                    goto nomem;
                if (dp_base64_decode(e->str, e->len, (unsigned char *)canon.data + canon.len, &dl) != 0)
                    goto nomem;
                canon.len += dl;
            }
        }
        offs[cnt] = canon.len;
        for (size_t i = 0; i < cnt; i++) {
            el[i].p = canon.data ? canon.data + offs[i] : "";
            el[i].len = offs[i + 1] - offs[i];
        }
    } else {
        for (size_t i = 0; i < cnt; i++) {
            el[i].p = arr->items[i]->str;
            el[i].len = arr->items[i]->len;
        }
    }
    qsort(el, cnt, sizeof *el, set_elem_cmp);
    for (size_t i = 1; i < cnt; i++) {
        if (set_elem_cmp(&el[i - 1], &el[i]) == 0) {
            char snip[48];
            if (kind == 'B')
                dp_attr_errf(errstr, n, p,
                             "binary set has a duplicate member (DynamoDB sets hold unique values)");
            else
                dp_attr_errf(errstr, n, p,
                             "%s set has a duplicate member '%s' (DynamoDB sets hold unique values)",
                             kind == 'S' ? "string" : "number",
                             dp_attr_snippet(el[i].p, el[i].len, snip, sizeof snip));
            goto out;
        }
    }
    rc = 0;
    goto out;
nomem:
    dp_attr_errf(errstr, n, p, "out of memory");
out:
    free(el);
    free(offs);
    dp_buf_free(&canon);
    return rc;
}

/* Index of a member whose name repeats an earlier one, or -1. DynamoDB never
 * sends two attributes of one name, and a request with two is ambiguous, so
 * typed input with duplicates is rejected rather than guessed at. */
static long dup_member(const dp_json *obj) {
    for (size_t i = 1; i < obj->count; i++)
        for (size_t j = 0; j < i; j++)
            if (obj->members[i].key_len == obj->members[j].key_len &&
                memcmp(obj->members[i].key, obj->members[j].key, obj->members[i].key_len) == 0)
                return (long)i;
    return -1;
}

int dp_attr_check(const dp_json *av, int depth, char *errstr, size_t n, dp_attr_path *p) {
    const char *t = dp_attr_type(av);
    if (!t) {
        if (!av || av->type != DP_JSON_OBJECT)
            dp_attr_errf(errstr, n, p, "expected a typed AttributeValue object like {\"S\": ...}, got %s",
                         json_type_name(av));
        else if (av->count != 1)
            dp_attr_errf(errstr, n, p, "an AttributeValue must have exactly one type key, this one has %zu",
                         av->count);
        else {
            char snip[48];
            dp_attr_errf(
                errstr, n, p,
                "unknown AttributeValue type '%s' (expected S, N, B, BOOL, NULL, M, L, SS, NS or BS)",
                dp_attr_snippet(av->members[0].key, av->members[0].key_len, snip, sizeof snip));
        }
        return -1;
    }
    const dp_json *v = av->members[0].value;
    if (t == av_types[0]) {
        if (v->type != DP_JSON_STRING) {
            dp_attr_errf(errstr, n, p, "S value must be a string, got %s", json_type_name(v));
            return -1;
        }
        return 0;
    }
    if (t == av_types[2]) {
        if (v->type != DP_JSON_STRING) {
            dp_attr_errf(errstr, n, p, "B value must be a base64 string, got %s", json_type_name(v));
            return -1;
        }
        if (!dp_base64_valid(v->str, v->len, NULL)) {
            dp_attr_errf(errstr, n, p, "B value is not valid base64");
            return -1;
        }
        return 0;
    }
    if (t == av_types[3]) {
        if (v->type != DP_JSON_BOOL) {
            dp_attr_errf(errstr, n, p, "BOOL value must be true or false, got %s", json_type_name(v));
            return -1;
        }
        return 0;
    }
    if (t == av_types[1]) {
        if (v->type != DP_JSON_STRING) {
            dp_attr_errf(errstr, n, p, "N value must be a string holding the number, got %s",
                         json_type_name(v));
            return -1;
        }
        return dp_ddb_number_check(v->str, v->len, errstr, n, p);
    }
    if (t == av_types[4]) {
        if (v->type != DP_JSON_BOOL || !v->boolean) {
            dp_attr_errf(errstr, n, p, "NULL value must be true");
            return -1;
        }
        return 0;
    }
    if ((t == av_types[7]) || (t == av_types[8]) || (t == av_types[9])) {
        char kind = t[0];
        const char *kname = kind == 'S' ? "string" : kind == 'N' ? "number" : "binary";
        if (v->type != DP_JSON_ARRAY) {
            dp_attr_errf(errstr, n, p, "%s value must be an array, got %s", t, json_type_name(v));
            return -1;
        }
        if (v->count == 0) {
            dp_attr_errf(errstr, n, p, "empty %s set: DynamoDB does not store empty sets", kname);
            return -1;
        }
        for (size_t i = 0; i < v->count; i++) {
            const dp_json *e = v->items[i];
            if (e->type != DP_JSON_STRING) {
                dp_attr_errf(errstr, n, p, "%s member %zu must be a string, got %s", t, i, json_type_name(e));
                return -1;
            }
            if (kind == 'N' && dp_ddb_number_check(e->str, e->len, errstr, n, p) != 0)
                return -1;
            if (kind == 'B' && !dp_base64_valid(e->str, e->len, NULL)) {
                dp_attr_errf(errstr, n, p, "BS member %zu is not valid base64", i);
                return -1;
            }
        }
        return set_check_unique(v, kind, errstr, n, p);
    }
    /* M and L */
    if (depth >= DP_DDB_MAX_DEPTH) {
        dp_attr_errf(errstr, n, p, "nested more than %d levels deep (DynamoDB's limit)", DP_DDB_MAX_DEPTH);
        return -1;
    }
    if (t[0] == 'M') {
        if (v->type != DP_JSON_OBJECT) {
            dp_attr_errf(errstr, n, p, "M value must be an object, got %s", json_type_name(v));
            return -1;
        }
        long d = dup_member(v);
        if (d >= 0) {
            dp_attr_errf(errstr, n, p, "M has the key '%.*s' twice", (int)v->members[d].key_len,
                         v->members[d].key);
            return -1;
        }
        for (size_t i = 0; i < v->count; i++) {
            size_t mark = dp_attr_path_push_member(p, v->members[i].key, v->members[i].key_len);
            int rc = dp_attr_check(v->members[i].value, depth + 1, errstr, n, p);
            dp_attr_path_pop(p, mark);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (v->type != DP_JSON_ARRAY) {
        dp_attr_errf(errstr, n, p, "L value must be an array, got %s", json_type_name(v));
        return -1;
    }
    for (size_t i = 0; i < v->count; i++) {
        size_t mark = dp_attr_path_push_index(p, i);
        int rc = dp_attr_check(v->items[i], depth + 1, errstr, n, p);
        dp_attr_path_pop(p, mark);
        if (rc)
            return rc;
    }
    return 0;
}

int dp_attr_validate(const dp_json *av, char *errstr, size_t errstr_size) {
    dp_attr_path p;
    dp_attr_path_init(&p, NULL);
    return dp_attr_check(av, 0, errstr, errstr_size, &p);
}

int dp_attr_validate_at(const dp_json *av, const char *name, char *errstr, size_t errstr_size) {
    dp_attr_path p;
    dp_attr_path_init(&p, name);
    return dp_attr_check(av, 0, errstr, errstr_size, &p);
}

/* ------------------------------------------------------------ size */

size_t dp_attr_size(const dp_json *av) {
    const char *t = dp_attr_type(av);
    if (!t)
        return 0;
    const dp_json *v = av->members[0].value;
    size_t sz = 0;
    if (t == av_types[0])
        return v->type == DP_JSON_STRING ? v->len : 0;
    if (t == av_types[1])
        return v->type == DP_JSON_STRING ? dp_ddb_number_size(v->str, v->len) : 0;
    if (t == av_types[2]) {
        size_t dl = 0;
        if (v->type != DP_JSON_STRING)
            return 0;
        if (!dp_base64_valid(v->str, v->len, &dl))
            dl = v->len * 3 / 4;
        return dl;
    }
    if ((t == av_types[3]) || (t == av_types[4]))
        return 1;
    if (t == av_types[5]) {
        if (v->type != DP_JSON_OBJECT)
            return 0;
        sz = 3;
        for (size_t i = 0; i < v->count; i++)
            sz += 1 + v->members[i].key_len + dp_attr_size(v->members[i].value);
        return sz;
    }
    if (t == av_types[6]) {
        if (v->type != DP_JSON_ARRAY)
            return 0;
        sz = 3;
        for (size_t i = 0; i < v->count; i++)
            sz += 1 + dp_attr_size(v->items[i]);
        return sz;
    }
    /* sets: sum of members */
    if (v->type != DP_JSON_ARRAY)
        return 0;
    for (size_t i = 0; i < v->count; i++) {
        const dp_json *e = v->items[i];
        if (e->type != DP_JSON_STRING)
            continue;
        if (t[0] == 'S')
            sz += e->len;
        else if (t[0] == 'N')
            sz += dp_ddb_number_size(e->str, e->len);
        else {
            size_t dl = 0;
            if (!dp_base64_valid(e->str, e->len, &dl))
                dl = e->len * 3 / 4;
            sz += dl;
        }
    }
    return sz;
}

size_t dp_item_size(const dp_json *item) {
    size_t sz = 0;
    if (!item || item->type != DP_JSON_OBJECT)
        return 0;
    for (size_t i = 0; i < item->count; i++)
        sz += item->members[i].key_len + dp_attr_size(item->members[i].value);
    return sz;
}

/* ------------------------------------------------------------ keys */

static const char *type_long_name(const char *t) {
    if (t == av_types[0])
        return "a string (S)";
    if (t == av_types[1])
        return "a number (N)";
    if (t == av_types[2])
        return "a binary (B)";
    if (t == av_types[3])
        return "a BOOL";
    if (t == av_types[4])
        return "a NULL";
    if (t == av_types[5])
        return "a map (M)";
    if (t == av_types[6])
        return "a list (L)";
    if (t == av_types[7])
        return "a string set (SS)";
    if (t == av_types[8])
        return "a number set (NS)";
    return "a binary set (BS)";
}

static int check_one_key(const dp_json *item, const char *name, char want, int is_sort, char *errstr,
                         size_t n) {
    const char *role = is_sort ? "sort key" : "partition key";
    const dp_json *av = dp_json_get(item, name);
    char snip[80];
    if (!av) {
        dp_errf(errstr, n, "missing %s '%s'", role, dp_attr_snippet(name, strlen(name), snip, sizeof snip));
        return -1;
    }
    const char *t = dp_attr_type(av);
    if (!t) {
        dp_attr_path p;
        dp_attr_path_init(&p, name);
        return dp_attr_check(av, 0, errstr, n, &p);
    }
    if ((t != av_types[0]) && (t != av_types[1]) && (t != av_types[2])) {
        dp_errf(errstr, n, "key '%s' is %s, DynamoDB keys must be S, N or B",
                dp_attr_snippet(name, strlen(name), snip, sizeof snip), type_long_name(t));
        return -1;
    }
    if (want && t[0] != want) {
        char wt[2] = {want, 0};
        dp_errf(errstr, n, "key '%s' is %s, the table's %s type is %s",
                dp_attr_snippet(name, strlen(name), snip, sizeof snip), type_long_name(t), role, wt);
        return -1;
    }
    dp_attr_path p;
    dp_attr_path_init(&p, name);
    if (dp_attr_check(av, 0, errstr, n, &p) != 0)
        return -1;
    const dp_json *v = av->members[0].value;
    size_t bytes = v->len;
    if (t[0] == 'B')
        dp_base64_valid(v->str, v->len, &bytes);
    else if (t[0] == 'N')
        bytes = dp_ddb_number_size(v->str, v->len);
    if (t[0] != 'N' && bytes == 0) {
        dp_errf(errstr, n, "%s '%s' is empty; DynamoDB key values must not be empty", role,
                dp_attr_snippet(name, strlen(name), snip, sizeof snip));
        return -1;
    }
    size_t max = is_sort ? DP_DDB_MAX_SK_BYTES : DP_DDB_MAX_PK_BYTES;
    if (bytes > max) {
        dp_errf(errstr, n, "%s '%s' is %zu bytes, DynamoDB allows at most %zu", role,
                dp_attr_snippet(name, strlen(name), snip, sizeof snip), bytes, max);
        return -1;
    }
    return 0;
}

int dp_item_validate_keys(const dp_json *item, const char *partition_key, char partition_type,
                          const char *sort_key, char sort_type, char *errstr, size_t errstr_size) {
    if (!item || item->type != DP_JSON_OBJECT) {
        dp_errf(errstr, errstr_size, "item must be an object");
        return -1;
    }
    if (partition_key && check_one_key(item, partition_key, partition_type, 0, errstr, errstr_size) != 0)
        return -1;
    if (sort_key && *sort_key && check_one_key(item, sort_key, sort_type, 1, errstr, errstr_size) != 0)
        return -1;
    return 0;
}

int dp_item_validate_typed(const dp_json *item, const char *partition_key, char partition_type,
                           const char *sort_key, char sort_type, char *errstr, size_t errstr_size) {
    if (!item || item->type != DP_JSON_OBJECT) {
        dp_errf(errstr, errstr_size, "item must be an object");
        return -1;
    }
    if (dp_item_validate_keys(item, partition_key, partition_type, sort_key, sort_type, errstr, errstr_size))
        return -1;
    long dup = dup_member(item);
    if (dup >= 0) {
        dp_errf(errstr, errstr_size, "attribute '%.*s' appears twice", (int)item->members[dup].key_len,
                item->members[dup].key);
        return -1;
    }
    for (size_t i = 0; i < item->count; i++) {
        const dp_json_member *m = &item->members[i];
        if (m->key_len == 0) {
            dp_errf(errstr, errstr_size, "an attribute name is empty; DynamoDB names are at least 1 byte");
            return -1;
        }
        if (m->key_len > 65535) {
            dp_errf(errstr, errstr_size, "an attribute name is %zu bytes, DynamoDB allows 65535", m->key_len);
            return -1;
        }
        dp_attr_path p;
        p.len = 0;
        p.buf[0] = 0;
        p.named = 1;
        dp_attr_path_push_member(&p, m->key, m->key_len);
        if (dp_attr_check(m->value, 0, errstr, errstr_size, &p) != 0)
            return -1;
    }
    size_t sz = dp_item_size(item);
    if (sz > (size_t)DP_DDB_MAX_ITEM_BYTES) {
        dp_errf(errstr, errstr_size, "item is %zu bytes by DynamoDB's size rules, the limit is %d (400 KB)",
                sz, DP_DDB_MAX_ITEM_BYTES);
        return DP_ITEM_TOO_LARGE;
    }
    return 0;
}

int dp_item_validate(const dp_json *item, const char *partition_key, const char *sort_key, char *errstr,
                     size_t errstr_size) {
    return dp_item_validate_typed(item, partition_key, 0, sort_key, 0, errstr, errstr_size);
}

static int key_part(const dp_json *item, const char *name, dp_buf *out) {
    const dp_json *av = dp_json_get(item, name);
    const char *t = dp_attr_type(av);
    if (!t || t[1] != 0 || (t[0] != 'S' && t[0] != 'N' && t[0] != 'B'))
        return -1;
    const dp_json *v = av->members[0].value;
    if (v->type != DP_JSON_STRING)
        return -1;
    if (t[0] == 'S') {
        if (dp_buf_printf(out, "S%zu:", v->len) || dp_buf_append(out, v->str, v->len))
            return -1;
        return 0;
    }
    if (t[0] == 'N') {
        dp_buf tmp;
        dp_buf_init(&tmp, 0);
        int rc = -1;
        if (dp_ddb_number_canonical(v->str, v->len, &tmp) == 0 && !dp_buf_printf(out, "N%zu:", tmp.len) &&
            !dp_buf_append(out, tmp.data, tmp.len))
            rc = 0;
        dp_buf_free(&tmp);
        return rc;
    }
    size_t dl = 0;
    if (!dp_base64_valid(v->str, v->len, &dl))
        return -1;
    unsigned char *raw = malloc(dl + 3);
    if (!raw)
        return -1;
    int rc = -1;
    if (dp_base64_decode(v->str, v->len, raw, &dl) == 0 && !dp_buf_printf(out, "B%zu:", dl) &&
        !dp_buf_append(out, raw, dl))
        rc = 0;
    free(raw);
    return rc;
}

int dp_item_key_string(const dp_json *item, const char *partition_key, const char *sort_key, dp_buf *out) {
    if (!item || !partition_key || !out)
        return -1;
    if (key_part(item, partition_key, out) != 0)
        return -1;
    if (sort_key && *sort_key) {
        if (dp_buf_putc(out, '|') != DDBPIPE_OK || key_part(item, sort_key, out) != 0)
            return -1;
    }
    return 0;
}

dp_json *dp_item_extract_keys(dp_json_doc *doc, const dp_json *item, const char *partition_key,
                              const char *sort_key) {
    const char *names[2] = {partition_key, sort_key};
    dp_json *keys = dp_json_new_object(doc);
    if (!keys || !partition_key)
        return NULL;
    for (int i = 0; i < 2; i++) {
        if (!names[i] || !*names[i])
            continue;
        const dp_json *av = dp_json_get(item, names[i]);
        if (!av)
            return NULL;
        dp_json *c = dp_json_clone(doc, av);
        if (!c || dp_json_object_set(doc, keys, names[i], strlen(names[i]), c) != 0)
            return NULL;
    }
    return keys;
}

const dp_column *dp_column_find(const dp_column *columns, size_t ncolumns, const char *name) {
    for (size_t i = 0; columns && i < ncolumns; i++)
        if (!strcmp(columns[i].name, name))
            return &columns[i];
    return NULL;
}

/* ------------------------------------------------------------ typed -> plain */

static dp_json *to_plain(dp_json_doc *doc, const dp_json *av, int depth, char *errstr, size_t n,
                         dp_attr_path *p) {
    const char *t = dp_attr_type(av);
    if (!t || depth > DP_DDB_MAX_DEPTH) {
        dp_attr_check(av, depth, errstr, n, p);
        return NULL;
    }
    const dp_json *v = av->members[0].value;
    if ((t == av_types[0]) || (t == av_types[2])) {
        if (v->type != DP_JSON_STRING)
            goto bad;
        return dp_json_new_string(doc, v->str, v->len);
    }
    if (t == av_types[1]) {
        if (v->type != DP_JSON_STRING || dp_ddb_number_check(v->str, v->len, errstr, n, p) != 0)
            goto bad;
        return dp_json_new_number(doc, v->str, v->len);
    }
    if (t == av_types[3]) {
        if (v->type != DP_JSON_BOOL)
            goto bad;
        return dp_json_new_bool(doc, v->boolean);
    }
    if (t == av_types[4])
        return dp_json_new_null(doc);
    if (t == av_types[5]) {
        if (v->type != DP_JSON_OBJECT)
            goto bad;
        dp_json *o = dp_json_new_object(doc);
        if (!o)
            return NULL;
        for (size_t i = 0; i < v->count; i++) {
            size_t mark = dp_attr_path_push_member(p, v->members[i].key, v->members[i].key_len);
            dp_json *c = to_plain(doc, v->members[i].value, depth + 1, errstr, n, p);
            dp_attr_path_pop(p, mark);
            if (!c || dp_json_object_set(doc, o, v->members[i].key, v->members[i].key_len, c) != 0)
                return NULL;
        }
        return o;
    }
    /* L and sets */
    if (v->type != DP_JSON_ARRAY)
        goto bad;
    dp_json *a = dp_json_new_array(doc);
    if (!a)
        return NULL;
    for (size_t i = 0; i < v->count; i++) {
        const dp_json *e = v->items[i];
        dp_json *c = NULL;
        if (t[0] == 'L') {
            size_t mark = dp_attr_path_push_index(p, i);
            c = to_plain(doc, e, depth + 1, errstr, n, p);
            dp_attr_path_pop(p, mark);
        } else if (e->type == DP_JSON_STRING) {
            if (t[0] == 'N') {
                if (dp_ddb_number_check(e->str, e->len, errstr, n, p) != 0)
                    return NULL;
                c = dp_json_new_number(doc, e->str, e->len);
            } else {
                c = dp_json_new_string(doc, e->str, e->len);
            }
        } else {
            goto bad;
        }
        if (!c || dp_json_array_append(doc, a, c) != 0)
            return NULL;
    }
    return a;
bad:
    dp_attr_check(av, depth, errstr, n, p);
    return NULL;
}

dp_json *dp_attr_to_plain(dp_json_doc *doc, const dp_json *av, char *errstr, size_t errstr_size) {
    dp_attr_path p;
    dp_attr_path_init(&p, NULL);
    return to_plain(doc, av, 0, errstr, errstr_size, &p);
}

dp_json *dp_item_to_plain(dp_json_doc *doc, const dp_json *item, char *errstr, size_t errstr_size) {
    if (!item || item->type != DP_JSON_OBJECT) {
        dp_errf(errstr, errstr_size, "item must be an object, got %s", json_type_name(item));
        return NULL;
    }
    dp_json *o = dp_json_new_object(doc);
    if (!o)
        return NULL;
    for (size_t i = 0; i < item->count; i++) {
        dp_attr_path p;
        p.len = 0;
        p.buf[0] = 0;
        p.named = 1;
        dp_attr_path_push_member(&p, item->members[i].key, item->members[i].key_len);
        dp_json *c = to_plain(doc, item->members[i].value, 0, errstr, errstr_size, &p);
        if (!c || dp_json_object_set(doc, o, item->members[i].key, item->members[i].key_len, c) != 0)
            return NULL;
    }
    return o;
}

/* Streaming plain writer: same mapping as to_plain, no tree. */
static int write_plain(dp_buf *out, const dp_json *av, int depth, char *errstr, size_t n, dp_attr_path *p) {
    const char *t = dp_attr_type(av);
    if (!t || depth > DP_DDB_MAX_DEPTH)
        goto bad;
    const dp_json *v = av->members[0].value;
    if ((t == av_types[0]) || (t == av_types[2])) {
        if (v->type != DP_JSON_STRING)
            goto bad;
        return dp_json_write_string(out, v->str, v->len) == DDBPIPE_OK ? 0 : -1;
    }
    if (t == av_types[1]) {
        if (v->type != DP_JSON_STRING || dp_ddb_number_check(v->str, v->len, errstr, n, p) != 0)
            return -1;
        return dp_buf_append(out, v->str, v->len) == DDBPIPE_OK ? 0 : -1;
    }
    if (t == av_types[3]) {
        if (v->type != DP_JSON_BOOL)
            goto bad;
        return dp_buf_puts(out, v->boolean ? "true" : "false") == DDBPIPE_OK ? 0 : -1;
    }
    if (t == av_types[4])
        return dp_buf_puts(out, "null") == DDBPIPE_OK ? 0 : -1;
    if (t == av_types[5]) {
        if (v->type != DP_JSON_OBJECT)
            goto bad;
        if (dp_buf_putc(out, '{'))
            return -1;
        for (size_t i = 0; i < v->count; i++) {
            if ((i && dp_buf_putc(out, ',')) ||
                dp_json_write_string(out, v->members[i].key, v->members[i].key_len) || dp_buf_putc(out, ':'))
                return -1;
            size_t mark = dp_attr_path_push_member(p, v->members[i].key, v->members[i].key_len);
            int rc = write_plain(out, v->members[i].value, depth + 1, errstr, n, p);
            dp_attr_path_pop(p, mark);
            if (rc)
                return rc;
        }
        return dp_buf_putc(out, '}') == DDBPIPE_OK ? 0 : -1;
    }
    if (v->type != DP_JSON_ARRAY)
        goto bad;
    if (dp_buf_putc(out, '['))
        return -1;
    for (size_t i = 0; i < v->count; i++) {
        const dp_json *e = v->items[i];
        if (i && dp_buf_putc(out, ','))
            return -1;
        if (t[0] == 'L') {
            size_t mark = dp_attr_path_push_index(p, i);
            int rc = write_plain(out, e, depth + 1, errstr, n, p);
            dp_attr_path_pop(p, mark);
            if (rc)
                return rc;
            continue;
        }
        if (e->type != DP_JSON_STRING)
            goto bad;
        if (t[0] == 'N') {
            if (dp_ddb_number_check(e->str, e->len, errstr, n, p) != 0 || dp_buf_append(out, e->str, e->len))
                return -1;
        } else if (dp_json_write_string(out, e->str, e->len)) {
            return -1;
        }
    }
    return dp_buf_putc(out, ']') == DDBPIPE_OK ? 0 : -1;
bad:
    if (dp_attr_check(av, depth, errstr, n, p) == 0)
        dp_attr_errf(errstr, n, p, "malformed AttributeValue");
    return -1;
}

static void buf_truncate(dp_buf *out, size_t len) {
    out->len = len;
    if (out->data)
        out->data[len] = 0;
}

ddbpipe_result_t dp_attr_write_plain(dp_buf *out, const dp_json *av, char *errstr, size_t errstr_size) {
    size_t start = out->len;
    dp_attr_path p;
    dp_attr_path_init(&p, NULL);
    dp_errf(errstr, errstr_size, "out of memory or output too large");
    if (write_plain(out, av, 0, errstr, errstr_size, &p) != 0) {
        buf_truncate(out, start);
        return DDBPIPE_ERR_VALIDATION;
    }
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_item_write_plain(dp_buf *out, const dp_json *item, char *errstr, size_t errstr_size) {
    size_t start = out->len;
    if (!item || item->type != DP_JSON_OBJECT) {
        dp_errf(errstr, errstr_size, "item must be an object, got %s", json_type_name(item));
        return DDBPIPE_ERR_VALIDATION;
    }
    dp_errf(errstr, errstr_size, "out of memory or output too large");
    if (dp_buf_putc(out, '{'))
        goto fail;
    for (size_t i = 0; i < item->count; i++) {
        const dp_json_member *m = &item->members[i];
        if ((i && dp_buf_putc(out, ',')) || dp_json_write_string(out, m->key, m->key_len) ||
            dp_buf_putc(out, ':'))
            goto fail;
        dp_attr_path p;
        p.len = 0;
        p.buf[0] = 0;
        p.named = 1;
        dp_attr_path_push_member(&p, m->key, m->key_len);
        if (write_plain(out, m->value, 0, errstr, errstr_size, &p) != 0)
            goto fail;
    }
    if (dp_buf_putc(out, '}'))
        goto fail;
    return DDBPIPE_OK;
fail:
    buf_truncate(out, start);
    return DDBPIPE_ERR_VALIDATION;
}
