/* Typed settings: every row of the property table reaches its own field of
 * dp_settings (and no other), defaults are typed from the table's default
 * text, enum fields follow the C enums, and no property name is spelled
 * outside src/config/ (a scan of src/ and cli/). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "common/util.h"
#include "config/conf.h"
#include "config/props.h"
#include "config/settings.h"
#include "ddb/client.h"

static char err[1024];

static void *field(dp_settings *s, const dp_prop *p) {
    return (char *)s + p->offset;
}

/* A valid non-default value for row p, and what its typed field must hold. */
static const char *sample(const dp_prop *p, char *buf, size_t n, int64_t *want_i) {
    *want_i = 0;
    switch (p->type) {
    case DP_PT_INT:
    case DP_PT_DURATION: {
        int64_t v = p->max > p->min + 7 ? p->min + 7 : p->max;
        if (p->info.dflt && v == strtoll(p->info.dflt, NULL, 10))
            v = p->min;
        snprintf(buf, n, "%lld", (long long)v);
        *want_i = v;
        return buf;
    }
    case DP_PT_BOOL:
        *want_i = !(p->info.dflt && strcmp(p->info.dflt, "true") == 0);
        return *want_i ? "true" : "false";
    case DP_PT_ENUM: {
        /* the last value of the range: index = number of '|' */
        const char *last = strrchr(p->info.range, '|');
        int idx = 0;
        for (const char *c = p->info.range; *c; c++)
            idx += *c == '|';
        snprintf(buf, n, "%s", last ? last + 1 : p->info.range);
        *want_i = idx;
        return buf;
    }
    case DP_PT_LIST:
        return (p->flags & DP_PF_KEY) ? "pk_x,sk_x" : "col_a,col_b";
    case DP_PT_SECRET:
        return "s3cr3t-value";
    case DP_PT_STRING:
        if (p->flags & DP_PF_URL)
            return "http://127.0.0.1:9";
        if (p->flags & DP_PF_JSON)
            return "{\"#n\":\"name\"}";
        if (p->flags & DP_PF_COLUMNS)
            return "a BIGINT, b VARCHAR";
        if (p->flags & DP_PF_DECIMAL)
            return "0.625";
        if (p->offset == offsetof(dp_settings, table))
            return "some_table";
        if (p->offset == offsetof(dp_settings, ca_file))
            return "/dev/null";
        snprintf(buf, n, "v_%s", p->info.name);
        return buf;
    }
    return NULL;
}

static int field_equal(const dp_prop *p, dp_settings *a, dp_settings *b) {
    switch (dp_prop_field_kind(p)) {
    case DP_FK_STR: {
        const char *x = *(const char **)field(a, p), *y = *(const char **)field(b, p);
        return (!x && !y) || (x && y && strcmp(x, y) == 0);
    }
    case DP_FK_I64:
        return *(int64_t *)field(a, p) == *(int64_t *)field(b, p);
    default:
        return *(int *)field(a, p) == *(int *)field(b, p);
    }
}

/* Setting a row changes its own field, marks it set, and leaves every other
 * field at its default (except the fields the row is documented to fill). */
