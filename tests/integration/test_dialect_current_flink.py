#!/usr/bin/python3
"""The Flink part of test_dialect_current.py (its functions, run from here so each file stays near a
minute under valgrind): the DynamoDB Streams source options drive `ddbpipe source` (`--from` wins only
when given), SQL DDL quoted identifiers are whole names through every path, and ${VAR} /
${VAR:-default} placeholders in YAML, JSON and SQL (an unset variable names itself and the file)."""
from test_dialect_current import finish, flink_quoted, flink_source, placeholders


def main():
    flink_source()
    flink_quoted()
    placeholders()
    finish()


if __name__ == "__main__":
    main()
