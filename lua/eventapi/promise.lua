-- The promise combinators and the loop they wait on (module eventapi.promise):
-- promise, resolve, reject, all, race, settle, spawn, sleep; run, step,
-- pollfd, timeout, pending; and what happens to unhandled failures
-- (on_unhandled, reported). The promise itself and every method of it
-- (next, catch, finally, state, await) are C (src/promise.c, src/await.c),
-- the job queue too (src/jobs.c); this module hands await its driver (the
-- loop's step under the unhandled-failure policy) and runs the coroutines
-- spawn starts, which await yields to.
local core = require "eventapi.core"
local Error = require "eventapi.errors"

local eventapi = {}
-- The coroutines spawn started (weak keys), and in its field `resuming` the
-- one being resumed: the core's table, which await reads.
local spawned = core.spawned
local AWAIT = core.await_mark -- what a coroutine waiting in await yields first

-- Unhandled failures: a rejection with no handler when the job queue drains
-- (a handler attached later in the same turn is in time), an error raised by
-- a callback, an error raised by a handler whose child promise nobody handles.
local on_unhandled = nil -- the host's function, or nil: print and raise
local reported = setmetatable({}, { __mode = "k" }) -- errors already printed on stderr
local failed = false -- an error was raised out of the loop (the script is ending with it)

--- The one line printed for an unhandled failure: the script's file and
-- line first when the error has them, as `eventapi run` prints a failure
-- (and as Lua prints an error), so an editor can jump to it.
local function unhandled_line(err)
  local where = err.location and (Error.escape(err.location) .. ": ") or ""
  return "eventapi: " .. where .. "unhandled failure: " .. tostring(err)
end

--- Hands one unhandled failure to the host's on_unhandled function, or
-- prints it on stderr (and warn); -> the error when it was printed.
local function hand_over(value)
  local err = core.wrap(value)
  if on_unhandled then
    on_unhandled(err)
    return nil
  end
  local line = unhandled_line(err)
  io.stderr:write(line, "\n")
  warn(line)
  reported[err] = true
  return err
end

--- Reports the failures core.step found (hand_over), then raises the first
-- printed (the others are printed too).
local function report(failures)
  local first
  for _, value in ipairs(failures) do
    local printed = hand_over(value) -- every one, not only until the first
    first = first or printed
  end
  if first then
    failed = true
    error(first, 0)
  end
end

--- core.step(ms) with the unhandled failures it found reported; -> pending.
local function drive(ms)
  failed = true -- stays so when step raises (out of memory, a host's error)
  local more, failures = core.step(ms)
  failed = false
  if failures then report(failures) end
  return more
end
core.on_drive(drive) -- await on the main thread drives the loop with it

--- The work a closing state leaves undone, in words: "3 requests and 1 timer".
local function undone(requests, timers, jobs)
  local parts = {}
  for _, count in ipairs({ { requests, "request" }, { timers, "timer" }, { jobs, "handler" } }) do
    if count[1] > 0 then parts[#parts + 1] = ("%d %s%s"):format(count[1], count[2], count[1] == 1 and "" or "s") end
  end
  return table.concat(parts, " and ")
end

-- When the Lua state closes: what the loop never got to. A rejection nobody
-- handled goes to the host's on_unhandled function, or is printed on stderr
-- (and warn) like run's; without a host function, work never done (the
-- script ended without eventapi.run()) is named on stderr too, unless an
-- error raised out of the loop already ended the run. A finalizer cannot
-- change the exit status.
core.on_close(function(failures, requests, timers, jobs)
  for _, value in ipairs(failures) do hand_over(value) end
  if not on_unhandled and not failed and requests + timers + jobs > 0 then
    io.stderr:write(("eventapi: the Lua state closed with %s never finished (eventapi.run() drives them to the end)\n")
      :format(undone(requests, timers, jobs)))
  end
end)

--- eventapi.on_unhandled(fn) -> the previous function: fn(err) receives every
-- unhandled failure (an eventapi.Error) instead of the default, which prints
-- it on stderr and raises it out of run, step or await. nil restores the default.
function eventapi.on_unhandled(fn)
  if fn ~= nil and type(fn) ~= "function" then
    Error.raise("InvalidParams", "on_unhandled: expects a function or nil, not a %s", type(fn))
  end
  local previous = on_unhandled
  on_unhandled = fn
  return previous
end

--- eventapi.reported(err) -> true when err was already printed on stderr as an
-- unhandled failure (so a command line need not print it twice).
function eventapi.reported(err)
  return reported[err] == true
end

--- eventapi.promise(function (resolve, reject) ... end) -> promise. The
-- function runs at once; an error it raises rejects the promise (as a
-- ScriptError whose cause is the raised value, unless it is an eventapi.Error).
function eventapi.promise(executor)
  local p = core.promise()
  local ok, err = pcall(executor, function(v) core.resolve(p, v) end, function(e) core.reject(p, e) end)
  if not ok then core.reject(p, core.wrap(err)) end
  return p
end

--- eventapi.resolve(value) -> promise fulfilled with value (a promise is returned as it is).
function eventapi.resolve(value)
  if core.is_promise(value) then return value end
  local p = core.promise()
  core.resolve(p, value)
  return p
end

--- eventapi.reject(err) -> promise rejected with err (nil: a ScriptError
-- saying no value was given, so that no failure is lost).
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

--- Raises InvalidParams naming the combinator when list is not a table.
local function check_list(name, list)
  if type(list) ~= "table" then
    Error.raise("InvalidParams", "%s: expects a list (a table of promises or values), not a %s", name, type(list))
  end
end

--- eventapi.all(list) -> promise of the list of values, in order; rejects
-- with the first error. Raises InvalidParams when list is not a table (as
-- race and settle do).
function eventapi.all(list)
  check_list("all", list)
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
-- Raises InvalidParams when list is not a table.
function eventapi.race(list)
  check_list("race", list)
  local p = core.promise()
  for i = 1, #list do
    eventapi.resolve(list[i]):next(function(v) core.resolve(p, v) end, function(e) core.reject(p, e) end)
  end
  return p
end

--- eventapi.settle(list) -> promise of every outcome, in order:
-- {status = "fulfilled", value = v} or {status = "rejected", reason = e}.
-- Raises InvalidParams when list is not a table.
function eventapi.settle(list)
  check_list("settle", list)
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
  if type(fn) ~= "function" then Error.raise("InvalidParams", "spawn: expects a function, not a %s", type(fn)) end
  local result = core.promise()
  local co = coroutine.create(fn)
  spawned[co] = true
  local on_ok, on_err -- made once per coroutine: an await costs no closure
  --- After a resume: settles result when the coroutine ended or failed, or
  -- waits on the promise it awaits.
  local function resumed(outer, ok, yielded, awaited)
    spawned.resuming = outer
    if not ok then return core.reject(result, core.wrap(yielded)) end
    if coroutine.status(co) == "dead" then return core.resolve(result, yielded) end
    if yielded ~= AWAIT then
      return core.reject(result, Error.new({ type = "InvalidUse",
        message = "spawn: the coroutine yielded without await (use p:await() to wait inside eventapi.spawn)" }))
    end
    awaited:next(on_ok, on_err)
  end
  local function continue(...)
    local outer = spawned.resuming
    spawned.resuming = co
    return resumed(outer, coroutine.resume(co, ...))
  end
  on_ok = function(v) return continue(true, v) end
  on_err = function(e) return continue(false, e) end
  local args = table.pack(...)
  eventapi.resolve(true):next(function() continue(table.unpack(args, 1, args.n)) end)
  return result
end

--- attach_callback(p, cb): hands p's outcome to cb(err, result) (for the
-- calls that take a callback); an error cb raises is an unhandled failure.
-- Raises InvalidParams when cb is not a function.
function eventapi.attach_callback(p, cb)
  if type(cb) ~= "function" then
    Error.raise("InvalidParams", "the callback must be a function, not a %s", type(cb))
  end
  p:next(function(v) cb(nil, v) end, function(e) cb(e, nil) end)
end

--- eventapi.sleep(seconds) -> promise fulfilled with true after that long
-- (a finite number >= 0); blocks nothing.
function eventapi.sleep(seconds)
  local p = core.timer(seconds)
  return p
end

--- eventapi.run(): drives the loop until nothing is pending. Raises the first
-- unhandled failure (unless eventapi.on_unhandled took it), and InvalidUse
-- when called from inside a handler or callback.
function eventapi.run()
  while drive(-1) do end
end

--- eventapi.step([ms]) -> boolean: does the ready work, waits at most ms
-- (default 0); true while anything is pending. For hosts with their own loop;
-- raises an unhandled failure like run unless eventapi.on_unhandled is set.
function eventapi.step(ms)
  if ms ~= nil and (type(ms) ~= "number" or ms ~= ms) then
    Error.raise("InvalidParams", "step: ms must be a number, not %s", Error.show(ms))
  end
  return drive(ms or 0)
end

--- eventapi.pollfd() -> integer: a descriptor (Linux epoll) that turns
-- readable whenever eventapi has work: a socket curl waits on is ready, a
-- deadline passed, or handlers were queued outside step. A host waits on it
-- in its own loop and calls eventapi.step(0) when it is readable or
-- eventapi.timeout() has passed. Never close it; it lives as long as the Lua state.
function eventapi.pollfd()
  return core.pollfd()
end

--- eventapi.timeout() -> seconds or nil: the longest a host may wait on
-- eventapi.pollfd() before calling eventapi.step(0) anyway: 0 when handlers
-- are queued, nil when there is no deadline (nothing pending, or only
-- sockets to wait on, which the descriptor covers).
function eventapi.timeout()
  return core.timeout()
end

--- eventapi.pending() -> boolean: true while requests, timers or handlers are pending.
function eventapi.pending()
  local transfers, timers, jobs = core.pending()
  return transfers + timers + jobs > 0
end

return eventapi
