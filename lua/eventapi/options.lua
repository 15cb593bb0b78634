--- A client's options: the ones there are and what they mean, their
-- checks (numbers, retries, headers) and the InvalidParams error they raise.
local core = require "eventapi.core"
local Error = require "eventapi.errors"

local M = {}

local OPTIONS = {
  token = "string", url = "string", accept_version = "string", timeout = "number",
  connect_timeout = "number", idle_timeout = "number", ca_file = "string", insecure = "boolean",
  max_connections = "number", user_agent = "string", headers = "table", max_body = "number", user = "string",
  password = "string", retries = "table or boolean", dry_run = "boolean or function", validate = "boolean",
}

-- What each option means and its default, in the order the reference lists
-- them (tools/gendocs.lua writes docs/API.md from this table).
local OPTION_DOCS = {
  { "url", "the service's public URL (Losant); required for Connect Daily and Monterosa",
    "base URL, http:// or https://, no query or fragment; Connect Daily's includes the deployment's context path" },
  { "token", "none", "API access token, sent as `Authorization: Bearer`; no CR, LF or NUL" },
  { "user", "none", "HTTP Basic user (Connect Daily); no `:`" },
  { "password", "none", "HTTP Basic password; needs `user`" },
  { "accept_version", "`^1.20.1`", "Losant's `Accept-Version` header" },
  { "timeout", "none", "seconds for the whole request, 0.001 to 86400, except an upload (no total limit: its "
    .. "connect and idle limits stay); then `Timeout`" },
  { "connect_timeout", "10", "seconds to connect, 0.001 to 86400; then `Timeout`" },
  { "idle_timeout", "60", "whole seconds without a single byte received (counted from the request's start, then "
    .. "from the last byte that came; a slow trickle never trips it; an upload's bytes sent count too), 1 to 86400; "
    .. "then `Timeout`" },
  { "ca_file", "the system's CAs", "CA bundle to verify the server with" },
  { "insecure", "false", "skip TLS verification (tests only)" },
  { "max_connections", "unlimited", "connections in flight for the process, 1 to 100000 (the largest any client asked)" },
  { "max_body", "64 MiB", "bytes of a response body, at least 1; a larger one is `InvalidResponse`, never retried" },
  { "user_agent", "`eventapi/<version> libcurl/<version> Lua 5.4`", "the `User-Agent` header" },
  { "headers", "none", "extra headers, a table of name = value; values of credential-like names are redacted in errors" },
  { "retries", "none", "`true` or `{ max = 3, base = 0.2, cap = 10, on = { 429, 502, 503, 504, \"transport\" }, "
    .. "methods = { \"GET\", \"PUT\", \"DELETE\" } }`: which failures are retried and how long to wait" },
  { "dry_run", "false", "`true`: every method but GET, HEAD and OPTIONS is printed on stderr and not sent; "
    .. "or a function receiving each line. A write whose body the service's published schema refuses is "
    .. "`InvalidParams` naming the param, the JSON pointer and the rule, as production would refuse it" },
  { "validate", "false", "`true`: every call's body and JSON query params are checked against the service's "
    .. "published schemas (Losant) before it is sent; a refused one is `InvalidParams` and is not sent" },
}

