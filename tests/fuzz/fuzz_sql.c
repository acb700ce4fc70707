/* libFuzzer target: the SQL front end (src/lang/) and the DDL loader of
 * src/config/ on the same bytes: the statement parser, the splitter (whose
 * n-th span must be the n-th parsed statement: both stand on one lexer),
 * the DDL parser with and without Feldera's folding, and the mapping of a
 * definition to properties. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/conf.h"
#include "lang/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    char err[512];
    dp_sql_script *s = NULL;
    dp_sql_span *spans = NULL;
    size_t nspans = 0;
    int split_ok = dp_sql_split(text, size, &spans, &nspans) == DDBPIPE_OK;
    if (dp_sql_parse(text, size, &s, err, sizeof err) == DDBPIPE_OK) {
        if (split_ok && nspans != s->count)
            abort();
        for (size_t i = 0; i < s->count; i++) {
            const dp_sql_stmt *st = &s->stmts[i];
            if (split_ok &&
                (spans[i].offset != st->offset || spans[i].length != st->length || spans[i].line != st->line))
                abort();
            for (size_t v = 0; v < st->nrows * st->row_width; v++)
                (void)st->values[v].text;
        }
        dp_sql_script_free(s);
    }
    free(spans);
    for (int fold = 0; fold < 2; fold++) {
        dp_ddl *d = NULL;
        if (dp_ddl_parse(text, size, fold, &d, err, sizeof err) == DDBPIPE_OK) {
            for (size_t i = 0; i < d->ndefs; i++) {
                const dp_ddl_table *t = &d->defs[i];
                if (!t->is_view && t->colnames.n != t->coltypes.n)
                    abort(); /* a table column always has a type */
                (void)dp_ddl_option(t, "connector");
                if (t->name)
                    (void)dp_ddl_find(d, t->name);
            }
            dp_ddl_free(d);
        }
    }
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    if (c) {
        (void)dp_conf_load_sql_ddl(c, text, size, size > 3 ? "t" : NULL, err, sizeof err);
        (void)dp_conf_load_sql_ddl(c, text, size, NULL, err, sizeof err);
        ddbpipe_conf_destroy(c);
    }
    return 0;
}
