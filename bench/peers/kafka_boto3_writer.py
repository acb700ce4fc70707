#!/usr/bin/python3
"""Peer for the Kafka sink benchmark: a confluent_kafka consumer (the same librdkafka) feeding boto3's
Table.batch_writer(), committing after each flushed batch, the way a hand-written Python consumer
does it. Reads MAX messages of TOPIC from the start, then prints its rate.
    kafka_boto3_writer.py BOOTSTRAP TOPIC GROUP ENDPOINT TABLE MAX"""
import json
import sys
import time
from decimal import Decimal

import boto3
from botocore.config import Config
from confluent_kafka import Consumer

bootstrap, topic, group, endpoint, table, limit = sys.argv[1:7]
limit = int(limit)
ddb = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                     aws_secret_access_key="bench", config=Config(retries={"mode": "standard"}))
t = ddb.Table(table)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False})
c.subscribe([topic])
n = 0
t0 = None
with t.batch_writer() as w:
    while n < limit:
        msgs = c.consume(500, 1.0)
        for m in msgs:
            if m.error() or m.value() is None:
                continue
            if t0 is None:
                t0 = time.monotonic()
            w.put_item(Item=json.loads(m.value(), parse_float=Decimal))
            n += 1
        if msgs:
            c.commit(asynchronous=True)
secs = time.monotonic() - (t0 or time.monotonic())
c.close()
print(json.dumps({"peer": "confluent_kafka+boto3-batch_writer", "items": n, "seconds": round(secs, 3),
                  "items_per_s": round(n / secs) if secs else 0}))
