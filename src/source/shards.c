/* DynamoDB Streams shard graph: which shards exist, who is whose parent,
 * and which may be read now (a child only after its parent is read to the
 * end, so each key's changes come out in write order across splits). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "source/source.h"

#define DP_SHARD_MAX 100000 /* cap on tracked shards: a stream has far fewer */

void dp_shard_graph_init(dp_shard_graph *g) {
    memset(g, 0, sizeof *g);
}

static void shard_free(dp_shard *s) {
    if (!s)
        return;
    free(s->id);
    free(s->parent_id);
    free(s->end_seq);
    free(s->last_seq);
    free(s->iterator);
    free(s->held);
    free(s->lease_cp);
    free(s->obs_owner);
    free(s);
}

void dp_shard_graph_free(dp_shard_graph *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        shard_free(g->v[i]);
    free(g->v);
    memset(g, 0, sizeof *g);
}

int dp_strdup_to(char **slot, const char *s) {
    char *c = NULL;
    if (s) {
        c = strdup(s);
        if (!c)
            return -1;
    }
    free(*slot);
    *slot = c;
    return 0;
}

dp_shard *dp_shard_graph_find(const dp_shard_graph *g, const char *id) {
    if (!g || !id)
        return NULL;
    /* Newest shards are looked up most: search from the end. */
    for (size_t i = g->n; i-- > 0;)
        if (strcmp(g->v[i]->id, id) == 0)
            return g->v[i];
    return NULL;
}

dp_shard *dp_shard_graph_add(dp_shard_graph *g, const char *id, const char *parent_id) {
    dp_shard *s = dp_shard_graph_find(g, id);
    if (s) {
        if (!s->parent_id && parent_id && parent_id[0] && dp_strdup_to(&s->parent_id, parent_id) != 0)
            return NULL;
        return s;
    }
    if (g->n >= DP_SHARD_MAX)
        return NULL;
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        dp_shard **nv = realloc(g->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        g->v = nv;
        g->cap = nc;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = strdup(id);
    if (!s->id || (parent_id && parent_id[0] && dp_strdup_to(&s->parent_id, parent_id) != 0)) {
        shard_free(s);
        return NULL;
    }
    g->v[g->n++] = s;
    return s;
}

ddbpipe_result_t dp_shard_graph_merge(dp_shard_graph *g, const dp_json *shards, size_t *added, char *errstr,
                                      size_t errstr_size) {
    if (added)
        *added = 0;
    if (!shards)
        return DDBPIPE_OK; /* no Shards member: an empty stream */
    if (!dp_json_is(shards, DP_JSON_ARRAY)) {
        dp_errf(errstr, errstr_size, "DescribeStream: StreamDescription.Shards is not an array");
        return DDBPIPE_ERR_PARSE;
    }
    for (size_t i = 0; i < shards->count; i++) {
        const dp_json *sh = shards->items[i];
        const char *id = dp_json_get_string(sh, "ShardId");
        if (!id || !id[0]) {
            dp_errf(errstr, errstr_size, "DescribeStream: Shards[%zu].ShardId missing or not a string", i);
            return DDBPIPE_ERR_PARSE;
        }
        const dp_json *pj = dp_json_get(sh, "ParentShardId");
        if (pj && !dp_json_is(pj, DP_JSON_STRING) && !dp_json_is(pj, DP_JSON_NULL)) {
            dp_errf(errstr, errstr_size, "DescribeStream: Shards[%zu].ParentShardId is not a string", i);
            return DDBPIPE_ERR_PARSE;
        }
        const char *parent = pj && dp_json_is(pj, DP_JSON_STRING) ? pj->str : NULL;
        if (parent && strcmp(parent, id) == 0) {
            dp_errf(errstr, errstr_size, "DescribeStream: shard %s names itself as its parent", id);
            return DDBPIPE_ERR_PARSE;
        }
        const dp_json *range = dp_json_get(sh, "SequenceNumberRange");
        const char *end = dp_json_get_string(range, "EndingSequenceNumber");
        int existed = dp_shard_graph_find(g, id) != NULL;
        dp_shard *s = dp_shard_graph_add(g, id, parent);
        if (!s) {
            dp_errf(errstr, errstr_size, "DescribeStream: too many shards or out of memory");
            return DDBPIPE_ERR_NOMEM;
        }
        if (end && !s->end_seq && dp_strdup_to(&s->end_seq, end) != 0)
            return DDBPIPE_ERR_NOMEM;
        s->seen_gen = g->gen;
        if (!existed && added)
            (*added)++;
    }
    return DDBPIPE_OK;
}

size_t dp_shard_graph_prune(dp_shard_graph *g) {
    size_t kept = 0, removed = 0;
    for (size_t i = 0; i < g->n; i++) {
        dp_shard *s = g->v[i];
        if (s->finished && s->seen_gen != g->gen && !s->child_pending) {
            shard_free(s);
            removed++;
        } else {
            g->v[kept++] = s;
        }
    }
    g->n = kept;
    return removed;
}

int dp_shard_graph_has_child(const dp_shard_graph *g, const char *id) {
    for (size_t i = 0; i < g->n; i++)
        if (g->v[i]->parent_id && strcmp(g->v[i]->parent_id, id) == 0)
            return 1;
    return 0;
}

const dp_shard *dp_shard_graph_closed_leaf(const dp_shard_graph *g) {
    for (size_t i = 0; i < g->n; i++) {
        const dp_shard *s = g->v[i];
        if ((s->end_seq || s->finished) && !s->children_checked && !dp_shard_graph_has_child(g, s->id))
            return s;
    }
    return NULL;
}

int dp_shard_readable(const dp_shard_graph *g, const dp_shard *s) {
    if (s->finished)
        return 0;
    if (!s->parent_id)
        return 1;
    const dp_shard *p = dp_shard_graph_find(g, s->parent_id);
    return !p || p->finished;
}

int dp_seq_cmp(const char *a, const char *b) {
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}
