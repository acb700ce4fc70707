/* Per-worker write engine.
 *
 * Per key: the pending change (folded) and the write in flight. A key with a
 * write in flight (or, in merge mode, a load) is locked: it is never sent
 * again until that write is acknowledged, so no batch holds a key twice and
 * the table always ends with the last change of every key, whatever the
 * number of requests in flight, retries or UnprocessedItems. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "common/list.h"
#include "common/log.h"
#include "common/util.h"
#include "ddb/capacity.h"
#include "ddb/condition.h"
#include "ddb/ops.h"
#include "sink/sink_internal.h"

enum { L_NONE = 0, L_READY = 1, L_WREADY = 2 };
enum { CK_WRITE = 1, CK_TRANSACT = 2, CK_GET = 3 };

#define BATCH_MAX_REQUEST_BYTES ((size_t)15 * 1024 * 1024) /* under BatchWriteItem's 16 MB */
#define TRANSACT_MAX_BYTES ((size_t)4000000)               /* TransactWriteItems 4 MB aggregate */
#define GET_MAX_KEYS 100
#define RETRY_BASE_MS 50
#define RETRY_MAX_MS 5000 /* sink-level re-sends; the client backs off up to 20 s on its own */

typedef struct sk_key {
    struct sk_key *hnext;
    dp_list_node link; /* on e->ready or e->wready, as `list` says */
    int list;
    int locked;
    uint64_t hash;
    char *key;
    size_t key_len;
    char *key_json;
    size_t key_json_len;
    sk_rec *pend_head, *pend_tail;
    size_t pend_n, pend_bytes;
    sk_rec *fl_head, *fl_tail; /* records covered by the write in flight */
    int attempts;              /* retries charged to max_retries */
    int busy_rounds; /* re-sends because the table was busy (throttling, UnprocessedItems): never give up */
    int in_call;     /* invariant check: part of a call in flight or waiting to be re-sent */
    /* the write to send while locked */
    sk_op wop;
    char *wbody; /* owned copy (merge) or NULL: use fl_tail->body / key_json */
    size_t wlen, wsize;
    int64_t t_first;
    int cached; /* a KEY_SLOT_BYTES node: goes back to the engine's cache */
} sk_key;

/* Key nodes whose key and key JSON fit KEY_SLOT_BYTES are recycled through
 * a per-engine free list: a node lives from a key's first pending record to
 * its write's answer, so with 64 calls of 25 keys in flight some 1,600 are
 * freed and made again in bursts, more than malloc's per-thread cache keeps.
 * The cache holds at most KEY_CACHE_MAX nodes (about 1.2 MiB). */
#define KEY_SLOT_BYTES 96
#define KEY_CACHE_MAX 4096

typedef struct sk_chunk {
    sk_engine *e;
    int kind;
    size_t n;
    sk_key **keys;
    char token[40];
    int64_t due_ms;
    double est_units; /* write capacity charged to the cap when sent (0: not charged) */
    struct sk_chunk *next;
    dp_list_node
        live_link; /* on e->live: calls in flight (freed at destroy: the client drops them silently) */
} sk_chunk;

typedef struct sk_list {
    dp_list keys; /* sk_key.link */
    size_t bytes; /* pending record bytes of the keys (ready list) */
} sk_list;

struct sk_engine {
    struct ddbpipe_sink *s;
    ddbpipe_client_t *client;
    dp_ddb *ddb;
    sk_key **buckets;
    size_t nbuckets, nkeys;
    sk_list ready, wready;
    int64_t oldest_ready_ms;
    sk_chunk *delayed;
    size_t ndelayed;
    dp_list live;    /* sk_chunk.live_link */
    dp_buf req_body; /* request body being built; reused call after call (the client keeps its own copy) */
    int calls, get_calls;
    uint64_t progress;
    int64_t cap_due_ms; /* write cap: nothing more is sent before then (0: not waiting) */
    sk_key *key_cache;  /* free KEY_SLOT_BYTES nodes, linked by hnext */
    size_t nkey_cache;
};

/* ------------------------------------------------------------ key map */

static sk_key *key_find(sk_engine *e, const char *key, size_t len, uint64_t hash) {
    sk_key *k = e->buckets[hash & (e->nbuckets - 1)];
    for (; k; k = k->hnext)
        if (k->hash == hash && k->key_len == len && memcmp(k->key, key, len) == 0)
            return k;
    return NULL;
}

static void key_rehash(sk_engine *e) {
    size_t nb = e->nbuckets * 2;
    sk_key **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* keep the old table: slower, still correct */
    for (size_t i = 0; i < e->nbuckets; i++) {
        sk_key *k = e->buckets[i];
        while (k) {
            sk_key *n = k->hnext;
            k->hnext = b[k->hash & (nb - 1)];
            b[k->hash & (nb - 1)] = k;
            k = n;
        }
    }
    free(e->buckets);
    e->buckets = b;
    e->nbuckets = nb;
}

static sk_key *key_create(sk_engine *e, const char *key, size_t len, const char *kj, size_t kjlen,
                          uint64_t hash) {
    sk_key *k;
    if (len + 1 + kjlen + 1 <= KEY_SLOT_BYTES) {
        k = e->key_cache;
        if (k) {
            e->key_cache = k->hnext;
            e->nkey_cache--;
        } else {
            k = malloc(sizeof(*k) + KEY_SLOT_BYTES);
            if (!k)
                return NULL;
        }
        memset(k, 0, sizeof(*k));
        k->cached = 1;
    } else {
        k = calloc(1, sizeof(*k) + len + 1 + kjlen + 1);
        if (!k)
            return NULL;
    }
    k->key = (char *)(k + 1);
    memcpy(k->key, key, len);
    k->key[len] = '\0';
    k->key_len = len;
    k->key_json = k->key + len + 1;
    memcpy(k->key_json, kj, kjlen);
    k->key_json[kjlen] = '\0';
    k->key_json_len = kjlen;
    k->hash = hash;
    if (e->nkeys + 1 > e->nbuckets)
        key_rehash(e);
    k->hnext = e->buckets[hash & (e->nbuckets - 1)];
    e->buckets[hash & (e->nbuckets - 1)] = k;
    e->nkeys++;
    return k;
}

