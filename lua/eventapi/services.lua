--- The registry of the services, the one place that lists them: the client
-- constructors (init.lua), the command (help, completion, configuration),
-- the API reference (tools/gendocs.lua), the man page and the specs all
-- iterate it. Adding a service is one module here; adding an action is one
-- row in its module's operation table.
--
-- Each service module returns { service = <descriptor>, operations = <rows>,
-- <its own functions> }. A descriptor has:
--   name            "losant": eventapi.<name>{...}, the command's word, the --config key
--   title           "Losant": the API reference's section heading
--   summary         "Losant events and integrations": the command's help line
--   doc             the constructor's line in the API reference
--   env             { { option =, variable = }, ... }: the client option each
--                   environment variable sets, in the help's order
--   credentials     the options that are credentials ({ "token" }); a --config
--                   file that names one keeps the environment's out
--   credentials_problem(options, from, var) -> message or nil (optional): the
--                   command's credentials rule; without it a token is needed
--   default_url     the public URL, or nil: then the url option is required
--   raw             the field of an answer only --raw prints (optional)
--   functions       { name = function } (optional): eventapi.<name>.<function>
--   operations      the rows (resource.action, method, path, params, returns, pages)
--   resources, resource_rows(resource)  (optional) the resource names and a
--                   loader of one resource's rows: the client and the command
--                   then load a resource's rows when it is first used
--   common_params   params every call takes after its own (optional)
--   path_doc        how the reference shows computed paths (optional)
--   content_type, accept, empty_body_object, headers(options), unwrap,
--   error_fields    the client's hooks (see client.lua)
local MODULES = { "eventapi.losant", "eventapi.connectdaily", "eventapi.monterosa" }

local M = { list = {}, names = {}, by_name = {} }
for _, module in ipairs(MODULES) do
  local service = require(module).service
  M.list[#M.list + 1] = service
  M.names[#M.names + 1] = service.name
  M.by_name[service.name] = service
end

--- services.of(name) -> the descriptor of that name; InvalidParams naming
-- the services for an unknown name.
function M.of(name)
  local service = M.by_name[name]
  if service == nil then
    require("eventapi.errors").raise("InvalidParams", "no service named %s (services: %s)", tostring(name),
                                     table.concat(M.names, ", "))
  end
  return service
end

--- services.resources(service) -> the resource names of a service, in order
-- (without loading the rows of a service that loads them lazily).
function M.resources(service)
  if service.resources then return service.resources end
  local list, seen = {}, {}
  for _, row in ipairs(service.operations) do
    local r = row.name:match("^(%w+)%.")
    if not seen[r] then seen[r] = true; list[#list + 1] = r end
  end
  return list
end

--- services.rows(service, resource) -> the rows of one resource (an empty
-- list for an unknown one), loading only that resource's rows.
function M.rows(service, resource)
  if service.resource_rows then return service.resource_rows(resource) or {} end
  local list = {}
  for _, row in ipairs(service.operations) do
    if row.name:match("^(%w+)%.") == resource then list[#list + 1] = row end
  end
  return list
end

--- services.names_text(last) -> "losant, connectdaily, monterosa", or with
-- last (" and ") before the last name "losant, connectdaily and monterosa".
function M.names_text(last)
  local n = #M.names
  if not last or n < 2 then return table.concat(M.names, ", ") end
  return table.concat(M.names, ", ", 1, n - 1) .. last .. M.names[n]
end

return M
