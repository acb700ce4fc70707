/* src/common/list.h: the intrusive list every engine list uses (sink keys
 * and calls in flight, HTTP transfers in flight, source calls). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/list.h"

typedef struct item {
    int before; /* the node is not the first member */
    dp_list_node link;
    int value;
} item;

/* The values head to tail, checked against the tail-to-head walk and n. */
static void expect_values(const dp_list *l, const int *want, size_t nwant) {
    size_t i = 0;
    DP_LIST_FOREACH(l, it) {
        assert_true(i < nwant);
        assert_int_equal(DP_LIST_ENTRY(it, item, link)->value, want[i]);
        i++;
    }
    assert_int_equal(i, nwant);
    assert_int_equal(l->n, nwant);
    for (const dp_list_node *it = l->tail; it; it = it->prev) {
        assert_true(i > 0);
        i--;
        assert_int_equal(DP_LIST_ENTRY(it, const item, link)->value, want[i]);
    }
    assert_int_equal(i, 0);
    assert_int_equal(dp_list_empty(l), nwant == 0);
}

static void test_push_remove_pop(void **state) {
    (void)state;
    item it[5];
    dp_list l;
    dp_list_init(&l);
    expect_values(&l, NULL, 0);
    assert_null(dp_list_pop_front(&l));
    assert_null(DP_LIST_ENTRY(l.head, item, link));
    for (int i = 0; i < 5; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].value = i;
    }
    dp_list_push_back(&l, &it[1].link);
    dp_list_push_back(&l, &it[2].link);
    dp_list_push_front(&l, &it[0].link);
    dp_list_push_back(&l, &it[3].link);
    expect_values(&l, (const int[]){0, 1, 2, 3}, 4);
    assert_ptr_equal(DP_LIST_ENTRY(l.head, item, link), &it[0]);
    /* middle, head, tail */
    dp_list_remove(&l, &it[2].link);
    assert_null(it[2].link.prev);
    assert_null(it[2].link.next);
    expect_values(&l, (const int[]){0, 1, 3}, 3);
    dp_list_remove(&l, &it[0].link);
    expect_values(&l, (const int[]){1, 3}, 2);
    dp_list_remove(&l, &it[3].link);
    expect_values(&l, (const int[]){1}, 1);
    /* a removed node goes back on, at either end */
    dp_list_push_front(&l, &it[3].link);
    dp_list_push_back(&l, &it[4].link);
    expect_values(&l, (const int[]){3, 1, 4}, 3);
    assert_ptr_equal(dp_list_pop_front(&l), &it[3].link);
    assert_ptr_equal(dp_list_pop_front(&l), &it[1].link);
    assert_ptr_equal(dp_list_pop_front(&l), &it[4].link);
    assert_null(dp_list_pop_front(&l));
    expect_values(&l, NULL, 0);
    assert_null(l.tail);
    /* the node argument is evaluated once: popping through the macro pops one */
    dp_list_push_back(&l, &it[0].link);
    dp_list_push_back(&l, &it[1].link);
    assert_ptr_equal(DP_LIST_ENTRY(dp_list_pop_front(&l), item, link), &it[0]);
    expect_values(&l, (const int[]){1}, 1);
}

static void test_foreach_safe_removes(void **state) {
    (void)state;
    item it[6];
    dp_list l = {0};
    for (int i = 0; i < 6; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].value = i;
        dp_list_push_back(&l, &it[i].link);
    }
    /* drop the even ones while walking */
    DP_LIST_FOREACH_SAFE(&l, node, nx) {
        item *x = DP_LIST_ENTRY(node, item, link);
        if (x->value % 2 == 0)
            dp_list_remove(&l, node);
    }
    expect_values(&l, (const int[]){1, 3, 5}, 3);
    DP_LIST_FOREACH_SAFE(&l, node, nx) {
        dp_list_remove(&l, node);
    }
    expect_values(&l, NULL, 0);
}

static void test_take_all(void **state) {
    (void)state;
    item it[3];
    dp_list l = {0};
    for (int i = 0; i < 3; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].value = i;
        dp_list_push_back(&l, &it[i].link);
    }
    /* the list is empty at once; the detached chain still walks head to tail */
    int seen = 0;
    for (dp_list_node *node = dp_list_take_all(&l), *next; node; node = next) {
        next = node->next;
        assert_int_equal(DP_LIST_ENTRY(node, item, link)->value, seen++);
    }
    assert_int_equal(seen, 3);
    expect_values(&l, NULL, 0);
    assert_null(dp_list_take_all(&l));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_remove_pop),
        cmocka_unit_test(test_foreach_safe_removes),
        cmocka_unit_test(test_take_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