static void test_every_row_reaches_its_field(void **state) {
    (void)state;
    dp_settings dflt;
    dp_conf_settings(NULL, &dflt);
    assert_true(dp_prop_count() > 40);
    for (size_t i = 0; i < dp_prop_count(); i++) {
        const dp_prop *p = dp_prop_at(i);
        char buf[128];
        int64_t want_i;
        const char *v = sample(p, buf, sizeof buf, &want_i);
        ddbpipe_conf_t *c = ddbpipe_conf_new();
        assert_non_null(c);
        if (ddbpipe_conf_set(c, p->info.name, v, err, sizeof err) != DDBPIPE_OK)
            fail_msg("%s = %s: %s", p->info.name, v, err);
        dp_settings s;
        dp_conf_settings(c, &s);
        if (!dp_settings_is_set(&s, field(&s, p)))
            fail_msg("%s: not marked set", p->info.name);
        switch (dp_prop_field_kind(p)) {
        case DP_FK_STR: {
            const char *got = *(const char **)field(&s, p);
            if (!got)
                fail_msg("%s: field is NULL", p->info.name);
            if (p->flags & DP_PF_COLUMNS)
                assert_string_equal(got, "a BIGINT, b VARCHAR");
            else if (p->type == DP_PT_LIST)
                assert_string_equal(got, v);
            else if (strcmp(got, v) != 0)
                fail_msg("%s: field '%s', set '%s'", p->info.name, got, v);
            break;
        }
        case DP_FK_I64:
            if (*(int64_t *)field(&s, p) != want_i)
                fail_msg("%s: field %lld, want %lld", p->info.name, (long long)*(int64_t *)field(&s, p),
                         (long long)want_i);
            break;
        case DP_FK_BOOL:
        case DP_FK_ENUM:
            if (*(int *)field(&s, p) != (int)want_i)
                fail_msg("%s: field %d, want %d", p->info.name, *(int *)field(&s, p), (int)want_i);
            break;
        }
        for (size_t j = 0; j < dp_prop_count(); j++) {
            const dp_prop *q = dp_prop_at(j);
            if (j == i || field_equal(q, &s, &dflt))
                continue;
            int key_split = (p->flags & DP_PF_KEY) && (q->offset == offsetof(dp_settings, partition_key) ||
                                                       q->offset == offsetof(dp_settings, sort_key));
            int batch_follows = p->offset == offsetof(dp_settings, write_mode) &&
                                q->offset == offsetof(dp_settings, batch_size);
            if (!key_split && !batch_follows)
                fail_msg("setting %s also changed %s", p->info.name, q->info.name);
        }
        /* Two rows never share a field. */
        for (size_t j = 0; j < i; j++)
            if (dp_prop_at(j)->offset == p->offset)
                fail_msg("%s and %s bind the same field", dp_prop_at(j)->info.name, p->info.name);
        /* Aliases reach the same field. */
        if (p->info.aliases) {
            char alias[128];
            size_t l = strcspn(p->info.aliases, ",");
            snprintf(alias, sizeof alias, "%.*s", (int)l, p->info.aliases);
            ddbpipe_conf_t *c2 = ddbpipe_conf_new();
            assert_non_null(c2);
            if (ddbpipe_conf_set(c2, alias, v, err, sizeof err) != DDBPIPE_OK)
                fail_msg("alias %s = %s: %s", alias, v, err);
            dp_settings s2;
            dp_conf_settings(c2, &s2);
            if (!field_equal(p, &s, &s2))
                fail_msg("alias %s does not reach %s", alias, p->info.name);
            ddbpipe_conf_destroy(c2);
        }
        /* Setting null goes back to the default. */
        if (!(p->flags & DP_PF_NULLABLE)) {
            assert_int_equal(ddbpipe_conf_set(c, p->info.name, NULL, err, sizeof err), DDBPIPE_OK);
            dp_conf_settings(c, &s);
            if (!field_equal(p, &s, &dflt) || dp_settings_is_set(&s, field(&s, p)))
                fail_msg("%s: null does not restore the default", p->info.name);
        }
        ddbpipe_conf_destroy(c);
    }
}

/* A default is written once, as text in the table, and typed from it. */
static void test_defaults_are_typed_from_the_table(void **state) {
    (void)state;
    dp_settings s;
    dp_conf_settings(NULL, &s);
    for (size_t i = 0; i < dp_prop_count(); i++) {
        const dp_prop *p = dp_prop_at(i);
        const char *d = p->info.dflt;
        if (!d || (p->flags & DP_PF_DERIVED))
            continue;
        switch (dp_prop_field_kind(p)) {
        case DP_FK_I64:
            if (*(int64_t *)field(&s, p) != strtoll(d, NULL, 10))
                fail_msg("%s: default %s typed as %lld", p->info.name, d,
                         (long long)*(int64_t *)field(&s, p));
            break;
        case DP_FK_BOOL:
            assert_int_equal(*(int *)field(&s, p), strcmp(d, "true") == 0);
            break;
        case DP_FK_ENUM: {
            const char *t = dp_settings_enum_text(&s, field(&s, p));
            if (!t || strcmp(t, d) != 0)
                fail_msg("%s: default %s typed as %s", p->info.name, d, t ? t : "(none)");
            break;
        }
        case DP_FK_STR:
            assert_string_equal(*(const char **)field(&s, p), d);
            break;
        }
    }
    assert_int_equal(s.batch_size, 25);
    assert_int_equal(s.stream_view_type, DP_STREAM_VIEW_NONE);
    assert_int_equal(s.read_capacity, 0);
}

