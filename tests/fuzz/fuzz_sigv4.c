/* libFuzzer target for the SigV4 signer. The input is split on '\n' into
 * fields: method, path, query, access key id, secret, session token, region,
 * service, amz_date, flags (byte 0: normalize_path, byte 1: omit token),
 * then "name:value" header lines up to an empty line; the rest is the body.
 * Invariants checked: a successful signature is 64 lower-case hex digits,
 * the Authorization value carries it, signing is deterministic and the key
 * cache does not change the result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"

#define NFIELDS 10
#define MAX_HEADERS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_lower_hex64(const char *s) {
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);
    char *fields[NFIELDS] = {0};
    dp_http_header headers[MAX_HEADERS];
    size_t nh = 0, nf = 0;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *p = copy, *end = copy + size;
    while (nf < NFIELDS && p <= end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        fields[nf++] = p;
        if (!nl) {
            p = end + 1;
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    while (p < end && nh < MAX_HEADERS) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl)
            *nl = '\0';
        if (*p == '\0') { /* empty line: body follows */
            p = nl ? nl + 1 : end;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            headers[nh].name = p;
            headers[nh].value = colon + 1;
        } else {
            headers[nh].name = p;
            headers[nh].value = "";
        }
        nh++;
        p = nl ? nl + 1 : end;
    }
    const char *body = p < end ? p : NULL;
    size_t body_len = p < end ? (size_t)(end - p) : 0;
    const char *flags = fields[9] ? fields[9] : "";

    dp_sigv4_request req = {
        .method = fields[0],
        .path = fields[1],
        .query = fields[2],
        .headers = headers,
        .header_count = nh,
        .body = body,
        .body_len = body_len,
    };
    dp_sigv4_params params = {
        .access_key_id = fields[3],
        .secret_access_key = fields[4],
        .session_token = fields[5],
        .region = fields[6],
        .service = fields[7],
        .amz_date = fields[8],
        .normalize_path = flags[0] ? (flags[0] & 1) : 1,
        .omit_session_token = flags[0] && flags[1] ? (flags[1] & 1) : 0,
    };
    dp_sigv4_result a, b;
    dp_sigv4_key_cache cache;
    memset(&cache, 0, sizeof cache);
    dp_sigv4_result_init(&a);
    dp_sigv4_result_init(&b);
    ddbpipe_result_t rc = dp_sigv4_sign(&req, &params, NULL, &a);
    ddbpipe_result_t rc2 = dp_sigv4_sign(&req, &params, &cache, &b);
    if (rc != rc2)
        abort();
    if (rc == DDBPIPE_OK) {
        if (!is_lower_hex64(a.signature) || strcmp(a.signature, b.signature) != 0 ||
            !strstr(a.authorization.data, a.signature) ||
            strcmp(a.canonical_request.data, b.canonical_request.data) != 0)
            abort();
        /* warm cache: same answer */
        if (dp_sigv4_sign(&req, &params, &cache, &b) != DDBPIPE_OK || strcmp(a.signature, b.signature) != 0)
            abort();
    }
    dp_sigv4_result_free(&a);
    dp_sigv4_result_free(&b);
    free(copy);
    return 0;
}
