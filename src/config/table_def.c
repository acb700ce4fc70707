/* Flink/Feldera SQL DDL as configuration: the CREATE TABLE (or Feldera
 * view) of a DynamoDB table, parsed by lang/ (dp_ddl_parse), mapped to
 * properties here: WITH options (${VAR} placeholders expanded), columns,
 * PRIMARY KEY -> partition/sort key and their types, PARTITIONED BY ->
 * dedup_keys, a Feldera view's 'connectors' JSON and index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "config/conf.h"
#include "lang/parse.h"

static ddbpipe_result_t set_opt(ddbpipe_conf_t *conf, const char *k, const char *v, const dp_ddl_table *d,
                                char *errstr, size_t n) {
    char msg[512] = "";
    char *x = NULL;
    ddbpipe_result_t rc = v ? dp_conf_expand_env(k, v, &x, msg, sizeof msg) : DDBPIPE_OK;
    if (!rc)
        rc = ddbpipe_conf_set(conf, k, x, msg, sizeof msg);
    if (rc)
        dp_errf(errstr, n, "CREATE TABLE %s (line %d): %s", d->name, d->line, msg);
    if (x)
        memset(x, 0, strlen(x)); /* may be a secret */
    free(x);
    return rc;
}

/* Columns and key of a def (or of the table a view selects from). */
static ddbpipe_result_t apply_columns_and_key(ddbpipe_conf_t *conf, const dp_ddl_table *cols,
                                              const dp_sql_names *pk, const dp_ddl_table *d, char *errstr,
                                              size_t n) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_buf b;
    dp_buf_init(&b, (size_t)1 << 20);
    if (cols && cols->coltypes.n) {
        for (size_t i = 0; i < cols->coltypes.n && !rc; i++) {
            rc = dp_buf_puts(&b, i ? ", " : "");
            if (!rc)
                rc = dp_conf_column_name_append(&b, cols->colnames.v[i]);
            if (!rc)
                rc = dp_buf_printf(&b, " %s", cols->coltypes.v[i]);
        }
        if (!rc)
            rc = set_opt(conf, "columns", b.data, d, errstr, n);
    }
    dp_buf_free(&b);
    if (rc || !pk || !pk->n)
        return rc;
    if (pk->n > 2) {
        dp_errf(errstr, n,
                "CREATE TABLE %s (line %d): PRIMARY KEY has %zu columns; a DynamoDB key has at most 2 "
                "(partition key, sort key)",
                d->name, d->line, pk->n);
        return DDBPIPE_ERR_CONFIG;
    }
    for (size_t i = 0; i < pk->n && !rc; i++) {
        const char *type = NULL;
        if (cols && cols->coltypes.n) {
            int ci = dp_ddl_column_index(cols, pk->v[i]);
            if (ci < 0) {
                dp_errf(errstr, n, "CREATE TABLE %s (line %d): key column '%s' is not a column", d->name,
                        d->line, pk->v[i]);
                return DDBPIPE_ERR_CONFIG;
            }
            type = cols->coltypes.v[ci];
        }
        rc = set_opt(conf, i ? "sort_key" : "partition_key", pk->v[i], d, errstr, n);
        if (!rc && type) {
            char kt[2] = {dp_sql_type_key_type(type), 0};
            rc = set_opt(conf, i ? "sort_key_type" : "partition_key_type", kt, d, errstr, n);
        }
    }
    if (!rc && pk->n == 1)
        rc = set_opt(conf, "sort_key", NULL, d, errstr, n);
    return rc;
}

static ddbpipe_result_t apply_flink(ddbpipe_conf_t *conf, const dp_ddl_table *d, char *errstr, size_t n) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    for (size_t i = 0; i < d->okeys.n && !rc; i++) {
        if (!strcasecmp(d->okeys.v[i], "connector"))
            continue;
        rc = set_opt(conf, d->okeys.v[i], d->ovals.v[i], d, errstr, n);
    }
    if (rc)
        return rc;
    if (!dp_ddl_option(d, "table-name")) {
        dp_conf_notice_add(conf, "CREATE TABLE %s has no 'table-name': using '%s' as the DynamoDB table name",
                           d->name, d->name);
        if ((rc = set_opt(conf, "table", d->name, d, errstr, n)))
            return rc;
    }
    if ((rc = apply_columns_and_key(conf, d, &d->pk, d, errstr, n)))
        return rc;
    if (d->part.n) {
        dp_buf b;
        dp_buf_init(&b, (size_t)1 << 20);
        for (size_t i = 0; i < d->part.n && !rc; i++)
            rc = dp_buf_printf(&b, "%s%s", i ? "," : "", d->part.v[i]);
        if (!rc)
            rc = set_opt(conf, "dedup_keys", b.data, d, errstr, n);
        int full = d->pk.n == d->part.n;
        for (size_t i = 0; full && i < d->pk.n; i++) {
            int found = 0;
            for (size_t j = 0; j < d->part.n; j++)
                found |= !strcasecmp(d->pk.v[i], d->part.v[j]);
            full = found;
        }
        if (!rc && !full)
            dp_conf_notice_add(
                conf,
                "warning: PARTITIONED BY (%s) of %s is not the full primary key%s: records with the "
                "same %s are folded into one even when their DynamoDB keys differ",
                b.data, d->name, d->pk.n ? "" : " (no PRIMARY KEY declared)", b.data);
        dp_buf_free(&b);
    }
    return rc;
}

