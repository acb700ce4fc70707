/* AWS Signature Version 4 (header signing).
 *
 * Follows the canonicalization of the AWS signing test suite and botocore:
 * - path: when normalize_path, dot segments are removed and repeated '/'
 *   collapsed (botocore's remove_dot_segments); then every byte except the
 *   unreserved set and '/' is percent-encoded. The path given is the one on
 *   the wire, so an already-encoded "%20" becomes "%2520": the "encode twice"
 *   rule for non-S3 services.
 * - query: each name and value is percent-decoded then re-encoded with the
 *   strict unreserved set, sorted by name then value.
 * - headers: names lower-cased, values trimmed with inner whitespace runs
 *   (including folded line breaks) collapsed to one space, repeated names
 *   joined with ',' in the order given.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws/sigv4.h"

/* Headers botocore never signs (proxies and clients may rewrite them). */
static const char *const k_unsigned_headers[] = {"authorization", "user-agent", "expect", "x-amzn-trace-id"};

typedef struct canon_header {
    char *name;  /* lower-case */
    char *value; /* trimmed, whitespace collapsed */
    size_t order;
} canon_header;

typedef struct query_pair {
    char *name;  /* encoded */
    char *value; /* encoded */
} query_pair;

void dp_sigv4_result_init(dp_sigv4_result *r) {
    memset(r, 0, sizeof *r);
    dp_buf_init(&r->canonical_request, 0);
    dp_buf_init(&r->string_to_sign, 0);
    dp_buf_init(&r->authorization, 0);
}

void dp_sigv4_result_free(dp_sigv4_result *r) {
    if (!r)
        return;
    dp_buf_free(&r->canonical_request);
    dp_buf_free(&r->string_to_sign);
    dp_buf_free(&r->authorization);
    r->signature[0] = '\0';
    r->amz_date[0] = '\0';
}

void dp_sigv4_format_date(int64_t epoch_s, char out[17]) {
    time_t t = (time_t)epoch_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        memcpy(out, "19700101T000000Z", 17);
}

static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static ddbpipe_result_t uri_encode(dp_buf *out, const char *s, size_t n, int keep_slash) {
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ddbpipe_result_t rc;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = dp_buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            rc = dp_buf_append(out, esc, 3);
        }
        if (rc != DDBPIPE_OK)
            return rc;
    }
    return DDBPIPE_OK;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) then encode it canonically into a new string. A '%'
 * not followed by two hex digits is taken literally (and encoded as %25). */
static char *query_component(const char *s, size_t n) {
    static const char digits[] = "0123456789ABCDEF";
    char *raw = malloc(n + 1), *enc = NULL;
    size_t rlen = 0, o = 0;
    if (!raw)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            c = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        }
        raw[rlen++] = c;
    }
    enc = malloc(rlen * 3 + 1);
    if (enc) {
        for (size_t i = 0; i < rlen; i++) {
            unsigned char c = (unsigned char)raw[i];
            if (is_unreserved(c)) {
                enc[o++] = (char)c;
            } else {
                enc[o++] = '%';
                enc[o++] = digits[c >> 4];
                enc[o++] = digits[c & 15];
            }
        }
        enc[o] = '\0';
    }
    free(raw);
    return enc;
}

