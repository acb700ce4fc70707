/* docs/configuration.md must be what tests/tools/gen_config_doc prints from
 * the property table (regenerate: build/gen_config_doc > docs/configuration.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/conf.h"

static void test_doc_up_to_date(void **state) {
    (void)state;
    char path[1024];
    const char *src = getenv("DDBPIPE_SOURCE_DIR");
    assert_non_null(src);
    snprintf(path, sizeof path, "%s/docs/configuration.md", src);
    size_t len = 0;
    char *have = dp_read_file(path, (size_t)1 << 22, &len);
    if (!have)
        fail_msg("%s missing: run build/gen_config_doc > docs/configuration.md", path);
    dp_buf want;
    dp_buf_init(&want, 0);
    assert_int_equal(dp_conf_doc_markdown(&want), DDBPIPE_OK);
    if (len != want.len || memcmp(have, want.data, len) != 0)
        fail_msg(
            "%s is out of date with src/config/props.c: run build/gen_config_doc > docs/configuration.md",
            path);
    /* every property is documented */
    for (size_t i = 0; i < ddbpipe_conf_prop_count(); i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "| `%s` |", ddbpipe_conf_prop_at(i)->name);
        if (!strstr(want.data, needle))
            fail_msg("property %s missing from the generated doc", ddbpipe_conf_prop_at(i)->name);
    }
    free(have);
    dp_buf_free(&want);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_doc_up_to_date)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