static ddbpipe_result_t apply_feldera(ddbpipe_conf_t *conf, const dp_ddl *D, const dp_ddl_table *d,
                                      char *errstr, size_t n) {
    const char *connectors = dp_ddl_option(d, "connectors");
    char msg[512] = "";
    char origin[300];
    ddbpipe_result_t rc;
    snprintf(origin, sizeof origin, "%s 'connectors'", d->name);
    if ((rc = dp_conf_load_text(conf, connectors, strlen(connectors), origin, msg, sizeof msg))) {
        dp_errf(errstr, n, "%s", msg);
        return rc;
    }
    /* The connector's index names the key columns (CREATE INDEX ... ON v(cols)). */
    const char *index = NULL;
    dp_json_doc *doc = dp_json_parse(connectors, strlen(connectors), NULL);
    const dp_json *arr = dp_json_root(doc);
    for (size_t i = 0; arr && arr->type == DP_JSON_ARRAY && i < arr->count; i++) {
        const char *name = dp_json_get_string(dp_json_get(arr->items[i], "transport"), "name");
        if (name && !strcmp(name, "dynamodb_output"))
            index = dp_json_get_string(arr->items[i], "index");
    }
    const dp_ddl_index *x = NULL;
    for (size_t i = 0; index && i < D->nidx; i++)
        if (D->idx[i].name && !strcasecmp(D->idx[i].name, index))
            x = &D->idx[i];
    /* Column types: the view's own, or those of the table it selects from. */
    const dp_ddl_table *cols = d->coltypes.n ? d : (d->select_from ? dp_ddl_find(D, d->select_from) : NULL);
    if (x && x->cols.n)
        rc = apply_columns_and_key(conf, cols, &x->cols, d, errstr, n);
    else if (cols)
        rc = apply_columns_and_key(conf, cols, NULL, d, errstr, n);
    if (!rc && index && !x)
        dp_conf_notice_add(conf,
                           "Feldera index '%s' is not defined in this file: key columns come from 'key' or "
                           "the table's key schema",
                           index);
    dp_json_doc_free(doc);
    return rc;
}

static int is_dynamodb_def(const dp_ddl_table *d) {
    const char *c = dp_ddl_option(d, "connector");
    const char *cs = dp_ddl_option(d, "connectors");
    return (c && !strcasecmp(c, "dynamodb")) || (cs && strstr(cs, "dynamodb_output"));
}

ddbpipe_result_t dp_conf_load_sql_ddl(ddbpipe_conf_t *conf, const char *text, size_t len,
                                      const char *table_name_or_NULL, char *errstr, size_t errstr_size) {
    dp_ddl *D = NULL;
    ddbpipe_result_t rc = DDBPIPE_ERR_CONFIG;
    int fold = 0;
    if (!conf || (!text && len))
        return DDBPIPE_ERR_INVALID_ARG;
again:
    rc = dp_ddl_parse(text, len, fold, &D, errstr, errstr_size);
    if (rc)
        return rc;
    rc = DDBPIPE_ERR_CONFIG;
    const dp_ddl_table *target = NULL;
    char names[256] = "";
    size_t ncand = 0;
    for (size_t i = 0; i < D->ndefs; i++) {
        const dp_ddl_table *d = &D->defs[i];
        if (!d->name || !is_dynamodb_def(d))
            continue;
        ncand++;
        const char *tn = dp_ddl_option(d, "table-name");
        if (table_name_or_NULL &&
            (!strcasecmp(d->name, table_name_or_NULL) || (tn && !strcmp(tn, table_name_or_NULL))))
            target = d;
        if (strlen(names) + strlen(d->name) + 3 < sizeof names)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
                     d->name);
    }
    if (!table_name_or_NULL && ncand == 1) {
        for (size_t i = 0; i < D->ndefs; i++)
            if (D->defs[i].name && is_dynamodb_def(&D->defs[i]))
                target = &D->defs[i];
    }
    if (!target) {
        if (ncand == 0)
            dp_errf(errstr, errstr_size,
                    "no CREATE TABLE with 'connector' = 'dynamodb' (or a Feldera "
                    "dynamodb_output connector) in the SQL");
        else if (table_name_or_NULL)
            dp_errf(errstr, errstr_size, "no DynamoDB table named '%s' in the SQL (found: %s)",
                    table_name_or_NULL, names);
        else
            dp_errf(errstr, errstr_size, "the SQL declares %zu DynamoDB tables (%s): name the one to use",
                    ncand, names);
        goto out;
    }
    if (!fold && !dp_ddl_option(target, "connector")) {
        /* A Feldera program: Feldera folds unquoted names to lower case
         * (quoted ones keep their case), so read it again that way. Flink
         * DDL and `ddbpipe sql` stay case-sensitive. */
        dp_ddl_free(D);
        fold = 1;
        goto again;
    }
    for (size_t i = 0; i < D->notices.n; i++)
        dp_conf_notice_add(conf, "%s", D->notices.v[i]);
    if (dp_ddl_option(target, "connector"))
        rc = apply_flink(conf, target, errstr, errstr_size);
    else
        rc = apply_feldera(conf, D, target, errstr, errstr_size);
out:
    dp_ddl_free(D);
    return rc;
}
