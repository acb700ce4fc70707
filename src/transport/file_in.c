/* The file transport's side of the delivery reports: the checkpoint file
 * and the dead-letter file of a sink fed from a file or stdin.
 *
 * The sink core writes neither; it reports every record in produce order
 * (sink/sink_tap.h). So the contiguous watermark is simply the last reported
 * position: a report for the record ending at byte O (line L) means every
 * record before it was reported too, and the checkpoint {"offset":O,
 * "line":L} is written atomically every checkpoint_interval_ms, at the end
 * of each flush and at destroy. A record reported FAILED (the sink stopped)
 * holds the watermark before it for good. The checkpoint also names the
 * input it was taken from (ddbpipe_sink_set_checkpoint_input; the prefix
 * digest is kept running here). A DEAD_LETTERED report becomes a line of the
 * dead-letter file, in the format the sink has always written.
 *
 * ddbpipe_sink_new_sz and the checkpoint/dead-letter functions of the public
 * API are implemented here, over the core's sk_sink_new and its report tap,
 * so embedders that pass checkpoint_path/dead_letter_path keep their files. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "sink/sink_tap.h"
#include "transport/file_checkpoint.h"

typedef struct file_reports {
    /* checkpoint (ckpt_path NULL: none) */
    char *ckpt_path;
    int64_t interval_ms, last_ms;
    int have, failed; /* have: a position to write; failed: a FAILED report stopped it */
    uint64_t off, line;
    uint64_t written_off;
    int fd;           /* the input checkpoints are tied to; -1: none */
    char *input_name; /* its name, for messages */
    dp_ckpt_prefix_hash hash;
    /* dead letters (dl_path NULL: none; warn: log them instead) */
    pthread_mutex_t dl_mu; /* reopen may come from another thread */
    char *dl_path;
    FILE *dlq;
    int warn;
} file_reports;

static void fr_checkpoint(file_reports *f, int force) {
    if (!f->ckpt_path)
        return;
    int64_t now = dp_now_ms();
    if (!force && now - f->last_ms < f->interval_ms)
        return;
    f->last_ms = now;
    if (!f->have || (f->off == f->written_off && f->written_off != 0))
        return;
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_buf_printf(&b, "{\"offset\":%llu,\"line\":%llu", (unsigned long long)f->off,
                  (unsigned long long)f->line);
    if (f->fd >= 0) {
        /* what it was taken from, so it is never applied to another input */
        dp_ckpt_file_id id;
        if (dp_ckpt_file_identity(f->fd, f->off, &f->hash, &id) == 0) {
            dp_buf_puts(&b, ",\"file\":");
            dp_ckpt_file_identity_json(&b, &id, f->input_name);
        } else {
            DP_LOG_WARN("sink: cannot read the input to record it in the checkpoint: %s", strerror(errno));
        }
    }
    dp_buf_puts(&b, "}\n");
    if (!b.data || dp_write_file_atomic(f->ckpt_path, b.data, b.len) != 0)
        DP_LOG_ERROR("sink: cannot write checkpoint %s: %s", f->ckpt_path, strerror(errno));
    else
        f->written_off = f->off;
    dp_buf_free(&b);
}

/* {"line":N,"offset":O,"reason":"...","record":"<original line>"}; a record
 * given with a key (ddbpipe_sink_produce_record) also has "key", and a
 * tombstone (a key, no value) has "record":null, as Kafka's file has. */
