--- Server-sent-event streams (Losant's device.stateStream,
-- device.commandStream, application.mqttSubscriptionStream): a GET that
-- stays open, read by the core's SSE parser as bytes arrive; each message's
-- data is decoded as JSON with the library's codec. A stream is used with
-- callbacks (stream:on), a pull loop (stream:messages(), stream:receive()),
-- or its promises `ready` (the server accepted it: a 2xx event stream) and
-- `done` (fulfilled with true by close, rejected with its failure), and ends with stream:close(), a `<close>`
-- variable, the client's close, or a failure that is never silent.
local core = require "eventapi.core"
local Error = require "eventapi.errors"

local Stream = {}
Stream.__index = Stream
Stream.__name = "eventapi.Stream"

local EVENTS = { open = true, message = true, error = true, reconnect = true, close = true }
local OPTIONS = { reconnect = true, stall_timeout = true, max_message = true, max_queued = true }
local DEFAULT_RETRY_MS = 1000 -- the wait before a reconnection when the server named none (retry:)
local MAX_MESSAGE = 1024 * 1024
local MAX_QUEUED = 10000

--- Raises InvalidParams with message (what the call got wrong, before any traffic).
local function invalid(message)
  error(Error.new({ type = "InvalidParams", message = message, location = core.location() }), 0)
end

--- Checks a stream call's options table; -> reconnect (max attempts in a row,
-- 0: none), stall seconds, max_message, max_queued.
local function read_options(name, options, params)
  options = options or {}
  if type(options) ~= "table" then invalid(("%s: options must be a table, not a %s"):format(name, type(options))) end
  for k in pairs(options) do
    if not OPTIONS[k] then
      invalid(("%s: unknown stream option '%s' (reconnect, stall_timeout, max_message, max_queued)"):format(name, tostring(k)))
    end
  end
  local function count(key, default, low, high)
    local v = options[key]
    if v == nil then return default end
    if math.type(v) ~= "integer" or v < low or v > high then
      invalid(("%s: stream option %s must be an integer from %d to %d"):format(name, key, low, high))
    end
    return v
  end
  local reconnect = options.reconnect
  if reconnect == true then reconnect = math.maxinteger
  elseif reconnect == nil or reconnect == false then reconnect = 0
  else reconnect = count("reconnect", 0, 1, math.maxinteger) end
  local keep_alive = tonumber(params.keepAliveInterval) or 2
  local stall = options.stall_timeout
  if stall == nil then stall = math.max(10, 4 * keep_alive) end
  if type(stall) ~= "number" or stall ~= stall or stall < 0 or stall > 86400 then
    invalid(name .. ": stream option stall_timeout must be a number of seconds from 0 (none) to 86400")
  end
  if stall > 0 and stall < 1 then stall = 1 end -- the core counts whole seconds
  return reconnect, math.ceil(stall), count("max_message", MAX_MESSAGE, 1, 1024 * 1024 * 1024),
         count("max_queued", MAX_QUEUED, 1, math.maxinteger)
end

--- An eventapi.Error for what a handler or the stream's own code raised:
-- OutOfMemory for Lua's memory error, else ScriptError (an error object
-- passes as it is).
local function as_error(err)
  if Error.is(err) then return err end
  if err == "not enough memory" then return Error.new({ type = "OutOfMemory", message = "out of memory" }) end
  return Error.wrap(err)
end

--- Reports err as an unhandled failure (eventapi.run raises it): for an
-- error that has nowhere else to go.
local function report(err)
  core.reject(core.promise(), err)
end

--- Calls the handlers of kind with info; a handler that raises fails the
-- stream (ScriptError, OutOfMemory); one of "error" or "close", after the
-- end, is reported as an unhandled failure. -> false when one raised.
local function emit(s, kind, info)
  for _, fn in ipairs(s.handlers[kind]) do
    local ok, err = pcall(fn, info)
    if not ok then
      if kind ~= "error" and kind ~= "close" then s:_fail(as_error(err)) else report(as_error(err)) end
      return false
    end
  end
  return true
end

