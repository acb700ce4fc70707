#!/usr/bin/python3
"""Differential test: sign random DynamoDB-like requests with ddbpipe
(tests/tools/sigv4_sign) and with botocore's SigV4Auth, compare the
Authorization headers byte for byte.

Deterministic: the seed is printed (override with DDBPIPE_SIGV4_SEED), and
botocore's clock is pinned per request by patching botocore.auth.datetime.
Exit 77 (skipped) when botocore is not importable.
"""
import datetime
import json
import os
import random
import subprocess
import sys
from unittest import mock
from urllib.parse import quote

try:
    import botocore
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: botocore is not importable ({e}); install python3-botocore", flush=True)
    sys.exit(77)

N_REQUESTS = int(os.environ.get("DDBPIPE_SIGV4_CASES", "1000"))

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1",
           "us-gov-west-1", "cn-north-1", "il-central-1", "local"]
TABLE_OPS = ["CreateTable", "DescribeTable", "ListTables", "BatchWriteItem", "TransactWriteItems",
             "BatchGetItem", "Scan", "PutItem", "UpdateItem", "DeleteItem", "Query"]
STREAM_OPS = ["ListStreams", "DescribeStream", "GetShardIterator", "GetRecords"]
UNICODE_POOL = ("abcXYZ019 _-.~/+=%&?#:;\"'\\\t" "éüßñøå" "日本語中文한국어" "Ωπσ" "🙂🚀🔥" "\u0000\u001f\u2028\ufeff"
                "\U0001F600\U00010348")
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def rand_text(rng, lo=0, hi=24):
    return "".join(rng.choice(UNICODE_POOL) for _ in range(rng.randint(lo, hi)))


def rand_value(rng, depth=0):
    kind = rng.randint(0, 9 if depth < 3 else 5)
    if kind <= 2:
        return {"S": rand_text(rng)}
    if kind == 3:
        return {"N": str(rng.choice([0, -1, 42, 10**37 + 7, 3.25, -1e-130]))}
    if kind == 4:
        return {"BOOL": rng.random() < 0.5}
    if kind == 5:
        return {"NULL": True}
    if kind <= 7:
        return {"M": {rand_text(rng, 1, 8): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}}
    return {"L": [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]}


def rand_body(rng, op):
    if rng.random() < 0.05:
        return b""
    doc = {"TableName": "t" + rand_text(rng, 1, 10)}
    if op in ("BatchWriteItem", "TransactWriteItems", "PutItem"):
        doc["Item"] = {rand_text(rng, 1, 6): rand_value(rng) for _ in range(rng.randint(1, 6))}
    if op == "GetRecords":
        doc = {"ShardIterator": "arn:aws:dynamodb:" + rand_text(rng, 10, 60), "Limit": rng.randint(1, 1000)}
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.3)
    return text.encode("utf-8")


def rand_ascii_value(rng):
    # Printable ASCII with runs of spaces/tabs inside and around: exercises
    # trimming and collapsing (botocore's ' '.join(value.split())).
    chars = "abcXYZ0189-_.,;=/+()\"' \t"
    return "".join(rng.choice(chars) for _ in range(rng.randint(1, 30)))


def rand_path(rng):
    if rng.random() < 0.85:
        return "/"
    segs = [rng.choice(["a", "B", "tbl-1", "x.y", "~t", ".", "..", "", "seg_9"]) for _ in range(rng.randint(1, 5))]
    return "/" + "/".join(segs) + rng.choice(["", "/"])


def rand_query(rng):
    if rng.random() < 0.85:
        return {}
    return {rand_text(rng, 1, 6): rand_text(rng, 0, 8) for _ in range(rng.randint(1, 4))}


