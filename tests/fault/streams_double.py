#!/usr/bin/python3
"""DynamoDB Streams test double: a scripted shard tree with splits.

Speaks enough of DynamoDBStreams_20120810 (DescribeStream with paging and
ShardFilter CHILD_SHARDS, GetShardIterator, GetRecords, ListStreams) and
DynamoDB_20120810.DescribeTable for `ddbpipe source --mode stream`.

Shard tree (ids sort in creation order, as on AWS):
    A (closed) -> B (closed) -> D (open)
                              -> E (open)
               -> C (open)
    F (closed) -> G (open)
Every key writes a sequence of changes (INSERT, MODIFYs, sometimes REMOVE and
a new INSERT) spread along one lineage (A,B,D / A,B,E / A,C / F,G), so
per-key order only holds if parents are read before children.

Faults (all on by default, see --help): DescribeStream pages of 2 shards;
the first full listing shows B's children missing (inconsistent listing);
D and E stay out of full listings until B was read to its end (only a
CHILD_SHARDS query or a later listing finds them); one ExpiredIteratorException
on C; an occasional 500/throttle; with --trim, shard C is trimmed past the
reader once (TrimmedDataAccessException). With --empty-pages, one empty page
(no records, a NextShardIterator at the same position) in the middle of every
shard with 4 records or more, open shards included, as DynamoDB Streams may
serve them: an empty page is neither the end of a shard nor its tip.

Long snapshots (--retention-s, issue 15): with --live-rate, --retention-s R
trims every record R seconds after it became readable, as DynamoDB does after
24 hours (GetRecords below the trim horizon and GetShardIterator
AFTER_SEQUENCE_NUMBER of a trimmed record: TrimmedDataAccessException;
TRIM_HORIZON starts at the oldest record kept; a closed shard leaves listings R
seconds after it closed). The shard tree then grows as it is written: a shard
is listed once its parent closed, and is closed (EndingSequenceNumber, no
NextShardIterator at its end) once its last record is readable; LATEST is the
readable end. Scan (DynamoDB_20120810.Scan, parallel segments by crc32 of the
key in hash order, ExclusiveStartKey, Limit, ConsumedCapacity by DynamoDB's 4 KB rule) reads
the table as the stream has written it by then (each key's image after its last
readable record) plus --scan-items static items padded with --item-pad bytes;
--scan-delay-ms answers a Scan that long after reading it (writes made in
between are not in the page, as on a real table). GET /__stats then also
has "table" (the final items) and "required" (the sequence numbers a reader
that took its first LATEST iterators when it did must emit).

Writes the expected events to --expect FILE: {"events": {key: [[seq, op], ...]},
"visible_at": ..., "shards": {shard: [seq, ...] of its records at start}}. GET /__stats returns counters, ordering
violations seen by the double (a child iterator before its parent was read
to its end) and "iterators": the log of GetShardIterator requests in arrival
order ([shard, type, sequence number or null]).
"""
import argparse
import json
import random
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/%s/stream/%s"
TREE = {  # shard -> parent
    "shardId-00001-A": None,
    "shardId-00002-F": None,
    "shardId-00003-B": "shardId-00001-A",
    "shardId-00004-C": "shardId-00001-A",
    "shardId-00005-G": "shardId-00002-F",
    "shardId-00006-D": "shardId-00003-B",
    "shardId-00007-E": "shardId-00003-B",
}
A, F, B, C, G, D, E = sorted(TREE)
OPEN = {C, D, E, G}
LINEAGES = [[A, B, D], [A, B, E], [A, C], [F, G]]
LEVEL = {A: 0, F: 0, B: 1, C: 1, G: 1, D: 2, E: 2}


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.table = args.table
        self.arn = ARN % (args.table, args.stream_label)
        rnd = random.Random(args.seed)
        self.records = {s: [] for s in TREE}
        self.expect = {}
        per_shard = {s: [] for s in TREE}  # (key, [events]) chunks
        for k in range(args.keys):
            key = "k%04d" % k
            lineage = LINEAGES[k % len(LINEAGES)]
            n = args.changes
            evs = []
            version = 0
            present = False
            for i in range(n):
                version += 1
                if not present:
                    evs.append(("INSERT", version))
                    present = True
                elif rnd.random() < 0.15:
                    evs.append(("REMOVE", version))
                    present = False
                else:
                    evs.append(("MODIFY", version))
            # contiguous chunks along the lineage, in write order
            cuts = sorted(rnd.randint(0, n) for _ in range(len(lineage) - 1))
            bounds = [0] + cuts + [n]
            for li, shard in enumerate(lineage):
                per_shard[shard].append((key, evs[bounds[li]:bounds[li + 1]]))
        # Assign sequence numbers: a parent's records all precede its
        # children's (level by level); inside a shard keys interleave.
        seq = 100000000000000000000
        prev_image = {}
        for level in range(3):
            for shard in sorted(s for s in TREE if LEVEL[s] == level):
                queue = [(key, list(evs)) for key, evs in per_shard[shard] if evs]
                while queue:
                    i = rnd.randrange(len(queue))
                    key, evs = queue[i]
                    op, version = evs.pop(0)
                    if not evs:
                        queue.pop(i)
                    seq += rnd.randint(1, 50)
                    self.records[shard].append(self.record(key, op, version, seq, prev_image))
                    self.expect.setdefault(key, []).append([str(seq), op])
        self.end_seq = {s: (self.records[s][-1]["dynamodb"]["SequenceNumber"] if self.records[s] else str(seq))
                        for s in TREE if s not in OPEN}
        self.start_seq = {s: (self.records[s][0]["dynamodb"]["SequenceNumber"] if self.records[s] else "0")
                          for s in TREE}
        self.trim = {s: 0 for s in TREE}  # index of the first record still kept
        self.trimmed = []
        self.finished_read = set()  # shards a GetRecords read to the end
        self.trim_armed = False  # --trim-read-shards applies once GET /__trim_read_shards armed it
        self.iter_issued = {}
        self.listing_count = 0
        self.inconsistent_done = not args.inconsistent
        self.expired_done = not args.expire
        self.trim_done = not args.trim
        self.calls = {}
        self.violations = []
        self.fault_counter = 0
        self.iter_log = []
        self.empty_done = set()  # shards whose mid-shard empty page was served
        # --live-rate: records become readable one after the other (sequence order) from
        # --live-start-s on, as if written then; visible_at[seq] is that wall-clock time
        self.visible_at = {}
        # --live-from-first-iterator: the clock starts with the reader's first GetShardIterator (its
        # position), not with the double: a reader that starts slowly (valgrind) would otherwise find the
        # first shards already closed and gone, their records older than its position
        self.live_waiting = args.live_rate > 0 and args.live_from_first_iterator
        if args.live_rate > 0:
            self.start_live(time.time() + (1e9 if self.live_waiting else args.live_start_s))
        self.live_tree = args.retention_s > 0 and args.live_rate > 0
        self.latest_pos = {}  # shard -> position of its first LATEST iterator
        self.scan_items = {"s%05d" % i: {"pk": {"S": "s%05d" % i}, "blob": {"S": "b" * args.item_pad}}
                           for i in range(args.scan_items)}

    def start_live(self, t0):
        seqs = sorted(int(r["dynamodb"]["SequenceNumber"]) for s in TREE for r in self.records[s])
        self.visible_at = {str(q): t0 + i / self.args.live_rate for i, q in enumerate(seqs)}
        for s in TREE:
            for r in self.records[s]:
                d = r["dynamodb"]
                d["ApproximateCreationDateTime"] = int(self.visible_at[d["SequenceNumber"]])

    # ------------------------------------------------------------ live tree (--retention-s)
    def readable_end(self, shard, now):
        """How many of the shard's records were written by now."""
        recs = self.records[shard]
        if not self.visible_at:
            return len(recs)
        n = 0
        while n < len(recs) and self.visible_at[recs[n]["dynamodb"]["SequenceNumber"]] <= now:
            n += 1
        return n

    def closed_at(self, shard):
        recs = self.records[shard]
        if recs:
            return self.visible_at[recs[-1]["dynamodb"]["SequenceNumber"]]
        parent = TREE[shard]
        return self.closed_at(parent) if parent else 0.0

    def closed(self, shard, now):
        if not self.live_tree:
            return shard not in OPEN
        return shard not in OPEN and self.closed_at(shard) <= now

    def exists(self, shard, now):
        """Live tree: listed once its parent closed, gone R s after it closed."""
        if not self.live_tree:
            return True
        parent = TREE[shard]
        if parent and not self.closed(parent, now):
            return False
        return not (self.closed(shard, now) and self.closed_at(shard) < now - self.args.retention_s)

    def trim_horizon(self, shard, now):
        """--retention-s: index of the first record still kept."""
        if self.args.retention_s <= 0 or not self.visible_at:
            return self.trim[shard]
        recs = self.records[shard]
        n = 0
        while n < len(recs) and self.visible_at[recs[n]["dynamodb"]["SequenceNumber"]] < now - self.args.retention_s:
            n += 1
        if n > self.trim[shard]:
            self.trim[shard] = n
        return self.trim[shard]

    def table_at(self, now):
        """Items as the stream has written them by now, plus the static ones."""
        items = dict(self.scan_items)
        for shard in TREE:
            for r in self.records[shard][:self.readable_end(shard, now)]:
                d = r["dynamodb"]
                key = d["Keys"]["pk"]["S"]
                if r["eventName"] == "REMOVE":
                    items.pop(key, None)
                else:
                    items[key] = d["NewImage"]
        return items

    def required(self):
        out = []
        for shard in TREE:
            out += [r["dynamodb"]["SequenceNumber"] for r in self.records[shard][self.latest_pos.get(shard, 0):]]
        return out

    def scan(self, req):
        if req.get("TableName") != self.table:
            return err(400, "ResourceNotFoundException", "Requested resource not found")
        total = int(req.get("TotalSegments", 1))
        seg = int(req.get("Segment", 0))
        limit = int(req.get("Limit", 1000))
        items = self.table_at(time.time())
        # in hash order, as DynamoDB scans: the stream's keys spread over the whole scan
        def order(k):
            return (zlib.crc32(k.encode()) // total, k)
        keys = sorted((k for k in set(items) | set(self.expect) if zlib.crc32(k.encode()) % total == seg), key=order)
        esk = req.get("ExclusiveStartKey")
        if esk:
            keys = [k for k in keys if order(k) > order(esk["pk"]["S"])]
        page, last = [], None
        for k in keys:
            if len(page) >= limit:
                break
            last = k
            if k in items:
                page.append(items[k])
        out = {"Items": page, "Count": len(page), "ScannedCount": len(page)}
        if last is not None and keys and last != keys[-1]:
            out["LastEvaluatedKey"] = {"pk": {"S": last}}
        size = sum(len(json.dumps(i)) for i in page)
        out["ConsumedCapacity"] = {"TableName": self.table, "CapacityUnits": float(max(1, -(-size // 4096)))}
        self.calls["scan_items_served"] = self.calls.get("scan_items_served", 0) + len(page)
        self.calls.setdefault("scan_first_s", time.time())
        self.calls["scan_last_s"] = time.time()
        return ok(out)

    def record(self, key, op, version, seq, prev_image):
        keys = {"pk": {"S": key}}
        new = {"pk": {"S": key}, "v": {"N": str(version)}, "pad": {"S": "x" * (version % 7)}}
        d = {"ApproximateCreationDateTime": 1700000000 + version, "Keys": keys,
             "SequenceNumber": str(seq), "SizeBytes": 40, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        old = prev_image.get(key)
        if op in ("INSERT", "MODIFY"):
            d["NewImage"] = new
        if op in ("MODIFY", "REMOVE") and old:
            d["OldImage"] = old
        prev_image[key] = new if op != "REMOVE" else None
        return {"eventID": "%x" % seq, "eventName": op, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1", "dynamodb": d}

    # ------------------------------------------------------------ listing
    def visible(self, shard, child_query):
        if not self.exists(shard, time.time()):
            return False
        if self.args.trim_read_shards and self.trim_armed and shard not in OPEN and shard in self.finished_read:
            return False  # trimmed (as DynamoDB does 24 h after a shard closed)
        if self.args.hide_children and shard in (D, E) and B not in self.finished_read and not child_query:
            return False
        return True

    def shard_desc(self, s):
        rng = {"StartingSequenceNumber": self.start_seq[s]}
        if s in self.end_seq and self.closed(s, time.time()):
            rng["EndingSequenceNumber"] = self.end_seq[s]
        d = {"ShardId": s, "SequenceNumberRange": rng}
        if TREE[s]:
            d["ParentShardId"] = TREE[s]
        return d

    def describe_stream(self, req):
        if req.get("StreamArn") != self.arn:
            return err(400, "ResourceNotFoundException", "Requested resource not found: Stream: %s not found"
                       % req.get("StreamArn"))
        flt = req.get("ShardFilter")
        shards = sorted(TREE)
        if flt:
            if flt.get("Type") != "CHILD_SHARDS" or flt.get("ShardId") not in TREE:
                return err(400, "ValidationException", "bad ShardFilter")
            parent = flt["ShardId"]
            shards = [s for s in shards if TREE[s] == parent and self.visible(s, True)]
            if self.args.hide_children and parent == B and B not in self.finished_read:
                shards = []
        else:
            shards = [s for s in shards if self.visible(s, False)]
            start = req.get("ExclusiveStartShardId")
            if start is None:
                self.listing_count += 1
            if not self.inconsistent_done and start is None:
                # The first listing misses B's children although B is closed.
                self.inconsistent_done = True
                self.calls["inconsistent_listings_served"] = 1
                shards = [s for s in shards if s not in (D, E)]
        start = req.get("ExclusiveStartShardId")
        if start:
            shards = [s for s in shards if s > start]
        limit = min(int(req.get("Limit", 100)), self.args.page_size)
        page = shards[:limit]
        out = {"StreamArn": self.arn, "StreamLabel": self.args.stream_label, "StreamStatus": "ENABLED",
               "StreamViewType": "NEW_AND_OLD_IMAGES", "TableName": self.table,
               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
               "Shards": [self.shard_desc(s) for s in page]}
        if len(shards) > limit:
            out["LastEvaluatedShardId"] = page[-1]
        return ok({"StreamDescription": out})

    # ------------------------------------------------------------ iterators
    def index_of(self, shard, seq, after):
        recs = self.records[shard]
        for i, r in enumerate(recs):
            c = int(r["dynamodb"]["SequenceNumber"])
            if (after and c > int(seq)) or (not after and c >= int(seq)):
                return i
        return len(recs)

    def get_shard_iterator(self, req):
        shard = req.get("ShardId")
        if req.get("StreamArn") != self.arn or shard not in TREE:
            return err(400, "ResourceNotFoundException", "Requested resource not found: Shard does not exist")
        if self.args.trim_read_shards and self.trim_armed and shard not in OPEN and shard in self.finished_read:
            return err(400, "ResourceNotFoundException", "Requested resource not found: Shard does not exist")
        now = time.time()
        if self.live_waiting:
            self.live_waiting = False
            self.start_live(now + self.args.live_start_s)
        if not self.exists(shard, now):
            return err(400, "ResourceNotFoundException", "Requested resource not found: Shard does not exist")
        self.trim_horizon(shard, now)
        parent = TREE[shard]
        if parent and parent not in self.finished_read:
            self.violations.append("iterator for %s before its parent %s was read to its end" % (shard, parent))
        typ = req.get("ShardIteratorType")
        self.iter_log.append([shard, typ, req.get("SequenceNumber")])
        if typ == "TRIM_HORIZON":
            pos = self.trim[shard]
        elif typ == "LATEST":
            pos = self.readable_end(shard, now)
            self.latest_pos.setdefault(shard, pos)
        elif typ in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            seq = req.get("SequenceNumber", "")
            if not seq.isdigit():
                return err(400, "ValidationException", "SequenceNumber invalid")
            pos = self.index_of(shard, seq, typ == "AFTER_SEQUENCE_NUMBER")
            if self.visible_at and seq in self.visible_at and self.args.retention_s > 0:
                # how long before the trim a reader resumed at seq (stats: calls.resume_margin_ms_min)
                m = int((self.visible_at[seq] + self.args.retention_s - now) * 1000)
                self.calls["resume_margin_ms_min"] = min(self.calls.get("resume_margin_ms_min", 10**9), m)
            if pos < self.trim[shard]:
                return err(400, "TrimmedDataAccessException", "data trimmed before sequence %s" % seq)
        else:
            return err(400, "ValidationException", "ShardIteratorType invalid")
        self.calls["iterators_" + typ] = self.calls.get("iterators_" + typ, 0) + 1
        return ok({"ShardIterator": "it|%s|%d|%d" % (shard, pos, int(time.time()))})

    def get_records(self, req):
        it = req.get("ShardIterator", "")
        parts = it.split("|")
        if len(parts) != 4 or parts[1] not in TREE:
            return err(400, "ValidationException", "Invalid ShardIterator")
        shard, pos = parts[1], int(parts[2])
        recs = self.records[shard]
        now = time.time()
        if not self.exists(shard, now):
            return err(400, "ResourceNotFoundException", "Requested resource not found: Shard does not exist")
        self.trim_horizon(shard, now)
        if not self.expired_done and shard == C and pos > 0:
            self.expired_done = True
            self.calls["expired_served"] = 1
            return err(400, "ExpiredIteratorException", "Iterator expired")
        if not self.trim_done and shard == C and pos > 0:
            # Retention deleted records the reader had not reached.
            self.trim_done = True
            lost = min(len(recs), pos + self.args.trim)
            self.trimmed = [r["dynamodb"]["SequenceNumber"] for r in recs[pos:lost]]
            self.trim[shard] = lost
        if pos < self.trim[shard]:
            return err(400, "TrimmedDataAccessException", "records were trimmed")
        limit = min(int(req.get("Limit", 1000)), self.args.records_per_page)
        mid = len(recs) // 2
        if self.args.empty_pages and len(recs) >= 4 and shard not in self.empty_done:
            if pos == mid:
                self.empty_done.add(shard)
                self.calls["empty_pages_served"] = self.calls.get("empty_pages_served", 0) + 1
                if shard in OPEN:
                    self.calls["empty_pages_served_open"] = self.calls.get("empty_pages_served_open", 0) + 1
                return ok({"Records": [], "NextShardIterator": "it|%s|%d|%d" % (shard, pos, int(time.time()))})
            if pos < mid < pos + limit:
                limit = mid - pos  # stop at the middle, so the empty page comes next
        end = len(recs)
        if self.visible_at:  # live: only what was "written" by now
            now = time.time()
            end = pos
            while end < len(recs) and self.visible_at[recs[end]["dynamodb"]["SequenceNumber"]] <= now:
                end += 1
        page = recs[pos:min(pos + limit, end)]
        out = {"Records": page}
        npos = pos + len(page)
        if not self.closed(shard, now) or npos < len(recs):
            out["NextShardIterator"] = "it|%s|%d|%d" % (shard, npos, int(time.time()))
        else:
            self.finished_read.add(shard)
        return ok(out)


def ok(obj):
    return 200, obj


def err(status, code, msg):
    return status, {"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": msg}


def make_handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amz-crc32", str(zlib.crc32(body) & 0xffffffff))
            self.send_header("x-amzn-RequestId", "double")
            try:
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the reader was killed (a test's SIGKILL)

        def do_GET(self):
            if self.path == "/__trim_read_shards":
                with state.lock:
                    state.trim_armed = True
                return self.send(200, {"armed": True})
            with state.lock:
                st = {"calls": state.calls, "violations": state.violations,
                      "listings": state.listing_count, "trimmed": state.trimmed, "iterators": state.iter_log}
                if state.live_tree:
                    st["table"] = state.table_at(float("inf"))
                    st["required"] = state.required()
                self.send(200, st)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            target = self.headers.get("X-Amz-Target", "")
            if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                return self.send(400, {"__type": "#MissingAuthenticationTokenException", "message": "no auth"})
            try:
                req = json.loads(raw or b"{}")
            except ValueError:
                return self.send(400, {"__type": "#SerializationException", "message": "bad json"})
            op = target.split(".")[-1]
            with state.lock:
                state.calls[op] = state.calls.get(op, 0) + 1
                state.fault_counter += 1
                if state.args.faults and op == "GetRecords" and state.fault_counter % 17 == 0:
                    if state.fault_counter % 2:
                        status, obj = err(500, "InternalServerError", "injected")
                    else:
                        status, obj = err(400, "LimitExceededException", "injected throttle")
                    state.calls["faults_injected"] = state.calls.get("faults_injected", 0) + 1
                elif target == "DynamoDB_20120810.DescribeTable":
                    if req.get("TableName") != state.table:
                        status, obj = err(400, "ResourceNotFoundException", "Requested resource not found")
                    else:
                        status, obj = ok({"Table": {
                            "TableName": state.table, "TableStatus": "ACTIVE", "ItemCount": 0,
                            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                            "LatestStreamArn": state.arn, "LatestStreamLabel": "2024-01-01T00:00:00.000"}})
                elif target == "DynamoDB_20120810.Scan":
                    status, obj = state.scan(req)
                elif target == "DynamoDBStreams_20120810.DescribeStream":
                    status, obj = state.describe_stream(req)
                elif target == "DynamoDBStreams_20120810.GetShardIterator":
                    status, obj = state.get_shard_iterator(req)
                elif target == "DynamoDBStreams_20120810.GetRecords":
                    status, obj = state.get_records(req)
                elif target == "DynamoDBStreams_20120810.ListStreams":
                    status, obj = ok({"Streams": [{"StreamArn": state.arn, "TableName": state.table,
                                                   "StreamLabel": "2024-01-01T00:00:00.000"}]})
                else:
                    status, obj = err(400, "UnknownOperationException", "unknown target " + target)
            if state.args.delay_ms and op == "GetRecords":
                time.sleep(state.args.delay_ms / 1000.0)
            if state.args.scan_delay_ms and op == "Scan":
                time.sleep(state.args.scan_delay_ms / 1000.0)  # read above, answered now
            self.send(status, obj)

    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port-file", required=True, help="write the chosen port here")
    ap.add_argument("--expect", help="write expected events here")
    ap.add_argument("--table", default="orders")
    ap.add_argument("--keys", type=int, default=40)
    ap.add_argument("--changes", type=int, default=12, help="changes per key")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--page-size", type=int, default=2, help="shards per DescribeStream page")
    ap.add_argument("--records-per-page", type=int, default=7, help="records per GetRecords answer")
    ap.add_argument("--trim", type=int, default=0, help="trim this many records of shard C past the reader once")
    ap.add_argument("--no-inconsistent", dest="inconsistent", action="store_false")
    ap.add_argument("--no-expire", dest="expire", action="store_false")
    ap.add_argument("--no-hide-children", dest="hide_children", action="store_false")
    ap.add_argument("--no-faults", dest="faults", action="store_false")
    ap.add_argument("--empty-pages", action="store_true", help="one empty page in the middle of each shard")
    ap.add_argument("--stream-label", default="2024-01-01T00:00:00.000", help="the stream ARN's label")
    ap.add_argument("--trim-read-shards", action="store_true",
                    help="once armed by GET /__trim_read_shards: closed shards read to their end leave listings "
                         "(trimmed), their iterators are refused (a test arms it when the readers have "
                         "checkpointed those shards, as DynamoDB trims a shard 24 h after it closed)")
    ap.add_argument("--live-rate", type=float, default=0,
                    help="records become readable at this many a second, in sequence order (0: all at once)")
    ap.add_argument("--live-start-s", type=float, default=5, help="with --live-rate: when the first one does")
    ap.add_argument("--live-from-first-iterator", action="store_true",
                    help="with --live-rate: --live-start-s counts from the first GetShardIterator, not from start")
    ap.add_argument("--delay-ms", type=int, default=0, help="sleep before each GetRecords answer")
    ap.add_argument("--retention-s", type=float, default=0,
                    help="with --live-rate: records are trimmed this long after they became readable, and the "
                         "shard tree grows as it is written (0: nothing is trimmed but --trim)")
    ap.add_argument("--scan-items", type=int, default=0, help="static table items besides the stream's keys")
    ap.add_argument("--item-pad", type=int, default=100, help="bytes of padding in each static item")
    ap.add_argument("--scan-delay-ms", type=int, default=0, help="answer a Scan this long after reading it")
    args = ap.parse_args()
    state = State(args)
    if args.expect:
        with open(args.expect, "w") as f:
            json.dump({"events": state.expect, "visible_at": state.visible_at,
                       "shards": {sh: [r["dynamodb"]["SequenceNumber"] for r in recs]
                                  for sh, recs in state.records.items()}}, f)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    srv.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
