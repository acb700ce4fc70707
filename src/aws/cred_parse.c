/* Parsers for the credentials providers, separate from I/O so they can be
 * unit-tested and fuzzed: INI (shared credentials/config files), the JSON
 * answer of container/IMDS/credential_process, and STS XML answers. Error
 * messages name the field and reason, never a secret value. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/cred_internal.h"
#include "aws/credentials.h"
#include "common/json.h"
#include "common/util.h"

int dp_cred_set_field(char *dst, size_t cap, const char *src, size_t len) {
    if (len >= cap)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ INI */

static int ini_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char *ini_trim(char *s) {
    char *e;
    while (ini_space(*s))
        s++;
    e = s + strlen(s);
    while (e > s && ini_space(e[-1]))
        *--e = '\0';
    return s;
}

int dp_ini_parse(const char *text, size_t len,
                 int (*cb)(const char *section, const char *key, const char *value, void *opaque),
                 void *opaque) {
    int rc = 0;
    char *line = NULL;
    char *section = NULL;
    size_t pos = 0;
    int lineno = 0;
    int have_key = 0; /* a key was seen in this section: indented lines may follow */

    if (!text)
        return 0;
    /* UTF-8 byte order mark */
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3;
    while (pos < len) {
        size_t start = pos, n;
        char *s, *eq;
        int indented;
        while (pos < len && text[pos] != '\n')
            pos++;
        n = pos - start;
        if (pos < len)
            pos++; /* skip \n */
        lineno++;
        free(line);
        line = malloc(n + 1);
        if (!line) {
            rc = -1;
            goto out;
        }
        memcpy(line, text + start, n);
        line[n] = '\0';
        indented = n > 0 && (line[0] == ' ' || line[0] == '\t');
        s = ini_trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (indented && have_key)
            continue; /* nested sub-key (e.g. "s3 =\n  x = y"): not ours */
        if (*s == '[') {
            char *end = strrchr(s, ']');
            char *name;
            if (!end) {
                rc = lineno;
                goto out;
            }
            *end = '\0';
            /* only a comment may follow the closing bracket */
            {
                char *rest = ini_trim(end + 1);
                if (*rest && *rest != '#' && *rest != ';') {
                    rc = lineno;
                    goto out;
                }
            }
            name = ini_trim(s + 1);
            if (*name == '\0') {
                rc = lineno;
                goto out;
            }
            free(section);
            section = strdup(name);
            if (!section) {
                rc = -1;
                goto out;
            }
            have_key = 0;
            continue;
        }
        eq = strchr(s, '=');
        if (!eq || !section || eq == s) {
            rc = lineno;
            goto out;
        }
        *eq = '\0';
        {
            char *key = ini_trim(s);
            char *value = ini_trim(eq + 1);
            char *k;
            if (*key == '\0') {
                rc = lineno;
                goto out;
            }
            for (k = key; *k; k++)
                *k = (char)tolower((unsigned char)*k);
            have_key = 1;
            if (cb && cb(section, key, value, opaque) != 0) {
                rc = -1;
                goto out;
            }
        }
    }
out:
    if (line) {
        explicit_bzero(line, strlen(line)); /* lines hold secrets */
        free(line);
    }
    free(section);
    return rc;
}

/* ----------------------------------------------------------------- JSON */

static ddbpipe_result_t json_field(const dp_json *root, const char *name, int required, char *dst, size_t cap,
                                   char *errstr, size_t errstr_size) {
    const dp_json *v = dp_json_get(root, name);
    if (!v) {
        if (!required)
            return DDBPIPE_OK;
        dp_errf(errstr, errstr_size, "credentials answer: field %s is missing", name);
        return DDBPIPE_ERR_PARSE;
    }
    if (!dp_json_is(v, DP_JSON_STRING)) {
        dp_errf(errstr, errstr_size, "credentials answer: field %s is not a string", name);
        return DDBPIPE_ERR_PARSE;
    }
    if (required && v->len == 0) {
        dp_errf(errstr, errstr_size, "credentials answer: field %s is empty", name);
        return DDBPIPE_ERR_PARSE;
    }
    if (memchr(v->str, '\0', v->len) || dp_cred_set_field(dst, cap, v->str, v->len) != 0) {
        dp_errf(errstr, errstr_size, "credentials answer: field %s is longer than %zu bytes or has NUL", name,
                cap - 1);
        return DDBPIPE_ERR_PARSE;
    }
    return DDBPIPE_OK;
}

