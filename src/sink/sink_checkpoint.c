/* What a sink checkpoint was taken from: the input file's device, inode and
 * size, and a SHA-256 of the bytes before the checkpoint's offset (the first
 * and the last SK_ID_WINDOW bytes before it: reading the whole prefix once a
 * second would cost as much as the input). A checkpoint applied to another
 * file, or to this file rewritten, is refused with both sides named instead
 * of silently skipping the new file's first bytes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/sigv4.h"
#include "common/json.h"
#include "common/util.h"
#include "sink/sink_internal.h"

#define SK_ID_WINDOW 4096
#define CKPT_MAX_FILE ((size_t)64 * 1024)

static int read_at(int fd, char *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int sk_file_identity(int fd, uint64_t offset, sk_file_id *out) {
    struct stat st;
    memset(out, 0, sizeof *out);
    if (fstat(fd, &st) != 0)
        return -1;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->size = (uint64_t)st.st_size;
    out->regular = S_ISREG(st.st_mode);
    if (!out->regular || offset > out->size)
        return 0; /* no digest: a pipe has no bytes to re-read, a short file cannot match */
    char buf[2 * SK_ID_WINDOW];
    size_t head = offset < SK_ID_WINDOW ? (size_t)offset : SK_ID_WINDOW;
    uint64_t tail_start = offset > SK_ID_WINDOW ? offset - SK_ID_WINDOW : 0;
    if (tail_start < head)
        tail_start = head; /* the windows overlap: the tail is what the head left */
    size_t tail = (size_t)(offset - tail_start);
    if (read_at(fd, buf, head, 0) != 0 || read_at(fd, buf + head, tail, tail_start) != 0)
        return -1;
    dp_sha256_hex(buf, head + tail, out->sha256);
    out->have_digest = 1;
    return 0;
}

int sk_file_identity_json(dp_buf *b, const sk_file_id *id, const char *name) {
    ddbpipe_result_t rc = dp_buf_printf(b, "{\"dev\":%" PRIu64 ",\"inode\":%" PRIu64 ",\"size\":%" PRIu64,
                                        id->dev, id->ino, id->size);
    if (!rc && id->have_digest)
        rc = dp_buf_printf(b, ",\"sha256\":\"%s\"", id->sha256);
    if (!rc && name) {
        rc = dp_buf_puts(b, ",\"path\":");
        if (!rc)
            rc = dp_json_write_cstr(b, name);
    }
    if (!rc)
        rc = dp_buf_putc(b, '}');
    return rc == DDBPIPE_OK ? 0 : -1;
}

static int get_u64(const dp_json *o, const char *name, uint64_t *out) {
    const dp_json *v = dp_json_get(o, name);
    char *end = NULL;
    if (!v || v->type != DP_JSON_NUMBER || v->str[0] == '-')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(v->str, &end, 10);
    if (errno || !end || *end)
        return -1;
    *out = x;
    return 0;
}

/* {"offset":N,"line":L[,"file":{"dev":..,"inode":..,"size":..,"sha256":"..","path":".."}]} */
ddbpipe_result_t sk_checkpoint_parse_full(const char *text, size_t len, uint64_t *offset, uint64_t *line,
                                          sk_file_id *id, char *path, size_t path_size) {
    dp_json_doc *d = dp_json_parse(text, len, NULL);
    ddbpipe_result_t r = DDBPIPE_ERR_PARSE;
    const dp_json *root = d ? dp_json_root(d) : NULL;
    memset(id, 0, sizeof *id);
    if (path_size)
        path[0] = '\0';
    if (!root || root->type != DP_JSON_OBJECT || get_u64(root, "offset", offset) ||
        get_u64(root, "line", line))
        goto out;
    const dp_json *f = dp_json_get(root, "file");
    if (f) {
        if (f->type != DP_JSON_OBJECT || get_u64(f, "dev", &id->dev) || get_u64(f, "inode", &id->ino) ||
            get_u64(f, "size", &id->size))
            goto out;
        const char *sha = dp_json_get_string(f, "sha256");
        if (sha) {
            if (strlen(sha) != 64)
                goto out;
            memcpy(id->sha256, sha, 65);
            id->have_digest = 1;
        }
        const char *p = dp_json_get_string(f, "path");
        if (p && path_size)
            snprintf(path, path_size, "%s", p);
        id->present = 1;
    }
    r = DDBPIPE_OK;
out:
    dp_json_doc_free(d);
    return r;
}

