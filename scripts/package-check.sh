#!/usr/bin/env bash
# The Debian package as a user gets it (run by scripts/test.sh in CI): build
# BUILD/ddbpipe_VERSION_ARCH.deb with CPack, `apt-get install` it, check the
# installed /usr/bin/ddbpipe (--version, `man -w ddbpipe`, bash completion,
# pkg-config), run the demo pipeline against DynamoDB Local with it, then
# purge the package (CI machines are reused) and check nothing is left.
# Ends with one line: "package: OK (...)" or "package: FAILED (...)".
#   scripts/package-check.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
export AWS_EC2_METADATA_DISABLED=true
log="$BUILD/package-check.log"
start=$(date +%s)
if [ "$(id -u)" -ne 0 ]; then
    echo "package: SKIPPED (apt-get install needs root; CI runs as root)"
    exit 0
fi
installed=0
purge() {
    if dpkg-query -W -f='${Status}' ddbpipe 2>/dev/null | grep -q 'install ok installed'; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq ddbpipe >>"$log" 2>&1
    fi
}
fail() {
    echo "package: step failed: $*; last lines of $log:"
    tail -n 30 "$log"
    [ "$installed" = 1 ] && purge
    echo "package: FAILED ($*)"
    exit 1
}
: >"$log"
# A package left by an earlier, interrupted run would hide this one's files.
purge

version=$(sed -nE 's/^project\(ddbpipe VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
# Build the package from this tree (reuses BUILD's objects).
{ cmake -S . -B "$BUILD" && cmake --build "$BUILD" -j"${JOBS:-2}" &&
    (cd "$BUILD" && cpack -G DEB); } >>"$log" 2>&1 || fail "cpack"
deb=$(ls "$BUILD"/ddbpipe_"$version"_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || fail "no $BUILD/ddbpipe_${version}_*.deb"
dpkg-deb -I "$deb" >>"$log" 2>&1
depends=$(dpkg-deb -f "$deb" Depends)
echo "package: $deb ($(du -k "$deb" | cut -f1) KB), Depends: $depends"

# apt-get resolves the Depends; ./ marks a local file.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >>"$log" 2>&1 || fail "apt-get install ./$deb"
installed=1
B=/usr/bin/ddbpipe
[ -x "$B" ] || fail "no $B after install"
out=$("$B" --version 2>&1) || fail "ddbpipe --version"
[ "$out" = "ddbpipe $version" ] || fail "ddbpipe --version says '$out', want 'ddbpipe $version'"
page=$(man -w ddbpipe 2>>"$log") || fail "man -w ddbpipe"
case $page in /usr/share/man/man1/ddbpipe.1*) ;; *) fail "man -w ddbpipe: $page" ;; esac
grep -q 'EXIT STATUS' <<<"$(man ddbpipe 2>/dev/null)" || fail "man ddbpipe does not render"
[ -f /usr/share/bash-completion/completions/ddbpipe ] || fail "no bash completion installed"
[ "$(pkg-config --modversion ddbpipe 2>>"$log")" = "$version" ] || fail "pkg-config --modversion ddbpipe"
# The runtime loader finds the shared library (ldconfig trigger).
grep -q 'libddbpipe.so.0 ' <<<"$(ldconfig -p)" || fail "libddbpipe.so.0 not in the linker cache"

# The demo pipeline (scripts/demo.sh: DynamoDB Local, create-table, check,
# sink with one dead letter, source snapshot and stream) with the installed binary.
demo_log="$BUILD/package-demo.log"
scripts/demo.sh "$B" >"$demo_log" 2>&1 || { cat "$demo_log" >>"$log"; fail "demo with $B"; }
grep -q '(exit 1: 0 = all written' "$demo_log" || fail "demo: the sink did not finish with its one dead letter"
grep -q '"op":"snapshot"' "$demo_log" || fail "demo: no snapshot rows read back"
grep -q '"user_id":"alice"' "$demo_log" || fail "demo: alice's row missing from the read-back"
if grep -q '(source exit' "$demo_log"; then fail "demo: a source run failed"; fi

purge || fail "apt-get purge ddbpipe"
installed=0
for f in /usr/bin/ddbpipe /usr/share/man/man1/ddbpipe.1 /usr/lib/libddbpipe.so.0 /usr/include/ddbpipe/ddbpipe.h; do
    [ ! -e "$f" ] || fail "$f still there after purge"
done
echo "package: OK ($(basename "$deb"): apt-get install, --version, man -w, completion, pkg-config, demo pipeline, purged; $(($(date +%s) - start)) s)"
