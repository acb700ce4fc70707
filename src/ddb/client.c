/* DynamoDB / Streams JSON-protocol client.
 *
 * Each call is a small state machine driven by dp_ddb_run: (rate limiter)
 * -> sign with fresh credentials -> HTTP -> check CRC -> classify -> done,
 * or back to a timer for a delayed retry. Nothing sleeps: delayed retries
 * and rate-limited sends wait in a timer list, so one thread keeps many
 * calls in flight. */
#include "ddb/client.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "common/list.h"
#include "common/log.h"
#include "common/util.h"

typedef struct dp_call dp_call;
struct dp_call {
    dp_ddb *c;
    dp_ddb_api api;
    char target[96];
    char *body;
    size_t body_len, body_cap;
    dp_ddb_done_fn done;
    void *opaque;
    int attempts;
    int retry_cost;    /* tokens taken for the pending/last retry (0: none yet) */
    int token_retried; /* ExpiredTokenException retry used */
    int64_t due_ms;    /* when waiting in the timer list */
    dp_ddb_result res;
    dp_list_node link;     /* on timers, finished or the free cache */
    dp_list_node all_link; /* on all: every call not yet delivered, for destroy */
};

/* Finished calls kept for reuse with their body buffer: a sink sends
 * thousands of calls a second and the body is the size of a whole batch. */
#define CALL_CACHE_MAX 64
#define CALL_KEEP_BODY_BYTES ((size_t)1 << 20)

struct dp_ddb {
    dp_list free_calls;  /* CALL_CACHE_MAX at most */
    dp_sigv4_result sig; /* reused attempt after attempt (the signer resets it; one thread per client) */
    char *region;
    char *url[2];  /* POST target per api */
    char *host[2]; /* Host header value per api */
    char *path[2]; /* path to sign */
    dp_cred_chain *creds;
    dp_http *http;
    int max_attempts;
    int64_t backoff_base_ms, backoff_max_ms;
    int adaptive;
    dp_retry_bucket bucket;
    dp_rate_limiter rl;
    dp_sigv4_key_cache key_cache;
    dp_list timers;   /* unsorted: scanned each run (a few hundred at most) */
    dp_list finished; /* failed before reaching HTTP: delivered by run */
    dp_list all;      /* every call not yet delivered (all_link) */
    int pending;
    int delivered; /* finals delivered during the current run */
};

void dp_ddb_options_init(dp_ddb_options *o) {
    memset(o, 0, sizeof(*o));
    dp_http_options_init(&o->http);
    o->max_attempts = 10;
    o->backoff_base_ms = 25;
    o->backoff_max_ms = 20000;
    o->retry_tokens = 500;
    o->adaptive = 1; /* retry_mode's default (see docs/configuration.md) */
}

void dp_ddb_result_init(dp_ddb_result *r) {
    memset(r, 0, sizeof(*r));
    dp_buf_init(&r->body, 0);
}

void dp_ddb_result_free(dp_ddb_result *r) {
    if (!r)
        return;
    dp_buf_free(&r->body);
}

/* Split "scheme://host[:port][/path]" into Host value and path. */
static int split_url(const char *url, char **host, char **path) {
    const char *p = strstr(url, "://");
    if (!p)
        return -1;
    p += 3;
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0)
        return -1;
    /* Default ports are left out of Host, as curl does. */
    if (strncmp(url, "https://", 8) == 0 && hl > 4 && memcmp(p + hl - 4, ":443", 4) == 0)
        hl -= 4;
    else if (strncmp(url, "http://", 7) == 0 && hl > 3 && memcmp(p + hl - 3, ":80", 3) == 0)
        hl -= 3;
    if (memchr(p, '@', hl))
        return -1; /* no userinfo: it would end up in logs */
    *host = strndup(p, hl);
    *path = strdup(slash ? slash : "/");
    if (!*host || !*path)
        return -1;
    /* Query strings and fragments are not part of a DynamoDB endpoint. */
    char *q = strpbrk(*path, "?#");
    if (q)
        *q = 0;
    if (!(*path)[0]) {
        free(*path);
        *path = strdup("/");
        if (!*path)
            return -1;
    }
    return 0;
}

