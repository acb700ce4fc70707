#!/usr/bin/python3
"""Peer for the source benchmark: a boto3 parallel Scan of the same table, the
way a Python export is usually written: the low-level client (no Decimal
conversion of the resource layer), one thread per segment, each following
LastEvaluatedKey to the end and counting items.
    boto3_scan.py ENDPOINT TABLE [SEGMENTS=4]
Prints one JSON line: items, wall seconds, items/s and the CPU seconds the
scan itself used in this process (time.process_time, so interpreter and boto3
import time are left out; /usr/bin/time around the script gives the total)."""
import json
import sys
import threading
import time

import boto3
from botocore.config import Config

endpoint, table = sys.argv[1:3]
segments = int(sys.argv[3]) if len(sys.argv) > 3 else 4
client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench-secret",
                      config=Config(retries={"mode": "standard"}, max_pool_connections=segments))
counts = [0] * segments
errors = []


def scan(seg):
    try:
        kw = {"TableName": table, "Segment": seg, "TotalSegments": segments}
        while True:
            page = client.scan(**kw)
            counts[seg] += len(page.get("Items", []))
            lek = page.get("LastEvaluatedKey")
            if not lek:
                return
            kw["ExclusiveStartKey"] = lek
    except Exception as e:  # report and let the others finish
        errors.append(f"segment {seg}: {e}")


client.describe_table(TableName=table)  # connection set up outside the timing
cpu0, t0 = time.process_time(), time.monotonic()
threads = [threading.Thread(target=scan, args=(s,)) for s in range(segments)]
for t in threads:
    t.start()
for t in threads:
    t.join()
secs, cpu = time.monotonic() - t0, time.process_time() - cpu0
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
n = sum(counts)
print(json.dumps({"peer": "boto3-parallel-scan", "segments": segments, "items": n, "seconds": round(secs, 3),
                  "items_per_s": round(n / secs), "scan_cpu_s": round(cpu, 3)}))
