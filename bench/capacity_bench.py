#!/usr/bin/python3
"""Writers against a table that grants a fixed capacity (tests/fault/fault_double.py --grant-wcu,
with a burst of --grant-burst-s): ddbpipe (retry_mode adaptive, the default, and standard), the AWS
SDK for JavaScript v3 (bench/peers/sdkv3_writer.mjs, 64 calls in flight; AWS_RETRY_MODE standard and
adaptive) and boto3's batch_writer (standard and adaptive). Prints one row per writer: WCU/s beyond
the burst between the first and the last write the double applied, the share of the grant, write
calls and the share throttled (wholly: ProvisionedThroughputExceededException, or in part:
UnprocessedItems), items in the table at the end.
    bench/capacity_bench.py [ITEMS=100000] [GRANT=4000] [BURST_S=1] [ROUNDS=1] [WRITERS=all]
WRITERS: a comma list of ddbpipe, ddbpipe-standard, sdkv3, sdkv3-standard, boto3, boto3-standard; each
round runs them in that order (contenders alternate; the load average goes to stderr before each).
Needs a build in build/ and node_modules in bench/peers (npm install --prefix bench/peers)."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOUBLE = os.path.join(ROOT, "tests", "fault", "fault_double.py")
BIN = os.environ.get("DDBPIPE_BIN", os.path.join(ROOT, "build", "ddbpipe"))
n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
grant = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
burst_s = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")


def run(name, argv_for, extra_env=None):
    d = subprocess.Popen([sys.executable, DOUBLE, "--watch-stdin", "--table", "bench:id:N", "--grant-wcu",
                          str(grant), "--grant-burst-s", str(burst_s)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    url = "http://127.0.0.1:%d" % int(d.stdout.readline().split()[1])
    try:
        with tempfile.TemporaryDirectory() as wd:
            inp = os.path.join(wd, "in.jsonl")
            with open(inp, "w") as f:
                for i in range(n):
                    f.write('{"id":%d,"pad":"%s"}\n' % (i, "x" * 200))  # 1 WCU each
            p = subprocess.run(argv_for(url, inp, wd), capture_output=True, text=True,
                               env=dict(env, **(extra_env or {})), timeout=3600)
            ds = json.loads(urllib.request.urlopen(url + "/__stats").read())
            items = len(json.loads(urllib.request.urlopen(url + "/__dump").read()).get("bench", []))
    finally:
        d.stdin.close()
        d.wait()
    span = (ds["last_write_t"] or 0) - (ds["first_write_t"] or 0)
    rate = (ds["wcu_consumed"] - grant * burst_s) / span if span > 0 else 0
    thr = ds["capacity_throttled_calls"] + ds["capacity_partial_calls"]
    calls = ds["write_calls"]
    print("| %s | %.1f | %.0f | %.1f%% | %d | %d (%.1f%%) | %d%s |" %
          (name, span, rate, 100.0 * rate / grant, calls, thr, 100.0 * thr / max(calls, 1), items,
           "" if p.returncode == 0 else " (exit %d)" % p.returncode))
    sys.stdout.flush()


def ddbpipe(mode):
    def argv(url, inp, wd):
        cfg = {"table": "bench", "region": "us-east-1", "endpoint_url": url, "aws_access_key_id": "bench",
               "aws_secret_access_key": "bench", "threads": 2, "retry_mode": mode}
        c = os.path.join(wd, "sink.json")
        with open(c, "w") as f:
            json.dump(cfg, f)
        return [BIN, "sink", "-c", c, "-i", inp, "--quiet"]
    return argv


WRITERS = [("ddbpipe", "ddbpipe, retry_mode adaptive (default)", ddbpipe("adaptive"), None),
           ("ddbpipe-standard", "ddbpipe, retry_mode standard", ddbpipe("standard"), None)]
sdk = os.path.join(ROOT, "bench", "peers", "sdkv3_writer.mjs")
for mode in ("standard", "adaptive"):
    WRITERS.append(("sdkv3" + ("" if mode == "adaptive" else "-standard"),
                    "AWS SDK for JS v3, 64 in flight, %s" % mode,
                    lambda url, inp, wd: ["node", sdk, url, "bench", inp, "64"], {"AWS_RETRY_MODE": mode}))
boto = os.path.join(ROOT, "bench", "peers", "boto3_writer.py")
for mode in ("standard", "adaptive"):
    WRITERS.append(("boto3" + ("" if mode == "adaptive" else "-standard"), "boto3 batch_writer, %s" % mode,
                    lambda url, inp, wd, m=mode: ["/usr/bin/python3", boto, url, "bench", inp, m], None))
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
chosen = sys.argv[5].split(",") if len(sys.argv) > 5 else [w[0] for w in WRITERS]

print("%d items of 1 WCU, a grant of %d WCU/s with %.0f s of burst; %d round(s) of %s (alternating)" %
      (n, grant, burst_s, rounds, ", ".join(chosen)))
print("| writer | seconds | WCU/s beyond the burst | of the grant | write calls | throttled calls | items |")
print("|---|---|---|---|---|---|---|")
for r in range(rounds):
    for key, name, argv, extra in WRITERS:
        if key in chosen:
            print("load average %s" % " ".join(open("/proc/loadavg").read().split()[:3]), file=sys.stderr)
            run(name, argv, extra)
