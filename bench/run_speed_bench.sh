#!/usr/bin/env bash
# Issue 17's figures, side by side in one run against bench/null_endpoint:
# `ddbpipe sink` with threads 1 and 2, the floor (bench/floor_client replaying
# the very request bodies ddbpipe sent) and the AWS SDK for JavaScript v3 peer
# (bench/peers/sdkv3_writer.mjs), alternating A B C D A B C D ... REPS times.
# Per run: whole-process wall time, user+sys CPU (/usr/bin/time), CPU per item,
# the endpoint's own CPU during the run (from /proc), peak RSS, and the
# endpoint's item count checked against the input (exit 1 on a mismatch).
# Then medians. Prints the load average before and after. Not a test.
#   bench/run_speed_bench.sh [RECORDS=1000000] [REPS=3]
# Env: BENCH_PEERS=0 leaves the SDK out; BENCH_PIN=1 pins the endpoint to CPU 1
# and the writers to CPU 0 (the endpoint then never competes with the writer).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
REPS=${2:-3}
B=${DDBPIPE_BUILD_DIR:-build}
PEERS=${BENCH_PEERS:-1}
PIN=${BENCH_PIN:-0}
export AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
ne_pid=
cleanup() { [ -n "$ne_pid" ] && kill "$ne_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
tck=$(getconf CLK_TCK)
wpin=()
[ "$PIN" = 1 ] && wpin=(taskset -c 0)

[ "$PEERS" = 0 ] || [ -d bench/peers/node_modules/@aws-sdk/client-dynamodb ] ||
  npm install --prefix bench/peers --no-audit --no-fund >/dev/null 2>&1
"$B/gen_records" "$N" > "$work/records.jsonl"
echo "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $N records, $(( $(stat -c %s "$work/records.jsonl") / N )) bytes each on average"

start_null() { # $@: extra flags
  rm -f "$work/ne.out"
  if [ "$PIN" = 1 ]; then
    taskset -c 1 "$B/null_endpoint" "$@" > "$work/ne.out" 2>"$work/ne.err" &
  else
    "$B/null_endpoint" "$@" > "$work/ne.out" 2>"$work/ne.err" &
  fi
  ne_pid=$!
  for _ in $(seq 50); do grep -q PORT "$work/ne.out" 2>/dev/null && break; sleep 0.1; done
  port=$(awk '/PORT/{print $2}' "$work/ne.out")
  ep="http://127.0.0.1:$port"
}
stop_null() { kill "$ne_pid" 2>/dev/null || true; wait "$ne_pid" 2>/dev/null || true; ne_pid=; }
ne_items() { /usr/bin/python3 -c "import json,sys,urllib.request as u; print(json.load(u.urlopen(sys.argv[1] + '/__stats'))['items'])" "$ep"; }
ne_cpu() { awk -v t="$tck" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); printf "%.2f", (f[12] + f[13]) / t }' "/proc/$ne_pid/stat"; }
conf() { # $1 threads
  cat > "$work/sink$1.yaml" <<YAML
table: bench
region: us-east-1
endpoint_url: $ep
aws_access_key_id: bench
aws_secret_access_key: bench-secret
partition_key: id
max_concurrent_requests: 64
threads: $1
YAML
}

# 1. capture the request bodies ddbpipe sends (one unmeasured run)
start_null --dump "$work/bodies.txt"
conf 1
"$B/ddbpipe" sink -c "$work/sink1.yaml" -i "$work/records.jsonl" --quiet
stop_null
echo "captured $(wc -l < "$work/bodies.txt") request bodies for the floor"

# 2. the contenders, alternating
start_null
conf 1
conf 2
results="$work/results.jsonl"
: > "$results"
one() { # $1 label, then the command
  local label=$1 before e0 e1 el u s rss
  shift
  before=$(ne_items)
  e0=$(ne_cpu)
  "${wpin[@]}" /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" > "$work/out" 2>"$work/err" || {
    cat "$work/err" >&2
    exit 1
  }
  e1=$(ne_cpu)
  got=$(( $(ne_items) - before ))
  if [ "$got" -ne "$N" ]; then
    echo "COUNT MISMATCH: $label: the endpoint counted $got items, the input has $N" >&2
    exit 1
  fi
  read -r el u s rss < "$work/time"
  /usr/bin/python3 - "$label" "$N" "$el" "$u" "$s" "$rss" "$e0" "$e1" "$(cut -d' ' -f1 /proc/loadavg)" "$work/out" >> "$results" <<'PY'
import json, sys
label, n, el, u, s, rss, e0, e1, load, out = sys.argv[1:]
n, el, cpu = int(n), float(el), float(u) + float(s)
r = {"writer": label, "items": n, "seconds": el, "items_per_s": round(n / el), "cpu_s": round(cpu, 2),
     "cpu_us_per_item": round(cpu * 1e6 / n, 3), "endpoint_cpu_s": round(float(e1) - float(e0), 2),
     "peak_rss_mib": round(int(rss) / 1024, 1), "load1": float(load)}
if label == "floor":  # its own send-phase figures (file reading left out)
    f = json.loads(open(out).read().strip().splitlines()[-1])
    r.update({"floor_send_cpu_us_per_item": f["cpu_us_per_item"],
              "floor_sign_cpu_us_per_item": f["sign_cpu_us_per_item"]})
print(json.dumps(r))
PY
  tail -1 "$results"
}
for rep in $(seq "$REPS"); do
  one "ddbpipe threads=1" "$B/ddbpipe" sink -c "$work/sink1.yaml" -i "$work/records.jsonl" --quiet
  one "ddbpipe threads=2" "$B/ddbpipe" sink -c "$work/sink2.yaml" -i "$work/records.jsonl" --quiet
  one "floor" "$B/floor_client" 127.0.0.1 "$port" "$work/bodies.txt" 64
  [ "$PEERS" = 0 ] || one "sdkv3" node bench/peers/sdkv3_writer.mjs "$ep" bench "$work/records.jsonl" 64
done
stop_null
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== medians ($REPS runs each) =="
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for w in dict.fromkeys(r["writer"] for r in rows):
    rs = [r for r in rows if r["writer"] == w]
    m = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
    med[w] = m
    print(json.dumps({"writer": w, **{k: round(v, 3) for k, v in m.items()}}))
if "sdkv3" in med:
    best = max((w for w in med if w.startswith("ddbpipe")), key=lambda w: med[w]["items_per_s"])
    print(f"best ddbpipe ({best}) vs SDK v3, items/s: {med[best]['items_per_s'] / med['sdkv3']['items_per_s']:.1f}x")
if "floor" in med:
    d, f = med["ddbpipe threads=1"]["cpu_us_per_item"], med["floor"]
    print(f"threads=1: {d:.2f} us CPU per item (whole process: start, reading and parsing the file, exit); "
          f"floor: {f['floor_send_cpu_us_per_item']:.2f} us per item to send the same requests "
          f"(of which hashing/signing {f['floor_sign_cpu_us_per_item']:.2f} us); "
          f"distance {d - f['floor_send_cpu_us_per_item']:.2f} us, {d / f['floor_send_cpu_us_per_item']:.1f}x")
PY
