/* Column types (SQL types of seed 004's mapping) and plain JSON ->
 * AttributeValue conversion that applies them. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "ddb/attr.h"
#include "ddb/attr_internal.h"

const char *dp_coltype_name(dp_coltype_kind kind) {
    switch (kind) {
    case DP_COL_AUTO:
        return "AUTO";
    case DP_COL_BOOLEAN:
        return "BOOLEAN";
    case DP_COL_INTEGER:
        return "INTEGER";
    case DP_COL_DECIMAL:
        return "DECIMAL";
    case DP_COL_FLOAT:
        return "DOUBLE";
    case DP_COL_STRING:
        return "VARCHAR";
    case DP_COL_DATE:
        return "DATE";
    case DP_COL_TIME:
        return "TIME";
    case DP_COL_TIMESTAMP:
        return "TIMESTAMP";
    case DP_COL_UUID:
        return "UUID";
    case DP_COL_BINARY:
        return "VARBINARY";
    case DP_COL_ARRAY:
        return "ARRAY";
    case DP_COL_MAP:
        return "MAP";
    case DP_COL_VARIANT:
        return "VARIANT";
    case DP_COL_STRING_SET:
        return "STRING SET";
    case DP_COL_NUMBER_SET:
        return "NUMBER SET";
    case DP_COL_BINARY_SET:
        return "BINARY SET";
    }
    return "?";
}

/* ------------------------------------------------------------ parsing */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int starts_with(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}

/* Replace the first occurrence of `from` at a word start with `to` (to is
 * never longer than from). */
static void replace_word(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    char *p = s;
    while ((p = strstr(p, from)) != NULL) {
        int start_ok = p == s || p[-1] == ' ' || p[-1] == '<' || p[-1] == '(';
        if (start_ok) {
            /* splices `to` over the start of the word; the memmove keeps s's terminator */
            /* bugprone-not-null-terminated-result: writes inside s, not a new string */
            memcpy(p, to, tl); // NOLINT(bugprone-not-null-terminated-result)
            memmove(p + tl, p + fl, strlen(p + fl) + 1);
            return;
        }
        p += fl;
    }
}

int dp_coltype_parse(const char *text, dp_coltype *out, char *errstr, size_t errstr_size) {
    char t[256];
    size_t o = 0;
    int space = 0;
    memset(out, 0, sizeof *out);
    if (!text) {
        dp_errf(errstr, errstr_size, "empty column type");
        return -1;
    }
    /* Upper-case, collapse whitespace, trim. */
    for (const char *s = text; *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = o > 0;
            continue;
        }
        if (o + 2 >= sizeof t) {
            dp_errf(errstr, errstr_size, "column type is too long");
            return -1;
        }
        if (space && *s != '(' && *s != ')' && *s != ',' && *s != '<' && *s != '>' && t[o - 1] != '(' &&
            t[o - 1] != ',' && t[o - 1] != '<')
            t[o++] = ' ';
        space = 0;
        t[o++] = (char)toupper((unsigned char)*s);
    }
    t[o] = 0;
    if (o == 0) {
        dp_errf(errstr, errstr_size, "empty column type");
        return -1;
    }
    if (ends_with(t, " NOT NULL"))
        t[strlen(t) - 9] = 0;
    else if (ends_with(t, " NULL"))
        t[strlen(t) - 5] = 0;
    replace_word(t, "DOUBLE PRECISION", "DOUBLE");
    replace_word(t, "CHARACTER VARYING", "VARCHAR");

    /* Sets, arrays and maps first (their element types are free-form). */
    if (!strcmp(t, "SS") || !strcmp(t, "STRING SET") || !strcmp(t, "STRINGSET")) {
        out->kind = DP_COL_STRING_SET;
        return 0;
    }
    if (!strcmp(t, "NS") || !strcmp(t, "NUMBER SET") || !strcmp(t, "NUMBERSET")) {
        out->kind = DP_COL_NUMBER_SET;
        return 0;
    }
    if (!strcmp(t, "BS") || !strcmp(t, "BINARY SET") || !strcmp(t, "BINARYSET")) {
        out->kind = DP_COL_BINARY_SET;
        return 0;
    }
    if (!strcmp(t, "L") || !strcmp(t, "LIST") || !strcmp(t, "ARRAY") || ends_with(t, " ARRAY") ||
        (starts_with(t, "ARRAY<") && ends_with(t, ">")) || (starts_with(t, "LIST<") && ends_with(t, ">"))) {
        out->kind = DP_COL_ARRAY;
        return 0;
    }
    if (!strcmp(t, "M") || !strcmp(t, "MAP") || !strcmp(t, "ROW") || !strcmp(t, "STRUCT") ||
        (starts_with(t, "MAP<") && ends_with(t, ">")) || (starts_with(t, "ROW<") && ends_with(t, ">")) ||
        (starts_with(t, "ROW(") && ends_with(t, ")")) || (starts_with(t, "STRUCT<") && ends_with(t, ">"))) {
        out->kind = DP_COL_MAP;
        return 0;
    }

    /* BASE [(args)] [suffix] */
    char base[64];
    size_t b = 0;
    const char *p = t;
    while (*p && (isalnum((unsigned char)*p) || *p == '_') && b + 1 < sizeof base)
        base[b++] = *p++;
    base[b] = 0;
    long args[2] = {-1, -1};
    int nargs = 0;
    if (*p == '(') {
        p++;
        while (*p && *p != ')') {
            if (nargs == 2 || !isdigit((unsigned char)*p))
                goto bad;
            char *end;
            args[nargs++] = strtol(p, &end, 10);
            p = end;
            if (*p == ',')
                p++;
            else if (*p != ')')
                goto bad;
        }
        if (*p != ')')
            goto bad;
        p++;
    }
    if (*p == ' ')
        p++;
    const char *suffix = p;

