/* DynamoDB error model: parse the JSON error body and classify the code and
 * HTTP status as retryable or not. Pure functions (unit-tested, fuzzed). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "ddb/client.h"

/* Throttling codes, as the AWS SDKs' standard retry mode lists them. A
 * throttle also slows the adaptive rate limiter. */
static const char *const k_throttle_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};
/* Transient service faults: retried, but not a reason to slow down. */
static const char *const k_transient_codes[] = {
    "InternalServerError",         "InternalFailure", "ServiceUnavailable",
    "ServiceUnavailableException", "RequestTimeout",  "RequestTimeoutException",
};
static const char *const k_auth_codes[] = {
    "UnrecognizedClientException",  "InvalidSignatureException",  "IncompleteSignature",
    "IncompleteSignatureException", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
    "AccessDeniedException",        "ExpiredTokenException",      "ExpiredToken",
    "InvalidClientTokenId",         "SignatureDoesNotMatch",      "RequestExpired",
};

static int in_list(const char *code, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return 1;
    return 0;
}
#define IN_LIST(code, list) in_list((code), (list), sizeof(list) / sizeof((list)[0]))

ddbpipe_result_t dp_ddb_classify(long http_status, const char *error_code, int *retryable, int *throttled) {
    int retry = 0, thr = 0;
    ddbpipe_result_t rc = DDBPIPE_ERR_SERVICE;
    const char *code = error_code ? error_code : "";

    /* The code-based and the status-based branches below share outcomes on
     * purpose (a throttling code and a bare 429 are both throttling). */
    /* NOLINTBEGIN(bugprone-branch-clone) */
    if (http_status >= 200 && http_status < 300 && !*code) {
        rc = DDBPIPE_OK;
    } else if (*code && IN_LIST(code, k_throttle_codes)) {
        retry = thr = 1;
    } else if (*code && IN_LIST(code, k_transient_codes)) {
        retry = 1;
    } else if (*code && IN_LIST(code, k_auth_codes)) {
        rc = DDBPIPE_ERR_AUTH;
    } else if (strcmp(code, "ResourceNotFoundException") == 0) {
        rc = DDBPIPE_ERR_NOT_FOUND;
    } else if (strcmp(code, "ValidationException") == 0 || strcmp(code, "SerializationException") == 0) {
        rc = DDBPIPE_ERR_VALIDATION;
    } else if (strcmp(code, "TrimmedDataAccessException") == 0) {
        rc = DDBPIPE_ERR_DATA_LOSS; /* stream records are gone: never silent */
    } else if (*code) {
        /* Known non-retryable codes (ConditionalCheckFailedException,
         * TransactionCanceledException, ResourceInUseException, ...) and
         * unknown 4xx codes; an unknown code on a 5xx is still a fault. */
        retry = http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504;
    } else if (http_status == 429) {
        retry = thr = 1;
    } else if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504) {
        retry = 1;
    } else if (http_status == 401 || http_status == 403) {
        rc = DDBPIPE_ERR_AUTH;
    } else if (http_status == 413) {
        rc = DDBPIPE_ERR_TOO_LARGE;
    }
    /* NOLINTEND(bugprone-branch-clone) */
    if (retryable)
        *retryable = retry;
    if (throttled)
        *throttled = thr;
    return rc;
}

static void copy_trunc(char *dst, size_t size, const char *src, size_t len) {
    if (!dst || size == 0)
        return;
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
    /* Keep messages printable on one line. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
            dst[i] = ' ';
}

void dp_ddb_parse_error(const char *body, size_t len, char *code, size_t code_size, char *msg,
                        size_t msg_size) {
    if (code && code_size)
        code[0] = 0;
    if (msg && msg_size)
        msg[0] = 0;
    if (!body || len == 0)
        return;
    dp_json_doc *doc = dp_json_parse(body, len, NULL);
    const dp_json *root = doc ? dp_json_root(doc) : NULL;
    if (!dp_json_is(root, DP_JSON_OBJECT)) {
        /* Not JSON (a proxy's HTML page, a truncated body): keep a snippet. */
        copy_trunc(msg, msg_size, body, len > 200 ? 200 : len);
        goto out;
    }
    const dp_json *t = dp_json_get(root, "__type");
    if (!dp_json_is(t, DP_JSON_STRING))
        t = dp_json_get(root, "code");
    if (dp_json_is(t, DP_JSON_STRING)) {
        const char *s = t->str;
        size_t n = t->len;
        const char *hash = memchr(s, '#', n);
        if (hash) {
            n -= (size_t)(hash + 1 - s);
            s = hash + 1;
        }
        /* Some services append ":http://..." to the code. */
        const char *colon = memchr(s, ':', n);
        if (colon)
            n = (size_t)(colon - s);
        copy_trunc(code, code_size, s, n);
    }
    const dp_json *m = dp_json_get(root, "message");
    if (!dp_json_is(m, DP_JSON_STRING))
        m = dp_json_get(root, "Message");
    if (dp_json_is(m, DP_JSON_STRING))
        copy_trunc(msg, msg_size, m->str, m->len);
out:
    dp_json_doc_free(doc);
}
