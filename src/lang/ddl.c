/* DDL parser: CREATE TABLE (Flink: columns, PRIMARY KEY ... NOT ENFORCED,
 * PARTITIONED BY, WITH options, WATERMARK/computed/metadata columns noted
 * and skipped), CREATE [MATERIALIZED] VIEW (Feldera: WITH ('connectors' =
 * ...) AS SELECT ...) and CREATE INDEX (Feldera's key columns) into a
 * typed dp_ddl. Other statements are skipped. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "lang/lex.h"
#include "lang/parse.h"

static void def_free(dp_ddl_table *d) {
    free(d->name);
    free(d->select_from);
    dp_sql_names_free(&d->colnames);
    dp_sql_names_free(&d->coltypes);
    dp_sql_names_free(&d->pk);
    dp_sql_names_free(&d->part);
    dp_sql_names_free(&d->okeys);
    dp_sql_names_free(&d->ovals);
}

static void ddl_clear(dp_ddl *D) {
    for (size_t i = 0; i < D->ndefs; i++)
        def_free(&D->defs[i]);
    for (size_t i = 0; i < D->nidx; i++) {
        free(D->idx[i].name);
        free(D->idx[i].on);
        dp_sql_names_free(&D->idx[i].cols);
    }
    free(D->defs);
    free(D->idx);
    dp_sql_names_free(&D->notices);
}

static void ddl_notice(dp_ddl *D, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ddl_notice(dp_ddl *D, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dp_sql_names_push(&D->notices, strdup(msg));
}

static int stop_word(const dp_tok *k) {
    static const char *w[] = {"NOT", "NULL", "PRIMARY", "COMMENT", "METADATA", "CONSTRAINT", "VIRTUAL"};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (dp_tok_is_kw(k, w[i]))
            return 1;
    return 0;
}

/* Skip the rest of one table element (up to ',' or ')' at depth 0). */
static void skip_element(dp_lex *L) {
    int depth = 0;
    while (L->cur.t != DP_TOK_EOF && !L->failed) {
        if (depth == 0 && (dp_tok_is_p(&L->cur, ",") || dp_tok_is_p(&L->cur, ")")))
            return;
        if (dp_tok_is_p(&L->cur, "("))
            depth++;
        else if (dp_tok_is_p(&L->cur, ")"))
            depth--;
        dp_lex_next(L);
    }
}

static int collapse_into(dp_sql_names *out, const char *s, size_t n) {
    return dp_sql_names_push(out, dp_collapse_ws(s, n));
}

static int parse_pk(dp_lex *L, dp_ddl_table *d) {
    if (!dp_lex_expect_kw(L, "KEY"))
        return 0;
    if (d->pk.n) {
        dp_lex_fail(L, "more than one PRIMARY KEY");
        return 0;
    }
    if (!dp_lex_name_list(L, &d->pk))
        return 0;
    if (dp_lex_accept_kw(L, "NOT"))
        return dp_lex_expect_kw(L, "ENFORCED");
    return 1;
}

