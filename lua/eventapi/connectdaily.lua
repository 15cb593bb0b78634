--- Connect Daily's calendar Event CRUD API as an operation table
-- (docs/PROTOCOLS.md section 2).
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local time = require "eventapi.time"

local M = {}

--- A date that may be a JDN or a yyyy-mm-dd string -> its JDN, or nil and
-- why not (a message to follow the name of the value).
local function check_date(v)
  if math.type(v) == "integer" then
    local _, why = time.date_of(v)
    if why then return nil, why end
    return v
  end
  if type(v) == "string" then return time.jdn_of(v) end
  return nil, "must be a Julian Day Number or a yyyy-mm-dd date"
end

--- A list of dates -> true, or nil and why not (what names the list).
local function check_dates(list, what)
  local why = what .. " must be a list of dates"
  if type(list) ~= "table" then return nil, why end
  local n = 0
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 then return nil, why end
    n = n + 1
  end
  if n ~= #list then return nil, why end
  return true
end

--- The dates of an event table before it is sent -> true, or nil and why not.
local function check_event(ev)
  for _, key in ipairs({ "starting_date", "ending_date" }) do
    if ev[key] ~= nil then
      local ok, why = check_date(ev[key])
      if not ok then return nil, key .. " " .. why end
    end
  end
  if ev.exceptions ~= nil then
    local ok, why = check_dates(ev.exceptions, "exceptions")
    if not ok then return nil, why end
    for i, x in ipairs(ev.exceptions) do
      ok, why = check_date(x)
      if not ok then return nil, ("exceptions[%d] %s"):format(i, why) end
    end
  end
  return true
end

--- A date (JDN or yyyy-mm-dd) as a JDN, or nil and "<what> <why>".
local function day_of(v, what)
  if v == nil then return nil, what .. " is missing: give a Julian Day Number or a yyyy-mm-dd date" end
  local jdn, why = check_date(v)
  if not jdn then return nil, what .. " " .. why end
  return jdn
end

--- A function made of a check that gives a value, or nil and why not: it
-- raises why as it is, with no location, for init.lua's checked() to make
-- InvalidParams naming the service's function ("eventapi.connectdaily.<fn>:
-- <why>"), as time.lua's jdn and date raise. (A row's check returns nil and
-- why itself: src/build.c's run_check names the operation and param.)
local function raising(check)
  return function(...)
    local value, why = check(...)
    if why ~= nil then error(why, 0) end
    return value
  end
end

-- The date conversions live in eventapi.time; the service keeps its names.
M.jdn, M.date = time.jdn, time.date

--- Days in a month of the proleptic Gregorian calendar.
local function month_days(y, m)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  return ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
end

