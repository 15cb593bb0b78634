-- Man pages of the two commands, written on stdout (make man; make install
-- puts them in share/man/man1):
--
--   lua5.4 tools/genman.lua eventapi > eventapi.1
--   lua5.4 tools/genman.lua eventapi-sandbox SANDBOX_BINARY sandbox/README.md > eventapi-sandbox.1
--
-- eventapi.1 is the text of `eventapi --help` (cli.help(), built from the
-- registry of the services, eventapi.services), cut into sections at its
-- headings.
-- eventapi-sandbox.1 is the usage line the binary prints for --help, the
-- first paragraph of sandbox/README.md, its flag table and the paragraphs
-- after it. Needs eventapi on LUA_PATH/LUA_CPATH (the Makefile exports them).
local eventapi = require "eventapi"

--- Text escaped for roff: backslashes, dashes (so options copy as ASCII),
-- and a leading dot or quote that would read as a request.
local function esc(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  if s:match("^[.']") then s = "\\&" .. s end
  return s
end

--- Markdown inline text to roff: `code` in bold, [text](link) as its text.
local function inline(s)
  s = s:gsub("%[([^%]]+)%]%b()", "%1")
  local out = {}
  local pos = 1
  for before, code, after in s:gmatch("()`([^`]*)`()") do
    out[#out + 1] = esc(s:sub(pos, before - 1))
    out[#out + 1] = "\\fB" .. esc(code) .. "\\fR"
    pos = after
  end
  out[#out + 1] = esc(s:sub(pos))
  return table.concat(out)
end

local function header(name, title)
  return {
    ('.TH %s 1 "" "eventapi %s" "User Commands"'):format(name:upper():gsub("%-", "\\-"), eventapi.version),
    ".SH NAME",
    esc(name) .. " \\- " .. esc(title),
  }
end

--- Lines of text split into blocks at blank lines.
local function blocks_of(text)
  local blocks, current = {}, {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    if line:match("^%s*$") then
      if #current > 0 then blocks[#blocks + 1] = current; current = {} end
    else
      current[#current + 1] = line
    end
  end
  if #current > 0 then blocks[#blocks + 1] = current end
  return blocks
end

local function preformatted(out, lines, from)
  out[#out + 1] = ".nf"
  for i = from or 1, #lines do out[#out + 1] = esc(lines[i]) end
  out[#out + 1] = ".fi"
end

--- "Losant, Connect Daily and Monterosa": the services' titles, from the registry.
local function titles_text()
  local titles = {}
  for _, service in ipairs(require("eventapi.services").list) do titles[#titles + 1] = service.title end
  return table.concat(titles, ", ", 1, #titles - 1) .. " and " .. titles[#titles]
end

local function eventapi_page()
  local help = require("eventapi.cli").help()
  local out = header("eventapi", ("call the %s event APIs, or run a runbook"):format(titles_text()))
  local blocks = blocks_of(help)
  out[#out + 1] = ".SH SYNOPSIS"
  local usage = table.remove(blocks, 1)
  out[#out + 1] = ".nf"
  for _, line in ipairs(usage) do
    out[#out + 1] = esc((line:gsub("^usage:%s*", ""):gsub("^%s+", "")))
  end
  out[#out + 1] = "eventapi env"
  out[#out + 1] = ".fi"
  out[#out + 1] = ".SH DESCRIPTION"
  out[#out + 1] = "The command line of the eventapi Lua library: one call of a service, its"
  out[#out + 1] = "flags named after the call's params, the result printed as JSON; or a"
  out[#out + 1] = "runbook (a Lua script) run with its clients configured from the environment."
  out[#out + 1] = "What follows is the text of"
  out[#out + 1] = ".BR \"eventapi \\-\\-help\" ."
  for _, block in ipairs(blocks) do
    local heading = block[1]:match("^(%l[^:]*):$")
    if heading then
      out[#out + 1] = ".SS " .. esc(heading)
      preformatted(out, block, 2)
    elseif block[1]:match("^%s") then
      preformatted(out, block)
    else
      out[#out + 1] = ".PP"
      for _, line in ipairs(block) do out[#out + 1] = esc(line) end
    end
  end
  out[#out + 1] = ".SS env"
  out[#out + 1] = ".B eventapi env"
  out[#out + 1] = "prints shell exports of LUA_PATH and LUA_CPATH naming the Lua modules and"
  out[#out + 1] = "the core this command runs, so that plain"
  out[#out + 1] = ".B lua5.4 script.lua"
  out[#out + 1] = "finds the same library:"
  out[#out + 1] = ".nf"
  out[#out + 1] = esc('eval "$(eventapi env)"')
  out[#out + 1] = ".fi"
  out[#out + 1] = ".SH FILES"
  out[#out + 1] = "The command finds the library of its own installation from its real path"
  out[#out + 1] = "(symlinks resolved): PREFIX/share/lua/5.4/eventapi and PREFIX/lib/lua/5.4/eventapi"
  out[#out + 1] = "for PREFIX/bin/eventapi, or lua/ and build/ of a source checkout."
  out[#out + 1] = ".SH SEE ALSO"
  out[#out + 1] = ".BR eventapi\\-sandbox (1)"
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

--- The cells of a Markdown table row, or nil.
local function cells(line)
  if not line:match("^|.*|%s*$") then return nil end
  local list = {}
  for cell in line:gsub("%s*|%s*$", ""):gsub("^|", ""):gmatch("[^|]+") do
    list[#list + 1] = cell:match("^%s*(.-)%s*$")
  end
  return list
end

local function sandbox_page(binary, readme_path)
  local quoted = "'" .. binary:gsub("'", "'\\''") .. "'"
  local p = assert(io.popen(quoted .. " --help 2>&1"))
  local usage = p:read("a")
  p:close()
  assert(usage:match("^usage: "), "unexpected --help output of " .. binary .. ": " .. usage)
  local readme = read(readme_path)
  local out = header("eventapi-sandbox", "a local server that answers like the Losant, Connect Daily and Monterosa event APIs")
  out[#out + 1] = ".SH SYNOPSIS"
  out[#out + 1] = ".nf"
  for line in usage:gmatch("[^\n]+") do
    out[#out + 1] = esc((line:gsub("^usage: ", "")))
  end
  out[#out + 1] = ".fi"

  -- The README's blocks: the first paragraph, the flag table (the table
  -- whose header is "flag | meaning") and the paragraphs after it up to the
  -- next heading.
  local blocks = blocks_of(readme)
  local intro, flags, after = nil, nil, {}
  for i, block in ipairs(blocks) do
    if not intro and not block[1]:match("^#") and not block[1]:match("^|") then intro = block end
    local head = cells(block[1])
    if head and head[1] == "flag" then
      flags = block
      for j = i + 1, #blocks do
        if blocks[j][1]:match("^#") then break end
        after[#after + 1] = blocks[j]
      end
      break
    end
  end
  assert(intro and flags, readme_path .. " has no first paragraph or no flag table")

  out[#out + 1] = ".SH DESCRIPTION"
  for _, line in ipairs(intro) do out[#out + 1] = inline(line) end
  out[#out + 1] = ".SH OPTIONS"
  for k = 3, #flags do
    local row = cells(flags[k])
    if row and #row >= 2 then
      out[#out + 1] = ".TP"
      out[#out + 1] = inline(row[1])
      out[#out + 1] = inline(row[2])
    end
  end
  for _, block in ipairs(after) do
    out[#out + 1] = ".PP"
    for _, line in ipairs(block) do out[#out + 1] = inline(line) end
  end
  out[#out + 1] = ".SH EXAMPLE"
  out[#out + 1] = ".nf"
  out[#out + 1] = esc("eventapi-sandbox --listen 127.0.0.1:0 --seed seed.json --record")
  out[#out + 1] = esc("listening on http://127.0.0.1:40123")
  out[#out + 1] = ".fi"
  out[#out + 1] = ".SH SEE ALSO"
  out[#out + 1] = ".BR eventapi (1);"
  out[#out + 1] = "sandbox/README.md in the eventapi sources (the seed format, the request"
  out[#out + 1] = "record, fault injection and each service's behaviour)."
  return out
end

local which = arg[1]
local page
if which == "eventapi" then
  page = eventapi_page()
elseif which == "eventapi-sandbox" and arg[2] and arg[3] then
  page = sandbox_page(arg[2], arg[3])
else
  io.stderr:write("usage: lua5.4 tools/genman.lua eventapi | eventapi-sandbox SANDBOX_BINARY README.md\n")
  os.exit(2)
end
io.write(table.concat(page, "\n"), "\n")
