--- Fuzz target "body": the JSON bodies and JSON query params the core's
-- encoder builds (core.build through Client.build) for Losant rows. The input
-- is [row selector byte] then a little program that builds a Lua value: each
-- byte picks a string, an integer, a float (NaN and infinities included), a
-- boolean, null, or opens a list or a table; 0xFF closes the innermost one.
-- Invariants: a build either raises InvalidParams or its body (or query
-- param) decodes back to a value equal to the one given; a string value is
-- never an error (only numbers JSON cannot hold, cycles and odd keys are).
local Client = require "eventapi.client"
local core = require "eventapi.core"
local F = require "fuzzlib"

local BASE = "http://fuzz.example"
local losant = require("eventapi.services").of("losant")
local client = Client.new(losant, { url = BASE })

local function op_of(name)
  for _, op in ipairs(losant.operations) do if op.name == name then return op end end
  error("no operation " .. name)
end

-- Rows and where the value goes: a body param, or the JSON `query` param.
local ROWS = {
  { op = op_of("events.post"), param = "event" },
  { op = op_of("event.patch"), param = "event", extra = { eventId = "e" } },
  { op = op_of("integrations.post"), param = "integration" },
  { op = op_of("events.patch"), param = "updates" },
  { op = op_of("events.get"), param = "query", query = true },
}

local STRINGS = { "", "a", "ünï", "\0", "\"\\/", "\r\n\t", "\u{2028}", ("x"):rep(300), "\xff\xfe" }
local NUMBERS = { 0, -1, 1.5, 2^53, -2^63, math.maxinteger, 1e308, 0 / 0, math.huge, -math.huge, 50.0, -0.0 }

--- The value the bytes of input describe, from position at; returns it and the next position.
local function value(input, at, depth)
  local b = input:byte(at)
  if not b then return "end", at end
  local kind = b % 8
  if kind == 0 then return STRINGS[b // 8 % #STRINGS + 1], at + 1 end
  if kind == 1 then return NUMBERS[b // 8 % #NUMBERS + 1], at + 1 end
  if kind == 2 then return b >= 128, at + 1 end
  if kind == 3 then return core.null or false, at + 1 end
  if kind == 4 then return (b // 8) - 16, at + 1 end
  if depth > 20 then return "deep", at + 1 end
  local t, n = {}, 0
  at = at + 1
  while at <= #input and input:byte(at) ~= 0xFF and n < 50 do
    local v
    v, at = value(input, at, depth + 1)
    n = n + 1
    if kind == 5 or kind == 6 then t[n] = v else t["k" .. n .. (n % 3 == 0 and "\0" or "")] = v end
  end
  return t, at + 1
end

return function(input)
  local row = ROWS[(input:byte(1) or 0) % #ROWS + 1]
  local v = value(input, 2, 0)
  if type(v) ~= "table" and not row.query then v = { value = v } end
  local params = { applicationId = "a", [row.param] = v }
  for k, x in pairs(row.extra or {}) do params[k] = x end
  local ok, req = pcall(Client.build, client, row.op, params)
  if not ok then
    F.invalid_params(req, row.op.name)
    F.check(req.message:find("cannot be encoded as JSON") or req.message:find("must be"), "unexpected refusal:",
      req.message)
    return
  end
  local text
  if row.query then
    if type(v) == "string" then text = v -- a JSON string travels as it is
    else text = F.unescape(req.url:match("[?&]query=([^&]*)")) end
  else
    text = req.body
  end
  if type(v) == "string" then return end
  local back = core.json_decode(text)
  F.check(F.equal(core.json_decode(core.json_encode(v)), back), "the value did not survive the wire:", text)
end
