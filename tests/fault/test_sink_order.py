#!/usr/bin/python3
"""Order test: 100k changes (puts and deletes) on 100 hot keys through `ddbpipe sink` with 64
requests allowed in flight and random response delays (fault_double --delay-max-ms), plus
UnprocessedItems in one run. Checked from what the endpoint observed: the final table holds the
last change of every key, and the double never saw a write of a key arrive while an earlier write
of that key was unanswered (its key_overlaps). Runs marked "apply late" use the double's
apply_late mode: each write lands when its delayed answer is sent, so two writes of one key in
flight at once would land in answer order and a reordering shows in the final table too. The
sink's own invariant counter (internal_errors) is checked as well.

Runs: batch_size 25 (default), batch_size 1 (64 single-item calls really in flight at once),
threads=2, transactional mode, and input paced through a pipe (so that tens of thousands of
writes reach the double instead of folding).
"""
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sink_faults as t  # noqa: E402  (shared helpers: Double, run_sink, check)

# DDBPIPE_SINK_ORDER_N: fewer changes for slow runs (scripts/valgrind.sh uses 5000)
N = int(os.environ.get("DDBPIPE_SINK_ORDER_N", "100000"))
KEYS = 100


def gen(seed):
    rng = random.Random(seed)
    lines, model = [], {}
    for i in range(N):
        k = rng.randrange(KEYS)
        if rng.random() < 0.1:
            lines.append(json.dumps({"delete": {"id": k}}))
            model.pop(k, None)
        else:
            lines.append(json.dumps({"insert": {"id": k, "seq": i}}))
            model[k] = i
    return lines, model


def run(name, faults, extra, seed):
    print("order run: %s" % name)
    d = t.Double(["hot:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            lines, model = gen(seed)
            d.faults(**faults)
            cfg = {"max_concurrent_requests": 64, "retry_mode": "standard", "max_retries": None}
            cfg.update(extra)
            p, stats, dead, el = t.run_sink(d, "hot", lines, cfg, wd, timeout=550)
            ds = d.stats()
            state = {int(it["id"]["N"]): int(it["seq"]["N"]) for it in d.dump().get("hot", [])}
            t.check(p.returncode == 0, "%s: exit 0 (%d) %s" % (name, p.returncode, p.stderr.strip()[-300:]))
            t.check(state == model, "%s: table holds the last change of each of %d keys (got %d)" %
                    (name, len(model), len(state)))
            t.check(ds.get("key_overlaps") == 0, "%s: the double never saw a key in two writes at once (%s)" %
                    (name, ds.get("key_overlaps")))
            t.check(stats.get("internal_errors") == 0, "%s: the sink never had one key in two calls" % name)
            t.check(stats.get("records_in") == N and not dead, "%s: %d records in, none dead-lettered" % (name, N))
            print("     %.1fs, %s requests, max %s in flight, written %s, folded %s, retries %s" %
                  (el, ds.get("requests"), ds.get("max_in_flight"), stats.get("records_written"),
                   stats.get("duplicates_folded"), stats.get("retries")))
    finally:
        d.close()


def run_paced(name, faults, extra, seed, seconds=8.0):
    """Input fed through a pipe at ~100k/seconds lines a second, so writes of a hot key keep
    overlapping its next changes (far less folding than reading a file at full speed)."""
    import subprocess
    import time
    print("order run: %s" % name)
    d = t.Double(["hot:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            lines, model = gen(seed)
            d.faults(**faults)
            cfg = {"table": "hot", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDO",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 5, "max_concurrent_requests": 64,
                   "retry_mode": "standard", "max_retries": None}
            cfg.update(extra)
            cpath = os.path.join(wd, "c.json")
            json.dump(cfg, open(cpath, "w"))
            st = os.path.join(wd, "st.json")
            p = subprocess.Popen([t.BIN, "sink", "-c", cpath, "--quiet", "--stats-file", st], stdin=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            step = 200
            pause = seconds * step / len(lines)
            t0 = time.time()
            for i in range(0, len(lines), step):
                p.stdin.write("\n".join(lines[i:i + step]) + "\n")
                p.stdin.flush()
                time.sleep(pause)
            p.stdin.close()
            err = p.stderr.read()
            p.wait(timeout=300)
            el = time.time() - t0
            stats = json.load(open(st)) if os.path.exists(st) else {}
            ds = d.stats()
            state = {int(it["id"]["N"]): int(it["seq"]["N"]) for it in d.dump().get("hot", [])}
            t.check(p.returncode == 0, "%s: exit 0 (%d) %s" % (name, p.returncode, err.strip()[-300:]))
            t.check(state == model, "%s: table holds the last change of each of %d keys (got %d)" %
                    (name, len(model), len(state)))
            t.check(ds.get("key_overlaps") == 0, "%s: the double never saw a key in two writes at once (%s)" %
                    (name, ds.get("key_overlaps")))
            t.check(stats.get("internal_errors") == 0 and stats.get("records_in") == N,
                    "%s: %d records in, the sink never had one key in two calls" % (name, N))
            print("     %.1fs, %s requests, max %s in flight, written %s, folded %s, retries %s" %
                  (el, ds.get("requests"), ds.get("max_in_flight"), stats.get("records_written"),
                   stats.get("duplicates_folded"), stats.get("retries")))
    finally:
        d.close()


def main():
    if not t.BIN or not os.path.exists(t.BIN):
        t.skip("DDBPIPE_BIN not built")
    run("batch 25, delays 0..20 ms", {"delay_max_ms": 20}, {}, 1)
    run("batch 1, 64 in flight, delays 0..20 ms, apply late", {"delay_max_ms": 20, "apply_late": 1},
        {"batch_size": 1}, 2)
    run("batch 5, delays + UnprocessedItems", {"delay_max_ms": 10, "unprocessed": 0.3}, {"batch_size": 5}, 3)
    run("threads=2, batch 1, apply late", {"delay_max_ms": 10, "apply_late": 1}, {"batch_size": 1, "threads": 2}, 4)
    # a small buffer: reading waits for acks, so far more of the 100k changes reach the service
    run("batch 1, max_buffered_records 200, delays 0..5 ms", {"delay_max_ms": 5},
        {"batch_size": 1, "max_buffered_records": 200}, 6)
    run("transactional, batch 10", {"delay_max_ms": 10}, {"write_mode": "transactional", "batch_size": 10}, 5)
    run_paced("paced input, batch 1, delays 0..20 ms, apply late", {"delay_max_ms": 20, "apply_late": 1},
              {"batch_size": 1}, 7)
    run_paced("paced input, batch 25, delays + UnprocessedItems, apply late",
              {"delay_max_ms": 20, "unprocessed": 0.2, "apply_late": 1}, {}, 8)
    print("%d failure(s)" % len(t.FAILS))
    sys.exit(1 if t.FAILS else 0)


if __name__ == "__main__":
    main()
