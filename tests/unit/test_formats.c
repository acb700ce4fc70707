/* Change-event input parsers (sink) and output formatters (source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddb/attr.h"
#include "formats/changes.h"
#include "formats/events.h"

static dp_json_doc *P(const char *text) {
    dp_json_error err;
    dp_json_doc *d = dp_json_parse(text, strlen(text), &err);
    if (!d)
        fail_msg("test JSON does not parse: %s: %s", text, err.message);
    return d;
}

static const char *W(const dp_json *v) {
    static char out[8192];
    dp_buf b;
    dp_buf_init(&b, 0);
    assert_int_equal(dp_json_write(&b, v), DDBPIPE_OK);
    snprintf(out, sizeof out, "%s", b.data);
    dp_buf_free(&b);
    return out;
}

/* Options: table with partition key id (N) and sort key sort (S), as in
 * seed 004's example. */
static dp_change_format_opts opts_seed004(void) {
    dp_change_format_opts o;
    memset(&o, 0, sizeof o);
    o.format = DP_CHANGE_FMT_AUTO;
    o.partition_key = "id";
    o.partition_type = 'N';
    o.sort_key = "sort";
    o.sort_type = 'S';
    return o;
}

static dp_change_format_opts opts_pk(const char *pk) {
    dp_change_format_opts o;
    memset(&o, 0, sizeof o);
    o.partition_key = pk;
    return o;
}

/* Parse a line: "UPSERT <typed item>" / "DELETE <typed keys>" / "ERR: msg". */
static const char *parse(const char *line, const dp_change_format_opts *o) {
    static char out[8192];
    char err[512];
    dp_change c;
    ddbpipe_result_t rc = dp_change_parse(line, strlen(line), o, &c, err, sizeof err);
    if (rc != DDBPIPE_OK) {
        assert_null(c.doc);
        snprintf(out, sizeof out, "ERR: %s", err);
        return out;
    }
    if (c.op == DP_CHANGE_TOMBSTONE) {
        assert_null(c.item);
        dp_change_clear(&c);
        return "TOMBSTONE";
    }
    snprintf(out, sizeof out, "%s %s", c.op == DP_CHANGE_UPSERT ? "UPSERT" : "DELETE", W(c.item));
    assert_int_equal(c.item_size, dp_item_size(c.item));
    dp_change_clear(&c);
    return out;
}

static dp_change_format parsed_format(const char *line, const dp_change_format_opts *o) {
    char err[512];
    dp_change c;
    if (dp_change_parse(line, strlen(line), o, &c, err, sizeof err) != DDBPIPE_OK)
        fail_msg("%s: %s", line, err);
    dp_change_format f = c.format;
    dp_change_clear(&c);
    return f;
}

/* -------------------------------------------------------------- names */

static void test_format_names(void **state) {
    (void)state;
    dp_change_format f;
    assert_int_equal(dp_change_format_parse("auto", &f), 0);
    assert_int_equal(f, DP_CHANGE_FMT_AUTO);
    assert_int_equal(dp_change_format_parse("dynamodb-stream", &f), 0);
    assert_int_equal(f, DP_CHANGE_FMT_DYNAMODB_STREAM);
    assert_int_equal(dp_change_format_parse("debezium", &f), 0);
    assert_int_equal(dp_change_format_parse("xml", &f), -1);
    dp_event_format e;
    assert_int_equal(dp_event_format_parse("dynamodb", &e), 0);
    assert_int_equal(e, DP_EVENT_FMT_DYNAMODB);
    assert_int_equal(dp_event_format_parse("csv", &e), -1);
    dp_event_op op;
    assert_int_equal(dp_event_op_from_stream("MODIFY", &op), 0);
    assert_int_equal(op, DP_EVENT_MODIFY);
    assert_int_equal(dp_event_op_from_stream("modify", &op), -1);
}

/* -------------------------------------------------------------- json */

