#!/usr/bin/python3
"""ddbpipe source against DynamoDB Local (tables created with a
NEW_AND_OLD_IMAGES stream):
  1. snapshot only (4 segments, json and dynamodb formats): every item once,
     images equal to the table's;
  2. stream only (--from trim_horizon --until-caught-up): replaying the
     events gives the table's final contents;
  3. snapshot+stream with writes (puts, updates, deletes) running during the
     scan: replaying snapshot rows then changes gives the final contents;
  4. the same killed with SIGKILL and restarted with --checkpoint: nothing
     lost (replay still gives the final contents);
  5. a stream whose first record comes after the source took its iterator on
     the empty shard, while another table's stream took sequence numbers in
     between (DynamoDB Local then answers TrimmedDataAccessException): the
     record comes out, no data loss is claimed, exit 0 on SIGINT.
DynamoDB Local keeps one shard per stream, so splits are covered by the
fault test with the Streams double."""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

FAILS = []
BUILD = os.environ.get("DDBPIPE_BUILD_DIR", "")
# every process this test starts stays on loopback: no instance-metadata lookup
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def endpoint():
    f = os.environ.get("DDBPIPE_TEST_ENDPOINT_FILE", "")
    if not f or not os.path.exists(f):
        print("SKIPPED: no DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT_FILE=%r)" % f)
        sys.exit(77)
    return open(f).read().strip()


def source_cmd():
    cli = os.environ.get("DDBPIPE_BIN", "")
    if cli and os.path.exists(cli):
        r = subprocess.run([cli, "source", "--help"], capture_output=True, text=True)
        if r.returncode == 0 and "--until-caught-up" in r.stdout:
            return [cli, "source"]
    drv = os.path.join(BUILD, "source_driver")
    if os.path.exists(drv):
        return [drv]
    print("SKIPPED: neither the ddbpipe CLI nor source_driver is built")
    sys.exit(77)


try:
    import boto3
except ImportError:
    print("SKIPPED: python3-boto3 is not installed")
    sys.exit(77)

EP = endpoint()
CMD = source_cmd()
DDB = boto3.client("dynamodb", endpoint_url=EP, region_name="us-east-1", aws_access_key_id="AKIDLOCAL",
                   aws_secret_access_key="local-secret")


def create_table(name):
    DDB.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    DDB.get_waiter("table_exists").wait(TableName=name)


def item(i, version=0):
    return {"pk": {"S": "p%03d" % (i % 97)}, "sk": {"N": str(i)},
            "v": {"N": str(version)}, "big": {"N": "1234567890123456789012345678901234567." + str(i % 10)},
            "s": {"S": "row %d é" % i}, "b": {"B": bytes([i % 256, 0, 255])}, "ok": {"BOOL": i % 2 == 0},
            "nul": {"NULL": True}, "ss": {"SS": ["a", "b%d" % i]}, "l": {"L": [{"N": "1"}, {"S": "x"}]},
            "m": {"M": {"inner": {"N": str(version)}}}}


def put_items(table, rng):
    for start in range(0, len(rng), 25):
        reqs = [{"PutRequest": {"Item": item(i)}} for i in rng[start:start + 25]]
        DDB.batch_write_item(RequestItems={table: reqs})


def table_contents(table):
    """Typed items as their canonical JSON (boto3 low-level, B as base64)."""
    out = {}
    for page in DDB.get_paginator("scan").paginate(TableName=table):
        for it in page["Items"]:
            out[keyof(it)] = canon(it)
    return out


def canon(av_item):
    import base64

    def conv(v):
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, (bytes, bytearray)):
            return base64.b64encode(bytes(v)).decode()
        return v

    def sets_sorted(v):
        if isinstance(v, dict):
            return {k: (sorted(x) if k in ("SS", "NS", "BS") else sets_sorted(x)) for k, x in v.items()}
        if isinstance(v, list):
            return [sets_sorted(x) for x in v]
        return v
    return json.dumps(sets_sorted(conv(av_item)), sort_keys=True)


def keyof(it):
    return (it["pk"]["S"], it["sk"]["N"])


def config(tmp, table, **extra):
    path = os.path.join(tmp, "%s.json" % table)
    cfg = {"table": table, "region": "us-east-1", "endpoint_url": EP, "aws_access_key_id": "AKIDLOCAL",
           "aws_secret_access_key": "local-secret", "poll_idle_ms": 100, "poll_busy_ms": 0,
           "discovery_interval_ms": 1000}
    cfg.update(extra)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    # While ddbpipe is writing, the last line may not be complete yet.
    complete = text[:text.rfind("\n") + 1]
    return [json.loads(x) for x in complete.splitlines() if x.strip()]


def replay(events):
    """Apply events in output order (dynamodb format: typed images)."""
    model = {}
    for ev in events:
        img = ev.get("new")
        if ev["op"] in ("snapshot", "insert", "modify"):
            model[keyof(img)] = canon(img)
        elif ev["op"] == "remove":
            model.pop(keyof(ev["keys"]), None)
    return model


