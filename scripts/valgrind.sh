#!/usr/bin/env bash
# The whole test suite under valgrind memcheck (full leak check):
#   - every C test program (unit_test_*, fault_test_*, integration_test_*) runs under valgrind;
#   - every script test (.sh/.py) runs with DDBPIPE_BIN pointing at a wrapper that execs
#     valgrind on the real CLI, so each ddbpipe the test starts is checked (exec keeps the pid,
#     so signal tests still signal ddbpipe itself).
# Any memcheck error or a definite/indirect leak fails the test (exit 99 from the program, and
# a non-empty valgrind log). Integration tests get their own DynamoDB Local (scripts/ddblocal.sh).
#   scripts/valgrind.sh [BUILD_DIR]
# Env: VALGRIND_TIERS   tiers to run (default "unit fault integration")
#      VALGRIND_FILTER  only tests whose name (e.g. fault.test_cli_basic) matches this ERE
#      VALGRIND_TIMEOUT_S per-test limit (default 1200)
#      DDBPIPE_SINK_ORDER_N  changes per run of fault.test_sink_order (default here 5000, the
#                     test's own default of 100000 takes hours under valgrind)
# Logs: BUILD_DIR/valgrind/<tier>.<test>.log (test output), *.vg.log (memcheck reports).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
TIERS=${VALGRIND_TIERS:-unit fault integration}
FILTER=${VALGRIND_FILTER:-.}
TIMEOUT_S=${VALGRIND_TIMEOUT_S:-1200}
command -v valgrind >/dev/null || { echo "valgrind not installed: scripts/install-deps.sh --valgrind" >&2; exit 1; }
[ -x "$BUILD/ddbpipe" ] || { echo "valgrind: $BUILD/ddbpipe not built" >&2; exit 1; }

# Integration tests need DynamoDB Local: re-run this script inside the fixture.
if [[ " $TIERS " == *" integration "* ]] && [ -z "${DDBPIPE_TEST_ENDPOINT_FILE:-}" ]; then
    exec scripts/ddblocal.sh run -- "$0" "$@"
fi

OUT="$BUILD/valgrind"
rm -rf "$OUT"
mkdir -p "$OUT"
VG_OPTS=(-q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
         --errors-for-leak-kinds=definite,indirect --track-fds=no)

# The CLI wrapper, one per test: reports go to a log file named after the test and the process
# (not to stderr, which the tests read; some tests run the CLI with a cleared environment).
write_wrapper() { # test-name
    {
        echo '#!/bin/sh'
        printf 'exec valgrind'
        printf ' %q' "${VG_OPTS[@]}"
        printf ' %q' "--log-file=$OUT/$1.ddbpipe.%p.vg.log"
        printf ' %q "$@"\n' "$BUILD/ddbpipe"
    } >"$WRAP"
    chmod +x "$WRAP"
}
WRAP="$OUT/ddbpipe-valgrind"
write_wrapper none

export DDBPIPE_BIN="$WRAP" DDBPIPE_SOURCE_DIR="$ROOT" DDBPIPE_BUILD_DIR="$BUILD" \
    DDBPIPE_SHARED_DIR="$ROOT/../shared" DDBPIPE_TEST_ENDPOINT_FILE="${DDBPIPE_TEST_ENDPOINT_FILE:-}" \
    DDBPIPE_SINK_ORDER_N="${DDBPIPE_SINK_ORDER_N:-5000}" DDBPIPE_TEST_SLOW=valgrind

shopt -s nullglob
ran=0 failed=0 skipped=0
failed_names=()
for tier in $TIERS; do
    for src in "$ROOT"/tests/"$tier"/test_*.c "$ROOT"/tests/"$tier"/test_*.sh "$ROOT"/tests/"$tier"/test_*.py; do
        base=$(basename "$src")
        name="$tier.${base%.*}"
        [[ "$name" =~ $FILTER ]] || continue
        log="$OUT/$name.log"
        write_wrapper "$name"
        t0=$(date +%s)
        case "$src" in
        *.c)
            bin="$BUILD/${tier}_${base%.c}"
            [ -x "$bin" ] || { echo "valgrind: $name NOT BUILT"; failed=$((failed + 1)); failed_names+=("$name"); continue; }
            (cd "$BUILD" && timeout "$TIMEOUT_S" valgrind "${VG_OPTS[@]}" --log-file="$OUT/$name.vg.log" "$bin") >"$log" 2>&1
            ;;
        *.sh) (cd "$BUILD" && timeout "$TIMEOUT_S" bash "$src") >"$log" 2>&1 ;;
        *.py) (cd "$BUILD" && timeout "$TIMEOUT_S" /usr/bin/python3 "$src") >"$log" 2>&1 ;;
        esac
        rc=$?
        ran=$((ran + 1))
        # -q: a clean run leaves every memcheck log empty
        reports=()
        for f in "$OUT/$name".vg.log "$OUT/$name".ddbpipe.*.vg.log; do
            [ -s "$f" ] && reports+=("$f")
        done
        secs=$(($(date +%s) - t0))
        if [ "$rc" -eq 77 ] && [ ${#reports[@]} -eq 0 ]; then
            skipped=$((skipped + 1))
            echo "valgrind: $name skipped (${secs}s): $(grep -m1 SKIPPED "$log")"
        elif [ "$rc" -eq 0 ] && [ ${#reports[@]} -eq 0 ]; then
            echo "valgrind: $name ok (${secs}s)"
        else
            failed=$((failed + 1))
            failed_names+=("$name")
            tail -n 30 "$log"
            for f in "${reports[@]}"; do
                echo "--- $f"
                head -n 60 "$f"
            done
            echo "valgrind: $name FAILED (exit $rc, ${#reports[@]} memcheck report file(s), ${secs}s, log $log)"
        fi
    done
done
echo "valgrind: $ran run, $((ran - failed - skipped)) passed, $skipped skipped, $failed failed${failed_names[*]:+: ${failed_names[*]}}"
[ "$failed" -eq 0 ]
