"""Shared set-up of the source lease tests (tests/integration/test_source_lease*.py, issue 14): the lease
settings, the Streams test double (tests/fault/streams_double.py), worker configs and processes, the
lease table as the tests read it, and the waits around them. Import after ddblocal_env (which skips
with exit 77 when DynamoDB Local or the CLI is missing), with this directory on sys.path.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

import ddblocal_env as E

HERE = os.path.dirname(os.path.abspath(__file__))
SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
LEASE_MS = 6000 if SLOW else 2000
RENEW_MS = LEASE_MS // 3
LEASE_TABLE = "ddbpipe_leases_test"
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
STREAMS_DOUBLE = os.path.join(HERE, "..", "fault", "streams_double.py")
STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/%s"


class StreamsDouble:
    """streams_double.py without faults; `expect` is its key -> [(sequence, op)] of every event."""

    def __init__(self, tmp, *extra):
        self.port_file = os.path.join(tmp, "port-%d" % time.monotonic_ns())
        self.proc = subprocess.Popen([sys.executable, STREAMS_DOUBLE, "--port-file", self.port_file, "--expect",
                                      self.port_file + ".expect", "--no-faults"] + list(extra), env=ENV)
        for _ in range(400):
            if os.path.exists(self.port_file):
                break
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())
        exp = json.load(open(self.port_file + ".expect"))
        self.expect = exp["events"]
        self.shard_seqs = {sh: [int(q) for q in seqs] for sh, seqs in exp.get("shards", {}).items()}

    def stats(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/__stats" % self.port) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def create_orders_table():
    """The table the stream double's ARN names: the CLI describes it (key schema) on endpoint_url."""
    c = E.ddb_client()
    try:
        c.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    except c.exceptions.ResourceInUseException:
        pass


def start(tmp, worker, app, args, **cfg):
    """`ddbpipe source` as worker `worker` of application `app`: the common lease settings plus `cfg`
    written to its config, `args` after -c/-o/--stats-file/-v. Returns the worker dict the tests use."""
    path = os.path.join(tmp, "cfg-%s.json" % worker)
    c = {"region": "us-east-1", "endpoint_url": E.ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
         "aws_secret_access_key": "secret", "poll_idle_ms": 50, "poll_busy_ms": 0, "discovery_interval_ms": 500,
         "lease_table": LEASE_TABLE, "application_name": app, "worker_id": worker, "lease_duration_ms": LEASE_MS}
    c.update(cfg)
    with open(path, "w") as f:
        json.dump(c, f)
    out = os.path.join(tmp, worker + ".jsonl")
    stats = os.path.join(tmp, worker + ".stats.json")
    log = open(os.path.join(tmp, worker + ".log"), "w")
    p = subprocess.Popen([E.BIN, "source", "-c", path, "-o", out, "--stats-file", stats, "-v"] + list(args),
                         stdout=subprocess.DEVNULL, stderr=log, env=ENV)
    return {"proc": p, "out": out, "stats": stats, "log": log.name, "worker": worker}


def lines(path):
    """Every whole JSON line of an output file (a partial last line is still being written)."""
    evs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    evs.append(json.loads(line))
    return evs


def stream_events(path):
    """(key, sequence, OP, shard) of every whole line of a streams-double output."""
    return [(e["keys"]["pk"], e["sequence"], e["op"].upper(), e["shard"]) for e in lines(path)]


def check_union(d, outs, what):
    """Checks the outputs of a StreamsDouble stream; returns how many events came out more than once."""
    union = {}
    order_ok = True
    for path in outs:
        per_key = {}
        for k, seq, op, _ in stream_events(path):
            per_key.setdefault(k, []).append(seq)
        for k, seqs in per_key.items():
            want = [s for s, _ in d.expect[k]]
            firsts = []
            for s in seqs:
                if s not in firsts:
                    firsts.append(s)
            if firsts != sorted(firsts, key=want.index):
                order_ok = False
        for k, seq, op, _ in stream_events(path):
            union.setdefault(k, []).append((seq, op))
    missing = [(k, s) for k in d.expect for s, op in d.expect[k] if s not in {x[0] for x in union.get(k, [])}]
    total = sum(len(v) for v in union.values())
    distinct = sum(len({x[0] for x in v}) for v in union.values())
    E.check(not missing, "%s: the union of the outputs holds every event (%d expected, %d missing)"
            % (what, sum(len(v) for v in d.expect.values()), len(missing)), missing[:5])
    E.check(order_ok, "%s: per key, every output keeps write order across splits" % what)
    ds = d.stats()
    E.check(ds["violations"] == [], "%s: no child shard was read before its parent was read to the end"
            % what, ds["violations"][:3])
    return total - distinct


def lease_items(app):
    """The lease table's items of application `app` ([] before the first worker created the table)."""
    c = E.ddb_client()
    try:
        items = c.scan(TableName=LEASE_TABLE, ConsistentRead=True)["Items"]
    except c.exceptions.ResourceNotFoundException:
        return []
    return [i for i in items if i["app"]["S"] == app]


def leases(app):
    """shard (or #segment/N) -> (owner, checkpoint) of the application."""
    return {i["shard"]["S"]: (i.get("owner", {}).get("S", ""), i["checkpoint"]["S"]) for i in lease_items(app)}


def wait_exit(ws, timeout):
    """Waits up to `timeout` s in all for the workers to exit; kills and returns those that did not."""
    deadline = time.time() + timeout
    killed = []
    for w in ws:
        try:
            w["proc"].wait(max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            w["proc"].kill()
            w["proc"].wait()
            killed.append(w)
    return killed


def terminate(ws, timeout):
    """SIGTERM to every worker, then each gets `timeout` s to exit before it is killed."""
    for w in ws:
        w["proc"].terminate()
    for w in ws:
        try:
            w["proc"].wait(timeout)
        except subprocess.TimeoutExpired:
            w["proc"].kill()
            w["proc"].wait()


def kill_all(ws, show_logs=True):
    for w in ws:
        w["proc"].kill()
        w["proc"].wait()
        if show_logs:
            print(open(w["log"]).read()[-2000:])


def log_tail(w, n=1500):
    return open(w["log"]).read()[-n:]


def wait_for(cond, timeout, step=0.05):
    """Seconds until cond() held, or None after `timeout` s."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return time.time() - t0
        time.sleep(step)
    return None


def check_takeover(taken_after, prefix=""):
    """The takeover after a SIGKILL: printed, and timed except under DDBPIPE_TEST_SLOW."""
    if taken_after is None:
        return
    print("  takeover %.2f s after SIGKILL (lease %d ms, renewal every %d ms)" % (taken_after, LEASE_MS, RENEW_MS))
    if not SLOW:
        # + 1.5 s: the test's own 50 ms poll, a lease table Scan and UpdateItem on DynamoDB Local,
        # and scheduling on a loaded 2-core CI machine (measured 1.95-2.59 s against 2.67 s + slack)
        E.check(taken_after <= (LEASE_MS + RENEW_MS) / 1000.0 + 1.5,
                "%staken over within lease_duration_ms + one renewal interval (%.2f s)" % (prefix, taken_after))


def finish():
    if E.FAILS:
        print("FAILED: %s" % E.FAILS)
        sys.exit(1)
    print("PASS")
