-- Options are read when a client is made (issue 27): a field written
-- afterwards is refused before any call can go out under a policy the
-- script did not get; hooks added with client:on apply from the next call.
-- Over real HTTP against the sandbox.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP, EVENT = sandbox.app, sandbox.event

describe("a client's options after it is made", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() sb.stop() end)
  before_each(function() sandbox.clear_requests(sb) end)

  local function losant(extra) return sb.losant(extra) end

  --- The error a function raised (it must raise).
  local function raised(fn)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    return err
  end

  it("refuses client.dry_run = true, naming the field, and the next write is not a dry run", function()
    local c <close> = losant()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() c.dry_run = true end)
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("losant: client.dry_run cannot be set after the client is made; give options to the "
                     .. "constructor (or use client:on for hooks)", err.message)
    assert.are.equal("spec/client/late_options_spec.lua:" .. line, err.location)
    assert.is_false(c.dry_run)
    assert.is_false(eventapi.dry_run(c))
  end)

  it("refuses client.dry_run = false on a dry-run client, which keeps sending nothing", function()
    local lines = {}
    local c <close> = losant({ dry_run = function(l) lines[#lines + 1] = l end })
    assert.are.equal("InvalidParams", raised(function() c.dry_run = false end).type)
    local result = c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "acknowledged" } }):await()
    assert.is_true(result.dry_run)
    assert.are.equal(1, #lines)
    assert.are.same({}, sandbox.requests(sb))
  end)

  it("refuses client.retries written after construction", function()
    local c <close> = losant()
    assert.are.equal("InvalidParams", raised(function() c.retries = { max = 3 } end).type)
    assert.is_nil(c.retries)
  end)

  it("refuses any new field, so a misspelt option cannot pass silently", function()
    local c <close> = losant()
    local err = raised(function() c.dryrun = true end)
    assert.truthy(err.message:find("client.dryrun cannot be set", 1, true), err.message)
  end)

  it("shows the retry policy given to the constructor", function()
    local c <close> = losant({ retries = { max = 2 } })
    assert.are.equal(2, c.retries.max)
  end)

  it("applies a request hook added after the first call from the next call on", function()
    local c <close> = losant()
    c.event.get({ applicationId = APP, eventId = EVENT }):await()
    local seen = {}
    c:on("request", function(info) seen[#seen + 1] = info.method end)
    c.event.get({ applicationId = APP, eventId = EVENT }):await()
    assert.are.same({ "GET" }, seen)
  end)
end)
