#!/usr/bin/python3
"""snapshot+stream when the Scan outlasts the stream's retention (issue 15).

The Streams double (streams_double.py) writes the table live (--live-rate),
trims every record --retention-s seconds after it was written (as DynamoDB
does after 24 hours), grows and splits its shards as it goes, and serves a
parallel Scan of the table as written so far, each page answered 400 ms after
it was read. max_read_capacity_per_s slows the Scan so that it lasts several
retention periods.

What a user checks: the run ends 0 (no TrimmedDataAccessException, no exit 3),
every stream record written after the source took its position is in the
output, each key's stream events come out in write order, and applying the
output in order gives the table's final items. Then the same with a kill -9
in the middle of the scan and a restart from --checkpoint (not under valgrind,
where the restart alone takes longer than the scaled retention).

Before the stream was read during the scan, this run stopped with exit 3:
the records written in the scan's first minutes were trimmed before the
stream phase began."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_source_streams import Double, check, dedup_first, source_cmd, write_config, FAILS  # noqa: E402

SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
# retention, in seconds; the scan lasts about 3.5 of them, the stream's
# writes span the scan. Slower under sanitizers (the reader must stay within
# the retention of what it reads; that is not what is tested here).
RETENTION_S = {"": 3.0, "asan": 5.0, "valgrind": 6.0}.get(SLOW, 6.0)
CAP_RCU = 10  # max_read_capacity_per_s
KEYS, CHANGES = 60, 10


def plain(v):
    """A DynamoDB-typed attribute value as the json format writes it."""
    (t, x), = v.items()
    if t == "S":
        return x
    if t == "N":
        return float(x)
    raise ValueError(t)


def norm(obj):
    if isinstance(obj, dict):
        return {k: norm(v) for k, v in obj.items()}
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return float(obj)
    return obj


def apply_output(out):
    """Items after applying the output in order; stream sequence numbers per key
    in order; snapshot rows older than a change emitted before them (each
    key's version "v" grows with every change the double writes)."""
    items, seqs, newest, stale = {}, {}, {}, []
    with open(out) as f:
        for line in f:
            ev = json.loads(line)
            key = ev["keys"]["pk"]
            if key.startswith("k"):
                if ev["op"] == "snapshot" and ev["new"]["v"] < newest.get(key, 0):
                    stale.append("%s v%s after v%s" % (key, ev["new"]["v"], newest[key]))
                elif ev["op"] in ("insert", "modify"):
                    newest[key] = max(newest.get(key, 0), ev["new"]["v"])
            if ev["op"] == "remove":
                items.pop(key, None)
            else:
                items[key] = norm(ev["new"])
            if ev["op"] != "snapshot":
                seqs.setdefault(key, []).append([ev["sequence"], ev["op"].upper()])
    return items, seqs, stale


def start_double(tmp):
    scan_items = int(RETENTION_S * 3.3 * CAP_RCU)  # ~1 read unit each (4 KB)
    live_s = RETENTION_S * 3.3
    # the writes start 1 s after the source took its stream position (its first GetShardIterator), however
    # late a slow (valgrind) process gets there
    return Double(tmp, "--live-rate", "%.1f" % (KEYS * CHANGES / live_s), "--live-start-s", "1",
                  "--live-from-first-iterator",
                  "--retention-s", str(RETENTION_S), "--scan-items", str(scan_items), "--item-pad", "4000",
                  "--scan-delay-ms", "400", "--records-per-page", "100", "--keys", str(KEYS), "--changes", str(CHANGES))


def verify(name, d, out, st):
    ds = d.stats()
    # how close a resume (GetShardIterator AFTER_SEQUENCE_NUMBER) came to its record's trim: the margin
    # this test's short retention leaves a slow process
    print("  %s: closest resume %s ms before its record's trim (load average %s)" % (
        name, ds["calls"].get("resume_margin_ms_min"), open("/proc/loadavg").read().split()[0]))
    items, seqs, stale = apply_output(out)
    check(not stale, "%s: no snapshot row comes out after a newer change of its item (%d: %s)"
          % (name, len(stale), ", ".join(stale[:3])))
    got = {s for v in seqs.values() for s, _ in v}
    missing = [s for s in ds["required"] if s not in got]
    check(not missing, "%s: every stream record written after the position was taken is in the output "
          "(%d required, %d missing)" % (name, len(ds["required"]), len(missing)))
    order_ok = True
    for key, v in seqs.items():
        exp = [e for e in d.expect[key] if e[0] in {s for s, _ in v}]
        if dedup_first(v) != exp:
            order_ok = False
            print("  key %s: got %s, expected %s" % (key, dedup_first(v)[:8], exp[:8]))
            break
    check(order_ok, "%s: each key's stream events come out in write order" % name)
    table = {k: {a: plain(x) for a, x in item.items()} for k, item in ds["table"].items()}
    diff = [k for k in set(table) | set(items) if table.get(k) != items.get(k)]
    check(not diff, "%s: the output applied in order gives the table's final items (%d items, %d differ%s)"
          % (name, len(table), len(diff), (": " + ", ".join(sorted(diff)[:5])) if diff else ""))
    scan_s = ds["calls"].get("scan_last_s", 0) - ds["calls"].get("scan_first_s", 0)
    check(scan_s >= 3 * RETENTION_S, "%s: the scan lasted %.1f s, over 3 x the %.1f s retention"
          % (name, scan_s, RETENTION_S))
    check(not ds["violations"], "%s: no child shard read before its parent (%s)" % (name, ds["violations"][:2]))
    sst = st.get("stream", {})
    check(sst.get("trimmed_data_losses", 1) == 0, "%s: no trimmed-data loss reported" % name)
    check(sst.get("events_during_scan", 0) > 0 and sst.get("held_pages", 0) > 0,
          "%s: stream events came out during the scan (%s), some held behind Scan calls (%s)"
          % (name, sst.get("events_during_scan"), sst.get("held_pages")))


def run(cmd, stats_opt, cfg, out, tmp, *extra, timeout=300):
    stats = os.path.join(tmp, "stats-%d.json" % time.monotonic_ns())
    p = subprocess.Popen(cmd + ["-c", cfg, "-o", out, "--mode", "snapshot+stream", "--until-caught-up",
                                stats_opt, stats] + list(extra), stderr=subprocess.PIPE, text=True)
    return p, stats


def finish(p, stats, timeout=300):
    _, err = p.communicate(timeout=timeout)
    st = json.load(open(stats)) if os.path.exists(stats) and os.path.getsize(stats) else {}
    return p.returncode, err, st


def test_long_scan(cmd, stats_opt, tmp):
    d = start_double(tmp)
    try:
        out = os.path.join(tmp, "long.jsonl")
        cfg = write_config(tmp, d.port, max_read_capacity_per_s=CAP_RCU, scan_page_items=5)
        rc, err, st = finish(*run(cmd, stats_opt, cfg, out, tmp))
        check(rc == 0, "long scan: exit 0 (rc=%d, stderr=%s)" % (rc, err[-500:]))
        verify("long scan", d, out, st)
    finally:
        d.stop()


def test_kill_restart(cmd, stats_opt, tmp):
    d = start_double(tmp)
    try:
        out = os.path.join(tmp, "kill.jsonl")
        cp = os.path.join(tmp, "kill.checkpoint")
        cfg = write_config(tmp, d.port, max_read_capacity_per_s=CAP_RCU, scan_page_items=5)
        p, _ = run(cmd, stats_opt, cfg, out, tmp, "--checkpoint", cp)
        # In the middle of the scan, right after a checkpoint was written: a loaded machine may start the
        # process late, so the kill also waits for the checkpoint file (not only for the time to pass), and
        # a fresh checkpoint leaves the restart the most of the retention (the file is rewritten at most
        # once a second; its stream positions age meanwhile)
        t0 = time.time()
        while p.poll() is None and time.time() - t0 < 120 and not (
                time.time() - t0 >= RETENTION_S * 1.5 + 1 and os.path.exists(cp)):
            time.sleep(0.05)
        last = open(cp).read() if os.path.exists(cp) else None
        t1 = time.time()
        while p.poll() is None and time.time() - t1 < 10 and last is not None and open(cp).read() == last:
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        check(os.path.exists(cp), "kill: a checkpoint was written before the kill")
        rc, err, st = finish(*run(cmd, stats_opt, cfg, out, tmp, "--checkpoint", cp))
        check(rc == 0, "kill: the restart from the checkpoint ends 0 (rc=%d, stderr=%s)" % (rc, err[-500:]))
        verify("kill", d, out, st)
    finally:
        d.stop()


def main():
    cmd, stats_opt = source_cmd()
    print("using", " ".join(cmd), "retention", RETENTION_S, "s")
    with tempfile.TemporaryDirectory() as tmp:
        test_long_scan(cmd, stats_opt, tmp)
        if SLOW == "valgrind":
            # a restart under valgrind takes longer than the scaled retention: the
            # records after the checkpoint would be trimmed before it reads them
            print("kill: not run under valgrind (restart slower than the %.0f s retention)" % RETENTION_S)
        else:
            test_kill_restart(cmd, stats_opt, tmp)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
