-- The sandbox's Losant event streams (sandbox/sse.c, sandbox/losant_stream.c;
-- docs/PROTOCOLS.md 1.12): device.stateStream, device.commandStream and
-- application.mqttSubscriptionStream over real HTTP, read with the curl
-- command line (and raw sockets through luv for many streams at once), so
-- these specs do not depend on the client's own stream support.
local sandbox = require "helpers.sandbox"
local cjson = require "cjson"
local uv = require "luv"

local APP = sandbox.app
local TOKEN = sandbox.token
local UNKNOWN = "aaaaaaaaaaaaaaaaaaaaaaaa"
local q = sandbox.shell_quote
local T = sandbox.time

-- Sleeps s seconds.
local function sleep(s) os.execute("sleep " .. s) end

-- The whole text of a file ("" when absent).
local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Waits until pred(text of path) holds (at most secs); returns the text.
local function wait_for(path, pred, secs)
  local deadline = os.time() + (secs or T(5)) + 1
  repeat
    local text = slurp(path)
    if pred(text) then return text end
    sleep(0.05)
  until os.time() > deadline
  return slurp(path)
end

-- 1 when the process pid is gone (or a zombie).
local function gone(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return true end
  local stat = f:read("a")
  f:close()
  return stat:match("^%d+ %b() (%a)") == "Z"
end

-- The messages of an event-stream body: each a table of its fields
-- (id, event, data, retry) or {comment = text}.
local function messages(body)
  local out = {}
  for block in body:gsub("\r\n", "\n"):gmatch("(.-)\n\n") do
    local m = {}
    for line in block:gmatch("[^\n]+") do
      local name, value = line:match("^([^:]*):%s?(.*)$")
      if name == "" then m.comment = value elseif name then m[name] = value end
    end
    out[#out + 1] = m
  end
  return out
end

-- The events (not comments, not retry-only blocks) of a body.
local function events(body)
  local out = {}
  for _, m in ipairs(messages(body)) do
    if m.event then out[#out + 1] = m end
  end
  return out
end

describe("the sandbox's Losant event streams", function()
  local sb, curls, files

  -- Opens a stream with curl in the background (head and body into one
  -- file); returns the file and curl's pid. opts: token (false: none),
  -- headers, max_time.
  local function open(path, opts)
    opts = opts or {}
    local file = os.tmpname()
    files[#files + 1] = file
    local args = { "curl", "-sN", "-i", "--max-time", tostring(opts.max_time or T(20)) }
    local token = opts.token == nil and TOKEN or opts.token
    if token then args[#args + 1] = "-H"; args[#args + 1] = "Authorization: Bearer " .. token end
    for k, v in pairs(opts.headers or {}) do args[#args + 1] = "-H"; args[#args + 1] = k .. ": " .. v end
    args[#args + 1] = sb.url .. path
    for i, a in ipairs(args) do args[i] = q(a) end
    local prefix = os.getenv("LD_PRELOAD") and "env -u LD_PRELOAD " or ""
    local p = assert(io.popen("sh -c " .. q(prefix .. table.concat(args, " ") .. " >" .. q(file) .. " 2>/dev/null & echo $!")))
    local pid = tonumber(p:read("l"))
    p:close()
    curls[#curls + 1] = pid
    return file, pid
  end

  -- Opens a stream and waits for its head; returns the file and pid.
  local function open_ready(path, opts)
    local file, pid = open(path, opts)
    local text = wait_for(file, function(t) return t:find("\r\n\r\n", 1, true) end)
    assert(text:match("^HTTP/1.1 200"), "the stream did not open: " .. text)
    return file, pid
  end

  -- The body of a stream file (after the head).
  local function body_of(file)
    local text = slurp(file)
    local at = text:find("\r\n\r\n", 1, true)
    return at and text:sub(at + 4) or ""
  end

  -- A POST of a JSON body with the spec token; returns the answer.
  local function post(path, json)
    return sandbox.http("POST", sb.url .. path, { token = TOKEN, json = json })
  end

  -- A new device of the seed's application (tags: a list of {key, value}).
  local function device(name, tags)
    local res = post("/applications/" .. APP .. "/devices", { name = name, tags = tags })
    assert(res.status == 201, res.body)
    return res.json.id
  end

  local function state_path(dev, query)
    return "/applications/" .. APP .. "/devices/" .. dev .. "/stateStream" .. (query or "")
  end

  local function command_path(dev, query)
    return "/applications/" .. APP .. "/devices/" .. dev .. "/commandStream" .. (query or "")
  end

  before_each(function()
    curls, files = {}, {}
    sb = sandbox.start({ faults = true })
  end)
  after_each(function()
    for _, pid in ipairs(curls) do os.execute("kill " .. pid .. " 2>/dev/null") end
    sb.stop()
    for _, f in ipairs(files) do os.remove(f) end
  end)

  describe("the head", function()
    it("answers 200 text/event-stream without caching", function()
      local file = open_ready(state_path(device("d")))
      local head = slurp(file):match("^(.-)\r\n\r\n"):lower()
      assert.truthy(head:find("content-type: text/event-stream", 1, true))
      assert.truthy(head:find("cache-control: no-cache", 1, true))
    end)

    it("opens the body with the comment :ok, sent with the head", function()
      local file = open_ready(state_path(device("d"), "?keepAliveInterval=60"))
      assert.are.equal(":ok\n\n", wait_for(file, function(t) return t:find(":ok\n\n", 1, true) end):match("\r\n\r\n(.*)$"))
    end)
  end)

  describe("messages", function()
    it("sends one deviceState message per state sent, the state as stored", function()
      local dev = device("d")
      local file = open_ready(state_path(dev))
      assert.are.equal(200, post("/applications/" .. APP .. "/devices/" .. dev .. "/state",
        { { data = { t = 1 } }, { data = { t = 2 }, time = 1700000000000 } }).status)
      local got = events(wait_for(file, function(t) return #events(t) >= 2 end))
      assert.are.equal(2, #got)
      assert.are.equal("deviceState", got[1].event)
      local first, second = cjson.decode(got[1].data), cjson.decode(got[2].data)
      assert.are.equal(1, first.data.t)
      assert.truthy(first.time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"))
      assert.are.same({ data = { t = 2 }, time = "2023-11-14T22:13:20.000Z" }, second)
      assert.truthy(tonumber(got[2].id) > tonumber(got[1].id))
    end)

    it("sends the states of its own device only", function()
      local a, b = device("a"), device("b")
      local file = open_ready(state_path(a))
      post("/applications/" .. APP .. "/devices/" .. b .. "/state", { data = { other = true } })
      post("/applications/" .. APP .. "/devices/" .. a .. "/state", { data = { mine = true } })
      local got = events(wait_for(file, function(t) return #events(t) >= 1 end))
      sleep(0.2)
      got = events(body_of(file))
      assert.are.equal(1, #got)
      assert.is_true(cjson.decode(got[1].data).data.mine)
    end)

    it("sends a device.sendCommand to the device's commandStream as {name, payload, time}", function()
      local dev = device("d")
      local file = open_ready(command_path(dev))
      post("/applications/" .. APP .. "/devices/" .. dev .. "/command", { name = "reboot", payload = { delay = 5 } })
      local got = events(wait_for(file, function(t) return #events(t) >= 1 end))
      assert.are.equal("deviceCommand", got[1].event)
      local cmd = cjson.decode(got[1].data)
      assert.are.equal("reboot", cmd.name)
      assert.are.same({ delay = 5 }, cmd.payload)
      assert.truthy(cmd.time)
    end)

    it("sends a devices.sendCommand by tag to the commandStream of each tagged device only", function()
      local tagged1 = device("t1", { { key = "floor", value = "2" } })
      local tagged2 = device("t2", { { key = "floor", value = "2" } })
      local other = device("o", { { key = "floor", value = "3" } })
      local f1, f2, fo = open_ready(command_path(tagged1)), open_ready(command_path(tagged2)), open_ready(command_path(other))
      assert.are.equal(200, post("/applications/" .. APP .. "/devices/command",
        { name = "lights", payload = "off", deviceTags = { { key = "floor", value = "2" } } }).status)
      for _, f in ipairs({ f1, f2 }) do
        local got = events(wait_for(f, function(t) return #events(t) >= 1 end))
        assert.are.equal("lights", cjson.decode(got[1].data).name)
      end
      sleep(0.2)
      assert.are.equal(0, #events(body_of(fo)))
    end)

    it("sends mqttPublishMessage to the subscription streams whose topic filter takes the topic", function()
      local base = "/applications/" .. APP .. "/mqttSubscriptionStream"
      local exact = open_ready(base .. "?topic=a/b")
      local plus = open_ready(base .. "?topic=a/%2B")
      local all = open_ready(base)
      for _, topic in ipairs({ "a/b", "a/c", "x/y" }) do
        assert.are.equal(200, post("/applications/" .. APP .. "/mqttPublishMessage",
          { topic = topic, message = "m-" .. topic }).status)
      end
      local got_all = events(wait_for(all, function(t) return #events(t) >= 3 end))
      assert.are.equal(3, #got_all)
      sleep(0.2)
      local got_exact, got_plus = events(body_of(exact)), events(body_of(plus))
      assert.are.equal(1, #got_exact)
      assert.are.same({ topic = "a/b", message = "m-a/b" }, cjson.decode(got_exact[1].data))
      assert.are.equal("mqttMessage", got_exact[1].event)
      assert.are.equal(2, #got_plus)
      assert.are.equal("a/c", cjson.decode(got_plus[2].data).topic)
    end)

    it("sends nothing for a change that was refused", function()
      local dev = device("d")
      local file = open_ready(state_path(dev))
      assert.are.equal(400, post("/applications/" .. APP .. "/devices/" .. dev .. "/state",
        { data = { t = 1 }, time = "not a date" }).status)
      post("/applications/" .. APP .. "/devices/" .. dev .. "/state", { data = { t = 2 } })
      local got = events(wait_for(file, function(t) return #events(t) >= 1 end))
      sleep(0.2)
      got = events(body_of(file))
      assert.are.equal(1, #got)
      assert.are.equal(2, cjson.decode(got[1].data).data.t)
    end)
  end)

  describe("keep-alives", function()
    it("sends :keepalive every keepAliveInterval seconds", function()
      local dev = device("d")
      local started = uv.hrtime()
      local file = open_ready(state_path(dev, "?keepAliveInterval=1"))
      local text = wait_for(file, function(t) return select(2, t:gsub(":keepalive\n\n", "")) >= 2 end)
      local took = (uv.hrtime() - started) / 1e9
      assert.are.equal(2, select(2, body_of(file):gsub(":keepalive\n\n", "")))
      assert.truthy(took >= 1.8 and took < T(3.5), "two keep-alives took " .. took .. " s")
      assert.truthy(text:find("\r\n\r\n:ok\n\n:keepalive\n\n", 1, true))
    end)

    it("waits the default 2 seconds for the first keep-alive", function()
      local file = open_ready(state_path(device("d")))
      sleep(1.5)
      assert.are.equal(":ok\n\n", body_of(file))
      wait_for(file, function(t) return t:find(":keepalive", 1, true) end)
      assert.truthy(body_of(file):find(":keepalive\n\n", 1, true))
    end)
  end)

  describe("errors before the stream", function()
    local function status_of(path, token)
      return sandbox.http("GET", sb.url .. path, { token = token == nil and TOKEN or token or nil, timeout = 5 })
    end

    it("answers 400 in Losant's shape for a keepAliveInterval outside 1..60 or not a number", function()
      local dev = device("d")
      for _, v in ipairs({ "0", "61", "abc", "1.5" }) do
        local res = status_of(state_path(dev, "?keepAliveInterval=" .. v))
        assert.are.equal(400, res.status)
        assert.are.equal("Validation", res.json.type)
        assert.truthy(res.json.message:find("keepAliveInterval", 1, true))
      end
    end)

    it("answers 404 for an unknown device or application", function()
      local res = status_of(command_path(UNKNOWN))
      assert.are.equal(404, res.status)
      assert.are.same({ type = "NotFound", message = "Device was not found" }, res.json)
      res = status_of("/applications/" .. UNKNOWN .. "/mqttSubscriptionStream?topic=a")
      assert.are.equal(404, res.status)
      assert.are.equal("Application was not found", res.json.message)
    end)

    it("answers 401 without a token and 403 without the scope, as JSON", function()
      local dev = device("d")
      local res = status_of(state_path(dev), false)
      assert.are.equal(401, res.status)
      assert.are.equal("Unauthorized", res.json.type)
      res = status_of(state_path(dev), "sandbox-events-get")
      assert.are.equal(403, res.status)
      assert.truthy(res.headers["content-type"]:find("application/json", 1, true))
    end)
  end)

  describe("faults", function()
    it("stream-drop=N ends the stream after N messages", function()
      local dev = device("d")
      local file, pid = open_ready(state_path(dev), { headers = { ["X-Sandbox-Fault"] = "stream-drop=2" } })
      post("/applications/" .. APP .. "/devices/" .. dev .. "/state", { { data = { n = 1 } }, { data = { n = 2 } }, { data = { n = 3 } } })
      wait_for(file, function() return gone(pid) end)
      assert.is_true(gone(pid))
      local got = events(body_of(file))
      assert.are.equal(2, #got)
      assert.are.equal(2, cjson.decode(got[2].data).data.n)
    end)

    it("stream-drop=0 ends the stream right after the head", function()
      local file, pid = open(state_path(device("d")), { headers = { ["X-Sandbox-Fault"] = "stream-drop=0" } })
      wait_for(file, function() return gone(pid) end)
      assert.is_true(gone(pid))
      local text = slurp(file)
      assert.truthy(text:match("^HTTP/1.1 200"))
      assert.are.equal(":ok\n\n", body_of(file))
    end)

    it("stream-stall sends nothing after the head and :ok, not even keep-alives", function()
      local dev = device("d")
      local file, pid = open_ready(state_path(dev, "?keepAliveInterval=1"), { headers = { ["X-Sandbox-Fault"] = "stream-stall" } })
      post("/applications/" .. APP .. "/devices/" .. dev .. "/state", { data = { n = 1 } })
      sleep(2.3)
      assert.is_false(gone(pid))
      assert.are.equal(":ok\n\n", body_of(file))
    end)

    it("stream-retry=MS sends a retry line first; every message has an id; Last-Event-ID is recorded", function()
      local dev = device("d")
      local file = open_ready(state_path(dev), { headers = { ["X-Sandbox-Fault"] = "stream-retry=1500", ["Last-Event-ID"] = "41" } })
      post("/applications/" .. APP .. "/devices/" .. dev .. "/state", { data = { n = 1 } })
      wait_for(file, function(t) return #events(t) >= 1 end)
      local all = messages(body_of(file))
      assert.are.equal("ok", all[1].comment)
      assert.are.equal("1500", all[2].retry)
      assert.truthy(tonumber(all[3].id))
      local seen
      for _, r in ipairs(sandbox.requests(sb)) do
        if r.path:find("/stateStream", 1, true) then seen = r.headers["last-event-id"] end
      end
      assert.are.equal("41", seen)
    end)
  end)

  describe("many streams and their ends", function()
    it("holds 1,000 open streams and sends an event to every one", function()
      -- In a child process of its own: run late in the whole suite, in the
      -- suite's process, the event reached none of the 1,000 connections
      -- (not understood yet; alone, or after spec/sandbox, it passes).
      local dev = device("d")
      local host, port = sb.url:match("^http://([%d%.]+):(%d+)$")
      local ok, out, err = sandbox.run_lua(([=[
        local uv = require "luv"
        local host, port, path, token, post = %q, %d, %q, %q, %q
        local conns, heads = {}, 0
        for i = 1, 1000 do
          local c = { tcp = uv.new_tcp(), text = "" }
          conns[i] = c
          c.tcp:connect(host, port, function(cerr)
            if cerr then return end
            c.tcp:write("GET " .. path .. " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " .. token .. "\r\n\r\n")
            c.tcp:read_start(function(rerr, chunk)
              if rerr or not chunk then return end
              local had = c.text:find("\r\n\r\n", 1, true)
              c.text = c.text .. chunk
              if not had and c.text:find("\r\n\r\n", 1, true) then heads = heads + 1 end
            end)
          end)
        end
        local deadline = uv.now() + %d
        while heads < 1000 and uv.now() < deadline do uv.run("once") end
        os.execute(post)
        local function received()
          local k = 0
          for _, c in ipairs(conns) do if c.text:find('"all":1', 1, true) then k = k + 1 end end
          return k
        end
        deadline = uv.now() + %d
        while received() < 1000 and uv.now() < deadline do uv.run("once") end
        print(heads, received())
        for _, c in ipairs(conns) do c.tcp:close() end
        uv.run("nowait")
      ]=]):format(host, tonumber(port), state_path(dev, "?keepAliveInterval=60"), TOKEN,
        ("curl -s -o /dev/null -X POST -H %s -H %s --data %s %s"):format(q("Authorization: Bearer " .. TOKEN),
          q("Content-Type: application/json"), q('{"data":{"all":1}}'),
          q(sb.url .. "/applications/" .. APP .. "/devices/" .. dev .. "/state")),
        math.floor(T(20) * 1000), math.floor(T(10) * 1000)))
      assert.is_true(ok, err)
      assert.are.equal("1000\t1000\n", out)
    end)

    it("frees the stream of a client that disconnects", function()
      local function fds() local p = io.popen("ls /proc/" .. sb.pid .. "/fd | wc -l"); local n = tonumber(p:read("a")); p:close(); return n end
      local dev = device("d")
      sleep(0.2)
      local before = fds()
      local pids = {} -- curl streams (raw luv sockets did not connect late in the whole suite's process)
      for i = 1, 20 do
        local _, pid = open_ready(state_path(dev, "?keepAliveInterval=60"))
        pids[i] = pid
      end
      assert.truthy(fds() >= before + 20)
      for _, pid in ipairs(pids) do os.execute("kill " .. pid .. " 2>/dev/null") end
      local deadline = os.time() + 3
      while fds() > before + 2 and os.time() <= deadline do sleep(0.1) end
      assert.truthy(fds() <= before + 2, "the sandbox still holds " .. fds() - before .. " more descriptors")
    end)

    it("stops on SIGTERM at once with streams open, ending each stream", function()
      local dev = device("d")
      local list = {}
      for i = 1, 3 do
        local file, pid = open_ready(state_path(dev, "?keepAliveInterval=60"),
          { headers = i == 3 and { ["X-Sandbox-Fault"] = "stream-stall" } or nil })
        list[i] = { file = file, pid = pid }
      end
      local started = uv.hrtime()
      local exit = sb.stop()
      local took = (uv.hrtime() - started) / 1e9
      assert.is_true(exit.ok)
      assert.truthy(took < T(2), "the stop took " .. took .. " s")
      for _, s in ipairs(list) do
        wait_for(s.file, function() return gone(s.pid) end, 3)
        assert.is_true(gone(s.pid))
      end
    end)
  end)
end)
