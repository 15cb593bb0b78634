-- The exit status of the eventapi command: 0 all done; 1 a failure (the
-- call failed, the runbook raised, an unhandled failure came out of the
-- loop, a configuration error after requests were sent); 2 a usage or
-- configuration error before anything was sent. Run against a real sandbox.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local APP, EVENT = command.APP, command.EVENT
local eventapi = command.eventapi

--- The lines of text that contain needle (plain).
local function lines_with(text, needle)
  local found = {}
  for line in text:gmatch("[^\n]+") do
    if line:find(needle, 1, true) then found[#found + 1] = line end
  end
  return found
end

describe("the exit status of eventapi", function()
  local sb, env, dir

  local function recorded() return sandbox.requests(sb) end
  local function env_with(changes) return command.env_with(env, changes) end
  local function runbook(text)
    local path = dir .. "/runbook.lua"
    command.write_file(path, text)
    return path
  end

  before_each(function()
    sb = sandbox.start()
    env = command.env_for(sb)
    dir = command.temp_dir()
  end)
  after_each(function()
    sb.stop()
    command.rm_dir(dir)
  end)

  it("is 0 when the runbook and the work it left pending are done", function()
    local path = runbook([[
      losant.events.get{ applicationId = arg[1], state = "new" }:next(function(page) print(page.totalCount) end)
    ]])
    local run = eventapi({ "run", path, APP }, env)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal("4\n", run.stdout)
    assert.are.equal("", run.stderr)
  end)

  it("is 1, with the error's line once, when a runbook leaves a failed call unhandled", function()
    local path = runbook([[
      losant.event.get{ applicationId = arg[1], eventId = "575ed0de7ae143cd83dc4a00" }
    ]])
    local run = eventapi({ "run", path, APP }, env)
    assert.are.equal(1, run.code, run.stderr)
    local lines = lines_with(run.stderr, "NotFound (404): Event was not found")
    assert.are.equal(1, #lines, "stderr: " .. run.stderr)
    assert.truthy(lines[1]:find("^eventapi: "), "stderr: " .. run.stderr)
  end)

  it("is 1, with the error's line once, when a callback of the runbook raises", function()
    local path = runbook([[
      losant.events.get{ applicationId = arg[1], state = "new" }:next(function(page)
        error("expected no new events, found " .. page.totalCount)
      end)
    ]])
    local run = eventapi({ "run", path, APP }, env)
    assert.are.equal(1, run.code, run.stderr)
    local lines = lines_with(run.stderr, "expected no new events, found 4")
    assert.are.equal(1, #lines, "stderr: " .. run.stderr)
    assert.truthy(lines[1]:find("^eventapi: "), "stderr: " .. run.stderr)
  end)

  it("is 1 when the runbook raises, even before sending anything", function()
    local path = runbook([[error("usage: runbook.lua APPLICATION_ID", 0)]])
    local run = eventapi({ "run", path }, env)
    assert.are.equal(1, run.code)
    assert.are.equal("eventapi: usage: runbook.lua APPLICATION_ID\n", run.stderr)
  end)

  it("is 1, with a raised text of two lines escaped to one line", function()
    local path = runbook([[error("first line\nsecond line", 0)]])
    local run = eventapi({ "run", path }, env)
    assert.are.equal(1, run.code)
    assert.are.equal("eventapi: first line\\nsecond line\n", run.stderr)
  end)

  it("is 1, naming the variable and what was sent, for an unconfigured service reached after a bulk PATCH",
     function()
    local path = runbook([[
      losant.events.patch{ applicationId = arg[1], state = "new", updates = { state = "acknowledged" } }:await()
      connectdaily.events.get{ cal_item_id = 42 }:await()
    ]])
    local run = eventapi({ "run", path, APP }, env_with({ CONNECTDAILY_URL = false }))
    assert.are.equal(1, run.code)
    assert.are.equal("eventapi: connectdaily needs its base URL: set CONNECTDAILY_URL (or set it in the "
                     .. "connectdaily table of the --config file) (the run stopped here, after 1 request had "
                     .. "been sent)\n", run.stderr)
    local methods = {}
    for _, r in ipairs(recorded()) do methods[#methods + 1] = r.method end
    assert.are.same({ "PATCH" }, methods)
  end)

  it("is 2 for an unconfigured service reached after writes that --dry-run kept from being sent", function()
    local path = runbook([[
      losant.events.patch{ applicationId = arg[1], state = "new", updates = { state = "acknowledged" } }:await()
      connectdaily.events.get{ cal_item_id = 42 }:await()
    ]])
    local run = eventapi({ "run", "--dry-run", path, APP }, env_with({ CONNECTDAILY_URL = false }))
    assert.are.equal(2, run.code)
    assert.truthy(run.stderr:find("\neventapi: connectdaily needs its base URL: set CONNECTDAILY_URL", 1, true),
                  "stderr: " .. run.stderr)
    assert.are.same({}, recorded())
  end)

  it("is 2 for an unconfigured service reached in a callback before anything was sent", function()
    local path = runbook([[
      eventapi.sleep(0):next(function() return monterosa.events.get{ event_id = "x" } end)
    ]])
    local run = eventapi({ "run", path }, env_with({ MONTEROSA_TOKEN = false }))
    assert.are.equal(2, run.code)
    local lines = lines_with(run.stderr, "monterosa needs an API token: set MONTEROSA_TOKEN")
    assert.are.equal(1, #lines, "stderr: " .. run.stderr)
    assert.truthy(lines[1]:find("^eventapi: "), "stderr: " .. run.stderr)
  end)

  it("is 1 for an unconfigured service reached in a callback after a request was sent", function()
    local path = runbook([[
      losant.events.get{ applicationId = arg[1] }:next(function() return monterosa.events.get{ event_id = "x" } end)
    ]])
    local run = eventapi({ "run", path, APP }, env_with({ MONTEROSA_TOKEN = false }))
    assert.are.equal(1, run.code)
    assert.are.equal(1, #lines_with(run.stderr, "set MONTEROSA_TOKEN"), "stderr: " .. run.stderr)
    assert.are.equal(1, #recorded())
  end)

  it("is 1 for a call whose server cannot be reached", function()
    local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT },
                         env_with({ LOSANT_URL = "http://127.0.0.1:1" }))
    assert.are.equal(1, run.code)
    assert.truthy(run.stderr:find("^eventapi: ConnectionFailed"), "stderr: " .. run.stderr)
  end)

  it("is 2 for a usage error, with nothing sent", function()
    local run = eventapi({ "losant", "event", "get", "--applicationId", APP }, env)
    assert.are.equal(2, run.code)
    assert.are.equal("eventapi: losant event get: missing required param 'eventId'\n", run.stderr)
    assert.are.same({}, recorded())
  end)
end)
