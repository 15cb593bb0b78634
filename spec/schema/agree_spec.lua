-- Agreement with Python's jsonschema (Draft4Validator): for each schema of a
-- list, N random instances near the schema (SCHEMA_AGREE_N; 2000 by default,
-- 200 under valgrind) are validated by core.schemas and by Python, run once
-- per schema with all the instances in a file, and every answer must be the
-- same. The instances
-- are the same every run (SCHEMA_AGREE_SEED changes them); SCHEMA_AGREE_VERBOSE
-- prints the counts of each schema.
--
-- Python: the first of /usr/bin/python3 (Debian's python3-jsonschema) and
-- python3 that imports jsonschema; without one, pending. Its references go
-- through a RefResolver that resolves "#/definitions/<Name>" as the set does
-- (inside its own document when it can, else the document <Name>, which
-- becomes the resolution scope). Its format checker checks what ours checks:
-- date-time, email, uri and url (ours takes "url" as "uri": Python is given
-- its uri checker for "url" too), ipv4, ipv6. Where the installed jsonschema
-- lacks a checker (Debian's has no date-time: it needs rfc3339-validator),
-- the helper supplies that package's check as jsonschema would run it.
--
-- The schemas: 16 of Losant's request bodies (read from EVENTAPI_LOSANT_SCHEMAS
-- or /tmp/lr/node_modules/losant-rest/lib/schemas; pending without them), and
-- a small hand-written set (recursive queries, a cross-document cycle, formats,
-- patterns, broken parts) that runs on every machine that has Python.
--
-- The instances: a value generated from the schema (Losant's apiExamples.json
-- examples among the seeds when present), then mutated at random places: wrong
-- types, required properties dropped, extra properties, enum misses, pattern
-- misses, format near-misses, lengths and bounds crossed, too many or repeated
-- items, nested $and/$or/$nor queries. A third of them are left unmutated.
--
-- What the generator deliberately avoids, being known differences where ours
-- follows ECMA 262 / RFC 3339 as Losant's Node server does, not Python (each is
-- asserted below, as a known difference, so that it stays known):
--   * "$" matching before a final "\n" (Python's re) in pattern and date-time;
--   * "." matching "\r" (Python's re; ECMA's stops at it);
--   * Unicode digits matched by \d (Python's re);
--   * 1.0, 1e300 as integers (Python's draft-4 integer is a JSON number written
--     without fraction or exponent; ours is any number of integral value);
--   * leap seconds, 23:59:60Z (rfc3339-validator refuses every :60).
-- Answers: valid on one side must be valid on the other. A value that reaches
-- a broken part is -1 (an error) for ours and an exception for Python; since
-- Python explores every branch of anyOf and oneOf and ours stops at the first
-- failure, "invalid" against "broken" counts as agreeing, in documents that
-- have broken parts only.
local core = require "eventapi.core"

-- Under valgrind (make check-valgrind) the Lua side runs some 40 times slower:
-- 200 instances a schema there cover the C paths well enough for memcheck.
local UNDER_VALGRIND = (os.getenv("LD_PRELOAD") or ""):find("vgpreload", 1, true) ~= nil
local N = tonumber(os.getenv("SCHEMA_AGREE_N") or "") or (UNDER_VALGRIND and 200 or 2000)
local SEED = tonumber(os.getenv("SCHEMA_AGREE_SEED") or "") or 20240611 -- the same instances every run
local LOSANT = os.getenv("EVENTAPI_LOSANT_SCHEMAS") or "/tmp/lr/node_modules/losant-rest/lib/schemas"
local LOSANT_BODIES = {
  "eventPost", "eventPatch", "advancedEventQuery", "eventsExport", "integrationPost", "integrationPatch",
  "devicePost", "devicesPatch", "applicationPost", "dataTableRowsExport", "multiDeviceCommand",
  "timeSeriesQuery", "userPost", "mePatch", "experienceUserPost", "apiTokenPost",
}

local read = require("helpers.internals").read

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function find_python()
  for _, py in ipairs({ "/usr/bin/python3", "python3" }) do
    if os.execute(py .. ' -c "import jsonschema" >/dev/null 2>&1') then return py end
  end
end

local PYTHON = find_python()

-- The Python side: argv folder, name, instances file (one JSON text a line);
-- prints a line of notes ("# ..."), then 1 (valid), 0 (invalid) or "E why" a line.
local HELPER = [==[
import calendar, json, os, re, sys, warnings
from urllib.parse import unquote, urldefrag, urljoin
warnings.simplefilter("ignore")
import jsonschema
from jsonschema import Draft4Validator, FormatChecker, RefResolver

BASE = "http://schemas.invalid/"
folder, name, instances = sys.argv[1], sys.argv[2], sys.argv[3]
docs = {}

def load(doc_name):
    if doc_name not in docs:
        path = os.path.join(folder, doc_name + ".json")
        docs[doc_name] = None
        if "/" not in doc_name and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                docs[doc_name] = json.load(f)
    return docs[doc_name]

def unescape(token):
    return token.replace("~1", "/").replace("~0", "~")

class SetResolver(RefResolver):
    """#/definitions/<Name>[/rest] that does not resolve in its own document
    resolves in the document <Name>, whose URL becomes the scope."""
    def document(self, url):
        if url in self.store:
            return self.store[url]
        doc = load(url[len(BASE):-5]) if url.startswith(BASE) and url.endswith(".json") else None
        if doc is None:
            raise LookupError("no document " + url)
        self.store[url] = doc
        return doc

    def resolve(self, ref):
        url = urljoin(self.resolution_scope, ref)
        base, fragment = urldefrag(url)
        try:
            return url, self.resolve_fragment(self.document(base), fragment)
        except Exception:
            m = re.match(r"^/definitions/([^/]+)(.*)$", unquote(fragment))
            if not m or load(unescape(m.group(1))) is None:
                raise
            other = BASE + unescape(m.group(1)) + ".json"
            return other + "#" + m.group(2), self.resolve_fragment(self.document(other), m.group(2))

RFC3339 = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0123]):(?:[0-5]\d):(?:[0-5]\d)(?:\.\d+)?"
                     r"(?:Z|[+-](?:[01]\d|2[0123]):[0-5]\d)$", re.ASCII)

def rfc3339(instance):
    """rfc3339-validator 0.1.4's check, as jsonschema runs it (upper-cased)."""
    if not isinstance(instance, str):
        return True
    m = RFC3339.match(instance.upper())
    if m is None:
        return False
    year, month, day = map(int, m.groups())
    return bool(year) and 1 <= day <= calendar.monthrange(year, month)[1]

native = FormatChecker()
checker = FormatChecker(formats=())
notes = []
for fmt in ("date-time", "email", "uri", "ipv4", "ipv6"):
    if fmt in native.checkers:
        checker.checkers[fmt] = native.checkers[fmt]
        notes.append(fmt + ":jsonschema")
    elif fmt == "date-time":
        checker.checks("date-time")(rfc3339)
        notes.append(fmt + ":rfc3339-validator")
    else:
        notes.append(fmt + ":MISSING")
if "uri" in checker.checkers:
    checker.checkers["url"] = checker.checkers["uri"]
root = load(name)
validator = Draft4Validator(root, resolver=SetResolver(BASE + name + ".json", root), format_checker=checker)
out = [" ".join(["#", "jsonschema", getattr(jsonschema, "__version__", "?")] + notes)]
with open(instances, encoding="utf-8") as f:
    for line in f:
        try:
            out.append("1" if validator.is_valid(json.loads(line)) else "0")
        except Exception as e:
            out.append("E " + type(e).__name__ + ": " + str(e).split("\n")[0][:200])
sys.stdout.write("\n".join(out) + "\n")
]==]

