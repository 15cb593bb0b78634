-- Security over real HTTP: secrets never leave in errors, logs or hooks;
-- no redirect is followed (the token stays with its host); CR/LF never
-- reaches the wire; hostile ids stay in their path segment; oversized and
-- over-nested answers are refused; concurrent patches lose nothing.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local nginx = require "helpers.nginx"

local APP = sandbox.app
local EVENT = sandbox.event
local MR_TOKEN = "sandbox-monterosa-token"
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local CD_PASSWORD = "sandbox-password"

local fail = sandbox.rejection

--- Every string reachable from v (keys and values, recursively, and tostring of tables).
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "table" then
    if seen[v] then return out end
    seen[v] = true
    local mt = getmetatable(v)
    if mt and mt.__tostring then out[#out + 1] = tostring(v) end
    for k, x in pairs(v) do strings(k, out, seen); strings(x, out, seen) end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

local function assert_clean(v, secrets, what)
  for _, s in ipairs(strings(v)) do
    for _, secret in ipairs(secrets) do
      assert.is_nil(s:find(secret, 1, true), ("%s shows the secret %q: %s"):format(what, secret, s))
    end
  end
end

describe("security", function()
  local sb

  setup(function() sb = sandbox.start({ faults = true }) end)
  teardown(function() sb.stop() end)

  describe("secrets", function()
    local TOKEN = "tok-" .. "s3cr3t-7d1f"
    local PASSWORD = "pw-" .. "s3cr3t-91ab"
    local QUERY = "q-" .. "s3cr3t-55ee"
    local SECRETS = { TOKEN, PASSWORD, QUERY, CD_PASSWORD, sandbox.token, MR_TOKEN }

    -- Failing calls of every kind, with the clients' hook infos.
    local function failures()
      local infos, errors = {}, {}
      local function hooked(c)
        for _, kind in ipairs({ "request", "response", "retry" }) do
          c:on(kind, function(info) infos[#infos + 1] = info end)
        end
        return c
      end
      local bad = hooked(eventapi.losant({ url = sb.url, token = TOKEN }))
      local good = hooked(eventapi.losant({ url = sb.url, token = sandbox.token, retries = { max = 1, base = 0.01 } }))
      local faulty = hooked(eventapi.losant({ url = sb.url, token = sandbox.token, timeout = 0.5,
                                              headers = { ["X-Sandbox-Fault"] = "garbage" } }))
      local refused = hooked(eventapi.losant({ url = "http://127.0.0.1:1", token = sandbox.token }))
      local cd_bad = hooked(eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = PASSWORD }))
      local cd_url = hooked(eventapi.connectdaily({ url = sb.url:gsub("//", "//api:" .. PASSWORD .. "@") .. "/calendar" }))
      local cd_good = hooked(eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = CD_PASSWORD,
                                                     headers = { ["X-Sandbox-Fault"] = "status=503" } }))
      local mr = hooked(eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN }))
      local mr_bad = hooked(eventapi.monterosa({ url = sb.url .. "/api/v2", token = TOKEN }))
      local list = {
        bad.event.get({ applicationId = APP, eventId = EVENT }),                    -- 401
        good.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }), -- 404
        good.events.post({ applicationId = APP, event = { level = "loud" } }),       -- 400
        good.event.get({ applicationId = APP }),                                     -- InvalidParams
        good:request({ path = "/nope", query = { token = QUERY, password = QUERY } }), -- 404 with secrets in the query
        faulty.event.get({ applicationId = APP, eventId = EVENT }),                  -- InvalidResponse
        refused.event.get({ applicationId = APP, eventId = EVENT }),                 -- ConnectionFailed
        cd_bad.events.get({ cal_item_id = 42 }),                                     -- 401
        cd_url.events.get({ cal_item_id = 999999 }),                                 -- 404, credentials in the url
        cd_good.events.get({ cal_item_id = 42 }),                                    -- 503
        mr.events.create({ project_id = PROJECT, name = "x", duration = -1 }),        -- 422
        mr_bad.events.get({ event_id = "x" }),                                       -- 401
      }
      for _, p in ipairs(list) do p:catch(function() end) end -- awaited one by one below: handled
      for _, p in ipairs(list) do errors[#errors + 1] = fail(p) end
      good:close()
      errors[#errors + 1] = fail(good.event.get({ applicationId = APP, eventId = EVENT })) -- Closed
      return errors, infos
    end

    it("never appear in error objects (any field) or their tostring", function()
      local errors = failures()
      assert.are.equal(13, #errors)
      for _, e in ipairs(errors) do
        assert.is_true(eventapi.Error.is(e), tostring(e))
        assert_clean(e, SECRETS, "an error object")
        assert_clean(tostring(e), SECRETS, "tostring of an error")
      end
    end)

    it("read REDACTED for credential-named query values in error urls", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      local err = fail(c:request({ path = "/nope", query = { token = QUERY, other = "kept" } }))
      assert.truthy(err.url:find("token=REDACTED", 1, true))
      assert.truthy(err.url:find("other=kept", 1, true))
    end)

    it("never appear in hook infos", function()
      local _, infos = failures()
      assert.is_true(#infos >= 20)
      for _, info in ipairs(infos) do assert_clean(info, SECRETS, "a hook info") end
    end)

    it("never appear in EVENTAPI_DEBUG output", function()
      local script = os.tmpname()
      nginx.write(script, ([[
        local eventapi = require "eventapi"
        local function try(p) pcall(p.await, p) end
        local url, T, P, Q = %q, %q, %q, %q
        try(eventapi.losant({ url = url, token = T }).event.get({ applicationId = %q, eventId = %q }))
        local ok = eventapi.losant({ url = url, token = %q })
        try(ok:request({ path = "/nope", query = { token = Q } }))
        try(ok.event.get({ applicationId = %q, eventId = %q }))
        try(eventapi.connectdaily({ url = url .. "/calendar", user = "api", password = P }).events.get({ cal_item_id = 42 }))
        try(eventapi.connectdaily({ url = url:gsub("//", "//api:" .. P .. "@") .. "/calendar" }).events.get({ cal_item_id = 42 }))
        try(eventapi.losant({ url = "http://127.0.0.1:1", token = T }).event.get({ applicationId = %q, eventId = %q }))
      ]]):format(sb.url, TOKEN, PASSWORD, QUERY, APP, EVENT, sandbox.token, APP, EVENT, APP, EVENT))
      local out = os.tmpname()
      local cmd = ("cd %s && EVENTAPI_DEBUG=1 LUA_PATH=%s LUA_CPATH=%s lua5.4 %s 2>%s"):format(
        nginx.quote(os.getenv("PWD") or "."), nginx.quote(package.path), nginx.quote(package.cpath),
        nginx.quote(script), nginx.quote(out))
      assert.is_true(os.execute(cmd))
      local f = assert(io.open(out))
      local text = f:read("a")
      f:close()
      os.remove(script); os.remove(out)
      local lines = 0
      for _ in text:gmatch("eventapi: [A-Z]+ [^\n]* %-> ") do lines = lines + 1 end
      assert.are.equal(6, lines, text)
      assert_clean(text, SECRETS, "the debug output")
    end)
  end)

  describe("redirects", function()
    local dir, proxy, other

    setup(function()
      nginx.need("nginx")
      dir = nginx.tempdir()
      other = sandbox.start({})
      local target = other.url
      proxy = nginx.start(dir, function(port)
        return ("  server { listen 127.0.0.1:%d; location / { return 302 %s$request_uri; } }"):format(port, target)
      end)
    end)
    teardown(function()
      if proxy then proxy.stop() end
      if other then other.stop() end
      nginx.remove(dir)
    end)

    it("are not followed: a 302 is an error and the other host gets nothing, no token", function()
      local c = eventapi.losant({ url = proxy.url, token = sandbox.token })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal(302, err.status)
      assert.are.equal("HTTPError", err.type)
      local mr = eventapi.monterosa({ url = proxy.url .. "/api/v2", token = MR_TOKEN })
      assert.are.equal(302, fail(mr.events.get({ event_id = "x" })).status)
      local cd = eventapi.connectdaily({ url = proxy.url .. "/calendar", user = "api", password = CD_PASSWORD })
      assert.are.equal(302, fail(cd.events.get({ cal_item_id = 42 })).status)
      -- the redirect target works and records: it got none of these
      assert.are.equal(0, #sandbox.requests(other))
    end)
  end)

  describe("CR and LF", function()
    local function refused_before_traffic(f)
      sandbox.clear_requests(sb)
      local ok, err = pcall(function() return f():await() end)
      assert.is_false(ok)
      assert.are.equal("InvalidParams", err.type, tostring(err))
      assert.are.equal(0, #sandbox.requests(sb))
    end
    local EVIL = { "a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rX-Evil: 1" }
    for _, evil in ipairs(EVIL) do
      local label = evil:gsub("\r", "\\r"):gsub("\n", "\\n")
      it("are refused in losantdomain (" .. label .. ")", function()
        refused_before_traffic(function()
          return eventapi.losant({ url = sb.url, token = sandbox.token }).event.get({ applicationId = APP, eventId = EVENT,
                                                                                    losantdomain = evil })
        end)
      end)
      for _, opt in ipairs({ "token", "accept_version", "user_agent", "header value", "header name", "url" }) do
        it("are refused in the " .. opt .. " option (" .. label .. ")", function()
          refused_before_traffic(function()
            local o = { url = sb.url, token = sandbox.token }
            if opt == "header value" then o.headers = { ["X-Note"] = evil }
            elseif opt == "header name" then o.headers = { [evil] = "v" }
            elseif opt == "url" then o.url = sb.url .. "/" .. evil
            else o[opt] = evil end
            return eventapi.losant(o).event.get({ applicationId = APP, eventId = EVENT })
          end)
        end)
      end
      it("are refused in Connect Daily and Monterosa tokens and request headers (" .. label .. ")", function()
        refused_before_traffic(function()
          return eventapi.connectdaily({ url = sb.url .. "/calendar", token = evil }).events.get({ cal_item_id = 42 })
        end)
        refused_before_traffic(function()
          return eventapi.monterosa({ url = sb.url .. "/api/v2", token = evil }).events.get({ event_id = "x" })
        end)
        local c = eventapi.losant({ url = sb.url, token = sandbox.token })
        refused_before_traffic(function() return c:request({ path = "/x", headers = { ["X-A"] = evil } }) end)
        refused_before_traffic(function() return c:request({ path = "/x", headers = { [evil] = "v" } }) end)
      end)
    end
    it("nor does a NUL: one in a header value is refused like them (option, call header, losantdomain)", function()
      local nul = "a\0X-Evil: 1"
      refused_before_traffic(function()
        return eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Note"] = nul } })
          .event.get({ applicationId = APP, eventId = EVENT })
      end)
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      refused_before_traffic(function()
        return c.event.get({ applicationId = APP, eventId = EVENT, headers = { ["X-Note"] = nul } })
      end)
      refused_before_traffic(function()
        return c.event.get({ applicationId = APP, eventId = EVENT, losantdomain = nul })
      end)
      refused_before_traffic(function() return c:request({ path = "/x", headers = { ["X-A"] = nul } }) end)
    end)

    it("in a user name or password never reach the wire as a line (Basic is encoded)", function()
      sandbox.clear_requests(sb)
      local cd = eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api\r\nX-Evil 1", password = "p\r\nX-Evil: 2" })
      assert.are.equal(401, fail(cd.events.get({ cal_item_id = 42 })).status)
      local r = sandbox.requests(sb)
      assert.are.equal(1, #r)
      assert.is_nil(r[1].headers["x-evil"])
    end)
  end)

  describe("hostile ids", function()
    local IDS = { "../x", "a/b", "?&=", "#frag", "%2F", "with space", "ünïcode", "nul\0byte", "a\r\nb" }

    --- The path segments of the last recorded request, percent-decoded.
    local function segments()
      local record = sandbox.requests(sb)
      local path = record[#record].path
      local list = {}
      for s in path:gmatch("[^/]+") do
        list[#list + 1] = s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
      end
      return list, path
    end

    local losant = function() return eventapi.losant({ url = sb.url, token = sandbox.token }) end
    local CALLS = {
      { "losant event.get eventId", 4, 4, function(id) return losant().event.get({ applicationId = APP, eventId = id }) end },
      { "losant event.patch eventId", 4, 4, function(id)
        return losant().event.patch({ applicationId = APP, eventId = id, event = { comment = "c" } }) end },
      { "losant integration.delete integrationId", 4, 4, function(id)
        return losant().integration.delete({ applicationId = APP, integrationId = id }) end },
      { "losant events.get applicationId", 3, 2, function(id) return losant().events.get({ applicationId = id }) end },
      { "connectdaily events.get itemguid", 5, 5, function(id)
        return eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = CD_PASSWORD })
          .events.get({ itemguid = id }) end, "itemguid=" },
      { "monterosa events.get event_id", 4, 4, function(id)
        return eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN }).events.get({ event_id = id }) end },
      { "monterosa events.delete event_id", 4, 4, function(id)
        return eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN }).events.delete({ event_id = id }) end },
      { "monterosa events.list project_id", 5, 4, function(id)
        return eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN }).events.list({ project_id = id,
                                                                                               state = "future" }) end },
    }
    for _, call in ipairs(CALLS) do
      local label, count, index, f, prefix = call[1], call[2], call[3], call[4], call[5]
      it(label .. " keeps every hostile id inside its path segment", function()
        for _, id in ipairs(IDS) do
          local err = fail(f(id))
          assert.is_number(err.status, tostring(err)) -- it reached the server and was refused there
          assert.is_true(err.status >= 400 and err.status < 500, tostring(err))
          local list, path = segments()
          assert.are.equal(count, #list, path)
          assert.are.equal((prefix or "") .. id, list[index], path)
        end
      end)
    end
    it("a dot segment (. or ..) as an id is InvalidParams before any traffic (it would climb the path)", function()
      local l = losant()
      local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
      sandbox.clear_requests(sb)
      for _, id in ipairs({ ".", ".." }) do
        assert.are.equal("InvalidParams", fail(l.event.get({ applicationId = APP, eventId = id })).type)
        assert.are.equal("InvalidParams", fail(l.events.get({ applicationId = id })).type)
        assert.are.equal("InvalidParams", fail(l.integration.delete({ applicationId = APP, integrationId = id })).type)
        assert.are.equal("InvalidParams", fail(mr.events.delete({ event_id = id })).type)
        assert.are.equal("InvalidParams", fail(mr.events.list({ project_id = id, state = "future" })).type)
      end
      assert.are.equal(0, #sandbox.requests(sb))
    end)
    it("Connect Daily refuses a cal_item_id that is not a positive integer before any traffic", function()
      local cd = eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = CD_PASSWORD })
      sandbox.clear_requests(sb)
      for _, id in ipairs({ "../42", "42/../43", "42?x", "-1", "4 2", 0, 1.5 }) do
        assert.are.equal("InvalidParams", fail(cd.events.get({ cal_item_id = id })).type)
      end
      assert.are.equal(0, #sandbox.requests(sb))
    end)
  end)

  describe("answers", function()
    it("over max_body are cut with InvalidResponse", function()
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      local made = {}
      for i = 1, 100 do
        made[i] = c.events.post({ applicationId = APP, event = { level = "info", subject = ("bulk %03d"):format(i),
                                                                 message = string.rep("m", 200) } })
      end
      eventapi.all(made):await()
      local page = c.events.get({ applicationId = APP, perPage = 100 }):await()
      assert.are.equal(100, #page.items) -- a full page fits the default limit
      local small = eventapi.losant({ url = sb.url, token = sandbox.token, max_body = 4096 })
      local err = fail(small.events.get({ applicationId = APP, perPage = 100 }))
      assert.are.equal("InvalidResponse", err.type)
      assert.truthy(err.message:find("4096", 1, true), err.message)
      -- the same client still reads what fits
      assert.are.equal(EVENT, small.event.get({ applicationId = APP, eventId = EVENT }):await().id)
    end)

    it("of exactly max_body bytes are read whole, one byte more is InvalidResponse", function()
      local url = sb.url .. "/applications/" .. APP .. "/events/" .. EVENT .. "?_actions=false&_links=true&_embedded=true"
      local body = sandbox.http("GET", url, { token = sandbox.token }).body -- what the client will be sent
      assert.is_true(#body > 100, body)
      local exact = eventapi.losant({ url = sb.url, token = sandbox.token, max_body = #body })
      assert.are.equal(EVENT, exact.event.get({ applicationId = APP, eventId = EVENT }):await().id)
      local short = eventapi.losant({ url = sb.url, token = sandbox.token, max_body = #body - 1 })
      local err = fail(short.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("InvalidResponse", err.type)
      assert.truthy(err.message:find(tostring(#body - 1), 1, true), err.message)
    end)

    it("nested deeper than the decoder's limit are InvalidResponse, one level less decodes", function()
      local function post(depth)
        local body = '{"level":"info","subject":"deep","data":{"x":' .. string.rep("[", depth) .. string.rep("]", depth) .. "}}"
        local res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/events",
                                 { token = sandbox.token, headers = { ["Content-Type"] = "application/json" }, body = body })
        assert.are.equal(201, res.status, res.body)
        return res.body:match('"id":"(%x+)"')
      end
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      -- the event object is 1 level, data 2, x 3: 997 arrays reach 1000, 1100 pass it
      local fits = c.event.get({ applicationId = APP, eventId = post(997) }):await()
      assert.is_table(fits.data.x)
      local err = fail(c.event.get({ applicationId = APP, eventId = post(1100) }))
      assert.are.equal("InvalidResponse", err.type)
      assert.are.equal(200, err.status)
      assert.truthy(err.message:find("deep", 1, true), err.message)
    end)
  end)

  it("concurrent patches of one Losant event lose no update", function()
    local c = eventapi.losant({ url = sb.url, token = sandbox.token })
    local ev = c.events.post({ applicationId = APP, event = { level = "info", subject = "patched 50 times" } }):await()
    local list = {}
    for i = 1, 50 do
      list[i] = c.event.patch({ applicationId = APP, eventId = ev.id, event = { comment = "comment " .. i } })
    end
    eventapi.all(list):await()
    local after = c.event.get({ applicationId = APP, eventId = ev.id }):await()
    local seen = {}
    for _, u in ipairs(after.updates) do if u.comment then seen[u.comment] = (seen[u.comment] or 0) + 1 end end
    for i = 1, 50 do assert.are.equal(1, seen["comment " .. i], "comment " .. i) end
    assert.are.equal(50, #after.updates)
  end)
end)
