/*
 * embed_sink: write JSON lines from stdin into a DynamoDB table with the
 * ddbpipe library. Uses only the installed header; build it with
 *
 *   cc -o embed_sink embed_sink.c $(pkg-config --cflags --libs ddbpipe)
 *
 * Usage: embed_sink NAME=VALUE... [< changes.jsonl]
 *   Every argument is a ddbpipe property (see `ddbpipe config --list`), e.g.
 *   embed_sink table=events endpoint_url=http://127.0.0.1:8000 region=us-east-1 \
 *       partition_key=id create_table_if_missing=true < rows.jsonl
 *   Credentials come from the default chain (AWS_ACCESS_KEY_ID, profile, ...).
 *
 * Exit: 0 all written, 1 some records dead-lettered (reasons on stderr),
 * 2 usage or configuration error, 3 fatal (auth, missing table, unreachable).
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <ddbpipe/ddbpipe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int configure(ddbpipe_conf_t *conf, int argc, char **argv) {
    char err[512];
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "embed_sink: argument '%s' is not NAME=VALUE\n", argv[i]);
            return -1;
        }
        *eq = '\0';
        if (ddbpipe_conf_set(conf, argv[i], eq + 1, err, sizeof err) != DDBPIPE_OK) {
            fprintf(stderr, "embed_sink: %s\n", err);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    char err[1024] = "";
    ddbpipe_conf_t *conf = ddbpipe_conf_new();
    ddbpipe_sink_t *sink = NULL;
    ddbpipe_sink_stats_t st;
    /* Options structs are zero-initialised: a zero field is its default. */
    ddbpipe_sink_options_t opts = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t line_no = 0, offset = 0;
    int rc = DDBPIPE_EXIT_OK;
    ddbpipe_result_t r;

    if (!conf || configure(conf, argc, argv) != 0) {
        rc = DDBPIPE_EXIT_USAGE;
        goto out;
    }
    opts.format = "auto";
    opts.no_metrics_server = 1;
    r = ddbpipe_sink_new(conf, &opts, &sink, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "embed_sink: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc =
            r == DDBPIPE_ERR_CONFIG || r == DDBPIPE_ERR_INVALID_ARG ? DDBPIPE_EXIT_USAGE : DDBPIPE_EXIT_FATAL;
        goto out;
    }
    while ((n = getline(&line, &cap, stdin)) > 0) {
        offset += (uint64_t)n;
        line_no++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        /* Backpressure: when the buffers are full, drive I/O and offer the
         * same line again. */
        while ((r = ddbpipe_sink_produce(sink, line, len, line_no, offset)) == DDBPIPE_ERR_QUEUE_FULL)
            ddbpipe_sink_poll(sink, 100);
        if (r != DDBPIPE_OK)
            break; /* the sink stopped: the fatal error is reported below */
    }
    r = ddbpipe_sink_flush(sink, -1);
    if (ddbpipe_sink_fatal_error(sink, err, sizeof err) != DDBPIPE_OK || r != DDBPIPE_OK) {
        fprintf(stderr, "embed_sink: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = DDBPIPE_EXIT_FATAL;
    }
    ddbpipe_sink_stats(sink, &st);
    printf("embed_sink: %llu records in, %llu written, %llu deleted, %llu dead-lettered (libddbpipe %s)\n",
           (unsigned long long)st.records_in, (unsigned long long)st.records_written,
           (unsigned long long)st.records_deleted, (unsigned long long)st.dead_lettered, ddbpipe_version());
    if (rc == DDBPIPE_EXIT_OK && st.dead_lettered > 0)
        rc = DDBPIPE_EXIT_DEAD_LETTERED;
out:
    free(line);
    ddbpipe_sink_destroy(sink);
    ddbpipe_conf_destroy(conf);
    return rc;
}
