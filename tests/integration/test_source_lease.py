#!/usr/bin/python3
"""Source scale-out through a lease table (issue 14): the lease table lives on
DynamoDB Local, the stream comes from the Streams test double (split shards,
tests/fault/streams_double.py, slowed down so a run lasts a few seconds).

  1. three workers, one SIGKILLed mid-run: its shards are taken over within
     lease_duration_ms plus one renewal interval; every surviving worker exits
     with --until-caught-up; the union of the outputs holds every event; per
     key, each output keeps write order and no child shard was read before
     its parent was read to the end (the double records violations); the
     duplicates (events after the killed worker's last checkpoint) are printed.
  2. fencing: a worker is SIGSTOPped for longer than the lease duration and
     SIGCONTed; after the other worker took its shards over, the paused
     worker emits no event of those shards at or after the handover point.
DDBPIPE_TEST_SLOW (asan/valgrind): longer leases, no timing assertion."""
import json
import re
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddblocal_env as E  # noqa: E402  (skips with exit 77 when DynamoDB Local or the CLI is missing)
import lease_env as L  # noqa: E402  (the lease settings, the streams double, workers, the lease table)
from lease_env import LEASE_MS, SLOW, check_union, leases, wait_for  # noqa: E402
from lease_env import stream_events as events  # noqa: E402

Double = L.StreamsDouble


def start(tmp, port, app, worker):
    return L.start(tmp, worker, app, ["--mode", "stream", "--from", "trim_horizon", "--until-caught-up"],
                   table="orders", streams_endpoint_url="http://127.0.0.1:%d" % port,
                   stream_arn=L.STREAM_ARN % "2024-01-01T00:00:00.000")


def wait_exit(ws, timeout):
    for w in L.wait_exit(ws, timeout):
        E.check(False, "%s exits by itself with --until-caught-up" % w["worker"], L.log_tail(w))


def test_kill(tmp):
    d = Double(tmp, "--records-per-page", "3", "--delay-ms", "40" if SLOW else "60", "--keys", "40")
    app = "kill%d" % time.time_ns()
    try:
        ws = [start(tmp, d.port, app, "w%d" % i) for i in range(3)]
        # Kill the worker that holds the most leases once all three hold some and events flow, and it holds
        # a shard with records left after its checkpoint (five pages or more). A victim whose shards were all
        # read to their tip leaves nothing to take over: the survivors may then be caught up and exit before
        # its leases expire (seen under ASan, where leases last 6 s).
        def left(sh, cp):
            seqs = d.shard_seqs.get(sh, [])
            return sum(1 for q in seqs if not cp.isdigit() or q > int(cp))
        victim = None
        deadline = time.time() + (120 if SLOW else 30)
        while time.time() < deadline and victim is None:
            time.sleep(0.2)
            ls = leases(app)
            owners, busy = {}, set()
            for sh, (o, cp) in ls.items():
                if o and cp != "SHARD_END":
                    owners.setdefault(o, []).append(sh)
                    if left(sh, cp) >= 15:
                        busy.add(o)
            if len(owners) == 3 and busy and all(events(w["out"]) for w in ws):
                victim = max((w for w in ws if w["worker"] in busy), key=lambda w: len(owners[w["worker"]]))
                held = owners[victim["worker"]]
        E.check(victim is not None, "kill: three workers hold leases and emit events, one with records left")
        if victim is None:
            L.kill_all(ws)
            return
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait()
        print("  killed %s holding %s" % (victim["worker"], held))

        def taken():
            ls = leases(app)
            return all(ls[sh][0] != victim["worker"] or ls[sh][1] == "SHARD_END" for sh in held)
        taken_after = wait_for(taken, 120 if SLOW else 30)
        E.check(taken_after is not None, "kill: every lease of the killed worker was taken over or at SHARD_END")
        L.check_takeover(taken_after, "kill: ")
        alive = [w for w in ws if w is not victim]
        wait_exit(alive, 120 if SLOW else 60)
        for w in alive:
            E.check(w["proc"].returncode == 0, "kill: %s exits 0 (rc=%s)" % (w["worker"], w["proc"].returncode),
                    L.log_tail(w))
        st = [json.load(open(w["stats"])) for w in alive if os.path.exists(w["stats"])]
        E.check(sum(s.get("leases", {}).get("taken", 0) for s in st) >= 3,
                "kill: stats count the leases the survivors took", [s.get("leases") for s in st])
        dups = check_union(d, [w["out"] for w in ws], "kill")
        print("  duplicates: %d events emitted twice (after the killed worker's last checkpoint)" % dups)
        ls = leases(app)
        E.check(all(o != victim["worker"] or cp == "SHARD_END" for o, cp in ls.values()),
                "kill: the killed worker holds no open lease at the end", ls)
    finally:
        d.stop()


