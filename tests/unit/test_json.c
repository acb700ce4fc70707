/* Unit tests for the JSON DOM parser/writer and common helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"

static char *roundtrip(const char *in) {
    dp_json_error err;
    dp_json_doc *d = dp_json_parse(in, strlen(in), &err);
    if (!d)
        return NULL;
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_json_write(&b, dp_json_root(d)), DDBPIPE_OK);
    dp_json_doc_free(d);
    return dp_buf_steal(&b);
}

static void test_numbers_keep_exact_text(void **state) {
    (void)state;
    const char *in =
        "{\"a\":12345678901234567890123456789012345678,\"b\":-0.000000000000000000000000000000000000001,"
        "\"c\":1.50,\"d\":1E+125,\"e\":0}";
    char *out = roundtrip(in);
    assert_non_null(out);
    assert_string_equal(out, in);
    free(out);
}

static void test_strings_and_escapes(void **state) {
    (void)state;
    const char *in = "[\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\u0001\", \"\xc3\xa9\"]";
    dp_json_error err;
    dp_json_doc *d = dp_json_parse(in, strlen(in), &err);
    assert_non_null(d);
    dp_json *s = dp_json_at(dp_json_root(d), 0);
    assert_int_equal(s->type, DP_JSON_STRING);
    assert_memory_equal(s->str, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80\x01", s->len);
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_json_write(&b, dp_json_root(d));
    assert_string_equal(b.data, "[\"a\\\"b\\\\c\\n\xc3\xa9\xf0\x9f\x98\x80\\u0001\",\"\xc3\xa9\"]");
    dp_buf_free(&b);
    dp_json_doc_free(d);
}

static void test_embedded_nul_string(void **state) {
    (void)state;
    const char *in = "\"a\\u0000b\"";
    dp_json_doc *d = dp_json_parse(in, strlen(in), NULL);
    assert_non_null(d);
    assert_int_equal(dp_json_root(d)->len, 3);
    dp_json_doc_free(d);
}

static void expect_error(const char *in, const char *needle) {
    dp_json_error err;
    memset(&err, 0, sizeof err);
    dp_json_doc *d = dp_json_parse(in, strlen(in), &err);
    assert_null(d);
    if (!strstr(err.message, needle))
        fail_msg("input %s: message '%s' lacks '%s'", in, err.message, needle);
}

static void test_errors_are_clear(void **state) {
    (void)state;
    expect_error("{\"a\":1", "unterminated object");
    expect_error("{\"a\" 1}", "expected ':'");
    expect_error("[1,2", "unterminated array");
    expect_error("{\"a\":NaN}", "NaN/Infinity");
    expect_error("[Infinity]", "NaN/Infinity");
    expect_error("01", "invalid number");
    expect_error("1.", "invalid number");
    expect_error("\"\xff\"", "invalid UTF-8");
    expect_error("\"\\ud800\"", "unpaired surrogate");
    expect_error("\"a\nb\"", "control character");
    expect_error("", "unexpected end");
    expect_error("{} {}", "trailing");
    expect_error("\"\\x\"", "bad escape");
    expect_error("\xff{}", "invalid UTF-8");
    /* NUL bytes are named (and located) wherever they are */
    static const struct {
        const char *in;
        size_t len;
        const char *needle;
        size_t offset;
    } nul[] = {{"\"a\0b\"", 5, "NUL byte in string", 2},
               {"  \0{}", 5, "NUL byte", 2},
               {"{}\0", 3, "NUL byte after the JSON value", 2}};
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
        dp_json_error err;
        memset(&err, 0, sizeof err);
        assert_null(dp_json_parse(nul[i].in, nul[i].len, &err));
        if (!strstr(err.message, nul[i].needle))
            fail_msg("NUL case %zu: '%s' lacks '%s'", i, err.message, nul[i].needle);
        assert_int_equal(err.offset, nul[i].offset);
    }
}

static void test_depth_limit(void **state) {
    (void)state;
    char deep[300];
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    dp_json_error err;
    assert_null(dp_json_parse(deep, 300, &err));
    assert_non_null(strstr(err.message, "nesting too deep"));
}

static void test_builders_and_equal(void **state) {
    (void)state;
    dp_json_doc *d = dp_json_doc_new();
    dp_json *o = dp_json_new_object(d);
    assert_int_equal(dp_json_object_set(d, o, "k", 1, dp_json_new_number(d, "1", 1)), 0);
    assert_int_equal(dp_json_object_set(d, o, "s", 1, dp_json_new_string(d, "x", 1)), 0);
    assert_int_equal(dp_json_object_set(d, o, "k", 1, dp_json_new_number(d, "2", 1)), 0);
    assert_int_equal(o->count, 2);
    dp_json_doc *p = dp_json_parse("{\"s\":\"x\",\"k\":2}", 15, NULL);
    assert_non_null(p);
    assert_true(dp_json_equal(o, dp_json_root(p)));
    dp_json_doc *d2 = dp_json_doc_new();
    dp_json *c = dp_json_clone(d2, o);
    dp_json_doc_free(d);
    assert_true(dp_json_equal(c, dp_json_root(p)));
    assert_int_equal(dp_json_object_remove(c, "k"), 1);
    assert_false(dp_json_equal(c, dp_json_root(p)));
    dp_json_doc_free(d2);
    dp_json_doc_free(p);
}

static void test_buf_cap(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 10);
    assert_int_equal(dp_buf_append(&b, "0123456789", 10), DDBPIPE_OK);
    assert_int_equal(dp_buf_putc(&b, 'x'), DDBPIPE_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    dp_buf_free(&b);
}

/* CRC-32 a bit at a time: the reference the table-driven dp_crc32 must match. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void test_crc32_and_iso8601(void **state) {
    (void)state;
    assert_int_equal(dp_crc32("{\"TableNames\":[]}", 17), 1315925753u); /* as DynamoDB Local sent it */
    assert_int_equal(dp_crc32("123456789", 9), 0xCBF43926u);
    /* every length and start offset around the 8-byte steps, and a long run */
    unsigned char buf[4099];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 40; n++)
            assert_int_equal(dp_crc32(buf + off, n), crc32_bitwise(buf + off, n));
    assert_int_equal(dp_crc32(buf, sizeof buf), crc32_bitwise(buf, sizeof buf));
    assert_int_equal(dp_parse_iso8601("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(dp_parse_iso8601("2026-11-21T12:00:00.123Z"), 1795262400);
    assert_int_equal(dp_parse_iso8601("2026-11-21T13:00:00+01:00"), 1795262400);
    assert_int_equal(dp_parse_iso8601("2026-13-21T13:00:00Z"), -1);
    assert_int_equal(dp_parse_iso8601("garbage"), -1);
}

static void test_atomic_write(void **state) {
    (void)state;
    char path[] = "/tmp/dp_test_atomic_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(dp_write_file_atomic(path, "hello", 5), 0);
    size_t n = 0;
    char *s = dp_read_file(path, 100, &n);
    assert_non_null(s);
    assert_int_equal(n, 5);
    assert_string_equal(s, "hello");
    free(s);
    assert_null(dp_read_file(path, 3, &n)); /* over the cap */
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_keep_exact_text),
        cmocka_unit_test(test_strings_and_escapes),
        cmocka_unit_test(test_embedded_nul_string),
        cmocka_unit_test(test_errors_are_clear),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_builders_and_equal),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_crc32_and_iso8601),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
