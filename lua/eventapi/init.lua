--- eventapi: clients for event APIs with promises, callbacks and await, on
-- one loop for the whole process (see README.md).
local core = require "eventapi.core"
local Error = require "eventapi.errors"

local eventapi = {
  version = core.version,
  null = core.null,        -- JSON null
  Error = Error,
  json = { encode = core.json_encode, decode = core.json_decode, array = core.array, null = core.null },
}

local promise_methods = core.promise_methods
local spawned = setmetatable({}, { __mode = "k" }) -- coroutines started by spawn
local AWAIT = setmetatable({}, { __name = "eventapi.await" })

--- p:finally(fn) -> promise: runs fn() whatever the outcome; the value or error passes through.
function promise_methods:finally(fn)
  return self:next(function(value) fn(); return value end,
                   function(err) fn(); error(err, 0) end)
end

--- p:await() -> value: inside a coroutine started with eventapi.spawn it
-- yields until p settles; elsewhere it drives the loop until p settles.
-- Raises the error object when p is rejected.
function promise_methods:await()
  local co, main = coroutine.running()
  if not main and spawned[co] then
    local ok, value = coroutine.yield(AWAIT, self)
    if ok then return value end
    error(value, 0)
  end
  while true do
    local state, value = self:state()
    if state == "fulfilled" then return value end
    if state == "rejected" then error(value, 0) end
    if not core.step(-1) and self:state() == "pending" then
      error("eventapi: await on a promise that nothing is left to settle", 2)
    end
  end
end

--- eventapi.promise(function (resolve, reject) ... end) -> promise. The
-- function runs at once; an error it raises rejects the promise.
function eventapi.promise(executor)
  local p = core.promise()
  local ok, err = pcall(executor, function(v) core.resolve(p, v) end, function(e) core.reject(p, e) end)
  if not ok then core.reject(p, err) end
  return p
end

--- eventapi.resolve(value) -> promise fulfilled with value (a promise is returned as it is).
function eventapi.resolve(value)
  if getmetatable(value) == getmetatable(core.promise()) then return value end
  local p = core.promise()
  core.resolve(p, value)
  return p
end

--- eventapi.reject(err) -> promise rejected with err.
function eventapi.reject(err)
  local p = core.promise()
  core.reject(p, err)
  return p
end

--- Rejects p when a combinator's own bookkeeping step raised (out of memory),
-- so p never stays pending for ever.
local function guard(p, step)
  step:next(nil, function(e) core.reject(p, e) end)
end

--- eventapi.all(list) -> promise of the list of values, in order; rejects with the first error.
function eventapi.all(list)
  local p, n = core.promise(), #list
  local results, left = { n = n }, n
  if n == 0 then core.resolve(p, results) end
  for i = 1, n do
    guard(p, eventapi.resolve(list[i]):next(function(v)
      results[i] = v
      left = left - 1
      if left == 0 then core.resolve(p, results) end
    end, function(e) core.reject(p, e) end))
  end
  return p
end

--- eventapi.race(list) -> promise settled like the first of list to settle.
function eventapi.race(list)
  local p = core.promise()
  for i = 1, #list do
    eventapi.resolve(list[i]):next(function(v) core.resolve(p, v) end, function(e) core.reject(p, e) end)
  end
  return p
end

--- eventapi.settle(list) -> promise of every outcome, in order:
-- {status = "fulfilled", value = v} or {status = "rejected", reason = e}.
function eventapi.settle(list)
  local p, n = core.promise(), #list
  local outcomes, left = { n = n }, n
  if n == 0 then core.resolve(p, outcomes) end
  local function done(i, outcome)
    outcomes[i] = outcome
    left = left - 1
    if left == 0 then core.resolve(p, outcomes) end
  end
  for i = 1, n do
    guard(p, eventapi.resolve(list[i]):next(function(v) done(i, { status = "fulfilled", value = v }) end,
                                            function(e) done(i, { status = "rejected", reason = e }) end))
  end
  return p
end

--- eventapi.spawn(fn, ...) -> promise of fn's result. fn runs in a coroutine
-- started from the loop; p:await() inside it yields instead of blocking.
function eventapi.spawn(fn, ...)
  local result = core.promise()
  local co = coroutine.create(fn)
  spawned[co] = true
  local function continue(...)
    local out = table.pack(coroutine.resume(co, ...))
    if not out[1] then return core.reject(result, out[2]) end
    if coroutine.status(co) == "dead" then return core.resolve(result, out[2]) end
    if out[2] ~= AWAIT then
      return core.reject(result, "eventapi.spawn: the coroutine yielded without await")
    end
    out[3]:next(function(v) continue(true, v) end, function(e) continue(false, e) end)
  end
  local args = table.pack(...)
  eventapi.resolve(true):next(function() continue(table.unpack(args, 1, args.n)) end)
  return result
end

--- eventapi.sleep(seconds) -> promise fulfilled with true after that long; blocks nothing.
function eventapi.sleep(seconds)
  local p = core.timer(seconds)
  return p
end

local workflow = require "eventapi.workflow"
eventapi.map = workflow.map
eventapi.wait_for = workflow.wait_for

--- eventapi.run(): drives the loop until nothing is pending. Raises when
-- called from inside a handler or callback.
function eventapi.run()
  while core.step(-1) do end
end

--- eventapi.step([ms]) -> boolean: does the ready work, waits at most ms
-- (default 0); true while anything is pending. For hosts with their own loop.
function eventapi.step(ms)
  return core.step(ms or 0)
end

--- eventapi.losant{token=, url=, ...} -> a Losant client (see README.md).
function eventapi.losant(options)
  return require("eventapi.client").new(require("eventapi.losant"), options)
end

--- eventapi.connectdaily{url=, user=, password= | token=, ...} -> a Connect Daily client;
-- eventapi.connectdaily.jdn(date) and .date(jdn) convert dates.
local connectdaily = require "eventapi.connectdaily"
eventapi.connectdaily = setmetatable({ jdn = connectdaily.jdn, date = connectdaily.date }, {
  __call = function(_, options) return require("eventapi.client").new(connectdaily.service, options) end,
})

--- eventapi.monterosa{url=, token=, ...} -> a Monterosa client (Control API v2 live events);
-- eventapi.monterosa.unix_time(v) converts an ISO 8601 UTC string to a Unix time.
local monterosa = require "eventapi.monterosa"
eventapi.monterosa = setmetatable({ unix_time = monterosa.unix_time }, {
  __call = function(_, options) return require("eventapi.client").new(monterosa.service, options) end,
})

return eventapi
