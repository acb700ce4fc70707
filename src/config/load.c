/* Loading configuration text: YAML or JSON (sniffed) into a small tree with
 * line numbers, then applied in one of the dialects detected by shape:
 * canonical (nested mappings flatten with '.'), Feldera connector JSON, and
 * Estuary endpoint config / catalog. SQL DDL goes to table_def.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/json.h"
#include "common/util.h"
#include "config/conf.h"
#include "config/props.h"

#define CN_MAX_NODES 100000
#define CN_MAX_DEPTH 64
#define DP_CONF_MAX_FILE ((size_t)16 * 1024 * 1024)

typedef enum { CN_NULL, CN_SCALAR, CN_MAP, CN_SEQ } cn_type;
typedef enum { SK_STRING, SK_NUMBER, SK_BOOL } cn_skind;

typedef struct cnode {
    cn_type type;
    cn_skind skind;
    char *text; /* scalar */
    int line;   /* 1-based; 0 = unknown (JSON) */
    char **keys;
    struct cnode **kids;
    size_t n;
} cnode;

typedef struct ctx {
    const char *origin;
    size_t nodes;
    char *errstr;
    size_t errstr_size;
} ctx;

static void cn_free(cnode *n) {
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        cn_free(n->kids[i]);
    }
    free(n->keys);
    free(n->kids);
    free(n->text);
    free(n);
}

static cnode *cn_new(ctx *c, cn_type t, int line) {
    if (++c->nodes > CN_MAX_NODES)
        return NULL;
    cnode *n = calloc(1, sizeof *n);
    if (n) {
        n->type = t;
        n->line = line;
    }
    return n;
}

