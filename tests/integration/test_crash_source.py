#!/usr/bin/python3
"""Crash safety of `ddbpipe source --checkpoint` (issue 6) against DynamoDB Local.

A table with a NEW_AND_OLD_IMAGES stream gets items and changes (boto3). `ddbpipe source --mode
snapshot+stream --from trim_horizon --format dynamodb --checkpoint CP -o OUT` is killed with SIGKILL
20 times (10 under ASan, 6 under valgrind: DDBPIPE_TEST_SLOW), each restart resuming with the same checkpoint and appending to the same
output file (what a user does), while a writer keeps putting, updating and deleting items during the
runs and between them. A run is killed only after it wrote a checkpoint of its own (at once or up to
2 s later), so every kill lands in a run that did something, even under valgrind. The last run
uses --until-caught-up. Checked:
  - every line of the output is a whole JSON event (a torn line of a killed run is not left behind);
  - no event lost: replaying the output in order (snapshot/insert/modify set the new image, remove
    deletes the key) gives the final table exactly;
  - every change written after the first run took its stream position appears at least once (puts and updates by
    their unique write id in the new image, deletes by key and the write id of the old image);
    duplicates are allowed (at-least-once), but bounded: a restart may repeat only what the
    checkpoint did not cover at the kill (stream events past the stored sequence number of their
    shard, snapshot rows while the stored snapshot was unfinished);
  - a resumed run starts after the stored positions: it emits no stream event at or before the
    stored sequence number of its shard, and no snapshot row once the snapshot is stored as done;
  - every restart resumed from a checkpoint, at least a third of them (2 at least) from one holding
    stream positions (the first runs may still be in the snapshot).
Seeded: the seed is printed; DDBPIPE_CRASH_SEED=N repeats the kill schedule and the writes' plan
(timing still varies).
"""
import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
KILLS = {"valgrind": 6, "asan": 10}.get(SLOW, 20)
WAIT_S = 300 if SLOW else 120  # longest wait for a run to write its checkpoint
INITIAL = 2500
KEYS = 3200
client = ddb_client  # one per writer thread (boto3 clients are not shared across threads)
DDB = client()


def canon(item):
    """A typed item (boto3 or the dynamodb output format) -> canonical JSON text."""
    def conv(v):
        if isinstance(v, dict):
            return {k: (sorted(conv(x)) if k in ("SS", "NS", "BS") else conv(x)) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, (bytes, bytearray)):
            return base64.b64encode(bytes(v)).decode()
        return v
    return json.dumps(conv(item), sort_keys=True)


def keyof(it):
    return (it["pk"]["S"], it["sk"]["N"])


def key_av(k):
    return {"pk": {"S": "p%02d" % (k % 41)}, "sk": {"N": str(k)}}


def make_item(k, w, rnd):
    it = key_av(k)
    it.update({"w": {"N": str(w)}, "s": {"S": "write %d é" % w}, "b": {"B": bytes([w % 256, 0, 255])},
               "big": {"N": "9876543210987654321098765432109876543.%d" % (w % 10)}, "ok": {"BOOL": w % 2 == 0},
               "nul": {"NULL": True}, "ss": {"SS": ["a", "w%d" % w]}, "l": {"L": [{"N": str(w)}, {"S": "x"}]},
               "m": {"M": {"n": {"N": str(w % 13)}}}, "pad": {"S": "x" * rnd.randrange(300)}})
    return it


def scan(table):
    out = {}
    for page in DDB.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for it in page["Items"]:
            out[keyof(it)] = canon(it)
    return out


class Writer:
    """Puts, updates and deletes with a unique write id each; remembers what the stream must show."""

    def __init__(self, table, seed):
        self.table, self.rnd, self.cl = table, random.Random(seed), client()
        self.w = 0
        self.live = {}       # key index -> write id of the stored item
        self.expect = []     # (kind, key, write id) that must appear in the output
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = None

    def one(self, record=True):
        rnd = self.rnd
        k = rnd.randrange(KEYS)
        self.w += 1
        w = self.w
        x = rnd.random()
        if k in self.live and x < 0.25:
            old = self.live.pop(k)
            self.cl.delete_item(TableName=self.table, Key=key_av(k))
            exp = ("remove", keyof(key_av(k)), old)
        elif k in self.live and x < 0.6:
            self.cl.update_item(TableName=self.table, Key=key_av(k), UpdateExpression="SET w = :w, u = :u",
                                ExpressionAttributeValues={":w": {"N": str(w)}, ":u": {"S": "upd %d" % w}})
            self.live[k] = w
            exp = ("modify", keyof(key_av(k)), w)
        else:
            self.cl.put_item(TableName=self.table, Item=make_item(k, w, rnd))
            exp = ("insert" if k not in self.live else "modify", keyof(key_av(k)), w)
            self.live[k] = w
        if record:
            with self.lock:
                self.expect.append(exp)

    def initial(self, n):
        for k in range(n):
            self.w += 1
            self.live[k] = self.w
        ids = list(self.live.items())
        for i in range(0, len(ids), 25):
            self.cl.batch_write_item(RequestItems={self.table: [
                {"PutRequest": {"Item": make_item(k, w, self.rnd)}} for k, w in ids[i:i + 25]]})

    def _run(self):
        while not self.stop.is_set():
            self.one()
            time.sleep(0.01)

    def start(self):
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def pause(self):
        self.stop.set()
        self.thread.join()


