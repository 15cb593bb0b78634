--- The `eventapi` command: one call of a service from the shell, or a
-- runbook run with its clients already configured. Everything the command
-- knows about the calls comes from the services' operation tables, so the
-- flags and the help cannot drift from the library.
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

local json = eventapi.json
local cli = {}

--- The services, in the order the help lists them; each with what it is,
-- where its module keeps the operation table, and its configuration: the
-- option each environment variable sets, and the options that must be set.
local SERVICES = {
  { name = "losant", title = "Losant events and integrations", module = "eventapi.losant",
    env = { { "url", "LOSANT_URL" }, { "token", "LOSANT_TOKEN" } },
    credentials = { "token" } },
  { name = "connectdaily", title = "Connect Daily calendar events", module = "eventapi.connectdaily",
    env = { { "url", "CONNECTDAILY_URL" }, { "user", "CONNECTDAILY_USER" },
            { "password", "CONNECTDAILY_PASSWORD" }, { "token", "CONNECTDAILY_TOKEN" } },
    needs_url = true, credentials = { "token", "user", "password" } },
  { name = "monterosa", title = "Monterosa Control API v2 live events", module = "eventapi.monterosa",
    env = { { "url", "MONTEROSA_URL" }, { "token", "MONTEROSA_TOKEN" } },
    needs_url = true, credentials = { "token" } },
}
for _, s in ipairs(SERVICES) do SERVICES[s.name] = s end

