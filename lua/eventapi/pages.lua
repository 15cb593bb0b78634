--- Walking every page of a list call: `client.<resource>.each{...}` (an
-- iterator for a generic for) and `client.<resource>.all{...}` (a promise of
-- every item). Losant lists page by `page`/`perPage`; Monterosa lists follow
-- the cursor of `links.next`; Losant's data table rows by `limit`/`offset`
-- (there `limit` is the page size, sent, and a walk has no cap). The next page is fetched while the caller
-- works on the current one. `limit` (not sent) stops after that many items.
-- What a walk refuses is said in the doc comment of M.each (docs/API.md),
-- README.md ("Hostile answers stay harmless") and docs/PROTOCOLS.md (1.9,
-- 3.7): keep them in step.
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local Progress = require "eventapi.progress"
local promise = require "eventapi.promise"

local M = {}

-- How many pages in a row may bring no new item while the server claims
-- more: one can be honest (items added at the front while walking shift
-- offset pages by a whole page; a cursor server may send one empty page).
local STALE_PAGES = 2

--- Copies params without limit and progress; returns the copy, limit, progress.
local function split(params, name, style)
  if params ~= nil and type(params) ~= "table" then Error.raise("InvalidParams", "%s: params must be a table", name) end
  local copy = {}
  for k, v in pairs(params or {}) do copy[k] = v end
  local limit, progress = copy.limit, copy.progress
  if style == "offset" then limit = nil else copy.limit = nil end -- an offset list's limit is its page size, sent
  copy.progress = nil
  if limit ~= nil and (type(limit) ~= "number" or math.tointeger(limit) == nil or limit < 0) then
    Error.raise("InvalidParams", "%s: limit must be a whole number >= 0, not %s", name, Error.show(limit))
  end
  limit = limit and math.tointeger(limit)
  return copy, limit, progress
end

--- The params of the page after `page` (answered to `params`), or nil on the last page.
local function next_params(style, params, page)
  if style == "cursor" then
    if not page.next_cursor then return nil end
    local p = {}
    for k, v in pairs(params) do p[k] = v end
    p.cursor = page.next_cursor
    return p
  end
  if style == "offset" then -- limit/offset: the next offset is this one plus the items it brought
    local count = #page.items
    local per = math.tointeger(page.limit) or math.tointeger(params.limit)
    local offset = (math.tointeger(page.offset) or math.tointeger(params.offset) or 0) + count
    if count == 0 or (per and count < per) then return nil end
    if math.type(page.totalCount) == "integer" and offset >= page.totalCount then return nil end
    local p = {}
    for k, v in pairs(params) do p[k] = v end
    p.offset = offset
    return p
  end
  local number = math.tointeger(page.page) or params.page or 0
  local per = math.tointeger(page.perPage) or params.perPage or 100
  local count = #page.items
  if count == 0 or count < per then return nil end
  if math.type(page.totalCount) == "integer" and (number + 1) * per >= page.totalCount then return nil end
  local p = {}
  for k, v in pairs(params) do p[k] = v end
  p.page = number + 1
  return p
end

--- The id an item is known by: its `id` when that is a string or a number, else nil.
local function id_of(item)
  if type(item) ~= "table" then return nil end
  local id = item.id
  if type(id) == "string" or (type(id) == "number" and id == id) then return id end
  return nil
end

--- The page the walk asked for, as messages name it: its number, or for a
-- cursor walk its place in the walk (never the server's cursor text, which
-- could carry anything).
local function label(walk, asked)
  if walk.style == "cursor" then return ("page %d of the walk"):format(walk.count) end
  if walk.style == "offset" then return "the page at offset " .. tostring(asked.offset or 0) end
  return "page " .. tostring(asked.page or 0)
end

--- Raises InvalidResponse for the page asked with params `asked`: method and
-- url of its request when the client gave `where`.
local function refuse(walk, asked, fmt, ...)
  local e = { type = "InvalidResponse", message = walk.op.name .. ": " .. fmt:format(...), method = walk.op.method }
  if walk.where then
    local ok, at = pcall(walk.where, asked)
    if ok and type(at) == "table" then e.method, e.url = at.method or e.method, at.url end
  end
  error(Error.new(e), 0)
end

--- What a value is, for a message about a page that is not one.
local function kind(v)
  if v == true then return "empty or true" end
  if type(v) == "table" then return getmetatable(v) == core.array and "an array" or "an object" end
  if v == core.null then return "null" end
  return "a " .. type(v)
end

--- Raises InvalidResponse unless page is a JSON object with a list of
-- items, each of them an object.
local function check_shape(walk, page, asked)
  local items = type(page) == "table" and getmetatable(page) ~= core.array and page.items
  if type(items) == "table" and getmetatable(items) == core.array then
    for i, item in ipairs(items) do
      if type(item) ~= "table" or getmetatable(item) == core.array then
        refuse(walk, asked, "item %d of the answer for %s is %s, not a JSON object", i, label(walk, asked), kind(item))
      end
    end
    return
  end
  local what = kind(page)
  if what == "an object" then
    what = page.items == nil and "an object without items" or ("an object whose items is " .. kind(page.items))
  end
  refuse(walk, asked, "the answer for %s is %s, not a JSON object with a list of items", label(walk, asked), what)
