-- One request path (issue 27): a call is built once by the core, whichever
-- way it then goes (sent at once, or through the client's policy in Lua),
-- and a call with bad params is refused from that one build. Over real HTTP
-- against the sandbox.
local eventapi = require "eventapi"
local internals = require "helpers.internals"
local sandbox = require "helpers.sandbox"

local APP, EVENT = sandbox.app, sandbox.event

describe("a call", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() sb.stop() end)

  local function losant(extra) return sb.losant(extra) end

  --- How many builds fn made (it returns the call's promise, awaited whatever its outcome).
  local function builds_of(fn)
    local before = internals.builds()
    local p = fn()
    pcall(p.await, p)
    return internals.builds() - before
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
  it("with a callback is built once and hands the callback its event", function()
    local c <close> = losant()
    local got
    assert.are.equal(1, builds_of(function()
      return c.event.get({ applicationId = APP, eventId = EVENT }, function(err, event) got = err or event end)
    end))
    assert.are.equal(EVENT, got.id)
  end)

  it("with per-call headers is built once and sends them", function()
    local c <close> = losant()
    local seen
    c:on("request", function() end)
    assert.are.equal(1, builds_of(function()
      local p = c.event.get({ applicationId = APP, eventId = EVENT, headers = { ["X-Trace"] = "one-path" } })
      seen = p
      return p
    end))
    assert.are.equal(EVENT, seen:await().id)
    local last = sandbox.requests(sb)
    assert.are.equal("one-path", last[#last].headers["x-trace"])
  end)

  it("with params that are not a table is refused, naming the operation, before any traffic", function()
    local c <close> = losant()
    local ok, err = pcall(function() return c.event.get("x"):await() end)
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("event.get: params must be a table, not a string", err.message)
  end)

  it("on a client closed after it was made is refused as Closed, with no request sent", function()
    local c = losant()
    c.event.get({ applicationId = APP, eventId = EVENT }):await()
    c:close()
    local ok, err = pcall(function() return c.event.get({ applicationId = APP, eventId = EVENT }):await() end)
    assert.is_false(ok)
    assert.are.equal("Closed", err.type)
  end)
end)
