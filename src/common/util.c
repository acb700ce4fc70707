#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t dp_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t dp_now_ms(void) {
    return dp_now_ns() / 1000000LL;
}

int64_t dp_wall_s(void) {
    return (int64_t)time(NULL);
}

char *dp_errf(char *errstr, size_t size, const char *fmt, ...) {
    if (!errstr || size == 0)
        return errstr;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
    return errstr;
}

static _Thread_local uint64_t tl_rng_state;

static uint64_t rng_seed(void) {
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != (ssize_t)sizeof s)
            s = 0;
        close(fd);
    }
    if (s == 0)
        s = (uint64_t)dp_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&tl_rng_state;
    return s ? s : 0x9E3779B97F4A7C15ULL;
}

uint64_t dp_rand64(void) {
    if (tl_rng_state == 0)
        tl_rng_state = rng_seed();
    /* xorshift64* */
    uint64_t x = tl_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tl_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

double dp_rand_unit(void) {
    return (double)(dp_rand64() >> 11) * (1.0 / 9007199254740992.0);
}

int dp_write_file_atomic(const char *path, const void *data, size_t len) {
    char tmp[PATH_MAX];
    int fd = -1, rc = -1, saved = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    rc = 0;
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    errno = saved;
    return rc;
}

char *dp_read_file(const char *path, size_t max_len, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (max_len < SIZE_MAX && ncap > max_len + 1) /* max_len + 1 wraps to 0 at SIZE_MAX */
                ncap = max_len + 1;
            if (ncap <= len + 1 && len >= max_len) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                free(buf);
                fclose(f);
                return NULL;
            }
            break;
        }
        if (len >= max_len && !feof(f)) {
            int c = fgetc(f);
            if (c != EOF) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            break;
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (out_len)
        *out_len = len;
    return buf;
}

/* Slice-by-8: eight bytes a step through eight tables (crc_table[0] is the
 * classic byte table). The source reads Scan pages of about 1 MB and checks
 * each against x-amz-crc32; a byte at a time, that check was the largest
 * single cost of a snapshot (17% of its CPU). */
static uint32_t crc_table[8][256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t dp_crc32(const void *data, size_t len) {
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
        crc_init(); /* idempotent: racing threads compute the same table */
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (; len >= 8; p += 8, len -= 8) {
        /* little-endian words, assembled by hand so any host gets it right */
        uint32_t lo =
            c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^ crc_table[5][(lo >> 16) & 0xFF] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
            crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
    }
    for (size_t i = 0; i < len; i++)
        c = crc_table[0][(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t dp_parse_iso8601(const char *s) {
    int Y, M, D, h, mi, sec;
    if (!s || strlen(s) < 19)
        return -1;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' || digits(s + 8, 2, &D) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return -1;
        off = (int64_t)sign * (oh * 3600 + om * 60);
        p += 6;
    } else if (*p != '\0') {
        return -1;
    }
    if (*p != '\0')
        return -1;
    return days_from_civil(Y, M, D) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec - off;
}

/* ------------------------------------------------------------ per-thread objects */

static int thread_local_ready(dp_thread_local *t) {
    int st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    if (st != 0)
        return st > 0;
    pthread_mutex_lock(&t->mu);
    if (t->state == 0)
        __atomic_store_n(&t->state, pthread_key_create(&t->key, t->destroy) == 0 ? 1 : -1, __ATOMIC_RELEASE);
    st = t->state;
    pthread_mutex_unlock(&t->mu);
    return st > 0;
}

void *dp_thread_local_get(dp_thread_local *t, size_t size, int create) {
    if (!thread_local_ready(t))
        return NULL;
    void *o = pthread_getspecific(t->key);
    if (!o && create) {
        o = calloc(1, size);
        if (o && pthread_setspecific(t->key, o) != 0) {
            free(o);
            o = NULL;
        }
    }
    return o;
}

void dp_thread_local_release(dp_thread_local *t) {
    void *o = dp_thread_local_get(t, 0, 0);
    if (o) {
        pthread_setspecific(t->key, NULL);
        t->destroy(o);
    }
}

const void *dp_abi_copy_in(void *dst, size_t dst_size, const void *src, size_t src_size) {
    if (!src)
        return NULL;
    memset(dst, 0, dst_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    return dst;
}

void dp_abi_copy_out(void *dst, size_t dst_size, const void *src, size_t src_size) {
    memcpy(dst, src, dst_size < src_size ? dst_size : src_size);
}

char *dp_collapse_ws(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t ol = 0;
    int sp = 0;
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i])) {
            sp = ol > 0;
            continue;
        }
        if (sp)
            o[ol++] = ' ';
        sp = 0;
        o[ol++] = s[i];
    }
    o[ol] = 0;
    return o;
}
