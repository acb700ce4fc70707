#!/usr/bin/python3
"""Checks fault_double.py itself with boto3 (an independent DynamoDB client), so
the sink's fault tests can trust its final state: BatchWriteItem with
UnprocessedItems, poison batches, duplicate keys, TransactWriteItems with
conditions and ClientRequestToken, Scan paging, BatchGetItem, --null mode,
and the connection/overlap counters."""
import json
import os
import subprocess
import sys
import urllib.request

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:
    print("SKIPPED: python3-boto3 is not installed")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "fault_double.py")


def start(*args):
    p = subprocess.Popen([sys.executable, DOUBLE, "--watch-stdin", *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("PORT "), line
    return p, "http://127.0.0.1:%d" % int(line.split()[1])


def stop(p):
    p.stdin.close()
    p.terminate()
    p.wait(10)


def admin(url, path, body=None):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def client(url, retries=0):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="fake",
                        aws_secret_access_key="fake",
                        config=Config(retries={"max_attempts": retries, "mode": "standard"}))


def expect_error(code, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response["Error"]
        return e.response
    raise AssertionError("expected " + code)


def put(pk, v, sk=None):
    item = {"pk": {"S": pk}, "v": {"N": str(v)}}
    if sk is not None:
        item["sk"] = {"N": str(sk)}
    return {"PutRequest": {"Item": item}}


def main():
    p, url = start("--table", "tbl:pk:S", "--table", "cmp:pk:S:sk:N", "--seed", "7")
    fails = 0
    try:
        ddb = client(url)
        # plain writes, 38-digit numbers kept as text, paging
        ddb.batch_write_item(RequestItems={"tbl": [put("k%02d" % i, "1234567890123456789012345678901234567%d" % (i % 10))
                                                  for i in range(25)]})
        items, start_key = [], None
        while True:
            kw = {"TableName": "tbl", "Limit": 7}
            if start_key:
                kw["ExclusiveStartKey"] = start_key
            r = ddb.scan(**kw)
            items += r["Items"]
            start_key = r.get("LastEvaluatedKey")
            if not start_key:
                break
        assert len(items) == 25 and items[3]["v"]["N"] == "12345678901234567890123456789012345673", items[3]
        # limits DynamoDB enforces
        expect_error("ValidationException", ddb.batch_write_item,
                     RequestItems={"tbl": [put("x%d" % i, 1) for i in range(26)]})
        expect_error("ValidationException", ddb.batch_write_item, RequestItems={"tbl": [put("d", 1), put("d", 2)]})
        expect_error("ResourceNotFoundException", ddb.describe_table, TableName="missing")
        # poison: the whole batch is rejected, nothing applied
        poison = put("p1", 1)
        poison["PutRequest"]["Item"]["poison"] = {"S": "x"}
        expect_error("ValidationException", ddb.batch_write_item, RequestItems={"tbl": [put("p0", 1), poison]})
        assert "Item" not in ddb.get_item(TableName="tbl", Key={"pk": {"S": "p0"}})
        # UnprocessedItems: returned requests are not applied, the others are
        admin(url, "/__faults", {"unprocessed": 1.0, "unprocessed_fraction": 0.4, "seed": 3})
        r = ddb.batch_write_item(RequestItems={"cmp": [put("u", i, sk=i) for i in range(10)]})
        left = r["UnprocessedItems"].get("cmp", [])
        assert len(left) == 4, r
        admin(url, "/__faults", {})
        dump = admin(url, "/__dump")
        assert len(dump["cmp"]) == 6, dump["cmp"]
        left_sks = {x["PutRequest"]["Item"]["sk"]["N"] for x in left}
        assert not left_sks & {x["sk"]["N"] for x in dump["cmp"]}
        # transactions: conditions, cancellation reasons, idempotent tokens
        ta = [{"Put": {"TableName": "tbl", "Item": {"pk": {"S": "tx1"}, "v": {"N": "1"}},
                       "ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": "pk"}}},
              {"Delete": {"TableName": "tbl", "Key": {"pk": {"S": "k00"}}}}]
        ddb.transact_write_items(TransactItems=ta, ClientRequestToken="tok-1")
        ddb.transact_write_items(TransactItems=ta, ClientRequestToken="tok-1")  # same token: no-op success
        resp = expect_error("TransactionCanceledException", ddb.transact_write_items, TransactItems=ta)
        codes = [r["Code"] for r in resp["CancellationReasons"]]
        assert codes == ["ConditionalCheckFailed", "None"], codes
        expect_error("IdempotentParameterMismatchException", ddb.transact_write_items, TransactItems=ta[:1],
                     ClientRequestToken="tok-1")
        got = ddb.batch_get_item(RequestItems={"tbl": {"Keys": [{"pk": {"S": "tx1"}}, {"pk": {"S": "k00"}}]}})
        assert [i["pk"]["S"] for i in got["Responses"]["tbl"]] == ["tx1"], got
        # throttles seen by boto3 with retries; stats count them
        admin(url, "/__faults", {"sequence": ["throttle", "error500", "ok"]})
        admin(url, "/__reset", {})
        client(url, retries=5).list_tables()
        st = admin(url, "/__stats")
        assert st["faults"] == {"throttle": 1, "error500": 1} and st["requests"] == 3, st
        assert st["key_overlaps"] == 0
    except AssertionError as e:
        print("FAIL:", e)
        fails += 1
    finally:
        stop(p)

    p, url = start("--null")
    try:
        ddb = client(url)
        for _ in range(4):
            ddb.batch_write_item(RequestItems={"any": [put("k%d" % i, i) for i in range(25)]})
        st = admin(url, "/__stats")
        assert st["null_items"] == 100 and st["items_written"] == 0, st
        assert st["connections"] <= 2, st  # boto3 keeps its connection alive
    except AssertionError as e:
        print("FAIL (null mode):", e)
        fails += 1
    finally:
        stop(p)
    print("fault double checks: %s" % ("ok" if not fails else "%d failed" % fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
