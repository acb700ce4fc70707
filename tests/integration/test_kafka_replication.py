#!/usr/bin/python3
"""Replication through Kafka (issue 13): `ddbpipe source --kafka` -> mock cluster -> `ddbpipe sink
--kafka` copies a table with every attribute type (S, N with 38 digits, B, BOOL, NULL, M, L, SS, NS,
BS), updates and deletes. The source reads the table's stream (--format dynamodb, lossless) with a
checkpoint and is SIGKILLed mid-run, then restarted from its checkpoint until caught up. Checked:
  - every stream event is in the topic (at least once), each message keyed by the item key as JSON;
  - after the sink consumed the topic (committed offsets == end offsets), the two tables are equal;
  - with --format debezium, every delete is followed by a tombstone with the same key in its
    partition.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client
from kafka_env import Cluster, committed, consume_all, end_offsets, log, scaled, sink_config, wait_committed

N = scaled(1500, 600, 150)
PARTS = 6
ddb = ddb_client()
suffix = uuid.uuid4().hex[:8]
SRC, DST = "kr_src_" + suffix, "kr_dst_" + suffix


def create(name, stream):
    kw = dict(TableName=name,
              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                    {"AttributeName": "n", "AttributeType": "N"}],
              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
              BillingMode="PAY_PER_REQUEST")
    if stream:
        kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.create_table(**kw)


def scan(name):
    items, kw = [], {"TableName": name}
    while True:
        r = ddb.scan(**kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            break
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["id"]["S"], int(i["n"]["N"])))


def item(i):
    return {
        "id": {"S": "user-%d" % (i % 7)}, "n": {"N": str(i)},
        "s": {"S": "h\u00e9llo \u2603 %d" % i}, "empty": {"S": ""},
        "big": {"N": "1234567890123456789012345678901234567" + str(i % 10)},
        "tiny": {"N": "-0.00000000000000000000000000000000000001"},
        "b": {"B": bytes([i % 256, 0, 255, 10])}, "t": {"BOOL": i % 2 == 0}, "nul": {"NULL": True},
        "m": {"M": {"k": {"S": "v"}, "deep": {"M": {"l": {"L": [{"N": "1"}, {"S": "x"}, {"NULL": True}]}}}}},
        "l": {"L": [{"N": "1.50"}, {"BOOL": False}, {"B": b"\x00\x01"}]},
        "ss": {"SS": ["a", "b", "c%d" % i]}, "ns": {"NS": ["1", "2.5", "99999999999999999999999999999999999999"]},
        "bs": {"BS": [b"\x01", b"\x02\x03"]},
    }


def write_conf(path, table, cluster, extra=""):
    with open(path, "w") as f:
        f.write("""table: %s
endpoint_url: %s
region: us-east-1
aws_access_key_id: AKIDLOCAL
aws_secret_access_key: secret
kafka:
  bootstrap.servers: "%s"
