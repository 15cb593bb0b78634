-- A Monterosa live event created, read back and its fields checked.
local eventapi = require "eventapi"
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
return pcall(function()
  local mr <close> = eventapi.monterosa({ url = os.getenv("EVENTAPI_OOM_URL") .. "/api/v2",
                                          token = "sandbox-monterosa-token" })
  local ev = mr.events.create({ project_id = PROJECT, name = "Match", start_mode = "manual", duration = 3600, start_at = 1796153400 }):await()
  assert(ev.name == "Match" and ev.project_id == PROJECT, "wrong result: create")
  local again = mr.events.get({ event_id = ev.id }):await()
  assert(again.id == ev.id and again.duration == 3600, "wrong result: get")
  return true
end)
