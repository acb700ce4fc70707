"""What every Python integration test starts with: skip loudly (exit 77) when boto3, the CLI or the
DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT_FILE, from the ctest fixture) is missing; a boto3
client for that endpoint; check/FAILS bookkeeping. Not a test itself (the name does not start with
test_); tests import it from their own folder."""
import os
import sys

FAILS = []


def skip(msg):
    print("SKIPPED: " + msg)
    sys.exit(77)


try:
    import boto3
except ImportError:
    skip("python3-boto3 is not installed")

BIN = os.environ.get("DDBPIPE_BIN")
EPF = os.environ.get("DDBPIPE_TEST_ENDPOINT_FILE")
SRC = os.environ.get("DDBPIPE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if not BIN or not os.path.exists(BIN):
    skip("DDBPIPE_BIN not built")
if not EPF or not os.path.exists(EPF):
    skip("no DynamoDB Local endpoint (DDBPIPE_TEST_ENDPOINT_FILE)")
ENDPOINT = open(EPF).read().strip()


def ddb_client(access_key_id="AKIDLOCAL", region="us-east-1"):
    """boto3 DynamoDB client on DynamoDB Local (it accepts only letters and digits in key ids)."""
    return boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name=region, aws_access_key_id=access_key_id,
                        aws_secret_access_key="secret")


def check(cond, what, detail=""):
    if cond:
        print("  ok   " + what, flush=True)
    else:
        print("  FAIL " + what + (("\n       " + str(detail)[:2000]) if detail else ""), flush=True)
        FAILS.append(what)
