--- Error objects: every failure of the library is a table with this
-- metatable. Fields: type (always), message (always), status (nil for
-- transport failures), body, method and url (never a secret), retry_after
-- when the server sent it, attempts after retries, transport for failures
-- below HTTP, errors (Monterosa 422), location (the file and line of the
-- call that failed, when it was made from a script), cause (the raw value a
-- ScriptError wraps).
local core = require "eventapi.core"

local Error = {}
Error.__index = Error
Error.__name = "eventapi.Error"

local ESCAPES = { ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t" }

--- Escapes control characters (C0, DEL, and C1 written as UTF-8) so that a
-- text from a server cannot break a log line or drive a terminal.
function Error.escape(s)
  s = tostring(s)
  if not s:find("[%c\127\194]") then return s end
  s = s:gsub("[%c\127]", function(c) return ESCAPES[c] or ("\\x%02x"):format(c:byte()) end)
  return (s:gsub("\194([\128-\159])", function(c) return ("\\u%04x"):format(c:byte()) end))
end
local escape = Error.escape

--- One readable line: `NotFound (404): Event was not found [GET http://...]`,
-- every part escaped; `after 3 attempts` at the end when retries made more than one.
function Error.__tostring(e)
  local parts = { escape(e.type or "Error") }
  if e.status then parts[#parts + 1] = " (" .. escape(e.status) .. ")" end
  parts[#parts + 1] = ": " .. escape(e.message or "")
  if e.method and e.url then parts[#parts + 1] = " [" .. escape(e.method) .. " " .. escape(e.url) .. "]" end
  local n = rawget(e, "attempts")
  if math.type(n) == "integer" and n > 1 then parts[#parts + 1] = " after " .. n .. " attempts" end
  return table.concat(parts)
end

--- The text of a value for a message: tostring's, but NaN as "NaN" (the C
-- library writes "-nan" or "nan" by the sign bit).
function Error.show(v)
  if v ~= v then return "NaN" end
  return tostring(v)
end

--- Makes an error object from a table of fields (type and message are due).
function Error.new(fields)
  return setmetatable(fields, Error)
end

--- True when v is an error object of this library.
function Error.is(v)
  return getmetatable(v) == Error
end

--- v itself when it is an error object; otherwise (a value some script code
-- raised) a ScriptError whose message is its text and whose cause is v.
function Error.wrap(v)
  if getmetatable(v) == Error then return v end
  local text = type(v) == "string" and v or nil
  if not text then
    local ok, s = pcall(tostring, v)
    text = ok and type(s) == "string" and s or ("a " .. type(v))
  end
  return setmetatable({ type = "ScriptError", message = text, cause = v }, Error)
end

--- Raises an error object of the given type; the message is formatted.
function Error.raise(type_, fmt, ...)
  error(setmetatable({ type = type_, message = fmt:format(...) }, Error), 0)
end

--- The type used for an HTTP status when the server sent none.
function Error.type_for_status(status)
  local names = {
    [400] = "BadRequest", [401] = "Unauthorized", [403] = "Forbidden", [404] = "NotFound",
    [405] = "MethodNotAllowed", [409] = "Conflict", [413] = "PayloadTooLarge",
    [415] = "UnsupportedMediaType", [422] = "Unprocessable", [429] = "TooManyRequests",
  }
  return names[status] or (status >= 500 and "ServerError" or "HTTPError")
end

-- The fields an error may carry, and the types the library itself gives
-- (a server's own `type` comes on top): for the reference, docs/API.md.
Error.FIELDS = {
  { "type", "always: the kind of failure (below, or the server's own type)" },
  { "message", "always: what went wrong, one line, control characters escaped, secrets redacted" },
  { "status", "the HTTP status; nil for transport failures and failures before traffic" },
  { "body", "the server's answer, decoded when JSON (secrets redacted in every string)" },
  { "method", "the HTTP method of the call" },
  { "url", "the URL of the call, without user, password or credential-like query values" },
  { "retry_after", "the server's `Retry-After` text, when it sent one" },
  { "attempts", "after retries: how many attempts were made" },
  { "transport", "true for failures below HTTP (connection, TLS, timeout, a body cut short)" },
  { "errors", "Monterosa 422: a list of `{ field =, pointer = or parameter =, detail = }`" },
  { "param", "InvalidParams: the param that was wrong, when one was" },
  { "location", "the file and line of the script call that failed" },
  { "cause", "ScriptError: the value the script raised" },
}
Error.TYPES = {
  { "InvalidParams", "a bad param, option or argument: before any traffic" },
  { "InvalidResponse", "an answer that is not JSON where JSON was due, cut short, over `max_body`, headers over 100 KB, "
    .. "a list page that is not one, or pages that would loop" },
  { "Timeout", "`timeout`, `connect_timeout` or `idle_timeout` ran out" },
  { "ConnectionFailed", "the connection could not be made or broke" },
  { "TLS", "the TLS handshake or the server's certificate failed" },
  { "OutOfMemory", "libcurl ran out of memory for the request (never retried)" },
  { "Closed", "the client was closed before or during the call" },
  { "ScriptError", "your own code raised it (a callback, handler, executor, `finally`, hook, spawned or map function); "
    .. "see `cause`, absent when no value was given (`error()`, `reject()`)" },
  { "InvalidUse", "`await` in a coroutine spawn did not start, run/step/await from inside a handler, or a stream's "
    .. "messages left unread past max_queued" },
  { "UploadFailed", "a file being uploaded could not be read to its end as it was at the call (truncated, grown, "
    .. "a read error): the upload was stopped, never sent in part" },
  { "Unsettled", "a blocking `await` on a promise nothing is left to settle" },
  { "OutputFailed", "the CLI could not write its output (a full disk, say): exit 1" },
  { "ConnectDailyError", "Connect Daily answered 2xx with a non-zero `error`" },
  { "BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict, PayloadTooLarge, "
    .. "UnsupportedMediaType, Unprocessable, TooManyRequests, ServerError, HTTPError",
    "by HTTP status when the server sent no type of its own" },
}

core.error_metatable(Error) -- the errors the core makes are of this kind too
return Error
