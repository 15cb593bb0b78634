-- Live event runbook: schedule tonight's live event in a Monterosa project
-- (at the next 19:30 UTC: today's while it is still ahead, else tomorrow's;
-- two hours, started by hand), list what is coming up, start it, and print
-- its state.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; `kill %1` stops the sandbox):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   MONTEROSA_URL=http://127.0.0.1:5555/api/v2 MONTEROSA_TOKEN=sandbox-monterosa-token \
--     MONTEROSA_PROJECT=850e644e-f1ea-444d-bae3-cf38badbe501 bin/eventapi run examples/monterosa_live.lua
--
-- An argument after the runbook names the event (default "Tonight's match").
-- Against Monterosa: MONTEROSA_URL=https://<environment>.monterosa.cloud/api/v2,
-- your own MONTEROSA_TOKEN and MONTEROSA_PROJECT (the project's uuid).
-- Optional: MONTEROSA_NOW (a Unix time, default the clock's) is the time the
-- next 19:30 UTC is counted from.
-- After eval "$(bin/eventapi env)" (which sets LUA_PATH and LUA_CPATH),
-- `lua5.4 examples/monterosa_live.lua` runs it the same way.
local eventapi = require "eventapi"

local url, token, project = os.getenv("MONTEROSA_URL"), os.getenv("MONTEROSA_TOKEN"), os.getenv("MONTEROSA_PROJECT")
if not url or not token or not project then
  io.stderr:write("set MONTEROSA_URL, MONTEROSA_TOKEN and MONTEROSA_PROJECT\n")
  os.exit(2)
end

local now_text = os.getenv("MONTEROSA_NOW")
local now = now_text and now_text:match("^%d+$") and math.tointeger(tonumber(now_text))
if now_text and not now then
  io.stderr:write("MONTEROSA_NOW must be a Unix time (seconds), not '", now_text, "'\n")
  os.exit(2)
end
now = now or os.time()

local monterosa <close> = eventapi.monterosa{ url = url, token = token }

-- The next 19:30 UTC (a UTC day is 86400 Unix seconds): today's if still ahead, else tomorrow's.
local at = now - now % 86400 + 19 * 3600 + 30 * 60
if at <= now then at = at + 86400 end
local tonight = os.date("!%Y-%m-%dT%H:%M:%SZ", at)
local ok, err = pcall(function()
  local live = monterosa.events.create{
    project_id = project, name = arg[1] or "Tonight's match", start_at = tonight,
    duration = 2 * 3600, start_mode = "manual", end_mode = "duration",
  }:await()
  print(("scheduled  %s  %q at %s (%s)"):format(live.id, live.name, live.start_at_iso, live.state))

  local upcoming = monterosa.events.list{ project_id = project, state = { "future", "current" },
                                          sort = "start_time", count = 100 }:await()
  print(("%d upcoming or current event(s) in the project"):format(#upcoming.items))
  for _, ev in ipairs(upcoming.items) do
    print(("  %-8s %s  %s"):format(ev.state, ev.start_at_iso, ev.name))
  end

  monterosa.events.update{ event_id = live.id, action = "start" }:await()
  local now = monterosa.events.get{ event_id = live.id, include = "stats" }:await()
  print(("started    %s: state %s, ends at %s"):format(now.id, now.state, now.end_at_iso))
end)
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
