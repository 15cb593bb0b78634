-- Every Losant operation once, each result checked (an event it creates is the one it edits and deletes).
local eventapi = require "eventapi"
local APP, INTEGRATION = "575ec8687ae143cd83dc4a97", "575ed78e7ae143cd83dc4aab"
return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local ev = c.events.post({ applicationId = APP, event = { level = "info", subject = "oom", message = "m" } }):await()
  assert(ev.subject == "oom" and type(ev.id) == "string", "wrong result: events.post")
  assert(c.event.get({ applicationId = APP, eventId = ev.id }):await().id == ev.id, "wrong result: event.get")
  local patched = c.event.patch({ applicationId = APP, eventId = ev.id, event = { comment = "c" } }):await()
  assert(patched.id == ev.id, "wrong result: event.patch")
  local page = c.events.get({ applicationId = APP, perPage = 2, page = 0 }):await()
  assert(type(page.items) == "table", "wrong result: events.get")
  assert(type(c.events.mostRecentBySeverity({ applicationId = APP }):await()) == "table", "wrong result: mostRecent")
  assert(type(c.events.patch({ applicationId = APP, query = { subject = "none-such" },
                               updates = { state = "resolved" } }):await()) == "table", "wrong result: events.patch")
  assert(type(c.events.export({ applicationId = APP, exportData = { email = "a@b.c" } }):await()) == "table",
         "wrong result: events.export")
  assert(c.integration.get({ applicationId = APP, integrationId = INTEGRATION }):await().id == INTEGRATION,
         "wrong result: integration.get")
  assert(c.integration.patch({ applicationId = APP, integrationId = INTEGRATION, integration = { enabled = true } })
         :await().id == INTEGRATION, "wrong result: integration.patch")
  assert(type(c.integrations.get({ applicationId = APP }):await().items) == "table", "wrong result: integrations.get")
  assert(type(c.event.delete({ applicationId = APP, eventId = ev.id }):await()) == "table", "wrong result: event.delete")
  local doomed = c.events.post({ applicationId = APP, event = { level = "info", subject = "oom-bulk" } }):await()
  assert(c.events.delete({ applicationId = APP, query = { id = doomed.id } }):await().removed == 1,
         "wrong result: events.delete") -- (a query that matches nothing is 404, as Losant answers)
  return true
end)