static char *url_with_path(const char *url) {
    const char *p = strstr(url, "://");
    /* curl wants a path; "http://h:1" and "http://h:1/" are the same. */
    if (p && !strchr(p + 3, '/')) {
        size_t n = strlen(url) + 2;
        char *u = malloc(n);
        if (u)
            snprintf(u, n, "%s/", url);
        return u;
    }
    return strdup(url);
}

dp_ddb *dp_ddb_new(const dp_ddb_options *opts, char *errstr, size_t errstr_size) {
    dp_ddb *c = NULL;
    char def[2][256];
    const char *urls[2];
    if (!opts || !opts->region || !opts->region[0]) {
        dp_errf(errstr, errstr_size, "region is required (config 'region', AWS_REGION or the profile)");
        return NULL;
    }
    for (const char *r = opts->region; *r; r++) {
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-')) {
            dp_errf(errstr, errstr_size, "region '%.64s' is not a region name (like us-east-1)",
                    opts->region);
            return NULL;
        }
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        goto nomem;
    dp_sigv4_result_init(&c->sig);
    c->region = strdup(opts->region);
    if (!c->region)
        goto nomem;
    const char *suffix = strncmp(opts->region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    snprintf(def[0], sizeof(def[0]), "https://dynamodb.%s.%s", opts->region, suffix);
    snprintf(def[1], sizeof(def[1]), "https://streams.dynamodb.%s.%s", opts->region, suffix);
    urls[0] = opts->endpoint_url && opts->endpoint_url[0] ? opts->endpoint_url : def[0];
    /* An overridden endpoint (DynamoDB Local, LocalStack, a VPC endpoint)
     * serves both APIs unless a Streams endpoint is given. */
    urls[1] = opts->streams_endpoint_url && opts->streams_endpoint_url[0] ? opts->streams_endpoint_url
              : opts->endpoint_url && opts->endpoint_url[0]               ? opts->endpoint_url
                                                                          : def[1];
    for (int i = 0; i < 2; i++) {
        if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "https://", 8) != 0) {
            dp_errf(errstr, errstr_size, "endpoint_url '%.200s' must start with http:// or https://",
                    urls[i]);
            goto fail;
        }
        c->url[i] = url_with_path(urls[i]);
        if (!c->url[i])
            goto nomem;
        if (split_url(urls[i], &c->host[i], &c->path[i]) != 0) {
            dp_errf(errstr, errstr_size, "endpoint_url '%.200s' has no host", urls[i]);
            goto fail;
        }
    }
    c->creds = opts->creds;
    c->http = dp_http_new(&opts->http);
    if (!c->http)
        goto nomem;
    c->max_attempts = opts->max_attempts == 0 ? 10 : opts->max_attempts;
    if (c->max_attempts < -1)
        c->max_attempts = 1;
    c->backoff_base_ms = opts->backoff_base_ms > 0 ? opts->backoff_base_ms : 25;
    c->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 20000;
    c->adaptive = opts->adaptive;
    dp_retry_bucket_init(&c->bucket, opts->retry_tokens > 0 ? opts->retry_tokens : 500);
    dp_rate_limiter_init(&c->rl);
    c->rl.enabled = c->adaptive;
    return c;
nomem:
    dp_errf(errstr, errstr_size, "out of memory");
fail:
    dp_ddb_destroy(c);
    return NULL;
}

static void call_free(dp_call *k) {
    if (!k)
        return;
    free(k->body);
    dp_ddb_result_free(&k->res);
    free(k);
}

