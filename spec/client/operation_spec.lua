-- Operations are compiled by the core: a row is checked against the schema
-- once, each client's operation is a callable userdata, and the C fast path
-- and the Lua path (taken with hooks, retries, callbacks, per-call headers)
-- send the same bytes and refuse the same params with the same errors.
local eventapi = require "eventapi"
local core = require "eventapi.core"
local losant_service = require("eventapi.services").of("losant")
local sandbox = require "helpers.sandbox"

local APP, EVENT = sandbox.app, sandbox.event
local sb, fast, slow

--- Waits for p whatever its outcome.
local function settled(p) pcall(p.await, p) end

setup(function()
  sb = sandbox.start()
  fast = eventapi.losant({ url = sb.url, token = sandbox.token })
  slow = eventapi.losant({ url = sb.url, token = sandbox.token })
  slow:on("request", function() end) -- a hook: every call takes the Lua path
end)
teardown(function()
  fast:close()
  slow:close()
  sb.stop()
end)
before_each(function() sandbox.clear_requests(sb) end)

--- A copy of a Losant row (as the service declares it, before prepare).
local function row(overrides)
  local r = { name = "thing.get", method = "GET", path = "/things/{id}",
              params = { { name = "id", place = "path", required = true, kind = "string" } } }
  for k, v in pairs(overrides or {}) do r[k] = v end
  return r
end

--- The InvalidParams message of compiling a row with its own params.
local function compile_error(r)
  local ok, err = pcall(core.operation, r, r.params)
  assert.is_false(ok)
  assert.are.equal("InvalidParams", err.type)
  return err.message
end

