--- The JSON Schema validator's speed on request bodies: µs per
-- set:validate("eventPost", body) for a ~1 KB Losant event post and a
-- ~10.5 KB one whose data holds 1,300 small values (the median of RUNS runs
-- of os.clock timing).
--
-- Usage: lua5.4 bench/schema_speed.lua   (LUA_PATH / LUA_CPATH finding
-- lua/ and a build's eventapi/core.so, as the Makefile's spec targets set)
-- Environment: RUNS (5), SECONDS (0.3: the least time one run takes).
-- lua5.4 bench/schema_speed.lua --write-body FILE writes the ~1 KB post to
-- FILE and times nothing (make -C bench validate times it in C).

local core = require "eventapi.core"

local RUNS = tonumber(os.getenv("RUNS") or "") or 5
local SECONDS = tonumber(os.getenv("SECONDS") or "") or 0.3

-- The Losant schema set, read as lua/eventapi/schemas.lua reads it.
local DIR = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../lua/eventapi/schemas/losant/"
local set = core.schemas(function(name)
  if not name:match("^[%w_]+$") then return nil end
  local f = io.open(DIR .. name .. ".json", "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end)

-- ~1 KB: an event post as a device's workflow sends it.
local small = core.json_encode({
  level = "warning",
  subject = "Temperature above the threshold on line 3",
  message = "The temperature sensor of the cooling unit on line 3 read 78.4 °C, above the 75 °C limit set "
    .. "for the night shift. The unit was switched to its backup fan; check the filter and the coolant level "
    .. "before the next shift starts. Readings over the last ten minutes are attached in data.",
  deviceId = "575ecf887ae143cd83dc4aa2",
  state = "new",
  creationDate = "2024-05-17T03:42:10.512Z",
  eventTags = { line = "3", site = "plant-north", unit = "cooling-2", shift = "night", severity = "high" },
  data = {
    readings = { 74.9, 75.3, 75.8, 76.2, 76.9, 77.1, 77.6, 77.9, 78.2, 78.4 },
    limit = 75, unit = "C", sensor = "temp-0042", firmware = "2.7.1", uptime = 1823344,
    backupFan = true, alarmAcknowledged = false, operator = "j.smith", zone = "B-7",
    lastService = "2024-03-02", coolantLevel = 0.82, filterAgeDays = 97, ambient = 21.5, humidity = 0.43,
    batch = "2024-05-16-N-0031", line = 3, supervisor = "a.ng",
  },
})

-- ~10.5 KB: data holding 1,300 small values (numbers, short strings,
-- booleans, null) in an array.
local parts = {}
for i = 1, 1300 do
  local k = i % 5
  parts[i] = k == 0 and tostring(i * 397) or k == 1 and ('"sensor-' .. (i % 97) .. '-ok"')
    or k == 2 and (i % 2 == 0 and "true" or "false") or k == 3 and "null" or ("%.4f"):format(i / 16)
end
local large = '{"level":"info","subject":"bulk readings","data":[' .. table.concat(parts, ",") .. "]}"

if arg[1] == "--write-body" then -- (bench/Makefile's validate: the same post for the C loop)
  local f = assert(io.open(arg[2], "wb"))
  f:write(small)
  f:close()
  return
end

--- µs per validation of body: the median of RUNS runs (and the fastest, the slowest).
local function measure(body)
  local ok, why = set:validate("eventPost", body)
  assert(ok, why)
  local n = 1 -- calls per run: enough for SECONDS
  repeat
    local t = os.clock()
    for _ = 1, n do set:validate("eventPost", body) end
    local took = os.clock() - t
    if took >= SECONDS / 4 then n = math.ceil(n * SECONDS / took) break end
    n = n * 4
  until false
  local times = {}
  for r = 1, RUNS do
    local t = os.clock()
    for _ = 1, n do set:validate("eventPost", body) end
    times[r] = (os.clock() - t) / n * 1e6
  end
  table.sort(times)
  return times[(RUNS + 1) // 2], times[1], times[RUNS]
end

for _, case in ipairs({ { "event post", small }, { "1,300 values", large } }) do
  local med, lo, hi = measure(case[2])
  print(("%-14s %6d bytes  %8.3f µs (median of %d; %.3f .. %.3f)  %.0f MB/s"):format(
    case[1], #case[2], med, RUNS, lo, hi, #case[2] / med))
end