static int cn_add(cnode *parent, const char *key, size_t klen, cnode *kid) {
    char **nk = NULL;
    if (parent->type == CN_MAP) {
        nk = realloc(parent->keys, (parent->n + 1) * sizeof *nk);
        if (!nk)
            return -1;
        parent->keys = nk;
        parent->keys[parent->n] = NULL;
    }
    cnode **nn = realloc(parent->kids, (parent->n + 1) * sizeof *nn);
    if (!nn)
        return -1;
    parent->kids = nn;
    if (parent->type == CN_MAP) {
        char *k = malloc(klen + 1);
        if (!k)
            return -1;
        memcpy(k, key, klen);
        k[klen] = 0;
        parent->keys[parent->n] = k;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

static cnode *cn_get(const cnode *map, const char *key) {
    if (!map || map->type != CN_MAP)
        return NULL;
    for (size_t i = map->n; i-- > 0;)
        if (!strcmp(map->keys[i], key))
            return map->kids[i];
    return NULL;
}

static const char *cn_str(const cnode *n) {
    return n && n->type == CN_SCALAR ? n->text : NULL;
}

/* ------------------------------------------------------------ messages */

static void errloc(ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errloc(ctx *c, int line, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        dp_errf(c->errstr, c->errstr_size, "%s:%d: %s", c->origin, line, msg);
    else
        dp_errf(c->errstr, c->errstr_size, "%s: %s", c->origin, msg);
}

/* ------------------------------------------------------------ JSON -> tree */

static cnode *from_json(ctx *c, const dp_json *j, int depth) {
    cnode *n = NULL;
    if (depth > CN_MAX_DEPTH)
        return NULL;
    switch (j->type) {
    case DP_JSON_NULL:
        return cn_new(c, CN_NULL, 0);
    case DP_JSON_BOOL:
        if ((n = cn_new(c, CN_SCALAR, 0))) {
            n->skind = SK_BOOL;
            n->text = strdup(j->boolean ? "true" : "false");
        }
        break;
    case DP_JSON_NUMBER:
    case DP_JSON_STRING:
        if ((n = cn_new(c, CN_SCALAR, 0))) {
            n->skind = j->type == DP_JSON_NUMBER ? SK_NUMBER : SK_STRING;
            n->text = malloc(j->len + 1);
            if (n->text) {
                memcpy(n->text, j->str, j->len);
                n->text[j->len] = 0;
            }
        }
        break;
    case DP_JSON_ARRAY:
    case DP_JSON_OBJECT:
        if (!(n = cn_new(c, j->type == DP_JSON_ARRAY ? CN_SEQ : CN_MAP, 0)))
            return NULL;
        for (size_t i = 0; i < j->count; i++) {
            const dp_json *v = j->type == DP_JSON_ARRAY ? j->items[i] : j->members[i].value;
            cnode *k = from_json(c, v, depth + 1);
            if (!k || cn_add(n, j->type == DP_JSON_OBJECT ? j->members[i].key : NULL,
                             j->type == DP_JSON_OBJECT ? j->members[i].key_len : 0, k)) {
                cn_free(k);
                cn_free(n);
                return NULL;
            }
        }
        return n;
    }
    if (n && !n->text) {
        cn_free(n);
        n = NULL;
    }
    return n;
}

/* ------------------------------------------------------------ YAML -> tree */

static int plain_is_null(const char *s) {
    return !*s || !strcmp(s, "~") || !strcasecmp(s, "null");
}

static cnode *from_yaml(ctx *c, yaml_document_t *doc, yaml_node_t *y, int depth) {
    cnode *n = NULL;
    if (!y || depth > CN_MAX_DEPTH)
        return NULL;
    int line = (int)y->start_mark.line + 1;
    switch (y->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)y->data.scalar.value;
        int plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && plain_is_null(s))
            return cn_new(c, CN_NULL, line);
        if (!(n = cn_new(c, CN_SCALAR, line)))
            return NULL;
        n->skind = SK_STRING;
        if (plain && (!strcasecmp(s, "true") || !strcasecmp(s, "false")))
            n->skind = SK_BOOL;
        else if (plain && dp_json_number_text_valid(s, y->data.scalar.length))
            n->skind = SK_NUMBER;
        n->text = malloc(y->data.scalar.length + 1);
        if (!n->text) {
            cn_free(n);
            return NULL;
        }
        memcpy(n->text, s, y->data.scalar.length);
        n->text[y->data.scalar.length] = 0;
        return n;
    }
    case YAML_SEQUENCE_NODE:
        if (!(n = cn_new(c, CN_SEQ, line)))
            return NULL;
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top; it++) {
            cnode *k = from_yaml(c, doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!k || cn_add(n, NULL, 0, k)) {
                cn_free(k);
                cn_free(n);
                return NULL;
            }
        }
        return n;
    case YAML_MAPPING_NODE:
        if (!(n = cn_new(c, CN_MAP, line)))
            return NULL;
        for (yaml_node_pair_t *pr = y->data.mapping.pairs.start; pr < y->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = yaml_document_get_node(doc, pr->key);
            if (!kn || kn->type != YAML_SCALAR_NODE) {
                cn_free(n);
                return NULL;
            }
            cnode *k = from_yaml(c, doc, yaml_document_get_node(doc, pr->value), depth + 1);
            if (!k || cn_add(n, (const char *)kn->data.scalar.value, kn->data.scalar.length, k)) {
                cn_free(k);
                cn_free(n);
                return NULL;
            }
        }
        return n;
    default:
        return NULL;
    }
}

