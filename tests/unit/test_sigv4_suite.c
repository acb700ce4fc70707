/* The AWS SigV4 signing test suite (from awslabs/aws-c-auth), header-signing
 * variant: every case directory's request.txt is parsed, signed with the
 * case's context.json, and the canonical request, string to sign, signature
 * and Authorization header are compared byte for byte.
 * The query-signing (presigned URL) files of each case are skipped: ddbpipe
 * signs headers only. */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "aws/sigv4.h"
#include "common/json.h"
#include "common/util.h"

#define MAX_CASES 256
#define MAX_HEADERS 64

typedef struct suite_case {
    char name[256];
    char dir[PATH_MAX + 260];
} suite_case;

typedef struct parsed_request {
    char *method;
    char *path;
    char *query; /* NULL when none */
    dp_http_header headers[MAX_HEADERS];
    size_t header_count;
    const char *body;
    size_t body_len;
    char *storage; /* request line and header names, carved in place */
    char *values;  /* header values, continuation lines joined with '\n' */
} parsed_request;

static char *read_case_file(const suite_case *c, const char *file, size_t *len) {
    char path[sizeof c->dir + 64];
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    size_t n = 0;
    char *data = dp_read_file(path, 1 << 20, &n);
    if (len)
        *len = n;
    return data;
}

static void free_request(parsed_request *r) {
    free(r->storage);
    free(r->values);
}

/* request.txt: "METHOD URI HTTP/1.1", header lines "Name:value" (a line
 * starting with whitespace continues the previous value), an empty line,
 * the body. The URI may contain spaces (get-space-*), so the protocol is
 * found from the right. */
