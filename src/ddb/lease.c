/* Lease table calls (see lease.h for the item layout). */
#include "ddb/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/util.h"
#include "ddb/ops.h"

#define LEASE_ITEMS_MAX 100000

static void fail(dp_ddb_result *res, ddbpipe_result_t rc, const char *msg) {
    res->result = rc;
    snprintf(res->message, sizeof res->message, "%s", msg);
}

static int copy_json_str(char *dst, size_t size, const char *s) {
    if (!s || strlen(s) >= size)
        return -1;
    snprintf(dst, size, "%s", s);
    return 0;
}

ddbpipe_result_t dp_lease_table_ensure(dp_ddb *c, const char *table, int64_t timeout_ms, dp_ddb_result *res) {
    ddbpipe_table_info_t info;
    int64_t deadline = dp_now_ms() + timeout_ms;
    int created = 0;
    for (;;) {
        memset(&info, 0, sizeof info);
        ddbpipe_result_t rc = dp_ddb_describe_table(c, table, &info, res);
        if (rc == DDBPIPE_ERR_NOT_FOUND && !created) {
            dp_ddb_create_table_req req = {.table = table};
            int exists = 0;
            snprintf(req.key.partition_key, sizeof req.key.partition_key, "lease_key");
            req.key.partition_type = 'S';
            rc = dp_ddb_create_table(c, &req, &exists, res);
            /* Another worker created it at the same time: fine. */
            if (rc != DDBPIPE_OK && !exists)
                return rc;
            created = 1;
            continue;
        }
        if (rc != DDBPIPE_OK && rc != DDBPIPE_ERR_NOT_FOUND)
            return rc;
        if (rc == DDBPIPE_OK) {
            if (strcmp(info.key.partition_key, "lease_key") != 0 || info.key.partition_type != 'S' ||
                info.key.sort_key[0]) {
                fail(res, DDBPIPE_ERR_CONFIG,
                     "lease table exists with another key schema (want partition key "
                     "lease_key of type S and no sort key)");
                return res->result;
            }
            if (strcmp(info.status, "ACTIVE") == 0)
                return DDBPIPE_OK;
        }
        if (dp_now_ms() >= deadline) {
            fail(res, DDBPIPE_ERR_TIMEOUT, "lease table did not become ACTIVE in time");
            return res->result;
        }
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void put_s(dp_buf *b, const char *name, const char *v) {
    dp_buf_printf(b, "\"%s\":{\"S\":", name);
    dp_json_write_cstr(b, v);
    dp_buf_putc(b, '}');
}

ddbpipe_result_t dp_lease_create(dp_ddb *c, const char *table, const char *app, const dp_lease *l,
                                 int *created, dp_ddb_result *res) {
    *created = 0;
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_buf_putc(&b, '{');
    put_s(&b, "lease_key", l->key);
    dp_buf_putc(&b, ',');
    put_s(&b, "app", app);
    dp_buf_putc(&b, ',');
    put_s(&b, "shard", l->shard);
    dp_buf_putc(&b, ',');
    put_s(&b, "checkpoint", l->checkpoint);
    dp_buf_puts(&b, ",\"counter\":{\"N\":\"0\"},\"at_tip\":{\"BOOL\":false},\"parents\":{\"L\":[");
    for (int i = 0; i < l->n_parents; i++) {
        dp_buf_puts(&b, i ? ",{\"S\":" : "{\"S\":");
        dp_json_write_cstr(&b, l->parents[i]);
        dp_buf_putc(&b, '}');
    }
    dp_buf_puts(&b, "]}");
    if (l->pos) {
        dp_buf_putc(&b, ',');
        put_s(&b, "pos", l->pos);
    }
    if (l->segments > 0)
        dp_buf_printf(&b, ",\"total_segments\":{\"N\":\"%lld\"}", (long long)l->segments);
    dp_buf_putc(&b, '}');
    dp_ddb_item_write_req req = {.op = DP_DDB_PUT_ITEM,
                                 .table = table,
                                 .item = b.data,
                                 .item_len = b.len,
                                 .condition_expression = "attribute_not_exists(lease_key)"};
    int exists = 0;
    ddbpipe_result_t rc = dp_ddb_write_item(c, &req, &exists, NULL, res);
    dp_buf_free(&b);
    if (rc == DDBPIPE_OK)
        *created = 1;
    else if (exists)
        rc = res->result = DDBPIPE_OK;
    return rc;
}

static const char *attr_s(const dp_json *item, const char *name) {
    return dp_json_get_string(dp_json_get(item, name), "S");
}

/* The leases of one Scan page's Items, appended to v, n, cap. */
static ddbpipe_result_t parse_items(const dp_json *items, dp_lease **v, size_t *n, size_t *cap,
                                    size_t max_leases, char *errstr, size_t errstr_size) {
    if (!dp_json_is(items, DP_JSON_ARRAY)) {
        dp_errf(errstr, errstr_size, "lease table Scan: no Items array");
        return DDBPIPE_ERR_PARSE;
    }
    for (size_t i = 0; i < items->count; i++) {
        const dp_json *it = dp_json_at(items, i);
        if (*n >= max_leases) {
            dp_errf(errstr, errstr_size, "lease table: more than %zu leases", max_leases);
            return DDBPIPE_ERR_INVALID_ARG;
        }
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            dp_lease *nv = realloc(*v, nc * sizeof *nv);
            if (!nv)
                return DDBPIPE_ERR_NOMEM;
            *v = nv;
            *cap = nc;
        }
        dp_lease *l = &(*v)[*n];
        memset(l, 0, sizeof *l);
        const char *cnt = dp_json_get_string(dp_json_get(it, "counter"), "N");
        char *end = NULL;
        if (copy_json_str(l->key, sizeof l->key, attr_s(it, "lease_key")) != 0 ||
            copy_json_str(l->shard, sizeof l->shard, attr_s(it, "shard")) != 0 ||
            copy_json_str(l->checkpoint, sizeof l->checkpoint, attr_s(it, "checkpoint")) != 0 || !cnt ||
            (l->counter = strtoll(cnt, &end, 10), !end || *end)) {
            dp_errf(errstr, errstr_size,
                    "lease table item %zu: lease_key, shard, checkpoint (S) and counter (N) "
                    "are required",
                    i);
            return DDBPIPE_ERR_PARSE;
        }
        const char *owner = attr_s(it, "owner");
        if (owner && copy_json_str(l->owner, sizeof l->owner, owner) != 0) {
            dp_errf(errstr, errstr_size, "lease table item %zu: owner too long", i);
            return DDBPIPE_ERR_PARSE;
        }
        const dp_json *ps = dp_json_get(dp_json_get(it, "parents"), "L");
        for (size_t k = 0; ps && dp_json_is(ps, DP_JSON_ARRAY) && k < ps->count; k++) {
            const char *p = dp_json_get_string(dp_json_at(ps, k), "S");
            if (!p || l->n_parents >= DP_LEASE_MAX_PARENTS ||
                copy_json_str(l->parents[l->n_parents], sizeof l->parents[0], p) != 0) {
                dp_errf(errstr, errstr_size, "lease table item %zu: bad parents", i);
                return DDBPIPE_ERR_PARSE;
            }
            l->n_parents++;
        }
        const dp_json *tip = dp_json_get(dp_json_get(it, "at_tip"), "BOOL");
        l->at_tip = dp_json_is(tip, DP_JSON_BOOL) && tip->boolean;
        const char *segs = dp_json_get_string(dp_json_get(it, "total_segments"), "N");
        if (segs && (l->segments = strtoll(segs, &end, 10),
                     !end || *end || l->segments < 1 || l->segments > 1000000)) {
            dp_errf(errstr, errstr_size, "lease table item %zu: total_segments is not 1..1000000", i);
            return DDBPIPE_ERR_PARSE;
        }
        const char *pos = attr_s(it, "pos");
        if (pos && !(l->pos = strdup(pos)))
            return DDBPIPE_ERR_NOMEM;
        (*n)++;
    }
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_lease_parse_page(const char *body, size_t len, dp_lease **v, size_t *n, size_t *cap,
                                     size_t max_leases, dp_buf *last, char *errstr, size_t errstr_size) {
    dp_ddb_read_page page;
    char err[256] = "";
    dp_buf_reset(last);
    dp_ddb_read_page_init(&page);
    ddbpipe_result_t rc = dp_ddb_parse_read_page("lease table Scan", body, len, &page, err, sizeof err);
    if (rc != DDBPIPE_OK)
        dp_errf(errstr, errstr_size, "%s", err);
    else
        rc = parse_items(page.items, v, n, cap, max_leases, errstr, errstr_size);
    if (rc == DDBPIPE_OK && page.last_evaluated_key.len &&
        dp_buf_append(last, page.last_evaluated_key.data, page.last_evaluated_key.len) != DDBPIPE_OK)
        rc = DDBPIPE_ERR_NOMEM;
    dp_ddb_read_page_free(&page);
    return rc;
}

typedef struct list_ctx {
    dp_lease *v;
    size_t n, cap, max_leases;
    ddbpipe_result_t rc;
    char err[256];
} list_ctx;

static int list_page(const dp_ddb_read_page *page, void *opaque) {
    list_ctx *lc = opaque;
    lc->rc = parse_items(page->items, &lc->v, &lc->n, &lc->cap, lc->max_leases, lc->err, sizeof lc->err);
    return lc->rc != DDBPIPE_OK;
}

ddbpipe_result_t dp_lease_list(dp_ddb *c, const char *table, const char *app, size_t max_leases,
                               dp_lease **out, size_t *n, dp_ddb_result *res) {
    list_ctx lc;
    dp_buf values;
    dp_buf_init(&values, 0);
    memset(&lc, 0, sizeof lc);
    *out = NULL;
    *n = 0;
    lc.max_leases = max_leases == 0 || max_leases > LEASE_ITEMS_MAX ? LEASE_ITEMS_MAX : max_leases;
    ddbpipe_result_t rc = dp_buf_puts(&values, "{\":a\":{\"S\":");
    if (!rc)
        rc = dp_json_write_cstr(&values, app);
    if (!rc)
        rc = dp_buf_puts(&values, "}}");
    if (rc) {
        dp_buf_free(&values);
        fail(res, rc, "lease table Scan request: out of memory");
        return rc;
    }
    dp_ddb_read_req req = {.table = table,
                           .consistent_read = 1,
                           .filter_expression = "app = :a",
                           .expression_attribute_values = values.data};
    rc = dp_ddb_read_pages(c, &req, list_page, &lc, res);
    if (rc == DDBPIPE_OK && lc.rc != DDBPIPE_OK)
        fail(res, rc = lc.rc, lc.err);
    dp_buf_free(&values);
    if (rc != DDBPIPE_OK) {
        dp_lease_list_free(lc.v, lc.n);
        return rc;
    }
    *out = lc.v;
    *n = lc.n;
    return DDBPIPE_OK;
}

void dp_lease_list_free(dp_lease *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i].pos);
    free(v);
}

