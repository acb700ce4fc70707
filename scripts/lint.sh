#!/usr/bin/env bash
# Static analysis of src/ and cli/: cppcheck and clang-tidy (.clang-tidy
# says which checks and why). Exit 0 when both are clean, 1 on findings,
# 2 when a tool is missing.
#   scripts/lint.sh [BUILD_DIR]       (default build-lint; configured here with
#                                      clang for its compile_commands.json)
#   LINT_TOOLS="cppcheck" scripts/lint.sh     run one tool only
# Suppressions: inline `// cppcheck-suppress id` / `// NOLINT(check)` with a
# reason, or tests/cppcheck-suppressions.txt (one justification per line).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-lint}
TOOLS=${LINT_TOOLS:-cppcheck clang-tidy}
JOBS=${JOBS:-2}

TIDY=$(command -v clang-tidy-14 || command -v clang-tidy || true)
CLANG=$(command -v clang-14 || command -v clang || true)
for t in $TOOLS; do
    case $t in
    cppcheck) command -v cppcheck >/dev/null || { echo "lint: cppcheck missing (apt-get install cppcheck)"; exit 2; } ;;
    clang-tidy) [ -n "$TIDY" ] && [ -n "$CLANG" ] ||
        { echo "lint: clang-tidy/clang missing (apt-get install clang-tidy-14 clang-14)"; exit 2; } ;;
    esac
done

mapfile -t files < <(find src cli -name '*.c' | sort)
failed=0

if [[ " $TOOLS " == *" cppcheck "* ]]; then
    echo "lint: cppcheck on ${#files[@]} files"
    # --library=posix knows the POSIX/glibc functions; the defines are the
    # ones CMake passes; --inconclusive stays off (too many guesses).
    if nice -n 10 cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
        --std=c11 --library=posix -D_GNU_SOURCE -DDDBPIPE_SOURCE_DIR='"."' -Iinclude -Isrc \
        --suppressions-list=tests/cppcheck-suppressions.txt --quiet -j"$JOBS" \
        --template='{file}:{line}: {severity}: {message} [{id}]' "${files[@]}" 2>"$BUILD.cppcheck.txt"; then
        echo "lint: cppcheck clean"
    else
        cat "$BUILD.cppcheck.txt"
        echo "lint: cppcheck: $(grep -c ': \(warning\|error\|performance\|portability\|style\): ' "$BUILD.cppcheck.txt") finding(s)"
        failed=1
    fi
fi

if [[ " $TOOLS " == *" clang-tidy "* ]]; then
    # Configure every time (cheap): a source file added since the last run
    # must be in compile_commands.json.
    CC=$CLANG cmake -S . -B "$BUILD" -DDDBPIPE_WERROR=OFF >"$BUILD.configure.log" 2>&1 ||
        { cat "$BUILD.configure.log"; exit 1; }
    echo "lint: clang-tidy on ${#files[@]} files ($(basename "$TIDY"), checks from .clang-tidy)"
    out="$BUILD.clang-tidy.txt"
    printf '%s\n' "${files[@]}" | xargs -P"$JOBS" -n4 nice -n 10 "$TIDY" -p "$BUILD" --quiet >"$out" 2>/dev/null
    # Only diagnostics in our own files count; clang-diagnostic-error means a
    # file did not compile (a broken tree, not a lint finding, but still fatal).
    n=$(grep -cE '^/?[^ ]*(src|cli|include)/[^ ]*:[0-9]+:[0-9]+: (warning|error):' "$out")
    if [ "$n" -eq 0 ]; then
        echo "lint: clang-tidy clean"
    else
        grep -E -A3 '^/?[^ ]*(src|cli|include)/[^ ]*:[0-9]+:[0-9]+: (warning|error):' "$out"
        echo "lint: clang-tidy: $n finding(s) (full output: $out)"
        failed=1
    fi
fi
exit $failed
