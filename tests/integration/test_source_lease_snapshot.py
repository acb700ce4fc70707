#!/usr/bin/python3
"""Snapshot scale-out through a lease table (issue 14), all on DynamoDB Local.

  1. `--mode snapshot`, 6 Scan segments of 20-item pages shared by three workers (at most two segment
     leases each, so the killed worker's segments are taken over, not stolen), read-capped so the scan
     lasts a few seconds (longer under DDBPIPE_TEST_SLOW); a worker holding two segments is SIGKILLed once it checkpointed a page. The
     survivors finish the victim's segments from their checkpoints and exit 0. Checked: the union of the
     outputs holds every item; every item out twice is one the killed worker emitted (at most one page per segment it held: its unacknowledged pages) or a page of a
     segment one survivor stole from the other once done with its own (at most one per steal); the lease
     table shows every segment at SEGMENT_END. The duplicates are printed.
  2. `--mode snapshot+stream` with writes running during the scan: three workers, --until-caught-up.
     Checked: exactly one worker recorded the stream positions; replaying the union of the outputs
     (snapshot rows, then each key's changes in order) gives the table's contents after the writes up to
     the stream tip the workers stopped at, which holds every write made while the lease table showed the
     Scan unfinished (all of them when the writer ends first; a loaded machine may slow the writer past
     the capped Scan); every worker exits 0.
DDBPIPE_TEST_SLOW (asan/valgrind): longer leases and deadlines, fewer items at a lower read cap."""
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
from lease_env import SLOW, leases  # noqa: E402

ITEMS = 720 if SLOW else 1200
PAGE = 20
SEGMENTS = 6


def create_table(name, stream):
    c = E.ddb_client()
    kw = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    c.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **kw)
    for i in range(0, ITEMS, 25):
        c.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": {"pk": {"S": "i%05d" % j}, "v": {"N": "0"}, "pad": {"S": "x" * 300}}}}
            for j in range(i, min(i + 25, ITEMS))]})


def start(tmp, table, app, worker, mode, extra=(), **cfg_extra):
    return L.start(tmp, worker, app, ["--mode", mode, "--format", "dynamodb"] + list(extra), table=table,
                   segments=SEGMENTS, scan_page_items=PAGE, **cfg_extra)


def events(path):
    return L.lines(path)


def wait_exit(ws, timeout, what):
    L.wait_exit(ws, timeout)
    for w in ws:
        E.check(w["proc"].returncode == 0, "%s: %s exits 0 by itself (rc=%s)" % (what, w["worker"],
                w["proc"].returncode), L.log_tail(w))