def test_snapshot(tmp):
    t = "src_snap_%d" % random.randrange(1 << 30)
    create_table(t)
    put_items(t, list(range(600)))
    want = table_contents(t)
    out = os.path.join(tmp, "snap.jsonl")
    r = subprocess.run(CMD + ["-c", config(tmp, t), "-o", out, "--mode", "snapshot", "--segments", "4",
                              "--format", "dynamodb"], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "snapshot: exit 0 (rc=%d %s)" % (r.returncode, r.stderr[-300:]))
    evs = lines(out)
    check(len(evs) == 600 and all(e["op"] == "snapshot" for e in evs), "snapshot: 600 snapshot rows (%d)" % len(evs))
    got = {keyof(e["new"]): canon(e["new"]) for e in evs}
    check(got == want, "snapshot: dynamodb format images equal the table's (every type, 38-digit numbers)")
    check(all(e["keys"] == {"pk": e["new"]["pk"], "sk": e["new"]["sk"]} for e in evs), "snapshot: keys are pk+sk")
    # json format: plain values with exact number text
    out2 = os.path.join(tmp, "snap2.jsonl")
    r = subprocess.run(CMD + ["-c", config(tmp, t), "-o", out2, "--mode", "snapshot", "--segments", "3"],
                       capture_output=True, text=True, timeout=300)
    raw = open(out2).read()
    check(r.returncode == 0 and raw.count("\n") == 600, "snapshot json: 600 lines")
    check("1234567890123456789012345678901234567.5" in raw, "snapshot json: 38-digit number text kept exactly")


def test_stream(tmp):
    t = "src_stream_%d" % random.randrange(1 << 30)
    create_table(t)
    put_items(t, list(range(200)))
    for i in range(0, 200, 3):
        DDB.update_item(TableName=t, Key={"pk": item(i)["pk"], "sk": item(i)["sk"]},
                        UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "7"}})
    for i in range(0, 200, 5):
        DDB.delete_item(TableName=t, Key={"pk": item(i)["pk"], "sk": item(i)["sk"]})
    want = table_contents(t)
    out = os.path.join(tmp, "stream.jsonl")
    r = subprocess.run(CMD + ["-c", config(tmp, t), "-o", out, "--mode", "stream", "--from", "trim_horizon",
                              "--until-caught-up", "--format", "dynamodb"], capture_output=True, text=True,
                       timeout=300)
    check(r.returncode == 0, "stream: exit 0 with --until-caught-up (rc=%d %s)" % (r.returncode, r.stderr[-300:]))
    evs = lines(out)
    ops = {}
    for e in evs:
        ops[e["op"]] = ops.get(e["op"], 0) + 1
    check(ops == {"insert": 200, "modify": 67, "remove": 40}, "stream: 200 inserts, 67 modifies, 40 removes (%s)" % ops)
    check(replay(evs) == want, "stream: replaying the events gives the table's contents")
    mods = [e for e in evs if e["op"] == "modify"]
    check(all(e.get("old") and e["old"]["v"]["N"] == "0" and e["new"]["v"]["N"] == "7" for e in mods),
          "stream: modify events carry old and new images")
    # --from latest skips the history: nothing written before the start comes out.
    out2 = os.path.join(tmp, "latest.jsonl")
    r = subprocess.run(CMD + ["-c", config(tmp, t), "-o", out2, "--mode", "stream", "--from", "latest",
                              "--until-caught-up", "--format", "dynamodb"], capture_output=True, text=True,
                       timeout=300)
    check(r.returncode == 0, "stream --from latest: exit 0 (rc=%d %s)" % (r.returncode, r.stderr[-300:]))
    check(len(lines(out2)) == 0, "stream --from latest: no history replayed (%d events)" % len(lines(out2)))


class Writer(threading.Thread):
    """Puts, updates and deletes on existing and new keys until stopped."""

    def __init__(self, table, base):
        super().__init__(daemon=True)
        self.table, self.base, self.stop_flag, self.n = table, base, False, 0
        self.client = boto3.client("dynamodb", endpoint_url=EP, region_name="us-east-1",
                                   aws_access_key_id="AKIDLOCAL", aws_secret_access_key="local-secret")

    def run(self):
        rnd = random.Random(5)
        while not self.stop_flag:
            i = rnd.randrange(self.base + 300)
            k = {"pk": item(i)["pk"], "sk": item(i)["sk"]}
            x = rnd.random()
            if x < 0.5:
                self.client.put_item(TableName=self.table, Item=item(i, rnd.randrange(1000)))
            elif x < 0.8:
                self.client.update_item(TableName=self.table, Key=k, UpdateExpression="SET v = :v, w = :w",
                                        ExpressionAttributeValues={":v": {"N": str(rnd.randrange(1000))},
                                                                   ":w": {"S": "upd"}})
            else:
                self.client.delete_item(TableName=self.table, Key=k)
            self.n += 1


