/* The source's one-pass Scan page -> JSON lines writer (formats/scan_lines.c)
 * against the general path (a tree of the page, then dp_event_write per
 * item): the lines a user gets must be byte for byte the same, and a page
 * the general path refuses must never be accepted by the one-pass path.
 * Pages come from a seeded generator (every AttributeValue type, escapes,
 * UTF-8, bad numbers, missing and repeated keys, odd whitespace) and from
 * byte-level mutations of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "scan_lines_compare.h"

static uint64_t rng_state;
static int dirty; /* this page may hold what the one-pass path gives back */
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static const dp_scan_lines_opts opts_pk = {.table = "tbl", .partition_key = "id", .sort_key = NULL};
static const dp_scan_lines_opts opts_pk_sk = {.table = "t\"q", .partition_key = "id", .sort_key = "sk"};

static void ws(dp_buf *b) {
    static const char *const w[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
    dp_buf_puts(b, w[rnd(7)]);
}

static void gen_string(dp_buf *b) {
    static const char *const parts[] = {
        "abc",  "user-42", "x y",     "caf\xc3\xa9", "\xf0\x9f\x98\x80",
        "\\n",  "\\\"",    "\\u00e9", "\\/",         "\\ud83d\\ude00",
        "\x01", "\xff",    "\xc3",    "Items",       "",
        "id",   "sk",      "\\u0000", "\\x",         "long-text-for-swar-0123456789"};
    dp_buf_putc(b, '"');
    unsigned n = rnd(4);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = rnd(20);
        /* mostly clean text, so most pages stay on the one-pass path */
        if (k >= 5 && k < 13 && (!dirty || rnd(4)))
            k = 0;
        if (k >= 17 && k < 19 && !dirty)
            k = 1;
        dp_buf_puts(b, parts[k]);
    }
    dp_buf_putc(b, '"');
}

static void gen_number(dp_buf *b) {
    static const char *const nums[] = {"1",
                                       "-0.5",
                                       "12.50",
                                       "1e3",
                                       "0",
                                       "-0",
                                       "3.14159",
                                       "NaN",
                                       "01",
                                       "1.",
                                       "+1",
                                       "1E-131",
                                       "123456789012345678901234567890123456789",
                                       "9.9E125",
                                       "1e126",
                                       "abc"};
    unsigned k = rnd(16);
    if (k >= 7 && (!dirty || rnd(3)))
        k = rnd(7);
    dp_buf_printf(b, "\"%s\"", nums[k]);
}

static void gen_av(dp_buf *b, int depth) {
    ws(b);
    dp_buf_putc(b, '{');
    ws(b);
    unsigned t = rnd(depth > 3 ? 9 : dirty ? 13 : 12);
    switch (t) {
    case 0:
    case 1:
        dp_buf_puts(b, "\"S\":");
        ws(b);
        gen_string(b);
        break;
    case 2:
    case 3:
        dp_buf_puts(b, "\"N\":");
        gen_number(b);
        break;
    case 4:
        dp_buf_puts(b, "\"B\":\"AAEC\"");
        break;
    case 5:
        dp_buf_puts(b, rnd(2) ? "\"BOOL\":true" : "\"BOOL\": false");
        break;
    case 6:
        dp_buf_puts(b, rnd(4) || !dirty ? "\"NULL\":true" : rnd(2) ? "\"NULL\":false" : "\"NULL\":{\"x\":1}");
        break;
    case 7: {
        dp_buf_puts(b, rnd(2) ? "\"SS\":[" : "\"BS\":[");
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                dp_buf_putc(b, ',');
            gen_string(b);
        }
        dp_buf_putc(b, ']');
        break;
    }
    case 8: {
        dp_buf_puts(b, "\"NS\":[");
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                dp_buf_puts(b, " , ");
            gen_number(b);
        }
        dp_buf_putc(b, ']');
        break;
    }
    case 9:
    case 10: {
        dp_buf_puts(b, "\"M\":{");
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                dp_buf_putc(b, ',');
            gen_string(b);
            dp_buf_putc(b, ':');
            gen_av(b, depth + 1);
        }
        dp_buf_putc(b, '}');
        break;
    }
    case 11: {
        dp_buf_puts(b, "\"L\":[");
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                dp_buf_putc(b, ',');
            gen_av(b, depth + 1);
        }
        dp_buf_putc(b, ']');
        break;
    }
    default: { /* malformed ones */
        static const char *const bad[] = {
            "\"X\":\"1\"",       "\"S\":1",  "\"N\":1",    "\"S\":\"a\",\"N\":\"1\"",
            "\"BOOL\":\"true\"", "\"L\":{}", "\"SS\":[1]", "\"S\":null"};
        dp_buf_puts(b, bad[rnd(8)]);
    }
    }
    ws(b);
    dp_buf_putc(b, '}');
}

