#!/bin/sh
# Embedding figures (issue #13): host CPU while one request is held 2 s by
# the sandbox, and the latency from call to callback, for three hosts on one
# machine in one run: eventapi.run(), the luv adapter (eventapi.luv) and the
# C host example (examples/embed/host.c, with its 100 ms tick).
#   sh bench/embed/run.sh        (after make build sandbox embed; make -C bench tools)
# RUNS=N repeats each figure (median; default 5).
set -eu
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
BUILD=$(cd "${EVENTAPI_BUILD:-$ROOT/build}" && pwd)
RUNS=${RUNS:-5}
export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$BUILD/?.so;;"
out=$(mktemp); work=$(mktemp -d)
"$BUILD/eventapi-sandbox" --listen 127.0.0.1:0 --seed "$ROOT/examples/seed.json" --faults >"$out" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$out" "$work"' EXIT INT TERM
url=""
for _ in $(seq 1 100); do url=$(sed -n 's/^listening on //p' "$out"); [ -n "$url" ] && break; sleep 0.05; done
export LOSANT_URL="$url"
RUNBOOK="$BENCH/embed/runbook.lua"

# host name -> command
cmd() {
  case "$1" in
    run) echo "lua5.4 $BENCH/embed/with_run.lua $RUNBOOK" ;;
    luv) echo "lua5.4 $BENCH/embed/with_luv.lua $RUNBOOK" ;;
    c-host) echo "$BUILD/embed-host $RUNBOOK" ;;
  esac
}

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# CPU ms (user + system) of one run of host with EMBED_HOLD_MS=$2
cpu_ms() {
  EMBED_MODE=hold EMBED_HOLD_MS=$2 "$BENCH/build/rusage" "$work/ru" $(cmd "$1") </dev/null >/dev/null
  awk '{ printf "%.2f\n", ($2 + $3) * 1000 }' "$work/ru"
}

echo "| host | CPU ms, request held 2 s | CPU ms, not held | CPU while pending (ms) | p50 call to callback (µs) | p90 (µs) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for host in run luv c-host; do
  : >"$work/held"; : >"$work/quick"; : >"$work/p50"; : >"$work/p90"
  for _ in $(seq 1 "$RUNS"); do
    cpu_ms "$host" 2000 >>"$work/held"
    cpu_ms "$host" 0 >>"$work/quick"
    line=$(EMBED_MODE=latency $(cmd "$host") </dev/null | grep '^LATENCY')
    echo "$line" | sed 's/.*p50_us=\([0-9.]*\).*/\1/' >>"$work/p50"
    echo "$line" | sed 's/.*p90_us=\([0-9.]*\).*/\1/' >>"$work/p90"
  done
  held=$(median <"$work/held"); quick=$(median <"$work/quick")
  echo "| $host | $held | $quick | $(echo "$held $quick" | awk '{ printf "%.1f", $1 - $2 }') | $(median <"$work/p50") | $(median <"$work/p90") |"
done
