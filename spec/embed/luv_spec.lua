-- Embedding in a libuv host: eventapi.pollfd and eventapi.timeout watched by
-- luv handles, and the eventapi.luv adapter, over real HTTP to the sandbox.
local uv = require "luv"
local eventapi = require "eventapi"
local driver_module = require "eventapi.luv"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local sb, losant

setup(function()
  sb = sandbox.start({ faults = true })
  losant = eventapi.losant({ url = sb.url, token = sandbox.token })
end)
teardown(function()
  uv.run("nowait") -- let closed handles finish before the state closes
  sb.stop()
end)

--- Runs uv until fn's poll callback saw the descriptor readable (true) or
-- seconds passed (false), without calling eventapi.step in between.
local function readable_within(seconds)
  local poll, guard = uv.new_poll(eventapi.pollfd()), uv.new_timer()
  local seen = false
  poll:start("r", function() seen = true; uv.stop() end)
  guard:start(math.floor(sandbox.time(seconds) * 1000), 0, function() uv.stop() end)
  uv.run("default")
  poll:close(); guard:close()
  uv.run("nowait")
  return seen
end

describe("the descriptor of eventapi.pollfd", function()
  after_each(function() eventapi.run() end)

  it("is an integer that stays the same", function()
    assert.are.equal("integer", math.type(eventapi.pollfd()))
    assert.are.equal(eventapi.pollfd(), eventapi.pollfd())
  end)

  it("turns readable when a timer is due, with no step in between", function()
    eventapi.sleep(0.05)
    assert.is_true(readable_within(2))
  end)

  it("stays quiet while a timer is not due", function()
    local p = eventapi.sleep(sandbox.time(0.5))
    assert.is_false(readable_within(0.1))
    p:await()
  end)

  it("turns readable when handlers are queued outside step", function()
    eventapi.run()
    eventapi.resolve(1):next(function() end)
    assert.is_true(readable_within(2))
  end)

  it("turns readable when an answer arrives", function()
    local p = losant.event.get({ applicationId = APP, eventId = EVENT })
    eventapi.step(0) -- the request goes out
    local seen = readable_within(2)
    assert.is_true(seen)
    assert.are.equal(EVENT, p:await().id)
  end)

  it("stays quiet while an answered call's connection sits idle in the pool", function()
    losant.event.get({ applicationId = APP, eventId = EVENT }):await()
    assert.is_false(readable_within(0.3))
  end)

  it("is quiet again after one step once the server closed an idle connection, and the next call succeeds",
    function()
      local closing = sandbox.start({ args = { "--header-timeout", "1" } }) -- closes idle connections after 1 s
      local client = eventapi.losant({ url = closing.url, token = sandbox.token })
      local ok, err = pcall(function()
        client.event.get({ applicationId = APP, eventId = EVENT }):await()
        -- The sandbox closes the kept-alive connection after 1 s: the descriptor
        -- wakes for it (or a deadline of curl's) a few times, then stays quiet
        -- for 2.5 s; a closed connection left in the set would wake it for ever.
        local wakes = 0
        while wakes < 10 and readable_within(2.5) do
          eventapi.step(0)
          wakes = wakes + 1
        end
        assert.is_true(wakes >= 1 and wakes < 10, ("%d wakes"):format(wakes))
        assert.are.equal(EVENT, client.event.get({ applicationId = APP, eventId = EVENT }):await().id)
      end)
      client:close()
      closing.stop()
      assert(ok, err)
    end)
end)

describe("eventapi.timeout", function()
  it("is nil when nothing is pending", function()
    eventapi.run()
    assert.is_nil(eventapi.timeout())
  end)

  it("is 0 when handlers are queued", function()
    eventapi.resolve(1):next(function() end)
    assert.are.equal(0, eventapi.timeout())
    eventapi.run()
  end)

  it("is the seconds until the next timer", function()
    local p = eventapi.sleep(0.3)
    local t = eventapi.timeout()
    assert.is_true(t > 0 and t <= 0.3, tostring(t))
    p:await()
  end)
end)

describe("eventapi.step(0)", function()
  it("never blocks, even with a timer pending", function()
    local p = eventapi.sleep(sandbox.time(1))
    local started = uv.hrtime()
    assert.is_true(eventapi.step(0))
    assert.is_true((uv.hrtime() - started) / 1e9 < sandbox.time(0.5))
    p:await()
  end)
end)

describe("the eventapi.luv adapter", function()
  it("drives a call to its callback from uv.run", function()
    local got
    losant.event.get({ applicationId = APP, eventId = EVENT }, function(err, ev) got = err or ev.id; uv.stop() end)
    local driver = driver_module.start()
    uv.run("default")
    driver:stop()
    uv.run("nowait")
    assert.are.equal(EVENT, got)
  end)

  it("drives work the host starts from its own uv callbacks", function()
    local got
    local host_timer = uv.new_timer()
    host_timer:start(20, 0, function()
      host_timer:close()
      losant.event.get({ applicationId = APP, eventId = EVENT }, function(err, ev) got = err or ev.id; uv.stop() end)
    end)
    local driver = driver_module.start()
    uv.run("default")
    driver:stop()
    uv.run("nowait")
    assert.are.equal(EVENT, got)
  end)

  it("sleeps while a request is held a second: a handful of steps, not a busy loop", function()
    local slow = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "delay=1000" } })
    local got
    slow.event.get({ applicationId = APP, eventId = EVENT }, function(err, ev) got = err or ev.id; uv.stop() end)
    local driver = driver_module.start()
    uv.run("default")
    driver:stop()
    uv.run("nowait")
    assert.are.equal(EVENT, got)
    assert.is_true(driver.steps < 30, "steps: " .. driver.steps)
  end)

  it("lets uv.run return by itself once nothing is left", function()
    local done = false
    losant.event.get({ applicationId = APP, eventId = EVENT }, function() done = true end)
    local driver = driver_module.start()
    uv.run("default") -- no uv.stop anywhere: it returns when eventapi has nothing pending
    driver:stop()
    uv.run("nowait")
    assert.is_true(done)
    assert.is_false(eventapi.pending())
  end)

  it("raises an unhandled failure out of eventapi.luv.run, as an eventapi.Error", function()
    losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    local ok, err = pcall(driver_module.run)
    assert.is_false(ok)
    assert.are.equal("NotFound", err.type)
  end)

  it("hands failures to on_error and keeps driving", function()
    local failures, got = {}, nil
    -- (the two answers come in either order: stop once both are in, or after 10 s)
    local function both_in() if got and #failures == 1 then uv.stop() end end
    losant.event.get({ applicationId = APP, eventId = "aaaaaaaaaaaaaaaaaaaaaaaa" })
    losant.event.get({ applicationId = APP, eventId = EVENT }, function(err, ev) got = err or ev.id; both_in() end)
    local driver = driver_module.start({ on_error = function(err) failures[#failures + 1] = err; both_in() end })
    local limit = uv.new_timer()
    limit:start(10000, 0, function() uv.stop() end)
    uv.run("default")
    limit:close()
    driver:stop()
    uv.run("nowait")
    assert.are.equal(EVENT, got)
    assert.are.equal(1, #failures)
    assert.are.equal("NotFound", failures[1].type)
  end)
end)

describe("eventapi.luv", function()
  it("is the adapter module, loaded on first use", function()
    assert.are.equal(driver_module, eventapi.luv)
  end)

  it("is InvalidUse naming lua-luv when luv cannot be loaded", function()
    local ok, out = sandbox.run_lua([[
      package.preload.luv = function() error("module 'luv' not found", 0) end
      local eventapi = require "eventapi"
      assert(eventapi.losant, "eventapi loads without luv")
      local ok, err = pcall(function() return eventapi.luv end)
      io.write(tostring(ok), "|", err.type, "|", err.message)
    ]])
    assert.is_true(ok)
    assert.are.equal("false|InvalidUse|eventapi.luv needs lua-luv (Debian: apt-get install lua-luv): "
                     .. "module 'luv' not found", out)
  end)
end)
