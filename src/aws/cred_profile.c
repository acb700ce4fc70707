/* Shared credentials/config files with profiles.
 *
 * [name] sections in the credentials file, [profile name] (and [default]) in
 * the config file; the credentials file wins for a key set in both. A
 * profile resolves, in the SDKs' order, to: role_arn + source_profile (STS
 * AssumeRole signed with the source profile's credentials, recursively),
 * static keys, or credential_process. Files are read on every fetch so a
 * refresh sees rotated keys. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/cred_internal.h"
#include "common/util.h"

#define PROFILE_FILE_MAX ((size_t)1024 * 1024)
#define PROFILE_MAX_DEPTH 5

typedef struct kv {
    char *profile;
    char *key;
    char *value;
    int from_creds;
} kv;

typedef struct prof_db {
    kv *items;
    size_t n, cap;
    int loading_creds; /* which file the callback is reading */
    char cred_path[1024], config_path[1024];
} prof_db;

static void db_free(prof_db *db) {
    size_t i;
    for (i = 0; i < db->n; i++) {
        free(db->items[i].profile);
        free(db->items[i].key);
        explicit_bzero(db->items[i].value, strlen(db->items[i].value));
        free(db->items[i].value);
    }
    free(db->items);
    db->items = NULL;
    db->n = db->cap = 0;
}

static int db_cb(const char *section, const char *key, const char *value, void *opaque) {
    prof_db *db = opaque;
    const char *name = section;
    kv *e;
    if (!db->loading_creds) {
        /* config: "[default]" or "[profile NAME]"; other sections (sso-session, services) are not profiles */
        if (strcmp(section, "default") == 0) {
            name = "default";
        } else if (strncmp(section, "profile", 7) == 0 && isspace((unsigned char)section[7])) {
            name = section + 8;
            while (isspace((unsigned char)*name))
                name++;
            if (!*name)
                return 0;
        } else {
            return 0;
        }
    }
    if (db->n == db->cap) {
        size_t nc = db->cap ? db->cap * 2 : 32;
        kv *ni = realloc(db->items, nc * sizeof(*ni));
        if (!ni)
            return -1;
        db->items = ni;
        db->cap = nc;
    }
    e = &db->items[db->n];
    e->profile = strdup(name);
    e->key = strdup(key);
    e->value = strdup(value);
    e->from_creds = db->loading_creds;
    if (!e->profile || !e->key || !e->value) {
        free(e->profile);
        free(e->key);
        free(e->value);
        return -1;
    }
    db->n++;
    return 0;
}

/* Last value of key in profile: the credentials file first, then config. */
static const char *db_get(const prof_db *db, const char *profile, const char *key) {
    int pass;
    for (pass = 1; pass >= 0; pass--) {
        size_t i = db->n;
        while (i-- > 0) {
            const kv *e = &db->items[i];
            if (e->from_creds == pass && strcmp(e->profile, profile) == 0 && strcmp(e->key, key) == 0)
                return e->value[0] ? e->value : NULL;
        }
    }
    return NULL;
}

static int db_has(const prof_db *db, const char *profile) {
    size_t i;
    for (i = 0; i < db->n; i++)
        if (strcmp(db->items[i].profile, profile) == 0)
            return 1;
    return 0;
}

static ddbpipe_result_t db_load(prof_db *db, const char *path, int from_creds, char *errstr,
                                size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    char *text = NULL;
    size_t len = 0;
    int r;
    if (!path[0])
        return DDBPIPE_OK;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return DDBPIPE_OK; /* a missing file is normal */
    text = dp_read_file(path, PROFILE_FILE_MAX, &len);
    if (!text) {
        dp_errf(errstr, errstr_size, "cannot read %s (unreadable or over %zu bytes)", path, PROFILE_FILE_MAX);
        return DDBPIPE_ERR_IO;
    }
    db->loading_creds = from_creds;
    r = dp_ini_parse(text, len, db_cb, db);
    if (r > 0) {
        dp_errf(errstr, errstr_size, "%s:%d: expected [section] or key = value", path, r);
        rc = DDBPIPE_ERR_CONFIG;
    } else if (r < 0) {
        rc = DDBPIPE_ERR_NOMEM;
    }
    explicit_bzero(text, len);
    free(text);
    return rc;
}

static void file_path(const char *opt, const char *env, const char *leaf, char *out, size_t out_size) {
    const char *p = dp_cred_opt_env(opt, env);
    const char *home = dp_cred_getenv("HOME");
    out[0] = '\0';
    if (p)
        snprintf(out, out_size, "%s", p);
    else if (home)
        snprintf(out, out_size, "%s/.aws/%s", home, leaf);
}

