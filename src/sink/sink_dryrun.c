/* `ddbpipe sink --dry-run`: fold the whole input to the last change per key
 * and total what writing it would cost, writing nothing.
 *
 * The per-key set keeps no key text: each entry is a 128-bit digest of the
 * canonical key (the first half of its SHA-256) with the last change's
 * operation and item size, 24 bytes in an open-addressing table that
 * doubles at 3/4 full, so 32-64 bytes per distinct key whatever the keys'
 * length (10 million keys: 320-640 MB). Two keys share a digest with
 * probability about n^2 / 2^129: never, in practice. max_keys bounds it. */
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "sink/sink_internal.h"

typedef struct sk_dry_ent {
    uint64_t h0, h1; /* both 0: empty slot (h1 never is 0 for a key) */
    uint32_t item_bytes;
    uint8_t op;
} sk_dry_ent;

struct sk_dryrun {
    sk_dry_ent *tab;
    size_t cap, n, max_keys;
    int transactional;
    sk_dryrun_totals t;
};

sk_dryrun *sk_dryrun_new(uint64_t max_keys, int transactional) {
    sk_dryrun *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->cap = 1024;
    d->tab = calloc(d->cap, sizeof(*d->tab));
    if (!d->tab) {
        free(d);
        return NULL;
    }
    d->max_keys = max_keys ? (size_t)max_keys : SK_DRYRUN_DEFAULT_MAX_KEYS;
    d->transactional = transactional;
    return d;
}

void sk_dryrun_destroy(sk_dryrun *d) {
    if (!d)
        return;
    free(d->tab);
    free(d);
}

static sk_dry_ent *slot(sk_dry_ent *tab, size_t cap, uint64_t h0, uint64_t h1) {
    size_t i = (size_t)h0 & (cap - 1);
    while (tab[i].h1 != 0 && (tab[i].h0 != h0 || tab[i].h1 != h1))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int grow(sk_dryrun *d) {
    size_t ncap = d->cap * 2;
    sk_dry_ent *nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return -1;
    for (size_t i = 0; i < d->cap; i++)
        if (d->tab[i].h1 != 0)
            *slot(nt, ncap, d->tab[i].h0, d->tab[i].h1) = d->tab[i];
    free(d->tab);
    d->tab = nt;
    d->cap = ncap;
    return 0;
}

/* One item's share of the totals; sign -1 takes it back out. */
static void account(sk_dryrun *d, const sk_dry_ent *e, int sign) {
    double wcu = dp_wcu_estimate(e->item_bytes, e->op == SK_OP_DELETE, d->transactional);
    d->t.wcu += sign * wcu;
    if (e->op == SK_OP_DELETE)
        d->t.deletes += (uint64_t)(int64_t)sign;
    else
        d->t.puts += (uint64_t)(int64_t)sign;
    if (e->op != SK_OP_DELETE)
        d->t.item_bytes += (uint64_t)((int64_t)sign * (int64_t)e->item_bytes);
}

int sk_dryrun_add(sk_dryrun *d, const char *key, size_t key_len, int op, size_t item_size) {
    unsigned char md[32];
    uint64_t h0, h1;
    dp_sha256(key, key_len, md);
    memcpy(&h0, md, 8);
    memcpy(&h1, md + 8, 8);
    if (h1 == 0)
        h1 = 1; /* 0 marks an empty slot */
    sk_dry_ent *e = slot(d->tab, d->cap, h0, h1);
    if (e->h1 != 0) {
        account(d, e, -1);
        d->t.folded++;
    } else {
        if (d->n >= d->max_keys)
            return -2;
        if ((d->n + 1) * 4 > d->cap * 3) {
            if (grow(d) != 0)
                return -1;
            e = slot(d->tab, d->cap, h0, h1);
        }
        e->h0 = h0;
        e->h1 = h1;
        d->n++;
    }
    e->op = (uint8_t)op;
    e->item_bytes = item_size > UINT32_MAX ? UINT32_MAX : (uint32_t)item_size;
    account(d, e, +1);
    return 0;
}

void sk_dryrun_get(const sk_dryrun *d, sk_dryrun_totals *out) {
    *out = d->t;
    out->items = d->n;
    out->keyset_bytes = d->cap * sizeof(sk_dry_ent);
}