static void key_remove(sk_engine *e, sk_key *k) {
    sk_key **pp = &e->buckets[k->hash & (e->nbuckets - 1)];
    while (*pp && *pp != k)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = k->hnext;
    e->nkeys--;
    free(k->wbody);
    if (k->cached && e->nkey_cache < KEY_CACHE_MAX) {
        k->hnext = e->key_cache;
        e->key_cache = k;
        e->nkey_cache++;
        return;
    }
    free(k);
}

/* ------------------------------------------------------------ lists */

static sk_key *list_first(const sk_list *l) {
    return DP_LIST_ENTRY(l->keys.head, sk_key, link);
}

static void list_push(sk_list *l, sk_key *k, int which, size_t bytes) {
    k->list = which;
    dp_list_push_back(&l->keys, &k->link);
    l->bytes += bytes;
}

static void list_unlink(sk_list *l, sk_key *k, size_t bytes) {
    dp_list_remove(&l->keys, &k->link);
    k->list = L_NONE;
    l->bytes = l->bytes >= bytes ? l->bytes - bytes : 0;
}

static void make_ready(sk_engine *e, sk_key *k) {
    list_push(&e->ready, k, L_READY, k->pend_bytes);
    if (k->t_first < e->oldest_ready_ms)
        e->oldest_ready_ms = k->t_first;
}

/* ------------------------------------------------------------ engine */

sk_engine *sk_engine_new(struct ddbpipe_sink *s, ddbpipe_client_t *client) {
    sk_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->s = s;
    e->client = client;
    e->ddb = dp_client_ddb(client);
    e->nbuckets = 1024;
    e->buckets = calloc(e->nbuckets, sizeof(*e->buckets));
    if (!e->buckets) {
        free(e);
        return NULL;
    }
    e->oldest_ready_ms = INT64_MAX;
    dp_buf_init(&e->req_body, 0);
    return e;
}

static void free_recs(sk_rec *r) {
    while (r) {
        sk_rec *n = r->next;
        sk_rec_free(r);
        r = n;
    }
}

void sk_engine_destroy(sk_engine *e) {
    if (!e)
        return;
    /* The client drops calls still in flight without callbacks: destroy it
     * first, then free their chunks and the delayed ones. */
    ddbpipe_client_destroy(e->client);
    dp_buf_free(&e->req_body);
    while (e->delayed) {
        sk_chunk *c = e->delayed;
        e->delayed = c->next;
        free(c->keys);
        free(c);
    }
    for (dp_list_node *node = dp_list_take_all(&e->live), *next; node; node = next) {
        next = node->next;
        sk_chunk *c = DP_LIST_ENTRY(node, sk_chunk, live_link);
        free(c->keys);
        free(c);
    }
    for (size_t i = 0; i < e->nbuckets; i++) {
        sk_key *k = e->buckets[i];
        while (k) {
            sk_key *n = k->hnext;
            free_recs(k->pend_head);
            free_recs(k->fl_head);
            free(k->wbody);
            free(k);
            k = n;
        }
    }
    free(e->buckets);
    while (e->key_cache) {
        sk_key *k = e->key_cache;
        e->key_cache = k->hnext;
        free(k);
    }
    free(e);
}

int sk_engine_idle(const sk_engine *e) {
    return e->nkeys == 0 && e->calls == 0 && e->ndelayed == 0;
}

size_t sk_engine_in_flight(const sk_engine *e) {
    return (size_t)e->calls + e->ndelayed;
}

void sk_engine_add(sk_engine *e, sk_rec *r) {
    struct ddbpipe_sink *s = e->s;
    sk_key *k = key_find(e, r->key, r->key_len, r->hash);
    if (!k)
        k = key_create(e, r->key, r->key_len, r->key_json, r->key_json_len, r->hash);
    if (!k) {
        sk_core_dead_letter(s, r, "out of memory");
        return;
    }
    r->next = NULL;
    if (k->pend_head && !s->merge) {
        /* Put mode: the newer change replaces the pending one (delete then
         * insert = one Put). The replaced record counts as acknowledged: a
         * restart replays the newer one, which is still tracked. */
        sk_rec *old = k->pend_head;
        if (k->list == L_READY)
            e->ready.bytes -= old->mem;
        k->pend_bytes -= old->mem;
        k->pend_head = k->pend_tail = NULL;
        k->pend_n = 0;
        SK_ADD(s, duplicates_folded, 1);
        sk_core_ack(s, old);
    } else if (k->pend_head) {
        SK_ADD(s, duplicates_folded, 1); /* merge: patches compose into one write */
    }
    if (!k->pend_head)
        k->t_first = r->t_ms;
    if (k->pend_tail)
        k->pend_tail->next = r;
    else
        k->pend_head = r;
    k->pend_tail = r;
    k->pend_n++;
    k->pend_bytes += r->mem;
    if (k->list == L_READY)
        e->ready.bytes += r->mem;
    else if (!k->locked)
        make_ready(e, k);
}

