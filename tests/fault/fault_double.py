#!/usr/bin/python3
"""fault_double.py: a tiny in-memory DynamoDB (JSON protocol, HTTP/1.1 keep-alive)
that injects faults, for ddbpipe's fault tests and benchmarks.

It prints "PORT <n>" as its first stdout line once it listens (loopback only).

Emulated operations (tables defined with --table or CreateTable):
  CreateTable, DescribeTable, ListTables, BatchWriteItem, TransactWriteItems,
  BatchGetItem, Scan (Limit, ExclusiveStartKey, Segment/TotalSegments),
  PutItem, DeleteItem, GetItem. Items keep their typed JSON as sent. DynamoDB's
  request checks that matter to a writer are enforced: at most 25 requests per
  BatchWriteItem and 100 actions per TransactWriteItems, no key twice in one
  call, key attributes present with the table's types. ClientRequestToken
  makes a repeated TransactWriteItems idempotent. ConditionExpression supports
  attribute_exists(x) / attribute_not_exists(x) (with #names); failures give
  TransactionCanceledException with CancellationReasons.

Flags (every fault flag is also a key of the --script JSON file and of
POST /__faults, with '_' for '-'):
  --port N                listen port (default 0 = ephemeral)
  --table NAME:PK:T[:SK:T] define a table (T is S, N or B); repeatable
  --null                  accept and count write items, store nothing, answer at once
  --script FILE           JSON object with the fault settings below
  --seed N                random seed (default 1)
  --throttle P            probability of 400 ProvisionedThroughputExceededException
  --throttle-code CODE    code used for throttles (default ProvisionedThroughputExceededException;
                          ThrottlingException is the other common one)
  --error500 P            probability of 500 InternalServerError
  --error503 P            probability of 503 ServiceUnavailable
  --reset P               probability of closing the connection without an answer (RST)
  --stall P               probability of sleeping --stall-ms before answering
  --stall-ms N            (default 2000)
  --bad-crc P             probability of a wrong x-amz-crc32 header (the operation IS applied,
                          as when a response is corrupted on the way)
  --unprocessed P         probability that a BatchWriteItem leaves a random subset of its
                          requests unprocessed (not applied, returned in UnprocessedItems), and
                          that a BatchGetItem leaves a random subset of its keys unread
                          (returned in UnprocessedKeys)
  --unprocessed-fraction F  share of the requests left unprocessed then (default 0.5, at least 1)
  --delay-max-ms N        random delay 0..N ms before every answer (order tests)
  --apply-late 0|1        apply a write when its answer is sent (after the delay or stall)
                          instead of when it arrives: two writes of one key in flight at once
                          then land in answer order, so a reordering shows in the final table
  --list-tables-page N    at most N names per ListTables page, whatever the Limit (default 100)
  --sequence K,K,...      faults for the first requests, in arrival order (kinds: ok, throttle,
                          error500, error503, reset, stall, bad_crc, unprocessed, validation,
                          expired_token, auth, hang); applied before the probabilities. hang
                          holds the request unapplied and unanswered until POST /__release
                          (then resets the connection): a write that never reaches the table
  --fault-ops OP,OP       only these operations get faults (default: all)
  --max-faults N          stop injecting after N faults (default unlimited)
  --require-akid AKID     reject requests not signed with this access key id
                          (UnrecognizedClientException)
  --watch-stdin           exit when stdin reaches EOF (so a dying parent never leaves us behind)
  --grant-wcu N           grant N write capacity units a second to BatchWriteItem (0: unlimited), as a
                          provisioned table does: a token bucket (full at start) holding --grant-burst-s
                          seconds of units; a put costs ceil(item size / 1 KB), a delete the deleted
                          item's size (at least 1). Requests run in order while units last; the rest
                          come back in UnprocessedItems, or, when nothing could be written, the call
                          fails with 400 ProvisionedThroughputExceededException. ConsumedCapacity is
                          reported when ReturnConsumedCapacity is TOTAL or INDEXES.
  --grant-burst-s S       (default 1.0)
  --provisioned-wcu N, --provisioned-rcu N
                          DescribeTable reports a PROVISIONED table with these ProvisionedThroughput
                          units (default: PAY_PER_REQUEST, 0 provisioned units)
  --on-demand-max-wcu N, --on-demand-max-rcu N
                          an on-demand table's OnDemandThroughput.MaxWrite/ReadRequestUnits (the
                          other one -1: no maximum)
  --scan-page-bytes N     a Scan page ends once its items reach N bytes (DynamoDB: 1 MB, the default).
                          Scan reports ConsumedCapacity when asked: ceil(page bytes / 4 KB) read
                          units, halved unless ConsistentRead

Poison: a BatchWriteItem/TransactWriteItems/PutItem whose item has an attribute named
`poison` is rejected whole with 400 ValidationException, as DynamoDB rejects a batch
holding one invalid item.

Test endpoints:
  POST /__capacity  {"wcu", "rcu", "max_wcu", "max_rcu"}: change what DescribeTable reports (as
                  --provisioned-wcu ... do)
  GET  /__stats   JSON: requests, connections, ops{op: n}, items_written, items_deleted,
                  null_items, faults{kind: n}, unprocessed_returned, poison_rejections,
                  wcu_consumed, capacity_throttled_calls (ProvisionedThroughputExceeded
                  answers of --grant-wcu), capacity_partial_calls (calls with UnprocessedItems
                  from --grant-wcu), write_calls, first_write_t / last_write_t (monotonic
                  seconds of the first and last write applied), write_timeline (with --grant-wcu:
                  [write calls, throttled calls, units accepted] per second from the first
                  write call), write_timeline_start (the same per 0.1 s for the first 5 s), scan_calls, rcu_consumed,
                  first_scan_t / last_scan_t / last_scan_units (Scan answers),
                  max_in_flight, key_overlaps (a write to a key arrived while another
                  request writing that key was not yet answered; a request's keys are released
                  just before its answer or reset goes out, so a client that waits for the
                  answer never counts: must stay 0 for ddbpipe's sink unless the client gave up
                  on a stalled request), unprocessed_keys_returned, hung
  GET  /__dump    JSON: {table: [items sorted by key]}
  GET  /__acked   JSON: {"acked": [[table, [key values as strings]], ...]}: every write item
                  the double applied and answered with 200, in answer order (the endpoint's log
                  of acknowledged writes)
  POST /__release answer every hung request (with a connection reset)
  POST /__faults  JSON: replace fault settings (keys as above, plus require_akid); resets the
                  sequence and the random generator
  POST /__reset   clear stats (tables stay)
"""

