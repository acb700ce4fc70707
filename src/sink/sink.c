/* ddbpipe sink: the public API over the write engine(s).
 *
 * The caller's thread parses every line (bad records are dead-lettered
 * here), gives each record a sequence number in the checkpoint ring and
 * hands it to the engine that owns its key: with threads=1 the engine runs
 * inside produce/poll/flush; with threads>1 each worker thread runs its own
 * engine and DynamoDB client over a disjoint key hash range. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "common/log.h"
#include "common/util.h"
#include "config/conf.h"
#include "ddb/capacity_fraction.h"
#include "ddb/ops.h"
#include "sink/sink_internal.h"

/* ------------------------------------------------------------ records */

/* Record blocks are kept per thread for reuse, by 512-byte size class up to
 * 4 KB. A typical record (line + typed item + key, about 1 KB) is above
 * glibc's per-thread cache sizes, and its malloc/free pair showed in
 * profiles at some 10% of the sink's CPU. The cache holds at most
 * REC_CACHE_MAX_BYTES a thread; a thread's blocks are freed when it exits
 * (rec_cache_release for the thread that destroys the sink). */
#define REC_CLASS_BYTES 512
#define REC_CLASSES 8
#define REC_CACHE_MAX_BYTES ((size_t)4 << 20)
typedef struct rec_block {
    struct rec_block *next;
} rec_block;
typedef struct rec_cache {
    rec_block *free[REC_CLASSES + 1];
    size_t bytes;
} rec_cache;
static void rec_cache_destroy(void *p) { /* runs when a thread exits */
    rec_cache *c = p;
    for (int i = 0; i <= REC_CLASSES; i++)
        while (c->free[i]) {
            rec_block *b = c->free[i];
            c->free[i] = b->next;
            free(b);
        }
    free(c);
}

static dp_thread_local rec_cache_slot = DP_THREAD_LOCAL_INIT(rec_cache_destroy);

static rec_cache *rec_cache_get(int create) {
    return dp_thread_local_get(&rec_cache_slot, sizeof(rec_cache), create);
}

/* With threads > 1 a record is made by the worker that parsed it and freed
 * by the one that wrote it, so one thread's cache runs dry while another's
 * overflows: a malloc in one arena and a free into another per record, and
 * arenas that grow a page at a time (an mprotect each). Blocks move between
 * threads' caches through this depot instead, REC_DEPOT_BATCH at a time;
 * it holds at most REC_DEPOT_MAX_BYTES, the rest is freed. */
