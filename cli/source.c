/* ddbpipe source: a table's snapshot and/or change stream out as JSON
 * lines. The engine (ddbpipe_source_*) does the reading; this file owns the
 * output file, signals and the summary. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum {
    OPT_MODE = CLI_OPT_FIRST_LOCAL,
    OPT_FROM,
    OPT_CHECKPOINT,
    OPT_FORMAT,
    OPT_SEGMENTS,
    OPT_UNTIL,
    OPT_STATS,
    OPT_KAFKA,
    OPT_FOLLOW_NEW,
    OPT_CKPT_RESET
};

static volatile sig_atomic_t g_signals;
static ddbpipe_source_t *volatile g_source;

static void on_signal(int sig) {
    (void)sig;
    if (++g_signals >= 2) {
        static const char msg[] = "\nddbpipe source: second signal, aborting\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(DDBPIPE_EXIT_INTERRUPTED);
    }
    if (g_source)
        ddbpipe_source_stop(g_source);
}

static void help(void) {
    printf("Usage: ddbpipe source -c FILE [-o OUTPUT|-] [--mode snapshot|stream|snapshot+stream]\n"
           "                      [--from trim_horizon|latest] [--format json|dynamodb|debezium]\n"
           "                      [--checkpoint FILE] [--segments N] [--until-caught-up]\n"
           "                      [--stats-file FILE] [--kafka] [--follow-new-stream] [--checkpoint-reset]\n"
           "                      [--set KEY=VALUE ...]\n\n"
           "Read a DynamoDB table out as JSON lines, one event a line (op, table, keys, new,\n"
           "old, sequence, shard, approximate time): a parallel Scan (snapshot), the table's\n"
           "DynamoDB Streams change feed (stream), or both without a gap (snapshot+stream:\n"
           "the stream position is taken before the scan; duplicates are possible). Shards are\n"
           "read parent before child so per-key order holds. Without --until-caught-up a stream\n"
           "is followed until SIGINT/SIGTERM, then output and checkpoint are flushed (exit 0).\n"
           "Scale-out (any mode): with lease_table and application_name set, every worker\n"
           "runs the same command and reads the shards and Scan segments it leases\n"
           "(docs/semantics.md); -o is then appended to, as with --checkpoint.\n\n"
           "Options:\n"
           "  -o, --output FILE     write to FILE ('-' or absent: stdout)\n"
           "      --mode MODE       snapshot, stream or snapshot+stream (default snapshot)\n"
           "      --from POS        stream start on a fresh start: trim_horizon or latest\n"
           "                        (default: the stream_start_position property, trim_horizon)\n"
           "      --format FORMAT   json (plain JSON, exact numbers; default), dynamodb (typed\n"
           "                        AttributeValues, lossless, feeds 'ddbpipe sink'), debezium\n"
           "      --checkpoint FILE per-shard position, written after output is flushed; a\n"
           "                        restart resumes after it (at-least-once)\n"
           "      --segments N      parallel Scan segments (default: the `segments` property, 4)\n"
           "      --until-caught-up exit 0 once every open shard is read to its tip (with\n"
           "                        lease_table: every shard of the application, by any worker)\n"
           "      --stats-file FILE write statistics as JSON at exit\n"
           "      --kafka           write to Kafka instead (or kafka_enabled: true): topic kafka_topic,\n"
           "                        message key = the item key as JSON, value = the event; an\n"
           "                        idempotent producer; kafka.<property> keys go to librdkafka.\n"
           "                        The checkpoint advances only past acknowledged events; with\n"
           "                        --format debezium a delete is followed by a tombstone\n"
           "      --follow-new-stream  when the stream goes away (disabled and re-enabled, table\n"
           "                        re-created), follow the table's new stream from its trim\n"
           "                        horizon (with a warning: changes made while no stream was\n"
           "                        enabled are in no stream) instead of stopping with exit 3\n"
           "      --checkpoint-reset   start over: remove the --checkpoint file (and rewrite -o FILE)\n"
           "                        instead of resuming from it\n\n");
    cli_print_common_options(stdout);
    printf("\nExit codes: 0 done or stopped by a signal, 2 usage or configuration error,\n"
           "3 fatal (auth, missing table or stream, output error or output closed by its reader,\n"
           "trimmed data lost),\n"
           "130 aborted by a second signal.\n");
    cli_print_config_props(stdout, "source");
}

/* Output goes out in whole lines only: lines are gathered here and written
 * with write(2) at line boundaries, so a process killed mid-run never leaves
 * half a line behind (stdio would flush whenever its buffer fills). */
