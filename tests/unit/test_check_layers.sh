#!/usr/bin/env bash
# scripts/check-layers.sh passes on the tree as it is, and fails (naming the file, the line and the rule)
# on a copy of the tree with one bad include planted per rule of docs/architecture.md's layering.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
src=$DDBPIPE_SOURCE_DIR

run bash "$src/scripts/check-layers.sh" "$src"
expect_rc 0 "the tree as it is"
expect_in "$OUT" "check-layers: OK" "summary of a clean tree"

# A copy of what the check reads: src/, cli/, the doc with the layer order, the exceptions.
fresh_copy() {
    rm -rf "$TEST_TMP/tree"
    mkdir -p "$TEST_TMP/tree/docs" "$TEST_TMP/tree/scripts"
    cp -r "$src/src" "$src/cli" "$TEST_TMP/tree/"
    cp "$src/docs/architecture.md" "$TEST_TMP/tree/docs/"
    cp "$src/scripts/check-layers.sh" "$TEST_TMP/tree/scripts/"
    [ ! -f "$src/scripts/layers-exceptions.txt" ] || cp "$src/scripts/layers-exceptions.txt" "$TEST_TMP/tree/scripts/"
}
check_copy() { run bash "$TEST_TMP/tree/scripts/check-layers.sh" "$TEST_TMP/tree"; }

fresh_copy
check_copy
expect_rc 0 "an unchanged copy"

# A lower layer including a higher one: common/ -> sink/.
fresh_copy
printf '#include "sink/sink_internal.h"\n' >>"$TEST_TMP/tree/src/common/buf.c"
check_copy
expect_rc 1 "common/ including sink/"
line=$(wc -l <"$TEST_TMP/tree/src/common/buf.c")
expect_in "$OUT" "src/common/buf.c:$line: includes \"sink/sink_internal.h\": common/ is below sink/" "the violation"

# ddb/ including the client layer (the arrow this layering removed).
fresh_copy
sed -i '0,/^#include "/s//#include "client\/client.h"\n&/' "$TEST_TMP/tree/src/ddb/retry.c"
check_copy
expect_rc 1 "ddb/ including client/"
expect_in "$OUT" "src/ddb/retry.c" "the file named"

# The client handle's fields stay inside src/client/, even for a layer above it.
fresh_copy
printf '#include "client/client_internal.h"\n' >>"$TEST_TMP/tree/src/sink/sink.c"
check_copy
expect_rc 1 "sink/ including client_internal.h"
expect_in "$OUT" "private to src/client/" "the rule named"

# The sink's fields and engine stay inside src/sink/: a transport (above it) uses the public sink API.
fresh_copy
printf '#include "sink/sink_internal.h"\n' >>"$TEST_TMP/tree/src/transport/kafka_out.c"
check_copy
expect_rc 1 "transport/ including sink_internal.h"
expect_in "$OUT" "src/transport/kafka_out.c" "the file named"
expect_in "$OUT" "private to src/sink/" "the rule named"

# cli/ uses only the public API.
fresh_copy
printf '#include "common/buf.h"\n' >>"$TEST_TMP/tree/cli/main.c"
check_copy
expect_rc 1 "cli/ including common/"

# A library used outside the layer that wraps it.
fresh_copy
printf '#include <curl/curl.h>\n' >>"$TEST_TMP/tree/src/sink/sink.c"
check_copy
expect_rc 1 "curl outside http/"
expect_in "$OUT" "only http/ uses this library" "the library rule"

# DynamoDB request JSON written outside src/ddb/ (a caller building its own request).
fresh_copy
printf 'static const char *body = "{\\"TableName\\":\\"t\\",\\"ConsistentRead\\":true}";\n' \
    >>"$TEST_TMP/tree/src/sql/exec.c"
check_copy
expect_rc 1 "a DynamoDB request member in sql/"
line=$(wc -l <"$TEST_TMP/tree/src/sql/exec.c")
expect_in "$OUT" "src/sql/exec.c:$line: writes \\\"TableName\\\": a DynamoDB request member outside src/ddb/" \
    "the request rule"
# the same text inside src/ddb/ is where it belongs
fresh_copy
printf 'static const char *body = "{\\"TableName\\":\\"t\\"}";\n' >>"$TEST_TMP/tree/src/ddb/retry.c"
check_copy
expect_rc 0 "a request member in ddb/"

# A new folder must be placed in the order first.
fresh_copy
mkdir "$TEST_TMP/tree/src/newlayer" && printf 'int x;\n' >"$TEST_TMP/tree/src/newlayer/a.c"
check_copy
expect_rc 2 "a folder not in the layer order"
expect_in "$ERR" "src/newlayer/ is not in the layer order" "the message"

# An exception line needs a reason.
fresh_copy
printf 'src/common/buf.c "sink/sink.h"\n' >>"$TEST_TMP/tree/scripts/layers-exceptions.txt"
check_copy
expect_rc 2 "an exception without a reason"

# A listed exception is honoured for exactly that file and include.
fresh_copy
printf '#include "sink/sink_internal.h"\n' >>"$TEST_TMP/tree/src/common/buf.c"
printf 'src/common/buf.c "sink/sink_internal.h" -- planted by the test (issue 12)\n' \
    >>"$TEST_TMP/tree/scripts/layers-exceptions.txt"
check_copy
expect_rc 0 "a listed exception"
printf '#include "sink/sink_internal.h"\n' >>"$TEST_TMP/tree/src/common/log.c"
check_copy
expect_rc 1 "the same include in another file"
expect_in "$OUT" "src/common/log.c" "the unlisted file"
expect_not_in "$OUT" "src/common/buf.c" "the listed file"

echo "OK: check-layers passes the tree and fails each planted bad include"
