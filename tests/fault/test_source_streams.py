#!/usr/bin/python3
"""ddbpipe source against the DynamoDB Streams test double (streams_double.py):
split shards (parents, children, grandchildren), paged and inconsistent
listings, children only found through CHILD_SHARDS, an expired iterator,
injected 500s/throttles, trimmed data, kill -9 + --checkpoint restart, SIGTERM,
a checkpoint naming a shard that no longer exists.

What a user checks: every key's changes come out in write order across
splits, nothing is lost, trimmed data stops the run with exit 3 unless
on_trimmed_data=continue, and a restart from the checkpoint loses nothing."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("DDBPIPE_BUILD_DIR", "")
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def source_cmd():
    """The CLI when it has a working `source`, else the API driver."""
    cli = os.environ.get("DDBPIPE_BIN", "")
    if cli and os.path.exists(cli):
        r = subprocess.run([cli, "source", "--help"], capture_output=True, text=True)
        if r.returncode == 0 and "--until-caught-up" in r.stdout:
            return [cli, "source"], "--stats-file"
    drv = os.path.join(BUILD, "source_driver")
    if os.path.exists(drv):
        return [drv], "--stats"
    print("SKIPPED: neither the ddbpipe CLI nor source_driver is built")
    sys.exit(77)


class Double:
    def __init__(self, tmp, *extra):
        self.port_file = os.path.join(tmp, "port-%d" % time.monotonic_ns())
        self.expect_file = self.port_file + ".expect.json"
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "streams_double.py"), "--port-file",
                                      self.port_file, "--expect", self.expect_file] + list(extra))
        for _ in range(200):
            if os.path.exists(self.port_file):
                break
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())
        self.expect = json.load(open(self.expect_file))["events"]

    def stats(self):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/__stats" % self.port) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def write_config(tmp, port, **extra):
    path = os.path.join(tmp, "cfg-%d.json" % time.monotonic_ns())
    cfg = {"table": "orders", "region": "us-east-1", "endpoint_url": "http://127.0.0.1:%d" % port,
           "aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "not-a-real-secret",
           "poll_idle_ms": 50, "poll_busy_ms": 0, "discovery_interval_ms": 400}
    cfg.update(extra)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def run_source(cmd, stats_opt, cfg, out, tmp, *args, timeout=120):
    stats = os.path.join(tmp, "stats-%d.json" % time.monotonic_ns())
    r = subprocess.run(cmd + ["-c", cfg, "-o", out, "--mode", "stream", stats_opt, stats] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    st = json.load(open(stats)) if os.path.exists(stats) and os.path.getsize(stats) else {}
    return r, st


def read_events(out):
    per_key = {}
    if not os.path.exists(out):
        return per_key
    with open(out) as f:
        for line in f:
            ev = json.loads(line)
            per_key.setdefault(ev["keys"]["pk"], []).append([ev["sequence"], ev["op"].upper()])
    return per_key


def dedup_first(seqs):
    seen, out = set(), []
    for s in seqs:
        if s[0] not in seen:
            seen.add(s[0])
            out.append(s)
    return out


def stream_stats(st):
    return st.get("stream", {})


def test_split(cmd, stats_opt, tmp):
    d = Double(tmp, "--empty-pages")
    try:
        out = os.path.join(tmp, "split.jsonl")
        r, st = run_source(cmd, stats_opt, write_config(tmp, d.port), out, tmp, "--from", "trim_horizon",
                           "--until-caught-up")
        check(r.returncode == 0, "split: exit 0 with --until-caught-up (rc=%d, stderr=%s)" % (r.returncode,
                                                                                              r.stderr[-400:]))
        got = read_events(out)
        check(got == d.expect, "split: every key's changes in write order, none lost, none repeated "
              "(%d keys, %d events)" % (len(d.expect), sum(len(v) for v in d.expect.values())))
        bad = [k for k in d.expect if got.get(k) != d.expect[k]]
        if bad:
            print("  first bad key %s: want %s got %s" % (bad[0], d.expect[bad[0]][:6], got.get(bad[0], [])[:6]))
        ds = d.stats()
        check(ds["violations"] == [], "split: no child iterator before its parent was read to the end %s"
              % ds["violations"][:2])
        check(ds["calls"].get("expired_served") == 1 and stream_stats(st).get("iterator_renewals", 0) >= 1,
              "split: expired iterator renewed (stats %s)" % stream_stats(st).get("iterator_renewals"))
        check(ds["calls"].get("iterators_AFTER_SEQUENCE_NUMBER", 0) >= 1,
              "split: renewal used AFTER_SEQUENCE_NUMBER")
        check(stream_stats(st).get("inconsistent_listings", 0) >= 1, "split: inconsistent listing retried")
        check(stream_stats(st).get("child_listings", 0) >= 1, "split: CHILD_SHARDS listing when a shard closed")
        check(ds["calls"].get("faults_injected", 0) >= 1, "split: injected 500/throttle answers were retried")
        check(stream_stats(st).get("shards_closed") == 3 and stream_stats(st).get("shards_open") == 4,
              "split: stats count 3 closed and 4 open shards")
        check(ds["calls"].get("empty_pages_served_open", 0) >= 3,
              "split: --until-caught-up read past an empty page in the middle of every open shard (%s served)" %
              ds["calls"].get("empty_pages_served_open"))

    finally:
        d.stop()


def test_trim_stop(cmd, stats_opt, tmp):
    d = Double(tmp, "--trim", "5")
    try:
        out = os.path.join(tmp, "trim.jsonl")
        r, st = run_source(cmd, stats_opt, write_config(tmp, d.port), out, tmp, "--from", "trim_horizon",
                           "--until-caught-up")
        check(r.returncode == 3, "trim: default stops with exit 3 (rc=%d)" % r.returncode)
        check("data loss" in r.stderr.lower(), "trim: stderr says data loss: %s" % r.stderr.strip()[-300:])
        check(bool(st), "trim: the stats file is written on the data-loss exit too")
        check(stream_stats(st).get("trimmed_data_losses") == 1, "trim: loss counted in stats (%s)" %
              stream_stats(st).get("trimmed_data_losses"))
    finally:
        d.stop()


def test_trim_continue(cmd, stats_opt, tmp):
    d = Double(tmp, "--trim", "5")
    try:
        out = os.path.join(tmp, "trimc.jsonl")
        r, st = run_source(cmd, stats_opt, write_config(tmp, d.port, on_trimmed_data="continue"), out, tmp,
                           "--from", "trim_horizon", "--until-caught-up")
        check(r.returncode == 0, "trim continue: exit 0 (rc=%d %s)" % (r.returncode, r.stderr[-300:]))
        trimmed = set(d.stats()["trimmed"])
        check(len(trimmed) == 5, "trim continue: the double trimmed 5 records")
        want = {k: [e for e in v if e[0] not in trimmed] for k, v in d.expect.items()}
        want = {k: v for k, v in want.items() if v}
        got = read_events(out)
        check(got == want, "trim continue: everything but the trimmed records, in order")
        check(stream_stats(st).get("trimmed_data_losses") == 1, "trim continue: loss counted in stats")
        check("data loss" in r.stderr.lower(), "trim continue: loss still reported loudly on stderr")
    finally:
        d.stop()


def test_kill_restart(cmd, stats_opt, tmp):
    d = Double(tmp, "--delay-ms", "15", "--records-per-page", "3")
    try:
        out = os.path.join(tmp, "kill.jsonl")
        cp = os.path.join(tmp, "kill.checkpoint")
        cfg = write_config(tmp, d.port)
        total = sum(len(v) for v in d.expect.values())
        p = subprocess.Popen(cmd + ["-c", cfg, "-o", out, "--mode", "stream", "--from", "trim_horizon",
                                    "--checkpoint", cp, "--until-caught-up"], stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            n = sum(1 for _ in open(out)) if os.path.exists(out) else 0
            if n > total // 3 and os.path.exists(cp):
                break
            time.sleep(0.05)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        check(killed, "kill: source was killed mid-stream (SIGKILL)")
        first_events = []
        with open(out) as f:
            for line in f:
                if line.endswith("\n"):
                    first_events.append(json.loads(line))
        first = len(first_events)
        cpj = json.load(open(cp))
        stored = {sh["id"]: sh for sh in cpj.get("stream", {}).get("shards", [])}
        # What the checkpoint does not cover: events out before the kill past a stored position
        # (or on a shard it does not know). Only those may come out again.
        uncovered = sum(1 for ev in first_events if ev["shard"] not in stored or not stored[ev["shard"]]["seq"] or
                        int(ev["sequence"]) > int(stored[ev["shard"]]["seq"]))
        n_iters = len(d.stats()["iterators"])
        r, st = run_source(cmd, stats_opt, cfg, out, tmp, "--from", "trim_horizon", "--checkpoint", cp,
                           "--until-caught-up")
        iters = d.stats()["iterators"][n_iters:]
        first_iter = {}
        for shard, typ, seq in iters:
            first_iter.setdefault(shard, (typ, seq))
        wrong = []
        for sid, sh in stored.items():
            got_it = first_iter.get(sid)
            if sh["finished"]:
                if got_it is not None:
                    wrong.append((sid, "finished, yet asked", got_it))
            elif sh["seq"] and got_it != ("AFTER_SEQUENCE_NUMBER", sh["seq"]):
                wrong.append((sid, "stored " + sh["seq"], got_it))
        check(stored and not wrong, "kill: the resumed run asks each stored shard for an iterator AFTER its stored "
              "sequence number, none for finished shards (%d shards stored; wrong: %s)" % (len(stored), wrong[:3]))
        second = []
        with open(out) as f:
            second = [json.loads(x) for x in f][first:]
        before = [ev for ev in second if ev["shard"] in stored and stored[ev["shard"]]["seq"] and
                  int(ev["sequence"]) <= int(stored[ev["shard"]]["seq"])]
        check(not before, "kill: the resumed run emits nothing at or before a stored position (%d did, e.g. %s)" %
              (len(before), [(e["shard"], e["sequence"]) for e in before[:2]]))
        check(r.returncode == 0, "kill: restart with --checkpoint exits 0 (rc=%d %s)" % (r.returncode,
                                                                                         r.stderr[-300:]))
        got = read_events(out)
        dd = {k: dedup_first(v) for k, v in got.items()}
        check(dd == d.expect, "kill: after restart no event lost and per-key order holds (first run %d of %d "
              "events)" % (first, total))
        dup = sum(len(v) for v in got.values()) - total
        check(dup <= uncovered, "kill: duplicates bounded by what the checkpoint did not cover at the kill (%d "
              "duplicates, %d of the first run's %d events uncovered)" % (dup, uncovered, first))
    finally:
        d.stop()


def test_sigterm(cmd, stats_opt, tmp):
    d = Double(tmp, "--no-faults", "--empty-pages")
    try:
        out = os.path.join(tmp, "term.jsonl")
        cp = os.path.join(tmp, "term.checkpoint")
        total = sum(len(v) for v in d.expect.values())
        import socket
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        mport = sock.getsockname()[1]
        sock.close()
        cfg = write_config(tmp, d.port, metrics_address="127.0.0.1:%d" % mport)
        p = subprocess.Popen(cmd + ["-c", cfg, "-o", out, "--mode", "stream", "--from",
                                    "trim_horizon", "--checkpoint", cp], stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            n = sum(1 for _ in open(out)) if os.path.exists(out) else 0
            if n >= total:
                break
            time.sleep(0.1)
        import urllib.request
        inserts = sum(1 for v in d.expect.values() for e in v if e[1] == "INSERT")

        def metrics_ok(metrics):
            return ('ddbpipe_source_events_total{op="insert"} %d' % inserts in metrics and
                    "ddbpipe_source_shards_closed 3" in metrics and "ddbpipe_source_shard_ms_behind{shard=" in metrics)
        # The last events can be out before the GetRecords answer that closes their shard was taken in
        # (seconds apart on a loaded machine): scrape until the figures are there, or the deadline.
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=5) as r:
                    metrics = r.read().decode()
            except OSError as e:
                metrics = str(e)
            if metrics_ok(metrics) or time.time() > deadline:
                break
            time.sleep(0.2)
        check(metrics_ok(metrics),
              "sigterm: Prometheus metrics count events per op, closed shards, ms behind per shard")
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -1
        check(rc == 0, "sigterm: following source exits 0 on SIGTERM (rc=%s)" % rc)
        check(read_events(out) == d.expect, "sigterm: all events written before exit")
        served = d.stats()["calls"]
        check(served.get("empty_pages_served_open", 0) >= 3 and served.get("empty_pages_served", 0) >= 6,
              "sigterm: the events include those after an empty page in the middle of every shard, open ones "
              "too (%s empty pages served, %s on open shards)" % (served.get("empty_pages_served"),
                                                                 served.get("empty_pages_served_open")))
        cpj = json.load(open(cp)) if os.path.exists(cp) else {}
        shards = {s["id"]: s for s in cpj.get("stream", {}).get("shards", [])}
        check(len(shards) == 7 and all(s["seq"] for s in shards.values()),
              "sigterm: checkpoint has a position for all 7 shards")
        check(sum(1 for s in shards.values() if s["finished"]) == 3, "sigterm: checkpoint marks 3 shards finished")
        # A restart from that checkpoint has nothing new to emit.
        before = sum(1 for _ in open(out))
        r, _ = run_source(cmd, stats_opt, write_config(tmp, d.port), out, tmp, "--checkpoint", cp,
                          "--until-caught-up")
        after = sum(1 for _ in open(out))
        check(r.returncode == 0 and after == before, "sigterm: restart from the checkpoint repeats nothing "
              "(%d new lines)" % (after - before))
    finally:
        d.stop()


def test_gone_shard(cmd, stats_opt, tmp):
    """A checkpoint naming a shard that no longer exists (trimmed away: GetShardIterator answers
    ResourceNotFoundException) follows the trim rules: unread records there are data loss, exit 3;
    on_trimmed_data=continue counts the loss and goes on (exit 0); a finished one is no loss."""
    d = Double(tmp, "--no-faults")
    try:
        out = os.path.join(tmp, "gone.jsonl")
        cp = os.path.join(tmp, "gone.checkpoint")
        cfg = write_config(tmp, d.port)
        r, st = run_source(cmd, stats_opt, cfg, out, tmp, "--from", "trim_horizon", "--checkpoint", cp,
                           "--until-caught-up")
        check(r.returncode == 0, "gone: the first run reads the stream (rc=%d %s)" % (r.returncode, r.stderr[-300:]))
        base = json.load(open(cp))
        gone = "shardId-00000-Z"

        def with_gone(seq, finished):
            ck = json.loads(json.dumps(base))
            ck["stream"]["shards"].insert(0, {"id": gone, "parent": None, "seq": seq, "finished": finished})
            path = os.path.join(tmp, "gone-%d.checkpoint" % time.monotonic_ns())
            with open(path, "w") as f:
                json.dump(ck, f)
            return path

        for seq in ("100000000000000000001", None):
            what = "read up to a sequence" if seq else "never read"
            r, st = run_source(cmd, stats_opt, cfg, out, tmp, "--checkpoint", with_gone(seq, False),
                               "--until-caught-up")
            check(r.returncode == 3 and "data loss" in r.stderr and gone in r.stderr and
                  "no longer exists" in r.stderr,
                  "gone (%s): stops with exit 3, data loss named with the shard (rc=%d %s)" %
                  (what, r.returncode, r.stderr.strip()[-300:]))
            check(stream_stats(st).get("trimmed_data_losses") == 1, "gone (%s): the loss is counted" % what)
            cfgc = write_config(tmp, d.port, on_trimmed_data="continue")
            ck = with_gone(seq, False)
            r, st = run_source(cmd, stats_opt, cfgc, out, tmp, "--checkpoint", ck, "--until-caught-up")
            check(r.returncode == 0 and "data loss" in r.stderr.lower(),
                  "gone (%s), on_trimmed_data=continue: exit 0, the loss still reported (rc=%d %s)" %
                  (what, r.returncode, r.stderr.strip()[-300:]))
            check(stream_stats(st).get("trimmed_data_losses") == 1,
                  "gone (%s), continue: the loss is counted once (%s)" %
                  (what, stream_stats(st).get("trimmed_data_losses")))
            left = [sh for sh in json.load(open(ck))["stream"]["shards"] if sh["id"] == gone and not sh["finished"]]
            check(not left, "gone (%s), continue: the checkpoint no longer waits on the shard" % what)
        n_iters = len(d.stats()["iterators"])
        r, st = run_source(cmd, stats_opt, cfg, out, tmp, "--checkpoint", with_gone("100000000000000000001", True),
                           "--until-caught-up")
        check(r.returncode == 0 and stream_stats(st).get("trimmed_data_losses") == 0,
              "gone but finished: no loss, exit 0 (rc=%d %s)" % (r.returncode, r.stderr.strip()[-300:]))
        check(not [i for i in d.stats()["iterators"][n_iters:] if i[0] == gone],
              "gone but finished: no iterator asked for it")
    finally:
        d.stop()


def main():
    cmd, stats_opt = source_cmd()
    print("using", " ".join(cmd))
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_split, test_trim_stop, test_trim_continue, test_kill_restart, test_sigterm,
                  test_gone_shard):
            t(cmd, stats_opt, tmp)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
