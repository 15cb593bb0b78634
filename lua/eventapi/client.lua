--- A service client built from an operation table (see losant.lua): the
-- resources and actions, param checks, request building, the response
-- mapping to values and error objects, and the client's lifetime.
local core = require "eventapi.core"
local Error = require "eventapi.errors"

local Client = {}
Client.__index = Client
Client.__name = "eventapi.Client"

local OPTIONS = {
  token = "string", url = "string", accept_version = "string", timeout = "number",
  connect_timeout = "number", ca_file = "string", insecure = "boolean", max_connections = "number",
  user_agent = "string", headers = "table", max_body = "number", user = "string", password = "string",
  retries = "table or boolean", dry_run = "boolean or function",
}


local USER_AGENT = ("eventapi/%s libcurl/%s Lua 5.4"):format(core.version, core.curl_version)

--- Raises an InvalidParams error object.
local function invalid(message, extra)
  local e = Error.new({ type = "InvalidParams", message = message })
  for k, v in pairs(extra or {}) do e[k] = v end
  error(e, 0)
end

local RETRY_DEFAULTS = { max = 3, base = 0.2, cap = 10, on = { 429, 502, 503, 504, "transport" },
                         methods = { "GET", "PUT", "DELETE" } }

--- The retry policy of a client from its retries option (or true); raises InvalidParams.
local function retry_policy(name, option)
  local policy = {}
  for k, v in pairs(option) do
    if RETRY_DEFAULTS[k] == nil then invalid(("%s: unknown retries field '%s'"):format(name, tostring(k))) end
    policy[k] = v
  end
  for k, v in pairs(RETRY_DEFAULTS) do if policy[k] == nil then policy[k] = v end end
  for _, k in ipairs({ "max", "base", "cap" }) do
    if type(policy[k]) ~= "number" or policy[k] < 0 then
      invalid(("%s: retries.%s must be a number >= 0"):format(name, k))
    end
  end
  local on, methods = {}, {}
  for _, x in ipairs(policy.on) do
    if x ~= "transport" and math.type(x) ~= "integer" then
      invalid(name .. ': retries.on lists HTTP statuses and "transport"')
    end
    on[x] = true
  end
  for _, m in ipairs(policy.methods) do
    if type(m) ~= "string" then invalid(name .. ": retries.methods lists HTTP methods") end
    methods[m:upper()] = true
  end
  policy.on, policy.methods = on, methods
  return policy
end

--- Checks a header: the name a token, no CR, LF or NUL in the value may reach the wire.
local function header_line(name, value, what)
  if type(value) ~= "string" then invalid(what .. " must be a string") end
  if not name:match("^[%w!#$%%&'*+.^_`|~-]+$") then
    invalid(what .. ": the header name must be letters, digits and !#$%&'*+.^_`|~- only")
  end
  if value:find("[\r\n\0]") then invalid(what .. " must not contain CR, LF or NUL") end
  return name .. ": " .. value
end

local SECRET_KEYS = { token = true, access_token = true, password = true, api_key = true, apikey = true,
                      secret = true }

--- Removes secrets from a URL for errors, logs and hooks: user:password@ and
-- the values of query params named like credentials.
local function redact(url)
  url = url:find("@", 1, true) and url:gsub("^(%a[%w+.-]*://)[^/@]*@", "%1") or url
  if not url:find("?", 1, true) then return url end
  return (url:gsub("([?&])([^=&]+)=([^&]*)", function(sep, key)
    if SECRET_KEYS[key:lower()] then return sep .. key .. "=REDACTED" end
  end))
end

--- Text of a query or header value of the given kind; raises InvalidParams.
local function value_text(p, v, opname)
  local t = type(v)
  if p.kind == "json" then
    if t == "string" then return v end
    if t ~= "table" then invalid(("%s: %s must be a table or a JSON string"):format(opname, p.name)) end
    local ok, text = pcall(core.json_encode, v)
    if not ok then invalid(("%s: %s cannot be encoded: %s"):format(opname, p.name, text)) end
    return text
  end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then return core.number_text(v) end
  if t == "string" then return v end
  invalid(("%s: %s must be a %s, not a %s"):format(opname, p.name, p.kind, t))
end

