-- A Connect Daily cal_item_id given as an integral float (42.0, as arithmetic
-- or a JSON decoder may give it) addresses the event like the integer, as
-- integral floats do everywhere else; 42.5, NaN and infinity are refused
-- before anything is sent. Runbooks run by `eventapi run` against a real sandbox.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

describe("a Connect Daily cal_item_id", function()
  local sb, env, dir

  --- Runs a runbook whose arg[1] is the Lua expression of the id.
  local function run_with_id(text, expression)
    local path = dir .. "/runbook.lua"
    command.write_file(path, "local id = assert(load('return ' .. arg[1]))()\n" .. text)
    return command.eventapi({ "run", path, expression }, env)
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

  it("of 42.0 reads the event 42", function()
    local run = run_with_id([[print(connectdaily.events.get{ cal_item_id = id }:await().description)]], "42.0")
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal("Weekly board meeting\n", run.stdout)
    assert.are.equal("/calendar/restapi/v1/events/42", sandbox.requests(sb)[1].path)
  end)

  it("of 84 / 2 forks the occurrence of the event 42", function()
    local run = run_with_id([[
      print(math.type(connectdaily.events.fork{ cal_item_id = id, starting_date = "2026-12-08" }:await()))
    ]], "84 / 2")
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal("integer\n", run.stdout)
    local r = sandbox.requests(sb)[1]
    assert.are.equal("/calendar/restapi/v1/events/42", r.path)
    assert.are.equal("fork=1&starting_date=2026-12-08", r.query)
  end)

  for _, case in ipairs({ { "42.5", "42.5" }, { "NaN", "0/0" }, { "infinity", "math.huge" },
                          { "-42.0", "-42.0" } }) do
    local what, expression = case[1], case[2]
    it("of " .. what .. " is refused before anything is sent", function()
      local run = run_with_id([[connectdaily.events.get{ cal_item_id = id }:await()]], expression)
      assert.are.equal(1, run.code)
      assert.truthy(run.stderr:find("^eventapi: [^\n]*runbook%.lua:%d+: InvalidParams: events.get: "
                                    .. "cal_item_id must be a positive integer"),
                    "stderr: " .. run.stderr)
      assert.are.same({}, sandbox.requests(sb))
    end)
  end
end)
