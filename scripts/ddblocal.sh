#!/usr/bin/env bash
# DynamoDB Local fixture for tests and the demo.
#
#   scripts/ddblocal.sh start FILE      start on a free loopback port; FILE gets
#                                       the endpoint URL, FILE.pid the java pid
#   scripts/ddblocal.sh stop FILE       stop it (and its watchdog); idempotent
#   scripts/ddblocal.sh run -- CMD...   start, run CMD with DDBPIPE_TEST_ENDPOINT
#                                       and DDBPIPE_TEST_ENDPOINT_FILE set, stop
#
# No java process is ever left behind: a watchdog kills the server when the
# process that started the fixture (ctest, the demo; override with
# DDBPIPE_DDBLOCAL_OWNER_PID) dies, or after DDBPIPE_DDBLOCAL_MAX_S (2 h).
#
# DynamoDB Local runs -inMemory -sharedDb (one database for every access key
# and region, see docs/development.md) from $DDBPIPE_DDBLOCAL_DIR or
# .deps/ddblocal (scripts/install-deps.sh puts it there).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DDB_DIR="${DDBPIPE_DDBLOCAL_DIR:-$ROOT/.deps/ddblocal}"
MAX_S="${DDBPIPE_DDBLOCAL_MAX_S:-7200}"
WAIT_S="${DDBPIPE_DDBLOCAL_WAIT_S:-60}"
JAVA_OPTS="${DDBPIPE_DDBLOCAL_JAVA_OPTS:--Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}"

die() { echo "ddblocal: $*" >&2; exit 1; }

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

free_port() {
    # Ask the kernel for a free loopback port; java binds it right after.
    # A lost race is detected below (java exits) and retried.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

# Field 22 of /proc/PID/stat: start time, to notice pid reuse.
proc_start() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo "${20}"
}

answers() { # URL -> 0 when ListTables answers 200
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=fixture/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        --data '{}' "$1/" 2>/dev/null) || return 1
    [ "$code" = 200 ]
}

kill_pid() { # PID: TERM, wait up to 5 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

start() {
    local file=$1 owner owner_start port pid log attempt deadline url
    [ -f "$DDB_DIR/emulator/DynamoDBLocal.jar" ] ||
        die "DynamoDB Local not found at $DDB_DIR/emulator/DynamoDBLocal.jar; run scripts/install-deps.sh (or set DDBPIPE_DDBLOCAL_DIR)"
    command -v java >/dev/null || die "java not found; run scripts/install-deps.sh"
    command -v curl >/dev/null || die "curl not found; run scripts/install-deps.sh"
    owner="${DDBPIPE_DDBLOCAL_OWNER_PID:-$PPID}"
    owner_start=$(proc_start "$owner") || die "owner process $owner not found"
    if [ -f "$file.pid" ]; then
        stop "$file" # a stale fixture from an aborted run
    fi
    mkdir -p "$(dirname "$file")"
    log="$file.log"
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        url="http://127.0.0.1:$port"
        # setsid + all fds redirected: ctest waits for its child's pipes to
        # close, so the server must not inherit them.
        # shellcheck disable=SC2086
        (cd "$DDB_DIR" && exec setsid java $JAVA_OPTS -Djava.library.path=emulator/DynamoDBLocal_lib \
            -jar emulator/DynamoDBLocal.jar -inMemory -sharedDb -port "$port" -disableTelemetry \
            </dev/null >"$log" 2>&1) &
        pid=$!
        echo "$pid" >"$file.pid"
        # Watchdog: poll every 2 s; kill java when the owner is gone (or was
        # replaced by another process with the same pid) or after MAX_S.
        setsid bash -c '
            java=$1 owner=$2 owner_start=$3 max_s=$4 pidfile=$5
            end=$((SECONDS + max_s))
            while kill -0 "$java" 2>/dev/null; do
                s=$(cat /proc/$owner/stat 2>/dev/null) || break
                s=${s##*) }; set -- $s; [ "${20}" = "$owner_start" ] || break
                [ "$SECONDS" -lt "$end" ] || break
                sleep 2
            done
            if kill -0 "$java" 2>/dev/null; then
                kill "$java" 2>/dev/null; sleep 5; kill -9 "$java" 2>/dev/null
                rm -f "$pidfile"
            fi' ddblocal-watchdog "$pid" "$owner" "$owner_start" "$MAX_S" "$file.pid" \
            </dev/null >/dev/null 2>&1 &
        echo $! >"$file.watchdog"
        deadline=$((SECONDS + WAIT_S))
        while [ "$SECONDS" -lt "$deadline" ]; do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if answers "$url"; then
                echo "$url" >"$file.tmp"
                mv "$file.tmp" "$file"
                echo "ddblocal: DynamoDB Local ready at $url (pid $pid, log $log)"
                return 0
            fi
            sleep 0.3
        done
        if kill -0 "$pid" 2>/dev/null; then
            stop "$file"
            die "DynamoDB Local did not answer ListTables within ${WAIT_S}s; log: $log"
        fi
        stop "$file"
        if grep -qi 'address already in use\|BindException' "$log" 2>/dev/null; then
            echo "ddblocal: port $port taken, retrying" >&2
            continue
        fi
        cat "$log" >&2 || true
        die "DynamoDB Local exited at start; log above ($log)"
    done
    die "no free port after 5 attempts"
}

stop() {
    local file=$1 pid wd
    if [ -f "$file.watchdog" ]; then
        wd=$(cat "$file.watchdog")
        kill "$wd" 2>/dev/null || true
        rm -f "$file.watchdog"
    fi
    if [ -f "$file.pid" ]; then
        pid=$(cat "$file.pid")
        # Only kill it if it is still our java (pid reuse).
        if [ -n "$pid" ] && grep -q DynamoDBLocal "/proc/$pid/cmdline" 2>/dev/null; then
            kill_pid "$pid"
        fi
        rm -f "$file.pid"
    fi
    rm -f "$file" "$file.tmp"
}

run() {
    local dir file rc
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ddbpipe-ddblocal.XXXXXX")
    file="$dir/endpoint"
    # shellcheck disable=SC2064
    trap "stop '$file'; rm -rf '$dir'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    DDBPIPE_DDBLOCAL_OWNER_PID=$$ start "$file"
    DDBPIPE_TEST_ENDPOINT=$(cat "$file")
    export DDBPIPE_TEST_ENDPOINT DDBPIPE_TEST_ENDPOINT_FILE="$file"
    rc=0
    "$@" || rc=$?
    return "$rc"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
start) [ $# -eq 1 ] || usage; start "$1" ;;
stop) [ $# -eq 1 ] || usage; stop "$1" ;;
run)
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || usage
    run "$@"
    ;;
*) usage ;;
esac