static ddbpipe_result_t parse_yaml(ctx *c, const char *text, size_t len, cnode **out) {
    yaml_parser_t parser;
    yaml_document_t doc;
    ddbpipe_result_t rc = DDBPIPE_ERR_PARSE;
    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return DDBPIPE_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        errloc(c, (int)parser.problem_mark.line + 1, "YAML: %s%s%s",
               parser.problem ? parser.problem : "error", parser.context ? " " : "",
               parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return DDBPIPE_ERR_PARSE;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        *out = cn_new(c, CN_MAP, 1); /* empty file: empty config */
        rc = *out ? DDBPIPE_OK : DDBPIPE_ERR_NOMEM;
    } else {
        *out = from_yaml(c, &doc, root, 0);
        if (!*out) {
            if (c->nodes > CN_MAX_NODES)
                errloc(c, 0, "YAML: more than %d nodes (alias expansion?)", CN_MAX_NODES);
            else
                errloc(c, 0, "YAML: unsupported structure (non-scalar mapping key or nesting deeper than %d)",
                       CN_MAX_DEPTH);
        } else {
            rc = DDBPIPE_OK;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* ------------------------------------------------------------ values */

static char *expand_env(ctx *c, const char *key, const char *s, int line, ddbpipe_result_t *rc) {
    char msg[512] = "";
    char *out = NULL;
    *rc = dp_conf_expand_env(key, s, &out, msg, sizeof msg);
    if (*rc)
        errloc(c, line, "%s", msg);
    return out;
}

static ddbpipe_result_t to_json_text(const cnode *n, dp_buf *b, int depth) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    if (depth > CN_MAX_DEPTH)
        return DDBPIPE_ERR_PARSE;
    switch (n->type) {
    case CN_NULL:
        return dp_buf_puts(b, "null");
    case CN_SCALAR:
        if (n->skind == SK_STRING)
            return dp_json_write_cstr(b, n->text);
        return dp_buf_puts(b, n->text);
    case CN_SEQ:
    case CN_MAP:
        rc = dp_buf_putc(b, n->type == CN_MAP ? '{' : '[');
        for (size_t i = 0; i < n->n && !rc; i++) {
            if (i)
                rc = dp_buf_putc(b, ',');
            if (!rc && n->type == CN_MAP) {
                rc = dp_json_write_cstr(b, n->keys[i]);
                if (!rc)
                    rc = dp_buf_putc(b, ':');
            }
            if (!rc)
                rc = to_json_text(n->kids[i], b, depth + 1);
        }
        if (!rc)
            rc = dp_buf_putc(b, n->type == CN_MAP ? '}' : ']');
        return rc;
    }
    return rc;
}

/* Set one property from a tree value; the message is prefixed with the
 * location. */
static ddbpipe_result_t set_value(ctx *c, ddbpipe_conf_t *conf, const char *key, const cnode *v) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    char *text = NULL;
    char msg[512];
    int idx = dp_prop_find(key);
    const dp_prop *p = idx >= 0 ? dp_prop_at((size_t)idx) : NULL;
    dp_buf b;
    dp_buf_init(&b, (size_t)1 << 20);
    if (v->type == CN_SCALAR) {
        text = expand_env(c, key, v->text, v->line, &rc);
        if (rc)
            goto out;
    } else if (v->type == CN_SEQ && p && (p->type == DP_PT_LIST || (p->flags & DP_PF_COLUMNS))) {
        for (size_t i = 0; i < v->n && !rc; i++) {
            const cnode *e = v->kids[i];
            if (i)
                rc = dp_buf_puts(&b, p->type == DP_PT_LIST ? "," : ", ");
            if (!rc && e->type == CN_SCALAR)
                rc = dp_buf_puts(&b, e->text);
            else if (!rc && e->type == CN_MAP && e->n == 1 && (p->flags & DP_PF_COLUMNS) &&
                     cn_str(e->kids[0])) {
                rc = dp_conf_column_name_append(&b, e->keys[0]);
                if (!rc)
                    rc = dp_buf_printf(&b, " %s", e->kids[0]->text);
            } else if (!rc) {
                errloc(c, e->line, "invalid value for '%s': list elements must be single values", key);
                rc = DDBPIPE_ERR_CONFIG;
            }
        }
        if (rc)
            goto out;
        text = dp_buf_steal(&b);
    } else if (v->type == CN_MAP && p && (p->flags & DP_PF_COLUMNS)) {
        for (size_t i = 0; i < v->n && !rc; i++) {
            if (!cn_str(v->kids[i])) {
                errloc(c, v->kids[i]->line, "invalid value for 'columns': type of column '%s' must be text",
                       v->keys[i]);
                rc = DDBPIPE_ERR_CONFIG;
                goto out;
            }
            rc = dp_buf_puts(&b, i ? ", " : "");
            if (!rc)
                rc = dp_conf_column_name_append(&b, v->keys[i]);
            if (!rc)
                rc = dp_buf_printf(&b, " %s", v->kids[i]->text);
        }
        if (rc)
            goto out;
        text = dp_buf_steal(&b);
    } else if (v->type != CN_NULL && p && (p->flags & DP_PF_JSON)) {
        if ((rc = to_json_text(v, &b, 0)))
            goto out;
        text = dp_buf_steal(&b);
    } else if (v->type != CN_NULL && p) {
        errloc(c, v->line, "invalid value for '%s': expected a single value, got a %s", key,
               v->type == CN_MAP ? "mapping" : "list");
        rc = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    if (v->type != CN_NULL && !text) {
        text = strdup("");
        if (!text) {
            rc = DDBPIPE_ERR_NOMEM;
            goto out;
        }
    }
    msg[0] = 0;
    rc = ddbpipe_conf_set(conf, key, text, msg, sizeof msg);
    if (rc)
        errloc(c, v->line, "%s", msg);
out:
    if (text && p && p->type == DP_PT_SECRET)
        memset(text, 0, strlen(text));
    free(text);
    dp_buf_free(&b);
    return rc;
}

/* Canonical dialect: keys are property names or aliases; a nested mapping
 * that is not itself a property flattens with '.'. */
static ddbpipe_result_t apply_map(ctx *c, ddbpipe_conf_t *conf, const cnode *map, const char *prefix) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    for (size_t i = 0; i < map->n && !rc; i++) {
        char full[512];
        if (prefix)
            snprintf(full, sizeof full, "%s.%s", prefix, map->keys[i]);
        else
            snprintf(full, sizeof full, "%s", map->keys[i]);
        const cnode *v = map->kids[i];
        if (dp_prop_find(full) < 0 && v->type == CN_MAP && v->n > 0)
            rc = apply_map(c, conf, v, full);
        else
            rc = set_value(c, conf, full, v);
    }
    return rc;
}

/* ------------------------------------------------------------ Feldera */

static ddbpipe_result_t apply_feldera_connector(ctx *c, ddbpipe_conf_t *conf, const cnode *conn) {
    const cnode *tr = cn_get(conn, "transport");
    const char *name = cn_str(cn_get(tr, "name"));
    if (!tr || tr->type != CN_MAP || !name) {
        errloc(c, conn->line, "Feldera connector without transport.name");
        return DDBPIPE_ERR_CONFIG;
    }
    if (strcmp(name, "dynamodb_output") != 0) {
        errloc(c, tr->line, "Feldera transport '%s' is not dynamodb_output", name);
        return DDBPIPE_ERR_CONFIG;
    }
    for (size_t i = 0; i < conn->n; i++) {
        const char *k = conn->keys[i];
        if (!strcmp(k, "transport"))
            continue;
        if (!strcmp(k, "index"))
            dp_conf_notice_add(conf,
                               "Feldera index '%s': ddbpipe takes the key columns from 'key' or from the "
                               "table's key schema (DescribeTable)",
                               cn_str(conn->kids[i]) ? conn->kids[i]->text : "?");
        else
            dp_conf_notice_add(conf, "Feldera connector option '%s' has no effect in ddbpipe", k);
    }
    const cnode *cfg = cn_get(tr, "config");
    if (!cfg || cfg->type == CN_NULL)
        return DDBPIPE_OK;
    if (cfg->type != CN_MAP) {
        errloc(c, cfg->line, "Feldera transport config must be an object");
        return DDBPIPE_ERR_CONFIG;
    }
    return apply_map(c, conf, cfg, NULL);
}

static ddbpipe_result_t apply_feldera_list(ctx *c, ddbpipe_conf_t *conf, const cnode *seq) {
    const cnode *found = NULL;
    char names[256] = "";
    for (size_t i = 0; i < seq->n; i++) {
        const cnode *conn = seq->kids[i];
        const char *name = cn_str(cn_get(cn_get(conn, "transport"), "name"));
        if (name && !strcmp(name, "dynamodb_output")) {
            if (found) {
                errloc(c, conn->line,
                       "the connector list has more than one dynamodb_output connector; ddbpipe "
                       "runs one: keep one in this file");
                return DDBPIPE_ERR_CONFIG;
            }
            found = conn;
        } else if (strlen(names) + 40 < sizeof names) {
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
                     name ? name : "?");
        }
    }
    if (!found) {
        errloc(c, seq->line, "no dynamodb_output connector in the connector list (found: %s)",
               names[0] ? names : "none");
        return DDBPIPE_ERR_CONFIG;
    }
    return apply_feldera_connector(c, conf, found);
}

