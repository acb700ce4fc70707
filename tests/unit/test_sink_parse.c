/* Unit tests for the sink's pure parts: line -> change (put/merge/delete,
 * bad records and their reasons), DynamoDB key identity, and the
 * checkpoint file format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/sigv4.h"
#include "common/json.h"
#include "sink/sink_internal.h"
#include "sink_parse_compare.h"
#include "transport/file_checkpoint.h"

static sk_parse_ctx ctx_for(int merge) {
    sk_parse_ctx c;
    memset(&c, 0, sizeof(c));
    c.opts.format = DP_CHANGE_FMT_AUTO;
    c.opts.partition_key = "id";
    c.opts.partition_type = 'N';
    c.opts.sort_key = "sort";
    c.opts.sort_type = 'S';
    c.merge = merge;
    return c;
}

static sk_bad_kind parse(const sk_parse_ctx *c, const char *line, sk_change *ch, char *reason) {
    sk_change_init(ch);
    return sk_parse_line(c, line, strlen(line), ch, reason, 512);
}

/* parse() into a change that already holds a parse result: free it first */
static sk_bad_kind reparse(const sk_parse_ctx *c, const char *line, sk_change *ch, char *reason) {
    sk_change_free(ch);
    return parse(c, line, ch, reason);
}

static void test_put_mode_upsert_is_typed_item(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    sk_change ch;
    char reason[512];
    assert_int_equal(parse(&c, "{\"id\": 7, \"sort\": \"a\", \"v\": 1.50}", &ch, reason), SK_BAD_NONE);
    assert_int_equal(ch.op, SK_OP_PUT);
    assert_string_equal(ch.body.data, "{\"id\":{\"N\":\"7\"},\"sort\":{\"S\":\"a\"},\"v\":{\"N\":\"1.50\"}}");
    assert_string_equal(ch.key_json.data, "{\"id\":{\"N\":\"7\"},\"sort\":{\"S\":\"a\"}}");
    assert_true(ch.item_size > 0);
    sk_change_free(&ch);
}

static void test_deletes_in_every_format(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    const char *lines[] = {
        "{\"delete\": {\"id\": 7, \"sort\": \"a\", \"v\": 1}}",
        "{\"op\": \"d\", \"before\": {\"id\": 7, \"sort\": \"a\"}, \"after\": null}",
        "{\"payload\": {\"op\": \"d\", \"before\": {\"id\": 7, \"sort\": \"a\"}}}",
        "{\"eventName\": \"REMOVE\", \"dynamodb\": {\"Keys\": {\"id\": {\"N\": \"7\"}, \"sort\": {\"S\": "
        "\"a\"}}}}",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        sk_change ch;
        char reason[512];
        assert_int_equal(parse(&c, lines[i], &ch, reason), SK_BAD_NONE);
        assert_int_equal(ch.op, SK_OP_DELETE);
        assert_string_equal(ch.key_json.data, "{\"id\":{\"N\":\"7\"},\"sort\":{\"S\":\"a\"}}");
        sk_change_free(&ch);
    }
}

static void test_bom_and_tombstones(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    sk_change ch, plain;
    char reason[512];
    sk_change_init(&ch);
    sk_change_init(&plain);
    /* a UTF-8 BOM before the first record is skipped: the same change as without it */
    assert_int_equal(parse(&c, "{\"id\":1,\"sort\":\"a\",\"v\":2}", &plain, reason), SK_BAD_NONE);
    assert_int_equal(parse(&c, "\xEF\xBB\xBF{\"id\":1,\"sort\":\"a\",\"v\":2}", &ch, reason), SK_BAD_NONE);
    assert_int_equal(ch.body.len, plain.body.len);
    assert_memory_equal(ch.body.data, plain.body.data, plain.body.len);
    assert_int_equal(reparse(&c,
                             "\xEF\xBB\xBF{\"schema\":{},\"payload\":{\"op\":\"c\",\"after\":{\"id\":1,"
                             "\"sort\":\"a\",\"v\":2}}}",
                             &ch, reason),
                     SK_BAD_NONE);
    assert_memory_equal(ch.body.data, plain.body.data, plain.body.len);
    /* Debezium tombstones are their own kind, with no reason */
    assert_int_equal(reparse(&c, "null", &ch, reason), SK_TOMBSTONE);
    assert_int_equal(reparse(&c, "\xEF\xBB\xBFnull", &ch, reason), SK_TOMBSTONE);
    assert_int_equal(reparse(&c, "{\"schema\":{\"type\":\"struct\"},\"payload\":null}", &ch, reason),
                     SK_TOMBSTONE);
    /* a BOM elsewhere is not skipped */
    assert_int_equal(reparse(&c, "{\"id\":1,\"sort\":\"a\"}\xEF\xBB\xBF", &ch, reason), SK_BAD_RECORD);
    sk_change_free(&ch);
    sk_change_free(&plain);
}

