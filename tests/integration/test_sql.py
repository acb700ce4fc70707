#!/usr/bin/python3
"""`ddbpipe sql FILE|-` against DynamoDB Local with seed 002's DDL (user_behavior: user_id, item_id,
category_id BIGINT, behavior STRING) plus PRIMARY KEY (user_id, item_id) NOT ENFORCED, 'aws.endpoint'
and BASIC credentials: INSERT VALUES, SELECT (Query, Scan, projection, sort-key ranges, LIKE, LIMIT),
DELETE, INSERT ... SELECT * FROM STDIN (JSON lines in any sink format), the text table, and errors that
name the statement, line and reason with exit 2 (SQL) or 3 (service). The table is checked with boto3.
"""
import json
import os
import subprocess
import sys
import tempfile

from ddblocal_env import BIN, ENDPOINT, FAILS, check, ddb_client

DDB = ddb_client("AKIDSQLTEST", region="us-east-2")
WD = tempfile.mkdtemp(prefix="ddbpipe-sql-it-")
TABLE = "user_behavior_%d" % os.getpid()

DDL = """-- seed 002, with the key declared and the endpoint pointed at DynamoDB Local
CREATE TABLE DynamoDbTable (
  `user_id` BIGINT,
  `item_id` BIGINT,
  `category_id` BIGINT,
  `behavior` STRING,
  PRIMARY KEY (user_id, item_id) NOT ENFORCED
)
WITH (
  'connector' = 'dynamodb',
  'table-name' = '%s',
  'aws.region' = 'us-east-2',
  'aws.endpoint' = '%s',
  'aws.credentials.provider' = 'BASIC',
  'aws.credentials.basic.accesskeyid' = 'AKIDSQLTEST',
  'aws.credentials.basic.secretkey' = 'secret'
);
"""


def sql(body, stdin=None, args=(), table=None, from_stdin=False, ddl=DDL):
    text = (ddl % (table or TABLE, ENDPOINT)) + body
    path = os.path.join(WD, "script.sql")
    with open(path, "w") as f:
        f.write(text)
    if from_stdin:
        cmd, inp = [BIN, "sql"] + list(args) + ["-"], text
    else:
        cmd, inp = [BIN, "sql"] + list(args) + [path], stdin if stdin is not None else ""
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=120)
    return p.returncode, [l for l in p.stdout.splitlines() if l], p.stderr


def row(u, i, c, b):
    return {"user_id": u, "item_id": i, "category_id": c, "behavior": b}


