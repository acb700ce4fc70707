#!/usr/bin/python3
"""Feldera dialect (seed 004), accepted verbatim: the `dynamodb_output` connector JSON array, its `config`
object alone, and the whole Feldera SQL program (`ddbpipe sink --sql`), each copied as it stands with
only endpoint_url/credentials added for DynamoDB Local (and the table name made unique), drive a
`ddbpipe sink` run into seed 004's composite id (N) / sort (S) table; the scanned table equals the
model of the Feldera insert/delete stream."""
import base64
import json
import os
import subprocess
import sys
import tempfile

FAILS = []


def skip(msg):
    print("SKIPPED: " + msg)
    sys.exit(77)


try:
    import boto3
except ImportError:
    skip("python3-boto3 is not installed")

BIN = os.environ.get("DDBPIPE_BIN")
EPF = os.environ.get("DDBPIPE_TEST_ENDPOINT_FILE")
SRC = os.environ.get("DDBPIPE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if not BIN or not os.path.exists(BIN):
    skip("DDBPIPE_BIN not built")
if not EPF or not os.path.exists(EPF):
    skip("no DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT_FILE)")
ENDPOINT = open(EPF).read().strip()
DDB = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="AKIDDIALECT",
                   aws_secret_access_key="secret")
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


def check(cond, what, detail=""):
    if cond:
        print("  ok   " + what)
    else:
        print("  FAIL " + what + (("\n       " + str(detail)[:2000]) if detail else ""))
        FAILS.append(what)


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


def n(x):
    return {"N": str(x)}


def s(x):
    return {"S": x}


LINES = [{"insert": {"id": i, "sort": "s%d" % i, "s": "v%d" % i}} for i in range(5)] + [
    {"delete": {"id": 1, "sort": "s1", "s": "v1"}},
    {"delete": {"id": 2, "sort": "s2", "s": "v2"}},
    {"insert": {"id": 2, "sort": "s2", "s": "updated"}},  # delete then insert: an update
    {"insert": {"id": 3, "sort": "other", "s": None}},
    {"insert": {"id": 4, "sort": "s4", "s": "v4 again"}},
]
MODEL = {("0", "s0"): {"id": n(0), "sort": s("s0"), "s": s("v0")},
         ("2", "s2"): {"id": n(2), "sort": s("s2"), "s": s("updated")},
         ("3", "s3"): {"id": n(3), "sort": s("s3"), "s": s("v3")},
         ("3", "other"): {"id": n(3), "sort": s("other"), "s": {"NULL": True}},
         ("4", "s4"): {"id": n(4), "sort": s("s4"), "s": s("v4 again")}}
LOCAL = ('"endpoint_url": "%s",\n"aws_access_key_id": "AKIDDIALECT",\n"aws_secret_access_key": "secret",\n'
         % ENDPOINT)


def localize(text, table):
    """Point the seed's config at DynamoDB Local: endpoint and credentials added, table renamed."""
    assert '"table": "feldera_out"' in text
    return text.replace('"table": "feldera_out",', '"table": "%s",\n%s' % (table, LOCAL.rstrip(",\n")) + ",")


def run_case(label, args, table):
    p = sink(args + ["--format", "feldera"], LINES)
    check(p.returncode == 0, "%s: exit 0" % label, p.stderr)
    got = keyed(scan(table), "id", "sort")
    check(got == MODEL, "%s: scanned table equals the model" % label, (got, MODEL))


def main():
    print("case: seed 004 connectors JSON array (-c)")
    conn = seed_example("feldera_connectors.json")
    arr = json.loads(conn)
    check(arr[0]["transport"] == {"name": "dynamodb_output",
                                  "config": {"table": "feldera_out", "region": "us-east-1"}},
          "the example is seed 004's connector as written", arr)
    t = "feldera_out_c_" + SUFFIX
    create(t, "id", "N", "sort", "S")
    run_case("connectors JSON", ["-c", write("connectors.json", localize(conn, t)), "--quiet"], t)

    print("case: seed 004 transport config object (-c)")
    t = "feldera_out_o_" + SUFFIX
    create(t, "id", "N", "sort", "S")
    run_case("config object", ["-c", write("config.json", localize(seed_example("feldera_config.json"), t)),
                               "--quiet"], t)

    print("case: seed 004 whole SQL program (sink --sql): key from CREATE INDEX v1_idx ON v1(id, sort)")
    t = "feldera_out_p_" + SUFFIX
    prog = localize(seed_example("feldera_program.sql"), t)
    check("CREATE INDEX v1_idx ON v1(id, sort);" in prog, "the program keeps its index", prog[-200:])
    # The table does not exist: the sink creates it from the index columns and the view's column types
    # (id INT -> N, sort VARCHAR -> S), so the key really comes from the SQL.
    run_case("SQL program", ["--sql", write("program.sql", prog), "--set", "create_table_if_missing=true"], t)
    CREATED.append(t)
    ks = DDB.describe_table(TableName=t)["Table"]
    check({(k["AttributeName"], k["KeyType"]) for k in ks["KeySchema"]} == {("id", "HASH"), ("sort", "RANGE")},
          "created table's key is the index (id HASH, sort RANGE)", ks["KeySchema"])
    check({(a["AttributeName"], a["AttributeType"]) for a in ks["AttributeDefinitions"]} ==
          {("id", "N"), ("sort", "S")}, "key types from the view's columns (INT -> N, VARCHAR -> S)",
          ks["AttributeDefinitions"])

    print("case: sink --sql and -c together is a usage error")
    p = sink(["--sql", write("p2.sql", prog), "-c", write("c2.json", localize(conn, t))], [])
    check(p.returncode == 2 and "--sql" in p.stderr, "exit 2 naming --sql", (p.returncode, p.stderr))


try:
    main()
finally:
    finish()
