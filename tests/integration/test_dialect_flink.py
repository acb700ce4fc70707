#!/usr/bin/python3
"""Flink dialect (seed 002): the CREATE TABLE examples copied as they stand, with 'aws.endpoint' and
BASIC credentials added for DynamoDB Local (and 'table-name' made unique), are the configuration of
`ddbpipe sink --sql FILE`. The key comes from DescribeTable (the seed's DDL declares none) or from
PRIMARY KEY ... NOT ENFORCED; column types drive the mapping (BIGINT -> N, STRING -> S); PARTITIONED BY
(user_id) folds records per user with a notice that it is not the full key. The scanned table equals
the model of the input."""
from dialect_common import *  # noqa: F401,F403 (the shared harness)


def localize(text, table, extra=()):
    """Add the endpoint and credentials after 'aws.region', rename the table."""
    assert "'table-name' = 'user_behavior'" in text and "'aws.region' = 'us-east-2'" in text
    opts = ["'aws.endpoint' = '%s'" % ENDPOINT, "'aws.credentials.provider' = 'BASIC'",
            "'aws.credentials.basic.accesskeyid' = 'AKIDDIALECT'", "'aws.credentials.basic.secretkey' = 'secret'",
            "'sink.flush-buffer.timeout' = '100'"] + list(extra)
    text = text.replace("'table-name' = 'user_behavior'", "'table-name' = '%s'" % table)
    return text.replace("'aws.region' = 'us-east-2'", "'aws.region' = 'us-east-2',\n  " + ",\n  ".join(opts))


def rows(count, users):
    out = []
    for i in range(count):
        out.append({"user_id": i % users, "item_id": 1000 + i, "category_id": i % 7,
                    "behavior": ["pv", "buy", "cart", "fav"][i % 4]})
    return out


def model(lines, *key):
    m = {}
    for r in lines:
        m[tuple(str(r[k]) for k in key)] = {"user_id": {"N": str(r["user_id"])}, "item_id": {"N": str(r["item_id"])},
                                            "category_id": {"N": str(r["category_id"])},
                                            "behavior": {"S": r["behavior"]}}
    return m


def main():
    print("case: seed 002 DDL as written (no key declared: DescribeTable), composite table")
    t = "user_behavior_" + SUFFIX
    create(t, "user_id", "N", "item_id", "N")
    ddl = seed_example("flink_user_behavior.sql")
    check(ddl.startswith("CREATE TABLE DynamoDbTable (\n  `user_id` BIGINT,"), "the example is seed 002's DDL", ddl)
    lines = rows(200, 13) + [{"user_id": 1, "item_id": 1001, "category_id": 99, "behavior": "updated"}]
    p = sink(["--sql", write("ub.sql", localize(ddl, t)), "--quiet"], lines)
    check(p.returncode == 0, "exit 0", p.stderr)
    got = keyed(scan(t), "user_id", "item_id")
    want = model(lines, "user_id", "item_id")
    check(got == want, "scanned table equals the model (201 changes, 200 items, one updated)",
          (len(got), len(want), [k for k in want if got.get(k) != want[k]][:5]))

    print("case: column types drive the mapping (a numeric string for a BIGINT column is stored as N)")
    p = sink(["--sql", write("ub.sql", localize(ddl, t)), "--quiet"],
             [{"user_id": "5", "item_id": "5", "category_id": "77", "behavior": "typed"}])
    it = DDB.get_item(TableName=t, Key={"user_id": {"N": "5"}, "item_id": {"N": "5"}}, ConsistentRead=True)
    check(p.returncode == 0 and it.get("Item", {}).get("category_id") == {"N": "77"},
          "BIGINT column stored as N", (p.stderr, it.get("Item")))

    print("case: seed 002 PARTITIONED BY (user_id) example on a user_id-keyed table")
    t2 = "user_behavior_p_" + SUFFIX
    create(t2, "user_id", "N")
    ddl2 = seed_example("flink_user_behavior_partitioned.sql")
    check("PARTITIONED BY ( user_id )" in ddl2, "the example is seed 002's partitioned DDL", ddl2)
    lines = rows(300, 40)
    p = sink(["--sql", write("ubp.sql", localize(ddl2, t2))], lines)
    check(p.returncode == 0, "exit 0", p.stderr)
    got = keyed(scan(t2), "user_id")
    check(got == model(lines, "user_id"), "40 users, the last change of each", len(got))

    print("case: PRIMARY KEY ... NOT ENFORCED declared in the DDL")
    t3 = "user_behavior_k_" + SUFFIX
    create(t3, "user_id", "N", "item_id", "N")
    ddl3 = ddl.replace("`behavior` STRING\n)", "`behavior` STRING,\n  PRIMARY KEY (user_id, item_id) NOT ENFORCED\n)")
    check("PRIMARY KEY" in ddl3, "key clause added", ddl3)
    lines = rows(60, 5) + [{"user_id": 2, "item_id": 1002, "category_id": 1, "behavior": "again"}]
    p = sink(["--sql", write("ubk.sql", localize(ddl3, t3)), "--quiet"], lines)
    check(p.returncode == 0, "exit 0", p.stderr)
    check(keyed(scan(t3), "user_id", "item_id") == model(lines, "user_id", "item_id"),
          "scanned table equals the model", "")

    print("case: Flink options that cannot apply natively are rejected with what to use instead")
    p = sink(["--sql", write("custom.sql", localize(ddl, t, ["'aws.credentials.provider' = 'CUSTOM'"]))], [])
    check(p.returncode == 2 and "credential_process" in p.stderr, "CUSTOM provider: exit 2 naming credential_process",
          (p.returncode, p.stderr))


try:
    main()
finally:
    finish()
