#!/usr/bin/python3
"""Estuary dialect (seed 000), accepted verbatim: the specification sample (materializations ->
endpoint.connector.config + bindings, `${...}` placeholders from the environment) and the bare endpoint
config, copied as they stand with `advanced.endpoint` added for DynamoDB Local, drive `ddbpipe sink`.
Estuary's rules hold: the table is created when missing, the root document is stored as the Map
`flow_document` beside the key, `delta_updates: false` (default) loads and merges, `true` writes blindly.
DynamoDB Local accepts only letters and digits in access key ids, so the sample's
"example-aws-access-key-id" is respelled without dashes."""
from dialect_common import *  # noqa: F401,F403 (the shared harness)


def localize(text):
    assert 'region: "us-east-1"' in text and "example-aws-access-key-id" in text
    lines = []
    for line in text.splitlines():
        lines.append(line.replace("example-aws-access-key-id", "exampleAwsAccessKeyId"))
        if line.strip() == 'region: "us-east-1"':
            ind = line[:len(line) - len(line.lstrip())]
            lines += [ind + "advanced:", ind + '  endpoint: "%s"' % ENDPOINT]
    return "\n".join(lines) + "\n"


DOCS = [
    {"id": "a", "x": 1, "nested": {"d": 1.50, "l": [1, "two", None]}},
    {"id": "b", "x": 2},
    {"id": "a", "y": "z"},                     # merge: x and nested stay
    {"id": "c", "big": 12345678901234567890123456789012345678},
    {"id": "b", "x": None},                    # merge patch: null removes x
]


def merged():
    model = {}
    for d in DOCS:
        cur = model.setdefault(d["id"], {})
        for k, v in d.items():
            if v is None:
                cur.pop(k, None)
            else:
                cur[k] = v
    return model


def blind():
    model = {}
    for d in DOCS:
        model[d["id"]] = {k: v for k, v in d.items()}
    return model


def plain(av):
    (t, v), = av.items()
    if t == "M":
        return {k: plain(x) for k, x in v.items()}
    if t == "L":
        return [plain(x) for x in v]
    if t == "N":
        return v  # compared as text: exact
    if t == "NULL":
        return None
    return v


def textnums(doc):
    if isinstance(doc, dict):
        return {k: textnums(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [textnums(v) for v in doc]
    if isinstance(doc, bool) or doc is None or isinstance(doc, str):
        return doc
    return str(doc)


def table_docs(table):
    out = {}
    for it in scan(table):
        check(set(it) == {"id", "flow_document"}, "item holds the key and flow_document only", it)
        out[it["id"]["S"]] = plain(it["flow_document"])
    return out


def main():
    print("case: seed 000 specification sample (materializations/bindings, ${...} from the environment)")
    t = "estuary_" + SUFFIX
    path = write("catalog.yaml", localize(seed_example("estuary_catalog.yaml")))
    env = {"PREFIX": "acmeCo", "mat_name": "dynamodb", "TABLE_NAME": t, "COLLECTION_NAME": "docs"}
    p = sink(["-c", path, "--set", "key=id"], DOCS, env)
    CREATED.append(t)
    check(p.returncode == 0, "exit 0", p.stderr)
    check(DDB.describe_table(TableName=t)["Table"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}],
          "the table was created when missing", "")
    want = {k: textnums(v) for k, v in merged().items()}
    got = table_docs(t)
    check(got == want, "standard updates (delta_updates absent): documents merged", (got, want))

    print("case: seed 000 endpoint config alone, delta_updates: true (blind writes)")
    t = "estuary_delta_" + SUFFIX
    create(t, "id", "S")
    text = localize(seed_example("estuary_endpoint.yaml"))
    check("table: ${TABLE_NAME}" in text, "the example is seed 000's endpoint config", text)
    text = text.replace("table: ${TABLE_NAME}", "table: ${TABLE_NAME}\n      delta_updates: true")
    p = sink(["-c", write("endpoint.yaml", text), "--quiet"], DOCS, {"TABLE_NAME": t})
    check(p.returncode == 0, "exit 0", p.stderr)
    want = {k: textnums(v) for k, v in blind().items()}
    got = table_docs(t)
    check(got == want, "delta updates: each key holds its last document as written", (got, want))


try:
    main()
finally:
    finish()
