#!/usr/bin/env bash
# Source benchmark against DynamoDB Local (scripts/ddblocal.sh starts our own
# instance and stops it at exit). Prints figures; not a test.
#   bench/run_source_bench.sh [ITEMS=100000] [LAG_RATE=50] [LAG_SECONDS=60] [REPS=2]
# 1. Snapshot: N ~250-byte items loaded with `ddbpipe sink`, then
#    `ddbpipe source --mode snapshot --segments 4 -o FILE` (json and
#    dynamodb formats) versus a boto3 parallel Scan (bench/peers/boto3_scan.py,
#    4 segments). Rows/s, client CPU per row (user+sys, /usr/bin/time) and the
#    CPU DynamoDB Local's JVM burned meanwhile (both clients are bounded by it).
# 2. Change-feed lag: bench/source_lag.py with default polling on a fresh table.
# Counts are checked, or the script stops with exit 1: the loaded table holds N
# items (a COUNT Scan of the endpoint), every snapshot read delivered N rows,
# and the lag run received every written event (source_lag.py exits 1 otherwise).
# Needs: a build in build/ (or DDBPIPE_BUILD_DIR), java + DynamoDB Local (see
# scripts/ddblocal.sh), /usr/bin/python3 with boto3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RATE=${2:-50}
LAG_S=${3:-60}
REPS=${4:-2}
B=${DDBPIPE_BUILD_DIR:-build}
PY=/usr/bin/python3
work=$(mktemp -d)
cleanup() { scripts/ddblocal.sh stop "$work/ep" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DDBPIPE_DDBLOCAL_OWNER_PID=$$ scripts/ddblocal.sh start "$work/ep" >/dev/null
ep=$(cat "$work/ep")
java_pid=$(cat "$work/ep.pid")
tck=$(getconf CLK_TCK)
echo "DynamoDB Local at $ep; $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

conf() { # $1 table, $2 extra yaml line
  cat > "$work/$1.yaml" <<YAML
table: $1
region: us-east-1
endpoint_url: $ep
aws_access_key_id: bench
aws_secret_access_key: bench-secret
partition_key: id
partition_key_type: S
$2
YAML
}
java_cpu_s() { # utime+stime of the JVM, seconds
  awk -v t="$tck" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); printf "%.2f", (f[12] + f[13]) / t }' "/proc/$java_pid/stat"
}
check_count() { # $1 label, $2 counted, $3 wanted
  if [ "$2" -ne "$3" ]; then
    echo "COUNT MISMATCH: $1: $2, want $3" >&2
    exit 1
  fi
  echo "count check: $1: $2 (want $3)"
}
endpoint_count() { # $1 table: items in it, by a COUNT Scan of the endpoint
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret $PY -c "
import sys, boto3
c = boto3.client('dynamodb', endpoint_url=sys.argv[1], region_name='us-east-1')
n, kw = 0, {}
while True:
    r = c.scan(TableName=sys.argv[2], Select='COUNT', **kw)
    n += r['Count']
    if 'LastEvaluatedKey' not in r:
        break
    kw['ExclusiveStartKey'] = r['LastEvaluatedKey']
print(n)" "$ep" "$1"
}
json_get() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }

# ---------------------------------------------------------------- snapshot
echo "== 1: snapshot of $N items =="
conf srcbench ""
"$B/ddbpipe" create-table -c "$work/srcbench.yaml" -q
"$B/gen_records" "$N" > "$work/records.jsonl"
echo "input: $N records, $(( $(stat -c %s "$work/records.jsonl") / N )) bytes each on average"
t0=$(date +%s.%N)
"$B/ddbpipe" sink -c "$work/srcbench.yaml" -i "$work/records.jsonl" -q
t1=$(date +%s.%N)
echo "loaded with ddbpipe sink in $($PY -c "print(round($t1-$t0,1))") s"
check_count "items in the loaded table" "$(endpoint_count srcbench)" "$N"
# Warm DynamoDB Local's JIT with one unmeasured scan so the first measured
# tool is not penalised.
"$B/ddbpipe" source -c "$work/srcbench.yaml" --mode snapshot --segments 4 -o /dev/null -q