def wait_for_sentinel(path, sentinel, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and sentinel in open(path).read():
            return True
        time.sleep(0.2)
    return False


def test_snapshot_stream(tmp, kill):
    name = "kill" if kill else "sns"
    t = "src_%s_%d" % (name, random.randrange(1 << 30))
    create_table(t)
    base = 3000
    put_items(t, list(range(base)))
    out = os.path.join(tmp, name + ".jsonl")
    cp = os.path.join(tmp, name + ".checkpoint")
    cfg = config(tmp, t)
    w = Writer(t, base)
    w.start()
    time.sleep(0.3)
    args = CMD + ["-c", cfg, "-o", out, "--mode", "snapshot+stream", "--segments", "4", "--format", "dynamodb"]
    if kill:
        args += ["--checkpoint", cp]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    if kill:
        # Kill during the snapshot, restart, then kill once more in the stream phase.
        deadline = time.time() + 120
        while time.time() < deadline and not (os.path.exists(out) and os.path.getsize(out) > 200000 and
                                              os.path.exists(cp)):
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        n1 = len(lines(out))
        p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            evs = lines(out)
            if any(e["op"] != "snapshot" for e in evs[n1:]):
                break
            time.sleep(0.2)
        time.sleep(1.5)
        p.send_signal(signal.SIGKILL)
        p.wait()
        check(n1 > 0, "kill: first run killed after %d events" % n1)
        p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    w.stop_flag = True
    w.join()
    sentinel = "zz-sentinel-%d" % random.randrange(1 << 30)
    DDB.put_item(TableName=t, Item={"pk": {"S": sentinel}, "sk": {"N": "0"}})
    found = wait_for_sentinel(out, sentinel, 120)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -1
    err = p.stderr.read()
    check(found, "%s: the change written after the writer stopped came out" % name)
    check(rc == 0, "%s: SIGTERM exits 0 (rc=%s %s)" % (name, rc, err[-300:]))
    evs = lines(out)
    want = table_contents(t)
    got = replay(evs)
    snap = sum(1 for e in evs if e["op"] == "snapshot")
    check(got == want, "%s: replaying snapshot rows then changes gives the final table (%d items, %d writes "
          "during the run, %d snapshot rows, %d changes)" % (name, len(want), w.n, snap, len(evs) - snap))
    if got != want:
        missing = [k for k in want if k not in got][:3]
        extra = [k for k in got if k not in want][:3]
        diff = [k for k in want if k in got and got[k] != want[k]][:3]
        print("  missing %s extra %s differ %s" % (missing, extra, diff))
    if kill:
        cpj = json.load(open(cp))
        check(cpj["snapshot"]["done"] and cpj["stream"]["started"] and
              all(s["seq"] for s in cpj["stream"]["shards"] if not s["finished"]),
              "kill: final checkpoint has the snapshot done and a position for the shard")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get_records_calls(port):
    import urllib.request
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    except OSError:
        return 0
    for ln in text.splitlines():
        if ln.startswith("ddbpipe_source_get_records_calls_total"):
            return int(float(ln.split()[-1]))
    return 0


def test_empty_shard(tmp):
    t = "src_empty_%d" % random.randrange(1 << 30)
    other = "src_other_%d" % random.randrange(1 << 30)
    create_table(t)
    create_table(other)
    out = os.path.join(tmp, "empty.jsonl")
    port = free_port()
    p = subprocess.Popen(CMD + ["-c", config(tmp, t, metrics_address="127.0.0.1:%d" % port), "-o", out,
                                "--mode", "stream", "--from", "trim_horizon"], stderr=subprocess.PIPE, text=True)
    # the source polls the empty shard with its first iterator
    deadline = time.time() + 120
    while time.time() < deadline and get_records_calls(port) < 2 and p.poll() is None:
        time.sleep(0.2)
    DDB.put_item(TableName=other, Item=item(1))
    DDB.put_item(TableName=t, Item=item(2))
    deadline = time.time() + 120
    while time.time() < deadline and not lines(out) and p.poll() is None:
        time.sleep(0.2)
    got = lines(out)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    err = p.stderr.read()
    check(len(got) == 1 and got[0]["op"] == "insert", "empty shard: the first record written after the "
          "iterator was taken comes out (%d events)" % len(got))
    check(p.returncode == 0 and "DATA LOSS" not in err, "empty shard: no data loss claimed, exit 0 on SIGINT "
          "(rc=%s %s)" % (p.returncode, err[-400:]))


def main():
    print("using", " ".join(CMD), "against", EP)
    with tempfile.TemporaryDirectory() as tmp:
        test_snapshot(tmp)
        test_stream(tmp)
        test_snapshot_stream(tmp, kill=False)
        test_snapshot_stream(tmp, kill=True)
        test_empty_shard(tmp)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
