-- Promise semantics, the loop, spawn and await.
local eventapi = require "eventapi"

-- (reading the state first handles a rejection: the specs look at it)
local function settled(p)
  p:state()
  eventapi.run()
  return p:state()
end

describe("promises", function()
  it("never run a handler inside the call that attached it", function()
    local ran = false
    eventapi.resolve(1):next(function() ran = true end)
    assert.is_false(ran)
    eventapi.run()
    assert.is_true(ran)
  end)

  it("run handlers in the order they were attached", function()
    local order = {}
    local p = eventapi.resolve(true)
    for i = 1, 5 do p:next(function() order[#order + 1] = i end) end
    eventapi.run()
    assert.are.same({ 1, 2, 3, 4, 5 }, order)
  end)

  it("chain: a handler's return value fulfils the next promise", function()
    local p = eventapi.resolve(2):next(function(v) return v * 3 end):next(function(v) return v + 1 end)
    assert.are.same({ "fulfilled", 7 }, { settled(p) })
  end)

  it("adopt a promise returned by a handler", function()
    local p = eventapi.resolve(1):next(function() return eventapi.sleep(0.01):next(function() return "late" end) end)
    assert.are.same({ "fulfilled", "late" }, { settled(p) })
  end)

  it("reject the next promise with a ScriptError when a handler raises", function()
    local p = eventapi.resolve(1):next(function() error({ code = 7 }) end)
    local state, err = settled(p)
    assert.are.equal("rejected", state)
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(7, err.cause.code)
  end)

  it("let a rejection pass through to catch", function()
    local p = eventapi.reject("boom"):next(function() return "skipped" end):catch(function(e) return "caught " .. e end)
    assert.are.same({ "fulfilled", "caught boom" }, { settled(p) })
  end)

  it("run finally on both outcomes and pass the outcome through", function()
    local count = 0
    local a = eventapi.resolve("v"):finally(function() count = count + 1 end)
    local b = eventapi.reject("e"):finally(function() count = count + 1 end)
    b:catch(function() end)
    eventapi.run()
    assert.are.equal(2, count)
    assert.are.same({ "fulfilled", "v" }, { a:state() })
    assert.are.same({ "rejected", "e" }, { b:state() })
  end)

  it("settle only once", function()
    local p = eventapi.promise(function(resolve, reject) resolve(1); resolve(2); reject(3) end)
    assert.are.same({ "fulfilled", 1 }, { settled(p) })
  end)

  it("reject with a ScriptError when the executor raises", function()
    local p = eventapi.promise(function() error("bad start", 0) end)
    local state, err = settled(p)
    assert.are.equal("rejected", state)
    assert.are.same({ "ScriptError", "bad start", "bad start" }, { err.type, err.message, err.cause })
  end)

  it("refuse to be resolved with themselves", function()
    local p
    p = eventapi.promise(function(resolve) eventapi.resolve(true):next(function() resolve(p) end) end)
    assert.are.equal("rejected", settled(p))
  end)

  describe("a recursive chain (a handler returning the next link)", function()
    --- Starts a chain of n links, each a handler returning the next; calls
    -- at(k) in link k; the promise of the whole chain.
    local function chain(n, at, last)
      local function link(k)
        return eventapi.resolve(k):next(function()
          if at then at(k) end
          if k == n then return last and last() or "end" end
          return link(k + 1)
        end)
      end
      return link(1)
    end

    it("holds no memory for the links already done", function()
      local sizes = {}
      chain(20000, function(k)
        if k == 2000 or k == 20000 then collectgarbage(); collectgarbage(); sizes[k] = collectgarbage("count") end
      end)
      eventapi.run()
      -- 18,000 more links: before, each held about 200 bytes until the end (3.5 MB)
      assert.is_true(sizes[20000] - sizes[2000] < 256, ("grew %.0f KB"):format(sizes[20000] - sizes[2000]))
    end)

    it("settles its head with the value of the last link", function()
      local head = chain(100)
      assert.are.same({ "fulfilled", "end" }, { settled(head) })
    end)

    it("runs a handler attached to its head while the chain runs", function()
      local head, got
      head = chain(50, function(k) if k == 10 then head:next(function(v) got = v end) end end)
      eventapi.run()
      assert.are.equal("end", got)
    end)

    it("reports a rejection at its end when nobody handles its head", function()
      chain(30, nil, function() return eventapi.reject(eventapi.Error.new({ type = "X", message = "last link" })) end)
      local ok, err = pcall(eventapi.run)
      assert.is_false(ok)
      assert.are.equal("last link", err.message)
    end)

    it("does not report a rejection at its end that its head handles", function()
      local got
      chain(30, nil, function() return eventapi.reject(eventapi.Error.new({ type = "X", message = "caught" })) end)
        :catch(function(e) got = e.message end)
      eventapi.run()
      assert.are.equal("caught", got)
    end)

    it("does not report a rejection its head handles after the chain started", function()
      local head, got
      head = chain(30, function(k) if k == 20 then head:catch(function(e) got = e.message end) end end,
        function() return eventapi.reject(eventapi.Error.new({ type = "X", message = "late catch" })) end)
      eventapi.run()
      assert.are.equal("late catch", got)
    end)
  end)

  it("stay with the promise they were resolved with: a later reject is ignored", function()
    local later = eventapi.sleep(0.01):next(function() return "from later" end)
    local p = eventapi.promise(function(resolve, reject) resolve(later); reject("too late") end)
    assert.are.same({ "fulfilled", "from later" }, { settled(p) })
  end)

  it("refuse to be resolved with a promise that waits on them", function()
    local resolve_a
    local a = eventapi.promise(function(resolve) resolve_a = resolve end)
    local b = eventapi.promise(function(resolve) resolve(a) end)
    resolve_a(b)
    local state, err = settled(a)
    assert.are.equal("rejected", state)
    assert.truthy(tostring(err.message or err):find("itself"), tostring(err))
  end)

  describe("combinators", function()
    it("all resolves with the values in input order", function()
      local p = eventapi.all({ eventapi.sleep(0.02):next(function() return "slow" end), eventapi.resolve("fast"), 3 })
      local state, values = settled(p)
      assert.are.equal("fulfilled", state)
      assert.are.same({ "slow", "fast", 3 }, { values[1], values[2], values[3] })
    end)

    it("all rejects with the first error", function()
      local p = eventapi.all({ eventapi.sleep(0.05), eventapi.reject("first") })
      assert.are.same({ "rejected", "first" }, { settled(p) })
    end)

    it("all of nothing is an empty list", function()
      local state, values = settled(eventapi.all({}))
      assert.are.equal("fulfilled", state)
      assert.are.equal(0, values.n)
    end)

    it("race settles like the first to settle", function()
      local p = eventapi.race({ eventapi.sleep(0.2):next(function() return "slow" end),
                                eventapi.sleep(0.01):next(function() return "quick" end) })
      assert.are.same({ "fulfilled", "quick" }, { settled(p) })
    end)

    it("race rejects like the first to settle when that is a rejection", function()
      local p = eventapi.race({ eventapi.sleep(0.2):next(function() return "slow" end),
                                eventapi.sleep(0.01):next(function() error("quick failure", 0) end) })
      local state, err = settled(p)
      assert.are.equal("rejected", state)
      assert.are.same({ "ScriptError", "quick failure" }, { err.type, err.message })
    end)

    it("settle reports every outcome", function()
      local state, outcomes = settled(eventapi.settle({ eventapi.resolve(1), eventapi.reject("no") }))
      assert.are.equal("fulfilled", state)
      assert.are.same({ status = "fulfilled", value = 1 }, outcomes[1])
      assert.are.same({ status = "rejected", reason = "no" }, outcomes[2])
    end)
  end)

  describe("await", function()
    it("outside a coroutine drives the loop and returns the value", function()
      assert.are.equal("done", eventapi.sleep(0.01):next(function() return "done" end):await())
    end)

    it("raises the error object of a rejection", function()
      local ok, err = pcall(function() return eventapi.reject({ type = "X" }):await() end)
      assert.is_false(ok)
      assert.are.equal("X", err.type)
    end)

    it("inside spawn yields and lets other work go on", function()
      local log = {}
      local a = eventapi.spawn(function()
        log[#log + 1] = "a start"
        eventapi.sleep(0.05):await()
        log[#log + 1] = "a end"
        return "a"
      end)
      local b = eventapi.spawn(function()
        log[#log + 1] = "b start"
        eventapi.sleep(0.01):await()
        log[#log + 1] = "b end"
        return "b"
      end)
      assert.are.same({ "a", "b" }, { eventapi.all({ a, b }):await()[1], b:await() })
      assert.are.same({ "a start", "b start", "b end", "a end" }, log)
    end)

    it("inside spawn raises rejections where they can be caught", function()
      local p = eventapi.spawn(function()
        local ok, err = pcall(function() return eventapi.reject("inner"):await() end)
        return ok and "no" or err
      end)
      assert.are.equal("inner", p:await())
    end)

    it("from inside a handler is a clear error, not a hang", function()
      local p = eventapi.resolve(1):next(function() return eventapi.sleep(0.01):await() end)
      local state, err = settled(p)
      assert.are.equal("rejected", state)
      assert.truthy(tostring(err):find("eventapi.spawn"))
    end)

    it("run re-entered from a callback is a clear error", function()
      local p = eventapi.resolve(1):next(function() eventapi.run() end)
      local state, err = settled(p)
      assert.are.equal("rejected", state)
      assert.truthy(tostring(err):find("inside a handler"))
    end)
  end)

  it("sleep does not block other timers", function()
    local order = {}
    eventapi.sleep(0.05):next(function() order[#order + 1] = "long" end)
    eventapi.sleep(0.01):next(function() order[#order + 1] = "short" end)
    eventapi.run()
    assert.are.same({ "short", "long" }, order)
  end)

  it("step returns at once when nothing is ready", function()
    eventapi.sleep(0.2)
    local t0 = os.clock()
    assert.is_true(eventapi.step(0))
    assert.is_true(os.clock() - t0 < 0.1)
    eventapi.run()
  end)

  describe("when the Lua state closes with work the loop never got to", function()
    local sandbox = require "helpers.sandbox"
    local sb

    setup(function() sb = sandbox.start() end)
    teardown(function() sb.stop() end)

    --- Runs a Lua script in a new lua5.4 (with flags, say -W for warnings),
    -- after lines that give it `eventapi`, a `losant` client of the sandbox
    -- (which sends nothing by itself), APP and EVENT -> its stderr, its exit
    -- status, and the requests the sandbox received meanwhile.
    local function run_script(body, flags)
      sandbox.clear_requests(sb)
      local _, _, err, status = sandbox.run_lua(("local eventapi = require 'eventapi'\n"
        .. "local losant = eventapi.losant({ url = %q, token = %q })\n"
        .. "local APP, EVENT = %q, %q\n"):format(sb.url, sandbox.token, sandbox.app, sandbox.event) .. body,
        { command = "lua5.4 " .. (flags or "") })
      return err, status, sandbox.requests(sb)
    end

    it("prints a rejection nobody handled on stderr, as run would have", function()
      local err, status = run_script([[ losant.event.get({ applicationId = APP }) ]])
      assert.truthy(err:find("^eventapi: [^\n]+:4: unhandled failure: InvalidParams: event%.get: "
                             .. "missing required param 'eventId'[^\n]*\n$"), err)
      assert.are.equal(0, status) -- a finalizer cannot change it: the line is the report
    end)

    it("also warns it, for hosts that collect warnings", function()
      local err = run_script([[ eventapi.reject(eventapi.Error.new({ type = "Timeout", message = "nobody listens" })) ]], "-W")
      assert.are.equal("eventapi: unhandled failure: Timeout: nobody listens\n"
                       .. "Lua warning: eventapi: unhandled failure: Timeout: nobody listens\n", err)
    end)

    it("names the requests and timers never finished, none of them sent", function()
      local err, _, received = run_script([[
        losant.event.get({ applicationId = APP, eventId = EVENT })
        losant.event.get({ applicationId = APP, eventId = EVENT })
        eventapi.sleep(5)
      ]])
      assert.are.equal("eventapi: the Lua state closed with 2 requests and 1 timer never finished "
                       .. "(eventapi.run() drives them to the end)\n", err)
      assert.are.equal(0, #received)
    end)

    it("names a request made after the last await, which was never sent", function()
      local err, _, received = run_script([[
        local event = losant.event.get({ applicationId = APP, eventId = EVENT }):await()
        losant.event.patch({ applicationId = APP, eventId = event.id, event = { state = "acknowledged" } })
      ]])
      assert.are.equal("eventapi: the Lua state closed with 1 request never finished "
                       .. "(eventapi.run() drives them to the end)\n", err)
      assert.are.equal(1, #received)
      assert.are.equal("GET", received[1].method)
    end)

    it("names a handler never run", function()
      local err = run_script([[ eventapi.resolve(1):next(function() end) ]])
      assert.are.equal("eventapi: the Lua state closed with 1 handler never finished "
                       .. "(eventapi.run() drives them to the end)\n", err)
    end)

    it("prints nothing when the loop ran to the end", function()
      local err, status, received = run_script([[
        losant.event.get({ applicationId = APP, eventId = EVENT }):next(function() end)
        eventapi.run()
      ]])
      assert.are.equal("", err)
      assert.are.equal(0, status)
      assert.are.equal(1, #received)
    end)

    it("adds nothing after an unhandled failure already ended the run", function()
      local err, status = run_script([[
        losant.event.get({ applicationId = APP, eventId = "000000000000000000000000" })
        eventapi.sleep(5)
        eventapi.run()
      ]])
      local _, count = err:gsub("unhandled failure: NotFound", "")
      assert.are.equal(1, count)
      assert.is_nil(err:find("never finished", 1, true))
      assert.are.equal(1, status)
    end)

    it("gives the rejections to the host's on_unhandled function and prints nothing", function()
      local err = run_script([[
        eventapi.on_unhandled(function(e) io.stderr:write("host: ", e.type, ": ", e.message, "\n") end)
        eventapi.reject(eventapi.Error.new({ type = "Timeout", message = "too slow" }))
        eventapi.sleep(5)
      ]])
      assert.are.equal("host: Timeout: too slow\n", err)
    end)
  end)

  it("free a settled promise's value in the first collection after nobody holds the promise", function()
    local gone = setmetatable({}, { __mode = "k" })
    local p = eventapi.resolve(true):next(function() local v = {} gone[v] = true return v end)
    eventapi.run()
    assert.are.equal("fulfilled", (p:state()))
    p = nil -- luacheck: ignore
    collectgarbage()
    assert.is_nil(next(gone))
  end)
end)

describe("p:await with require 'eventapi.core' alone", function()
  local sandbox = require "helpers.sandbox"

  --- Runs a script that loads eventapi.core and nothing of the Lua layer; -> its output.
  local function core_alone(body)
    local ok, out, err = sandbox.run_lua([[
      local core = require "eventapi.core"
      assert(package.loaded["eventapi.promise"] == nil, "eventapi.promise was loaded")
    ]] .. body)
    assert.is_true(ok, err)
    return out
  end

  it("drives the loop until a timer fulfils the promise", function()
    assert.are.equal("true\n", core_alone([[print(core.timer(0.01):await())]]))
  end)

  it("raises the error of a rejected promise as it is", function()
    assert.are.equal("false\tboom\n", core_alone([[
      local p = core.promise()
      core.reject(p, "boom")
      print(pcall(p.await, p))
    ]]))
  end)

  it("is Unsettled on a promise nothing can settle", function()
    assert.are.equal("Unsettled\n", core_alone([[
      local ok, err = pcall(function() return core.promise():await() end)
      print(err.type)
    ]]))
  end)

  it("raises a rejection no one handled, met while driving, as core.step reports it", function()
    assert.are.equal("lost\n", core_alone([[
      local lost = core.promise()
      core.reject(lost, "lost")
      local ok, err = pcall(function() return core.timer(0.01):await() end)
      print(err)
    ]]))
  end)
end)

describe("p:finally", function()
  local core = require "eventapi.core"

  it("is a method of every promise with require 'eventapi.core' alone", function()
    local sandbox = require "helpers.sandbox"
    local ok, out, err = sandbox.run_lua([[
      local core = require "eventapi.core"
      assert(package.loaded["eventapi.promise"] == nil, "eventapi.promise was loaded")
      local p, ran = core.promise(), 0
      local q = p:finally(function() ran = ran + 1 end)
      core.resolve(p, 42)
      while core.step(0) do end
      print(ran, q:state())
    ]])
    assert.is_true(ok, err)
    assert.are.equal("1\tfulfilled\t42\n", out)
  end)

  it("passes the value through, calling fn once with no argument", function()
    local p, calls = core.promise(), {}
    local q = p:finally(function(...) calls[#calls + 1] = select("#", ...) end)
    core.resolve(p, "value")
    assert.are.same({ "fulfilled", "value" }, { settled(q) })
    assert.are.same({ 0 }, calls)
  end)

  it("passes a rejection through as the same value, neither raised again nor wrapped", function()
    local reason = { code = 7 } -- not an eventapi.Error: wrapping would make a ScriptError of it
    local p, ran = core.promise(), false
    local q = p:finally(function() ran = true end)
    core.reject(p, reason)
    local state, value = settled(q)
    assert.is_true(ran)
    assert.are.equal("rejected", state)
    assert.are.equal(reason, value)
  end)

  it("rejects with a ScriptError whose cause is what fn raised", function()
    local raised = { code = 8 }
    local p = core.promise()
    local q = p:finally(function() error(raised) end)
    core.resolve(p, "value")
    local state, err = settled(q)
    assert.are.equal("rejected", state)
    assert.is_true(eventapi.Error.is(err))
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(raised, err.cause)
  end)

  it("rejects with what fn raised in place of a rejection", function()
    local raised = { code = 9 }
    local q = eventapi.reject("first"):finally(function() error(raised) end)
    local state, err = settled(q)
    assert.are.equal("rejected", state)
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(raised, err.cause)
  end)

  for _, case in ipairs({ { nil, "nil" }, { 5, "number" }, { "fn", "string" }, { {}, "table" } }) do
    it(("raises InvalidParams at once for fn = %s (a %s)"):format(tostring(case[1]), case[2]), function()
      local p = core.promise()
      local ok, err = pcall(p.finally, p, case[1])
      assert.is_false(ok)
      assert.is_true(eventapi.Error.is(err))
      assert.are.equal("InvalidParams", err.type)
      assert.are.equal("p:finally: fn must be a function, not a " .. case[2], err.message)
    end)
  end
end)
