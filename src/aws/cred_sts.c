/* STS AssumeRole (SigV4-signed with the source credentials) and
 * AssumeRoleWithWebIdentity (unsigned: the web identity token is the proof),
 * Query API over POST, answer in XML. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aws/cred_internal.h"
#include "common/log.h"
#include "common/util.h"

void dp_cred_sts_endpoint(const char *opt_endpoint, const char *region, char *out, size_t out_size) {
    const char *ep = dp_cred_opt_env(opt_endpoint, "AWS_ENDPOINT_URL_STS");
    if (ep)
        snprintf(out, out_size, "%s", ep);
    else if (region)
        snprintf(out, out_size, "https://sts.%s.amazonaws.com", region);
    else
        snprintf(out, out_size, "https://sts.amazonaws.com");
}

void dp_cred_default_session_name(char *out, size_t out_size) {
    snprintf(out, out_size, "ddbpipe-%ld", (long)getpid());
}

/* application/x-www-form-urlencoded with RFC 3986 unreserved characters. */
static ddbpipe_result_t form_add(dp_buf *b, const char *name, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;
    if (!value)
        return DDBPIPE_OK;
    if (b->len && dp_buf_putc(b, '&') != DDBPIPE_OK)
        return DDBPIPE_ERR_TOO_LARGE;
    if (dp_buf_puts(b, name) != DDBPIPE_OK || dp_buf_putc(b, '=') != DDBPIPE_OK)
        return DDBPIPE_ERR_TOO_LARGE;
    for (p = (const unsigned char *)value; *p; p++) {
        ddbpipe_result_t r;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            r = dp_buf_putc(b, (char)*p);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            r = dp_buf_append(b, enc, 3);
        }
        if (r != DDBPIPE_OK)
            return r;
    }
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_cred_sts(const dp_cred_sts_call *call, dp_credentials *out, char *errstr,
                             size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_buf form, answer;
    dp_sigv4_result sig;
    dp_http_header headers[6];
    size_t nh = 0;
    char host[256], path[1024];
    int is_https = 0;
    long status = 0;
    const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";

    memset(out, 0, sizeof(*out));
    dp_buf_init(&form, (size_t)256 * 1024);
    dp_buf_init(&answer, DP_CRED_MAX_ANSWER_BYTES);
    dp_sigv4_result_init(&sig);
    if (dp_cred_url_split(call->endpoint, &is_https, host, sizeof(host), path, sizeof(path)) != 0) {
        dp_errf(errstr, errstr_size, "STS endpoint \"%s\" is not an http(s) URL", call->endpoint);
        rc = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    if ((rc = form_add(&form, "Action", call->action)) != DDBPIPE_OK ||
        (rc = form_add(&form, "Version", "2011-06-15")) != DDBPIPE_OK ||
        (rc = form_add(&form, "RoleArn", call->role_arn)) != DDBPIPE_OK ||
        (rc = form_add(&form, "RoleSessionName", call->role_session_name)) != DDBPIPE_OK ||
        (rc = form_add(&form, "ExternalId", call->external_id)) != DDBPIPE_OK ||
        (rc = form_add(&form, "DurationSeconds", call->duration_s)) != DDBPIPE_OK ||
        (rc = form_add(&form, "WebIdentityToken", call->web_identity_token)) != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "STS %s request too large", call->action);
        goto out;
    }
    headers[nh].name = "Host";
    headers[nh++].value = host;
    headers[nh].name = "Content-Type";
    headers[nh++].value = ctype;
    if (call->sign_with) {
        dp_sigv4_request sreq;
        dp_sigv4_params sp;
        char amz_date[17];
        const dp_credentials *c = call->sign_with;
        dp_sigv4_format_date(dp_wall_s(), amz_date);
        memset(&sreq, 0, sizeof(sreq));
        memset(&sp, 0, sizeof(sp));
        sreq.method = "POST";
        sreq.path = path;
        sreq.query = NULL;
        sreq.headers = headers;
        sreq.header_count = nh;
        sreq.body = form.data;
        sreq.body_len = form.len;
        sp.access_key_id = c->access_key_id;
        sp.secret_access_key = c->secret_access_key;
        sp.session_token = c->session_token[0] ? c->session_token : NULL;
        sp.region = call->region ? call->region : "us-east-1";
        sp.service = "sts";
        sp.amz_date = amz_date;
        sp.normalize_path = 1;
        if ((rc = dp_sigv4_sign(&sreq, &sp, NULL, &sig)) != DDBPIPE_OK) {
            dp_errf(errstr, errstr_size, "signing STS %s request failed (%s)", call->action,
                    ddbpipe_strerror(rc));
            goto out;
        }
        headers[nh].name = "X-Amz-Date";
        headers[nh++].value = sig.amz_date;
        if (c->session_token[0]) {
            headers[nh].name = "X-Amz-Security-Token";
            headers[nh++].value = c->session_token;
        }
        headers[nh].name = "Authorization";
        headers[nh++].value = sig.authorization.data;
    }
    {
        dp_cred_http_req hr;
        char herr[384] = "";
        memset(&hr, 0, sizeof(hr));
        hr.url = call->endpoint;
        hr.method = "POST";
        hr.headers = headers;
        hr.header_count = nh;
        hr.body = form.data;
        hr.body_len = form.len;
        hr.timeout_ms = call->timeout_ms;
        hr.verify_tls = call->verify_tls;
        hr.ca_file = call->ca_file;
        rc = dp_cred_http(&hr, &status, &answer, herr, sizeof(herr));
        if (rc != DDBPIPE_OK) {
            dp_errf(errstr, errstr_size, "STS %s: %s", call->action, herr);
            goto out;
        }
    }
    {
        char perr[640] = "";
        rc = dp_cred_parse_sts_xml(answer.data, answer.len, out, perr, sizeof(perr));
        if (status != 200) {
            /* the error document names the STS code; keep it */
            if (rc == DDBPIPE_OK)
                dp_credentials_clear(out);
            if (rc == DDBPIPE_ERR_AUTH || rc == DDBPIPE_ERR_SERVICE) {
                dp_errf(errstr, errstr_size, "STS %s for %s: HTTP %ld: %s", call->action, call->role_arn,
                        status, perr);
            } else {
                dp_errf(errstr, errstr_size, "STS %s for %s: HTTP %ld without an STS error document",
                        call->action, call->role_arn, status);
                rc = status >= 500 ? DDBPIPE_ERR_SERVICE : DDBPIPE_ERR_AUTH;
            }
            if (rc == DDBPIPE_OK)
                rc = DDBPIPE_ERR_SERVICE;
            goto out;
        }
        if (rc != DDBPIPE_OK) {
            dp_errf(errstr, errstr_size, "STS %s for %s: %s", call->action, call->role_arn, perr);
            goto out;
        }
    }
out:
    if (form.data)
        explicit_bzero(form.data, form.len); /* holds the web identity token */
    dp_buf_free(&form);
    if (answer.data)
        explicit_bzero(answer.data, answer.len);
    dp_buf_free(&answer);
    dp_sigv4_result_free(&sig);
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}
