#!/usr/bin/env bash
# docs/ddbpipe.1.md -> ddbpipe.1 (troff) with go-md2man (Debian package
# go-md2man: one small static binary, no dependencies; pandoc would pull in
# ~150 MB for the same job). The Markdown stays readable on GitHub: only its
# "# ddbpipe(1)" heading is replaced by go-md2man's title block; go-md2man
# turns "## NAME" into .SH NAME and "### sink" into .SS sink.
#   scripts/gen-man.sh docs/ddbpipe.1.md OUT.1 VERSION
set -euo pipefail
in=${1:?usage: gen-man.sh IN.md OUT.1 VERSION}
out=${2:?usage: gen-man.sh IN.md OUT.1 VERSION}
version=${3:?usage: gen-man.sh IN.md OUT.1 VERSION}
command -v go-md2man >/dev/null ||
    { echo "gen-man: go-md2man missing (apt-get install go-md2man, or scripts/install-deps.sh)" >&2; exit 2; }
tmp="$out.md.tmp"
awk -v version="$version" '
    NR == 1 && /^# ddbpipe\(1\)/ { printf "%% DDBPIPE 1 \"\" \"ddbpipe %s\" \"User Commands\"\n", version; next }
    { print }
' "$in" >"$tmp"
go-md2man -in "$tmp" -out "$out"
rm -f "$tmp"
