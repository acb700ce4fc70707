#!/usr/bin/python3
"""A DynamoDB test double that checks SigV4 signatures (with botocore).

It knows one key pair. Requests signed with an unknown access key id get
UnrecognizedClientException, a wrong signature InvalidSignatureException,
exactly as DynamoDB answers; correctly signed ListTables / DescribeTable get
a minimal answer for one table. Every response carries x-amz-crc32.

Usage:
  sigcheck_double.py [--port 0] [--port-file F] [--akid AKID] [--secret S]
                     [--table NAME] [--pk NAME:TYPE] [--sk NAME:TYPE]
                     [--keys-file F] [--watch-stdin]
The bound port is printed as "PORT <n>" on stdout and written to --port-file
(atomically). The secret defaults to $SIGCHECK_SECRET or a fixed test value;
it is never printed. Stops on SIGTERM/SIGINT (and at stdin EOF with
--watch-stdin).

Temporary keys (credential expiry tests): --keys-file names a JSON object
{AKID: {"SecretAccessKey": s, "Token": t, "Expiration": epoch seconds}},
re-read whenever an access key id is not known yet. A request signed with
such a key must carry its Token as X-Amz-Security-Token, and is refused with
ExpiredTokenException (counted as "expired_signature") when it arrives at or
after the Expiration, or its X-Amz-Date is at or after it.

Writes: a correctly signed BatchWriteItem / TransactWriteItems is accepted
and counted (items_put, items_deleted; nothing is stored); GET /__stats
answers the counts.
"""
import argparse
import calendar
import hmac
import json
import os
import signal
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    print(f"SKIPPED: botocore is not importable ({e}); install python3-botocore", file=sys.stderr)
    sys.exit(77)

DEFAULT_AKID = "AKIDSIGCHECKEXAMPLE1"
DEFAULT_SECRET = "sigcheckSecretKeyForTests/0123456789abcdEF"

INVALID_SIGNATURE_MSG = ("The request signature we calculated does not match the signature you provided. "
                         "Check your AWS Secret Access Key and signing method. Consult the service documentation "
                         "for details.")


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=A/d/r/s/aws4_request, SignedHeaders=a;b, Signature=hex' -> dict or None."""
    if not value or not value.startswith("AWS4-HMAC-SHA256 "):
        return None
    parts = {}
    for item in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    cred = parts.get("Credential", "").split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or "SignedHeaders" not in parts or "Signature" not in parts:
        return None
    return {"akid": cred[0], "date": cred[1], "region": cred[2], "service": cred[3],
            "signed": parts["SignedHeaders"].split(";"), "signature": parts["Signature"]}


