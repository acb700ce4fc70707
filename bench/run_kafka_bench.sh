#!/usr/bin/env bash
# Kafka sink benchmark: N records through librdkafka's mock cluster -> `ddbpipe sink --kafka` -> the
# null endpoint, against the same records from a file (`ddbpipe sink -i`), alternated A B A B (medians),
# with what the cluster delivers to consumers that write nothing: bench/kafka_drain, librdkafka's C
# consumer alone ("drain-c": the ceiling of any ddbpipe Kafka figure on this machine at that moment),
# and a bare confluent_kafka consumer ("drain", Python's own per-message cost included),
# and a peer built from common parts (confluent_kafka consumer + boto3 batch_writer) on PEER_N records.
# Prints figures; not a test.
#   bench/run_kafka_bench.sh [N=1000000] [PEER_N=100000] [ROUNDS=2]
# Needs: a build in build/ (kafka_mock_cluster, kafka_drain, null_endpoint, gen_records), /usr/bin/python3 with
# confluent_kafka and boto3. The Kafka rate is counted from the partition assignment (the group join
# is reported apart) to the moment the group's committed offsets reach the end offsets.
# KAFKA_BENCH_EXTRA: more lines for the kafka: map of the sink's configuration (indented two spaces),
# e.g. KAFKA_BENCH_EXTRA='  fetch.wait.max.ms: 10'.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
PEER_N=${2:-100000}
ROUNDS=${3:-2}
PARTS=${KAFKA_BENCH_PARTITIONS:-64} # the mock keeps ~5 MiB a partition
B=${DDBPIPE_BUILD_DIR:-build}
export AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
pids=()
cleanup() {
  exec 9>&- 2>/dev/null || true
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$B/gen_records" "$N" > "$work/records.jsonl"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $N records, $(( $(stat -c %s "$work/records.jsonl") / N )) bytes each on average; $PARTS partitions"

"$B/null_endpoint" --latency-ms 0 > "$work/ne.out" 2>"$work/ne.err" &
pids+=($!)
for _ in $(seq 50); do grep -q PORT "$work/ne.out" 2>/dev/null && break; sleep 0.1; done
ep="http://127.0.0.1:$(awk '/PORT/{print $2}' "$work/ne.out")"

mkfifo "$work/mock.in"
"$B/kafka_mock_cluster" --brokers 3 --topic "bench:$PARTS" < "$work/mock.in" > "$work/mock.out" &
pids+=($!)
mockpid=$!
# CPU seconds (user + system) the mock cluster used so far: it shares the cores with ddbpipe
mock_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$mockpid/stat"; }
exec 9>"$work/mock.in" # the cluster serves until this closes
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.1; done
bs=$(head -1 "$work/mock.out")
t0=$(date +%s.%N)
echo "produce: $(/usr/bin/python3 bench/kafka_produce.py "$bs" bench "$PARTS" "$work/records.jsonl") in $(python3 -c "print(round($(date +%s.%N)-$t0,1))") s"

conf() { # $1 group
  cat > "$work/sink.yaml" <<YAML
table: bench
region: us-east-1
endpoint_url: $ep
aws_access_key_id: bench
aws_secret_access_key: bench-secret
partition_key: id
max_concurrent_requests: 64
kafka_topics: [bench]
kafka_commit_interval_ms: 100
kafka:
  bootstrap.servers: "$bs"
  group.id: $1
${KAFKA_BENCH_EXTRA:-}
YAML
}

run_file() {
  conf unused
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$B/ddbpipe" sink -c "$work/sink.yaml" -i "$work/records.jsonl" --quiet
  t1=$(date +%s.%N)
  python3 -c "import json;s=$t1-$t0;u,y=map(float,open('$work/cpu').read().split()[-2:]);print(json.dumps({'case':'file','items':$N,'seconds':round(s,3),'items_per_s':round($N/s),'cpu_us_per_item':round((u+y)*1e6/$N,2)}))"
}

run_kafka() { # $1 round
  local g="bench-$1-$RANDOM"
  conf "$g"
  local t0; t0=$(date +%s.%N)
  local m0; m0=$(mock_cpu)
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$B/ddbpipe" sink -c "$work/sink.yaml" --kafka -v 2> "$work/k.err" &
  local p=$!
  /usr/bin/python3 - "$bs" "$g" "$PARTS" "$N" "$t0" "$work/k.err" <<'PY'
import json, re, sys, time, datetime
from confluent_kafka import Consumer, TopicPartition
bs, g, parts, n, t0, errf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
c = Consumer({"bootstrap.servers": bs, "group.id": g, "enable.auto.commit": False})
tps = [TopicPartition("bench", i) for i in range(parts)]
while True:
    got = sum(max(0, tp.offset) for tp in c.committed(tps, timeout=10))
    if got >= n:
        break
    time.sleep(0.05)
t_end = time.time()
c.close()
assigned = None
for line in open(errf):
    m = re.match(r"(\S+) ddbpipe info: kafka: assigned", line)
    if m:
        assigned = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        break
s = t_end - (assigned or t0)
print(json.dumps({"case": "kafka", "items": n, "seconds": round(s, 3), "items_per_s": round(n / s),
                  "group_join_s": round((assigned or t0) - t0, 2)}))
PY
  # SIGTERM to ddbpipe (the child of time), then its CPU time
  pkill -TERM -P "$p" || true; wait "$p" || true
  local m1; m1=$(mock_cpu)
  local wait; wait=$(sed -n 's/.*kafka: waited \([0-9]*\) ms for messages; \([0-9]*\) fetch.*/\1, "fetch_wakeups": \2/p' "$work/k.err")
  python3 -c "import json;u,y=map(float,open('$work/cpu').read().split()[-2:]);print(json.dumps({'case':'kafka-cpu','cpu_us_per_item':round((u+y)*1e6/$N,2),'mock_cluster_cpu_s':round($m1-$m0,2),'message_wait_ms':${wait:-None}}))"
}

run_drain() { # what the cluster delivers to a bare consumer that writes nothing (the ceiling for Kafka here)
  /usr/bin/python3 - "$bs" "drain-$1-$RANDOM" "$N" <<'PY'
import json, sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "auto.offset.reset": "earliest",
              "enable.auto.commit": False})
