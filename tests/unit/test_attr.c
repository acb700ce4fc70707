/* AttributeValue codec: numbers, base64, validation, size, keys, column
 * types, plain <-> typed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddb/attr.h"

static const char D38[] = "12345678901234567890123456789012345678";

/* Parse JSON text (test input must be valid). */
static dp_json_doc *P(const char *text) {
    dp_json_error err;
    dp_json_doc *d = dp_json_parse(text, strlen(text), &err);
    if (!d)
        fail_msg("test JSON does not parse: %s: %s", text, err.message);
    return d;
}

/* Serialize v compactly into a static buffer. */
static const char *W(const dp_json *v) {
    static char out[8192];
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_json_write(&b, v), DDBPIPE_OK);
    snprintf(out, sizeof out, "%s", b.data);
    dp_buf_free(&b);
    return out;
}

static int num_ok(const char *s) {
    char err[256];
    return dp_ddb_number_valid(s, strlen(s), err, sizeof err);
}

static const char *num_err(const char *s) {
    static char err[256];
    err[0] = 0;
    assert_int_equal(dp_ddb_number_valid(s, strlen(s), err, sizeof err), 0);
    return err;
}

/* -------------------------------------------------------------- numbers */

static void test_number_limits(void **state) {
    (void)state;
    assert_true(num_ok(D38));
    assert_true(num_ok("-12345678901234567890123456789012345678"));
    assert_true(num_ok("0.12345678901234567890123456789012345678"));
    assert_true(num_ok("0"));
    assert_true(num_ok("-0"));
    assert_true(num_ok("0.000"));
    assert_true(num_ok("0E999999999999"));
    assert_true(num_ok("1.50"));
    /* trailing/leading zeros are not significant */
    assert_true(num_ok("1000000000000000000000000000000000000000000"));
    assert_true(num_ok("0.00000000000000000000000000000000000000000000001"));
    assert_true(num_ok("123456789012345678901234567890123456780000"));
    assert_string_equal(num_err("123456789012345678901234567890123456789"),
                        "number has 39 significant digits, DynamoDB allows 38");
    assert_string_equal(num_err("1234567890123456789012345678901234567891"),
                        "number has 40 significant digits, DynamoDB allows 38");
    /* range */
    assert_true(num_ok("1E-130"));
    assert_true(num_ok("-1E-130"));
    assert_true(num_ok("9.9999999999999999999999999999999999999E+125"));
    assert_true(num_ok("99999999999999999999999999999999999999E+88"));
    assert_non_null(strstr(num_err("1E-131"), "too small"));
    assert_non_null(strstr(num_err("0.9E-130"), "too small"));
    assert_non_null(strstr(num_err("1E+126"), "too large"));
    assert_non_null(strstr(num_err("10E+125"), "too large"));
    assert_non_null(strstr(num_err("1e99999999999999999999"), "too large"));
    /* not numbers */
    assert_string_equal(num_err("NaN"), "'NaN' cannot be stored in DynamoDB (no NaN or Infinity numbers)");
    assert_non_null(strstr(num_err("Infinity"), "no NaN or Infinity"));
    assert_non_null(strstr(num_err("-inf"), "no NaN or Infinity"));
    assert_string_equal(num_err("0x10"), "'0x10' is not a valid number");
    assert_false(num_ok("+1"));
    assert_false(num_ok("1."));
    assert_false(num_ok(".5"));
    assert_false(num_ok("01"));
    assert_false(num_ok(""));
    assert_false(num_ok("1e"));
    assert_false(num_ok(" 1"));
    assert_false(num_ok("1 "));
    assert_false(num_ok("--1"));
}

static void test_number_size_and_canonical(void **state) {
    (void)state;
    /* (significant digits + 1) / 2 + 1 */
    assert_int_equal(dp_ddb_number_size("0", 1), 1);
    assert_int_equal(dp_ddb_number_size("1", 1), 2);
    assert_int_equal(dp_ddb_number_size("12", 2), 2);
    assert_int_equal(dp_ddb_number_size("123", 3), 3);
    assert_int_equal(dp_ddb_number_size("100", 3), 2);
    assert_int_equal(dp_ddb_number_size("-0.0012", 7), 2);
    assert_int_equal(dp_ddb_number_size(D38, 38), 20);

    const char *same[] = {"1", "1.0", "10E-1", "0.1e1", "1.000e0", "100e-2"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        dp_buf b;
        dp_buf_init(&b, 0);
        assert_int_equal(dp_ddb_number_canonical(same[i], strlen(same[i]), &b), 0);
        assert_string_equal(b.data, "1E0");
        dp_buf_free(&b);
    }
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_ddb_number_canonical("-1.50", 5, &b), 0);
    assert_string_equal(b.data, "-15E-1");
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_number_canonical("0.00", 4, &b), 0);
    assert_string_equal(b.data, "0");
    dp_buf_reset(&b);
    assert_int_equal(dp_ddb_number_canonical("1200", 4, &b), 0);
    assert_string_equal(b.data, "12E2");
    assert_int_equal(dp_ddb_number_canonical("abc", 3, &b), -1);
    dp_buf_free(&b);
}

/* -------------------------------------------------------------- base64 */

