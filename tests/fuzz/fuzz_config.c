/* libFuzzer target: YAML / JSON / SQL configuration text through the whole
 * loader (sniffing, dialects, set, validate). */
#include <stddef.h>
#include <stdint.h>

#include "config/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ddbpipe_conf_t *c = ddbpipe_conf_new();
    if (!c)
        return 0;
    if (dp_conf_load_text(c, (const char *)data, size, "fuzz", err, sizeof err) == DDBPIPE_OK) {
        ddbpipe_conf_validate(c, "sink", err, sizeof err);
        for (size_t i = 0; i < ddbpipe_conf_prop_count(); i++) {
            const char *name = ddbpipe_conf_prop_at(i)->name;
            (void)ddbpipe_conf_get(c, name);
            (void)dp_conf_int(c, name, 0);
        }
        ddbpipe_conf_t *d = ddbpipe_conf_dup(c);
        ddbpipe_conf_destroy(d);
    }
    ddbpipe_conf_destroy(c);
    return 0;
}
