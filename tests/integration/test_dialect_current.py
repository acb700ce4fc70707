#!/usr/bin/python3
"""The peers' configurations as they are written today (issue 10), each run verbatim against DynamoDB
Local (only the endpoint and local credentials added), and each error case with its message:

  Feldera    dynamodb_output with put_condition_expression / delete_condition_expression (transactional):
             a false condition skips the change and counts condition_failed (summary, stats file), exit 0;
             a Feldera program with unquoted upper-case names (CREATE INDEX v1_idx ON v1(ID, Sort)) over a
             table keyed id/sort; quoted names keep their case.
  Estuary    credentials {auth_type: AWSAccessKey ...} with several bindings picked by --set table=NAME,
             `_meta.op = "d"` documents delete; {auth_type: AWSIAM, aws_region, aws_role_arn} assumes the
             role over the default chain (a loopback STS double).
  Flink      DynamoDB Streams source options (flink.stream.initpos, durations "5 s", ...) drive
             `ddbpipe source`; `--from` wins only when given. SQL DDL quoted identifiers (`full name`,
             dots, reserved words, escaped backticks) through `sink --sql`, `ddbpipe sql` and a YAML map.
  Placeholders ${VAR} and ${VAR:-default} in YAML, JSON and SQL; an unset variable names itself and
             the file."""
import json
import os
import subprocess

from dialect_common import *  # noqa: F401,F403 (the shared harness)

ENV = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
LOCAL_JSON = '"endpoint_url": "%s", "aws_access_key_id": "AKIDDIALECT", "aws_secret_access_key": "secret"' % ENDPOINT


def run(args, stdin_lines=None, env=None, timeout=180):
    e = dict(ENV)
    e.update(env or {})
    inp = None
    if stdin_lines is not None:
        inp = "".join(json.dumps(x) + "\n" for x in stdin_lines)
    return subprocess.run([BIN] + args, input=inp, capture_output=True, text=True, timeout=timeout, env=e)


def put(table, item):
    DDB.put_item(TableName=table, Item=item)


def feldera_conditions():
    print("case: Feldera put_condition_expression / delete_condition_expression (transactional)")
    t = "feld_cond_" + SUFFIX
    create(t, "id", "N")
    for i in (0, 1, 2, 10, 11):  # ids 0..2 exist: puts conditioned on absence skip them
        put(t, {"id": {"N": str(i)}, "s": {"S": "old"}, "locked": {"BOOL": i == 11}})
    cfg = write("feldera_cond.json", """[{
  "index": "v1_idx",
  "transport": {
    "name": "dynamodb_output",
    "config": {
      "table": "%s",
      "region": "us-east-1",
      %s,
      "write_mode": "transactional",
      "put_condition_expression": "attribute_not_exists(id)",
      "delete_condition_expression": "attribute_exists(id) AND locked = :f",
      "expression_attribute_values": {":f": {"BOOL": false}}
    }
  }
}]""" % (t, LOCAL_JSON))
    # keys of inserts and deletes differ, so no change folds into another whatever the batching
    lines = [{"insert": {"id": i, "s": "new"}} for i in range(5)] + [
        {"delete": {"id": 10}},  # locked false: deleted
        {"delete": {"id": 11}},  # locked true: condition false, skipped
    ]
    st = os.path.join(WD, "cond_stats.json")
    p = run(["sink", "-c", cfg, "--format", "feldera", "--stats-file", st, "--dead-letter",
             os.path.join(WD, "cond_dead.jsonl")], lines)
    check(p.returncode == 0, "condition: exit 0 (false conditions are skips, not errors)", p.stderr[-500:])
    got = {k[0]: v for k, v in keyed(scan(t), "id").items()}
    check(sorted(got) == ["0", "1", "11", "2", "3", "4"], "condition: id 10 deleted, locked id 11 kept",
          sorted(got))
    check(got.get("0", {}).get("s") == {"S": "old"} and got.get("3", {}).get("s") == {"S": "new"},
          "condition: existing ids kept their item, new ids were written", got)
    stats = json.load(open(st))
    # the puts of 0, 1, 2 fail attribute_not_exists(id); the delete of 11 fails locked = :f
    check(stats.get("condition_failed") == 4 and stats.get("dead_lettered") == 0 and
          stats.get("records_written") == 2 and stats.get("records_deleted") == 1,
          "condition: stats file counts condition_failed 4, 2 puts, 1 delete, no dead letters", stats)
    check("4 condition_failed (skipped)" in p.stderr, "condition: the summary counts condition_failed",
          p.stderr[-400:])
    # error case: a condition in batch mode
    bad = write("feldera_cond_batch.json", open(cfg).read().replace('"transactional"', '"batch"'))
    p = run(["config", "-c", bad, "--for", "sink"])
    check(p.returncode == 2 and "condition_expression and delete_condition_expression need write_mode "
          "transactional" in p.stderr, "condition: batch mode is refused with its reason", p.stderr)


