/* libFuzzer target for the typed DynamoDB operation answers of ddb/ops.h:
 * Query/Scan pages, DescribeStream, GetShardIterator, GetRecords,
 * BatchWriteItem, BatchGetItem, the TransactionCanceledException body,
 * single-item write answers, GetItem, UpdateTable, CreationDateTime and the
 * lease table's page.
 * Invariants: every parser is total on any bytes, a parsed page's pointers
 * have the documented types, a LastEvaluatedKey handed back parses as a
 * JSON object again, and error texts are NUL-terminated in their buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "ddb/lease.h"
#include "ddb/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void terminated(const char *s, size_t cap) {
    if (strnlen(s, cap) >= cap)
        abort();
}

static void is_array_or_null(const dp_json *v) {
    if (v && !dp_json_is(v, DP_JSON_ARRAY))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    char err[256];

    dp_ddb_read_page page;
    dp_ddb_read_page_init(&page);
    err[0] = 0;
    if (dp_ddb_parse_read_page("Scan", body, size, &page, err, sizeof err) == DDBPIPE_OK) {
        is_array_or_null(page.items);
        if (page.last_evaluated_key.len) {
            dp_json_doc *d = dp_json_parse(page.last_evaluated_key.data, page.last_evaluated_key.len, NULL);
            if (!d || !dp_json_is(dp_json_root(d), DP_JSON_OBJECT))
                abort();
            dp_json_doc_free(d);
        }
    }
    terminated(err, sizeof err);
    dp_ddb_read_page_free(&page);

    dp_ddb_stream_page sp;
    memset(&sp, 0, sizeof sp);
    if (dp_ddb_parse_describe_stream(body, size, &sp, err, sizeof err) == DDBPIPE_OK) {
        is_array_or_null(sp.shards);
        if (sp.last_evaluated_shard_id && !sp.last_evaluated_shard_id[0])
            abort();
    }
    terminated(err, sizeof err);
    dp_ddb_stream_page_free(&sp);

    dp_buf it;
    dp_buf_init(&it, 0);
    dp_ddb_parse_get_shard_iterator(body, size, &it, err, sizeof err);
    terminated(err, sizeof err);
    dp_buf_free(&it);

    dp_ddb_records_page rp;
    memset(&rp, 0, sizeof rp);
    if (dp_ddb_parse_get_records(body, size, &rp, err, sizeof err) == DDBPIPE_OK)
        is_array_or_null(rp.records);
    dp_ddb_records_page_free(&rp);

    dp_ddb_write_answer a;
    memset(&a, 0, sizeof a);
    if (dp_ddb_parse_batch_write(body, size, "t", &a, err, sizeof err) == DDBPIPE_OK) {
        is_array_or_null(a.unprocessed);
        for (size_t i = 0; a.unprocessed && i < a.unprocessed->count; i++)
            (void)dp_ddb_unprocessed_write_item(a.unprocessed->items[i]);
    }
    if (dp_ddb_parse_batch_get(body, size, "t", &a, err, sizeof err) == DDBPIPE_OK) {
        is_array_or_null(a.responses);
        is_array_or_null(a.unprocessed);
    }
    if (dp_ddb_parse_transact_cancel(body, size, &a, err, sizeof err) == DDBPIPE_OK) {
        is_array_or_null(a.cancellation_reasons);
        for (size_t i = 0; i < a.cancellation_reasons->count; i++) {
            const char *code = NULL, *msg = NULL;
            dp_ddb_cancel_reason r = dp_ddb_cancel_reason_of(a.cancellation_reasons->items[i], &code, &msg);
            if (r > DP_DDB_CANCEL_UNKNOWN || (r == DP_DDB_CANCEL_UNKNOWN) != (code == NULL))
                abort();
        }
    }
    if (dp_ddb_parse_item_write(body, size, &a, err, sizeof err) == DDBPIPE_OK && a.attributes &&
        !dp_json_is(a.attributes, DP_JSON_OBJECT))
        abort();
    terminated(err, sizeof err);
    dp_ddb_write_answer_free(&a);

    dp_ddb_read_page gp;
    dp_ddb_read_page_init(&gp);
    if (dp_ddb_parse_get_item(body, size, &gp, err, sizeof err) == DDBPIPE_OK && gp.item &&
        !dp_json_is(gp.item, DP_JSON_OBJECT))
        abort();
    dp_ddb_read_page_free(&gp);
    ddbpipe_table_info_t ti;
    if (dp_ddb_parse_update_table(body, size, &ti, err, sizeof err) == DDBPIPE_OK &&
        (!ti.key.partition_key[0] || !strchr("SNB", ti.key.partition_type)))
        abort();
    terminated(err, sizeof err);

    char created[32];
    dp_ddb_parse_table_created(body, size, created, sizeof created);
    terminated(created, sizeof created);

    dp_lease *v = NULL;
    size_t n = 0, cap = 0;
    dp_buf last;
    dp_buf_init(&last, 0);
    if (dp_lease_parse_page(body, size, &v, &n, &cap, 16, &last, err, sizeof err) == DDBPIPE_OK && n > 16)
        abort();
    terminated(err, sizeof err);
    free(v);
    dp_buf_free(&last);
    return 0;
}
