-- Every Losant action that is neither an upload nor a stream goes out
-- exactly as the official client (losant-rest, run by node) sends it: the
-- same table of calls is replayed through losant-rest and through eventapi
-- against a recording sandbox, and each pair of requests is compared:
-- method, path, query, the headers both clients set, and the body. Each
-- action is called twice: with every param it takes (strings that need
-- escaping, integers, booleans, a JSON query, bracket-form hashes, a body,
-- losantdomain and a default overridden), and with its required params only.
-- Needs node and losant-rest (`make test` installs it into
-- $EVENTAPI_BUILD/losant-rest when npm is reachable; EVENTAPI_LOSANT_REST
-- names another node_modules folder); pending without them.
local sb = require "helpers.sandbox"
local eventapi = require "eventapi"
local losant = require "eventapi.losant"
local cjson = require "cjson"

local MODULES = os.getenv("EVENTAPI_LOSANT_REST")
  or ((os.getenv("EVENTAPI_BUILD") or "build") .. "/losant-rest/node_modules")
local REPLAY = "spec/helpers/losant_rest_replay.js"
local ID = "575ec8687ae143cd83dc4a97"

local function available()
  local f = io.open(MODULES .. "/losant-rest/package.json")
  if not f then return false end
  f:close()
  return os.execute("node --version >/dev/null 2>&1") == true
end

--- A sample value of param p, for the call that gives every param.
local function sample(p)
  if p.place == "path" then return ID end
  if p.place == "body" then return { name = "a body" } end
  if p.kind == "json" then return { name = "x" } end
  if p.kind == "hash" then return { { key = "k", value = "v w" }, { key = "ü", value = "[x]" } } end
  if p.kind == "boolean" then return true end
  if p.kind == "integer" then return 2 end
  if p.enum then return p.enum[#p.enum] end
  return "a b/c&d=ü"
end

--- The calls of one row: every param (those a given param overrides left
-- out), then the required ones only.
local function calls_of(row)
  local full, minimal = { losantdomain = "example.com", _embedded = false }, {}
  local given = {}
  for _, p in ipairs(row.params) do given[p.name] = true end
  for _, p in ipairs(row.params) do
    if not (p.overridden_by and given[p.overridden_by]) then full[p.name] = sample(p) end
    if p.required then minimal[p.name] = sample(p) end
  end
  return { { action = row.name, params = full }, { action = row.name, params = minimal } }
end

local ROWS, CALLS = {}, {}
for _, row in ipairs(losant.operations) do
  if not row.stream and not row.upload then
    ROWS[#ROWS + 1] = row
    for _, call in ipairs(calls_of(row)) do CALLS[#CALLS + 1] = call end
  end
end

-- The headers both clients set (user-agent, content-length and the
-- connection's own are each client's business).
local HEADERS = { "accept", "accept-version", "authorization", "content-type", "losantdomain" }

local function wire(req)
  local headers = {}
  for _, name in ipairs(HEADERS) do headers[name] = req.headers[name] end
  return { method = req.method, path = req.path, query = req.query, headers = headers, body = req.body }
end

describe("every Losant action on the wire", function()
  local official, ours = {}, {}

  setup(function()
    if not available() then return end
    local server = sb.start()
    local file = os.tmpname()
    local f = assert(io.open(file, "w"))
    f:write(eventapi.json.encode(CALLS, { sort = true })) -- a Lua table has no key order: eventapi sorts a hash's keys
    f:close()
    local cmd = ("env -u LD_PRELOAD NODE_PATH=%q node %s %q %q %q"):format(MODULES, REPLAY, file, server.url, sb.token)
    local pipe = assert(io.popen(cmd))
    local said = pipe:read("a")
    pipe:close()
    os.remove(file)
    assert(said:find("replayed " .. #CALLS, 1, true), said)
    for i, req in ipairs(sb.requests(server)) do official[i] = wire(req) end
    sb.clear_requests(server)
    local client = server.losant()
    for _, call in ipairs(CALLS) do
      local resource, action = call.action:match("^(%w+)%.(%w+)$")
      local p = client[resource][action](call.params)
      pcall(p.await, p)
    end
    for i, req in ipairs(sb.requests(server)) do ours[i] = wire(req) end
    server.stop()
  end)

  it("has the calls of 266 actions, each recorded from both clients", function()
    assert.are.equal(266, #ROWS)
    if not available() then return end
    assert.are.equal(#CALLS, #official)
    assert.are.equal(#CALLS, #ours)
  end)

  for i, row in ipairs(ROWS) do
    it(row.name .. " goes out as the official client sends it", function()
      if not available() then
        pending("node and losant-rest are not here (make test installs losant-rest when npm is reachable)")
        return
      end
      for k = 2 * i - 1, 2 * i do
        assert.are.same(official[k], ours[k], row.name .. " call " .. k)
      end
    end)
  end
end)