static void test_json_rows(void **state) {
    (void)state;
    dp_change_format_opts o = opts_seed004();
    o.format = DP_CHANGE_FMT_JSON;
    assert_string_equal(
        parse("{\"id\": 1, \"sort\": \"a\", \"s\": \"x\", \"n\": null}", &o),
        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"},\"s\":{\"S\":\"x\"},\"n\":{\"NULL\":true}}");
    /* the key's type comes from the table: a numeric string becomes N */
    assert_string_equal(parse("{\"id\": \"7\", \"sort\": \"a\"}", &o),
                        "UPSERT {\"id\":{\"N\":\"7\"},\"sort\":{\"S\":\"a\"}}");
    o.ignore_nulls = 1;
    assert_string_equal(parse("{\"id\": 1, \"sort\": \"a\", \"n\": null}", &o),
                        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}}");
    assert_string_equal(parse("{\"sort\": \"a\"}", &o), "ERR: missing partition key 'id'");
    assert_string_equal(parse("{\"id\": 1}", &o), "ERR: missing sort key 'sort'");
    assert_string_equal(parse("{\"id\": 1, \"sort\": \"\"}", &o),
                        "ERR: sort key 'sort' is empty; DynamoDB key values must not be empty");
    assert_string_equal(parse("{\"id\": \"x\", \"sort\": \"a\"}", &o),
                        "ERR: attribute 'id': expected a number for column type DECIMAL, got a string 'x'");
    assert_string_equal(parse("{\"id\": 1, \"sort\": 5}", &o),
                        "ERR: attribute 'sort': expected a string for column type VARCHAR, got a number '5'");
    /* without a known key type the value's own type is checked */
    dp_change_format_opts p = opts_pk("id");
    assert_string_equal(parse("{\"id\": true}", &p),
                        "ERR: key 'id' is a BOOL, DynamoDB keys must be S, N or B");
    assert_string_equal(parse("{\"id\": [1]}", &p),
                        "ERR: key 'id' is a list (L), DynamoDB keys must be S, N or B");
    assert_string_equal(
        parse("{\"id\": 1, \"a\": {\"b\": [0, 1, 1234567890123456789012345678901234567891]}}", &p),
        "ERR: attribute 'a.b[2]': number has 40 significant digits, DynamoDB allows 38");
    /* malformed input */
    assert_string_equal(parse("{\"id\": 1", &p), "ERR: invalid JSON: unterminated object at byte 8");
    assert_non_null(
        strstr(parse("{\"id\": NaN}", &p), "ERR: invalid JSON: NaN/Infinity are not valid JSON numbers"));
    assert_string_equal(parse("[1, 2]", &p), "ERR: expected a JSON object, got an array");
    assert_string_equal(parse("", &p), "ERR: invalid JSON: unexpected end of input at byte 0");
    /* 38 digits survive */
    assert_string_equal(parse("{\"id\": 12345678901234567890123456789012345678}", &p),
                        "UPSERT {\"id\":{\"N\":\"12345678901234567890123456789012345678\"}}");
    /* column types */
    dp_column cols[1];
    char err[256];
    memset(cols, 0, sizeof cols);
    strcpy(cols[0].name, "tags");
    assert_int_equal(dp_coltype_parse("STRING SET", &cols[0].type, err, sizeof err), 0);
    p.columns = cols;
    p.ncolumns = 1;
    assert_string_equal(parse("{\"id\": 1, \"tags\": [\"a\", \"b\"]}", &p),
                        "UPSERT {\"id\":{\"N\":\"1\"},\"tags\":{\"SS\":[\"a\",\"b\"]}}");
    assert_string_equal(parse("{\"id\": 1, \"tags\": []}", &p),
                        "ERR: attribute 'tags': empty string set: DynamoDB does not store empty sets");
}

static void test_document_attribute(void **state) {
    (void)state;
    dp_change_format_opts o = opts_seed004();
    o.document_attribute = "flow_document";
    assert_string_equal(
        parse("{\"id\": 1, \"sort\": \"a\", \"x\": [true]}", &o),
        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"},\"flow_document\":{\"M\":{\"id\":{\"N\":"
        "\"1\"},\"sort\":{\"S\":\"a\"},\"x\":{\"L\":[{\"BOOL\":true}]}}}}");
    /* deletes carry only the keys */
    assert_string_equal(parse("{\"delete\": {\"id\": 1, \"sort\": \"a\", \"x\": 1}}", &o),
                        "DELETE {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}}");
    /* typed images go into the document as they are */
    assert_string_equal(
        parse("{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"2\"},\"sort\":{\"S\":"
              "\"b\"},"
              "\"ss\":{\"SS\":[\"q\"]}}}}",
              &o),
        "UPSERT {\"id\":{\"N\":\"2\"},\"sort\":{\"S\":\"b\"},\"flow_document\":{\"M\":{\"id\":{\"N\":\"2\"},"
        "\"sort\":{\"S\":\"b\"},\"ss\":{\"SS\":[\"q\"]}}}}");
    assert_string_equal(parse("{\"sort\": \"a\"}", &o), "ERR: missing partition key 'id'");
}

/* -------------------------------------------------------------- feldera */

static void test_feldera(void **state) {
    (void)state;
    dp_change_format_opts o = opts_seed004();
    assert_string_equal(parse("{\"insert\": {\"id\": 1, \"sort\": \"a\", \"s\": \"v\"}}", &o),
                        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"},\"s\":{\"S\":\"v\"}}");
    assert_string_equal(parse("{\"delete\": {\"id\": 1, \"sort\": \"a\", \"s\": \"v\"}}", &o),
                        "DELETE {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}}");
    assert_int_equal(parsed_format("{\"insert\": {\"id\": 1, \"sort\": \"a\"}}", &o), DP_CHANGE_FMT_FELDERA);
    assert_string_equal(parse("{\"delete\": {\"id\": 1}}", &o), "ERR: missing sort key 'sort'");
    assert_string_equal(parse("{\"delete\": {\"id\": 1, \"sort\": null}}", &o),
                        "ERR: sort key 'sort' is null");
    o.format = DP_CHANGE_FMT_FELDERA;
    assert_string_equal(parse("{\"update\": {\"id\": 1}}", &o),
                        "ERR: feldera record must be {\"insert\": {...}} or {\"delete\": {...}}");
    assert_string_equal(parse("{\"insert\": 5}", &o),
                        "ERR: feldera 'insert' must be a JSON object, got a number");
}

