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
    cli_common c;
    ddbpipe_client_t *client = NULL;
    char err[1024] = "";
    size_t count = 0;
    int rc = DDBPIPE_EXIT_OK;

    cli_common_init(&c, "list-tables");
    if ((rc = cli_common_parse_only(&c, argc, argv, help)) >= 0)
        goto out;
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
