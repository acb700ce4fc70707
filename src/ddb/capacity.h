/* Capacity caps: a token bucket of DynamoDB capacity units (WCU or RCU)
 * shared by every thread of a process, plus DynamoDB's rounding rules to
 * estimate what a call will consume before its answer says so.
 *
 * The bucket starts empty and holds at most 0.1 s of tokens, so a cap never
 * allows a burst above it. A call may start while the balance is positive;
 * it is charged its estimate at once (the balance may go negative: a 25-item
 * batch can cost more than 0.1 s of a small cap) and corrected by the
 * difference when ConsumedCapacity arrives, so over time the units consumed
 * follow the cap. Thread-safety: every function on a bucket may be called
 * from any thread (one mutex). */
#ifndef DP_DDB_CAPACITY_H
#define DP_DDB_CAPACITY_H

#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

typedef struct dp_capacity_bucket dp_capacity_bucket;

/* units_per_s > 0; now_s: the caller's monotonic clock in seconds. NULL when
 * out of memory. */
dp_capacity_bucket *dp_capacity_bucket_new(double units_per_s, double now_s);
void dp_capacity_bucket_destroy(dp_capacity_bucket *b); /* accepts NULL */

/* 0 when a call may start now, else milliseconds (>= 1) until the balance is
 * positive again. A NULL bucket (no cap) always answers 0. */
int64_t dp_capacity_bucket_wait_ms(dp_capacity_bucket *b, double now_s);

/* Charge units (negative: refund). NULL bucket: no-op. */
void dp_capacity_bucket_charge(dp_capacity_bucket *b, double units, double now_s);

/* Change the rate (a re-read capacity fraction); the balance is kept, cut
 * to 0.1 s of the new rate. units_per_s <= 0 or a NULL bucket: no-op. */
void dp_capacity_bucket_set_rate(dp_capacity_bucket *b, double units_per_s, double now_s);
/* Current rate in units a second (0 for NULL). */
double dp_capacity_bucket_rate(dp_capacity_bucket *b);

/* write_capacity_fraction / read_capacity_fraction: fraction (0 < f <= 1)
 * of the table's provisioned units a second, or for an on-demand table of
 * its OnDemandThroughput maximum; the smaller of that and absolute_cap
 * (> 0: max_*_capacity_per_s) into *units_per_s (at least 1). -1 when the
 * table has no figure to take a fraction of (on demand without a maximum). */
int dp_capacity_of_fraction(double fraction, int64_t provisioned_units, int on_demand,
                            int64_t on_demand_max_units, int64_t absolute_cap, double *units_per_s);

/* Units charged in total (for stats and tests). */
double dp_capacity_bucket_charged(dp_capacity_bucket *b);

/* DynamoDB's rounding rules. A put or delete of an item of item_bytes
 * (DynamoDB's item size: attribute names plus values) costs
 * ceil(item_bytes / 1 KB) write units, at least 1; a delete is estimated at 1
 * (its cost follows the deleted item, unknown before the answer).
 * Transactions cost twice. */
double dp_wcu_estimate(size_t item_bytes, int is_delete, int transactional);
/* Reading bytes (a Scan page: the sum of the items' sizes, rounded up once
 * per call) costs ceil(bytes / 4 KB) read units, at least 1, halved for
 * eventually consistent reads. */
double dp_rcu_estimate(size_t bytes, int consistent);

/* ConsumedCapacity of a parsed response (root object): the CapacityUnits of
 * the object (Scan, TransactWriteItems) or the sum over the array
 * (BatchWriteItem answers one entry per table). Returns 1 and sets *units
 * when present and sane, else 0 (older emulators leave it out). */
int dp_consumed_capacity(const dp_json *root, double *units);

/* Adaptive write rate (retry_mode adaptive, the default): capacity units a
 * second that settle near what the table grants, shared by every thread of a
 * process (one mutex; every function may be called from any thread).
 *
 * Nothing is limited until the table first throttles (a throttling error or
 * UnprocessedItems): its burst allowance would make any earlier guess wrong.
 * Measure before cutting: the first throttle stops new calls for 0.1 s
 * while the calls in flight answer (bounds of the grant: units of the
 * throttled ones over their time from below, of all from above), then
 * paces calls for 0.3 s at max(lower, upper / 2): what the table accepted
 * of those is its grant (a lower bound when none was throttled: the probe
 * then runs 2.5x faster), and the rate starts at 0.95 x that. A later
 * throttle cuts to 0.9 x the units accepted since the previous cut. It
 * regrows along a cubic curve to the measured grant in 2 s, holds near it,
 * and probes 10% above it 5 s later. Later throttles within 0.25 s of a
 * cut (calls sent before it) do not cut again, nor do throttles of under
 * 0.5% of the units offered since the last cut, nor before 4 answers
 * measured it; one cut keeps at least 0.75 of the rate, and it never goes below a
 * tenth of the highest grant measured. The rate meters units *offered*
 * (estimates by DynamoDB's rounding rules, not refunded for
 * UnprocessedItems), so below the grant nothing is throttled.
 * The AWS SDKs' adaptive mode instead meters requests (a 25-item batch and a
 * 1-item batch weigh the same), ignores UnprocessedItems, and cuts to 0.7 x
 * the send rate, which is near 0 on a throttle in the first half second.
 * A NULL handle limits nothing. */
typedef struct dp_rate_adapt dp_rate_adapt;
dp_rate_adapt *dp_rate_adapt_new(double now_s); /* NULL: out of memory */
void dp_rate_adapt_destroy(dp_rate_adapt *a);   /* accepts NULL */
/* 0 when a call may start now, else milliseconds until it may. */
int64_t dp_rate_adapt_wait_ms(dp_rate_adapt *a, double now_s);
/* Units a call is estimated to consume, charged when it starts (negative:
 * the correction when the answer says). */
void dp_rate_adapt_charge(dp_rate_adapt *a, double units, double now_s);
/* One answer: units the table accepted (ConsumedCapacity; < 0: unknown)
 * and units it throttled (UnprocessedItems or a throttling error; 0: none),
 * taken together so that a partly throttled call measures the grant. */
void dp_rate_adapt_answer(dp_rate_adapt *a, double accepted, double throttled, double now_s);
/* Units the table accepted (ConsumedCapacity of an answer). */
void dp_rate_adapt_accepted(dp_rate_adapt *a, double units, double now_s);
/* The table throttled units of a call (wholly or in part). */
void dp_rate_adapt_throttled(dp_rate_adapt *a, double units, double now_s);
/* Current rate in units a second, 0 while not limiting; *cuts (may be NULL):
 * rate cuts so far. */
double dp_rate_adapt_rate(dp_rate_adapt *a, unsigned *cuts);

#endif