/* ------------------------------------------------------------ Estuary */

/* The current endpoint spec's credentials object:
 *   {auth_type: AWSAccessKey, aws_access_key_id, aws_secret_access_key}
 *   {auth_type: AWSIAM, aws_region, aws_role_arn}: the role is assumed with
 *   credentials from the default chain. */
static ddbpipe_result_t apply_estuary_credentials(ctx *c, ddbpipe_conf_t *conf, const cnode *cr) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    const char *type = cn_str(cn_get(cr, "auth_type"));
    static const char *const access_keys[] = {"aws_access_key_id", "aws_secret_access_key", NULL};
    static const char *const iam_keys[] = {"aws_role_arn", "aws_region", NULL};
    const char *const *need;
    if (cr->type != CN_MAP || !type) {
        errloc(c, cr->line, "Estuary 'credentials' needs auth_type: AWSAccessKey or AWSIAM");
        return DDBPIPE_ERR_CONFIG;
    }
    if (!strcmp(type, "AWSAccessKey"))
        need = access_keys;
    else if (!strcmp(type, "AWSIAM"))
        need = iam_keys;
    else {
        errloc(c, cn_get(cr, "auth_type")->line,
               "Estuary credentials auth_type '%s' is not AWSAccessKey or AWSIAM", type);
        return DDBPIPE_ERR_CONFIG;
    }
    for (size_t i = 0; need[i]; i++)
        if (!cn_str(cn_get(cr, need[i]))) {
            errloc(c, cr->line, "Estuary credentials with auth_type %s need '%s'", type, need[i]);
            return DDBPIPE_ERR_CONFIG;
        }
    for (size_t i = 0; i < cr->n && !rc; i++) {
        const char *k = cr->keys[i];
        const cnode *v = cr->kids[i];
        if (!strcmp(k, "auth_type"))
            continue;
        if (need == access_keys && (!strcmp(k, "aws_access_key_id") || !strcmp(k, "aws_secret_access_key") ||
                                    !strcmp(k, "aws_session_token")))
            rc = set_value(c, conf, k, v);
        else if (need == iam_keys && !strcmp(k, "aws_role_arn"))
            rc = set_value(c, conf, "role_arn", v);
        else if (need == iam_keys && !strcmp(k, "aws_region"))
            rc = set_value(c, conf, "region", v);
        else {
            errloc(c, v->line,
                   "unknown key '%s' in Estuary credentials with auth_type %s (known: auth_type, %s, %s)", k,
                   type, need[0], need[1]);
            rc = DDBPIPE_ERR_CONFIG;
        }
    }
    if (!rc && need == iam_keys) {
        /* assume aws_role_arn over the default chain (Flink's ASSUME_ROLE) */
        char msg[256] = "";
        rc = ddbpipe_conf_set(conf, "credentials_provider", "ASSUME_ROLE", msg, sizeof msg);
        if (rc)
            errloc(c, cr->line, "%s", msg);
    }
    return rc;
}