/* ------------------------------------------------------------ request bodies */

static void key_write_body(const sk_key *k, const char **body, size_t *len) {
    if (k->wop == SK_OP_DELETE) {
        *body = k->key_json;
        *len = k->key_json_len;
    } else if (k->wbody) {
        *body = k->wbody;
        *len = k->wlen;
    } else {
        *body = k->fl_tail->body;
        *len = k->fl_tail->body_len;
    }
}

/* The request body, built straight into b (each item copied once, from
 * where the key holds it). */
static ddbpipe_result_t build_body(sk_engine *e, sk_chunk *c, dp_buf *b) {
    struct ddbpipe_sink *s = e->s;
    const char *body;
    size_t len;
    ddbpipe_result_t rc;
    if (c->kind == CK_GET) {
        rc = dp_ddb_batch_get_begin(b, s->table, 1);
        for (size_t i = 0; !rc && i < c->n; i++)
            rc = dp_ddb_batch_get_add(b, i == 0, c->keys[i]->key_json, c->keys[i]->key_json_len);
        return rc ? rc : dp_ddb_batch_get_end(b);
    }
    if (c->kind == CK_WRITE) {
        rc = dp_ddb_batch_write_begin(b, s->table);
        for (size_t i = 0; !rc && i < c->n; i++) {
            sk_key *k = c->keys[i];
            key_write_body(k, &body, &len);
            rc = dp_ddb_batch_write_add(b, i == 0, k->wop == SK_OP_DELETE, body, len);
        }
        return rc ? rc : dp_ddb_batch_write_end(b, SK_METERED(s));
    }
    const dp_json *names = s->expr_names ? dp_json_root(s->expr_names) : NULL;
    const dp_json *values = s->expr_values ? dp_json_root(s->expr_values) : NULL;
    rc = dp_ddb_transact_write_begin(b);
    for (size_t i = 0; !rc && i < c->n; i++) {
        sk_key *k = c->keys[i];
        int del = k->wop == SK_OP_DELETE;
        key_write_body(k, &body, &len);
        rc = dp_ddb_transact_write_add(b, i == 0, s->table, del, body, len,
                                       del ? s->cond_delete : s->cond_put, names, values);
    }
    return rc ? rc : dp_ddb_transact_write_end(b, SK_METERED(s), c->token);
}

/* ------------------------------------------------------------ sending */

static void on_done(void *opaque, dp_ddb_result *res);

static void new_token(char *out) {
    /* ClientRequestToken: 1..36 characters */
    uint64_t a = dp_rand64(), b = dp_rand64();
    snprintf(out, 40, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static sk_chunk *chunk_new(sk_engine *e, int kind, size_t cap) {
    sk_chunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->keys = calloc(cap ? cap : 1, sizeof(*c->keys));
    if (!c->keys) {
        free(c);
        return NULL;
    }
    c->e = e;
    c->kind = kind;
    if (kind == CK_TRANSACT)
        new_token(c->token);
    return c;
}

static void chunk_free(sk_chunk *c) {
    if (!c)
        return;
    free(c->keys);
    free(c);
}

static void delay_chunk(sk_engine *e, sk_chunk *c, int attempt) {
    int64_t ms = dp_retry_backoff_ms(attempt, RETRY_BASE_MS, RETRY_MAX_MS, dp_rand_unit());
    c->due_ms = dp_now_ms() + ms;
    c->next = e->delayed;
    e->delayed = c;
    e->ndelayed++;
}

static double now_s(void) {
    return (double)dp_now_ns() / 1e9;
}

/* Write cap and adaptive rate: may a write call start now? When not,
 * remembers when. */
static int cap_open(sk_engine *e, int64_t now_ms) {
    double t = now_s();
    int64_t w = dp_capacity_bucket_wait_ms(e->s->wcap, t);
    int64_t wa = dp_rate_adapt_wait_ms(e->s->wadapt, t);
    if (wa > w)
        w = wa;
    if (w == 0)
        return 1;
    e->cap_due_ms = now_ms + w;
    return 0;
}

/* Estimate by DynamoDB's rounding rules, charged when the call starts and
 * corrected by ConsumedCapacity when it answers. */
static void cap_charge_estimate(sk_engine *e, sk_chunk *c) {
    struct ddbpipe_sink *s = e->s;
    c->est_units = 0;
    if (!SK_METERED(s) || c->kind == CK_GET)
        return;
    for (size_t i = 0; i < c->n; i++)
        c->est_units += dp_wcu_estimate(c->keys[i]->wsize, c->keys[i]->wop == SK_OP_DELETE, s->transactional);
    double t = now_s();
    dp_capacity_bucket_charge(s->wcap, c->est_units, t);
    dp_rate_adapt_charge(s->wadapt, c->est_units, t);
}

/* The answer says what the call really consumed (units < 0: unknown). */
static void cap_settle(sk_engine *e, sk_chunk *c, double units) {
    if (!SK_METERED(e->s) || c->est_units == 0 || units < 0)
        return;
    /* Only the cap is corrected: it meters what the table consumed. The
     * adaptive rate meters what is offered to the table (items left in
     * UnprocessedItems were offered too), so that below the grant nothing
     * is throttled. */
    dp_capacity_bucket_charge(e->s->wcap, units - c->est_units, now_s());
    c->est_units = 0;
}

static void send_chunk(sk_engine *e, sk_chunk *c) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->keys[i]->in_call) {
            /* must never happen: the per-key order guarantee rests on it */
            DP_LOG_ERROR("sink: internal error: key sent twice concurrently");
            SK_IADD(e->s, internal_errors, 1);
        }
        c->keys[i]->in_call = 1;
    }
    dp_buf *b = &e->req_body;
    dp_buf_reset(b);
    const char *op = c->kind == CK_GET     ? "BatchGetItem"
                     : c->kind == CK_WRITE ? "BatchWriteItem"
                                           : "TransactWriteItems";
    ddbpipe_result_t r = build_body(e, c, b);
    if (r == DDBPIPE_OK)
        r = dp_ddb_call_async(e->ddb, DP_DDB_API_DYNAMODB, op, b->data, b->len, on_done, c);
    if (b->len > (size_t)4 << 20)
        dp_buf_free(b); /* a rare huge call (transactions hold up to 4 MB): do not keep that much */
    if (r != DDBPIPE_OK) {
        /* Could not even start (memory): try again later, keys stay locked. */
        DP_LOG_WARN("sink: could not start %s: %s; retrying", op, ddbpipe_strerror(r));
        delay_chunk(e, c, 3);
        return;
    }
    cap_charge_estimate(e, c);
    e->calls++;
    dp_list_push_front(&e->live, &c->live_link);
    SK_ADD(e->s, in_flight_requests, 1);
    if (c->kind == CK_GET)
        e->get_calls++;
    else
        SK_ADD(e->s, write_chunks, 1);
}

