/* Unit tests for the credentials parsers: INI (shared files), the JSON
 * answer (container / IMDS / credential_process) and STS XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/credentials.h"

/* ------------------------------------------------------------------ INI */

typedef struct ini_rec {
    char lines[32][200];
    int n;
    int stop_after; /* 0: never */
} ini_rec;

static int rec_cb(const char *section, const char *key, const char *value, void *opaque) {
    ini_rec *r = opaque;
    if (r->n < 32)
        snprintf(r->lines[r->n], sizeof(r->lines[0]), "%s|%s|%s", section, key, value);
    r->n++;
    if (r->stop_after && r->n >= r->stop_after)
        return 1;
    return 0;
}

static int ini(const char *text, ini_rec *r) {
    memset(r, 0, sizeof(*r));
    return dp_ini_parse(text, strlen(text), rec_cb, r);
}

static void test_ini_sections_keys_comments(void **state) {
    ini_rec r;
    (void)state;
    const char *text = "\xEF\xBB\xBF# comment\n"
                       "; another\n"
                       "[default]\r\n"
                       "aws_access_key_id = AKIDDEFAULT\r\n"
                       "AWS_Secret_Access_Key=  se=cret#notacomment  \n"
                       "\n"
                       "[ profile dev ]\n"
                       "region=eu-west-1\n"
                       "s3 =\n"
                       "  max_concurrent_requests = 10\n"
                       "role_arn = arn:aws:iam::1:role/x\n";
    assert_int_equal(ini(text, &r), 0);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.lines[0], "default|aws_access_key_id|AKIDDEFAULT");
    /* keys lower-cased, values trimmed, '#' inside a value kept (no inline comments) */
    assert_string_equal(r.lines[1], "default|aws_secret_access_key|se=cret#notacomment");
    assert_string_equal(r.lines[2], "profile dev|region|eu-west-1");
    /* indented sub-keys of "s3 =" are skipped, the next top-level key is kept */
    assert_string_equal(r.lines[3], "profile dev|s3|");
    assert_string_equal(r.lines[4], "profile dev|role_arn|arn:aws:iam::1:role/x");
}

static void test_ini_syntax_errors_name_the_line(void **state) {
    ini_rec r;
    (void)state;
    assert_int_equal(ini("[a]\nk=v\nno equals sign\n", &r), 3);
    assert_int_equal(ini("key=before_section\n", &r), 1);
    assert_int_equal(ini("[a\nk=v\n", &r), 1);
    assert_int_equal(ini("[]\n", &r), 1);
    assert_int_equal(ini("[a]\n=value\n", &r), 2);
    assert_int_equal(ini("[a] trailing\n", &r), 1);
    assert_int_equal(ini("[a] # ok\nk=v", &r), 0); /* last line without newline */
    assert_int_equal(r.n, 1);
    assert_string_equal(r.lines[0], "a|k|v");
    assert_int_equal(ini("", &r), 0);
    assert_int_equal(r.n, 0);
}

static void test_ini_callback_abort(void **state) {
    ini_rec r;
    (void)state;
    memset(&r, 0, sizeof(r));
    r.stop_after = 1;
    assert_int_equal(dp_ini_parse("[a]\nx=1\ny=2\n", 12, rec_cb, &r), -1);
    assert_int_equal(r.n, 1);
}