static int parse_elements(dp_lex *L, dp_ddl *D, dp_ddl_table *d) {
    if (!dp_lex_expect_p(L, "("))
        return 0;
    if (dp_lex_accept_p(L, ")"))
        return 1;
    do {
        if (dp_lex_accept_kw(L, "CONSTRAINT")) {
            free(dp_lex_ident(L));
            if (!dp_lex_expect_kw(L, "PRIMARY") || !parse_pk(L, d))
                return 0;
            continue;
        }
        if (dp_lex_accept_kw(L, "PRIMARY")) {
            if (!parse_pk(L, d))
                return 0;
            continue;
        }
        if (dp_tok_is_kw(&L->cur, "WATERMARK")) {
            ddl_notice(D, "%s: WATERMARK has no effect in ddbpipe (it writes every change in order)",
                       d->name);
            skip_element(L);
            continue;
        }
        char *col = dp_lex_ident(L);
        if (!col)
            return 0;
        if (dp_tok_is_kw(&L->cur, "AS")) {
            ddl_notice(D, "%s: computed column '%s' is ignored (ddbpipe writes the input's fields)", d->name,
                       col);
            free(col);
            skip_element(L);
            continue;
        }
        if (dp_sql_names_push(&d->colnames, col)) {
            dp_lex_fail(L, "too many columns");
            return 0;
        }
        /* The type runs to the first constraint word, ',' or ')' at depth 0. */
        size_t start = L->cur.off, end = start;
        int depth = 0;
        while (L->cur.t != DP_TOK_EOF && !L->failed) {
            if (depth == 0 && (dp_tok_is_p(&L->cur, ",") || dp_tok_is_p(&L->cur, ")") || stop_word(&L->cur)))
                break;
            if (dp_tok_is_p(&L->cur, "(") || dp_tok_is_p(&L->cur, "<") || dp_tok_is_p(&L->cur, "["))
                depth++;
            else if (dp_tok_is_p(&L->cur, ")") || dp_tok_is_p(&L->cur, ">") || dp_tok_is_p(&L->cur, "]"))
                depth--;
            end = L->cur.off + L->cur.n;
            dp_lex_next(L);
        }
        if (end == start) {
            dp_lex_fail(L, "column '%s' has no type", col);
            return 0;
        }
        if (collapse_into(&d->coltypes, L->text + start, end - start)) {
            dp_lex_fail(L, "out of memory");
            return 0;
        }
        for (;;) {
            if (dp_lex_accept_kw(L, "NOT")) {
                if (!dp_lex_expect_kw(L, "NULL"))
                    return 0;
            } else if (dp_lex_accept_kw(L, "NULL")) {
            } else if (dp_lex_accept_kw(L, "PRIMARY")) {
                if (!dp_lex_expect_kw(L, "KEY"))
                    return 0;
                if (d->pk.n) {
                    dp_lex_fail(L, "more than one PRIMARY KEY");
                    return 0;
                }
                dp_sql_names_push(&d->pk, strdup(col));
                if (dp_lex_accept_kw(L, "NOT") && !dp_lex_expect_kw(L, "ENFORCED"))
                    return 0;
            } else if (dp_lex_accept_kw(L, "COMMENT")) {
                free(dp_lex_string(L));
            } else if (dp_tok_is_kw(&L->cur, "METADATA") || dp_tok_is_kw(&L->cur, "VIRTUAL")) {
                ddl_notice(D, "%s: metadata column '%s' is ignored", d->name, col);
                skip_element(L);
            } else {
                break;
            }
            if (L->failed)
                return 0;
        }
    } while (!L->failed && dp_lex_accept_p(L, ","));
    return !L->failed && dp_lex_expect_p(L, ")");
}

static int parse_options(dp_lex *L, dp_ddl_table *d) {
    if (!dp_lex_expect_p(L, "("))
        return 0;
    if (dp_lex_accept_p(L, ")"))
        return 1;
    do {
        char *k = dp_lex_string(L);
        if (!k || dp_sql_names_push(&d->okeys, k))
            return 0;
        if (!dp_lex_expect_p(L, "="))
            return 0;
        char *v = dp_lex_string(L);
        if (!v || dp_sql_names_push(&d->ovals, v))
            return 0;
    } while (dp_lex_accept_p(L, ","));
    return dp_lex_expect_p(L, ")");
}

static dp_ddl_table *new_def(dp_ddl *D, dp_lex *L) {
    if (D->ndefs >= 1000) {
        dp_lex_fail(L, "too many CREATE statements");
        return NULL;
    }
    dp_ddl_table *nd = realloc(D->defs, (D->ndefs + 1) * sizeof *nd);
    if (!nd) {
        dp_lex_fail(L, "out of memory");
        return NULL;
    }
    D->defs = nd;
    dp_ddl_table *d = &D->defs[D->ndefs++];
    memset(d, 0, sizeof *d);
    d->line = L->cur.line;
    return d;
}

