/* Pure parts of `ddbpipe sql` (no I/O): literal typing, Query/Scan request
 * bodies and the text table. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "common/util.h"
#include "sql/sql.h"

/* ------------------------------------------------------------ literals */

dp_json *dp_sql_literal_plain(dp_json_doc *doc, const dp_sql_value *v, const dp_coltype *type,
                              const char *column, char *errstr, size_t errstr_size) {
    dp_json *node = NULL;
    dp_coltype_kind k = type ? type->kind : DP_COL_AUTO;
    const char *t = v->text ? v->text : "";
    size_t tl = strlen(t);
    switch (v->kind) {
    case DP_SQLV_NULL:
        return dp_json_new_null(doc);
    case DP_SQLV_BOOL:
        if (k == DP_COL_STRING)
            node = dp_json_new_string(doc, t, tl);
        else
            node = dp_json_new_bool(doc, strcmp(t, "true") == 0);
        break;
    case DP_SQLV_NUMBER:
        if (k == DP_COL_STRING || k == DP_COL_DATE || k == DP_COL_TIME || k == DP_COL_TIMESTAMP ||
            k == DP_COL_UUID)
            node = dp_json_new_string(doc, t, tl);
        else if (k == DP_COL_BOOLEAN && (strcmp(t, "1") == 0 || strcmp(t, "0") == 0))
            node = dp_json_new_bool(doc, t[0] == '1');
        else
            node = dp_json_new_number(doc, t, tl);
        break;
    case DP_SQLV_STRING:
        if (k == DP_COL_BOOLEAN && (strcasecmp(t, "true") == 0 || strcasecmp(t, "false") == 0)) {
            node = dp_json_new_bool(doc, strcasecmp(t, "true") == 0);
        } else if (k == DP_COL_ARRAY || k == DP_COL_MAP || k == DP_COL_STRING_SET || k == DP_COL_NUMBER_SET ||
                   k == DP_COL_BINARY_SET) {
            dp_json_error je;
            dp_json_doc *pd = dp_json_parse(t, tl, &je);
            if (!pd) {
                dp_errf(errstr, errstr_size,
                        "column '%s' is %s: give its value as JSON text ('[1, 2]', "
                        "'{\"a\": 1}'): %s at offset %zu",
                        column, dp_coltype_name(k), je.message, je.offset);
                return NULL;
            }
            node = dp_json_clone(doc, dp_json_root(pd));
            dp_json_doc_free(pd);
        } else {
            node = dp_json_new_string(doc, t, tl);
        }
        break;
    }
    if (!node) {
        dp_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    /* Same check the sink applies: report a bad value here, at its statement. */
    dp_json_doc *scratch = dp_json_doc_new();
    char msg[400] = "";
    dp_json *av = scratch ? dp_attr_from_plain_at(scratch, node, type, column, msg, sizeof msg) : NULL;
    dp_json_doc_free(scratch);
    if (!av) {
        dp_errf(errstr, errstr_size, "%s", msg[0] ? msg : "out of memory");
        return NULL;
    }
    return node;
}

/* ------------------------------------------------------------ reads */

typedef struct expr_ctx {
    dp_buf names, values;
    size_t nnames, nvalues;
    dp_json_doc *doc;
} expr_ctx;

static ddbpipe_result_t add_name(expr_ctx *x, const char *col, dp_buf *expr) {
    ddbpipe_result_t r = dp_buf_printf(&x->names, "%s\"#n%zu\":", x->nnames ? "," : "", x->nnames);
    if (!r)
        r = dp_json_write_cstr(&x->names, col);
    if (!r)
        r = dp_buf_printf(expr, "#n%zu", x->nnames);
    x->nnames++;
    return r;
}

static ddbpipe_result_t add_value(expr_ctx *x, const dp_json *av, dp_buf *expr) {
    ddbpipe_result_t r = dp_buf_printf(&x->values, "%s\":v%zu\":", x->nvalues ? "," : "", x->nvalues);
    if (!r)
        r = dp_json_write(&x->values, av);
    if (!r)
        r = dp_buf_printf(expr, ":v%zu", x->nvalues);
    x->nvalues++;
    return r;
}

static const dp_column *find_col(const dp_column *cols, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(cols[i].name, name) == 0)
            return &cols[i];
    return NULL;
}

