-- The command's own flags for a new user (issue 26): --retries, --timeout
-- and --header without a --config file, reads retried on 429 and 503 by
-- default, the allowed values of a param in its help and its completion,
-- every command in `eventapi --help`, and bad values refused before any
-- traffic.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local q = sandbox.shell_quote
local PROJECT = command.PROJECT
local eventapi = command.eventapi

--- The monterosa list call, then the extra words.
local function list(...)
  local words = { "monterosa", "events", "list", "--project_id", PROJECT, "--state", "future" }
  for _, w in ipairs({ ... }) do words[#words + 1] = w end
  return words
end

local key_count = 0
--- The headers making the sandbox answer the first n requests with a fault (a fresh key each time).
local function fail_first(n, fault)
  key_count = key_count + 1
  return "--header", "X-Sandbox-Fault: " .. fault .. ",fail-first=" .. n,
         "--header", ("X-Sandbox-Fault-Key: flags-%d-%d"):format(key_count, os.time())
end

describe("the command's flags", function()
  local sb, env

  before_each(function()
    sb = sandbox.start({ faults = true })
    env = command.env_for(sb)
  end)
  after_each(function() sb.stop() end)

  --- The GETs the sandbox received.
  local function gets()
    local n = 0
    for _, r in ipairs(sandbox.requests(sb)) do if r.method == "GET" then n = n + 1 end end
    return n
  end

  it("retries a read answered 503 without any flag", function()
    local run = eventapi(list(fail_first(1, "status=503,retry-after=0")), env)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal(2, gets())
  end)

  it("retries a read answered 429 without any flag", function()
    local run = eventapi(list(fail_first(1, "status=429,retry-after=0")), env)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal(2, gets())
  end)

  it("does not retry a read with --retries 0", function()
    local run = eventapi(list("--retries", "0", fail_first(1, "status=503,retry-after=0")), env)
    assert.are.equal(1, run.code)
    assert.are.equal(1, gets())
  end)

  it("retries a read at most --retries N times", function()
    local run = eventapi(list("--retries", "2", fail_first(5, "status=503,retry-after=0")), env)
    assert.are.equal(1, run.code)
    assert.are.equal(3, gets())
  end)

  it("does not retry a write answered 503", function()
    local run = eventapi({ "monterosa", "events", "create", "--project_id", PROJECT, "--name", "2026",
                           "--start_at", "2026-01-01T00:00:00Z", fail_first(1, "status=503,retry-after=0") }, env)
    assert.are.equal(1, run.code)
    assert.are.equal(1, #sandbox.requests(sb))
  end)

  it("sends every --header given on the request", function()
    local run = eventapi(list("--header", "X-First: one", "--header", "X-Second:two"), env)
    assert.are.equal(0, run.code, run.stderr)
    local headers = sandbox.requests(sb)[1].headers
    assert.are.equal("one", headers["x-first"])
    assert.are.equal("two", headers["x-second"])
  end)

  it("gives up on a request after --timeout seconds", function()
    local run = eventapi(list("--retries", "0", "--timeout", tostring(sandbox.time(0.3)),
                              "--header", "X-Sandbox-Fault: delay=" .. math.floor(sandbox.time(3000))), env)
    assert.are.equal(1, run.code)
    assert.matches("(timeout)", run.stderr, 1, true)
  end)

  it("takes --header and --retries before the runbook of eventapi run", function()
    local dir = command.temp_dir()
    local path = dir .. "/runbook.lua"
    command.write_file(path, ("monterosa.events.list{ project_id = %q, state = 'future' }:await()"):format(PROJECT))
    local run = eventapi({ "run", "--header", "X-Runbook: yes", "--retries", "1", path }, env)
    command.rm_dir(dir)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal("yes", sandbox.requests(sb)[1].headers["x-runbook"])
  end)

  it("retries a runbook's read answered 503 without any flag", function()
    local dir = command.temp_dir()
    local path = dir .. "/runbook.lua"
    command.write_file(path, ("monterosa.events.list{ project_id = %q, state = 'future' }:await()"):format(PROJECT))
    local words = { "run", fail_first(1, "status=503,retry-after=0") }
    words[#words + 1] = path
    local run = eventapi(words, env)
    command.rm_dir(dir)
    assert.are.equal(0, run.code, run.stderr)
    assert.are.equal(2, gets())
  end)

  for _, case in ipairs({
    { "--retries -1", { "--retries", "-1" }, "--retries must be a whole number" },
    { "--retries 101", { "--retries", "101" }, "--retries must be a whole number" },
    { "--timeout abc", { "--timeout", "abc" }, "--timeout must be seconds" },
    { "--timeout 0", { "--timeout", "0" }, "--timeout must be seconds" },
    { "--header 'no colon'", { "--header", "no colon" }, "--header must be 'Name: value'" },
    { "--header ': no name'", { "--header", ": no name" }, "--header must be 'Name: value'" },
  }) do
    it("refuses " .. case[1] .. " as a usage error before any traffic", function()
      local run = eventapi(list(table.unpack(case[2])), env)
      assert.are.equal(2, run.code)
      assert.matches(case[3], run.stderr, 1, true)
      assert.are.same({}, sandbox.requests(sb))
    end)
  end

  it("refuses --timeout abc before a runbook runs", function()
    local dir = command.temp_dir()
    local path = dir .. "/runbook.lua"
    command.write_file(path, ("monterosa.events.list{ project_id = %q, state = 'future' }:await()"):format(PROJECT))
    local run = eventapi({ "run", "--timeout", "abc", path }, env)
    command.rm_dir(dir)
    assert.are.equal(2, run.code)
    assert.are.same({}, sandbox.requests(sb))
  end)
end)

describe("the command's help", function()
  it("lists every command in eventapi --help", function()
    local text = eventapi({ "--help" }).stdout
    for _, usage in ipairs({ "eventapi %[options%] run", "eventapi completion bash", "eventapi env",
                             "eventapi help" }) do
      assert.matches("\n%s+" .. usage, text)
    end
  end)

  it("describes --retries, --timeout and --header in eventapi --help", function()
    local text = eventapi({ "--help" }).stdout
    assert.matches("\n  %-%-retries N ", text)
    assert.matches("\n  %-%-timeout S ", text)
    assert.matches("\n  %-%-header 'Name: value'", text)
  end)

  it("shows the values a param allows in the help of its call", function()
    local run = eventapi({ "monterosa", "events", "list", "--help" })
    assert.matches("\n  %-%-sort start_time|%-start_time ", run.stdout)
  end)

  it("shows the states of a Losant event in the help of events get", function()
    local run = eventapi({ "losant", "events", "get", "--help" })
    assert.matches("\n  %-%-state new|acknowledged|resolved ", run.stdout)
  end)
end)

describe("the completion of a param's values", function()
  local dir, script

  setup(function()
    dir = command.temp_dir()
    script = dir .. "/eventapi.bash"
    command.write_file(script, eventapi({ "completion", "bash" }).stdout)
  end)
  teardown(function() command.rm_dir(dir) end)

  --- The sorted words the completion offers for words (the last one being completed).
  local function complete(words)
    local quoted = { "eventapi" }
    for _, w in ipairs(words) do quoted[#quoted + 1] = q(w) end
    local lines = {
      "source " .. q(script) .. " || exit 3",
      "COMP_WORDS=(" .. table.concat(quoted, " ") .. "); COMP_CWORD=" .. #words,
      "COMPREPLY=()",
      '_eventapi eventapi "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    }
    local p = assert(io.popen("bash -c " .. q(table.concat(lines, "\n")) .. " 2>&1"))
    local list = {}
    for line in p:lines() do if line ~= "" then list[#list + 1] = line end end
    p:close()
    table.sort(list)
    return list
  end

  it("offers the allowed values after --sort", function()
    assert.are.same({ "-start_time", "start_time" },
                    complete({ "monterosa", "events", "list", "--sort", "" }))
  end)

  it("offers the states after --state of losant events get", function()
    assert.are.same({ "acknowledged", "new", "resolved" }, complete({ "losant", "events", "get", "--state", "" }))
  end)

  it("offers the sort fields after --sortField of losant events get", function()
    assert.are.same({ "creationDate" }, complete({ "losant", "events", "get", "--sortField", "cr" }))
  end)

  it("offers nothing after --timeout", function()
    assert.are.same({}, complete({ "--timeout", "" }))
  end)

  it("skips the value of --header when finding the call", function()
    assert.are.same({ "events" }, complete({ "--header", "X-A: b", "monterosa", "ev" }))
  end)
end)
