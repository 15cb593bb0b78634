-- Server-sent-event streams, over real HTTP: the byte-level cases against a
-- scripted server (spec/helpers/hostile.lua), whose answers the spec writes
-- byte for byte; the sandbox's own streams are in streams_sandbox_spec.lua.
local eventapi = require "eventapi"
local hostile = require "helpers.hostile"
local testing = debug.getregistry()["eventapi.testing"]

local APP, DEVICE = "575ec8687ae143cd83dc4a97", "575ecf887ae143cd83dc4aa2"
local HEAD = "HTTP/1.1 200 OK\\r\\nContent-Type: text/event-stream\\r\\nCache-Control: no-cache\\r\\n\\r\\n"

--- A scripted server whose every answer is the SSE head then the items of
-- body_items (Lua source of a list: strings, waits in seconds, "close").
local function sse_server(body_items)
  return hostile.start(([[
    return function(req, n)
      local items = { "%s" }
      for _, item in ipairs(%s) do items[#items + 1] = item end
      return items
    end
  ]]):format(HEAD, body_items))
end

local function client_for(server, options)
  options = options or {}
  options.url, options.token = server.url, "stream-token"
  return eventapi.losant(options)
end

local function open(client, options)
  return client.device.stateStream({ applicationId = APP, deviceId = DEVICE }, options)
end

--- Runs fn inside eventapi.spawn and drives the loop; -> fn's results.
local function spawned(fn)
  local p = eventapi.spawn(fn)
  eventapi.run()
  return p:await()
end

--- The messages a stream gives until it ends, and how it ended.
local function drain(stream)
  local r = spawned(function()
    local got = {}
    local ok, err = pcall(function()
      for msg in stream:messages() do got[#got + 1] = msg end
    end)
    return { got = got, err = not ok and err or nil }
  end)
  return r.got, r.err
end

describe("a stream's messages", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("joins data lines with LF, names events and keeps the last id", function()
    server = sse_server([[{ "event: deviceState\nid: 1\ndata: {\"a\":\ndata: 1}\n\n", "data: [2]\n\n", "close" }]])
    local got, err = drain(open(client_for(server)))
    assert.are.equal(2, #got)
    assert.are.same({ event = "deviceState", id = "1", data = { a = 1 } }, got[1])
    assert.are.same({ event = "message", id = "1", data = { 2 } }, got[2])
    assert.are.equal("ConnectionFailed", err.type)
  end)

  it("reads CRLF, LF and CR line ends alike", function()
    server = sse_server([[{ "data: 1\r\n\r\n", "data: 2\n\n", "data: 3\r\r", "data: 4\r\n\n", "close" }]])
    local got = drain(open(client_for(server)))
    assert.are.same({ 1, 2, 3, 4 }, { got[1].data, got[2].data, got[3].data, got[4].data })
  end)

  it("consumes comments, keep-alives and messages without data", function()
    server = sse_server([[{ ":keepalive\n\n", ": x\n", "event: keepalive\n\n", "data\n\n", "data: 5\n\n", "close" }]])
    local got = drain(open(client_for(server)))
    assert.are.equal(1, #got)
    assert.are.equal(5, got[1].data)
  end)

  it("reads a message split across reads at every byte", function()
    server = sse_server([[(function()
      local text, items = "\239\187\191:c\r\nevent: deviceState\r\nid: 9\r\ndata: {\"temp\":\r\ndata: 21.5}\r\n\r\n", {}
      for i = 1, #text do items[#items + 1] = text:sub(i, i); items[#items + 1] = 0.002 end
      items[#items + 1] = "close"
      return items
    end)()]])
    local got = drain(open(client_for(server)))
    assert.are.same({ { event = "deviceState", id = "9", data = { temp = 21.5 } } }, got)
  end)

  it("decodes numbers with the exact codec", function()
    server = sse_server([[{ "data: {\"big\": 9007199254740993, \"x\": 0.1}\n\n", "close" }]])
    local got = drain(open(client_for(server)))
    assert.are.equal(9007199254740993, got[1].data.big)
    assert.are.equal(math.type(9007199254740993), math.type(got[1].data.big))
    assert.are.equal(0.1, got[1].data.x)
  end)
end)

describe("the SSE parser", function()
  local sample = "\239\187\191: hello\r\nevent: a\nid: 1\ndata: x\r\ndata:  y\r\rretry: 250\nid: 2\0\ndata\n\nretry: 1x\ndata: z\n\n"

  it("gives the same messages for every split of a stream in two", function()
    local whole = testing.sse_parse({ sample }, 1000)
    assert.are.equal(3, #whole)
    for cut = 0, #sample do
      local split = testing.sse_parse({ sample:sub(1, cut), sample:sub(cut + 1) }, 1000)
      assert.are.same(whole, split, "split at " .. cut)
    end
  end)

  it("reads fields as the HTML standard says", function()
    local msgs, failure, comments = testing.sse_parse({ sample }, 1000)
    assert.is_nil(failure)
    assert.are.equal(1, comments)
    assert.are.same({ event = "a", data = "x\n y", id = "1" }, msgs[1]) -- one space after the colon goes
    assert.are.same({ event = "message", data = "", id = "1", retry = 250 }, msgs[2]) -- an id with NUL is ignored
    assert.are.same({ event = "message", data = "z", id = "1", retry = 250 }, msgs[3]) -- retry: 1x is ignored
  end)

  it("skips one byte order mark only at the start", function()
    local msgs = testing.sse_parse({ "\239\187", "\191data: 1\n\n\239\187\191data: 2\n\n" }, 100)
    assert.are.equal(1, #msgs)
    assert.are.equal("1", msgs[1].data)
  end)

  it("takes bytes like a byte order mark after the start as text", function()
    local msgs = testing.sse_parse({ "data: 1\n\n", "\239\187\191data: 2\n\n" }, 100)
    assert.are.equal(1, #msgs) -- the second line's field is "\239\187\191data": unknown, ignored
    assert.are.equal("1", msgs[1].data)
  end)

  it("refuses a message over max_message, held lines and data together", function()
    local _, failure = testing.sse_parse({ "data: 12345\n", "data: 67890" }, 16)
    assert.are.equal("too large", failure)
    local msgs, fine = testing.sse_parse({ "data: 1234\n\n", "data: 5678\n\n" }, 16)
    assert.is_nil(fine)
    assert.are.equal(2, #msgs)
  end)
end)

describe("a stream that fails", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("reports an error answer before the stream as the HTTP error", function()
    server = hostile.start([[return function() return require("helpers.hostile").answer(404,
      '{"type":"NotFound","message":"Device was not found"}', { "Content-Type: application/json" }) end]])
    local _, err = drain(open(client_for(server)))
    assert.are.equal("NotFound", err.type)
    assert.are.equal(404, err.status)
    assert.matches("Device was not found", err.message, 1, true)
  end)

  it("refuses a 2xx answer that is not an event stream", function()
    server = hostile.start([[return function() return require("helpers.hostile").answer(200, '{}',
      { "Content-Type: application/json" }) end]])
    local _, err = drain(open(client_for(server)))
    assert.are.equal("InvalidResponse", err.type)
    assert.matches("not an event stream (Content-Type: application/json)", err.message, 1, true)
  end)

  it("ends with InvalidResponse on a message that is not JSON", function()
    server = sse_server([[{ "data: {oops\n\n", 5 }]])
    local got, err = drain(open(client_for(server)))
    assert.are.equal(0, #got)
    assert.are.equal("InvalidResponse", err.type)
    assert.matches("not JSON", err.message, 1, true)
  end)

  it("ends with InvalidResponse on a message over max_message", function()
    server = sse_server([[{ "data: \"" .. string.rep("x", 5000) .. "\"\n\n", 5 }]])
    local _, err = drain(open(client_for(server), { max_message = 1000 }))
    assert.are.equal("InvalidResponse", err.type)
    assert.matches("larger than 1000 bytes (max_message)", err.message, 1, true)
  end)

  it("ends with ConnectionFailed when the server drops it", function()
    server = sse_server([[{ "data: 1\n\n", "close" }]])
    local got, err = drain(open(client_for(server)))
    assert.are.equal(1, #got)
    assert.are.equal("ConnectionFailed", err.type)
    assert.is_true(err.transport)
  end)

  it("ends with Timeout when the stream stalls past stall_timeout", function()
    server = sse_server([[{ "data: 1\n\n", 30 }]])
    local started = os.time()
    local got, err = drain(open(client_for(server), { stall_timeout = 1 }))
    assert.are.equal(1, #got)
    assert.are.equal("Timeout", err.type)
    assert.matches("(stall_timeout)", err.message, 1, true)
    assert.is_true(os.time() - started < 10)
  end)

  it("delivers the failure to the error handler", function()
    server = sse_server([[{ "close" }]])
    local seen
    open(client_for(server)):on("error", function(e) seen = e end)
    eventapi.run()
    assert.are.equal("ConnectionFailed", seen.type)
  end)

  it("fails eventapi.run when nobody handles the failure", function()
    server = sse_server([[{ "close" }]])
    open(client_for(server))
    local ok, err = pcall(eventapi.run)
    assert.is_false(ok)
    assert.are.equal("ConnectionFailed", err.type)
  end)

  it("fails the stream when a message handler raises", function()
    server = sse_server([[{ "data: 1\n\n", 5 }]])
    local seen
    open(client_for(server)):on("message", function() error("handler broke") end):on("error", function(e) seen = e end)
    eventapi.run()
    assert.are.equal("ScriptError", seen.type)
    assert.matches("handler broke", seen.message, 1, true)
  end)
end)

describe("closing a stream", function()
  local server
  before_each(function() server = sse_server([[{ "data: 1\n\n", "data: 2\n\n", 30 }]]) end)
  after_each(function() server.stop() end)

  it("from a message callback ends it without error", function()
    local s = open(client_for(server))
    local got, closed = {}, false
    s:on("message", function(m) got[#got + 1] = m.data; s:close() end)
    s:on("close", function() closed = true end)
    eventapi.run()
    assert.are.same({ 1 }, got)
    assert.is_true(closed)
    assert.is_true(s.done:await())
  end)

  it("ends a pull loop without error", function()
    local s = open(client_for(server))
    local got = spawned(function()
      local got = {}
      for m in s:messages() do
        got[#got + 1] = m.data
        if #got == 2 then s:close() end
      end
      return got
    end)
    assert.are.same({ 1, 2 }, got)
    assert.is_true(s.done:await())
  end)

  it("happens when a <close> variable goes out of scope", function()
    local client = client_for(server)
    local first = spawned(function()
      local s <close> = open(client)
      return s:receive():await()
    end)
    assert.are.equal(1, first.data)
    eventapi.run() -- nothing is left open: run returns
    assert.is_false(eventapi.pending())
  end)

  it("happens when the client is closed", function()
    local client = client_for(server)
    local s = open(client)
    local got = spawned(function()
      local m = s:receive():await()
      client:close()
      return { m.data, s:receive():await() }
    end)
    assert.are.same({ 1 }, got)
    assert.is_false(s:is_open())
  end)

  it("on the main thread: receive():await() drives the loop", function()
    local s = open(client_for(server))
    assert.are.equal(1, s:receive():await().data)
    assert.are.equal(2, s:receive():await().data)
    s:close()
    assert.is_nil(s:receive():await())
  end)

  it("a receive that waits too long rejects with Timeout", function()
    local s = open(client_for(server))
    local err = spawned(function()
      s:receive():await()
      s:receive():await()
      local ok, e = pcall(function() return s:receive(0.2):await() end)
      s:close()
      return not ok and e
    end)
    assert.are.equal("Timeout", err.type)
    assert.matches("no message within 0.2 s", err.message, 1, true)
  end)
end)

describe("a stream's time limits", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("outlives the client's total timeout while messages come", function()
    server = sse_server([[{ "data: 1\n\n", 0.7, "data: 2\n\n", 0.7, "data: 3\n\n", 0.7, "data: 4\n\n", "close" }]])
    local got, err = drain(open(client_for(server, { timeout = 1 })))
    assert.are.equal(4, #got)
    assert.are.equal("ConnectionFailed", err.type) -- the server's end, not the client's timeout
  end)
end)

describe("a stream's request", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("sends no _actions, _links or _embedded, and Cache-Control: no-cache", function()
    server = hostile.start(([[return function(req)
      local h = req.headers
      local seen = string.format('{"cache":"%%s","accept":"%%s","auth":"%%s","path":"%%s"}',
        h["cache-control"] or "", h["accept"] or "", h["authorization"] or "", req.path)
      return { "%s", "data: " .. seen .. "\n\n", "close" }
    end]]):format(HEAD))
    local got = drain(client_for(server).device.stateStream({ applicationId = APP, deviceId = DEVICE,
                                                              keepAliveInterval = 5 }))
    assert.are.same({ cache = "no-cache", accept = "application/json", auth = "Bearer stream-token",
      path = ("/applications/%s/devices/%s/stateStream?keepAliveInterval=5"):format(APP, DEVICE) }, got[1].data)
  end)

  it("refuses bad params and options before any traffic", function()
    server = sse_server([[{ "close" }]])
    local client = client_for(server)
    local ok, err = pcall(client.device.stateStream, { applicationId = APP })
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    ok, err = pcall(open, client, { stall = 3 })
    assert.are.equal("InvalidParams", err.type)
    assert.matches("unknown stream option 'stall'", err.message, 1, true)
    assert.are.same({}, server.requests())
  end)
end)

describe("reconnecting", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("opens again with Last-Event-ID after the server's retry wait, reported to the hook", function()
    server = hostile.start(([[return function(req, n)
      if n == 1 then return { "%s", "retry: 100\nid: 41\ndata: 1\n\n", "close" } end
      return { "%s", 'data: "' .. (req.headers["last-event-id"] or "none") .. '"\n\n', 30 }
    end]]):format(HEAD, HEAD))
    local s = open(client_for(server), { reconnect = true })
    local hooks = {}
    s:on("reconnect", function(info) hooks[#hooks + 1] = info end)
    local got = spawned(function()
      local a = s:receive():await()
      local b = s:receive():await()
      s:close()
      return { a.data, b.data }
    end)
    assert.are.same({ 1, "41" }, got)
    assert.are.equal(1, #hooks)
    assert.are.equal(0.1, hooks[1].wait)
    assert.are.equal("ConnectionFailed", hooks[1].error.type)
    assert.are.equal("41", hooks[1].last_id)
  end)

  it("gives up after the attempts it was given", function()
    server = sse_server([[{ "close" }]])
    local s = open(client_for(server), { reconnect = 2 })
    local tries = 0
    s:on("reconnect", function() tries = tries + 1 end)
    local _, err = drain(s)
    assert.are.equal(2, tries)
    assert.are.equal("ConnectionFailed", err.type)
    assert.are.equal(3, #server.requests())
  end)

  it("never reconnects after an error answer", function()
    server = hostile.start([[return function() return require("helpers.hostile").answer(403,
      '{"type":"Forbidden","message":"no"}', { "Content-Type: application/json" }) end]])
    local _, err = drain(open(client_for(server), { reconnect = true }))
    assert.are.equal("Forbidden", err.type)
    assert.are.equal(1, #server.requests())
  end)
end)

describe("many streams on one loop", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("each gets its own messages", function()
    server = sse_server([[{ 0.05, "data: 1\n\n", 0.05, "data: 2\n\n", "close" }]])
    local client = client_for(server)
    local totals = {}
    for i = 1, 40 do
      local s = open(client)
      totals[i] = 0
      s:on("message", function(m) totals[i] = totals[i] + m.data end)
      s:on("error", function() end)
    end
    eventapi.run()
    for i = 1, 40 do assert.are.equal(3, totals[i], "stream " .. i) end
  end)
end)

describe("a stream in an embedding host", function()
  local server
  after_each(function() if server then server.stop(); server = nil end end)

  it("reaches its callback from a luv loop (eventapi.luv), which returns once the stream is closed", function()
    local uv = require "luv"
    server = sse_server([[{ 0.2, "data: 7\n\n", 30 }]])
    local s = open(client_for(server))
    local got
    s:on("message", function(m) got = m.data; s:close() end)
    local driver = require("eventapi.luv").start()
    uv.run()
    driver:stop()
    uv.run("nowait") -- let the closed handles finish before the state closes
    assert.are.equal(7, got)
    assert.is_nil(driver.failure)
  end)
end)
