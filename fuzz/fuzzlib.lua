--- Helpers shared by the Lua fuzz targets (fuzz/*.lua): splitting an input
-- into fields, percent-decoding, deep comparison, and the checks that turn a
-- broken invariant into an error (which lua_harness.c turns into abort()).
local Error = require "eventapi.errors"

local M = {}

--- Splits s on NUL into at most n fields; the last field keeps the rest (NULs included).
function M.split(s, n)
  local out, pos = {}, 1
  while #out < n - 1 do
    local z = s:find("\0", pos, true)
    if not z then break end
    out[#out + 1] = s:sub(pos, z - 1)
    pos = z + 1
  end
  out[#out + 1] = s:sub(pos)
  return out
end

--- Percent-decodes s; fails on a malformed escape.
function M.unescape(s)
  M.check(not s:find("%%%X") and not s:find("%%%x%X") and not s:find("%%.?$"), "malformed escape in", s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- True when s is made of RFC 3986 unreserved characters and %XX escapes only.
function M.escaped_form(s)
  return not s:gsub("%%%x%x", ""):find("[^%w%-%._~]")
end

--- Raises (an invariant is broken) unless ok; the message quotes the values.
function M.check(ok, what, ...)
  if ok then return end
  local parts = { what }
  for i = 1, select("#", ...) do parts[#parts + 1] = ("%q"):format(tostring((select(i, ...)))) end
  error("INVARIANT: " .. table.concat(parts, " "), 2)
end

--- Checks that a raised error is an InvalidParams error object.
function M.invalid_params(err, context)
  M.check(Error.is(err), "a non-Error was raised for " .. context .. ":", err)
  M.check(err.type == "InvalidParams", "wrong error type for " .. context .. ":", err.type, err)
  M.check(type(err.message) == "string", "error without a message for " .. context)
end

--- Deep equality of decoded JSON values (numbers by value: an integral float may come back as an integer).
function M.equal(a, b, depth)
  depth = depth or 0
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  if depth > 2000 or getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in pairs(a) do
    if not M.equal(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

return M