def scan():
    items, kw = [], {}
    while True:
        r = DDB.scan(TableName=TABLE, ConsistentRead=True, **kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            break
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    out = {}
    for it in items:
        plain = {k: (int(v["N"]) if "N" in v else v.get("S")) for k, v in it.items()}
        out[(plain["user_id"], plain["item_id"])] = plain
    return out


def main():
    DDB.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "N"},
                                           {"AttributeName": "item_id", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"},
                                {"AttributeName": "item_id", "KeyType": "RANGE"}])
    DDB.get_waiter("table_exists").wait(TableName=TABLE)

    print("case: INSERT VALUES, SELECT, DELETE, SELECT, INSERT ... SELECT * FROM STDIN in one file")
    tricky = "it's; -- not a comment /* nor this */"
    stdin = "\n".join([
        json.dumps(row(3, 30, 300, "fav")),                       # plain row: upsert
        json.dumps({"insert": row(1, 12, 9223372036854775807, "buy")}),  # Feldera insert, BIGINT max exact
        "",
        json.dumps({"delete": {"user_id": 2, "item_id": 20}}),   # Feldera delete
    ]) + "\n"
    rc, out, err = sql("""
INSERT INTO DynamoDbTable VALUES (1, 10, 100, 'pv'), (1, 11, 101, 'it''s; -- not a comment /* nor this */'),
  (2, 20, 200, 'cart');
SELECT * FROM DynamoDbTable WHERE user_id = 1;
/* a comment; with a semicolon */
SELECT behavior, item_id FROM DynamoDbTable WHERE user_id = 1 AND item_id >= 11;
DELETE FROM DynamoDbTable WHERE user_id = 1 AND item_id = 10;
SELECT * FROM DynamoDbTable WHERE user_id = 1;
INSERT INTO DynamoDbTable SELECT * FROM STDIN;
select * from DynamoDbTable where user_id = 1 limit 5
""", stdin=stdin)
    check(rc == 0, "script: exit 0", err)
    got = [json.loads(l) for l in out]
    want = [row(1, 10, 100, "pv"), row(1, 11, 101, tricky),
            {"behavior": tricky, "item_id": 11},
            row(1, 11, 101, tricky),
            row(1, 11, 101, tricky), row(1, 12, 9223372036854775807, "buy")]
    check(got == want, "script: SELECT rows in order (Query by key, projection, after DELETE, after STDIN)",
          (got, want))
    check(out and out[2] == '{"behavior":"it\'s; -- not a comment /* nor this */","item_id":11}',
          "projection keeps the SELECT's column order", out[2:3])
    check("9223372036854775807" in out[-1], "numbers are exact (BIGINT max)", out[-1:])
    check("statement 2 (line 19): INSERT: 3 rows written" in err, "notice names statement, line and count", err)
    check("DELETE: 1 row deleted" in err, "DELETE notice", err)
    model = {(1, 11): row(1, 11, 101, tricky), (1, 12): row(1, 12, 9223372036854775807, "buy"),
             (3, 30): row(3, 30, 300, "fav")}
    check(scan() == model, "table equals the model (boto3 scan)", scan())

    print("case: Scan, filters, BETWEEN, LIKE, LIMIT")
    rc, out, err = sql("SELECT * FROM DynamoDbTable;")
    check(rc == 0 and sorted(map(json.dumps, map(json.loads, out))) == sorted(map(json.dumps, model.values())),
          "SELECT * without WHERE scans every row", (rc, out, err))
    rc, out, err = sql("SELECT item_id FROM DynamoDbTable WHERE user_id = 1 AND item_id BETWEEN 12 AND 99;")
    check((rc, out) == (0, ['{"item_id":12}']), "BETWEEN on the sort key", (rc, out, err))
    rc, out, err = sql("SELECT user_id, item_id FROM DynamoDbTable WHERE behavior LIKE 'fa%';")
    check((rc, out) == (0, ['{"user_id":3,"item_id":30}']), "LIKE 'prefix%' on a non-key column (Scan filter)",
          (rc, out, err))
    rc, out, err = sql("SELECT item_id FROM DynamoDbTable WHERE user_id = 1 AND category_id > 1000;")
    check((rc, out) == (0, ['{"item_id":12}']), "other conditions filter a Query", (rc, out, err))
    rc, out, err = sql("SELECT * FROM DynamoDbTable LIMIT 1;")
    check(rc == 0 and len(out) == 1, "LIMIT 1 on a Scan gives one row", (rc, out, err))
    rc, out, err = sql("SELECT * FROM DynamoDbTable WHERE user_id = 42;")
    check((rc, out) == (0, []), "no rows: no output", (rc, out, err))

    print("case: text table (--format table; auto on a terminal)")
    rc, out, err = sql("SELECT user_id, item_id, behavior FROM DynamoDbTable WHERE user_id = 1;",
                       args=["--format", "table"])
    check(rc == 0 and len(out) == 5, "table: header, rule, 2 rows, footer", out)
    if len(out) == 5:
        check(out[0].split("|")[0].strip() == "user_id" and out[0].count("|") == 2, "table header", out[0])
        check(set(out[1]) <= set("-+") and out[1].count("+") == 2, "table rule", out[1])
        check(out[2].index("|") == out[0].index("|") == out[3].index("|"), "columns aligned", out)
        check(out[4] == "(2 rows)", "row count footer", out[4])

    print("case: script from stdin ('-')")
    rc, out, err = sql("SELECT item_id FROM DynamoDbTable WHERE user_id = 3;", from_stdin=True)
    check((rc, out) == (0, ['{"item_id":30}']), "ddbpipe sql - reads the script from stdin", (rc, out, err))
    rc, out, err = sql("INSERT INTO DynamoDbTable SELECT * FROM STDIN;", from_stdin=True)
    check(rc == 2 and "stdin holds the script" in err, "FROM STDIN with the script on stdin: exit 2", (rc, err))

    print("case: DELETE honours delete_condition_expression in transactional mode (as the sink does)")
    cond_ddl = DDL.replace("""'aws.credentials.basic.secretkey' = 'secret'""",
                           """'aws.credentials.basic.secretkey' = 'secret',
  'write_mode' = 'transactional',
  'delete_condition_expression' = '#b <> :keep',
  'expression_attribute_names' = '{"#b": "behavior"}',
  'expression_attribute_values' = '{":keep": {"S": "keep"}}'""")
    rc, out, err = sql("INSERT INTO DynamoDbTable VALUES (8, 80, 1, 'keep'), (8, 81, 1, 'drop');\n"
                       "DELETE FROM DynamoDbTable WHERE user_id = 8 AND item_id = 80;\n"
                       "DELETE FROM DynamoDbTable WHERE user_id = 8 AND item_id = 81;", ddl=cond_ddl)
    got = scan()
    check(rc == 0, "condition: a false delete condition is a skip, exit 0", (rc, err))
    check((8, 80) in got and (8, 81) not in got, "condition: the 'keep' row stayed, the other was deleted",
          sorted(got))
    check("0 rows deleted (delete_condition_expression is false" in err and "DELETE: 1 row deleted" in err,
          "condition: the notices say which delete was skipped", err)
    rc, out, err = sql("DELETE FROM DynamoDbTable WHERE user_id = 8 AND item_id = 80;")
    check(rc == 0 and (8, 80) not in scan(), "condition: batch mode (no condition) deletes the row", (rc, err))

    print("case: a row DynamoDB would refuse is dead-lettered as JSON; the other rows are written")
    dlq = os.path.join(WD, "dead.jsonl")
    rc, out, err = sql("INSERT INTO DynamoDbTable VALUES (5, 50, 1, 'ok'), (5, NULL, 2, 'no key'), (5, 51, 3, 'ok');",
                       args=["--dead-letter", dlq])
    check(rc == 1, "dead letter: exit 1", (rc, err))
    check("2 rows written" in err and "1 rejected" in err, "dead letter: the notice counts both", err)
    got = scan()
    check((5, 50) in got and (5, 51) in got, "dead letter: the good rows are in the table", sorted(got))
    with open(dlq) as f:
        dl = [json.loads(l) for l in f]
    check(len(dl) == 1 and dl[0]["line"] == 2 and "item_id" in dl[0]["reason"], "dead letter: row 2, reason", dl)
    rec = json.loads(dl[0]["record"]) if dl else {}
    check(rec.get("eventName") == "INSERT" and rec.get("dynamodb", {}).get("NewImage") ==
          {"user_id": {"N": "5"}, "item_id": {"NULL": True}, "category_id": {"N": "2"}, "behavior": {"S": "no key"}},
          "dead letter: the row as a DynamoDB Streams record (typed, replayable)", rec)

    print("case: errors name the statement, line and reason")
    cases = [
        ("SELECT * FROM nope;", 2, ["statement 2 (line 18)", "unknown table 'nope'", "DynamoDbTable"]),
        ("SELECT colour FROM DynamoDbTable;", 2, ["statement 2 (line 18)", "unknown column 'colour'"]),
        ("\nSELECT * FORM DynamoDbTable;", 2, ["statement 2", "syntax error", "line 19, column 10", "FORM"]),
        ("INSERT INTO DynamoDbTable VALUES (1, 'x', 3, 'a');", 2, ["statement 2", "row 1", "item_id", "'x'"]),
        ("INSERT INTO DynamoDbTable VALUES (1, 2);", 2, ["statement 2", "4 columns"]),
        ("INSERT INTO DynamoDbTable (user_id, colour) VALUES (1, 2);", 2, ["unknown column 'colour'"]),
        ("DELETE FROM DynamoDbTable WHERE user_id = 1;", 2, ["statement 2", "WHERE user_id = ... AND item_id"]),
        ("DROP TABLE DynamoDbTable;", 2, ["statement 2", "syntax error", "DROP"]),
    ]
    for body, want_rc, needles in cases:
        rc, out, err = sql(body)
        check(rc == want_rc and all(n in err for n in needles), "error: %s -> exit %d" % (body.strip(), want_rc),
              (rc, err))
    before = scan()
    rc, out, err = sql("INSERT INTO DynamoDbTable VALUES (7, 70, 1, 'a');\nSELECT * FROM DynamoDbTable WHERE x = ;")
    check(rc == 2 and scan() == before, "a syntax error anywhere: nothing runs", (rc, err))
    rc, out, err = sql("SELECT * FROM DynamoDbTable;", table="no_such_table_%d" % os.getpid())
    check(rc == 3 and "not found" in err and "statement 2" in err, "missing DynamoDB table: exit 3", (rc, err))
    check("secret" not in err, "secret key never printed", err)


try:
    main()
finally:
    import shutil
    shutil.rmtree(WD, ignore_errors=True)
    try:
        DDB.delete_table(TableName=TABLE)
    except Exception:
        pass
if FAILS:
    print("FAILED: %d check(s): %s" % (len(FAILS), "; ".join(FAILS)))
    sys.exit(1)
print("PASS")