#define OUT_BUF_FLUSH_BYTES ((size_t)256 * 1024)

typedef struct out_ctx {
    FILE *f;
    int fd;
    char *buf;
    size_t len, cap;
    int failed;
    int err;
    unsigned long long lines;
} out_ctx;

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_out(void *opaque) {
    out_ctx *o = opaque;
    if (o->failed)
        return 1;
    if (o->len > 0 && write_all(o->fd, o->buf, o->len) != 0) {
        o->failed = 1;
        o->err = errno;
        return 1;
    }
    o->len = 0;
    return 0;
}

static int emit_line(const char *line, size_t len, void *opaque) {
    out_ctx *o = opaque;
    if (o->failed)
        return 1;
    if (o->cap - o->len < len + 1) {
        size_t ncap = o->cap ? o->cap : OUT_BUF_FLUSH_BYTES * 2;
        while (ncap - o->len < len + 1)
            ncap *= 2;
        char *nb = realloc(o->buf, ncap);
        if (!nb) {
            o->failed = 1;
            o->err = ENOMEM;
            return 1;
        }
        o->buf = nb;
        o->cap = ncap;
    }
    memcpy(o->buf + o->len, line, len);
    o->buf[o->len + len] = '\n';
    o->len += len + 1;
    o->lines++;
    return o->len >= OUT_BUF_FLUSH_BYTES ? flush_out(o) : 0;
}

/* A closed output is noticed while idle too: `ddbpipe source --mode stream |
 * head -1` on a quiet table would otherwise wait for the next change to get
 * EPIPE. A pipe's write end polls POLLERR once its reader is gone (a tty
 * POLLHUP); files never do. The watcher stops the source, which then
 * flushes and exits as on an output error. */
typedef struct out_watch {
    int fd;
    pthread_t thread;
    volatile sig_atomic_t done, closed;
} out_watch;

static void *watch_output(void *arg) {
    out_watch *w = arg;
    while (!w->done) {
        struct pollfd p = {.fd = w->fd, .events = 0};
        int n = poll(&p, 1, 200);
        if (n > 0 && (p.revents & (POLLERR | POLLHUP))) {
            w->closed = 1;
            if (g_source)
                ddbpipe_source_stop(g_source);
            break;
        }
    }
    return NULL;
}

/* A run killed while writing may have left a torn last line: cut it off
 * before appending (its event was not checkpointed, so it comes again). */
static int trim_torn_tail(int fd) {
    off_t end = lseek(fd, 0, SEEK_END);
    if (end <= 0)
        return 0;
    char tail[4096];
    off_t pos = end;
    while (pos > 0) {
        size_t n = pos > (off_t)sizeof tail ? sizeof tail : (size_t)pos;
        if (pread(fd, tail, n, pos - (off_t)n) != (ssize_t)n)
            return -1;
        for (size_t i = n; i-- > 0;) {
            if (tail[i] == '\n') {
                off_t keep = pos - (off_t)n + (off_t)i + 1;
                if (keep != end) {
                    fprintf(stderr,
                            "ddbpipe source: dropping %lld bytes of a torn last line from an earlier run\n",
                            (long long)(end - keep));
                    return ftruncate(fd, keep);
                }
                return 0;
            }
        }
        pos -= (off_t)n;
    }
    return ftruncate(fd, 0);
}

