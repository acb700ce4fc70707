#!/usr/bin/env bash
# An embedding program as a user would build it: install ddbpipe into a
# temporary prefix (cmake --install), compile examples/embed_sink.c and
# examples/embed_source.c with nothing but the installed header and
# `pkg-config --cflags --libs ddbpipe`, check they load the installed
# libddbpipe.so.MAJOR, then write rows through embed_sink and read them back
# with embed_source from DynamoDB Local.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
export AWS_EC2_METADATA_DISABLED=true
EP=$(ddb_endpoint)
[ -e "$DDBPIPE_BUILD_DIR/libddbpipe.so" ] || skip "no libddbpipe.so in $DDBPIPE_BUILD_DIR (DDBPIPE_SHARED=OFF?)"
command -v pkg-config >/dev/null || fail "pkg-config is not installed (scripts/install-deps.sh installs it)"
P="$TEST_TMP/prefix"
cmake --install "$DDBPIPE_BUILD_DIR" --prefix "$P" >"$TEST_TMP/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -n 20 "$TEST_TMP/install.log")"
for f in bin/ddbpipe include/ddbpipe/ddbpipe.h include/ddbpipe/version.h lib/libddbpipe.a \
    lib/cmake/ddbpipe/ddbpipeConfig.cmake; do
    [ -e "$P/$f" ] || fail "install lacks $f"
done
pcdir=$(dirname "$(find "$P" -name ddbpipe.pc | head -n1)")
[ -f "$pcdir/ddbpipe.pc" ] || fail "install lacks ddbpipe.pc"
libdir=$(dirname "$(find "$P" -name 'libddbpipe.so.*' | head -n1)")

# Only the installed copy: no source tree on the include path, and the
# examples are compiled from the copies installed under share/doc.
export PKG_CONFIG_PATH="$pcdir"
grep -q "^prefix=$P\$" "$pcdir/ddbpipe.pc" || fail "ddbpipe.pc prefix is not $P: $(head -n1 "$pcdir/ddbpipe.pc")"
flags=$(pkg-config --cflags --libs ddbpipe) || fail "pkg-config --cflags --libs ddbpipe failed"
[ "$(pkg-config --modversion ddbpipe)" = "$("$P/bin/ddbpipe" --version | awk '{print $2}')" ] ||
    fail "ddbpipe.pc version differs from ddbpipe --version"
san=()
# An ASan build's library needs the sanitizer runtime first in the program.
# (ldd output captured first: `ldd | grep -q` under pipefail fails when grep exits early.)
if grep -q libasan <<<"$(ldd "$libdir/libddbpipe.so")"; then san=(-fsanitize=address,undefined); fi
ex="$P/share/doc/ddbpipe/examples"
for e in embed_sink embed_source; do
    [ -f "$ex/$e.c" ] || fail "install lacks $ex/$e.c"
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$TEST_TMP/$e" "$ex/$e.c" $flags \
        2>"$TEST_TMP/$e.cc.log" || fail "$e does not build with pkg-config alone: $(cat "$TEST_TMP/$e.cc.log")"
done
# Static: libddbpipe.a plus its direct dependencies (Requires.private, as shared libraries) and
# Libs.private. (`pkg-config --static` would also ask for static copies of curl's own
# dependencies, which Debian's -dev packages do not all ship.)
# shellcheck disable=SC2046
static_libs="$(pkg-config --libs $(pkg-config --print-requires-private ddbpipe)) -lpthread -lm"
# shellcheck disable=SC2046,SC2086
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$TEST_TMP/embed_sink_static" "$ex/embed_sink.c" \
    $(pkg-config --cflags ddbpipe) "$libdir/libddbpipe.a" $static_libs 2>"$TEST_TMP/static.cc.log" ||
    fail "embed_sink does not link statically with pkg-config --static: $(tail -n 20 "$TEST_TMP/static.cc.log")"
