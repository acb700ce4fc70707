#!/usr/bin/python3
"""Replication: `ddbpipe source --format dynamodb | ddbpipe sink` copies a
table exactly, with every attribute type (S, N with 38 digits, B, BOOL, NULL,
M, L, SS, NS, BS) and deletes. The two tables must end equal (boto3 scans)."""
import os, subprocess, sys, tempfile, time, uuid

try:
    import boto3
except ImportError:
    print("SKIPPED: boto3 (python3-boto3) not installed")
    sys.exit(77)

BIN = os.environ["DDBPIPE_BIN"]
endpoint = open(os.environ["DDBPIPE_TEST_ENDPOINT_FILE"]).read().strip()
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test-secret")
suffix = uuid.uuid4().hex[:8]
src, dst = f"repl_src_{suffix}", f"repl_dst_{suffix}"


def create(name, stream):
    kw = dict(TableName=name,
              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                    {"AttributeName": "n", "AttributeType": "N"}],
              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"},
                         {"AttributeName": "n", "KeyType": "RANGE"}],
              BillingMode="PAY_PER_REQUEST")
    if stream:
        kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.create_table(**kw)


def scan(name):
    items, kw = [], {"TableName": name}
    while True:
        r = ddb.scan(**kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            break
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["id"]["S"], i["n"]["N"]))


def conf(tmp, table):
    path = os.path.join(tmp, table + ".yaml")
    with open(path, "w") as f:
        f.write(f"table: {table}\nregion: us-east-1\nendpoint_url: {endpoint}\n"
                f"aws_access_key_id: test\naws_secret_access_key: test-secret\n")
    return path


def pipe(tmp, mode, extra):
    cmd = (f"'{BIN}' source -c '{conf(tmp, src)}' --format dynamodb --mode {mode} --until-caught-up {extra}"
           f" | '{BIN}' sink -c '{conf(tmp, dst)}' --dead-letter '{tmp}/dlq.jsonl' --quiet")
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        print(p.stdout[-3000:], p.stderr[-3000:])
        raise SystemExit(f"FAIL: pipeline exited {p.returncode}")


def item(i):
    it = {
        "id": {"S": f"user-{i % 7}"}, "n": {"N": str(i)},
        "s": {"S": f"h\u00e9llo \u2603 {i}"}, "empty": {"S": ""},
        "big": {"N": "1234567890123456789012345678901234567" + str(i % 10)},
        "tiny": {"N": "-0.00000000000000000000000000000000000001"},
        "b": {"B": bytes([i % 256, 0, 255, 10])}, "t": {"BOOL": i % 2 == 0}, "nul": {"NULL": True},
        "m": {"M": {"k": {"S": "v"}, "deep": {"M": {"l": {"L": [{"N": "1"}, {"S": "x"}, {"NULL": True}]}}}}},
        "l": {"L": [{"N": "1.50"}, {"BOOL": False}, {"B": b"\x00\x01"}]},
        "ss": {"SS": ["a", "b", f"c{i}"]}, "ns": {"NS": ["1", "2.5", "99999999999999999999999999999999999999"]},
        "bs": {"BS": [b"\x01", b"\x02\x03"]},
    }
    return it


def main():
    create(src, True)
    create(dst, False)
    for i in range(120):
        ddb.put_item(TableName=src, Item=item(i))
    with tempfile.TemporaryDirectory() as tmp:
        pipe(tmp, "snapshot+stream", "--from latest")
        a, b = scan(src), scan(dst)
        if len(a) != 120 or a != b:
            raise SystemExit(f"FAIL: after snapshot+stream, source has {len(a)} items, copy {len(b)}; equal={a == b}")
        # Changes and deletes go through the change feed.
        for i in range(0, 120, 3):
            ddb.delete_item(TableName=src, Key={"id": item(i)["id"], "n": item(i)["n"]})
        for i in range(1, 120, 3):
            it = item(i)
            it["s"] = {"S": "changed"}
            del it["bs"]
            ddb.put_item(TableName=src, Item=it)
        pipe(tmp, "stream", "--from trim_horizon")
        a, b = scan(src), scan(dst)
        if a != b:
            missing = [x for x in a if x not in b][:2]
            extra = [x for x in b if x not in a][:2]
            raise SystemExit(f"FAIL: after stream replay: {len(a)} vs {len(b)} items; missing {missing}; extra {extra}")
        if os.path.exists(f"{tmp}/dlq.jsonl") and os.path.getsize(f"{tmp}/dlq.jsonl") > 0:
            raise SystemExit("FAIL: dead letters in a clean replication: " + open(f"{tmp}/dlq.jsonl").read()[:2000])
    print(f"replication ok: {len(a)} items equal after snapshot+stream and stream replay with deletes")


if __name__ == "__main__":
    try:
        main()
    finally:
        for t in (src, dst):
            try:
                ddb.delete_table(TableName=t)
            except Exception:
                pass
