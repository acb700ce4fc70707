/* An intrusive doubly linked list: the node lives inside the element
 * (a dp_list_node member), so linking and unlinking never allocate, and an
 * element is removed in O(1) knowing only itself and its list.
 *
 *   typedef struct call { ...; dp_list_node link; } call;
 *   dp_list calls = {0};                     // empty list: zero it
 *   dp_list_push_back(&calls, &c->link);
 *   DP_LIST_FOREACH(&calls, it) { call *c = DP_LIST_ENTRY(it, call, link); ... }
 *   dp_list_remove(&calls, &c->link);
 *
 * The list is NULL-terminated at both ends (head->prev and tail->next are
 * NULL) and counts its nodes. A node is on at most one list at a time; a
 * node that is on no list has both pointers NULL. Not thread-safe: the
 * owner of the list serializes access. Header-only (static inline): the
 * sink engine walks its lists per record. */
#ifndef DP_COMMON_LIST_H
#define DP_COMMON_LIST_H

#include <stddef.h>

typedef struct dp_list_node {
    struct dp_list_node *prev, *next;
} dp_list_node;

typedef struct dp_list {
    dp_list_node *head, *tail;
    size_t n; /* nodes on the list */
} dp_list;

/* The element holding node (a pointer to its `member`), or NULL for NULL.
 * node is evaluated once, so DP_LIST_ENTRY(dp_list_pop_front(l), ...) is fine. */
#define DP_LIST_ENTRY(node, type, member) ((type *)dp_list_entry_((node), offsetof(type, member)))

static inline void *dp_list_entry_(const dp_list_node *node, size_t offset) {
    return node ? (void *)((const char *)node - offset) : NULL;
}

/* `it` and `nx` name the loop's variables, so they cannot be parenthesized. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
/* Walk the list head to tail; `it` is a dp_list_node *. The body must not
 * remove `it` (use DP_LIST_FOREACH_SAFE for that). */
#define DP_LIST_FOREACH(list, it) for (dp_list_node *it = (list)->head; it; it = it->next)
/* Walk head to tail; the body may remove `it` (the next node is read first). */
#define DP_LIST_FOREACH_SAFE(list, it, nx)                                                                   \
    for (dp_list_node *it = (list)->head, *nx = it ? it->next : NULL; it; it = nx, nx = it ? it->next : NULL)
/* NOLINTEND(bugprone-macro-parentheses) */

static inline void dp_list_init(dp_list *l) {
    l->head = l->tail = NULL;
    l->n = 0;
}

static inline int dp_list_empty(const dp_list *l) {
    return l->head == NULL;
}

static inline void dp_list_push_back(dp_list *l, dp_list_node *node) {
    node->next = NULL;
    node->prev = l->tail;
    if (l->tail)
        l->tail->next = node;
    else
        l->head = node;
    l->tail = node;
    l->n++;
}

static inline void dp_list_push_front(dp_list *l, dp_list_node *node) {
    node->prev = NULL;
    node->next = l->head;
    if (l->head)
        l->head->prev = node;
    else
        l->tail = node;
    l->head = node;
    l->n++;
}

/* node must be on l. Leaves node's pointers NULL. */
static inline void dp_list_remove(dp_list *l, dp_list_node *node) {
    if (node->prev)
        node->prev->next = node->next;
    else
        l->head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    else
        l->tail = node->prev;
    node->prev = node->next = NULL;
    l->n--;
}

/* Empty the list and return its old head, to walk with ->next and free
 * (destroy paths: no per-node unlinking of memory about to go). */
static inline dp_list_node *dp_list_take_all(dp_list *l) {
    dp_list_node *head = l->head;
    dp_list_init(l);
    return head;
}

/* The head node, removed; NULL when the list is empty. */
static inline dp_list_node *dp_list_pop_front(dp_list *l) {
    dp_list_node *node = l->head;
    if (node)
        dp_list_remove(l, node);
    return node;
}

#endif
