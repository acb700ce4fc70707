/* Logging to stderr. Secrets must never be passed here: use dp_mask_key()
 * for access key ids; secret keys and session tokens are never logged. */
#ifndef DP_COMMON_LOG_H
#define DP_COMMON_LOG_H

#include "ddbpipe/ddbpipe.h"

void dp_log(ddbpipe_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dp_log_enabled(ddbpipe_log_level_t level);
#define DP_LOG_ERROR(...) dp_log(DDBPIPE_LOG_ERROR, __VA_ARGS__)
#define DP_LOG_WARN(...) dp_log(DDBPIPE_LOG_WARN, __VA_ARGS__)
#define DP_LOG_INFO(...) dp_log(DDBPIPE_LOG_INFO, __VA_ARGS__)
#define DP_LOG_DEBUG(...) dp_log(DDBPIPE_LOG_DEBUG, __VA_ARGS__)

/* "AKIA****WXYZ": first 4 and last 4 characters of an access key id. out
 * must hold 32 bytes. */
const char *dp_mask_key(const char *access_key_id, char out[32]);

#endif