/* -------------------------------------------------------------- debezium */

static void test_debezium(void **state) {
    (void)state;
    dp_change_format_opts o = opts_pk("id");
    const char *c = "{\"before\":null,\"after\":{\"id\":1,\"v\":\"a\"},\"op\":\"c\",\"ts_ms\":1}";
    assert_string_equal(parse(c, &o), "UPSERT {\"id\":{\"N\":\"1\"},\"v\":{\"S\":\"a\"}}");
    assert_int_equal(parsed_format(c, &o), DP_CHANGE_FMT_DEBEZIUM);
    assert_string_equal(
        parse("{\"before\":{\"id\":1,\"v\":\"a\"},\"after\":{\"id\":1,\"v\":\"b\"},\"op\":\"u\"}", &o),
        "UPSERT {\"id\":{\"N\":\"1\"},\"v\":{\"S\":\"b\"}}");
    assert_string_equal(parse("{\"before\":null,\"after\":{\"id\":2},\"op\":\"r\"}", &o),
                        "UPSERT {\"id\":{\"N\":\"2\"}}");
    assert_string_equal(parse("{\"before\":{\"id\":1,\"v\":\"b\"},\"after\":null,\"op\":\"d\"}", &o),
                        "DELETE {\"id\":{\"N\":\"1\"}}");
    /* Kafka Connect wrapper with schema */
    assert_string_equal(
        parse("{\"schema\":{\"type\":\"struct\"},\"payload\":{\"before\":null,\"after\":{\"id\":3},"
              "\"op\":\"c\",\"source\":{\"db\":\"x\"}}}",
              &o),
        "UPSERT {\"id\":{\"N\":\"3\"}}");
    assert_string_equal(parse("{\"payload\":{\"before\":{\"id\":3},\"after\":null,\"op\":\"d\"}}", &o),
                        "DELETE {\"id\":{\"N\":\"3\"}}");
    /* errors */
    assert_string_equal(parse("{\"before\":null,\"after\":{\"id\":1},\"op\":\"x\"}", &o),
                        "ERR: debezium envelope has op 'x' (expected c, r, u or d)");
    assert_string_equal(
        parse("{\"before\":null,\"after\":null,\"op\":\"d\"}", &o),
        "ERR: debezium 'd' envelope has no 'before' object (the source must send at least the key "
        "columns, e.g. REPLICA IDENTITY FULL or DEFAULT with a primary key)");
    assert_string_equal(parse("{\"before\":null,\"after\":null,\"op\":\"u\"}", &o),
                        "ERR: debezium 'u' envelope has no 'after' object");
    assert_string_equal(parse("{\"before\":null,\"after\":null,\"op\":\"t\"}", &o),
                        "ERR: debezium truncate events (op 't') are not supported");
    /* tombstones (Debezium writes one after every delete): skipped, not errors */
    assert_string_equal(parse("{\"schema\":{},\"payload\":null}", &o), "TOMBSTONE");
    assert_string_equal(parse("null", &o), "TOMBSTONE");
    assert_string_equal(parse(" null ", &o), "TOMBSTONE");
    o.format = DP_CHANGE_FMT_JSON; /* plain rows have no tombstones */
    assert_string_equal(parse("null", &o), "ERR: expected a JSON object, got null");
    o.format = DP_CHANGE_FMT_FELDERA;
    assert_string_equal(parse("null", &o), "ERR: expected a JSON object, got null");
    o.format = DP_CHANGE_FMT_DEBEZIUM;
    assert_string_equal(parse("null", &o), "TOMBSTONE");
    assert_string_equal(parse("{\"schema\":null,\"payload\":null}", &o), "TOMBSTONE");
    assert_string_equal(parse("{\"after\":{\"id\":1}}", &o), "ERR: debezium envelope has no 'op'");
    assert_string_equal(parse("{\"after\":{\"id\":1},\"op\":1}", &o),
                        "ERR: debezium envelope 'op' must be a string, got a number");
    assert_string_equal(parse("{\"before\":{\"id\":true},\"op\":\"d\"}", &o),
                        "ERR: key 'id' is a BOOL, DynamoDB keys must be S, N or B");
}

/* -------------------------------------------------------------- streams */

