/* Static keys from the configuration (first in the chain). */
#include <stdlib.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "common/util.h"

typedef struct static_impl {
    dp_credentials creds;
    int have_akid, have_secret;
} static_impl;

static ddbpipe_result_t static_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr,
                                     size_t errstr_size) {
    static_impl *s = p->impl;
    if (!s->have_akid && !s->have_secret) {
        dp_errf(errstr, errstr_size, "no access_key_id in config");
        return DDBPIPE_ERR_NOT_FOUND;
    }
    if (!s->have_akid || !s->have_secret) {
        dp_errf(errstr, errstr_size, "config sets %s but not %s",
                s->have_akid ? "access_key_id" : "secret_access_key",
                s->have_akid ? "secret_access_key" : "access_key_id");
        return DDBPIPE_ERR_CONFIG;
    }
    *out = s->creds;
    return DDBPIPE_OK;
}

static void static_destroy(dp_cred_provider *p) {
    if (!p)
        return;
    if (p->impl)
        dp_credentials_clear(p->impl);
    free(p->impl);
    free(p);
}

static const dp_cred_provider_vtable static_vt = {"static", static_fetch, static_destroy};

dp_cred_provider *dp_cred_provider_static_new(const char *akid, const char *secret, const char *token) {
    dp_cred_provider *p = calloc(1, sizeof(*p));
    static_impl *s = calloc(1, sizeof(*s));
    if (!p || !s)
        goto fail;
    p->vt = &static_vt;
    p->impl = s;
    s->have_akid = akid && *akid;
    s->have_secret = secret && *secret;
    /* too-long values fail at creation: no provider can use them */
    if (akid && *akid &&
        dp_cred_set_field(s->creds.access_key_id, sizeof(s->creds.access_key_id), akid, strlen(akid)))
        goto fail;
    if (secret && *secret &&
        dp_cred_set_field(s->creds.secret_access_key, sizeof(s->creds.secret_access_key), secret,
                          strlen(secret)))
        goto fail;
    if (token && *token &&
        dp_cred_set_field(s->creds.session_token, sizeof(s->creds.session_token), token, strlen(token)))
        goto fail;
    strcpy(s->creds.provider, "static");
    return p;
fail:
    if (s)
        dp_credentials_clear(&s->creds);
    free(s);
    free(p);
    return NULL;
}
