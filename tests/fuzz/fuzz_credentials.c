/* libFuzzer target for the credentials parsers. The first byte picks the
 * parser (INI, JSON answer, credential_process JSON, STS XML); the rest is
 * the input. Invariants: no crash or leak; on success the required fields
 * are non-empty and NUL-terminated inside their slots; on failure the
 * output is wiped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(const char *section, const char *key, const char *value, void *opaque) {
    size_t *n = opaque;
    /* every callback gets a section and a non-empty key */
    if (!section || !section[0] || !key || !key[0] || !value)
        abort();
    (*n)++;
    return 0;
}

static void check(ddbpipe_result_t rc, const dp_credentials *c, int need_expiration) {
    if (rc == DDBPIPE_OK) {
        if (!c->access_key_id[0] || !c->secret_access_key[0])
            abort();
        if (strnlen(c->access_key_id, sizeof(c->access_key_id)) == sizeof(c->access_key_id))
            abort();
        if (strnlen(c->secret_access_key, sizeof(c->secret_access_key)) == sizeof(c->secret_access_key))
            abort();
        if (strnlen(c->session_token, sizeof(c->session_token)) == sizeof(c->session_token))
            abort();
        if (need_expiration && c->expiration_s <= 0)
            abort();
    } else if (c->access_key_id[0] || c->secret_access_key[0] || c->session_token[0]) {
        abort(); /* failures must not leave secrets behind */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dp_credentials c;
    char err[256];
    const char *text;
    size_t len;
    if (size < 1)
        return 0;
    text = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 4) {
    case 0: {
        size_t n = 0;
        int r = dp_ini_parse(text, len, count_cb, &n);
        if (r < 0)
            abort(); /* callback never fails here */
        break;
    }
    case 1:
        check(dp_cred_parse_json(text, len, &c, err, sizeof(err)), &c, 0);
        break;
    case 2:
        check(dp_cred_parse_process_json(text, len, &c, err, sizeof(err)), &c, 0);
        break;
    default:
        check(dp_cred_parse_sts_xml(text, len, &c, err, sizeof(err)), &c, 1);
        break;
    }
    return 0;
}
