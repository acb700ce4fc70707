#!/usr/bin/python3
"""`ddbpipe sink --kafka` end to end (issue 13): DynamoDB Local + librdkafka's mock cluster.

A 6-partition topic gets 50,000 changes (fewer under ASan/valgrind) produced by Python's
confluent_kafka: plain rows (some without the key attribute, which the message key supplies),
Feldera insert/delete, Debezium envelopes with the Kafka Connect schema/payload wrapper, deletes
followed by tombstones keyed by Debezium key envelopes, DynamoDB Streams records, and malformed
messages of five kinds. All changes of one item go to one partition (id % 6), in order. Checked:
  - the scanned table equals the model (the last change of every key);
  - every malformed message, and nothing else, is in the dead-letter file with its reason,
    partition and offset;
  - while running and after SIGTERM, the group's committed offsets reach the end offsets exactly;
  - exit code 1 (dead letters), statistics count every message.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client
from kafka_env import (Cluster, committed, dumps, end_offsets, log, produce_all, producer, scaled, sink_config,
                       wait_committed)

N = scaled(50000, 10000, 1500)
KEYS = max(50, N // 10)
PARTS = 6
TOPIC = "changes"
seed = int(os.environ.get("DDBPIPE_KAFKA_SEED", random.randrange(1 << 30)))
rnd = random.Random(seed)
log("seed %d, %d changes over %d keys" % (seed, N, KEYS))

DBZ_KEY_SCHEMA = {"type": "struct", "name": "inventory.items.Key", "optional": False,
                  "fields": [{"field": "id", "type": "int64", "optional": False}]}


def dbz_key(i):
    return dumps({"schema": DBZ_KEY_SCHEMA, "payload": {"id": i}})


def typed(i, v, s):
    return {"id": {"N": str(i)}, "v": {"N": str(v)}, "s": {"S": s}}


model = {}
msgs = []          # (partition, key, value)
bad_idx = set()    # indexes of malformed messages
for n in range(N):
    i = rnd.randrange(KEYS)
    part = i % PARTS
    r = rnd.random()
    if r < 0.02:
        kind = rnd.randrange(5)
        if kind == 0:
            msgs.append((part, None, b'{"id": 1, "v": '))                       # not JSON
        elif kind == 1:
            msgs.append((part, None, dumps({"v": n, "s": "nokey"})))            # no key anywhere
        elif kind == 2:
            msgs.append((part, dumps({"id": i}), dumps({"id": True, "v": n})))  # BOOL key
        elif kind == 3:
            msgs.append((part, dbz_key(i), dumps({"payload": {"before": None, "after": {"id": i}, "op": "x"}})))
        else:
            msgs.append((part, b"not a key", None))                            # tombstone, unusable key
        bad_idx.add(len(msgs) - 1)
        continue
    if r < 0.25:
        row = {"id": i, "v": n, "s": "plain"}
        key = dumps({"id": i})
        if rnd.random() < 0.3:
            del row["id"]  # the message key supplies it
        msgs.append((part, key, dumps(row)))
        model[i] = typed(i, n, "plain")
    elif r < 0.40:
        msgs.append((part, None, dumps({"insert": {"id": i, "v": n, "s": "feldera"}})))
        model[i] = typed(i, n, "feldera")
    elif r < 0.45:
        msgs.append((part, None, dumps({"delete": {"id": i}})))
        model.pop(i, None)
    elif r < 0.65:
        after = {"id": i, "v": n, "s": "debezium"}
        env = {"schema": {"type": "struct", "name": "inventory.items.Envelope"},
               "payload": {"before": None, "after": after, "op": rnd.choice("cur"),
                           "source": {"connector": "postgresql", "table": "items"}, "ts_ms": 1700000000000 + n}}
        msgs.append((part, dbz_key(i), dumps(env)))
        model[i] = typed(i, n, "debezium")
    elif r < 0.75:
        before = {"id": i, "v": 0, "s": "old"}
        env = {"schema": {"type": "struct"}, "payload": {"before": before, "after": None, "op": "d"}}
        msgs.append((part, dbz_key(i), dumps(env)))
        msgs.append((part, dbz_key(i), None))  # the tombstone that follows a Debezium delete
        model.pop(i, None)
    elif r < 0.95:
        img = typed(i, n, "ddb")
        img["l"] = {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": True}]}
        rec = {"eventName": rnd.choice(["INSERT", "MODIFY"]),
               "dynamodb": {"Keys": {"id": {"N": str(i)}}, "NewImage": img}}
        msgs.append((part, dumps({"id": i}), dumps(rec)))
        model[i] = img
    else:
        rec = {"eventName": "REMOVE", "dynamodb": {"Keys": {"id": {"N": str(i)}}}}
        msgs.append((part, None, dumps(rec)))
        model.pop(i, None)

work = tempfile.mkdtemp(prefix="ddbpipe-kafka-")
cluster = Cluster({TOPIC: PARTS})
try:
    t0 = time.time()
    positions = produce_all(producer(cluster.bootstrap), TOPIC, msgs)
    log("produced %d messages in %.1f s" % (len(msgs), time.time() - t0))
    ends = {p: hi for p, (lo, hi) in end_offsets(cluster.bootstrap, TOPIC, PARTS).items()}
    lows = {p: lo for p, (lo, hi) in end_offsets(cluster.bootstrap, TOPIC, PARTS).items()}
    check(all(lo == 0 for lo in lows.values()), "the mock cluster kept every message (low watermarks 0)", lows)
    expect_bad = {positions[i] for i in bad_idx}

    table = "kafka_sink_%d_%d" % (os.getpid(), rnd.randrange(1 << 20))
    group = "ddbpipe-" + table
    conf = os.path.join(work, "sink.yaml")
    dlq = os.path.join(work, "dead.jsonl")
    stats = os.path.join(work, "stats.json")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    mport = sock.getsockname()[1]
    sock.close()
    sink_config(conf, ENDPOINT, table, cluster.bootstrap, group, [TOPIC], "metrics_address: 127.0.0.1:%d\n" % mport)
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    err = open(os.path.join(work, "sink.err"), "w")
    t0 = time.time()
    proc = subprocess.Popen([BIN, "sink", "-c", conf, "--kafka", "--dead-letter", dlq, "--stats-file", stats],
                            env=env, stderr=err)
    reached = wait_committed(cluster.bootstrap, group, TOPIC, PARTS, ends, 600, (proc,))
    check(reached, "committed offsets reach the end offsets while running (%.1f s)" % (time.time() - t0))
    # Prometheus: per-partition committed offsets and lag, messages in
    metrics_ok, text = False, ""
    for _ in range(50):
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode()
        except OSError:
            text = ""
        got_c = {int(m.group(1)): int(float(m.group(2))) for m in
                 re.finditer(r'^ddbpipe_kafka_committed_offset\{partition="%s/(\d+)"\} (\S+)' % TOPIC, text, re.M)}
        lags = [float(x) for x in re.findall(r'^ddbpipe_kafka_consumer_lag\{[^}]*\} (\S+)', text, re.M)]
        m_in = re.search(r'^ddbpipe_kafka_messages_in_total (\S+)', text, re.M)
        if got_c == ends and len(lags) == PARTS and not any(lags) and m_in and float(m_in.group(1)) >= len(msgs):
            metrics_ok = True
            break
        time.sleep(0.2)
    check(metrics_ok, "/metrics shows messages in, committed offset == end and lag 0 for every partition",
          "\n".join(l for l in text.splitlines() if "kafka" in l)[:1500])
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    err.close()
    errtext = open(os.path.join(work, "sink.err")).read()
    check(rc == 1, "exit 1 after SIGTERM (records were dead-lettered)", "rc=%s\n%s" % (rc, errtext[-2000:]))

    got = committed(cluster.bootstrap, group, TOPIC, PARTS)
    check(got == ends, "committed offsets == end offsets after exit", "committed %s\nends %s" % (got, ends))

    # the table
    ddb = ddb_client()
    items = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for it in page["Items"]:
            items[int(it["id"]["N"])] = it
    check(len(items) == len(model), "table has the model's %d items" % len(model), "got %d" % len(items))
    diff = [k for k in set(model) | set(items) if model.get(k) != items.get(k)]
    check(not diff, "every item equals the model", [(k, model.get(k), items.get(k)) for k in diff[:5]])

    # the dead letters
    lines = [json.loads(x) for x in open(dlq)] if os.path.exists(dlq) else []
    got_bad = {(d["partition"], d["offset"]) for d in lines}
    check(got_bad == expect_bad and len(lines) == len(expect_bad),
          "every malformed message (%d) dead-lettered once with its partition/offset" % len(expect_bad),
          "missing %s extra %s" % (sorted(expect_bad - got_bad)[:5], sorted(got_bad - expect_bad)[:5]))
    check(all(d.get("reason") and d.get("topic") == TOPIC for d in lines), "each dead letter has a reason")
    tomb = [d for d in lines if d["record"] is None]
    check(tomb and all("tombstone" in d["reason"] and d["key"] == "not a key" for d in tomb),
          "a tombstone with an unusable key is dead-lettered with its key and a reason", tomb[:2])
    by_reason = {}
    for d in lines:
        by_reason.setdefault(d["reason"][:60], 0)
        by_reason[d["reason"][:60]] += 1
    log("dead-letter reasons: %s" % json.dumps(by_reason, indent=1))

    st = json.load(open(stats))
    check(st["kafka"]["messages_in"] >= len(msgs), "statistics count every message in",
          st["kafka"]["messages_in"])
    check(st["dead_lettered"] == len(expect_bad), "statistics count the dead letters", st["dead_lettered"])
    check(st["internal_errors"] == 0, "no internal errors")
    # what a Kafka user checks: the group and each partition's committed offset (== the end after
    # exit); no file-input position (Kafka offsets are per partition)
    ks = st["kafka"]
    check(ks.get("group_id") == group, "statistics name the consumer group", ks.get("group_id"))
    st_committed = {p["partition"]: p["committed"] for p in ks.get("partitions", []) if p.get("topic") == TOPIC}
    check(st_committed == ends, "statistics: committed offset == end offset for every partition",
          "stats %s\nends %s" % (st_committed, ends))
    check("checkpoint_offset" not in st and "checkpoint_line" not in st,
          "statistics have no file checkpoint_offset/checkpoint_line in Kafka mode", sorted(st))
    check("sasl" not in errtext and "secret" not in errtext, "no secret on stderr")
finally:
    cluster.stop()

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
