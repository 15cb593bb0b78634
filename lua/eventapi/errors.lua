--- Error objects: every failure of a call is a table with this metatable.
-- Fields: status (nil for transport failures), type, message, body,
-- method and url (never the token), retry_after when the server sent it.
local Error = {}
Error.__index = Error
Error.__name = "eventapi.Error"

--- One readable line: `NotFound (404): Event was not found [GET http://...]`.
function Error.__tostring(e)
  local parts = { e.type or "Error" }
  if e.status then parts[#parts + 1] = " (" .. tostring(e.status) .. ")" end
  parts[#parts + 1] = ": " .. tostring(e.message or "")
  if e.method and e.url then parts[#parts + 1] = " [" .. e.method .. " " .. e.url .. "]" end
  return table.concat(parts)
end

--- Makes an error object from a table of fields.
function Error.new(fields)
  return setmetatable(fields, Error)
end

--- True when v is an error object of this library.
function Error.is(v)
  return getmetatable(v) == Error
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

return Error
