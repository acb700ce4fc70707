/* SHA-256 / HMAC-SHA256 / hex helpers on OpenSSL libcrypto. */
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aws/sigv4.h"

void dp_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    static const unsigned char empty = 0;
    /* EVP_Digest rejects a NULL pointer even for len 0 on some versions. */
    if (!EVP_Digest(data ? data : &empty, len, out, &n, EVP_sha256(), NULL))
        abort(); /* only fails on allocation failure inside OpenSSL */
}

void dp_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    dp_sha256(data, len, md);
    dp_hex(md, 32, out);
}

void dp_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    static const unsigned char empty = 0;
    if (!HMAC(EVP_sha256(), key ? key : &empty, (int)key_len, data ? data : &empty, len, out, &n))
        abort();
}

void dp_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}
