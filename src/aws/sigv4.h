/* AWS Signature Version 4 as a pure function: same inputs, same output, no
 * clock and no I/O. Tested against the AWS signing test suite and botocore. */
#ifndef DP_AWS_SIGV4_H
#define DP_AWS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "http/http.h" /* dp_http_header */

typedef struct dp_sigv4_request {
    const char *method;            /* "POST" */
    const char *path;              /* raw path, e.g. "/" (normalized per SigV4 rules) */
    const char *query;             /* raw query string without '?', or NULL */
    const dp_http_header *headers; /* must include Host; X-Amz-Date is added if absent */
    size_t header_count;
    const void *body;
    size_t body_len;
} dp_sigv4_request;

typedef struct dp_sigv4_params {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when none */
    const char *region;
    const char *service;    /* "dynamodb", "sts" */
    const char *amz_date;   /* "20150830T123600Z" */
    int normalize_path;     /* 1 for every service but S3 */
    int omit_session_token; /* 1: leave X-Amz-Security-Token out of the signed headers (suite's variant) */
} dp_sigv4_params;

/* Signing key cache: the key changes once a day per (secret, region,
 * service). Opaque storage, zero-initialize. Not thread-safe. */
typedef struct dp_sigv4_key_cache {
    char date[9];
    char region[64];
    char service[32];
    unsigned char secret_hash[32]; /* sha256 of the secret: never store the secret twice */
    unsigned char key[32];
    int valid;
} dp_sigv4_key_cache;

typedef struct dp_sigv4_result {
    dp_buf canonical_request;
    dp_buf string_to_sign;
    char signature[65];
    dp_buf authorization; /* full Authorization header value */
    char amz_date[17];
    /* Headers the caller must add to the request besides Authorization:
     * X-Amz-Date always, X-Amz-Security-Token when a token is set. */
} dp_sigv4_result;

void dp_sigv4_result_init(dp_sigv4_result *r);
void dp_sigv4_result_free(dp_sigv4_result *r);

/* cache may be NULL. Returns DDBPIPE_OK or an error for malformed input. */
ddbpipe_result_t dp_sigv4_sign(const dp_sigv4_request *req, const dp_sigv4_params *params,
                               dp_sigv4_key_cache *cache, dp_sigv4_result *out);

/* "YYYYMMDDTHHMMSSZ" for the given epoch seconds. out holds 17 bytes. */
void dp_sigv4_format_date(int64_t epoch_s, char out[17]);

/* Crypto helpers (OpenSSL underneath). */
void dp_sha256(const void *data, size_t len, unsigned char out[32]);
void dp_sha256_hex(const void *data, size_t len, char out[65]);
void dp_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32]);
void dp_hex(const unsigned char *in, size_t n, char *out); /* out holds 2n+1 */

/* Streamed SHA-256, for inputs read in pieces (a checkpoint's file prefix).
 * _new: NULL when out of memory. _update: 0, or -1 (OpenSSL failure).
 * _hex_so_far: the digest of every byte given so far, leaving the stream
 * open for more (0, or -1). _free accepts NULL. One thread at a time. */
typedef struct dp_sha256_stream dp_sha256_stream;
dp_sha256_stream *dp_sha256_stream_new(void);
int dp_sha256_stream_update(dp_sha256_stream *h, const void *data, size_t len);
int dp_sha256_stream_hex_so_far(const dp_sha256_stream *h, char out[65]);
void dp_sha256_stream_free(dp_sha256_stream *h);

#endif
