-- A misbehaving HTTP server for the specs (started by spec/helpers/hostile.lua
-- in a child process, over luv): it reads each request (head and
-- Content-Length body) and answers with what the spec's responder returns.
--
-- Usage: lua5.4 hostile_server.lua RESPONDER_FILE LOG_FILE
-- RESPONDER_FILE holds Lua source returning function(req, n) where req is
-- { method, path, headers (lower-case names), body, raw } and n counts the
-- requests from 1. It returns a string (the raw answer; the connection then
-- stays open for the next request) or a list whose items are strings (sent),
-- numbers (seconds to wait before the next item) or "close" (the connection
-- is closed there). Each request is logged to LOG_FILE as one line
-- "METHOD PATH". The first line on stdout is "listening on http://127.0.0.1:PORT".
local uv = require "luv"

local responder = assert(loadfile(arg[1]))()
local log = assert(io.open(arg[2], "a"))
log:setvbuf("line")
local served = 0

--- Parses one complete request at the start of buf; returns it and the rest, or nil.
local function take_request(buf)
  local head_end = buf:find("\r\n\r\n", 1, true)
  if not head_end then return nil end
  local head = buf:sub(1, head_end - 1)
  local method, path = head:match("^(%S+) (%S+)")
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do headers[name:lower()] = value end
  local length = tonumber(headers["content-length"] or "0") or 0
  if #buf < head_end + 3 + length then return nil end
  local body = buf:sub(head_end + 4, head_end + 3 + length)
  return { method = method, path = path, headers = headers, body = body, raw = head }, buf:sub(head_end + 4 + length)
end

--- Sends the items of an answer one after the other (strings, waits, "close").
local function play(client, items, i, done)
  local item = items[i]
  if item == nil then return done() end
  if item == "close" then
    if not client:is_closing() then client:close() end
    return
  end
  if type(item) == "number" then
    local timer = uv.new_timer()
    timer:start(math.floor(item * 1000), 0, function()
      timer:close()
      if not client:is_closing() then play(client, items, i + 1, done) end
    end)
    return
  end
  client:write(item, function() if not client:is_closing() then play(client, items, i + 1, done) end end)
end

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", 0))
server:listen(128, function()
  local client = uv.new_tcp()
  server:accept(client)
  local buf, busy = "", false
  local function serve()
    if busy or client:is_closing() then return end
    local req, rest = take_request(buf)
    if not req then return end
    buf = rest
    served = served + 1
    log:write(req.method, " ", req.path, "\n")
    local answer = responder(req, served)
    if type(answer) == "string" then answer = { answer } end
    busy = true
    play(client, answer, 1, function() busy = false; serve() end)
  end
  client:read_start(function(err, chunk)
    if err or not chunk then
      if not client:is_closing() then client:close() end
      return
    end
    buf = buf .. chunk
    serve()
  end)
end)
local address = server:getsockname()
io.stdout:write(("listening on http://127.0.0.1:%d\n"):format(address.port))
io.stdout:flush()
uv.run("default")
