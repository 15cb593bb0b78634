-- A maintenance window for one workflow: disable it, wait out the window
-- (or do the maintenance), and re-enable it whatever happened in between,
-- checking each change took. DRY_RUN=1 prints the two changes instead.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; make demo first adds the workflow with the command,
-- as examples/demo.sh shows, and gives its id as FLOW):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
--     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 FLOW=<flow id> \
--     bin/eventapi run examples/losant_maintenance_window.lua
--
-- WINDOW is the window in seconds (default 1). Against Losant, leave
-- LOSANT_URL unset and give your own LOSANT_TOKEN and LOSANT_APPLICATION.
local eventapi = require "eventapi"

local app, token, flow = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN"), os.getenv("FLOW")
if not app or not token or not flow then
  io.stderr:write("set LOSANT_APPLICATION, LOSANT_TOKEN and FLOW (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end
local window = tonumber(os.getenv("WINDOW") or "1")

-- PATCHing enabled twice leaves it as once: safe to retry.
local losant <close> = eventapi.losant{
  url = os.getenv("LOSANT_URL") or "https://api.losant.com", token = token,
  retries = { max = 3, methods = { "GET", "PATCH" } }, dry_run = os.getenv("DRY_RUN") == "1",
}

local function set_enabled(enabled)
  local flow_now = losant.flow.patch{ applicationId = app, flowId = flow, flow = { enabled = enabled } }:await()
  if not flow_now.dry_run and flow_now.enabled ~= enabled then
    error(("workflow %s answered enabled = %s after the change"):format(flow, tostring(flow_now.enabled)))
  end
  return flow_now
end

local before = losant.flow.get{ applicationId = app, flowId = flow }:await()
print(("workflow %s (%s) is %s"):format(before.name, flow, before.enabled and "enabled" or "disabled"))
set_enabled(false)
print("disabled for the maintenance window")
-- The window: whatever fails in it, the workflow is enabled again after.
local ok, err = pcall(function()
  eventapi.sleep(window):await()
end)
set_enabled(true)
print("re-enabled")
if not ok then error(err, 0) end