int cli_cmd_source(int argc, char **argv) {
    static const struct option longopts[] = {CLI_COMMON_LONG,
                                             {"output", required_argument, NULL, 'o'},
                                             {"mode", required_argument, NULL, OPT_MODE},
                                             {"from", required_argument, NULL, OPT_FROM},
                                             {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {"segments", required_argument, NULL, OPT_SEGMENTS},
                                             {"until-caught-up", no_argument, NULL, OPT_UNTIL},
                                             {"stats-file", required_argument, NULL, OPT_STATS},
                                             {"kafka", no_argument, NULL, OPT_KAFKA},
                                             {"follow-new-stream", no_argument, NULL, OPT_FOLLOW_NEW},
                                             {"checkpoint-reset", no_argument, NULL, OPT_CKPT_RESET},
                                             {NULL, 0, NULL, 0}};
    cli_common c;
    ddbpipe_source_options_t so = {.mode = "snapshot",
                                   .from = NULL /* the stream_start_position property */,
                                   .format = "json",
                                   .segments = 0 /* 0: the `segments` property (default 4) */};
    ddbpipe_source_t *src = NULL;
    const char *output = NULL, *stats_file = NULL;
    out_ctx oc = {0};
    char err[1024] = "";
    int rc = DDBPIPE_EXIT_OK, opt, kafka = 0;
    ddbpipe_kafka_output_t *ko = NULL;
    struct sigaction sa, old_int, old_term, old_pipe;
    int handlers = 0, watching = 0, follow_new = 0, ckpt_reset = 0;
    out_watch watch;
    memset(&watch, 0, sizeof watch);

    cli_common_init(&c, "source");
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "o:", longopts, NULL)) != -1) {
        int h = cli_common_opt(&c, opt, optarg);
        if (h < 0) {
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        if (h)
            continue;
        switch (opt) {
        case 'o':
            output = optarg;
            break;
        case OPT_MODE:
            so.mode = optarg;
            break;
        case OPT_FROM:
            so.from = optarg;
            break;
        case OPT_CHECKPOINT:
            so.checkpoint_path = optarg;
            break;
        case OPT_FORMAT:
            so.format = optarg;
            break;
        case OPT_SEGMENTS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000) {
                rc = cli_usage_error(c.cmd, "--segments %s: expected 1..1000", optarg);
                goto out;
            }
            so.segments = (int)v;
            break;
        }
        case OPT_UNTIL:
            so.until_caught_up = 1;
            break;
        case OPT_KAFKA:
            kafka = 1;
            break;
        case OPT_STATS:
            stats_file = optarg;
            break;
        case OPT_FOLLOW_NEW:
            follow_new = 1;
            break;
        case OPT_CKPT_RESET:
            ckpt_reset = 1;
            break;
        default:
            rc = cli_try_help(c.cmd);
            goto out;
        }
    }
    if (c.help) {
        help();
        goto out;
    }
    if (optind < argc) {
        rc = cli_usage_error(c.cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (strcmp(so.mode, "snapshot") != 0 && strcmp(so.mode, "stream") != 0 &&
        strcmp(so.mode, "snapshot+stream") != 0) {
        rc = cli_usage_error(c.cmd, "--mode %s: expected snapshot, stream or snapshot+stream", so.mode);
        goto out;
    }
    if (so.from && strcmp(so.from, "trim_horizon") != 0 && strcmp(so.from, "latest") != 0) {
        rc = cli_usage_error(c.cmd, "--from %s: expected trim_horizon or latest", so.from);
        goto out;
    }
    if (!so.format || (strcmp(so.format, "json") != 0 && strcmp(so.format, "dynamodb") != 0 &&
                       strcmp(so.format, "debezium") != 0)) {
        rc = cli_usage_error(c.cmd, "--format %s: expected json, dynamodb or debezium",
                             so.format ? so.format : "");
        goto out;
    }
    if (ckpt_reset && !so.checkpoint_path) {
        rc = cli_usage_error(c.cmd, "--checkpoint-reset needs --checkpoint FILE");
        goto out;
    }
    if ((rc = cli_common_load(&c, "source")) != 0)
        goto out;
    if (ddbpipe_conf_kafka_enabled(c.conf))
        kafka = 1;
    if (kafka && output) {
        rc = cli_usage_error(c.cmd, "--kafka writes to Kafka: -o does not apply");
        goto out;
    }
    so.follow_new_stream = follow_new;
    if (ckpt_reset) {
        if (unlink(so.checkpoint_path) == 0) {
            if (!c.quiet)
                fprintf(stderr, "ddbpipe source: --checkpoint-reset: removed %s; starting over\n",
                        so.checkpoint_path);
        } else if (errno != ENOENT) {
            fprintf(stderr, "ddbpipe source: --checkpoint-reset: cannot remove %s: %s\n", so.checkpoint_path,
                    strerror(errno));
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
    }

    /* Handlers before anything that can block: fopen() of a FIFO waits for
     * a reader, source_new for DescribeTable. No SA_RESTART, so a signal
     * ends the wait with EINTR. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* A closed pipe is an output error we report, not a silent death. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);
    handlers = 1;

    if (kafka) {
        ddbpipe_result_t kr = ddbpipe_kafka_output_new(c.conf, so.format, &ko, err, sizeof err);
        if (kr != DDBPIPE_OK) {
            fprintf(stderr, "ddbpipe source: %s\n", err[0] ? err : ddbpipe_strerror(kr));
            rc = cli_exit_code(kr);
            goto out;
        }
    } else if (output && strcmp(output, "-") != 0) {
        /* A checkpoint (file or lease table) says what was delivered: a
         * restart appends (a+: the torn-tail check reads). */
        int resume = (so.checkpoint_path && !ckpt_reset) || ddbpipe_conf_source_leased(c.conf);
        do
            oc.f = fopen(output, resume ? "a+" : "w");
        while (!oc.f && errno == EINTR && !g_signals);
        if (!oc.f && g_signals) {
            if (!c.quiet)
                fprintf(stderr,
                        "ddbpipe source: stopped by signal while waiting to open %s; nothing written\n",
                        output);
            rc = DDBPIPE_EXIT_OK;
            goto out;
        }
        if (!oc.f) {
            fprintf(stderr, "ddbpipe source: cannot open %s: %s\n", output, strerror(errno));
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        if (resume && trim_torn_tail(fileno(oc.f)) != 0) {
            fprintf(stderr, "ddbpipe source: cannot repair %s: %s\n", output, strerror(errno));
            rc = DDBPIPE_EXIT_FATAL;
            goto out;
        }
    } else {
        oc.f = stdout;
    }
    if (ko) {
        so.emit_keyed = ddbpipe_kafka_output_emit;
        so.flush = ddbpipe_kafka_output_flush;
        so.opaque = ko;
    } else {
        oc.fd = fileno(oc.f);
        so.emit = emit_line;
        so.flush = flush_out;
        so.opaque = &oc;
    }

    ddbpipe_result_t r = ddbpipe_source_new(c.conf, &so, &src, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe source: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
        goto out;
    }
    g_source = src;
    if (g_signals) /* a signal came while source_new blocked */
        ddbpipe_source_stop(src);
    {
        struct stat ost;
        if (!ko && fstat(oc.fd, &ost) == 0 &&
            (S_ISFIFO(ost.st_mode) || S_ISSOCK(ost.st_mode) || isatty(oc.fd))) {
            watch.fd = oc.fd;
            watching = pthread_create(&watch.thread, NULL, watch_output, &watch) == 0;
        }
    }

    err[0] = '\0';
    r = ddbpipe_source_run(src, err, sizeof err);
    if (watching) {
        watch.done = 1;
        pthread_join(watch.thread, NULL);
    }
    if (ko && ddbpipe_kafka_output_flush(ko) != 0) {
        fprintf(stderr, "ddbpipe source: some events were not acknowledged by Kafka (the checkpoint stops "
                        "before them)\n");
        rc = DDBPIPE_EXIT_FATAL;
    } else if (watch.closed && !oc.failed) {
        fprintf(stderr, "ddbpipe source: %s was closed by its reader; stopped\n", output ? output : "stdout");
        rc = DDBPIPE_EXIT_FATAL;
    } else if (!ko && (flush_out(&oc) != 0 || oc.failed)) {
        fprintf(stderr, "ddbpipe source: writing %s: %s\n", output ? output : "stdout", strerror(oc.err));
        rc = DDBPIPE_EXIT_FATAL;
    } else if (r == DDBPIPE_ERR_INTERRUPTED && g_signals) {
        rc = DDBPIPE_EXIT_OK;
    } else if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe source: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
        if (rc == DDBPIPE_EXIT_INTERRUPTED)
            rc = DDBPIPE_EXIT_FATAL;
    }
    if (!c.quiet && ko) {
        uint64_t produced = 0, delivered = 0, failed = 0;
        ddbpipe_kafka_output_counts(ko, &produced, &delivered, &failed);
        fprintf(stderr, "ddbpipe source: %llu messages produced to Kafka, %llu acknowledged, %llu failed%s\n",
                (unsigned long long)produced, (unsigned long long)delivered, (unsigned long long)failed,
                g_signals ? " (stopped by signal)" : "");
    } else if (!c.quiet) {
        fprintf(stderr, "ddbpipe source: %llu events written to %s%s\n", oc.lines, output ? output : "stdout",
                g_signals ? " (stopped by signal)" : "");
    }
    if (stats_file) {
        if (cli_write_stats_file(stats_file, ddbpipe_source_stats_json(src)) != 0) {
            fprintf(stderr, "ddbpipe source: cannot write --stats-file %s\n", stats_file);
            if (rc == DDBPIPE_EXIT_OK)
                rc = DDBPIPE_EXIT_FATAL;
        }
    }
out:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
    }
    g_source = NULL;
    ddbpipe_source_destroy(src);
    ddbpipe_kafka_output_destroy(ko);
    if (oc.f && oc.f != stdout)
        fclose(oc.f);
    free(oc.buf);
    cli_common_free(&c);
    return rc;
}