static void parse_create(dp_lex *L, dp_ddl *D) {
    if (dp_lex_accept_kw(L, "OR"))
        dp_lex_accept_kw(L, "REPLACE");
    dp_lex_accept_kw(L, "TEMPORARY");
    dp_lex_accept_kw(L, "LOCAL");
    int materialized = dp_lex_accept_kw(L, "MATERIALIZED");
    if (dp_lex_accept_kw(L, "TABLE")) {
        dp_ddl_table *d = new_def(D, L);
        if (!d)
            return;
        if (dp_lex_accept_kw(L, "IF")) {
            if (!dp_lex_expect_kw(L, "NOT") || !dp_lex_expect_kw(L, "EXISTS"))
                return;
        }
        if (!(d->name = dp_lex_ident(L)))
            return;
        if (!parse_elements(L, D, d))
            return;
        while (!L->failed && L->cur.t != DP_TOK_EOF && !dp_tok_is_p(&L->cur, ";")) {
            if (dp_lex_accept_kw(L, "COMMENT")) {
                free(dp_lex_string(L));
            } else if (dp_lex_accept_kw(L, "PARTITIONED")) {
                if (!dp_lex_expect_kw(L, "BY") || !dp_lex_name_list(L, &d->part))
                    return;
            } else if (dp_lex_accept_kw(L, "WITH")) {
                if (!parse_options(L, d))
                    return;
            } else {
                char b[64];
                dp_lex_fail(L, "unexpected %s after the column list of %s", dp_tok_desc(&L->cur, b, sizeof b),
                            d->name);
                return;
            }
        }
    } else if (dp_lex_accept_kw(L, "VIEW")) {
        dp_ddl_table *d = new_def(D, L);
        if (!d)
            return;
        d->is_view = 1;
        (void)materialized;
        if (!(d->name = dp_lex_ident(L)))
            return;
        if (dp_tok_is_p(&L->cur, "(") && !dp_lex_name_list(L, &d->colnames))
            return;
        if (dp_lex_accept_kw(L, "WITH") && !parse_options(L, d))
            return;
        if (!dp_lex_expect_kw(L, "AS"))
            return;
        if (dp_lex_accept_kw(L, "SELECT") && dp_lex_accept_p(L, "*") && dp_lex_accept_kw(L, "FROM")) {
            char *src = dp_lex_ident(L);
            if (src && (dp_tok_is_p(&L->cur, ";") || L->cur.t == DP_TOK_EOF))
                d->select_from = src;
            else
                free(src);
        }
        dp_lex_skip_statement(L);
    } else if (dp_lex_accept_kw(L, "INDEX")) {
        dp_ddl_index *ni = realloc(D->idx, (D->nidx + 1) * sizeof *ni);
        if (!ni) {
            dp_lex_fail(L, "out of memory");
            return;
        }
        D->idx = ni;
        dp_ddl_index *x = &D->idx[D->nidx++];
        memset(x, 0, sizeof *x);
        if (!(x->name = dp_lex_ident(L)) || !dp_lex_expect_kw(L, "ON") || !(x->on = dp_lex_ident(L)))
            return;
        dp_lex_name_list(L, &x->cols);
    } else {
        dp_lex_skip_statement(L);
    }
}

const char *dp_ddl_option(const dp_ddl_table *d, const char *key) {
    for (size_t i = d->okeys.n; i-- > 0;)
        if (!strcasecmp(d->okeys.v[i], key))
            return d->ovals.v[i];
    return NULL;
}

const dp_ddl_table *dp_ddl_find(const dp_ddl *D, const char *name) {
    for (size_t i = 0; i < D->ndefs; i++)
        if (D->defs[i].name && !strcasecmp(D->defs[i].name, name))
            return &D->defs[i];
    return NULL;
}

int dp_ddl_column_index(const dp_ddl_table *d, const char *name) {
    for (size_t i = 0; i < d->colnames.n; i++)
        if (!strcasecmp(d->colnames.v[i], name))
            return (int)i;
    return -1;
}

void dp_ddl_free(dp_ddl *ddl) {
    if (!ddl)
        return;
    ddl_clear(ddl);
    free(ddl);
}

ddbpipe_result_t dp_ddl_parse(const char *text, size_t len, int fold_unquoted, dp_ddl **out, char *errstr,
                              size_t errstr_size) {
    dp_lex L;
    dp_ddl *D;
    *out = NULL;
    if (!text && len)
        return DDBPIPE_ERR_INVALID_ARG;
    if (!(D = calloc(1, sizeof *D)))
        return DDBPIPE_ERR_NOMEM;
    dp_lex_init(&L, text, len, fold_unquoted, errstr, errstr_size);
    while (L.cur.t != DP_TOK_EOF && !L.failed) {
        if (dp_lex_accept_p(&L, ";"))
            continue;
        if (dp_lex_accept_kw(&L, "CREATE"))
            parse_create(&L, D);
        else
            dp_lex_skip_statement(&L);
        if (!L.failed && L.cur.t != DP_TOK_EOF)
            dp_lex_expect_p(&L, ";");
    }
    if (L.failed) {
        dp_ddl_free(D);
        return DDBPIPE_ERR_PARSE;
    }
    *out = D;
    return DDBPIPE_OK;
}
