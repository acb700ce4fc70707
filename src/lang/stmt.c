/* Statement parser of `ddbpipe sql` (CREATE, INSERT ... VALUES / SELECT *
 * FROM STDIN, DELETE ... WHERE, SELECT ... WHERE ... LIMIT) and the
 * statement splitter, both on the shared lexer. A CREATE is only located
 * here (name and span): its text is DDL, read by dp_ddl_parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "lang/lex.h"
#include "lang/parse.h"

static void value_free(dp_sql_value *v) {
    free(v->text);
    v->text = NULL;
}

static void stmt_free(dp_sql_stmt *s) {
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

void dp_sql_script_free(dp_sql_script *script) {
    if (!script)
        return;
    for (size_t i = 0; i < script->count; i++)
        stmt_free(&script->stmts[i]);
    free(script->stmts);
    free(script);
}

static int parse_value(dp_lex *L, dp_sql_value *v) {
    char b[64];
    memset(v, 0, sizeof *v);
    int neg = dp_lex_accept_p(L, "-");
    if (L->cur.t == DP_TOK_NUMBER) {
        v->kind = DP_SQLV_NUMBER;
        v->text = malloc(L->cur.n + 2);
        if (v->text) {
            snprintf(v->text, L->cur.n + 2, "%s%.*s", neg ? "-" : "", (int)L->cur.n, L->cur.s);
        }
    } else if (neg) {
        dp_lex_fail(L, "expected a number after '-', found %s", dp_tok_desc(&L->cur, b, sizeof b));
        return 0;
    } else if (L->cur.t == DP_TOK_STRING) {
        v->kind = DP_SQLV_STRING;
        v->text = dp_tok_unquote(&L->cur);
    } else if (dp_tok_is_kw(&L->cur, "TRUE") || dp_tok_is_kw(&L->cur, "FALSE")) {
        v->kind = DP_SQLV_BOOL;
        v->text = strdup(dp_tok_is_kw(&L->cur, "TRUE") ? "true" : "false");
    } else if (dp_tok_is_kw(&L->cur, "NULL")) {
        v->kind = DP_SQLV_NULL;
        dp_lex_next(L);
        return 1;
    } else {
        dp_lex_fail(L, "expected a value ('text', number, TRUE, FALSE or NULL), found %s",
                    dp_tok_desc(&L->cur, b, sizeof b));
        return 0;
    }
    if (!v->text) {
        dp_lex_fail(L, "out of memory");
        return 0;
    }
    dp_lex_next(L);
    return 1;
}

static int parse_where(dp_lex *L, dp_sql_stmt *s) {
    char b[64];
    do {
        if (s->nwhere >= 16) {
            dp_lex_fail(L, "too many conditions");
            return 0;
        }
        dp_sql_cond *nw = realloc(s->where, (s->nwhere + 1) * sizeof *nw);
        if (!nw) {
            dp_lex_fail(L, "out of memory");
            return 0;
        }
        s->where = nw;
        dp_sql_cond *c = &s->where[s->nwhere++];
        memset(c, 0, sizeof *c);
        if (!(c->column = dp_lex_ident(L)))
            return 0;
        if (dp_lex_accept_p(L, "="))
            c->op = DP_SQL_OP_EQ;
        else if (dp_lex_accept_p(L, "<="))
            c->op = DP_SQL_OP_LE;
        else if (dp_lex_accept_p(L, ">="))
            c->op = DP_SQL_OP_GE;
        else if (dp_lex_accept_p(L, "<"))
            c->op = DP_SQL_OP_LT;
        else if (dp_lex_accept_p(L, ">"))
            c->op = DP_SQL_OP_GT;
        else if (dp_lex_accept_kw(L, "BETWEEN")) {
            c->op = DP_SQL_OP_BETWEEN;
            if (!parse_value(L, &c->value) || !dp_lex_expect_kw(L, "AND") || !parse_value(L, &c->value2))
                return 0;
            continue;
        } else if (dp_lex_accept_kw(L, "LIKE")) {
            c->op = DP_SQL_OP_BEGINS_WITH;
            if (!parse_value(L, &c->value))
                return 0;
            size_t l = c->value.text ? strlen(c->value.text) : 0;
            if (c->value.kind != DP_SQLV_STRING || l == 0 || c->value.text[l - 1] != '%' ||
                strpbrk(c->value.text, "_") || memchr(c->value.text, '%', l - 1)) {
                dp_lex_fail(L, "LIKE supports only a prefix pattern 'text%%' (DynamoDB begins_with)");
                return 0;
            }
            c->value.text[l - 1] = 0;
            continue;
        } else {
            dp_lex_fail(L, "expected a comparison (=, <, <=, >, >=, BETWEEN, LIKE), found %s",
                        dp_tok_desc(&L->cur, b, sizeof b));
            return 0;
        }
        if (!parse_value(L, &c->value))
            return 0;
    } while (dp_lex_accept_kw(L, "AND"));
    return 1;
}

static int parse_insert(dp_lex *L, dp_sql_stmt *s) {
    dp_sql_names cols = {0};
    if (!dp_lex_expect_kw(L, "INTO") || !(s->table = dp_lex_ident(L)))
        return 0;
    if (dp_tok_is_p(&L->cur, "(")) {
        if (!dp_lex_name_list(L, &cols)) {
            dp_sql_names_free(&cols);
            return 0;
        }
        s->columns = cols.v;
        s->ncolumns = cols.n;
    }
    if (dp_lex_accept_kw(L, "SELECT")) {
        s->kind = DP_SQL_INSERT_STDIN;
        if (!dp_lex_expect_p(L, "*") || !dp_lex_expect_kw(L, "FROM") || !dp_lex_expect_kw(L, "STDIN"))
            return 0;
        return 1;
    }
    s->kind = DP_SQL_INSERT_VALUES;
    if (!dp_lex_expect_kw(L, "VALUES"))
        return 0;
    do {
        dp_sql_value *row = NULL;
        size_t width = 0, rcap = 0;
        int ok = dp_lex_expect_p(L, "(");
        while (ok) {
            if (width == rcap) {
                size_t nc = rcap ? rcap * 2 : 8;
                dp_sql_value *nr = nc <= 4096 ? realloc(row, nc * sizeof *nr) : NULL;
                if (!nr) {
                    dp_lex_fail(L, "too many values in one row");
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
            if (!dp_lex_accept_p(L, ","))
                break;
        }
        if (ok && s->nrows > 0 && width != s->row_width) {
            dp_lex_fail(L, "row %zu has %zu values, row 1 has %zu", s->nrows + 1, width, s->row_width);
            ok = 0;
        }
        if (ok && (s->nrows + 1) * width > DP_SQL_MAX_ITEMS) {
            dp_lex_fail(L, "too many values");
            ok = 0;
        }
        dp_sql_value *nv = ok ? realloc(s->values, (s->nrows + 1) * width * sizeof *nv) : NULL;
        if (ok && !nv && width) {
            dp_lex_fail(L, "out of memory");
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
        if (!dp_lex_expect_p(L, ")"))
            return 0;
    } while (dp_lex_accept_p(L, ","));
    if (s->ncolumns && s->ncolumns != s->row_width) {
        dp_lex_fail(L, "%zu columns named but rows have %zu values", s->ncolumns, s->row_width);
        return 0;
    }
    return 1;
}

static int parse_select(dp_lex *L, dp_sql_stmt *s) {
    dp_sql_names cols = {0};
    s->kind = DP_SQL_SELECT;
    s->limit = -1;
    if (!dp_lex_accept_p(L, "*")) {
        do {
            if (dp_sql_names_push(&cols, dp_lex_ident(L))) {
                dp_sql_names_free(&cols);
                dp_lex_fail(L, "expected a column name or '*'");
                return 0;
            }
        } while (dp_lex_accept_p(L, ","));
        s->columns = cols.v;
        s->ncolumns = cols.n;
    }
    if (!dp_lex_expect_kw(L, "FROM") || !(s->table = dp_lex_ident(L)))
        return 0;
    if (dp_lex_accept_kw(L, "WHERE") && !parse_where(L, s))
        return 0;
    if (dp_lex_accept_kw(L, "LIMIT")) {
        char b[64];
        if (L->cur.t != DP_TOK_NUMBER || L->cur.n > 15 || memchr(L->cur.s, '.', L->cur.n) ||
            memchr(L->cur.s, 'e', L->cur.n) || memchr(L->cur.s, 'E', L->cur.n)) {
            dp_lex_fail(L, "expected a row count after LIMIT, found %s", dp_tok_desc(&L->cur, b, sizeof b));
            return 0;
        }
        s->limit = strtoll(L->cur.s, NULL, 10);
        dp_lex_next(L);
    }
    return 1;
}

ddbpipe_result_t dp_sql_parse(const char *text, size_t len, dp_sql_script **out, char *errstr,
                              size_t errstr_size) {
    return dp_sql_parse_ex(text, len, out, NULL, errstr, errstr_size);
}

ddbpipe_result_t dp_sql_parse_ex(const char *text, size_t len, dp_sql_script **out, dp_sql_error *err,
                                 char *errstr, size_t errstr_size) {
    dp_lex L;
    dp_sql_script *sc = calloc(1, sizeof *sc);
    size_t cap = 0;
    char b[64];
    *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (!sc) {
        if (err)
            snprintf(err->reason, sizeof err->reason, "out of memory");
        return DDBPIPE_ERR_NOMEM;
    }
    dp_lex_init(&L, text, len, 0, errstr, errstr_size);
    while (L.cur.t != DP_TOK_EOF && !L.failed) {
        if (dp_lex_accept_p(&L, ";"))
            continue;
        if (sc->count == cap) {
            size_t nc = cap ? cap * 2 : 8;
            if (nc > DP_SQL_MAX_ITEMS) {
                dp_lex_fail(&L, "too many statements");
                break;
            }
            dp_sql_stmt *ns = realloc(sc->stmts, nc * sizeof *ns);
            if (!ns) {
                dp_lex_fail(&L, "out of memory");
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
        if (dp_lex_accept_kw(&L, "CREATE")) {
            s->kind = DP_SQL_CREATE;
            while (L.cur.t != DP_TOK_EOF && !dp_tok_is_p(&L.cur, ";") && !dp_tok_is_kw(&L.cur, "TABLE") &&
                   !dp_tok_is_kw(&L.cur, "VIEW") && !dp_tok_is_kw(&L.cur, "INDEX"))
                dp_lex_next(&L);
            if (L.cur.t == DP_TOK_WORD) {
                dp_lex_next(&L);
                if (dp_lex_accept_kw(&L, "IF")) {
                    dp_lex_accept_kw(&L, "NOT");
                    dp_lex_accept_kw(&L, "EXISTS");
                }
                s->table = dp_lex_ident(&L);
            }
            dp_lex_skip_statement(&L);
        } else if (dp_lex_accept_kw(&L, "INSERT")) {
            parse_insert(&L, s);
        } else if (dp_lex_accept_kw(&L, "DELETE")) {
            s->kind = DP_SQL_DELETE;
            if (dp_lex_expect_kw(&L, "FROM") && (s->table = dp_lex_ident(&L)) &&
                dp_lex_expect_kw(&L, "WHERE"))
                parse_where(&L, s);
        } else if (dp_lex_accept_kw(&L, "SELECT")) {
            parse_select(&L, s);
        } else {
            dp_lex_fail(&L,
                        "unsupported statement starting with %s (supported: CREATE, INSERT, DELETE, SELECT)",
                        dp_tok_desc(&L.cur, b, sizeof b));
            break;
        }
        if (L.failed)
            break;
        s->length = (L.cur.t == DP_TOK_EOF ? L.len : L.cur.off) - s->offset;
        if (L.cur.t != DP_TOK_EOF && !dp_tok_is_p(&L.cur, ";"))
            dp_lex_fail(&L, "expected ';' or end of input, found %s", dp_tok_desc(&L.cur, b, sizeof b));
    }
    if (L.failed) {
        if (err) {
            err->line = L.err_line;
            err->column = L.err_col;
            snprintf(err->reason, sizeof err->reason, "%s", L.err_reason);
        }
        dp_sql_script_free(sc);
        return DDBPIPE_ERR_PARSE;
    }
    *out = sc;
    return DDBPIPE_OK;
}

/* ------------------------------------------------------------ split */