--- The stream's end for the pull loop and `done`: settles the waiters.
local function settle_waiters(s, err)
  local waiters = s.waiters
  while waiters[1] do
    local w = waiters[1]
    if w.timer then core.cancel_timer(w.timer) end
    if err then core.reject(w.promise, err) else core.resolve(w.promise, nil) end
    table.remove(waiters, 1) -- only once settled: a memory error midway leaves the rest for a retry
  end
end

--- Ends the stream with failure err: the error handlers, the pull loop and
-- `done` hear of it; with none of them it is an unhandled failure.
function Stream:_fail(err)
  if self.failed_fully or (self.ended and not self.failure) then return end -- (closed, or told already)
  self.failure = self.failure or err -- (a retry after a memory error keeps the first; set before `ended`,
  self.ended = true                  -- which alone reads as closed)
  err = self.failure
  if self.transfer then core.cancel(self.transfer, "the stream failed") end
  if self.retry_timer then core.cancel_timer(self.retry_timer) end
  self.client.streams[self] = nil
  local handled = #self.handlers.error > 0 or #self.waiters > 0 or self.pulled
  if handled then self.done:next(nil, function() end) end -- reported where the script asked for it (before
  core.reject(self.done, err)                               -- the rejection: never unhandled for a moment)
  if not self.ready_settled then core.reject(self.ready, err); self.ready_settled = true end
  settle_waiters(self, err)
  self.failed_fully = true -- (every step above may run again after a memory error; the handlers run once)
  emit(self, "error", err)
  emit(self, "close", { error = err })
end

--- A message record of the core: decoded and handed on.
local function message(s, r)
  if r.retry then s.retry_ms = r.retry end
  s.last_id = r.id
  if r.data == "" then return end -- a message with no data: a keep-alive
  local ok, value = pcall(core.json_decode, r.data)
  if not ok and (value == "not enough memory" or Error.is(value) and value.type == "OutOfMemory") then
    return s:_fail(Error.new({ type = "OutOfMemory", method = "GET", url = s.url, location = s.location,
                               message = "out of memory reading a message of the stream" }))
  end
  if not ok then
    return s:_fail(Error.new({ type = "InvalidResponse", method = "GET", url = s.url, location = s.location,
      message = ("a message of the stream is not JSON (%s)"):format(Error.is(value) and value.message or tostring(value)) }))
  end
  s.received, s.attempts = s.received + 1, 0 -- a message: the stream works again
  local msg = { event = r.event, data = value, id = r.id ~= "" and r.id or nil }
  if #s.handlers.message > 0 then emit(s, "message", msg); return end
  local w = s.waiters[1]
  if w then
    if w.timer then core.cancel_timer(w.timer) end
    core.resolve(w.promise, msg)
    table.remove(s.waiters, 1) -- only once resolved: a memory error before leaves it to the failure
    return
  end
  if s.tail - s.head + 1 >= s.max_queued then
    return s:_fail(Error.new({ type = "InvalidUse", method = "GET", url = s.url, location = s.location,
      message = ("%d messages waited to be read: read them with stream:on('message'), stream:messages() "
        .. "or stream:receive() (max_queued)"):format(s.max_queued) }))
  end
  s.queue[s.tail + 1] = msg -- (then the count: a memory error here leaves no hole)
  s.tail = s.tail + 1
end

--- What the core hands over: {kind="open"} or a message record.
function Stream:_record(r)
  if self.ended then return end
  if r.kind == "open" then
    if not self.ready_settled then core.resolve(self.ready, true); self.ready_settled = true end
    self.opened = true
    emit(self, "open", { url = self.url })
  else
    message(self, r)
  end
end

