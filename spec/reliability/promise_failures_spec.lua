-- Promises never lose a failure (issue 25, round two): a failure without a
-- value is reported like any other and hides none after it; every value
-- script code raises arrives as an eventapi.Error; the combinators refuse
-- what is not a list; a recursive poller holds no memory for the links
-- already done, whatever handles its head.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local fail = sandbox.rejection

--- The lines of text that report unhandled failures.
local function reports(stderr)
  local lines = {}
  for line in stderr:gmatch("[^\n]+") do
    if line:find("^eventapi: unhandled failure: ") then lines[#lines + 1] = line end
  end
  return lines
end

describe("a failure without a value", function()
  it("is reported as a ScriptError saying no value was given, and the failures after it too", function()
    local ok, _, err, code = sandbox.run_lua([[
      local eventapi = require "eventapi"
      eventapi.reject()
      eventapi.reject("second failure")
      eventapi.run()
    ]])
    assert.is_falsy(ok)
    assert.are.equal(1, code)
    assert.are.same({ "eventapi: unhandled failure: ScriptError: no value was given (error() or reject() with nil)",
                      "eventapi: unhandled failure: ScriptError: second failure" }, reports(err))
  end)

  it("raised by a callback with error() ends a plain script with a failure status", function()
    local ok, _, err, code = sandbox.run_lua([[
      local eventapi = require "eventapi"
      require("eventapi.promise").attach_callback(eventapi.resolve(1), function() error() end)
      eventapi.run()
    ]])
    assert.is_falsy(ok)
    assert.are.equal(1, code)
    assert.are.equal(1, #reports(err), err)
    assert.truthy(err:find("no value", 1, true), err)
  end)

  it("raised by a handler in a runbook ends eventapi run with exit status 1", function()
    local ok, _, err, code = sandbox.run_lua([[
      eventapi.sleep(0):next(function() error() end)
    ]], { command = "bin/eventapi run" })
    assert.is_falsy(ok)
    assert.are.equal(1, code)
    assert.are.equal(1, #reports(err), err)
  end)

  it("raised at a runbook's top level ends eventapi run with exit status 1 and says no value was given", function()
    local ok, _, err, code = sandbox.run_lua("error()", { command = "bin/eventapi run" })
    assert.is_falsy(ok)
    assert.are.equal(1, code)
    assert.are.equal("eventapi: ScriptError: no value was given (error() or error(nil))\n", err)
  end)

  it("rejects the handler's child with a ScriptError whose cause is nil", function()
    local err = fail(eventapi.resolve(1):next(function() error() end))
    assert.is_true(eventapi.Error.is(err))
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("no value", 1, true), err.message)
    assert.is_nil(err.cause)
  end)

  it("given to reject is a ScriptError saying no value was given", function()
    local err = fail(eventapi.promise(function(_, reject) reject() end))
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("no value", 1, true), err.message)
  end)

  it("raised by a spawned function says no value was given", function()
    local err = fail(eventapi.spawn(function() error() end))
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("no value", 1, true), err.message)
  end)

  it("raised by a map function says no value was given", function()
    local err = fail(eventapi.map({ 1 }, function() error() end))
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("no value", 1, true), err.message)
  end)
end)

describe("a value raised by script code", function()
  it("in a next handler arrives as a ScriptError whose cause is the value", function()
    local raised = {}
    local err = fail(eventapi.resolve(1):next(function() error(raised) end))
    assert.is_true(eventapi.Error.is(err))
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(raised, err.cause)
  end)

  it("in a catch handler arrives as a ScriptError with the text Lua gave it", function()
    local err = fail(eventapi.reject("first"):catch(function() error("second") end))
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("promise_failures_spec.lua:%d+: second"), err.message)
  end)

  it("in an executor arrives as a ScriptError whose cause is the value", function()
    local raised = {}
    local err = fail(eventapi.promise(function() error(raised) end))
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(raised, err.cause)
  end)

  it("in a finally function arrives as a ScriptError whose cause is the value", function()
    local raised = {}
    local err = fail(eventapi.resolve(1):finally(function() error(raised) end))
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(raised, err.cause)
  end)

  it("in a handler of a promise given to all arrives as a ScriptError", function()
    local raised = {}
    local err = fail(eventapi.all({ eventapi.resolve(1), eventapi.resolve(2):next(function() error(raised) end) }))
    assert.are.equal("ScriptError", err.type)
    assert.are.equal(raised, err.cause)
  end)

  it("stays itself when it is an eventapi.Error", function()
    local own = eventapi.Error.new({ type = "Conflict", message = "mine" })
    assert.are.equal(own, fail(eventapi.resolve(1):next(function() error(own) end)))
    assert.are.equal(own, fail(eventapi.promise(function() error(own) end)))
  end)

  it("but a rejection passes through finally as it was", function()
    local p = eventapi.reject("as it was"):finally(function() end)
    assert.are.equal("as it was", fail(p))
  end)
end)

describe("the combinators given what is not a list", function()
  for _, case in ipairs({ { "all", nil, "nil" }, { "race", 5, "number" }, { "settle", "x", "string" } }) do
    local name, arg, kind = case[1], case[2], case[3]
    it(("%s(%s) raises InvalidParams naming %s and the %s"):format(name, tostring(arg), name, kind), function()
      local ok, err = pcall(eventapi[name], arg)
      assert.is_false(ok)
      assert.is_true(eventapi.Error.is(err), tostring(err))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("^" .. name .. ": "), err.message)
      assert.truthy(err.message:find("not a " .. kind, 1, true), err.message)
    end)
  end
