-- A host's loop: the descriptor, timeout and step(0) drive calls, a timer and
-- handlers queued outside a step (wake-ups), and an unhandled failure taken
-- by on_unhandled, with every allocation failing in turn.
local eventapi = require "eventapi"
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
return pcall(function()
  local fd = eventapi.pollfd()
  if math.type(fd) ~= "integer" then error("wrong result: pollfd is not an integer", 0) end
  local failures = {}
  local previous = eventapi.on_unhandled(function(err) failures[#failures + 1] = err end)
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local got, slept, queued = nil, false, false
  c.event.get({ applicationId = APP, eventId = EVENT }, function(err, ev) got = err or ev end)
  eventapi.sleep(0.01):next(function() slept = true end)
  eventapi.resolve(1):next(function() queued = true end)
  c.event.get({ applicationId = APP, eventId = "000000000000000000000000" }) -- nobody handles it
  local deadline = os.time() + 10
  while eventapi.step(0) do
    local t = eventapi.timeout()
    if t ~= nil and (type(t) ~= "number" or t < 0) then error("wrong result: timeout " .. tostring(t), 0) end
    if os.time() > deadline then error("wrong result: the loop never finished", 0) end
    eventapi.step(math.min(t or 0.05, 0.05) * 1000) -- waits on the descriptor, as a host's poll would
  end
  eventapi.on_unhandled(previous)
  for _, f in ipairs(failures) do
    if type(f) ~= "table" or f.type ~= "NotFound" then error(f, 0) end -- a memory error passes through
  end
  if type(got) ~= "table" or got.id ~= EVENT then error(got or "wrong result: no callback", 0) end
  if not slept or not queued then error("wrong result: a timer or a handler did not run", 0) end
  if #failures ~= 1 then error("wrong result: " .. #failures .. " unhandled failures", 0) end
  return true
end)