import argparse
import base64
import decimal
import hashlib
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KEYS = {
    "seed": int, "throttle": float, "throttle_code": str, "error500": float, "error503": float,
    "reset": float, "stall": float, "stall_ms": int, "bad_crc": float, "unprocessed": float,
    "unprocessed_fraction": float, "delay_max_ms": int, "sequence": list, "fault_ops": list,
    "max_faults": int, "apply_late": int, "list_tables_page": int, "grant_wcu": float, "grant_burst_s": float,
    "scan_page_bytes": int,
}
DEFAULT_FAULTS = {
    "seed": 1, "throttle": 0.0, "throttle_code": "ProvisionedThroughputExceededException",
    "error500": 0.0, "error503": 0.0, "reset": 0.0, "stall": 0.0, "stall_ms": 2000, "bad_crc": 0.0,
    "unprocessed": 0.0, "unprocessed_fraction": 0.5, "delay_max_ms": 0, "sequence": [],
    "fault_ops": [], "max_faults": -1, "apply_late": 0, "list_tables_page": 100, "grant_wcu": 0.0,
    "grant_burst_s": 1.0, "scan_page_bytes": 1048576,
}
PREFIX = "com.amazonaws.dynamodb.v20120810#"


class DdbError(Exception):
    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


def validation(msg):
    return DdbError(400, "ValidationException", msg)


class Table:
    def __init__(self, name, pk, pkt, sk=None, skt=None):
        self.name, self.pk, self.pkt, self.sk, self.skt = name, pk, pkt, sk, skt
        self.items = {}
        self.created = time.time()

    def key_of(self, item, what="item"):
        if not isinstance(item, dict):
            raise validation("The provided key element does not match the schema")
        parts = []
        for name, typ in ((self.pk, self.pkt), (self.sk, self.skt)):
            if name is None:
                continue
            av = item.get(name)
            if not isinstance(av, dict) or list(av.keys()) != [typ]:
                raise validation("One or more parameter values were invalid: Missing the key %s in the %s"
                                 % (name, what) if av is None else
                                 "One or more parameter values were invalid: Type mismatch for key %s "
                                 "expected: %s actual: %s" % (name, typ, ",".join(av.keys()) if
                                                               isinstance(av, dict) else "?"))
            v = av[typ]
            if typ == "S":
                if not isinstance(v, str) or v == "":
                    raise validation("One or more parameter values are not valid. The AttributeValue for a "
                                     "key attribute cannot contain an empty string value. Key: %s" % name)
                parts.append(v)
            elif typ == "N":
                try:
                    parts.append(decimal.Decimal(v))
                except Exception:
                    raise validation("The parameter cannot be converted to a numeric value: %s" % v)
            else:
                try:
                    b = base64.b64decode(v, validate=True)
                except Exception:
                    raise validation("Invalid binary value for key %s" % name)
                if not b:
                    raise validation("One or more parameter values are not valid. The AttributeValue for a "
                                     "key attribute cannot contain an empty binary value. Key: %s" % name)
                parts.append(b)
        return tuple(parts)

    def key_item(self, item):
        k = {self.pk: item[self.pk]}
        if self.sk:
            k[self.sk] = item[self.sk]
        return k

    def describe(self):
        ks = [{"AttributeName": self.pk, "KeyType": "HASH"}]
        ad = [{"AttributeName": self.pk, "AttributeType": self.pkt}]
        if self.sk:
            ks.append({"AttributeName": self.sk, "KeyType": "RANGE"})
            ad.append({"AttributeName": self.sk, "AttributeType": self.skt})
        return {"TableName": self.name, "KeySchema": ks, "AttributeDefinitions": ad, "TableStatus": "ACTIVE",
                "ItemCount": len(self.items), "TableSizeBytes": 0, "CreationDateTime": self.created,
                "TableArn": "arn:aws:dynamodb:us-east-1:000000000000:table/" + self.name,
                **describe_capacity()}