static void test_merge_mode_keeps_the_patch(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(1);
    sk_change ch;
    char reason[512];
    assert_int_equal(
        parse(&c, "{\"id\": 7, \"sort\": \"a\", \"gone\": null, \"m\": {\"x\": 1}}", &ch, reason),
        SK_BAD_NONE);
    assert_int_equal(ch.op, SK_OP_PATCH);
    /* the patch is plain JSON; null removes the attribute when applied */
    assert_non_null(strstr(ch.body.data, "\"gone\":null"));
    sk_change_free(&ch);
    /* a DynamoDB Streams image is a typed, whole-attribute replacement */
    assert_int_equal(
        parse(&c,
              "{\"eventName\": \"MODIFY\", \"dynamodb\": {\"Keys\": {\"id\": {\"N\": \"7\"}, \"sort\": "
              "{\"S\": \"a\"}}, \"NewImage\": {\"id\": {\"N\": \"7\"}, \"sort\": {\"S\": \"a\"}, "
              "\"ss\": {\"SS\": [\"x\"]}}}}",
              &ch, reason),
        SK_BAD_NONE);
    assert_int_equal(ch.op, SK_OP_PUT);
    sk_change_free(&ch);
}

static void test_bad_records_have_reasons(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    struct {
        const char *line;
        const char *needle;
    } cases[] = {
        {"{\"id\": 1, \"sort\": ", "JSON"},
        {"[1, 2]", "object"},
        {"{\"sort\": \"a\"}", "partition key 'id'"},
        {"{\"id\": 1}", "sort key 'sort'"},
        {"{\"id\": 1, \"sort\": \"\"}", "empty"},
        {"{\"id\": true, \"sort\": \"a\"}", "id"},
        {"{\"id\": 1, \"sort\": \"a\", \"v\": 1e999}", "v"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sk_change ch;
        char reason[512];
        sk_bad_kind k = parse(&c, cases[i].line, &ch, reason);
        sk_change_free(&ch);
        if (k != SK_BAD_RECORD || !strstr(reason, cases[i].needle))
            fail_msg("line %s: kind %d reason '%s' (expected '%s')", cases[i].line, (int)k, reason,
                     cases[i].needle);
    }
}

static void test_oversized_item_is_its_own_kind(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    size_t n = 420000;
    char *line = malloc(n + 64);
    assert_non_null(line);
    int h = snprintf(line, 64, "{\"id\": 1, \"sort\": \"a\", \"blob\": \"");
    memset(line + h, 'x', n);
    strcpy(line + h + n, "\"}");
    sk_change ch;
    char reason[512];
    assert_int_equal(parse(&c, line, &ch, reason), SK_BAD_OVERSIZED);
    assert_non_null(strstr(reason, "400 KB"));
    sk_change_free(&ch);
    free(line);
}

/* Oversized is decided by the parser's result code, not by the reason's
 * words: a bad record whose reason quotes "400 KB" (here an attribute
 * named so) is an ordinary bad record. */
static void test_reason_text_does_not_make_oversized(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    sk_change ch;
    char reason[512];
    assert_int_equal(parse(&c, "{\"id\": 1, \"sort\": \"a\", \"(400 KB)\": 1e999}", &ch, reason),
                     SK_BAD_RECORD);
    assert_non_null(strstr(reason, "400 KB"));
    sk_change_free(&ch);
    /* a Streams image over 400 KB (typed, checked by dp_item_validate_typed) is oversized */
    size_t n = 420000;
    char *line = malloc(n + 256);
    assert_non_null(line);
    int h = snprintf(line, 256,
                     "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"1\"},"
                     "\"sort\":{\"S\":\"a\"},\"blob\":{\"S\":\"");
    memset(line + h, 'x', n);
    strcpy(line + h + n, "\"}}}}");
    assert_int_equal(parse(&c, line, &ch, reason), SK_BAD_OVERSIZED);
    assert_non_null(strstr(reason, "400 KB"));
    sk_change_free(&ch);
    free(line);
}

static void key_of(const char *item, dp_buf *out) {
    dp_json_doc *d = dp_json_parse(item, strlen(item), NULL);
    assert_non_null(d);
    assert_int_equal(sk_key_canonical(dp_json_root(d), "id", "sort", out), 0);
    dp_json_doc_free(d);
}

static void test_key_identity_follows_dynamodb(void **state) {
    (void)state;
    dp_buf a, b;
    dp_buf_init(&a, 0);
    dp_buf_init(&b, 0);
    /* 1.50, 1.5 and 15E-1 are one item for DynamoDB: one key here */
    key_of("{\"id\":{\"N\":\"1.50\"},\"sort\":{\"S\":\"x\"}}", &a);
    key_of("{\"id\":{\"N\":\"15E-1\"},\"sort\":{\"S\":\"x\"}}", &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* a string "1.5" is another key */
    key_of("{\"id\":{\"S\":\"1.5\"},\"sort\":{\"S\":\"x\"}}", &b);
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* the separator keeps (ab, c) and (a, bc) apart */
    key_of("{\"id\":{\"S\":\"ab\"},\"sort\":{\"S\":\"c\"}}", &a);
    key_of("{\"id\":{\"S\":\"a\"},\"sort\":{\"S\":\"bc\"}}", &b);
    assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* missing or non-key types are refused */
    const char *bad = "{\"id\":{\"BOOL\":true},\"sort\":{\"S\":\"x\"}}";
    dp_json_doc *d = dp_json_parse(bad, strlen(bad), NULL);
    assert_non_null(d);
    assert_int_equal(sk_key_canonical(dp_json_root(d), "id", "sort", &a), -1);
    dp_json_doc_free(d);
    dp_buf_free(&a);
    dp_buf_free(&b);
}

static void test_checkpoint_format(void **state) {
    (void)state;
    uint64_t off = 0, line = 0;
    assert_int_equal(ddbpipe_sink_checkpoint_parse("{\"offset\":12345,\"line\":17}\n", 27, &off, &line),
                     DDBPIPE_OK);
    assert_int_equal(off, 12345);
    assert_int_equal(line, 17);
    const char *bad[] = {"",
                         "{}",
                         "{\"offset\":-1,\"line\":1}",
                         "{\"offset\":1.5,\"line\":1}",
                         "{\"offset\":\"1\",\"line\":1}",
                         "{\"offset\":1}",
                         "garbage",
                         "{\"offset\":99999999999999999999999,\"line\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ddbpipe_sink_checkpoint_parse(bad[i], strlen(bad[i]), &off, &line),
                         DDBPIPE_ERR_PARSE);
    assert_int_equal(ddbpipe_sink_checkpoint_read("/nonexistent/ddbpipe.ckpt", &off, &line),
                     DDBPIPE_ERR_NOT_FOUND);
    char path[] = "/tmp/ddbpipe-ckpt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"offset\":5,\"line\":2}", 21), 21);
    close(fd);
    assert_int_equal(ddbpipe_sink_checkpoint_read(path, &off, &line), DDBPIPE_OK);
    assert_int_equal(off, 5);
    assert_int_equal(line, 2);
    unlink(path);
}