describe("an operation", function()
  it("is a callable userdata that names itself", function()
    assert.are.equal("userdata", type(fast.event.get))
    assert.is_true(core.is_operation(fast.event.get))
    assert.are.equal("eventapi.Operation: event.get", tostring(fast.event.get))
  end)

  it("exposes its row's name, method, path, params and returns", function()
    local op = fast.events.get
    assert.are.equal("events.get", op.name)
    assert.are.equal("GET", op.method)
    assert.are.equal("/applications/{applicationId}/events", op.path)
    assert.are.equal("applicationId", op.params[1].name)
    assert.are.equal("page", op.pages)
    assert.is_string(op.returns)
    assert.is_nil(op.compiled) -- only the documented fields
  end)

  it("is one per client, over a row compiled once", function()
    assert.are_not.equal(fast.event.get, slow.event.get)
    local row = losant_service.operations[1]
    local params = require("eventapi.client").prepare(losant_service, row).all_params
    local compiled = core.operation(row, params)
    assert.are.equal("userdata", type(compiled))
    local another = eventapi.losant({ url = sb.url, token = sandbox.token })
    assert.are.equal(compiled, core.operation(row, params)) -- a new client does not recompile
    another:close()
  end)

  it("leaves the service's rows as they were written", function()
    --- The field names of a row and of each of its params, sorted.
    local function fields(r)
      local names = {}
      for k in pairs(r) do names[#names + 1] = tostring(k) end
      for i, p in ipairs(r.params) do
        for k in pairs(p) do names[#names + 1] = i .. "." .. tostring(k) end
      end
      table.sort(names)
      return table.concat(names, " ")
    end
    local before = {}
    for i, r in ipairs(losant_service.operations) do before[i] = fields(r) end
    local c <close> = eventapi.losant({ url = sb.url, token = sandbox.token })
    c.event.get({ applicationId = APP, eventId = EVENT }):await()
    for i, r in ipairs(losant_service.operations) do assert.are.equal(before[i], fields(r)) end
    for _, r in ipairs(losant_service.operations) do
      assert.is_nil(rawget(r, "compiled"))
      assert.is_nil(rawget(r, "all_params"))
    end
  end)
end)

describe("compiling a row", function()
  it("refuses an unknown row field", function()
    assert.truthy(compile_error(row({ colour = "red" })):find("unknown row field 'colour'", 1, true))
  end)

  it("refuses an unknown param field", function()
    local r = row()
    r.params[1].requried = true
    assert.truthy(compile_error(r):find("unknown param field 'requried'", 1, true))
  end)

  it("refuses an unknown place", function()
    local r = row()
    r.params[1].place = "cookie"
    assert.truthy(compile_error(r):find("id has no known place", 1, true))
  end)

  it("refuses an unknown kind", function()
    local r = row()
    r.params[1].kind = "float"
    assert.truthy(compile_error(r):find("id has an unknown kind", 1, true))
  end)

  it("refuses an unknown method", function()
    assert.truthy(compile_error(row({ method = "FETCH" })):find("unknown method", 1, true))
  end)

  it("refuses a path placeholder no param declares", function()
    assert.truthy(compile_error(row({ path = "/things/{thingId}" })):find("does not declare", 1, true))
  end)

  it("refuses a header param whose name is not an HTTP token", function()
    local r = row()
    r.params[2] = { name = "bad", wire = "X Bad", place = "header", kind = "string" }
    assert.truthy(compile_error(r):find("bad is not a header name", 1, true))
  end)

  it("refuses a query default its kind or enum refuses", function()
    local r = row()
    r.params[2] = { name = "perPage", place = "query", kind = "integer", default = "many" }
    assert.truthy(compile_error(r):find("perPage must be a whole number, not 'many'", 1, true))
    r = row()
    r.params[2] = { name = "sort", place = "query", kind = "string", enum = { "asc" }, default = "sideways" }
    assert.truthy(compile_error(r):find("sort must be one of asc, not 'sideways'", 1, true))
  end)

  it("refuses an enum that is not a list of strings", function()
    local r = row()
    r.params[2] = { name = "sort", place = "query", kind = "string", enum = { 1, 2 } }
    assert.truthy(compile_error(r):find("must list strings", 1, true))
  end)
end)

--- A row compiled with its own params.
local function compiled(r)
  return core.operation(r, r.params)
end

describe("building a row with Lua functions in the core", function()
  it("takes the path its path function gives, which may refuse with a param named", function()
    local spec = compiled(row({ path = function(params, name, invalid)
      if params.id == "bad" then invalid(name .. ": id is bad", { param = "id" }) end
      return "/things/" .. params.id .. "/x"
    end }))
    assert.are.equal("http://h/things/7/x", (core.build(spec, "http://h", { id = "7" })))
    local ok, err = pcall(core.build, spec, "http://h", { id = "bad" })
    assert.is_false(ok)
    assert.are.same({ "InvalidParams", "thing.get: id is bad", "id" }, { err.type, err.message, err.param })
  end)

  it("sends what a param's check returns, and names the param when the check returns nil and why", function()
    local spec = compiled(row({ path = "/things", params = {
      { name = "tags", place = "query", kind = "string", check = function(v)
          if type(v) ~= "table" then return nil, "must be a list" end
          return table.concat(v, ",")
        end } } }))
    assert.are.equal("http://h/things?tags=a%2Cb", (core.build(spec, "http://h", { tags = { "a", "b" } })))
    local ok, err = pcall(core.build, spec, "http://h", { tags = 5 })
    assert.is_false(ok)
    assert.are.same({ "InvalidParams", "thing.get: tags must be a list", "tags" }, { err.type, err.message, err.param })
  end)

  it("sends the value as given when a param's check returns nothing", function()
    local spec = compiled(row({ path = "/things", params = {
      { name = "tag", place = "query", kind = "string", check = function() end } } }))
    assert.are.equal("http://h/things?tag=a", (core.build(spec, "http://h", { tag = "a" })))
  end)

  it("names the param and keeps the text, location included, when a param's check raises (a bug in it)", function()
    local spec = compiled(row({ path = "/things", params = {
      { name = "tags", place = "query", kind = "string", check = function(v) return v.x.y end } } }))
    local ok, err = pcall(core.build, spec, "http://h", { tags = {} })
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.matches("^thing%.get: tags check failed: spec/client/operation_spec%.lua:%d+: attempt to index", err.message)
  end)

  it("encodes what body_of makes of the params and the attributes", function()
    local spec = compiled(row({ method = "POST", path = "/things", params = {
      { name = "title", place = "attribute", kind = "string", wire = "name" },
      { name = "note", place = "none", kind = "string" } },
      body_of = function(params, attributes) return { data = { attributes = attributes, note = params.note } } end }))
    local url, body, data = core.build(spec, "http://h", { title = "T", note = "n" })
    assert.are.equal("http://h/things", url)
    assert.are.same({ data = { attributes = { name = "T" }, note = "n" } }, data)
    assert.are.same(data, require("cjson").decode(body))
  end)
end)

describe("client:request's query", function()
  it("writes values with the operations' encoder: integral floats as integers, tables as JSON", function()
    fast:request({ path = "/applications/" .. APP .. "/events", query = { perPage = 5.0, filter = { level = "info" },
                                                                           flag = true } }):await()
    local r = sandbox.requests(sb)
    assert.are.equal("filter=%7B%22level%22%3A%22info%22%7D&flag=true&perPage=5", r[#r].query)
  end)

  it("refuses a value no kind can send before any traffic, naming the key", function()
    local ok, err = pcall(function() return fast:request({ path = "/x", query = { n = 0 / 0 } }):await() end)
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("request: n must be a finite number", 1, true), err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)
end)

describe("the fast path and the Lua path", function()
  --- The method, path and query of the only recorded request.
  local function sent()
    local r = sandbox.requests(sb)
    assert.are.equal(1, #r)
    return r[1].method .. " " .. r[1].path .. " " .. r[1].query .. " " .. (r[1].body or "")
  end

  local calls = {
    { "event.get", { applicationId = APP, eventId = EVENT } },
    { "events.get", { applicationId = APP, perPage = 5.0, sortDirection = "asc",
                      query = { level = "critical", state = "new" }, _links = false } },
    { "events.patch", { applicationId = APP, filterField = "subject", filter = "a b&c",
                        updates = { state = "acknowledged" } } },
    { "integration.delete", { applicationId = APP, integrationId = "575ed78e7ae143cd83dc4aab",
                              includeWorkflows = true } },
  }
  for _, c in ipairs(calls) do
    it("send the same request for " .. c[1], function()
      local resource, action = c[1]:match("^(%w+)%.(.+)$")
      settled(fast[resource][action](c[2]))
      local by_fast = sent()
      sandbox.clear_requests(sb)
      settled(slow[resource][action](c[2]))
      assert.are.equal(by_fast, sent())
    end)
  end

  local bad = {
    { "events.get", { applicationId = APP, perPage = 0 / 0 }, "events.get: perPage must be a finite number, not " },
    { "events.get", { applicationId = APP, perPage = math.huge }, "events.get: perPage must be a finite number, not inf" },
    { "events.get", { applicationId = APP, sortField = 7 }, "events.get: sortField must be one of " },
    { "events.get", { applicationId = APP, bogus = 1 }, "events.get: unknown param 'bogus'" },
    { "event.get", { applicationId = APP, eventId = ".." }, "event.get: eventId must not be '..'" },
    { "event.get", { applicationId = APP, eventId = 4.5 }, "event.get: eventId must be a string, not a number" },
    { "event.get", { applicationId = APP }, "event.get: missing required param 'eventId'" },
    { "events.post", { applicationId = APP, event = { level = 0 / 0 } }, "events.post: the body cannot be encoded as JSON" },
    { "events.get", { applicationId = APP, query = { x = math.huge } }, "events.get: query cannot be encoded as JSON" },
    { "integration.delete", { applicationId = APP, integrationId = "x", includeWorkflows = "maybe" },
      "integration.delete: includeWorkflows must be true or false, not 'maybe'" },
  }
  for _, c in ipairs(bad) do
    it("refuse alike before any traffic: " .. c[3], function()
      local resource, action = c[1]:match("^(%w+)%.(.+)$")
      local a = sandbox.rejection(fast[resource][action](c[2]))
      local b = sandbox.rejection(slow[resource][action](c[2]))
      assert.are.equal("InvalidParams", a.type)
      assert.are.equal(a.message, b.message)
      assert.are.equal(a.param, b.param)
      assert.are.equal(c[3], a.message:sub(1, #c[3]))
      assert.are.equal(0, #sandbox.requests(sb))
    end)
  end

  it("answer an HTTP error alike, with the call's location", function()
    local a = sandbox.rejection(fast.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }))
    local b = sandbox.rejection(slow.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }))
    assert.are.equal(404, a.status)
    assert.are.equal(a.type, b.type)
    assert.are.equal(a.url, b.url)
    assert.truthy(a.location:find("operation_spec.lua:%d+$"), a.location)
  end)

  it("answer a 200 that is not JSON with InvalidResponse (the fast path hands it to Lua)", function()
    local sb2 = sandbox.start({ faults = true })
    -- (a client-wide header keeps the call on the fast path; a per-call one would not)
    local c = eventapi.losant({ url = sb2.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "garbage" } })
    local err = sandbox.rejection(c.event.get({ applicationId = APP, eventId = EVENT }))
    c:close()
    sb2.stop()
    assert.are.equal("InvalidResponse", err.type)
    assert.are.equal(200, err.status)
    assert.truthy(err.location:find("operation_spec.lua:%d+$"), err.location)
  end)
end)
