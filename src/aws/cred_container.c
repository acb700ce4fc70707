/* Container credentials (ECS task roles, EKS Pod Identity):
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI against http://169.254.170.2, or
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, which must be https or a loopback /
 * ECS / EKS agent address: plain http to anywhere else would hand the
 * authorization token to whoever controls that host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/cred_internal.h"
#include "common/util.h"

#define ECS_HOST "http://169.254.170.2"
#define AUTH_TOKEN_MAX ((size_t)16 * 1024)

static int allowed_http_host(const char *host) {
    char h[256];
    size_t n;
    snprintf(h, sizeof(h), "%s", host);
    /* strip the port: "[::1]:80" or "127.0.0.1:8080" */
    if (h[0] == '[') {
        char *rb = strchr(h, ']');
        if (!rb)
            return 0;
        rb[1] = '\0';
    } else {
        char *colon = strchr(h, ':');
        if (colon)
            *colon = '\0';
    }
    n = strlen(h);
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0)
        return 1;
    if (strcmp(h, "169.254.170.2") == 0 || strcmp(h, "169.254.170.23") == 0 ||
        strcasecmp(h, "[fd00:ec2::23]") == 0)
        return 1;
    /* 127.0.0.0/8 in dotted-quad form only */
    if (n >= 9 && strncmp(h, "127.", 4) == 0) {
        /* by hand: sscanf("%u") is undefined on overflow */
        const char *q = h + 4;
        for (int part = 0; part < 3; part++) {
            unsigned v = 0;
            int nd = 0;
            while (*q >= '0' && *q <= '9' && nd < 4) {
                v = v * 10 + (unsigned)(*q++ - '0');
                nd++;
            }
            if (nd == 0 || nd > 3 || v > 255)
                return 0;
            if (part < 2 && *q++ != '.')
                return 0;
        }
        return *q == '\0';
    }
    return 0;
}

static ddbpipe_result_t container_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr,
                                        size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    const dp_cred_options *o = &((dp_cred_opts_copy *)p->impl)->o;
    const char *rel = dp_cred_getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = dp_cred_getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *token_file = dp_cred_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *token_env = dp_cred_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *token = NULL;
    size_t token_len = 0;
    char url[2048], host[256], path[1536];
    int is_https = 0;
    dp_http_header hdr;
    dp_cred_http_req req;
    dp_buf body;
    long status = 0;
    char herr[512] = "";

    memset(out, 0, sizeof(*out));
    dp_buf_init(&body, DP_CRED_MAX_ANSWER_BYTES);
    if (rel) {
        if (rel[0] != '/') {
            dp_errf(errstr, errstr_size, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /");
            rc = DDBPIPE_ERR_CONFIG;
            goto out;
        }
        snprintf(url, sizeof(url), "%s%s", ECS_HOST, rel);
    } else if (full) {
        snprintf(url, sizeof(url), "%s", full);
        if (dp_cred_url_split(url, &is_https, host, sizeof(host), path, sizeof(path)) != 0) {
            dp_errf(errstr, errstr_size,
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%.200s\" is not an http(s) URL", full);
            rc = DDBPIPE_ERR_CONFIG;
            goto out;
        }
        if (!is_https && !allowed_http_host(host)) {
            dp_errf(
                errstr, errstr_size,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI host %s is not loopback: plain http is allowed only to "
                "loopback or the ECS/EKS agent; use https",
                host);
            rc = DDBPIPE_ERR_CONFIG;
            goto out;
        }
    } else {
        dp_errf(errstr, errstr_size, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI not set");
        rc = DDBPIPE_ERR_NOT_FOUND;
        goto out;
    }
    /* the token file wins over the variable (EKS rotates the file) */
    if (token_file) {
        token = dp_read_file(token_file, AUTH_TOKEN_MAX, &token_len);
        if (!token) {
            dp_errf(errstr, errstr_size, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s", token_file);
            rc = DDBPIPE_ERR_IO;
            goto out;
        }
        while (token_len && (token[token_len - 1] == '\n' || token[token_len - 1] == '\r'))
            token[--token_len] = '\0';
    } else if (token_env) {
        token = strdup(token_env);
        if (!token) {
            rc = DDBPIPE_ERR_NOMEM;
            goto out;
        }
        token_len = strlen(token);
    }
    if (token && (strlen(token) != token_len || strpbrk(token, "\r\n"))) {
        dp_errf(errstr, errstr_size, "container authorization token contains a line break or NUL");
        rc = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.method = "GET";
    if (token) {
        hdr.name = "Authorization";
        hdr.value = token;
        req.headers = &hdr;
        req.header_count = 1;
    }
    req.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DP_CRED_DEFAULT_TIMEOUT_MS;
    req.verify_tls = o->verify_tls;
    req.ca_file = dp_cred_ca_file(o);
    req.no_proxy = 1;
    rc = dp_cred_http(&req, &status, &body, herr, sizeof(herr));
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "container credentials: %s", herr);
        goto out;
    }
    if (status != 200) {
        dp_errf(errstr, errstr_size, "container credentials endpoint %s answered HTTP %ld", url, status);
        rc = (status == 401 || status == 403) ? DDBPIPE_ERR_AUTH : DDBPIPE_ERR_SERVICE;
        goto out;
    }
    rc = dp_cred_parse_json(body.data, body.len, out, herr, sizeof(herr));
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "container credentials from %s: %s", url, herr);
        goto out;
    }
    strcpy(out->provider, "container");
out:
    if (token) {
        explicit_bzero(token, token_len);
        free(token);
    }
    if (body.data)
        explicit_bzero(body.data, body.len);
    dp_buf_free(&body);
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}

static const dp_cred_provider_vtable container_vt = {"container", container_fetch,
                                                     dp_cred_opts_provider_destroy};

dp_cred_provider *dp_cred_provider_container_new(const dp_cred_options *opts) {
    return dp_cred_opts_provider_new(&container_vt, opts);
}
