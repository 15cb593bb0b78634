--- Generates the Losant operation rows from the official client's
-- definitions (losant-rest on npm): one file per resource under
-- lua/eventapi/losant_api/, the index lua/eventapi/losant_api.lua, and the
-- request schemas the rows name under lua/eventapi/schemas/losant/. Run by
-- `make losant-api`; spec/losant/generated_spec.lua fails when the committed
-- files differ from what this writes.
--
-- What is taken are facts: names, methods, URI templates, which params go
-- to the path, the query, a header or the body, their types, required
-- flags, accepted values, the scopes, the statuses and the schema names.
-- No prose is carried over; the help and the reference describe each action
-- from these facts (tools/gendocs.lua, cli_help.lua).
--
-- Usage: lua5.4 tools/gen_losant.lua PACKAGE_DIR OUT_DIR
--   PACKAGE_DIR: node_modules/losant-rest of an `npm install losant-rest@2.8.1`
--   OUT_DIR: the checkout (writes OUT_DIR/lua/eventapi/...)
local core = require "eventapi.core" -- (not eventapi: that loads the rows this writes)
local json = { encode = core.json_encode, decode = core.json_decode }

local pkg, out = assert(arg[1], "usage: gen_losant.lua PACKAGE_DIR OUT_DIR"), assert(arg[2], "OUT_DIR")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end

local version = json.decode(read(pkg .. "/package.json")).version

-- Query params the definitions type as strings that the API reads as
-- numbers: they take Lua integers and their digits alike (kind integer).
local NUMERIC = { page = true, perPage = true, limit = true, offset = true, start = true, ["end"] = true,
                  since = true, duration = true, resolution = true, keepAliveInterval = true }
