/* Fault tests for the credentials chain against loopback doubles
 * (tests/fault/cred_doubles.py: fake STS, container endpoint, IMDSv2):
 * success, malformed answers, HTTP/STS errors, timeouts, expiry and
 * refresh, precedence, assume-role signing, credential_process.
 * Every test starts from a clean AWS_* environment and HOME in a temp dir,
 * so the developer's ~/.aws never leaks in. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/cred_internal.h"
#include "aws/credentials.h"
#include "common/json.h"
#include "common/util.h"

static pid_t g_double = -1;
static int g_double_stdin = -1;
static int g_port;
static char g_tmp[256];
static char g_url[128]; /* http://127.0.0.1:PORT */

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "all_proxy",
};

/* ------------------------------------------------------------- harness */

static void doubles_script(char *out, size_t n) {
    const char *src = getenv("DDBPIPE_SOURCE_DIR");
    if (src) {
        snprintf(out, n, "%s/tests/fault/cred_doubles.py", src);
    } else {
        const char *f = __FILE__;
        const char *slash = strrchr(f, '/');
        snprintf(out, n, "%.*s/cred_doubles.py", slash ? (int)(slash - f) : 1, slash ? f : ".");
    }
}

static int start_double(void) {
    int in[2], outp[2];
    char script[1024], line[64];
    ssize_t n;
    size_t got = 0;
    doubles_script(script, sizeof(script));
    if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0)
        return -1;
    if (pipe2(in, O_CLOEXEC) || pipe2(outp, O_CLOEXEC))
        return -1;
    g_double = fork();
    if (g_double == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        execl("/usr/bin/python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    g_double_stdin = in[1];
    while (got < sizeof(line) - 1 && (n = read(outp[0], line + got, 1)) == 1) {
        if (line[got] == '\n')
            break;
        got++;
    }
    line[got] = '\0';
    close(outp[0]);
    if (sscanf(line, "PORT %d", &g_port) != 1)
        return -1;
    snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d", g_port);
    return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/ddbpipe-cred-XXXXXX");
    if (!mkdtemp(g_tmp))
        return -1;
    if (start_double() != 0) {
        fprintf(stderr, "SKIPPED: cannot start tests/fault/cred_doubles.py with /usr/bin/python3\n");
        rmdir(g_tmp);
        exit(77);
    }
    return 0;
}

static int group_teardown(void **state) {
    int st;
    (void)state;
    if (g_double_stdin >= 0)
        close(g_double_stdin); /* the double exits on EOF */
    if (g_double > 0) {
        int i;
        for (i = 0; i < 200 && waitpid(g_double, &st, WNOHANG) == 0; i++)
            usleep(10000);
        if (i == 200) {
            kill(g_double, SIGKILL);
            waitpid(g_double, &st, 0);
        }
    }
    nftw(g_tmp, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void http(const char *method, const char *path, const char *body, long *status, dp_buf *out) {
    char url[512], err[256];
    dp_cred_http_req req;
    memset(&req, 0, sizeof(req));
    snprintf(url, sizeof(url), "%s%s", g_url, path);
    req.url = url;
    req.method = method;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = 5000;
    req.no_proxy = 1;
    assert_int_equal(dp_cred_http(&req, status, out, err, sizeof(err)), DDBPIPE_OK);
}

static void control(const char *json) {
    long st;
    dp_buf b;
    dp_buf_init(&b, 0);
    http("POST", "/__control", json, &st, &b);
    assert_int_equal(st, 200);
    dp_buf_free(&b);
}

/* count of requests of one kind seen by the double */
static long stat_count(const char *kind) {
    long st, v = 0;
    dp_buf b;
    dp_json_doc *d;
    const dp_json *c;
    dp_buf_init(&b, 0);
    http("GET", "/__stats", NULL, &st, &b);
    d = dp_json_parse(b.data, b.len, NULL);
    assert_non_null(d);
    c = dp_json_get(dp_json_get(dp_json_root(d), "count"), kind);
    if (c)
        v = atol(c->str);
    dp_json_doc_free(d);
    dp_buf_free(&b);
    return v;
}

/* a string field of last_sts, or "" */
static void stat_sts(const char *field, char *out, size_t n) {
    long st;
    dp_buf b;
    dp_json_doc *d;
    const char *s;
    dp_buf_init(&b, 0);
    http("GET", "/__stats", NULL, &st, &b);
    d = dp_json_parse(b.data, b.len, NULL);
    assert_non_null(d);
    s = dp_json_get_string(dp_json_get(dp_json_root(d), "last_sts"), field);
    snprintf(out, n, "%s", s ? s : "");
    dp_json_doc_free(d);
    dp_buf_free(&b);
}

static long stat_rejected(void) {
    long st, v;
    dp_buf b;
    dp_json_doc *d;
    dp_buf_init(&b, 0);
    http("GET", "/__stats", NULL, &st, &b);
    d = dp_json_parse(b.data, b.len, NULL);
    assert_non_null(d);
    v = (long)dp_json_get(dp_json_root(d), "rejected")->count;
    if (v)
        fprintf(stderr, "double rejected: %s\n", b.data);
    dp_json_doc_free(d);
    dp_buf_free(&b);
    return v;
}

static int test_setup(void **state) {
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
        unsetenv(aws_vars[i]);
    setenv("HOME", g_tmp, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1); /* tests that want IMDS turn it back on */
    control(
        "{\"sts_mode\":\"ok\",\"container_mode\":\"ok\",\"imds_mode\":\"ok\",\"imds_token_mode\":\"ok\","
        "\"expire_in\":3600,\"sleep_s\":3,\"expect_token\":null,\"expect_akid\":null,\"expect_secret\":null,"
        "\"expect_session_token\":null,\"expect_auth\":null,\"reset_stats\":true}");
    return 0;
}

static void write_file(const char *name, const char *text, char *path_out, size_t n) {
    FILE *f;
    int w = snprintf(path_out, n, "%s/%s", g_tmp, name);
    assert_true(w > 0 && (size_t)w < n); /* a truncated path would write elsewhere */
    f = fopen(path_out, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Get from a fresh default chain with the given options. */
static ddbpipe_result_t chain_get(const dp_cred_options *o, dp_credentials *c, char *err, size_t n) {
    dp_cred_chain *ch = dp_cred_chain_new(o);
    ddbpipe_result_t rc;
    assert_non_null(ch);
    err[0] = '\0';
    rc = dp_cred_chain_get(ch, dp_wall_s(), c, err, n);
    dp_cred_chain_destroy(ch);
    /* no secret handed out by a double ever reaches an error message */
    assert_null(strstr(err, "secret-"));
    assert_null(strstr(err, "token-"));
    return rc;
}

static void opts_init(dp_cred_options *o) {
    dp_cred_options_init(o);
    o->timeout_ms = 2000;
}

static void sts_env(void) {
    char p[256];
    setenv("AWS_ENDPOINT_URL_STS", g_url, 1);
    write_file("wi-token", "eyJhbGciOi.fake-jwt.sig\n", p, sizeof(p));
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", p, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web", 1);
    setenv("AWS_ROLE_SESSION_NAME", "sess-web", 1);
}

/* ---------------------------------------------------------- precedence */

static void test_static_beats_env(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    (void)state;
    opts_init(&o);
    o.access_key_id = "AKIDSTATIC";
    o.secret_access_key = "static-secret";
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "static");
    assert_string_equal(c.access_key_id, "AKIDSTATIC");
    assert_int_equal(c.expiration_s, 0);
}

static void test_env_beats_profile_and_web_identity(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256];
    (void)state;
    opts_init(&o);
    write_file("creds", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n", p,
               sizeof(p));
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    sts_env();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    setenv("AWS_SESSION_TOKEN", "env-token", 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "environment");
    assert_string_equal(c.session_token, "env-token");
    assert_int_equal(stat_count("sts"), 0);
    /* without env: web identity comes before the profile */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "web-identity");
    /* and without web identity: the profile */
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "profile:default");
    assert_string_equal(c.access_key_id, "AKIDFILE");
}

