/* The client handle's fields: only files in src/client/ include this
 * (scripts/check-layers.sh enforces it); other layers use client.h. */
#ifndef DP_CLIENT_CLIENT_INTERNAL_H
#define DP_CLIENT_CLIENT_INTERNAL_H

#include "aws/credentials.h"
#include "client/client.h"

struct ddbpipe_client {
    dp_cred_chain *creds;
    dp_ddb *ddb;
    char region[64];
    char region_source[96]; /* "config", "AWS_REGION", "profile default (~/.aws/config)" */
    char endpoint[512];
    char provider[64]; /* after credentials_source */
    char akid_masked[32];
};

/* Region resolution: config (and its AWS_REGION/AWS_DEFAULT_REGION
 * fallback), then the environment, then the profile's region in the shared
 * config file. 0 ok (region and a description of where it came from), -1
 * when none. */
int dp_client_resolve_region(const dp_settings *st, char *region, size_t region_size, char *source,
                             size_t source_size);

#endif