def make_case(rng):
    streams = rng.random() < 0.3
    op = rng.choice(STREAM_OPS if streams else TABLE_OPS)
    region = rng.choice(REGIONS)
    if rng.random() < 0.1:
        host = rng.choice(["localhost:8000", "127.0.0.1:45123", "dynamodb.local"])
        scheme = "http"
    else:
        host = ("streams.dynamodb." if streams else "dynamodb.") + region + ".amazonaws.com"
        scheme = "https"
    target = ("DynamoDBStreams_20120810." if streams else "DynamoDB_20120810.") + op
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target)]
    if rng.random() < 0.3:
        headers.append(("User-Agent", "ddbpipe/0.1 " + rand_ascii_value(rng)))  # unsigned by both
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(["X-Custom-Header", "x-ddbpipe-trace", "My-Header1", "X-AMZ-Meta"])
        name = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
        headers.append((name, rand_ascii_value(rng)))
    rng.shuffle(headers)
    epoch = rng.randint(946684800, 4102444799)  # 2000 .. 2099
    when = datetime.datetime.utcfromtimestamp(epoch)
    akid = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    secret = "".join(rng.choice(B64) for _ in range(40))
    token = None
    if rng.random() < 0.5:
        token = "".join(rng.choice(B64) for _ in range(rng.randint(16, 400))) + "=="
    return {
        "scheme": scheme, "host": host, "path": rand_path(rng), "params": rand_query(rng), "headers": headers,
        "body": rand_body(rng, op), "akid": akid, "secret": secret, "token": token, "region": region,
        "when": when,
    }


def botocore_sign(case):
    url = f"{case['scheme']}://{case['host']}{case['path']}"
    req = AWSRequest(method="POST", url=url, data=case["body"], params=case["params"])
    for name, value in case["headers"]:
        req.headers[name] = value  # HTTPHeaders appends: duplicates survive
    creds = Credentials(case["akid"], case["secret"], case["token"])
    auth = SigV4Auth(creds, "dynamodb", case["region"])
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = case["when"]
        dt.datetime.strptime = datetime.datetime.strptime
        auth.add_auth(req)
    return req.headers["Authorization"], auth.canonical_request(req)


def tool_line(case):
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in case["params"].items())
    return json.dumps({
        "method": "POST", "path": case["path"], "query": query,
        "headers": [["Host", case["host"]]] + [list(h) for h in case["headers"]],
        "body": case["body"].decode("utf-8"), "akid": case["akid"], "secret": case["secret"],
        "token": case["token"], "region": case["region"], "service": "dynamodb",
        "amz_date": case["when"].strftime("%Y%m%dT%H%M%SZ"),
    })


def main():
    build = os.environ.get("DDBPIPE_BUILD_DIR", ".")
    tool = os.path.join(build, "sigv4_sign")
    if not os.access(tool, os.X_OK):
        print(f"FAIL: signing tool not built: {tool}")
        return 1
    seed = int(os.environ.get("DDBPIPE_SIGV4_SEED", "20260115"))
    rng = random.Random(seed)
    cases = [make_case(rng) for _ in range(N_REQUESTS)]
    stdin = "\n".join(tool_line(c) for c in cases) + "\n"
    out = subprocess.run([tool, "--verbose"], input=stdin.encode("utf-8"), stdout=subprocess.PIPE, check=True,
                         timeout=300).stdout.decode("utf-8").splitlines()
    ours = [l for l in out if not l.startswith("# ")]
    detail = [l[2:] for l in out if l.startswith("# ")]
    if len(ours) != len(cases):
        print(f"FAIL: tool printed {len(ours)} signatures for {len(cases)} requests")
        return 1
    mismatches = 0
    stats = {"token": 0, "dup_headers": 0, "query": 0, "path": 0, "non_ascii_body": 0}
    for i, case in enumerate(cases):
        want, want_creq = botocore_sign(case)
        stats["token"] += case["token"] is not None
        names = [h[0].lower() for h in case["headers"]]
        stats["dup_headers"] += len(names) != len(set(names))
        stats["query"] += bool(case["params"])
        stats["path"] += case["path"] != "/"
        stats["non_ascii_body"] += any(b > 127 for b in case["body"])
        if ours[i] != want:
            mismatches += 1
            if mismatches <= 3:
                print(f"MISMATCH request #{i} (seed {seed}):\n  botocore: {want}\n  ddbpipe:  {ours[i]}")
                print("  botocore canonical request:\n" + want_creq)
                got = detail[i] if i < len(detail) else "?"
                print("  ddbpipe canonical request / string to sign (JSON):\n" + got)
    print(f"botocore {botocore.__version__}: {len(cases) - mismatches}/{len(cases)} signatures identical "
          f"(seed {seed}; with session token {stats['token']}, duplicate headers {stats['dup_headers']}, "
          f"query strings {stats['query']}, non-root paths {stats['path']}, non-ASCII bodies "
          f"{stats['non_ascii_body']})")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
