/* SHA-256 / HMAC-SHA256 / hex helpers on OpenSSL libcrypto.
 *
 * Every request is signed, so these run thousands of times a second. OpenSSL 3
 * looks the algorithm up by name on each one-shot call (EVP_Digest, HMAC);
 * profiles showed that lookup costing as much as the hashing of a small input.
 * So the algorithms are fetched once, and each thread keeps one digest context
 * and one MAC context that it re-initialises per call (contexts are never
 * shared across threads). */
#include <pthread.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "aws/sigv4.h"
#include "common/util.h"

typedef struct crypto_tls {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
} crypto_tls;

static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void tls_destroy(void *p) { /* runs when a thread exits */
    crypto_tls *t = p;
    EVP_MD_CTX_free(t->md);
    EVP_MAC_CTX_free(t->mac);
    free(t);
}

static dp_thread_local tls_slot = DP_THREAD_LOCAL_INIT(tls_destroy);

static void crypto_init(void) {
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* This thread's contexts; NULL only when OpenSSL cannot allocate. */
static crypto_tls *tls(void) {
    pthread_once(&once, crypto_init);
    if (!sha256_md || !hmac_mac)
        return NULL;
    crypto_tls *t = dp_thread_local_get(&tls_slot, sizeof *t, 1);
    if (!t || (t->md && t->mac))
        return t;
    if (!t->md)
        t->md = EVP_MD_CTX_new();
    if (!t->mac) {
        /* the digest is set once; each dp_hmac_sha256 only sets a new key */
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end()};
        t->mac = EVP_MAC_CTX_new(hmac_mac);
        if (t->mac && !EVP_MAC_CTX_set_params(t->mac, params)) {
            EVP_MAC_CTX_free(t->mac);
            t->mac = NULL;
        }
    }
    return t->md && t->mac ? t : NULL;
}

void dp_sha256(const void *data, size_t len, unsigned char out[32]) {
    static const unsigned char empty = 0;
    unsigned int n = 32;
    crypto_tls *t = tls();
    /* Only allocation failures inside OpenSSL end here: a signature cannot
     * be made without a hash, and a wrong one must never be sent. */
    if (!t || !EVP_DigestInit_ex2(t->md, sha256_md, NULL) ||
        !EVP_DigestUpdate(t->md, data ? data : &empty, len) || !EVP_DigestFinal_ex(t->md, out, &n))
        abort();
}

void dp_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[32];
    dp_sha256(data, len, md);
    dp_hex(md, 32, out);
}

/* The stream is an EVP_MD_CTX of its own (not the per-thread one: it lives
 * across calls). */
struct dp_sha256_stream {
    EVP_MD_CTX *md;
};

dp_sha256_stream *dp_sha256_stream_new(void) {
    pthread_once(&once, crypto_init);
    dp_sha256_stream *h = calloc(1, sizeof *h);
    if (!h || !sha256_md || !(h->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex2(h->md, sha256_md, NULL)) {
        dp_sha256_stream_free(h);
        return NULL;
    }
    return h;
}

int dp_sha256_stream_update(dp_sha256_stream *h, const void *data, size_t len) {
    return len == 0 || EVP_DigestUpdate(h->md, data, len) ? 0 : -1;
}

int dp_sha256_stream_hex_so_far(const dp_sha256_stream *h, char out[65]) {
    unsigned char md[32];
    unsigned int n = 32;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    int ok = copy && EVP_MD_CTX_copy_ex(copy, h->md) && EVP_DigestFinal_ex(copy, md, &n);
    EVP_MD_CTX_free(copy);
    if (!ok)
        return -1;
    dp_hex(md, 32, out);
    return 0;
}

void dp_sha256_stream_free(dp_sha256_stream *h) {
    if (!h)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

void dp_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32]) {
    static const unsigned char empty = 0;
    size_t n = 0;
    crypto_tls *t = tls();
    if (!t || !EVP_MAC_init(t->mac, key ? key : &empty, key_len, NULL) ||
        !EVP_MAC_update(t->mac, data ? data : &empty, len) || !EVP_MAC_final(t->mac, out, &n, 32) || n != 32)
        abort();
}

void dp_hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
