/* The default credentials chain and its cache.
 *
 * Order (as most SDKs): static config, environment, web identity, shared
 * files/profiles, container, IMDS. A provider that does not apply returns
 * DDBPIPE_ERR_NOT_FOUND and the chain moves on; one that applies but fails
 * stops the chain (a broken profile must not silently fall back to the
 * instance role). The cache refreshes refresh_before_s before expiration
 * from the provider that worked; when that refresh fails the still-valid
 * cached credentials are kept, expired ones are never returned. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/cred_internal.h"
#include "aws/credentials.h"
#include "common/log.h"
#include "common/util.h"

void dp_credentials_clear(dp_credentials *c) {
    if (c)
        explicit_bzero(c, sizeof(*c));
}

void dp_cred_provider_destroy(dp_cred_provider *p) {
    if (p && p->vt && p->vt->destroy)
        p->vt->destroy(p);
}

const char *dp_cred_getenv(const char *name) {
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

const char *dp_cred_opt_env(const char *opt, const char *env_name) {
    if (opt && *opt)
        return opt;
    return dp_cred_getenv(env_name);
}

const char *dp_cred_region(const char *opt) {
    const char *r = dp_cred_opt_env(opt, "AWS_REGION");
    return r ? r : dp_cred_getenv("AWS_DEFAULT_REGION");
}

const char *dp_cred_ca_file(const dp_cred_options *o) {
    return dp_cred_opt_env(o ? o->ca_file : NULL, "AWS_CA_BUNDLE");
}

static int dup_str(const char **dst, const char *src) {
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

ddbpipe_result_t dp_cred_opts_dup(dp_cred_opts_copy *dst, const dp_cred_options *src) {
    dp_cred_options z;
    dp_cred_options_init(&z); /* the defaults when src is NULL */
    memset(dst, 0, sizeof(*dst));
    if (!src)
        src = &z;
    dst->o = *src;
    if (dup_str(&dst->o.access_key_id, src->access_key_id) ||
        dup_str(&dst->o.secret_access_key, src->secret_access_key) ||
        dup_str(&dst->o.session_token, src->session_token) || dup_str(&dst->o.profile, src->profile) ||
        dup_str(&dst->o.region, src->region) || dup_str(&dst->o.sts_endpoint, src->sts_endpoint) ||
        dup_str(&dst->o.credentials_file, src->credentials_file) ||
        dup_str(&dst->o.config_file, src->config_file) ||
        dup_str(&dst->o.web_identity_token_file, src->web_identity_token_file) ||
        dup_str(&dst->o.role_arn, src->role_arn) ||
        dup_str(&dst->o.role_session_name, src->role_session_name) ||
        dup_str(&dst->o.external_id, src->external_id) || dup_str(&dst->o.provider, src->provider) ||
        dup_str(&dst->o.ca_file, src->ca_file)) {
        dp_cred_opts_free(dst);
        return DDBPIPE_ERR_NOMEM;
    }
    return DDBPIPE_OK;
}

static void free_secret(const char *s) {
    if (s) {
        explicit_bzero((char *)s, strlen(s));
        free((char *)s);
    }
}