FELDERA_PROGRAM = """-- Feldera SQL with upper-case unquoted names (Feldera folds them to lower case)
CREATE TABLE T0 (ID INT NOT NULL, Sort VARCHAR NOT NULL, S VARCHAR) WITH (
'connectors' = '[{"transport": {"name": "datagen", "config": {"plan": [{ "rate": 1, "limit": 5 }]}}}]'
);
CREATE MATERIALIZED VIEW V1 WITH (
'connectors' = '[{
"index": "v1_idx",
"transport": {
"name": "dynamodb_output",
"config": {
"table": "%s",
"region": "us-east-1",
%s
}
}
}]'
) AS SELECT * FROM T0;
CREATE INDEX v1_idx ON v1(%s);
"""


def feldera_case():
    print("case: Feldera program, unquoted names case-insensitive: CREATE INDEX v1_idx ON v1(ID, Sort)")
    t = "feld_case_" + SUFFIX
    create(t, "id", "N", "sort", "S")
    prog = write("feldera_case.sql", FELDERA_PROGRAM % (t, LOCAL_JSON, "ID, Sort"))
    lines = [{"insert": {"id": i, "sort": "s%d" % i, "s": "v"}} for i in range(3)] + [
        {"delete": {"id": 1, "sort": "s1", "s": "v"}}]
    p = run(["sink", "--sql", prog, "--format", "feldera", "--quiet"], lines)
    check(p.returncode == 0, "feldera case: sink --sql exit 0 (no key-schema mismatch)", p.stderr[-500:])
    check(sorted(keyed(scan(t), "id", "sort")) == [("0", "s0"), ("2", "s2")], "feldera case: table as the model",
          sorted(keyed(scan(t), "id", "sort")))
    p = run(["config", "-c", prog])
    check("partition_key = id" in p.stdout and "sort_key = sort" in p.stdout and "columns = id INT, sort VARCHAR"
          in p.stdout, "feldera case: names folded to lower case", p.stdout)
    # quoted names keep their case: "ID" is not the table's id
    prog = write("feldera_quoted.sql", FELDERA_PROGRAM.replace("T0 (ID INT", 'T0 ("ID" INT') %
                 (t, LOCAL_JSON, '"ID", Sort'))
    p = run(["sink", "--sql", prog, "--format", "feldera", "--quiet"], lines)
    check(p.returncode != 0 and "table '%s' has partition key id (N) but config says ID" % t in p.stderr,
          "feldera case: a quoted \"ID\" keeps its case (key-schema mismatch named)", p.stderr[-500:])


ESTUARY = """materializations:
  acmeCo/dynamodb:
    endpoint:
      connector:
        image: ghcr.io/estuary/materialize-dynamodb:dev
        config:
          credentials:
            auth_type: %s
          region: us-east-1
          advanced:
            endpoint: "%s"
    bindings:
      - resource:
          table: ${EST_TABLE_A}
        source: acmeCo/orders
      - resource:
          table: %s
        source: acmeCo/customers
collections:
  acmeCo/orders:
    key: [/id]
  acmeCo/customers:
    key: [/id]
"""