/* A checkpoint names its input: identity of a file, written and parsed back;
 * the digest is of every byte before the offset, streamed: advancing,
 * stepping back and starting afresh all give the one-shot SHA-256. */
static void test_checkpoint_identity(void **state) {
    (void)state;
    char path[] = "/tmp/ddbpipe-ckid-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char data[300000]; /* more than one read chunk (256 KiB) */
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    dp_ckpt_file_id a, b, parsed;
    dp_ckpt_prefix_hash ph = {0}, fresh = {0};
    char want[65];
    assert_int_equal(dp_ckpt_file_identity(fd, 9000, &ph, &a), 0);
    dp_sha256_hex(data, 9000, want);
    assert_true(a.have_prefix && a.regular && a.size == sizeof data);
    assert_string_equal(a.prefix_sha256, want);
    assert_int_equal(dp_ckpt_file_identity(fd, 290001, &ph, &b), 0); /* continues from 9000 */
    dp_sha256_hex(data, 290001, want);
    assert_string_equal(b.prefix_sha256, want);
    assert_int_equal(dp_ckpt_file_identity(fd, 290001, &fresh, &b), 0); /* read afresh: the same */
    assert_string_equal(b.prefix_sha256, want);
    assert_int_equal(dp_ckpt_file_identity(fd, 100, &ph, &b), 0); /* behind: starts over */
    dp_sha256_hex(data, 100, want);
    assert_string_equal(b.prefix_sha256, want);
    assert_int_equal(dp_ckpt_file_identity(fd, sizeof data + 1, &ph, &b), 0); /* past the end: no digest */
    assert_false(b.have_prefix);
    /* one byte in the middle changes: same size, same first and last 4 KiB */
    assert_int_equal(pwrite(fd, "#", 1, 4500), 1);
    dp_ckpt_prefix_hash_clear(&fresh);
    assert_int_equal(dp_ckpt_file_identity(fd, 9000, &fresh, &b), 0);
    assert_string_not_equal(a.prefix_sha256, b.prefix_sha256);
    dp_ckpt_prefix_hash_clear(&fresh);
    dp_ckpt_prefix_hash_clear(&ph);
    dp_ckpt_prefix_hash_clear(&ph); /* twice: harmless */

    dp_buf j;
    dp_buf_init(&j, 0);
    dp_buf_puts(&j, "{\"offset\":9000,\"line\":3,\"file\":");
    assert_int_equal(dp_ckpt_file_identity_json(&j, &a, "in \"x\".jsonl"), 0);
    dp_buf_putc(&j, '}');
    uint64_t off = 0, line = 0;
    char name[64];
    assert_int_equal(dp_ckpt_parse_full(j.data, j.len, &off, &line, &parsed, name, sizeof name), DDBPIPE_OK);
    assert_true(parsed.present && parsed.have_prefix && !parsed.have_window && off == 9000 && line == 3);
    assert_true(parsed.dev == a.dev && parsed.ino == a.ino && parsed.size == a.size);
    assert_string_equal(parsed.prefix_sha256, a.prefix_sha256);
    assert_string_equal(name, "in \"x\".jsonl");
    /* the public parser reads the same file (offset and line) */
    assert_int_equal(ddbpipe_sink_checkpoint_parse(j.data, j.len, &off, &line), DDBPIPE_OK);
    /* an older checkpoint's window digest is read as such */
    const char *old = "{\"offset\":1,\"line\":1,\"file\":{\"dev\":1,\"inode\":2,\"size\":3,\"sha256\":"
                      "\"0123456789012345678901234567890123456789012345678901234567890123\"}}";
    assert_int_equal(dp_ckpt_parse_full(old, strlen(old), &off, &line, &parsed, name, sizeof name),
                     DDBPIPE_OK);
    assert_true(parsed.have_window && !parsed.have_prefix);
    const char *bad =
        "{\"offset\":1,\"line\":1,\"file\":{\"dev\":1,\"inode\":2,\"size\":3,\"sha256\":\"abc\"}}";
    assert_int_equal(dp_ckpt_parse_full(bad, strlen(bad), &off, &line, &parsed, name, sizeof name),
                     DDBPIPE_ERR_PARSE);
    bad = "{\"offset\":1,\"line\":1,\"file\":{\"dev\":1,\"inode\":2,\"size\":3,\"prefix_sha256\":\"abc\"}}";
    assert_int_equal(dp_ckpt_parse_full(bad, strlen(bad), &off, &line, &parsed, name, sizeof name),
                     DDBPIPE_ERR_PARSE);
    dp_buf_free(&j);
    close(fd);
    unlink(path);
}