#define IS(x) (!strcmp(base, x))
    if (IS("BOOLEAN") || IS("BOOL")) {
        out->kind = DP_COL_BOOLEAN;
    } else if (IS("TINYINT") || IS("INT1")) {
        out->kind = DP_COL_INTEGER;
        out->int_min = INT8_MIN;
        out->int_max = INT8_MAX;
    } else if (IS("SMALLINT") || IS("INT2")) {
        out->kind = DP_COL_INTEGER;
        out->int_min = INT16_MIN;
        out->int_max = INT16_MAX;
    } else if (IS("INT") || IS("INTEGER") || IS("INT4")) {
        out->kind = DP_COL_INTEGER;
        out->int_min = INT32_MIN;
        out->int_max = INT32_MAX;
    } else if (IS("BIGINT") || IS("INT8")) {
        out->kind = DP_COL_INTEGER;
        out->int_min = INT64_MIN;
        out->int_max = INT64_MAX;
    } else if (IS("DECIMAL") || IS("NUMERIC") || IS("DEC") || IS("NUMBER") || IS("N")) {
        out->kind = DP_COL_DECIMAL;
        if (nargs >= 1) {
            out->precision = (int)args[0];
            out->scale = nargs == 2 ? (int)args[1] : 0;
            if (args[0] < 1 || args[0] > 38) {
                dp_errf(errstr, errstr_size,
                        "column type '%s': DECIMAL precision must be 1..38 (DynamoDB keeps 38 digits)", text);
                return -1;
            }
            if (args[1] > args[0]) {
                dp_errf(errstr, errstr_size, "column type '%s': DECIMAL scale must be 0..precision", text);
                return -1;
            }
        }
        nargs = 0;
    } else if (IS("REAL") || IS("FLOAT") || IS("DOUBLE") || IS("FLOAT4") || IS("FLOAT8")) {
        out->kind = DP_COL_FLOAT;
        nargs = 0;
    } else if (IS("VARCHAR") || IS("CHAR") || IS("CHARACTER") || IS("STRING") || IS("TEXT") || IS("S") ||
               IS("NVARCHAR") || IS("NCHAR")) {
        out->kind = DP_COL_STRING;
        nargs = 0;
    } else if (IS("DATE")) {
        out->kind = DP_COL_DATE;
    } else if (IS("TIME")) {
        out->kind = DP_COL_TIME;
        out->precision = nargs ? (int)args[0] : 0;
        nargs = 0;
        if (*suffix && strcmp(suffix, "WITHOUT TIME ZONE") != 0 && strcmp(suffix, "WITH TIME ZONE") != 0)
            goto bad;
        suffix = "";
    } else if (IS("TIMESTAMP") || IS("DATETIME") || IS("TIMESTAMP_LTZ") || IS("TIMESTAMPTZ")) {
        out->kind = DP_COL_TIMESTAMP;
        out->precision = nargs ? (int)args[0] : 0;
        nargs = 0;
        if (*suffix && strcmp(suffix, "WITHOUT TIME ZONE") != 0 && strcmp(suffix, "WITH TIME ZONE") != 0 &&
            strcmp(suffix, "WITH LOCAL TIME ZONE") != 0)
            goto bad;
        suffix = "";
    } else if (IS("UUID")) {
        out->kind = DP_COL_UUID;
    } else if (IS("VARBINARY") || IS("BINARY") || IS("BYTES") || IS("BLOB") || IS("BYTEA") || IS("B")) {
        out->kind = DP_COL_BINARY;
        nargs = 0;
    } else if (IS("VARIANT") || IS("JSON") || IS("ANY") || IS("AUTO")) {
        out->kind = DP_COL_VARIANT;
    } else {
        dp_errf(
            errstr, errstr_size,
            "unknown column type '%s' (known: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, DECIMAL(p,s), REAL, "
            "DOUBLE, VARCHAR, DATE, TIME, TIMESTAMP, UUID, VARBINARY, ARRAY, MAP, ROW, VARIANT, STRING SET, "
            "NUMBER SET, BINARY SET)",
            text);
        return -1;
    }
