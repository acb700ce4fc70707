/* Test driver for the source engine through the public API (what
 * `ddbpipe source` does, without the CLI):
 *   source_driver -c CONFIG [-o OUT] [--mode M] [--from F] [--checkpoint FILE]
 *                 [--format F] [--segments N] [--until-caught-up] [--stats FILE]
 * Exit: 0 ok, 2 usage/config, 3 fatal (data loss, auth, missing table). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddbpipe/ddbpipe.h"

static ddbpipe_source_t *g_src;

static void on_signal(int sig) {
    (void)sig;
    if (g_src)
        ddbpipe_source_stop(g_src);
}

static int emit_line(const char *line, size_t len, void *opaque) {
    FILE *f = opaque;
    if (fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF)
        return -1;
    return 0;
}

static int flush_out(void *opaque) {
    return fflush((FILE *)opaque) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *config = NULL, *out_path = "-", *stats_path = NULL;
    ddbpipe_source_options_t o;
    memset(&o, 0, sizeof o);
    o.mode = "stream";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--until-caught-up")) {
            o.until_caught_up = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "source_driver: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-c"))
            config = v;
        else if (!strcmp(a, "-o"))
            out_path = v;
        else if (!strcmp(a, "--mode"))
            o.mode = v;
        else if (!strcmp(a, "--from"))
            o.from = v;
        else if (!strcmp(a, "--checkpoint"))
            o.checkpoint_path = v;
        else if (!strcmp(a, "--format"))
            o.format = v;
        else if (!strcmp(a, "--segments"))
            o.segments = atoi(v);
        else if (!strcmp(a, "--stats"))
            stats_path = v;
        else if (!strcmp(a, "--checkpoint-interval-ms"))
            o.checkpoint_interval_ms = atoi(v);
        else {
            fprintf(stderr, "source_driver: unknown option %s\n", a);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "source_driver: -c CONFIG is required\n");
        return 2;
    }
    char err[1024] = "";
    int rc = 3;
    FILE *out = strcmp(out_path, "-") ? fopen(out_path, "a") : stdout;
    if (!out) {
        perror(out_path);
        return 2;
    }
    ddbpipe_conf_t *conf = ddbpipe_conf_new();
    if (ddbpipe_conf_load_file(conf, config, err, sizeof err) != DDBPIPE_OK) {
        fprintf(stderr, "source_driver: %s\n", err);
        rc = 2;
        goto out;
    }
    const char *lvl = ddbpipe_conf_get(conf, "log_level");
    if (lvl && !strcmp(lvl, "info"))
        ddbpipe_log_set_level(DDBPIPE_LOG_INFO);
    else if (lvl && !strcmp(lvl, "debug"))
        ddbpipe_log_set_level(DDBPIPE_LOG_DEBUG);
    o.emit = emit_line;
    o.flush = flush_out;
    o.opaque = out;
    ddbpipe_result_t r = ddbpipe_source_new(conf, &o, &g_src, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "source_driver: %s (%s)\n", err, ddbpipe_strerror(r));
        rc = r == DDBPIPE_ERR_CONFIG || r == DDBPIPE_ERR_INVALID_ARG ? 2 : 3;
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    r = ddbpipe_source_run(g_src, err, sizeof err);
    if (stats_path) {
        char *js = ddbpipe_source_stats_json(g_src);
        FILE *sf = fopen(stats_path, "w");
        if (sf && js)
            fprintf(sf, "%s\n", js);
        if (sf)
            fclose(sf);
        free(js);
    }
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "source_driver: error: %s (%s)\n", err, ddbpipe_strerror(r));
        rc = r == DDBPIPE_ERR_CONFIG ? 2 : 3;
    } else {
        rc = 0;
    }
out:
    ddbpipe_source_destroy(g_src);
    g_src = NULL;
    ddbpipe_conf_destroy(conf);
    if (out != stdout)
        fclose(out);
    else
        fflush(stdout);
    return rc;
}
