/* Configuration: property table, set/get, validation messages, env
 * fallbacks, YAML/JSON files and the Feldera and Estuary dialects with the
 * seeds' own examples (tests/data/config). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/conf.h"
#include "config/props.h"

static char err[1024];

static void data_path(char *out, size_t n, const char *name) {
    const char *src = getenv("DDBPIPE_SOURCE_DIR");
    assert_non_null(src); /* set by ctest */
    snprintf(out, n, "%s/tests/data/config/%s", src, name);
}

static ddbpipe_conf_t *load_data(const char *name, ddbpipe_result_t want) {
    char path[1024];
    data_path(path, sizeof path, name);
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_non_null(c);
    err[0] = 0;
    ddbpipe_result_t rc = ddbpipe_conf_load_file(c, path, err, sizeof err);
    if (rc != want)
        fail_msg("loading %s: rc %d, want %d: %s", name, rc, want, err);
    return c;
}

static ddbpipe_result_t load_str(ddbpipe_conf_t *c, const char *text) {
    err[0] = 0;
    return dp_conf_load_text(c, text, strlen(text), "test.yaml", err, sizeof err);
}

static ddbpipe_result_t set(ddbpipe_conf_t *c, const char *k, const char *v) {
    err[0] = 0;
    return ddbpipe_conf_set(c, k, v, err, sizeof err);
}

#define assert_err(...)                                                                                      \
    do {                                                                                                     \
        const char *subs_[] = {__VA_ARGS__};                                                                 \
        for (size_t i_ = 0; i_ < sizeof subs_ / sizeof subs_[0]; i_++)                                       \
            if (!strstr(err, subs_[i_]))                                                                     \
                fail_msg("error message lacks \"%s\": %s", subs_[i_], err);                                  \
    } while (0)

static int has_notice(const ddbpipe_conf_t *c, const char *sub) {
    for (size_t i = 0; i < dp_conf_notice_count(c); i++)
        if (strstr(dp_conf_notice_at(c, i), sub))
            return 1;
    return 0;
}

static void clear_env(void) {
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
    unsetenv("AWS_PROFILE");
}

static void test_table_sane(void **state) {
    (void)state;
    static const char *required[] = {"table",
                                     "region",
                                     "endpoint_url",
                                     "streams_endpoint_url",
                                     "aws_access_key_id",
                                     "aws_secret_access_key",
                                     "aws_session_token",
                                     "profile",
                                     "credentials_provider",
                                     "role_arn",
                                     "role_session_name",
                                     "external_id",
                                     "web_identity_token_file",
                                     "trust_all_certificates",
                                     "ca_file",
                                     "connect_timeout_ms",
                                     "request_timeout_ms",
                                     "retry_mode",
                                     "log_level",
                                     "partition_key",
                                     "partition_key_type",
                                     "sort_key",
                                     "sort_key_type",
                                     "key",
                                     "billing_mode",
                                     "read_capacity",
                                     "write_capacity",
                                     "stream_view_type",
                                     "write_mode",
                                     "batch_size",
                                     "max_buffer_size_bytes",
                                     "max_buffered_records",
                                     "flush_interval_ms",
                                     "max_concurrent_requests",
                                     "threads",
                                     "max_retries",
                                     "fail_on_error",
                                     "ignore_nulls",
                                     "update_mode",
                                     "document_attribute",
                                     "columns",
                                     "dedup_keys",
                                     "condition_expression",
                                     "delete_condition_expression",
                                     "expression_attribute_names",
                                     "expression_attribute_values",
                                     "metrics_address",
                                     "create_table_if_missing",
                                     "stream_arn",
                                     "segments",
                                     "discovery_interval_ms",
                                     "poll_idle_ms",
                                     "poll_busy_ms",
                                     "on_trimmed_data"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int idx = dp_prop_find(required[i]);
        if (idx < 0)
            fail_msg("property %s missing", required[i]);
        assert_string_equal(ddbpipe_conf_prop_at((size_t)idx)->name, required[i]);
    }
    assert_int_equal(ddbpipe_conf_prop_count(), dp_prop_count());
    for (size_t i = 0; i < ddbpipe_conf_prop_count(); i++) {
        const ddbpipe_conf_prop_info_t *p = ddbpipe_conf_prop_at(i);
        assert_non_null(p->doc);
        assert_non_null(p->type);
        assert_non_null(p->scope);
        /* names unique, every alias resolves to its own property */
        assert_int_equal(dp_prop_find(p->name), (int)i);
        if (p->aliases) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", p->aliases);
            for (char *sv, *a = strtok_r(buf, ",", &sv); a; a = strtok_r(NULL, ",", &sv))
                if (dp_prop_find(a) != (int)i)
                    fail_msg("alias %s of %s resolves elsewhere", a, p->name);
        }
    }
    assert_null(ddbpipe_conf_prop_at(ddbpipe_conf_prop_count()));
}

