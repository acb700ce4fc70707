/* ddbpipe list-tables: one table name per line. */
#include <stdio.h>

#include "cli.h"

static void help(void) {
    printf("Usage: ddbpipe list-tables [-c FILE] [--set KEY=VALUE ...]\n\n"
           "List the tables at the configured endpoint and region (ListTables, every page),\n"
           "one name per line. Useful to see that credentials and endpoint work.\n\n");
    cli_print_common_options(stdout);
}

static void print_name(const char *name, void *opaque) {
    size_t *count = opaque;
    printf("%s\n", name);
    (*count)++;
}

int cli_cmd_list_tables(int argc, char **argv) {
    static const struct option longopts[] = {CLI_COMMON_LONG, {NULL, 0, NULL, 0}};
    cli_common c;
    ddbpipe_client_t *client = NULL;
    char err[1024] = "";
    size_t count = 0;
    int rc = DDBPIPE_EXIT_OK, opt;

    cli_common_init(&c, "list-tables");
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
        int h = cli_common_opt(&c, opt, optarg);
        if (h <= 0) {
            rc = h < 0 ? DDBPIPE_EXIT_USAGE : cli_try_help(c.cmd);
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
    if ((rc = cli_common_load(&c, NULL)) != 0)
        goto out;
    ddbpipe_result_t r = ddbpipe_client_new(c.conf, &client, err, sizeof err);
    if (r == DDBPIPE_OK)
        r = ddbpipe_list_tables(client, print_name, &count, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe list-tables: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
        goto out;
    }
    if (!c.quiet)
        fprintf(stderr, "%zu table%s at %s (%s)\n", count, count == 1 ? "" : "s",
                ddbpipe_client_endpoint(client), ddbpipe_client_region(client));
out:
    ddbpipe_client_destroy(client);
    cli_common_free(&c);
    return rc;
}
