-- The Monterosa client over real HTTP against the sandbox: the JSON:API
-- documents it sends (read back from the sandbox's record), the plain
-- tables it returns, cursor pages and the 422 error objects.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local cjson = require "cjson"

local TOKEN = "sandbox-monterosa-token"
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local SEEDED = "18b17c20-5e84-4086-8da0-784f21622e16"
local JSONAPI = "application/vnd.api+json"

describe("the Monterosa client", function()
  local sb, mr

  local function last_request()
    local record = sandbox.requests(sb)
    return record[#record]
  end

  local fail = sandbox.rejection

  local function create(attributes)
    local params = { project_id = PROJECT, name = "Match", duration = 3600, start_at = 1796153400,
                     start_mode = "manual" }
    for k, v in pairs(attributes or {}) do params[k] = v end
    return mr.events.create(params):await()
  end

  before_each(function()
    sb = sandbox.start({ faults = true })
    mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = TOKEN })
  end)
  after_each(function()
    mr:close()
    sb.stop()
  end)

  describe("on the wire", function()
    it("create posts a JSON:API document with the project relationship", function()
      create({ end_mode = "duration", ["repeat"] = false, settings = { { key = "k", values = { en = "v" } } } })
      local r = last_request()
      assert.are.equal("POST", r.method)
      assert.are.equal("/api/v2/events", r.path)
      assert.are.equal(JSONAPI, r.headers["content-type"])
      assert.are.equal(JSONAPI, r.headers.accept)
      assert.are.equal("Bearer " .. TOKEN, r.headers.authorization)
      assert.are.same({ data = { type = "events",
        attributes = { name = "Match", duration = 3600, start_at = 1796153400, start_mode = "manual",
                       end_mode = "duration", ["repeat"] = false, settings = { { key = "k", values = { en = "v" } } } },
        relationships = { project = { data = { type = "projects", id = PROJECT } } } } }, cjson.decode(r.body))
    end)

    it("get sends GET /events/{event_id} with include", function()
      mr.events.get({ event_id = SEEDED, include = { "stats", "project" } }):await()
      local r = last_request()
      assert.are.equal("GET", r.method)
      assert.are.equal("/api/v2/events/" .. SEEDED, r.path)
      assert.are.equal("include=stats%2Cproject", r.query)
      assert.are.equal("", r.body)
    end)

    it("list sends the JSON:API query parameters under their wire names", function()
      mr.events.list({ project_id = PROJECT, state = "future,current", only_listings = true, include = "stats",
                       count = 10, sort = "-start_time" }):await()
      local r = last_request()
      assert.are.equal("/api/v2/projects/" .. PROJECT .. "/events", r.path)
      assert.are.equal("filter%5Bstate%5D=future%2Ccurrent&filter%5Bonly_listings%5D=true&include=stats"
                       .. "&page%5Bcount%5D=10&sort=-start_time", r.query)
    end)

    it("update patches a document carrying the event id and only the given attributes", function()
      local live = create()
      mr.events.update({ event_id = live.id, name = "Renamed", action = "start" }):await()
      local r = last_request()
      assert.are.equal("PATCH", r.method)
      assert.are.equal("/api/v2/events/" .. live.id, r.path)
      assert.are.equal(JSONAPI, r.headers["content-type"])
      assert.are.same({ data = { type = "events", id = live.id, attributes = { name = "Renamed", action = "start" } } },
                      cjson.decode(r.body))
    end)

    it("delete sends DELETE /events/{event_id}", function()
      local live = create()
      mr.events.delete({ event_id = live.id }):await()
      local r = last_request()
      assert.are.equal("DELETE", r.method)
      assert.are.equal("/api/v2/events/" .. live.id, r.path)
    end)

    it("converts an ISO 8601 UTC start_at to a Unix time", function()
      create({ start_at = "2026-12-01T19:30:00Z" })
      assert.are.equal(1796153400, cjson.decode(last_request().body).data.attributes.start_at)
      create({ start_at = "1970-01-01T00:00:00.000+00:00" })
      assert.are.equal(0, cjson.decode(last_request().body).data.attributes.start_at)
    end)

    it("keeps an event id inside its path segment", function()
      local err = fail(mr.events.get({ event_id = "../projects/x?y#z" }))
      assert.are.equal("NotFound", err.type)
      assert.are.equal("/api/v2/events/..%2Fprojects%2Fx%3Fy%23z", last_request().path)
    end)
  end)

  describe("results", function()
    it("create returns the event as a plain table with project_id and the raw document", function()
      local live = create()
      assert.are.equal(36, #live.id)
      assert.are.equal("events", live.type)
      assert.are.equal("Match", live.name)
      assert.are.equal("future", live.state)
      assert.are.equal("2026-12-01T19:30:00Z", live.start_at_iso)
      assert.are.equal(PROJECT, live.project_id)
      assert.are.equal(live.id, live.document.data.id)
      assert.are.equal("Match", live.document.data.attributes.name)
    end)

    it("get with include returns the included resources as plain tables", function()
      local ev = mr.events.get({ event_id = SEEDED, include = "stats,project" }):await()
      assert.are.equal("Live Event", ev.name)
      local by_type = {}
      for _, r in ipairs(ev.included) do by_type[r.type] = r end
      assert.are.equal(0, by_type.stats.votes)
      assert.are.equal("Sunday football", by_type.projects.name)
    end)

    it("update resolves with true (204) and starting makes the event current", function()
      local live = create()
      assert.is_true(mr.events.update({ event_id = live.id, action = "start" }):await())
      assert.are.equal("current", mr.events.get({ event_id = live.id }):await().state)
    end)

    it("stopping a current event makes it past", function()
      local live = create({ action = "start" }) -- (answered as future, as documented; current when read)
      assert.are.equal("current", mr.events.get({ event_id = live.id }):await().state)
      mr.events.update({ event_id = live.id, action = "stop" }):await()
      assert.are.equal("past", mr.events.get({ event_id = live.id }):await().state)
    end)

    it("delete resolves with true and the event is gone", function()
      local live = create()
      assert.is_true(mr.events.delete({ event_id = live.id }):await())
      assert.are.equal("NotFound", fail(mr.events.get({ event_id = live.id })).type)
    end)

    it("list returns items, the next link and its cursor", function()
      create(); create()
      local page = mr.events.list({ project_id = PROJECT, state = { "future" }, count = 2 }):await()
      assert.are.equal(2, #page.items)
      assert.are.equal(PROJECT, page.items[1].project_id)
      assert.truthy(page.next:find("page%5Bcursor%5D=", 1, true))
      assert.is_string(page.next_cursor)
      assert.is_nil(page.next_cursor:find("%", 1, true))
    end)

    it("list walks every event exactly once by cursor", function()
      local made = { [SEEDED] = 0 }
      for i = 1, 6 do made[create({ start_at = 1796153400 + i }).id] = 0 end
      local cursor, pages = nil, 0
      repeat
        local page = mr.events.list({ project_id = PROJECT, state = "future", count = 3, cursor = cursor }):await()
        for _, ev in ipairs(page.items) do made[ev.id] = made[ev.id] + 1 end
        cursor, pages = page.next_cursor, pages + 1
      until cursor == nil
      for id, seen in pairs(made) do assert.are.equal(1, seen, id) end
      assert.are.equal(3, pages)
    end)

    it("an empty list has no items and no cursor", function()
      local page = mr.events.list({ project_id = PROJECT, state = "on_demand" }):await()
      assert.are.equal(0, #page.items)
      assert.is_nil(page.next_cursor)
      assert.are.equal("[]", eventapi.json.encode(page.items))
    end)

    it("callbacks get (nil, event)", function()
      local got
      mr.events.get({ event_id = SEEDED }, function(err, ev) got = { err, ev } end)
      eventapi.run()
      assert.is_nil(got[1])
      assert.are.equal(SEEDED, got[2].id)
    end)
  end)

  describe("errors", function()
    it("turn 422 into Unprocessable with a field, pointer and detail per error", function()
      local err = fail(mr.events.create({ project_id = PROJECT, name = "x", duration = -1, start_at = 0,
                                          start_mode = "manual" }))
      assert.are.equal(422, err.status)
      assert.are.equal("Unprocessable", err.type)
      assert.are.same({ { field = "duration", pointer = "/data/attributes/duration", detail = "must be greater than 0",
                          status = "422" } }, err.errors)
    end)

    it("name each failing field in tostring", function()
      local err = fail(mr.events.create({ project_id = PROJECT, duration = 0, start_mode = "later" }))
      local line = tostring(err)
      for _, field in ipairs({ "name", "duration", "start_at", "start_mode" }) do
        assert.truthy(line:find(field .. " ", 1, true), field)
      end
      assert.truthy(line:find("^Unprocessable %(422%): "))
    end)

    it("name an unknown project as project_id", function()
      local err = fail(mr.events.create({ project_id = "00000000-0000-4000-8000-000000000000", name = "x",
                                          duration = 1, start_at = 0, start_mode = "manual" }))
      assert.are.equal("project_id", err.errors[1].field)
      assert.are.equal("/data/relationships/project", err.errors[1].pointer)
    end)

    it("name a bad list parameter by the param the caller used", function()
      local err = fail(mr.events.list({ project_id = PROJECT, state = "soon" }))
      assert.are.equal("Unprocessable", err.type)
      assert.are.equal("state", err.errors[1].field)
      assert.are.equal("filter[state]", err.errors[1].parameter)
    end)

    it("turn stopping a finished event into Unprocessable on action", function()
      local live = create({ action = "start" })
      mr.events.update({ event_id = live.id, action = "stop" }):await()
      local err = fail(mr.events.update({ event_id = live.id, action = "stop" }))
      assert.are.equal("Unprocessable", err.type)
      assert.are.equal("action", err.errors[1].field)
    end)

    it("turn 404 into NotFound with the server's detail", function()
      local err = fail(mr.events.get({ event_id = "00000000-0000-4000-8000-000000000000" }))
      assert.are.equal(404, err.status)
      assert.are.equal("NotFound", err.type)
      assert.are.equal("Event not found", err.message)
      assert.are.equal("NotFound", fail(mr.events.list({ project_id = "nope", state = "future" })).type)
    end)

    it("turn an unknown token into Unauthorized without the token in the error", function()
      local c = eventapi.monterosa({ url = sb.url .. "/api/v2", token = "wrong-secret-token" })
      local err = fail(c.events.get({ event_id = SEEDED }))
      assert.are.equal("Unauthorized", err.type)
      assert.is_nil(tostring(err):find("wrong-secret-token", 1, true))
      c:close()
    end)

    it("refuse an unknown attribute before any traffic", function()
      local err = fail(mr.events.create({ project_id = PROJECT, nmae = "x" }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("nmae", 1, true))
      assert.are.equal(0, #sandbox.requests(sb))
    end)

    it("require project_id on create and state on list", function()
      assert.truthy(fail(mr.events.create({ name = "x" })).message:find("project_id", 1, true))
      assert.truthy(fail(mr.events.list({ project_id = PROJECT })).message:find("state", 1, true))
      assert.are.equal(0, #sandbox.requests(sb))
    end)

    local bad_times = { "2026-12-01T19:30:00+01:00", "2026-02-30T00:00:00Z", "2026-12-01T24:00:00Z",
                        "2026-12-01T19:60:00Z", "2026-12-31T23:59:60Z", "2026-12-01 19:30:00Z",
                        "2026-12-01T19:30:00.5Z", "tomorrow", 1.5, true }
    for _, v in ipairs(bad_times) do
      it("refuse the start_at " .. tostring(v) .. " before any traffic", function()
        local err = fail(mr.events.create({ project_id = PROJECT, name = "x", duration = 1, start_at = v,
                                            start_mode = "manual" }))
        assert.are.equal("InvalidParams", err.type)
        assert.truthy(err.message:find("start_at", 1, true))
        assert.are.equal(0, #sandbox.requests(sb))
      end)
    end

    it("refuse a duration that is not an integer before any traffic", function()
      local err = fail(mr.events.update({ event_id = SEEDED, duration = "1h" }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("duration must be an integer", 1, true))
    end)

    it("require the url option", function()
      local ok, err = pcall(eventapi.monterosa, { token = TOKEN })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("url", 1, true))
    end)

    it("leave the client working after a failure", function()
      fail(mr.events.get({ event_id = "nope" }))
      assert.are.equal("Live Event", mr.events.get({ event_id = SEEDED }):await().name)
    end)
  end)

  describe("unix_time", function()
    it("converts ISO 8601 UTC strings at the edges", function()
      assert.are.equal(0, eventapi.monterosa.unix_time("1970-01-01T00:00:00Z"))
      assert.are.equal(-62135596800, eventapi.monterosa.unix_time("0001-01-01T00:00:00Z"))
      assert.are.equal(253402300799, eventapi.monterosa.unix_time("9999-12-31T23:59:59Z"))
      assert.are.equal(951782400, eventapi.monterosa.unix_time("2000-02-29T00:00:00Z"))
      assert.are.equal(1458487800, eventapi.monterosa.unix_time(1458487800))
    end)
  end)
end)
