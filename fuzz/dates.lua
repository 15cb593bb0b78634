--- Fuzz target "dates": Connect Daily's jdn()/date() and Monterosa's
-- unix_time(). Invariants: jdn(date(j)) == j for every j in 1721426..5373484
-- (j taken from the input); a string jdn accepts is a real yyyy-mm-dd date
-- and date(jdn(s)) == s; anything else raises a string message, never a
-- Lua error of another kind; unix_time agrees with jdn on the date part.
local cd = require "eventapi.connectdaily"
local monterosa = require "eventapi.monterosa"
local F = require "fuzzlib"

local JDN_MIN, JDN_MAX = 1721426, 5373484

return function(input)
  -- 1. a JDN from the first 8 bytes, mapped into the valid range
  local n = 0
  for i = 1, math.min(8, #input) do n = (n << 8) | input:byte(i) end
  local j = JDN_MIN + n % (JDN_MAX - JDN_MIN + 1)
  local text = cd.date(j)
  F.check(text:match("^%d%d%d%d%-%d%d%-%d%d$"), "date() is not yyyy-mm-dd:", j, text)
  F.check(cd.jdn(text) == j, "jdn(date(j)) ~= j:", j, text)
  -- just outside the range is refused with a message
  for _, bad in ipairs({ j - JDN_MAX, j + JDN_MAX, j + 0.5 }) do
    local ok, err = pcall(cd.date, bad)
    F.check(not ok and type(err) == "string", "date() accepted or crashed on", bad, err)
  end
  -- 2. the input as a date string
  local ok, v = pcall(cd.jdn, input)
  if ok then
    F.check(math.type(v) == "integer" and v >= JDN_MIN and v <= JDN_MAX, "jdn returned out of range:", input, v)
    F.check(cd.date(v) == input, "date(jdn(s)) ~= s:", input, v)
  else
    F.check(type(v) == "string" and v:find("not a real", 1, true), "jdn raised something unexpected:", input, v)
  end
  -- 3. the input as an ISO 8601 time
  local tok, t = pcall(monterosa.unix_time, input)
  if tok then
    F.check(math.type(t) == "integer", "unix_time returned a non-integer:", input, t)
    local day = input:sub(1, 10)
    F.check((t - t % 86400) // 86400 == cd.jdn(day) - 2440588, "unix_time disagrees with jdn:", input, t)
  else
    F.check(type(t) == "string", "unix_time raised a non-string:", input, t)
  end
end
