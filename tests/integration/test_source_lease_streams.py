#!/usr/bin/python3
"""Lease table hygiene (issue 14): the lease table on DynamoDB Local, the stream from the Streams test
double (tests/fault/streams_double.py, split shards).

  1. Trimmed shards: the double drops closed shards from its listings once they were read to their end
     (--trim-read-shards, as DynamoDB does 24 hours after a shard closed), armed once every closed shard's
     lease is at SHARD_END (before that, a lease taken over from a worker that read the shard to its end
     but had not checkpointed it yet is read again from its checkpoint, as on DynamoDB, where the shard
     is still there). Two workers read the stream;
     the leases of the trimmed shards, at SHARD_END, are deleted from the lease table while the open
     shards' leases stay; the union of the outputs holds every event in per-key order; the workers'
     stats count the deletions.
  2. A re-enabled stream: the same application then reads a second stream of the table (another stream
     label, the same shard ids and records). Its leases are not the old stream's: a worker reads the new
     stream from its trim horizon and emits every event again, while the old stream's leases stay
     untouched in the table.
DDBPIPE_TEST_SLOW (asan/valgrind): longer deadlines."""
import json
import os
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ddblocal_env as E  # noqa: E402  (skips with exit 77 when DynamoDB Local or the CLI is missing)
import lease_env as L  # noqa: E402  (the lease settings, the streams double, workers, the lease table)

SLOW = L.SLOW
CLOSED = ["shardId-00001-A", "shardId-00002-F", "shardId-00003-B"]


def start(tmp, port, label, app, worker, extra=()):
    return L.start(tmp, worker, app, ["--mode", "stream", "--from", "trim_horizon"] + list(extra), table="orders",
                   streams_endpoint_url="http://127.0.0.1:%d" % port, stream_arn=L.STREAM_ARN % label,
                   discovery_interval_ms=300)


def leases(app):
    """lease_key -> (shard, checkpoint) of the application."""
    return {i["lease_key"]["S"]: (i["shard"]["S"], i["checkpoint"]["S"]) for i in L.lease_items(app)}


def test_trimmed(tmp, app):
    d = L.StreamsDouble(tmp, "--records-per-page", "5", "--delay-ms", "10", "--trim-read-shards",
                        "--stream-label", "2024-01-01T00:00:00.000")
    try:
        ws = [start(tmp, d.port, "2024-01-01T00:00:00.000", app, "c%d" % i) for i in range(2)]
        want = {(k, s) for k, evs in d.expect.items() for s, _ in evs}
        deadline = time.time() + (180 if SLOW else 60)
        ls, got, armed = {}, set(), False
        while time.time() < deadline:
            time.sleep(0.3)
            got = {(k, s) for w in ws for k, s, _, _ in L.stream_events(w["out"])}
            ls = leases(app)
            if not armed and all((sh, "SHARD_END") in ls.values() for sh in CLOSED):
                urllib.request.urlopen("http://127.0.0.1:%d/__trim_read_shards" % d.port, timeout=30).read()
                armed = True
            shards = {sh for sh, _ in ls.values()}
            if want <= got and not (shards & set(CLOSED)) and len(shards) >= 4:
                break
        L.terminate(ws, 60 if SLOW else 20)
        E.check(armed, "trimmed: every closed shard's lease reached SHARD_END", ls)
        for w in ws:
            E.check(w["proc"].returncode == 0, "trimmed: %s exits 0 on SIGTERM (rc=%s)"
                    % (w["worker"], w["proc"].returncode), L.log_tail(w))
        shards = {sh: cp for sh, cp in ls.values()}
        E.check(not (set(shards) & set(CLOSED)), "trimmed: the leases of the trimmed shards at SHARD_END were "
                "deleted", shards)
        E.check({"shardId-00004-C", "shardId-00005-G", "shardId-00006-D", "shardId-00007-E"} <= set(shards),
                "trimmed: the open shards' leases stay", shards)
        L.check_union(d, [w["out"] for w in ws], "trimmed")
        st = [json.load(open(w["stats"])) for w in ws if os.path.exists(w["stats"])]
        E.check(sum(s.get("leases", {}).get("deleted", 0) for s in st) == len(CLOSED),
                "trimmed: the stats count %d deleted leases" % len(CLOSED), [s.get("leases") for s in st])
    finally:
        d.stop()


def test_reenabled(tmp, app):
    before = leases(app)
    d = L.StreamsDouble(tmp, "--records-per-page", "7", "--stream-label", "2024-06-01T00:00:00.000")
    try:
        w = start(tmp, d.port, "2024-06-01T00:00:00.000", app, "r0", ["--until-caught-up"])
        L.wait_exit([w], 120 if SLOW else 40)
        E.check(w["proc"].returncode == 0, "re-enabled: the worker exits 0 once caught up (rc=%s)"
                % w["proc"].returncode, L.log_tail(w))
        L.check_union(d, [w["out"]], "re-enabled: the new stream read from its trim horizon")
        after = leases(app)
        old = {k: v for k, v in after.items() if "2024-01-01" in k}
        E.check(old == before, "re-enabled: the old stream's leases are left as they were",
                (sorted(before.items())[:3], sorted(old.items())[:3]))
        E.check(any("2024-06-01" in k for k in after), "re-enabled: the new stream has leases of its own",
                sorted(after))
    finally:
        d.stop()


def main():
    L.create_orders_table()
    app = "hyg%d" % time.time_ns()
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_trimmed, test_reenabled):
            t0 = time.time()
            t(tmp, app)
            print("  %s (%.1f s)" % (t.__name__, time.time() - t0))
    L.finish()


if __name__ == "__main__":
    main()
