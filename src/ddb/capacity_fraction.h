/* write_capacity_fraction / read_capacity_fraction: a capacity cap taken as
 * a fraction of what the table has (DescribeTable), set once at start-up
 * and then kept in step with the table by a re-read on its own thread (a
 * slow DescribeTable never stalls the data path, which only reads the
 * bucket). The sink (writes) and the source's snapshot (reads) both use it;
 * the messages name the setting, its unit and the caller (`who`). */
#ifndef DP_DDB_CAPACITY_FRACTION_H
#define DP_DDB_CAPACITY_FRACTION_H

#include <stddef.h>
#include <stdint.h>

#include "ddb/capacity.h"
#include "ddb/client.h"
#include "ddbpipe/ddbpipe.h"

typedef enum dp_capacity_kind {
    DP_CAPACITY_READ = 0,  /* read_capacity_fraction, RCU, MaxReadRequestUnits */
    DP_CAPACITY_WRITE = 1, /* write_capacity_fraction, WCU, MaxWriteRequestUnits */
} dp_capacity_kind;

/* What the cap is a fraction of and how the log names it. The strings are
 * borrowed: they must outlive every call (and a re-read) given them. */
typedef struct dp_capacity_fraction {
    dp_capacity_kind kind;
    double fraction;      /* 0 < f <= 1 */
    int64_t absolute_cap; /* max_*_capacity_per_s: the cap never exceeds it; 0: none */
    const char *table;    /* the table described */
    const char *who;      /* log prefix: "sink", "source" */
    const char *cap_name; /* the log's word for the cap: "cap", "snapshot cap" */
} dp_capacity_fraction;

/* The setting's text into *fraction (0 < f <= 1); 0 when text is NULL.
 * DDBPIPE_ERR_CONFIG with "<kind>_capacity_fraction TEXT is outside
 * 0 < f <= 1" otherwise. */
ddbpipe_result_t dp_capacity_fraction_parse(dp_capacity_kind kind, const char *text, double *fraction,
                                            char *errstr, size_t errstr_size);

/* The cap from one DescribeTable answer body: creates *bucket (and logs
 * the cap) when it is NULL, else moves its rate when the figure changed
 * (and logs "<cap_name> now N WCU/s (was M)"). DDBPIPE_ERR_PARSE for a body
 * without a Table, DDBPIPE_ERR_CONFIG for an on-demand table without the
 * OnDemandThroughput maximum (no figure to take a fraction of),
 * DDBPIPE_ERR_NOMEM. Thread-safety: *bucket is created by one thread
 * before any other uses it; a rate change may come from any thread. */
ddbpipe_result_t dp_capacity_fraction_apply(const dp_capacity_fraction *f, const char *body, size_t len,
                                            dp_capacity_bucket **bucket, char *errstr, size_t errstr_size);

/* The periodic re-read: a thread that calls DescribeTable every
 * interval_ms and applies the answer to the bucket. A failed call or an
 * unusable figure keeps the current cap with a warning ("re-reading the
 * table's capacity failed (...); keeping the <cap_name> at N WCU/s"). */
typedef struct dp_capacity_reread dp_capacity_reread;

typedef struct dp_capacity_reread_options {
    dp_capacity_fraction fraction; /* strings borrowed for the handle's life */
    dp_ddb *ddb;                   /* borrowed: used by the re-read thread alone; outlives the handle */
    dp_capacity_bucket *bucket;    /* borrowed: the cap the data path reads; outlives the handle */
    int64_t interval_ms;           /* <= 0: 60000, or DDBPIPE_CAPACITY_REREAD_MS when set (tests) */
} dp_capacity_reread_options;

/* Starts the thread (the first re-read comes one interval from now). NULL
 * with errstr set when the thread cannot start or memory runs out. */
dp_capacity_reread *dp_capacity_reread_new(const dp_capacity_reread_options *options, char *errstr,
                                           size_t errstr_size);
/* Stops the thread (at once while it waits; after the call in flight
 * otherwise) and joins it. Accepts NULL. */
void dp_capacity_reread_destroy(dp_capacity_reread *r);

#endif
