#!/usr/bin/env bash
# check/list-tables/create-table against an endpoint nobody listens on:
# exit 3 with a message naming the endpoint; no region: exit 2.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
B=$DDBPIPE_BIN

# A loopback port that was free a moment ago (bound, then closed).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ep="http://127.0.0.1:$port"
local_config "$TEST_TMP/c.yaml" "$ep" unreachable_table "partition_key: id"

start=$SECONDS
run "$B" check -c "$TEST_TMP/c.yaml"
expect_rc 3 "check unreachable"
expect_in "$OUT" "config: ok" "check unreachable"
expect_in "$OUT" "credentials: provided by static (access key AKID****0001)" "credentials line"
expect_in "$OUT" "cannot reach $ep" "check names the endpoint"
expect_in "$OUT" "check: FAILED" "check unreachable"
expect_not_in "$OUT$ERR" "test-secret-never-printed" "secret never printed"
[ $((SECONDS - start)) -lt 30 ] || fail "check took $((SECONDS - start)) s against a closed port"

run "$B" list-tables -c "$TEST_TMP/c.yaml" --set max_retries=1
expect_rc 3 "list-tables unreachable"
expect_in "$ERR" "cannot reach $ep" "list-tables unreachable"

run "$B" create-table -c "$TEST_TMP/c.yaml" --set max_retries=1
expect_rc 3 "create-table unreachable"
expect_in "$ERR" "cannot reach $ep" "create-table unreachable"

# No region anywhere: configuration error (exit 2) saying where to set it.
cat >"$TEST_TMP/noregion.yaml" <<EOC
table: some_table
endpoint_url: $ep
aws_access_key_id: AKIDTESTTESTTEST0001
aws_secret_access_key: test-secret-never-printed
EOC
mkdir -p "$TEST_TMP/home"
run env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_PROFILE -u AWS_CONFIG_FILE HOME="$TEST_TMP/home" \
    "$B" check -c "$TEST_TMP/noregion.yaml"
expect_rc 2 "no region"
expect_in "$OUT" "no region" "no region"

# Region from the profile in ~/.aws/config.
mkdir -p "$TEST_TMP/home/.aws"
printf '[default]\nregion = eu-west-3\n[profile other]\nregion = ap-south-1\n' >"$TEST_TMP/home/.aws/config"
run env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_PROFILE -u AWS_CONFIG_FILE HOME="$TEST_TMP/home" \
    "$B" check -c "$TEST_TMP/noregion.yaml" --set profile=other
expect_in "$OUT" "region: ap-south-1 (from profile other" "region from profile"
run env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_PROFILE -u AWS_CONFIG_FILE HOME="$TEST_TMP/home" \
    "$B" check -c "$TEST_TMP/noregion.yaml"
expect_in "$OUT" "region: eu-west-3 (from profile default" "region from default profile"
echo "PASS: unreachable endpoint and region resolution"
