#!/usr/bin/env bash
# sink signals against a stalling endpoint: DescribeTable answers, writes
# never do. The first SIGINT starts a flush that cannot finish; the second
# signal aborts with exit 130 and says so (not killed by the signal).
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
B=$DDBPIPE_BIN
"$B" sink --help >/dev/null 2>&1 || skip "sink not built"

cat >"$TEST_TMP/stall.py" <<'EOP'
import http.server, json, socketserver, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".DescribeTable"):
            body = json.dumps({"Table": {"TableName": "stall", "TableStatus": "ACTIVE",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
                "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}, "ItemCount": 0}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            open(sys.argv[1], "a").close()  # the test waits for this: a write is held
            time.sleep(120)  # a write that never completes
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
threading.Thread(target=s.serve_forever, daemon=True).start()
sys.stdin.read()  # live until the test closes our stdin
EOP
mkfifo "$TEST_TMP/ctl"
python3 "$TEST_TMP/stall.py" "$TEST_TMP/held" <"$TEST_TMP/ctl" >"$TEST_TMP/port" &
dpid=$!
exec 4>"$TEST_TMP/ctl"
trap 'exec 4>&-; kill $dpid 2>/dev/null; rm -rf "$TEST_TMP"' EXIT
for _ in $(seq 1 50); do [ -s "$TEST_TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TEST_TMP/port")
[ -n "$port" ] || fail "stalling double did not start"

mkfifo "$TEST_TMP/in"
"$B" sink --set region=us-east-1 --set endpoint_url="http://127.0.0.1:$port" --set table=stall \
    --set aws_access_key_id=AKIDTESTTESTTEST0001 --set aws_secret_access_key=x \
    --set partition_key=id --set partition_key_type=N --set flush_interval_ms=200 -i "$TEST_TMP/in" 2>"$TEST_TMP/err" &
pid=$!
exec 3>"$TEST_TMP/in"
echo '{"id": 1}' >&3
# The signals go once the write is held and the first one was taken in (a fixed second is not enough
# for a sink started under valgrind on a loaded machine).
for _ in $(seq 1 600); do [ -e "$TEST_TMP/held" ] && break; sleep 0.1; done
[ -e "$TEST_TMP/held" ] || fail "the sink never sent its write: $(cat "$TEST_TMP/err")"
kill -INT "$pid"
for _ in $(seq 1 600); do grep -q "interrupted: flushing" "$TEST_TMP/err" && break; sleep 0.1; done
grep -q "interrupted: flushing" "$TEST_TMP/err" || fail "SIGINT did not start a flush: $(cat "$TEST_TMP/err")"
sleep 1
kill -0 "$pid" 2>/dev/null || fail "sink exited after one signal although its flush cannot finish: $(cat "$TEST_TMP/err")"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
exec 3>&-
[ "$rc" = 130 ] || fail "second signal: exit $rc, want 130: $(cat "$TEST_TMP/err")"
grep -q "interrupted: flushing" "$TEST_TMP/err" || fail "no flushing note: $(cat "$TEST_TMP/err")"
grep -q "second signal, aborting" "$TEST_TMP/err" || fail "no abort note: $(cat "$TEST_TMP/err")"
echo "PASS: sink second signal aborts with 130"
