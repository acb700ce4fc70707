#!/usr/bin/python3
"""Commit safety of `ddbpipe sink --kafka` (issue 13): an offset is never committed before DynamoDB
acknowledged every message below it, also across rebalances.

Endpoint: tests/fault/fault_double.py, slow (random delay up to 300 ms per call, some throttles and
resets), storing what it acknowledged. Every message is its own item (a unique id), so the double's
table is exactly the log of acknowledged messages. A 6-partition topic; one sink runs until about an
eighth of the messages were written, then the endpoint holds every write unanswered; a second sink joins
then (the held writes are in flight through the rebalance, and the run cannot end before the newcomer
has partitions, however slowly it starts); the held writes are then reset (unapplied, so retried) and
every call is answered after 3 s while the first gets SIGTERM
(another rebalance, still slow; kafka_revoke_timeout_ms is short, so revocations commit only part of
what was taken). Throughout, the group's committed offsets are read and *then* the double's table: for
every partition, every message below the committed offset must be in the table. At the end the table
holds every message and committed offsets equal end offsets.
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from kafka_env import Cluster, committed, dumps, end_offsets, log, produce_all, producer, scaled  # noqa: E402

BIN = os.environ.get("DDBPIPE_BIN")
SRC = os.environ.get("DDBPIPE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if not BIN or not os.path.exists(BIN):
    print("SKIPPED: DDBPIPE_BIN not built")
    sys.exit(77)
DOUBLE = os.path.join(SRC, "tests", "fault", "fault_double.py")
N = scaled(6000, 3000, 1200)
PARTS = 6
FAILS = []


def check(cond, what, detail=""):
    print(("  ok   " if cond else "  FAIL ") + what + ("" if cond or not detail else "\n       " + str(detail)[:2000]),
          flush=True)
    if not cond:
        FAILS.append(what)


seed = int(os.environ.get("DDBPIPE_KAFKA_SEED", random.randrange(1 << 30)))
log("seed %d, %d messages" % (seed, N))
dbl = subprocess.Popen([sys.executable, DOUBLE, "--table", "acks:id:N", "--delay-max-ms", "300", "--throttle", "0.03",
                        "--reset", "0.01", "--seed", str(seed), "--watch-stdin"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
port = int(dbl.stdout.readline().split()[1])
endpoint = "http://127.0.0.1:%d" % port
cluster = Cluster({"acks": PARTS})
procs = []
try:
    msgs = [(n % PARTS, dumps({"id": n}), dumps({"id": n, "pad": "y" * 200})) for n in range(N)]
    pos = produce_all(producer(cluster.bootstrap), "acks", msgs)
    id_at = {p: {} for p in range(PARTS)}
    for n, (p, off) in enumerate(pos):
        id_at[p][off] = n
    ends = {p: hi for p, (lo, hi) in end_offsets(cluster.bootstrap, "acks", PARTS).items()}
    work = tempfile.mkdtemp(prefix="ddbpipe-kafka-commit-")
    conf = os.path.join(work, "sink.yaml")
    # max_buffered_records above N: a member never waits in its input loop for held writes, so it keeps
    # serving the group (a member stuck there past the rebalance timeout is evicted; its writes in flight
    # and commits then race an eviction, not the rebalance this test is about)
    with open(conf, "w") as f:
        f.write("""table: acks