--- The core's handler of a record (a job with nowhere to send an error):
-- what _record raises (memory) fails the stream, and what cannot fail it
-- any more is reported as an unhandled failure; nothing is lost unheard.
-- Nothing here has an effect before _guard's pcall: the core calls it again
-- when the call itself ran out of memory (stream.c's deliver_record).
function Stream:_deliver(r)
  self:_guard(self._record, r)
end

--- Runs fn(self, ...) in a job with nowhere to send an error: an error
-- fails the stream, or is reported as an unhandled failure when it cannot.
function Stream:_guard(fn, ...)
  local ok, err = pcall(fn, self, ...)
  if ok then return end
  for _ = 1, 4 do -- memory errors come in bursts: the failure is told again until it is told once
    local made, e = pcall(as_error, err)
    if made then
      if self.failed_fully or (self.ended and not self.failure) then
        if pcall(report, e) then return end
      elseif pcall(self._fail, self, e) then
        return
      end
    end
  end
end

--- The error a finished transfer ended the stream with (its response table).
function Stream:_error_of(res)
  if res.error then
    return Error.new({ type = res.error, message = res.message, transport = res.transport ~= false or nil,
                       method = "GET", url = self.url, location = self.location })
  end
  local ok, err = pcall(self.respond, res) -- an error answer: read like any call's
  if ok then -- (a 2xx answer always ends as an error above)
    err = Error.new({ type = "InvalidResponse", status = res.status, method = "GET", url = self.url,
                      location = self.location, message = "the stream ended without an event stream" })
  end
  return Error.wrap(err)
end

--- The transfer ended: a reconnection when asked for and the failure is
-- below HTTP, else the stream fails.
function Stream:_ended(res)
  self.transfer = false
  if self.ended then return end
  local err = self:_error_of(res)
  if err.transport and self.attempts < self.reconnect and not self.client.closed then
    self.attempts = self.attempts + 1
    local wait = (self.retry_ms or DEFAULT_RETRY_MS) / 1000
    if not emit(self, "reconnect", { attempt = self.attempts, wait = wait, error = err, last_id = self.last_id or nil }) then
      return
    end
    local timer, id = core.timer(wait)
    self.retry_timer = id
    timer:next(function()
      self.retry_timer = false
      if not self.ended then self:_guard(self._connect) end
    end)
    return
  end
  self:_fail(err)
end

--- Opens (or opens again) the transfer.
function Stream:_connect()
  local headers = {}
  for _, h in ipairs(self.headers) do headers[#headers + 1] = h end
  if self.last_id and self.last_id ~= "" then headers[#headers + 1] = "Last-Event-ID: " .. self.last_id end
  local ok, p, id = pcall(core.stream, self.client.config, self.req.url, headers,
                          function(r) self:_deliver(r) end, self.stall, self.max_message)
  if not ok then return self:_fail(Error.wrap(p)) end
  self.transfer = id
  self.client.streams[self] = true
  p:next(function(res) self:_guard(self._ended, res) end)
end

--- Opens a stream for action op of client with params and options; the
-- tools are the client's (build, respond, shown_url). Raises InvalidParams
-- (or Closed) before any traffic.
function Stream.open(client, op, params, options, tools)
  if params == nil then params = {} end
  if type(params) ~= "table" then invalid(("%s: params must be a table, not a %s"):format(op.name, type(params))) end
  local reconnect, stall, max_message, max_queued = read_options(op.name, options, params)
  local req = tools.build(client, op, params)
  local url = tools.shown_url(client, req)
  if client.closed then
    error(Error.new({ type = "Closed", message = "the client is closed", method = "GET", url = url,
                      location = core.location() }), 0)
  end
  local own = {}
  for _, h in ipairs(req.headers or {}) do own[h:match("^[^:]*"):lower()] = true end
  local headers = {}
  for _, h in ipairs(client.headers) do
    if not own[h:match("^[^:]*"):lower()] then headers[#headers + 1] = h end
  end
  headers[#headers + 1] = "Cache-Control: no-cache"
  for _, h in ipairs(req.headers or {}) do headers[#headers + 1] = h end
  local s = setmetatable({
    client = client, op = op, req = req, url = url, headers = headers, location = core.location(),
    reconnect = reconnect, stall = stall, max_message = max_message, max_queued = max_queued,
    attempts = 0, received = 0, queue = {}, head = 1, tail = 0, waiters = {},
    handlers = { open = {}, message = {}, error = {}, reconnect = {}, close = {} },
    done = core.promise(), ready = core.promise(), ended = false, opened = false,
    -- every field the stream sets later, made now (false for none): setting a new key may run out of
    -- memory halfway through a step that a retry must find whole
    failure = false, failed_fully = false, ready_settled = false, transfer = false, retry_timer = false,
    last_id = false, retry_ms = false, pulled = false,
  }, Stream)
  s.ready:next(nil, function() end) -- its failure is reported by `done` and the handlers, not twice
  s.respond = function(res) return tools.respond(client, req, res) end
  s:_connect()
  return s
end

--- stream:on(kind, fn) -> stream: fn(info) for "open", each "message"
-- ({event, data, id}), "error" (the eventapi.Error that ended it),
-- "reconnect" ({attempt, wait, error, last_id}) and "close".
function Stream:on(kind, fn)
  if not EVENTS[kind] then
    invalid(("stream:on: unknown event '%s' (open, message, error, reconnect or close)"):format(tostring(kind)))
  end
  if type(fn) ~= "function" then invalid("stream:on: the handler must be a function") end
  local list = self.handlers[kind]
  list[#list + 1] = fn
  if kind == "error" and self.failure then self.done:next(nil, function() end) end
  if kind == "message" then -- what waited in the queue goes to it first
    while self.head <= self.tail do
      local msg = self.queue[self.head]
      self.queue[self.head], self.head = nil, self.head + 1
      if not emit(self, "message", msg) then break end
    end
  end
  return self
end

--- stream:receive([seconds]) -> promise of the next message ({event, data,
-- id}); nil once the stream was closed; rejected with the stream's failure,
-- or with Timeout when no message came within seconds.
function Stream:receive(seconds)
  self.pulled = true
  local p = core.promise()
  if seconds ~= nil and (type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 or seconds > 86400) then
    core.reject(p, Error.new({ type = "InvalidParams", location = core.location(),
                               message = "stream:receive: seconds must be a number from 0 to 86400" }))
    return p
  end
  if self.head <= self.tail then
    local msg = self.queue[self.head]
    self.queue[self.head], self.head = nil, self.head + 1
    core.resolve(p, msg)
  elseif self.failure then
    core.reject(p, self.failure)
  elseif self.ended then
    core.resolve(p, nil)
  else
    local w = { promise = p }
    self.waiters[#self.waiters + 1] = w
    if seconds then
      local timer, id = core.timer(seconds)
      w.timer = id
      local location = core.location()
      timer:next(function()
        for i, x in ipairs(self.waiters) do
          if x == w then
            table.remove(self.waiters, i)
            core.reject(p, Error.new({ type = "Timeout", method = "GET", url = self.url, location = location,
                                       message = ("no message within %g s"):format(seconds) }))
            return
          end
        end
      end)
    end
  end
  return p
end

--- stream:messages() -> an iterator for a pull loop: each step awaits the
-- next message (inside eventapi.spawn it yields, on the main thread it runs
-- the loop); it ends when the stream is closed and raises its failure.
function Stream:messages()
  self.pulled = true
  return function()
    return self:receive():await()
  end
end

--- stream:close(): ends the stream (no error); `done` fulfils, a pull loop ends
-- (messages received and not read yet are dropped; after a failure they are
-- still read before the failure is raised).
function Stream:close()
  if self.ended then return end
  self.ended = true
  self.client.streams[self] = nil
  if self.transfer then core.cancel(self.transfer, "the stream was closed") end
  if self.retry_timer then core.cancel_timer(self.retry_timer) end
  self.queue, self.head, self.tail = {}, 1, 0 -- closed: what was not read yet is not wanted (a failure keeps it)
  settle_waiters(self, nil)
  if not self.ready_settled then
    self.ready_settled = true
    core.reject(self.ready, Error.new({ type = "Closed", method = "GET", url = self.url, location = self.location,
                                        message = "the stream was closed before it opened" }))
  end
  core.resolve(self.done, true)
  emit(self, "close", {})
end
Stream.__close = Stream.close

--- stream:is_open() -> whether it has not ended yet (open, opening or reconnecting).
function Stream:is_open()
  return not self.ended
end

return Stream
