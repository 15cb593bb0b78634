-- Where the sandbox used to accept what production refuses, or answer
-- otherwise than the public documentation says (docs/PROTOCOLS.md 1.4,
-- 1.5, 1.8, 1.10, 2.6, 2.7, 3.5, 4.4; sandbox/README.md "Fault
-- injection"). Each `it` is one behaviour, over real HTTP.
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event -- "Power levels critical", 2026-11-20T04:00:00.000Z
local INTEGRATION = "575ed78e7ae143cd83dc4aab"
local ALL_EVENTS = 6 -- in the example seed
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local MR_EVENT = "18b17c20-5e84-4086-8da0-784f21622e16"
local MR_AUTH = "Bearer sandbox-monterosa-token"
local JSONAPI = "application/vnd.api+json"
local CD_API = "Basic " .. sandbox.base64("api:sandbox-password")

-- Percent-encodes every byte that is not a letter or digit.
local function enc(s) return (s:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)) end

-- Calls of one Losant sandbox (s.sb).
local function losant(s)
  local L = {}
  function L.url(path) return s.sb.url .. "/applications/" .. APP .. path end
  function L.get(path) return sandbox.http("GET", L.url(path), { token = sandbox.token }) end
  function L.send(method, path, body, headers)
    return sandbox.http(method, L.url(path), { token = sandbox.token, json = body, headers = headers })
  end
  function L.total(query) return L.get("/events?query=" .. enc(query)).json.totalCount end
  return L
end

-- Waits (polling every 50 ms) until f() is true or seconds pass; returns f()'s last value.
local function eventually(seconds, f)
  local deadline = os.time() + math.ceil(sandbox.time(seconds)) + 1
  local v = f()
  while not v and os.time() <= deadline do
    os.execute("sleep 0.05")
    v = f()
  end
  return v
end

