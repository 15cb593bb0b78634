-- The sandbox answers the Losant Events and Integrations API as
-- docs/PROTOCOLS.md section 1 describes, over real HTTP.
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local INTEGRATION = "575ed78e7ae143cd83dc4aab"

describe("the Losant sandbox", function()
  local sb
  local function url(path) return sb.url .. "/applications/" .. APP .. path end
  local function get(path, token) return sandbox.http("GET", url(path), { token = token or sandbox.token }) end
  local function send(method, path, body, token)
    return sandbox.http(method, url(path), { token = token or sandbox.token, json = body })
  end

  before_each(function() sb = sandbox.start() end)
  after_each(function() sb.stop() end)

  describe("authentication", function()
    it("answers 401 Unauthorized without a token", function()
      local res = sandbox.http("GET", url("/events/" .. EVENT))
      assert.are.equal(401, res.status)
      assert.are.equal("Unauthorized", res.json.type)
    end)

    it("answers 401 Unauthorized for an unknown token", function()
      local res = get("/events/" .. EVENT, "not-a-token")
      assert.are.equal(401, res.status)
    end)

    it("lets a read-only token get an event", function()
      assert.are.equal(200, get("/events/" .. EVENT, "sandbox-read-only").status)
    end)

    it("answers 403 Forbidden when a read-only token patches", function()
      local res = send("PATCH", "/events/" .. EVENT, { comment = "x" }, "sandbox-read-only")
      assert.are.equal(403, res.status)
      assert.are.equal("Forbidden", res.json.type)
    end)

    it("grants exactly the named scope to a narrow token", function()
      assert.are.equal(200, get("/events", "sandbox-events-get").status)
      assert.are.equal(403, get("/events/" .. EVENT, "sandbox-events-get").status)
    end)

    it("answers 404 for an application the token may not reach", function()
      local res = get("/events/" .. EVENT, "sandbox-other-app")
      assert.are.equal(404, res.status)
      assert.are.equal("Application was not found", res.json.message)
    end)
  end)

  describe("event.get", function()
    it("returns the stored event", function()
      local res = get("/events/" .. EVENT)
      assert.are.equal(200, res.status)
      assert.are.equal(EVENT, res.json.id)
      assert.are.equal(EVENT, res.json.eventId)
      assert.are.equal("Power levels critical", res.json.subject)
    end)

    it("keeps big integers exact in the stored text", function()
      assert.truthy(get("/events/" .. EVENT).body:find('"reading_us":1700000000123456', 1, true))
    end)

    it("answers 404 NotFound for an unknown event", function()
      local res = get("/events/aaaaaaaaaaaaaaaaaaaaaaaa")
      assert.are.equal(404, res.status)
      assert.are.same({ type = "NotFound", message = "Event was not found" }, res.json)
    end)

    it("answers 400 Validation for a malformed id", function()
      local res = get("/events/a%2Fb")
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find("eventId"))
    end)
  end)

  describe("ids in upper case", function()
    it("find the event (ids match without regard to case)", function()
      local res = sandbox.http("GET", sb.url .. "/applications/" .. APP:upper() .. "/events/" .. EVENT:upper(),
        { token = sandbox.token })
      assert.are.equal(200, res.status)
      assert.are.equal(EVENT, res.json.id)
    end)

    it("find the integration", function()
      assert.are.equal(200, get("/integrations/" .. INTEGRATION:upper()).status)
    end)

    it("reach an application a token is limited to", function()
      local res = sandbox.http("GET", sb.url .. "/applications/5B2F1C0E8D3A4B0012345678/events",
        { token = "sandbox-other-app" })
      assert.are.equal(200, res.status)
    end)
  end)

  describe("HEAD", function()
    -- curl -I (a real HEAD: no body expected): the status and the headers.
    local function head(path)
      local p = assert(io.popen("curl -s -I --max-time 5 -H 'Authorization: Bearer " .. sandbox.token .. "' "
        .. sandbox.shell_quote(url(path))))
      local text = p:read("a")
      p:close()
      local headers = {}
      for name, value in text:gmatch("\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
      return tonumber(text:match("^HTTP/%S+ (%d+)")), headers
    end

    it("answers a GET path with its status and headers, the Content-Length of the GET's body", function()
      local status, headers = head("/events/" .. EVENT)
      assert.are.equal(200, status)
      assert.are.equal("application/json", headers["content-type"])
      assert.are.equal(#get("/events/" .. EVENT).body, tonumber(headers["content-length"]))
    end)

    it("is listed in Allow beside GET", function()
      local res = send("PUT", "/events/" .. EVENT, {})
      assert.are.equal("GET, HEAD, PATCH, DELETE", res.headers["allow"])
    end)
  end)

  describe("the filter glob", function()
    it("matches one UTF-8 character with ?", function()
      local ev = send("POST", "/events", { level = "info", subject = "Caf\u{e9} open" }).json
      local res = get("/events?filterField=subject&filter=Caf%3F%20open")
      assert.are.equal(1, res.json.totalCount)
      assert.are.equal(ev.id, res.json.items[1].id)
    end)

    it("does not match two bytes of one character with ??", function()
      send("POST", "/events", { level = "info", subject = "Caf\u{e9} open" })
      assert.are.equal(0, get("/events?filterField=subject&filter=Caf%3F%3F%20open").json.totalCount)
    end)
  end)

  describe("percent-encoded NUL bytes", function()
    it("do not cut an event id: the id is malformed", function()
      local res = get("/events/" .. EVENT .. "%00")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("eventId", 1, true))
    end)

    it("do not cut an applicationId", function()
      local res = sandbox.http("GET", sb.url .. "/applications/" .. APP .. "%00/events", { token = sandbox.token })
      assert.are.equal(400, res.status)
    end)

    it("do not cut a query value: perPage=1%00abc is 400", function()
      local res = get("/events?perPage=1%00abc")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("perPage", 1, true))
    end)
  end)

  describe("event.patch", function()
    it("changes the state and appends an update with the state change", function()
      local res = send("PATCH", "/events/" .. EVENT, { state = "acknowledged", comment = "on it" })
      assert.are.equal(200, res.status)
      assert.are.equal("acknowledged", res.json.state)
      local update = res.json.updates[#res.json.updates]
      assert.are.equal("on it", update.comment)
      assert.are.same({ old = "new", new = "acknowledged" }, update.stateChange)
    end)

    it("appends an update without stateChange when the state stays", function()
      local res = send("PATCH", "/events/" .. EVENT, { comment = "just a note" })
      assert.is_nil(res.json.updates[#res.json.updates].stateChange)
    end)

    it("rejects an unknown key with a message naming it", function()
      local res = send("PATCH", "/events/" .. EVENT, { colour = "red" })
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find("colour"))
    end)

    it("loses no update when many patches of one event run at once", function()
      local cmds = {}
      for i = 1, 20 do
        cmds[#cmds + 1] = ("curl -s -o /dev/null -X PATCH -H 'Authorization: Bearer %s' "
          .. "-H 'Content-Type: application/json' -d '{\"comment\":\"c%d\"}' '%s' &")
          :format(sandbox.token, i, url("/events/" .. EVENT))
      end
      os.execute(table.concat(cmds, "\n") .. "\nwait")
      assert.are.equal(20, #get("/events/" .. EVENT).json.updates)
    end)
  end)

  describe("event.delete", function()
    it("answers success and the event is gone", function()
      local res = send("DELETE", "/events/" .. EVENT)
      assert.are.same({ success = true }, res.json)
      assert.are.equal(404, get("/events/" .. EVENT).status)
    end)
  end)

  describe("events.post", function()
    it("creates an event with 201 and fills the server fields", function()
      local res = send("POST", "/events", { level = "info", subject = "Created" })
      assert.are.equal(201, res.status)
      assert.truthy(res.json.id:match("^%x+$") and #res.json.id == 24)
      assert.are.equal("new", res.json.state)
      assert.truthy(res.json.creationDate:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"))
      assert.are.equal(200, get("/events/" .. res.json.id).status)
    end)

    it("requires the subject, naming it", function()
      local res = send("POST", "/events", { level = "info" })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("subject"))
    end)

    it("checks the level enum", function()
      local res = send("POST", "/events", { level = "fatal", subject = "x" })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("level"))
    end)

    it("checks the subject length", function()
      local res = send("POST", "/events", { level = "info", subject = string.rep("x", 256) })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("subject"))
    end)

    it("checks eventTags keys against their pattern", function()
      local res = send("POST", "/events", { level = "info", subject = "x", eventTags = { ["bad key"] = "v" } })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("eventTags"))
    end)

    it("stores a creationDate given as epoch milliseconds as that date", function()
      local res = send("POST", "/events", { level = "info", subject = "x", creationDate = 1763611200123 })
      assert.are.equal(201, res.status)
      assert.are.equal("2025-11-20T04:00:00.123Z", res.json.creationDate)
      assert.are.equal("2025-11-20T04:00:00.123Z", get("/events/" .. res.json.id).json.creationDate)
    end)

    it("stores a creationDate given as {\"$date\": date-time} as that date, in UTC", function()
      local res = send("POST", "/events", { level = "info", subject = "x",
        creationDate = { ["$date"] = "2020-02-29T10:00:00.5+02:00" } })
      assert.are.equal(201, res.status)
      assert.are.equal("2020-02-29T08:00:00.500Z", res.json.creationDate)
    end)

    it("takes a creationDate of February 29 of 2000 (a leap year: divisible by 400)", function()
      local res = send("POST", "/events", { level = "info", subject = "x", creationDate = "2000-02-29T12:00:00Z" })
      assert.are.equal(201, res.status, res.body)
      assert.are.equal("2000-02-29T12:00:00.000Z", res.json.creationDate)
    end)

    it("refuses a creationDate of February 29 of 1900 (not a leap year: divisible by 100)", function()
      local res = send("POST", "/events", { level = "info", subject = "x", creationDate = "1900-02-29T12:00:00Z" })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("creationDate", 1, true), res.json.message)
    end)

    it("stores a creationDate date-time string in one ISO form", function()
      local res = send("POST", "/events", { level = "info", subject = "x", creationDate = "2026-01-02T03:04:05Z" })
      assert.are.equal("2026-01-02T03:04:05.000Z", res.json.creationDate)
    end)

    it("refuses a creationDate of \"yesterday\"", function()
      local res = send("POST", "/events", { level = "info", subject = "x", creationDate = "yesterday" })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("creationDate", 1, true))
    end)

    it("refuses an empty creationDate", function()
      assert.are.equal(400, send("POST", "/events", { level = "info", subject = "x", creationDate = "" }).status)
    end)

    it("refuses a creationDate that is a date without a time", function()
      assert.are.equal(400, send("POST", "/events", { level = "info", subject = "x", creationDate = "2020-01-01" }).status)
    end)

    it("refuses a {\"$date\"} that is not a date-time", function()
      local res = send("POST", "/events", { level = "info", subject = "x", creationDate = { ["$date"] = "soon" } })
      assert.are.equal(400, res.status)
    end)

    it("keeps data numbers exact", function()
      local body = '{"level":"info","subject":"n","data":{"a":9223372036854775807,"b":0.30000000000000004}}'
      local res = sandbox.http("POST", url("/events"), { token = sandbox.token, body = body,
        headers = { ["Content-Type"] = "application/json" } })
      local again = get("/events/" .. res.json.id).body
      assert.truthy(again:find('"a":9223372036854775807', 1, true))
      assert.truthy(again:find('"b":0.30000000000000004', 1, true))
    end)

    it("answers 400 for malformed JSON", function()
      local res = sandbox.http("POST", url("/events"), { token = sandbox.token, body = "{nope",
        headers = { ["Content-Type"] = "application/json" } })
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
    end)

    it("answers 415 for a body that is not declared JSON", function()
      local res = sandbox.http("POST", url("/events"), { token = sandbox.token, body = "level=info",
        headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } })
      assert.are.equal(415, res.status)
    end)
  end)

  describe("events.get", function()
    it("lists with totalCount, page and perPage", function()
      local res = get("/events?perPage=2&page=1")
      assert.are.equal(200, res.status)
      assert.are.equal(6, res.json.totalCount)
      assert.are.equal(2, res.json.count)
      assert.are.equal(1, res.json.page)
      assert.are.equal(2, res.json.perPage)
    end)

    it("answers 400 naming perPage for perPage 0 or 1001, and takes 1 and 1000", function()
      for _, bad in ipairs({ 0, 1001 }) do
        local res = get("/events?perPage=" .. bad)
        assert.are.equal(400, res.status)
        assert.truthy(res.json.message:find("perPage", 1, true), res.json.message)
      end
      assert.are.equal(1, #get("/events?perPage=1").json.items)
      assert.are.equal(6, #get("/events?perPage=1000").json.items)
    end)

    it("walks every event exactly once across pages", function()
      local seen, n = {}, 0
      for page = 0, 2 do
        for _, ev in ipairs(get("/events?perPage=2&page=" .. page).json.items) do
          assert.is_nil(seen[ev.id]); seen[ev.id] = true; n = n + 1
        end
      end
      assert.are.equal(6, n)
    end)

    it("filters by state", function()
      for _, ev in ipairs(get("/events?state=resolved").json.items) do assert.are.equal("resolved", ev.state) end
      assert.are.equal(1, get("/events?state=resolved").json.totalCount)
    end)

    it("filters the subject with a glob", function()
      local res = get("/events?filterField=subject&filter=*pressure*")
      assert.are.equal(1, res.json.totalCount)
      assert.are.equal("Boiler pressure high", res.json.items[1].subject)
      assert.are.equal(1, get("/events?filterField=subject&filter=Fan%20fail%3Fre").json.totalCount)
    end)

    it("ignores a filter without filterField, as Losant does", function()
      local all = get("/events").json.totalCount
      assert.is_true(all > 1)
      assert.are.equal(all, get("/events?filter=*pressure*").json.totalCount)
      assert.are.equal(all, get("/events?filterField=&filter=*pressure*").json.totalCount)
    end)

    it("sorts by the requested field and direction", function()
      local res = get("/events?sortField=subject&sortDirection=asc")
      local prev = ""
      for _, ev in ipairs(res.json.items) do assert.is_true(ev.subject >= prev); prev = ev.subject end
    end)

    it("sorts level by severity", function()
      local items = get("/events?sortField=level&sortDirection=desc").json.items
      assert.are.equal("critical", items[1].level)
      assert.are.equal("info", items[#items].level)
    end)

    it("applies an advanced query with $or and $in", function()
      local q = '{"$or":[{"level":{"$in":["warning","info"]}},{"subject":{"$startsWith":"fan","$ci":true}}]}'
      local res = get("/events?query=" .. q:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end))
      assert.are.equal(3, res.json.totalCount)
    end)

    it("rejects an advanced query on an unknown field", function()
      local res = get("/events?query=%7B%22colour%22%3A1%7D")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("colour"))
    end)

    it("rejects a bad sortField naming it", function()
      local res = get("/events?sortField=colour")
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("sortField"))
    end)

    it("rejects perPage over 1000", function()
      assert.are.equal(400, get("/events?perPage=1001").status)
    end)
  end)

  describe("the advanced query, evaluated by SQLite", function()
    local function enc(q) return (q:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)) end
    local function total(q) return get("/events?query=" .. enc(q)).json.totalCount end

    it("compares a date with a number as epoch milliseconds", function()
      assert.are.equal(4, total('{"creationDate":{"$gte":1795147200000}}')) -- 2026-11-20T04:00:00Z
    end)

    it("compares dates given as text as instants: a date alone is its midnight UTC", function()
      assert.are.equal(2, total('{"creationDate":{"$lt":"2026-11-20"}}'))
    end)

    it("lets $ne match events without the field", function()
      assert.are.equal(6, total('{"deviceId":{"$ne":"aaaaaaaaaaaaaaaaaaaaaaaa"}}'))
    end)

    it("matches a missing field with null", function()
      assert.are.equal(5, total('{"deviceId":null}'))
    end)

    it("never matches a text field with a boolean", function()
      assert.are.equal(0, total('{"subject":true}'))
    end)

    it("applies $nin", function()
      assert.are.equal(2, total('{"level":{"$nin":["critical"]}}'))
    end)

    it("applies $endsWith and $contains with $ci", function()
      assert.are.equal(1, total('{"subject":{"$endsWith":"CRITICAL","$ci":true}}'))
      assert.are.equal(1, total('{"subject":{"$contains":"PRESSURE","$ci":true}}'))
      assert.are.equal(0, total('{"subject":{"$contains":"PRESSURE"}}'))
    end)

    it("finds a tag by $tagKey and $tagValue", function()
      assert.are.equal(1, total('{"eventTags":{"$tagKey":"line","$tagValue":"3"}}'))
      assert.are.equal(0, total('{"eventTags":{"$tagKey":"line","$tagValue":"4"}}'))
    end)

    it("negates a tag condition wrapped in $ne", function()
      assert.are.equal(5, total('{"eventTags":{"$ne":{"line":"3"}}}'))
    end)

    it("applies $nor", function()
      assert.are.equal(2, total('{"$nor":[{"level":"critical"}]}'))
    end)

    it("answers a query nested 31 levels deep in lists of 100 (more than SQLite's parser nests)", function()
      local q = "{}"
      for _ = 1, 31 do q = '{"$or":[' .. string.rep("{},", 99) .. q .. "]}" end
      local res = sandbox.http("POST", url("/events/delete"), { token = sandbox.token, body = q,
        headers = { ["Content-Type"] = "application/json" } })
      assert.are.same({ removed = 6 }, res.json)
    end)

    it("answers a tag condition of 200 pairs inside nested lists", function()
      local pairs_ = {}
      for i = 1, 200 do pairs_[i] = ('"k%d":"v"'):format(i) end
      local q = '{"eventTags":{' .. table.concat(pairs_, ",") .. "}}"
      for _ = 1, 20 do q = '{"$or":[' .. string.rep("{\"level\":\"none\"},", 9) .. q .. "]}" end
      local res = get("/events?query=" .. enc(q))
      assert.are.equal(200, res.status)
      assert.are.equal(0, res.json.totalCount)
    end)

    it("matches everything with an empty $or or $and and nothing with an empty $nor", function()
      assert.are.equal(6, total('{"$or":[]}'))
      assert.are.equal(6, total('{"$and":[]}'))
      assert.are.equal(0, total('{"$nor":[]}'))
    end)
  end)

  describe("updates", function()
    it("keeps every update in order past 64 of them", function()
      for i = 1, 70 do send("PATCH", "/events/" .. EVENT, { comment = "c" .. i }) end
      local updates = get("/events/" .. EVENT).json.updates
      assert.are.equal(70, #updates)
      for i = 1, 70 do assert.are.equal("c" .. i, updates[i].comment) end
    end)

    it("are listed with their event", function()
      send("PATCH", "/events/" .. EVENT, { comment = "listed" })
      local res = get("/events?query=" .. ("%7B%22id%22%3A%22" .. EVENT .. "%22%7D"))
      assert.are.equal("listed", res.json.items[1].updates[1].comment)
    end)

    it("are gone with their event after a bulk delete", function()
      send("PATCH", "/events/" .. EVENT, { comment = "gone" })
      assert.are.same({ removed = 6 }, send("POST", "/events/delete", {}).json)
      local created = send("POST", "/events", { level = "info", subject = "fresh" }).json
      assert.are.same({}, created.updates)
    end)
  end)

  describe("sorting", function()
    it("puts events without the field first when ascending", function()
      local items = get("/events?sortField=deviceId&sortDirection=asc").json.items
      assert.is_nil(items[1].deviceId)
      assert.are.equal(EVENT, items[#items].id)
    end)

    it("breaks ties by id, ascending whatever the direction", function()
      local items = get("/events?sortField=state&sortDirection=desc").json.items
      local news = {}
      for _, ev in ipairs(items) do if ev.state == "new" then news[#news + 1] = ev.id end end
      local sorted = { table.unpack(news) }
      table.sort(sorted)
      assert.are.same(sorted, news)
    end)
  end)

  describe("bulk calls", function()
    it("patches every matching event", function()
      local res = sandbox.http("PATCH", url("/events?state=new&filterField=subject&filter=*critical*"),
        { token = sandbox.token, json = { state = "resolved" } })
      assert.are.same({ success = true }, res.json)
      assert.are.equal("resolved", get("/events/" .. EVENT).json.state)
      assert.are.equal("new", get("/events/575ed0de7ae143cd83dc4aa6").json.state)
    end)

    it("deletes the events an advanced query selects", function()
      local res = send("POST", "/events/delete", { level = "critical" })
      assert.are.same({ removed = 4 }, res.json)
      assert.are.equal(2, get("/events").json.totalCount)
    end)

    it("answers the most severe new event and the new count", function()
      local res = get("/events/mostRecentBySeverity")
      assert.are.equal(4, res.json.newCount)
      assert.are.equal("575ed0de7ae143cd83dc4aa7", res.json.event.id) -- critical, newest
    end)

    it("leaves the event out when nothing is new", function()
      local res = get("/events/mostRecentBySeverity?filter=nothing*")
      assert.are.equal(0, res.json.newCount)
      assert.is_nil(res.json.event)
    end)

    it("accepts an export request", function()
      local res = send("POST", "/events/export", { email = "ops@example.com", query = { level = "critical" } })
      assert.are.same({ success = true }, res.json)
    end)

    it("rejects an export with a bad email", function()
      local res = send("POST", "/events/export", { email = "nobody" })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("email"))
    end)
  end)

  describe("the advanced query, checked whole before anything is evaluated", function()
    local function enc(q) return (q:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)) end
    local function listed(q) return get("/events?query=" .. enc(q)) end
    local function rejected(q, words)
      local res = listed(q)
      assert.are.equal(400, res.status, res.body)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find(words, 1, true), res.json.message)
      return res
    end

    it("refuses a field the schema does not list", function()
      rejected('{"level":"critical","colour":"red"}', "property 'colour' is not allowed")
    end)

    it("refuses an operator the schema does not list", function()
      rejected('{"subject":{"$regex":"^F"}}', "/subject: property '$regex' is not allowed")
    end)

    it("refuses a list where a scalar is due", function()
      rejected('{"level":["critical"]}', "/level: must be null, a boolean, a number or a string, not an array")
    end)

    it("refuses an object where a scalar is due", function()
      rejected('{"level":{"$eq":{"a":1}}}', "/level/$eq: must be null, a boolean, a number or a string, not an object")
    end)

    it("refuses an empty $startsWith", function()
      rejected('{"subject":{"$startsWith":""}}', "/subject/$startsWith: must be at least 1 character")
    end)

    it("refuses $in with 101 items", function()
      local items = {}
      for i = 1, 101 do items[i] = '"s' .. i .. '"' end
      rejected('{"subject":{"$in":[' .. table.concat(items, ",") .. ']}}', "/subject/$in: must have at most 100 items")
    end)

    it("refuses null inside $in", function()
      rejected('{"level":{"$in":[null]}}', "/level/$in/0: must be a boolean, a number or a string, not null")
    end)

    it("refuses an experienceUserId that is not 24 hex characters", function()
      rejected('{"experienceUserId":"not-an-id"}', "/experienceUserId: must match the pattern ^[A-Fa-f\\d]{24}$")
    end)

    it("refuses two operators on experienceUserId, where the schema allows one", function()
      rejected('{"experienceUserId":{"$eq":null,"$ne":"575ecf887ae143cd83dc4aa2"}}', "/experienceUserId: must have at most 1 property, not 2")
    end)

    it("refuses an eventTags key outside ^[0-9a-zA-Z_-]{1,255}$", function()
      rejected('{"eventTags":{"bad key":"v"}}', 'query.eventTags has the key "bad key"')
    end)

    it("refuses $tagKey mixed with a plain tag key", function()
      rejected('{"eventTags":{"$tagKey":"line","line":"3"}}', "/eventTags: property 'line' is not allowed")
    end)

    it("names the place of a mistake inside $or", function()
      rejected('{"$or":[{"level":"critical"},{"state":{"$gt":[1]}}]}', "/$or/1/state/$gt: ")
    end)

    it("reports a mistake that no event would reach", function()
      rejected('{"level":"no-such-level","colour":1}', "property 'colour' is not allowed")
    end)

    it("reports a mistake when the application has no events", function()
      assert.are.same({ removed = 6 }, send("POST", "/events/delete", {}).json)
      rejected('{"colour":1}', "property 'colour' is not allowed")
    end)

    it("names a long field with a character beyond ASCII whole, as UTF-8 (the answer stays JSON)", function()
      local res = rejected('{"' .. string.rep("a", 63) .. '\u{fc}":1}', "property '" .. string.rep("a", 63) .. "\u{fc}'")
      assert.is_not_nil(utf8.len(res.json.message))
    end)

    it("refuses a query with a repeated member name", function()
      rejected('{"level":"info","level":"critical"}', "query is not valid JSON: duplicate object key")
    end)

    it("refuses a query over 64 KiB of JSON", function()
      rejected('{"subject":"' .. string.rep("x", 65536) .. '"}', "at most 65536 bytes")
    end)

    it("refuses a query with more than 1,000 values", function()
      local items = {}
      for i = 1, 11 do
        local list = {}
        for k = 1, 100 do list[k] = '"v' .. k .. '"' end
        items[i] = '{"subject":{"$in":[' .. table.concat(list, ",") .. ']}}'
      end
      rejected('{"$or":[' .. table.concat(items, ",") .. ']}', "more than 1000 values")
    end)

    it("takes the equal value with $gte and $lte", function()
      local res = listed('{"subject":{"$gte":"Power levels critical","$lte":"Power levels critical"}}')
      assert.are.equal(200, res.status)
      assert.are.equal(1, res.json.totalCount)
      assert.are.equal(EVENT, res.json.items[1].id)
    end)

    it("accepts $ci together with $eq, as the schema allows, comparing without case", function()
      local res = listed('{"subject":{"$eq":"FAN FAILURE","$ci":true}}')
      assert.are.equal(200, res.status)
      assert.are.equal(1, res.json.totalCount)
    end)

    it("accepts an eventTags condition wrapped in $eq", function()
      local res = listed('{"eventTags":{"$eq":{"line":"3"}}}')
      assert.are.equal(1, res.json.totalCount)
    end)

    it("refuses a bad query of events.patch and changes nothing", function()
      local res = sandbox.http("PATCH", url("/events?query=" .. enc('{"state":"new","level":["critical"]}')),
        { token = sandbox.token, json = { state = "resolved" } })
      assert.are.equal(400, res.status)
      assert.are.equal("new", get("/events/" .. EVENT).json.state)
    end)

    it("refuses a bad body query of events.delete and removes nothing", function()
      local res = send("POST", "/events/delete", { level = { "critical" } })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("/level: ", 1, true), res.json.message)
      assert.are.equal(6, get("/events").json.totalCount)
    end)

    it("refuses a 4 MiB events.delete query at once and removes nothing", function()
      local parts = {}
      for i = 1, 120000 do parts[i] = '{"subject":"s' .. i .. '"}' end
      local body = '{"$or":[' .. table.concat(parts, ",") .. ']}'
      body = body .. string.rep(" ", 4 * 1024 * 1024 - 64 - #body)
      local started = os.time()
      local res = sandbox.http("POST", url("/events/delete"), { token = sandbox.token, body = body,
        headers = { ["Content-Type"] = "application/json" } })
      assert.are.equal(400, res.status)
      assert.is_true(os.time() - started <= sandbox.time(5))
      assert.are.equal(6, get("/events").json.totalCount)
    end)

    it("refuses a bad query of mostRecentBySeverity", function()
      assert.are.equal(400, get("/events/mostRecentBySeverity?query=" .. enc('{"level":["critical"]}')).status)
    end)

    it("refuses a bad query of events.export", function()
      local res = send("POST", "/events/export", { query = { subject = { ["$startsWith"] = "" } } })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("/query/subject/$startsWith: ", 1, true), res.json.message)
    end)
  end)

  describe("params each call takes", function()
    local function enc(q) return (q:gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end)) end

    it("events.delete ignores filter, filterField, state and query in the query string: {} removes every event", function()
      local res = sandbox.http("POST", url("/events/delete?filterField=subject&filter=nothing*&state=resolved&query="
        .. enc('{"level":"info"}')), { token = sandbox.token, json = {} })
      assert.are.same({ removed = 6 }, res.json)
      assert.are.equal(0, get("/events").json.totalCount)
    end)

    it("events.delete with an empty body removes every event, whatever the query string says", function()
      local res = sandbox.http("POST", url("/events/delete?state=resolved"), { token = sandbox.token })
      assert.are.same({ removed = 6 }, res.json)
    end)

    it("events.get lets the query override state, filterField and filter", function()
      local res = get("/events?state=resolved&filter=nothing*&query=" .. enc('{"level":"critical"}'))
      assert.are.equal(4, res.json.totalCount)
    end)

    it("events.patch lets the query override state and filter", function()
      local path = "/events?state=resolved&filter=nothing*&query=" .. enc('{"subject":"Door left open"}')
      local res = sandbox.http("PATCH", url(path),
        { token = sandbox.token, json = { comment = "seen" } })
      assert.are.same({ success = true }, res.json)
      local door = get("/events/575ed0de7ae143cd83dc4aa8").json
      assert.are.equal("seen", door.updates[#door.updates].comment)
    end)

    it("events.patch ignores sortField, sortDirection, page and perPage", function()
      local res = sandbox.http("PATCH", url("/events?sortField=colour&sortDirection=up&page=-1&perPage=0&state=new"),
        { token = sandbox.token, json = { comment = "x" } })
      assert.are.equal(200, res.status)
    end)

    it("mostRecentBySeverity ignores state, filterField, sortField and perPage", function()
      local res = get("/events/mostRecentBySeverity?state=resolved&filterField=colour&sortField=colour&perPage=0")
      assert.are.equal(200, res.status)
      assert.are.equal(4, res.json.newCount)
    end)

    it("mostRecentBySeverity lets the query override filter", function()
      local res = get("/events/mostRecentBySeverity?filter=nothing*&query=" .. enc('{"level":"warning"}'))
      assert.are.equal(1, res.json.newCount)
      assert.are.equal("575ed0de7ae143cd83dc4aa8", res.json.event.id)
    end)
  end)

  describe("integrations", function()
    it("gets one", function()
      local res = get("/integrations/" .. INTEGRATION)
      assert.are.equal("mqtt", res.json.integrationType)
      assert.are.equal(INTEGRATION, res.json.integrationId)
    end)

    it("patches one", function()
      local res = send("PATCH", "/integrations/" .. INTEGRATION, { enabled = true })
      assert.are.equal(200, res.status)
      assert.is_true(res.json.enabled)
    end)

    it("rejects an invalid mqtt config naming the field", function()
      local res = send("PATCH", "/integrations/" .. INTEGRATION, { mqttConfig = { host = "h", protocol = "mqtt", port = 0 } })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("mqttConfig.port"))
    end)

    it("creates one with 201", function()
      local res = send("POST", "/integrations", { name = "New", integrationType = "particle",
        particleConfig = { accessToken = "t" } })
      assert.are.equal(201, res.status)
      assert.is_true(res.json.enabled)
    end)

    it("requires integrationType on create", function()
      local res = send("POST", "/integrations", { name = "New" })
      assert.are.equal(400, res.status)
      assert.truthy(res.json.message:find("integrationType"))
    end)

    it("lists with a glob on integrationType", function()
      local res = get("/integrations?filterField=integrationType&filter=mq*")
      assert.are.equal(1, res.json.totalCount)
    end)

    it("deletes one", function()
      assert.are.same({ success = true }, send("DELETE", "/integrations/" .. INTEGRATION .. "?includeWorkflows=true").json)
      assert.are.equal(404, get("/integrations/" .. INTEGRATION).status)
    end)
  end)

  it("answers 405 for a method the path does not take", function()
    local res = send("PUT", "/events/" .. EVENT, {})
    assert.are.equal(405, res.status)
    assert.truthy(res.headers["allow"])
  end)