static void test_partial_env_is_an_error(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256];
    (void)state;
    opts_init(&o);
    write_file("creds", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n", p,
               sizeof(p));
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    /* applies but is broken: the chain stops, it does not fall back to the file */
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
}

static void test_nothing_applies_lists_providers(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    (void)state;
    opts_init(&o);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "static ("));
    assert_non_null(strstr(err, "environment (AWS_ACCESS_KEY_ID not set)"));
    assert_non_null(strstr(err, "web-identity ("));
    assert_non_null(strstr(err, "profile (profile default not found"));
    assert_non_null(strstr(err, "container ("));
    assert_non_null(strstr(err, "imds (disabled by AWS_EC2_METADATA_DISABLED)"));
}

static void test_unknown_forced_provider(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    (void)state;
    opts_init(&o);
    o.provider = "sso";
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "sso"));
}

/* ------------------------------------------------------------- profiles */

static void test_profile_files_and_precedence(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256];
    (void)state;
    opts_init(&o);
    /* the default locations under HOME */
    mkdir(g_tmp, 0700);
    {
        char d[300];
        snprintf(d, sizeof(d), "%s/.aws", g_tmp);
        mkdir(d, 0700);
    }
    write_file(".aws/credentials", "[dev]\naws_access_key_id = AKIDCREDFILE\naws_secret_access_key = s1\n", p,
               sizeof(p));
    write_file(
        ".aws/config",
        "[default]\nregion = us-east-1\n[profile dev]\naws_access_key_id = AKIDCONFIG\n"
        "aws_secret_access_key = s2\naws_session_token = tok2\n[dev]\naws_access_key_id = AKIDIGNORED\n",
        p, sizeof(p));
    setenv("AWS_PROFILE", "dev", 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "profile:dev");
    /* the credentials file wins for keys set in both */
    assert_string_equal(c.access_key_id, "AKIDCREDFILE");
    assert_string_equal(c.secret_access_key, "s1");
    assert_string_equal(c.session_token, "tok2");
    /* opts->profile beats AWS_PROFILE */
    o.profile = "default";
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS); /* default has no keys */
    assert_non_null(strstr(err, "profile default has no credentials"));
}

