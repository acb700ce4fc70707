/* Shared pieces of the credentials providers (src/aws/cred_*.c). Private to
 * the providers: the public contract is credentials.h. */
#ifndef DP_AWS_CRED_INTERNAL_H
#define DP_AWS_CRED_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "common/buf.h"

#define DP_CRED_DEFAULT_TIMEOUT_MS 5000L
#define DP_CRED_IMDS_TIMEOUT_MS 1000L
#define DP_CRED_PROCESS_TIMEOUT_MS 60000L
#define DP_CRED_MAX_ANSWER_BYTES ((size_t)1024 * 1024)

/* Deep copy of dp_cred_options (every string owned). */
typedef struct dp_cred_opts_copy {
    dp_cred_options o;
} dp_cred_opts_copy;
ddbpipe_result_t dp_cred_opts_dup(dp_cred_opts_copy *dst, const dp_cred_options *src);
void dp_cred_opts_free(dp_cred_opts_copy *c);
/* A provider whose impl is a dp_cred_opts_copy (web identity, profile,
 * container, IMDS); the matching destroy frees it. */
dp_cred_provider *dp_cred_opts_provider_new(const dp_cred_provider_vtable *vt, const dp_cred_options *opts);
void dp_cred_opts_provider_destroy(dp_cred_provider *p);

/* getenv that treats "" like unset. */
const char *dp_cred_getenv(const char *name);
/* opt when non-empty, else the environment variable, else NULL. */
const char *dp_cred_opt_env(const char *opt, const char *env_name);
/* CA bundle for the providers' HTTPS calls: opt, else AWS_CA_BUNDLE, else
 * NULL (the system store). */
const char *dp_cred_ca_file(const dp_cred_options *o);
/* Region for STS: opt, AWS_REGION, AWS_DEFAULT_REGION, else NULL. */
const char *dp_cred_region(const char *opt);

/* Copy a field into a fixed credentials slot; -1 when it does not fit. */
int dp_cred_set_field(char *dst, size_t cap, const char *src, size_t len);

/* One blocking HTTP exchange over the HTTP layer (dp_http_perform); the
 * answer is appended to body (its max_len caps it, default
 * DP_CRED_MAX_ANSWER_BYTES). DDBPIPE_OK when any HTTP status arrived. */
typedef struct dp_cred_http_req {
    const char *url;
    const char *method; /* "GET", "PUT", "POST" */
    const dp_http_header *headers;
    size_t header_count;
    const char *body;
    size_t body_len;
    long timeout_ms;
    int verify_tls;
    const char *ca_file; /* NULL: system store */
    int no_proxy;        /* link-local / loopback metadata services never go through a proxy */
} dp_cred_http_req;
ddbpipe_result_t dp_cred_http(const dp_cred_http_req *req, long *status, dp_buf *body, char *errstr,
                              size_t errstr_size);

/* Split an http(s) URL: host header value (default port dropped) and path
 * (with query; "/" when empty). 0 ok, -1 malformed. */
int dp_cred_url_split(const char *url, int *is_https, char *host, size_t host_size, char *path,
                      size_t path_size);

/* STS call (AssumeRole signed with sign_with, AssumeRoleWithWebIdentity
 * unsigned when sign_with is NULL). */
typedef struct dp_cred_sts_call {
    const char *endpoint; /* resolved by dp_cred_sts_endpoint */
    const char *region;   /* signing region */
    const char *action;   /* "AssumeRole" / "AssumeRoleWithWebIdentity" */
    const char *role_arn;
    const char *role_session_name;
    const char *external_id;        /* AssumeRole only, may be NULL */
    const char *duration_s;         /* may be NULL */
    const char *web_identity_token; /* AssumeRoleWithWebIdentity only */
    const dp_credentials *sign_with;
    long timeout_ms;
    int verify_tls;
    const char *ca_file; /* NULL: system store */
} dp_cred_sts_call;
ddbpipe_result_t dp_cred_sts(const dp_cred_sts_call *call, dp_credentials *out, char *errstr,
                             size_t errstr_size);
/* opt endpoint, AWS_ENDPOINT_URL_STS, https://sts.REGION.amazonaws.com, or the
 * global endpoint when region is NULL. */
void dp_cred_sts_endpoint(const char *opt_endpoint, const char *region, char *out, size_t out_size);
/* Default role session name "ddbpipe-<pid>". */
void dp_cred_default_session_name(char *out, size_t out_size);

/* Run a credential_process command (/bin/sh -c) and parse its JSON. */
ddbpipe_result_t dp_cred_run_process(const char *command, long timeout_ms, dp_credentials *out, char *errstr,
                                     size_t errstr_size);

#endif
