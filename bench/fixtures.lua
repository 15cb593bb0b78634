--- Writes the benchmark's canned bodies into a directory:
--   event.json       one Event (answer of GET /applications/{a}/events/{e})
--   events100.json   an Events page of 100 items (GET /applications/{a}/events)
--   post_body.json   a 1 KB Event Post body (POST /applications/{a}/events)
--   post_reply.json  the Event a POST answers with 201
--   seed.json        an eventapi-sandbox seed with the same application, token
--                    and 120 events, so the sandbox can serve a 100-item page
-- Usage: lua5.4 bench/fixtures.lua OUTDIR
-- Shapes follow /work/shared/reference/losant-schemas (event.json, events.json,
-- eventPost.json). No '$', '\' or "'" appear in any body, so nginx can carry
-- post_reply.json in a `return 201 '...'` directive.

local APP = "575ec8687ae143cd83dc4a97"
local EVENT = "575ed0de7ae143cd83dc4aa5"
local DEVICE = "575ecf887ae143cd83dc4aa2"
local TOKEN = "sandbox-all-access"

local outdir = assert(arg[1], "usage: lua5.4 bench/fixtures.lua OUTDIR")

--- Encodes v as JSON; objects are lists of {key, value} pairs to keep key order.
local function encode(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return ("\\u%04x"):format(c:byte()) end) .. '"'
  elseif t == "number" then
    return math.type(v) == "integer" and tostring(v) or ("%.17g"):format(v)
  elseif t == "boolean" then
    return tostring(v)
  elseif v.object then
    local out = {}
    for _, kv in ipairs(v) do out[#out + 1] = encode(kv[1]) .. ":" .. encode(kv[2]) end
    return "{" .. table.concat(out, ",") .. "}"
  else
    local out = {}
    for i, x in ipairs(v) do out[i] = encode(x) end
    return "[" .. table.concat(out, ",") .. "]"
  end
end

--- Builds an ordered object from a flat list k1, v1, k2, v2, ...
local function obj(...)
  local o, args = { object = true }, table.pack(...)
  for i = 1, args.n, 2 do o[#o + 1] = { args[i], args[i + 1] } end
  return o
end

--- A 24-hex id made from a number.
local function id(n) return ("5f0000000000000000%06x"):format(n) end

local LEVELS = { "info", "warning", "error", "critical" }
local STATES = { "new", "acknowledged", "resolved" }

--- The Event with index n (n == 0 is the canonical event id).
local function event(n)
  local eid = n == 0 and EVENT or id(n)
  local minute = n % 60
  local date = ("2026-11-20T04:%02d:00.000Z"):format(minute)
  return obj(
    "id", eid, "eventId", eid, "applicationId", APP,
    "creationDate", date, "lastUpdated", date,
    "sourceType", "device", "sourceId", DEVICE, "sourceName", "My Device",
    "level", LEVELS[n % 4 + 1], "state", STATES[n % 3 + 1],
    "subject", "Power levels critical on line " .. n % 7,
    "message", "Power levels on device 432 have surpassed critical thresholds",
    "data", obj("voltage", 2.75, "reading_us", 1700000000123456 + n, "line", n % 7),
    "deviceId", DEVICE, "deviceName", "My Device",
    "eventTags", obj("line", tostring(n % 7), "site", "north"),
    "updates", { obj("sourceType", "user", "sourceId", DEVICE, "sourceName", "Operator",
                     "creationDate", date, "comment", "Acknowledged by the night shift",
                     "stateChange", obj("old", "new", "new", "acknowledged")) })
end

--- Writes text to outdir/name.
local function write(name, text)
  local f = assert(io.open(outdir .. "/" .. name, "wb"))
  assert(f:write(text))
  assert(f:close())
end

write("event.json", encode(event(0)))

local items = {}
for i = 1, 100 do items[i] = event(i - 1) end
write("events100.json", encode(obj(
  "items", items, "count", 100, "totalCount", 120, "perPage", 100, "page", 0,
  "filter", "", "filterField", "subject", "sortField", "creationDate", "sortDirection", "desc",
  "applicationId", APP)))

-- A 1 KB Event Post: level, subject, message, data, eventTags.
local values = {}
for i = 1, 40 do values[i] = i * 1.25 end
local post = obj(
  "level", "info", "subject", "Bench post from line 3",
  "message", ("Periodic reading from the benchmark harness. "):rep(6),
  "data", obj("voltage", 2.75, "current", 0.5, "reading_us", 1700000000123456,
              "values", values, "ok", true),
  "eventTags", obj("line", "3", "site", "north", "source", "bench"))
local body = encode(post)
-- pad the message so the body is 1024 bytes
local pad = 1024 - #body
if pad > 0 then
  post[3][2] = post[3][2] .. ("x"):rep(pad)
  body = encode(post)
end
write("post_body.json", body)

local reply = event(0)
reply[1][2], reply[2][2] = id(999999), id(999999)
write("post_reply.json", encode(reply))

-- Sandbox seed: the example's application and token, 120 events.
local seed_events = {}
for i = 1, 120 do
  local e = event(i - 1)
  local keep = obj()
  for _, kv in ipairs(e) do
    if kv[1] ~= "eventId" and kv[1] ~= "lastUpdated" and kv[1] ~= "updates" then keep[#keep + 1] = kv end
  end
  seed_events[i] = keep
end
write("seed.json", encode(obj("losant", obj(
  "applications", { obj("id", APP, "name", "Bench application") },
  "tokens", { obj("token", TOKEN, "scopes", { "all.Application" }) },
  "events", seed_events))))
