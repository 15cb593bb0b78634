-- A client closed with 10 requests in flight: every one rejects with Closed; a later call too.
local eventapi = require "eventapi"
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
return pcall(function()
  local c = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local list = {}
  for i = 1, 10 do list[i] = c.event.get({ applicationId = APP, eventId = EVENT }) end
  c:close()
  local outcomes = eventapi.settle(list):await()
  for i = 1, 10 do
    local o = outcomes[i]
    if o.status ~= "rejected" then error("wrong result: request " .. i .. " was not rejected", 0) end
    if type(o.reason) ~= "table" or o.reason.type ~= "Closed" then error(o.reason, 0) end
  end
  local ok, err = pcall(function() return c.event.get({ applicationId = APP, eventId = EVENT }):await() end)
  if ok then error("wrong result: a closed client made a call", 0) end
  if type(err) ~= "table" or err.type ~= "Closed" then error(err, 0) end
  return true
end)
