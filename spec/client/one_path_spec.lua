-- One request path (issue 27): a call is built once by the core, whichever
-- way it then goes (sent at once, or through the client's policy in Lua),
-- and a call with bad params is refused from that one build. Over real HTTP
-- against the sandbox.
local eventapi = require "eventapi"
local core = require "eventapi.core"
local sandbox = require "helpers.sandbox"

local APP, EVENT = sandbox.app, sandbox.event

describe("a call", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() sb.stop() end)

  local function losant(extra)
    local o = { url = sb.url, token = sandbox.token }
    for k, v in pairs(extra or {}) do o[k] = v end
    return eventapi.losant(o)
  end

  --- How many builds fn made (it returns the call's promise, awaited whatever its outcome).
  local function builds_of(fn)
    local before = core.builds()
    local p = fn()
    pcall(p.await, p)
    return core.builds() - before
  end

  it("with bad params is built once and refused, on a plain client", function()
    local c <close> = losant()
    local p
    assert.are.equal(1, builds_of(function()
      p = c.event.get({ applicationId = APP })
      return p
    end))
    local ok, err = pcall(p.await, p)
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("event.get: missing required param 'eventId'", err.message)
  end)

  it("with bad params is built once and refused, on a client with a hook", function()
    local c <close> = losant()
    local seen = 0
    c:on("request", function() seen = seen + 1 end)
    assert.are.equal(1, builds_of(function() return c.event.get({ applicationId = APP }) end))
    assert.are.equal(0, seen)
  end)

  it("with good params is built once on a plain client", function()
    local c <close> = losant()
    assert.are.equal(1, builds_of(function() return c.event.get({ applicationId = APP, eventId = EVENT }) end))
  end)

  it("with good params is built once on a client with retries", function()
    local c <close> = losant({ retries = true })
    assert.are.equal(1, builds_of(function() return c.event.get({ applicationId = APP, eventId = EVENT }) end))
  end)
end)