end

--- Checks a page against the walk so far before its items are used: a
-- repeated page number, a cursor already followed, or a second page in a
-- row bringing no new item while more are claimed would make the walk go on
-- for ever (one such page can be honest). Returns how many of its items the
-- walk will yield (ids not seen yet, and every item without an id).
local function check_page(walk, page, asked, following)
  local pages, seen = walk.pages, walk.seen
  if walk.style == "cursor" then
    local cursor = page.next_cursor
    if cursor ~= nil then
      if pages[cursor] or cursor == asked.cursor then
        refuse(walk, asked, "for %s the server sent as next cursor %s: the pages would repeat for ever",
          label(walk, asked), cursor == asked.cursor and "the cursor it was asked with" or "a cursor it had sent before")
      end
      pages[cursor] = true
    end
  else
    local number = walk.style == "offset" and (math.tointeger(asked.offset) or 0)
      or math.tointeger(page.page) or asked.page or 0
    if pages[number] then
      refuse(walk, asked, "the server sent page %s again: the pages would repeat for ever", tostring(number))
    end
    pages[number] = true
  end
  local fresh, new, here, texts = 0, 0, {}, walk.texts
  for _, item in ipairs(page.items) do
    local id = id_of(item)
    if id == nil then -- yielded, but known by its text for the progress count
      fresh = fresh + 1
      local text = core.json_encode(item)
      if not texts[text] then texts[text], new = true, new + 1 end
    elseif not seen[id] and not here[id] then
      here[id], fresh, new = true, fresh + 1, new + 1
    end
  end
  if not following then return fresh end
  if new > 0 then
    walk.stale = 0
    return fresh
  end
  walk.stale = walk.stale + 1
  if walk.stale >= STALE_PAGES then
    refuse(walk, asked, "%s, after another page with no new item, brings %s while the server claims more: "
      .. "the walk would go on for ever", label(walk, asked),
      #page.items == 0 and "no items" or "only items already seen")
  end
  return fresh
end

--- client.<resource>.each{params..., limit =, progress =} -> iterator over every
-- item of every page, each item once: an item is known by its `id` (a string
-- or a number) and an id already seen is skipped (items added while walking
-- shift offset pages); an item without one (absent, null, an object) is always
-- yielded, as two equal ones may be two real items. Raises the error object of
-- a failed page, and InvalidResponse (nothing more is fetched) for: a page
-- that is not a JSON object with a list of objects (Losant's `items`,
-- Monterosa's `data`), such as an empty answer, `5`, `true`, an array,
-- `{"items": 5}` or `{"items": ["a"]}`; a page number or a cursor the server already sent, or the
-- cursor the walk started from; a second page in a row that brings no new
-- item (no items, or only ids already seen and id-less items whose JSON text
-- was seen before) while the server claims more (a full Losant page short of
-- `totalCount`, a Monterosa `links.next`). Implemented by pages.each(fetch,
-- op, params, where): where(params), when the client gives it, names the
-- method and url of a page's request in these errors.
function M.each(fetch, op, params, where)
  local limit, progress
  params, limit, progress = split(params, op.name, op.pages)
  local walk = { op = op, style = op.pages, where = where, pages = {}, seen = {}, texts = {}, stale = 0, count = 0 }
  local pending = limit ~= 0 and fetch(params) or nil
  local asked = params
  local items, i, seen, count, bar = nil, 0, walk.seen, 0, nil
  return function()
    while true do
      if limit and count >= limit then
        if bar then bar:finish() end
        return nil
      end
      if items == nil then
        if pending == nil then
          if bar then bar:finish() end
          return nil
        end
        local page = pending:await()
        walk.count = walk.count + 1
        check_shape(walk, page, asked)
        local following = next_params(walk.style, asked, page)
        local fresh = check_page(walk, page, asked, following)
        if limit then -- exact: the items not seen yet decide whether another page is due
          if count + fresh >= limit then following = nil end
        end
        pending, asked = following and fetch(following) or nil, following
        if pending then pending:catch(function() end) end -- a page the caller never reaches is not "unhandled"
        items, i = page.items, 0
        if not bar then bar = Progress.new(op.name, math.tointeger(page.totalCount), progress) end
      end
      i = i + 1
      local item = items[i]
      if item == nil then
        items = nil
      else
        local id = id_of(item)
        if id == nil or not seen[id] then
          if id ~= nil then seen[id] = true end
          count = count + 1
          bar:step(false)
          return item
        end
      end
    end
  end
end

--- client.<resource>.all({params..., limit =}, [cb]) -> promise of the list of every
-- item (up to limit); rejects as each raises. Implemented by
-- pages.all(fetch, op, params, cb, where).
function M.all(fetch, op, params, cb, where)
  local p = promise.spawn(function()
    local list = setmetatable({}, core.array)
    for item in M.each(fetch, op, params, where) do list[#list + 1] = item end
    return list
  end)
  if cb ~= nil then promise.attach_callback(p, cb) end
  return p
end

return M
