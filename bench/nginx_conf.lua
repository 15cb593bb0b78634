--- Fills bench/nginx.conf.in: @PREFIX@, @PORT@ and @POST_REPLY@ (the text of
-- a file, carried in a single-quoted nginx string).
-- Usage: lua5.4 bench/nginx_conf.lua TEMPLATE OUT PREFIX PORT POST_REPLY_FILE
local tpl, out, prefix, port, replyfile = table.unpack(arg, 1, 5)
assert(replyfile, "usage: nginx_conf.lua TEMPLATE OUT PREFIX PORT POST_REPLY_FILE")

--- Reads a whole file.
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local reply = slurp(replyfile)
assert(not reply:find("[$\\']"), "the POST reply must hold no quote, dollar or backslash")
local text = slurp(tpl)
  :gsub("@PREFIX@", function() return prefix end)
  :gsub("@PORT@", function() return port end)
  :gsub("@POST_REPLY@", function() return reply end)
local f = assert(io.open(out, "wb"))
assert(f:write(text))
assert(f:close())
