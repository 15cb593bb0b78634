-- A memory error that escapes the loop (out of eventapi.step) loses
-- nothing: the script catches it and goes on stepping, and every call still
-- settles, with its right value, within 5 s. (The other scripts end at the
-- first memory error that escapes; a host that catches it and goes on
-- must not wait for ever on a completion the loop read and then dropped.)
-- A call whose own outcome is a memory error ends the run, as elsewhere.
local eventapi = require "eventapi"
local APP = "575ec8687ae143cd83dc4a97"
local EVENT = "575ed0de7ae143cd83dc4aa5"
local MISSING = "000000000000000000000000"

local function is_memory(e)
  return e == "not enough memory" or type(e) == "table" and e.type == "OutOfMemory"
end

return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  --- Watches p: -> a function that steps the loop until p settled and
  -- returns its outcome (ok, value); a memory error out of a step is caught
  -- and the stepping goes on.
  local function watch(p, what)
    local settled, ok, value = false, nil, nil
    local function on_ok(v) settled, ok, value = true, true, v end
    local function on_err(e) settled, ok, value = true, false, e end
    repeat
      local attached, e = pcall(p.next, p, on_ok, on_err)
      if not attached and not is_memory(e) then error(e, 0) end
    until attached
    return function()
      local deadline = os.time() + 5
      while not settled do
        if os.time() > deadline then error("wrong result: " .. what .. " did not settle within 5 s", 0) end
        local stepped, e = pcall(eventapi.step, 50)
        if not stepped and not is_memory(e) then error(e, 0) end
      end
      if not ok and is_memory(value) then error(value, 0) end -- the call's own outcome: accepted
      return ok, value
    end
  end

  local get = watch(c.event.get({ applicationId = APP, eventId = EVENT }), "event.get")
  local post = watch(c.events.post({ applicationId = APP, event = { subject = "await again", level = "info" } }),
                     "events.post")
  local missing = watch(c.event.get({ applicationId = APP, eventId = MISSING }), "a missing event's get")
  local page = watch(c.events.get({ applicationId = APP, perPage = 2 }), "events.get")
  local sleep = watch(eventapi.sleep(0.01), "a sleep")

  --- Raises a wrong result naming what and the outcome it got, unless good.
  local function check(good, what, ok, v)
    if good then return end
    error(("wrong result: %s (%s, %s)"):format(what, tostring(ok), type(v) == "table" and tostring(v.type) .. ": " .. tostring(v.message or v.id) or tostring(v)), 0)
  end

  local ok, v = get()
  check(ok and type(v) == "table" and v.id == EVENT, "event.get", ok, v)
  ok, v = post()
  check(ok and type(v) == "table" and v.subject == "await again", "events.post", ok, v)
  ok, v = missing()
  check(not ok and type(v) == "table" and v.type == "NotFound", "a missing event's get", ok, v)
  ok, v = page()
  check(ok and type(v) == "table" and type(v.items) == "table" and #v.items == 2, "events.get", ok, v)
  ok, v = sleep()
  check(ok, "a sleep", ok, v)
  return true
end)
