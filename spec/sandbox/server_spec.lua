-- The sandbox server itself: command line, record, faults, persistence,
-- shutdown and hostile input.
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = "575ed0de7ae143cd83dc4aa5"

local function event_url(sb) return sb.url .. "/applications/" .. APP .. "/events/" .. EVENT end

-- Wall-clock time in seconds, with fractions.
local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- Reads a whole file, nil when it is missing or empty.
local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text ~= "" and text or nil
end

-- Waits until the sandbox has recorded n requests (they are then being handled).
local function await_recorded(sb, n)
  local deadline = now() + sandbox.time(5)
  while #sandbox.requests(sb) < n do
    assert(now() < deadline, "the sandbox did not receive the requests")
    os.execute("sleep 0.05")
  end
end

describe("the sandbox server", function()
  it("prints the listening line with the port it picked", function()
    local a, b = sandbox.start(), sandbox.start()
    assert.truthy(a.url:match("^http://127%.0%.0%.1:%d+$"))
    assert.are_not.equal(a.url, b.url)
    a.stop(); b.stop()
  end)

  it("exits 0 on SIGTERM", function()
    local sb = sandbox.start()
    local exit = sb.stop("TERM")
    assert.is_true(exit.ok)
    assert.are.equal(0, exit.code)
  end)

  it("exits 0 on SIGINT", function()
    local sb = sandbox.start()
    assert.are.equal(0, sb.stop("INT").code)
  end)

  it("keeps data across a restart with --db", function()
    local db = os.tmpname()
    os.remove(db)
    local sb = sandbox.start({ db = db })
    sandbox.http("PATCH", event_url(sb), { token = sandbox.token, json = { state = "resolved" } })
    sb.stop()
    sb = sandbox.start({ db = db })
    local res = sandbox.http("GET", event_url(sb), { token = sandbox.token })
    sb.stop()
    os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
    assert.are.equal("resolved", res.json.state)
  end)

  it("writes one access-log line per request with --log, without the token", function()
    local log = os.tmpname()
    local sb = sandbox.start({ log = true, stderr = log })
    sandbox.http("GET", event_url(sb), { token = sandbox.token })
    sb.stop()
    local f = io.open(log); local text = f:read("a"); f:close(); os.remove(log)
    assert.truthy(text:find("GET /applications/" .. APP .. "/events/" .. EVENT .. " 200", 1, true))
    assert.is_nil(text:find(sandbox.token, 1, true))
  end)

  it("refuses an unknown option with exit code 2", function()
    local ok, _, code = os.execute(sandbox.binary .. " --bogus 2>/dev/null")
    assert.is_falsy(ok)
    assert.are.equal(2, code)
  end)

  it("refuses a seed that is not JSON with exit code 2", function()
    local seed = os.tmpname()
    local f = io.open(seed, "w"); f:write("{ nope"); f:close()
    local ok, _, code = os.execute(sandbox.binary .. " --seed " .. seed .. " 2>/dev/null")
    os.remove(seed)
    assert.is_falsy(ok)
    assert.are.equal(2, code)
  end)
end)

describe("the sandbox seed", function()
  it("refuses a Losant event whose creationDate is not a date-time, with exit code 2", function()
    local seed = os.tmpname()
    local f = io.open(seed, "w")
    f:write('{"losant":{"applications":[{"id":"575ec8687ae143cd83dc4a97"}],"events":[{"id":"575ed0de7ae143cd83dc4aa5",'
      .. '"applicationId":"575ec8687ae143cd83dc4a97","level":"info","subject":"s","creationDate":"yesterday"}]}}')
    f:close()
    local ok, _, code = os.execute(sandbox.binary .. " --seed " .. seed .. " 2>/dev/null")
    os.remove(seed)
    assert.is_falsy(ok)
    assert.are.equal(2, code)
  end)
end)

