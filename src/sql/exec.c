/* ddbpipe_sql_run: runs a parsed script. Writes go through the sink engine
 * (one sink per statement, flushed before the next statement, so a SELECT
 * sees what the INSERT before it wrote); reads are Query/Scan pages. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client/client.h"
#include "common/util.h"
#include "config/conf.h"
#include "config/settings.h"
#include "ddb/attr_public.h"
#include "ddb/condition.h"
#include "formats/changes.h"
#include "sql/sql.h"

#define SQL_MAX_LINE ((size_t)16 * 1024 * 1024) /* a longer stdin line cannot be an item */
#define SQL_TABLE_CHUNK 1000                    /* rows buffered per text-table block */

typedef struct sql_table {
    char *name; /* SQL name */
    size_t stmt_no;
    int line;
    int is_ddb;
    ddbpipe_conf_t *conf;
    dp_column *cols;
    size_t ncols;
    ddbpipe_client_t *client;
    int key_known;
    ddbpipe_key_schema_t key;
} sql_table;

typedef struct sql_ctx {
    const char *text;
    size_t len;
    const ddbpipe_conf_t *base;
    const ddbpipe_sql_options_t *o;
    ddbpipe_sql_stats_t st;
    sql_table *tables;
    size_t ntables;
    size_t stmt_no;
    int line;
    int stopped; /* emit asked to stop */
    int err_set; /* errstr holds the statement's message */
    char *errstr;
    size_t errstr_size;
} sql_ctx;

