-- A new user's first hour (issue 26): errors point at the script's line,
-- say how many attempts were made and which limit ended a call; a script
-- can ask whether it is a dry run. Over real HTTP against the sandbox.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local fail = sandbox.rejection
local scale = sandbox.time

describe("a new user's first hour", function()
  local sb

  setup(function() sb = sandbox.start({ faults = true }) end)
  teardown(function() sb.stop() end)

  --- A Losant client of the sandbox with extra options.
  local function losant(extra) return sb.losant(extra) end

  describe("an error of a call", function()
    it("carries the file and line of the script call when a param is missing", function()
      local c <close> = losant()
      local line = debug.getinfo(1, "l").currentline + 1
      local err = fail(c.event.get({ applicationId = APP }))
      assert.are.equal("InvalidParams", err.type)
      assert.are.equal("spec/reliability/first_hour_spec.lua:" .. line, err.location)
    end)

    it("carries the file and line of a runbook that lives in a directory named eventapi", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir .. "/eventapi"))
      local path = dir .. "/eventapi/runbook.lua"
      local f = assert(io.open(path, "w"))
      f:write(("local eventapi = require 'eventapi'\n"
        .. "local c = eventapi.losant({ url = %q, token = %q })\n"
        .. "local ok, err = pcall(function() return c.event.get({ applicationId = %q }):await() end)\n"
        .. "io.write(tostring(err.location))\n"):format(sb.url, sandbox.token, APP))
      f:close()
      local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s lua5.4 %s 2>&1"):format(sandbox.shell_quote(package.path),
        sandbox.shell_quote(package.cpath), sandbox.shell_quote(path))))
      local out = p:read("a")
      p:close()
      os.execute("rm -rf " .. dir)
      assert.are.equal(path .. ":3", out)
    end)

    it("carries the file and line of the script call when client:request gets a bad path", function()
      local c <close> = losant()
      local line = debug.getinfo(1, "l").currentline + 1
      local err = fail(c:request({ method = "GET", path = "no-slash" }))
      assert.are.equal("InvalidParams", err.type)
      assert.are.equal("spec/reliability/first_hour_spec.lua:" .. line, err.location)
    end)

    it("carries the file and line of the script call when the server refuses it", function()
      local c <close> = losant()
      local line = debug.getinfo(1, "l").currentline + 1
      local err = fail(c.event.get({ applicationId = APP, eventId = "575ed0de7ae143cd83dc4a00" }))
      assert.are.equal("NotFound", err.type)
      assert.are.equal("spec/reliability/first_hour_spec.lua:" .. line, err.location)
    end)

    it("says after how many attempts it gave up when retries made more than one", function()
      local c <close> = losant({ retries = { max = 2, base = 0.01 },
                                 headers = { ["X-Sandbox-Fault"] = "status=503", ["X-Sandbox-Fault-Key"] = "fh-503" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal(3, err.attempts)
      assert.truthy(tostring(err):find("%] after 3 attempts$"), tostring(err))
    end)

    it("says nothing of attempts when only one was made", function()
      local c <close> = losant({ retries = true, headers = { ["X-Sandbox-Fault"] = "status=400" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal(1, err.attempts)
      assert.falsy(tostring(err):find("attempt", 1, true), tostring(err))
    end)

    it("names the timeout option and its limit when timeout ends the call", function()
      local limit = scale(0.5)
      local c <close> = losant({ timeout = limit, headers = { ["X-Sandbox-Fault"] = "stall" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("Timeout", err.type)
      assert.are.equal(("no answer within %s s (timeout)"):format(require("eventapi.core").number_text(limit)),
                       err.message)
    end)

    it("names connect_timeout and its limit when no connection was made in time", function()
      -- a listener that never accepts, its backlog filled, in a child process
      -- (luv's handles stay out of this one): the kernel drops further SYNs
      local port_file = os.tmpname()
      os.remove(port_file)
      local child = assert(io.popen(("lua5.4 -e %s 2>/dev/null"):format(sandbox.shell_quote(([[
        local uv = require "luv"
        local listener = uv.new_tcp()
        assert(listener:bind("127.0.0.1", 0))
        assert(listener:listen(0, function() end))
        for _ = 1, 4 do uv.new_tcp():connect("127.0.0.1", listener:getsockname().port, function() end) end
        os.execute("sleep 0.2")
        local f = io.open(%q, "w"); f:write(listener:getsockname().port); f:close()
        io.read("a")
      ]]):format(port_file))), "w"))
      local port
      for _ = 1, 200 do
        local f = io.open(port_file)
        port = f and f:read("n")
        if f then f:close() end
        if port then break end
        os.execute("sleep 0.05")
      end
      os.remove(port_file)
      local limit = scale(0.3)
      local c <close> = eventapi.losant({ url = "http://127.0.0.1:" .. tostring(port), token = sandbox.token,
                                          connect_timeout = limit, timeout = scale(10) })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      child:close()
      assert.is_number(port)
      assert.are.equal("Timeout", err.type)
      assert.are.equal(("no connection within %s s (connect_timeout)"):format(require("eventapi.core").number_text(limit)),
                       err.message)
    end)

    it("keeps naming idle_timeout when no byte came for that long", function()
      local c <close> = losant({ idle_timeout = 1, timeout = scale(5), headers = { ["X-Sandbox-Fault"] = "stall" } })
      local err = fail(c.event.get({ applicationId = APP, eventId = EVENT }))
      assert.are.equal("no data received for 1 s (idle_timeout)", err.message)
    end)
  end)

  describe("eventapi.dry_run", function()
    it("says a client made with dry_run = true is a dry run", function()
      local c <close> = losant({ dry_run = function() end })
      local result = c.event.patch({ applicationId = APP, eventId = EVENT, event = { state = "resolved" } }):await()
      assert.is_true(result.dry_run)
      assert.is_true(eventapi.dry_run(c))
    end)

    it("says a plain client is not a dry run", function()
      local c <close> = losant()
      assert.is_false(eventapi.dry_run(c))
    end)

    it("says a plain script is not a dry run as a whole", function()
      assert.is_false(eventapi.dry_run())
    end)
  end)
end)
