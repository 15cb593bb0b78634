-- Nothing fails silently: unhandled failures end the run, nothing waits for
-- ever by default, every number is checked, pages cannot loop, error text
-- is safe to log, too large is refused before traffic, await says what is
-- wrong in a foreign coroutine. Hostile answers come from the sandbox's
-- X-Sandbox-Fault injections, over real HTTP.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local MR_TOKEN = "sandbox-monterosa-token"
local CD_PASSWORD = "sandbox-password"
local fail = sandbox.rejection
local scale = sandbox.time

local sb

--- A Losant client of the sandbox with extra options.
local function losant(extra) return sb.losant(extra) end

--- A Losant client whose every request carries the fault text.
local function faulty(fault, extra)
  local o = extra or {}
  o.headers = { ["X-Sandbox-Fault"] = fault }
  return losant(o)
end

--- The InvalidParams error a function raises (or a promise it returns rejects with).
local function invalid(fn)
  local ok, result = pcall(fn)
  local err = result
  if ok then err = fail(result) end
  assert.is_true(eventapi.Error.is(err), "not an eventapi.Error: " .. tostring(err))
  assert.are.equal("InvalidParams", err.type, tostring(err))
  return err
end

--- Runs a Lua script in a child process (command: default lua5.4); returns ok, stdout, stderr, code.
local function run_script(text, command) return sandbox.run_lua(text, { command = command }) end

setup(function() sb = sandbox.start({ faults = true }) end)
teardown(function() sb.stop() end)
before_each(function() sandbox.clear_requests(sb) end)