static ddbpipe_result_t serr(sql_ctx *x, ddbpipe_result_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ddbpipe_result_t serr(sql_ctx *x, ddbpipe_result_t rc, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dp_errf(x->errstr, x->errstr_size, "statement %zu (line %d): %s", x->stmt_no, x->line, msg);
    x->err_set = 1;
    return rc;
}

static void notice(sql_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(sql_ctx *x, const char *fmt, ...) {
    char msg[1024];
    int k;
    va_list ap;
    if (!x->o->notice)
        return;
    k = snprintf(msg, sizeof msg, "statement %zu (line %d): ", x->stmt_no, x->line);
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    x->o->notice(msg, x->o->opaque);
}

static void table_clear(sql_table *t) {
    free(t->name);
    ddbpipe_conf_destroy(t->conf);
    free(t->cols);
    ddbpipe_client_destroy(t->client);
    memset(t, 0, sizeof *t);
}

static sql_table *find_table(sql_ctx *x, const char *name) {
    for (size_t i = 0; i < x->ntables; i++)
        if (strcasecmp(x->tables[i].name, name) == 0)
            return &x->tables[i];
    return NULL;
}

static ddbpipe_result_t lookup(sql_ctx *x, const char *name, sql_table **out) {
    sql_table *t = find_table(x, name);
    *out = NULL;
    if (!t) {
        char list[400] = "";
        for (size_t i = 0; i < x->ntables && strlen(list) + strlen(x->tables[i].name) + 4 < sizeof list; i++)
            if (x->tables[i].is_ddb)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                         x->tables[i].name);
        serr(x, DDBPIPE_ERR_INVALID_ARG, "unknown table '%s' (declared so far: %s)", name,
             list[0] ? list : "none; declare it with CREATE TABLE ... WITH ('connector' = 'dynamodb', ...)");
        return DDBPIPE_ERR_INVALID_ARG; /* not serr's value: the analyzer does not follow variadic calls */
    }
    if (!t->is_ddb) {
        serr(x, DDBPIPE_ERR_INVALID_ARG,
             "table '%s' (statement %zu) is not a DynamoDB table: its "
             "CREATE has no 'connector' = 'dynamodb'",
             name, t->stmt_no);
        return DDBPIPE_ERR_INVALID_ARG;
    }
    *out = t;
    return DDBPIPE_OK;
}

static const char *ddb_name(const sql_table *t) {
    dp_settings st;
    dp_conf_settings(t->conf, &st);
    return st.table ? st.table : t->name;
}

static const dp_column *declared(const sql_table *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strcasecmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

static ddbpipe_result_t unknown_column(sql_ctx *x, const sql_table *t, const char *name) {
    char list[512] = "";
    for (size_t i = 0; i < t->ncols && strlen(list) + strlen(t->cols[i].name) + 4 < sizeof list; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", t->cols[i].name);
    return serr(x, DDBPIPE_ERR_INVALID_ARG, "unknown column '%s' in table '%s' (columns: %s)", name, t->name,
                list);
}

static int mentions_dynamodb(const char *s, size_t n) {
    for (size_t i = 0; i + 8 <= n; i++)
        if (strncasecmp(s + i, "dynamodb", 8) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ CREATE */

static ddbpipe_result_t load_columns(sql_ctx *x, sql_table *t) {
    dp_settings st;
    dp_conf_settings(t->conf, &st);
    const char *text = st.columns;
    dp_conf_column *cc = NULL;
    size_t n = 0;
    char msg[512] = "";
    ddbpipe_result_t rc;
    if (!text || !*text)
        return DDBPIPE_OK;
    if ((rc = dp_conf_columns_parse(text, &cc, &n, msg, sizeof msg)))
        return serr(x, DDBPIPE_ERR_CONFIG, "columns: %s", msg);
    t->cols = calloc(n ? n : 1, sizeof *t->cols);
    if (!t->cols) {
        dp_conf_columns_free(cc, n);
        return serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        snprintf(t->cols[i].name, sizeof t->cols[i].name, "%s", cc[i].name);
        if (dp_coltype_parse(cc[i].type, &t->cols[i].type, msg, sizeof msg) != 0)
            rc = serr(x, DDBPIPE_ERR_CONFIG, "column '%s': %s", cc[i].name, msg);
    }
    t->ncols = n;
    dp_conf_columns_free(cc, n);
    return rc;
}

static ddbpipe_result_t do_create(sql_ctx *x, const dp_sql_stmt *s) {
    const char *span = x->text + s->offset;
    ddbpipe_result_t rc;
    char msg[1024] = "";
    if (!s->table)
        return DDBPIPE_OK;
    sql_table *t = find_table(x, s->table);
    if (t) {
        notice(x, "table '%s' declared again: this declaration replaces the one of statement %zu", s->table,
               t->stmt_no);
        table_clear(t);
    } else {
        sql_table *nt = realloc(x->tables, (x->ntables + 1) * sizeof *nt);
        if (!nt)
            return serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
        x->tables = nt;
        t = &x->tables[x->ntables++];
        memset(t, 0, sizeof *t);
    }
    t->name = strdup(s->table);
    t->stmt_no = x->stmt_no;
    t->line = x->line;
    if (!t->name)
        return serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
    if (!mentions_dynamodb(span, s->length)) {
        notice(x, "'%s' is not a DynamoDB table (no 'connector' = 'dynamodb'): ignored", s->table);
        return DDBPIPE_OK;
    }
    t->is_ddb = 1;
    t->conf = x->base ? ddbpipe_conf_dup(x->base) : ddbpipe_conf_new();
    if (!t->conf)
        return serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
    /* Newlines in front keep the DDL parser's line numbers those of the file. */
    dp_buf b;
    dp_buf_init(&b, 0);
    rc = DDBPIPE_OK;
    for (int i = 1; i < s->line && !rc; i++)
        rc = dp_buf_putc(&b, '\n');
    if (!rc)
        rc = dp_buf_append(&b, span, s->length);
    if (rc) {
        dp_buf_free(&b);
        return serr(x, rc, "out of memory");
    }
    rc = dp_conf_load_sql_ddl(t->conf, b.data, b.len, NULL, msg, sizeof msg);
    dp_buf_free(&b);
    if (rc)
        return serr(x, rc == DDBPIPE_ERR_PARSE ? DDBPIPE_ERR_PARSE : DDBPIPE_ERR_CONFIG, "%s", msg);
    for (size_t i = 0; i < dp_conf_notice_count(t->conf); i++)
        notice(x, "%s", dp_conf_notice_at(t->conf, i));
    msg[0] = 0;
    if ((rc = ddbpipe_conf_validate(t->conf, "sink", msg, sizeof msg)))
        return serr(x, DDBPIPE_ERR_CONFIG, "table '%s': %s", s->table, msg[0] ? msg : ddbpipe_strerror(rc));
    return load_columns(x, t);
}

/* ------------------------------------------------------------ keys, client */

static ddbpipe_result_t ensure_client(sql_ctx *x, sql_table *t) {
    char msg[1024] = "";
    ddbpipe_result_t rc;
    if (t->client)
        return DDBPIPE_OK;
    if ((rc = ddbpipe_client_new(t->conf, &t->client, msg, sizeof msg)))
        return serr(x, rc, "table '%s': %s", t->name, msg[0] ? msg : ddbpipe_strerror(rc));
    return DDBPIPE_OK;
}

static ddbpipe_result_t ensure_key(sql_ctx *x, sql_table *t) {
    ddbpipe_result_t rc;
    char msg[1024] = "";
    if (t->key_known)
        return DDBPIPE_OK;
    dp_settings st;
    dp_conf_settings(t->conf, &st);
    const char *pk = st.partition_key;
    if (pk && *pk) {
        const char *sk = st.sort_key;
        snprintf(t->key.partition_key, sizeof t->key.partition_key, "%s", pk);
        t->key.partition_type = dp_key_type_char(st.partition_key_type);
        if (sk && *sk) {
            snprintf(t->key.sort_key, sizeof t->key.sort_key, "%s", sk);
            t->key.sort_type = dp_key_type_char(st.sort_key_type);
        }
        t->key_known = 1;
        return DDBPIPE_OK;
    }
    if ((rc = ensure_client(x, t)))
        return rc;
    ddbpipe_table_info_t info;
    if ((rc = ddbpipe_describe_table(t->client, ddb_name(t), &info, msg, sizeof msg)))
        return serr(x, rc, "%s", msg[0] ? msg : ddbpipe_strerror(rc));
    t->key = info.key;
    t->key_known = 1;
    return DDBPIPE_OK;
}

static int is_key(const sql_table *t, const char *col) {
    return strcasecmp(col, t->key.partition_key) == 0 ||
           (t->key.sort_key[0] && strcasecmp(col, t->key.sort_key) == 0);
}

/* Type for a key column's literal: declared, else from the key type. */
static const dp_coltype *key_type(const sql_table *t, const char *col, dp_coltype *tmp) {
    const dp_column *c = declared(t, col);
    if (c)
        return &c->type;
    char kt = strcasecmp(col, t->key.partition_key) == 0 ? t->key.partition_type : t->key.sort_type;
    memset(tmp, 0, sizeof *tmp);
    tmp->kind = kt == 'N' ? DP_COL_DECIMAL : kt == 'B' ? DP_COL_BINARY : DP_COL_STRING;
    return tmp;
}

/* ------------------------------------------------------------ sink */

static ddbpipe_result_t sink_open(sql_ctx *x, sql_table *t, const char *format, ddbpipe_sink_t **out) {
    char msg[1024] = "";
    ddbpipe_sink_options_t so;
    memset(&so, 0, sizeof so);
    so.format = format;
    so.dead_letter_path = x->o->dead_letter_path;
    so.no_metrics_server = 1;
    ddbpipe_result_t rc = ddbpipe_sink_new(t->conf, &so, out, msg, sizeof msg);
    if (rc)
        return serr(x, rc, "%s", msg[0] ? msg : ddbpipe_strerror(rc));
    return DDBPIPE_OK;
}

static ddbpipe_result_t sink_offer(ddbpipe_sink_t *sink, const char *line, size_t len, uint64_t line_no,
                                   uint64_t offset) {
    for (;;) {
        ddbpipe_result_t r = ddbpipe_sink_produce(sink, line, len, line_no, offset);
        if (r != DDBPIPE_ERR_QUEUE_FULL)
            return r;
        r = ddbpipe_sink_poll(sink, 20);
        if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
            return r;
    }
}

/* Flush, report, destroy. */
static ddbpipe_result_t sink_close(sql_ctx *x, ddbpipe_sink_t *sink, const char *verb) {
    char msg[1024] = "";
    ddbpipe_result_t rc = ddbpipe_sink_flush(sink, -1);
    ddbpipe_result_t fatal = ddbpipe_sink_fatal_error(sink, msg, sizeof msg);
    ddbpipe_sink_stats_t st;
    ddbpipe_sink_stats(sink, &st);
    ddbpipe_sink_destroy(sink);
    x->st.rows_written += st.records_written;
    x->st.rows_deleted += st.records_deleted;
    x->st.dead_lettered += st.dead_lettered;
    if (fatal)
        return serr(x, fatal, "%s", msg[0] ? msg : ddbpipe_strerror(fatal));
    if (rc)
        return serr(x, rc, "flush: %s", ddbpipe_strerror(rc));
    if (st.dead_lettered)
        notice(x, "%s: %llu row%s written, %llu deleted, %llu rejected (dead-lettered%s%s)", verb,
               (unsigned long long)st.records_written, st.records_written == 1 ? "" : "s",
               (unsigned long long)st.records_deleted, (unsigned long long)st.dead_lettered,
               x->o->dead_letter_path ? " to " : "", x->o->dead_letter_path ? x->o->dead_letter_path : "");
    else if (st.records_deleted)
        notice(x, "%s: %llu row%s deleted", verb, (unsigned long long)st.records_deleted,
               st.records_deleted == 1 ? "" : "s");
    else
        notice(x, "%s: %llu row%s written", verb, (unsigned long long)st.records_written,
               st.records_written == 1 ? "" : "s");
    return DDBPIPE_OK;
}

/* Typed rows straight to the sink (nothing printed or parsed): one
 * ddbpipe_sink_produce_item per row, offset = row number. */
static ddbpipe_result_t write_items(sql_ctx *x, sql_table *t, dp_json_doc **rows, size_t n,
                                    const char *verb) {
    ddbpipe_sink_t *sink = NULL;
    ddbpipe_result_t rc = sink_open(x, t, "auto", &sink);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        dp_public_item pi;
        if (dp_item_to_public(dp_json_root(rows[i]), &pi) != 0) {
            ddbpipe_sink_flush(sink, -1);
            ddbpipe_sink_destroy(sink);
            return serr(x, DDBPIPE_ERR_NOMEM, "row %zu: out of memory", i + 1);
        }
        ddbpipe_item_record_t rec;
        memset(&rec, 0, sizeof rec);
        rec.op = DDBPIPE_ITEM_PUT;
        rec.attrs = pi.attrs;
        rec.count = pi.count;
        rec.offset = i + 1;
        rec.line_no = i + 1;
        ddbpipe_result_t r;
        while ((r = ddbpipe_sink_produce_item(sink, &rec)) == DDBPIPE_ERR_QUEUE_FULL) {
            r = ddbpipe_sink_poll(sink, 20);
            if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
                break;
        }
        dp_public_item_free(&pi);
        if (r != DDBPIPE_OK)
            break; /* the engine stopped: close reports why */
    }
    return sink_close(x, sink, verb);
}

/* ------------------------------------------------------------ INSERT */

static ddbpipe_result_t do_insert_values(sql_ctx *x, const dp_sql_stmt *s) {
    sql_table *t;
    ddbpipe_result_t rc = lookup(x, s->table, &t);
    const dp_column **cols = NULL;
    const char **names = NULL;
    dp_json_doc **rows = NULL;
    size_t w = s->row_width;
    if (rc)
        return rc;
    cols = calloc(w ? w : 1, sizeof *cols);
    names = calloc(w ? w : 1, sizeof *names);
    rows = calloc(s->nrows ? s->nrows : 1, sizeof *rows);
    if (!cols || !names || !rows) {
        rc = serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (s->ncolumns) {
        for (size_t i = 0; i < w; i++) {
            cols[i] = declared(t, s->columns[i]);
            if (t->ncols && !cols[i]) {
                rc = unknown_column(x, t, s->columns[i]);
                goto out;
            }
            names[i] = cols[i] ? cols[i]->name : s->columns[i];
            for (size_t j = 0; j < i; j++)
                if (strcasecmp(names[i], names[j]) == 0) {
                    rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "column '%s' named twice", names[i]);
                    goto out;
                }
        }
    } else {
        if (!t->ncols) {
            rc = serr(x, DDBPIPE_ERR_INVALID_ARG,
                      "INSERT INTO %s without a column list needs the columns "
                      "declared in its CREATE TABLE; name them: INSERT INTO %s (a, b) VALUES ...",
                      t->name, t->name);
            goto out;
        }
        if (w != t->ncols) {
            rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "rows have %zu values but table '%s' has %zu columns", w,
                      t->name, t->ncols);
            goto out;
        }
        for (size_t i = 0; i < w; i++) {
            cols[i] = &t->cols[i];
            names[i] = t->cols[i].name;
        }
    }
    /* Every row is typed (by the DDL's columns, by the sink's rules) and
     * checked before anything is written. */
    for (size_t r = 0; r < s->nrows; r++) {
        char msg[512] = "";
        dp_json_doc *doc = rows[r] = dp_json_doc_new();
        dp_json *row = doc ? dp_json_new_object(doc) : NULL;
        if (!row) {
            rc = serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < w; i++) {
            const dp_coltype *ct = cols[i] ? &cols[i]->type : NULL;
            dp_json *v = dp_sql_literal_plain(doc, &s->values[r * w + i], ct, names[i], msg, sizeof msg);
            if (v)
                v = dp_attr_from_plain_at(doc, v, ct, names[i], msg, sizeof msg);
            if (!v) {
                rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "row %zu: %s", r + 1, msg);
                goto out;
            }
            /* clang-analyzer-core.NonNullParamChecker: names[i] is a parsed or declared column name */
            // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
            if (dp_json_object_set(doc, row, names[i], strlen(names[i]), v)) {
                rc = serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        dp_json_set_root(doc, row);
    }
    rc = write_items(x, t, rows, s->nrows, "INSERT");
out:
    for (size_t i = 0; rows && i < s->nrows; i++)
        dp_json_doc_free(rows[i]);
    free(rows);
    free(cols);
    free(names);
    return rc;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static ddbpipe_result_t do_insert_stdin(sql_ctx *x, const dp_sql_stmt *s) {
    sql_table *t;
    ddbpipe_sink_t *sink = NULL;
    ddbpipe_result_t rc = lookup(x, s->table, &t), prc = DDBPIPE_OK;
    dp_buf in;
    uint64_t line_no = 0, consumed = 0;
    int eof = 0, skipping = 0;
    if (rc)
        return rc;
    if (s->ncolumns)
        return serr(x, DDBPIPE_ERR_INVALID_ARG,
                    "INSERT INTO %s (columns) SELECT * FROM STDIN: the JSON lines "
                    "name their columns; drop the column list",
                    t->name);
    if (x->o->stdin_fd < 0)
        return serr(x, DDBPIPE_ERR_INVALID_ARG,
                    "SELECT * FROM STDIN: stdin holds the script; give the script as "
                    "a file (ddbpipe sql FILE < input.jsonl)");
    if ((rc = sink_open(x, t, "auto", &sink)))
        return rc;
    dp_buf_init(&in, SQL_MAX_LINE + 65536);
    while (!eof && !prc) {
        struct pollfd pfd = {.fd = x->o->stdin_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 20);
        if (pr == 0) {
            ddbpipe_result_t r = ddbpipe_sink_poll(sink, 0);
            if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
                prc = r;
            continue;
        }
        if (pr < 0 && errno == EINTR)
            continue;
        if (dp_buf_reserve(&in, 65536)) {
            /* say why we stopped: sink_close alone would report success */
            dp_buf_free(&in);
            ddbpipe_sink_flush(sink, -1);
            ddbpipe_sink_destroy(sink);
            return serr(x, DDBPIPE_ERR_NOMEM, "reading stdin: out of memory");
        }
        ssize_t got = read(x->o->stdin_fd, in.data + in.len, 65536);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            dp_buf_free(&in);
            ddbpipe_sink_flush(sink, -1);
            ddbpipe_sink_destroy(sink);
            return serr(x, DDBPIPE_ERR_IO, "reading stdin: %s", strerror(errno));
        }
        if (got == 0) {
            eof = 1;
            if (in.len && in.data[in.len - 1] != '\n') {
                in.data[in.len++] = '\n'; /* the last line may lack its newline */
                in.data[in.len] = 0;
            }
        } else {
            in.len += (size_t)got;
            in.data[in.len] = 0;
        }
        size_t start = 0;
        for (;;) {
            char *nl = memchr(in.data + start, '\n', in.len - start);
            if (!nl)
                break;
            size_t ll = (size_t)(nl - (in.data + start));
            consumed += ll + 1;
            line_no++;
            if (skipping) {
                skipping = 0; /* rest of an over-long line */
            } else if (!blank(in.data + start, ll)) {
                if ((prc = sink_offer(sink, in.data + start, ll, line_no, consumed)))
                    break;
            }
            start += ll + 1;
        }
        if (start) {
            memmove(in.data, in.data + start, in.len - start);
            in.len -= start;
            in.data[in.len] = 0;
        }
        if (in.len > SQL_MAX_LINE && !prc) {
            /* Cut: the engine dead-letters the cut line as malformed. */
            line_no++;
            consumed += in.len;
            prc = sink_offer(sink, in.data, SQL_MAX_LINE, line_no, consumed);
            in.len = 0;
            skipping = 1;
        }
    }
    dp_buf_free(&in);
    return sink_close(x, sink, "INSERT ... FROM STDIN");
}

/* ------------------------------------------------------------ DELETE */

/* The table's delete_condition_expression (write_mode transactional, as in
 * the sink) with the expression attribute names/values it uses. */
static ddbpipe_result_t delete_condition(sql_ctx *x, const sql_table *t, dp_ddb_item_write_req *req,
                                         dp_json_doc **names, dp_json_doc **values) {
    dp_settings set;
    dp_conf_settings(t->conf, &set);
    if (set.write_mode != DP_WRITE_MODE_TRANSACTIONAL || !set.delete_condition_expression)
        return DDBPIPE_OK;
    if (set.expression_attribute_names && *set.expression_attribute_names &&
        !(*names =
              dp_json_parse(set.expression_attribute_names, strlen(set.expression_attribute_names), NULL)))
        return serr(x, DDBPIPE_ERR_CONFIG, "DELETE: expression_attribute_names is not a JSON object");
    if (set.expression_attribute_values && *set.expression_attribute_values &&
        !(*values =
              dp_json_parse(set.expression_attribute_values, strlen(set.expression_attribute_values), NULL)))
        return serr(x, DDBPIPE_ERR_CONFIG, "DELETE: expression_attribute_values is not a JSON object");
    /* the settings' text lives in t->conf as long as t */
    req->condition_expression = set.delete_condition_expression;
    req->condition_names = *names ? dp_json_root(*names) : NULL;
    req->condition_values = *values ? dp_json_root(*values) : NULL;
    return DDBPIPE_OK;
}

/* One DeleteItem with ReturnValues ALL_OLD, so the count is what DynamoDB
 * deleted: a missing key deletes nothing and says "0 rows deleted".
 * (BatchWriteItem, which the sink uses, cannot tell.) line is the Feldera
 * delete record, typed by the same rules as the sink's. */
static ddbpipe_result_t delete_item(sql_ctx *x, sql_table *t, const dp_buf *line) {
    char msg[1024] = "";
    dp_change ch;
    dp_buf key;
    dp_ddb_result res;
    dp_ddb_item_write_req req;
    dp_json_doc *names = NULL, *values = NULL;
    int condition_failed = 0;
    ddbpipe_result_t rc;
    dp_change_format_opts o;
    memset(&o, 0, sizeof o);
    o.format = DP_CHANGE_FMT_FELDERA;
    o.columns = t->cols;
    o.ncolumns = t->ncols;
    o.partition_key = t->key.partition_key;
    o.partition_type = t->key.partition_type;
    o.sort_key = t->key.sort_key[0] ? t->key.sort_key : NULL;
    o.sort_type = t->key.sort_type;
    dp_buf_init(&key, 0);
    memset(&req, 0, sizeof req);
    dp_ddb_result_init(&res);
    if ((rc = dp_change_parse(line->data, line->len, &o, &ch, msg, sizeof msg))) {
        rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "DELETE: %s", msg[0] ? msg : ddbpipe_strerror(rc));
        goto out;
    }
    if ((rc = ensure_client(x, t)))
        goto out;
    if ((rc = dp_json_write(&key, ch.item)) || (rc = delete_condition(x, t, &req, &names, &values))) {
        if (!x->err_set)
            rc = serr(x, rc, "%s", ddbpipe_strerror(rc));
        goto out;
    }
    req.op = DP_DDB_DELETE_ITEM;
    req.table = ddb_name(t);
    req.item = key.data;
    req.item_len = key.len;
    req.return_values = "ALL_OLD";
    rc = dp_ddb_write_item(dp_client_ddb(t->client), &req, &condition_failed, NULL, &res);
    if (rc == DDBPIPE_OK && res.result != DDBPIPE_OK)
        rc = res.result;
    if (rc && condition_failed) {
        /* as the sink does (and Feldera): a false condition skips the change */
        rc = DDBPIPE_OK;
        notice(x, "DELETE: 0 rows deleted (delete_condition_expression is false for this key: skipped)");
        goto out;
    }
    if (rc) {
        dp_client_call_error(t->client, "DeleteItem", ddb_name(t), rc, &res, msg, sizeof msg);
        rc = serr(x, rc, "%s", msg);
        goto out;
    }
    /* an unreadable answer counts no row: the delete itself succeeded */
    dp_ddb_write_answer ans;
    memset(&ans, 0, sizeof ans);
    uint64_t n =
        dp_ddb_parse_item_write(res.body.data, res.body.len, &ans, NULL, 0) == DDBPIPE_OK && ans.attributes;
    dp_ddb_write_answer_free(&ans);
    x->st.rows_deleted += n;
    notice(x, "DELETE: %llu row%s deleted", (unsigned long long)n, n == 1 ? "" : "s");
out:
    dp_ddb_result_free(&res);
    dp_buf_free(&key);
    dp_json_doc_free(names);
    dp_json_doc_free(values);
    dp_change_clear(&ch);
    return rc;
}

static ddbpipe_result_t do_delete(sql_ctx *x, const dp_sql_stmt *s) {
    sql_table *t;
    ddbpipe_result_t rc = lookup(x, s->table, &t);
    dp_json_doc *doc = NULL;
    dp_buf line;
    int have_pk = 0, have_sk = 0;
    if (rc)
        return rc;
    if ((rc = ensure_key(x, t)))
        return rc;
    char need[600];
    snprintf(need, sizeof need, "WHERE %s = ...%s%s%s", t->key.partition_key,
             t->key.sort_key[0] ? " AND " : "", t->key.sort_key, t->key.sort_key[0] ? " = ..." : "");
    dp_buf_init(&line, 0);
    doc = dp_json_doc_new();
    dp_json *keys = doc ? dp_json_new_object(doc) : NULL;
    if (!keys) {
        rc = serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->nwhere; i++) {
        const dp_sql_cond *c = &s->where[i];
        char msg[512] = "";
        if (t->ncols && !declared(t, c->column) && !is_key(t, c->column)) {
            rc = unknown_column(x, t, c->column);
            goto out;
        }
        if (!is_key(t, c->column) || c->op != DP_SQL_OP_EQ) {
            rc = serr(x, DDBPIPE_ERR_INVALID_ARG,
                      "DELETE deletes one item by its key: %s (condition on '%s' is "
                      "not supported)",
                      need, c->column);
            goto out;
        }
        int pk = strcasecmp(c->column, t->key.partition_key) == 0;
        if ((pk && have_pk) || (!pk && have_sk)) {
            rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "key column '%s' given twice", c->column);
            goto out;
        }
        if (c->value.kind == DP_SQLV_NULL) {
            rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "key column '%s' cannot be NULL", c->column);
            goto out;
        }
        dp_coltype tmp;
        const char *name = pk ? t->key.partition_key : t->key.sort_key;
        dp_json *v = dp_sql_literal_plain(doc, &c->value, key_type(t, name, &tmp), name, msg, sizeof msg);
        if (!v) {
            rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "%s", msg);
            goto out;
        }
        if (dp_json_object_set(doc, keys, name, strlen(name), v)) {
            rc = serr(x, DDBPIPE_ERR_NOMEM, "out of memory");
            goto out;
        }
        have_pk |= pk;
        have_sk |= !pk;
    }
    if (!have_pk || (t->key.sort_key[0] && !have_sk)) {
        rc = serr(x, DDBPIPE_ERR_INVALID_ARG, "DELETE needs the whole key of '%s': %s", t->name, need);
        goto out;
    }
    if ((rc = dp_buf_puts(&line, "{\"delete\":")) || (rc = dp_json_write(&line, keys)) ||
        (rc = dp_buf_putc(&line, '}'))) {
        rc = serr(x, rc, "%s", ddbpipe_strerror(rc));
        goto out;
    }
    rc = delete_item(x, t, &line);
out:
    dp_buf_free(&line);
    dp_json_doc_free(doc);
    return rc;
}

