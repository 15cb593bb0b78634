-- Triage runbook: acknowledge every new critical event of an application
-- that is older than an hour, eight at a time, with a comment; print a
-- summary. DRY_RUN=1 prints the changes instead of making them.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; `kill %1` stops the sandbox):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
--     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 bin/eventapi run examples/losant_triage.lua
--
-- Against Losant, leave LOSANT_URL unset (https://api.losant.com) and give
-- your own LOSANT_TOKEN and LOSANT_APPLICATION.
-- After eval "$(bin/eventapi env)" (which sets LUA_PATH and LUA_CPATH),
-- `lua5.4 examples/losant_triage.lua` runs it the same way.
local eventapi = require "eventapi"

local app, token = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN")
if not app or not token then
  io.stderr:write("set LOSANT_APPLICATION and LOSANT_TOKEN (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end

-- Retries cover PATCH too: acknowledging an event twice leaves it as once,
-- so a PATCH whose answer was lost is safe to send again.
local losant <close> = eventapi.losant{
  url = os.getenv("LOSANT_URL") or "https://api.losant.com", token = token,
  retries = { max = 3, methods = { "GET", "PATCH" } }, dry_run = os.getenv("DRY_RUN") == "1",
}

-- The state goes inside the query: Losant ignores the state param when a
-- query is given (the client refuses the two together).
local an_hour_ago_ms = (os.time() - 3600) * 1000
local stale = losant.events.all{
  applicationId = app, sortField = "creationDate", sortDirection = "asc",
  query = { state = "new", level = "critical", creationDate = { ["$lt"] = an_hour_ago_ms } },
}:await()
print(("%d new critical event(s) older than an hour in application %s"):format(#stale, app))

local outcomes = eventapi.map(stale, function(event)
  return losant.event.patch{ applicationId = app, eventId = event.id,
                             event = { state = "acknowledged", comment = "Acknowledged by the triage runbook" } }
end, { concurrency = 8, settle = true, label = "acknowledging" }):await()

local failed = 0
for i, outcome in ipairs(outcomes) do
  local event = stale[i]
  if outcome.status == "fulfilled" then
    print(("  acknowledged  %s  %s"):format(event.id, event.subject))
  else
    failed = failed + 1
    print(("  FAILED        %s  %s"):format(event.id, tostring(outcome.reason)))
  end
end
print(("summary: %d acknowledged, %d failed"):format(#stale - failed, failed))
os.exit(failed == 0 and 0 or 1)
