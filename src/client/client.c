/* The client layer: config -> region, credentials chain and DynamoDB client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_internal.h"
#include "common/log.h"
#include "common/util.h"

#define DP_CLIENT_MAX_CONFIG_FILE ((size_t)1024 * 1024)

typedef struct region_ctx {
    const char *profile;
    char region[64];
    int found;
} region_ctx;

/* [default] or [profile NAME] in ~/.aws/config ([NAME] accepted too, as
 * some tools write it). */
static int region_cb(const char *section, const char *key, const char *value, void *opaque) {
    region_ctx *rc = opaque;
    const char *name = section;
    if (!section || !key || !value || strcasecmp(key, "region") != 0)
        return 0;
    if (strncmp(section, "profile ", 8) == 0) {
        name = section + 8;
        while (*name == ' ')
            name++;
    }
    if (strcmp(name, rc->profile) == 0 && value[0] && strlen(value) < sizeof rc->region) {
        snprintf(rc->region, sizeof rc->region, "%s", value);
        rc->found = 1;
    }
    return 0;
}

static int section_cb(const char *section, const char *key, const char *value, void *opaque) {
    region_ctx *rc = opaque;
    const char *name = section;
    (void)key;
    (void)value;
    if (!section)
        return 0;
    if (strncmp(section, "profile ", 8) == 0) {
        name = section + 8;
        while (*name == ' ')
            name++;
    }
    if (strcmp(name, rc->profile) == 0)
        rc->found = 1;
    return 0;
}

/* ~/.aws/config or AWS_CONFIG_FILE (config), ~/.aws/credentials or
 * AWS_SHARED_CREDENTIALS_FILE. -1 without HOME. */
