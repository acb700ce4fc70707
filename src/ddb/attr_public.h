/* The public typed item (ddbpipe_attr_t) to and from the AttributeValue DOM
 * of ddb/attr.h. Pure functions, no I/O. */
#ifndef DP_DDB_ATTR_PUBLIC_H
#define DP_DDB_ATTR_PUBLIC_H

#include <stddef.h>

#include "common/json.h"
#include "ddbpipe/ddbpipe.h"

/* Public item -> typed item object in doc (B values base64-encoded, as in
 * DynamoDB JSON). Checks the shape only (known types, no NULL pointer with
 * a length or count, names present in an item and M, set members of the
 * set's type, at most 64 levels); DynamoDB's rules are dp_item_validate's.
 * NULL with errstr set ("attribute 'a': member 2 of an SS is not a S"). */
dp_json *dp_item_from_public(dp_json_doc *doc, const ddbpipe_attr_t *attrs, size_t count, char *errstr,
                             size_t errstr_size);

/* A typed item as public structs: strings borrowed from the DOM it was made
 * from (keep that alive), arrays and decoded B bytes owned here. */
typedef struct dp_public_item {
    const ddbpipe_attr_t *attrs;
    size_t count;
    void **blocks; /* internal */
    size_t nblocks, capblocks;
} dp_public_item;
/* 0, or -1 (not a typed item, or out of memory; out is then empty). */
int dp_item_to_public(const dp_json *item, dp_public_item *out);
void dp_public_item_free(dp_public_item *p); /* accepts NULL */

#endif
