/* ddbpipe config: the property table and the effective configuration. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { OPT_LIST = CLI_OPT_FIRST_LOCAL, OPT_ALL, OPT_FOR, OPT_KAFKA };

static void help(void) {
    printf("Usage: ddbpipe config --list\n"
           "       ddbpipe config [-c FILE] [--set KEY=VALUE ...] [--all] [--for COMMAND [--kafka]]\n\n"
           "With --list, print every configuration property: name, type, default, allowed\n"
           "values, the commands that use it, its aliases in the Feldera/Estuary/Flink dialects\n"
           "and what it does. Otherwise load the configuration, validate it for COMMAND (sink,\n"
           "source, check, create-table; default: no command-specific rules) and print the\n"
           "effective values of the properties that are set (--all: every property, defaults\n"
           "included). Secret values are printed as ****. With --for sink or --for source and\n"
           "--kafka (or kafka_enabled: true), the Kafka checks of sink/source --kafka run too:\n"
           "ddbpipe's Kafka settings and librdkafka's checks of the kafka.* properties, with\n"
           "no network call. Exit 2 when the configuration is invalid.\n\n"
           "Options:\n"
           "      --list            list the property table\n"
           "      --all             show defaults too\n"
           "      --for COMMAND     validate with the rules of COMMAND\n"
           "      --kafka           with --for sink|source: as COMMAND --kafka would run\n\n");
    cli_print_common_options(stdout);
}

static void list_props(void) {
    size_t n = ddbpipe_conf_prop_count();
    for (size_t i = 0; i < n; i++) {
        const ddbpipe_conf_prop_info_t *p = ddbpipe_conf_prop_at(i);
        if (!p || !p->name)
            continue;
        printf("%s\n", p->name);
        printf("    type: %s", p->type ? p->type : "string");
        if (p->dflt)
            printf("; default: %s", p->dflt);
        if (p->range)
            printf("; allowed: %s", p->range);
        printf("\n");
        if (p->scope)
            printf("    used by: %s\n", p->scope);
        if (p->aliases && *p->aliases)
            printf("    aliases: %s\n", p->aliases);
        if (p->doc && *p->doc)
            printf("    %s\n", p->doc);
    }
}

int cli_cmd_config(int argc, char **argv) {
    static const struct option longopts[] = {CLI_COMMON_LONG,
                                             {"list", no_argument, NULL, OPT_LIST},
                                             {"all", no_argument, NULL, OPT_ALL},
                                             {"for", required_argument, NULL, OPT_FOR},
                                             {"kafka", no_argument, NULL, OPT_KAFKA},
                                             {NULL, 0, NULL, 0}};
    cli_common c;
    int rc = DDBPIPE_EXIT_OK, opt, list = 0, all = 0, kafka = 0;
    const char *for_cmd = NULL;

    cli_common_init(&c, "config");
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
        int h = cli_common_opt(&c, opt, optarg);
        if (h < 0) {
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        if (h)
            continue;
        if (opt == OPT_LIST)
            list = 1;
        else if (opt == OPT_ALL)
            all = 1;
        else if (opt == OPT_FOR)
            for_cmd = optarg;
        else if (opt == OPT_KAFKA)
            kafka = 1;
        else {
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
    if (list) {
        list_props();
        goto out;
    }
    /* without --for, the rules every command shares (files that must exist, pairs of keys) */
    if ((rc = cli_common_load(&c, for_cmd ? for_cmd : "config")) != 0)
        goto out;
    int kafka_cmd = for_cmd && (strcmp(for_cmd, "sink") == 0 || strcmp(for_cmd, "source") == 0);
    if (kafka && !kafka_cmd) {
        rc = cli_usage_error(c.cmd, "--kafka needs --for sink or --for source");
        goto out;
    }
    /* Kafka input/output: ddbpipe's and librdkafka's own checks, as sink/source --kafka make first.
     * Not for leftover kafka.* properties alone: `sink -i FILE` ignores them. */
    if (kafka_cmd && (kafka || ddbpipe_conf_kafka_enabled(c.conf))) {
        char err[1024] = "";
        ddbpipe_result_t kr = ddbpipe_kafka_conf_check(c.conf, for_cmd, err, sizeof err);
        if (kr != DDBPIPE_OK) {
            fprintf(stderr, "ddbpipe config: invalid configuration: %s\n",
                    err[0] ? err : ddbpipe_strerror(kr));
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
    }
    size_t n = ddbpipe_conf_prop_count();
    for (size_t i = 0; i < n; i++) {
        const ddbpipe_conf_prop_info_t *p = ddbpipe_conf_prop_at(i);
        if (!p || !p->name)
            continue;
        int set = ddbpipe_conf_is_set(c.conf, p->name);
        const char *v = ddbpipe_conf_get(c.conf, p->name);
        if (!set && !(all && v))
            continue;
        int secret = p->type && strcmp(p->type, "secret") == 0;
        printf("%s = %s%s\n", p->name, !v ? "null" : secret ? "****" : v, set ? "" : "  (default)");
    }
    for (size_t i = 0; i < ddbpipe_conf_kafka_count(c.conf); i++) {
        const char *kn = ddbpipe_conf_kafka_name(c.conf, i);
        printf("kafka.%s = %s\n", kn,
               ddbpipe_conf_kafka_is_secret(kn) ? "****" : ddbpipe_conf_kafka_value(c.conf, i));
    }
    if (!c.quiet)
        fprintf(stderr, "configuration ok%s%s\n", for_cmd ? " for " : "", for_cmd ? for_cmd : "");
out:
    cli_common_free(&c);
    return rc;
}
