/* Unit tests of typed items (ddbpipe_sink_produce_item's pure parts): the
 * public attribute structs to and from the AttributeValue DOM, the change
 * the sink makes of them (body, key, delete, merge, ignore_nulls), the
 * reasons of items DynamoDB would refuse, malformed structs, and the
 * dead-letter text (a DynamoDB Streams record the sink parses back to the
 * same change). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"
#include "ddb/attr_public.h"
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

#define S(nm, v)                                                                                             \
    { .name = (nm), .type = DDBPIPE_ATTR_S, .data = (v), .len = sizeof(v) - 1 }
#define N(nm, v)                                                                                             \
    { .name = (nm), .type = DDBPIPE_ATTR_N, .data = (v), .len = sizeof(v) - 1 }

typedef struct parsed {
    sk_change ch;
    dp_buf text;
    char reason[512];
    sk_bad_kind bad;
} parsed;

static void run(parsed *p, const sk_parse_ctx *c, ddbpipe_item_op_t op, const ddbpipe_attr_t *a, size_t n) {
    ddbpipe_item_record_t rec = {.op = op, .attrs = a, .count = n};
    sk_change_init(&p->ch);
    dp_buf_init(&p->text, 0);
    p->bad = sk_parse_typed(c, &rec, &p->ch, &p->text, p->reason, sizeof p->reason);
}

static void done(parsed *p) {
    sk_change_free(&p->ch);
    dp_buf_free(&p->text);
}

/* p's dead-letter text is a record the sink reads back to the same change */
static void assert_replays(const sk_parse_ctx *c, const parsed *p) {
    sk_change back;
    char reason[512];
    sk_change_init(&back);
    assert_int_equal(sk_parse_line(c, p->text.data, p->text.len, &back, reason, sizeof reason), SK_BAD_NONE);
    assert_string_equal(back.body.data, p->ch.body.data);
    assert_memory_equal(back.key.data, p->ch.key.data, p->ch.key.len);
    assert_int_equal(back.key.len, p->ch.key.len);
    assert_int_equal(back.item_size, p->ch.item_size);
    sk_change_free(&back);
}

static void test_put_body_key_and_replayable_text(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    static const char raw[] = {'h', '\0', 'i'};
    ddbpipe_attr_t ss[] = {S(NULL, "x"), S(NULL, "y")};
    ddbpipe_attr_t at[] = {N("id", "7.0"),
                           S("sort", "a"),
                           {.name = "b", .type = DDBPIPE_ATTR_B, .data = raw, .len = 3},
                           {.name = "ss", .type = DDBPIPE_ATTR_SS, .elems = ss, .count = 2},
                           {.name = "z", .type = DDBPIPE_ATTR_NULL}};
    parsed p;
    run(&p, &c, DDBPIPE_ITEM_PUT, at, 5);
    assert_int_equal(p.bad, SK_BAD_NONE);
    assert_int_equal(p.ch.op, SK_OP_PUT);
    assert_string_equal(p.ch.body.data,
                        "{\"id\":{\"N\":\"7.0\"},\"sort\":{\"S\":\"a\"},\"b\":{\"B\":\"aABp\"},"
                        "\"ss\":{\"SS\":[\"x\",\"y\"]},\"z\":{\"NULL\":true}}");
    assert_string_equal(p.ch.key_json.data, "{\"id\":{\"N\":\"7.0\"},\"sort\":{\"S\":\"a\"}}");
    assert_true(p.ch.item_size > 0);
    assert_string_equal(p.text.data,
                        "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"7.0\"},"
                        "\"sort\":{\"S\":\"a\"},\"b\":{\"B\":\"aABp\"},\"ss\":{\"SS\":[\"x\",\"y\"]},"
                        "\"z\":{\"NULL\":true}}}}");
    /* the text is a record the sink reads back to the same change */
    assert_replays(&c, &p);
    /* the key identity is DynamoDB's: 7.0 and 7 are one key */
    parsed q;
    ddbpipe_attr_t at2[] = {N("id", "7"), S("sort", "a")};
    run(&q, &c, DDBPIPE_ITEM_PUT, at2, 2);
    assert_int_equal(q.bad, SK_BAD_NONE);
    assert_int_equal(q.ch.key.len, p.ch.key.len);
    assert_memory_equal(q.ch.key.data, p.ch.key.data, p.ch.key.len);
    done(&q);
    done(&p);
}

