-- Test helper: start eventapi-sandbox on a free port, talk to it with the
-- curl command line (so sandbox specs do not depend on the client under
-- test), read its request record, stop it.
local cjson = require "cjson"

local M = {}

M.binary = os.getenv("EVENTAPI_SANDBOX") or "build/eventapi-sandbox"
-- EVENTAPI_SANDBOX_WRAPPER: words put before the sandbox command (split on
-- spaces), e.g. "valgrind --log-file=/tmp/vg/sandbox.%p.log" (make check-valgrind).
M.wrapper = os.getenv("EVENTAPI_SANDBOX_WRAPPER")
-- EVENTAPI_TIME_SCALE: factor for the specs' tight timings (slow runs under
-- valgrind or sanitizers); M.time(seconds) scales a duration.
M.time_scale = tonumber(os.getenv("EVENTAPI_TIME_SCALE") or "") or 1
function M.time(seconds) return seconds * M.time_scale end
M.seed = "examples/seed.json"
M.app = "575ec8687ae143cd83dc4a97" -- the application of the seed
M.event = "575ed0de7ae143cd83dc4aa5" -- the first event of the seed
M.token = "sandbox-all-access"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = shell_quote

local function tmpname()
  local name = os.tmpname()
  return name
end

--- Runs Lua source text in a child process with this process's module paths.
-- opts: command (the command line before the script's path, default
-- "lua5.4"; e.g. "EVENTAPI_DEBUG=1 lua5.4 -W" or "bin/eventapi run"), merge
-- (stderr into stdout), pty (under script(1), so the output is a terminal;
-- merges too). Standard input is /dev/null. Returns ok, stdout, stderr, code
-- (as io.popen's close gives them; stderr "" when merged).
function M.run_lua(text, opts)
  opts = opts or {}
  local script, err_file = tmpname(), tmpname()
  local f = assert(io.open(script, "w"))
  f:write(text)
  f:close()
  local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s %s"):format(shell_quote(package.path), shell_quote(package.cpath),
    opts.command or "lua5.4", shell_quote(script))
  if opts.pty then cmd = "script -qec " .. shell_quote(cmd) .. " /dev/null" end
  local merged = opts.merge or opts.pty
  local p = assert(io.popen(cmd .. (merged and " 2>&1" or " 2>" .. shell_quote(err_file)) .. " </dev/null"))
  local out = p:read("a")
  local ok, _, code = p:close()
  f = assert(io.open(err_file))
  local err = f:read("a")
  f:close()
  os.remove(script); os.remove(err_file)
  return ok, out, err, code
end

