-- Maintenance is over: re-enable every disabled MQTT integration of an
-- application, four at a time, and list what changed. DRY_RUN=1 prints the
-- changes instead of making them.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; `kill %1` stops the sandbox):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
--     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 bin/eventapi run examples/losant_reenable_mqtt.lua
--
-- Against Losant, leave LOSANT_URL unset (https://api.losant.com) and give
-- your own LOSANT_TOKEN and LOSANT_APPLICATION.
-- After eval "$(bin/eventapi env)" (which sets LUA_PATH and LUA_CPATH),
-- `lua5.4 examples/losant_reenable_mqtt.lua` runs it the same way.
local eventapi = require "eventapi"

local app, token = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN")
if not app or not token then
  io.stderr:write("set LOSANT_APPLICATION and LOSANT_TOKEN (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end

-- Retries cover PATCH too: enabling an integration twice leaves it as once,
-- so a PATCH whose answer was lost is safe to send again.
local losant <close> = eventapi.losant{
  url = os.getenv("LOSANT_URL") or "https://api.losant.com", token = token,
  retries = { max = 3, methods = { "GET", "PATCH" } }, dry_run = os.getenv("DRY_RUN") == "1",
}

local disabled = {}
for integration in losant.integrations.each{ applicationId = app, filterField = "integrationType", filter = "mqtt" } do
  if not integration.enabled then disabled[#disabled + 1] = integration end
end
print(("%d disabled MQTT integration(s)"):format(#disabled))

local enabled = eventapi.map(disabled, function(integration)
  return losant.integration.patch{ applicationId = app, integrationId = integration.id,
                                   integration = { enabled = true } }
end, { concurrency = 4, label = "re-enabling" }):await()

for i, integration in ipairs(disabled) do
  print(("  re-enabled  %s  %s%s"):format(integration.id, integration.name,
                                          enabled[i].dry_run and "  (dry run)" or ""))
end
