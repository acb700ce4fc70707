/* ddbpipe: stream changes into and out of DynamoDB. Dispatches to one
 * subcommand per file (cli/<name>.c). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Weak: the SQL front end may not be built yet; then it says so. */
__attribute__((weak)) int cli_cmd_sql(int argc, char **argv);

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command *commands(size_t *n) {
    static const cli_command cmds[] = {
        {"sink", cli_cmd_sink, "write a change stream (JSON lines) into a DynamoDB table"},
        {"source", cli_cmd_source, "read a table (snapshot) and its change stream out as JSON lines"},
        {"create-table", cli_cmd_create_table, "create the configured table and wait until it is ACTIVE"},
        {"check", cli_cmd_check, "check config, credentials, endpoint and the table's key schema"},
        {"list-tables", cli_cmd_list_tables, "list the tables at the configured endpoint"},
        {"sql", NULL, "run Flink-style SQL (CREATE TABLE/INSERT/SELECT/DELETE) on DynamoDB tables"},
        {"config", cli_cmd_config, "list configuration properties or show the effective config"},
    };
    *n = sizeof cmds / sizeof cmds[0];
    return cmds;
}

/* Help for the SQL front end while it is not built: say what it will do
 * and that this build does not have it (never pretend). */
static int sql_help_unbuilt(void) {
    printf("Usage: ddbpipe sql [-c FILE] [--set KEY=VALUE ...] FILE|-\n\n"
           "Run Flink-style SQL against DynamoDB tables declared with CREATE TABLE ... WITH\n"
           "('connector' = 'dynamodb', ...): INSERT INTO t VALUES (...), INSERT INTO t SELECT *\n"
           "FROM STDIN, DELETE FROM t WHERE key = ..., SELECT cols FROM t [WHERE ...] [LIMIT n].\n\n"
           "Status: not implemented yet in this build ('ddbpipe sql' exits 2).\n");
    return DDBPIPE_EXIT_OK;
}

static int has_help_flag(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (strcmp(argv[i], "--") == 0)
            break;
    }
    return 0;
}

static void usage(FILE *f) {
    size_t n;
    const cli_command *cmds = commands(&n);
    fprintf(f, "Usage: ddbpipe [--help] [--version] COMMAND [OPTIONS]\n\n"
               "ddbpipe streams changes into and out of Amazon DynamoDB (and DynamoDB Local):\n"
               "JSON lines in, batched ordered writes out; table snapshots and DynamoDB Streams\n"
               "change feeds out as JSON lines.\n\nCommands:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-14s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nRun 'ddbpipe COMMAND --help' for a command's options and configuration.\n"
               "Exit codes: 0 ok, 1 finished but records were dead-lettered, 2 usage or configuration\n"
               "error (or command not built), 3 fatal (auth, missing table, unreachable endpoint,\n"
               "data loss), 130 aborted by a second signal. See ddbpipe(1): docs/ddbpipe.1.md.\n");
}

int main(int argc, char **argv) {
    /* Buffers of a MiB or two (Scan pages, response bodies, request bodies)
     * stay in the heap for the next one instead of glibc's default of an
     * mmap, a page fault for every 4 KiB and a munmap each: a third of a
     * snapshot's CPU went to those faults. Up to 16 MiB of free heap top is
     * kept before it is given back (RSS stays within the peak). */
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    size_t n;
    const cli_command *cmds = commands(&n);
    char prog[64];

    if (argc < 2) {
        usage(stderr);
        return DDBPIPE_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) {
            /* "ddbpipe help sink" == "ddbpipe sink --help" */
            char *hargv[3] = {argv[2], (char *)"--help", NULL};
            for (size_t i = 0; i < n; i++) {
                if (strcmp(cmds[i].name, argv[2]) == 0) {
                    snprintf(prog, sizeof prog, "ddbpipe %s", cmds[i].name);
                    hargv[0] = prog;
                    if (!cmds[i].run && !(strcmp(cmds[i].name, "sql") == 0 && cli_cmd_sql))
                        return strcmp(cmds[i].name, "sql") == 0 ? sql_help_unbuilt()
                                                                : cli_not_implemented(cmds[i].name);
                    int (*run)(int, char **) = cmds[i].run ? cmds[i].run : cli_cmd_sql;
                    return run(2, hargv);
                }
            }
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return DDBPIPE_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0 || strcmp(name, "version") == 0) {
        printf("ddbpipe %s\n", DDBPIPE_VERSION_STR);
        return DDBPIPE_EXIT_OK;
    }
    if (name[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s' (options go after the command)", name);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cmds[i].name, name) != 0)
            continue;
        int (*run)(int, char **) = cmds[i].run;
        if (!run && strcmp(name, "sql") == 0)
            run = cli_cmd_sql; /* NULL unless cli/sql.c is linked */
        if (!run && strcmp(name, "sql") == 0 && has_help_flag(argc - 1, argv + 1))
            return sql_help_unbuilt();
        if (!run)
            return cli_not_implemented(name);
        /* getopt prints argv[0] in its messages: make it "ddbpipe CMD". */
        snprintf(prog, sizeof prog, "ddbpipe %s", name);
        argv[1] = prog;
        return run(argc - 1, argv + 1);
    }
    return cli_usage_error(NULL,
                           "unknown command '%s'; commands: sink, source, create-table, check, "
                           "list-tables, sql, config",
                           name);
}
