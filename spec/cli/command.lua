-- Test helper for the specs of the eventapi command: runs bin/eventapi as a
-- subprocess (stdout a pipe, so JSON comes out compact) with exactly the
-- configuration variables given, and the ids of the example seed.
local cjson = require "cjson"
local sandbox = require "helpers.sandbox"
local assert = require "luassert"

local M = {}

local q = sandbox.shell_quote

M.APP = sandbox.app
M.EVENT = sandbox.event
M.INTEGRATION = "575ed78e7ae143cd83dc4aab"
M.PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
M.LOSANT_TOKEN = sandbox.token
M.CD_PASSWORD = "sandbox-password"
M.MONTEROSA_TOKEN = "sandbox-monterosa-token"

-- Variables the command reads (every service's, from the registry, and the
-- library's own): cleared for every run, so the caller's own never leak in.
M.VARIABLES = { "EVENTAPI_PROGRESS", "EVENTAPI_DEBUG" }
for _, service in ipairs(require("eventapi.services").list) do
  for _, e in ipairs(service.env) do M.VARIABLES[#M.VARIABLES + 1] = e.variable end
end

--- The variables that configure all three services against sandbox sb.
function M.env_for(sb)
  return {
    LOSANT_URL = sb.url, LOSANT_TOKEN = M.LOSANT_TOKEN,
    CONNECTDAILY_URL = sb.url .. "/calendar", CONNECTDAILY_USER = "api", CONNECTDAILY_PASSWORD = M.CD_PASSWORD,
    MONTEROSA_URL = sb.url .. "/api/v2", MONTEROSA_TOKEN = M.MONTEROSA_TOKEN,
  }
end

--- env with some variables changed (false removes one).
function M.env_with(env, changes)
  local out = {}
  for k, v in pairs(env) do out[k] = v end
  for k, v in pairs(changes) do out[k] = v or nil end
  return out
end

--- Runs `eventapi args...` with exactly the given variables of VARIABLES set,
-- stdin (text, optional) as its standard input, and the shell redirections of
-- redirect (optional: stdin, stdout, stderr, each a text such as ">/dev/full"
-- or "<&-", in place of the captured or /dev/null default).
-- Returns { code, stdout, stderr }.
function M.eventapi(args, env, stdin, redirect)
  redirect = redirect or {}
  local parts = { "env" }
  for _, name in ipairs(M.VARIABLES) do parts[#parts + 1] = "-u " .. name end
  for k, v in pairs(env or {}) do parts[#parts + 1] = q(k .. "=" .. v) end
  parts[#parts + 1] = "lua5.4 bin/eventapi"
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local err_file, in_file = os.tmpname(), nil
  local cmd = table.concat(parts, " ") .. " " .. (redirect.stderr or ("2>" .. q(err_file)))
  if redirect.stdout then cmd = cmd .. " " .. redirect.stdout end
  if redirect.stdin then
    cmd = cmd .. " " .. redirect.stdin
  elseif stdin then
    in_file = os.tmpname()
    local f = assert(io.open(in_file, "wb")); f:write(stdin); f:close()
    cmd = cmd .. " <" .. q(in_file)
  else
    cmd = cmd .. " </dev/null"
  end
  local p = assert(io.popen(cmd, "r"))
  local stdout = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(err_file, "rb"))
  local stderr = f:read("a")
  f:close()
  os.remove(err_file)
  if in_file then os.remove(in_file) end
  return { code = code, stdout = stdout, stderr = stderr }
end

--- Runs `eventapi args...` with stdout on a terminal (script(1)); returns its
-- output (stdout and stderr together, CR LF made LF).
function M.eventapi_on_terminal(args, env)
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = q(k .. "=" .. v) end
  local words = {}
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  local cmd = "env " .. table.concat(vars, " ") .. " lua5.4 bin/eventapi " .. table.concat(words, " ")
  local p = assert(io.popen("script -qec " .. q(cmd) .. " /dev/null </dev/null"))
  local text = p:read("a"):gsub("\r\n", "\n")
  p:close()
  return text
end

--- The value of the single line of JSON the command printed (exit code 0).
function M.printed(run)
  assert.are.equal(0, run.code, "exit code (stderr: " .. run.stderr .. ")")
  local line = run.stdout:match("^([^\n]*)\n$")
  assert.is_not_nil(line, "expected one line on stdout, got: " .. run.stdout)
  return cjson.decode(line)
end

--- The values of every line of JSON the command printed (exit code 0).
function M.printed_lines(run)
  assert.are.equal(0, run.code, "exit code (stderr: " .. run.stderr .. ")")
  local list = {}
  for line in run.stdout:gmatch("([^\n]*)\n") do list[#list + 1] = cjson.decode(line) end
  return list
end

--- A fresh temporary directory (removed by the caller with rm_dir).
function M.temp_dir()
  local p = assert(io.popen("mktemp -d"))
  local dir = p:read("l")
  p:close()
  return dir
end
function M.rm_dir(dir) os.execute("rm -rf " .. q(dir)) end
function M.write_file(path, text)
  local f = assert(io.open(path, "wb")); f:write(text); f:close()
end

return M