/* A binding's resource.table with placeholders expanded ("" when it has none
 * or a variable is unset: such a binding cannot be chosen by name). */
static char *binding_table(const cnode *b) {
    const char *t = cn_str(cn_get(cn_get(b, "resource"), "table"));
    char *x = NULL, msg[8];
    if (!t || dp_conf_expand_env("table", t, &x, msg, sizeof msg) != DDBPIPE_OK)
        return strdup("");
    return x;
}

static ddbpipe_result_t apply_estuary(ctx *c, ddbpipe_conf_t *conf, const cnode *root) {
    ddbpipe_result_t rc;
    const cnode *endpoint_cfg = root, *bindings = cn_get(root, "bindings");
    const cnode *collections = cn_get(root, "collections");
    const cnode *mats = cn_get(root, "materializations");
    char msg[512];
    if (mats) {
        const cnode *mat = NULL;
        if (mats->type != CN_MAP || mats->n == 0) {
            errloc(c, mats->line, "Estuary 'materializations' must be a non-empty mapping");
            return DDBPIPE_ERR_CONFIG;
        }
        for (size_t i = 0; i < mats->n; i++) {
            const char *img = cn_str(cn_get(cn_get(cn_get(mats->kids[i], "endpoint"), "connector"), "image"));
            if (mats->n == 1 || (img && strstr(img, "materialize-dynamodb"))) {
                if (mat) {
                    errloc(c, mats->kids[i]->line,
                           "more than one DynamoDB materialization; ddbpipe runs one: "
                           "keep one in this file");
                    return DDBPIPE_ERR_CONFIG;
                }
                mat = mats->kids[i];
            }
        }
        if (!mat) {
            errloc(c, mats->line, "no materialization uses the materialize-dynamodb connector image");
            return DDBPIPE_ERR_CONFIG;
        }
        const cnode *conn = cn_get(cn_get(mat, "endpoint"), "connector");
        endpoint_cfg = cn_get(conn, "config");
        if (!endpoint_cfg || endpoint_cfg->type != CN_MAP) {
            errloc(c, mat->line, "Estuary materialization without endpoint.connector.config");
            return DDBPIPE_ERR_CONFIG;
        }
        bindings = cn_get(mat, "bindings");
        for (size_t i = 0; i < mat->n; i++)
            if (strcmp(mat->keys[i], "endpoint") != 0 && strcmp(mat->keys[i], "bindings") != 0)
                dp_conf_notice_add(conf, "Estuary materialization option '%s' has no effect in ddbpipe",
                                   mat->keys[i]);
        for (size_t i = 0; i < root->n; i++)
            if (strcmp(root->keys[i], "materializations") != 0 && strcmp(root->keys[i], "collections") != 0)
                dp_conf_notice_add(conf, "Estuary catalog section '%s' has no effect in ddbpipe",
                                   root->keys[i]);
    }
    /* Endpoint config: awsAccessKeyId, awsSecretAccessKey, region,
     * advanced.endpoint (aliases in the table). */
    for (size_t i = 0; i < endpoint_cfg->n; i++) {
        const char *k = endpoint_cfg->keys[i];
        if (!strcmp(k, "bindings") || !strcmp(k, "collections"))
            continue;
        const cnode *v = endpoint_cfg->kids[i];
        if (!strcmp(k, "credentials") && v->type == CN_MAP)
            rc = apply_estuary_credentials(c, conf, v);
        else if (dp_prop_find(k) < 0 && v->type == CN_MAP)
            rc = apply_map(c, conf, v, k);
        else
            rc = set_value(c, conf, k, v);
        if (rc)
            return rc;
    }
    /* Estuary's rules: the table is created when missing, the document is
     * stored whole as flow_document, standard updates load and merge. */
    if (!ddbpipe_conf_is_set(conf, "create_table_if_missing"))
        ddbpipe_conf_set(conf, "create_table_if_missing", "true", NULL, 0);
    if (!ddbpipe_conf_is_set(conf, "document_attribute"))
        ddbpipe_conf_set(conf, "document_attribute", "flow_document", NULL, 0);
    if (!bindings)
        return ddbpipe_conf_set(conf, "update_mode", "merge", NULL, 0);
    if (bindings->type != CN_SEQ || bindings->n == 0) {
        errloc(c, bindings->line, "Estuary 'bindings' must be a non-empty list");
        return DDBPIPE_ERR_CONFIG;
    }
    const cnode *b = NULL;
    const char *want = ddbpipe_conf_is_set(conf, "table") ? ddbpipe_conf_get(conf, "table") : NULL;
    if (bindings->n == 1) {
        b = bindings->kids[0];
    } else {
        char names[256] = "";
        for (size_t i = 0; i < bindings->n; i++) {
            char *t = binding_table(bindings->kids[i]);
            if (!t)
                return DDBPIPE_ERR_NOMEM;
            if (*t && want && !strcmp(t, want))
                b = bindings->kids[i];
            if (*t && strlen(names) + strlen(t) + 3 < sizeof names)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
                         t);
            free(t);
        }
        if (!b && want) {
            errloc(c, bindings->line,
                   "Estuary config has %zu bindings (%s), none for table '%s': choose one with "
                   "--set table=NAME",
                   bindings->n, names, want);
            return DDBPIPE_ERR_CONFIG;
        }
        if (!b) {
            errloc(c, bindings->line,
                   "Estuary config has %zu bindings (%s); ddbpipe writes one table per run: "
                   "choose one with --set table=NAME",
                   bindings->n, names);
            return DDBPIPE_ERR_CONFIG;
        }
    }
    const cnode *res = cn_get(b, "resource");
    if (!res || res->type != CN_MAP) {
        errloc(c, b->line, "Estuary binding without 'resource'");
        return DDBPIPE_ERR_CONFIG;
    }
    int delta = 0;
    for (size_t i = 0; i < res->n; i++) {
        const char *k = res->keys[i];
        const cnode *v = res->kids[i];
        if (!strcmp(k, "table")) {
            if ((rc = set_value(c, conf, "table", v)))
                return rc;
        } else if (!strcmp(k, "delta_updates")) {
            const char *t = cn_str(v);
            if (t && (!strcasecmp(t, "true") || !strcasecmp(t, "false")))
                delta = !strcasecmp(t, "true");
            else if (v->type != CN_NULL) {
                errloc(c, v->line, "invalid value for 'delta_updates': expected true or false");
                return DDBPIPE_ERR_CONFIG;
            }
        } else {
            errloc(c, v->line, "unknown Estuary resource key '%s' (known: table, delta_updates)", k);
            return DDBPIPE_ERR_CONFIG;
        }
    }
    /* delta_updates: blind writes; otherwise Estuary's standard updates. */
    ddbpipe_conf_set(conf, "update_mode", delta ? "put" : "merge", NULL, 0);
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->keys[i], "resource") != 0 && strcmp(b->keys[i], "source") != 0)
            dp_conf_notice_add(conf, "Estuary binding option '%s' has no effect in ddbpipe", b->keys[i]);
    /* Collection key from the catalog's collections section, if present. */
    const cnode *src = cn_get(b, "source");
    const char *src_name = cn_str(src) ? src->text : cn_str(cn_get(src, "name"));
    const cnode *coll = src_name ? cn_get(collections, src_name) : NULL;
    const cnode *key = cn_get(coll, "key");
    if (key && key->type == CN_SEQ) {
        if (key->n > 2) {
            errloc(c, key->line,
                   "Estuary collection '%s' has %zu keys; a DynamoDB table has at most 2 (partition "
                   "key and sort key): derive a collection with at most 2 keys and materialize that",
                   src_name, key->n);
            return DDBPIPE_ERR_CONFIG;
        }
        char kt[600] = "";
        for (size_t i = 0; i < key->n; i++) {
            const char *ptr = cn_str(key->kids[i]);
            if (!ptr || !*ptr) {
                errloc(c, key->line, "Estuary collection key must be JSON pointers like /id");
                return DDBPIPE_ERR_CONFIG;
            }
            if (*ptr == '/')
                ptr++;
            snprintf(kt + strlen(kt), sizeof kt - strlen(kt), "%s%s", i ? "," : "", ptr);
        }
        msg[0] = 0;
        if ((rc = ddbpipe_conf_set(conf, "key", kt, msg, sizeof msg))) {
            errloc(c, key->line, "%s", msg);
            return rc;
        }
    } else if (src_name) {
        dp_conf_notice_add(conf,
                           "Estuary collection '%s' is not in this file: key columns come from 'key' or the "
                           "table's key schema",
                           src_name);
    }
    return DDBPIPE_OK;
}

