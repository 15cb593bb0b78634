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

# Beyond events: a small fleet for the device and workflow runbooks, made
# with the command (one call per line; --compact prints one JSON line).
echo
echo "== a fleet: three pumps (two on floor 2), their states, and a workflow"
app=$LOSANT_APPLICATION
id_of() { sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' | head -1; }
for pump in pump-1:2 pump-2:2 pump-3:3; do
  name=${pump%%:*} floor=${pump##*:}
  device=$(bin/eventapi --compact losant devices post --applicationId "$app" --device \
    "{\"name\":\"$name\",\"deviceClass\":\"standalone\",\"tags\":[{\"key\":\"floor\",\"value\":\"$floor\"}],\"attributes\":[{\"name\":\"pressure\",\"dataType\":\"number\"}]}" | id_of)
  bin/eventapi --compact losant device sendState --applicationId "$app" --deviceId "$device" \
    --deviceState "{\"data\":{\"pressure\":$floor.5}}" > /dev/null
  echo "  $name  $device  floor $floor"
  DEVICE=${DEVICE:-$device}
done
export DEVICE SIMULATE_DEVICE=1 TIMEOUT=10
FLOW=$(bin/eventapi --compact losant flows post --applicationId "$app" \
  --flow '{"name":"pump alarms","enabled":true,"triggers":[],"nodes":[]}' | id_of)
export FLOW WINDOW=0.2
echo "  workflow $FLOW"
for runbook in examples/losant_command_tagged.lua examples/losant_maintenance_window.lua \
               examples/losant_command_confirmed.lua; do
  echo
  echo "== $runbook"
  bin/eventapi run "$runbook"
done
