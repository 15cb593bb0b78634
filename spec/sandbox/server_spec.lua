-- The sandbox server itself: command line, record, faults, persistence,
-- shutdown and hostile input.
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = "575ed0de7ae143cd83dc4aa5"

local function event_url(sb) return sb.url .. "/applications/" .. APP .. "/events/" .. EVENT end

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

describe("the sandbox faults", function()
  local sb
  local function faulty(spec, extra)
    local headers = { ["X-Sandbox-Fault"] = spec }
    for k, v in pairs(extra or {}) do headers[k] = v end
    return sandbox.http("GET", event_url(sb), { token = sandbox.token, headers = headers, timeout = 5 })
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
