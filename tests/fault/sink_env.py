"""Shared set-up of the sink tests against tests/fault/fault_double.py: the environment they read,
check() collecting failures in FAILS, and Double (the double started on a free loopback port, with
its /__dump, /__stats and /__faults endpoints). Import with the test's own directory on sys.path.
"""
import json
import os
import subprocess
import sys
import urllib.request

BIN = os.environ.get("DDBPIPE_BIN")
SRC = os.environ.get("DDBPIPE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOUBLE = os.path.join(SRC, "tests", "fault", "fault_double.py")
SLOW = os.environ.get("DDBPIPE_TEST_SLOW", "")
FAILS = []  # shared by every importer: a test prints len(FAILS) and exits 1 when it is not empty


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        FAILS.append(what)


class Double:
    """fault_double.py run with `args` (e.g. ["--table", "t:id:N"]); it exits when its stdin closes."""

    def __init__(self, args, timeout_s=30):
        self.timeout_s = timeout_s
        self.p = subprocess.Popen([sys.executable, DOUBLE, "--watch-stdin"] + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("fault double did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def _req(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
            return json.loads(r.read() or b"{}")

    def get(self, path):
        return self._req(path)

    def faults(self, **kw):
        return self._req("/__faults", kw)

    def dump(self):
        return self._req("/__dump")

    def stats(self):
        return self._req("/__stats")

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=5)
        except Exception:
            self.p.kill()
            self.p.wait()


def exit_code():
    """A test's exit status: 1 (after counting them) when a check failed, else 0."""
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    return 0