static void test_profile_named_but_missing(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256];
    (void)state;
    opts_init(&o);
    write_file("creds", "[default]\naws_access_key_id = A\naws_secret_access_key = s\n", p, sizeof(p));
    o.credentials_file = p;
    o.profile = "prod";
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "profile prod not found"));
}

static void test_profile_syntax_error_names_line(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256], want[300];
    (void)state;
    opts_init(&o);
    write_file("badcfg", "[default]\nregion = x\nthis line is wrong\n", p, sizeof(p));
    setenv("AWS_CONFIG_FILE", p, 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s:3:", p);
    assert_non_null(strstr(err, want));
}

static void test_assume_role_signed_with_source(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256], v[256];
    (void)state;
    opts_init(&o);
    o.sts_endpoint = g_url;
    write_file("creds",
               "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n"
               "aws_session_token = base-token\n",
               p, sizeof(p));
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    write_file("config",
               "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n"
               "external_id = ext-1\nrole_session_name = sess-app\nregion = eu-west-1\n",
               p, sizeof(p));
    setenv("AWS_CONFIG_FILE", p, 1);
    setenv("AWS_PROFILE", "app", 1);
    control("{\"expect_akid\":\"AKIDBASE\",\"expect_secret\":\"base-secret\",\"expect_session_token\":\"base-"
            "token\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "assume-role:app");
    assert_memory_equal(c.access_key_id, "ASIASTS", 7);
    assert_true(c.expiration_s > dp_wall_s() + 3000);
    assert_int_equal(stat_rejected(), 0);
    stat_sts("akid", v, sizeof(v));
    assert_string_equal(v, "AKIDBASE");
    stat_sts("region", v, sizeof(v));
    assert_string_equal(v, "eu-west-1");
    stat_sts("external_id", v, sizeof(v));
    assert_string_equal(v, "ext-1");
    stat_sts("session_name", v, sizeof(v));
    assert_string_equal(v, "sess-app");
    stat_sts("role_arn", v, sizeof(v));
    assert_string_equal(v, "arn:aws:iam::123456789012:role/app");
}

