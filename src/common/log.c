#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile int g_level = DDBPIPE_LOG_WARN;

void ddbpipe_log_set_level(ddbpipe_log_level_t level) {
    g_level = (int)level;
}

int dp_log_enabled(ddbpipe_log_level_t level) {
    return (int)level <= g_level;
}

void dp_log(ddbpipe_log_level_t level, const char *fmt, ...) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (!dp_log_enabled(level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ddbpipe %s: ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 names[(int)level < 4 ? (int)level : 3]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so lines from threads do not interleave. */
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

const char *dp_mask_key(const char *akid, char out[32]) {
    size_t n = akid ? strlen(akid) : 0;
    if (n == 0) {
        snprintf(out, 32, "(none)");
    } else if (n <= 8) {
        snprintf(out, 32, "****");
    } else {
        snprintf(out, 32, "%.4s****%.4s", akid, akid + n - 4);
    }
    return out;
}