typedef struct resolve_ctx {
    const dp_cred_options *o;
    prof_db db;
} resolve_ctx;

static ddbpipe_result_t static_keys(const resolve_ctx *ctx, const char *name, dp_credentials *out,
                                    char *errstr, size_t errstr_size) {
    const char *akid = db_get(&ctx->db, name, "aws_access_key_id");
    const char *secret = db_get(&ctx->db, name, "aws_secret_access_key");
    const char *token = db_get(&ctx->db, name, "aws_session_token");
    if (!akid && !secret) {
        dp_errf(errstr, errstr_size, "profile %s has no aws_access_key_id", name);
        return DDBPIPE_ERR_NOT_FOUND;
    }
    if (!akid || !secret) {
        dp_errf(errstr, errstr_size, "profile %s sets %s but not %s", name,
                akid ? "aws_access_key_id" : "aws_secret_access_key",
                akid ? "aws_secret_access_key" : "aws_access_key_id");
        return DDBPIPE_ERR_CONFIG;
    }
    if (dp_cred_set_field(out->access_key_id, sizeof(out->access_key_id), akid, strlen(akid)) ||
        dp_cred_set_field(out->secret_access_key, sizeof(out->secret_access_key), secret, strlen(secret)) ||
        (token && dp_cred_set_field(out->session_token, sizeof(out->session_token), token, strlen(token)))) {
        dp_credentials_clear(out);
        dp_errf(errstr, errstr_size, "profile %s: a key value is too long", name);
        return DDBPIPE_ERR_CONFIG;
    }
    snprintf(out->provider, sizeof(out->provider), "profile:%s", name);
    return DDBPIPE_OK;
}

static ddbpipe_result_t resolve(resolve_ctx *ctx, const char *name, int depth, dp_credentials *out,
                                char *errstr, size_t errstr_size);

static ddbpipe_result_t assume_role(resolve_ctx *ctx, const char *name, const char *role_arn, int depth,
                                    dp_credentials *out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc;
    const dp_cred_options *o = ctx->o;
    const char *source = db_get(&ctx->db, name, "source_profile");
    const char *region = dp_cred_region(o->region);
    const char *session = db_get(&ctx->db, name, "role_session_name");
    const char *external_id = db_get(&ctx->db, name, "external_id");
    char default_session[64], endpoint[512], serr[512] = "";
    dp_credentials src;
    dp_cred_sts_call call;

    memset(&src, 0, sizeof(src));
    if (db_get(&ctx->db, name, "mfa_serial")) {
        dp_errf(errstr, errstr_size, "profile %s needs an MFA code (mfa_serial): not supported", name);
        return DDBPIPE_ERR_UNSUPPORTED;
    }
    if (!source) {
        if (db_get(&ctx->db, name, "credential_source"))
            dp_errf(errstr, errstr_size, "profile %s: credential_source is not supported, use source_profile",
                    name);
        else
            dp_errf(errstr, errstr_size, "profile %s has role_arn but no source_profile", name);
        return DDBPIPE_ERR_CONFIG;
    }
    if (strcmp(source, name) == 0) {
        /* a profile naming itself as source uses its own static keys */
        rc = static_keys(ctx, name, &src, serr, sizeof(serr));
    } else {
        rc = resolve(ctx, source, depth + 1, &src, serr, sizeof(serr));
    }
    if (rc == DDBPIPE_ERR_NOT_FOUND) {
        dp_errf(errstr, errstr_size, "source_profile %s of profile %s has no credentials (%s)", source, name,
                serr);
        rc = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    if (rc != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "source_profile %s of profile %s: %s", source, name, serr);
        goto out;
    }
    if (!region)
        region = db_get(&ctx->db, name, "region");
    if (!session)
        session = o->role_session_name;
    if (!session) {
        dp_cred_default_session_name(default_session, sizeof(default_session));
        session = default_session;
    }
    if (!external_id)
        external_id = o->external_id;
    dp_cred_sts_endpoint(o->sts_endpoint, region, endpoint, sizeof(endpoint));
    memset(&call, 0, sizeof(call));
    call.endpoint = endpoint;
    call.region = region;
    call.action = "AssumeRole";
    call.role_arn = role_arn;
    call.role_session_name = session;
    call.external_id = external_id;
    call.duration_s = db_get(&ctx->db, name, "duration_seconds");
    call.sign_with = &src;
    call.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DP_CRED_DEFAULT_TIMEOUT_MS;
    call.verify_tls = o->verify_tls;
    call.ca_file = dp_cred_ca_file(o);
    rc = dp_cred_sts(&call, out, errstr, errstr_size);
    if (rc == DDBPIPE_OK)
        snprintf(out->provider, sizeof(out->provider), "assume-role:%s", name);
out:
    dp_credentials_clear(&src);
    return rc;
}

