--- Fuzz target "query": query string serialization and header params of
-- Client.build over real operation rows. The input is [op selector byte]
-- [two kind bytes: 2 bits per param: absent, string, integer, boolean] then
-- NUL-separated values, one per query or header param of the row.
-- Invariants: a build either raises InvalidParams or yields a query string
-- of exactly one escaped name=value pair per given param (defaults and
-- fixed params included), in the row's order, each decoding back to the
-- param's wire name and text; header params become one line each with no
-- CR, LF or NUL.
local Client = require "eventapi.client"
local F = require "fuzzlib"

local BASE = "http://fuzz.example/api"
local services = require("eventapi.services").by_name
local clients = {}
for name, service in pairs(services) do clients[name] = Client.new(service, { url = BASE }) end

local function op_of(service, name)
  for _, op in ipairs(service.operations) do if op.name == name then return op end end
  error("no operation " .. name)
end

-- Rows with query or header params, and the params every call of the row needs.
local ROWS = {
  { "losant", "events.get", { applicationId = "575ec8687ae143cd83dc4a97" } },
  { "losant", "integrations.get", { applicationId = "575ec8687ae143cd83dc4a97" } },
  { "losant", "integration.delete", { applicationId = "a", integrationId = "b" } },
  { "losant", "events.mostRecentBySeverity", { applicationId = "a" } },
  { "monterosa", "events.list", { project_id = "p" } },
  { "monterosa", "events.get", { event_id = "e" } },
  { "connectdaily", "events.fork", { cal_item_id = 42 } },
}
for _, row in ipairs(ROWS) do
  row.op = op_of(services[row[1]], row[2])
  row.params = Client.prepare(services[row[1]], row.op).all_params
  row.vary = {} -- the params the input fills: query and header params that are not fixed
  for _, p in ipairs(row.params) do
    if (p.place == "query" or p.place == "header") and p.fixed == nil then row.vary[#row.vary + 1] = p end
  end
end

--- The text a query or header value travels as.
local function text_of(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if math.type(v) == "integer" then return tostring(v) end
  return v
end

return function(input)
  local sel = input:byte(1) or 0
  local kinds = (input:byte(2) or 0) | ((input:byte(3) or 0) << 8) | ((input:byte(4) or 0) << 16)
  local row = ROWS[sel % #ROWS + 1]
  local values = F.split(input:sub(5), #row.vary)
  local params = {}
  for k, v in pairs(row[3]) do params[k] = v end
  for i, p in ipairs(row.vary) do
    local kind, v = (kinds >> (2 * (i - 1))) & 3, values[i]
    if v ~= nil and kind ~= 0 then
      if kind == 2 and v:match("^%-?%d+$") and math.tointeger(tonumber(v)) then v = math.tointeger(tonumber(v))
      elseif kind == 3 then v = #v % 2 == 1 end
      params[p.name] = v
    end
  end
  local ok, req = pcall(Client.build, clients[row[1]], row.op, params)
  if not ok then F.invalid_params(req, row.op.name) return end

  -- what the query and the headers must hold, in the row's order
  local want_query, want_headers = {}, {}
  for _, p in ipairs(row.params) do
    local v = params[p.name]
    if p.fixed ~= nil then v = p.fixed end
    if v == nil then v = p.default end
    if v ~= nil and p.check then
      local converted = p.check(v) -- the build passed, so the check passes
      if converted ~= nil then v = converted end
    end
    if v ~= nil and p.place == "query" then
      want_query[#want_query + 1] = { p.wire or p.name, text_of(v) }
    elseif v ~= nil and p.place == "header" then
      want_headers[#want_headers + 1] = (p.wire or p.name) .. ": " .. text_of(v)
    end
  end

  F.check(req.url:sub(1, #BASE) == BASE, "the URL lost its base:", req.url)
  local path, query = req.url:sub(#BASE + 1):match("^([^?]*)%??(.*)$")
  F.check(not path:find("[?#&=%s]") or row[1] == "connectdaily", "query text leaked into the path:", req.url)
  local got = {}
  if query ~= "" then
    for pair in (query .. "&"):gmatch("([^&]*)&") do
      local k, v = pair:match("^([^=]*)=([^=]*)$")
      F.check(k, "a query pair without exactly one '=':", pair, req.url)
      F.check(F.escaped_form(k) and F.escaped_form(v), "unescaped character in the query pair:", pair)
      got[#got + 1] = { F.unescape(k), F.unescape(v) }
    end
  end
  F.check(#got == #want_query, "query pair count differs:", #got, #want_query, req.url)
  for i, w in ipairs(want_query) do
    F.check(got[i][1] == w[1] and got[i][2] == w[2], "query pair differs:", got[i][1], got[i][2], w[1], w[2])
  end
  local headers = req.headers or {}
  F.check(#headers == #want_headers, "header count differs:", #headers, #want_headers)
  for i, h in ipairs(headers) do
    F.check(not h:find("[\r\n%z]"), "CR, LF or NUL in a header line:", h)
    F.check(h == want_headers[i], "header line differs:", h, want_headers[i])
  end
end
