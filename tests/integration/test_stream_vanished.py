#!/usr/bin/python3
"""A stream that goes away while `ddbpipe source --mode stream` follows it (issue 11, item 4), on
DynamoDB Local.

Cases: the table's stream disabled; disabled and re-enabled (a new stream ARN); the table deleted:
each time the events the old stream held come out, then ddbpipe says what happened and exits 3 (no
endless "listing again"). With --follow-new-stream a re-enabled stream is followed from its trim
horizon (the change made while no stream was enabled is in no stream, and the warning says so), and
the checkpoint then holds the new stream. At start: a checkpoint of the old stream is refused
(exit 2) naming both streams, or followed with --follow-new-stream; --checkpoint-reset starts over;
a table whose stream is disabled is refused at start (exit 3).
"""
import json
import os
import signal
import subprocess
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client()
WD = tempfile.mkdtemp(prefix="ddbpipe-vanish-")
SUFFIX = str(os.getpid())
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
T = 10 if os.environ.get("DDBPIPE_TEST_SLOW") else 1
SPEC = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def create(name):
    name = name + "_" + SUFFIX
    DDB.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST", StreamSpecification=SPEC)
    DDB.get_waiter("table_exists").wait(TableName=name)
    return name


def config(table):
    path = os.path.join(WD, table + ".json")
    with open(path, "w") as f:
        json.dump({"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
                   "aws_secret_access_key": "secret", "discovery_interval_ms": 500, "poll_idle_ms": 200}, f)
    return path


def put(t, k):
    DDB.put_item(TableName=t, Item={"id": {"S": k}})


def start(t, args=()):
    out = os.path.join(WD, t + ".out")
    p = subprocess.Popen([BIN, "source", "-c", config(t), "--mode", "stream", "-o", out] + list(args),
                         stderr=subprocess.PIPE, text=True, env=ENV)
    return p, out


def finish(p, limit_s):
    """Wait for the exit; SIGINT after limit_s. Returns (rc, stderr, timed_out)."""
    try:
        p.wait(timeout=limit_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60 * T)
        timed_out = True
    return p.returncode, p.stderr.read(), timed_out


def keys(out):
    return [json.loads(x)["keys"]["id"] for x in open(out)] if os.path.exists(out) else []


def wait_keys(out, n, limit_s):
    deadline = time.time() + limit_s
    while time.time() < deadline and len(keys(out)) < n:
        time.sleep(0.1)
    return keys(out)


def stream_arn(t):
    return DDB.describe_table(TableName=t)["Table"].get("LatestStreamArn")


def vanish(kind):
    print("case: the stream goes away while followed: " + kind)
    t = create("van_" + kind)
    old = stream_arn(t)
    put(t, "a")
    p, out = start(t)
    check(wait_keys(out, 1, 60 * T) == ["a"], "%s: the first change is out" % kind, keys(out))
    put(t, "b")
    # the source is paused while the stream changes, so it sees the end state (a re-enabled stream),
    # not the moment in between
    p.send_signal(signal.SIGSTOP)
    if kind == "disable":
        DDB.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
    elif kind == "reenable":
        DDB.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
        put(t, "lost")
        DDB.update_table(TableName=t, StreamSpecification=SPEC)
    else:
        DDB.delete_table(TableName=t)
    p.send_signal(signal.SIGCONT)
    rc, err, timed_out = finish(p, 120 * T)
    check(not timed_out and rc == 3, "%s: ddbpipe stops by itself with exit 3" % kind, (rc, err))
    check(keys(out) == ["a", "b"], "%s: every change the old stream held is out" % kind, keys(out))
    want = {"disable": "the stream of table %s was disabled: %s is disabled and everything it held was read" % (t, old),
            "reenable": "the stream of table %s was replaced" % t,
            "delete": "table %s was deleted while its stream was followed" % t}[kind]
    check(want in err, "%s: the message says what happened" % kind, err)
    if kind == "reenable":
        check(stream_arn(t) in err and "--follow-new-stream" in err and "exist in no stream" in err,
              "reenable: names the new stream, the option and the gap", err)
    check("listing again" not in err, "%s: no endless relisting" % kind, err)