# --provisioned-wcu/--provisioned-rcu and --on-demand-max-wcu/--on-demand-max-rcu (DescribeTable only)
CAPACITY = {"wcu": 0, "rcu": 0, "max_wcu": 0, "max_rcu": 0}


def describe_capacity():
    """The capacity members of DescribeTable's Table, as DynamoDB answers them: a provisioned table has
    ProvisionedThroughput and (when never switched) no BillingModeSummary; an on-demand table reports 0
    provisioned units and, when a maximum is set, OnDemandThroughput (-1: no maximum)."""
    if CAPACITY["wcu"] or CAPACITY["rcu"]:
        return {"ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": CAPACITY["rcu"],
                                          "WriteCapacityUnits": CAPACITY["wcu"]}}
    d = {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
         "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}}
    if CAPACITY["max_wcu"] or CAPACITY["max_rcu"]:
        d["OnDemandThroughput"] = {"MaxReadRequestUnits": CAPACITY["max_rcu"] or -1,
                                   "MaxWriteRequestUnits": CAPACITY["max_wcu"] or -1}
    return d


class State:
    def __init__(self, null_mode, require_akid):
        self.lock = threading.Lock()
        self.tables = {}
        self.null_mode = null_mode
        self.require_akid = require_akid
        self.faults = dict(DEFAULT_FAULTS)
        self.rng = random.Random(1)
        self.seq = []
        self.tokens = {}
        self.inflight_keys = {}
        self.in_flight = 0
        self.acked = []
        self.release = threading.Event()
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"requests": 0, "connections": 0, "ops": {}, "items_written": 0, "items_deleted": 0,
                      "null_items": 0, "faults": {}, "faults_total": 0, "unprocessed_returned": 0,
                      "poison_rejections": 0, "max_in_flight": 0, "key_overlaps": 0,
                      "unprocessed_keys_returned": 0, "hung": 0, "wcu_consumed": 0.0,
                      "capacity_throttled_calls": 0, "capacity_partial_calls": 0, "write_calls": 0,
                      "first_write_t": None, "last_write_t": None, "scan_calls": 0, "rcu_consumed": 0.0,
                      "first_scan_t": None, "last_scan_t": None, "last_scan_units": 0.0,
                      "write_timeline": [], "write_timeline_start": []}
        self.cap_tokens = None  # --grant-wcu bucket: full at the first write
        self.cap_last = 0.0
        self.timeline_t0 = None

    def set_faults(self, cfg):
        f = dict(DEFAULT_FAULTS)
        cfg = dict(cfg)
        if "require_akid" in cfg:
            self.require_akid = cfg.pop("require_akid") or None
        for k, v in cfg.items():
            if k not in FAULT_KEYS:
                raise ValueError("unknown fault setting %r (known: %s)" % (k, ", ".join(sorted(FAULT_KEYS))))
            f[k] = v if FAULT_KEYS[k] is list else FAULT_KEYS[k](v)
        self.faults = f
        self.rng = random.Random(f["seed"])
        self.seq = list(f["sequence"])

    def count_fault(self, kind):
        self.stats["faults"][kind] = self.stats["faults"].get(kind, 0) + 1
        self.stats["faults_total"] += 1

    def pick_fault(self, op):
        """Returns (kind or None, stall_ms, delay_ms). Called under the lock."""
        f = self.faults
        delay = self.rng.randint(0, f["delay_max_ms"]) if f["delay_max_ms"] > 0 else 0
        if f["fault_ops"] and op not in f["fault_ops"]:
            return None, 0, delay
        if f["max_faults"] >= 0 and self.stats["faults_total"] >= f["max_faults"]:
            return None, 0, delay
        kind = None
        if self.seq:
            kind = self.seq.pop(0)
            if kind == "ok":
                kind = None
        else:
            for k in ("reset", "stall", "throttle", "error500", "error503", "bad_crc", "unprocessed"):
                p = f[k]
                if p > 0 and self.rng.random() < p:
                    if k == "unprocessed" and op not in ("BatchWriteItem", "BatchGetItem"):
                        continue
                    kind = k
                    break
        if kind == "unprocessed" and op not in ("BatchWriteItem", "BatchGetItem"):
            kind = None
        if kind:
            self.count_fault(kind)
        return kind, f["stall_ms"] if kind == "stall" else 0, delay


