--- The Losant Events and Integrations API as one declarative operation
-- table (docs/PROTOCOLS.md section 1.2). Each row: name (resource.action),
-- method, path template, params (name, place: path | query | body | header,
-- required, kind: string | integer | boolean | json | table, requires: the
-- name of a param that must be given with this one, overridden_by: the name
-- of a param that makes Losant ignore this one, so the two are refused
-- together), scopes, and returns (what the call resolves with, for
-- docs/API.md).

local READ = { "all.Application", "all.Application.read", "all.Organization", "all.Organization.read",
               "all.User", "all.User.read" }
local WRITE = { "all.Application", "all.Organization", "all.User" }

--- Scopes of a call: the all.* ones plus resource.* and resource.action.
local function scopes(base, name)
  local list = { table.unpack(base) }
  list[#list + 1] = name:match("^(%w+)%.") .. ".*"
  list[#list + 1] = name
  return list
end

local function path(name) return { name = name, place = "path", required = true, kind = "string" } end
local function query(name, kind, enum) return { name = name, place = "query", kind = kind or "string", enum = enum } end
--- A body param; schema names the published schema its value must meet (schemas/losant/<schema>.json).
local function body(name, required, schema)
  return { name = name, place = "body", required = required, kind = "table", schema = schema }
end
local QUERY = { name = "query", place = "query", kind = "json", schema = "advancedEventQuery" } -- the advanced query

-- The accepted values of the list params (docs/PROTOCOLS.md section 1.4).
local EVENT_SORT = { "subject", "id", "creationDate", "lastUpdated", "level", "state", "deviceId" }
local INTEGRATION_SORT = { "name", "id", "creationDate", "integrationType", "lastUpdated" }
local STATES = { "new", "acknowledged", "resolved" }

--- The filter of a call that also takes filterField: Losant ignores a
-- filter when filterField is blank or not given ("blank or not provided
-- means no filtering"), so a bulk events.patch{ filter = "Door*" } would
-- change every event. It requires filterField (a blank one is not in the
-- enum), and the call is refused before any traffic.
local function filter_on_field()
  local p = query("filter")
  p.requires = "filterField"
  return p
end

--- p, which a `query` overrides: Losant documents that the query "overrides
-- the filterField, filter, and state parameters" (events.get, events.patch;
-- filter on events.mostRecentBySeverity), so p would be ignored. A call
-- giving both is refused before any traffic (docs/PROTOCOLS.md section 1.4).
local function under_query(p)
  p.overridden_by = "query"
  return p
end

--- The list params of a resource: its sort and filter fields.
local function list_params(sort_fields, filter_fields)
  return { query("sortField", "string", sort_fields), query("sortDirection", "string", { "asc", "desc", "ASC", "DESC" }),
           query("page", "integer"), query("perPage", "integer"), query("filterField", "string", filter_fields),
           filter_on_field() }
end
local EVENT_LIST = list_params(EVENT_SORT, { "subject" })
under_query(EVENT_LIST[5])
under_query(EVENT_LIST[6])
local LIST = list_params(INTEGRATION_SORT, { "name", "integrationType" })

local function with(list, ...)
  local out = { table.unpack(list) }
  for _, p in ipairs({ ... }) do out[#out + 1] = p end
  return out
end

local APP = path("applicationId")
local EVENT_PATH = "/applications/{applicationId}/events"
local INTEGRATION_PATH = "/applications/{applicationId}/integrations"

local operations = {
  { name = "event.get", method = "GET", path = EVENT_PATH .. "/{eventId}",
    returns = "the event",
    params = { APP, path("eventId") }, scopes = scopes(READ, "event.get") },
  { name = "event.patch", method = "PATCH", path = EVENT_PATH .. "/{eventId}",
    returns = "the event as updated",
    params = { APP, path("eventId"), body("event", true, "eventPatch") }, scopes = scopes(WRITE, "event.patch") },
  { name = "event.delete", method = "DELETE", path = EVENT_PATH .. "/{eventId}",
    returns = "`{ success = true }`",
    params = { APP, path("eventId") }, scopes = scopes(WRITE, "event.delete") },
  { name = "events.get", method = "GET", path = EVENT_PATH,
    returns = "the server's page: `{ items = {...}, count, totalCount, perPage, page, ... }`",
    params = with({ APP }, EVENT_LIST[1], EVENT_LIST[2], EVENT_LIST[3], EVENT_LIST[4], EVENT_LIST[5], EVENT_LIST[6],
                  under_query(query("state", "string", STATES)), QUERY),
    scopes = scopes(READ, "events.get"), pages = "page" },
  { name = "events.post", method = "POST", path = EVENT_PATH,
    returns = "the created event",
    params = { APP, body("event", true, "eventPost") }, scopes = scopes(WRITE, "events.post") },
  { name = "events.patch", method = "PATCH", path = EVENT_PATH,
    returns = "`{ success = true }`",
    params = { APP, under_query(query("filterField", "string", { "subject" })), under_query(filter_on_field()),
               under_query(query("state", "string", STATES)), QUERY, body("updates", true, "eventPatch") },
    scopes = scopes(WRITE, "events.patch") },
  { name = "events.delete", method = "POST", path = EVENT_PATH .. "/delete",
    returns = "`{ removed = <number of events removed> }`",
    params = { APP, body("query", false, "advancedEventQuery") }, scopes = scopes(READ, "events.delete") },
  { name = "events.mostRecentBySeverity", method = "GET", path = EVENT_PATH .. "/mostRecentBySeverity",
    returns = "`{ event, newCount }`: the newest `new` event of the highest level (absent when none), and how many are `new`",
    params = { APP, under_query(query("filter")), QUERY },
    scopes = scopes(READ, "events.mostRecentBySeverity") },
  { name = "events.export", method = "POST", path = EVENT_PATH .. "/export",
    returns = "the server's answer (`{ success = true }`)",
    params = { APP, body("exportData", false, "eventsExport") }, scopes = scopes(READ, "events.export") },
  { name = "integration.get", method = "GET", path = INTEGRATION_PATH .. "/{integrationId}",
    returns = "the integration",
    params = { APP, path("integrationId") }, scopes = scopes(READ, "integration.get") },
  { name = "integration.patch", method = "PATCH", path = INTEGRATION_PATH .. "/{integrationId}",
    returns = "the integration as updated",
    params = { APP, path("integrationId"), body("integration", true, "integrationPatch") }, scopes = scopes(WRITE, "integration.patch") },
  { name = "integration.delete", method = "DELETE", path = INTEGRATION_PATH .. "/{integrationId}",
    returns = "`{ success = true }`",
    params = { APP, path("integrationId"), query("includeWorkflows", "boolean") },
    scopes = scopes(WRITE, "integration.delete") },
  { name = "integrations.get", method = "GET", path = INTEGRATION_PATH,
    returns = "the server's page: `{ items = {...}, count, totalCount, perPage, page, ... }`",
    params = with({ APP }, table.unpack(LIST)), scopes = scopes(READ, "integrations.get"), pages = "page" },
  { name = "integrations.post", method = "POST", path = INTEGRATION_PATH,
    returns = "the created integration",
    params = { APP, body("integration", true, "integrationPost") }, scopes = scopes(WRITE, "integrations.post") },
}

local M = { operations = operations }

--- The service's descriptor (the shape is described in services.lua).
M.service = {
  name = "losant",
  title = "Losant",
  summary = "Losant events and integrations",
  doc = "eventapi.losant{token=, url=, ...} -> a Losant client (see README.md).",
  env = { { option = "url", variable = "LOSANT_URL" }, { option = "token", variable = "LOSANT_TOKEN" } },
  credentials = { "token" },
  default_url = "https://api.losant.com",
  operations = operations,
  -- Params every call takes, after its own.
  common_params = { { name = "losantdomain", place = "header", kind = "string" },
                    { name = "_actions", place = "query", kind = "boolean", default = false },
                    { name = "_links", place = "query", kind = "boolean", default = true },
                    { name = "_embedded", place = "query", kind = "boolean", default = true } },
  content_type = "application/json",
  accept = "application/json",
  -- a POST or PATCH with no body, or an optional body left out, sends {}
  -- (the official client's rule)
  empty_body_object = true,
  --- The headers of every request of a client made with these options.
  headers = function(options)
    local h = { "Accept-Version: " .. (options.accept_version or "^1.20.1") }
    if options.token then h[#h + 1] = "Authorization: Bearer " .. options.token end
    return h
  end,
}

return M
