/* sigv4_sign: sign requests given as JSON lines on stdin, print one
 * Authorization header value per line (used by the botocore differential
 * test). Input fields: method, path, query, headers ([[name, value], ...]),
 * body, akid, secret, token, region, service, amz_date. A line that cannot
 * be signed prints "ERROR <reason>" so the output stays line-aligned.
 * With --verbose, the canonical request and string to sign follow each
 * line (JSON-escaped) for debugging mismatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "common/json.h"

#define MAX_HEADERS 128

static const char *str_field(const dp_json *obj, const char *key) {
    return dp_json_get_string(obj, key);
}

static void sign_line(const char *line, size_t len, int verbose) {
    dp_json_error err;
    dp_json_doc *doc = dp_json_parse(line, len, &err);
    dp_sigv4_result res;
    dp_http_header headers[MAX_HEADERS];
    size_t nh = 0;
    dp_sigv4_result_init(&res);
    if (!doc) {
        printf("ERROR json at offset %zu: %s\n", err.offset, err.message);
        goto out;
    }
    dp_json *root = dp_json_root(doc);
    dp_json *hs = dp_json_get(root, "headers");
    for (size_t i = 0; hs && i < hs->count && nh < MAX_HEADERS; i++) {
        dp_json *pair = dp_json_at(hs, i);
        dp_json *n = dp_json_at(pair, 0), *v = dp_json_at(pair, 1);
        if (!dp_json_is(n, DP_JSON_STRING) || !dp_json_is(v, DP_JSON_STRING)) {
            printf("ERROR headers[%zu] is not a [name, value] pair of strings\n", i);
            goto out;
        }
        headers[nh].name = n->str;
        headers[nh].value = v->str;
        nh++;
    }
    dp_json *body = dp_json_get(root, "body");
    dp_sigv4_request req = {
        .method = str_field(root, "method"),
        .path = str_field(root, "path"),
        .query = str_field(root, "query"),
        .headers = headers,
        .header_count = nh,
        .body = dp_json_is(body, DP_JSON_STRING) ? body->str : NULL,
        .body_len = dp_json_is(body, DP_JSON_STRING) ? body->len : 0,
    };
    dp_sigv4_params params = {
        .access_key_id = str_field(root, "akid"),
        .secret_access_key = str_field(root, "secret"),
        .session_token = str_field(root, "token"),
        .region = str_field(root, "region"),
        .service = str_field(root, "service") ? str_field(root, "service") : "dynamodb",
        .amz_date = str_field(root, "amz_date"),
        .normalize_path = 1,
    };
    ddbpipe_result_t rc = dp_sigv4_sign(&req, &params, NULL, &res);
    if (rc != DDBPIPE_OK) {
        printf("ERROR dp_sigv4_sign returned %d\n", (int)rc);
        goto out;
    }
    printf("%s\n", res.authorization.data);
    if (verbose) {
        dp_buf b;
        dp_buf_init(&b, 0);
        dp_json_write_string(&b, res.canonical_request.data, res.canonical_request.len);
        dp_buf_putc(&b, ' ');
        dp_json_write_string(&b, res.string_to_sign.data, res.string_to_sign.len);
        printf("# %s\n", b.data);
        dp_buf_free(&b);
    }
out:
    dp_sigv4_result_free(&res);
    dp_json_doc_free(doc);
}

int main(int argc, char **argv) {
    int verbose = argc > 1 && strcmp(argv[1], "--verbose") == 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        sign_line(line, (size_t)n, verbose);
        fflush(stdout);
    }
    free(line);
    return 0;
}
