#!/usr/bin/env bash
# The shared library exports only ddbpipe_* (hidden visibility plus
# DDBPIPE_API), and every function the public header declares is exported.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
lib="$DDBPIPE_BUILD_DIR/libddbpipe.so"
if [ ! -e "$lib" ]; then
    echo "SKIPPED: no $lib (built with -DDDBPIPE_SHARED=OFF or a fuzz build)"
    exit 77
fi
bash "$DDBPIPE_SOURCE_DIR/scripts/check-exports.sh" "$lib"
soname=$(readelf -d "$lib" | sed -nE 's/.*Library soname: \[(.*)\].*/\1/p')
major=$(sed -nE 's/^#define DDBPIPE_VERSION_MAJOR ([0-9]+)/\1/p' "$DDBPIPE_BUILD_DIR/include/ddbpipe/version.h")
[ "$soname" = "libddbpipe.so.$major" ] || fail "SONAME is '$soname', want libddbpipe.so.$major"
exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u)
declared=$(grep -oE 'DDBPIPE_API [^(]*\(' "$DDBPIPE_SOURCE_DIR/include/ddbpipe/ddbpipe.h" |
    grep -oE 'ddbpipe_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
[ -z "$missing" ] || fail "declared DDBPIPE_API but not exported: $missing"
echo "OK: $(printf '%s\n' "$declared" | wc -l) public functions exported, SONAME $soname"
