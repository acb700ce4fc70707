/* ddbpipe create-table: create the configured table, wait for ACTIVE. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void help(void) {
    printf("Usage: ddbpipe create-table -c FILE [--set KEY=VALUE ...]\n\n"
           "Create the DynamoDB table described by the configuration (table, partition_key and\n"
           "partition_key_type, optional sort_key and sort_key_type, billing_mode with\n"
           "read_capacity/write_capacity for PROVISIONED, optional stream_view_type) and wait\n"
           "until it is ACTIVE. Running it again is safe: an existing table with the same key\n"
           "schema is accepted; one with another key schema is an error naming the difference\n"
           "(exit 3).\n\n");
    cli_print_common_options(stdout);
    cli_print_config_props(stdout, "create-table");
}

int cli_cmd_create_table(int argc, char **argv) {
    static const struct option longopts[] = {CLI_COMMON_LONG, {NULL, 0, NULL, 0}};
    cli_common c;
    ddbpipe_client_t *client = NULL;
    char err[1024] = "";
    int rc = DDBPIPE_EXIT_OK, opt, created = 0;

    cli_common_init(&c, "create-table");
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
        int h = cli_common_opt(&c, opt, optarg);
        if (h < 0 || h == 0) {
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
    if ((rc = cli_common_load(&c, "create-table")) != 0)
        goto out;
    const char *table = ddbpipe_conf_get(c.conf, "table");
    ddbpipe_result_t r = ddbpipe_client_new(c.conf, &client, err, sizeof err);
    if (r == DDBPIPE_OK)
        r = ddbpipe_create_table(client, c.conf, &created, err, sizeof err);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe create-table: %s\n", err[0] ? err : ddbpipe_strerror(r));
        rc = cli_exit_code(r);
        goto out;
    }
    if (!c.quiet) {
        if (created)
            printf("created table '%s' at %s: ACTIVE\n", table ? table : "?",
                   ddbpipe_client_endpoint(client));
        else
            printf("table '%s' already exists at %s with the configured key schema: ACTIVE\n",
                   table ? table : "?", ddbpipe_client_endpoint(client));
    }
out:
    ddbpipe_client_destroy(client);
    cli_common_free(&c);
    return rc;
}
