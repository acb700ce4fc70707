/* The file transport's checkpoint file: its format, parser and reader, and
 * what it was taken from:  the input file's device, inode and
 * size, and a SHA-256 of every byte before the checkpoint's offset. The
 * digest is streamed: the sink keeps it running as its checkpoint advances
 * (dp_ckpt_prefix_hash), so over a whole run each input byte is read once more,
 * and a resume reads the prefix once to check it and keeps going from there.
 * A checkpoint applied to another file, or to this file rewritten, is
 * refused with both sides named instead of silently skipping the new file's
 * first bytes.
 *
 * Older checkpoints hold "sha256" (of the first and the last 4 KiB before
 * the offset) instead of "prefix_sha256": they are still accepted when those
 * windows match, so an upgrade does not stop a running pipeline; the next
 * checkpoint written has the whole-prefix digest. */
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
#include "transport/file_checkpoint.h"

#define CKPT_ID_WINDOW 4096 /* older checkpoints' windows */
#define CKPT_HASH_CHUNK ((size_t)256 * 1024)
#define CKPT_MAX_FILE ((size_t)64 * 1024)

static int read_at(int fd, char *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            errno = EIO; /* the file shrank while it was read */
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

void dp_ckpt_prefix_hash_clear(dp_ckpt_prefix_hash *ph) {
    dp_sha256_stream_free(ph->h);
    ph->h = NULL;
    ph->off = 0;
}

/* Advance ph over [ph->off, to) of fd; a target behind it starts over. */
static int prefix_hash_advance(dp_ckpt_prefix_hash *ph, int fd, uint64_t to) {
    if (ph->h && to < ph->off)
        dp_ckpt_prefix_hash_clear(ph);
    if (!ph->h && !(ph->h = dp_sha256_stream_new())) {
        errno = ENOMEM;
        return -1;
    }
    if (to == ph->off)
        return 0;
    char *buf = malloc(CKPT_HASH_CHUNK);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    while (ph->off < to) {
        size_t n = to - ph->off < CKPT_HASH_CHUNK ? (size_t)(to - ph->off) : CKPT_HASH_CHUNK;
        if (read_at(fd, buf, n, ph->off) != 0 || dp_sha256_stream_update(ph->h, buf, n) != 0) {
            rc = -1;
            break;
        }
        ph->off += n;
    }
    free(buf);
    if (rc) {
        int e = errno;
        dp_ckpt_prefix_hash_clear(ph); /* part of a prefix is no digest of anything */
        errno = e;
    }
    return rc;
}

int dp_ckpt_file_identity(int fd, uint64_t offset, dp_ckpt_prefix_hash *ph, dp_ckpt_file_id *out) {
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
    if (prefix_hash_advance(ph, fd, offset) != 0 ||
        dp_sha256_stream_hex_so_far(ph->h, out->prefix_sha256) != 0)
        return -1;
    out->have_prefix = 1;
    return 0;
}

/* Older checkpoints' digest: the first and the last CKPT_ID_WINDOW bytes
 * before offset (offset <= the file's size). */
static int window_digest(int fd, uint64_t offset, char hex[65]) {
    char buf[2 * CKPT_ID_WINDOW];
    size_t head = offset < CKPT_ID_WINDOW ? (size_t)offset : CKPT_ID_WINDOW;
    uint64_t tail_start = offset > CKPT_ID_WINDOW ? offset - CKPT_ID_WINDOW : 0;
    if (tail_start < head)
        tail_start = head; /* the windows overlap: the tail is what the head left */
    size_t tail = (size_t)(offset - tail_start);
    if (read_at(fd, buf, head, 0) != 0 || read_at(fd, buf + head, tail, tail_start) != 0)
        return -1;
    dp_sha256_hex(buf, head + tail, hex);
    return 0;
}

int dp_ckpt_file_identity_json(dp_buf *b, const dp_ckpt_file_id *id, const char *name) {
    ddbpipe_result_t rc = dp_buf_printf(b, "{\"dev\":%" PRIu64 ",\"inode\":%" PRIu64 ",\"size\":%" PRIu64,
                                        id->dev, id->ino, id->size);
    if (!rc && id->have_prefix)
        rc = dp_buf_printf(b, ",\"prefix_sha256\":\"%s\"", id->prefix_sha256);
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

/* {"offset":N,"line":L[,"file":{"dev":..,"inode":..,"size":..,"prefix_sha256":"..","path":".."}]}
 * (older: "sha256" instead of "prefix_sha256") */
ddbpipe_result_t dp_ckpt_parse_full(const char *text, size_t len, uint64_t *offset, uint64_t *line,
                                    dp_ckpt_file_id *id, char *path, size_t path_size) {
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
        const char *pre = dp_json_get_string(f, "prefix_sha256");
        const char *sha = dp_json_get_string(f, "sha256"); /* older: 4 KiB windows */
        if (pre) {
            if (strlen(pre) != 64)
                goto out;
            memcpy(id->prefix_sha256, pre, 65);
            id->have_prefix = 1;
        }
        if (sha) {
            if (strlen(sha) != 64)
                goto out;
            memcpy(id->sha256, sha, 65);
            id->have_window = 1;
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

static void describe_id(char *out, size_t n, const dp_ckpt_file_id *id) {
    snprintf(out, n, "device %" PRIu64 ", inode %" PRIu64 ", %" PRIu64 " bytes", id->dev, id->ino, id->size);
}

ddbpipe_result_t dp_ckpt_resume(const char *path, int fd, const char *input_name, dp_ckpt_prefix_hash *ph,
                                uint64_t *offset, uint64_t *line, char *errstr, size_t errstr_size) {
    size_t len = 0;
    char rec_path[1024], was[160], now[160], why[200] = "";
    dp_ckpt_file_id rec, cur;
    dp_ckpt_prefix_hash tmp = {0};
    if (!path || !offset || !line)
        return DDBPIPE_ERR_INVALID_ARG;
    if (!input_name)
        input_name = "the input";
    if (!ph)
        ph = &tmp;
    errno = 0;
    char *t = dp_read_file(path, CKPT_MAX_FILE, &len);
    if (!t) {
        if (errno == ENOENT)
            return DDBPIPE_ERR_NOT_FOUND;
        dp_errf(errstr, errstr_size, "checkpoint %s: cannot read: %s", path, strerror(errno));
        return DDBPIPE_ERR_IO;
    }
    ddbpipe_result_t r = dp_ckpt_parse_full(t, len, offset, line, &rec, rec_path, sizeof rec_path);
    free(t);
    if (r != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "checkpoint %s is unreadable (%s); refusing to guess where to resume",
                path, ddbpipe_strerror(r));
        return r;
    }
    if (!rec.present || fd < 0)
        return DDBPIPE_OK; /* written before checkpoints named their input: offset only */
    if (dp_ckpt_file_identity(fd, rec.have_prefix ? *offset : UINT64_MAX, ph, &cur) != 0) {
        dp_errf(errstr, errstr_size, "checkpoint %s: cannot read %s to check it: %s", path, input_name,
                strerror(errno));
        dp_ckpt_prefix_hash_clear(&tmp);
        return DDBPIPE_ERR_IO;
    }
    char win[65] = "";
    if (rec.dev != cur.dev || rec.ino != cur.ino)
        snprintf(why, sizeof why, "it is another file");
    else if (cur.size < *offset)
        snprintf(why, sizeof why,
                 "it is shorter than the checkpoint's offset %" PRIu64 ": truncated or rewritten", *offset);
    else if (cur.size < rec.size)
        snprintf(why, sizeof why, "it shrank from %" PRIu64 " bytes: truncated or rewritten", rec.size);
    else if (rec.have_prefix && (!cur.have_prefix || strcmp(rec.prefix_sha256, cur.prefix_sha256) != 0))
        snprintf(why, sizeof why,
                 "its bytes before offset %" PRIu64 " differ (sha256 %.12s... then, %.12s... now)", *offset,
                 rec.prefix_sha256, cur.have_prefix ? cur.prefix_sha256 : "none");
    else if (!rec.have_prefix && rec.have_window &&
             (!cur.regular || window_digest(fd, *offset, win) != 0 || strcmp(rec.sha256, win) != 0))
        snprintf(why, sizeof why,
                 "its first and last 4 KiB before offset %" PRIu64
                 " differ (an older checkpoint: it recorded only those)",
                 *offset);
    dp_ckpt_prefix_hash_clear(&tmp);
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

ddbpipe_result_t ddbpipe_sink_checkpoint_resume(const char *path, int fd, const char *input_name,
                                                uint64_t *offset, uint64_t *line, char *errstr,
                                                size_t errstr_size) {
    return dp_ckpt_resume(path, fd, input_name, NULL, offset, line, errstr, errstr_size);
}

ddbpipe_result_t ddbpipe_sink_checkpoint_parse(const char *text, size_t len, uint64_t *offset,
                                               uint64_t *line) {
    dp_json_doc *d = dp_json_parse(text, len, NULL);
    ddbpipe_result_t r = DDBPIPE_ERR_PARSE;
    const dp_json *root = d ? dp_json_root(d) : NULL;
    uint64_t o = 0, l = 0;
    if (root && root->type == DP_JSON_OBJECT && get_u64(root, "offset", &o) == 0 &&
        get_u64(root, "line", &l) == 0) {
        *offset = o;
        *line = l;
        r = DDBPIPE_OK;
    }
    dp_json_doc_free(d);
    return r;
}

ddbpipe_result_t ddbpipe_sink_checkpoint_read(const char *path, uint64_t *offset, uint64_t *line) {
    size_t len = 0;
    if (!path || !offset || !line)
        return DDBPIPE_ERR_INVALID_ARG;
    errno = 0;
    char *t = dp_read_file(path, CKPT_MAX_FILE, &len);
    if (!t)
        return errno == ENOENT ? DDBPIPE_ERR_NOT_FOUND : DDBPIPE_ERR_IO;
    ddbpipe_result_t r = ddbpipe_sink_checkpoint_parse(t, len, offset, line);
    free(t);
    return r;
}
