-- A new user's first hour with the command (issue 26): a --dry-run that
-- cannot be missed wherever it is on an `eventapi run` line, a summary line
-- that ends every dry run, and a runbook's failure printed with its line.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local APP, EVENT = command.APP, command.EVENT
local eventapi, printed = command.eventapi, command.printed
local temp_dir, rm_dir, write_file = command.temp_dir, command.rm_dir, command.write_file

describe("eventapi run for a new user", function()
  local sb, env, dir

  before_each(function()
    sb = sandbox.start()
    env = command.env_for(sb)
    dir = temp_dir()
  end)
  after_each(function()
    sb.stop()
    rm_dir(dir)
  end)

  --- Writes a runbook and returns its path.
  local function runbook(text)
    local path = dir .. "/runbook.lua"
    write_file(path, text)
    return path
  end

  local PATCH = [[
    print(eventapi.json.encode({ dry_run = eventapi.dry_run(), args = table.concat(arg, " ") }))
    losant.event.patch{ applicationId = arg[#arg - 1], eventId = arg[#arg], event = { state = "resolved" } }:await()
  ]]

  --- The methods the sandbox received.
  local function methods()
    local list = {}
    for _, r in ipairs(sandbox.requests(sb)) do list[#list + 1] = r.method end
    return list
  end

  it("makes a --dry-run after the runbook a dry run that sends no write", function()
    local run = eventapi({ "run", runbook(PATCH), APP, EVENT, "--dry-run" }, env)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.same({}, methods())
    assert.are.same({ dry_run = true, args = APP .. " " .. EVENT }, printed(run))
  end)

  it("makes a --dry-run between the runbook's args a dry run too", function()
    local run = eventapi({ "run", runbook(PATCH), APP, "--dry-run", EVENT }, env)
    assert.are.same({}, methods())
    assert.are.same({ dry_run = true, args = APP .. " " .. EVENT }, printed(run))
  end)

  it("gives the runbook every word after -- as it is, a --dry-run included", function()
    local run = eventapi({ "run", runbook(PATCH), "--", "--dry-run", APP, EVENT }, env)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.same({ dry_run = false, args = "--dry-run " .. APP .. " " .. EVENT }, printed(run))
    assert.are.same({ "PATCH" }, methods())
  end)

  it("refuses a --dry-run with a value after the runbook with exit 2, sending nothing", function()
    local run = eventapi({ "run", runbook(PATCH), APP, EVENT, "--dry-run=yes" }, env)
    assert.are.equal(2, run.code)
    assert.are.equal("eventapi: --dry-run takes no value\n", run.stderr)
    assert.are.same({}, methods())
  end)

  it("tells the runbook it is a dry run under eventapi --dry-run run", function()
    local run = eventapi({ "--dry-run", "run", runbook(PATCH), APP, EVENT }, env)
    assert.is_true(printed(run).dry_run)
  end)

  it("ends a dry run with how many writes were not sent", function()
    local path = runbook([[
      for _ = 1, 3 do
        losant.event.patch{ applicationId = arg[1], eventId = arg[2], event = { state = "resolved" } }:await()
      end
    ]])
    local run = eventapi({ "run", path, APP, EVENT, "--dry-run" }, env)
    assert.truthy(run.stderr:find("\n%[dry run%] 3 writes not sent\n$"), run.stderr)
  end)

  it("ends a dry run that wrote nothing with 0 writes not sent", function()
    local run = eventapi({ "run", "--dry-run", runbook("") }, env)
    assert.are.equal("[dry run] 0 writes not sent\n", run.stderr)
  end)

  it("prints no dry-run summary when the run was not a dry run", function()
    local run = eventapi({ "run", runbook(PATCH), APP, EVENT }, env)
    assert.are.equal("", run.stderr)
  end)

  it("ends a single call with --dry-run with 1 write not sent", function()
    local run = eventapi({ "--dry-run", "losant", "event", "patch", "--applicationId", APP, "--eventId", EVENT,
                           "--event", '{"state":"resolved"}' }, env)
    assert.truthy(run.stderr:find("\n%[dry run%] 1 write not sent\n$"), run.stderr)
  end)

  it("prints a failed call's runbook file and line with the error", function()
    local path = runbook([[
      local app = arg[1]
      losant.event.get{ applicationId = app, eventId = "575ed0de7ae143cd83dc4a00" }:await()
    ]])
    local run = eventapi({ "run", path, APP }, env)
    assert.are.equal(1, run.code)
    assert.truthy(run.stderr:find("^eventapi: " .. path:gsub("%p", "%%%0") .. ":2: NotFound %(404%)"), run.stderr)
  end)

  it("prints the runbook file and line of a call with a missing param", function()
    local path = runbook([[

      losant.event.get{ applicationId = arg[1] }:await()
    ]])
    local run = eventapi({ "run", path, APP }, env)
    assert.are.equal(1, run.code)
    assert.truthy(run.stderr:find("^eventapi: " .. path:gsub("%p", "%%%0") .. ":2: InvalidParams: "), run.stderr)
  end)
end)
