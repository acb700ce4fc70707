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

void dp_capacity_bucket_set_rate(dp_capacity_bucket *b, double units_per_s, double now_s) {
    if (!b || !(units_per_s > 0))
        return;
    pthread_mutex_lock(&b->mu);
    refill(b, now_s); /* tokens earned so far at the old rate */
    b->rate = units_per_s;
    b->max_tokens = units_per_s * CAP_BURST_S;
    if (b->tokens > b->max_tokens)
        b->tokens = b->max_tokens;
    pthread_mutex_unlock(&b->mu);
}

double dp_capacity_bucket_rate(dp_capacity_bucket *b) {
    if (!b)
        return 0;
    pthread_mutex_lock(&b->mu);
    double r = b->rate;
    pthread_mutex_unlock(&b->mu);
    return r;
}

int dp_capacity_of_fraction(double fraction, int64_t provisioned_units, int on_demand,
                            int64_t on_demand_max_units, int64_t absolute_cap, double *units_per_s) {
    int64_t base = provisioned_units;
    if (base <= 0 && on_demand)
        base = on_demand_max_units;
    if (base <= 0)
        return -1;
    double u = fraction * (double)base;
    if (u < 1)
        u = 1; /* a bucket needs a positive rate; 1 unit/s is DynamoDB's smallest */
    if (absolute_cap > 0 && (double)absolute_cap < u)
        u = (double)absolute_cap;
    *units_per_s = u;
    return 0;
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

/* ------------------------------------------------------------ adaptive rate */

#define AD_BETA 0.9          /* after a later throttle: this share of what the table accepted */
#define AD_FIRST_BETA 0.95   /* after the first measurement: a measured grant, nearly all of it */
#define AD_MEASURE_S 0.1     /* the first throttle: no new calls this long, the calls in flight measure */
#define AD_MEASURE_MAX_S 1.0 /* a measurement ends this late even on few answers */
#define AD_PACE_S 0.2        /* then calls paced at a fixed rate this long measure again */
#define AD_FAST_PROBE_S 2.0  /* the probe after a measurement the table did not throttle */
#define AD_REGROW_S 2.0      /* back at the measured grant this long after a cut */
#define AD_PROBE_S 5.0       /* then 10% above it after this long more (cubic) */
#define AD_MAX_CUT 0.75      /* a later cut keeps at least this share of the measured grant */
#define AD_COOLDOWN_S 0.25   /* throttles this soon after a cut were sent before it: no new cut */
#define AD_MIN_SHARE 0.005   /* a cut needs this share of the units offered since the last one throttled */
#define AD_MIN_ANSWERS 4     /* a cut needs this many answers since the last one */
#define AD_MIN_THROTTLED_CALLS                                                                               \
    8 /* ... or this many throttled calls (a probe just above the grant                                      \
       * throttles few units of each call) */
#define AD_MIN_RATE 1.0

enum { AD_FREE, AD_MEASURING, AD_PACING, AD_LIMITING };

struct dp_rate_adapt {
    pthread_mutex_t mu;
    int state;
    double rate, max_tokens, tokens, last_s;
    /* accepted units since the last cut; units offered and throttled
     * since the last cut */
    double since_cut, offered, throttled;
    unsigned answers, throttled_calls; /* answers and throttled ones since the last cut */
    /* the first measurement: from the first throttle (t_measure), units
     * accepted by throttled calls since, their number and the time of the
     * last */
    double t_measure, m_units, m_all, m_last_s;
    unsigned m_throttled, m_answers;
    /* then the paced measurement: since t_pace, units accepted by all
     * answers, their number and the throttled ones among them */
    double t_pace, p_units, p_first_s;
    unsigned p_answers, p_throttled;
    /* regrowth after a cut */
    double w_max, t_cut, cooldown_until, peak, beta, probe_s;
    unsigned cuts;
};

dp_rate_adapt *dp_rate_adapt_new(double now_s) {
    dp_rate_adapt *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return NULL;
    }
    a->last_s = now_s;
    return a;
}

