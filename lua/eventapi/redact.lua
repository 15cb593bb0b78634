--- Keeping secrets out of what eventapi shows: credential-like names, URLs
-- without userinfo or credential values, and the client's secrets replaced by
-- REDACTED in text and in decoded answers.
local M = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
--- The base64 text of s (how HTTP Basic credentials travel, to redact them).
local function base64(s)
  return (s:gsub("..?.?", function(chunk)
    local a, b, c = chunk:byte(1, 3)
    local n = a << 16 | (b or 0) << 8 | (c or 0)
    local out = {}
    for i = 1, 4 do
      local k = (n >> (6 * (4 - i))) & 63
      out[i] = B64:sub(k + 1, k + 1)
    end
    if not b then out[3], out[4] = "=", "=" elseif not c then out[4] = "=" end
    return table.concat(out)
  end))
end

-- Names of credentials (lower case, after percent-decoding, "-" read as "_").
local SECRET_NAMES = { token = true, access_token = true, api_key = true, apikey = true, client_secret = true,
                       secret = true, password = true, passwd = true, auth = true, authorization = true,
                       sig = true, signature = true, cookie = true, session = true, private_key = true }

-- The endings of credential names. A plain "_key" is not one: an
-- Idempotency-Key, a cache or partition key, the sandbox's X-Sandbox-Fault-Key
-- hold ids, and redacting them turned ids inside every URL into REDACTED.
local SECRET_ENDINGS = { "_token", "_secret", "_password", "api_key", "apikey", "access_key", "secret_key",
                         "private_key", "auth_key", "auth" }

--- True when a query param or header name looks like a credential's: one of
-- SECRET_NAMES, or ending in one of SECRET_ENDINGS (x_api_key, refresh_token).
local function secret_name(name)
  local n = name:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end):lower():gsub("-", "_")
  if SECRET_NAMES[n] then return true end
  for _, ending in ipairs(SECRET_ENDINGS) do
    if n:sub(-#ending) == ending then return true end
  end
  return false
end

--- Removes secrets from a URL for errors, logs and hooks: the userinfo
-- (user:password@, up to the last @ of the authority) and the values of
-- query params named like credentials.
local function redact(url)
  if url:find("@", 1, true) then
    url = url:gsub("^(%a[%w+.-]*://)([^/?#]*)", function(scheme, authority)
      return scheme .. (authority:match("^.*@(.*)$") or authority)
    end)
  end
  if not url:find("?", 1, true) then return url end
  return (url:gsub("([?&])([^=&#]+)=([^&#]*)", function(sep, key)
    if secret_name(key) then return sep .. key .. "=REDACTED" end
  end))
end

-- A secret shorter than this is replaced only where it stands alone (see
-- replace_plain): a short test token such as "t" must not turn every t of a
-- URL or a server's message into REDACTED.
local SHORT_SECRET = 8
local WORD_BYTE = "[%w%-._~+/=]" -- what a token is made of: a short secret inside a run of these is not one

--- s with every occurrence of the literal text needle replaced by REDACTED
-- (a short needle only where no token byte touches it on either side).
local function replace_plain(s, needle)
  local out, at, from, short = {}, 1, 1, #needle < SHORT_SECRET
  while true do
    local i, j = s:find(needle, from, true)
    if not i then break end
    if short and (s:sub(i - 1, i - 1):find(WORD_BYTE) or s:sub(j + 1, j + 1):find(WORD_BYTE)) then
      from = i + 1
    else
      out[#out + 1] = s:sub(at, i - 1)
      out[#out + 1] = "REDACTED"
      at, from = j + 1, j + 1
    end
  end
  if at == 1 then return s end
  out[#out + 1] = s:sub(at)
  return table.concat(out)
end

--- s with the client's secrets replaced by REDACTED (the longest first).
local function scrub(secrets, s)
  for _, secret in ipairs(secrets) do s = replace_plain(s, secret) end
  return s
end

--- Replaces the secrets in every string of a decoded answer, keys included,
-- at any depth (t is changed in place).
local function scrub_table(secrets, t, seen)
  seen = seen or {}
  if seen[t] then return end
  seen[t] = true
  local renamed
  for k, v in pairs(t) do
    if type(v) == "string" then t[k] = scrub(secrets, v)
    elseif type(v) == "table" then scrub_table(secrets, v, seen) end
    if type(k) == "string" then
      local clean = scrub(secrets, k)
      if clean ~= k then renamed = renamed or {}; renamed[k] = clean end
    end
  end
  for k, clean in pairs(renamed or {}) do t[clean], t[k] = t[k], nil end
end

M.base64, M.secret_name, M.redact, M.scrub, M.scrub_table = base64, secret_name, redact, scrub, scrub_table
return M
