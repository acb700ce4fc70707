/* Internal typed access to the configuration (see ddbpipe.h for the public
 * side). Values are stored as text and checked against the property table. */
#ifndef DP_CONFIG_CONF_H
#define DP_CONFIG_CONF_H

#include <stdint.h>

#include "ddbpipe/ddbpipe.h"

/* Text value with defaults applied; NULL when unset, no default, or "null". */
const char *dp_conf_str(const ddbpipe_conf_t *conf, const char *name);
/* Integer value; returns dflt when unset; -1 when the value is null (e.g.
 * max_retries: null = forever). */
int64_t dp_conf_int(const ddbpipe_conf_t *conf, const char *name, int64_t dflt);
int dp_conf_bool(const ddbpipe_conf_t *conf, const char *name, int dflt);

/* Notices collected while loading (dialect options with no effect, ...). */
size_t dp_conf_notice_count(const ddbpipe_conf_t *conf);
const char *dp_conf_notice_at(const ddbpipe_conf_t *conf, size_t i);

#endif
