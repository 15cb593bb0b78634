-- A minimal server-sent-event server on luv for bench/streams.lua's latency
-- phase: every GET is answered 200 text/event-stream (chunked, ":ok" first,
-- as eventapi-sandbox does); once `streams` of them are open and `wait`
-- seconds have passed, it sends `count` messages, one every `every_ms`
-- milliseconds, to the open streams in turn (round robin), each
--   data: {"t": <uv.hrtime() in ns>}
-- stamped right before the write that puts it on the socket (uv.hrtime is
-- CLOCK_MONOTONIC). Then it sends nothing more and exits when every stream
-- has been closed by the client, or on SIGTERM.
--   lua5.4 bench/sse_server.lua STREAMS COUNT EVERY_MS WAIT_S
-- It prints "listening on http://127.0.0.1:PORT" once it listens, and
-- "sent COUNT" when the last message went.
local uv = require "luv"

local want, count = tonumber(arg[1]) or 1000, tonumber(arg[2]) or 5000
local every_ms, wait_s = tonumber(arg[3]) or 1, tonumber(arg[4]) or 1

local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
  .. "Transfer-Encoding: chunked\r\n\r\n"

local function chunk(s) return ("%x\r\n%s\r\n"):format(#s, s) end

local streams, open, started = {}, 0, false -- streams: the open clients, in the order they opened

local function start_sending()
  started = true
  local list = {}
  for _, c in ipairs(streams) do if not c.closed then list[#list + 1] = c end end
  local sent, i = 0, 0
  local timer = uv.new_timer()
  timer:start(every_ms, every_ms, function()
    if sent >= count or #list == 0 then
      timer:stop(); timer:close()
      io.stdout:write(("sent %d\n"):format(sent)); io.stdout:flush()
      return
    end
    i = i % #list + 1
    local c = list[i]
    if not c.closed then
      local msg = chunk(("data: {\"t\": %d}\n\n"):format(uv.hrtime()))
      c.tcp:try_write(msg) -- the message is 30-odd bytes and the socket's buffer empty: written at once
      sent = sent + 1
    end
  end)
end

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", 0))
assert(server:listen(4096, function(err)
  assert(not err, err)
  local tcp = uv.new_tcp()
  server:accept(tcp)
  tcp:nodelay(true)
  local c = { tcp = tcp, buf = "" }
  tcp:read_start(function(e, data)
    if e or not data then
      if not c.closed then
        c.closed = true
        if c.opened then open = open - 1 end
        tcp:close()
        if started and open == 0 then os.exit(0) end
      end
      return
    end
    if c.opened then return end
    c.buf = c.buf .. data
    if c.buf:find("\r\n\r\n", 1, true) then
      c.opened = true
      tcp:write(HEAD .. chunk(":ok\n\n"))
      streams[#streams + 1] = c
      open = open + 1
      if open == want and not started then
        local t = uv.new_timer()
        t:start(math.floor(wait_s * 1000), 0, function() t:close(); start_sending() end)
      end
    end
  end)
end))

local sig = uv.new_signal()
sig:start("sigterm", function() os.exit(0) end)

io.stdout:write(("listening on http://127.0.0.1:%d\n"):format(server:getsockname().port))
io.stdout:flush()
uv.run()
