/* Unit tests of the source engine's pure parts: shard graph (parent before
 * child, inconsistent listings), record parsing, checkpoint round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source/source.h"

static dp_json_doc *parse(const char *s) {
    dp_json_error e;
    dp_json_doc *d = dp_json_parse(s, strlen(s), &e);
    assert_non_null(d);
    return d;
}

static void merge(dp_shard_graph *g, const char *json, size_t want_added) {
    dp_json_doc *d = parse(json);
    size_t added = 99;
    char err[128];
    assert_int_equal(dp_shard_graph_merge(g, dp_json_root(d), &added, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(added, want_added);
    dp_json_doc_free(d);
}

static void test_graph_parent_before_child(void **state) {
    (void)state;
    dp_shard_graph g;
    dp_shard_graph_init(&g);
    /* A closed with children B and C; B's page arrives first, C later (paging). */
    merge(&g,
          "[{\"ShardId\":\"A\",\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\","
          "\"EndingSequenceNumber\":\"9\"}},"
          "{\"ShardId\":\"B\",\"ParentShardId\":\"A\",\"SequenceNumberRange\":{\"StartingSequenceNumber\":"
          "\"10\"}}]",
          2);
    merge(&g, "[{\"ShardId\":\"B\",\"ParentShardId\":\"A\"},{\"ShardId\":\"C\",\"ParentShardId\":\"A\"}]", 1);
    dp_shard *a = dp_shard_graph_find(&g, "A"), *b = dp_shard_graph_find(&g, "B"),
             *c = dp_shard_graph_find(&g, "C");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_string_equal(a->end_seq, "9");
    assert_null(b->end_seq);
    assert_true(dp_shard_readable(&g, a));
    assert_false(dp_shard_readable(&g, b)); /* parent not read to its end */
    assert_false(dp_shard_readable(&g, c));
    a->finished = 1;
    assert_false(dp_shard_readable(&g, a));
    assert_true(dp_shard_readable(&g, b));
    assert_true(dp_shard_readable(&g, c));
    /* A parent missing from the listing (trimmed) does not block. */
    merge(&g, "[{\"ShardId\":\"X\",\"ParentShardId\":\"gone\"}]", 1);
    assert_true(dp_shard_readable(&g, dp_shard_graph_find(&g, "X")));
    dp_shard_graph_free(&g);
}

static void test_graph_closed_leaf(void **state) {
    (void)state;
    dp_shard_graph g;
    dp_shard_graph_init(&g);
    merge(&g,
          "[{\"ShardId\":\"A\",\"SequenceNumberRange\":{\"EndingSequenceNumber\":\"5\"}},"
          "{\"ShardId\":\"Z\",\"SequenceNumberRange\":{}}]",
          2);
    const dp_shard *leaf = dp_shard_graph_closed_leaf(&g);
    assert_non_null(leaf);
    assert_string_equal(leaf->id, "A"); /* closed, children not listed yet */
    merge(&g, "[{\"ShardId\":\"B\",\"ParentShardId\":\"A\"}]", 1);
    assert_null(dp_shard_graph_closed_leaf(&g));
    /* An open shard read to its end (closed since the listing) counts too. */
    dp_shard_graph_find(&g, "B")->finished = 1;
    assert_string_equal(dp_shard_graph_closed_leaf(&g)->id, "B");
    dp_shard_graph_find(&g, "B")->children_checked = 1;
    assert_null(dp_shard_graph_closed_leaf(&g));
    dp_shard_graph_free(&g);
}

