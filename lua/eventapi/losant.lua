--- The Losant API: every action of the official client (losant-rest), its
-- rows generated from the client's definitions into losant_api/<resource>.lua
-- by tools/gen_losant.lua (`make losant-api`; docs/PROTOCOLS.md section 1.11
-- says what a row holds). A resource's rows are loaded and compiled when the
-- resource is first used, not at start-up.
--
-- What the definitions do not say is this file's overlay, reviewed by hand:
-- what the events and integrations calls resolve with (docs/API.md), the
-- upper-case sort directions the API also takes, and includeWorkflows, a
-- flag the definitions type as a string.
local index = require "eventapi.losant_api"

local OVERLAY = {
  ["event.get"] = { returns = "the event" },
  ["event.patch"] = { returns = "the event as updated" },
  ["event.delete"] = { returns = "`{ success = true }`" },
  ["events.get"] = { returns = "the server's page: `{ items = {...}, count, totalCount, perPage, page, ... }`" },
  ["events.post"] = { returns = "the created event" },
  ["events.patch"] = { returns = "`{ success = true }`" },
  ["events.delete"] = { returns = "`{ removed = <number of events removed> }`" },
  ["events.mostRecentBySeverity"] = {
    returns = "`{ event, newCount }`: the newest `new` event of the highest level (absent when none), and how many are `new`" },
  ["events.export"] = { returns = "the server's answer (`{ success = true }`)" },
  ["integration.get"] = { returns = "the integration" },
  ["integration.patch"] = { returns = "the integration as updated" },
  ["integration.delete"] = { returns = "`{ success = true }`", kinds = { includeWorkflows = "boolean" } },
  ["integrations.get"] = { returns = "the server's page: `{ items = {...}, count, totalCount, perPage, page, ... }`" },
  ["integrations.post"] = { returns = "the created integration" },
}
local SORT_DIRECTIONS = { "asc", "desc", "ASC", "DESC" }

--- What a generated row resolves with, from its answers: "the `device` answer (201)".
local function returns_of(row)
  local parts = {}
  for _, a in ipairs(row.answers) do
    parts[#parts + 1] = (a.schema and ("`%s`"):format(a.schema) or "no body") .. (" (%d)"):format(a.status)
  end
  if row.stream then return ("a stream of `%s` events (a stream object, not a promise: see Streams)"):format(row.stream) end
  if row.upload then return "the answer: " .. table.concat(parts, " or ") .. " (a multipart/form-data upload)" end
  return "the answer: " .. table.concat(parts, " or ")
end

--- Applies the overlay to the rows of one resource (once, as they load).
local function overlay(rows)
  for _, row in ipairs(rows) do
    local extra = OVERLAY[row.name] or {}
    row.returns = extra.returns or returns_of(row)
    for _, p in ipairs(row.params) do
      if p.name == "sortDirection" and p.enum then p.enum = SORT_DIRECTIONS end
      if extra.kinds and extra.kinds[p.name] then p.kind = extra.kinds[p.name] end
    end
  end
  return rows
end

local RESOURCES, ACTIONS = {}, {} -- resource names in order; resource -> its action names
for i, r in ipairs(index.resources) do
  RESOURCES[i] = r[1]
  ACTIONS[r[1]] = r[2]
end
local loaded = {} -- resource -> its rows, overlaid

--- The rows of a resource ("device"), loaded on first use; nil for an unknown one.
local function resource_rows(resource)
  local rows = loaded[resource]
  if rows == nil and ACTIONS[resource] then
    rows = overlay(require("eventapi.losant_api." .. resource))
    loaded[resource] = rows
  end
  return rows
end

--- The row of an action ("device.get"), or nil.
local function find(name)
  local resource, action = tostring(name):match("^(%w+)%.(%w+)$")
  for _, row in ipairs(resource and resource_rows(resource) or {}) do
    if row.name == name then return row end
  end
  return nil
end

-- Every row, in resource order: filled the first time anything reads it
-- (the help, the completion, the reference), not by making a client.
local operations = setmetatable({}, {
  __index = function(list, key)
    if rawlen(list) == 0 then
      for _, resource in ipairs(RESOURCES) do
        for _, row in ipairs(resource_rows(resource)) do rawset(list, rawlen(list) + 1, row) end
      end
    end
    return rawget(list, key)
  end,
  __len = function(list)
    if rawlen(list) == 0 then local _ = list[1] end
    return rawlen(list)
  end,
})

local M = { operations = operations, resources = RESOURCES, actions = ACTIONS, find = find,
            resource_rows = resource_rows, version = index.version }

--- The service's descriptor (the shape is described in services.lua).
M.service = {
  name = "losant",
  title = "Losant",
  summary = "the Losant API (every action of the official client, losant-rest " .. index.version .. ")",
  doc = "eventapi.losant{token=, url=, ...} -> a Losant client (see README.md).",
  env = { { option = "url", variable = "LOSANT_URL" }, { option = "token", variable = "LOSANT_TOKEN" } },
  credentials = { "token" },
  default_url = "https://api.losant.com",
  operations = operations,
  resources = RESOURCES,      -- the resource names, for lazy clients (client.lua)
  resource_rows = resource_rows, -- resource -> its rows, loaded on first use
  -- Params every call takes, after its own.
  common_params = { { name = "losantdomain", place = "header", kind = "string" },
                    { name = "_actions", place = "query", kind = "boolean", default = false },
                    { name = "_links", place = "query", kind = "boolean", default = true },
                    { name = "_embedded", place = "query", kind = "boolean", default = true } },
  common_first = true, -- before the call's own params: the official client's query order
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