static void test_dynamodb_stream(void **state) {
    (void)state;
    dp_change_format_opts o = opts_seed004();
    const char *ins =
        "{\"eventID\":\"1\",\"eventName\":\"INSERT\",\"eventSource\":\"aws:dynamodb\",\"dynamodb\":{"
        "\"Keys\":{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}},\"NewImage\":{\"id\":{\"N\":\"1\"},"
        "\"sort\":{\"S\":\"a\"},\"ns\":{\"NS\":[\"1.50\",\"2\"]},\"b\":{\"B\":\"AAE=\"}},"
        "\"SequenceNumber\":\"111\",\"SizeBytes\":26,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"}}";
    assert_string_equal(parse(ins, &o),
                        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"},\"ns\":{\"NS\":[\"1.50\","
                        "\"2\"]},\"b\":{\"B\":\"AAE=\"}}");
    assert_int_equal(parsed_format(ins, &o), DP_CHANGE_FMT_DYNAMODB_STREAM);
    assert_string_equal(
        parse("{\"eventName\":\"MODIFY\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"1\"},\"sort\":{"
              "\"S\":\"a\"},\"z\":{\"NULL\":true}}}}",
              &o),
        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"},\"z\":{\"NULL\":true}}");
    assert_string_equal(
        parse("{\"eventName\":\"REMOVE\",\"dynamodb\":{\"Keys\":{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":"
              "\"a\"}},\"OldImage\":{\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"},\"x\":{\"S\":\"y\"}}}}",
              &o),
        "DELETE {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}}");
    /* errors */
    assert_string_equal(
        parse("{\"eventName\":\"UPSERT\",\"dynamodb\":{}}", &o),
        "ERR: DynamoDB Streams record has eventName 'UPSERT' (expected INSERT, MODIFY or REMOVE)");
    assert_string_equal(
        parse("{\"eventName\":\"MODIFY\",\"dynamodb\":{\"Keys\":{\"id\":{\"N\":\"1\"}}}}", &o),
        "ERR: MODIFY record has no NewImage (the stream view type must be NEW_IMAGE or "
        "NEW_AND_OLD_IMAGES)");
    assert_string_equal(
        parse("{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"1\"},\"sort\":{"
              "\"S\":\"a\"},\"m\":{\"M\":{\"q\":{\"SS\":[]}}}}}}",
              &o),
        "ERR: attribute 'm.q': empty string set: DynamoDB does not store empty sets");
    assert_string_equal(
        parse("{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"S\":\"1\"},\"sort\":{"
              "\"S\":\"a\"}}}}",
              &o),
        "ERR: key 'id' is a string (S), the table's partition key type is N");
    assert_string_equal(
        parse("{\"eventName\":\"REMOVE\",\"dynamodb\":{\"Keys\":{\"id\":{\"N\":\"1\"}}}}", &o),
        "ERR: missing sort key 'sort'");
    /* a typed image naming one attribute twice is ambiguous: rejected (found by fuzz_change_line) */
    assert_string_equal(
        parse("{\"eventName\":\"MODIFY\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"1\"},\"sort\":{"
              "\"S\":\"a\"},\"x\":{\"S\":\"1\"},\"x\":{\"N\":\"2\"}}}}",
              &o),
        "ERR: attribute 'x' appears twice");
    assert_string_equal(
        parse("{\"eventName\":\"MODIFY\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"1\"},\"sort\":{"
              "\"S\":\"a\"},\"m\":{\"M\":{\"k\":{\"S\":\"1\"},\"k\":{\"S\":\"2\"}}}}}}",
              &o),
        "ERR: attribute 'm': M has the key 'k' twice");
    o.format = DP_CHANGE_FMT_DYNAMODB_STREAM;
    assert_string_equal(parse("{\"id\":1}", &o),
                        "ERR: DynamoDB Streams record needs \"eventName\" and a \"dynamodb\" object");
    o.ignore_nulls = 1;
    assert_string_equal(
        parse("{\"eventName\":\"INSERT\",\"dynamodb\":{\"NewImage\":{\"id\":{\"N\":\"1\"},\"sort\":{"
              "\"S\":\"a\"},\"z\":{\"NULL\":true}}}}",
              &o),
        "UPSERT {\"id\":{\"N\":\"1\"},\"sort\":{\"S\":\"a\"}}");
}

/* -------------------------------------------------------------- events */

static const char ALL_TYPES[] =
    "{\"id\":{\"N\":\"12345678901234567890123456789012345678\"},\"sort\":{\"S\":\"k\\u00e9y\"},"
    "\"b\":{\"B\":\"AAH+/w==\"},\"t\":{\"BOOL\":false},\"z\":{\"NULL\":true},"
    "\"m\":{\"M\":{\"inner\":{\"L\":[{\"N\":\"-1.50E-129\"},{\"S\":\"\"},{\"M\":{}},{\"BS\":[\"AA==\"]}]}}},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"0.5\",\"9.9999999999999999999999999999999999999E+"
    "125\"]},"
    "\"bs\":{\"BS\":[\"AA==\",\"AQ==\"]},\"e\":{\"B\":\"\"}}";

static const char *event_line(dp_event_format fmt, const dp_event *ev) {
    static char out[8192];
    char err[512];
    dp_buf b;
    dp_buf_init(&b, 0);
    ddbpipe_result_t rc = dp_event_write(&b, fmt, ev, err, sizeof err);
    if (rc == DDBPIPE_OK)
        snprintf(out, sizeof out, "%s", b.data);
    else
        snprintf(out, sizeof out, "ERR: %s", err);
    dp_buf_free(&b);
    return out;
}

/* The replication promise: typed item -> `source --format dynamodb` line
 * -> `sink` (auto) -> the same typed item, for every type. */