static int query_pair_cmp(const void *a, const void *b) {
    const query_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static ddbpipe_result_t canonical_query(dp_buf *out, const char *query) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    query_pair *pairs = NULL;
    size_t count = 0, cap = 0;
    if (!query || !*query)
        return DDBPIPE_OK;
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t name_len = eq ? (size_t)(eq - p) : len;
            if (count == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                query_pair *np = realloc(pairs, ncap * sizeof *np);
                if (!np) {
                    rc = DDBPIPE_ERR_NOMEM;
                    goto out;
                }
                pairs = np;
                cap = ncap;
            }
            pairs[count].name = query_component(p, name_len);
            pairs[count].value = eq ? query_component(eq + 1, len - name_len - 1) : query_component("", 0);
            count++;
            if (!pairs[count - 1].name || !pairs[count - 1].value) {
                rc = DDBPIPE_ERR_NOMEM;
                goto out;
            }
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (count > 1) /* qsort(NULL, 0, ...) is undefined: pairs is NULL without a query */
        qsort(pairs, count, sizeof *pairs, query_pair_cmp);
    for (size_t i = 0; i < count && rc == DDBPIPE_OK; i++) {
        if (i)
            rc = dp_buf_putc(out, '&');
        if (rc == DDBPIPE_OK)
            rc = dp_buf_printf(out, "%s=%s", pairs[i].name, pairs[i].value);
    }
out:
    for (size_t i = 0; i < count; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return rc;
}

/* botocore's remove_dot_segments: drop empty and "." segments, ".." pops;
 * keep a leading '/', and a trailing '/' when anything is left. */
static ddbpipe_result_t normalized_path(dp_buf *out, const char *path) {
    size_t n = strlen(path);
    size_t *starts = NULL, *lens = NULL, depth = 0;
    ddbpipe_result_t rc = DDBPIPE_OK;
    /* at most n/2+1 segments survive */
    starts = malloc((n / 2 + 1) * sizeof *starts);
    lens = malloc((n / 2 + 1) * sizeof *lens);
    if (!starts || !lens) {
        rc = DDBPIPE_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && path[i] == '.')) {
            /* skip */
        } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (depth)
                depth--;
        } else {
            starts[depth] = i;
            lens[depth] = len;
            depth++;
        }
        i = j + 1;
    }
    if (path[0] == '/')
        rc = dp_buf_putc(out, '/');
    for (size_t k = 0; k < depth && rc == DDBPIPE_OK; k++) {
        if (k)
            rc = dp_buf_putc(out, '/');
        if (rc == DDBPIPE_OK)
            rc = uri_encode(out, path + starts[k], lens[k], 0);
    }
    if (rc == DDBPIPE_OK && n && path[n - 1] == '/' && depth)
        rc = dp_buf_putc(out, '/');
    if (rc == DDBPIPE_OK && path[0] != '/' && depth == 0)
        rc = dp_buf_putc(out, '/'); /* nothing left of a relative path */
out:
    free(starts);
    free(lens);
    return rc;
}

static int header_cmp(const void *a, const void *b) {
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *lower_trimmed_name(const char *s) {
    while (is_ws((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && is_ws((unsigned char)s[n - 1]))
        n--;
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = (char)tolower((unsigned char)s[i]);
    r[n] = '\0';
    return r;
}

static char *collapsed_value(const char *s) {
    size_t n = strlen(s);
    char *r = malloc(n + 1);
    size_t o = 0;
    int pending_space = 0;
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_ws(c)) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space)
            r[o++] = ' ';
        pending_space = 0;
        r[o++] = (char)c;
    }
    r[o] = '\0';
    return r;
}

static int valid_header_name(const char *s) {
    int seen = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ':' || c < 0x20 || c == 0x7f) {
            if (!is_ws(c))
                return 0;
        } else if (c != ' ') {
            seen = 1;
        }
    }
    return seen;
}

static int valid_amz_date(const char *d) {
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i]))
            return 0;
    return 1;
}

static int valid_scope_part(const char *s, size_t max_len) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= max_len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static void derive_key(const char *secret, const char *date8, const char *region, const char *service,
                       unsigned char out[32]) {
    size_t slen = strlen(secret);
    unsigned char k[32];
    char *seed = malloc(slen + 5);
    if (!seed)
        abort();
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, slen);
    seed[slen + 4] = '\0';
    dp_hmac_sha256(seed, slen + 4, date8, 8, k);
    OPENSSL_cleanse(seed, slen + 4);
    free(seed);
    dp_hmac_sha256(k, 32, region, strlen(region), k);
    dp_hmac_sha256(k, 32, service, strlen(service), k);
    dp_hmac_sha256(k, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k, sizeof k);
}

