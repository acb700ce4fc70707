/* ddbpipe sql FILE|-: Flink-style SQL on DynamoDB tables (ddbpipe_sql_run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define SQL_MAX_SCRIPT ((size_t)64 * 1024 * 1024)

enum { OPT_FORMAT = CLI_OPT_FIRST_LOCAL, OPT_DEAD_LETTER };

static void help(void) {
    printf("Usage: ddbpipe sql [-c FILE] [--set KEY=VALUE ...] [--format auto|json|table]\n"
           "                   [--dead-letter FILE] FILE|-\n\n"
           "Run Flink-style SQL against DynamoDB tables. Statements are separated by ';' and\n"
           "run in order, each finished before the next starts:\n\n"
           "  CREATE TABLE t (col TYPE, ..., PRIMARY KEY (pk[, sk]) NOT ENFORCED)\n"
           "      WITH ('connector' = 'dynamodb', 'table-name' = '...', 'aws.region' = '...', ...);\n"
           "  INSERT INTO t [(cols)] VALUES (...), (...);   -- typed by the declared columns\n"
           "  INSERT INTO t SELECT * FROM STDIN;            -- JSON lines from stdin, like 'ddbpipe sink'\n"
           "  DELETE FROM t WHERE pk = v [AND sk = v];   (DeleteItem: reports the rows deleted, 0 or 1)\n"
           "  SELECT cols|* FROM t [WHERE pk = v [AND sk =|<|<=|>|>=|BETWEEN x AND y|LIKE 'p%%' v]\n"
           "      [AND other conditions]] [LIMIT n];\n\n"
           "A SELECT whose WHERE fixes the partition key with '=' is a Query, otherwise a Scan;\n"
           "other conditions become a filter. Rows are written as JSON lines (numbers exactly as\n"
           "stored), or as an aligned table when stdout is a terminal. (Flink's connector answers\n"
           "a SELECT with \"Connector dynamodb can only be used as a sink\"; ddbpipe answers with\n"
           "rows.) The whole file is parsed before anything runs. The CREATE TABLE options are\n"
           "applied on top of -c/--set.\n\n"
           "Options:\n"
           "      --format FMT      auto (table on a terminal, else json), json, table\n"
           "      --dead-letter FILE  append records the sink rejects (line, reason) to FILE\n\n");
    cli_print_common_options(stdout);
    printf("\nExit codes: 0 ok, 1 finished but records were rejected (dead-lettered), 2 SQL,\n"
           "usage or configuration error (the message names the statement and line), 3 fatal\n"
           "service error (auth, missing table, unreachable endpoint).\n");
}

static int emit_stdout(const char *line, size_t len, void *opaque) {
    (void)opaque;
    if (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF)
        return -1; /* e.g. EPIPE from `| head`: stop quietly */
    return 0;
}

static void notice_stderr(const char *line, void *opaque) {
    (void)opaque;
    fprintf(stderr, "ddbpipe sql: %s\n", line);
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    for (;;) {
        if (cap - n < 65536) {
            if (cap >= SQL_MAX_SCRIPT) {
                free(b);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(b);
                return NULL;
            }
            break;
        }
    }
    b[n] = 0;
    *len = n;
    return b;
}

int cli_cmd_sql(int argc, char **argv) {
    static const struct option longopts[] = {CLI_COMMON_LONG,
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {"dead-letter", required_argument, NULL, OPT_DEAD_LETTER},
                                             {NULL, 0, NULL, 0}};
    cli_common c;
    ddbpipe_sql_options_t so;
    ddbpipe_sql_stats_t st;
    const char *format = "auto", *path = NULL;
    char err[2048] = "";
    char *text = NULL;
    size_t len = 0;
    int rc = DDBPIPE_EXIT_OK, opt;

    memset(&so, 0, sizeof so);
    memset(&st, 0, sizeof st);
    cli_common_init(&c, "sql");
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
        int h = cli_common_opt(&c, opt, optarg);
        if (h < 0) {
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        if (h)
            continue;
        switch (opt) {
        case OPT_FORMAT:
            format = optarg;
            break;
        case OPT_DEAD_LETTER:
            so.dead_letter_path = optarg;
            break;
        default:
            rc = cli_try_help(c.cmd);
            goto out;
        }
    }
    if (c.help) {
        help();
        goto out;
    }
    if (strcmp(format, "auto") != 0 && strcmp(format, "json") != 0 && strcmp(format, "table") != 0) {
        rc = cli_usage_error(c.cmd, "--format %s: expected auto, json or table", format);
        goto out;
    }
    if (optind >= argc) {
        rc = cli_usage_error(c.cmd, "no SQL file given (FILE, or '-' for stdin)");
        goto out;
    }
    if (optind + 1 < argc) {
        rc = cli_usage_error(c.cmd, "unexpected argument '%s' (one SQL file)", argv[optind + 1]);
        goto out;
    }
    path = argv[optind];
    if ((rc = cli_common_load(&c, NULL)) != 0)
        goto out;
    if (strcmp(path, "-") == 0) {
        text = read_all(stdin, &len);
        so.stdin_fd = -1; /* stdin held the script */
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "ddbpipe sql: cannot open %s: %s\n", path, strerror(errno));
            rc = DDBPIPE_EXIT_USAGE;
            goto out;
        }
        text = read_all(f, &len);
        fclose(f);
        so.stdin_fd = 0;
    }
    if (!text) {
        fprintf(stderr, "ddbpipe sql: cannot read %s: %s\n", path, strerror(errno));
        rc = DDBPIPE_EXIT_USAGE;
        goto out;
    }
    so.emit = emit_stdout;
    so.notice = c.quiet ? NULL : notice_stderr;
    so.table_output = strcmp(format, "table") == 0 || (strcmp(format, "auto") == 0 && isatty(1));
    ddbpipe_result_t r = ddbpipe_sql_run(text, len, c.conf, &so, &st, err, sizeof err);
    fflush(stdout);
    if (r != DDBPIPE_OK) {
        fprintf(stderr, "ddbpipe sql: %s: %s\n", strcmp(path, "-") == 0 ? "<stdin>" : path,
                err[0] ? err : ddbpipe_strerror(r));
        switch (r) {
        case DDBPIPE_ERR_PARSE:
        case DDBPIPE_ERR_INVALID_ARG:
        case DDBPIPE_ERR_CONFIG:
        case DDBPIPE_ERR_UNSUPPORTED:
        case DDBPIPE_ERR_VALIDATION:
            rc = DDBPIPE_EXIT_USAGE;
            break;
        default:
            rc = DDBPIPE_EXIT_FATAL;
        }
        goto out;
    }
    rc = st.dead_lettered ? DDBPIPE_EXIT_DEAD_LETTERED : DDBPIPE_EXIT_OK;
out:
    free(text);
    cli_common_free(&c);
    return rc;
}
