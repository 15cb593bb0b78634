-- Never silent, round two (the client's part): a server that echoes the
-- token, scripts whose hooks fail or close the client, odd methods under a
-- dry run, control characters in paths, base URLs with a query, oversized
-- answers and NaN in messages. The server is the hostile helper (answers
-- written byte for byte) where the sandbox cannot misbehave that way.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local hostile = require "helpers.hostile"
local command = require "cli.command"

local APP = sandbox.app
local fail = sandbox.rejection
-- A token of the shape a server may echo, long enough that a cut inside it leaves most of it.
local TOKEN = "tok-" .. ("abcdefghij"):rep(4)

--- A server answering every request with the given raw answer.
local function always(answer)
  return hostile.start(("return function() return %q end"):format(answer))
end

--- The InvalidParams error that calling fn raises or rejects with.
local function refused(fn)
  local err = sandbox.refusal(fn)
  assert.is_true(eventapi.Error.is(err), tostring(err))
  assert.are.equal("InvalidParams", err.type, tostring(err))
  return err
end

describe("a token a server echoes", function()
  local server
  -- The token from byte 161 to 204: a cut at 200 bytes before scrubbing left all but its last 4 bytes.
  local BODY = ("x"):rep(153) .. " token " .. TOKEN .. " is not valid"
  setup(function() server = always(hostile.answer(401, BODY, { "Content-Type: text/plain" })) end)
  teardown(function() server.stop() end)

  local function assert_no_token(err)
    local fragment = TOKEN:sub(1, 12) -- any part of it
    for _, text in ipairs({ err.message, tostring(err), err.body }) do
      assert.is_nil(text:find(fragment, 1, true), text)
    end
  end

  it("leaves no part of it in the message of an operation's error cut at 200 bytes", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    local err = fail(client.events.get({ applicationId = APP }))
    assert.are.equal(401, err.status)
    assert_no_token(err)
    assert.truthy(err.body:find("token REDACTED is not valid", 1, true), err.body)
  end)

  it("leaves no part of it in the message of client:request's error", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    assert_no_token(fail(client:request({ path = "/anything" })))
  end)

  it("leaves no part of it on the CLI's stderr", function()
    local run = command.eventapi({ "losant", "events", "get", "--applicationId", APP },
      { LOSANT_URL = server.url, LOSANT_TOKEN = TOKEN })
    assert.are_not.equal(0, run.code)
    assert.truthy(run.stderr:find("401", 1, true), run.stderr)
    assert.is_nil(run.stderr:find(TOKEN:sub(1, 12), 1, true), run.stderr)
  end)
end)

describe("redaction", function()
  it("leaves libcurl's words and the URL alone when the token is one letter", function()
    local client = eventapi.losant({ url = "http://127.0.0.1:1", token = "t" })
    local err = fail(client.events.get({ applicationId = APP }))
    assert.are.equal("ConnectionFailed", err.type)
    assert.is_nil(tostring(err):find("REDACTED", 1, true), tostring(err))
    assert.truthy(err.url:find("^http://127%.0%.0%.1:1/applications/"), err.url)
  end)

  it("still takes a one-letter token out where it stands alone in a server's message", function()
    local server = always(hostile.answer(403, '{"type":"Forbidden","message":"the token t is not allowed"}'))
    local client = eventapi.losant({ url = server.url, token = "t" })
    local err = fail(client.events.get({ applicationId = APP }))
    server.stop()
    assert.are.equal("the token REDACTED is not allowed", err.message)
  end)

  it("leaves alone an id given in a header named like a key but holding none (X-Sandbox-Fault-Key)", function()
    local id = "575ed0de7ae143cd83dc4aa5"
    local server = always(hostile.answer(404, '{"message":"no event ' .. id .. '"}'))
    local client = eventapi.losant({ url = server.url, token = TOKEN, headers = { ["X-Sandbox-Fault-Key"] = id,
                                                                                   ["Idempotency-Key"] = "op-17" } })
    local err = fail(client:request({ path = "/events/" .. id, headers = { ["Idempotency-Key"] = "op-17" } }))
    server.stop()
    assert.are.equal(server.url .. "/events/" .. id, err.url)
    assert.are.equal("no event " .. id, err.message)
  end)

  it("still takes out the value of an API key header a server echoes", function()
    local key = "k3y-0f-the-api-client"
    local server = always(hostile.answer(401, '{"message":"bad key ' .. key .. '"}'))
    local client = eventapi.losant({ url = server.url, headers = { ["X-Api-Key"] = key } })
    local err = fail(client:request({ path = "/x" }))
    server.stop()
    assert.are.equal("bad key REDACTED", err.message)
  end)

  it("takes the token out of the keys of an error body", function()
    local body = ('{"message":"no","details":{"%s":"was refused"}}'):format(TOKEN)
    local server = always(hostile.answer(400, body, { "Content-Type: application/json" }))
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    local err = fail(client.events.get({ applicationId = APP }))
    server.stop()
    assert.are.equal("was refused", err.body.details.REDACTED)
    assert.is_nil(err.body.details[TOKEN])
  end)

  it("takes the token out of a request body shown to a request hook", function()
    local server = always(hostile.answer(200, "{}"))
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    local seen
    client:on("request", function(info) seen = info.body end)
    client:request({ method = "POST", path = "/notes", body = { note = "my token is " .. TOKEN } }):await()
    server.stop()
    assert.are.equal('{"note":"my token is REDACTED"}', seen)
  end)

  it("takes the token out of a request body on the dry-run line", function()
    local lines = {}
    local client = eventapi.losant({ url = "http://127.0.0.1:1", token = TOKEN,
                                     dry_run = function(line) lines[#lines + 1] = line end })
    client:request({ method = "POST", path = "/notes", body = { note = TOKEN } }):await()
    assert.are.equal(1, #lines)
    assert.is_nil(lines[1]:find(TOKEN, 1, true), lines[1])
    assert.truthy(lines[1]:find('{"note":"REDACTED"}', 1, true), lines[1])
  end)
end)

describe("client:request's path", function()
  local server
  setup(function() server = always(hostile.answer(200, "{}")) end)
  teardown(function() server.stop() end)

  it("refuses a NUL before any traffic (it would have cut the URL short)", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    local err = refused(function() return client:request({ method = "DELETE", path = "/events/E\0/../../wipe-all" }) end)
    assert.truthy(err.message:find("control characters", 1, true), err.message)
    assert.are.same({}, server.requests())
  end)

  it("refuses other control characters as InvalidParams, not ConnectionFailed", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN, retries = true })
    for _, c in ipairs({ "\1", "\127", "\27" }) do
      refused(function() return client:request({ path = "/events/a" .. c .. "b" }) end)
    end
    assert.are.same({}, server.requests())
  end)
end)

describe("a base URL", function()
  it("with a query is refused: every call would go somewhere else than errors show", function()
    local err = refused(function() return eventapi.losant({ url = "http://127.0.0.1:1/api?x=1", token = "t" }) end)
    assert.truthy(err.message:find("query", 1, true), err.message)
  end)

  it("with a fragment is refused", function()
    refused(function() return eventapi.monterosa({ url = "http://127.0.0.1:1/api/v2#top", token = "t" }) end)
  end)
end)

describe("a hook that raises", function()
  local server
  setup(function() server = always(hostile.answer(200, '{"ok":true}')) end)
  before_each(function() server.requests() end)
  teardown(function() server.stop() end)

  local function sent() return #server.requests() end

  it("fails the call from a request hook, and nothing is sent", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    local before = sent()
    client:on("request", function() error("audit log unavailable") end)
    local err = fail(client:request({ method = "POST", path = "/x", body = {} }))
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("a request hook raised: .*audit log unavailable"), err.message)
    assert.are.equal(before, sent())
  end)

  it("fails the call from a response hook", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    client:on("response", function() error({ code = 7 }) end)
    local err = fail(client:request({ path = "/x" }))
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(7, err.cause.code)
  end)

  it("stops the retries from a retry hook", function()
    local flaky = always(hostile.answer(503, "{}"))
    local client = eventapi.losant({ url = flaky.url, token = TOKEN, retries = { max = 3, base = 0 } })
    client:on("retry", function() error("pager down") end)
    local err = fail(client:request({ path = "/x" }))
    local count = #flaky.requests()
    flaky.stop()
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(1, count)
  end)

  it("fails a dry run's write from its request hook", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN, dry_run = function() end })
    client:on("request", function() error("no") end)
    assert.are.equal("ScriptError", fail(client:request({ method = "DELETE", path = "/x" })).type)
  end)

  it("makes a runbook exit non-zero", function()
    local ok, _, stderr = sandbox.run_lua(([[
      local eventapi = require "eventapi"
      local client = eventapi.losant({ url = %q, token = "x" })
      client:on("request", function() error("audit hook failed") end)
      client.events.get({ applicationId = %q }):await()
    ]]):format(server.url, APP))
    assert.is_not_true(ok)
    assert.truthy(stderr:find("audit hook failed", 1, true), stderr)
  end)
end)

