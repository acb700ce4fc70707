/* HTTP/1.1 engine on libcurl's multi interface.
 *
 * One CURLM per engine: its connection cache gives keep-alive reuse across
 * requests, and easy handles are recycled through a free list so their
 * per-handle state (TLS session ids, DNS entries) is not rebuilt per request.
 * Transfers complete inside dp_http_run, which invokes the done callbacks
 * after curl has been left in a consistent state (callbacks may submit). */
#include "http/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/list.h"
#include "common/util.h"

typedef struct dp_xfer dp_xfer;
struct dp_xfer {
    dp_http *h;
    CURL *easy;
    /* The request's headers and body live in buffers the transfer keeps from
     * one request to the next (transfers are recycled): per request that
     * saved some 30 malloc/free pairs and a body-sized one. The header list
     * handed to curl is built from our own curl_slist nodes (curl only reads
     * the list) pointing into hdr_text. */
    struct curl_slist *hdrs;
    dp_buf hdr_text;
    struct curl_slist *hdr_nodes;
    size_t hdr_nodes_cap;
    dp_buf body;
    char *url; /* the URL last set on easy (curl parses it on every set) */
    dp_http_response resp;
    dp_http_done_fn done;
    void *opaque;
    int too_large;
    int64_t start_ns;
    CURLcode code;
    dp_list_node link; /* on the free list, the in-flight list or collect_done's list */
};

struct dp_http {
    CURLM *multi;
    dp_http_options opts;
    char *ca_file;
    dp_list free_list; /* dp_xfer kept for reuse */
    dp_list active;    /* dp_xfer in flight: destroy must find them */
    int in_flight;
    uint64_t requests;
    uint64_t connections_opened;
    /* Event-driven: curl tells us which sockets to watch (epoll) and when
     * its next timeout is, so each wake-up touches only the connections
     * with activity, not all of them (curl_multi_perform walks every
     * transfer: with 64 in flight that dominated the CPU per response). */
    int epfd;
    int64_t timer_due_ms; /* -1: no timer */
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void dp_http_options_init(dp_http_options *o) {
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 3000;
    o->request_timeout_ms = 60000;
    o->max_response_bytes = (size_t)16 * 1024 * 1024;
    o->max_connections = 64;
    o->verify_tls = 1;
}

/* Zero fields mean "default", so callers may zero-initialize options. The
 * exception is verify_tls: 0 means off, so a zeroed struct would disable
 * TLS checks; dp_http_options_init sets it to 1 and callers that build the
 * struct by hand must set it. */
static void apply_defaults(dp_http_options *o) {
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = 3000;
    if (o->request_timeout_ms <= 0)
        o->request_timeout_ms = 60000;
    if (o->max_response_bytes == 0)
        o->max_response_bytes = (size_t)16 * 1024 * 1024;
    if (o->max_connections <= 0)
        o->max_connections = 64;
}

void dp_http_response_init(dp_http_response *r) {
    memset(r, 0, sizeof(*r));
    dp_buf_init(&r->body, 0);
}

void dp_http_response_free(dp_http_response *r) {
    if (!r)
        return;
    dp_buf_free(&r->body);
    memset(r->request_id, 0, sizeof(r->request_id));
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    dp_http *h = userp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(h->multi, fd, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.data.fd = fd;
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(h->epfd, op, fd, &ev) != 0) {
        /* a reused fd number, or one curl already closed and reopened */
        if (errno == EEXIST)
            epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev);
        else if (errno == ENOENT)
            epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    if (!socketp)
        curl_multi_assign(h->multi, fd, h);
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
    dp_http *h = userp;
    (void)multi;
    h->timer_due_ms = timeout_ms < 0 ? -1 : dp_now_ms() + timeout_ms;
    return 0;
}

dp_http *dp_http_new(const dp_http_options *opts) {
    pthread_once(&g_curl_once, curl_init_once);
    dp_http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if (opts) {
        h->opts = *opts;
    } else {
        dp_http_options_init(&h->opts);
    }
    apply_defaults(&h->opts);
    if (h->opts.ca_file) {
        h->ca_file = strdup(h->opts.ca_file);
        if (!h->ca_file)
            goto fail;
        h->opts.ca_file = h->ca_file;
    }
    h->epfd = -1;
    h->timer_due_ms = -1;
    h->multi = curl_multi_init();
    if (!h->multi)
        goto fail;
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->epfd < 0)
        goto fail;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    /* max_connections is what the caller keeps in flight (the sink's
     * max_concurrent_requests): per host, in total and idle in the cache. */
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->opts.max_connections);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)h->opts.max_connections);
    /* Keep as many idle connections as we may use, or curl closes them. */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->opts.max_connections);
    return h;
fail:
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->ca_file);
    free(h);
    return NULL;
}

