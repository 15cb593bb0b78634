-- Fork runbook: take one occurrence out of a recurring Connect Daily series
-- and move it. Reads the series, forks the occurrence on the given date (or
-- the next one from today on) into a one-time copy, moves the copy's times
-- with a PUT (re-reading and retrying if someone changed it meanwhile),
-- prints a summary.
--
-- From the checkout root, against the sandbox as make demo runs it (after
-- `make build sandbox`; `kill %1` stops the sandbox):
--
--   build/eventapi-sandbox --listen 127.0.0.1:5555 --seed examples/seed.json &
--   CONNECTDAILY_URL=http://127.0.0.1:5555/calendar CONNECTDAILY_USER=api \
--     CONNECTDAILY_PASSWORD=sandbox-password CONNECTDAILY_EVENT=42 CONNECTDAILY_DATE=2026-12-08 \
--     bin/eventapi run examples/connectdaily_fork.lua
--
-- CONNECTDAILY_URL is the base URL with the deployment's context path (the
-- client adds /restapi/v1/events), e.g. https://host/calendar.
-- CONNECTDAILY_TOKEN (a bearer token) may replace CONNECTDAILY_USER and
-- CONNECTDAILY_PASSWORD. CONNECTDAILY_EVENT is the series' cal_item_id.
-- Optional: CONNECTDAILY_DATE (yyyy-mm-dd, the occurrence to fork; default the
-- next occurrence from today on, UTC), CONNECTDAILY_START and CONNECTDAILY_END
-- (HH:MM, the copy's new times; default one hour later than the series').
-- After eval "$(bin/eventapi env)" (which sets LUA_PATH and LUA_CPATH),
-- `lua5.4 examples/connectdaily_fork.lua` runs it the same way.
local eventapi = require "eventapi"
local jdn, date = eventapi.connectdaily.jdn, eventapi.connectdaily.date

local function usage(message)
  io.stderr:write(message, "\n")
  os.exit(2)
end

local url, event = os.getenv("CONNECTDAILY_URL"), os.getenv("CONNECTDAILY_EVENT")
local user, password, token = os.getenv("CONNECTDAILY_USER"), os.getenv("CONNECTDAILY_PASSWORD"),
                              os.getenv("CONNECTDAILY_TOKEN")
if not url or not event or not (token or (user and password)) then
  usage("set CONNECTDAILY_URL (with its context path), CONNECTDAILY_EVENT (the series' cal_item_id) and "
        .. "CONNECTDAILY_USER and CONNECTDAILY_PASSWORD, or CONNECTDAILY_TOKEN")
end
if token and user then usage("set CONNECTDAILY_TOKEN or CONNECTDAILY_USER, not both") end
local cal_item_id = event:match("^%d+$") and math.tointeger(tonumber(event))
if not cal_item_id or cal_item_id < 1 then usage("CONNECTDAILY_EVENT must be a cal_item_id (a positive integer)") end
local day = os.getenv("CONNECTDAILY_DATE")
if day and not pcall(jdn, day) then usage("CONNECTDAILY_DATE must be a real yyyy-mm-dd date, not '" .. day .. "'") end

--- Minutes since midnight of "HH:MM", or nil.
local function minutes(text)
  local h, m = tostring(text):match("^(%d%d):(%d%d)$")
  h, m = tonumber(h), tonumber(m)
  if h and h < 24 and m < 60 then return h * 60 + m end