/* ------------------------------------------------------------ SELECT */

/* Rows of a text table block. The header grows as rows bring new
 * attributes (SELECT * without declared columns); a row keeps the cells of
 * the header it saw, later columns are NULL for it. */
typedef struct grid {
    char **hdr;
    size_t nhdr, caphdr;
    char **cells;
    size_t *rowlen, *rowstart;
    size_t nrows, capcells, ncells;
} grid;

static int emit_line(sql_ctx *x, const char *s, size_t n) {
    if (x->stopped || !x->o->emit)
        return 0;
    if (x->o->emit(s, n, x->o->opaque))
        x->stopped = 1;
    return x->stopped;
}

static void emit_lines(sql_ctx *x, const dp_buf *b) {
    size_t start = 0;
    while (start < b->len) {
        const char *nl = memchr(b->data + start, '\n', b->len - start);
        size_t n = nl ? (size_t)(nl - (b->data + start)) : b->len - start;
        emit_line(x, b->data + start, n);
        start += n + 1;
    }
}

static void grid_free(grid *g) {
    for (size_t i = 0; i < g->nhdr; i++)
        free(g->hdr[i]);
    for (size_t i = 0; i < g->ncells; i++)
        free(g->cells[i]);
    free(g->hdr);
    free(g->cells);
    free(g->rowlen);
    free(g->rowstart);
    memset(g, 0, sizeof *g);
}