/* Flink's ASSUME_ROLE: a role named in the config, assumed with the
 * credentials the base chain finds (here: static keys). */
static void test_assume_role_over_base_chain(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], v[256];
    (void)state;
    opts_init(&o);
    o.sts_endpoint = g_url;
    o.region = "eu-central-1";
    o.access_key_id = "AKIDFLINK";
    o.secret_access_key = "flink-secret";
    o.role_arn = "arn:aws:iam::123456789012:role/flink";
    o.external_id = "ext-flink";
    o.role_session_name = "flink-sess";
    dp_cred_options base = o;
    base.role_arn = NULL;
    dp_cred_provider *ar = dp_cred_provider_assume_role_new(dp_cred_chain_new(&base), &o);
    assert_non_null(ar);
    dp_cred_chain *ch = dp_cred_chain_new_from(&ar, 1, 0);
    assert_non_null(ch);
    control("{\"expect_akid\":\"AKIDFLINK\",\"expect_secret\":\"flink-secret\"}");
    assert_int_equal(dp_cred_chain_get(ch, dp_wall_s(), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "assume-role(static)");
    assert_memory_equal(c.access_key_id, "ASIASTS", 7);
    assert_int_equal(stat_rejected(), 0);
    stat_sts("akid", v, sizeof(v));
    assert_string_equal(v, "AKIDFLINK");
    stat_sts("external_id", v, sizeof(v));
    assert_string_equal(v, "ext-flink");
    stat_sts("role_arn", v, sizeof(v));
    assert_string_equal(v, "arn:aws:iam::123456789012:role/flink");
    stat_sts("region", v, sizeof(v));
    assert_string_equal(v, "eu-central-1");
    dp_cred_chain_destroy(ch);

    /* Wrong source secret: STS refuses, the error says so without the secret. */
    o.secret_access_key = "wrong-secret-value";
    base = o;
    base.role_arn = NULL;
    ar = dp_cred_provider_assume_role_new(dp_cred_chain_new(&base), &o);
    ch = dp_cred_chain_new_from(&ar, 1, 0);
    assert_int_not_equal(dp_cred_chain_get(ch, dp_wall_s(), &c, err, sizeof(err)), DDBPIPE_OK);
    assert_null(strstr(err, "wrong-secret-value"));
    assert_non_null(strstr(err, "SignatureDoesNotMatch"));
    dp_cred_chain_destroy(ch);
}

static void test_assume_role_bad_signature_rejected(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256];
    (void)state;
    opts_init(&o);
    o.sts_endpoint = g_url;
    write_file("creds", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = wrong-secret\n", p,
               sizeof(p));
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    write_file("config", "[profile app]\nrole_arn = arn:aws:iam::1:role/app\nsource_profile = base\n", p,
               sizeof(p));
    setenv("AWS_CONFIG_FILE", p, 1);
    setenv("AWS_PROFILE", "app", 1);
    control("{\"expect_akid\":\"AKIDBASE\",\"expect_secret\":\"base-secret\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_non_null(strstr(err, "SignatureDoesNotMatch"));
    assert_null(strstr(err, "wrong-secret"));
}

