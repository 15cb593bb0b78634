-- The sandbox answers the Connect Daily event CRUD API (docs/PROTOCOLS.md
-- section 2) under any context path. Each describe block runs its own
-- sandbox on the example seed: event 42 is a weekly series on Tuesdays
-- (2026-12-01 .. 2027-06-29) in calendar 3, event 43 a one-time event in
-- calendar 4; user "api" writes both calendars, "viewer" reads calendar 3,
-- the bearer token writes calendar 3 and reads calendar 4.
local sandbox = require "helpers.sandbox"

local b64 = sandbox.base64

local API = { Authorization = "Basic " .. b64("api:sandbox-password") }
local VIEWER = { Authorization = "Basic " .. b64("viewer:viewer-password") }
local TOKEN = { Authorization = "Bearer sandbox-calendar-token" }

-- JDNs of the dates the specs use.
local DEC_1, DEC_8, DEC_15 = 2461376, 2461383, 2461390

-- Starts a sandbox for the enclosing describe block; returns an object
-- whose call(method, path, opts) talks to <url>/calendar/restapi/v1/events.
local function service(seed)
  local s = {}
  setup(function()
    s.sb = sandbox.start(seed and { seed = seed } or nil)
    s.base = s.sb.url .. "/calendar/restapi/v1/events"
  end)
  teardown(function() s.sb.stop() end)
  function s.call(method, path, opts)
    opts = opts or {}
    return sandbox.http(method, s.base .. path, { headers = opts.headers or API, json = opts.json, body = opts.body })
  end
  -- The event as GET returns it, ready to PUT back (cjson reads [] as {},
  -- which would go back as an object: an empty exceptions list is dropped).
  function s.event(path, headers)
    local ev = s.call("GET", path, { headers = headers }).json
    if next(ev.exceptions) == nil then ev.exceptions = nil end
    return ev
  end
  -- Creates an event and returns its answer.
  function s.create(ev, headers)
    return s.call("POST", "", { json = ev, headers = headers })
  end
  return s
end

