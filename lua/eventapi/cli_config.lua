--- The configuration of the `eventapi` command's clients (see cli.lua): the
-- --config file, the environment variables of each service (from the
-- registry, eventapi.services) and the command's own options on top.
local eventapi = require "eventapi"
local Error = require "eventapi.errors"
local services = require "eventapi.services"
local output = require "eventapi.cli_output"
local usage = require("eventapi.cli_args").usage

local err_out = output.write_stderr
local config = {}

--- The retries of the command's clients unless --retries or the --config
-- file says otherwise: reads (GET only) retried on 429 and 503.
local CLI_RETRIES = { max = 3, on = { 429, 503 }, methods = { "GET" } }

--- config.load(path) -> the table of service option tables a --config file
-- (a Lua chunk) returns; a usage error when it is not one.
function config.load(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then usage("--config: %s", err) end
  local ok, cfg = pcall(chunk)
  if not ok then usage("--config %s failed: %s", path, tostring(cfg)) end
  if type(cfg) ~= "table" then usage("--config %s must return a table, not a %s", path, type(cfg)) end
  for k, v in pairs(cfg) do
    if not services.by_name[k] then
      usage("--config %s: unknown service '%s' (services: %s)", path, tostring(k), services.names_text())
    end
    if type(v) ~= "table" then usage("--config %s: %s must be a table of options", path, k) end
  end
  return cfg
end

--- Whether option is one of the credentials of service s.
local function is_credential_of(s, option)
  for _, k in ipairs(s.credentials) do if k == option then return true end end
  return false
end

--- config.options_for(s, cfg, getenv) -> the client options of service s, or
-- nil and the message saying what is missing. Options of the config file
-- come first; environment variables fill the others (the credentials only
-- when the file names none).
function config.options_for(s, cfg, getenv)
  local options = {}
  for k, v in pairs(cfg and cfg[s.name] or {}) do options[k] = v end
  local has_credentials = false
  for _, k in ipairs(s.credentials) do
    if options[k] ~= nil then has_credentials = true end
  end
  local var, from = {}, {} -- option -> its variable; option -> where its value came from
  for k in pairs(options) do from[k] = ("%s in the --config file"):format(k) end
  for _, e in ipairs(s.env) do
    local option, name = e.option, e.variable
    var[option] = name
    local value = getenv(name)
    if value == "" then value = nil end
    local is_credential = is_credential_of(s, option)
    if options[option] == nil and value ~= nil and not (is_credential and has_credentials) then
      options[option], from[option] = value, name
    end
  end
  local where = " (or set it in the " .. s.name .. " table of the --config file)"
  if s.default_url == nil and options.url == nil then
    return nil, ("%s needs its base URL: set %s%s"):format(s.name, var.url, where)
  end
  if s.credentials_problem then
    local problem = s.credentials_problem(options, from, var)
    if problem then return nil, problem end
  elseif options.token == nil then
    return nil, ("%s needs an API token: set %s%s"):format(s.name, var.token, where)
  end
  return options
end

--- The headers of options with the --header ones of the command on top
-- (replacing a header of the same name in any case).
local function headers_with(options, given)
  local headers = {}
  for k, v in pairs(type(options.headers) == "table" and options.headers or {}) do headers[k] = v end
  for _, h in ipairs(given) do
    for k in pairs(headers) do
      if type(k) == "string" and k:lower() == h[1]:lower() then headers[k] = nil end
    end
    headers[h[1]] = h[2]
  end
  return headers
end

--- config.client(s, state) -> a client of service s; a usage error when it
-- cannot be configured.
function config.client(s, state)
  local options, missing = config.options_for(s, state.config, state.ctx.getenv)
  if not options then usage("%s", missing) end
  -- --timeout, --header and --retries win over the --config file.
  if state.timeout then options.timeout = state.timeout end
  if state.headers then options.headers = headers_with(options, state.headers) end
  if state.retries == 0 then
    options.retries = false
  elseif state.retries or options.retries == nil then
    local retries = {}
    local base = options.retries == nil and CLI_RETRIES or options.retries
    for k, v in pairs(type(base) == "table" and base or {}) do retries[k] = v end
    retries.max = state.retries or retries.max
    options.retries = retries
  end
  if state.dry_run or options.dry_run == true then
    -- the lines of the dry run are the command's output: a write that fails is a failure
    options.dry_run = function(line) err_out(state, line .. "\n") end
  end
  local ok, client = pcall(eventapi[s.name], options)
  if not ok then
    local message = Error.is(client) and tostring(client.message):gsub("^%w+: ", "") or tostring(client)
    usage("%s client: %s", s.name, message)
  end
  return client
end

return config
