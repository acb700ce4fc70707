#!/usr/bin/env bash
# Run every unit and fault C test binary under valgrind (memcheck, full leak
# check); any error or leak fails. Script tests (.sh/.py) are not run here.
#   scripts/valgrind.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
command -v valgrind >/dev/null || { echo "valgrind not installed: scripts/install-deps.sh --valgrind" >&2; exit 1; }
shopt -s nullglob
ran=0 failed=0
export DDBPIPE_BIN="$PWD/$BUILD/ddbpipe" DDBPIPE_SOURCE_DIR="$PWD" DDBPIPE_BUILD_DIR="$PWD/$BUILD" \
    DDBPIPE_SHARED_DIR="$PWD/../shared"
for bin in "$BUILD"/unit_test_* "$BUILD"/fault_test_*; do
    [ -x "$bin" ] || continue
    ran=$((ran + 1))
    log="$bin.valgrind.log"
    valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --track-fds=no "$bin" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
        echo "valgrind: $(basename "$bin") ok$([ "$rc" -eq 77 ] && echo ' (skipped)')"
    else
        failed=$((failed + 1))
        tail -n 40 "$log"
        echo "valgrind: $(basename "$bin") FAILED (exit $rc, log $log)"
    fi
done
echo "valgrind: $ran run, $failed failed"
[ "$failed" -eq 0 ]
