/* libFuzzer target: the source's one-pass Scan page -> JSON lines writer
 * against the general path (a tree of the page, then dp_event_write per
 * item). Every page the one-pass path accepts must give the same lines,
 * LastEvaluatedKey and consumed capacity as the general path; the first
 * byte picks the key schema (with or without a sort key). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_lines_compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    dp_scan_lines_opts o = {.table = "tbl", .partition_key = "id", .sort_key = (data[0] & 1) ? "sk" : NULL};
    char why[1200];
    if (slc_compare((const char *)data + 1, size - 1, &o, why, sizeof why) < 0) {
        fprintf(stderr, "one-pass/general mismatch: %s\n", why);
        abort();
    }
    return 0;
}