static void test_delete_merge_ignore_nulls(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    ddbpipe_attr_t at[] = {
        N("id", "1"), S("sort", "s"), S("other", "dropped"), {.name = "nil", .type = DDBPIPE_ATTR_NULL}};
    parsed p;
    run(&p, &c, DDBPIPE_ITEM_DELETE, at, 4);
    assert_int_equal(p.bad, SK_BAD_NONE);
    assert_int_equal(p.ch.op, SK_OP_DELETE);
    assert_string_equal(p.ch.key_json.data, "{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"s\"}}");
    assert_non_null(strstr(p.text.data, "{\"eventName\":\"REMOVE\",\"dynamodb\":{\"Keys\":"));
    done(&p);
    /* merge: a typed put replaces the attributes it names */
    sk_parse_ctx m = ctx_for(1);
    run(&p, &m, DDBPIPE_ITEM_PUT, at, 4);
    assert_int_equal(p.bad, SK_BAD_NONE);
    assert_int_equal(p.ch.op, SK_OP_PUT);
    assert_non_null(strstr(p.ch.body.data, "\"nil\":{\"NULL\":true}"));
    done(&p);
    /* ignore_nulls drops NULL attributes, as for any input */
    c.opts.ignore_nulls = 1;
    run(&p, &c, DDBPIPE_ITEM_PUT, at, 4);
    assert_int_equal(p.bad, SK_BAD_NONE);
    assert_null(strstr(p.ch.body.data, "nil"));
    done(&p);
}

/* document_attribute: the item is the keys plus the image in one M
 * attribute; the dead-letter text is the image itself, so replaying it
 * makes the same item (wrapped once, not twice) */
static void test_document_attribute_replays_to_the_same_item(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    c.opts.document_attribute = "doc";
    ddbpipe_attr_t at[] = {N("id", "1"), S("sort", "s"), S("v", "x")};
    parsed p;
    run(&p, &c, DDBPIPE_ITEM_PUT, at, 3);
    assert_int_equal(p.bad, SK_BAD_NONE);
    assert_string_equal(p.ch.body.data,
                        "{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"s\"},\"doc\":{\"M\":"
                        "{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"s\"},\"v\":{\"S\":\"x\"}}}}");
    assert_replays(&c, &p);
    done(&p);
}

