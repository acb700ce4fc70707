/* GET /metrics, /healthz and /readyz over libmicrohttpd, on MHD's own
 * polling thread. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/util.h"
#include "metrics/metrics.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define DP_METRICS_MAX_CONNECTIONS 16
#define DP_METRICS_TIMEOUT_S 10
#define DP_METRICS_MAX_BODY ((size_t)16 * 1024 * 1024)

struct dp_metrics_server {
    struct MHD_Daemon *daemon;
    dp_metrics *metrics;
    int port;
    pthread_mutex_t mu; /* ready, reason: set by the sink/source, read by MHD's thread */
    int ready;
    char reason[512];
};

int dp_metrics_parse_address(const char *address, char *host, size_t host_size, int *port) {
    const char *colon, *host_start, *host_end;
    if (!address || !host || host_size == 0 || !port)
        return -1;
    if (address[0] == '[') {
        host_end = strchr(address, ']');
        if (!host_end || host_end[1] != ':')
            return -1;
        host_start = address + 1;
        colon = host_end + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon || memchr(address, ':', (size_t)(colon - address)))
            return -1; /* no port, or a bare IPv6 address without brackets */
        host_start = address;
        host_end = colon;
    }
    size_t hl = (size_t)(host_end - host_start);
    if (hl >= host_size)
        return -1;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return -1;
    memcpy(host, host_start, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

static mhd_result send_text(struct MHD_Connection *conn, unsigned status, const char *content_type,
                            const char *body, size_t len, const char *allow) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    mhd_result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static mhd_result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                         const char *version, const char *upload_data, size_t *upload_data_size,
                         void **con_cls) {
    dp_metrics_server *s = cls;
    static const char text_type[] = "text/plain; charset=utf-8";
    if (*upload_data_size) { /* ignore request bodies */
        *upload_data_size = 0;
        return MHD_YES;
    }
    int healthz = strcmp(url, "/healthz") == 0, readyz = strcmp(url, "/readyz") == 0;
    if (strcmp(url, "/metrics") != 0 && !healthz && !readyz) {
        static const char nf[] = "not found: try /metrics, /healthz or /readyz\n";
        return send_text(conn, MHD_HTTP_NOT_FOUND, text_type, nf, sizeof nf - 1, NULL);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text_type, "method not allowed\n", 19,
                         "GET, HEAD");
    /* Liveness: this thread answering is the proof. */
    if (healthz)
        return send_text(conn, MHD_HTTP_OK, text_type, "ok\n", 3, NULL);
    if (readyz) {
        char msg[600];
        pthread_mutex_lock(&s->mu);
        int ready = s->ready;
        snprintf(msg, sizeof msg, "%s%s\n", ready ? "ready" : "not ready: ", ready ? "" : s->reason);
        pthread_mutex_unlock(&s->mu);
        unsigned status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        return send_text(conn, status, text_type, msg, strlen(msg), NULL);
    }
    dp_buf body;
    dp_buf_init(&body, DP_METRICS_MAX_BODY);
    mhd_result r;
    if (dp_metrics_render_prometheus(s->metrics, &body) != DDBPIPE_OK)
        r = send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text_type, "render failed\n", 14, NULL);
    else
        r = send_text(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                      body.data ? body.data : "", body.len, NULL);
    dp_buf_free(&body);
    return r;
}

dp_metrics_server *dp_metrics_server_start(dp_metrics *m, const char *address, char *errstr,
                                           size_t errstr_size) {
    char host[256];
    int port = 0;
    struct addrinfo hints, *ai = NULL;
    dp_metrics_server *s = NULL;
    if (!m || !address) {
        dp_errf(errstr, errstr_size, "metrics address: none given");
        return NULL;
    }
    if (dp_metrics_parse_address(address, host, sizeof host, &port) != 0) {
        dp_errf(errstr, errstr_size,
                "metrics address '%s': expected host:port (e.g. 127.0.0.1:9464, [::1]:9464)", address);
        return NULL;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* Numeric addresses only (and "localhost"): a bind address never needs
     * DNS, and a lookup could hang startup. */
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *bind_host = host[0] == '\0' || strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    int gai = getaddrinfo(bind_host, portstr, &hints, &ai);
    if (gai != 0 || !ai) {
        dp_errf(errstr, errstr_size, "metrics address '%s': host '%s' is not an IP address or localhost",
                address, host);
        goto fail;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        dp_errf(errstr, errstr_size, "metrics server: out of memory");
        goto fail;
    }
    s->metrics = m;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->reason, sizeof s->reason, "starting");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    s->daemon =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)DP_METRICS_MAX_CONNECTIONS,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)DP_METRICS_TIMEOUT_S, MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        dp_errf(errstr, errstr_size, "metrics server: cannot listen on %s%s%s", address, e ? ": " : "",
                e ? strerror(e) : "");
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : port;
    freeaddrinfo(ai);
    return s;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (s)
        pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

void dp_metrics_server_set_ready(dp_metrics_server *s, int ready, const char *reason) {
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->ready = ready;
    snprintf(s->reason, sizeof s->reason, "%s", ready || !reason ? "" : reason);
    pthread_mutex_unlock(&s->mu);
}

int dp_metrics_server_port(const dp_metrics_server *s) {
    return s ? s->port : 0;
}

void dp_metrics_server_stop(dp_metrics_server *s) {
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
