-- A Connect Daily weekly series created, one occurrence forked, the copy read back, both deleted
-- (a fresh series each run: a fork leaves an exception on its series).
local eventapi = require "eventapi"
return pcall(function()
  local cd <close> = eventapi.connectdaily({ url = os.getenv("EVENTAPI_OOM_URL"), user = "api",
                                             password = "sandbox-password" })
  local created = cd.events.create({ event = { calendar_id = 3, description = "oom", rec_type = 1, starting_time = "09:00", ending_time = "10:00",
                                          starting_date = "2026-12-01", ending_date = "2027-06-29" } }):await()
  local id = type(created) == "table" and created.cal_item_id
  assert(math.type(id) == "integer", "wrong result: create gave " .. tostring(created))
  local copy = cd.events.fork({ cal_item_id = id, starting_date = "2027-01-05" }):await()
  assert(math.type(copy) == "integer" and copy ~= id, "wrong result: fork gave " .. tostring(copy))
  local ev = cd.events.get({ cal_item_id = copy }):await()
  assert(ev.cal_item_id == copy, "wrong result: the fork reads back as another event")
  assert(cd.events.delete({ cal_item_id = copy }):await() == true, "wrong result: delete of the copy")
  assert(cd.events.delete({ cal_item_id = id }):await() == true, "wrong result: delete of the series")
  return true
end)
