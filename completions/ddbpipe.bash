# bash completion for ddbpipe(1). Installed as
# share/bash-completion/completions/ddbpipe (loaded on demand by the
# bash-completion package); or source this file.
#
# The lists come from the ddbpipe being completed, so they never go stale:
# commands from `ddbpipe --help`, a command's options from `ddbpipe CMD --help`,
# property names (for --set NAME=VALUE) from `ddbpipe config --list`.

_ddbpipe_commands() {
    "$1" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}

_ddbpipe_options() { # BIN COMMAND: option lines ("  -i, --input FILE", "      --format FORMAT")
    "$1" "$2" --help 2>/dev/null | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z][a-z-]*'
    printf '%s\n' -c -h -q -v
}

_ddbpipe_properties() {
    "$1" config --list 2>/dev/null | grep -E '^[a-z][a-z0-9_]*$'
}

_ddbpipe() {
    local cur prev bin cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    bin=${COMP_WORDS[0]}
    # The command is the first word after the program that is not an option.
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done

    case $prev in
    -c | --config | -i | --input | -o | --output | --dead-letter | --checkpoint | --stats-file | --sql)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        compopt -o filenames 2>/dev/null
        return 0 ;;
    --set)
        mapfile -t COMPREPLY < <(compgen -W "$(_ddbpipe_properties "$bin")" -S = -- "$cur")
        compopt -o nospace 2>/dev/null
        return 0 ;;
    --format)
        if [ "$cmd" = source ]; then
            mapfile -t COMPREPLY < <(compgen -W "json dynamodb debezium" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "auto json feldera debezium dynamodb-stream" -- "$cur")
        fi
        return 0 ;;
    --mode)
        mapfile -t COMPREPLY < <(compgen -W "snapshot stream snapshot+stream" -- "$cur")
        return 0 ;;
    --from)
        mapfile -t COMPREPLY < <(compgen -W "trim_horizon latest" -- "$cur")
        return 0 ;;
    --for | help)
        mapfile -t COMPREPLY < <(compgen -W "$(_ddbpipe_commands "$bin")" -- "$cur")
        return 0 ;;
    --segments)
        return 0 ;;
    esac

    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(_ddbpipe_commands "$bin") help" -- "$cur")
        fi
        return 0
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_ddbpipe_options "$bin" "$cmd" | sort -u)" -- "$cur")
        return 0
    fi
    # sql takes a script file as its argument.
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    compopt -o filenames 2>/dev/null
    return 0
}
complete -F _ddbpipe ddbpipe
