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

-- The four uploads, each part as the official client's form-data writes it:
-- a file from disk (fs.ReadStream / { path = }), bytes (a Buffer / a Lua
-- string), named bytes (a Buffer with a name / { data =, filename = }) and
-- every text field, in order. Compared: method, path, query, the headers
-- above (Content-Type without its boundary) and each recorded part's name,
-- filename, content type, size, digest and bytes.
describe("every Losant upload on the wire", function()
  local official, ours, calls = {}, {}, {}
  local dir = os.tmpname()
  os.remove(dir)

  --- Writes text to a file named name in the spec's directory; -> its path.
  local function write(name, text)
    local path = dir .. "/" .. name
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    return path
  end

  --- The wire of an upload: wire() with the boundary dropped and the parts.
  local function upload_wire(req)
    local w = wire(req)
    w.body = nil
    w.headers["content-type"] = w.headers["content-type"] and w.headers["content-type"]:gsub("; boundary=.*$", "")
    w.parts = req.parts
    return w
  end

  do -- the calls, made as the spec loads (one it per call)
    os.execute("mkdir -p " .. sb.shell_quote(dir))
    local zip = write("bundle.zip", "PK\3\4 a bundle \0 with a NUL")
    local nb = write("n.ipynb", '{"cells": []}\n')
    local png = write("pic.PNG", "\137PNG\r\n\26\n")
    -- { action, eventapi's params, official's params }
    local function both(action, mine, theirs) calls[#calls + 1] = { action = action, mine = mine, theirs = theirs } end
    both("file.upload", { applicationId = ID, fileId = ID, file = { path = png } },
         { applicationId = ID, fileId = ID, file = { ["$file"] = png } })
    both("file.upload", { applicationId = ID, fileId = ID, file = "raw bytes ü" },
         { applicationId = ID, fileId = ID, file = { ["$bytes"] = "raw bytes ü" } })
    both("notebook.upload", { applicationId = ID, notebookId = ID, jupyterFile = { path = nb } },
         { applicationId = ID, notebookId = ID, jupyterFile = { ["$file"] = nb } })
    both("notebook.upload", { applicationId = ID, notebookId = ID, jupyterFile = { data = "{}", filename = "x.json" } },
         { applicationId = ID, notebookId = ID, jupyterFile = { ["$bytes"] = "{}", ["$name"] = "x.json" } })
    both("notebook.upload", { applicationId = ID, notebookId = ID, jupyterFile = { data = "q", filename = 'a "q".txt' } },
         { applicationId = ID, notebookId = ID, jupyterFile = { ["$bytes"] = "q", ["$name"] = 'a "q".txt' } })
    both("application.import", { applicationId = ID, importBundle = { path = zip }, email = "a@b.c", losantdomain = "example.com" },
         { applicationId = ID, importBundle = { ["$file"] = zip }, email = "a@b.c", losantdomain = "example.com" })
    both("application.import", { applicationId = ID, importBundle = "PK bytes" },
         { applicationId = ID, importBundle = { ["$bytes"] = "PK bytes" } })
    local fields = { ownerId = ID, ownerType = "organization", includeDevices = "true", includeDataTableRows = "false",
                     includeFiles = "true", email = 'quote " and\r\nlines' }
    local mine, theirs = { importBundle = { path = zip } }, { importBundle = { ["$file"] = zip } }
    for k, v in pairs(fields) do mine[k], theirs[k] = v, v end
    both("applications.import", mine, theirs)
    both("applications.import", { importBundle = "x", ownerType = "user" }, { importBundle = { ["$bytes"] = "x" }, ownerType = "user" })
  end

  setup(function()
    if not available() then return end
    local server = sb.start()
    local list = {}
    for i, call in ipairs(calls) do list[i] = { action = call.action, params = call.theirs } end
    local file = write("calls.json", eventapi.json.encode(list, { sort = true }))
    local cmd = ("env -u LD_PRELOAD NODE_PATH=%q node %s %q %q %q"):format(MODULES, REPLAY, file, server.url, sb.token)
    local pipe = assert(io.popen(cmd))
    local said = pipe:read("a")
    pipe:close()
    assert(said:find("replayed " .. #calls, 1, true), said)
    for i, req in ipairs(sb.requests(server)) do official[i] = upload_wire(req) end
    sb.clear_requests(server)
    local client = server.losant()
    for _, call in ipairs(calls) do
      local resource, action = call.action:match("^(%w+)%.(%w+)$")
      local p = client[resource][action](call.mine)
      pcall(p.await, p)
    end
    for i, req in ipairs(sb.requests(server)) do ours[i] = upload_wire(req) end
    server.stop()
  end)
  teardown(function() os.execute("rm -rf " .. sb.shell_quote(dir)) end)

  it("replays the four uploads, each part recorded from both clients", function()
    local actions = {}
    for _, call in ipairs(calls) do actions[call.action] = true end
    assert.are.same({ ["application.import"] = true, ["applications.import"] = true, ["file.upload"] = true,
                      ["notebook.upload"] = true }, actions)
    if not available() then return end
    assert.are.equal(#calls, #official)
    assert.are.equal(#calls, #ours)
    for i = 1, #calls do
      assert.is_true(#official[i].parts >= 1, calls[i].action)
      assert.are.equal("multipart/form-data", official[i].headers["content-type"])
    end
  end)

  for i, call in ipairs(calls) do
    it(("%s (call %d) goes out as the official client sends it"):format(call.action, i), function()
      if not available() then
        pending("node and losant-rest are not here (make test installs losant-rest when npm is reachable)")
        return
      end
      assert.are.same(official[i], ours[i], call.action .. " call " .. i)
    end)
  end
end)
