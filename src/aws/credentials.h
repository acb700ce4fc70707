/* Credentials providers behind one small vtable, and the default chain. */
#ifndef DP_AWS_CREDENTIALS_H
#define DP_AWS_CREDENTIALS_H

#include <stdint.h>

#include "ddbpipe/ddbpipe.h"

typedef struct dp_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[2048]; /* "" when none */
    int64_t expiration_s;     /* epoch seconds; 0 = never expires */
    char provider[64];        /* which provider supplied them (never secret) */
} dp_credentials;

/* Wipe secrets from memory. */
void dp_credentials_clear(dp_credentials *c);

typedef struct dp_cred_provider dp_cred_provider;
typedef struct dp_cred_provider_vtable {
    const char *name;
    /* Fetch fresh credentials. DDBPIPE_ERR_NOT_FOUND: this provider does not
     * apply (chain moves on); other errors: it applies but failed (chain
     * stops and reports, as the SDKs do). errstr must never hold secrets. */
    ddbpipe_result_t (*fetch)(dp_cred_provider *p, dp_credentials *out, char *errstr, size_t errstr_size);
    void (*destroy)(dp_cred_provider *p);
} dp_cred_provider_vtable;

struct dp_cred_provider {
    const dp_cred_provider_vtable *vt;
    void *impl;
};

/* Options for the chain; NULL fields fall back to the environment. */
typedef struct dp_cred_options {
    const char *access_key_id; /* static config */
    const char *secret_access_key;
    const char *session_token;
    const char *profile;          /* else AWS_PROFILE, else "default" */
    const char *region;           /* for STS */
    const char *sts_endpoint;     /* else AWS_ENDPOINT_URL_STS, else https://sts.REGION.amazonaws.com */
    const char *credentials_file; /* else AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials */
    const char *config_file;      /* else AWS_CONFIG_FILE, else ~/.aws/config */
    const char *web_identity_token_file; /* else AWS_WEB_IDENTITY_TOKEN_FILE */
    const char *role_arn;                /* else AWS_ROLE_ARN */
    const char *role_session_name;       /* else AWS_ROLE_SESSION_NAME, else "ddbpipe-<pid>" */
    const char *external_id;
    const char *provider;    /* force one: "static","environment","web-identity","profile",
                                "container","imds", NULL = whole chain */
    long timeout_ms;         /* per HTTP call to STS/IMDS/container, default 1000 (IMDS) / 5000 */
    int refresh_before_s;    /* refresh this long before expiry, default 300 */
    int verify_tls;          /* default 1 */
    long process_timeout_ms; /* credential_process run time limit, default 60000 */
    const char *ca_file;     /* CA bundle for STS/container/IMDS over https; else AWS_CA_BUNDLE,
                                else the system store */
} dp_cred_options;

/* Zero the options and set the documented defaults (verify_tls = 1). Fields
 * are taken as given afterwards: verify_tls 0 turns TLS checking off. */
void dp_cred_options_init(dp_cred_options *o);

/* The caching chain: returns cached credentials until refresh_before_s
 * before expiration, then fetches again from the provider that worked. */
typedef struct dp_cred_chain dp_cred_chain;
dp_cred_chain *dp_cred_chain_new(const dp_cred_options *opts);
void dp_cred_chain_destroy(dp_cred_chain *chain);
/* Valid (unexpired) credentials or an error naming every provider tried. */
ddbpipe_result_t dp_cred_chain_get(dp_cred_chain *chain, int64_t now_s, dp_credentials *out, char *errstr,
                                   size_t errstr_size);
/* Drop the cache (e.g. after the service says the token expired). */
void dp_cred_chain_invalidate(dp_cred_chain *chain);
/* A caching chain over explicit providers (takes ownership of the providers
 * and of the array's elements, not of the array). For tests and embedding. */
dp_cred_chain *dp_cred_chain_new_from(dp_cred_provider **providers, size_t count, int refresh_before_s);

/* Individual providers (for tests and explicit selection). */
dp_cred_provider *dp_cred_provider_static_new(const char *akid, const char *secret, const char *token);
dp_cred_provider *dp_cred_provider_env_new(void);
dp_cred_provider *dp_cred_provider_web_identity_new(const dp_cred_options *opts);
dp_cred_provider *dp_cred_provider_profile_new(const dp_cred_options *opts);
dp_cred_provider *dp_cred_provider_container_new(const dp_cred_options *opts);
dp_cred_provider *dp_cred_provider_imds_new(const dp_cred_options *opts);
/* STS AssumeRole of opts->role_arn (external_id, role_session_name, region,
 * sts_endpoint) with source credentials from base, which it takes ownership
 * of (also on failure). */
dp_cred_provider *dp_cred_provider_assume_role_new(dp_cred_chain *base, const dp_cred_options *opts);
void dp_cred_provider_destroy(dp_cred_provider *p);

/* Parsers separate from I/O (fuzzable). */
/* INI file (credentials/config); calls cb for each key in section (keys
 * lower-cased, values trimmed, no inline comments, indented sub-keys
 * skipped). 0 ok; N > 0: syntax error on line N; -1: cb returned non-zero. */
int dp_ini_parse(const char *text, size_t len,
                 int (*cb)(const char *section, const char *key, const char *value, void *opaque),
                 void *opaque);
/* Container/IMDS/credential_process JSON answer. */
ddbpipe_result_t dp_cred_parse_json(const char *body, size_t len, dp_credentials *out, char *errstr,
                                    size_t errstr_size);
/* credential_process output: as dp_cred_parse_json, and Version must be 1. */
ddbpipe_result_t dp_cred_parse_process_json(const char *body, size_t len, dp_credentials *out, char *errstr,
                                            size_t errstr_size);
/* STS AssumeRole / AssumeRoleWithWebIdentity XML answer. An STS
 * <Error> document gives DDBPIPE_ERR_AUTH (auth codes) or DDBPIPE_ERR_SERVICE
 * with "STS error <Code>: <Message>" in errstr. */
ddbpipe_result_t dp_cred_parse_sts_xml(const char *body, size_t len, dp_credentials *out, char *errstr,
                                       size_t errstr_size);

#endif