end
local function clock(mins) return ("%02d:%02d"):format(mins // 60, mins % 60) end
local new_start, new_end = os.getenv("CONNECTDAILY_START"), os.getenv("CONNECTDAILY_END")
if new_start and not minutes(new_start) then usage("CONNECTDAILY_START must be HH:MM, not '" .. new_start .. "'") end
if new_end and not minutes(new_end) then usage("CONNECTDAILY_END must be HH:MM, not '" .. new_end .. "'") end

local cd <close> = eventapi.connectdaily{ url = url, user = user, password = password, token = token }

--- Awaits p; on failure prints what failed and the error, and exits 1.
local function must(p, what)
  local ok, result = pcall(p.await, p)
  if ok then return result end
  io.stderr:write(what, ": ", tostring(result), "\n")
  os.exit(1)
end

local KINDS = { [0] = "daily", [1] = "weekly", [2] = "monthly", [3] = "one-time" }
local WEEKDAYS = { [0] = "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" }
local function weekday(j) return WEEKDAYS[(j + 1) % 7] end

local series = must(cd.events.get{ cal_item_id = cal_item_id }, "reading series " .. cal_item_id)
local times = minutes(series.starting_time)
  and (series.starting_time .. "-" .. (minutes(series.ending_time) and series.ending_time or "?")) or "all day"
print(("series %d \"%s\": %s, %s .. %s, %s"):format(cal_item_id, series.description,
  KINDS[series.rec_type] or "?", date(series.starting_date), date(series.ending_date), times))
if series.rec_type == 3 then
  io.stderr:write(("event %d is a one-time event: there is no occurrence to fork\n"):format(cal_item_id))
  os.exit(1)
end

if not day then
  -- The series' days from today on (its exceptions, earlier forks among
  -- them, left out): the first is the one to fork.
  local today = jdn(os.date("!%Y-%m-%d"))
  local last = math.min(series.ending_date, today + 1500)
  local next_day = last >= today and eventapi.connectdaily.occurrences(series, today, last)[1]
  if next_day then day = date(next_day) end
  if not day then
    io.stderr:write(("series %d has no occurrence left to fork from %s on\n"):format(cal_item_id, date(today)))
    os.exit(1)
  end
end

-- The copy's new times: as asked, or one hour later than the series'.
local start_min, end_min = minutes(new_start), minutes(new_end)
if not (start_min and end_min) then
  local s, e = minutes(series.starting_time), minutes(series.ending_time)
  if not (s and e) then usage("the series has no times: set CONNECTDAILY_START and CONNECTDAILY_END") end
  start_min = start_min or (end_min and end_min - (e - s)) or s + 60
  end_min = end_min or start_min + (e - s)
end
if start_min < 0 or end_min >= 24 * 60 or end_min < start_min then
  usage(("the copy would not fit in its day (from %d to %d minutes after midnight): "
         .. "set CONNECTDAILY_START and CONNECTDAILY_END"):format(start_min, end_min))
end

local copy_id = must(cd.events.fork{ cal_item_id = cal_item_id, starting_date = day },
                     ("forking the occurrence on %s"):format(day))
print(("forked the occurrence on %s (%s) as event %d"):format(day, weekday(jdn(day)), copy_id))

-- Move the copy: a PUT of the whole event. A Conflict means someone changed
-- it since we read it: read it again and retry.
local moved
for attempt = 1, 3 do
  local copy = must(cd.events.get{ cal_item_id = copy_id }, "reading the copy " .. copy_id)
  copy.starting_time, copy.ending_time = clock(start_min), clock(end_min)
  local p = cd.events.update{ cal_item_id = copy_id, event = copy }
  local ok, result = pcall(p.await, p)
  if ok then moved = result break end
  if result.type ~= "Conflict" or attempt == 3 then
    io.stderr:write("moving the copy ", copy_id, ": ", tostring(result), "\n")
    os.exit(1)
  end
  print(("  the copy changed meanwhile (%s); reading it again"):format(result.message))
end
print(("moved event %d to %s-%s on %s (version %d)"):format(copy_id, moved.starting_time, moved.ending_time,
                                                             date(moved.starting_date), moved.version))

series = must(cd.events.get{ cal_item_id = cal_item_id }, "reading series " .. cal_item_id .. " again")
local skipped = {}
for i, x in ipairs(series.exceptions) do skipped[i] = date(x) end
print(("summary: series %d now skips %s; its %s occurrence is event %d at %s-%s"):format(
  cal_item_id, table.concat(skipped, ", "), day, copy_id, moved.starting_time, moved.ending_time))
