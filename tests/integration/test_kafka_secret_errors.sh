#!/usr/bin/env bash
# A kafka.<secret> property librdkafka refuses: the error names the property and
# gives librdkafka's reason, never the value (sink --kafka and source --kafka,
# exit 2 before DescribeTable and before any Kafka connection; the same checks
# without DynamoDB Local: fault.test_cli_config_for). On Debian's librdkafka the OAuth/OIDC
# properties are "not supported in this build"; a garbage ssl.key.pem is refused
# when the client is created. DynamoDB Local; the
# brokers are a closed loopback port.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
export AWS_EC2_METADATA_DISABLED=true
B=$DDBPIPE_BIN
EP=$(ddb_endpoint)
T=$(unique_table kafka_secret)
local_config "$TEST_TMP/t.yaml" "$EP" "$T" "partition_key: id" "stream_view_type: NEW_IMAGE"
run "$B" create-table -c "$TEST_TMP/t.yaml" -q
expect_rc 0 "create"
base() { # FILE LINE...
    local f=$1
    shift
    local_config "$f" "$EP" "$T" "kafka_topics: [t]" "kafka_topic: t" "kafka:" "  bootstrap.servers: 127.0.0.1:9" \
        "  group.id: g" "  sasl.password: SASLPW-never-printed" "$@"
}

base "$TEST_TMP/oidc.yaml" "  sasl.oauthbearer.client.secret: OIDCSECRET-never-printed"
for cmd in sink source; do
    run timeout 20 "$B" "$cmd" -c "$TEST_TMP/oidc.yaml" --kafka
    if [ "$RC" -eq 124 ]; then
        echo "librdkafka accepts sasl.oauthbearer.client.secret (built with OIDC): case not checked"
        break
    fi
    expect_rc 2 "$cmd: refused secret property"
    expect_in "$ERR" "kafka.sasl.oauthbearer.client.secret: librdkafka refused it (value not shown: secret): " "$cmd"
    expect_in "$ERR" "not supported in this build" "$cmd: librdkafka's reason"
    expect_not_in "$ERR$OUT" "OIDCSECRET" "$cmd"
    expect_not_in "$ERR$OUT" "SASLPW" "$cmd"
    run "$B" config -c "$TEST_TMP/oidc.yaml" --for "$cmd" --kafka
    expect_rc 2 "config --for $cmd: refused secret property"
    expect_in "$ERR" "kafka.sasl.oauthbearer.client.secret: librdkafka refused it (value not shown: secret): " \
        "config --for $cmd"
    expect_not_in "$ERR$OUT" "OIDCSECRET" "config --for $cmd"
    expect_not_in "$ERR$OUT" "SASLPW" "config --for $cmd"
done

base "$TEST_TMP/pem.yaml" "  security.protocol: SASL_SSL" "  sasl.mechanisms: PLAIN" "  sasl.username: u" \
    "  ssl.key.pem: PEMSECRET-never-printed"
for cmd in sink source; do
    run timeout 20 "$B" "$cmd" -c "$TEST_TMP/pem.yaml" --kafka
    expect_rc 2 "$cmd: garbage ssl.key.pem"
    expect_in "$ERR" "ssl.key.pem" "$cmd: names the property"
    expect_not_in "$ERR$OUT" "PEMSECRET" "$cmd"
    expect_not_in "$ERR$OUT" "SASLPW" "$cmd"
    run "$B" config -c "$TEST_TMP/pem.yaml" --for "$cmd" --kafka
    expect_rc 2 "config --for $cmd: garbage ssl.key.pem"
    expect_in "$ERR" "kafka.ssl.key.pem" "config --for $cmd: names the property"
    expect_not_in "$ERR$OUT" "PEMSECRET" "config --for $cmd"
    expect_not_in "$ERR$OUT" "SASLPW" "config --for $cmd"
done
echo "ok"