static ddbpipe_result_t parse_json_common(const char *body, size_t len, int require_version,
                                          dp_credentials *out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    dp_json_error jerr;
    dp_json_doc *doc = NULL;
    const dp_json *root, *v;
    const char *code;
    char exp[64] = "";

    memset(out, 0, sizeof(*out));
    memset(&jerr, 0, sizeof(jerr));
    doc = dp_json_parse(body ? body : "", body ? len : 0, &jerr);
    if (!doc) {
        /* the body may hold secrets: report the position, not the text */
        dp_errf(errstr, errstr_size, "credentials answer is not valid JSON (offset %zu: %s)", jerr.offset,
                jerr.message);
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
    root = dp_json_root(doc);
    if (!dp_json_is(root, DP_JSON_OBJECT)) {
        dp_errf(errstr, errstr_size, "credentials answer is not a JSON object");
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
    /* IMDS: {"Code": "Success", ...}; anything else is a failure report */
    code = dp_json_get_string(root, "Code");
    if (code && strcmp(code, "Success") != 0) {
        char safe[64];
        size_t i;
        for (i = 0; i < sizeof(safe) - 1 && code[i]; i++)
            safe[i] = isprint((unsigned char)code[i]) ? code[i] : '?';
        safe[i] = '\0';
        dp_errf(errstr, errstr_size, "credentials answer reports Code \"%s\"", safe);
        rc = DDBPIPE_ERR_CREDENTIALS;
        goto out;
    }
    v = dp_json_get(root, "Version");
    if (v || require_version) {
        if (!v) {
            dp_errf(errstr, errstr_size, "credentials answer: field Version is missing (must be 1)");
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
        if (!dp_json_is(v, DP_JSON_NUMBER) || strcmp(v->str, "1") != 0) {
            dp_errf(errstr, errstr_size, "credentials answer: unsupported Version (must be 1)");
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
    }
    if ((rc = json_field(root, "AccessKeyId", 1, out->access_key_id, sizeof(out->access_key_id), errstr,
                         errstr_size)) != DDBPIPE_OK)
        goto out;
    if ((rc = json_field(root, "SecretAccessKey", 1, out->secret_access_key, sizeof(out->secret_access_key),
                         errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    /* container/IMDS say Token, credential_process says SessionToken */
    if (dp_json_get(root, "SessionToken"))
        rc = json_field(root, "SessionToken", 0, out->session_token, sizeof(out->session_token), errstr,
                        errstr_size);
    else
        rc =
            json_field(root, "Token", 0, out->session_token, sizeof(out->session_token), errstr, errstr_size);
    if (rc != DDBPIPE_OK)
        goto out;
    if ((rc = json_field(root, "Expiration", 0, exp, sizeof(exp), errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    if (exp[0]) {
        out->expiration_s = dp_parse_iso8601(exp);
        if (out->expiration_s <= 0) {
            /* the value is not quoted: a misplaced secret could be in it */
            dp_errf(errstr, errstr_size,
                    "credentials answer: Expiration (%zu characters) is not an ISO-8601 time such as "
                    "2030-01-02T03:04:05Z",
                    strlen(exp));
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
    }
out:
    dp_json_doc_free(doc);
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}

ddbpipe_result_t dp_cred_parse_json(const char *body, size_t len, dp_credentials *out, char *errstr,
                                    size_t errstr_size) {
    return parse_json_common(body, len, 0, out, errstr, errstr_size);
}

ddbpipe_result_t dp_cred_parse_process_json(const char *body, size_t len, dp_credentials *out, char *errstr,
                                            size_t errstr_size) {
    return parse_json_common(body, len, 1, out, errstr, errstr_size);
}

/* ------------------------------------------------------------------ XML */

/* Find <tag>...</tag> inside [b, e); returns content bounds. A tiny
 * extractor, not an XML parser: STS answers are flat and predictable. */
static int xml_find(const char *b, const char *e, const char *tag, const char **cb, const char **ce) {
    size_t tl = strlen(tag);
    const char *p = b;
    while (p < e) {
        const char *lt = memchr(p, '<', (size_t)(e - p));
        if (!lt)
            return -1;
        if ((size_t)(e - lt) >= tl + 2 && memcmp(lt + 1, tag, tl) == 0 &&
            (lt[1 + tl] == '>' || lt[1 + tl] == ' ' || lt[1 + tl] == '\t' || lt[1 + tl] == '\n' ||
             lt[1 + tl] == '\r')) {
            const char *gt = memchr(lt, '>', (size_t)(e - lt));
            const char *q;
            if (!gt)
                return -1;
            if (gt[-1] == '/') { /* <Tag/> */
                *cb = *ce = gt + 1;
                return 0;
            }
            /* closing tag */
            for (q = gt + 1; q < e; q++) {
                if (*q == '<' && (size_t)(e - q) >= tl + 3 && q[1] == '/' && memcmp(q + 2, tag, tl) == 0 &&
                    q[2 + tl] == '>') {
                    *cb = gt + 1;
                    *ce = q;
                    return 0;
                }
            }
            return -1;
        }
        p = lt + 1;
    }
    return -1;
}

/* Decode the five predefined entities and numeric references into dst.
 * -1: malformed or too long. */
static int xml_text(const char *b, const char *e, char *dst, size_t cap) {
    size_t n = 0;
    /* trim surrounding whitespace */
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    while (b < e) {
        char c = *b;
        if (c == '<')
            return -1; /* nested markup where text was expected */
        if (c == '&') {
            const char *semi = memchr(b, ';', (size_t)(e - b));
            size_t el;
            if (!semi)
                return -1;
            el = (size_t)(semi - b - 1);
            if (el == 3 && memcmp(b + 1, "amp", 3) == 0)
                c = '&';
            else if (el == 2 && memcmp(b + 1, "lt", 2) == 0)
                c = '<';
            else if (el == 2 && memcmp(b + 1, "gt", 2) == 0)
                c = '>';
            else if (el == 4 && memcmp(b + 1, "quot", 4) == 0)
                c = '"';
            else if (el == 4 && memcmp(b + 1, "apos", 4) == 0)
                c = '\'';
            else if (el >= 2 && el <= 6 && b[1] == '#') {
                char num[8];
                char *endp;
                long v;
                memcpy(num, b + 2, el - 1);
                num[el - 1] = '\0';
                if (num[0] == 'x')
                    v = strtol(num + 1, &endp, 16);
                else
                    v = strtol(num, &endp, 10);
                if (*endp || endp == num || v <= 0 || v > 126)
                    return -1; /* ASCII only: keys are ASCII */
                c = (char)v;
            } else
                return -1;
            b = semi + 1;
        } else
            b++;
        if (n + 1 >= cap)
            return -1;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return 0;
}

static int auth_code(const char *code) {
    static const char *const codes[] = {"AccessDenied",          "InvalidClientTokenId",
                                        "SignatureDoesNotMatch", "InvalidIdentityToken",
                                        "ExpiredToken",          "ExpiredTokenException",
                                        "IncompleteSignature",   "MissingAuthenticationToken",
                                        "IDPRejectedClaim",      "UnrecognizedClientException"};
    size_t i;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

static void printable(char *s) {
    for (; *s; s++)
        if (!isprint((unsigned char)*s))
            *s = ' ';
}

ddbpipe_result_t dp_cred_parse_sts_xml(const char *body, size_t len, dp_credentials *out, char *errstr,
                                       size_t errstr_size) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    const char *b = body ? body : "", *e = b + (body ? len : 0);
    const char *cb, *ce, *vb, *ve;
    char exp[64];
    static const struct {
        const char *tag;
        size_t off;
        size_t cap;
        int required;
    } fields[] = {
        {"AccessKeyId", offsetof(dp_credentials, access_key_id), sizeof(((dp_credentials *)0)->access_key_id),
         1},
        {"SecretAccessKey", offsetof(dp_credentials, secret_access_key),
         sizeof(((dp_credentials *)0)->secret_access_key), 1},
        {"SessionToken", offsetof(dp_credentials, session_token),
         sizeof(((dp_credentials *)0)->session_token), 1},
    };
    size_t i;

    memset(out, 0, sizeof(*out));
    if (xml_find(b, e, "Error", &cb, &ce) == 0) {
        char code[128] = "Unknown", msg[512] = "";
        if (xml_find(cb, ce, "Code", &vb, &ve) != 0 || xml_text(vb, ve, code, sizeof(code)) != 0)
            snprintf(code, sizeof(code), "Unknown");
        if (xml_find(cb, ce, "Message", &vb, &ve) == 0 && xml_text(vb, ve, msg, sizeof(msg)) != 0)
            msg[0] = '\0';
        printable(code);
        printable(msg);
        dp_errf(errstr, errstr_size, "STS error %s: %s", code, msg[0] ? msg : "(no message)");
        rc = auth_code(code) ? DDBPIPE_ERR_AUTH : DDBPIPE_ERR_SERVICE;
        goto out;
    }
    if (xml_find(b, e, "Credentials", &cb, &ce) != 0) {
        dp_errf(errstr, errstr_size, "STS answer has no <Credentials> element");
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char *dst = (char *)out + fields[i].off;
        if (xml_find(cb, ce, fields[i].tag, &vb, &ve) != 0) {
            dp_errf(errstr, errstr_size, "STS answer: <Credentials> has no <%s>", fields[i].tag);
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
        if (xml_text(vb, ve, dst, fields[i].cap) != 0) {
            dp_errf(errstr, errstr_size, "STS answer: <%s> is malformed or too long", fields[i].tag);
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
        if (fields[i].required && dst[0] == '\0') {
            dp_errf(errstr, errstr_size, "STS answer: <%s> is empty", fields[i].tag);
            rc = DDBPIPE_ERR_PARSE;
            goto out;
        }
    }
    if (xml_find(cb, ce, "Expiration", &vb, &ve) != 0 || xml_text(vb, ve, exp, sizeof(exp)) != 0) {
        dp_errf(errstr, errstr_size, "STS answer: <Credentials> has no valid <Expiration>");
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
    out->expiration_s = dp_parse_iso8601(exp);
    if (out->expiration_s <= 0) {
        /* the value is not quoted: a misplaced secret could be in it */
        dp_errf(
            errstr, errstr_size,
            "STS answer: <Expiration> (%zu characters) is not an ISO-8601 time such as 2030-01-02T03:04:05Z",
            strlen(exp));
        rc = DDBPIPE_ERR_PARSE;
        goto out;
    }
out:
    if (rc != DDBPIPE_OK)
        dp_credentials_clear(out);
    return rc;
}