static void test_defaults(void **state) {
    (void)state;
    clear_env();
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_string_equal(ddbpipe_conf_get(c, "batch_size"), "25");
    assert_int_equal(dp_conf_int(c, "max_retries", 0), 10);
    assert_int_equal(dp_conf_int(c, "max_buffer_size_bytes", 0), 1048576);
    assert_int_equal(dp_conf_int(c, "max_buffered_records", 0), 10000);
    assert_int_equal(dp_conf_int(c, "flush_interval_ms", 0), 5000);
    assert_int_equal(dp_conf_int(c, "max_concurrent_requests", 0), 64);
    assert_int_equal(dp_conf_int(c, "threads", 0), 1);
    assert_int_equal(dp_conf_int(c, "segments", 0), 4);
    assert_int_equal(dp_conf_int(c, "connect_timeout_ms", 0), 3000);
    assert_int_equal(dp_conf_int(c, "request_timeout_ms", 0), 60000);
    assert_string_equal(dp_conf_str(c, "credentials_provider"), "auto");
    assert_string_equal(dp_conf_str(c, "retry_mode"), "adaptive");
    assert_string_equal(dp_conf_str(c, "log_level"), "warn");
    assert_string_equal(dp_conf_str(c, "write_mode"), "batch");
    assert_string_equal(dp_conf_str(c, "partition_key_type"), "S");
    assert_false(dp_conf_bool(c, "fail_on_error", 1));
    assert_false(dp_conf_bool(c, "create_table_if_missing", 1));
    assert_null(dp_conf_str(c, "metrics_address"));
    assert_null(ddbpipe_conf_get(c, "region"));
    assert_int_equal(dp_conf_int(c, "read_capacity", 77), 77);
    assert_false(ddbpipe_conf_is_set(c, "batch_size"));
    assert_int_equal(set(c, "write_mode", "transactional"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "batch_size"), "100");
    assert_int_equal(dp_conf_int(c, "batch_size", 0), 100);
    ddbpipe_conf_destroy(c);
    ddbpipe_conf_destroy(NULL);
}