static int span_push(dp_sql_span **v, size_t *n, size_t *cap, size_t first, size_t end, int line,
                     int end_line) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        dp_sql_span *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[*n].offset = first;
    (*v)[*n].length = end - first;
    (*v)[*n].line = line;
    (*v)[*n].end_line = end_line;
    (*n)++;
    return 0;
}

ddbpipe_result_t dp_sql_split(const char *text, size_t len, dp_sql_span **out, size_t *count) {
    dp_sql_span *v = NULL;
    size_t n = 0, cap = 0, first = 0;
    int has_tok = 0, first_line = 0;
    char err[8]; /* the parser words errors; here an unterminated quote just ends the text */
    dp_lex L;
    *out = NULL;
    *count = 0;
    if (!text && len)
        return DDBPIPE_ERR_INVALID_ARG;
    dp_lex_init(&L, text, len, 0, err, sizeof err);
    for (;;) {
        if (L.failed && !has_tok) { /* the unterminated quote starts a statement */
            has_tok = 1;
            first = L.cur.off;
            first_line = L.cur.line;
        }
        if (L.cur.t == DP_TOK_EOF) {
            if (has_tok && span_push(&v, &n, &cap, first, L.len, first_line, L.line))
                goto nomem;
            break;
        }
        if (dp_tok_is_p(&L.cur, ";")) {
            if (has_tok && span_push(&v, &n, &cap, first, L.cur.off, first_line, L.cur.line))
                goto nomem;
            has_tok = 0;
        } else if (!has_tok) {
            has_tok = 1;
            first = L.cur.off;
            first_line = L.cur.line;
        }
        dp_lex_next(&L);
    }
    *out = v;
    *count = n;
    return DDBPIPE_OK;
nomem:
    free(v);
    return DDBPIPE_ERR_NOMEM;
}

size_t dp_sql_statement_at_line(const dp_sql_span *spans, size_t count, int line) {
    for (size_t i = 0; i < count; i++)
        if (line <= spans[i].end_line)
            return i + 1;
    return count ? count : 0;
}
