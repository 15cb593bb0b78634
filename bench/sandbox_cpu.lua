-- The sandbox's CPU time per event GET and per event POST (utime + stime of
-- its process, read from /proc, over N calls at concurrency 16), to set the
-- validator's cost (bench/schema_speed.lua) against a GET's (issue 28).
--   build/eventapi-sandbox --listen 127.0.0.1:5556 --seed examples/seed.json &
--   lua5.4 bench/sandbox_cpu.lua http://127.0.0.1:5556 <its pid> [N]
local eventapi = require "eventapi"
local url, pid, n = arg[1], tonumber(arg[2]), tonumber(arg[3] or "20000")
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
local function cpu()
  local f = io.open("/proc/" .. pid .. "/stat"); local s = f:read("a"); f:close()
  local fields = {}
  for x in s:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100 -- clock ticks (100 Hz)
end
local c = eventapi.losant{ url = url, token = "sandbox-all-access", max_connections = 16 }
local list = {}
for i = 1, n do list[i] = i end
local function timed(make)
  local before = cpu()
  eventapi.map(list, make, { concurrency = 16 }):await()
  return (cpu() - before) / n * 1e6
end
local body = { subject = "Pump 3 pressure high", message = string.rep("pressure reading above threshold; ", 20), level = "critical",
  state = "new", data = { pressure = 91.5, unit = "psi", sensor = "p3", readings = { 1, 2, 3, 4, 5 } } }
for round = 1, 3 do
  local get = timed(function() return c.event.get{ applicationId = APP, eventId = EVENT } end)
  local post = timed(function() return c.events.post{ applicationId = APP, event = body } end)
  print(("round %d: sandbox CPU per GET %.1f us, per POST %.1f us"):format(round, get, post))
end