static void test_set_normalizes(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(set(c, "fail_on_error", "yes"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "fail_on_error"), "true");
    assert_int_equal(set(c, "ignore_nulls", "0"), DDBPIPE_OK);
    assert_false(dp_conf_bool(c, "ignore_nulls", 1));
    assert_int_equal(set(c, "flush_interval_ms", "2 s"), DDBPIPE_OK);
    assert_int_equal(dp_conf_int(c, "flush_interval_ms", 0), 2000);
    assert_int_equal(set(c, "discovery_interval_ms", "1min"), DDBPIPE_OK);
    assert_int_equal(dp_conf_int(c, "discovery_interval_ms", 0), 60000);
    assert_int_equal(set(c, "write_mode", "TRANSACTIONAL"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "write_mode"), "transactional");
    assert_int_equal(set(c, "max_retries", "null"), DDBPIPE_OK);
    assert_int_equal(dp_conf_int(c, "max_retries", 10), -1);
    assert_string_equal(ddbpipe_conf_get(c, "max_retries"), "null");
    assert_null(dp_conf_str(c, "max_retries"));
    assert_int_equal(set(c, "dedup_keys", " a , `b` "), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "dedup_keys"), "a,b");
    assert_int_equal(set(c, "key", "pk, sk"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "pk");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key"), "sk");
    assert_int_equal(set(c, "key", "only"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "only");
    assert_null(ddbpipe_conf_get(c, "sort_key"));
    assert_int_equal(set(c, "key", "a,b,c"), DDBPIPE_ERR_CONFIG);
    assert_err("at most 2");
    assert_int_equal(set(c, "columns", "id  BIGINT,name VARCHAR , amount DECIMAL(10, 2)"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "columns"), "id BIGINT, name VARCHAR, amount DECIMAL(10, 2)");
    assert_int_equal(set(c, "columns", "id BIGINT, name"), DDBPIPE_ERR_CONFIG);
    assert_err("'name' has no type");
    assert_int_equal(set(c, "credentials_provider", "ENV_VAR"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "credentials_provider"), "environment");
    assert_int_equal(set(c, "Batch-Size", "7"), DDBPIPE_OK); /* case and -/_ insensitive */
    assert_int_equal(dp_conf_int(c, "batch_size", 0), 7);
    assert_int_equal(set(c, "region", "eu-west-1"), DDBPIPE_OK);
    assert_int_equal(set(c, "region", NULL), DDBPIPE_OK); /* null unsets */
    assert_false(ddbpipe_conf_is_set(c, "region"));
    assert_int_equal(set(c, "expression_attribute_names", "{\"#s\": \"status\"}"), DDBPIPE_OK);
    assert_int_equal(set(c, "expression_attribute_names", "[1]"), DDBPIPE_ERR_CONFIG);
    assert_err("expression_attribute_names", "JSON object");
    assert_int_equal(set(c, "endpoint_url", "localhost:8000"), DDBPIPE_ERR_CONFIG);
    assert_err("'localhost:8000'", "http://");
    /* dup copies values and notices */
    assert_int_equal(set(c, "sink.http-client.max-concurrency", "100"), DDBPIPE_OK);
    ddbpipe_conf_t *d = ddbpipe_conf_dup(c);
    assert_string_equal(ddbpipe_conf_get(d, "partition_key"), "only");
    assert_int_equal(dp_conf_notice_count(d), dp_conf_notice_count(c));
    ddbpipe_conf_destroy(d);
    ddbpipe_conf_destroy(c);
}

static void test_unknown_key_suggestion(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(set(c, "batchsize", "10"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "unknown configuration key 'batchsize' (did you mean 'batch_size'?)");
    assert_int_equal(set(c, "aws.regoin", "x"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "unknown configuration key 'aws.regoin' (did you mean 'aws.region'?)");
    assert_int_equal(set(c, "completely_unrelated_thing", "x"), DDBPIPE_ERR_CONFIG);
    assert_err("unknown configuration key 'completely_unrelated_thing'", "config --list");
    assert_null(strstr(err, "did you mean"));
    /* in a file: location first */
    assert_int_equal(load_str(c, "table: items\nmax_retires: 3\n"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err,
                        "test.yaml:2: unknown configuration key 'max_retires' (did you mean 'max_retries'?)");
    ddbpipe_conf_destroy(c);
}

/* A Kafka Connect / Flink Kafka user's names get a pointer to ddbpipe's, not
 * the closest name by edit distance; kafka.topic is refused at load, not at
 * consumer start. */
static void test_kafka_connect_flink_names(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(set(c, "topics", "orders"), DDBPIPE_ERR_CONFIG);
    assert_err("unknown configuration key 'topics'", "kafka_topics here");
    assert_int_equal(set(c, "topic", "orders"), DDBPIPE_ERR_CONFIG);
    assert_err("kafka_topics for ddbpipe sink --kafka", "kafka_topic for ddbpipe source --kafka");
    assert_int_equal(set(c, "kafka.topic", "orders"), DDBPIPE_ERR_CONFIG);
    assert_err("'kafka.topic' is not a librdkafka property", "kafka_topics");
    assert_int_equal(ddbpipe_conf_kafka_count(c), 0);
    assert_int_equal(set(c, "topics.regex", "^db\\..*"), DDBPIPE_ERR_CONFIG);
    assert_err("kafka_topics entry starting with '^'");
    assert_int_equal(set(c, "properties.bootstrap.servers", "b:9092"), DDBPIPE_ERR_CONFIG);
    assert_err("kafka.bootstrap.servers");
    assert_int_equal(set(c, "consumer.override.session.timeout.ms", "6000"), DDBPIPE_ERR_CONFIG);
    assert_err("kafka.session.timeout.ms");
    assert_int_equal(set(c, "bootstrap.servers", "b:9092"), DDBPIPE_ERR_CONFIG);
    assert_err("Kafka client properties go under kafka.: kafka.bootstrap.servers");
    assert_int_equal(set(c, "sasl.password", "never-in-errors"), DDBPIPE_ERR_CONFIG);
    assert_err("kafka.sasl.password");
    assert_null(strstr(err, "never-in-errors"));
    assert_int_equal(set(c, "errors.deadletterqueue.topic.name", "dlq"), DDBPIPE_ERR_CONFIG);
    assert_err("dead_letter_topic");
    assert_int_equal(set(c, "errors.tolerance", "all"), DDBPIPE_ERR_CONFIG);
    assert_err("fail_on_error");
    assert_int_equal(set(c, "scan.startup.mode", "earliest-offset"), DDBPIPE_ERR_CONFIG);
    assert_err("kafka.auto.offset.reset");
    /* the properties themselves are unchanged */
    assert_int_equal(set(c, "kafka.bootstrap.servers", "b:9092"), DDBPIPE_OK);
    assert_int_equal(set(c, "kafka_topics", "orders"), DDBPIPE_OK);
    assert_int_equal(set(c, "dead_letter_topic", "dlq"), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);
}

static void test_range_type_enum(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(set(c, "threads", "65"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "value '65' for 'threads' is out of range: allowed 1..64");
    assert_int_equal(set(c, "max_concurrent_requests", "0"), DDBPIPE_ERR_CONFIG);
    assert_err("'0'", "'max_concurrent_requests'", "1..1024");
    assert_int_equal(set(c, "batch_size", "abc"), DDBPIPE_ERR_CONFIG);
    assert_err("invalid value 'abc' for 'batch_size'", "integer");
    assert_int_equal(set(c, "sink.batch.max-size", "101"), DDBPIPE_ERR_CONFIG);
    assert_err("'101'", "'sink.batch.max-size' (batch_size)", "out of range");
    assert_int_equal(set(c, "fail_on_error", "maybe"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "invalid value 'maybe' for 'fail_on_error': expected true or false");
    assert_int_equal(set(c, "flush_interval_ms", "5 fortnights"), DDBPIPE_ERR_CONFIG);
    assert_err("'5 fortnights'", "flush_interval_ms", "duration");
    assert_int_equal(set(c, "write_mode", "bulk"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "invalid value 'bulk' for 'write_mode': expected one of batch|transactional");
    assert_int_equal(set(c, "partition_key_type", "X"), DDBPIPE_ERR_CONFIG);
    assert_err("S|N|B");
    assert_int_equal(set(c, "price_per_million_wcu", "-1"), DDBPIPE_ERR_CONFIG);
    assert_err("invalid value '-1' for 'price_per_million_wcu'", "number >= 0");
    assert_int_equal(set(c, "price_per_million_wcu", "1.25$"), DDBPIPE_ERR_CONFIG);
    assert_int_equal(set(c, "price_per_million_wcu", "nan"), DDBPIPE_ERR_CONFIG);
    assert_int_equal(set(c, "price_per_million_wcu", "0.625"), DDBPIPE_OK);
    /* in a file, a mapping where a value belongs */
    assert_int_equal(load_str(c, "region:\n  a: b\n"), DDBPIPE_ERR_CONFIG);
    assert_err("test.yaml:2:", "'region'", "expected a single value");
    assert_int_equal(load_str(c, "threads: 100\n"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err, "test.yaml:1: value '100' for 'threads' is out of range: allowed 1..64");
    ddbpipe_conf_destroy(c);
}

static void test_validate(void **state) {
    (void)state;
    clear_env();
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("'table' is required");
    assert_int_equal(ddbpipe_conf_validate(c, "config", err, sizeof err), DDBPIPE_OK);
    /* table names */
    set(c, "table", "ab");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("invalid table name 'ab'", "3 to 255");
    set(c, "table", "bad name!");
    assert_int_equal(ddbpipe_conf_validate(c, "check", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("'bad name!'");
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    set(c, "table", longname);
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    longname[255] = 0;
    set(c, "table", longname);
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    set(c, "table", "My_Table-1.v2");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    /* both keys or neither */
    set(c, "aws_access_key_id", "AKIAEXAMPLE");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("aws_access_key_id is set but aws_secret_access_key is not", "both");
    set(c, "aws_secret_access_key", "TopSecretValue42");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    set(c, "aws_access_key_id", NULL);
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("aws_secret_access_key is set but aws_access_key_id is not");
    assert_null(strstr(err, "TopSecretValue42"));
    set(c, "aws_secret_access_key", NULL);
    /* batch size per mode */
    set(c, "batch_size", "50");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err,
                        "batch_size 50 is out of range for write_mode batch: allowed 1..25 (the DynamoDB "
                        "BatchWriteItem limit)");
    set(c, "write_mode", "transactional");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    set(c, "batch_size", "100");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    /* conditions need transactional mode */
    set(c, "condition_expression", "attribute_not_exists(id)");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    set(c, "write_mode", "batch");
    set(c, "batch_size", NULL);
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("transactional");
    set(c, "condition_expression", NULL);
    /* keys */
    set(c, "sort_key", "ts");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("sort_key 'ts' is set without partition_key");
    set(c, "partition_key", "id");
    assert_int_equal(ddbpipe_conf_validate(c, "create-table", err, sizeof err), DDBPIPE_OK);
    set(c, "billing_mode", "PROVISIONED");
    assert_int_equal(ddbpipe_conf_validate(c, "create-table", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("read_capacity and write_capacity");
    set(c, "read_capacity", "5");
    set(c, "write_capacity", "5");
    assert_int_equal(ddbpipe_conf_validate(c, "create-table", err, sizeof err), DDBPIPE_OK);
    set(c, "credentials_provider", "static");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("static");
    ddbpipe_conf_destroy(c);
}

static void test_env_fallbacks(void **state) {
    (void)state;
    clear_env();
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
    assert_string_equal(ddbpipe_conf_get(c, "region"), "eu-central-1");
    setenv("AWS_REGION", "ap-south-1", 1);
    assert_string_equal(ddbpipe_conf_get(c, "region"), "ap-south-1");
    set(c, "region", "us-west-2");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-west-2"); /* explicit wins */
    setenv("AWS_ENDPOINT_URL", "http://generic:1", 1);
    assert_string_equal(dp_conf_str(c, "endpoint_url"), "http://generic:1");
    setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://ddb:2", 1);
    assert_string_equal(dp_conf_str(c, "endpoint_url"), "http://ddb:2");
    set(c, "endpoint_url", "http://explicit:3");
    assert_string_equal(dp_conf_str(c, "endpoint_url"), "http://explicit:3");
    setenv("AWS_PROFILE", "dev", 1);
    assert_string_equal(ddbpipe_conf_get(c, "profile"), "dev");
    set(c, "profile", "prod");
    assert_string_equal(ddbpipe_conf_get(c, "profile"), "prod");
    assert_false(ddbpipe_conf_is_set(c, "streams_endpoint_url"));
    clear_env();
    ddbpipe_conf_destroy(c);
}

static void test_set_overrides_file(void **state) {
    (void)state;
    ddbpipe_conf_t *c = load_data("feldera_config.json", DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-east-1");
    assert_int_equal(set(c, "region", "eu-west-1"), DDBPIPE_OK);
    assert_int_equal(set(c, "endpoint_url", "http://127.0.0.1:8000"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "region"), "eu-west-1");
    assert_string_equal(ddbpipe_conf_get(c, "table"), "feldera_out");
    ddbpipe_conf_destroy(c);
}

static void test_secret_never_in_errors(void **state) {
    (void)state;
    const char *secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET";
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    char text[512];
    /* typo in the key name holding the secret */
    snprintf(text, sizeof text, "table: items\naws_secret_acess_key: %s\n", secret);
    assert_int_equal(load_str(c, text), DDBPIPE_ERR_CONFIG);
    assert_err("did you mean 'aws_secret_access_key'");
    assert_null(strstr(err, secret));
    /* wrong shape */
    snprintf(text, sizeof text, "aws_secret_access_key:\n  - %s\n", secret);
    assert_int_equal(load_str(c, text), DDBPIPE_ERR_CONFIG);
    assert_null(strstr(err, secret));
    /* Estuary alias, missing partner key */
    snprintf(text, sizeof text,
             "{\"awsSecretAccessKey\": \"%s\", \"region\": \"us-east-1\", \"bindings\": "
             "[{\"resource\": {\"table\": \"items\"}}]}",
             secret);
    assert_int_equal(load_str(c, text), DDBPIPE_OK);
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_null(strstr(err, secret));
    /* unknown key given the secret as value via --set */
    assert_int_equal(set(c, "aws_secret", secret), DDBPIPE_ERR_CONFIG);
    assert_null(strstr(err, secret));
    /* Flink SQL with the secret and a bad option */
    snprintf(text, sizeof text,
             "CREATE TABLE t (a INT) WITH ('connector'='dynamodb','table-name'='items',"
             "'aws.credentials.basic.secretkey'='%s','sink.batch.max-size'='x');",
             secret);
    assert_int_equal(load_str(c, text), DDBPIPE_ERR_CONFIG);
    assert_err("sink.batch.max-size");
    assert_null(strstr(err, secret));
    for (size_t i = 0; i < dp_conf_notice_count(c); i++)
        assert_null(strstr(dp_conf_notice_at(c, i), secret));
    ddbpipe_conf_destroy(c);
}

static void test_yaml_shapes(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(load_str(c,
                              "# canonical, nested\n"
                              "table: items\n"
                              "aws:\n  region: eu-west-1\n  endpoint: http://localhost:8000\n"
                              "key: [id, ts]\n"
                              "columns:\n  id: BIGINT\n  ts: TIMESTAMP(3)\n  tags: ARRAY<STRING>\n"
                              "dedup_keys:\n  - id\n  - ts\n"
                              "max_retries: null\n"
                              "fail_on_error: yes\n"
                              "write_mode: transactional\n"
                              "condition_expression: attribute_not_exists(id)\n"
                              "expression_attribute_values:\n  \":v\": {N: \"5\"}\n  \":b\": {BOOL: true}\n"),
                     DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "region"), "eu-west-1");
    assert_string_equal(ddbpipe_conf_get(c, "endpoint_url"), "http://localhost:8000");
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "id");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key"), "ts");
    assert_string_equal(ddbpipe_conf_get(c, "columns"), "id BIGINT, ts TIMESTAMP(3), tags ARRAY<STRING>");
    assert_string_equal(ddbpipe_conf_get(c, "dedup_keys"), "id,ts");
    assert_int_equal(dp_conf_int(c, "max_retries", 0), -1);
    assert_true(dp_conf_bool(c, "fail_on_error", 0));
    assert_string_equal(ddbpipe_conf_get(c, "expression_attribute_values"),
                        "{\":v\":{\"N\":\"5\"},\":b\":{\"BOOL\":true}}");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    /* columns as a list of one-key mappings */
    assert_int_equal(load_str(c, "columns:\n  - id: INT\n  - name: VARCHAR\n"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "columns"), "id INT, name VARCHAR");
    /* JSON with typed values */
    assert_int_equal(load_str(c, "{\"table\": \"t_json\", \"batch_size\": 20, \"ignore_nulls\": true, "
                                 "\"max_retries\": null, \"sink\": {\"batch\": {\"max-size\": 10}}}"),
                     DDBPIPE_OK);
    assert_int_equal(dp_conf_int(c, "batch_size", 0), 10);
    assert_true(dp_conf_bool(c, "ignore_nulls", 0));
    /* parse errors name the place */
    assert_int_equal(load_str(c, "table: [unclosed\n"), DDBPIPE_ERR_PARSE);
    assert_err("test.yaml:", "YAML");
    assert_int_equal(load_str(c, "{\"table\": }"), DDBPIPE_ERR_PARSE);
    assert_err("test.yaml:1: JSON");
    assert_int_equal(load_str(c, "- just\n- a list\n"), DDBPIPE_ERR_CONFIG);
    assert_int_equal(load_str(c, "plain scalar"), DDBPIPE_ERR_CONFIG);
    assert_err("mapping");
    /* ${VAR} expansion */
    setenv("DDBPIPE_TEST_TABLE", "expanded_tbl", 1);
    assert_int_equal(load_str(c, "table: ${DDBPIPE_TEST_TABLE}\n"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "expanded_tbl");
    unsetenv("DDBPIPE_TEST_TABLE");
    assert_int_equal(load_str(c, "table: ${DDBPIPE_TEST_TABLE}\n"), DDBPIPE_ERR_CONFIG);
    assert_string_equal(err,
                        "test.yaml:1: value of 'table' refers to environment variable DDBPIPE_TEST_TABLE, "
                        "which is not set (set it, or give a default: ${DDBPIPE_TEST_TABLE:-value})");
    /* ${VAR:-default}: the default when unset or empty, the value otherwise; in JSON too */
    assert_int_equal(
        load_str(
            c, "table: ${DDBPIPE_TEST_TABLE:-dflt_tbl}\nregion: ${DDBPIPE_TEST_R:-x}-${DDBPIPE_TEST_R:-y}\n"),
        DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "dflt_tbl");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "x-y");
    setenv("DDBPIPE_TEST_TABLE", "", 1);
    assert_int_equal(load_str(c, "{\"table\": \"${DDBPIPE_TEST_TABLE:-empty_gets_default}\"}"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "empty_gets_default");
    setenv("DDBPIPE_TEST_TABLE", "from_env_tbl", 1);
    assert_int_equal(load_str(c, "{\"table\": \"${DDBPIPE_TEST_TABLE:-unused}\"}"), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "from_env_tbl");
    unsetenv("DDBPIPE_TEST_TABLE");
    assert_int_equal(load_str(c, "{\"region\": \"us-${DDBPIPE_TEST_MISSING}-1\"}"), DDBPIPE_ERR_CONFIG);
    assert_err("test.yaml:", "DDBPIPE_TEST_MISSING", "'region'");
    /* ignored option: accepted with a notice */
    assert_int_equal(load_str(c, "sink.http-client.max-concurrency: 10000\n"), DDBPIPE_OK);
    assert_true(has_notice(c, "sink.http-client.max-concurrency"));
    /* missing file */
    assert_int_equal(ddbpipe_conf_load_file(c, "/nonexistent/ddbpipe.yaml", err, sizeof err), DDBPIPE_ERR_IO);
    assert_err("/nonexistent/ddbpipe.yaml");
    ddbpipe_conf_destroy(c);
}

static void test_feldera_seed_config(void **state) {
    (void)state;
    ddbpipe_conf_t *c = load_data("feldera_config.json", DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "feldera_out");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-east-1");
    assert_string_equal(ddbpipe_conf_get(c, "write_mode"), "batch");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    c = load_data("feldera_connectors.json", DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "feldera_out");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-east-1");
    assert_true(has_notice(c, "v1_idx"));
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    c = load_data("feldera_program.sql", DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "feldera_out");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-east-1");
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "id");
    assert_string_equal(ddbpipe_conf_get(c, "partition_key_type"), "N");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key"), "sort");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key_type"), "S");
    assert_string_equal(ddbpipe_conf_get(c, "columns"), "id INT, sort VARCHAR, s VARCHAR");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);
}

static void test_feldera_all_options(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(
        load_str(c, "{\"transport\": {\"name\": \"dynamodb_output\", \"config\": {"
                    "\"table\": \"feldera_out\", \"region\": \"us-east-1\", "
                    "\"endpoint_url\": \"http://127.0.0.1:8000\", \"aws_access_key_id\": \"AKIDEXAMPLE\", "
                    "\"aws_secret_access_key\": \"s3cr3t\", \"write_mode\": \"transactional\", "
                    "\"batch_size\": 100, \"max_buffer_size_bytes\": 2097152, "
                    "\"max_concurrent_requests\": 128, \"threads\": 4, \"max_retries\": null}}, "
                    "\"index\": \"v1_idx\", \"max_queued_records\": 1000000}"),
        DDBPIPE_OK);
    assert_int_equal(dp_conf_int(c, "batch_size", 0), 100);
    assert_int_equal(dp_conf_int(c, "max_buffer_size_bytes", 0), 2097152);
    assert_int_equal(dp_conf_int(c, "max_concurrent_requests", 0), 128);
    assert_int_equal(dp_conf_int(c, "threads", 0), 4);
    assert_int_equal(dp_conf_int(c, "max_retries", 0), -1);
    assert_true(has_notice(c, "max_queued_records"));
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    /* Feldera's own checks */
    c = ddbpipe_conf_new();
    assert_int_equal(
        load_str(c, "{\"table\": \"feldera_out\", \"write_mode\": \"batch\", \"batch_size\": 100}"),
        DDBPIPE_OK);
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_ERR_CONFIG);
    assert_err("batch_size 100", "1..25");
    ddbpipe_conf_destroy(c);
    c = ddbpipe_conf_new();
    assert_int_equal(load_str(c, "[{\"transport\": {\"name\": \"datagen\"}}]"), DDBPIPE_ERR_CONFIG);
    assert_err("no dynamodb_output connector", "datagen");
    ddbpipe_conf_destroy(c);
}

static void test_estuary_seed(void **state) {
    (void)state;
    setenv("TABLE_NAME", "flow_items", 1);
    ddbpipe_conf_t *c = load_data("estuary_catalog.yaml", DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "flow_items");
    assert_string_equal(ddbpipe_conf_get(c, "aws_access_key_id"), "example-aws-access-key-id");
    assert_string_equal(ddbpipe_conf_get(c, "aws_secret_access_key"), "example-aws-secret-access-key");
    assert_string_equal(ddbpipe_conf_get(c, "region"), "us-east-1");
    assert_string_equal(ddbpipe_conf_get(c, "update_mode"), "merge");
    assert_string_equal(ddbpipe_conf_get(c, "document_attribute"), "flow_document");
    assert_true(dp_conf_bool(c, "create_table_if_missing", 0));
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    c = load_data("estuary_endpoint.yaml", DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "flow_items");
    assert_string_equal(ddbpipe_conf_get(c, "update_mode"), "merge");
    assert_int_equal(ddbpipe_conf_validate(c, "sink", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_destroy(c);

    unsetenv("TABLE_NAME");
    c = load_data("estuary_endpoint.yaml", DDBPIPE_ERR_CONFIG);
    assert_err("TABLE_NAME", "not set");
    ddbpipe_conf_destroy(c);
}

static void test_estuary_rules(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    assert_int_equal(load_str(c,
                              "awsAccessKeyId: AKID\nawsSecretAccessKey: shh\nregion: us-east-1\n"
                              "advanced:\n  endpoint: http://localhost:8000\n"
                              "bindings:\n  - resource:\n      table: events\n      delta_updates: true\n"),
                     DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "endpoint_url"), "http://localhost:8000");
    assert_string_equal(ddbpipe_conf_get(c, "update_mode"), "put");
    assert_string_equal(ddbpipe_conf_get(c, "table"), "events");
    ddbpipe_conf_destroy(c);

#define CATALOG(extra)                                                                                       \
    "collections:\n  acme/orders:\n    key: [/customer, /order_id" extra "]\n"                               \
    "materializations:\n  acme/to-ddb:\n    endpoint:\n      connector:\n"                                   \
    "        image: ghcr.io/estuary/materialize-dynamodb:dev\n"                                              \
    "        config: {awsAccessKeyId: a, awsSecretAccessKey: b, region: us-east-1}\n"                        \
    "    bindings:\n      - resource: {table: orders}\n        source: acme/orders\n"                        \
    "        fields: {recommended: true}\n"
    const char *text = CATALOG("");
    c = ddbpipe_conf_new();
    assert_int_equal(load_str(c, text), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "partition_key"), "customer");
    assert_string_equal(ddbpipe_conf_get(c, "sort_key"), "order_id");
    assert_true(has_notice(c, "'fields'"));
    ddbpipe_conf_destroy(c);

    text = CATALOG(", /line");
    c = ddbpipe_conf_new();
    assert_int_equal(load_str(c, text), DDBPIPE_ERR_CONFIG);
    assert_err("test.yaml:3:", "'acme/orders' has 3 keys", "at most 2");
    ddbpipe_conf_destroy(c);

    /* several bindings: choose with table */
    static const char *multi = "awsAccessKeyId: a\nawsSecretAccessKey: b\nregion: us-east-1\n"
                               "bindings:\n  - resource: {table: one}\n  - resource: {table: two}\n";
    c = ddbpipe_conf_new();
    assert_int_equal(load_str(c, multi), DDBPIPE_ERR_CONFIG);
    assert_err("2 bindings", "one, two", "--set table=");
    set(c, "table", "two");
    assert_int_equal(load_str(c, multi), DDBPIPE_OK);
    assert_string_equal(ddbpipe_conf_get(c, "table"), "two");
    assert_int_equal(load_str(c, "bindings:\n  - resource: {table: x1, tabel: y}\n"), DDBPIPE_ERR_CONFIG);
    assert_err("'tabel'");
    ddbpipe_conf_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sane),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_normalizes),
        cmocka_unit_test(test_unknown_key_suggestion),
        cmocka_unit_test(test_kafka_connect_flink_names),
        cmocka_unit_test(test_range_type_enum),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_env_fallbacks),
        cmocka_unit_test(test_set_overrides_file),
        cmocka_unit_test(test_secret_never_in_errors),
        cmocka_unit_test(test_yaml_shapes),
        cmocka_unit_test(test_feldera_seed_config),
        cmocka_unit_test(test_feldera_all_options),
        cmocka_unit_test(test_estuary_seed),
        cmocka_unit_test(test_estuary_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
