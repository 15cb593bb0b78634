-- `eventapi completion bash`: a bash completion script generated from the
-- operation tables, loaded and asked under `bash -c` as bash itself would
-- (COMP_WORDS and COMP_CWORD set, the function `complete -p eventapi` names
-- called). The words it completes then run against a real sandbox.
local sandbox = require "helpers.sandbox"
local command = require "cli.command"

local q = sandbox.shell_quote
local APP = command.APP
local eventapi = command.eventapi

local SERVICES = require("eventapi.services").by_name

--- The flags the command takes for an operation row (fixed params left out,
-- the service's common params added, --all and --limit on list calls),
-- sorted; walk: the flags of the all action.
local function flags_of(service, op, walk)
  local list, seen = {}, {}
  local function add(name)
    if not seen[name] then seen[name] = true; list[#list + 1] = "--" .. name end
  end
  for _, p in ipairs(op.params) do if p.fixed == nil then add(p.name) end end
  for _, p in ipairs(not op.stream and service.common_params or {}) do add(p.name) end -- (streams take none)
  if op.pages then
    if not walk then add("all") end
    add("limit")
  end
  table.sort(list)
  return list
end

describe("eventapi completion bash", function()
  local dir, script

  setup(function()
    dir = command.temp_dir()
    local run = eventapi({ "completion", "bash" })
    assert.are.equal(0, run.code, run.stderr)
    script = dir .. "/eventapi.bash"
    command.write_file(script, run.stdout)
  end)
  teardown(function() command.rm_dir(dir) end)

  --- Asks the completion of each case (a list of the words after `eventapi`,
  -- the last one the word being completed) in one `bash -c`; returns the list
  -- of answers, each the sorted list of words offered.
  local function complete(cases)
    local lines = {
      "source " .. q(script) .. " || exit 3",
      "spec=$(complete -p eventapi) || exit 4",
      'fn=${spec#*-F }; fn=${fn%% *}',
    }
    for _, words in ipairs(cases) do
      local quoted = { "eventapi" }
      for _, w in ipairs(words) do quoted[#quoted + 1] = q(w) end
      lines[#lines + 1] = "COMP_WORDS=(" .. table.concat(quoted, " ") .. "); COMP_CWORD=" .. #words
      lines[#lines + 1] = 'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()'
      lines[#lines + 1] = '"$fn" eventapi "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"'
      lines[#lines + 1] = 'printf "%s\\n" "${COMPREPLY[@]}"; echo "----"'
    end
    local p = assert(io.popen("bash -c " .. q(table.concat(lines, "\n")) .. " 2>&1"))
    local text = p:read("a")
    local ok = p:close()
    assert.is_true(ok, text)
    local answers, current = {}, {}
    for line in text:gmatch("([^\n]*)\n") do
      if line == "----" then
        table.sort(current)
        answers[#answers + 1] = current
        current = {}
      elseif line ~= "" then
        current[#current + 1] = line
      end
    end
    assert.are.equal(#cases, #answers, text)
    return answers
  end

  --- The sorted words offered for one case.
  local function offered(...) return complete({ { ... } })[1] end

  --- Only the words of list that start with "--".
  local function flags_in(list)
    local out = {}
    for _, w in ipairs(list) do if w:sub(1, 2) == "--" then out[#out + 1] = w end end
    return out
  end

  local function has(list, word)
    for _, w in ipairs(list) do if w == word then return true end end
    return false
  end

  it("registers a completion function for eventapi when bash sources it", function()
    local p = assert(io.popen("bash -c " .. q("source " .. q(script) .. " && complete -p eventapi") .. " 2>&1"))
    local text = p:read("a")
    p:close()
    assert.truthy(text:find("^complete %-F [%w_]+ eventapi\n$"), text)
  end)

  it("offers --applicationId after `eventapi losant events get `", function()
    assert.is_true(has(offered("losant", "events", "get", ""), "--applicationId"))
  end)

  it("offers the services and the command's own words first", function()
    assert.are.same({ "completion", "connectdaily", "env", "help", "losant", "monterosa", "run" }, offered(""))
  end)

  it("offers the command's options for a word starting with -", function()
    assert.are.same({ "--compact", "--config", "--dry-run", "--header", "--help", "--pretty", "--raw", "--retries",
                      "--timeout", "--version" },
                    offered("--"))
  end)

  it("offers a service's resources, after --config and its file too", function()
    local resources = { table.unpack(require("eventapi.losant").resources) }
    table.sort(resources)
    assert.are.equal(74, #resources)
    assert.are.same(resources, offered("losant", ""))
    assert.are.same(resources, offered("--config", "config.lua", "losant", ""))
  end)

  it("offers a resource's actions, all for the resource of a list call", function()
    assert.are.same({ "all", "create", "delete", "get", "list", "update" }, offered("monterosa", "events", ""))
    assert.are.same({ "delete", "get", "patch" }, offered("losant", "integration", ""))
  end)

  it("completes the start of a word", function()
    assert.are.same({ "--state" }, offered("losant", "events", "get", "--st"))
  end)

  it("offers exactly the flags of every call of the three operation tables", function()
    local cases, expected, names = {}, {}, {}
    for service_name, service in pairs(SERVICES) do
      for _, op in ipairs(service.operations) do
        local resource, action = op.name:match("^(%w+)%.(.+)$")
        cases[#cases + 1] = { service_name, resource, action, "" }
        expected[#expected + 1] = flags_of(service, op, false)
        names[#names + 1] = service_name .. " " .. op.name
        if op.pages and require("eventapi.cli_args").paged_op(service, resource) == op then
          cases[#cases + 1] = { service_name, resource, "all", "" }
          expected[#expected + 1] = flags_of(service, op, true)
          names[#names + 1] = service_name .. " " .. resource .. ".all"
        end
      end
    end
    local options = { "--compact", "--config", "--dry-run", "--header", "--help", "--pretty", "--raw", "--retries",
                      "--timeout" }
    for i, answer in ipairs(complete(cases)) do
      local own = {}
      for _, w in ipairs(flags_in(answer)) do
        if not has(options, w) then own[#own + 1] = w end
      end
      assert.are.same(expected[i], own, names[i])
    end
  end)

  it("offers true and false after a boolean flag", function()
    assert.are.same({ "false", "true" }, offered("losant", "integration", "delete", "--includeWorkflows", ""))
  end)

  it("offers nothing after a flag that takes the user's own text", function()
    assert.are.same({}, offered("losant", "events", "get", "--applicationId", ""))
  end)

  it("offers files after @ for a JSON flag", function()
    command.write_file(dir .. "/event.json", "{}")
    assert.are.same({ "@" .. dir .. "/event.json" },
                    offered("losant", "events", "post", "--applicationId", APP, "--event", "@" .. dir .. "/event."))
  end)

  it("does not offer a flag already given", function()
    local words = offered("losant", "events", "get", "--state", "new", "")
    assert.is_false(has(words, "--state"))
    assert.is_true(has(words, "--perPage"))
  end)

  it("offers files after run", function()
    command.write_file(dir .. "/runbook.lua", "")
    assert.are.same({ dir .. "/runbook.lua" }, offered("run", dir .. "/run"))
  end)

  it("offers bash after completion", function()
    assert.are.same({ "bash" }, offered("completion", ""))
  end)

  it("offers each word of a call, from its first letters, that then runs against the sandbox", function()
    local call = { "losant", "events", "all", "--applicationId", APP, "--perPage", "2" }
    local known = { 1, 2, 3, 4, 6 } -- the words that are not the user's own values
    local cases = {}
    for _, k in ipairs(known) do
      local words = table.move(call, 1, k - 1, 1, {})
      words[k] = call[k]:sub(1, 3)
      cases[#cases + 1] = words
    end
    for n, answer in ipairs(complete(cases)) do
      assert.is_true(has(answer, call[known[n]]), call[known[n]] .. " in " .. table.concat(answer, " "))
    end
    local sb = sandbox.start()
    local run = eventapi(call, command.env_for(sb))
    local requests = sandbox.requests(sb)
    sb.stop()
    assert.are.equal(6, #command.printed_lines(run))
    assert.are.equal(3, #requests)
  end)

  it("exits with 2 for a shell it has no completion for", function()
    local run = eventapi({ "completion", "zsh" })
    assert.are.equal(2, run.code)
    assert.are.equal("eventapi: no completion for 'zsh' (shells: bash)\n", run.stderr)
  end)
end)
