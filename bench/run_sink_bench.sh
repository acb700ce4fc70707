#!/usr/bin/env bash
# Sink benchmark: ddbpipe vs the AWS SDK for JavaScript v3 vs boto3's
# batch_writer, side by side in one run, against bench/null_endpoint (a local
# endpoint that answers instantly and counts items). Prints figures; not a test.
# Every run's item count is checked against the endpoint's own counter
# (GET /__stats before and after): a writer that did not deliver exactly the
# input's records stops the script with exit 1, so no figure comes from a short run.
#   bench/run_sink_bench.sh [RECORDS=1000000] [BIG_RECORDS=10000000]
# Env: BENCH_PEERS=0 runs ddbpipe only (no node/boto3 peers; a quick self-check).
# Needs: a build in build/ (make build), node + npm (peers are installed into
# bench/peers/node_modules), /usr/bin/python3 with boto3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BIG=${2:-10000000}
B=${DDBPIPE_BUILD_DIR:-build}
PEERS=${BENCH_PEERS:-1}
export AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

[ "$PEERS" = 0 ] || [ -d bench/peers/node_modules/@aws-sdk/client-dynamodb ] || npm install --prefix bench/peers --no-audit --no-fund >/dev/null 2>&1
"$B/gen_records" "$N" > "$work/records.jsonl"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $N records, $(( $(stat -c %s "$work/records.jsonl") / N )) bytes each on average"

start_null() { # $1 = latency ms, $2 = extra flags (--spin); sets $ep (not in a subshell, so pids is kept)
  rm -f "$work/ne.out"
  # shellcheck disable=SC2086
  "$B/null_endpoint" --latency-ms "$1" ${2:-} > "$work/ne.out" 2>"$work/ne.err" &
  pids+=($!)
  for _ in $(seq 50); do grep -q PORT "$work/ne.out" 2>/dev/null && break; sleep 0.1; done
  ep="http://127.0.0.1:$(awk '/PORT/{print $2}' "$work/ne.out")"
}
ne_items() { # items the running null endpoint has counted so far
  /usr/bin/python3 -c "import json,sys,urllib.request as u; print(json.load(u.urlopen(sys.argv[1] + '/__stats'))['items'])" "$ep"
}
count_ok() { # $1 label, $2 items wanted, $3 the endpoint's count before the run
  local got=$(( $(ne_items) - $3 ))
  if [ "$got" -ne "$2" ]; then
    echo "COUNT MISMATCH: $1: the endpoint counted $got items, the input has $2" >&2
    exit 1
  fi
  echo "count check: $1: the endpoint counted $got items (input $2)"
}
counted() { # $1 label, $2 items wanted, then the command (a peer times itself): runs it, checks the count
  local label=$1 want=$2 before
  shift 2
  before=$(ne_items)
  "$@"
  count_ok "$label" "$want" "$before"
}
peer_sdkv3() { [ "$PEERS" = 0 ] || counted "sdkv3 $1" "$N" node bench/peers/sdkv3_writer.mjs "$ep" bench "$work/records.jsonl" 64 2>/dev/null; }
peer_boto3() { [ "$PEERS" = 0 ] || counted "boto3 $1" "$N" /usr/bin/python3 bench/peers/boto3_writer.py "$ep" bench "$work/records.jsonl"; }
stop_null() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

conf() { # $1 endpoint, $2 inflight, $3 threads (default 1)
  cat > "$work/sink.yaml" <<YAML
table: bench
region: us-east-1
endpoint_url: $1
aws_access_key_id: bench
aws_secret_access_key: bench-secret
partition_key: id
max_concurrent_requests: $2
threads: ${3:-1}
YAML
}

run_ddbpipe() { # $1 label, $2 file
  local t0 t1 rss before
  before=$(ne_items) # outside the timing
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$B/ddbpipe" sink -c "$work/sink.yaml" -i "$2" --quiet
  t1=$(date +%s.%N)
  count_ok "ddbpipe $1" "$(wc -l < "$2")" "$before"
  rss=$(cat "$work/rss")
  local n; n=$(wc -l < "$2")
  python3 -c "import json;s=$t1-$t0;print(json.dumps({'peer':'ddbpipe','case':'$1','items':$n,'seconds':round(s,3),'items_per_s':round($n/s),'peak_rss_mib':round($rss/1024,1)}))"
}

echo "== 1: no injected latency, 64 in flight =="
start_null 0
conf "$ep" 64
run_ddbpipe "null-endpoint threads=1" "$work/records.jsonl"
conf "$ep" 64 2
run_ddbpipe "null-endpoint threads=2" "$work/records.jsonl"
peer_sdkv3 "no latency"
peer_boto3 "no latency"
stop_null

echo "== 2: 10 ms injected latency, 64 in flight (bound: 64 x 25 / 10 ms = 160000 items/s) =="
# --spin: the endpoint polls instead of sleeping while answers are pending. On
# loopback a client's send() wakes a sleeping server and the scheduler's work is
# charged to the client; a remote endpoint costs the client no such wake-up.
# Case 2b below is the same without --spin.
start_null 10 --spin
conf "$ep" 64
for rep in 1 2 3; do run_ddbpipe "latency-10ms threads=1 rep$rep" "$work/records.jsonl"; done
conf "$ep" 32 2
run_ddbpipe "latency-10ms threads=2 (32 a worker)" "$work/records.jsonl"
peer_sdkv3 "latency-10ms"
stop_null
echo "== 2b: the same, endpoint sleeping between answers (no --spin) =="
start_null 10
conf "$ep" 64
for rep in 1 2 3; do run_ddbpipe "latency-10ms-nospin threads=1 rep$rep" "$work/records.jsonl"; done
peer_sdkv3 "latency-10ms-nospin"
stop_null

echo "== 3: peak RSS for $BIG records (no latency) =="
"$B/gen_records" "$BIG" > "$work/big.jsonl"
start_null 0
conf "$ep" 64
run_ddbpipe "rss-$BIG" "$work/big.jsonl"
stop_null
