#!/usr/bin/python3
"""Signals and pipes (issue 11, item 6), against DynamoDB Local.

Cases: `ddbpipe sink -i FIFO` blocked in open() (no writer yet) stops on SIGINT and on SIGTERM with
exit 0 and says nothing was read; a sink reading a FIFO whose writer stays open stops on SIGTERM
with the records landed; `ddbpipe source -o FIFO` blocked in open() (no reader) stops on SIGINT with
exit 0; `ddbpipe source --mode stream | head -1` on a quiet table ends (the closed pipe is noticed
while idle) instead of waiting for the next change.
"""
import json
import os
import signal
import subprocess
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client()
WD = tempfile.mkdtemp(prefix="ddbpipe-sig-")
SUFFIX = str(os.getpid())
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
T = 10 if SLOW else 1  # time scale (valgrind / ASan start slowly)


def create(name, stream=False):
    name = name + "_" + SUFFIX
    kw = {}
    if stream:
        kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    DDB.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST", **kw)
    DDB.get_waiter("table_exists").wait(TableName=name)
    return name


def config(table, extra=None):
    conf = {"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
            "aws_secret_access_key": "secret", "flush_interval_ms": 50, "poll_idle_ms": 200}
    conf.update(extra or {})
    path = os.path.join(WD, table + ".json")
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def wait_blocked_in_fifo_open(p, limit_s):
    """True once the process sleeps in the kernel's FIFO open (wchan wait_for_partner)."""
    deadline = time.time() + limit_s
    while time.time() < deadline and p.poll() is None:
        try:
            if open("/proc/%d/wchan" % p.pid).read().strip() == "wait_for_partner":
                return True
        except OSError:
            return False
        time.sleep(0.05)
    return False


def ids(table):
    return sorted(i["id"]["S"] for i in DDB.scan(TableName=table, ConsistentRead=True)["Items"])


def sink_fifo_no_writer():
    print("case: sink -i FIFO with no writer yet; SIGINT / SIGTERM")
    t = create("sigfifo")
    cpath = config(t)
    for sig in (signal.SIGINT, signal.SIGTERM):
        fifo = os.path.join(WD, "in%d.fifo" % sig)
        os.mkfifo(fifo)
        p = subprocess.Popen([BIN, "sink", "-c", cpath, "-i", fifo], stderr=subprocess.PIPE, text=True, env=ENV)
        blocked = wait_blocked_in_fifo_open(p, 60 * T)
        check(blocked, "%s: ddbpipe blocks in open() of the FIFO" % sig.name)
        p.send_signal(sig)
        try:
            rc = p.wait(timeout=30 * T)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        err = p.stderr.read()
        check(rc == 0 and "stopped by signal while waiting to open" in err and "nothing read" in err,
              "%s while waiting for a writer: exit 0, says nothing was read" % sig.name, (rc, err))


def sink_fifo_writer_open():
    print("case: sink -i FIFO, the writer keeps it open; SIGTERM flushes what came")
    t = create("sigfifow")
    cpath = config(t)
    fifo = os.path.join(WD, "w.fifo")
    os.mkfifo(fifo)
    stats = os.path.join(WD, "w.stats")
    p = subprocess.Popen([BIN, "sink", "-c", cpath, "-i", fifo, "--stats-file", stats], stderr=subprocess.PIPE,
                         text=True, env=ENV)
    w = open(fifo, "w")
    for i in range(3):
        w.write(json.dumps({"id": "f%d" % i, "v": i}) + "\n")
    w.flush()
    deadline = time.time() + 60 * T
    while time.time() < deadline and len(ids(t)) < 3:
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30 * T)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    w.close()
    err = p.stderr.read()
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    check(rc == 0 and "(interrupted)" in err, "SIGTERM with the writer still open: exit 0, summary says so", (rc, err))
    check(ids(t) == ["f0", "f1", "f2"] and st.get("records_in") == 3 and st.get("records_written") == 3,
          "the 3 records written before the signal landed", (ids(t), st))


def source_fifo_no_reader():
    print("case: source -o FIFO with no reader yet; SIGINT")
    t = create("sigsrc")
    fifo = os.path.join(WD, "out.fifo")
    os.mkfifo(fifo)
    p = subprocess.Popen([BIN, "source", "-c", config(t), "-o", fifo], stderr=subprocess.PIPE, text=True, env=ENV)
    check(wait_blocked_in_fifo_open(p, 60 * T), "source blocks in open() of the output FIFO")
    p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(timeout=30 * T)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    err = p.stderr.read()
    check(rc == 0 and "stopped by signal while waiting to open" in err, "SIGINT waiting for a reader: exit 0",
          (rc, err))


def source_head_quiet_table():
    print("case: source --mode stream | head -1 on a quiet table ends")
    t = create("sighead", stream=True)
    for k in ("a", "b"):
        DDB.put_item(TableName=t, Item={"id": {"S": k}})
    start = time.time()
    p = subprocess.Popen([BIN, "source", "-c", config(t), "--mode", "stream"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    head = subprocess.Popen(["head", "-1"], stdin=p.stdout, stdout=subprocess.PIPE)
    p.stdout.close()  # only head holds the read end now
    first = head.communicate(timeout=60 * T)[0].decode()
    try:
        rc = p.wait(timeout=30 * T)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
        p.wait()
    err = p.stderr.read().decode()
    ev = json.loads(first) if first.strip() else {}
    check(ev.get("op") == "insert" and ev.get("keys") == {"id": "a"}, "head got the first event", first)
    check(rc == 3 and "stdout was closed by its reader" in err,
          "ddbpipe ends on its own once head exits (exit 3, says the output was closed)", (rc, err))
    if not SLOW:
        check(time.time() - start < 20, "... within seconds, not at the next change (%.1f s)" % (time.time() - start))


sink_fifo_no_writer()
sink_fifo_writer_open()
source_fifo_no_reader()
source_head_quiet_table()
if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), ", ".join(FAILS)))
    raise SystemExit(1)
print("all checks passed")
