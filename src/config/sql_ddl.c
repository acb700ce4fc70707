/* SQL front end: Flink/Feldera CREATE TABLE as configuration, and the small
 * statement language of `ddbpipe sql`. Hand-written lexer + recursive
 * descent; no I/O so both are fuzzed. */
#include "config/sql_ddl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "config/conf.h"

#define SQL_MAX_ITEMS 100000 /* columns, options, rows x width: caps memory */

/* ------------------------------------------------------------ lexer */

typedef enum { T_EOF = 0, T_WORD, T_QIDENT, T_STRING, T_NUMBER, T_PUNCT } ttype;

typedef struct tok {
    ttype t;
    const char *s;
    size_t n;
    size_t off;
    int line, col;
} tok;

typedef struct lex {
    const char *text;
    size_t len, pos;
    int line;
    size_t line_start;
    tok cur;
    int failed;
    int fold; /* Feldera: unquoted identifiers are folded to lower case */
    char *errstr;
    size_t errstr_size;
} lex;

static void lfail(lex *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lfail(lex *L, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    if (L->failed)
        return;
    L->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dp_errf(L->errstr, L->errstr_size, "line %d, column %d: %s", L->cur.line, L->cur.col, msg);
}

static void lnext(lex *L)
{
    const char *t = L->text;
    size_t n = L->len, i = L->pos;
    if (L->failed) {
        L->cur.t = T_EOF;
        return;
    }
    for (;;) {
        while (i < n && isspace((unsigned char)t[i])) {
            if (t[i] == '\n') {
                L->line++;
                L->line_start = i + 1;
            }
            i++;
        }
        if (i + 1 < n && t[i] == '-' && t[i + 1] == '-') {
            while (i < n && t[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < n && t[i] == '/' && t[i + 1] == '*') {
            i += 2;
            while (i + 1 < n && !(t[i] == '*' && t[i + 1] == '/')) {
                if (t[i] == '\n') {
                    L->line++;
                    L->line_start = i + 1;
                }
                i++;
            }
            i = i + 2 <= n ? i + 2 : n;
            continue;
        }
        break;
    }
    tok k = {T_EOF, t + i, 0, i, L->line, (int)(i - L->line_start) + 1};
    if (i >= n) {
        L->cur = k;
        L->pos = i;
        return;
    }
    char c = t[i];
    size_t j = i;
    if (isalpha((unsigned char)c) || c == '_') {
        while (j < n && (isalnum((unsigned char)t[j]) || t[j] == '_' || t[j] == '$'))
            j++;
        k.t = T_WORD;
    } else if (isdigit((unsigned char)c) || (c == '.' && i + 1 < n && isdigit((unsigned char)t[i + 1]))) {
        while (j < n && isdigit((unsigned char)t[j]))
            j++;
        if (j < n && t[j] == '.') {
            j++;
            while (j < n && isdigit((unsigned char)t[j]))
                j++;
        }
        if (j < n && (t[j] == 'e' || t[j] == 'E')) {
            size_t e = j + 1;
            if (e < n && (t[e] == '+' || t[e] == '-'))
                e++;
            if (e < n && isdigit((unsigned char)t[e])) {
                j = e;
                while (j < n && isdigit((unsigned char)t[j]))
                    j++;
            }
        }
        k.t = T_NUMBER;
    } else if (c == '\'' || c == '`' || c == '"') {
        j = i + 1;
        for (;;) {
            if (j >= n) {
                L->cur = k;
                lfail(L, "unterminated %s", c == '\'' ? "string" : "quoted identifier");
                L->cur.t = T_EOF;
                return;
            }
            if (t[j] == '\n') {
                L->line++;
                L->line_start = j + 1;
            }
            if (t[j] == c) {
                if (j + 1 < n && t[j + 1] == c) { /* doubled quote = escaped */
                    j += 2;
                    continue;
                }
                j++;
                break;
            }
            j++;
        }
        k.t = c == '\'' ? T_STRING : T_QIDENT;
    } else {
        j = i + 1;
        if (j < n && ((c == '<' && (t[j] == '=' || t[j] == '>')) || (c == '>' && t[j] == '=') ||
                      (c == '!' && t[j] == '=')))
            j++;
        k.t = T_PUNCT;
    }
    k.n = j - i;
    L->cur = k;
    L->pos = j;
}

static int is_kw(const tok *k, const char *w) { return k->t == T_WORD && k->n == strlen(w) && !strncasecmp(k->s, w, k->n); }
static int is_p(const tok *k, const char *p) { return k->t == T_PUNCT && k->n == strlen(p) && !memcmp(k->s, p, k->n); }

static int accept_kw(lex *L, const char *w)
{
    if (is_kw(&L->cur, w)) {
        lnext(L);
        return 1;
    }
    return 0;
}

static int accept_p(lex *L, const char *p)
{
    if (is_p(&L->cur, p)) {
        lnext(L);
        return 1;
    }
    return 0;
}

static const char *tok_desc(const tok *k, char *buf, size_t n)
{
    if (k->t == T_EOF)
        return "end of input";
    snprintf(buf, n, "'%.*s'", (int)(k->n > 40 ? 40 : k->n), k->s);
    return buf;
}

static int expect_kw(lex *L, const char *w)
{
    char b[64];
    if (accept_kw(L, w))
        return 1;
    lfail(L, "expected %s, found %s", w, tok_desc(&L->cur, b, sizeof b));
    return 0;
}

static int expect_p(lex *L, const char *p)
{
    char b[64];
    if (accept_p(L, p))
        return 1;
    lfail(L, "expected '%s', found %s", p, tok_desc(&L->cur, b, sizeof b));
    return 0;
}

/* Unquoted text of a quoted token (doubled quotes collapse). */
static char *unquote(const tok *k)
{
    char q = k->s[0];
    char *o = malloc(k->n + 1);
    size_t ol = 0;
    if (!o)
        return NULL;
    for (size_t i = 1; i + 1 < k->n; i++) {
        o[ol++] = k->s[i];
        if (k->s[i] == q && k->s[i + 1] == q)
            i++;
    }
    o[ol] = 0;
    return o;
}

/* An identifier (bare or quoted); qualified names keep the last part. */
static char *ident(lex *L)
{
    char b[64];
    char *r = NULL;
    for (;;) {
        free(r);
        r = NULL;
        if (L->cur.t == T_WORD) {
            r = malloc(L->cur.n + 1);
            if (r) {
                for (size_t i = 0; i < L->cur.n; i++)
                    r[i] = L->fold ? (char)tolower((unsigned char)L->cur.s[i]) : L->cur.s[i];
                r[L->cur.n] = 0;
            }
        } else if (L->cur.t == T_QIDENT) {
            r = unquote(&L->cur);
        } else {
            lfail(L, "expected a name, found %s", tok_desc(&L->cur, b, sizeof b));
            return NULL;
        }
        if (!r) {
            lfail(L, "out of memory");
            return NULL;
        }
        lnext(L);
        if (!accept_p(L, "."))
            return r;
    }
}

static char *string_lit(lex *L)
{
    char b[64];
    if (L->cur.t != T_STRING) {
        lfail(L, "expected a 'string', found %s", tok_desc(&L->cur, b, sizeof b));
        return NULL;
    }
    char *r = unquote(&L->cur);
    if (!r)
        lfail(L, "out of memory");
    lnext(L);
    return r;
}

static void skip_statement(lex *L)
{
    while (L->cur.t != T_EOF && !is_p(&L->cur, ";"))
        lnext(L);
}

/* Growable array of char*. */
typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static int strv_push(strv *s, char *x)
{
    if (!x)
        return -1;
    if (s->n >= SQL_MAX_ITEMS) {
        free(x);
        return -1;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            free(x);
            return -1;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = x;
    return 0;
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* '(' name, ... ')' */
static int name_list(lex *L, strv *out)
{
    if (!expect_p(L, "("))
        return 0;
    do {
        if (strv_push(out, ident(L))) {
            lfail(L, "expected a column name");
            return 0;
        }
    } while (accept_p(L, ","));
    return expect_p(L, ")");
}

/* ------------------------------------------------------------ DDL */

typedef struct ddl_def {
    char *name;
    int line;
    int is_view;
    strv colnames, coltypes;
    strv pk, part;
    strv okeys, ovals;
    char *select_from; /* view AS SELECT * FROM <name> */
} ddl_def;

typedef struct ddl_index {
    char *name, *on;
    strv cols;
} ddl_index;

typedef struct ddl {
    ddl_def *defs;
    size_t ndefs;
    ddl_index *idx;
    size_t nidx;
    strv notices;
} ddl;

static void def_free(ddl_def *d)
{
    free(d->name);
    free(d->select_from);
    strv_free(&d->colnames);
    strv_free(&d->coltypes);
    strv_free(&d->pk);
    strv_free(&d->part);
    strv_free(&d->okeys);
    strv_free(&d->ovals);
}

static void ddl_free(ddl *D)
{
    for (size_t i = 0; i < D->ndefs; i++)
        def_free(&D->defs[i]);
    for (size_t i = 0; i < D->nidx; i++) {
        free(D->idx[i].name);
        free(D->idx[i].on);
        strv_free(&D->idx[i].cols);
    }
    free(D->defs);
    free(D->idx);
    strv_free(&D->notices);
}

static void ddl_notice(ddl *D, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ddl_notice(ddl *D, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strv_push(&D->notices, strdup(msg));
}

static int stop_word(const tok *k)
{
    static const char *w[] = {"NOT", "NULL", "PRIMARY", "COMMENT", "METADATA", "CONSTRAINT", "VIRTUAL"};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (is_kw(k, w[i]))
            return 1;
    return 0;
}

/* Skip the rest of one table element (up to ',' or ')' at depth 0). */
static void skip_element(lex *L)
{
    int depth = 0;
    while (L->cur.t != T_EOF && !L->failed) {
        if (depth == 0 && (is_p(&L->cur, ",") || is_p(&L->cur, ")")))
            return;
        if (is_p(&L->cur, "("))
            depth++;
        else if (is_p(&L->cur, ")"))
            depth--;
        lnext(L);
    }
}

static int collapse_into(strv *out, const char *s, size_t n)
{
    return strv_push(out, dp_collapse_ws(s, n));
}

static int parse_pk(lex *L, ddl_def *d)
{
    if (!expect_kw(L, "KEY"))
        return 0;
    if (d->pk.n) {
        lfail(L, "more than one PRIMARY KEY");
        return 0;
    }
    if (!name_list(L, &d->pk))
        return 0;
    if (accept_kw(L, "NOT"))
        return expect_kw(L, "ENFORCED");
    return 1;
}

static int parse_elements(lex *L, ddl *D, ddl_def *d)
{
    if (!expect_p(L, "("))
        return 0;
    if (accept_p(L, ")"))
        return 1;
    do {
        if (accept_kw(L, "CONSTRAINT")) {
            free(ident(L));
            if (!expect_kw(L, "PRIMARY") || !parse_pk(L, d))
                return 0;
            continue;
        }
        if (accept_kw(L, "PRIMARY")) {
            if (!parse_pk(L, d))
                return 0;
            continue;
        }
        if (is_kw(&L->cur, "WATERMARK")) {
            ddl_notice(D, "%s: WATERMARK has no effect in ddbpipe (it writes every change in order)", d->name);
            skip_element(L);
            continue;
        }
        char *col = ident(L);
        if (!col)
            return 0;
        if (is_kw(&L->cur, "AS")) {
            ddl_notice(D, "%s: computed column '%s' is ignored (ddbpipe writes the input's fields)", d->name, col);
            free(col);
            skip_element(L);
            continue;
        }
        if (strv_push(&d->colnames, col)) {
            lfail(L, "too many columns");
            return 0;
        }
        /* The type runs to the first constraint word, ',' or ')' at depth 0. */
        size_t start = L->cur.off, end = start;
        int depth = 0;
        while (L->cur.t != T_EOF && !L->failed) {
            if (depth == 0 && (is_p(&L->cur, ",") || is_p(&L->cur, ")") || stop_word(&L->cur)))
                break;
            if (is_p(&L->cur, "(") || is_p(&L->cur, "<") || is_p(&L->cur, "["))
                depth++;
            else if (is_p(&L->cur, ")") || is_p(&L->cur, ">") || is_p(&L->cur, "]"))
                depth--;
            end = L->cur.off + L->cur.n;
            lnext(L);
        }
        if (end == start) {
            lfail(L, "column '%s' has no type", col);
            return 0;
        }
        if (collapse_into(&d->coltypes, L->text + start, end - start)) {
            lfail(L, "out of memory");
            return 0;
        }
        for (;;) {
            if (accept_kw(L, "NOT")) {
                if (!expect_kw(L, "NULL"))
                    return 0;
            } else if (accept_kw(L, "NULL")) {
            } else if (accept_kw(L, "PRIMARY")) {
                if (!expect_kw(L, "KEY"))
                    return 0;
                if (d->pk.n) {
                    lfail(L, "more than one PRIMARY KEY");
                    return 0;
                }
                strv_push(&d->pk, strdup(col));
                if (accept_kw(L, "NOT") && !expect_kw(L, "ENFORCED"))
                    return 0;
            } else if (accept_kw(L, "COMMENT")) {
                free(string_lit(L));
            } else if (is_kw(&L->cur, "METADATA") || is_kw(&L->cur, "VIRTUAL")) {
                ddl_notice(D, "%s: metadata column '%s' is ignored", d->name, col);
                skip_element(L);
            } else {
                break;
            }
            if (L->failed)
                return 0;
        }
    } while (!L->failed && accept_p(L, ","));
    return !L->failed && expect_p(L, ")");
}

static int parse_options(lex *L, ddl_def *d)
{
    if (!expect_p(L, "("))
        return 0;
    if (accept_p(L, ")"))
        return 1;
    do {
        char *k = string_lit(L);
        if (!k || strv_push(&d->okeys, k))
            return 0;
        if (!expect_p(L, "="))
            return 0;
        char *v = string_lit(L);
        if (!v || strv_push(&d->ovals, v))
            return 0;
    } while (accept_p(L, ","));
    return expect_p(L, ")");
}

static ddl_def *new_def(ddl *D, lex *L)
{
    if (D->ndefs >= 1000) {
        lfail(L, "too many CREATE statements");
        return NULL;
    }
    ddl_def *nd = realloc(D->defs, (D->ndefs + 1) * sizeof *nd);
    if (!nd) {
        lfail(L, "out of memory");
        return NULL;
    }
    D->defs = nd;
    ddl_def *d = &D->defs[D->ndefs++];
    memset(d, 0, sizeof *d);
    d->line = L->cur.line;
    return d;
}

static void parse_create(lex *L, ddl *D)
{
    if (accept_kw(L, "OR"))
        accept_kw(L, "REPLACE");
    accept_kw(L, "TEMPORARY");
    accept_kw(L, "LOCAL");
    int materialized = accept_kw(L, "MATERIALIZED");
    if (accept_kw(L, "TABLE")) {
        ddl_def *d = new_def(D, L);
        if (!d)
            return;
        if (accept_kw(L, "IF")) {
            if (!expect_kw(L, "NOT") || !expect_kw(L, "EXISTS"))
                return;
        }
        if (!(d->name = ident(L)))
            return;
        if (!parse_elements(L, D, d))
            return;
        while (!L->failed && L->cur.t != T_EOF && !is_p(&L->cur, ";")) {
            if (accept_kw(L, "COMMENT")) {
                free(string_lit(L));
            } else if (accept_kw(L, "PARTITIONED")) {
                if (!expect_kw(L, "BY") || !name_list(L, &d->part))
                    return;
            } else if (accept_kw(L, "WITH")) {
                if (!parse_options(L, d))
                    return;
            } else {
                char b[64];
                lfail(L, "unexpected %s after the column list of %s", tok_desc(&L->cur, b, sizeof b), d->name);
                return;
            }
        }
    } else if (accept_kw(L, "VIEW")) {
        ddl_def *d = new_def(D, L);
        if (!d)
            return;
        d->is_view = 1;
        (void)materialized;
        if (!(d->name = ident(L)))
            return;
        if (is_p(&L->cur, "(") && !name_list(L, &d->colnames))
            return;
        if (accept_kw(L, "WITH") && !parse_options(L, d))
            return;
        if (!expect_kw(L, "AS"))
            return;
        if (accept_kw(L, "SELECT") && accept_p(L, "*") && accept_kw(L, "FROM")) {
            char *src = ident(L);
            if (src && (is_p(&L->cur, ";") || L->cur.t == T_EOF))
                d->select_from = src;
            else
                free(src);
        }
        skip_statement(L);
    } else if (accept_kw(L, "INDEX")) {
        ddl_index *ni = realloc(D->idx, (D->nidx + 1) * sizeof *ni);
        if (!ni) {
            lfail(L, "out of memory");
            return;
        }
        D->idx = ni;
        ddl_index *x = &D->idx[D->nidx++];
        memset(x, 0, sizeof *x);
        if (!(x->name = ident(L)) || !expect_kw(L, "ON") || !(x->on = ident(L)))
            return;
        name_list(L, &x->cols);
    } else {
        skip_statement(L);
    }
}

static const char *opt(const ddl_def *d, const char *key)
{
    for (size_t i = d->okeys.n; i-- > 0;)
        if (!strcasecmp(d->okeys.v[i], key))
            return d->ovals.v[i];
    return NULL;
}

static const ddl_def *find_def(const ddl *D, const char *name)
{
    for (size_t i = 0; i < D->ndefs; i++)
        if (D->defs[i].name && !strcasecmp(D->defs[i].name, name))
            return &D->defs[i];
    return NULL;
}

static int col_index(const ddl_def *d, const char *name)
{
    for (size_t i = 0; i < d->colnames.n; i++)
        if (!strcasecmp(d->colnames.v[i], name))
            return (int)i;
    return -1;
}

static ddbpipe_result_t set_opt(ddbpipe_conf_t *conf, const char *k, const char *v, const ddl_def *d, char *errstr,
                                size_t n)
{
    char msg[512] = "";
    char *x = NULL;
    ddbpipe_result_t rc = v ? dp_conf_expand_env(k, v, &x, msg, sizeof msg) : DDBPIPE_OK;
    if (!rc)
        rc = ddbpipe_conf_set(conf, k, x, msg, sizeof msg);
    if (rc)
        dp_errf(errstr, n, "CREATE TABLE %s (line %d): %s", d->name, d->line, msg);
    if (x)
        memset(x, 0, strlen(x)); /* may be a secret */
    free(x);
    return rc;
}

/* Columns and key of a def (or of the table a view selects from). */
static ddbpipe_result_t apply_columns_and_key(ddbpipe_conf_t *conf, const ddl_def *cols, const strv *pk,
                                              const ddl_def *d, char *errstr, size_t n)
{
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_buf b;
    dp_buf_init(&b, (size_t)1 << 20);
    if (cols && cols->coltypes.n) {
        for (size_t i = 0; i < cols->coltypes.n && !rc; i++) {
            rc = dp_buf_puts(&b, i ? ", " : "");
            if (!rc)
                rc = dp_conf_column_name_append(&b, cols->colnames.v[i]);
            if (!rc)
                rc = dp_buf_printf(&b, " %s", cols->coltypes.v[i]);
        }
        if (!rc)
            rc = set_opt(conf, "columns", b.data, d, errstr, n);
    }
    dp_buf_free(&b);
    if (rc || !pk || !pk->n)
        return rc;
    if (pk->n > 2) {
        dp_errf(errstr, n, "CREATE TABLE %s (line %d): PRIMARY KEY has %zu columns; a DynamoDB key has at most 2 "
                "(partition key, sort key)", d->name, d->line, pk->n);
        return DDBPIPE_ERR_CONFIG;
    }
    for (size_t i = 0; i < pk->n && !rc; i++) {
        const char *type = NULL;
        if (cols && cols->coltypes.n) {
            int ci = col_index(cols, pk->v[i]);
            if (ci < 0) {
                dp_errf(errstr, n, "CREATE TABLE %s (line %d): key column '%s' is not a column", d->name, d->line,
                        pk->v[i]);
                return DDBPIPE_ERR_CONFIG;
            }
            type = cols->coltypes.v[ci];
        }
        rc = set_opt(conf, i ? "sort_key" : "partition_key", pk->v[i], d, errstr, n);
        if (!rc && type) {
            char kt[2] = {dp_sql_type_key_type(type), 0};
            rc = set_opt(conf, i ? "sort_key_type" : "partition_key_type", kt, d, errstr, n);
        }
    }
    if (!rc && pk->n == 1)
        rc = set_opt(conf, "sort_key", NULL, d, errstr, n);
    return rc;
}

static ddbpipe_result_t apply_flink(ddbpipe_conf_t *conf, const ddl_def *d, char *errstr, size_t n)
{
    ddbpipe_result_t rc = DDBPIPE_OK;
    for (size_t i = 0; i < d->okeys.n && !rc; i++) {
        if (!strcasecmp(d->okeys.v[i], "connector"))
            continue;
        rc = set_opt(conf, d->okeys.v[i], d->ovals.v[i], d, errstr, n);
    }
    if (rc)
        return rc;
    if (!opt(d, "table-name")) {
        dp_conf_notice_add(conf, "CREATE TABLE %s has no 'table-name': using '%s' as the DynamoDB table name",
                           d->name, d->name);
        if ((rc = set_opt(conf, "table", d->name, d, errstr, n)))
            return rc;
    }
    if ((rc = apply_columns_and_key(conf, d, &d->pk, d, errstr, n)))
        return rc;
    if (d->part.n) {
        dp_buf b;
        dp_buf_init(&b, (size_t)1 << 20);
        for (size_t i = 0; i < d->part.n && !rc; i++)
            rc = dp_buf_printf(&b, "%s%s", i ? "," : "", d->part.v[i]);
        if (!rc)
            rc = set_opt(conf, "dedup_keys", b.data, d, errstr, n);
        int full = d->pk.n == d->part.n;
        for (size_t i = 0; full && i < d->pk.n; i++) {
            int found = 0;
            for (size_t j = 0; j < d->part.n; j++)
                found |= !strcasecmp(d->pk.v[i], d->part.v[j]);
            full = found;
        }
        if (!rc && !full)
            dp_conf_notice_add(conf,
                               "warning: PARTITIONED BY (%s) of %s is not the full primary key%s: records with the "
                               "same %s are folded into one even when their DynamoDB keys differ",
                               b.data, d->name, d->pk.n ? "" : " (no PRIMARY KEY declared)", b.data);
        dp_buf_free(&b);
    }
    return rc;
}

static ddbpipe_result_t apply_feldera(ddbpipe_conf_t *conf, const ddl *D, const ddl_def *d, char *errstr, size_t n)
{
    const char *connectors = opt(d, "connectors");
    char msg[512] = "";
    char origin[300];
    ddbpipe_result_t rc;
    snprintf(origin, sizeof origin, "%s 'connectors'", d->name);
    if ((rc = dp_conf_load_text(conf, connectors, strlen(connectors), origin, msg, sizeof msg))) {
        dp_errf(errstr, n, "%s", msg);
        return rc;
    }
    /* The connector's index names the key columns (CREATE INDEX ... ON v(cols)). */
    const char *index = NULL;
    dp_json_doc *doc = dp_json_parse(connectors, strlen(connectors), NULL);
    const dp_json *arr = dp_json_root(doc);
    for (size_t i = 0; arr && arr->type == DP_JSON_ARRAY && i < arr->count; i++) {
        const char *name = dp_json_get_string(dp_json_get(arr->items[i], "transport"), "name");
        if (name && !strcmp(name, "dynamodb_output"))
            index = dp_json_get_string(arr->items[i], "index");
    }
    const ddl_index *x = NULL;
    for (size_t i = 0; index && i < D->nidx; i++)
        if (D->idx[i].name && !strcasecmp(D->idx[i].name, index))
            x = &D->idx[i];
    /* Column types: the view's own, or those of the table it selects from. */
    const ddl_def *cols = d->coltypes.n ? d : (d->select_from ? find_def(D, d->select_from) : NULL);
    if (x && x->cols.n)
        rc = apply_columns_and_key(conf, cols, &x->cols, d, errstr, n);
    else if (cols)
        rc = apply_columns_and_key(conf, cols, NULL, d, errstr, n);
    if (!rc && index && !x)
        dp_conf_notice_add(conf, "Feldera index '%s' is not defined in this file: key columns come from 'key' or "
                           "the table's key schema", index);
    dp_json_doc_free(doc);
    return rc;
}

static int is_dynamodb_def(const ddl_def *d)
{
    const char *c = opt(d, "connector");
    const char *cs = opt(d, "connectors");
    return (c && !strcasecmp(c, "dynamodb")) || (cs && strstr(cs, "dynamodb_output"));
}

ddbpipe_result_t dp_conf_load_sql_ddl(ddbpipe_conf_t *conf, const char *text, size_t len,
                                      const char *table_name_or_NULL, char *errstr, size_t errstr_size)
{
    ddl D;
    lex L;
    ddbpipe_result_t rc = DDBPIPE_ERR_CONFIG;
    int fold = 0;
    if (!conf || (!text && len))
        return DDBPIPE_ERR_INVALID_ARG;
again:
    memset(&D, 0, sizeof D);
    memset(&L, 0, sizeof L);
    L.fold = fold;
    L.text = text ? text : "";
    L.len = len;
    L.line = 1;
    L.errstr = errstr;
    L.errstr_size = errstr_size;
    lnext(&L);
    while (L.cur.t != T_EOF && !L.failed) {
        if (accept_p(&L, ";"))
            continue;
        if (accept_kw(&L, "CREATE"))
            parse_create(&L, &D);
        else
            skip_statement(&L);
        if (!L.failed && L.cur.t != T_EOF)
            expect_p(&L, ";");
    }
    if (L.failed) {
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
    const ddl_def *target = NULL;
    char names[256] = "";
    size_t ncand = 0;
    for (size_t i = 0; i < D.ndefs; i++) {
        const ddl_def *d = &D.defs[i];
        if (!d->name || !is_dynamodb_def(d))
            continue;
        ncand++;
        const char *tn = opt(d, "table-name");
        if (table_name_or_NULL &&
            (!strcasecmp(d->name, table_name_or_NULL) || (tn && !strcmp(tn, table_name_or_NULL))))
            target = d;
        if (strlen(names) + strlen(d->name) + 3 < sizeof names)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", d->name);
    }
    if (!table_name_or_NULL && ncand == 1) {
        for (size_t i = 0; i < D.ndefs; i++)
            if (D.defs[i].name && is_dynamodb_def(&D.defs[i]))
                target = &D.defs[i];
    }
    if (!target) {
        if (ncand == 0)
            dp_errf(errstr, errstr_size, "no CREATE TABLE with 'connector' = 'dynamodb' (or a Feldera "
                    "dynamodb_output connector) in the SQL");
        else if (table_name_or_NULL)
            dp_errf(errstr, errstr_size, "no DynamoDB table named '%s' in the SQL (found: %s)", table_name_or_NULL,
                    names);
        else
            dp_errf(errstr, errstr_size, "the SQL declares %zu DynamoDB tables (%s): name the one to use", ncand,
                    names);
        goto out;
    }
    if (!fold && !opt(target, "connector")) {
        /* A Feldera program: Feldera folds unquoted names to lower case
         * (quoted ones keep their case), so read it again that way. Flink
         * DDL and `ddbpipe sql` stay case-sensitive. */
        ddl_free(&D);
        fold = 1;
        goto again;
    }
    for (size_t i = 0; i < D.notices.n; i++)
        dp_conf_notice_add(conf, "%s", D.notices.v[i]);
    if (opt(target, "connector"))
        rc = apply_flink(conf, target, errstr, errstr_size);
    else
        rc = apply_feldera(conf, &D, target, errstr, errstr_size);
out:
    ddl_free(&D);
    return rc;
}

/* ------------------------------------------------------------ statements */

static void value_free(dp_sql_value *v)
{
    free(v->text);
    v->text = NULL;
}

static void stmt_free(dp_sql_stmt *s)
{
    free(s->table);
    for (size_t i = 0; i < s->ncolumns; i++)
        free(s->columns[i]);
    free(s->columns);
    for (size_t i = 0; i < s->nrows * s->row_width; i++)
        value_free(&s->values[i]);
    free(s->values);
    for (size_t i = 0; i < s->nwhere; i++) {
        free(s->where[i].column);
        value_free(&s->where[i].value);
        value_free(&s->where[i].value2);
    }
    free(s->where);
}

void dp_sql_script_free(dp_sql_script *script)
{
    if (!script)
        return;
    for (size_t i = 0; i < script->count; i++)
        stmt_free(&script->stmts[i]);
    free(script->stmts);
    free(script);
}

static int parse_value(lex *L, dp_sql_value *v)
{
    char b[64];
    memset(v, 0, sizeof *v);
    int neg = accept_p(L, "-");
    if (L->cur.t == T_NUMBER) {
        v->kind = DP_SQLV_NUMBER;
        v->text = malloc(L->cur.n + 2);
        if (v->text) {
            snprintf(v->text, L->cur.n + 2, "%s%.*s", neg ? "-" : "", (int)L->cur.n, L->cur.s);
        }
    } else if (neg) {
        lfail(L, "expected a number after '-', found %s", tok_desc(&L->cur, b, sizeof b));
        return 0;
    } else if (L->cur.t == T_STRING) {
        v->kind = DP_SQLV_STRING;
        v->text = unquote(&L->cur);
    } else if (is_kw(&L->cur, "TRUE") || is_kw(&L->cur, "FALSE")) {
        v->kind = DP_SQLV_BOOL;
        v->text = strdup(is_kw(&L->cur, "TRUE") ? "true" : "false");
    } else if (is_kw(&L->cur, "NULL")) {
        v->kind = DP_SQLV_NULL;
        lnext(L);
        return 1;
    } else {
        lfail(L, "expected a value ('text', number, TRUE, FALSE or NULL), found %s", tok_desc(&L->cur, b, sizeof b));
        return 0;
    }
    if (!v->text) {
        lfail(L, "out of memory");
        return 0;
    }
    lnext(L);
    return 1;
}

static int parse_where(lex *L, dp_sql_stmt *s)
{
    char b[64];
    do {
        if (s->nwhere >= 16) {
            lfail(L, "too many conditions");
            return 0;
        }
        dp_sql_cond *nw = realloc(s->where, (s->nwhere + 1) * sizeof *nw);
        if (!nw) {
            lfail(L, "out of memory");
            return 0;
        }
        s->where = nw;
        dp_sql_cond *c = &s->where[s->nwhere++];
        memset(c, 0, sizeof *c);
        if (!(c->column = ident(L)))
            return 0;
        if (accept_p(L, "="))
            c->op = DP_SQL_OP_EQ;
        else if (accept_p(L, "<="))
            c->op = DP_SQL_OP_LE;
        else if (accept_p(L, ">="))
            c->op = DP_SQL_OP_GE;
        else if (accept_p(L, "<"))
            c->op = DP_SQL_OP_LT;
        else if (accept_p(L, ">"))
            c->op = DP_SQL_OP_GT;
        else if (accept_kw(L, "BETWEEN")) {
            c->op = DP_SQL_OP_BETWEEN;
            if (!parse_value(L, &c->value) || !expect_kw(L, "AND") || !parse_value(L, &c->value2))
                return 0;
            continue;
        } else if (accept_kw(L, "LIKE")) {
            c->op = DP_SQL_OP_BEGINS_WITH;
            if (!parse_value(L, &c->value))
                return 0;
            size_t l = c->value.text ? strlen(c->value.text) : 0;
            if (c->value.kind != DP_SQLV_STRING || l == 0 || c->value.text[l - 1] != '%' ||
                strpbrk(c->value.text, "_") || memchr(c->value.text, '%', l - 1)) {
                lfail(L, "LIKE supports only a prefix pattern 'text%%' (DynamoDB begins_with)");
                return 0;
            }
            c->value.text[l - 1] = 0;
            continue;
        } else {
            lfail(L, "expected a comparison (=, <, <=, >, >=, BETWEEN, LIKE), found %s",
                  tok_desc(&L->cur, b, sizeof b));
            return 0;
        }
        if (!parse_value(L, &c->value))
            return 0;
    } while (accept_kw(L, "AND"));
    return 1;
}

static int parse_insert(lex *L, dp_sql_stmt *s)
{
    strv cols = {0};
    if (!expect_kw(L, "INTO") || !(s->table = ident(L)))
        return 0;
    if (is_p(&L->cur, "(")) {
        if (!name_list(L, &cols)) {
            strv_free(&cols);
            return 0;
        }
        s->columns = cols.v;
        s->ncolumns = cols.n;
    }
    if (accept_kw(L, "SELECT")) {
        s->kind = DP_SQL_INSERT_STDIN;
        if (!expect_p(L, "*") || !expect_kw(L, "FROM") || !expect_kw(L, "STDIN"))
            return 0;
        return 1;
    }
    s->kind = DP_SQL_INSERT_VALUES;
    if (!expect_kw(L, "VALUES"))
        return 0;
    do {
        dp_sql_value *row = NULL;
        size_t width = 0, rcap = 0;
        int ok = expect_p(L, "(");
        while (ok) {
            if (width == rcap) {
                size_t nc = rcap ? rcap * 2 : 8;
                dp_sql_value *nr = nc <= 4096 ? realloc(row, nc * sizeof *nr) : NULL;
                if (!nr) {
                    lfail(L, "too many values in one row");
                    ok = 0;
                    break;
                }
                row = nr;
                rcap = nc;
            }
            if (!parse_value(L, &row[width])) {
                value_free(&row[width]);
                ok = 0;
                break;
            }
            width++;
            if (!accept_p(L, ","))
                break;
        }
        if (ok && s->nrows > 0 && width != s->row_width) {
            lfail(L, "row %zu has %zu values, row 1 has %zu", s->nrows + 1, width, s->row_width);
            ok = 0;
        }
        if (ok && (s->nrows + 1) * width > SQL_MAX_ITEMS) {
            lfail(L, "too many values");
            ok = 0;
        }
        dp_sql_value *nv = ok ? realloc(s->values, (s->nrows + 1) * width * sizeof *nv) : NULL;
        if (ok && !nv && width) {
            lfail(L, "out of memory");
            ok = 0;
        }
        if (!ok) {
            for (size_t i = 0; i < width; i++)
                value_free(&row[i]);
            free(row);
            return 0;
        }
        if (nv)
            s->values = nv;
        memcpy(s->values + s->nrows * width, row, width * sizeof *row);
        free(row);
        s->row_width = width;
        s->nrows++;
        if (!expect_p(L, ")"))
            return 0;
    } while (accept_p(L, ","));
    if (s->ncolumns && s->ncolumns != s->row_width) {
        lfail(L, "%zu columns named but rows have %zu values", s->ncolumns, s->row_width);
        return 0;
    }
    return 1;
}

static int parse_select(lex *L, dp_sql_stmt *s)
{
    strv cols = {0};
    s->kind = DP_SQL_SELECT;
    s->limit = -1;
    if (!accept_p(L, "*")) {
        do {
            if (strv_push(&cols, ident(L))) {
                strv_free(&cols);
                lfail(L, "expected a column name or '*'");
                return 0;
            }
        } while (accept_p(L, ","));
        s->columns = cols.v;
        s->ncolumns = cols.n;
    }
    if (!expect_kw(L, "FROM") || !(s->table = ident(L)))
        return 0;
    if (accept_kw(L, "WHERE") && !parse_where(L, s))
        return 0;
    if (accept_kw(L, "LIMIT")) {
        char b[64];
        if (L->cur.t != T_NUMBER || L->cur.n > 15 || memchr(L->cur.s, '.', L->cur.n) ||
            memchr(L->cur.s, 'e', L->cur.n) || memchr(L->cur.s, 'E', L->cur.n)) {
            lfail(L, "expected a row count after LIMIT, found %s", tok_desc(&L->cur, b, sizeof b));
            return 0;
        }
        s->limit = strtoll(L->cur.s, NULL, 10);
        lnext(L);
    }
    return 1;
}

ddbpipe_result_t dp_sql_parse(const char *text, size_t len, dp_sql_script **out, char *errstr, size_t errstr_size)
{
    lex L;
    dp_sql_script *sc = calloc(1, sizeof *sc);
    size_t cap = 0;
    char b[64];
    *out = NULL;
    if (!sc)
        return DDBPIPE_ERR_NOMEM;
    memset(&L, 0, sizeof L);
    L.text = text ? text : "";
    L.len = text ? len : 0;
    L.line = 1;
    L.errstr = errstr;
    L.errstr_size = errstr_size;
    lnext(&L);
    while (L.cur.t != T_EOF && !L.failed) {
        if (accept_p(&L, ";"))
            continue;
        if (sc->count == cap) {
            size_t nc = cap ? cap * 2 : 8;
            if (nc > SQL_MAX_ITEMS) {
                lfail(&L, "too many statements");
                break;
            }
            dp_sql_stmt *ns = realloc(sc->stmts, nc * sizeof *ns);
            if (!ns) {
                lfail(&L, "out of memory");
                break;
            }
            sc->stmts = ns;
            cap = nc;
        }
        dp_sql_stmt *s = &sc->stmts[sc->count++];
        memset(s, 0, sizeof *s);
        s->limit = -1;
        s->line = L.cur.line;
        s->offset = L.cur.off;
        if (accept_kw(&L, "CREATE")) {
            s->kind = DP_SQL_CREATE;
            while (L.cur.t != T_EOF && !is_p(&L.cur, ";") && !is_kw(&L.cur, "TABLE") && !is_kw(&L.cur, "VIEW") &&
                   !is_kw(&L.cur, "INDEX"))
                lnext(&L);
            if (L.cur.t == T_WORD) {
                lnext(&L);
                if (accept_kw(&L, "IF")) {
                    accept_kw(&L, "NOT");
                    accept_kw(&L, "EXISTS");
                }
                s->table = ident(&L);
            }
            skip_statement(&L);
        } else if (accept_kw(&L, "INSERT")) {
            parse_insert(&L, s);
        } else if (accept_kw(&L, "DELETE")) {
            s->kind = DP_SQL_DELETE;
            if (expect_kw(&L, "FROM") && (s->table = ident(&L)) && expect_kw(&L, "WHERE"))
                parse_where(&L, s);
        } else if (accept_kw(&L, "SELECT")) {
            parse_select(&L, s);
        } else {
            lfail(&L, "unsupported statement starting with %s (supported: CREATE, INSERT, DELETE, SELECT)",
                  tok_desc(&L.cur, b, sizeof b));
            break;
        }
        if (L.failed)
            break;
        s->length = (L.cur.t == T_EOF ? L.len : L.cur.off) - s->offset;
        if (L.cur.t != T_EOF && !is_p(&L.cur, ";"))
            lfail(&L, "expected ';' or end of input, found %s", tok_desc(&L.cur, b, sizeof b));
    }
    if (L.failed) {
        dp_sql_script_free(sc);
        return DDBPIPE_ERR_PARSE;
    }
    *out = sc;
    return DDBPIPE_OK;
}
