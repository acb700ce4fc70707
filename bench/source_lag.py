#!/usr/bin/python3
"""Change-feed lag of `ddbpipe source --mode stream`: write to emitted.

    source_lag.py DDBPIPE CONFIG ENDPOINT TABLE [RATE=50] [SECONDS=60] [EXTRA ddbpipe ARGS...]

Starts `DDBPIPE source -c CONFIG --mode stream --from latest -o -` (default
polling unless EXTRA says otherwise), waits until a probe item comes out (the
reader holds its iterator), then puts RATE items a second for SECONDS seconds
into TABLE, each carrying its wall-clock write time (`wt`, taken just before
PutItem is sent). ddbpipe's stdout is read as it arrives; each event's lag is
arrival time minus `wt`. Prints p50/p90/p99/max, the count and how many never
arrived, as text and as one JSON line. Everything is bounded: the run stops
SECONDS + 30 s after the first write at the latest, and ddbpipe is stopped
(SIGTERM, then SIGKILL) on every exit path."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import boto3
from botocore.config import Config

if len(sys.argv) < 5:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
ddbpipe, conf, endpoint, table = sys.argv[1:5]
rate = float(sys.argv[5]) if len(sys.argv) > 5 else 50.0
duration_s = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
extra = sys.argv[7:]
GRACE_S = 30.0       # after the last write, how long stragglers may take
PROBE_WAIT_S = 60.0  # how long ddbpipe may take to start reading

client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench-secret",
                      config=Config(retries={"mode": "standard"}))

lock = threading.Lock()
arrived = {}         # id -> arrival time (time.time())
write_times = {}     # id -> wt
other_events = [0]


def reader(stream):
    # Stamp each line when it arrives; parse cheaply (only our ids matter).
    for raw in stream:
        now = time.time()
        try:
            ev = json.loads(raw)
            key = ev["keys"]["id"]
        except (ValueError, KeyError, TypeError):
            other_events[0] += 1
            continue
        with lock:
            arrived.setdefault(key, now)


def pct(sorted_v, p):
    if not sorted_v:
        return float("nan")
    i = min(len(sorted_v) - 1, max(0, int(round(p / 100.0 * len(sorted_v) + 0.5)) - 1))
    return sorted_v[i]


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def main():
    stderr_path = os.environ.get("LAG_DDBPIPE_STDERR", os.devnull)
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen([ddbpipe, "source", "-c", conf, "--mode", "stream", "--from", "latest", "-o", "-",
                                 "-q", *extra], stdout=subprocess.PIPE, stderr=err, bufsize=0)
    try:
        t = threading.Thread(target=reader, args=(proc.stdout,), daemon=True)
        t.start()
        # 1. Probe until ddbpipe emits something: it then holds its iterator.
        deadline = time.monotonic() + PROBE_WAIT_S
        probe = 0
        while True:
            if proc.poll() is not None:
                sys.exit(f"ddbpipe exited early with {proc.returncode} (stderr: {stderr_path})")
            pid = f"probe-{probe}"
            client.put_item(TableName=table, Item={"id": {"S": pid}})
            probe += 1
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                with lock:
                    if any(k.startswith("probe-") for k in arrived):
                        break
                time.sleep(0.05)
            else:
                if time.monotonic() > deadline:
                    sys.exit(f"no probe came out of ddbpipe within {PROBE_WAIT_S:.0f} s")
                continue
            break
        time.sleep(1.5)  # let the remaining probes drain
        # 2. Steady writer on an absolute schedule (no drift).
        n = int(rate * duration_s)
        put_ms = []
        t0 = time.monotonic()
        for i in range(n):
            due = t0 + i / rate
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            key = f"lag-{i:07d}"
            wt = time.time()
            client.put_item(TableName=table, Item={"id": {"S": key}, "wt": {"N": f"{wt:.6f}"},
                                                  "payload": {"S": "x" * 200}})
            put_ms.append((time.time() - wt) * 1000.0)
            write_times[key] = wt
        write_s = time.monotonic() - t0
        # 3. Wait for stragglers, bounded.
        end = time.monotonic() + GRACE_S
        while time.monotonic() < end:
            with lock:
                if all(k in arrived for k in write_times):
                    break
            time.sleep(0.1)
    finally:
        stop(proc)
    with lock:
        lags = sorted((arrived[k] - wt) * 1000.0 for k, wt in write_times.items() if k in arrived)
    missing = len(write_times) - len(lags)
    put_ms.sort()
    res = {"rate_per_s": rate, "written": len(write_times), "write_seconds": round(write_s, 2),
           "received": len(lags), "missing": missing,
           "lag_ms": {"p50": round(pct(lags, 50)), "p90": round(pct(lags, 90)), "p99": round(pct(lags, 99)),
                      "max": round(lags[-1]) if lags else None, "min": round(lags[0]) if lags else None},
           "putitem_ms_p50": round(pct(put_ms, 50), 1), "ddbpipe_args": extra}
    print(f"change-feed lag, {len(lags)} events at {rate:g}/s for {write_s:.1f} s (missing {missing}): "
          f"p50 {res['lag_ms']['p50']} ms, p90 {res['lag_ms']['p90']} ms, p99 {res['lag_ms']['p99']} ms, "
          f"max {res['lag_ms']['max']} ms (PutItem p50 {res['putitem_ms_p50']} ms)")
    print(json.dumps(res))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