def value_size(v):
    """DynamoDB's size of one typed value (close enough for capacity rounding)."""
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "N":
        digits = len(x.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if t == "B":
        return len(base64.b64decode(x))
    if t in ("BOOL", "NULL"):
        return 1
    if t in ("SS", "NS", "BS"):
        return sum(value_size({t[0]: e}) for e in x)
    if t == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if t == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in x.items())
    return 0


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in (item or {}).items())


def is_poison(item):
    return isinstance(item, dict) and "poison" in item


COND_RE = re.compile(r"^\s*(attribute_exists|attribute_not_exists)\s*\(\s*([#A-Za-z0-9_.]+)\s*\)\s*$")


def check_condition(expr, names, current):
    if not expr:
        return True
    m = COND_RE.match(expr)
    if not m:
        raise validation("fault double supports only attribute_exists/attribute_not_exists conditions: %s" % expr)
    name = m.group(2)
    if name.startswith("#"):
        if not names or name not in names:
            raise validation("Value provided in ExpressionAttributeNames unused or missing: %s" % name)
        name = names[name]
    exists = current is not None and name in current
    return exists if m.group(1) == "attribute_exists" else not exists


class Emulator:
    def __init__(self, state):
        self.s = state

    def table(self, name):
        t = self.s.tables.get(name)
        if t is None:
            raise DdbError(400, "ResourceNotFoundException", "Requested resource not found: Table: %s not found"
                           % name)
        return t

    def CreateTable(self, req):
        name = req.get("TableName")
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]{3,255}$", name):
            raise validation("TableName must be 3..255 characters of [A-Za-z0-9_.-]")
        if name in self.s.tables:
            raise DdbError(400, "ResourceInUseException", "Table already exists: " + name)
        types = {d["AttributeName"]: d["AttributeType"] for d in req.get("AttributeDefinitions", [])}
        pk = sk = None
        for k in req.get("KeySchema", []):
            if k.get("KeyType") == "HASH":
                pk = k.get("AttributeName")
            elif k.get("KeyType") == "RANGE":
                sk = k.get("AttributeName")
        if not pk or pk not in types or (sk and sk not in types):
            raise validation("KeySchema and AttributeDefinitions do not match")
        t = Table(name, pk, types[pk], sk, types.get(sk))
        self.s.tables[name] = t
        d = t.describe()
        return {"TableDescription": d}

    def DescribeTable(self, req):
        return {"Table": self.table(req.get("TableName")).describe()}

    def ListTables(self, req):
        names = sorted(self.s.tables)
        start = req.get("ExclusiveStartTableName")
        if start:
            names = [n for n in names if n > start]
        limit = min(int(req.get("Limit", 100)), self.s.faults["list_tables_page"])
        out = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    def _apply_put(self, t, item):
        t.items[t.key_of(item)] = item
        self.s.stats["items_written"] += 1

    def _apply_delete(self, t, key):
        t.items.pop(t.key_of(key, "key"), None)
        self.s.stats["items_deleted"] += 1

    def batch_write_plan(self, req):
        """Validates a BatchWriteItem; returns [(table, kind, item_or_key, original_request)]."""
        ri = req.get("RequestItems")
        if not isinstance(ri, dict) or not ri:
            raise validation("1 validation error detected: Value null at 'requestItems' failed to satisfy "
                             "constraint: Member must not be null")
        plan = []
        total = 0
        for tname, reqs in ri.items():
            t = None if self.s.null_mode else self.table(tname)
            seen = set()
            for r in reqs:
                total += 1
                if "PutRequest" in r:
                    item = r["PutRequest"].get("Item")
                    kind, obj = "put", item
                elif "DeleteRequest" in r:
                    kind, obj = "delete", r["DeleteRequest"].get("Key")
                else:
                    raise validation("WriteRequest must hold PutRequest or DeleteRequest")
                if is_poison(obj):
                    self.s.stats["poison_rejections"] += 1
                    raise validation("One or more parameter values were invalid: poison attribute present")
                if t is not None:
                    k = t.key_of(obj, "item" if kind == "put" else "key")
                    if k in seen:
                        raise validation("Provided list of item keys contains duplicates")
                    seen.add(k)
                plan.append((tname, t, kind, obj, r))
        if total > 25:
            raise validation("1 validation error detected: Value at 'requestItems' failed to satisfy "
                             "constraint: Map value must satisfy constraint: [Member must have length less "
                             "than or equal to 25, Member must have length greater than or equal to 1]")
        return plan

    def capacity_left(self):
        """--grant-wcu: refills the bucket; returns the units available (None: unlimited)."""
        st = self.s
        grant = st.faults["grant_wcu"]
        if grant <= 0:
            return None
        now = time.monotonic()
        cap = grant * max(st.faults["grant_burst_s"], 0.001)
        if st.cap_tokens is None:
            st.cap_tokens = cap
        else:
            st.cap_tokens = min(cap, st.cap_tokens + (now - st.cap_last) * grant)
        st.cap_last = now
        return st.cap_tokens

    def timeline(self, throttled, units):
        """--grant-wcu: [write calls, throttled calls, units accepted] per second (write_timeline) and per
        0.1 s for the first 5 s (write_timeline_start) from the first write call."""
        st = self.s.stats
        if self.s.faults["grant_wcu"] <= 0:
            return
        now = time.monotonic()
        if self.s.timeline_t0 is None:
            self.s.timeline_t0 = now
        t = now - self.s.timeline_t0
        for tl, i, n in ((st["write_timeline"], int(t), 3600), (st["write_timeline_start"], int(t * 10), 50)):
            while len(tl) <= i and len(tl) < n:
                tl.append([0, 0, 0])
            if i < len(tl):
                tl[i][0] += 1
                tl[i][1] += throttled
                tl[i][2] += units

    def write_cost(self, t, kind, obj):
        if kind == "put":
            size = item_size(obj)
        else:
            old = t.items.get(t.key_of(obj, "key")) if t is not None else None
            size = item_size(old)
        return max(1, -(-size // 1024))

    def BatchWriteItem(self, req, unprocessed_fraction=None):
        plan = self.batch_write_plan(req)
        st = self.s.stats
        st["write_calls"] += 1
        tokens = self.capacity_left()
        left = set()
        if unprocessed_fraction is not None and plan:
            n = max(1, int(round(len(plan) * unprocessed_fraction)))
            left = set(self.s.rng.sample(range(len(plan)), min(n, len(plan))))
        unprocessed = {}
        consumed = {}
        short = False
        for i, (tname, t, kind, obj, r) in enumerate(plan):
            if i in left:
                unprocessed.setdefault(tname, []).append(r)
                self.s.stats["unprocessed_returned"] += 1
                continue
            cost = self.write_cost(t, kind, obj)
            if tokens is not None and (short or tokens < cost):
                short = True  # in order: the rest of the batch waits as well
                unprocessed.setdefault(tname, []).append(r)
                self.s.stats["unprocessed_returned"] += 1
                continue
            if tokens is not None:
                tokens -= cost
            consumed[tname] = consumed.get(tname, 0) + cost
            if self.s.null_mode:
                st["null_items"] += 1
            elif kind == "put":
                self._apply_put(t, obj)
            else:
                self._apply_delete(t, obj)
        if tokens is not None:
            self.s.cap_tokens = tokens
        if short and not consumed:
            self.timeline(1, 0)
            st["unprocessed_returned"] -= sum(len(v) for v in unprocessed.values())
            st["capacity_throttled_calls"] += 1
            raise DdbError(400, "ProvisionedThroughputExceededException",
                           "The level of configured provisioned throughput for the table was exceeded. "
                           "Consider increasing your provisioning level with the UpdateTable API.")
        if short:
            st["capacity_partial_calls"] += 1
        total = sum(consumed.values())
        self.timeline(1 if short else 0, total)
        if total:
            now = time.monotonic()
            st["wcu_consumed"] += total
            if st["first_write_t"] is None:
                st["first_write_t"] = now
            st["last_write_t"] = now
        resp = {"UnprocessedItems": unprocessed}
        if req.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
            resp["ConsumedCapacity"] = [{"TableName": n, "CapacityUnits": float(u)} for n, u in consumed.items()]
        return resp

    def TransactWriteItems(self, req):
        items = req.get("TransactItems")
        if not isinstance(items, list) or not items or len(items) > 100:
            raise validation("TransactItems must hold 1..100 actions")
        if self.s.null_mode:
            self.s.stats["null_items"] += len(items)
            return {}
        token = req.get("ClientRequestToken")
        digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
        if token:
            prev = self.s.tokens.get(token)
            if prev is not None:
                if prev != digest:
                    raise DdbError(400, "IdempotentParameterMismatchException",
                                   "The request uses the same client token as a previous, but non-identical "
                                   "request.")
                return {}
        actions = []
        seen = set()
        for a in items:
            if not isinstance(a, dict) or len(a) != 1:
                raise validation("each TransactItem holds exactly one of Put, Delete, ConditionCheck, Update")
            kind, body = next(iter(a.items()))
            if kind not in ("Put", "Delete", "ConditionCheck"):
                raise validation("fault double supports Put, Delete and ConditionCheck, not " + kind)
            t = self.table(body.get("TableName"))
            obj = body.get("Item") if kind == "Put" else body.get("Key")
            if is_poison(obj):
                self.s.stats["poison_rejections"] += 1
                raise validation("One or more parameter values were invalid: poison attribute present")
            k = t.key_of(obj, "item" if kind == "Put" else "key")
            if (t.name, k) in seen:
                raise validation("Transaction request cannot include multiple operations on one item")
            seen.add((t.name, k))
            actions.append((kind, t, k, obj, body))
        reasons = []
        failed = False
        for kind, t, k, obj, body in actions:
            ok = check_condition(body.get("ConditionExpression"), body.get("ExpressionAttributeNames"),
                                 t.items.get(k))
            if ok:
                reasons.append({"Code": "None"})
            else:
                failed = True
                reasons.append({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"})
        if failed:
            raise DdbError(400, "TransactionCanceledException",
                           "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]"
                           % ", ".join(r["Code"] for r in reasons), {"CancellationReasons": reasons})
        for kind, t, k, obj, body in actions:
            if kind == "Put":
                self._apply_put(t, obj)
            elif kind == "Delete":
                self._apply_delete(t, obj)
        if token:
            self.s.tokens[token] = digest
        return {}

    def PutItem(self, req):
        t = self.table(req.get("TableName"))
        item = req.get("Item")
        if is_poison(item):
            self.s.stats["poison_rejections"] += 1
            raise validation("One or more parameter values were invalid: poison attribute present")
        k = t.key_of(item)
        if not check_condition(req.get("ConditionExpression"), req.get("ExpressionAttributeNames"),
                               t.items.get(k)):
            raise DdbError(400, "ConditionalCheckFailedException", "The conditional request failed")
        self._apply_put(t, item)
        return {}

    def DeleteItem(self, req):
        t = self.table(req.get("TableName"))
        k = t.key_of(req.get("Key"), "key")
        if not check_condition(req.get("ConditionExpression"), req.get("ExpressionAttributeNames"),
                               t.items.get(k)):
            raise DdbError(400, "ConditionalCheckFailedException", "The conditional request failed")
        self._apply_delete(t, req.get("Key"))
        return {}

    def GetItem(self, req):
        t = self.table(req.get("TableName"))
        item = t.items.get(t.key_of(req.get("Key"), "key"))
        return {"Item": item} if item is not None else {}

    def BatchGetItem(self, req, unprocessed_fraction=None):
        ri = req.get("RequestItems") or {}
        out = {}
        plan = []
        for tname, spec in ri.items():
            t = self.table(tname)
            out[tname] = []
            seen = set()
            for key in spec.get("Keys", []):
                k = t.key_of(key, "key")
                if k in seen:
                    raise validation("Provided list of item keys contains duplicates")
                seen.add(k)
                plan.append((tname, t, k, key))
        if len(plan) > 100:
            raise validation("Too many items requested for the BatchGetItem call")
        left = set()
        if unprocessed_fraction is not None and plan:
            n = max(1, int(round(len(plan) * unprocessed_fraction)))
            left = set(self.s.rng.sample(range(len(plan)), min(n, len(plan))))
        unprocessed = {}
        for i, (tname, t, k, key) in enumerate(plan):
            if i in left:
                # unread, whether the item exists or not: the client must ask again
                spec = unprocessed.setdefault(tname, {"Keys": []})
                spec["Keys"].append(key)
                self.s.stats["unprocessed_keys_returned"] += 1
            elif k in t.items:
                out[tname].append(t.items[k])
        return {"Responses": out, "UnprocessedKeys": unprocessed}

    def Scan(self, req):
        t = self.table(req.get("TableName"))
        keys = sorted(t.items)
        seg, total = req.get("Segment"), req.get("TotalSegments")
        if total:
            keys = [k for k in keys if zlib.crc32(repr(k).encode()) % int(total) == int(seg or 0)]
        start = req.get("ExclusiveStartKey")
        if start:
            sk = t.key_of(start, "key")
            keys = [k for k in keys if k > sk]
        limit = int(req.get("Limit", 0)) or len(keys)
        page, size = [], 0
        for k in keys[:limit]:
            if page and size >= self.s.faults["scan_page_bytes"]:
                break
            page.append(k)
            size += item_size(t.items[k])
        out = {"Items": [t.items[k] for k in page], "Count": len(page), "ScannedCount": len(page)}
        if len(keys) > len(page) and page:
            out["LastEvaluatedKey"] = t.key_item(t.items[page[-1]])
        units = float(max(1, -(-size // 4096)))
        if not req.get("ConsistentRead"):
            units /= 2
        st, now = self.s.stats, time.monotonic()
        st["scan_calls"] += 1
        st["rcu_consumed"] += units
        if st["first_scan_t"] is None:
            st["first_scan_t"] = now
        st["last_scan_t"] = now
        st["last_scan_units"] = units
        if req.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
            out["ConsumedCapacity"] = {"TableName": t.name, "CapacityUnits": units}
        return out


def write_keys(emu, op, req):
    """(table, key) pairs a write request touches, for the overlap check."""
    out = []
    try:
        if op == "BatchWriteItem":
            for tname, reqs in (req.get("RequestItems") or {}).items():
                t = emu.s.tables.get(tname)
                for r in reqs:
                    obj = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                    if t is not None:
                        out.append((tname, t.key_of(obj)))
        elif op == "TransactWriteItems":
            for a in req.get("TransactItems") or []:
                kind, body = next(iter(a.items()))
                t = emu.s.tables.get(body.get("TableName"))
                obj = body.get("Item") if kind == "Put" else body.get("Key")
                if t is not None:
                    out.append((t.name, t.key_of(obj)))
    except Exception:
        return []
    return out


def make_handler(state, emu):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fault-double"

        def log_message(self, fmt, *args):
            pass

        def setup(self):
            super().setup()
            with state.lock:
                state.stats["connections"] += 1

        def send_json(self, status, obj, crc_ok=True, code=None):
            body = json.dumps(obj, separators=(",", ":")).encode()
            crc = zlib.crc32(body) & 0xffffffff
            if not crc_ok:
                crc = (crc + 1) & 0xffffffff
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amz-crc32", str(crc))
            self.send_header("x-amzn-RequestId", uuid.uuid4().hex.upper())
            if code:
                self.send_header("x-amzn-ErrorType", code)
            self.end_headers()
            self.wfile.write(body)

        def send_error_json(self, e, crc_ok=True):
            body = {"__type": PREFIX + e.code, "message": e.message}
            body.update(e.extra)
            self.send_json(e.status, body, crc_ok, e.code)

        def do_GET(self):
            if self.path == "/__stats":
                with state.lock:
                    self.send_json(200, state.stats)
            elif self.path == "/__acked":
                with state.lock:
                    self.send_json(200, {"acked": state.acked})
            elif self.path == "/__dump":
                with state.lock:
                    self.send_json(200, {n: [t.items[k] for k in sorted(t.items)] for n, t in state.tables.items()})
            else:
                self.send_json(404, {"message": "unknown path"})

        def reset_connection(self):
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close_connection = True
            try:
                self.connection.close()
            except OSError:
                pass

        def do_PUT(self):
            self.do_POST()

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            if self.path == "/__faults":
                try:
                    with state.lock:
                        state.set_faults(json.loads(raw or b"{}"))
                    self.send_json(200, {"ok": True})
                except Exception as e:  # report bad settings to the test
                    self.send_json(400, {"message": str(e)})
                return
            if self.path == "/__capacity":  # {"wcu": N, "rcu": N, "max_wcu": N, "max_rcu": N}: what DescribeTable says
                with state.lock:
                    CAPACITY.update({k: int(v) for k, v in json.loads(raw or b"{}").items() if k in CAPACITY})
                self.send_json(200, {"ok": True})
                return
            if self.path == "/__release":
                state.release.set()
                self.send_json(200, {"ok": True})
                return
            if self.path == "/__reset":
                with state.lock:
                    state.reset_stats()
                    state.acked = []
                self.send_json(200, {"ok": True})
                return
            target = self.headers.get("X-Amz-Target") or ""
            op = target.split(".", 1)[1] if "." in target else ""
            try:
                req = json.loads(raw or b"{}", parse_float=str, parse_int=str)
            except ValueError:
                self.send_error_json(DdbError(400, "SerializationException", "Start of structure or map found "
                                              "where not expected"))
                return
            with state.lock:
                state.stats["requests"] += 1
                state.stats["ops"][op] = state.stats["ops"].get(op, 0) + 1
                state.in_flight += 1
                state.stats["max_in_flight"] = max(state.stats["max_in_flight"], state.in_flight)
                kind, stall_ms, delay_ms = state.pick_fault(op)
                keys = write_keys(emu, op, req) if not state.null_mode else []
                for k in keys:
                    if state.inflight_keys.get(k, 0) > 0:
                        state.stats["key_overlaps"] += 1
                    state.inflight_keys[k] = state.inflight_keys.get(k, 0) + 1
            released = []

            def release():
                # before the answer (or reset) goes out: a client that waits for it never
                # sees its next write of a key counted as an overlap
                if released:
                    return
                released.append(1)
                with state.lock:
                    state.in_flight -= 1
                    for k in keys:
                        state.inflight_keys[k] -= 1
                        if not state.inflight_keys[k]:
                            del state.inflight_keys[k]
            self.release_keys = release
            try:
                self.serve_op(op, req, kind, stall_ms, delay_ms)
            finally:
                release()

        def acked_writes(self, op, req, resp):
            """[table, [key values]] of the write items a 200 answer acknowledges."""
            if op not in ("BatchWriteItem", "TransactWriteItems", "PutItem", "DeleteItem") or state.null_mode:
                return []
            if op in ("PutItem", "DeleteItem"):
                t = state.tables.get(req.get("TableName"))
                obj = req.get("Item") if op == "PutItem" else req.get("Key")
                keys = [(t.name, t.key_of(obj))] if t is not None else []
            else:
                keys = write_keys(emu, op, req)
            left = set()
            for tname, reqs in ((resp or {}).get("UnprocessedItems") or {}).items():
                t = state.tables.get(tname)
                for r in reqs:
                    obj = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                    if t is not None:
                        left.add((tname, t.key_of(obj)))
            return [[tn, [str(x) for x in k]] for tn, k in keys if (tn, k) not in left]

        def serve_op(self, op, req, kind, stall_ms, delay_ms):
            if state.require_akid:
                auth = self.headers.get("Authorization") or ""
                m = re.search(r"Credential=([^/]+)/", auth)
                if not m or m.group(1) != state.require_akid:
                    self.send_error_json(DdbError(400, "UnrecognizedClientException",
                                                  "The security token included in the request is invalid."))
                    return
            if kind == "reset":
                self.release_keys()
                self.reset_connection()
                return
            if kind == "hang":
                with state.lock:
                    state.stats["hung"] += 1
                state.release.wait()
                self.release_keys()
                self.reset_connection()
                return
            simple = {
                "throttle": DdbError(400, state.faults["throttle_code"],
                                     "The level of configured provisioned throughput for the table was exceeded."),
                "error500": DdbError(500, "InternalServerError", "Internal server error"),
                "error503": DdbError(503, "ServiceUnavailable", "Service unavailable"),
                "validation": DdbError(400, "ValidationException", "injected validation error"),
                "expired_token": DdbError(400, "ExpiredTokenException", "The security token included in the "
                                          "request is expired"),
                "auth": DdbError(400, "UnrecognizedClientException", "The security token included in the "
                                 "request is invalid."),
            }
            if kind in simple:
                if delay_ms:
                    time.sleep(delay_ms / 1000.0)
                self.release_keys()
                self.send_error_json(simple[kind])
                return
            fn = getattr(emu, op, None) if op and op[0].isupper() else None
            late = state.faults["apply_late"]
            # Applied first, answered later: a client that times out must cope with a write
            # that happened (as on the real service). apply_late: applied as the answer goes out.
            if late:
                self.wait(stall_ms, delay_ms)
            acked = []
            try:
                if fn is None:
                    raise DdbError(400, "UnknownOperationException", "unknown operation " + op)
                with state.lock:
                    if op in ("BatchWriteItem", "BatchGetItem"):
                        resp = fn(req, state.faults["unprocessed_fraction"] if kind == "unprocessed" else None)
                    else:
                        resp = fn(req)
                    acked = self.acked_writes(op, req, resp)
                err = None
            except DdbError as e:
                err = e
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                err = validation("malformed request: %s" % e)
            if not late:
                self.wait(stall_ms, delay_ms)
            self.release_keys()
            if err is not None:
                self.send_error_json(err, kind != "bad_crc")
            else:
                if acked:
                    with state.lock:
                        state.acked.extend(acked)
                self.send_json(200, resp, kind != "bad_crc")

        def wait(self, stall_ms, delay_ms):
            if stall_ms:
                time.sleep(stall_ms / 1000.0)
            if delay_ms:
                time.sleep(delay_ms / 1000.0)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    ap = argparse.ArgumentParser(description="DynamoDB fault-injecting test double (see the module docstring)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--table", action="append", default=[])
    ap.add_argument("--null", action="store_true")
    ap.add_argument("--script")
    ap.add_argument("--require-akid")
    ap.add_argument("--watch-stdin", action="store_true")
    ap.add_argument("--provisioned-wcu", type=int, default=0)
    ap.add_argument("--provisioned-rcu", type=int, default=0)
    ap.add_argument("--on-demand-max-wcu", type=int, default=0)
    ap.add_argument("--on-demand-max-rcu", type=int, default=0)
    for k, typ in FAULT_KEYS.items():
        ap.add_argument("--" + k.replace("_", "-"), dest=k, type=str if typ is list else typ, default=None)
    a = ap.parse_args()

    CAPACITY.update(wcu=a.provisioned_wcu, rcu=a.provisioned_rcu, max_wcu=a.on_demand_max_wcu,
                    max_rcu=a.on_demand_max_rcu)
    state = State(a.null, a.require_akid)
    cfg = {}
    if a.script:
        with open(a.script) as f:
            cfg.update(json.load(f))
    for k, typ in FAULT_KEYS.items():
        v = getattr(a, k)
        if v is not None:
            cfg[k] = [x for x in v.split(",") if x] if typ is list else v
    try:
        state.set_faults(cfg)
    except ValueError as e:
        print("fault_double: %s" % e, file=sys.stderr)
        return 2
    for spec in a.table:
        p = spec.split(":")
        if len(p) not in (3, 5) or any(t not in ("S", "N", "B") for t in p[2::2]):
            print("fault_double: --table wants NAME:PK:T[:SK:T] with T in S,N,B, got %r" % spec, file=sys.stderr)
            return 2
        state.tables[p[0]] = Table(p[0], p[1], p[2], *(p[3:5] if len(p) == 5 else ()))
    emu = Emulator(state)
    srv = Server(("127.0.0.1", a.port), make_handler(state, emu))
    print("PORT %d" % srv.server_address[1], flush=True)
    if a.watch_stdin:
        def watch():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            finally:
                import os
                os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
