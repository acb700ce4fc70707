/* Assume-role on top of another chain (Flink's aws.credentials.provider =
 * ASSUME_ROLE): the base chain supplies the source credentials, STS
 * AssumeRole turns them into temporary credentials for role_arn. Profiles
 * with role_arn + source_profile are handled by the profile provider; this
 * is for a role named directly in the configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "common/util.h"

typedef struct assume_role_impl {
    dp_cred_chain *base;
    dp_cred_opts_copy opts;
} assume_role_impl;

static ddbpipe_result_t assume_role_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr,
                                          size_t errstr_size) {
    assume_role_impl *ar = p->impl;
    const dp_cred_options *o = &ar->opts.o;
    dp_credentials src;
    char endpoint[512], session[128], inner[512];
    ddbpipe_result_t r;

    memset(&src, 0, sizeof src);
    r = dp_cred_chain_get(ar->base, dp_wall_s(), &src, inner, sizeof inner);
    if (r != DDBPIPE_OK) {
        /* A base chain that found nothing is a failure here: the role was asked for. */
        dp_errf(errstr, errstr_size, "assume-role %s: no source credentials: %s", o->role_arn, inner);
        return r == DDBPIPE_ERR_NOT_FOUND ? DDBPIPE_ERR_CREDENTIALS : r;
    }
    const char *region = dp_cred_region(o->region);
    dp_cred_sts_endpoint(o->sts_endpoint, region, endpoint, sizeof endpoint);
    if (o->role_session_name && o->role_session_name[0])
        snprintf(session, sizeof session, "%s", o->role_session_name);
    else
        dp_cred_default_session_name(session, sizeof session);
    dp_cred_sts_call call = {
        .endpoint = endpoint,
        .region = region ? region : "us-east-1",
        .action = "AssumeRole",
        .role_arn = o->role_arn,
        .role_session_name = session,
        .external_id = o->external_id,
        .sign_with = &src,
        .timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DP_CRED_DEFAULT_TIMEOUT_MS,
        .verify_tls = o->verify_tls,
        .ca_file = dp_cred_ca_file(o),
    };
    r = dp_cred_sts(&call, out, errstr, errstr_size);
    if (r == DDBPIPE_OK)
        snprintf(out->provider, sizeof out->provider, "assume-role(%.40s)", src.provider);
    dp_credentials_clear(&src);
    return r;
}

static void assume_role_destroy(dp_cred_provider *p) {
    assume_role_impl *ar = p->impl;
    if (ar) {
        dp_cred_chain_destroy(ar->base);
        dp_cred_opts_free(&ar->opts);
        free(ar);
    }
    free(p);
}

static const dp_cred_provider_vtable assume_role_vt = {"assume-role", assume_role_fetch, assume_role_destroy};

dp_cred_provider *dp_cred_provider_assume_role_new(dp_cred_chain *base, const dp_cred_options *opts) {
    dp_cred_provider *p = NULL;
    assume_role_impl *ar = NULL;
    if (!base || !opts || !opts->role_arn || !opts->role_arn[0])
        goto fail;
    p = calloc(1, sizeof *p);
    ar = calloc(1, sizeof *ar);
    if (!p || !ar || dp_cred_opts_dup(&ar->opts, opts) != DDBPIPE_OK)
        goto fail;
    ar->base = base;
    p->vt = &assume_role_vt;
    p->impl = ar;
    return p;
fail:
    /* Ownership of base passes to us even on failure, so callers have one rule. */
    dp_cred_chain_destroy(base);
    if (ar)
        dp_cred_opts_free(&ar->opts);
    free(ar);
    free(p);
    return NULL;
}