/* A request's buffers are kept for the next one, unless one was very large. */
#define XFER_KEEP_BYTES ((size_t)1 << 20)

static void xfer_release_request(dp_xfer *x) {
    x->hdrs = NULL;
    dp_buf_reset(&x->hdr_text);
    if (x->body.cap > XFER_KEEP_BYTES)
        dp_buf_free(&x->body);
    else
        dp_buf_reset(&x->body);
}

static void xfer_free(dp_xfer *x) {
    if (!x)
        return;
    /* Request bodies and headers carry secrets (session tokens, the web
     * identity token of STS calls): wipe them before the memory goes back. */
    if (x->body.data)
        explicit_bzero(x->body.data, x->body.cap);
    if (x->hdr_text.data)
        explicit_bzero(x->hdr_text.data, x->hdr_text.cap);
    xfer_release_request(x);
    dp_buf_free(&x->body);
    dp_buf_free(&x->hdr_text);
    free(x->hdr_nodes);
    free(x->url);
    dp_http_response_free(&x->resp);
    if (x->easy)
        curl_easy_cleanup(x->easy);
    free(x);
}

void dp_http_destroy(dp_http *h) {
    if (!h)
        return;
    /* In-flight transfers are dropped without their callbacks. */
    dp_list_node *node;
    while ((node = dp_list_pop_front(&h->active)) != NULL) {
        dp_xfer *x = DP_LIST_ENTRY(node, dp_xfer, link);
        curl_multi_remove_handle(h->multi, x->easy);
        xfer_free(x);
    }
    while ((node = dp_list_pop_front(&h->free_list)) != NULL)
        xfer_free(DP_LIST_ENTRY(node, dp_xfer, link));
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->ca_file);
    free(h);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    dp_xfer *x = ud;
    size_t n = size * nmemb;
    if (dp_buf_append(&x->resp.body, ptr, n) != DDBPIPE_OK) {
        x->too_large = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

/* Case-insensitive "name:" prefix match; returns the trimmed value. */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return NULL;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud) {
    dp_xfer *x = ud;
    size_t n = size * nmemb;
    size_t vlen = 0;
    const char *v;
    if ((v = header_value(ptr, n, "x-amz-crc32", &vlen)) != NULL) {
        char tmp[24];
        if (vlen > 0 && vlen < sizeof(tmp)) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = 0;
            char *endp = NULL;
            unsigned long long val = strtoull(tmp, &endp, 10);
            if (endp && *endp == 0 && isdigit((unsigned char)tmp[0]) && val <= 0xffffffffULL) {
                x->resp.has_crc32 = 1;
                x->resp.crc32 = (uint32_t)val;
            } else {
                /* Unparseable checksum: keep has_crc32 with a value that
                 * cannot match so the body is not trusted silently. */
                x->resp.has_crc32 = 1;
                x->resp.crc32 = ~dp_crc32("", 0);
            }
        }
    } else if ((v = header_value(ptr, n, "x-amzn-RequestId", &vlen)) != NULL ||
               (v = header_value(ptr, n, "x-amz-request-id", &vlen)) != NULL) {
        if (vlen >= sizeof(x->resp.request_id))
            vlen = sizeof(x->resp.request_id) - 1;
        memcpy(x->resp.request_id, v, vlen);
        x->resp.request_id[vlen] = 0;
    }
    return n;
}

/* Options that are the same for every request, set once per easy handle:
 * a recycled handle keeps them (no curl_easy_reset), which saves curl
 * re-parsing the protocol list and copying the strings on every request. */