/* Release a key after its write finished (acked or failed). */
static void key_release(sk_engine *e, sk_key *k) {
    k->locked = 0;
    k->attempts = 0;
    k->busy_rounds = 0;
    free(k->wbody);
    k->wbody = NULL;
    k->wlen = k->wsize = 0;
    k->fl_head = k->fl_tail = NULL;
    if (k->pend_head)
        make_ready(e, k);
    else
        key_remove(e, k);
}

static void key_acked(sk_engine *e, sk_key *k) {
    struct ddbpipe_sink *s = e->s;
    if (k->wop == SK_OP_DELETE)
        SK_ADD(s, records_deleted, 1);
    else
        SK_ADD(s, records_written, 1);
    sk_rec *r = k->fl_head;
    while (r) {
        sk_rec *n = r->next;
        sk_core_ack(s, r);
        r = n;
    }
    key_release(e, k);
}

/* The write was refused by its condition expression: the changes it
 * covers are acknowledged without being written or dead-lettered. */
static void key_skipped(sk_engine *e, sk_key *k) {
    sk_rec *r = k->fl_head;
    while (r) {
        sk_rec *n = r->next;
        sk_core_ack(e->s, r);
        r = n;
    }
    key_release(e, k);
}

static void key_failed(sk_engine *e, sk_key *k, const char *reason) {
    struct ddbpipe_sink *s = e->s;
    SK_ADD(s, failed_items, 1);
    sk_rec *r = k->fl_head;
    while (r) {
        sk_rec *n = r->next;
        sk_core_dead_letter(s, r, reason);
        r = n;
    }
    key_release(e, k);
}

/* Merge mode: compute the write of a locked key from the stored item (or
 * none) and the changes it covers, in input order. */
static void merge_compute(sk_engine *e, sk_key *k, const dp_json *stored) {
    struct ddbpipe_sink *s = e->s;
    char reason[512] = "";
    ddbpipe_result_t why = DDBPIPE_OK;
    dp_json_doc *doc = dp_json_doc_new();
    const dp_json *cur = stored;
    int deleted = 0;
    if (!doc) {
        key_failed(e, k, "out of memory");
        return;
    }
    for (sk_rec *r = k->fl_head; r; r = r->next) {
        if (r->op == SK_OP_DELETE) {
            deleted = 1;
            cur = NULL;
            continue;
        }
        dp_json_doc *pd = dp_json_parse(r->body, r->body_len, NULL);
        if (!pd) {
            snprintf(reason, sizeof(reason), "internal: stored change is not JSON");
            goto fail;
        }
        /* a DynamoDB Streams image is the whole new item: it replaces */
        if (r->op == SK_OP_PUT)
            cur = NULL;
        cur = dp_item_merge_patch(doc, cur, dp_json_root(pd), r->op == SK_OP_PUT, &s->pctx.opts, &why, reason,
                                  sizeof(reason));
        dp_json_doc_free(pd);
        if (!cur)
            goto fail;
        deleted = 0;
    }
    if (deleted || !cur) {
        k->wop = SK_OP_DELETE;
    } else {
        dp_buf b;
        dp_buf_init(&b, 0);
        if (dp_json_write(&b, cur) != DDBPIPE_OK) {
            dp_buf_free(&b);
            snprintf(reason, sizeof(reason), "out of memory");
            goto fail;
        }
        k->wop = SK_OP_PUT;
        k->wsize = dp_item_size(cur);
        k->wlen = b.len;
        k->wbody = dp_buf_steal(&b);
    }
    dp_json_doc_free(doc);
    list_push(&e->wready, k, L_WREADY, 0);
    return;
fail:
    dp_json_doc_free(doc);
    {
        char msg[600];
        if (why == DDBPIPE_ERR_TOO_LARGE)
            SK_ADD(s, oversized_dropped, 1);
        snprintf(msg, sizeof(msg), "merge: %s", reason[0] ? reason : "failed");
        key_failed(e, k, msg);
    }
}