static void fr_dead_letter(file_reports *f, const ddbpipe_delivery_report_t *dr) {
    const char *reason = dr->reason ? dr->reason : "unknown";
    if (!f->dl_path) {
        if (f->warn)
            DP_LOG_WARN("sink: line %llu dead-lettered: %s", (unsigned long long)dr->line_no, reason);
        return;
    }
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_buf_printf(&b, "{\"line\":%llu,\"offset\":%llu,\"reason\":", (unsigned long long)dr->line_no,
                  (unsigned long long)dr->offset);
    dp_json_write_cstr(&b, reason);
    if (dr->key) {
        dp_buf_puts(&b, ",\"key\":");
        dp_json_write_string(&b, dr->key, dr->key_len);
    }
    dp_buf_puts(&b, ",\"record\":");
    if (dr->value || !dr->key)
        dp_json_write_string(&b, dr->value ? dr->value : "", dr->value ? dr->value_len : 0);
    else
        dp_buf_puts(&b, "null");
    dp_buf_puts(&b, "}\n");
    pthread_mutex_lock(&f->dl_mu);
    if (!b.data || fwrite(b.data, 1, b.len, f->dlq) != b.len || fflush(f->dlq) != 0)
        DP_LOG_ERROR("sink: cannot write the dead-letter file %s: %s", f->dl_path, strerror(errno));
    pthread_mutex_unlock(&f->dl_mu);
    dp_buf_free(&b);
}

static void fr_report(void *opaque, const ddbpipe_delivery_report_t *dr) {
    file_reports *f = opaque;
    if (dr->status == DDBPIPE_DR_DEAD_LETTERED)
        fr_dead_letter(f, dr);
    if (dr->status == DDBPIPE_DR_FAILED) {
        f->failed = 1;
    } else if (!f->failed) {
        f->off = dr->offset;
        f->line = dr->line_no;
        f->have = 1;
    }
}

static void fr_tick(void *opaque, int force) {
    fr_checkpoint(opaque, force);
}

static void fr_free(file_reports *f) {
    if (!f)
        return;
    if (f->dlq)
        fclose(f->dlq);
    free(f->dl_path);
    free(f->ckpt_path);
    free(f->input_name);
    dp_ckpt_prefix_hash_clear(&f->hash);
    pthread_mutex_destroy(&f->dl_mu);
    free(f);
}

static void fr_close(void *opaque) {
    file_reports *f = opaque;
    fr_checkpoint(f, 1);
    fr_free(f);
}

