#!/usr/bin/env bash
# The long fuzz runs recorded in docs/testing.md: build every libFuzzer
# target (tests/fuzz/fuzz_*.c, clang, ASan+UBSan) and run each one after the
# other for FUZZ_SECONDS (default 600) under `nice -n 19`, starting from the
# committed seeds in tests/fuzz/corpus/NAME/. Afterwards the new coverage is
# merged back into tests/fuzz/corpus/NAME/ (-merge=1 only adds files that add
# coverage; nothing is deleted) unless FUZZ_MERGE=0.
#
#   scripts/fuzz-long.sh [BUILD_DIR] [TARGET...]
#   FUZZ_SECONDS=600 FUZZ_MERGE=1 scripts/fuzz-long.sh build-fuzz fuzz_sql
#
# One line per target goes to BUILD_DIR/fuzz-long-results.md (a Markdown
# table row: target, seconds, seed files, corpus after, executions, result).
# A crash stops that target, keeps the reproducer in BUILD_DIR/crashes/ and
# makes the script fail; copy it into tests/fuzz/regressions/NAME/.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
shift || true
SECONDS_PER=${FUZZ_SECONDS:-600}
MERGE=${FUZZ_MERGE:-1}
JOBS=${JOBS:-2}
CLANG=${CC:-clang}
command -v "$CLANG" >/dev/null 2>&1 || CLANG=clang-14
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz-long: clang not installed (scripts/install-deps.sh installs it)" >&2
    exit 2
fi

shopt -s nullglob
if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for src in tests/fuzz/fuzz_*.c; do names+=("$(basename "$src" .c)"); done
fi
if [ ${#names[@]} -eq 0 ]; then
    echo "fuzz-long: no fuzz targets" >&2
    exit 2
fi

# Warnings are errors only in the gcc builds (clang warns about more).
if ! CC=$CLANG cmake -S . -B "$BUILD" -DDDBPIPE_FUZZ=ON -DDDBPIPE_WERROR=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.configure.log" 2>&1; then
    cat "$BUILD.configure.log"
    exit 1
fi
if ! nice -n 19 cmake --build "$BUILD" -j"$JOBS" --target "${names[@]}" >"$BUILD/fuzz-build.log" 2>&1; then
    tail -n 40 "$BUILD/fuzz-build.log"
    exit 1
fi

results="$BUILD/fuzz-long-results.md"
mkdir -p "$BUILD/crashes"
failed=0
for name in "${names[@]}"; do
    bin="$BUILD/fuzz/$name"
    seeds="tests/fuzz/corpus/$name"
    work="$BUILD/corpus-long/$name"
    mkdir -p "$work" "$seeds"
    nseeds=$(find "$seeds" -maxdepth 1 -type f | wc -l)
    dict=()
    [ -f "tests/fuzz/corpus/$name.dict" ] && dict=(-dict="tests/fuzz/corpus/$name.dict")
    log="$BUILD/$name.long.log"
    echo "fuzz-long: $name for ${SECONDS_PER}s from $nseeds seeds (log $log)"
    # -timeout: one input taking 10 s is a finding (a hang), not noise.
    # -rss_limit_mb: the parsers cap their buffers; 2 GB means a leak or a missing cap.
    nice -n 19 "$bin" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$name-" "${dict[@]}" \
        "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -n1 | tr -dc 0-9)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | tr -dc 0-9)
    if [ $rc -eq 0 ]; then
        result="no finding"
    else
        result="FINDING (exit $rc, see $log and $BUILD/crashes/)"
        failed=$((failed + 1))
        grep -E 'ERROR:|SUMMARY:|#[0-9]+ 0x' "$log" | head -n 20
    fi
    if [ "$MERGE" = 1 ]; then
        # -use_counters=0: merge by edge coverage only (not hit counts), which
        # keeps the committed corpus to a few hundred files.
        nice -n 19 "$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 "$seeds" "$work" \
            >"$BUILD/$name.merge.log" 2>&1 ||
            echo "fuzz-long: $name: merge failed (see $BUILD/$name.merge.log)"
    fi
    ncorpus=$(find "$seeds" -maxdepth 1 -type f | wc -l)
    nwork=$(find "$work" -maxdepth 1 -type f | wc -l)
    row="| $name | $SECONDS_PER | $nseeds | $ncorpus (work corpus $nwork) | ${execs:-?} | ${cov:-?} | $result |"
    echo "$row" | tee -a "$results"
done
echo "fuzz-long: ${#names[@]} run, $failed with findings (rows appended to $results)"
[ "$failed" -eq 0 ]
