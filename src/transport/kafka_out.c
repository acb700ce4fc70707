/* Kafka output transport: `ddbpipe source --kafka`. Each event goes to
 * kafka_topic with the item key (canonical JSON) as message key, so every
 * change of one item lands in one partition, in order; with Debezium
 * output a delete is followed by a tombstone (kafka_delete_tombstones) so
 * compacted topics drop the key. The producer is idempotent by default.
 * flush() waits for every delivery report and fails if one failed: the
 * source writes its checkpoint only after flush succeeded, so the
 * checkpoint never passes an event the brokers did not acknowledge. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "config/conf.h"
#include "ddbpipe/ddbpipe.h"
#include "transport/kafka_conf.h"

#define FLUSH_TIMEOUT_MS 60000

struct ddbpipe_kafka_output {
    rd_kafka_t *rk;
    char *topic;
    int tombstones;
    uint64_t produced, delivered, failed;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    ddbpipe_kafka_output_t *k = opaque;
    (void)rk;
    if (m->err) {
        if (k->failed++ == 0)
            DP_LOG_ERROR("kafka: event not delivered to %s: %s", k->topic, rd_kafka_err2str(m->err));
    } else {
        k->delivered++;
    }
}

ddbpipe_result_t ddbpipe_kafka_output_new(const ddbpipe_conf_t *conf, const char *format,
                                          ddbpipe_kafka_output_t **out, char *errstr, size_t errstr_size) {
    ddbpipe_kafka_output_t *k = NULL;
    rd_kafka_conf_t *rc = NULL;
    ddbpipe_result_t r = DDBPIPE_ERR_CONFIG;
    char e[512];
    dp_settings set;
    if (!conf || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    *out = NULL;
    if ((r = ddbpipe_kafka_conf_check(conf, "source", errstr, errstr_size)) != DDBPIPE_OK)
        return r;
    dp_conf_settings(conf, &set);
    k = calloc(1, sizeof(*k));
    if (!k || !(k->topic = strdup(set.kafka_topic))) {
        r = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    k->tombstones = set.kafka_delete_tombstones && format && strcmp(format, "debezium") == 0;
    if ((r = dp_kafka_conf_build(conf, 1, k, &rc, errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    rd_kafka_conf_set_dr_msg_cb(rc, on_delivery);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, e, sizeof e);
    if (!k->rk) {
        rd_kafka_conf_destroy(rc);
        dp_errf(errstr, errstr_size, "kafka: producer: %s", e);
        r = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    DP_LOG_INFO("kafka: producing to %s%s", k->topic, k->tombstones ? " (tombstones after deletes)" : "");
    *out = k;
    return DDBPIPE_OK;
out:
    ddbpipe_kafka_output_destroy(k);
    return r;
}

void ddbpipe_kafka_output_destroy(ddbpipe_kafka_output_t *k) {
    if (!k)
        return;
    if (k->rk) {
        rd_kafka_flush(k->rk, 10000);
        rd_kafka_destroy(k->rk);
    }
    free(k->topic);
    free(k);
}

static int produce(ddbpipe_kafka_output_t *k, const char *key, size_t key_len, const char *value,
                   size_t len) {
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->rk, RD_KAFKA_V_TOPIC(k->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 600) {
            DP_LOG_ERROR("kafka: cannot produce to %s: %s", k->topic, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(k->rk, 100); /* the local queue is full: let deliveries drain it */
    }
    k->produced++;
    return 0;
}

int ddbpipe_kafka_output_emit(const char *key, size_t key_len, const char *line, size_t len, int is_remove,
                              void *opaque) {
    ddbpipe_kafka_output_t *k = opaque;
    if (!k || k->failed)
        return -1;
    if (produce(k, key, key_len, line, len) != 0)
        return -1;
    if (is_remove && k->tombstones && produce(k, key, key_len, NULL, 0) != 0)
        return -1;
    if ((k->produced & 1023) == 0)
        rd_kafka_poll(k->rk, 0);
    return 0;
}

int ddbpipe_kafka_output_flush(void *opaque) {
    ddbpipe_kafka_output_t *k = opaque;
    if (!k)
        return -1;
    rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, FLUSH_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        DP_LOG_ERROR("kafka: %d event(s) not acknowledged after %d s", rd_kafka_outq_len(k->rk),
                     FLUSH_TIMEOUT_MS / 1000);
        return -1;
    }
    return k->failed ? -1 : 0;
}

void ddbpipe_kafka_output_counts(const ddbpipe_kafka_output_t *k, uint64_t *produced, uint64_t *delivered,
                                 uint64_t *failed) {
    if (produced)
        *produced = k ? k->produced : 0;
    if (delivered)
        *delivered = k ? k->delivered : 0;
    if (failed)
        *failed = k ? k->failed : 0;
}
