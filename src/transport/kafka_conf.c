/* librdkafka configuration from ddbpipe's: defaults a user expects, then
 * every kafka.<property> as given. Shared by the Kafka input and output. */
#include "transport/kafka_conf.h"

#include <string.h>

#include "common/log.h"
#include "common/util.h"

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    ddbpipe_log_level_t l = level <= 3   ? DDBPIPE_LOG_ERROR
                            : level == 4 ? DDBPIPE_LOG_WARN
                            : level <= 6 ? DDBPIPE_LOG_INFO
                                         : DDBPIPE_LOG_DEBUG;
    dp_log(l, "librdkafka %s: %s", fac, buf);
}

/* ------------------------------------------------------------ setup */

/* Properties a producer does not take (copied from the consumer's set). */
static int consumer_only(const char *name) {
    static const char *const names[] = {"group.id",
                                        "group.instance.id",
                                        "auto.offset.reset",
                                        "enable.auto.commit",
                                        "enable.auto.offset.store",
                                        "auto.commit.interval.ms",
                                        "partition.assignment.strategy",
                                        "session.timeout.ms",
                                        "heartbeat.interval.ms",
                                        "max.poll.interval.ms",
                                        "fetch.min.bytes",
                                        "fetch.max.bytes",
                                        "fetch.wait.max.ms",
                                        "max.partition.fetch.bytes",
                                        "fetch.message.max.bytes",
                                        "queued.min.messages",
                                        "queued.max.messages.kbytes",
                                        "isolation.level",
                                        "enable.partition.eof",
                                        "check.crcs",
                                        "group.protocol.type",
                                        "coordinator.query.interval.ms"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static ddbpipe_result_t conf_set(rd_kafka_conf_t *rc, const char *name, const char *value, char *errstr,
                                 size_t n) {
    char e[512];
    if (rd_kafka_conf_set(rc, name, value, e, sizeof e) == RD_KAFKA_CONF_OK)
        return DDBPIPE_OK;
    if (ddbpipe_conf_kafka_is_secret(name)) {
        /* librdkafka's reason ("not supported in this build: ...") helps; a
         * reason that quotes the value does not get printed. */
        if (value && *value && strstr(e, value))
            dp_errf(errstr, n, "kafka.%s: librdkafka refused the value (not shown: secret)", name);
        else
            dp_errf(errstr, n, "kafka.%s: librdkafka refused it (value not shown: secret): %s", name, e);
    } else
        dp_errf(errstr, n, "kafka.%s: %s", name, e);
    return DDBPIPE_ERR_CONFIG;
}

int dp_kafka_user_set(const ddbpipe_conf_t *conf, const char *name) {
    for (size_t i = 0; i < ddbpipe_conf_kafka_count(conf); i++)
        if (strcmp(ddbpipe_conf_kafka_name(conf, i), name) == 0)
            return 1;
    return 0;
}

const char *dp_kafka_user_value(const ddbpipe_conf_t *conf, const char *name) {
    for (size_t i = 0; i < ddbpipe_conf_kafka_count(conf); i++)
        if (strcmp(ddbpipe_conf_kafka_name(conf, i), name) == 0)
            return ddbpipe_conf_kafka_value(conf, i);
    return NULL;
}

ddbpipe_result_t dp_kafka_conf_build(const ddbpipe_conf_t *conf, int producer, void *opaque,
                                     rd_kafka_conf_t **out, char *errstr, size_t n) {
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    ddbpipe_result_t r = DDBPIPE_OK;
    rd_kafka_conf_set_log_cb(rc, on_log);
    if (!producer) {
        if (!dp_kafka_user_set(conf, "enable.auto.commit"))
            r = conf_set(rc, "enable.auto.commit", "false", errstr, n);
        if (!r && !dp_kafka_user_set(conf, "auto.offset.reset"))
            r = conf_set(rc, "auto.offset.reset", "earliest", errstr, n);
        if (!r)
            r = conf_set(rc, "enable.auto.offset.store", "false", errstr, n);
    } else if (!dp_kafka_user_set(conf, "enable.idempotence")) {
        r = conf_set(rc, "enable.idempotence", "true", errstr, n);
    }
    for (size_t i = 0; !r && i < ddbpipe_conf_kafka_count(conf); i++) {
        const char *name = ddbpipe_conf_kafka_name(conf, i);
        if (producer && consumer_only(name))
            continue;
        r = conf_set(rc, name, ddbpipe_conf_kafka_value(conf, i), errstr, n);
    }
    if (r) {
        rd_kafka_conf_destroy(rc);
        return r;
    }
    rd_kafka_conf_set_opaque(rc, opaque);
    *out = rc;
    return DDBPIPE_OK;
}
