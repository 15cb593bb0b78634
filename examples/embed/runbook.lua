-- The runbook examples/embed/host.c runs: it starts its work and returns at
-- once; the host's own loop drives it (eventapi.pollfd, eventapi.step(0)).
-- It reads the new critical events of an application one by one, then waits
-- a little and lists them again, printing as it goes. Work written with
-- eventapi.spawn and await reads top to bottom, yet never blocks the host.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox embed`; `kill %1` stops the sandbox):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json --faults &
--   eval "$(bin/eventapi env)"
--   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
--     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 build/embed-host examples/embed/runbook.lua
--
-- LOSANT_FAULT (for rehearsals on the sandbox, which must run with --faults)
-- is sent as X-Sandbox-Fault with the first list call, e.g. delay=2000 holds
-- it two seconds while the host keeps ticking.
local eventapi = require "eventapi"

local app, token = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN")
if not app or not token then error("set LOSANT_APPLICATION and LOSANT_TOKEN (and LOSANT_URL for the sandbox)", 0) end
local losant = eventapi.losant({ url = os.getenv("LOSANT_URL"), token = token })
local fault = os.getenv("LOSANT_FAULT")

eventapi.spawn(function()
  local page = losant.events.get({ applicationId = app, state = "new", filterField = "subject", filter = "*",
                                   headers = fault and { ["X-Sandbox-Fault"] = fault } or nil }):await()
  print(("runbook: %d new events"):format(#page.items))
  for _, ev in ipairs(page.items) do
    local one = losant.event.get({ applicationId = app, eventId = ev.id }):await()
    print(("runbook: %s %s %s"):format(one.id, one.level, one.subject))
  end
  eventapi.sleep(0.3):await()
  local again = losant.events.get({ applicationId = app, state = "new" }):await()
  print(("runbook: done, %d new events"):format(#again.items))
end)
