-- `eventapi losant device stateStream ...`: one JSON line per message until
-- SIGINT (exit 0) or until the stream fails (exit 1), against the sandbox.
local cjson = require "cjson"
local eventapi_lib = require "eventapi"
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local APP = command.APP
local q = sandbox.shell_quote

--- Starts `eventapi args...` in the background with env; -> handle with
-- pid, lines() (its stdout so far), stderr(), exit() (waits for its code).
local function start(args, env)
  local out, err = os.tmpname(), os.tmpname()
  local parts = { "env" }
  for _, name in ipairs(command.VARIABLES) do parts[#parts + 1] = "-u " .. name end
  for k, v in pairs(env) do parts[#parts + 1] = q(k .. "=" .. v) end
  parts[#parts + 1] = "lua5.4 bin/eventapi"
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local line = table.concat(parts, " ") .. " >" .. q(out) .. " 2>" .. q(err) .. " </dev/null & echo $!; wait $!; echo $?"
  local pipe = assert(io.popen("exec sh -c " .. q(line), "r"))
  local h = { pid = tonumber(pipe:read("l")) }
  local function read(path)
    local f = io.open(path, "rb")
    local text = f and f:read("a") or ""
    if f then f:close() end
    return text
  end
  local kept -- stdout and stderr once it exited
  function h.lines()
    local list = {}
    for l in (kept and kept[1] or read(out)):gmatch("[^\n]+") do list[#list + 1] = l end
    return list
  end
  function h.stderr() return kept and kept[2] or read(err) end
  function h.exit()
    local code = tonumber(pipe:read("l"))
    pipe:close()
    kept = { read(out), read(err) }
    os.remove(out); os.remove(err)
    return code
  end
  return h
end

--- Waits until pred() holds, at most seconds; -> whether it did.
local function wait_until(pred, seconds)
  local deadline = os.time() + seconds
  while os.time() <= deadline do
    if pred() then return true end
    os.execute("sleep 0.05")
  end
  return pred()
end

describe("eventapi losant device stateStream", function()
  local sb, env, client

  setup(function()
    sb = sandbox.start({ faults = true, record = true })
    env = command.env_for(sb)
    client = eventapi_lib.losant({ url = sb.url, token = command.LOSANT_TOKEN })
  end)
  teardown(function()
    client:close()
    sb.stop()
  end)

  local function new_device(name)
    return client.devices.post({ applicationId = APP, device = { name = name } }):await().id
  end

  --- Whether the sandbox has recorded a request for path (the stream opened).
  local function recorded(path)
    for _, r in ipairs(sandbox.requests(sb)) do
      if r.path:find(path, 1, true) then return true end
    end
    return false
  end

  it("prints one JSON line per message and exits 0 on SIGINT", function()
    local id = new_device("cli-stream")
    local h = start({ "losant", "device", "stateStream", "--applicationId", APP, "--deviceId", id }, env)
    assert.is_true(wait_until(function() return recorded("/devices/" .. id .. "/stateStream") end, sandbox.time(10)))
    os.execute("sleep 0.3") -- (the stream is recorded as it opens)
    for n = 1, 2 do
      client.device.sendState({ applicationId = APP, deviceId = id, deviceState = { data = { n = n } } }):await()
    end
    assert.is_true(wait_until(function() return #h.lines() == 2 end, sandbox.time(10)), h.stderr())
    local lines = h.lines()
    os.execute("kill -INT " .. h.pid)
    assert.are.equal(0, h.exit())
    local first, second = cjson.decode(lines[1]), cjson.decode(lines[2])
    assert.are.equal("deviceState", first.event)
    assert.are.same({ 1, 2 }, { first.data.data.n, second.data.data.n })
  end)

  it("exits 1 naming the failure when the stream is refused", function()
    local run = command.eventapi({ "losant", "device", "stateStream", "--applicationId", APP,
                                   "--deviceId", "aaaaaaaaaaaaaaaaaaaaaaaa" }, env)
    assert.are.equal(1, run.code)
    assert.truthy(run.stderr:find("NotFound (404)", 1, true), run.stderr)
  end)

  it("exits 1 when the stream is dropped, after the messages it carried", function()
    local id = new_device("cli-drop")
    local h = start({ "losant", "device", "stateStream", "--applicationId", APP, "--deviceId", id,
                      "--header", "X-Sandbox-Fault: stream-drop=1" }, env)
    assert.is_true(wait_until(function() return recorded("/devices/" .. id .. "/stateStream") end, sandbox.time(10)))
    os.execute("sleep 0.3")
    client.device.sendState({ applicationId = APP, deviceId = id, deviceState = { data = { n = 1 } } }):await()
    assert.are.equal(1, h.exit())
    assert.are.equal(1, #h.lines())
    assert.truthy(h.stderr():find("ConnectionFailed", 1, true), h.stderr())
  end)
end)
