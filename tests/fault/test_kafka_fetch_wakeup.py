#!/usr/bin/python3
"""`ddbpipe sink --kafka` is not paced by librdkafka's fetch back-off (issue 13, benchmark).

librdkafka before 2.2 (Debian 12 has 2.0.2) stops fetching once its consumer queue holds
queued.min.messages, and then looks again only about a second later (librdkafka issue #2879): a
consumer that is slower than the fetches gets about queued.min.messages a second. ddbpipe wakes the
fetchers when the queue has run low. With queued.min.messages: 200, a 4-partition topic of N messages
and a null endpoint (bench/null_endpoint: answers every write at once), the sink must take the topic at
well over 500 messages a second: every message written once, the group's committed offsets equal to the
end offsets, and (not under ASan/valgrind, where only the volume shrinks) within N / 2500 + 10 s of the
partition assignment, where a paced consumer needs about N / 1000 s or more.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from kafka_env import SLOW, BUILD, Cluster, committed, dumps, end_offsets, log, produce_all, producer, scaled  # noqa: E402

BIN = os.environ.get("DDBPIPE_BIN")
NULL_EP = os.path.join(BUILD, "null_endpoint")
if not BIN or not os.path.exists(BIN):
    print("SKIPPED: DDBPIPE_BIN not built")
    sys.exit(77)
if not os.path.exists(NULL_EP):
    print("SKIPPED: bench/null_endpoint not built")
    sys.exit(77)
N = scaled(60000, 20000, 4000)
PARTS = 4
FAILS = []


def check(cond, what, detail=""):
    print(("  ok   " if cond else "  FAIL ") + what + ("" if cond or not detail else "\n       " + str(detail)[:2000]),
          flush=True)
    if not cond:
        FAILS.append(what)


def stamp(line):
    """Seconds since the epoch of a log line's timestamp."""
    return datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


log("%d messages, %d partitions, queued.min.messages 200" % (N, PARTS))
ne = subprocess.Popen([NULL_EP, "--latency-ms", "0"], stdout=subprocess.PIPE, text=True)
port = int(ne.stdout.readline().split()[1])
endpoint = "http://127.0.0.1:%d" % port
cluster = Cluster({"pace": PARTS})
sink = None
try:
    msgs = [(n % PARTS, None, dumps({"id": "k-%d" % n, "n": n, "pad": "p" * 120})) for n in range(N)]
    produce_all(producer(cluster.bootstrap, **{"linger.ms": 20}), "pace", msgs)
    ends = {p: hi for p, (lo, hi) in end_offsets(cluster.bootstrap, "pace", PARTS).items()}
    check(sum(ends.values()) == N, "the topic holds every message", ends)
    work = tempfile.mkdtemp(prefix="ddbpipe-kafka-wakeup-")
    conf = os.path.join(work, "sink.yaml")
    with open(conf, "w") as f:
        f.write("""table: pace
region: us-east-1
endpoint_url: %s
aws_access_key_id: AKIDLOCAL
aws_secret_access_key: secret
partition_key: id
kafka_topics: [pace]
kafka_commit_interval_ms: 200
kafka:
  bootstrap.servers: "%s"
  group.id: wakeup
  session.timeout.ms: 6000
  queued.min.messages: 200
""" % (endpoint, cluster.bootstrap))
    errf = os.path.join(work, "sink.err")
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    with open(errf, "w") as err:
        sink = subprocess.Popen([BIN, "sink", "-c", conf, "--kafka", "-v"], env=env, stderr=err)
    deadline = time.time() + (600 if SLOW else 180)
    got = {}
    while time.time() < deadline and sink.poll() is None:
        got = committed(cluster.bootstrap, "wakeup", "pace", PARTS)
        if got == ends:
            break
        time.sleep(0.1)
    t_done = time.time()
    check(got == ends, "committed offsets reach the end offsets", {"committed": got, "end": ends})
    if sink.poll() is None:
        sink.terminate()
    rc = sink.wait(timeout=120)
    sink = None
    check(rc == 0, "SIGTERM: exit 0", rc)
    text = open(errf).read()
    assigned = [stamp(l) for l in text.splitlines() if "kafka: assigned" in l]
    m = re.search(r"kafka: (\d+) messages in, (\d+) written", text)
    check(m is not None and int(m.group(1)) == N and int(m.group(2)) == N,
          "every message taken and written once", m.group(0) if m else text[-2000:])
    with urllib.request.urlopen(endpoint + "/__stats", timeout=10) as r:
        items = json.loads(r.read())["items"]
    check(items == N, "the endpoint received every item once", items)
    if assigned:
        took = t_done - assigned[0]
        log("%d messages in %.1f s after the assignment (%.0f/s)" % (N, took, N / took))
        if not SLOW:
            check(took < N / 8000 + 2, "not paced by the fetch back-off: %.1f s < %.1f s" % (took, N / 8000 + 2))
    else:
        check(False, "the sink logged its assignment", text[-2000:])
finally:
    if sink is not None:
        sink.kill()
    cluster.stop()
    ne.terminate()
    ne.wait()

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), "; ".join(FAILS)))
    sys.exit(1)
print("PASS")