grep -q libddbpipe <<<"$(ldd "$TEST_TMP/embed_sink_static")" && fail "the static build still loads libddbpipe.so"
# CMake: find_package(ddbpipe) from the prefix, both imported targets.
mkdir -p "$TEST_TMP/cm"
cat >"$TEST_TMP/cm/CMakeLists.txt" <<CMEOF
cmake_minimum_required(VERSION 3.20)
project(embed C)
find_package(ddbpipe $(pkg-config --modversion ddbpipe) EXACT REQUIRED)
add_executable(embed_sink_cmake "$ex/embed_sink.c")
target_link_libraries(embed_sink_cmake PRIVATE ddbpipe::ddbpipe)
add_executable(embed_source_cmake_static "$ex/embed_source.c")
target_link_libraries(embed_source_cmake_static PRIVATE ddbpipe::ddbpipe_static)
CMEOF
if [ ${#san[@]} -gt 0 ]; then cm_flags=(-DCMAKE_C_FLAGS="${san[*]}"); else cm_flags=(); fi
{ cmake -S "$TEST_TMP/cm" -B "$TEST_TMP/cm/b" -DCMAKE_PREFIX_PATH="$P" "${cm_flags[@]}" &&
    cmake --build "$TEST_TMP/cm/b"; } >"$TEST_TMP/cm.log" 2>&1 ||
    fail "find_package(ddbpipe) consumer does not build: $(tail -n 20 "$TEST_TMP/cm.log")"
export LD_LIBRARY_PATH="$libdir"
loaded=$(ldd "$TEST_TMP/embed_sink" | awk '/libddbpipe\.so/ {print $3}')
[ -n "$loaded" ] && [ "$(dirname "$(readlink -f "$loaded")")" = "$(readlink -f "$libdir")" ] ||
    fail "embed_sink does not load the installed library: $(ldd "$TEST_TMP/embed_sink")"

# In the valgrind sweep the examples (and so libddbpipe.so) run under memcheck too.
VG=()
if [ "${DDBPIPE_TEST_SLOW:-}" = valgrind ] && command -v valgrind >/dev/null; then
    VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect)
fi
T=$(unique_table embed)
export AWS_ACCESS_KEY_ID=AKIDTESTTESTTEST0001 AWS_SECRET_ACCESS_KEY=test-secret-never-printed
C=(table="$T" endpoint_url="$EP" region=us-east-1)
# A bad property is named (the config API's error text).
run "${VG[@]}" "$TEST_TMP/embed_sink" "${C[@]}" batch_size=0 </dev/null
expect_rc 2 "bad property"
expect_in "$ERR" "batch_size" "bad property"

printf '{"id": "a", "n": 1}\n{"id": "b", "n": 2}\n{"no_key": 1}\n{"delete": {"id": "a"}}\n{"insert": {"id": "c", "n": 3}}\n' >"$TEST_TMP/in.jsonl"
run "${VG[@]}" "$TEST_TMP/embed_sink" "${C[@]}" partition_key=id create_table_if_missing=true <"$TEST_TMP/in.jsonl"
expect_rc 1 "embed_sink (one bad record)"
# (a's put may be folded into its delete: the final table is checked below)
expect_in "$OUT" "5 records in, " "embed_sink summary"
expect_in "$OUT" "1 deleted, 1 dead-lettered" "embed_sink summary"

run "${VG[@]}" "$TEST_TMP/embed_source" "${C[@]}"
expect_rc 0 "embed_source"
expect_in "$ERR" "2 rows" "embed_source count"
expect_in "$OUT" '"id":"b"' "embed_source rows"
expect_in "$OUT" '"id":"c"' "embed_source rows"
expect_not_in "$OUT" '"id":"a"' "deleted row"
run "$TEST_TMP/cm/b/embed_source_cmake_static" "${C[@]}"
expect_rc 0 "embed_source built with find_package (static target)"
expect_in "$OUT" '"id":"c"' "find_package static embed_source rows"
run "$TEST_TMP/cm/b/embed_sink_cmake" "${C[@]}" </dev/null
expect_rc 0 "embed_sink built with find_package (shared target)"
# The statically linked copy sees the same table.
run "$TEST_TMP/embed_sink_static" "${C[@]}" partition_key=id <<<'{"id": "s", "n": 4}'
expect_rc 0 "static embed_sink"
expect_in "$OUT" "1 records in, 1 written" "static embed_sink summary"
echo "OK: installed into $P; embed_sink and embed_source built with pkg-config alone and ran"
