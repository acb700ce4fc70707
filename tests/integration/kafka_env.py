"""Kafka side of the integration tests: librdkafka's mock cluster (tests/tools/kafka_mock_cluster)
and an independent client (Debian's python3-confluent-kafka) to produce input, read committed
offsets and consume output. Not a test itself; integration tests import it from their folder (after
ddblocal_env), fault tests from tests/integration. Skips (exit 77) when the client or the mock cluster
is missing."""
import json
import os
import subprocess
import sys
import time



def skip(msg):
    print("SKIPPED: " + msg)
    sys.exit(77)


try:
    from confluent_kafka import Consumer, Producer, TopicPartition
except ImportError:
    skip("python3-confluent-kafka is not installed")

BUILD = os.environ.get("DDBPIPE_BUILD_DIR", os.getcwd())
MOCK = os.path.join(BUILD, "kafka_mock_cluster")
if not os.path.exists(MOCK):
    skip("tests/tools/kafka_mock_cluster not built")

SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")


def scaled(full, asan, valgrind):
    """Volume for this run: full size, or smaller under ASan / valgrind (DDBPIPE_TEST_SLOW)."""
    return {"asan": asan, "valgrind": valgrind}.get(SLOW, full)


class Cluster:
    """Mock cluster on loopback; stops when this process closes its stdin (also when we die)."""

    def __init__(self, topics, brokers=3):
        args = [MOCK, "--brokers", str(brokers)]
        for name, parts in topics.items():
            args += ["--topic", "%s:%d" % (name, parts)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        if not self.bootstrap:
            raise RuntimeError("kafka_mock_cluster printed no bootstrap servers")

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()


def producer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
    conf.update(extra)
    return Producer(conf)


def produce_all(p, topic, msgs):
    """msgs: (partition, key bytes|None, value bytes|None). Returns [(partition, offset)] in order."""
    out = [None] * len(msgs)
    errs = []

    def done(i):
        def cb(err, m):
            if err:
                errs.append(str(err))
            else:
                out[i] = (m.partition(), m.offset())
        return cb

    for i, (part, key, value) in enumerate(msgs):
        while True:
            try:
                p.produce(topic, value=value, key=key, partition=part, on_delivery=done(i))
                break
            except BufferError:
                p.poll(0.1)
        if i % 1000 == 0:
            p.poll(0)
    p.flush(60)
    if errs or any(o is None for o in out):
        raise RuntimeError("produce failed: %s" % (errs[:3] or "missing delivery reports"))
    return out


def end_offsets(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ddbpipe-test-probe", "enable.auto.commit": False})
    try:
        res = {}
        for p in range(partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            res[p] = (lo, hi)
        return res
    finally:
        c.close()


def committed(bootstrap, group, topic, partitions):
    """Committed offset per partition (-1001 = none), read as the group's committed offsets."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def consume_all(bootstrap, topic, expect, timeout_s=60, group="ddbpipe-test-reader"):
    """Read `expect` messages from the start of topic: [(partition, offset, key, value, headers)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    end = time.time() + timeout_s
    try:
        while len(out) < expect and time.time() < end:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append((m.partition(), m.offset(), m.key(), m.value(), m.headers() or []))
    finally:
        c.close()
    return out


def sink_config(path, endpoint, table, bootstrap, group, topics, extra=""):
    with open(path, "w") as f:
        f.write("""table: %s
endpoint_url: %s
region: us-east-1
aws_access_key_id: AKIDLOCAL
aws_secret_access_key: secret
partition_key: id
partition_key_type: N
create_table_if_missing: true
kafka_topics: [%s]
kafka_commit_interval_ms: 300
kafka:
  bootstrap.servers: "%s"
  group.id: %s
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
%s""" % (table, endpoint, ", ".join(topics), bootstrap, group, extra))


def wait_committed(bootstrap, group, topic, partitions, target, timeout_s, procs=()):
    """Wait until the group's committed offsets reach target {partition: offset}; False on timeout
    or when one of procs exited."""
    end = time.time() + timeout_s
    while time.time() < end:
        got = committed(bootstrap, group, topic, partitions)
        if all(target[p] == 0 or got.get(p, -1) >= target[p] for p in target):
            return True
        if any(pr.poll() is not None for pr in procs):
            return False
        time.sleep(0.5)
    return False


def log(msg):
    print(msg, flush=True)
    sys.stdout.flush()


def dumps(o):
    return json.dumps(o, separators=(",", ":")).encode()
