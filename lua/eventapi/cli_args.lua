--- The arguments of the `eventapi` command (see cli.lua): usage errors, the
-- command's own options, the flags of a call (from its operation row) and
-- the values they take.
local eventapi = require "eventapi"
local Client = require "eventapi.client"
local Error = require "eventapi.errors"

local json = eventapi.json
local args = {}

--- Options of the command itself (before the service, or among a call's flags).
args.GLOBAL = { config = "value", ["dry-run"] = "flag", pretty = "flag", compact = "flag", raw = "flag",
                retries = "value", timeout = "value", header = "value" }
local GLOBAL = args.GLOBAL

--- Flags a list call (one with pages) takes besides its params: --all walks
-- every page, --limit (not sent) stops the walk after that many items.
args.ALL_FLAG = { name = "all", flag = true }
args.LIMIT_FLAG = { name = "limit", kind = "integer" }

-- A usage or configuration error: raised as this object, reported as one
-- line; exit code 2 when nothing was sent yet, else 1.
local Usage = { __name = "eventapi.cli.Usage" }
Usage.__tostring = function(u) return u.message end
args.Usage = Usage

--- args.usage(fmt, ...): raises a usage error of that message.
local function usage(fmt, ...)
  error(setmetatable({ message = fmt:format(...) }, Usage), 0)
end
args.usage = usage

--- args.flags_of(service, op) -> list, by_name: the flags of an operation
-- row: its params (fixed ones excluded), then the service's common params it
-- does not name itself (the order prepare gives the client).
function args.flags_of(service, op)
  local list, by_name = {}, {}
  for _, p in ipairs(Client.prepare(service, op).all_params) do
    if p.fixed == nil then list[#list + 1] = p; by_name[p.name] = p end
  end
  return list, by_name
end

--- args.split_name(name) -> "resource", "action" of a row name.
function args.split_name(name)
  return name:match("^(%w+)%.(.+)$")
end

--- args.paged_op(service, resource) -> the list call of a resource: its
-- operation with pages (the one whose `each` the client puts on the
-- resource), or nil.
function args.paged_op(service, resource)
  local found
  for _, row in ipairs(require("eventapi.services").rows(service, resource)) do
    local _, action = args.split_name(row.name)
    if row.pages and (action == "get" or not found) then found = row end -- as the client: get's, else the first
  end
  return found
end

--- args.global_option(state, argv, i) -> the next index, or nil: takes a
-- global option at argv[i] if it is one.
function args.global_option(state, argv, i)
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
    local why = Error.is(v) and tostring(v.message) or tostring(v) -- an error object, or Lua's out of memory
    why = why:gsub("^eventapi%.json%.decode: ", ""):gsub("^invalid JSON: ", "")
    usage("--%s is not valid JSON: %s%s", flag, why, from and (" (in " .. from .. ")") or "")
  end
  return v
end

--- args.convert(ctx, p, text) -> the Lua value of a flag's text, by the param's kind.
function args.convert(ctx, p, text)
  local kind = p.kind
  if kind == "integer" then
    local n = text:match("^%s*[-+]?%d+%s*$") and math.tointeger(tonumber(text))
    if not n then usage("--%s must be an integer, not '%s'", p.name, text) end
    return n
  elseif kind == "boolean" then
    if text == "true" then return true elseif text == "false" then return false end
    usage("--%s must be true or false, not '%s'", p.name, text)
  elseif kind == "json" or kind == "table" or kind == "hash" then -- (a hash goes out in bracket form)
    local from
    if text:sub(1, 1) == "@" then text, from = read_source(ctx, p.name, text) end
    local v = decode_json(p.name, text, from)
    if kind ~= "json" and type(v) ~= "table" then
      usage("--%s must be a JSON object or array", p.name)
    end
    return v
  elseif kind == "file" then -- an upload's file: @path is read from disk as it is sent; other text is the bytes
    if text == "@-" then usage("--%s takes @path (a file read as it is sent), not standard input", p.name) end
    if text:sub(1, 1) == "@" then
      if #text == 1 then usage("--%s: @ needs a path (@./x.zip)", p.name) end
      return { path = text:sub(2) }
    end
    return text
  elseif kind == nil and p.check then
    -- No declared kind: the text if the param's check takes it, else JSON.
    local ok, _, why = pcall(p.check, text)
    if ok and why == nil then return text end
    if text:sub(1, 1) == "@" then return decode_json(p.name, read_source(ctx, p.name, text)) end -- its text and name
    local ok, v = pcall(json.decode, text)
    if ok then return v end
    return text -- the call's own check names what is wrong
  end
  return text
end

return args
