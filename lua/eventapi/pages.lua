--- Walking every page of a list call: `client.<resource>.each{...}` (an
-- iterator for a generic for) and `client.<resource>.all{...}` (a promise of
-- every item). Losant lists page by `page`/`perPage`; Monterosa lists follow
-- the cursor of `links.next`. The next page is fetched while the caller
-- works on the current one. `limit` (not sent) stops after that many items.
local core = require "eventapi.core"
local Progress = require "eventapi.progress"

local M = {}

--- Copies params without limit and progress; returns the copy, limit, progress.
local function split(params, name)
  if params ~= nil and type(params) ~= "table" then error(name .. ": params must be a table", 3) end
  local copy = {}
  for k, v in pairs(params or {}) do copy[k] = v end
  local limit, progress = copy.limit, copy.progress
  copy.limit, copy.progress = nil, nil
  if limit ~= nil and (math.type(limit) ~= "integer" or limit < 0) then
    error(name .. ": limit must be an integer >= 0", 3)
  end
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

--- client.<resource>.each{params..., limit =, progress =} -> iterator over every
-- item of every page, each item once (an id already seen is skipped: items
-- added while walking shift offset pages). Raises the error object of a
-- failed page. Implemented by pages.each(fetch, op, params).
function M.each(fetch, op, params)
  local limit, progress
  params, limit, progress = split(params, op.name)
  local style = op.pages
  local pending = fetch(params)
  local asked = params
  local items, i, seen, count, bar = nil, 0, {}, 0, nil
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
        if limit and count + #(page.items or {}) >= limit then following = nil end
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
  local eventapi = require "eventapi"
  local p = eventapi.spawn(function()
    local list = setmetatable({}, core.array)
    for item in M.each(fetch, op, params) do list[#list + 1] = item end
    return list
  end)
  if cb ~= nil then p:next(function(v) cb(nil, v) end, function(e) cb(e, nil) end) end
  return p
end

return M
