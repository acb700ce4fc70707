/* HTTP/1.1 engine on libcurl's multi interface: keep-alive connection
 * reuse, many requests in flight on one thread, timeouts, response caps.
 * One engine per thread; never shared across threads. */
#ifndef DP_HTTP_HTTP_H
#define DP_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* One request header (SigV4 signs the same list it sends). */
typedef struct dp_http_header {
    const char *name;
    const char *value;
} dp_http_header;

typedef struct dp_http dp_http;

typedef struct dp_http_options {
    long connect_timeout_ms;   /* default 3000 */
    long request_timeout_ms;   /* whole request incl. read; default 60000 */
    long low_speed_time_ms;    /* stall detection; default = request timeout */
    size_t max_response_bytes; /* default 16 MiB */
    int max_connections;       /* default 64 */
    int verify_tls;            /* default 1 */
    const char *ca_file;       /* NULL: system store */
    int no_proxy;              /* 1: never through a proxy (link-local / loopback metadata services) */
} dp_http_options;

typedef struct dp_http_response {
    ddbpipe_result_t result; /* OK when an HTTP status arrived (any status) */
    long status;             /* HTTP status, 0 when none */
    dp_buf body;
    int has_crc32;
    uint32_t crc32; /* x-amz-crc32 value */
    char request_id[80];
    char error_text[256]; /* transport error detail */
    int64_t elapsed_ns;
} dp_http_response;

typedef struct dp_http_request {
    const char *url;
    const char *method;            /* "POST", "GET", "PUT" */
    const dp_http_header *headers; /* extra headers (Host is derived from url by curl) */
    size_t header_count;
    const void *body; /* copied at submit */
    size_t body_len;
    long timeout_ms; /* 0: engine default */
} dp_http_request;

/* Called from dp_http_run when a request completes; resp is valid only
 * during the call (move resp->body out with dp_buf_steal to keep it). */
typedef void (*dp_http_done_fn)(void *opaque, dp_http_response *resp);

/* Defaults as documented above. Zero numeric fields also mean "default",
 * but verify_tls = 0 means off: start from dp_http_options_init. */
void dp_http_options_init(dp_http_options *o);

/* opts NULL: defaults. In-flight requests are dropped by destroy without
 * their callbacks. */
dp_http *dp_http_new(const dp_http_options *opts);
void dp_http_destroy(dp_http *h);
ddbpipe_result_t dp_http_submit(dp_http *h, const dp_http_request *req, dp_http_done_fn done, void *opaque);
/* Drive transfers for at most timeout_ms (returns earlier when something
 * completed). Returns the number of requests still in flight. */
int dp_http_run(dp_http *h, int timeout_ms);
int dp_http_in_flight(const dp_http *h);
/* New TCP connections opened so far (keep-alive reuse makes this much
 * smaller than the number of requests). */
uint64_t dp_http_connections_opened(const dp_http *h);

/* Blocking convenience for one request (credential providers, tools).
 * resp must be initialized (dp_http_response_init) and empty; it receives
 * the body even when the status is an error. opts NULL: defaults. Returns
 * resp->result. */
ddbpipe_result_t dp_http_perform(const dp_http_options *opts, const dp_http_request *req,
                                 dp_http_response *resp);
void dp_http_response_init(dp_http_response *r);
void dp_http_response_free(dp_http_response *r);

#endif
