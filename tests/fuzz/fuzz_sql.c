/* libFuzzer target: the SQL DDL loader and the `ddbpipe sql` statement
 * parser on the same bytes. */
#include <stddef.h>
#include <stdint.h>

#include "config/conf.h"
#include "config/sql_ddl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    dp_sql_script *s = NULL;
    if (dp_sql_parse((const char *)data, size, &s, err, sizeof err) == DDBPIPE_OK) {
        for (size_t i = 0; i < s->count; i++) {
            const dp_sql_stmt *st = &s->stmts[i];
            for (size_t v = 0; v < st->nrows * st->row_width; v++)
                (void)st->values[v].text;
        }
        dp_sql_script_free(s);
    }
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    if (c) {
        (void)dp_conf_load_sql_ddl(c, (const char *)data, size, size > 3 ? "t" : NULL, err, sizeof err);
        (void)dp_conf_load_sql_ddl(c, (const char *)data, size, NULL, err, sizeof err);
        ddbpipe_conf_destroy(c);
    }
    return 0;
}
