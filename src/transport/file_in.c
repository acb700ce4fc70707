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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* {"line":N,"offset":O,"reason":"...","record":"<original line>"} */
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
    dp_buf_puts(&b, ",\"record\":");
    dp_json_write_string(&b, dr->value ? dr->value : "", dr->value ? dr->value_len : 0);
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
