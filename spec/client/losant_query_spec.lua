-- Losant's query overrides other params: Losant documents that a `query`
-- "overrides the filterField, filter, and state parameters" (events.get,
-- events.patch; filter on events.mostRecentBySeverity), so a call giving
-- both would silently drop what the caller asked for (a triage run meant
-- for `new` events would re-open resolved ones). The rows declare it
-- (`overridden_by = "query"`), the core refuses such a call before any
-- traffic. Over real HTTP against the sandbox.
local eventapi = require "eventapi"
local core = require "eventapi.core"
local losant_service = require("eventapi.services").of("losant")
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local QUERY = { level = "critical" }

describe("a Losant call with query and a param the query overrides", function()
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

  --- Asserts err is the InvalidParams of op naming param as overridden by query.
  local function assert_overridden(op, param, err)
    assert.is_true(eventapi.Error.is(err), "not an eventapi.Error: " .. tostring(err))
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal(param, err.param)
    assert.are.equal(("%s: query overrides %s: put %s inside the query"):format(op, param, param), err.message)
  end

  it("is refused by events.get with state, naming state, and nothing is sent", function()
    local err = refusal(losant.events.get, { applicationId = APP, state = "new", query = QUERY })
    assert_overridden("events.get", "state", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by events.get with filterField and filter, and nothing is sent", function()
    local err = refusal(losant.events.get, { applicationId = APP, filterField = "subject", filter = "Door*",
                                             query = QUERY })
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("^events%.get: query overrides filter"), err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by events.patch with state, and no event changes", function()
    local err = refusal(losant.events.patch, { applicationId = APP, state = "new", query = QUERY,
                                               updates = { state = "acknowledged" } })
    assert_overridden("events.patch", "state", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by events.patch with filterField alone, naming filterField", function()
    local err = refusal(losant.events.patch, { applicationId = APP, filterField = "subject", query = QUERY,
                                               updates = { state = "acknowledged" } })
    assert_overridden("events.patch", "filterField", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by events.patch with filter, as query overriding filter before filter needing filterField", function()
    local err = refusal(losant.events.patch, { applicationId = APP, filter = "Door*", query = QUERY,
                                               updates = { state = "acknowledged" } })
    assert_overridden("events.patch", "filter", err)
  end)

  it("is refused by events.mostRecentBySeverity with filter, and nothing is sent", function()
    local err = refusal(losant.events.mostRecentBySeverity, { applicationId = APP, filter = "Door*", query = QUERY })
    assert_overridden("events.mostRecentBySeverity", "filter", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by a walk of every page (events.all), and nothing is sent", function()
    local err = refusal(function()
      return losant.events.all({ applicationId = APP, state = "new", query = QUERY }):await()
    end)
    assert_overridden("events.get", "state", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused by a client whose calls take the Lua path (retries), and nothing is sent", function()
    local slow = eventapi.losant({ url = sb.url, token = sandbox.token, retries = true })
    local err = refusal(slow.events.get, { applicationId = APP, state = "new", query = QUERY })
    slow:close()
    assert_overridden("events.get", "state", err)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("is refused when query is JSON text too", function()
    local err = refusal(losant.events.get, { applicationId = APP, state = "new", query = '{"level":"critical"}' })
    assert_overridden("events.get", "state", err)
  end)

  it("still reports a wrong value of the param first", function()
    local err = refusal(losant.events.get, { applicationId = APP, state = "open", query = QUERY })
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("state", err.param)
    assert.falsy(err.message:find("overrides", 1, true), err.message)
  end)

  it("goes out when the state is put inside the query, and lists only the new critical events", function()
    local page = losant.events.get({ applicationId = APP, query = { level = "critical", state = "new" } }):await()
    local states = {}
    for _, ev in ipairs(page.items) do states[ev.state] = (states[ev.state] or 0) + 1 end
    assert.are.same({ new = 3 }, states) -- the seed's resolved critical event is not among them
  end)

  it("goes out with state alone, without query", function()
    local page = losant.events.get({ applicationId = APP, state = "resolved" }):await()
    assert.are.equal(1, #page.items)
  end)
end)

describe("the Losant rows", function()
  it("declare query as overriding exactly the params Losant documents it overrides", function()
    local found = {}
    for _, op in ipairs(losant_service.operations) do
      for _, p in ipairs(op.params) do
        if p.overridden_by then
          assert.are.equal("query", p.overridden_by)
          found[#found + 1] = op.name .. " " .. p.name
        end
      end
    end
    table.sort(found)
    local events = {}
    for _, f in ipairs(found) do if f:match("^events%.") then events[#events + 1] = f end end
    assert.are.equal(24, #found) -- across the API, each as the definitions say
    assert.are.same({ "events.get filter", "events.get filterField", "events.get state",
                      "events.mostRecentBySeverity filter", "events.patch filter", "events.patch filterField",
                      "events.patch state" }, events)
  end)
end)

describe("a row's overridden_by, compiled by the core", function()
  --- A prepared row of a call whose `b` is overridden by `a`.
  local function row(overridden_by)
    return { name = "thing.get", method = "GET", path = "/things",
             params = { { name = "a", place = "query", kind = "string" },
                        { name = "b", place = "query", kind = "string", overridden_by = overridden_by } } }
  end

  it("refuses any operation's call giving both params, naming the overridden one", function()
    local spec = core.operation(row("a"), row("a").params)
    local ok, err = pcall(core.build, spec, "http://h", { a = "1", b = "2" })
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("b", err.param)
    assert.are.equal("thing.get: a overrides b: put b inside the a", err.message)
  end)

  it("lets either param go out alone", function()
    local spec = core.operation(row("a"), row("a").params)
    assert.are.equal("http://h/things?a=1", (core.build(spec, "http://h", { a = "1" })))
    assert.are.equal("http://h/things?b=2", (core.build(spec, "http://h", { b = "2" })))
  end)

  it("must name a param of the row", function()
    local ok, err = pcall(core.operation, row("c"), row("c").params)
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("operation thing.get: b overridden_by 'c', which it does not declare", err.message)
  end)
end)
