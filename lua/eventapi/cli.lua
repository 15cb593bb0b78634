--- The `eventapi` command: one call of a service from the shell, or a
-- runbook run with its clients already configured. Everything the command
-- knows about the calls comes from the registry of the services
-- (eventapi.services) and their operation tables, so the flags and the help
-- cannot drift from the library. The parts, by concern: cli_args.lua (usage
-- errors, options, flags and their values), cli_help.lua, cli_completion.lua,
-- cli_config.lua (the --config file and the environment) and cli_output.lua
-- (sorted JSON, checked writes); this file has the commands.
--
--   eventapi [options] <service> <resource> <action> [--param value ...]
--   eventapi [options] run RUNBOOK.lua [args ...]
--
-- cli.main(argv, ctx) -> exit code: 0 done; 1 a failure (the call failed,
-- the runbook raised, an unhandled failure came out of the loop, a usage
-- or configuration error came after requests had been sent, or the output
-- could not be written); 2 a usage or configuration error before anything
-- was sent (core.sent() tells). Errors are written on stderr once, after
-- "eventapi: ". Every write of the output is checked, and standard output
-- is flushed (and checked) before the exit code is returned. ctx (optional,
-- for tests and bin/eventapi) may replace getenv, stdout, stderr, stdin and
-- isatty (whether stdout is a terminal).
local eventapi = require "eventapi"
local Client = require "eventapi.client"
local Error = require "eventapi.errors"
local core = require "eventapi.core"
local services = require "eventapi.services"
local arguments = require "eventapi.cli_args"
local config = require "eventapi.cli_config"
local help = require "eventapi.cli_help"
local completion = require "eventapi.cli_completion"
local output = require "eventapi.cli_output"

local cli = {}
local usage, Usage, GLOBAL = arguments.usage, arguments.Usage, arguments.GLOBAL
local global_option, convert = arguments.global_option, arguments.convert
local ALL_FLAG, LIMIT_FLAG = arguments.ALL_FLAG, arguments.LIMIT_FLAG
local split_name, paged_op, flags_of = arguments.split_name, arguments.paged_op, arguments.flags_of
local out, shown, runbook_output = output.write, output.shown, output.runbook_output
local make_client, load_config = config.client, config.load

--- cli.json(value, pretty) -> string: value as JSON with object keys sorted
-- (see cli_output.lua).
cli.json = output.json

--- The number of requests sent since the command started.
local function sent_since(state)
  return core.sent() - state.sent
end

--- The text of an error value: an error object's own line, a plain table's
-- message, a string as it is.
local function error_line(err)
  if err == nil then return "ScriptError: no value was given (error() or error(nil))" end
  if type(err) == "table" and getmetatable(err) == nil and type(err.message) == "string" then
    return err.message
  end
  local ok, s = pcall(tostring, err)
  return Error.escape(ok and type(s) == "string" and s or ("a " .. type(err) .. " was raised")) -- one line
end

--- Reports a failure on stderr (once, prefixed "eventapi: ") and returns the
-- exit code: 2 for a usage or configuration error before anything was sent,
-- else 1. A usage error the loop wrapped (raised in a callback) counts as one.
local function failed(state, err)
  local printed = eventapi.reported(err) -- an unhandled failure the library printed already
  if Error.is(err) and getmetatable(rawget(err, "cause")) == Usage then err = err.cause end
  local usage_error = getmetatable(err) == Usage
  local n = sent_since(state)
  if usage_error and n == 0 then
    if not printed then state.ctx.stderr:write("eventapi: ", error_line(err), "\n") end
    return 2
  end
  if not printed then
    local line = error_line(err):gsub("^eventapi: ", "")
    local location = state.runbook and Error.is(err) and rawget(err, "location")
    if location then line = Error.escape(location) .. ": " .. line end -- the runbook's line that failed
    if usage_error then
      line = ("%s (the run stopped here, after %d request%s had been sent)"):format(line, n, n == 1 and "" or "s")
    end
    state.ctx.stderr:write("eventapi: ", line, "\n")
  end
  return 1