static void test_assume_role_chained_and_cycle(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256], v[64];
    (void)state;
    opts_init(&o);
    o.sts_endpoint = g_url;
    write_file("config",
               "[profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n"
               "[profile mid]\nrole_arn = arn:aws:iam::1:role/mid\nsource_profile = base\n"
               "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\n"
               "[profile self]\nrole_arn = arn:aws:iam::1:role/self\nsource_profile = self\n"
               "aws_access_key_id = AKIDSELF\naws_secret_access_key = self-secret\n"
               "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
               "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n"
               "[profile orphan]\nrole_arn = arn:aws:iam::1:role/o\n",
               p, sizeof(p));
    o.config_file = p;
    o.profile = "top";
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "assume-role:top");
    assert_int_equal(stat_count("sts"), 2);
    /* the second call was signed with what the first returned */
    stat_sts("akid", v, sizeof(v));
    assert_memory_equal(v, "ASIASTS", 7);
    assert_int_equal(stat_rejected(), 0);

    o.profile = "self";
    control("{\"expect_akid\":\"AKIDSELF\",\"expect_secret\":\"self-secret\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "assume-role:self");
    assert_int_equal(stat_rejected(), 0);

    o.profile = "a";
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "cycle"));
    o.profile = "orphan";
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "no source_profile"));
}

/* ---------------------------------------------------- credential_process */

static void process_profile(dp_cred_options *o, const char *script_body) {
    char script[256], cfg[600], p[256];
    write_file("proc.sh", script_body, script, sizeof(script));
    chmod(script, 0700);
    snprintf(cfg, sizeof(cfg), "[profile proc]\ncredential_process = /bin/sh %s --flag 'quoted arg'\n",
             script);
    write_file("config", cfg, p, sizeof(p));
    setenv("AWS_CONFIG_FILE", p, 1);
    o->profile = "proc";
}

static void test_credential_process(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    (void)state;
    opts_init(&o);
    process_profile(
        &o, "#!/bin/sh\n[ \"$2\" = 'quoted arg' ] || exit 9\n"
            "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-secret\","
            " \"SessionToken\": \"proc-token\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "process:proc");
    assert_string_equal(c.access_key_id, "AKIDPROC");
    assert_string_equal(c.session_token, "proc-token");
    assert_int_equal(c.expiration_s, 4070908800LL);
}

static void test_credential_process_failures(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    int64_t t0;
    (void)state;
    opts_init(&o);
    process_profile(
        &o, "#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"proc-secret\"}'\n"
            "exit 3\n");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "exited with status 3"));
    assert_null(strstr(err, "proc-secret"));

    process_profile(
        &o, "#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"proc-secr'\n");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "not valid JSON"));
    assert_null(strstr(err, "proc-secr"));

    process_profile(&o,
                    "#!/bin/sh\necho '{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}'\n");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "Version"));

    /* timeout: the whole process group is killed, we do not wait for it */
    process_profile(&o, "#!/bin/sh\nsleep 20\necho '{}'\n");
    o.process_timeout_ms = 300;
    t0 = dp_now_ms();
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_TIMEOUT);
    assert_true(dp_now_ms() - t0 < 3000);
    assert_non_null(strstr(err, "timed out"));
}

/* --------------------------------------------------------- web identity */

static void test_web_identity(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], v[128];
    (void)state;
    opts_init(&o);
    sts_env();
    control("{\"expect_token\":\"eyJhbGciOi.fake-jwt.sig\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "web-identity");
    assert_memory_equal(c.access_key_id, "ASIASTS", 7);
    assert_true(c.session_token[0] != '\0');
    assert_int_equal(stat_rejected(), 0);
    stat_sts("action", v, sizeof(v));
    assert_string_equal(v, "AssumeRoleWithWebIdentity");
    stat_sts("session_name", v, sizeof(v));
    assert_string_equal(v, "sess-web");
    stat_sts("content_type", v, sizeof(v));
    assert_non_null(strstr(v, "application/x-www-form-urlencoded"));

    /* default session name */
    unsetenv("AWS_ROLE_SESSION_NAME");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    stat_sts("session_name", v, sizeof(v));
    assert_memory_equal(v, "ddbpipe-", 8);

    /* token file without role: applies but misconfigured */
    unsetenv("AWS_ROLE_ARN");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
    assert_non_null(strstr(err, "AWS_ROLE_ARN"));
}

