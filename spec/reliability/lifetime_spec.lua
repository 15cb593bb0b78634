-- Lifetimes over real HTTP: clients and promises collected while requests
-- are in flight, close from inside a callback, callbacks that raise or
-- start new requests, and the loop re-entered from a callback. (The plain
-- "collect a client in flight" and "a raising callback keeps the loop
-- running" cases are in spec/client/losant_spec.lua.)
local eventapi = require "eventapi"
local core = require "eventapi.core"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local OTHER = "575ed0de7ae143cd83dc4aa6"
local scale = sandbox.time or function(s) return s end

describe("lifetimes", function()
  local sb, losant

  before_each(function()
    sb = sandbox.start({ faults = true })
    losant = eventapi.losant({ url = sb.url, token = sandbox.token })
  end)
  after_each(function()
    losant:close()
    sb.stop()
  end)

  local function slow_get(client, ms, id)
    return client:request({ path = "/applications/" .. APP .. "/events/" .. (id or EVENT),
                            headers = { ["X-Sandbox-Fault"] = ("delay=%d"):format(ms) } })
  end

  local function count(path_part)
    local n = 0
    for _, r in ipairs(sandbox.requests(sb)) do if r.path:find(path_part, 1, true) then n = n + 1 end end
    return n
  end

  it("a request keeps its config (the header lists curl reads) alive until it ends", function()
    local url = sb.url .. "/applications/" .. APP .. "/events/" .. EVENT
    local raw = core.request(core.config({ headers = { "Authorization: Bearer " .. sandbox.token,
                                                        "X-Sandbox-Fault: delay=200", "X-Kept: alive" } }),
                             "GET", url)
    collectgarbage(); collectgarbage() -- the config has no other reference now
    local res = raw:await()
    assert.are.equal(200, res.status)
    local record = sandbox.requests(sb)
    assert.are.equal("alive", record[#record].headers["x-kept"])
  end)

  it("a command a script starts after a call inherits no socket of the library", function()
    -- in a new process: what it holds before loading the library, then
    -- after a call (a connection kept in the pool, libcurl's wake-up pair)
    local ok, out, err = sandbox.run_lua(([[
      --- The sockets a command started now holds, as one sorted line.
      local function sockets()
        local p = io.popen("ls -l /proc/self/fd/ 2>&1")
        local found = {}
        for inode in p:read("a"):gmatch("socket:%%[(%%d+)%%]") do found[#found + 1] = inode end
        p:close()
        table.sort(found)
        return table.concat(found, " ")
      end
      local before = sockets()
      local eventapi = require "eventapi"
      local losant = eventapi.losant({ url = %q, token = %q })
      losant.event.get({ applicationId = %q, eventId = %q }):await()
      io.write("before: ", before, "; after: ", sockets())
    ]]):format(sb.url, sandbox.token, APP, EVENT))
    assert.is_true(ok, err)
    local before = out:match("^before: ([^;]*);")
    assert.are.equal("before: " .. before .. "; after: " .. before, out)
  end)

  it("a collected client's request in flight still reaches its callback", function()
    local got
    do
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      c:request({ path = "/applications/" .. APP .. "/events/" .. EVENT,
                  headers = { ["X-Sandbox-Fault"] = "delay=300" } }, function(err, ev) got = { err, ev } end)
    end
    collectgarbage(); collectgarbage()
    eventapi.step(50)
    collectgarbage(); collectgarbage()
    eventapi.run()
    assert.is_table(got)
    assert.is_nil(got[1])
    assert.are.equal(EVENT, got[2].id)
  end)

  it("a promise collected while pending does not stop its request or the loop", function()
    do
      losant.event.patch({ applicationId = APP, eventId = OTHER, event = { comment = "nobody listens" } })
    end
    collectgarbage(); collectgarbage()
    eventapi.run()
    local ev = losant.event.get({ applicationId = APP, eventId = OTHER }):await()
    assert.are.equal("nobody listens", ev.updates[#ev.updates].comment)
    -- a promise that nothing will ever settle, collected: run returns at once
    do eventapi.promise(function() end) end
    collectgarbage(); collectgarbage()
    local started = core.now()
    eventapi.run()
    assert.is_true(core.now() - started < scale(1))
  end)

  it("close from inside a callback rejects the client's other requests at once", function()
    local slow_outcome
    local slow = slow_get(losant, 3000):next(function() slow_outcome = "fulfilled" end,
                                               function(e) slow_outcome = e end)
    local closed_in_callback = false
    losant.event.get({ applicationId = APP, eventId = EVENT }, function(err)
      assert(err == nil, tostring(err))
      losant:close()
      closed_in_callback = true
    end)
    local started = core.now()
    eventapi.run()
    assert.is_true(closed_in_callback)
    assert.is_true(core.now() - started < scale(2.5), "run waited for the slow request")
    assert.are.equal("Closed", slow_outcome.type)
    assert.is_not_nil(slow)
    -- and closing again, from a callback of a closed client's call, is harmless
    local again
    losant.event.get({ applicationId = APP, eventId = EVENT }, function(err) losant:close(); again = err end)
    eventapi.run()
    assert.are.equal("Closed", again.type)
  end)

  it("a callback that raises ends a plain lua5.4 script with a failure status and the error on stderr", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(([[
      local eventapi = require "eventapi"
      local c = eventapi.losant({ url = %q, token = %q })
      c.event.get({ applicationId = %q, eventId = %q }, function() error("callback bug 4711") end)
      local after = c.event.get({ applicationId = %q, eventId = %q })
      eventapi.run()
      io.stdout:write("not reached\n")
    ]]):format(sb.url, sandbox.token, APP, EVENT, APP, OTHER))
    f:close()
    local err_file = os.tmpname()
    local q = sandbox.shell_quote
    local p = io.popen(("LUA_PATH=%s LUA_CPATH=%s lua5.4 -W %s 2>%s"):format(q(package.path), q(package.cpath),
                                                                           q(script), q(err_file)))
    local out = p:read("a")
    local ok = p:close()
    f = assert(io.open(err_file))
    local err = f:read("a")
    f:close()
    os.remove(script); os.remove(err_file)
    assert.is_falsy(ok, err)
    assert.are.equal("", out)
    assert.truthy(err:find("eventapi: unhandled failure: ScriptError: [^\n]*callback bug 4711"), err)
    assert.truthy(err:find("Lua warning: eventapi: unhandled failure", 1, true), "no warning under -W: " .. err)
  end)

  it("callbacks that start new requests are all driven by one run", function()
    local order = {}
    local function chain(depth)
      losant.event.get({ applicationId = APP, eventId = depth % 2 == 0 and EVENT or OTHER }, function(err, ev)
        assert(err == nil, tostring(err))
        order[#order + 1] = ev.id
        if depth < 5 then
          chain(depth + 1)
          -- and a fan-out of callbacks and promises from inside a callback
          losant.events.get({ applicationId = APP, perPage = 1 }, function(e2, page)
            order[#order + 1] = e2 == nil and #page.items or tostring(e2)
          end)
        end
      end)
    end
    chain(1)
    eventapi.run()
    assert.are.equal(9, #order) -- 5 in the chain, a page from each of the first 4
    local ids, pages = 0, 0
    for _, x in ipairs(order) do
      if x == EVENT or x == OTHER then ids = ids + 1 elseif x == 1 then pages = pages + 1 end
    end
    assert.are.equal(5, ids)
    assert.are.equal(4, pages)
    assert.are.equal(9, count("/applications/" .. APP .. "/events"))
  end)

  it("run, step and await called from a callback raise a clear error, not a hang", function()
    local errors = {}
    losant.event.get({ applicationId = APP, eventId = EVENT }, function()
      for _, f in ipairs({ eventapi.run, function() return eventapi.step(10) end,
                           function() return losant.event.get({ applicationId = APP, eventId = OTHER }):await() end }) do
        local ok, e = pcall(f)
        errors[#errors + 1] = ok and "no error" or tostring(e)
      end
    end)
    local started = core.now()
    eventapi.run()
    assert.is_true(core.now() - started < scale(5))
    assert.are.equal(3, #errors)
    for _, e in ipairs(errors) do
      assert.truthy(e:find("inside a handler or callback", 1, true), e)
      assert.truthy(e:find("spawn", 1, true), e)
    end
    -- the loop is usable afterwards
    assert.are.equal(EVENT, losant.event.get({ applicationId = APP, eventId = EVENT }):await().id)
  end)

  it("a client closed and collected inside a callback leaves the loop clean", function()
    local done = 0
    do
      local c = eventapi.losant({ url = sb.url, token = sandbox.token })
      for i = 1, 10 do
        slow_get(c, 200 + i * 10):next(function() done = done + 1 end, function() done = done + 1 end)
      end
      c.event.get({ applicationId = APP, eventId = EVENT }, function() c:close() end)
    end
    collectgarbage(); collectgarbage()
    eventapi.run()
    collectgarbage(); collectgarbage()
    assert.are.equal(10, done)
    assert.is_false(eventapi.step(0))
  end)
end)