describe("close() inside a hook", function()
  it("stops the request in hand: nothing is sent and the call is Closed", function()
    local server = always(hostile.answer(200, "{}"))
    local client = eventapi.losant({ url = server.url, token = TOKEN })
    client:on("request", function() client:close() end)
    local err = fail(client:request({ method = "POST", path = "/x", body = {} }))
    local requests = server.requests()
    server.stop()
    assert.are.equal("Closed", err.type)
    assert.are.same({}, requests)
  end)

  it("stops the next attempt when called from a retry hook", function()
    local server = always(hostile.answer(503, "{}"))
    local client = eventapi.losant({ url = server.url, token = TOKEN, retries = { max = 3, base = 0 } })
    client:on("retry", function() client:close() end)
    local err = fail(client:request({ path = "/x" }))
    local requests = server.requests()
    server.stop()
    assert.are.equal("Closed", err.type)
    assert.are.equal(1, #requests)
  end)
end)

describe("a dry run", function()
  local server
  before_each(function() server = always(hostile.answer(200, "{}")) end)
  after_each(function() server.stop() end)

  it("prints any method that is not GET, HEAD or OPTIONS instead of sending it", function()
    local lines = {}
    local client = eventapi.losant({ url = server.url, token = TOKEN,
                                     dry_run = function(line) lines[#lines + 1] = line end })
    local result = client:request({ method = "PURGE", path = "/cache" }):await()
    assert.is_true(result.dry_run)
    assert.are.same({ "[dry run] PURGE " .. server.url .. "/cache" }, lines)
    assert.are.same({}, server.requests())
  end)

  it("sends GET, HEAD and OPTIONS", function()
    local client = eventapi.losant({ url = server.url, token = TOKEN, dry_run = function() end })
    for _, method in ipairs({ "GET", "HEAD", "OPTIONS" }) do client:request({ method = method, path = "/r" }):await() end
    assert.are.same({ "GET /r", "HEAD /r", "OPTIONS /r" }, server.requests())
  end)
end)

describe("an answer over max_body", function()
  it("is an InvalidResponse that is not retried", function()
    local server = always(hostile.answer(200, '{"items":"' .. ("x"):rep(5000) .. '"}'))
    local client = eventapi.losant({ url = server.url, token = TOKEN, max_body = 1000,
                                     retries = { max = 3, base = 0, on = { "transport" } } })
    local err = fail(client:request({ path = "/big" }))
    local count = #server.requests()
    server.stop()
    assert.are.equal("InvalidResponse", err.type)
    assert.truthy(err.message:find("max_body", 1, true), err.message)
    assert.are.equal(1, count)
  end)
end)

describe("an answer whose headers pass 100 KiB", function()
  it("is an InvalidResponse that is not retried as a transport failure", function()
    local server = always("HTTP/1.1 200 OK\r\nX-Big: " .. ("b"):rep(110 * 1024) .. "\r\nContent-Length: 2\r\n\r\n{}")
    local client = eventapi.losant({ url = server.url, token = TOKEN, retries = { max = 3, base = 0, on = { "transport" } } })
    local err = fail(client:request({ path = "/big" }))
    local count = #server.requests()
    server.stop()
    assert.are.equal("InvalidResponse", err.type)
    assert.is_nil(err.transport)
    assert.are.equal(1, count)
  end)
end)

describe("NaN in a message", function()
  local client = eventapi.losant({ url = "http://127.0.0.1:1", token = "t" })
  local NAN = -(0 / 0) -- (0/0 has its sign bit set on x86, printed "-nan"; this one prints "nan")

  for _, nan in ipairs({ 0 / 0, NAN }) do
    it(("reads NaN, never %s, for a param"):format(tostring(nan)), function()
      local err = refused(function() return client.events.get({ applicationId = APP, perPage = nan }) end)
      assert.truthy(err.message:find("not NaN", 1, true), err.message)
    end)
  end

  it("reads NaN for an option and a query value of client:request", function()
    local err = refused(function() return eventapi.losant({ url = "http://x", timeout = 0 / 0 }) end)
    assert.truthy(err.message:find("not NaN", 1, true), err.message)
    err = refused(function() return client:request({ path = "/x", query = { n = 0 / 0 } }) end)
    assert.truthy(err.message:find("not NaN", 1, true), err.message)
  end)

  it("reads NaN in the runbook layer's checks", function()
    local cases = {
      function() return eventapi.map({ 1 }, function() end, { concurrency = 0 / 0 }) end,
      function() return eventapi.wait_for(function() return true end, { timeout = 0 / 0 }) end,
      function() return eventapi.step(0 / 0) end,
      function() return eventapi.sleep(0 / 0) end,
      function() return client.events.each({ applicationId = APP, limit = 0 / 0 }) end,
    }
    for i, fn in ipairs(cases) do
      local err = refused(fn)
      assert.truthy(err.message:find("not NaN", 1, true), i .. ": " .. err.message)
    end
  end)
end)
