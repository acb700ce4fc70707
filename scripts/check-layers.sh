#!/usr/bin/env bash
# Check the library's layering over the #include lines of src/ and cli/.
#   scripts/check-layers.sh [SOURCE_DIR]     (default: the repository this script is in)
#
# Rules (docs/architecture.md, "Layers"):
#   1. A file in src/LAYER/ includes "OTHER/..." only when OTHER is LAYER or a layer below it. The order,
#      bottom to top, is read from the "Layer order" line of docs/architecture.md.
#   2. cli/ includes only the public header ("ddbpipe/...") and its own files.
#   3. A layer's private header is included only inside its folder: client/client_internal.h (the client
#      handle's fields) in src/client/, sink/sink_internal.h (the sink's fields and its engine) in src/sink/;
#      transports and sql use the public sink API.
#   4. A system library's headers are included only by the layer that wraps it (curl: http, OpenSSL: aws,
#      libyaml: config, libmicrohttpd: metrics, librdkafka: transport).
#   5. DynamoDB request JSON is written only in src/ddb/: outside it no C string holds a quoted request
#      member ("TableName", "RequestItems", ...), so adding an operation touches ddb/ and its caller only.
# A violation being removed is listed in scripts/layers-exceptions.txt as "FILE INCLUDE -- reason (issue N)"
# (for rule 5, FILE \"Member\" -- reason);
# the check skips exactly that line and warns when an exception no longer matches anything.
# Exit 0 clean, 1 violations (each printed as FILE:LINE: ...), 2 usage or unreadable inputs.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
doc="$root/docs/architecture.md"
exceptions="$root/scripts/layers-exceptions.txt"

[ -d "$root/src" ] || { echo "check-layers: no $root/src" >&2; exit 2; }
order_line=$(grep -m1 '^Layer order' "$doc" 2>/dev/null) ||
    { echo "check-layers: no 'Layer order' line in $doc" >&2; exit 2; }
# The backticked names of that line, bottom first.
# shellcheck disable=SC2016 # the backticks are literal
read -r -a layers <<<"$(grep -o '`[a-z]*`' <<<"$order_line" | tr -d '`' | tr '\n' ' ')"
[ "${#layers[@]}" -ge 2 ] || { echo "check-layers: cannot read the layer order from: $order_line" >&2; exit 2; }