end

--- The operation row of `<service> <resource> <action>` and whether it is
-- the all action of a list call (walk); nil when the words ask for help
-- (written then); a usage error naming what is missing or unknown.
local function find_op(state, s, resource, action)
  if resource == "--help" or resource == "-h" then out(state, help.service(s)); return nil end
  if resource == nil or resource:sub(1, 1) == "-" then
    usage("missing resource after '%s' (run 'eventapi %s --help')", s.name, s.name)
  end
  local services = require "eventapi.services"
  local actions, op = {}, nil
  local rows = services.rows(s, resource)
  if #rows == 0 then
    usage("%s has no resource '%s' (resources: %s)", s.name, resource, table.concat(services.resources(s), ", "))
  end
  for _, row in ipairs(rows) do
    local _, a = split_name(row.name)
    actions[#actions + 1] = a
    if a == action then op = row end
  end
  local list_op = paged_op(s, resource)
  if list_op then actions[#actions + 1] = "all" end
  local walk = false -- every item of every page
  if action == "all" and list_op and not op then op, walk = list_op, true end
  if action == "--help" or action == "-h" then out(state, help.service(s, resource)); return nil end
  if action == nil or action:sub(1, 1) == "-" then
    usage("missing action after '%s %s' (actions: %s)", s.name, resource, table.concat(actions, ", "))
  end
  if not op then
    usage("%s %s has no action '%s' (actions: %s)", s.name, resource, action, table.concat(actions, ", "))
  end
  return op, walk
end

--- The flags of a call by name: its params, and --all and --limit on a list call.
local function flags_by_name(s, op)
  local _, by_name = flags_of(s, op)
  if op.pages then
    by_name = setmetatable({ all = by_name.all or ALL_FLAG, limit = by_name.limit or LIMIT_FLAG },
                           { __index = by_name })
  end
  return by_name
end

--- Reads the flags of a call from argv[i] on: its params, the limit and
-- whether to walk every page (--all); nil when a flag asks for help (written
-- then). call: "service resource action", for the messages.
local function read_flags(state, argv, i, s, op, walk, call)
  local by_name = flags_by_name(s, op)
  local params, limit = {}, nil
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then out(state, help.call(s, op, walk)); return nil end
    local name, value = a:match("^%-%-([^=]+)=(.*)$")
    name = name or a:match("^%-%-(.+)$")
    local p = name and by_name[name]
    if p == ALL_FLAG then
      if value then usage("--all takes no value") end
      walk = true
      i = i + 1
    elseif p then
      if not value then
        value = argv[i + 1]
        if value == nil or value:sub(1, 2) == "--" then
          usage("--%s needs a value (write --%s=VALUE for a value starting with --)", name, name)
        end
        i = i + 1
      end
      if params[name] ~= nil or (p == LIMIT_FLAG and limit ~= nil) then usage("--%s is given twice", name) end
      if p == LIMIT_FLAG then
        limit = convert(state.ctx, p, value)
        if limit < 0 then usage("--limit must be 0 or more, not %d", limit) end
      else
        params[name] = convert(state.ctx, p, value)
      end
      i = i + 1
    elseif name and GLOBAL[name:match("^[^=]*")] then
      i = global_option(state, argv, i)
    elseif name then
      usage("%s has no flag --%s (run 'eventapi %s --help')", call, name, call)
    else
      usage("unexpected argument '%s' after '%s' (flags are written --name value)", a, call)
    end
  end
  return params, limit, walk
end

--- Follows a stream action: one JSON line per message ({data, event, id},
-- keys sorted), flushed as it comes, until SIGINT (a clean end, exit 0) or
-- the stream fails (exit 1).
local function follow_stream(state, client, resource, action, params, pretty)
  local failure, ended = nil, false
  state.lost = "messages from there on are lost"
  local ok, err = pcall(function()
    core.catch_interrupt(true)
    local stream = client[resource][action](params)
    stream:on("message", function(msg)
      out(state, cli.json(msg, pretty) .. "\n")
      if type(state.ctx.stdout.flush) == "function" then state.ctx.stdout:flush() end
    end)
    stream:on("error", function(e) failure = e end)
    stream:on("close", function() ended = true end)
    while not ended and not core.interrupted() do eventapi.step(-1) end
    stream:close()
    client:close()
    eventapi.run() -- what the close queued
  end)
  core.catch_interrupt(false)
  client:close()
  if not ok then return failed(state, err) end
  if failure then return failed(state, failure) end
  return 0
end

--- Makes the call (walk: every page, at most limit items) with a client of
-- s and prints the answer; returns the exit code.
local function send_call(state, s, op, params, limit, walk, call)
  local resource, action = split_name(op.name)
  if state.config_path then state.config = load_config(state.config_path) end
  local client = make_client(s, state)
  -- The request is built once before sending so that a param error is a usage error.
  local ok, err = pcall(Client.build, client, op, params)
  if not ok then
    client:close()
    usage("%s: %s", call, Error.is(err) and tostring(err.message):gsub("^[%w.]+: ", "") or tostring(err))
  end
  local pretty = state.pretty
  if pretty == nil then pretty = state.ctx.isatty() end
  if walk then
    -- One JSON value per item, written as the pages come (the next page is
    -- fetched while this one is printed); a failure stops the walk, exit 1.
    -- The progress line (stderr on a terminal) is left out when the items
    -- go to the terminal too.
    if limit ~= nil then params.limit = limit end -- (an offset list's --limit is its page size, in params)
    if state.ctx.isatty() then params.progress = false end
    state.lost = "items from there on are lost"
    ok, err = pcall(function()
      for item in client[resource].each(params) do out(state, cli.json(shown(state, s, item), pretty) .. "\n") end
    end)
    client:close()
    if not ok then return failed(state, err) end
    return 0
  end
  if op.stream then return follow_stream(state, client, resource, action, params, pretty) end
  local result
  ok, result = pcall(function() return client[resource][action](params):await() end)
  client:close()
  if not ok then return failed(state, result) end
  state.lost = "the call was made; its answer is lost"
  out(state, cli.json(shown(state, s, result), pretty) .. "\n")
  return 0
end

--- One call: `eventapi <service> <resource> <action> [flags]`; `all` (or
-- --all on the list call) walks every page of a list call.
local function call_command(state, argv, i)
  local s = services.of(argv[i])
  local resource, action = argv[i + 1], argv[i + 2]
  local op, walk = find_op(state, s, resource, action)
  if not op then return 0 end
  local call = ("%s %s %s"):format(s.name, resource, action)
  local params, limit
  params, limit, walk = read_flags(state, argv, i + 3, s, op, walk, call)
  if not params then return 0 end
  if limit ~= nil and not walk then
    usage("--limit goes with --all: eventapi %s %s all ... --limit %d", s.name, resource, limit)
  end
  return send_call(state, s, op, params, limit, walk, call)
end

--- `eventapi run RUNBOOK.lua [args]`: the runbook runs with the globals
-- eventapi and one per service, losant, ... (clients made on first use)
-- and arg; then the loop runs until nothing is pending. --dry-run counts
-- wherever it stands; the words after `--` are the runbook's as they are.
local function run_command(state, argv, i)
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    if argv[i] == "--" then i = i + 1; break end
    if argv[i] == "--help" or argv[i] == "-h" then out(state, help.main()); return 0 end
    local nexti = global_option(state, argv, i)
    if not nexti then usage("run has no option %s", argv[i]) end
    i = nexti
  end
  local path = argv[i]
  if not path then usage("run needs a runbook file (eventapi run RUNBOOK.lua [args ...])") end
  if state.config_path then state.config = load_config(state.config_path) end
  -- After the runbook: --dry-run anywhere is the command's own flag (a dry
  -- run that cannot be missed); the runbook's args are the rest, and every
  -- word after a `--` is the runbook's as it is (`-- --dry-run` included).
  local args = { [0] = path }
  local k = i + 1
  while argv[k] ~= nil do
    local a = argv[k]
    if a == "--" then
      for j = k + 1, #argv do args[#args + 1] = argv[j] end
      break
    elseif a == "--dry-run" then state.dry_run = true
    elseif a:find("^%-%-dry%-run=") then usage("--dry-run takes no value")
    else args[#args + 1] = a end
    k = k + 1
  end
  local clients = {}
  local env = { eventapi = eventapi, arg = args }
  env.print, env.io = runbook_output(state) -- a line that cannot be written raises
  setmetatable(env, { __index = function(t, k)
    local s = type(k) == "string" and services.by_name[k]
    if s then
      local client = make_client(s, state)
      clients[#clients + 1] = client
      rawset(t, k, client)
      return client
    end
    return _G[k]
  end })
  local chunk, err = loadfile(path, "t", env)
  if not chunk then usage("run: %s", err) end
  -- --dry-run covers every client, also those the runbook makes itself
  -- (eventapi.losant{...}, whatever dry_run it passes, unless a function).
  Client.dry_run_all = state.dry_run == true
  local ok, failure = pcall(function()
    chunk(table.unpack(args, 1, #args))
    eventapi.run()
  end)
  Client.dry_run_all = false
  for _, c in ipairs(clients) do c:close() end
  if not ok then return failed(state, failure) end
  return 0
end


--- Whether the process's standard output is a terminal.
local function stdout_is_terminal()
  return require("eventapi.core").isatty(1)
end

--- Ends a dry run (a call or `run` with --dry-run, or one whose clients
-- held writes back) with `[dry run] N writes not sent` on stderr; not after
-- a usage error before any write was held (exit 2: nothing ran).
local function dry_run_summary(state, code)
  if state.held == nil then return end
  local n = Client.dry_run_held - state.held
  if code == 2 and n == 0 then return end
  if not state.dry_run and n == 0 then return end
  state.ctx.stderr:write(("[dry run] %d write%s not sent\n"):format(n, n == 1 and "" or "s"))
end

--- cli.main(argv, ctx) -> exit code (see the top of this file).
function cli.main(argv, ctx)
  ctx = ctx or {}
  local state = { sent = core.sent(), ctx = {
    getenv = ctx.getenv or os.getenv, stdout = ctx.stdout or io.stdout, stderr = ctx.stderr or io.stderr,
    stdin = ctx.stdin or io.stdin, isatty = ctx.isatty or stdout_is_terminal,
  } }
  local ok, code = pcall(function()
    local i = 1
    while argv[i] do
      local a = argv[i]
      if a == "--help" or a == "-h" or a == "help" then out(state, help.main()); return 0 end
      if a == "--version" then out(state, help.version()); return 0 end
      if a == "run" then
        state.lost = "what the runbook printed is lost"
        state.runbook, state.held = true, Client.dry_run_held
        return run_command(state, argv, i + 1)
      end
      if a == "completion" then return completion.command(state, argv, i + 1) end
      if services.by_name[a] then
        state.held = Client.dry_run_held
        return call_command(state, argv, i)
      end
      if a:sub(1, 1) == "-" then
        local nexti = global_option(state, argv, i)
        if not nexti then usage("unknown option %s (run 'eventapi --help')", a) end
        i = nexti
      else
        usage("unknown service '%s' (services: %s; run 'eventapi --help')", a, services.names_text())
      end
    end
    usage("missing service (run 'eventapi --help')")
  end)
  if not ok then code = failed(state, code) end
  dry_run_summary(state, code)
  return output.finish(state, code)
end

--- cli.help() -> the text of `eventapi --help` (tools/genman.lua makes the man page of it).
cli.help = help.main
return cli
