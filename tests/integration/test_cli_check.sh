#!/usr/bin/env bash
# check on DynamoDB Local: ok, missing table, wrong key schema; the secret
# is never printed, the access key only masked.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
B=$DDBPIPE_BIN
EP=$(ddb_endpoint)
T=$(unique_table chk)
local_config "$TEST_TMP/c.yaml" "$EP" "$T" "partition_key: id" "partition_key_type: S"

run "$B" check -c "$TEST_TMP/c.yaml"
expect_rc 3 "missing table"
expect_in "$OUT" "table: ERROR table '$T' not found at $EP" "missing table message"
expect_in "$OUT" "check: FAILED" "missing table"

run "$B" create-table -c "$TEST_TMP/c.yaml" -q
expect_rc 0 "create"

run "$B" check -c "$TEST_TMP/c.yaml"
expect_rc 0 "check ok"
expect_in "$OUT" "config: ok" "check ok"
expect_in "$OUT" "region: us-east-1 (from config)" "check ok"
expect_in "$OUT" "endpoint: $EP" "check ok"
expect_in "$OUT" "credentials: provided by static (access key AKID****0001)" "check ok"
expect_in "$OUT" "table: '$T' ACTIVE, partition key id (S), no sort key" "check ok"
expect_in "$OUT" "key schema: matches the config" "check ok"
expect_in "$OUT" "check: ok" "check ok"
expect_not_in "$OUT$ERR" "test-secret-never-printed" "secret never printed"
expect_not_in "$OUT$ERR" "AKIDTESTTESTTEST0001" "access key only masked"

run "$B" check -c "$TEST_TMP/c.yaml" --set partition_key=user_id
expect_rc 3 "wrong key schema"
expect_in "$OUT" "key schema: MISMATCH table '$T' has partition key id (S) but config says user_id (S)" \
    "wrong key schema message"

run "$B" check -c "$TEST_TMP/c.yaml" --set sort_key=ts
expect_rc 3 "unexpected sort key"
expect_in "$OUT" "has no sort key but config says sort key ts" "unexpected sort key message"

# No key in config: fine, the table's key is reported.
local_config "$TEST_TMP/nokey.yaml" "$EP" "$T"
run "$B" check -c "$TEST_TMP/nokey.yaml"
expect_rc 0 "no key configured"
expect_in "$OUT" "key schema: not configured" "no key configured"

# Environment credentials are named as such.
local_config "$TEST_TMP/envcred.yaml" "$EP" "$T"
sed -i '/aws_access_key_id\|aws_secret_access_key/d' "$TEST_TMP/envcred.yaml"
run env AWS_ACCESS_KEY_ID=AKIDENVIRONMENT00042 AWS_SECRET_ACCESS_KEY=env-secret-never-printed \
    "$B" check -c "$TEST_TMP/envcred.yaml"
expect_rc 0 "environment credentials"
expect_in "$OUT" "credentials: provided by environment (access key AKID****0042)" "environment credentials"
expect_not_in "$OUT$ERR" "env-secret-never-printed" "env secret never printed"
echo "PASS: check"