--- Options of the command itself (before the service, or among a call's flags).
local GLOBAL = { config = "value", ["dry-run"] = "flag", pretty = "flag", compact = "flag", raw = "flag",
                 retries = "value", timeout = "value", header = "value" }

--- The retries of the command's clients unless --retries or the --config
-- file says otherwise: reads (GET only) retried on 429 and 503.
local CLI_RETRIES = { max = 3, on = { 429, 503 }, methods = { "GET" } }

--- Flags a list call (one with pages) takes besides its params: --all walks
-- every page, --limit (not sent) stops the walk after that many items.
local ALL_FLAG = { name = "all", flag = true }
local LIMIT_FLAG = { name = "limit", kind = "integer" }

-- A usage or configuration error: raised as this object, reported as one
-- line; exit code 2 when nothing was sent yet, else 1.
local Usage = { __name = "eventapi.cli.Usage" }
Usage.__tostring = function(u) return u.message end
local function usage(fmt, ...)
  error(setmetatable({ message = fmt:format(...) }, Usage), 0)
end

--- The service table (operations, common_params) of a service entry.
local function service_table(s)
  return require("eventapi.services").of(s.name)
end

--- The flags of an operation row: its params (fixed ones excluded), then the
-- service's common params it does not name itself (the order prepare gives
-- the client), as a list and by name.
local function flags_of(service, op)
  local list, by_name = {}, {}
  for _, p in ipairs(Client.prepare(service, op).all_params) do
    if p.fixed == nil then list[#list + 1] = p; by_name[p.name] = p end
  end
  return list, by_name
end

--- "resource", "action" of a row name.
local function split_name(name)
  return name:match("^(%w+)%.(.+)$")
end

--- The list call of a resource: its operation with pages (the one whose
-- `each` the client puts on the resource), or nil.
local function paged_op(service, resource)
  local found
  for _, row in ipairs(service.operations) do
    if row.pages and split_name(row.name) == resource then found = row end
  end
  return found
end

--------------------------------------------------------------------------------
-- JSON output: keys sorted, pretty (two spaces) or on one line.

--- cli.json(value, pretty) -> string: value as JSON with object keys sorted;
-- pretty puts one member per line, indented by two spaces. Scalars are
-- written by eventapi.json.encode, so numbers stay exact.
function cli.json(value, pretty)
  local out = {}
  local function write(v, depth)
    if type(v) ~= "table" then out[#out + 1] = json.encode(v); return end
    if depth >= 1000 then error("JSON nesting deeper than 1000 (a cycle?)", 0) end
    local inner = pretty and "\n" .. ("  "):rep(depth + 1) or ""
    local close = pretty and "\n" .. ("  "):rep(depth) or ""
    local n = core.array_length(v) -- the core encoder's rule
    if n then
      if n == 0 then out[#out + 1] = "[]"; return end
      out[#out + 1] = "["
      for i = 1, n do
        out[#out + 1] = (i > 1 and "," or "") .. inner
        write(rawget(v, i), depth + 1)
      end
      out[#out + 1] = close .. "]"
      return
    end
    local keys = {}
    for k in pairs(v) do
      if type(k) ~= "string" and math.type(k) ~= "integer" then
        error("JSON object keys must be strings, not " .. type(k), 0)
      end
      keys[#keys + 1] = tostring(k)
    end
    if #keys == 0 then out[#out + 1] = "{}"; return end
    table.sort(keys)
    local lookup = {}
    for k in pairs(v) do lookup[tostring(k)] = k end
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      out[#out + 1] = (i > 1 and "," or "") .. inner .. json.encode(k) .. (pretty and ": " or ":")
      write(rawget(v, lookup[k]), depth + 1)
    end
    out[#out + 1] = close .. "}"
  end
  write(value, 0)
  return table.concat(out)
end

--------------------------------------------------------------------------------
-- Help, generated from the operation tables.

local function flag_text(p)
  return "--" .. p.name .. (p.required and "*" or "")
end

--- The allowed values of a param, "a|b|c", or nil when any value goes.
local function enum_text(p)
  if type(p.enum) ~= "table" or #p.enum == 0 then return nil end
  local words = {}
  for i, v in ipairs(p.enum) do words[i] = tostring(v) end
  return table.concat(words, "|")
end

--- One line per call: "  service resource action  --param* --param ...".
local function call_lines(s, filter_resource)
  local service, lines, rows = service_table(s), {}, {}
  local width = 0
  for _, op in ipairs(service.operations) do
    local resource, action = split_name(op.name)
    if not filter_resource or resource == filter_resource then
      local own = {}
      for _, p in ipairs(op.params) do
        if p.fixed == nil then own[#own + 1] = flag_text(p) end
      end
      local call = ("%s %s %s"):format(s.name, resource, action)
      if #call > width then width = #call end
      rows[#rows + 1] = { call, table.concat(own, " ") }
      if op.pages and paged_op(service, resource) == op then -- the all action walks this list call
        own[#own + 1] = "--limit"
        local all = ("%s %s all"):format(s.name, resource)
        if #all > width then width = #all end
        rows[#rows + 1] = { all, table.concat(own, " ") }
      end
    end
  end
  for _, r in ipairs(rows) do
    lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(r[1], r[2]):gsub("%s+$", "")
  end
  if service.common_params and #service.common_params > 0 then
    local common = {}
    for _, p in ipairs(service.common_params) do common[#common + 1] = flag_text(p) end
    lines[#lines + 1] = ("  (every %s call also takes %s)"):format(s.name, table.concat(common, " "))
  end
  return lines
end

local function env_line(s)
  local names = {}
  for _, e in ipairs(s.env) do names[#names + 1] = e[2] end
  return table.concat(names, ", ")
end

local OPTIONS_HELP = [[
options (before the service or among a call's flags):
  --config FILE   a Lua file returning { losant = {...}, connectdaily = {...}, monterosa = {...} },
                  each a table of client options; the environment fills the options it leaves out
  --dry-run       calls that change data are printed and not sent; reads go through
  --pretty        indented JSON output (the default when stdout is a terminal)
  --compact       one-line JSON output (the default otherwise)
  --raw           keep Monterosa's raw JSON:API answer (`document`) in the output
  --retries N     retry a read (GET) answered 429 or 503 at most N times (default 3; 0: never),
                  waiting as Retry-After asks or backing off
  --timeout S     seconds for each whole request (0.001 to 86400); then `Timeout`
  --header 'Name: value'
                  an extra header on every request; give it again for more headers
  --help, -h      this help; `eventapi <service> --help` and
                  `eventapi <service> <resource> <action> --help` for one service or call
  --version       the version

flags are named after the call's params: --name value or --name=value; * marks the
required ones. integer params take digits, boolean ones true or false, json and table
params a JSON text or @file.json (@- reads standard input); params without a kind take
their text when the call accepts it, else the text read as JSON.

list calls (losant events get, losant integrations get, monterosa events list) take
--all: every item of every page, one JSON value per line (pretty on a terminal);
`<service> <resource> all` is the same; --limit N stops after N items.

exit codes: 0 done; 1 a failure: the call failed, the runbook raised, an unhandled
failure came out of the loop, configuration was missing after requests were sent, or
the output could not be written (a full disk: the call was made, its answer is lost);
2 a usage error or missing configuration, or standard output closed, nothing sent.
Errors go to stderr after "eventapi: ".]]

local function main_help()
  local lines = {
    "usage: eventapi [options] <service> <resource> <action> [--param value ...]",
    "       eventapi [options] run RUNBOOK.lua [args ...]",
    "       eventapi completion bash",
    "       eventapi env",
    "       eventapi help (or --help, -h), eventapi --version",
    "",
    "services and their environment variables:",
  }
  for _, s in ipairs(SERVICES) do
    lines[#lines + 1] = ("  %-13s %s (%s)"):format(s.name, s.title, env_line(s))
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "calls (* required):"
  for _, s in ipairs(SERVICES) do
    for _, l in ipairs(call_lines(s)) do lines[#lines + 1] = l end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = OPTIONS_HELP
  lines[#lines + 1] = ""
  lines[#lines + 1] = "run: the runbook gets the globals eventapi, losant, connectdaily and monterosa (each"
  lines[#lines + 1] = "client made on first use from the configuration; an unconfigured one raises an error"
  lines[#lines + 1] = "naming its variables) and arg (arg[0] the runbook, arg[1..] its args, also in ...);"
  lines[#lines + 1] = "after the runbook returns, the loop runs (eventapi.run()) until nothing is pending."
  lines[#lines + 1] = ""
  lines[#lines + 1] = "completion bash: prints a bash completion script of every call and flag; load it with"
  lines[#lines + 1] = "source <(eventapi completion bash)."
  lines[#lines + 1] = ""
  lines[#lines + 1] = "env: prints the export lines of LUA_PATH and LUA_CPATH that make a plain lua5.4 find"
  lines[#lines + 1] = "this eventapi: eval \"$(eventapi env)\"."
  return table.concat(lines, "\n") .. "\n"
end

local function service_help(s, resource)
  local lines = {
    ("usage: eventapi [options] %s %s <action> [--param value ...]"):format(s.name, resource or "<resource>"),
    "",
    ("%s; configured by %s."):format(s.title, env_line(s)),
    "",
    "calls (* required):",
  }
  for _, l in ipairs(call_lines(s, resource)) do lines[#lines + 1] = l end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("`eventapi %s <resource> <action> --help` describes one call."):format(s.name)
  return table.concat(lines, "\n") .. "\n"
end

local PLACES = { path = "in the path", query = "in the query string", body = "the JSON body",
                 header = "a header", attribute = "an attribute of the body" }

--- The help of one call; walk: the help of the all action of its resource.
local function call_help(s, service, op, walk)
  local resource, action = split_name(op.name)
  local path = type(op.path) == "string" and op.path or "(computed from the params)"
  local lines = {
    ("usage: eventapi [options] %s %s %s [--param value ...]"):format(s.name, resource, walk and "all" or action),
    "",
    ("%s %s (%s)"):format(op.method, path, s.title),
  }
  if walk then
    lines[#lines + 1] = ("every item of every page of `%s %s %s`, one JSON value per line"):format(s.name, resource,
                                                                                                  action)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "params (* required):"
  local flags = { table.unpack((flags_of(service, op))) }
  local extra = {}
  if op.pages then
    extra[ALL_FLAG] = "every item of every page, one JSON value per line"
    extra[LIMIT_FLAG] = "integer, with --all: stop after that many items (not sent)"
    if not walk then flags[#flags + 1] = ALL_FLAG end
    flags[#flags + 1] = LIMIT_FLAG
  end
  local width = 0
  local function left(p) return flag_text(p) .. (enum_text(p) and " " .. enum_text(p) or "") end
  for _, p in ipairs(flags) do width = math.max(width, #left(p)) end
  for _, p in ipairs(flags) do
    local notes = { enum_text(p) and "one of these" or p.kind or (p.check and "text or JSON" or "string"),
                    PLACES[p.place] }
    if p.wire and p.wire ~= p.name then notes[#notes + 1] = "sent as " .. p.wire end
    if p.default ~= nil then notes[#notes + 1] = "default " .. tostring(p.default) end
    if p.requires then notes[#notes + 1] = "needs --" .. p.requires end
    if p.overridden_by then notes[#notes + 1] = "not with --" .. p.overridden_by .. " (put it inside)" end
    local text = extra[p] or table.concat(notes, ", ")
    lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(left(p), text)
  end
  return table.concat(lines, "\n") .. "\n"
end

--------------------------------------------------------------------------------
-- Values of flags.

--- Reads a @file argument (@- is standard input); returns its text and
-- where it came from ("standard input" or the file's name). A file that
-- cannot be opened or read (a directory, standard input closed) is a usage
-- error naming it.
local function read_source(ctx, flag, text)
  local name = text:sub(2)
  if name == "-" then
    local data, err = ctx.stdin:read("a")
    if data == nil then usage("--%s: cannot read standard input: %s", flag, tostring(err or "it is closed")) end
    return data, "standard input"
  end
  local f, err = io.open(name, "rb")
  if not f then usage("--%s: cannot read %s", flag, err or name) end
  local data, read_err = f:read("a")
  f:close()
  if data == nil then usage("--%s: cannot read %s: %s", flag, name, tostring(read_err)) end
  return data, name
end

--- The value of a JSON text (from: where it was read, for the message);
-- a usage error saying why it is not JSON.
local function decode_json(flag, text, from)
  if text == "" and from then usage("--%s is not valid JSON: %s is empty", flag, from) end
  local ok, v = pcall(json.decode, text)
  if not ok then
    local why = Error.is(v) and tostring(v.message) or tostring(v):gsub("^.-:%d+: ", "")
    why = why:gsub("^eventapi%.json%.decode: ", ""):gsub("^invalid JSON: ", "")
    usage("--%s is not valid JSON: %s%s", flag, why, from and (" (in " .. from .. ")") or "")
  end
  return v
end

--- The Lua value of a flag's text, by the param's kind.
local function convert(ctx, p, text)
  local kind = p.kind
  if kind == "integer" then
    local n = text:match("^%s*[-+]?%d+%s*$") and math.tointeger(tonumber(text))
    if not n then usage("--%s must be an integer, not '%s'", p.name, text) end
    return n
  elseif kind == "boolean" then
    if text == "true" then return true elseif text == "false" then return false end
    usage("--%s must be true or false, not '%s'", p.name, text)
  elseif kind == "json" or kind == "table" then
    local from
    if text:sub(1, 1) == "@" then text, from = read_source(ctx, p.name, text) end
    local v = decode_json(p.name, text, from)
    if kind == "table" and type(v) ~= "table" then
      usage("--%s must be a JSON object or array", p.name)
    end
    return v
  elseif kind == nil and p.check then
    -- No declared kind: the text if the param's check takes it, else JSON.
    if pcall(p.check, text) then return text end
    if text:sub(1, 1) == "@" then return decode_json(p.name, read_source(ctx, p.name, text)) end -- its text and name
    local ok, v = pcall(json.decode, text)
    if ok then return v end
    return text -- the call's own check names what is wrong
  end
  return text
end

--------------------------------------------------------------------------------
-- Configuration.

--- Loads a --config file: a Lua chunk returning a table of service option tables.
local function load_config(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then usage("--config: %s", err) end
  local ok, cfg = pcall(chunk)
  if not ok then usage("--config %s failed: %s", path, tostring(cfg)) end
  if type(cfg) ~= "table" then usage("--config %s must return a table, not a %s", path, type(cfg)) end
  for k, v in pairs(cfg) do
    if not SERVICES[k] then
      usage("--config %s: unknown service '%s' (services: losant, connectdaily, monterosa)", path, tostring(k))
    end
    if type(v) ~= "table" then usage("--config %s: %s must be a table of options", path, k) end
  end
  return cfg
end

--- The client options of service s, or nil and the message saying what is missing.
-- Options of the config file come first; environment variables fill the
-- others (the credentials only when the file names none).
local function options_for(s, cfg, getenv)
  local options = {}
  for k, v in pairs(cfg and cfg[s.name] or {}) do options[k] = v end
  local has_credentials = false
  for _, k in ipairs(s.credentials) do
    if options[k] ~= nil then has_credentials = true end
  end
  local var, from = {}, {} -- option -> its variable; option -> where its value came from
  for k in pairs(options) do from[k] = ("%s in the --config file"):format(k) end
  for _, e in ipairs(s.env) do
    local option, name = e[1], e[2]
    var[option] = name
    local value = getenv(name)
    if value == "" then value = nil end
    local is_credential = false
    for _, k in ipairs(s.credentials) do if k == option then is_credential = true end end
    if options[option] == nil and value ~= nil and not (is_credential and has_credentials) then
      options[option], from[option] = value, name
    end
  end
  local where = " (or set it in the " .. s.name .. " table of the --config file)"
  if s.needs_url and options.url == nil then
    return nil, ("%s needs its base URL: set %s%s"):format(s.name, var.url, where)
  end
  if s.name == "connectdaily" then
    if options.token ~= nil and options.user ~= nil then
      return nil, ("connectdaily takes a token or a user and password, not both: %s and %s are both set; "
                   .. "unset one"):format(from.token, from.user)
    end
    if options.password ~= nil and options.user == nil then
      local user = from.password == var.password and var.user or "user in the --config file"
      return nil, ("connectdaily: %s is set without a user: set %s too, or unset it"):format(from.password, user)
    end
    if options.token == nil and options.user == nil then
      return nil, ("connectdaily needs credentials: set %s and %s, or %s"):format(var.user, var.password, var.token)
    end
    if options.user ~= nil and options.password == nil then
      return nil, ("connectdaily needs a password for user %s: set %s"):format(tostring(options.user), var.password)
    end
  elseif options.token == nil then
    return nil, ("%s needs an API token: set %s%s"):format(s.name, var.token, where)
  end
  return options
end

--- The OutputFailed error of a write (or flush) of standard output that
-- failed with err; state.lost says what that loses ("the call was made; its
-- answer is lost"). Marks the output failed, so it is reported once.
local function output_error(state, err)
  state.output_failed = true
  local note = state.lost and (" (" .. state.lost .. ")") or ""
  return Error.new({ type = "OutputFailed", message = ("cannot write standard output: %s%s"):format(tostring(err), note) })
end

--- Writes text on standard output; a write that fails (a full disk, a
-- closed pipe) raises OutputFailed, so the command exits 1 and says so.
-- (A file's write returns nil and the reason on failure; a test's stand-in
-- may return nothing.)
local function out(state, text)
  local ok, err = state.ctx.stdout:write(text)
  if ok == nil and err ~= nil then error(output_error(state, err), 0) end
end

--- Writes text on standard error where it is the command's output (the
-- lines of a dry run); a write that fails raises OutputFailed.
local function err_out(state, text)
  local ok, err = state.ctx.stderr:write(text)
  if ok == nil and err ~= nil then
    error(Error.new({ type = "OutputFailed", message = "cannot write standard error: " .. tostring(err) }), 0)
  end
end

--- Flushes standard output (on a file its last bytes are written only now)
-- and returns the exit code: a flush that fails is reported on stderr,
-- unless a failed write was already; after either the code is not 0 (also
-- when a runbook caught the error of its print).
local function finish(state, code)
  local stdout = state.ctx.stdout
  if type(stdout.flush) == "function" then
    local ok, err = stdout:flush()
    if ok == nil and err ~= nil and not state.output_failed then
      state.ctx.stderr:write("eventapi: ", tostring(output_error(state, err)), "\n")
    end
  end
  if state.output_failed and code == 0 then code = 1 end
  return code
end

--- The print and io of a runbook: Lua's, but writing through out(), so a
-- line that cannot be written raises OutputFailed in the runbook (Lua's own
-- print flushes each line and drops the error).
local function runbook_output(state)
  local function print_(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    out(state, table.concat(parts, "\t", 1, parts.n) .. "\n")
    local stdout = state.ctx.stdout
    if type(stdout.flush) == "function" then
      local ok, err = stdout:flush()
      if ok == nil and err ~= nil then error(output_error(state, err), 0) end
    end
  end
  local function write(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if math.type(v) == "integer" then v = ("%d"):format(v)
      elseif type(v) == "number" then v = ("%.14g"):format(v)
      elseif type(v) ~= "string" then error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, type(v)), 2) end
      out(state, v)
    end
    return io.stdout
  end
  return print_, setmetatable({ write = write }, { __index = io })
end

--- A client of service s; a usage error when it cannot be configured.
local function make_client(s, state)
  local options, missing = options_for(s, state.config, state.ctx.getenv)
  if not options then usage("%s", missing) end
  -- --timeout, --header and --retries win over the --config file.
  if state.timeout then options.timeout = state.timeout end
  if state.headers then
    local headers = {}
    for k, v in pairs(type(options.headers) == "table" and options.headers or {}) do headers[k] = v end
    for _, h in ipairs(state.headers) do
      for k in pairs(headers) do
        if type(k) == "string" and k:lower() == h[1]:lower() then headers[k] = nil end
      end
      headers[h[1]] = h[2]
    end
    options.headers = headers
  end
  if state.retries == 0 then
    options.retries = false
  elseif state.retries or options.retries == nil then
    local retries = {}
    local base = options.retries == nil and CLI_RETRIES or options.retries
    for k, v in pairs(type(base) == "table" and base or {}) do retries[k] = v end
    retries.max = state.retries or retries.max
    options.retries = retries
  end
  if state.dry_run or options.dry_run == true then
    -- the lines of the dry run are the command's output: a write that fails is a failure
    options.dry_run = function(line) err_out(state, line .. "\n") end
  end
  local ok, client = pcall(eventapi[s.name], options)
  if not ok then
    local message = Error.is(client) and tostring(client.message):gsub("^%w+: ", "") or tostring(client)
    usage("%s client: %s", s.name, message)
  end
  return client
end

--------------------------------------------------------------------------------
-- The commands.

--- Takes a global option at argv[i] if it is one; returns the next index or nil.
local function global_option(state, argv, i)
  local a = argv[i]
  local name, value = a:match("^%-%-([%w-]+)=(.*)$")
  name = name or a:match("^%-%-([%w-]+)$")
  local what = name and GLOBAL[name]
  if not what then return nil end
  if what == "flag" then
    if value then usage("--%s takes no value", name) end
    if name == "dry-run" then state.dry_run = true
    elseif name == "pretty" then state.pretty = true
    elseif name == "compact" then state.pretty = false
    elseif name == "raw" then state.raw = true end
    return i + 1
  end
  if not value then
    value = argv[i + 1]
    if value == nil then usage("--%s needs a value", name) end
    i = i + 1
  end
  if name == "config" then state.config_path = value
  elseif name == "header" then
    local hname, hvalue = value:match("^%s*([%w!#$%%&'*+.^_`|~-]+)%s*:%s*(.-)%s*$")
    if not hname or hvalue:find("[\r\n%z]") then
      usage("--header must be 'Name: value' (a name, a colon, the value on one line), not '%s'", value)
    end
    state.headers = state.headers or {}
    for _, h in ipairs(state.headers) do
      if h[1]:lower() == hname:lower() then usage("--header %s is given twice", hname) end
    end
    state.headers[#state.headers + 1] = { hname, hvalue }
  else -- retries, timeout: checked here, before anything is sent
    if state[name] ~= nil then usage("--%s is given twice", name) end
    local n = value:match("^%d+$") and math.tointeger(tonumber(value))
    if name == "retries" and not (n and n <= 100) then
      usage("--retries must be a whole number from 0 to 100, not '%s'", value)
    end
    if name == "timeout" then
      n = (value:match("^%d+%.?%d*$") or value:match("^%.%d+$")) and tonumber(value)
      if not (n and n >= 0.001 and n <= 86400) then
        usage("--timeout must be seconds from 0.001 to 86400, not '%s'", value)
      end
    end
    state[name] = n
  end
  return i + 1
end


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

--- A result as printed: Monterosa's raw JSON:API `document` is left out
-- unless --raw was given.
local function shown(state, s, result)
  if state.raw or s.name ~= "monterosa" or type(result) ~= "table" or result.document == nil then return result end
  local copy = setmetatable({}, getmetatable(result))
  for k, v in pairs(result) do
    if k ~= "document" then copy[k] = v end
  end
  return copy
end

--- One call: `eventapi <service> <resource> <action> [flags]`; `all` (or
-- --all on the list call) walks every page of a list call.
local function call_command(state, argv, i)
  local s = SERVICES[argv[i]]
  local service = service_table(s)
  local resource, action = argv[i + 1], argv[i + 2]
  if resource == "--help" or resource == "-h" then out(state, service_help(s)); return 0 end
  if resource == nil or resource:sub(1, 1) == "-" then
    usage("missing resource after '%s' (run 'eventapi %s --help')", s.name, s.name)
  end
  local resources, actions, op = {}, {}, nil
  for _, row in ipairs(service.operations) do
    local r, a = split_name(row.name)
    if not resources[r] then resources[r] = true; resources[#resources + 1] = r end
    if r == resource then
      actions[#actions + 1] = a
      if a == action then op = row end
    end
  end
  if not resources[resource] then
    usage("%s has no resource '%s' (resources: %s)", s.name, resource, table.concat(resources, ", "))
  end
  local list_op = paged_op(service, resource)
  if list_op then actions[#actions + 1] = "all" end
  local walk = false -- every item of every page
  if action == "all" and list_op and not op then op, walk = list_op, true end
  if action == "--help" or action == "-h" then out(state, service_help(s, resource)); return 0 end
  if action == nil or action:sub(1, 1) == "-" then
    usage("missing action after '%s %s' (actions: %s)", s.name, resource, table.concat(actions, ", "))
  end
  if not op then
    usage("%s %s has no action '%s' (actions: %s)", s.name, resource, action, table.concat(actions, ", "))
  end
  local call = ("%s %s %s"):format(s.name, resource, action)
  local _, by_name = flags_of(service, op)
  if op.pages then
    by_name = setmetatable({ all = by_name.all or ALL_FLAG, limit = by_name.limit or LIMIT_FLAG },
                           { __index = by_name })
  end
  local params, limit = {}, nil
  i = i + 3
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then out(state, call_help(s, service, op, walk)); return 0 end
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
  if limit ~= nil and not walk then
    usage("--limit goes with --all: eventapi %s %s all ... --limit %d", s.name, resource, limit)
  end
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
    params.limit = limit
    if state.ctx.isatty() then params.progress = false end
    state.lost = "items from there on are lost"
    ok, err = pcall(function()
      for item in client[resource].each(params) do out(state, cli.json(shown(state, s, item), pretty) .. "\n") end
    end)
    client:close()
    if not ok then return failed(state, err) end
    return 0
  end
  local result
  ok, result = pcall(function() return client[resource][action](params):await() end)
  client:close()
  if not ok then return failed(state, result) end
  state.lost = "the call was made; its answer is lost"
  out(state, cli.json(shown(state, s, result), pretty) .. "\n")
  return 0
end

--- `eventapi run RUNBOOK.lua [args]`: the runbook runs with the globals
-- eventapi, losant, connectdaily, monterosa (clients made on first use)
-- and arg; then the loop runs until nothing is pending. --dry-run counts
-- wherever it stands; the words after `--` are the runbook's as they are.
local function run_command(state, argv, i)
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    if argv[i] == "--" then i = i + 1; break end
    if argv[i] == "--help" or argv[i] == "-h" then out(state, main_help()); return 0 end
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
    local s = SERVICES[k]
    if type(k) == "string" and s then
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

--------------------------------------------------------------------------------
-- Shell completion, generated from the operation tables.

--- Whether a word can go into the script unquoted (letters, digits, _ . -).
local function plain_word(word) return word:match("^[%w_.%-]+$") ~= nil end

--- A bash case pattern for a key of words: "losant event get".
local function case_key(words) return '"' .. table.concat(words, " ") .. '"' end

local COMPLETION_BASH = [==[
# bash completion for eventapi %s, generated by `eventapi completion bash` from
# the operation tables. Load it in the current shell:
#   source <(eventapi completion bash)
# or for every shell, save it as ~/.local/share/bash-completion/completions/eventapi

# _eventapi_words KEY: sets reply to the words after KEY (nothing, a service,
# or a service and a resource).
_eventapi_words() {
  case $1 in
%s
    *) reply="" ;;
  esac
}

# _eventapi_call "SERVICE RESOURCE ACTION": sets flags (every flag of the call),
# booleans (the ones taking true or false) and switches (the ones taking no value).
# The options of the command itself (globals) go with every call.
_eventapi_call() {
  switches=" --all --help "
  case $1 in
%s
    *) flags="" booleans="" ;;
  esac
}

# _eventapi_values "SERVICE RESOURCE ACTION --flag": sets reply to the values
# the flag allows (nothing when any value goes).
_eventapi_values() {
  case $1 in
%s
    *) reply="" ;;
  esac
}

_eventapi() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev="" i w words=() reply="" flags="" booleans="" switches=""
  local globals="%s"
  (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}
  COMPREPLY=()
  # the service, resource and action typed so far; options and their values skipped
  for (( i = 1; i < COMP_CWORD && ${#words[@]} < 3; i++ )); do
    w=${COMP_WORDS[i]}
    case $w in
      --config|--retries|--timeout|--header) (( i++ )); [[ ${COMP_WORDS[i]} == = ]] && (( i++ )) ;;
      -*) ;;
      *) words+=("$w") ;;
    esac
  done
  if [[ $prev == --config || ( $prev == = && ${COMP_WORDS[COMP_CWORD-2]} == --config ) ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    return 0
  fi
  case $prev in --retries|--timeout|--header) return 0 ;; esac # the user's own value
  case ${words[0]} in
    run)
      if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$globals" -- "$cur")
      else
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi
      return 0 ;;
    completion)
      (( ${#words[@]} == 1 )) && mapfile -t COMPREPLY < <(compgen -W "bash" -- "$cur")
      return 0 ;;
    help|env) return 0 ;;
  esac
  if (( ${#words[@]} < 3 )); then
    if [[ $cur == -* ]]; then
      reply="--help"
      (( ${#words[@]} == 0 )) && reply="$globals --version"
    else
      _eventapi_words "${words[*]}"
    fi
    mapfile -t COMPREPLY < <(compgen -W "$reply" -- "$cur")
    return 0
  fi
  _eventapi_call "${words[*]}"
  [[ -n $flags ]] || return 0
  flags=" $flags "
  if [[ $prev == --* && $flags == *" $prev "* && $switches != *" $prev "* ]]; then
    # the value of a flag: true or false, a @file, or the user's own text
    if [[ $booleans == *" $prev "* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "true false" -- "$cur")
    elif [[ $cur == @* ]]; then
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -P @ -- "${cur#@}")
    else
      _eventapi_values "${words[*]} $prev"
      [[ -n $reply ]] && mapfile -t COMPREPLY < <(compgen -W "$reply" -- "$cur")
    fi
    return 0
  fi
  for (( i = 1; i < COMP_CWORD; i++ )); do # a flag is given once
    w=${COMP_WORDS[i]}
    [[ $w == --* ]] && flags=${flags/ $w / }
  done
  mapfile -t COMPREPLY < <(compgen -W "$flags $globals" -- "$cur")
}

complete -F _eventapi eventapi
]==]

--- The bash completion script: services, resources, actions (the all of
-- list calls included) and every call's flags, from the operation tables.
local function completion_bash()
  local globals = {}
  for name in pairs(GLOBAL) do globals[#globals + 1] = "--" .. name end
  table.sort(globals)
  globals[#globals + 1] = "--help"
  local top = {}
  for _, s in ipairs(SERVICES) do top[#top + 1] = s.name end
  for _, w in ipairs({ "run", "completion", "env", "help" }) do top[#top + 1] = w end
  local words = { ('    "") reply="%s" ;;'):format(table.concat(top, " ")) }
  local calls, values = {}, {}
  for _, s in ipairs(SERVICES) do
    local service = service_table(s)
    local resources, actions = {}, {}
    local function call_row(resource, action, op, walk)
      local flags, booleans = {}, {}
      for _, p in ipairs((flags_of(service, op))) do
        if plain_word(p.name) then
          flags[#flags + 1] = "--" .. p.name
          if p.kind == "boolean" then booleans[#booleans + 1] = "--" .. p.name end
          local allowed = {}
          for _, v in ipairs(type(p.enum) == "table" and p.enum or {}) do
            if plain_word(tostring(v)) then allowed[#allowed + 1] = tostring(v) end
          end
          if #allowed > 0 then
            values[#values + 1] = ('    %s) reply="%s" ;;'):format(
              case_key({ s.name, resource, action, "--" .. p.name }), table.concat(allowed, " "))
          end
        end
      end
      if op.pages then
        if not walk then flags[#flags + 1] = "--all" end
        flags[#flags + 1] = "--limit"
      end
      calls[#calls + 1] = ('    %s) flags="%s" booleans=" %s " ;;'):format(case_key({ s.name, resource, action }),
        table.concat(flags, " "), table.concat(booleans, " "))
    end
    for _, op in ipairs(service.operations) do
      local resource, action = split_name(op.name)
      if plain_word(resource) and plain_word(action) then
        if not actions[resource] then
          actions[resource] = {}
          resources[#resources + 1] = resource
        end
        table.insert(actions[resource], action)
        call_row(resource, action, op, false)
      end
    end
    for _, resource in ipairs(resources) do
      local list_op = paged_op(service, resource)
      if list_op then
        table.insert(actions[resource], "all")
        call_row(resource, "all", list_op, true)
      end
    end
    words[#words + 1] = ('    %s) reply="%s" ;;'):format(case_key({ s.name }), table.concat(resources, " "))
    for _, resource in ipairs(resources) do
      words[#words + 1] = ('    %s) reply="%s" ;;'):format(case_key({ s.name, resource }),
                                                         table.concat(actions[resource], " "))
    end
  end
  return (COMPLETION_BASH:format(eventapi.version, table.concat(words, "\n"), table.concat(calls, "\n"),
                                 table.concat(values, "\n"), table.concat(globals, " ")))
end

--- `eventapi completion bash`: prints the completion script of a shell.
local function completion_command(state, argv, i)
  local shell = argv[i]
  if shell == "--help" or shell == "-h" then
    out(state, "usage: eventapi completion bash\n\nprints a bash completion script; load it with\n"
               .. "  source <(eventapi completion bash)\n")
    return 0
  end
  if shell == nil then usage("completion needs a shell: eventapi completion bash") end
  if shell ~= "bash" then usage("no completion for '%s' (shells: bash)", shell) end
  if argv[i + 1] ~= nil then usage("unexpected argument '%s' after 'completion bash'", argv[i + 1]) end
  out(state, completion_bash())
  return 0
end

local function version_text()
  return ("eventapi %s (libcurl %s, %s)\n"):format(eventapi.version, core.curl_version, _VERSION)
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
      if a == "--help" or a == "-h" or a == "help" then out(state, main_help()); return 0 end
      if a == "--version" then out(state, version_text()); return 0 end
      if a == "run" then
        state.lost = "what the runbook printed is lost"
        state.runbook, state.held = true, Client.dry_run_held
        return run_command(state, argv, i + 1)
      end
      if a == "completion" then return completion_command(state, argv, i + 1) end
      if SERVICES[a] then
        state.held = Client.dry_run_held
        return call_command(state, argv, i)
      end
      if a:sub(1, 1) == "-" then
        local nexti = global_option(state, argv, i)
        if not nexti then usage("unknown option %s (run 'eventapi --help')", a) end
        i = nexti
      else
        usage("unknown service '%s' (services: losant, connectdaily, monterosa; run 'eventapi --help')", a)
      end
    end
    usage("missing service (run 'eventapi --help')")
  end)
  if not ok then code = failed(state, code) end
  dry_run_summary(state, code)
  return finish(state, code)
end

cli.help = main_help
return cli
