--- Monterosa's Control API v2 live events over JSON:API as an operation
-- table (docs/PROTOCOLS.md section 3). Callers pass plain attributes and
-- project_id; the client builds the JSON:API document, and answers come
-- back as plain tables (see README.md, "Monterosa").
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local time = require "eventapi.time"

local M = {}

-- The time conversion lives in eventapi.time; the service keeps its name.
M.unix_time = time.unix_time

--- Percent-decodes a query string component.
local function unescape(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

--- The page[cursor] of a next-page link, or nil.
local function cursor_of(link)
  if type(link) ~= "string" then return nil end
  for pair in (link:match("%?(.*)$") or ""):gmatch("[^&]+") do
    local key, value = pair:match("^([^=]*)=(.*)$")
    if key and unescape(key) == "page[cursor]" then return unescape(value) end
  end
  return nil
end

--- A JSON:API resource as a plain table: id, type, the attributes at top
-- level, project_id when it has a project relationship.
local function plain(resource)
  if type(resource) ~= "table" then return resource end
  local out = {}
  if type(resource.attributes) == "table" then
    for k, v in pairs(resource.attributes) do out[k] = v end
  end
  out.id, out.type = resource.id, resource.type
  local project = type(resource.relationships) == "table" and resource.relationships.project
  if type(project) == "table" and type(project.data) == "table" then out.project_id = project.data.id end
  return out
end

--- Checks a list param that may be a comma-separated string or a list of
-- strings: the text to send, or nil and why not.
local function comma_list(v)
  if type(v) == "string" then return nil end
  if type(v) ~= "table" then return nil, "must be a string or a list of strings" end
  for i, x in ipairs(v) do
    if type(x) ~= "string" then return nil, ("[%d] must be a string"):format(i) end
  end
  return table.concat(v, ",")
end

--- A row check that the value is of a Lua type ("integer": a Lua integer): nil, or nil and why not.
local function of_type(kind)
  return function(v)
    local ok = (kind == "integer" and math.type(v) == "integer") or (kind ~= "integer" and type(v) == kind)
    if not ok then return nil, ("must be a%s %s, not a %s"):format(kind == "integer" and "n" or "", kind, type(v)) end
  end
end

local function attribute(name, check) return { name = name, place = "attribute", check = check } end
local ATTRIBUTES = {
  attribute("name", of_type("string")),
  attribute("duration", of_type("integer")),
  attribute("start_at", time.unix_time_of),
  attribute("start_mode", of_type("string")),
  attribute("end_mode", of_type("string")),
  attribute("repeat", of_type("boolean")),
  attribute("repeat_in", of_type("integer")),
  attribute("settings", of_type("table")),
  attribute("action", of_type("string")),
}

local function path(name) return { name = name, place = "path", required = true, kind = "string" } end
local function query(name, wire, extra)
  local p = { name = name, wire = wire, place = "query", kind = "string" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end
local function with(list, ...)
  local out = { table.unpack(list) }
  for _, p in ipairs({ ... }) do out[#out + 1] = p end
  return out
end

--- The JSON:API document of a create: type, attributes, the project relationship.
local function create_body(params, attributes)
  return { data = { type = "events", attributes = attributes,
                    relationships = { project = { data = { type = "projects", id = params.project_id } } } } }
end

--- The JSON:API document of an update: type, id, attributes.
local function update_body(params, attributes)
  return { data = { type = "events", id = tostring(params.event_id), attributes = attributes } }
end

local INCLUDE = query("include", "include", { check = comma_list })

-- What get and create resolve with (the reference shows each row's `returns`).
local PLAIN = "a plain table: `id`, `type`, the attributes at top level, `project_id`, `included`, `document`"

M.operations = {
  { name = "events.create", method = "POST", path = "/events",
    returns = "the created event as " .. PLAIN,
    params = with({ { name = "project_id", place = "none", required = true, check = of_type("string") } },
                  table.unpack(ATTRIBUTES)), body_of = create_body },
  { name = "events.get", method = "GET", path = "/events/{event_id}", params = { path("event_id"), INCLUDE },
    returns = "the event as " .. PLAIN },
  { name = "events.list", method = "GET", path = "/projects/{project_id}/events",
    returns = "`{ items, next, next_cursor, included, document }`: the events as plain tables, `links.next` "
      .. "and its `page[cursor]` (nil on the last page)",
    params = { path("project_id"), query("state", "filter[state]", { required = true, check = comma_list }),
               query("only_listings", "filter[only_listings]", { kind = "boolean" }), INCLUDE,
               query("cursor", "page[cursor]"), query("count", "page[count]", { kind = "integer" }),
               query("sort", "sort", { enum = { "start_time", "-start_time" } }) }, pages = "cursor" },
  { name = "events.update", method = "PATCH", path = "/events/{event_id}", returns = "`true` (204)",
    params = with({ path("event_id") }, table.unpack(ATTRIBUTES)), body_of = update_body },
  { name = "events.delete", method = "DELETE", path = "/events/{event_id}", params = { path("event_id") },
    returns = "`true` (204)" },
}

--- The param name a caller used for a JSON:API error source (pointer or query parameter).
local function field_of(op, source)
  if type(source) ~= "table" then return nil end
  if type(source.parameter) == "string" then
    for _, p in ipairs(op and op.params or {}) do
      if (p.wire or p.name) == source.parameter then return p.name end
    end
    return source.parameter
  end
  if type(source.pointer) ~= "string" then return nil end
  if source.pointer == "/data/relationships/project" then return "project_id" end
  return source.pointer:match("^/data/attributes/(.+)$") or source.pointer:match("([^/]+)$")
end

--- The service's descriptor (the shape is described in services.lua).
M.service = {
  name = "monterosa",
  title = "Monterosa",
  summary = "Monterosa Control API v2 live events",
  doc = "eventapi.monterosa{url=, token=, ...} -> a Monterosa client (Control API v2 live events); "
    .. "eventapi.monterosa.unix_time(v) converts an ISO 8601 UTC string to a Unix time.",
  env = { { option = "url", variable = "MONTEROSA_URL" }, { option = "token", variable = "MONTEROSA_TOKEN" } },
  credentials = { "token" },
  raw = "document",
  functions = { unix_time = M.unix_time },
  operations = M.operations,
  content_type = "application/vnd.api+json",
  accept = "application/vnd.api+json",
  headers = function(options)
    return options.token and { "Authorization: Bearer " .. options.token } or {}
  end,
  --- get/create: the plain event with `document` (the raw answer) and
  -- `included`; list: { items, next_cursor, next (link), document }. A list
  -- answer that is not a JSON object whose `data` is an array is
  -- InvalidResponse (with the status, method and url of the request).
  unwrap = function(decoded, res, req, where)
    local list = req.op and req.op.name == "events.list"
    if list then
      local data = type(decoded) == "table" and getmetatable(decoded) ~= core.array and decoded.data
      if type(data) ~= "table" or getmetatable(data) ~= core.array then
        local what = type(decoded) ~= "table" and ("a " .. type(decoded))
          or getmetatable(decoded) == core.array and "an array"
          or decoded.data == nil and "an object without data" or ("an object whose data is a " .. type(data))
        error(Error.new({ type = "InvalidResponse", status = res.status, method = where.method, url = where.url,
                          location = req.location, body = type(decoded) == "table" and decoded or nil,
                          message = ("events.list: the answer is %s, not a JSON:API document whose data is a list"):format(
                            what) }), 0)
      end
    end
    if type(decoded) ~= "table" then return decoded end
    local included
    if type(decoded.included) == "table" then
      included = {}
      for i, r in ipairs(decoded.included) do included[i] = plain(r) end
    end
    if list then
      local items = setmetatable({}, core.array)
      for i, r in ipairs(decoded.data) do items[i] = plain(r) end
      local next_link = type(decoded.links) == "table" and decoded.links.next or nil
      return { items = items, next = next_link, next_cursor = cursor_of(next_link), included = included,
               document = decoded }
    end
    local out = plain(decoded.data)
    if type(out) == "table" then out.document, out.included = decoded, included end
    return out
  end,
  --- JSON:API errors: `errors` as { field, pointer, parameter, detail, title, status }
  -- and a message naming each field.
  error_fields = function(e, decoded, req)
    if type(decoded) ~= "table" or type(decoded.errors) ~= "table" then return end
    local list, parts = {}, {}
    for i, x in ipairs(decoded.errors) do
      if type(x) == "table" then
        local source = type(x.source) == "table" and x.source or {}
        local item = { field = field_of(req and req.op, source), pointer = source.pointer,
                       parameter = source.parameter, detail = x.detail, title = x.title, status = x.status }
        list[#list + 1] = item
        local text = tostring(x.detail or x.title or "is invalid")
        parts[#parts + 1] = item.field and (item.field .. " " .. text) or text
      end
      if i >= 100 then break end
    end
    e.errors = list
    if #parts > 0 then e.message = table.concat(parts, "; ") end
  end,
}

return M
