-- The sandbox answers the Monterosa events API over JSON:API (docs/PROTOCOLS.md
-- section 3). Each describe block runs its own sandbox on the example seed:
-- one project and one manual event, EVENT, starting in 2016 and not started.
local sandbox = require "helpers.sandbox"
local cjson = require "cjson"

local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local EVENT = "18b17c20-5e84-4086-8da0-784f21622e16"
local AUTH = "Bearer sandbox-monterosa-token"
local JSONAPI = "application/vnd.api+json"

-- Starts a sandbox for the enclosing describe block and returns helpers.
local function service()
  local s = {}
  setup(function() s.sb = sandbox.start() end)
  teardown(function() s.sb.stop() end)
  -- One call under /api/v2; doc (a table) goes as a JSON:API body.
  function s.call(method, path, doc, headers)
    local h = headers or { Authorization = AUTH }
    if doc and not h["Content-Type"] then h["Content-Type"] = JSONAPI end
    return sandbox.http(method, s.sb.url .. "/api/v2" .. path, { headers = h, body = doc and cjson.encode(doc) or nil })
  end
  function s.create(attributes, project)
    return s.call("POST", "/events", { data = { type = "events", attributes = attributes,
      relationships = { project = { data = { type = "projects", id = project or PROJECT } } } } })
  end
  -- Creates an event and returns its id.
  function s.new(attributes)
    return s.create(attributes).json.data.id
  end
  function s.patch(id, attributes)
    return s.call("PATCH", "/events/" .. id, { data = { type = "events", id = id, attributes = attributes } })
  end
  function s.state(id)
    return s.call("GET", "/events/" .. id).json.data.attributes.state
  end
  -- GET of a list URL under /projects/PROJECT/events with the given query string.
  function s.list(query)
    return s.call("GET", "/projects/" .. PROJECT .. "/events?" .. query)
  end
  return s
end

-- The pointers of a 422 answer's errors, as a set.
local function pointers(res)
  local set = {}
  for _, e in ipairs(res.json.errors) do set[e.source.pointer or e.source.parameter] = e.detail end
  return set
end

