#!/usr/bin/python3
"""`ddbpipe list-tables` pages through ListTables to the end.

The fault double holds 7 tables and answers at most 2 names a page (list_tables_page), so the
listing takes 4 pages. Checked: every name printed exactly once, in order, exit 0; the double saw
exactly 4 ListTables calls; the summary counts 7 tables. A listing that stopped after the first
page, or re-read a page, fails.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sink_faults as t  # noqa: E402  (Double, check, skip)

NAMES = ["lt_%s" % c for c in "abcdefg"]


def main():
    if not t.BIN or not os.path.exists(t.BIN):
        t.skip("DDBPIPE_BIN not built")
    d = t.Double(["%s:id:S" % n for n in NAMES])
    try:
        with tempfile.TemporaryDirectory() as wd:
            d.faults(list_tables_page=2)
            cfg = os.path.join(wd, "c.json")
            with open(cfg, "w") as f:
                json.dump({"region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDLT",
                           "aws_secret_access_key": "secret", "table": NAMES[0]}, f)
            env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
            d._req("/__reset", {})
            p = subprocess.run([t.BIN, "list-tables", "-c", cfg], capture_output=True, text=True, timeout=60, env=env)
            calls = d.stats()["ops"].get("ListTables", 0)
            names = p.stdout.split()
            t.check(p.returncode == 0, "list-tables: exit 0 (%d) %s" % (p.returncode, p.stderr.strip()[-300:]))
            t.check(names == NAMES, "list-tables: all %d names once, in order, over several pages (got %s)" %
                    (len(NAMES), names))
            t.check(calls == 4, "list-tables: 4 ListTables pages of at most 2 names (the double saw %d calls)" % calls)
            t.check("7 tables at " + d.url in p.stderr, "list-tables: the summary counts 7 tables (%s)" %
                    p.stderr.strip()[-200:])
    finally:
        d.close()
    print("%d failure(s)" % len(t.FAILS))
    sys.exit(1 if t.FAILS else 0)


if __name__ == "__main__":
    main()
