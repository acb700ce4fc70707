/* libFuzzer target: YAML / JSON / SQL configuration text through the whole
 * loader (sniffing, dialects, set, validate for every command), then every
 * row of the property table read back the way the layers read it: the typed
 * settings field at the row's offset, of the row's kind. A value the loader
 * accepted that breaks its row's rules (an integer out of its range, a bool
 * not 0/1, an enum without an index, a string differing from the stored
 * text) aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"
#include "config/props.h"
#include "config/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_row(const ddbpipe_conf_t *c, const dp_settings *s, size_t i) {
    const dp_prop *p = dp_prop_at(i);
    const char *f = (const char *)s + p->offset;
    switch (dp_prop_field_kind(p)) {
    case DP_FK_STR: {
        const char *v = *(const char *const *)f;
        const char *text = ddbpipe_conf_get(c, p->info.name);
        if (s->set[i] && (!v || !text || strcmp(v, text) != 0))
            abort();
        break;
    }
    case DP_FK_I64: {
        int64_t v;
        memcpy(&v, f, sizeof v);
        int is_null = (p->flags & DP_PF_NULLABLE) && v == -1;
        if (s->set[i] && !is_null && (p->type == DP_PT_INT || p->type == DP_PT_DURATION) &&
            (v < p->min || v > p->max))
            abort();
        break;
    }
    case DP_FK_BOOL: {
        int v;
        memcpy(&v, f, sizeof v);
        if (v != 0 && v != 1)
            abort();
        break;
    }
    case DP_FK_ENUM: {
        int v;
        memcpy(&v, f, sizeof v);
        if (s->set[i] && v < 0)
            abort();
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const commands[] = {NULL, "sink", "source", "check", "create-table"};
    char err[512];
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    if (!c)
        return 0;
    if (dp_conf_load_text(c, (const char *)data, size, "fuzz", err, sizeof err) == DDBPIPE_OK) {
        for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
            (void)ddbpipe_conf_validate(c, commands[k], err, sizeof err);
        dp_settings s;
        dp_conf_settings(c, &s);
        for (size_t i = 0; i < dp_prop_count(); i++)
            check_row(c, &s, i);
        ddbpipe_conf_t *d = ddbpipe_conf_dup(c);
        dp_settings sd;
        dp_conf_settings(d, &sd);
        if (d && memcmp(s.set, sd.set, sizeof s.set) != 0)
            abort(); /* a copy has the same explicit rows */
        ddbpipe_conf_destroy(d);
    }
    ddbpipe_conf_destroy(c);
    return 0;
}
