-- Dry runs and validate = true check a call's body and JSON query params
-- against Losant's published schemas (lua/eventapi/schemas/losant) before
-- anything is sent (issue 28). Over real HTTP against the sandbox, whose
-- request record shows what was sent.
local sandbox = require "helpers.sandbox"

local APP, EVENT = sandbox.app, sandbox.event

describe("validation against the published schemas", function()
  local sb

  setup(function() sb = sandbox.start() end)
  teardown(function() sb.stop() end)
  before_each(function() sandbox.clear_requests(sb) end)

  --- The error a call rejects with (it must reject).
  local function refusal(p)
    local ok, err = pcall(p.await, p)
    assert.is_false(ok, "the call was not refused")
    return err
  end

  it("refuses a dry-run write whose body the schema refuses, naming the param, the pointer and the rule", function()
    local lines = {}
    local c <close> = sb.losant({ dry_run = function(line) lines[#lines + 1] = line end })
    local err = refusal(c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "done" } }))
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("event.patch: event/state: must be one of new, acknowledged, resolved", err.message)
    assert.are.equal("event", err.param)
    assert.are.same({}, lines)
  end)

  it("names the whole param when the body's root is what the schema refuses", function()
    local c <close> = sb.losant({ dry_run = function() end })
    local err = refusal(c.events.post({ applicationId = APP, event = { level = "info" } }))
    assert.are.equal("InvalidParams", err.type)
    assert.matches("^events%.post: event: .*subject", err.message)
  end)

  it("refuses a property the schema does not allow", function()
    local c <close> = sb.losant({ dry_run = function() end })
    local err = refusal(c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "new", colour = "red" } }))
    assert.matches("^event%.patch: event: .*colour", err.message)
  end)

  it("prints a dry-run write the schema takes, as before", function()
    local lines = {}
    local c <close> = sb.losant({ dry_run = function(line) lines[#lines + 1] = line end })
    local result = c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "acknowledged" } }):await()
    assert.is_true(result.dry_run)
    assert.are.equal(1, #lines)
    assert.matches('^%[dry run%] PATCH .* {"state":"acknowledged"}$', lines[1])
  end)

  it("sends nothing for a dry-run write, valid or not", function()
    local c <close> = sb.losant({ dry_run = function() end })
    pcall(function() c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "x" } }):await() end)
    c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "new" } }):await()
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("refuses, with validate = true, a write the schema refuses before it is sent", function()
    local c <close> = sb.losant({ validate = true })
    local err = refusal(c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "closed" } }))
    assert.are.equal("event.patch: event/state: must be one of new, acknowledged, resolved", err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("sends, with validate = true, a write the schema takes", function()
    local c <close> = sb.losant({ validate = true })
    local event = c.event.patch({ applicationId = APP, eventId = EVENT, event = { comment = "checked" } }):await()
    assert.are.equal(EVENT, event.id)
    assert.are.equal(1, #sandbox.requests(sb))
  end)

  it("checks the advanced query param of a read with validate = true", function()
    local c <close> = sb.losant({ validate = true })
    local err = refusal(c.events.get({ applicationId = APP, query = { ["$or"] = 5 } }))
    assert.are.equal("InvalidParams", err.type)
    assert.matches("^events%.get: query/%$or: ", err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("lets a dry run's reads go out unchecked, as they go out for real", function()
    local c <close> = sb.losant({ dry_run = function() end })
    local page = c.events.get({ applicationId = APP, perPage = 1 }):await()
    assert.is_table(page.items)
  end)

  it("leaves a client without validate or dry run unchecked: the server is the judge", function()
    local c <close> = sb.losant()
    local err = refusal(c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "closed" } }))
    assert.are.equal(400, err.status)
    assert.are.equal(1, #sandbox.requests(sb))
  end)

  it("shows the option as client.validate", function()
    local c <close> = sb.losant({ validate = true })
    local d <close> = sb.losant()
    assert.is_true(c.validate)
    assert.is_false(d.validate)
  end)

  it("refuses a validate option that is not a boolean, naming it", function()
    local ok, err = pcall(sb.losant, { validate = "yes" })
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.matches("option validate must be a boolean", err.message)
  end)
end)
