#!/usr/bin/python3
"""Write capacity cap against a double that grants a fixed capacity (tests/fault/fault_double.py
--grant-wcu: a token bucket with a burst; beyond it BatchWriteItem answers UnprocessedItems, or
ProvisionedThroughputExceededException when nothing could be written, and reports
ConsumedCapacity).
write_capacity_fraction: the same cap taken as a fraction of the capacity DescribeTable reports
(fault_double.py --provisioned-wcu / --on-demand-max-wcu), and the error for an on-demand table
without a maximum; both re-read DescribeTable while they run (POST /__capacity moves the cap).

With max_write_capacity_per_s at half the grant, `ddbpipe sink` writes every item, never gets a
throttled answer, and consumes at most the cap (+5%) measured by the double between its first and
last write. DDBPIPE_TEST_SLOW (asan/valgrind sweeps) runs a smaller volume and skips the rate
assertions (the sink is slower than the cap there), never the correctness ones.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sink_env import BIN, SLOW, Double, check, exit_code  # noqa: E402  (shared set-up)


def capped_run(what="max_write_capacity_per_s=1000", cap=1000, n=9000, conf=None, double_args=()):
    grant = 2000
    n = 1200 if SLOW else n  # plain: about n / cap s at the cap
    conf = conf if conf is not None else {"max_write_capacity_per_s": cap}
    print("scenario: %s (cap %d) against a grant of %d WCU/s, %d items" % (what, cap, grant, n))
    d = Double(["--table", "capt:id:N", "--grant-wcu", str(grant), "--grant-burst-s", "1"] + list(double_args))
    try:
        with tempfile.TemporaryDirectory() as wd:
            cfg = {"table": "capt", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDCAP",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 100, "max_retries": 3,
                   "threads": 2, **conf}
            cpath = os.path.join(wd, "sink.json")
            with open(cpath, "w") as f:
                json.dump(cfg, f)
            inp = os.path.join(wd, "in.jsonl")
            with open(inp, "w") as f:
                for i in range(n):
                    f.write(json.dumps({"id": i, "name": "item-%d" % i, "pad": "x" * 200}) + "\n")
            dl = os.path.join(wd, "dead.jsonl")
            st = os.path.join(wd, "stats.json")
            p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--dead-letter", dl, "--stats-file", st,
                                "--quiet"], capture_output=True, text=True, timeout=600)
            ds = d.get("/__stats")
            items = d.get("/__dump").get("capt", [])
            stats = json.load(open(st)) if os.path.exists(st) else {}
            dead = open(dl).read().splitlines() if os.path.exists(dl) else []
            check(p.returncode == 0, "exit 0 (%d) %s" % (p.returncode, p.stderr.strip()[-300:]))
            check(len(items) == n and not dead, "all %d items written, none dead-lettered (%d, %d)" %
                  (n, len(items), len(dead)))
            check(ds["capacity_throttled_calls"] == 0 and ds["capacity_partial_calls"] == 0,
                  "no throttled call (%d throttled, %d partial of %d calls)" %
                  (ds["capacity_throttled_calls"], ds["capacity_partial_calls"], ds["write_calls"]))
            check(stats.get("throttled_items") == 0, "the sink saw no throttling (%s)" % stats.get("throttled_items"))
            span = (ds["last_write_t"] or 0) - (ds["first_write_t"] or 0)
            rate = ds["wcu_consumed"] / span if span > 0 else float("inf")
            print("     %.0f WCU in %.2f s: %.0f WCU/s (cap %d)" % (ds["wcu_consumed"], span, rate, cap))
            check(ds["wcu_consumed"] >= n, "each put consumed at least 1 WCU (%s)" % ds["wcu_consumed"])
            if not SLOW:
                check(rate <= cap * 1.05, "rate %.0f WCU/s within 5%% of the cap %d" % (rate, cap))
                check(rate >= cap * 0.85, "rate %.0f WCU/s uses the cap %d (>= 85%%)" % (rate, cap))
    finally:
        d.close()


def reread_fraction():
    """The table's capacity is re-read (DDBPIPE_CAPACITY_REREAD_MS shortens the 60 s period): a table
    cut from 2,000 to 1,000 provisioned WCU while the sink runs halves the cap to 500 WCU/s."""
    n = 3000
    print("scenario: write_capacity_fraction 0.5, provisioned WCU 2000 -> 1000 during the run, %d items" % n)
    d = Double(["--table", "capt:id:N", "--provisioned-wcu", "2000"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            cfg = {"table": "capt", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDCAP",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 100, "write_capacity_fraction": 0.5,
                   "log_level": "info"}
            cpath = os.path.join(wd, "sink.json")
            with open(cpath, "w") as f:
                json.dump(cfg, f)
            inp = os.path.join(wd, "in.jsonl")
            with open(inp, "w") as f:
                for i in range(n):
                    f.write(json.dumps({"id": i}) + "\n")
            env = dict(os.environ, DDBPIPE_CAPACITY_REREAD_MS="300")
            p = subprocess.Popen([BIN, "sink", "-c", cpath, "-i", inp], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
            # change the figure once the sink writes (it has read the first one by then)
            deadline = time.monotonic() + 120
            while d.get("/__stats")["write_calls"] == 0 and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            req = urllib.request.Request(d.url + "/__capacity", data=json.dumps({"wcu": 1000}).encode(),
                                         method="POST")
            urllib.request.urlopen(req, timeout=30).read()
            out, err = p.communicate(timeout=600)
            ds = d.get("/__stats")
            items = d.get("/__dump").get("capt", [])
            span = (ds["last_write_t"] or 0) - (ds["first_write_t"] or 0)
            print("     %d items in %.2f s" % (len(items), span))
            check(p.returncode == 0 and len(items) == n, "re-read: exit 0, all %d items (%d, %d) %s" %
                  (n, p.returncode, len(items), err.strip()[-300:]))
            check("cap now 500 WCU/s (was 1000)" in err, "re-read: the log says the cap went from 1000 to 500")
            if not SLOW:  # some time at 1000, the rest (>= 2000 units) at 500
                check(span >= 4.0, "re-read: the new cap slowed the run (%.2f s >= 4 s)" % span)
    finally:
        d.close()


def capacity_fraction():
    """write_capacity_fraction: half of a provisioned table's 2,000 WCU caps the sink at 1,000 WCU/s;
    an on-demand table's OnDemandThroughput.MaxWriteRequestUnits (1,000) is the base when set (0.5:
    500 WCU/s); an on-demand table without a maximum stops at start with exit 2 and says to give an
    absolute cap."""
    capped_run("write_capacity_fraction 0.5 of 2000 provisioned WCU", 1000, 3000,
               {"write_capacity_fraction": 0.5}, ["--provisioned-wcu", "2000"])
    capped_run("write_capacity_fraction 0.5 of on-demand MaxWriteRequestUnits 1000", 500, 1500,
               {"write_capacity_fraction": 0.5}, ["--on-demand-max-wcu", "1000"])
    reread_fraction()
    print("scenario: write_capacity_fraction on an on-demand table without a maximum")
    d = Double(["--table", "capt:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            cfg = {"table": "capt", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDCAP",
                   "aws_secret_access_key": "secret", "write_capacity_fraction": 0.5}
            cpath = os.path.join(wd, "sink.json")
            with open(cpath, "w") as f:
                json.dump(cfg, f)
            p = subprocess.run([BIN, "sink", "-c", cpath, "--quiet"], input='{"id": 1}\n', capture_output=True,
                               text=True, timeout=60)
            items = d.get("/__dump").get("capt", [])
            check(p.returncode == 2 and "max_write_capacity_per_s" in p.stderr and "on demand" in p.stderr,
                  "on demand without a maximum: exit 2 naming max_write_capacity_per_s (%d) %s" %
                  (p.returncode, p.stderr.strip()[-300:]))
            check(not items, "nothing written (%d)" % len(items))
    finally:
        d.close()


def busy_table_never_gives_up():
    """No cap, a grant of 2,000 WCU/s and max_retries 0: the sink is throttled (UnprocessedItems,
    ProvisionedThroughputExceededException) yet writes every record and dead-letters none, since
    throttling does not count toward max_retries."""
    n = 800 if SLOW else 8000
    print("scenario: busy table, max_retries 0, %d items" % n)
    d = Double(["--table", "busyt:id:N", "--grant-wcu", "2000", "--grant-burst-s", "0.2"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            cfg = {"table": "busyt", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDCAP",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 100, "max_retries": 0, "threads": 2}
            cpath = os.path.join(wd, "sink.json")
            with open(cpath, "w") as f:
                json.dump(cfg, f)
            inp = os.path.join(wd, "in.jsonl")
            with open(inp, "w") as f:
                for i in range(n):
                    f.write(json.dumps({"id": i, "pad": "z" * 100}) + "\n")
            dl = os.path.join(wd, "dead.jsonl")
            p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--dead-letter", dl, "--quiet"],
                               capture_output=True, text=True, timeout=600)
            ds = d.get("/__stats")
            items = d.get("/__dump").get("busyt", [])
            dead = open(dl).read().splitlines() if os.path.exists(dl) else []
            print("     %d write calls: %d throttled, %d partial" % (ds["write_calls"], ds["capacity_throttled_calls"],
                                                                    ds["capacity_partial_calls"]))
            check(p.returncode == 0, "busy: exit 0 (%d) %s" % (p.returncode, p.stderr.strip()[-300:]))
            check(len(items) == n and not dead, "busy: all %d items written, none dead-lettered (%d, %d)" %
                  (n, len(items), len(dead)))
            if not SLOW:
                check(ds["capacity_throttled_calls"] + ds["capacity_partial_calls"] > 0,
                      "busy: the double did throttle the sink")
    finally:
        d.close()


def post(d, path, body):
    urllib.request.urlopen(urllib.request.Request(d.url + path, data=json.dumps(body).encode(), method="POST"),
                           timeout=30).read()


def read_capped_snapshot():
    """max_read_capacity_per_s: a snapshot Scan (4 segments, 64 KB pages) stays within the cap; so does
    read_capacity_fraction, which follows a change of the table's provisioned RCU during the scan."""
    cap = 200
    n = 600 if SLOW else 4000  # ~1 KB items: plain, about 1000 read units, 5 s at the cap
    print("scenario: max_read_capacity_per_s=%d, snapshot of %d items" % (cap, n))
    d = Double(["--table", "capr:id:N", "--scan-page-bytes", "65536", "--provisioned-rcu", "400"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            base = {"table": "capr", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDCAP",
                    "aws_secret_access_key": "secret", "flush_interval_ms": 100}
            cpath = os.path.join(wd, "sink.json")
            with open(cpath, "w") as f:
                json.dump(base, f)
            inp = os.path.join(wd, "in.jsonl")
            with open(inp, "w") as f:
                for i in range(n):
                    f.write(json.dumps({"id": i, "pad": "y" * 1000}) + "\n")
            p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--quiet"], capture_output=True, text=True,
                               timeout=600)
            check(p.returncode == 0, "table loaded (%d) %s" % (p.returncode, p.stderr.strip()[-300:]))
            base["max_read_capacity_per_s"] = cap
            spath = os.path.join(wd, "source.json")
            with open(spath, "w") as f:
                json.dump(base, f)
            p = subprocess.run([BIN, "source", "-c", spath, "--mode", "snapshot", "--segments", "4"],
                               capture_output=True, text=True, timeout=600)
            ds = d.get("/__stats")
            rows = len(p.stdout.splitlines())
            check(p.returncode == 0 and rows == n, "snapshot exit 0 with %d rows (%d, %d) %s" %
                  (n, p.returncode, rows, p.stderr.strip()[-300:]))
            span = (ds["last_scan_t"] or 0) - (ds["first_scan_t"] or 0)
            # units of every call but the last, over the time from the first call to the last
            rate = (ds["rcu_consumed"] - ds["last_scan_units"]) / span if span > 0 else float("inf")
            print("     %.0f RCU in %d Scan calls over %.2f s: %.0f RCU/s (cap %d)" %
                  (ds["rcu_consumed"], ds["scan_calls"], span, rate, cap))
            check(ds["scan_calls"] >= 8, "the snapshot took several pages (%d)" % ds["scan_calls"])
            if not SLOW:
                check(rate <= cap * 1.05, "read rate %.0f RCU/s within 5%% of the cap %d" % (rate, cap))
                check(rate >= cap * 0.8, "read rate %.0f RCU/s uses the cap %d (>= 80%%)" % (rate, cap))
            # read_capacity_fraction 0.5 of the 400 provisioned RCU: the same cap, from DescribeTable
            del base["max_read_capacity_per_s"]
            base["read_capacity_fraction"] = 0.5
            with open(spath, "w") as f:
                json.dump(base, f)
            urllib.request.urlopen(urllib.request.Request(d.url + "/__reset", data=b"{}", method="POST"),
                                   timeout=30).read()
            p = subprocess.run([BIN, "source", "-c", spath, "--mode", "snapshot", "--segments", "4"],
                               capture_output=True, text=True, timeout=600)
            ds = d.get("/__stats")
            rows = len(p.stdout.splitlines())
            span = (ds["last_scan_t"] or 0) - (ds["first_scan_t"] or 0)
            rate = (ds["rcu_consumed"] - ds["last_scan_units"]) / span if span > 0 else float("inf")
            print("     read_capacity_fraction 0.5 of 400 RCU: %.0f RCU over %.2f s: %.0f RCU/s" %
                  (ds["rcu_consumed"], span, rate))
            check(p.returncode == 0 and rows == n, "fraction: snapshot exit 0 with %d rows (%d, %d) %s" %
                  (n, p.returncode, rows, p.stderr.strip()[-300:]))
            if not SLOW:
                check(cap * 0.8 <= rate <= cap * 1.05, "fraction: read rate %.0f RCU/s within the cap %d" % (rate, cap))
            # the snapshot re-reads the figure (DDBPIPE_CAPACITY_REREAD_MS shortens the 60 s period): the
            # provisioned RCU halved while the scan runs halves the cap
            rcu = 100 if SLOW else 400  # SLOW: a cap of 50 RCU/s, so the scan outlasts a few re-reads
            post(d, "/__capacity", {"rcu": rcu})
            post(d, "/__reset", {})
            scap = json.dumps(base)
            with open(spath, "w") as f:
                f.write(scap[:-1] + ', "log_level": "info"}')
            env = dict(os.environ, DDBPIPE_CAPACITY_REREAD_MS="300")
            p = subprocess.Popen([BIN, "source", "-c", spath, "--mode", "snapshot", "--segments", "4"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            deadline = time.monotonic() + 120
            while d.get("/__stats")["scan_calls"] == 0 and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            post(d, "/__capacity", {"rcu": rcu // 2})
            out, err = p.communicate(timeout=600)
            ds = d.get("/__stats")
            rows = len(out.splitlines())
            span = (ds["last_scan_t"] or 0) - (ds["first_scan_t"] or 0)
            print("     re-read: %.0f RCU over %.2f s (cap %d, then %d)" % (ds["rcu_consumed"], span, rcu // 2, rcu // 4))
            check(p.returncode == 0 and rows == n, "re-read: snapshot exit 0 with %d rows (%d, %d) %s" %
                  (n, p.returncode, rows, err.strip()[-300:]))
            want = "snapshot cap now %d RCU/s (was %d)" % (rcu // 4, rcu // 2)
            check(want in err, "re-read: the log says '%s'" % want)
            if not SLOW:  # about 1000 units: 5 s at 200 RCU/s, 10 s at 100
                check(span >= 7.0, "re-read: the new cap slowed the scan (%.2f s >= 7 s)" % span)
            # an on-demand table without MaxReadRequestUnits: exit 2 before reading
            urllib.request.urlopen(urllib.request.Request(d.url + "/__capacity", data=b'{"rcu": 0}', method="POST"),
                                   timeout=30).read()
            p = subprocess.run([BIN, "source", "-c", spath, "--mode", "snapshot"], capture_output=True, text=True,
                               timeout=600)
            check(p.returncode == 2 and not p.stdout and "max_read_capacity_per_s" in p.stderr,
                  "fraction: on demand without a maximum: exit 2 naming max_read_capacity_per_s (%d) %s" %
                  (p.returncode, p.stderr.strip()[-300:]))
    finally:
        d.close()


def main():
    if not BIN:
        print("SKIPPED: DDBPIPE_BIN is not set")
        return 77
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    capped_run()
    capacity_fraction()
    busy_table_never_gives_up()
    read_capped_snapshot()
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
