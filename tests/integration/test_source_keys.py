#!/usr/bin/python3
"""Every event `ddbpipe source` writes can be applied (issue 11, item 5), on DynamoDB Local.

For each stream view type (NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE, KEYS_ONLY) and each format (json,
dynamodb, debezium): every event carries the item's key; where the view type has new images, `ddbpipe
sink` applied to the output rebuilds the table exactly; where it has none, --format debezium is refused
at start with the reason (exit 2), and json/dynamodb warn at start and the sink dead-letters inserts and
updates naming the view type while removes still apply. Snapshot rows in debezium carry ts_ms.
"""
import json
import os
import subprocess
import tempfile
import time

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client()
WD = tempfile.mkdtemp(prefix="ddbpipe-keys-")
SUFFIX = str(os.getpid())
ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")


def create(name, view=None):
    name = name + "_" + SUFFIX
    kw = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": view}} if view else {}
    DDB.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     BillingMode="PAY_PER_REQUEST", **kw)
    DDB.get_waiter("table_exists").wait(TableName=name)
    return name


def config(table):
    path = os.path.join(WD, table + ".json")
    with open(path, "w") as f:
        json.dump({"table": table, "region": "us-east-1", "endpoint_url": ENDPOINT, "aws_access_key_id": "AKIDLOCAL",
                   "aws_secret_access_key": "secret", "flush_interval_ms": 50, "poll_idle_ms": 100}, f)
    return path


def scan(t, plain=False):
    """The table's items, comparable; plain=True: as a plain-JSON round trip keeps them (a number set
    comes back as a list of numbers)."""
    items = DDB.scan(TableName=t, ConsistentRead=True)["Items"]
    if plain:
        items = [{k: ({"L": [{"N": n} for n in v["NS"]]} if "NS" in v else v) for k, v in i.items()} for i in items]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def source(t, fmt, mode="stream"):
    p = subprocess.run([BIN, "source", "-c", config(t), "--mode", mode, "--format", fmt, "--until-caught-up"],
                       capture_output=True, text=True, timeout=300, env=ENV)
    return p.returncode, [json.loads(x) for x in p.stdout.splitlines()], p.stderr


def sink(t, lines):
    dl = os.path.join(WD, t + ".dead")
    if os.path.exists(dl):
        os.unlink(dl)
    p = subprocess.run([BIN, "sink", "-c", config(t), "--dead-letter", dl], input="".join(
        json.dumps(x) + "\n" for x in lines), capture_output=True, text=True, timeout=300, env=ENV)
    return p.returncode, [json.loads(x) for x in open(dl)] if os.path.exists(dl) else [], p.stderr


def key_of(ev, fmt):
    """The key an event carries, as (pk, sk) strings, or None."""
    if fmt == "debezium":
        row = ev.get("after") or ev.get("before") or {}
        return (row["pk"], str(row["sk"])) if "pk" in row and "sk" in row else None
    k = ev.get("keys") or {}
    if fmt == "dynamodb":
        return (k["pk"]["S"], k["sk"]["N"]) if "pk" in k and "sk" in k else None
    return (k["pk"], str(k["sk"])) if "pk" in k and "sk" in k else None


def changes(t):
    DDB.put_item(TableName=t, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "one"}})
    DDB.put_item(TableName=t, Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "v": {"S": "two"}})
    DDB.put_item(TableName=t, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "uno"}, "n": {"N": "7"}})
    DDB.delete_item(TableName=t, Key={"pk": {"S": "b"}, "sk": {"N": "2"}})
    DDB.put_item(TableName=t, Item={"pk": {"S": "c"}, "sk": {"N": "3"}, "ns": {"NS": ["1", "2"]}})


WANT_KEYS = [("a", "1"), ("b", "2"), ("a", "1"), ("b", "2"), ("c", "3")]

for view in ("NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"):
    print("case: stream view type " + view)
    t = create("keys_" + view.lower(), view)
    changes(t)
    has_new = view.startswith("NEW")
    for fmt in ("json", "dynamodb", "debezium"):
        rc, evs, err = source(t, fmt)
        if fmt == "debezium" and not has_new:
            check(rc == 2 and "--format debezium needs new images" in err and view in err and not evs,
                  "%s/%s: refused at start with the reason (exit 2)" % (view, fmt), (rc, err))
            continue
        check(rc == 0, "%s/%s: exit 0" % (view, fmt), err)
        check([key_of(e, fmt) for e in evs] == WANT_KEYS, "%s/%s: every event carries its key" % (view, fmt),
              [key_of(e, fmt) for e in evs])
        if not has_new:
            check("insert and modify events carry 'keys' but no new image" in err,
                  "%s/%s: a warning at start says the sink cannot apply inserts/updates" % (view, fmt), err)
        if fmt == "json":
            continue  # plain JSON loses set types; dynamodb is the lossless copy format
        copy = create("copy_%s_%s" % (view.lower(), fmt))
        DDB.put_item(TableName=copy, Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "v": {"S": "stale"}})
        rc, dead, serr = sink(copy, evs)
        if has_new:
            plain = fmt == "debezium"
            check(rc == 0 and not dead and scan(copy) == scan(t, plain),
                  "%s/%s: the sink rebuilds the table" % (view, fmt), (rc, dead, serr, scan(copy), scan(t, plain)))
        else:
            check(rc == 1 and len(dead) == 4 and all("view type must include new images" in d["reason"] for d in dead),
                  "%s/%s: the sink dead-letters the 4 inserts/updates naming the view type" % (view, fmt),
                  (rc, dead))
            check(scan(copy) == [], "%s/%s: the remove still applied" % (view, fmt), scan(copy))

print("case: snapshot rows carry ts_ms in debezium")
t = create("keys_snap")
DDB.put_item(TableName=t, Item={"pk": {"S": "s"}, "sk": {"N": "1"}})
before = int(time.time() * 1000)
rc, evs, err = source(t, "debezium", mode="snapshot")
after = int(time.time() * 1000)
check(rc == 0 and len(evs) == 1 and evs[0]["op"] == "r" and isinstance(evs[0].get("ts_ms"), int) and
      before - 1000 <= evs[0]["ts_ms"] <= after + 1000, "snapshot row: op r with ts_ms of the read", evs)

if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), ", ".join(FAILS)))
    raise SystemExit(1)
print("all checks passed")
