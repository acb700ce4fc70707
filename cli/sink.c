/* ddbpipe sink: JSON lines in (file or stdin) or Kafka, DynamoDB writes out.
 *
 * The library's transports read the input and own its positions (the file
 * transport: ddbpipe_file_sink_*, with the checkpoint and the dead-letter
 * file; Kafka: ddbpipe_kafka_sink_*); this file parses options, handles
 * signals, and shows progress and the summary. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
    OPT_FORMAT = CLI_OPT_FIRST_LOCAL,
    OPT_DEAD_LETTER,
    OPT_CHECKPOINT,
    OPT_STATS_FILE,
    OPT_SQL,
    OPT_KAFKA,
    OPT_CKPT_RESET,
    OPT_DRY_RUN,
    OPT_DRY_RUN_MAX_KEYS
};

static volatile sig_atomic_t g_signals;
static volatile sig_atomic_t g_reopen; /* SIGHUP: reopen the dead-letter file (logrotate) */

static void on_hup(int sig) {
    (void)sig;
    g_reopen = 1;
}

/* Called from the loops, not the handler: fopen is not async-signal-safe. */
static void reopen_if_asked(ddbpipe_sink_t *sink, int quiet) {
    char e[512] = "";
    if (!g_reopen)
        return;
    g_reopen = 0;
    if (ddbpipe_sink_reopen_dead_letter(sink, e, sizeof e) != DDBPIPE_OK)
        fprintf(stderr, "ddbpipe sink: SIGHUP: %s\n", e);
    else if (!quiet)
        fprintf(stderr, "ddbpipe sink: SIGHUP: reopened dead-letter file\n");
}

static void on_signal(int sig) {
    (void)sig;
    if (++g_signals >= 2) {
        static const char msg[] = "\nddbpipe sink: second signal, aborting without flushing\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(DDBPIPE_EXIT_INTERRUPTED);
    }
}

