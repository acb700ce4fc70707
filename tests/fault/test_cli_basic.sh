#!/usr/bin/env bash
# CLI surface without a server: --help/--version, usage errors (exit 2),
# not-built commands say so (exit 2), config listing, secrets masked.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
[ -x "$DDBPIPE_BIN" ] || fail "no ddbpipe binary at $DDBPIPE_BIN"
B=$DDBPIPE_BIN

run "$B" --version
expect_rc 0 "--version"
# The one source of the version is project(ddbpipe VERSION x.y.z) in CMakeLists.txt.
VERSION=$(sed -nE 's/^project\(ddbpipe VERSION ([0-9.]+).*/\1/p' "$DDBPIPE_SOURCE_DIR/CMakeLists.txt")
[ -n "$VERSION" ] || fail "no project version in CMakeLists.txt"
expect_in "$OUT" "ddbpipe $VERSION" "--version"

run "$B" --help
expect_rc 0 "--help"
for c in sink source create-table check list-tables sql config; do
    expect_in "$OUT" "  $c " "--help lists $c"
done
expect_in "$OUT" "Exit codes" "--help documents exit codes"

run "$B"
expect_rc 2 "no command"

run "$B" frobnicate
expect_rc 2 "unknown command"
expect_in "$ERR" "unknown command 'frobnicate'" "unknown command"

run "$B" --frob
expect_rc 2 "unknown global option"

for c in sink source create-table check list-tables config; do
    run "$B" "$c" --help
    expect_rc 0 "$c --help"
    expect_in "$OUT" "Usage: ddbpipe $c" "$c --help"
    expect_in "$OUT" "--config FILE" "$c --help common options"
    run "$B" help "$c"
    expect_rc 0 "help $c"
    expect_in "$OUT" "Usage: ddbpipe $c" "help $c"
done
# Property lists come from the config table.
run "$B" create-table --help
expect_in "$OUT" "partition_key" "create-table --help lists config properties"
expect_in "$OUT" "billing_mode" "create-table --help lists config properties"
run "$B" sink --help
expect_in "$OUT" "batch_size" "sink --help lists config properties"
expect_in "$OUT" "dead-lettered" "sink --help documents exit codes"

# sql: either built, or it says it is not (never pretends).
run "$B" sql --help
expect_rc 0 "sql --help"
expect_in "$OUT" "Usage: ddbpipe sql" "sql --help"
if grep -q "not implemented yet in this build" <<<"$OUT"; then
    run "$B" sql /dev/null
    expect_rc 2 "sql when not built"
    expect_in "$ERR" "ddbpipe: 'sql' is not implemented yet in this build" "sql when not built"
fi

run "$B" check --bogus-option
expect_rc 2 "unknown option"
expect_in "$ERR" "Try 'ddbpipe check --help'" "unknown option hint"

run "$B" check --set novalue
expect_rc 2 "--set without ="
expect_in "$ERR" "key=value" "--set without ="

run "$B" check -c "$TEST_TMP/does-not-exist.yaml"
expect_rc 2 "missing config file"
expect_in "$ERR" "does-not-exist.yaml" "missing config file names the file"

run "$B" check extra-arg
expect_rc 2 "unexpected argument"

run "$B" sink --format nonsense --set table=abc
expect_rc 2 "sink bad --format"
expect_in "$ERR" "--format nonsense" "sink bad --format"

run "$B" source --mode sideways --set table=abc
expect_rc 2 "source bad --mode"

run "$B" config --list
expect_rc 0 "config --list"
for p in table region endpoint_url aws_access_key_id partition_key; do
    expect_in "$OUT" "$p" "config --list has $p"
done

run "$B" config --set table=orders --set aws_access_key_id=AKIDEXAMPLE00000001 \
    --set aws_secret_access_key=SuperSecretValue123
expect_rc 0 "config show"
expect_in "$OUT" "table = orders" "config show"
expect_in "$OUT" "aws_secret_access_key = ****" "secret masked"
expect_not_in "$OUT$ERR" "SuperSecretValue123" "secret never printed"

run "$B" config --set batch_size=100000
expect_rc 2 "out-of-range value"
expect_in "$ERR" "batch_size" "out-of-range value names the key"
# No provider has credentials: the request never leaves, and the message says the
# credentials (not the endpoint) are what failed. Exit 3 (a service/connection error).
mkdir -p "$TEST_TMP/home"
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
    -u AWS_DEFAULT_PROFILE -u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_ROLE_ARN -u AWS_CONFIG_FILE \
    -u AWS_SHARED_CREDENTIALS_FILE -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
    -u AWS_CONTAINER_CREDENTIALS_FULL_URI HOME="$TEST_TMP/home" AWS_EC2_METADATA_DISABLED=true \
    "$B" list-tables --set region=us-east-1 --set endpoint_url=http://127.0.0.1:9
expect_rc 3 "list-tables without credentials"
expect_in "$ERR" "ListTables: could not get credentials: no credentials found" "credentials failure named"
expect_not_in "$ERR" "cannot reach" "not worded as a network error"
echo "PASS: CLI basics"
