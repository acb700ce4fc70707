#!/usr/bin/python3
"""Source scale-out (issue 14) with both the lease table and the stream on DynamoDB Local (one shard,
never split): three workers of one application share the stream while a writer puts items; the
worker holding the shard's lease is SIGKILLed mid-run. Checked: another worker takes the lease over
within lease_duration_ms plus one renewal interval (not timed under DDBPIPE_TEST_SLOW); the union of
the three outputs holds every write; each output keeps per-key write order; the survivors exit 0 on
SIGTERM and release their leases. The duplicates (events the killed worker emitted after its last
checkpoint, emitted again by its successor) are printed."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddblocal_env as E  # noqa: E402  (skips with exit 77 when DynamoDB Local or the CLI is missing)

SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
LEASE_MS = 6000 if SLOW else 2000
RENEW_MS = LEASE_MS // 3
WRITES = 300
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
LEASE_TABLE = "ddbpipe_leases_test"


def writer(table, done):
    c = E.ddb_client()
    for i in range(WRITES):
        c.put_item(TableName=table, Item={"pk": {"S": "k%02d" % (i % 23)}, "w": {"N": str(i)}})
        time.sleep(0.02)
    done.set()


def start(tmp, table, app, worker):
    cfg = os.path.join(tmp, worker + ".cfg.json")
    with open(cfg, "w") as f:
        json.dump({"table": table, "region": "us-east-1", "endpoint_url": E.ENDPOINT,
                   "aws_access_key_id": "AKIDLOCAL", "aws_secret_access_key": "secret", "poll_idle_ms": 50,
                   "poll_busy_ms": 0, "discovery_interval_ms": 500, "lease_table": LEASE_TABLE,
                   "application_name": app, "worker_id": worker, "lease_duration_ms": LEASE_MS}, f)
    out = os.path.join(tmp, worker + ".jsonl")
    log = open(os.path.join(tmp, worker + ".log"), "w")
    p = subprocess.Popen([E.BIN, "source", "-c", cfg, "-o", out, "--mode", "stream", "--from", "trim_horizon",
                          "--format", "dynamodb", "--stats-file", os.path.join(tmp, worker + ".stats.json"), "-v"],
                         stdout=subprocess.DEVNULL, stderr=log, env=ENV)
    return {"proc": p, "out": out, "log": log.name, "worker": worker,
            "stats": os.path.join(tmp, worker + ".stats.json")}


def events(path):
    """(key, w) of every whole line."""
    evs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    e = json.loads(line)
                    evs.append((e["keys"]["pk"]["S"], int(e["new"]["w"]["N"])))
    return evs


def owner(app):
    items = E.ddb_client().scan(TableName=LEASE_TABLE, ConsistentRead=True)["Items"] if tables() else []
    held = [i.get("owner", {}).get("S", "") for i in items if i["app"]["S"] == app]
    return held[0] if len(held) == 1 else None


def tables():
    return LEASE_TABLE in E.ddb_client().list_tables()["TableNames"]


def main():
    c = E.ddb_client()
    table = "lease_src_%d" % time.time_ns()
    c.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    app = "ddblocal%d" % time.time_ns()
    done = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        th = threading.Thread(target=writer, args=(table, done), daemon=True)
        th.start()
        # DynamoDB Local answers a TRIM_HORIZON read of a still empty shard with TrimmedDataAccessException
        # (DynamoDB does not): the workers start once the stream holds records.
        while not done.is_set() and not c.describe_table(TableName=table)["Table"].get("ItemCount"):
            if c.scan(TableName=table, Limit=1)["Items"]:
                break
            time.sleep(0.05)
        ws = [start(tmp, table, app, "d%d" % i) for i in range(3)]
        by_name = {w["worker"]: w for w in ws}
        victim = None
        deadline = time.time() + (90 if SLOW else 30)
        while time.time() < deadline and victim is None:
            time.sleep(0.1)
            o = owner(app)
            if o in by_name and len(events(by_name[o]["out"])) >= 20:
                victim = by_name[o]
        E.check(victim is not None, "one worker holds the only shard's lease and emits events")
        if victim is None:
            for w in ws:
                w["proc"].kill()
                print(open(w["log"]).read()[-2000:])
            sys.exit(1)
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait()
        killed_at = time.time()
        print("  killed %s after %d events" % (victim["worker"], len(events(victim["out"]))))
        taken_after = None
        while time.time() - killed_at < (120 if SLOW else 30):
            o = owner(app)
            if o and o != victim["worker"]:
                taken_after = time.time() - killed_at
                break
            time.sleep(0.05)
        E.check(taken_after is not None, "a survivor took the lease over")
        if taken_after is not None:
            print("  takeover %.2f s after SIGKILL (lease %d ms, renewal every %d ms)"
                  % (taken_after, LEASE_MS, RENEW_MS))
            if not SLOW:
                # slack: the test's polling, DynamoDB Local calls and a loaded 2-core machine
                E.check(taken_after <= (LEASE_MS + RENEW_MS) / 1000.0 + 1.5,
                        "taken over within lease_duration_ms + one renewal interval (%.2f s)" % taken_after)
        done.wait(120)
        alive = [w for w in ws if w is not victim]
        want = set(range(WRITES))
        got = set()
        deadline = time.time() + (180 if SLOW else 60)
        while time.time() < deadline:
            got = {w for x in ws for _, w in events(x["out"])}
            if want <= got:
                break
            time.sleep(0.2)
        E.check(want <= got, "the union of the outputs holds every write (%d written, %d missing)"
                % (WRITES, len(want - got)), sorted(want - got)[:10])
        for w in alive:
            w["proc"].send_signal(signal.SIGTERM)
        for w in alive:
            try:
                w["proc"].wait(60 if SLOW else 20)
            except subprocess.TimeoutExpired:
                w["proc"].kill()
                w["proc"].wait()
            E.check(w["proc"].returncode == 0, "%s exits 0 on SIGTERM (rc=%s)" % (w["worker"], w["proc"].returncode),
                    open(w["log"]).read()[-3000:])
        for w in ws:
            per_key = {}
            for k, v in events(w["out"]):
                per_key.setdefault(k, []).append(v)
            E.check(all(v == sorted(v) for v in per_key.values()), "%s keeps per-key write order" % w["worker"])
        E.check(owner(app) == "", "the survivors released the lease on SIGTERM")
        st = [json.load(open(w["stats"])) for w in alive if os.path.exists(w["stats"])]
        E.check(sum(s.get("leases", {}).get("taken", 0) for s in st) >= 1,
                "the survivors' stats count the lease taken", [s.get("leases") for s in st])
        total = sum(len(events(w["out"])) for w in ws)
        print("  duplicates: %d events emitted twice (after the killed worker's last checkpoint)" % (total - len(got)))
    if E.FAILS:
        print("FAILED: %s" % E.FAILS)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
