/* DynamoDB Streams operations: DescribeStream (full or CHILD_SHARDS
 * listing pages), GetShardIterator, GetRecords, and the Streams error codes
 * a reader acts on. The records themselves are read by
 * source/records.c (dp_src_parse_record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "ddb/ops.h"

static int has(const char *s) {
    return s && s[0];
}

dp_ddb_stream_error dp_ddb_stream_error_of(const dp_ddb_result *res) {
    if (!res || res->result == DDBPIPE_OK)
        return DP_DDB_STREAM_ERR_NONE;
    if (strcmp(res->error_code, "ExpiredIteratorException") == 0)
        return DP_DDB_STREAM_ERR_EXPIRED_ITERATOR;
    if (strcmp(res->error_code, "TrimmedDataAccessException") == 0)
        return DP_DDB_STREAM_ERR_TRIMMED;
    if (strcmp(res->error_code, "ResourceNotFoundException") == 0)
        return DP_DDB_STREAM_ERR_NOT_FOUND;
    return DP_DDB_STREAM_ERR_OTHER;
}

ddbpipe_result_t dp_ddb_build_describe_stream(const dp_ddb_describe_stream_req *req, dp_buf *b) {
    if (!has(req->stream_arn) || req->limit < 0)
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"StreamArn\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->stream_arn);
    if (!rc && req->limit > 0)
        rc = dp_buf_printf(b, ",\"Limit\":%d", req->limit);
    if (!rc && has(req->child_shards_of)) {
        rc = dp_buf_puts(b, ",\"ShardFilter\":{\"Type\":\"CHILD_SHARDS\",\"ShardId\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->child_shards_of);
        if (!rc)
            rc = dp_buf_putc(b, '}');
    }
    if (!rc && has(req->exclusive_start_shard_id)) {
        rc = dp_buf_puts(b, ",\"ExclusiveStartShardId\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->exclusive_start_shard_id);
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

/* Parse body into *doc (freed first); PARSE naming op on invalid JSON or
 * an answer that is not an object. */
static ddbpipe_result_t parse_object(const char *op, const char *body, size_t len, dp_json_doc **doc,
                                     const dp_json **root, char *errstr, size_t errstr_size) {
    dp_json_error jerr;
    dp_json_doc_free(*doc);
    *root = NULL;
    *doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!*doc) {
        dp_errf(errstr, errstr_size, "%s: invalid JSON answer at byte %zu: %s", op, jerr.offset,
                jerr.message);
        return DDBPIPE_ERR_PARSE;
    }
    *root = dp_json_root(*doc);
    if (!dp_json_is(*root, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "%s: the answer is not a JSON object", op);
        return DDBPIPE_ERR_PARSE;
    }
    return DDBPIPE_OK;
}

void dp_ddb_stream_page_free(dp_ddb_stream_page *p) {
    if (!p)
        return;
    dp_json_doc_free(p->doc);
    memset(p, 0, sizeof *p);
}

