/* libFuzzer target: the AttributeValue codec. Input: a column type on the
 * first line, JSON after it. The JSON goes through every codec function,
 * read both as a typed item and as a plain value, and the codec's
 * invariants are checked (what from_plain builds must validate and convert
 * back). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "ddb/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512], type_text[128];
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t tl = nl ? (size_t)(nl - text) : 0;
    dp_coltype ct;
    int have_type = 0;

    /* raw bytes through the scalar helpers */
    (void)dp_ddb_number_valid(text, size, err, sizeof err);
    (void)dp_ddb_number_size(text, size);
    if (size < 4096) {
        unsigned char *raw = malloc(size + 4);
        size_t rl = 0;
        if (raw && dp_base64_decode(text, size, raw, &rl) == 0) {
            char *enc = malloc(4 * ((rl + 2) / 3) + 1);
            if (enc) {
                size_t el = dp_base64_encode(raw, rl, enc);
                if (el != size) /* a valid padded input re-encodes to the same length */
                    abort();
                free(enc);
            }
        }
        free(raw);
    }

    if (nl && tl < sizeof type_text) {
        memcpy(type_text, text, tl);
        type_text[tl] = 0;
        have_type = dp_coltype_parse(type_text, &ct, err, sizeof err) == 0;
        text = nl + 1;
        size -= tl + 1;
    }
    dp_json_doc *doc = dp_json_parse(text, size, NULL);
    if (!doc)
        return 0;
    dp_json *root = dp_json_root(doc);

    /* as a typed item */
    (void)dp_attr_validate(root, err, sizeof err);
    (void)dp_attr_size(root);
    (void)dp_item_size(root);
    int valid = dp_item_validate(root, "id", "sk", err, sizeof err) == 0;
    (void)dp_item_validate_keys(root, "id", 'N', NULL, 0, err, sizeof err);
    dp_buf b;
    dp_buf_init(&b, 1 << 20);
    if (dp_item_key_string(root, "id", "sk", &b) != 0 && valid)
        abort(); /* a valid item always has a key string */
    dp_buf_reset(&b);
    dp_json *plain = dp_item_to_plain(doc, root, err, sizeof err);
    ddbpipe_result_t wr = dp_item_write_plain(&b, root, err, sizeof err);
    if (valid && (!plain || wr != DDBPIPE_OK))
        abort(); /* valid items always convert */
    (void)dp_attr_to_plain(doc, root, err, sizeof err);

    /* as a plain value */
    dp_json *av = dp_attr_from_plain(doc, root, have_type ? &ct : NULL, err, sizeof err);
    if (av) {
        if (dp_attr_validate(av, err, sizeof err) != 0)
            abort(); /* from_plain must only build values DynamoDB accepts */
        if (!dp_attr_to_plain(doc, av, err, sizeof err))
            abort();
        dp_buf_reset(&b);
        if (dp_attr_write_plain(&b, av, err, sizeof err) != DDBPIPE_OK && b.len < (1 << 19))
            abort();
    }
    if (root->type == DP_JSON_OBJECT) {
        dp_column col;
        memset(&col, 0, sizeof col);
        strcpy(col.name, "c");
        if (have_type)
            col.type = ct;
        dp_json *item = dp_item_from_plain(doc, root, &col, 1, 1, err, sizeof err);
        if (item && dp_item_validate(item, NULL, NULL, err, sizeof err) != 0 &&
            dp_item_size(item) <= DP_DDB_MAX_ITEM_BYTES)
            abort();
    }
    dp_buf_free(&b);
    dp_json_doc_free(doc);
    return 0;
}
