--- eventapi: clients for event APIs with promises, callbacks and await, on
-- one loop for the whole process (see README.md).
local core = require "eventapi.core"
local Error = require "eventapi.errors"

--- A function like fn whose failures are errors naming the function: an
-- error object (the codec's) keeps its type and fields, its message after
-- the name; a plain text (the date helpers') becomes an InvalidParams error.
local function checked(name, fn)
  local prefix = name .. ": "
  return function(...)
    local ok, result = pcall(fn, ...)
    if ok then return result end
    if Error.is(result) then
      local message = tostring(result.message)
      if message:sub(1, #prefix) == prefix then error(result, 0) end
      local copy = {}
      for k, v in pairs(result) do copy[k] = v end
      copy.message = prefix .. message
      error(Error.new(copy), 0)
    end
    Error.raise("InvalidParams", "%s%s", prefix, tostring(result):gsub("^[^:]*%.lua:%d+: ", ""))
  end
end

local eventapi = {
  version = core.version,
  null = core.null,        -- JSON null
  Error = Error,
  json = { encode = checked("eventapi.json.encode", core.json_encode),
           decode = checked("eventapi.json.decode", core.json_decode), array = core.array, null = core.null },
}

local promise = require "eventapi.promise"
for _, name in ipairs({ "on_unhandled", "reported", "promise", "resolve", "reject", "all", "race", "settle", "spawn",
                        "sleep", "run", "step", "pollfd", "timeout", "pending" }) do
  eventapi[name] = promise[name]
end

local workflow = require "eventapi.workflow"
eventapi.map = workflow.map
eventapi.wait_for = workflow.wait_for

--- eventapi.dry_run() -> true when the whole run is a dry run (`eventapi run
-- --dry-run`, `eventapi --dry-run run`): every client, also those made with
-- dry_run = false, prints its writes and sends none. eventapi.dry_run(client)
-- -> whether that one client is a dry run (made with dry_run = true or a
-- function, or under --dry-run); a script that makes its own client with
-- dry_run = true asks this way.
function eventapi.dry_run(client)
  local Client = require "eventapi.client"
  if client == nil then return Client.dry_run_all == true end
  if getmetatable(client) ~= Client then
    Error.raise("InvalidParams", "eventapi.dry_run: expects a client or nothing, not a %s", type(client))
  end
  return client.dry_run
end

--- The constructor of the clients of a service descriptor.
local function constructor(service)
  return function(options) return require("eventapi.client").new(service, options) end
end

-- The constructors, one per service of the registry (each descriptor's doc
-- is its line of the reference): eventapi.<name>{...}; with the service's
-- functions (checked) when it has some: eventapi.connectdaily.jdn, ...
for _, service in ipairs(require("eventapi.services").list) do
  local make = constructor(service)
  if service.functions then
    local functions = {}
    for name, fn in pairs(service.functions) do
      functions[name] = checked(("eventapi.%s.%s"):format(service.name, name), fn)
    end
    eventapi[service.name] = setmetatable(functions, { __call = function(_, options) return make(options) end })
  else
    eventapi[service.name] = make
  end
end

--- eventapi.luv -> the luv driver module (require "eventapi.luv"), loaded on
-- first use so that eventapi itself does not need lua-luv; InvalidUse when
-- lua-luv is not installed.
setmetatable(eventapi, { __index = function(_, key)
  if key ~= "luv" then return nil end
  local ok, driver = pcall(require, "eventapi.luv")
  local missing = not ok and tostring(driver):find("module 'luv' not found", 1, true)
  if not ok and not missing then error(require("eventapi.errors").wrap(driver), 0) end
  if missing then
    require("eventapi.errors").raise("InvalidUse", "eventapi.luv needs lua-luv (Debian: apt-get install lua-luv): %s",
                                     tostring(driver):match("^[^\n]*"))
  end
  return driver
end })

return eventapi
