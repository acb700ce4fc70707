/* Condition expressions on DynamoDB write requests (Put, Delete, in a
 * transaction or alone): one place builds the request members, so the sink
 * and `ddbpipe sql` send the same thing for the same configuration. */
#ifndef DP_DDB_CONDITION_H
#define DP_DDB_CONDITION_H

#include "common/buf.h"
#include "common/json.h"
#include "ddbpipe/ddbpipe.h"

/* Append ,"ConditionExpression":expr and the members of names/values
 * (JSON objects, either NULL) that expr uses, as
 * ,"ExpressionAttributeNames":{..} / ,"ExpressionAttributeValues":{..}
 * (DynamoDB rejects unused ones). expr NULL appends nothing. Errors: those
 * of dp_buf (DDBPIPE_ERR_NOMEM, size cap). Thread-safe (no shared state). */
ddbpipe_result_t dp_ddb_put_condition(dp_buf *b, const char *expr, const dp_json *names,
                                      const dp_json *values);

#endif
