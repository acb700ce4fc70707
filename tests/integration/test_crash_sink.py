#!/usr/bin/python3
"""Crash safety of `ddbpipe sink --checkpoint` (issue 6) against DynamoDB Local.

A few thousand changes (plain JSON upserts, Feldera insert/delete, Debezium c/u/d with and without
`payload`, DynamoDB Streams records; many changes per key, deletes and re-inserts) go through
`ddbpipe sink -c CONF -i FILE --checkpoint CP`, which is killed with SIGKILL 20 times in a row (8
under ASan, 5 under valgrind: DDBPIPE_TEST_SLOW), each restart resuming from the checkpoint; the
last run finishes. A run is killed only after it has moved the checkpoint (at once, or a random
0..0.5 s later), so every kill tests a checkpoint that run wrote, however slow the machine; at
least half the kills must land mid-run, in runs resumed from a checkpoint. Checked:
  - the final scanned table equals the model (last change of every key) exactly;
  - the checkpoint offset never moves backwards (polled while running and after every kill);
  - at every kill, every change up to the checkpoint is in the table, or superseded by a later one, or was
    folded while pending into the key's next change after the checkpoint (then the table holds an
    earlier change of the key, and the resumed run replays the next one);
  - each restart says on stderr that it resumes, at the offset of the checkpoint file;
  - the last run exits 0 with the checkpoint at the end of the input.
Seeded: the seed is printed; DDBPIPE_CRASH_SEED=N repeats a run.
"""
import base64
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
KILLS = {"valgrind": 5, "asan": 8}.get(SLOW, 20)
CHANGES = {"valgrind": 2500, "asan": 8000}.get(SLOW, 20000)
KEYS = 400
WAIT_S = 300 if SLOW else 120  # longest wait for a run to move the checkpoint
DDB = ddb_client()


def av(v):
    """Plain JSON value -> the AttributeValue the sink stores for it (default type mapping)."""
    if v is None:
        return {"NULL": True}
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, (int, float)):
        return {"N": str(v)}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, list):
        return {"L": [av(x) for x in v]}
    return {"M": {k: av(x) for k, x in v.items()}}


def norm(a):
    """boto3 typed value -> comparable JSON (bytes as base64, sets sorted)."""
    (t, v), = a.items()
    if t == "B":
        return {"B": base64.b64encode(v).decode()}
    if t in ("SS", "NS"):
        return {t: sorted(v)}
    if t == "BS":
        return {"BS": sorted(base64.b64encode(x).decode() for x in v)}
    if t == "L":
        return {"L": [norm(x) for x in v]}
    if t == "M":
        return {"M": {k: norm(x) for k, x in v.items()}}
    return {t: v}


def scan(table):
    out, kw = {}, {}
    while True:
        r = DDB.scan(TableName=table, ConsistentRead=True, **kw)
        for it in r["Items"]:
            out[(it["pk"]["S"], it["sk"]["N"])] = {k: norm(x) for k, x in it.items()}
        if "LastEvaluatedKey" not in r:
            return out
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def gen_changes(rnd):
    """-> (lines, per line: (key, typed item or None for a delete, change index))."""
    lines, changes = [], []
    for i in range(CHANGES):
        k = rnd.randrange(KEYS)
        key = ("p%02d" % (k % 37), str(k))
        row = {"pk": key[0], "sk": k, "v": i, "s": "change %d of key %d" % (i, k), "ok": i % 2 == 0,
               "tags": ["t%d" % (i % 5), i % 7], "m": {"n": i % 11, "z": None}, "pad": "x" * rnd.randrange(120)}
        keys_only = {"pk": key[0], "sk": k}
        x = rnd.random()
        if x < 0.72:  # an upsert in one of the formats
            f = rnd.randrange(5)
            if f == 0:
                line = row
            elif f == 1:
                line = {"insert": row}
            elif f == 2:
                line = {"op": rnd.choice("cru"), "before": keys_only if rnd.random() < 0.5 else None, "after": row}
            elif f == 3:
                line = {"payload": {"op": "u", "before": None, "after": row, "source": {"table": "t"}}}
            else:
                line = {"eventName": rnd.choice(["INSERT", "MODIFY"]),
                        "dynamodb": {"Keys": {"pk": av(key[0]), "sk": av(k)},
                                     "NewImage": {c: av(v) for c, v in row.items()}}}
            changes.append((key, {c: av(v) for c, v in row.items()}, i))
        else:  # a delete in one of the formats
            f = rnd.randrange(3)
            if f == 0:
                line = {"delete": row if rnd.random() < 0.5 else keys_only}
            elif f == 1:
                line = {"op": "d", "before": row, "after": None}
            else:
                line = {"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": av(key[0]), "sk": av(k)}}}
            changes.append((key, None, i))
        lines.append(json.dumps(line, separators=(",", ":")))
    return lines, changes


