/* libFuzzer target: the sink's fast plain-row parser against the general
 * parser. Every line the fast path accepts must give the same change (op,
 * canonical key, key JSON, typed item, item size) as the general path; the
 * first byte picks the options (key types, sort key, ignore_nulls). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_parse_compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    sk_parse_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    static const dp_change_format fmts[] = {DP_CHANGE_FMT_AUTO, DP_CHANGE_FMT_JSON, DP_CHANGE_FMT_FELDERA,
                                            DP_CHANGE_FMT_AUTO};
    ctx.opts.format = fmts[((sel & 0x01) | ((sel >> 4) & 0x02)) & 3];
    ctx.opts.partition_key = "id";
    ctx.opts.partition_type = (sel & 0x02) ? 'N' : 'S';
    ctx.opts.sort_key = (sel & 0x04) ? "sk" : NULL;
    ctx.opts.sort_type = (sel & 0x08) ? 'N' : 'S';
    ctx.opts.ignore_nulls = (sel & 0x10) != 0;
    char why[1024];
    if (spc_compare(&ctx, (const char *)data + 1, size - 1, why, sizeof why) < 0) {
        fprintf(stderr, "fast/general mismatch: %s\n", why);
        abort();
    }
    return 0;
}
