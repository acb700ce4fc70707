/* Small helpers for C tests (header-only; include after cmocka's headers
 * when used with cmocka).
 *
 *   char *ep = dp_test_endpoint();      // DynamoDB Local URL or exits 77
 *   ...
 *   free(ep);
 *
 * Exit code 77 tells ctest the test was skipped (SKIP_RETURN_CODE); the
 * reason is always printed as "SKIPPED: ...". */
#ifndef DDBPIPE_TESTS_TESTUTIL_H
#define DDBPIPE_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DP_TEST_SKIP 77

static inline void dp_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void dp_test_skip(const char *fmt, ...) {
    va_list ap;
    fputs("SKIPPED: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    exit(DP_TEST_SKIP);
}

/* Endpoint of the DynamoDB Local fixture (malloc'd, no trailing newline):
 * $DDBPIPE_TEST_ENDPOINT, else the first line of the file named by
 * $DDBPIPE_TEST_ENDPOINT_FILE. NULL when neither is there. */
static inline char *dp_test_endpoint_or_null(void) {
    const char *env = getenv("DDBPIPE_TEST_ENDPOINT");
    if (env && env[0])
        return strdup(env);
    const char *path = getenv("DDBPIPE_TEST_ENDPOINT_FILE");
    if (!path || !path[0])
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[512];
    char *r = fgets(line, sizeof line, f);
    fclose(f);
    if (!r)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return line[0] ? strdup(line) : NULL;
}

/* Same, but skips the test (exit 77) when there is no endpoint. */
static inline char *dp_test_endpoint(void) {
    char *ep = dp_test_endpoint_or_null();
    if (!ep)
        dp_test_skip("no DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT / DDBPIPE_TEST_ENDPOINT_FILE); "
                     "run through ctest or scripts/ddblocal.sh run -- CMD");
    return ep;
}

/* A table name unique to this process, for tests sharing one server. */
static inline void dp_test_table_name(char *out, size_t size, const char *prefix) {
    static unsigned n;
    snprintf(out, size, "%s_%ld_%u", prefix ? prefix : "t", (long)getpid(), n++);
}

/* Path of a file in the source tree (DDBPIPE_SOURCE_DIR, else "."). */
static inline void dp_test_source_path(char *out, size_t size, const char *rel) {
    const char *dir = getenv("DDBPIPE_SOURCE_DIR");
    snprintf(out, size, "%s/%s", dir && dir[0] ? dir : ".", rel);
}

#endif
