# Shell helpers for script tests (source it: . "$DDBPIPE_SOURCE_DIR/tests/testutil.sh").
# Exit 77 = skipped (ctest SKIP_RETURN_CODE), always with a loud reason.

: "${DDBPIPE_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${DDBPIPE_BUILD_DIR:=$DDBPIPE_SOURCE_DIR/build}"
: "${DDBPIPE_BIN:=$DDBPIPE_BUILD_DIR/ddbpipe}"

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A scratch dir removed at exit.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ddbpipe-test.XXXXXX")
trap 'rm -rf "$TEST_TMP"' EXIT

# Endpoint of the DynamoDB Local fixture: $DDBPIPE_TEST_ENDPOINT, else the
# file named by $DDBPIPE_TEST_ENDPOINT_FILE; skip when neither is there.
ddb_endpoint() {
    if [ -n "${DDBPIPE_TEST_ENDPOINT:-}" ]; then
        echo "$DDBPIPE_TEST_ENDPOINT"
    elif [ -n "${DDBPIPE_TEST_ENDPOINT_FILE:-}" ] && [ -s "$DDBPIPE_TEST_ENDPOINT_FILE" ]; then
        head -n1 "$DDBPIPE_TEST_ENDPOINT_FILE"
    else
        skip "no DynamoDB Local endpoint (run through ctest, or scripts/ddblocal.sh run -- CMD)"
    fi
}

# A table name no other test uses (tests run in parallel on one server).
unique_table() { echo "t_${1:-test}_$$_${RANDOM}"; }

# run CMD...: captures stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
    RC=0
    "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || RC=$?
    OUT=$(cat "$TEST_TMP/out")
    ERR=$(cat "$TEST_TMP/err")
}

expect_rc() { # WANT LABEL
    [ "$RC" = "$1" ] || fail "$2: exit $RC, want $1
--- stdout:
$OUT
--- stderr:
$ERR"
}

expect_in() { # HAYSTACK NEEDLE LABEL
    case "$1" in
    *"$2"*) ;;
    *) fail "$3: output lacks '$2'
--- got:
$1" ;;
    esac
}

expect_not_in() { # HAYSTACK NEEDLE LABEL
    case "$1" in
    *"$2"*) fail "$3: output must not contain '$2'
--- got:
$1" ;;
    esac
}

# Config file for DynamoDB Local with a given table; extra "key: value" lines
# may follow as arguments.
local_config() { # FILE ENDPOINT TABLE [LINE...]
    local f=$1 ep=$2 t=$3
    shift 3
    {
        echo "table: $t"
        echo "region: us-east-1"
        echo "endpoint_url: $ep"
        echo "aws_access_key_id: AKIDTESTTESTTEST0001"
        echo "aws_secret_access_key: test-secret-never-printed"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}