%s""" % (table, ENDPOINT, cluster.bootstrap, extra))


create(SRC, True)
create(DST, False)
cluster = Cluster({"repl": PARTS, "repl_dbz": PARTS})
env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
try:
    t0 = time.time()
    for i in range(N):
        ddb.put_item(TableName=SRC, Item=item(i))
    deletes = list(range(0, N, 3))
    for i in deletes:
        ddb.delete_item(TableName=SRC, Key={"id": item(i)["id"], "n": item(i)["n"]})
    for i in range(1, N, 3):
        it = item(i)
        it["s"] = {"S": "changed"}
        del it["bs"]
        ddb.put_item(TableName=SRC, Item=it)
    events = N + len(deletes) + len(range(1, N, 3))
    log("%d stream events written in %.1f s" % (events, time.time() - t0))

    work = tempfile.mkdtemp(prefix="ddbpipe-kafka-repl-")
    sconf = os.path.join(work, "source.yaml")
    write_conf(sconf, SRC, cluster, "kafka_topic: repl\n")
    cp = os.path.join(work, "source.cp")
    args = [BIN, "source", "-c", sconf, "--kafka", "--format", "dynamodb", "--mode", "stream", "--from",
            "trim_horizon", "--checkpoint", cp]
    err1 = open(os.path.join(work, "source1.err"), "w")
    p = subprocess.Popen(args, env=env, stderr=err1)
    at_kill = 0
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        at_kill = sum(hi for lo, hi in end_offsets(cluster.bootstrap, "repl", PARTS).values())
        if at_kill > 0:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    log("source SIGKILLed with %d/%d messages in the topic; checkpoint %s" % (at_kill, events,
                                                                            "written" if os.path.exists(cp) else
                                                                            "not written yet"))
    err2 = open(os.path.join(work, "source2.err"), "w")
    rc = subprocess.run(args + ["--until-caught-up"], env=env, stderr=err2, timeout=300).returncode
    check(rc == 0, "the restarted source exits 0 once caught up", open(err2.name).read()[-1500:])
    ends = {p_: hi for p_, (lo, hi) in end_offsets(cluster.bootstrap, "repl", PARTS).items()}
    total = sum(ends.values())
    check(total >= events, "every stream event is in the topic (%d messages for %d events: %d repeated)" %
          (total, events, total - events), total)

    msgs = consume_all(cluster.bootstrap, "repl", total, group="repl-reader-" + suffix)
    keyed = all(m[2] is not None and set(json.loads(m[2])) == {"id", "n"} for m in msgs)
    check(len(msgs) == total and keyed, "every message is keyed by the item key as JSON",
          [m[2] for m in msgs[:3]])
    seqs = {json.loads(m[3]).get("sequence") for m in msgs if m[3]}
    check(len(seqs) == events, "the topic holds each of the %d stream events (by sequence number)" % events,
          len(seqs))
    same_part = {}
    for m in msgs:
        same_part.setdefault(m[2], set()).add(m[0])
    check(all(len(v) == 1 for v in same_part.values()), "all changes of an item are in one partition")

    kconf = os.path.join(work, "sink.yaml")
    sink_config(kconf, ENDPOINT, DST, cluster.bootstrap, "repl-sink-" + suffix, ["repl"])
    with open(kconf) as f:
        text = f.read().replace("partition_key: id\npartition_key_type: N\ncreate_table_if_missing: true\n", "")
    with open(kconf, "w") as f:
        f.write(text)
    serr = open(os.path.join(work, "sink.err"), "w")
    sp = subprocess.Popen([BIN, "sink", "-c", kconf, "--kafka"], env=env, stderr=serr)
    ok = wait_committed(cluster.bootstrap, "repl-sink-" + suffix, "repl", PARTS, ends, 300, (sp,))
    check(ok, "the sink commits the end offsets")
    sp.send_signal(signal.SIGTERM)
    rc = sp.wait(timeout=120)
    check(rc == 0, "the sink exits 0 after SIGTERM", open(serr.name).read()[-1500:])
    a, b = scan(SRC), scan(DST)
    check(len(a) == N - len(deletes) and a == b, "the copy equals the source table (%d items, every type)" % len(a),
          "source %d copy %d; first difference %s" % (len(a), len(b),
                                                        next(((x, y) for x, y in zip(a, b) if x != y), None)))

    # Debezium to a compacted-style topic: a tombstone follows each delete.
    dconf = os.path.join(work, "dbz.yaml")
    write_conf(dconf, SRC, cluster, "kafka_topic: repl_dbz\n")
    rc = subprocess.run([BIN, "source", "-c", dconf, "--kafka", "--format", "debezium", "--mode", "stream",
                         "--from", "trim_horizon", "--until-caught-up"], env=env, capture_output=True,
                        timeout=300).returncode
    check(rc == 0, "source --kafka --format debezium exits 0")
    dtotal = sum(hi for lo, hi in end_offsets(cluster.bootstrap, "repl_dbz", PARTS).values())
    dm = consume_all(cluster.bootstrap, "repl_dbz", dtotal, group="dbz-reader-" + suffix)
    byp = {}
    for m in sorted(dm, key=lambda m: (m[0], m[1])):
        byp.setdefault(m[0], []).append(m)
    dels = tombs = paired = 0
    for lst in byp.values():
        for i, m in enumerate(lst):
            if m[3] is None:
                tombs += 1
                prev = lst[i - 1] if i else None
                if prev and prev[3] and json.loads(prev[3])["op"] == "d" and prev[2] == m[2]:
                    paired += 1
            elif json.loads(m[3])["op"] == "d":
                dels += 1
    check(dels == len(deletes) and tombs == dels and paired == dels,
          "each of the %d Debezium deletes is followed by a tombstone with its key" % len(deletes),
          "deletes %d tombstones %d paired %d" % (dels, tombs, paired))
finally:
    cluster.stop()
    for t in (SRC, DST):
        try:
            ddb.delete_table(TableName=t)
        except Exception:
            pass

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