static void xfer_set_constant(dp_http *h, dp_xfer *x) {
    CURL *e = x->easy;
    const dp_http_options *o = &h->opts;
    /* Only http(s): a URL from config must not reach file:// or others. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response_bytes);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->verify_tls ? 2L : 0L);
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->no_proxy)
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ddbpipe/" DDBPIPE_VERSION_STR);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
}

static dp_xfer *xfer_get(dp_http *h) {
    dp_xfer *x = DP_LIST_ENTRY(dp_list_pop_front(&h->free_list), dp_xfer, link);
    if (!x) {
        x = calloc(1, sizeof(*x));
        if (!x)
            return NULL;
        x->easy = curl_easy_init();
        if (!x->easy) {
            free(x);
            return NULL;
        }
        dp_http_response_init(&x->resp);
        dp_buf_init(&x->body, 0);
        dp_buf_init(&x->hdr_text, 0);
        xfer_set_constant(h, x);
    }
    x->h = h;
    x->too_large = 0;
    x->code = CURLE_OK;
    dp_buf_free(&x->resp.body);
    dp_buf_init(&x->resp.body, h->opts.max_response_bytes);
    x->resp.result = DDBPIPE_OK;
    x->resp.status = 0;
    x->resp.has_crc32 = 0;
    x->resp.crc32 = 0;
    x->resp.request_id[0] = 0;
    x->resp.error_text[0] = 0;
    x->resp.elapsed_ns = 0;
    return x;
}

static void xfer_put(dp_http *h, dp_xfer *x) {
    xfer_release_request(x);
    dp_buf_free(&x->resp.body);
    x->done = NULL;
    x->opaque = NULL;
    dp_list_push_front(&h->free_list, &x->link);
}

static ddbpipe_result_t xfer_setup(dp_http *h, dp_xfer *x, const dp_http_request *req) {
    CURL *e = x->easy;
    const dp_http_options *o = &h->opts;
    const char *method = req->method ? req->method : "GET";
    long timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : o->request_timeout_ms;
    long low_ms = o->low_speed_time_ms > 0 ? o->low_speed_time_ms : timeout_ms;

    if (!req->url)
        return DDBPIPE_ERR_INVALID_ARG;
    if (!x->url || strcmp(x->url, req->url) != 0) {
        char *url = strdup(req->url);
        if (!url)
            return DDBPIPE_ERR_NOMEM;
        if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK) {
            free(url);
            free(x->url); /* what curl holds now is unknown: set it next time */
            x->url = NULL;
            return DDBPIPE_ERR_INVALID_ARG;
        }
        free(x->url);
        x->url = url;
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    /* Stall detection: fewer than 1 byte/s for low_ms aborts. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (low_ms + 999) / 1000);

    dp_buf_reset(&x->body);
    if (dp_buf_append(&x->body, req->body ? req->body : "", req->body_len) != DDBPIPE_OK ||
        dp_buf_putc(&x->body, '\0') != DDBPIPE_OK)
        return DDBPIPE_ERR_NOMEM;
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body.data);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    /* NULL clears a method left by the handle's previous request */
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 ? method : NULL);

    /* "Expect:" suppresses 100-continue (a round trip for nothing);
     * an empty Content-Type stops curl's form default on POST. Lines go
     * into hdr_text one after the other, NUL-terminated; the nodes point at
     * them once all are written (hdr_text may move while it grows). */
    int has_ct = 0;
    size_t nlines = 0;
    dp_buf_reset(&x->hdr_text);
    for (size_t i = 0; i < req->header_count; i++) {
        const dp_http_header *hd = &req->headers[i];
        if (!hd->name || !hd->value)
            continue;
        if (strcasecmp(hd->name, "Content-Type") == 0)
            has_ct = 1;
        if (dp_buf_puts(&x->hdr_text, hd->name) != DDBPIPE_OK ||
            dp_buf_append(&x->hdr_text, ": ", 2) != DDBPIPE_OK ||
            dp_buf_puts(&x->hdr_text, hd->value) != DDBPIPE_OK ||
            dp_buf_putc(&x->hdr_text, '\0') != DDBPIPE_OK)
            return DDBPIPE_ERR_NOMEM;
        nlines++;
    }
    if (dp_buf_append(&x->hdr_text, "Expect:", 8) != DDBPIPE_OK)
        return DDBPIPE_ERR_NOMEM;
    nlines++;
    if (!has_ct && strcmp(method, "GET") != 0) {
        if (dp_buf_append(&x->hdr_text, "Content-Type:", 14) != DDBPIPE_OK)
            return DDBPIPE_ERR_NOMEM;
        nlines++;
    }
    if (nlines > x->hdr_nodes_cap) {
        struct curl_slist *nodes = realloc(x->hdr_nodes, nlines * sizeof(*nodes));
        if (!nodes)
            return DDBPIPE_ERR_NOMEM;
        x->hdr_nodes = nodes;
        x->hdr_nodes_cap = nlines;
    }
    char *line = x->hdr_text.data;
    for (size_t i = 0; i < nlines; i++) {
        x->hdr_nodes[i].data = line;
        x->hdr_nodes[i].next = i + 1 < nlines ? &x->hdr_nodes[i + 1] : NULL;
        line += strlen(line) + 1;
    }
    x->hdrs = x->hdr_nodes;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_http_submit(dp_http *h, const dp_http_request *req, dp_http_done_fn done, void *opaque) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    if (!h || !req || !done)
        return DDBPIPE_ERR_INVALID_ARG;
    dp_xfer *x = xfer_get(h);
    if (!x)
        return DDBPIPE_ERR_NOMEM;
    rc = xfer_setup(h, x, req);
    if (rc != DDBPIPE_OK)
        goto out;
    x->done = done;
    x->opaque = opaque;
    x->start_ns = dp_now_ns();
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        rc = DDBPIPE_ERR_TRANSPORT;
        goto out;
    }
    dp_list_push_front(&h->active, &x->link);
    h->in_flight++;
    h->requests++;