/* Lock a ready key: its pending records become the write in flight. */
static void key_lock(sk_engine *e, sk_key *k) {
    list_unlink(&e->ready, k, k->pend_bytes);
    k->locked = 1;
    k->fl_head = k->pend_head;
    k->fl_tail = k->pend_tail;
    k->pend_head = k->pend_tail = NULL;
    k->pend_n = 0;
    k->pend_bytes = 0;
    /* A ready key always has pending records; the fl_tail test spells that
     * out for the analyzer, which cannot follow the list invariants. */
    if (!e->s->merge && k->fl_tail) {
        k->wop = k->fl_tail->op;
        k->wsize = k->fl_tail->item_size;
    }
}

static int fl_has_delete_or_put(const sk_key *k) {
    for (sk_rec *r = k->fl_head; r; r = r->next)
        if (r->op == SK_OP_DELETE || r->op == SK_OP_PUT)
            return 1;
    return 0;
}

static size_t key_req_bytes(const sk_key *k) {
    const char *b;
    size_t l;
    key_write_body(k, &b, &l);
    return l + 32;
}

/* Fill a write chunk from a list of locked keys (wready) or from ready keys. */
static sk_chunk *take_write_chunk(sk_engine *e, sk_list *from, int lock) {
    struct ddbpipe_sink *s = e->s;
    size_t lim = (size_t)s->batch_size;
    sk_chunk *c = chunk_new(e, s->transactional ? CK_TRANSACT : CK_WRITE, lim);
    if (!c)
        return NULL;
    size_t bytes = 0;
    while (!dp_list_empty(&from->keys) && c->n < lim) {
        sk_key *k = list_first(from);
        if (lock)
            key_lock(e, k);
        else
            list_unlink(from, k, 0);
        size_t kb = s->transactional ? k->wsize : key_req_bytes(k);
        size_t cap = s->transactional ? TRANSACT_MAX_BYTES : BATCH_MAX_REQUEST_BYTES;
        if (c->n > 0 && bytes + kb > cap) {
            /* does not fit: put it back at the head */
            if (lock) {
                /* undo the lock: restore pending */
                k->pend_head = k->fl_head;
                k->pend_tail = k->fl_tail;
                for (sk_rec *r = k->pend_head; r; r = r->next) {
                    k->pend_n++;
                    k->pend_bytes += r->mem;
                }
                k->fl_head = k->fl_tail = NULL;
                k->locked = 0;
            }
            dp_list_push_front(&from->keys, &k->link);
            from->bytes += lock ? k->pend_bytes : 0;
            k->list = lock ? L_READY : L_WREADY;
            break;
        }
        bytes += kb;
        c->keys[c->n++] = k;
    }
    return c;
}

void sk_engine_dispatch(sk_engine *e, int force) {
    sk_engine_dispatch_at(e, force, dp_now_ms());
}

void sk_engine_dispatch_at(sk_engine *e, int force, int64_t now) {
    struct ddbpipe_sink *s = e->s;
    if (sk_core_stopped_hard(s))
        return;
    int full = sk_core_buffer_full(s);
    e->cap_due_ms = 0;
    /* 1. retries whose backoff has passed */
    sk_chunk **pp = &e->delayed;
    while (*pp && e->calls < s->max_concurrent) {
        sk_chunk *c = *pp;
        if (c->due_ms <= now && c->kind != CK_GET && SK_METERED(s) && !cap_open(e, now))
            return; /* the cap holds every write back until then */
        if (c->due_ms <= now) {
            *pp = c->next;
            e->ndelayed--;
            send_chunk(e, c);
        } else {
            pp = &c->next;
        }
    }
    /* 2. merge mode: computed writes */
    while (e->wready.keys.n > 0 && e->calls < s->max_concurrent) {
        if (!(e->wready.keys.n >= (size_t)s->batch_size || force || full || e->get_calls == 0))
            break;
        if (SK_METERED(s) && !cap_open(e, now))
            return;
        sk_chunk *c = take_write_chunk(e, &e->wready, 0);
        if (!c)
            break;
        send_chunk(e, c);
    }
    /* 3. ready keys */
    int time_due = e->ready.keys.n > 0 && now - e->oldest_ready_ms >= s->flush_interval_ms;
    int bytes_due = e->ready.bytes >= s->max_buffer_bytes;
    while (e->ready.keys.n > 0 && e->calls < s->max_concurrent) {
        size_t lim = s->merge ? GET_MAX_KEYS : (size_t)s->batch_size;
        if (!(e->ready.keys.n >= lim || force || full || time_due || bytes_due))
            break;
        if (!s->merge) {
            if (SK_METERED(s) && !cap_open(e, now))
                return;
            sk_chunk *c = take_write_chunk(e, &e->ready, 1);
            if (!c)
                break;
            send_chunk(e, c);
            continue;
        }
        /* merge: load stored items first (unless a delete or full image
         * makes the stored item irrelevant) */
        sk_chunk *c = chunk_new(e, CK_GET, GET_MAX_KEYS);
        if (!c)
            break;
        while (!dp_list_empty(&e->ready.keys) && c->n < GET_MAX_KEYS) {
            sk_key *k = list_first(&e->ready);
            key_lock(e, k);
            if (fl_has_delete_or_put(k)) {
                merge_compute(e, k, NULL);
            } else {
                c->keys[c->n++] = k;
            }
        }
        if (c->n == 0) {
            chunk_free(c);
            continue;
        }
        send_chunk(e, c);
    }
    if (e->ready.keys.n == 0)
        e->oldest_ready_ms = INT64_MAX;
    /* merge writes made ready by step 3 */
    while (e->wready.keys.n > 0 && e->calls < s->max_concurrent &&
           (force || full || e->get_calls == 0 || e->wready.keys.n >= (size_t)s->batch_size)) {
        if (SK_METERED(s) && !cap_open(e, now))
            return;
        sk_chunk *c = take_write_chunk(e, &e->wready, 0);
        if (!c)
            break;
        send_chunk(e, c);
    }
}

