-- The runbook layer over real HTTP against the sandbox: pages walked once,
-- map's concurrency bound (read from the sandbox's record), retries on
-- injected faults, waiting without blocking, dry runs, debug lines and the
-- progress line.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local MR_TOKEN = "sandbox-monterosa-token"
local now = require("eventapi.core").now
local scale = sandbox.time -- durations for slow runs (EVENTAPI_TIME_SCALE)

--- The value of a query parameter in a raw query string.
local function query_value(query, key)
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=(.*)$")
    if k == key then return v end
  end
  return nil
end

describe("the runbook layer", function()
  local sb, losant

  local function requests(method)
    local list = {}
    for _, r in ipairs(sandbox.requests(sb)) do
      if method == nil or r.method == method then list[#list + 1] = r end
    end
    return list
  end

  local function post_events(n, prefix)
    local made = {}
    for i = 1, n do
      made[i] = losant.events.post({ applicationId = APP, event = { level = "info", subject = prefix .. i } })
    end
    return eventapi.all(made):await()
  end

  local fail = sandbox.rejection

  before_each(function()
    sb = sandbox.start({ faults = true })
    losant = eventapi.losant({ url = sb.url, token = sandbox.token })
  end)
  after_each(function()
    losant:close()
    sb.stop()
  end)

  describe("pagination", function()
    it("each walks every Losant page exactly once and yields every item once", function()
      post_events(19, "walk ")
      sandbox.clear_requests(sb)
      local seen, n = {}, 0
      for ev in losant.events.each({ applicationId = APP, perPage = 5 }) do
        assert.is_nil(seen[ev.id])
        seen[ev.id], n = true, n + 1
      end
      assert.are.equal(25, n)
      local pages = {}
      for _, r in ipairs(requests("GET")) do
        local page = query_value(r.query, "page") or "0"
        assert.is_nil(pages[page], "page " .. page .. " fetched twice")
        pages[page] = true
      end
      assert.are.same({ ["0"] = true, ["1"] = true, ["2"] = true, ["3"] = true, ["4"] = true }, pages)
    end)

    it("each yields every item once when items are added while walking", function()
      local seen, n = {}, 0
      for ev in losant.events.each({ applicationId = APP, perPage = 2 }) do
        assert.is_nil(seen[ev.id])
        seen[ev.id], n = true, n + 1
        if n <= 3 then post_events(1, "added while walking ") end
      end
      -- the 6 seeded events are all seen; events added at the front may or may not be
      for _, id in ipairs({ "575ed0de7ae143cd83dc4aa5", "575ed0de7ae143cd83dc4aa6", "575ed0de7ae143cd83dc4aa7",
                            "575ed0de7ae143cd83dc4aa8", "575ed0de7ae143cd83dc4aa9", "575ed0de7ae143cd83dc4aaa" }) do
        assert.is_true(seen[id], id)
      end
      local pages = {}
      for _, r in ipairs(requests("GET")) do
        local page = query_value(r.query, "page") or "0"
        assert.is_nil(pages[page], "page " .. page .. " fetched twice")
        pages[page] = true
      end
    end)

    it("each fetches the next page while the caller works on the current one", function()
      local first = true
      for _ in losant.events.each({ applicationId = APP, perPage = 3 }) do
        if first then
          first = false
          eventapi.sleep(0.2):await() -- the loop runs: the prefetch goes out
          assert.are.equal(2, #requests("GET"))
          assert.are.equal("1", query_value(requests("GET")[2].query, "page"))
        end
      end
    end)

    it("each stops at limit without fetching further pages", function()
      local n = 0
      for _ in losant.events.each({ applicationId = APP, perPage = 2, limit = 3 }) do n = n + 1 end
      assert.are.equal(3, n)
      assert.are.equal(2, #requests("GET"))
    end)

    it("all resolves with every item as one list", function()
      local all = losant.integrations.all({ applicationId = APP, perPage = 1 }):await()
      assert.are.equal(2, #all)
      assert.are.equal(2, #requests("GET"))
    end)

    it("all rejects with the error of a failed page", function()
      local err = fail(losant.events.all({ applicationId = APP, perPage = 0 }))
      assert.are.equal("Validation", err.type)
    end)

    it("each follows Monterosa's cursor through every page", function()
      local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
      local made = {}
      for i = 1, 7 do
        made[i] = mr.events.create({ project_id = PROJECT, name = "m" .. i, duration = 60,
                                     start_at = 1796153400 + i, start_mode = "manual" })
      end
      eventapi.all(made):await()
      sandbox.clear_requests(sb)
      local seen, n = {}, 0
      for ev in mr.events.each({ project_id = PROJECT, state = "future", count = 3 }) do
        assert.is_nil(seen[ev.id])
        seen[ev.id], n = true, n + 1
      end
      assert.are.equal(8, n)
      local gets = requests("GET")
      assert.are.equal(3, #gets)
      assert.is_nil(query_value(gets[1].query, "page%5Bcursor%5D"))
      assert.is_string(query_value(gets[2].query, "page%5Bcursor%5D"))
      assert.are.equal(3, #mr.events.all({ project_id = PROJECT, state = "future", limit = 3 }):await())
      mr:close()
    end)
  end)

  describe("map", function()
    it("never has more than its bound in flight, and reaches it", function()
      local slow = eventapi.losant({ url = sb.url, token = sandbox.token,
                                     headers = { ["X-Sandbox-Fault"] = "delay=100" } })
      local items = {}
      for i = 1, 12 do items[i] = i end
      local results = eventapi.map(items, function()
        return slow.event.get({ applicationId = APP, eventId = EVENT })
      end, { concurrency = 3 }):await()
      assert.are.equal(12, #results)
      local most = 0
      for _, r in ipairs(requests("GET")) do most = math.max(most, r.in_flight) end
      assert.are.equal(3, most)
      slow:close()
    end)

    it("resolves with the results in input order", function()
      local delays = { 0.15, 0.01, 0.1, 0.05 }
      local out = eventapi.map(delays, function(d, i)
        return eventapi.sleep(d):next(function() return i * 10 end)
      end, { concurrency = 4 }):await()
      assert.are.same({ 10, 20, 30, 40, n = 4 }, out)
    end)

    it("stops at the first failure and starts nothing after it", function()
      local started = 0
      local err = fail(eventapi.map({ EVENT, "aaaaaaaaaaaaaaaaaaaaaaaa", EVENT, EVENT, EVENT }, function(id)
        started = started + 1
        return losant.event.get({ applicationId = APP, eventId = id })
      end, { concurrency = 1 }))
      assert.are.equal("NotFound", err.type)
      assert.are.equal(2, started)
    end)

    it("starts nothing after the first failure while other items are still in flight", function()
      local slow = eventapi.losant({ url = sb.url, token = sandbox.token,
                                     headers = { ["X-Sandbox-Fault"] = ("delay=%d"):format(scale(0.3) * 1000) } })
      local started = {}
      local ids = { EVENT, "aaaaaaaaaaaaaaaaaaaaaaaa", EVENT, EVENT, EVENT }
      local err = fail(eventapi.map(ids, function(id, i)
        started[#started + 1] = i
        local c = i == 1 and slow or losant -- the first is still in flight when the second fails
        return c.event.get({ applicationId = APP, eventId = id })
      end, { concurrency = 2 }))
      assert.are.equal("NotFound", err.type)
      eventapi.run() -- the slow first item ends: nothing may start after it
      assert.are.same({ 1, 2 }, started)
      assert.are.equal(2, #requests("GET"))
      slow:close()
    end)

    it("collects every outcome with settle", function()
      local out = eventapi.map({ EVENT, "aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb" }, function(id)
        return losant.event.get({ applicationId = APP, eventId = id })
      end, { concurrency = 2, settle = true }):await()
      assert.are.equal("fulfilled", out[1].status)
      assert.are.equal("Power levels critical", out[1].value.subject)
      assert.are.equal("rejected", out[2].status)
      assert.are.equal("NotFound", out[2].reason.type)
      assert.are.equal("rejected", out[3].status)
    end)

    it("turns an error raised by fn into a rejection", function()
      local err = fail(eventapi.map({ 1 }, function() error("boom", 0) end))
      assert.are.equal("ScriptError", err.type)
      assert.are.equal("boom", err.message)
      assert.are.equal("boom", err.cause)
    end)

    it("refuses a bad concurrency with InvalidParams naming it", function()
      for _, bad in ipairs({ 0, 1.5, 0 / 0, math.huge, "8" }) do
        local ok, err = pcall(eventapi.map, {}, print, { concurrency = bad })
        assert.is_false(ok)
        assert.are.equal("InvalidParams", err.type)
        assert.truthy(err.message:find("map: concurrency must be a whole number >= 1", 1, true), err.message)
      end
    end)
  end)

  describe("retries", function()
    local function faulty(fault, key, retries)
      return eventapi.losant({ url = sb.url, token = sandbox.token, retries = retries,
                               headers = { ["X-Sandbox-Fault"] = fault, ["X-Sandbox-Fault-Key"] = key } })
    end

    it("retry a GET on 503 until it succeeds, every attempt seen by the hooks", function()
      local c = faulty("status=503,fail-first=2", "get-503", { base = 0.02 })
      local attempts, retries = {}, {}
      c:on("response", function(info) attempts[#attempts + 1] = { info.attempt, info.status } end)
      c:on("retry", function(info) retries[#retries + 1] = info.wait end)
      local ev = c.event.get({ applicationId = APP, eventId = EVENT }):await()
      assert.are.equal(EVENT, ev.id)
      assert.are.same({ { 1, 503 }, { 2, 503 }, { 3, 200 } }, attempts)
      assert.are.equal(2, #retries)
      assert.is_true(retries[1] >= 0.01 and retries[1] <= 0.02)
      assert.is_true(retries[2] >= 0.02 and retries[2] <= 0.04)
      assert.are.equal(3, #requests("GET"))
      c:close()
    end)

    it("wait what Retry-After says before retrying", function()
      local c = faulty("status=429,retry-after=1,fail-first=1", "get-429", { base = 0.01 })
      local waits = {}
      c:on("retry", function(info) waits[#waits + 1] = info.wait end)
      local started = now()
      c.event.get({ applicationId = APP, eventId = EVENT }):await()
      assert.are.same({ 1 }, waits)
      assert.is_true(now() - started >= 1)
      c:close()
    end)

    it("give up after max retries with the last error and the attempt count", function()
      local c = faulty("status=503", "always", { max = 2, base = 0.01 })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal(503, err.status)
      assert.are.equal(3, err.attempts)
      assert.are.equal(3, #requests("GET"))
      c:close()
    end)

    it("retry a reset connection as a transport failure", function()
      local c = faulty("reset,fail-first=1", "reset", { base = 0.01 })
      assert.are.equal(EVENT, c.event.get({ applicationId = APP, eventId = EVENT }):await().id)
      c:close()
    end)

    it("retry a Timeout as a transport failure", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token, idle_timeout = 1,
                                  retries = { max = 1, base = 0.01, on = { "transport" } },
                                  headers = { ["X-Sandbox-Fault"] = "stall,fail-first=1",
                                              ["X-Sandbox-Fault-Key"] = "timeout-once" } })
      local attempts = {}
      c:on("response", function(info) attempts[#attempts + 1] = { info.attempt, info.error or info.status } end)
      local ev = c.event.get({ applicationId = APP, eventId = EVENT }):await()
      assert.are.equal(EVENT, ev.id)
      assert.are.same({ { 1, "Timeout" }, { 2, 200 } }, attempts)
      c:close()
    end)

    it("wait a Retry-After exactly equal to cap, then retry", function()
      local c = faulty("status=503,retry-after=1,fail-first=1", "after-equals-cap", { max = 1, base = 0.01, cap = 1 })
      local waits = {}
      c:on("retry", function(info) waits[#waits + 1] = info.wait end)
      local started = now()
      local ev = c.event.get({ applicationId = APP, eventId = EVENT }):await()
      assert.are.equal(EVENT, ev.id)
      assert.are.same({ 1 }, waits)
      assert.is_true(now() - started >= 1)
      assert.are.equal(2, #requests("GET"))
      c:close()
    end)

    it("do not retry a POST or a PATCH unless asked", function()
      local c = faulty("status=503,fail-first=1", "post-once", { base = 0.01 })
      local err = fail(c.events.post({ applicationId = APP, event = { level = "info", subject = "once" } }))
      assert.are.equal(503, err.status)
      local err2 = fail(faulty("status=503,fail-first=1", "patch-once", { base = 0.01 })
        .event.patch({ applicationId = APP, eventId = EVENT, event = { comment = "once" } }))
      assert.are.equal(503, err2.status)
      assert.are.equal(1, #requests("POST"))
      assert.are.equal(1, #requests("PATCH"))
      c:close()
    end)

    it("retry a POST when the caller opts in", function()
      local c = faulty("status=503,fail-first=1", "post-opt-in", { base = 0.01, methods = { "POST" } })
      local ev = c.events.post({ applicationId = APP, event = { level = "info", subject = "twice" } }):await()
      assert.are.equal("twice", ev.subject)
      assert.are.equal(2, #requests("POST"))
      c:close()
    end)

    it("do not retry a 404", function()
      local c = faulty("", "none", { base = 0.01 })
      fail(c.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }))
      assert.are.equal(1, #requests("GET"))
      c:close()
    end)

    it("let other requests complete while a retry waits", function()
      local c = faulty("status=503,fail-first=1", "slow-retry", { base = 0.6, cap = 0.6 })
      local order = {}
      local retried = c.event.get({ applicationId = APP, eventId = EVENT }):next(function() order[#order + 1] = "retried" end)
      local quick = eventapi.sleep(0.05):next(function()
        return losant.event.get({ applicationId = APP, eventId = EVENT })
      end):next(function() order[#order + 1] = "quick" end)
      eventapi.all({ retried, quick }):await()
      assert.are.same({ "quick", "retried" }, order)
      c:close()
    end)

    it("reject a request waiting to retry at once when the client closes", function()
      local c = faulty("status=503", "closing", { base = 5, cap = 5 })
      local p = c.event.get({ applicationId = APP, eventId = EVENT })
      eventapi.sleep(0.1):await()
      local started = now()
      c:close()
      assert.are.equal("Closed", fail(p).type)
      eventapi.run() -- the retry's timer is gone too: nothing keeps the loop waiting
      assert.is_true(now() - started < 1)
    end)

    it("wait until a Retry-After HTTP date, and not at all when it is beyond cap", function()
      local nginx = require "helpers.nginx"
      local dir = nginx.tempdir()
      local at = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 5)
      local server = nginx.start(dir, function(port)
        return ("  server { listen 127.0.0.1:%d; location / { add_header Retry-After %q always; return 503; } }")
          :format(port, at)
      end)
      local short = eventapi.losant({ url = server.url, token = sandbox.token, retries = { max = 1, cap = 0.5 } })
      local err2 = fail(short.event.get({ applicationId = APP, eventId = EVENT }))
      local c = eventapi.losant({ url = server.url, token = sandbox.token, retries = { max = 1, cap = 10 } })
      local waits = {}
      c:on("retry", function(info) waits[#waits + 1] = info.wait end)
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      server.stop()
      nginx.remove(dir)
      assert.are.equal(2, err.attempts)
      assert.are.equal(1, #waits)
      assert.is_true(waits[1] >= 1 and waits[1] <= 5, tostring(waits[1]))
      assert.are.equal(1, err2.attempts)
      assert.are.equal(at, err2.retry_after)
    end)

    it("refuse an unknown retries field", function()
      local ok, err = pcall(eventapi.losant, { url = sb.url, retries = { tries = 3 } })
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("tries", 1, true))
    end)
  end)

  describe("waiting", function()
    it("sleep lets requests complete meanwhile", function()
      local done = false
      losant.event.get({ applicationId = APP, eventId = EVENT }):next(function() done = true end)
      eventapi.sleep(0.2):await()
      assert.is_true(done)
    end)

    it("wait_for polls until a Monterosa event is current, other work going on", function()
      local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
      local live = mr.events.create({ project_id = PROJECT, name = "w", duration = 60, start_at = 1796153400,
                                      start_mode = "manual" }):await()
      local other = false
      eventapi.sleep(0.15):next(function()
        return mr.events.update({ event_id = live.id, action = "start" })
      end):next(function() other = true end)
      local ev = eventapi.wait_for(function()
        return mr.events.get({ event_id = live.id }):next(function(e) return e.state == "current" and e end)
      end, { timeout = 5, interval = 0.05 }):await()
      assert.are.equal("current", ev.state)
      assert.is_true(other)
      mr:close()
    end)

    it("wait_for rejects with Timeout when the condition never holds", function()
      local checks = 0
      local err = fail(eventapi.wait_for(function() checks = checks + 1; return false end,
                                         { timeout = 0.2, interval = 0.05 }))
      assert.are.equal("Timeout", err.type)
      assert.is_true(checks >= 3)
    end)

    it("wait_for waits the interval between checks", function()
      local at = {}
      local err = fail(eventapi.wait_for(function()
        at[#at + 1] = now()
        return losant.event.get({ applicationId = APP, eventId = EVENT }):next(function() return false end)
      end, { timeout = scale(0.5), interval = scale(0.2) }))
      assert.are.equal("Timeout", err.type)
      assert.is_true(#at >= 2 and #at <= 3, #at .. " checks")
      for i = 2, #at do assert.is_true(at[i] - at[i - 1] >= scale(0.2), tostring(at[i] - at[i - 1])) end
      assert.are.equal(#at, #requests("GET"))
    end)

    it("wait_for times out even when a check never settles", function()
      local started = now()
      local err = fail(eventapi.wait_for(function() return eventapi.promise(function() end) end,
                                         { timeout = 0.2, interval = 0.05 }))
      assert.are.equal("Timeout", err.type)
      assert.are.equal(1, err.tries)
      assert.is_true(now() - started < 2)
    end)

    it("wait_for leaves no timer behind once it is done", function()
      eventapi.wait_for(function() return true end, { timeout = 30 }):await()
      local started = now()
      eventapi.run()
      assert.is_true(now() - started < 1)
    end)

    it("wait_for rejects with the error of a failing check", function()
      local err = fail(eventapi.wait_for(function()
        return losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
      end, { timeout = 5, interval = 0.05 }))
      assert.are.equal("NotFound", err.type)
    end)
  end)

  describe("dry run", function()
    it("sends nothing that changes data and marks the results", function()
      local printed = {}
      local dry = eventapi.losant({ url = sb.url, token = sandbox.token,
                                    dry_run = function(line) printed[#printed + 1] = line end })
      local ev = dry.event.get({ applicationId = APP, eventId = EVENT }):await()
      local patched = dry.event.patch({ applicationId = APP, eventId = ev.id,
                                        event = { state = "acknowledged" } }):await()
      local posted = dry.events.post({ applicationId = APP, event = { level = "info", subject = "x" } }):await()
      local deleted = dry.event.delete({ applicationId = APP, eventId = ev.id }):await()
      assert.is_true(patched.dry_run)
      assert.are.equal("PATCH", patched.method)
      assert.are.equal("acknowledged", patched.body.state)
      assert.is_true(posted.dry_run and deleted.dry_run)
      for _, r in ipairs(sandbox.requests(sb)) do assert.are.equal("GET", r.method) end
      assert.are.equal("new", losant.event.get({ applicationId = APP, eventId = EVENT }):await().state)
      assert.are.equal(3, #printed)
      assert.are.equal(("[dry run] PATCH %s/applications/%s/events/%s?_actions=false&_links=true&_embedded=true"
                        .. ' {"state":"acknowledged"}'):format(sb.url, APP, EVENT), printed[1])
      dry:close()
    end)

    it("keeps a raw body given to request as text", function()
      local dry = eventapi.losant({ url = sb.url, token = sandbox.token, dry_run = function() end })
      local r = dry:request({ method = "POST", path = "/applications/" .. APP .. "/events", body = "not json" }):await()
      assert.are.same({ dry_run = true, method = "POST", url = sb.url .. "/applications/" .. APP .. "/events",
                        body = "not json" }, r)
      assert.are.equal(0, #sandbox.requests(sb))
      dry:close()
    end)

    it("prints the changes on stderr when dry_run is true", function()
      local script = ([[
        local eventapi = require "eventapi"
        local dry = eventapi.losant({ url = %q, token = "sandbox-all-access", dry_run = true })
        dry.event.delete({ applicationId = %q, eventId = %q }):await()
      ]]):format(sb.url, APP, EVENT)
      local path = os.tmpname()
      local f = assert(io.open(path, "w")); f:write(script); f:close()
      local p = assert(io.popen("lua5.4 " .. path .. " 2>&1 >/dev/null", "r"))
      local err = p:read("a")
      p:close()
      os.remove(path)
      assert.are.equal(("[dry run] DELETE %s/applications/%s/events/%s?_actions=false&_links=true&_embedded=true {}\n")
                       :format(sb.url, APP, EVENT), err)
      assert.are.equal(0, #sandbox.requests(sb))
    end)
  end)

  describe("output", function()
    --- Runs body in a child lua5.4 (after env, on a terminal with pty); returns its stdout and stderr merged.
    local function run_script(body, env, pty)
      local _, out = sandbox.run_lua(body, { command = (env or "") .. " lua5.4", merge = true, pty = pty })
      return out
    end

    local DEBUG_SCRIPT = [[
      local eventapi = require "eventapi"
      local cd = eventapi.connectdaily({ url = %q, user = "api", password = "sandbox-password" })
      cd.events.get({ cal_item_id = 42 }):await()
      local l = eventapi.losant({ url = %q, token = "sandbox-all-access" })
      l.event.get({ applicationId = %q, eventId = %q }):await()
      l:request({ path = "/x", query = { token = "query-secret" } }):catch(function() end):await()
    ]]

    it("EVENTAPI_DEBUG=1 prints one line per request with no secret in it", function()
      local script = DEBUG_SCRIPT:format(sb.url .. "/calendar", sb.url, APP, EVENT)
      local out = run_script(script, "EVENTAPI_DEBUG=1")
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.are.equal(3, #lines)
      assert.truthy(lines[1]:find("^eventapi: GET http://.-/calendar/restapi/v1/events/42 %-> 200 in [%d.]+ ms %(attempt 1%)$"))
      assert.truthy(lines[3]:find("token=REDACTED", 1, true))
      for _, secret in ipairs({ "sandbox-password", "sandbox-all-access", "query-secret" }) do
        assert.is_nil(out:find(secret, 1, true), secret)
      end
    end)

    it("prints nothing without EVENTAPI_DEBUG", function()
      assert.are.equal("", run_script(DEBUG_SCRIPT:format(sb.url .. "/calendar", sb.url, APP, EVENT)))
    end)

    local PROGRESS_SCRIPT = [[
      local eventapi = require "eventapi"
      local l = eventapi.losant({ url = %q, token = "sandbox-all-access" })
      local ids = {}
      for i = 1, 20 do ids[i] = i == 7 and "aaaaaaaaaaaaaaaaaaaaaaaa" or %q end
      eventapi.map(ids, function(id) return l.event.get({ applicationId = %q, eventId = id }) end,
                   { concurrency = 4, settle = true }):await()
      io.stdout:write("finished\n")
    ]]

    it("shows a progress line for map on a terminal", function()
      local out = run_script(PROGRESS_SCRIPT:format(sb.url, EVENT, APP), "", true)
      -- the rate (", 12.3/s") is shown only once half a second has passed
      assert.truthy(out:find("map 20/20 done, 1 failed", 1, true) or out:find("map 20/20 done, [%d.]+/s, 1 failed"),
                    out)
      assert.truthy(out:find("finished", 1, true))
    end)

    it("shows no progress line when stderr is not a terminal", function()
      assert.are.equal("finished\n", run_script(PROGRESS_SCRIPT:format(sb.url, EVENT, APP)))
    end)
  end)
end)
