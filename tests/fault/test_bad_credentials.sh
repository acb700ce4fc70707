#!/bin/bash
# `ddbpipe check` against a signature-checking DynamoDB double
# (tests/fault/sigcheck_double.py, which verifies SigV4 with botocore):
#  - right key pair (with and without a session token): exit 0
#  - wrong secret: exit 3, message about the signature/credentials
#  - unknown access key id: exit 3, message about the credentials
# and the secret / session token never appear in anything ddbpipe prints.
set -u

BIN=${DDBPIPE_BIN:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

if [ -z "$BIN" ] || ! "$BIN" check --help >/dev/null 2>&1; then
    echo "SKIPPED: '${BIN:-ddbpipe} check --help' does not work yet; the bad-credentials test needs the CLI"
    exit 77
fi
if ! "$PY" -c 'import botocore' 2>/dev/null; then
    echo "SKIPPED: botocore is not importable by $PY (apt-get install python3-botocore)"
    exit 77
fi

AKID=AKIDSIGCHECKEXAMPLE1
SECRET='sigcheckSecretKeyForTests/0123456789abcdEF'
WRONG_SECRET='wrongSecretKeyDoNotPrint/ZYXWVUTSRQ9876543210'
TOKEN='FwoGZXIvYXdzEXAMPLESESSIONTOKENdoNotPrint0123456789'

TMP=$(mktemp -d)
DOUBLE_PID=
cleanup() {
    if [ -n "$DOUBLE_PID" ]; then
        kill "$DOUBLE_PID" 2>/dev/null
        wait "$DOUBLE_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SIGCHECK_SECRET=$SECRET "$PY" "$HERE/sigcheck_double.py" --port 0 --port-file "$TMP/port" \
    --akid "$AKID" --table sigcheck_table --pk id:S >"$TMP/double.log" 2>&1 &
DOUBLE_PID=$!
for _ in $(seq 1 100); do
    [ -s "$TMP/port" ] && break
    sleep 0.1
done
if [ ! -s "$TMP/port" ]; then
    echo "FAIL: signature-checking double did not start:"
    cat "$TMP/double.log"
    exit 1
fi
PORT=$(cat "$TMP/port")
ENDPOINT="http://127.0.0.1:$PORT"

cat >"$TMP/check.yaml" <<EOF
table: sigcheck_table
region: us-east-1
endpoint_url: $ENDPOINT
partition_key: id
partition_key_type: S
EOF

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# Sanitizer options (make asan) survive env -i.
SAN_ENV=()
[ -n "${ASAN_OPTIONS:-}" ] && SAN_ENV+=("ASAN_OPTIONS=$ASAN_OPTIONS")
[ -n "${UBSAN_OPTIONS:-}" ] && SAN_ENV+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")

# Run check with only the environment credentials provider able to answer.
run_check() { # akid secret token outfile
    env -i PATH="$PATH" HOME="$TMP" "${SAN_ENV[@]}" \
        AWS_ACCESS_KEY_ID="$1" AWS_SECRET_ACCESS_KEY="$2" ${3:+AWS_SESSION_TOKEN="$3"} \
        AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none" AWS_EC2_METADATA_DISABLED=true \
        "$BIN" check --config "$TMP/check.yaml" >"$4" 2>&1
}

stats() { curl -s "$ENDPOINT/__stats"; }

expect_no_secrets() { # file
    for s in "$SECRET" "$WRONG_SECRET" "$TOKEN"; do
        if grep -qF -- "$s" "$1"; then
            fail "a secret (${s:0:6}...) appears in ddbpipe's output ($1)"
        fi
    done
}

# 1. Positive control: the right key pair passes (so the failures below are
#    about credentials, not about the config or the double).
run_check "$AKID" "$SECRET" "" "$TMP/ok.out"
rc=$?
[ $rc -eq 0 ] || { fail "check with the right key pair exited $rc, want 0:"; cat "$TMP/ok.out"; }
expect_no_secrets "$TMP/ok.out"

# 2. Right key pair with a session token: X-Amz-Security-Token signed.
run_check "$AKID" "$SECRET" "$TOKEN" "$TMP/token.out"
rc=$?
[ $rc -eq 0 ] || { fail "check with a session token exited $rc, want 0:"; cat "$TMP/token.out"; }
expect_no_secrets "$TMP/token.out"

# 3. Wrong secret: the double answers InvalidSignatureException.
before=$(stats)
run_check "$AKID" "$WRONG_SECRET" "$TOKEN" "$TMP/badsecret.out"
rc=$?
[ $rc -eq 3 ] || fail "check with a wrong secret exited $rc, want 3"
grep -qiE 'signature|credential' "$TMP/badsecret.out" ||
    fail "wrong-secret output does not mention the signature or credentials"
expect_no_secrets "$TMP/badsecret.out"
after=$(stats)
[ "$before" != "$after" ] && grep -q InvalidSignatureException <<<"$after" ||
    fail "the double never saw an invalid signature (stats: $after)"
echo "--- wrong secret (exit $rc):"
cat "$TMP/badsecret.out"

# 4. Unknown access key id: UnrecognizedClientException.
run_check "AKIDUNKNOWN000000000" "$SECRET" "" "$TMP/badakid.out"
rc=$?
[ $rc -eq 3 ] || fail "check with an unknown access key id exited $rc, want 3"
grep -qiE 'security token|credential|UnrecognizedClient' "$TMP/badakid.out" ||
    fail "unknown-key output does not mention the credentials"
expect_no_secrets "$TMP/badakid.out"
echo "--- unknown access key id (exit $rc):"
cat "$TMP/badakid.out"

# 5. Static keys in the config file (wrong secret): the config holds the
#    secret, and it still must not be echoed anywhere.
cp "$TMP/check.yaml" "$TMP/static.yaml"
printf 'aws_access_key_id: %s\naws_secret_access_key: "%s"\naws_session_token: "%s"\n' \
    "$AKID" "$WRONG_SECRET" "$TOKEN" >>"$TMP/static.yaml"
env -i PATH="$PATH" HOME="$TMP" "${SAN_ENV[@]}" AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none" \
    AWS_EC2_METADATA_DISABLED=true "$BIN" check -v --config "$TMP/static.yaml" >"$TMP/static.out" 2>&1
rc=$?
[ $rc -eq 3 ] || fail "check with a wrong static secret in the config exited $rc, want 3"
grep -qiE 'signature|credential' "$TMP/static.out" ||
    fail "wrong static secret output does not mention the signature or credentials"
expect_no_secrets "$TMP/static.out"
echo "--- wrong static secret in config, -v (exit $rc):"
cat "$TMP/static.out"

if [ $failures -ne 0 ]; then
    echo "--- outputs of the passing cases:"
    cat "$TMP/ok.out" "$TMP/token.out"
    echo "$failures check(s) failed"
    exit 1
fi
echo "PASS: bad credentials are reported (exit 3) without leaking secrets"