static void test_items_dynamodb_refuses_are_dead_letters(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    ddbpipe_attr_t dup[] = {N(NULL, "1"), N(NULL, "1.0")};
    ddbpipe_attr_t empty_ss[] = {{.type = DDBPIPE_ATTR_SS}};
    (void)empty_ss;
    struct {
        ddbpipe_attr_t a[3];
        size_t n;
        const char *needle;
        sk_bad_kind kind;
    } cases[] = {
        {{N("id", "1"), S("sort", "s"), {.name = "ns", .type = DDBPIPE_ATTR_NS, .elems = dup, .count = 2}},
         3,
         "ns",
         SK_BAD_RECORD},
        {{N("id", "1"), S("sort", "s"), {.name = "ss", .type = DDBPIPE_ATTR_SS, .count = 0}},
         3,
         "ss",
         SK_BAD_RECORD},
        {{N("id", "1"), S("sort", "s"), N("x", "1e999")}, 3, "'x'", SK_BAD_RECORD},
        {{N("id", "1"), N("v", "2")}, 2, "sort", SK_BAD_RECORD},
        {{S("id", "1"), S("sort", "s")}, 2, "id", SK_BAD_RECORD},
        {{N("id", "1"), S("sort", "s"), S("sort", "t")}, 3, "twice", SK_BAD_RECORD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        run(&p, &c, DDBPIPE_ITEM_PUT, cases[i].a, cases[i].n);
        if (p.bad != cases[i].kind || !strstr(p.reason, cases[i].needle))
            fail_msg("case %zu: kind %d reason '%s', want %d and '%s'", i, (int)p.bad, p.reason,
                     (int)cases[i].kind, cases[i].needle);
        printf("dead letter %zu: %s\n", i, p.reason);
        /* the dead letter carries the item as given */
        assert_non_null(strstr(p.text.data, "{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{"));
        done(&p);
    }
    /* over 400 KB: oversized */
    size_t big = 410 * 1024;
    char *blob = malloc(big);
    memset(blob, 'q', big);
    ddbpipe_attr_t at[] = {
        N("id", "1"), S("sort", "s"), {.name = "blob", .type = DDBPIPE_ATTR_S, .data = blob, .len = big}};
    parsed p;
    run(&p, &c, DDBPIPE_ITEM_PUT, at, 3);
    assert_int_equal(p.bad, SK_BAD_OVERSIZED);
    assert_non_null(strstr(p.reason, "400"));
    done(&p);
    free(blob);
    /* nested deeper than DynamoDB's 32 levels: a dead letter naming it */
    ddbpipe_attr_t chain[40];
    for (int i = 0; i < 40; i++) {
        ddbpipe_attr_t e = {
            .name = "d", .type = DDBPIPE_ATTR_M, .elems = i ? &chain[i - 1] : NULL, .count = i ? 1 : 0};
        chain[i] = e;
    }
    ddbpipe_attr_t deep[] = {N("id", "1"), S("sort", "s"), chain[39]};
    run(&p, &c, DDBPIPE_ITEM_PUT, deep, 3);
    assert_int_equal(p.bad, SK_BAD_RECORD);
    assert_non_null(strstr(p.reason, "32"));
    done(&p);
}

static void test_malformed_structs_are_invalid_arg(void **state) {
    (void)state;
    sk_parse_ctx c = ctx_for(0);
    ddbpipe_attr_t wrong_member[] = {N(NULL, "1")};
    ddbpipe_attr_t cyc;
    cyc.name = "c";
    cyc.type = DDBPIPE_ATTR_L;
    cyc.data = NULL;
    cyc.len = 0;
    cyc.boolean = 0;
    cyc.elems = &cyc; /* a cycle: stopped by the depth cap, not the stack */
    cyc.count = 1;
    struct {
        ddbpipe_attr_t a[3];
        size_t n;
        const char *needle;
    } cases[] = {
        {{N("id", "1"), {.name = "q", .type = (ddbpipe_attr_type_t)0}}, 2, "unknown attribute type"},
        {{N("id", "1"), {.type = DDBPIPE_ATTR_S, .data = "x", .len = 1}}, 2, "no name"},
        {{N("id", "1"), {.name = "s", .type = DDBPIPE_ATTR_S, .data = NULL, .len = 3}}, 2, "NULL"},
        {{N("id", "1"), {.name = "l", .type = DDBPIPE_ATTR_L, .elems = NULL, .count = 2}}, 2, "NULL"},
        {{N("id", "1"), {.name = "ss", .type = DDBPIPE_ATTR_SS, .elems = wrong_member, .count = 1}},
         2,
         "not a S"},
        {{N("id", "1"), {.name = "m", .type = DDBPIPE_ATTR_M, .elems = wrong_member, .count = 1}},
         2,
         "no name"},
        {{N("id", "1"), cyc}, 2, "levels"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        run(&p, &c, DDBPIPE_ITEM_PUT, cases[i].a, cases[i].n);
        if (p.bad != SK_BAD_ARG || !strstr(p.reason, cases[i].needle))
            fail_msg("case %zu: kind %d reason '%s', want SK_BAD_ARG and '%s'", i, (int)p.bad, p.reason,
                     cases[i].needle);
        done(&p);
    }
}

/* DOM -> public -> DOM gives the same item (what `ddbpipe sql` does with a
 * typed row). */
static void test_dom_public_round_trip(void **state) {
    (void)state;
    const char *items[] = {
        "{\"id\":{\"N\":\"1\"},\"b\":{\"B\":\"AAH/"
        "\"},\"bs\":{\"BS\":[\"YQ==\",\"Yg==\"]},\"l\":{\"L\":[{\"S\":"
        "\"x\"},{\"M\":{\"k\":{\"NULL\":true}}},{\"BOOL\":false}]},\"ns\":{\"NS\":[\"1\",\"2.5\"]},\"ss\":{"
        "\"SS\":"
        "[\"a\"]},\"e\":{\"S\":\"\"}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        dp_json_doc *d = dp_json_parse(items[i], strlen(items[i]), NULL);
        dp_public_item pi;
        char err[256];
        assert_non_null(d);
        assert_int_equal(dp_item_to_public(dp_json_root(d), &pi), 0);
        dp_json_doc *d2 = dp_json_doc_new();
        dp_json *back = dp_item_from_public(d2, pi.attrs, pi.count, err, sizeof err);
        assert_non_null(back);
        assert_true(dp_json_equal(back, dp_json_root(d)));
        dp_public_item_free(&pi);
        dp_json_doc_free(d2);
        dp_json_doc_free(d);
    }
    /* not a typed item */
    dp_json_doc *d = dp_json_parse("{\"a\":{\"Q\":1}}", 13, NULL);
    dp_public_item pi;
    assert_int_equal(dp_item_to_public(dp_json_root(d), &pi), -1);
    dp_public_item_free(&pi);
    dp_json_doc_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_body_key_and_replayable_text),
        cmocka_unit_test(test_delete_merge_ignore_nulls),
        cmocka_unit_test(test_document_attribute_replays_to_the_same_item),
        cmocka_unit_test(test_items_dynamodb_refuses_are_dead_letters),
        cmocka_unit_test(test_malformed_structs_are_invalid_arg),
        cmocka_unit_test(test_dom_public_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
