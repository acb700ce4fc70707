#!/usr/bin/python3
"""Peer for the sink benchmark: boto3's Table.batch_writer() writing the same
JSON lines, the way most Python loaders do it (one call in flight).
    boto3_writer.py ENDPOINT TABLE FILE [RETRY_MODE=standard]"""
import json, sys, time
from decimal import Decimal
import boto3
from botocore.config import Config

endpoint, table, path = sys.argv[1:4]
mode = sys.argv[4] if len(sys.argv) > 4 else "standard"
ddb = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="bench", aws_secret_access_key="bench",
                     config=Config(retries={"mode": mode}))
t = ddb.Table(table)
n = 0
t0 = time.monotonic()
with t.batch_writer() as w, open(path) as f:
    for line in f:
        if line.strip():
            w.put_item(Item=json.loads(line, parse_float=Decimal))
            n += 1
secs = time.monotonic() - t0
print(json.dumps({"peer": "boto3-batch_writer", "retry_mode": mode, "items": n, "seconds": secs, "items_per_s": n / secs}))
