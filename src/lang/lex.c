/* The SQL lexer and the token helpers every parser of src/lang/ shares.
 * Hand-written: the dialects need quoted identifiers with any character,
 * and errors must name line and column. */
#include "lang/lex.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "lang/parse.h"

void dp_lex_init(dp_lex *L, const char *text, size_t len, int fold, char *errstr, size_t errstr_size) {
    memset(L, 0, sizeof *L);
    L->text = text ? text : "";
    L->len = text ? len : 0;
    L->line = 1;
    L->fold = fold;
    L->errstr = errstr;
    L->errstr_size = errstr_size;
    if (L->len >= 3 && !memcmp(L->text, "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM (editors on Windows) */
        L->pos = 3;
        L->line_start = 3;
    }
    dp_lex_next(L);
}

void dp_lex_fail(dp_lex *L, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    if (L->failed)
        return;
    L->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->err_line = L->cur.line;
    L->err_col = L->cur.col;
    snprintf(L->err_reason, sizeof L->err_reason, "%s", msg);
    dp_errf(L->errstr, L->errstr_size, "line %d, column %d: %s", L->cur.line, L->cur.col, msg);
}

void dp_lex_next(dp_lex *L) {
    const char *t = L->text;
    size_t n = L->len, i = L->pos;
    if (L->failed) {
        L->cur.t = DP_TOK_EOF;
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
    dp_tok k = {DP_TOK_EOF, t + i, 0, i, L->line, (int)(i - L->line_start) + 1};
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
        k.t = DP_TOK_WORD;
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
        k.t = DP_TOK_NUMBER;
    } else if (c == '\'' || c == '`' || c == '"') {
        j = i + 1;
        for (;;) {
            if (j >= n) {
                L->cur = k;
                dp_lex_fail(L, "unterminated %s", c == '\'' ? "string" : "quoted identifier");
                L->cur.t = DP_TOK_EOF;
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
        k.t = c == '\'' ? DP_TOK_STRING : DP_TOK_QIDENT;
    } else {
        j = i + 1;
        if (j < n && ((c == '<' && (t[j] == '=' || t[j] == '>')) || (c == '>' && t[j] == '=') ||
                      (c == '!' && t[j] == '=')))
            j++;
        k.t = DP_TOK_PUNCT;
    }
    k.n = j - i;
    L->cur = k;
    L->pos = j;
}

int dp_tok_is_kw(const dp_tok *k, const char *w) {
    return k->t == DP_TOK_WORD && k->n == strlen(w) && !strncasecmp(k->s, w, k->n);
}
int dp_tok_is_p(const dp_tok *k, const char *p) {
    return k->t == DP_TOK_PUNCT && k->n == strlen(p) && !memcmp(k->s, p, k->n);
}

int dp_lex_accept_kw(dp_lex *L, const char *w) {
    if (dp_tok_is_kw(&L->cur, w)) {
        dp_lex_next(L);
        return 1;
    }
    return 0;
}

int dp_lex_accept_p(dp_lex *L, const char *p) {
    if (dp_tok_is_p(&L->cur, p)) {
        dp_lex_next(L);
        return 1;
    }
    return 0;
}

const char *dp_tok_desc(const dp_tok *k, char *buf, size_t n) {
    if (k->t == DP_TOK_EOF)
        return "end of input";
    snprintf(buf, n, "'%.*s'", (int)(k->n > 40 ? 40 : k->n), k->s);
    return buf;
}

int dp_lex_expect_kw(dp_lex *L, const char *w) {
    char b[64];
    if (dp_lex_accept_kw(L, w))
        return 1;
    dp_lex_fail(L, "expected %s, found %s", w, dp_tok_desc(&L->cur, b, sizeof b));
    return 0;
}

int dp_lex_expect_p(dp_lex *L, const char *p) {
    char b[64];
    if (dp_lex_accept_p(L, p))
        return 1;
    dp_lex_fail(L, "expected '%s', found %s", p, dp_tok_desc(&L->cur, b, sizeof b));
    return 0;
}

/* Unquoted text of a quoted token (doubled quotes collapse). */
char *dp_tok_unquote(const dp_tok *k) {
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
char *dp_lex_ident(dp_lex *L) {
    char b[64];
    char *r = NULL;
    for (;;) {
        free(r);
        r = NULL;
        if (L->cur.t == DP_TOK_WORD) {
            r = malloc(L->cur.n + 1);
            if (r) {
                for (size_t i = 0; i < L->cur.n; i++)
                    r[i] = L->fold ? (char)tolower((unsigned char)L->cur.s[i]) : L->cur.s[i];
                r[L->cur.n] = 0;
            }
        } else if (L->cur.t == DP_TOK_QIDENT) {
            r = dp_tok_unquote(&L->cur);
        } else {
            dp_lex_fail(L, "expected a name, found %s", dp_tok_desc(&L->cur, b, sizeof b));
            return NULL;
        }
        if (!r) {
            dp_lex_fail(L, "out of memory");
            return NULL;
        }
        dp_lex_next(L);
        if (!dp_lex_accept_p(L, "."))
            return r;
    }
}

char *dp_lex_string(dp_lex *L) {
    char b[64];
    if (L->cur.t != DP_TOK_STRING) {
        dp_lex_fail(L, "expected a 'string', found %s", dp_tok_desc(&L->cur, b, sizeof b));
        return NULL;
    }
    char *r = dp_tok_unquote(&L->cur);
    if (!r)
        dp_lex_fail(L, "out of memory");
    dp_lex_next(L);
    return r;
}

void dp_lex_skip_statement(dp_lex *L) {
    while (L->cur.t != DP_TOK_EOF && !dp_tok_is_p(&L->cur, ";"))
        dp_lex_next(L);
}

int dp_sql_names_push(dp_sql_names *s, char *x) {
    if (!x)
        return -1;
    if (s->n >= DP_SQL_MAX_ITEMS) {
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

void dp_sql_names_free(dp_sql_names *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* '(' name, ... ')' */
int dp_lex_name_list(dp_lex *L, dp_sql_names *out) {
    if (!dp_lex_expect_p(L, "("))
        return 0;
    do {
        if (dp_sql_names_push(out, dp_lex_ident(L))) {
            dp_lex_fail(L, "expected a column name");
            return 0;
        }
    } while (dp_lex_accept_p(L, ","));
    return dp_lex_expect_p(L, ")");
}
