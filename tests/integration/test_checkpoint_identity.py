#!/usr/bin/python3
"""A checkpoint is applied only to what it was taken from (issue 11, item 3), on DynamoDB Local.

Sink (`--checkpoint` on a file): the file replaced by a shorter one, by a longer one, by a copy with the
same bytes (another inode), the same file with one byte changed in the middle (same size, same first and
last 4 KiB: the digest covers every byte before the offset): refused with exit 2 naming both sides, nothing
written; `--checkpoint-reset`
starts over and the new records land; the same file grown by appending resumes after the checkpoint; a
checkpoint in the older offset-only form still resumes, one in the older 4 KiB-window form resumes when its
windows match and is refused when they do not. Source: a checkpoint of a table that was deleted
and re-created is refused naming both creation times (exit 2), `--checkpoint-reset` reads the new table;
an unfinished snapshot resumed with another explicit `--segments` is refused, without it it resumes.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client()
WD = tempfile.mkdtemp(prefix="ddbpipe-ckid-")
SUFFIX = str(os.getpid())
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")


def create(name, items=()):
    DDB.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    DDB.get_waiter("table_exists").wait(TableName=name)
    for i in items:
        DDB.put_item(TableName=name, Item={"id": {"S": i}})
    return name


def config(table):
    path = os.path.join(WD, table + ".json")
    with open(path, "w") as f:
        json.dump({"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 50}, f)
    return path


def ids(t):
    return sorted(i["id"]["S"] for i in DDB.scan(TableName=t, ConsistentRead=True)["Items"])


def write_lines(path, names):
    with open(path, "w") as f:
        for n, name in enumerate(names):
            f.write(json.dumps({"id": name, "v": n + 1}, separators=(",", ":")) + "\n")


def sink(t, inp, ck, *args):
    p = subprocess.run([BIN, "sink", "-c", config(t), "-i", inp, "--checkpoint", ck] + list(args),
                       capture_output=True, text=True, timeout=300, env=ENV)
    return p.returncode, p.stderr


def sink_cases():
    t = create("ckid_sink_" + SUFFIX)
    inp, ck = os.path.join(WD, "in.jsonl"), os.path.join(WD, "sink.ck")
    old = ["old%d" % i for i in range(1, 11)]
    write_lines(inp, old)
    rc, err = sink(t, inp, ck)
    cp = json.load(open(ck))
    check(rc == 0 and cp["offset"] == 202 and cp["file"]["size"] == 202 and len(cp["file"]["prefix_sha256"]) == 64 and
          cp["file"]["path"] == inp, "sink: the checkpoint records the file (device, inode, size, digest)", cp)

    print("case: the file replaced by 3 new lines (shorter than the offset)")
    write_lines(inp, ["new1", "new2", "new3"])
    rc, err = sink(t, inp, ck)
    check(rc == 2 and "checkpoint %s was taken from %s" % (ck, inp) in err and "202 bytes" in err and
          "60 bytes now" in err and "--checkpoint-reset" in err, "shorter: refused, exit 2, both sides named",
          (rc, err))
    check(not any(i.startswith("new") for i in ids(t)), "shorter: nothing of the new file written", ids(t))
    rc, err = sink(t, inp, ck, "--checkpoint-reset")
    check(rc == 0 and {"new1", "new2", "new3"} <= set(ids(t)) and "starting at byte 0" in err,
          "shorter: --checkpoint-reset writes the 3 new records", (rc, err, ids(t)))

    print("case: the file replaced by a longer one")
    write_lines(inp, old)
    rc, err = sink(t, inp, ck, "--checkpoint-reset")
    write_lines(inp, ["long%02d" % i for i in range(13)])
    rc, err = sink(t, inp, ck)
    check(rc == 2 and "bytes before offset 202 differ" in err, "longer: refused (digest), exit 2", (rc, err))
    check(not any(i.startswith("long") for i in ids(t)), "longer: nothing written mid-line", ids(t))
    rc, err = sink(t, inp, ck, "--checkpoint-reset")
    check(rc == 0 and sum(i.startswith("long") for i in ids(t)) == 13, "longer: reset writes all 13", (rc, err))

    print("case: the same file grown by appending resumes")
    write_lines(inp, old)
    sink(t, inp, ck, "--checkpoint-reset")
    with open(inp, "a") as f:
        f.write('{"id":"app1","v":11}\n{"id":"app2","v":12}\n')
    rc, err = sink(t, inp, ck)
    check(rc == 0 and "resuming %s at byte 202 (line 11)" % inp in err and "2 records in" in err and
          {"app1", "app2"} <= set(ids(t)), "appended: resumes at line 11, the 2 new records land", (rc, err))

    print("case: a copy with the same bytes is another file")
    copy = os.path.join(WD, "copy.jsonl")
    shutil.copyfile(inp, copy)
    ck2 = os.path.join(WD, "copy.ck")
    shutil.copyfile(ck, ck2)
    rc, err = sink(t, copy, ck2)
    check(rc == 2 and "it is another file" in err, "copy: refused (another inode), exit 2", (rc, err))

    print("case: one byte changed in the middle (same size, same first and last 4 KiB)")
    big, ckb = os.path.join(WD, "big.jsonl"), os.path.join(WD, "big.ck")
    names = ["mid%04d" % i for i in range(600)]  # 600 lines of 22 bytes: 13,200 bytes
    write_lines(big, names)
    rc, err = sink(t, big, ckb)
    size = os.path.getsize(big)
    check(rc == 0 and json.load(open(ckb))["offset"] == size, "middle: first run checkpoints the whole file",
          (rc, err))
    with open(big, "r+b") as f:
        f.seek(size // 2)
        line = f.readline()  # rest of a line; then change the next whole line's id in place
        pos = f.tell()
        nxt = f.readline()
        f.seek(pos)
        f.write(nxt.replace(b"mid", b"MID"))
    check(os.path.getsize(big) == size, "middle: the size is unchanged")
    rc, err = sink(t, big, ckb)
    check(rc == 2 and "bytes before offset %d differ" % size in err and "--checkpoint-reset" in err,
          "middle: refused with exit 2 (the digest is of the whole prefix)", (rc, err[-400:]))
    check(not any(i.startswith("MID") for i in ids(t)), "middle: nothing of the changed file written")

    print("case: an older checkpoint (4 KiB windows) resumes when they match, is refused when not")
    write_lines(big, names)
    rc, err = sink(t, big, ckb, "--checkpoint-reset")
    cp = json.load(open(ckb))
    data = open(big, "rb").read()
    off = cp["offset"]
    legacy = dict(cp["file"])
    del legacy["prefix_sha256"]
    legacy["sha256"] = hashlib.sha256(data[:4096] + data[off - 4096:off]).hexdigest()
    with open(ckb, "w") as f:
        json.dump({"offset": off, "line": cp["line"], "file": legacy}, f)
    with open(big, "a") as f:
        f.write('{"id":"legacy1","v":1}\n')
    rc, err = sink(t, big, ckb)
    check(rc == 0 and "resuming %s at byte %d" % (big, off) in err and "legacy1" in ids(t) and
          "prefix_sha256" in json.load(open(ckb))["file"],
          "older form: windows match, resumes; the next checkpoint has the whole-prefix digest", (rc, err[-400:]))
    legacy["sha256"] = "0" * 64
    with open(ckb, "w") as f:
        json.dump({"offset": off, "line": cp["line"], "file": legacy}, f)
    rc, err = sink(t, big, ckb)
    check(rc == 2 and "first and last 4 KiB before offset %d differ" % off in err,
          "older form: windows differ, refused with exit 2", (rc, err[-400:]))

    print("case: an offset-only checkpoint (older versions) still resumes")
    with open(ck, "w") as f:
        f.write('{"offset":202,"line":10}\n')
    DDB.delete_item(TableName=t, Key={"id": {"S": "app1"}})
    rc, err = sink(t, inp, ck)
    check(rc == 0 and "line 11" in err and "app1" in ids(t) and "file" in json.load(open(ck)),
          "offset-only: resumes, and the next checkpoint records the file", (rc, err))


def source(t, ck, *args):
    out = os.path.join(WD, t + ".out")
    p = subprocess.run([BIN, "source", "-c", config(t), "-o", out, "--checkpoint", ck] + list(args),
                       capture_output=True, text=True, timeout=300, env=ENV)
    rows = [json.loads(x)["keys"]["id"] for x in open(out)] if os.path.exists(out) else []
    return p.returncode, p.stderr, rows


def source_cases():
    print("case: a snapshot checkpoint applied to a re-created table")
    t = create("ckid_src_" + SUFFIX, ["a%02d" % i for i in range(10)])
    ck = os.path.join(WD, "src.ck")
    rc, err, rows = source(t, ck)
    cp = json.load(open(ck))
    old_created = cp.get("table_created")
    check(rc == 0 and len(rows) == 10 and old_created, "source: snapshot done, checkpoint has table_created",
          (rc, err, cp.get("table_created")))
    DDB.delete_table(TableName=t)
    DDB.get_waiter("table_not_exists").wait(TableName=t)
    create(t, ["b%02d" % i for i in range(40)])
    new_created = str(DDB.describe_table(TableName=t)["Table"]["CreationDateTime"].timestamp())
    rc, err, rows = source(t, ck)
    check(rc == 2 and "deleted and re-created" in err and old_created in err and "--checkpoint-reset" in err,
          "re-created: refused with exit 2 naming both creation times", (rc, err, new_created))
    rc, err, rows = source(t, ck, "--checkpoint-reset")
    check(rc == 0 and sorted(rows) == ["b%02d" % i for i in range(40)], "re-created: reset reads all 40 items",
          (rc, err, len(rows)))

    print("case: an unfinished snapshot resumed with another --segments")
    cp = json.load(open(ck))
    cp["snapshot"]["done"] = False
    for sg in cp["snapshot"]["segments"]:
        sg["done"], sg["last_key"] = False, None
    with open(ck, "w") as f:
        json.dump(cp, f)
    n = cp["snapshot"]["total_segments"]
    rc, err, rows = source(t, ck, "--segments", str(n + 1))
    check(rc == 2 and "%d segments" % n in err and "--segments %d" % (n + 1) in err,
          "segments: a different explicit split is refused, exit 2", (rc, err))
    rc, err, rows = source(t, ck)
    check(rc == 0 and len(rows) >= 40, "segments: without --segments the snapshot resumes", (rc, err, len(rows)))


sink_cases()
source_cases()
if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), ", ".join(FAILS)))
    raise SystemExit(1)
print("all checks passed")
