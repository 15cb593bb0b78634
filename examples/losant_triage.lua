-- Triage runbook: list the new critical events of an application,
-- acknowledge them all concurrently with a comment, print a summary.
--
--   LOSANT_URL=... LOSANT_TOKEN=... LOSANT_APPLICATION=... lua5.4 examples/losant_triage.lua
local eventapi = require "eventapi"

local app = os.getenv("LOSANT_APPLICATION")
local token = os.getenv("LOSANT_TOKEN")
if not app or not token then
  io.stderr:write("set LOSANT_APPLICATION and LOSANT_TOKEN (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end

local losant <close> = eventapi.losant{
  url = os.getenv("LOSANT_URL") or "https://api.losant.com",
  token = token,
}

local page = losant.events.get{
  applicationId = app, state = "new", query = { level = "critical" },
  sortField = "creationDate", sortDirection = "asc", perPage = 1000,
}:await()
print(("%d new critical event(s) in application %s"):format(page.totalCount, app))

local acknowledgements = {}
for i, event in ipairs(page.items) do
  acknowledgements[i] = losant.event.patch{
    applicationId = app, eventId = event.id,
    event = { state = "acknowledged", comment = "Acknowledged by the triage runbook" },
  }
end

local acknowledged, failed = 0, 0
for i, outcome in ipairs(eventapi.settle(acknowledgements):await()) do
  local event = page.items[i]
  if outcome.status == "fulfilled" then
    acknowledged = acknowledged + 1
    print(("  acknowledged  %s  %s"):format(event.id, event.subject))
  else
    failed = failed + 1
    print(("  FAILED        %s  %s"):format(event.id, tostring(outcome.reason)))
  end
end
print(("summary: %d acknowledged, %d failed"):format(acknowledged, failed))
os.exit(failed == 0 and 0 or 1)
