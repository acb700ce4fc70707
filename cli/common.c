/* Option handling, config loading, help helpers and exit codes shared by
 * every subcommand. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_common_init(cli_common *c, const char *cmd) {
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    /* getopt state is global: restart it for this argv. */
    optind = 0;
    opterr = 1;
}

void cli_common_free(cli_common *c) {
    if (!c)
        return;
    free(c->sets);
    ddbpipe_conf_destroy(c->conf);
    c->sets = NULL;
    c->conf = NULL;
}

int cli_common_opt(cli_common *c, int opt, const char *arg) {
    switch (opt) {
    case 'c':
        c->config_path = arg;
        return 1;
    case CLI_OPT_SET:
        if (!strchr(arg, '=') || arg[0] == '=') {
            cli_usage_error(c->cmd, "--set expects key=value, got '%s'", arg);
            return -1;
        }
        if (c->set_count == c->set_cap) {
            size_t ncap = c->set_cap ? c->set_cap * 2 : 8;
            const char **n = realloc(c->sets, ncap * sizeof *n);
            if (!n) {
                fprintf(stderr, "ddbpipe %s: out of memory\n", c->cmd);
                return -1;
            }
            c->sets = n;
            c->set_cap = ncap;
        }
        c->sets[c->set_count++] = arg;
        return 1;
    case 'q':
        c->quiet = 1;
        return 1;
    case 'v':
        c->verbose++;
        return 1;
    case 'h':
        c->help = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_common_parse_only(cli_common *c, int argc, char **argv, void (*help)(void)) {
    static const struct option longopts[] = {CLI_COMMON_LONG, {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
        int h = cli_common_opt(c, opt, optarg);
        if (h <= 0)
            return h < 0 ? DDBPIPE_EXIT_USAGE : cli_try_help(c->cmd);
    }
    if (c->help) {
        help();
        return DDBPIPE_EXIT_OK;
    }
    if (optind < argc)
        return cli_usage_error(c->cmd, "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* --set KEY=VALUE, in order. */
static int apply_sets(cli_common *c) {
    char err[1024];
    for (size_t i = 0; i < c->set_count; i++) {
        const char *kv = c->sets[i];
        const char *eq = strchr(kv, '=');
        char key[256];
        size_t klen = (size_t)(eq - kv);
        if (klen >= sizeof key) {
            fprintf(stderr, "ddbpipe %s: --set %.40s...: key too long\n", c->cmd, kv);
            return DDBPIPE_EXIT_USAGE;
        }
        memcpy(key, kv, klen);
        key[klen] = '\0';
        err[0] = '\0';
        ddbpipe_result_t r = ddbpipe_conf_set(c->conf, key, eq + 1, err, sizeof err);
        if (r != DDBPIPE_OK) {
            fprintf(stderr, "ddbpipe %s: --set %s: %s\n", c->cmd, key, err[0] ? err : ddbpipe_strerror(r));
            return DDBPIPE_EXIT_USAGE;
        }
    }
    return 0;
}

int cli_common_load(cli_common *c, const char *validate_for) {
    char err[1024] = "";
    ddbpipe_result_t r;

    if (c->quiet)
        ddbpipe_log_set_level(DDBPIPE_LOG_ERROR);
    else if (c->verbose >= 2)
        ddbpipe_log_set_level(DDBPIPE_LOG_DEBUG);
    else if (c->verbose == 1)
        ddbpipe_log_set_level(DDBPIPE_LOG_INFO);

    c->conf = ddbpipe_conf_new();
    if (!c->conf) {
        fprintf(stderr, "ddbpipe %s: out of memory\n", c->cmd);
        return DDBPIPE_EXIT_FATAL;
    }
    if (c->config_path) {
        /* --set goes in before the file too, so the file is read knowing it
         * (an Estuary file with several bindings picks the one of --set
         * table=NAME), and again after it, so it wins. */
        int sr = apply_sets(c);
        if (sr != 0)
            return sr;
        r = ddbpipe_conf_load_file(c->conf, c->config_path, err, sizeof err);
        if (r != DDBPIPE_OK) {
            fprintf(stderr, "ddbpipe %s: %s: %s\n", c->cmd, c->config_path,
                    err[0] ? err : ddbpipe_strerror(r));
            return DDBPIPE_EXIT_USAGE;
        }
    }
    {
        int sr = apply_sets(c);
        if (sr != 0)
            return sr;
    }
    /* log_level from the config unless -q/-v said otherwise. */
    ddbpipe_log_level_t lv;
    if (!c->quiet && !c->verbose && ddbpipe_conf_log_level(c->conf, &lv))
        ddbpipe_log_set_level(lv);
    if (validate_for) {
        err[0] = '\0';
        r = ddbpipe_conf_validate(c->conf, validate_for, err, sizeof err);
        if (r != DDBPIPE_OK) {
            fprintf(stderr, "ddbpipe %s: invalid configuration: %s\n", c->cmd,
                    err[0] ? err : ddbpipe_strerror(r));
            return DDBPIPE_EXIT_USAGE;
        }
    }
    return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "ddbpipe%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'ddbpipe%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return DDBPIPE_EXIT_USAGE;
}

int cli_try_help(const char *cmd) {
    fprintf(stderr, "Try 'ddbpipe %s --help'.\n", cmd);
    return DDBPIPE_EXIT_USAGE;
}

void cli_print_common_options(FILE *f) {
    fputs("Common options:\n"
          "  -c, --config FILE     configuration file (YAML or JSON; Feldera, Estuary and Flink\n"
          "                        dialects accepted)\n"
          "      --set KEY=VALUE   set one configuration property (repeatable; applied after -c)\n"
          "  -q, --quiet           only errors on stderr, no progress or summary\n"
          "  -v, --verbose         more logging (-v info, -vv debug)\n"
          "  -h, --help            this help\n",
          f);
}

static int scope_has(const char *scope, const char *want) {
    size_t wl = strlen(want);
    if (!scope || !*scope || strcmp(scope, "all") == 0)
        return 1;
    for (const char *p = scope; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        if ((n == wl && strncmp(p, want, wl) == 0) || (n == 3 && strncmp(p, "all", 3) == 0))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* Word-wrap text at width, every line indented. */
static void print_wrapped(FILE *f, const char *text, int indent, int width) {
    const char *p = text;
    while (*p) {
        int avail = width - indent;
        size_t n = strlen(p);
        size_t take = n;
        if ((int)n > avail) {
            take = (size_t)avail;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = (size_t)avail;
        }
        fprintf(f, "%*s%.*s\n", indent, "", (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
}

void cli_print_config_props(FILE *f, const char *scope) {
    size_t n = ddbpipe_conf_prop_count(), shown = 0;
    for (size_t i = 0; i < n; i++) {
        const ddbpipe_conf_prop_info_t *p = ddbpipe_conf_prop_at(i);
        if (!p || !p->name || !scope_has(p->scope, scope))
            continue;
        if (shown++ == 0)
            fputs("\nConfiguration properties (in -c FILE or --set KEY=VALUE):\n", f);
        fprintf(f, "  %-28s %s", p->name, p->type ? p->type : "");
        if (p->dflt)
            fprintf(f, ", default %s", p->dflt);
        if (p->range)
            fprintf(f, ", %s", p->range);
        fputc('\n', f);
        if (p->doc && *p->doc)
            print_wrapped(f, p->doc, 6, 96);
    }
    if (shown)
        fputs("  ('ddbpipe config --list' shows every property with its aliases)\n", f);
}

int cli_exit_code(ddbpipe_result_t r) {
    switch (r) {
    case DDBPIPE_OK:
        return DDBPIPE_EXIT_OK;
    case DDBPIPE_ERR_INVALID_ARG:
    case DDBPIPE_ERR_CONFIG:
    case DDBPIPE_ERR_UNSUPPORTED:
        return DDBPIPE_EXIT_USAGE;
    case DDBPIPE_ERR_INTERRUPTED:
        return DDBPIPE_EXIT_INTERRUPTED;
    default:
        return DDBPIPE_EXIT_FATAL;
    }
}

int cli_not_implemented(const char *cmd) {
    fprintf(stderr, "ddbpipe: '%s' is not implemented yet in this build\n", cmd);
    return DDBPIPE_EXIT_USAGE;
}

int cli_write_stats_file(const char *path, char *json) {
    if (!json)
        return -1;
    FILE *f = fopen(path, "w");
    int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = 0;
    free(json);
    return ok ? 0 : -1;
}
