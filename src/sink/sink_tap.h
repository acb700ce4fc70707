/* The sink core's interface for the transports above it (src/transport/):
 * a sink without files, and a tap on its delivery reports. The core writes
 * no checkpoint and no dead-letter file; a transport that has them (the
 * file transport) keeps its position and writes its files from the reports
 * it gets here. */
#ifndef DP_SINK_TAP_H
#define DP_SINK_TAP_H

#include <stddef.h>

#include "ddbpipe/ddbpipe.h"

/* A transport's consumer of delivery reports. Every callback runs in the
 * thread that calls produce/poll/flush/destroy, never concurrently. */
typedef struct sk_report_tap {
    /* Every record's report, in produce order, before the user's dr_cb;
     * also from ddbpipe_sink_destroy (for records acknowledged but not yet
     * reported; the user's dr_cb is not called there). */
    void (*report)(void *opaque, const ddbpipe_delivery_report_t *dr);
    /* From produce (every 256 records), poll and flush (force 0), and at
     * the end of flush (force 1): write what is due. */
    void (*tick)(void *opaque, int force);
    /* From ddbpipe_sink_destroy after the last reports: a final write, then
     * free opaque. */
    void (*close)(void *opaque);
    void *opaque;
} sk_report_tap;

/* ddbpipe_sink_new_sz without files: opts->dead_letter_path and
 * opts->checkpoint_path are ignored (the file transport implements them:
 * transport/file_in.c). */
ddbpipe_result_t sk_sink_new(const ddbpipe_conf_t *conf, const ddbpipe_sink_options_t *opts, size_t opts_size,
                             ddbpipe_sink_t **out, char *errstr, size_t errstr_size);
/* Attach a tap; before the first produce, at most one per sink (the sink
 * calls tap->close at destroy). */
void sk_sink_set_tap(ddbpipe_sink_t *s, const sk_report_tap *tap);
/* The tap's opaque when its report function is report_fn, else NULL (a
 * transport finding its state on a sink handle). */
void *sk_sink_tap_opaque(const ddbpipe_sink_t *s,
                         void (*report_fn)(void *, const ddbpipe_delivery_report_t *));

#endif
