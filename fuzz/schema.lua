--- Fuzz target "schema": the JSON Schema validator (src/schema*.c) on a
-- schema text and an instance text cut from the input at its first NUL
-- byte (no NUL: the input is both). Invariants: compiling returns a schema
-- or raises InvalidParams (OutOfMemory only when memory ran out); validating
-- returns true, or false with a non-empty message, or raises InvalidParams
-- (the instance is not JSON, or a pattern gave up), never anything else; the
-- same instance validated twice gives the same answer; a message is valid
-- UTF-8. The validator agrees with the core's decoder on what is JSON,
-- except that it refuses text that is not UTF-8 (as RFC 8259 and the
-- sandbox's parser do), which the decoder passes through as bytes.
local core = require "eventapi.core"
local F = require "fuzzlib"

--- True when err is the core's error of one of the given types.
local function typed(err, ...)
  if type(err) ~= "table" then return false end
  for _, t in ipairs({ ... }) do if err.type == t then return true end end
  return false
end

return function(input)
  local cut = input:find("\0", 1, true)
  local schema_text, instance = input, input
  if cut then schema_text, instance = input:sub(1, cut - 1), input:sub(cut + 1) end
  local ok, schema = pcall(core.schema, schema_text)
  if not ok then
    F.check(typed(schema, "InvalidParams", "OutOfMemory"), "core.schema raised something else:", schema)
    return
  end
  local vok, valid, why = pcall(schema.validate, schema, instance)
  local decodes, derr = pcall(core.json_decode, instance)
  -- (the validator reads 2048 levels, as the sandbox's parser; the decoder 1000)
  local deeper = not decodes and type(derr) == "table" and tostring(derr.message):find("nesting deeper", 1, true)
  if not vok then
    F.check(typed(valid, "InvalidParams", "OutOfMemory"), "validate raised something else:", valid)
    F.check(not decodes or not valid.message:find("^invalid JSON") or utf8.len(instance) == nil,
            "the decoder takes what validate calls not JSON (and it is UTF-8):", instance)
    return
  end
  F.check(decodes or deeper, "validate answered for a text the decoder refuses:", instance)
  F.check(valid == true or (valid == false and type(why) == "string" and why ~= ""), "a bad answer:", valid, why)
  if why then F.check(utf8.len(why) ~= nil, "the message is not UTF-8:", why) end
  local again, why2 = schema:validate(instance)
  F.check(again == valid and why2 == why, "two answers for one instance:", valid, again)
end
