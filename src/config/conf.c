/* Configuration values: stored as normalized text per property, checked
 * against the property table on every set. */
#include "config/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "config/props.h"
#include "config/settings.h"
#include "ddb/attr.h"

#define DP_CONF_MAX_NOTICES 256
#define DP_CONF_MAX_VALUE ((size_t)1 << 20)

struct ddbpipe_conf {
    char **values; /* explicit values as normalized text, indexed like the property table */
    char **notices;
    size_t nnotices;
    dp_settings st; /* typed: explicit values, else defaults; strings borrow from values */
    /* kafka.<property>: passed to librdkafka as is, in the order set */
    char **kafka_names, **kafka_values;
    size_t nkafka;
};

#define DP_CONF_MAX_KAFKA 256

static char *xstrndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void apply_default(ddbpipe_conf_t *conf, size_t idx);

ddbpipe_conf_t *ddbpipe_conf_new(void) {
    ddbpipe_conf_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->values = calloc(dp_prop_count(), sizeof *c->values);
    c->notices = calloc(DP_CONF_MAX_NOTICES, sizeof *c->notices);
    if (!c->values || !c->notices) {
        free(c->values);
        free(c->notices);
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < dp_prop_count(); i++)
        apply_default(c, i);
    return c;
}

void ddbpipe_conf_destroy(ddbpipe_conf_t *conf) {
    if (!conf)
        return;
    for (size_t i = 0; i < dp_prop_count(); i++) {
        if (conf->values[i] && dp_prop_at(i)->type == DP_PT_SECRET)
            memset(conf->values[i], 0, strlen(conf->values[i]));
        free(conf->values[i]);
    }
    for (size_t i = 0; i < conf->nnotices; i++)
        free(conf->notices[i]);
    for (size_t i = 0; i < conf->nkafka; i++) {
        if (ddbpipe_conf_kafka_is_secret(conf->kafka_names[i]))
            memset(conf->kafka_values[i], 0, strlen(conf->kafka_values[i]));
        free(conf->kafka_names[i]);
        free(conf->kafka_values[i]);
    }
    free(conf->kafka_names);
    free(conf->kafka_values);
    free(conf->values);
    free(conf->notices);
    free(conf);
}

ddbpipe_conf_t *ddbpipe_conf_dup(const ddbpipe_conf_t *conf) {
    if (!conf)
        return NULL;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    if (!c)
        return NULL;
    for (size_t i = 0; i < dp_prop_count(); i++) {
        if (conf->values[i] && !(c->values[i] = strdup(conf->values[i])))
            goto fail;
    }
    for (size_t i = 0; i < conf->nnotices; i++) {
        if (!(c->notices[i] = strdup(conf->notices[i])))
            goto fail;
        c->nnotices++;
    }
    /* Typed values are copied; string fields then point at the copy's text. */
    c->st = conf->st;
    for (size_t i = 0; i < dp_prop_count(); i++) {
        const dp_prop *p = dp_prop_at(i);
        if (dp_prop_field_kind(p) == DP_FK_STR)
            *(const char **)((char *)&c->st + p->offset) = c->values[i] ? c->values[i] : p->info.dflt;
    }
    for (size_t i = 0; i < conf->nkafka; i++)
        if (dp_conf_kafka_set(c, conf->kafka_names[i], conf->kafka_values[i]) != DDBPIPE_OK)
            goto fail;
    return c;
fail:
    ddbpipe_conf_destroy(c);
    return NULL;
}

void dp_conf_notice_add(ddbpipe_conf_t *conf, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!conf || conf->nnotices >= DP_CONF_MAX_NOTICES)
        return;
    for (size_t i = 0; i < conf->nnotices; i++)
        if (strcmp(conf->notices[i], line) == 0)
            return;
    char *d = strdup(line);
    if (d)
        conf->notices[conf->nnotices++] = d;
}

size_t dp_conf_notice_count(const ddbpipe_conf_t *conf) {
    return conf ? conf->nnotices : 0;
}

const char *dp_conf_notice_at(const ddbpipe_conf_t *conf, size_t i) {
    return conf && i < conf->nnotices ? conf->notices[i] : NULL;
}

int dp_conf_assume_role(const ddbpipe_conf_t *conf) {
    return conf ? conf->st.assume_role : 0;
}

/* ------------------------------------------------------------ parsing */

static int ieq(const char *a, const char *b) {
    return strcasecmp(a, b) == 0;
}

static int is_null_text(const char *v) {
    return !v || ieq(v, "null") || strcmp(v, "~") == 0;
}

