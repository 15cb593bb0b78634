-- The Losant client over real HTTP against the sandbox: what goes on the
-- wire (read back from the sandbox's record) and what comes back.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local INTEGRATION = "575ed78e7ae143cd83dc4aab"
local DEFAULTS = "_actions=false&_links=true&_embedded=true"

describe("the Losant client", function()
  local sb, losant

  local function last_request()
    local record = sandbox.requests(sb)
    return record[#record]
  end

  before_each(function()
    sb = sandbox.start({ faults = true })
    losant = eventapi.losant({ url = sb.url, token = sandbox.token })
  end)
  after_each(function()
    losant:close()
    sb.stop()
  end)

  describe("on the wire", function()
    it("sends the documented headers on every call", function()
      losant.event.get({ applicationId = APP, eventId = EVENT }):await()
      local h = last_request().headers
      assert.are.equal("application/json", h.accept)
      assert.are.equal("^1.20.1", h["accept-version"])
      assert.are.equal("Bearer " .. sandbox.token, h.authorization)
      assert.is_nil(h["content-type"])
      assert.truthy(h["user-agent"]:match("^eventapi/%S+ libcurl/%S+ Lua 5%.4$"))
    end)

    local cases = {
      { "event.get", { applicationId = APP, eventId = EVENT }, "GET", "/applications/" .. APP .. "/events/" .. EVENT },
      { "event.patch", { applicationId = APP, eventId = EVENT, event = { comment = "c" } }, "PATCH",
        "/applications/" .. APP .. "/events/" .. EVENT, '{"comment":"c"}' },
      { "events.get", { applicationId = APP, state = "new", perPage = 2, page = 0 }, "GET",
        "/applications/" .. APP .. "/events", nil, DEFAULTS .. "&page=0&perPage=2&state=new" },
      { "events.post", { applicationId = APP, event = { level = "info", subject = "s" } }, "POST",
        "/applications/" .. APP .. "/events" },
      { "events.patch", { applicationId = APP, state = "acknowledged", updates = { state = "resolved" } }, "PATCH",
        "/applications/" .. APP .. "/events", '{"state":"resolved"}', DEFAULTS .. "&state=acknowledged" },
      { "events.delete", { applicationId = APP, query = { level = "info" } }, "POST",
        "/applications/" .. APP .. "/events/delete", '{"level":"info"}' },
      { "events.mostRecentBySeverity", { applicationId = APP, filter = "*" }, "GET",
        "/applications/" .. APP .. "/events/mostRecentBySeverity", nil, DEFAULTS .. "&filter=%2A" },
      { "events.export", { applicationId = APP, exportData = { email = "a@b.c" } }, "POST",
        "/applications/" .. APP .. "/events/export", '{"email":"a@b.c"}' },
      -- an optional body left out is {} as JSON, as the official client sends it
      { "events.export", { applicationId = APP }, "POST", "/applications/" .. APP .. "/events/export", "{}" },
      { "events.delete", { applicationId = APP }, "POST", "/applications/" .. APP .. "/events/delete", "{}" },
      { "integration.get", { applicationId = APP, integrationId = INTEGRATION }, "GET",
        "/applications/" .. APP .. "/integrations/" .. INTEGRATION },
      { "integration.patch", { applicationId = APP, integrationId = INTEGRATION, integration = { enabled = true } },
        "PATCH", "/applications/" .. APP .. "/integrations/" .. INTEGRATION, '{"enabled":true}' },
      { "integrations.get", { applicationId = APP, sortField = "name", sortDirection = "desc" }, "GET",
        "/applications/" .. APP .. "/integrations", nil, DEFAULTS .. "&sortField=name&sortDirection=desc" },
      { "integrations.post", { applicationId = APP, integration = { name = "n", integrationType = "particle" } },
        "POST", "/applications/" .. APP .. "/integrations" },
      { "integration.delete", { applicationId = APP, integrationId = INTEGRATION, includeWorkflows = true }, "DELETE",
        "/applications/" .. APP .. "/integrations/" .. INTEGRATION, "{}", DEFAULTS .. "&includeWorkflows=true" },
      -- a DELETE sends {} as JSON too, as the official client does
      { "event.delete", { applicationId = APP, eventId = EVENT }, "DELETE",
        "/applications/" .. APP .. "/events/" .. EVENT, "{}" },
    }
    for _, case in ipairs(cases) do
      local name, params, method, path, body, query = table.unpack(case)
      it(name .. " sends " .. method .. " " .. path:gsub(APP, "A"):gsub(EVENT, "E") .. (body and " " .. body or ""),
         function()
        local resource, action = name:match("^(%w+)%.(.+)$")
        losant[resource][action](params):await()
        local r = last_request()
        assert.are.equal(method, r.method)
        assert.are.equal(path, r.path)
        assert.are.equal(query or DEFAULTS, r.query)
        if body then assert.are.equal(body, r.body) end
        if r.body ~= "" then assert.are.equal("application/json", r.headers["content-type"]) end
      end)
    end

    it("sends no Content-Type on a POST through client:request without a body (never libcurl's form type)", function()
      losant:request({ method = "POST", path = "/applications/" .. APP .. "/events/export" }):await()
      local r = last_request()
      assert.are.equal("", r.body)
      assert.is_nil(r.headers["content-type"])
    end)

    it("sends the advanced query as JSON in the query string", function()
      local page = losant.events.get({ applicationId = APP, query = { level = "critical", state = "new" } }):await()
      local q = last_request().query:match("query=([^&]*)")
      local decoded = q:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
      assert.are.same({ level = "critical", state = "new" }, eventapi.json.decode(decoded))
      assert.are.equal(3, page.totalCount)
    end)

    it("lets a param override a default query value", function()
      losant.event.get({ applicationId = APP, eventId = EVENT, _links = false }):await()
      assert.are.equal("_actions=false&_links=false&_embedded=true", last_request().query)
    end)

    it("sends losantdomain as a header only when given", function()
      losant.event.get({ applicationId = APP, eventId = EVENT, losantdomain = "example.com" }):await()
      assert.are.equal("example.com", last_request().headers.losantdomain)
    end)

    it("writes an integral float as an integer in the query", function()
      losant.events.get({ applicationId = APP, perPage = 50.0 }):await()
      assert.truthy(last_request().query:find("&perPage=50", 1, true))
    end)

    it("keeps numbers exact in bodies and answers", function()
      local data = { us = 1700000000123456, max = math.maxinteger, sum = 0.1 + 0.2 }
      local ev = losant.events.post({ applicationId = APP, event = { level = "info", subject = "n", data = data } }):await()
      assert.truthy(last_request().body:find('"max":9223372036854775807', 1, true))
      local again = losant.event.get({ applicationId = APP, eventId = ev.id }):await()
      assert.are.equal(1700000000123456, again.data.us)
      assert.are.equal(math.maxinteger, again.data.max)
      assert.are.equal(0.1 + 0.2, again.data.sum)
      assert.are.equal("integer", math.type(again.data.us))
    end)

    for _, id in ipairs({ "a/b", "../x", "?&=#", "ünïcode", "with space", "%2F" }) do
      it("keeps the hostile id " .. id .. " inside its path segment", function()
        local ok, err = pcall(function() return losant.event.get({ applicationId = APP, eventId = id }):await() end)
        assert.is_false(ok)
        local r = last_request()
        local segments = {}
        for s in r.path:gmatch("[^/]+") do segments[#segments + 1] = s end
        assert.are.equal(4, #segments)
        local decoded = segments[4]:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
        assert.are.equal(id, decoded)
        assert.are.equal(400, err.status)
      end)
    end
  end)

  describe("results", function()
    it("event.get returns the event", function()
      local ev = losant.event.get({ applicationId = APP, eventId = EVENT }):await()
      assert.are.equal("Power levels critical", ev.subject)
    end)

    it("event.patch returns the updated event", function()
      local ev = losant.event.patch({ applicationId = APP, eventId = "575ed0de7ae143cd83dc4aa8",
        event = { state = "acknowledged", comment = "on it" } }):await()
      assert.are.equal("acknowledged", ev.state)
      assert.are.same({ old = "new", new = "acknowledged" }, ev.updates[#ev.updates].stateChange)
    end)

    it("events.post returns the created event", function()
      local ev = losant.events.post({ applicationId = APP, event = { level = "warning", subject = "made" } }):await()
      assert.are.equal(24, #ev.id)
    end)

    it("events.mostRecentBySeverity returns event and newCount", function()
      local r = losant.events.mostRecentBySeverity({ applicationId = APP }):await()
      assert.is_true(r.newCount >= 1)
      assert.are.equal("critical", r.event.level)
    end)

    it("integrations.get returns a page", function()
      local page = losant.integrations.get({ applicationId = APP }):await()
      assert.is_true(page.totalCount >= 1)
    end)

    it("request reaches any other endpoint", function()
      local ev = losant:request({ method = "GET", path = "/applications/" .. APP .. "/events/575ed0de7ae143cd83dc4aa7",
                                  query = { _links = true } }):await()
      assert.are.equal("Coolant loop offline", ev.subject)
      assert.are.equal("_links=true", last_request().query)
    end)
  end)

  describe("callbacks", function()
    it("get (nil, result) on success", function()
      local got
      losant.event.get({ applicationId = APP, eventId = EVENT }, function(err, ev) got = { err, ev } end)
      assert.is_nil(got)
      eventapi.run()
      assert.is_nil(got[1])
      assert.are.equal(EVENT, got[2].id)
    end)

    it("get (err, nil) on failure", function()
      local got
      losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }, function(err, ev) got = { err, ev } end)
      eventapi.run()
      assert.are.equal("NotFound", got[1].type)
      assert.is_nil(got[2])
    end)
  end)

  describe("errors", function()
    local fail = sandbox.rejection

    it("turn 404 into NotFound with a readable line", function()
      local err = fail(losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }))
      assert.are.equal(404, err.status)
      assert.are.equal("NotFound", err.type)
      assert.are.equal("Event was not found", err.message)
      assert.are.equal("GET", err.method)
      assert.are.equal(("NotFound (404): Event was not found [GET %s/applications/%s/events/aaaaaaaaaaaaaaaaaaaaaaaa?%s]")
        :format(sb.url, APP, DEFAULTS), tostring(err))
    end)

    it("turn 400 into Validation naming the field", function()
      local err = fail(losant.events.post({ applicationId = APP, event = { level = "loud", subject = "x" } }))
      assert.are.equal(400, err.status)
      assert.are.equal("Validation", err.type)
      assert.truthy(err.message:find("level"))
      assert.are.equal("Validation", err.body.type)
    end)

    it("turn 401 into Unauthorized and never show the token", function()
      local bad = eventapi.losant({ url = sb.url, token = "secret-token-123" })
      local err = fail(bad.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("Unauthorized", err.type)
      assert.is_nil(tostring(err):find("secret-token-123", 1, true))
      for _, v in pairs(err) do assert.is_nil(tostring(v):find("secret-token-123", 1, true)) end
    end)

    it("turn 403 into Forbidden", function()
      local ro = eventapi.losant({ url = sb.url, token = "sandbox-read-only" })
      local err = fail(ro.event.delete({ applicationId = APP, eventId = EVENT }))
      assert.are.equal(403, err.status)
      assert.are.equal("Forbidden", err.type)
    end)

    it("turn 429 into TooManyRequests with retry_after", function()
      local limited = sandbox.start({ rate_limit = 1 })
      local c = eventapi.losant({ url = limited.url, token = sandbox.token })
      local outcomes = eventapi.settle({
        c.events.post({ applicationId = APP, event = { level = "info", subject = "1" } }),
        c.events.post({ applicationId = APP, event = { level = "info", subject = "2" } }),
        c.events.post({ applicationId = APP, event = { level = "info", subject = "3" } }),
      }):await()
      limited.stop()
      local err
      for _, o in ipairs(outcomes) do if o.status == "rejected" then err = o.reason end end
      assert.are.equal(429, err.status)
      assert.are.equal("TooManyRequests", err.type)
      assert.are.equal("1", err.retry_after)
    end)

    it("name a missing required param before any traffic", function()
      local err = fail(losant.event.get({ applicationId = APP }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("eventId"))
      assert.are.equal(0, #sandbox.requests(sb))
    end)

    it("name an unknown param", function()
      local err = fail(losant.event.get({ applicationId = APP, eventId = EVENT, eventID = "x" }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("eventID"))
    end)

    it("name a table where a string is expected", function()
      local err = fail(losant.event.get({ applicationId = {}, eventId = EVENT }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("applicationId"))
    end)

    it("reject CR or LF in a header param", function()
      local err = fail(losant.event.get({ applicationId = APP, eventId = EVENT, losantdomain = "a\r\nX-Evil: 1" }))
      assert.are.equal("InvalidParams", err.type)
      assert.are.equal(0, #sandbox.requests(sb))
    end)

    it("turn a body that is not JSON into InvalidResponse, status kept", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "garbage" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("InvalidResponse", err.type)
      assert.are.equal(200, err.status)
    end)

    it("turn a body cut short into InvalidResponse", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "truncate" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("InvalidResponse", err.type)
      assert.are.equal(200, err.status)
    end)

    it("turn a reset connection into ConnectionFailed", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "reset" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("ConnectionFailed", err.type)
      assert.is_nil(err.status)
    end)

    it("turn a slow answer into Timeout", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, timeout = 0.2,
                                  headers = { ["X-Sandbox-Fault"] = "delay=1500" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("Timeout", err.type)
    end)

    it("turn a refused connection into ConnectionFailed", function()
      local c = eventapi.losant({ url = "http://127.0.0.1:1", token = sandbox.token })
      assert.are.equal("ConnectionFailed", fail(c.event.get({ applicationId = APP, eventId = EVENT })).type)
    end)

    it("turn a 503 into ServerError with the server's type kept", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "status=503" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal(503, err.status)
      assert.are.equal("SandboxFault", err.type)
    end)

    it("leave the client working after a failure", function()
      fail(losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }))
      assert.are.equal(EVENT, losant.event.get({ applicationId = APP, eventId = EVENT }):await().id)
    end)

    it("refuse unknown client options", function()
      local ok, err = pcall(eventapi.losant, { url = sb.url, tokn = "x" })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("tokn"))
    end)
  end)

  describe("concurrency and lifetime", function()
    it("completes 500 concurrent requests with the right results", function()
      local ids = { EVENT, "575ed0de7ae143cd83dc4aa6", "575ed0de7ae143cd83dc4aa7", "575ed0de7ae143cd83dc4aa9" }
      local list = {}
      for i = 1, 500 do
        list[i] = losant.event.get({ applicationId = APP, eventId = ids[i % #ids + 1] })
      end
      local results = eventapi.all(list):await()
      for i = 1, 500 do assert.are.equal(ids[i % #ids + 1], results[i].id) end
    end)

    it("rejects requests in flight with Closed on close", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "delay=500" } })
      local p = c.event.get({ applicationId = APP, eventId = EVENT })
      eventapi.step(0)
      c:close()
      local ok, err = pcall(p.await, p)
      assert.is_false(ok)
      assert.are.equal("Closed", err.type)
    end)

    --- The requests of client c in flight: in client.inflight (the Lua path) and in the core (the C path).
    local function in_flight(c)
      local n = require("helpers.internals").in_flight(c)
      for _ in pairs(c.inflight) do n = n + 1 end
      return n
    end

    --- Three event.get calls are in flight until they settle, on client c.
    local function three_in_flight(c)
      local list = {}
      for i = 1, 3 do list[i] = c.event.get({ applicationId = APP, eventId = EVENT }) end
      assert.are.equal(3, in_flight(c))
      eventapi.all(list):await()
      assert.are.equal(0, in_flight(c))
    end

    it("counts a request as in flight (client.inflight or the core's) only while it is", function()
      three_in_flight(losant)
      sandbox.rejection(losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }))
      assert.are.equal(0, in_flight(losant))
    end)

    it("keeps a request of the Lua path (a client with hooks) in client.inflight only while it is in flight", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      c:on("response", function() end)
      three_in_flight(c)
      assert.is_nil(next(c.inflight))
      c:close()
    end)

    it("keeps at most max_connections connections in flight (in a fresh process: the limit is per process)", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
        local eventapi = require "eventapi"
        local c = eventapi.losant({ url = %q, token = %q, max_connections = 1,
                                    headers = { ["X-Sandbox-Fault"] = "delay=150" } })
        local list = {}
        for i = 1, 3 do list[i] = c.event.get({ applicationId = %q, eventId = %q }) end
        eventapi.all(list):await()
        io.write("done")
      ]]):format(sb.url, sandbox.token, APP, EVENT))
      f:close()
      local q = sandbox.shell_quote
      local p = io.popen(("LUA_PATH=%s LUA_CPATH=%s lua5.4 %s 2>&1"):format(q(package.path), q(package.cpath), q(script)))
      local out = p:read("a")
      p:close()
      os.remove(script)
      assert.are.equal("done", out)
      local gets = {}
      for _, r in ipairs(sandbox.requests(sb)) do if r.method == "GET" then gets[#gets + 1] = r.in_flight end end
      assert.are.same({ 1, 1, 1 }, gets)
    end)

    it("rejects calls on a closed client", function()
      losant:close()
      local ok, err = pcall(function() return losant.event.get({ applicationId = APP, eventId = EVENT }):await() end)
      assert.is_false(ok)
      assert.are.equal("Closed", err.type)
    end)

    it("closes a to-be-closed client at the end of its scope", function()
      local p
      do
        local c <close> = eventapi.losant({ url = sb.url, token = sandbox.token,
                                            headers = { ["X-Sandbox-Fault"] = "delay=500" } })
        p = c.event.get({ applicationId = APP, eventId = EVENT })
      end
      local ok, err = pcall(p.await, p)
      assert.is_false(ok)
      assert.are.equal("Closed", err.type)
    end)

    it("survives collecting a client with requests in flight", function()
      do
        local c = eventapi.losant({ url = sb.url, token = sandbox.token })
        c.event.get({ applicationId = APP, eventId = EVENT })
      end
      collectgarbage(); collectgarbage()
      eventapi.run()
      assert.are.equal(EVENT, losant.event.get({ applicationId = APP, eventId = EVENT }):await().id)
    end)

    it("hands an error a callback raises to on_unhandled and keeps the loop running", function()
      local caught = {}
      local previous = eventapi.on_unhandled(function(err) caught[#caught + 1] = err end)
      losant.event.get({ applicationId = APP, eventId = EVENT }, function() error("callback bug") end)
      local after = losant.event.get({ applicationId = APP, eventId = EVENT })
      eventapi.run()
      eventapi.on_unhandled(previous)
      assert.are.equal(EVENT, after:await().id)
      assert.are.equal(1, #caught)
      assert.are.equal("ScriptError", caught[1].type)
      assert.truthy(caught[1].message:find("callback bug", 1, true))
    end)

    it("raises an error a callback raises out of run, and a second run finishes the rest", function()
      losant.event.get({ applicationId = APP, eventId = EVENT }, function() error("callback bug") end)
      local after = losant.event.get({ applicationId = APP, eventId = EVENT, _links = false })
      local ok, err = pcall(eventapi.run)
      assert.is_false(ok)
      assert.is_true(eventapi.Error.is(err))
      assert.are.equal("ScriptError", err.type)
      assert.is_true(eventapi.reported(err))
      eventapi.run()
      assert.are.equal(EVENT, after:await().id)
    end)

    it("combines promises of two clients on one loop", function()
      local other = eventapi.losant({ url = sb.url, token = "sandbox-read-only" })
      local a, b = table.unpack(eventapi.all({
        losant.event.get({ applicationId = APP, eventId = EVENT }),
        other.integration.get({ applicationId = APP, integrationId = INTEGRATION }),
      }):await())
      assert.are.equal(EVENT, a.id)
      assert.are.equal(INTEGRATION, b.id)
    end)
  end)
end)