static void gen_item(dp_buf *b, int with_sk) {
    dp_buf_putc(b, '{');
    unsigned n = 1 + rnd(5);
    unsigned pk_at = rnd(n), sk_at = rnd(n);
    int missing = dirty && rnd(25) == 0, repeat = dirty && rnd(25) == 0;
    int first = 1;
    for (unsigned i = 0; i < n; i++) {
        if (i == pk_at && !missing) {
            dp_buf_puts(b, first ? "\"id\":" : ",\"id\":");
            first = 0;
            gen_av(b, 0);
            if (repeat) {
                dp_buf_puts(b, ",\"id\":");
                gen_av(b, 0);
            }
        }
        if (with_sk && i == sk_at) {
            dp_buf_puts(b, first ? "\"sk\":" : ",\"sk\":");
            first = 0;
            gen_av(b, 0);
        }
        if (!first)
            dp_buf_putc(b, ',');
        first = 0;
        ws(b);
        gen_string(b);
        ws(b);
        dp_buf_putc(b, ':');
        gen_av(b, 0);
    }
    dp_buf_putc(b, '}');
}

static void gen_page(dp_buf *b, int with_sk) {
    dp_buf_reset(b);
    ws(b);
    dp_buf_putc(b, '{');
    unsigned order = rnd(3);
    unsigned items = rnd(6);
    for (unsigned part = 0; part < 3; part++) {
        unsigned which = (part + order) % 3;
        if (part)
            dp_buf_putc(b, ',');
        ws(b);
        if (which == 0) {
            unsigned v = dirty ? rnd(40) : 2;
            dp_buf_puts(b, v == 0 ? "\"Items\":null" : v == 1 ? "\"Items\":{}" : "\"Items\":");
            if (v > 1) {
                ws(b);
                dp_buf_putc(b, '[');
                for (unsigned i = 0; i < items; i++) {
                    if (i)
                        dp_buf_putc(b, ',');
                    ws(b);
                    gen_item(b, with_sk);
                }
                ws(b);
                dp_buf_putc(b, ']');
            }
        } else if (which == 1) {
            dp_buf_printf(b, "\"Count\":%u,\"ScannedCount\":%u", items, items);
            if (rnd(2))
                dp_buf_puts(b, ",\"ConsumedCapacity\":{\"TableName\":\"tbl\",\"CapacityUnits\":2.5}");
        } else {
            unsigned v = rnd(5);
            if (v == 2 && !dirty)
                v = 3;
            dp_buf_puts(b, v == 0   ? "\"LastEvaluatedKey\":{\"id\":{\"S\":\"u\\u0031\"}}"
                           : v == 1 ? "\"LastEvaluatedKey\":{}"
                           : v == 2 ? "\"LastEvaluatedKey\":\"x\""
                                    : "\"Other\":[1,{\"a\":\"]\"}]");
        }
    }
    ws(b);
    dp_buf_putc(b, '}');
    ws(b);
}

static void mutate(dp_buf *b) {
    if (!b->len)
        return;
    size_t at = rnd((unsigned)b->len);
    static const char pool[] = "{}[]\",:\\ 0aN\x80";
    switch (rnd(3)) {
    case 0:
        b->data[at] = pool[rnd(sizeof pool - 1)];
        break;
    case 1:
        b->len = at;
        b->data[at] = 0;
        break;
    default:
        memmove(b->data + at, b->data + at + 1, b->len - at - 1);
        b->len--;
        b->data[b->len] = 0;
    }
}

static void check(const char *page, size_t len, const dp_scan_lines_opts *o, int *handled) {
    char why[1200] = "";
    int rc = slc_compare(page, len, o, why, sizeof why);
    if (rc < 0) {
        print_error("page: %.*s\n%s\n", (int)(len > 2000 ? 2000 : len), page, why);
        fail();
    }
    if (rc == 1)
        (*handled)++;
}

static void test_generated_pages_agree(void **state) {
    (void)state;
    dp_buf b;
    dp_buf_init(&b, 0);
    rng_state = 0x9e3779b97f4a7c15ULL;
    /* valgrind/ASan sweeps: fewer pages, the same mix */
    int handled = 0, mutated_handled = 0, pages = getenv("DDBPIPE_TEST_SLOW") ? 600 : 3000;
    for (int i = 0; i < pages; i++) {
        const dp_scan_lines_opts *o = (i & 1) ? &opts_pk_sk : &opts_pk;
        dirty = rnd(3) == 0;
        gen_page(&b, i & 1);
        check(b.data, b.len, o, &handled);
        for (int m = 0; m < 3; m++) {
            mutate(&b);
            check(b.data, b.len, o, &mutated_handled);
        }
    }
    dp_buf_free(&b);
    /* the one-pass path must take most clean pages, or it saves nothing */
    print_message("one-pass path took %d of %d generated pages, %d of %d mutated ones\n", handled, pages,
                  mutated_handled, pages * 3);
    assert_true(handled > pages / 4);
    assert_true(mutated_handled > 0);
}

