--- Connect Daily's calendar Event CRUD API as an operation table
-- (docs/PROTOCOLS.md section 2).
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local time = require "eventapi.time"

local M = {}

-- The date conversions live in eventapi.time; the service keeps its names.
M.jdn, M.date = time.jdn, time.date

--- Checks a date that may be a JDN or a yyyy-mm-dd string; raises a message.
local function check_date(v)
  if math.type(v) == "integer" then M.date(v) return v end
  if type(v) == "string" then M.jdn(v) return v end
  error("must be a Julian Day Number or a yyyy-mm-dd date", 0)
end

--- Checks the dates of an event table before it is sent.
local function check_event(ev)
  for _, key in ipairs({ "starting_date", "ending_date" }) do
    if ev[key] ~= nil then
      local ok, err = pcall(check_date, ev[key])
      if not ok then error(key .. " " .. tostring(err):gsub("^.-:%d+: ", ""), 0) end
    end
  end
  if ev.exceptions ~= nil then
    if type(ev.exceptions) ~= "table" then error("exceptions must be a list of dates", 0) end
    local n = 0
    for k in pairs(ev.exceptions) do
      if math.type(k) ~= "integer" or k < 1 then error("exceptions must be a list of dates", 0) end
      n = n + 1
    end
    if n ~= #ev.exceptions then error("exceptions must be a list of dates", 0) end
    for i, x in ipairs(ev.exceptions) do
      local ok, err = pcall(check_date, x)
      if not ok then error(("exceptions[%d] %s"):format(i, tostring(err):gsub("^.-:%d+: ", "")), 0) end
    end
  end
end

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
                  check_event(v)
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
                              check_date(v)
                              if math.type(v) == "integer" then return M.date(v) end
                            end }) },
  { name = "events.delete", method = "DELETE", path = address, params = with_address(), returns = "`true` (204)" },
}

M.service = {
  name = "connectdaily",
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
