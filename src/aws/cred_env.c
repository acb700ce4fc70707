/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, read at
 * fetch time so a refresh sees a changed environment. */
#include <stdlib.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "common/util.h"

static ddbpipe_result_t env_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr,
                                  size_t errstr_size) {
    const char *akid = dp_cred_getenv("AWS_ACCESS_KEY_ID");
    const char *secret = dp_cred_getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = dp_cred_getenv("AWS_SESSION_TOKEN");
    const char *exp = dp_cred_getenv("AWS_CREDENTIAL_EXPIRATION");
    (void)p;
    memset(out, 0, sizeof(*out));
    if (!akid && !secret) {
        dp_errf(errstr, errstr_size, "AWS_ACCESS_KEY_ID not set");
        return DDBPIPE_ERR_NOT_FOUND;
    }
    if (!akid || !secret) {
        dp_errf(errstr, errstr_size, "%s is set but %s is not",
                akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return DDBPIPE_ERR_CREDENTIALS;
    }
    if (dp_cred_set_field(out->access_key_id, sizeof(out->access_key_id), akid, strlen(akid)) ||
        dp_cred_set_field(out->secret_access_key, sizeof(out->secret_access_key), secret, strlen(secret)) ||
        (token && dp_cred_set_field(out->session_token, sizeof(out->session_token), token, strlen(token)))) {
        dp_credentials_clear(out);
        dp_errf(errstr, errstr_size,
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long");
        return DDBPIPE_ERR_CREDENTIALS;
    }
    if (exp) {
        out->expiration_s = dp_parse_iso8601(exp);
        if (out->expiration_s <= 0) {
            dp_credentials_clear(out);
            dp_errf(errstr, errstr_size, "AWS_CREDENTIAL_EXPIRATION \"%.40s\" is not an ISO-8601 time", exp);
            return DDBPIPE_ERR_CREDENTIALS;
        }
    }
    strcpy(out->provider, "environment");
    return DDBPIPE_OK;
}

static void env_destroy(dp_cred_provider *p) {
    free(p);
}

static const dp_cred_provider_vtable env_vt = {"environment", env_fetch, env_destroy};

dp_cred_provider *dp_cred_provider_env_new(void) {
    dp_cred_provider *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->vt = &env_vt;
    return p;
}