#define REC_DEPOT_BATCH 64
#define REC_DEPOT_MAX_BYTES ((size_t)8 << 20)
static struct {
    pthread_mutex_t mu;
    rec_block *free[REC_CLASSES + 1];
    size_t count[REC_CLASSES + 1];
    size_t bytes;
} rec_depot = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Move up to a batch of class cls from the depot into c. */
static void depot_take(rec_cache *c, size_t cls) {
    if (!__atomic_load_n(&rec_depot.count[cls], __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&rec_depot.mu);
    for (int i = 0; i < REC_DEPOT_BATCH && rec_depot.free[cls]; i++) {
        rec_block *b = rec_depot.free[cls];
        rec_depot.free[cls] = b->next;
        __atomic_store_n(&rec_depot.count[cls], rec_depot.count[cls] - 1, __ATOMIC_RELAXED);
        rec_depot.bytes -= cls * REC_CLASS_BYTES;
        b->next = c->free[cls];
        c->free[cls] = b;
        c->bytes += cls * REC_CLASS_BYTES;
    }
    pthread_mutex_unlock(&rec_depot.mu);
}

/* c is over its bound: a batch of class cls goes to the depot (freed when
 * the depot is full). */
static void depot_give(rec_cache *c, size_t cls) {
    rec_block *batch = NULL;
    int n = 0;
    while (n < REC_DEPOT_BATCH && c->free[cls]) {
        rec_block *b = c->free[cls];
        c->free[cls] = b->next;
        c->bytes -= cls * REC_CLASS_BYTES;
        b->next = batch;
        batch = b;
        n++;
    }
    pthread_mutex_lock(&rec_depot.mu);
    while (batch && rec_depot.bytes + cls * REC_CLASS_BYTES <= REC_DEPOT_MAX_BYTES) {
        rec_block *b = batch;
        batch = b->next;
        b->next = rec_depot.free[cls];
        rec_depot.free[cls] = b;
        __atomic_store_n(&rec_depot.count[cls], rec_depot.count[cls] + 1, __ATOMIC_RELAXED);
        rec_depot.bytes += cls * REC_CLASS_BYTES;
    }
    pthread_mutex_unlock(&rec_depot.mu);
    while (batch) {
        rec_block *b = batch;
        batch = b->next;
        free(b);
    }
}

/* Free what the depot holds (a sink is destroyed; other sinks' threads
 * refill it as they go). */
static void depot_drain(void) {
    pthread_mutex_lock(&rec_depot.mu);
    for (int cls = 0; cls <= REC_CLASSES; cls++) {
        while (rec_depot.free[cls]) {
            rec_block *b = rec_depot.free[cls];
            rec_depot.free[cls] = b->next;
            free(b);
        }
        __atomic_store_n(&rec_depot.count[cls], 0, __ATOMIC_RELAXED);
    }
    rec_depot.bytes = 0;
    pthread_mutex_unlock(&rec_depot.mu);
}

static sk_rec *rec_alloc(size_t size) {
    size_t cls = (size + REC_CLASS_BYTES - 1) / REC_CLASS_BYTES;
    if (cls > REC_CLASSES) {
        sk_rec *r = malloc(size);
        if (r)
            r->cls = 0;
        return r;
    }
    rec_cache *c = rec_cache_get(1);
    sk_rec *r;
    if (c && !c->free[cls])
        depot_take(c, cls);
    if (c && c->free[cls]) {
        rec_block *b = c->free[cls];
        c->free[cls] = b->next;
        c->bytes -= cls * REC_CLASS_BYTES;
        r = (sk_rec *)(void *)b;
    } else {
        r = malloc(cls * REC_CLASS_BYTES);
    }
    if (r)
        r->cls = (uint16_t)cls;
    return r;
}

void sk_rec_free(sk_rec *r) {
    if (!r)
        return;
    size_t cls = r->cls;
    rec_cache *c = cls ? rec_cache_get(1) : NULL;
    if (!c) {
        free(r);
        return;
    }
    rec_block *b = (rec_block *)(void *)r;
    b->next = c->free[cls];
    c->free[cls] = b;
    c->bytes += cls * REC_CLASS_BYTES;
    if (c->bytes > REC_CACHE_MAX_BYTES)
        depot_give(c, cls);
}

/* Copy n bytes (src may be NULL when n is 0) to *p as a NUL-terminated
 * string, advance *p past it; returns where it went. */
static char *pack(char **p, const char *src, size_t n, size_t *out_len) {
    char *dst = *p;
    if (n && src)
        memcpy(dst, src, n);
    dst[n] = '\0';
    *out_len = n;
    *p += n + 1;
    return dst;
}

static sk_rec *rec_new(const char *line, size_t len, const sk_change *ch, const char *mkey, size_t mkey_len) {
    size_t bl = ch ? ch->body.len : 0, kl = ch ? ch->key.len : 0, kjl = ch ? ch->key_json.len : 0;
    size_t ml = mkey ? mkey_len : 0;
    sk_rec *r = rec_alloc(sizeof(*r) + len + 1 + bl + 1 + kl + 1 + kjl + 1 + ml + 1);
    if (!r)
        return NULL;
    uint16_t cls = r->cls;
    memset(r, 0, sizeof(*r));
    r->cls = cls;
    char *p = (char *)(r + 1);
    r->line = pack(&p, line, len, &r->line_len);
    r->body = pack(&p, ch ? ch->body.data : NULL, bl, &r->body_len);
    r->key = pack(&p, ch ? ch->key.data : NULL, kl, &r->key_len);
    r->key_json = pack(&p, ch ? ch->key_json.data : NULL, kjl, &r->key_json_len);
    if (mkey)
        r->mkey = pack(&p, mkey, ml, &r->mkey_len);
    r->mem = sizeof(*r) + len + bl + kl + kjl + ml + 5 + 64 /* key node share */;
    return r;
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    /* mix so that low bits (buckets) and high bits (worker) differ */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* ------------------------------------------------------------ core (shared) */

static void ring_ack_locked(struct ddbpipe_sink *s, uint64_t seq) {
    sk_ring_ent *e = &s->ring[seq % s->ring_cap];
    if (seq < s->head_seq || e->acked)
        return; /* reported FAILED already (fatal stop) */
    e->acked = 1;
    while (s->head_seq < s->next_seq) {
        sk_ring_ent *h = &s->ring[s->head_seq % s->ring_cap];
        if (!h->acked)
            break;
        s->ack_offset = h->offset;
        s->ack_line = h->line_no;
        s->have_ack = 1;
        s->head_seq++;
    }
}

static int over_locked(const struct ddbpipe_sink *s, size_t num, size_t den) {
    /* ring slots are free once acknowledged and, with reports, reported */
    uint64_t base = s->reports ? s->dr_seq : s->head_seq;
    return s->unacked_records * den >= s->max_buffered_records * num ||
           s->unacked_bytes * den >= s->byte_cap * num || (s->next_seq - base) * den >= s->ring_cap * num;
}

void sk_core_ack(struct ddbpipe_sink *s, sk_rec *r) {
    pthread_mutex_lock(&s->mu);
    ring_ack_locked(s, r->seq);
    s->unacked_records--;
    s->unacked_bytes -= r->mem;
    /* wake a waiting caller when the buffer drained enough, or is empty */
    if (s->waiters > 0 && (s->unacked_records == 0 || (s->bp_active && !over_locked(s, 3, 4))))
        pthread_cond_broadcast(&s->ack_cv);
    pthread_mutex_unlock(&s->mu);
    sk_rec_free(r);
}

/* reason\0value\0key\0 in one block, for a delivery report. */
static char *dl_block(const char *reason, const char *value, size_t vl, const char *key, size_t kl) {
    size_t rl = strlen(reason);
    char *b = malloc(rl + 1 + vl + 1 + kl + 1);
    if (!b)
        return NULL;
    memcpy(b, reason, rl + 1);
    if (vl)
        memcpy(b + rl + 1, value, vl);
    b[rl + 1 + vl] = '\0';
    if (kl)
        memcpy(b + rl + 1 + vl + 1, key, kl);
    b[rl + 1 + vl + 1 + kl] = '\0';
    return b;
}

void sk_core_dead_letter(struct ddbpipe_sink *s, sk_rec *r, const char *reason) {
    SK_ADD(s, dead_lettered, 1);
    char *dl = NULL;
    if (s->reports)
        dl = dl_block(reason, r->no_value ? NULL : r->line, r->no_value ? 0 : r->line_len, r->mkey,
                      r->mkey ? r->mkey_len : 0);
    pthread_mutex_lock(&s->mu);
    if (!s->reports) /* nobody takes the reports (no dead-letter file either): say it */
        DP_LOG_WARN("sink: line %llu dead-lettered: %s", (unsigned long long)r->line_no, reason);
    if (s->reports && r->seq >= s->head_seq) {
        sk_ring_ent *e = &s->ring[r->seq % s->ring_cap];
        if (!e->acked) {
            e->status = DDBPIPE_DR_DEAD_LETTERED;
            free(e->dl);
            e->dl = dl;
            e->dl_value_len = r->no_value ? 0 : r->line_len;
            e->dl_key_len = r->mkey ? r->mkey_len : 0;
            e->no_value = r->no_value;
            dl = NULL;
        }
    }
    free(dl);
    if (s->fail_on_error && s->stopped == DDBPIPE_OK && s->fatal == DDBPIPE_OK) {
        s->stopped = DDBPIPE_ERR_VALIDATION;
        snprintf(s->fatal_msg, sizeof(s->fatal_msg), "line %llu could not be written (fail_on_error): %s",
                 (unsigned long long)r->line_no, reason);
        sk_metrics_set_ready(s, 0, "stopped: a record could not be written (fail_on_error)");
    }
    pthread_mutex_unlock(&s->mu);
    sk_core_ack(s, r);
}

void sk_core_fatal(struct ddbpipe_sink *s, ddbpipe_result_t code, const char *msg) {
    pthread_mutex_lock(&s->mu);
    if (s->fatal == DDBPIPE_OK) {
        s->fatal = code;
        snprintf(s->fatal_msg, sizeof(s->fatal_msg), "%s", msg);
        DP_LOG_ERROR("sink: fatal: %s", msg);
        char why[600];
        snprintf(why, sizeof why, "fatal: %s", msg);
        sk_metrics_set_ready(s, 0, why);
    }
    pthread_cond_broadcast(&s->ack_cv);
    pthread_mutex_unlock(&s->mu);
}

int sk_core_stopped_hard(struct ddbpipe_sink *s) {
    return __atomic_load_n(&s->fatal, __ATOMIC_RELAXED) != DDBPIPE_OK;
}

/* Backpressure with hysteresis: once full, input stays paused until the
 * buffer drained to 3/4, so reading resumes in runs, not line by line. */
static int buffer_full_locked(struct ddbpipe_sink *s) {
    if (s->bp_active) {
        if (!over_locked(s, 3, 4))
            s->bp_active = 0;
    } else if (over_locked(s, 1, 1)) {
        s->bp_active = 1;
    }
    return s->bp_active;
}

int sk_core_buffer_full(struct ddbpipe_sink *s) {
    /* racy read is fine: a hint to flush partial batches */
    return (__atomic_load_n(&s->flush_epoch, __ATOMIC_RELAXED) & 1) ||
           __atomic_load_n(&s->bp_active, __ATOMIC_RELAXED);
}

void sk_core_latency(struct ddbpipe_sink *s, int64_t ns) {
    sk_metrics_latency(s, (double)ns / 1e9);
}

/* ------------------------------------------------------------ the ring */

/* An accepted input record: its sequence number, and its slot in the
 * checkpoint ring (unacknowledged until the write or dead letter is done). */
static uint64_t ring_accept(struct ddbpipe_sink *s, uint64_t offset, uint64_t line_no, size_t mem,
                            void *opaque) {
    pthread_mutex_lock(&s->mu);
    uint64_t seq = s->next_seq++;
    sk_ring_ent *e = &s->ring[seq % s->ring_cap];
    e->offset = offset;
    e->line_no = line_no;
    e->acked = 0;
    e->opaque = opaque;
    e->status = DDBPIPE_DR_WRITTEN;
    e->no_value = 0;
    free(e->dl);
    e->dl = NULL;
    s->unacked_records++;
    s->unacked_bytes += mem;
    pthread_mutex_unlock(&s->mu);
    return seq;
}

static void serve_reports(ddbpipe_sink_t *s, int fail_rest, int tap_only);

/* The tap's periodic work (the file transport's checkpoint). */
static void tap_tick(struct ddbpipe_sink *s, int force) {
    if (s->tap.tick)
        s->tap.tick(s->tap.opaque, force);
}

/* What became of a parsed record (accept_parsed). */
typedef enum sk_accepted {
    SK_ACCEPTED_DONE = 0, /* acknowledged already: a tombstone, a dead letter, a dry run's record */
    SK_ACCEPTED_WRITE,    /* to be written: op, item_size and hash are set; the caller routes it */
    SK_ACCEPTED_STOPPED   /* the dry run's key set is full: the sink stopped, r is freed unacknowledged */
} sk_accepted;

/* The one tail of every produce path (text records with threads = 1, the
 * workers' parse with threads > 1, typed items, rejected tombstones), so
 * they count, dead-letter and dry-run alike. r: the accepted record (seq
 * set); bad, reason: the parser's verdict; ch: the change, read only when
 * bad is SK_BAD_NONE; input_bytes: the record's size for the dry run's
 * totals. producer: the caller is the producing thread, the tap's owner
 * (workers do not tick it). */
static sk_accepted accept_parsed(struct ddbpipe_sink *s, sk_rec *r, sk_bad_kind bad, const sk_change *ch,
                                 const char *reason, size_t input_bytes, int producer) {
    if (bad == SK_TOMBSTONE) {
        SK_ADD(s, tombstones, 1);
        sk_core_ack(s, r);
        if (producer)
            tap_tick(s, 0);
        return SK_ACCEPTED_DONE;
    }
    if (bad != SK_BAD_NONE) {
        SK_ADD(s, parse_errors, 1);
        if (bad == SK_BAD_OVERSIZED)
            SK_ADD(s, oversized_dropped, 1);
        sk_core_dead_letter(s, r, reason);
        if (producer)
            tap_tick(s, 0);
        return SK_ACCEPTED_DONE;
    }
    if (s->dry) {
        /* dry runs have one thread (ddbpipe_sink_new): this is the producer */
        int dr = sk_dryrun_add(s->dry, ch->key.data, ch->key.len, ch->op, ch->item_size);
        if (dr != 0) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     dr == -2 ? "dry run: more than %llu distinct keys (the per-key set would outgrow its "
                                "bound); raise --dry-run-max-keys"
                              : "dry run: out of memory for the per-key set at %llu distinct keys",
                     (unsigned long long)s->dry_max_keys);
            sk_core_fatal(s, DDBPIPE_ERR_NOMEM, msg);
            sk_rec_free(r); /* not acknowledged: the run stopped before it */
            return SK_ACCEPTED_STOPPED;
        }
        s->dry_records++;
        s->dry_input_bytes += input_bytes;
        sk_core_ack(s, r);
        return SK_ACCEPTED_DONE;
    }
    r->op = ch->op;
    r->item_size = ch->item_size;
    r->hash = fnv1a(ch->key.data, ch->key.len);
    return SK_ACCEPTED_WRITE;
}