def test_fencing(tmp):
    d = Double(tmp, "--records-per-page", "2", "--delay-ms", "40", "--keys", "40")
    app = "fence%d" % time.time_ns()
    try:
        ws = [start(tmp, d.port, app, "f%d" % i) for i in range(2)]
        a, b = ws
        paused = None
        deadline = time.time() + (60 if SLOW else 20)
        while time.time() < deadline:
            time.sleep(0.2)
            ls = leases(app)
            mine = [sh for sh, (o, cp) in ls.items() if o == a["worker"] and cp != "SHARD_END"]
            if mine and events(a["out"]) and any(o == b["worker"] for o, _ in ls.values()):
                paused = mine
                break
        E.check(paused is not None, "fencing: both workers hold leases and %s emits" % a["worker"])
        if paused is None:
            L.kill_all(ws, show_logs=False)
            return
        a["proc"].send_signal(signal.SIGSTOP)
        stopped_at = time.time()
        n_before = len(events(a["out"]))
        # Longer than the lease: b takes a's shards over meanwhile (on a loaded machine b may need longer
        # than two lease durations: the pause lasts until it did, or the deadline).
        moved = []
        while time.time() - stopped_at < (LEASE_MS / 1000.0) * 2 + 1 or (
                not moved and time.time() - stopped_at < (120 if SLOW else 30)):
            time.sleep(0.1)
            ls = leases(app)
            moved = [sh for sh in paused if ls[sh][0] == b["worker"] or ls[sh][1] == "SHARD_END"]
        E.check(moved, "fencing: %s took over the paused worker's shards %s" % (b["worker"], paused), ls)
        log_off = os.path.getsize(a["log"])
        a["proc"].send_signal(signal.SIGCONT)
        wait_exit(ws, 120 if SLOW else 60)
        for w in ws:
            E.check(w["proc"].returncode == 0, "fencing: %s exits 0 (rc=%s)" % (w["worker"], w["proc"].returncode),
                    L.log_tail(w))
        ev_a = events(a["out"])
        after = ev_a[n_before:]
        print("  %s emitted %d events before the pause, %d after it" % (a["worker"], n_before, len(after)))
        # After the wake-up the paused worker may take a shard back (a fair
        # share, from the new owner's checkpoint C: it logs "took the lease of
        # shard S ... (checkpoint C)"); records up to C were the new owner's.
        retake = {}
        with open(a["log"]) as f:
            f.seek(log_off)
            for line in f:
                m = re.search(r"took the lease of shard (\S+).*\(checkpoint (\w+)\)", line)
                if m and m.group(1) not in retake:
                    retake[m.group(1)] = int(m.group(2)) if m.group(2).isdigit() else 0
        bad = []
        for sh in moved:
            post = [int(q) for _, q, _, shard in after if shard == sh]
            # Records fetched before the pause may come out once: at most one
            # GetRecords page (2 records here) right after the pause.
            limit = retake.get(sh, float("inf"))
            bad += [(sh, q) for q in post[2:] if q <= limit]
        E.check(not bad, "fencing: the paused worker emits nothing its successor owned after the handover "
                "(taken back: %s)" % retake, bad[:5])
        st = json.load(open(a["stats"])) if os.path.exists(a["stats"]) else {}
        E.check(st.get("leases", {}).get("lost", 0) >= 1, "fencing: the paused worker counts its lost leases",
                st.get("leases"))
        dups = check_union(d, [a["out"], b["out"]], "fencing")
        print("  duplicates: %d" % dups)
    finally:
        d.stop()


def main():
    L.create_orders_table()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        test_kill(tmp)
        print("  (%.1f s)" % (time.time() - t0))
        t0 = time.time()
        test_fencing(tmp)
        print("  (%.1f s)" % (time.time() - t0))
        if E.FAILS and os.environ.get("LEASE_KEEP"):
            os.system("cp -r %s %s" % (tmp, os.environ["LEASE_KEEP"]))
    L.finish()


if __name__ == "__main__":
    main()
