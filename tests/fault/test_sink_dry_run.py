#!/usr/bin/python3
"""`ddbpipe sink --dry-run` against the fault double (tests/fault/fault_double.py).

The dry run reads the whole input (keys changed many times, puts across 1 KB boundaries, deletes,
a bad line, a Debezium tombstone), calls DescribeTable and nothing else, and prints the records,
the items left after folding to the last change per key and the estimated write capacity units.
The estimate is checked against what DynamoDB's rules charge for real: the folded input (computed
here, one change per key) is then written by a real `ddbpipe sink` to a fresh double, which meters
every write by its own item size code; the two must agree exactly. Also: the cost with
price_per_million_wcu, exit 1 for a bad record, --dry-run-max-keys stops with exit 3, and
--checkpoint / --kafka are refused with exit 2.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sink_env import BIN, SLOW, Double, check, exit_code  # noqa: E402  (shared set-up)


def report_field(out, name):
    m = re.search(r"^%s\s+(\S+)" % re.escape(name), out, re.M)
    return m.group(1) if m else None


def main():
    if not BIN:
        print("SKIPPED: DDBPIPE_BIN is not set")
        return 77
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    rng = random.Random(15)
    nkeys = 300 if SLOW else 3000
    nrec = 1500 if SLOW else 20000
    price = 1.25
    d = Double(["--table", "dryt:id:N"])
    d2 = Double(["--table", "dryt:id:N"])
    try:
        with tempfile.TemporaryDirectory() as wd:
            cfg = {"table": "dryt", "region": "us-east-1", "endpoint_url": d.url, "aws_access_key_id": "AKIDDRY",
                   "aws_secret_access_key": "secret", "price_per_million_wcu": str(price),
                   "create_table_if_missing": True}
            cpath = os.path.join(wd, "sink.json")
            with open(cpath, "w") as f:
                json.dump(cfg, f)
            inp = os.path.join(wd, "in.jsonl")
            last = {}  # key -> the line of its last change
            with open(inp, "w") as f:
                for i in range(nrec):
                    k = rng.randrange(nkeys)
                    if rng.random() < 0.15:
                        line = json.dumps({"delete": {"id": k}})
                    else:
                        line = json.dumps({"id": k, "v": i, "pad": "p" * rng.choice((0, 10, 900, 1000, 1010, 2500))})
                    f.write(line + "\n")
                    last[k] = line
                    if i == nrec // 3:
                        f.write("{not json\n")  # a bad record: dead-lettered, exit 1
                    if i == nrec // 2:
                        f.write("null\n")  # a Debezium tombstone: skipped
            dl = os.path.join(wd, "dead.jsonl")
            st = os.path.join(wd, "stats.json")
            p = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--dry-run", "--dead-letter", dl,
                                "--stats-file", st, "--quiet"], capture_output=True, text=True, timeout=600)
            print(p.stdout)
            ds = d.get("/__stats")
            ops = ds.get("ops", {})
            check(p.returncode == 1, "dry run exits 1 for the bad record (%d) %s" % (p.returncode, p.stderr[-300:]))
            check(set(ops) == {"DescribeTable"}, "only DescribeTable was called (%s)" % ops)
            check(ds["write_calls"] == 0 and not d.get("/__dump").get("dryt"), "nothing was written")
            stats = json.load(open(st)) if os.path.exists(st) else {}
            dry = stats.get("dry_run", {})
            dead = open(dl).read().splitlines() if os.path.exists(dl) else []
            check(len(dead) == 1 and json.loads(dead[0]).get("line") == nrec // 3 + 2,
                  "the bad line is dead-lettered with its line number (%s)" % dead[:1])
            puts = sum(1 for v in last.values() if not v.startswith('{"delete"'))
            check(dry.get("records") == nrec, "records %s == %d changes" % (dry.get("records"), nrec))
            check(stats.get("records_in") == nrec + 2, "records_in counts the bad line and the tombstone (%s)" %
                  stats.get("records_in"))
            check(stats.get("tombstones") == 1, "the tombstone is counted (%s)" % stats.get("tombstones"))
            check(dry.get("items") == len(last), "items %s == %d distinct keys" % (dry.get("items"), len(last)))
            check(dry.get("puts") == puts and dry.get("deletes") == len(last) - puts,
                  "puts/deletes %s/%s == %d/%d (the last change per key)" %
                  (dry.get("puts"), dry.get("deletes"), puts, len(last) - puts))
            check(report_field(p.stdout, "items") == str(len(last)), "stdout reports the items")
            m = re.search(r"^write units\s+(\d+) WCU", p.stdout, re.M)
            check(m is not None and int(m.group(1)) == dry.get("wcu"), "stdout reports the WCU (%s)" %
                  (m.group(1) if m else None))
            cost = dry.get("cost")
            check(cost is not None and abs(cost - dry.get("wcu", 0) * price / 1e6) < 1e-6,
                  "cost = WCU x price / 1e6 (%s)" % cost)

            # The same estimate, charged for real: the folded input written to a fresh double.
            folded = os.path.join(wd, "folded.jsonl")
            with open(folded, "w") as f:
                for v in last.values():
                    f.write(v + "\n")
            cfg2 = dict(cfg, endpoint_url=d2.url)
            c2 = os.path.join(wd, "sink2.json")
            with open(c2, "w") as f:
                json.dump(cfg2, f)
            p2 = subprocess.run([BIN, "sink", "-c", c2, "-i", folded, "--quiet"], capture_output=True, text=True,
                                timeout=600)
            ds2 = d2.get("/__stats")
            check(p2.returncode == 0, "the folded input is written (%d) %s" % (p2.returncode, p2.stderr[-300:]))
            print("     dry run estimate %s WCU, the double charged %s WCU for the folded input, %s item bytes"
                  % (dry.get("wcu"), ds2["wcu_consumed"], dry.get("item_bytes")))
            check(dry.get("wcu") == ds2["wcu_consumed"], "the estimate equals what the writes consumed")
            check(len(d2.get("/__dump").get("dryt", [])) == puts, "the real run left %d items" % puts)

            # a missing table: a dry run creates nothing (create_table_if_missing is ignored)
            cfg3 = dict(cfg, table="nosuch", partition_key="id", partition_key_type="N")
            c3 = os.path.join(wd, "sink3.json")
            with open(c3, "w") as f:
                json.dump(cfg3, f)
            p3 = subprocess.run([BIN, "sink", "-c", c3, "-i", folded, "--dry-run", "--quiet"],
                                capture_output=True, text=True, timeout=600)
            ops = d.get("/__stats").get("ops", {})
            check(p3.returncode == 0 and "CreateTable" not in ops,
                  "missing table + configured key: estimate given, no table created (%d, %s)" % (p3.returncode, ops))

            # bounded key set
            p4 = subprocess.run([BIN, "sink", "-c", cpath, "-i", inp, "--dry-run", "--dry-run-max-keys", "100",
                                 "--quiet"], capture_output=True, text=True, timeout=600)
            check(p4.returncode == 3 and "more than 100 distinct keys" in p4.stderr and
                  "raise --dry-run-max-keys" in p4.stderr,
                  "--dry-run-max-keys 100 stops with exit 3 naming the bound and the option (%d) %s" %
                  (p4.returncode, p4.stderr[-200:]))
            # nothing that would write or move offsets
            for extra in (["--checkpoint", os.path.join(wd, "ck")], ["--kafka"]):
                args = [BIN, "sink", "-c", cpath, "--dry-run"] + extra
                if extra[0] == "--checkpoint":
                    args += ["-i", inp]
                p5 = subprocess.run(args, capture_output=True, text=True, timeout=60)
                check(p5.returncode == 2, "--dry-run %s is refused with exit 2 (%d) %s" %
                      (extra[0], p5.returncode, p5.stderr.strip()[-200:]))
    finally:
        d.close()
        d2.close()
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