ddbpipe_result_t dp_lease_update(dp_ddb *c, const char *table, dp_lease_op op, dp_lease *l, const char *me,
                                 const char *checkpoint, int at_tip, int *lost, dp_ddb_result *res) {
    return dp_lease_update_pos(c, table, op, l, me, checkpoint, at_tip, NULL, lost, res);
}

ddbpipe_result_t dp_lease_delete(dp_ddb *c, const char *table, const dp_lease *l, const char *checkpoint,
                                 int *lost, dp_ddb_result *res) {
    *lost = 0;
    dp_buf key, b;
    dp_buf_init(&key, 0);
    dp_buf_init(&b, 0);
    dp_buf_putc(&key, '{');
    put_s(&key, "lease_key", l->key);
    dp_buf_putc(&key, '}');
    dp_buf_printf(&b, "{\":c\":{\"N\":\"%lld\"},", (long long)l->counter);
    put_s(&b, ":cp", checkpoint);
    dp_buf_putc(&b, '}');
    dp_ddb_item_write_req req = {.op = DP_DDB_DELETE_ITEM,
                                 .table = table,
                                 .item = key.data,
                                 .item_len = key.len,
                                 .condition_expression = "#c = :c AND checkpoint = :cp",
                                 .expression_attribute_names = "{\"#c\":\"counter\"}",
                                 .expression_attribute_values = b.data};
    ddbpipe_result_t rc = dp_ddb_write_item(c, &req, lost, NULL, res);
    dp_buf_free(&key);
    dp_buf_free(&b);
    return rc;
}