static void test_round_trip_dynamodb(void **state) {
    (void)state;
    dp_json_doc *d = P(ALL_TYPES);
    dp_json *item = dp_json_root(d);
    dp_change_format_opts o = opts_seed004();
    char err[512];
    const dp_event_op ops[] = {DP_EVENT_SNAPSHOT, DP_EVENT_INSERT, DP_EVENT_MODIFY};
    for (size_t i = 0; i < 3; i++) {
        dp_event ev;
        memset(&ev, 0, sizeof ev);
        ev.op = ops[i];
        ev.table = "t";
        ev.new_image = item;
        ev.partition_key = "id";
        ev.sort_key = "sort";
        if (ops[i] != DP_EVENT_SNAPSHOT) {
            ev.sequence = "000000000000000000001";
            ev.shard = "shardId-00000001";
            ev.approximate_time_s = 1767225600;
        }
        char line[8192];
        snprintf(line, sizeof line, "%s", event_line(DP_EVENT_FMT_DYNAMODB, &ev));
        dp_change c;
        if (dp_change_parse(line, strlen(line), &o, &c, err, sizeof err) != DDBPIPE_OK)
            fail_msg("%s: %s", line, err);
        assert_int_equal(c.op, DP_CHANGE_UPSERT);
        assert_int_equal(c.format, DP_CHANGE_FMT_DDBPIPE);
        assert_true(c.patch_typed);
        if (!dp_json_equal(c.item, item))
            fail_msg("round trip changed the item:\n%s\n", W(c.item));
        /* byte for byte too */
        char a[8192];
        snprintf(a, sizeof a, "%s", W(item));
        assert_string_equal(W(c.item), a);
        dp_change_clear(&c);
        /* explicit dynamodb-stream format accepts our own lines too */
        o.format = DP_CHANGE_FMT_DYNAMODB_STREAM;
        assert_int_equal(dp_change_parse(line, strlen(line), &o, &c, err, sizeof err), DDBPIPE_OK);
        dp_change_clear(&c);
        o.format = DP_CHANGE_FMT_AUTO;
    }
    /* remove: keys only, taken from the old image */
    dp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.op = DP_EVENT_REMOVE;
    ev.table = "t";
    ev.old_image = item;
    ev.partition_key = "id";
    ev.sort_key = "sort";
    char line[8192];
    snprintf(line, sizeof line, "%s", event_line(DP_EVENT_FMT_DYNAMODB, &ev));
    assert_string_equal(
        parse(line, &o),
        "DELETE {\"id\":{\"N\":\"12345678901234567890123456789012345678\"},\"sort\":{\"S\":\"k\xc3\xa9y\"}}");
    dp_json_doc_free(d);
}