describe("the sandbox refuses what production refuses", function()
  describe("Losant: filter without filterField does not filter", function()
    local s = {}
    local L = losant(s)
    before_each(function() s.sb = sandbox.start() end)
    after_each(function() s.sb.stop() end)

    it("events.patch with filter but no filterField changes every event", function()
      local res = L.send("PATCH", "/events?filter=Door*", { comment = "bulk" })
      assert.are.equal(200, res.status)
      local changed = 0
      for _, ev in ipairs(L.get("/events").json.items) do
        if #ev.updates == 1 and ev.updates[1].comment == "bulk" then changed = changed + 1 end
      end
      assert.are.equal(ALL_EVENTS, changed) -- "Power levels critical" and the others do not match Door*
    end)

    it("integrations.get with filter but no filterField lists every integration", function()
      local res = L.get("/integrations?filter=Plant*")
      assert.are.equal(200, res.status)
      assert.are.equal(2, res.json.totalCount)
    end)

    it("events.get does not echo a filterField that was not sent", function()
      local res = L.get("/events?filter=Door*")
      assert.are.equal(200, res.status)
      assert.is_nil(res.json.filterField)
    end)

    it("integrations.get does not echo a filterField that was not sent", function()
      assert.is_nil(L.get("/integrations").json.filterField)
    end)

    it("events.get echoes the filterField that was sent", function()
      assert.are.equal("subject", L.get("/events?filterField=subject&filter=Door*").json.filterField)
    end)
  end)

  describe("Losant: events.patch landing later (--bulk-delay, bulk-delay=MS)", function()
    local s = {}
    local L = losant(s)
    after_each(function() if s.sb then s.sb.stop() end end)

    it("answers Success at once and changes nothing yet with --bulk-delay", function()
      s.sb = sandbox.start({ args = { "--bulk-delay", tostring(math.floor(sandbox.time(60) * 1000)) } })
      local res = L.send("PATCH", "/events?state=new", { state = "acknowledged" })
      assert.are.equal(200, res.status)
      assert.are.same({ success = true }, res.json)
      assert.are.equal(4, L.get("/events?state=new").json.totalCount)
    end)

    it("lands the change once the --bulk-delay has passed", function()
      s.sb = sandbox.start({ args = { "--bulk-delay", "300" } })
      assert.are.equal(200, L.send("PATCH", "/events?state=new", { state = "acknowledged" }).status)
      assert.is_true(eventually(5, function() return L.get("/events?state=new").json.totalCount == 0 end))
      assert.are.equal(5, L.get("/events?state=acknowledged").json.totalCount)
    end)

    it("delays one request with the fault bulk-delay=MS", function()
      s.sb = sandbox.start({ faults = true })
      local fault = "bulk-delay=" .. math.floor(sandbox.time(0.8) * 1000)
      local res = L.send("PATCH", "/events?state=new", { state = "resolved" }, { ["X-Sandbox-Fault"] = fault })
      assert.are.equal(200, res.status)
      assert.are.equal(4, L.get("/events?state=new").json.totalCount) -- read back at once: not there yet
      assert.is_true(eventually(5, function() return L.get("/events?state=new").json.totalCount == 0 end))
    end)

    it("applies at once with bulk-delay=0 even under --bulk-delay", function()
      s.sb = sandbox.start({ faults = true, args = { "--bulk-delay", "600000" } })
      L.send("PATCH", "/events?state=new", { state = "resolved" }, { ["X-Sandbox-Fault"] = "bulk-delay=0" })
      assert.are.equal(0, L.get("/events?state=new").json.totalCount)
    end)

    it("applies a change still waiting at SIGTERM before it exits, and exits 0", function()
      local db = os.tmpname()
      os.remove(db)
      s.sb = sandbox.start({ db = db, args = { "--bulk-delay", "600000" } })
      assert.are.equal(200, L.send("PATCH", "/events?state=new", { state = "resolved" }).status)
      local exit = s.sb.stop()
      assert.is_true(exit.ok)
      s.sb = sandbox.start({ db = db })
      local left = L.get("/events?state=new").json.totalCount
      s.sb.stop()
      s.sb = nil
      for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(db .. suffix) end
      assert.are.equal(0, left)
    end)
  end)

  describe("Losant: empty logical lists in the advanced query", function()
    local s = {}
    local L = losant(s)
    setup(function() s.sb = sandbox.start() end)
    teardown(function() s.sb.stop() end)

    it("an empty $or matches every event", function()
      assert.are.equal(ALL_EVENTS, L.total('{"$or":[]}'))
    end)

    it("an empty $nor matches no event", function()
      assert.are.equal(0, L.total('{"$nor":[]}'))
    end)

    it("an empty $and matches every event", function()
      assert.are.equal(ALL_EVENTS, L.total('{"$and":[]}'))
    end)
  end)

  describe("Losant: events.delete", function()
    local s = {}
    local L = losant(s)
    before_each(function() s.sb = sandbox.start() end)
    after_each(function() s.sb.stop() end)

    it("removes every event for a query of an empty $or", function()
      local res = sandbox.http("POST", L.url("/events/delete"), { token = sandbox.token,
        headers = { ["Content-Type"] = "application/json" }, body = '{"$or":[]}' })
      assert.are.equal(200, res.status)
      assert.are.same({ removed = ALL_EVENTS }, res.json)
    end)

    it("answers 404 NotFound in Losant's shape when no event matches", function()
      local res = L.send("POST", "/events/delete", { subject = "no such subject" })
      assert.are.equal(404, res.status)
      assert.are.same({ type = "NotFound", message = "Events were not found" }, res.json)
    end)
  end)

  describe("Losant: dates in the advanced query compare as instants", function()
    local s = {}
    local L = losant(s)
    setup(function() s.sb = sandbox.start() end)
    teardown(function() s.sb.stop() end)

    it("finds an event at 04:00:00.000Z with $gte of 04:00:00Z (no fraction)", function()
      assert.are.equal(4, L.total('{"creationDate":{"$gte":"2026-11-20T04:00:00Z"}}'))
    end)

    it("reads an offset: 05:00:00+01:00 equals the event at 04:00:00.000Z", function()
      local res = L.get("/events?query=" .. enc('{"creationDate":"2026-11-20T05:00:00+01:00"}'))
      assert.are.equal(1, res.json.totalCount)
      assert.are.equal(EVENT, res.json.items[1].id)
    end)

    it("reads a fraction with an offset: $gt 06:59:59.999+02:00 is after 04:59:59.999Z", function()
      assert.are.equal(3, L.total('{"creationDate":{"$gt":"2026-11-20T06:59:59.999+02:00"}}'))
    end)

    it("refuses a string that is no date with 400 naming its place", function()
      local res = L.get("/events?query=" .. enc('{"lastUpdated":{"$lt":"yesterday"}}'))
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find("query.lastUpdated.$lt must be a date-time", 1, true))
    end)
  end)

  describe("Losant: what a query compares", function()
    local s = {}
    local L = losant(s)
    setup(function()
      s.sb = sandbox.start()
      L.send("POST", "/events", { level = "info", subject = "Café ÉTÉ Ζεστό Пар" })
    end)
    teardown(function() s.sb.stop() end)

    it("matches an id in upper case, as ids in paths do", function()
      assert.are.equal(1, L.total('{"id":"' .. EVENT:upper() .. '"}'))
    end)

    it("folds Latin-1 letters with $ci", function()
      assert.are.equal(1, L.total('{"subject":{"$eq":"CAFÉ été ζεστό пар","$ci":true}}'))
    end)

    it("folds Greek and Cyrillic letters with $ci in $contains", function()
      assert.are.equal(1, L.total('{"subject":{"$contains":"ΖΕΣΤΌ ПАР","$ci":true}}'))
    end)

    it("says a number of a query is out of range, not that the query is no object", function()
      local res = L.get("/events?query=" .. enc('{"creationDate":{"$gt":1e999}}'))
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("out of range", 1, true))
      assert.is_nil(res.json.message:find("must be a JSON object", 1, true))
    end)

    it("words a NUL in a query for users, without jansson's flag name", function()
      local res = L.get("/events?query=" .. enc('{"subject":"a\\u0000b"}'))
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("NUL", 1, true))
      assert.is_nil(res.json.message:find("JSON_ALLOW_NUL", 1, true))
    end)

    it("words a NUL in a body for users, without jansson's flag name", function()
      local res = sandbox.http("PATCH", L.url("/events/" .. EVENT), { token = sandbox.token,
        headers = { ["Content-Type"] = "application/json" }, body = '{"comment":"a\\u0000b"}' })
      assert.are.equal(400, res.status)
      assert.is_nil(res.json.message:find("JSON_ALLOW_NUL", 1, true))
    end)
  end)

  describe("Losant: request params and media type", function()
    local s = {}
    local L = losant(s)
    before_each(function() s.sb = sandbox.start() end)
    after_each(function() s.sb.stop() end)

    it("answers 415 for a Content-Type that only starts like application/json", function()
      local res = L.send("PATCH", "/events/" .. EVENT, { comment = "x" }, { ["Content-Type"] = "application/jsonx" })
      assert.are.equal(415, res.status)
      assert.are.equal("UnsupportedMediaType", res.json.type)
    end)

    it("accepts application/json with a charset parameter", function()
      local res = L.send("PATCH", "/events/" .. EVENT, { comment = "x" },
        { ["Content-Type"] = "application/json; charset=utf-8" })
      assert.are.equal(200, res.status)
    end)

    it("answers 400 naming a param given twice", function()
      local res = L.get("/events?perPage=1&perPage=2")
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find("perPage", 1, true))
    end)

    it("answers 400 naming perPage for perPage=+5", function()
      local res = L.get("/events?perPage=%2B5")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("perPage", 1, true))
    end)

    it("answers 400 naming includeWorkflows for includeWorkflows=maybe, deleting nothing", function()
      local res = L.send("DELETE", "/integrations/" .. INTEGRATION .. "?includeWorkflows=maybe")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("includeWorkflows", 1, true))
      assert.are.equal(200, L.get("/integrations/" .. INTEGRATION).status)
    end)

    it("answers 400 naming _links for _links=maybe", function()
      local res = L.get("/events/" .. EVENT .. "?_links=maybe")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("_links", 1, true))
    end)
  end)

  describe("faults answer in the shape of the service of the path", function()
    local s = {}
    setup(function() s.sb = sandbox.start({ faults = true }) end)
    teardown(function() s.sb.stop() end)
    local function faulty(path, fault, headers)
      local h = { ["X-Sandbox-Fault"] = fault }
      for k, v in pairs(headers or {}) do h[k] = v end
      return sandbox.http("GET", s.sb.url .. path, { headers = h })
    end

    it("status=503 on Connect Daily is {error: 1, message}", function()
      local res = faulty("/calendar/restapi/v1/events/42", "status=503")
      assert.are.equal(503, res.status)
      assert.are.same({ error = 1, message = "Injected fault: status 503" }, res.json)
    end)

    it("status=409 on Connect Daily is {error: 1, message}", function()
      local res = faulty("/calendar/restapi/v1/events/42", "status=409")
      assert.are.equal(409, res.status)
      assert.are.equal(1, res.json.error)
    end)

    it("status=503 on Monterosa is a JSON:API error list", function()
      local res = faulty("/api/v2/events/" .. MR_EVENT, "status=503")
      assert.are.equal(503, res.status)
      assert.are.equal(JSONAPI, res.headers["content-type"])
      assert.are.equal("503", res.json.errors[1].status)
      assert.are.equal("Injected fault: status 503", res.json.errors[1].detail)
    end)

    it("status=422 on Monterosa carries a source pointer", function()
      local res = faulty("/api/v2/events/" .. MR_EVENT, "status=422")
      assert.are.equal(422, res.status)
      assert.are.equal("/data", res.json.errors[1].source.pointer)
    end)

    it("status=503 on Losant stays {type: SandboxFault, message}", function()
      local res = faulty("/applications/" .. APP .. "/events", "status=503")
      assert.are.same({ type = "SandboxFault", message = "Injected fault: status 503" }, res.json)
    end)
  end)

  describe("Connect Daily: rec_type and the update failures of the manual", function()
    local s = {}
    before_each(function()
      s.sb = sandbox.start({ faults = true })
      s.base = s.sb.url .. "/calendar/restapi/v1/events"
    end)
    after_each(function() s.sb.stop() end)
    local function call(method, path, body, fault)
      return sandbox.http(method, s.base .. path, { headers = { Authorization = CD_API, ["X-Sandbox-Fault"] = fault },
        json = body })
    end
    local SERIES = { calendar_id = 3, description = "Odd pattern", starting_date = "2026-12-01",
                     ending_date = "2026-12-31", rec_type = 4 }
    local function board_meeting(version)
      return { calendar_id = 3, description = "Board, moved", starting_date = "2026-12-01",
               ending_date = "2027-06-29", rec_type = 1, version = version }
    end

    it("creates an event with rec_type 4 as a recurring series (201)", function()
      local res = call("POST", "", SERIES)
      assert.are.equal(201, res.status)
      assert.are.equal(4, res.json.rec_type)
    end)

    it("forks a day of a rec_type 4 series", function()
      local id = call("POST", "", SERIES).json.cal_item_id
      local res = call("POST", ("/%d?fork=1&starting_date=2026-12-09"):format(id))
      assert.are.equal(201, res.status)
      assert.are.equal(0, res.json.error)
    end)

    it("answers the fault warning with 200 {error: 2} and changes nothing", function()
      local res = call("PUT", "/42", board_meeting(1), "warning")
      assert.are.equal(200, res.status)
      assert.are.equal(2, res.json.error)
      assert.truthy(res.json.message:find("Warning", 1, true))
      assert.are.equal(1, call("GET", "/42").json.version)
    end)

    it("answers the fault resource-conflict with 200 {error: 3} and changes nothing", function()
      local res = call("PUT", "/42", board_meeting(1), "resource-conflict")
      assert.are.equal(200, res.status)
      assert.are.equal(3, res.json.error)
      assert.are.equal("Weekly board meeting", call("GET", "/42").json.description)
    end)

    it("answers the fault conflict with 409 {error: 1}", function()
      local res = call("PUT", "/42", board_meeting(1), "conflict")
      assert.are.equal(409, res.status)
      assert.are.equal(1, res.json.error)
    end)
  end)

  describe("Monterosa: create with action start", function()
    local s = {}
    setup(function() s.sb = sandbox.start() end)
    teardown(function() s.sb.stop() end)
    -- the request of the public "create and start" example, with the seed's project
    local function create()
      return sandbox.http("POST", s.sb.url .. "/api/v2/events", {
        headers = { Authorization = MR_AUTH, ["Content-Type"] = JSONAPI },
        body = '{"data":{"type":"events","relationships":{"project":{"data":{"type":"projects","id":"' .. PROJECT
          .. '"}}},"attributes":{"name":"Event Name","start_mode":"manual","duration":60,"action":"start",'
          .. '"start_at":1458487800,"settings":[]}}}' })
    end

    it("answers as the documented example: future, end_at = start_at + duration, extra_time 60", function()
      local res = create()
      assert.are.equal(201, res.status)
      local a = res.json.data.attributes
      assert.are.same({ "future", 1458487860, "2016-03-20T15:31:00Z", 60, 60 },
        { a.state, a.end_at, a.end_at_iso, a.extra_time, a.original_duration })
    end)

    it("is current when read right after", function()
      local id = create().json.data.id
      local res = sandbox.http("GET", s.sb.url .. "/api/v2/events/" .. id, { headers = { Authorization = MR_AUTH } })
      assert.are.equal("current", res.json.data.attributes.state)
    end)
  end)
end)