static ddbpipe_result_t grid_flush(sql_ctx *x, grid *g) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    const char **m = NULL;
    dp_buf out;
    dp_buf_init(&out, 0);
    if (g->nhdr) {
        m = calloc(g->nrows * g->nhdr + 1, sizeof *m);
        if (!m)
            return DDBPIPE_ERR_NOMEM;
        for (size_t r = 0; r < g->nrows; r++)
            for (size_t c = 0; c < g->rowlen[r]; c++)
                m[r * g->nhdr + c] = g->cells[g->rowstart[r] + c];
        rc = dp_sql_render_table(&out, (const char *const *)g->hdr, g->nhdr, m, g->nrows, 0);
        if (!rc)
            emit_lines(x, &out);
    }
    free(m);
    dp_buf_free(&out);
    for (size_t i = 0; i < g->ncells; i++)
        free(g->cells[i]);
    g->ncells = 0;
    g->nrows = 0;
    return rc;
}

static ddbpipe_result_t grid_add_row(grid *g, const char *const *names, char **cells, size_t n) {
    /* Columns in first-seen order; a row's cells follow the header. */
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    if (!idx)
        return DDBPIPE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < g->nhdr && strcmp(g->hdr[j], names[i]) != 0; j++)
            ;
        if (j == g->nhdr) {
            if (g->nhdr == g->caphdr) {
                size_t nc = g->caphdr ? g->caphdr * 2 : 8;
                char **nh = realloc(g->hdr, nc * sizeof *nh);
                if (!nh) {
                    free(idx);
                    return DDBPIPE_ERR_NOMEM;
                }
                g->hdr = nh;
                g->caphdr = nc;
            }
            if (!(g->hdr[g->nhdr] = strdup(names[i]))) {
                free(idx);
                return DDBPIPE_ERR_NOMEM;
            }
            g->nhdr++;
        }
        idx[i] = j;
    }
    if (!cells) { /* header only */
        free(idx);
        return DDBPIPE_OK;
    }
    size_t need = g->ncells + g->nhdr;
    if (need > g->capcells) {
        size_t nc = g->capcells ? g->capcells * 2 : 256;
        while (nc < need)
            nc *= 2;
        char **ncl = realloc(g->cells, nc * sizeof *ncl);
        if (!ncl) {
            free(idx);
            return DDBPIPE_ERR_NOMEM;
        }
        g->cells = ncl;
        g->capcells = nc;
    }
    size_t *nrl = realloc(g->rowlen, (g->nrows + 1) * sizeof *nrl);
    if (nrl)
        g->rowlen = nrl;
    size_t *nrs = nrl ? realloc(g->rowstart, (g->nrows + 1) * sizeof *nrs) : NULL;
    if (!nrs) {
        free(idx);
        return DDBPIPE_ERR_NOMEM;
    }
    g->rowstart = nrs;
    g->rowstart[g->nrows] = g->ncells;
    g->rowlen[g->nrows] = g->nhdr;
    for (size_t c = 0; c < g->nhdr; c++)
        g->cells[g->ncells + c] = NULL;
    for (size_t i = 0; i < n; i++) {
        g->cells[g->ncells + idx[i]] = cells[i];
        cells[i] = NULL;
    }
    g->ncells += g->nhdr;
    g->nrows++;
    free(idx);
    return DDBPIPE_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Column names of one output row (pointers into t, s or item). */