static void test_graph_prune(void **state) {
    (void)state;
    dp_shard_graph g;
    dp_shard_graph_init(&g);
    g.gen = 1;
    merge(&g, "[{\"ShardId\":\"A\"},{\"ShardId\":\"B\",\"ParentShardId\":\"A\"},{\"ShardId\":\"C\"}]", 3);
    dp_shard_graph_find(&g, "A")->finished = 1;
    dp_shard_graph_find(&g, "C")->finished = 1;
    g.gen = 2; /* next full listing: A trimmed away, C still listed */
    merge(&g, "[{\"ShardId\":\"B\",\"ParentShardId\":\"A\"},{\"ShardId\":\"C\"}]", 0);
    assert_int_equal(dp_shard_graph_prune(&g), 1);
    assert_null(dp_shard_graph_find(&g, "A"));
    assert_non_null(dp_shard_graph_find(&g, "C")); /* finished but still listed: kept */
    /* B's parent is gone: B may be read. */
    assert_true(dp_shard_readable(&g, dp_shard_graph_find(&g, "B")));
    /* An unfinished shard is never forgotten, listed or not. */
    g.gen = 3;
    assert_int_equal(dp_shard_graph_prune(&g), 1); /* C (finished, unlisted) */
    assert_non_null(dp_shard_graph_find(&g, "B"));
    dp_shard_graph_free(&g);
}

static void test_graph_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {"{}", "[{\"ParentShardId\":\"A\"}]", "[{\"ShardId\":7}]",
                                      "[{\"ShardId\":\"A\",\"ParentShardId\":5}]",
                                      "[{\"ShardId\":\"A\",\"ParentShardId\":\"A\"}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dp_shard_graph g;
        dp_shard_graph_init(&g);
        dp_json_doc *d = parse(bad[i]);
        char err[128] = "";
        assert_int_equal(dp_shard_graph_merge(&g, dp_json_root(d), NULL, err, sizeof err), DDBPIPE_ERR_PARSE);
        assert_non_null(strstr(err, "DescribeStream"));
        dp_json_doc_free(d);
        dp_shard_graph_free(&g);
    }
}

static void test_seq_cmp(void **state) {
    (void)state;
    assert_true(dp_seq_cmp("9", "10") < 0);
    assert_true(
        dp_seq_cmp("100000000000000000000000000000000000001", "99999999999999999999999999999999999999") > 0);
    assert_int_equal(dp_seq_cmp("0042", "42"), 0);
    assert_true(dp_seq_cmp("43", "42") > 0);
}