void dp_cred_opts_free(dp_cred_opts_copy *c) {
    if (!c)
        return;
    free((char *)c->o.access_key_id);
    free_secret(c->o.secret_access_key);
    free_secret(c->o.session_token);
    free((char *)c->o.profile);
    free((char *)c->o.region);
    free((char *)c->o.sts_endpoint);
    free((char *)c->o.credentials_file);
    free((char *)c->o.config_file);
    free((char *)c->o.web_identity_token_file);
    free((char *)c->o.role_arn);
    free((char *)c->o.role_session_name);
    free((char *)c->o.external_id);
    free((char *)c->o.provider);
    free((char *)c->o.ca_file);
    memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------- chain */

#define CHAIN_MAX 8

struct dp_cred_chain {
    pthread_mutex_t mu;
    dp_cred_provider *providers[CHAIN_MAX];
    size_t count;
    int refresh_before_s;
    ddbpipe_result_t config_rc; /* e.g. unknown forced provider */
    char config_err[160];
    int have;
    size_t source; /* index of the provider that supplied `cached` */
    dp_credentials cached;
};

static dp_cred_chain *chain_alloc(int refresh_before_s) {
    dp_cred_chain *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->refresh_before_s = refresh_before_s > 0 ? refresh_before_s : 300;
    return c;
}

dp_cred_chain *dp_cred_chain_new_from(dp_cred_provider **providers, size_t count, int refresh_before_s) {
    size_t i;
    dp_cred_chain *c;
    if (count > CHAIN_MAX)
        return NULL;
    c = chain_alloc(refresh_before_s);
    if (!c) {
        for (i = 0; i < count; i++)
            dp_cred_provider_destroy(providers[i]);
        return NULL;
    }
    for (i = 0; i < count; i++)
        c->providers[i] = providers[i];
    c->count = count;
    return c;
}

dp_cred_chain *dp_cred_chain_new(const dp_cred_options *opts) {
    dp_cred_provider *ps[CHAIN_MAX];
    size_t n = 0, i;
    const char *force = opts ? opts->provider : NULL;
    int all = !force || !*force || strcmp(force, "chain") == 0 || strcmp(force, "default") == 0;
    int known = all;
    dp_cred_chain *c;

#define ADD(label, expr)                                                                                     \
    do {                                                                                                     \
        if (all || strcmp(force, label) == 0) {                                                              \
            known = 1;                                                                                       \
            if (!(ps[n] = (expr)))                                                                           \
                goto fail;                                                                                   \
            n++;                                                                                             \
        }                                                                                                    \
    } while (0)
    ADD("static",
        dp_cred_provider_static_new(opts ? opts->access_key_id : NULL, opts ? opts->secret_access_key : NULL,
                                    opts ? opts->session_token : NULL));
    ADD("environment", dp_cred_provider_env_new());
    ADD("web-identity", dp_cred_provider_web_identity_new(opts));
    ADD("profile", dp_cred_provider_profile_new(opts));
    ADD("container", dp_cred_provider_container_new(opts));
    ADD("imds", dp_cred_provider_imds_new(opts));
#undef ADD
    c = dp_cred_chain_new_from(ps, n, opts ? opts->refresh_before_s : 0);
    if (c && !known) {
        c->config_rc = DDBPIPE_ERR_CONFIG;
        dp_errf(
            c->config_err, sizeof(c->config_err),
            "unknown credentials provider \"%.40s\" (static, environment, web-identity, profile, container, "
            "imds)",
            force);
    }
    return c;
fail:
    for (i = 0; i < n; i++)
        dp_cred_provider_destroy(ps[i]);
    return NULL;
}

void dp_cred_chain_destroy(dp_cred_chain *chain) {
    size_t i;
    if (!chain)
        return;
    for (i = 0; i < chain->count; i++)
        dp_cred_provider_destroy(chain->providers[i]);
    dp_credentials_clear(&chain->cached);
    pthread_mutex_destroy(&chain->mu);
    free(chain);
}

void dp_cred_chain_invalidate(dp_cred_chain *chain) {
    if (!chain)
        return;
    pthread_mutex_lock(&chain->mu);
    chain->have = 0;
    dp_credentials_clear(&chain->cached);
    pthread_mutex_unlock(&chain->mu);
}

static int fresh(const dp_cred_chain *c, const dp_credentials *cr, int64_t now_s) {
    return cr->expiration_s == 0 || now_s < cr->expiration_s - c->refresh_before_s;
}

static const char *pname(const dp_cred_provider *p) {
    return (p && p->vt && p->vt->name) ? p->vt->name : "?";
}

/* Fetch from one provider; rejects answers that are already expired. */
static ddbpipe_result_t fetch_one(dp_cred_provider *p, int64_t now_s, dp_credentials *out, char *err,
                                  size_t n) {
    ddbpipe_result_t rc;
    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    rc = p->vt->fetch(p, out, err, n);
    if (rc == DDBPIPE_OK && (out->access_key_id[0] == '\0' || out->secret_access_key[0] == '\0')) {
        dp_errf(err, n, "provider returned an empty access key id or secret");
        rc = DDBPIPE_ERR_CREDENTIALS;
    }
    if (rc == DDBPIPE_OK && out->expiration_s != 0 && out->expiration_s <= now_s) {
        char m[32];
        dp_errf(err, n, "credentials for %s from %s expired %lld s ago (clock skew?)",
                dp_mask_key(out->access_key_id, m), out->provider, (long long)(now_s - out->expiration_s));
        rc = DDBPIPE_ERR_CREDENTIALS;
    }
    if (rc == DDBPIPE_OK && out->provider[0] == '\0')
        dp_cred_set_field(out->provider, sizeof(out->provider), pname(p), strlen(pname(p)));
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}

ddbpipe_result_t dp_cred_chain_get(dp_cred_chain *chain, int64_t now_s, dp_credentials *out, char *errstr,
                                   size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_credentials fetched;
    char err[768];
    char mask[32];
    dp_buf tried;
    size_t i;

    if (!chain || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    memset(&fetched, 0, sizeof(fetched));
    dp_buf_init(&tried, 4096);
    pthread_mutex_lock(&chain->mu);
    if (chain->config_rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "%s", chain->config_err);
        rc = chain->config_rc;
        goto out;
    }
    if (chain->have && fresh(chain, &chain->cached, now_s)) {
        *out = chain->cached;
        goto out;
    }
    if (chain->have) {
        /* refresh from the provider that worked */
        dp_cred_provider *p = chain->providers[chain->source];
        rc = fetch_one(p, now_s, &fetched, err, sizeof(err));
        if (rc == DDBPIPE_OK) {
            chain->cached = fetched;
            *out = fetched;
            DP_LOG_DEBUG("credentials refreshed from %s (access key %s)", fetched.provider,
                         dp_mask_key(fetched.access_key_id, mask));
            goto out;
        }
        if (chain->cached.expiration_s > now_s) {
            DP_LOG_WARN("refreshing credentials from %s failed, using cached ones valid for %lld more s: %s",
                        chain->cached.provider, (long long)(chain->cached.expiration_s - now_s), err);
            *out = chain->cached;
            rc = DDBPIPE_OK;
            goto out;
        }
        dp_errf(errstr, errstr_size, "refreshing expired credentials from %s failed: %s",
                chain->cached.provider, err[0] ? err : ddbpipe_strerror(rc));
        if (rc == DDBPIPE_ERR_NOT_FOUND)
            rc = DDBPIPE_ERR_CREDENTIALS;
        chain->have = 0;
        dp_credentials_clear(&chain->cached);
        goto out;
    }
    for (i = 0; i < chain->count; i++) {
        dp_cred_provider *p = chain->providers[i];
        rc = fetch_one(p, now_s, &fetched, err, sizeof(err));
        if (rc == DDBPIPE_OK) {
            chain->cached = fetched;
            chain->source = i;
            chain->have = 1;
            *out = fetched;
            DP_LOG_INFO("credentials from %s (access key %s)", fetched.provider,
                        dp_mask_key(fetched.access_key_id, mask));
            goto out;
        }
        if (rc != DDBPIPE_ERR_NOT_FOUND) {
            dp_errf(errstr, errstr_size, "credentials provider %s failed: %s", pname(p),
                    err[0] ? err : ddbpipe_strerror(rc));
            goto out;
        }
        dp_buf_printf(&tried, "%s%s (%s)", tried.len ? "; " : "", pname(p), err[0] ? err : "not configured");
    }
    dp_errf(errstr, errstr_size, "no credentials found; tried %s", tried.len ? tried.data : "no providers");
    rc = DDBPIPE_ERR_CREDENTIALS;
out:
    pthread_mutex_unlock(&chain->mu);
    dp_credentials_clear(&fetched);
    dp_buf_free(&tried);
    return rc;
}

dp_cred_provider *dp_cred_opts_provider_new(const dp_cred_provider_vtable *vt, const dp_cred_options *opts) {
    dp_cred_provider *p = calloc(1, sizeof(*p));
    dp_cred_opts_copy *c = calloc(1, sizeof(*c));
    if (!p || !c || dp_cred_opts_dup(c, opts) != DDBPIPE_OK) {
        free(p);
        free(c);
        return NULL;
    }
    p->vt = vt;
    p->impl = c;
    return p;
}

void dp_cred_opts_provider_destroy(dp_cred_provider *p) {
    if (!p)
        return;
    dp_cred_opts_free(p->impl);
    free(p->impl);
    free(p);
}

void dp_cred_options_init(dp_cred_options *o) {
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->verify_tls = 1;
}
