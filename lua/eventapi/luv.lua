--- Drives eventapi from a luv (libuv) loop: a uv poll handle on
-- eventapi.pollfd() and a one-shot uv timer set from eventapi.timeout(), so
-- the host sleeps in libuv until eventapi has work; nothing polls.
--
--   local uv = require "luv"
--   local driver = require("eventapi.luv").start()
--   ... start calls, timers, servers of your own ...
--   uv.run()
--
-- The poll handle is referenced only while eventapi has something pending,
-- so uv.run() returns when neither eventapi nor the host has work left.
local uv = require "luv"
local eventapi = require "eventapi"
local Error = require "eventapi.errors"

local M = {}

local Driver = {}
Driver.__index = Driver
Driver.__name = "eventapi.luv.Driver"

--- driver:stop(): closes the poll and timer handles; eventapi stays usable
-- (run, step, or a new driver).
function Driver:stop()
  if self.closed then return end
  self.closed = true
  self.timer:stop()
  if not self.poll:is_closing() then self.poll:close() end
  if not self.timer:is_closing() then self.timer:close() end
end

--- eventapi.luv.start([opts]) -> driver: drives eventapi from the default
-- uv loop. opts.on_error(err) receives an error step raised (an unhandled
-- failure when eventapi.on_unhandled is not set); without it the driver
-- stops, keeps the error in driver.failure and stops uv.run().
function M.start(opts)
  opts = opts or {}
  if type(opts) ~= "table" then Error.raise("InvalidParams", "eventapi.luv.start: opts must be a table") end
  if opts.on_error ~= nil and type(opts.on_error) ~= "function" then
    Error.raise("InvalidParams", "eventapi.luv.start: on_error must be a function")
  end
  local driver = setmetatable({ poll = uv.new_poll(eventapi.pollfd()), timer = uv.new_timer(), steps = 0,
                                closed = false }, Driver)
  driver.timer:unref() -- the poll handle's reference says whether eventapi keeps the loop alive
  local function drive()
    if driver.closed then return end
    driver.steps = driver.steps + 1
    local ok, more = pcall(eventapi.step, 0)
    if not ok then
      driver.failure = Error.wrap(more)
      if opts.on_error then
        opts.on_error(driver.failure)
      else
        driver:stop()
        uv.stop()
        return
      end
      more = eventapi.pending()
    end
    if driver.closed then return end
    local wait = eventapi.timeout()
    driver.timer:stop()
    if wait then driver.timer:start(math.ceil(wait * 1000), 0, drive) end
    if more then driver.poll:ref() else driver.poll:unref() end
  end
  driver.poll:start("r", drive)
  drive()
  return driver
end

--- eventapi.luv.run() drives eventapi and the host's own handles with
-- uv.run() until neither has work left, then raises the failure that
-- stopped it, if any (an eventapi.Error).
function M.run()
  local driver = M.start()
  uv.run("default")
  driver:stop()
  uv.run("nowait") -- let the handles close
  if driver.failure then error(driver.failure, 0) end
end

return M
