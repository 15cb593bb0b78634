-- The sandbox answers the Monterosa events API over JSON:API (CONTRACTS.md
-- section 3).
local sandbox = require "helpers.sandbox"

local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local EVENT = "18b17c20-5e84-4086-8da0-784f21622e16"
local AUTH = "Bearer sandbox-monterosa-token"
local JSONAPI = "application/vnd.api+json"

describe("the Monterosa sandbox", function()
  local sb
  local function call(method, path, doc, headers)
    local h = headers or { Authorization = AUTH }
    if doc and not h["Content-Type"] then h["Content-Type"] = JSONAPI end
    return sandbox.http(method, sb.url .. "/api/v2" .. path, { headers = h,
      body = doc and require("cjson").encode(doc) or nil })
  end
  local function create(attributes)
    return call("POST", "/events", { data = { type = "events", attributes = attributes,
      relationships = { project = { data = { type = "projects", id = PROJECT } } } } })
  end
  local function action(id, name)
    return call("PATCH", "/events/" .. id, { data = { type = "events", id = id, attributes = { action = name } } })
  end

  before_each(function() sb = sandbox.start() end)
  after_each(function() sb.stop() end)

  it("creates an event shaped like the documentation", function()
    local res = create({ name = "Live Event", duration = 3600, start_at = 1458487800, start_mode = "manual" })
    assert.are.equal(201, res.status)
    assert.are.equal(JSONAPI, res.headers["content-type"])
    local data = res.json.data
    assert.are.equal("events", data.type)
    assert.are.equal("future", data.attributes.state)
    assert.are.equal("2016-03-20T15:30:00Z", data.attributes.start_at_iso)
    assert.are.equal(PROJECT, data.relationships.project.data.id)
    assert.are.equal(sb.url .. "/api/v2/events/" .. data.id, data.links.self)
  end)

  it("answers 422 with a pointer for a duration of -1", function()
    local res = create({ name = "E", duration = -1, start_at = 1458487800, start_mode = "manual" })
    assert.are.equal(422, res.status)
    assert.are.same({ pointer = "/data/attributes/duration" }, res.json.errors[1].source)
    assert.are.equal("must be greater than 0", res.json.errors[1].detail)
  end)

  it("reports every invalid attribute at once", function()
    local res = create({ duration = 0, start_mode = "whenever" })
    local pointers = {}
    for _, e in ipairs(res.json.errors) do pointers[e.source.pointer] = true end
    assert.is_true(pointers["/data/attributes/name"])
    assert.is_true(pointers["/data/attributes/duration"])
    assert.is_true(pointers["/data/attributes/start_mode"])
    assert.is_true(pointers["/data/attributes/start_at"])
  end)

  it("answers 415 for a body that is not JSON:API", function()
    local res = call("POST", "/events", { data = {} }, { Authorization = AUTH, ["Content-Type"] = "application/json" })
    assert.are.equal(415, res.status)
  end)

  it("answers 401 without a token", function()
    local res = call("GET", "/events/" .. EVENT, nil, {})
    assert.are.equal(401, res.status)
    assert.are.equal("401", res.json.errors[1].status)
  end)

  it("gets an event with included stats and project", function()
    local res = call("GET", "/events/" .. EVENT .. "?include=stats,project")
    assert.are.equal(EVENT, res.json.data.id)
    local types = {}
    for _, r in ipairs(res.json.included) do types[r.type] = r end
    assert.truthy(types.stats)
    assert.are.equal("Sunday football", types.projects.attributes.name)
  end)

  it("answers 404 for an unknown event", function()
    assert.are.equal(404, call("GET", "/events/nope").status)
  end)

  it("starts a manual event and then stops it", function()
    assert.are.equal(204, action(EVENT, "start").status)
    assert.are.equal("current", call("GET", "/events/" .. EVENT).json.data.attributes.state)
    assert.are.equal(204, action(EVENT, "stop").status)
    assert.are.equal("past", call("GET", "/events/" .. EVENT).json.data.attributes.state)
  end)

  it("answers 422 when stopping a future event", function()
    local res = action(EVENT, "stop")
    assert.are.equal(422, res.status)
    assert.are.equal("/data/attributes/action", res.json.errors[1].source.pointer)
  end)

  it("answers 422 when stopping a finished event", function()
    action(EVENT, "start"); action(EVENT, "stop")
    assert.are.equal(422, action(EVENT, "stop").status)
  end)

  it("starts at once an event created with action start", function()
    local res = create({ name = "Now", duration = 60, start_at = 1458487800, start_mode = "manual", action = "start" })
    assert.are.equal("current", res.json.data.attributes.state)
  end)

  it("makes a clock event current at start_at", function()
    local res = create({ name = "Clock", duration = 3600, start_at = os.time() - 10, start_mode = "clock" })
    assert.are.equal("current", res.json.data.attributes.state)
  end)

  it("updates attributes with 204", function()
    local res = call("PATCH", "/events/" .. EVENT, { data = { type = "events", id = EVENT, attributes = { name = "Renamed" } } })
    assert.are.equal(204, res.status)
    assert.are.equal("Renamed", call("GET", "/events/" .. EVENT).json.data.attributes.name)
  end)

  it("answers 409 when data.id is not the event of the path", function()
    local res = call("PATCH", "/events/" .. EVENT, { data = { type = "events", id = "other", attributes = {} } })
    assert.are.equal(409, res.status)
  end)

  it("deletes with 204", function()
    assert.are.equal(204, call("DELETE", "/events/" .. EVENT).status)
    assert.are.equal(404, call("GET", "/events/" .. EVENT).status)
  end)

  it("requires filter[state] on list", function()
    local res = call("GET", "/projects/" .. PROJECT .. "/events")
    assert.are.equal(422, res.status)
    assert.are.equal("filter[state]", res.json.errors[1].source.parameter)
  end)

  it("answers 404 listing an unknown project", function()
    assert.are.equal(404, call("GET", "/projects/nope/events?filter%5Bstate%5D=future").status)
  end)

  it("walks every page of a list exactly once through links.next", function()
    for i = 1, 7 do create({ name = "E" .. i, duration = 60, start_at = 1800000000 + i, start_mode = "manual" }) end
    local seen, n, pages = {}, 0, 0
    local url = sb.url .. "/api/v2/projects/" .. PROJECT .. "/events?filter%5Bstate%5D=future&page%5Bcount%5D=3"
    while url do
      local res = sandbox.http("GET", url, { headers = { Authorization = AUTH } })
      pages = pages + 1
      for _, ev in ipairs(res.json.data) do
        assert.is_nil(seen[ev.id]); seen[ev.id] = true; n = n + 1
      end
      url = res.json.links.next
    end
    assert.are.equal(8, n)
    assert.are.equal(3, pages)
  end)

  it("sorts by -start_time", function()
    create({ name = "Later", duration = 60, start_at = 1900000000, start_mode = "manual" })
    local res = call("GET", "/projects/" .. PROJECT .. "/events?filter%5Bstate%5D=future&sort=-start_time")
    assert.are.equal("Later", res.json.data[1].attributes.name)
  end)

  it("filters by state", function()
    action(EVENT, "start")
    create({ name = "Future", duration = 60, start_at = 1900000000, start_mode = "manual" })
    local res = call("GET", "/projects/" .. PROJECT .. "/events?filter%5Bstate%5D=current")
    assert.are.equal(1, #res.json.data)
    assert.are.equal(EVENT, res.json.data[1].id)
  end)

  it("rejects an unknown sort", function()
    assert.are.equal(422, call("GET", "/projects/" .. PROJECT .. "/events?filter%5Bstate%5D=future&sort=name").status)
  end)
end)
