#!/usr/bin/env bash
# Source snapshot against Scan pages served from memory (bench/null_endpoint
# --scan-items N: ~1 MB pages made on the fly), so the server's cost stays out
# of the client's figure; side by side, alternating REPS times:
# `ddbpipe source --mode snapshot --segments 4` (--format json, to a file) and
# a boto3 parallel scan of the same pages (bench/peers/boto3_scan.py, 4
# threads). Per run: wall time, the client's user+sys CPU per row
# (/usr/bin/time, whole process), the endpoint's CPU, peak RSS; counts are
# checked (ddbpipe wrote N lines, boto3 counted N items; exit 1 otherwise).
# "ddbpipe json (general path)" is the same command with
# DDBPIPE_SOURCE_GENERAL_PATH=1: each page read into a JSON tree first, then
# formatted (the path before the one-pass writer), for the ratio between the
# two. Then medians. Not a test.
#   bench/run_source_mem_bench.sh [ITEMS=200000] [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
REPS=${2:-3}
B=${DDBPIPE_BUILD_DIR:-build}
export AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
ne_pid=
cleanup() { [ -n "$ne_pid" ] && kill "$ne_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
tck=$(getconf CLK_TCK)
echo "machine: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

"$B/null_endpoint" --scan-items "$N" > "$work/ne.out" 2>"$work/ne.err" &
ne_pid=$!
for _ in $(seq 50); do grep -q PORT "$work/ne.out" 2>/dev/null && break; sleep 0.1; done
ep="http://127.0.0.1:$(awk '/PORT/{print $2}' "$work/ne.out")"
ne_cpu() { awk -v t="$tck" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); printf "%.2f", (f[12] + f[13]) / t }' "/proc/$ne_pid/stat"; }
cat > "$work/src.yaml" <<YAML
table: bench
region: us-east-1
endpoint_url: $ep
aws_access_key_id: bench
aws_secret_access_key: bench-secret
partition_key: id
partition_key_type: S
YAML

results="$work/results.jsonl"
: > "$results"
one() { # $1 label, then the command; the rows it read are counted by count_rows
  local label=$1 e0 e1 el u s rss rows
  shift
  e0=$(ne_cpu)
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" > "$work/out" 2>"$work/err" || {
    cat "$work/err" >&2
    exit 1
  }
  e1=$(ne_cpu)
  if [ "$label" = boto3 ]; then
    rows=$(/usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['items'])" "$work/out")
  else
    rows=$(wc -l < "$work/rows.jsonl")
  fi
  if [ "$rows" -ne "$N" ]; then
    echo "COUNT MISMATCH: $label read $rows rows, the table has $N" >&2
    exit 1
  fi
  read -r el u s rss < "$work/time"
  /usr/bin/python3 -c "
import json, sys
l, n, el, u, s, rss, e0, e1, load = sys.argv[1:]
n, el, cpu = int(n), float(el), float(u) + float(s)
print(json.dumps({'reader': l, 'rows': n, 'seconds': el, 'rows_per_s': round(n / el), 'cpu_s': round(cpu, 2),
                  'cpu_us_per_row': round(cpu * 1e6 / n, 2), 'endpoint_cpu_s': round(float(e1) - float(e0), 2),
                  'peak_rss_mib': round(int(rss) / 1024, 1), 'load1': float(load)}))" \
    "$label" "$N" "$el" "$u" "$s" "$rss" "$e0" "$e1" "$(cut -d' ' -f1 /proc/loadavg)" >> "$results"
  tail -1 "$results"
}
for rep in $(seq "$REPS"); do
  one "ddbpipe json" "$B/ddbpipe" source -c "$work/src.yaml" --mode snapshot --segments 4 --format json \
    -o "$work/rows.jsonl" -q
  one "ddbpipe json (general path)" env DDBPIPE_SOURCE_GENERAL_PATH=1 "$B/ddbpipe" source -c "$work/src.yaml" \
    --mode snapshot --segments 4 --format json -o "$work/rows.jsonl" -q
  one "boto3" /usr/bin/python3 bench/peers/boto3_scan.py "$ep" bench 4
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== medians ($REPS runs each) =="
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for w in dict.fromkeys(r["reader"] for r in rows):
    rs = [r for r in rows if r["reader"] == w]
    med[w] = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
    print(json.dumps({"reader": w, **{k: round(v, 3) for k, v in med[w].items()}}))
print(f"client CPU per row: ddbpipe {med['ddbpipe json']['cpu_us_per_row']:.2f} us, "
      f"boto3 {med['boto3']['cpu_us_per_row']:.2f} us "
      f"({med['boto3']['cpu_us_per_row'] / med['ddbpipe json']['cpu_us_per_row']:.0f}x); general path "
      f"{med['ddbpipe json (general path)']['cpu_us_per_row']:.2f} us "
      f"({med['ddbpipe json (general path)']['cpu_us_per_row'] / med['ddbpipe json']['cpu_us_per_row']:.2f}x the one-pass path)")
PY
