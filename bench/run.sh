#!/bin/sh
# Runs the benchmark: starts nginx (canned bodies) on a free loopback port in
# a temporary prefix and eventapi-sandbox on another, runs every peer and
# workload through bench/driver.lua, prints one table, stops both servers.
#
# Environment:
#   EVENTAPI_BUILD    directory holding eventapi/core.so and eventapi-sandbox
#                     (default: ../build)
#   QUICK=1           one run of each, small counts: a check that all works
#   RUNS=N            runs per figure (median; default 5, QUICK 1)
#   PEERS=...         subset, e.g. "eventapi-promise raw" (default: all)
#   SERVERS=...       "nginx sandbox" (default), or one of them
#   SKIP_MEMCHECK=1   skip the 200,000-request memory check
#   UPDATE_README=1   also replace the table in bench/README.md
# Expects the C peers built (`make -C bench tools`) and deps.sh run; `make
# bench` (top level) or `make -C bench` does both.
set -eu
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
BUILD=$(cd "${EVENTAPI_BUILD:-$ROOT/build}" && pwd)
SANDBOX_BIN="$BUILD/eventapi-sandbox"
for f in "$BUILD/eventapi/core.so" "$SANDBOX_BIN" "$BENCH/build/raw_client" "$BENCH/build/benchclock.so" "$BENCH/build/rusage"; do
    [ -e "$f" ] || { echo "run.sh: missing $f (make build sandbox; make -C bench tools)" >&2; exit 1; }
done

export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$BUILD/?.so;$BENCH/build/?.so;;"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eventapi-bench.XXXXXX")
NGINX_PID=""
SANDBOX_PID=""

# Stops the servers this script started (by pid) and removes the temp prefix.
cleanup() {
    status=$?
    trap - EXIT INT TERM
    for pid in $NGINX_PID $SANDBOX_PID; do
        kill -TERM "$pid" 2>/dev/null || :
    done
    for pid in $NGINX_PID $SANDBOX_PID; do
        wait "$pid" 2>/dev/null || :
    done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nginx runs its workers as nobody when started by root: let them read.
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/tmp"
lua5.4 "$BENCH/fixtures.lua" "$WORK/www"
chmod 644 "$WORK/www/"*

# Prints a pseudo-random port in 20000..59999.
random_port() {
    od -An -N2 -tu2 /dev/urandom | awk '{ print 20000 + $1 % 40000 }'
}

# Waits until URL answers (any HTTP status) or pid dies; returns 0 if it answers.
wait_http() {
    i=0
    while [ $i -lt 100 ]; do
        if curl -s -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# nginx: a free port is found by trying; a port in use makes nginx exit.
tries=0
while :; do
    tries=$((tries + 1))
    NGINX_PORT=$(random_port)
    lua5.4 "$BENCH/nginx_conf.lua" "$BENCH/nginx.conf.in" "$WORK/nginx.conf" "$WORK" "$NGINX_PORT" \
        "$WORK/www/post_reply.json"
    : > "$WORK/error.log"
    nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" >"$WORK/nginx.out" 2>&1 &
    NGINX_PID=$!
    if wait_http "http://127.0.0.1:$NGINX_PORT/" "$NGINX_PID"; then break; fi
    kill -TERM "$NGINX_PID" 2>/dev/null || :
    wait "$NGINX_PID" 2>/dev/null || :
    NGINX_PID=""
    if [ $tries -ge 10 ] || ! grep -q 'in use' "$WORK/error.log" "$WORK/nginx.out"; then
        echo "run.sh: nginx did not start:" >&2
        cat "$WORK/nginx.out" "$WORK/error.log" >&2
        exit 1
    fi
done
NGINX_URL="http://127.0.0.1:$NGINX_PORT"

"$SANDBOX_BIN" --listen 127.0.0.1:0 --seed "$WORK/www/seed.json" >"$WORK/sandbox.out" 2>"$WORK/sandbox.err" &
SANDBOX_PID=$!
i=0
while ! grep -q '^listening on ' "$WORK/sandbox.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
        echo "run.sh: eventapi-sandbox did not start:" >&2
        cat "$WORK/sandbox.err" >&2
        exit 1
    fi
    sleep 0.05
done
SANDBOX_URL=$(sed -n 's/^listening on //p' "$WORK/sandbox.out" | head -n 1)

echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') on $NGINX_URL (pid $NGINX_PID), eventapi-sandbox on $SANDBOX_URL (pid $SANDBOX_PID)"
export NGINX_URL SANDBOX_URL NGINX_PID SANDBOX_PID
export BENCH_FIXTURES="$WORK/www" BENCH_DIR="$BENCH" BENCH_WORK="$WORK"
lua5.4 "$BENCH/driver.lua"
