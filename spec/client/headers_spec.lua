-- The headers param every operation call takes: sent with that call only,
-- checked like the headers option, replacing a client header of the same name.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local MR_TOKEN = "sandbox-monterosa-token"
local sb, losant

setup(function()
  sb = sandbox.start({ faults = true })
  losant = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Team"] = "ops" } })
end)
teardown(function() sb.stop() end)
before_each(function() sandbox.clear_requests(sb) end)

--- The headers of the only request the sandbox recorded.
local function recorded()
  local r = sandbox.requests(sb)
  assert.are.equal(1, #r)
  return r[1].headers
end

describe("the headers param of an operation call", function()
  it("sends its headers with that call", function()
    losant.event.get({ applicationId = APP, eventId = EVENT, headers = { ["X-Request-Id"] = "r-1" } }):await()
    assert.are.equal("r-1", recorded()["x-request-id"])
  end)

  it("does not send them with the next call", function()
    losant.event.get({ applicationId = APP, eventId = EVENT, headers = { ["X-Request-Id"] = "r-1" } }):await()
    sandbox.clear_requests(sb)
    losant.event.get({ applicationId = APP, eventId = EVENT }):await()
    assert.is_nil(recorded()["x-request-id"])
  end)

  it("replaces a client header of the same name, in any case, for that call", function()
    losant.event.get({ applicationId = APP, eventId = EVENT, headers = { ["x-team"] = "night" } }):await()
    assert.are.equal("night", recorded()["x-team"])
  end)

  it("sends a replaced header once: the server sees only the call's value", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT,
      headers = { ["X-Team"] = "night", ["X-Sandbox-Fault"] = "echo-headers" } }))
    assert.are.equal("night", err.body.headers["x-team"]) -- a repeated header would be "ops, night"
  end)

  it("keeps the client's other headers and the body's Content-Type", function()
    losant.events.post({ applicationId = APP, event = { level = "info", subject = "headers param" },
                         headers = { ["X-Request-Id"] = "r-2" } }):await()
    local h = recorded()
    assert.are.equal("ops", h["x-team"])
    assert.are.equal("application/json", h["content-type"])
    assert.are.equal("Bearer " .. sandbox.token, h["authorization"])
  end)

  it("works on every service", function()
    local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
    mr.events.get({ event_id = "18b17c20-5e84-4086-8da0-784f21622e16", headers = { ["X-Request-Id"] = "m-1" } }):await()
    assert.are.equal("m-1", recorded()["x-request-id"])
  end)

  it("refuses CR or LF in a value before any traffic", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT,
                                                     headers = { ["X-A"] = "v\r\nX-Evil: 1" } }))
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("event.get: header X-A must not contain CR, LF or NUL", 1, true), err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("refuses a name that is not a header name", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT,
                                                     headers = { ["X A"] = "v" } }))
    assert.are.equal("InvalidParams", err.type)
  end)

  it("refuses a value that is a table, before any traffic (it would go out as 'table: 0x...')", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT,
                                                     headers = { ["X-A"] = { "v" } } }))
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("event.get: header X-A must be a string, a number or a boolean, not a table", 1, true),
                  err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("writes a number as a query param's (50.0 as 50, 0.1 + 0.2 exactly) and a boolean as true or false", function()
    losant.event.get({ applicationId = APP, eventId = EVENT,
                       headers = { ["X-Count"] = 50.0, ["X-Ratio"] = 0.1 + 0.2, ["X-Dry"] = false } }):await()
    local h = recorded()
    assert.are.equal("50", h["x-count"])
    assert.are.equal("0.30000000000000004", h["x-ratio"])
    assert.are.equal("false", h["x-dry"])
  end)

  it("refuses NaN as a value", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT,
                                                     headers = { ["X-A"] = 0 / 0 } }))
    assert.truthy(err.message:find("header X-A must be a finite number", 1, true), err.message)
  end)

  it("is checked the same way in the client's headers option and in client:request", function()
    local ok, err = pcall(eventapi.losant, { url = sb.url, token = sandbox.token, headers = { ["X-A"] = print } })
    assert.is_false(ok)
    assert.truthy(err.message:find("header X-A must be a string, a number or a boolean, not a function", 1, true),
                  err.message)
    local rejected = sandbox.rejection(losant:request({ path = "/applications/" .. APP .. "/events/" .. EVENT,
                                                        headers = { ["X-A"] = {} } }))
    assert.truthy(rejected.message:find("request: header X-A must be a string, a number or a boolean, not a table", 1, true),
                  rejected.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("refuses a list of header lines, whose keys are not names, before any traffic", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT, headers = { "X-A: v" } }))
    assert.truthy(err.message:find("event.get: headers must be a table of name = value; a number key is not a header name",
                                   1, true), err.message)
    local rejected = sandbox.rejection(losant:request({ path = "/applications/" .. APP .. "/events/" .. EVENT,
                                                        headers = { "X-A: v" } }))
    assert.truthy(rejected.message:find("request: headers must be a table of name = value", 1, true), rejected.message)
    local ok, option = pcall(eventapi.losant, { url = sb.url, token = sandbox.token, headers = { "X-A: v" } })
    assert.is_false(ok)
    assert.truthy(option.message:find("losant: headers must be a table of name = value", 1, true), option.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("refuses headers that are not a table", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT, headers = "X-A: v" }))
    assert.are.equal("InvalidParams", err.type)
  end)

  it("redacts a credential-like header's value that the server echoes", function()
    local err = sandbox.rejection(losant.event.get({ applicationId = APP, eventId = EVENT,
      headers = { ["X-Sandbox-Fault"] = "echo-headers", ["X-Auth-Token"] = "per-call-secret-77" } }))
    assert.is_nil(tostring(err):find("per-call-secret-77", 1, true))
    assert.are.equal("REDACTED", err.body.headers["x-auth-token"])
  end)
end)
