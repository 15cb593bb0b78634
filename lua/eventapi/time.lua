--- Date and time conversions shared by the services and the client; this
-- module depends on no service: Julian Day Numbers (Connect Daily's dates),
-- Unix times of ISO 8601 UTC strings (Monterosa's), HTTP dates (Retry-After).
-- The checks come in two forms: jdn_of, date_of and unix_time_of give the
-- value, or nil and why not; jdn, date and unix_time raise that message.
local M = {}

--- Days in a month of the proleptic Gregorian calendar.
local function month_days(y, m)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  return ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
end

--- jdn_of(text) -> the Julian Day Number of a real yyyy-mm-dd date in years
-- 1..9999, or nil and why not (a message to follow the name of the value).
function M.jdn_of(text)
  if type(text) ~= "string" then return nil, "a date must be a yyyy-mm-dd string" end
  local y, m, d = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if not y or y < 1 or m < 1 or m > 12 or d < 1 or d > month_days(y, m) then
    return nil, ("'%s' is not a real yyyy-mm-dd date"):format(text)
  end
  local a = (14 - m) // 12
  local yy, mm = y + 4800 - a, m + 12 * a - 3
  return d + (153 * mm + 2) // 5 + 365 * yy + yy // 4 - yy // 100 + yy // 400 - 32045
end

local JDN_MIN, JDN_MAX = 1721426, 5373484 -- 0001-01-01 and 9999-12-31

--- date_of(jdn) -> the yyyy-mm-dd date of a Julian Day Number in years
-- 1..9999, or nil and why not.
function M.date_of(jdn)
  if math.type(jdn) ~= "integer" or jdn < JDN_MIN or jdn > JDN_MAX then
    return nil, "a Julian Day Number must be an integer from 1721426 (0001-01-01) to 5373484 (9999-12-31)"
  end
  local a = jdn + 32044
  local b = (4 * a + 3) // 146097
  local c = a - 146097 * b // 4
  local d = (4 * c + 3) // 1461
  local e = c - 1461 * d // 4
  local m = (5 * e + 2) // 153
  local day = e - (153 * m + 2) // 5 + 1
  local month = m + 3 - 12 * (m // 10)
  local year = 100 * b + d - 4800 + m // 10
  return ("%04d-%02d-%02d"):format(year, month, day)
end

local UNIX_EPOCH_JDN = 2440588 -- 1970-01-01

--- unix_time_of(v) -> integer seconds: v as a Unix time or an ISO 8601 UTC
-- string ("2026-12-01T19:30:00Z", "+00:00" also accepted); or nil and why not.
function M.unix_time_of(v)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" then
    local i = math.tointeger(v)
    if i then return i end
    return nil, "must be whole seconds"
  end
  if type(v) ~= "string" then return nil, "must be a Unix time or an ISO 8601 UTC string" end
  local day, h, m, s, fraction, zone = v:match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not day then return nil, ("'%s' is not an ISO 8601 date and time (yyyy-mm-ddThh:mm:ssZ)"):format(v) end
  if zone ~= "Z" and zone ~= "+00:00" then return nil, ("'%s' must be in UTC (end with Z)"):format(v) end
  if fraction ~= "" and not fraction:match("^%.0+$") then return nil, ("'%s' must be whole seconds"):format(v) end
  h, m, s = tonumber(h), tonumber(m), tonumber(s)
  if h > 23 or m > 59 or s > 59 then return nil, ("'%s' is not a real time of day"):format(v) end
  local jdn = M.jdn_of(day)
  if not jdn then return nil, ("'%s' is not a real date"):format(v) end
  return (jdn - UNIX_EPOCH_JDN) * 86400 + h * 3600 + m * 60 + s
end

--- The value, or (when it is nil) raises why as it is, with no location.
-- The raising forms serve callers that take a raised message and name it:
-- a row's check (src/build.c's run_check makes it InvalidParams "<op>:
-- <param> <why>"; Monterosa's start_at) and a service function wrapped by
-- init.lua's checked() (InvalidParams "eventapi.<service>.<fn>: <why>").
local function must(value, why)
  if value == nil then error(why, 0) end
  return value
end

--- jdn("2026-12-01") -> 2461376: the Julian Day Number of a real date in years 1..9999.
function M.jdn(text)
  return must(M.jdn_of(text))
end

--- date(2461376) -> "2026-12-01": the date of a Julian Day Number in years 1..9999.
function M.date(jdn)
  return must(M.date_of(jdn))
end

--- unix_time(v) -> integer seconds: v as a Unix time or an ISO 8601 UTC
-- string ("2026-12-01T19:30:00Z", "+00:00" also accepted); raises a message.
function M.unix_time(v)
  return must(M.unix_time_of(v))
end

--- seconds_until("Wed, 21 Oct 2026 07:28:00 GMT") -> seconds from now until an
-- HTTP date (0 when past), or nil when it is not one.
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
                 Nov = 11, Dec = 12 }
function M.seconds_until(date)
  local d, mon, y, time = date:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d:%d%d:%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  local at = M.unix_time_of(("%s-%02d-%sT%sZ"):format(y, MONTHS[mon], d, time))
  if not at then return nil end
  return math.max(0, at - os.time())
end

return M