static void test_ini_embedded_nul_and_len(void **state) {
    ini_rec r;
    const char text[] = "[a]\nk=v\0junk\nz=1\n";
    (void)state;
    memset(&r, 0, sizeof(r));
    /* len bounds the parse: only "[a]\nk=v" */
    assert_int_equal(dp_ini_parse(text, 7, rec_cb, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.lines[0], "a|k|v");
}

/* ----------------------------------------------------------------- JSON */

static void test_json_container_answer(void **state) {
    dp_credentials c;
    char err[256] = "";
    const char *body = "{\"AccessKeyId\":\"ASIAEXAMPLE1\",\"SecretAccessKey\":\"sek/ret+1\","
                       "\"Token\":\"tok==\",\"Expiration\":\"2030-01-02T03:04:05Z\",\"RoleArn\":\"x\"}";
    (void)state;
    assert_int_equal(dp_cred_parse_json(body, strlen(body), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.access_key_id, "ASIAEXAMPLE1");
    assert_string_equal(c.secret_access_key, "sek/ret+1");
    assert_string_equal(c.session_token, "tok==");
    assert_int_equal(c.expiration_s, 1893553445);
    dp_credentials_clear(&c);
    assert_int_equal(c.access_key_id[0], 0);
    assert_int_equal(c.secret_access_key[0], 0);
}

static void test_json_imds_answer_and_code(void **state) {
    dp_credentials c;
    char err[256] = "";
    const char *ok = "{\"Code\":\"Success\",\"LastUpdated\":\"2030-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\","
                     "\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
                     "\"Expiration\":\"2030-01-01T06:00:00.000+00:00\"}";
    const char *fail =
        "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}";
    (void)state;
    assert_int_equal(dp_cred_parse_json(ok, strlen(ok), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.access_key_id, "ASIAIMDS");
    assert_int_equal(c.expiration_s, 1893477600);
    assert_int_not_equal(dp_cred_parse_json(fail, strlen(fail), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_non_null(strstr(err, "AssumeRoleUnauthorizedAccess"));
    assert_int_equal(c.access_key_id[0], 0);
}

static void test_json_process_answer(void **state) {
    dp_credentials c;
    char err[256] = "";
    const char *v1 = "{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"procsecret\","
                     "\"SessionToken\":\"proctoken\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";
    const char *noexp = "{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"procsecret\"}";
    const char *v2 = "{\"Version\":2,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"procsecret\"}";
    const char *nov = "{\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"procsecret\"}";
    (void)state;
    assert_int_equal(dp_cred_parse_process_json(v1, strlen(v1), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.session_token, "proctoken");
    assert_int_equal(dp_cred_parse_process_json(noexp, strlen(noexp), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_int_equal(c.expiration_s, 0); /* never expires */
    assert_int_equal(c.session_token[0], 0);
    assert_int_equal(dp_cred_parse_process_json(v2, strlen(v2), &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "Version"));
    assert_int_equal(dp_cred_parse_process_json(nov, strlen(nov), &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "Version"));
    /* the container parser does not require Version */
    assert_int_equal(dp_cred_parse_json(nov, strlen(nov), &c, err, sizeof(err)), DDBPIPE_OK);
}

static void test_json_malformed(void **state) {
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"", "not valid JSON"},
        {"{\"AccessKeyId\":\"A\",", "not valid JSON"},
        {"[1,2]", "not a JSON object"},
        {"{\"SecretAccessKey\":\"TOPSECRET\"}", "AccessKeyId is missing"},
        {"{\"AccessKeyId\":\"A\"}", "SecretAccessKey is missing"},
        {"{\"AccessKeyId\":5,\"SecretAccessKey\":\"TOPSECRET\"}", "AccessKeyId is not a string"},
        {"{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"TOPSECRET\"}", "AccessKeyId is empty"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"TOPSECRET\",\"Token\":7}", "Token is not a string"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"TOPSECRET\",\"Expiration\":\"tomorrow\"}",
         "Expiration"},
        /* a secret pasted where the time belongs is not quoted back */
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"x\",\"Expiration\":\"TOPSECRET\"}",
         "Expiration (9 characters) is not an ISO-8601 time"},
        {"{\"AccessKeyId\":\"A\\u0000B\",\"SecretAccessKey\":\"TOPSECRET\"}", "NUL"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dp_credentials c;
        char err[256] = "";
        ddbpipe_result_t rc = dp_cred_parse_json(cases[i].body, strlen(cases[i].body), &c, err, sizeof(err));
        if (rc == DDBPIPE_OK || !strstr(err, cases[i].needle))
            fail_msg("case %zu: rc %d err \"%s\"", i, rc, err);
        /* the secret never appears in the error */
        assert_null(strstr(err, "TOPSECRET"));
        assert_int_equal(c.secret_access_key[0], 0);
    }
}

static void test_json_field_too_long(void **state) {
    dp_credentials c;
    char err[256] = "";
    char body[4096];
    char big[3000];
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"%s\"}", big);
    assert_int_equal(dp_cred_parse_json(body, strlen(body), &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "Token is longer"));
    assert_null(strstr(err, "xxxx"));
}

/* ------------------------------------------------------------------ XML */

static const char *sts_ok =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    <SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentityToken>\n"
    "    <Credentials>\n"
    "      <SessionToken>FwoGZXIvYXdzE&amp;Hx+/=</SessionToken>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG</SecretAccessKey>\n"
    "      <Expiration>2030-01-02T03:04:05Z</Expiration>\n"
    "      <AccessKeyId>ASIASTS1</AccessKeyId>\n"
    "    </Credentials>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

static void test_xml_success(void **state) {
    dp_credentials c;
    char err[256] = "";
    (void)state;
    assert_int_equal(dp_cred_parse_sts_xml(sts_ok, strlen(sts_ok), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.access_key_id, "ASIASTS1");
    assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG");
    assert_string_equal(c.session_token, "FwoGZXIvYXdzE&Hx+/="); /* entity decoded */
    assert_int_equal(c.expiration_s, 1893553445);
}

static void test_xml_error_document(void **state) {
    dp_credentials c;
    char err[256] = "";
    const char *denied =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
        "</Type><Code>AccessDenied</Code><Message>Not authorized to perform "
        "sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>r-1</RequestId>"
        "</ErrorResponse>";
    const char *throttle = "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message>"
                           "</Error></ErrorResponse>";
    const char *nomsg = "<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>";
    (void)state;
    assert_int_equal(dp_cred_parse_sts_xml(denied, strlen(denied), &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_string_equal(err,
                        "STS error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity");
    assert_int_equal(dp_cred_parse_sts_xml(throttle, strlen(throttle), &c, err, sizeof(err)),
                     DDBPIPE_ERR_SERVICE);
    assert_string_equal(err, "STS error Throttling: Rate exceeded");
    assert_int_equal(dp_cred_parse_sts_xml(nomsg, strlen(nomsg), &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_non_null(strstr(err, "InvalidIdentityToken"));
}

static void test_xml_malformed(void **state) {
    static const struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"", "no <Credentials>"},
        {"not xml at all", "no <Credentials>"},
        {"<Credentials><AccessKeyId>A</AccessKeyId>", "no <Credentials>"}, /* unclosed */
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>TOPSECRET</SecretAccessKey>"
         "<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>",
         "no <SessionToken>"},
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>TOPSECRET</SecretAccessKey>"
         "<SessionToken>t</SessionToken></Credentials>",
         "Expiration"},
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>TOPSECRET</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>soon</Expiration></Credentials>",
         "not an ISO-8601"},
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>x</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>TOPSECRET</Expiration></Credentials>",
         "<Expiration> (9 characters) is not an ISO-8601 time"},
        {"<Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>TOPSECRET</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>",
         "<AccessKeyId> is empty"},
        {"<Credentials><AccessKeyId>A&bogus;</AccessKeyId><SecretAccessKey>TOPSECRET</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>",
         "<AccessKeyId> is malformed"},
        {"<Credentials><AccessKeyId><b>A</b></AccessKeyId><SecretAccessKey>TOPSECRET</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>",
         "<AccessKeyId> is malformed"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dp_credentials c;
        char err[256] = "";
        ddbpipe_result_t rc =
            dp_cred_parse_sts_xml(cases[i].body, strlen(cases[i].body), &c, err, sizeof(err));
        if (rc != DDBPIPE_ERR_PARSE || !strstr(err, cases[i].needle))
            fail_msg("case %zu: rc %d err \"%s\"", i, rc, err);
        assert_null(strstr(err, "TOPSECRET"));
        assert_int_equal(c.access_key_id[0], 0);
        assert_int_equal(c.secret_access_key[0], 0);
    }
}

static void test_xml_token_too_long(void **state) {
    dp_credentials c;
    char err[256] = "";
    char *body = malloc(8000);
    char *big = malloc(3000);
    (void)state;
    memset(big, 'Q', 2999);
    big[2999] = '\0';
    snprintf(body, 8000,
             "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>%s"
             "</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>",
             big);
    assert_int_equal(dp_cred_parse_sts_xml(body, strlen(body), &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "SessionToken"));
    free(body);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini_sections_keys_comments),
        cmocka_unit_test(test_ini_syntax_errors_name_the_line),
        cmocka_unit_test(test_ini_callback_abort),
        cmocka_unit_test(test_ini_embedded_nul_and_len),
        cmocka_unit_test(test_json_container_answer),
        cmocka_unit_test(test_json_imds_answer_and_code),
        cmocka_unit_test(test_json_process_answer),
        cmocka_unit_test(test_json_malformed),
        cmocka_unit_test(test_json_field_too_long),
        cmocka_unit_test(test_xml_success),
        cmocka_unit_test(test_xml_error_document),
        cmocka_unit_test(test_xml_malformed),
        cmocka_unit_test(test_xml_token_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