int64_t sk_engine_next_timer_ms(const sk_engine *e, int64_t now_ms) {
    int64_t best = -1;
    for (sk_chunk *c = e->delayed; c; c = c->next) {
        int64_t d = c->due_ms - now_ms;
        if (d < 0)
            d = 0;
        if (best < 0 || d < best)
            best = d;
    }
    if (e->cap_due_ms > 0) {
        int64_t d = e->cap_due_ms - now_ms;
        if (d < 0)
            d = 0;
        if (best < 0 || d < best)
            best = d;
    }
    if (e->ready.keys.n > 0 && e->oldest_ready_ms != INT64_MAX) {
        int64_t d = e->oldest_ready_ms + e->s->flush_interval_ms - now_ms;
        if (d < 0)
            d = 0;
        if (best < 0 || d < best)
            best = d;
    }
    return best;
}

/* ------------------------------------------------------------ completions */

static int find_key_in_chunk(struct ddbpipe_sink *s, sk_chunk *c, const dp_json *item, int *used) {
    dp_buf kb;
    dp_buf_init(&kb, 0);
    int idx = -1;
    if (sk_key_canonical(item, s->pk, s->skey[0] ? s->skey : NULL, &kb) == 0) {
        for (size_t i = 0; i < c->n; i++)
            if (!used[i] && c->keys[i]->key_len == kb.len && memcmp(c->keys[i]->key, kb.data, kb.len) == 0) {
                idx = (int)i;
                break;
            }
    }
    dp_buf_free(&kb);
    return idx;
}

static int retry_allowed(struct ddbpipe_sink *s, sk_key *k) {
    return s->max_retries < 0 || k->attempts < s->max_retries;
}

/* Re-send the given keys (still locked) after backoff, or fail those out of
 * retries. busy: the table was busy (a throttling error, UnprocessedItems or
 * UnprocessedKeys): such a round does not count toward max_retries, as a
 * record must never be given up because the table was busy; it only grows
 * the backoff. */
static void resend_keys(sk_engine *e, int kind, sk_key **keys, size_t n, const char *why, const char *token,
                        int busy) {
    struct ddbpipe_sink *s = e->s;
    if (n == 0)
        return;
    sk_chunk *c = chunk_new(e, kind, n);
    int max_attempt = 0;
    for (size_t i = 0; i < n; i++) {
        sk_key *k = keys[i];
        if (!c || (!busy && !retry_allowed(s, k))) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s; gave up after %d retries", why, k->attempts);
            key_failed(e, k, msg);
            continue;
        }
        if (busy) {
            if (k->busy_rounds < 16)
                k->busy_rounds++;
        } else {
            k->attempts++;
        }
        int a = k->attempts + k->busy_rounds;
        if (a > max_attempt)
            max_attempt = a;
        c->keys[c->n++] = k;
    }
    if (!c)
        return;
    if (c->n == 0) {
        chunk_free(c);
        return;
    }
    /* Same transaction again (nothing dropped): same ClientRequestToken, so
     * a first attempt that did land is not applied twice (a condition such
     * as attribute_not_exists would fail on the replay). */
    if (token && c->n == n)
        snprintf(c->token, sizeof(c->token), "%s", token);
    SK_ADD(s, retries, 1);
    delay_chunk(e, c, max_attempt);
}

static void split_or_fail(sk_engine *e, sk_chunk *c, const char *reason) {
    if (c->n == 1) {
        char msg[700];
        snprintf(msg, sizeof(msg), "rejected by DynamoDB: %s", reason);
        key_failed(e, c->keys[0], msg);
        return;
    }
    /* Split in halves until the poison item is isolated; the halves are
     * sent at once (they are not retries). */
    size_t h = c->n / 2;
    sk_chunk *a = chunk_new(e, c->kind, h), *b = chunk_new(e, c->kind, c->n - h);
    if (!a || !b) {
        chunk_free(a);
        chunk_free(b);
        for (size_t i = 0; i < c->n; i++)
            key_failed(e, c->keys[i], "out of memory");
        return;
    }
    for (size_t i = 0; i < h; i++)
        a->keys[a->n++] = c->keys[i];
    for (size_t i = h; i < c->n; i++)
        b->keys[b->n++] = c->keys[i];
    a->due_ms = b->due_ms = 0;
    a->next = b;
    b->next = e->delayed;
    e->delayed = a;
    e->ndelayed += 2;
}

static int is_fatal(const dp_ddb_result *res) {
    return res->result == DDBPIPE_ERR_AUTH || res->result == DDBPIPE_ERR_NOT_FOUND ||
           res->result == DDBPIPE_ERR_CREDENTIALS;
}

static int is_validation(const dp_ddb_result *res) {
    return dp_ddb_write_error_of(res) == DP_DDB_WRITE_ERR_VALIDATION;
}

static void describe_error(const dp_ddb_result *res, char *out, size_t n) {
    if (res->error_code[0])
        snprintf(out, n, "%s: %s", res->error_code, res->message);
    else
        snprintf(out, n, "%s%s%s", ddbpipe_strerror(res->result), res->message[0] ? ": " : "", res->message);
}