static void test_web_identity_errors(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    int64_t t0;
    (void)state;
    opts_init(&o);
    sts_env();
    control("{\"expect_token\":\"another-token\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_non_null(strstr(err, "InvalidIdentityToken"));
    assert_null(strstr(err, "fake-jwt")); /* the token is a secret too */

    control("{\"expect_token\":null,\"sts_mode\":\"error\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_non_null(strstr(err, "AccessDenied"));
    assert_non_null(strstr(err, "HTTP 403"));

    control("{\"sts_mode\":\"malformed\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);

    control("{\"sts_mode\":\"missing\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "SecretAccessKey"));

    control("{\"sts_mode\":\"sleep\",\"sleep_s\":2}");
    o.timeout_ms = 300;
    t0 = dp_now_ms();
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_TIMEOUT);
    assert_true(dp_now_ms() - t0 < 1500);

    /* unreadable token file */
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/token"));
}

/* ------------------------------------------------------------ container */

static void container_env(const char *auth) {
    char u[256];
    snprintf(u, sizeof(u), "%s/container/v2/creds", g_url);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", u, 1);
    if (auth)
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", auth, 1);
}

static void test_container(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024], p[256];
    (void)state;
    opts_init(&o);
    container_env("Bearer abc");
    control("{\"expect_auth\":\"Bearer abc\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "container");
    assert_memory_equal(c.access_key_id, "ASIACONTAINER", 13);
    assert_true(c.expiration_s > dp_wall_s());
    /* the token file wins over the variable */
    write_file("ctoken", "Bearer from-file\n", p, sizeof(p));
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", p, 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_non_null(strstr(err, "HTTP 401"));
    control("{\"expect_auth\":\"Bearer from-file\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    /* a token with a line break would inject headers */
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1", 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CONFIG);
}

static void test_container_errors(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    int64_t t0;
    (void)state;
    opts_init(&o);
    container_env(NULL);
    control("{\"container_mode\":\"malformed\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "not valid JSON"));
    control("{\"container_mode\":\"missing\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "SecretAccessKey is missing"));
    control("{\"container_mode\":\"error\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_SERVICE);
    assert_non_null(strstr(err, "HTTP 500"));
    control("{\"container_mode\":\"sleep\",\"sleep_s\":2}");
    o.timeout_ms = 300;
    t0 = dp_now_ms();
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_TIMEOUT);
    assert_true(dp_now_ms() - t0 < 1500);
}

static void test_container_full_uri_must_be_loopback_or_https(void **state) {
    static const char *const bad[] = {"http://example.com/creds", "http://127.0.0.1.evil.example/creds",
                                      "http://10.0.0.1:80/creds", "ftp://127.0.0.1/creds",
                                      "http://user@127.0.0.1/"};
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    size_t i;
    (void)state;
    opts_init(&o);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", bad[i], 1);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc", 1);
        if (chain_get(&o, &c, err, sizeof(err)) != DDBPIPE_ERR_CONFIG)
            fail_msg("%s accepted: %s", bad[i], err);
    }
    assert_int_equal(stat_count("container"), 0);
    /* localhost by name is loopback too */
    {
        char u[128];
        snprintf(u, sizeof(u), "http://localhost:%d/container/x", g_port);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", u, 1);
        unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    }
}

/* ----------------------------------------------------------------- IMDS */

static void imds_env(void) {
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", g_url, 1);
}

static void test_imds_token_flow(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    long st;
    dp_buf b;
    (void)state;
    opts_init(&o);
    imds_env();
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c.provider, "imds");
    assert_memory_equal(c.access_key_id, "ASIAIMDS", 8);
    assert_int_equal(stat_count("imds_token"), 1);
    assert_int_equal(stat_count("imds_list"), 1);
    assert_int_equal(stat_count("imds_creds"), 1);
    assert_int_equal(stat_count("imds_rejected"), 0);
    /* the double really checks the token (IMDSv1 would be refused) */
    dp_buf_init(&b, 0);
    http("GET", "/latest/meta-data/iam/security-credentials/test-role", NULL, &st, &b);
    assert_int_equal(st, 401);
    dp_buf_free(&b);
}

static void test_imds_disabled(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    (void)state;
    opts_init(&o);
    imds_env();
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "imds (disabled"));
    assert_int_equal(stat_count("imds_token"), 0);
}

static void test_imds_errors(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    int64_t t0;
    (void)state;
    opts_init(&o);
    imds_env();
    o.timeout_ms = 200;
    /* token PUT times out: not on EC2, the provider does not apply */
    control("{\"imds_token_mode\":\"sleep\",\"sleep_s\":1}");
    t0 = dp_now_ms();
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_true(dp_now_ms() - t0 < 1500); /* 2 attempts x 200 ms */
    assert_non_null(strstr(err, "imds (not reachable"));

    control("{\"imds_token_mode\":\"forbidden\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_AUTH);
    assert_non_null(strstr(err, "HTTP 403"));

    control("{\"imds_token_mode\":\"ok\",\"imds_mode\":\"sleep\",\"sleep_s\":1}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_TIMEOUT);

    control("{\"imds_mode\":\"malformed\"}");
    o.timeout_ms = 2000;
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_PARSE);
    assert_non_null(strstr(err, "role test-role"));

    control("{\"imds_mode\":\"error\"}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_SERVICE);
    assert_non_null(strstr(err, "HTTP 500"));
}

/* --------------------------------------------------------------- expiry */

static void test_refresh_before_expiry(void **state) {
    dp_cred_options o;
    dp_credentials c1, c2, c3;
    char err[1024];
    dp_cred_chain *ch;
    int64_t now = dp_wall_s();
    (void)state;
    opts_init(&o);
    o.refresh_before_s = 10;
    container_env(NULL);
    control("{\"expire_in\":30}");
    ch = dp_cred_chain_new(&o);
    assert_non_null(ch);
    assert_int_equal(dp_cred_chain_get(ch, now, &c1, err, sizeof(err)), DDBPIPE_OK);
    assert_int_equal(stat_count("container"), 1);
    /* cached while outside the refresh window */
    assert_int_equal(dp_cred_chain_get(ch, now + 15, &c2, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c1.access_key_id, c2.access_key_id);
    assert_int_equal(stat_count("container"), 1);
    /* inside the window (expiration - 10 s): refetched from the same provider */
    assert_int_equal(dp_cred_chain_get(ch, now + 25, &c2, err, sizeof(err)), DDBPIPE_OK);
    assert_int_equal(stat_count("container"), 2);
    assert_string_not_equal(c1.access_key_id, c2.access_key_id);
    assert_true(c2.expiration_s >= c1.expiration_s);
    /* refresh fails while the cached ones are still valid: keep them */
    control("{\"container_mode\":\"error\"}");
    assert_int_equal(dp_cred_chain_get(ch, c2.expiration_s - 2, &c3, err, sizeof(err)), DDBPIPE_OK);
    assert_string_equal(c3.access_key_id, c2.access_key_id);
    assert_int_equal(stat_count("container"), 3);
    /* never expired ones */
    err[0] = '\0';
    assert_int_not_equal(dp_cred_chain_get(ch, c2.expiration_s, &c3, err, sizeof(err)), DDBPIPE_OK);
    assert_int_equal(c3.access_key_id[0], 0);
    assert_non_null(strstr(err, "HTTP 500"));
    assert_int_equal(stat_count("container"), 4); /* it did try to refresh */
    /* after invalidate the whole chain runs again */
    control("{\"container_mode\":\"ok\"}");
    dp_cred_chain_invalidate(ch);
    assert_int_equal(dp_cred_chain_get(ch, now, &c3, err, sizeof(err)), DDBPIPE_OK);
    assert_int_equal(stat_count("container"), 5);
    dp_cred_chain_destroy(ch);
}

static void test_expiry_in_real_time(void **state) {
    dp_cred_options o;
    dp_credentials c1, c2;
    char err[1024];
    dp_cred_chain *ch;
    (void)state;
    opts_init(&o);
    o.refresh_before_s = 1;
    imds_env();
    control("{\"expire_in\":3}");
    ch = dp_cred_chain_new(&o);
    assert_int_equal(dp_cred_chain_get(ch, dp_wall_s(), &c1, err, sizeof(err)), DDBPIPE_OK);
    usleep(2200 * 1000);
    assert_int_equal(dp_cred_chain_get(ch, dp_wall_s(), &c2, err, sizeof(err)), DDBPIPE_OK);
    assert_string_not_equal(c1.access_key_id, c2.access_key_id);
    assert_true(c2.expiration_s > dp_wall_s());
    assert_int_equal(stat_count("imds_creds"), 2);
    dp_cred_chain_destroy(ch);
}

static void test_already_expired_answer_rejected(void **state) {
    dp_cred_options o;
    dp_credentials c;
    char err[1024];
    (void)state;
    opts_init(&o);
    container_env(NULL);
    control("{\"expire_in\":-60}");
    assert_int_equal(chain_get(&o, &c, err, sizeof(err)), DDBPIPE_ERR_CREDENTIALS);
    assert_non_null(strstr(err, "expired"));
    assert_int_equal(c.access_key_id[0], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_static_beats_env, test_setup),
        cmocka_unit_test_setup(test_env_beats_profile_and_web_identity, test_setup),
        cmocka_unit_test_setup(test_partial_env_is_an_error, test_setup),
        cmocka_unit_test_setup(test_nothing_applies_lists_providers, test_setup),
        cmocka_unit_test_setup(test_unknown_forced_provider, test_setup),
        cmocka_unit_test_setup(test_profile_files_and_precedence, test_setup),
        cmocka_unit_test_setup(test_profile_named_but_missing, test_setup),
        cmocka_unit_test_setup(test_profile_syntax_error_names_line, test_setup),
        cmocka_unit_test_setup(test_assume_role_signed_with_source, test_setup),
        cmocka_unit_test_setup(test_assume_role_over_base_chain, test_setup),
        cmocka_unit_test_setup(test_assume_role_bad_signature_rejected, test_setup),
        cmocka_unit_test_setup(test_assume_role_chained_and_cycle, test_setup),
        cmocka_unit_test_setup(test_credential_process, test_setup),
        cmocka_unit_test_setup(test_credential_process_failures, test_setup),
        cmocka_unit_test_setup(test_web_identity, test_setup),
        cmocka_unit_test_setup(test_web_identity_errors, test_setup),
        cmocka_unit_test_setup(test_container, test_setup),
        cmocka_unit_test_setup(test_container_errors, test_setup),
        cmocka_unit_test_setup(test_container_full_uri_must_be_loopback_or_https, test_setup),
        cmocka_unit_test_setup(test_imds_token_flow, test_setup),
        cmocka_unit_test_setup(test_imds_disabled, test_setup),
        cmocka_unit_test_setup(test_imds_errors, test_setup),
        cmocka_unit_test_setup(test_refresh_before_expiry, test_setup),
        cmocka_unit_test_setup(test_expiry_in_real_time, test_setup),
        cmocka_unit_test_setup(test_already_expired_answer_rejected, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
