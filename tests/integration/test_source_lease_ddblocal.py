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
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddblocal_env as E  # noqa: E402  (skips with exit 77 when DynamoDB Local or the CLI is missing)
import lease_env as L  # noqa: E402  (the lease settings, workers, the lease table)
from lease_env import SLOW  # noqa: E402

WRITES = 300


def writer(table, done):
    c = E.ddb_client()
    for i in range(WRITES):
        c.put_item(TableName=table, Item={"pk": {"S": "k%02d" % (i % 23)}, "w": {"N": str(i)}})
        time.sleep(0.02)
    done.set()


def start(tmp, table, app, worker):
    return L.start(tmp, worker, app, ["--mode", "stream", "--from", "trim_horizon", "--format", "dynamodb"],
                   table=table)


def events(path):
    """(key, w) of every whole line."""
    return [(e["keys"]["pk"]["S"], int(e["new"]["w"]["N"])) for e in L.lines(path)]


def owner(app):
    held = [i.get("owner", {}).get("S", "") for i in L.lease_items(app)]
    return held[0] if len(held) == 1 else None


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
            L.kill_all(ws)
            sys.exit(1)
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait()
        print("  killed %s after %d events" % (victim["worker"], len(events(victim["out"]))))
        taken_after = L.wait_for(lambda: owner(app) not in (None, "", victim["worker"]), 120 if SLOW else 30)
        E.check(taken_after is not None, "a survivor took the lease over")
        L.check_takeover(taken_after)
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
        L.terminate(alive, 60 if SLOW else 20)
        for w in alive:
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
    L.finish()


if __name__ == "__main__":
    main()