/* A finished call back to the cache (or freed). */
static void call_recycle(dp_ddb *c, dp_call *k) {
    if (c->free_calls.n >= CALL_CACHE_MAX || k->body_cap > CALL_KEEP_BODY_BYTES) {
        call_free(k);
        return;
    }
    dp_ddb_result_free(&k->res);
    dp_list_push_front(&c->free_calls, &k->link);
}

void dp_ddb_destroy(dp_ddb *c) {
    if (!c)
        return;
    /* Undelivered calls are dropped without callbacks: the engine goes
     * first so no transfer can complete into a freed call. */
    dp_http_destroy(c->http);
    for (dp_list_node *node = dp_list_take_all(&c->all), *next; node; node = next) {
        next = node->next;
        call_free(DP_LIST_ENTRY(node, dp_call, all_link));
    }
    for (int i = 0; i < 2; i++) {
        free(c->url[i]);
        free(c->host[i]);
        free(c->path[i]);
    }
    for (dp_list_node *node = dp_list_take_all(&c->free_calls), *next; node; node = next) {
        next = node->next;
        call_free(DP_LIST_ENTRY(node, dp_call, link));
    }
    free(c->region);
    dp_sigv4_result_free(&c->sig);
    memset(&c->key_cache, 0, sizeof(c->key_cache));
    free(c);
}

const char *dp_ddb_endpoint(const dp_ddb *c, dp_ddb_api api) {
    return c ? c->url[api == DP_DDB_API_STREAMS] : NULL;
}
const char *dp_ddb_region(const dp_ddb *c) {
    return c ? c->region : NULL;
}
int dp_ddb_pending(const dp_ddb *c) {
    return c ? c->pending : 0;
}
dp_http *dp_ddb_http(dp_ddb *c) {
    return c ? c->http : NULL;
}
int dp_ddb_retry_tokens(const dp_ddb *c) {
    return c ? c->bucket.tokens : 0;
}
void dp_ddb_set_adaptive(dp_ddb *c, int on) {
    if (!c)
        return;
    c->adaptive = on;
    c->rl.enabled = on;
}
const dp_rate_limiter *dp_ddb_rate_limiter(const dp_ddb *c) {
    return c ? &c->rl : NULL;
}

static double now_s(void) {
    return (double)dp_now_ns() / 1e9;
}

static void deliver(dp_call *k) {
    dp_ddb *c = k->c;
    k->res.attempts = k->attempts;
    c->pending--;
    c->delivered++;
    dp_list_remove(&c->all, &k->all_link);
    k->done(k->opaque, &k->res);
    call_recycle(c, k);
}

static void set_error(dp_call *k, ddbpipe_result_t rc, int retryable, const char *what, const char *detail) {
    k->res.result = rc;
    k->res.retryable = retryable;
    snprintf(k->res.message, sizeof(k->res.message), "%s: %s", what, detail ? detail : "");
}

static void schedule(dp_call *k, int64_t delay_ms) {
    k->due_ms = dp_now_ms() + (delay_ms > 0 ? delay_ms : 0);
    dp_list_push_front(&k->c->timers, &k->link);
}

static void on_http_done(void *opaque, dp_http_response *resp);

/* One attempt: rate limiter, credentials, signature, submit. On failure
 * before the wire the call is parked in `finished` for run to deliver. */