def expected_signature(auth, method, raw_path, headers, body, secret, token):
    """Recompute the signature over exactly the headers the client signed."""
    signed = {}
    for name in auth["signed"]:
        values = headers.get_all(name) or []
        signed[name] = values
    host = (signed.get("host") or ["localhost"])[0]
    req = AWSRequest(method=method, url=f"http://{host}{raw_path}", data=body)
    for name, values in signed.items():
        for v in values:
            req.headers[name] = v
    amz_date = (signed.get("x-amz-date") or [""])[0]
    signer = SigV4Auth(Credentials(auth["akid"], secret, token), auth["service"], auth["region"])
    req.context["timestamp"] = amz_date
    creq = signer.canonical_request(req)
    sts = signer.string_to_sign(req, creq)
    return signer.signature(sts, req)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigcheck-double"

    def log_message(self, fmt, *args):  # quiet; the server counts instead
        pass

    def send_json(self, status, doc):
        body = json.dumps(doc).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF))
        self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message, prefix="com.amazon.coral.service"):
        self.server.count(code)
        self.send_json(status, {"__type": f"{prefix}#{code}", "message": message})

    def do_GET(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/__stats":  # test hook: counts of answers given
            with self.server.lock:
                stats = dict(self.server.stats, akids_seen=len(self.server.akids_seen))
            self.send_json(200, stats)
            return
        self.dispatch(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.dispatch(body)

    def dispatch(self, body):
        cfg = self.server.cfg
        auth_value = self.headers.get("Authorization")
        if not auth_value:
            return self.error(400, "MissingAuthenticationTokenException", "Request is missing Authentication Token")
        auth = parse_authorization(auth_value)
        if auth is None or "host" not in auth["signed"] or "x-amz-date" not in auth["signed"]:
            return self.error(400, "IncompleteSignatureException",
                              "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                              "parameters, with host and x-amz-date signed.")
        arrived = time.time()
        amz_date = self.headers.get("X-Amz-Date") or ""
        token = self.headers.get("X-Amz-Security-Token")
        secret = cfg.secret
        if auth["akid"] != cfg.akid:
            temp = self.server.temp_key(auth["akid"])
            if temp is None:
                return self.error(400, "UnrecognizedClientException",
                                  "The security token included in the request is invalid.")
            if token != temp.get("Token"):
                return self.error(400, "UnrecognizedClientException",
                                  "The security token included in the request is invalid.")
            expiration = float(temp.get("Expiration") or 0)
            signed_at = amz_epoch(amz_date)
            if expiration and (arrived >= expiration or (signed_at is not None and signed_at >= expiration)):
                self.server.count("expired_signature")
                return self.error(400, "ExpiredTokenException",
                                  "The security token included in the request is expired")
            secret = temp.get("SecretAccessKey") or ""
            self.server.count("temp_key_ok")
            self.server.akids_seen.add(auth["akid"])
        if amz_date[:8] != auth["date"]:
            return self.error(400, "InvalidSignatureException", "Date in Credential scope does not match "
                              "YYYYMMDD from ISO-8601 version of date from HTTP")
        want = expected_signature(auth, self.command, self.path, self.headers, body, secret, token)
        if not hmac.compare_digest(want, auth["signature"]):
            return self.error(400, "InvalidSignatureException", INVALID_SIGNATURE_MSG)
        self.server.count("signed_ok")
        target = self.headers.get("X-Amz-Target") or ""
        op = target.rpartition(".")[2]
        try:
            req = json.loads(body.decode("utf-8")) if body else {}
        except ValueError:
            return self.error(400, "SerializationException", "Start of structure or map found where not expected.",
                              prefix="com.amazon.coral.service")
        if op == "ListTables":
            return self.send_json(200, {"TableNames": [cfg.table]})
        if op == "DescribeTable":
            name = req.get("TableName")
            if name != cfg.table:
                return self.error(400, "ResourceNotFoundException", f"Requested resource not found: Table: {name} "
                                  "not found", prefix="com.amazonaws.dynamodb.v20120810")
            return self.send_json(200, {"Table": describe(cfg)})
        if op == "BatchWriteItem":
            for table, reqs in (req.get("RequestItems") or {}).items():
                for r in reqs:
                    self.server.count("items_put" if "PutRequest" in r else "items_deleted")
            return self.send_json(200, {"UnprocessedItems": {}})
        if op == "TransactWriteItems":
            for a in req.get("TransactItems") or []:
                self.server.count("items_deleted" if "Delete" in a else "items_put")
            return self.send_json(200, {})
        return self.error(400, "UnknownOperationException", f"sigcheck double does not implement {op or target!r}")


def amz_epoch(amz_date):
    """'20260115T083000Z' -> epoch seconds, None when malformed."""
    try:
        return calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except (ValueError, TypeError):
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def count(self, name):
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    def temp_key(self, akid):
        """The temporary key pair for akid from --keys-file (re-read when akid is new), or None."""
        path = self.cfg.keys_file
        if not path:
            return None
        with self.lock:
            if akid not in self.temp_keys:
                try:
                    with open(path) as f:
                        self.temp_keys = json.load(f)
                except (OSError, ValueError):
                    pass
            return self.temp_keys.get(akid)


def describe(cfg):
    keys = [(cfg.pk, "HASH")] + ([(cfg.sk, "RANGE")] if cfg.sk else [])
    return {
        "TableName": cfg.table,
        "TableStatus": "ACTIVE",
        "TableArn": f"arn:aws:dynamodb:us-east-1:000000000000:table/{cfg.table}",
        "KeySchema": [{"AttributeName": k.split(":")[0], "KeyType": t} for k, t in keys],
        "AttributeDefinitions": [{"AttributeName": k.split(":")[0], "AttributeType": k.split(":")[1]}
                                 for k, _ in keys],
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ItemCount": 0,
        "TableSizeBytes": 0,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--akid", default=DEFAULT_AKID)
    ap.add_argument("--secret", default=os.environ.get("SIGCHECK_SECRET", DEFAULT_SECRET))
    ap.add_argument("--table", default="sigcheck_table")
    ap.add_argument("--pk", default="id:S")
    ap.add_argument("--sk", default=None)
    ap.add_argument("--keys-file", default=None)
    ap.add_argument("--watch-stdin", action="store_true")
    cfg = ap.parse_args()
    for k in [cfg.pk] + ([cfg.sk] if cfg.sk else []):
        if ":" not in k or k.split(":")[1] not in ("S", "N", "B"):
            ap.error(f"key {k!r} must be NAME:TYPE with TYPE S, N or B")

    server = Server((cfg.host, cfg.port), Handler)
    server.cfg = cfg
    server.stats = {}
    server.lock = threading.Lock()
    server.temp_keys = {}
    server.akids_seen = set()
    port = server.server_address[1]
    if cfg.port_file:
        tmp = cfg.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, cfg.port_file)
    print(f"PORT {port}", flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if cfg.watch_stdin:
        def watch():
            sys.stdin.read()
            stop(None, None)
        threading.Thread(target=watch, daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