describe("the sandbox's Losant seed", function()
  local function seed_file(events)
    local seed = os.tmpname()
    local f = io.open(seed, "w")
    f:write('{"losant":{"applications":[{"id":"575ec8687ae143cd83dc4a97"}],"tokens":[{"token":"t","scopes":["all.Application"]}],'
      .. '"events":[' .. events .. ']}}')
    f:close()
    return seed
  end

  it("serves a seeded event's updates", function()
    local seed = seed_file('{"id":"575ed0de7ae143cd83dc4aa5","applicationId":"575ec8687ae143cd83dc4a97","level":"info",'
      .. '"subject":"s","updates":[{"comment":"one"},{"comment":"two"}]}')
    local sb = sandbox.start({ seed = seed })
    local res = sandbox.http("GET", event_url(sb), { token = "t" })
    sb.stop()
    os.remove(seed)
    assert.are.equal(2, #res.json.updates)
    assert.are.equal("two", res.json.updates[2].comment)
  end)

  it("refuses an event whose subject is not a string, with exit code 2", function()
    local seed = seed_file('{"id":"575ed0de7ae143cd83dc4aa5","applicationId":"575ec8687ae143cd83dc4a97",'
      .. '"level":"info","subject":5}')
    local ok, _, code = os.execute(sandbox.binary .. " --seed " .. seed .. " 2>/dev/null")
    os.remove(seed)
    assert.is_falsy(ok)
    assert.are.equal(2, code)
  end)

  it("moves the events of a store written by an older sandbox (one losant_docs table)", function()
    if not os.execute("command -v sqlite3 >/dev/null 2>&1") then
      pending("the sqlite3 command is not installed")
      return
    end
    local db = os.tmpname()
    os.remove(db)
    local doc = '{"id":"575ed0de7ae143cd83dc4aa5","eventId":"575ed0de7ae143cd83dc4aa5",'
      .. '"applicationId":"575ec8687ae143cd83dc4a97",'
      .. '"level":"info","state":"new","subject":"old","creationDate":"2026-01-01T00:00:00.000Z","updates":[{"comment":"kept"}]}'
    local sql = "CREATE TABLE sandbox_meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO sandbox_meta VALUES ('seeded', '1');"
      .. "CREATE TABLE losant_apps (id TEXT PRIMARY KEY, name TEXT);"
      .. "INSERT INTO losant_apps VALUES ('575ec8687ae143cd83dc4a97', 'a');"
      .. "CREATE TABLE losant_tokens (token TEXT PRIMARY KEY, scopes TEXT, apps TEXT);"
      .. "INSERT INTO losant_tokens VALUES ('t', '[\"all.Application\"]', NULL);"
      .. "CREATE TABLE losant_docs (kind TEXT, id TEXT, app TEXT, doc TEXT, PRIMARY KEY (kind, app, id));"
      .. "INSERT INTO losant_docs VALUES ('event', '575ed0de7ae143cd83dc4aa5', '575ec8687ae143cd83dc4a97', '" .. doc .. "');"
    assert.is_true(os.execute("sqlite3 " .. db .. " " .. sandbox.shell_quote(sql)))
    local sb = sandbox.start({ db = db, seed = false })
    local res = sandbox.http("GET", event_url(sb), { token = "t" })
    sb.stop()
    os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
    assert.are.equal("old", res.json.subject)
    assert.are.equal("kept", res.json.updates[1].comment)
  end)
end)

describe("the sandbox request record", function()
  local sb
  before_each(function() sb = sandbox.start() end)
  after_each(function() sb.stop() end)

  it("keeps method, raw path and query, headers and body", function()
    sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/events?x=%2F+y",
      { token = sandbox.token, json = { level = "info", subject = "s" } })
    local r = sandbox.requests(sb)[1]
    assert.are.equal("POST", r.method)
    assert.are.equal("/applications/" .. APP .. "/events?x=%2F+y", r.uri)
    assert.are.equal("/applications/" .. APP .. "/events", r.path)
    assert.are.equal("x=%2F+y", r.query)
    assert.are.equal("Bearer " .. sandbox.token, r.headers.authorization)
    assert.are.same({ level = "info", subject = "s" }, require("cjson").decode(r.body))
  end)

  it("leaves its own endpoint out", function()
    sandbox.requests(sb)
    assert.are.same({}, sandbox.requests(sb))
  end)

  it("is cleared by DELETE", function()
    sandbox.http("GET", event_url(sb))
    sandbox.clear_requests(sb)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("keeps only the last 1,000 requests", function()
    local cfg = os.tmpname()
    local f = io.open(cfg, "w")
    for i = 1, 1005 do f:write(('url = "%s/r%d"\noutput = "/dev/null"\n'):format(sb.url, i)) end
    f:close()
    os.execute("curl -s --parallel --parallel-max 8 -K " .. cfg .. " >/dev/null 2>&1")
    os.remove(cfg)
    local record = sandbox.requests(sb)
    assert.are.equal(1000, #record)
    local seen = {}
    for _, r in ipairs(record) do seen[r.path] = true end
    assert.is_nil(seen["/r1"])
    assert.is_true(seen["/r1005"])
  end)
end)

describe("the sandbox's in_flight and shutdown", function()
  -- Starts curl in the background on url with headers; returns the file
  -- that will hold curl's exit status once it ends.
  local function background(url, headers)
    local status = os.tmpname()
    os.remove(status)
    local args = {}
    for k, v in pairs(headers) do args[#args + 1] = "-H " .. sandbox.shell_quote(k .. ": " .. v) end
    os.execute(("(curl -s -o /dev/null --max-time 60 %s %s; echo $? > %s) >/dev/null 2>&1 &")
      :format(table.concat(args, " "), sandbox.shell_quote(url), status))
    return status
  end
  local function await_file(file)
    local deadline = now() + sandbox.time(10)
    while not slurp(file) and now() < deadline do os.execute("sleep 0.05") end
    local text = slurp(file)
    os.remove(file)
    return tonumber(text)
  end
  -- Seconds from SIGTERM to the sandbox's exit, and its exit status.
  local function time_stop(sb)
    local t0 = now()
    local exit = sb.stop("TERM")
    return now() - t0, exit.code
  end

  it("does not count its own /_sandbox calls in in_flight", function()
    local sb = sandbox.start({ faults = true })
    local poll = background(sb.url .. "/_sandbox/requests", { ["X-Sandbox-Fault"] = "delay=1500" })
    os.execute("sleep " .. sandbox.time(0.3))
    sandbox.http("GET", event_url(sb), { token = sandbox.token })
    local record = sandbox.requests(sb)
    assert.are.equal(0, await_file(poll))
    sb.stop()
    assert.are.equal(1, #record)
    assert.are.equal(1, record[1].in_flight)
  end)

  it("counts a request from its arrival until its answer, so a bound of 3 is never seen as 4", function()
    local sb = sandbox.start()
    local ok, out, err = sandbox.run_lua(([[
      local eventapi = require "eventapi"
      local c = eventapi.losant({ url = %q, token = %q })
      local items = {}
      for i = 1, 400 do items[i] = i end
      eventapi.map(items, function() return c.event.get({ applicationId = %q, eventId = %q }) end,
                   { concurrency = 3 }):await()
      io.write("done")
    ]]):format(sb.url, sandbox.token, APP, EVENT))
    assert.is_true(ok, err)
    assert.are.equal("done", out)
    local most, counts = 0, {}
    for _, r in ipairs(sandbox.requests(sb)) do
      most = math.max(most, r.in_flight)
      counts[#counts + 1] = r.in_flight
    end
    sb.stop()
    assert.are.equal(400, #counts)
    assert.is_true(most >= 1 and most <= 3, "in_flight reached " .. most)
  end)

  it("exits within 100 ms of SIGTERM when idle", function()
    local sb = sandbox.start()
    sandbox.http("GET", event_url(sb), { token = sandbox.token })
    local took, code = time_stop(sb)
    assert.are.equal(0, code)
    assert.is_true(took < sandbox.time(0.1), ("took %.3f s"):format(took))
  end)

  it("exits within 100 ms of SIGTERM when idle with a client's 200 connections still open", function()
    local sb = sandbox.start()
    local script, done = os.tmpname(), os.tmpname()
    os.remove(done)
    local f = assert(io.open(script, "w"))
    f:write(([[
      package.path, package.cpath = %q, %q
      local eventapi = require "eventapi"
      local c = eventapi.losant({ url = %q, token = %q })
      local calls = {}
      for i = 1, 200 do calls[i] = c.event.get({ applicationId = %q, eventId = %q }) end
      eventapi.all(calls):await()
      io.write("ready\n"); io.flush()
      -- keeps the connections open until the spec has stopped the sandbox
      for _ = 1, 200 do
        if io.open(%q) then break end
        os.execute("sleep 0.05")
      end
    ]]):format(package.path, package.cpath, sb.url, sandbox.token, APP, EVENT, done))
    f:close()
    local client = assert(io.popen("lua5.4 " .. script .. " 2>&1", "r"))
    local line = client:read("l")
    local took, code = time_stop(sb)
    f = assert(io.open(done, "w")); f:close()
    client:close()
    os.remove(script); os.remove(done)
    assert.are.equal("ready", line)
    assert.are.equal(0, code)
    assert.is_true(took < sandbox.time(0.1), ("took %.3f s"):format(took))
  end)

  it("answers a request in flight before it exits on SIGTERM", function()
    local sb = sandbox.start({ faults = true })
    local out = os.tmpname()
    local status = os.tmpname()
    os.remove(status)
    os.execute(("(curl -s -o %s -w '%%{http_code}' --max-time 60 -H 'Authorization: Bearer %s' "
      .. "-H 'X-Sandbox-Fault: delay=2000' '%s' > %s) >/dev/null 2>&1 &")
      :format(out, sandbox.token, event_url(sb), status))
    await_recorded(sb, 1)
    local _, code = time_stop(sb)
    local deadline = now() + sandbox.time(10)
    while not slurp(status) and now() < deadline do os.execute("sleep 0.05") end
    assert.are.equal(0, code)
    assert.are.equal("200", slurp(status))
    assert.are.equal(EVENT, require("cjson").decode(slurp(out)).id)
    os.remove(out); os.remove(status)
  end)
end)

describe("the sandbox faults", function()
  local sb
  local function faulty(spec, extra, timeout)
    local headers = { ["X-Sandbox-Fault"] = spec }
    for k, v in pairs(extra or {}) do headers[k] = v end
    return sandbox.http("GET", event_url(sb), { token = sandbox.token, headers = headers, timeout = timeout or 5 })
  end
  -- Starts curl in the background with a fault; returns the file that will
  -- hold curl's exit status once it ends.
  local function background(spec)
    local status = os.tmpname()
    os.remove(status)
    os.execute(("(curl -s -o /dev/null --max-time 60 -H 'Authorization: Bearer %s' -H 'X-Sandbox-Fault: %s' '%s'; "
      .. "echo $? > %s) >/dev/null 2>&1 &"):format(sandbox.token, spec, event_url(sb), status))
    return status
  end
  -- The exit status curl wrote to file, waiting for it up to 10 s.
  local function curl_status(file)
    local deadline = now() + sandbox.time(10)
    local text = slurp(file)
    while not text and now() < deadline do
      os.execute("sleep 0.05")
      text = slurp(file)
    end
    os.remove(file)
    return tonumber(text)
  end
  -- CPU seconds the sandbox process has used (user and system).
  local function cpu_seconds()
    local stat = assert(slurp("/proc/" .. sb.pid .. "/stat"))
    local fields = {}
    for word in stat:gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = word end
    return (tonumber(fields[12]) + tonumber(fields[13])) / 100 -- utime, stime in clock ticks
  end
  local function list(path, spec)
    return sandbox.http("GET", sb.url .. "/applications/" .. APP .. path,
      { token = sandbox.token, headers = spec and { ["X-Sandbox-Fault"] = spec } or nil })
  end
  local function ids(res)
    local out = {}
    for i, item in ipairs(res.json.items) do out[i] = item.id end
    return out
  end
  before_each(function() sb = sandbox.start({ faults = true }) end)
  after_each(function() sb.stop() end)

  it("answers the injected status with a JSON body", function()
    local res = faulty("status=503")
    assert.are.equal(503, res.status)
    assert.are.equal("SandboxFault", res.json.type)
  end)

  it("adds Retry-After when asked", function()
    local res = faulty("status=429,retry-after=2")
    assert.are.equal(429, res.status)
    assert.are.equal("2", res.headers["retry-after"])
  end)

  it("delays the answer", function()
    local t0 = os.time()
    local res = faulty("delay=1500")
    assert.are.equal(200, res.status)
    assert.is_true(os.time() - t0 >= 1)
  end)

  it("keeps answering other requests while delayed ones wait", function()
    local cmds = {}
    for _ = 1, 12 do
      cmds[#cmds + 1] = ("curl -s -o /dev/null -H 'X-Sandbox-Fault: delay=2000' '%s' &"):format(event_url(sb))
    end
    os.execute(table.concat(cmds, "\n"))
    os.execute("sleep 0.3")
    local t0 = os.time()
    local res = sandbox.http("GET", event_url(sb), { token = sandbox.token, timeout = 1 })
    assert.are.equal(200, res.status)
    assert.is_true(os.time() - t0 <= 1)
    os.execute("sleep 2")
  end)

  it("closes the connection without an answer on reset", function()
    local res = faulty("reset")
    assert.are.equal(0, res.status)
    assert.are.equal(52, res.curl_exit) -- curl: empty reply from server
  end)

  it("sends less than Content-Length promised on truncate", function()
    local res = faulty("truncate")
    assert.are.equal(18, res.curl_exit) -- curl: partial file
  end)

  it("answers 200 with a body that is not JSON on garbage", function()
    local res = faulty("garbage")
    assert.are.equal(200, res.status)
    assert.is_nil(res.json)
  end)

  it("fails only the first N requests of a key", function()
    local statuses = {}
    for i = 1, 3 do statuses[i] = faulty("fail-first=2,status=503", { ["X-Sandbox-Fault-Key"] = "k1" }).status end
    assert.are.same({ 503, 503, 200 }, statuses)
  end)

  it("never answers a stalled request", function()
    local res = faulty("stall", nil, sandbox.time(1))
    assert.are.equal(0, res.status)
    assert.are.equal(28, res.curl_exit) -- curl: timed out, nothing received
    assert.are.equal("", res.body or "")
  end)

  it("stops promptly on SIGTERM with stalled requests open, closing them without an answer", function()
    local stalled, half = background("stall"), background("stall-body")
    await_recorded(sb, 2)
    os.execute("sleep 0.2")
    local t0 = now()
    local exit = sb.stop("TERM")
    assert.is_true(now() - t0 < sandbox.time(2))
    assert.are.equal(0, exit.code)
    assert.are.equal(52, curl_status(stalled)) -- curl: empty reply from server
    assert.are.equal(18, curl_status(half))    -- curl: partial file
  end)

  it("sends the status, the headers and half the body on stall-body, then nothing more", function()
    local whole = sandbox.http("GET", event_url(sb), { token = sandbox.token })
    local res = faulty("stall-body", nil, sandbox.time(1))
    assert.are.equal(28, res.curl_exit) -- curl: timed out
    assert.are.equal(200, res.status)
    assert.are.equal(tostring(#whole.body), res.headers["content-length"])
    assert.are.equal(whole.body:sub(1, #whole.body // 2), res.body)
  end)

  it("does not spin while a body is stalled", function()
    local status = background("stall-body")
    await_recorded(sb, 1)
    os.execute("sleep 0.2")
    local c0, t0 = cpu_seconds(), now()
    os.execute("sleep " .. sandbox.time(1))
    local used, elapsed = cpu_seconds() - c0, now() - t0
    sb.stop()
    curl_status(status)
    assert.is_true(used < 0.5 * elapsed, ("the sandbox used %.2f s of CPU in %.2f s"):format(used, elapsed))
  end)

  it("sends a Retry-After HTTP date, percent-decoded", function()
    local res = faulty("status=503,retry-after=Wed%2C%2021%20Oct%202026%2007%3A28%3A00%20GMT")
    assert.are.equal(503, res.status)
    assert.are.equal("Wed, 21 Oct 2026 07:28:00 GMT", res.headers["retry-after"])
  end)

  it("sends any Retry-After text as written", function()
    for _, text in ipairs({ "-1", "0x5", "abc" }) do
      assert.are.equal(text, faulty("status=503,retry-after=" .. text).headers["retry-after"])
    end
  end)

  it("ignores a Retry-After that decodes to CR, LF or NUL", function()
    for _, text in ipairs({ "1%0D%0AX-Evil:%201", "1%0A2", "1%0D", "1%002" }) do
      local res = faulty("status=503,retry-after=" .. text)
      assert.are.equal(503, res.status)
      assert.is_nil(res.headers["retry-after"])
      assert.is_nil(res.headers["x-evil"])
    end
  end)

  it("echoes every request header, Authorization included, on echo-headers", function()
    local res = faulty("echo-headers", { ["X-Extra"] = "extra value" })
    assert.are.equal(400, res.status)
    assert.are.equal("SandboxFault", res.json.type)
    assert.are.equal("Bearer " .. sandbox.token, res.json.headers.authorization)
    assert.are.equal("extra value", res.json.headers["x-extra"])
    assert.are.equal("echo-headers", res.json.headers["x-sandbox-fault"])
    assert.truthy(res.json.headers.host)
    assert.truthy(res.json.message:find("^request headers: "))
    assert.truthy(res.json.message:find("Authorization: Bearer " .. sandbox.token, 1, true))
    assert.truthy(res.json.message:find("X-Extra: extra value", 1, true))
  end)

  it("answers echo-headers with the status of status=", function()
    local res = faulty("status=401,echo-headers")
    assert.are.equal(401, res.status)
    assert.are.equal("Bearer " .. sandbox.token, res.json.headers.authorization)
  end)

  it("sends control characters in the error type and message on control-chars", function()
    local res = faulty("control-chars")
    assert.are.equal(400, res.status)
    assert.are.equal("Bad\27[31mType\r\nX", res.json.type)
    assert.are.equal("line one\r\nline two \27[2J bell\7 del\127 c1\194\133 nul\0 end", res.json.message)
    assert.are.equal(502, faulty("control-chars,status=502").status)
  end)

  it("combines the new faults with fail-first", function()
    local key = { ["X-Sandbox-Fault-Key"] = "k2" }
    assert.are.equal(400, faulty("fail-first=1,echo-headers", key).status)
    assert.are.equal(200, faulty("fail-first=1,echo-headers", key).status)
    key = { ["X-Sandbox-Fault-Key"] = "k3" }
    assert.are.equal(28, faulty("fail-first=1,stall", key, sandbox.time(1)).curl_exit)
    assert.are.equal(200, faulty("fail-first=1,stall", key).status)
  end)

  it("serves page 0 as page 0 whatever page is asked on repeat-page (Losant lists)", function()
    local first = list("/events?perPage=2&page=0")
    local res = list("/events?perPage=2&page=2", "repeat-page")
    assert.are.equal(200, res.status)
    assert.are.same(ids(first), ids(res))
    assert.are.equal(0, res.json.page)
    assert.are.equal(2, res.json.perPage)
    assert.are.equal(first.json.totalCount, res.json.totalCount)
    assert.are.same(ids(list("/integrations?perPage=1")), ids(list("/integrations?perPage=1&page=1", "repeat-page")))
    assert.are.equal(0, list("/integrations?perPage=1&page=1", "repeat-page").json.page)
  end)

  it("serves page 0 under the page number asked on stale-page (Losant lists)", function()
    local first = list("/events?perPage=2&page=0")
    local res = list("/events?perPage=2&page=2", "stale-page")
    assert.are.equal(200, res.status)
    assert.are.same(ids(first), ids(res))
    assert.are.equal(2, res.json.page)
    assert.are.equal(6, res.json.totalCount)
    assert.are.equal(1, list("/integrations?perPage=1&page=1", "stale-page").json.page)
  end)

  it("repeats the request's cursor in links.next on repeat-page (Monterosa list)", function()
    local auth = { Authorization = "Bearer sandbox-monterosa-token" }
    for i = 1, 2 do
      local res = sandbox.http("POST", sb.url .. "/api/v2/events", { headers = {
          Authorization = auth.Authorization, ["Content-Type"] = "application/vnd.api+json" },
        body = require("cjson").encode({ data = { type = "events",
          attributes = { name = "E" .. i, duration = 60, start_at = 1800000000 + i, start_mode = "manual" },
          relationships = { project = { data = { type = "projects", id = "850e644e-f1ea-444d-bae3-cf38badbe501" } } } } }) })
      assert.are.equal(201, res.status)
    end
    local function get(url)
      return sandbox.http("GET", url, { headers = { Authorization = auth.Authorization, ["X-Sandbox-Fault"] = "repeat-page" } })
    end
    local first = get(sb.url .. "/api/v2/projects/850e644e-f1ea-444d-bae3-cf38badbe501/events"
      .. "?filter%5Bstate%5D=future&page%5Bcount%5D=1")
    local plain = sandbox.http("GET", first.json.links.next, { headers = auth })
    local second = get(first.json.links.next)
    local third = get(second.json.links.next)
    assert.are.equal(200, second.status)
    assert.are_not.equal(first.json.data[1].id, second.json.data[1].id)
    assert.are.equal(first.json.links.next, second.json.links.next)
    assert.are.equal(second.json.data[1].id, third.json.data[1].id)
    assert.are.equal(first.json.links.next, third.json.links.next)
    assert.are_not.equal(first.json.links.next, plain.json.links.next) -- without the fault the walk goes on
  end)

  it("ignores the fault header without --faults", function()
    local plain = sandbox.start({ faults = false })
    local res = sandbox.http("GET", event_url(plain), { token = sandbox.token,
      headers = { ["X-Sandbox-Fault"] = "status=503" } })
    plain.stop()
    assert.are.equal(200, res.status)
  end)
end)

describe("the sandbox rate limit", function()
  local sb
  after_each(function() sb.stop() end)

  -- Sends up to 10 calls until one is answered 429; returns that answer (nil when none was).
  local function until_limited(method, url, headers)
    for _ = 1, 10 do
      local res = sandbox.http(method, url, { headers = headers })
      if res.status == 429 then return res end
    end
  end

  it("limits every Losant call, not only events.post, with Retry-After: 1", function()
    sb = sandbox.start({ rate_limit = 2 })
    local res = until_limited("GET", event_url(sb), { Authorization = "Bearer " .. sandbox.token })
    assert.truthy(res)
    assert.are.equal("1", res.headers["retry-after"])
    assert.are.equal("TooManyRequests", res.json.type)
    assert.truthy(res.json.message)
  end)

  it("gives each credential its own budget", function()
    sb = sandbox.start({ rate_limit = 2 })
    local url = sb.url .. "/applications/" .. APP .. "/events?perPage=1"
    assert.truthy(until_limited("GET", url, { Authorization = "Bearer " .. sandbox.token }))
    assert.are.equal(200, sandbox.http("GET", url, { token = "sandbox-read-only" }).status)
    assert.are.equal(401, sandbox.http("GET", url).status) -- no Authorization: one more budget of its own
  end)

  it("limits Connect Daily calls in Connect Daily's error shape", function()
    sb = sandbox.start({ rate_limit = 1 })
    local res = until_limited("GET", sb.url .. "/calendar/restapi/v1/events/42",
      { Authorization = "Bearer sandbox-calendar-token" })
    assert.truthy(res)
    assert.are.equal("1", res.headers["retry-after"])
    assert.are.equal(1, res.json.error)
    assert.truthy(res.json.message)
  end)

  it("limits Monterosa calls in JSON:API's error shape", function()
    sb = sandbox.start({ rate_limit = 1 })
    local res = until_limited("GET", sb.url .. "/api/v2/events/18b17c20-5e84-4086-8da0-784f21622e16",
      { Authorization = "Bearer sandbox-monterosa-token" })
    assert.truthy(res)
    assert.are.equal("1", res.headers["retry-after"])
    assert.are.equal("429", res.json.errors[1].status)
    assert.truthy(res.json.errors[1].detail)
  end)

  it("leaves the /_sandbox/ endpoints out", function()
    sb = sandbox.start({ rate_limit = 1 })
    for _ = 1, 4 do sandbox.requests(sb) end -- raises unless answered 200
    sandbox.clear_requests(sb)
  end)
end)

describe("the sandbox under hostile input", function()
  local sb
  before_each(function() sb = sandbox.start() end)
  after_each(function() sb.stop() end)

  it("answers 404 with a JSON body for an unknown path", function()
    local res = sandbox.http("GET", sb.url .. "/nowhere")
    assert.are.equal(404, res.status)
    assert.are.equal("NotFound", res.json.type)
  end)

  it("answers 413 for a body over the limit", function()
    local res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/events",
      { token = sandbox.token, body = string.rep("x", 5 * 1024 * 1024), headers = { ["Content-Type"] = "application/json" } })
    assert.are.equal(413, res.status)
  end)

  it("answers a request with a 100 KB query value", function()
    local res = sandbox.http("GET", event_url(sb) .. "?filter=" .. string.rep("a", 100000), { token = sandbox.token })
    assert.are.equal(200, res.status)
  end)

  it("answers a request line too long for a connection's memory with 414", function()
    -- (sent by the library: curl's command line and config files cannot
    -- hold a 200 KB URL)
    local eventapi = require "eventapi"
    local client = eventapi.losant({ url = sb.url, token = sandbox.token })
    local ok, err = pcall(function()
      return client:request({ path = "/applications/" .. APP .. "/events",
        query = { filter = string.rep("a", 200000) } }):await()
    end)
    client:close()
    assert.is_false(ok)
    assert.are.equal(414, err.status)
    assert.are.equal(200, sandbox.http("GET", event_url(sb), { token = sandbox.token }).status)
  end)

  it("survives a query string with 20,000 params and answers the next request", function()
    local res = sandbox.http("GET", event_url(sb) .. "?" .. string.rep("a=b&", 20000), { token = sandbox.token })
    assert.is_true(res.status == 0 or res.status == 414 or res.status == 431)
    assert.are.equal(200, sandbox.http("GET", event_url(sb), { token = sandbox.token }).status)
  end)

  it("survives a request cut off midway", function()
    local port = sb.url:match(":(%d+)$")
    os.execute(("printf 'POST /applications/%s/events HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n{\"lev' "
      .. "| timeout 1 bash -c 'cat > /dev/tcp/127.0.0.1/%s' 2>/dev/null"):format(APP, port))
    assert.are.equal(200, sandbox.http("GET", event_url(sb), { token = sandbox.token }).status)
  end)

  it("keeps a %2F inside its path segment", function()
    local res = sandbox.http("GET", sb.url .. "/applications/" .. APP .. "%2Fevents/" .. EVENT, { token = sandbox.token })
    assert.are.equal(404, res.status)
  end)
end)

-- A bash script that opens a connection to port, sends head, then one more
-- line every interval seconds (count times), and prints the milliseconds
-- until a write failed (the sandbox closed the connection), or "open".
local function trickle_script(port, head, line, interval, count)
  return ([[
trap '' PIPE
exec 3<>/dev/tcp/127.0.0.1/%s || exit 9
start=$(date +%%s%%N)
printf '%s' >&3
for i in $(seq 1 %d); do
  sleep %s
  printf '%s' >&3 2>/dev/null || { echo $(( ($(date +%%s%%N) - start) / 1000000 )); exit 0; }
done
echo open
]]):format(port, head, count, interval, line)
end

-- Runs trickle_script and returns what it printed.
local function trickle(port, head, line, interval, count)
  local f = assert(io.popen("bash -c " .. sandbox.shell_quote(trickle_script(port, head, line, interval, count))))
  local out = f:read("a")
  f:close()
  return out:match("%S+")
end

describe("the sandbox with slow clients", function()
  local sb
  after_each(function() if sb then sb.stop() end end)

  it("closes a connection whose header block trickles past --header-timeout, whatever the bytes", function()
    sb = sandbox.start({ args = { "--header-timeout", "1" } })
    local port = sb.url:match(":(%d+)$")
    local ms = trickle(port, "GET /applications/" .. APP .. "/events HTTP/1.1\\r\\nHost: x\\r\\n", "X-Slow: 1\\r\\n", 0.2, 25)
    assert.are_not.equal("open", ms)
    assert.is_true(tonumber(ms) >= 900 and tonumber(ms) < sandbox.time(3000), ms)
  end)

  it("closes a connection whose body trickles past --body-timeout", function()
    sb = sandbox.start({ args = { "--body-timeout", "1" } })
    local port = sb.url:match(":(%d+)$")
    local head = "POST /applications/" .. APP .. "/events HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n"
      .. "Content-Length: 10000\\r\\n\\r\\n{"
    local ms = trickle(port, head, " ", 0.2, 25)
    assert.are_not.equal("open", ms)
    assert.is_true(tonumber(ms) >= 900 and tonumber(ms) < sandbox.time(3000), ms)
  end)

  it("serves a GET while more connections than the old limit of 1,020 sit idle", function()
    sb = sandbox.start()
    local port = sb.url:match(":(%d+)$")
    -- 1,100 connections that send nothing, held open by one bash process
    local script = ("for i in $(seq 1 1100); do eval \"exec $((i + 10))<>/dev/tcp/127.0.0.1/%s\" || exit 9; done; sleep 4")
      :format(port)
    os.execute("ulimit -n 4096; bash -c " .. sandbox.shell_quote(script) .. " >/dev/null 2>&1 &")
    os.execute("sleep 1.5")
    local started = now()
    local res = sandbox.http("GET", event_url(sb), { token = sandbox.token, timeout = 3 })
    assert.are.equal(200, res.status)
    assert.is_true(now() - started < sandbox.time(1))
    os.execute("sleep 3")
  end)

  it("frees the slots of idle connections at the header deadline when the connection limit is reached", function()
    sb = sandbox.start({ args = { "--max-connections", "16", "--header-timeout", "1" } })
    local port = sb.url:match(":(%d+)$")
    local script = ("for i in $(seq 1 24); do eval \"exec $((i + 10))<>/dev/tcp/127.0.0.1/%s\"; done; sleep 5"):format(port)
    os.execute("bash -c " .. sandbox.shell_quote(script) .. " >/dev/null 2>&1 &")
    os.execute("sleep 0.3")
    local res = sandbox.http("GET", event_url(sb), { token = sandbox.token, timeout = 4 })
    assert.are.equal(200, res.status)
    os.execute("sleep 4.5")
  end)
end)

describe("the sandbox's request body budget", function()
  local sb
  after_each(function() if sb then sb.stop() end end)

  it("answers 503 with Retry-After when the bodies held at once would pass --body-budget", function()
    sb = sandbox.start({ args = { "--body-budget", "1000000" } })
    local port = sb.url:match(":(%d+)$")
    -- an upload of 900,000 bytes that stalls after its first bytes holds its room
    local script = ("exec 3<>/dev/tcp/127.0.0.1/%s; printf 'POST /applications/%s/events HTTP/1.1\\r\\nHost: x\\r\\n"
      .. "Content-Type: application/json\\r\\nContent-Length: 900000\\r\\n\\r\\n{' >&3; sleep 3"):format(port, APP)
    os.execute("bash -c " .. sandbox.shell_quote(script) .. " >/dev/null 2>&1 &")
    os.execute("sleep 0.5")
    local res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/events", { token = sandbox.token,
      body = '{"level":"info","subject":"' .. string.rep("x", 200000) .. '"}',
      headers = { ["Content-Type"] = "application/json" } })
    assert.are.equal(503, res.status)
    assert.are.equal("1", res.headers["retry-after"])
    assert.are.equal("ServiceUnavailable", res.json.type)
    os.execute("sleep 3")
  end)

  it("answers bodies within the budget as usual", function()
    sb = sandbox.start({ args = { "--body-budget", "1000000" } })
    local res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/events", { token = sandbox.token,
      json = { level = "info", subject = string.rep("x", 200) } })
    assert.are.equal(201, res.status)
  end)
end)

describe("the sandbox record's byte cap", function()
  local sb
  after_each(function() if sb then sb.stop() end end)

  local function post(body)
    return sandbox.http("POST", sb.url .. "/r", { body = body, headers = { ["Content-Type"] = "text/plain" } })
  end

  it("drops the oldest requests first to stay within --record-bytes", function()
    sb = sandbox.start({ args = { "--record-bytes", "65536" } })
    for i = 1, 8 do post(i .. string.rep("y", 7999)) end -- 8,000 bytes: not cut (an eighth of the cap is 8,192)
    local record = sandbox.requests(sb)
    local total = 0
    for _, r in ipairs(record) do total = total + #require("cjson").encode(r) end
    assert.is_true(total <= 65536 + 1024, total)
    assert.is_true(#record < 8)
    assert.are.equal("8", record[#record].body:sub(1, 1))
    assert.are_not.equal("1", record[1].body:sub(1, 1))
  end)

  it("cuts a body past an eighth of the cap and marks it", function()
    sb = sandbox.start({ args = { "--record-bytes", "80000" } })
    post(string.rep("z", 30000))
    local r = sandbox.requests(sb)[1]
    assert.are.equal(10000, #r.body)
    assert.is_true(r.body_truncated)
    assert.are.equal(30000, r.body_length)
  end)

  it("cuts a body at the start of a UTF-8 character", function()
    sb = sandbox.start({ args = { "--record-bytes", "8192" } })
    post(string.rep("\u{e9}", 2000)) -- 4,000 bytes, cut at 1,024
    local r = sandbox.requests(sb)[1]
    assert.are.equal(1024, #r.body)
    assert.are.equal(string.rep("\u{e9}", 512), r.body)
  end)

  it("keeps a body that is not UTF-8, its stray bytes as ?", function()
    sb = sandbox.start()
    post("a\255b")
    assert.are.equal("a?b", sandbox.requests(sb)[1].body)
  end)

  it("keeps control bytes of a body exactly", function()
    sb = sandbox.start()
    post("\1\2\3\27[0m")
    assert.are.equal("\1\2\3\27[0m", sandbox.requests(sb)[1].body)
  end)
end)
