#!/usr/bin/env bash
# Install what ddbpipe needs on Debian 12 -- only what is missing, so a
# second run is instant and needs no network.
#
#   scripts/install-deps.sh              build/test packages + DynamoDB Local
#   scripts/install-deps.sh --valgrind   also valgrind
#   scripts/install-deps.sh --format     also clang-format
#   scripts/install-deps.sh --no-ddblocal   skip DynamoDB Local
#   scripts/install-deps.sh --build-only    only what building and `make install` need
#
# DynamoDB Local comes from the npm package amplify-dynamodb-simulator (it
# ships AWS's DynamoDBLocal.jar under emulator/), cached in the git-ignored
# .deps/ folder. Set DDBPIPE_DDBLOCAL_DIR to use an already unpacked copy.
set -euo pipefail
cd "$(dirname "$0")/.."

DDBLOCAL_NPM_PKG="amplify-dynamodb-simulator@2.9.30"
DEPS_DIR="$PWD/.deps"
want_ddblocal=1
build_only=0
# libclang-rt-14-dev is only a Recommends of clang: it carries libFuzzer and the sanitizer runtimes.
# cppcheck and clang-tidy: scripts/lint.sh, which make test runs.
# go-md2man: docs/ddbpipe.1.md -> the ddbpipe(1) man page (scripts/gen-man.sh); man-db: the man
# command the package check runs (man -w).
pkgs=(build-essential cmake pkg-config clang libcurl4-openssl-dev libssl-dev libyaml-dev
      libmicrohttpd-dev libcmocka-dev librdkafka-dev python3 python3-botocore python3-boto3
      python3-confluent-kafka libclang-rt-14-dev openjdk-17-jre-headless curl ca-certificates cppcheck
      clang-tidy go-md2man man-db)
for arg in "$@"; do
    case "$arg" in
    --valgrind) pkgs+=(valgrind) ;;
    --format) pkgs+=(clang-format) ;;
    --no-ddblocal) want_ddblocal=0 ;;
    --build-only)
        # Compiler, CMake, pkg-config (ddbpipe.pc) and the libraries' -dev packages.
        pkgs=(build-essential cmake pkg-config libcurl4-openssl-dev libssl-dev libyaml-dev libmicrohttpd-dev librdkafka-dev
              go-md2man)
        want_ddblocal=0 build_only=1 ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
    esac
done

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${pkgs[@]}"; do
    installed "$p" || missing+=("$p")
done
# Any node/npm will do: NodeSource's nodejs bundles npm and conflicts with
# Debian's npm package, so look for the commands, not the packages.
if [ "$build_only" = 0 ]; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: missing ${missing[*]} and no apt-get (ddbpipe targets Debian 12); install them by hand" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    echo "install-deps: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_ddblocal" = 1 ]; then
    if [ -n "${DDBPIPE_DDBLOCAL_DIR:-}" ]; then
        if [ ! -f "$DDBPIPE_DDBLOCAL_DIR/emulator/DynamoDBLocal.jar" ]; then
            echo "install-deps: DDBPIPE_DDBLOCAL_DIR=$DDBPIPE_DDBLOCAL_DIR has no emulator/DynamoDBLocal.jar" >&2
            exit 1
        fi
    elif [ ! -f "$DEPS_DIR/ddblocal/emulator/DynamoDBLocal.jar" ]; then
        mkdir -p "$DEPS_DIR"
        tgz=$(ls "$DEPS_DIR"/amplify-dynamodb-simulator-*.tgz 2>/dev/null | head -n1 || true)
        if [ -z "$tgz" ]; then
            echo "install-deps: fetching DynamoDB Local (npm pack $DDBLOCAL_NPM_PKG)"
            (cd "$DEPS_DIR" && npm pack --silent "$DDBLOCAL_NPM_PKG" >/dev/null)
            tgz=$(ls "$DEPS_DIR"/amplify-dynamodb-simulator-*.tgz | head -n1)
        fi
        tmp=$(mktemp -d "$DEPS_DIR/unpack.XXXXXX")
        tar -xzf "$tgz" -C "$tmp"
        rm -rf "$DEPS_DIR/ddblocal"
        mv "$tmp/package" "$DEPS_DIR/ddblocal"
        rmdir "$tmp"
        if [ ! -f "$DEPS_DIR/ddblocal/emulator/DynamoDBLocal.jar" ]; then
            echo "install-deps: $tgz has no emulator/DynamoDBLocal.jar" >&2
            exit 1
        fi
        echo "install-deps: DynamoDB Local unpacked in .deps/ddblocal"
    fi
fi