def model_upto(changes, n):
    m = {}
    for key, item, _ in changes[:n]:
        if item is None:
            m.pop(key, None)
        else:
            m[key] = item
    return m


def read_cp(path):
    try:
        with open(path) as f:
            c = json.load(f)
        return int(c["offset"]), int(c["line"])
    except (OSError, ValueError, KeyError):
        return None


def main():
    seed = int(os.environ.get("DDBPIPE_CRASH_SEED", random.randrange(1 << 31)))
    print("seed %d (DDBPIPE_CRASH_SEED=%d repeats this run)" % (seed, seed), flush=True)
    rnd = random.Random(seed)
    wd = tempfile.mkdtemp(prefix="ddbpipe-crash-sink-")
    table = "crash_sink_%d" % os.getpid()
    DDB.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    DDB.get_waiter("table_exists").wait(TableName=table)

    lines, changes = gen_changes(rnd)
    inp = os.path.join(wd, "changes.jsonl")
    with open(inp, "w") as f:
        f.write("\n".join(lines) + "\n")
    size = os.path.getsize(inp)
    # byte offset just past each line -> number of lines
    ends, off = {}, 0
    for n, ln in enumerate(lines, 1):
        off += len(ln.encode()) + 1
        ends[off] = n
    model = model_upto(changes, len(changes))
    print("input: %d changes on %d keys (%d bytes); model: %d items" % (len(lines), KEYS, size, len(model)))

    # Slow on purpose, so a kill lands mid-run: small batches, few requests in flight and a small
    # buffer (reading stops while it is full, so few changes fold).
    conf = {"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
            "aws_secret_access_key": "secret", "batch_size": 1, "max_concurrent_requests": 1,
            "max_buffered_records": 20, "flush_interval_ms": 50}
    cpath = os.path.join(wd, "sink.json")
    with open(cpath, "w") as f:
        json.dump(conf, f)
    ck = os.path.join(wd, "sink.checkpoint")
    dl = os.path.join(wd, "dead.jsonl")
    cmd = [BIN, "sink", "-c", cpath, "-i", inp, "--checkpoint", ck, "--dead-letter", dl]
    # The last run only finishes the input: full batches and more in flight, so a loaded machine
    # does not leave it thousands of one-item calls (same table, same checkpoint).
    fast = dict(conf, batch_size=25, max_concurrent_requests=8, max_buffered_records=2000)
    fpath = os.path.join(wd, "sink-last.json")
    with open(fpath, "w") as f:
        json.dump(fast, f)
    cmd_last = [BIN, "sink", "-c", fpath, "-i", inp, "--checkpoint", ck, "--dead-letter", dl]

    history = []  # every checkpoint offset observed, in time order
    killed_mid = resumed = 0  # resumed: started from a checkpoint, then killed after moving it
    t0 = time.time()
    for run in range(KILLS + 1):
        before = read_cp(ck)
        last = run == KILLS
        # Killed once this run has moved the checkpoint (written on the first acknowledgement, then
        # at most once a second), at once or 0..0.5 s later: the kill always tests a checkpoint this run wrote.
        extra = 0.0 if rnd.random() < 0.5 else rnd.uniform(0.0, 0.5)
        p = subprocess.Popen(cmd_last if last else cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        start = time.time()
        moved_at = None
        while p.poll() is None:
            c = read_cp(ck)
            if c:
                history.append(c[0])
            if not last and moved_at is None and c and (before is None or c[0] > before[0]):
                moved_at = time.time()
            if not last and moved_at is not None and time.time() - moved_at >= extra:
                break
            if time.time() - start > (2 * WAIT_S if last else WAIT_S):
                break
            time.sleep(0.01)
        alive = p.poll() is None
        if alive:
            os.kill(p.pid, signal.SIGKILL)
        rc = p.wait()
        err = p.stderr.read()
        after = read_cp(ck)
        if after:
            history.append(after[0])
        what = "run %d (%s after %.2f s)" % (run + 1, "killed" if alive else "exited %d" % rc, time.time() - start)
        print("  %s: checkpoint %s -> %s" % (what, before, after), flush=True)
        if before and before[0] > 0:
            m = re.search(r"resuming \S+ at byte (\d+)", err)
            check(m is not None and int(m.group(1)) == before[0],
                  "%s: stderr says it resumes at the checkpoint's byte %d" % (what, before[0]), err[-800:])
        if after:
            check(after[0] in ends or after[0] == 0,
                  "%s: checkpoint offset %d is at a line boundary" % (what, after[0]))
            check(ends.get(after[0], 0) == after[1] or after[0] == 0,
                  "%s: checkpoint line %d matches its offset %d" % (what, after[1], after[0]))
        if last:
            check(not alive and rc == 0, "last run exits 0 (rc=%s)" % rc, err[-1500:])
            break
        if not alive:
            check(rc == 0, "%s: a run that was not killed exits 0" % what, err[-1500:])
            continue
        killed_mid += 1
        if before and before[0] > 0 and moved_at is not None:
            resumed += 1
        check(moved_at is not None, "%s: killed after it moved the checkpoint (%s -> %s)" % (what, before, after))
        # The guarantee itself: at the kill, every change up to the checkpoint is in the table, or
        # a later change of its key is (replays after the checkpoint may be ahead of it).
        if after:
            upto = after[1]
            got = scan(table)
            last_of = {}
            for key, item, i in changes[:upto]:
                last_of[key] = (item, i)
            later, earlier = {}, {}
            for key, item, i in changes[upto:]:
                later.setdefault(key, []).append((item, i))
            for key, item, i in changes[:upto]:
                earlier.setdefault(key, []).append(item)
            behind, folded = [], 0
            for key, (item, i) in last_of.items():
                cur = got.get(key)
                ok = (cur == item) if item is not None else cur is None
                if not ok:  # superseded by a later change of the key?
                    ok = any((cur is None and it is None) or (it is not None and cur == it)
                             for it, _ in later.get(key, []))
                if not ok and key in later:
                    # Folded past the checkpoint (docs/semantics.md): the change was replaced while
                    # pending by the key's next change, read before the kill but after the
                    # checkpoint; the resumed run replays that one. The table then still holds an
                    # earlier change of the key (or none), never anything else.
                    ok = any(it == cur for it in earlier[key][:-1]) or (cur is None and len(earlier[key]) == 1)
                    folded += ok
                if not ok:
                    behind.append((key, i, cur and cur.get("v")))
            check(not behind, "%s: every change up to line %d is in the table, superseded, or folded into a "
                  "change after the checkpoint (%d keys behind, %d folded)" % (what, upto, len(behind), folded),
                  behind[:5])
    elapsed = time.time() - t0
    check(killed_mid >= KILLS // 2, "%d of %d runs were killed mid-run (at least half)" % (killed_mid, KILLS))
    check(resumed >= KILLS // 2 - 1, "%d runs resumed from a checkpoint, moved it and were killed (at least %d)" %
          (resumed, KILLS // 2 - 1))
    back = [(a, b) for a, b in zip(history, history[1:]) if b < a]
    check(not back, "the checkpoint offset never moved backwards (%d observations)" % len(history), back[:5])
    final = read_cp(ck)
    check(final == (size, len(lines)), "final checkpoint at the end of the input (%s, want %s)" %
          (final, (size, len(lines))))
    dead = open(dl).read() if os.path.exists(dl) else ""
    check(dead == "", "nothing dead-lettered", dead[:1000])
    got = scan(table)
    if got != model:
        missing = [k for k in model if k not in got]
        extra = [k for k in got if k not in model]
        differ = [k for k in model if k in got and got[k] != model[k]]
        detail = "missing %d %s; extra %d %s; differ %d %s" % (
            len(missing), missing[:3], len(extra), extra[:3], len(differ),
            [(k, got[k].get("v"), model[k].get("v")) for k in differ[:3]])
    else:
        detail = ""
    check(got == model, "final table equals the model exactly (%d items) after %d kills in %.1f s" %
          (len(model), killed_mid, elapsed), detail)
    DDB.delete_table(TableName=table)
    print("%d failed (seed %d)" % (len(FAILS), seed))
    if not FAILS:
        shutil.rmtree(wd, ignore_errors=True)
    else:
        print("files kept in " + wd)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
