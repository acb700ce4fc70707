#!/usr/bin/env bash
# Fault soak (not in CI): `ddbpipe sink` and `ddbpipe source` run for N
# minutes against tests/fault/fault_double.py while it throttles in bursts,
# resets connections, stalls answers, returns UnprocessedItems and 5xx.
#
#   scripts/soak.sh [--minutes N] [--rate R] [--keys K] [--bin PATH]   (defaults 30, 200/s, 20000)
#   scripts/soak.sh --expiry [--minutes N]                             (credential expiry, 60 s keys)
#
# Sink: a generator writes R records/s (upserts and deletes over K keys, a
# running counter in each so the last write to a key is known) into one
# long-lived `ddbpipe sink`. Every minute the fault profile changes (calm,
# throttling burst, resets, stalls, UnprocessedItems, mixed) and a
# `ddbpipe source --mode snapshot` reads the table back through the faults.
# At the end the table is compared with the model (the last write to every
# key): lost = keys whose final state is wrong (must be 0). The report gives
# records in, written, deleted, dead-lettered, lost, retries, faults injected,
# and the snapshot reads (rows read vs rows in the table at the end).
#
# --expiry runs tests/fault/test_credential_expiry.py with 60 s credentials
# (both phases, N/2 minutes each; default N = 6).
# Exit 0 when nothing was lost and every command succeeded.
set -uo pipefail
cd "$(dirname "$0")/.."
MINUTES=30
RATE=200
KEYS=20000
BIN=${DDBPIPE_BIN:-build/ddbpipe}
EXPIRY=0
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --expiry) EXPIRY=1; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ! -x "$BIN" ]; then
    echo "soak: $BIN is not built (make build, or --bin PATH)" >&2
    exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

if [ "$EXPIRY" = 1 ]; then
    [ "$MINUTES" = 30 ] && MINUTES=6
    phase=$((MINUTES * 60 / 2))
    echo "soak: credential expiry, 60 s credentials, two phases of ${phase} s"
    DDBPIPE_BIN=$BIN EXPIRY_PHASE_S=$phase EXPIRY_SHORT_S=60 EXPIRY_ROTATE_S=60 EXPIRY_RATE=${RATE} \
        exec /usr/bin/python3 tests/fault/test_credential_expiry.py
fi

exec /usr/bin/python3 - "$BIN" "$MINUTES" "$RATE" "$KEYS" <<'PYEOF'
import json, os, random, shutil, subprocess, sys, tempfile, threading, time, urllib.request

BIN, MINUTES, RATE, KEYS = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
HERE = os.getcwd()
PROFILES = [  # one a minute, in turn
    ("calm", {"throttle": 0.01, "error500": 0.005}),
    ("throttling burst", {"throttle": 0.7, "throttle_code": "ThrottlingException"}),
    ("resets", {"reset": 0.08, "error503": 0.02}),
    ("stalls", {"stall": 0.03, "stall_ms": 3000, "delay_max_ms": 50}),
    ("UnprocessedItems", {"unprocessed": 0.4, "unprocessed_fraction": 0.6}),
    ("mixed", {"throttle": 0.1, "reset": 0.03, "stall": 0.01, "stall_ms": 2000, "unprocessed": 0.15,
               "error500": 0.02, "bad_crc": 0.01}),
]

tmp = tempfile.mkdtemp(prefix="ddbpipe-soak-")
procs = []


