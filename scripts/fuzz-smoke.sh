#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang and run each
# for FUZZ_SECONDS (default 10) from its seed corpus tests/fuzz/corpus/NAME/
# when present, after replaying tests/fuzz/regressions/NAME/. Succeeds (doing nothing) when there are no targets yet or no
# clang. A crash fails the run and leaves the reproducer in BUILD/crashes/.
#   scripts/fuzz-smoke.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_PER=${FUZZ_SECONDS:-10}
JOBS=${JOBS:-2}

shopt -s nullglob
targets=(tests/fuzz/fuzz_*.c)
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz smoke: no fuzz targets (tests/fuzz/fuzz_*.c) yet: 0 run, 0 failed"
    exit 0
fi
if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz smoke: SKIPPED: clang not installed (scripts/install-deps.sh installs it): 0 run, 0 failed"
    exit 0
fi
# Warnings are errors in the gcc builds; clang's extra ones must not stop
# the fuzz smoke.
conflog=$(mktemp)
if ! CC=clang cmake -S . -B "$BUILD" -DDDBPIPE_FUZZ=ON -DDDBPIPE_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$conflog" 2>&1; then
    cat "$conflog"
    rm -f "$conflog"
    echo "fuzz smoke: configure failed: 0 run, 1 failed"
    exit 1
fi
rm -f "$conflog"
names=()
for src in "${targets[@]}"; do names+=("$(basename "$src" .c)"); done
if ! cmake --build "$BUILD" -j"$JOBS" --target "${names[@]}" >"$BUILD/fuzz-build.log" 2>&1; then
    tail -n 40 "$BUILD/fuzz-build.log"
    echo "fuzz smoke: build failed: 0 run, 1 failed"
    exit 1
fi
mkdir -p "$BUILD/crashes"
ran=0 failed=0
for src in "${targets[@]}"; do
    name=$(basename "$src" .c)
    bin="$BUILD/fuzz/$name"
    [ -x "$bin" ] || bin="$BUILD/$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz smoke: $name: binary not built"
        failed=$((failed + 1))
        continue
    fi
    work="$BUILD/corpus/$name"
    mkdir -p "$work"
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    ran=$((ran + 1))
    # Past findings first: each reproducer in tests/fuzz/regressions/NAME/ must now pass.
    regs=(tests/fuzz/regressions/"$name"/*)
    if [ ${#regs[@]} -gt 0 ] && ! "$bin" -runs=1 "${regs[@]}" >"$BUILD/$name.regressions.log" 2>&1; then
        failed=$((failed + 1))
        tail -n 30 "$BUILD/$name.regressions.log"
        echo "fuzz smoke: $name FAILED on a regression input (tests/fuzz/regressions/$name/)"
        continue
    fi
    if "$bin" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=1024 -print_final_stats=0 \
        -artifact_prefix="$BUILD/crashes/$name-" "$work" "${seeds[@]}" >"$BUILD/$name.log" 2>&1; then
        execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+|#[0-9]+' "$BUILD/$name.log" | tail -n1 | tr -dc 0-9)
        echo "fuzz smoke: $name ok (${SECONDS_PER}s, ${execs:-?} runs)"
    else
        failed=$((failed + 1))
        tail -n 30 "$BUILD/$name.log"
        echo "fuzz smoke: $name FAILED (reproducer in $BUILD/crashes/)"
    fi
done
echo "fuzz smoke: $ran run, $failed failed"
[ "$failed" -eq 0 ]