static void attempt(dp_call *k) {
    dp_ddb *c = k->c;
    int api = k->api == DP_DDB_API_STREAMS;
    dp_credentials cr;
    dp_sigv4_result *sig = &c->sig;
    char date[17];
    char err[256] = "";
    ddbpipe_result_t rc;

    if (c->adaptive) {
        int64_t wait = dp_rate_limiter_acquire_delay_ms(&c->rl, now_s());
        if (wait > 0) {
            schedule(k, wait);
            return;
        }
    }
    memset(&cr, 0, sizeof(cr));
    dp_sigv4_format_date(dp_wall_s(), date);

    dp_http_header hdrs[7];
    size_t nh = 0;
    hdrs[nh++] = (dp_http_header){"Host", c->host[api]};
    hdrs[nh++] = (dp_http_header){"Content-Type", "application/x-amz-json-1.0"};
    hdrs[nh++] = (dp_http_header){"X-Amz-Target", k->target};
    hdrs[nh++] = (dp_http_header){"X-Amz-Date", date};
    if (c->creds) {
        /* Fetched per attempt: the chain caches, and a refresh lands between
         * requests, never inside one. */
        rc = dp_cred_chain_get(c->creds, dp_wall_s(), &cr, err, sizeof(err));
        if (rc != DDBPIPE_OK) {
            set_error(k, rc, 0, "credentials", err);
            k->res.credentials_failed = 1;
            goto park;
        }
        if (cr.session_token[0])
            hdrs[nh++] = (dp_http_header){"X-Amz-Security-Token", cr.session_token};
        dp_sigv4_request sreq = {"POST", c->path[api], NULL, hdrs, nh, k->body, k->body_len};
        dp_sigv4_params sp = {0};
        sp.access_key_id = cr.access_key_id;
        sp.secret_access_key = cr.secret_access_key;
        sp.session_token = cr.session_token[0] ? cr.session_token : NULL;
        sp.region = c->region;
        sp.service = "dynamodb";
        sp.amz_date = date;
        sp.normalize_path = 1;
        rc = dp_sigv4_sign(&sreq, &sp, &c->key_cache, sig);
        if (rc != DDBPIPE_OK) {
            set_error(k, rc, 0, "signing failed", ddbpipe_strerror(rc));
            goto park;
        }
        hdrs[nh++] = (dp_http_header){"Authorization", sig->authorization.data};
    }
    {
        dp_http_request hreq = {c->url[api], "POST", hdrs, nh, k->body, k->body_len, 0};
        k->attempts++;
        rc = dp_http_submit(c->http, &hreq, on_http_done, k);
        if (rc != DDBPIPE_OK) {
            set_error(k, rc, 0, "could not start request", ddbpipe_strerror(rc));
            goto park;
        }
    }
    goto out;
park:
    dp_list_push_front(&c->finished, &k->link);
out:
    dp_credentials_clear(&cr);
}

