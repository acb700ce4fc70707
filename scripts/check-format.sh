#!/usr/bin/env bash
# Every C file (src cli include tests bench examples) in the .clang-format style. Lists the files that
# differ and exits 1 (`make format` rewrites them); exit 2 when clang-format is missing. Run by make test.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || scripts/install-deps.sh --format >/dev/null
command -v clang-format >/dev/null || { echo "format: clang-format missing (apt-get install clang-format)"; exit 2; }
mapfile -t files < <(find src cli include tests bench examples -name '*.[ch]' 2>/dev/null | sort)
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
    printf 'format: not in the .clang-format style: %s\n' "${bad[@]}"
    echo "format: ${#bad[@]} file(s) differ (make format rewrites them)"
    exit 1
fi
echo "format: clean (${#files[@]} files)"