static void handle_write(sk_engine *e, sk_chunk *c, dp_ddb_result *res) {
    struct ddbpipe_sink *s = e->s;
    char why[700];
    if (res->result == DDBPIPE_OK) {
        dp_ddb_write_answer ans;
        memset(&ans, 0, sizeof ans);
        if (dp_ddb_parse_batch_write(res->body.data, res->body.len, s->table, &ans, NULL, 0) != DDBPIPE_OK) {
            dp_ddb_write_answer_free(&ans);
            /* unreadable answer: we cannot know what was written; writes are
             * idempotent and the keys are locked, so send again */
            resend_keys(e, c->kind, c->keys, c->n, "unreadable BatchWriteItem response", c->token, 0);
            chunk_free(c);
            return;
        }
        const dp_json *un = ans.unprocessed;
        size_t nun = un ? un->count : 0;
        int *used = calloc(c->n ? c->n : 1, sizeof(int));
        sk_key **again = calloc(c->n ? c->n : 1, sizeof(*again));
        size_t nagain = 0;
        int unmatched = 0;
        if (!used || !again)
            unmatched = 1;
        for (size_t i = 0; !unmatched && i < nun; i++) {
            const dp_json *it = dp_ddb_unprocessed_write_item(un->items[i]);
            int idx = it ? find_key_in_chunk(s, c, it, used) : -1;
            if (idx < 0) {
                unmatched = 1;
                break;
            }
            used[idx] = 1;
        }
        if (unmatched) {
            /* cannot map the leftovers to keys: re-send the whole chunk (puts
             * and deletes are idempotent; the keys are still locked) */
            for (size_t i = 0; used && i < c->n; i++)
                used[i] = 1;
            nun = c->n;
        }
        if (nun > 0)
            SK_ADD(s, throttled_items, nun);
        double consumed = -1;
        if (SK_METERED(s) && !dp_consumed_capacity(ans.root, &consumed) && c->n > 0)
            consumed = c->est_units * (double)(c->n - nun) / (double)c->n; /* unprocessed ones cost nothing */
        if (s->wadapt) {
            double t = now_s();
            dp_rate_adapt_answer(s->wadapt, consumed,
                                 nun > 0 && c->n > 0 ? c->est_units * (double)nun / (double)c->n : 0, t);
        }
        cap_settle(e, c, consumed);
        for (size_t i = 0; i < c->n; i++) {
            if (used && used[i]) {
                if (again)
                    again[nagain++] = c->keys[i];
                else
                    key_failed(e, c->keys[i], "out of memory");
            } else {
                key_acked(e, c->keys[i]);
            }
        }
        if (nagain)
            resend_keys(e, c->kind, again, nagain, "UnprocessedItems", NULL, 1);
        free(used);
        free(again);
        dp_ddb_write_answer_free(&ans);
        chunk_free(c);
        return;
    }
    describe_error(res, why, sizeof(why));
    if (is_fatal(res)) {
        /* keys stay locked and unacknowledged (the checkpoint does not
         * pass them); nothing more is sent */
        sk_core_fatal(s, res->result, why);
        chunk_free(c);
        return;
    }
    if (c->kind == CK_TRANSACT && dp_ddb_write_error_of(res) == DP_DDB_WRITE_ERR_TRANSACTION_CANCELED) {
        dp_ddb_write_answer ans;
        memset(&ans, 0, sizeof ans);
        const dp_json *reasons =
            dp_ddb_parse_transact_cancel(res->body.data, res->body.len, &ans, NULL, 0) == DDBPIPE_OK
                ? ans.cancellation_reasons
                : NULL;
        if (!reasons || reasons->count != c->n) {
            dp_ddb_write_answer_free(&ans);
            resend_keys(e, c->kind, c->keys, c->n, why, NULL, 0);
            chunk_free(c);
            return;
        }
        sk_key **again = calloc(c->n ? c->n : 1, sizeof(*again));
        size_t nagain = 0;
        for (size_t i = 0; i < c->n; i++) {
            const char *code = NULL, *msg = NULL;
            dp_ddb_cancel_reason why_cancelled = dp_ddb_cancel_reason_of(reasons->items[i], &code, &msg);
            char rs[700];
            snprintf(rs, sizeof(rs), "%s%s%s", code ? code : "unknown", msg ? ": " : "", msg ? msg : "");
            if (why_cancelled == DP_DDB_CANCEL_CONDITION_FAILED) {
                /* As Feldera does: a false condition skips that change
                 * (counted as condition_failed), it is not an error. */
                SK_ADD(s, condition_check_failures, 1);
                key_skipped(e, c->keys[i]);
            } else if (why_cancelled == DP_DDB_CANCEL_INVALID) {
                key_failed(e, c->keys[i], rs);
            } else {
                /* None (fine, cancelled with the others), TransactionConflict,
                 * ThrottlingError, ProvisionedThroughputExceeded: again, in
                 * a new transaction (new token: the content differs) */
                if (why_cancelled == DP_DDB_CANCEL_THROTTLED) {
                    SK_ADD(s, throttled_items, 1);
                    dp_rate_adapt_throttled(s->wadapt, dp_wcu_estimate(c->keys[i]->wsize, 0, 1), now_s());
                }
                if (again)
                    again[nagain++] = c->keys[i];
                else
                    key_failed(e, c->keys[i], "out of memory");
            }
        }
        if (nagain) {
            /* a cancelled action that was fine ("None") is not charged a retry */
            sk_chunk *nc = chunk_new(e, CK_TRANSACT, nagain);
            for (size_t i = 0; i < nagain; i++) {
                sk_key *k = again[i];
                const dp_json *r = NULL;
                for (size_t j = 0; j < c->n; j++)
                    if (c->keys[j] == k)
                        r = reasons->items[j];
                const char *code = NULL;
                dp_ddb_cancel_reason rr = dp_ddb_cancel_reason_of(r, &code, NULL);
                /* neither a fine action cancelled with the others nor a
                 * throttled one (the table was busy) is charged a retry */
                int charged = rr != DP_DDB_CANCEL_NONE && rr != DP_DDB_CANCEL_THROTTLED;
                if (!nc || (charged && !retry_allowed(s, k))) {
                    char msg[800];
                    snprintf(msg, sizeof(msg), "transaction cancelled (%s); gave up after %d retries",
                             code ? code : "?", k->attempts);
                    key_failed(e, k, msg);
                    continue;
                }
                if (charged)
                    k->attempts++;
                nc->keys[nc->n++] = k;
            }
            if (nc && nc->n) {
                SK_ADD(s, retries, 1);
                delay_chunk(e, nc, 1);
            } else {
                chunk_free(nc);
            }
        }
        free(again);
        dp_ddb_write_answer_free(&ans);
        chunk_free(c);
        return;
    }
    if (is_validation(res)) {
        split_or_fail(e, c, why);
        chunk_free(c);
        return;
    }
    if (dp_ddb_write_error_of(res) == DP_DDB_WRITE_ERR_IDEMPOTENT_MISMATCH)
        new_token(c->token);
    /* retryable errors the client gave up on, and anything else: retry per
     * key up to max_retries */
    if (res->throttled) {
        SK_ADD(s, throttled_items, c->n);
        dp_rate_adapt_answer(s->wadapt, 0, c->est_units > 0 ? c->est_units : 1, now_s());
        cap_settle(e, c, 0); /* a throttled call consumes nothing */
    }
    resend_keys(e, c->kind, c->keys, c->n, why, c->kind == CK_TRANSACT ? c->token : NULL, res->throttled);
    chunk_free(c);
}