static void test_event_formats(void **state) {
    (void)state;
    dp_json_doc *d = P(
        "{\"id\":{\"N\":\"1.50\"},\"tags\":{\"SS\":[\"a\"]},\"raw\":{\"B\":\"AAE=\"},\"z\":{\"NULL\":true}}");
    dp_json_doc *old = P("{\"id\":{\"N\":\"1.50\"},\"tags\":{\"SS\":[\"b\"]}}");
    dp_json_doc *keys = P("{\"id\":{\"N\":\"1.50\"}}");
    dp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.op = DP_EVENT_MODIFY;
    ev.table = "orders";
    ev.keys = dp_json_root(keys);
    ev.new_image = dp_json_root(d);
    ev.old_image = dp_json_root(old);
    ev.sequence = "42";
    ev.shard = "shardId-1";
    ev.approximate_time_s = 1767225600; /* 2026-01-01T00:00:00Z */
    assert_string_equal(
        event_line(DP_EVENT_FMT_JSON, &ev),
        "{\"op\":\"modify\",\"table\":\"orders\",\"keys\":{\"id\":1.50},\"new\":{\"id\":1.50,\"tags\":[\"a\"]"
        ","
        "\"raw\":\"AAE=\",\"z\":null},\"old\":{\"id\":1.50,\"tags\":[\"b\"]},\"sequence\":\"42\","
        "\"shard\":\"shardId-1\",\"approximate_time\":\"2026-01-01T00:00:00Z\"}");
    assert_string_equal(
        event_line(DP_EVENT_FMT_DYNAMODB, &ev),
        "{\"op\":\"modify\",\"format\":\"dynamodb\",\"table\":\"orders\",\"keys\":{\"id\":{\"N\":\"1.50\"}},"
        "\"new\":{\"id\":{\"N\":\"1.50\"},\"tags\":{\"SS\":[\"a\"]},\"raw\":{\"B\":\"AAE=\"},\"z\":{\"NULL\":"
        "true}},\"old\":{\"id\":{\"N\":\"1.50\"},\"tags\":{\"SS\":[\"b\"]}},\"sequence\":\"42\",\"shard\":"
        "\"shardId-1\",\"approximate_time\":\"2026-01-01T00:00:00Z\"}");
    assert_string_equal(
        event_line(DP_EVENT_FMT_DEBEZIUM, &ev),
        "{\"before\":{\"id\":1.50,\"tags\":[\"b\"]},\"after\":{\"id\":1.50,\"tags\":[\"a\"],\"raw\":\"AAE=\","
        "\"z\":null},\"op\":\"u\",\"source\":{\"connector\":\"ddbpipe\",\"table\":\"orders\",\"snapshot\":"
        "\"false\",\"shard\":\"shardId-1\",\"sequence\":\"42\"},\"ts_ms\":1767225600000}");
    /* snapshot rows: no sequence/shard/time; keys derived from the image */
    memset(&ev, 0, sizeof ev);
    ev.op = DP_EVENT_SNAPSHOT;
    ev.table = "orders";
    ev.new_image = dp_json_root(d);
    ev.partition_key = "id";
    assert_string_equal(
        event_line(DP_EVENT_FMT_JSON, &ev),
        "{\"op\":\"snapshot\",\"table\":\"orders\",\"keys\":{\"id\":1.50},\"new\":{\"id\":1.50,\"tags\":"
        "[\"a\"],\"raw\":\"AAE=\",\"z\":null},\"old\":null}");
    assert_string_equal(
        event_line(DP_EVENT_FMT_DEBEZIUM, &ev),
        "{\"before\":null,\"after\":{\"id\":1.50,\"tags\":[\"a\"],\"raw\":\"AAE=\",\"z\":null},\"op\":\"r\","
        "\"source\":{\"connector\":\"ddbpipe\",\"table\":\"orders\",\"snapshot\":\"true\"},\"ts_ms\":null}");
    /* a snapshot row read at a known time carries it as ts_ms */
    ev.read_time_ms = 1767225600123LL;
    assert_non_null(
        strstr(event_line(DP_EVENT_FMT_DEBEZIUM, &ev), "\"snapshot\":\"true\"},\"ts_ms\":1767225600123}"));
    /* remove without old image (KEYS_ONLY stream): debezium before = keys */
    memset(&ev, 0, sizeof ev);
    ev.op = DP_EVENT_REMOVE;
    ev.table = "orders";
    ev.keys = dp_json_root(keys);
    assert_string_equal(
        event_line(DP_EVENT_FMT_DEBEZIUM, &ev),
        "{\"before\":{\"id\":1.50},\"after\":null,\"op\":\"d\",\"source\":{\"connector\":\"ddbpipe\","
        "\"table\":\"orders\",\"snapshot\":\"false\"},\"ts_ms\":null}");
    /* debezium and json lines read back by the sink (plain: types follow JSON) */
    dp_change_format_opts o = opts_pk("id");
    char line[4096];
    snprintf(line, sizeof line, "%s", event_line(DP_EVENT_FMT_DEBEZIUM, &ev));
    assert_string_equal(parse(line, &o), "DELETE {\"id\":{\"N\":\"1.50\"}}");
    ev.op = DP_EVENT_MODIFY;
    ev.new_image = dp_json_root(d);
    snprintf(line, sizeof line, "%s", event_line(DP_EVENT_FMT_JSON, &ev));
    assert_string_equal(parse(line, &o),
                        "UPSERT {\"id\":{\"N\":\"1.50\"},\"tags\":{\"L\":[{\"S\":\"a\"}]},\"raw\":{\"S\":"
                        "\"AAE=\"},\"z\":{\"NULL\":true}}");
    ev.op = DP_EVENT_REMOVE;
    snprintf(line, sizeof line, "%s", event_line(DP_EVENT_FMT_JSON, &ev));
    assert_string_equal(parse(line, &o), "DELETE {\"id\":{\"N\":\"1.50\"}}");
    /* a malformed image is an error and leaves the buffer untouched */
    dp_json_doc *bad = P("{\"id\":{\"N\":\"one\"}}");
    memset(&ev, 0, sizeof ev);
    ev.op = DP_EVENT_INSERT;
    ev.table = "orders";
    ev.new_image = dp_json_root(bad);
    ev.keys = dp_json_root(keys);
    for (int f = 0; f < 3; f++) {
        dp_buf b;
        char err[256];
        dp_buf_init(&b, 0);
        dp_buf_puts(&b, "prev");
        assert_int_not_equal(dp_event_write(&b, (dp_event_format)f, &ev, err, sizeof err), DDBPIPE_OK);
        assert_string_equal(b.data, "prev");
        assert_string_equal(err, "attribute 'id': 'one' is not a valid number");
        dp_buf_free(&b);
    }
    dp_json_doc_free(bad);
    dp_json_doc_free(d);
    dp_json_doc_free(old);
    dp_json_doc_free(keys);
}

static void test_ddbpipe_event_errors(void **state) {
    (void)state;
    dp_change_format_opts o = opts_pk("id");
    assert_string_equal(
        parse("{\"op\":\"insert\",\"table\":\"t\",\"keys\":{\"id\":1},\"new\":null}", &o),
        "ERR: ddbpipe 'insert' event has no 'new' image (the stream view type must include new images)");
    assert_string_equal(parse("{\"op\":\"insert\",\"format\":\"xml\",\"new\":{\"id\":1}}", &o),
                        "ERR: ddbpipe event has format 'xml' (expected dynamodb or json)");
    assert_string_equal(
        parse("{\"op\":\"remove\",\"format\":\"dynamodb\",\"keys\":{\"id\":{\"BOOL\":true}}}", &o),
        "ERR: key 'id' is a BOOL, DynamoDB keys must be S, N or B");
}

/* -------------------------------------------------------------- auto */

