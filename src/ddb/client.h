/* DynamoDB / DynamoDB Streams JSON-protocol client: signs, sends, checks
 * x-amz-crc32, classifies errors and retries retryable ones with AWS
 * "standard" mode (full jitter, 20 s cap, retry-token bucket) plus the
 * "adaptive" client-side rate limiter. Asynchronous and single-threaded. */
#ifndef DP_DDB_CLIENT_H
#define DP_DDB_CLIENT_H

#include <stdint.h>

#include "aws/credentials.h"
#include "common/buf.h"
#include "ddbpipe/ddbpipe.h"
#include "http/http.h"

typedef enum dp_ddb_api { DP_DDB_API_DYNAMODB = 0, DP_DDB_API_STREAMS = 1 } dp_ddb_api;

typedef struct dp_ddb dp_ddb;

typedef struct dp_ddb_options {
    const char *region;               /* required */
    const char *endpoint_url;         /* NULL: https://dynamodb.REGION.amazonaws.com */
    const char *streams_endpoint_url; /* NULL: derived (same as endpoint_url when overridden) */
    dp_cred_chain *creds;             /* borrowed */
    dp_http_options http;
    int max_attempts;        /* per call, default 10 (1 = no retries); -1 = forever (an empty
                                retry-token bucket then spaces retries at backoff_max_ms
                                instead of stopping them) */
    int64_t backoff_base_ms; /* default 25 */
    int64_t backoff_max_ms;  /* default 20000 */
    int retry_tokens;        /* bucket size, default 500 */
    int adaptive;            /* 1 (default): client-side rate limiter on throttles; 0: standard mode */
} dp_ddb_options;

/* Outcome of one API call (after retries). */
typedef struct dp_ddb_result {
    ddbpipe_result_t result; /* OK, SERVICE, TRANSPORT, TIMEOUT, CRC32, AUTH, NOT_FOUND, VALIDATION, ... */
    long http_status;
    char error_code[96]; /* e.g. "ValidationException" (part after '#') */
    char message[512];
    int retryable; /* classification of the last failure */
    int throttled; /* last failure was a throttle */
    int attempts;
    dp_buf body;            /* response body (success or error) */
    int64_t latency_ns;     /* of the last attempt */
    int credentials_failed; /* 1: the credentials chain failed, the request never left
                               (message: "credentials: <the chain's reason>") */
} dp_ddb_result;

/* res is valid only during the call; move the body out with dp_buf_steal
 * (or copy the struct and dp_buf_init the original) to keep it. */
typedef void (*dp_ddb_done_fn)(void *opaque, dp_ddb_result *res);

/* Fill the documented defaults (standard retry mode, TLS verified). Zero numeric
 * fields also mean "default"; adaptive and http.verify_tls are taken as
 * given, so start from this. */
void dp_ddb_options_init(dp_ddb_options *o);
/* creds NULL: requests go unsigned (test doubles only). Undelivered calls
 * are dropped by destroy without callbacks. */
dp_ddb *dp_ddb_new(const dp_ddb_options *opts, char *errstr, size_t errstr_size);
void dp_ddb_destroy(dp_ddb *c);

/* Start an operation ("BatchWriteItem", ...); body is copied. done is
 * called from dp_ddb_run (never from inside this call). */
ddbpipe_result_t dp_ddb_call_async(dp_ddb *c, dp_ddb_api api, const char *operation, const char *body,
                                   size_t body_len, dp_ddb_done_fn done, void *opaque);
/* Drive I/O and retry timers for at most timeout_ms; returns earlier once
 * some call completed, and at once when nothing is pending. Returns calls
 * pending. */
int dp_ddb_run(dp_ddb *c, int timeout_ms);
int dp_ddb_pending(const dp_ddb *c);
/* Blocking call; res must be freed with dp_ddb_result_free. */
ddbpipe_result_t dp_ddb_call(dp_ddb *c, dp_ddb_api api, const char *operation, const char *body,
                             size_t body_len, dp_ddb_result *res);
void dp_ddb_result_init(dp_ddb_result *r);
void dp_ddb_result_free(dp_ddb_result *r);

/* Error model, separate from I/O so it can be unit-tested. */
/* Classify a service error code / HTTP status into a result and retryable flag. */
ddbpipe_result_t dp_ddb_classify(long http_status, const char *error_code, int *retryable, int *throttled);
/* Parse {"__type": "...#Code", "message"|"Message": ...}. */
void dp_ddb_parse_error(const char *body, size_t len, char *code, size_t code_size, char *msg,
                        size_t msg_size);

/* Standard retry policy pieces (exposed for tests). */
typedef struct dp_retry_bucket {
    int tokens, capacity;
} dp_retry_bucket;
void dp_retry_bucket_init(dp_retry_bucket *b, int capacity);
int dp_retry_bucket_acquire(dp_retry_bucket *b, int is_timeout); /* 1 granted (5, or 10 for timeouts) */
void dp_retry_bucket_release(dp_retry_bucket *b, int amount);
int dp_retry_cost(int is_timeout); /* tokens one retry takes: 5, or 10 after a timeout */
/* Full jitter: rand * min(base * 2^attempt, max); attempt 0 = first retry. */
int64_t dp_retry_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, double unit_rand);

/* Adaptive mode client-side rate limiter (CUBIC). */
typedef struct dp_rate_limiter {
    int enabled;
    double fill_rate, max_capacity, current_capacity, last_timestamp_s;
    double measured_tx_rate, last_tx_rate_bucket, request_count;
    double last_max_rate, last_throttle_time_s, time_window;
    int enable_limit;
} dp_rate_limiter;
void dp_rate_limiter_init(dp_rate_limiter *rl);
/* How long to wait (ms) before sending one request at now_s (0 = go). */
int64_t dp_rate_limiter_acquire_delay_ms(dp_rate_limiter *rl, double now_s);
void dp_rate_limiter_update(dp_rate_limiter *rl, int throttled, double now_s);

/* Endpoint helpers. */
const char *dp_ddb_endpoint(const dp_ddb *c, dp_ddb_api api);
const char *dp_ddb_region(const dp_ddb *c);

/* Introspection (metrics, tests). */
dp_http *dp_ddb_http(dp_ddb *c);
int dp_ddb_retry_tokens(const dp_ddb *c);
const dp_rate_limiter *dp_ddb_rate_limiter(const dp_ddb *c);
/* Turn the per-request rate limiter of retry_mode adaptive on or off (the
 * sink meters its writes in capacity units itself). Not thread-safe: call
 * before the first request. */
void dp_ddb_set_adaptive(dp_ddb *c, int on);

#endif