def test_kill(tmp):
    table = "lease_snap_%d" % time.time_ns()
    create_table(table, False)
    app = "snap%d" % time.time_ns()
    # 20 items of ~330 bytes: 2 read units a page; 10 units/s: ~5 pages/s per worker
    ws = [start(tmp, table, app, "s%d" % i, "snapshot", max_leases_per_worker=2,
                max_read_capacity_per_s=6 if SLOW else 10)
          for i in range(3)]
    victim, held = None, []
    deadline = time.time() + (90 if SLOW else 30)
    while time.time() < deadline and victim is None:
        time.sleep(0.1)
        ls = leases(app)
        owners = {}
        for sh, (o, cp) in ls.items():
            if sh.startswith("#segment/") and o and cp != "SEGMENT_END":
                owners.setdefault(o, []).append((sh, cp))
        for w in ws:
            mine = owners.get(w["worker"], [])
            if len(mine) == 2 and any(cp == "KEY" for _, cp in mine) and len(owners) >= 2:
                victim, held = w, [sh for sh, _ in mine]
                break
    E.check(victim is not None, "kill: the workers share the segments, one holds two and checkpointed a page")
    if victim is None:
        L.kill_all(ws)
        return
    victim["proc"].send_signal(signal.SIGKILL)
    victim["proc"].wait()
    print("  killed %s holding %s after %d items" % (victim["worker"], held, len(events(victim["out"]))))
    alive = [w for w in ws if w is not victim]
    wait_exit(alive, 240 if SLOW else 60, "kill")
    items = {w["worker"]: [e["new"]["pk"]["S"] for e in events(w["out"])] for w in ws}
    union = {}
    for name, ks in items.items():
        for k in ks:
            union[k] = union.get(k, 0) + 1
    want = {"i%05d" % j for j in range(ITEMS)}
    E.check(set(union) == want, "kill: the union of the outputs holds every item (%d items, %d missing)"
            % (ITEMS, len(want - set(union))), sorted(want - set(union))[:5])
    # A survivor done with its own segments may steal one from the other survivor (fair share): the
    # page the old owner emitted before its conditional checkpoint failed comes out twice.
    st = [json.load(open(w["stats"])) for w in alive if os.path.exists(w["stats"])]
    stolen = sum(s.get("leases", {}).get("stolen", 0) for s in st)
    surv = [k for w in alive for k in items[w["worker"]]]
    E.check(len(surv) - len(set(surv)) <= PAGE * stolen, "kill: the survivors' outputs repeat at most one page "
            "per segment stolen between them (%d repeated, %d stolen)" % (len(surv) - len(set(surv)), stolen))
    dups = [k for k, n in union.items() if n > 1]
    vset = set(items[victim["worker"]])
    E.check(len(dups) <= PAGE * (len(held) + stolen), "kill: duplicates only from the killed worker's "
            "unacknowledged pages (at most one per segment it held) and stolen segments' pages (%d duplicates, "
            "%d segments held, %d stolen, %d-item pages)" % (len(dups), len(held), stolen, PAGE))
    print("  duplicates: %d items emitted twice (%d of them by the killed worker; %d steals)"
          % (len(dups), len([k for k in dups if k in vset]), stolen))
    ls = leases(app)
    segs = {sh: cp for sh, (o, cp) in ls.items() if sh.startswith("#segment/")}
    E.check(len(segs) == SEGMENTS and all(cp == "SEGMENT_END" for cp in segs.values()),
            "kill: the lease table shows every segment at SEGMENT_END", segs)
    # at least one segment of their own each, and the killed worker's
    E.check(sum(s.get("leases", {}).get("taken", 0) for s in st) >= len(held) + 2,
            "kill: the survivors' stats count the segment leases they took", [s.get("leases") for s in st])


class Writer(threading.Thread):
    """Updates, inserts and deletes while the workers scan; `ops` is (key, item or None for a delete) of every
    write in order, `done_at` the time each returned."""

    def __init__(self, table):
        super().__init__(daemon=True)
        self.table, self.stop = table, threading.Event()
        self.ops, self.done_at = [], []

    def run(self):
        c = E.ddb_client()
        n = 0
        while not self.stop.is_set() and n < 400:
            k = "i%05d" % ((n * 37) % (ITEMS + 50))
            if n % 7 == 3:
                c.delete_item(TableName=self.table, Key={"pk": {"S": k}})
                self.ops.append((k, None))
            else:
                item = {"pk": {"S": k}, "v": {"N": str(n + 1)}, "pad": {"S": "y"}}
                c.put_item(TableName=self.table, Item=item)
                self.ops.append((k, item))
            self.done_at.append(time.time())
            n += 1
            time.sleep(0.01)


def canon(item):
    return json.dumps(item, sort_keys=True)


def scan_unfinished(app):
    """True while the lease table shows a Scan segment not at SEGMENT_END (or not all segments yet)."""
    segs = [cp for sh, (o, cp) in leases(app).items() if sh.startswith("#segment/")]
    return len(segs) < SEGMENTS or any(cp != "SEGMENT_END" for cp in segs)


