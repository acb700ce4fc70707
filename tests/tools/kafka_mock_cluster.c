/* A Kafka cluster for tests: librdkafka's mock cluster (rdkafka_mock.h),
 * N brokers on loopback.
 *
 *   kafka_mock_cluster [--brokers N] [--topic NAME:PARTITIONS ...]
 *
 * Creates the topics, prints the bootstrap servers on one line of stdout,
 * then serves until stdin reaches EOF or SIGTERM/SIGINT arrives (so a test
 * that dies takes the cluster with it when it held the pipe). Exit 0. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv) {
    int brokers = 1;
    char err[512];
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
    if (brokers < 1 || brokers > 16) {
        fprintf(stderr, "kafka_mock_cluster: --brokers 1..16\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_mock_cluster: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock_cluster: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") != 0 || i + 1 >= argc)
            continue;
        char name[256];
        const char *spec = argv[++i], *colon = strrchr(spec, ':');
        int parts = colon ? atoi(colon + 1) : 1;
        size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
        if (nl == 0 || nl >= sizeof name || parts < 1) {
            fprintf(stderr, "kafka_mock_cluster: --topic NAME:PARTITIONS, got '%s'\n", spec);
            return 2;
        }
        memcpy(name, spec, nl);
        name[nl] = '\0';
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, name, parts, brokers < 3 ? brokers : 3);
        if (e) {
            fprintf(stderr, "kafka_mock_cluster: topic %s: %s\n", name, rd_kafka_err2str(e));
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!g_stop) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n > 0) {
            char buf[256];
            if (read(0, buf, sizeof buf) <= 0)
                break;
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