describe("the Connect Daily sandbox", function()
  describe("authentication", function()
    local s = service()

    it("answers 401 with a Basic challenge and error 1 without credentials", function()
      local res = sandbox.http("GET", s.base .. "/42")
      assert.are.equal(401, res.status)
      assert.are.equal('Basic realm="connectDaily"', res.headers["www-authenticate"])
      assert.are.same({ error = 1, message = "Authentication required" }, res.json)
    end)

    it("answers 401 for a wrong password", function()
      assert.are.equal(401, s.call("GET", "/42", { headers = { Authorization = "Basic " .. b64("api:wrong") } }).status)
    end)

    it("answers 401 for Basic credentials that carry a NUL byte after the password", function()
      local res = s.call("GET", "/42", { headers = { Authorization = "Basic " .. b64("api:sandbox-password\0x") } })
      assert.are.equal(401, res.status)
    end)

    it("answers 401 for an unknown bearer token", function()
      assert.are.equal(401, s.call("GET", "/42", { headers = { Authorization = "Bearer nope" } }).status)
    end)

    it("accepts a seeded bearer token", function()
      assert.are.equal(200, s.call("GET", "/42", { headers = TOKEN }).status)
    end)

    it("answers 405 with Allow for a GET of the collection", function()
      local res = s.call("GET", "")
      assert.are.equal(405, res.status)
      assert.are.equal("POST", res.headers["allow"])
    end)
  end)

  describe("get", function()
    local s = service()

    it("answers 200 with the event, its dates as Julian Day Numbers", function()
      local res = s.call("GET", "/42")
      assert.are.equal(200, res.status)
      assert.are.equal("Weekly board meeting", res.json.description)
      assert.are.equal(DEC_1, res.json.starting_date)
      assert.are.equal(2461586, res.json.ending_date) -- 2027-06-29
      assert.are.equal("09:00", res.json.starting_time)
      assert.are.equal(1, res.json.rec_type)
      assert.are.equal(1, res.json.version)
    end)

    it("finds an event by itemguid", function()
      local res = s.call("GET", "/itemguid=9f1c2d3e-0000-4000-8000-000000000042")
      assert.are.equal(42, res.json.cal_item_id)
    end)

    it("finds an event by a percent-encoded itemguid segment", function()
      local res = s.call("GET", "/itemguid%3D9f1c2d3e%2D0000-4000-8000-000000000042")
      assert.are.equal(42, res.json.cal_item_id)
    end)

    it("answers under any context path", function()
      assert.are.equal(200, sandbox.http("GET", s.sb.url .. "/a/b/restapi/v1/events/42", { headers = API }).status)
      assert.are.equal(200, sandbox.http("GET", s.sb.url .. "/restapi/v1/events/42", { headers = API }).status)
    end)

    it("answers 404 for an unknown cal_item_id or itemguid", function()
      assert.are.equal(404, s.call("GET", "/999").status)
      assert.are.equal(404, s.call("GET", "/itemguid=nope").status)
    end)

    it("answers 404 for ids that are not plain positive integers", function()
      for _, id in ipairs({ "+42", "42abc", "0", "-42", "99999999999999999999999" }) do
        assert.are.equal(404, s.call("GET", "/" .. id).status, id)
      end
    end)

    it("answers 404 for a cal_item_id followed by a percent-encoded NUL (not event 42)", function()
      assert.are.equal(404, s.call("GET", "/42%00abc").status)
    end)

    it("answers 404 for an itemguid followed by a percent-encoded NUL", function()
      assert.are.equal(404, s.call("GET", "/itemguid=9f1c2d3e-0000-4000-8000-000000000042%00").status)
    end)

    it("answers 404 in its own error shape for an unknown path under restapi/v1", function()
      local res = sandbox.http("GET", s.sb.url .. "/calendar/restapi/v1/calendars", { headers = API })
      assert.are.equal(404, res.status)
      assert.are.equal(1, res.json.error)
      assert.truthy(res.json.message)
    end)

    it("answers 413 for a body over 4 MiB in its own shape", function()
      local res = s.call("PUT", "/42", { body = string.rep(" ", 4 * 1024 * 1024 + 1) })
      assert.are.equal(413, res.status)
      assert.are.equal(1, res.json.error)
    end)

    it("answers a HEAD of an event with the status of its GET", function()
      local p = assert(io.popen("curl -s -I --max-time 5 -H " .. sandbox.shell_quote("Authorization: " .. API.Authorization)
        .. " " .. sandbox.shell_quote(s.base .. "/42")))
      local text = p:read("a")
      p:close()
      assert.truthy(text:match("^HTTP/%S+ 200"), text)
    end)

    it("answers 403 when the caller may not read the calendar", function()
      local res = s.call("GET", "/43", { headers = VIEWER })
      assert.are.equal(403, res.status)
      assert.are.equal(1, res.json.error)
    end)
  end)

  describe("create", function()
    local s = service()

    it("answers 201 with the event, turning yyyy-mm-dd dates into Julian Day Numbers", function()
      local res = s.create({ calendar_id = 3, description = "Board meeting", starting_date = "2026-12-01", rec_type = 3 })
      assert.are.equal(201, res.status)
      assert.are.equal(DEC_1, res.json.starting_date)
      assert.are.equal(DEC_1, res.json.ending_date)
      assert.are.equal(1, res.json.version)
      assert.is_string(res.json.itemguid)
      assert.are.same(res.json, s.call("GET", "/" .. math.tointeger(res.json.cal_item_id)).json)
    end)

    it("accepts a Julian Day Number sent as a string of digits", function()
      local res = s.create({ calendar_id = 3, description = "JDN text", starting_date = "2461380" })
      assert.are.equal(201, res.status)
      assert.are.equal(2461380, res.json.starting_date)
    end)

    it("accepts Julian Day Numbers and date strings mixed in the exceptions list", function()
      local res = s.create({ calendar_id = 3, description = "Standup", starting_date = DEC_1, ending_date = "2027-01-31",
                             rec_type = 1, exceptions = { "2026-12-08", DEC_15 } })
      assert.are.equal(201, res.status)
      assert.are.same({ DEC_8, DEC_15 }, res.json.exceptions)
    end)

    it("answers 500 with error 1 for a date that does not exist", function()
      local res = s.create({ calendar_id = 3, description = "x", starting_date = "2026-02-30" })
      assert.are.equal(500, res.status)
      assert.are.equal(1, res.json.error)
      assert.truthy(res.json.message:find("starting_date", 1, true))
    end)

    it("answers 500 with error 1 for a Julian Day Number outside years 1..9999", function()
      local res = s.create({ calendar_id = 3, description = "x", starting_date = 5373485 })
      assert.are.equal(500, res.status)
      assert.are.equal(1, res.json.error)
    end)

    it("answers 500 with error 1 for a calendar that does not exist", function()
      local res = s.create({ calendar_id = 99, description = "x", starting_date = DEC_1 })
      assert.are.equal(500, res.status)
      assert.truthy(res.json.message:find("calendar_id", 1, true))
    end)

    it("answers 500 with error 1 for a body that is not JSON", function()
      local res = s.call("POST", "", { body = "{nope" })
      assert.are.equal(500, res.status)
      assert.are.equal(1, res.json.error)
    end)

    it("answers 403 on a calendar the token may only read", function()
      local res = s.create({ calendar_id = 4, description = "x", starting_date = DEC_1 }, TOKEN)
      assert.are.equal(403, res.status)
    end)

    it("never hands out the cal_item_id of a deleted event again", function()
      local first = s.create({ calendar_id = 3, description = "x", starting_date = DEC_1 }).json.cal_item_id
      s.call("DELETE", "/" .. math.tointeger(first))
      local second = s.create({ calendar_id = 3, description = "y", starting_date = DEC_1 }).json.cal_item_id
      assert.is_true(second > first)
    end)
  end)

  describe("update", function()
    local s = service()

    it("answers 200 with what a GET then returns, the version bumped", function()
      local ev = s.event("/42")
      ev.description = "Renamed"
      local res = s.call("PUT", "/42", { json = ev })
      assert.are.equal(200, res.status)
      assert.are.equal("Renamed", res.json.description)
      assert.are.equal(ev.version + 1, res.json.version)
      assert.are.same(res.json, s.call("GET", "/42").json)
    end)

    it("updates an event addressed by itemguid", function()
      local ev = s.event("/43")
      ev.long_description = "Meet at the car park"
      local res = s.call("PUT", "/itemguid=9f1c2d3e-0000-4000-8000-000000000043", { json = ev })
      assert.are.equal("Meet at the car park", res.json.long_description)
    end)

    it("answers 409 for a PUT carrying an older version", function()
      local ev = s.event("/42")
      s.call("PUT", "/42", { json = ev })
      local res = s.call("PUT", "/42", { json = ev })
      assert.are.equal(409, res.status)
      assert.are.equal(1, res.json.error)
      assert.truthy(res.json.message:find("changed by someone else", 1, true))
    end)

    it("answers 409 for a stale version sent as the string \"1\"", function()
      local ev = s.event("/42")
      ev.description = "first"
      assert.are.equal(200, s.call("PUT", "/42", { json = ev }).status)
      ev.version = "1"
      ev.description = "second"
      local res = s.call("PUT", "/42", { json = ev })
      assert.are.equal(409, res.status)
      assert.are.equal(1, res.json.error)
    end)

    it("answers 200 with error 1 naming the field of an invalid update", function()
      local ev = s.event("/42")
      ev.starting_time = "25:99"
      local res = s.call("PUT", "/42", { json = ev })
      assert.are.equal(200, res.status)
      assert.are.equal(1, res.json.error)
      assert.truthy(res.json.message:find("starting_time", 1, true))
    end)

    it("leaves the event as it was after an invalid update", function()
      local ev = s.event("/42")
      ev.description = ""
      s.call("PUT", "/42", { json = ev })
      assert.are.equal(ev.version, s.call("GET", "/42").json.version)
    end)

    it("answers 403 when a reader updates", function()
      assert.are.equal(403, s.call("PUT", "/42", { headers = VIEWER, json = s.event("/42", VIEWER) }).status)
    end)

    it("answers 403 when the update moves the event to a calendar the caller may only read", function()
      local ev = s.event("/42", TOKEN)
      ev.calendar_id = 4
      assert.are.equal(403, s.call("PUT", "/42", { headers = TOKEN, json = ev }).status)
    end)

    it("answers 404 for an unknown event", function()
      assert.are.equal(404, s.call("PUT", "/999", { json = s.event("/42") }).status)
    end)
  end)

  describe("fork", function()
    local s = service()

    it("answers 201 with error 0 and the cal_item_id of a one-time copy on that date", function()
      local res = s.call("POST", "/42?fork=1&starting_date=2026-12-08")
      assert.are.equal(201, res.status)
      assert.are.equal(0, res.json.error)
      local copy = s.call("GET", "/" .. math.tointeger(res.json.cal_item_id)).json
      assert.are.equal(3, copy.rec_type)
      assert.are.equal(DEC_8, copy.starting_date)
      assert.are.equal(DEC_8, copy.ending_date)
      assert.are.equal("Weekly board meeting", copy.description)
      assert.are_not.equal("9f1c2d3e-0000-4000-8000-000000000042", copy.itemguid)
    end)

    it("adds the forked date to the series' exceptions", function()
      s.call("POST", "/42?fork=1&starting_date=2026-12-22")
      local exceptions = s.call("GET", "/42").json.exceptions
      assert.are.equal(2461397, exceptions[#exceptions])
    end)

    it("accepts the fork params form-encoded in the body", function()
      local res = sandbox.http("POST", s.base .. "/itemguid=9f1c2d3e-0000-4000-8000-000000000042", {
        headers = { Authorization = API.Authorization, ["Content-Type"] = "application/x-www-form-urlencoded" },
        body = "fork=1&starting_date=2026%2D12%2D15" })
      assert.are.equal(201, res.status)
    end)

    it("answers 400 for a form-encoded starting_date followed by a percent-encoded NUL", function()
      local res = sandbox.http("POST", s.base .. "/42", {
        headers = { Authorization = API.Authorization, ["Content-Type"] = "application/x-www-form-urlencoded" },
        body = "fork=1&starting_date=2026-12-22%00junk" })
      assert.are.equal(400, res.status)
    end)

    it("answers 400 with error 1 on a day a weekly series misses", function()
      local res = s.call("POST", "/42?fork=1&starting_date=2026-12-09")
      assert.are.equal(400, res.status)
      assert.are.equal(1, res.json.error)
    end)

    it("answers 400 on the series' weekday after its ending date", function()
      assert.are.equal(400, s.call("POST", "/42?fork=1&starting_date=2027-07-06").status)
    end)

    it("answers 400 when the date is already an exception", function()
      s.call("POST", "/42?fork=1&starting_date=2027-01-05")
      assert.are.equal(400, s.call("POST", "/42?fork=1&starting_date=2027-01-05").status)
    end)

    it("answers 400 for a date that does not exist", function()
      assert.are.equal(400, s.call("POST", "/42?fork=1&starting_date=2027-02-29").status)
    end)

    it("answers 400 without fork=1", function()
      assert.are.equal(400, s.call("POST", "/42?starting_date=2027-01-12").status)
    end)

    it("answers 400 for a one-time event", function()
      assert.are.equal(400, s.call("POST", "/43?fork=1&starting_date=2026-12-03").status)
    end)

    it("forks a monthly series only on its day of the month", function()
      local id = math.tointeger(s.create({ calendar_id = 3, description = "Payday", starting_date = "2026-01-31",
                                           ending_date = "2026-12-31", rec_type = 2 }).json.cal_item_id)
      assert.are.equal(400, s.call("POST", "/" .. id .. "?fork=1&starting_date=2026-02-28").status)
      assert.are.equal(201, s.call("POST", "/" .. id .. "?fork=1&starting_date=2026-03-31").status)
    end)

    it("forks a daily series on any day of its range", function()
      local id = math.tointeger(s.create({ calendar_id = 3, description = "Gym", starting_date = "2026-01-01",
                                           ending_date = "2026-01-10", rec_type = 0 }).json.cal_item_id)
      assert.are.equal(201, s.call("POST", "/" .. id .. "?fork=1&starting_date=2026-01-06").status)
    end)

    it("answers 403 when a reader forks", function()
      assert.are.equal(403, s.call("POST", "/42?fork=1&starting_date=2027-01-19", { headers = VIEWER }).status)
    end)
  end)

  describe("delete", function()
    local s = service()

    it("answers 204 with no body, after which the event is gone", function()
      local res = s.call("DELETE", "/43")
      assert.are.equal(204, res.status)
      assert.are.equal("", res.body)
      assert.are.equal(404, s.call("GET", "/43").status)
    end)

    it("answers 403 when a reader deletes", function()
      assert.are.equal(403, s.call("DELETE", "/42", { headers = VIEWER }).status)
    end)

    it("answers 404 for an unknown event", function()
      assert.are.equal(404, s.call("DELETE", "/999").status)
    end)
  end)

  describe("seed", function()
    local function refused(text)
      local seed, log = os.tmpname(), os.tmpname()
      local f = assert(io.open(seed, "w")); f:write(text); f:close()
      local ok = pcall(sandbox.start, { seed = seed, stderr = log })
      f = assert(io.open(log)); local message = f:read("a"); f:close()
      os.remove(seed); os.remove(log)
      assert.is_false(ok)
      return message
    end

    it("refuses two events with the same cal_item_id", function()
      local message = refused([[{"connectdaily":{"calendars":[{"calendar_id":1}],"events":[
        {"cal_item_id":1,"calendar_id":1,"description":"a","starting_date":"2026-01-01"},
        {"cal_item_id":1,"calendar_id":1,"description":"b","starting_date":"2026-01-02"}]}}]])
      assert.truthy(message:find("connectdaily.events[1]", 1, true))
    end)

    it("refuses a permission other than read or write", function()
      local message = refused([[{"connectdaily":{"users":[{"user":"u","password":"p","calendars":{"1":"admin"}}]}}]])
      assert.truthy(message:find("connectdaily.users[0]", 1, true))
    end)
  end)

  describe("delete of a locked event", function()
    local seed = os.tmpname()
    local f = assert(io.open(seed, "w"))
    f:write([[{"connectdaily":{"calendars":[{"calendar_id":1}],
      "users":[{"user":"u","password":"p","calendars":{"1":"write"}}],
      "events":[{"cal_item_id":7,"calendar_id":1,"description":"Locked","starting_date":"2026-01-01","locked":true}]}}]])
    f:close()
    local s = service(seed)
    teardown(function() os.remove(seed) end)
    local U = { Authorization = "Basic " .. b64("u:p") }

    it("answers 200 with error 1 and keeps the event", function()
      local res = s.call("DELETE", "/7", { headers = U })
      assert.are.equal(200, res.status)
      assert.are.equal(1, res.json.error)
      assert.are.equal(200, s.call("GET", "/7", { headers = U }).status)
    end)
  end)
end)