static int enum_of(const char *name, const char *value) {
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    dp_settings s;
    if (ddbpipe_conf_set(c, name, value, err, sizeof err) != DDBPIPE_OK)
        fail_msg("%s = %s: %s", name, value, err);
    dp_conf_settings(c, &s);
    ddbpipe_conf_destroy(c);
    for (size_t i = 0; i < dp_prop_count(); i++)
        if (strcmp(dp_prop_at(i)->info.name, name) == 0)
            return *(int *)((char *)&s + dp_prop_at(i)->offset);
    fail_msg("no row %s", name);
    return -2;
}

/* The C enums list values in the order of the rows' ranges. */
static void test_enums_follow_the_ranges(void **state) {
    (void)state;
    assert_int_equal(enum_of("credentials_provider", "auto"), DP_CREDS_AUTO);
    assert_int_equal(enum_of("credentials_provider", "BASIC"), DP_CREDS_STATIC);
    assert_int_equal(enum_of("credentials_provider", "ENV_VAR"), DP_CREDS_ENVIRONMENT);
    assert_int_equal(enum_of("credentials_provider", "web-identity"), DP_CREDS_WEB_IDENTITY);
    assert_int_equal(enum_of("credentials_provider", "PROFILE"), DP_CREDS_PROFILE);
    assert_int_equal(enum_of("credentials_provider", "ecs"), DP_CREDS_CONTAINER);
    assert_int_equal(enum_of("credentials_provider", "imds"), DP_CREDS_IMDS);
    assert_int_equal(enum_of("retry_mode", "standard"), DP_RETRY_MODE_STANDARD);
    assert_int_equal(enum_of("retry_mode", "adaptive"), DP_RETRY_MODE_ADAPTIVE);
    assert_int_equal(enum_of("log_level", "error"), DDBPIPE_LOG_ERROR);
    assert_int_equal(enum_of("log_level", "warning"), DDBPIPE_LOG_WARN);
    assert_int_equal(enum_of("log_level", "info"), DDBPIPE_LOG_INFO);
    assert_int_equal(enum_of("log_level", "debug"), DDBPIPE_LOG_DEBUG);
    assert_int_equal(enum_of("partition_key_type", "S"), DP_KEY_TYPE_S);
    assert_int_equal(enum_of("partition_key_type", "number"), DP_KEY_TYPE_N);
    assert_int_equal(enum_of("sort_key_type", "B"), DP_KEY_TYPE_B);
    assert_int_equal(enum_of("billing_mode", "on-demand"), DP_BILLING_PAY_PER_REQUEST);
    assert_int_equal(enum_of("billing_mode", "PROVISIONED"), DP_BILLING_PROVISIONED);
    assert_int_equal(enum_of("stream_view_type", "NEW_IMAGE"), DP_STREAM_VIEW_NEW_IMAGE);
    assert_int_equal(enum_of("stream_view_type", "OLD_IMAGE"), DP_STREAM_VIEW_OLD_IMAGE);
    assert_int_equal(enum_of("stream_view_type", "NEW_AND_OLD_IMAGES"), DP_STREAM_VIEW_NEW_AND_OLD_IMAGES);
    assert_int_equal(enum_of("stream_view_type", "KEYS_ONLY"), DP_STREAM_VIEW_KEYS_ONLY);
    assert_int_equal(enum_of("write_mode", "batch"), DP_WRITE_MODE_BATCH);
    assert_int_equal(enum_of("write_mode", "transactional"), DP_WRITE_MODE_TRANSACTIONAL);
    assert_int_equal(enum_of("update_mode", "put"), DP_UPDATE_MODE_PUT);
    assert_int_equal(enum_of("update_mode", "merge"), DP_UPDATE_MODE_MERGE);
    assert_int_equal(enum_of("on_trimmed_data", "stop"), DP_ON_TRIMMED_STOP);
    assert_int_equal(enum_of("on_trimmed_data", "continue"), DP_ON_TRIMMED_CONTINUE);
    assert_int_equal(dp_key_type_char(DP_KEY_TYPE_N), 'N');
    assert_int_equal(dp_key_type_char(DP_KEY_TYPE_B), 'B');
    assert_int_equal(dp_key_type_char(DP_KEY_TYPE_S), 'S');
}