/* ------------------------------------------------------------ entry */

static int looks_estuary(const cnode *root) {
    return cn_get(root, "awsAccessKeyId") || cn_get(root, "awsSecretAccessKey") || cn_get(root, "bindings") ||
           cn_get(root, "materializations") || cn_get(cn_get(root, "credentials"), "auth_type");
}

/* First significant word, skipping whitespace and comments of any of the
 * formats: "CREATE" means SQL DDL. */
static int looks_sql(const char *t, size_t len) {
    size_t i = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)t[i]))
            i++;
        if (i + 1 < len && t[i] == '-' && t[i + 1] == '-') {
            while (i < len && t[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < len && t[i] == '/' && t[i + 1] == '*') {
            return 1;
        }
        break;
    }
    static const char *words[] = {"CREATE", "INSERT", "SELECT", "DELETE"};
    for (size_t w = 0; w < 4; w++) {
        size_t l = strlen(words[w]);
        if (i + l < len && !strncasecmp(t + i, words[w], l) && isspace((unsigned char)t[i + l]))
            return 1;
    }
    return 0;
}

ddbpipe_result_t dp_conf_load_text(ddbpipe_conf_t *conf, const char *text, size_t len, const char *origin,
                                   char *errstr, size_t errstr_size) {
    ctx c = {origin ? origin : "config", 0, errstr, errstr_size};
    cnode *root = NULL;
    ddbpipe_result_t rc;
    if (!conf || (!text && len))
        return DDBPIPE_ERR_INVALID_ARG;
    if (len > DP_CONF_MAX_FILE) {
        errloc(&c, 0, "configuration larger than %zu bytes", DP_CONF_MAX_FILE);
        return DDBPIPE_ERR_TOO_LARGE;
    }
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM */
        text += 3;
        len -= 3;
    }
    if (looks_sql(text, len)) {
        char msg[512] = "";
        rc = dp_conf_load_sql_ddl(conf, text, len, NULL, msg, sizeof msg);
        if (rc)
            errloc(&c, 0, "%s", msg);
        return rc;
    }
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    if (i < len && (text[i] == '{' || text[i] == '[')) {
        dp_json_error jerr;
        memset(&jerr, 0, sizeof jerr);
        dp_json_doc *doc = dp_json_parse(text, len, &jerr);
        if (doc) {
            root = from_json(&c, dp_json_root(doc), 0);
            dp_json_doc_free(doc);
            if (!root) {
                errloc(&c, 0, "JSON: too large or too deeply nested");
                return DDBPIPE_ERR_PARSE;
            }
        } else {
            int line = 1;
            for (size_t k = 0; k < jerr.offset && k < len; k++)
                line += text[k] == '\n';
            errloc(&c, line, "JSON: %s (at byte %zu)", jerr.message, jerr.offset);
            return DDBPIPE_ERR_PARSE;
        }
    } else if ((rc = parse_yaml(&c, text, len, &root))) {
        return rc;
    }
    if (root->type == CN_SEQ) {
        rc = apply_feldera_list(&c, conf, root);
    } else if (root->type != CN_MAP) {
        errloc(&c, root->line, "configuration must be a mapping of keys to values");
        rc = DDBPIPE_ERR_CONFIG;
    } else if (cn_get(root, "transport")) {
        rc = apply_feldera_connector(&c, conf, root);
    } else if (looks_estuary(root)) {
        rc = apply_estuary(&c, conf, root);
    } else {
        rc = apply_map(&c, conf, root, NULL);
    }
    cn_free(root);
    return rc;
}

ddbpipe_result_t ddbpipe_conf_load_file(ddbpipe_conf_t *conf, const char *path, char *errstr,
                                        size_t errstr_size) {
    size_t len = 0;
    if (!conf || !path)
        return DDBPIPE_ERR_INVALID_ARG;
    errno = 0;
    char *text = dp_read_file(path, DP_CONF_MAX_FILE, &len);
    if (!text) {
        dp_errf(errstr, errstr_size, "%s: cannot read: %s", path, errno ? strerror(errno) : "too large");
        return DDBPIPE_ERR_IO;
    }
    ddbpipe_result_t rc = dp_conf_load_text(conf, text, len, path, errstr, errstr_size);
    free(text);
    return rc;
}
