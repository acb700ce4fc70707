/* Source output formatters (see events.h). Streams straight into the
 * output buffer: no tree is built per event. */
#include "formats/events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "ddb/attr.h"

int dp_event_format_parse(const char *name, dp_event_format *out) {
    if (!name)
        return -1;
    if (!strcmp(name, "json"))
        *out = DP_EVENT_FMT_JSON;
    else if (!strcmp(name, "dynamodb"))
        *out = DP_EVENT_FMT_DYNAMODB;
    else if (!strcmp(name, "debezium"))
        *out = DP_EVENT_FMT_DEBEZIUM;
    else
        return -1;
    return 0;
}

const char *dp_event_format_name(dp_event_format f) {
    switch (f) {
    case DP_EVENT_FMT_JSON:
        return "json";
    case DP_EVENT_FMT_DYNAMODB:
        return "dynamodb";
    case DP_EVENT_FMT_DEBEZIUM:
        return "debezium";
    }
    return "?";
}

const char *dp_event_op_name(dp_event_op op) {
    switch (op) {
    case DP_EVENT_SNAPSHOT:
        return "snapshot";
    case DP_EVENT_INSERT:
        return "insert";
    case DP_EVENT_MODIFY:
        return "modify";
    case DP_EVENT_REMOVE:
        return "remove";
    }
    return "?";
}

int dp_event_op_from_stream(const char *event_name, dp_event_op *out) {
    if (!event_name)
        return -1;
    if (!strcmp(event_name, "INSERT"))
        *out = DP_EVENT_INSERT;
    else if (!strcmp(event_name, "MODIFY"))
        *out = DP_EVENT_MODIFY;
    else if (!strcmp(event_name, "REMOVE"))
        *out = DP_EVENT_REMOVE;
    else
        return -1;
    return 0;
}

const char *dp_event_iso8601(int64_t epoch_s, char *out, size_t out_size) {
    time_t t = (time_t)epoch_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, out_size, "%lld", (long long)epoch_s);
    return out;
}

/* Write an item (typed) either typed or plain. NULL -> null. */
static ddbpipe_result_t write_item(dp_buf *out, const dp_json *item, int typed, char *errstr, size_t n) {
    if (!item)
        return dp_buf_puts(out, "null");
    if (item->type != DP_JSON_OBJECT) {
        dp_errf(errstr, n, "an image must be an object of AttributeValues");
        return DDBPIPE_ERR_VALIDATION;
    }
    if (typed) {
        /* validate so a malformed image never reaches the output */
        for (size_t i = 0; i < item->count; i++)
            if (dp_attr_validate_at(item->members[i].value, item->members[i].key, errstr, n) != 0)
                return DDBPIPE_ERR_VALIDATION;
        ddbpipe_result_t rc = dp_json_write(out, item);
        if (rc != DDBPIPE_OK)
            dp_errf(errstr, n, "cannot write event: %s", ddbpipe_strerror(rc));
        return rc;
    }
    return dp_item_write_plain(out, item, errstr, n);
}

/* The keys object: ev->keys, or the key attributes of an image. */
static ddbpipe_result_t write_keys(dp_buf *out, const dp_event *ev, int typed, char *errstr, size_t n) {
    if (ev->keys)
        return write_item(out, ev->keys, typed, errstr, n);
    const dp_json *img = ev->new_image ? ev->new_image : ev->old_image;
    if (!img || !ev->partition_key)
        return dp_buf_puts(out, "null");
    const char *names[2] = {ev->partition_key, ev->sort_key};
    int first = 1;
    if (dp_buf_putc(out, '{'))
        return DDBPIPE_ERR_TOO_LARGE;
    for (int i = 0; i < 2; i++) {
        if (!names[i] || !*names[i])
            continue;
        const dp_json *av = dp_json_get(img, names[i]);
        if (!av) {
            dp_errf(errstr, n, "image has no key attribute '%s'", names[i]);
            return DDBPIPE_ERR_VALIDATION;
        }
        if ((!first && dp_buf_putc(out, ',')) || dp_json_write_cstr(out, names[i]) || dp_buf_putc(out, ':'))
            return DDBPIPE_ERR_TOO_LARGE;
        first = 0;
        ddbpipe_result_t rc;
        if (typed) {
            if (dp_attr_validate_at(av, names[i], errstr, n) != 0)
                return DDBPIPE_ERR_VALIDATION;
            rc = dp_json_write(out, av);
        } else {
            rc = dp_attr_write_plain(out, av, errstr, n);
        }
        if (rc != DDBPIPE_OK)
            return rc;
    }
    return dp_buf_putc(out, '}');
}

