-- Losant's filter without filterField: Losant ignores `filter` when
-- `filterField` is blank or not given ("blank or not provided means no
-- filtering"), so a bulk events.patch meant for a few events would change
-- every one. The client refuses such a call before any traffic, in every
-- call that takes both params. Over real HTTP against the sandbox.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app

describe("a Losant call with filter but no filterField", function()
  local sb, losant

  before_each(function()
    sb = sandbox.start()
    losant = eventapi.losant({ url = sb.url, token = sandbox.token })
  end)
  after_each(function()
    losant:close()
    sb.stop()
  end)

  local refusal = sandbox.refusal

  --- Asserts err is the InvalidParams of op naming filter and filterField.
  local function assert_names_both(op, err)
    assert.is_true(eventapi.Error.is(err), "not an eventapi.Error: " .. tostring(err))
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("filter", err.param)
    assert.are.equal(op .. ": filter needs filterField (without it the server ignores filter)", err.message)
  end

  it("is refused by events.patch, naming both params, and nothing is sent", function()
    local err = refusal(losant.events.patch, { applicationId = APP, filter = "Door*", updates = { state = "resolved" } })
    assert_names_both("events.patch", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by events.get, and nothing is sent", function()
    assert_names_both("events.get", refusal(losant.events.get, { applicationId = APP, filter = "Door*" }))
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by integrations.get, and nothing is sent", function()
    assert_names_both("integrations.get", refusal(losant.integrations.get, { applicationId = APP, filter = "mqtt" }))
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by a walk of every page (events.each), and nothing is sent", function()
    local err = refusal(function()
      for _ in losant.events.each({ applicationId = APP, filter = "Door*" }) do end
    end)
    assert_names_both("events.get", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by a client whose calls take the Lua path (retries), and nothing is sent", function()
    local slow = eventapi.losant({ url = sb.url, token = sandbox.token, retries = true })
    local err = refusal(slow.events.patch, { applicationId = APP, filter = "Door*", updates = { state = "resolved" } })
    slow:close()
    assert_names_both("events.patch", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by a dry run too", function()
    local lines = {}
    local dry = eventapi.losant({ url = sb.url, token = sandbox.token, dry_run = function(l) lines[#lines + 1] = l end })
    local err = refusal(dry.events.patch, { applicationId = APP, filter = "Door*", updates = { state = "resolved" } })
    dry:close()
    assert_names_both("events.patch", err)
    assert.are.same({}, lines)
  end)

  it("with a blank filterField is refused too, and nothing is sent", function()
    local err = refusal(losant.events.patch, { applicationId = APP, filterField = "", filter = "Door*",
                                               updates = { state = "resolved" } })
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("filterField", err.param)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("goes through once filterField is given, and changes only the matching events", function()
    local before = losant.events.get({ applicationId = APP, perPage = 1000 }):await()
    local doors = 0
    for _, ev in ipairs(before.items) do
      if ev.subject:match("^Door") then doors = doors + 1 end
    end
    losant.events.patch({ applicationId = APP, filterField = "subject", filter = "Door*",
                          updates = { comment = "checked" } }):await()
    local after = losant.events.get({ applicationId = APP, perPage = 1000 }):await()
    local commented = 0
    for _, ev in ipairs(after.items) do
      local last = ev.updates and ev.updates[#ev.updates]
      if last and last.comment == "checked" then
        commented = commented + 1
        assert.truthy(ev.subject:match("^Door"), ev.subject)
      end
    end
    assert.is_true(doors > 0 and doors < #after.items, "the seed has door events and others")
    assert.are.equal(doors, commented)
  end)

  it("is still taken alone by events.mostRecentBySeverity, which filters on the subject", function()
    local res = losant.events.mostRecentBySeverity({ applicationId = APP, filter = "nothing*" }):await()
    assert.are.equal(0, res.newCount)
    local r = sandbox.requests(sb)
    assert.are.equal(1, #r)
    assert.truthy(r[1].query:find("filter=nothing%2A", 1, true), r[1].query)
  end)
end)