static void on_http_done(void *opaque, dp_http_response *resp) {
    dp_call *k = opaque;
    dp_ddb *c = k->c;
    dp_ddb_result *r = &k->res;
    int retryable = 0, throttled = 0;

    r->latency_ns = resp->elapsed_ns;
    r->http_status = resp->status;
    r->error_code[0] = 0;
    r->message[0] = 0;
    dp_buf_free(&r->body);
    r->body = resp->body; /* move */
    dp_buf_init(&resp->body, 0);

    if (resp->result != DDBPIPE_OK) {
        r->result = resp->result;
        retryable = resp->result == DDBPIPE_ERR_TRANSPORT || resp->result == DDBPIPE_ERR_TIMEOUT;
        snprintf(r->message, sizeof(r->message), "%s", resp->error_text);
    } else if (resp->status >= 200 && resp->status < 300 && resp->has_crc32 &&
               dp_crc32(r->body.data ? r->body.data : "", r->body.len) != resp->crc32) {
        r->result = DDBPIPE_ERR_CRC32;
        retryable = 1;
        snprintf(r->message, sizeof(r->message), "x-amz-crc32 %u does not match the body (%zu bytes)",
                 resp->crc32, r->body.len);
    } else if (resp->status >= 200 && resp->status < 300) {
        r->result = DDBPIPE_OK;
    } else {
        /* Error bodies are checked too when the checksum is present: a
         * corrupted error must not be taken for a non-retryable one. */
        if (resp->has_crc32 && dp_crc32(r->body.data ? r->body.data : "", r->body.len) != resp->crc32) {
            r->result = DDBPIPE_ERR_CRC32;
            retryable = 1;
            snprintf(r->message, sizeof(r->message), "x-amz-crc32 mismatch on an HTTP %ld error body",
                     resp->status);
        } else {
            dp_ddb_parse_error(r->body.data, r->body.len, r->error_code, sizeof(r->error_code), r->message,
                               sizeof(r->message));
            r->result = dp_ddb_classify(resp->status, r->error_code, &retryable, &throttled);
            if (!r->message[0])
                snprintf(r->message, sizeof(r->message), "HTTP %ld", resp->status);
        }
    }
    r->retryable = retryable;
    r->throttled = throttled;
    if (c->adaptive)
        dp_rate_limiter_update(&c->rl, throttled, now_s());

    if (r->result == DDBPIPE_OK) {
        /* Standard mode refund: the retry's cost when one was needed, else 1. */
        dp_retry_bucket_release(&c->bucket, k->retry_cost > 0 ? k->retry_cost : 1);
        deliver(k);
        return;
    }
    if (strcmp(r->error_code, "ExpiredTokenException") == 0 && c->creds && !k->token_retried) {
        /* The cached token went stale early (clock skew, revoked session):
         * fetch new credentials and try once more. */
        k->token_retried = 1;
        dp_cred_chain_invalidate(c->creds);
        schedule(k, 0);
        return;
    }
    if (!retryable || (c->max_attempts >= 0 && k->attempts >= c->max_attempts)) {
        deliver(k);
        return;
    }
    int is_timeout = r->result == DDBPIPE_ERR_TIMEOUT;
    int64_t delay =
        dp_retry_backoff_ms(k->attempts - 1, c->backoff_base_ms, c->backoff_max_ms, dp_rand_unit());
    if (dp_retry_bucket_acquire(&c->bucket, is_timeout)) {
        k->retry_cost = dp_retry_cost(is_timeout);
    } else if (c->max_attempts < 0) {
        /* Retry-forever was asked for: an empty bucket cannot stop it, but
         * it spaces retries at the cap so an outage is not hammered. */
        k->retry_cost = 0;
        delay = c->backoff_max_ms;
    } else {
        size_t n = strlen(r->message);
        snprintf(r->message + n, sizeof(r->message) - n, "%s(retry quota exhausted)", n ? " " : "");
        deliver(k);
        return;
    }
    if (dp_log_enabled(DDBPIPE_LOG_DEBUG))
        DP_LOG_DEBUG("%s: attempt %d failed (%s%s%s), retrying in %lld ms", k->target, k->attempts,
                     ddbpipe_strerror(r->result), r->error_code[0] ? ": " : "", r->error_code,
                     (long long)delay);
    schedule(k, delay);
}

ddbpipe_result_t dp_ddb_call_async(dp_ddb *c, dp_ddb_api api, const char *operation, const char *body,
                                   size_t body_len, dp_ddb_done_fn done, void *opaque) {
    if (!c || !operation || !done || (!body && body_len))
        return DDBPIPE_ERR_INVALID_ARG;
    dp_call *k = DP_LIST_ENTRY(dp_list_pop_front(&c->free_calls), dp_call, link);
    char *kept = NULL;
    size_t kept_cap = 0;
    if (k) {
        kept = k->body;
        kept_cap = k->body_cap;
        memset(k, 0, sizeof(*k));
    } else {
        k = calloc(1, sizeof(*k));
        if (!k)
            return DDBPIPE_ERR_NOMEM;
    }
    k->c = c;
    k->api = api;
    int n = snprintf(k->target, sizeof(k->target), "%s.%s",
                     api == DP_DDB_API_STREAMS ? "DynamoDBStreams_20120810" : "DynamoDB_20120810", operation);
    if (n < 0 || (size_t)n >= sizeof(k->target)) {
        free(kept);
        free(k);
        return DDBPIPE_ERR_INVALID_ARG;
    }
    if (kept && kept_cap >= body_len + 1) {
        k->body = kept;
        k->body_cap = kept_cap;
    } else {
        free(kept);
        k->body = malloc(body_len + 1);
        k->body_cap = body_len + 1;
    }
    if (!k->body) {
        free(k);
        return DDBPIPE_ERR_NOMEM;
    }
    if (body_len)
        memcpy(k->body, body, body_len);
    k->body[body_len] = 0;
    k->body_len = body_len;
    k->done = done;
    k->opaque = opaque;
    dp_ddb_result_init(&k->res);
    c->pending++;
    dp_list_push_front(&c->all, &k->all_link);
    attempt(k);
    return DDBPIPE_OK;
}

