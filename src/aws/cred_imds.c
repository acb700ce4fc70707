/* EC2 instance metadata, IMDSv2 only: PUT a session token, then GET the
 * role name and the role's credentials with that token. IMDSv1 (no token)
 * is not used: it is the SSRF-prone variant AWS recommends disabling.
 * Short timeout and one retry: off EC2 the address does not answer and the
 * chain must not hang. Not reachable = "does not apply". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/cred_internal.h"
#include "common/util.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_ATTEMPTS 2

/* One IMDS request with one retry on transport errors, timeouts and 5xx. */
static ddbpipe_result_t imds_call(const dp_cred_options *o, const char *url, const char *method,
                                  const dp_http_header *h, long *status, dp_buf *body, char *errstr,
                                  size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    int attempt;
    for (attempt = 0; attempt < IMDS_ATTEMPTS; attempt++) {
        dp_cred_http_req req;
        memset(&req, 0, sizeof(req));
        req.url = url;
        req.method = method;
        req.headers = h;
        req.header_count = 1;
        req.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DP_CRED_IMDS_TIMEOUT_MS;
        req.verify_tls = o->verify_tls;
        req.ca_file = dp_cred_ca_file(o);
        req.no_proxy = 1;
        dp_buf_reset(body);
        rc = dp_cred_http(&req, status, body, errstr, errstr_size);
        if (rc == DDBPIPE_OK && *status < 500)
            break;
        if (rc == DDBPIPE_ERR_TOO_LARGE)
            break;
    }
    return rc;
}

static ddbpipe_result_t imds_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr,
                                   size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    const dp_cred_options *o = &((dp_cred_opts_copy *)p->impl)->o;
    const char *disabled = dp_cred_getenv("AWS_EC2_METADATA_DISABLED");
    const char *base = dp_cred_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char root[512], url[1024], role[256], token[256], herr[512] = "";
    size_t blen;
    dp_http_header h;
    dp_buf body;
    long status = 0;

    memset(out, 0, sizeof(*out));
    dp_buf_init(&body, (size_t)64 * 1024);
    token[0] = '\0';
    if (disabled && strcasecmp(disabled, "true") == 0) {
        dp_errf(errstr, errstr_size, "disabled by AWS_EC2_METADATA_DISABLED");
        rc = DDBPIPE_ERR_NOT_FOUND;
        goto out;
    }
    snprintf(root, sizeof(root), "%s", base ? base : IMDS_DEFAULT);
    blen = strlen(root);
    while (blen && root[blen - 1] == '/')
        root[--blen] = '\0';
    if (strncmp(root, "http://", 7) != 0 && strncmp(root, "https://", 8) != 0) {
        dp_errf(errstr, errstr_size, "AWS_EC2_METADATA_SERVICE_ENDPOINT \"%.200s\" is not an http(s) URL",
                root);
        rc = DDBPIPE_ERR_CONFIG;
        goto out;
    }

    snprintf(url, sizeof(url), "%s/latest/api/token", root);
    h.name = "X-aws-ec2-metadata-token-ttl-seconds";
    h.value = "21600";
    rc = imds_call(o, url, "PUT", &h, &status, &body, herr, sizeof(herr));
    if (rc == DDBPIPE_ERR_TIMEOUT || rc == DDBPIPE_ERR_TRANSPORT) {
        /* nothing listens: we are not on EC2 */
        dp_errf(errstr, errstr_size, "not reachable: %s", herr);
        rc = DDBPIPE_ERR_NOT_FOUND;
        goto out;
    }
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "IMDS token: %s", herr);
        goto out;
    }
    if (status != 200) {
        dp_errf(errstr, errstr_size, "IMDS token request (PUT %s) answered HTTP %ld (IMDSv2 required)", url,
                status);
        rc = status == 403 ? DDBPIPE_ERR_AUTH : DDBPIPE_ERR_SERVICE;
        goto out;
    }
    if (body.len == 0 || body.len >= sizeof(token) || strlen(body.data) != body.len ||
        strpbrk(body.data, "\r\n")) {
        dp_errf(errstr, errstr_size, "IMDS token answer is empty, too long or not one line");
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
    memcpy(token, body.data, body.len + 1);

    h.name = "X-aws-ec2-metadata-token";
    h.value = token;
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", root);
    rc = imds_call(o, url, "GET", &h, &status, &body, herr, sizeof(herr));
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "IMDS role: %s", herr);
        goto out;
    }
    if (status == 404) {
        dp_errf(errstr, errstr_size, "the instance has no IAM role (GET %s answered 404)", url);
        rc = DDBPIPE_ERR_CREDENTIALS;
        goto out;
    }
    if (status != 200) {
        dp_errf(errstr, errstr_size, "IMDS GET %s answered HTTP %ld", url, status);
        rc = (status == 401 || status == 403) ? DDBPIPE_ERR_AUTH : DDBPIPE_ERR_SERVICE;
        goto out;
    }
    {
        /* first line is the role name */
        const char *list = body.data ? body.data : "";
        size_t n = strcspn(list, "\r\n");
        size_t i;
        if (n == 0 || n >= sizeof(role)) {
            dp_errf(errstr, errstr_size, "IMDS role list is empty or the role name is too long");
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
        memcpy(role, list, n);
        role[n] = '\0';
        for (i = 0; i < n; i++) {
            char c = role[i];
            /* IAM role names: [\w+=,.@-]; anything else would change the URL */
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("_+=,.@-", c))) {
                dp_errf(errstr, errstr_size, "IMDS role name has an invalid character at %zu", i);
                rc = DDBPIPE_ERR_PARSE;
                goto out;
            }
        }
    }
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", root, role);
    rc = imds_call(o, url, "GET", &h, &status, &body, herr, sizeof(herr));
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "IMDS credentials: %s", herr);
        goto out;
    }
    if (status != 200) {
        dp_errf(errstr, errstr_size, "IMDS GET %s answered HTTP %ld", url, status);
        rc = (status == 401 || status == 403) ? DDBPIPE_ERR_AUTH : DDBPIPE_ERR_SERVICE;
        goto out;
    }
    rc = dp_cred_parse_json(body.data, body.len, out, herr, sizeof(herr));
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "IMDS credentials for role %s: %s", role, herr);
        goto out;
    }
    strcpy(out->provider, "imds");
out:
    explicit_bzero(token, sizeof(token));
    if (body.data)
        explicit_bzero(body.data, body.len);
    dp_buf_free(&body);
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}

static const dp_cred_provider_vtable imds_vt = {"imds", imds_fetch, dp_cred_opts_provider_destroy};

dp_cred_provider *dp_cred_provider_imds_new(const dp_cred_options *opts) {
    return dp_cred_opts_provider_new(&imds_vt, opts);
}
