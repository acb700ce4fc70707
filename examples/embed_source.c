/*
 * embed_source: print a DynamoDB table's rows as JSON lines (a snapshot)
 * with the ddbpipe library. Uses only the installed header; build it with
 *
 *   cc -o embed_source embed_source.c $(pkg-config --cflags --libs ddbpipe)
 *
 * Usage: embed_source NAME=VALUE... > rows.jsonl
 *   Every argument is a ddbpipe property (see `ddbpipe config --list`), e.g.
 *   embed_source table=events endpoint_url=http://127.0.0.1:8000 region=us-east-1
 *   Credentials come from the default chain (AWS_ACCESS_KEY_ID, profile, ...).
 *
 * Exit: 0 done, 2 usage or configuration error, 3 any other error.
 */
#include <ddbpipe/ddbpipe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int emit_line(const char *line, size_t len, void *opaque) {
    unsigned long *count = opaque;
    (*count)++;
    /* Non-zero stops the source (stdout closed, disk full). */
    return fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF;
}

static int flush_output(void *opaque) {
    (void)opaque;
    return fflush(stdout) != 0;
}

int main(int argc, char **argv) {
    char err[1024] = "";
    ddbpipe_conf_t *conf = ddbpipe_conf_new();
    ddbpipe_source_t *src = NULL;
    ddbpipe_source_options_t opts = {0}; /* zero fields are defaults */
    unsigned long count = 0;
    int rc = DDBPIPE_EXIT_OK;
    ddbpipe_result_t r;

    if (!conf) {
        rc = DDBPIPE_EXIT_FATAL;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "embed_source: argument '%s' is not NAME=VALUE\n", argv[i]);
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        *eq = '\0';
        if (ddbpipe_conf_set(conf, argv[i], eq + 1, err, sizeof err) != DDBPIPE_OK) {
            fprintf(stderr, "embed_source: %s\n", err);
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
    }
    opts.mode = "snapshot";
    opts.format = "json";
    opts.emit = emit_line;
    opts.flush = flush_output;
    opts.opaque = &count;
    r = ddbpipe_source_new(conf, &opts, &src, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "embed_source: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = DDBPIPE_EXIT_USAGE;
        goto out;
    }
    r = ddbpipe_source_run(src, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "embed_source: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = DDBPIPE_EXIT_FATAL;
        goto out;
    }
    fprintf(stderr, "embed_source: %lu rows (libddbpipe %s)\n", count, ddbpipe_version());
out:
    ddbpipe_source_destroy(src);
    ddbpipe_conf_destroy(conf);
    return rc;
}
