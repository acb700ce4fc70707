#!/usr/bin/env bash
# create-table on DynamoDB Local: new table (waits for ACTIVE), idempotent
# re-run, a clear error naming the difference for another key schema.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
B=$DDBPIPE_BIN
EP=$(ddb_endpoint)
T=$(unique_table ct)
local_config "$TEST_TMP/c.yaml" "$EP" "$T" "partition_key: user_id" "partition_key_type: S" \
    "sort_key: ts" "sort_key_type: N" "stream_view_type: NEW_AND_OLD_IMAGES"

run "$B" create-table -c "$TEST_TMP/c.yaml"
expect_rc 0 "create new table"
expect_in "$OUT" "created table '$T'" "create new table"
expect_in "$OUT" "ACTIVE" "create new table"

# The table really has that schema and a stream (ask DynamoDB Local directly).
desc=$(curl -s -X POST -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.DescribeTable' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST0001/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    --data "{\"TableName\":\"$T\"}" "$EP/")
python3 - "$desc" <<'EOP'
import json, sys
t = json.loads(sys.argv[1])["Table"]
ks = {k["KeyType"]: k["AttributeName"] for k in t["KeySchema"]}
ad = {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}
assert ks == {"HASH": "user_id", "RANGE": "ts"}, ks
assert ad == {"user_id": "S", "ts": "N"}, ad
assert t["TableStatus"] == "ACTIVE", t["TableStatus"]
assert t.get("StreamSpecification", {}).get("StreamViewType") == "NEW_AND_OLD_IMAGES", t.get("StreamSpecification")
assert t.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST", t.get("BillingModeSummary")
EOP

run "$B" create-table -c "$TEST_TMP/c.yaml"
expect_rc 0 "create again (idempotent)"
expect_in "$OUT" "already exists" "create again (idempotent)"

# Same names, other partition key type.
run "$B" create-table -c "$TEST_TMP/c.yaml" --set partition_key_type=N
expect_rc 3 "partition key type differs"
expect_in "$ERR" "table '$T' has partition key user_id (S) but config says user_id (N)" "type mismatch message"

# Other partition key name.
run "$B" create-table -c "$TEST_TMP/c.yaml" --set partition_key=id
expect_rc 3 "partition key differs"
expect_in "$ERR" "has partition key user_id (S) but config says id (S)" "name mismatch message"

# Sort key missing in config.
local_config "$TEST_TMP/nosort.yaml" "$EP" "$T" "partition_key: user_id"
run "$B" create-table -c "$TEST_TMP/nosort.yaml"
expect_rc 3 "sort key missing in config"
expect_in "$ERR" "has sort key ts (N) but config has none" "sort key mismatch message"

# PROVISIONED with capacities, no sort key.
T2=$(unique_table prov)
local_config "$TEST_TMP/p.yaml" "$EP" "$T2" "key: id" "partition_key_type: N" "billing_mode: PROVISIONED" \
    "read_capacity: 3" "write_capacity: 4"
run "$B" create-table -c "$TEST_TMP/p.yaml"
expect_rc 0 "create provisioned"
run "$B" check -c "$TEST_TMP/p.yaml"
expect_rc 0 "check provisioned"
expect_in "$OUT" "partition key id (N), no sort key" "check provisioned"
expect_in "$OUT" "billing PROVISIONED" "check provisioned"

# No key configured: a config error (exit 2), not a crash.
local_config "$TEST_TMP/nokey.yaml" "$EP" "$(unique_table nokey)"
run "$B" create-table -c "$TEST_TMP/nokey.yaml"
expect_rc 2 "no partition key"
expect_in "$ERR" "partition_key" "no partition key message"
echo "PASS: create-table"
