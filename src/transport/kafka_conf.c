/* librdkafka configuration from ddbpipe's: defaults a user expects, then
 * every kafka.<property> as given. Shared by the Kafka input and output. */
#include "transport/kafka_conf.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "config/conf.h"
#include "config/settings.h"

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

/* The configuration with the user's property number `skip` left out
 * (SIZE_MAX: none), so a refusal at client creation can be traced to the
 * properties involved. */
static ddbpipe_result_t conf_build(const ddbpipe_conf_t *conf, int producer, size_t skip, void *opaque,
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
        if (i == skip || (producer && consumer_only(name)))
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

ddbpipe_result_t dp_kafka_conf_build(const ddbpipe_conf_t *conf, int producer, void *opaque,
                                     rd_kafka_conf_t **out, char *errstr, size_t n) {
    return conf_build(conf, producer, SIZE_MAX, opaque, out, errstr, n);
}

/* ------------------------------------------------------------ check */

static void log_nothing(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* Does librdkafka make a client of this configuration? A client with no
 * brokers opens no socket; it runs the checks librdkafka keeps for client
 * creation (conflicting properties, SASL mechanism, SSL keys and
 * certificates). 1: yes; 0: no, reason in e; -1: the configuration itself
 * was refused (errstr set). */
static int client_ok(const ddbpipe_conf_t *conf, int producer, size_t skip, char *e, size_t en, char *errstr,
                     size_t n) {
    rd_kafka_conf_t *rc = NULL;
    char ignored[256];
    if (conf_build(conf, producer, skip, NULL, &rc, errstr, n) != DDBPIPE_OK)
        return -1;
    rd_kafka_conf_set_log_cb(rc, log_nothing); /* the real client logs its warnings */
    if (rd_kafka_conf_set(rc, "bootstrap.servers", "", ignored, sizeof ignored) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(rc);
        dp_errf(errstr, n, "kafka: cannot check the configuration: %s", ignored);
        return -1;
    }
    /* no kinit run at creation (a build without Kerberos refuses the property: no kinit either) */
    (void)rd_kafka_conf_set(rc, "sasl.kerberos.min.time.before.relogin", "0", ignored, sizeof ignored);
    rd_kafka_t *rk = rd_kafka_new(producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, rc, e, en);
    if (!rk) {
        rd_kafka_conf_destroy(rc);
        return 0;
    }
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return 1;
}

/* Is any secret kafka.<property> set? */
static int any_secret_set(const ddbpipe_conf_t *conf) {
    for (size_t i = 0; i < ddbpipe_conf_kafka_count(conf); i++) {
        const char *v = ddbpipe_conf_kafka_value(conf, i);
        if (ddbpipe_conf_kafka_is_secret(ddbpipe_conf_kafka_name(conf, i)) && v && *v)
            return 1;
    }
    return 0;
}

/* Replace every secret kafka.<property> value found in msg with ****. */
static void redact_secrets(const ddbpipe_conf_t *conf, char *msg) {
    for (size_t i = 0; i < ddbpipe_conf_kafka_count(conf); i++) {
        const char *v = ddbpipe_conf_kafka_value(conf, i);
        if (!ddbpipe_conf_kafka_is_secret(ddbpipe_conf_kafka_name(conf, i)) || !v || !*v)
            continue;
        size_t vl = strlen(v);
        for (char *at = strstr(msg, v); at; at = strstr(at, v)) {
            if (vl >= 4) { /* shrinks: always fits */
                memset(at, '*', 4);
                memmove(at + 4, at + vl, strlen(at + vl) + 1);
                at += 4;
            } else { /* a value shorter than the mark: blank it out */
                memset(at, '*', vl);
                at += vl;
            }
        }
    }
}

/* Does librdkafka's reason name the property (as a whole word)? */
static int mentions(const char *reason, const char *name) {
    size_t nl = strlen(name);
    for (const char *at = strstr(reason, name); at; at = strstr(at + 1, name)) {
        char before = at > reason ? at[-1] : ' ', after = at[nl];
        if (!isalnum((unsigned char)before) && before != '.' && before != '_' &&
            !isalnum((unsigned char)after) && after != '.' && after != '_')
            return 1;
    }
    return 0;
}

/* librdkafka's checks of one client (consumer or producer): every property
 * set, then a client made and destroyed. A refusal at creation names the
 * user's properties its reason names ("`acks` must be set to `all` when
 * ..."), else those without which the client is made (one more client
 * each: SSL contexts are slow to make). */
static ddbpipe_result_t check_client(const ddbpipe_conf_t *conf, int producer, const char *what, char *errstr,
                                     size_t n) {
    char reason[512] = "", other[512];
    int ok = client_ok(conf, producer, SIZE_MAX, reason, sizeof reason, errstr, n);
    if (ok == 1)
        return DDBPIPE_OK;
    if (ok < 0)
        return DDBPIPE_ERR_CONFIG;
    if (strlen(reason) + 1 >= sizeof reason && any_secret_set(conf)) /* a cut value would escape redaction */
        snprintf(reason, sizeof reason, "(reason withheld: too long to check for secret values)");
    redact_secrets(conf, reason);
    dp_buf names;
    dp_buf_init(&names, 0);
    for (size_t i = 0; i < ddbpipe_conf_kafka_count(conf); i++) {
        const char *name = ddbpipe_conf_kafka_name(conf, i);
        if (!(producer && consumer_only(name)) && mentions(reason, name))
            dp_buf_printf(&names, "%skafka.%s", names.len ? ", " : "", name);
    }
    int named = names.len > 0;
    for (size_t i = 0; !named && i < ddbpipe_conf_kafka_count(conf); i++) {
        const char *name = ddbpipe_conf_kafka_name(conf, i);
        char ignored[8];
        if (strcmp(name, "bootstrap.servers") == 0 || (producer && consumer_only(name)))
            continue;
        if (client_ok(conf, producer, i, other, sizeof other, ignored, sizeof ignored) == 1)
            dp_buf_printf(&names, "%skafka.%s", names.len ? ", " : "", name);
    }
    if (names.len)
        dp_errf(errstr, n, "%s: librdkafka refused the %s configuration: %s", names.data, what, reason);
    else
        dp_errf(errstr, n, "kafka: librdkafka refused the %s configuration: %s", what, reason);
    dp_buf_free(&names);
    return DDBPIPE_ERR_CONFIG;
}

ddbpipe_result_t ddbpipe_kafka_conf_check(const ddbpipe_conf_t *conf, const char *command, char *errstr,
                                          size_t errstr_size) {
    dp_settings set;
    if (!conf || !command)
        return DDBPIPE_ERR_INVALID_ARG;
    dp_conf_settings(conf, &set);
    if (strcmp(command, "sink") == 0) {
        if (!set.kafka_topics || !*set.kafka_topics) {
            dp_errf(errstr, errstr_size, "kafka: %s is required (a list of topics; ^regex for a pattern)",
                    dp_settings_name(&set, &set.kafka_topics));
            return DDBPIPE_ERR_CONFIG;
        }
        if (!dp_kafka_user_set(conf, "bootstrap.servers") || !dp_kafka_user_set(conf, "group.id")) {
            dp_errf(errstr, errstr_size, "kafka: kafka.bootstrap.servers and kafka.group.id are required");
            return DDBPIPE_ERR_CONFIG;
        }
        const char *ac = dp_kafka_user_value(conf, "enable.auto.commit");
        if (ac && strcmp(ac, "false") != 0) {
            dp_errf(
                errstr, errstr_size,
                "kafka.enable.auto.commit must be false: ddbpipe commits an offset only once its messages "
                "are written");
            return DDBPIPE_ERR_CONFIG;
        }
        ddbpipe_result_t r = check_client(conf, 0, "consumer", errstr, errstr_size);
        if (r == DDBPIPE_OK && set.dead_letter_topic && *set.dead_letter_topic)
            r = check_client(conf, 1, "dead-letter producer", errstr, errstr_size);
        return r;
    }
    if (strcmp(command, "source") == 0) {
        if (!set.kafka_topic || !*set.kafka_topic) {
            dp_errf(errstr, errstr_size, "kafka: %s is required", dp_settings_name(&set, &set.kafka_topic));
            return DDBPIPE_ERR_CONFIG;
        }
        if (!dp_kafka_user_set(conf, "bootstrap.servers")) {
            dp_errf(errstr, errstr_size, "kafka: kafka.bootstrap.servers is required");
            return DDBPIPE_ERR_CONFIG;
        }
        return check_client(conf, 1, "producer", errstr, errstr_size);
    }
    dp_errf(errstr, errstr_size, "kafka: no Kafka client for command '%s' (sink or source)", command);
    return DDBPIPE_ERR_INVALID_ARG;
}