def test_snapshot_stream(tmp):
    table = "lease_snapst_%d" % time.time_ns()
    create_table(table, True)
    app = "snapst%d" % time.time_ns()
    wr = Writer(table)
    ws = [start(tmp, table, app, "t%d" % i, "snapshot+stream", ["--until-caught-up"], max_read_capacity_per_s=30)
          for i in range(3)]
    wr.start()
    # --until-caught-up ends the run at the stream's tip once every segment is done: writes still running
    # then (a loaded machine slows the writer down more than the capped Scan) may come after the tip the
    # workers reached. No worker reads the stream before the lease table shows every segment at
    # SEGMENT_END, so every write that returned while a segment was unfinished must be in the output.
    scan_seen = None  # the last time the lease table showed the Scan unfinished
    deadline = time.time() + (240 if SLOW else 90)
    while time.time() < deadline and any(w["proc"].poll() is None for w in ws):
        t = time.time()
        if scan_unfinished(app):
            scan_seen = t
        time.sleep(0.1)
    wait_exit(ws, max(1, deadline - time.time()), "snapshot+stream")
    wr.join(120)
    must = sum(1 for t in wr.done_at if scan_seen is not None and t < scan_seen)
    recorded = [w["worker"] for w in ws if "recorded the stream position" in open(w["log"]).read()]
    E.check(len(recorded) == 1, "snapshot+stream: exactly one worker recorded the stream positions", recorded)
    # Replay: every worker's snapshot rows first (a row is the state at some point after the positions),
    # then the stream events of the union per key in sequence order.
    model = {}
    evs = [e for w in ws for e in events(w["out"])]
    for e in evs:
        if e["op"] == "snapshot":
            model[e["new"]["pk"]["S"]] = canon(e["new"])
    changes = sorted((e for e in evs if e["op"] != "snapshot"), key=lambda e: int(e["sequence"]))
    seen = set()
    for e in changes:
        if e["sequence"] in seen:
            continue
        seen.add(e["sequence"])
        k = e["keys"]["pk"]["S"]
        if e["op"] == "remove":
            model.pop(k, None)
        else:
            model[k] = canon(e["new"])
    # The table after the first j writes, for every j: the output replayed must be one of them, with
    # j at least the writes made while the Scan ran (all of them when the writer finished first).
    state = {"i%05d" % j: canon({"pk": {"S": "i%05d" % j}, "v": {"N": "0"}, "pad": {"S": "x" * 300}})
             for j in range(ITEMS)}
    diff = {k for k in set(state) | set(model) if state.get(k) != model.get(k)}
    matches = [0] if not diff else []
    for j, (k, item) in enumerate(wr.ops, 1):
        if item is None:
            state.pop(k, None)
        else:
            state[k] = canon(item)
        if state.get(k) == model.get(k):
            diff.discard(k)
        else:
            diff.add(k)
        if not diff:
            matches.append(j)
    c = E.ddb_client()
    final = {}
    for page in c.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for it in page["Items"]:
            final[it["pk"]["S"]] = canon(it)
    E.check(final == state, "snapshot+stream: the writer's log of %d writes gives the table's final contents"
            % len(wr.ops))
    print("  %d of %d writes made while the Scan ran; the output replayed is the table after %s of them"
          % (must, len(wr.ops), matches[-1:] or "none"))
    E.check(any(j >= must for j in matches), "snapshot+stream: replaying the union gives the table's contents "
            "after the writes up to the tip the workers reached, at least the %d made during the Scan (%d keys "
            "differ from the final table)" % (must, sum(1 for k in set(final) | set(model)
                                                      if final.get(k) != model.get(k))),
            sorted(k for k in set(final) | set(model) if final.get(k) != model.get(k))[:5])
    print("  %d snapshot rows, %d stream events over three workers" % (
        sum(1 for e in evs if e["op"] == "snapshot"), len(changes)))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_kill, test_snapshot_stream):
            t0 = time.time()
            t(tmp)
            print("  %s (%.1f s)" % (t.__name__, time.time() - t0))
    L.finish()


if __name__ == "__main__":
    main()