ddbpipe_result_t dp_lease_update_pos(dp_ddb *c, const char *table, dp_lease_op op, dp_lease *l,
                                     const char *me, const char *checkpoint, int at_tip, const char *pos,
                                     int *lost, dp_ddb_result *res) {
    *lost = 0;
    if (op != DP_LEASE_CHECKPOINT)
        pos = NULL;
    dp_buf key, b;
    dp_buf_init(&key, 0);
    dp_buf_init(&b, 0);
    dp_buf_putc(&key, '{');
    put_s(&key, "lease_key", l->key);
    dp_buf_putc(&key, '}');
    const char *upd = "SET #c = #c + :one";
    const char *cond = "#o = :me AND #c = :c";
    switch (op) {
    case DP_LEASE_RENEW:
        break;
    case DP_LEASE_TAKE:
        upd = "SET #c = #c + :one, #o = :me";
        cond = l->owner[0] ? "#c = :c AND #o = :prev" : "#c = :c AND attribute_not_exists(#o)";
        break;
    case DP_LEASE_CHECKPOINT:
        upd = !pos     ? "SET #c = #c + :one, checkpoint = :cp, at_tip = :tip"
              : pos[0] ? "SET #c = #c + :one, checkpoint = :cp, at_tip = :tip, pos = :pos"
                       : "SET #c = #c + :one, checkpoint = :cp, at_tip = :tip REMOVE pos";
        break;
    case DP_LEASE_RELEASE:
        upd = "SET #c = #c + :one REMOVE #o";
        break;
    }
    dp_buf_puts(&b, "{\":one\":{\"N\":\"1\"}");
    dp_buf_printf(&b, ",\":c\":{\"N\":\"%lld\"}", (long long)l->counter);
    dp_buf_putc(&b, ',');
    put_s(&b, ":me", me);
    if (op == DP_LEASE_TAKE && l->owner[0]) {
        dp_buf_putc(&b, ',');
        put_s(&b, ":prev", l->owner);
    }
    if (op == DP_LEASE_CHECKPOINT) {
        dp_buf_putc(&b, ',');
        put_s(&b, ":cp", checkpoint);
        dp_buf_printf(&b, ",\":tip\":{\"BOOL\":%s}", at_tip ? "true" : "false");
        if (pos && pos[0]) {
            dp_buf_putc(&b, ',');
            put_s(&b, ":pos", pos);
        }
    }
    dp_buf_putc(&b, '}');
    dp_ddb_item_write_req req = {.op = DP_DDB_UPDATE_ITEM,
                                 .table = table,
                                 .item = key.data,
                                 .item_len = key.len,
                                 .update_expression = upd,
                                 .condition_expression = cond,
                                 .expression_attribute_names = "{\"#c\":\"counter\",\"#o\":\"owner\"}",
                                 .expression_attribute_values = b.data};
    ddbpipe_result_t rc = dp_ddb_write_item(c, &req, lost, NULL, res);
    dp_buf_free(&key);
    dp_buf_free(&b);
    if (rc != DDBPIPE_OK)
        return rc;
    l->counter++;
    if (op == DP_LEASE_TAKE)
        snprintf(l->owner, sizeof l->owner, "%s", me);
    else if (op == DP_LEASE_RELEASE)
        l->owner[0] = 0;
    if (op == DP_LEASE_CHECKPOINT) {
        snprintf(l->checkpoint, sizeof l->checkpoint, "%s", checkpoint);
        l->at_tip = at_tip;
    }
    return DDBPIPE_OK;
}