/* ------------------------------------------------------------ workers */

static void worker_push_list(sk_worker *w, sk_rec *head, sk_rec *tail) {
    pthread_mutex_lock(&w->mu);
    if (w->in_tail)
        w->in_tail->next = head;
    else
        w->in_head = head;
    w->in_tail = tail;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Parse one line into a record; bad records are dead-lettered here. */
static sk_rec *parse_one(struct ddbpipe_sink *s, sk_change *ch, const char *line, size_t len,
                         const char *mkey, size_t mkey_len, int fmt, int no_value, uint64_t line_no,
                         uint64_t offset, uint64_t seq, size_t mem, int64_t t_ms) {
    char reason[1024];
    sk_bad_kind bad = sk_parse_record(&s->pctx, fmt, line, len, mkey, mkey_len, ch, reason, sizeof(reason));
    sk_rec *r = rec_new(line, len, bad == SK_BAD_NONE ? ch : NULL, mkey, mkey_len);
    if (!r) {
        /* cannot even keep it: the record stays unacknowledged (the
         * checkpoint stops before it) and the sink stops */
        sk_core_fatal(s, DDBPIPE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->line_no = line_no;
    r->offset = offset;
    r->t_ms = t_ms;
    r->seq = seq;
    r->mem = mem;
    r->no_value = (uint8_t)no_value;
    return accept_parsed(s, r, bad, ch, reason, len, 0) == SK_ACCEPTED_WRITE ? r : NULL;
}

static void pchunk_free(sk_pchunk *c) {
    if (!c)
        return;
    dp_buf_free(&c->text);
    free(c);
}

/* A delivered chunk goes back to the pool with its text buffer (a calloc
 * of the chunk and a text buffer grown again to 256 KB per 256 lines, freed
 * by another thread than the one that made it, kept the workers' malloc
 * arenas growing and shrinking). Caller holds pq_mu. */
static void pchunk_recycle_locked(struct ddbpipe_sink *s, sk_pchunk *c) {
    if (s->pchunk_pooled >= SK_PCHUNK_POOL) {
        pchunk_free(c);
        return;
    }
    c->next_parse = s->pchunk_pool;
    s->pchunk_pool = c;
    s->pchunk_pooled++;
}

/* A chunk to fill: from the pool, else a new one (NULL: out of memory). */
static sk_pchunk *pchunk_get(struct ddbpipe_sink *s) {
    pthread_mutex_lock(&s->pq_mu);
    sk_pchunk *c = s->pchunk_pool;
    if (c) {
        s->pchunk_pool = c->next_parse;
        s->pchunk_pooled--;
    }
    pthread_mutex_unlock(&s->pq_mu);
    if (c) {
        dp_buf text = c->text;
        dp_buf_reset(&text);
        memset(c, 0, offsetof(sk_pchunk, lines));
        c->text = text;
        c->done = 0;
        return c;
    }
    c = calloc(1, sizeof(*c));
    if (c)
        dp_buf_init(&c->text, 0);
    return c;
}

/* Parse a chunk (any worker), then deliver every chunk that is parsed and
 * next in input order to the engines' inboxes. */
static void parse_chunk(struct ddbpipe_sink *s, sk_worker *w, sk_pchunk *c) {
    for (size_t i = 0; i < c->n; i++) {
        sk_pline *l = &c->lines[i];
        const char *mkey = l->key_len == SK_NO_KEY ? NULL : c->text.data + l->off + l->len;
        c->recs[i] =
            l->pre ? l->pre
                   : parse_one(s, &w->scratch, c->text.data + l->off, l->len, mkey, mkey ? l->key_len : 0,
                               l->fmt, l->no_value, l->line_no, l->offset, l->seq, l->mem, l->t_ms);
    }
    pthread_mutex_lock(&s->pq_mu);
    c->done = 1;
    while (s->ord_head && s->ord_head->done) {
        sk_pchunk *d = s->ord_head;
        s->ord_head = d->next_ord;
        if (!s->ord_head)
            s->ord_tail = NULL;
        /* one list per worker, pushed with one lock each */
        sk_rec *heads[64] = {0}, *tails[64] = {0};
        int nw = s->nworkers > 64 ? 64 : s->nworkers;
        for (size_t i = 0; i < d->n; i++) {
            sk_rec *r = d->recs[i];
            if (!r)
                continue;
            int wi = (int)((r->hash >> 40) % (uint64_t)nw);
            r->next = NULL;
            if (tails[wi])
                tails[wi]->next = r;
            else
                heads[wi] = r;
            tails[wi] = r;
        }
        for (int wi = 0; wi < nw; wi++)
            if (heads[wi])
                worker_push_list(&s->workers[wi], heads[wi], tails[wi]);
        pchunk_recycle_locked(s, d);
    }
    pthread_mutex_unlock(&s->pq_mu);
}

static sk_pchunk *take_parse_work(struct ddbpipe_sink *s) {
    pthread_mutex_lock(&s->pq_mu);
    sk_pchunk *c = s->pq_head;
    if (c) {
        __atomic_store_n(&s->pq_head, c->next_parse, __ATOMIC_RELEASE);
        if (!c->next_parse)
            s->pq_tail = NULL;
    }
    pthread_mutex_unlock(&s->pq_mu);
    return c;
}

/* Producer side: hand the chunk being filled to the parsers. */
static void submit_chunk(struct ddbpipe_sink *s) {
    sk_pchunk *c = s->cur;
    if (!c || c->n == 0)
        return;
    s->cur = NULL;
    pthread_mutex_lock(&s->pq_mu);
    c->cseq = s->next_cseq++;
    /* pq_head is also peeked without the lock by idle workers: atomic stores */
    if (s->pq_tail)
        s->pq_tail->next_parse = c;
    else
        __atomic_store_n(&s->pq_head, c, __ATOMIC_RELEASE);
    s->pq_tail = c;
    if (s->ord_tail)
        s->ord_tail->next_ord = c;
    else
        s->ord_head = c;
    s->ord_tail = c;
    pthread_mutex_unlock(&s->pq_mu);
    sk_worker *w = &s->workers[s->rr++ % (unsigned)s->nworkers];
    pthread_mutex_lock(&w->mu);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg) {
    sk_worker *w = arg;
    struct ddbpipe_sink *s = w->s;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        sk_rec *list = w->in_head;
        w->in_head = w->in_tail = NULL;
        w->in_count = 0;
        int stop = __atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&w->mu);
        while (list) {
            sk_rec *n = list->next;
            sk_engine_add(w->e, list);
            list = n;
        }
        if (stop)
            break;
        sk_engine_dispatch(w->e, (__atomic_load_n(&s->flush_epoch, __ATOMIC_RELAXED) & 1) != 0);
        /* parsing work first, I/O without waiting meanwhile */
        sk_pchunk *pc = take_parse_work(s);
        if (pc) {
            parse_chunk(s, w, pc);
            sk_engine_run(w->e, 0);
            continue;
        }
        if (sk_engine_in_flight(w->e) > 0 && !sk_core_stopped_hard(s)) {
            int64_t t = sk_engine_next_timer_ms(w->e, dp_now_ms());
            int to = (t < 0 || t > 5) ? 5 : (int)t;
            sk_engine_run(w->e, to);
        } else {
            /* nothing in flight: sleep until records arrive or a timer is due */
            int64_t t = sk_engine_next_timer_ms(w->e, dp_now_ms());
            int to = (t < 0 || t > 50) ? 50 : (int)t;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)to * 1000000L;
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_mutex_lock(&w->mu);
            if (!w->in_head && !__atomic_load_n(&s->stopping, __ATOMIC_RELAXED) &&
                !__atomic_load_n(&s->pq_head, __ATOMIC_RELAXED))
                pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            pthread_mutex_unlock(&w->mu);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ setup */

static ddbpipe_result_t load_columns(ddbpipe_sink_t *s, const char *text, char *errstr, size_t n) {
    dp_conf_column *cc = NULL;
    size_t count = 0;
    ddbpipe_result_t r = dp_conf_columns_parse(text, &cc, &count, errstr, n);
    if (r != DDBPIPE_OK)
        return r;
    s->columns = calloc(count ? count : 1, sizeof(*s->columns));
    if (!s->columns) {
        dp_conf_columns_free(cc, count);
        return DDBPIPE_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        char err[256] = "";
        snprintf(s->columns[i].name, sizeof(s->columns[i].name), "%s", cc[i].name);
        if (dp_coltype_parse(cc[i].type, &s->columns[i].type, err, sizeof(err)) != 0) {
            dp_errf(errstr, n, "columns: column '%s' has type '%s': %s", cc[i].name, cc[i].type, err);
            dp_conf_columns_free(cc, count);
            return DDBPIPE_ERR_CONFIG;
        }
    }
    s->ncolumns = count;
    dp_conf_columns_free(cc, count);
    return DDBPIPE_OK;
}

static ddbpipe_result_t parse_json_opt(const char *t, const char *name, dp_json_doc **out, char *errstr,
                                       size_t n) {
    if (!t)
        return DDBPIPE_OK;
    dp_json_error je;
    *out = dp_json_parse(t, strlen(t), &je);
    if (!*out || dp_json_root(*out)->type != DP_JSON_OBJECT) {
        dp_errf(errstr, n, "%s must be a JSON object", name);
        return DDBPIPE_ERR_CONFIG;
    }
    return DDBPIPE_OK;
}

/* write_capacity_fraction of the table's figure: how the cap and its re-read
 * name it. */
static dp_capacity_fraction write_fraction(const ddbpipe_sink_t *s) {
    return (dp_capacity_fraction){DP_CAPACITY_WRITE, s->wcap_fraction, s->set.max_write_capacity_per_s,
                                  s->table,          "sink",           "cap"};
}

/* Key schema: the table's (DescribeTable, which also proves it exists),
 * checked against the configured one; the configured one alone when the
 * credentials may not describe tables. */
static ddbpipe_result_t resolve_table(ddbpipe_sink_t *s, ddbpipe_client_t *cl, char *errstr, size_t n) {
    ddbpipe_table_info_t info;
    dp_ddb_result res;
    ddbpipe_key_schema_t want;
    int explicit_types = 0, have_conf_key = s->set.partition_key != NULL;
    char msg[512];
    memset(&want, 0, sizeof(want));
    if (have_conf_key) {
        ddbpipe_result_t r = dp_client_conf_key_schema(&s->set, &want, &explicit_types, errstr, n);
        if (r != DDBPIPE_OK)
            return r;
    }
    memset(&info, 0, sizeof(info));
    dp_ddb_result_init(&res);
    ddbpipe_result_t r = dp_ddb_describe_table(dp_client_ddb(cl), s->table, &info, &res);
    if (r != DDBPIPE_OK && s->dry && have_conf_key) {
        /* a dry run creates nothing and needs no table: the configured key
         * is enough to fold by (a cost estimate before the table exists) */
        DP_LOG_WARN("sink: dry run: DescribeTable %s failed (%s); folding by the configured key", s->table,
                    r == DDBPIPE_ERR_NOT_FOUND ? "no such table" : ddbpipe_strerror(r));
        dp_ddb_result_free(&res);
        info.key = want;
        goto have_key;
    }
    if (r == DDBPIPE_ERR_NOT_FOUND && s->set.create_table_if_missing && !s->dry) {
        int created = 0;
        dp_ddb_result_free(&res);
        r = ddbpipe_create_table(cl, s->conf, &created, errstr, n);
        if (r != DDBPIPE_OK)
            return r;
        DP_LOG_INFO("sink: created table %s", s->table);
        dp_ddb_result_init(&res);
        r = dp_ddb_describe_table(dp_client_ddb(cl), s->table, &info, &res);
    }
    if (r != DDBPIPE_OK) {
        if (r == DDBPIPE_ERR_AUTH && have_conf_key) {
            if (s->wcap_fraction > 0) {
                dp_errf(errstr, n,
                        "write_capacity_fraction needs DescribeTable, which table %s does not allow (%s): "
                        "give max_write_capacity_per_s instead",
                        s->table, res.error_code);
                dp_ddb_result_free(&res);
                return DDBPIPE_ERR_CONFIG;
            }
            DP_LOG_WARN("sink: DescribeTable %s not allowed (%s); using the configured key", s->table,
                        res.error_code);
            info.key = want;
        } else {
            r = dp_client_call_error(cl, "DescribeTable", s->table, r, &res, errstr, n);
            dp_ddb_result_free(&res);
            return r;
        }
    } else if (have_conf_key &&
               dp_client_key_schema_diff(s->table, &info.key, &want, explicit_types, msg, sizeof(msg)) != 0) {
        dp_errf(errstr, n, "%s", msg);
        dp_ddb_result_free(&res);
        return DDBPIPE_ERR_SCHEMA_MISMATCH;
    } else if (s->wcap_fraction > 0) {
        dp_capacity_fraction f = write_fraction(s);
        r = dp_capacity_fraction_apply(&f, res.body.data, res.body.len, &s->wcap, errstr, n);
        if (r != DDBPIPE_OK) {
            dp_ddb_result_free(&res);
            return r;
        }
    }
    dp_ddb_result_free(&res);
have_key:
    snprintf(s->pk, sizeof(s->pk), "%s", info.key.partition_key);
    snprintf(s->skey, sizeof(s->skey), "%s", info.key.sort_key);
    s->pk_type = info.key.partition_type;
    s->sk_type = info.key.sort_key[0] ? info.key.sort_type : 0;
    return DDBPIPE_OK;
}

static int format_ok(const char *f) {
    dp_change_format x;
    return f == NULL || dp_change_format_parse(f, &x) == 0;
}

ddbpipe_result_t sk_sink_new(const ddbpipe_conf_t *conf, const ddbpipe_sink_options_t *opts_in,
                             size_t opts_size, ddbpipe_sink_t **out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t r = DDBPIPE_ERR_NOMEM;
    ddbpipe_sink_t *s = NULL;
    ddbpipe_client_t *cl = NULL;
    /* A caller built against an older header passes a shorter struct: the
     * fields it does not know stay zero (their default). */
    ddbpipe_sink_options_t opts_copy;
    const ddbpipe_sink_options_t *opts = dp_abi_copy_in(&opts_copy, sizeof opts_copy, opts_in, opts_size);
    if (!conf || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    sk_change_init(&s->item_scratch);
    dp_buf_init(&s->item_text, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->pq_mu, NULL);
    pthread_cond_init(&s->ack_cv, NULL);
    s->conf = ddbpipe_conf_dup(conf);
    if (!s->conf)
        goto out;
    r = ddbpipe_conf_validate(s->conf, "sink", errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    dp_conf_settings(s->conf, &s->set);
    const char *table = s->set.table;
    if (!table || !*table) {
        dp_errf(errstr, errstr_size, "sink: 'table' is required");
        r = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    snprintf(s->table, sizeof(s->table), "%s", table);
    s->transactional = s->set.write_mode == DP_WRITE_MODE_TRANSACTIONAL;
    s->merge = s->set.update_mode == DP_UPDATE_MODE_MERGE;
    s->fail_on_error = s->set.fail_on_error;
    s->batch_size = (int)s->set.batch_size;
    int lim = dp_batch_size_limit(s->set.write_mode);
    if (s->batch_size < 1 || s->batch_size > lim) {
        dp_errf(errstr, errstr_size, "batch_size %d is out of range 1..%d for write_mode %s", s->batch_size,
                lim, s->transactional ? "transactional" : "batch");
        r = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    s->max_buffer_bytes = (size_t)s->set.max_buffer_size_bytes;
    s->max_buffered_records = (size_t)s->set.max_buffered_records;
    s->flush_interval_ms = s->set.flush_interval_ms;
    s->max_concurrent = (int)s->set.max_concurrent_requests;
    s->max_retries = (int)s->set.max_retries;
    r = dp_capacity_fraction_parse(DP_CAPACITY_WRITE, s->set.write_capacity_fraction, &s->wcap_fraction,
                                   errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    /* with a fraction, resolve_table creates the bucket from the table's figure */
    if (s->set.max_write_capacity_per_s > 0 && s->wcap_fraction == 0) {
        s->wcap = dp_capacity_bucket_new((double)s->set.max_write_capacity_per_s, (double)dp_now_ns() / 1e9);
        if (!s->wcap) {
            r = DDBPIPE_ERR_NOMEM;
            goto out;
        }
    }
    if (s->set.retry_mode == DP_RETRY_MODE_ADAPTIVE) {
        s->wadapt = dp_rate_adapt_new((double)dp_now_ns() / 1e9);
        if (!s->wadapt) {
            r = DDBPIPE_ERR_NOMEM;
            goto out;
        }
    }
    s->threads = (int)s->set.threads;
    if (s->threads < 1)
        s->threads = 1;
    if (opts && opts->dry_run) {
        s->dry = sk_dryrun_new(opts->dry_run_max_keys, s->transactional);
        if (!s->dry) {
            r = DDBPIPE_ERR_NOMEM;
            goto out;
        }
        s->dry_max_keys = opts->dry_run_max_keys ? opts->dry_run_max_keys : SK_DRYRUN_DEFAULT_MAX_KEYS;
        s->threads = 1; /* parsing is the whole job: one thread folds in input order */
    }
    if (s->max_concurrent < 1)
        s->max_concurrent = 1;
    if (s->max_buffered_records < 1)
        s->max_buffered_records = 1;
    /* memory bound for whatever is buffered or in flight: enough for the
     * record cap at typical sizes, never below one maximum item */
    s->byte_cap = s->max_buffer_bytes * 4;
    if (s->byte_cap < (size_t)16 * 1024 * 1024)
        s->byte_cap = (size_t)16 * 1024 * 1024;
    s->ring_cap = s->max_buffered_records * 4;
    if (s->ring_cap < 4096)
        s->ring_cap = 4096;
    s->ring = calloc(s->ring_cap, sizeof(*s->ring));
    if (!s->ring) {
        r = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    const char *cp = s->set.condition_expression;
    const char *dcp = s->set.delete_condition_expression;
    if ((cp || dcp) && !s->transactional)
        DP_LOG_WARN("sink: condition expressions apply in write_mode transactional only; ignored");
    if (s->transactional) {
        s->cond_put = cp ? strdup(cp) : NULL;
        s->cond_delete = dcp ? strdup(dcp) : NULL;
    }
    r = parse_json_opt(s->set.expression_attribute_names,
                       dp_settings_name(&s->set, &s->set.expression_attribute_names), &s->expr_names, errstr,
                       errstr_size);
    if (r == DDBPIPE_OK)
        r = parse_json_opt(s->set.expression_attribute_values,
                           dp_settings_name(&s->set, &s->set.expression_attribute_values), &s->expr_values,
                           errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    const char *dk = s->set.dedup_keys;
    if (dk && *dk)
        DP_LOG_INFO(
            "sink: dedup_keys (%s): changes always fold by the table key, across batches and requests "
            "in flight",
            dk);
    const char *cols = s->set.columns;
    if (cols && *cols) {
        r = load_columns(s, cols, errstr, errstr_size);
        if (r != DDBPIPE_OK)
            goto out;
    }
    const char *fmt = opts && opts->format ? opts->format : "auto";
    if (!format_ok(fmt)) {
        dp_errf(errstr, errstr_size,
                "unknown input format '%s' (auto, json, feldera, debezium, dynamodb-stream)", fmt);
        r = DDBPIPE_ERR_CONFIG;
        goto out;
    }

    /* The metrics server (with /healthz and /readyz) comes up before the
     * first AWS call, so a process manager sees the process alive while
     * credentials resolve and DescribeTable waits on a slow endpoint. */
    const char *maddr = s->set.metrics_address;
    if (maddr && *maddr && !(opts && opts->no_metrics_server)) {
        if (sk_metrics_start(s, maddr, errstr, errstr_size) != 0) {
            r = DDBPIPE_ERR_CONFIG;
            goto out;
        }
    } else if (sk_metrics_start(s, NULL, NULL, 0) != 0) { /* registry only */
        r = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    {
        char why[400];
        snprintf(why, sizeof why, "starting: resolving credentials and reaching table %s", s->table);
        sk_metrics_set_ready(s, 0, why);
    }

    /* client (the threads=1 engine keeps it) and the table's key */
    r = dp_client_new(s->conf, 3, s->max_concurrent, &cl, errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    if (s->wadapt) /* the sink's own rate (capacity units, sees UnprocessedItems) replaces the per-request one
                    */
        dp_ddb_set_adaptive(dp_client_ddb(cl), 0);
    r = resolve_table(s, cl, errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    /* DescribeTable answered (or refused access with a configured key):
     * credentials resolved and the table reached. */
    sk_metrics_set_ready(s, 1, NULL);

    memset(&s->pctx, 0, sizeof(s->pctx));
    dp_change_format_parse(fmt, &s->pctx.opts.format);
    s->pctx.opts.columns = s->columns;
    s->pctx.opts.ncolumns = s->ncolumns;
    s->pctx.opts.ignore_nulls = s->set.ignore_nulls;
    s->pctx.opts.partition_key = s->pk;
    s->pctx.opts.partition_type = s->pk_type;
    s->pctx.opts.sort_key = s->skey[0] ? s->skey : NULL;
    s->pctx.opts.sort_type = s->sk_type;
    s->pctx.opts.document_attribute = s->set.document_attribute;
    s->pctx.merge = s->merge;

    if (opts) {
        s->dr_cb = opts->dr_cb;
        s->dr_opaque = opts->dr_opaque;
        s->reports = s->dr_cb != NULL;
        s->tombstones_ignore = opts->tombstones_ignore;
        s->offsets_per_partition = opts->offsets_per_partition;
    }

    /* engines */
    s->workers = calloc((size_t)s->threads, sizeof(*s->workers));
    if (!s->workers) {
        r = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < s->threads; i++) {
        sk_worker *w = &s->workers[i];
        w->s = s;
        sk_change_init(&w->scratch);
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        ddbpipe_client_t *wc = cl;
        if (i > 0) {
            r = dp_client_new(s->conf, 3, s->max_concurrent, &wc, errstr, errstr_size);
            if (r != DDBPIPE_OK)
                goto out;
            if (s->wadapt)
                dp_ddb_set_adaptive(dp_client_ddb(wc), 0);
        }
        w->e = sk_engine_new(s, wc);
        if (!w->e) {
            ddbpipe_client_destroy(wc);
            if (i == 0)
                cl = NULL;
            r = DDBPIPE_ERR_NOMEM;
            goto out;
        }
        if (i == 0)
            cl = NULL; /* owned by the engine now */
    }
    if (s->threads > 1) {
        s->nworkers = s->threads;
        for (int i = 0; i < s->threads; i++) {
            if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
                dp_errf(errstr, errstr_size, "cannot start worker thread");
                r = DDBPIPE_ERR_NOMEM;
                goto out;
            }
            s->workers[i].started = 1;
        }
    }
    if (s->wcap_fraction > 0 && s->wcap && !s->dry) {
        r = dp_client_new(s->conf, 3, 1, &s->wcap_client, errstr, errstr_size);
        if (r != DDBPIPE_OK)
            goto out;
        dp_capacity_reread_options o = {write_fraction(s), dp_client_ddb(s->wcap_client), s->wcap, 0};
        if (!(s->wcap_reread = dp_capacity_reread_new(&o, errstr, errstr_size))) {
            r = DDBPIPE_ERR_NOMEM;
            goto out;
        }
    }
    DP_LOG_INFO("sink: table %s key %s%s%s, %s mode, %s, batch %d, %d in flight, %d thread(s)", s->table,
                s->pk, s->skey[0] ? "," : "", s->skey, s->transactional ? "transactional" : "batch",
                s->merge ? "merge" : "put", s->batch_size, s->max_concurrent, s->threads);
    *out = s;
    s = NULL;
    r = DDBPIPE_OK;
out:
    ddbpipe_client_destroy(cl);
    if (r != DDBPIPE_OK && errstr && errstr_size && !errstr[0])
        dp_errf(errstr, errstr_size, "sink: %s", ddbpipe_strerror(r));
    ddbpipe_sink_destroy(s);
    return r;
}

void ddbpipe_sink_destroy(ddbpipe_sink_t *s) {
    if (!s)
        return;
    dp_capacity_reread_destroy(s->wcap_reread); /* before its client */
    ddbpipe_client_destroy(s->wcap_client);
    if (s->workers) {
        __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < s->threads; i++) {
            sk_worker *w = &s->workers[i];
            if (w->started) {
                pthread_mutex_lock(&w->mu);
                pthread_cond_signal(&w->cv);
                pthread_mutex_unlock(&w->mu);
                pthread_join(w->thread, NULL);
            }
        }
    }
    if (s->tap.report) {
        /* the tap's last reports (records acknowledged since the last poll),
         * then its final write */
        serve_reports(s, 0, 1);
        s->tap.close(s->tap.opaque);
    }
    for (size_t i = 0; s->cur && i < s->cur->n; i++)
        sk_rec_free(s->cur->lines[i].pre);
    pchunk_free(s->cur);
    while (s->ord_head) {
        sk_pchunk *c = s->ord_head;
        s->ord_head = c->next_ord;
        for (size_t i = 0; i < c->n; i++)
            sk_rec_free(c->done ? c->recs[i] : c->lines[i].pre);
        pchunk_free(c);
    }
    while (s->pchunk_pool) {
        sk_pchunk *c = s->pchunk_pool;
        s->pchunk_pool = c->next_parse;
        pchunk_free(c);
    }
    if (s->workers) {
        for (int i = 0; i < s->threads; i++) {
            sk_worker *w = &s->workers[i];
            sk_rec *r = w->in_head;
            while (r) {
                sk_rec *n = r->next;
                sk_rec_free(r);
                r = n;
            }
            sk_engine_destroy(w->e);
            sk_change_free(&w->scratch);
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
        }
        free(s->workers);
    }
    sk_change_free(&s->item_scratch);
    dp_buf_free(&s->item_text);
    sk_metrics_stop(s);
    free(s->cond_put);
    dp_capacity_bucket_destroy(s->wcap);
    free(s->cond_delete);
    dp_json_doc_free(s->expr_names);
    dp_json_doc_free(s->expr_values);
    free(s->columns);
    for (size_t i = 0; s->ring && i < s->ring_cap; i++)
        free(s->ring[i].dl);
    free(s->ring);
    sk_dryrun_destroy(s->dry);
    dp_rate_adapt_destroy(s->wadapt);
    ddbpipe_conf_destroy(s->conf);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->pq_mu);
    pthread_cond_destroy(&s->ack_cv);
    free(s);
    dp_thread_local_release(
        &rec_cache_slot); /* this thread's cached record blocks (workers freed theirs on exit) */
    depot_drain();
}

/* ------------------------------------------------------------ produce / poll / flush */

static ddbpipe_result_t stop_code(const ddbpipe_sink_t *s) {
    ddbpipe_result_t f = __atomic_load_n(&s->fatal, __ATOMIC_RELAXED);
    if (f != DDBPIPE_OK)
        return f;
    return __atomic_load_n(&s->stopped, __ATOMIC_RELAXED);
}

static void drive(ddbpipe_sink_t *s, int force, int timeout_ms) {
    if (s->nworkers > 0)
        return;
    sk_engine *e = s->workers[0].e;
    sk_engine_dispatch(e, force);
    int64_t t = sk_engine_next_timer_ms(e, dp_now_ms());
    int to = timeout_ms;
    if (t >= 0 && t < to)
        to = (int)t;
    if (sk_engine_run(e, to))
        sk_engine_dispatch(e, force);
}

/* The producer's count of records: the tap and the metrics have their
 * periodic work every 256, a threads = 1 engine polls its sockets every 64
 * (every call polls every connection; 64 records are well under a
 * millisecond of input). */
static __thread unsigned produce_tick;

static void produce_ticked(ddbpipe_sink_t *s) {
    if ((++produce_tick & 255) == 0) {
        tap_tick(s, 0);
        sk_metrics_sync(s, 0);
    }
}

/* A parsed record to write (SK_ACCEPTED_WRITE), from the producer's thread
 * to its engine: worker 0's engine with threads = 1, else the chunk being
 * filled, so it reaches its engine in input order. */
static ddbpipe_result_t hand_to_engine(ddbpipe_sink_t *s, sk_rec *r) {
    if (s->nworkers > 0) {
        if (!s->cur) {
            s->cur = pchunk_get(s);
            if (!s->cur) {
                sk_core_fatal(s, DDBPIPE_ERR_NOMEM, "out of memory");
                sk_rec_free(r); /* not acknowledged: the run stopped before it */
                return DDBPIPE_ERR_NOMEM;
            }
            s->cur->t_first_ms = r->t_ms;
        }
        sk_pline *l = &s->cur->lines[s->cur->n++];
        memset(l, 0, sizeof *l);
        l->key_len = SK_NO_KEY;
        l->pre = r;
        if (s->cur->n == SK_PCHUNK_LINES)
            submit_chunk(s);
    } else {
        sk_engine *e = s->workers[0].e;
        sk_engine_add(e, r);
        sk_engine_dispatch_at(e, 0, r->t_ms);
        if ((produce_tick & 63) == 0)
            sk_engine_run(e, 0);
    }
    produce_ticked(s);
    return DDBPIPE_OK;
}

/* accept_parsed in the producer's thread, and the record to its engine. */
static ddbpipe_result_t produce_parsed(ddbpipe_sink_t *s, sk_rec *r, sk_bad_kind bad, const sk_change *ch,
                                       const char *reason, size_t input_bytes) {
    switch (accept_parsed(s, r, bad, ch, reason, input_bytes, 1)) {
    case SK_ACCEPTED_WRITE:
        return hand_to_engine(s, r);
    case SK_ACCEPTED_STOPPED:
        return DDBPIPE_ERR_NOMEM;
    case SK_ACCEPTED_DONE:
        break;
    }
    return DDBPIPE_OK;
}

/* One record in: line is the change text (for a tombstone, the delete made
 * from the key), mkey the message key (NULL: none), fmt a per-record format
 * (0: the sink's). */
static ddbpipe_result_t produce_internal(ddbpipe_sink_t *s, const char *line, size_t len, const char *mkey,
                                         size_t mkey_len, int fmt, int no_value, uint64_t line_no,
                                         uint64_t input_offset, void *opaque) {
    char reason[1024];
    ddbpipe_result_t stop = stop_code(s);
    if (stop != DDBPIPE_OK)
        return stop;
    pthread_mutex_lock(&s->mu);
    int full = buffer_full_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (full) {
        /* buffers are full: push out partial batches, let the caller poll */
        if (s->nworkers == 0)
            drive(s, 1, 0);
        else
            submit_chunk(s);
        pthread_mutex_lock(&s->mu);
        full = buffer_full_locked(s);
        pthread_mutex_unlock(&s->mu);
        if (full)
            return DDBPIPE_ERR_QUEUE_FULL;
    }
    SK_ADD(s, records_in, 1);
    if (s->nworkers > 0) {
        /* threads > 1: the workers parse, in chunks, in input order */
        if (!s->cur) {
            s->cur = pchunk_get(s);
            if (!s->cur)
                return DDBPIPE_ERR_NOMEM;
            s->cur->t_first_ms = dp_now_ms();
        }
        sk_pchunk *c = s->cur;
        sk_pline *l = &c->lines[c->n];
        l->off = c->text.len;
        l->len = len;
        if (dp_buf_append(&c->text, line ? line : "", len) != DDBPIPE_OK)
            return DDBPIPE_ERR_NOMEM;
        l->key_len = SK_NO_KEY;
        l->pre = NULL;
        if (mkey) {
            if (dp_buf_append(&c->text, mkey, mkey_len) != DDBPIPE_OK)
                return DDBPIPE_ERR_NOMEM;
            l->key_len = mkey_len;
        }
        l->fmt = (uint8_t)fmt;
        l->no_value = (uint8_t)no_value;
        l->line_no = line_no;
        l->offset = input_offset;
        l->t_ms = dp_now_ms();
        l->mem = sizeof(sk_rec) + 3 * len + (mkey ? mkey_len : 0) + 192; /* estimate: line + item + key */
        l->seq = ring_accept(s, input_offset, line_no, l->mem, opaque);
        c->n++;
        if (c->n == SK_PCHUNK_LINES || c->text.len >= (size_t)256 * 1024)
            submit_chunk(s);
        produce_ticked(s);
        return DDBPIPE_OK;
    }
    /* threads = 1: this thread is the only user of worker 0's parse buffers */
    sk_change *ch = &s->workers[0].scratch;
    sk_bad_kind bad =
        sk_parse_record(&s->pctx, fmt, line ? line : "", len, mkey, mkey_len, ch, reason, sizeof(reason));
    sk_rec *r = rec_new(line ? line : "", len, bad == SK_BAD_NONE ? ch : NULL, mkey, mkey_len);
    if (!r)
        return DDBPIPE_ERR_NOMEM;
    r->line_no = line_no;
    r->offset = input_offset;
    r->t_ms = dp_now_ms();
    r->no_value = (uint8_t)no_value;
    r->seq = ring_accept(s, input_offset, line_no, r->mem, opaque);
    return produce_parsed(s, r, bad, ch, reason, len);
}

ddbpipe_result_t ddbpipe_sink_produce(ddbpipe_sink_t *s, const char *line, size_t len, uint64_t line_no,
                                      uint64_t input_offset) {
    if (!s || (!line && len))
        return DDBPIPE_ERR_INVALID_ARG;
    return produce_internal(s, line, len, NULL, 0, 0, 0, line_no, input_offset, NULL);
}

/* A record with nothing to write, acknowledged at once (in order). */
static ddbpipe_result_t produce_ignored(ddbpipe_sink_t *s, const ddbpipe_record_t *rec) {
    ddbpipe_result_t stop = stop_code(s);
    if (stop != DDBPIPE_OK)
        return stop;
    pthread_mutex_lock(&s->mu);
    int full = buffer_full_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (full)
        return DDBPIPE_ERR_QUEUE_FULL;
    SK_ADD(s, records_in, 1);
    uint64_t seq = ring_accept(s, rec->offset, rec->line_no, 0, rec->opaque);
    pthread_mutex_lock(&s->mu);
    s->ring[seq % s->ring_cap].status = DDBPIPE_DR_IGNORED;
    ring_ack_locked(s, seq);
    s->unacked_records--;
    pthread_mutex_unlock(&s->mu);
    return DDBPIPE_OK;
}

/* A record rejected before parsing (a tombstone whose key is unusable). */
static ddbpipe_result_t produce_rejected(ddbpipe_sink_t *s, const ddbpipe_record_t *rec, const char *reason) {
    ddbpipe_result_t stop = stop_code(s);
    if (stop != DDBPIPE_OK)
        return stop;
    sk_rec *r = rec_new("", 0, NULL, rec->key, rec->key_len);
    if (!r)
        return DDBPIPE_ERR_NOMEM;
    SK_ADD(s, records_in, 1);
    r->line_no = rec->line_no;
    r->offset = rec->offset;
    r->no_value = 1;
    r->seq = ring_accept(s, rec->offset, rec->line_no, r->mem, rec->opaque);
    return produce_parsed(s, r, SK_BAD_RECORD, NULL, reason, 0);
}

ddbpipe_result_t ddbpipe_sink_produce_record(ddbpipe_sink_t *s, const ddbpipe_record_t *rec) {
    if (!s || !rec || (!rec->value && rec->value_len) || (!rec->key && rec->key_len))
        return DDBPIPE_ERR_INVALID_ARG;
    if (rec->value)
        return produce_internal(s, rec->value, rec->value_len, rec->key, rec->key_len, 0, 0, rec->line_no,
                                rec->offset, rec->opaque);
    if (!rec->key || s->tombstones_ignore)
        return produce_ignored(s, rec);
    /* a tombstone: a delete of the key (a key that is not an object is
     * dead-lettered by the parser, which gets the reason as its text) */
    char reason[256];
    dp_buf line;
    dp_buf_init(&line, (size_t)1 << 26);
    ddbpipe_result_t r;
    if (sk_tombstone_line(rec->key, rec->key_len, &line, reason, sizeof reason) == 0)
        r = produce_internal(s, line.data, line.len, rec->key, rec->key_len, DP_CHANGE_FMT_FELDERA, 1,
                             rec->line_no, rec->offset, rec->opaque);
    else
        r = produce_rejected(s, rec, reason);
    dp_buf_free(&line);
    return r;
}

/* Admission of one record: the stop error, DDBPIPE_ERR_QUEUE_FULL, or OK. */
static ddbpipe_result_t admit(ddbpipe_sink_t *s) {
    ddbpipe_result_t stop = stop_code(s);
    if (stop != DDBPIPE_OK)
        return stop;
    pthread_mutex_lock(&s->mu);
    int full = buffer_full_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (!full)
        return DDBPIPE_OK;
    if (s->nworkers == 0)
        drive(s, 1, 0);
    else
        submit_chunk(s);
    pthread_mutex_lock(&s->mu);
    full = buffer_full_locked(s);
    pthread_mutex_unlock(&s->mu);
    return full ? DDBPIPE_ERR_QUEUE_FULL : DDBPIPE_OK;
}

ddbpipe_result_t ddbpipe_sink_produce_item(ddbpipe_sink_t *s, const ddbpipe_item_record_t *rec) {
    char reason[1024];
    if (!s || !rec || (rec->op != DDBPIPE_ITEM_PUT && rec->op != DDBPIPE_ITEM_DELETE) ||
        (!rec->attrs && rec->count))
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = admit(s);
    if (rc != DDBPIPE_OK)
        return rc;
    /* typed already: the change is made here, in the producer's thread, with
     * any number of worker threads (nothing is left to parse) */
    sk_change *ch = &s->item_scratch;
    sk_bad_kind bad = sk_parse_typed(&s->pctx, rec, ch, &s->item_text, reason, sizeof reason);
    if (bad == SK_BAD_ARG) {
        DP_LOG_DEBUG("sink: produce_item: %s", reason);
        return DDBPIPE_ERR_INVALID_ARG;
    }
    if (bad == SK_BAD_NOMEM)
        return DDBPIPE_ERR_NOMEM;
    sk_rec *r = rec_new(s->item_text.data ? s->item_text.data : "", s->item_text.len,
                        bad == SK_BAD_NONE ? ch : NULL, NULL, 0);
    if (!r)
        return DDBPIPE_ERR_NOMEM;
    SK_ADD(s, records_in, 1);
    r->line_no = rec->line_no;
    r->offset = rec->offset;
    r->t_ms = dp_now_ms();
    r->seq = ring_accept(s, rec->offset, rec->line_no, r->mem, rec->opaque);
    return produce_parsed(s, r, bad, ch, reason, s->item_text.len);
}

/* Delivery reports, in produce order, in the caller's thread. fail_rest:
 * the sink stopped hard; every record not acknowledged is reported FAILED. */
static void serve_reports(ddbpipe_sink_t *s, int fail_rest, int tap_only) {
    enum { BATCH = 128 };
    struct {
        sk_ring_ent e;
    } b[BATCH];
    if (!s->reports)
        return;
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&s->mu);
        if (fail_rest) {
            for (uint64_t q = s->head_seq; q < s->next_seq; q++) {
                sk_ring_ent *e = &s->ring[q % s->ring_cap];
                if (e->acked)
                    continue;
                e->acked = 1;
                e->status = DDBPIPE_DR_FAILED;
                free(e->dl);
                e->dl = dl_block(s->fatal_msg[0] ? s->fatal_msg : "the sink stopped", NULL, 0, NULL, 0);
                e->dl_value_len = e->dl_key_len = 0;
            }
            s->head_seq = s->next_seq;
            fail_rest = 0;
        }
        while (s->dr_seq < s->head_seq && n < BATCH) {
            sk_ring_ent *e = &s->ring[s->dr_seq % s->ring_cap];
            b[n++].e = *e;
            e->dl = NULL;
            s->dr_seq++;
        }
        pthread_mutex_unlock(&s->mu);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            sk_ring_ent *e = &b[i].e;
            ddbpipe_delivery_report_t dr = {.status = (ddbpipe_dr_status_t)e->status,
                                            .opaque = e->opaque,
                                            .offset = e->offset,
                                            .line_no = e->line_no};
            if (e->dl) {
                size_t rl = strlen(e->dl);
                dr.reason = e->dl;
                if (e->status == DDBPIPE_DR_DEAD_LETTERED) {
                    dr.value = e->no_value ? NULL : e->dl + rl + 1;
                    dr.value_len = e->no_value ? 0 : e->dl_value_len;
                    dr.key = e->dl_key_len ? e->dl + rl + 1 + e->dl_value_len + 1 : NULL;
                    dr.key_len = e->dl_key_len;
                }
            } else if (e->status == DDBPIPE_DR_DEAD_LETTERED || e->status == DDBPIPE_DR_FAILED) {
                dr.reason = "out of memory (reason lost)";
            }
            if (s->tap.report)
                s->tap.report(s->tap.opaque, &dr);
            if (s->dr_cb && !tap_only)
                s->dr_cb(s, &dr, s->dr_opaque);
            free(e->dl);
        }
    }
}

static void wait_acks(ddbpipe_sink_t *s, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)timeout_ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    if (buffer_full_locked(s) || s->unacked_records > 0) {
        s->waiters++;
        pthread_cond_timedwait(&s->ack_cv, &s->mu, &ts);
        s->waiters--;
    }
    pthread_mutex_unlock(&s->mu);
}

ddbpipe_result_t ddbpipe_sink_poll(ddbpipe_sink_t *s, int timeout_ms) {
    if (!s)
        return DDBPIPE_ERR_INVALID_ARG;
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (s->nworkers > 0) {
        /* the caller is waiting: whatever was read goes to the parsers */
        submit_chunk(s);
        pthread_mutex_lock(&s->mu);
        int full = buffer_full_locked(s);
        pthread_mutex_unlock(&s->mu);
        /* ask workers for partial batches while the buffer is full */
        uint64_t ep = __atomic_load_n(&s->flush_epoch, __ATOMIC_RELAXED);
        if (full && !(ep & 1))
            __atomic_store_n(&s->flush_epoch, ep + 1, __ATOMIC_RELAXED);
        if (!full && (ep & 1) && s->flush_epoch_owner == 0)
            __atomic_store_n(&s->flush_epoch, ep + 1, __ATOMIC_RELAXED);
        if (timeout_ms > 0)
            wait_acks(s, timeout_ms);
    } else {
        pthread_mutex_lock(&s->mu);
        int full = buffer_full_locked(s);
        pthread_mutex_unlock(&s->mu);
        drive(s, full, timeout_ms);
    }
    sk_metrics_sync(s, 0);
    serve_reports(s, 0, 0);
    tap_tick(s, 0);
    return stop_code(s);
}

ddbpipe_result_t ddbpipe_sink_flush(ddbpipe_sink_t *s, int timeout_ms) {
    if (!s)
        return DDBPIPE_ERR_INVALID_ARG;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : dp_now_ms() + timeout_ms;
    ddbpipe_result_t r = DDBPIPE_OK;
    if (s->nworkers > 0) {
        submit_chunk(s);
        s->flush_epoch_owner = 1;
        uint64_t ep = __atomic_load_n(&s->flush_epoch, __ATOMIC_RELAXED);
        if (!(ep & 1))
            __atomic_store_n(&s->flush_epoch, ep + 1, __ATOMIC_RELAXED);
    }
    for (;;) {
        serve_reports(s, 0, 0);
        if (sk_core_stopped_hard(s)) {
            r = s->fatal;
            serve_reports(s, 1, 0);
            break;
        }
        pthread_mutex_lock(&s->mu);
        size_t left = s->unacked_records;
        pthread_mutex_unlock(&s->mu);
        if (left == 0)
            break;
        int64_t now = dp_now_ms();
        if (now >= deadline) {
            r = DDBPIPE_ERR_TIMEOUT;
            break;
        }
        int step = (int)(deadline - now > 100 ? 100 : deadline - now);
        if (s->nworkers > 0)
            wait_acks(s, step);
        else
            drive(s, 1, step);
        tap_tick(s, 0);
    }
    if (s->nworkers > 0) {
        uint64_t ep = __atomic_load_n(&s->flush_epoch, __ATOMIC_RELAXED);
        if (ep & 1)
            __atomic_store_n(&s->flush_epoch, ep + 1, __ATOMIC_RELAXED);
        s->flush_epoch_owner = 0;
    }
    sk_metrics_sync(s, 1);
    serve_reports(s, 0, 0);
    tap_tick(s, 1);
    return r;
}

ddbpipe_result_t ddbpipe_sink_fatal_error(const ddbpipe_sink_t *s, char *errstr, size_t errstr_size) {
    if (!s)
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_sink_t *m = (ddbpipe_sink_t *)s;
    pthread_mutex_lock(&m->mu);
    ddbpipe_result_t r = s->fatal != DDBPIPE_OK ? s->fatal : s->stopped;
    if (r != DDBPIPE_OK)
        dp_errf(errstr, errstr_size, "%s", s->fatal_msg);
    pthread_mutex_unlock(&m->mu);
    return r;
}

void sk_sink_set_tap(ddbpipe_sink_t *s, const sk_report_tap *tap) {
    s->tap = *tap;
    s->reports = 1;
}

void *sk_sink_tap_opaque(const ddbpipe_sink_t *s,
                         void (*report_fn)(void *, const ddbpipe_delivery_report_t *)) {
    return s && s->tap.report == report_fn ? s->tap.opaque : NULL;
}

/* ------------------------------------------------------------ stats */

void ddbpipe_sink_stats_sz(const ddbpipe_sink_t *s, ddbpipe_sink_stats_t *out_user, size_t out_size) {
    ddbpipe_sink_stats_t full;
    ddbpipe_sink_stats_t *out = &full;
    if (!s || !out_user)
        return;
    ddbpipe_sink_t *m = (ddbpipe_sink_t *)s;
    memset(out, 0, sizeof(*out));
#define G(f) out->f = SK_GET(m, f)
    G(records_in);
    G(records_written);
    G(records_deleted);
    G(dead_lettered);
    G(duplicates_folded);
    G(retries);
    G(throttled_items);
    G(failed_items);
    G(oversized_dropped);
    G(write_chunks);
    G(condition_check_failures);
    G(in_flight_requests);
    G(parse_errors);
    G(items_loaded);
    G(tombstones);
#undef G
    pthread_mutex_lock(&m->mu);
    out->buffered_records = s->unacked_records;
    out->buffered_bytes = s->unacked_bytes;
    out->checkpoint_offset = s->have_ack ? s->ack_offset : 0;
    out->checkpoint_line = s->have_ack ? s->ack_line : 0;
    pthread_mutex_unlock(&m->mu);
    dp_abi_copy_out(out_user, out_size, &full, sizeof full);
}

ddbpipe_result_t ddbpipe_sink_dry_run_result_sz(const ddbpipe_sink_t *s, ddbpipe_sink_dry_run_t *out_user,
                                                size_t out_size) {
    ddbpipe_sink_dry_run_t full;
    sk_dryrun_totals t;
    if (!s || !out_user || !s->dry)
        return DDBPIPE_ERR_INVALID_ARG;
    sk_dryrun_get(s->dry, &t);
    memset(&full, 0, sizeof full);
    full.records = s->dry_records;
    full.input_bytes = s->dry_input_bytes;
    full.items = t.items;
    full.puts = t.puts;
    full.deletes = t.deletes;
    full.item_bytes = t.item_bytes;
    full.wcu = t.wcu;
    full.cost = -1;
    if (s->set.price_per_million_wcu) /* validated as a decimal by the configuration */
        full.cost = t.wcu * strtod(s->set.price_per_million_wcu, NULL) / 1e6;
    full.keyset_bytes = t.keyset_bytes;
    dp_abi_copy_out(out_user, out_size, &full, sizeof full);
    return DDBPIPE_OK;
}

char *ddbpipe_sink_stats_json(const ddbpipe_sink_t *s) {
    ddbpipe_sink_stats_t st;
    dp_buf b;
    if (!s)
        return NULL;
    ddbpipe_sink_stats(s, &st);
    dp_buf_init(&b, 0);
    dp_buf_puts(&b, "{\"table\":");
    dp_json_write_cstr(&b, s->table);
#define F(f) dp_buf_printf(&b, ",\"" #f "\":%llu", (unsigned long long)st.f)
    F(records_in);
    F(records_written);
    F(records_deleted);
    F(dead_lettered);
    F(duplicates_folded);
    F(retries);
    F(throttled_items);
    F(failed_items);
    F(oversized_dropped);
    F(write_chunks);
    F(condition_check_failures);
    /* the same count under the name the summary and metrics use */
    dp_buf_printf(&b, ",\"condition_failed\":%llu", (unsigned long long)st.condition_check_failures);
    F(in_flight_requests);
    F(buffered_records);
    F(buffered_bytes);
    F(parse_errors);
    F(items_loaded);
    if (!s->offsets_per_partition) {
        F(checkpoint_offset);
        F(checkpoint_line);
    }
    F(tombstones);
#undef F
    if (s->wadapt) {
        unsigned cuts = 0;
        double rate = dp_rate_adapt_rate(s->wadapt, &cuts);
        dp_buf_printf(&b, ",\"adaptive_rate\":{\"units_per_s\":%.0f,\"cuts\":%u}", rate, cuts);
    }
    ddbpipe_sink_dry_run_t dr;
    if (ddbpipe_sink_dry_run_result(s, &dr) == DDBPIPE_OK) {
        dp_buf_printf(&b,
                      ",\"dry_run\":{\"records\":%llu,\"input_bytes\":%llu,\"items\":%llu,\"puts\":%llu,"
                      "\"deletes\":%llu,\"item_bytes\":%llu,\"wcu\":%.0f,\"keyset_bytes\":%llu",
                      (unsigned long long)dr.records, (unsigned long long)dr.input_bytes,
                      (unsigned long long)dr.items, (unsigned long long)dr.puts,
                      (unsigned long long)dr.deletes, (unsigned long long)dr.item_bytes, dr.wcu,
                      (unsigned long long)dr.keyset_bytes);
        if (dr.cost >= 0)
            dp_buf_printf(&b, ",\"cost\":%.6f", dr.cost);
        dp_buf_putc(&b, '}');
    }
    dp_buf_printf(&b, ",\"internal_errors\":%llu",
                  (unsigned long long)__atomic_load_n(&s->ist.internal_errors, __ATOMIC_RELAXED));
    ddbpipe_result_t fe = stop_code(s);
    if (fe != DDBPIPE_OK) {
        dp_buf_puts(&b, ",\"error\":");
        dp_json_write_cstr(&b, s->fatal_msg);
    }
    dp_buf_putc(&b, '}');
    return dp_buf_steal(&b);
}
