-- Never silent, round two (the walks' part): `each` and `all` against
-- servers whose pages make no progress (fresh cursors over the same items or
-- over no items, items without an id on every page) or are not pages at all
-- (an empty answer, a number, `true`, an array, an object without a list).
-- A walk ends with InvalidResponse after a bounded number of requests; every
-- responder answers 404 after 200 requests, so that a walk that would go on
-- for ever fails in finite time. The server is the hostile helper (answers
-- written byte for byte).
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local hostile = require "helpers.hostile"

local APP = sandbox.app
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local TOKEN = "tok-hostile-pages-0123456789"
local STATES = { "future", "current", "past" }
local fail = sandbox.rejection

-- The head of every responder: the 404 bound, and the helpers it answers with.
local HEAD = [[
local hostile = require "helpers.hostile"
local function json(body) return hostile.answer(200, body, { "Content-Type: application/json" }) end
local function page_of(req) return tonumber(req.path:match("[?&]page=(%d+)") or "0") end
local function enough(n)
  if n > 200 then return hostile.answer(404, '{"type":"NotFound","message":"200 requests are enough"}') end
end
]]

--- A hostile server running the responder body (Lua statements ending in a
-- return of the answer, with req and n in scope) after the 404 bound.
local function serve(body)
  return hostile.start(HEAD .. "return function(req, n)\n  local over = enough(n)\n  if over then return over end\n"
    .. body .. "\nend\n")
end

--- A Losant list page of items (JSON text) claiming totalCount items in pages of two.
local function losant_page(items, total)
  return ([[return json(('{"items":%s,"count":2,"totalCount":%d,"perPage":2,"page":%%d}'):format(page_of(req)))]])
    :format(items, total)
end

local function losant(server) return eventapi.losant({ url = server.url, token = TOKEN }) end
local function monterosa(server) return eventapi.monterosa({ url = server.url .. "/api/v2", token = TOKEN }) end

--- What a walk gave: the items yielded before it stopped, and the error it stopped with (or nil).
local function walk(iterate)
  local items = {}
  local ok, err = pcall(function() for item in iterate() do items[#items + 1] = item end end)
  return items, not ok and err or nil
end

--- Asserts err is an InvalidResponse error object whose message holds text.
local function invalid_response(err, text)
  assert.is_true(eventapi.Error.is(err), "not an eventapi.Error: " .. tostring(err))
  assert.are.equal("InvalidResponse", err.type, tostring(err))
  if text then assert.truthy(err.message:find(text, 1, true), err.message) end
  return err
end

describe("a Monterosa walk over fresh cursors", function()
  local server
  after_each(function() if server then server.stop() end end)

  it("each ends with InvalidResponse on the second page in a row of items already seen", function()
    server = serve([[
  return json(('{"data":[{"id":"e1","type":"events","attributes":{"name":"a"}}],'
    .. '"links":{"next":"http://x/api/v2/projects/p/events?page[cursor]=c%d"}}'):format(n))]])
    local items, err = walk(function() return monterosa(server).events.each({ project_id = PROJECT, state = STATES }) end)
    invalid_response(err, "only items already seen")
    assert.are.equal(1, #items)
    assert.are.equal(3, #server.requests()) -- the first page, then two that bring nothing new
  end)

  it("all rejects with InvalidResponse on the second empty page in a row", function()
    server = serve([[
  return json(('{"data":[],"links":{"next":"http://x/api/v2/projects/p/events?page[cursor]=c%d"}}'):format(n))]])
    local err = fail(monterosa(server).events.all({ project_id = PROJECT, state = STATES }))
    invalid_response(err, "no items")
    assert.are.equal(2, #server.requests())
  end)

  it("follows one empty page with a next cursor and walks on to the end", function()
    server = serve([[
  if n == 1 then return json('{"data":[],"links":{"next":"http://x/e?page[cursor]=c1"}}') end
  if n == 2 then return json('{"data":[{"id":"e1","type":"events"}],"links":{"next":"http://x/e?page[cursor]=c2"}}') end
  return json('{"data":[{"id":"e2","type":"events"}],"links":{}}')]])
    local items = monterosa(server).events.all({ project_id = PROJECT, state = STATES }):await()
    assert.are.same({ "e1", "e2" }, { items[1].id, items[2].id })
    assert.are.equal(3, #server.requests())
  end)
end)

describe("a Losant walk over items without an id", function()
  local server
  after_each(function() if server then server.stop() end end)

  it("each ends with InvalidResponse on the second page in a row that repeats them", function()
    server = serve(losant_page('[{"name":"a"},{"name":"b"}]', 1000000))
    local items, err = walk(function() return losant(server).events.each({ applicationId = APP, perPage = 2 }) end)
    invalid_response(err, "only items already seen")
    assert.are.equal(4, #items) -- page 0, and page 1's repeats (they cannot be told from new equal items)
    assert.are.equal(3, #server.requests())
  end)

  it("all yields every one of them, equal ones included, when the pages make progress", function()
    server = serve([[
  local p = page_of(req)
  return json(('{"items":[{"n":%d},{"n":%d}],"count":2,"totalCount":6,"perPage":2,"page":%d}'):format(
    p == 2 and 9 or 2 * p, p == 2 and 9 or 2 * p + 1, p))]])
    local items = losant(server).events.all({ applicationId = APP, perPage = 2 }):await()
    assert.are.same({ 0, 1, 2, 3, 9, 9 }, { items[1].n, items[2].n, items[3].n, items[4].n, items[5].n, items[6].n })
  end)

  it("all yields every item whose id is null: null identifies nothing", function()
    server = serve([[
  return json('{"items":[{"id":null,"n":1},{"id":null,"n":2}],"count":2,"totalCount":2,"perPage":2,"page":0}')]])
    local items = losant(server).events.all({ applicationId = APP, perPage = 2 }):await()
    assert.are.equal(2, #items)
    assert.are.same({ 1, 2 }, { items[1].n, items[2].n })
  end)
end)

-- Answers that are not a list page: the body, and what the message says of it.
local NOT_PAGES = {
  { "an empty answer", "", "empty" },
  { "a number", "5", "a number" },
  { "true", "true", "empty or true" },
  { "an array", "[]", "an array" },
  { "an object whose items is a number", '{"items":5}', "items" },
  { "an object without items", '{"count":0}', "items" },
}

describe("a Losant list page that is not an object with an items list", function()
  local server
  after_each(function() if server then server.stop() end end)

  for _, case in ipairs(NOT_PAGES) do
    local what, body, says = case[1], case[2], case[3]
    local responder = ("return json(%q)"):format(body)

    it(("makes each raise InvalidResponse naming the call and the page when it is %s"):format(what), function()
      server = serve(responder)
      local items, err = walk(function() return losant(server).events.each({ applicationId = APP }) end)
      invalid_response(err, says)
      assert.truthy(err.message:find("events.get", 1, true), err.message)
      assert.truthy(err.message:find("page 0", 1, true), err.message)
      assert.are.equal("GET", err.method)
      assert.are.equal(0, #items)
    end)

    it(("names the URL of the page's request when it is %s"):format(what), function()
      server = serve(responder)
      local _, err = walk(function() return losant(server).events.each({ applicationId = APP, perPage = 5 }) end)
      assert.are.equal(server.url .. "/applications/" .. APP .. "/events?perPage=5", (err.url:gsub("_[%w_]+=%w+&", "")))
    end)

    it(("makes all reject with InvalidResponse, not ScriptError, when it is %s"):format(what), function()
      server = serve(responder)
      invalid_response(fail(losant(server).integrations.all({ applicationId = APP })), says)
    end)
  end
end)

describe("a Monterosa list answer that is not a JSON:API list", function()
  local server
  after_each(function() if server then server.stop() end end)

  for _, case in ipairs({ { "a number", "5" }, { "an array", "[]" }, { "an object whose data is a number", '{"data":5}' },
                          { "an object without data", '{"links":{}}' } }) do
    it(("makes all reject with InvalidResponse carrying status, method and url when it is %s"):format(case[1]), function()
      server = serve(("return json(%q)"):format(case[2]))
      local err = invalid_response(fail(monterosa(server).events.all({ project_id = PROJECT, state = STATES })))
      assert.truthy(err.message:find("events.list", 1, true), err.message)
      assert.are.equal(200, err.status)
      assert.are.equal("GET", err.method)
      assert.truthy(err.url:find(server.url .. "/api/v2/projects/" .. PROJECT .. "/events", 1, true), err.url)
    end)
  end

  it("makes each raise InvalidResponse when it is empty", function()
    server = serve([[return json("")]])
    local items, err = walk(function() return monterosa(server).events.each({ project_id = PROJECT, state = STATES }) end)
    invalid_response(err, "empty")
    assert.are.equal("GET", err.method)
    assert.are.equal(0, #items)
  end)
end)

describe("a list page whose items are not all objects", function()
  local server
  after_each(function() if server then server.stop() end end)

  for _, case in ipairs({ { "strings", '["a","b"]', "a string" }, { "arrays", '[["a"],["b"]]', "an array" },
                          { "numbers", "[1,2]", "a number" } }) do
    it(("makes a Losant all reject with InvalidResponse when they are %s"):format(case[1]), function()
      server = serve(losant_page(case[2], 2))
      local err = invalid_response(fail(losant(server).events.all({ applicationId = APP })), "item 1")
      assert.truthy(err.message:find(case[3], 1, true), err.message)
    end)
  end

  it("makes a Monterosa each raise InvalidResponse when one of them is a string", function()
    server = serve([[return json('{"data":[{"id":"a","type":"events","attributes":{}},"b"]}')]])
    local items, err = walk(function() return monterosa(server).events.each({ project_id = PROJECT, state = STATES }) end)
    invalid_response(err, "item 2")
    assert.are.equal(0, #items)
  end)
end)
