#!/usr/bin/python3
"""Scale-out of `ddbpipe sink --kafka` in one consumer group (issue 13), under both rebalance
protocols (the eager default, then cooperative-sticky through kafka.partition.assignment.strategy).

A 12-partition topic holds the changes (upserts and deletes; each item's changes in one partition,
in order). Three sinks start in one group; once some offsets are committed one is SIGKILLed (its
partitions move after session.timeout.ms), later a fourth joins. When the group's committed
offsets reach the end offsets, the survivors get SIGTERM. Checked: the table equals the model,
committed offsets equal the end offsets, every survivor exits 0; printed: how many messages were
consumed (and so written) more than once.
"""
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client
from kafka_env import SLOW, Cluster, committed, dumps, end_offsets, log, produce_all, producer, scaled, sink_config

N = scaled(40000, 8000, 800)  # per protocol
KEYS = max(60, N // 8)
PARTS = 12
seed = int(os.environ.get("DDBPIPE_KAFKA_SEED", random.randrange(1 << 30)))
rnd = random.Random(seed)
log("seed %d, %d changes per protocol over %d keys" % (seed, N, KEYS))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def records_in(port):
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    except Exception:
        return None
    for line in text.splitlines():
        if line.startswith("ddbpipe_sink_records_in_total "):
            return int(float(line.split()[1]))
    return None


def committed_sum(cluster, group, topic):
    return sum(max(0, o) for o in committed(cluster.bootstrap, group, topic, PARTS).values())


def scenario(cluster, strategy, work):
    topic = "scale_" + strategy.replace("-", "_")
    model, msgs = {}, []
    for n in range(N):
        i = rnd.randrange(KEYS)
        if rnd.random() < 0.1:
            msgs.append((i % PARTS, dumps({"id": i}), None))  # tombstone: delete
            model.pop(i, None)
        else:
            msgs.append((i % PARTS, dumps({"id": i}), dumps({"id": i, "v": n, "pad": "x" * 100})))
            model[i] = {"id": {"N": str(i)}, "v": {"N": str(n)}, "pad": {"S": "x" * 100}}
    produce_all(producer(cluster.bootstrap), topic, msgs)
    ends = {p: hi for p, (lo, hi) in end_offsets(cluster.bootstrap, topic, PARTS).items()}
    total = sum(ends.values())
    table = "kafka_scale_%s_%d_%d" % (strategy.replace("-", "_"), os.getpid(), rnd.randrange(1 << 20))
    group = "ddbpipe-" + table
    extra = "  partition.assignment.strategy: %s\n" % strategy
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    procs = []

    def start(n):
        port = free_port()
        conf = os.path.join(work, "%s-%d.yaml" % (strategy, n))
        # small buffers keep the run long enough to kill a member mid-way
        sink_config(conf, ENDPOINT, table, cluster.bootstrap, group, [topic],
                    extra + "max_buffered_records: 500\nmax_concurrent_requests: 4\nmetrics_address: 127.0.0.1:%d\n"
                    % port)
        stats = os.path.join(work, "%s-%d.stats.json" % (strategy, n))
        err = open(os.path.join(work, "%s-%d.err" % (strategy, n)), "w")
        p = subprocess.Popen([BIN, "sink", "-c", conf, "--kafka", "--stats-file", stats], env=env, stderr=err)
        procs.append({"p": p, "port": port, "stats": stats, "err": err.name, "n": n})
        return procs[-1]

    for n in range(3):
        start(n)
    t0 = time.time()
    deadline = t0 + 600
    while committed_sum(cluster, group, topic) < total // 5 and time.time() < deadline:
        time.sleep(0.2)
    victim = procs[1]
    victim_in = records_in(victim["port"]) or 0
    victim["p"].send_signal(signal.SIGKILL)
    victim["p"].wait()
    at_kill = committed_sum(cluster, group, topic)
    log("  %s: killed member 2 at %d/%d committed (it had taken %d messages)" % (strategy, at_kill, total,
                                                                                 victim_in))
    check(at_kill < total, "%s: the member was killed mid-run" % strategy, at_kill)
    while committed_sum(cluster, group, topic) < total // 2 and time.time() < deadline:
        time.sleep(0.2)
    start(3)
    log("  %s: member 4 joined at %d/%d committed" % (strategy, committed_sum(cluster, group, topic), total))
    while time.time() < deadline:
        got = committed(cluster.bootstrap, group, topic, PARTS)
        if all(got[p] >= ends[p] for p in ends):
            break
        time.sleep(0.5)
    live = [x for x in procs if x is not victim]
    for x in live:  # a member still starting (slow under valgrind) has no signal handler yet
        t_ready = time.time() + 60
        while records_in(x["port"]) is None and x["p"].poll() is None and time.time() < t_ready:
            time.sleep(0.2)
        x["p"].send_signal(signal.SIGTERM)
    for x in live:
        rc = x["p"].wait(timeout=120)
        check(rc == 0, "%s: member %d exits 0 after SIGTERM" % (strategy, x["n"] + 1),
              "rc=%s %s" % (rc, open(x["err"]).read()[-1500:]))
    got = committed(cluster.bootstrap, group, topic, PARTS)
    check(got == ends, "%s: committed offsets == end offsets" % strategy, "%s\n%s" % (got, ends))
    ddb = ddb_client()
    items = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for it in page["Items"]:
            items[int(it["id"]["N"])] = it
    diff = [k for k in set(model) | set(items) if model.get(k) != items.get(k)]
    check(not diff and len(items) == len(model), "%s: table equals the model (%d items)" % (strategy, len(model)),
          [(k, model.get(k), items.get(k)) for k in diff[:3]])
    survivors = 0
    rebalances = 0
    for x in live:
        try:
            st = json.load(open(x["stats"]))
            survivors += st["kafka"]["messages_in"]
            rebalances += st["kafka"]["rebalances"]
        except (OSError, ValueError, KeyError) as e:
            check(False, "%s: member %d wrote its statistics" % (strategy, x["n"] + 1), e)
    # the victim's count was read before the kill, so it is a lower bound (it went on consuming until
    # SIGKILL landed); what it had not committed by then, the survivors must have consumed
    consumed = victim_in + survivors
    log("  %s: %d messages, at least %d consumed in all: %d consumed (and written) twice; %d rebalances seen by the "
        "survivors; %.1f s" % (strategy, total, consumed, max(0, consumed - total), rebalances, time.time() - t0))
    check(survivors + at_kill >= total, "%s: every message not committed at the kill was consumed by a survivor"
          % strategy, "survivors %d + committed at kill %d < %d" % (survivors, at_kill, total))


work = tempfile.mkdtemp(prefix="ddbpipe-kafka-scale-")
cluster = Cluster({"scale_range": PARTS, "scale_cooperative_sticky": PARTS})
try:
    # under valgrind one protocol keeps the test near a minute (both run in the other sweeps)
    if SLOW != "valgrind":
        scenario(cluster, "range", work)
    scenario(cluster, "cooperative-sticky", work)
finally:
    cluster.stop()

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