def estuary_access_key():
    print("case: Estuary credentials {auth_type: AWSAccessKey}, two bindings, --set table=NAME, _meta.op d")
    ta, tb = "est_a_" + SUFFIX, "est_b_" + SUFFIX
    creds = "AWSAccessKey\n            aws_access_key_id: AKIDESTUARY\n            aws_secret_access_key: secret"
    cfg = write("estuary.yaml", ESTUARY % (creds, ENDPOINT, tb))
    env = {"EST_TABLE_A": ta}
    docs = [{"id": "x", "v": 1, "_meta": {"op": "c"}}, {"id": "y", "v": 2, "_meta": {"op": "c"}},
            {"id": "x", "_meta": {"op": "d"}}]
    p = run(["sink", "-c", cfg, "--quiet"], docs, env)
    check(p.returncode == 2 and "has 2 bindings (%s, %s)" % (ta, tb) in p.stderr and
          "choose one with --set table=NAME" in p.stderr, "estuary: two bindings without --set: the choice is asked",
          p.stderr)
    p = run(["sink", "-c", cfg, "--set", "table=nope_" + SUFFIX, "--quiet"], docs, env)
    check(p.returncode == 2 and "none for table 'nope_%s'" % SUFFIX in p.stderr,
          "estuary: --set table of no binding is named", p.stderr)
    p = run(["sink", "-c", cfg, "--set", "table=" + tb, "--quiet"], docs, env)
    check(p.returncode == 0, "estuary: --set table=NAME picks the binding (exit 0)", p.stderr[-500:])
    got = keyed(scan(tb), "id")
    check(sorted(got) == [("y",)], "estuary: _meta.op d deleted x, y written", sorted(got))
    check("flow_document" in got.get(("y",), {}), "estuary: the document is stored as flow_document", got)
    # the first binding through its placeholder
    p = run(["sink", "-c", cfg, "--set", "table=" + ta, "--quiet"], docs[:2], env)
    check(p.returncode == 0 and sorted(keyed(scan(ta), "id")) == [("x",), ("y",)],
          "estuary: ${EST_TABLE_A} binding chosen by its expanded name", p.stderr[-500:])
    CREATED.extend([ta, tb])
    bad = write("estuary_bad.yaml", ESTUARY % ("AWSKeys", ENDPOINT, tb))
    p = run(["config", "-c", bad], env=env)
    check(p.returncode == 2 and "auth_type 'AWSKeys' is not AWSAccessKey or AWSIAM" in p.stderr,
          "estuary: an unknown auth_type is named", p.stderr)
    bad = write("estuary_bad2.yaml", ESTUARY % ("AWSAccessKey\n            aws_access_key_id: AKIDX", ENDPOINT, tb))
    p = run(["config", "-c", bad], env=env)
    check(p.returncode == 2 and "with auth_type AWSAccessKey need 'aws_secret_access_key'" in p.stderr,
          "estuary: a missing credential field is named", p.stderr)