/* One default for retry_mode: adaptive (since issue 15; it was standard), in
 * the table, the DynamoDB client options and what a configuration without
 * the key gives. */
static void test_retry_mode_has_one_default(void **state) {
    (void)state;
    dp_settings s;
    dp_conf_settings(NULL, &s);
    assert_int_equal(s.retry_mode, DP_RETRY_MODE_ADAPTIVE);
    dp_ddb_options o;
    dp_ddb_options_init(&o);
    assert_int_equal(o.adaptive, 1);
}

/* Typed values parse once, at set time, with the unit forms. */
static void test_values_parse_once(void **state) {
    (void)state;
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    dp_settings s;
    assert_int_equal(ddbpipe_conf_set(c, "flush_interval_ms", "5 s", err, sizeof err), DDBPIPE_OK);
    assert_int_equal(ddbpipe_conf_set(c, "max_retries", "null", err, sizeof err), DDBPIPE_OK);
    assert_int_equal(ddbpipe_conf_set(c, "write_mode", "transactional", err, sizeof err), DDBPIPE_OK);
    assert_int_equal(ddbpipe_conf_set(c, "max_concurrent_requests", "256", err, sizeof err), DDBPIPE_OK);
    assert_int_equal(ddbpipe_conf_set(c, "max_concurrent_requests", "2000", err, sizeof err),
                     DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "out of range"));
    dp_conf_settings(c, &s);
    assert_int_equal(s.flush_interval_ms, 5000);
    assert_int_equal(s.max_retries, -1);
    assert_int_equal(s.batch_size, 100); /* follows write_mode */
    assert_int_equal(s.max_concurrent_requests, 256);
    /* dup keeps typed values and points strings at its own copy */
    assert_int_equal(ddbpipe_conf_set(c, "table", "dup_table", err, sizeof err), DDBPIPE_OK);
    ddbpipe_conf_t *d = ddbpipe_conf_dup(c);
    ddbpipe_conf_destroy(c);
    dp_conf_settings(d, &s);
    assert_string_equal(s.table, "dup_table");
    assert_int_equal(s.max_concurrent_requests, 256);
    assert_string_equal(ddbpipe_conf_table(d), "dup_table");
    ddbpipe_conf_destroy(d);
}

/* ------------------------------------------------------------ source scan */

static int same(const char *a, size_t al, const char *b, size_t bl) {
    return al == bl && memcmp(a, b, al) == 0;
}

/* Spelled exactly as a property name or alias (not folded: "Table" is
 * DynamoDB's JSON, not ours). */
static int is_property_name(const char *lit, size_t n) {
    for (size_t i = 0; i < dp_prop_count(); i++) {
        const dp_prop *p = dp_prop_at(i);
        if (same(p->info.name, strlen(p->info.name), lit, n))
            return 1;
        for (const char *a = p->info.aliases; a && *a;) {
            size_t l = strcspn(a, ",");
            if (same(a, l, lit, n))
                return 1;
            a += l + (a[l] == ',');
        }
    }
    return 0;
}

/* Literals that spell a property name but mean something else. */
static const struct {
    const char *file;    /* path or folder prefix */
    const char *literal; /* NULL: any */
    const char *why;
} allowed[] = {
    {"src/aws/cred_profile.c", NULL, "keys of the AWS shared config/credentials files"},
    {"src/aws/cred_chain.c", NULL, "credential provider names"},
    {"src/client/client.c", "region", "the region key of ~/.aws/config"},
    {"src/formats/", NULL, "field names of the change and event JSON formats"},
    {"src/sink/sink_parse.c", "schema", "the Kafka Connect envelope of a message key"},
    {"src/sink/sink_parse.c", "keys", "an envelope member of ddbpipe's own events"},
    {"src/source/checkpoint.c", NULL, "fields of the source checkpoint file"},
    {"cli/source.c", "segments", "the --segments option"},
    {"cli/sql.c", "table", "--format table"},
};