static void test_auto_detection(void **state) {
    (void)state;
    dp_change_format_opts o = opts_pk("id");
    assert_int_equal(parsed_format("{\"id\":1,\"op\":\"c\"}", &o), DP_CHANGE_FMT_JSON); /* no before/after */
    assert_int_equal(parsed_format("{\"id\":1,\"insert\":{\"a\":1}}", &o), DP_CHANGE_FMT_JSON);
    assert_int_equal(parsed_format("{\"op\":\"c\",\"after\":{\"id\":1}}", &o), DP_CHANGE_FMT_DEBEZIUM);
    assert_int_equal(parsed_format("{\"op\":\"snapshot\",\"new\":{\"id\":1}}", &o), DP_CHANGE_FMT_DDBPIPE);
    assert_int_equal(parsed_format("{\"delete\":{\"id\":1}}", &o), DP_CHANGE_FMT_FELDERA);
    /* forcing json reads an envelope-looking row as a row */
    o.format = DP_CHANGE_FMT_JSON;
    assert_string_equal(
        parse("{\"id\":1,\"op\":\"c\",\"after\":{\"x\":1}}", &o),
        "UPSERT {\"id\":{\"N\":\"1\"},\"op\":{\"S\":\"c\"},\"after\":{\"M\":{\"x\":{\"N\":\"1\"}}}}");
}

/* -------------------------------------------------------------- merge */

static const char *merge(const char *stored, const char *patch, int typed, const dp_change_format_opts *o) {
    static char out[4096];
    char err[512];
    dp_json_doc *s = stored ? P(stored) : NULL;
    dp_json_doc *p = P(patch);
    dp_json_doc *doc = dp_json_doc_new();
    dp_json *r = dp_item_merge_patch(doc, s ? dp_json_root(s) : NULL, dp_json_root(p), typed, o, NULL, err,
                                     sizeof err);
    if (r)
        snprintf(out, sizeof out, "%s", W(r));
    else
        snprintf(out, sizeof out, "ERR: %s", err);
    dp_json_doc_free(doc);
    dp_json_doc_free(p);
    dp_json_doc_free(s);
    return out;
}

static void test_merge_patch(void **state) {
    (void)state;
    dp_change_format_opts o = opts_pk("id");
    const char *stored = "{\"id\":{\"S\":\"k\"},\"a\":{\"N\":\"1\"},\"tags\":{\"SS\":[\"x\"]},"
                         "\"m\":{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"BS\":[\"AA==\"]},\"z\":{\"S\":\"q\"}}}}";
    /* RFC 7386: null removes, objects merge into maps, everything else replaces;
     * untouched attributes keep their types (sets, binary). */
    assert_string_equal(
        merge(stored, "{\"id\":\"k\",\"a\":null,\"m\":{\"x\":2,\"z\":null},\"n\":\"new\"}", 0, &o),
        "{\"id\":{\"S\":\"k\"},\"tags\":{\"SS\":[\"x\"]},\"m\":{\"M\":{\"x\":{\"N\":\"2\"},\"y\":{\"BS\":"
        "[\"AA==\"]}}},\"n\":{\"S\":\"new\"}}");
    /* an object over a non-map replaces it, with its nulls dropped */
    assert_string_equal(
        merge(stored, "{\"a\":{\"p\":1,\"q\":null}}", 0, &o),
        "{\"id\":{\"S\":\"k\"},\"a\":{\"M\":{\"p\":{\"N\":\"1\"}}},\"tags\":{\"SS\":[\"x\"]},\"m\":{\"M\":{"
        "\"x\":{\"N\":\"1\"},\"y\":{\"BS\":[\"AA==\"]},\"z\":{\"S\":\"q\"}}}}");
    /* arrays replace */
    assert_string_equal(
        merge("{\"id\":{\"S\":\"k\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}", "{\"l\":[2,null]}", 0, &o),
        "{\"id\":{\"S\":\"k\"},\"l\":{\"L\":[{\"N\":\"2\"},{\"NULL\":true}]}}");
    /* nothing stored yet */
    assert_string_equal(merge(NULL, "{\"id\":\"k\",\"v\":{\"a\":null,\"b\":1}}", 0, &o),
                        "{\"id\":{\"S\":\"k\"},\"v\":{\"M\":{\"b\":{\"N\":\"1\"}}}}");
    /* typed patch: attributes replace */
    assert_string_equal(merge(stored, "{\"id\":{\"S\":\"k\"},\"tags\":{\"SS\":[\"y\"]}}", 1, &o),
                        "{\"id\":{\"S\":\"k\"},\"a\":{\"N\":\"1\"},\"tags\":{\"SS\":[\"y\"]},\"m\":{\"M\":{"
                        "\"x\":{\"N\":\"1\"},"
                        "\"y\":{\"BS\":[\"AA==\"]},\"z\":{\"S\":\"q\"}}}}");
    /* column types apply to top-level attributes */
    dp_column cols[1];
    char err[256];
    memset(cols, 0, sizeof cols);
    strcpy(cols[0].name, "tags");
    assert_int_equal(dp_coltype_parse("SS", &cols[0].type, err, sizeof err), 0);
    o.columns = cols;
    o.ncolumns = 1;
    assert_string_equal(merge(stored, "{\"tags\":[\"p\",\"q\"]}", 0, &o),
                        "{\"id\":{\"S\":\"k\"},\"a\":{\"N\":\"1\"},\"tags\":{\"SS\":[\"p\",\"q\"]},\"m\":{"
                        "\"M\":{\"x\":{\"N\":"
                        "\"1\"},\"y\":{\"BS\":[\"AA==\"]},\"z\":{\"S\":\"q\"}}}}");
    /* errors name the attribute; removing the key is caught */
    assert_string_equal(merge(stored, "{\"m\":{\"x\":1e999}}", 0, &o),
                        "ERR: attribute 'm.x': number 1e999 is too large for DynamoDB (largest is "
                        "9.9999999999999999999999999999999999999E+125)");
    assert_string_equal(merge(stored, "{\"id\":null}", 0, &o), "ERR: missing partition key 'id'");

    /* end to end: the patch a parsed change carries */
    dp_change c;
    const char *line = "{\"id\":\"k\",\"a\":null,\"b\":true}";
    o.ignore_nulls = 0;
    assert_int_equal(dp_change_parse(line, strlen(line), &o, &c, err, sizeof err), DDBPIPE_OK);
    assert_false(c.patch_typed);
    dp_json_doc *s = P(stored);
    dp_json *r =
        dp_item_merge_patch(c.doc, dp_json_root(s), c.patch, c.patch_typed, &o, NULL, err, sizeof err);
    assert_non_null(r);
    assert_null(dp_json_get(r, "a"));
    assert_non_null(dp_json_get(r, "b"));
    assert_non_null(dp_json_get(r, "m"));
    dp_change_clear(&c);
    /* with ignore_nulls the null is not in the patch: the attribute stays */
    o.ignore_nulls = 1;
    assert_int_equal(dp_change_parse(line, strlen(line), &o, &c, err, sizeof err), DDBPIPE_OK);
    r = dp_item_merge_patch(c.doc, dp_json_root(s), c.patch, c.patch_typed, &o, NULL, err, sizeof err);
    assert_non_null(dp_json_get(r, "a"));
    dp_change_clear(&c);
    dp_json_doc_free(s);
}