static void test_base64(void **state) {
    (void)state;
    const unsigned char raw[] = {0x00, 0x01, 0xfe, 0xff, 0x7f, 0x80};
    const char *expect[] = {"", "AA==", "AAE=", "AAH+", "AAH+/w==", "AAH+/38=", "AAH+/3+A"};
    for (size_t n = 0; n <= sizeof raw; n++) {
        char enc[16];
        unsigned char dec[16];
        size_t dl = 99;
        size_t el = dp_base64_encode(raw, n, enc);
        assert_int_equal(el, strlen(expect[n]));
        assert_string_equal(enc, expect[n]);
        assert_true(dp_base64_valid(enc, el, &dl));
        assert_int_equal(dl, n);
        assert_int_equal(dp_base64_decode(enc, el, dec, &dl), 0);
        assert_int_equal(dl, n);
        assert_memory_equal(dec, raw, n);
    }
    unsigned char out[16];
    size_t ol;
    assert_int_equal(dp_base64_decode("abc", 3, out, &ol), -1);  /* no padding */
    assert_int_equal(dp_base64_decode("ab=c", 4, out, &ol), -1); /* pad in the middle */
    assert_int_equal(dp_base64_decode("a===", 4, out, &ol), -1);
    assert_int_equal(dp_base64_decode("!!!!", 4, out, &ol), -1);
    assert_int_equal(dp_base64_decode("AA-_", 4, out, &ol), -1); /* url alphabet is not DynamoDB's */
    assert_int_equal(dp_base64_decode("AA =", 4, out, &ol), -1);
}

/* -------------------------------------------------------------- validation */

static const char *av_err(const char *json) {
    static char err[512];
    dp_json_doc *d = P(json);
    err[0] = 0;
    int rc = dp_attr_validate_at(dp_json_root(d), "a", err, sizeof err);
    dp_json_doc_free(d);
    return rc == 0 ? NULL : err;
}

static void test_attr_validate_types(void **state) {
    (void)state;
    const char *ok[] = {
        "{\"S\":\"\"}",
        "{\"S\":\"x\"}",
        "{\"N\":\"12345678901234567890123456789012345678\"}",
        "{\"B\":\"AAEC\"}",
        "{\"B\":\"\"}",
        "{\"BOOL\":false}",
        "{\"NULL\":true}",
        "{\"M\":{}}",
        "{\"L\":[]}",
        "{\"SS\":[\"a\",\"b\"]}",
        "{\"NS\":[\"1\",\"2.5\"]}",
        "{\"BS\":[\"AA==\",\"AQ==\"]}",
        "{\"M\":{\"x\":{\"L\":[{\"N\":\"1\"},{\"SS\":[\"q\"]}]}}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *e = av_err(ok[i]);
        if (e)
            fail_msg("%s rejected: %s", ok[i], e);
    }
    assert_string_equal(av_err("{\"S\":1}"), "attribute 'a': S value must be a string, got a number");
    assert_string_equal(av_err("{\"N\":1}"),
                        "attribute 'a': N value must be a string holding the number, got a number");
    assert_string_equal(
        av_err("\"x\""),
        "attribute 'a': expected a typed AttributeValue object like {\"S\": ...}, got a string");
    assert_string_equal(av_err("{\"X\":\"a\"}"),
                        "attribute 'a': unknown AttributeValue type 'X' (expected S, N, "
                        "B, BOOL, NULL, M, L, SS, NS or BS)");
    assert_string_equal(av_err("{\"S\":\"a\",\"N\":\"1\"}"),
                        "attribute 'a': an AttributeValue must have exactly one type key, this one has 2");
    assert_string_equal(av_err("{\"NULL\":false}"), "attribute 'a': NULL value must be true");
    assert_string_equal(av_err("{\"BOOL\":\"true\"}"),
                        "attribute 'a': BOOL value must be true or false, got a string");
    assert_string_equal(av_err("{\"B\":\"abc\"}"), "attribute 'a': B value is not valid base64");
    assert_string_equal(av_err("{\"SS\":[]}"),
                        "attribute 'a': empty string set: DynamoDB does not store empty sets");
    assert_string_equal(av_err("{\"NS\":[]}"),
                        "attribute 'a': empty number set: DynamoDB does not store empty sets");
    assert_string_equal(av_err("{\"BS\":[]}"),
                        "attribute 'a': empty binary set: DynamoDB does not store empty sets");
    assert_string_equal(
        av_err("{\"SS\":[\"x\",\"y\",\"x\"]}"),
        "attribute 'a': string set has a duplicate member 'x' (DynamoDB sets hold unique values)");
    /* numbers are compared by value */
    assert_string_equal(
        av_err("{\"NS\":[\"1\",\"1.0\"]}"),
        "attribute 'a': number set has a duplicate member '1E0' (DynamoDB sets hold unique values)");
    assert_string_equal(
        av_err("{\"BS\":[\"AQ==\",\"AA==\",\"AQ==\"]}"),
        "attribute 'a': binary set has a duplicate member (DynamoDB sets hold unique values)");
    assert_string_equal(av_err("{\"SS\":[\"x\",1]}"),
                        "attribute 'a': SS member 1 must be a string, got a number");
    assert_string_equal(av_err("{\"NS\":[\"1\",\"x\"]}"), "attribute 'a': 'x' is not a valid number");
    assert_string_equal(av_err("{\"L\":{}}"), "attribute 'a': L value must be an array, got an object");
    assert_string_equal(av_err("{\"M\":[]}"), "attribute 'a': M value must be an object, got an array");
    /* the path names the nested attribute */
    assert_string_equal(av_err("{\"M\":{\"b\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"},{\"N\":"
                               "\"1234567890123456789012345678901234567891\"}]}}}"),
                        "attribute 'a.b[2]': number has 40 significant digits, DynamoDB allows 38");
}