end)

describe("a recursive poller (a handler returning the next call)", function()
  local FROM, TO = 2000, 20000

  --- Runs a poller of TO links, each a promise `step()` gives and a handler
  -- returning the next link; start(poll) starts it and hands its head
  -- somewhere. -> the KB the Lua heap grew from link FROM to link TO.
  local function growth(start, step)
    local sizes, k = {}, 0
    local function poll()
      return step():next(function()
        k = k + 1
        if k == FROM or k == TO then collectgarbage(); collectgarbage(); sizes[k] = collectgarbage("count") end
        if k == TO then return "done" end
        return poll()
      end)
    end
    start(poll)
    eventapi.run()
    assert.are.equal(TO, k)
    return sizes[TO] - sizes[FROM]
  end

  local function resolved() return eventapi.resolve(true) end
  local function slept() return eventapi.sleep(0) end
  -- 18,000 links: before, each held about 180 bytes until the end (3 MB)
  local BOUND = 256

  it("holds no memory for the links done when its head has a catch", function()
    local grew = growth(function(poll) poll():catch(function() end) end, resolved)
    assert.is_true(grew < BOUND, ("grew %.0f KB"):format(grew))
  end)

  it("holds no memory for the links done when its head has a next handler", function()
    local got
    local grew = growth(function(poll) poll():next(function(v) got = v end) end, resolved)
    assert.is_true(grew < BOUND, ("grew %.0f KB"):format(grew))
    assert.are.equal("done", got)
  end)

  it("holds no memory for the links done when its head is awaited inside spawn", function()
    local got
    local grew = growth(function(poll) eventapi.spawn(function() got = poll():await() end) end, resolved)
    assert.is_true(grew < BOUND, ("grew %.0f KB"):format(grew))
    assert.are.equal("done", got)
  end)

  it("holds no memory for the links done when each link sleeps and its head has a catch", function()
    local grew = growth(function(poll) poll():catch(function() end) end, slept)
    assert.is_true(grew < BOUND, ("grew %.0f KB"):format(grew))
  end)

  it("keeps handlers attached to a link before it was returned, in order", function()
    local log = {}
    local head = eventapi.resolve(1):next(function()
      local link = eventapi.sleep(0):next(function() return "end" end)
      link:next(function(v) log[#log + 1] = "link " .. v end)
      return link
    end)
    head:next(function(v) log[#log + 1] = "head " .. v end)
    eventapi.run()
    assert.are.same({ "link end", "head end" }, log)
  end)

  it("reports the failure of a promise nobody handles that follows one a handled chain returns", function()
    local ok, _, err, code = sandbox.run_lua([[
      local eventapi = require "eventapi"
      local reject_y
      local y = eventapi.promise(function(_, reject) reject_y = reject end)
      local _ = eventapi.promise(function(resolve) resolve(y) end) -- follows y; nobody handles it
      eventapi.resolve(1):next(function() return y end):catch(function() end)
      eventapi.sleep(0):next(function() reject_y("boom") end)
      eventapi.run()
    ]])
    assert.is_falsy(ok)
    assert.are.equal(1, code)
    assert.truthy(err:find("unhandled failure: ScriptError: boom", 1, true), err)
  end)

  it("reports nothing when a promise following a handled one gets its own handler later", function()
    local ok, _, err = sandbox.run_lua([[
      local eventapi = require "eventapi"
      local reject_y
      local y = eventapi.promise(function(_, reject) reject_y = reject end)
      y:catch(function() end)
      local x = eventapi.resolve(1):next(function() return y end) -- follows y once its handler ran
      eventapi.step(0)
      x:catch(function() end) -- handled only now
      reject_y("boom")
      eventapi.run()
    ]])
    assert.is_true(ok, err)
    assert.are.same({}, reports(err))
  end)

  it("ignores a later resolve of a promise that has a handler and was resolved with a pending one", function()
    local resolve_p
    local p = eventapi.promise(function(resolve) resolve_p = resolve end)
    local got
    p:next(function(v) got = v end)
    resolve_p(eventapi.sleep(0):next(function() return "first" end))
    resolve_p("second")
    eventapi.run()
    assert.are.equal("first", got)
  end)

  describe("over HTTP", function()
    local sb
    setup(function() sb = sandbox.start({ record = false }) end)
    teardown(function() sb.stop() end)

    it("holds no memory for the polls done against the sandbox when its head has a catch", function()
      local losant = eventapi.losant({ url = sb.url, token = sandbox.token })
      local from, to, sizes, k = 150, 1050, {}, 0
      local function poll()
        return losant.event.get({ applicationId = sandbox.app, eventId = sandbox.event }):next(function(ev)
          k = k + 1
          if k == from or k == to then collectgarbage(); collectgarbage(); sizes[k] = collectgarbage("count") end
          if k == to then return ev.id end
          return eventapi.sleep(0):next(poll)
        end)
      end
      local got
      poll():catch(function() end):next(function(v) got = v end)
      eventapi.run()
      losant:close()
      assert.are.equal(sandbox.event, got)
      local grew = sizes[to] - sizes[from]
      -- 900 polls: before, each held about 360 bytes until the end (320 KB)
      assert.is_true(grew < 64, ("grew %.0f KB"):format(grew))
    end)
  end)
end)