/* ------------------------------------------------------------ fast path */

static sk_parse_ctx fast_ctx(int variant) {
    sk_parse_ctx c;
    memset(&c, 0, sizeof(c));
    c.opts.format = (variant & 8) ? DP_CHANGE_FMT_JSON : DP_CHANGE_FMT_AUTO;
    if ((variant & 32) != 0)
        c.opts.format = DP_CHANGE_FMT_FELDERA;
    c.opts.partition_key = "id";
    c.opts.partition_type = (variant & 1) ? 'N' : 'S';
    c.opts.sort_key = (variant & 2) ? "sk" : NULL;
    c.opts.sort_type = (variant & 4) ? 'N' : 'S';
    c.opts.ignore_nulls = (variant & 16) != 0;
    return c;
}

/* Lines the fast path must take (pk id:S, no sort key) and lines it must
 * leave to the general path; either way both paths must agree. */
static void test_fast_path_takes_plain_rows_only(void **state) {
    (void)state;
    const char *take[] = {
        "{\"id\":\"user-0000000000\",\"item_id\":43143,\"category_id\":874,\"behavior\":\"cart\",\"price\":"
        "535.40,"
        "\"ts\":\"2026-11-21T12:01:58.012Z\",\"active\":true,\"tags\":[\"t31\",\"t90\"],\"note\":\"lorem "
        "ipsum\"}",
        " { \"id\" : \"a\" , \"v\" : null , \"m\" : { } , \"l\" : [ ] }\r",
        "{\"id\":\"a\",\"s\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00 tab\\t \\/ "
        "\\\\\",\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
        "{\"id\":\"a\",\"m\":{\"\":1,\"x\":{\"y\":[1,[2,{\"z\":false}]]}},\"n\":[-0,0.000,1E-130,9.9e125,1."
        "50]}",
        "{\"id\":\"a\",\"big\":12345678901234567890123456789012345678,\"e\":\"\"}",
        "{\"\xc3\xa9t\xc3\xa9\":1,\"id\":\"\xe2\x82\xac\"}",
        "{\"insert\":{\"id\":\"a\",\"v\":[1,{\"w\":null}]}}", /* Feldera */
        " { \"insert\" : { \"id\" : \"a\" } } ",
    };
    const char *leave[] = {
        "{\"insert\":{\"id\":\"a\"},\"x\":1}",
        "{\"x\":1,\"insert\":{\"id\":\"a\"}}",
        "{\"insert\":{\"id\":\"a\"}",
        "{\"insert\":[{\"id\":\"a\"}]}",
        "{\"delete\":{\"id\":\"a\"}}",
        "{\"op\":\"c\",\"after\":{\"id\":\"a\"}}",
        "{\"payload\":{\"op\":\"c\",\"after\":{\"id\":\"a\"}}}",
        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"S\":\"a\"}}}}",
        "{\"id\":\"a\",\"x\":1,\"x\":2}",         /* repeated name */
        "{\"id\":\"a\",\"m\":{\"k\":1,\"k\":2}}", /* repeated nested name */
        "{\"id\":\"a\",\"n\\u0061me\":1}",        /* escaped name */
        "{\"id\":\"a\\u0062\"}",                  /* escaped key value */
        "{\"id\":5}",                             /* key needs coercion to S */
        "{\"id\":\"\"}",                          /* empty key */
        "{\"id\":null}",                          /* null key */
        "{\"v\":1}",                              /* no key */
        "{\"id\":\"a\",\"\":1}",                  /* empty name */
        "{\"id\":\"a\",\"n\":1e-131}",            /* number DynamoDB cannot hold */
        "{\"id\":\"a\",\"n\":123456789012345678901234567890123456789}",
        "{\"id\":\"a\",\"n\":01}",
        "{\"id\":\"a\",}",
        "{\"id\":\"a\"} x",
        "{\"id\":\"a\",\"v\":tru}",
        "{\"id\":\"a\",\"v\":\"\x01\"}",
        "{\"id\":\"a\",\"v\":\"\xc3\"}",
        "{\"id\":\"a\",\"v\":\"\xed\xa0\x80\"}",
        "{\"id\":\"a\",\"v\":\"\\ud83d\"}",
        "{\"id\":\"a\",\"v\":\"\\x\"}",
        "[{\"id\":\"a\"}]",
        "",
    };
    sk_parse_ctx c = fast_ctx(0);
    char why[1024];
    for (size_t i = 0; i < sizeof(take) / sizeof(take[0]); i++) {
        int r = spc_compare(&c, take[i], strlen(take[i]), why, sizeof why);
        if (r != 1)
            fail_msg("line %zu: %s", i, r < 0 ? why : "not taken by the fast path");
    }
    for (size_t i = 0; i < sizeof(leave) / sizeof(leave[0]); i++) {
        int r = spc_compare(&c, leave[i], strlen(leave[i]), why, sizeof why);
        if (r != 0)
            fail_msg("line %zu (%s): %s", i, leave[i], r < 0 ? why : "taken by the fast path");
    }
    /* nesting: DynamoDB allows 32 levels; deep rows are the general path's */
    char deep[256];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"id\":\"a\",\"d\":");
    for (int k = 0; k < 40; k++)
        deep[n++] = '[';
    for (int k = 0; k < 40; k++)
        deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(spc_compare(&c, deep, n, why, sizeof why), 0);
    /* the options that need the general path */
    sk_parse_ctx m = c;
    m.opts.format = DP_CHANGE_FMT_JSON; /* a plain row: "insert" is a column */
    assert_int_equal(spc_compare(&m, take[6], strlen(take[6]), why, sizeof why), 0);
    m.opts.format = DP_CHANGE_FMT_FELDERA; /* no envelope: the general path words it */
    assert_int_equal(spc_compare(&m, take[0], strlen(take[0]), why, sizeof why), 0);
    assert_int_equal(spc_compare(&m, take[6], strlen(take[6]), why, sizeof why), 1);
    m = c;
    m.merge = 1;
    assert_int_equal(spc_compare(&m, take[0], strlen(take[0]), why, sizeof why), 0);
    m = c;
    m.opts.document_attribute = "doc";
    assert_int_equal(spc_compare(&m, take[0], strlen(take[0]), why, sizeof why), 0);
    m = c;
    m.opts.partition_type = 'B';
    assert_int_equal(spc_compare(&m, take[0], strlen(take[0]), why, sizeof why), 0);
}

