/* Prints docs/configuration.md from the property table:
 *   build/gen_config_doc > docs/configuration.md */
#include <stdio.h>

#include "common/buf.h"
#include "config/conf.h"

int main(void) {
    dp_buf b;
    dp_buf_init(&b, 0);
    if (dp_conf_doc_markdown(&b) != DDBPIPE_OK) {
        fprintf(stderr, "gen_config_doc: out of memory\n");
        dp_buf_free(&b);
        return 1;
    }
    fwrite(b.data, 1, b.len, stdout);
    dp_buf_free(&b);
    return 0;
}
