-- A recursive chain of requests (each handler returns the next link, so each
-- link joins the head's class) ending in a rejection its head catches, and a
-- promise that adopts the chain when both have reactions already (their
-- lists are joined).
local eventapi = require "eventapi"
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"

--- Passes a memory error through; anything else unexpected is a wrong result.
local function expect(cond, got, what)
  if cond then return end
  if type(got) ~= "string" and type(got) ~= "table" then error("wrong result: " .. what, 0) end
  if tostring(got.message or got):find("memory") then error(got, 0) end
  error("wrong result: " .. what .. ": " .. tostring(got.message or got), 0)
end

return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local seen = 0
  local function link(k)
    return c.event.get({ applicationId = APP, eventId = EVENT }):next(function(ev)
      expect(ev.id == EVENT, ev, "link " .. k)
      seen = seen + 1
      if k == 8 then return eventapi.reject(eventapi.Error.new({ type = "X", message = "end of the line" })) end
      return link(k + 1)
    end)
  end
  local head = link(1)
  local early = head:catch(function(e) return e end) -- head has a reaction before it is adopted
  local resolve_p
  local p = eventapi.promise(function(resolve) resolve_p = resolve end)
  local from_p = p:catch(function(e) return e end) -- p has a reaction: it adopts head through one
  resolve_p(head)
  local ok, got = pcall(function() return eventapi.all({ head:catch(function(e) return e end), from_p, early }):await() end)
  expect(ok, got, "the chain")
  for i = 1, 3 do
    expect(type(got[i]) == "table" and got[i].message == "end of the line", got[i], "outcome " .. i)
  end
  expect(seen == 8, nil, seen .. " links")
  return true
end)
