#!/usr/bin/python3
"""Test doubles for the credentials providers, on one loopback port:

  POST /                         fake STS (AssumeRole, AssumeRoleWithWebIdentity)
  GET  /container/...            fake container credentials endpoint
  PUT  /latest/api/token         fake IMDSv2 token
  GET  /latest/meta-data/iam/security-credentials/[ROLE]
  POST /__control                JSON: change behaviour (keys below)
  GET  /__stats                  JSON: request counts and what was checked

Prints "PORT <n>" on stdout once listening. Exits when stdin closes, so it
never outlives the test that started it.

Behaviour keys (POST /__control merges them into the state):
  sts_mode, container_mode, imds_mode: ok | error | malformed | missing | sleep
  imds_token_mode: ok | sleep | forbidden
  expire_in: seconds until the handed-out credentials expire (default 3600)
  sleep_s: how long "sleep" sleeps (default 3)
  expect_token: web identity token STS must receive
  expect_akid / expect_secret / expect_session_token: the source credentials an
      AssumeRole request must be signed with (checked with botocore's SigV4)
  expect_auth: Authorization header the container endpoint requires
"""
import datetime
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    HAVE_BOTOCORE = True
except Exception:  # pragma: no cover - Debian test machines have it
    HAVE_BOTOCORE = False

LOCK = threading.Lock()
STATE = {
    "sts_mode": "ok", "container_mode": "ok", "imds_mode": "ok", "imds_token_mode": "ok",
    "expire_in": 3600, "sleep_s": 3,
    "expect_token": None, "expect_akid": None, "expect_secret": None, "expect_session_token": None,
    "expect_auth": None,
}
STATS = {"count": {}, "last_sts": {}, "rejected": []}
SERIAL = [0]
IMDS_TOKENS = set()


def bump(name):
    with LOCK:
        STATS["count"][name] = STATS["count"].get(name, 0) + 1


def reject(why):
    with LOCK:
        STATS["rejected"].append(why)


def new_creds(kind):
    with LOCK:
        SERIAL[0] += 1
        n = SERIAL[0]
        expire_in = STATE["expire_in"]
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expire_in)
    return {
        "AccessKeyId": "ASIA%s%04d" % (kind.upper(), n),
        "SecretAccessKey": "secret-%s-%d" % (kind, n),
        "Token": "token-%s-%d" % (kind, n),
        "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def sts_error_xml(code, message):
    return ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
            "<Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
            % (code, message))