/* Random rows (seeded, so a failure repeats), most valid, some mutated:
 * wherever the fast path answers, it answers as the general path does. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void gen_value(dp_buf *b, int depth) {
    static const char *strs[] = {"\"x\"",
                                 "\"\"",
                                 "\"caf\xc3\xa9\"",
                                 "\"\\n\\t\\\\\\\"\"",
                                 "\"\\u0041\\u00e9\\u20ac\"",
                                 "\"\\ud83d\\ude00\"",
                                 "\"\xf0\x9f\x98\x80 emoji\"",
                                 "\"2026-11-21\"",
                                 "\"\\u0000\"",
                                 "\"a/b\\/c\""};
    static const char *nums[] = {"0",
                                 "-0",
                                 "1",
                                 "-17",
                                 "1.50",
                                 "0.000",
                                 "3.14e10",
                                 "1E-130",
                                 "9.9E125",
                                 "1e126",
                                 "1e-131",
                                 "12345678901234567890123456789012345678",
                                 "123456789012345678901234567890123456789",
                                 "100000000000000000000000000000000000000000",
                                 "-0.0000000000000000000000000000000000000001"};
    unsigned k = depth > 3 ? rnd(5) : rnd(7);
    switch (k) {
    case 0:
        dp_buf_puts(b, strs[rnd(sizeof strs / sizeof strs[0])]);
        break;
    case 1:
        dp_buf_puts(b, nums[rnd(sizeof nums / sizeof nums[0])]);
        break;
    case 2:
        dp_buf_puts(b, rnd(2) ? "true" : "false");
        break;
    case 3:
        dp_buf_puts(b, "null");
        break;
    case 4:
        dp_buf_printf(b, "%u", rnd(100000));
        break;
    case 5: {
        unsigned n = rnd(4);
        dp_buf_putc(b, '[');
        for (unsigned i = 0; i < n; i++) {
            if (i)
                dp_buf_putc(b, ',');
            gen_value(b, depth + 1);
        }
        dp_buf_putc(b, ']');
        break;
    }
    default: {
        static const char *names[] = {"a", "b", "c", "", "d e", "\xc3\xa9"};
        unsigned n = rnd(4);
        dp_buf_putc(b, '{');
        for (unsigned i = 0; i < n; i++) {
            if (i)
                dp_buf_putc(b, ',');
            dp_buf_printf(b, "\"%s\":", names[rnd(sizeof names / sizeof names[0])]);
            gen_value(b, depth + 1);
        }
        dp_buf_putc(b, '}');
    }
    }
}

static void gen_key(dp_buf *b, char type) {
    if (rnd(20) == 0) {
        gen_value(b, 9); /* anything, sometimes of the wrong type */
        return;
    }
    if (type == 'N')
        dp_buf_printf(b, rnd(4) ? "%u" : "%u.0", rnd(1000));
    else
        dp_buf_printf(b, rnd(10) ? "\"k-%u\"" : "\"k\\u002d%u\"", rnd(1000));
}