def follow():
    print("case: --follow-new-stream follows a re-enabled stream from its trim horizon")
    t = create("van_follow")
    put(t, "a")
    ck = os.path.join(WD, t + ".ck")
    p, out = start(t, ["--follow-new-stream", "--checkpoint", ck])
    check(wait_keys(out, 1, 60 * T) == ["a"], "follow: the first change is out", keys(out))
    DDB.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
    put(t, "lost")
    DDB.update_table(TableName=t, StreamSpecification=SPEC)
    new = stream_arn(t)
    put(t, "new")
    got = wait_keys(out, 2, 60 * T)
    rc, err, _ = finish(p, 0.5)
    check(got == ["a", "new"], "follow: the new stream's change is out, the one made with no stream is not", got)
    check(rc == 0 and "following it from its trim horizon" in err and "exist in no stream" in err,
          "follow: a warning names the gap, exit 0 on SIGINT", (rc, err))
    ckd = json.load(open(ck)) if os.path.exists(ck) else {}
    check(ckd.get("stream_arn") == new, "follow: the checkpoint now holds the new stream", ckd.get("stream_arn"))
    put(t, "again")
    p, out2 = start(t, ["--checkpoint", ck, "--until-caught-up"])
    rc, err, _ = finish(p, 60 * T)
    check(rc == 0 and keys(out2)[-1:] == ["again"] and "lost" not in keys(out2),
          "follow: a restart with that checkpoint resumes on the new stream", (rc, keys(out2), err))


def checkpoint_of_old_stream():
    print("case: a checkpoint of the old stream at start")
    t = create("van_ck")
    put(t, "a")
    ck = os.path.join(WD, t + ".ck")
    p, out = start(t, ["--checkpoint", ck, "--until-caught-up"])
    rc, err, _ = finish(p, 60 * T)
    check(rc == 0 and keys(out) == ["a"], "ck: first run caught up", (rc, err))
    old = stream_arn(t)
    DDB.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
    DDB.update_table(TableName=t, StreamSpecification=SPEC)
    new = stream_arn(t)
    put(t, "b")
    p, out = start(t, ["--checkpoint", ck, "--until-caught-up"])
    rc, err, _ = finish(p, 60 * T)
    check(rc == 2 and old in err and new in err and "--follow-new-stream" in err and "--checkpoint-reset" in err,
          "ck: refused with exit 2, naming both streams and both ways on", (rc, err))
    p, out = start(t, ["--checkpoint", ck, "--until-caught-up", "--follow-new-stream"])
    rc, err, _ = finish(p, 60 * T)
    check(rc == 0 and keys(out)[-1:] == ["b"] and "exist in no stream" in err,
          "ck: --follow-new-stream reads the new stream, with the warning", (rc, keys(out), err))
    p, out = start(t, ["--checkpoint", ck, "--until-caught-up", "--checkpoint-reset"])
    rc, err, _ = finish(p, 60 * T)
    check(rc == 0 and keys(out) == ["b"] and "starting over" in err,
          "ck: --checkpoint-reset starts over (output rewritten)", (rc, keys(out), err))


def disabled_at_start():
    print("case: a table whose stream is disabled, at start")
    t = create("van_start")
    DDB.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
    p, out = start(t)
    rc, err, timed_out = finish(p, 30 * T)
    check(not timed_out and rc == 3 and "has no enabled stream" in err, "disabled at start: exit 3, says so",
          (rc, err))


for k in ("disable", "reenable", "delete"):
    vanish(k)
follow()
checkpoint_of_old_stream()
disabled_at_start()
if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), ", ".join(FAILS)))
    raise SystemExit(1)
print("all checks passed")
