/* Parsers of the answers the source reads: GetRecords records, scanned
 * items' keys, DescribeTable. No I/O (fuzzed by tests/fuzz/fuzz_streams_records.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "source/source.h"

static int is_item(const dp_json *v) {
    return v && dp_json_is(v, DP_JSON_OBJECT);
}

ddbpipe_result_t dp_src_parse_record(const dp_json *rec, const char *shard, dp_event *ev, char *errstr,
                                     size_t errstr_size) {
    memset(ev, 0, sizeof *ev);
    if (!dp_json_is(rec, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "GetRecords: record is not an object");
        return DDBPIPE_ERR_PARSE;
    }
    const char *name = dp_json_get_string(rec, "eventName");
    if (!name) {
        dp_errf(errstr, errstr_size, "GetRecords: record.eventName missing");
        return DDBPIPE_ERR_PARSE;
    }
    if (dp_event_op_from_stream(name, &ev->op) != 0) {
        dp_errf(errstr, errstr_size, "GetRecords: record.eventName '%.40s' is not INSERT, MODIFY or REMOVE",
                name);
        return DDBPIPE_ERR_PARSE;
    }
    const dp_json *d = dp_json_get(rec, "dynamodb");
    if (!dp_json_is(d, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "GetRecords: record.dynamodb missing");
        return DDBPIPE_ERR_PARSE;
    }
    ev->keys = dp_json_get(d, "Keys");
    if (!is_item(ev->keys)) {
        dp_errf(errstr, errstr_size, "GetRecords: record.dynamodb.Keys missing or not an object");
        return DDBPIPE_ERR_PARSE;
    }
    ev->sequence = dp_json_get_string(d, "SequenceNumber");
    if (!ev->sequence || !ev->sequence[0]) {
        dp_errf(errstr, errstr_size, "GetRecords: record.dynamodb.SequenceNumber missing");
        return DDBPIPE_ERR_PARSE;
    }
    for (const char *p = ev->sequence; *p; p++)
        if (*p < '0' || *p > '9' || p - ev->sequence > 64) {
            dp_errf(errstr, errstr_size,
                    "GetRecords: record.dynamodb.SequenceNumber is not a decimal number");
            return DDBPIPE_ERR_PARSE;
        }
    const dp_json *ni = dp_json_get(d, "NewImage"), *oi = dp_json_get(d, "OldImage");
    if ((ni && !is_item(ni)) || (oi && !is_item(oi))) {
        dp_errf(errstr, errstr_size, "GetRecords: record.dynamodb.%s is not an object",
                ni && !is_item(ni) ? "NewImage" : "OldImage");
        return DDBPIPE_ERR_PARSE;
    }
    ev->new_image = ni;
    ev->old_image = oi;
    const dp_json *t = dp_json_get(d, "ApproximateCreationDateTime");
    if (dp_json_is(t, DP_JSON_NUMBER)) {
        double v = strtod(t->str, NULL);
        if (v > 0 && v < 1e12)
            ev->approximate_time_s = (int64_t)v;
    }
    ev->shard = shard;
    return DDBPIPE_OK;
}
