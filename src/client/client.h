/* The client layer's interface to the layers above it (sink, source, sql).
 *
 * A ddbpipe_client_t is the shared handle below them: the resolved region,
 * the credentials chain and the DynamoDB client. Its struct is private to
 * src/client/ (client_internal.h); the layers above reach the DynamoDB
 * client through dp_client_ddb and nothing else. The public ddbpipe.h
 * functions (ddbpipe_client_*, ddbpipe_describe_table, ddbpipe_create_table,
 * ddbpipe_list_tables, ddbpipe_check) are thin wrappers over this layer. */
#ifndef DP_CLIENT_CLIENT_H
#define DP_CLIENT_CLIENT_H

#include "config/conf.h"
#include "ddb/client.h"
#include "ddbpipe/ddbpipe.h"

/* ddbpipe_client_new with the per-call attempts capped (check wants a fast
 * answer for an unreachable endpoint, not ten backoffs; 0 = from config)
 * and the calls the caller keeps in flight at most, which sizes the HTTP
 * connection pool (0 = max_concurrent_requests). */
ddbpipe_result_t dp_client_new(const ddbpipe_conf_t *conf, int max_attempts, int max_in_flight,
                               ddbpipe_client_t **out, char *errstr, size_t errstr_size);

/* The DynamoDB client the handle owns (valid until ddbpipe_client_destroy).
 * Thread-safety is dp_ddb's. */
dp_ddb *dp_client_ddb(const ddbpipe_client_t *client);

/* Format a failed call's result into errstr with context (what/table),
 * mapping the service's codes to a clear sentence. Returns rc. */
ddbpipe_result_t dp_client_call_error(const ddbpipe_client_t *client, const char *what, const char *table,
                                      ddbpipe_result_t rc, const dp_ddb_result *res, char *errstr,
                                      size_t errstr_size);

/* Key schema from config (partition_key/sort_key and types). Types that
 * were not set explicitly are 0 in *explicit_types bits (1 partition, 2 sort). */
ddbpipe_result_t dp_client_conf_key_schema(const dp_settings *st, ddbpipe_key_schema_t *out,
                                           int *explicit_types, char *errstr, size_t errstr_size);
/* Compare a table's key schema with the configured one. 0 equal; -1 with
 * a sentence naming the difference in msg. */
int dp_client_key_schema_diff(const char *table, const ddbpipe_key_schema_t *have,
                              const ddbpipe_key_schema_t *want, int explicit_types, char *msg,
                              size_t msg_size);

#endif
