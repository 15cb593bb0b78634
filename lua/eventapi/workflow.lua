--- Runbook helpers on the loop: `map` (bounded concurrency) and `wait_for`
-- (polling without blocking). Reached as eventapi.map and eventapi.wait_for.
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local Progress = require "eventapi.progress"
local promise = require "eventapi.promise"

local M = {}

--- The promise of what a function call gave: adopts a promise, wraps a value,
-- turns a raised error into a rejection.
local function outcome(ok, value)
  if ok then return promise.resolve(value) end
  return promise.reject(core.wrap(value)) -- nil too: a ScriptError saying no value was given
end

--- Raises InvalidParams naming a bad argument or option.
local function check(cond, message)
  if not cond then error(Error.new({ type = "InvalidParams", message = message }), 0) end
end

--- True when v is a finite number >= min (and <= a day for durations).
local function finite(v, min)
  return type(v) == "number" and v == v and v >= min and v <= 86400
end

--- eventapi.map(items, fn, {concurrency = 8, settle = false, progress =, label =}) -> promise.
-- Runs fn(item, i) (a promise or a value) with at most concurrency in flight.
-- Without settle: the list of results in input order, or the first error
-- (no new item starts after it). With settle: every outcome in order, as
-- {status = "fulfilled", value = v} or {status = "rejected", reason = e}.
function M.map(items, fn, opts)
  opts = opts or {}
  check(type(items) == "table", "map: items must be a list")
  check(type(fn) == "function", "map: fn must be a function")
  check(type(opts) == "table", "map: options must be a table")
  local limit = opts.concurrency or 8
  check(type(limit) == "number" and math.tointeger(limit) and limit >= 1, "map: concurrency must be a whole number >= 1, not " .. Error.show(limit))
  limit = math.tointeger(limit)
  local n = #items
  local result, results = core.promise(), core.new_list(n)
  results.n = n
  local started, finished, stopped = 0, 0, false
  local bar = Progress.new(opts.label or "map", n, opts.progress)
  --- Books item i's outcome; returns true when this slot may start another.
  local function settle_one(i, ok, value)
    finished = finished + 1
    bar:step(not ok)
    if stopped then return false end
    if opts.settle then
      results[i] = ok and { status = "fulfilled", value = value } or { status = "rejected", reason = value }
    elseif ok then
      results[i] = value
    else
      stopped = true
      bar:finish()
      core.reject(result, value)
      return false
    end
    if finished == n then
      bar:finish()
      core.resolve(result, results)
      return false
    end
    return true
  end
  --- One of `limit` slots: runs items one after another. Its two handlers
  -- are made once and read the slot's current item, so an item costs no
  -- closure; the bookkeeping runs under pcall (out of memory fails the map,
  -- never hangs it).
  local function slot()
    local current
    local on_ok, on_err
    local function run_next()
      if stopped or started >= n then return end
      started = started + 1
      current = started
      outcome(pcall(fn, items[current], current)):next(on_ok, on_err)
    end
    local function after(ok, value)
      local fine, more = pcall(settle_one, current, ok, value)
      if not fine then
        stopped = true
        core.reject(result, more)
      elseif more then
        run_next()
      end
    end
    on_ok = function(v) after(true, v) end
    on_err = function(e) after(false, e) end
    run_next()
  end
  if n == 0 then core.resolve(result, results) return result end
  for _ = 1, math.min(limit, n) do slot() end
  return result
end

--- eventapi.wait_for(check, {timeout = 60, interval = 2}) -> promise of the first
-- truthy value check() gives (check may return a promise). Polls every
-- interval seconds on the loop, blocking nothing; rejects with a Timeout
-- error after timeout seconds, or with check's own error.
function M.wait_for(poll, opts)
  opts = opts or {}
  check(type(poll) == "function", "wait_for: check must be a function")
  local timeout, interval = opts.timeout or 60, opts.interval or 2
  check(finite(timeout, 0), "wait_for: timeout must be a number of seconds from 0 to 86400, not " .. Error.show(timeout))
  check(finite(interval, 0.001), "wait_for: interval must be a number of seconds from 0.001 to 86400, not "
    .. Error.show(interval))
  local result, tries, settled, pause = core.promise(), 0, false, nil
  local deadline, deadline_id = core.timer(timeout)
  local function finish(ok, value)
    if settled then return end
    settled = true
    core.cancel_timer(deadline_id)
    if pause then core.cancel_timer(pause) end
    if ok then core.resolve(result, value) else core.reject(result, value) end
  end
  -- the deadline holds even when a check never settles
  deadline:next(function()
    finish(false, Error.new({ type = "Timeout", tries = tries,
      message = ("wait_for: the condition was not met within %g s (%d checks)"):format(timeout, tries) }))
  end)
  local function again()
    pause = nil
    tries = tries + 1
    outcome(pcall(poll)):next(function(v)
      if settled then return end
      if v then return finish(true, v) end
      local timer
      timer, pause = core.timer(interval)
      timer:next(again)
    end, function(e) finish(false, e) end)
  end
  again()
  return result
end

return M
