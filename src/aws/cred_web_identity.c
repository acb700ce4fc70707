/* Web identity (EKS IRSA and friends): a token file plus a role ARN,
 * exchanged at STS with AssumeRoleWithWebIdentity. The token file is read
 * on every fetch because the platform rotates it. */
#include <stdlib.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "common/util.h"

#define TOKEN_MAX ((size_t)64 * 1024)

static ddbpipe_result_t wi_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    const dp_cred_options *o = &((dp_cred_opts_copy *)p->impl)->o;
    const char *token_file = dp_cred_opt_env(o->web_identity_token_file, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role_arn = dp_cred_opt_env(o->role_arn, "AWS_ROLE_ARN");
    const char *session = dp_cred_opt_env(o->role_session_name, "AWS_ROLE_SESSION_NAME");
    const char *region = dp_cred_region(o->region);
    char default_session[64], endpoint[512];
    char *token = NULL;
    size_t token_len = 0;
    dp_cred_sts_call call;

    memset(out, 0, sizeof(*out));
    if (!token_file) {
        dp_errf(errstr, errstr_size, "AWS_WEB_IDENTITY_TOKEN_FILE not set");
        return DDBPIPE_ERR_NOT_FOUND;
    }
    if (!role_arn) {
        dp_errf(errstr, errstr_size, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
        return DDBPIPE_ERR_CONFIG;
    }
    token = dp_read_file(token_file, TOKEN_MAX, &token_len);
    if (!token) {
        dp_errf(errstr, errstr_size,
                "cannot read web identity token file %s (missing, unreadable or over %zu bytes)", token_file,
                TOKEN_MAX);
        rc = DDBPIPE_ERR_IO;
        goto out;
    }
    /* the file may end with a newline; a token never contains whitespace */
    while (token_len && (token[token_len - 1] == '\n' || token[token_len - 1] == '\r' ||
                         token[token_len - 1] == ' ' || token[token_len - 1] == '\t'))
        token[--token_len] = '\0';
    if (token_len == 0 || strlen(token) != token_len) {
        dp_errf(errstr, errstr_size, "web identity token file %s is empty or binary", token_file);
        rc = DDBPIPE_ERR_CREDENTIALS;
        goto out;
    }
    if (!session) {
        dp_cred_default_session_name(default_session, sizeof(default_session));
        session = default_session;
    }
    dp_cred_sts_endpoint(o->sts_endpoint, region, endpoint, sizeof(endpoint));
    memset(&call, 0, sizeof(call));
    call.endpoint = endpoint;
    call.region = region;
    call.action = "AssumeRoleWithWebIdentity";
    call.role_arn = role_arn;
    call.role_session_name = session;
    call.web_identity_token = token;
    call.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DP_CRED_DEFAULT_TIMEOUT_MS;
    call.verify_tls = o->verify_tls;
    call.ca_file = dp_cred_ca_file(o);
    rc = dp_cred_sts(&call, out, errstr, errstr_size);
    if (rc == DDBPIPE_OK)
        strcpy(out->provider, "web-identity");
out:
    if (token) {
        explicit_bzero(token, token_len);
        free(token);
    }
    return rc;
}

static const dp_cred_provider_vtable wi_vt = {"web-identity", wi_fetch, dp_cred_opts_provider_destroy};

dp_cred_provider *dp_cred_provider_web_identity_new(const dp_cred_options *opts) {
    return dp_cred_opts_provider_new(&wi_vt, opts);
}
