#!/usr/bin/python3
"""ddbpipe sink under a process manager (issue 16):
  - /healthz answers 200 and /readyz 503 ("not ready: ...") while the first DescribeTable waits on an
    endpoint that accepts connections and never answers (a black hole): the metrics server is up
    before the first AWS call;
  - with a FIFO input that has no writer yet, /healthz and /readyz both answer 200 once the table
    was reached, while the sink still waits for its input: the server is up before the input is
    opened;
  - SIGHUP reopens the dead-letter file: after a logrotate-like rename, the next dead letter goes
    to a new file at the old path, the renamed one keeps what it had;
  - the process exits as usual (1: records were dead-lettered) when the input ends;
  - `source --mode stream`: /readyz 503 while the endpoint never answers, 200 while it follows a
    table's stream; SIGTERM still ends it with exit 0.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
WAIT_S = 120 if SLOW else 30
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; (None, error) when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def wait_for(what, fn, timeout=WAIT_S):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return None


def config(path, table, endpoint, port, extra=()):
    with open(path, "w") as f:
        f.write("table: %s\nregion: us-east-1\nendpoint_url: %s\n" % (table, endpoint))
        f.write("aws_access_key_id: AKIDTESTTESTTEST0001\naws_secret_access_key: test-secret-never-printed\n")
        f.write("metrics_address: 127.0.0.1:%d\n" % port)
        for line in extra:
            f.write(line + "\n")


def black_hole():
    """A listener that accepts connections and never answers; returns (port, stop)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []
    stop = threading.Event()

    def run():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                held.append(c)
            except socket.timeout:
                pass
        for c in held:
            c.close()
        srv.close()

    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1], stop


def unreachable(tmp):
    print("endpoint that never answers: alive, not ready", flush=True)
    bh_port, stop = black_hole()
    port = free_port()
    cfg = os.path.join(tmp, "bh.yaml")
    config(cfg, "t_service_bh", "http://127.0.0.1:%d" % bh_port, port,
           ["partition_key: id", "request_timeout_ms: 3000", "connect_timeout_ms: 1000"])
    p = subprocess.Popen([BIN, "sink", "-c", cfg, "-q"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=ENV)
    try:
        h = wait_for("healthz", lambda: (lambda r: r if r[0] == 200 else None)(get(port, "/healthz")))
        check(h is not None and h[1] == "ok\n", "/healthz answers 200 while DescribeTable waits", h)
        r = get(port, "/readyz")
        check(r[0] == 503 and r[1].startswith("not ready: "), "/readyz answers 503 with a reason", r)
        check(p.poll() is None, "the sink is still waiting on the endpoint (not exited)", p.poll())
        r2 = get(port, "/readyz")
        check(r2[0] == 503, "/readyz still 503 a moment later", r2)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=WAIT_S * 2)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        stop.set()
    check(p.returncode == 3, "gives up with exit 3 (unreachable) after its retries", (p.returncode, err[-2000:]))
    check(b"test-secret-never-printed" not in err, "no secret on stderr")