/* What a user sees: the exact line, keys first in key-schema order. */
static void test_line_shape(void **state) {
    (void)state;
    const char *page =
        "{\"Items\":[{\"v\":{\"M\":{\"a\":{\"L\":[{\"N\":\"1.50\"},{\"NULL\":true},{\"BOOL\":false}]},"
        "\"s\":{\"SS\":[\"x\",\"caf\xc3\xa9\"]}}},\"sk\":{\"N\":\"7\"},\"id\":{\"S\":\"u1\"},"
        "\"b\":{\"B\":\"AAEC\"}}],\"Count\":1,\"ScannedCount\":1,"
        "\"LastEvaluatedKey\":{\"id\":{\"S\":\"u1\"},\"sk\":{\"N\":\"7\"}}}";
    dp_buf lines, rest;
    dp_buf_init(&lines, 0);
    dp_buf_init(&rest, 0);
    size_t n = 0;
    assert_int_equal(dp_scan_lines_write(page, strlen(page), &opts_pk_sk, &lines, &rest, &n), 1);
    assert_int_equal(n, 1);
    assert_string_equal(
        lines.data,
        "{\"op\":\"snapshot\",\"table\":\"t\\\"q\",\"keys\":{\"id\":\"u1\",\"sk\":7},\"new\":{\"v\":{"
        "\"a\":[1.50,null,false],\"s\":[\"x\",\"caf\xc3\xa9\"]},\"sk\":7,\"id\":\"u1\",\"b\":"
        "\"AAEC\"},\"old\":null}\n");
    assert_string_equal(rest.data,
                        "{\"Count\":1,\"ScannedCount\":1,\"LastEvaluatedKey\":{\"id\":{\"S\":\"u1\"},"
                        "\"sk\":{\"N\":\"7\"}}}");
    int handled = 0;
    check(page, strlen(page), &opts_pk_sk, &handled);
    assert_int_equal(handled, 1);
    dp_buf_free(&lines);
    dp_buf_free(&rest);
}

/* Pages the one-pass path gives back: the general path decides (and the
 * one-pass path leaves `lines` as it found it). */
static void test_left_to_general_path(void **state) {
    (void)state;
    static const char *const pages[] = {
        "{\"Items\":[{\"id\":{\"S\":\"a\\nb\"}}]}",                  /* escape: decoded and re-escaped */
        "{\"Items\":[{\"x\":{\"S\":\"a\"}}]}",                       /* no key attribute */
        "{\"Items\":[{\"id\":{\"S\":\"a\"},\"id\":{\"S\":\"b\"}}]}", /* repeated key attribute */
        "{\"Items\":[{\"id\":{\"N\":\"NaN\"}}]}",                    /* not a DynamoDB number */
        "{\"Items\":[{\"id\":{\"S\":\"a\",\"N\":\"1\"}}]}",          /* two type keys */
        "{\"Items\":[{\"id\":{\"S\":\"a\"}}],\"Items\":[]}",         /* Items twice */
        "{\"Count\":0}",                                             /* no Items */
        "{\"Items\":[{\"id\":{\"S\":\"a\"}}]} x",                    /* trailing bytes */
        "{\"Items\":[{\"id\":{\"S\":\"a\xff\"}}]}",                  /* invalid UTF-8 */
    };
    dp_buf lines, rest;
    dp_buf_init(&lines, 0);
    dp_buf_init(&rest, 0);
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        size_t n = 7;
        dp_buf_reset(&lines);
        dp_buf_puts(&lines, "kept\n");
        assert_int_equal(dp_scan_lines_write(pages[i], strlen(pages[i]), &opts_pk, &lines, &rest, &n), 0);
        assert_string_equal(lines.data, "kept\n");
        assert_int_equal(n, 0);
        int handled = 0;
        check(pages[i], strlen(pages[i]), &opts_pk, &handled);
        assert_int_equal(handled, 0);
    }
    dp_buf_free(&lines);
    dp_buf_free(&rest);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_shape),
        cmocka_unit_test(test_left_to_general_path),
        cmocka_unit_test(test_generated_pages_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