def verify_sigv4(handler, body, form):
    """Returns None when the Authorization header is a valid SigV4 signature
    by the expected source credentials, else the reason."""
    auth = handler.headers.get("Authorization")
    if not auth:
        return "AssumeRole request is not signed"
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not SigV4"
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    cred = parts.get("Credential", "").split("/")
    if len(cred) != 5 or cred[3] != "sts" or cred[4] != "aws4_request":
        return "bad credential scope %r" % parts.get("Credential")
    akid, date, region = cred[0], cred[1], cred[2]
    with LOCK:
        want_akid, secret, token = STATE["expect_akid"], STATE["expect_secret"], STATE["expect_session_token"]
    with LOCK:
        STATS["last_sts"].update({"akid": akid, "region": region, "signed_headers": parts.get("SignedHeaders"),
                                  "security_token": handler.headers.get("X-Amz-Security-Token")})
    if want_akid and akid != want_akid:
        return "signed with %s, expected %s" % (akid, want_akid)
    if token and handler.headers.get("X-Amz-Security-Token") != token:
        return "X-Amz-Security-Token missing or wrong"
    if secret is None:
        return None
    if not HAVE_BOTOCORE:
        return None
    amz_date = handler.headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date):
        return "X-Amz-Date does not match the credential scope"
    signed = parts.get("SignedHeaders", "").split(";")
    headers = {}
    for h in signed:
        v = handler.headers.get(h)
        if v is None:
            return "signed header %s missing" % h
        headers[h] = v
    url = "http://%s%s" % (handler.headers.get("Host"), handler.path)
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(akid, secret, token), "sts", region)
    canonical = signer.canonical_request(req)
    sig = signer.signature(signer.string_to_sign(req, canonical), req)
    if sig != parts.get("Signature"):
        return "SignatureDoesNotMatch"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def mode(self, key):
        with LOCK:
            return STATE[key], STATE["sleep_s"]

    # ------------------------------------------------------------ control
    def do_GET(self):
        if self.path == "/__stats":
            with LOCK:
                return self.reply(200, json.dumps(STATS), "application/json")
        if self.path.startswith("/container/"):
            return self.container()
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            return self.imds_get()
        self.reply(404, "not found")

    def do_PUT(self):
        self.body()
        if self.path == "/latest/api/token":
            return self.imds_token()
        self.reply(404, "not found")

    def do_POST(self):
        body = self.body()
        if self.path == "/__control":
            with LOCK:
                STATE.update(json.loads(body or b"{}"))
                if json.loads(body or b"{}").get("reset_stats"):
                    STATS["count"].clear()
                    STATS["last_sts"].clear()
                    STATS["rejected"].clear()
            return self.reply(200, "{}", "application/json")
        return self.sts(body)

    # ---------------------------------------------------------------- STS
    def sts(self, body):
        bump("sts")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        action = form.get("Action")
        with LOCK:
            STATS["last_sts"] = {"action": action, "role_arn": form.get("RoleArn"),
                                 "session_name": form.get("RoleSessionName"),
                                 "external_id": form.get("ExternalId"), "version": form.get("Version"),
                                 "content_type": self.headers.get("Content-Type")}
        if form.get("Version") != "2011-06-15" or not form.get("RoleArn") or not form.get("RoleSessionName"):
            reject("missing Version/RoleArn/RoleSessionName")
            return self.reply(400, sts_error_xml("MissingParameter", "RoleArn, RoleSessionName, Version"))
        if action == "AssumeRoleWithWebIdentity":
            if self.headers.get("Authorization"):
                reject("AssumeRoleWithWebIdentity must not be signed")
                return self.reply(400, sts_error_xml("InvalidRequest", "unexpected Authorization"))
            with LOCK:
                want = STATE["expect_token"]
            if want is not None and form.get("WebIdentityToken") != want:
                reject("wrong web identity token")
                return self.reply(400, sts_error_xml("InvalidIdentityToken", "Token is not valid"))
            tag = "WebIdentity"
        elif action == "AssumeRole":
            why = verify_sigv4(self, body, form)
            if why:
                reject(why)
                return self.reply(403, sts_error_xml("SignatureDoesNotMatch", why))
            tag = ""
        else:
            reject("unknown action %r" % action)
            return self.reply(400, sts_error_xml("InvalidAction", "unknown action"))
        mode, sleep_s = self.mode("sts_mode")
        if mode == "sleep":
            time.sleep(sleep_s)
        if mode == "error":
            return self.reply(403, sts_error_xml("AccessDenied", "Not authorized to perform sts:%s" % action))
        if mode == "malformed":
            return self.reply(200, "<%sResponse><%sResult><Credentials><AccessKeyId>X" % (action, action))
        c = new_creds("sts")
        secret = "" if mode == "missing" else "<SecretAccessKey>%s</SecretAccessKey>" % c["SecretAccessKey"]
        xml = ("<{a}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{a}Result>"
               "<Credentials><AccessKeyId>{k}</AccessKeyId>{s}<SessionToken>{t}</SessionToken>"
               "<Expiration>{e}</Expiration></Credentials>"
               "<AssumedRoleUser><Arn>{r}</Arn></AssumedRoleUser>{x}</{a}Result>"
               "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{a}Response>").format(
                   a=action, k=c["AccessKeyId"], s=secret, t=c["Token"], e=c["Expiration"], r=form["RoleArn"],
                   x="<SubjectFromWebIdentityToken>sa</SubjectFromWebIdentityToken>" if tag else "")
        self.reply(200, xml, "text/xml")

    # ---------------------------------------------------------- container
    def container(self):
        bump("container")
        with LOCK:
            want = STATE["expect_auth"]
        if want is not None and self.headers.get("Authorization") != want:
            reject("container: bad Authorization")
            return self.reply(401, "unauthorized")
        self.answer_json("container_mode", "container")

    def answer_json(self, mode_key, kind, extra=None):
        mode, sleep_s = self.mode(mode_key)
        if mode == "sleep":
            time.sleep(sleep_s)
        if mode == "error":
            return self.reply(500, "internal error")
        if mode == "malformed":
            return self.reply(200, "{\"AccessKeyId\": \"ASIA", "application/json")
        c = new_creds(kind)
        if extra:
            c.update(extra)
        if mode == "missing":
            del c["SecretAccessKey"]
        self.reply(200, json.dumps(c), "application/json")

    # --------------------------------------------------------------- IMDS
    def imds_token(self):
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        mode, sleep_s = self.mode("imds_token_mode")
        if mode == "sleep":
            time.sleep(sleep_s)
        if mode == "forbidden":
            return self.reply(403, "forbidden")
        if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            reject("token PUT without a valid ttl header")
            return self.reply(400, "missing or invalid ttl")
        bump("imds_token")
        with LOCK:
            tok = "imds-token-%d" % len(IMDS_TOKENS)
            IMDS_TOKENS.add(tok)
        self.reply(200, tok)

    def imds_get(self):
        tok = self.headers.get("X-aws-ec2-metadata-token")
        with LOCK:
            ok = tok in IMDS_TOKENS
        if not ok:
            bump("imds_rejected")
            reject("IMDS GET without a valid token")
            return self.reply(401, "")
        role = self.path[len("/latest/meta-data/iam/security-credentials/"):]
        if role == "":
            bump("imds_list")
            return self.reply(200, "test-role")
        if role != "test-role":
            return self.reply(404, "")
        bump("imds_creds")
        self.answer_json("imds_mode", "imds",
                         {"Code": "Success", "Type": "AWS-HMAC",
                          "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        sys.stdin.read()  # until the test closes our stdin (or dies)
    except KeyboardInterrupt:
        pass
    srv.shutdown()


if __name__ == "__main__":
    main()
