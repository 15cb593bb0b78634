-- The eventapi command never loses its output silently: a write that fails
-- (a full disk: /dev/full), a standard output that is closed, a @file
-- argument that cannot be read. Each command runs as a child process
-- against a real sandbox, with the redirections a shell would give it.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local APP, EVENT = command.APP, command.EVENT

--- Runs `eventapi args...` with exactly the given variables and the shell
-- redirections given (command.eventapi's redirect). Returns { code, stdout, stderr }.
local function eventapi(args, env, redirect) return command.eventapi(args, env, nil, redirect) end

--- The lines of text that contain needle (plain).
local function lines_with(text, needle)
  local found = {}
  for line in text:gmatch("[^\n]+") do
    if line:find(needle, 1, true) then found[#found + 1] = line end
  end
  return found
end

local FULL = { stdout = ">/dev/full" }
local NO_SPACE = "eventapi: OutputFailed: cannot write standard output: No space left on device"

describe("the output of eventapi", function()
  local sb, env, dir

  local function recorded() return sandbox.requests(sb) end

  --- Asserts run exited 1 with the no-space line once on stderr.
  local function assert_no_space(run)
    assert.are.equal(1, run.code, "stderr: " .. run.stderr)
    local lines = lines_with(run.stderr, NO_SPACE)
    assert.are.equal(1, #lines, "stderr: " .. run.stderr)
    assert.truthy(run.stderr:find("^eventapi: "), "stderr: " .. run.stderr)
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

  describe("on a full disk (/dev/full)", function()
    it("makes a call exit 1, saying the answer is lost", function()
      local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT }, env, FULL)
      assert_no_space(run)
      assert.truthy(run.stderr:find("the call was made; its answer is lost", 1, true), run.stderr)
      assert.are.equal(1, #recorded())
    end)

    it("makes a walk of every page exit 1", function()
      local run = eventapi({ "losant", "events", "all", "--applicationId", APP, "--perPage", "1" }, env, FULL)
      assert_no_space(run)
    end)

    it("makes the help exit 1", function()
      assert_no_space(eventapi({ "--help" }, env, FULL))
    end)

    it("makes the completion script exit 1", function()
      assert_no_space(eventapi({ "completion", "bash" }, env, FULL))
    end)

    it("makes the version exit 1", function()
      assert_no_space(eventapi({ "--version" }, env, FULL))
    end)

    it("makes a runbook whose printed lines are lost exit 1", function()
      local path = dir .. "/runbook.lua"
      command.write_file(path, 'print("the report")\n')
      assert_no_space(eventapi({ "run", path }, env, FULL))
    end)

    it("makes `eventapi env` exit 1", function()
      local run = eventapi({ "env" }, env, FULL)
      assert.are.equal(1, run.code, "stderr: " .. run.stderr)
      assert.are.equal(1, #lines_with(run.stderr, "eventapi: cannot write standard output: No space left on device"),
                       "stderr: " .. run.stderr)
    end)

    it("makes a call exit 1 even when standard error is full too", function()
      local run = eventapi({ "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT }, env,
                           { stdout = ">/dev/full", stderr = "2>/dev/full" })
      assert.are.equal(1, run.code)
    end)

    it("makes a dry run whose lines (on standard error) are lost exit 1", function()
      local run = eventapi({ "--dry-run", "losant", "events", "patch", "--applicationId", APP, "--state", "new",
                             "--updates", '{"state":"acknowledged"}' }, env, { stderr = "2>/dev/full" })
      assert.are.equal(1, run.code)
      assert.are.same({}, recorded())
    end)
  end)

  describe("with standard output closed (>&-)", function()
    it("refuses a call with exit 2, sending nothing", function()
      local run = eventapi({ "losant", "events", "patch", "--applicationId", APP, "--state", "new",
                             "--updates", '{"state":"acknowledged"}' }, env, { stdout = ">&-" })
      assert.are.equal(2, run.code, "stderr: " .. run.stderr)
      assert.are.equal(1, #lines_with(run.stderr, "eventapi: standard output is closed"), "stderr: " .. run.stderr)
      assert.are.same({}, recorded())
    end)

    it("refuses a runbook with exit 2, running nothing", function()
      local path = dir .. "/runbook.lua"
      command.write_file(path, 'losant.events.get{ applicationId = arg[1] }:await()\n')
      local run = eventapi({ "run", path, APP }, env, { stdout = ">&-" })
      assert.are.equal(2, run.code, "stderr: " .. run.stderr)
      assert.are.same({}, recorded())
    end)

    it("refuses `eventapi env` with exit 2", function()
      assert.are.equal(2, eventapi({ "env" }, env, { stdout = ">&-" }).code)
    end)
  end)

  describe("of a @file argument", function()
    it("says standard input is closed for @- when it is (<&-), sending nothing", function()
      local run = eventapi({ "losant", "events", "post", "--applicationId", APP, "--event", "@-" }, env,
                           { stdin = "<&-" })
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --event: cannot read standard input: it is closed\n", run.stderr)
      assert.are.same({}, recorded())
    end)

    it("says standard input is empty for @- when it is", function()
      local run = eventapi({ "losant", "events", "post", "--applicationId", APP, "--event", "@-" }, env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --event is not valid JSON: standard input is empty\n", run.stderr)
    end)

    it("says a directory is a directory, sending nothing", function()
      local run = eventapi({ "losant", "events", "post", "--applicationId", APP, "--event", "@" .. dir }, env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --event: cannot read " .. dir .. ": Is a directory\n", run.stderr)
      assert.are.same({}, recorded())
    end)

    it("says a directory is a directory for a json-kind param (--query)", function()
      local run = eventapi({ "losant", "events", "get", "--applicationId", APP, "--query", "@" .. dir }, env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --query: cannot read " .. dir .. ": Is a directory\n", run.stderr)
    end)

    it("says a directory is a directory for a param of no kind (--event of connectdaily)", function()
      local run = eventapi({ "connectdaily", "events", "create", "--event", "@" .. dir }, env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --event: cannot read " .. dir .. ": Is a directory\n", run.stderr)
    end)

    it("says a file that is not JSON is not JSON, naming the file, without the decoder's internals", function()
      local path = dir .. "/event.txt"
      command.write_file(path, "level: info\n")
      local run = eventapi({ "losant", "events", "post", "--applicationId", APP, "--event", "@" .. path }, env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --event is not valid JSON: unexpected character at byte 1 (in " .. path .. ")\n",
                       run.stderr)
    end)

    it("says a --config directory is a directory", function()
      local run = eventapi({ "--config", dir, "losant", "event", "get", "--applicationId", APP, "--eventId", EVENT },
                           env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: --config: cannot read " .. dir .. ": Is a directory\n", run.stderr)
    end)
  end)

  describe("of a Losant filter without filterField", function()
    it("is refused with exit 2, naming both flags, sending nothing", function()
      local run = eventapi({ "losant", "events", "patch", "--applicationId", APP, "--filter", "Door*",
                             "--updates", '{"state":"resolved"}' }, env)
      assert.are.equal(2, run.code)
      assert.are.equal("eventapi: losant events patch: filter needs filterField (without it the server ignores "
                       .. "filter)\n", run.stderr)
      assert.are.same({}, recorded())
    end)

    it("is noted in the call's help", function()
      local run = eventapi({ "losant", "events", "patch", "--help" }, env)
      assert.are.equal(0, run.code)
      assert.truthy(run.stdout:find("\n  %-%-filter +string, in the query string, needs %-%-filterField, "
                                    .. "not with %-%-query %(put it inside%)\n"), run.stdout)
    end)

    it("notes in the call's help the params that --query overrides", function()
      local run = eventapi({ "losant", "events", "get", "--help" }, env)
      assert.are.equal(0, run.code)
      assert.truthy(run.stdout:find("\n  %-%-state [^\n]*, not with %-%-query %(put it inside%)\n"), run.stdout)
    end)
  end)
end)
