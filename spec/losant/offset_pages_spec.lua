-- Walking a Losant list that pages by limit and offset (data table rows):
-- the next offset is this one plus the items it brought, limit is the page
-- size and goes out with every page, and a server repeating an offset or
-- bringing nothing new ends the walk with InvalidResponse. The server is
-- the hostile helper, answering from a table of 7 rows.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local hostile = require "helpers.hostile"

local APP, TABLE = sandbox.app, "5d9b5dd16c3a2b0006a9f9d0"

local HEAD = [[
local hostile = require "helpers.hostile"
local function json(body) return hostile.answer(200, body, { "Content-Type: application/json" }) end
local function num(req, name, default) return tonumber(req.path:match("[?&]" .. name .. "=(%d+)") or default) end
local function rows(offset, limit, total)
  local items = {}
  for i = offset + 1, math.min(offset + limit, total) do items[#items + 1] = ('{"id":"row%d"}'):format(i) end
  return ('{"items":[%s],"count":%d,"totalCount":%d,"limit":%d,"offset":%d}')
    :format(table.concat(items, ","), #items, total, limit, offset)
end
]]

local function serve(body)
  return hostile.start(HEAD .. "return function(req, n)\n  if n > 50 then return hostile.answer(404, '{}') end\n"
    .. body .. "\nend\n")
end

local function ids(list)
  local out = {}
  for i, item in ipairs(list) do out[i] = item.id end
  return out
end

describe("a walk of an offset-paged Losant list", function()
  local server
  after_each(function() if server then server.stop() end end)

  it("yields every row once, asking for each next offset", function()
    server = serve([[return json(rows(num(req, "offset", 0), num(req, "limit", 1000), 7))]])
    local client = eventapi.losant({ url = server.url, token = "t" })
    local all = client.dataTableRows.all({ applicationId = APP, dataTableId = TABLE, limit = 3 }):await()
    assert.are.same({ "row1", "row2", "row3", "row4", "row5", "row6", "row7" }, ids(all))
    local offsets = {}
    for _, line in ipairs(server.requests()) do offsets[#offsets + 1] = line:match("offset=(%d+)") or "-" end
    assert.are.same({ "-", "3", "6" }, offsets)
  end)

  it("sends limit, the page size, with every page", function()
    server = serve([[return json(rows(num(req, "offset", 0), num(req, "limit", 1000), 5))]])
    local client = eventapi.losant({ url = server.url, token = "t" })
    client.dataTableRows.all({ applicationId = APP, dataTableId = TABLE, limit = 2 }):await()
    local requests = server.requests()
    assert.are.equal(3, #requests)
    for _, line in ipairs(requests) do assert.truthy(line:find("&limit=2", 1, true), line) end
  end)

  it("stops after a short page without asking for another", function()
    server = serve([[return json((rows(num(req, "offset", 0), num(req, "limit", 1000), 4):gsub('"totalCount":4', '"totalCount":null')))]])
    local client = eventapi.losant({ url = server.url, token = "t" })
    local all = client.dataTableRows.all({ applicationId = APP, dataTableId = TABLE, limit = 5 }):await()
    assert.are.equal(4, #all)
    assert.are.equal(1, #server.requests())
  end)

  it("ends with InvalidResponse when the server sends the same rows at every offset", function()
    server = serve([[return json(rows(0, 3, 100))]])
    local client = eventapi.losant({ url = server.url, token = "t" })
    local err = sandbox.rejection(client.dataTableRows.all({ applicationId = APP, dataTableId = TABLE, limit = 3 }))
    assert.are.equal("InvalidResponse", err.type)
    assert.truthy(err.message:find("dataTableRows.get", 1, true), err.message)
    assert.truthy(#server.requests() <= 4, #server.requests())
  end)
end)
