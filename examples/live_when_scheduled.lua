-- Start the live event when the calendar says so: read a Connect Daily
-- event, schedule a Monterosa live event at the same time, wait (without
-- blocking anything else) until the calendar's start time, then start it.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; `kill %1` stops the sandbox):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   CONNECTDAILY_URL=http://127.0.0.1:5555/calendar CONNECTDAILY_USER=api \
--     CONNECTDAILY_PASSWORD=sandbox-password MONTEROSA_URL=http://127.0.0.1:5555/api/v2 \
--     MONTEROSA_TOKEN=sandbox-monterosa-token MONTEROSA_PROJECT=850e644e-f1ea-444d-bae3-cf38badbe501 \
--     bin/eventapi run examples/live_when_scheduled.lua
--
-- A cal_item_id after the runbook names the calendar event to follow; without
-- one it first books a calendar event in calendar CONNECTDAILY_CALENDAR
-- (default 3) starting this minute, as the demo does. Calendar times are read
-- as UTC. Against real services, the variables of connectdaily_fork.lua and
-- monterosa_live.lua.
-- After eval "$(bin/eventapi env)" (which sets LUA_PATH and LUA_CPATH),
-- `lua5.4 examples/live_when_scheduled.lua` runs it the same way.
local eventapi = require "eventapi"

local need = { "CONNECTDAILY_URL", "CONNECTDAILY_USER", "CONNECTDAILY_PASSWORD", "MONTEROSA_URL", "MONTEROSA_TOKEN",
               "MONTEROSA_PROJECT" }
for _, name in ipairs(need) do
  if not os.getenv(name) then
    io.stderr:write("set ", table.concat(need, ", "), "\n")
    os.exit(2)
  end
end

local calendar <close> = eventapi.connectdaily{ url = os.getenv("CONNECTDAILY_URL"), user = os.getenv("CONNECTDAILY_USER"),
                                                password = os.getenv("CONNECTDAILY_PASSWORD"), retries = true }
local monterosa <close> = eventapi.monterosa{ url = os.getenv("MONTEROSA_URL"), token = os.getenv("MONTEROSA_TOKEN"),
                                              retries = true }

local ok, err = pcall(function()
  local id = math.tointeger(tonumber(arg[1] or ""))
  if not id then
    local booked = calendar.events.create{ event = {
      calendar_id = math.tointeger(tonumber(os.getenv("CONNECTDAILY_CALENDAR") or "3")),
      description = "Kick-off", starting_date = os.date("!%Y-%m-%d"), starting_time = os.date("!%H:%M"),
      ending_time = os.date("!%H:%M", os.time() + 3600), rec_type = 3 } }:await()
    id = booked.cal_item_id
    print(("booked calendar event %d for %s %s UTC"):format(id, os.date("!%Y-%m-%d"), os.date("!%H:%M")))
  end

  local entry = calendar.events.get{ cal_item_id = id }:await()
  local day = eventapi.connectdaily.date(entry.starting_date)
  local starts = eventapi.monterosa.unix_time(("%sT%s:00Z"):format(day, entry.starting_time or "00:00"))
  local ends = entry.ending_time and eventapi.monterosa.unix_time(("%sT%s:00Z"):format(day, entry.ending_time))
  print(("calendar: %q on %s at %s UTC"):format(entry.description, day, entry.starting_time or "00:00"))

  local live = monterosa.events.create{ project_id = os.getenv("MONTEROSA_PROJECT"), name = entry.description,
                                        start_at = starts, duration = ends and math.max(ends - starts, 60) or 3600,
                                        start_mode = "manual" }:await()
  print(("live event %s scheduled (%s)"):format(live.id, live.state))

  if os.time() < starts then print(("waiting %d s for the calendar's start time"):format(starts - os.time())) end
  eventapi.wait_for(function() return os.time() >= starts end,
                    { timeout = math.max(starts - os.time(), 0) + 60, interval = 1 }):await()

  monterosa.events.update{ event_id = live.id, action = "start" }:await()
  local now = monterosa.events.get{ event_id = live.id }:await()
  print(("live event %s is %s, ends at %s"):format(now.id, now.state, now.end_at_iso))
end)
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
