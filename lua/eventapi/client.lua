--- A service client built from an operation table (see losant.lua): the
-- resources and actions, param checks, request building, the response
-- mapping to values and error objects, and the client's lifetime.
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local time = require "eventapi.time"
local schemas = require "eventapi.schemas"
local attach_callback = require("eventapi.promise").attach_callback
local Stream = require "eventapi.stream"

-- The library's own modules are the files beside this one: their frames are
-- not a call's location (a runbook in a directory named eventapi still is).
do
  local source = debug.getinfo(1, "S").source
  if source:match("^@.*/") then core.library_dir(source) end
end

local Client = {}
local bind_action -- (defined below)
--- client.dry_run -> whether the client is a dry run; client.validate ->
-- whether its calls are checked against the service's schemas before they
-- are sent; client.retries -> its retry policy (nil without one); other
-- names: the methods.
function Client.__index(client, key)
  if key == "dry_run" then return rawget(client, "_dry_run") ~= nil end
  if key == "validate" then return rawget(client, "_validate") == true end
  if key == "retries" then return rawget(client, "_retries") end
  local method = Client[key]
  if method ~= nil then return method end
  local service = rawget(client, "service")
  local rows = service and service.resource_rows and type(key) == "string" and service.resource_rows(key)
  if not rows then return nil end
  local t = {} -- a resource's actions, bound on first use, set on the client once all are bound
  for _, op in ipairs(rows) do bind_action(client, op, t) end
  rawset(client, key, t)
  return t
end

--- Options are given to the constructor: writing a field of a client
-- (client.dry_run = true) would change nothing the calls read, so it is
-- refused before any call can go out under the wrong policy.
function Client.__newindex(client, key)
  local e = Error.new({ type = "InvalidParams", message = ("%s: client.%s cannot be set after the client is made; "
    .. "give options to the constructor (or use client:on for hooks)"):format(client.service.name, tostring(key)) })
  e.location = core.location()
  error(e, 0)
end
Client.__name = "eventapi.Client"

local Options = require "eventapi.options"
local Secrets = require "eventapi.redact"
local OPTIONS, OPTION_DOCS, NUMBERS = Options.OPTIONS, Options.OPTION_DOCS, Options.NUMBERS
local MAX_HEAD, USER_AGENT = Options.MAX_HEAD, Options.USER_AGENT
local invalid, check_number, retry_policy = Options.invalid, Options.check_number, Options.retry_policy
local header_names, header_line = Options.header_names, Options.header_line
local base64, secret_name, redact = Secrets.base64, Secrets.secret_name, Secrets.redact
local scrub, scrub_table = Secrets.scrub, Secrets.scrub_table

--- The URL of a request as errors, hooks and dry runs show it: without
-- userinfo and credential-like query values, the call's secrets replaced.
local function shown_url(client, req)
  return scrub(req.secrets or client.secrets, redact(req.url))
end

--- Escapes control characters in an error's type and message; returns e.
-- (Secrets are taken out of what the server sent before the error is made:
-- eventapi's and libcurl's own words are not scrubbed.)
local function clean_error(e)
  if e.type ~= nil then e.type = Error.escape(e.type) end
  if e.message ~= nil then e.message = Error.escape(e.message) end
  return e
end

--- The JSON text of v; raises InvalidParams naming what (a cycle, NaN, ...).
local function encode(v, what)
  local ok, text = pcall(core.json_encode, v)
  if not ok then
    invalid(("%s cannot be encoded as JSON: %s"):format(what, type(text) == "table" and tostring(text.message)
      or tostring(text):gsub("^.-:%d+: ", "")))
  end
  return text
end

