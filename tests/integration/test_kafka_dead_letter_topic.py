#!/usr/bin/python3
"""`ddbpipe sink --kafka` with `dead_letter_topic` (issue 13): DynamoDB Local + librdkafka's mock
cluster, Python's confluent_kafka as the independent producer and dead-letter reader.

A 3-partition topic gets good rows and malformed messages of four kinds (not JSON, no key anywhere,
a BOOL key, a tombstone whose key is not a key object). Checked:
  - every malformed message, and nothing else, is in the dead-letter topic once, with its value and
    key as received and headers ddbpipe.reason (non-empty), ddbpipe.topic, ddbpipe.partition,
    ddbpipe.offset naming where it came from;
  - the table holds exactly the good rows;
  - the group's committed offsets reach the end offsets (while running and after SIGTERM);
  - exit 1 (records were dead-lettered), statistics count the dead letters produced.
"""
import json
import os
import signal
import subprocess
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client
from kafka_env import (Cluster, committed, consume_all, dumps, end_offsets, log, produce_all, producer, scaled,
                       sink_config, wait_committed)

N = scaled(3000, 1000, 200)
PARTS = 3
TOPIC = "changes"
DEAD = "dead"

model = {}
msgs = []  # (partition, key, value)
bad_idx = []
for n in range(N):
    i = n
    part = i % PARTS
    if n % 10 == 3:
        kind = (n // 10) % 4
        if kind == 0:
            msgs.append((part, b"k%d" % n, b'{"id": 1, "v": '))                  # not JSON
        elif kind == 1:
            msgs.append((part, None, dumps({"v": n, "s": "nokey"})))             # no key anywhere
        elif kind == 2:
            msgs.append((part, dumps({"id": i}), dumps({"id": True, "v": n})))   # BOOL key
        else:
            msgs.append((part, b"not a key %d" % n, None))                      # tombstone, unusable key
        bad_idx.append(len(msgs) - 1)
        continue
    msgs.append((part, dumps({"id": i}), dumps({"id": i, "v": n, "s": "good"})))
    model[i] = {"id": {"N": str(i)}, "v": {"N": str(n)}, "s": {"S": "good"}}

work = tempfile.mkdtemp(prefix="ddbpipe-kafka-dlt-")
cluster = Cluster({TOPIC: PARTS, DEAD: 1}, brokers=1)
try:
    positions = produce_all(producer(cluster.bootstrap), TOPIC, msgs)
    ends = {p: hi for p, (lo, hi) in end_offsets(cluster.bootstrap, TOPIC, PARTS).items()}
    expect_bad = {positions[i]: msgs[i] for i in bad_idx}
    log("produced %d messages (%d malformed)" % (len(msgs), len(bad_idx)))

    table = "kafka_dlt_%d" % os.getpid()
    group = "ddbpipe-" + table
    conf = os.path.join(work, "sink.yaml")
    stats = os.path.join(work, "stats.json")
    sink_config(conf, ENDPOINT, table, cluster.bootstrap, group, [TOPIC], "dead_letter_topic: %s\n" % DEAD)
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    errpath = os.path.join(work, "sink.err")
    err = open(errpath, "w")
    t0 = time.time()
    proc = subprocess.Popen([BIN, "sink", "-c", conf, "--kafka", "--stats-file", stats], env=env, stderr=err)
    reached = wait_committed(cluster.bootstrap, group, TOPIC, PARTS, ends, 300, (proc,))
    check(reached, "committed offsets reach the end offsets while running (%.1f s)" % (time.time() - t0))
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    err.close()
    errtext = open(errpath).read()
    check(rc == 1, "exit 1 after SIGTERM (records were dead-lettered)", "rc=%s\n%s" % (rc, errtext[-2000:]))
    got = committed(cluster.bootstrap, group, TOPIC, PARTS)
    check(got == ends, "committed offsets == end offsets after exit", "committed %s\nends %s" % (got, ends))

    # the dead-letter topic, read by an independent consumer
    dead_total = end_offsets(cluster.bootstrap, DEAD, 1)[0][1]
    dead = consume_all(cluster.bootstrap, DEAD, dead_total, timeout_s=60)
    seen = {}
    bad_headers = []
    for (_p, _o, key, value, headers) in dead:
        h = {k: (v.decode() if v is not None else None) for k, v in headers}
        try:
            src = (int(h["ddbpipe.partition"]), int(h["ddbpipe.offset"]))
        except (KeyError, ValueError):
            bad_headers.append(h)
            continue
        if h.get("ddbpipe.topic") != TOPIC or not h.get("ddbpipe.reason"):
            bad_headers.append(h)
        seen.setdefault(src, []).append((key, value, h.get("ddbpipe.reason")))
    check(not bad_headers, "every dead letter has headers ddbpipe.reason/topic/partition/offset", bad_headers[:3])
    check(dead_total == len(dead) == len(bad_idx) and set(seen) == set(expect_bad),
          "every malformed message (%d), and nothing else, is in the dead-letter topic" % len(bad_idx),
          "topic %d read %d; missing %s extra %s" % (dead_total, len(dead), sorted(set(expect_bad) - set(seen))[:5],
                                          sorted(set(seen) - set(expect_bad))[:5]))
    mismatch = [(src, seen[src][0][:2], expect_bad[src][1:]) for src in seen if src in expect_bad and
                (len(seen[src]) != 1 or seen[src][0][:2] != expect_bad[src][1:])]
    check(not mismatch, "each dead letter once, with the key and value as received", mismatch[:3])
    tomb = [v for v in seen.values() if v[0][1] is None]
    check(tomb and all("tombstone" in r for (_k, _v, r) in (x[0] for x in tomb)),
          "a tombstone with an unusable key is dead-lettered with a null value and a tombstone reason", tomb[:2])
    reasons = sorted({v[0][2][:50] for v in seen.values()})
    log("dead-letter reasons: %s" % json.dumps(reasons, indent=1))

    # the table
    items = {}
    for page in ddb_client().get_paginator("scan").paginate(TableName=table):
        for it in page["Items"]:
            items[int(it["id"]["N"])] = it
    diff = [k for k in set(model) | set(items) if model.get(k) != items.get(k)]
    check(len(items) == len(model) and not diff, "the table holds exactly the %d good rows" % len(model),
          "got %d; %s" % (len(items), [(k, model.get(k), items.get(k)) for k in diff[:5]]))

    st = json.load(open(stats))
    check(st["dead_lettered"] == len(bad_idx), "statistics count the dead letters", st["dead_lettered"])
    check(st["kafka"]["dead_letters_produced"] == len(bad_idx), "statistics count the dead letters produced",
          st["kafka"].get("dead_letters_produced"))
    check(st["internal_errors"] == 0, "no internal errors")
finally:
    cluster.stop()

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
