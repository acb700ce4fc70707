/* Unit tests for the caching chain's semantics with scripted providers (no
 * network, no clock: now_s is passed in): order, NOT_FOUND moves on, a
 * failing provider stops the chain, refresh window, keep-valid-on-refresh-
 * failure, never expired; plus static and environment providers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/credentials.h"

typedef struct fake {
    ddbpipe_result_t rc; /* what the next fetch returns */
    int64_t expiration_s;
    int calls;
    char akid[32];
} fake;

static ddbpipe_result_t fake_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr, size_t n) {
    fake *f = p->impl;
    f->calls++;
    if (f->rc != DDBPIPE_OK) {
        snprintf(errstr, n, "fake says %d", (int)f->rc);
        return f->rc;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s%d", f->akid, f->calls);
    snprintf(out->secret_access_key, sizeof(out->secret_access_key), "fake-secret");
    out->expiration_s = f->expiration_s;
    snprintf(out->provider, sizeof(out->provider), "fake:%s", f->akid);
    return DDBPIPE_OK;
}

static void fake_destroy(dp_cred_provider *p) {
    free(p);
}

static const dp_cred_provider_vtable fake_vt = {"fake", fake_fetch, fake_destroy};

static dp_cred_provider *fake_new(fake *f) {
    dp_cred_provider *p = calloc(1, sizeof(*p));
    p->vt = &fake_vt;
    p->impl = f;
    return p;
}

static void test_not_found_moves_on_error_stops(void **state) {
    fake a = {DDBPIPE_ERR_NOT_FOUND, 0, 0, "A"}, b = {DDBPIPE_ERR_TIMEOUT, 0, 0, "B"},
         c = {DDBPIPE_OK, 0, 0, "C"};
    dp_cred_provider *ps[3];
    dp_cred_chain *ch;
    dp_credentials cr;
    char err[512];
    (void)state;
    ps[0] = fake_new(&a);
    ps[1] = fake_new(&b);
    ps[2] = fake_new(&c);
    ch = dp_cred_chain_new_from(ps, 3, 10);
    assert_int_equal(dp_cred_chain_get(ch, 1000, &cr, err, sizeof(err)), DDBPIPE_ERR_TIMEOUT);
    assert_non_null(strstr(err, "fake says 8"));
    assert_int_equal(c.calls, 0); /* the chain stopped at B */
    b.rc = DDBPIPE_ERR_NOT_FOUND;
    assert_int_equal(dp_cred_chain_get(ch, 1000, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.provider, "fake:C");
    assert_int_equal(a.calls, 2);
    c.rc = DDBPIPE_ERR_NOT_FOUND;
    dp_cred_chain_invalidate(ch);
    assert_int_equal(dp_cred_chain_get(ch, 1000, &cr, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "no credentials found"));
    dp_cred_chain_destroy(ch);
}

static void test_cache_refresh_window(void **state) {
    fake a = {DDBPIPE_OK, 2000, 0, "A"};
    dp_cred_provider *ps[1];
    dp_cred_chain *ch;
    dp_credentials cr;
    char err[512];
    (void)state;
    ps[0] = fake_new(&a);
    ch = dp_cred_chain_new_from(ps, 1, 100);
    assert_int_equal(dp_cred_chain_get(ch, 1000, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.access_key_id, "A1");
    assert_int_equal(dp_cred_chain_get(ch, 1899, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.access_key_id, "A1"); /* cached */
    a.expiration_s = 3000;
    assert_int_equal(dp_cred_chain_get(ch, 1900, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.access_key_id, "A2"); /* refreshed 100 s before expiry */
    /* refresh fails: keep the still-valid ones */
    a.rc = DDBPIPE_ERR_TRANSPORT;
    assert_int_equal(dp_cred_chain_get(ch, 2950, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.access_key_id, "A2");
    assert_int_equal(a.calls, 3);
    /* expired and the refresh fails: an error, never the expired ones */
    assert_int_equal(dp_cred_chain_get(ch, 3000, &cr, err, sizeof(err)), DDBPIPE_ERR_TRANSPORT);
    assert_int_equal(cr.access_key_id[0], 0);
    assert_non_null(strstr(err, "refreshing expired credentials from fake:A failed"));
    /* a provider that answers with already expired credentials */
    a.rc = DDBPIPE_OK;
    a.expiration_s = 3000;
    assert_int_equal(dp_cred_chain_get(ch, 3001, &cr, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "expired"));
    dp_cred_chain_destroy(ch);
}

static void test_static_provider(void **state) {
    dp_cred_provider *p;
    dp_credentials cr;
    char err[256];
    (void)state;
    p = dp_cred_provider_static_new("AKIDSTATIC", "sec", "tok");
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.provider, "static");
    assert_string_equal(cr.session_token, "tok");
    dp_cred_provider_destroy(p);
    p = dp_cred_provider_static_new(NULL, NULL, NULL);
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_ERR_NOT_FOUND);
    dp_cred_provider_destroy(p);
    p = dp_cred_provider_static_new("AKIDSTATIC", "", NULL);
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "secret_access_key"));
    dp_cred_provider_destroy(p);
    dp_cred_provider_destroy(NULL);
}

static void test_env_provider(void **state) {
    dp_cred_provider *p = dp_cred_provider_env_new();
    dp_credentials cr;
    char err[256];
    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_CREDENTIAL_EXPIRATION");
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_ERR_NOT_FOUND);
    setenv("AWS_ACCESS_KEY_ID", "", 1); /* empty counts as unset */
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_ERR_NOT_FOUND);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
    assert_null(strstr(err, "envsecret"));
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z", 1);
    assert_int_equal(p->vt->fetch(p, &cr, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(cr.provider, "environment");
    assert_string_equal(cr.session_token, "envtoken");
    assert_int_equal(cr.expiration_s, 1893553445);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_CREDENTIAL_EXPIRATION");
    dp_cred_provider_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found_moves_on_error_stops),
        cmocka_unit_test(test_cache_refresh_window),
        cmocka_unit_test(test_static_provider),
        cmocka_unit_test(test_env_provider),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
