#!/usr/bin/env bash
# Fails when the shared library exports a symbol that is not ddbpipe_*: the
# library is built with hidden visibility and only DDBPIPE_API functions may
# leave it, so an embedder's own names (dp_*, sk_*, ...) can never collide
# with ours. Run by the build (POST_BUILD of libddbpipe.so) and by
# unit.test_exported_symbols.
#   scripts/check-exports.sh path/to/libddbpipe.so
set -euo pipefail
lib=${1:?usage: check-exports.sh LIB.so}
# Dynamic symbol table, defined symbols only (undefined ones are imports).
# Linker-made markers (_init, _fini, _edata, _end, __bss_start) are not ours.
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
bad=$(printf '%s\n' "$syms" | grep -vE '^(ddbpipe_[A-Za-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
n=$(printf '%s\n' "$syms" | grep -cE '^ddbpipe_' || true)
if [ -n "$bad" ]; then
    echo "check-exports: $lib exports $(printf '%s\n' "$bad" | wc -l) symbol(s) outside ddbpipe_*:" >&2
    printf '  %s\n' $bad >&2
    echo "check-exports: mark public functions DDBPIPE_API in include/ddbpipe/ddbpipe.h, keep the rest hidden" >&2
    exit 1
fi
if [ "$n" -eq 0 ]; then
    echo "check-exports: $lib exports no ddbpipe_* symbol (not built with DDBPIPE_API?)" >&2
    exit 1
fi
echo "check-exports: $lib exports $n symbols, all ddbpipe_*"
