#!/usr/bin/python3
"""The sink's checkpoint never passes a record the endpoint has not acknowledged (deterministic).

`ddbpipe sink --checkpoint` writes 400 distinct keys to the fault double, which answers the first
writes, holds one write unapplied and unanswered (the `hang` fault), answers the next ten, then
holds every further write. Once the sink is stuck (every request slot held) and its checkpoint has
had time to catch up, it is killed with SIGKILL. Checked against the double's log of acknowledged
writes (GET /__acked):
  - every line at or below the checkpoint was acknowledged by the endpoint (the guarantee: a
    restart skips those lines, so an unacknowledged one would be lost);
  - the checkpoint stops exactly before the first unacknowledged line (it is not merely behind);
  - some acknowledged lines lie beyond it (the held write sits between acknowledged ones, so a
    checkpoint that followed the acknowledgements instead of the input order would pass it);
then the double is released and cleared, the sink restarts from the checkpoint, says where it
resumes, and the table ends with all 400 items.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sink_faults as t  # noqa: E402  (Double, check, skip)

N = 400
SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
SCALE = 20 if SLOW == "valgrind" else 3 if SLOW else 1


def read_cp(path):
    try:
        with open(path) as f:
            c = json.load(f)
        return int(c["offset"]), int(c["line"])
    except (OSError, ValueError, KeyError):
        return None


def main():
    if not t.BIN or not os.path.exists(t.BIN):
        t.skip("DDBPIPE_BIN not built")
    d = t.Double(["ckt:id:N"])
    p = None
    try:
        with tempfile.TemporaryDirectory() as wd:
            lines = [json.dumps({"id": i, "v": "line %d" % (i + 1)}) for i in range(N)]
            inp = os.path.join(wd, "in.jsonl")
            with open(inp, "w") as f:
                f.write("\n".join(lines) + "\n")
            ends = {}
            off = 0
            for n, ln in enumerate(lines, 1):
                off += len(ln) + 1
                ends[n] = off
            # The held write is the 9th to arrive: 4 are in flight at once, so by then at least five
            # answers came back and the first requests (line 1 on) are almost always acknowledged.
            # Arrival order is the machine's, though: when line 1's own request is the held one, the
            # right checkpoint is "nothing yet" (no file, or line 0), and that is what is checked.
            seq = ["ok"] * 8 + ["hang"] + ["ok"] * 10 + ["hang"] * 200
            d.faults(sequence=seq, fault_ops=["BatchWriteItem"])
            cfg = {"table": "ckt", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDCK",
                   "aws_secret_access_key": "secret", "batch_size": 5, "max_concurrent_requests": 4,
                   "flush_interval_ms": 10, "request_timeout_ms": 600000, "retry_mode": "standard"}
            cpath = os.path.join(wd, "c.json")
            with open(cpath, "w") as f:
                json.dump(cfg, f)
            ck = os.path.join(wd, "ck.json")
            cmd = [t.BIN, "sink", "-c", cpath, "-i", inp, "--checkpoint", ck, "--quiet"]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            # Stuck = every request slot held: the acknowledged set is then final. The kill waits until
            # the checkpoint (written at most once a second, later on a loaded machine) reached the line
            # before the first unacknowledged one, or the deadline: a fixed quiet period could kill a
            # sink whose checkpoint write was merely late. Line 1 held: nothing can be checkpointed.
            deadline = time.time() + 30 * SCALE
            while time.time() < deadline and p.poll() is None:
                if d.stats().get("hung", 0) >= 4:
                    ids = {int(k[0]) for tn, k in d._req("/__acked")["acked"] if tn == "ckt"}
                    want = next((i for i in range(N) if i not in ids), N)  # lines before the first unacked
                    cp = read_cp(ck)
                    if (cp or (0, 0))[1] == want and (want == 0 or cp is not None):
                        time.sleep(1.5 * SCALE)  # a checkpoint that would pass the held line shows by now
                        break
                time.sleep(0.05)
            alive = p.poll() is None
            t.check(alive, "the sink is still running, its writes held (rc %s)" % p.returncode)
            if alive:
                p.send_signal(signal.SIGKILL)
            p.wait()
            cp = read_cp(ck)
            acked = d._req("/__acked")["acked"]
            acked_ids = {int(k[0]) for tn, k in acked if tn == "ckt"}
            ds = d.stats()
            first_unacked = next((i + 1 for i in range(N) if i not in acked_ids), N + 1)
            t.check(cp is not None or first_unacked == 1,
                    "a checkpoint was written before the kill (%s; first unacknowledged line %d)" % (cp, first_unacked))
            cp = cp or (0, 0)
            beyond = sorted(i + 1 for i in acked_ids if i + 1 > first_unacked)
            print("     double: %d writes acknowledged, %s held; checkpoint line %d (byte %d); first "
                  "unacknowledged line %d; %d acknowledged lines beyond it" %
                  (len(acked_ids), ds.get("hung"), cp[1], cp[0], first_unacked, len(beyond)))
            t.check(len(acked_ids) >= 15 and beyond,
                    "the held write sits between acknowledged ones (%d acked, %d beyond the first held line)"
                    % (len(acked_ids), len(beyond)))
            unacked_below = [n for n in range(1, cp[1] + 1) if n - 1 not in acked_ids]
            t.check(not unacked_below, "every line at or below the checkpoint (%d) was acknowledged by the "
                    "endpoint (unacknowledged: %s)" % (cp[1], unacked_below[:5]))
            t.check(cp[1] == first_unacked - 1 and cp[0] == ends.get(cp[1], -1),
                    "the checkpoint stops right before the first unacknowledged line (line %d, want %d; byte "
                    "%d)" % (cp[1], first_unacked - 1, cp[0]))
            # restart: release and clear the faults, resume from the checkpoint
            d._req("/__release", {})
            d.faults()
            r = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=120 * SCALE)  # not --quiet
            t.check(r.returncode == 0, "the restart exits 0 (%d) %s" % (r.returncode, r.stderr.strip()[-300:]))
            t.check(cp[0] == 0 or "resuming %s at byte %d" % (inp, cp[0]) in r.stderr,
                    "the restart says it resumes at the checkpoint's byte %d" % cp[0])
            items = {int(it["id"]["N"]): it["v"]["S"] for it in d.dump().get("ckt", [])}
            t.check(items == {i: "line %d" % (i + 1) for i in range(N)},
                    "after the restart the table holds all %d items (%d)" % (N, len(items)))
            t.check(read_cp(ck) == (ends[N], N), "the final checkpoint is at the end of the input (%s)" %
                    (read_cp(ck),))
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        try:
            d._req("/__release", {})
        except Exception:
            pass
        d.close()
    print("%d failure(s)" % len(t.FAILS))
    sys.exit(1 if t.FAILS else 0)


if __name__ == "__main__":
    main()