-- Starts a sandbox. opts: seed (path, default the example seed; false for
-- none), db (path), record, faults, log (true), rate_limit (n), args (list).
-- Returns a handle with url, pid, stop().
function M.start(opts)
  opts = opts or {}
  local args = {}
  for word in (M.wrapper or ""):gmatch("%S+") do args[#args + 1] = word end
  args[#args + 1] = M.binary
  for _, a in ipairs({ "--listen", "127.0.0.1:0" }) do args[#args + 1] = a end
  local seed = opts.seed
  if seed == nil then seed = M.seed end
  if seed then args[#args + 1] = "--seed"; args[#args + 1] = seed end
  if opts.db then args[#args + 1] = "--db"; args[#args + 1] = opts.db end
  if opts.record ~= false then args[#args + 1] = "--record" end
  if opts.faults then args[#args + 1] = "--faults" end
  if opts.log then args[#args + 1] = "--log" end
  if opts.rate_limit then args[#args + 1] = "--rate-limit"; args[#args + 1] = tostring(opts.rate_limit) end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local stderr = opts.stderr or "/dev/null"
  local cmd = "sh -c " .. shell_quote("echo $$; exec " .. table.concat(quoted, " ")
    .. " 2>" .. shell_quote(stderr))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = pipe:read("l")
  local line = pipe:read("l")
  if not line then
    pipe:close()
    error("eventapi-sandbox did not start: " .. table.concat(args, " "))
  end
  local url = line:match("^listening on (http://[%d%.]+:%d+)$")
  if not url then
    pipe:close()
    error("unexpected first line from eventapi-sandbox: " .. line)
  end
  local handle = { url = url, pid = tonumber(pid), pipe = pipe, stderr = stderr }
  function handle.stop(signal)
    if handle.pipe then
      os.execute("kill -" .. (signal or "TERM") .. " " .. handle.pid .. " 2>/dev/null")
      local ok, how, code = handle.pipe:close()
      handle.pipe = nil
      handle.exit = { ok = ok, how = how, code = code }
    end
    return handle.exit
  end
  --- handle.losant(extra) -> a Losant client on this sandbox with the spec
  -- token and the options in extra on top.
  function handle.losant(extra)
    local options = { url = handle.url, token = M.token }
    for k, v in pairs(extra or {}) do options[k] = v end
    return require("eventapi").losant(options)
  end
  return handle
end

-- One HTTP exchange with the curl command line.
-- opts: headers (table name -> value), body (string), json (table, encoded
-- as the body with Content-Type application/json), token (Bearer),
-- timeout (seconds). Returns a table: status, headers (lower-case names),
-- body, json (decoded when the body parses), curl_exit.
function M.http(method, url, opts)
  opts = opts or {}
  local hdr_file, body_file, req_file = tmpname(), tmpname(), nil
  local args = { "curl", "-s", "-g", "-X", method, "-o", body_file, "-D", hdr_file,
                 "-w", "%{http_code}", "--max-time", tostring(opts.timeout or 10) }
  local headers = {}
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  if opts.token then headers["Authorization"] = "Bearer " .. opts.token end
  local body = opts.body
  if opts.json ~= nil then
    body = cjson.encode(opts.json)
    if headers["Content-Type"] == nil then headers["Content-Type"] = "application/json" end
  end
  for k, v in pairs(headers) do
    args[#args + 1] = "-H"; args[#args + 1] = k .. ": " .. v
  end
  if body then
    req_file = tmpname()
    local f = assert(io.open(req_file, "wb")); f:write(body); f:close()
    args[#args + 1] = "--data-binary"; args[#args + 1] = "@" .. req_file
  end
  args[#args + 1] = url
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  -- (make check-asan preloads the ASan runtime into lua5.4; the curl command
  -- line hangs under it, so it runs without the preload)
  local prefix = os.getenv("LD_PRELOAD") and "env -u LD_PRELOAD " or ""
  local p = assert(io.popen(prefix .. table.concat(quoted, " ") .. " 2>/dev/null", "r"))
  local code = p:read("a")
  local _, _, exit = p:close()
  local res = { status = tonumber(code) or 0, headers = {}, curl_exit = exit }
  local f = io.open(hdr_file, "rb")
  if f then
    for line in f:read("a"):gmatch("[^\r\n]+") do
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name then res.headers[name:lower()] = value end
    end
    f:close()
  end
  f = io.open(body_file, "rb")
  if f then res.body = f:read("a"); f:close() end
  os.remove(hdr_file); os.remove(body_file)
  if req_file then os.remove(req_file) end
  if res.body and res.body ~= "" then
    local ok, doc = pcall(cjson.decode, res.body)
    if ok then res.json = doc end
  end
  return res
end

-- The requests the sandbox recorded (needs --record), oldest first.
function M.requests(handle)
  local res = M.http("GET", handle.url .. "/_sandbox/requests")
  assert(res.status == 200, "GET /_sandbox/requests answered " .. tostring(res.status))
  return res.json
end

function M.clear_requests(handle)
  local res = M.http("DELETE", handle.url .. "/_sandbox/requests")
  assert(res.status == 200 or res.status == 204, "DELETE /_sandbox/requests answered " .. tostring(res.status))
end

--- The base64 text of s (for expected Basic credentials).
function M.base64(s)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return (s:gsub("..?.?", function(chunk)
    local a, b, c = chunk:byte(1, 3)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local out = {}
    for i = 1, 4 do
      local k = (n >> (6 * (4 - i))) & 63
      out[i] = alphabet:sub(k + 1, k + 1)
    end
    if not b then out[3], out[4] = "=", "=" elseif not c then out[4] = "=" end
    return table.concat(out)
  end))
end

--- The error promise p is rejected with; raises when p fulfils.
function M.rejection(p)
  local ok, err = pcall(p.await, p)
  if ok then error("the promise was fulfilled with " .. tostring(err) .. ", a rejection was expected", 2) end
  return err
end

--- The error calling f(...) fails with: what it raises, or the rejection of
-- the promise it returns.
function M.refusal(f, ...)
  local ok, got = pcall(f, ...)
  if not ok then return got end
  return M.rejection(got)
end

return M