static int parse_request(const char *text, size_t len, parsed_request *r) {
    memset(r, 0, sizeof *r);
    r->storage = malloc(len + 1);
    r->values = malloc(len + 1);
    if (!r->storage || !r->values)
        return -1;
    memcpy(r->storage, text, len);
    r->storage[len] = '\0';
    char *s = r->storage, *end = s + len, *w = r->values;
    char *nl = memchr(s, '\n', len);
    char *p = nl ? nl + 1 : end;
    if (nl)
        *nl = '\0';
    if (nl && nl > s && nl[-1] == '\r')
        nl[-1] = '\0';
    char *sp = strchr(s, ' ');
    char *proto = strstr(s, " HTTP/");
    if (!sp || !proto || proto < sp)
        return -1;
    *sp = '\0';
    *proto = '\0';
    r->method = s;
    r->path = sp + 1;
    char *q = strchr(r->path, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        size_t l = (size_t)(le - p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        p[l] = '\0';
        if (l == 0) { /* blank line: the body follows (from the original text) */
            size_t off = (size_t)((nl ? nl + 1 : end) - r->storage);
            r->body = text + off;
            r->body_len = len - off;
            break;
        }
        if (*p == ' ' || *p == '\t') { /* folded line: join to the value */
            if (r->header_count == 0)
                return -1;
            w[-1] = '\n'; /* replaces the previous value's NUL */
            memcpy(w, p, l + 1);
            w += l + 1;
        } else {
            char *colon = strchr(p, ':');
            if (!colon || r->header_count == MAX_HEADERS)
                return -1;
            *colon = '\0';
            size_t vl = strlen(colon + 1);
            memcpy(w, colon + 1, vl + 1);
            r->headers[r->header_count].name = p;
            r->headers[r->header_count].value = w;
            r->header_count++;
            w += vl + 1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static void strip_trailing_newline(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static void run_case(void **state) {
    const suite_case *c = *state;
    size_t ctx_len = 0, req_len = 0;
    char *ctx_text = read_case_file(c, "context.json", &ctx_len);
    char *req_text = read_case_file(c, "request.txt", &req_len);
    char *exp_creq = read_case_file(c, "header-canonical-request.txt", NULL);
    char *exp_sts = read_case_file(c, "header-string-to-sign.txt", NULL);
    char *exp_sig = read_case_file(c, "header-signature.txt", NULL);
    char *exp_signed = read_case_file(c, "header-signed-request.txt", NULL);
    assert_non_null(ctx_text);
    assert_non_null(req_text);
    assert_non_null(exp_creq);
    assert_non_null(exp_sts);
    assert_non_null(exp_sig);
    assert_non_null(exp_signed);
    strip_trailing_newline(exp_sig);

    dp_json_error jerr;
    dp_json_doc *doc = dp_json_parse(ctx_text, ctx_len, &jerr);
    assert_non_null(doc);
    dp_json *root = dp_json_root(doc);
    dp_json *creds = dp_json_get(root, "credentials");
    const char *ts = dp_json_get_string(root, "timestamp");
    assert_non_null(ts);
    int64_t epoch = dp_parse_iso8601(ts);
    assert_true(epoch > 0);
    char amz_date[17];
    dp_sigv4_format_date(epoch, amz_date);

    dp_sigv4_params params = {0};
    params.access_key_id = dp_json_get_string(creds, "access_key_id");
    params.secret_access_key = dp_json_get_string(creds, "secret_access_key");
    params.session_token = dp_json_get_string(creds, "token");
    params.region = dp_json_get_string(root, "region");
    params.service = dp_json_get_string(root, "service");
    params.amz_date = amz_date;
    dp_json *norm = dp_json_get(root, "normalize");
    params.normalize_path = !norm || (norm->type == DP_JSON_BOOL && norm->boolean);
    dp_json *omit = dp_json_get(root, "omit_session_token");
    params.omit_session_token = omit && omit->type == DP_JSON_BOOL && omit->boolean;
    dp_json *sign_body = dp_json_get(root, "sign_body");

    parsed_request pr;
    assert_int_equal(parse_request(req_text, req_len, &pr), 0);

    /* sign_body: the caller adds x-amz-content-sha256 (S3-style services). */
    char body_hash[65];
    if (sign_body && sign_body->type == DP_JSON_BOOL && sign_body->boolean) {
        assert_true(pr.header_count < MAX_HEADERS);
        dp_sha256_hex(pr.body, pr.body_len, body_hash);
        pr.headers[pr.header_count].name = "X-Amz-Content-Sha256";
        pr.headers[pr.header_count].value = body_hash;
        pr.header_count++;
    }

    dp_sigv4_request req = {
        .method = pr.method,
        .path = pr.path,
        .query = pr.query,
        .headers = pr.headers,
        .header_count = pr.header_count,
        .body = pr.body,
        .body_len = pr.body_len,
    };
    dp_sigv4_result res;
    dp_sigv4_result_init(&res);
    assert_int_equal(dp_sigv4_sign(&req, &params, NULL, &res), DDBPIPE_OK);
    assert_string_equal(res.canonical_request.data, exp_creq);
    assert_string_equal(res.string_to_sign.data, exp_sts);
    assert_string_equal(res.signature, exp_sig);
    char expected_auth[1024];
    snprintf(expected_auth, sizeof expected_auth, "Authorization:%s\n", res.authorization.data);
    assert_non_null(strstr(exp_signed, expected_auth));
    assert_string_equal(res.amz_date, amz_date);

    /* The same signature again through a key cache (cold, then warm). */
    dp_sigv4_key_cache cache = {0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dp_sigv4_sign(&req, &params, &cache, &res), DDBPIPE_OK);
        assert_string_equal(res.signature, exp_sig);
    }

    dp_sigv4_result_free(&res);
    free_request(&pr);
    dp_json_doc_free(doc);
    free(ctx_text);
    free(req_text);
    free(exp_creq);
    free(exp_sts);
    free(exp_sig);
    free(exp_signed);
}

static int case_cmp(const void *a, const void *b) {
    return strcmp(((const suite_case *)a)->name, ((const suite_case *)b)->name);
}

int main(void) {
    char suite_dir[PATH_MAX];
    const char *shared = getenv("DDBPIPE_SHARED_DIR");
    const char *source = getenv("DDBPIPE_SOURCE_DIR");
    if (shared && *shared)
        snprintf(suite_dir, sizeof suite_dir, "%s/reference/aws-sigv4-test-suite", shared);
    else if (source && *source)
        snprintf(suite_dir, sizeof suite_dir, "%s/../shared/reference/aws-sigv4-test-suite", source);
    else
        snprintf(suite_dir, sizeof suite_dir, "../shared/reference/aws-sigv4-test-suite");

    DIR *d = opendir(suite_dir);
    if (!d) {
        printf("SKIPPED: AWS SigV4 test suite not found at %s (set DDBPIPE_SHARED_DIR)\n", suite_dir);
        fprintf(stderr, "SKIPPED: AWS SigV4 test suite not found at %s\n", suite_dir);
        return 77;
    }
    static suite_case cases[MAX_CASES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAX_CASES) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof cases[n].name)
            continue;
        suite_case *c = &cases[n];
        snprintf(c->name, sizeof c->name, "%s", e->d_name);
        snprintf(c->dir, sizeof c->dir, "%s/%s", suite_dir, e->d_name);
        char probe[sizeof cases[0].dir + 32];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/request.txt", c->dir);
        if (stat(probe, &st) != 0)
            continue; /* LICENSE file and the like */
        snprintf(probe, sizeof probe, "%s/header-canonical-request.txt", c->dir);
        if (stat(probe, &st) != 0) {
            printf("[ SKIPPED  ] %s: no header-signing files (query signing only; ddbpipe signs headers)\n",
                   c->name);
            continue;
        }
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "FAIL: %s holds no test case directories\n", suite_dir);
        return 1;
    }
    qsort(cases, n, sizeof *cases, case_cmp);
    printf("AWS SigV4 suite at %s: %zu header-signing cases (query-signing variants skipped: presigned URLs "
           "are not used by ddbpipe)\n",
           suite_dir, n);

    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    int failed = _cmocka_run_group_tests("aws_sigv4_test_suite", tests, n, NULL, NULL);
    free(tests);
    return failed ? 1 : 0;
}
