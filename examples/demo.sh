#!/bin/sh
# make demo: start eventapi-sandbox with the example seed on a free port, run
# the example runbooks against it with bin/eventapi run (the command each
# runbook's header shows), stop the sandbox.
set -eu
sandbox=${1:-build/eventapi-sandbox}
out=$(mktemp)
"$sandbox" --listen 127.0.0.1:0 --seed examples/seed.json >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$out"' EXIT INT TERM
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on //p' "$out")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "demo: the sandbox did not start" >&2; exit 1; }
echo "sandbox listening on $url"

export LOSANT_URL="$url" LOSANT_TOKEN=sandbox-all-access
export LOSANT_APPLICATION=575ec8687ae143cd83dc4a97
export MONTEROSA_URL="$url/api/v2" MONTEROSA_TOKEN=sandbox-monterosa-token
export MONTEROSA_PROJECT=850e644e-f1ea-444d-bae3-cf38badbe501
export CONNECTDAILY_URL="$url/calendar" CONNECTDAILY_USER=api CONNECTDAILY_PASSWORD=sandbox-password
export CONNECTDAILY_EVENT=42 CONNECTDAILY_DATE=2026-12-08
for runbook in examples/losant_triage.lua examples/losant_reenable_mqtt.lua examples/monterosa_live.lua \
               examples/live_when_scheduled.lua examples/connectdaily_fork.lua; do
  echo
  echo "== $runbook"
  bin/eventapi run "$runbook"
done
