--- The output of the `eventapi` command (see cli.lua): JSON with sorted
-- keys, checked writes of standard output and error, the final flush, and
-- the print and io of a runbook. state is the command's state (ctx: the
-- streams; lost: what a failed write loses; output_failed).
local eventapi = require "eventapi"
local Error = require "eventapi.errors"

local json = eventapi.json
local output = {}

--------------------------------------------------------------------------------
-- JSON output: keys sorted, pretty (two spaces) or on one line.

local SORTED, PRETTY = { sort = true }, { sort = true, indent = true }

--- output.json(value, pretty) -> string: value as JSON with object keys sorted
-- (bytewise); pretty puts one item or member per line, indented by two
-- spaces, `"key": value`. The core's encoder writes it (eventapi.json.encode
-- with sort and indent), so numbers stay exact.
function output.json(value, pretty)
  return json.encode(value, pretty and PRETTY or SORTED)
end

--- A result as printed: the service's raw field (Monterosa's JSON:API
-- `document`) is left out unless --raw was given.
function output.shown(state, s, result)
  if state.raw or s.raw == nil or type(result) ~= "table" or result[s.raw] == nil then return result end
  local copy = setmetatable({}, getmetatable(result))
  for k, v in pairs(result) do
    if k ~= s.raw then copy[k] = v end
  end
  return copy
end

--------------------------------------------------------------------------------
-- Checked writes.

--- The OutputFailed error of a write (or flush) of standard output that
-- failed with err; state.lost says what that loses ("the call was made; its
-- answer is lost"). Marks the output failed, so it is reported once.
local function output_error(state, err)
  state.output_failed = true
  local note = state.lost and (" (" .. state.lost .. ")") or ""
  return Error.new({ type = "OutputFailed", message = ("cannot write standard output: %s%s"):format(tostring(err), note) })
end

--- Writes text on standard output; a write that fails (a full disk, a
-- closed pipe) raises OutputFailed, so the command exits 1 and says so.
-- (A file's write returns nil and the reason on failure; a test's stand-in
-- may return nothing.)
local function out(state, text)
  local ok, err = state.ctx.stdout:write(text)
  if ok == nil and err ~= nil then error(output_error(state, err), 0) end
end
output.write = out

--- output.write_stderr(state, text): writes text on standard error where it
-- is the command's output (the lines of a dry run); a failure raises OutputFailed.
function output.write_stderr(state, text)
  local ok, err = state.ctx.stderr:write(text)
  if ok == nil and err ~= nil then
    error(Error.new({ type = "OutputFailed", message = "cannot write standard error: " .. tostring(err) }), 0)
  end
end

--- output.finish(state, code) -> exit code: flushes standard output (on a
-- file its last bytes are written only now); a flush that fails is reported
-- on stderr, unless a failed write was already; after either the code is
-- not 0 (also when a runbook caught the error of its print).
function output.finish(state, code)
  local stdout = state.ctx.stdout
  if type(stdout.flush) == "function" then
    local ok, err = stdout:flush()
    if ok == nil and err ~= nil and not state.output_failed then
      state.ctx.stderr:write("eventapi: ", tostring(output_error(state, err)), "\n")
    end
  end
  if state.output_failed and code == 0 then code = 1 end
  return code
end

--- output.runbook_output(state) -> print, io of a runbook: Lua's, but
-- writing through output.write, so a line that cannot be written raises
-- OutputFailed in the runbook (Lua's own print flushes each line and drops
-- the error).
function output.runbook_output(state)
  local function print_(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    out(state, table.concat(parts, "\t", 1, parts.n) .. "\n")
    local stdout = state.ctx.stdout
    if type(stdout.flush) == "function" then
      local ok, err = stdout:flush()
      if ok == nil and err ~= nil then error(output_error(state, err), 0) end
    end
  end
  local function write(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if math.type(v) == "integer" then v = ("%d"):format(v)
      elseif type(v) == "number" then v = ("%.14g"):format(v)
      elseif type(v) ~= "string" then error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, type(v)), 2) end
      out(state, v)
    end
    return io.stdout
  end
  return print_, setmetatable({ write = write }, { __index = io })
end

return output