static void help(void) {
    printf(
        "Usage: ddbpipe sink -c FILE [-i INPUT|-] [--format FORMAT] [--dead-letter FILE]\n"
        "                    [--checkpoint FILE [--checkpoint-reset]] [--stats-file FILE]\n"
        "                    [--set KEY=VALUE ...]\n"
        "       ddbpipe sink -c FILE --dry-run [-i INPUT|-] [--format FORMAT] [--dead-letter FILE]\n"
        "       ddbpipe sink -c FILE --kafka [--format FORMAT] [--dead-letter FILE] [--stats-file FILE]\n\n"
        "Write a change stream into a DynamoDB table. Input is JSON lines (a file or stdin):\n"
        "a plain object upserts that row; Feldera {\"insert\":..}/{\"delete\":..}, Debezium\n"
        "envelopes and DynamoDB Streams records (as written by 'ddbpipe source --format\n"
        "dynamodb') are recognised per line; Debezium tombstones (null) are skipped and\n"
        "counted. A UTF-8 BOM and CRLF line ends are accepted. Per-key order holds at any\n"
        "concurrency, batches\n"
        "never hold a key twice, and bad records go to the dead-letter file with their line\n"
        "number and reason instead of stopping the stream.\n\n"
        "SIGINT/SIGTERM stop reading, flush what is buffered and in flight, and exit 0; a\n"
        "second signal aborts at once (exit 130). SIGHUP reopens the dead-letter file (for\n"
        "logrotate). With metrics_address set, /healthz and /readyz answer there from before\n"
        "the first AWS call and before the input is opened. A progress line is shown on\n"
        "stderr when it is a terminal, and a summary at the end (unless --quiet).\n\n"
        "Options:\n"
        "  -i, --input FILE      read from FILE ('-' or absent: stdin)\n"
        "      --format FORMAT   auto (default), json, feldera, debezium, dynamodb-stream\n"
        "      --dead-letter FILE  append rejected records (line, reason) to FILE\n"
        "      --checkpoint FILE record the input offset up to which everything is written\n"
        "                        (file input); a restarted run resumes after it\n"
        "      --checkpoint-reset  start over: remove the --checkpoint file and read from byte 0\n"
        "                        (a checkpoint records the input it was taken from: device,\n"
        "                        inode, size, digest; one taken from another file, or from\n"
        "                        this one before it was rewritten, is refused with exit 2)\n"
        "      --stats-file FILE write statistics as JSON at exit\n"
        "      --dry-run         read and validate the whole input and write nothing (only\n"
        "                        DescribeTable is called); print on stdout the records, the items\n"
        "                        left after folding the input to the last change per key, their\n"
        "                        bytes and the estimated write capacity units (ceil(item size /\n"
        "                        1 KB) per put, 1 per delete, x2 transactional), and the cost with\n"
        "                        price_per_million_wcu. The per-key set holds a 16-byte digest per\n"
        "                        distinct key: 32-64 bytes a key (10 million keys: <= 640 MB)\n"
        "      --dry-run-max-keys N  stop the dry run (exit 3) past N distinct keys (default\n"
        "                        100000000, about 3-6 GB)\n"
        "      --kafka           read from Kafka instead (or kafka_enabled: true): a consumer group\n"
        "                        member on kafka_topics; kafka.<property> keys go to librdkafka\n"
        "                        (kafka.bootstrap.servers, kafka.group.id, kafka.security.protocol,\n"
        "                        kafka.sasl.*, kafka.ssl.*). Offsets are committed only below\n"
        "                        messages that are written or dead-lettered (every\n"
        "                        kafka_commit_interval_ms, on rebalance, at exit); a null value\n"
        "                        with a key deletes that key (kafka_tombstones); dead letters go\n"
        "                        to dead_letter_topic or --dead-letter FILE with partition/offset\n"
        "      --sql FILE        take the configuration from the CREATE TABLE ... WITH\n"
        "                        ('connector' = 'dynamodb', ...) in FILE (Flink or Feldera SQL;\n"
        "                        instead of -c)\n\n");
    cli_print_common_options(stdout);
    printf("\nExit codes: 0 all written, 1 finished but records were dead-lettered, 2 usage or\n"
           "configuration error, 3 fatal (auth, missing table, fail_on_error, unreachable),\n"
           "130 aborted by a second signal.\n");
    cli_print_config_props(stdout, "sink");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct progress {
    int enabled;
    double start, last_print, last_rate_t;
    uint64_t last_rate_written;
    double rate;
} progress;

static void progress_show(progress *p, const ddbpipe_sink_t *sink, int force) {
    if (!p->enabled)
        return;
    double t = now_s();
    if (!force && t - p->last_print < 0.5)
        return;
    ddbpipe_sink_stats_t st;
    ddbpipe_sink_stats(sink, &st);
    uint64_t done = st.records_written + st.records_deleted;
    if (t - p->last_rate_t >= 1.0 || p->last_rate_t == 0) {
        if (p->last_rate_t > 0)
            p->rate = (double)(done - p->last_rate_written) / (t - p->last_rate_t);
        p->last_rate_t = t;
        p->last_rate_written = done;
    }
    p->last_print = t;
    fprintf(stderr,
            "\r\033[Kin %llu | written %llu | %.0f/s | in flight %llu | retries %llu | dead-lettered %llu",
            (unsigned long long)st.records_in, (unsigned long long)done, p->rate,
            (unsigned long long)st.in_flight_requests, (unsigned long long)st.retries,
            (unsigned long long)st.dead_lettered);
}

static void progress_end(progress *p) {
    if (p->enabled)
        fputs("\r\033[K", stderr);
}

/* The dry run's totals on stdout (a report, not a log: also with --quiet). */
static void dry_run_report(const ddbpipe_sink_t *sink, const ddbpipe_sink_stats_t *st) {
    ddbpipe_sink_dry_run_t d;
    if (ddbpipe_sink_dry_run_result(sink, &d) != DDBPIPE_OK)
        return;
    printf("dry run: nothing was written\n");
    printf("records          %llu read, %llu changes (%llu bytes)\n", (unsigned long long)st->records_in,
           (unsigned long long)d.records, (unsigned long long)d.input_bytes);
    printf("bad records      %llu%s\n", (unsigned long long)st->dead_lettered,
           st->dead_lettered ? " (dead-lettered; see the dead-letter file or the warnings)" : "");
    printf("tombstones       %llu (skipped)\n", (unsigned long long)st->tombstones);
    printf("items            %llu after folding to the last change per key (%llu puts, %llu deletes)\n",
           (unsigned long long)d.items, (unsigned long long)d.puts, (unsigned long long)d.deletes);
    printf("item bytes       %llu\n", (unsigned long long)d.item_bytes);
    printf("write units      %.0f WCU (estimated: ceil(item size / 1 KB) per put, 1 per delete)\n", d.wcu);
    if (d.cost >= 0)
        printf("cost             %.6f (wcu / 1e6 * price_per_million_wcu)\n", d.cost);
    printf("key set memory   %llu bytes\n", (unsigned long long)d.keyset_bytes);
    fflush(stdout);
}

/* ------------------------------------------------------------ file input */

typedef struct file_tick_ctx {
    progress *pg;
    int quiet;
    int noted; /* the interrupt note was shown */
} file_tick_ctx;

static int file_tick(ddbpipe_file_sink_t *f, void *opaque) {
    file_tick_ctx *t = opaque;
    reopen_if_asked(ddbpipe_file_sink_sink(f), t->quiet);
    progress_show(t->pg, ddbpipe_file_sink_sink(f), 0);
    if (g_signals && !t->noted) {
        t->noted = 1;
        if (!t->quiet) {
            progress_end(t->pg);
            fprintf(stderr, "ddbpipe sink: interrupted: flushing (a second signal aborts)\n");
        }
    }
    return g_signals != 0;
}

static void file_note(ddbpipe_file_sink_t *f, int warning, const char *msg, void *opaque) {
    const file_tick_ctx *t = opaque;
    (void)f;
    if (warning || !t->quiet)
        fprintf(stderr, "ddbpipe sink: %s\n", msg);
}

/* ------------------------------------------------------------ --kafka */

typedef struct kafka_tick_ctx {
    progress *pg;
} kafka_tick_ctx;

static int kafka_tick(ddbpipe_kafka_sink_t *k, void *opaque) {
    kafka_tick_ctx *t = opaque;
    progress *p = t->pg;
    if (p->enabled) {
        double now = now_s();
        if (now - p->last_print >= 0.5) {
            ddbpipe_sink_stats_t st;
            ddbpipe_kafka_stats_t ks;
            ddbpipe_sink_stats(ddbpipe_kafka_sink_sink(k), &st);
            ddbpipe_kafka_sink_stats(k, &ks);
            p->last_print = now;
            fprintf(stderr,
                    "\r\033[Kkafka in %llu | lag %lld | written %llu | in flight %llu | dead-lettered %llu | "
                    "partitions %llu | commits %llu | rebalances %llu | tombstones ignored %llu",
                    (unsigned long long)ks.messages_in, (long long)ks.lag,
                    (unsigned long long)st.records_written + st.records_deleted,
                    (unsigned long long)st.in_flight_requests, (unsigned long long)st.dead_lettered,
                    (unsigned long long)ks.partitions_assigned, (unsigned long long)ks.commits,
                    (unsigned long long)ks.rebalances, (unsigned long long)ks.tombstones_ignored);
        }
    }
    return g_signals != 0;
}

static int sink_kafka(cli_common *c, const ddbpipe_sink_options_t *so, const char *stats_file) {
    struct sigaction sa, old_int, old_term;
    ddbpipe_kafka_sink_t *k = NULL;
    char err[1024] = "";
    int rc = DDBPIPE_EXIT_OK;
    progress pg = {0};
    kafka_tick_ctx tc = {&pg};
    ddbpipe_kafka_sink_options_t ko = {
        .format = so->format, .dead_letter_path = so->dead_letter_path, .tick = kafka_tick, .opaque = &tc};
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    ddbpipe_result_t r = ddbpipe_kafka_sink_new(c->conf, &ko, &k, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe sink: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
        goto out;
    }
    pg.enabled = !c->quiet && isatty(2);
    pg.start = now_s();
    r = ddbpipe_kafka_sink_run(k, err, sizeof err);
    progress_end(&pg);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe sink: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
    }
    {
        ddbpipe_sink_stats_t st;
        ddbpipe_kafka_stats_t ks;
        ddbpipe_sink_stats(ddbpipe_kafka_sink_sink(k), &st);
        ddbpipe_kafka_sink_stats(k, &ks);
        if (rc == DDBPIPE_EXIT_OK && st.dead_lettered > 0)
            rc = DDBPIPE_EXIT_DEAD_LETTERED;
        if (!c->quiet) {
            double el = now_s() - pg.start;
            uint64_t done = st.records_written + st.records_deleted;
            fprintf(stderr,
                    "ddbpipe sink: kafka: %llu messages in, %llu written (%llu puts, %llu deletes), %llu "
                    "dead-lettered, %llu tombstones ignored, %llu commits, %llu rebalances, %.1f s, %.0f "
                    "records/s%s\n",
                    (unsigned long long)ks.messages_in, (unsigned long long)done,
                    (unsigned long long)st.records_written, (unsigned long long)st.records_deleted,
                    (unsigned long long)st.dead_lettered, (unsigned long long)ks.tombstones_ignored,
                    (unsigned long long)ks.commits, (unsigned long long)ks.rebalances, el,
                    el > 0 ? (double)done / el : 0.0, g_signals ? " (stopped by signal)" : "");
        }
        if (stats_file && cli_write_stats_file(stats_file, ddbpipe_kafka_sink_stats_json(k)) != 0) {
            fprintf(stderr, "ddbpipe sink: cannot write --stats-file %s: %s\n", stats_file, strerror(errno));
            if (rc == DDBPIPE_EXIT_OK)
                rc = DDBPIPE_EXIT_FATAL;
        }
    }
out:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    ddbpipe_kafka_sink_destroy(k);
    return rc;
}