def read_checkpoint(path):
    """-> (snapshot done, {shard: (sequence number or None, finished)}) or None."""
    try:
        with open(path) as f:
            c = json.load(f)
    except (OSError, ValueError):
        return None
    shards = {sh["id"]: (sh.get("seq"), sh.get("finished")) for sh in (c.get("stream") or {}).get("shards", [])}
    return bool((c.get("snapshot") or {}).get("done")), shards


def raw(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def whole_lines(path):
    """The complete lines of the output (a killed run may leave a torn last line)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [ln for ln in f if ln.endswith("\n")]


def covered(ev, cp):
    """Whether the checkpoint cp covers the event (a restart must not emit it again)."""
    done, shards = cp
    if ev.get("op") == "snapshot":
        return done
    seq, _ = shards.get(ev.get("shard"), (None, False))
    return seq is not None and int(ev["sequence"]) <= int(seq)


def main():
    seed = int(os.environ.get("DDBPIPE_CRASH_SEED", random.randrange(1 << 31)))
    print("seed %d (DDBPIPE_CRASH_SEED=%d repeats this plan)" % (seed, seed), flush=True)
    rnd = random.Random(seed)
    wd = tempfile.mkdtemp(prefix="ddbpipe-crash-source-")
    table = "crash_source_%d" % os.getpid()
    DDB.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    DDB.get_waiter("table_exists").wait(TableName=table)
    wr = Writer(table, seed + 1)
    wr.initial(INITIAL)
    for _ in range(200):  # changes before the first run: in the stream and in the snapshot
        wr.one(record=False)

    conf = {"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
            "aws_secret_access_key": "secret", "poll_idle_ms": 100, "poll_busy_ms": 0,
            "discovery_interval_ms": 1000}
    cpath = os.path.join(wd, "source.json")
    with open(cpath, "w") as f:
        json.dump(conf, f)
    ck = os.path.join(wd, "source.checkpoint")
    out = os.path.join(wd, "out.jsonl")
    base = ["-c", cpath, "--mode", "snapshot+stream", "--from", "trim_horizon", "--format", "dynamodb",
            "--segments", "4", "--checkpoint", ck, "-o", out]

    killed = torn = resumed = resumed_any = 0
    dup_total = uncovered_total = 0
    t0 = time.time()

    def check_resume(what, cp, before, after):
        """Events of a run started from checkpoint cp, given the output lines before and after it."""
        if cp is None:
            return 0, 0
        prior = [json.loads(x) for x in before]
        seen = {json.dumps(e, sort_keys=True) for e in prior}
        new = [json.loads(x) for x in after[len(before):]]
        early = [e for e in new if covered(e, cp)]
        check(not early, "%s: resumed after the stored positions (%d events at or before them, e.g. %s)" %
              (what, len(early), [(e.get("op"), e.get("shard"), e.get("sequence")) for e in early[:2]]))
        uncovered = sum(1 for e in prior if not covered(e, cp))
        dups = sum(1 for e in new if json.dumps(e, sort_keys=True) in seen)
        check(dups <= uncovered, "%s: repeats only what the checkpoint did not cover (%d repeated, %d uncovered)"
              % (what, dups, uncovered))
        return dups, uncovered

    for run in range(KILLS):
        cp = read_checkpoint(ck)
        before = whole_lines(out)
        if cp:
            resumed_any += 1
        if cp and any(seq for seq, _ in cp[1].values()):
            resumed += 1
        # Killed once this run has written a checkpoint of its own (at most one a second), at once
        # or up to 2 s later: every kill lands in a run that did something, however slow the
        # machine (under valgrind the process takes seconds to start).
        delay = 0.0 if rnd.random() < 0.3 else rnd.uniform(0.05, 2.0)
        cp_text = raw(ck)
        start = time.time()
        p = subprocess.Popen([BIN, "source"] + base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run == 0:
            # snapshot+stream takes the stream position (LATEST) before the scan: a change written
            # earlier is covered by the snapshot row (its final state), not as an event. So the
            # writes that must come out as events start once the scan emits.
            deadline = time.time() + 60
            while time.time() < deadline and p.poll() is None and not (os.path.exists(out) and
                                                                     os.path.getsize(out) > 0):
                time.sleep(0.005)
            wr.start()  # writes during the runs ...
        moved_at = None
        while p.poll() is None and time.time() - start < WAIT_S:
            if moved_at is None and raw(ck) != cp_text:
                moved_at = time.time()
            if moved_at is not None and time.time() - moved_at >= delay:
                break
            time.sleep(0.01)
        check(moved_at is not None, "run %d: wrote a checkpoint before the kill" % (run + 1))
        delay = time.time() - start
        alive = p.poll() is None
        if alive:
            os.kill(p.pid, signal.SIGKILL)
            killed += 1
        rc = p.wait()
        err = p.stderr.read()
        torn += err.count("torn last line")
        size = os.path.getsize(out) if os.path.exists(out) else 0
        print("  run %d: %s after %.2f s; output %d bytes" % (run + 1, "killed" if alive else "exited %d" % rc,
                                                              delay, size), flush=True)
        if not alive:
            check(False, "run %d: follows the stream until killed (exited %d)" % (run + 1, rc), err[-1500:])
        # the next run cuts this run's torn last line: compare whole lines only
        d, u = check_resume("run %d" % (run + 1), cp, before, whole_lines(out))
        dup_total += d
        uncovered_total += u
        # ... and between the restarts
        if rnd.random() < 0.5:
            wr.pause()
            for _ in range(rnd.randrange(1, 60)):
                wr.one()
            wr.start()
    wr.pause()
    for _ in range(50):
        wr.one()
    n_written = len(wr.expect)
    # The last run reads to the stream's tip and exits.
    cp = read_checkpoint(ck)
    before = whole_lines(out)
    p = subprocess.run([BIN, "source"] + base + ["--until-caught-up"], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "last run with --until-caught-up exits 0 (rc=%d)" % p.returncode, p.stderr[-1500:])
    d, u = check_resume("last run", cp, before, whole_lines(out))
    dup_total += d
    uncovered_total += u
    elapsed = time.time() - t0
    check(killed == KILLS, "%d of %d runs killed with SIGKILL" % (killed, KILLS))
    check(resumed_any == KILLS - 1, "%d of the %d restarts resumed from a checkpoint" % (resumed_any, KILLS - 1))
    check(resumed >= max(2, KILLS // 3), "%d of %d runs resumed from a checkpoint with stream positions (at least %d)"
          % (resumed, KILLS, max(2, KILLS // 3)))

    events, bad = [], []
    with open(out) as f:
        for n, line in enumerate(f, 1):
            try:
                events.append(json.loads(line))
            except ValueError:
                bad.append((n, line[:200]))
    check(not bad and events, "every output line is a whole JSON event (%d events, %d bad)" % (len(events), len(bad)),
          bad[:3])

    model = {}
    seen = set()
    ops = {}
    for ev in events:
        op = ev.get("op")
        ops[op] = ops.get(op, 0) + 1
        if op in ("snapshot", "insert", "modify"):
            model[keyof(ev["new"])] = canon(ev["new"])
            seen.add((op if op != "snapshot" else "snapshot", keyof(ev["new"]), int(ev["new"]["w"]["N"])))
        elif op == "remove":
            k = keyof(ev["keys"])
            model.pop(k, None)
            if ev.get("old"):
                seen.add(("remove", k, int(ev["old"]["w"]["N"])))
    want = scan(table)
    detail = ""
    if model != want:
        missing = [k for k in want if k not in model]
        extra = [k for k in model if k not in want]
        differ = [k for k in want if k in model and model[k] != want[k]]
        detail = "missing %d %s; extra %d %s; differ %d %s" % (len(missing), missing[:3], len(extra), extra[:3],
                                                               len(differ), differ[:3])
    check(model == want, "replaying the output in order gives the final table (%d items; events %s)" %
          (len(want), ops), detail)
    # Puts of a key that existed show as modify; a put recorded as insert may also come out as
    # modify only if the key came back in between, so match puts and updates by write id.
    by_w = {(k, w) for (_, k, w) in seen if _ in ("insert", "modify")}
    lost = []
    for kind, k, w in wr.expect:
        if kind == "remove":
            ok = ("remove", k, w) in seen
        else:
            ok = (k, w) in by_w
        if not ok:
            lost.append((kind, k, w))
    check(not lost, "every one of the %d changes written after the first run took its stream position came out (%d lost)" %
          (n_written, len(lost)), lost[:5])
    dup = len(events) - len(set(json.dumps(e, sort_keys=True) for e in events))
    print("  %d events, %d duplicates (at-least-once; restarts repeated %d of the %d events their checkpoints "
          "did not cover), %d torn lines of killed runs cut on restart, %.1f s" %
          (len(events), dup, dup_total, uncovered_total, torn, elapsed))
    DDB.delete_table(TableName=table)
    print("%d failed (seed %d)" % (len(FAILS), seed))
    if not FAILS:
        shutil.rmtree(wd, ignore_errors=True)
    else:
        print("files kept in " + wd)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