def http(method, url, doc=None):
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def main():
    dbl = subprocess.Popen(["/usr/bin/python3", "tests/fault/fault_double.py", "--table", "soak_table:id:S",
                            "--watch-stdin", "--seed", "42"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    procs.append(dbl)
    line = dbl.stdout.readline()
    if not line.startswith("PORT "):
        print("soak: fault double did not start")
        return 2
    ep = "http://127.0.0.1:%s" % line.split()[1]
    cfg = os.path.join(tmp, "soak.yaml")
    with open(cfg, "w") as f:
        f.write("table: soak_table\nregion: us-east-1\nendpoint_url: %s\npartition_key: id\n"
                "partition_key_type: S\naws_access_key_id: AKIDSOAK\naws_secret_access_key: soak-secret\n"
                "max_retries: null\nrequest_timeout_ms: 5000\nflush_interval_ms: 200\n" % ep)
    stats_file = os.path.join(tmp, "sink-stats.json")
    dlq = os.path.join(tmp, "dead.jsonl")
    err = open(os.path.join(tmp, "sink.err"), "wb")
    sink = subprocess.Popen([BIN, "sink", "-q", "-c", cfg, "--stats-file", stats_file, "--dead-letter", dlq],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
    procs.append(sink)

    model = {}  # key -> last record written (None = deleted)
    rng = random.Random(7)
    sent = 0
    t0 = time.time()
    end = t0 + MINUTES * 60
    profile_i = -1
    snapshots = []
    interval = 1.0 / RATE
    next_t = t0
    print("soak: %g min, %g records/s over %d keys; endpoint %s; work dir %s" % (MINUTES, RATE, KEYS, ep, tmp),
          flush=True)
    try:
        while time.time() < end:
            minute = int((time.time() - t0) // 60)
            if minute != profile_i:
                profile_i = minute
                name, faults = PROFILES[minute % len(PROFILES)]
                http("POST", ep + "/__faults", dict(faults, seed=minute))
                print("soak: minute %d: %s; %d records sent" % (minute, name, sent), flush=True)
                if minute > 0:
                    snapshots.append(threading.Thread(target=snapshot, args=(cfg, minute, [])))
                    snapshots[-1].start()
            k = "k%06d" % rng.randrange(KEYS)
            if rng.random() < 0.05 and model.get(k) is not None:
                line = {"delete": {"id": k}}
                model[k] = None
            else:
                rec = {"id": k, "seq": sent, "pad": "x" * rng.randrange(0, 200)}
                line = rec
                model[k] = rec
            sink.stdin.write((json.dumps(line) + "\n").encode())
            sent += 1
            next_t += interval
            d = next_t - time.time()
            if d > 0:
                time.sleep(d)
        sink.stdin.close()
    except BrokenPipeError:
        print("soak: sink exited early")
    rc = sink.wait()
    err.close()
    for t in snapshots:
        t.join()
    http("POST", ep + "/__faults", {})  # final checks without faults
    dump = {it["id"]["S"]: it for it in http("GET", ep + "/__dump").get("soak_table", [])}
    st = http("GET", ep + "/__stats")
    try:
        ss = json.load(open(stats_file))
    except (OSError, ValueError):
        ss = {}
    lost = 0
    for k, rec in model.items():
        got = dump.get(k)
        if rec is None:
            lost += got is not None
        elif got is None or got.get("seq", {}).get("N") != str(rec["seq"]):
            lost += 1
    extra = sum(1 for k in dump if k not in model)
    final_rows = snapshot(cfg, "final", [], faults=False)
    print("")
    print("soak result (%g min):" % MINUTES)
    print("  sink exit %d; records in %s (sent %d), written %s, deleted %s, folded duplicates %s, dead-lettered %s, "
          "retries %s, throttled items %s" % (rc, ss.get("records_in"), sent, ss.get("records_written"),
                                              ss.get("records_deleted"), ss.get("duplicates_folded"),
                                              ss.get("dead_lettered"), ss.get("retries"), ss.get("throttled_items")))
    print("  double: %d requests, faults %s, unprocessed returned %s, key overlaps %s"
          % (st.get("requests", 0), json.dumps(st.get("faults", {}), sort_keys=True), st.get("unprocessed_returned"),
             st.get("key_overlaps")))
    print("  table: %d keys; model: %d keys (%d deleted); lost %d; unexpected %d"
          % (len(dump), len(model), sum(1 for v in model.values() if v is None), lost, extra))
    for s in SNAPSHOT_LOG:
        print("  " + s)
    # The double's key_overlaps counter also counts the re-send of a write whose answer was stalled or
    # reset (the client timed out; same content, harmless), so the sink's own invariant counter
    # (internal_errors: one key in two calls at once) is the order check; overlaps are reported.
    print("  sink invariant violations (internal_errors): %s" % ss.get("internal_errors"))
    ok = (rc == 0 and lost == 0 and extra == 0 and final_rows == len(dump) and
          ss.get("internal_errors", 1) == 0)
    print("soak: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


SNAPSHOT_LOG = []


def snapshot(cfg, label, _unused, faults=True):
    """A snapshot read through the current faults: rows read, exit code."""
    out = os.path.join(tmp, "snapshot-%s.jsonl" % label)
    e = os.path.join(tmp, "snapshot-%s.err" % label)
    with open(out, "wb") as o, open(e, "wb") as ef:
        rc = subprocess.call([BIN, "source", "-q", "-c", cfg, "--mode", "snapshot", "--segments", "4",
                              "--set", "max_retries=null"], stdout=o, stderr=ef)
    rows = sum(1 for _ in open(out, "rb"))
    SNAPSHOT_LOG.append("source snapshot at minute %s: exit %d, %d rows%s" % (label, rc, rows,
                        "" if rc == 0 else " (see %s)" % e))
    return rows if rc == 0 else -1


try:
    code = main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.environ.get("SOAK_KEEP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)
sys.exit(code)
PYEOF
