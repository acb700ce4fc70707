/* Internal side of the public client API (the files in src/api). */
#ifndef DP_API_API_H
#define DP_API_API_H

#include "aws/credentials.h"
#include "config/conf.h"
#include "ddb/client.h"
#include "ddbpipe/ddbpipe.h"

struct ddbpipe_client {
    dp_cred_chain *creds;
    dp_ddb *ddb;
    char region[64];
    char region_source[96]; /* "config", "AWS_REGION", "profile default (~/.aws/config)" */
    char endpoint[512];
    char provider[64]; /* after credentials_source */
    char akid_masked[32];
};

/* ddbpipe_client_new with the per-call attempts capped (check wants a fast
 * answer for an unreachable endpoint, not ten backoffs; 0 = from config)
 * and the calls the caller keeps in flight at most, which sizes the HTTP
 * connection pool (0 = max_concurrent_requests). */
ddbpipe_result_t dp_api_client_new(const ddbpipe_conf_t *conf, int max_attempts, int max_in_flight,
                                   ddbpipe_client_t **out, char *errstr, size_t errstr_size);

/* Region resolution: config (and its AWS_REGION/AWS_DEFAULT_REGION
 * fallback), then the environment, then the profile's region in the shared
 * config file. 0 ok (region and a description of where it came from), -1
 * when none. */
int dp_api_resolve_region(const dp_settings *st, char *region, size_t region_size, char *source,
                          size_t source_size);

/* Format a failed call's result into errstr with context (what/table),
 * mapping the service's codes to a clear sentence. Returns res->result. */
ddbpipe_result_t dp_api_call_error(const ddbpipe_client_t *client, const char *what, const char *table,
                                   ddbpipe_result_t rc, const dp_ddb_result *res, char *errstr,
                                   size_t errstr_size);

/* Key schema from config (partition_key/sort_key and types). Types that
 * were not set explicitly are 0 in *explicit_types bits (1 partition, 2 sort). */
ddbpipe_result_t dp_api_conf_key_schema(const dp_settings *st, ddbpipe_key_schema_t *out, int *explicit_types,
                                        char *errstr, size_t errstr_size);
/* Compare a table's key schema with the configured one. 0 equal; -1 with
 * a sentence naming the difference in msg. */
int dp_api_key_schema_diff(const char *table, const ddbpipe_key_schema_t *have,
                           const ddbpipe_key_schema_t *want, int explicit_types, char *msg, size_t msg_size);

#endif
