--- Request schemas: a service's named JSON Schema documents (draft-04), the
-- files lua/eventapi/schemas/<service>/<Name>.json beside this module,
-- compiled once per service into one set by the core's validator (the same
-- C code eventapi-sandbox checks bodies with). Dry runs and clients made
-- with validate = true check a call's params against them before sending.
local core = require "eventapi.core"

local M = {}

local DIR = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "schemas/"
local sets = {} -- service name -> its compiled set, made on first use

--- The text of the schema document name of service, or nil when there is none.
local function read(service, name)
  if not name:match("^[%w_]+$") then return nil end
  local f = io.open(DIR .. service .. "/" .. name .. ".json", "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

--- The set of service's schemas (compiled document by document as they are first needed).
local function set_of(service)
  local set = sets[service]
  if not set then
    set = core.schemas(function(name) return read(service, name) end)
    sets[service] = set
  end
  return set
end

--- M.check(service, op, params, body) -> nil when every param of the row op
-- that names a schema is valid under it; else "<op>: <param>/<pointer>:
-- <rule>" (the param alone for its root) and the param's name. body is the
-- request's JSON text, which a body param's value already is.
function M.check(service, op, params, body)
  for _, p in ipairs(op.params) do
    local v = p.schema and params[p.name]
    if v ~= nil then
      local text = p.place == "body" and body or (p.kind == "json" and type(v) == "string" and v) or core.json_encode(v)
      local ok, why = set_of(service):validate(p.schema, text)
      if not ok then
        return ("%s: %s%s%s"):format(op.name, p.name, why:sub(1, 1) == "/" and "" or ": ", why), p.name
      end
    end
  end
end

return M