--- Builds {method, url, body, headers} for operation op from params; raises InvalidParams.
local function build(client, op, params)
  local name = op.name
  if type(params) ~= "table" then invalid(name .. ": params must be a table") end
  local known = op.known
  for k in pairs(params) do
    if not known[k] then invalid(("%s: unknown param '%s'"):format(name, tostring(k)), { param = k }) end
  end
  local path
  if type(op.path) == "function" then
    path = op.path(params, name, invalid)
  else
    path = op.path:gsub("{([%w_]+)}", function(key)
      local v = params[key]
      if v == nil then invalid(("%s: missing required param '%s'"):format(name, key), { param = key }) end
      if type(v) == "number" and math.type(v) == "integer" then v = tostring(v) end
      if type(v) ~= "string" then
        invalid(("%s: %s must be a string, not a %s"):format(name, key, type(v)), { param = key })
      end
      if v == "" then invalid(("%s: %s must not be empty"):format(name, key), { param = key }) end
      if v == "." or v == ".." then -- a dot segment would be squashed, climbing the path
        invalid(("%s: %s must not be '%s'"):format(name, key, v), { param = key })
      end
      return core.escape(v)
    end)
  end
  local query, headers, body = {}, nil, nil
  local attributes = {}
  for _, p in ipairs(op.all_params) do
    local v = params[p.name]
    if p.fixed ~= nil then v = p.fixed end
    if v == nil then v = p.default end
    if v ~= nil and p.check then
      local ok, converted = pcall(p.check, v)
      if not ok then
        invalid(("%s: %s %s"):format(name, p.name, tostring(converted):gsub("^.-:%d+: ", "")), { param = p.name })
      end
      if converted ~= nil then v = converted end
    end
    local wire = p.wire or p.name
    if v == nil then
      if p.required then invalid(("%s: missing required param '%s'"):format(name, p.name), { param = p.name }) end
    elseif p.place == "query" then
      query[#query + 1] = p.query_key .. core.escape(value_text(p, v, name))
    elseif p.place == "header" then
      headers = headers or {}
      headers[#headers + 1] = header_line(wire, value_text(p, v, name), name .. ": " .. p.name)
    elseif p.place == "attribute" then
      attributes[wire] = v
    elseif p.place == "body" then
      if type(v) ~= "table" then
        invalid(("%s: %s must be a table, not a %s"):format(name, p.name, type(v)), { param = p.name })
      end
      body = v
    end
  end
  if op.body_of then body = op.body_of(params, attributes) end
  local data = body -- the table, for a dry run's result
  if body ~= nil then
    local ok, text = pcall(core.json_encode, body)
    if not ok then invalid(("%s: the body cannot be encoded: %s"):format(name, text)) end
    body = text
  end
  local url = client.url .. path
  if #query > 0 then url = url .. "?" .. table.concat(query, "&") end
  return { method = op.method, url = url, body = body, data = data, headers = headers, op = op }
end

--- Maps a raw response table from the core to the call's value, or raises its error object.
local function respond(client, req, res)
  local status, text = res.status, res.body
  local unwrap = client.service.unwrap
  if not res.error and status >= 200 and status < 300 and not unwrap then -- the common case, kept short
    if text == "" then return client.service.empty_value == nil and true or client.service.empty_value end
    local ok, decoded = pcall(core.json_decode, text)
    if ok then return decoded end
  end
  local where = { method = req.method, url = redact(req.url) }
  if res.error then
    error(Error.new({ type = res.error, message = res.message, status = res.status, transport = true,
                      method = where.method, url = where.url }), 0)
  end
  local decoded, ok, why = nil, false, nil
  if text ~= "" then
    ok, decoded = pcall(core.json_decode, text)
    if not ok then why, decoded = decoded, nil end
  end
  if status >= 200 and status < 300 then
    if text == "" then return client.service.empty_value == nil and true or client.service.empty_value end
    if not ok then
      error(Error.new({ type = "InvalidResponse", status = status, body = text, method = where.method,
                        url = where.url, message = "the response is not valid JSON (" .. tostring(why) .. ")" }), 0)
    end
    if unwrap then return unwrap(decoded, res, req, where) end
    return decoded
  end
  local e = Error.new({ status = status, method = where.method, url = where.url,
                        body = ok and decoded or text, retry_after = res.retry_after })
  local map = client.service.error_fields
  if map then map(e, ok and decoded or nil, req) end
  if type(decoded) == "table" then
    e.type = e.type or (type(decoded.type) == "string" and decoded.type or nil)
    e.message = e.message or (type(decoded.message) == "string" and decoded.message or nil)
  end
  e.type = e.type or Error.type_for_status(status)
  e.message = e.message or (text ~= "" and text:sub(1, 200) or ("HTTP status " .. status))
  error(e, 0)
end

local WRITES = { POST = true, PUT = true, PATCH = true, DELETE = true }
local TRANSPORT = { ConnectionFailed = true, Timeout = true }

--- Calls every hook of kind with info; a hook that raises is reported with warn.
local function emit(client, kind, info)
  for _, fn in ipairs(client.hooks[kind]) do
    local ok, err = pcall(fn, info)
    if not ok then warn("eventapi: a ", kind, " hook raised: ", tostring(err)) end
  end
end

--- Sends one attempt of a request; returns the promise of its value.
local function attempt(client, req, n)
  local hooks = client.hooks
  local watched = #hooks.request > 0 or #hooks.response > 0 -- no hook: no redaction, no info tables
  local url = watched and redact(req.url)
  if #hooks.request > 0 then emit(client, "request", { method = req.method, url = url, attempt = n, body = req.body }) end
  local headers = nil
  if req.headers then
    headers = { table.unpack(req.body and client.body_headers or client.headers) }
    for _, h in ipairs(req.headers) do headers[#headers + 1] = h end
  end
  local started = core.now()
  Client.sent = Client.sent + 1
  local raw, id = core.request(client.config, req.method, req.url, req.body, headers)
  local inflight = client.inflight
  inflight[id] = true
  return raw:next(function(res)
    inflight[id] = nil
    if #hooks.response > 0 then
      emit(client, "response", { method = req.method, url = url or redact(req.url), attempt = n, status = res.status,
                                 error = res.error, duration = core.now() - started })
    end
    return respond(client, req, res)
  end)
end

--- Seconds until an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT"), or nil.
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
                 Nov = 11, Dec = 12 }
local function seconds_until(date)
  local d, mon, y, time = date:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d:%d%d:%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  local ok, at = pcall(require("eventapi.monterosa").unix_time, ("%s-%02d-%sT%sZ"):format(y, MONTHS[mon], d, time))
  if not ok then return nil end
  return math.max(0, at - os.time())
end

--- The seconds to wait before retry number n (1-based) after err, or nil for no retry.
local function retry_wait(policy, err, n, method)
  if n > policy.max or not policy.methods[method] then return nil end
  local transport = err.transport and (TRANSPORT[err.type] or err.type == "InvalidResponse")
  if not ((transport and policy.on.transport) or (not err.transport and err.status and policy.on[err.status])) then
    return nil
  end
  if err.retry_after then
    local wait = tonumber(err.retry_after) or seconds_until(err.retry_after)
    if wait then
      if wait > policy.cap then return nil end -- the server asks for more than we may wait: let the caller decide
      return wait
    end
  end
  local ceiling = math.min(policy.cap, policy.base * 2 ^ (n - 1))
  return ceiling / 2 + math.random() * ceiling / 2
end

--- Sends a built request with the client's retry policy and dry run; returns the promise of its value.
local function send(client, req)
  if client.closed then
    local p = core.promise()
    core.reject(p, Error.new({ type = "Closed", message = "the client is closed", method = req.method,
                               url = redact(req.url) }))
    return p
  end
  if client.dry_run and WRITES[req.method] then
    local url = redact(req.url)
    emit(client, "request", { method = req.method, url = url, attempt = 1, body = req.body, dry_run = true })
    client.dry_run(("[dry run] %s %s%s"):format(req.method, url, req.body and (" " .. req.body) or ""))
    local p = core.promise()
    core.resolve(p, { dry_run = true, method = req.method, url = url, body = req.data })
    return p
  end
  local policy = client.retries
  if not policy or not policy.methods[req.method] then return attempt(client, req, 1) end
  local result = core.promise()
  local waiting = client.waiting
  local function try(n)
    attempt(client, req, n):next(function(v) core.resolve(result, v) end, function(err)
      local wait = not client.closed and retry_wait(policy, err, n, req.method)
      if not wait then
        if type(err) == "table" then err.attempts = n end
        return core.reject(result, err)
      end
      emit(client, "retry", { method = req.method, url = redact(req.url), attempt = n, wait = wait,
                              status = err.status, error = err.type })
      local timer, id = core.timer(wait)
      waiting[result] = { req = req, timer = id }
      timer:next(function()
        waiting[result] = nil
        try(n + 1)
      end)
    end)
  end
  try(1)
  return result
end

--- Calls op with params; cb (optional) gets (err, result). Returns the promise.
local function call(client, op, params, cb)
  if cb == nil and type(params) == "function" then params, cb = {}, params end
  if params == nil then params = {} end
  local ok, req = pcall(build, client, op, params)
  local p
  if ok then
    p = send(client, req)
  else
    p = core.promise()
    core.reject(p, req)
  end
  if cb ~= nil then
    if type(cb) ~= "function" then error("the callback must be a function", 3) end
    p:next(function(v) cb(nil, v) end, function(e) cb(e, nil) end)
  end
  return p
end

--- client:request{method=, path=, query=, body=, headers=} -> promise: any other endpoint.
function Client:request(spec, cb)
  local ok, req = pcall(function()
    if type(spec) ~= "table" then invalid("request: expects a table") end
    local method = spec.method or "GET"
    if type(method) ~= "string" or not method:match("^%u+$") then invalid("request: bad method") end
    if type(spec.path) ~= "string" or spec.path:sub(1, 1) ~= "/" then invalid("request: path must start with /") end
    if spec.path:find("[%s#]") then invalid("request: path must not contain spaces or #") end
    local url = self.url .. spec.path
    if spec.query then
      local keys, parts = {}, {}
      for k in pairs(spec.query) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      for _, k in ipairs(keys) do
        parts[#parts + 1] = core.escape(k) .. "=" .. core.escape(value_text({ name = k, kind = "json-or-scalar" },
                                                                            spec.query[k], "request"))
      end
      url = url .. (url:find("?", 1, true) and "&" or "?") .. table.concat(parts, "&")
    end
    local body, data = spec.body, spec.body
    if type(body) == "table" then body = core.json_encode(body) end
    if body ~= nil and type(body) ~= "string" then invalid("request: body must be a table or a string") end
    local headers
    if spec.headers then
      headers = {}
      for k, v in pairs(spec.headers) do
        headers[#headers + 1] = header_line(tostring(k), tostring(v), "request: header " .. tostring(k))
      end
    end
    return { method = method, url = url, body = body, data = data, headers = headers }
  end)
  local p
  if ok then p = send(self, req) else p = core.promise(); core.reject(p, req) end
  if cb then p:next(function(v) cb(nil, v) end, function(e) cb(e, nil) end) end
  return p
end

--- client:close(): rejects the requests in flight with Closed; later calls reject too.
function Client:close()
  if self.closed then return end
  self.closed = true
  for id in pairs(self.inflight) do core.cancel(id) end
  for p, wait in pairs(self.waiting) do
    core.cancel_timer(wait.timer) -- the loop does not wait for it any more
    core.reject(p, Error.new({ type = "Closed", message = "the client was closed while the request waited to retry",
                               method = wait.req.method, url = redact(wait.req.url) }))
  end
  self.waiting = {}
end

local HOOKS = { request = true, response = true, retry = true }

--- client:on(kind, fn) -> client: calls fn(info) for every "request" (method, url,
-- attempt, body, dry_run), "response" (method, url, attempt, status, error,
-- duration in seconds) and "retry" (method, url, attempt, wait, status, error).
function Client:on(kind, fn)
  if not HOOKS[kind] then error(("client:on: unknown hook '%s' (request, response or retry)"):format(tostring(kind)), 2) end
  if type(fn) ~= "function" then error("client:on: the hook must be a function", 2) end
  local list = self.hooks[kind]
  list[#list + 1] = fn
  return self
end
Client.__close = Client.close

--- Prepares an operation row: the set of known params and the full ordered list.
local function prepare(service, op)
  local known, all = {}, {}
  for _, p in ipairs(op.params) do
    if p.fixed == nil then known[p.name] = true end
    all[#all + 1] = p
  end
  for _, p in ipairs(service.common_params or {}) do
    if not known[p.name] then known[p.name] = true; all[#all + 1] = p end
  end
  for _, p in ipairs(all) do
    if p.place == "query" then p.query_key = core.escape(p.wire or p.name) .. "=" end
  end
  op.known, op.all_params = known, all
  return op
end

--- Client.new(service, options) -> client with one table per resource.
function Client.new(service, options)
  options = options or {}
  if type(options) ~= "table" then invalid(service.name .. ": options must be a table") end
  for k, v in pairs(options) do
    if not OPTIONS[k] then invalid(("%s: unknown option '%s'"):format(service.name, tostring(k))) end
    if not OPTIONS[k]:find(type(v), 1, true) then
      invalid(("%s: option %s must be a %s, not a %s"):format(service.name, k, OPTIONS[k], type(v)))
    end
  end
  local url = options.url or service.default_url
  if not url then invalid(service.name .. ": the url option is required") end
  url = url:gsub("/+$", "")
  if not url:match("^https?://") then invalid(service.name .. ": url must start with http:// or https://") end
  if url:find("[%c%s]") then invalid(service.name .. ": url must not contain spaces or control characters") end
  if options.user_agent then header_line("User-Agent", options.user_agent, "option user_agent") end
  if options.token and options.user then invalid(service.name .. ": give either token or user and password, not both") end
  if options.password and not options.user then invalid(service.name .. ": password needs user") end
  local headers = { header_line("Accept", service.accept, "accept") }
  for _, h in ipairs(service.headers(options)) do
    local name, value = h:match("^([^:]+): (.*)$")
    headers[#headers + 1] = header_line(name, value, "option " .. name)
  end
  if options.headers then
    local names = {}
    for k in pairs(options.headers) do names[#names + 1] = tostring(k) end
    table.sort(names)
    for _, k in ipairs(names) do
      headers[#headers + 1] = header_line(k, tostring(options.headers[k]), "header " .. k)
    end
  end
  local body_headers = { table.unpack(headers) }
  body_headers[#body_headers + 1] = "Content-Type: " .. service.content_type
  body_headers[#body_headers + 1] = "Expect:" -- no 100-continue round trip
  headers[#headers + 1] = "Expect:"
  local userpwd
  if options.user then userpwd = options.user .. ":" .. (options.password or "") end
  local client = setmetatable({
    service = service, url = url, headers = headers, body_headers = body_headers, inflight = {}, waiting = {},
    hooks = { request = {}, response = {}, retry = {} },
    retries = options.retries and retry_policy(service.name, options.retries == true and {} or options.retries) or nil,
    dry_run = type(options.dry_run) == "function" and options.dry_run
              or (options.dry_run or Client.dry_run_all) and function(line) io.stderr:write(line, "\n") end or nil,
    config = core.config({
      headers = headers, body_headers = body_headers, timeout = options.timeout,
      connect_timeout = options.connect_timeout, ca_file = options.ca_file, insecure = options.insecure,
      user_agent = options.user_agent or USER_AGENT, userpwd = userpwd,
      max_body = options.max_body and math.tointeger(options.max_body) or nil,
      max_connections = options.max_connections and math.tointeger(options.max_connections) or nil,
    }),
  }, Client)
  for _, op in ipairs(service.operations) do
    prepare(service, op)
    local resource, action = op.name:match("^(%w+)%.(.+)$")
    client[resource] = client[resource] or {}
    client[resource][action] = function(params, cb) return call(client, op, params, cb) end
    if op.pages then
      local pages = require "eventapi.pages"
      local function fetch(params) return call(client, op, params) end
      client[resource].each = function(params) return pages.each(fetch, op, params) end
      client[resource].all = function(params, cb) return pages.all(fetch, op, params, cb) end
    end
  end
  if os.getenv("EVENTAPI_DEBUG") == "1" then
    client:on("response", function(info)
      io.stderr:write(("eventapi: %s %s -> %s in %.1f ms (attempt %d)\n"):format(info.method, info.url,
        info.error or tostring(info.status), info.duration * 1000, info.attempt))
    end)
  end
  return client
end

Client.build = build -- for tests and the CLI: the request an operation would send
-- true: every client made from now on is a dry run, whatever its options say
-- (`eventapi run --dry-run`); a dry_run function still receives the lines.
Client.dry_run_all = false
-- requests handed to the transport by every client of this Lua state (retries
-- included, dry-run writes not): the CLI tells "nothing was sent" from it
Client.sent = 0
Client.respond = respond -- for tests and fuzz/respond.lua: the mapping of a raw response (client, req, res)
Client.OPTIONS = OPTIONS -- option name -> accepted types, for the CLI and the reference
return Client
