"""Shared harness of the dialect tests (tests/integration/test_dialect_*.py): DynamoDB Local from the
fixture, boto3 for creating and scanning tables, the ddbpipe CLI, check/finish bookkeeping. Not a test
itself (the file name does not start with test_)."""
import json
import os
import subprocess
import sys
import tempfile

from ddblocal_env import BIN, ENDPOINT, FAILS, SRC, check, ddb_client, skip  # noqa: F401 (re-exported)

DDB = ddb_client("AKIDDIALECT")
WD = tempfile.mkdtemp(prefix="ddbpipe-dialect-it-")
SUFFIX = str(os.getpid())
CREATED = []


def seed_example(name):
    """A seed's example config as the repository keeps it (tests/data/config, copied from the seeds)."""
    with open(os.path.join(SRC, "tests", "data", "config", name)) as f:
        return f.read()


def write(name, text):
    path = os.path.join(WD, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def create(name, pk, pkt, sk=None, skt=None):
    ks = [{"AttributeName": pk, "KeyType": "HASH"}]
    ad = [{"AttributeName": pk, "AttributeType": pkt}]
    if sk:
        ks.append({"AttributeName": sk, "KeyType": "RANGE"})
        ad.append({"AttributeName": sk, "AttributeType": skt})
    DDB.create_table(TableName=name, KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
    DDB.get_waiter("table_exists").wait(TableName=name)
    CREATED.append(name)


def scan(table):
    items, kw = [], {}
    while True:
        r = DDB.scan(TableName=table, ConsistentRead=True, **kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            return items
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def keyed(items, *keys):
    return {tuple(list(i[k].values())[0] for k in keys): i for i in items}


def sink(args, lines, env=None):
    inp = write("in.jsonl", "\n".join(json.dumps(l) for l in lines) + "\n")
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN, "sink", "-i", inp] + list(args), capture_output=True, text=True, timeout=180, env=e)


def finish():
    import shutil
    shutil.rmtree(WD, ignore_errors=True)
    for t in CREATED:
        try:
            DDB.delete_table(TableName=t)
        except Exception:
            pass
    if FAILS:
        print("FAILED: %d check(s): %s" % (len(FAILS), "; ".join(FAILS)))
        sys.exit(1)
    print("PASS")
