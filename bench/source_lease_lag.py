#!/usr/bin/python3
"""Change-feed lag of `ddbpipe source --mode stream` with a lease table: 1 worker against 3.

    source_lease_lag.py DDBPIPE ENDPOINT [RATE=100] [KEYS=200] [CHANGES=12] [WORKERS=1,3]

ENDPOINT is DynamoDB Local (the lease table lives there; scripts/ddblocal.sh run -- ... gives one).
The stream is the Streams test double (tests/fault/streams_double.py: 7 shards, 3 closed parents, 4
open children) in live mode: its KEYS*CHANGES records become readable one after the other at RATE a
second, in sequence order, as if written then (`--live-rate`), and every GetRecords answer takes
20 ms (`--delay-ms`). For each worker count a fresh double and application run; every worker writes
to stdout (`-o -`), read as it arrives. Lag = first arrival of a sequence number in any worker's output
minus the moment the double made it readable. Prints p50/p90/p99/max, missing and duplicate events per
run, as text and as one JSON line each. Default polling (poll_idle_ms 1000, poll_busy_ms 250),
lease_duration_ms 3000. Bounded: each run stops 30 s after the last record became readable."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

if len(sys.argv) < 3:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
BIN, ENDPOINT = sys.argv[1:3]
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
KEYS = int(sys.argv[4]) if len(sys.argv) > 4 else 200
CHANGES = int(sys.argv[5]) if len(sys.argv) > 5 else 12
COUNTS = [int(x) for x in (sys.argv[6] if len(sys.argv) > 6 else "1,3").split(",")]
HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "..", "tests", "fault", "streams_double.py")
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
GRACE_S = 30.0


def pct(v, p):
    return round(v[min(len(v) - 1, int(p / 100.0 * len(v)))]) if v else None


def run(tmp, n):
    pf = os.path.join(tmp, "port-%d-%d" % (n, time.time_ns()))
    dbl = subprocess.Popen([sys.executable, DOUBLE, "--port-file", pf, "--expect", pf + ".expect", "--no-faults",
                            "--no-inconsistent", "--no-expire", "--no-hide-children", "--keys", str(KEYS),
                            "--changes", str(CHANGES), "--records-per-page", "1000", "--delay-ms", "20",
                            "--live-rate", str(RATE), "--live-start-s", "5"], env=ENV)
    procs = []
    try:
        for _ in range(400):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        port = int(open(pf).read())
        exp = json.load(open(pf + ".expect"))
        visible = {q: t for q, t in exp["visible_at"].items()}
        app = "lag%d_%d" % (n, time.time_ns())
        first, lines = {}, [0]
        lock = threading.Lock()

        def reader(p):
            for line in p.stdout:
                t = time.time()
                try:
                    q = json.loads(line)["sequence"]
                except (ValueError, KeyError):
                    continue
                with lock:
                    lines[0] += 1
                    first.setdefault(q, t)

        for i in range(n):
            cfg = os.path.join(tmp, "cfg-%d-%d.json" % (n, i))
            with open(cfg, "w") as f:
                json.dump({"table": "orders", "region": "us-east-1", "endpoint_url": ENDPOINT,
                           "streams_endpoint_url": "http://127.0.0.1:%d" % port,
                           "stream_arn": "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/"
                                         "2024-01-01T00:00:00.000",
                           "aws_access_key_id": "AKIDLOCAL", "aws_secret_access_key": "secret",
                           "lease_table": "ddbpipe_bench_leases", "application_name": app,
                           "worker_id": "w%d" % i, "lease_duration_ms": 3000}, f)
            p = subprocess.Popen([BIN, "source", "-c", cfg, "--mode", "stream", "--from", "trim_horizon", "-o", "-"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV)
            procs.append(p)
            threading.Thread(target=reader, args=(p,), daemon=True).start()
        deadline = max(visible.values()) + GRACE_S
        while time.time() < deadline:
            with lock:
                if len(first) >= len(visible):
                    break
            time.sleep(0.2)
        time.sleep(0.5)  # stragglers of the last polls
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        dbl.terminate()
        dbl.wait(10)
    lags = sorted((first[q] - visible[q]) * 1000.0 for q in first if q in visible)
    res = {"workers": n, "events": len(visible), "missing": len(set(visible) - set(first)),
           "duplicates": lines[0] - len(first), "p50_ms": pct(lags, 50), "p90_ms": pct(lags, 90),
           "p99_ms": pct(lags, 99), "max_ms": round(lags[-1]) if lags else None, "rate": RATE}
    print("workers %d: %d events, %d missing, %d duplicates; lag p50 %s ms, p90 %s, p99 %s, max %s"
          % (n, res["events"], res["missing"], res["duplicates"], res["p50_ms"], res["p90_ms"], res["p99_ms"],
             res["max_ms"]))
    print(json.dumps(res), flush=True)
    return res


def main():
    import boto3  # the CLI describes the table (key schema) on DynamoDB Local; the stream is the double's
    c = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="AKIDLOCAL",
                     aws_secret_access_key="secret")
    try:
        c.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    except c.exceptions.ResourceInUseException:
        pass
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in COUNTS:
            r = run(tmp, n)
            bad += r["missing"] != 0
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
