--- Generates docs/API.md, the API reference, from the code: the `---` doc
-- comments of the public functions (Lua) and of the promise methods (C), the
-- module's values and JSON codec (described here, checked against the module),
-- the error fields and types (Error.FIELDS, Error.TYPES), the client options
-- (Client.OPTIONS, Client.OPTION_DOCS) and the registry of the services
-- (eventapi.services: each constructor's doc, and the operation tables, each
-- row's `returns` its "resolves with"). Anything exported or
-- accepted that has no description is an error, so the reference cannot
-- drift. The output depends on nothing but the code (no pairs() order, no
-- time). `make docs` runs it; spec/docs_spec.lua checks docs/API.md is what
-- it generates.
--
--   lua5.4 tools/gendocs.lua > docs/API.md
local M = {}

-- Files with public functions, and the name a `function M.x` gets in each.
local SOURCES = {
  { file = "lua/eventapi/init.lua", title = "The eventapi module" },
  { file = "lua/eventapi/promise.lua", title = "Promises and the loop" },
  { file = "src/promise.c", title = "Promise methods", c = true },
  { file = "src/await.c", title = "Waiting on a promise", c = true },
  { file = "lua/eventapi/workflow.lua", title = "Runbook helpers", prefix = "eventapi." },
  { file = "lua/eventapi/client.lua", title = "Clients" },
  { file = "lua/eventapi/pages.lua", title = "Pagination" },
  { file = "lua/eventapi/stream.lua", title = "Streams (Losant's server-sent events; README: Streams)" },
  { file = "lua/eventapi/time.lua", title = "Connect Daily dates", prefix = "eventapi.connectdaily.",
    only = { jdn = true, date = true } },
  { file = "lua/eventapi/time.lua", title = "Monterosa times", prefix = "eventapi.monterosa.", only = { unix_time = true } },
  { file = "lua/eventapi/errors.lua", title = "Errors", prefix = "eventapi.Error." },
  { file = "lua/eventapi/luv.lua", title = "Embedding in a luv host (require \"eventapi.luv\", or the field eventapi.luv)", prefix = "eventapi.luv." },
}
local PUBLIC = { "eventapi%.", "p:", "client:", "client%.", "eventapi%.Error", "driver:", "stream:" }

-- The values (not functions) the eventapi module exports, in reference order.
-- Every non-function export must be here: generate() raises otherwise.
local MODULE_VALUES = {
  { "version", function(v) return ("the library's version, `%q`."):format(v) end },
  { "null", function() return "JSON null: a light userdata NULL (the same value as `cjson.null`). Decoded "
      .. "answers hold it where the server sent null; put it in a table to send null (a nil field is left out)." end },
  { "json", function() return "the JSON codec the clients use, with numbers kept exact (see \"The JSON codec\" below)." end },
  { "Error", function() return "the metatable of every error object, and the module of its functions "
      .. "(see \"Errors\" below): `eventapi.Error.is(v)` tells an error object of this library." end },
}

-- eventapi.json, in reference order. Every key of it must be here.
local JSON_DOCS = {
  { "encode", "eventapi.json.encode(value [, options]) -> string: JSON text. Lua integers are written exactly; floats as the "
    .. "shortest of `%.15g`/`%.16g`/`%.17g` that reads back to the same double, with `.` whatever the C "
    .. "locale; an integral float as an integer (`50.0` -> `50`). A table is an array when it carries "
    .. "`eventapi.json.array` or its keys are exactly 1..n (n > 0), else an object (integer keys written as strings; so `{}` is `{}`). `nil` and `eventapi.null` are "
    .. "`null`. On one line by default; `options` `{ indent = true | n, sort = true }` puts each item and member on a "
    .. "line of its own indented by n spaces a level (`true`: 2), as `\"key\": value`, and orders object keys bytewise "
    .. "(`{ indent = true, sort = true }` is what the `eventapi` command prints). Raises an `InvalidParams` error "
    .. "(`eventapi.json.encode: <why>`) for NaN, infinity, a key that is neither a string nor an integer, a "
    .. "function or userdata, nesting deeper than 1,000 (a cycle), or an unknown or ill-typed option." },
  { "decode", "eventapi.json.decode(text) -> value: integral numbers that fit in 64 bits are Lua integers (a "
    .. "number written with a fraction or exponent, like `50.0`, stays a float; a larger one is a float; `.` is "
    .. "the decimal point whatever the C locale); `null` "
    .. "is `eventapi.null`; arrays carry the `eventapi.json.array` metatable, so `[]` encodes back as `[]`. "
    .. "Raises an `InvalidParams` error (`eventapi.json.decode: invalid JSON: <what> at byte <n>`) for malformed text or nesting deeper than 1,000." },
  { "array", "eventapi.json.array: the array metatable. `setmetatable(t, eventapi.json.array)` makes `t` "
    .. "encode as a JSON array, `[]` when empty." },
  { "null", "eventapi.json.null: the same value as `eventapi.null`." },
}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

--- The public entries of a Lua file: { name, doc } in file order.
local function lua_entries(source)
  local entries, block = {}, nil
  for line in (read(source.file) .. "\n"):gmatch("(.-)\n") do
    local first = line:match("^%-%-%- ?(.*)$")
    if first then
      block = { first }
    elseif block and line:match("^%-%-") then
      block[#block + 1] = line:match("^%-%- ?(.*)$")
    else
      if block then
        local text = table.concat(block, " ")
        local fname = line:match("^function ([%w_.:]+)")
        local public = false
        for _, pattern in ipairs(PUBLIC) do
          if text:match("^" .. pattern) then public = true end
        end
        if fname and source.only and fname:match("^M%.") and not source.only[fname:sub(3)] then -- luacheck: ignore 542
          -- (another section documents it)
        elseif fname and source.prefix and fname:match("^M%.") then
          entries[#entries + 1] = { name = source.prefix .. fname:sub(3), doc = text }
        elseif fname and fname:match("^Error%.") and source.prefix then
          entries[#entries + 1] = { name = source.prefix .. fname:sub(7), doc = text }
        elseif public then
          entries[#entries + 1] = { doc = text }
        end
      end
      block = nil
    end
  end
  return entries
end

--- The public entries of a C file: one-line comments that start with "p:".
local function c_entries(source)
  local entries = {}
  for doc in read(source.file):gmatch("\n/%* (p:.-) %*/") do
    entries[#entries + 1] = { doc = doc:gsub("%s+", " ") }
  end
  return entries
end

--- "`name`* (place `wire`), ..." for a list of params (fixed ones left out).
local function params_text(list)
  local parts = {}
  for _, p in ipairs(list) do
    if p.fixed == nil then
      local where = p.place == "none" and "relationship" or p.place
      if p.wire and p.wire ~= p.name then where = where .. " `" .. p.wire .. "`" end
      if p.default ~= nil then where = where .. ", default " .. tostring(p.default) end
      parts[#parts + 1] = ("`%s`%s (%s)"):format(p.name, p.required and "*" or "", where)
    end
  end
  return table.concat(parts, ", ")
end

--- Text for a table cell: `|` escaped, line breaks as spaces.
local function cell(s)
  return (tostring(s):gsub("[\r\n]+", " "):gsub("|", "\\|"))
end

--- The names of a table's keys, sorted, for messages.
local function sorted_keys(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = tostring(k) end
  table.sort(names)
  return names
end

--- Raises when a list of { name, ... } rows misses a key of t (or names one t lacks).
local function check_covered(what, t, rows)
  local listed = {}
  for _, row in ipairs(rows) do
    listed[row[1]] = true
    if t[row[1]] == nil then error(("%s: %s is documented but does not exist"):format(what, row[1]), 0) end
  end
  for _, k in ipairs(sorted_keys(t)) do
    if not listed[k] then error(("%s: %s is not documented (tools/gendocs.lua or its source table)"):format(what, k), 0) end
  end
end

local services = require "eventapi.services"

--- The values the eventapi module exports besides its functions (callable
-- tables such as eventapi.connectdaily count as functions: their doc comments
-- describe them).
local function module_values(eventapi)
  local values = {}
  for k, v in pairs(eventapi) do
    local mt = getmetatable(v)
    if type(v) ~= "function" and not (type(mt) == "table" and mt.__call) then values[k] = v end
  end
  return values
end

--- Extra entries after a source's doc comments, by file.
local EXTRA = {}

EXTRA["lua/eventapi/init.lua"] = function(put)
  local eventapi = require "eventapi"
  for _, service in ipairs(services.list) do put("- " .. service.doc) end
  check_covered("eventapi module values", module_values(eventapi), MODULE_VALUES)
  for _, row in ipairs(MODULE_VALUES) do put(("- `eventapi.%s`: %s"):format(row[1], row[2](eventapi[row[1]]))) end
  put("")
  put("## The JSON codec\n")
  check_covered("eventapi.json", eventapi.json, JSON_DOCS)
  for _, row in ipairs(JSON_DOCS) do put("- " .. row[2]) end
end

--- Text before a source's doc comments, by file.
local INTRO = {}

INTRO["lua/eventapi/errors.lua"] = function(put)
  put("Every failure of a call, a promise, a client or the loop is an error object: a table whose metatable")
  put("is `eventapi.Error` (`eventapi.Error.is(err)` is true), never a plain string; `tostring(err)` is one")
  put("line. (The converters `eventapi.json.encode`/`.decode`, `eventapi.connectdaily.jdn`/`.date` and")
  put("`eventapi.monterosa.unix_time` raise `InvalidParams` errors naming themselves.) The functions of")
  put("`eventapi.Error`:\n")
end

EXTRA["lua/eventapi/errors.lua"] = function(put)
  local Error = require "eventapi.errors"
  put("")
  put("### Error fields\n")
  put("| field | meaning |")
  put("| --- | --- |")
  for _, row in ipairs(Error.FIELDS) do put(("| `%s` | %s |"):format(cell(row[1]), cell(row[2]))) end
  put("")
  put("### Error types\n")
  put("The types the library gives; a server's own `type` (such as Losant's `Validation` or `NotFound`)")
  put("comes as it is.\n")
  put("| type | when |")
  put("| --- | --- |")
  for _, row in ipairs(Error.TYPES) do
    local names = {}
    for name in row[1]:gmatch("[^,%s]+") do names[#names + 1] = "`" .. name .. "`" end
    put(("| %s | %s |"):format(cell(table.concat(names, ", ")), cell(row[2])))
  end
end

--- The client options table, from Client.OPTIONS (types) and Client.OPTION_DOCS.
local function options_section(put)
  local Client = require "eventapi.client"
  local options, docs = Client.OPTIONS, Client.OPTION_DOCS
  check_covered("client options", options, docs)
  put("## Client options\n")
  local constructors = {}
  for _, name in ipairs(services.names) do constructors[#constructors + 1] = "`eventapi." .. name .. "`" end
  put(("Every client constructor (%s) takes a table"):format(table.concat(constructors, ", ")))
  put("of these; an unknown option, or a value of the wrong type or out of range, is `InvalidParams`.\n")
  put("| option | type | default | meaning |")
  put("| --- | --- | --- | --- |")
  for _, row in ipairs(docs) do
    put(("| `%s` | %s | %s | %s |"):format(cell(row[1]), cell(options[row[1]]), cell(row[2]), cell(row[3])))
  end
  put("")
end

--- What every operation call has in common.
local function calls_section(put)
  put("## Operation calls\n")
  put("A call is `client.<resource>.<action>(params, [callback])`: it returns a promise of what its row's")
  put("\"resolves with\" column says, or of an error object (see Errors); the callback, when given, receives")
  put("`(err, result)`. `*` marks required params; an unknown param, a missing required one or a value of the")
  put("wrong type is `InvalidParams` before any traffic. `client.<resource>.<action>` is a callable userdata")
  put("(`eventapi.Operation`) made for that client; it shows its row's `name`, `method`, `path`, `params`,")
  put("`returns` and `pages`, and `tostring` names it.\n")
  put("- `headers`: every call also takes `headers`, a table of name = value, besides its own params. It is")
  put("  checked like the `headers` option (a name that is not an HTTP token, a value that is not a string,")
  put("  number or boolean, or CR, LF or NUL in a value, is `InvalidParams`; a number is written as in a")
  put("  query, `50.0` as `50`), sent with that call only, and replaces a client header of the same name")
  put("  (in any case); the values of credential-like names are redacted in that call's errors.")
  put("- `each` and `all`: a call marked pages in its table gives its resource")
  put("  `client.<resource>.each{params..., limit =, progress =}`, an iterator over every item of every page")
  put("  (for a generic `for`; it raises a page's error object), and")
  put("  `client.<resource>.all({params..., limit =, progress =}, [callback])`, a promise of the list of every")
  put("  item. `limit`, a whole number >= 0 (not sent), stops after that many items without fetching further")
  put("  pages; `progress`, `true` or `false`, forces the progress line on stderr on or off (by default it is")
  put("  drawn when stderr is a terminal and `EVENTAPI_PROGRESS` is not `0`). See Pagination above.")
  put("- With the `dry_run` option, POST, PUT, PATCH and DELETE calls are not sent and resolve with")
  put("  `{ dry_run = true, method =, url =, body = }`.")
  put("")
end

--- The whole reference as one string.
function M.generate()
  local out = {}
  local function put(s) out[#out + 1] = s end
  put("# eventapi API reference\n")
  put("Generated by `make docs` (`tools/gendocs.lua`) from the doc comments, the error and option tables and the")
  put("operation tables; do not edit by hand. The README has the tour and the design notes.\n")
  for _, source in ipairs(SOURCES) do
    put("## " .. source.title .. "\n")
    if INTRO[source.file] then INTRO[source.file](put) end
    for _, e in ipairs(source.c and c_entries(source) or lua_entries(source)) do
      if e.name then put(("- `%s`: %s"):format(e.name, e.doc)) else put("- " .. e.doc) end
    end
    if EXTRA[source.file] then EXTRA[source.file](put) end
    put("")
  end
  options_section(put)
  calls_section(put)
  for _, service in ipairs(services.list) do
    put(("## %s operations\n"):format(service.title))
    put(("`eventapi.%s{...}` gives a client with these calls (see Operation calls).\n"):format(service.name))
    put("| call | method | path | params | pages | resolves with |")
    put("| --- | --- | --- | --- | --- | --- |")
    for _, op in ipairs(service.operations) do
      if type(op.returns) ~= "string" or not op.returns:find("%S") then
        error(("%s: the operation %s has no returns text"):format(service.name, op.name), 0)
      end
      local path = type(op.path) == "string" and ("`" .. op.path .. "`") or service.path_doc
      put(("| `%s` | %s | %s | %s | %s | %s |"):format(op.name, op.method, cell(path), cell(params_text(op.params)),
        op.pages or "", cell(op.returns)))
    end
    local common = params_text(service.common_params or {})
    put("\nEvery call also takes " .. (common ~= "" and common .. " and " or "") .. "`headers`.")
    put("")
  end
  return table.concat(out, "\n")
end

if arg and arg[0] and arg[0]:match("gendocs%.lua$") then io.write(M.generate()) end
return M