static ddbpipe_result_t row_names(const sql_table *t, const dp_sql_stmt *s, const dp_json *item,
                                  const char ***out, size_t *n) {
    size_t cap = s->ncolumns + t->ncols + (item ? item->count : 0) + 1, k = 0;
    const char **v = calloc(cap, sizeof *v);
    if (!v)
        return DDBPIPE_ERR_NOMEM;
    if (s->ncolumns) {
        for (size_t i = 0; i < s->ncolumns; i++) {
            const dp_column *c = declared(t, s->columns[i]);
            const char *nm = c ? c->name : s->columns[i];
            if (!c && strcasecmp(nm, t->key.partition_key) == 0)
                nm = t->key.partition_key;
            else if (!c && t->key.sort_key[0] && strcasecmp(nm, t->key.sort_key) == 0)
                nm = t->key.sort_key;
            v[k++] = nm;
        }
    } else {
        size_t first_extra;
        if (!t->ncols) {
            v[k++] = t->key.partition_key;
            if (t->key.sort_key[0])
                v[k++] = t->key.sort_key;
        }
        for (size_t i = 0; i < t->ncols; i++)
            v[k++] = t->cols[i].name;
        first_extra = k;
        for (size_t i = 0; item && i < item->count; i++) {
            const char *a = item->members[i].key;
            int seen = 0;
            for (size_t j = 0; j < first_extra && !seen; j++)
                seen = strcmp(v[j], a) == 0;
            if (!seen)
                v[k++] = a;
        }
        qsort(v + first_extra, k - first_extra, sizeof *v, cmp_str);
    }
    *out = v;
    *n = k;
    return DDBPIPE_OK;
}

