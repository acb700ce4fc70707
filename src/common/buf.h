/* Growable byte buffer with a hard size cap (curl style: every growing
 * buffer has a limit). */
#ifndef DP_COMMON_BUF_H
#define DP_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "ddbpipe/ddbpipe.h"

#define DP_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

typedef struct dp_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max_len; /* appends beyond this fail with DDBPIPE_ERR_TOO_LARGE */
} dp_buf;

/* max_len 0 means DP_BUF_DEFAULT_MAX. */
void dp_buf_init(dp_buf *b, size_t max_len);
void dp_buf_free(dp_buf *b);  /* accepts NULL; leaves b empty and reusable */
void dp_buf_reset(dp_buf *b); /* len = 0, keeps memory */
ddbpipe_result_t dp_buf_reserve(dp_buf *b, size_t extra);
ddbpipe_result_t dp_buf_append_slow(dp_buf *b, const void *data, size_t n);
static inline ddbpipe_result_t dp_buf_append(dp_buf *b, const void *data, size_t n) {
    if (b->data && n < b->cap - b->len && b->len + n <= b->max_len) {
        __builtin_memcpy(b->data + b->len, data, n);
        b->len += n;
        b->data[b->len] = '\0';
        return DDBPIPE_OK;
    }
    return dp_buf_append_slow(b, data, n);
}
ddbpipe_result_t dp_buf_puts(dp_buf *b, const char *s);
ddbpipe_result_t dp_buf_putc_slow(dp_buf *b, char c);
/* Inline fast path: the writers call this for every brace, comma and colon. */
static inline ddbpipe_result_t dp_buf_putc(dp_buf *b, char c) {
    if (b->data && b->len + 1 < b->cap && b->len < b->max_len) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return DDBPIPE_OK;
    }
    return dp_buf_putc_slow(b, c);
}
ddbpipe_result_t dp_buf_printf(dp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ddbpipe_result_t dp_buf_vprintf(dp_buf *b, const char *fmt, va_list ap);
/* Take ownership of the data (caller frees); b is left empty. */
char *dp_buf_steal(dp_buf *b);

#endif
