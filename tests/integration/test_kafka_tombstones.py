#!/usr/bin/python3
"""`ddbpipe sink --kafka` and tombstones (issue 13): a message with a key and a null value.

One topic gets rows for keys 0..K-1, then keyed tombstones for the even keys. Two sink runs read it
(two groups, two tables):
  - `kafka_tombstones: ignore`: every row is in the table (no tombstone deleted anything),
    records_in counts the tombstones, records_deleted is 0, nothing is dead-lettered, exit 0 and
    the committed offsets reach the end (the skipped tombstones are consumed); the skipped ones are
    counted in the stats file, in Prometheus (ddbpipe_kafka_tombstones_ignored_total), on the progress
    line (stderr on a terminal) and in the summary;
  - default (`delete`): the even keys are gone, records_deleted counts them, exit 0, committed == end.
"""
import json
import os
import pty
import re
import signal
import socket
import threading
import urllib.request
import subprocess
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client
from kafka_env import (Cluster, committed, dumps, end_offsets, log, produce_all, producer, scaled, sink_config,
                       wait_committed)

K = scaled(200, 100, 30)
PARTS = 2
TOPIC = "changes"

msgs = [(i % PARTS, dumps({"id": i}), dumps({"id": i, "v": i})) for i in range(K)]
tombs = [i for i in range(K) if i % 2 == 0]
msgs += [(i % PARTS, dumps({"id": i}), None) for i in tombs]

work = tempfile.mkdtemp(prefix="ddbpipe-kafka-tomb-")
cluster = Cluster({TOPIC: PARTS}, brokers=1)


def metric(port, name):
    """The value of an unlabelled Prometheus counter, or None."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(r"^%s (\S+)" % name, text, re.M)
    return float(m.group(1)) if m else None


def run(name, extra, want_ignored):
    """One sink run to the end of the topic, stderr on a terminal (so the progress line shows) and
    Prometheus on; returns (stats, table items by id)."""
    table = "kafka_tomb_%s_%d" % (name, os.getpid())
    group = "ddbpipe-" + table
    conf = os.path.join(work, name + ".yaml")
    stats = os.path.join(work, name + ".stats.json")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    mport = sock.getsockname()[1]
    sock.close()
    sink_config(conf, ENDPOINT, table, cluster.bootstrap, group, [TOPIC],
                extra + "metrics_address: 127.0.0.1:%d\n" % mport)
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    master, slave = pty.openpty()
    out = []

    def drain():  # the terminal must be read, or the sink blocks writing its progress line
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                return
            if not b:
                return
            out.append(b)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    t0 = time.time()
    proc = subprocess.Popen([BIN, "sink", "-c", conf, "--kafka", "--stats-file", stats], env=env, stderr=slave)
    os.close(slave)
    reached = wait_committed(cluster.bootstrap, group, TOPIC, PARTS, ends, 300, (proc,))
    check(reached, "%s: committed offsets reach the end offsets (%.1f s)" % (name, time.time() - t0))
    # Prometheus and the progress line count the skipped tombstones while it runs
    m, line = None, ""
    for _ in range(50):
        m = metric(mport, "ddbpipe_kafka_tombstones_ignored_total")
        lines = b"".join(out).decode(errors="replace").split("\r")
        line = next((l for l in reversed(lines) if "tombstones ignored" in l), "")
        if m == want_ignored and "tombstones ignored %d" % want_ignored in line:
            break
        time.sleep(0.2)
    check(m == want_ignored, "%s: Prometheus ddbpipe_kafka_tombstones_ignored_total == %d" % (name, want_ignored),
          m)
    check("tombstones ignored %d" % want_ignored in line, "%s: the progress line counts them" % name, line[-300:])
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    err = b"".join(out).decode(errors="replace")
    check("%d tombstones ignored" % want_ignored in err, "%s: the summary counts them" % name, err[-500:])
    got = committed(cluster.bootstrap, group, TOPIC, PARTS)
    check(got == ends, "%s: committed offsets == end offsets after exit" % name, "%s vs %s" % (got, ends))
    check(rc == 0, "%s: exit 0" % name, "rc=%s\n%s" % (rc, err[-2000:]))
    items = {}
    for page in ddb_client().get_paginator("scan").paginate(TableName=table):
        for it in page["Items"]:
            items[int(it["id"]["N"])] = it
    return json.load(open(stats)), items


try:
    produce_all(producer(cluster.bootstrap), TOPIC, msgs)
    ends = {p: hi for p, (lo, hi) in end_offsets(cluster.bootstrap, TOPIC, PARTS).items()}
    log("produced %d rows and %d keyed tombstones" % (K, len(tombs)))

    st, items = run("ignore", "kafka_tombstones: ignore\n", len(tombs))
    check(sorted(items) == list(range(K)), "ignore: every row is still in the table (%d)" % K,
          "missing %s" % sorted(set(range(K)) - set(items))[:10])
    check(st["records_in"] == len(msgs), "ignore: records_in counts the skipped tombstones",
          "%s != %d" % (st["records_in"], len(msgs)))
    check(st["kafka"]["tombstones_ignored"] == len(tombs), "ignore: kafka.tombstones_ignored counts them",
          "%s != %d" % (st["kafka"].get("tombstones_ignored"), len(tombs)))
    check(st["records_deleted"] == 0 and st["dead_lettered"] == 0,
          "ignore: no delete, no dead letter", "deleted %s dead %s" % (st["records_deleted"], st["dead_lettered"]))

    st, items = run("delete", "", 0)
    want = sorted(i for i in range(K) if i % 2)
    check(sorted(items) == want, "default: every tombstoned key is deleted, the others remain",
          "extra %s missing %s" % (sorted(set(items) - set(want))[:10], sorted(set(want) - set(items))[:10]))
    check(st["records_deleted"] == len(tombs), "default: records_deleted counts the tombstones",
          "%s != %d" % (st["records_deleted"], len(tombs)))
    check(st["dead_lettered"] == 0 and st["kafka"]["tombstones_ignored"] == 0,
          "default: no dead letter, no tombstone ignored")
finally:
    cluster.stop()

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
