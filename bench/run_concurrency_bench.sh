#!/usr/bin/env bash
# max_concurrent_requests benchmark (issue 10): does a higher setting really keep more DynamoDB calls
# in flight? ddbpipe sink against bench/null_endpoint answering after a fixed latency; the endpoint
# reports how many calls were open at one moment (max_open_calls) and counts every item.
#   bench/run_concurrency_bench.sh [RECORDS_20MS=200000] [REPS=3] [RECORDS_100MS=40000]
#   1. 20 ms latency, max_concurrent_requests 64, 128, 256 (order alternates per rep):
#      bound n x 25 items / 20 ms; goal >= 90% of it for 64 and 128, 256 clearly faster than 128.
#   2. 100 ms latency, 64 vs 256 on RECORDS_100MS records: goal 200+ calls open at once with 256
#      and >= 2.5x faster than 64.
# Prints one JSON line per run (with ddbpipe's CPU seconds, user + system), then medians and the goals' verdicts. Not a test: figures depend on
# the machine (docs/benchmarks.md has a run). BENCH_SPIN=0 lets the endpoint sleep between answers.
# BENCH_FLOOR=1 (default) also runs bench/floor_client (the same request bodies over raw sockets, signing
# only) right after each 20 ms run with the same number in flight: what this machine allows at that
# moment, so a shortfall can be told apart as ddbpipe's (floor near the bound, ddbpipe not) or the
# machine's (the floor falls short too).
set -euo pipefail
cd "$(dirname "$0")/.."
N20=${1:-200000}
REPS=${2:-3}
N100=${3:-40000}
B=${DDBPIPE_BUILD_DIR:-build}
SPIN=${BENCH_SPIN:-1}
FLOOR=${BENCH_FLOOR:-1}
export AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/gen_records" "$N20" >"$work/r20.jsonl"
"$B/gen_records" "$N100" >"$work/r100.jsonl"

start_null() { # $1 latency ms [more null_endpoint flags]
  rm -f "$work/ne.out"
  local flags="${*:2}"
  [ "$SPIN" = 1 ] && flags="$flags --spin"
  # shellcheck disable=SC2086
  "$B/null_endpoint" --latency-ms "$1" $flags >"$work/ne.out" 2>"$work/ne.err" &
  pids+=($!)
  for _ in $(seq 50); do grep -q PORT "$work/ne.out" 2>/dev/null && break; sleep 0.1; done
  ep="http://127.0.0.1:$(awk '/PORT/{print $2}' "$work/ne.out")"
}
stop_null() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }
ne_stats() { /usr/bin/python3 -c "import sys,urllib.request as u; print(u.urlopen(sys.argv[1] + '/__stats').read().decode())" "$ep"; }

run() { # $1 case label, $2 in flight, $3 records file; prints a JSON line (and appends it to $work/runs)
  local before after t0 t1 n
  cat >"$work/sink.yaml" <<YAML
table: bench
region: us-east-1
endpoint_url: $ep
aws_access_key_id: bench
aws_secret_access_key: bench-secret
partition_key: id
max_concurrent_requests: $2
YAML
  n=$(wc -l <"$3")
  before=$(ne_stats) # also resets the endpoint's max_open_calls
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$B/ddbpipe" sink -c "$work/sink.yaml" -i "$3" --quiet
  t1=$(date +%s.%N)
  after=$(ne_stats)
  /usr/bin/python3 - "$1" "$2" "$n" "$t0" "$t1" "$before" "$after" "$(cat "$work/cpu")" <<'PY' | tee -a "$work/runs"
import json, sys
case, inflight, n, t0, t1, before, after, cpu = sys.argv[1:]
b, a = json.loads(before), json.loads(after)
items = a["items"] - b["items"]
if items != int(n):
    sys.exit("COUNT MISMATCH: %s n=%s: the endpoint counted %d items, the input has %s" % (case, inflight, items, n))
s = float(t1) - float(t0)
print(json.dumps({"case": case, "max_concurrent_requests": int(inflight), "items": items, "seconds": round(s, 3),
                  "items_per_s": round(items / s), "max_open_calls": a["max_open_calls"],
                  "cpu_s": round(sum(float(x) for x in cpu.split()), 3)}))
PY
}