static void describe_id(char *out, size_t n, const sk_file_id *id) {
    snprintf(out, n, "device %" PRIu64 ", inode %" PRIu64 ", %" PRIu64 " bytes", id->dev, id->ino, id->size);
}

ddbpipe_result_t ddbpipe_sink_checkpoint_resume(const char *path, int fd, const char *input_name,
                                                uint64_t *offset, uint64_t *line, char *errstr,
                                                size_t errstr_size) {
    size_t len = 0;
    char rec_path[1024], was[160], now[160], why[200] = "";
    sk_file_id rec, cur;
    if (!path || !offset || !line)
        return DDBPIPE_ERR_INVALID_ARG;
    if (!input_name)
        input_name = "the input";
    errno = 0;
    char *t = dp_read_file(path, CKPT_MAX_FILE, &len);
    if (!t) {
        if (errno == ENOENT)
            return DDBPIPE_ERR_NOT_FOUND;
        dp_errf(errstr, errstr_size, "checkpoint %s: cannot read: %s", path, strerror(errno));
        return DDBPIPE_ERR_IO;
    }
    ddbpipe_result_t r = sk_checkpoint_parse_full(t, len, offset, line, &rec, rec_path, sizeof rec_path);
    free(t);
    if (r != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "checkpoint %s is unreadable (%s); refusing to guess where to resume",
                path, ddbpipe_strerror(r));
        return r;
    }
    if (!rec.present || fd < 0)
        return DDBPIPE_OK; /* written before checkpoints named their input: offset only */
    if (sk_file_identity(fd, *offset, &cur) != 0) {
        dp_errf(errstr, errstr_size, "checkpoint %s: cannot read %s to check it: %s", path, input_name,
                strerror(errno));
        return DDBPIPE_ERR_IO;
    }
    if (rec.dev != cur.dev || rec.ino != cur.ino)
        snprintf(why, sizeof why, "it is another file");
    else if (cur.size < *offset)
        snprintf(why, sizeof why,
                 "it is shorter than the checkpoint's offset %" PRIu64 ": truncated or rewritten", *offset);
    else if (cur.size < rec.size)
        snprintf(why, sizeof why, "it shrank from %" PRIu64 " bytes: truncated or rewritten", rec.size);
    else if (rec.have_digest && (!cur.have_digest || strcmp(rec.sha256, cur.sha256) != 0))
        snprintf(why, sizeof why,
                 "its bytes before offset %" PRIu64 " differ (sha256 %.12s... then, %.12s... now)", *offset,
                 rec.sha256, cur.have_digest ? cur.sha256 : "none");
    if (!why[0])
        return DDBPIPE_OK;
    describe_id(was, sizeof was, &rec);
    describe_id(now, sizeof now, &cur);
    dp_errf(errstr, errstr_size,
            "checkpoint %s was taken from %s (%s) but %s is %s now: %s. Resuming at byte %" PRIu64
            " (line %" PRIu64
            ") would skip or split its records: use --checkpoint-reset to start over, or the "
            "checkpoint of this input",
            path, rec_path[0] ? rec_path : "another input", was, input_name, now, why, *offset, *line + 1);
    return DDBPIPE_ERR_CONFIG;
}

ddbpipe_result_t ddbpipe_sink_set_checkpoint_input(ddbpipe_sink_t *sink, int fd, const char *name) {
    if (!sink || fd < 0)
        return DDBPIPE_ERR_INVALID_ARG;
    sink->ckpt_fd = fd;
    free(sink->ckpt_input_name);
    sink->ckpt_input_name = name ? strdup(name) : NULL;
    return name && !sink->ckpt_input_name ? DDBPIPE_ERR_NOMEM : DDBPIPE_OK;
}
