#!/usr/bin/env bash
# Every pkg-config module CMakeLists.txt requires (pkg_check_modules(... REQUIRED ...)) is
#  - in ddbpipe.pc's Requires.private, so `pkg-config --static --libs ddbpipe` links libddbpipe.a;
#  - in ddbpipeConfig.cmake's list, so ddbpipe::ddbpipe_static finds it;
#  - installed by `scripts/install-deps.sh --build-only` (its Debian -dev package), so `make install`
#    works on a fresh Debian 12 as the README says.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
S=$DDBPIPE_SOURCE_DIR
mods=$(sed -nE 's/^pkg_check_modules\(([A-Z0-9_]+) REQUIRED IMPORTED_TARGET ([^ )]+)\).*/\1=\2/p' "$S/CMakeLists.txt")
[ -n "$mods" ] || fail "no pkg_check_modules(... REQUIRED ...) found in CMakeLists.txt"
pc="$DDBPIPE_BUILD_DIR/ddbpipe.pc.in"
[ -f "$pc" ] || fail "no $pc (configure first)"
requires=" $(sed -n 's/^Requires.private: //p' "$pc") "
config=$(cat "$DDBPIPE_BUILD_DIR/ddbpipeConfig.cmake")
build_only=$(sed -n '/--build-only)/,/;;/p' "$S/scripts/install-deps.sh")
for m in $mods; do
    var=${m%%=*} mod=${m#*=}
    case $requires in *" $mod "*) ;; *) fail "$mod is required by CMakeLists.txt but not in ddbpipe.pc Requires.private:$requires" ;; esac
    case $config in *"$var=$mod"*) ;; *) fail "$var=$mod missing from ddbpipeConfig.cmake's dependency list" ;; esac
    path=$(pkg-config --path "$mod") || fail "pkg-config does not know $mod"
    deb=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1) ||
        deb=$(dpkg -S "$path" | head -n1 | cut -d: -f1)
    [ -n "$deb" ] || fail "no Debian package owns $path"
    case $build_only in *" $deb"*|*"($deb"*) ;; *) fail "install-deps.sh --build-only does not install $deb (for $mod)" ;; esac
    echo "ok: $mod ($deb)"
done
echo "OK: $(wc -w <<<"$mods") pkg-config dependencies in ddbpipe.pc, the package config and --build-only"
