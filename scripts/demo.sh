#!/usr/bin/env bash
# `make demo`: start DynamoDB Local on a free loopback port, run a pipeline
# through the ddbpipe CLI, show what happened, stop the server.
#   scripts/demo.sh [path/to/ddbpipe]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/ddbpipe}
[ -x "$BIN" ] || { echo "demo: $BIN not built (run make build)" >&2; exit 1; }
CONFIG=docs/examples/local.yaml
CHANGES=docs/examples/changes.jsonl

work=$(mktemp -d "${TMPDIR:-/tmp}/ddbpipe-demo.XXXXXX")
cleanup() {
    scripts/ddblocal.sh stop "$work/endpoint" || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -t 1 ]; then B1=$'\033[1m' B0=$'\033[0m'; else B1='' B0=''; fi
step() { printf '\n%s== %s%s\n' "$B1" "$*" "$B0"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Starting DynamoDB Local (in memory, free loopback port)"
DDBPIPE_DDBLOCAL_OWNER_PID=$$ scripts/ddblocal.sh start "$work/endpoint"
EP=$(cat "$work/endpoint")
D=("$BIN")
C=(-c "$CONFIG" --set "endpoint_url=$EP")

step "Create the table from $CONFIG (waits for ACTIVE)"
show "${D[@]}" create-table "${C[@]}"
step "Run it again: idempotent"
show "${D[@]}" create-table "${C[@]}"
step "Check config, credentials, endpoint and key schema"
show "${D[@]}" check "${C[@]}"
step "A config with another key schema is refused (exit 3)"
rc=0
show "${D[@]}" check "${C[@]}" --set partition_key=id --set sort_key_type=N || rc=$?
echo "(exit $rc)"
step "Tables at $EP"
show "${D[@]}" list-tables "${C[@]}"

# The pipeline grows as the sink and source land: use them when built.
sink_built=0
if "$BIN" sink --help >/dev/null 2>&1; then
    rc=0
    "$BIN" sink "${C[@]}" -q -i /dev/null 2>"$work/probe.err" || rc=$?
    if [ "$rc" -ne 2 ]; then
        sink_built=1
    else
        echo
        echo "(sink not available in this build: $(head -n1 "$work/probe.err"))"
    fi
fi
if [ "$sink_built" = 1 ]; then
    step "Sink a change stream ($CHANGES: upserts, Feldera insert/delete, Debezium, one bad record)"
    cat "$CHANGES"
    rc=0
    show "${D[@]}" sink "${C[@]}" -i "$CHANGES" --dead-letter "$work/dead.jsonl" --stats-file "$work/stats.json" || rc=$?
    echo "(exit $rc: 0 = all written, 1 = finished with dead-lettered records)"
    if [ -s "$work/dead.jsonl" ]; then
        step "Dead-letter file (original line + reason)"
        cat "$work/dead.jsonl"
    fi
    if "$BIN" source --help >/dev/null 2>&1; then
        step "Read the table back (snapshot)"
        rc=0
        show "${D[@]}" source "${C[@]}" --mode snapshot --format json || rc=$?
        [ "$rc" -eq 0 ] || echo "(source exit $rc)"
        step "Read the change feed (DynamoDB Streams, from the start, until caught up)"
        rc=0
        show "${D[@]}" source "${C[@]}" --mode stream --from trim_horizon --until-caught-up || rc=$?
        [ "$rc" -eq 0 ] || echo "(source exit $rc)"
        # Through Kafka: needs the test cluster (tests/tools/kafka_mock_cluster, next to a build's
        # ddbpipe) and an independent client to watch the group's offsets.
        MOCK="$(dirname "$BIN")/kafka_mock_cluster"
        if [ -x "$MOCK" ] && /usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null; then
            step "Through Kafka: source -> a Kafka cluster (librdkafka's mock, 3 brokers) -> sink into demo_events_copy"
            mkfifo "$work/mock.in"
            "$MOCK" --brokers 3 --topic demo_changes:4 <"$work/mock.in" >"$work/mock.out" &
            exec 8>"$work/mock.in" # the cluster serves until this closes
            for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.1; done
            BS=$(head -n1 "$work/mock.out")
            K=(--set "kafka.bootstrap.servers=$BS")
            CP=(-c "$CONFIG" --set "endpoint_url=$EP" --set table=demo_events_copy)
            show "${D[@]}" create-table "${CP[@]}"
            rc=0
            show "${D[@]}" source "${C[@]}" --kafka "${K[@]}" --set kafka_topic=demo_changes --format dynamodb \
                --mode snapshot || rc=$?
            [ "$rc" -eq 0 ] || echo "(source exit $rc)"
            echo "$ ${D[*]} sink ${CP[*]} --kafka ${K[*]} --set kafka_topics=demo_changes --set kafka.group.id=demo &"
            "${D[@]}" sink "${CP[@]}" --kafka "${K[@]}" --set kafka_topics=demo_changes --set kafka.group.id=demo \
                --set kafka_commit_interval_ms=200 &
            sink_pid=$!
            # wait until the group has committed every message, then stop the sink (SIGTERM: flush, commit, exit)
            /usr/bin/python3 - "$BS" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "demo", "enable.auto.commit": False})
tps = [TopicPartition("demo_changes", p) for p in range(4)]
end = [c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
deadline = time.time() + 60
while time.time() < deadline:
    got = [tp.offset for tp in c.committed(tps, timeout=10)]
    if all(e == 0 or g >= e for g, e in zip(got, end)):
        print("committed offsets %s == end offsets" % got)
        break
    time.sleep(0.2)
c.close()
PY
            kill -TERM "$sink_pid"
            rc=0
            wait "$sink_pid" || rc=$?
            echo "(sink exit $rc)"
            exec 8>&-
            step "The copy, read back"
            rc=0
            show "${D[@]}" source "${CP[@]}" --mode snapshot --format json || rc=$?
            [ "$rc" -eq 0 ] || echo "(source exit $rc)"
        fi
    fi
fi
step "Done: stopping DynamoDB Local"
