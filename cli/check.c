/* ddbpipe check: config, credentials, endpoint, table and key schema. */
#include <stdio.h>

#include "cli.h"

static void help(void) {
    printf("Usage: ddbpipe check -c FILE [--set KEY=VALUE ...]\n\n"
           "Check that everything a sink or source needs is in place, one line per step:\n"
           "the configuration is valid, credentials resolve (and which provider supplied them;\n"
           "never the secret), the region and endpoint, the table exists (status, key schema,\n"
           "stream) and the configured key columns match the table's key schema. Without a\n"
           "table in the config it checks that ListTables answers. Exit 0 when all is well,\n"
           "2 for a configuration error, 3 when the table is missing, the key schema differs,\n"
           "credentials are rejected or the endpoint is unreachable.\n\n");
    cli_print_common_options(stdout);
    cli_print_config_props(stdout, "check");
}

static void print_line(const char *line, void *opaque) {
    (void)opaque;
    printf("%s\n", line);
    fflush(stdout);
}

int cli_cmd_check(int argc, char **argv) {
    cli_common c;
    int rc = DDBPIPE_EXIT_OK;

    cli_common_init(&c, "check");
    if ((rc = cli_common_parse_only(&c, argc, argv, help)) >= 0)
        goto out;
    /* check validates the config itself and reports it as a line. */
    if ((rc = cli_common_load(&c, NULL)) != 0)
        goto out;
    ddbpipe_result_t r = ddbpipe_check(c.conf, print_line, NULL);
    rc = cli_exit_code(r);
out:
    cli_common_free(&c);
    return rc;
}
