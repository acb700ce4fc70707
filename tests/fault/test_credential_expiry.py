#!/usr/bin/python3
"""ddbpipe never signs a request with expired credentials and never fails a
write because credentials expire.

`ddbpipe sink` writes continuously (stdin fed line by line) to the
signature-checking double (tests/fault/sigcheck_double.py --keys-file) while
its credentials come from a container credentials endpoint (the provider used
on ECS/EKS; AWS_CONTAINER_CREDENTIALS_FULL_URI) run by this test. Every key
pair the endpoint hands out gets an Expiration and is written to the keys file;
the double refuses, as ExpiredTokenException (counted "expired_signature"), a
request that arrives at or after its key's Expiration or whose X-Amz-Date is.

Phases (the chain refreshes refresh_before_s = 300 s before expiry):
  short   credentials live SHORT_S (< 300 s): every one is used near its
          expiry, so a cached key used one second too long is caught; a
          credentials-endpoint outage (shorter than the lifetime) in the
          middle: ddbpipe keeps the still-valid key meanwhile
  window  credentials live 300 + ROTATE_S: cached, rotated every ROTATE_S
          (the normal AWS case, scaled down)
Asserted: sink exit 0, every record written (stats file and the double's
count agree with what was sent), zero expired signatures, zero rejected
signatures, and keys rotated as the refresh window says: in the short phase a
new key at least every SHORT_S; in the window phase about one every ROTATE_S
(at least PHASE_S / ROTATE_S, so a refresh that waits past the 300 s margin
fails, and at most PHASE_S / ROTATE_S + 2, so credentials that are not cached
fail too). A sink that dies early is reported (with its stderr), not a crash of
the test.

Environment knobs (scripts/soak.sh runs the long variant):
  EXPIRY_PHASE_S (default 10)  seconds per phase
  EXPIRY_SHORT_S (default 8)   lifetime in the short phase (the long run: 60)
  EXPIRY_ROTATE_S (default 4)  rotation period in the window phase (the long run: 60)
  EXPIRY_RATE (default 100)    records per second
"""
import calendar
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("DDBPIPE_BIN", "")
PY = "/usr/bin/python3"
PHASE_S = float(os.environ.get("EXPIRY_PHASE_S", "10"))
SHORT_S = int(os.environ.get("EXPIRY_SHORT_S", "8"))
ROTATE_S = int(os.environ.get("EXPIRY_ROTATE_S", "4"))
# fewer records a second in the sanitizer sweeps (the same phases and rotation checks)
RATE = float(os.environ.get("EXPIRY_RATE", {"valgrind": "20", "asan": "50"}.get(
    os.environ.get("DDBPIPE_TEST_SLOW", ""), "100")))
REFRESH_BEFORE_S = 300  # the chain's default (src/aws/credentials.h)


class CredState:
    def __init__(self, keys_file):
        self.lock = threading.Lock()
        self.keys_file = keys_file
        self.keys = {}
        self.serial = 0
        self.lifetime_s = SHORT_S
        self.outage = False
        self.served = 0
        self.refused = 0

    def issue(self):
        with self.lock:
            self.serial += 1
            now = time.time()
            # Whole seconds, as AWS writes them; rounded down so the key never
            # lives longer than it says.
            exp = int(now + self.lifetime_s)
            akid = "ASIAEXPIRY%010d" % self.serial
            c = {"AccessKeyId": akid, "SecretAccessKey": "expiry-secret-%d-%s" % (self.serial, os.urandom(6).hex()),
                 "Token": "expiry-token-%d-%s" % (self.serial, os.urandom(12).hex()),
                 "Expiration": datetime.datetime.fromtimestamp(exp, datetime.timezone.utc)
                 .strftime("%Y-%m-%dT%H:%M:%SZ")}
            self.keys[akid] = {"SecretAccessKey": c["SecretAccessKey"], "Token": c["Token"], "Expiration": exp}
            tmp = self.keys_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.keys, f)
            os.replace(tmp, self.keys_file)  # the double sees the key before ddbpipe does
            self.served += 1
            return c


class CredHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        st = self.server.state
        if self.path != "/creds":
            body, status = b"not found", 404
        elif st.outage:
            with st.lock:
                st.refused += 1
            body, status = b"credentials endpoint unavailable", 500
        else:
            body, status = json.dumps(st.issue()).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def stats(endpoint):
    with urllib.request.urlopen(endpoint + "/__stats", timeout=5) as r:
        return json.loads(r.read())


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print("SKIPPED: DDBPIPE_BIN is not set to the ddbpipe binary")
        return 77
    try:
        import botocore  # noqa: F401  (the double checks signatures with it)
    except ImportError:
        print("SKIPPED: botocore is not importable (apt-get install python3-botocore)")
        return 77
    if SHORT_S <= 2 * 1 + 1:
        print("EXPIRY_SHORT_S must be > 3 (an outage of a third of it is simulated)")
        return 2
    tmp = tempfile.mkdtemp(prefix="ddbpipe-expiry-")
    procs = []
    try:
        return run(tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, procs):
    keys_file = os.path.join(tmp, "keys.json")
    with open(keys_file, "w") as f:
        f.write("{}")
    state = CredState(keys_file)
    csrv = ThreadingHTTPServer(("127.0.0.1", 0), CredHandler)
    csrv.daemon_threads = True
    csrv.state = state
    threading.Thread(target=csrv.serve_forever, daemon=True).start()
    cred_url = "http://127.0.0.1:%d/creds" % csrv.server_address[1]

    dbl = subprocess.Popen([PY, os.path.join(HERE, "sigcheck_double.py"), "--keys-file", keys_file,
                            "--table", "expiry_table", "--pk", "id:S", "--watch-stdin"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(dbl)
    line = dbl.stdout.readline()
    if not line.startswith("PORT "):
        print("FAIL: the signature-checking double did not start: %r" % line)
        return 1
    endpoint = "http://127.0.0.1:%s" % line.split()[1]

    cfg = os.path.join(tmp, "sink.yaml")
    with open(cfg, "w") as f:
        f.write("table: expiry_table\nregion: us-east-1\nendpoint_url: %s\npartition_key: id\n"
                "partition_key_type: S\ncredentials_provider: container\nflush_interval_ms: 20\n"
                "batch_size: 25\n" % endpoint)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": cred_url, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": os.path.join(tmp, "none"), "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "none")}
    env.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})  # sanitizer runs (make asan)
    sink_stats = os.path.join(tmp, "stats.json")
    errlog = open(os.path.join(tmp, "sink.err"), "wb")
    sink = subprocess.Popen([BIN, "sink", "-v", "-c", cfg, "--stats-file", sink_stats], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=errlog, env=env)
    procs.append(sink)

    sent = 0
    died_early = False
    served_short = None  # set when the short phase ends (a sink that dies early never gets there)
    interval = 1.0 / RATE

    def feed(seconds, label, during=None):
        nonlocal sent
        t0 = time.time()
        next_t = t0
        while time.time() - t0 < seconds:
            if during:
                during(time.time() - t0)
            sink.stdin.write(b'{"id":"k%08d","n":%d,"phase":"%s"}\n' % (sent, sent, label.encode()))
            sink.stdin.flush()
            sent += 1
            next_t += interval
            delay = next_t - time.time()
            if delay > 0:
                time.sleep(delay)

    outage_len = SHORT_S / 3.0

    def outage(t):
        # the endpoint fails for a third of the lifetime, mid-phase
        state.outage = PHASE_S / 3.0 <= t < PHASE_S / 3.0 + outage_len

    try:
        print("phase short: credentials live %d s, endpoint outage of %.1f s" % (SHORT_S, outage_len), flush=True)
        state.lifetime_s = SHORT_S
        feed(PHASE_S, "short", outage)
        state.outage = False
        served_short = state.served
        print("phase window: credentials live %d s (rotated every %d s)" % (REFRESH_BEFORE_S + ROTATE_S, ROTATE_S),
              flush=True)
        state.lifetime_s = REFRESH_BEFORE_S + ROTATE_S
        feed(PHASE_S, "window")
        sink.stdin.close()
    except BrokenPipeError:
        died_early = True
    died_early = died_early or sink.poll() is not None and sink.returncode != 0
    if served_short is None:
        served_short = state.served
    try:
        rc = sink.wait(timeout=120)
    except subprocess.TimeoutExpired:
        sink.kill()
        rc = sink.wait()
        print("FAIL: sink did not finish within 120 s after its input ended")
    errlog.close()
    st = stats(endpoint)
    try:
        with open(sink_stats) as f:
            ss = json.load(f)
    except (OSError, ValueError):
        ss = {}
    served_window = state.served - served_short
    print("sent %d records; sink exit %d; sink stats: written %s, failed %s, dead-lettered %s, retries %s"
          % (sent, rc, ss.get("records_written"), ss.get("failed_items"), ss.get("dead_lettered"), ss.get("retries")))
    print("double: %s" % json.dumps(st, sort_keys=True))
    print("credentials endpoint: %d key pairs handed out (%d in the short phase), %d refused during the outage"
          % (state.served, served_short, state.refused))

    problems = []
    if died_early:
        problems.append("the sink died before its input ended (after %d records)" % sent)
    if rc != 0:
        problems.append("sink exited %d, want 0" % rc)
    if st.get("expired_signature", 0) or st.get("ExpiredTokenException", 0):
        problems.append("%d request(s) signed with expired credentials" % st.get("expired_signature", 0))
    for code in ("InvalidSignatureException", "UnrecognizedClientException", "IncompleteSignatureException",
                 "MissingAuthenticationTokenException"):
        if st.get(code):
            problems.append("%d request(s) refused with %s" % (st[code], code))
    if ss.get("records_written") != sent:
        problems.append("sink stats say %s records written, %d were sent" % (ss.get("records_written"), sent))
    if st.get("items_put", 0) < sent:
        problems.append("the double received %d items, %d were sent" % (st.get("items_put", 0), sent))
    for k in ("failed_items", "dead_lettered"):
        if ss.get(k):
            problems.append("sink stats: %s = %s" % (k, ss[k]))
    # rotation really happened: the short phase needs a new key at least every SHORT_S,
    # the window phase one every ROTATE_S
    if served_short < PHASE_S / SHORT_S:
        problems.append("only %d key pairs fetched in the short phase" % served_short)
    # window phase: each key is cached and refreshed REFRESH_BEFORE_S before its expiry, i.e. after
    # ROTATE_S of use: one fetch as the phase starts, then one every ROTATE_S
    want_lo, want_hi = int(PHASE_S / ROTATE_S), int(PHASE_S / ROTATE_S) + 2
    if not want_lo <= served_window <= want_hi:
        problems.append("%d key pairs fetched in the window phase, want %d..%d (one every %d s of a key "
                        "living %d s)" % (served_window, want_lo, want_hi, ROTATE_S, REFRESH_BEFORE_S + ROTATE_S))
    if st.get("akids_seen", 0) < 3:
        problems.append("requests were signed with only %d different keys" % st.get("akids_seen", 0))
    if state.refused == 0:
        problems.append("the credentials outage was never noticed (no refused fetch)")
    if problems:
        with open(os.path.join(tmp, "sink.err"), "rb") as f:
            tail = f.read()[-3000:].decode("utf-8", "replace")
        print("--- sink stderr (tail):\n" + tail)
        for p in problems:
            print("FAIL: " + p)
        return 1
    print("PASS: %d records written across %d credential rotations, no expired or rejected signature"
          % (sent, st.get("akids_seen", 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
