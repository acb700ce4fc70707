#!/usr/bin/env bash
# bash completion (completions/ddbpipe.bash) against the built ddbpipe: the
# commands, a command's options, property names after --set, enumerated
# values, files after -c.
set -euo pipefail
. "${DDBPIPE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/testutil.sh"
# shellcheck disable=SC1091
. "$DDBPIPE_SOURCE_DIR/completions/ddbpipe.bash"
compopt() { :; } # only valid while bash itself is completing

complete_line() { # WORDS...: completes the last word; sets REPLY_WORDS
    COMP_WORDS=("$DDBPIPE_BIN" "$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _ddbpipe
    REPLY_WORDS=" ${COMPREPLY[*]} "
}
want() { # LABEL WORD...
    local label=$1 w
    shift
    for w in "$@"; do
        case $REPLY_WORDS in *" $w "*) ;; *) fail "$label: '$w' not offered; got:$REPLY_WORDS" ;; esac
    done
}

complete_line ""
want "commands" sink source create-table check list-tables sql config
complete_line "si"
[ "$REPLY_WORDS" = " sink " ] || fail "'si' should complete to sink only, got:$REPLY_WORDS"
complete_line sink --
want "sink options" --input --format --dead-letter --checkpoint --stats-file --config --set --quiet
complete_line source --
want "source options" --output --mode --from --segments --until-caught-up
complete_line sink --set ""
want "property names" table= endpoint_url= batch_size= partition_key= metrics_address=
complete_line sink --set ta
[ "$REPLY_WORDS" = " table= " ] || fail "--set ta should complete to table=, got:$REPLY_WORDS"
complete_line source --mode ""
want "source modes" snapshot stream snapshot+stream
complete_line sink --format ""
want "sink formats" auto json feldera debezium dynamodb-stream
touch "$TEST_TMP/pipeline.yaml"
complete_line sink -c "$TEST_TMP/pipe"
want "config file" "$TEST_TMP/pipeline.yaml"
n=$("$DDBPIPE_BIN" config --list | grep -cE '^[a-z][a-z0-9_]*$')
complete_line sink --set ""
[ "$(wc -w <<<"$REPLY_WORDS")" -eq "$n" ] || fail "--set offers $(wc -w <<<"$REPLY_WORDS") names, config --list has $n"
echo "OK: completion offers commands, options, $n property names, values and files"
