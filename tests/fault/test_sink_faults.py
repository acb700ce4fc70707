#!/usr/bin/python3
"""Sink fault tests against tests/fault/fault_double.py (in-memory DynamoDB with faults).

Every scenario feeds puts and deletes on a few hundred keys through `ddbpipe sink`, then checks
what a user checks: the table (GET /__dump) equals a model of the input (last change of every
key), nothing is lost, no two writes of one key were ever in flight together (the double's
key_overlaps), and poison records are in the dead-letter file with a reason.

Scenarios: UnprocessedItems, throttling, 500/503, connection resets, stalls (request timeout),
corrupted CRC, a poison item inside batches, transactional mode with throttles and conditional
checks, merge mode with UnprocessedKeys-free loads under faults, threads=3, max_retries exhaustion,
auth failure (fatal, exit 3) and a missing table (fatal before reading input).
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sink_env  # noqa: E402  (shared set-up: BIN, FAILS, check, the double)
from sink_env import BIN, FAILS, check  # noqa: E402,F401  (re-exported to test_sink_order & co.)


def skip(msg):
    print("SKIPPED: " + msg)
    sys.exit(77)


class Double(sink_env.Double):
    """The double serving `tables` ("name:hash:TYPE[:range:TYPE]"), plus extra fault_double.py args."""

    def __init__(self, tables, args=()):
        super().__init__([a for t in tables for a in ("--table", t)] + list(args))


def typed(v):
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, (int, float)):
        return {"N": json.dumps(v)}
    if isinstance(v, str):
        return {"S": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, list):
        return {"L": [typed(x) for x in v]}
    return {"M": {k: typed(x) for k, x in v.items()}}


def key_of(item, keys):
    return tuple(json.dumps(item[k], sort_keys=True) for k in keys)


def gen_changes(n, nkeys, seed, poison_every=0, delete_ratio=0.15):
    """Changes on ids 0..nkeys-1 (sort key from the id), as plain JSON lines; returns (lines, model,
    poison line numbers). model maps key -> typed item (or absent when deleted)."""
    rng = random.Random(seed)
    lines, model, poison = [], {}, []
    for i in range(n):
        k = rng.randrange(nkeys)
        row = {"id": k, "sort": "s%d" % (k % 7)}
        if poison_every and i % poison_every == poison_every - 1:
            # a key of its own, so the model is exact: a poison record superseded by a later change
            # of its key is never sent (put mode: last change wins) and is not an error
            row = {"id": 1000000 + i, "sort": "p", "poison": True}
            row["v"] = i
            lines.append(json.dumps(row))
            poison.append(len(lines))
            continue  # the poison never lands: the model keeps the previous state
        if rng.random() < delete_ratio:
            lines.append(json.dumps({"delete": row}))
            model.pop((k, row["sort"]), None)
        else:
            row["v"] = i
            row["name"] = "n%d" % rng.randrange(1000)
            lines.append(json.dumps({"insert": row}))
            model[(k, row["sort"])] = {kk: typed(vv) for kk, vv in row.items()}
    return lines, model, poison


def run_sink(d, table, lines, extra=None, workdir=None, timeout=300, args=()):
    cfg = {"table": table, "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDFAULT",
           "aws_secret_access_key": "secret", "flush_interval_ms": 200, "request_timeout_ms": 5000,
           "connect_timeout_ms": 1000}
    cfg.update(extra or {})
    cpath = os.path.join(workdir, "sink.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    inp = os.path.join(workdir, "in.jsonl")
    with open(inp, "w") as f:
        f.write("\n".join(lines) + "\n")
    dl = os.path.join(workdir, "dead.jsonl")
    if os.path.exists(dl):
        os.unlink(dl)
    st = os.path.join(workdir, "stats.json")
    t0 = time.time()
    p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--dead-letter", dl, "--stats-file", st, "--quiet"]
                       + list(args), capture_output=True, text=True, timeout=timeout)
    el = time.time() - t0
    stats = json.load(open(st)) if os.path.exists(st) else {}
    dead = [json.loads(x) for x in open(dl)] if os.path.exists(dl) else []
    return p, stats, dead, el


def table_state(d, table):
    items = d.dump().get(table, [])
    return {(int(it["id"]["N"]), it["sort"]["S"]): it for it in items}


def scenario(name, faults, extra=None, n=3000, nkeys=300, poison_every=0, seed=7, args=(), check_overlaps=True):
    print("scenario: %s" % name)
    d = Double(["sinkt:id:N:sort:S"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            lines, model, poison = gen_changes(n, nkeys, seed, poison_every)
            if faults:
                d.faults(**faults)
            p, stats, dead, el = run_sink(d, "sinkt", lines, extra, wd, args=args)
            ds = d.stats()
            state = table_state(d, "sinkt")
            expect_rc = 1 if poison else 0
            check(p.returncode == expect_rc, "%s: exit code %d (expected %d) %s" % (name, p.returncode, expect_rc,
                                                                                    p.stderr.strip()[-300:]))
            check(state == model, "%s: table equals the model (%d items; got %d)" % (name, len(model), len(state)))
            if state != model:
                diff = [k for k in set(state) | set(model) if state.get(k) != model.get(k)][:3]
                for k in diff:
                    print("     key %s: table %s model %s" % (k, state.get(k), model.get(k)))
            # What the endpoint saw: no write of a key arrived while an earlier write of that key
            # was unanswered (the double releases a request's keys just before its answer goes
            # out). Only a stalled request the client gave up on (request timeout) may overlap
            # its own re-send; those scenarios pass check_overlaps=False.
            if check_overlaps:
                check(ds.get("key_overlaps") == 0, "%s: the double never saw a key in two writes at once (%s)"
                      % (name, ds.get("key_overlaps")))
            elif ds.get("key_overlaps"):
                print("     note: double counted %s key overlaps (re-sends of timed-out requests)" %
                      ds.get("key_overlaps"))
            check(stats.get("internal_errors") == 0, "%s: sink never had one key in two calls" % name)
            check(stats.get("records_in") == n, "%s: records_in %s == %d" % (name, stats.get("records_in"), n))
            check(sorted(x["line"] for x in dead) == poison,
                  "%s: dead letters are exactly the %d poison lines (got %d)" % (name, len(poison), len(dead)))
            if sorted(x["line"] for x in dead) != poison:
                for x in [x for x in dead if x["line"] not in poison][:3]:
                    print("     unexpected dead letter: line %s: %s" % (x["line"], x.get("reason")))
            for x in dead[:1]:
                check("ValidationException" in x["reason"] and x["record"] == lines[x["line"] - 1],
                      "%s: dead letter has reason and original record" % name)
            print("     %.2fs, faults %s, stats: written %s folded %s retries %s throttled %s chunks %s" %
                  (el, ds.get("faults"), stats.get("records_written"), stats.get("duplicates_folded"),
                   stats.get("retries"), stats.get("throttled_items"), stats.get("write_chunks")))
            return stats, ds
    finally:
        d.close()


def merge_unprocessed_keys():
    """Merge mode reads each key's stored item (BatchGetItem) and writes it patched. A key left in
    UnprocessedKeys was not read: patching it as if the item did not exist would drop the stored
    attributes the patch does not name. Most load answers leave half their keys unread."""
    print("scenario: merge mode, BatchGetItem UnprocessedKeys")
    d = Double(["mrgt:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            lines = [json.dumps({"id": i, "keep": "k%d" % i, "v": 0}) for i in range(200)]
            p, _, _, _ = run_sink(d, "mrgt", lines, {}, wd)
            check(p.returncode == 0 and len(d.dump()["mrgt"]) == 200, "merge UnprocessedKeys: 200 items stored")
            d.faults(unprocessed=0.6, unprocessed_fraction=0.5, fault_ops=["BatchGetItem"])
            lines = [json.dumps({"id": i, "v": 1}) for i in range(200)]
            p, stats, dead, _ = run_sink(d, "mrgt", lines, {"update_mode": "merge", "max_retries": None}, wd)
            ds = d.stats()
            items = {int(it["id"]["N"]): it for it in d.dump()["mrgt"]}
            check(p.returncode == 0 and not dead, "merge UnprocessedKeys: exit 0, nothing dead-lettered (%d) %s" %
                  (p.returncode, p.stderr[-200:]))
            check(ds.get("unprocessed_keys_returned", 0) >= 20,
                  "merge UnprocessedKeys: the double left keys unread (%s)" % ds.get("unprocessed_keys_returned"))
            bad = [i for i in range(200) if items.get(i, {}).get("keep") != {"S": "k%d" % i} or
                   items.get(i, {}).get("v") != {"N": "1"}]
            check(not bad, "merge UnprocessedKeys: every item patched (v=1) and kept its other attribute "
                  "(%d wrong, e.g. %s)" % (len(bad), [items.get(i) for i in bad[:2]]))
            check(stats.get("items_loaded") == 200, "merge UnprocessedKeys: items_loaded 200 (%s)" %
                  stats.get("items_loaded"))
    finally:
        d.close()


def transactional_conditions():
    """Transactional mode: condition expression for puts; ConditionalCheckFailed skips that record
    (counted as condition_failed, no dead letter, exit 0, as Feldera does), the others of the
    transaction are re-sent and land."""
    print("scenario: transactional condition expressions")
    d = Double(["condt:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            # first run: insert ids 0..49
            lines = [json.dumps({"id": i, "v": "first"}) for i in range(50)]
            p, stats, dead, _ = run_sink(d, "condt", lines, {"write_mode": "transactional"}, wd)
            check(p.returncode == 0 and len(d.dump()["condt"]) == 50, "transactional: 50 items inserted")
            # second run: only insert when the item does not exist: 50..99 land, 0..49 fail the check
            lines = [json.dumps({"id": i, "v": "second"}) for i in range(0, 100)]
            p, stats, dead, _ = run_sink(d, "condt", lines, {
                "write_mode": "transactional", "condition_expression": "attribute_not_exists(#i)",
                "expression_attribute_names": {"#i": "id"}}, wd)
            items = {int(it["id"]["N"]): it["v"]["S"] for it in d.dump()["condt"]}
            check(p.returncode == 0, "transactional: exit 0, false conditions are skips (got %d) %s" %
                  (p.returncode, p.stderr[-200:]))
            check(all(items[i] == "first" for i in range(50)) and all(items[i] == "second" for i in range(50, 100)),
                  "transactional: failed conditions kept the stored items, the others landed")
            check(stats.get("condition_failed") == 50 and stats.get("condition_check_failures") == 50
                  and not dead and stats.get("dead_lettered") == 0,
                  "transactional: 50 condition_failed, none dead-lettered (%s, %d)" %
                  (stats.get("condition_failed"), len(dead)))
    finally:
        d.close()


def metrics_endpoint():
    """Prometheus metrics while the sink runs (input from a pipe kept open)."""
    import socket
    print("scenario: metrics endpoint")
    d = Double(["mett:id:N"])
    so = socket.socket()
    so.bind(("127.0.0.1", 0))
    port = so.getsockname()[1]
    so.close()
    try:
        with tempfile.TemporaryDirectory() as wd:
            d.faults(unprocessed=0.5)
            cfg = {"table": "mett", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDM",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 50, "retry_mode": "standard",
                   "metrics_address": "127.0.0.1:%d" % port}
            cpath = os.path.join(wd, "c.json")
            json.dump(cfg, open(cpath, "w"))
            p = subprocess.Popen([BIN, "sink", "-c", cpath, "--quiet"], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            for i in range(500):
                p.stdin.write(json.dumps({"id": i % 200, "v": i}) + "\n")
            p.stdin.write("not json\n")
            p.stdin.flush()
            text, vals = "", {}
            deadline = time.time() + (120 if sink_env.SLOW else 20)  # retries with backoff: slow under valgrind
            while time.time() < deadline:
                try:
                    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
                except Exception:
                    time.sleep(0.2)
                    continue
                vals = {}
                for ln in text.splitlines():
                    if ln and not ln.startswith("#"):
                        k, _, v = ln.rpartition(" ")
                        vals[k] = float(v)
                if vals.get("ddbpipe_sink_buffered_records") == 0 and vals.get(
                        "ddbpipe_sink_records_in_total") == 501:
                    break
                time.sleep(0.2)
            p.stdin.close()
            p.wait(timeout=30)
            check(vals.get("ddbpipe_sink_records_in_total") == 501, "metrics: records in 501 (%s)" %
                  vals.get("ddbpipe_sink_records_in_total"))
            w = vals.get("ddbpipe_sink_records_written_total", 0)
            f = vals.get("ddbpipe_sink_duplicate_keys_folded_total", 0)
            check(w >= 200 and w + f == 500 and vals.get("dynamodb_output_records_written_total") == w,
                  "metrics: written + folded = 500 good records, Feldera alias too (%s + %s)" % (w, f))
            check(len(d.dump().get("mett", [])) == 200, "metrics: 200 items in the table")
            check(vals.get("ddbpipe_sink_dead_lettered_total") == 1, "metrics: 1 dead-lettered")
            check(vals.get("ddbpipe_sink_retries_total", 0) > 0 and vals.get("ddbpipe_sink_throttled_items_total", 0) > 0,
                  "metrics: retries and throttled items from UnprocessedItems")
            check(vals.get("dynamodb_output_write_call_latency_seconds_count", 0) > 0 and
                  'ddbpipe_sink_write_call_latency_seconds_bucket{le="+Inf"}' in vals,
                  "metrics: write-call latency histogram")
            for name in ("ddbpipe_sink_buffer_fill_ratio", "ddbpipe_sink_buffered_records",
                         "dynamodb_output_oversized_items_dropped_total", "ddbpipe_sink_write_chunks_total",
                         "ddbpipe_sink_failed_items_total", "ddbpipe_sink_condition_failed_total"):
                check(name in vals, "metrics: %s exported" % name)
            check(p.returncode == 1, "metrics: exit 1 after stdin closes (one dead letter) (%s)" % p.returncode)
    finally:
        d.close()


def fatal_cases():
    print("scenario: fatal errors")
    d = Double(["fatalt:id:N"], ["--require-akid", "AKIDGOOD"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            lines = [json.dumps({"id": i}) for i in range(10)]
            p, stats, dead, _ = run_sink(d, "fatalt", lines, {}, wd)
            check(p.returncode == 3, "auth failure: exit 3 (got %d: %s)" % (p.returncode, p.stderr.strip()[-200:]))
            p, stats, dead, _ = run_sink(d, "nosuchtable", lines, {"aws_access_key_id": "AKIDGOOD"}, wd)
            check(p.returncode == 3 and "nosuchtable" in p.stderr,
                  "missing table: exit 3 naming the table (got %d: %s)" % (p.returncode, p.stderr.strip()[-200:]))
            # auth failing mid-run: the double starts rejecting after the start
            d.faults(sequence=["ok", "ok", "auth", "auth", "auth", "auth"], fault_ops=["BatchWriteItem"])
            lines = [json.dumps({"id": i}) for i in range(2000)]
            ck = os.path.join(wd, "ck.json")
            p, stats, dead, _ = run_sink(d, "fatalt", lines, {"aws_access_key_id": "AKIDGOOD"}, wd,
                                         args=["--checkpoint", ck])
            check(p.returncode == 3, "auth failure mid-run: exit 3 (got %d)" % p.returncode)
            check(len(dead) == 0, "auth failure mid-run: nothing dead-lettered (records are not lost)")
    finally:
        d.close()


def transactional_replay_is_idempotent():
    """A transaction applied by the service whose answer is lost (stall -> request timeout) is
    retried with the same ClientRequestToken: with attribute_not_exists conditions a replay under a
    new token would fail its own checks."""
    print("scenario: transactional retries reuse ClientRequestToken")
    d = Double(["idemt:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            d.faults(stall=0.3, stall_ms=1500, reset=0.1, fault_ops=["TransactWriteItems"])
            lines = [json.dumps({"id": i, "v": i}) for i in range(400)]
            p, stats, dead, _ = run_sink(d, "idemt", lines, {
                "write_mode": "transactional", "batch_size": 20, "request_timeout_ms": 500, "retry_mode": "standard",
                "condition_expression": "attribute_not_exists(#i)", "expression_attribute_names": {"#i": "id"}}, wd)
            ds = d.stats()
            check(ds.get("faults", {}).get("stall", 0) > 0, "idempotent replay: stalls were injected (%s)" %
                  ds.get("faults"))
            check(p.returncode == 0 and not dead and len(d.dump()["idemt"]) == 400,
                  "idempotent replay: all 400 conditional inserts landed, no false condition failures (%d, %d)" %
                  (p.returncode, len(dead)))
    finally:
        d.close()


def retries_exhausted():
    """Every BatchWriteItem fails with a 500: after max_retries the records are dead-lettered
    with a reason, the run finishes (exit 1). (Throttling and UnprocessedItems do not count toward
    max_retries: test_sink_capacity.py checks that nothing is given up because the table was busy.)"""
    print("scenario: max_retries exhausted")
    d = Double(["retryt:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            d.faults(error500=1.0, fault_ops=["BatchWriteItem"])
            lines = [json.dumps({"id": i}) for i in range(30)]
            p, stats, dead, el = run_sink(d, "retryt", lines, {"max_retries": 2}, wd)
            check(p.returncode == 1 and len(dead) == 30, "retries exhausted: 30 dead letters, exit 1 (%d, %d)" %
                  (p.returncode, len(dead)))
            check(all("InternalServerError" in x["reason"] for x in dead), "retries exhausted: reason says why")
            check(stats.get("failed_items") == 30, "retries exhausted: failed_items 30 (%s)" % stats.get("failed_items"))
    finally:
        d.close()


def main():
    if not BIN or not os.path.exists(BIN):
        skip("DDBPIPE_BIN not built")
    scenario("no faults", {})
    # max_retries null: a one-item retry batch stays unprocessed half the time, and ten misses in a
    # row would dead-letter it (that path has its own scenario: retries_exhausted)
    scenario("UnprocessedItems", {"unprocessed": 0.5, "unprocessed_fraction": 0.5}, {"max_retries": None})
    # retry_mode adaptive slows right down after throttles: one run with it, the others with
    # standard (the default) to keep the suite quick
    scenario("throttling (adaptive)", {"throttle": 0.3}, {"retry_mode": "adaptive"}, n=1000)
    scenario("throttling (standard)", {"throttle": 0.3}, {"retry_mode": "standard"})
    scenario("ThrottlingException", {"throttle": 0.3, "throttle_code": "ThrottlingException"},
             {"retry_mode": "standard"})
    scenario("500s and 503s", {"error500": 0.2, "error503": 0.1})
    scenario("connection resets", {"reset": 0.15})
    scenario("stalls", {"stall": 0.05, "stall_ms": 3000}, {"request_timeout_ms": 1000}, n=1500,
             check_overlaps=False)
    scenario("bad crc", {"bad_crc": 0.2})
    scenario("poison items inside batches", {}, poison_every=97)
    scenario("poison + unprocessed + throttles", {"unprocessed": 0.3, "throttle": 0.1}, {"retry_mode": "standard"},
             poison_every=131)
    _, ds = scenario("merge mode with faults", {"unprocessed": 0.3, "throttle": 0.1, "error500": 0.05},
                     {"update_mode": "merge", "retry_mode": "standard"})
    check(ds.get("unprocessed_keys_returned", 0) > 0, "merge mode with faults: loads got UnprocessedKeys (%s)" %
          ds.get("unprocessed_keys_returned"))
    scenario("merge mode, poison", {}, {"update_mode": "merge"}, poison_every=113)
    scenario("transactional with throttles", {"throttle": 0.2, "error500": 0.05},
             {"write_mode": "transactional", "retry_mode": "standard"})
    scenario("transactional poison", {}, {"write_mode": "transactional"}, poison_every=89)
    scenario("threads=3 with faults", {"unprocessed": 0.3, "reset": 0.05, "throttle": 0.05},
             {"threads": 3, "retry_mode": "standard"})
    scenario("batch_size 1, 64 in flight", {"delay_max_ms": 5}, {"batch_size": 1, "max_concurrent_requests": 64})
    merge_unprocessed_keys()
    transactional_conditions()
    transactional_replay_is_idempotent()
    retries_exhausted()
    metrics_endpoint()
    fatal_cases()
    print("%d failure(s)" % len(FAILS))
    for f in FAILS:
        print("  FAILED: " + f)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
