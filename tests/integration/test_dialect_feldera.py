#!/usr/bin/python3
"""Feldera dialect (seed 004), accepted verbatim: the `dynamodb_output` connector JSON array, its `config`
object alone, and the whole Feldera SQL program (`ddbpipe sink --sql`), each copied as it stands with
only endpoint_url/credentials added for DynamoDB Local (and the table name made unique), drive a
`ddbpipe sink` run into seed 004's composite id (N) / sort (S) table; the scanned table equals the
model of the Feldera insert/delete stream."""
import json

from dialect_common import *  # noqa: F401,F403 (the shared harness)


def n(x):
    return {"N": str(x)}


def s(x):
    return {"S": x}


LINES = [{"insert": {"id": i, "sort": "s%d" % i, "s": "v%d" % i}} for i in range(5)] + [
    {"delete": {"id": 1, "sort": "s1", "s": "v1"}},
    {"delete": {"id": 2, "sort": "s2", "s": "v2"}},
    {"insert": {"id": 2, "sort": "s2", "s": "updated"}},  # delete then insert: an update
    {"insert": {"id": 3, "sort": "other", "s": None}},
    {"insert": {"id": 4, "sort": "s4", "s": "v4 again"}},
]
MODEL = {("0", "s0"): {"id": n(0), "sort": s("s0"), "s": s("v0")},
         ("2", "s2"): {"id": n(2), "sort": s("s2"), "s": s("updated")},
         ("3", "s3"): {"id": n(3), "sort": s("s3"), "s": s("v3")},
         ("3", "other"): {"id": n(3), "sort": s("other"), "s": {"NULL": True}},
         ("4", "s4"): {"id": n(4), "sort": s("s4"), "s": s("v4 again")}}
LOCAL = ('"endpoint_url": "%s",\n"aws_access_key_id": "AKIDDIALECT",\n"aws_secret_access_key": "secret",\n'
         % ENDPOINT)


def localize(text, table):
    """Point the seed's config at DynamoDB Local: endpoint and credentials added, table renamed."""
    assert '"table": "feldera_out"' in text
    return text.replace('"table": "feldera_out",', '"table": "%s",\n%s' % (table, LOCAL.rstrip(",\n")) + ",")


def run_case(label, args, table):
    p = sink(args + ["--format", "feldera"], LINES)
    check(p.returncode == 0, "%s: exit 0" % label, p.stderr)
    got = keyed(scan(table), "id", "sort")
    check(got == MODEL, "%s: scanned table equals the model" % label, (got, MODEL))


def main():
    print("case: seed 004 connectors JSON array (-c)")
    conn = seed_example("feldera_connectors.json")
    arr = json.loads(conn)
    check(arr[0]["transport"] == {"name": "dynamodb_output",
                                  "config": {"table": "feldera_out", "region": "us-east-1"}},
          "the example is seed 004's connector as written", arr)
    t = "feldera_out_c_" + SUFFIX
    create(t, "id", "N", "sort", "S")
    run_case("connectors JSON", ["-c", write("connectors.json", localize(conn, t)), "--quiet"], t)

    print("case: seed 004 transport config object (-c)")
    t = "feldera_out_o_" + SUFFIX
    create(t, "id", "N", "sort", "S")
    run_case("config object", ["-c", write("config.json", localize(seed_example("feldera_config.json"), t)),
                               "--quiet"], t)

    print("case: seed 004 whole SQL program (sink --sql): key from CREATE INDEX v1_idx ON v1(id, sort)")
    t = "feldera_out_p_" + SUFFIX
    prog = localize(seed_example("feldera_program.sql"), t)
    check("CREATE INDEX v1_idx ON v1(id, sort);" in prog, "the program keeps its index", prog[-200:])
    # The table does not exist: the sink creates it from the index columns and the view's column types
    # (id INT -> N, sort VARCHAR -> S), so the key really comes from the SQL.
    run_case("SQL program", ["--sql", write("program.sql", prog), "--set", "create_table_if_missing=true"], t)
    CREATED.append(t)
    ks = DDB.describe_table(TableName=t)["Table"]
    check({(k["AttributeName"], k["KeyType"]) for k in ks["KeySchema"]} == {("id", "HASH"), ("sort", "RANGE")},
          "created table's key is the index (id HASH, sort RANGE)", ks["KeySchema"])
    check({(a["AttributeName"], a["AttributeType"]) for a in ks["AttributeDefinitions"]} ==
          {("id", "N"), ("sort", "S")}, "key types from the view's columns (INT -> N, VARCHAR -> S)",
          ks["AttributeDefinitions"])

    print("case: sink --sql and -c together is a usage error")
    p = sink(["--sql", write("p2.sql", prog), "-c", write("c2.json", localize(conn, t))], [])
    check(p.returncode == 2 and "--sql" in p.stderr, "exit 2 naming --sql", (p.returncode, p.stderr))


try:
    main()
finally:
    finish()
