#!/usr/bin/env bash
# ddbpipe(1) is generated from docs/ddbpipe.1.md (scripts/gen-man.sh,
# go-md2man): a troff page with the project version, every section of the
# Markdown as a section, and it renders with man(1).
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
page="$DDBPIPE_BUILD_DIR/man/ddbpipe.1"
[ -f "$page" ] || fail "no $page: is go-md2man installed (scripts/install-deps.sh)?"
version=$("$DDBPIPE_BIN" --version | awk '{print $2}')
grep -q "^\.TH DDBPIPE 1 .*ddbpipe $version" "$page" || fail "no .TH line with version $version: $(grep '^\.TH' "$page")"
while IFS= read -r h; do
    grep -qx "\.SH $h" "$page" || fail "section '$h' of docs/ddbpipe.1.md is not a .SH in the page"
done < <(sed -n 's/^## //p' "$DDBPIPE_SOURCE_DIR/docs/ddbpipe.1.md")
grep -qx '\.SS sink' "$page" || fail "subsection 'sink' missing"
if command -v man >/dev/null; then
    out=$(MANWIDTH=80 man -l "$page" 2>&1) || fail "man -l failed: $out"
    expect_in "$out" "ddbpipe - stream changes into and out of Amazon DynamoDB" "rendered NAME"
    expect_in "$out" "EXIT STATUS" "rendered sections"
fi
echo "OK: ddbpipe.1 ($(grep -c '^\.SH' "$page") sections, version $version)"