static void signing_key(const dp_sigv4_params *p, const char *date8, dp_sigv4_key_cache *cache,
                        unsigned char out[32]) {
    unsigned char secret_hash[32];
    if (!cache) {
        derive_key(p->secret_access_key, date8, p->region, p->service, out);
        return;
    }
    dp_sha256(p->secret_access_key, strlen(p->secret_access_key), secret_hash);
    if (cache->valid && memcmp(cache->date, date8, 8) == 0 && strcmp(cache->region, p->region) == 0 &&
        strcmp(cache->service, p->service) == 0 && CRYPTO_memcmp(cache->secret_hash, secret_hash, 32) == 0) {
        memcpy(out, cache->key, 32);
        return;
    }
    derive_key(p->secret_access_key, date8, p->region, p->service, out);
    /* valid_scope_part() bounded region/service to the cache's field sizes */
    memcpy(cache->date, date8, 8);
    cache->date[8] = '\0';
    snprintf(cache->region, sizeof cache->region, "%s", p->region);
    snprintf(cache->service, sizeof cache->service, "%s", p->service);
    memcpy(cache->secret_hash, secret_hash, 32);
    memcpy(cache->key, out, 32);
    cache->valid = 1;
}

static ddbpipe_result_t add_header(canon_header **hs, size_t *count, size_t *cap, const char *name,
                                   const char *value) {
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        canon_header *n = realloc(*hs, ncap * sizeof *n);
        if (!n)
            return DDBPIPE_ERR_NOMEM;
        *hs = n;
        *cap = ncap;
    }
    canon_header *h = &(*hs)[*count];
    h->name = lower_trimmed_name(name);
    h->value = collapsed_value(value);
    h->order = *count;
    (*count)++;
    if (!h->name || !h->value)
        return DDBPIPE_ERR_NOMEM;
    return DDBPIPE_OK;
}

