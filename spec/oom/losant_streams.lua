-- A device's state stream (device.stateStream): opened, states posted and
-- received pulled and by a callback, closed; a stalled stream read with a
-- short timeout (Timeout) and closed; a stream too small for its message
-- (max_message: InvalidResponse); with a sandbox started with --faults also
-- a dropped stream reconnected (stream-drop=1, stream-retry=10) that gets
-- the next state on its new connection, and one without reconnection that
-- fails with ConnectionFailed. Every outcome is checked; the fault parts
-- find out whether the sandbox honours X-Sandbox-Fault (a 418 asked of a
-- device.get) and skip the drop without it (tools/check-oom starts its
-- sandbox with --faults; stream-stall without it is a quiet stream, read
-- the same way). Waits on a stream's own events are bounded (within: 5 s,
-- receive: 10 s), so that a record the library loses under a memory error
-- shows as a wrong result at that N instead of a run that never ends.
local eventapi = require "eventapi"
local APP = "575ec8687ae143cd83dc4a97"
return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local id = c.devices.post({ applicationId = APP, device = { name = "oom-stream" } }):await().id
  assert(type(id) == "string", "wrong result: devices.post")
  local function send(n)
    c.device.sendState({ applicationId = APP, deviceId = id, deviceState = { data = { n = n } } }):await()
  end
  local function open(fault, options)
    return c.device.stateStream({ applicationId = APP, deviceId = id, keepAliveInterval = 60,
                                  headers = fault and { ["X-Sandbox-Fault"] = fault } or nil }, options)
  end
  --- Raises err unless it is an error of that type (a memory error goes out as it is).
  local function expect(err, kind)
    if type(err) ~= "table" or err.type ~= kind then error(err, 0) end
  end
  --- What a message was, for a wrong result's reason.
  local function shown(msg)
    if type(msg) ~= "table" then return tostring(msg) end
    local n = type(msg.data) == "table" and type(msg.data.data) == "table" and msg.data.data.n
    return ("%s id=%s n=%s"):format(tostring(msg.event), tostring(msg.id), tostring(n))
  end
  --- A promise and the function that fulfils it.
  local function deferred()
    local fulfil
    local p = eventapi.promise(function(resolve) fulfil = resolve end)
    return p, fulfil
  end
  --- p's value, the loop driven until it settles; raises its failure, or
  -- a wrong result when it does not settle within 5 s (a record the
  -- stream lost would otherwise hang the run).
  local function within(p, what)
    local settled, ok, value = false, nil, nil
    p:next(function(v) settled, ok, value = true, true, v end, function(e) settled, ok, value = true, false, e end)
    local deadline = os.time() + 5
    while not settled do
      if os.time() > deadline then error("wrong result: " .. what .. " did not settle within 5 s", 0) end
      eventapi.step(50)
    end
    if not ok then error(value, 0) end
    return value
  end
  --- Awaits p and returns its failure; raises when it was fulfilled.
  local function failure(p, what)
    local ok, err = pcall(p.await, p)
    if ok then error("wrong result: " .. what .. " did not fail", 0) end
    return err
  end

  -- 1. two messages, the first pulled, the second by a callback; closed
  local s <close> = open()
  assert(within(s.ready, "ready") == true, "wrong result: ready")
  send(1)
  local m = s:receive(10):await()
  assert(m and m.event == "deviceState" and m.data.data.n == 1 and m.id, "wrong result: the first message")
  local second, got_second, lost_second
  second = eventapi.promise(function(resolve, reject) got_second, lost_second = resolve, reject end)
  s:on("message", got_second)
  s:on("error", lost_second) -- (a callback's failure comes to the error callbacks)
  send(2)
  m = within(second, "the message by callback")
  assert(type(m) == "table" and m.data.data.n == 2, "wrong result: the second message")
  s:close()
  assert(s.done:await() == true and not s:is_open(), "wrong result: done after close")
  assert(s:receive():await() == nil, "wrong result: receive after close")

  -- 2. a stalled stream: no message within 50 ms (Timeout), then closed
  local stalled <close> = open("stream-stall")
  within(stalled.ready, "the stalled stream's ready")
  expect(failure(stalled:receive(0.05), "receive on a stalled stream"), "Timeout")
  stalled:close()
  assert(stalled.done:await() == true, "wrong result: the stalled stream's done")

  -- 3. a message over max_message fails the stream
  local small <close> = open(nil, { max_message = 16 })
  within(small.ready, "the small stream's ready")
  local failed, fail = deferred()
  small:on("error", fail) -- (a stream that fails with nobody listening raises out of the loop: send's await)
  send(3)
  local err = within(failed, "the small stream's error")
  expect(err, "InvalidResponse")
  assert(err.message:find("max_message", 1, true), "wrong result: " .. tostring(err.message))
  assert(failure(small.done, "done of a failed stream") == err, "wrong result: done of a failed stream")
  assert(failure(small:receive(), "receive on a failed stream") == err, "wrong result: receive on a failed stream")

  -- 4. drops, when the sandbox makes them
  local probe = c.device.get({ applicationId = APP, deviceId = id, headers = { ["X-Sandbox-Fault"] = "status=418" } })
  local ok, perr = pcall(probe.await, probe)
  if not ok then
    if type(perr) ~= "table" or perr.status ~= 418 then error(perr, 0) end
    local dropped <close> = open("stream-drop=1, stream-retry=10", { reconnect = 1 })
    local opens, reconnects = 0, 0
    local reopen, lost
    local reopened = eventapi.promise(function(resolve, reject) reopen, lost = resolve, reject end)
    dropped:on("open", function() opens = opens + 1; if opens == 2 then reopen(true) end end)
    dropped:on("error", lost) -- (a failure on the way, a memory error, comes here)
    dropped:on("reconnect", function(info)
      reconnects = reconnects + 1
      assert(info.attempt == 1 and info.wait == 0.01 and info.error.type == "ConnectionFailed", "wrong result: reconnect info")
    end)
    within(dropped.ready, "the dropped stream's ready")
    send(4)
    m = dropped:receive(10):await()
    assert(m and m.data.data.n == 4, "wrong result: the message before the drop: " .. shown(m))
    within(reopened, "the reconnection")
    send(5)
    m = dropped:receive(10):await()
    assert(m and m.data.data.n == 5 and reconnects >= 1, "wrong result: the message after the reconnection: " .. shown(m) .. ", reconnects " .. reconnects)
    dropped:close()
    assert(dropped.done:await() == true, "wrong result: the reconnected stream's done")

    local once <close> = open("stream-drop=1")
    local ended, ends = deferred()
    once:on("error", ends)
    within(once.ready, "the last stream's ready")
    send(6)
    m = once:receive(10):await()
    assert(m and m.data.data.n == 6, "wrong result: the message before the last drop: " .. shown(m))
    err = within(ended, "the drop")
    expect(err, "ConnectionFailed")
    assert(failure(once:receive(10), "receive after a drop") == err, "wrong result: receive after a drop")
    assert(failure(once.done, "done of a dropped stream") == err, "wrong result: done of a dropped stream")
  else
    assert(type(perr) == "table" and perr.id == id, "wrong result: device.get")
  end
  return true
end)
