/* The property table: one row per canonical configuration key. Internal to
 * src/config; the public view is ddbpipe_conf_prop_at(). */
#ifndef DP_CONFIG_PROPS_H
#define DP_CONFIG_PROPS_H

#include <stddef.h>
#include <stdint.h>

#include "config/settings.h"
#include "ddbpipe/ddbpipe.h"

typedef enum dp_prop_type {
    DP_PT_STRING = 0,
    DP_PT_SECRET,
    DP_PT_INT,
    DP_PT_BOOL,
    DP_PT_ENUM,
    DP_PT_DURATION, /* milliseconds; accepts "5000", "5s", "2 min", ... */
    DP_PT_LIST      /* comma separated, stored as "a,b" */
} dp_prop_type;

#define DP_PF_NULLABLE 0x1u /* "null" is a value (max_retries: forever) */
#define DP_PF_JSON 0x2u     /* value is a JSON object text */
#define DP_PF_COLUMNS 0x4u  /* SQL column list, normalized */
#define DP_PF_KEY 0x8u      /* "pk" or "pk,sk": sets partition_key/sort_key */
#define DP_PF_URL 0x10u     /* must be http:// or https:// */
#define DP_PF_DERIVED 0x20u /* default follows other settings (batch_size) */
#define DP_PF_DECIMAL 0x40u /* a non-negative decimal number (a price) */

typedef struct dp_prop {
    ddbpipe_conf_prop_info_t info;
    dp_prop_type type;
    int64_t min, max; /* INT / DURATION */
    unsigned flags;
    const char *env;           /* comma separated fallbacks read at get time */
    const char *value_aliases; /* ENUM: "BASIC=static,ENV_VAR=environment" */
    size_t offset;             /* of the dp_settings field this row fills */
} dp_prop;

/* The dp_settings field kind a row's type binds to. */
dp_field_kind dp_prop_field_kind(const dp_prop *p);

size_t dp_prop_count(void);
const dp_prop *dp_prop_at(size_t i);
/* Index of a property by canonical name or alias (case-insensitive, '-' and
 * '_' equal), or -1. */
int dp_prop_find(const char *name);
/* Options that are accepted but have no effect: the notice text, or NULL. */
const char *dp_prop_ignored(const char *name);
/* For an unknown key that a Kafka Connect or Flink Kafka connector user would
 * write (topics, topic, properties.X, bootstrap.servers, errors.*, ...): what
 * ddbpipe calls it, copied into out; NULL for any other key. */
const char *dp_prop_kafka_hint(const char *name, char *out, size_t out_size);
/* Closest canonical name or alias to an unknown key, copied into out; NULL
 * when nothing is close. */
const char *dp_prop_suggest(const char *name, char *out, size_t out_size);
/* Case-insensitive, '-' == '_' comparison used for all key lookups. */
int dp_prop_name_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