#undef IS
    if (nargs > 0 || *suffix)
        goto bad;
    return 0;
bad:
    dp_errf(errstr, errstr_size, "cannot parse column type '%s'", text);
    memset(out, 0, sizeof *out);
    return -1;
}

/* ------------------------------------------------------------ values */

static int is_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int num2(const char *s) {
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int days_in_month(int y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

static int valid_date(const char *s, size_t n) {
    if (n != 10 || s[4] != '-' || s[7] != '-' || !is_digits(s, 4) || !is_digits(s + 5, 2) ||
        !is_digits(s + 8, 2))
        return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2);
    int m = num2(s + 5), d = num2(s + 8);
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* HH:MM:SS[.fraction] (seconds up to 60 for a leap second). Returns chars
 * consumed, 0 if invalid. */
static size_t scan_time(const char *s, size_t n) {
    if (n < 8 || s[2] != ':' || s[5] != ':' || !is_digits(s, 2) || !is_digits(s + 3, 2) ||
        !is_digits(s + 6, 2))
        return 0;
    if (num2(s) > 23 || num2(s + 3) > 59 || num2(s + 6) > 60)
        return 0;
    size_t i = 8;
    if (i < n && s[i] == '.') {
        size_t fs = ++i;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i == fs)
            return 0;
    }
    return i;
}

static int valid_time(const char *s, size_t n) {
    size_t k = scan_time(s, n);
    return k > 0 && k == n;
}

/* YYYY-MM-DD[T ]HH:MM:SS[.f][Z|+HH:MM|-HH:MM|+HHMM] */
static int valid_timestamp(const char *s, size_t n) {
    if (n < 19 || !valid_date(s, 10) || (s[10] != 'T' && s[10] != ' ' && s[10] != 't'))
        return 0;
    size_t k = scan_time(s + 11, n - 11);
    if (!k)
        return 0;
    const char *z = s + 11 + k;
    size_t zl = n - 11 - k;
    if (zl == 0)
        return 1;
    if (zl == 1 && (z[0] == 'Z' || z[0] == 'z'))
        return 1;
    if ((z[0] == '+' || z[0] == '-') && zl == 6 && z[3] == ':' && is_digits(z + 1, 2) && is_digits(z + 4, 2))
        return num2(z + 1) <= 23 && num2(z + 4) <= 59;
    if ((z[0] == '+' || z[0] == '-') && zl == 5 && is_digits(z + 1, 4))
        return num2(z + 1) <= 23 && num2(z + 3) <= 59;
    return 0;
}

static int valid_uuid(const char *s, size_t n) {
    if (n != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil_from_days(long long z, long long *y, int *m, int *d) {
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (*m <= 2);
}

static dp_json *typed(dp_json_doc *doc, const char *tag, dp_json *v) {
    if (!v)
        return NULL;
    dp_json *o = dp_json_new_object(doc);
    if (!o || dp_json_object_set(doc, o, tag, strlen(tag), v) != 0)
        return NULL;
    return o;
}

static dp_json *typed_str(dp_json_doc *doc, const char *tag, const char *s, size_t len) {
    return typed(doc, tag, dp_json_new_string(doc, s, len));
}

/* Number text of v (a JSON number, or a numeric string): NULL otherwise. */
static const char *number_text(const dp_json *v, size_t *len) {
    if (v->type == DP_JSON_NUMBER || v->type == DP_JSON_STRING) {
        *len = v->len;
        return v->str;
    }
    return NULL;
}

static dp_json *mismatch(const dp_json *v, const char *want, dp_coltype_kind kind, char *errstr, size_t n,
                         dp_attr_path *p) {
    char snip[48] = "";
    if (v->type == DP_JSON_STRING || v->type == DP_JSON_NUMBER) {
        char tmp[40];
        snprintf(snip, sizeof snip, " '%s'", dp_attr_snippet(v->str, v->len, tmp, sizeof tmp));
    }
    dp_attr_errf(errstr, n, p, "expected %s for column type %s, got %s%s", want, dp_coltype_name(kind),
                 dp_json_kind_name(v), snip);
    return NULL;
}

static dp_json *auto_from_plain(dp_json_doc *doc, const dp_json *v, int depth, char *errstr, size_t n,
                                dp_attr_path *p);

static int nan_like(const char *s, size_t len) {
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        s++;
        len--;
    }
    return (len == 3 && !strncasecmp(s, "nan", 3)) || (len == 3 && !strncasecmp(s, "inf", 3)) ||
           (len == 8 && !strncasecmp(s, "infinity", 8));
}

static dp_json *number_attr(dp_json_doc *doc, const dp_json *v, const dp_coltype *ct, char *errstr, size_t n,
                            dp_attr_path *p) {
    size_t len;
    const char *s = number_text(v, &len);
    const char *want = ct->kind == DP_COL_INTEGER ? "an integer" : "a number";
    if (!s)
        return mismatch(v, want, ct->kind, errstr, n, p);
    dp_ddb_num num;
    char snip[48];
    if (v->type == DP_JSON_STRING && dp_ddb_number_scan(s, len, &num) != 0 && !nan_like(s, len))
        return mismatch(v, want, ct->kind, errstr, n, p);
    if (dp_ddb_number_check(s, len, errstr, n, p) != 0)
        return NULL;
    dp_ddb_number_scan(s, len, &num);
    if (ct->kind == DP_COL_INTEGER) {
        if (!num.is_zero && num.last_exp < 0) {
            dp_attr_errf(errstr, n, p, "%s is not an integer", dp_attr_snippet(s, len, snip, sizeof snip));
            return NULL;
        }
        int in_range = 1;
        if (!num.is_zero) {
            if (num.sci_exp >= 19) {
                in_range = 0;
            } else {
                uint64_t mag = 0;
                for (size_t k = 0; k < num.sig; k++)
                    mag = mag * 10 + (uint64_t)(dp_ddb_num_digit(&num, k) - '0');
                for (long long e = 0; e < num.last_exp; e++)
                    mag *= 10;
                if (num.neg)
                    in_range = mag <= (uint64_t)(-(ct->int_min + 1)) + 1;
                else
                    in_range = mag <= (uint64_t)ct->int_max;
            }
        }
        if (!in_range) {
            dp_attr_errf(errstr, n, p, "%s is outside the column's range %lld..%lld",
                         dp_attr_snippet(s, len, snip, sizeof snip), (long long)ct->int_min,
                         (long long)ct->int_max);
            return NULL;
        }
    } else if (ct->kind == DP_COL_DECIMAL && ct->precision > 0 && !num.is_zero) {
        long long frac = num.last_exp < 0 ? -num.last_exp : 0;
        long long intd = num.sci_exp >= 0 ? num.sci_exp + 1 : 0;
        if (frac > ct->scale) {
            dp_attr_errf(errstr, n, p, "%s has %lld fraction digits, DECIMAL(%d,%d) allows %d",
                         dp_attr_snippet(s, len, snip, sizeof snip), frac, ct->precision, ct->scale,
                         ct->scale);
            return NULL;
        }
        if (intd > ct->precision - ct->scale) {
            dp_attr_errf(errstr, n, p, "%s has %lld integer digits, DECIMAL(%d,%d) allows %d",
                         dp_attr_snippet(s, len, snip, sizeof snip), intd, ct->precision, ct->scale,
                         ct->precision - ct->scale);
            return NULL;
        }
    }
    return typed(doc, "N", dp_json_new_string(doc, s, len));
}

static dp_json *set_from_plain(dp_json_doc *doc, const dp_json *v, const dp_coltype *ct, char *errstr,
                               size_t n, dp_attr_path *p) {
    const char *tag = ct->kind == DP_COL_STRING_SET ? "SS" : ct->kind == DP_COL_NUMBER_SET ? "NS" : "BS";
    if (v->type != DP_JSON_ARRAY)
        return mismatch(v, "an array", ct->kind, errstr, n, p);
    dp_json *arr = dp_json_new_array(doc);
    if (!arr)
        return NULL;
    for (size_t i = 0; i < v->count; i++) {
        const dp_json *e = v->items[i];
        int ok = e->type == DP_JSON_STRING || (ct->kind == DP_COL_NUMBER_SET && e->type == DP_JSON_NUMBER);
        if (!ok) {
            dp_attr_errf(errstr, n, p, "%s member %zu must be %s, got %s", dp_coltype_name(ct->kind), i,
                         ct->kind == DP_COL_STRING_SET   ? "a string"
                         : ct->kind == DP_COL_NUMBER_SET ? "a number"
                                                         : "a base64 string",
                         dp_json_kind_name(e));
            return NULL;
        }
        if (dp_json_array_append(doc, arr, dp_json_new_string(doc, e->str, e->len)) != 0)
            return NULL;
    }
    dp_json *av = typed(doc, tag, arr);
    if (av && dp_attr_check(av, 0, errstr, n, p) != 0)
        return NULL;
    return av;
}

static dp_json *typed_from_plain(dp_json_doc *doc, const dp_json *v, const dp_coltype *ct, int depth,
                                 char *errstr, size_t n, dp_attr_path *p) {
    if (v->type == DP_JSON_NULL)
        return typed(doc, "NULL", dp_json_new_bool(doc, 1));
    if (!ct || ct->kind == DP_COL_AUTO || ct->kind == DP_COL_VARIANT)
        return auto_from_plain(doc, v, depth, errstr, n, p);
    char snip[48];
    switch (ct->kind) {
    case DP_COL_BOOLEAN:
        if (v->type != DP_JSON_BOOL)
            return mismatch(v, "true or false", ct->kind, errstr, n, p);
        return typed(doc, "BOOL", dp_json_new_bool(doc, v->boolean));
    case DP_COL_INTEGER:
    case DP_COL_DECIMAL:
    case DP_COL_FLOAT:
        return number_attr(doc, v, ct, errstr, n, p);
    case DP_COL_STRING:
        if (v->type != DP_JSON_STRING)
            return mismatch(v, "a string", ct->kind, errstr, n, p);
        return typed_str(doc, "S", v->str, v->len);
    case DP_COL_DATE:
        if (v->type == DP_JSON_NUMBER) {
            /* Debezium's io.debezium.time.Date: days since the epoch. */
            dp_ddb_num num;
            if (dp_ddb_number_scan(v->str, v->len, &num) == 0 && (num.is_zero || num.last_exp >= 0) &&
                num.sci_exp < 9) {
                long long days = strtoll(v->str, NULL, 10);
                if (num.exp != 0)
                    return mismatch(v, "a date 'YYYY-MM-DD' or days since 1970-01-01", ct->kind, errstr, n,
                                    p);
                long long y;
                int m, d;
                civil_from_days(days, &y, &m, &d);
                if (y >= 0 && y <= 9999) {
                    char buf[16];
                    int k = snprintf(buf, sizeof buf, "%04lld-%02d-%02d", y, m, d);
                    return typed_str(doc, "S", buf, (size_t)k);
                }
            }
            return mismatch(v, "a date 'YYYY-MM-DD' or days since 1970-01-01", ct->kind, errstr, n, p);
        }
        if (v->type != DP_JSON_STRING || !valid_date(v->str, v->len))
            return mismatch(v, "a date 'YYYY-MM-DD'", ct->kind, errstr, n, p);
        return typed_str(doc, "S", v->str, v->len);
    case DP_COL_TIME:
        if (v->type != DP_JSON_STRING || !valid_time(v->str, v->len))
            return mismatch(v, "a time 'HH:MM:SS[.fff]'", ct->kind, errstr, n, p);
        return typed_str(doc, "S", v->str, v->len);
    case DP_COL_TIMESTAMP:
        if (v->type != DP_JSON_STRING || !valid_timestamp(v->str, v->len))
            return mismatch(v, "a timestamp 'YYYY-MM-DD HH:MM:SS[.fff][Z|+HH:MM]'", ct->kind, errstr, n, p);
        return typed_str(doc, "S", v->str, v->len);
    case DP_COL_UUID:
        if (v->type != DP_JSON_STRING || !valid_uuid(v->str, v->len))
            return mismatch(v, "a UUID 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'", ct->kind, errstr, n, p);
        return typed_str(doc, "S", v->str, v->len);
    case DP_COL_BINARY:
        if (v->type != DP_JSON_STRING)
            return mismatch(v, "a base64 string", ct->kind, errstr, n, p);
        if (!dp_base64_valid(v->str, v->len, NULL)) {
            dp_attr_errf(errstr, n, p,
                         "'%s' is not valid base64 (standard alphabet, padded) for a VARBINARY column",
                         dp_attr_snippet(v->str, v->len, snip, sizeof snip));
            return NULL;
        }
        return typed_str(doc, "B", v->str, v->len);
    case DP_COL_ARRAY:
        if (v->type != DP_JSON_ARRAY)
            return mismatch(v, "an array", ct->kind, errstr, n, p);
        return auto_from_plain(doc, v, depth, errstr, n, p);
    case DP_COL_MAP:
        if (v->type != DP_JSON_OBJECT)
            return mismatch(v, "an object", ct->kind, errstr, n, p);
        return auto_from_plain(doc, v, depth, errstr, n, p);
    case DP_COL_STRING_SET:
    case DP_COL_NUMBER_SET:
    case DP_COL_BINARY_SET:
        return set_from_plain(doc, v, ct, errstr, n, p);
    default:
        break;
    }
    return auto_from_plain(doc, v, depth, errstr, n, p);
}

static dp_json *auto_from_plain(dp_json_doc *doc, const dp_json *v, int depth, char *errstr, size_t n,
                                dp_attr_path *p) {
    switch (v->type) {
    case DP_JSON_NULL:
        return typed(doc, "NULL", dp_json_new_bool(doc, 1));
    case DP_JSON_BOOL:
        return typed(doc, "BOOL", dp_json_new_bool(doc, v->boolean));
    case DP_JSON_STRING:
        return typed_str(doc, "S", v->str, v->len);
    case DP_JSON_NUMBER:
        if (dp_ddb_number_check(v->str, v->len, errstr, n, p) != 0)
            return NULL;
        return typed_str(doc, "N", v->str, v->len);
    case DP_JSON_ARRAY:
    case DP_JSON_OBJECT:
        break;
    }
    if (depth >= DP_DDB_MAX_DEPTH) {
        dp_attr_errf(errstr, n, p, "nested more than %d levels deep (DynamoDB's limit)", DP_DDB_MAX_DEPTH);
        return NULL;
    }
    if (v->type == DP_JSON_ARRAY) {
        dp_json *arr = dp_json_new_array(doc);
        if (!arr)
            return NULL;
        for (size_t i = 0; i < v->count; i++) {
            size_t mark = dp_attr_path_push_index(p, i);
            dp_json *c = auto_from_plain(doc, v->items[i], depth + 1, errstr, n, p);
            dp_attr_path_pop(p, mark);
            if (!c || dp_json_array_append(doc, arr, c) != 0)
                return NULL;
        }
        return typed(doc, "L", arr);
    }
    dp_json *obj = dp_json_new_object(doc);
    if (!obj)
        return NULL;
    for (size_t i = 0; i < v->count; i++) {
        const dp_json_member *m = &v->members[i];
        size_t mark = dp_attr_path_push_member(p, m->key, m->key_len);
        dp_json *c = auto_from_plain(doc, m->value, depth + 1, errstr, n, p);
        dp_attr_path_pop(p, mark);
        if (!c || dp_json_object_set(doc, obj, m->key, m->key_len, c) != 0)
            return NULL;
    }
    return typed(doc, "M", obj);
}

dp_json *dp_attr_from_plain_at(dp_json_doc *doc, const dp_json *v, const dp_coltype *type, const char *name,
                               char *errstr, size_t errstr_size) {
    dp_attr_path p;
    dp_attr_path_init(&p, name);
    if (!doc || !v) {
        dp_errf(errstr, errstr_size, "no value");
        return NULL;
    }
    if (errstr && errstr_size)
        errstr[0] = 0;
    dp_json *r = typed_from_plain(doc, v, type, 0, errstr, errstr_size, &p);
    if (!r && errstr && errstr_size && !errstr[0])
        dp_errf(errstr, errstr_size, "out of memory");
    return r;
}

dp_json *dp_attr_from_plain(dp_json_doc *doc, const dp_json *v, const dp_coltype *type, char *errstr,
                            size_t errstr_size) {
    return dp_attr_from_plain_at(doc, v, type, NULL, errstr, errstr_size);
}

dp_json *dp_item_from_plain(dp_json_doc *doc, const dp_json *plain, const dp_column *columns, size_t ncolumns,
                            int ignore_nulls, char *errstr, size_t errstr_size) {
    if (!doc || !plain || plain->type != DP_JSON_OBJECT) {
        dp_errf(errstr, errstr_size, "a row must be a JSON object, got %s", dp_json_kind_name(plain));
        return NULL;
    }
    dp_json *item = dp_json_new_object(doc);
    if (!item) {
        dp_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < plain->count; i++) {
        const dp_json_member *m = &plain->members[i];
        if (m->value->type == DP_JSON_NULL && ignore_nulls) {
            /* a later duplicate null also drops an earlier value: last wins */
            dp_json_object_remove(item, m->key);
            continue;
        }
        if (m->key_len == 0) {
            dp_errf(errstr, errstr_size, "an attribute name is empty; DynamoDB names are at least 1 byte");
            return NULL;
        }
        const dp_column *col = dp_column_find(columns, ncolumns, m->key);
        dp_attr_path p;
        p.len = 0;
        p.buf[0] = 0;
        p.named = 1;
        dp_attr_path_push_member(&p, m->key, m->key_len);
        if (errstr && errstr_size)
            errstr[0] = 0;
        dp_json *av = typed_from_plain(doc, m->value, col ? &col->type : NULL, 0, errstr, errstr_size, &p);
        if (!av || dp_json_object_set(doc, item, m->key, m->key_len, av) != 0) {
            if (errstr && errstr_size && !errstr[0])
                dp_errf(errstr, errstr_size, "out of memory");
            return NULL;
        }
    }
    return item;
}
