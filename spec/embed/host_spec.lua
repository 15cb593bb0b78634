-- The C host example (examples/embed/host.c, build/embed-host): its own
-- poll() loop with stdin and a 100 ms tick drives a runbook through
-- eventapi.pollfd/timeout/step(0), against the sandbox over real HTTP.
local sandbox = require "helpers.sandbox"

local HOST = os.getenv("EVENTAPI_EMBED_HOST") or "build/embed-host"
local q = sandbox.shell_quote
local sb

setup(function() sb = sandbox.start({ faults = true }) end)
teardown(function() sb.stop() end)

--- Runs the host on a runbook with env (a table) and stdin text; returns
-- exit code, stdout, stderr.
local function host(runbook, env, stdin)
  local vars = { LUA_PATH = package.path, LUA_CPATH = package.cpath, LOSANT_URL = sb.url,
                 LOSANT_TOKEN = sandbox.token, LOSANT_APPLICATION = sandbox.app }
  for k, v in pairs(env or {}) do vars[k] = v end
  local words = {}
  for k, v in pairs(vars) do words[#words + 1] = k .. "=" .. q(v) end
  local input, err_file = os.tmpname(), os.tmpname()
  local f = assert(io.open(input, "w")); f:write(stdin or ""); f:close()
  local p = io.popen(("env %s %s %s <%s 2>%s"):format(table.concat(words, " "), q(HOST), q(runbook), q(input),
    q(err_file)))
  local out = p:read("a")
  local _, _, code = p:close()
  f = assert(io.open(err_file)); local err = f:read("a"); f:close()
  os.remove(input); os.remove(err_file)
  return code, out, err
end

--- The figures of the host's summary line.
local function summary(out)
  local ms, ticks, gap, failures = out:match("host: runbook done after (%d+) ms, (%d+) ticks, largest gap between "
    .. "ticks (%d+) ms, (%d+) unhandled")
  assert(ms, "no summary line in: " .. out)
  return tonumber(ms), tonumber(ticks), tonumber(gap), tonumber(failures)
end

describe("the C host example", function()
  it("runs the runbook to its end while its own loop goes on", function()
    local code, out, err = host("examples/embed/runbook.lua", { LOSANT_FAULT = "delay=1000" })
    assert.are.equal(0, code, err)
    assert.truthy(out:find("runbook: 4 new events", 1, true), out)
    assert.truthy(out:find("runbook: done, 4 new events", 1, true), out)
  end)

  it("keeps its ticks at their pace while a request is held a second", function()
    local _, out = host("examples/embed/runbook.lua", { LOSANT_FAULT = "delay=1000" })
    local ms, ticks, gap = summary(out)
    assert.is_true(ms >= 1000, out)
    assert.is_true(ticks >= math.floor(ms / 100) - 2, ("%d ticks in %d ms"):format(ticks, ms))
    assert.is_true(gap <= sandbox.time(250), ("largest gap %d ms"):format(gap))
  end)

  it("ticks while the held request is pending, before the runbook's first line", function()
    local _, out = host("examples/embed/runbook.lua", { LOSANT_FAULT = "delay=1000" })
    local first = out:find("runbook:", 1, true)
    local _, ticks_before = out:sub(1, first):gsub("tick %d+", "")
    assert.is_true(ticks_before >= 5, out)
  end)

  it("serves its stdin while eventapi has work, and quits on 'quit'", function()
    local code, out = host("examples/embed/runbook.lua", { LOSANT_FAULT = "delay=3000" }, "hello\nquit\n")
    assert.are.equal(0, code)
    assert.truthy(out:find("host: stdin: hello", 1, true), out)
    assert.truthy(out:find("host: quit after", 1, true), out)
    assert.is_nil(out:find("runbook: done", 1, true), out)
  end)

  it("takes the runbook's unhandled failures through on_unhandled and exits 1", function()
    local code, out, err = host("examples/embed/runbook.lua", { LOSANT_TOKEN = "not-a-token" })
    assert.are.equal(1, code)
    assert.truthy(err:find("host: unhandled failure: Unauthorized (401)", 1, true), err)
    local _, _, _, failures = summary(out)
    assert.are.equal(1, failures)
  end)
end)
