#!/usr/bin/env bash
# `ddbpipe config -c FILE --for sink` says ok only when the sink would
# accept the file (every check that needs no AWS call): a columns map with a
# type the sink cannot map and a ca_file that does not exist fail both, with
# the same message (a missing ca_file fails plain `config` too). A Kafka
# configuration librdkafka refuses (unknown property, bad value, conflicting
# properties, a garbage key) fails `config --for sink|source` and
# `sink|source --kafka` alike with exit 2, naming the property and
# librdkafka's reason, never a secret, before any DynamoDB call: the endpoint
# is a closed loopback port, so a DescribeTable would end in exit 3. No network.
set -euo pipefail
. "$DDBPIPE_SOURCE_DIR/tests/testutil.sh"
export AWS_EC2_METADATA_DISABLED=true
B=$DDBPIPE_BIN
base() { # FILE LINE...
    local f=$1
    shift
    {
        echo "table: cfg_for_sink"
        echo "region: us-east-1"
        echo "endpoint_url: http://127.0.0.1:9"
        echo "aws_access_key_id: AKIDTESTTESTTEST0001"
        echo "aws_secret_access_key: test-secret-never-printed"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}

both_reject() { # FILE NEEDLE LABEL
    run "$B" config -c "$1" --for sink
    expect_rc 2 "$3: config --for sink"
    expect_in "$ERR" "$2" "$3: config --for sink"
    expect_not_in "$ERR" "configuration ok" "$3: config --for sink"
    local cfg_err=$ERR
    run "$B" sink -c "$1" -i /dev/null
    expect_rc 2 "$3: sink"
    expect_in "$ERR" "$2" "$3: sink"
    # the same sentence from both commands
    [ "${cfg_err#ddbpipe config: }" = "${ERR#ddbpipe sink: }" ] || fail "$3: messages differ:
$cfg_err
$ERR"
}

base "$TEST_TMP/cols.yaml" "columns:" "  id: BIGINT" "  tags: FOO"
both_reject "$TEST_TMP/cols.yaml" "column 'tags' has type 'FOO': unknown column type 'FOO'" "columns map"

base "$TEST_TMP/cols_sql.yaml" "columns: id BIGINT, price DECIMAL(50, 2)"
both_reject "$TEST_TMP/cols_sql.yaml" "column 'price' has type 'DECIMAL(50, 2)'" "columns text"

base "$TEST_TMP/ca.yaml" "ca_file: $TEST_TMP/no-such-ca.pem"
both_reject "$TEST_TMP/ca.yaml" "ca_file '$TEST_TMP/no-such-ca.pem' cannot be read" "missing ca_file"

# Without --for, only the checks every command shares run: a missing ca_file
# fails (every command would), a columns map only the sink reads is ok.
run "$B" config -c "$TEST_TMP/ca.yaml"
expect_rc 2 "config without --for, missing ca_file"
expect_in "$ERR" "ca_file '$TEST_TMP/no-such-ca.pem' cannot be read" "config without --for, missing ca_file"
run "$B" config -c "$TEST_TMP/cols.yaml"
expect_rc 0 "config without --for, sink-only columns"
expect_in "$ERR" "configuration ok" "config without --for, sink-only columns"

# A good file is ok for the sink.
printf 'dummy\n' >"$TEST_TMP/ca.pem"
base "$TEST_TMP/good.yaml" "ca_file: $TEST_TMP/ca.pem" "columns:" "  id: BIGINT" "  tags: ARRAY<VARCHAR>"
run "$B" config -c "$TEST_TMP/good.yaml" --for sink
expect_rc 0 "good file"
expect_in "$ERR" "configuration ok for sink" "good file"

# Kafka: librdkafka's checks come first, for the command and for config --for.
kbase() { # FILE LINE...
    local f=$1
    shift
    base "$f" "kafka_enabled: true" "kafka_topics: [t]" "kafka_topic: t" "kafka:" \
        "  bootstrap.servers: 127.0.0.1:9" "  group.id: g" "  sasl.password: SASLPW-never-printed" "$@"
}
kafka_reject() { # FILE CMD NEEDLE LABEL
    local t0 t1
    run "$B" config -c "$1" --for "$2"
    expect_rc 2 "$4: config --for $2"
    expect_in "$ERR" "$3" "$4: config --for $2"
    expect_not_in "$ERR" "configuration ok" "$4: config --for $2"
    expect_not_in "$ERR$OUT" "SASLPW" "$4: config --for $2"
    local cfg_err=${ERR#ddbpipe config: invalid configuration: }
    t0=$(date +%s%N)
    run timeout 60 "$B" "$2" -c "$1" --kafka
    t1=$(date +%s%N)
    expect_rc 2 "$4: $2 --kafka"
    expect_in "$ERR" "$3" "$4: $2 --kafka"
    expect_not_in "$ERR" "DescribeTable" "$4: $2 --kafka"
    expect_not_in "$ERR$OUT" "SASLPW" "$4: $2 --kafka"
    [ "$cfg_err" = "${ERR#ddbpipe $2: }" ] || fail "$4: messages differ:
$cfg_err
$ERR"
    # no DynamoDB retries (exit 2, not 3, proves no DescribeTable), no Kafka connection: a hang guard
    # only, generous for a loaded machine (not timed under asan/valgrind)
    if [ -z "${DDBPIPE_TEST_SLOW:-}" ] && [ $(((t1 - t0) / 1000000)) -gt 30000 ]; then
        fail "$4: $2 --kafka took $(((t1 - t0) / 1000000)) ms"
    fi
}
kbase "$TEST_TMP/k_value.yaml" "  session.timeout.ms: abc"
kafka_reject "$TEST_TMP/k_value.yaml" sink \
    'kafka.session.timeout.ms: Invalid value for configuration property "session.timeout.ms"' "bad value"
kbase "$TEST_TMP/k_unknown.yaml" "  sesion.timeout.ms: 6000"
for cmd in sink source; do
    kafka_reject "$TEST_TMP/k_unknown.yaml" $cmd \
        'kafka.sesion.timeout.ms: No such configuration property: "sesion.timeout.ms"' "unknown property"
done
# conflicts librdkafka finds only when a client is made
kbase "$TEST_TMP/k_fetch.yaml" "  fetch.max.bytes: 1000"
kafka_reject "$TEST_TMP/k_fetch.yaml" sink \
    'kafka.fetch.max.bytes: librdkafka refused the consumer configuration: `fetch.max.bytes` must be >= `message.max.bytes`' \
    "conflicting consumer property"
kbase "$TEST_TMP/k_acks.yaml" "  acks: 1"
kafka_reject "$TEST_TMP/k_acks.yaml" source \
    'kafka.acks: librdkafka refused the producer configuration: `acks` must be set to `all` when `enable.idempotence` is true' \
    "conflicting producer property"
kbase "$TEST_TMP/k_dlq.yaml" "  acks: 1"
echo "dead_letter_topic: dlq" >>"$TEST_TMP/k_dlq.yaml" # the consumer ignores acks, its producer does not
kafka_reject "$TEST_TMP/k_dlq.yaml" sink 'kafka.acks: librdkafka refused the dead-letter producer configuration' \
    "dead-letter producer"
kbase "$TEST_TMP/k_mech.yaml" "  security.protocol: SASL_PLAINTEXT" "  sasl.mechanisms: BOGUS"
kafka_reject "$TEST_TMP/k_mech.yaml" source "kafka.security.protocol, kafka.sasl.mechanisms: librdkafka refused the producer configuration: Unsupported SASL mechanism: BOGUS" \
    "SASL mechanism"
kbase "$TEST_TMP/k_pem.yaml" "  security.protocol: SSL" "  ssl.key.pem: PEMSECRET-never-printed" "  ssl.key.password: KEYPW-never-printed"
for cmd in sink source; do
    kafka_reject "$TEST_TMP/k_pem.yaml" $cmd "kafka.ssl.key.pem: librdkafka refused the" "garbage ssl.key.pem"
    expect_not_in "$ERR$OUT" "PEMSECRET" "$cmd: garbage ssl.key.pem"
    expect_not_in "$ERR$OUT" "KEYPW" "$cmd: garbage ssl.key.pem"
done
# ddbpipe's own Kafka rules too
kbase "$TEST_TMP/k_autocommit.yaml" "  enable.auto.commit: true"
kafka_reject "$TEST_TMP/k_autocommit.yaml" sink "kafka.enable.auto.commit must be false" "auto commit"
# a good Kafka configuration is ok (nothing connects: config only)
kbase "$TEST_TMP/k_good.yaml" "  session.timeout.ms: 6000" "  security.protocol: SASL_PLAINTEXT" "  sasl.mechanisms: PLAIN" \
    "  sasl.username: u"
for cmd in sink source; do
    run "$B" config -c "$TEST_TMP/k_good.yaml" --for $cmd
    expect_rc 0 "good Kafka configuration for $cmd"
    expect_in "$ERR" "configuration ok for $cmd" "good Kafka configuration for $cmd"
    expect_not_in "$ERR$OUT" "SASLPW" "good Kafka configuration for $cmd"
done
# kafka.* properties left in a file sink's configuration: `sink -i FILE` ignores them, so does
# config --for sink; --kafka asks for the checks of `sink --kafka`
base "$TEST_TMP/k_left.yaml" "kafka:" "  bootstrap.servers: 127.0.0.1:9" "  group.id: g"
run "$B" config -c "$TEST_TMP/k_left.yaml" --for sink
expect_rc 0 "leftover kafka.* properties, file sink"
expect_in "$ERR" "configuration ok for sink" "leftover kafka.* properties, file sink"
run "$B" config -c "$TEST_TMP/k_left.yaml" --for sink --kafka
expect_rc 2 "leftover kafka.* properties, --kafka"
expect_in "$ERR" "kafka_topics is required" "leftover kafka.* properties, --kafka"
run "$B" config -c "$TEST_TMP/k_left.yaml" --kafka
expect_rc 2 "--kafka without --for"
expect_in "$ERR" "--kafka needs --for sink or --for source" "--kafka without --for"
echo "ok"
