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
    cli_common c;
    ddbpipe_client_t *client = NULL;
    char err[1024] = "";
    int rc = DDBPIPE_EXIT_OK, created = 0;

    cli_common_init(&c, "create-table");
    if ((rc = cli_common_parse_only(&c, argc, argv, help)) >= 0)
        goto out;
    if ((rc = cli_common_load(&c, "create-table")) != 0)
        goto out;
    const char *table = ddbpipe_conf_table(c.conf);
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
