/* Typed settings: one struct with a field per property of the table in
 * props.c. Each table row names its field (offset + kind), so a value is
 * parsed and range-checked once, in ddbpipe_conf_set, and every layer reads
 * typed fields (copied into its own options struct) instead of looking
 * properties up by name. No property name and no default value appears
 * outside src/config/ (tests/unit/test_settings.c scans for them).
 *
 * Enum fields hold the index of the value in the row's "a|b|c" range, so
 * the C enums below list their values in the order of those ranges (a unit
 * test checks each one). Thread-safety: a filled dp_settings is read-only
 * data; string fields borrow from the ddbpipe_conf_t (or the environment)
 * and live as long as it does, unchanged. */
#ifndef DP_CONFIG_SETTINGS_H
#define DP_CONFIG_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "ddbpipe/ddbpipe.h"

/* Upper bound of property rows (settings_set below is indexed by row). */
#define DP_SETTINGS_MAX_ROWS 192

typedef enum dp_credentials_provider {
    DP_CREDS_AUTO = 0,
    DP_CREDS_STATIC,
    DP_CREDS_ENVIRONMENT,
    DP_CREDS_WEB_IDENTITY,
    DP_CREDS_PROFILE,
    DP_CREDS_CONTAINER,
    DP_CREDS_IMDS
} dp_credentials_provider;

typedef enum dp_retry_mode { DP_RETRY_MODE_STANDARD = 0, DP_RETRY_MODE_ADAPTIVE } dp_retry_mode;
typedef enum dp_key_type { DP_KEY_TYPE_S = 0, DP_KEY_TYPE_N, DP_KEY_TYPE_B } dp_key_type;
typedef enum dp_billing_mode { DP_BILLING_PAY_PER_REQUEST = 0, DP_BILLING_PROVISIONED } dp_billing_mode;
typedef enum dp_stream_view_type {
    DP_STREAM_VIEW_NONE = -1, /* no stream */
    DP_STREAM_VIEW_NEW_IMAGE = 0,
    DP_STREAM_VIEW_OLD_IMAGE,
    DP_STREAM_VIEW_NEW_AND_OLD_IMAGES,
    DP_STREAM_VIEW_KEYS_ONLY
} dp_stream_view_type;
typedef enum dp_write_mode { DP_WRITE_MODE_BATCH = 0, DP_WRITE_MODE_TRANSACTIONAL } dp_write_mode;
/* Items per request DynamoDB allows (BatchWriteItem 25, TransactWriteItems
 * 100): batch_size is capped at it and defaults to it. The one place these
 * numbers are written. */
#define DP_BATCH_WRITE_MAX_ITEMS 25
#define DP_TRANSACT_WRITE_MAX_ITEMS 100
static inline int dp_batch_size_limit(int write_mode) {
    return write_mode == DP_WRITE_MODE_TRANSACTIONAL ? DP_TRANSACT_WRITE_MAX_ITEMS : DP_BATCH_WRITE_MAX_ITEMS;
}
typedef enum dp_update_mode { DP_UPDATE_MODE_PUT = 0, DP_UPDATE_MODE_MERGE } dp_update_mode;
typedef enum dp_on_trimmed_data { DP_ON_TRIMMED_STOP = 0, DP_ON_TRIMMED_CONTINUE } dp_on_trimmed_data;
typedef enum dp_stream_start_position {
    DP_STREAM_START_TRIM_HORIZON = 0,
    DP_STREAM_START_LATEST
} dp_stream_start_position;

typedef enum dp_kafka_tombstones {
    DP_KAFKA_TOMBSTONES_DELETE = 0,
    DP_KAFKA_TOMBSTONES_IGNORE
} dp_kafka_tombstones;

/* Field kinds a row can bind to. */
typedef enum dp_field_kind {
    DP_FK_STR = 0, /* const char *: NULL when unset */
    DP_FK_I64,     /* int64_t: 0 when unset without default; -1 = null (nullable rows) */
    DP_FK_BOOL,    /* int 0/1 */
    DP_FK_ENUM     /* int: index in the row's range; -1 when unset without default */
} dp_field_kind;