int cli_cmd_sink(int argc, char **argv) {
    static const struct option longopts[] = {
        CLI_COMMON_LONG,
        {"input", required_argument, NULL, 'i'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"dead-letter", required_argument, NULL, OPT_DEAD_LETTER},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"stats-file", required_argument, NULL, OPT_STATS_FILE},
        {"sql", required_argument, NULL, OPT_SQL},
        {"kafka", no_argument, NULL, OPT_KAFKA},
        {"checkpoint-reset", no_argument, NULL, OPT_CKPT_RESET},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"dry-run-max-keys", required_argument, NULL, OPT_DRY_RUN_MAX_KEYS},
        {NULL, 0, NULL, 0}};
    cli_common c;
    ddbpipe_sink_options_t so = {.format = "auto"};
    ddbpipe_file_sink_t *fs = NULL;
    ddbpipe_sink_t *sink = NULL;
    const char *input = NULL, *stats_file = NULL, *sql_path = NULL;
    char err[1024] = "";
    int rc = DDBPIPE_EXIT_OK, opt, interrupted = 0, kafka = 0, ckpt_reset = 0;
    ddbpipe_result_t r = DDBPIPE_OK;
    progress pg = {0};
    file_tick_ctx tc = {.pg = &pg};
    struct sigaction sa, old_int, old_term, old_hup;
    int handlers = 0;

    cli_common_init(&c, "sink");
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "i:", longopts, NULL)) != -1) {
        int h = cli_common_opt(&c, opt, optarg);
        if (h < 0) {
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        if (h)
            continue;
        switch (opt) {
        case 'i':
            input = optarg;
            break;
        case OPT_FORMAT:
            so.format = optarg;
            break;
        case OPT_DEAD_LETTER:
            so.dead_letter_path = optarg;
            break;
        case OPT_CHECKPOINT:
            so.checkpoint_path = optarg;
            break;
        case OPT_STATS_FILE:
            stats_file = optarg;
            break;
        case OPT_SQL: /* the DDL is a config file: the loader recognises SQL */
            sql_path = optarg;
            break;
        case OPT_KAFKA:
            kafka = 1;
            break;
        case OPT_CKPT_RESET:
            ckpt_reset = 1;
            break;
        case OPT_DRY_RUN:
            so.dry_run = 1;
            break;
        case OPT_DRY_RUN_MAX_KEYS: {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || !*optarg || *end || v == 0 || optarg[0] == '-') {
                rc = cli_usage_error(c.cmd, "--dry-run-max-keys %s: expected a positive integer", optarg);
                goto out;
            }
            so.dry_run_max_keys = (uint64_t)v;
            break;
        }
        default:
            rc = cli_try_help(c.cmd);
            goto out;
        }
    }
    if (c.help) {
        help();
        goto out;
    }
    if (sql_path && c.config_path) {
        rc = cli_usage_error(c.cmd, "--sql FILE and -c FILE both give the configuration: use one");
        goto out;
    }
    if (sql_path)
        c.config_path = sql_path;
    if (optind < argc) {
        rc = cli_usage_error(c.cmd, "unexpected argument '%s' (input goes with -i FILE)", argv[optind]);
        goto out;
    }
    static const char *formats[] = {"auto", "json", "feldera", "debezium", "dynamodb-stream", "dynamodb"};
    int known = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): getopt sets optarg
        known |= strcmp(so.format, formats[i]) == 0;
    if (!known) {
        rc = cli_usage_error(c.cmd, "--format %s: expected auto, json, feldera, debezium or dynamodb-stream",
                             so.format);
        goto out;
    }
    if (so.dry_run && so.checkpoint_path) {
        rc = cli_usage_error(c.cmd, "--dry-run writes nothing: --checkpoint does not apply");
        goto out;
    }
    if (so.dry_run_max_keys && !so.dry_run) {
        rc = cli_usage_error(c.cmd, "--dry-run-max-keys needs --dry-run");
        goto out;
    }
    if (ckpt_reset && !so.checkpoint_path) {
        rc = cli_usage_error(c.cmd, "--checkpoint-reset needs --checkpoint FILE");
        goto out;
    }
    if (so.checkpoint_path && (!input || strcmp(input, "-") == 0)) {
        rc = cli_usage_error(c.cmd, "--checkpoint needs file input (-i FILE): stdin cannot be resumed");
        goto out;
    }
    if ((rc = cli_common_load(&c, "sink")) != 0)
        goto out;
    if (ddbpipe_conf_kafka_enabled(c.conf))
        kafka = 1;
    if (kafka && so.dry_run) {
        rc = cli_usage_error(c.cmd, "--dry-run reads a file or stdin, not Kafka (it would move no offsets)");
        goto out;
    }
    if (kafka) {
        if (input || so.checkpoint_path) {
            rc = cli_usage_error(c.cmd,
                                 "--kafka reads from Kafka: -i and --checkpoint do not apply (Kafka keeps "
                                 "the group's offsets)");
            goto out;
        }
        rc = sink_kafka(&c, &so, stats_file);
        goto out;
    }

    tc.quiet = c.quiet;
    /* Handlers first: the sink's creation may block on DescribeTable. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, &old_hup);
    handlers = 1;

    ddbpipe_file_sink_options_t fo = {.input = input,
                                      .sink_options = &so,
                                      .sink_options_size = sizeof so,
                                      .checkpoint_reset = ckpt_reset,
                                      .tick = file_tick,
                                      .note = file_note,
                                      .opaque = &tc};
    r = ddbpipe_file_sink_new(c.conf, &fo, &fs, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe sink: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
        goto out;
    }
    sink = ddbpipe_file_sink_sink(fs);
    pg.enabled = !c.quiet && isatty(2);
    pg.start = now_s();
    r = ddbpipe_file_sink_run(fs, err, sizeof err);
    if (r == DDBPIPE_ERR_INTERRUPTED) {
        /* still waiting for a writer: nothing was read, nothing is lost */
        if (!c.quiet)
            fprintf(stderr, "ddbpipe sink: stopped by signal while waiting to open %s; nothing read\n",
                    input);
        rc = DDBPIPE_EXIT_OK;
        goto out;
    }
    interrupted = g_signals > 0;
    if (r != DDBPIPE_OK) {
        progress_end(&pg);
        fprintf(stderr, "ddbpipe sink: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
    }
    progress_end(&pg);
    {
        ddbpipe_sink_stats_t st;
        ddbpipe_sink_stats(sink, &st);
        if (rc == DDBPIPE_EXIT_OK && st.dead_lettered > 0)
            rc = DDBPIPE_EXIT_DEAD_LETTERED;
        if (so.dry_run)
            dry_run_report(sink, &st);
        else if (!c.quiet) {
            double el = now_s() - pg.start;
            uint64_t done = st.records_written + st.records_deleted;
            fprintf(stderr,
                    "ddbpipe sink: %llu records in, %llu written (%llu puts, %llu deletes), %llu "
                    "dead-lettered%s%s, %llu condition_failed (skipped), %llu tombstones skipped, "
                    "%llu duplicates folded, %llu retries, %llu throttled, %.1f s, %.0f records/s%s\n",
                    (unsigned long long)st.records_in, (unsigned long long)done,
                    (unsigned long long)st.records_written, (unsigned long long)st.records_deleted,
                    (unsigned long long)st.dead_lettered,
                    st.dead_lettered && so.dead_letter_path ? " -> " : "",
                    st.dead_lettered && so.dead_letter_path ? so.dead_letter_path : "",
                    (unsigned long long)st.condition_check_failures, (unsigned long long)st.tombstones,
                    (unsigned long long)st.duplicates_folded, (unsigned long long)st.retries,
                    (unsigned long long)st.throttled_items, el, el > 0 ? (double)done / el : 0.0,
                    interrupted ? " (interrupted)" : "");
        }
        if (stats_file && cli_write_stats_file(stats_file, ddbpipe_sink_stats_json(sink)) != 0) {
            fprintf(stderr, "ddbpipe sink: cannot write --stats-file %s: %s\n", stats_file, strerror(errno));
            if (rc == DDBPIPE_EXIT_OK)
                rc = DDBPIPE_EXIT_FATAL;
        }
    }
out:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
    }
    ddbpipe_file_sink_destroy(fs);
    cli_common_free(&c);
    return rc;
}