static int fire_timers(dp_ddb *c, int64_t *next_due) {
    int fired = 0;
    int64_t now = dp_now_ms();
    *next_due = INT64_MAX;
    /* Detach the due ones first: attempt() may put calls back. */
    dp_list due = {0};
    DP_LIST_FOREACH_SAFE(&c->timers, node, nx) {
        dp_call *k = DP_LIST_ENTRY(node, dp_call, link);
        if (k->due_ms <= now) {
            dp_list_remove(&c->timers, node);
            dp_list_push_front(&due, node);
        }
    }
    dp_list_node *node;
    while ((node = dp_list_pop_front(&due)) != NULL) {
        attempt(DP_LIST_ENTRY(node, dp_call, link));
        fired++;
    }
    DP_LIST_FOREACH(&c->timers, it) {
        const dp_call *k = DP_LIST_ENTRY(it, dp_call, link);
        if (k->due_ms < *next_due)
            *next_due = k->due_ms;
    }
    return fired;
}

static void deliver_finished(dp_ddb *c) {
    dp_list_node *node;
    while ((node = dp_list_pop_front(&c->finished)) != NULL)
        deliver(DP_LIST_ENTRY(node, dp_call, link));
}

int dp_ddb_run(dp_ddb *c, int timeout_ms) {
    if (!c)
        return 0;
    int64_t deadline = dp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    c->delivered = 0;
    for (;;) {
        int64_t next_due;
        fire_timers(c, &next_due);
        deliver_finished(c);
        if (c->delivered > 0 || c->pending == 0)
            break;
        int64_t now = dp_now_ms();
        int64_t wait = deadline - now;
        if (next_due != INT64_MAX && next_due - now < wait)
            wait = next_due - now;
        if (wait < 0)
            wait = 0;
        if (dp_http_in_flight(c->http) > 0) {
            dp_http_run(c->http, (int)wait);
        } else if (wait > 0) {
            poll(NULL, 0, (int)wait); /* only timers: nothing else to do */
        }
        deliver_finished(c);
        if (c->delivered > 0 || c->pending == 0 || dp_now_ms() >= deadline) {
            fire_timers(c, &next_due); /* start due retries before returning */
            deliver_finished(c);
            break;
        }
    }
    return c->pending;
}

typedef struct sync_ctx {
    dp_ddb_result *out;
    int done;
} sync_ctx;

static void sync_done(void *opaque, dp_ddb_result *res) {
    sync_ctx *s = opaque;
    *s->out = *res; /* move everything, body included */
    dp_buf_init(&res->body, 0);
    s->done = 1;
}

ddbpipe_result_t dp_ddb_call(dp_ddb *c, dp_ddb_api api, const char *operation, const char *body,
                             size_t body_len, dp_ddb_result *res) {
    sync_ctx s = {res, 0};
    dp_ddb_result_free(res);
    dp_ddb_result_init(res);
    ddbpipe_result_t rc = dp_ddb_call_async(c, api, operation, body, body_len, sync_done, &s);
    if (rc != DDBPIPE_OK) {
        res->result = rc;
        return rc;
    }
    while (!s.done)
        dp_ddb_run(c, 1000);
    return res->result;
}
