#!/usr/bin/env bash
# The sink CLI around the engine: file and stdin input, exit 1 with a
# dead-lettered record, --stats-file, SIGINT flushes and exits 0 while input
# is still open, --quiet prints nothing. (Second signal: tests/fault/test_cli_sink_signals.sh)
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
B=$DDBPIPE_BIN
EP=$(ddb_endpoint)
if ! "$B" sink --help >/dev/null 2>&1; then
    skip "sink not built"
fi
T=$(unique_table sink)
local_config "$TEST_TMP/c.yaml" "$EP" "$T" "partition_key: id" "partition_key_type: N"
run "$B" create-table -c "$TEST_TMP/c.yaml" -q
expect_rc 0 "create"

count_items() { # scan through the source CLI (snapshot)
    "$B" source -c "$TEST_TMP/c.yaml" -q --mode snapshot | grep -c '"op":"snapshot"' || true
}

# File input with one bad record: exit 1, dead-letter file, stats JSON.
printf '{"id": 1, "v": "a"}\n{"id": 2, "v": "b"}\n{"v": "no key"}\n{"id": 3, "v": "c"}' >"$TEST_TMP/in.jsonl"
run "$B" sink -c "$TEST_TMP/c.yaml" -i "$TEST_TMP/in.jsonl" --dead-letter "$TEST_TMP/dead.jsonl" \
    --stats-file "$TEST_TMP/stats.json"
expect_rc 1 "dead-lettered record"
expect_in "$ERR" "4 records in, 3 written" "summary"
expect_in "$ERR" "1 dead-lettered" "summary"
grep -q '"line":3' "$TEST_TMP/dead.jsonl" || fail "dead-letter file lacks line 3: $(cat "$TEST_TMP/dead.jsonl")"
# The stats file holds the run's counts: 4 in, 3 written, 1 dead-lettered, nothing left over.
/usr/bin/python3 - "$TEST_TMP/stats.json" <<'PY' || fail "stats file: $(cat "$TEST_TMP/stats.json")"
import json, sys
st = json.load(open(sys.argv[1]))
want = {"records_in": 4, "records_written": 3, "records_deleted": 0, "dead_lettered": 1, "failed_items": 0,
        "buffered_records": 0, "buffered_bytes": 0, "in_flight_requests": 0, "oversized_dropped": 0,
        "parse_errors": 1, "internal_errors": 0}
bad = {k: (st.get(k), v) for k, v in want.items() if st.get(k) != v}
if bad:
    sys.exit("stats (got, want): %s" % bad)
if st.get("write_chunks", 0) < 1:
    sys.exit("stats: write_chunks %s, want at least 1" % st.get("write_chunks"))
PY
[ "$(count_items)" = 3 ] || fail "want 3 items after file sink, got $(count_items)"

# stdin, quiet: nothing on stderr, exit 0.
run bash -c "printf '{\"id\": 4}\n\n{\"id\": 5}\n' | '$B' sink -c '$TEST_TMP/c.yaml' -q"
expect_rc 0 "stdin quiet"
[ -z "$ERR" ] || fail "--quiet printed: $ERR"
[ "$(count_items)" = 5 ] || fail "want 5 items after stdin sink, got $(count_items)"

# SIGINT while the input is still open: flush, exit 0, records written.
mkfifo "$TEST_TMP/fifo"
"$B" sink -c "$TEST_TMP/c.yaml" -i "$TEST_TMP/fifo" 2>"$TEST_TMP/sig.err" &
pid=$!
exec 3>"$TEST_TMP/fifo"
for i in $(seq 100 149); do echo "{\"id\": $i, \"v\": \"sig\"}" >&3; done
sleep 1
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
exec 3>&-
[ "$rc" = 0 ] || fail "SIGINT: exit $rc, want 0: $(cat "$TEST_TMP/sig.err")"
grep -q "interrupted" "$TEST_TMP/sig.err" || fail "SIGINT: no 'interrupted' note: $(cat "$TEST_TMP/sig.err")"
[ "$(count_items)" = 55 ] || fail "want 55 items after SIGINT, got $(count_items)"

echo "PASS: sink CLI"
