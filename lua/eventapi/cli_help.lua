--- The help of the `eventapi` command (see cli.lua), generated from the
-- registry of the services (eventapi.services) and their operation tables.
local eventapi = require "eventapi"
local core = require "eventapi.core"
local services = require "eventapi.services"
local args = require "eventapi.cli_args"

local split_name, paged_op, flags_of = args.split_name, args.paged_op, args.flags_of
local help = {}

--- "--name", with "*" when the param is required.
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
  local lines, rows = {}, {}
  local width = 0
  for _, op in ipairs(s.operations) do
    local resource, action = split_name(op.name)
    if not filter_resource or resource == filter_resource then
      local own = {}
      for _, p in ipairs(op.params) do
        if p.fixed == nil then own[#own + 1] = flag_text(p) end
      end
      local call = ("%s %s %s"):format(s.name, resource, action)
      if #call > width then width = #call end
      if op.stream then own[#own + 1] = "(a stream: one JSON line per message until Ctrl-C)" end
      rows[#rows + 1] = { call, table.concat(own, " ") }
      if op.pages and paged_op(s, resource) == op then -- the all action walks this list call
        if op.pages ~= "offset" then own[#own + 1] = "--limit" end -- (an offset list's limit is its own)
        local all = ("%s %s all"):format(s.name, resource)
        if #all > width then width = #all end
        rows[#rows + 1] = { all, table.concat(own, " ") }
      end
    end
  end
  for _, r in ipairs(rows) do
    lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(r[1], r[2]):gsub("%s+$", "")
  end
  if s.common_params and #s.common_params > 0 then
    local common = {}
    for _, p in ipairs(s.common_params) do common[#common + 1] = flag_text(p) end
    lines[#lines + 1] = ("  (every %s call also takes %s)"):format(s.name, table.concat(common, " "))
  end
  return lines
end

--- "LOSANT_URL, LOSANT_TOKEN": the environment variables of a service.
local function env_line(s)
  local names = {}
  for _, e in ipairs(s.env) do names[#names + 1] = e.variable end
  return table.concat(names, ", ")
end

--- "losant = {...}, connectdaily = {...}, ...": the tables of a --config file.
local function config_tables()
  local parts = {}
  for _, name in ipairs(services.names) do parts[#parts + 1] = name .. " = {...}" end
  return table.concat(parts, ", ")
end

--- "losant events get, ...": the list calls (those with pages) of every service.
local function list_calls()
  local calls = {}
  for _, s in ipairs(services.list) do
    for _, op in ipairs(s.operations) do
      if op.pages then calls[#calls + 1] = ("%s %s"):format(s.name, (op.name:gsub("%.", " ", 1))) end
    end
  end
  return table.concat(calls, ", ")
end

local OPTIONS_HELP = [[
options (before the service or among a call's flags):
  --config FILE   a Lua file returning { %s },
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
params a JSON text or @file.json (@- reads standard input); file params (uploads)
@path, a file read from disk as it is sent, or the text itself as the bytes; params
without a kind take their text when the call accepts it, else the text read as JSON.

list calls (%s) take
--all: every item of every page, one JSON value per line (pretty on a terminal);
`<service> <resource> all` is the same; --limit N stops after N items.

exit codes: 0 done; 1 a failure: the call failed, the runbook raised, an unhandled
failure came out of the loop, configuration was missing after requests were sent, or
the output could not be written (a full disk: the call was made, its answer is lost);
2 a usage error or missing configuration, or standard output closed, nothing sent.
Errors go to stderr after "eventapi: ".]]

local TAIL_HELP = [[
run: the runbook gets the globals eventapi, %s (each
client made on first use from the configuration; an unconfigured one raises an error
naming its variables) and arg (arg[0] the runbook, arg[1..] its args, also in ...);
after the runbook returns, the loop runs (eventapi.run()) until nothing is pending.

completion bash: prints a bash completion script of every call and flag; load it with
source <(eventapi completion bash).

env: prints the export lines of LUA_PATH and LUA_CPATH that make a plain lua5.4 find
this eventapi: eval "$(eventapi env)".]]

--- help.main() -> the text of `eventapi --help`.
function help.main()
  local lines = {
    "usage: eventapi [options] <service> <resource> <action> [--param value ...]",
    "       eventapi [options] run RUNBOOK.lua [args ...]",
    "       eventapi completion bash",
    "       eventapi env",
    "       eventapi help (or --help, -h), eventapi --version",
    "",
    "services and their environment variables:",
  }
  for _, s in ipairs(services.list) do
    lines[#lines + 1] = ("  %-13s %s (%s)"):format(s.name, s.summary, env_line(s))
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "calls (* required):"
  for _, s in ipairs(services.list) do
    for _, l in ipairs(call_lines(s)) do lines[#lines + 1] = l end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = OPTIONS_HELP:format(config_tables(), list_calls())
  lines[#lines + 1] = ""
  lines[#lines + 1] = TAIL_HELP:format(services.names_text(" and "))
  return table.concat(lines, "\n") .. "\n"
end

--- help.service(s, resource) -> the help of a service (of one resource of it).
function help.service(s, resource)
  local lines = {
    ("usage: eventapi [options] %s %s <action> [--param value ...]"):format(s.name, resource or "<resource>"),
    "",
    ("%s; configured by %s."):format(s.summary, env_line(s)),
    "",
    "calls (* required):",
  }
  for _, l in ipairs(call_lines(s, resource)) do lines[#lines + 1] = l end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("`eventapi %s <resource> <action> --help` describes one call."):format(s.name)
  return table.concat(lines, "\n") .. "\n"
end

local PLACES = { path = "in the path", query = "in the query string", body = "the JSON body",
                 header = "a header", attribute = "an attribute of the body",
                 form = "a part of the multipart/form-data body" }

--- The flags of a call's help: its params, then --all (not on the all
-- action itself) and --limit on a list call; and the text of those two.
local function call_flags(s, op, walk)
  local flags = { table.unpack((flags_of(s, op))) }
  local extra = {}
  if op.pages then
    extra[args.ALL_FLAG] = "every item of every page, one JSON value per line"
    extra[args.LIMIT_FLAG] = "integer, with --all: stop after that many items (not sent)"
    if not walk then flags[#flags + 1] = args.ALL_FLAG end
    flags[#flags + 1] = args.LIMIT_FLAG
  end
  return flags, extra
end

--- help.call(s, op, walk) -> the help of one call; walk: the help of the
-- all action of its resource.
function help.call(s, op, walk)
  local resource, action = split_name(op.name)
  local path = type(op.path) == "string" and op.path or "(computed from the params)"
  local lines = {
    ("usage: eventapi [options] %s %s %s [--param value ...]"):format(s.name, resource, walk and "all" or action),
    "",
    ("%s %s (%s)"):format(op.method, path, s.summary),
  }
  if walk then
    lines[#lines + 1] = ("every item of every page of `%s %s %s`, one JSON value per line"):format(s.name, resource,
                                                                                                  action)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "params (* required):"
  local flags, extra = call_flags(s, op, walk)
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

--- help.version() -> the text of `eventapi --version`.
function help.version()
  return ("eventapi %s (libcurl %s, %s)\n"):format(eventapi.version, core.curl_version, _VERSION)
end

return help