static void handle_get(sk_engine *e, sk_chunk *c, dp_ddb_result *res) {
    struct ddbpipe_sink *s = e->s;
    char why[700];
    if (res->result != DDBPIPE_OK) {
        describe_error(res, why, sizeof(why));
        if (is_fatal(res)) {
            sk_core_fatal(s, res->result, why);
        } else if (is_validation(res)) {
            split_or_fail(e, c, why);
        } else {
            resend_keys(e, CK_GET, c->keys, c->n, why, NULL, res->throttled);
        }
        chunk_free(c);
        return;
    }
    dp_ddb_write_answer ans;
    memset(&ans, 0, sizeof ans);
    int readable =
        dp_ddb_parse_batch_get(res->body.data, res->body.len, s->table, &ans, NULL, 0) == DDBPIPE_OK;
    const dp_json *items = ans.responses;
    const dp_json *unk = ans.unprocessed;
    /* never calloc(0): its NULL would read as out of memory (as in chunk_new) */
    int *used = calloc(c->n ? c->n : 1, sizeof(int));
    const dp_json **found = calloc(c->n ? c->n : 1, sizeof(*found));
    /* allocated up front: running out of memory later would merge keys
     * DynamoDB left unprocessed as if their items did not exist */
    int *pending = calloc(c->n ? c->n : 1, sizeof(int));
    sk_key **again = calloc(c->n ? c->n : 1, sizeof(*again));
    if (!readable || !used || !found || !pending || !again) {
        free(used);
        free(found);
        free(pending);
        free(again);
        dp_ddb_write_answer_free(&ans);
        resend_keys(e, CK_GET, c->keys, c->n, "unreadable BatchGetItem response", NULL, 0);
        chunk_free(c);
        return;
    }
    for (size_t i = 0; items && i < items->count; i++) {
        int idx = find_key_in_chunk(s, c, items->items[i], used);
        if (idx >= 0) {
            used[idx] = 1;
            found[idx] = items->items[i];
        }
    }
    for (size_t i = 0; unk && i < unk->count; i++) {
        int idx = find_key_in_chunk(s, c, unk->items[i], pending);
        if (idx >= 0)
            pending[idx] = 1;
    }
    size_t nagain = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (pending[i]) {
            again[nagain++] = c->keys[i];
            continue;
        }
        if (found[i])
            SK_ADD(s, items_loaded, 1);
        merge_compute(e, c->keys[i], found[i]);
    }
    if (nagain) {
        SK_ADD(s, throttled_items, nagain);
        resend_keys(e, CK_GET, again, nagain, "UnprocessedKeys", NULL, 1);
    }
    free(again);
    free(pending);
    free(used);
    free(found);
    dp_ddb_write_answer_free(&ans);
    chunk_free(c);
}

static void on_done(void *opaque, dp_ddb_result *res) {
    sk_chunk *c = opaque;
    sk_engine *e = c->e;
    for (size_t i = 0; i < c->n; i++)
        c->keys[i]->in_call = 0;
    dp_list_remove(&e->live, &c->live_link);
    e->calls--;
    SK_SUB(e->s, in_flight_requests, 1);
    e->progress++;
    if (c->kind == CK_GET)
        e->get_calls--;
    if (res->attempts > 1)
        SK_ADD(e->s, retries, (uint64_t)(res->attempts - 1));
    sk_core_latency(e->s, res->latency_ns);
    if (sk_core_stopped_hard(e->s) && res->result == DDBPIPE_OK && c->kind != CK_GET) {
        /* still acknowledge what was written */
    }
    if (c->kind == CK_GET)
        handle_get(e, c, res);
    else
        handle_write(e, c, res);
}

int sk_engine_run(sk_engine *e, int timeout_ms) {
    uint64_t before = e->progress;
    if (dp_ddb_pending(e->ddb) > 0) {
        dp_ddb_run(e->ddb, timeout_ms);
    } else if (timeout_ms > 0) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return e->progress != before;
}