def estuary_iam():
    print("case: Estuary credentials {auth_type: AWSIAM}: aws_role_arn assumed over the default chain")
    dbl = subprocess.Popen(["/usr/bin/python3", os.path.join(SRC, "tests", "fault", "cred_doubles.py")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(dbl.stdout.readline().split()[1])
        sts = "http://127.0.0.1:%d" % port
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(sts + "/__control", data=json.dumps(
            {"expect_akid": "AKIDCHAIN", "expect_secret": "chain-secret"}).encode(), method="POST")).read()
        tb = "est_iam_" + SUFFIX
        creds = ("AWSIAM\n            aws_region: us-east-1\n            aws_role_arn: "
                 "arn:aws:iam::123456789012:role/estuary-ddb")
        cfg = write("estuary_iam.yaml", ESTUARY % (creds, ENDPOINT, tb))
        env = {"EST_TABLE_A": "unused_a", "AWS_ENDPOINT_URL_STS": sts, "AWS_ACCESS_KEY_ID": "AKIDCHAIN",
               "AWS_SECRET_ACCESS_KEY": "chain-secret", "AWS_CONFIG_FILE": "/nonexistent",
               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
        p = run(["sink", "-c", cfg, "--set", "table=" + tb, "--quiet"], [{"id": "z", "v": 3}], env)
        check(p.returncode == 0 and sorted(keyed(scan(tb), "id")) == [("z",)],
              "estuary iam: the sink ran with the assumed role's credentials", p.stderr[-500:])
        CREATED.append(tb)
        stats = json.loads(urllib.request.urlopen(sts + "/__stats").read())
        check(stats["last_sts"].get("action") == "AssumeRole" and
              stats["last_sts"].get("role_arn") == "arn:aws:iam::123456789012:role/estuary-ddb" and
              not stats["rejected"], "estuary iam: STS AssumeRole of aws_role_arn signed with the chain's keys",
              stats)
    finally:
        dbl.stdin.close()
        dbl.wait(timeout=10)


def flink_source():
    print("case: Flink DynamoDB Streams source options drive `ddbpipe source`")
    t = "flink_src_" + SUFFIX
    DDB.create_table(TableName=t, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    DDB.get_waiter("table_exists").wait(TableName=t)
    CREATED.append(t)
    for i in range(4):
        put(t, {"id": {"S": "k%d" % i}})

    def cfg(initpos):
        return write("flink_src_%s.yaml" % initpos, """table: %s
region: us-east-1
endpoint_url: %s
aws_access_key_id: AKIDDIALECT
aws_secret_access_key: secret
flink.stream.initpos: %s
flink.shard.discovery.intervalmillis: "5 s"
flink.describestream.inconsistencyresolution.retries: 3
flink.dynamodbstreams.numretries: 4
flink.dynamodbstreams.backoff.mindelayduration: 100
flink.dynamodbstreams.backoff.maxdelay: 2 s
flink.dynamodbstreams.getrecords.empty.mindelay: "200"
flink.dynamodbstreams.getrecords.nonempty.mindelay: 50 ms
""" % (t, ENDPOINT, initpos))

    def events(p):
        return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]

    c = cfg("TRIM_HORIZON")
    p = run(["config", "-c", c, "--for", "source"])
    check(p.returncode == 0 and "stream_start_position = trim_horizon" in p.stdout and
          "discovery_interval_ms = 5000" in p.stdout and "poll_busy_ms = 50" in p.stdout and
          "retry_backoff_max_ms = 2000" in p.stdout and "inconsistent_listing_retries = 3" in p.stdout and
          "max_retries = 4" in p.stdout, "flink source: options reach their properties (durations too)", p.stdout)
    p = run(["source", "-c", c, "--mode", "stream", "--until-caught-up", "--quiet"])
    ev = events(p)
    check(p.returncode == 0 and len([e for e in ev if e.get("op") == "insert"]) == 4,
          "flink source: TRIM_HORIZON reads the 4 earlier changes", (p.returncode, p.stderr[-300:], len(ev)))
    c = cfg("LATEST")
    p = run(["source", "-c", c, "--mode", "stream", "--until-caught-up", "--quiet"])
    check(p.returncode == 0 and not events(p), "flink source: LATEST skips the earlier changes",
          (p.returncode, p.stderr[-300:], p.stdout[:300]))
    p = run(["source", "-c", c, "--mode", "stream", "--until-caught-up", "--from", "trim_horizon", "--quiet"])
    check(p.returncode == 0 and len(events(p)) == 4, "flink source: --from trim_horizon wins over the file",
          p.stderr[-300:])
    bad = write("flink_bad.yaml", open(c).read().replace("initpos: LATEST", "initpos: AT_TIMESTAMP"))
    p = run(["source", "-c", bad, "--mode", "stream", "--until-caught-up"])
    check(p.returncode == 2 and "invalid value 'AT_TIMESTAMP' for 'flink.stream.initpos' (stream_start_position): "
          "expected one of trim_horizon|latest" in p.stderr, "flink source: a bad initpos is named", p.stderr)
    bad = write("flink_bad2.yaml", open(c).read().replace('intervalmillis: "5 s"', 'intervalmillis: "5 parsecs"'))
    p = run(["config", "-c", bad])
    check(p.returncode == 2 and "invalid value '5 parsecs' for 'flink.shard.discovery.intervalmillis'" in p.stderr,
          "flink source: a bad duration is named", p.stderr)


FLINK_DDL = """CREATE TABLE people (
  `id` BIGINT,
  `full name` STRING,
  `a.b` INT,
  `select` VARCHAR,
  `it``s` STRING,
  PRIMARY KEY (`id`) NOT ENFORCED
) WITH (
  'connector' = 'dynamodb',
  'table-name' = '%s',
  'aws.region' = '${FLINK_REGION:-us-east-1}',
  'aws.endpoint' = '%s',
  'aws.credentials.provider' = 'BASIC',
  'aws.credentials.basic.accesskeyid' = '${FLINK_AKID}',
  'aws.credentials.basic.secretkey' = 'secret'
);
"""
QUOTED = {"id": 1, "full name": "Ada Lovelace", "a.b": 7, "select": "yes", "it`s": "mine"}


def flink_quoted():
    print("case: Flink SQL DDL quoted identifiers are whole names (sink --sql, ddbpipe sql, YAML columns)")
    t = "flink_q_" + SUFFIX
    create(t, "id", "N")
    ddl = write("flink_q.sql", FLINK_DDL % (t, ENDPOINT))
    env = {"FLINK_AKID": "AKIDFLINK"}
    p = run(["sink", "--sql", ddl, "--quiet"], [QUOTED], env)
    check(p.returncode == 0, "quoted: sink --sql exit 0", p.stderr[-500:])
    it = keyed(scan(t), "id").get(("1",), {})
    check(it.get("full name") == {"S": "Ada Lovelace"} and it.get("a.b") == {"N": "7"} and
          it.get("select") == {"S": "yes"} and it.get("it`s") == {"S": "mine"},
          "quoted: attribute names are the whole quoted names", it)
    script = write("flink_q_script.sql", FLINK_DDL % (t, ENDPOINT) + """
INSERT INTO people (`id`, `full name`, `a.b`, `select`, `it``s`) VALUES (2, 'Grace Hopper', 8, 'no', 'yours');
SELECT `full name`, `a.b`, `it``s` FROM people WHERE `id` = 2;
""")
    p = run(["sql", script], env=env)
    rows = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    check(p.returncode == 0 and rows == [{"full name": "Grace Hopper", "a.b": 8, "it`s": "yours"}],
          "quoted: ddbpipe sql INSERT and SELECT by quoted names", (p.stdout, p.stderr))
    yaml = write("flink_q.yaml", """table: %s
region: us-east-1
endpoint_url: %s
aws_access_key_id: AKIDDIALECT
aws_secret_access_key: secret
columns:
  id: BIGINT
  full name: STRING
  "a.b": INT
""" % (t, ENDPOINT))
    p = run(["sink", "-c", yaml, "--quiet"], [{"id": 3, "full name": "Edsger", "a.b": "9"}])
    it = keyed(scan(t), "id").get(("3",), {})
    check(p.returncode == 0 and it.get("a.b") == {"N": "9"} and it.get("full name") == {"S": "Edsger"},
          "quoted: a YAML columns map with spaces and dots in names", (p.stderr[-300:], it))
    p = run(["config", "-c", ddl, "--for", "sink"], env={})
    check(p.returncode == 2 and "environment variable FLINK_AKID, which is not set" in p.stderr and ddl in p.stderr,
          "placeholders: an unset ${VAR} in SQL names the variable and the file", p.stderr)


def placeholders():
    print("case: ${VAR} and ${VAR:-default} placeholders in YAML and JSON")
    t = "ph_" + SUFFIX
    create(t, "id", "S")
    y = write("ph.yaml", """table: ${PH_TABLE}
region: ${PH_REGION:-us-east-1}
endpoint_url: ${PH_ENDPOINT}
aws_access_key_id: ${PH_AKID:-AKIDPLACEHOLDER}
aws_secret_access_key: secret
""")
    p = run(["sink", "-c", y, "--quiet"], [{"id": "a"}], {"PH_TABLE": t, "PH_ENDPOINT": ENDPOINT})
    check(p.returncode == 0 and sorted(keyed(scan(t), "id")) == [("a",)], "placeholders: YAML run", p.stderr)
    j = write("ph.json", '{"table": "${PH_TABLE}", "region": "${PH_REGION:-us-east-1}", "endpoint_url": '
              '"${PH_ENDPOINT}", "aws_access_key_id": "AKIDPH", "aws_secret_access_key": "s"}')
    p = run(["sink", "-c", j, "--quiet"], [{"id": "b"}], {"PH_TABLE": t, "PH_ENDPOINT": ENDPOINT})
    check(p.returncode == 0 and sorted(keyed(scan(t), "id")) == [("a",), ("b",)], "placeholders: JSON run", p.stderr)
    p = run(["sink", "-c", y, "--quiet"], [{"id": "c"}], {"PH_ENDPOINT": ENDPOINT})
    check(p.returncode == 2 and "%s:1: value of 'table' refers to environment variable PH_TABLE, which is not set" % y
          in p.stderr, "placeholders: an unset variable without a default names itself and the file", p.stderr)
    check(sorted(keyed(scan(t), "id")) == [("a",), ("b",)], "placeholders: nothing written on the error")


def main():
    # Flink and the placeholders run in test_dialect_current_flink.py (this file's functions), so each
    # file stays near a minute under valgrind.
    feldera_conditions()
    feldera_case()
    estuary_access_key()
    estuary_iam()
    finish()


if __name__ == "__main__":
    main()