-- The numeric options: {min, max, integer, default}. Timeouts are seconds
-- (at most a day); idle_timeout is whole seconds (the loop's idle check: no byte received for that long).
local DAY = 86400
local NUMBERS = {
  timeout = { 0.001, DAY },
  connect_timeout = { 0.001, DAY, false, 10 },
  idle_timeout = { 1, DAY, true, 60 },
  max_body = { 1, 1 << 40, true },
  max_connections = { 1, 100000, true },
}

-- libcurl refuses to send a request head (request line and headers) of 1 MiB
-- or more; larger requests are InvalidParams before any traffic.
local MAX_HEAD = 1024 * 1024 - 16 * 1024


local USER_AGENT = ("eventapi/%s libcurl/%s Lua 5.4"):format(core.version, core.curl_version)

--- Raises an InvalidParams error object.
local function invalid(message, extra)
  local e = Error.new({ type = "InvalidParams", message = message })
  for k, v in pairs(extra or {}) do e[k] = v end
  error(e, 0)
end

local RETRY_DEFAULTS = { max = 3, base = 0.2, cap = 10, on = { 429, 502, 503, 504, "transport" },
                         methods = { "GET", "PUT", "DELETE" } }

--- Checks a number: finite, in [min, max], an integer when asked; raises
-- InvalidParams naming what and the value.
local function check_number(what, v, min, max, integer)
  local ok = type(v) == "number" and v == v and v >= min and v <= max
  if ok and integer then ok = math.tointeger(v) ~= nil end
  if not ok then
    invalid(("%s must be %s from %s to %s, not %s"):format(what, integer and "a whole number" or "a number",
      core.number_text(min), core.number_text(max), Error.show(v)))
  end
  return integer and math.tointeger(v) or v
end

--- The retry policy of a client from its retries option (or true); raises InvalidParams.
local function retry_policy(name, option)
  local policy = {}
  for k, v in pairs(option) do
    if RETRY_DEFAULTS[k] == nil then invalid(("%s: unknown retries field '%s'"):format(name, tostring(k))) end
    policy[k] = v
  end
  for k, v in pairs(RETRY_DEFAULTS) do if policy[k] == nil then policy[k] = v end end
  policy.max = check_number(name .. ": retries.max", policy.max, 0, 100, true)
  policy.base = check_number(name .. ": retries.base", policy.base, 0, DAY)
  policy.cap = check_number(name .. ": retries.cap", policy.cap, 0, DAY)
  if type(policy.on) ~= "table" then invalid(name .. ': retries.on lists HTTP statuses and "transport"') end
  if type(policy.methods) ~= "table" then invalid(name .. ": retries.methods lists HTTP methods") end
  local on, methods = {}, {}
  for _, x in ipairs(policy.on) do
    if x ~= "transport" and math.type(x) ~= "integer" then
      invalid(name .. ': retries.on lists HTTP statuses and "transport"')
    end
    on[x] = true
  end
  for _, m in ipairs(policy.methods) do
    if type(m) ~= "string" then invalid(name .. ": retries.methods lists HTTP methods") end
    methods[m:upper()] = true
  end
  policy.on, policy.methods = on, methods
  return policy
end

--- The names of a headers table, sorted; raises InvalidParams (what: where
-- they came from) for a key that is not a string, as a list of "Name: value"
-- lines would have.
local function header_names(headers, what)
  local names = {}
  for k in pairs(headers) do
    if type(k) ~= "string" then
      invalid(("%s must be a table of name = value; a %s key is not a header name"):format(what, type(k)))
    end
    names[#names + 1] = k
  end
  table.sort(names)
  return names
end

--- Checks a header and returns its line and value text: the name a token, the
-- value a string (a number or boolean written as text), no CR, LF or NUL in it.
local function header_line(name, value, what)
  local kind = type(value)
  if kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then invalid(what .. " must be a finite number") end
    value = core.number_text(value) -- exact, with '.' whatever the locale; 50.0 -> 50, as in queries
  elseif kind == "boolean" then
    value = tostring(value)
  elseif kind ~= "string" then
    invalid(("%s must be a string, a number or a boolean, not a %s"):format(what, kind))
  end
  if not name:match("^[%w!#$%%&'*+.^_`|~-]+$") then
    invalid(what .. ": the header name must be letters, digits and !#$%&'*+.^_`|~- only")
  end
  if value:find("[\r\n\0]") then invalid(what .. " must not contain CR, LF or NUL") end
  return name .. ": " .. value, value
end

M.OPTIONS = OPTIONS -- option name -> accepted types
M.OPTION_DOCS = OPTION_DOCS -- {name, default, meaning} in reference order
M.NUMBERS, M.MAX_HEAD, M.USER_AGENT = NUMBERS, MAX_HEAD, USER_AGENT
M.invalid, M.check_number, M.retry_policy = invalid, check_number, retry_policy
M.header_names, M.header_line = header_names, header_line
return M