static ddbpipe_result_t output_row(sql_ctx *x, const sql_table *t, const dp_sql_stmt *s, const dp_json *item,
                                   grid *g) {
    const char **names = NULL;
    char **cells = NULL;
    size_t n = 0;
    char msg[256];
    dp_json_doc *doc = dp_json_doc_new();
    dp_buf line;
    ddbpipe_result_t rc;
    dp_buf_init(&line, 0);
    if (!doc)
        return DDBPIPE_ERR_NOMEM;
    if ((rc = row_names(t, s, item, &names, &n)))
        goto out;
    if (g && !(cells = calloc(n ? n : 1, sizeof *cells))) {
        rc = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    if (!g)
        rc = dp_buf_putc(&line, '{');
    for (size_t i = 0; i < n && !rc; i++) {
        const dp_json *av = dp_json_get(item, names[i]);
        dp_json *plain = av ? dp_attr_to_plain(doc, av, msg, sizeof msg) : dp_json_new_null(doc);
        if (!plain) {
            rc = serr(x, DDBPIPE_ERR_PARSE, "attribute '%s' in the answer: %s", names[i], msg);
            goto out;
        }
        if (g) {
            dp_buf cb;
            dp_buf_init(&cb, 0);
            if ((rc = dp_sql_cell_text(&cb, plain))) {
                dp_buf_free(&cb);
                break;
            }
            cells[i] = dp_buf_steal(&cb);
            if (!cells[i])
                cells[i] = strdup("");
        } else {
            if (i)
                rc = dp_buf_putc(&line, ',');
            if (!rc)
                rc = dp_json_write_cstr(&line, names[i]);
            if (!rc)
                rc = dp_buf_putc(&line, ':');
            if (!rc)
                rc = dp_json_write(&line, plain);
        }
    }
    if (rc)
        goto out;
    x->st.rows_selected++;
    if (g) {
        if ((rc = grid_add_row(g, names, cells, n)))
            goto out;
        if (g->nrows >= SQL_TABLE_CHUNK)
            rc = grid_flush(x, g);
    } else if (!(rc = dp_buf_putc(&line, '}'))) {
        emit_line(x, line.data, line.len);
    }
out:
    for (size_t i = 0; cells && i < n; i++)
        free(cells[i]);
    free(cells);
    free(names);
    dp_buf_free(&line);
    dp_json_doc_free(doc);
    return rc;
}

/* do_select's state across the pages of one read. */
typedef struct select_pages {
    sql_ctx *x;
    sql_table *t;
    const dp_sql_stmt *s;
    grid *g;
    uint64_t before;
    const char *op;
    ddbpipe_result_t rc;
} select_pages;

static int select_limit_reached(const select_pages *sp) {
    return sp->s->limit > 0 && sp->x->st.rows_selected - sp->before >= (uint64_t)sp->s->limit;
}

/* One Query/Scan page: its rows out; nonzero stops the paging. */
static int select_page(const dp_ddb_read_page *page, void *opaque) {
    select_pages *sp = opaque;
    sql_ctx *x = sp->x;
    if (!page->items) {
        sp->rc = serr(x, DDBPIPE_ERR_PARSE, "%s answer without Items", sp->op);
        return 1;
    }
    for (size_t i = 0; i < page->items->count && !sp->rc && !x->stopped; i++) {
        if (select_limit_reached(sp))
            break;
        sp->rc = output_row(x, sp->t, sp->s, page->items->items[i], sp->g);
    }
    if (sp->rc) {
        if (!x->err_set)
            sp->rc = serr(x, sp->rc, "%s", ddbpipe_strerror(sp->rc));
        return 1;
    }
    return x->stopped || select_limit_reached(sp);
}

static ddbpipe_result_t do_select(sql_ctx *x, const dp_sql_stmt *s) {
    sql_table *t;
    ddbpipe_result_t rc = lookup(x, s->table, &t);
    dp_sql_read rd;
    char msg[1024] = "";
    int is_query = 0;
    uint64_t before = x->st.rows_selected;
    grid g;
    memset(&g, 0, sizeof g);
    if (rc)
        return rc;
    if ((rc = ensure_key(x, t)) || (rc = ensure_client(x, t)))
        return rc;
    dp_sql_key key = {t->key.partition_key, t->key.partition_type,
                      t->key.sort_key[0] ? t->key.sort_key : NULL, t->key.sort_type};
    memset(&rd, 0, sizeof rd);
    if (s->limit == 0 || x->stopped) {
        /* nothing to read */
    } else if ((rc = dp_sql_build_read(&rd, ddb_name(t), s, &key, t->cols, t->ncols, &is_query, msg,
                                       sizeof msg))) {
        rc = serr(x, rc, "%s", msg);
    } else {
        select_pages sp = {
            x, t, s, x->o->table_output ? &g : NULL, before, dp_ddb_read_operation(&rd.req), DDBPIPE_OK};
        dp_ddb_result res;
        dp_ddb_result_init(&res);
        rc = dp_ddb_read_pages(dp_client_ddb(t->client), &rd.req, select_page, &sp, &res);
        if (rc == DDBPIPE_OK && res.result != DDBPIPE_OK)
            rc = res.result;
        if (rc) {
            dp_client_call_error(t->client, sp.op, ddb_name(t), rc, &res, msg, sizeof msg);
            rc = serr(x, rc, "%s", msg);
        } else {
            rc = sp.rc;
        }
        dp_ddb_result_free(&res);
    }
    dp_sql_read_free(&rd);
    if (!rc && x->o->table_output) {
        uint64_t n = x->st.rows_selected - before;
        if (!g.nhdr) {
            /* No rows: still show the header. */
            const char **names = NULL;
            size_t nn = 0;
            if (row_names(t, s, NULL, &names, &nn) == DDBPIPE_OK && nn)
                grid_add_row(&g, names, NULL, nn);
            free(names);
        }
        grid_flush(x, &g);
        char foot[64];
        int k = snprintf(foot, sizeof foot, "(%llu row%s)", (unsigned long long)n, n == 1 ? "" : "s");
        emit_line(x, foot, (size_t)k);
    }
    grid_free(&g);
    return rc;
}

/* ------------------------------------------------------------ run */

ddbpipe_result_t ddbpipe_sql_run_sz(const char *text, size_t len, const ddbpipe_conf_t *base_conf,
                                    const ddbpipe_sql_options_t *opts_in, size_t opts_size,
                                    ddbpipe_sql_stats_t *stats_user, size_t stats_size, char *errstr,
                                    size_t errstr_size) {
    static const ddbpipe_sql_options_t dflt = {0};
    /* Older callers' structs are shorter: copy in, zero the rest. */
    ddbpipe_sql_options_t opts_copy;
    const ddbpipe_sql_options_t *opts = dp_abi_copy_in(&opts_copy, sizeof opts_copy, opts_in, opts_size);
    ddbpipe_sql_stats_t stats_full = {0};
    ddbpipe_sql_stats_t *stats_or_NULL = stats_user ? &stats_full : NULL;
    sql_ctx x;
    dp_sql_script *sc = NULL;
    char msg[1024] = "";
    ddbpipe_result_t rc;
    memset(&x, 0, sizeof x);
    x.text = text ? text : "";
    x.len = text ? len : 0;
    if (x.len >= 3 && !memcmp(x.text, "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM (editors on Windows) */
        x.text += 3;
        x.len -= 3;
    }
    x.base = base_conf;
    x.o = opts ? opts : &dflt;
    x.errstr = errstr;
    x.errstr_size = errstr_size;
    if (errstr && errstr_size)
        errstr[0] = 0;
    dp_sql_error perr;
    rc = dp_sql_parse_ex(x.text, x.len, &sc, &perr, msg, sizeof msg);
    if (rc) {
        /* name the statement too */
        dp_sql_span *spans = NULL;
        size_t nspans = 0, no = 0;
        if (perr.line > 0 && dp_sql_split(x.text, x.len, &spans, &nspans) == DDBPIPE_OK)
            no = dp_sql_statement_at_line(spans, nspans, perr.line);
        free(spans);
        if (no)
            dp_errf(errstr, errstr_size, "statement %zu: syntax error at line %d, column %d: %s", no,
                    perr.line, perr.column, perr.reason);
        else
            dp_errf(errstr, errstr_size, "syntax error: %s", msg);
        return rc == DDBPIPE_ERR_NOMEM ? rc : DDBPIPE_ERR_PARSE;
    }
    for (size_t i = 0; i < sc->count && !rc && !x.stopped; i++) {
        const dp_sql_stmt *s = &sc->stmts[i];
        x.stmt_no = i + 1;
        x.line = s->line;
        x.st.statements++;
        switch (s->kind) {
        case DP_SQL_CREATE:
            rc = do_create(&x, s);
            break;
        case DP_SQL_INSERT_VALUES:
            rc = do_insert_values(&x, s);
            break;
        case DP_SQL_INSERT_STDIN:
            rc = do_insert_stdin(&x, s);
            break;
        case DP_SQL_DELETE:
            rc = do_delete(&x, s);
            break;
        case DP_SQL_SELECT:
            rc = do_select(&x, s);
            break;
        }
    }
    if (stats_or_NULL) {
        *stats_or_NULL = x.st;
        dp_abi_copy_out(stats_user, stats_size, stats_or_NULL, sizeof *stats_or_NULL);
    }
    for (size_t i = 0; i < x.ntables; i++)
        table_clear(&x.tables[i]);
    free(x.tables);
    dp_sql_script_free(sc);
    return rc;
}