-- The params every call of the service takes (services' common_params).
local COMMON = { losantdomain = true, _actions = true, _links = true, _embedded = true }

--- The resource files, sorted.
local function resources()
  local list = {}
  for name in io.popen(("ls %q"):format(pkg .. "/lib/api")):lines() do
    local base = name:match("^(%w+)%.js$")
    if base and base ~= "index" then list[#list + 1] = base end
  end
  table.sort(list)
  return list
end

--- The accepted values a description lists ("Accepted values are: a, b"), or nil.
local function accepted(text)
  local list = text and text:match("Accepted values are: ([^|]-)%s*$")
  if not list then return nil end
  local values = {}
  for v in list:gmatch("[^,%s]+") do values[#values + 1] = v end
  return values
end

--- The docs table rows of each action of a resource: action -> name -> {type, required, description}.
local function doc_tables(resource)
  local text = read(pkg .. "/docs/" .. resource .. ".md")
  local actions = {}
  local starts = {}
  for at in text:gmatch("\n## ()") do starts[#starts + 1] = at end
  starts[#starts + 1] = #text + 1
  for i = 1, #starts - 1 do
    local section = text:sub(starts[i], starts[i + 1] - 1)
    local action = section:match("client%." .. resource .. "%.(%w+)%(")
    if action then
      local rows = {}
      for name, type_, required, description in section:gmatch("\n| ([%w_]+) | ([^|]-) | ([YN]) | ([^|]-) |") do
        rows[name] = { type = type_, required = required == "Y", description = description }
      end
      actions[action] = rows
    end
  end
  return actions
end

--- The schema name a definitions link names, or nil.
local function schema_of(text)
  return text and (text:match("definitions/([%w_]+)%)") or text:match("lib/schemas/([%w_]+)%.json"))
end

--- The rows of one resource, in the order of its file.
local function rows_of(resource)
  local text = read(pkg .. "/lib/api/" .. resource .. ".js")
  local docs = doc_tables(resource)
  local rows = {}
  for comment, action, body in text:gmatch("/%*%*(.-)%*/%s*internals%.(%w+) = function %(params, opts, cb%)(.-)\n  };") do
    local row = { name = resource .. "." .. action, params = {} }
    local types, params = {}, {}
    for type_, name, rest in comment:gmatch("\n%s*%*%s+{(%w+)} ([%w_]+) %- ([^\n]*)") do
      types[name] = type_
      params[name] = rest
    end
    row.method = body:match("method: '(%u+)'") or "GET"
    row.path = assert(body:match("uriTemplate%.parse%('([^']+)'%)"), row.name)
    local scopes = comment:match("following scopes:%s*%*%s*([^\n]-)%.\n")
    row.scopes = {} -- none: the action needs no token
    assert(scopes or comment:find("No api access token is required", 1, true), row.name)
    for s in (scopes or ""):gsub(", or ", ", "):gmatch("[^,%s]+") do row.scopes[#row.scopes + 1] = s end
    local ok = {}
    for code, rest in comment:gmatch("\n%s*%*%s+(2%d%d) %- ([^\n]*)") do
      ok[#ok + 1] = { status = tonumber(code), schema = schema_of(rest) }
    end
    row.answers = ok
    row.errors = {}
    for code in comment:gmatch("\n%s*%*%s+([45]%d%d) %- ") do row.errors[#row.errors + 1] = tonumber(code) end
    if body:find("attachEventSource", 1, true) then
      row.stream = assert(comment:match("\n%s*%*%s+(%w+) %- An SSE event"), row.name)
    end
    if body:find("opts.multipart = true", 1, true) then row.upload = true end
    local doc = docs[action] or {}
    for line in body:gmatch("[^\n]+") do
      local name, target = line:match("typeof params%.([%w_]+)%) { ([^;]+);")
      if name and not (COMMON[name] and not row.stream) and name ~= "losantdomain" then
        local p = { name = name }
        local t, d = types[name], doc[name] or {}
        if target:match("^pathParams") then
          p.place, p.kind, p.required = "path", "string", true
        elseif target:match("^req%.params") then
          p.place = "query"
          if target:find("JSON.stringify", 1, true) then p.kind = "json"
          elseif t == "boolean" or (t == "undefined" and d.type == "boolean") then p.kind = "boolean"
          elseif t == "hash" or t == "array" then p.kind = "hash"
          elseif NUMERIC[name] then p.kind = "integer"
          else p.kind = "string" end
          p.required = d.required or nil
        elseif target:match("^req%.data%.") then
          p.place, p.kind, p.required = "form", t == "file" and "file" or "string", d.required or nil
        elseif target:match("^req%.data") then
          p.place, p.kind, p.required = "body", "table", d.required or nil
        else
          error(row.name .. ": cannot place " .. line)
        end
        if p.kind == "json" or p.place == "body" or p.kind == "hash" then
          p.schema = schema_of(params[name]) or schema_of(d.type)
        end
        if p.kind == "string" or p.kind == "integer" then p.enum = accepted(d.description or params[name]) end
        local overrides = (d.description or params[name] or ""):match("which overrides the (.-) parameters?")
        if overrides then p.overrides = overrides end
        row.params[#row.params + 1] = p
      end
    end
    rows[#rows + 1] = row
  end
  return rows
end

-- Relations between params, read from the definitions: a filter needs its
-- filterField (the API ignores a filter without one), and a param that a
-- `query` overrides is refused beside it.
local function relate(row)
  local by = {}
  for _, p in ipairs(row.params) do by[p.name] = p end
  if by.filter and by.filterField then by.filter.requires = "filterField" end
  for _, p in ipairs(row.params) do
    if p.overrides then
      local list = p.overrides:gsub(", and ", ", "):gsub(" and ", ", ")
      for name in list:gmatch("[%w_]+") do
        if by[name] then by[name].overridden_by = p.name end
      end
      p.overrides = nil
    end
  end
  if by.page and by.perPage then row.pages = "page"
  elseif by.limit and by.offset then row.pages = "offset" end
end

-- ---- writing ----

local function quote(s) return ("%q"):format(s) end

local function list_text(list, f)
  local parts = {}
  for i, v in ipairs(list) do parts[i] = f(v) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local PARAM_ORDER = { "name", "place", "kind", "required", "enum", "schema", "requires", "overridden_by" }
local function param_text(p)
  local parts = {}
  for _, k in ipairs(PARAM_ORDER) do
    local v = p[k]
    if v ~= nil then
      local text = type(v) == "table" and list_text(v, quote) or type(v) == "string" and quote(v) or tostring(v)
      parts[#parts + 1] = k .. " = " .. text
    end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function row_text(row)
  local lines = { "  { name = " .. quote(row.name) .. ", method = " .. quote(row.method) .. ", path = " .. quote(row.path) .. "," }
  lines[#lines + 1] = "    params = {"
  for _, p in ipairs(row.params) do lines[#lines + 1] = "      " .. param_text(p) .. "," end
  lines[#lines + 1] = "    },"
  local answers = list_text(row.answers, function(a)
    return "{ status = " .. a.status .. (a.schema and (", schema = " .. quote(a.schema)) or "") .. " }"
  end)
  lines[#lines + 1] = "    answers = " .. answers .. ", errors = " .. list_text(row.errors, tostring) .. ","
  local extra = {}
  if row.pages then extra[#extra + 1] = "pages = " .. quote(row.pages) end
  if row.stream then extra[#extra + 1] = "stream = " .. quote(row.stream) end
  if row.upload then extra[#extra + 1] = "upload = true" end
  if #extra > 0 then lines[#lines + 1] = "    " .. table.concat(extra, ", ") .. "," end
  lines[#lines + 1] = "    scopes = " .. list_text(row.scopes, quote) .. " },"
  return table.concat(lines, "\n")
end

local HEAD = "-- Generated by tools/gen_losant.lua from losant-rest %s (`make losant-api`): do not edit.\n"

local index, used = {}, {}
for _, resource in ipairs(resources()) do
  local rows = rows_of(resource)
  local names, parts = {}, { HEAD:format(version), "return {" }
  for _, row in ipairs(rows) do
    relate(row)
    names[#names + 1] = row.name:match("%.(%w+)$")
    parts[#parts + 1] = row_text(row)
    for _, p in ipairs(row.params) do if p.schema then used[p.schema] = true end end
  end
  parts[#parts + 1] = "}\n"
  write(out .. "/lua/eventapi/losant_api/" .. resource .. ".lua", table.concat(parts, "\n"))
  index[#index + 1] = { resource, names }
end

local parts = { HEAD:format(version) .. "-- The resources and their actions; each resource's rows are in losant_api/<resource>.lua.",
                "return {", "  version = " .. quote(version) .. ",", "  resources = {" }
for _, r in ipairs(index) do
  parts[#parts + 1] = "    { " .. quote(r[1]) .. ", " .. list_text(r[2], quote) .. " },"
end
parts[#parts + 1] = "  },\n}\n"
write(out .. "/lua/eventapi/losant_api.lua", table.concat(parts, "\n"))

-- The schemas the rows name, and those they refer to, re-encoded compactly
-- (keys sorted; the values unchanged).
local texts, queue = {}, {}
for name in pairs(used) do queue[#queue + 1] = name end
while #queue > 0 do
  local name = table.remove(queue)
  if not texts[name] then
    texts[name] = json.encode(json.decode(read(pkg .. "/lib/schemas/" .. name .. ".json")), { sort = true })
    for ref in texts[name]:gmatch('"%$ref":"#/definitions/([%w_]+)"') do
      local f = io.open(pkg .. "/lib/schemas/" .. ref .. ".json", "rb")
      if f then f:close(); queue[#queue + 1] = ref end
    end
  end
end
local names = {}
for name in pairs(texts) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do write(out .. "/lua/eventapi/schemas/losant/" .. name .. ".json", texts[name] .. "\n") end
io.stderr:write(("gen_losant: %d resources, %d schemas\n"):format(#index, #names))
