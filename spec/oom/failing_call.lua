-- A call that fails (404): the error object must name NotFound, as a rejection and through a callback.
local eventapi = require "eventapi"
local APP = "575ec8687ae143cd83dc4a97"
local MISSING = "000000000000000000000000"
return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local ok, err = pcall(function() return c.event.get({ applicationId = APP, eventId = MISSING }):await() end)
  if ok then error("wrong result: a missing event was found", 0) end
  if type(err) ~= "table" or err.type ~= "NotFound" then error(err, 0) end -- a memory error passes through
  local seen
  c.event.get({ applicationId = APP, eventId = MISSING }, function(e) seen = e end)
  eventapi.run()
  if type(seen) ~= "table" or seen.type ~= "NotFound" then error(seen or "wrong result: no callback", 0) end
  return true
end)
