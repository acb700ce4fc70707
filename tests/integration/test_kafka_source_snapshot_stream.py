#!/usr/bin/python3
"""`ddbpipe source --kafka --mode snapshot+stream` (issue 13): DynamoDB Local + librdkafka's mock
cluster, Python's confluent_kafka as the independent reader.

A table with a stream holds K items before the source starts. Once their snapshot rows are in the
topic, the test modifies, deletes and inserts items. Checked:
  - every item is in the topic as one `snapshot` row, keyed by the item key as JSON ({"id":N});
  - every later change is in the topic as a stream event (modify/remove/insert) with the new values,
    keyed by its item key, after the snapshot rows of its partition;
  - all messages of one item are in one partition; exit 0 after SIGTERM.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client
from kafka_env import Cluster, consume_all, end_offsets, log, scaled

K = scaled(200, 100, 40)
PARTS = 3
TOPIC = "snap"
ddb = ddb_client()
table = "ks_src_" + uuid.uuid4().hex[:8]
ddb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                 KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
for i in range(K):
    ddb.put_item(TableName=table, Item={"id": {"N": str(i)}, "v": {"S": "before"}})


def in_topic():
    return sum(hi for lo, hi in end_offsets(cluster.bootstrap, TOPIC, PARTS).values())


def wait_topic(n, timeout_s):
    end = time.time() + timeout_s
    while time.time() < end and proc.poll() is None:
        if in_topic() >= n:
            return True
        time.sleep(0.3)
    return in_topic() >= n


cluster = Cluster({TOPIC: PARTS}, brokers=1)
work = tempfile.mkdtemp(prefix="ddbpipe-kafka-snap-")
env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
try:
    conf = os.path.join(work, "source.yaml")
    with open(conf, "w") as f:
        f.write("""table: %s
endpoint_url: %s
region: us-east-1
aws_access_key_id: AKIDLOCAL
aws_secret_access_key: secret
kafka_topic: %s
kafka:
  bootstrap.servers: "%s"
""" % (table, ENDPOINT, TOPIC, cluster.bootstrap))
    errpath = os.path.join(work, "source.err")
    err = open(errpath, "w")
    t0 = time.time()
    proc = subprocess.Popen([BIN, "source", "-c", conf, "--kafka", "--format", "json", "--mode", "snapshot+stream"],
                            env=env, stderr=err)
    check(wait_topic(K, 120), "the %d snapshot rows reach the topic (%.1f s)" % (K, time.time() - t0), in_topic())

    modified = list(range(0, K, 4))
    deleted = list(range(1, K, 4))
    inserted = list(range(K, K + K // 4))
    for i in modified:
        ddb.put_item(TableName=table, Item={"id": {"N": str(i)}, "v": {"S": "after"}})
    for i in deleted:
        ddb.delete_item(TableName=table, Key={"id": {"N": str(i)}})
    for i in inserted:
        ddb.put_item(TableName=table, Item={"id": {"N": str(i)}, "v": {"S": "new"}})
    changes = len(modified) + len(deleted) + len(inserted)
    check(wait_topic(K + changes, 120), "the %d stream changes reach the topic" % changes, in_topic())
    time.sleep(1)  # nothing more should come
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    err.close()
    check(rc == 0, "exit 0 after SIGTERM", "rc=%s\n%s" % (rc, open(errpath).read()[-2000:]))

    total = in_topic()
    msgs = consume_all(cluster.bootstrap, TOPIC, total, group="snap-reader-" + table)
    check(len(msgs) == total == K + changes, "the topic holds %d snapshot rows + %d changes" % (K, changes),
          "topic %d read %d" % (total, len(msgs)))
    events = []
    bad_key = []
    for (part, off, key, value, _h) in msgs:
        ev = json.loads(value)
        try:
            k = json.loads(key)
        except (TypeError, ValueError):
            k = None
        if k != {"id": ev["keys"]["id"]}:
            bad_key.append((key, ev.get("keys")))
        events.append((part, off, ev["keys"]["id"], ev))
    check(not bad_key, "every message is keyed by its item key as JSON", bad_key[:3])
    snaps = {i: ev for (_p, _o, i, ev) in events if ev["op"] == "snapshot"}
    check(len(snaps) == K and sorted(snaps) == list(range(K)) and
          all(ev["new"]["v"] == "before" for ev in snaps.values()),
          "every item once as a snapshot row with its values", sorted(set(range(K)) - set(snaps))[:5])
    stream = {(i, ev["op"]): ev for (_p, _o, i, ev) in events if ev["op"] != "snapshot"}
    want = ({(i, "modify") for i in modified} | {(i, "remove") for i in deleted} |
            {(i, "insert") for i in inserted})
    check(set(stream) == want, "every change once as a stream event (modify/remove/insert)",
          "missing %s extra %s" % (sorted(want - set(stream))[:5], sorted(set(stream) - want)[:5]))
    check(all(stream[(i, "modify")]["new"]["v"] == "after" for i in modified) and
          all(stream[(i, "insert")]["new"]["v"] == "new" for i in inserted if (i, "insert") in stream),
          "stream events carry the new values")
    parts = {}
    for (p, _o, i, _ev) in events:
        parts.setdefault(i, set()).add(p)
    check(all(len(v) == 1 for v in parts.values()), "all messages of an item are in one partition")
    last_snap = {}
    first_change = {}
    for (p, o, _i, ev) in events:
        if ev["op"] == "snapshot":
            last_snap[p] = max(last_snap.get(p, -1), o)
        else:
            first_change[p] = min(first_change.get(p, 1 << 62), o)
    check(all(first_change[p] > last_snap.get(p, -1) for p in first_change),
          "in each partition the stream changes follow the snapshot rows", (last_snap, first_change))
finally:
    cluster.stop()

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