ddbpipe_result_t ddbpipe_sink_new_sz(const ddbpipe_conf_t *conf, const ddbpipe_sink_options_t *opts_in,
                                     size_t opts_size, ddbpipe_sink_t **out, char *errstr,
                                     size_t errstr_size) {
    ddbpipe_sink_options_t opts_copy;
    const ddbpipe_sink_options_t *opts = dp_abi_copy_in(&opts_copy, sizeof opts_copy, opts_in, opts_size);
    ddbpipe_sink_t *s = NULL;
    file_reports *f = NULL;
    if (!conf || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    *out = NULL;
    if (opts && opts->dry_run && opts->checkpoint_path) {
        dp_errf(errstr, errstr_size, "a dry run writes no checkpoint: drop the checkpoint file");
        return DDBPIPE_ERR_CONFIG;
    }
    ddbpipe_result_t r = sk_sink_new(conf, opts, sizeof opts_copy, &s, errstr, errstr_size);
    if (r != DDBPIPE_OK || !opts || (!opts->checkpoint_path && !opts->dead_letter_path)) {
        *out = s;
        return r;
    }
    r = DDBPIPE_ERR_NOMEM;
    if (!(f = calloc(1, sizeof *f)))
        goto out;
    pthread_mutex_init(&f->dl_mu, NULL);
    f->fd = -1;
    f->warn = opts->dr_cb == NULL; /* no dead-letter file and nobody else told: log them */
    f->interval_ms = opts->checkpoint_interval_ms > 0 ? opts->checkpoint_interval_ms : 1000;
    f->last_ms = dp_now_ms();
    if (opts->checkpoint_path && !(f->ckpt_path = strdup(opts->checkpoint_path)))
        goto out;
    if (opts->dead_letter_path) {
        if (!(f->dl_path = strdup(opts->dead_letter_path)))
            goto out;
        if (!(f->dlq = fopen(opts->dead_letter_path, "a"))) {
            dp_errf(errstr, errstr_size, "cannot open dead-letter file %s: %s", opts->dead_letter_path,
                    strerror(errno));
            r = DDBPIPE_ERR_IO;
            goto out;
        }
    }
    sk_report_tap tap = {.report = fr_report, .tick = fr_tick, .close = fr_close, .opaque = f};
    sk_sink_set_tap(s, &tap);
    f = NULL;
    *out = s;
    s = NULL;
    r = DDBPIPE_OK;
out:
    fr_free(f);
    ddbpipe_sink_destroy(s);
    if (r != DDBPIPE_OK && errstr && errstr_size && !errstr[0])
        dp_errf(errstr, errstr_size, "sink: %s", ddbpipe_strerror(r));
    return r;
}

ddbpipe_result_t ddbpipe_sink_set_checkpoint_input(ddbpipe_sink_t *sink, int fd, const char *name) {
    if (!sink || fd < 0)
        return DDBPIPE_ERR_INVALID_ARG;
    file_reports *f = sk_sink_tap_opaque(sink, fr_report);
    if (!f)
        return DDBPIPE_OK; /* no checkpoint to tie */
    f->fd = fd;
    dp_ckpt_prefix_hash_clear(&f->hash); /* another input: its digest starts over */
    free(f->input_name);
    f->input_name = name ? strdup(name) : NULL;
    return name && !f->input_name ? DDBPIPE_ERR_NOMEM : DDBPIPE_OK;
}

ddbpipe_result_t ddbpipe_sink_resume_input(ddbpipe_sink_t *sink, int fd, const char *name, uint64_t *offset,
                                           uint64_t *line, char *errstr, size_t errstr_size) {
    if (!sink || fd < 0 || !offset || !line)
        return DDBPIPE_ERR_INVALID_ARG;
    file_reports *f = sk_sink_tap_opaque(sink, fr_report);
    if (!f || !f->ckpt_path)
        return DDBPIPE_ERR_NOT_FOUND;
    ddbpipe_result_t r = ddbpipe_sink_set_checkpoint_input(sink, fd, name);
    if (r == DDBPIPE_OK)
        r = dp_ckpt_resume(f->ckpt_path, fd, name, &f->hash, offset, line, errstr, errstr_size);
    return r;
}

ddbpipe_result_t ddbpipe_sink_reopen_dead_letter(ddbpipe_sink_t *sink, char *errstr, size_t errstr_size) {
    ddbpipe_result_t r = DDBPIPE_OK;
    if (!sink)
        return DDBPIPE_ERR_INVALID_ARG;
    file_reports *f = sk_sink_tap_opaque(sink, fr_report);
    if (!f || !f->dl_path)
        return DDBPIPE_OK;
    /* Open the new file before closing the old one: on failure the old
     * (renamed) file keeps receiving dead letters rather than none. */
    FILE *nf = fopen(f->dl_path, "a");
    pthread_mutex_lock(&f->dl_mu);
    if (!nf) {
        dp_errf(errstr, errstr_size, "cannot reopen dead-letter file %s: %s (still writing to the old one)",
                f->dl_path, strerror(errno));
        r = DDBPIPE_ERR_IO;
    } else {
        fclose(f->dlq);
        f->dlq = nf;
    }
    pthread_mutex_unlock(&f->dl_mu);
    return r;
}

/* ------------------------------------------------------------ the input loop */

#define READ_CHUNK ((size_t)256 * 1024)
/* A line longer than this cannot be a DynamoDB item (400 KB) in any input
 * format; it is cut here so memory stays bounded, and the sink dead-letters
 * the cut line as malformed. */
#define MAX_LINE_BYTES ((size_t)16 * 1024 * 1024)

struct ddbpipe_file_sink {
    ddbpipe_sink_t *sink;
    char *input; /* NULL: stdin */
    char *ckpt_path;
    int ckpt_reset;
    int fd; /* -1: not open yet; 0: stdin (not ours to close) */
    volatile sig_atomic_t stop;
    int (*tick)(ddbpipe_file_sink_t *f, void *opaque);
    void (*note)(ddbpipe_file_sink_t *f, int warning, const char *msg, void *opaque);
    void *opaque;
};

static void fs_note(ddbpipe_file_sink_t *f, int warning, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fs_note(ddbpipe_file_sink_t *f, int warning, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (f->note)
        f->note(f, warning, msg, f->opaque);
    else if (warning)
        DP_LOG_WARN("sink: %s", msg);
    else
        DP_LOG_INFO("sink: %s", msg);
}

/* The caller's tick; 1 when reading should stop. */
static int fs_tick(ddbpipe_file_sink_t *f) {
    if (f->tick && f->tick(f, f->opaque) != 0)
        f->stop = 1;
    return f->stop != 0;
}

ddbpipe_result_t ddbpipe_file_sink_new_sz(const ddbpipe_conf_t *conf,
                                          const ddbpipe_file_sink_options_t *opts_in, size_t opts_size,
                                          ddbpipe_file_sink_t **out, char *errstr, size_t errstr_size) {
    ddbpipe_file_sink_options_t o;
    const ddbpipe_file_sink_options_t *opts = dp_abi_copy_in(&o, sizeof o, opts_in, opts_size);
    ddbpipe_sink_options_t so_copy = {.format = "auto"};
    const ddbpipe_sink_options_t *so = &so_copy;
    ddbpipe_file_sink_t *f = NULL;
    ddbpipe_result_t r = DDBPIPE_ERR_NOMEM;
    if (!conf || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    *out = NULL;
    if (opts && opts->sink_options)
        so = dp_abi_copy_in(&so_copy, sizeof so_copy, opts->sink_options,
                            opts->sink_options_size ? opts->sink_options_size : sizeof so_copy);
    const char *input = opts && opts->input && strcmp(opts->input, "-") != 0 ? opts->input : NULL;
    if (so->checkpoint_path && !input) {
        dp_errf(errstr, errstr_size, "a checkpoint needs file input: stdin cannot be resumed");
        return DDBPIPE_ERR_CONFIG;
    }
    if (opts && opts->checkpoint_reset && !so->checkpoint_path) {
        dp_errf(errstr, errstr_size, "a checkpoint reset needs a checkpoint file");
        return DDBPIPE_ERR_CONFIG;
    }
    if (!(f = calloc(1, sizeof *f)))
        goto out;
    f->fd = -1;
    if (opts) {
        f->tick = opts->tick;
        f->note = opts->note;
        f->opaque = opts->opaque;
        f->ckpt_reset = opts->checkpoint_reset;
    }
    if ((input && !(f->input = strdup(input))) ||
        (so->checkpoint_path && !(f->ckpt_path = strdup(so->checkpoint_path))))
        goto out;
    if (input) {
        /* Only checked here, opened by run: opening a FIFO waits for a
         * writer, and the health endpoints must answer meanwhile. */
        if (access(input, R_OK) != 0) {
            dp_errf(errstr, errstr_size, "cannot open %s: %s", input, strerror(errno));
            r = DDBPIPE_ERR_CONFIG;
            goto out;
        }
        if (f->ckpt_path && f->ckpt_reset) {
            if (unlink(f->ckpt_path) == 0) {
                fs_note(f, 0, "--checkpoint-reset: removed %s; starting at byte 0", f->ckpt_path);
            } else if (errno != ENOENT) {
                dp_errf(errstr, errstr_size, "--checkpoint-reset: cannot remove %s: %s", f->ckpt_path,
                        strerror(errno));
                r = DDBPIPE_ERR_CONFIG;
                goto out;
            }
        }
    }
    r = ddbpipe_sink_new_sz(conf, so, sizeof so_copy, &f->sink, errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    *out = f;
    f = NULL;
out:
    ddbpipe_file_sink_destroy(f);
    return r;
}

void ddbpipe_file_sink_destroy(ddbpipe_file_sink_t *f) {
    if (!f)
        return;
    ddbpipe_sink_destroy(f->sink); /* the last checkpoint reads the input: close it after */
    if (f->fd > 0)
        close(f->fd);
    free(f->input);
    free(f->ckpt_path);
    free(f);
}

void ddbpipe_file_sink_stop(ddbpipe_file_sink_t *f) {
    if (f)
        f->stop = 1;
}

ddbpipe_sink_t *ddbpipe_file_sink_sink(ddbpipe_file_sink_t *f) {
    return f ? f->sink : NULL;
}

/* Open the input (a FIFO waits for a writer; stop ends the wait) and seek
 * it to the checkpoint. *line_no and *consumed: where reading starts. */
static ddbpipe_result_t fs_open(ddbpipe_file_sink_t *f, uint64_t *line_no, uint64_t *consumed, char *errstr,
                                size_t errstr_size) {
    if (!f->input) {
        f->fd = 0;
        return DDBPIPE_OK;
    }
    while ((f->fd = open(f->input, O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR && !fs_tick(f))
        ;
    if (f->fd < 0 && f->stop)
        return DDBPIPE_ERR_INTERRUPTED; /* still waiting for a writer: nothing was read */
    if (f->fd < 0) {
        dp_errf(errstr, errstr_size, "cannot open %s: %s", f->input, strerror(errno));
        return DDBPIPE_ERR_CONFIG;
    }
    if (!f->ckpt_path)
        return DDBPIPE_OK;
    if (f->ckpt_reset)
        return ddbpipe_sink_set_checkpoint_input(f->sink, f->fd, f->input);
    /* Resume: everything before the checkpoint's offset is acknowledged, if
     * the checkpoint was taken from this very input (the checkpoint is tied
     * to it either way, its prefix digest kept). */
    uint64_t cp_off = 0, cp_line = 0;
    ddbpipe_result_t r =
        ddbpipe_sink_resume_input(f->sink, f->fd, f->input, &cp_off, &cp_line, errstr, errstr_size);
    if (r == DDBPIPE_ERR_NOT_FOUND)
        return ddbpipe_sink_set_checkpoint_input(f->sink, f->fd, f->input);
    if (r != DDBPIPE_OK)
        return r == DDBPIPE_ERR_NOMEM ? r : DDBPIPE_ERR_CONFIG;
    if (cp_off == 0)
        return DDBPIPE_OK;
    fs_note(f, 0, "resuming %s at byte %llu (line %llu) from checkpoint %s", f->input,
            (unsigned long long)cp_off, (unsigned long long)cp_line + 1, f->ckpt_path);
    if (lseek(f->fd, (off_t)cp_off, SEEK_SET) != (off_t)cp_off) {
        dp_errf(errstr, errstr_size, "cannot seek %s to checkpoint offset %llu: %s", f->input,
                (unsigned long long)cp_off, strerror(errno));
        return DDBPIPE_ERR_CONFIG;
    }
    *consumed = cp_off;
    *line_no = cp_line;
    return DDBPIPE_OK;
}

/* Offer one line, driving the sink while it applies backpressure. */
static ddbpipe_result_t fs_offer(ddbpipe_file_sink_t *f, const char *line, size_t len, uint64_t line_no,
                                 uint64_t offset) {
    for (;;) {
        ddbpipe_result_t r = ddbpipe_sink_produce(f->sink, line, len, line_no, offset);
        if (r != DDBPIPE_ERR_QUEUE_FULL)
            return r;
        r = ddbpipe_sink_poll(f->sink, 20);
        if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
            return r;
        if (fs_tick(f))
            return DDBPIPE_ERR_INTERRUPTED;
    }
}

/* Read lines until EOF, stop, or the sink stops: DDBPIPE_OK (EOF or stop)
 * or the error. */
static ddbpipe_result_t fs_read(ddbpipe_file_sink_t *f, uint64_t line_no, uint64_t consumed, char *errstr,
                                size_t errstr_size) {
    size_t cap = READ_CHUNK * 2, len = 0;
    int eof = 0, skip_to_newline = 0, added_nl = 0;
    ddbpipe_result_t r = DDBPIPE_OK;
    char *buf = malloc(cap);
    if (!buf)
        return DDBPIPE_ERR_NOMEM;
    while (!eof && !fs_tick(f)) {
        /* Wait for input, but keep the sink's requests moving meanwhile. */
        struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 0);
        if (pr == 0) {
            r = ddbpipe_sink_poll(f->sink, 20);
            if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
                break;
            r = DDBPIPE_OK;
            continue;
        }
        if (pr < 0 && errno == EINTR)
            continue;
        if (cap - len < READ_CHUNK) {
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                r = DDBPIPE_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(f->fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            dp_errf(errstr, errstr_size, "reading %s: %s", f->input ? f->input : "stdin", strerror(errno));
            r = DDBPIPE_ERR_IO;
            break;
        }
        if (n == 0) {
            eof = 1;
            if (len > 0 && !skip_to_newline) { /* last line without a newline */
                buf[len++] = '\n';
                added_nl = 1;
            }
        }
        len += (size_t)n;
        size_t pos = 0;
        while (pos < len && !f->stop) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            if (!nl)
                break;
            size_t ll = (size_t)(nl - (buf + pos));
            size_t raw = ll + 1;
            /* Offset just past this line in the input; the newline added
             * at EOF is not part of the input. */
            consumed += (added_nl && pos + raw == len) ? ll : raw;
            if (skip_to_newline) {
                skip_to_newline = 0;
                pos += raw;
                continue;
            }
            line_no++;
            if (ll > 0 && buf[pos + ll - 1] == '\r')
                ll--;
            size_t k = 0;
            while (k < ll && (buf[pos + k] == ' ' || buf[pos + k] == '\t'))
                k++;
            if (k < ll) {
                r = fs_offer(f, buf + pos, ll, line_no, consumed);
                if (r == DDBPIPE_ERR_INTERRUPTED) {
                    r = DDBPIPE_OK;
                    break;
                }
                if (r != DDBPIPE_OK)
                    goto out;
            }
            pos += raw;
            if ((line_no & 255) == 0) {
                ddbpipe_sink_poll(f->sink, 0);
                fs_tick(f);
            }
        }
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        if (len > MAX_LINE_BYTES && !skip_to_newline) {
            /* Hand the sink a cut prefix (it dead-letters it), drop the rest. */
            line_no++;
            consumed += len;
            fs_note(f, 1, "line %llu is longer than %zu bytes: cut and dead-lettered",
                    (unsigned long long)line_no, MAX_LINE_BYTES);
            r = fs_offer(f, buf, len, line_no, consumed);
            len = 0;
            skip_to_newline = 1;
            if (r == DDBPIPE_ERR_INTERRUPTED)
                r = DDBPIPE_OK;
            if (r != DDBPIPE_OK)
                goto out;
        } else if (skip_to_newline) {
            consumed += len;
            len = 0;
        }
        ddbpipe_sink_poll(f->sink, 0);
    }
out:
    free(buf);
    return r;
}

ddbpipe_result_t ddbpipe_file_sink_run(ddbpipe_file_sink_t *f, char *errstr, size_t errstr_size) {
    uint64_t line_no = 0, consumed = 0;
    if (!f)
        return DDBPIPE_ERR_INVALID_ARG;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    ddbpipe_result_t r = fs_open(f, &line_no, &consumed, errstr, errstr_size);
    if (r != DDBPIPE_OK)
        return r;
    r = fs_read(f, line_no, consumed, errstr, errstr_size);
    if (r != DDBPIPE_OK) {
        /* the sink stopped (or reading failed): still write what was
         * accepted (fail_on_error flushes too) */
        char ferr[1024] = "";
        ddbpipe_result_t fr = ddbpipe_sink_fatal_error(f->sink, ferr, sizeof ferr);
        if (fr != DDBPIPE_OK) {
            r = fr;
            dp_errf(errstr, errstr_size, "%s", ferr[0] ? ferr : ddbpipe_strerror(fr));
        }
        ddbpipe_sink_flush(f->sink, 10000);
        return r;
    }
    /* Flush in slices so the caller's tick (progress, SIGHUP) keeps running. */
    for (;;) {
        r = ddbpipe_sink_flush(f->sink, 500);
        if (f->tick)
            (void)f->tick(f, f->opaque);
        if (r != DDBPIPE_ERR_TIMEOUT)
            break;
    }
    char ferr[1024] = "";
    ddbpipe_result_t fr = ddbpipe_sink_fatal_error(f->sink, ferr, sizeof ferr);
    if (fr != DDBPIPE_OK) {
        dp_errf(errstr, errstr_size, "%s", ferr[0] ? ferr : ddbpipe_strerror(fr));
        return fr;
    }
    return r;
}
