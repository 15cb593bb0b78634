--- Fuzz target "brackets": the bracket form of hash params (Losant's
-- `tagFilter[0][key]=k`), built by the core, against a reference written
-- here from the official client's rule (qs: lists counted from 0, an
-- object's keys in sorted order here, nested, null as `key=`, empty tables
-- writing nothing, every key and value percent-encoded). The input is a
-- small program: byte 0 opens a list, 1 an object, 2 closes, 3 a string
-- (the bytes up to the next NUL; inside an object the first string of a
-- pair is its key), 4 an integer, 5 a boolean, 6 null, 7 a fraction, 8 a
-- function (refused). Invariants: a build raises InvalidParams only, and
-- its query is the defaults then exactly the reference's pairs.
local Client = require "eventapi.client"
local F = require "fuzzlib"
local core = require "eventapi.core"

local BASE = "http://fuzz.example"
local service = require("eventapi.services").by_name.losant
local client = Client.new(service, { url = BASE })
local op = service.resource_rows("devices")[4]
assert(op.name == "devices.get")
local DEFAULTS = "_actions=false&_links=true&_embedded=true"

--- Reads the value the program at input[pos..] builds; returns it and the next position.
local function read(input, pos, depth)
  local b = input:byte(pos)
  if not b then return nil, pos end
  b = b % 9
  if b == 0 or b == 1 then
    local t, n = (b == 0) and setmetatable({}, core.array) or {}, 0
    pos = pos + 1
    while pos <= #input and input:byte(pos) % 9 ~= 2 and n < 64 do
      local v
      if b == 0 then
        v, pos = read(input, pos, depth + 1)
        if v == nil then break end
        n = n + 1
        t[n] = v
      else
        local key
        key, pos = read(input, pos, depth + 1)
        v, pos = read(input, pos, depth + 1)
        if v == nil then break end
        t[tostring(key)] = v
        n = n + 1
      end
    end
    return t, pos + 1
  elseif b == 3 then
    local z = input:find("\0", pos + 1, true) or #input + 1
    return input:sub(pos + 1, z - 1), z + 1
  elseif b == 4 then
    return (input:byte(pos + 1) or 0) * 1000 - 7, pos + 2
  elseif b == 5 then
    return (input:byte(pos + 1) or 0) % 2 == 1, pos + 2
  elseif b == 6 then
    return core.null, pos + 1
  elseif b == 7 then
    return (input:byte(pos + 1) or 0) / 8, pos + 2
  elseif b == 8 then
    return print, pos + 1
  end
  return "", pos + 1 -- 2 outside a table: an empty string
end

local function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- The reference pairs of v under key, appended to out; false when v holds
-- what the core must refuse.
local function pairs_of(v, key, out, depth)
  if type(v) ~= "table" then
    if v == core.null then out[#out + 1] = escape(key) .. "="; return true end
    if type(v) == "function" then return false end
    local text = type(v) == "boolean" and tostring(v) or core.json_encode(v)
    if type(v) == "string" then text = v end
    out[#out + 1] = escape(key) .. "=" .. escape(text)
    return true
  end
  if depth > 32 then return false end
  local keys, list = {}, #v > 0 or getmetatable(v) == core.array
  for k in pairs(v) do keys[#keys + 1] = k end
  if list then
    for i = 1, #v do if not pairs_of(v[i], key .. "[" .. (i - 1) .. "]", out, depth + 1) then return false end end
  else
    table.sort(keys)
    for _, k in ipairs(keys) do if not pairs_of(v[k], key .. "[" .. k .. "]", out, depth + 1) then return false end end
  end
  return true
end

return function(input)
  local value = read(input, 1, 0)
  local ok, req = pcall(Client.build, client, op, { applicationId = "a", tagFilter = value })
  local want = {}
  local valid = value == nil or (type(value) == "table" and pairs_of(value, "tagFilter", want, 1))
  if not ok then
    F.invalid_params(req, op.name)
    F.check(not valid, "a valid hash was refused:", req.message, input)
    return
  end
  F.check(valid, "an invalid hash was built:", req.url)
  local query = req.url:match("%?(.*)$")
  local expected = DEFAULTS .. (#want > 0 and ("&" .. table.concat(want, "&")) or "")
  F.check(query == expected, "the bracket form differs:", query, expected)
end
