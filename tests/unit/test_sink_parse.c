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

#include "common/json.h"
#include "sink/sink_internal.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_mode_upsert_is_typed_item),
        cmocka_unit_test(test_deletes_in_every_format),
        cmocka_unit_test(test_merge_mode_keeps_the_patch),
        cmocka_unit_test(test_bad_records_have_reasons),
        cmocka_unit_test(test_oversized_item_is_its_own_kind),
        cmocka_unit_test(test_key_identity_follows_dynamodb),
        cmocka_unit_test(test_checkpoint_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