static int is_allowed(const char *rel, const char *lit, size_t n) {
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strncmp(rel, allowed[i].file, strlen(allowed[i].file)) == 0 &&
            (!allowed[i].literal || same(allowed[i].literal, strlen(allowed[i].literal), lit, n)))
            return 1;
    return 0;
}

/* String literals of a C file that spell a property name or alias, and
 * calls that read a property by name. */
static int scan_file(const char *path, const char *rel, char *report, size_t report_size) {
    size_t len = 0;
    char *text = dp_read_file(path, (size_t)8 << 20, &len);
    int found = 0, line = 1;
    assert_non_null(text);
    static const char *const by_name[] = {"dp_conf_str(", "dp_conf_int(", "dp_conf_bool(",
                                          "ddbpipe_conf_get(", "ddbpipe_conf_is_set("};
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\n')
            line++;
        else if (ch == '/' && i + 1 < len && text[i + 1] == '*') {
            for (i += 2; i + 1 < len && !(text[i] == '*' && text[i + 1] == '/'); i++)
                line += text[i] == '\n';
            i++;
        } else if (ch == '/' && i + 1 < len && text[i + 1] == '/') {
            while (i + 1 < len && text[i + 1] != '\n')
                i++;
        } else if (ch == '\'') {
            for (i++; i < len && text[i] != '\''; i++)
                if (text[i] == '\\')
                    i++;
        } else if (ch == '"') {
            size_t s = ++i;
            for (; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            if (is_property_name(text + s, i - s) && !is_allowed(rel, text + s, i - s)) {
                found++;
                size_t used = strlen(report);
                snprintf(report + used, report_size - used, "  %s:%d: \"%.*s\"\n", rel, line, (int)(i - s),
                         text + s);
            }
        } else if (strncmp(rel, "src/", 4) == 0) {
            for (size_t k = 0; k < sizeof by_name / sizeof by_name[0]; k++) {
                size_t l = strlen(by_name[k]);
                if (i + l <= len && strncmp(text + i, by_name[k], l) == 0 &&
                    (i == 0 || text[i - 1] == ' ' || text[i - 1] == '(' || text[i - 1] == '!' ||
                     text[i - 1] == '\t')) {
                    found++;
                    size_t used = strlen(report);
                    snprintf(report + used, report_size - used, "  %s:%d: %s...) reads a property by name\n",
                             rel, line, by_name[k]);
                }
            }
        }
    }
    free(text);
    return found;
}

static int scan_dir(const char *root, const char *rel, char *report, size_t report_size) {
    char path[1024];
    int found = 0;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    DIR *d = opendir(path);
    if (!d)
        fail_msg("cannot open %s", path);
    struct dirent *e;
    while ((e = readdir(d))) {
        char sub[512], full[1536];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(sub, "src/config") != 0)
                found += scan_dir(root, sub, report, report_size);
            continue;
        }
        size_t l = strlen(sub);
        if (l > 2 && (strcmp(sub + l - 2, ".c") == 0 || strcmp(sub + l - 2, ".h") == 0))
            found += scan_file(full, sub, report, report_size);
    }
    closedir(d);
    return found;
}

static void test_no_property_name_outside_config(void **state) {
    (void)state;
    /* The source tree: this file is tests/unit/test_settings.c in it. */
    char root[1024];
    snprintf(root, sizeof root, "%s", __FILE__);
    char *cut = strstr(root, "/tests/unit/");
    assert_non_null(cut);
    *cut = 0;
    static char report[16384];
    report[0] = 0;
    int found = scan_dir(root, "src", report, sizeof report) + scan_dir(root, "cli", report, sizeof report);
    if (found)
        fprintf(stderr, "%s", report);
    if (found)
        fail_msg(
            "%d property names or by-name reads outside src/config (read dp_settings fields instead):\n%s",
            found, report);
    /* The scan finds what it looks for. */
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/tests/unit/test_settings.c", root);
    report[0] = 0;
    assert_true(scan_file(probe, "src/probe.c", report, sizeof report) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_reaches_its_field),
        cmocka_unit_test(test_defaults_are_typed_from_the_table),
        cmocka_unit_test(test_enums_follow_the_ranges),
        cmocka_unit_test(test_retry_mode_has_one_default),
        cmocka_unit_test(test_values_parse_once),
        cmocka_unit_test(test_no_property_name_outside_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