static char *nested(int levels) {
    /* levels nested M containers with a string at the bottom */
    size_t cap = (size_t)levels * 16 + 64;
    char *s = malloc(cap);
    size_t o = 0;
    for (int i = 0; i < levels; i++)
        o += (size_t)snprintf(s + o, cap - o, "{\"M\":{\"k\":");
    o += (size_t)snprintf(s + o, cap - o, "{\"S\":\"x\"}");
    for (int i = 0; i < levels; i++)
        o += (size_t)snprintf(s + o, cap - o, "}}");
    return s;
}

static void test_attr_depth(void **state) {
    (void)state;
    char *ok = nested(DP_DDB_MAX_DEPTH - 2); /* stays under the JSON parser's depth too */
    assert_null(av_err(ok));
    free(ok);
    /* build a 33-level value in a document (deeper than the parser allows) */
    dp_json_doc *d = dp_json_doc_new();
    dp_json *v = dp_json_new_object(d);
    dp_json_object_set(d, v, "S", 1, dp_json_new_string(d, "x", 1));
    for (int i = 0; i < DP_DDB_MAX_DEPTH + 1; i++) {
        dp_json *inner = dp_json_new_object(d);
        dp_json_object_set(d, inner, "k", 1, v);
        dp_json *m = dp_json_new_object(d);
        dp_json_object_set(d, m, "M", 1, inner);
        v = m;
    }
    char err[512];
    assert_int_equal(dp_attr_validate(v, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested more than 32 levels deep"));
    /* exactly 32 levels is fine */
    dp_json *m32 = v->members[0].value->members[0].value;
    assert_int_equal(dp_attr_validate(m32, err, sizeof err), 0);
    dp_json_doc_free(d);
}

/* -------------------------------------------------------------- size */

static size_t item_size(const char *json) {
    dp_json_doc *d = P(json);
    size_t s = dp_item_size(dp_json_root(d));
    dp_json_doc_free(d);
    return s;
}

static void test_item_size(void **state) {
    (void)state;
    /* Rules from the AWS guide "DynamoDB item sizes and formats":
     * S = name + UTF-8 bytes; N = name + 1 byte per two significant digits
     * + 1; B = name + raw bytes; BOOL/NULL = name + 1; L/M = name + 3 +
     * 1 per element + elements. */
    assert_int_equal(item_size("{\"shirtColor\":{\"S\":\"R\"}}"), 10 + 1);
    assert_int_equal(item_size("{\"name\":{\"S\":\"h\\u00e9llo\"}}"), 4 + 6); /* é is 2 bytes */
    assert_int_equal(item_size("{\"Id\":{\"N\":\"101\"}}"), 2 + 3);
    assert_int_equal(item_size("{\"n\":{\"N\":\"12345678901234567890123456789012345678\"}}"), 1 + 20);
    assert_int_equal(item_size("{\"n\":{\"N\":\"1000\"}}"), 1 + 2);
    assert_int_equal(item_size("{\"bin\":{\"B\":\"AAEC\"}}"), 3 + 3);
    assert_int_equal(item_size("{\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true}}"), 2 + 2);
    assert_int_equal(item_size("{\"l\":{\"L\":[]}}"), 1 + 3);
    assert_int_equal(item_size("{\"m\":{\"M\":{}}}"), 1 + 3);
    assert_int_equal(item_size("{\"l\":{\"L\":[{\"S\":\"ab\"},{\"N\":\"1\"}]}}"), 1 + 3 + (1 + 2) + (1 + 2));
    assert_int_equal(item_size("{\"m\":{\"M\":{\"xy\":{\"S\":\"abc\"}}}}"), 1 + 3 + (1 + 2 + 3));
    assert_int_equal(item_size("{\"ss\":{\"SS\":[\"a\",\"bc\"]},\"ns\":{\"NS\":[\"1\",\"123\"]},"
                               "\"bs\":{\"BS\":[\"AAEC\",\"AA==\"]}}"),
                     (2 + 3) + (2 + 2 + 3) + (2 + 3 + 1));
}

static void test_item_too_large(void **state) {
    (void)state;
    /* name "id"(2) + S, plus "d"(1) + S of n bytes: exactly 400 KB is fine */
    size_t n = DP_DDB_MAX_ITEM_BYTES - 2 - 1 - 1;
    char *json = malloc(n + 64);
    char err[512];
    memcpy(json, "{\"id\":{\"S\":\"k\"},\"d\":{\"S\":\"", 26);
    memset(json + 26, 'x', n);
    strcpy(json + 26 + n, "\"}}");
    dp_json_doc *d = P(json);
    assert_int_equal(dp_item_size(dp_json_root(d)), DP_DDB_MAX_ITEM_BYTES);
    assert_int_equal(dp_item_validate(dp_json_root(d), "id", NULL, err, sizeof err), 0);
    dp_json_doc_free(d);
    memset(json + 26, 'x', n + 1);
    strcpy(json + 26 + n + 1, "\"}}");
    d = P(json);
    assert_int_equal(dp_item_validate(dp_json_root(d), "id", NULL, err, sizeof err), DP_ITEM_TOO_LARGE);
    assert_string_equal(err, "item is 409601 bytes by DynamoDB's size rules, the limit is 409600 (400 KB)");
    dp_json_doc_free(d);
    free(json);
}

/* -------------------------------------------------------------- keys */

static const char *keys_err(const char *json, const char *pk, char pt, const char *sk, char st) {
    static char err[512];
    dp_json_doc *d = P(json);
    err[0] = 0;
    int rc = dp_item_validate_keys(dp_json_root(d), pk, pt, sk, st, err, sizeof err);
    dp_json_doc_free(d);
    return rc == 0 ? NULL : err;
}

static void test_keys(void **state) {
    (void)state;
    assert_null(keys_err("{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}}", "id", 'N', "sort", 'S'));
    assert_null(keys_err("{\"id\":{\"B\":\"AA==\"}}", "id", 0, NULL, 0));
    assert_string_equal(keys_err("{\"x\":{\"N\":\"1\"}}", "id", 0, NULL, 0), "missing partition key 'id'");
    assert_string_equal(keys_err("{\"id\":{\"N\":\"1\"}}", "id", 0, "sort", 0), "missing sort key 'sort'");
    assert_string_equal(keys_err("{\"id\":{\"BOOL\":true}}", "id", 0, NULL, 0),
                        "key 'id' is a BOOL, DynamoDB keys must be S, N or B");
    assert_string_equal(keys_err("{\"id\":{\"SS\":[\"a\"]}}", "id", 0, NULL, 0),
                        "key 'id' is a string set (SS), DynamoDB keys must be S, N or B");
    assert_string_equal(keys_err("{\"id\":{\"S\":\"1\"}}", "id", 'N', NULL, 0),
                        "key 'id' is a string (S), the table's partition key type is N");
    assert_string_equal(keys_err("{\"id\":{\"S\":\"\"}}", "id", 0, NULL, 0),
                        "partition key 'id' is empty; DynamoDB key values must not be empty");
    assert_string_equal(keys_err("{\"id\":{\"S\":\"a\"},\"s\":{\"B\":\"\"}}", "id", 0, "s", 0),
                        "sort key 's' is empty; DynamoDB key values must not be empty");
    assert_string_equal(keys_err("{\"id\":{\"N\":\"NaN\"}}", "id", 0, NULL, 0),
                        "attribute 'id': 'NaN' cannot be stored in DynamoDB (no NaN or Infinity numbers)");

    /* size limits: partition 2048, sort 1024 bytes */
    char *json = malloc(4000);
    char big[2050];
    memset(big, 'k', sizeof big);
    big[2048] = 0;
    snprintf(json, 4000, "{\"id\":{\"S\":\"%s\"}}", big);
    assert_null(keys_err(json, "id", 'S', NULL, 0));
    big[2048] = 'k';
    big[2049] = 0;
    snprintf(json, 4000, "{\"id\":{\"S\":\"%s\"}}", big);
    assert_string_equal(keys_err(json, "id", 'S', NULL, 0),
                        "partition key 'id' is 2049 bytes, DynamoDB allows at most 2048");
    big[1024] = 0;
    snprintf(json, 4000, "{\"id\":{\"S\":\"a\"},\"s\":{\"S\":\"%s\"}}", big);
    assert_null(keys_err(json, "id", 0, "s", 0));
    big[1024] = 'k';
    big[1025] = 0;
    snprintf(json, 4000, "{\"id\":{\"S\":\"a\"},\"s\":{\"S\":\"%s\"}}", big);
    assert_string_equal(keys_err(json, "id", 0, "s", 0),
                        "sort key 's' is 1025 bytes, DynamoDB allows at most 1024");
    free(json);
}

static const char *key_string(const char *json, const char *pk, const char *sk) {
    static char out[256];
    dp_json_doc *d = P(json);
    dp_buf b;
    dp_buf_init(&b, 0);
    int rc = dp_item_key_string(dp_json_root(d), pk, sk, &b);
    snprintf(out, sizeof out, "%s", rc == 0 ? b.data : "(error)");
    dp_buf_free(&b);
    dp_json_doc_free(d);
    return out;
}

static void test_key_string(void **state) {
    (void)state;
    assert_string_equal(key_string("{\"id\":{\"S\":\"abc\"},\"x\":{\"N\":\"5\"}}", "id", NULL), "S3:abc");
    assert_string_equal(key_string("{\"id\":{\"N\":\"1.0\"},\"s\":{\"S\":\"a\"}}", "id", "s"), "N3:1E0|S1:a");
    assert_string_equal(key_string("{\"id\":{\"N\":\"1\"},\"s\":{\"S\":\"a\"}}", "id", "s"), "N3:1E0|S1:a");
    assert_string_equal(key_string("{\"id\":{\"B\":\"YWJj\"}}", "id", NULL), "B3:abc");
    /* type is part of the key: S "1" and N 1 differ */
    assert_string_equal(key_string("{\"id\":{\"S\":\"1\"}}", "id", NULL), "S1:1");
    /* length prefixes keep pk/sk boundaries unambiguous */
    char a[64], b[64];
    snprintf(a, sizeof a, "%s", key_string("{\"p\":{\"S\":\"a|S1:b\"},\"s\":{\"S\":\"c\"}}", "p", "s"));
    snprintf(b, sizeof b, "%s", key_string("{\"p\":{\"S\":\"a\"},\"s\":{\"S\":\"b|S1:c\"}}", "p", "s"));
    assert_string_not_equal(a, b);
    assert_string_equal(key_string("{\"id\":{\"BOOL\":true}}", "id", NULL), "(error)");
    assert_string_equal(key_string("{\"x\":{\"S\":\"a\"}}", "id", NULL), "(error)");
}

/* -------------------------------------------------------------- column types */

static void test_coltype_parse(void **state) {
    (void)state;
    struct {
        const char *text;
        dp_coltype_kind kind;
    } cases[] = {
        {"BOOLEAN", DP_COL_BOOLEAN},
        {"bool", DP_COL_BOOLEAN},
        {"TINYINT", DP_COL_INTEGER},
        {"SMALLINT", DP_COL_INTEGER},
        {"INT", DP_COL_INTEGER},
        {"integer not null", DP_COL_INTEGER},
        {"BIGINT", DP_COL_INTEGER},
        {"DECIMAL(10, 2)", DP_COL_DECIMAL},
        {"NUMERIC", DP_COL_DECIMAL},
        {"N", DP_COL_DECIMAL},
        {"REAL", DP_COL_FLOAT},
        {"FLOAT", DP_COL_FLOAT},
        {"DOUBLE", DP_COL_FLOAT},
        {"double precision", DP_COL_FLOAT},
        {"VARCHAR(20)", DP_COL_STRING},
        {"CHAR", DP_COL_STRING},
        {"STRING", DP_COL_STRING},
        {"TEXT", DP_COL_STRING},
        {"character varying(5)", DP_COL_STRING},
        {"S", DP_COL_STRING},
        {"DATE", DP_COL_DATE},
        {"TIME", DP_COL_TIME},
        {"TIME(3)", DP_COL_TIME},
        {"TIMESTAMP", DP_COL_TIMESTAMP},
        {"TIMESTAMP(3)", DP_COL_TIMESTAMP},
        {"timestamp(6) with time zone", DP_COL_TIMESTAMP},
        {"TIMESTAMP WITHOUT TIME ZONE", DP_COL_TIMESTAMP},
        {"TIMESTAMP(3) WITH LOCAL TIME ZONE", DP_COL_TIMESTAMP},
        {"UUID", DP_COL_UUID},
        {"VARBINARY", DP_COL_BINARY},
        {"BINARY(16)", DP_COL_BINARY},
        {"BYTES", DP_COL_BINARY},
        {"B", DP_COL_BINARY},
        {"ARRAY<INT>", DP_COL_ARRAY},
        {"INT ARRAY", DP_COL_ARRAY},
        {"L", DP_COL_ARRAY},
        {"MAP<VARCHAR, INT>", DP_COL_MAP},
        {"ROW<a INT, b VARCHAR>", DP_COL_MAP},
        {"ROW(a INT)", DP_COL_MAP},
        {"M", DP_COL_MAP},
        {"VARIANT", DP_COL_VARIANT},
        {"STRING SET", DP_COL_STRING_SET},
        {"ss", DP_COL_STRING_SET},
        {"NUMBER SET", DP_COL_NUMBER_SET},
        {"NS", DP_COL_NUMBER_SET},
        {"BINARY SET", DP_COL_BINARY_SET},
        {"BS", DP_COL_BINARY_SET},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dp_coltype t;
        if (dp_coltype_parse(cases[i].text, &t, err, sizeof err) != 0)
            fail_msg("'%s' rejected: %s", cases[i].text, err);
        if (t.kind != cases[i].kind)
            fail_msg("'%s' parsed as %s", cases[i].text, dp_coltype_name(t.kind));
    }
    dp_coltype t;
    assert_int_equal(dp_coltype_parse("DECIMAL(10,2)", &t, err, sizeof err), 0);
    assert_int_equal(t.precision, 10);
    assert_int_equal(t.scale, 2);
    assert_int_equal(dp_coltype_parse("TINYINT", &t, err, sizeof err), 0);
    assert_int_equal(t.int_min, -128);
    assert_int_equal(t.int_max, 127);
    assert_int_equal(dp_coltype_parse("BIGINT", &t, err, sizeof err), 0);
    assert_true(t.int_max == INT64_MAX && t.int_min == INT64_MIN);

    assert_int_equal(dp_coltype_parse("FOO", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown column type 'FOO'"));
    assert_int_equal(dp_coltype_parse("DECIMAL(40,2)", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "precision must be 1..38"));
    assert_int_equal(dp_coltype_parse("DECIMAL(5,6)", &t, err, sizeof err), -1);
    assert_int_equal(dp_coltype_parse("VARCHAR(", &t, err, sizeof err), -1);
    assert_int_equal(dp_coltype_parse("INT(1,2,3)", &t, err, sizeof err), -1);
    assert_int_equal(dp_coltype_parse("TIMESTAMP WITH SOMETHING", &t, err, sizeof err), -1);
    assert_int_equal(dp_coltype_parse("", &t, err, sizeof err), -1);
}

/* Convert plain JSON text with a column type; returns the typed JSON or
 * "ERR: message". */
static const char *conv(const char *type, const char *plain) {
    static char out[1024];
    char err[512];
    dp_coltype t, *tp = NULL;
    if (type) {
        if (dp_coltype_parse(type, &t, err, sizeof err) != 0)
            fail_msg("type %s: %s", type, err);
        tp = &t;
    }
    dp_json_doc *d = P(plain);
    dp_json *av = dp_attr_from_plain_at(d, dp_json_root(d), tp, "c", err, sizeof err);
    if (av) {
        char verr[512];
        if (dp_attr_validate(av, verr, sizeof verr) != 0)
            fail_msg("from_plain produced an invalid value: %s", verr);
        snprintf(out, sizeof out, "%s", W(av));
    } else {
        snprintf(out, sizeof out, "ERR: %s", err);
    }
    dp_json_doc_free(d);
    return out;
}

static void test_from_plain_types(void **state) {
    (void)state;
    /* null is NULL whatever the type */
    assert_string_equal(conv("INT", "null"), "{\"NULL\":true}");
    assert_string_equal(conv("BOOLEAN", "true"), "{\"BOOL\":true}");
    assert_string_equal(
        conv("BOOLEAN", "\"true\""),
        "ERR: attribute 'c': expected true or false for column type BOOLEAN, got a string 'true'");
    assert_string_equal(conv("TINYINT", "127"), "{\"N\":\"127\"}");
    assert_string_equal(conv("TINYINT", "-128"), "{\"N\":\"-128\"}");
    assert_string_equal(conv("TINYINT", "128"),
                        "ERR: attribute 'c': 128 is outside the column's range -128..127");
    assert_string_equal(conv("SMALLINT", "-32769"),
                        "ERR: attribute 'c': -32769 is outside the column's range -32768..32767");
    assert_string_equal(conv("INT", "\"42\""), "{\"N\":\"42\"}"); /* numeric strings are accepted */
    assert_string_equal(conv("INT", "1e2"), "{\"N\":\"1e2\"}");   /* text kept as written */
    assert_string_equal(conv("INT", "2.55e1"), "ERR: attribute 'c': 2.55e1 is not an integer");
    assert_string_equal(conv("INT", "1.5"), "ERR: attribute 'c': 1.5 is not an integer");
    assert_string_equal(conv("INT", "2.50e1"), "{\"N\":\"2.50e1\"}"); /* 25: an integer value */
    assert_string_equal(conv("INT", "-0"), "{\"N\":\"-0\"}");
    assert_string_equal(
        conv("INT", "\"abc\""),
        "ERR: attribute 'c': expected an integer for column type INTEGER, got a string 'abc'");
    assert_string_equal(conv("INT", "true"),
                        "ERR: attribute 'c': expected an integer for column type INTEGER, got a boolean");
    assert_string_equal(conv("BIGINT", "9223372036854775807"), "{\"N\":\"9223372036854775807\"}");
    assert_string_equal(conv("BIGINT", "-9223372036854775808"), "{\"N\":\"-9223372036854775808\"}");
    assert_non_null(strstr(conv("BIGINT", "9223372036854775808"), "outside the column's range"));
    assert_non_null(strstr(conv("BIGINT", "-9223372036854775809"), "outside the column's range"));
    assert_non_null(strstr(conv("BIGINT", "1e30"), "outside the column's range"));
    assert_string_equal(conv("DECIMAL(5,2)", "123.45"), "{\"N\":\"123.45\"}");
    assert_string_equal(conv("DECIMAL(5,2)", "\"12.30\""), "{\"N\":\"12.30\"}");
    assert_string_equal(conv("DECIMAL(5,2)", "123.456"),
                        "ERR: attribute 'c': 123.456 has 3 fraction digits, DECIMAL(5,2) allows 2");
    assert_string_equal(conv("DECIMAL(5,2)", "1234.5"),
                        "ERR: attribute 'c': 1234.5 has 4 integer digits, DECIMAL(5,2) allows 3");
    assert_string_equal(conv("DECIMAL", D38), "{\"N\":\"12345678901234567890123456789012345678\"}");
    assert_string_equal(conv("DOUBLE", "1.5"), "{\"N\":\"1.5\"}");
    assert_string_equal(conv("DOUBLE", "-2.5E-3"), "{\"N\":\"-2.5E-3\"}");
    assert_string_equal(
        conv("DOUBLE", "\"NaN\""),
        "ERR: attribute 'c': 'NaN' cannot be stored in DynamoDB (no NaN or Infinity numbers)");
    assert_string_equal(
        conv("REAL", "\"-Infinity\""),
        "ERR: attribute 'c': '-Infinity' cannot be stored in DynamoDB (no NaN or Infinity numbers)");
    assert_non_null(strstr(conv("DOUBLE", "1e308"), "too large for DynamoDB"));
    assert_non_null(strstr(conv("DOUBLE", "5e-324"), "too small in magnitude"));
    assert_string_equal(conv("VARCHAR(3)", "\"x\""), "{\"S\":\"x\"}");
    assert_string_equal(conv("VARCHAR", "5"),
                        "ERR: attribute 'c': expected a string for column type VARCHAR, got a number '5'");
    assert_string_equal(conv("DATE", "\"2024-02-29\""), "{\"S\":\"2024-02-29\"}");
    assert_non_null(strstr(conv("DATE", "\"2023-02-29\""), "expected a date 'YYYY-MM-DD'"));
    assert_non_null(strstr(conv("DATE", "\"2023-13-01\""), "expected a date"));
    assert_string_equal(conv("DATE", "19000"), "{\"S\":\"2022-01-08\"}"); /* Debezium days since epoch */
    assert_string_equal(conv("DATE", "-1"), "{\"S\":\"1969-12-31\"}");
    assert_string_equal(conv("TIME", "\"12:34:56.789\""), "{\"S\":\"12:34:56.789\"}");
    assert_non_null(strstr(conv("TIME", "\"25:00:00\""), "expected a time"));
    assert_string_equal(conv("TIMESTAMP", "\"2024-01-02T03:04:05.123Z\""),
                        "{\"S\":\"2024-01-02T03:04:05.123Z\"}");
    assert_string_equal(conv("TIMESTAMP(3)", "\"2024-01-02 03:04:05\""), "{\"S\":\"2024-01-02 03:04:05\"}");
    assert_string_equal(conv("TIMESTAMP WITH TIME ZONE", "\"2024-01-02T03:04:05+05:30\""),
                        "{\"S\":\"2024-01-02T03:04:05+05:30\"}");
    assert_non_null(strstr(conv("TIMESTAMP", "\"2024-01-02\""), "expected a timestamp"));
    assert_string_equal(conv("UUID", "\"123e4567-e89b-12d3-a456-426614174000\""),
                        "{\"S\":\"123e4567-e89b-12d3-a456-426614174000\"}");
    assert_non_null(strstr(conv("UUID", "\"123e4567e89b12d3a456426614174000\""), "expected a UUID"));
    assert_string_equal(conv("VARBINARY", "\"AAEC\""), "{\"B\":\"AAEC\"}");
    assert_string_equal(
        conv("BYTES", "\"abc\""),
        "ERR: attribute 'c': 'abc' is not valid base64 (standard alphabet, padded) for a VARBINARY column");
    assert_string_equal(conv("ARRAY<INT>", "[1,\"a\",null]"),
                        "{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"},{\"NULL\":true}]}");
    assert_non_null(
        strstr(conv("ARRAY<INT>", "{}"), "expected an array for column type ARRAY, got an object"));
    assert_string_equal(conv("MAP<VARCHAR,INT>", "{\"a\":1}"), "{\"M\":{\"a\":{\"N\":\"1\"}}}");
    assert_string_equal(conv("ROW<a INT>", "{\"a\":{\"b\":[true]}}"),
                        "{\"M\":{\"a\":{\"M\":{\"b\":{\"L\":[{\"BOOL\":true}]}}}}}");
    assert_string_equal(conv("VARIANT", "{\"a\":[1.50]}"), "{\"M\":{\"a\":{\"L\":[{\"N\":\"1.50\"}]}}}");
    assert_string_equal(conv("STRING SET", "[\"a\",\"b\"]"), "{\"SS\":[\"a\",\"b\"]}");
    assert_string_equal(conv("NUMBER SET", "[1,\"2.5\"]"), "{\"NS\":[\"1\",\"2.5\"]}");
    assert_string_equal(conv("BINARY SET", "[\"AA==\"]"), "{\"BS\":[\"AA==\"]}");
    assert_string_equal(conv("SS", "[]"),
                        "ERR: attribute 'c': empty string set: DynamoDB does not store empty sets");
    assert_string_equal(
        conv("SS", "[\"a\",\"a\"]"),
        "ERR: attribute 'c': string set has a duplicate member 'a' (DynamoDB sets hold unique values)");
    assert_string_equal(conv("NS", "[1,\"x\"]"), "ERR: attribute 'c': 'x' is not a valid number");
    assert_string_equal(conv("BS", "[\"!!\"]"), "ERR: attribute 'c': BS member 0 is not valid base64");
    assert_string_equal(conv("SS", "[1]"),
                        "ERR: attribute 'c': STRING SET member 0 must be a string, got a number");
}

static void test_from_plain_auto(void **state) {
    (void)state;
    assert_string_equal(conv(NULL, "\"s\""), "{\"S\":\"s\"}");
    assert_string_equal(conv(NULL, "true"), "{\"BOOL\":true}");
    assert_string_equal(conv(NULL, "null"), "{\"NULL\":true}");
    /* 38 digits survive byte for byte, also in exponent form */
    assert_string_equal(conv(NULL, "-0.12345678901234567890123456789012345678E-5"),
                        "{\"N\":\"-0.12345678901234567890123456789012345678E-5\"}");
    assert_string_equal(conv(NULL, "1234567890123456789012345678901234567891"),
                        "ERR: attribute 'c': number has 40 significant digits, DynamoDB allows 38");
    assert_string_equal(conv(NULL, "[[{\"x\":1e999}]]"),
                        "ERR: attribute 'c[0][0].x': number 1e999 is too large for DynamoDB (largest is "
                        "9.9999999999999999999999999999999999999E+125)");
    assert_string_equal(conv(NULL, "{\"a\":{},\"b\":[]}"), "{\"M\":{\"a\":{\"M\":{}},\"b\":{\"L\":[]}}}");
    /* dp_attr_from_plain without a name reports nested paths as "at" */
    dp_json_doc *d = P("{\"a\":[1,1e999]}");
    char err[512];
    assert_null(dp_attr_from_plain(d, dp_json_root(d), NULL, err, sizeof err));
    assert_non_null(strstr(err, "at 'a[1]': number 1e999 is too large"));
    dp_json_doc_free(d);
}

/* -------------------------------------------------------------- typed -> plain */

static const char ALL_TYPES[] =
    "{\"id\":{\"S\":\"k1\"},\"n\":{\"N\":\"12345678901234567890123456789012345678\"},"
    "\"small\":{\"N\":\"-1.50E-129\"},\"b\":{\"B\":\"AAH+/w==\"},\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
    "\"m\":{\"M\":{\"inner\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"},{\"M\":{}}]}}},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"0.5\"]},\"bs\":{\"BS\":[\"AA==\",\"AQ==\"]}}";

static const char ALL_PLAIN[] =
    "{\"id\":\"k1\",\"n\":12345678901234567890123456789012345678,\"small\":-1.50E-129,\"b\":\"AAH+/w==\","
    "\"t\":true,\"z\":null,\"m\":{\"inner\":[1,\"x\",{}]},\"ss\":[\"a\",\"b\"],\"ns\":[1,0.5],"
    "\"bs\":[\"AA==\",\"AQ==\"]}";

static void test_to_plain(void **state) {
    (void)state;
    char err[512];
    dp_json_doc *d = P(ALL_TYPES);
    assert_int_equal(dp_item_validate(dp_json_root(d), "id", NULL, err, sizeof err), 0);
    dp_json *plain = dp_item_to_plain(d, dp_json_root(d), err, sizeof err);
    assert_non_null(plain);
    assert_string_equal(W(plain), ALL_PLAIN);
    /* the streaming writer gives the same bytes */
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_item_write_plain(&b, dp_json_root(d), err, sizeof err), DDBPIPE_OK);
    assert_string_equal(b.data, ALL_PLAIN);
    /* a bad value leaves the buffer as it was */
    dp_json_doc *bad = P("{\"a\":{\"M\":{\"b\":{\"N\":\"x1\"}}}}");
    size_t before = b.len;
    assert_int_equal(dp_item_write_plain(&b, dp_json_root(bad), err, sizeof err), DDBPIPE_ERR_VALIDATION);
    assert_int_equal(b.len, before);
    assert_string_equal(err, "attribute 'a.b': 'x1' is not a valid number");
    assert_null(dp_item_to_plain(d, dp_json_root(bad), err, sizeof err));
    dp_buf_free(&b);
    dp_json_doc_free(bad);
    /* single values */
    dp_json *n = dp_json_get(dp_json_root(d), "n");
    dp_json *pn = dp_attr_to_plain(d, n, err, sizeof err);
    assert_int_equal(pn->type, DP_JSON_NUMBER);
    assert_string_equal(pn->str, D38);
    dp_json_doc_free(d);
}

static void test_item_from_plain(void **state) {
    (void)state;
    dp_column cols[2];
    char err[512];
    memset(cols, 0, sizeof cols);
    strcpy(cols[0].name, "tags");
    assert_int_equal(dp_coltype_parse("STRING SET", &cols[0].type, err, sizeof err), 0);
    strcpy(cols[1].name, "age");
    assert_int_equal(dp_coltype_parse("INT", &cols[1].type, err, sizeof err), 0);
    dp_json_doc *d = P("{\"id\":\"a\",\"tags\":[\"x\",\"y\"],\"age\":\"7\",\"gone\":null,\"list\":[\"x\"]}");
    dp_json *item = dp_item_from_plain(d, dp_json_root(d), cols, 2, 1, err, sizeof err);
    assert_non_null(item);
    assert_string_equal(W(item),
                        "{\"id\":{\"S\":\"a\"},\"tags\":{\"SS\":[\"x\",\"y\"]},\"age\":{\"N\":\"7\"},"
                        "\"list\":{\"L\":[{\"S\":\"x\"}]}}");
    item = dp_item_from_plain(d, dp_json_root(d), cols, 2, 0, err, sizeof err);
    assert_non_null(dp_json_get(item, "gone"));
    dp_json_doc_free(d);
    d = P("{\"id\":\"a\",\"age\":\"old\"}");
    assert_null(dp_item_from_plain(d, dp_json_root(d), cols, 2, 0, err, sizeof err));
    assert_string_equal(err,
                        "attribute 'age': expected an integer for column type INTEGER, got a string 'old'");
    assert_null(dp_item_from_plain(d, dp_json_get(dp_json_root(d), "id"), cols, 2, 0, err, sizeof err));
    dp_json_doc_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_limits),    cmocka_unit_test(test_number_size_and_canonical),
        cmocka_unit_test(test_base64),           cmocka_unit_test(test_attr_validate_types),
        cmocka_unit_test(test_attr_depth),       cmocka_unit_test(test_item_size),
        cmocka_unit_test(test_item_too_large),   cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_string),       cmocka_unit_test(test_coltype_parse),
        cmocka_unit_test(test_from_plain_types), cmocka_unit_test(test_from_plain_auto),
        cmocka_unit_test(test_to_plain),         cmocka_unit_test(test_item_from_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
