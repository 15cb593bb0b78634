--- Walking every page of a list call: `client.<resource>.each{...}` (an
-- iterator for a generic for) and `client.<resource>.all{...}` (a promise of
-- every item). Losant lists page by `page`/`perPage`; Monterosa lists follow
-- the cursor of `links.next`. The next page is fetched while the caller
-- works on the current one. `limit` (not sent) stops after that many items.
local core = require "eventapi.core"
local Error = require "eventapi.errors"
local Progress = require "eventapi.progress"
local promise = require "eventapi.promise"

local M = {}

--- Copies params without limit and progress; returns the copy, limit, progress.
local function split(params, name)
  if params ~= nil and type(params) ~= "table" then Error.raise("InvalidParams", "%s: params must be a table", name) end
  local copy = {}
  for k, v in pairs(params or {}) do copy[k] = v end
  local limit, progress = copy.limit, copy.progress
  copy.limit, copy.progress = nil, nil
  if limit ~= nil and (type(limit) ~= "number" or math.tointeger(limit) == nil or limit < 0) then
    Error.raise("InvalidParams", "%s: limit must be a whole number >= 0, not %s", name, tostring(limit))
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
  local number = math.tointeger(page.page) or params.page or 0
  local per = math.tointeger(page.perPage) or params.perPage or 100
  local count = #(page.items or {})
  if count == 0 or count < per then return nil end
  if math.type(page.totalCount) == "integer" and (number + 1) * per >= page.totalCount then return nil end
  local p = {}
  for k, v in pairs(params) do p[k] = v end
  p.page = number + 1
  return p
end

--- Raises InvalidResponse: the server's pages would make the walk loop.
local function looping(name, fmt, ...)
  error(Error.new({ type = "InvalidResponse", message = name .. ": " .. fmt:format(...) }), 0)
end

--- Checks a page against the walk so far (pages: the numbers or cursors seen,
-- seen: the ids seen) before its items are used: a repeated page number, a
-- cursor already followed, or pages of only known ids while more are
-- claimed would make the walk go on for ever. One such page can be honest
-- (items added at the front while walking shift offset pages); two in a row
-- are refused.
local function check_page(name, style, page, asked, pages, seen, following)
  if style == "cursor" then
    local cursor = page.next_cursor
    if cursor ~= nil then
      if pages[cursor] or cursor == asked.cursor then
        looping(name, "the server sent the cursor %q again: the pages would repeat for ever", tostring(cursor))
      end
      pages[cursor] = true
    end
    return
  end
  local number = math.tointeger(page.page) or asked.page or 0
  if pages[number] then
    looping(name, "the server sent page %s again: the pages would repeat for ever", tostring(number))
  end
  pages[number] = true
  if following and #(page.items or {}) > 0 then
    for _, item in ipairs(page.items) do
      if type(item) ~= "table" or item.id == nil or not seen[item.id] then
        pages.stale = 0
        return
      end
    end
    pages.stale = (pages.stale or 0) + 1
    if pages.stale >= 2 then
      looping(name, "pages %d and %s hold only items already seen while the server claims more: the pages "
        .. "would repeat for ever", number - 1, tostring(number))
    end
  end
end

--- client.<resource>.each{params..., limit =, progress =} -> iterator over every
-- item of every page, each item once (an id already seen is skipped: items
-- added while walking shift offset pages). Raises the error object of a
-- failed page, and InvalidResponse when the server's pages would loop (a
-- page number or cursor sent twice, a page of only known ids while more are
-- claimed). Implemented by pages.each(fetch, op, params).
function M.each(fetch, op, params)
  local limit, progress
  params, limit, progress = split(params, op.name)
  local style = op.pages
  local pending = limit ~= 0 and fetch(params) or nil
  local asked = params
  local items, i, seen, count, bar, pages = nil, 0, {}, 0, nil, {}
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
        local following = next_params(style, asked, page)
        check_page(op.name, style, page, asked, pages, seen, following)
        if limit then -- exact: the items not seen yet decide whether another page is due
          local fresh = 0
          for _, item in ipairs(page.items or {}) do
            if type(item) ~= "table" or item.id == nil or not seen[item.id] then fresh = fresh + 1 end
          end
          if count + fresh >= limit then following = nil end
        end
        pending, asked = following and fetch(following) or nil, following
        if pending then pending:catch(function() end) end -- a page the caller never reaches is not "unhandled"
        items, i = page.items or {}, 0
        if not bar then bar = Progress.new(op.name, math.tointeger(page.totalCount), progress) end
      end
      i = i + 1
      local item = items[i]
      if item == nil then
        items = nil
      else
        local id = type(item) == "table" and item.id or nil
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
-- item (up to limit). Implemented by pages.all(fetch, op, params, cb).
function M.all(fetch, op, params, cb)
  local p = promise.spawn(function()
    local list = setmetatable({}, core.array)
    for item in M.each(fetch, op, params) do list[#list + 1] = item end
    return list
  end)
  if cb ~= nil then promise.attach_callback(p, cb) end
  return p
end

return M