-- ---- JSON values in Lua: objects are plain tables, arrays carry core.array, null is core.null ----

local NULL = core.null
local function is_array(t) return type(t) == "table" and getmetatable(t) == core.array end
local function arr(t) return setmetatable(t or {}, core.array) end
local function is_object(t) return type(t) == "table" and not is_array(t) end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function to_json(v)
  if v == NULL then return "null" end
  local t = type(v)
  if t == "table" then
    local parts = {}
    if is_array(v) then
      for i = 1, #v do parts[i] = to_json(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for i, k in ipairs(sorted_keys(v)) do parts[i] = core.json_encode(k) .. ":" .. to_json(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if t == "number" and math.type(v) == "integer" then return string.format("%d", v) end
  return core.json_encode(v)
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return setmetatable(c, getmetatable(v))
end

-- ---- the generator ----

local rnd = math.random
local function pick(list) return list[rnd(#list)] end

local function unescape(token)
  return (token:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end):gsub("~1", "/"):gsub("~0", "~"))
end

local function walk(v, pointer)
  for token in pointer:gmatch("/([^/]*)") do
    if type(v) ~= "table" then return nil end
    token = unescape(token)
    if is_array(v) then v = v[(tonumber(token) or -1) + 1] else v = v[token] end
  end
  return v
end

-- Follows $refs as the set does: inside the document, else the named document.
local function deref(G, doc, s)
  for _ = 1, 50 do
    if not is_object(s) or type(s["$ref"]) ~= "string" then return doc, s end
    local pointer = s["$ref"]:match("^#(.*)$")
    if not pointer then return doc, nil end
    local target = walk(G.root(doc), pointer)
    if target == nil then
      local name, rest = pointer:match("^/definitions/([^/]+)(.*)$")
      if name and G.root(unescape(name)) then
        doc = unescape(name)
        target = walk(G.root(doc), rest)
      end
    end
    s = target
  end
  return doc, nil
end

local ANY = { 1, -7, 2.5, "s", "", true, false, NULL }
local function any_value(depth)
  local r = rnd(10)
  if r == 9 and depth < 6 then return { a = any_value(depth + 1) } end
  if r == 10 and depth < 6 then return arr({ any_value(depth + 1), "x" }) end
  return ANY[rnd(#ANY)]
end

local HEX = "0123456789abcdefABCDEF"
local function hex24()
  local t = {}
  for i = 1, 24 do local k = rnd(#HEX) t[i] = HEX:sub(k, k) end
  return table.concat(t)
end

local LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- .é😀"
local function random_string(min, max)
  local n = rnd(min, math.max(min, max))
  local t = {}
  for i = 1, n do
    local k = rnd(utf8.len(LETTERS))
    t[i] = utf8.char(utf8.codepoint(LETTERS, utf8.offset(LETTERS, k)))
  end
  return table.concat(t)
end

-- Strings tried against a pattern (ours picks those it matches; both sides judge the instance).
local function pattern_samples()
  return { hex24(), "", "abc", "key_1", "Key-9", "a.b", "1.2.3", "0.10.200", "01.2.3", "abc-123", "x",
    "data:image/png;base64,iVBORw0KGgo=", "data:image/gif;base64,AAAA", "{{data.temp}}", "{{ }}", "a{{b}}c",
    "Passw0rd!Long1", "password1234", "..", ".", "a..b", hex24():sub(2), hex24() .. "0", string.rep("k", 255),
    string.rep("k", 256) }
end

local matcher_cache = {}
local function matches(pattern, s)
  local m = matcher_cache[pattern]
  if m == nil then
    local ok, compiled = pcall(core.schema, to_json({ pattern = pattern }))
    m = ok and compiled or false
    matcher_cache[pattern] = m
  end
  if not m then return false end
  local ok, valid = pcall(m.validate, m, to_json(s))
  return ok and valid
end

local function string_for_pattern(pattern)
  local good, bad = {}, {}
  for _, s in ipairs(pattern_samples()) do
    if matches(pattern, s) then good[#good + 1] = s else bad[#bad + 1] = s end
  end
  return good, bad
end

local FORMATS = {
  ["date-time"] = {
    good = { "2016-06-13T04:00:00.000Z", "2016-06-13T04:00:00Z", "2016-06-13t04:00:00z", "2016-06-13T04:00:00+05:30",
      "2016-06-13T04:00:00.123456-08:00", "2020-02-29T00:00:00Z", "2000-02-29T23:59:59.9+23:59", "1999-12-31T23:59:59-00:00" },
    bad = { "2016-06-13 04:00:00Z", "2016-06-13T04:00:00", "2016-13-13T04:00:00Z", "2016-02-30T04:00:00Z",
      "2019-02-29T00:00:00Z", "2016-06-13T24:00:00Z", "2016-06-13T04:60:00Z", "2016-06-13T04:00:61Z",
      "2016-06-13T04:00:00.Z", "2016-06-13T04:00:00+5:30", "2016-06-13T04:00:00+24:00", "0000-01-01T00:00:00Z",
      "1900-02-29T00:00:00Z", "16-06-13T04:00:00Z", "2016-06-13", "1466136000000", "", "2016-06-13T04:00:00ZZ",
      "2016-06-13T04:00:00+05:60", "2016-00-13T04:00:00Z", "2016-06-00T04:00:00Z", "2016-06-13T04:00Z",
      "2016-06-13T04:00:00,5Z", "+2016-06-13T04:00:00Z", "2016-06-13T04:00:00 Z" },
  },
  email = {
    good = { "a@b.co", "joe.bloggs@example.com", "first.last+tag@sub.example.org", "x_y-z@example-host.io" },
    bad = { "joe", "", "@example.com", "joe@", "joe@@example.com", "a b@c.com", "joe@exa mple.com", ".joe@example.com",
      "joe..x@example.com", "joe.@example.com", "joe@-example.com", "joe@example-.com", "\"quoted\"@example.com",
      "joe@[127.0.0.1]", "joé@example.com", "joe@exämple.com", "a@b@c", "joe@example..com", "joe@.example.com" },
  },
  url = {
    good = { "https://example.com/x?y=1#z", "http://localhost:8080/", "mailto:a@b.c", "urn:isbn:123", "ftp://x.y/z",
      "https://user@host/path", "https://[::1]:80/", "http://223.255.255.254" },
    bad = { "example.com", "/relative/path", "http ://x", "https://exa mple.com", "https://example.com/%zz", "",
      "https://[::1/", "https://a:b:c/", "https://example.com/a#b#c", "https://example.com/é", "https://example.com:port/",
      "https://ex{ample}.com", "https://example.com/a b", "1http://x", "http://x/\"q\"", "http://x/<a>", "http://x/a|b",
      "https://[v1.x]/", "https://[1.2.3.4]/", "http://a/b?c=[d]", "http://a/b#[c]", "http://a@b@c/", "http://[::1]x/",
      "a:", "http:", "http://", "http:///path", "http://x:80:80/", "http://%41/", "http://[::ffff:1.2.3.4]/" },
  },
}
FORMATS.uri = FORMATS.url

local KNOWN_TYPES = { null = true, boolean = true, integer = true, number = true, string = true, array = true, object = true }

local gen

local function schema_type(s)
  local t = s.type
  if is_array(t) then t = t[rnd(#t)] end
  if KNOWN_TYPES[t] then return t end
  if t ~= nil then return "broken" end
  if s.properties or s.required or s.patternProperties or s.additionalProperties then return "object" end
  if s.items then return "array" end
  if s.pattern or s.format or s.minLength or s.maxLength then return "string" end
  if s.minimum or s.maximum or s.multipleOf then return "number" end
  return "any"
end

local function gen_string(s)
  local fmt = FORMATS[s.format]
  if fmt then return pick(fmt.good) end
  if type(s.pattern) == "string" then
    local good = string_for_pattern(s.pattern)
    if #good > 0 then return pick(good) end
  end
  local min = math.tointeger(s.minLength) or 0
  local max = math.min(math.tointeger(s.maxLength) or 12, min + 12)
  return random_string(min, max)
end

local function gen_number(s, integer)
  local lo, hi = tonumber(s.minimum), tonumber(s.maximum)
  lo = lo or (hi and hi - 1000) or -1000
  hi = hi or lo + 1000
  if s.multipleOf then
    local m = s.multipleOf
    local k = rnd(math.ceil(lo / m), math.max(math.ceil(lo / m), math.floor(hi / m)))
    local v = k * m
    return (integer or math.type(v) == "integer") and math.tointeger(v) or v
  end
  if integer or rnd(2) == 1 then
    local a, b = math.ceil(lo), math.floor(hi)
    if s.exclusiveMinimum then a = a + 1 end
    if s.exclusiveMaximum then b = b - 1 end
    return math.tointeger(rnd(math.min(a, b), math.max(a, b)))
  end
  return math.floor((lo + rnd() * (hi - lo)) * 100) / 100 + 0.005
end

local function gen_object(G, doc, s, depth)
  local o = {}
  local props = is_object(s.properties) and s.properties or {}
  local required = {}
  if is_array(s.required) then for _, k in ipairs(s.required) do required[k] = true end end
  for _, k in ipairs(sorted_keys(props)) do
    if required[k] or (depth < G.max_depth and rnd() < 0.4) then o[k] = gen(G, doc, props[k], depth + 1) end
  end
  for _, k in ipairs(sorted_keys(required)) do
    if o[k] == nil and type(k) == "string" then o[k] = any_value(depth) end
  end
  if is_object(s.patternProperties) then
    for _, p in ipairs(sorted_keys(s.patternProperties)) do
      if rnd() < 0.5 then
        local keys = string_for_pattern(p)
        if #keys > 0 then o[pick(keys)] = gen(G, doc, s.patternProperties[p], depth + 1) end
      end
    end
  end
  if is_object(s.additionalProperties) and rnd() < 0.3 then
    o["extra_" .. rnd(9)] = gen(G, doc, s.additionalProperties, depth + 1)
  end
  return o
end

local function gen_array(G, doc, s, depth)
  local a = arr()
  local min = math.tointeger(s.minItems) or 0
  local max = math.min(math.tointeger(s.maxItems) or 3, min + 3)
  if depth >= G.max_depth then max = min end
  local n = rnd(min, math.max(min, max))
  local seen = {}
  for i = 1, n do
    local item = is_array(s.items) and (s.items[i] or s.additionalItems) or s.items
    local v = is_object(item) and gen(G, doc, item, depth + 1) or any_value(depth)
    if s.uniqueItems then
      local text = to_json(v)
      if not seen[text] then seen[text] = true a[#a + 1] = v end
    else
      a[#a + 1] = v
    end
  end
  return a
end

-- s without its anyOf, oneOf and allOf, and with the keywords of b (properties
-- and required joined).
local function merged(s, b)
  local m = {}
  for k, v in pairs(s) do if k ~= "anyOf" and k ~= "oneOf" and k ~= "allOf" then m[k] = v end end
  for k, v in pairs(b) do
    if k == "properties" and is_object(m.properties) and is_object(v) then
      local p = {}
      for name, x in pairs(m.properties) do p[name] = x end
      for name, x in pairs(v) do p[name] = x end
      m.properties = p
    elseif k == "required" and is_array(m.required) and is_array(v) then
      local r = arr()
      for _, x in ipairs(m.required) do r[#r + 1] = x end
      for _, x in ipairs(v) do r[#r + 1] = x end
      m.required = r
    else
      m[k] = v
    end
  end
  return m
end

-- A value near the schema s of document doc.
local function shape(G, doc, s, depth)
  if is_array(s.enum) and #s.enum > 0 then return copy(pick(s.enum)) end
  local branches = s.oneOf or s.anyOf
  if is_array(branches) and #branches > 0 then
    local branch = pick(branches)
    local bdoc, b = deref(G, doc, branch)
    if is_object(b) and bdoc == doc and (s.type or s.properties or s.required) then
      return shape(G, doc, merged(s, b), depth)
    end
    return gen(G, doc, branch, depth)
  end
  if is_array(s.allOf) and #s.allOf > 0 then
    local v = gen(G, doc, s.allOf[1], depth)
    for i = 2, #s.allOf do
      local more = gen(G, doc, s.allOf[i], depth)
      if is_object(v) and is_object(more) then for k, x in pairs(more) do v[k] = x end end
    end
    return v
  end
  local t = schema_type(s)
  if t == "object" then return gen_object(G, doc, s, depth) end
  if t == "array" then return gen_array(G, doc, s, depth) end
  if t == "string" then return gen_string(s) end
  if t == "integer" or t == "number" then return gen_number(s, t == "integer") end
  if t == "boolean" then return rnd(2) == 1 end
  if t == "null" then return NULL end
  return any_value(depth)
end

-- A value near s that misses it one way or another (or, by chance, does not).
local function mutate(G, doc, s, depth)
  local kinds = { "type", "type" }
  local t = schema_type(s)
  local function add(kind) kinds[#kinds + 1] = kind end
  if t == "object" then
    if is_array(s.required) and #s.required > 0 then add("drop") add("drop") end
    add("extra") add("extra")
  end
  if is_array(s.enum) then add("enum") add("enum") end
  if type(s.pattern) == "string" then add("pattern") add("pattern") add("pattern") end
  if FORMATS[s.format] then add("format") add("format") add("format") add("format") end
  if s.maxLength or s.minLength then add("length") end
  if s.minimum or s.maximum then add("bounds") add("bounds") end
  if t == "integer" then add("fraction") end
  if t == "array" then add("many") add("dup") end
  local kind = pick(kinds)
  if kind == "type" then
    return pick({ 1, -7, 1.5, "str", "", true, false, NULL, {}, arr(), arr({ 1 }), 9007199254740993, 1.5e-300,
      -0.5, { ["$or"] = arr({ {} }) }, 9223372036854775807, -9223372036854775807 - 1 })
  elseif kind == "drop" then
    local v = shape(G, doc, s, depth)
    if is_object(v) then v[pick(s.required)] = nil end
    return v
  elseif kind == "extra" then
    local v = shape(G, doc, s, depth)
    if is_object(v) then v[pick({ "extra", "$where", "zz_9", "name2", "", "Level" })] = any_value(depth) end
    return v
  elseif kind == "enum" then
    local first = s.enum[1]
    return pick({ "zzz", type(first) == "string" and first:upper() or 0, "", type(first) == "string" and first .. " " or 1,
      NULL, true })
  elseif kind == "pattern" then
    local _, bad = string_for_pattern(s.pattern)
    local base = gen_string(s)
    return pick({ base .. "g", base:sub(2), " " .. base, base .. "é", "", pick(bad), pick(bad) })
  elseif kind == "format" then
    return rnd(3) == 1 and pick(FORMATS[s.format].good) or pick(FORMATS[s.format].bad)
  elseif kind == "length" then
    local max = math.tointeger(s.maxLength)
    local min = math.tointeger(s.minLength) or 0
    local choices = { "", string.rep("é", math.max(min - 1, 0)), string.rep("😀", min) }
    if max and max <= 40000 then
      choices[#choices + 1] = string.rep("a", max + 1)
      choices[#choices + 1] = string.rep("é", max)
    end
    return pick(choices)
  elseif kind == "bounds" then
    local choices = {}
    for _, b in ipairs({ s.minimum, s.maximum }) do
      if type(b) == "number" then
        choices[#choices + 1] = b
        choices[#choices + 1] = b + 1
        choices[#choices + 1] = b - 1
        choices[#choices + 1] = b + 0.5
        choices[#choices + 1] = b - 0.001
      end
    end
    return pick(choices)
  elseif kind == "fraction" then
    return (math.tointeger(gen_number(s, true)) or 0) + 0.5
  elseif kind == "many" then
    local a = gen_array(G, doc, s, depth)
    local max = math.tointeger(s.maxItems)
    if max and max <= 200 and #a > 0 then while #a <= max do a[#a + 1] = copy(a[1]) end end
    if not max and #a > 0 then a[#a + 1] = copy(a[1]) end
    return a
  else -- dup
    local a = gen_array(G, doc, s, depth)
    if #a > 0 then a[#a + 1] = copy(a[rnd(#a)]) end
    return a
  end
end

gen = function(G, doc, s, depth)
  doc, s = deref(G, doc, s)
  if not is_object(s) then return any_value(depth) end
  if G.rate > 0 and rnd() < G.rate then return mutate(G, doc, s, depth) end
  return shape(G, doc, s, depth)
end

-- N instance texts for the schema called name; examples (JSON texts) first.
local function instances(root, name, n, examples)
  local G = { root = root, max_depth = 4, rate = 0 }
  local list = {}
  for _, e in ipairs(examples or {}) do list[#list + 1] = e end
  local rates = { 0, 0.03, 0.08, 0.15 }
  local i = 0
  while #list < n do
    i = i + 1
    G.rate = i % 3 == 0 and 0 or rates[rnd(2, #rates)]
    G.max_depth = rnd(2, 5)
    list[#list + 1] = to_json(gen(G, name, root(name), 0))
  end
  return list
end

-- ---- running both sides ----

-- Python's answers for the instances (one per line), and its line of notes.
local function python_answers(folder, name, list)
  local helper, input = os.tmpname(), os.tmpname()
  write(helper, HELPER)
  write(input, table.concat(list, "\n") .. "\n")
  local p = assert(io.popen(table.concat({ PYTHON, shell_quote(helper), shell_quote(folder), shell_quote(name),
    shell_quote(input) }, " ") .. " 2>&1"))
  local out = p:read("a")
  p:close()
  os.remove(helper)
  os.remove(input)
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  local notes = table.remove(lines, 1) or ""
  assert(notes:sub(1, 1) == "#" and #lines == #list, "the Python helper failed:\n" .. out:sub(1, 2000))
  assert(not notes:find("MISSING", 1, true), "Python lacks a format checker: " .. notes)
  return lines, notes
end

local function ours(set, name, text)
  local ok, valid = pcall(set.validate, set, name, text)
  if not ok then return "E" end
  return valid and "1" or "0"
end

-- Compares both sides over the instances; returns the summary and the disagreements.
local function agree(set, folder, name, list, lenient)
  local answers = python_answers(folder, name, list)
  local counts = { ["1"] = 0, ["0"] = 0, E = 0, mixed = 0 }
  local differ = {}
  for i, text in ipairs(list) do
    local a, b = ours(set, name, text), answers[i]:sub(1, 1)
    if a == b then
      counts[a] = counts[a] + 1
    elseif lenient and a ~= "1" and b ~= "1" then
      counts.mixed = counts.mixed + 1
    else
      differ[#differ + 1] = string.format("%s: ours %s, Python %s: %s", name, a, answers[i], text:sub(1, 600))
    end
  end
  return counts, differ
end

local function report(name, counts)
  if os.getenv("SCHEMA_AGREE_VERBOSE") then
    io.stderr:write(string.format("agree %-22s valid %5d invalid %5d broken %4d invalid/broken %4d\n", name,
      counts["1"], counts["0"], counts.E, counts.mixed))
  end
end

-- ---- the hand-written set ----

local HAND = {
  query = [[{"type":"object","additionalProperties":false,"properties":{
    "$and":{"type":"array","items":{"$ref":"#/definitions/query"},"maxItems":5},
    "$or":{"type":"array","items":{"$ref":"#/definitions/query"},"maxItems":5},
    "$nor":{"type":"array","items":{"$ref":"#/definitions/query"},"maxItems":5},
    "id":{"oneOf":[{"type":["string","number","boolean","null"]},
      {"type":"object","additionalProperties":false,"properties":{
        "$eq":{"type":["string","number","boolean","null"]},"$ne":{"type":["string","number","boolean","null"]}}}]},
    "level":{"enum":["info","warning","error","critical"]},
    "subject":{"type":"string","minLength":1,"maxLength":20},
    "deviceId":{"type":"string","pattern":"^[A-Fa-f\\d]{24}$"},
    "creationDate":{"type":"string","format":"date-time"}}}]],
  event = [[{"type":"object","required":["subject","level"],"additionalProperties":false,"properties":{
    "subject":{"type":"string","minLength":1,"maxLength":255},
    "level":{"$ref":"#/definitions/level"},
    "state":{"enum":["new","acknowledged","resolved"]},
    "count":{"type":"integer","minimum":0,"maximum":100,"exclusiveMaximum":true},
    "ratio":{"type":"number","minimum":0,"maximum":1,"multipleOf":0.25},
    "email":{"type":"string","format":"email"},
    "link":{"type":"string","format":"url"},
    "home":{"type":"string","format":"uri"},
    "when":{"type":"string","format":"date-time"},
    "version":{"type":"string","pattern":"^(0|([1-9]\\d*))\\.(0|([1-9]\\d*))\\.(0|([1-9]\\d*))$"},
    "tags":{"type":"array","items":{"type":"string","pattern":"^[0-9a-zA-Z_-]{1,255}$"},"uniqueItems":true,"maxItems":4},
    "data":{"type":"object","additionalProperties":false,
      "patternProperties":{"^[0-9a-zA-Z_-]{1,255}$":{"type":["number","string","boolean","null"]}}},
    "query":{"$ref":"#/definitions/query"},
    "city":{"$ref":"#/definitions/place/properties/city"},
    "chain":{"$ref":"#/definitions/cycA"}},
    "definitions":{"level":{"enum":["info","warning","error","critical"]}}}]],
  level = [[{"enum":["not","this","one"]}]],
  place = [[{"type":"object","properties":{"city":{"type":"string","maxLength":10,"pattern":"^[A-Z]"}}}]],
  cycA = [[{"type":"object","required":["n"],"additionalProperties":false,
    "properties":{"b":{"$ref":"#/definitions/cycB"},"n":{"type":"integer","minimum":0}}}]],
  cycB = [[{"type":"object","required":["s"],"properties":{"a":{"$ref":"#/definitions/cycA"},"s":{"type":"string"}}}]],
  broken = [=[{"type":"object","properties":{
    "removed":{"type":"Number"},
    "kind":{"type":["string","Number"]},
    "ctx":{"type":"object","patternProperties":{"^[a-z]+$":{"anyOf":[{"type":"string"},[{"type":"number"}],{"type":"object"}]}}},
    "items":{"type":"array","items":{"type":"#/definitions/instance"}}}}]=],
}
local HAND_LIST = { "query", "event", "cycA", "place", "broken" }
local HAND_BROKEN = { broken = true }

local function hand_folder()
  local folder = os.tmpname()
  os.remove(folder)
  assert(os.execute("mkdir -p " .. shell_quote(folder)))
  for name, text in pairs(HAND) do write(folder .. "/" .. name .. ".json", text) end
  return folder
end

local function folder_set(folder)
  return core.schemas(function(name) return read(folder .. "/" .. name .. ".json") end)
end

local function folder_roots(folder)
  local roots = {}
  return function(name)
    if roots[name] == nil then
      local text = not name:find("/", 1, true) and read(folder .. "/" .. name .. ".json")
      roots[name] = text and core.json_decode(text) or false
    end
    return roots[name] or nil
  end
end

local function check_schema(set, folder, roots, name, examples, lenient)
  math.randomseed(SEED, #name)
  local list = instances(roots, name, N, examples)
  local counts, differ = agree(set, folder, name, list, lenient)
  report(name, counts)
  assert.are.same({}, { table.unpack(differ, 1, math.min(#differ, 10)) },
    #differ .. " disagreements of " .. #list)
  -- near the schema: both answers well represented
  assert.is_true(counts["1"] >= #list // 20, name .. ": too few valid instances: " .. counts["1"])
  assert.is_true(counts["0"] + counts.E + counts.mixed >= #list // 20, name .. ": too few invalid instances")
end

describe("agreement with Python's jsonschema Draft4Validator", function()
  if not PYTHON then
    pending("needs python3 with jsonschema (Debian: python3-jsonschema)")
    return
  end

  describe("on a hand-written set", function()
    local folder = hand_folder()
    local set, roots = folder_set(folder), folder_roots(folder)
    teardown(function() os.execute("rm -rf " .. shell_quote(folder)) end)
    for _, name in ipairs(HAND_LIST) do
      it(name .. ": " .. N .. " instances, the same answers", function()
        check_schema(set, folder, roots, name, nil, HAND_BROKEN[name])
      end)
    end

    it("on the known differences, which the generator avoids", function()
      local texts = {
        '{"subject":"s","level":"info","version":"1.2.3\\n"}', -- $ before a final \n (Python's re)
        '{"subject":"s","level":"info","when":"2016-06-13T04:00:00Z\\n"}', -- the same, in rfc3339-validator
        '{"subject":"s","level":"info","when":"2016-12-31T23:59:60Z"}', -- a leap second (RFC 3339 has them)
        '{"subject":"s","level":"info","count":1.0}', -- 1.0 (Python's draft 4: not an integer)
        '{"subject":"s","level":"info","version":"1\\u0661.2.3"}', -- \d matching ARABIC-INDIC ONE (Python's re)
      }
      local answers = python_answers(folder, "event", texts)
      assert.are.same({ "1", "1", "0", "0", "1" }, answers)
      local mine = {}
      for i, text in ipairs(texts) do mine[i] = ours(set, "event", text) end
      assert.are.same({ "0", "0", "1", "1", "0" }, mine)
    end)
  end)

  describe("on Losant's request bodies", function()
    local ok = read(LOSANT .. "/eventPost.json")
    if not ok then
      pending("Losant's schemas are not here: set EVENTAPI_LOSANT_SCHEMAS")
      return
    end
    local set, roots = folder_set(LOSANT), folder_roots(LOSANT)
    local examples = core.json_decode(read(LOSANT .. "/apiExamples.json") or "{}")
    for _, name in ipairs(LOSANT_BODIES) do
      if not read(LOSANT .. "/" .. name .. ".json") then
        pending(name .. ".json is not in " .. LOSANT)
        goto continue
      end
      it(name .. ": " .. N .. " instances, the same answers", function()
        local seeds = examples[name] ~= nil and { to_json(examples[name]) } or nil
        check_schema(set, LOSANT, roots, name, seeds, false)
      end)
      ::continue::
    end
  end)
end)
