-- The loop's timers (a binary heap in src/loop.c): many timers pending at
-- once fire in the order of their deadlines, also after some are cancelled
-- from the middle of the heap.
local eventapi = require "eventapi"
local core = require "eventapi.core"
local sandbox = require "helpers.sandbox"

-- delays are scaled for slow runs (EVENTAPI_TIME_SCALE): the timers must be
-- created well within the smallest gap between two deadlines
local SCALE = sandbox.time(1)

--- Starts a timer of ms milliseconds per entry of list; returns the list the
-- handlers fill with each timer's ms as it fires, and the timers' ids.
local function start(list)
  local fired, ids = {}, {}
  for i, ms in ipairs(list) do
    local p, id = core.timer(ms * SCALE / 1000)
    ids[i] = id
    p:next(function() fired[#fired + 1] = ms end)
  end
  return fired, ids
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

describe("timers", function()
  it("seven pending timers fire in the order of their deadlines, not of their creation", function()
    local fired = start({ 50, 10, 40, 20, 30, 60, 15 })
    eventapi.run()
    assert.are.same({ 10, 15, 20, 30, 40, 50, 60 }, fired)
  end)

  it("thirty pending timers created in a scrambled order fire sorted", function()
    local list = {}
    for i = 1, 30 do list[i] = (i * 7) % 30 * 10 + 5 end -- 5 to 295 ms, 10 ms apart, scrambled
    local fired = start(list)
    eventapi.run()
    assert.are.same(sorted(list), fired)
  end)

  it("after a timer is cancelled from the middle of the heap the others still fire sorted", function()
    -- the heap array is 5 110 50 125 180 95 85 (ms); cancelling 125 moves
    -- the last one, 85, into its slot under 110, above which it must climb:
    -- left there, it would fire after 95
    local list = { 95, 125, 50, 110, 180, 85, 5 }
    local fired, ids = start(list)
    assert.is_true(core.cancel_timer(ids[2])) -- the 125 ms timer
    eventapi.run()
    assert.are.same({ 5, 50, 85, 95, 110, 180 }, fired)
  end)

  it("a cancelled timer's promise stays pending and run does not wait for it", function()
    local p, id = core.timer(5)
    local started = core.now()
    assert.is_true(core.cancel_timer(id))
    assert.is_false(core.cancel_timer(id))
    eventapi.run()
    assert.is_true(core.now() - started < 1)
    assert.are.equal("pending", p:state())
  end)
end)