end)

describe("the Losant sandbox rate limit", function()
  it("lets exactly N calls of one token through in one second of the clock", function()
    local sb = sandbox.start({ rate_limit = 3 })
    local statuses
    for _ = 1, 3 do -- a burst that straddles a second boundary proves nothing: try again
      local second = os.time()
      while os.time() == second do os.execute("sleep 0.01") end -- the start of a fresh second
      second = os.time()
      statuses = {}
      for i = 1, 5 do
        statuses[i] = sandbox.http("GET", sb.url .. "/applications/" .. APP .. "/events?perPage=1",
                                   { token = sandbox.token }).status
      end
      if os.time() == second then break end
      statuses = nil
    end
    sb.stop()
    assert.are.same({ 200, 200, 200, 429, 429 }, statuses)
  end)

  it("answers 429 with Retry-After beyond N calls per second of one token, whatever the calls", function()
    local sb = sandbox.start({ rate_limit = 2 })
    local statuses, retry, body = {}, nil, nil
    for i = 1, 6 do -- six: even split over a second boundary, one window gets three
      local res
      if i % 2 == 1 then
        res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/events",
          { token = sandbox.token, json = { level = "info", subject = "r" .. i } })
      else
        res = sandbox.http("GET", sb.url .. "/applications/" .. APP .. "/events?perPage=1", { token = sandbox.token })
      end
      statuses[#statuses + 1] = res.status
      if res.status == 429 then retry, body = res.headers["retry-after"], res.json end
    end
    sb.stop()
    local limited = 0
    for _, s in ipairs(statuses) do if s == 429 then limited = limited + 1 end end
    assert.is_true(limited >= 1)
    assert.are.equal("1", retry)
    assert.are.equal("TooManyRequests", body.type)
  end)
end)
