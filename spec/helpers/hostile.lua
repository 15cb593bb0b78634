-- Test helper: a hostile HTTP server in a child process (spec/helpers/
-- hostile_server.lua over luv), for the misbehaviour the sandbox cannot
-- show: answers written byte for byte by the spec.
--
--   local server = hostile.start([[
--     return function(req, n)
--       return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
--     end
--   ]])
--   server.url; server.requests() -- {"GET /path", ...}; server.stop()
--
-- The responder is Lua source (it runs in the child); see hostile_server.lua
-- for what it may return (a string, or a list of strings, waits and "close").
local M = {}

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "spec/helpers/"

--- Starts a server answering with responder_source; returns its handle.
function M.start(responder_source)
  local source, log = os.tmpname(), os.tmpname()
  local f = assert(io.open(source, "w"))
  f:write(responder_source)
  f:close()
  local cmd = ("exec sh -c %s"):format(quote(("echo $$; LUA_PATH=%s LUA_CPATH=%s exec lua5.4 %s %s %s 2>/dev/null"):format(
    quote(package.path), quote(package.cpath), quote(HERE .. "hostile_server.lua"), quote(source), quote(log))))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = pipe:read("l")
  local line = pipe:read("l")
  local url = line and line:match("^listening on (http://[%d.]+:%d+)$")
  if not url then
    pipe:close()
    error("the hostile server did not start: " .. tostring(line))
  end
  local handle = { url = url, pid = tonumber(pid) }
  --- The requests served so far, as "METHOD PATH" lines.
  function handle.requests()
    local lines = {}
    local lf = io.open(log)
    if lf then
      for l in lf:lines() do lines[#lines + 1] = l end
      lf:close()
    end
    return lines
  end
  function handle.stop()
    if pipe then
      os.execute("kill " .. handle.pid .. " 2>/dev/null")
      pipe:close()
      pipe = nil
      os.remove(source); os.remove(log)
    end
  end
  return handle
end

--- A complete HTTP/1.1 answer: status, body (string), extra headers (list of lines).
function M.answer(status, body, headers)
  local lines = { ("HTTP/1.1 %d X"):format(status) }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  lines[#lines + 1] = "Content-Length: " .. #body
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

return M
