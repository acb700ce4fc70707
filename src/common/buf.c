#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dp_buf_init(dp_buf *b, size_t max_len) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len ? max_len : DP_BUF_DEFAULT_MAX;
}

void dp_buf_free(dp_buf *b) {
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void dp_buf_reset(dp_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

ddbpipe_result_t dp_buf_reserve(dp_buf *b, size_t extra) {
    if (b->max_len == 0)
        b->max_len = DP_BUF_DEFAULT_MAX;
    if (extra > b->max_len || b->len > b->max_len - extra)
        return DDBPIPE_ERR_TOO_LARGE;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return DDBPIPE_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return DDBPIPE_ERR_NOMEM;
    b->data = p;
    b->cap = ncap;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_buf_append_slow(dp_buf *b, const void *data, size_t n) {
    ddbpipe_result_t r = dp_buf_reserve(b, n);
    if (r != DDBPIPE_OK)
        return r;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_buf_puts(dp_buf *b, const char *s) {
    return dp_buf_append(b, s, strlen(s));
}

ddbpipe_result_t dp_buf_putc_slow(dp_buf *b, char c) {
    return dp_buf_append_slow(b, &c, 1);
}

ddbpipe_result_t dp_buf_vprintf(dp_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return DDBPIPE_ERR_INVALID_ARG;
    ddbpipe_result_t r = dp_buf_reserve(b, (size_t)n);
    if (r != DDBPIPE_OK)
        return r;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_buf_printf(dp_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ddbpipe_result_t r = dp_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

char *dp_buf_steal(dp_buf *b) {
    char *p = b->data;
    if (!p) {
        p = malloc(1);
        if (p)
            p[0] = '\0';
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