--- occurrences(series, from, to) -> the list of JDNs, ascending, of the days
-- the event occurs on within [from, to] (docs/PROTOCOLS.md 2.6): rec_type 0
-- every day, 1 weekly on starting_date's weekday, 2 monthly on
-- starting_date's day of the month (a series on the 31st skips shorter
-- months), 3 (the default) once, on starting_date; only between
-- starting_date and ending_date (default starting_date) inclusive, and never
-- on an exception (a forked day is one). series is an event as read, or as
-- given to create (dates as JDNs or yyyy-mm-dd); from and to are JDNs or
-- yyyy-mm-dd dates. Gives nil and a message naming what is wrong otherwise.
local function occurrences(series, from, to)
  if type(series) ~= "table" then return nil, "series must be an event table, not a " .. type(series) end
  local start, why = day_of(series.starting_date, "series.starting_date")
  if not start then return nil, why end
  local finish = start
  if series.ending_date ~= nil and series.ending_date ~= core.null then
    finish, why = day_of(series.ending_date, "series.ending_date")
    if not finish then return nil, why end
    if finish < start then return nil, "series.ending_date is before series.starting_date" end
  end
  local rec = series.rec_type
  if rec == nil or rec == core.null then rec = 3 end
  if math.type(rec) == "float" then rec = math.tointeger(rec) or rec end
  if math.type(rec) ~= "integer" or rec < 0 or rec > 3 then
    return nil, "series.rec_type must be 0, 1, 2 or 3, not " .. tostring(rec)
  end
  local skip = {}
  local exceptions = series.exceptions
  if exceptions ~= nil and exceptions ~= core.null then
    local ok
    ok, why = check_dates(exceptions, "series.exceptions")
    if not ok then return nil, why end
    for i, x in ipairs(exceptions) do
      local day
      day, why = day_of(x, ("series.exceptions[%d]"):format(i))
      if not day then return nil, why end
      skip[day] = true
    end
  end
  local lo, hi
  lo, why = day_of(from, "from")
  if not lo then return nil, why end
  hi, why = day_of(to, "to")
  if not hi then return nil, why end
  if hi < lo then return nil, ("to (%s) is before from (%s)"):format(M.date(hi), M.date(lo)) end

  local days = {}
  local function add(j) if not skip[j] then days[#days + 1] = j end end
  if rec == 3 then
    if start >= lo and start <= hi then add(start) end
    return days
  end
  lo, hi = math.max(lo, start), math.min(hi, finish)
  if rec == 0 then
    for j = lo, hi do add(j) end
  elseif rec == 1 then
    for j = lo + (start - lo) % 7, hi, 7 do add(j) end
  else
    local dom = tonumber(M.date(start):sub(9, 10))
    if lo > hi then return days end
    local y, m = M.date(lo):match("^(%d+)%-(%d+)")
    y, m = tonumber(y), tonumber(m)
    while true do
      if dom <= month_days(y, m) then
        local j = M.jdn(("%04d-%02d-%02d"):format(y, m, dom))
        if j > hi then break end
        if j >= lo then add(j) end
      elseif M.jdn(("%04d-%02d-01"):format(y, m)) > hi then
        break
      end
      if m == 12 then y, m = y + 1, 1 else m = m + 1 end
      if y > 9999 then break end
    end
  end
  return days
end

-- occurrences(series, from, to) -> the list of JDNs; raises a message naming what is wrong.
M.occurrences = raising(occurrences)

--- The path of an event addressed by cal_item_id or itemguid (exactly one).
local function address(params, name, invalid)
  local id, guid = params.cal_item_id, params.itemguid
  if id ~= nil and guid ~= nil then invalid(name .. ": give cal_item_id or itemguid, not both") end
  if id == nil and guid == nil then invalid(name .. ": missing required param 'cal_item_id' (or 'itemguid')") end
  if id ~= nil then
    if type(id) == "string" and id:match("^%d+$") then id = math.tointeger(tonumber(id)) end
    if math.type(id) == "float" then id = math.tointeger(id) end -- 42.0 is 42; 42.5, NaN and inf are not integers
    if math.type(id) ~= "integer" or id <= 0 then invalid(name .. ": cal_item_id must be a positive integer") end
    return "/restapi/v1/events/" .. id
  end
  if type(guid) ~= "string" or guid == "" then invalid(name .. ": itemguid must be a non-empty string") end
  return "/restapi/v1/events/itemguid=" .. core.escape(guid)
end

local ADDRESS = { { name = "cal_item_id", place = "path" }, { name = "itemguid", place = "path" } }
local function with_address(...)
  local list = { table.unpack(ADDRESS) }
  for _, p in ipairs({ ... }) do list[#list + 1] = p end
  return list
end

--- The event to send: its dates checked; a copy whose exceptions list goes
-- out as a JSON list even when empty (a plain {} would encode as an object).
local EVENT = { name = "event", place = "body", required = true, kind = "table",
                check = function(v)
                  if type(v) ~= "table" then return nil end
                  local ok, why = check_event(v)
                  if not ok then return nil, why end
                  if v.exceptions == nil or getmetatable(v.exceptions) == core.array then return nil end
                  local copy = {}
                  for k, x in pairs(v) do copy[k] = x end
                  copy.exceptions = setmetatable(table.move(v.exceptions, 1, #v.exceptions, 1, {}), core.array)
                  return copy
                end }

M.operations = {
  { name = "events.get", method = "GET", path = address, params = with_address(), returns = "the event" },
  { name = "events.update", method = "PUT", path = address, params = with_address(EVENT),
    returns = "the event as now stored" },
  { name = "events.create", method = "POST", path = "/restapi/v1/events", params = { EVENT },
    returns = "the created event" },
  { name = "events.fork", method = "POST", path = address,
    returns = "the new one-time copy's `cal_item_id` (an integer)",
    params = with_address({ name = "fork", place = "query", kind = "integer", fixed = 1 },
                          { name = "starting_date", place = "query", kind = "string", required = true,
                            check = function(v)
                              local ok, why = check_date(v)
                              if not ok then return nil, why end
                              if math.type(v) == "integer" then return M.date(v) end
                            end }) },
  { name = "events.delete", method = "DELETE", path = address, params = with_address(), returns = "`true` (204)" },
}

--- The credentials rule of the command's configuration: a token, or a user
-- and a password; from[option] says where a value came from (a variable, or
-- the --config file), var[option] names its variable. nil when they do.
local function credentials_problem(options, from, var)
  if options.token ~= nil and options.user ~= nil then
    return ("connectdaily takes a token or a user and password, not both: %s and %s are both set; "
            .. "unset one"):format(from.token, from.user)
  end
  if options.password ~= nil and options.user == nil then
    local user = from.password == var.password and var.user or "user in the --config file"
    return ("connectdaily: %s is set without a user: set %s too, or unset it"):format(from.password, user)
  end
  if options.token == nil and options.user == nil then
    return ("connectdaily needs credentials: set %s and %s, or %s"):format(var.user, var.password, var.token)
  end
  if options.user ~= nil and options.password == nil then
    return ("connectdaily needs a password for user %s: set %s"):format(tostring(options.user), var.password)
  end
  return nil
end

--- The service's descriptor (the shape is described in services.lua).
M.service = {
  name = "connectdaily",
  title = "Connect Daily",
  summary = "Connect Daily calendar events",
  doc = "eventapi.connectdaily{url=, user=, password= | token=, ...} -> a Connect Daily client; "
    .. "eventapi.connectdaily.jdn(date) and .date(jdn) convert dates; "
    .. "eventapi.connectdaily.occurrences(series, from, to) lists a series' days (JDNs).",
  env = { { option = "url", variable = "CONNECTDAILY_URL" }, { option = "user", variable = "CONNECTDAILY_USER" },
          { option = "password", variable = "CONNECTDAILY_PASSWORD" },
          { option = "token", variable = "CONNECTDAILY_TOKEN" } },
  credentials = { "token", "user", "password" },
  credentials_problem = credentials_problem,
  functions = { jdn = M.jdn, date = M.date, occurrences = M.occurrences },
  -- no default_url: each deployment has its own host and context path, so
  -- the url option is required (credentials never go to a guessed host)
  -- How the reference (tools/gendocs.lua) shows the computed paths.
  path_doc = "`/restapi/v1/events/{cal_item_id}` or `/restapi/v1/events/itemguid={itemguid}` (exactly one)",
  operations = M.operations,
  content_type = "application/json",
  accept = "application/json",
  headers = function(options)
    return options.token and { "Authorization: Bearer " .. options.token } or {}
  end,
  --- A 200 with a non-zero error is a rejection; fork resolves with the new cal_item_id.
  unwrap = function(decoded, res, req, where)
    if type(decoded) == "table" and decoded.error ~= nil and decoded.error ~= 0 and decoded.error ~= false then
      error(Error.new({ type = "ConnectDailyError", status = res.status, body = decoded, method = where.method,
                        url = where.url, message = tostring(decoded.message or "Connect Daily reported an error") }), 0)
    end
    if req.op and req.op.name == "events.fork" then -- client:request has no op
      if type(decoded) ~= "table" or math.type(decoded.cal_item_id) ~= "integer" then
        error(Error.new({ type = "InvalidResponse", status = res.status, body = decoded, method = where.method,
                          url = where.url, message = "the fork answer has no integer cal_item_id" }), 0)
      end
      return decoded.cal_item_id
    end
    return decoded
  end,
  --- 409 is Conflict, so a runbook can re-read and retry; messages come from the body.
  error_fields = function(e, decoded)
    if e.status == 409 then e.type = "Conflict" end
    if type(decoded) == "table" and type(decoded.message) == "string" then e.message = decoded.message end
  end,
}

return M