static void test_parse_record(void **state) {
    (void)state;
    dp_json_doc *d =
        parse("{\"eventName\":\"MODIFY\",\"dynamodb\":{\"ApproximateCreationDateTime\":1.7E9,"
              "\"Keys\":{\"pk\":{\"S\":\"a\"}},\"NewImage\":{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}},"
              "\"OldImage\":{\"pk\":{\"S\":\"a\"}},\"SequenceNumber\":\"123456789012345678901\"}}");
    dp_event ev;
    char err[128];
    assert_int_equal(dp_src_parse_record(dp_json_root(d), "sh", &ev, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(ev.op, DP_EVENT_MODIFY);
    assert_string_equal(ev.sequence, "123456789012345678901");
    assert_string_equal(ev.shard, "sh");
    assert_int_equal(ev.approximate_time_s, 1700000000);
    assert_non_null(ev.new_image);
    assert_non_null(ev.old_image);
    assert_non_null(dp_json_get(ev.keys, "pk"));
    dp_json_doc_free(d);

    static const char *const bad[] = {
        "[]",
        "{\"eventName\":\"UPSERT\",\"dynamodb\":{\"Keys\":{},\"SequenceNumber\":\"1\"}}",
        "{\"eventName\":\"INSERT\"}",
        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"SequenceNumber\":\"1\"}}",
        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"Keys\":{}}}",
        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"Keys\":{},\"SequenceNumber\":\"12a\"}}",
        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"Keys\":{},\"SequenceNumber\":\"1\",\"NewImage\":[]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = parse(bad[i]);
        err[0] = 0;
        assert_int_equal(dp_src_parse_record(dp_json_root(d), "sh", &ev, err, sizeof err), DDBPIPE_ERR_PARSE);
        assert_non_null(strstr(err, "GetRecords"));
        dp_json_doc_free(d);
    }
}

static void test_checkpoint_roundtrip(void **state) {
    (void)state;
    dp_src_checkpoint cp, back;
    dp_src_checkpoint_init(&cp);
    dp_src_checkpoint_init(&back);
    assert_int_equal(dp_strdup_to(&cp.table, "orders"), 0);
    assert_int_equal(dp_strdup_to(&cp.stream_arn, "arn:aws:dynamodb:x:1:table/orders/stream/\"q\""), 0);
    assert_int_equal(dp_strdup_to(&cp.table_created, "1764467000.123"), 0);
    assert_int_equal(dp_strdup_to(&cp.mode, "snapshot+stream"), 0);
    cp.total_segments = 2;
    cp.segments = calloc(2, sizeof *cp.segments);
    cp.segments[0].done = 1;
    assert_int_equal(
        dp_strdup_to(&cp.segments[1].last_key, "{\"pk\":{\"N\":\"12345678901234567890123456789012345678\"}}"),
        0);
    cp.stream_started = 1;
    dp_shard *a = dp_shard_graph_add(&cp.shards, "A", NULL);
    a->finished = 1;
    assert_int_equal(dp_strdup_to(&a->last_seq, "900"), 0);
    dp_shard *b = dp_shard_graph_add(&cp.shards, "B", "A");
    (void)b;
    dp_buf out;
    dp_buf_init(&out, 0);
    assert_int_equal(dp_src_checkpoint_write(&cp, &out), DDBPIPE_OK);
    char err[128] = "";
    assert_int_equal(dp_src_checkpoint_parse(out.data, out.len, &back, err, sizeof err), DDBPIPE_OK);
    assert_string_equal(back.table, "orders");
    assert_string_equal(back.stream_arn, cp.stream_arn);
    assert_string_equal(back.table_created, cp.table_created);
    assert_string_equal(back.mode, "snapshot+stream");
    assert_int_equal(back.total_segments, 2);
    assert_true(back.segments[0].done);
    assert_null(back.segments[0].last_key);
    assert_string_equal(back.segments[1].last_key, cp.segments[1].last_key);
    assert_true(back.stream_started);
    assert_int_equal(back.shards.n, 2);
    assert_true(dp_shard_graph_find(&back.shards, "A")->finished);
    assert_string_equal(dp_shard_graph_find(&back.shards, "A")->last_seq, "900");
    assert_string_equal(dp_shard_graph_find(&back.shards, "B")->parent_id, "A");
    assert_null(dp_shard_graph_find(&back.shards, "B")->last_seq);
    dp_buf_free(&out);
    dp_src_checkpoint_free(&cp);
    dp_src_checkpoint_free(&back);
}

static void test_checkpoint_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"version\":2}",
        "{\"version\":1,\"snapshot\":{\"total_segments\":2,\"segments\":[{\"done\":true}]}}",
        "{\"version\":1,\"snapshot\":{\"total_segments\":1,\"segments\":[{\"done\":\"yes\"}]}}",
        "{\"version\":1,\"snapshot\":{\"total_segments\":1,\"segments\":[{\"last_key\":5}]}}",
        "{\"version\":1,\"stream\":{\"shards\":[{\"seq\":\"1\"}]}}",
        "{\"version\":1,\"stream\":{\"shards\":[{\"id\":\"A\",\"seq\":\"1x\"}]}}",
        "{\"version\":1,\"stream\":{\"shards\":[{\"id\":\"A\",\"finished\":1}]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dp_src_checkpoint cp;
        dp_src_checkpoint_init(&cp);
        char err[128] = "";
        assert_int_equal(dp_src_checkpoint_parse(bad[i], strlen(bad[i]), &cp, err, sizeof err),
                         DDBPIPE_ERR_PARSE);
        assert_non_null(strstr(err, "checkpoint"));
        dp_src_checkpoint_free(&cp);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_parent_before_child),
        cmocka_unit_test(test_graph_closed_leaf),
        cmocka_unit_test(test_graph_malformed),
        cmocka_unit_test(test_graph_prune),
        cmocka_unit_test(test_seq_cmp),
        cmocka_unit_test(test_parse_record),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_checkpoint_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