typedef struct dp_settings {
    /* connection */
    const char *table;
    const char *region; /* with the AWS_REGION / AWS_DEFAULT_REGION fallback */
    const char *endpoint_url;
    const char *streams_endpoint_url;
    const char *aws_access_key_id;
    const char *aws_secret_access_key;
    const char *aws_session_token;
    const char *profile;
    const char *credentials_file;
    int credentials_provider; /* dp_credentials_provider */
    const char *role_arn;
    const char *role_session_name;
    const char *external_id;
    const char *web_identity_token_file;
    int trust_all_certificates;
    const char *ca_file;
    int64_t connect_timeout_ms;
    int64_t request_timeout_ms;
    int retry_mode; /* dp_retry_mode */
    int64_t retry_backoff_base_ms;
    int64_t retry_backoff_max_ms;
    int log_level; /* ddbpipe_log_level_t */
    /* table */
    const char *partition_key;
    int partition_key_type; /* dp_key_type */
    const char *sort_key;
    int sort_key_type;      /* dp_key_type */
    const char *key;        /* "pk" or "pk,sk" as given (already split into the two above) */
    int billing_mode;       /* dp_billing_mode */
    int64_t read_capacity;  /* 0: unset */
    int64_t write_capacity; /* 0: unset */
    int stream_view_type;   /* dp_stream_view_type */
    /* sink */
    int write_mode;     /* dp_write_mode */
    int64_t batch_size; /* default follows write_mode (25 / 100) */
    int64_t max_buffer_size_bytes;
    int64_t max_buffered_records;
    int64_t flush_interval_ms;
    int64_t max_concurrent_requests;
    int64_t threads;
    int64_t max_retries;                 /* -1: forever */
    int64_t max_write_capacity_per_s;    /* 0: no cap */
    const char *write_capacity_fraction; /* decimal text, NULL: unset */
    const char *price_per_million_wcu;   /* decimal text (DP_PF_DECIMAL), NULL: unset */
    int fail_on_error;
    int ignore_nulls;
    int update_mode; /* dp_update_mode */
    const char *document_attribute;
    const char *columns; /* canonical "name TYPE, ..." */
    const char *dedup_keys;
    const char *condition_expression;
    const char *delete_condition_expression;
    const char *expression_attribute_names;  /* JSON object text */
    const char *expression_attribute_values; /* JSON object text */
    const char *metrics_address;
    int create_table_if_missing;
    /* source */
    const char *stream_arn;
    int64_t segments;
    int stream_start_position; /* dp_stream_start_position */
    int64_t discovery_interval_ms;
    int64_t inconsistent_listing_retries;
    int64_t poll_idle_ms;
    int64_t poll_busy_ms;
    int on_trimmed_data;                /* dp_on_trimmed_data */
    int64_t max_read_capacity_per_s;    /* 0: no cap */
    const char *read_capacity_fraction; /* decimal text, NULL: unset */
    int64_t scan_page_items;            /* 0: DynamoDB's 1 MB pages */
    const char *lease_table;
    const char *application_name;
    const char *worker_id; /* NULL: host:pid */
    int64_t lease_duration_ms;
    int64_t max_leases_per_worker; /* 0: unlimited */
    /* kafka */
    int kafka_enabled;
    const char *kafka_topics; /* "a,^b.*" */
    int64_t kafka_commit_interval_ms;
    int64_t kafka_revoke_timeout_ms;
    int kafka_tombstones; /* dp_kafka_tombstones */
    const char *dead_letter_topic;
    const char *kafka_topic;
    int kafka_delete_tombstones;
    int follow_new_stream;

    /* Not properties: how the values came to be. */
    int assume_role;                         /* credentials_provider was Flink's ASSUME_ROLE */
    unsigned char set[DP_SETTINGS_MAX_ROWS]; /* 1: row given explicitly (not default/env) */
} dp_settings;

/* The typed settings of conf: explicit values, then environment fallbacks
 * (read now, so explicit configuration always wins), then defaults.
 * Never fails; conf NULL gives the defaults. */
void dp_conf_settings(const ddbpipe_conf_t *conf, dp_settings *out);

/* Was the property bound to this field of s given explicitly? field must
 * point into s (e.g. &s->partition_key_type). */
int dp_settings_is_set(const dp_settings *s, const void *field);

/* Canonical text of an enum field's value ("adaptive"), NULL when unset. */
const char *dp_settings_enum_text(const dp_settings *s, const int *field);

/* Name of the property bound to a field (for messages), never NULL. */
const char *dp_settings_name(const dp_settings *s, const void *field);

/* 'S', 'N' or 'B' for a dp_key_type. */
char dp_key_type_char(int key_type);

#endif