c.subscribe(["bench"])
n, want, t0 = 0, int(sys.argv[3]), None
while n < want:
    ms = c.consume(10000, 1.0)
    if ms and t0 is None:
        t0 = time.time()
    n += sum(1 for m in ms if not m.error())
s = time.time() - t0
c.close()
print(json.dumps({"case": "drain", "items": n, "seconds": round(s, 3), "items_per_s": round(n / s)}))
PY
}

run_drain_c() { # librdkafka's C consumer alone, same defaults as ddbpipe's consumer
  "$B/kafka_drain" "$bs" bench "$N"
}

results="$work/results.jsonl"
for r in $(seq "$ROUNDS"); do
  run_kafka "$r" | tee -a "$results"
  run_file | tee -a "$results"
  run_drain_c | tee -a "$results"
  run_drain "$r" | tee -a "$results"
done
t0=$(date +%s.%N)
/usr/bin/python3 bench/peers/kafka_boto3_writer.py "$bs" bench "peer-$RANDOM" "$ep" bench "$PEER_N" | tee -a "$results"
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda case: statistics.median(r["items_per_s"] for r in rows if r.get("case") == case)
k, f = med("kafka"), med("file")
peer = [r for r in rows if r.get("peer")][0]["items_per_s"]
cpu = lambda case: statistics.median(r["cpu_us_per_item"] for r in rows if r.get("case") == case)
d = med("drain")
dc = med("drain-c")
print(json.dumps({"median_kafka_items_per_s": k, "median_file_items_per_s": f, "kafka_vs_file": round(k / f, 2),
                  "median_drain_c_items_per_s": dc, "file_0.8_vs_drain_c": round(0.8 * f / dc, 2),
                  "median_drain_items_per_s": d, "kafka_vs_drain": round(k / d, 2),
                  "peer_items_per_s": peer, "kafka_vs_peer": round(k / peer, 1),
                  "ddbpipe_cpu_us_per_item_kafka": cpu("kafka-cpu"), "ddbpipe_cpu_us_per_item_file": cpu("file")}))
PY