floor() { # $1 in flight: the floor client on the captured bodies, a JSON line like run's
  local before after
  before=$(ne_stats)
  "$B/floor_client" 127.0.0.1 "${ep##*:}" "$work/bodies.txt" "$1" >"$work/floor.out"
  after=$(ne_stats)
  /usr/bin/python3 - "$1" "$(tail -1 "$work/floor.out")" "$after" <<'PY' | tee -a "$work/runs"
import json, sys
f, a = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(json.dumps({"case": "20ms-floor", "max_concurrent_requests": int(sys.argv[1]), "items": f["items"],
                  "seconds": f["seconds"], "items_per_s": round(f["items_per_s"]),
                  "max_open_calls": a["max_open_calls"], "cpu_s": f["cpu_s"]}))
PY
}

if [ "$FLOOR" = 1 ]; then # capture the request bodies ddbpipe sends, for the floor client
  start_null 0 --dump "$work/bodies.txt"
  run "capture" 64 "$work/r20.jsonl" >/dev/null
  stop_null
  sed -i '/"case": "capture"/d' "$work/runs"
  echo "captured $(wc -l <"$work/bodies.txt") request bodies for the floor client"
fi

echo "== 1: 20 ms latency, $N20 records, max_concurrent_requests 64 / 128 / 256, $REPS reps =="
start_null 20
for rep in $(seq "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order="64 128 256"; else order="256 128 64"; fi
  for n in $order; do
    run "20ms" "$n" "$work/r20.jsonl"
    [ "$FLOOR" = 1 ] && floor "$n"
  done
done
echo "load average after the 20 ms runs: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_null

echo "== 2: 100 ms latency, $N100 records, 64 vs 256, $REPS reps =="
start_null 100
for rep in $(seq "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order="64 256"; else order="256 64"; fi
  for n in $order; do run "100ms" "$n" "$work/r100.jsonl"; done
done
stop_null

/usr/bin/python3 - "$work/runs" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(case, n, key):
    return statistics.median(r[key] for r in runs if r["case"] == case and r["max_concurrent_requests"] == n)
print("== medians ==")
ok = True
for n in (64, 128, 256):
    rate, bound = med("20ms", n, "items_per_s"), n * 25 / 0.020
    print("20 ms, %3d in flight: %7d items/s (%.0f%% of %d), max open calls %d" %
          (n, rate, 100 * rate / bound, bound, med("20ms", n, "max_open_calls")))
floors = [r for r in runs if r["case"] == "20ms-floor"]
for n in (64, 128, 256) if floors else ():
    rate, bound = med("20ms-floor", n, "items_per_s"), n * 25 / 0.020
    print("20 ms, %3d in flight, floor client: %7d items/s (%.0f%% of the bound); ddbpipe/floor %.2f" %
          (n, rate, 100 * rate / bound, med("20ms", n, "items_per_s") / rate))
for n in (64, 128):
    good = med("20ms", n, "items_per_s") >= 0.9 * n * 25 / 0.020
    ok &= good
    print("goal: %d in flight >= 90%% of the bound: %s" % (n, "yes" if good else "NO"))
faster = med("20ms", 256, "items_per_s") / med("20ms", 128, "items_per_s")
ok &= faster > 1.2
print("goal: 256 clearly faster than 128: %.2fx %s" % (faster, "yes" if faster > 1.2 else "NO"))
s64, s256 = med("100ms", 64, "seconds"), med("100ms", 256, "seconds")
open256 = med("100ms", 256, "max_open_calls")
print("100 ms: 64 in flight %.3f s, 256 in flight %.3f s (%.2fx), max open calls %d / %d" %
      (s64, s256, s64 / s256, med("100ms", 64, "max_open_calls"), open256))
ok &= open256 >= 200 and s64 / s256 >= 2.5
print("goal: 256 has 200+ calls open: %s; >= 2.5x faster than 64: %s" %
      ("yes" if open256 >= 200 else "NO", "yes" if s64 / s256 >= 2.5 else "NO"))
print("all goals met" if ok else "SOME GOALS MISSED")
PY
