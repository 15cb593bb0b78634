-- eventapi.all over 50 requests in flight: every value, in order.
local eventapi = require "eventapi"
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local list = {}
  for i = 1, 50 do
    list[i] = c.event.get({ applicationId = APP, eventId = EVENT }):next(function(ev) return { i, ev.id } end)
  end
  local values = eventapi.all(list):await()
  assert(values.n == 50, "wrong result: all gave " .. tostring(values.n) .. " values")
  for i = 1, 50 do
    assert(values[i][1] == i and values[i][2] == EVENT, "wrong result: value " .. i)
  end
  return true
end)
