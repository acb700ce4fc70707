#!/usr/bin/env bash
# `make test`: configure and build (keep going past errors), every ctest tier (unit, fault, integration with DynamoDB
# Local), then the fuzz smoke run, the layer check (scripts/check-layers.sh), the format check
# (scripts/check-format.sh), then static analysis (scripts/lint.sh: cppcheck and clang-tidy over src/ and cli/, in
# build-lint), then one summary a reader can count.
#   scripts/test.sh BUILD_DIR [FUZZ_BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
FUZZ_BUILD=${2:-build-fuzz}
JOBS=${JOBS:-2}
log="$BUILD/ctest-summary.log"

build_rc=0
# shellcheck disable=SC2086
cmake -S . -B "$BUILD" ${CMAKE_FLAGS:-} || build_rc=$?
if [ "$build_rc" -eq 0 ]; then
    # Keep going past a broken file: every test that builds still runs and
    # counts; one that cannot be built shows as "Not Run".
    keep=(); [ -f "$BUILD/Makefile" ] && keep=(-- -k)
    cmake --build "$BUILD" -j"$JOBS" "${keep[@]}" || build_rc=$?
fi
if [ "$build_rc" -ne 0 ] && [ ! -f "$BUILD/CTestTestfile.cmake" ]; then
    echo "make test: FAILED (configure failed)"
    exit 1
fi
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" 2>&1 | tee "$log"
ctest_rc=${PIPESTATUS[0]}

fuzz_rc=0
FUZZ_SECONDS=${FUZZ_SECONDS:-3} scripts/fuzz-smoke.sh "$FUZZ_BUILD" 2>&1 | tee "$BUILD/fuzz-summary.log"
fuzz_rc=${PIPESTATUS[0]}

# The layer order of docs/architecture.md over every #include (also unit.test_check_layers).
layers_log="$BUILD/layers-summary.log"
scripts/check-layers.sh 2>&1 | tee "$layers_log"
layers_rc=${PIPESTATUS[0]}

# The .clang-format style over every C file (make format applies it).
format_log="$BUILD/format-summary.log"
scripts/check-format.sh 2>&1 | tee "$format_log"
format_rc=${PIPESTATUS[0]}

# Static analysis: any finding (or a missing tool, exit 2) fails make test.
lint_log="$BUILD/lint-summary.log"
JOBS="$JOBS" LINT_TOOLS="cppcheck clang-tidy" scripts/lint.sh build-lint 2>&1 | tee "$lint_log"
lint_rc=${PIPESTATUS[0]}

# In CI (CI=true) also the Debian package as a user gets it (scripts/package-check.sh: cpack,
# apt-get install ./ddbpipe_*.deb, --version, man -w, the demo with the installed binary, purge;
# about a minute). DDBPIPE_TEST_PACKAGE=1 does the same outside CI (needs root).
pkg_rc=0
if [ "${CI:-}" = "true" ] || [ "${DDBPIPE_TEST_PACKAGE:-0}" = "1" ]; then
    JOBS="$JOBS" scripts/package-check.sh "$BUILD" 2>&1 | tee "$BUILD/package-summary.log"
    pkg_rc=${PIPESTATUS[0]}
fi

# In CI (CI=true) also the whole suite under the sanitizers and memcheck: the
# ASan+UBSan build runs every tier (`make asan`, reports collected), then every
# tier runs under valgrind (`make valgrind`: C tests directly, the CLI in script
# tests through a valgrind wrapper). DDBPIPE_TEST_SANITIZERS=1 does the same
# outside CI; SAN_TIERS narrows it (e.g. SAN_TIERS=unit) for a quick local run.
san_rc=0
if [ "${CI:-}" = "true" ] || [ "${DDBPIPE_TEST_SANITIZERS:-0}" = "1" ]; then
    scripts/install-deps.sh --valgrind >/dev/null
    SAN_TIERS=${SAN_TIERS:-unit fault integration}
    # ctest label regex, quoted for the make recipe's shell (labels: unit fault integration)
    ASAN_CTEST_ARGS="-L '$(echo $SAN_TIERS | tr ' ' '|')'" make --no-print-directory asan 2>&1 |
        tee "$BUILD/asan-summary.log"
    asan_rc=${PIPESTATUS[0]}
    VALGRIND_TIERS="$SAN_TIERS" scripts/valgrind.sh "$BUILD" 2>&1 | tee "$BUILD/valgrind-summary.log"
    vg_rc=${PIPESTATUS[0]}
    [ "$asan_rc" -eq 0 ] && [ "$vg_rc" -eq 0 ] || san_rc=1
fi

echo
echo "==== summary ===="
grep -E '^[0-9]+% tests passed' "$log" || echo "ctest: no summary (build or configure failed?)"
sed -n '/^The following tests FAILED:/,/^Errors while running CTest/p' "$log" | grep -E '^\s+[0-9]+ - ' || true
skipped=$(grep -c 'Skipped ' "$log" | head -n1 || true)
[ "${skipped:-0}" -gt 0 ] && echo "ctest: $skipped test(s) skipped (see SKIPPED lines above)"
tail -n1 "$BUILD/fuzz-summary.log"
tail -n1 "$layers_log"
tail -n1 "$format_log"
grep -E '^lint: [a-z/-]+( clean|: [0-9]+ finding| missing)' "$lint_log" || true
[ "$lint_rc" -eq 0 ] || grep -qE '^lint: [a-z/-]+(: [0-9]+ finding| missing)' "$lint_log" ||
    echo "lint: FAILED (exit $lint_rc, e.g. the build-lint configure failed; output above)"
if [ -f "$BUILD/package-summary.log" ] && { [ "${CI:-}" = "true" ] || [ "${DDBPIPE_TEST_PACKAGE:-0}" = "1" ]; }; then
    grep -E '^package: (OK|FAILED|SKIPPED)' "$BUILD/package-summary.log" | tail -n1 || echo "package: FAILED (no summary)"
fi
[ "$build_rc" -eq 0 ] || echo "build: FAILED (errors above; tests of targets that did not build are 'Not Run')"
if [ -f "$BUILD/asan-summary.log" ] && { [ "${CI:-}" = "true" ] || [ "${DDBPIPE_TEST_SANITIZERS:-0}" = "1" ]; }; then
    grep -E '^make asan: ' "$BUILD/asan-summary.log" | tail -n1 || echo "make asan: FAILED"
    tail -n1 "$BUILD/valgrind-summary.log"
fi
if [ "$ctest_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ] || [ "$lint_rc" -ne 0 ] || [ "$build_rc" -ne 0 ] ||
    [ "$layers_rc" -ne 0 ] || [ "$format_rc" -ne 0 ] || [ "$san_rc" -ne 0 ] || [ "$pkg_rc" -ne 0 ]; then
    echo "make test: FAILED"
    exit 1
fi
echo "make test: OK"
