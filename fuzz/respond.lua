--- Fuzz target "respond": the client's response mapping (the respond(res)
-- its binding holds)
-- for every operation row of the three services, fed a fake raw response
-- table as the core would produce it: status from the input, body bytes
-- from the input, sometimes a Retry-After or a transport error. Invariants:
-- the mapping returns a value or raises an eventapi.Error with a string
-- type and message whose tostring works; never a Lua error from inside
-- the mapping (indexing a number, concatenating nil, ...).
local Client = require "eventapi.client"
local Error = require "eventapi.errors"
local F = require "fuzzlib"

local services = require("eventapi.services").list
local ROWS = {}
for _, service in ipairs(services) do
  local client = Client.new(service, { url = "http://user:secret@fuzz.example/x" })
  for _, op in ipairs(service.operations) do ROWS[#ROWS + 1] = { client = client, op = op } end
end
local STATUSES = { 200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504, 302, 100 }
local TRANSPORT = { "Timeout", "ConnectionFailed", "TLS", "Closed", "InvalidResponse" }

--- The mapping of client for the raw response res of req (not public API:
-- the binding's user value 3, as the specs' helpers.internals reads it).
local function respond(client, req, res)
  res.req = req
  return debug.getuservalue(client.binding, 3)(res)
end

return function(input)
  local sel, st, extra = input:byte(1) or 0, input:byte(2) or 0, input:byte(3) or 0
  local row = ROWS[sel % #ROWS + 1]
  local status = st < 128 and STATUSES[st % #STATUSES + 1] or (100 + (st * 7 + extra) % 500)
  local res = { status = status, body = input:sub(4) }
  if extra & 1 == 1 then res.retry_after = input:sub(4, 4 + extra % 16) end
  if extra & 0xF0 == 0xF0 then res.error, res.message = TRANSPORT[extra % #TRANSPORT + 1], "fuzzed" end
  local req = { method = row.op.method, url = row.client.url .. "/fuzz?token=t", op = row.op }
  local ok, v = pcall(respond, row.client, req, res)
  if ok then return end
  F.check(Error.is(v), "respond raised a non-Error:", v, row.op.name, status)
  F.check(type(v.type) == "string" and v.type ~= "", "error without a type:", row.op.name, status)
  F.check(type(v.message) == "string", "error without a message:", v.type, row.op.name, status)
  local tok, line = pcall(tostring, v)
  F.check(tok and type(line) == "string", "tostring of the error raised:", line)
  F.check(not (v.url or ""):find("secret", 1, true), "the password reached the error's url:", v.url)
end
