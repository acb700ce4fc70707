/* libFuzzer target for the DynamoDB response parsers: the error body
 * parser, classify, DescribeTable and ListTables parsers. Invariants: the
 * outputs are NUL-terminated within their buffers and hold no control
 * characters (they go to logs), classify is total and its result is in
 * range, and a parsed key schema names a partition key of type S/N/B. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ddb/client.h"
#include "ddb/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_ctl(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    if (n >= cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            abort();
}

static void count_name(const char *name, void *opaque) {
    (void)name;
    (*(size_t *)opaque)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    char code[96], msg[512], small[5];
    dp_ddb_parse_error(body, size, code, sizeof(code), msg, sizeof(msg));
    no_ctl(code, sizeof(code));
    no_ctl(msg, sizeof(msg));
    dp_ddb_parse_error(body, size, small, sizeof(small), small, sizeof(small));

    long status = size ? 200 + (data[0] % 4) * 100 + (size > 1 ? data[1] % 30 : 0) : 500;
    int retry = -1, thr = -1;
    ddbpipe_result_t rc = dp_ddb_classify(status, code, &retry, &thr);
    if (rc < 0 || rc >= DDBPIPE_ERR__COUNT || (retry != 0 && retry != 1) || (thr != 0 && thr != 1))
        abort();
    if (thr && !retry)
        abort(); /* a throttle is always retryable */

    ddbpipe_table_info_t ti;
    char err[256];
    if (dp_ddb_parse_describe_table(body, size, &ti, err, sizeof(err)) == DDBPIPE_OK) {
        if (!ti.key.partition_key[0] || !strchr("SNB", ti.key.partition_type))
            abort();
        if (ti.key.sort_key[0] && !strchr("SNB", ti.key.sort_type))
            abort();
    }
    size_t names = 0;
    char last[64];
    dp_ddb_parse_list_tables(body, size, count_name, &names, last, sizeof(last));
    if (strnlen(last, sizeof(last)) >= sizeof(last))
        abort();
    return 0;
}
