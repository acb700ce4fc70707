#!/usr/bin/python3
"""Inputs met in the field (issue 11), against DynamoDB Local; every case checks what the user sees
and that the good records landed.

Cases: Debezium tombstones (bare `null` and `{"schema", "payload": null}`) skipped and counted in the
summary, the stats file and Prometheus, exit 0, deletes applied; a UTF-8 BOM at the start of a file,
of stdin, of a `--sql` configuration and of a `ddbpipe sql` script; CRLF line ends; NUL bytes and
invalid UTF-8 dead-lettered with their byte offset; `ddbpipe sql` DELETE counts what DynamoDB deleted.
"""
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client()
WD = tempfile.mkdtemp(prefix="ddbpipe-field-")
SUFFIX = str(os.getpid())
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")


def create(name, pk="id", pkt="S", sk=None, skt=None):
    name = name + "_" + SUFFIX
    ks = [{"AttributeName": pk, "KeyType": "HASH"}]
    ad = [{"AttributeName": pk, "AttributeType": pkt}]
    if sk:
        ks.append({"AttributeName": sk, "KeyType": "RANGE"})
        ad.append({"AttributeName": sk, "AttributeType": skt})
    DDB.create_table(TableName=name, KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
    DDB.get_waiter("table_exists").wait(TableName=name)
    return name


def items(table):
    out, kw = {}, {}
    while True:
        r = DDB.scan(TableName=table, ConsistentRead=True, **kw)
        for i in r["Items"]:
            out[list(i["id"].values())[0]] = {k: list(v.values())[0] for k, v in i.items()}
        if "LastEvaluatedKey" not in r:
            return out
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def config(table, extra=None):
    conf = {"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
            "aws_secret_access_key": "secret", "flush_interval_ms": 50}
    conf.update(extra or {})
    path = os.path.join(WD, table + ".json")
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def sink(table, data, args=(), stdin=False, extra=None):
    """Run the sink on raw bytes (a file, or stdin). Returns (process, dead letters, stats)."""
    cpath = config(table, extra)
    inp = os.path.join(WD, table + ".in")
    with open(inp, "wb") as f:
        f.write(data)
    dl, stats = os.path.join(WD, table + ".dead"), os.path.join(WD, table + ".stats")
    for p in (dl, stats):
        if os.path.exists(p):
            os.unlink(p)
    cmd = [BIN, "sink", "-c", cpath, "--dead-letter", dl, "--stats-file", stats] + list(args)
    if stdin:
        with open(inp, "rb") as f:
            p = subprocess.run(cmd, stdin=f, capture_output=True, timeout=300, env=ENV)
    else:
        p = subprocess.run(cmd + ["-i", inp], capture_output=True, timeout=300, env=ENV)
    dead = [json.loads(x) for x in open(dl, encoding="utf-8", errors="replace")] if os.path.exists(dl) else []
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    return p, dead, st


def lines(*ls):
    return ("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in ls) + "\n").encode()


# ------------------------------------------------------------------ 1. tombstones

def tombstones():
    print("case: Debezium tombstones after deletes, with and without the schema/payload wrapper")
    t = create("tomb")
    data = lines({"before": None, "after": {"id": "9", "name": "n"}, "op": "c"},
                 {"before": {"id": "9", "name": "n"}, "after": None, "op": "d"},
                 "null",
                 {"before": None, "after": {"id": "10", "name": "keep"}, "op": "c"},
                 {"schema": {"type": "struct"}, "payload": {"before": None, "after": {"id": "11", "name": "w"},
                                                            "op": "c"}},
                 {"schema": {"type": "struct"}, "payload": {"before": {"id": "11"}, "after": None, "op": "d"}},
                 {"schema": None, "payload": None},
                 "  null  ")
    for fmt in ("auto", "debezium"):
        p, dead, st = sink(t, data, args=["--format", fmt])
        err = p.stderr.decode()
        check(p.returncode == 0, "tombstones --format %s: exit 0" % fmt, err)
        check(not dead, "tombstones --format %s: nothing dead-lettered" % fmt, dead)
        check(st.get("tombstones") == 3 and st.get("dead_lettered") == 0 and st.get("records_in") == 8,
              "tombstones --format %s: stats file counts 3 tombstones of 8 records" % fmt, st)
        check("3 tombstones skipped" in err and "0 dead-lettered" in err,
              "tombstones --format %s: summary says 3 tombstones skipped" % fmt, err)
        got = items(t)
        check(set(got) == {"10"} and got["10"].get("name") == "keep",
              "tombstones --format %s: deletes applied, the insert landed" % fmt, got)
        check(st.get("checkpoint_offset") == len(data), "tombstones --format %s: acknowledged to the end" % fmt, st)

    print("case: a `null` line is still an error where no tombstones exist (--format json / feldera)")
    p, dead, st = sink(t, lines("null", {"id": "12"}), args=["--format", "json"])
    check(p.returncode == 1 and len(dead) == 1 and "got null" in dead[0]["reason"] and "12" in items(t),
          "--format json: null dead-lettered (exit 1), the good row landed", (p.returncode, dead))

    print("case: tombstones counted in Prometheus")
    so = socket.socket()
    so.bind(("127.0.0.1", 0))
    port = so.getsockname()[1]
    so.close()
    cpath = config(t, {"metrics_address": "127.0.0.1:%d" % port})
    p = subprocess.Popen([BIN, "sink", "-c", cpath, "--quiet"], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ENV)
    p.stdin.write(lines({"before": None, "after": {"id": "20"}, "op": "c"},
                        {"before": {"id": "20"}, "after": None, "op": "d"}, "null", "null"))
    p.stdin.flush()
    vals, deadline = {}, time.time() + 30
    while time.time() < deadline:
        try:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
            vals = dict(ln.rsplit(" ", 1) for ln in text.splitlines() if ln and not ln.startswith("#"))
            if vals.get("ddbpipe_sink_tombstones_total") == "2":
                break
        except OSError:
            pass
        time.sleep(0.2)
    p.stdin.close()
    rc = p.wait(timeout=60)
    check(vals.get("ddbpipe_sink_tombstones_total") == "2" and vals.get("ddbpipe_sink_dead_lettered_total") == "0",
          "metrics: ddbpipe_sink_tombstones_total 2, nothing dead-lettered", vals)
    check(rc == 0, "metrics run: exit 0", rc)


# ------------------------------------------------------------------ 2. encodings

def encodings():
    print("case: BOM, CRLF, NUL and invalid UTF-8 (file and stdin)")
    data = (b'\xef\xbb\xbf{"id":"bom","v":1}\r\n'
            b'{"id":"crlf","v":2}\r\n'
            b'{"id":"n\x00ul","v":3}\n'
            b'{"id":"bad\xff","v":4}\n'
            b'  \x00{"id":"x"}\n'
            b'\xc3{"id":"y"}\n'
            b'{"id":"z"}\x00\n'
            b'{"id":"last","v":5}')
    for how in ("file", "stdin"):
        t = create("enc_" + how)
        p, dead, st = sink(t, data, stdin=how == "stdin")
        got = items(t)
        check(set(got) == {"bom", "crlf", "last"} and got["bom"]["v"] == "1",
              "%s: the BOM line, the CRLF line and the last line landed" % how, got)
        check(p.returncode == 1, "%s: exit 1 (dead letters)" % how, p.stderr)
        reasons = {d["line"]: d["reason"] for d in dead}
        want = {3: "NUL byte in string at byte 8", 4: "invalid UTF-8 in string at byte 10",
                5: "NUL byte at byte 2", 6: "invalid UTF-8 at byte 0", 7: "NUL byte after the JSON value at byte 10"}
        check(all(k in reasons and w in reasons[k] for k, w in want.items()) and len(dead) == 5,
              "%s: NUL and invalid UTF-8 lines dead-lettered with their byte offset" % how, reasons)
        check(st.get("records_in") == 8 and st.get("dead_lettered") == 5, "%s: stats 8 in, 5 dead" % how, st)

    print("case: a BOM at the start of every file of a concatenation (cat a b)")
    t = create("enc_cat")
    p, dead, st = sink(t, b'\xef\xbb\xbf{"id":"a"}\r\n\xef\xbb\xbf{"id":"b"}\r\n')
    check(p.returncode == 0 and not dead and set(items(t)) == {"a", "b"}, "concatenated BOM files: both landed",
          (p.stderr, dead))

    print("case: BOM at the start of a --sql configuration file")
    t = create("enc_sql")
    ddl = ("\ufeffCREATE TABLE x (id STRING, v INT) WITH ('connector' = 'dynamodb', 'table-name' = '%s', "
           "'aws.region' = 'us-east-1', 'aws.endpoint' = '%s', 'aws.credentials.provider' = 'BASIC', "
           "'aws.credentials.basic.accesskeyid' = 'AKIDLOCAL', 'aws.credentials.basic.secretkey' = 'secret');\r\n"
           % (t, ENDPOINT))
    spath = os.path.join(WD, "bom.sql")
    with open(spath, "w", encoding="utf-8", newline="") as f:
        f.write(ddl)
    with open(os.path.join(WD, "sqlin"), "wb") as f:
        f.write(b'\xef\xbb\xbf{"id":"s1","v":1}\r\n')
    with open(os.path.join(WD, "sqlin"), "rb") as f:
        p = subprocess.run([BIN, "sink", "--sql", spath], stdin=f, capture_output=True, timeout=120, env=ENV)
    check(p.returncode == 0 and set(items(t)) == {"s1"}, "--sql file with a BOM: configured, the row landed",
          p.stderr)

    print("case: BOM at the start of a `ddbpipe sql` script; DELETE counts what DynamoDB deleted")
    t = create("sqldel", "pk", "S", "sk", "N")
    DDB.put_item(TableName=t, Item={"pk": {"S": "yes"}, "sk": {"N": "1"}, "v": {"S": "x"}})
    DDB.put_item(TableName=t, Item={"pk": {"S": "keep"}, "sk": {"N": "1"}})
    script = ddl.replace("x (id STRING, v INT)", "t (pk STRING, sk INT)").replace(
        "enc_sql_" + SUFFIX, t) + ("DELETE FROM t WHERE pk = 'nope' AND sk = 1;\n"
                                   "DELETE FROM t WHERE pk = 'yes' AND sk = 1;\n"
                                   "DELETE FROM t WHERE pk = 'yes' AND sk = 1;\n")
    with open(spath, "w", encoding="utf-8", newline="") as f:
        f.write(script)
    p = subprocess.run([BIN, "sql", spath], capture_output=True, text=True, timeout=120, env=ENV)
    notes = [ln for ln in p.stderr.splitlines() if "DELETE" in ln]
    check(p.returncode == 0 and len(notes) == 3, "sql script with a BOM: exit 0, three DELETE notices", p.stderr)
    check(len(notes) == 3 and notes[0].endswith("DELETE: 0 rows deleted") and notes[1].endswith(
        "DELETE: 1 row deleted") and notes[2].endswith("DELETE: 0 rows deleted"),
          "DELETE of a missing key says 0 rows, of a present key 1 row, again 0", notes)
    left = DDB.scan(TableName=t, ConsistentRead=True)["Items"]
    check([i["pk"]["S"] for i in left] == ["keep"], "DELETE removed only the named item", left)


tombstones()
encodings()
if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), ", ".join(FAILS)))
    raise SystemExit(1)
print("all checks passed")
