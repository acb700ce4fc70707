/* Benchmark: what librdkafka's C consumer alone gets from a cluster — the
 * ceiling of any ddbpipe Kafka figure on the same machine. Subscribes a new
 * group to TOPIC, takes N messages with rd_kafka_consume_batch_queue (writes
 * nothing, commits nothing) and prints one JSON line: messages/s from the
 * first message, and the process CPU per message.
 *
 *   kafka_drain BOOTSTRAP TOPIC N [property=value ...]
 *
 * Properties go to librdkafka as is (e.g. fetch.wait.max.ms=10). Exit 0, or
 * 1 if N messages did not come within 120 s. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    char err[512], group[64];
    if (argc < 4) {
        fprintf(stderr, "usage: kafka_drain BOOTSTRAP TOPIC N [property=value ...]\n");
        return 2;
    }
    long long want = atoll(argv[3]);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    snprintf(group, sizeof group, "drain-c-%ld-%d", (long)time(NULL), rand());
    const char *fixed[][2] = {{"bootstrap.servers", argv[1]},
                              {"group.id", group},
                              {"enable.auto.commit", "false"},
                              {"auto.offset.reset", "earliest"},
                              {"log_level", "3"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (rd_kafka_conf_set(c, fixed[i][0], fixed[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "kafka_drain: %s\n", err);
            return 2;
        }
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "kafka_drain: property=value, got %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(c, argv[i], eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "kafka_drain: %s\n", err);
            return 2;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_drain: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *batch[1024];
    long long n = 0, bytes = 0;
    double t0 = 0, c0 = 0, give_up = now_s() + 120;
    while (n < want && now_s() < give_up) {
        ssize_t got = rd_kafka_consume_batch_queue(q, 100, batch, 1024);
        for (ssize_t i = 0; i < got; i++) {
            if (!batch[i]->err) {
                if (n++ == 0) {
                    t0 = now_s();
                    c0 = cpu_s();
                }
                bytes += (long long)batch[i]->len;
            }
            rd_kafka_message_destroy(batch[i]);
        }
    }
    double s = now_s() - t0, cpu = cpu_s() - c0;
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("{\"case\": \"drain-c\", \"items\": %lld, \"seconds\": %.3f, \"items_per_s\": %.0f, "
           "\"cpu_us_per_item\": %.2f, \"mb_per_s\": %.1f}\n",
           n, s, n > 0 ? (double)n / s : 0.0, n > 0 ? cpu * 1e6 / (double)n : 0.0, (double)bytes / s / 1e6);
    return n >= want ? 0 : 1;
}
