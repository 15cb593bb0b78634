-- Declared kinds are enforced before any traffic: integers, booleans, enums,
-- strings and JSON params refuse what the server would misread, with
-- InvalidParams naming the param and the value.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local MR_TOKEN = "sandbox-monterosa-token"
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local sb, losant, mr

setup(function()
  sb = sandbox.start()
  losant = eventapi.losant({ url = sb.url, token = sandbox.token })
  mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
end)
teardown(function() sb.stop() end)
before_each(function() sandbox.clear_requests(sb) end)

--- The InvalidParams error of a call, after checking nothing was sent.
local function refused(p)
  local err = sandbox.rejection(p)
  assert.are.equal("InvalidParams", err.type, tostring(err))
  assert.are.equal(0, #sandbox.requests(sb))
  return err
end

--- The query of the only recorded request.
local function sent_query()
  local r = sandbox.requests(sb)
  assert.are.equal(1, #r)
  return r[1].query
end

describe("integer params", function()
  it("refuse a string", function()
    local err = refused(losant.events.get({ applicationId = APP, page = "abc" }))
    assert.are.equal("events.get: page must be a whole number, not 'abc'", err.message)
    assert.are.equal("page", err.param)
  end)

  it("refuse a fraction", function()
    local err = refused(losant.events.get({ applicationId = APP, perPage = 2.5 }))
    assert.are.equal("events.get: perPage must be a whole number, not 2.5", err.message)
  end)

  it("send an integral float as an integer", function()
    losant.events.get({ applicationId = APP, perPage = 50.0 }):await()
    assert.truthy(sent_query():find("&perPage=50", 1, true), sent_query())
  end)

  it("refuse a string on Monterosa too", function()
    local err = refused(mr.events.list({ project_id = PROJECT, state = "future", count = "many" }))
    assert.truthy(err.message:find("count must be a whole number, not 'many'", 1, true), err.message)
  end)
end)

describe("boolean params", function()
  it("refuse a string", function()
    local err = refused(losant.integration.delete({ applicationId = APP, integrationId = "575ed78e7ae143cd83dc4aab",
                                                    includeWorkflows = "maybe" }))
    assert.truthy(err.message:find("includeWorkflows must be true or false, not 'maybe'", 1, true), err.message)
  end)

  it("refuse a number", function()
    refused(losant.events.get({ applicationId = APP, _links = 1 }))
  end)
end)

describe("enum params", function()
  it("refuse a value outside the list, naming the list", function()
    local err = refused(losant.events.get({ applicationId = APP, sortDirection = "sideways" }))
    assert.truthy(err.message:find("sortDirection must be one of asc, desc, ASC, DESC, not 'sideways'", 1, true),
                  err.message)
  end)

  it("take each resource's own sort fields", function()
    losant.events.get({ applicationId = APP, sortField = "level" }):await()
    sandbox.clear_requests(sb)
    refused(losant.integrations.get({ applicationId = APP, sortField = "level" }))
  end)

  it("refuse an unknown event state", function()
    refused(losant.events.get({ applicationId = APP, state = "open" }))
  end)

  it("refuse an unknown Monterosa sort", function()
    refused(mr.events.list({ project_id = PROJECT, state = "future", sort = "name" }))
  end)

  it("send an accepted value as it is", function()
    losant.events.get({ applicationId = APP, sortDirection = "ASC", state = "new" }):await()
    assert.truthy(sent_query():find("sortDirection=ASC", 1, true), sent_query())
  end)
end)

describe("string params", function()
  it("refuse a table", function()
    local err = refused(losant.events.get({ applicationId = APP, filter = { "*" } }))
    assert.truthy(err.message:find("filter must be a string, not a table", 1, true), err.message)
  end)

  it("refuse a boolean", function()
    refused(losant.events.get({ applicationId = APP, filter = true }))
  end)
end)

describe("JSON params", function()
  it("refuse a number", function()
    refused(losant.events.get({ applicationId = APP, query = 5 }))
  end)
end)