/* Result codes, not message words, say why a line or a merge failed. */
static void test_result_codes(void **state) {
    (void)state;
    dp_change_format_opts o = opts_pk("id");
    char err[512];
    dp_change c;
    size_t n = 420000;
    char *line = malloc(n + 64);
    assert_non_null(line);
    int h = snprintf(line, 64, "{\"id\": \"k\", \"blob\": \"");
    memset(line + h, 'x', n);
    strcpy(line + h + n, "\"}");
    assert_int_equal(dp_change_parse(line, strlen(line), &o, &c, err, sizeof err), DDBPIPE_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "400 KB"));
    /* the same item as a merge patch */
    dp_json_doc *p = P(line);
    dp_json_doc *doc = dp_json_doc_new();
    ddbpipe_result_t why = DDBPIPE_OK;
    assert_null(dp_item_merge_patch(doc, NULL, dp_json_root(p), 0, &o, &why, err, sizeof err));
    assert_int_equal(why, DDBPIPE_ERR_TOO_LARGE);
    dp_json_doc_free(doc);
    dp_json_doc_free(p);
    free(line);
    /* a reason quoting "400 KB" is still a validation error */
    const char *bad = "{\"id\": \"k\", \"400 KB\": 1e999}";
    assert_int_equal(dp_change_parse(bad, strlen(bad), &o, &c, err, sizeof err), DDBPIPE_ERR_VALIDATION);
    assert_non_null(strstr(err, "400 KB"));
    p = P("{\"400 KB\": 1e999}");
    doc = dp_json_doc_new();
    assert_null(dp_item_merge_patch(doc, NULL, dp_json_root(p), 0, &o, &why, err, sizeof err));
    assert_int_equal(why, DDBPIPE_ERR_VALIDATION);
    dp_json_doc_free(doc);
    dp_json_doc_free(p);
    /* a merge that succeeds says so */
    p = P("{\"id\": \"k\", \"a\": 1}");
    doc = dp_json_doc_new();
    assert_non_null(dp_item_merge_patch(doc, NULL, dp_json_root(p), 0, &o, &why, err, sizeof err));
    assert_int_equal(why, DDBPIPE_OK);
    dp_json_doc_free(doc);
    dp_json_doc_free(p);
    /* the JSON parser's own failure is PARSE, with the byte offset */
    assert_int_equal(dp_change_parse("{\"id\": ", 8, &o, &c, err, sizeof err), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "invalid JSON: "));
    assert_non_null(strstr(err, "at byte"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_codes),    cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_json_rows),       cmocka_unit_test(test_document_attribute),
        cmocka_unit_test(test_feldera),         cmocka_unit_test(test_debezium),
        cmocka_unit_test(test_dynamodb_stream), cmocka_unit_test(test_round_trip_dynamodb),
        cmocka_unit_test(test_event_formats),   cmocka_unit_test(test_ddbpipe_event_errors),
        cmocka_unit_test(test_auto_detection),  cmocka_unit_test(test_merge_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