static ddbpipe_result_t write_field_str(dp_buf *out, const char *name, const char *value) {
    ddbpipe_result_t rc = dp_buf_putc(out, ',');
    if (!rc)
        rc = dp_json_write_cstr(out, name);
    if (!rc)
        rc = dp_buf_putc(out, ':');
    if (!rc)
        rc = dp_json_write_cstr(out, value);
    return rc;
}

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        rc = (x);                                                                                            \
        if (rc != DDBPIPE_OK)                                                                                \
            goto out;                                                                                        \
    } while (0)

static ddbpipe_result_t write_native(dp_buf *out, const dp_event *ev, int typed, char *errstr, size_t n) {
    ddbpipe_result_t rc;
    TRY(dp_buf_puts(out, "{\"op\":"));
    TRY(dp_json_write_cstr(out, dp_event_op_name(ev->op)));
    if (typed)
        TRY(dp_buf_puts(out, ",\"format\":\"dynamodb\""));
    TRY(write_field_str(out, "table", ev->table ? ev->table : ""));
    TRY(dp_buf_puts(out, ",\"keys\":"));
    TRY(write_keys(out, ev, typed, errstr, n));
    TRY(dp_buf_puts(out, ",\"new\":"));
    TRY(write_item(out, ev->new_image, typed, errstr, n));
    TRY(dp_buf_puts(out, ",\"old\":"));
    TRY(write_item(out, ev->old_image, typed, errstr, n));
    if (ev->sequence)
        TRY(write_field_str(out, "sequence", ev->sequence));
    if (ev->shard)
        TRY(write_field_str(out, "shard", ev->shard));
    if (ev->approximate_time_s) {
        char iso[40];
        TRY(write_field_str(out, "approximate_time",
                            dp_event_iso8601(ev->approximate_time_s, iso, sizeof iso)));
    }
    TRY(dp_buf_putc(out, '}'));
out:
    return rc;
}

static ddbpipe_result_t write_debezium(dp_buf *out, const dp_event *ev, char *errstr, size_t n) {
    ddbpipe_result_t rc;
    const char *op = "r";
    TRY(dp_buf_puts(out, "{\"before\":"));
    switch (ev->op) {
    case DP_EVENT_SNAPSHOT:
    case DP_EVENT_INSERT:
        op = ev->op == DP_EVENT_SNAPSHOT ? "r" : "c";
        TRY(write_item(out, ev->old_image, 0, errstr, n));
        TRY(dp_buf_puts(out, ",\"after\":"));
        TRY(write_item(out, ev->new_image, 0, errstr, n));
        break;
    case DP_EVENT_MODIFY:
        op = "u";
        TRY(write_item(out, ev->old_image, 0, errstr, n));
        TRY(dp_buf_puts(out, ",\"after\":"));
        TRY(write_item(out, ev->new_image, 0, errstr, n));
        break;
    case DP_EVENT_REMOVE:
        op = "d";
        if (ev->old_image)
            TRY(write_item(out, ev->old_image, 0, errstr, n));
        else
            TRY(write_keys(out, ev, 0, errstr, n));
        TRY(dp_buf_puts(out, ",\"after\":null"));
        break;
    }
    TRY(write_field_str(out, "op", op));
    TRY(dp_buf_puts(out, ",\"source\":{\"connector\":\"ddbpipe\""));
    TRY(write_field_str(out, "table", ev->table ? ev->table : ""));
    TRY(write_field_str(out, "snapshot", ev->op == DP_EVENT_SNAPSHOT ? "true" : "false"));
    if (ev->shard)
        TRY(write_field_str(out, "shard", ev->shard));
    if (ev->sequence)
        TRY(write_field_str(out, "sequence", ev->sequence));
    TRY(dp_buf_putc(out, '}'));
    if (ev->approximate_time_s)
        TRY(dp_buf_printf(out, ",\"ts_ms\":%lld}", (long long)ev->approximate_time_s * 1000));
    else if (ev->read_time_ms)
        TRY(dp_buf_printf(out, ",\"ts_ms\":%lld}", (long long)ev->read_time_ms));
    else
        TRY(dp_buf_puts(out, ",\"ts_ms\":null}"));
out:
    return rc;
}

ddbpipe_result_t dp_event_write(dp_buf *out, dp_event_format fmt, const dp_event *ev, char *errstr,
                                size_t errstr_size) {
    if (!out || !ev) {
        dp_errf(errstr, errstr_size, "no event");
        return DDBPIPE_ERR_INVALID_ARG;
    }
    size_t start = out->len;
    ddbpipe_result_t rc;
    dp_errf(errstr, errstr_size, "output buffer is full or out of memory");
    if (fmt == DP_EVENT_FMT_DEBEZIUM)
        rc = write_debezium(out, ev, errstr, errstr_size);
    else
        rc = write_native(out, ev, fmt == DP_EVENT_FMT_DYNAMODB, errstr, errstr_size);
    if (rc != DDBPIPE_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
    }
    return rc;
}
