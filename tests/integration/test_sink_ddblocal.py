#!/usr/bin/python3
"""`ddbpipe sink` against DynamoDB Local: the scanned table equals a model of the input.

Cases: seed 004's composite id(N)/sort(S) table fed Feldera inserts/deletes; seed 002's
user_behavior configured with the Flink DDL itself; inserts/updates/deletes in every input format
(json, feldera, debezium with and without payload, dynamodb-stream, ddbpipe source events, auto on
a mixed file); merge mode (JSON merge patch on the stored item); document_attribute; every type of
the mapping; dead-letter reasons (the good records land); transactional mode; checkpoint restart
after kill -9.
"""
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client()
WD = tempfile.mkdtemp(prefix="ddbpipe-sink-it-")
SUFFIX = str(os.getpid())


def create(name, pk, pkt, sk=None, skt=None):
    name = name + "_" + SUFFIX
    ks = [{"AttributeName": pk, "KeyType": "HASH"}]
    ad = [{"AttributeName": pk, "AttributeType": pkt}]
    if sk:
        ks.append({"AttributeName": sk, "KeyType": "RANGE"})
        ad.append({"AttributeName": sk, "AttributeType": skt})
    DDB.create_table(TableName=name, KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
    DDB.get_waiter("table_exists").wait(TableName=name)
    return name


def scan(table):
    items, kw = [], {}
    while True:
        r = DDB.scan(TableName=table, ConsistentRead=True, **kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            return [norm(i) for i in items]
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def norm(av):
    """boto3 typed item -> comparable JSON (bytes as base64, sets sorted)."""
    if isinstance(av, dict) and len(av) == 1 and list(av)[0] in ("S", "N", "B", "BOOL", "NULL", "L", "M", "SS",
                                                                   "NS", "BS"):
        (t, v), = av.items()
        if t == "B":
            return {"B": base64.b64encode(v).decode()}
        if t == "BS":
            return {"BS": sorted(base64.b64encode(x).decode() for x in v)}
        if t in ("SS", "NS"):
            return {t: sorted(v)}
        if t == "L":
            return {"L": [norm(x) for x in v]}
        if t == "M":
            return {"M": {k: norm(x) for k, x in v.items()}}
        return {t: v}
    return {k: norm(v) for k, v in av.items()}


def by_key(items, *keys):
    return {tuple(list(i[k].values())[0] for k in keys): i for i in items}


def sink(table, lines, cfg=None, args=(), name="in.jsonl", timeout=300, raw=None):
    conf = {"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
            "aws_secret_access_key": "secret", "flush_interval_ms": 100}
    conf.update(cfg or {})
    cpath = os.path.join(WD, "c.json")
    with open(cpath, "w") as f:
        json.dump(conf, f)
    inp = os.path.join(WD, name)
    with open(inp, "w") as f:
        f.write(raw if raw is not None else "\n".join(lines) + "\n")
    dl = os.path.join(WD, "dead.jsonl")
    if os.path.exists(dl):
        os.unlink(dl)
    p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--dead-letter", dl, "--quiet"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    dead = [json.loads(x) for x in open(dl)] if os.path.exists(dl) else []
    return p, dead


def n(x):
    return {"N": str(x)}


def s(x):
    return {"S": x}


# ------------------------------------------------------------------ cases

def seed004_feldera():
    print("case: seed 004 composite id/sort table, Feldera inserts and deletes")
    t = create("feldera_out", "id", "N", "sort", "S")
    lines = [json.dumps({"insert": {"id": i, "sort": "s%d" % i, "s": "v%d" % i}}) for i in range(5)]
    lines.append(json.dumps({"delete": {"id": 1, "sort": "s1", "s": "v1"}}))
    lines.append(json.dumps({"delete": {"id": 2, "sort": "s2", "s": "v2"}}))
    lines.append(json.dumps({"insert": {"id": 2, "sort": "s2", "s": "updated"}}))  # delete+insert = update
    lines.append(json.dumps({"insert": {"id": 3, "sort": "other", "s": None}}))
    p, dead = sink(t, lines, args=["--format", "feldera"])
    got = by_key(scan(t), "id", "sort")
    want = {("0", "s0"): {"id": n(0), "sort": s("s0"), "s": s("v0")},
            ("2", "s2"): {"id": n(2), "sort": s("s2"), "s": s("updated")},
            ("3", "s3"): {"id": n(3), "sort": s("s3"), "s": s("v3")},
            ("3", "other"): {"id": n(3), "sort": s("other"), "s": {"NULL": True}},
            ("4", "s4"): {"id": n(4), "sort": s("s4"), "s": s("v4")}}
    check(p.returncode == 0 and not dead, "seed004: exit 0, nothing dead-lettered", p.stderr)
    check(got == want, "seed004: table equals the model", (got, want))


def seed002_flink_ddl():
    print("case: seed 002 user_behavior configured with the Flink DDL")
    t = create("user_behavior", "user_id", "N")
    ddl = """CREATE TABLE DynamoDbTable (
  `user_id` BIGINT,
  `item_id` BIGINT,
  `category_id` BIGINT,
  `behavior` STRING
) PARTITIONED BY ( user_id )
WITH (
  'connector' = 'dynamodb',
  'table-name' = '%s',
  'aws.region' = 'us-east-2',
  'aws.endpoint' = '%s',
  'aws.credentials.provider' = 'BASIC',
  'aws.credentials.basic.accesskeyid' = 'AKIDLOCAL',
  'aws.credentials.basic.secretkey' = 'secret',
  'sink.flush-buffer.timeout' = '100'
);
""" % (t, ENDPOINT)
    cpath = os.path.join(WD, "flink.sql")
    with open(cpath, "w") as f:
        f.write(ddl)
    rows, model = [], {}
    for i in range(300):
        r = {"user_id": i % 40, "item_id": 1000 + i, "category_id": i % 7, "behavior": ["pv", "buy", "cart"][i % 3]}
        rows.append(json.dumps(r))
        model[str(i % 40)] = {"user_id": n(r["user_id"]), "item_id": n(r["item_id"]),
                              "category_id": n(r["category_id"]), "behavior": s(r["behavior"])}
    inp = os.path.join(WD, "ub.jsonl")
    with open(inp, "w") as f:
        f.write("\n".join(rows) + "\n")
    p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--quiet"], capture_output=True, text=True, timeout=120)
    got = by_key(scan(t), "user_id")
    check(p.returncode == 0, "seed002: exit 0 with the Flink DDL as config", p.stderr)
    check(got == {(k,): v for k, v in model.items()}, "seed002: 40 users, last behavior of each", len(got))


def formats():
    print("case: inserts/updates/deletes in every input format")
    results = {}
    docs = {
        "json": [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}],
        "feldera": [{"insert": {"k": "a", "v": 1}}, {"insert": {"k": "b", "v": 2}}, {"delete": {"k": "b", "v": 2}},
                    {"insert": {"k": "c", "v": 4}}, {"delete": {"k": "c"}}, {"insert": {"k": "c", "v": 5}}],
        "debezium": [{"op": "c", "before": None, "after": {"k": "a", "v": 1}},
                     {"payload": {"op": "r", "before": None, "after": {"k": "b", "v": 2}}},
                     {"schema": {}, "payload": {"op": "u", "before": {"k": "a", "v": 1}, "after": {"k": "a", "v": 9}}},
                     {"op": "d", "before": {"k": "b", "v": 2}, "after": None}],
        "dynamodb-stream": [
            {"eventName": "INSERT", "dynamodb": {"Keys": {"k": s("a")}, "NewImage": {"k": s("a"), "v": n(1),
                                                                                       "ss": {"SS": ["x", "y"]}}}},
            {"eventName": "INSERT", "dynamodb": {"Keys": {"k": s("b")}, "NewImage": {"k": s("b"), "v": n(2)}}},
            {"eventName": "MODIFY", "dynamodb": {"Keys": {"k": s("a")}, "NewImage": {"k": s("a"), "v": n(7),
                                                                                       "b": {"B": "AAEC"}}}},
            {"eventName": "REMOVE", "dynamodb": {"Keys": {"k": s("b")}, "OldImage": {"k": s("b"), "v": n(2)}}}],
    }
    want = {
        "json": {("a",): {"k": s("a"), "v": n(3)}, ("b",): {"k": s("b"), "v": n(2)}},
        "feldera": {("a",): {"k": s("a"), "v": n(1)}, ("c",): {"k": s("c"), "v": n(5)}},
        "debezium": {("a",): {"k": s("a"), "v": n(9)}},
        "dynamodb-stream": {("a",): {"k": s("a"), "v": n(7), "b": {"B": "AAEC"}}},
    }
    for fmt, recs in docs.items():
        for mode in (fmt, "auto"):
            t = create("fmt_%s_%s" % (fmt.replace("-", ""), mode.replace("-", "")), "k", "S")
            p, dead = sink(t, [json.dumps(r) for r in recs], args=["--format", mode])
            got = by_key(scan(t), "k")
            check(p.returncode == 0 and not dead and got == want[fmt], "format %s (--format %s)" % (fmt, mode),
                  (p.stderr, dead, got))
    # one mixed file in auto mode, in order
    t = create("fmt_mixed", "k", "S")
    mixed = [{"k": "m", "v": 1}, {"insert": {"k": "m", "v": 2}}, {"op": "u", "before": None, "after": {"k": "m", "v": 3}},
             {"eventName": "MODIFY", "dynamodb": {"Keys": {"k": s("m")}, "NewImage": {"k": s("m"), "v": n(4)}}},
             {"k": "z", "v": 1}, {"eventName": "REMOVE", "dynamodb": {"Keys": {"k": s("z")}}}]
    p, dead = sink(t, [json.dumps(r) for r in mixed])
    got = by_key(scan(t), "k")
    check(p.returncode == 0 and got == {("m",): {"k": s("m"), "v": n(4)}}, "auto: mixed formats in one file, in order",
          (p.stderr, got))


def merge_mode():
    print("case: update_mode merge (JSON merge patch on the stored item)")
    t = create("merge", "id", "N")
    p, dead = sink(t, [json.dumps({"id": 1, "a": 1, "m": {"x": 1, "y": 2}, "keep": "yes"}),
                       json.dumps({"id": 3, "old": True})])
    patches = [{"id": 1, "b": 2, "m": {"y": None, "z": 3}}, {"id": 1, "a": None},
               {"id": 2, "c": "new"},
               {"delete": {"id": 3}}, {"insert": {"id": 3, "fresh": 1}}]
    p, dead = sink(t, [json.dumps(x) for x in patches], {"update_mode": "merge"})
    got = by_key(scan(t), "id")
    want = {("1",): {"id": n(1), "b": n(2), "m": {"M": {"x": n(1), "z": n(3)}}, "keep": s("yes")},
            ("2",): {"id": n(2), "c": s("new")},
            ("3",): {"id": n(3), "fresh": n(1)}}
    check(p.returncode == 0 and not dead, "merge: exit 0", (p.stderr, dead))
    check(got == want, "merge: patches applied on the stored items, deletes reset", (got, want))
    # many patches of one key in one run compose in order
    p, dead = sink(t, [json.dumps({"id": 5, "n%d" % i: i}) for i in range(50)] + [json.dumps({"id": 5, "n0": None})],
                   {"update_mode": "merge"})
    got = by_key(scan(t), "id")[("5",)]
    check(sorted(got) == sorted(["id"] + ["n%d" % i for i in range(1, 50)]), "merge: 51 patches of one key compose",
          sorted(got))


def document_attribute():
    print("case: document_attribute (Estuary's flow_document)")
    t = create("docattr", "id", "S")
    doc = {"id": "a", "x": 1, "nested": {"y": [1, "two", None], "t": True}}
    p, dead = sink(t, [json.dumps(doc)], {"document_attribute": "flow_document"})
    got = scan(t)
    want = [{"id": s("a"), "flow_document": {"M": {"id": s("a"), "x": n(1), "nested": {"M": {
        "y": {"L": [n(1), s("two"), {"NULL": True}]}, "t": {"BOOL": True}}}}}}]
    check(p.returncode == 0 and got == want, "document_attribute: keys + the whole document as a Map", (p.stderr, got))


def all_types():
    print("case: every type of the mapping")
    t = create("types", "id", "N")
    cols = ("id BIGINT, b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, d DECIMAL(10, 2), r REAL, "
            "dbl DOUBLE, vc VARCHAR, dt DATE, tm TIME, ts TIMESTAMP, u UUID, vb VARBINARY, arr ARRAY<INT>, "
            "mp MAP<VARCHAR, INT>, rw ROW(a INT, b VARCHAR), var VARIANT, sset STRING SET, nset NUMBER SET, "
            "bset BINARY SET, nul VARCHAR")
    row = {"id": 1, "b": True, "ti": -5, "si": 300, "i": 70000, "bi": 9007199254740993, "d": 12.5, "r": 1.5,
           "dbl": -2.25e10, "vc": "héllo", "dt": "2026-01-02", "tm": "12:34:56", "ts": "2026-01-02T03:04:05Z",
           "u": "123e4567-e89b-12d3-a456-426614174000", "vb": "AAECAw==", "arr": [1, 2, 3],
           "mp": {"k": 1}, "rw": {"a": 1, "b": "x"}, "var": {"any": [True, None, "s", 1.5]},
           "sset": ["b", "a"], "nset": [3, 1, 2], "bset": ["AAE=", "AgM="], "nul": None}
    p, dead = sink(t, [json.dumps(row)], {"columns": cols})
    got = scan(t)
    want = {"id": n(1), "b": {"BOOL": True}, "ti": n(-5), "si": n(300), "i": n(70000), "bi": n(9007199254740993),
            "d": n("12.5"), "r": n("1.5"), "dbl": n("-22500000000"), "vc": s("héllo"), "dt": s("2026-01-02"),
            "tm": s("12:34:56"), "ts": s("2026-01-02T03:04:05Z"), "u": s("123e4567-e89b-12d3-a456-426614174000"),
            "vb": {"B": "AAECAw=="}, "arr": {"L": [n(1), n(2), n(3)]}, "mp": {"M": {"k": n(1)}},
            "rw": {"M": {"a": n(1), "b": s("x")}},
            "var": {"M": {"any": {"L": [{"BOOL": True}, {"NULL": True}, s("s"), n("1.5")]}}},
            "sset": {"SS": ["a", "b"]}, "nset": {"NS": ["1", "2", "3"]}, "bset": {"BS": ["AAE=", "AgM="]},
            "nul": {"NULL": True}}
    check(p.returncode == 0 and not dead, "types: exit 0, nothing dead-lettered", (p.stderr, dead))
    item = got[0] if got else {}
    for k in want:
        check(item.get(k) == want[k], "types: %s -> %s" % (k, list(want[k])[0]), (item.get(k), want[k]))
    # a 38-digit number survives byte for byte
    big = "12345678901234567890123456789012345678"
    p, dead = sink(t, ['{"id": 2, "big": %s}' % big], {})
    got = by_key(scan(t), "id")
    check(got.get(("2",), {}).get("big") == n(big), "types: 38-digit number kept exactly", got.get(("2",)))


def dead_letters():
    print("case: bad records are dead-lettered with a reason, good ones land")
    t = create("dlq", "id", "N", "sort", "S")
    bad = [
        ("malformed JSON", '{"id": 1, "sort": ', "JSON"),
        ("missing key", '{"sort": "x", "v": 1}', "id"),
        ("missing sort key", '{"id": 5, "v": 1}', "sort"),
        ("wrongly typed key", '{"id": true, "sort": "x"}', "id"),
        ("key not a number", '{"id": "abc", "sort": "x"}', "id"),
        ("empty key", '{"id": 1, "sort": ""}', "sort"),
        ("key too long", json.dumps({"id": 1, "sort": "k" * 1025}), "1024"),
        ("number out of range", '{"id": 1, "sort": "n", "v": 1e200}', "v"),
        ("too many digits", '{"id": 1, "sort": "d", "v": 1234567890123456789012345678901234567890}', "38"),
        ("NaN", '{"id": 1, "sort": "nan", "v": NaN}', "JSON"),
        ("empty set", '{"id": 1, "sort": "es", "tags": []}', "set"),
        ("item over 400 KB", json.dumps({"id": 1, "sort": "big", "blob": "x" * 420000}), "400 KB"),
    ]
    good = [json.dumps({"id": i, "sort": "ok", "v": i}) for i in range(20)]
    lines = []
    expect = {}
    for i, (what, line, needle) in enumerate(bad):
        lines.append(good[i])
        lines.append(line)
        expect[len(lines)] = (what, needle, line)
    lines += good[len(bad):]
    p, dead = sink(t, lines, {"columns": "id BIGINT, sort VARCHAR, tags STRING SET"})
    got = by_key(scan(t), "id", "sort")
    check(p.returncode == 1, "dead letters: exit 1 (finished, some records dead-lettered)", p.stderr)
    check(len(got) == 20 and all(("%d" % i, "ok") in got for i in range(20)), "dead letters: the 20 good records landed",
          sorted(got))
    dl = {x["line"]: x for x in dead}
    check(sorted(dl) == sorted(expect), "dead letters: exactly the bad lines", (sorted(dl), sorted(expect)))
    for ln, (what, needle, line) in expect.items():
        x = dl.get(ln, {})
        check(x.get("record") == line and needle.lower() in x.get("reason", "").lower(),
              "dead letter: %s (line %d) -> %s" % (what, ln, x.get("reason", "MISSING")[:110]))
    # fail_on_error: stop after flushing what's good, fatal exit
    t2 = create("dlq_fail", "id", "N")
    lines = [json.dumps({"id": i}) for i in range(10)] + ['{"id": "bad"}'] + [json.dumps({"id": i}) for i in range(10, 20)]
    p, dead = sink(t2, lines, {"fail_on_error": True})
    got = scan(t2)
    check(p.returncode == 3 and len(dead) == 1, "fail_on_error: exit 3, the bad record dead-lettered (rc %d)" %
          p.returncode, p.stderr)
    check(len(got) >= 10 and all(("%d" % i,) in by_key(got, "id") for i in range(10)),
          "fail_on_error: records before the bad one were flushed", len(got))


def transactional():
    print("case: transactional mode")
    t = create("tx", "id", "N", "sort", "S")
    lines, model = [], {}
    for i in range(500):
        k = (i % 60, "s%d" % (i % 2))
        if i % 11 == 0:
            lines.append(json.dumps({"delete": {"id": k[0], "sort": k[1]}}))
            model.pop(k, None)
        else:
            lines.append(json.dumps({"insert": {"id": k[0], "sort": k[1], "v": i}}))
            model[k] = {"id": n(k[0]), "sort": s(k[1]), "v": n(i)}
    p, dead = sink(t, lines, {"write_mode": "transactional"})
    got = by_key(scan(t), "id", "sort")
    want = {(str(a), b): v for (a, b), v in model.items()}
    check(p.returncode == 0 and got == want, "transactional: table equals the model (%d items)" % len(want),
          (p.stderr, len(got)))


def create_if_missing_and_threads():
    print("case: create_table_if_missing (Estuary) and threads=3")
    name = "created_" + SUFFIX
    lines, model = [], {}
    for i in range(3000):
        k = "k%d" % (i % 500)
        if i % 13 == 0:
            lines.append(json.dumps({"delete": {"pk": k, "sk": 1}}))
            model.pop(k, None)
        else:
            lines.append(json.dumps({"insert": {"pk": k, "sk": 1, "v": i}}))
            model[k] = {"pk": s(k), "sk": n(1), "v": n(i)}
    p, dead = sink(name, lines, {"create_table_if_missing": True, "partition_key": "pk", "partition_key_type": "S",
                                 "sort_key": "sk", "sort_key_type": "N", "threads": 3})
    got = {k[0]: v for k, v in by_key(scan(name), "pk", "sk").items()} if p.returncode in (0, 1) else {}
    check(p.returncode == 0 and got == model, "create_table_if_missing + threads=3: table created, equals the model "
          "(%d items)" % len(model), (p.stderr, len(got)))
    # the configured key must match the table's
    p, dead = sink(name, lines[:5], {"partition_key": "other", "partition_key_type": "S"})
    check(p.returncode != 0 and "other" in p.stderr, "a configured key that differs from the table's is refused",
          p.stderr)


def checkpoint_restart():
    print("case: checkpoint restart after kill -9")
    t = create("ckpt", "id", "N")
    lines, model = [], {}
    for i in range(20000):
        k = i % 3000
        lines.append(json.dumps({"id": k, "v": i, "pad": "p" * 100}))
        model[str(k)] = i
    conf = {"table": t, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
            "aws_secret_access_key": "secret", "max_concurrent_requests": 2, "max_buffered_records": 200,
            "flush_interval_ms": 50}
    cpath = os.path.join(WD, "ck.json")
    json.dump(conf, open(cpath, "w"))
    inp = os.path.join(WD, "ck.jsonl")
    open(inp, "w").write("\n".join(lines) + "\n")
    ck = os.path.join(WD, "ck.checkpoint")
    p = subprocess.Popen([BIN, "sink", "-c", cpath, "-i", inp, "--checkpoint", ck, "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    killed = False
    while time.time() < deadline and p.poll() is None:
        if os.path.exists(ck):
            try:
                c = json.load(open(ck))
            except ValueError:
                c = {}
            if c.get("line", 0) > 2000:
                os.kill(p.pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.05)
    p.wait()
    c1 = json.load(open(ck)) if os.path.exists(ck) else {}
    check(killed, "checkpoint: killed mid-run at line %s of %d" % (c1.get("line"), len(lines)))
    after_kill = {k[0]: int(v["v"]["N"]) for k, v in by_key(scan(t), "id").items()}
    partial = len(after_kill)
    # the guarantee itself: every record up to the checkpoint is in the table (or superseded)
    upto = c1.get("line", 0)
    need = {}
    for i in range(min(upto, len(lines))):
        need[str(i % 3000)] = i
    behind = [k for k, v in need.items() if after_kill.get(k, -1) < v]
    check(upto > 0 and not behind, "checkpoint: every record up to line %d is in the table at the kill (%d behind)" %
          (upto, len(behind)))
    st = os.path.join(WD, "ck.stats.json")
    p2 = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--checkpoint", ck, "--quiet", "--stats-file", st],
                        capture_output=True, text=True, timeout=300)
    rin = json.load(open(st)).get("records_in") if os.path.exists(st) else None
    check(rin is not None and rin <= len(lines) - upto,
          "checkpoint: the restart resumes at the checkpoint (%s records read, expected <= %d; the CLI must seek "
          "the input to ddbpipe_sink_checkpoint_read's offset)" % (rin, len(lines) - upto))
    got = {k[0]: int(v["v"]["N"]) for k, v in by_key(scan(t), "id").items()}
    c2 = json.load(open(ck)) if os.path.exists(ck) else {}
    check(p2.returncode == 0, "checkpoint: the restart exits 0", p2.stderr)
    check(got == model, "checkpoint: final table equals the model after restart (%d items; %d after the kill)" %
          (len(model), partial))
    check(c2.get("offset") == os.path.getsize(inp) and c2.get("line") == len(lines),
          "checkpoint: final checkpoint at the end of the input", c2)


def main():
    for case in (seed004_feldera, seed002_flink_ddl, formats, merge_mode, document_attribute, all_types, dead_letters,
                 transactional, create_if_missing_and_threads, checkpoint_restart):
        try:
            case()
        except Exception as e:  # a crash in one case must not hide the others
            import traceback
            traceback.print_exc()
            check(False, "%s raised %s" % (case.__name__, e))
    print("%d failure(s)" % len(FAILS))
    for f in FAILS:
        print("  FAILED: " + f)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