ddbpipe_result_t dp_sigv4_sign(const dp_sigv4_request *req, const dp_sigv4_params *params,
                               dp_sigv4_key_cache *cache, dp_sigv4_result *out) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    canon_header *hs = NULL;
    size_t hcount = 0, hcap = 0;
    dp_buf signed_list;
    const char *amz_date = params ? params->amz_date : NULL;
    const char *payload_hash = NULL;
    char body_hash[65], creq_hash[65], date8[9];
    unsigned char key[32], sig[32];
    int have_host = 0, have_date = 0, have_token = 0;
    int use_token;

    dp_buf_init(&signed_list, 0);
    if (!req || !params || !out || !req->method || !*req->method || (req->header_count && !req->headers) ||
        (req->body_len && !req->body) || !params->access_key_id || !*params->access_key_id ||
        !params->secret_access_key || !*params->secret_access_key || !valid_scope_part(params->region, 64) ||
        !valid_scope_part(params->service, 32) || strchr(params->access_key_id, '/')) {
        rc = DDBPIPE_ERR_INVALID_ARG;
        goto out;
    }
    use_token = params->session_token && *params->session_token && !params->omit_session_token;
    dp_buf_reset(&out->canonical_request);
    dp_buf_reset(&out->string_to_sign);
    dp_buf_reset(&out->authorization);
    out->signature[0] = '\0';

    /* Collect signable headers; note which ones the caller already set. */
    for (size_t i = 0; i < req->header_count; i++) {
        const dp_http_header *h = &req->headers[i];
        int skip = 0;
        if (!h->name || !h->value || !valid_header_name(h->name)) {
            rc = DDBPIPE_ERR_INVALID_ARG;
            goto out;
        }
        rc = add_header(&hs, &hcount, &hcap, h->name, h->value);
        if (rc != DDBPIPE_OK)
            goto out;
        canon_header *c = &hs[hcount - 1];
        for (size_t k = 0; k < sizeof k_unsigned_headers / sizeof *k_unsigned_headers; k++)
            if (strcmp(c->name, k_unsigned_headers[k]) == 0)
                skip = 1;
        if (strcmp(c->name, "host") == 0)
            have_host = 1;
        if (strcmp(c->name, "x-amz-date") == 0) {
            if (have_date || !valid_amz_date(c->value) || (amz_date && strcmp(amz_date, c->value) != 0)) {
                rc = DDBPIPE_ERR_INVALID_ARG; /* two dates, or one that disagrees with params */
                goto out;
            }
            amz_date = c->value;
            have_date = 1;
        }
        if (strcmp(c->name, "x-amz-security-token") == 0) {
            if (params->omit_session_token)
                skip = 1;
            have_token = 1;
        }
        if (strcmp(c->name, "x-amz-content-sha256") == 0)
            payload_hash = c->value;
        if (skip) {
            free(c->name);
            free(c->value);
            hcount--;
        }
    }
    if (!have_host || !valid_amz_date(amz_date)) {
        rc = DDBPIPE_ERR_INVALID_ARG;
        goto out;
    }
    if (!have_date && (rc = add_header(&hs, &hcount, &hcap, "x-amz-date", amz_date)) != DDBPIPE_OK)
        goto out;
    if (use_token && !have_token &&
        (rc = add_header(&hs, &hcount, &hcap, "x-amz-security-token", params->session_token)) != DDBPIPE_OK)
        goto out;
    qsort(hs, hcount, sizeof *hs, header_cmp);
    memcpy(out->amz_date, amz_date, 17);
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';

    /* Canonical request. */
    dp_buf *cr = &out->canonical_request;
    if ((rc = dp_buf_printf(cr, "%s\n", req->method)) != DDBPIPE_OK)
        goto out;
    const char *path = req->path && *req->path ? req->path : "/";
    rc = params->normalize_path ? normalized_path(cr, path) : uri_encode(cr, path, strlen(path), 1);
    if (rc != DDBPIPE_OK || (rc = dp_buf_putc(cr, '\n')) != DDBPIPE_OK)
        goto out;
    if ((rc = canonical_query(cr, req->query)) != DDBPIPE_OK || (rc = dp_buf_putc(cr, '\n')) != DDBPIPE_OK)
        goto out;
    for (size_t i = 0; i < hcount; i++) {
        int first = i == 0 || strcmp(hs[i - 1].name, hs[i].name) != 0;
        int last = i + 1 == hcount || strcmp(hs[i + 1].name, hs[i].name) != 0;
        if (first) {
            rc = dp_buf_printf(cr, "%s:%s", hs[i].name, hs[i].value);
            if (rc == DDBPIPE_OK && signed_list.len)
                rc = dp_buf_putc(&signed_list, ';');
            if (rc == DDBPIPE_OK)
                rc = dp_buf_puts(&signed_list, hs[i].name);
        } else {
            rc = dp_buf_printf(cr, ",%s", hs[i].value);
        }
        if (rc == DDBPIPE_OK && last)
            rc = dp_buf_putc(cr, '\n');
        if (rc != DDBPIPE_OK)
            goto out;
    }
    if (!payload_hash) {
        dp_sha256_hex(req->body, req->body_len, body_hash);
        payload_hash = body_hash;
    }
    if ((rc = dp_buf_printf(cr, "\n%s\n%s", signed_list.data, payload_hash)) != DDBPIPE_OK)
        goto out;

    /* String to sign and signature. */
    dp_sha256_hex(cr->data, cr->len, creq_hash);
    rc = dp_buf_printf(&out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date,
                       date8, params->region, params->service, creq_hash);
    if (rc != DDBPIPE_OK)
        goto out;
    signing_key(params, date8, cache, key);
    dp_hmac_sha256(key, 32, out->string_to_sign.data, out->string_to_sign.len, sig);
    OPENSSL_cleanse(key, sizeof key);
    dp_hex(sig, 32, out->signature);
    rc = dp_buf_printf(&out->authorization,
                       "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                       params->access_key_id, date8, params->region, params->service, signed_list.data,
                       out->signature);
out:
    for (size_t i = 0; i < hcount; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);
    dp_buf_free(&signed_list);
    return rc;
}
