-- Live event runbook: schedule tonight's live event in a Monterosa project
-- (19:30 UTC, two hours, started by hand), list what is coming up, start
-- it, and print its state.
--
--   MONTEROSA_URL=https://<environment>.monterosa.cloud/api/v2 MONTEROSA_TOKEN=... \
--   MONTEROSA_PROJECT=<project uuid> lua5.4 examples/monterosa_live.lua ["Event name"]
local eventapi = require "eventapi"

local url, token, project = os.getenv("MONTEROSA_URL"), os.getenv("MONTEROSA_TOKEN"), os.getenv("MONTEROSA_PROJECT")
if not url or not token or not project then
  io.stderr:write("set MONTEROSA_URL, MONTEROSA_TOKEN and MONTEROSA_PROJECT\n")
  os.exit(2)
end

local monterosa <close> = eventapi.monterosa{ url = url, token = token }

local tonight = os.date("!%Y-%m-%dT19:30:00Z")
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
