/* The credentials providers' HTTP calls (STS, container, IMDS) over the
 * HTTP layer (src/http/): one blocking exchange each, with a short timeout,
 * a response cap, no proxy for metadata services and the same TLS settings
 * (verify_tls, ca_file / AWS_CA_BUNDLE) as the DynamoDB calls. */
#include <stdio.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "common/util.h"
#include "http/http.h"

int dp_cred_url_split(const char *url, int *is_https, char *host, size_t host_size, char *path,
                      size_t path_size) {
    const char *p, *end;
    size_t hl;
    if (!url)
        return -1;
    if (strncmp(url, "https://", 8) == 0) {
        *is_https = 1;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        *is_https = 0;
        p = url + 7;
    } else
        return -1;
    end = p + strcspn(p, "/?#");
    hl = (size_t)(end - p);
    if (hl == 0 || memchr(p, '@', hl))
        return -1; /* no userinfo: it would end up in logs */
    /* curl omits the default port in Host; do the same so the signature matches */
    if (*is_https && hl > 4 && memcmp(end - 4, ":443", 4) == 0)
        hl -= 4;
    else if (!*is_https && hl > 3 && memcmp(end - 3, ":80", 3) == 0)
        hl -= 3;
    if (hl >= host_size)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (*end == '#')
        end = end + strlen(end);
    if (*end == '\0') {
        if (path_size < 2)
            return -1;
        memcpy(path, "/", 2);
    } else if (*end == '?') {
        if (strlen(end) + 2 > path_size)
            return -1;
        snprintf(path, path_size, "/%s", end);
    } else {
        if (strlen(end) + 1 > path_size)
            return -1;
        snprintf(path, path_size, "%s", end);
    }
    return 0;
}

ddbpipe_result_t dp_cred_http(const dp_cred_http_req *req, long *status, dp_buf *body, char *errstr,
                              size_t errstr_size) {
    ddbpipe_result_t rc;
    dp_http_options ho;
    dp_http_request hr;
    dp_http_response resp;
    long timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DP_CRED_DEFAULT_TIMEOUT_MS;
    size_t cap = body->max_len ? body->max_len : DP_CRED_MAX_ANSWER_BYTES;

    *status = 0;
    dp_http_options_init(&ho);
    ho.connect_timeout_ms = timeout_ms;
    ho.request_timeout_ms = timeout_ms;
    ho.max_response_bytes = cap;
    ho.max_connections = 1;
    ho.verify_tls = req->verify_tls;
    ho.ca_file = req->ca_file;
    ho.no_proxy = req->no_proxy;
    memset(&hr, 0, sizeof(hr));
    hr.url = req->url;
    hr.method = req->method;
    hr.headers = req->headers;
    hr.header_count = req->header_count;
    hr.body = req->body;
    hr.body_len = req->body ? req->body_len : 0;
    dp_http_response_init(&resp);
    rc = dp_http_perform(&ho, &hr, &resp);
    if (rc == DDBPIPE_ERR_TOO_LARGE) {
        dp_errf(errstr, errstr_size, "%s %s: answer larger than %zu bytes", req->method, req->url, cap);
    } else if (rc == DDBPIPE_ERR_TIMEOUT) {
        dp_errf(errstr, errstr_size, "%s %s: timed out after %ld ms", req->method, req->url, timeout_ms);
    } else if (rc == DDBPIPE_ERR_TLS) {
        dp_errf(errstr, errstr_size, "%s %s: TLS error (set ca_file or AWS_CA_BUNDLE to the CA's PEM file)",
                req->method, resp.error_text[0] ? resp.error_text : req->url);
    } else if (rc != DDBPIPE_OK) {
        /* error_text is "<url>: <reason>" */
        dp_errf(errstr, errstr_size, "%s %s", req->method,
                resp.error_text[0] ? resp.error_text : ddbpipe_strerror(rc));
    } else {
        *status = resp.status;
        if (dp_buf_append(body, resp.body.data ? resp.body.data : "", resp.body.len) != DDBPIPE_OK) {
            dp_errf(errstr, errstr_size, "%s %s: answer larger than %zu bytes", req->method, req->url, cap);
            rc = DDBPIPE_ERR_TOO_LARGE;
        }
    }
    if (resp.body.data)
        explicit_bzero(resp.body.data, resp.body.cap); /* credentials */
    dp_http_response_free(&resp);
    return rc;
}
