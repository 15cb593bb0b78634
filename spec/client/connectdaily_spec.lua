-- The Connect Daily client over real HTTP against the sandbox: what goes on
-- the wire (read back from the sandbox's record) and what comes back, and
-- the Julian Day Number conversions. The seed (spec/fixtures) is the
-- example seed's Connect Daily part plus event 50, which is locked: event
-- 42 is a weekly series on Tuesdays (2026-12-01 .. 2027-06-29) in calendar
-- 3, event 43 a one-time event in calendar 4; user "api" writes both
-- calendars, "viewer" only reads calendar 3, the token writes calendar 3.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local SEED = "spec/fixtures/connectdaily_seed.json"
local PASSWORD = "sandbox-password"
local TOKEN = "sandbox-calendar-token"
local GUID = "9f1c2d3e-0000-4000-8000-000000000042"
local EVENTS = "/calendar/restapi/v1/events"
local DEC_1, DEC_8 = 2461376, 2461383 -- 2026-12-01 and 2026-12-08, both Tuesdays

local jdn, date = eventapi.connectdaily.jdn, eventapi.connectdaily.date

local b64 = sandbox.base64

local fail = sandbox.rejection

--- True when the text appears anywhere in v: its tostring, or any key or
-- value of it, nested tables included.
local function mentions(v, text, seen)
  seen = seen or {}
  if type(v) == "table" then
    if seen[v] then return false end
    seen[v] = true
    for k, x in pairs(v) do
      if mentions(k, text, seen) or mentions(x, text, seen) then return true end
    end
    return false
  end
  return tostring(v):find(text, 1, true) ~= nil
end

--- Raises unless f raises; returns the message.
local function raises(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error was raised")
  return tostring(err)
end

describe("the Connect Daily client", function()
  local sb, cd

  local function record() return sandbox.requests(sb) end
  local function last_request()
    local r = record()
    return r[#r]
  end
  local function client(options)
    options.url = options.url or sb.url .. "/calendar"
    return eventapi.connectdaily(options)
  end

  before_each(function()
    sb = sandbox.start({ seed = SEED })
    cd = client({ user = "api", password = PASSWORD })
  end)
  after_each(function()
    cd:close()
    sb.stop()
  end)

  describe("on the wire", function()
    it("get sends GET of the event under the base URL's context path, without a body", function()
      cd.events.get({ cal_item_id = 42 }):await()
      local r = last_request()
      assert.are.equal("GET", r.method)
      assert.are.equal(EVENTS .. "/42", r.path)
      assert.are.equal("", r.query)
      assert.are.equal("", r.body)
      assert.is_nil(r.headers["content-type"])
      assert.are.equal("application/json", r.headers.accept)
      assert.truthy(r.headers["user-agent"]:match("^eventapi/%S+ libcurl/%S+ Lua 5%.4$"))
    end)

    it("update sends PUT with the whole event as JSON", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      ev.description = "Board meeting (moved)"
      cd.events.update({ cal_item_id = 42, event = ev }):await()
      local r = last_request()
      assert.are.equal("PUT", r.method)
      assert.are.equal(EVENTS .. "/42", r.path)
      assert.are.equal("", r.query)
      assert.are.equal("application/json", r.headers["content-type"])
      local sent = eventapi.json.decode(r.body)
      assert.are.same(ev, sent)
      assert.are.equal("[]", eventapi.json.encode(sent.exceptions))
    end)

    it("create sends POST to the events collection with the event as JSON", function()
      cd.events.create({ event = { calendar_id = 3, description = "Budget review", starting_date = "2026-12-10",
                                   starting_time = "14:00", ending_time = "15:00" } }):await()
      local r = last_request()
      assert.are.equal("POST", r.method)
      assert.are.equal(EVENTS, r.path)
      assert.are.equal("", r.query)
      assert.are.equal("application/json", r.headers["content-type"])
      assert.are.same({ calendar_id = 3, description = "Budget review", starting_date = "2026-12-10",
                        starting_time = "14:00", ending_time = "15:00" }, eventapi.json.decode(r.body))
    end)

    it("fork sends POST with fork=1 and the yyyy-mm-dd date in the query and no body", function()
      cd.events.fork({ cal_item_id = 42, starting_date = "2026-12-08" }):await()
      local r = last_request()
      assert.are.equal("POST", r.method)
      assert.are.equal(EVENTS .. "/42", r.path)
      assert.are.equal("fork=1&starting_date=2026-12-08", r.query)
      assert.are.equal("", r.body)
      assert.is_nil(r.headers["content-type"]) -- libcurl's form type included
    end)

    it("delete sends DELETE of the event without a body", function()
      cd.events.delete({ cal_item_id = 43 }):await()
      local r = last_request()
      assert.are.equal("DELETE", r.method)
      assert.are.equal(EVENTS .. "/43", r.path)
      assert.are.equal("", r.query)
      assert.are.equal("", r.body)
      assert.is_nil(r.headers["content-type"])
    end)

    it("keeps a deeper context path and drops trailing slashes of the base URL", function()
      local c = client({ url = sb.url .. "/apps/calendar//", user = "api", password = PASSWORD })
      assert.are.equal(42, c.events.get({ cal_item_id = 42 }):await().cal_item_id)
      assert.are.equal("/apps/calendar/restapi/v1/events/42", last_request().path)
    end)

    it("does not let the caller set fork itself", function()
      local err = fail(cd.events.fork({ cal_item_id = 42, starting_date = "2026-12-08", fork = 0 }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("'fork'", 1, true))
      assert.are.equal(0, #record())
    end)

    it("refuses an unknown param before any traffic", function()
      local err = fail(cd.events.get({ cal_item_id = 42, calitemid = 42 }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("calitemid", 1, true))
      assert.are.equal(0, #record())
    end)

    it("refuses an update or create without an event table before any traffic", function()
      assert.are.equal("InvalidParams", fail(cd.events.update({ cal_item_id = 42 })).type)
      assert.are.equal("InvalidParams", fail(cd.events.create({})).type)
      local err = fail(cd.events.create({ event = "{}" }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("event", 1, true))
      assert.are.equal(0, #record())
    end)
  end)

  describe("addressing", function()
    it("reaches an event by its integer cal_item_id", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      assert.are.equal(GUID, ev.itemguid)
    end)

    it("accepts a cal_item_id written as a string of digits", function()
      assert.are.equal(42, cd.events.get({ cal_item_id = "42" }):await().cal_item_id)
      assert.are.equal(EVENTS .. "/42", last_request().path)
    end)

    it("reaches an event by itemguid as the path segment itemguid=<guid>", function()
      local ev = cd.events.get({ itemguid = GUID }):await()
      assert.are.equal(42, ev.cal_item_id)
      assert.are.equal(EVENTS .. "/itemguid=" .. GUID, last_request().path)
    end)

    it("updates, forks and deletes by itemguid too", function()
      local ev = cd.events.get({ itemguid = GUID }):await()
      ev.long_description = "Room 102"
      assert.are.equal("Room 102", cd.events.update({ itemguid = GUID, event = ev }):await().long_description)
      assert.are.equal(EVENTS .. "/itemguid=" .. GUID, last_request().path)
      local copy = cd.events.fork({ itemguid = GUID, starting_date = DEC_8 }):await()
      assert.are.equal(EVENTS .. "/itemguid=" .. GUID, last_request().path)
      local copy_guid = cd.events.get({ cal_item_id = copy }):await().itemguid
      assert.is_true(cd.events.delete({ itemguid = copy_guid }):await())
      assert.are.equal("DELETE", last_request().method)
      assert.are.equal(EVENTS .. "/itemguid=" .. copy_guid, last_request().path)
    end)

    it("percent-encodes a hostile itemguid so it stays in its segment", function()
      local guid = "a/b?c d#e%f"
      local err = fail(cd.events.get({ itemguid = guid }))
      assert.are.equal("NotFound", err.type)
      local r = last_request()
      assert.are.equal(EVENTS .. "/itemguid=a%2Fb%3Fc%20d%23e%25f", r.path)
      assert.are.equal("", r.query)
    end)

    for _, op in ipairs({ "get", "update", "fork", "delete" }) do
      it(op .. " without cal_item_id or itemguid is InvalidParams before any traffic", function()
        local params = { update = { event = { calendar_id = 3 } }, fork = { starting_date = DEC_8 } }
        local err = fail(cd.events[op](params[op] or {}))
        assert.are.equal("InvalidParams", err.type)
        assert.truthy(err.message:find("cal_item_id", 1, true))
        assert.truthy(err.message:find("itemguid", 1, true))
        assert.truthy(err.message:find("events." .. op, 1, true))
        assert.are.equal(0, #record())
      end)
    end

    it("refuses both cal_item_id and itemguid before any traffic", function()
      local err = fail(cd.events.get({ cal_item_id = 42, itemguid = GUID }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("not both", 1, true))
      assert.are.equal(0, #record())
    end)

    for _, bad in ipairs({ 0, -1, "abc", 1.5, "-1", "4 2", "", true, {} }) do
      it("refuses the cal_item_id " .. (type(bad) == "string" and ("%q"):format(bad) or tostring(bad)):gsub("table: 0x%x+", "{}")
         .. " before any traffic", function()
        local err = fail(cd.events.get({ cal_item_id = bad }))
        assert.are.equal("InvalidParams", err.type)
        assert.are.equal("events.get: cal_item_id must be a positive integer", err.message)
        assert.are.equal(0, #record())
      end)
    end

    it("refuses an empty or non-string itemguid before any traffic", function()
      assert.are.equal("InvalidParams", fail(cd.events.get({ itemguid = "" })).type)
      assert.are.equal("InvalidParams", fail(cd.events.get({ itemguid = 42 })).type)
      assert.are.equal(0, #record())
    end)
  end)

  describe("authentication", function()
    it("sends user and password as HTTP Basic", function()
      cd.events.get({ cal_item_id = 42 }):await()
      assert.are.equal("Basic " .. b64("api:" .. PASSWORD), last_request().headers.authorization)
    end)

    it("sends a token as a bearer token", function()
      local c = client({ token = TOKEN })
      local ev = c.events.get({ cal_item_id = 42 }):await()
      assert.are.equal(42, ev.cal_item_id)
      assert.are.equal("Bearer " .. TOKEN, last_request().headers.authorization)
    end)

    it("writes with the token where it has write permission", function()
      local c = client({ token = TOKEN })
      local id = c.events.fork({ cal_item_id = 42, starting_date = "2026-12-15" }):await()
      assert.are.equal("integer", math.type(id))
    end)

    it("sends the extra headers on every call, with the credentials", function()
      local c = client({ user = "api", password = PASSWORD, headers = { ["X-Tenant"] = "acme", ["X-Trace"] = "t-1" } })
      c.events.get({ cal_item_id = 42 }):await()
      c.events.create({ event = { calendar_id = 3, description = "x", starting_date = "2026-12-10" } }):await()
      for _, r in ipairs(record()) do
        assert.are.equal("acme", r.headers["x-tenant"])
        assert.are.equal("t-1", r.headers["x-trace"])
        assert.are.equal("Basic " .. b64("api:" .. PASSWORD), r.headers.authorization)
      end
      assert.are.equal(2, #record())
    end)

    it("may authenticate with headers alone", function()
      local c = client({ headers = { Authorization = "Bearer " .. TOKEN } })
      assert.are.equal(42, c.events.get({ cal_item_id = 42 }):await().cal_item_id)
      assert.are.equal("Bearer " .. TOKEN, last_request().headers.authorization)
    end)

    it("requires the url option, so credentials never go to a guessed host", function()
      local ok, err = pcall(eventapi.connectdaily, { user = "api", password = PASSWORD })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("url", 1, true))
    end)

    it("refuses a token together with a user", function()
      local ok, err = pcall(client, { token = TOKEN, user = "api", password = PASSWORD })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
    end)

    it("refuses a password without a user, rather than sending no credentials", function()
      local ok, err = pcall(client, { password = PASSWORD })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("password needs user", 1, true))
      assert.is_nil(tostring(err):find(PASSWORD, 1, true))
    end)

    it("refuses a header value carrying CR or LF", function()
      local ok, err = pcall(client, { headers = { ["X-Tenant"] = "a\r\nX-Evil: 1" } })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
    end)

    it("turns 401 into Unauthorized with the server's message", function()
      local c = client({ user = "api", password = "not-the-password" })
      local err = fail(c.events.get({ cal_item_id = 42 }))
      assert.are.equal(401, err.status)
      assert.are.equal("Unauthorized", err.type)
      assert.are.equal("Authentication required", err.message)
    end)

    it("turns a call without credentials into Unauthorized", function()
      local c = client({})
      assert.are.equal("Unauthorized", fail(c.events.get({ cal_item_id = 42 })).type)
      assert.is_nil(last_request().headers.authorization)
    end)
  end)

  describe("secrets", function()
    local function assert_secret_kept(err, secret)
      assert.is_nil(tostring(err):find(secret, 1, true))
      assert.is_nil(tostring(err.url):find(secret, 1, true))
      assert.is_nil(tostring(err.message):find(secret, 1, true))
      assert.is_false(mentions(err, secret))
    end

    it("never shows the password in the error of a failing call", function()
      local c = client({ user = "api", password = "pw-0123-secret" })
      local err = fail(c.events.get({ cal_item_id = 42 }))
      assert.are.equal(401, err.status)
      assert_secret_kept(err, "pw-0123-secret")
      assert_secret_kept(err, b64("api:pw-0123-secret"))
    end)

    it("never shows the password when the call fails after authenticating", function()
      local err = fail(cd.events.get({ cal_item_id = 999 }))
      assert.are.equal("NotFound", err.type)
      assert_secret_kept(err, PASSWORD)
      assert_secret_kept(err, b64("api:" .. PASSWORD))
    end)

    it("never shows the token in the error of a failing call", function()
      local c = client({ token = "tok-0123-secret" })
      local err = fail(c.events.get({ cal_item_id = 42 }))
      assert.are.equal("Unauthorized", err.type)
      assert_secret_kept(err, "tok-0123-secret")
      local good = client({ token = TOKEN })
      err = fail(good.events.delete({ cal_item_id = 43 }))
      assert.are.equal("Forbidden", err.type)
      assert_secret_kept(err, TOKEN)
    end)

    it("removes user:password given in the URL from the error", function()
      local c = client({ url = sb.url:gsub("^http://", "http://api:" .. PASSWORD .. "@") .. "/calendar" })
      assert.are.equal(42, c.events.get({ cal_item_id = 42 }):await().cal_item_id)
      local err = fail(c.events.get({ cal_item_id = 999 }))
      assert.are.equal("NotFound", err.type)
      assert.are.equal(sb.url .. EVENTS .. "/999", err.url)
      assert_secret_kept(err, PASSWORD)
    end)

    it("never shows the password when the connection fails", function()
      local c = client({ url = "http://127.0.0.1:1/calendar", user = "api", password = "pw-0123-secret" })
      local err = fail(c.events.get({ cal_item_id = 42 }))
      assert.are.equal("ConnectionFailed", err.type)
      assert_secret_kept(err, "pw-0123-secret")
    end)
  end)

  describe("results", function()
    it("request reaches any other endpoint with the same answer mapping", function()
      local ev = cd:request({ path = "/restapi/v1/events/42" }):await()
      assert.are.equal("Weekly board meeting", ev.description)
      local err = fail(cd:request({ method = "DELETE", path = "/restapi/v1/events/50" }))
      assert.are.equal("ConnectDailyError", err.type)
    end)

    it("get resolves with the event, dates as Julian Day Numbers", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      assert.are.equal("Weekly board meeting", ev.description)
      assert.are.equal(DEC_1, ev.starting_date)
      assert.are.equal("2027-06-29", date(ev.ending_date))
      assert.are.equal("09:00", ev.starting_time)
      assert.are.equal(1, ev.rec_type)
      assert.are.equal(1, ev.version)
      assert.are.same({}, ev.exceptions)
    end)

    it("update resolves with the updated event, as a later get returns it", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      ev.starting_time, ev.ending_time = "10:00", "11:00"
      local updated = cd.events.update({ cal_item_id = 42, event = ev }):await()
      assert.are.equal("10:00", updated.starting_time)
      assert.are.equal(2, updated.version)
      assert.are.same(updated, cd.events.get({ cal_item_id = 42 }):await())
    end)

    it("create resolves with the created event and its new cal_item_id", function()
      local ev = cd.events.create({ event = { calendar_id = 4, description = "Boiler service",
                                              starting_date = "2026-12-10" } }):await()
      assert.are.equal("integer", math.type(ev.cal_item_id))
      assert.are.equal(1, ev.version)
      assert.are.equal(3, ev.rec_type)
      assert.are.equal(jdn("2026-12-10"), ev.starting_date)
      assert.are.equal("Boiler service", cd.events.get({ cal_item_id = ev.cal_item_id }):await().description)
    end)

    it("fork resolves with the integer cal_item_id of a one-time copy on that date", function()
      local id = cd.events.fork({ cal_item_id = 42, starting_date = "2026-12-08" }):await()
      assert.are.equal("integer", math.type(id))
      assert.are_not.equal(42, id)
      local copy = cd.events.get({ cal_item_id = id }):await()
      assert.are.equal(3, copy.rec_type)
      assert.are.equal(DEC_8, copy.starting_date)
      assert.are.equal("Weekly board meeting", copy.description)
      assert.are.equal("09:00", copy.starting_time)
    end)

    it("fork makes the series list that date in its exceptions", function()
      cd.events.fork({ cal_item_id = 42, starting_date = "2026-12-08" }):await()
      local series = cd.events.get({ cal_item_id = 42 }):await()
      assert.are.same({ DEC_8 }, series.exceptions)
      assert.are.equal(2, series.version)
    end)

    it("delete resolves with true on 204, and the event is gone", function()
      assert.is_true(cd.events.delete({ cal_item_id = 43 }):await())
      assert.are.equal("NotFound", fail(cd.events.get({ cal_item_id = 43 })).type)
    end)

    it("delivers a read event that can be PUT back unchanged", function()
      local ev = cd.events.get({ cal_item_id = 43 }):await()
      local again = cd.events.update({ cal_item_id = 43, event = ev }):await()
      assert.are.equal(eventapi.null, again.starting_time)
      assert.are.equal(ev.version + 1, again.version)
      ev.version = nil; again.version = nil
      assert.are.same(ev, again)
    end)
  end)

  describe("errors", function()
    it("reject a 200 with error 1 from a PUT of an invalid event as ConnectDailyError, the message kept", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      ev.description = ""
      local err = fail(cd.events.update({ cal_item_id = 42, event = ev }))
      assert.are.equal("ConnectDailyError", err.type)
      assert.are.equal(200, err.status)
      assert.are.equal("description must be a non-empty string", err.message)
      assert.are.equal(1, err.body.error)
      assert.are.equal("PUT", err.method)
      assert.are.equal(("ConnectDailyError (200): description must be a non-empty string [PUT %s%s/42]")
        :format(sb.url, EVENTS), tostring(err))
    end)

    it("leave the event unchanged after a refused PUT", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      ev.rec_type = "weekly"
      local err = fail(cd.events.update({ cal_item_id = 42, event = ev }))
      assert.are.equal("ConnectDailyError", err.type)
      assert.truthy(err.message:find("rec_type", 1, true))
      local now = cd.events.get({ cal_item_id = 42 }):await()
      assert.are.equal(1, now.rec_type)
      assert.are.equal(1, now.version)
    end)

    it("reject a 200 with error 1 from a PUT to an unknown calendar as ConnectDailyError", function()
      local ev = cd.events.get({ cal_item_id = 42 }):await()
      ev.calendar_id = 99
      local err = fail(cd.events.update({ cal_item_id = 42, event = ev }))
      assert.are.equal("ConnectDailyError", err.type)
      assert.truthy(err.message:find("calendar_id", 1, true), err.message)
      assert.are.equal(3, cd.events.get({ cal_item_id = 42 }):await().calendar_id)
    end)

    it("reject the delete of a locked event as ConnectDailyError, the event kept", function()
      local err = fail(cd.events.delete({ cal_item_id = 50 }))
      assert.are.equal("ConnectDailyError", err.type)
      assert.are.equal(200, err.status)
      assert.truthy(err.message:find("locked", 1, true))
      assert.are.equal(err.body.message, err.message)
      assert.are.equal(50, cd.events.get({ cal_item_id = 50 }):await().cal_item_id)
    end)

    it("turn 403 into Forbidden for a user who may only read", function()
      local viewer = client({ user = "viewer", password = "viewer-password" })
      local ev = viewer.events.get({ cal_item_id = 42 }):await()
      ev.description = "Hijacked"
      local err = fail(viewer.events.update({ cal_item_id = 42, event = ev }))
      assert.are.equal(403, err.status)
      assert.are.equal("Forbidden", err.type)
      assert.are.equal("Access denied", err.message)
      assert.are.equal("Forbidden", fail(viewer.events.create({ event = { calendar_id = 3, description = "x",
                                                                           starting_date = DEC_1 } })).type)
      assert.are.equal("Forbidden", fail(viewer.events.fork({ cal_item_id = 42, starting_date = DEC_8 })).type)
      assert.are.equal("Forbidden", fail(viewer.events.delete({ cal_item_id = 42 })).type)
      assert.are.equal("Weekly board meeting", cd.events.get({ cal_item_id = 42 }):await().description)
    end)

    it("turn 403 into Forbidden for a PUT moving an event to a calendar the token only reads", function()
      local c = client({ token = TOKEN })
      local ev = c.events.get({ cal_item_id = 42 }):await()
      ev.calendar_id = 4
      local err = fail(c.events.update({ cal_item_id = 42, event = ev }))
      assert.are.equal(403, err.status)
      assert.are.equal("Forbidden", err.type)
    end)

    it("turn 404 into NotFound with a readable line", function()
      local err = fail(cd.events.get({ cal_item_id = 999 }))
      assert.are.equal(404, err.status)
      assert.are.equal("NotFound", err.type)
      assert.are.equal("Event not found", err.message)
      assert.are.equal(("NotFound (404): Event not found [GET %s%s/999]"):format(sb.url, EVENTS), tostring(err))
      assert.are.equal("NotFound", fail(cd.events.delete({ itemguid = "no-such-guid" })).type)
    end)

    it("turn 409 on a PUT with an old version into Conflict", function()
      local mine = cd.events.get({ cal_item_id = 42 }):await()
      local theirs = cd.events.get({ cal_item_id = 42 }):await()
      theirs.long_description = "Room 7"
      cd.events.update({ cal_item_id = 42, event = theirs }):await()
      mine.starting_time = "08:00"
      local err = fail(cd.events.update({ cal_item_id = 42, event = mine }))
      assert.are.equal(409, err.status)
      assert.are.equal("Conflict", err.type)
      assert.truthy(err.message:find("changed by someone else", 1, true))
      assert.are.equal("Room 7", cd.events.get({ cal_item_id = 42 }):await().long_description)
    end)

    it("turn a 409 into Conflict even when the server names a type of its own", function()
      local nginx = require "helpers.nginx"
      local dir = nginx.tempdir()
      local server = nginx.start(dir, function(port)
        return ("  server { listen 127.0.0.1:%d; default_type application/json; location / {"
          .. [[ return 409 '{"error":1,"type":"VersionMismatch","message":"changed by someone else"}'; } }]])
          :format(port)
      end)
      local c = eventapi.connectdaily({ url = server.url .. "/calendar", user = "api", password = PASSWORD })
      local err = fail(c.events.update({ cal_item_id = 42, event = { name = "x" } }))
      server.stop()
      nginx.remove(dir)
      assert.are.equal(409, err.status)
      assert.are.equal("Conflict", err.type)
      assert.are.equal("changed by someone else", err.message)
    end)

    it("take a 200 with error false (or 0) as the answer, not as a ConnectDailyError", function()
      local nginx = require "helpers.nginx"
      local dir = nginx.tempdir()
      local server = nginx.start(dir, function(port)
        return ("  server { listen 127.0.0.1:%d; default_type application/json;"
          .. [[ location /calendar/restapi/v1/events/42 { return 200 '{"error":false,"cal_item_id":42}'; }]]
          .. [[ location /calendar/restapi/v1/events/43 { return 200 '{"error":0,"cal_item_id":43}'; } }]])
          :format(port)
      end)
      local c = eventapi.connectdaily({ url = server.url .. "/calendar", user = "api", password = PASSWORD })
      local ok42, ev42 = pcall(function() return c.events.get({ cal_item_id = 42 }):await() end)
      local ok43, ev43 = pcall(function() return c.events.get({ cal_item_id = 43 }):await() end)
      server.stop()
      nginx.remove(dir)
      assert.is_true(ok42, tostring(ev42))
      assert.are.equal(42, ev42.cal_item_id)
      assert.is_true(ok43, tostring(ev43))
      assert.are.equal(43, ev43.cal_item_id)
    end)

    it("let a runbook re-read and retry after a Conflict", function()
      local function move_to_8am()
        local ev = cd.events.get({ cal_item_id = 42 }):await()
        ev.starting_time, ev.ending_time = "08:00", "09:00"
        return cd.events.update({ cal_item_id = 42, event = ev })
      end
      local stale = cd.events.get({ cal_item_id = 42 }):await()
      cd.events.fork({ cal_item_id = 42, starting_date = DEC_8 }):await() -- bumps the series' version
      stale.starting_time = "08:00"
      local attempts, result = 0
      local p = cd.events.update({ cal_item_id = 42, event = stale })
      while true do
        attempts = attempts + 1
        local ok, v = pcall(p.await, p)
        if ok then result = v break end
        assert.are.equal("Conflict", v.type)
        p = move_to_8am()
      end
      assert.are.equal(2, attempts)
      assert.are.equal("08:00", result.starting_time)
      assert.are.same({ DEC_8 }, result.exceptions)
      assert.are.equal(3, result.version)
    end)

    it("turn 400 on a fork for a day the series does not occur on into BadRequest, the message kept", function()
      local err = fail(cd.events.fork({ cal_item_id = 42, starting_date = "2026-12-09" }))
      assert.are.equal(400, err.status)
      assert.are.equal("BadRequest", err.type)
      assert.are.equal("The series does not occur on that date", err.message)
      assert.are.equal(1, err.body.error)
      assert.are.same({}, cd.events.get({ cal_item_id = 42 }):await().exceptions)
    end)

    it("turn 400 on a second fork of the same day, or a fork of a one-time event, into BadRequest", function()
      cd.events.fork({ cal_item_id = 42, starting_date = DEC_8 }):await()
      assert.are.equal("BadRequest", fail(cd.events.fork({ cal_item_id = 42, starting_date = DEC_8 })).type)
      assert.are.equal("BadRequest", fail(cd.events.fork({ cal_item_id = 43, starting_date = "2026-12-03" })).type)
    end)

    it("turn 500 on a create for an unknown calendar into ServerError, the message kept", function()
      local err = fail(cd.events.create({ event = { calendar_id = 99, description = "x", starting_date = DEC_1 } }))
      assert.are.equal(500, err.status)
      assert.are.equal("ServerError", err.type)
      assert.are.equal("calendar_id does not name a calendar", err.message)
      assert.are.equal(1, err.body.error)
    end)

    it("turn 500 on a create of an invalid event into ServerError naming the field", function()
      local err = fail(cd.events.create({ event = { calendar_id = 3, description = "x", starting_date = DEC_1,
                                                    starting_time = "25:00" } }))
      assert.are.equal(500, err.status)
      assert.are.equal("ServerError", err.type)
      assert.truthy(err.message:find("starting_time", 1, true), err.message)
    end)

    it("leave the client working after a failure", function()
      fail(cd.events.get({ cal_item_id = 999 }))
      assert.are.equal(42, cd.events.get({ cal_item_id = 42 }):await().cal_item_id)
    end)
  end)

  describe("dates on the wire", function()
    it("sends starting_date, ending_date and exceptions as given, JDN or yyyy-mm-dd", function()
      local ev = cd.events.create({ event = { calendar_id = 3, description = "Daily stand-up", rec_type = 0,
                                              starting_date = DEC_1, ending_date = "2026-12-31",
                                              exceptions = { "2026-12-25", 2461407 } } }):await()
      local sent = eventapi.json.decode(last_request().body)
      assert.are.equal(DEC_1, sent.starting_date)
      assert.are.equal("integer", math.type(sent.starting_date))
      assert.are.equal("2026-12-31", sent.ending_date)
      assert.are.same({ "2026-12-25", 2461407 }, sent.exceptions)
      assert.are.equal(jdn("2026-12-31"), ev.ending_date)
      assert.are.same({ jdn("2026-12-25"), jdn("2027-01-01") }, ev.exceptions)
    end)

    it("sends an empty exceptions list as [] and leaves the caller's table alone", function()
      local exceptions = {}
      local event = { calendar_id = 3, description = "x", starting_date = DEC_1, exceptions = exceptions }
      local ev = cd.events.create({ event = event }):await()
      assert.truthy(last_request().body:find('"exceptions":[]', 1, true))
      assert.are.same({}, ev.exceptions)
      assert.are.equal(exceptions, event.exceptions)
      assert.is_nil(getmetatable(exceptions))
    end)

    it("sends fork's starting_date given as a JDN as yyyy-mm-dd", function()
      local id = cd.events.fork({ cal_item_id = 42, starting_date = DEC_8 }):await()
      assert.are.equal("fork=1&starting_date=2026-12-08", last_request().query)
      assert.are.equal(DEC_8, cd.events.get({ cal_item_id = id }):await().starting_date)
    end)

    local bad = {
      { "create", { event = { calendar_id = 3, description = "x", starting_date = "2026-02-29" } }, "starting_date" },
      { "create", { event = { calendar_id = 3, description = "x", starting_date = DEC_1, ending_date = 5373485 } },
        "ending_date" },
      { "create", { event = { calendar_id = 3, description = "x", starting_date = 2461376.0 } }, "starting_date" },
      { "create", { event = { calendar_id = 3, description = "x", starting_date = DEC_1,
                              exceptions = { "2026-12-08", "2026-13-01" } } }, "exceptions[2]" },
      { "create", { event = { calendar_id = 3, description = "x", starting_date = DEC_1, exceptions = { 1721425 } } },
        "exceptions[1]" },
      { "create", { event = { calendar_id = 3, description = "x", starting_date = DEC_1, exceptions = "2026-12-08" } },
        "exceptions" },
      { "create", { event = { calendar_id = 3, description = "x", starting_date = DEC_1,
                              exceptions = { [1] = DEC_8, [3] = DEC_1 } } }, "exceptions" },
      { "update", { cal_item_id = 42, event = { calendar_id = 3, description = "x", starting_date = "2026-12-1" } },
        "starting_date" },
      { "update", { cal_item_id = 42, event = { calendar_id = 3, description = "x", starting_date = DEC_1,
                                                ending_date = "10000-01-01" } }, "ending_date" },
      { "fork", { cal_item_id = 42, starting_date = "2026-12-32" }, "starting_date" },
      { "fork", { cal_item_id = 42, starting_date = 1721425 }, "starting_date" },
      { "fork", { cal_item_id = 42, starting_date = "12/08/2026" }, "starting_date" },
      { "fork", { cal_item_id = 42, starting_date = 2461383.5 }, "starting_date" },
      { "fork", { cal_item_id = 42 }, "starting_date" },
    }
    for i, case in ipairs(bad) do
      local op, params, field = table.unpack(case)
      it(("refuses a bad date in %s naming %s before any traffic (case %d)"):format(op, field, i), function()
        local err = fail(cd.events[op](params))
        assert.are.equal("InvalidParams", err.type)
        assert.truthy(err.message:find("events." .. op, 1, true), err.message)
        assert.truthy(err.message:find(field, 1, true), err.message)
        assert.are.equal(0, #record())
      end)
    end
  end)

  describe("callbacks and await", function()
    it("call back with (nil, event) from the loop, never inside the call", function()
      local got
      cd.events.get({ cal_item_id = 42 }, function(err, ev) got = { err = err, ev = ev } end)
      assert.is_nil(got)
      eventapi.run()
      assert.is_nil(got.err)
      assert.are.equal(42, got.ev.cal_item_id)
    end)

    it("call back with (err, nil) on failure", function()
      local got
      cd.events.delete({ cal_item_id = 50 }, function(err, ok) got = { err = err, ok = ok } end)
      eventapi.run()
      assert.are.equal("ConnectDailyError", got.err.type)
      assert.is_nil(got.ok)
    end)

    it("call back with InvalidParams for bad params, from the loop", function()
      local got
      cd.events.get({}, function(err) got = err end)
      assert.is_nil(got)
      eventapi.run()
      assert.are.equal("InvalidParams", got.type)
      assert.are.equal(0, #record())
    end)

    it("call back with the fork's new cal_item_id", function()
      local got
      cd.events.fork({ cal_item_id = 42, starting_date = DEC_8 }, function(err, id) got = { err, id } end)
      eventapi.run()
      assert.is_nil(got[1])
      assert.are.equal("integer", math.type(got[2]))
    end)

    it("await inside spawn lets several calls run on one loop", function()
      local result = eventapi.spawn(function()
        local series = cd.events.get({ cal_item_id = 42 }):await()
        local id = cd.events.fork({ cal_item_id = 42, starting_date = series.starting_date + 7 }):await()
        return cd.events.get({ cal_item_id = id }):await()
      end)
      local other = cd.events.get({ cal_item_id = 43 })
      local copy, drill = table.unpack(eventapi.all({ result, other }):await())
      assert.are.equal(DEC_8, copy.starting_date)
      assert.are.equal("Fire drill", drill.description)
    end)

    it("chain with next and catch", function()
      local seen
      cd.events.get({ cal_item_id = 999 })
        :next(function() seen = "fulfilled" end)
        :catch(function(err) seen = err.type end)
      eventapi.run()
      assert.are.equal("NotFound", seen)
    end)
  end)
end)

describe("Julian Day Numbers", function()
  local JDN_MIN, JDN_MAX = 1721426, 5373484

  it("jdn and date agree on 2000-01-01 = 2451545", function()
    assert.are.equal(2451545, jdn("2000-01-01"))
    assert.are.equal("2000-01-01", date(2451545))
  end)

  it("jdn and date agree on 2026-12-01 = 2461376", function()
    assert.are.equal(2461376, jdn("2026-12-01"))
    assert.are.equal("2026-12-01", date(2461376))
  end)

  it("jdn returns an integer", function()
    assert.are.equal("integer", math.type(jdn("2026-12-01")))
  end)

  it("counts 2026-12-01 as a Tuesday, (jdn + 1) % 7 == 2", function()
    assert.are.equal(2, (jdn("2026-12-01") + 1) % 7)
  end)

  it("knows 2000 and 2024 are leap years and 1900 and 2023 are not", function()
    assert.are.equal(jdn("2000-03-01") - 1, jdn("2000-02-29"))
    assert.are.equal(jdn("2024-03-01") - 1, jdn("2024-02-29"))
    assert.are.equal("2000-02-29", date(jdn("2000-02-28") + 1))
    assert.are.equal("1900-03-01", date(jdn("1900-02-28") + 1))
    assert.are.equal("2023-03-01", date(jdn("2023-02-28") + 1))
    assert.truthy(raises(jdn, "1900-02-29"):find("not a real", 1, true))
    assert.truthy(raises(jdn, "2023-02-29"):find("not a real", 1, true))
    assert.are.equal(366, jdn("2001-01-01") - jdn("2000-01-01"))
    assert.are.equal(365, jdn("1901-01-01") - jdn("1900-01-01"))
  end)

  it("is proleptic Gregorian across the 1582 switch", function()
    assert.are.equal(jdn("1582-10-09") + 1, jdn("1582-10-10"))
    assert.are.equal(2299161, jdn("1582-10-15"))
    assert.are.equal("1582-10-15", date(2299161))
    assert.are.equal("1582-10-05", date(2299151))
    assert.are.equal(jdn("1582-10-04") + 11, jdn("1582-10-15"))
  end)

  it("reaches year 1: 0001-01-01 = 1721426", function()
    assert.are.equal(1721426, jdn("0001-01-01"))
    assert.are.equal("0001-01-01", date(1721426))
  end)

  it("reaches year 9999: 9999-12-31 = 5373484", function()
    assert.are.equal(5373484, jdn("9999-12-31"))
    assert.are.equal("9999-12-31", date(5373484))
  end)

  it("refuses dates before year 1 or after 9999", function()
    assert.truthy(raises(jdn, "0000-12-31"):find("0000-12-31", 1, true))
    assert.truthy(raises(jdn, "10000-01-01"):find("10000-01-01", 1, true))
    assert.truthy(raises(date, 1721425):find("1721426", 1, true))
    assert.truthy(raises(date, 5373485):find("5373484", 1, true))
    raises(date, 0)
    raises(date, -2451545)
    raises(date, math.maxinteger)
    raises(date, math.mininteger)
  end)

  for _, text in ipairs({ "2026-13-01", "2026-00-10", "2026-12-32", "2026-12-00", "2026-04-31", "2026-1-1",
                          "26-12-01", " 2026-12-01", "2026-12-01 ", "2026-12-01T00:00", "2026/12/01",
                          "+026-12-01", "2026-12-\u{661}1", "", "yyyy-mm-dd" }) do
    it(("jdn refuses the string %q"):format(text), function()
      assert.truthy(raises(jdn, text):find("is not a real yyyy-mm-dd date", 1, true))
    end)
  end

  it("jdn refuses what is not a string", function()
    for _, v in ipairs({ 2461376, true, {} }) do
      assert.truthy(raises(jdn, v):find("must be a yyyy-mm-dd string", 1, true))
    end
    assert.truthy(raises(jdn, nil):find("must be a yyyy-mm-dd string", 1, true))
  end)

  it("date refuses what is not an integer", function()
    for _, v in ipairs({ "2461376", 2461376.5, 2461376.0, true, {} }) do
      assert.truthy(raises(date, v):find("must be an integer", 1, true))
    end
    assert.truthy(raises(date, nil):find("must be an integer", 1, true))
  end)

  -- Walks the calendar day by day with its own month lengths, checking that
  -- each day's JDN is one more than the day before's and converts back.
  local function walk(first_year, last_year)
    local n = jdn(("%04d-01-01"):format(first_year)) - 1
    local lengths = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    local days = 0
    for y = first_year, last_year do
      local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
      for m = 1, 12 do
        for d = 1, (m == 2 and leap) and 29 or lengths[m] do
          local text = ("%04d-%02d-%02d"):format(y, m, d)
          n = n + 1
          days = days + 1
          if jdn(text) ~= n or date(n) ~= text then
            error(("%s: jdn %s, expected %d; date(%d) %s"):format(text, tostring(jdn(text)), n, n, date(n)))
          end
        end
      end
    end
    return days, n
  end

  it("round-trips every day of 1582 to 1584", function()
    assert.are.equal(365 + 365 + 366, (walk(1582, 1584)))
  end)

  it("round-trips every day of 1999 to 2001", function()
    assert.are.equal(365 + 366 + 365, (walk(1999, 2001)))
  end)

  it("round-trips every day of years 1 to 400 and 9600 to 9999, ending on 5373484", function()
    assert.are.equal(146097, (walk(1, 400)))
    local _, last = walk(9600, 9999)
    assert.are.equal(JDN_MAX, last)
  end)

  it("round-trips a stride of days over the whole range", function()
    local checked = 0
    for n = JDN_MIN, JDN_MAX, 97 do
      local text = date(n)
      assert(jdn(text) == n, text)
      assert(text:match("^%d%d%d%d%-%d%d%-%d%d$"), text)
      checked = checked + 1
    end
    assert.are.equal(JDN_MAX, jdn(date(JDN_MAX)))
    assert.is_true(checked > 37000)
  end)

  it("counts 146097 days in every 400 years", function()
    for y = 1, 9599, 37 do
      assert.are.equal(146097, jdn(("%04d-03-01"):format(y + 400)) - jdn(("%04d-03-01"):format(y)))
    end
  end)
end)

describe("the fork runbook (examples/connectdaily_fork.lua) against the example seed", function()
  local sb
  local VARS = { "CONNECTDAILY_URL", "CONNECTDAILY_USER", "CONNECTDAILY_PASSWORD", "CONNECTDAILY_TOKEN",
                 "CONNECTDAILY_EVENT", "CONNECTDAILY_DATE", "CONNECTDAILY_START", "CONNECTDAILY_END" }

  before_each(function() sb = sandbox.start() end)
  after_each(function() sb.stop() end)

  --- Runs the runbook with exactly these CONNECTDAILY_* variables; returns its exit code and output.
  local function run(vars)
    local parts = { "env" }
    for _, name in ipairs(VARS) do parts[#parts + 1] = "-u " .. name end
    parts[#parts + 1] = "LUA_PATH=" .. sandbox.shell_quote(package.path)
    parts[#parts + 1] = "LUA_CPATH=" .. sandbox.shell_quote(package.cpath)
    for name, value in pairs(vars) do parts[#parts + 1] = name .. "=" .. sandbox.shell_quote(value) end
    parts[#parts + 1] = "lua5.4 examples/connectdaily_fork.lua 2>&1"
    local p = assert(io.popen(table.concat(parts, " ")))
    local out = p:read("a")
    local _, _, code = p:close()
    return code, out
  end
  local function config(extra)
    local vars = { CONNECTDAILY_URL = sb.url .. "/calendar", CONNECTDAILY_USER = "api",
                   CONNECTDAILY_PASSWORD = PASSWORD, CONNECTDAILY_EVENT = "42" }
    for k, v in pairs(extra or {}) do vars[k] = v end
    return vars
  end
  local function get(id)
    return sandbox.http("GET", sb.url .. EVENTS .. "/" .. id,
                        { headers = { Authorization = "Basic " .. b64("api:" .. PASSWORD) } }).json
  end

  it("exits 2 naming the variables when they are missing, before any traffic", function()
    local code, out = run({ CONNECTDAILY_URL = sb.url .. "/calendar", CONNECTDAILY_EVENT = "42" })
    assert.are.equal(2, code)
    assert.truthy(out:find("CONNECTDAILY_USER", 1, true))
    assert.truthy(out:find("CONNECTDAILY_TOKEN", 1, true))
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("exits 2 for a date that does not exist, before any traffic", function()
    local code, out = run(config({ CONNECTDAILY_DATE = "2026-02-30" }))
    assert.are.equal(2, code)
    assert.truthy(out:find("CONNECTDAILY_DATE", 1, true))
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("forks the occurrence on the given date and moves the copy one hour later", function()
    local code, out = run(config({ CONNECTDAILY_DATE = "2026-12-08" }))
    assert.are.equal(0, code, out)
    local copy_id = math.tointeger(tonumber(out:match("forked the occurrence on 2026%-12%-08 %(Tuesday%) as event (%d+)")))
    assert.is_not_nil(copy_id, out)
    local methods = {}
    for i, r in ipairs(sandbox.requests(sb)) do methods[i] = r.method end
    assert.are.same({ "GET", "POST", "GET", "PUT", "GET" }, methods)
    local copy = get(copy_id)
    assert.are.equal(DEC_8, copy.starting_date)
    assert.are.equal("10:00", copy.starting_time)
    assert.are.equal("11:00", copy.ending_time)
    assert.are.same({ DEC_8 }, get(42).exceptions)
    assert.truthy(out:find("summary: series 42 now skips 2026-12-08", 1, true), out)
  end)

  it("moves the copy to the asked times with a bearer token", function()
    local code, out = run({ CONNECTDAILY_URL = sb.url .. "/calendar", CONNECTDAILY_TOKEN = TOKEN,
                            CONNECTDAILY_EVENT = "42", CONNECTDAILY_DATE = "2026-12-15",
                            CONNECTDAILY_START = "16:30", CONNECTDAILY_END = "17:15" })
    assert.are.equal(0, code, out)
    local copy = get(math.tointeger(tonumber(out:match("as event (%d+)"))))
    assert.are.equal("16:30", copy.starting_time)
    assert.are.equal("17:15", copy.ending_time)
  end)

  it("forks the next occurrence not yet forked when no date is given", function()
    local first_code, first = run(config())
    local second_code, second = run(config())
    assert.are.equal(0, first_code, first)
    assert.are.equal(0, second_code, second)
    local d1 = first:match("forked the occurrence on (%S+) %(Tuesday%)")
    local d2 = second:match("forked the occurrence on (%S+) %(Tuesday%)")
    assert.are.equal(jdn(d1) + 7, jdn(d2))
    assert.is_true(jdn(d1) >= math.max(DEC_1, jdn(os.date("!%Y-%m-%d"))))
  end)

  it("exits 1 with the server's message when the series does not occur on the date", function()
    local code, out = run(config({ CONNECTDAILY_DATE = "2026-12-09" }))
    assert.are.equal(1, code)
    assert.truthy(out:find("The series does not occur on that date", 1, true), out)
    assert.are.same({}, get(42).exceptions)
  end)
end)
