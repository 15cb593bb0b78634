--- The registry of the services: each name and its service table (the
-- operation rows, common params, headers, hooks), in one place for the
-- client constructors, the CLI, the API reference and the specs.
local M = {
  names = { "losant", "connectdaily", "monterosa" },
  losant = require "eventapi.losant",
  connectdaily = require("eventapi.connectdaily").service,
  monterosa = require("eventapi.monterosa").service,
}

--- services.of(name) -> the service table of that name; raises for an unknown name.
function M.of(name)
  local service = M[name]
  if type(service) ~= "table" or not service.operations then error("no service named " .. tostring(name), 2) end
  return service
end

return M