void dp_rate_adapt_destroy(dp_rate_adapt *a) {
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* The rate now: back to w_max (the measured grant) AD_REGROW_S after a cut
 * along a cubic curve, then a slow cubic probe above it. */
static void ad_update_rate(dp_rate_adapt *a, double now_s) {
    if (a->state != AD_LIMITING)
        return;
    double t = now_s - a->t_cut, r;
    if (t < AD_REGROW_S) {
        double x = (t - AD_REGROW_S) / AD_REGROW_S; /* -1 .. 0 */
        r = a->w_max * (1 + (1 - a->beta) * x * x * x);
    } else {
        double x = (t - AD_REGROW_S) / a->probe_s;
        r = a->w_max * (1 + 0.1 * x * x * x);
    }
    if (r > 2 * a->w_max)
        r = 2 * a->w_max;
    if (r < AD_MIN_RATE)
        r = AD_MIN_RATE;
    a->rate = r;
    a->max_tokens = r * CAP_BURST_S;
    if (a->max_tokens < 1)
        a->max_tokens = 1;
}

static void ad_refill(dp_rate_adapt *a, double now_s) {
    double dt = now_s - a->last_s;
    if (dt > 0) {
        a->tokens += dt * a->rate;
        if (a->tokens > a->max_tokens)
            a->tokens = a->max_tokens;
        a->last_s = now_s;
    }
}

/* A cut to w (a grant measured from accepted units), regrowing from
 * beta x w. */
static void ad_cut(dp_rate_adapt *a, double w, double beta, double probe_s, double now_s) {
    /* Throttles that do not follow the rate (a fault, not a grant) must
     * not drive it to nothing: never below a tenth of the highest grant
     * measured in this run. */
    if (w > a->peak)
        a->peak = w;
    if (w < a->peak / 10)
        w = a->peak / 10;
    if (w < AD_MIN_RATE)
        w = AD_MIN_RATE;
    a->state = AD_LIMITING;
    a->w_max = w;
    a->beta = beta;
    a->probe_s = probe_s;
    a->t_cut = now_s;
    a->since_cut = 0;
    a->offered = 0;
    a->throttled = 0;
    a->answers = 0;
    a->throttled_calls = 0;
    a->cooldown_until = now_s + AD_COOLDOWN_S;
    a->cuts++;
    ad_update_rate(a, now_s);
}

/* The first throttle, in two steps. The table throttled at t_measure: its
 * burst allowance is spent. First nothing new is sent for AD_MEASURE_S
 * while the calls in flight are answered. Their figures bound the grant:
 * the units of the throttled ones alone over the time they took are a
 * lower bound (the table gave them what it refilled between calls, but a
 * loaded client reads answers late and out of order), those of every
 * answer an upper bound (it includes calls served from the burst before
 * it ran out). Then calls are paced at the geometric mean of the bounds
 * for AD_PACE_S: calls sent after the burst ran out,
 * so when the table throttles some of them, the units it accepted over
 * that time are its grant; when it throttles none, they are a lower bound
 * and a fast probe finds the rest. */
static void ad_measure_tick(dp_rate_adapt *a, double now_s) {
    if (a->state == AD_MEASURING) {
        double dt = now_s - a->t_measure;
        if (dt < AD_MEASURE_S)
            return;
        /* Answers still coming in (a saturated table, calls queued) get
         * up to AD_MEASURE_MAX_S; a handful in AD_MEASURE_S means little
         * was in flight. */
        if (a->m_throttled < AD_MIN_ANSWERS && a->m_answers + a->m_throttled >= AD_MIN_ANSWERS &&
            dt < AD_MEASURE_MAX_S)
            return;
        if (a->m_throttled < AD_MIN_ANSWERS) {
            /* Too few throttled answers to measure anything (a lone
             * throttle, or input trickling in): no limit from it, or a
             * rate measured from almost nothing would pace the sink at
             * AD_MIN_RATE for good. */
            a->state = AD_FREE;
            return;
        }
        double span = a->m_last_s - a->t_measure;
        if (span < 0.01)
            span = 0.01;
        double lo = a->m_units / span, hi = a->m_all / dt;
        double p = sqrt(lo * hi); /* the bounds are loose (4x apart): their geometric mean */
        if (p < lo)
            p = lo;
        if (p < AD_MIN_RATE)
            p = AD_MIN_RATE;
        a->state = AD_PACING;
        a->rate = p;
        a->max_tokens = p * CAP_BURST_S > 1 ? p * CAP_BURST_S : 1;
        a->tokens = 0;
        a->last_s = now_s;
        a->t_pace = now_s;
        a->p_units = 0;
        a->p_answers = 0;
        a->p_throttled = 0;
    } else if (a->state == AD_PACING) {
        double dt = now_s - a->t_pace;
        if (dt < AD_PACE_S || (a->p_answers < AD_MIN_ANSWERS && dt < AD_MEASURE_MAX_S))
            return;
        double span = a->p_answers > 1 ? now_s - a->p_first_s : dt;
        if (span < 0.01)
            span = 0.01;
        double w = a->p_units / span;
        /* Few answers (the input did not fill the paced rate) measure the
         * input, not the table: keep at least the rate paced at. */
        if (a->p_answers < AD_MIN_ANSWERS && w < a->rate)
            w = a->rate;
        ad_cut(a, w, AD_FIRST_BETA, a->p_throttled ? AD_PROBE_S : AD_FAST_PROBE_S, now_s);
        a->tokens = 0;
        a->last_s = now_s;
    }
}

int64_t dp_rate_adapt_wait_ms(dp_rate_adapt *a, double now_s) {
    if (!a)
        return 0;
    pthread_mutex_lock(&a->mu);
    int64_t ms = 0;
    ad_measure_tick(a, now_s);
    if (a->state == AD_MEASURING) {
        ms = (int64_t)ceil((a->t_measure + AD_MEASURE_S - now_s) * 1000.0);
        if (ms < 1)
            ms = 1;
    } else if (a->state != AD_FREE) {
        ad_update_rate(a, now_s);
        ad_refill(a, now_s);
        if (a->tokens <= 0)
            ms = (int64_t)ceil((-a->tokens / a->rate) * 1000.0) + 1;
    }
    pthread_mutex_unlock(&a->mu);
    return ms;
}

void dp_rate_adapt_charge(dp_rate_adapt *a, double units, double now_s) {
    if (!a || units == 0)
        return;
    pthread_mutex_lock(&a->mu);
    a->offered += units;
    if (a->state == AD_LIMITING || a->state == AD_PACING) {
        ad_refill(a, now_s);
        a->tokens -= units;
        if (a->tokens > a->max_tokens)
            a->tokens = a->max_tokens; /* a refund never buys a burst */
    }
    pthread_mutex_unlock(&a->mu);
}

/* Called under the lock: units accepted by one answer (< 0: unknown) of
 * which throttled units were not (0: none). */
static void ad_answer(dp_rate_adapt *a, double accepted, double throttled, double now_s) {
    if (accepted >= 0) {
        a->since_cut += accepted;
        a->answers++;
        if (a->state == AD_MEASURING) {
            a->m_all += accepted;
            a->m_answers++;
        } else if (a->state == AD_PACING) {
            /* from the first answer on: the time before it is latency */
            if (a->p_answers++ == 0)
                a->p_first_s = now_s;
            else
                a->p_units += accepted;
        }
    }
    if (!(throttled > 0)) {
        ad_measure_tick(a, now_s);
        return;
    }
    a->throttled += throttled;
    if (a->state == AD_FREE) {
        /* The first throttle: no cut from a guess. Nothing new is sent
         * for AD_MEASURE_S while the calls in flight measure the grant. */
        a->state = AD_MEASURING;
        a->t_measure = now_s;
        a->m_units = 0;
        a->m_all = 0;
        a->m_answers = 0;
        a->m_throttled = 0;
        a->m_last_s = now_s;
        return;
    }
    if (a->state == AD_MEASURING) {
        /* Only throttled answers measure: answers that were accepted whole
         * may come from calls the table served from its burst before it
         * ran out (answered late, from a queue). A throttled call got what
         * the table had refilled since the call before. */
        a->m_units += accepted > 0 ? accepted : 0;
        a->m_throttled++;
        a->m_last_s = now_s;
        ad_measure_tick(a, now_s);
        return;
    }
    if (a->state == AD_PACING) {
        a->p_throttled++;
        ad_measure_tick(a, now_s);
        return;
    }
    /* A few units throttled while the rate regrows below the grant (calls
     * bunched up at a table with little burst left) say nothing new: only a
     * share of AD_MIN_SHARE of what was offered since the cut, or
     * AD_MIN_THROTTLED_CALLS calls, cut again, so the rate does not ratchet
     * down; and a measurement needs answers: a
     * slow endpoint may have answered nothing since the cut, which is not a
     * rate of 0. */
    a->throttled_calls++;
    int saturated =
        (a->throttled >= AD_MIN_SHARE * a->offered || a->throttled_calls >= AD_MIN_THROTTLED_CALLS) &&
        a->answers >= AD_MIN_ANSWERS;
    if (now_s >= a->cooldown_until && saturated) {
        /* Measure before cutting: the table just said it is saturated, so
         * what it accepted since the last cut is what it grants (not the
         * rate requests were sent at, which says nothing about the table). */
        double dt = now_s - a->t_cut;
        double w = dt > 0 ? a->since_cut / dt : a->w_max;
        if (w < AD_MAX_CUT * a->w_max) /* a short measurement is noisy (a stalled client sends nothing) */
            w = AD_MAX_CUT * a->w_max;
        ad_cut(a, w, AD_BETA, AD_PROBE_S, now_s);
    }
}

void dp_rate_adapt_answer(dp_rate_adapt *a, double accepted, double throttled, double now_s) {
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    ad_answer(a, accepted, throttled, now_s);
    pthread_mutex_unlock(&a->mu);
}

void dp_rate_adapt_accepted(dp_rate_adapt *a, double units, double now_s) {
    if (units >= 0)
        dp_rate_adapt_answer(a, units, 0, now_s);
}

void dp_rate_adapt_throttled(dp_rate_adapt *a, double units, double now_s) {
    dp_rate_adapt_answer(a, -1, units > 0 ? units : 1e-9, now_s);
}

double dp_rate_adapt_rate(dp_rate_adapt *a, unsigned *cuts) {
    if (!a)
        return 0;
    pthread_mutex_lock(&a->mu);
    double r = a->state == AD_LIMITING ? a->rate : 0;
    if (cuts)
        *cuts = a->cuts;
    pthread_mutex_unlock(&a->mu);
    return r;
}
