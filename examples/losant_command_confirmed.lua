-- Send a command to one device and wait, on its state stream, for the state
-- that confirms it: no polling; a timeout (TIMEOUT seconds, default 30) ends
-- the runbook with exit 1 when no confirming state comes.
--
-- The command is setMode with payload {mode = MODE} (default eco); the
-- confirming state is one whose data.mode is MODE. DEVICE names the device.
-- SIMULATE_DEVICE=1 (what make demo sets, against the sandbox) also plays
-- the device: it listens on the device's command stream and reports the new
-- mode as a state, as firmware would.
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
--     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 DEVICE=<a device id> SIMULATE_DEVICE=1 \
--     bin/eventapi run examples/losant_command_confirmed.lua
local eventapi = require "eventapi"

local app, token, device = os.getenv("LOSANT_APPLICATION"), os.getenv("LOSANT_TOKEN"), os.getenv("DEVICE")
if not app or not token or not device then
  io.stderr:write("set LOSANT_APPLICATION, LOSANT_TOKEN and DEVICE (and LOSANT_URL for the sandbox)\n")
  os.exit(2)
end
local mode = os.getenv("MODE") or "eco"
local timeout = tonumber(os.getenv("TIMEOUT") or "30")

local losant <close> = eventapi.losant{ url = os.getenv("LOSANT_URL") or "https://api.losant.com", token = token }
local ids = { applicationId = app, deviceId = device }

-- The stand-in device: each command it receives becomes its new state.
local simulated
if os.getenv("SIMULATE_DEVICE") == "1" then
  simulated = losant.device.commandStream(ids, function(msg)
    print(("  (device) received %s %s"):format(msg.data.name, eventapi.json.encode(msg.data.payload)))
    losant.device.sendState{ applicationId = app, deviceId = device,
                             deviceState = { data = { mode = msg.data.payload.mode } } }
  end)
end

eventapi.spawn(function()
  -- Listen first, so that the confirming state cannot slip by before we do.
  local states <close> = losant.device.stateStream(ids)
  states.ready:await()
  if simulated then simulated.ready:await() end
  print(("sending setMode %s to %s; then waiting up to %g s for its state"):format(mode, device, timeout))
  losant.device.sendCommand{ applicationId = app, deviceId = device,
                             deviceCommand = { name = "setMode", payload = { mode = mode } } }:await()
  local deadline = os.time() + timeout
  while true do
    local left = deadline - os.time()
    local msg = states:receive(math.max(left, 0)):await() -- Timeout when nothing comes in time
    if msg.data.data.mode == mode then
      print(("confirmed: %s reports mode %s at %s"):format(device, mode, msg.data.time))
      break
    end
  end
  if simulated then simulated:close() end
end)
eventapi.run()
