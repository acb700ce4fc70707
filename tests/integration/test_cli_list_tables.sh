#!/usr/bin/env bash
# list-tables on DynamoDB Local lists tables we created (every page).
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
B=$DDBPIPE_BIN
EP=$(ddb_endpoint)
T1=$(unique_table lsa)
T2=$(unique_table lsb)
for t in "$T1" "$T2"; do
    local_config "$TEST_TMP/$t.yaml" "$EP" "$t" "partition_key: k"
    run "$B" create-table -c "$TEST_TMP/$t.yaml" -q
    expect_rc 0 "create $t"
done
run "$B" list-tables -c "$TEST_TMP/$T1.yaml"
expect_rc 0 "list-tables"
grep -qx "$T1" <<<"$OUT" || fail "list-tables lacks $T1: $OUT"
grep -qx "$T2" <<<"$OUT" || fail "list-tables lacks $T2: $OUT"
expect_in "$ERR" "at $EP" "list-tables summary names the endpoint"
# list-tables needs no table in the config; check does (exit 2, saying so).
local_config "$TEST_TMP/notable.yaml" "$EP" x
sed -i '/^table:/d' "$TEST_TMP/notable.yaml"
run "$B" list-tables -c "$TEST_TMP/notable.yaml"
expect_rc 0 "list-tables without table"
grep -qx "$T1" <<<"$OUT" || fail "list-tables without table lacks $T1: $OUT"
run "$B" check -c "$TEST_TMP/notable.yaml"
expect_rc 2 "check without table"
expect_in "$OUT" "config: ERROR 'table' is required" "check without table"
echo "PASS: list-tables"
