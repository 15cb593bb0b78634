-- Send a command to every device with a tag, then read each one's state
-- back: the composite state of its attributes, four devices at a time.
-- DRY_RUN=1 prints the command instead of sending it (the reads still run).
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; make demo first adds three tagged pumps and their
-- states with the command, as examples/demo.sh shows):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
--     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 bin/eventapi run examples/losant_command_tagged.lua
--
-- TAG_KEY and TAG_VALUE choose the devices (default floor = 2), COMMAND the
-- command's name (default restart). Against Losant, leave LOSANT_URL unset
-- and give your own LOSANT_TOKEN and LOSANT_APPLICATION.
local eventapi = require "eventapi"

local app, token = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN")
if not app or not token then
  io.stderr:write("set LOSANT_APPLICATION and LOSANT_TOKEN (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end
local tag = { key = os.getenv("TAG_KEY") or "floor", value = os.getenv("TAG_VALUE") or "2" }
local command = os.getenv("COMMAND") or "restart"

local losant <close> = eventapi.losant{
  url = os.getenv("LOSANT_URL") or "https://api.losant.com", token = token,
  retries = { max = 3 }, dry_run = os.getenv("DRY_RUN") == "1",
}

-- tagFilter goes out in the bracket form Losant reads: tagFilter[0][key]=floor&...
local devices = losant.devices.all{ applicationId = app, tagFilter = { tag } }:await()
print(("%d device(s) tagged %s=%s"):format(#devices, tag.key, tag.value))
if #devices == 0 then return end

-- One call sends the command to every device with the tag (the body is
-- checked against Losant's multiDeviceCommand schema on a dry run).
local sent = losant.devices.sendCommand{ applicationId = app,
  multiDeviceCommand = { name = command, payload = { reason = "runbook" }, deviceTags = { tag } } }:await()
print(("command %q %s"):format(command, sent.dry_run and "not sent (dry run)" or "sent"))

local states = eventapi.map(devices, function(device)
  return losant.device.getCompositeState{ applicationId = app, deviceId = device.id }
end, { concurrency = 4, label = "reading states" }):await()

for i, device in ipairs(devices) do
  local names = {}
  for name in pairs(states[i]) do names[#names + 1] = name end
  table.sort(names)
  local parts = {}
  for _, name in ipairs(names) do
    parts[#parts + 1] = ("%s=%s"):format(name, eventapi.json.encode(states[i][name].value))
  end
  print(("  %s  %-12s %s"):format(device.id, device.name, #parts > 0 and table.concat(parts, " ") or "(no state yet)"))
end