describe("unhandled failures", function()
  it("a rejection nobody handled is raised out of run as its error object", function()
    losant().event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    local ok, err = pcall(eventapi.run)
    assert.is_false(ok)
    assert.are.equal("NotFound", err.type)
    assert.is_true(eventapi.reported(err))
    assert.truthy(err.location:find("failures_spec.lua:%d+$"), err.location)
  end)

  it("a handler attached later in the same turn is in time", function()
    local p = eventapi.reject(eventapi.Error.new({ type = "X", message = "x" }))
    local got
    p:catch(function(e) got = e.type end)
    eventapi.run()
    assert.are.equal("X", got)
  end)

  it("a rejection still without a handler after a turn of the loop is unhandled", function()
    local p = eventapi.reject(eventapi.Error.new({ type = "X", message = "late" }))
    local ok, err = pcall(eventapi.step, 0)
    assert.is_false(ok)
    assert.are.equal("late", err.message)
    p:catch(function() end) -- too late: already reported
  end)

  it("a failed spawn is raised out of run as a ScriptError with the file and line", function()
    eventapi.spawn(function() error("boom") end)
    local ok, err = pcall(eventapi.run)
    assert.is_false(ok)
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("failures_spec.lua:%d+: boom"), err.message)
  end)

  it("an error raised by a handler whose child promise nobody handles is raised", function()
    eventapi.resolve(1):next(function() error({ custom = true }) end)
    local ok, err = pcall(eventapi.run)
    assert.is_false(ok)
    assert.are.equal("ScriptError", err.type)
    assert.is_true(err.cause.custom)
  end)

  it("a call whose callback received the error has been handled", function()
    local got
    losant().event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" }, function(err) got = err end)
    eventapi.run()
    assert.are.equal("NotFound", got.type)
  end)

  it("await raises the failure of the promise it waits for, which is then handled", function()
    local p = losant().event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    assert.are.equal("NotFound", fail(p).type)
    eventapi.run() -- nothing left to report
  end)

  it("on_unhandled takes the failures instead of raising them", function()
    local got = {}
    local previous = eventapi.on_unhandled(function(err) got[#got + 1] = err end)
    losant().event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    eventapi.spawn(function() error("boom", 0) end)
    local ok = pcall(eventapi.run)
    eventapi.on_unhandled(previous)
    assert.is_true(ok)
    assert.are.equal(2, #got)
    local types = { got[1].type, got[2].type }
    table.sort(types)
    assert.are.same({ "NotFound", "ScriptError" }, types)
  end)

  it("on_unhandled refuses what is not a function", function()
    invalid(function() eventapi.on_unhandled("print") end)
  end)

  it("end a plain lua5.4 script with a failure status, the error and the call's line on stderr", function()
    local ok, out, err = run_script(([[
      local eventapi = require "eventapi"
      local c = eventapi.losant({ url = %q, token = %q })
      c.event.patch({ applicationId = %q, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa", event = { state = "acknowledged" } })
      eventapi.run()
      print("not reached")
    ]]):format(sb.url, sandbox.token, APP))
    assert.is_falsy(ok)
    assert.are.equal("", out)
    assert.truthy(err:find("eventapi: [^\n]*:3: unhandled failure: NotFound %(404%): Event was not found %[PATCH "), err)
  end)

  it("print every failure of one turn on stderr and raise the first", function()
    local ok, _, err = run_script([[
      local eventapi = require "eventapi"
      eventapi.reject(eventapi.Error.new({ type = "Timeout", message = "first of two" }))
      eventapi.reject(eventapi.Error.new({ type = "Timeout", message = "second of two" }))
      eventapi.run()
    ]])
    assert.is_falsy(ok)
    local lines = {}
    for line in err:gmatch("[^\n]+") do
      if line:find("^eventapi: unhandled failure: ") then lines[#lines + 1] = line end
    end
    assert.are.same({ "eventapi: unhandled failure: Timeout: first of two",
                      "eventapi: unhandled failure: Timeout: second of two" }, lines)
    assert.truthy(err:find("lua5.4: Timeout: first of two", 1, true), err)
  end)

  it("end an eventapi run with exit status 1 and the error on stderr once", function()
    local ok, _, err, code = run_script(([[
      local c = eventapi.losant({ url = %q, token = %q })
      eventapi.spawn(function() error("runbook bug 0815") end)
      c.event.get({ applicationId = %q, eventId = %q }, function() end)
    ]]):format(sb.url, sandbox.token, APP, EVENT), "bin/eventapi run")
    assert.is_falsy(ok)
    assert.are.equal(1, code)
    local _, count = err:gsub("runbook bug 0815", "")
    assert.are.equal(1, count, err)
  end)
end)

describe("error objects", function()
  it("step from inside a handler is an InvalidUse error that says to use spawn", function()
    local err
    eventapi.resolve(1):next(function() eventapi.step(0) end):catch(function(e) err = e end)
    eventapi.run()
    assert.are.equal("InvalidUse", err.type)
    assert.truthy(err.message:find("eventapi.spawn", 1, true))
  end)

  it("await on a promise nothing can settle is an Unsettled error", function()
    local ok, err = pcall(eventapi.promise(function() end).await, eventapi.promise(function() end))
    assert.is_false(ok)
    assert.are.equal("Unsettled", err.type)
  end)

  it("a handler that is not a function is InvalidParams", function()
    local err = invalid(function() eventapi.resolve(1):next(42) end)
    assert.truthy(err.message:find("on_ok must be a function, not a number", 1, true), err.message)
  end)

  it("a promise resolved with itself is rejected with InvalidParams", function()
    local resolve
    local p = eventapi.promise(function(r) resolve = r end)
    resolve(p)
    assert.are.equal("InvalidParams", fail(p).type)
  end)

  it("a spawned function that yields without await is rejected with InvalidUse", function()
    local p = eventapi.spawn(function() coroutine.yield(1) end)
    assert.are.equal("InvalidUse", fail(p).type)
  end)

  it("each with params that are not a table is InvalidParams", function()
    invalid(function() return losant().events.each("x") end)
  end)

  it("a token with CR or LF is refused naming the token option, never its value", function()
    local err = invalid(function() return losant({ token = "tok-9931\r\nX-Evil: 1" }) end)
    assert.truthy(err.message:find("option token must not contain CR, LF or NUL", 1, true), err.message)
    assert.is_nil(err.message:find("tok-9931", 1, true))
  end)

  it("a 500 whose answer names no type is ServerError", function()
    local nginx = require "helpers.nginx"
    local dir = nginx.tempdir()
    local server = nginx.start(dir, function(port)
      return ("  server { listen 127.0.0.1:%d; location / { return 500 'oops'; } }"):format(port)
    end)
    local err = fail(eventapi.losant({ url = server.url, token = sandbox.token })
      .event.get({ applicationId = APP, eventId = EVENT }))
    server.stop()
    nginx.remove(dir)
    assert.are.equal(500, err.status)
    assert.are.equal("ServerError", err.type)
    assert.are.equal("oops", err.message)
  end)

  it("prints as one line whatever it holds", function()
    local e = eventapi.Error.new({ type = "A\nB", message = "one\r\ntwo\27[2J", method = "GET", url = "http://x/\n" })
    assert.is_nil(tostring(e):find("[%c]"))
  end)
end)

describe("nothing waits for ever", function()
  it("by default a client connects within 10 s and gives up after 60 s without a byte", function()
    local limits = losant().limits
    assert.are.equal(10, limits.connect_timeout)
    assert.are.equal(60, limits.idle_timeout)
    assert.is_nil(limits.timeout)
  end)

  it("a server that reads the request and never answers is a Timeout after idle_timeout", function()
    local started = os.time()
    local err = fail(faulty("stall", { idle_timeout = 1 }).event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.equal("Timeout", err.type)
    assert.truthy(err.message:find("idle_timeout", 1, true), err.message)
    assert.is_true(os.time() - started <= scale(5))
  end)

  it("a server that stalls in the middle of the body is a Timeout after idle_timeout", function()
    local err = fail(faulty("stall-body", { idle_timeout = 1 }).events.get({ applicationId = APP }))
    assert.are.equal("Timeout", err.type)
    assert.truthy(err.message:find("no data received for 1 s", 1, true), err.message)
  end)

  it("sleep(math.huge) is refused instead of spinning", function()
    invalid(function() return eventapi.sleep(math.huge) end)
  end)

  it("step refuses NaN and what is not a number", function()
    for _, bad in ipairs({ 0 / 0, "1" }) do invalid(function() return eventapi.step(bad) end) end
  end)

  it("sleep refuses NaN, negative seconds and what is not a number", function()
    for _, bad in ipairs({ 0 / 0, -1, "1" }) do invalid(function() return eventapi.sleep(bad) end) end
  end)
end)

describe("every number is checked", function()
  local BAD = {
    { "timeout", -1 }, { "timeout", 0 / 0 }, { "timeout", 1e300 }, { "timeout", 0.0004 }, { "timeout", math.huge },
    { "connect_timeout", -5 }, { "idle_timeout", 0.5 }, { "idle_timeout", 0 }, { "max_body", -1 },
    { "max_body", 1.5 }, { "max_connections", 0 },
  }
  for _, case in ipairs(BAD) do
    local shown = case[2] ~= case[2] and "NaN" or tostring(case[2]) -- never the C library's "-nan"
    it(("refuses the option %s = %s naming both"):format(case[1], shown), function()
      local err = invalid(function() return losant({ [case[1]] = case[2] }) end)
      assert.truthy(err.message:find("option " .. case[1], 1, true), err.message)
      assert.truthy(err.message:find(shown, 1, true), err.message)
    end)
  end

  it("refuses retries.max = NaN, a fractional max and a negative base", function()
    for _, retries in ipairs({ { max = 0 / 0 }, { max = 1.5 }, { base = -1 }, { cap = math.huge } }) do
      invalid(function() return losant({ retries = retries }) end)
    end
  end)

  it("refuses NaN and infinite params before any traffic", function()
    local c = losant()
    invalid(function() return c.events.get({ applicationId = APP, perPage = 0 / 0 }) end)
    invalid(function() return c.events.get({ applicationId = APP, perPage = math.huge }) end)
    invalid(function() return c.events.get({ applicationId = APP, perPage = 2.5 }) end)
    invalid(function() return c.event.get({ applicationId = APP, eventId = EVENT, _links = 0 / 0 }) end)
    local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
    invalid(function() return mr.events.list({ project_id = PROJECT, state = "future", count = 0 / 0 }) end)
    invalid(function() return mr.events.create({ project_id = PROJECT, name = "x", duration = 0 / 0 }) end)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("refuses a request whose query is not a table, or whose body is cyclic or holds NaN", function()
    local c = losant()
    invalid(function() return c:request({ path = "/x", query = "a=b" }) end)
    local cyclic = {}
    cyclic.self = cyclic
    invalid(function() return c:request({ method = "POST", path = "/x", body = cyclic }) end)
    local err = invalid(function() return c:request({ method = "POST", path = "/x", body = { n = 0 / 0 } }) end)
    assert.is_nil(err.message:find("%.lua:%d+"), err.message)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("settles a retried call whose server sends Retry-After: -1, with the backoff", function()
    local c = faulty("status=503,retry-after=-1", { retries = { max = 2, base = 0.01 } })
    local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.equal(503, err.status)
    assert.are.equal(3, err.attempts)
  end)

  it("reads Retry-After: 0x5 as no number at all (the backoff applies, not five seconds)", function()
    local c = faulty("status=503,retry-after=0x5", { retries = { max = 1, base = 0.01 } })
    local waits = {}
    c:on("retry", function(info) waits[#waits + 1] = info.wait end)
    fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.equal(1, #waits)
    assert.is_true(waits[1] < 0.1, tostring(waits[1]))
  end)

  it("waits the seconds of a decimal Retry-After", function()
    local c = faulty("status=503,retry-after=0", { retries = { max = 1, base = 5 } })
    local waits = {}
    c:on("retry", function(info) waits[#waits + 1] = info.wait end)
    fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.same({ 0 }, waits)
  end)
end)

describe("pagination cannot loop", function()
  it("each stops with InvalidResponse naming the page when the server repeats a page number", function()
    local c = faulty("repeat-page")
    local ok, err = pcall(function()
      for _ in c.events.each({ applicationId = APP, perPage = 2 }) do end
    end)
    assert.is_false(ok)
    assert.are.equal("InvalidResponse", err.type)
    assert.truthy(err.message:find("page 0 again", 1, true), err.message)
    assert.are.equal(2, #sandbox.requests(sb)) -- page 0, then "page 0" again for page 1
  end)

  it("all rejects with InvalidResponse when pages hold only known ids while more are claimed", function()
    local c = faulty("stale-page")
    local err = fail(c.events.all({ applicationId = APP, perPage = 1 }))
    assert.are.equal("InvalidResponse", err.type)
    assert.truthy(err.message:find("only items already seen", 1, true), err.message)
    assert.are.equal(3, #sandbox.requests(sb)) -- page 0, then two stale pages in a row
  end)

  it("each stops with InvalidResponse naming the cursor when the server repeats a cursor", function()
    local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN,
                                    headers = { ["X-Sandbox-Fault"] = "repeat-page" } })
    for i = 1, 3 do
      mr.events.create({ project_id = PROJECT, name = "page " .. i, duration = 60, start_at = 2000000000 + i,
                         start_mode = "manual" }):await()
    end
    sandbox.clear_requests(sb)
    local err = fail(mr.events.all({ project_id = PROJECT, state = { "future", "current", "past" }, count = 1 }))
    assert.are.equal("InvalidResponse", err.type)
    assert.truthy(err.message:find("cursor", 1, true), err.message)
    assert.are.equal(2, #sandbox.requests(sb)) -- the first page, then the cursor it gave sent back
  end)

  it("each stops at once when the server sends back the cursor the walk started from", function()
    local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN })
    for i = 1, 3 do
      mr.events.create({ project_id = PROJECT, name = "from " .. i, duration = 60, start_at = 2000000100 + i,
                         start_mode = "manual" }):await()
    end
    local states = { "future", "current", "past" }
    local first = mr.events.list({ project_id = PROJECT, state = states, count = 1 }):await()
    assert.truthy(first.next_cursor)
    local repeating = eventapi.monterosa({ url = sb.url .. "/api/v2", token = MR_TOKEN,
                                           headers = { ["X-Sandbox-Fault"] = "repeat-page" } })
    sandbox.clear_requests(sb)
    local err = fail(repeating.events.all({ project_id = PROJECT, state = states, count = 1,
                                            cursor = first.next_cursor }))
    assert.are.equal("InvalidResponse", err.type)
    assert.truthy(err.message:find("cursor", 1, true), err.message)
    assert.are.equal(1, #sandbox.requests(sb))
  end)

  it("limit is exact: a limit equal to the first page fetches no other page", function()
    local items = losant().events.all({ applicationId = APP, perPage = 2, limit = 2 }):await()
    assert.are.equal(2, #items)
    assert.are.equal(1, #sandbox.requests(sb))
  end)

  it("limit is exact: one more than a page fetches exactly one more page", function()
    local items = losant().events.all({ applicationId = APP, perPage = 2, limit = 3 }):await()
    assert.are.equal(3, #items)
    assert.are.equal(2, #sandbox.requests(sb))
  end)

  it("limit 0 sends nothing", function()
    local items = losant().events.all({ applicationId = APP, limit = 0 }):await()
    assert.are.equal(0, #items)
    assert.are.equal(0, #sandbox.requests(sb))
  end)
end)

describe("error text is safe to log", function()
  it("escapes control characters the server put in the type and message", function()
    local err = fail(faulty("control-chars").event.get({ applicationId = APP, eventId = EVENT }))
    for _, text in ipairs({ err.type, err.message, tostring(err) }) do
      assert.is_nil(text:find("[%c\127]"), text)
      assert.is_nil(text:find("\194[\128-\159]"), text)
    end
    assert.truthy(err.message:find("line one\\r\\nline two \\x1b[2J", 1, true), err.message)
    assert.truthy(err.message:find("c1\\u0085", 1, true), err.message)
  end)

  it("escapes a DEL the server sent even when it is the only control character", function()
    local c = losant({ headers = { ["X-Sandbox-Fault"] = "echo-headers", ["X-Note"] = "del\127here" } })
    local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.equal("del\127here", err.body.headers["x-note"]) -- the server did send it
    assert.truthy(err.message:find("del\\x7fhere", 1, true), err.message)
    assert.is_nil(err.message:find("\127", 1, true))
    assert.is_nil(tostring(err):find("\127", 1, true))
  end)

  it("escapes a C1 control character the server sent even when no C0 one comes with it", function()
    local c = losant({ headers = { ["X-Sandbox-Fault"] = "echo-headers", ["X-Note"] = "nel\194\133here" } })
    local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.equal("nel\194\133here", err.body.headers["x-note"]) -- the server did send it
    assert.truthy(err.message:find("nel\\u0085here", 1, true), err.message)
    assert.is_nil(tostring(err):find("\194\133", 1, true))
  end)

  it("redacts the token a server echoes in its error body", function()
    local token = sandbox.token
    local err = fail(faulty("echo-headers").event.get({ applicationId = APP, eventId = EVENT }))
    assert.is_nil(err.message:find(token, 1, true), err.message)
    assert.is_nil(tostring(err):find(token, 1, true))
    for _, v in pairs(err.body.headers) do assert.is_nil(v:find(token, 1, true), v) end
    assert.are.equal("Bearer REDACTED", err.body.headers.authorization)
  end)

  it("redacts the client's token in the url of a request closed while it waited to retry", function()
    local c = faulty("status=503", { token = "tok-in-path-77", retries = { base = 5, cap = 10, max = 2 } })
    local p = c.event.get({ applicationId = APP, eventId = "tok-in-path-77" })
    eventapi.sleep(scale(0.3)):next(function() c:close() end)
    local err = fail(p)
    assert.are.equal("Closed", err.type)
    assert.truthy(err.message:find("waited to retry", 1, true), err.message)
    assert.is_nil(err.url:find("tok-in-path-77", 1, true), err.url)
    assert.truthy(err.url:find("REDACTED", 1, true), err.url)
  end)

  it("redacts a secret that contains another secret whole", function()
    -- (8 bytes at least: a shorter secret is only replaced where it stands alone)
    local c = losant({ token = "tok-4242", headers = { ["X-Sandbox-Fault"] = "echo-headers",
                                                        ["X-Auth-Token"] = "tok-4242-extended" } })
    local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.are.equal("REDACTED", err.body.headers["x-auth-token"])
    assert.is_nil(tostring(err):find("extended", 1, true), tostring(err))
  end)

  it("redacts Basic credentials and the password a server echoes", function()
    local cd = eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = CD_PASSWORD,
                                       headers = { ["X-Sandbox-Fault"] = "echo-headers" } })
    local err = fail(cd.events.get({ cal_item_id = 42 }))
    local basic = sandbox.base64("api:" .. CD_PASSWORD)
    assert.is_nil(tostring(err):find(basic, 1, true))
    assert.are.equal("Basic REDACTED", err.body.headers.authorization)
  end)

  it("redacts the value of a header option named like a credential", function()
    local c = losant({ headers = { ["X-Sandbox-Fault"] = "echo-headers", ["X-Api-Key"] = "key-0123456789" } })
    local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
    assert.is_nil(tostring(err):find("key-0123456789", 1, true))
    assert.are.equal("REDACTED", err.body.headers["x-api-key"])
  end)

  it("keeps secrets out of EVENTAPI_DEBUG lines even when the URL holds them", function()
    local ok, _, err = run_script(([[
      local eventapi = require "eventapi"
      local c = eventapi.losant({ url = %q, token = "tok-secret-42" })
      c:request({ path = "/nope/tok-secret-42", query = { ["api-key"] = "k1", sig = "s1" } }):catch(function() end)
      eventapi.run()
    ]]):format(sb.url), "EVENTAPI_DEBUG=1 lua5.4")
    assert.is_truthy(ok, err)
    assert.truthy(err:find("eventapi: GET ", 1, true), err)
    for _, secret in ipairs({ "tok-secret-42", "k1", "s1" }) do assert.is_nil(err:find(secret, 1, true), err) end
  end)

  local NAMES = { "token", "access_token", "access-token", "api_key", "api-key", "apikey", "client_secret",
                  "secret", "password", "auth", "authorization", "sig", "signature", "Api-Key", "%74oken" }
  for _, name in ipairs(NAMES) do
    it("redacts the value of a query param named " .. name .. " in URLs", function()
      local err = fail(losant():request({ path = "/nope?" .. name .. "=leak-" .. #name }))
      assert.is_nil(err.url:find("leak-", 1, true), err.url)
      assert.truthy(err.url:find(name .. "=REDACTED", 1, true), err.url)
    end)
  end

  it("removes the whole user and password from a URL, even a password with @ in it", function()
    local url = sb.url:gsub("//", "//api:p@ss@word@") .. "/calendar"
    local err = fail(eventapi.connectdaily({ url = url }).events.get({ cal_item_id = 999999 }))
    assert.is_nil(err.url:find("ss", 1, true), err.url)
    assert.is_nil(err.url:find("@", 1, true), err.url)
  end)
end)

describe("too large for libcurl", function()
  it("a 1 MB id is InvalidParams before any traffic, never retried", function()
    local c = losant({ retries = true })
    local err = invalid(function() return c.event.get({ applicationId = APP, eventId = ("a"):rep(1024 * 1024) }) end)
    assert.truthy(err.message:find("more than", 1, true), err.message)
    assert.is_nil(err.attempts)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("a header option over the limit is InvalidParams when the client is made", function()
    invalid(function() return losant({ headers = { ["X-Big"] = ("b"):rep(1024 * 1024) } }) end)
  end)

  it("a request header over the limit is InvalidParams before any traffic", function()
    invalid(function() return losant():request({ path = "/x", headers = { ["X-Big"] = ("b"):rep(1024 * 1024) } }) end)
    assert.are.equal(0, #sandbox.requests(sb))
  end)
end)

describe("await in coroutines", function()
  it("in a coroutine eventapi.spawn did not start raises InvalidUse at once, naming spawn", function()
    local p = eventapi.promise(function() end)
    local ok, err = coroutine.wrap(function() return pcall(p.await, p) end)()
    assert.is_false(ok)
    assert.are.equal("InvalidUse", err.type)
    assert.truthy(err.message:find("eventapi.spawn", 1, true))
    assert.is_nil(err.message:find("%.lua"), err.message)
  end)

  it("in a coroutine nested inside spawn says so", function()
    local got
    eventapi.spawn(function()
      coroutine.wrap(function()
        local ok, err = pcall(function() return eventapi.resolve(1):await() end)
        got = not ok and err
      end)()
    end):await()
    assert.are.equal("InvalidUse", got.type)
    assert.truthy(got.message:find("inside eventapi.spawn", 1, true), got.message)
    assert.is_nil(got.message:find("handler or callback", 1, true), got.message)
  end)
end)