endpoint_url: %s
region: us-east-1
aws_access_key_id: AKIDLOCAL
aws_secret_access_key: secret
partition_key: id
partition_key_type: N
max_concurrent_requests: 8
max_buffered_records: %d
max_retries: null
kafka_topics: [acks]
kafka_commit_interval_ms: 100
kafka_revoke_timeout_ms: 150
kafka:
  bootstrap.servers: "%s"
  group.id: commit-safety
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
""" % (endpoint, N + 100, cluster.bootstrap))
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")

    def start(n):
        err = open(os.path.join(work, "sink%d.err" % n), "w")
        procs.append((subprocess.Popen([BIN, "sink", "-c", conf, "--kafka", "-v"], env=env, stderr=err), err.name))

    def has_partitions(n):
        with open(procs[n - 1][1]) as f:
            return "kafka: assigned" in f.read()

    def faults(**kw):
        req = urllib.request.Request(endpoint + "/__faults", data=json.dumps(kw).encode(), method="POST")
        urllib.request.urlopen(req, timeout=30).read()

    normal = {"delay_max_ms": 300, "throttle": 0.03, "reset": 0.01, "seed": seed}

    def acked():
        d = json.load(urllib.request.urlopen(endpoint + "/__dump", timeout=30))
        return {int(it["id"]["N"]) for it in d.get("acks", [])}

    # The first write calls as the random faults would have them, then every write is held (hang) until
    # the second member has partitions: the first member, however fast (under valgrind the volume is
    # small), cannot finish alone, and its commits meanwhile race writes held in flight.
    frnd = random.Random(seed)
    first = []
    for _ in range(max(4, N // 8 // 25)):
        r = frnd.random()
        first.append("reset" if r < 0.01 else "throttle" if r < 0.04 else "ok")
    write_ops = ["BatchWriteItem", "PutItem", "DeleteItem"]
    faults(delay_max_ms=300, seed=seed, sequence=first + ["hang"] * 1000000, fault_ops=write_ops)

    def hung():
        return json.load(urllib.request.urlopen(endpoint + "/__stats", timeout=30)).get("hung", 0)

    start(1)
    checks = violations = 0
    joined = sped = stopped = False
    t_hung = None
    t0 = time.time()
    deadline = t0 + 600
    while time.time() < deadline:
        got = committed(cluster.bootstrap, "commit-safety", "acks", PARTS)  # first the offsets ...
        have = acked()                                                      # ... then what was acknowledged
        checks += 1
        for p, off in got.items():
            if off <= 0:
                continue
            missing = [id_at[p][o] for o in range(off) if id_at[p][o] not in have]
            if missing:
                violations += 1
                check(False, "partition %d committed at %d before message(s) below it were acknowledged" % (p, off),
                      missing[:5])
        done = sum(max(0, o) for o in got.values())
        if not joined and t_hung is None and hung() > 0:
            t_hung = time.time()
        # writes held, and some offsets committed or a while passed: when the one call holding a
        # partition's first messages is held (calls arrive in any order, and an early throttle's retry
        # is held too), nothing can be committed until the held writes are let go
        if not joined and t_hung is not None and (done > 0 or time.time() - t_hung > 5):
            # the endpoint holds the first member's writes until the second member has partitions, so the
            # run cannot end before it joined (a 3 s stall per call was not enough under valgrind: the
            # first member finished alone while the second was starting)
            start(2)  # a rebalance while the first member has writes in flight
            joined = True
            log("  second member joined at %d/%d committed" % (done, sum(ends.values())))
        elif joined and not stopped and has_partitions(2):
            # another rebalance, while the slow endpoint holds writes in flight: the held writes are reset
            # (unapplied, so retried) and every call is answered after 3 s; the first member leaves
            faults(**dict(normal, stall=1.0, stall_ms=3000))
            req = urllib.request.Request(endpoint + "/__release", data=b"{}", method="POST")
            urllib.request.urlopen(req, timeout=30).read()
            procs[0][0].send_signal(signal.SIGTERM)
            stopped = True
            log("  first member stopped at %d/%d committed" % (done, sum(ends.values())))
        elif stopped and not sped and procs[0][0].poll() is not None:
            faults(**normal)
            sped = True
        if all(got[p] >= ends[p] for p in ends):
            break
        time.sleep(0.2)
    log("  %d checks of committed offsets against acknowledged items, %.1f s" % (checks, time.time() - t0))
    check(violations == 0, "no committed offset ever passed an unacknowledged message (%d checks)" % checks)
    check(joined and stopped, "both rebalances happened mid-run")
    for i, (p, _) in enumerate(procs):
        if p.poll() is None and not (i == 0 and stopped):  # a second SIGTERM would abort
            p.send_signal(signal.SIGTERM)
    for i, (p, err) in enumerate(procs):
        rc = p.wait(timeout=120)
        check(rc == 0, "member %d exits 0" % (i + 1), "rc=%s %s" % (rc, open(err).read()[-1500:]))
    got = committed(cluster.bootstrap, "commit-safety", "acks", PARTS)
    check(got == ends, "committed offsets == end offsets", "%s\n%s" % (got, ends))
    have = acked()
    check(have == set(range(N)), "every message acknowledged by the endpoint", "missing %d" % (N - len(have & set(range(N)))))
    st = json.load(urllib.request.urlopen(endpoint + "/__stats", timeout=30))
    log("  endpoint: %s requests, faults %s" % (st.get("requests"), st.get("faults")))
finally:
    for p, _ in procs:
        if p.poll() is None:
            p.kill()
    cluster.stop()
    dbl.stdin.close()
    dbl.wait(timeout=20)

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), FAILS))
    raise SystemExit(1)
print("PASSED")