static void test_fast_path_matches_general_path(void **state) {
    (void)state;
    static const char *names[] = {"v", "w", "x y", "n", "\xc3\xa9", "op", "tags", "m", "", "a\\u0062"};
    dp_buf b;
    dp_buf_init(&b, 0);
    char why[1024];
    size_t handled = 0, total = 0;
    for (int variant = 0; variant < 64; variant++) {
        sk_parse_ctx c = fast_ctx(variant);
        for (int i = 0; i < 1500; i++) {
            dp_buf_reset(&b);
            int envelope = rnd(3) == 0;
            if (envelope)
                dp_buf_puts(&b, rnd(8) ? "{\"insert\":" : "{\"delete\":");
            dp_buf_putc(&b, '{');
            int first = 1;
            if (rnd(30)) {
                dp_buf_puts(&b, "\"id\":");
                gen_key(&b, c.opts.partition_type);
                first = 0;
            }
            if (c.opts.sort_key && rnd(30)) {
                dp_buf_puts(&b, first ? "\"sk\":" : ",\"sk\":");
                gen_key(&b, c.opts.sort_type);
                first = 0;
            }
            unsigned nattr = rnd(6);
            for (unsigned a = 0; a < nattr; a++) {
                const char *nm = rnd(8) ? names[rnd(5)] : names[rnd(sizeof names / sizeof names[0])];
                dp_buf_printf(&b, "%s%s\"%s\"%s:%s", first ? "" : ",", rnd(8) ? "" : " ", nm,
                              rnd(8) ? "" : " ", rnd(8) ? "" : "\t");
                gen_value(&b, 1);
                first = 0;
            }
            dp_buf_putc(&b, '}');
            if (envelope)
                dp_buf_puts(&b, rnd(10) ? "}" : ",\"x\":1}");
            if (rnd(6) == 0) { /* a mutation: flip, drop or add a byte */
                size_t at = rnd((unsigned)b.len);
                unsigned op = rnd(3);
                if (op == 0)
                    b.data[at] = (char)rnd(256);
                else if (op == 1)
                    memmove(b.data + at, b.data + at + 1, b.len - at - 1), b.len--;
                else
                    b.data[at] = "{}[]\",:\\"[rnd(8)];
            }
            int r = spc_compare(&c, b.data, b.len, why, sizeof why);
            if (r < 0)
                fail_msg("variant %d, line %.*s: %s", variant, (int)b.len, b.data, why);
            handled += (size_t)r;
            total++;
        }
    }
    dp_buf_free(&b);
    /* most generated rows are valid plain rows: the fast path must take a
     * good share of them, or this test compares nothing */
    print_message("fast path took %zu of %zu random rows\n", handled, total);
    assert_true(handled * 8 > total);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_mode_upsert_is_typed_item),
        cmocka_unit_test(test_deletes_in_every_format),
        cmocka_unit_test(test_bom_and_tombstones),
        cmocka_unit_test(test_merge_mode_keeps_the_patch),
        cmocka_unit_test(test_bad_records_have_reasons),
        cmocka_unit_test(test_oversized_item_is_its_own_kind),
        cmocka_unit_test(test_reason_text_does_not_make_oversized),
        cmocka_unit_test(test_key_identity_follows_dynamodb),
        cmocka_unit_test(test_checkpoint_format),
        cmocka_unit_test(test_checkpoint_identity),
        cmocka_unit_test(test_fast_path_takes_plain_rows_only),
        cmocka_unit_test(test_fast_path_matches_general_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
