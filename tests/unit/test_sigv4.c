/* SigV4 unit tests: a DynamoDB request checked against a botocore-computed
 * vector, canonicalization edges, input validation, session tokens, secrets
 * never echoed, and the per-day signing key cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aws/sigv4.h"

static const char *const k_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static const char *const k_body = "{\"TableName\":\"orders\"}";

static dp_http_header k_ddb_headers[] = {
    {"Content-Type", "application/x-amz-json-1.0"},
    {"X-Amz-Target", "DynamoDB_20120810.DescribeTable"},
    {"Host", "dynamodb.eu-west-1.amazonaws.com"},
};

static dp_sigv4_request ddb_request(void) {
    dp_sigv4_request r = {
        .method = "POST",
        .path = "/",
        .query = NULL,
        .headers = k_ddb_headers,
        .header_count = 3,
        .body = k_body,
        .body_len = strlen(k_body),
    };
    return r;
}

static dp_sigv4_params ddb_params(void) {
    dp_sigv4_params p = {
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = k_secret,
        .session_token = "TOKEN123==",
        .region = "eu-west-1",
        .service = "dynamodb",
        .amz_date = "20260115T083000Z",
        .normalize_path = 1,
    };
    return p;
}

/* Vector computed with botocore 1.29 SigV4Auth for the same request. */
static void test_dynamodb_vector_matches_botocore(void **state) {
    dp_sigv4_request req = ddb_request();
    dp_sigv4_params p = ddb_params();
    dp_sigv4_result r;
    dp_sigv4_result_init(&r);
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    assert_string_equal(r.canonical_request.data,
                        "POST\n/\n\n"
                        "content-type:application/x-amz-json-1.0\n"
                        "host:dynamodb.eu-west-1.amazonaws.com\n"
                        "x-amz-date:20260115T083000Z\n"
                        "x-amz-security-token:TOKEN123==\n"
                        "x-amz-target:DynamoDB_20120810.DescribeTable\n\n"
                        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n"
                        "fc37e9ff30f42b703d978dcbb71b9553a5182da4a8088bc79a758ee47ee6544e");
    assert_string_equal(r.signature, "b99bee2599f3967f01155ca6b068bf55e11640f6f555fe3f2501f909568b23d0");
    assert_string_equal(r.authorization.data,
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260115/eu-west-1/dynamodb/aws4_request, "
                        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
                        "Signature=b99bee2599f3967f01155ca6b068bf55e11640f6f555fe3f2501f909568b23d0");
    assert_string_equal(r.amz_date, "20260115T083000Z");
    /* The secret never appears in anything the signer returns. */
    assert_null(strstr(r.canonical_request.data, k_secret));
    assert_null(strstr(r.string_to_sign.data, k_secret));
    assert_null(strstr(r.authorization.data, k_secret));
    dp_sigv4_result_free(&r);
    dp_sigv4_result_free(&r); /* idempotent */
}

