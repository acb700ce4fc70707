#!/usr/bin/env bash
# `ddbpipe config -c FILE --for sink` says ok only when the sink would
# accept the file (every check that needs no AWS call): a columns map with a
# type the sink cannot map and a ca_file that does not exist fail both, with
# the same message (a missing ca_file fails plain `config` too). No network: the endpoint is a closed loopback port.
set -euo pipefail
. "$DDBPIPE_SOURCE_DIR/tests/testutil.sh"
export AWS_EC2_METADATA_DISABLED=true
B=$DDBPIPE_BIN
base() { # FILE LINE...
    local f=$1
    shift
    {
        echo "table: cfg_for_sink"
        echo "region: us-east-1"
        echo "endpoint_url: http://127.0.0.1:9"
        echo "aws_access_key_id: AKIDTESTTESTTEST0001"
        echo "aws_secret_access_key: test-secret-never-printed"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}

both_reject() { # FILE NEEDLE LABEL
    run "$B" config -c "$1" --for sink
    expect_rc 2 "$3: config --for sink"
    expect_in "$ERR" "$2" "$3: config --for sink"
    expect_not_in "$ERR" "configuration ok" "$3: config --for sink"
    local cfg_err=$ERR
    run "$B" sink -c "$1" -i /dev/null
    expect_rc 2 "$3: sink"
    expect_in "$ERR" "$2" "$3: sink"
    # the same sentence from both commands
    [ "${cfg_err#ddbpipe config: }" = "${ERR#ddbpipe sink: }" ] || fail "$3: messages differ:
$cfg_err
$ERR"
}

base "$TEST_TMP/cols.yaml" "columns:" "  id: BIGINT" "  tags: FOO"
both_reject "$TEST_TMP/cols.yaml" "column 'tags' has type 'FOO': unknown column type 'FOO'" "columns map"

base "$TEST_TMP/cols_sql.yaml" "columns: id BIGINT, price DECIMAL(50, 2)"
both_reject "$TEST_TMP/cols_sql.yaml" "column 'price' has type 'DECIMAL(50, 2)'" "columns text"

base "$TEST_TMP/ca.yaml" "ca_file: $TEST_TMP/no-such-ca.pem"
both_reject "$TEST_TMP/ca.yaml" "ca_file '$TEST_TMP/no-such-ca.pem' cannot be read" "missing ca_file"

# Without --for, only the checks every command shares run: a missing ca_file
# fails (every command would), a columns map only the sink reads is ok.
run "$B" config -c "$TEST_TMP/ca.yaml"
expect_rc 2 "config without --for, missing ca_file"
expect_in "$ERR" "ca_file '$TEST_TMP/no-such-ca.pem' cannot be read" "config without --for, missing ca_file"
run "$B" config -c "$TEST_TMP/cols.yaml"
expect_rc 0 "config without --for, sink-only columns"
expect_in "$ERR" "configuration ok" "config without --for, sink-only columns"

# A good file is ok for the sink.
printf 'dummy\n' >"$TEST_TMP/ca.pem"
base "$TEST_TMP/good.yaml" "ca_file: $TEST_TMP/ca.pem" "columns:" "  id: BIGINT" "  tags: ARRAY<VARCHAR>"
run "$B" config -c "$TEST_TMP/good.yaml" --for sink
expect_rc 0 "good file"
expect_in "$ERR" "configuration ok for sink" "good file"
echo "ok"