static ddbpipe_result_t resolve(resolve_ctx *ctx, const char *name, int depth, dp_credentials *out,
                                char *errstr, size_t errstr_size) {
    const char *role_arn, *process;
    memset(out, 0, sizeof(*out));
    if (depth > PROFILE_MAX_DEPTH) {
        dp_errf(errstr, errstr_size, "profile %s: source_profile chain longer than %d (a cycle?)", name,
                PROFILE_MAX_DEPTH);
        return DDBPIPE_ERR_CONFIG;
    }
    if (!db_has(&ctx->db, name)) {
        dp_errf(errstr, errstr_size, "profile %s not found in %s or %s", name,
                ctx->db.cred_path[0] ? ctx->db.cred_path : "(no credentials file)",
                ctx->db.config_path[0] ? ctx->db.config_path : "(no config file)");
        return DDBPIPE_ERR_NOT_FOUND;
    }
    role_arn = db_get(&ctx->db, name, "role_arn");
    if (role_arn)
        return assume_role(ctx, name, role_arn, depth, out, errstr, errstr_size);
    if (db_get(&ctx->db, name, "aws_access_key_id") || db_get(&ctx->db, name, "aws_secret_access_key"))
        return static_keys(ctx, name, out, errstr, errstr_size);
    process = db_get(&ctx->db, name, "credential_process");
    if (process) {
        ddbpipe_result_t rc = dp_cred_run_process(
            process, ctx->o->process_timeout_ms > 0 ? ctx->o->process_timeout_ms : DP_CRED_PROCESS_TIMEOUT_MS,
            out, errstr, errstr_size);
        if (rc == DDBPIPE_OK)
            snprintf(out->provider, sizeof(out->provider), "process:%s", name);
        else {
            char tmp[512];
            snprintf(tmp, sizeof(tmp), "%s", errstr ? errstr : "");
            dp_errf(errstr, errstr_size, "profile %s: %s", name, tmp);
        }
        return rc;
    }
    dp_errf(errstr, errstr_size,
            "profile %s has no credentials (no aws_access_key_id, role_arn or credential_process)", name);
    return DDBPIPE_ERR_NOT_FOUND;
}

static ddbpipe_result_t profile_fetch(dp_cred_provider *p, dp_credentials *out, char *errstr,
                                      size_t errstr_size) {
    ddbpipe_result_t rc;
    resolve_ctx ctx;
    const dp_cred_options *o = &((dp_cred_opts_copy *)p->impl)->o;
    const char *name = dp_cred_opt_env(o->profile, "AWS_PROFILE");
    int explicit_name = name != NULL;

    memset(&ctx, 0, sizeof(ctx));
    ctx.o = o;
    if (!name)
        name = dp_cred_getenv("AWS_DEFAULT_PROFILE");
    if (name)
        explicit_name = 1;
    else
        name = "default";
    file_path(o->credentials_file, "AWS_SHARED_CREDENTIALS_FILE", "credentials", ctx.db.cred_path,
              sizeof(ctx.db.cred_path));
    file_path(o->config_file, "AWS_CONFIG_FILE", "config", ctx.db.config_path, sizeof(ctx.db.config_path));
    if ((rc = db_load(&ctx.db, ctx.db.cred_path, 1, errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    if ((rc = db_load(&ctx.db, ctx.db.config_path, 0, errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    rc = resolve(&ctx, name, 0, out, errstr, errstr_size);
    /* a profile asked for by name must exist: falling through to the
     * instance role would use the wrong account silently */
    if (rc == DDBPIPE_ERR_NOT_FOUND && explicit_name && !db_has(&ctx.db, name))
        rc = DDBPIPE_ERR_CONFIG;
out:
    db_free(&ctx.db);
    return rc;
}

static const dp_cred_provider_vtable profile_vt = {"profile", profile_fetch, dp_cred_opts_provider_destroy};

dp_cred_provider *dp_cred_provider_profile_new(const dp_cred_options *opts) {
    return dp_cred_opts_provider_new(&profile_vt, opts);
}
