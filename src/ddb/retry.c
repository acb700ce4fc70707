/* AWS retry behaviour, as the SDKs specify it:
 * - "standard" mode: full-jitter exponential backoff and a retry-token
 *   bucket (500 tokens; a retry costs 5, 10 after a timeout; a success
 *   refunds 1, or the retry's cost when it needed retries), so an outage
 *   does not turn into a retry storm;
 * - "adaptive" mode: a client-side token bucket whose fill rate follows
 *   CUBIC (x0.7 on a throttle, cubic regrowth towards the rate before the
 *   throttle, then beyond), enabled on the first throttle that comes
 *   after a send rate was measured (the specification's cut from a rate
 *   not yet measured collapses to the floor).
 * Time is passed in so everything here is deterministic under test. */
#include <math.h>
#include <string.h>

#include "ddb/client.h"

#define DP_RETRY_COST 5
#define DP_RETRY_TIMEOUT_COST 10

void dp_retry_bucket_init(dp_retry_bucket *b, int capacity) {
    b->capacity = capacity > 0 ? capacity : 500;
    b->tokens = b->capacity;
}

int dp_retry_bucket_acquire(dp_retry_bucket *b, int is_timeout) {
    int cost = is_timeout ? DP_RETRY_TIMEOUT_COST : DP_RETRY_COST;
    if (b->tokens < cost)
        return 0;
    b->tokens -= cost;
    return 1;
}

void dp_retry_bucket_release(dp_retry_bucket *b, int amount) {
    if (amount <= 0)
        return;
    b->tokens += amount;
    if (b->tokens > b->capacity)
        b->tokens = b->capacity;
}

int dp_retry_cost(int is_timeout) {
    return is_timeout ? DP_RETRY_TIMEOUT_COST : DP_RETRY_COST;
}

int64_t dp_retry_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, double unit_rand) {
    if (base_ms <= 0)
        base_ms = 25;
    if (max_ms <= 0)
        max_ms = 20000;
    if (attempt < 0)
        attempt = 0;
    if (unit_rand < 0)
        unit_rand = 0;
    if (unit_rand >= 1)
        unit_rand = 0.999999999;
    /* Shift stops before overflow: the cap is reached long before. */
    int64_t ceiling = max_ms;
    if (attempt < 40) {
        int64_t exp = base_ms << attempt;
        if (exp / base_ms == ((int64_t)1 << attempt) && exp < max_ms)
            ceiling = exp;
    }
    return (int64_t)(unit_rand * (double)ceiling);
}

/* Adaptive mode constants from the SDK specification. */
#define RL_MIN_FILL_RATE 0.5
#define RL_MIN_CAPACITY 1.0
#define RL_SMOOTH 0.8
#define RL_BETA 0.7
#define RL_SCALE 0.4

void dp_rate_limiter_init(dp_rate_limiter *rl) {
    memset(rl, 0, sizeof(*rl));
    rl->enabled = 1;
    rl->fill_rate = 0;
    rl->max_capacity = 0;
    rl->current_capacity = 0;
    rl->last_timestamp_s = -1; /* unset */
    rl->last_tx_rate_bucket = -1;
    rl->enable_limit = 0; /* sends are free until the first throttle */
}

static void rl_refill(dp_rate_limiter *rl, double now_s) {
    if (rl->last_timestamp_s < 0) {
        rl->last_timestamp_s = now_s;
        return;
    }
    double dt = now_s - rl->last_timestamp_s;
    if (dt < 0)
        dt = 0;
    rl->current_capacity += dt * rl->fill_rate;
    if (rl->current_capacity > rl->max_capacity)
        rl->current_capacity = rl->max_capacity;
    rl->last_timestamp_s = now_s;
}

int64_t dp_rate_limiter_acquire_delay_ms(dp_rate_limiter *rl, double now_s) {
    if (!rl->enabled || !rl->enable_limit)
        return 0;
    rl_refill(rl, now_s);
    if (rl->current_capacity >= 1.0) {
        rl->current_capacity -= 1.0;
        return 0;
    }
    /* Not enough tokens: tell the caller how long until one has accrued;
     * it asks again then (no token is consumed now, so a delayed request
     * does not hold capacity hostage). */
    double need = 1.0 - rl->current_capacity;
    double rate = rl->fill_rate > 0 ? rl->fill_rate : RL_MIN_FILL_RATE;
    int64_t ms = (int64_t)ceil(need / rate * 1000.0);
    return ms > 0 ? ms : 1;
}

static void rl_update_rate(dp_rate_limiter *rl, double new_rps, double now_s) {
    rl_refill(rl, now_s);
    rl->fill_rate = new_rps > RL_MIN_FILL_RATE ? new_rps : RL_MIN_FILL_RATE;
    rl->max_capacity = new_rps > RL_MIN_CAPACITY ? new_rps : RL_MIN_CAPACITY;
    if (rl->current_capacity > rl->max_capacity)
        rl->current_capacity = rl->max_capacity;
}

static void rl_update_measured(dp_rate_limiter *rl, double now_s) {
    double bucket = floor(now_s * 2.0) / 2.0;
    rl->request_count += 1;
    if (rl->last_tx_rate_bucket < 0) {
        rl->last_tx_rate_bucket = bucket;
        return;
    }
    if (bucket > rl->last_tx_rate_bucket) {
        double current = rl->request_count / (bucket - rl->last_tx_rate_bucket);
        rl->measured_tx_rate = current * RL_SMOOTH + rl->measured_tx_rate * (1 - RL_SMOOTH);
        rl->request_count = 0;
        rl->last_tx_rate_bucket = bucket;
    }
}

static void rl_time_window(dp_rate_limiter *rl) {
    rl->time_window = cbrt(rl->last_max_rate * (1 - RL_BETA) / RL_SCALE);
}

void dp_rate_limiter_update(dp_rate_limiter *rl, int throttled, double now_s) {
    if (!rl->enabled)
        return;
    double rate;
    rl_update_measured(rl, now_s);
    if (throttled && !rl->enable_limit && rl->measured_tx_rate <= 0) {
        /* Measure before cutting: the specification cuts to 0.7 x the
         * measured send rate, which is still 0 before the first half second
         * closed, so an early throttle collapsed the rate to the floor
         * (0.5 requests/s). Without a measurement there is nothing to cut
         * from yet: the next throttle, once measured, does it. */
        return;
    }
    if (throttled) {
        double rate_to_use =
            rl->enable_limit ? (rl->measured_tx_rate < rl->fill_rate ? rl->measured_tx_rate : rl->fill_rate)
                             : rl->measured_tx_rate;
        rl->last_max_rate = rate_to_use;
        rl_time_window(rl);
        rl->last_throttle_time_s = now_s;
        rate = rate_to_use * RL_BETA;
        rl->enable_limit = 1;
    } else {
        rl_time_window(rl);
        double dt = now_s - rl->last_throttle_time_s;
        rate = RL_SCALE * pow(dt - rl->time_window, 3) + rl->last_max_rate;
    }
    /* Never more than twice what we actually sent: regrowth follows use. */
    double cap = 2.0 * rl->measured_tx_rate;
    if (rate > cap)
        rate = cap;
    if (rl->enable_limit)
        rl_update_rate(rl, rate, now_s);
}