describe("the Monterosa sandbox", function()
  describe("authentication and media types", function()
    local s = service()

    it("answers 401 with a JSON:API error without a token", function()
      local res = s.call("GET", "/events/" .. EVENT, nil, {})
      assert.are.equal(401, res.status)
      assert.are.equal(JSONAPI, res.headers["content-type"])
      assert.are.equal("401", res.json.errors[1].status)
      assert.are.equal("Unauthorized", res.json.errors[1].title)
    end)

    it("answers 401 for an unknown token", function()
      assert.are.equal(401, s.call("GET", "/events/" .. EVENT, nil, { Authorization = "Bearer nope" }).status)
    end)

    it("answers 415 for a body sent as application/json", function()
      local res = s.call("POST", "/events", { data = {} }, { Authorization = AUTH, ["Content-Type"] = "application/json" })
      assert.are.equal(415, res.status)
      assert.are.equal("415", res.json.errors[1].status)
    end)

    it("answers 415 for a media type that only starts like JSON:API's", function()
      local res = s.call("POST", "/events", { data = {} },
                         { Authorization = AUTH, ["Content-Type"] = JSONAPI .. "-patch" })
      assert.are.equal(415, res.status)
      assert.are.equal("415", res.json.errors[1].status)
    end)

    it("answers 400 with a JSON:API error for malformed JSON", function()
      local res = sandbox.http("POST", s.sb.url .. "/api/v2/events", { body = '{"data": {',
        headers = { Authorization = AUTH, ["Content-Type"] = JSONAPI } })
      assert.are.equal(400, res.status)
      assert.are.equal("400", res.json.errors[1].status)
    end)

    it("answers 400 for a document without a data object", function()
      assert.are.equal(400, s.call("POST", "/events", { data = "events" }).status)
    end)

    it("answers 405 with Allow for a wrong method", function()
      local res = s.call("PUT", "/events/" .. EVENT)
      assert.are.equal(405, res.status)
      assert.are.equal("GET, HEAD, PATCH, DELETE", res.headers["allow"])
    end)
  end)

  describe("create", function()
    local s = service()

    it("answers 201 with the event shaped like the documentation", function()
      local res = s.create({ name = "Live Event", duration = 3600, start_at = 1458487800, start_mode = "manual",
                             end_mode = "scheduled",
                             settings = { { key = "hold_prompt", values = { en = "Back soon" } } } })
      assert.are.equal(201, res.status)
      assert.are.equal(JSONAPI, res.headers["content-type"])
      local data = res.json.data
      assert.truthy(data.id:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"))
      assert.are.equal("events", data.type)
      local a = data.attributes
      assert.are.equal("future", a.state)
      assert.are.equal(3600, a.original_duration)
      assert.are.equal("scheduled", a.end_mode)
      assert.are.equal(false, a["repeat"])
      assert.are.equal("2016-03-20T15:30:00Z", a.start_at_iso)
      assert.are.equal(1458487800 + 3600, a.end_at)
      assert.are.equal("2016-03-20T16:30:00Z", a.end_at_iso)
      assert.are.equal("Back soon", a.settings[1].values.en)
      assert.are.equal(PROJECT, data.relationships.project.data.id)
      assert.are.same({ id = data.id, type = "stats" }, data.relationships.stats.data)
      assert.are.equal(s.sb.url .. "/api/v2/events/" .. data.id, data.links.self)
      assert.are.equal(data.links.self .. "/elements", data.relationships.elements.links.related)
    end)

    it("builds absolute links from the request's Host header", function()
      local res = sandbox.http("POST", s.sb.url .. "/api/v2/events", {
        headers = { Authorization = AUTH, ["Content-Type"] = JSONAPI, Host = "environment.example" },
        body = cjson.encode({ data = { type = "events", attributes = { name = "E", duration = 1, start_at = 0,
          start_mode = "manual" }, relationships = { project = { data = { type = "projects", id = PROJECT } } } } }) })
      assert.truthy(res.json.data.links.self:find("^http://environment%.example/api/v2/events/"))
    end)

    it("answers 422 at /data/attributes/duration for a duration of -1", function()
      local res = s.create({ name = "E", duration = -1, start_at = 1458487800, start_mode = "manual" })
      assert.are.equal(422, res.status)
      assert.are.equal(JSONAPI, res.headers["content-type"])
      assert.are.same({ pointer = "/data/attributes/duration" }, res.json.errors[1].source)
      assert.are.equal("must be greater than 0", res.json.errors[1].detail)
      assert.are.equal("422", res.json.errors[1].status)
    end)

    it("reports every invalid attribute at once", function()
      local p = pointers(s.create({ duration = 0, start_mode = "whenever", ["repeat"] = "yes", colour = "red" }))
      for _, attr in ipairs({ "name", "duration", "start_mode", "start_at", "repeat", "colour" }) do
        assert.truthy(p["/data/attributes/" .. attr], attr)
      end
    end)

    it("answers 422 at /data/attributes/settings for a setting value that is not a scalar", function()
      local res = s.create({ name = "E", duration = 1, start_at = 0, start_mode = "manual",
                             settings = { { key = "k", values = { en = { nested = "no" } } } } })
      assert.truthy(pointers(res)["/data/attributes/settings"])
    end)

    it("answers 422 for a start_at too large to be a date", function()
      local p = pointers(s.create({ name = "E", duration = 1, start_at = math.maxinteger, start_mode = "clock" }))
      assert.truthy(p["/data/attributes/start_at"])
    end)

    it("answers 422 at /data/attributes/duration for a duration that is not an integer", function()
      assert.truthy(pointers(s.create({ name = "E", duration = "1", start_at = 0, start_mode = "manual" }))
        ["/data/attributes/duration"])
    end)

    it("answers 422 at /data/relationships/project for an unknown project", function()
      local res = s.create({ name = "E", duration = 60, start_at = 0, start_mode = "manual" }, "nope")
      assert.are.equal(422, res.status)
      assert.truthy(pointers(res)["/data/relationships/project"])
    end)

    it("answers 422 at /data/type when the type is not events", function()
      local res = s.call("POST", "/events", { data = { type = "projects", attributes = { name = "E", duration = 60,
        start_at = 0, start_mode = "manual" }, relationships = { project = { data = { id = PROJECT } } } } })
      assert.truthy(pointers(res)["/data/type"])
    end)

    it("starts an event created with action start: answered future (as documented), read back current", function()
      local res = s.create({ name = "Now", duration = 60, start_at = 1458487800, start_mode = "manual", action = "start" })
      assert.are.equal("future", res.json.data.attributes.state)
      assert.are.equal("current", s.state(res.json.data.id))
    end)

    it("answers 422 at /data/attributes/action for action stop on create", function()
      local res = s.create({ name = "E", duration = 60, start_at = 0, start_mode = "manual", action = "stop" })
      assert.truthy(pointers(res)["/data/attributes/action"])
    end)
  end)

  describe("get", function()
    local s = service()

    it("answers 200 with the event", function()
      local res = s.call("GET", "/events/" .. EVENT)
      assert.are.equal(200, res.status)
      assert.are.equal("Live Event", res.json.data.attributes.name)
      assert.is_nil(res.json.included)
    end)

    it("adds the stats and the project when include asks for them", function()
      local res = s.call("GET", "/events/" .. EVENT .. "?include=stats,project")
      local types = {}
      for _, r in ipairs(res.json.included) do types[r.type] = r end
      assert.are.equal(2, #res.json.included)
      assert.are.equal(EVENT, types.stats.id)
      assert.are.equal("Sunday football", types.projects.attributes.name)
    end)

    it("answers 400 for an include it does not know", function()
      assert.are.equal(400, s.call("GET", "/events/" .. EVENT .. "?include=elements").status)
    end)

    it("answers 404 in JSON:API's shape for an unknown path under /api/v2", function()
      local res = s.call("GET", "/events/" .. EVENT .. "/elements")
      assert.are.equal(404, res.status)
      assert.are.equal(JSONAPI, res.headers["content-type"])
      assert.are.equal("404", res.json.errors[1].status)
    end)

    it("answers 413 for a body over 4 MiB in JSON:API's shape", function()
      local res = sandbox.http("POST", s.sb.url .. "/api/v2/events", { headers = { Authorization = AUTH,
        ["Content-Type"] = JSONAPI }, body = string.rep(" ", 4 * 1024 * 1024 + 1) })
      assert.are.equal(413, res.status)
      assert.are.equal("413", res.json.errors[1].status)
    end)

    it("answers 404 for an event id followed by a percent-encoded NUL", function()
      assert.are.equal(404, s.call("GET", "/events/" .. EVENT .. "%00").status)
    end)

    it("answers 404 with a JSON:API error for an unknown event", function()
      local res = s.call("GET", "/events/nope")
      assert.are.equal(404, res.status)
      assert.are.equal("404", res.json.errors[1].status)
    end)
  end)

  describe("update", function()
    local s = service()

    it("answers 204 with no body and keeps the new attributes", function()
      local res = s.patch(EVENT, { name = "Renamed", duration = 120 })
      assert.are.equal(204, res.status)
      assert.are.equal("", res.body)
      local a = s.call("GET", "/events/" .. EVENT).json.data.attributes
      assert.are.equal("Renamed", a.name)
      assert.are.equal(120, a.duration)
      assert.are.equal(3600, a.original_duration)
    end)

    it("answers 422 with a pointer for an invalid attribute and changes nothing", function()
      local id = s.new({ name = "Keep", duration = 60, start_at = 0, start_mode = "manual" })
      local res = s.patch(id, { name = "Changed", duration = -1 })
      assert.are.equal(422, res.status)
      assert.truthy(pointers(res)["/data/attributes/duration"])
      assert.are.equal("Keep", s.call("GET", "/events/" .. id).json.data.attributes.name)
    end)

    it("answers 409 when data.id is not the event of the path", function()
      assert.are.equal(409, s.call("PATCH", "/events/" .. EVENT, { data = { type = "events", id = "other", attributes = {} } }).status)
    end)

    it("answers 422 at /data/id for an update without data.id", function()
      local res = s.call("PATCH", "/events/" .. EVENT, { data = { type = "events", attributes = { name = "x" } } })
      assert.are.equal(422, res.status)
      assert.truthy(pointers(res)["/data/id"])
    end)

    it("answers 404 for an unknown event", function()
      assert.are.equal(404, s.patch("nope", { name = "x" }).status)
    end)
  end)

  describe("state machine", function()
    local s = service()
    local function manual() return s.new({ name = "M", duration = 3600, start_at = 0, start_mode = "manual" }) end

    it("keeps a manual event future after its start_at", function()
      assert.are.equal("future", s.state(manual()))
    end)

    it("makes a manual event current on action start", function()
      local id = manual()
      assert.are.equal(204, s.patch(id, { action = "start" }).status)
      assert.are.equal("current", s.state(id))
    end)

    it("makes a current event past on action stop", function()
      local id = manual()
      s.patch(id, { action = "start" })
      assert.are.equal(204, s.patch(id, { action = "stop" }).status)
      assert.are.equal("past", s.state(id))
    end)

    it("ends a stopped event at the stop: end_at is the time of action stop", function()
      local id = manual()
      s.patch(id, { action = "start" })
      local before = os.time()
      s.patch(id, { action = "stop" })
      local attrs = s.call("GET", "/events/" .. id).json.data.attributes
      assert.is_true(attrs.end_at >= before - 1 and attrs.end_at <= os.time() + 1)
      assert.are.equal(os.date("!%Y-%m-%dT%H:%M:%SZ", attrs.end_at), attrs.end_at_iso)
    end)

    it("makes a started event past once its duration has run", function()
      local id = s.new({ name = "Short", duration = 1, start_at = 0, start_mode = "manual", action = "start" })
      os.execute("sleep 1.05")
      assert.are.equal("past", s.state(id))
    end)

    it("answers 422 at /data/attributes/action when stopping a future event", function()
      local res = s.patch(manual(), { action = "stop" })
      assert.are.equal(422, res.status)
      assert.are.equal("/data/attributes/action", res.json.errors[1].source.pointer)
    end)

    it("answers 422 when stopping a finished event", function()
      local id = manual()
      s.patch(id, { action = "start" }); s.patch(id, { action = "stop" })
      assert.are.equal(422, s.patch(id, { action = "stop" }).status)
    end)

    it("answers 422 when starting an event that is already current", function()
      local id = manual()
      s.patch(id, { action = "start" })
      assert.are.equal(422, s.patch(id, { action = "start" }).status)
    end)

    it("makes a clock event current at start_at", function()
      assert.are.equal("current", s.state(s.new({ name = "C", duration = 3600, start_at = os.time() - 10, start_mode = "clock" })))
    end)

    it("keeps a clock event future before start_at", function()
      assert.are.equal("future", s.state(s.new({ name = "C", duration = 60, start_at = os.time() + 3600, start_mode = "clock" })))
    end)

    it("makes a clock event past at start_at + duration", function()
      assert.are.equal("past", s.state(s.new({ name = "C", duration = 10, start_at = os.time() - 100, start_mode = "clock" })))
    end)
  end)

  describe("delete", function()
    local s = service()

    it("answers 204, after which the event is gone", function()
      assert.are.equal(204, s.call("DELETE", "/events/" .. EVENT).status)
      assert.are.equal(404, s.call("GET", "/events/" .. EVENT).status)
    end)

    it("answers 404 for an unknown event", function()
      assert.are.equal(404, s.call("DELETE", "/events/nope").status)
    end)
  end)

  describe("list", function()
    local s = service()
    -- Nine events: EVENT (started, so current), seven future manual events
    -- E1..E7 at 1800000001..7 and one past clock event.
    setup(function()
      s.patch(EVENT, { action = "start" })
      for i = 1, 7 do s.create({ name = "E" .. i, duration = 60, start_at = 1800000000 + i, start_mode = "manual" }) end
      s.create({ name = "Old", duration = 60, start_at = 1000, start_mode = "clock" })
    end)
    local function names(res)
      local out = {}
      for i, ev in ipairs(res.json.data) do out[i] = ev.attributes.name end
      return out
    end

    it("answers 422 at the parameter filter[state] when it is missing", function()
      local res = s.call("GET", "/projects/" .. PROJECT .. "/events")
      assert.are.equal(422, res.status)
      assert.are.equal("filter[state]", res.json.errors[1].source.parameter)
    end)

    it("answers 422 at filter[state] for an unknown state", function()
      assert.truthy(pointers(s.list("filter%5Bstate%5D=future,soon"))["filter[state]"])
    end)

    it("answers 422 at sort for a sort other than start_time", function()
      assert.truthy(pointers(s.list("filter%5Bstate%5D=future&sort=name"))["sort"])
    end)

    it("answers 422 at page[count] outside 1..100", function()
      assert.truthy(pointers(s.list("filter%5Bstate%5D=future&page%5Bcount%5D=101"))["page[count]"])
      assert.truthy(pointers(s.list("filter%5Bstate%5D=future&page%5Bcount%5D=0"))["page[count]"])
    end)

    it("answers 422 at filter[only_listings] for a value other than true or false", function()
      assert.truthy(pointers(s.list("filter%5Bstate%5D=future&filter%5Bonly_listings%5D=maybe"))["filter[only_listings]"])
    end)

    it("answers 404 for an unknown project", function()
      assert.are.equal(404, s.call("GET", "/projects/nope/events?filter%5Bstate%5D=future").status)
    end)

    it("answers 400 for a cursor it did not write", function()
      assert.are.equal(400, s.list("filter%5Bstate%5D=future&page%5Bcursor%5D=garbage").status)
    end)

    it("returns only the events in the asked state", function()
      assert.are.same({ "Live Event" }, names(s.list("filter%5Bstate%5D=current")))
      assert.are.same({ "Old" }, names(s.list("filter%5Bstate%5D=past")))
    end)

    it("returns the events of every state listed comma-separated", function()
      assert.are.same({ "Old", "Live Event" }, names(s.list("filter%5Bstate%5D=past,current")))
    end)

    it("sorts by start time, earliest first, by default", function()
      assert.are.same({ "E1", "E2", "E3", "E4", "E5", "E6", "E7" }, names(s.list("filter%5Bstate%5D=future")))
    end)

    it("sorts latest first with sort=-start_time", function()
      assert.are.same({ "E7", "E6", "E5", "E4", "E3", "E2", "E1" }, names(s.list("filter%5Bstate%5D=future&sort=-start_time")))
    end)

    it("has no links.next when everything fits on the page", function()
      assert.is_nil(s.list("filter%5Bstate%5D=future").json.links.next)
    end)

    it("walks every page exactly once through links.next", function()
      local seen, order, pages = {}, {}, 0
      local url = s.sb.url .. "/api/v2/projects/" .. PROJECT .. "/events?filter%5Bstate%5D=future,current,past&page%5Bcount%5D=2"
      while url do
        local res = sandbox.http("GET", url, { headers = { Authorization = AUTH } })
        assert.are.equal(200, res.status)
        pages = pages + 1
        for _, ev in ipairs(res.json.data) do
          assert.is_nil(seen[ev.id])
          seen[ev.id] = true
          order[#order + 1] = ev.attributes.name
        end
        url = res.json.links.next
      end
      assert.are.equal(5, pages)
      assert.are.same({ "Old", "Live Event", "E1", "E2", "E3", "E4", "E5", "E6", "E7" }, order)
    end)

    it("keeps sort and filter in links.next", function()
      local res = s.list("filter%5Bstate%5D=future&sort=-start_time&page%5Bcount%5D=3")
      local second = sandbox.http("GET", res.json.links.next, { headers = { Authorization = AUTH } })
      assert.are.same({ "E4", "E3", "E2" }, names(second))
    end)

    it("includes the project once for a page of events from it", function()
      local res = s.list("filter%5Bstate%5D=future&include=project")
      assert.are.equal(1, #res.json.included)
      assert.are.equal(PROJECT, res.json.included[1].id)
    end)
  end)

  describe("seed", function()
    it("refuses an event whose attributes do not validate, naming the attribute", function()
      local seed, log = os.tmpname(), os.tmpname()
      local f = assert(io.open(seed, "w"))
      f:write([[{"monterosa":{"projects":[{"id":"p"}],"events":[{"id":"e","project_id":"p","name":"x",
        "duration":-1,"start_at":0,"start_mode":"manual"}]}}]])
      f:close()
      local ok = pcall(sandbox.start, { seed = seed, stderr = log })
      f = assert(io.open(log)); local message = f:read("a"); f:close()
      os.remove(seed); os.remove(log)
      assert.is_false(ok)
      assert.truthy(message:find("monterosa.events[0] /data/attributes/duration", 1, true))
    end)
  end)

  describe("list cursors", function()
    local s = service()

    it("neither repeats nor skips an event when an earlier one is created between pages", function()
      for i = 1, 4 do s.create({ name = "E" .. i, duration = 60, start_at = 1800000000 + i, start_mode = "manual" }) end
      local first = s.list("filter%5Bstate%5D=future&page%5Bcount%5D=2")
      s.create({ name = "Earlier", duration = 60, start_at = 1700000000, start_mode = "manual" })
      local second = sandbox.http("GET", first.json.links.next, { headers = { Authorization = AUTH } })
      local names = {}
      for _, page in ipairs({ first, second }) do
        for _, ev in ipairs(page.json.data) do names[#names + 1] = ev.attributes.name end
      end
      assert.are.same({ "Live Event", "E1", "E2", "E3" }, names)
    end)
  end)
end)