--- The header lines of a call: those of its header params (lines, may be nil)
-- and its per-call headers option (extra), checked like the client's; and the
-- secrets its errors redact (nil: the client's).
local function call_headers(client, name, lines, extra)
  if extra == nil then return lines, nil end
  if type(extra) ~= "table" then invalid(("%s: headers must be a table of name = value"):format(name)) end
  local names, secrets = header_names(extra, name .. ": headers"), nil
  lines = lines or {}
  for _, k in ipairs(names) do
    local line, value = header_line(k, extra[k], name .. ": header " .. k)
    lines[#lines + 1] = line
    if secret_name(k) and value ~= "" then -- redacted in this call's errors like the client's own
      secrets = secrets or { table.unpack(client.secrets) }
      secrets[#secrets + 1] = value
    end
  end
  if secrets then table.sort(secrets, function(a, b) return #a > #b end) end
  return lines, secrets
end

--- The full ordered list of an operation row's params: its own, then the
-- service's common ones it does not name (a new list; the row is not changed).
local function all_params(service, op)
  local known, all, common = {}, {}, {}
  for _, p in ipairs(op.params) do
    if p.fixed == nil then known[p.name] = true end
    all[#all + 1] = p
  end
  for _, p in ipairs(not op.stream and service.common_params or {}) do -- (a stream takes none, as the official client)
    if not known[p.name] then known[p.name] = true; common[#common + 1] = p end
  end
  if service.common_first then -- the query starts with them, as the official client writes it
    table.move(all, 1, #all, #common + 1, common)
    return common
  end
  return table.move(common, 1, #common, #all + 1, all)
end

--- The core's compiled spec of an operation row (compiled once: the core
-- caches it by row, and checks the row against its schema).
local function compiled(service, op)
  return core.operation(op) or core.operation(op, all_params(service, op), service.empty_body_object)
end

--- Builds {method, url, body, data, headers, op, secrets} for operation op
-- from params with the core's encoder (which calls the row's path, check and
-- body_of functions); raises InvalidParams.
local function build(client, op, params)
  local name = op.name
  if type(params) ~= "table" then invalid(name .. ": params must be a table") end
  local url, body, data, lines = core.build(compiled(client.service, op), client.url, params)
  local headers, secrets = call_headers(client, name, lines, params.headers)
  return { method = op.method, url = url, body = body, data = data, headers = headers, op = op, secrets = secrets }
end

--- Raises InvalidParams when the request's URL and headers are more than libcurl can send.
local function check_size(client, req, name)
  local size = #req.url + client.head_size
  for _, h in ipairs(req.headers or {}) do size = size + #h + 2 end
  if size > MAX_HEAD then
    invalid(("%s: the request's URL and headers take %d bytes, more than the %d that can be sent"):format(
      name, size, MAX_HEAD))
  end
end

--- The message of a Timeout: the option that ended it and its limit
-- (`no answer within 2 s (timeout)`, `no connection within 10 s
-- (connect_timeout)`) rather than libcurl's milliseconds. libcurl says
-- which phase ran out; in the connect phase the tighter of the two limits
-- applies. idle_timeout's own message (the core's) is kept.
local function timeout_message(client, text)
  text = tostring(text)
  if text:find("(idle_timeout)", 1, true) then return text end
  local limits = client.limits
  local total, connect = limits.timeout, limits.connect_timeout
  local connecting = text:find("^Connection timed out") or text:find("^Resolving timed out")
    or text:find("^Failed to connect") or text:find("^Connection timeout")
  if connecting and connect and (not total or connect <= total) then
    return ("no connection within %s s (connect_timeout)"):format(core.number_text(connect))
  end
  if total then return ("no answer within %s s (timeout)"):format(core.number_text(total)) end
  return text
end

--- Maps a raw response table from the core to the call's value, or raises its error object.
local function respond(client, req, res)
  local status, text = res.status, res.body
  local unwrap = client.service.unwrap
  if not res.error and status >= 200 and status < 300 and not unwrap then -- the common case, kept short
    if text == "" then return true end
    local ok, decoded = pcall(core.json_decode, text)
    if ok then return decoded end
  end
  local secrets = req.secrets or client.secrets
  local where = { method = req.method, url = shown_url(client, req) }
  if res.error then -- libcurl's words (or the core's): nothing of the server's in them
    -- transport: below HTTP (false from the core for an answer over max_body or with headers over 100 KiB)
    local message = res.error == "Timeout" and timeout_message(client, res.message) or res.message
    error(clean_error(Error.new({ type = res.error, message = message, status = res.status,
                                  transport = res.transport ~= false or nil,
                                  method = where.method, url = where.url, location = req.location })), 0)
  end
  local decoded, ok, why = nil, false, nil
  if text ~= "" then
    ok, decoded = pcall(core.json_decode, text)
    if not ok then why, decoded = decoded, nil end
    if not ok and (Error.is(why) and why.type == "OutOfMemory" or why == "not enough memory") then
      -- memory ran out while reading the answer: not the server's fault
      error(clean_error(Error.new({ type = "OutOfMemory", status = status, message = "out of memory reading the response",
                                    method = where.method, url = where.url, location = req.location })), 0)
    end
  end
  if status >= 200 and status < 300 then
    if text == "" then return true end
    if not ok then
      error(clean_error(Error.new({ type = "InvalidResponse", status = status, body = scrub(secrets, text),
                                    method = where.method, url = where.url, location = req.location,
                                    message = "the response is not valid JSON (" .. tostring(Error.is(why) and why.message or why) .. ")" })), 0)
    end
    if not unwrap then return decoded end
    local fine, value = pcall(unwrap, decoded, res, req, where)
    if fine then return value end
    if Error.is(value) then -- an error the service read from a 2xx answer (Connect Daily's `error`)
      if type(value.body) == "table" then scrub_table(secrets, value.body) end
      if type(value.message) == "string" then value.message = scrub(secrets, value.message) end
      clean_error(value)
    end
    error(value, 0)
  end
  -- An error answer: the secrets are taken out of what the server sent
  -- before anything is read from it, so that no cut can split one.
  if ok and type(decoded) == "table" then scrub_table(secrets, decoded) else text = scrub(secrets, text) end
  local e = Error.new({ status = status, method = where.method, url = where.url, location = req.location,
                        body = ok and decoded or text, retry_after = res.retry_after })
  local map = client.service.error_fields
  if map then map(e, ok and decoded or nil, req) end
  if type(decoded) == "table" then
    e.type = e.type or (type(decoded.type) == "string" and decoded.type or nil)
    e.message = e.message or (type(decoded.message) == "string" and decoded.message or nil)
  end
  e.type = e.type or Error.type_for_status(status)
  e.message = e.message or (text ~= "" and text:sub(1, 200) or ("HTTP status " .. status))
  error(clean_error(e), 0)
end

-- The methods a dry run sends: those that change nothing. Every other
-- method (POST, PUT, PATCH, DELETE, and any other, PURGE say) is printed.
local READS = { GET = true, HEAD = true, OPTIONS = true }
local TRANSPORT = { ConnectionFailed = true, Timeout = true } -- retried with "transport" (OutOfMemory is not)

--- A promise rejected with err.
local function rejected(err)
  local p = core.promise()
  core.reject(p, err)
  return p
end

--- The Closed error of a request that a closed client will not send.
local function closed_error(client, req, message)
  return Error.new({ type = "Closed", message = message or "the client is closed", method = req.method,
                     url = shown_url(client, req), location = req.location })
end

--- Calls every hook of kind with info; returns nil, or the failure of the
-- first hook that raised (a ScriptError naming the hook; an error object
-- it raised stays itself), after which no later hook of that kind runs.
local function emit(client, kind, info, req)
  for _, fn in ipairs(client.hooks[kind]) do
    local ok, err = pcall(fn, info)
    if not ok then
      if Error.is(err) then return err end
      local e = Error.wrap(err)
      e.message = ("a %s hook raised: %s"):format(kind, e.message)
      e.method, e.url, e.location = req.method, shown_url(client, req), req.location
      return e
    end
  end
end

--- An upload's parts as hooks, dry runs and the CLI show them: each part's
-- name, and a text field's value (secrets redacted) or a file's filename,
-- path, content type and size; never a file's bytes.
local function shown_parts(client, req)
  local list, secrets = {}, req.secrets or client.secrets
  for i, part in ipairs(req.parts) do
    list[i] = { name = part.name, value = part.value and scrub(secrets, part.value), path = part.path,
                filename = part.filename, content_type = part.content_type, size = part.size }
  end
  return list
end

--- The one-line text of shown parts: `file=@./x.png (x.png, image/png, 1234 bytes) email="a@b.c"`.
local function parts_text(parts)
  local words = {}
  for i, part in ipairs(parts) do
    if part.value then
      words[i] = ("%s=%s"):format(part.name, core.json_encode(part.value))
    else
      local what = ("%s, %d bytes"):format(part.content_type, part.size)
      words[i] = ("%s=%s(%s%s)"):format(part.name, part.path and ("@" .. part.path .. " ") or "",
        part.filename and (part.filename .. ", ") or "", what)
    end
  end
  return "multipart/form-data: " .. table.concat(words, " ")
end

--- The header lines of an upload: the client's (its empty Content-Type
-- line left out: curl writes multipart/form-data with its boundary; its
-- `Expect:` kept: no 100-continue round trip), but those the call names
-- itself, then the call's.
local function upload_headers(client, req)
  local own, headers = {}, {}
  for _, h in ipairs(req.headers or {}) do own[h:match("^[^:]*"):lower()] = true end
  for _, h in ipairs(client.headers) do
    local name = h:match("^[^:]*"):lower()
    if name ~= "content-type" and not own[name] then headers[#headers + 1] = h end
  end
  for _, h in ipairs(req.headers or {}) do headers[#headers + 1] = h end
  return headers
end

--- The error of an upload that stopped because a file could not be sent as
-- it was at the call (the core's read callback aborted it): which file, and
-- what became of it.
local function upload_failure(client, req, res)
  local e = Error.new({ type = "UploadFailed", method = req.method, url = shown_url(client, req),
                        location = req.location })
  for _, part in ipairs(req.parts) do
    if part.path then
      local f = io.open(part.path, "rb")
      local now = f and f:seek("end")
      if f then f:close() end
      if now ~= part.size then
        e.param = part.name
        e.message = ("%s: %s: '%s' changed while it was sent (%d bytes at the call, %s now): the upload was stopped"):format(
          req.op and req.op.name or "upload", part.name, part.path, part.size, now and ("%d bytes"):format(now) or "gone")
        return clean_error(e)
      end
    end
  end
  e.message = ("%s: a file could not be read while it was sent (%s): the upload was stopped"):format(
    req.op and req.op.name or "upload", tostring(res.message))
  return clean_error(e)
end

--- Calls the progress hooks of an upload in flight (transfer id) every
-- Client.progress_interval seconds with {method, url, attempt, sent, total}
-- (bytes of the multipart body), until stop() is called. A hook that raises
-- ends the upload: fail(err) gets its error. -> stop(res): a 2xx answer
-- reports the whole body sent, once.
local function watch_progress(client, req, n, id, fail)
  local timer_id, last_total, stopped
  local function report(sent, total)
    local failed = emit(client, "progress", { method = req.method, url = shown_url(client, req), attempt = n,
                                              sent = sent, total = total }, req)
    if failed then
      stopped = true
      fail(failed)
    end
  end
  local function tick()
    timer_id = nil
    if stopped then return end
    local sent, total = core.upload_progress(id)
    if sent == nil then return end
    if total >= 0 then last_total = total end
    report(sent, total)
    if stopped then return end
    local timer
    timer, timer_id = core.timer(Client.progress_interval)
    timer:next(tick)
  end
  local timer
  timer, timer_id = core.timer(Client.progress_interval)
  timer:next(tick)
  return function(res)
    if stopped then return end
    stopped = true
    if timer_id then core.cancel_timer(timer_id) end
    if last_total and not res.error and res.status and res.status < 300 then report(last_total, last_total) end
  end
end

--- Sends one attempt of a request; returns the promise of its value. A
-- request hook that raises, or closes the client, stops it before traffic.
local function attempt(client, req, n)
  local hooks = client.hooks
  local watched = #hooks.request > 0 or #hooks.response > 0 -- no hook: no redaction, no info tables
  local secrets = req.secrets or client.secrets
  local url = watched and shown_url(client, req)
  if #hooks.request > 0 then
    local failed = emit(client, "request", { method = req.method, url = url, attempt = n,
                                             body = req.body and scrub(secrets, req.body),
                                             parts = req.parts and shown_parts(client, req) }, req)
    if failed then return rejected(failed) end
    if client.closed then return rejected(closed_error(client, req, "the client was closed by a request hook")) end
  end
  local headers = nil
  if req.headers then -- the client's lines, but those the call names itself, then the call's
    local own = {}
    for _, h in ipairs(req.headers) do own[h:match("^[^:]*"):lower()] = true end
    headers = {}
    for _, h in ipairs(req.body and client.body_headers or client.headers) do
      if not own[h:match("^[^:]*"):lower()] then headers[#headers + 1] = h end
    end
    for _, h in ipairs(req.headers) do headers[#headers + 1] = h end
  end
  local started = core.now()
  local raw, id, stop, stopped_by
  if req.parts then -- an upload: multipart/form-data, files read as they are sent (upload.c)
    local ok
    ok, raw, id = pcall(core.upload, client.config, req.method, req.url, req.parts, upload_headers(client, req))
    if not ok then -- a file gone or changed since the call (a request hook removed it, say)
      local e = Error.wrap(raw)
      e.method, e.url, e.location = req.method, shown_url(client, req), req.location
      if e.type == "InvalidParams" then e.message = req.op.name .. ": " .. e.message end
      return rejected(e)
    end
    if #hooks.progress > 0 then
      stop = watch_progress(client, req, n, id, function(err)
        stopped_by = err
        core.cancel(id, err.message)
      end)
    end
  else
    raw, id = core.request(client.config, req.method, req.url, req.body, headers)
  end
  local inflight = client.inflight
  inflight[id] = true
  return raw:next(function(res)
    inflight[id] = nil
    if stop then stop(res) end
    if stopped_by then error(stopped_by, 0) end
    if req.parts and res.error and tostring(res.message):lower():find("abort.*callback") then
      error(upload_failure(client, req, res), 0) -- a file changed or could not be read: no partial upload
    end
    if #hooks.response > 0 then
      local failed = emit(client, "response", { method = req.method, url = url or shown_url(client, req),
                                                attempt = n, status = res.status, error = res.error,
                                                duration = core.now() - started }, req)
      if failed then error(failed, 0) end
    end
    return respond(client, req, res)
  end)
end

--- The seconds a Retry-After value asks for: a non-negative decimal number of
-- seconds or an HTTP date; nil for anything else (the backoff applies).
local function retry_after_seconds(value)
  if type(value) ~= "string" then return nil end
  if value:match("^%d+$") then return tonumber(value) end
  return time.seconds_until(value)
end

--- The seconds to wait before retry number n (1-based) after err, or nil for no retry.
local function retry_wait(policy, err, n, method)
  if n > policy.max or not policy.methods[method] then return nil end
  local transport = err.transport and (TRANSPORT[err.type] or err.type == "InvalidResponse")
  if not ((transport and policy.on.transport) or (not err.transport and err.status and policy.on[err.status])) then
    return nil
  end
  if err.retry_after then
    local wait = retry_after_seconds(err.retry_after)
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
  if client.closed then return rejected(closed_error(client, req)) end
  if client._dry_run and not READS[req.method] then
    local url = shown_url(client, req)
    local body = req.body and scrub(req.secrets or client.secrets, req.body)
    local parts = req.parts and shown_parts(client, req) -- an upload: names, filenames, sizes; no file's bytes
    local failed = emit(client, "request", { method = req.method, url = url, attempt = 1, body = body,
                                             parts = parts, dry_run = true }, req)
    if failed then return rejected(failed) end
    body = body or parts and parts_text(parts)
    client._dry_run(("[dry run] %s %s%s"):format(req.method, url, body and (" " .. body) or ""))
    Client.dry_run_held = Client.dry_run_held + 1
    local p = core.promise()
    core.resolve(p, { dry_run = true, method = req.method, url = url, body = req.data, parts = parts })
    return p
  end
  local policy = client._retries
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
      local failed = emit(client, "retry", { method = req.method, url = shown_url(client, req), attempt = n,
                                             wait = wait, status = err.status, error = err.type }, req)
      if failed or client.closed then
        failed = failed or closed_error(client, req, "the client was closed by a retry hook")
        failed.attempts = n
        return core.reject(result, failed)
      end
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

--- Sends the built request req (ok) or rejects with what building raised
-- (not ok); cb (optional) gets (err, result). -> the promise.
local function dispatch(client, ok, req, cb)
  local p
  if ok then
    req.location = core.location()
    p = send(client, req)
  else -- (a failure before traffic: only now is the script's line looked up)
    local e = Error.wrap(req)
    if e.location == nil then e.location = core.location() end
    p = core.promise()
    core.reject(p, e)
  end
  if cb ~= nil then attach_callback(p, cb) end
  return p
end

--- The request of a call the core built: its header lines and per-call
-- headers merged, its size checked; raises InvalidParams.
local function built(client, op, params, url, body, data, lines)
  local headers, secrets = call_headers(client, op.name, lines, params.headers)
  local req = { method = op.method, url = url, body = body, data = data, headers = headers, op = op, secrets = secrets }
  if op.upload then -- data is its parts list (upload.c)
    req.parts, req.data = data, nil
    for _, h in ipairs(headers or {}) do
      if h:match("^[^:]*"):lower() == "content-type" then
        invalid(("%s: an upload's Content-Type is multipart/form-data with curl's boundary: headers must not set it"):format(
          op.name), { param = "headers" })
      end
    end
  end
  check_size(client, req, op.name)
  if client._validate or (client._dry_run and not READS[op.method]) then -- what production would refuse
    local why, param = schemas.check(client.service.name, op, params, body)
    if why then invalid(why, { param = param }) end
  end
  return req
end

--- The client's policy for a call of op the core built once (url, body,
-- data, lines) or failed to build (failure): hooks, retries, dry run, the
-- callback cb (optional, gets (err, result)). Returns the promise.
local function call(client, op, params, cb, url, body, data, lines, failure)
  if failure ~= nil then return dispatch(client, false, failure, cb) end
  local ok, req = pcall(built, client, op, params, url, body, data, lines)
  return dispatch(client, ok, req, cb)
end

--- client:request{method=, path=, query=, body=, headers=} -> promise: any other endpoint.
function Client:request(spec, cb)
  local ok, req = pcall(function()
    if type(spec) ~= "table" then invalid("request: expects a table") end
    local method = spec.method or "GET"
    if type(method) ~= "string" or not method:match("^%u+$") then invalid("request: bad method") end
    if type(spec.path) ~= "string" or spec.path:sub(1, 1) ~= "/" then invalid("request: path must start with /") end
    if spec.path:find("[%c%s#]") then invalid("request: path must not contain spaces, control characters or #") end
    local url = self.url .. spec.path
    if spec.query ~= nil and type(spec.query) ~= "table" then
      invalid("request: query must be a table of name = value, not a " .. type(spec.query))
    end
    if spec.query then
      local keys, parts = {}, {}
      for k in pairs(spec.query) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      for _, k in ipairs(keys) do
        parts[#parts + 1] = core.escape(k) .. "=" .. core.escape(core.value_text(spec.query[k], "request", k))
      end
      url = url .. (url:find("?", 1, true) and "&" or "?") .. table.concat(parts, "&")
    end
    local body, data = spec.body, spec.body
    if type(body) == "table" then body = encode(body, "request: the body") end
    if body ~= nil and type(body) ~= "string" then invalid("request: body must be a table or a string") end
    local headers
    if spec.headers ~= nil and type(spec.headers) ~= "table" then
      invalid("request: headers must be a table of name = value, not a " .. type(spec.headers))
    end
    if spec.headers then
      headers = {}
      for _, k in ipairs(header_names(spec.headers, "request: headers")) do
        headers[#headers + 1] = header_line(k, spec.headers[k], "request: header " .. k)
      end
    end
    local req = { method = method, url = url, body = body, data = data, headers = headers }
    check_size(self, req, "request")
    return req
  end)
  return dispatch(self, ok, req, cb)
end

--- client:close(): rejects the requests in flight with Closed; later calls reject too.
function Client:close()
  if self.closed then return end
  self.closed = true
  core.cancel_binding(self.binding)
  for id in pairs(self.inflight) do core.cancel(id) end
  for s in pairs(self.streams) do s:close() end
  for p, wait in pairs(self.waiting) do
    core.cancel_timer(wait.timer) -- the loop does not wait for it any more
    core.reject(p, closed_error(self, wait.req, "the client was closed while the request waited to retry"))
  end
  self.waiting = {}
end

local HOOKS = { request = true, response = true, retry = true, progress = true }

--- client:on(kind, fn) -> client: calls fn(info) for every "request" (method, url,
-- attempt, body, parts, dry_run), "response" (method, url, attempt, status, error,
-- duration in seconds) and "retry" (method, url, attempt, wait, status, error),
-- and, while an upload is sent, "progress" (method, url, attempt, sent, total:
-- bytes of its multipart body) every Client.progress_interval seconds and
-- once more when a 2xx answer came.
-- A hook that raises fails the call (ScriptError); close() in a hook stops it (Closed).
function Client:on(kind, fn)
  if not HOOKS[kind] then
    invalid(("client:on: unknown hook '%s' (request, response, retry or progress)"):format(tostring(kind)))
  end
  if type(fn) ~= "function" then invalid("client:on: the hook must be a function") end
  local list = self.hooks[kind]
  list[#list + 1] = fn
  return self
end
Client.__close = Client.close

--- prepare(service, op) -> { all_params =, compiled = }: what the CLI and
-- the fuzz targets read of a row; the row itself stays as written.
local function prepare(service, op)
  return { all_params = all_params(service, op), compiled = compiled(service, op) }
end

--- Binds action op into the resource table t (by default client.<resource>,
-- made when missing), with each and all when it pages.
bind_action = function(client, op, t)
  local resource, action = op.name:match("^(%w+)%.(.+)$")
  t = t or rawget(client, resource)
  if not t then t = {}; rawset(client, resource, t) end
  if op.stream then -- (params [, options or message handler]) -> stream
    local tools = { build = build, respond = respond, shown_url = shown_url }
    t[action] = function(params, options)
      local handler
      if type(options) == "function" then handler, options = options, nil end
      local s = Stream.open(client, op, params, options, tools)
      if handler then s:on("message", handler) end
      return s
    end
    return
  end
  local operation = core.bind(compiled(client.service, op), client.binding, op) -- callable: operation(params [, cb]) -> promise
  t[action] = operation
  if op.pages and (action == "get" or not t.each) then -- a resource's walk is its get's, else its first list's
    local pages = require "eventapi.pages"
    local function fetch(params) return operation(params) end
    local function where(params) -- the method and shown URL of a page's request, for a walk's errors
      local req = build(client, op, params)
      return { method = req.method, url = shown_url(client, req) }
    end
    t.each = function(params) return pages.each(fetch, op, params, where) end
    t.all = function(params, cb) return pages.all(fetch, op, params, cb, where) end
  end
end

--- Client.new(service, options) -> client with one table per resource.
function Client.new(service, options)
  options = options or {}
  if type(options) ~= "table" then invalid(service.name .. ": options must be a table") end
  local numbers = {}
  for k, v in pairs(options) do
    if not OPTIONS[k] then invalid(("%s: unknown option '%s'"):format(service.name, tostring(k))) end
    if not OPTIONS[k]:find(type(v), 1, true) then
      invalid(("%s: option %s must be a %s, not a %s"):format(service.name, k, OPTIONS[k], type(v)))
    end
  end
  for k, range in pairs(NUMBERS) do
    local v = options[k]
    if v == nil then v = range[4] end
    if v ~= nil then numbers[k] = check_number(("%s: option %s"):format(service.name, k), v, range[1], range[2], range[3]) end
  end
  if options.token and options.token:find("[\r\n%z]") then -- (user and password travel base64-encoded)
    invalid(service.name .. ": option token must not contain CR, LF or NUL")
  end
  if options.user and options.user:find(":", 1, true) then
    invalid(service.name .. ": option user must not contain ':' (HTTP Basic separates user and password with it)")
  end
  local url = options.url or service.default_url
  if not url then invalid(service.name .. ": the url option is required") end
  url = url:gsub("/+$", "")
  if not url:match("^https?://") then invalid(service.name .. ": url must start with http:// or https://") end
  if url:find("[%c%s]") then invalid(service.name .. ": url must not contain spaces or control characters") end
  if url:find("[?#]") then -- every call appends its path and query to the base URL
    invalid(service.name .. ": url must not contain a query (?) or a fragment (#)")
  end
  if options.user_agent then header_line("User-Agent", options.user_agent, "option user_agent") end
  if options.token and options.user then invalid(service.name .. ": give either token or user and password, not both") end
  if options.password and not options.user then invalid(service.name .. ": password needs user") end
  local headers = { (header_line("Accept", service.accept, "accept")) }
  for _, h in ipairs(service.headers(options)) do
    local name, value = h:match("^([^:]+): (.*)$")
    headers[#headers + 1] = header_line(name, value, "option " .. name)
  end
  if options.headers then
    for _, k in ipairs(header_names(options.headers, service.name .. ": headers")) do
      headers[#headers + 1] = header_line(k, options.headers[k], "header " .. k)
    end
  end
  local body_headers = { table.unpack(headers) }
  body_headers[#body_headers + 1] = "Content-Type: " .. service.content_type
  body_headers[#body_headers + 1] = "Expect:" -- no 100-continue round trip
  headers[#headers + 1] = "Expect:"
  -- a POST, PUT or PATCH with no body says no Content-Type (libcurl would
  -- add a form type); for other methods curl adds none anyway
  headers[#headers + 1] = "Content-Type:"
  local userpwd
  if options.user then userpwd = options.user .. ":" .. (options.password or "") end
  local secrets = {}
  local function secret(v) if type(v) == "string" and v ~= "" then secrets[#secrets + 1] = v end end
  secret(options.token)
  secret(options.password)
  if userpwd then secret(userpwd); secret(base64(userpwd)) end
  for k, v in pairs(options.headers or {}) do
    if secret_name(tostring(k)) then
      secret(tostring(v))
      secret(tostring(v):match("^%a+%s+(.+)$")) -- the credential of "Bearer x" or "Basic x"
    end
  end
  table.sort(secrets, function(a, b) return #a > #b end)
  local head_size = 512 + #(options.user_agent or USER_AGENT) + #url
  for _, h in ipairs(body_headers) do head_size = head_size + #h + 2 end
  if head_size > MAX_HEAD then invalid(("%s: the headers take %d bytes, more than the %d that can be sent"):format(
    service.name, head_size, MAX_HEAD)) end
  local client = setmetatable({
    service = service, url = url, headers = headers, body_headers = body_headers, inflight = {}, waiting = {},
    streams = {}, -- its streams open or reconnecting (stream.lua)
    secrets = secrets, head_size = head_size,
    limits = numbers, -- the numeric options in effect, defaults included (seconds, bytes, counts)
    hooks = { request = {}, response = {}, retry = {}, progress = {} },
    closed = false, binding = false,
    _validate = options.validate or nil,
    _retries = options.retries and retry_policy(service.name, options.retries == true and {} or options.retries) or nil,
    _dry_run = type(options.dry_run) == "function" and options.dry_run
              or (options.dry_run or Client.dry_run_all) and function(line) io.stderr:write(line, "\n") end or nil,
    config = core.config({
      headers = headers, body_headers = body_headers, timeout = numbers.timeout,
      connect_timeout = numbers.connect_timeout, idle_timeout = numbers.idle_timeout, ca_file = options.ca_file,
      insecure = options.insecure, user_agent = options.user_agent or USER_AGENT, userpwd = userpwd,
      max_body = numbers.max_body, max_connections = numbers.max_connections,
    }),
  }, Client)
  client.binding = core.binding(client.config, url, head_size, function(res) return respond(client, res.req, res) end,
    function(op, params, cb, ...) return call(client, op, params, cb, ...) end, client, service.unwrap == nil)
  if not service.resource_rows then -- every resource now; else each as it is first used (Client.__index)
    for _, op in ipairs(service.operations) do bind_action(client, op) end
  end
  if os.getenv("EVENTAPI_DEBUG") == "1" then
    client:on("response", function(info)
      io.stderr:write(("eventapi: %s %s -> %s in %.1f ms (attempt %d)\n"):format(info.method, info.url,
        info.error or tostring(info.status), info.duration * 1000, info.attempt))
    end)
  end
  return client
end

Client.prepare = prepare -- for the CLI and fuzz targets: a row's all_params and compiled spec
Client.build = build -- for tests and the CLI: the request an operation would send
-- true: every client made from now on is a dry run, whatever its options say
-- (`eventapi run --dry-run`); a dry_run function still receives the lines.
Client.dry_run_all = false
-- How many writes dry-run clients have printed and not sent, in the whole
-- process (the CLI's `[dry run] N writes not sent`).
Client.dry_run_held = 0
-- Seconds between two calls of the progress hooks while an upload is sent.
Client.progress_interval = 0.1
Client.OPTIONS = OPTIONS -- option name -> accepted types, for the CLI and the reference
Client.OPTION_DOCS = OPTION_DOCS -- {name, default, meaning} in reference order
return Client