/* Column name as stored: the declared spelling when declared. */
static const char *col_name(const dp_column *cols, size_t n, const dp_sql_key *key, const char *name) {
    const dp_column *c = find_col(cols, n, name);
    if (c)
        return c->name;
    if (key->pk && strcasecmp(key->pk, name) == 0)
        return key->pk;
    if (key->sk && strcasecmp(key->sk, name) == 0)
        return key->sk;
    return name;
}

static int known_col(const dp_column *cols, size_t n, const dp_sql_key *key, const char *name) {
    return n == 0 || find_col(cols, n, name) || (key->pk && strcasecmp(key->pk, name) == 0) ||
           (key->sk && strcasecmp(key->sk, name) == 0);
}

static ddbpipe_result_t unknown_col(const dp_column *cols, size_t n, const char *name, char *errstr,
                                    size_t es) {
    char list[512] = "";
    for (size_t i = 0; i < n && strlen(list) + strlen(cols[i].name) + 8 < sizeof list; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", cols[i].name);
    dp_errf(errstr, es, "unknown column '%s' (columns: %s)", name, list);
    return DDBPIPE_ERR_INVALID_ARG;
}

static void key_coltype(char t, dp_coltype *ct) {
    memset(ct, 0, sizeof *ct);
    ct->kind = t == 'N' ? DP_COL_DECIMAL : t == 'B' ? DP_COL_BINARY : DP_COL_STRING;
}

static dp_json *cond_value(expr_ctx *x, const dp_sql_value *v, const dp_coltype *ct, const char *col,
                           char *errstr, size_t es) {
    if (v->kind == DP_SQLV_NULL) {
        dp_errf(errstr, es, "column '%s' compared with NULL: that matches no row in SQL", col);
        return NULL;
    }
    dp_json *plain = dp_sql_literal_plain(x->doc, v, ct, col, errstr, es);
    if (!plain)
        return NULL;
    return dp_attr_from_plain_at(x->doc, plain, ct, col, errstr, es);
}

static ddbpipe_result_t write_cond(expr_ctx *x, const dp_sql_cond *c, const char *col, const dp_coltype *ct,
                                   dp_buf *expr, char *errstr, size_t es) {
    static const char *ops[] = {"=", "<", "<=", ">", ">="};
    ddbpipe_result_t r;
    dp_json *a = cond_value(x, &c->value, ct, col, errstr, es);
    if (!a)
        return DDBPIPE_ERR_INVALID_ARG;
    if (c->op == DP_SQL_OP_BEGINS_WITH) {
        const char *t = dp_attr_type(a);
        if (!t || (strcmp(t, "S") != 0 && strcmp(t, "B") != 0)) {
            dp_errf(errstr, es, "column '%s': LIKE 'prefix%%' needs a string column", col);
            return DDBPIPE_ERR_INVALID_ARG;
        }
        if ((r = dp_buf_puts(expr, "begins_with(")) || (r = add_name(x, col, expr)) ||
            (r = dp_buf_puts(expr, ", ")) || (r = add_value(x, a, expr)))
            return r;
        return dp_buf_putc(expr, ')');
    }
    if ((r = add_name(x, col, expr)))
        return r;
    if (c->op == DP_SQL_OP_BETWEEN) {
        dp_json *b = cond_value(x, &c->value2, ct, col, errstr, es);
        if (!b)
            return DDBPIPE_ERR_INVALID_ARG;
        if ((r = dp_buf_puts(expr, " BETWEEN ")) || (r = add_value(x, a, expr)) ||
            (r = dp_buf_puts(expr, " AND ")))
            return r;
        return add_value(x, b, expr);
    }
    if ((r = dp_buf_printf(expr, " %s ", ops[c->op])))
        return r;
    return add_value(x, a, expr);
}

void dp_sql_read_free(dp_sql_read *r) {
    dp_buf_free(&r->key_condition);
    dp_buf_free(&r->filter);
    dp_buf_free(&r->projection);
    dp_buf_free(&r->names);
    dp_buf_free(&r->values);
    memset(&r->req, 0, sizeof r->req);
}

ddbpipe_result_t dp_sql_build_read(dp_sql_read *out, const char *table, const dp_sql_stmt *s,
                                   const dp_sql_key *key, const dp_column *columns, size_t ncolumns,
                                   int *is_query, char *errstr, size_t errstr_size) {
    ddbpipe_result_t r = DDBPIPE_OK;
    expr_ctx x;
    dp_buf *kexpr = &out->key_condition, *fexpr = &out->filter, *proj = &out->projection;
    int used[16] = {0};
    ssize_t pk_i = -1, sk_i = -1;
    memset(&x, 0, sizeof x);
    dp_buf_init(&x.names, 0);
    dp_buf_init(&x.values, 0);
    memset(out, 0, sizeof *out);
    dp_buf_init(kexpr, 0);
    dp_buf_init(fexpr, 0);
    dp_buf_init(proj, 0);
    dp_buf_init(&out->names, 0);
    dp_buf_init(&out->values, 0);
    *is_query = 0;
    x.doc = dp_json_doc_new();
    if (!x.doc) {
        r = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    if (s->nwhere > 16) {
        r = DDBPIPE_ERR_INVALID_ARG;
        dp_errf(errstr, errstr_size, "too many conditions");
        goto out;
    }
    for (size_t i = 0; i < s->nwhere; i++) {
        const char *c = s->where[i].column;
        if (!known_col(columns, ncolumns, key, c)) {
            r = unknown_col(columns, ncolumns, c, errstr, errstr_size);
            goto out;
        }
        if (pk_i < 0 && key->pk && strcasecmp(c, key->pk) == 0 && s->where[i].op == DP_SQL_OP_EQ)
            pk_i = (ssize_t)i;
    }
    for (size_t i = 0; pk_i >= 0 && key->sk && i < s->nwhere; i++)
        if (sk_i < 0 && strcasecmp(s->where[i].column, key->sk) == 0) {
            sk_i = (ssize_t)i;
            break;
        }
    for (size_t i = 0; i < s->ncolumns; i++)
        if (!known_col(columns, ncolumns, key, s->columns[i])) {
            r = unknown_col(columns, ncolumns, s->columns[i], errstr, errstr_size);
            goto out;
        }
    dp_coltype ct;
    if (pk_i >= 0) {
        *is_query = 1;
        key_coltype(key->pk_type, &ct);
        if ((r = write_cond(&x, &s->where[pk_i], key->pk, &ct, kexpr, errstr, errstr_size)))
            goto out;
        used[pk_i] = 1;
        if (sk_i >= 0) {
            key_coltype(key->sk_type, &ct);
            if ((r = dp_buf_puts(kexpr, " AND ")) ||
                (r = write_cond(&x, &s->where[sk_i], key->sk, &ct, kexpr, errstr, errstr_size)))
                goto out;
            used[sk_i] = 1;
        }
    }
    for (size_t i = 0; i < s->nwhere; i++) {
        if (used[i])
            continue;
        const char *name = col_name(columns, ncolumns, key, s->where[i].column);
        const dp_column *dc = find_col(columns, ncolumns, name);
        const dp_coltype *t = dc ? &dc->type : NULL;
        if (key->pk && strcmp(name, key->pk) == 0) {
            key_coltype(key->pk_type, &ct);
            t = &ct;
        } else if (key->sk && strcmp(name, key->sk) == 0) {
            key_coltype(key->sk_type, &ct);
            t = &ct;
        }
        if (fexpr->len && (r = dp_buf_puts(fexpr, " AND ")))
            goto out;
        if ((r = write_cond(&x, &s->where[i], name, t, fexpr, errstr, errstr_size)))
            goto out;
    }
    for (size_t i = 0; i < s->ncolumns; i++) {
        if (i && (r = dp_buf_puts(proj, ", ")))
            goto out;
        if ((r = add_name(&x, col_name(columns, ncolumns, key, s->columns[i]), proj)))
            goto out;
    }
    if (x.nnames && (r = dp_buf_printf(&out->names, "{%s}", x.names.data)))
        goto out;
    if (x.nvalues && (r = dp_buf_printf(&out->values, "{%s}", x.values.data)))
        goto out;
    out->req.table = table;
    out->req.key_condition_expression = kexpr->data;
    out->req.filter_expression = fexpr->data;
    out->req.projection_expression = proj->data;
    out->req.expression_attribute_names = out->names.data;
    out->req.expression_attribute_values = out->values.data;
    /* Limit counts items evaluated before the filter: only exact without one. */
    if (s->limit > 0 && !fexpr->len)
        out->req.limit = s->limit > 1000000 ? 1000000 : s->limit;
out:
    dp_json_doc_free(x.doc);
    dp_buf_free(&x.names);
    dp_buf_free(&x.values);
    return r;
}

/* ------------------------------------------------------------ table */

static size_t u8_width(const char *s) {
    size_t w = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static ddbpipe_result_t pad(dp_buf *out, size_t n) {
    ddbpipe_result_t r = DDBPIPE_OK;
    while (n-- && !r)
        r = dp_buf_putc(out, ' ');
    return r;
}

ddbpipe_result_t dp_sql_render_table(dp_buf *out, const char *const *headers, size_t ncols,
                                     const char *const *cells, size_t nrows, int footer) {
    ddbpipe_result_t r = DDBPIPE_OK;
    size_t *w = calloc(ncols ? ncols : 1, sizeof *w);
    if (!w)
        return DDBPIPE_ERR_NOMEM;
    for (size_t c = 0; c < ncols; c++) {
        w[c] = u8_width(headers[c]);
        for (size_t i = 0; i < nrows; i++) {
            const char *v = cells[i * ncols + c];
            size_t cw = v ? u8_width(v) : 4;
            if (cw > w[c])
                w[c] = cw;
        }
    }
    for (size_t c = 0; c < ncols && !r; c++) {
        r = dp_buf_printf(out, "%s%s", c ? " | " : " ", headers[c]);
        if (!r && c + 1 < ncols)
            r = pad(out, w[c] - u8_width(headers[c]));
    }
    if (!r)
        r = dp_buf_putc(out, '\n');
    for (size_t c = 0; c < ncols && !r; c++) {
        if (c)
            r = dp_buf_putc(out, '+');
        for (size_t k = 0; k < w[c] + 2 && !r; k++)
            r = dp_buf_putc(out, '-');
    }
    if (!r)
        r = dp_buf_putc(out, '\n');
    for (size_t i = 0; i < nrows && !r; i++) {
        for (size_t c = 0; c < ncols && !r; c++) {
            const char *v = cells[i * ncols + c];
            r = dp_buf_printf(out, "%s%s", c ? " | " : " ", v ? v : "NULL");
            if (!r && c + 1 < ncols)
                r = pad(out, w[c] - (v ? u8_width(v) : 4));
        }
        if (!r)
            r = dp_buf_putc(out, '\n');
    }
    if (!r && footer)
        r = dp_buf_printf(out, "(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
    free(w);
    return r;
}

ddbpipe_result_t dp_sql_cell_text(dp_buf *out, const dp_json *plain) {
    if (!plain || plain->type == DP_JSON_NULL)
        return dp_buf_puts(out, "NULL");
    if (plain->type != DP_JSON_STRING)
        return dp_json_write(out, plain);
    ddbpipe_result_t r = DDBPIPE_OK;
    for (size_t i = 0; i < plain->len && !r; i++) {
        unsigned char c = (unsigned char)plain->str[i];
        if (c == '\n')
            r = dp_buf_puts(out, "\\n");
        else if (c == '\t')
            r = dp_buf_puts(out, "\\t");
        else if (c < 0x20 || c == 0x7f)
            r = dp_buf_printf(out, "\\x%02x", c);
        else
            r = dp_buf_putc(out, (char)c);
    }
    return r;
}
