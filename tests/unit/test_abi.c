/* The ABI rule for growing public structs (docs/architecture.md): a caller
 * compiled against an older, shorter struct passes its sizeof through the
 * *_sz functions; the library reads options only that far (the rest counts
 * as zero) and writes stats only that far. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "ddbpipe/ddbpipe.h"

static void test_copy_in_short_struct(void **state) {
    (void)state;
    /* An "old" caller that knew only format and dead_letter_path: the bytes
     * after them in its memory are not part of its struct. */
    unsigned char mem[sizeof(ddbpipe_sink_options_t)];
    memset(mem, 0xAB, sizeof mem);
    ddbpipe_sink_options_t *old = (ddbpipe_sink_options_t *)mem;
    old->format = "json";
    old->dead_letter_path = "dl.jsonl";
    ddbpipe_sink_options_t copy;
    const ddbpipe_sink_options_t *o =
        dp_abi_copy_in(&copy, sizeof copy, old, offsetof(ddbpipe_sink_options_t, checkpoint_path));
    assert_ptr_equal(o, &copy);
    assert_string_equal(o->format, "json");
    assert_string_equal(o->dead_letter_path, "dl.jsonl");
    assert_null(o->checkpoint_path);
    assert_int_equal(o->checkpoint_interval_ms, 0);
    assert_int_equal(o->no_metrics_server, 0);
    assert_null(dp_abi_copy_in(&copy, sizeof copy, NULL, 8));
}

static void test_sql_stats_written_only_as_far_as_the_caller_knows(void **state) {
    (void)state;
    const char *sql =
        "CREATE TABLE t (id BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'dynamodb', "
        "'table-name' = 'abi_t', 'aws.region' = 'us-east-1', 'aws.endpoint' = 'http://127.0.0.1:9');";
    ddbpipe_sql_options_t o;
    memset(&o, 0, sizeof o);
    o.stdin_fd = -1;
    unsigned char mem[sizeof(ddbpipe_sql_stats_t) + 16];
    memset(mem, 0xCD, sizeof mem);
    char err[256] = "";
    size_t old_size = offsetof(ddbpipe_sql_stats_t, rows_written); /* knew only `statements` */
    ddbpipe_result_t r = ddbpipe_sql_run_sz(sql, strlen(sql), NULL, &o, sizeof o, (ddbpipe_sql_stats_t *)mem,
                                            old_size, err, sizeof err);
    assert_int_equal(r, DDBPIPE_OK);
    uint64_t statements;
    memcpy(&statements, mem, sizeof statements);
    assert_int_equal(statements, 1);
    for (size_t i = old_size; i < sizeof mem; i++)
        assert_int_equal(mem[i], 0xCD);
    /* The macro passes the full size: every field is written. */
    ddbpipe_sql_stats_t st;
    memset(&st, 0xCD, sizeof st);
    assert_int_equal(ddbpipe_sql_run(sql, strlen(sql), NULL, &o, &st, err, sizeof err), DDBPIPE_OK);
    assert_int_equal(st.statements, 1);
    assert_int_equal(st.rows_written, 0);
    assert_int_equal(st.dead_lettered, 0);
}

/* ddbpipe_attr_t and ddbpipe_item_record_t are frozen (a caller's arrays
 * of them are read as they are, with no size passed): their layout on an
 * LP64 target must never change within a SONAME. */
static void test_frozen_typed_item_layout(void **state) {
    (void)state;
    if (sizeof(void *) != 8 || sizeof(size_t) != 8 || sizeof(int) != 4)
        skip();
    assert_int_equal(offsetof(ddbpipe_attr_t, name), 0);
    assert_int_equal(offsetof(ddbpipe_attr_t, type), 8);
    assert_int_equal(offsetof(ddbpipe_attr_t, data), 16);
    assert_int_equal(offsetof(ddbpipe_attr_t, len), 24);
    assert_int_equal(offsetof(ddbpipe_attr_t, boolean), 32);
    assert_int_equal(offsetof(ddbpipe_attr_t, elems), 40);
    assert_int_equal(offsetof(ddbpipe_attr_t, count), 48);
    assert_int_equal(sizeof(ddbpipe_attr_t), 56);
    assert_int_equal(offsetof(ddbpipe_item_record_t, op), 0);
    assert_int_equal(offsetof(ddbpipe_item_record_t, attrs), 8);
    assert_int_equal(offsetof(ddbpipe_item_record_t, count), 16);
    assert_int_equal(offsetof(ddbpipe_item_record_t, opaque), 24);
    assert_int_equal(offsetof(ddbpipe_item_record_t, offset), 32);
    assert_int_equal(offsetof(ddbpipe_item_record_t, line_no), 40);
    assert_int_equal(sizeof(ddbpipe_item_record_t), 48);
    /* the enums' values are part of the ABI too */
    assert_int_equal(DDBPIPE_ATTR_S, 1);
    assert_int_equal(DDBPIPE_ATTR_BS, 10);
    assert_int_equal(DDBPIPE_ITEM_DELETE, 1);
}

/* The file transport's options as an older caller passes them (only input
 * and sink_options known): what is refused before any AWS call is refused
 * the same, and the fields after them count as zero. */
static void test_file_sink_options_short_struct(void **state) {
    (void)state;
    ddbpipe_conf_t *conf = ddbpipe_conf_new();
    assert_non_null(conf);
    ddbpipe_sink_options_t so = {.format = "auto", .checkpoint_path = "/tmp/never-written.ckpt"};
    unsigned char mem[sizeof(ddbpipe_file_sink_options_t)];
    memset(mem, 0xAB, sizeof mem);
    ddbpipe_file_sink_options_t *old = (ddbpipe_file_sink_options_t *)mem;
    old->input = "-";
    old->sink_options = &so;
    size_t old_size = offsetof(ddbpipe_file_sink_options_t, sink_options_size);
    ddbpipe_file_sink_t *f = NULL;
    char err[256] = "";
    /* stdin cannot be resumed: a checkpoint needs a file */
    assert_int_equal(ddbpipe_file_sink_new_sz(conf, old, old_size, &f, err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_null(f);
    assert_non_null(strstr(err, "stdin cannot be resumed"));
    /* an unreadable input is named */
    old->input = "/nonexistent/ddbpipe-input.jsonl";
    err[0] = '\0';
    assert_int_equal(ddbpipe_file_sink_new_sz(conf, old, old_size, &f, err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_null(f);
    assert_non_null(strstr(err, "cannot open /nonexistent/ddbpipe-input.jsonl"));
    ddbpipe_file_sink_destroy(NULL);
    assert_null(ddbpipe_file_sink_sink(NULL));
    ddbpipe_conf_destroy(conf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_in_short_struct),
        cmocka_unit_test(test_sql_stats_written_only_as_far_as_the_caller_knows),
        cmocka_unit_test(test_frozen_typed_item_layout),
        cmocka_unit_test(test_file_sink_options_short_struct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
