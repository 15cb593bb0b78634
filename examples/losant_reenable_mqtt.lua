-- Maintenance is over: re-enable every disabled MQTT integration of an
-- application, four at a time, and list what changed. DRY_RUN=1 prints the
-- changes instead of making them.
--
--   LOSANT_URL=... LOSANT_TOKEN=... LOSANT_APPLICATION=... lua5.4 examples/losant_reenable_mqtt.lua
local eventapi = require "eventapi"

local app, token = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN")
if not app or not token then
  io.stderr:write("set LOSANT_APPLICATION and LOSANT_TOKEN (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end

local losant <close> = eventapi.losant{
  url = os.getenv("LOSANT_URL") or "https://api.losant.com", token = token,
  retries = { max = 3 }, dry_run = os.getenv("DRY_RUN") == "1",
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