static int parse_int64(const char *s, int64_t *out) {
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* "5000", "5000ms", "5 s", "2min", "1h", "1 day". */
static int parse_duration_ms(const char *s, int64_t *out) {
    while (isspace((unsigned char)*s))
        s++;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    char unit[16];
    size_t n = 0;
    while (*end && !isspace((unsigned char)*end) && n + 1 < sizeof unit)
        unit[n++] = (char)tolower((unsigned char)*end++);
    unit[n] = 0;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    int64_t mul;
    if (!n || !strcmp(unit, "ms") || !strcmp(unit, "milli") || !strcmp(unit, "millis") ||
        !strcmp(unit, "millisecond") || !strcmp(unit, "milliseconds"))
        mul = 1;
    else if (!strcmp(unit, "s") || !strcmp(unit, "sec") || !strcmp(unit, "secs") || !strcmp(unit, "second") ||
             !strcmp(unit, "seconds"))
        mul = 1000;
    else if (!strcmp(unit, "m") || !strcmp(unit, "min") || !strcmp(unit, "mins") || !strcmp(unit, "minute") ||
             !strcmp(unit, "minutes"))
        mul = 60000;
    else if (!strcmp(unit, "h") || !strcmp(unit, "hour") || !strcmp(unit, "hours"))
        mul = 3600000;
    else if (!strcmp(unit, "d") || !strcmp(unit, "day") || !strcmp(unit, "days"))
        mul = 86400000;
    else
        return -1;
    if (v > INT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static const char *bool_text(const char *v) {
    static const char *t[] = {"true", "1", "yes", "on", "y"};
    static const char *f[] = {"false", "0", "no", "off", "n"};
    for (size_t i = 0; i < 5; i++) {
        if (ieq(v, t[i]))
            return "true";
        if (ieq(v, f[i]))
            return "false";
    }
    return NULL;
}

/* Find v in "a|b|c" (case-insensitive), then in value aliases "X=y,...".
 * Returns the index of the canonical value in the range (what enum fields
 * hold) and copies its spelling into out; -1 when v is not allowed. */
static int enum_match(const dp_prop *p, const char *v, char *out, size_t out_size) {
    size_t vl = strlen(v);
    const char *a = p->value_aliases;
    while (a && *a) {
        const char *e = strchr(a, ',');
        size_t l = e ? (size_t)(e - a) : strlen(a);
        const char *eq = memchr(a, '=', l);
        if (eq && (size_t)(eq - a) == vl && strncasecmp(a, v, vl) == 0) {
            char canon[64];
            size_t cl = l - vl - 1;
            if (cl >= sizeof canon)
                return -1;
            memcpy(canon, eq + 1, cl);
            canon[cl] = 0;
            return enum_match(&(dp_prop){.info = p->info}, canon, out, out_size);
        }
        if (!e)
            break;
        a = e + 1;
    }
    const char *r = p->info.range;
    int idx = 0;
    while (r && *r) {
        const char *e = strchr(r, '|');
        size_t l = e ? (size_t)(e - r) : strlen(r);
        if (l == vl && strncasecmp(r, v, l) == 0 && l < out_size) {
            memcpy(out, r, l);
            out[l] = 0;
            return idx;
        }
        if (!e)
            break;
        r = e + 1;
        idx++;
    }
    return -1;
}

/* "a, b ,c" -> "a,b,c"; rejects empty elements. Caller frees. */
static char *normalize_list(const char *v, size_t *count) {
    size_t n = strlen(v);
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t ol = 0, items = 0;
    const char *p = v;
    for (;;) {
        const char *e = strchr(p, ',');
        const char *end = e ? e : p + strlen(p);
        while (p < end && isspace((unsigned char)*p))
            p++;
        const char *q = end;
        while (q > p && isspace((unsigned char)q[-1]))
            q--;
        if (q > p && (*p == '`' || *p == '"') && q - p >= 2 && q[-1] == *p) {
            p++;
            q--;
        }
        if (q == p) {
            free(o);
            return NULL;
        }
        if (items)
            o[ol++] = ',';
        memcpy(o + ol, p, (size_t)(q - p));
        ol += (size_t)(q - p);
        items++;
        if (!e)
            break;
        p = e + 1;
    }
    o[ol] = 0;
    *count = items;
    return o;
}

void dp_conf_columns_free(dp_conf_column *cols, size_t count) {
    if (!cols)
        return;
    for (size_t i = 0; i < count; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

ddbpipe_result_t dp_conf_columns_parse(const char *text, dp_conf_column **out, size_t *count, char *errstr,
                                       size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_ERR_CONFIG;
    dp_conf_column *cols = NULL;
    size_t n = 0, cap = 0;
    const char *p = text;
    *out = NULL;
    *count = 0;
    if (!text)
        return DDBPIPE_OK;
    while (*p) {
        /* one element up to a comma outside (), <>, [] */
        const char *s = p;
        int depth = 0;
        while (*p && !(*p == ',' && depth == 0)) {
            if (*p == '(' || *p == '<' || *p == '[')
                depth++;
            else if ((*p == ')' || *p == '>' || *p == ']') && depth > 0)
                depth--;
            p++;
        }
        const char *e = p;
        if (*p == ',')
            p++;
        while (s < e && isspace((unsigned char)*s))
            s++;
        if (s == e) {
            dp_errf(errstr, errstr_size,
                    "invalid value for 'columns': empty column in '%s' (expected 'name TYPE, ...')", text);
            goto out;
        }
        const char *ns = s, *ne;
        char *qname = NULL;
        if (*s == '`' || *s == '"') {
            /* a quoted name is one name, spaces, dots and all; a doubled
             * quote inside stands for one */
            char q = *s;
            ns = ++s;
            qname = malloc((size_t)(e - s) + 1);
            if (!qname) {
                rc = DDBPIPE_ERR_NOMEM;
                goto out;
            }
            size_t ql = 0;
            while (s < e) {
                if (*s == q) {
                    if (s + 1 < e && s[1] == q) {
                        qname[ql++] = q;
                        s += 2;
                        continue;
                    }
                    break;
                }
                qname[ql++] = *s++;
            }
            qname[ql] = 0;
            ne = s;
            if (s >= e) {
                free(qname);
                dp_errf(errstr, errstr_size, "invalid value for 'columns': unterminated quoted name %.*s",
                        (int)(e - ns + 1), ns - 1);
                goto out;
            }
            s++;
        } else {
            while (s < e && !isspace((unsigned char)*s))
                s++;
            ne = s;
        }
        while (s < e && isspace((unsigned char)*s))
            s++;
        if (ne == ns || s == e) {
            dp_errf(errstr, errstr_size,
                    "invalid value for 'columns': column '%.*s' has no type (expected 'name TYPE, ...')",
                    (int)(e - ns), ns);
            free(qname);
            goto out;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            dp_conf_column *nn = realloc(cols, nc * sizeof *nn);
            if (!nn) {
                free(qname);
                rc = DDBPIPE_ERR_NOMEM;
                goto out;
            }
            cols = nn;
            cap = nc;
        }
        cols[n].name = qname ? qname : xstrndup(ns, (size_t)(ne - ns));
        cols[n].type = dp_collapse_ws(s, (size_t)(e - s));
        n++;
        if (!cols[n - 1].name || !cols[n - 1].type) {
            rc = DDBPIPE_ERR_NOMEM;
            goto out;
        }
    }
    *out = cols;
    *count = n;
    cols = NULL;
    rc = DDBPIPE_OK;
out:
    dp_conf_columns_free(cols, n);
    return rc;
}

ddbpipe_result_t dp_conf_columns_check(const char *text, char *errstr, size_t errstr_size) {
    dp_conf_column *cols;
    size_t n;
    ddbpipe_result_t rc = dp_conf_columns_parse(text, &cols, &n, errstr, errstr_size);
    for (size_t i = 0; i < n && rc == DDBPIPE_OK; i++) {
        dp_coltype t;
        char err[256] = "";
        if (dp_coltype_parse(cols[i].type, &t, err, sizeof err) != 0) {
            dp_errf(errstr, errstr_size, "columns: column '%s' has type '%s': %s", cols[i].name, cols[i].type,
                    err);
            rc = DDBPIPE_ERR_CONFIG;
        }
    }
    dp_conf_columns_free(cols, n);
    return rc;
}

ddbpipe_result_t dp_conf_column_name_append(dp_buf *b, const char *name) {
    int plain = (isalpha((unsigned char)name[0]) || name[0] == '_');
    for (const char *p = name; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || *p == '_';
    if (plain)
        return dp_buf_puts(b, name);
    ddbpipe_result_t rc = dp_buf_putc(b, '`');
    for (const char *p = name; !rc && *p; p++)
        rc = *p == '`' ? dp_buf_puts(b, "``") : dp_buf_putc(b, *p);
    return rc ? rc : dp_buf_putc(b, '`');
}

static char *columns_canonical(const char *text, char *errstr, size_t errstr_size, ddbpipe_result_t *rc) {
    dp_conf_column *cols;
    size_t n;
    *rc = dp_conf_columns_parse(text, &cols, &n, errstr, errstr_size);
    if (*rc)
        return NULL;
    dp_buf b;
    dp_buf_init(&b, DP_CONF_MAX_VALUE);
    for (size_t i = 0; i < n && !*rc; i++) {
        *rc = dp_buf_puts(&b, i ? ", " : "");
        if (!*rc)
            *rc = dp_conf_column_name_append(&b, cols[i].name);
        if (!*rc)
            *rc = dp_buf_printf(&b, " %s", cols[i].type);
    }
    dp_conf_columns_free(cols, n);
    if (*rc) {
        dp_buf_free(&b);
        return NULL;
    }
    char *s = dp_buf_steal(&b);
    if (!s) {
        s = strdup("");
    }
    return s;
}

char dp_sql_type_key_type(const char *t) {
    static const char *num[] = {"TINYINT", "SMALLINT", "INT",   "INTEGER", "BIGINT", "DECIMAL", "DEC",
                                "NUMERIC", "REAL",     "FLOAT", "DOUBLE",  "NUMBER", "UNSIGNED"};
    static const char *bin[] = {"BINARY", "VARBINARY", "BYTES", "BLOB", "BYTEA"};
    char word[32];
    size_t n = 0;
    if (!t)
        return 'S';
    while (isspace((unsigned char)*t))
        t++;
    while ((isalpha((unsigned char)*t) || *t == '_') && n + 1 < sizeof word)
        word[n++] = (char)toupper((unsigned char)*t++);
    word[n] = 0;
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (!strcmp(word, num[i]))
            return 'N';
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
        if (!strcmp(word, bin[i]))
            return 'B';
    return 'S';
}

/* ------------------------------------------------------------ placeholders */

ddbpipe_result_t dp_conf_expand_env(const char *key, const char *s, char **out, char *errstr,
                                    size_t errstr_size) {
    dp_buf b;
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_buf_init(&b, DP_CONF_MAX_VALUE);
    *out = NULL;
    for (const char *p = s; *p && !rc;) {
        if (p[0] == '$' && p[1] == '{' && (isalpha((unsigned char)p[2]) || p[2] == '_')) {
            const char *e = p + 2;
            while (isalnum((unsigned char)*e) || *e == '_')
                e++;
            size_t l = (size_t)(e - p - 2);
            const char *dflt = NULL, *end = NULL;
            if (*e == '}') {
                end = e;
            } else if (e[0] == ':' && e[1] == '-') {
                dflt = e + 2;
                end = strchr(dflt, '}');
            }
            if (end && l < 128) {
                char var[128];
                memcpy(var, p + 2, l);
                var[l] = 0;
                const char *v = getenv(var);
                if (dflt && (!v || !*v)) {
                    rc = dp_buf_append(&b, dflt, (size_t)(end - dflt));
                } else if (!v) {
                    dp_errf(
                        errstr, errstr_size,
                        "value of '%s' refers to environment variable %s, which is not set (set it, or give "
                        "a default: ${%s:-value})",
                        key, var, var);
                    rc = DDBPIPE_ERR_CONFIG;
                } else {
                    rc = dp_buf_puts(&b, v);
                }
                p = end + 1;
                continue;
            }
        }
        rc = dp_buf_putc(&b, *p++);
    }
    if (rc) {
        dp_buf_free(&b);
        return rc;
    }
    *out = dp_buf_steal(&b);
    if (!*out)
        *out = strdup("");
    return *out ? DDBPIPE_OK : DDBPIPE_ERR_NOMEM;
}

/* ------------------------------------------------------------ set / get */

static void *field_of(dp_settings *st, const dp_prop *p) {
    return (char *)st + p->offset;
}

/* Write a parsed value into the row's typed field: text for strings (it
 * stays owned by conf->values), iv for the other kinds. */
static void bind(dp_settings *st, const dp_prop *p, const char *text, int64_t iv) {
    void *f = field_of(st, p);
    switch (dp_prop_field_kind(p)) {
    case DP_FK_STR:
        *(const char **)f = text;
        break;
    case DP_FK_I64:
        *(int64_t *)f = iv;
        break;
    case DP_FK_BOOL:
        *(int *)f = iv != 0;
        break;
    case DP_FK_ENUM:
        *(int *)f = (int)iv;
        break;
    }
}

/* The key name as the user wrote it plus the canonical name when it differs. */
static void key_label(char *out, size_t n, const char *given, const dp_prop *p) {
    if (dp_prop_name_eq(given, strlen(given), p->info.name, strlen(p->info.name)))
        snprintf(out, n, "'%s'", p->info.name);
    else
        snprintf(out, n, "'%s' (%s)", given, p->info.name);
}

/* Parse and range-check one non-null value of row p: the normalized text
 * (caller frees) and the typed value for int, duration, bool and enum rows.
 * The one place values are parsed; defaults go through it too. */
static ddbpipe_result_t parse_value(const dp_prop *p, const char *label, const char *value, char **norm,
                                    int64_t *iv, size_t *list_count, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_ERR_CONFIG;
    *norm = NULL;
    *iv = 0;
    switch (p->type) {
    case DP_PT_INT:
    case DP_PT_DURATION: {
        int64_t v;
        int bad = p->type == DP_PT_INT ? parse_int64(value, &v) : parse_duration_ms(value, &v);
        if (bad) {
            dp_errf(errstr, errstr_size, "invalid value '%s' for %s: expected %s in %s", value, label,
                    p->type == DP_PT_INT ? "an integer" : "a duration in ms (or with a unit: 5s, 2min)",
                    p->info.range);
            return rc;
        }
        if (v < p->min || v > p->max) {
            dp_errf(errstr, errstr_size, "value '%s' for %s is out of range: allowed %s", value, label,
                    p->info.range);
            return rc;
        }
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)v);
        *norm = strdup(tmp);
        *iv = v;
        break;
    }
    case DP_PT_BOOL: {
        const char *b = bool_text(value);
        if (!b) {
            dp_errf(errstr, errstr_size, "invalid value '%s' for %s: expected true or false", value, label);
            return rc;
        }
        *norm = strdup(b);
        *iv = b[0] == 't';
        break;
    }
    case DP_PT_ENUM: {
        char e[64];
        int idx = enum_match(p, value, e, sizeof e);
        if (idx < 0) {
            dp_errf(errstr, errstr_size, "invalid value '%s' for %s: expected one of %s", value, label,
                    p->info.range);
            return rc;
        }
        *norm = strdup(e);
        *iv = idx;
        break;
    }
    case DP_PT_LIST: {
        size_t count = 0;
        *norm = normalize_list(value, &count);
        if (!*norm) {
            dp_errf(errstr, errstr_size,
                    "invalid value '%s' for %s: expected %s (comma separated, no empty names)", value, label,
                    p->info.range);
            return rc;
        }
        if (list_count)
            *list_count = count;
        return DDBPIPE_OK;
    }
    case DP_PT_STRING:
    case DP_PT_SECRET:
        if (p->flags & DP_PF_URL) {
            if (strncasecmp(value, "http://", 7) != 0 && strncasecmp(value, "https://", 8) != 0) {
                dp_errf(errstr, errstr_size,
                        "invalid value '%s' for %s: expected a URL starting with http:// or "
                        "https://",
                        value, label);
                return rc;
            }
        } else if (p->flags & DP_PF_DECIMAL) {
            char *end = NULL;
            double d = strtod(value, &end);
            if (!*value || *end || !(d >= 0) || d > 1e12) {
                dp_errf(errstr, errstr_size, "invalid value '%s' for %s: expected %s", value, label,
                        p->info.range);
                return rc;
            }
        } else if (p->flags & DP_PF_JSON) {
            dp_json_error jerr;
            dp_json_doc *doc = dp_json_parse(value, strlen(value), &jerr);
            int ok = doc && dp_json_is(dp_json_root(doc), DP_JSON_OBJECT);
            dp_json_doc_free(doc);
            if (!ok) {
                dp_errf(errstr, errstr_size, "invalid value for %s: expected a JSON object (%s)", label,
                        doc ? "not an object" : jerr.message);
                return rc;
            }
        } else if (p->flags & DP_PF_COLUMNS) {
            *norm = columns_canonical(value, errstr, errstr_size, &rc);
            return *norm ? DDBPIPE_OK : rc;
        }
        if (p->type == DP_PT_SECRET && !*value) {
            dp_errf(errstr, errstr_size, "%s is empty", label);
            return rc;
        }
        *norm = strdup(value);
        break;
    }
    return *norm ? DDBPIPE_OK : DDBPIPE_ERR_NOMEM;
}

/* Row idx back to its default: unset text, typed default (parsed from the
 * table's default text, the only place a default is written). */
static void apply_default(ddbpipe_conf_t *conf, size_t idx) {
    const dp_prop *p = dp_prop_at(idx);
    conf->st.set[idx] = 0;
    if (dp_prop_field_kind(p) == DP_FK_STR) {
        bind(&conf->st, p, p->info.dflt, 0);
        return;
    }
    int64_t iv = dp_prop_field_kind(p) == DP_FK_ENUM ? -1 : 0;
    if (p->info.dflt && !(p->flags & DP_PF_DERIVED)) {
        char *norm = NULL;
        int64_t v;
        if (parse_value(p, p->info.name, p->info.dflt, &norm, &v, NULL, NULL, 0) == DDBPIPE_OK)
            iv = v;
        free(norm);
    }
    bind(&conf->st, p, NULL, iv);
}

/* Make v (normalized text, owned; NULL = unset) row idx's explicit value. */
static ddbpipe_result_t store(ddbpipe_conf_t *conf, int idx, char *v, int64_t iv) {
    char *old = conf->values[idx];
    if (old && dp_prop_at((size_t)idx)->type == DP_PT_SECRET)
        memset(old, 0, strlen(old));
    free(old);
    conf->values[idx] = v;
    if (!v) {
        apply_default(conf, (size_t)idx);
        return DDBPIPE_OK;
    }
    conf->st.set[idx] = 1;
    bind(&conf->st, dp_prop_at((size_t)idx), v, iv);
    return DDBPIPE_OK;
}

/* For the string rows that another row fills (key -> partition_key, sort_key). */
static ddbpipe_result_t store_copy(ddbpipe_conf_t *conf, int idx, const char *v) {
    char *d = v ? strdup(v) : NULL;
    if (v && !d)
        return DDBPIPE_ERR_NOMEM;
    return store(conf, idx, d, 0);
}

/* ------------------------------------------------------------ kafka.<property> */

int ddbpipe_conf_kafka_is_secret(const char *name) {
    /* librdkafka's sensitive properties: sasl.password, ssl.key.password,
     * ssl.keystore.password, ssl.truststore.password, ssl.key.pem,
     * sasl.oauthbearer.client.secret, sasl.oauthbearer.config, ... */
    static const char *const words[] = {
        "password", "secret", "ssl.key.pem", "sasl.oauthbearer.config", "sasl.jaas.config", "ssl_key"};
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(name, words[i]))
            return 1;
    return 0;
}

ddbpipe_result_t dp_conf_kafka_set(ddbpipe_conf_t *conf, const char *name, const char *value) {
    for (size_t i = 0; i < conf->nkafka; i++) {
        if (strcmp(conf->kafka_names[i], name) != 0)
            continue;
        char *v = strdup(value ? value : "");
        if (!v)
            return DDBPIPE_ERR_NOMEM;
        if (ddbpipe_conf_kafka_is_secret(name))
            memset(conf->kafka_values[i], 0, strlen(conf->kafka_values[i]));
        free(conf->kafka_values[i]);
        conf->kafka_values[i] = v;
        return DDBPIPE_OK;
    }
    if (conf->nkafka >= DP_CONF_MAX_KAFKA)
        return DDBPIPE_ERR_TOO_LARGE;
    if (!conf->kafka_names) {
        conf->kafka_names = calloc(DP_CONF_MAX_KAFKA, sizeof *conf->kafka_names);
        conf->kafka_values = calloc(DP_CONF_MAX_KAFKA, sizeof *conf->kafka_values);
        if (!conf->kafka_names || !conf->kafka_values)
            return DDBPIPE_ERR_NOMEM;
    }
    char *n = strdup(name), *v = strdup(value ? value : "");
    if (!n || !v) {
        free(n);
        free(v);
        return DDBPIPE_ERR_NOMEM;
    }
    conf->kafka_names[conf->nkafka] = n;
    conf->kafka_values[conf->nkafka] = v;
    conf->nkafka++;
    return DDBPIPE_OK;
}

size_t ddbpipe_conf_kafka_count(const ddbpipe_conf_t *conf) {
    return conf ? conf->nkafka : 0;
}

const char *ddbpipe_conf_kafka_name(const ddbpipe_conf_t *conf, size_t i) {
    return conf && i < conf->nkafka ? conf->kafka_names[i] : NULL;
}

const char *ddbpipe_conf_kafka_value(const ddbpipe_conf_t *conf, size_t i) {
    return conf && i < conf->nkafka ? conf->kafka_values[i] : NULL;
}

int ddbpipe_conf_kafka_enabled(const ddbpipe_conf_t *conf) {
    return conf ? conf->st.kafka_enabled : 0;
}

int ddbpipe_conf_source_leased(const ddbpipe_conf_t *conf) {
    return conf && conf->st.lease_table && conf->st.lease_table[0];
}

ddbpipe_result_t ddbpipe_conf_set(ddbpipe_conf_t *conf, const char *name, const char *value, char *errstr,
                                  size_t errstr_size) {
    char label[160], sugg[128];
    char *norm = NULL;
    int64_t iv = 0;
    ddbpipe_result_t rc = DDBPIPE_ERR_CONFIG;
    if (!conf || !name || !*name) {
        dp_errf(errstr, errstr_size, "configuration key is empty");
        return DDBPIPE_ERR_INVALID_ARG;
    }
    if (value && strlen(value) > DP_CONF_MAX_VALUE) {
        dp_errf(errstr, errstr_size, "value for '%s' is longer than %zu bytes", name, DP_CONF_MAX_VALUE);
        return DDBPIPE_ERR_TOO_LARGE;
    }
    if (dp_prop_name_eq(name, strlen(name), "aws.credentials.custom.class", 28) ||
        dp_prop_name_eq(name, strlen(name), "aws.credentials.provider.custom.class", 37)) {
        dp_errf(errstr, errstr_size,
                "'%s' names a Java class, which ddbpipe cannot load: put your credential logic in a program, "
                "name it with credential_process in an AWS profile and set credentials_provider to profile",
                name);
        return DDBPIPE_ERR_CONFIG;
    }
    if (strncasecmp(name, "kafka.", 6) == 0) {
        /* librdkafka checks names and values when the client is made */
        if (!name[6] || is_null_text(value)) {
            dp_errf(errstr, errstr_size, "'%s' needs a librdkafka property name and a value", name);
            return DDBPIPE_ERR_CONFIG;
        }
        /* librdkafka has no topic property; it would refuse these only at start */
        if (!strcasecmp(name + 6, "topic") || !strcasecmp(name + 6, "topics")) {
            dp_errf(errstr, errstr_size,
                    "'%s' is not a librdkafka property: the topic is kafka_topics for ddbpipe sink --kafka, "
                    "kafka_topic for ddbpipe source --kafka",
                    name);
            return DDBPIPE_ERR_CONFIG;
        }
        return dp_conf_kafka_set(conf, name + 6, value);
    }
    int idx = dp_prop_find(name);
    if (idx < 0) {
        const char *ign = dp_prop_ignored(name);
        if (ign) {
            dp_conf_notice_add(conf, "%s", ign);
            return DDBPIPE_OK;
        }
        char hint[256];
        const char *s = dp_prop_suggest(name, sugg, sizeof sugg);
        if (dp_prop_kafka_hint(name, hint, sizeof hint))
            dp_errf(errstr, errstr_size, "unknown configuration key '%s' (%s)", name, hint);
        else if (s)
            dp_errf(errstr, errstr_size, "unknown configuration key '%s' (did you mean '%s'?)", name, s);
        else
            dp_errf(errstr, errstr_size, "unknown configuration key '%s' (see `ddbpipe config --list`)",
                    name);
        return DDBPIPE_ERR_CONFIG;
    }
    const dp_prop *p = dp_prop_at((size_t)idx);
    int pk_idx = dp_prop_find("partition_key"), sk_idx = dp_prop_find("sort_key");
    key_label(label, sizeof label, name, p);
    if (is_null_text(value)) {
        if (p->flags & DP_PF_NULLABLE) {
            norm = strdup("null");
            return norm ? store(conf, idx, norm, -1) : DDBPIPE_ERR_NOMEM;
        }
        if (p->flags & DP_PF_KEY) {
            store(conf, pk_idx, NULL, 0);
            store(conf, sk_idx, NULL, 0);
        }
        return store(conf, idx, NULL, 0);
    }
    if (p->offset == offsetof(dp_settings, credentials_provider)) {
        if (ieq(value, "SYS_PROP") || ieq(value, "SYS_PROPS")) {
            dp_errf(
                errstr, errstr_size,
                "%s SYS_PROP reads Java system properties (aws.accessKeyId, aws.secretKey), which a native "
                "program does not have: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment "
                "variables and use ENV_VAR (credentials_provider: environment)",
                label);
            return DDBPIPE_ERR_CONFIG;
        }
        if (ieq(value, "CUSTOM")) {
            dp_errf(errstr, errstr_size,
                    "%s CUSTOM loads a Java class, which ddbpipe cannot run: put your credential logic in a "
                    "program, name it with credential_process in an AWS profile and use PROFILE "
                    "(credentials_provider: profile)",
                    label);
            return DDBPIPE_ERR_CONFIG;
        }
        if (ieq(value, "ASSUME_ROLE")) {
            /* Flink: assume role_arn with credentials from
             * aws.credentials.role.provider (default AUTO). */
            conf->st.assume_role = 1;
            return DDBPIPE_OK;
        }
    }
    size_t count = 0;
    rc = parse_value(p, label, value, &norm, &iv, &count, errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        goto out;
    if (p->flags & DP_PF_KEY) {
        if (count > 2) {
            dp_errf(errstr, errstr_size,
                    "invalid value '%s' for %s: a DynamoDB key has at most 2 attributes (partition key, "
                    "sort key)",
                    value, label);
            rc = DDBPIPE_ERR_CONFIG;
            goto out;
        }
        char *comma = strchr(norm, ',');
        if (comma)
            *comma = 0;
        rc = store_copy(conf, pk_idx, norm);
        if (!rc)
            rc = store_copy(conf, sk_idx, comma ? comma + 1 : NULL);
        if (comma)
            *comma = ',';
        if (rc)
            goto out;
    }
    rc = store(conf, idx, norm, iv);
    norm = NULL;
out:
    free(norm);
    return rc;
}

/* The first non-empty variable of a property's environment fallbacks (p->env, comma-separated
 * names), or NULL. */
static const char *prop_env_value(const dp_prop *p) {
    char var[64];
    for (const char *e = p->env; e && *e;) {
        const char *c = strchr(e, ',');
        size_t l = c ? (size_t)(c - e) : strlen(e);
        if (l < sizeof var) {
            memcpy(var, e, l);
            var[l] = 0;
            const char *v = getenv(var);
            if (v && *v)
                return v;
        }
        if (!c)
            break;
        e = c + 1;
    }
    return NULL;
}

#define DP_STR_(x) #x
#define DP_XSTR(x) DP_STR_(x) /* a macro's value as text */

static const char *raw_get(const ddbpipe_conf_t *conf, const char *name, int *explicit_out) {
    int idx = dp_prop_find(name);
    if (explicit_out)
        *explicit_out = 0;
    if (idx < 0 || !conf)
        return NULL;
    const dp_prop *p = dp_prop_at((size_t)idx);
    if (conf->values[idx]) {
        if (explicit_out)
            *explicit_out = 1;
        return conf->values[idx];
    }
    /* Fallbacks read at get time so explicit config always wins. */
    const char *ev = prop_env_value(p);
    if (ev)
        return ev;
    if (p->flags & DP_PF_DERIVED) {
        /* batch_size, the only derived default: the typed settings decide it */
        dp_settings s;
        dp_conf_settings(conf, &s);
        return s.batch_size == DP_TRANSACT_WRITE_MAX_ITEMS ? DP_XSTR(DP_TRANSACT_WRITE_MAX_ITEMS)
                                                           : DP_XSTR(DP_BATCH_WRITE_MAX_ITEMS);
    }
    return p->info.dflt;
}

const char *ddbpipe_conf_get(const ddbpipe_conf_t *conf, const char *name) {
    return raw_get(conf, name, NULL);
}

int ddbpipe_conf_is_set(const ddbpipe_conf_t *conf, const char *name) {
    int idx = dp_prop_find(name);
    return conf && idx >= 0 && conf->values[idx] != NULL;
}

/* By-name text access, for tests and the fuzz target only: the library
 * reads dp_conf_settings(). */
const char *dp_conf_str(const ddbpipe_conf_t *conf, const char *name) {
    const char *v = raw_get(conf, name, NULL);
    return is_null_text(v) ? NULL : v;
}

int64_t dp_conf_int(const ddbpipe_conf_t *conf, const char *name, int64_t dflt) {
    const char *v = raw_get(conf, name, NULL);
    int64_t r;
    if (!v)
        return dflt;
    if (is_null_text(v))
        return -1;
    return parse_int64(v, &r) ? dflt : r;
}

int dp_conf_bool(const ddbpipe_conf_t *conf, const char *name, int dflt) {
    const char *v = raw_get(conf, name, NULL);
    const char *b = v ? bool_text(v) : NULL;
    return b ? b[0] == 't' : dflt;
}

/* ------------------------------------------------------------ typed settings */

static const dp_prop *row_of_field(const dp_settings *s, const void *field, size_t *idx) {
    size_t off = (size_t)((const char *)field - (const char *)s);
    for (size_t i = 0; i < dp_prop_count(); i++)
        if (dp_prop_at(i)->offset == off) {
            if (idx)
                *idx = i;
            return dp_prop_at(i);
        }
    return NULL;
}

void dp_conf_settings(const ddbpipe_conf_t *conf, dp_settings *out) {
    ddbpipe_conf_t *dflt = NULL;
    if (!conf) {
        dflt = ddbpipe_conf_new();
        if (!dflt) {
            memset(out, 0, sizeof *out);
            return;
        }
        conf = dflt;
    }
    *out = conf->st;
    for (size_t i = 0; i < dp_prop_count(); i++) {
        const dp_prop *p = dp_prop_at(i);
        if (out->set[i] || !p->env || dp_prop_field_kind(p) != DP_FK_STR)
            continue;
        /* Environment fallbacks are read now so explicit config always wins. */
        const char *ev = prop_env_value(p);
        if (ev)
            bind(out, p, ev, 0);
    }
    if (!dp_settings_is_set(out, &out->batch_size))
        out->batch_size = dp_batch_size_limit(out->write_mode);
    ddbpipe_conf_destroy(dflt);
}

const char *ddbpipe_conf_table(const ddbpipe_conf_t *conf) {
    return conf ? conf->st.table : NULL;
}

int ddbpipe_conf_log_level(const ddbpipe_conf_t *conf, ddbpipe_log_level_t *out) {
    if (!conf || !dp_settings_is_set(&conf->st, &conf->st.log_level))
        return 0;
    /* log_level's range lists the levels in ddbpipe_log_level_t order. */
    *out = (ddbpipe_log_level_t)conf->st.log_level;
    return 1;
}

int dp_settings_is_set(const dp_settings *s, const void *field) {
    size_t i;
    return s && row_of_field(s, field, &i) && s->set[i];
}

const char *dp_settings_enum_text(const dp_settings *s, const int *field) {
    static __thread char buf[64];
    const dp_prop *p = s ? row_of_field(s, field, NULL) : NULL;
    if (!p || p->type != DP_PT_ENUM || *field < 0)
        return NULL;
    const char *r = p->info.range;
    for (int i = 0; i < *field && r; i++) {
        r = strchr(r, '|');
        if (r)
            r++;
    }
    if (!r)
        return NULL;
    size_t l = strcspn(r, "|");
    if (l >= sizeof buf)
        return NULL;
    memcpy(buf, r, l);
    buf[l] = 0;
    return buf;
}

const char *dp_settings_name(const dp_settings *s, const void *field) {
    const dp_prop *p = s ? row_of_field(s, field, NULL) : NULL;
    return p ? p->info.name : "?";
}

char dp_key_type_char(int key_type) {
    return key_type == DP_KEY_TYPE_N ? 'N' : key_type == DP_KEY_TYPE_B ? 'B' : 'S';
}

/* ------------------------------------------------------------ validate */

static int valid_table_name(const char *t) {
    size_t n = strlen(t);
    if (n < 3 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
            return 0;
    return 1;
}

ddbpipe_result_t ddbpipe_conf_validate(const ddbpipe_conf_t *conf, const char *subcommand, char *errstr,
                                       size_t errstr_size) {
    const char *sub = subcommand ? subcommand : "sink";
    dp_settings s;
    if (!conf)
        return DDBPIPE_ERR_INVALID_ARG;
    dp_conf_settings(conf, &s);
    if (strcmp(sub, "config") != 0) {
        if (!s.table) {
            dp_errf(errstr, errstr_size,
                    "'table' is required for `%s` (set it in the config file or with "
                    "--set table=NAME)",
                    sub);
            return DDBPIPE_ERR_CONFIG;
        }
    }
    if (s.table && !valid_table_name(s.table)) {
        dp_errf(errstr, errstr_size,
                "invalid table name '%s': must be 3 to 255 characters of letters, digits, '_', '-' and '.'",
                s.table);
        return DDBPIPE_ERR_CONFIG;
    }
    int akid = s.aws_access_key_id != NULL;
    int secret = s.aws_secret_access_key != NULL;
    if (akid != secret) {
        dp_errf(errstr, errstr_size,
                "%s is set but %s is not: give both static keys or neither (neither uses "
                "the default credentials chain)",
                akid ? "aws_access_key_id" : "aws_secret_access_key",
                akid ? "aws_secret_access_key" : "aws_access_key_id");
        return DDBPIPE_ERR_CONFIG;
    }
    if (s.aws_session_token && !akid) {
        dp_errf(errstr, errstr_size,
                "aws_session_token is set without aws_access_key_id and "
                "aws_secret_access_key");
        return DDBPIPE_ERR_CONFIG;
    }
    if (s.credentials_provider == DP_CREDS_STATIC && !akid) {
        dp_errf(errstr, errstr_size,
                "credentials_provider is static (BASIC) but aws_access_key_id and "
                "aws_secret_access_key are not set");
        return DDBPIPE_ERR_CONFIG;
    }
    if (s.assume_role && !s.role_arn) {
        dp_errf(errstr, errstr_size,
                "credentials provider ASSUME_ROLE needs role_arn "
                "(aws.credentials.role.arn)");
        return DDBPIPE_ERR_CONFIG;
    }
    /* a CA file that cannot be read would only show as a TLS failure later */
    struct stat cst;
    if (s.ca_file) {
        const char *from = dp_settings_is_set(&s, &s.ca_file) ? "ca_file" : "AWS_CA_BUNDLE";
        if (stat(s.ca_file, &cst) != 0 || access(s.ca_file, R_OK) != 0) {
            dp_errf(errstr, errstr_size, "%s '%s' cannot be read: %s", from, s.ca_file, strerror(errno));
            return DDBPIPE_ERR_CONFIG;
        }
        if (!S_ISREG(cst.st_mode)) {
            dp_errf(errstr, errstr_size, "%s '%s' is not a file (a PEM file of CA certificates is expected)",
                    from, s.ca_file);
            return DDBPIPE_ERR_CONFIG;
        }
    }
    int txn = s.write_mode == DP_WRITE_MODE_TRANSACTIONAL;
    if (s.batch_size > dp_batch_size_limit(s.write_mode) || s.batch_size < 1) {
        dp_errf(errstr, errstr_size,
                "batch_size %lld is out of range for write_mode %s: allowed 1..%d (the DynamoDB %s limit)",
                (long long)s.batch_size, txn ? "transactional" : "batch", dp_batch_size_limit(s.write_mode),
                txn ? "TransactWriteItems" : "BatchWriteItem");
        return DDBPIPE_ERR_CONFIG;
    }
    if (!txn && (s.condition_expression || s.delete_condition_expression)) {
        dp_errf(errstr, errstr_size,
                "condition_expression and delete_condition_expression need write_mode "
                "transactional");
        return DDBPIPE_ERR_CONFIG;
    }
    const char *pk = s.partition_key, *sk = s.sort_key;
    if (sk && !pk) {
        dp_errf(errstr, errstr_size, "sort_key '%s' is set without partition_key", sk);
        return DDBPIPE_ERR_CONFIG;
    }
    if (pk && sk && !strcmp(pk, sk)) {
        dp_errf(errstr, errstr_size, "partition_key and sort_key are both '%s'", pk);
        return DDBPIPE_ERR_CONFIG;
    }
    const char *doc = s.document_attribute;
    if (doc && ((pk && !strcmp(doc, pk)) || (sk && !strcmp(doc, sk)))) {
        dp_errf(errstr, errstr_size, "document_attribute '%s' is also a key attribute", doc);
        return DDBPIPE_ERR_CONFIG;
    }
    int rcu = s.read_capacity > 0, wcu = s.write_capacity > 0;
    if (s.billing_mode == DP_BILLING_PROVISIONED && (!rcu || !wcu) &&
        (!strcmp(sub, "create-table") || s.create_table_if_missing)) {
        dp_errf(errstr, errstr_size, "billing_mode PROVISIONED needs read_capacity and write_capacity");
        return DDBPIPE_ERR_CONFIG;
    }
    if (s.billing_mode == DP_BILLING_PAY_PER_REQUEST && (rcu || wcu)) {
        dp_errf(errstr, errstr_size,
                "read_capacity/write_capacity are set but billing_mode is PAY_PER_REQUEST "
                "(set billing_mode: PROVISIONED)");
        return DDBPIPE_ERR_CONFIG;
    }
    if (!strcmp(sub, "create-table") && !pk) {
        dp_errf(errstr, errstr_size, "`create-table` needs partition_key (or key: pk[,sk])");
        return DDBPIPE_ERR_CONFIG;
    }
    if (!strcmp(sub, "sink") && s.columns) {
        /* The sink maps values by these types: a type it cannot map is an
         * error here, so `config --for sink` says what the sink would. */
        ddbpipe_result_t rc = dp_conf_columns_check(s.columns, errstr, errstr_size);
        if (rc != DDBPIPE_OK)
            return rc;
    }
    return DDBPIPE_OK;
}