results=()
run_ddbpipe() { # $1 format, $2 rep
  local j0 j1 e u s n
  j0=$(java_cpu_s)
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$B/ddbpipe" source -c "$work/srcbench.yaml" --mode snapshot \
    --segments 4 --format "$1" -o "$work/out.jsonl" -q --stats-file "$work/stats.json"
  j1=$(java_cpu_s)
  read -r e u s < "$work/time"
  n=$(json_get "$work/stats.json" "['events']['snapshot']")
  check_count "ddbpipe --format $1 rep $2: snapshot rows" "$n" "$N"
  check_count "ddbpipe --format $1 rep $2: rows in the output" "$(wc -l < "$work/out.jsonl")" "$N"
  results+=("$($PY -c "
import json; n=$n; e=$e; c=$u+$s; j=$j1-$j0
print(json.dumps({'peer':'ddbpipe --format $1','rep':$2,'items':n,'seconds':e,'items_per_s':round(n/e),
  'client_cpu_s':round(c,2),'client_cpu_us_per_row':round(c/n*1e6,1),'server_cpu_s':round(j,1)}))")")
  echo "${results[-1]}"
}
run_boto3() { # $1 rep
  local j0 j1 e u s
  j0=$(java_cpu_s)
  /usr/bin/time -f "%e %U %S" -o "$work/time" $PY bench/peers/boto3_scan.py "$ep" srcbench 4 > "$work/boto3.json"
  j1=$(java_cpu_s)
  read -r e u s < "$work/time"
  check_count "boto3 parallel scan rep $1: items" "$(json_get "$work/boto3.json" "['items']")" "$N"
  results+=("$($PY -c "
import json; d=json.load(open('$work/boto3.json')); n=d['items']; c=$u+$s; j=$j1-$j0
print(json.dumps({'peer':'boto3 parallel scan','rep':$1,'items':n,'seconds':d['seconds'],'items_per_s':d['items_per_s'],
  'client_cpu_s':round(c,2),'client_cpu_us_per_row':round(c/n*1e6,1),'scan_only_cpu_us_per_row':round(d['scan_cpu_s']/n*1e6,1),
  'process_seconds':$e,'server_cpu_s':round(j,1)}))")")
  echo "${results[-1]}"
}
for rep in $(seq 1 "$REPS"); do
  run_ddbpipe json "$rep"
  run_ddbpipe dynamodb "$rep"
  run_boto3 "$rep"
done
echo "load average after the snapshot runs: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${results[@]}" > "$work/results.jsonl"
$PY - "$work/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cols = ("peer", "rep", "items", "seconds", "items_per_s", "client_cpu_us_per_row", "server_cpu_s")
print("%-26s%4s%9s%9s%9s%19s%14s" % ("peer", "rep", "items", "seconds", "rows/s", "client CPU us/row", "server CPU s"))
for r in rows:
    print("%-26s%4d%9d%9.2f%9d%19.1f%14.1f" % tuple(r[c] for c in cols))
PY

# ---------------------------------------------------------------- lag
echo "== 2: change-feed lag, $RATE puts/s for $LAG_S s, default polling (poll_idle_ms 1000, poll_busy_ms 250) =="
# A fresh table: its stream holds nothing but the benchmark's writes.
conf lagbench "stream_view_type: NEW_AND_OLD_IMAGES"
"$B/ddbpipe" create-table -c "$work/lagbench.yaml" -q
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
LAG_DDBPIPE_STDERR="$work/lag.err" $PY bench/source_lag.py "$B/ddbpipe" "$work/lagbench.yaml" "$ep" lagbench "$RATE" "$LAG_S" ||
  { echo "lag run failed; ddbpipe stderr:"; cat "$work/lag.err"; exit 1; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
