--- Fuzz target "path": core.escape and the path template expansion of
-- Client.build over real operation rows of the three services. The input
-- is [op selector byte][flags byte] then up to three NUL-separated values,
-- one per path param of the row. Invariants: escape yields only unreserved
-- characters and %XX and decodes back to its input; a build either raises
-- InvalidParams or yields a URL whose path has exactly the template's
-- segments, each path param decoding back to its value inside its segment.
local core = require "eventapi.core"
local Client = require "eventapi.client"
local F = require "fuzzlib"

local BASE = "http://fuzz.example:8080/base"
local services = require("eventapi.services").by_name
local clients = {}
for name, service in pairs(services) do clients[name] = Client.new(service, { url = BASE .. "/" }) end

local function op_of(service, name)
  for _, op in ipairs(service.operations) do if op.name == name then return op end end
  error("no operation " .. name)
end

-- Rows with path params: the service, the row, the path params in template order, fixed extra params.
local ROWS = {
  { "losant", "event.get", { "applicationId", "eventId" } },
  { "losant", "event.delete", { "applicationId", "eventId" } },
  { "losant", "integration.get", { "applicationId", "integrationId" } },
  { "losant", "integration.delete", { "applicationId", "integrationId" } },
  { "losant", "events.get", { "applicationId" } },
  { "losant", "events.mostRecentBySeverity", { "applicationId" } },
  { "monterosa", "events.get", { "event_id" } },
  { "monterosa", "events.delete", { "event_id" } },
  { "monterosa", "events.list", { "project_id" }, { state = "live" } },
  { "connectdaily", "events.get", { "itemguid" } },
  { "connectdaily", "events.delete", { "itemguid" } },
  { "connectdaily", "events.get", { "cal_item_id" } },
}
for _, row in ipairs(ROWS) do row.op = op_of(services[row[1]], row[2]) end

local function check_escape(v)
  local e = core.escape(v)
  F.check(type(e) == "string", "escape did not return a string for", v)
  F.check(F.escaped_form(e), "escape left a reserved character in", e, "of", v)
  F.check(F.unescape(e) == v, "escape does not decode back:", e, v)
  F.check(#e == #v + 2 * select(2, e:gsub("%%", "")), "escape changed unreserved characters:", e, v)
end

--- The path part of a built URL (after the base, before any query).
local function path_of(url)
  F.check(url:sub(1, #BASE) == BASE, "the URL lost its base:", url)
  local rest = url:sub(#BASE + 1)
  F.check(not rest:find("#", 1, true), "a fragment marker in the URL:", url)
  return rest:match("^([^?]*)")
end

local function segments(path)
  local out = {}
  F.check(path:sub(1, 1) == "/", "the path does not start with /:", path)
  for seg in (path:sub(2) .. "/"):gmatch("([^/]*)/") do out[#out + 1] = seg end
  return out
end

return function(input)
  local sel, flags = input:byte(1) or 0, input:byte(2) or 0
  local values = F.split(input:sub(3), 3)
  for _, v in ipairs(values) do check_escape(v) end
  local row = ROWS[sel % #ROWS + 1]
  local op, client = row.op, clients[row[1]]
  local params = {}
  for k, v in pairs(row[4] or {}) do params[k] = v end
  for i, name in ipairs(row[3]) do
    local v = values[i] or ""
    -- flag bit i: pass an all-digit value as an integer (as callers do for ids)
    if flags & (1 << (i - 1)) ~= 0 and math.tointeger(tonumber(v)) and v:match("^%-?%d+$") then
      v = math.tointeger(tonumber(v))
    end
    params[name] = v
  end
  local ok, req = pcall(Client.build, client, op, params)
  if not ok then F.invalid_params(req, op.name) return end
  local segs = segments(path_of(req.url))
  if type(op.path) == "string" then
    local tsegs = segments(op.path)
    F.check(#segs == #tsegs, "path param escaped its segment:", req.url, op.path)
    for i, t in ipairs(tsegs) do
      local name = t:match("^{(.+)}$")
      if name then
        F.check(F.escaped_form(segs[i]), "unescaped character in segment:", segs[i])
        F.check(F.unescape(segs[i]) == tostring(params[name]), "segment does not decode to the param:",
                segs[i], params[name])
      else
        F.check(segs[i] == t, "literal segment changed:", segs[i], t)
      end
    end
  else -- Connect Daily: /restapi/v1/events/<cal_item_id> or /restapi/v1/events/itemguid=<guid>
    F.check(#segs == 4 and segs[1] == "restapi" and segs[2] == "v1" and segs[3] == "events",
            "Connect Daily path escaped its segment:", req.url)
    if params.itemguid ~= nil then
      local guid = segs[4]:match("^itemguid=(.*)$")
      F.check(guid and F.escaped_form(guid) and F.unescape(guid) == params.itemguid,
              "itemguid does not decode to the param:", segs[4], params.itemguid)
    else
      F.check(segs[4]:match("^%d+$") and math.tointeger(tonumber(segs[4])) == math.tointeger(tonumber(params.cal_item_id)),
              "cal_item_id segment wrong:", segs[4], params.cal_item_id)
    end
  end
end
