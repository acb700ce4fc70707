/* Capacity token bucket and DynamoDB's capacity rounding rules (see
 * capacity.h). */
#include "ddb/capacity.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/json.h"

#define CAP_BURST_S 0.1 /* the bucket holds this much of the rate at most */

struct dp_capacity_bucket {
    pthread_mutex_t mu;
    double rate, max_tokens, tokens, last_s, charged;
};

dp_capacity_bucket *dp_capacity_bucket_new(double units_per_s, double now_s) {
    if (!(units_per_s > 0))
        return NULL;
    dp_capacity_bucket *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return NULL;
    }
    b->rate = units_per_s;
    b->max_tokens = units_per_s * CAP_BURST_S;
    b->tokens = 0; /* starts empty: no burst at start-up either */
    b->last_s = now_s;
    return b;
}

void dp_capacity_bucket_destroy(dp_capacity_bucket *b) {
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static void refill(dp_capacity_bucket *b, double now_s) {
    double dt = now_s - b->last_s;
    if (dt > 0) {
        b->tokens += dt * b->rate;
        if (b->tokens > b->max_tokens)
            b->tokens = b->max_tokens;
        b->last_s = now_s;
    }
}

int64_t dp_capacity_bucket_wait_ms(dp_capacity_bucket *b, double now_s) {
    if (!b)
        return 0;
    pthread_mutex_lock(&b->mu);
    refill(b, now_s);
    int64_t ms = 0;
    if (b->tokens <= 0) {
        /* until the debt is paid off plus a sliver, so the next look passes */
        ms = (int64_t)ceil((-b->tokens / b->rate) * 1000.0) + 1;
    }
    pthread_mutex_unlock(&b->mu);
    return ms;
}

void dp_capacity_bucket_charge(dp_capacity_bucket *b, double units, double now_s) {
    if (!b || units == 0)
        return;
    pthread_mutex_lock(&b->mu);
    refill(b, now_s);
    b->tokens -= units;
    if (b->tokens > b->max_tokens)
        b->tokens = b->max_tokens; /* a refund never buys a burst */
    b->charged += units;
    pthread_mutex_unlock(&b->mu);
}

double dp_capacity_bucket_charged(dp_capacity_bucket *b) {
    if (!b)
        return 0;
    pthread_mutex_lock(&b->mu);
    double c = b->charged;
    pthread_mutex_unlock(&b->mu);
    return c;
}

double dp_wcu_estimate(size_t item_bytes, int is_delete, int transactional) {
    size_t kb = (item_bytes + 1023) / 1024; /* whole 1 KB units, rounded up */
    double u = is_delete ? 1.0 : (double)kb;
    if (u < 1)
        u = 1;
    return transactional ? 2 * u : u;
}

double dp_rcu_estimate(size_t bytes, int consistent) {
    size_t units = (bytes + 4095) / 4096; /* whole 4 KB units, rounded up */
    double u = (double)units;
    if (u < 1)
        u = 1;
    return consistent ? u : u / 2;
}

static int units_of(const dp_json *cc, double *sum) {
    const dp_json *u = dp_json_get(cc, "CapacityUnits");
    if (!u || u->type != DP_JSON_NUMBER)
        return 0;
    double v = strtod(u->str, NULL);
    if (!(v >= 0) || v > 1e12)
        return 0; /* nonsense never feeds the bucket */
    *sum += v;
    return 1;
}

int dp_consumed_capacity(const dp_json *root, double *units) {
    const dp_json *cc = dp_json_get(root, "ConsumedCapacity");
    int found = 0;
    double sum = 0;
    if (cc && cc->type == DP_JSON_ARRAY) {
        for (size_t i = 0; i < cc->count; i++)
            found |= units_of(cc->items[i], &sum);
    } else if (cc && cc->type == DP_JSON_OBJECT) {
        found = units_of(cc, &sum);
    }
    if (found)
        *units = sum;
    return found;
}
