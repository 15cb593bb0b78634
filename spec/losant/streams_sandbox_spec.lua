-- The client's streams against the sandbox's (docs/PROTOCOLS.md 1.12): what
-- device.sendState, devices.sendCommand and application.mqttPublishMessage
-- send reaches device.stateStream, device.commandStream and
-- application.mqttSubscriptionStream; keep-alives, faults, reconnection.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local T = sandbox.time

--- Runs fn inside eventapi.spawn and drives the loop; -> fn's result.
local function spawned(fn)
  local p = eventapi.spawn(fn)
  eventapi.run()
  return p:await()
end

describe("Losant streams against the sandbox", function()
  local sb, losant

  setup(function()
    sb = sandbox.start({ faults = true })
    losant = eventapi.losant({ url = sb.url, token = sandbox.token })
  end)
  teardown(function()
    losant:close()
    sb.stop()
  end)

  local function new_device(name, tags)
    return losant.devices.post({ applicationId = APP, device = { name = name, tags = tags } }):await().id
  end

  it("device.stateStream carries the states device.sendState keeps, in order", function()
    local id = new_device("stream-state")
    local s = losant.device.stateStream({ applicationId = APP, deviceId = id })
    local got = spawned(function()
      s.ready:await()
      losant.device.sendState({ applicationId = APP, deviceId = id, deviceState = { data = { temp = 20 } } }):await()
      losant.device.sendState({ applicationId = APP, deviceId = id, deviceState = { { data = { temp = 21 } },
                                                                              { data = { temp = 22 } } } }):await()
      local out = {}
      for msg in s:messages() do
        out[#out + 1] = msg
        if #out == 3 then s:close() end
      end
      return out
    end)
    assert.are.same({ 20, 21, 22 }, { got[1].data.data.temp, got[2].data.data.temp, got[3].data.data.temp })
    assert.are.equal("deviceState", got[1].event)
    assert.is_string(got[1].data.time)
    assert.is_true(tonumber(got[2].id) > tonumber(got[1].id))
  end)

  it("device.commandStream carries devices.sendCommand by tag", function()
    local tagged = new_device("stream-cmd", { { key = "floor", value = "3" } })
    local s = losant.device.commandStream({ applicationId = APP, deviceId = tagged })
    local got = spawned(function()
      s.ready:await()
      losant.devices.sendCommand({ applicationId = APP, multiDeviceCommand = {
        name = "reboot", payload = { delay = 5 }, deviceTags = { { key = "floor", value = "3" } } } }):await()
      local msg = s:receive(T(5)):await()
      s:close()
      return msg
    end)
    assert.are.equal("deviceCommand", got.event)
    assert.are.equal("reboot", got.data.name)
    assert.are.same({ delay = 5 }, got.data.payload)
  end)

  it("application.mqttSubscriptionStream takes only the topics it filters", function()
    local s = losant.application.mqttSubscriptionStream({ applicationId = APP, topic = "plant/+/alarm" })
    local got = spawned(function()
      s.ready:await()
      for _, topic in ipairs({ "plant/a/status", "plant/b/alarm" }) do
        losant.application.mqttPublishMessage({ applicationId = APP,
          payload = { topic = topic, message = "m-" .. topic } }):await()
      end
      local msg = s:receive(T(5)):await()
      s:close()
      return msg
    end)
    assert.are.equal("mqttMessage", got.event)
    assert.are.equal("plant/b/alarm", got.data.topic)
  end)

  it("stays open past stall_timeout while keep-alives come", function()
    local id = new_device("stream-quiet")
    local s = losant.device.stateStream({ applicationId = APP, deviceId = id, keepAliveInterval = 1 },
                                        { stall_timeout = 2 })
    local open = spawned(function()
      eventapi.sleep(3.5):await()
      local open = s:is_open()
      s:close() -- (an open stream keeps eventapi.run going)
      return open
    end)
    assert.is_true(open)
  end)

  it("ends with Timeout when the sandbox stalls it", function()
    local id = new_device("stream-stall")
    local s = losant.device.stateStream({ applicationId = APP, deviceId = id, keepAliveInterval = 1,
                                          headers = { ["X-Sandbox-Fault"] = "stream-stall" } }, { stall_timeout = 1 })
    local ok, err = pcall(function() return s:receive(T(10)):await() end)
    assert.is_false(ok)
    assert.are.equal("Timeout", err.type)
    assert.matches("(stall_timeout)", err.message, 1, true)
  end)

  it("says a stream waited for a connection when max_connections were all held by streams", function()
    -- In a child process: max_connections is the process's (the largest any client asked).
    local id = new_device("stream-no-connection")
    local ok, out, err = sandbox.run_lua(([=[
      local eventapi = require "eventapi"
      local c = eventapi.losant({ url = %q, token = %q, max_connections = 1 })
      local params = { applicationId = %q, deviceId = %q, keepAliveInterval = 60 }
      local first = c.device.stateStream(params)
      assert(first.ready:await() == true)
      local second = c.device.stateStream(params, { stall_timeout = 1 })
      local got, e = pcall(second.ready.await, second.ready)
      print(got, e.type, e.message, first:is_open())
      c:close()
    ]=]):format(sb.url, sandbox.token, APP, id))
    assert.is_true(ok, err)
    assert.are.equal("false\tTimeout\tthe stream got no connection within 1 s (stall_timeout): max_connections (1) "
      .. "were all taken, and an open stream holds its connection\ttrue\n", out)
  end)

  it("reconnects after a dropped stream with the last event id, and carries on", function()
    local id = new_device("stream-drop")
    local s = losant.device.stateStream({ applicationId = APP, deviceId = id,
                                          headers = { ["X-Sandbox-Fault"] = "stream-drop=1, stream-retry=50" } },
                                        { reconnect = true })
    local reconnects = {}
    s:on("reconnect", function(info) reconnects[#reconnects + 1] = info end)
    local got = spawned(function()
      s.ready:await()
      losant.device.sendState({ applicationId = APP, deviceId = id, deviceState = { data = { n = 1 } } }):await()
      local first = s:receive(T(5)):await()
      eventapi.sleep(0.5):await() -- (the reconnection waits retry: 50 ms)
      losant.device.sendState({ applicationId = APP, deviceId = id, deviceState = { data = { n = 2 } } }):await()
      local second = s:receive(T(5)):await()
      s:close()
      return { first, second }
    end)
    assert.are.same({ 1, 2 }, { got[1].data.data.n, got[2].data.data.n })
    assert.is_true(#reconnects >= 1) -- (the fault header goes with every reconnection: the second stream drops too)
    assert.are.equal(0.05, reconnects[1].wait)
    assert.are.equal(1, reconnects[1].attempt)
    local last_id
    for _, r in ipairs(sandbox.requests(sb)) do
      if r.path:find("/devices/" .. id .. "/stateStream", 1, true) then last_id = r.headers["last-event-id"] or last_id end
    end
    assert.are.equal(got[1].id, last_id)
  end)

  it("refuses an unknown device with NotFound before any stream", function()
    local s = losant.device.stateStream({ applicationId = APP, deviceId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    local ok, err = pcall(function() return s:receive():await() end)
    assert.is_false(ok)
    assert.are.equal("NotFound", err.type)
    assert.are.equal(404, err.status)
  end)

  it("refuses a bad token with Unauthorized, the token never in the error", function()
    local other = eventapi.losant({ url = sb.url, token = "not-a-token-xyz" })
    local s = other.device.stateStream({ applicationId = APP, deviceId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    local ok, err = pcall(function() return s:receive():await() end)
    assert.is_false(ok)
    assert.are.equal("Unauthorized", err.type)
    assert.is_nil(tostring(err):find("not-a-token-xyz", 1, true))
    other:close()
  end)
end)
