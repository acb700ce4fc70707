/* Blocking HTTP for the credentials providers (STS, container, IMDS): one
 * libcurl easy transfer with a short timeout and a response cap. Kept apart
 * from the request engine because credentials are fetched rarely, before
 * the engine's first request, from any thread. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "common/util.h"

typedef struct sink {
    dp_buf *body;
    int overflow;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    sink *s = opaque;
    size_t n = size * nmemb;
    if (dp_buf_append(s->body, ptr, n) != DDBPIPE_OK) {
        s->overflow = 1;
        return 0; /* aborts the transfer */
    }
    return n;
}

int dp_cred_url_split(const char *url, int *is_https, char *host, size_t host_size, char *path,
                      size_t path_size)
{
    const char *p, *end;
    size_t hl;
    if (!url) return -1;
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
    if (hl == 0 || memchr(p, '@', hl)) return -1; /* no userinfo: it would end up in logs */
    /* curl omits the default port in Host; do the same so the signature matches */
    if (*is_https && hl > 4 && memcmp(end - 4, ":443", 4) == 0) hl -= 4;
    else if (!*is_https && hl > 3 && memcmp(end - 3, ":80", 3) == 0) hl -= 3;
    if (hl >= host_size) return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (*end == '#') end = end + strlen(end);
    if (*end == '\0') {
        if (path_size < 2) return -1;
        memcpy(path, "/", 2);
    } else if (*end == '?') {
        if (strlen(end) + 2 > path_size) return -1;
        snprintf(path, path_size, "/%s", end);
    } else {
        if (strlen(end) + 1 > path_size) return -1;
        snprintf(path, path_size, "%s", end);
    }
    return 0;
}

ddbpipe_result_t dp_cred_http(const dp_cred_http_req *req, long *status, dp_buf *body, char *errstr,
                              size_t errstr_size)
{
    ddbpipe_result_t rc = DDBPIPE_OK;
    CURL *curl = NULL;
    struct curl_slist *hdrs = NULL;
    CURLcode cc;
    sink s;
    size_t i;
    dp_buf line;
    char curl_err[CURL_ERROR_SIZE] = "";
    long timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DP_CRED_DEFAULT_TIMEOUT_MS;

    *status = 0;
    dp_buf_init(&line, 16384);
    s.body = body;
    s.overflow = 0;
    curl = curl_easy_init();
    if (!curl) {
        rc = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < req->header_count; i++) {
        struct curl_slist *n;
        dp_buf_reset(&line);
        if (dp_buf_printf(&line, "%s: %s", req->headers[i].name, req->headers[i].value) != DDBPIPE_OK) {
            dp_errf(errstr, errstr_size, "%s %s: header %s too long", req->method, req->url, req->headers[i].name);
            rc = DDBPIPE_ERR_TOO_LARGE;
            goto out;
        }
        n = curl_slist_append(hdrs, line.data);
        if (!n) {
            rc = DDBPIPE_ERR_NOMEM;
            goto out;
        }
        hdrs = n;
    }
    /* curl adds "Expect: 100-continue" to large POSTs; STS does not need it */
    {
        struct curl_slist *n = curl_slist_append(hdrs, "Expect:");
        if (!n) {
            rc = DDBPIPE_ERR_NOMEM;
            goto out;
        }
        hdrs = n;
    }
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ddbpipe/" DDBPIPE_VERSION_STR);
    if (!req->verify_tls) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->no_proxy) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)(req->body ? req->body_len : 0));
    } else if (strcmp(req->method, "PUT") == 0) {
        /* a PUT without a body: a custom request with an empty POST body */
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)(req->body ? req->body_len : 0));
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    cc = curl_easy_perform(curl);
    if (s.overflow) {
        dp_errf(errstr, errstr_size, "%s %s: answer larger than %zu bytes", req->method, req->url,
                body->max_len);
        rc = DDBPIPE_ERR_TOO_LARGE;
        goto out;
    }
    if (cc != CURLE_OK) {
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            dp_errf(errstr, errstr_size, "%s %s: timed out after %ld ms", req->method, req->url, timeout_ms);
            rc = DDBPIPE_ERR_TIMEOUT;
        } else {
            dp_errf(errstr, errstr_size, "%s %s: %s", req->method, req->url,
                    curl_err[0] ? curl_err : curl_easy_strerror(cc));
            rc = DDBPIPE_ERR_TRANSPORT;
        }
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(hdrs); /* may hold a token: curl copies, we free */
    if (line.data) explicit_bzero(line.data, line.len);
    dp_buf_free(&line);
    if (curl) curl_easy_cleanup(curl);
    return rc;
}