ddbpipe_result_t dp_ddb_parse_describe_stream(const char *body, size_t len, dp_ddb_stream_page *p,
                                              char *errstr, size_t errstr_size) {
    const dp_json *root = NULL;
    dp_json_doc *doc = p->doc;
    memset(p, 0, sizeof *p);
    ddbpipe_result_t rc = parse_object("DescribeStream", body, len, &doc, &root, errstr, errstr_size);
    p->doc = doc;
    if (rc != DDBPIPE_OK)
        return rc;
    const dp_json *d = dp_json_get(root, "StreamDescription");
    if (d && !dp_json_is(d, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "DescribeStream: StreamDescription is not an object");
        return DDBPIPE_ERR_PARSE;
    }
    p->description = d;
    p->shards = dp_json_get(d, "Shards");
    if (p->shards && !dp_json_is(p->shards, DP_JSON_ARRAY)) {
        dp_errf(errstr, errstr_size, "DescribeStream: StreamDescription.Shards is not an array");
        return DDBPIPE_ERR_PARSE;
    }
    p->table_name = dp_json_get_string(d, "TableName");
    p->stream_status = dp_json_get_string(d, "StreamStatus");
    p->last_evaluated_shard_id = dp_json_get_string(d, "LastEvaluatedShardId");
    if (p->last_evaluated_shard_id && !p->last_evaluated_shard_id[0])
        p->last_evaluated_shard_id = NULL;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_ddb_build_get_shard_iterator(const dp_ddb_shard_iterator_req *req, dp_buf *b) {
    static const char *const types[] = {"TRIM_HORIZON", "LATEST", "AFTER_SEQUENCE_NUMBER",
                                        "AT_SEQUENCE_NUMBER"};
    int needs_seq =
        req->type == DP_DDB_ITER_AFTER_SEQUENCE_NUMBER || req->type == DP_DDB_ITER_AT_SEQUENCE_NUMBER;
    if (!has(req->stream_arn) || !has(req->shard_id) || (int)req->type < 0 ||
        (size_t)req->type >= sizeof types / sizeof types[0] || (needs_seq && !has(req->sequence_number)))
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"StreamArn\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->stream_arn);
    if (!rc)
        rc = dp_buf_puts(b, ",\"ShardId\":");
    if (!rc)
        rc = dp_json_write_cstr(b, req->shard_id);
    if (!rc)
        rc = dp_buf_printf(b, ",\"ShardIteratorType\":\"%s\"", types[req->type]);
    if (!rc && needs_seq) {
        rc = dp_buf_puts(b, ",\"SequenceNumber\":");
        if (!rc)
            rc = dp_json_write_cstr(b, req->sequence_number);
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

ddbpipe_result_t dp_ddb_parse_get_shard_iterator(const char *body, size_t len, dp_buf *iterator, char *errstr,
                                                 size_t errstr_size) {
    dp_json_doc *doc = NULL;
    const dp_json *root = NULL;
    dp_buf_reset(iterator);
    ddbpipe_result_t rc = parse_object("GetShardIterator", body, len, &doc, &root, errstr, errstr_size);
    /* No string ShardIterator (absent, null): the shard has nothing left. */
    const dp_json *it = rc == DDBPIPE_OK ? dp_json_get(root, "ShardIterator") : NULL;
    if (it && it->type == DP_JSON_STRING && it->len &&
        dp_buf_append(iterator, it->str, it->len) != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "GetShardIterator: out of memory");
        rc = DDBPIPE_ERR_NOMEM;
    }
    dp_json_doc_free(doc);
    return rc;
}

ddbpipe_result_t dp_ddb_build_get_records(const char *shard_iterator, int limit, dp_buf *b) {
    if (!has(shard_iterator) || limit < 0)
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t rc = dp_buf_puts(b, "{\"ShardIterator\":");
    if (!rc)
        rc = dp_json_write_cstr(b, shard_iterator);
    if (!rc && limit > 0)
        rc = dp_buf_printf(b, ",\"Limit\":%d", limit);
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc;
}

ddbpipe_result_t dp_ddb_parse_get_records(const char *body, size_t len, dp_ddb_records_page *p, char *errstr,
                                          size_t errstr_size) {
    const dp_json *root = NULL;
    dp_json_doc *doc = p->doc;
    memset(p, 0, sizeof *p);
    ddbpipe_result_t rc = parse_object("GetRecords", body, len, &doc, &root, errstr, errstr_size);
    p->doc = doc;
    if (rc != DDBPIPE_OK)
        return rc;
    p->records = dp_json_get(root, "Records");
    if (p->records && !dp_json_is(p->records, DP_JSON_ARRAY)) {
        p->records = NULL;
        dp_errf(errstr, errstr_size, "GetRecords: Records is not an array");
        return DDBPIPE_ERR_PARSE;
    }
    p->next_shard_iterator = dp_json_get_string(root, "NextShardIterator");
    return DDBPIPE_OK;
}

void dp_ddb_records_page_free(dp_ddb_records_page *p) {
    if (!p)
        return;
    dp_json_doc_free(p->doc);
    memset(p, 0, sizeof *p);
}

/* A request that could not be built: the call is not sent. */
static ddbpipe_result_t not_built(dp_ddb_result *res, const char *op, ddbpipe_result_t rc) {
    dp_ddb_result_free(res);
    dp_ddb_result_init(res);
    res->result = rc;
    snprintf(res->message, sizeof res->message, "%s request: %s", op, ddbpipe_strerror(rc));
    return rc;
}

ddbpipe_result_t dp_ddb_describe_stream(dp_ddb *c, const dp_ddb_describe_stream_req *req,
                                        dp_ddb_stream_page *p, dp_ddb_result *res) {
    dp_buf b;
    dp_buf_init(&b, 0);
    ddbpipe_result_t rc = dp_ddb_build_describe_stream(req, &b);
    if (rc != DDBPIPE_OK) {
        dp_buf_free(&b);
        return not_built(res, "DescribeStream", rc);
    }
    rc = dp_ddb_call(c, DP_DDB_API_STREAMS, "DescribeStream", b.data, b.len, res);
    dp_buf_free(&b);
    if (rc != DDBPIPE_OK)
        return rc;
    rc = dp_ddb_parse_describe_stream(res->body.data, res->body.len, p, res->message, sizeof res->message);
    res->result = rc;
    return rc;
}

ddbpipe_result_t dp_ddb_get_shard_iterator(dp_ddb *c, const dp_ddb_shard_iterator_req *req, dp_buf *iterator,
                                           dp_ddb_result *res) {
    dp_buf b;
    dp_buf_init(&b, 0);
    ddbpipe_result_t rc = dp_ddb_build_get_shard_iterator(req, &b);
    if (rc != DDBPIPE_OK) {
        dp_buf_free(&b);
        return not_built(res, "GetShardIterator", rc);
    }
    rc = dp_ddb_call(c, DP_DDB_API_STREAMS, "GetShardIterator", b.data, b.len, res);
    dp_buf_free(&b);
    if (rc != DDBPIPE_OK)
        return rc;
    rc = dp_ddb_parse_get_shard_iterator(res->body.data, res->body.len, iterator, res->message,
                                         sizeof res->message);
    res->result = rc;
    return rc;
}
