--- What the specs read of the library's insides, none of it in the public
-- API: the core's test hooks (the registry's "eventapi.testing" table) and
-- a client's response mapping (a user value of its binding); and two small
-- helpers the schema specs share (read, refusal).
require "eventapi.core"
local assert = require "luassert" -- (the spec files' assert is busted's environment, not a module's)
local internals = {}

local testing = debug.getregistry()["eventapi.testing"]

--- builds() -> how many requests the core has built in this process.
function internals.builds() return testing.builds() end

--- in_flight(client) -> the client's requests in flight that the core started itself.
function internals.in_flight(client) return testing.in_flight(client.binding) end

--- respond(client, req, res) -> the value the client maps the raw response res of req to (raises its error).
function internals.respond(client, req, res)
  local mapping = debug.getuservalue(client.binding, 3) -- the binding's respond(res), res.req the request
  res.req = req
  return mapping(res)
end

--- read(path) -> the file's bytes, or nil when it cannot be opened.
function internals.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

--- refusal(f, ...) -> the message of the eventapi.Error f(...) raises; it must raise InvalidParams.
function internals.refusal(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  assert.are.equal("table", type(err), tostring(err))
  assert.are.equal("InvalidParams", err.type)
  return err.message
end

return internals
