#!/usr/bin/python3
"""Benchmark helper: produce every line of FILE to TOPIC (round robin over the partitions), then print
the low/high watermarks (the mock cluster keeps ~5 MiB a partition: low watermarks must stay 0).
    kafka_produce.py BOOTSTRAP TOPIC PARTITIONS FILE"""
import json
import sys

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap, topic, parts, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
              "queue.buffering.max.messages": 500000})
n = 0
with open(path, "rb") as f:
    for line in f:
        line = line.rstrip(b"\n")
        while True:
            try:
                p.produce(topic, value=line, partition=n % parts)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 10000 == 0:
            p.poll(0)
p.flush(120)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe"})
lows = highs = 0
low_max = 0
for i in range(parts):
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, i), timeout=10)
    low_max = max(low_max, lo)
    highs += hi
c.close()
print(json.dumps({"produced": n, "messages": highs, "max_low_watermark": low_max}))