static void test_session_token_variants(void **state) {
    dp_sigv4_request req = ddb_request();
    dp_sigv4_params p = ddb_params();
    dp_sigv4_result r;
    dp_sigv4_result_init(&r);

    /* The caller already set the token header: signed once, not twice. */
    dp_http_header with_token[4] = {
        k_ddb_headers[0], k_ddb_headers[1], k_ddb_headers[2], {"X-Amz-Security-Token", "TOKEN123=="}};
    req.headers = with_token;
    req.header_count = 4;
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    assert_string_equal(r.signature, "b99bee2599f3967f01155ca6b068bf55e11640f6f555fe3f2501f909568b23d0");

    /* omit_session_token leaves it out of the signed headers. */
    p.omit_session_token = 1;
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    assert_null(strstr(r.canonical_request.data, "x-amz-security-token"));
    assert_non_null(strstr(r.authorization.data, "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));

    /* No token at all: "" behaves like NULL. */
    req = ddb_request();
    p = ddb_params();
    p.session_token = "";
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    assert_null(strstr(r.canonical_request.data, "x-amz-security-token"));
    dp_sigv4_result_free(&r);
}

static void sign_expect(const char *path, const char *query, int normalize, const char *want_path,
                        const char *want_query) {
    dp_http_header h[] = {{"Host", "example.amazonaws.com"}};
    dp_sigv4_request req = {.method = "GET", .path = path, .query = query, .headers = h, .header_count = 1};
    dp_sigv4_params p = ddb_params();
    p.normalize_path = normalize;
    p.session_token = NULL;
    dp_sigv4_result r;
    dp_sigv4_result_init(&r);
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    char want[512];
    snprintf(want, sizeof want, "GET\n%s\n%s\n", want_path, want_query);
    if (strncmp(r.canonical_request.data, want, strlen(want)) != 0)
        fail_msg("path %s query %s: got\n%s\nwant prefix\n%s", path, query ? query : "(null)",
                 r.canonical_request.data, want);
    dp_sigv4_result_free(&r);
}

static void test_canonical_path_and_query(void **state) {
    sign_expect("/", NULL, 1, "/", "");
    sign_expect("", NULL, 1, "/", "");
    sign_expect(NULL, "", 1, "/", "");
    sign_expect("/a/./b/../c//", NULL, 1, "/a/c/", "");
    sign_expect("/a/b/..", NULL, 1, "/a", "");
    sign_expect("/../..", NULL, 1, "/", "");
    /* Already-encoded path bytes are encoded again (non-S3 rule). */
    sign_expect("/a%20b", NULL, 1, "/a%2520b", "");
    sign_expect("/a b/c", NULL, 0, "/a%20b/c", "");
    sign_expect("//x/./", NULL, 0, "//x/./", "");
    /* Query: decoded then strictly re-encoded, sorted by name then value. */
    sign_expect("/", "b=2&a=1&a=0", 1, "/", "a=0&a=1&b=2");
    sign_expect("/", "flag&x=", 1, "/", "flag=&x=");
    sign_expect("/", "q=a+b&r=a%20b&s=%7e&t=%zz", 1, "/", "q=a%2Bb&r=a%20b&s=~&t=%25zz");
    sign_expect("/", "&&k=v&", 1, "/", "k=v");
    sign_expect("/", "k=%E1%88%B4&K=1", 1, "/", "K=1&k=%E1%88%B4");
}

static void test_header_canonicalization(void **state) {
    dp_http_header h[] = {
        {"Host", "example.amazonaws.com"}, {"  My-Header ", "  a \t  b\n   c  "},
        {"my-header", "second"},           {"User-Agent", "ddbpipe/0.1"}, /* never signed (botocore's rule) */
        {"X-Amzn-Trace-Id", "Root=1"},     {"Authorization", "stale"},
    };
    dp_sigv4_request req = {.method = "GET", .path = "/", .headers = h, .header_count = 6};
    dp_sigv4_params p = ddb_params();
    p.session_token = NULL;
    dp_sigv4_result r;
    dp_sigv4_result_init(&r);
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    assert_string_equal(r.canonical_request.data,
                        "GET\n/\n\nhost:example.amazonaws.com\nmy-header:a b c,second\n"
                        "x-amz-date:20260115T083000Z\n\nhost;my-header;x-amz-date\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    dp_sigv4_result_free(&r);
}

static void test_invalid_input(void **state) {
    dp_sigv4_request req = ddb_request();
    dp_sigv4_params p = ddb_params();
    dp_sigv4_result r;
    dp_sigv4_result_init(&r);

    dp_http_header no_host[] = {{"Content-Type", "x"}};
    req.headers = no_host;
    req.header_count = 1;
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);

    req = ddb_request();
    const char *bad_dates[] = {"", "2026-01-15T08:30:00Z", "20260115T083000", "20260115X083000Z", NULL};
    for (int i = 0; bad_dates[i]; i++) {
        p.amz_date = bad_dates[i];
        assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);
    }
    p = ddb_params();
    p.amz_date = NULL; /* no date anywhere */
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);

    /* Date from the request's own X-Amz-Date header. */
    dp_http_header dated[] = {{"Host", "h"}, {"X-Amz-Date", "20260115T083000Z"}};
    req.headers = dated;
    req.header_count = 2;
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_OK);
    assert_string_equal(r.amz_date, "20260115T083000Z");
    /* ...which must agree with params when both are given. */
    p.amz_date = "20260115T083001Z";
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);

    req = ddb_request();
    p = ddb_params();
    p.secret_access_key = "";
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);
    p = ddb_params();
    p.region = "eu/west";
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);
    p = ddb_params();
    p.access_key_id = NULL;
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);
    p = ddb_params();
    dp_http_header bad_name[] = {{"Host", "h"}, {"Bad:Name", "v"}};
    req.headers = bad_name;
    req.header_count = 2;
    assert_int_equal(dp_sigv4_sign(&req, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(dp_sigv4_sign(NULL, &p, NULL, &r), DDBPIPE_ERR_INVALID_ARG);
    dp_sigv4_result_free(&r);
}

static void sign_sig(const dp_sigv4_params *p, dp_sigv4_key_cache *cache, char out[65]) {
    dp_sigv4_request req = ddb_request();
    dp_sigv4_result r;
    dp_sigv4_result_init(&r);
    assert_int_equal(dp_sigv4_sign(&req, p, cache, &r), DDBPIPE_OK);
    memcpy(out, r.signature, 65);
    dp_sigv4_result_free(&r);
}

static void test_key_cache(void **state) {
    dp_sigv4_key_cache cache;
    memset(&cache, 0, sizeof cache);
    dp_sigv4_params p = ddb_params();
    char uncached[65], cached[65];

    sign_sig(&p, NULL, uncached);
    sign_sig(&p, &cache, cached);
    assert_string_equal(cached, uncached);
    assert_true(cache.valid);
    assert_string_equal(cache.date, "20260115");
    assert_string_equal(cache.region, "eu-west-1");
    assert_string_equal(cache.service, "dynamodb");
    /* The cache keeps a hash of the secret, never the secret itself. */
    assert_null(memmem(&cache, sizeof cache, k_secret, strlen(k_secret)));

    /* Same day, later time: the cached key is used. Proven by planting a
     * wrong key: the signature changes only if the cache was consulted. */
    p.amz_date = "20260115T235959Z";
    char later_uncached[65], later_cached[65];
    sign_sig(&p, NULL, later_uncached);
    sign_sig(&p, &cache, later_cached);
    assert_string_equal(later_cached, later_uncached);
    unsigned char saved[32];
    memcpy(saved, cache.key, 32);
    cache.key[0] ^= 0xff;
    sign_sig(&p, &cache, later_cached);
    assert_string_not_equal(later_cached, later_uncached);
    memcpy(cache.key, saved, 32);

    /* Next day: recomputed (the planted key is not used). */
    cache.key[0] ^= 0xff;
    p.amz_date = "20260116T000000Z";
    char next_uncached[65], next_cached[65];
    sign_sig(&p, NULL, next_uncached);
    sign_sig(&p, &cache, next_cached);
    assert_string_equal(next_cached, next_uncached);
    assert_string_equal(cache.date, "20260116");

    /* Another region, service or secret: recomputed too. */
    struct {
        const char *region, *service, *secret;
    } variants[] = {
        {"us-east-1", "dynamodb", k_secret},
        {"us-east-1", "sts", k_secret},
        {"us-east-1", "sts", "another-secret-key"},
    };
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        cache.key[0] ^= 0xff; /* poison: must not be reused */
        p.region = variants[i].region;
        p.service = variants[i].service;
        p.secret_access_key = variants[i].secret;
        sign_sig(&p, NULL, next_uncached);
        sign_sig(&p, &cache, next_cached);
        assert_string_equal(next_cached, next_uncached);
        assert_string_equal(cache.region, variants[i].region);
        assert_string_equal(cache.service, variants[i].service);
    }
}

static void test_format_date(void **state) {
    char d[17];
    dp_sigv4_format_date(1440938160, d);
    assert_string_equal(d, "20150830T123600Z");
    dp_sigv4_format_date(0, d);
    assert_string_equal(d, "19700101T000000Z");
    dp_sigv4_format_date(4102444799LL, d);
    assert_string_equal(d, "20991231T235959Z");
}

static void test_crypto_vectors(void **state) {
    char hex[65];
    dp_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    dp_sha256_hex(NULL, 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* RFC 4231 test case 2 */
    unsigned char mac[32];
    const char *msg = "what do ya want for nothing?";
    dp_hmac_sha256("Jefe", 4, msg, strlen(msg), mac);
    dp_hex(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamodb_vector_matches_botocore),
        cmocka_unit_test(test_session_token_variants),
        cmocka_unit_test(test_canonical_path_and_query),
        cmocka_unit_test(test_header_canonicalization),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_format_date),
        cmocka_unit_test(test_crypto_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
