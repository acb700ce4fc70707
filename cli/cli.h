/* Shared pieces of the ddbpipe command line (one file per subcommand). The
 * CLI uses only the public API in ddbpipe/ddbpipe.h. */
#ifndef DDBPIPE_CLI_H
#define DDBPIPE_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "ddbpipe/ddbpipe.h"

/* Long-only option ids shared by all subcommands. */
enum { CLI_OPT_SET = 1000, CLI_OPT_FIRST_LOCAL = 1100 };

/* Options every subcommand accepts (put them in its getopt_long tables). */
#define CLI_COMMON_SHORT "c:qvh"
#define CLI_COMMON_LONG                                                                                      \
    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, CLI_OPT_SET},                 \
        {"quiet", no_argument, NULL, 'q'}, {"verbose", no_argument, NULL, 'v'}, {                            \
        "help", no_argument, NULL, 'h'                                                                       \
    }

typedef struct cli_common {
    const char *cmd;         /* subcommand name, for messages */
    const char *config_path; /* -c FILE */
    const char **sets;       /* --set key=value, in order */
    size_t set_count, set_cap;
    int quiet, verbose, help;
    ddbpipe_conf_t *conf; /* filled by cli_common_load */
} cli_common;

void cli_common_init(cli_common *c, const char *cmd);
void cli_common_free(cli_common *c);
/* Handle a common option; 1 when handled, 0 when not one, -1 on error. */
int cli_common_opt(cli_common *c, int opt, const char *arg);
/* Parse argv for a subcommand that takes the common options only (check,
 * list-tables, create-table): prints help when asked (help()), refuses other
 * options and arguments. Returns -1 to go on, else the exit code to return. */
int cli_common_parse_only(cli_common *c, int argc, char **argv, void (*help)(void));
/* Load -c, apply --set in order, set the log level, validate for the
 * subcommand when validate_for != NULL. Prints the error; returns an exit
 * code (0 ok). */
int cli_common_load(cli_common *c, const char *validate_for);

/* "ddbpipe CMD: message" + "Try 'ddbpipe CMD --help'." and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt reported a bad option: "Try ..." and returns 2. */
int cli_try_help(const char *cmd);
/* Print the common options block of a --help text. */
void cli_print_common_options(FILE *f);
/* Print the configuration properties used by a subcommand (from the
 * property table, so --help never drifts from the code). */
void cli_print_config_props(FILE *f, const char *scope);
/* Exit code for a library result (see docs/ddbpipe.1.md). */
int cli_exit_code(ddbpipe_result_t r);
/* Message when a subcommand is not built yet; returns 2. */
int cli_not_implemented(const char *cmd);
/* Write a statistics JSON document (from *_stats_json, which it frees; NULL
 * counts as a failure) to path with a final newline. 0 ok, -1 error (errno). */
int cli_write_stats_file(const char *path, char *json);

/* Subcommands: argc/argv start at the subcommand name. */
int cli_cmd_sink(int argc, char **argv);
int cli_cmd_source(int argc, char **argv);
int cli_cmd_create_table(int argc, char **argv);
int cli_cmd_check(int argc, char **argv);
int cli_cmd_list_tables(int argc, char **argv);
int cli_cmd_config(int argc, char **argv);
/* Defined by cli/sql.c when the SQL front end is built (weak here). */
int cli_cmd_sql(int argc, char **argv);

#endif