def waiting_on_input_and_sighup(tmp):
    print("FIFO input without a writer: alive and ready; SIGHUP reopens the dead-letter file", flush=True)
    table = "t_service_%d" % os.getpid()
    ddb = ddb_client()
    port = free_port()
    cfg = os.path.join(tmp, "ok.yaml")
    config(cfg, table, ENDPOINT, port, ["partition_key: id", "create_table_if_missing: true"])
    fifo = os.path.join(tmp, "in.fifo")
    os.mkfifo(fifo)
    dl = os.path.join(tmp, "dead.jsonl")
    errf = open(os.path.join(tmp, "sink.err"), "w+b")
    p = subprocess.Popen([BIN, "sink", "-c", cfg, "-i", fifo, "--dead-letter", dl, "-v"],
                         stdout=subprocess.DEVNULL, stderr=errf, env=ENV)
    w = None
    try:
        h = wait_for("healthz", lambda: (lambda r: r if r[0] == 200 else None)(get(port, "/healthz")))
        check(h is not None, "/healthz answers 200 before the input has a writer", h)
        r = wait_for("readyz", lambda: (lambda r: r if r[0] == 200 else None)(get(port, "/readyz")))
        check(r is not None and r[1] == "ready\n", "/readyz turns 200 once the table was reached", get(port, "/readyz"))
        check(p.poll() is None, "the sink still waits for its input", p.poll())
        check(get(port, "/healthz")[0] == 200, "/healthz 200 while waiting for input")

        w = open(fifo, "w")
        w.write('{"no_key": 1}\n{"id": "a", "v": 1}\n')
        w.flush()
        check(wait_for("dl1", lambda: os.path.exists(dl) and '"line":1' in open(dl).read()) is not None,
              "first dead letter written", open(dl).read() if os.path.exists(dl) else "no file")
        os.rename(dl, dl + ".1")  # what logrotate does
        mark = errf.tell()
        p.send_signal(signal.SIGHUP)

        def reopened():
            errf.seek(0)
            return b"reopened dead-letter file" in errf.read()
        check(wait_for("reopen", reopened) is not None, "the sink says it reopened the dead-letter file")
        w.write('{"no_key": 2}\n{"id": "b", "v": 2}\n')
        w.flush()
        check(wait_for("dl2", lambda: os.path.exists(dl) and '"line":3' in open(dl).read()) is not None,
              "the next dead letter goes to a new file at the old path",
              open(dl).read() if os.path.exists(dl) else "no new file")
        old = open(dl + ".1").read().splitlines()
        new = open(dl).read().splitlines() if os.path.exists(dl) else []
        check(len(old) == 1 and json.loads(old[0])["line"] == 1, "the rotated file keeps only line 1", old)
        check(len(new) == 1 and json.loads(new[0])["line"] == 3, "the new file has only line 3", new)
        check(p.poll() is None, "SIGHUP did not stop the sink", p.poll())
        w.close()
        w = None
        rc = p.wait(timeout=WAIT_S * 2)
        check(rc == 1, "input ended: exit 1 (records were dead-lettered)", rc)
        items = ddb.scan(TableName=table)["Items"]
        check(sorted(i["id"]["S"] for i in items) == ["a", "b"], "good rows written around the rotation", items)
    finally:
        if w:
            w.close()
        if p.poll() is None:
            p.kill()
            p.wait()
        errf.seek(0)
        if FAILS:
            print(errf.read().decode(errors="replace")[-3000:])
        errf.close()
        try:
            ddb.delete_table(TableName=table)
        except Exception:
            pass


def source_probes(tmp):
    print("source --mode stream: not ready on a black hole, ready while following a stream", flush=True)
    bh_port, stop = black_hole()
    port = free_port()
    cfg = os.path.join(tmp, "src_bh.yaml")
    config(cfg, "t_service_src_bh", "http://127.0.0.1:%d" % bh_port, port,
           ["request_timeout_ms: 3000", "connect_timeout_ms: 1000"])
    p = subprocess.Popen([BIN, "source", "-c", cfg, "-q", "--mode", "stream"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=ENV)
    try:
        h = wait_for("healthz", lambda: (lambda r: r if r[0] == 200 else None)(get(port, "/healthz")))
        check(h is not None, "source: /healthz 200 while the endpoint does not answer", h)
        r = get(port, "/readyz")
        check(r[0] == 503 and r[1].startswith("not ready: "), "source: /readyz 503 with a reason", r)
    finally:
        p.kill()
        p.wait()
        stop.set()

    table = "t_service_src_%d" % os.getpid()
    ddb = ddb_client()
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    port = free_port()
    cfg = os.path.join(tmp, "src.yaml")
    config(cfg, table, ENDPOINT, port)
    p = subprocess.Popen([BIN, "source", "-c", cfg, "-q", "--mode", "stream"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=ENV)
    try:
        r = wait_for("readyz", lambda: (lambda r: r if r[0] == 200 else None)(get(port, "/readyz")))
        check(r is not None and r[1] == "ready\n", "source: /readyz 200 while following the stream",
              get(port, "/readyz"))
        check(get(port, "/healthz")[0] == 200, "source: /healthz 200")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=WAIT_S * 2)
        check(p.returncode == 0, "source: SIGTERM ends it with exit 0", (p.returncode, err[-2000:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        try:
            ddb.delete_table(TableName=table)
        except Exception:
            pass


with tempfile.TemporaryDirectory(prefix="ddbpipe-service-") as tmp:
    unreachable(tmp)
    waiting_on_input_and_sighup(tmp)
    source_probes(tmp)
if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), "; ".join(FAILS)))
    raise SystemExit(1)
print("OK")
