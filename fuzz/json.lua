--- Fuzz target "json": core.json_decode of arbitrary bytes. Invariants: it
-- returns a value or raises an InvalidParams error whose message starts
-- "invalid JSON" (or names the nesting limit; without errors.lua loaded the
-- core's error objects are plain tables with type and message); a decoded
-- value encodes, and the encoded text decodes to a value equal to the first
-- (numbers by value; arrays stay arrays).
local core = require "eventapi.core"
local F = require "fuzzlib"

return function(input)
  local ok, v = pcall(core.json_decode, input)
  if not ok then
    local message = type(v) == "table" and v.type == "InvalidParams" and v.message
    F.check(type(message) == "string" and (message:find("^invalid JSON") or message:find("too deep", 1, true)),
            "json_decode raised something else than a decode error:", type(v) == "table" and message or v)
    return
  end
  local eok, text = pcall(core.json_encode, v)
  F.check(eok, "a decoded value does not encode:", text, input)
  local dok, again = pcall(core.json_decode, text)
  F.check(dok, "encoded text does not decode:", again, text)
  F.check(F.equal(v, again), "round trip changed the value:", input, text)
end

