/* Small helpers shared by every layer. */
#ifndef DP_COMMON_UTIL_H
#define DP_COMMON_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in milliseconds / nanoseconds. */
int64_t dp_now_ms(void);
int64_t dp_now_ns(void);
/* Wall clock seconds since the epoch. */
int64_t dp_wall_s(void);

/* snprintf into errstr when errstr is non-NULL; returns errstr. */
char *dp_errf(char *errstr, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One object per thread, made on first use (calloc'd, zeroed) and passed to
 * destroy when its thread exits; for caches that must not be shared across
 * threads. Declare `static dp_thread_local x = DP_THREAD_LOCAL_INIT;`. */
typedef struct dp_thread_local {
    pthread_mutex_t mu;
    int state; /* 0: no key yet, 1: ready, -1: no key could be made */
    pthread_key_t key;
    void (*destroy)(void *);
} dp_thread_local;
#define DP_THREAD_LOCAL_INIT(destroy_fn)                                                                     \
    { PTHREAD_MUTEX_INITIALIZER, 0, 0, (destroy_fn) }
/* This thread's object: made when missing and create is set; NULL when
 * missing or out of memory. */
void *dp_thread_local_get(dp_thread_local *t, size_t size, int create);
/* Destroy this thread's object now (the thread that tears down a user). */
void dp_thread_local_release(dp_thread_local *t);

/* Thread-safe random numbers (xorshift per thread, seeded from urandom). */
uint64_t dp_rand64(void);
double dp_rand_unit(void); /* [0,1) */

/* Write data to path atomically (tmp file + fsync + rename). 0 ok, -1 errno. */
int dp_write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole file (capped at max_len). Caller frees. NULL on error. */
char *dp_read_file(const char *path, size_t max_len, size_t *out_len);

/* Copy of s[0..n) with whitespace runs collapsed to one space, trimmed
 * ("DECIMAL( 10,\n 2 )" -> "DECIMAL( 10, 2 )"). Caller frees; NULL: no memory. */
char *dp_collapse_ws(const char *s, size_t n);

/* Versioned public structs (see "ABI" in ddbpipe.h): copy a caller's struct
 * of src_size bytes into dst (dst_size bytes), zero-filling fields the
 * caller's header did not have. Returns dst, or NULL when src is NULL. */
const void *dp_abi_copy_in(void *dst, size_t dst_size, const void *src, size_t src_size);
/* Write the first min(dst_size, src_size) bytes of src to a caller's struct. */
void dp_abi_copy_out(void *dst, size_t dst_size, const void *src, size_t src_size);

/* CRC32 (IEEE, as x-amz-crc32). */
uint32_t dp_crc32(const void *data, size_t len);

/* Parse an ISO-8601 UTC timestamp "2026-01-01T00:00:00Z" (fractions and
 * +00:00 allowed) to epoch seconds. -1 on error. */
int64_t dp_parse_iso8601(const char *s);

#endif