static int shared_file_path(int config, char *path, size_t size) {
    const char *env = getenv(config ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE");
    if (env && env[0]) {
        snprintf(path, size, "%s", env);
        return 0;
    }
    const char *home = getenv("HOME");
    if (!home || !home[0])
        return -1;
    snprintf(path, size, "%s/.aws/%s", home, config ? "config" : "credentials");
    return 0;
}

/* Does either shared file have a section for profile? */
static int profile_exists(const dp_settings *st, const char *profile, char *paths, size_t paths_size) {
    region_ctx rc = {0};
    rc.profile = profile;
    paths[0] = '\0';
    for (int config = 1; config >= 0; config--) {
        char path[1024];
        if (config == 0 && st->credentials_file)
            snprintf(path, sizeof path, "%s", st->credentials_file);
        else if (shared_file_path(config, path, sizeof path) != 0)
            continue;
        size_t pl = strlen(paths);
        snprintf(paths + pl, paths_size - pl, "%s%s", pl ? " or " : "", path);
        size_t len = 0;
        char *text = dp_read_file(path, DP_CLIENT_MAX_CONFIG_FILE, &len);
        if (!text)
            continue;
        dp_ini_parse(text, len, section_cb, &rc);
        free(text);
    }
    return rc.found;
}

/* Why no region was found, naming the profile when one was asked for: a
 * named profile that does not exist is the mistake to point at. */
static void no_region_error(const dp_settings *st, char *errstr, size_t errstr_size) {
    const char *profile = st->profile;
    char paths[2100];
    if (profile && profile[0]) {
        const char *env = getenv("AWS_PROFILE");
        const char *from = dp_settings_is_set(st, &st->profile) ? "config 'profile'"
                           : env && env[0]                      ? "AWS_PROFILE"
                                                                : "AWS_DEFAULT_PROFILE";
        if (!profile_exists(st, profile, paths, sizeof paths)) {
            dp_errf(errstr, errstr_size, "profile '%s' (from %s) not found in %s", profile, from,
                    paths[0] ? paths : "the shared AWS files (HOME is not set)");
            return;
        }
        dp_errf(errstr, errstr_size,
                "no region: profile '%s' (from %s) has no region, and neither 'region' in the config "
                "(or --set region=us-east-1), AWS_REGION nor AWS_DEFAULT_REGION is set",
                profile, from);
        return;
    }
    dp_errf(errstr, errstr_size,
            "no region: set 'region' in the config (or --set region=us-east-1), AWS_REGION, "
            "AWS_DEFAULT_REGION, or region in the profile of ~/.aws/config");
}

int dp_client_resolve_region(const dp_settings *st, char *region, size_t region_size, char *source,
                             size_t source_size) {
    const char *v = st->region;
    const char *env;
    if (v && v[0]) {
        const char *aws_region = getenv("AWS_REGION");
        if (dp_settings_is_set(st, &st->region))
            env = "config";
        else if (aws_region && aws_region[0])
            env = "AWS_REGION";
        else
            env = "AWS_DEFAULT_REGION";
        snprintf(region, region_size, "%s", v);
        snprintf(source, source_size, "%s", env);
        return 0;
    }
    static const char *const envs[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < 2; i++) {
        env = getenv(envs[i]);
        if (env && env[0]) {
            snprintf(region, region_size, "%s", env);
            snprintf(source, source_size, "%s", envs[i]);
            return 0;
        }
    }
    /* The profile's region in the shared config file. */
    region_ctx rc = {0};
    /* the same profile the credentials come from (profile, AWS_PROFILE,
     * AWS_DEFAULT_PROFILE, default), as the SDKs do */
    const char *profile = st->profile; /* with the AWS_PROFILE, AWS_DEFAULT_PROFILE fallbacks */
    rc.profile = profile && profile[0] ? profile : "default";
    char path[1024];
    if (shared_file_path(1, path, sizeof path) != 0)
        return -1;
    size_t len = 0;
    char *text = dp_read_file(path, DP_CLIENT_MAX_CONFIG_FILE, &len);
    if (!text)
        return -1;
    dp_ini_parse(text, len, region_cb, &rc);
    free(text);
    if (!rc.found)
        return -1;
    snprintf(region, region_size, "%s", rc.region);
    snprintf(source, source_size, "profile %s in %s", rc.profile, path);
    return 0;
}

ddbpipe_result_t dp_client_new(const ddbpipe_conf_t *conf, int max_attempts, int max_in_flight,
                               ddbpipe_client_t **out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    ddbpipe_client_t *c = NULL;
    dp_settings st;

    if (!conf || !out) {
        dp_errf(errstr, errstr_size, "ddbpipe_client_new: conf and out are required");
        return DDBPIPE_ERR_INVALID_ARG;
    }
    *out = NULL;
    dp_conf_settings(conf, &st);
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = DDBPIPE_ERR_NOMEM;
        dp_errf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (dp_client_resolve_region(&st, c->region, sizeof c->region, c->region_source,
                                 sizeof c->region_source) != 0) {
        rc = DDBPIPE_ERR_CONFIG;
        no_region_error(&st, errstr, errstr_size);
        goto out;
    }
    int trust_all = st.trust_all_certificates;
    if (trust_all)
        DP_LOG_WARN("trust_all_certificates is on: TLS certificates are not verified");

    dp_cred_options co;
    dp_cred_options_init(&co);
    co.access_key_id = st.aws_access_key_id;
    co.secret_access_key = st.aws_secret_access_key;
    co.session_token = st.aws_session_token;
    co.profile = st.profile;
    co.region = c->region;
    co.credentials_file = st.credentials_file;
    co.web_identity_token_file = st.web_identity_token_file;
    co.role_arn = st.role_arn;
    co.role_session_name = st.role_session_name;
    co.external_id = st.external_id;
    co.provider =
        st.credentials_provider > DP_CREDS_AUTO ? dp_settings_enum_text(&st, &st.credentials_provider) : NULL;
    co.verify_tls = !trust_all;
    co.ca_file = st.ca_file;
    if ((co.access_key_id && co.access_key_id[0]) != (co.secret_access_key && co.secret_access_key[0])) {
        rc = DDBPIPE_ERR_CONFIG;
        dp_errf(errstr, errstr_size, "aws_access_key_id and aws_secret_access_key must be given together");
        goto out;
    }
    if (st.assume_role) {
        /* Flink ASSUME_ROLE: the configured chain supplies the source
         * credentials; role_arn there would mean web identity, so it is
         * taken out of the base chain. */
        dp_cred_options base_opts = co;
        base_opts.role_arn = NULL;
        dp_cred_chain *base = dp_cred_chain_new(&base_opts);
        dp_cred_provider *ar = base ? dp_cred_provider_assume_role_new(base, &co) : NULL;
        c->creds = ar ? dp_cred_chain_new_from(&ar, 1, 0) : NULL;
    } else {
        c->creds = dp_cred_chain_new(&co);
    }
    if (!c->creds) {
        rc = DDBPIPE_ERR_NOMEM;
        dp_errf(errstr, errstr_size, "out of memory");
        goto out;
    }

    dp_ddb_options o;
    dp_ddb_options_init(&o);
    o.region = c->region;
    o.endpoint_url = st.endpoint_url;
    o.streams_endpoint_url = st.streams_endpoint_url;
    o.creds = c->creds;
    o.http.connect_timeout_ms = (long)st.connect_timeout_ms;
    o.http.request_timeout_ms = (long)st.request_timeout_ms;
    o.http.verify_tls = !trust_all;
    o.http.ca_file = st.ca_file;
    /* Connections follow the calls the caller keeps in flight: with fewer,
     * calls over the cap would queue inside curl (max_concurrent_requests
     * above 64 had no effect while this stayed at curl's 64). */
    o.http.max_connections = max_in_flight > 0 ? max_in_flight : (int)st.max_concurrent_requests;
    int64_t retries = st.max_retries;
    o.max_attempts = retries < 0 ? -1 : (int)retries + 1;
    if (max_attempts > 0 && (o.max_attempts < 0 || o.max_attempts > max_attempts))
        o.max_attempts = max_attempts;
    o.adaptive = st.retry_mode == DP_RETRY_MODE_ADAPTIVE;
    o.backoff_base_ms = st.retry_backoff_base_ms;
    o.backoff_max_ms = st.retry_backoff_max_ms;
    c->ddb = dp_ddb_new(&o, errstr, errstr_size);
    if (!c->ddb) {
        rc = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    const char *ep = dp_ddb_endpoint(c->ddb, DP_DDB_API_DYNAMODB);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep ? ep : "");
    /* "http://host:port/" reads better without the lone slash. */
    size_t el = strlen(c->endpoint);
    if (el > 8 && c->endpoint[el - 1] == '/' &&
        strchr(strchr(c->endpoint, ':') + 3, '/') == c->endpoint + el - 1)
        c->endpoint[el - 1] = '\0';
    *out = c;
    c = NULL;
out:
    ddbpipe_client_destroy(c);
    return rc;
}

ddbpipe_result_t ddbpipe_client_new(const ddbpipe_conf_t *conf, ddbpipe_client_t **out, char *errstr,
                                    size_t errstr_size) {
    return dp_client_new(conf, 0, 0, out, errstr, errstr_size);
}

void ddbpipe_client_destroy(ddbpipe_client_t *client) {
    if (!client)
        return;
    dp_ddb_destroy(client->ddb);
    dp_cred_chain_destroy(client->creds);
    free(client);
}

ddbpipe_result_t ddbpipe_client_credentials_source(ddbpipe_client_t *client, const char **provider,
                                                   const char **access_key_id_masked, char *errstr,
                                                   size_t errstr_size) {
    dp_credentials cr;
    ddbpipe_result_t rc;
    if (!client)
        return DDBPIPE_ERR_INVALID_ARG;
    memset(&cr, 0, sizeof cr);
    rc = dp_cred_chain_get(client->creds, dp_wall_s(), &cr, errstr, errstr_size);
    if (rc == DDBPIPE_OK) {
        snprintf(client->provider, sizeof client->provider, "%s", cr.provider[0] ? cr.provider : "unknown");
        dp_mask_key(cr.access_key_id, client->akid_masked);
        if (provider)
            *provider = client->provider;
        if (access_key_id_masked)
            *access_key_id_masked = client->akid_masked;
    }
    dp_credentials_clear(&cr);
    return rc;
}

dp_ddb *dp_client_ddb(const ddbpipe_client_t *client) {
    return client ? client->ddb : NULL;
}

const char *ddbpipe_client_region(const ddbpipe_client_t *client) {
    return client ? client->region : NULL;
}

const char *ddbpipe_client_endpoint(const ddbpipe_client_t *client) {
    return client ? client->endpoint : NULL;
}

ddbpipe_result_t dp_client_call_error(const ddbpipe_client_t *client, const char *what, const char *table,
                                      ddbpipe_result_t rc, const dp_ddb_result *res, char *errstr,
                                      size_t errstr_size) {
    const char *ep = client ? client->endpoint : "?";
    const char *code = res && res->error_code[0] ? res->error_code : NULL;
    const char *msg = res && res->message[0] ? res->message : ddbpipe_strerror(rc);
    int attempts = res ? res->attempts : 0;
    /* The request never left: the credentials chain failed. */
    if (res && res->credentials_failed) {
        static const char prefix[] = "credentials: "; /* how dp_ddb words it */
        if (strncmp(msg, prefix, sizeof prefix - 1) == 0)
            msg += sizeof prefix - 1;
        dp_errf(errstr, errstr_size, "%s: could not get credentials: %s", what, msg);
        return rc;
    }
    switch (rc) {
    case DDBPIPE_ERR_NOT_FOUND:
        if (table)
            dp_errf(errstr, errstr_size, "table '%s' not found at %s (region %s)%s%s", table, ep,
                    client ? client->region : "?", code ? ": " : "", code ? msg : "");
        else
            dp_errf(errstr, errstr_size, "%s: not found at %s: %s", what, ep, msg);
        break;
    case DDBPIPE_ERR_AUTH:
        dp_errf(errstr, errstr_size, "%s: credentials rejected by %s: %s%s%s", what, ep, code ? code : "",
                code ? ": " : "", msg);
        break;
    case DDBPIPE_ERR_CREDENTIALS:
        dp_errf(errstr, errstr_size, "%s: no credentials: %s", what, msg);
        break;
    case DDBPIPE_ERR_TLS:
        dp_errf(errstr, errstr_size,
                "%s: TLS error talking to %s: %s (the certificate is not signed by a trusted CA: set ca_file "
                "or AWS_CA_BUNDLE to the CA's PEM file)",
                what, ep, msg);
        break;
    case DDBPIPE_ERR_TRANSPORT:
    case DDBPIPE_ERR_TIMEOUT:
        dp_errf(errstr, errstr_size, "%s: cannot reach %s: %s (%d attempt%s)", what, ep, msg, attempts,
                attempts == 1 ? "" : "s");
        break;
    default:
        dp_errf(errstr, errstr_size, "%s failed at %s: %s%s%s", what, ep, code ? code : "", code ? ": " : "",
                msg);
        break;
    }
    return rc;
}