out:
    if (rc != DDBPIPE_OK)
        xfer_put(h, x);
    return rc;
}

static ddbpipe_result_t map_curl_error(CURLcode code, int too_large) {
    switch (code) {
    case CURLE_OK:
        return DDBPIPE_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return DDBPIPE_ERR_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return DDBPIPE_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? DDBPIPE_ERR_TOO_LARGE : DDBPIPE_ERR_IO;
    case CURLE_OUT_OF_MEMORY:
        return DDBPIPE_ERR_NOMEM;
    /* Not transient: retrying would fail the same way. */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return DDBPIPE_ERR_CONFIG;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return DDBPIPE_ERR_TLS;
    default:
        return DDBPIPE_ERR_TRANSPORT;
    }
}

static void finish_xfer(dp_http *h, dp_xfer *x) {
    long status = 0;
    long nconn = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
    h->connections_opened += (uint64_t)(nconn > 0 ? nconn : 0);
    x->resp.status = status;
    x->resp.elapsed_ns = dp_now_ns() - x->start_ns;
    x->resp.result = map_curl_error(x->code, x->too_large);
    if (x->code != CURLE_OK) {
        char *url = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
        if (x->resp.result == DDBPIPE_ERR_TOO_LARGE) {
            snprintf(x->resp.error_text, sizeof(x->resp.error_text), "response from %s exceeds %zu bytes",
                     url ? url : "?", h->opts.max_response_bytes);
        } else {
            snprintf(x->resp.error_text, sizeof(x->resp.error_text), "%s: %s", url ? url : "?",
                     curl_easy_strerror(x->code));
        }
    }
}

static int collect_done(dp_http *h) {
    dp_list done = {0};
    int n = 0;
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        dp_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            continue;
        x->code = m->data.result;
        curl_multi_remove_handle(h->multi, x->easy);
        dp_list_remove(&h->active, &x->link);
        h->in_flight--;
        finish_xfer(h, x);
        dp_list_push_back(&done, &x->link);
    }
    /* Callbacks run after the message queue is drained: they may submit. */
    dp_list_node *node;
    while ((node = dp_list_pop_front(&done)) != NULL) {
        dp_xfer *x = DP_LIST_ENTRY(node, dp_xfer, link);
        x->done(x->opaque, &x->resp);
        xfer_put(h, x);
        n++;
    }
    return n;
}

int dp_http_run(dp_http *h, int timeout_ms) {
    if (!h)
        return 0;
    int64_t deadline = dp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct epoll_event evs[64];
    int first = 1;
    for (;;) {
        int running = 0;
        int64_t now = dp_now_ms();
        if (h->timer_due_ms >= 0 && h->timer_due_ms <= now) {
            h->timer_due_ms = -1;
            curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        if (collect_done(h) > 0)
            break;
        if (h->in_flight == 0)
            break;
        now = dp_now_ms();
        if (!first && now >= deadline)
            break;
        first = 0;
        int64_t wait = deadline - now;
        if (wait < 0)
            wait = 0;
        if (h->timer_due_ms >= 0 && h->timer_due_ms - now < wait)
            wait = h->timer_due_ms > now ? h->timer_due_ms - now : 0;
        int n = epoll_wait(h->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), (int)wait);
        for (int i = 0; i < n; i++) {
            int flags = 0;
            if (evs[i].events & EPOLLIN)
                flags |= CURL_CSELECT_IN;
            if (evs[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(h->multi, evs[i].data.fd, flags, &running);
        }
    }
    return h->in_flight;
}

int dp_http_in_flight(const dp_http *h) {
    return h ? h->in_flight : 0;
}

uint64_t dp_http_connections_opened(const dp_http *h) {
    return h ? h->connections_opened : 0;
}

typedef struct perform_ctx {
    dp_http_response *out;
    int done;
} perform_ctx;

static void perform_done(void *opaque, dp_http_response *resp) {
    perform_ctx *pc = opaque;
    /* Hand the body over; the engine's copy is left empty. The caller's
     * response must be empty (freshly initialized or freed). */
    *pc->out = *resp;
    dp_buf_init(&resp->body, 0);
    pc->done = 1;
}

ddbpipe_result_t dp_http_perform(const dp_http_options *opts, const dp_http_request *req,
                                 dp_http_response *resp) {
    ddbpipe_result_t rc;
    perform_ctx pc = {resp, 0};
    dp_http *h = dp_http_new(opts);
    if (!h)
        return DDBPIPE_ERR_NOMEM;
    rc = dp_http_submit(h, req, perform_done, &pc);
    if (rc != DDBPIPE_OK)
        goto out;
    while (!pc.done)
        dp_http_run(h, 1000);
    rc = resp->result;
out:
    dp_http_destroy(h);
    return rc;
}