declare -A rank=()
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done
for d in "$root"/src/*/; do
    d=$(basename "$d")
    [ -n "${rank[$d]+x}" ] || { echo "check-layers: src/$d/ is not in the layer order of docs/architecture.md" >&2; exit 2; }
done
[ -n "${rank[cli]+x}" ] || { echo "check-layers: 'cli' is not in the layer order" >&2; exit 2; }

# Which layer may include a system library's headers (include path prefix -> layer).
declare -A lib_owner=([curl/]=http [openssl/]=aws [yaml.h]=config [microhttpd.h]=metrics [librdkafka/]=transport)

declare -A allowed=()
declare -A used=()
if [ -f "$exceptions" ]; then
    n=0
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        case "$line" in '' | '#'*) continue ;; esac
        read -r f inc sep reason <<<"$line"
        if [ "${sep:-}" != "--" ] || [ -z "${reason:-}" ]; then
            echo "check-layers: $exceptions:$n: expected 'FILE INCLUDE -- reason (issue N)': $line" >&2
            exit 2
        fi
        allowed["$f $inc"]=$n
    done <"$exceptions"
fi

bad=0
violation() { # file line include message [verb]
    local key="$1 $3"
    if [ -n "${allowed[$key]+x}" ]; then
        used[$key]=1
        return
    fi
    echo "$1:$2: ${5:-includes} $3: $4"
    bad=$((bad + 1))
}

cd "$root" || exit 2
# Every include line of src/ and cli/ as FILE:LINE:TEXT, files in a stable order.
while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    lineno=${rest%%:*}
    text=${rest#*:}
    case "$file" in
    cli/*) layer=cli ;;
    src/*/*) layer=${file#src/}; layer=${layer%%/*} ;;
    *) continue ;;
    esac
    [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*([\"\<])([^\"\>]+) ]] || continue
    kind=${BASH_REMATCH[1]}
    inc=${BASH_REMATCH[2]}
    if [ "$kind" = "<" ]; then
        for prefix in "${!lib_owner[@]}"; do
            if [[ $inc == "$prefix"* ]] && [ "$layer" != "${lib_owner[$prefix]}" ]; then
                violation "$file" "$lineno" "<$inc>" "only ${lib_owner[$prefix]}/ uses this library"
            fi
        done
        continue
    fi
    [[ $inc == */* ]] || continue # a file of the same folder
    target=${inc%%/*}
    [ "$target" = ddbpipe ] && continue # the public header: every layer may use it
    if [ "$layer" = cli ]; then
        violation "$file" "$lineno" "\"$inc\"" "cli/ uses only the public API (ddbpipe/ddbpipe.h)"
        continue
    fi
    if [ "$inc" = client/client_internal.h ] && [ "$layer" != client ]; then
        violation "$file" "$lineno" "\"$inc\"" "the client handle's fields are private to src/client/ (use client/client.h)"
        continue
    fi
    # (a layer below sink/ gets the layering message below instead)
    if [ "$inc" = sink/sink_internal.h ] && [ "${rank[$layer]}" -gt "${rank[sink]}" ]; then
        violation "$file" "$lineno" "\"$inc\"" "the sink's fields and engine are private to src/sink/ (use the public sink API, ddbpipe/ddbpipe.h)"
        continue
    fi
    if [ -z "${rank[$target]+x}" ]; then
        violation "$file" "$lineno" "\"$inc\"" "'$target' is not a layer of docs/architecture.md"
    elif [ "${rank[$target]}" -gt "${rank[$layer]}" ]; then
        violation "$file" "$lineno" "\"$inc\"" "$layer/ is below $target/ (a layer includes only layers below it)"
    fi
done < <(find src cli -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z |
    xargs -0 -r grep -nE '^[[:space:]]*#[[:space:]]*include' /dev/null)

# Rule 5: a request member inside a C string (\"TableName\") outside src/ddb/; reported (and listed as an
# exception) as FILE \"Member\".
members='TableName|RequestItems|TransactItems|KeyConditionExpression|FilterExpression|ConditionExpression|'
members+='ExclusiveStartKey|ExpressionAttributeValues|ExpressionAttributeNames|ProjectionExpression|'
members+='KeySchema|AttributeDefinitions|ProvisionedThroughput|BillingMode|ReturnValues|ShardIterator|'
members+='ShardIteratorType|StreamArn|ExclusiveStartShardId|TotalSegments|ConsistentRead'
while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    lineno=${rest%%:*}
    member=$(grep -oE "\\\\\"($members)\\\\\"" <<<"${rest#*:}" | head -n1 | tr -d '\\"')
    violation "$file" "$lineno" "\\\"$member\\\"" \
        "a DynamoDB request member outside src/ddb/ (request JSON is built by ddb/ops.h's functions)" writes
done < <(find src cli -type f \( -name '*.c' -o -name '*.h' \) -not -path 'src/ddb/*' -print0 | sort -z |
    xargs -0 -r grep -nE "\\\\\"($members)\\\\\"" /dev/null)

for key in "${!allowed[@]}"; do
    [ -n "${used[$key]+x}" ] ||
        echo "check-layers: warning: scripts/layers-exceptions.txt:${allowed[$key]}: '$key' no longer occurs; remove the line" >&2
done
if [ "$bad" -gt 0 ]; then
    echo "check-layers: $bad violation(s) of the layering (order: ${layers[*]}); see docs/architecture.md"
    exit 1
fi
echo "check-layers: OK (${#allowed[@]} listed exception(s); order: ${layers[*]})"
