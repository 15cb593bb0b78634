-- core.schemas(lookup): sets of named schema documents, as Losant's are: a
-- "#/definitions/<Name>" that does not resolve inside its own document names
-- the set's document <Name>. Small hand-written sets first (every machine),
-- then Losant's 249 published files, read from EVENTAPI_LOSANT_SCHEMAS or
-- /tmp/lr/node_modules/losant-rest/lib/schemas (pending when neither is there).
local core = require "eventapi.core"

-- A set over the table docs (name -> text); calls counts the lookups of each name.
local function set_of(docs, calls)
  calls = calls or {}
  return core.schemas(function(name)
    calls[name] = (calls[name] or 0) + 1
    return docs[name]
  end), calls
end

local refusal = require("helpers.internals").refusal

local QUERY = [[{"type":"object","additionalProperties":false,"properties":{
  "$and":{"type":"array","items":{"$ref":"#/definitions/query"}},
  "$or":{"type":"array","items":{"$ref":"#/definitions/query"}},
  "$nor":{"type":"array","items":{"$ref":"#/definitions/query"}},
  "level":{"oneOf":[{"type":["string","number"]},
    {"type":"object","additionalProperties":false,"properties":{"$ne":{"type":["string","number"]}}}]}}}]]

describe("core.schemas", function()
  it("resolves #/definitions/<Name> to the set's document <Name>, itself included", function()
    local set = set_of({ query = QUERY })
    assert.is_true(set:validate("query", [[{"$or":[{"level":"info"},{"$nor":[{"level":{"$ne":5}}]}]}]]))
    assert.are.same({ false, "/$or/1/$nor/0/level/$ne: must be a number or a string, not an array" ..
      " (no oneOf schema matches; closest is oneOf/1)" },
      { set:validate("query", [[{"$or":[{"level":"info"},{"$nor":[{"level":{"$ne":[]}}]}]}]]) })
  end)

  it("resolves across documents, each compiled once and shared", function()
    local set, calls = set_of({
      query = QUERY,
      export = [[{"type":"object","required":["query"],"properties":{"query":{"$ref":"#/definitions/query"},
        "again":{"$ref":"#/definitions/query"}}}]],
    })
    assert.is_true(set:validate("export", [[{"query":{"$and":[{"level":1}]},"again":{}}]]))
    assert.are.same({ false, "/query/$and/0: property 'levle' is not allowed" },
      { set:validate("export", [[{"query":{"$and":[{"levle":1}]}}]]) })
    assert.is_true(set:validate("query", "{}"))
    assert.are.same({ export = 1, query = 1 }, calls)
  end)

  it("keeps a $ref that resolves inside its own document there, before any document so named", function()
    local set, calls = set_of({
      level = [[{"enum":["not","this"]}]],
      event = [[{"properties":{"level":{"$ref":"#/definitions/level"}},"definitions":{"level":{"enum":["info"]}}}]],
    })
    assert.is_true(set:validate("event", [[{"level":"info"}]]))
    assert.are.same({ false, "/level: must be info" }, { set:validate("event", [[{"level":"this"}]]) })
    assert.is_nil(calls.level)
  end)

  it("resolves #/definitions/<Name>/<pointer> inside the document <Name>", function()
    local set = set_of({
      place = [[{"properties":{"city":{"type":"string","maxLength":3}}}]],
      event = [[{"properties":{"city":{"$ref":"#/definitions/place/properties/city"}}}]],
    })
    assert.is_true(set:validate("event", [[{"city":"Rio"}]]))
    assert.are.same({ false, "/city: must be at most 3 characters, not 5" }, { set:validate("event", [[{"city":"Paris"}]]) })
  end)

  it("follows a cycle across documents (a to b to a), bounded as any recursion", function()
    local set = set_of({
      a = [[{"type":"object","properties":{"b":{"$ref":"#/definitions/b"},"n":{"type":"integer"}}}]],
      b = [[{"type":"object","required":["a"],"properties":{"a":{"$ref":"#/definitions/a"}}}]],
    })
    assert.is_true(set:validate("a", [[{"b":{"a":{"b":{"a":{"n":1}}}}}]]))
    assert.are.same({ false, "/b/a/b/a/n: must be an integer, not 1.5" },
      { set:validate("a", [[{"b":{"a":{"b":{"a":{"n":1.5}}}}}]]) })
    assert.are.same({ false, "/a/b/a/b: missing required property 'a'" }, { set:validate("b", [[{"a":{"b":{"a":{"b":{}}}}}]]) })
    local deep = string.rep('{"b":{"a":', 499) .. "{}" .. string.rep("}}", 499)
    assert.is_true(set:validate("a", deep))
  end)

  it("refuses a cycle across documents that never goes into the value", function()
    local set = set_of({
      a = [[{"allOf":[{"$ref":"#/definitions/b"}]}]],
      b = [[{"anyOf":[{"type":"string"},{"$ref":"#/definitions/a"}]}]],
    })
    local message = refusal(set.validate, set, "a", "1")
    assert.truthy(message:find("$ref loop", 1, true), message)
    assert.truthy(message:find("b#", 1, true) and message:find("#/anyOf/1", 1, true), message)
  end)

  it("refuses a $ref that resolves nowhere, naming the document and the ref", function()
    local set = set_of({ event = [[{"properties":{"q":{"items":{"$ref":"#/definitions/nope"}}}}]], place = "{}" })
    assert.are.equal('invalid schema: event#/properties/q/items/$ref: "#/definitions/nope" does not resolve, ' ..
      'and the set has no schema document "nope"', refusal(set.validate, set, "event", "{}"))
    set = set_of({ event = [[{"properties":{"q":{"$ref":"#/definitions/place/properties/zip"}}}]], place = "{}" })
    assert.are.equal('invalid schema: event#/properties/q/$ref: "#/definitions/place/properties/zip" does not resolve ' ..
      'in the schema document "place"', refusal(set.validate, set, "event", "{}"))
    set = set_of({ event = [[{"properties":{"q":{"$ref":"#/properties/nope"}}}]] })
    assert.are.equal('invalid schema: event#/properties/q/$ref: "#/properties/nope" does not resolve',
      refusal(set.validate, set, "event", "{}"))
  end)

  it("still refuses the same ref in a schema compiled alone", function()
    assert.are.equal('invalid schema: #/$ref: "#/definitions/query" does not resolve',
      refusal(core.schema, [[{"$ref":"#/definitions/query"}]]))
  end)

  it("raises InvalidParams for a name it has no document for", function()
    local set, calls = set_of({})
    assert.are.equal('the set has no schema document "eventPost"', refusal(set.validate, set, "eventPost", "{}"))
    assert.are.equal('the set has no schema document "eventPost"', refusal(set.validate, set, "eventPost", "{}"))
    assert.are.same({ eventPost = 1 }, calls)
  end)

  it("names the document of bad JSON, of a refused keyword, of a broken part", function()
    local set = set_of({
      bad = [[{"type":]],
      kw = [[{"properties":{"n":{"minLength":-1}}}]],
      broken = [[{"properties":{"removed":{"type":"Number"}}}]],
    })
    assert.are.equal("invalid schema: bad: invalid JSON: unexpected end at byte 9", refusal(set.validate, set, "bad", "1"))
    assert.are.equal("invalid schema: kw#/properties/n/minLength: must be a non-negative integer",
      refusal(set.validate, set, "kw", "1"))
    assert.is_true(set:validate("broken", "{}"))
    assert.are.equal('/removed: the schema is broken here: broken#/properties/removed/type: unknown type "Number"' ..
      " (null, boolean, integer, number, string, array, object)", refusal(set.validate, set, "broken", [[{"removed":3}]]))
  end)

  it("stays usable after a failure, asking lookup once per name", function()
    local set, calls = set_of({
      good = [[{"properties":{"x":{"$ref":"#/definitions/shared"}}}]],
      bad = [[{"properties":{"x":{"$ref":"#/definitions/shared"},"y":{"$ref":"#/definitions/missing"}}}]],
      shared = [[{"type":"integer"}]],
    })
    local first = refusal(set.validate, set, "bad", "{}")
    assert.are.equal(first, refusal(set.validate, set, "bad", "{}"))
    assert.are.same({ false, "/x: must be an integer, not a string" }, { set:validate("good", [[{"x":"1"}]]) })
    assert.are.equal(first, refusal(set.validate, set, "bad", "{}"))
    assert.are.same({ bad = 1, shared = 1, missing = 1, good = 1 }, calls)
  end)

  it("tells a root failure without a pointer", function()
    local set = set_of({ event = [[{"required":["name"]}]] })
    assert.are.same({ false, "missing required property 'name'" }, { set:validate("event", "{}") })
  end)

  it("keeps the texts lookup returned alive as long as the set", function()
    local set = core.schemas(function(name)
      if name == "big" then
        return '{"properties":{"k":{"$ref":"#/definitions/leaf"}},"title":"' .. string.rep("t", 100000) .. '"}'
      end
      if name == "leaf" then return string.format('{"type":"string","maxLength":%d}', 3) end
    end)
    assert.is_true(set:validate("big", [[{"k":"abc"}]]))
    for _ = 1, 3 do collectgarbage() end
    local junk = {} -- new strings where freed ones were, were the texts not kept
    for i = 1, 1000 do junk[i] = string.rep("x", 200) .. i end
    assert.are.equal(1000, #junk)
    assert.are.same({ false, "/k: must be at most 3 characters, not 4" }, { set:validate("big", [[{"k":"abcd"}]]) })
  end)

  it("passes on an error lookup raises, and asks again next time", function()
    local fail = true
    local set = core.schemas(function(name)
      if name == "flaky" and fail then error({ type = "Io", message = "disk on fire" }) end
      return name == "flaky" and [[{"type":"string"}]] or nil
    end)
    local ok, err = pcall(set.validate, set, "flaky", '"x"')
    assert.is_false(ok)
    assert.are.same({ type = "Io", message = "disk on fire" }, err)
    fail = false
    assert.is_true(set:validate("flaky", '"x"'))
  end)

  it("refuses what lookup returns when it is not a string or nil", function()
    local set = core.schemas(function() return 42 end)
    assert.are.equal('schemas: lookup("x") returned number, not a string or nil', refusal(set.validate, set, "x", "1"))
  end)

  it("refuses to validate from inside its own lookup", function()
    local set
    set = core.schemas(function(name)
      if name == "outer" then set:validate("inner", "1") end
      return "{}"
    end)
    assert.are.equal("set:validate: called from the set's own lookup", refusal(set.validate, set, "outer", "1"))
    assert.is_true(set:validate("inner", "1"))
  end)

  it("takes a function, names and texts; is an eventapi.SchemaSet the collector frees", function()
    assert.has_error(function() core.schemas("nope") end)
    local set = set_of({ a = "{}" })
    assert.matches("^eventapi.SchemaSet: ", tostring(set))
    assert.has_error(function() set:validate("a", {}) end)
    assert.are.equal("set:validate: a name holds no NUL", refusal(set.validate, set, "a\0b", "1"))
    for _ = 1, 100 do set_of({ query = QUERY }):validate("query", [[{"$or":[{}]}]]) end
    collectgarbage()
  end)
end)

local LOSANT = os.getenv("EVENTAPI_LOSANT_SCHEMAS") or "/tmp/lr/node_modules/losant-rest/lib/schemas"

local read = require("helpers.internals").read

local function losant_names()
  local names = {}
  local ls = io.popen("ls " .. string.format("%q", LOSANT) .. " 2>/dev/null")
  for file in ls:lines() do
    local name = file:match("^(.+)%.json$")
    if name then names[#names + 1] = name end
  end
  ls:close()
  return names
end

-- A set over Losant's files, with the extra documents of overlay first.
local function losant_set(overlay)
  return core.schemas(function(name)
    if overlay and overlay[name] then return overlay[name] end
    if name:find("/", 1, true) then return nil end
    return read(LOSANT .. "/" .. name .. ".json")
  end)
end

describe("core.schemas over Losant's published schemas", function()
  if not read(LOSANT .. "/advancedEventQuery.json") then
    pending("Losant's schemas are not here: set EVENTAPI_LOSANT_SCHEMAS to the folder of losant-rest's lib/schemas")
    return
  end

  it("compiles every file", function()
    local names = losant_names()
    -- losant-rest's whole folder (its apiInfo.json with it) has 249 files
    assert.is_true(#names >= (read(LOSANT .. "/apiInfo.json") and 249 or 1), #names)
    local set = losant_set()
    local failed = {}
    for _, name in ipairs(names) do
      local ok, err = pcall(set.validate, set, name, "{}")
      if not ok then failed[#failed + 1] = name .. ": " .. tostring(err.message or err) end
    end
    assert.are.same({}, failed)
  end)

  it("validates an advancedEventQuery with nested $or and $nor, and points at a wrong one", function()
    local set = losant_set()
    assert.is_true(set:validate("advancedEventQuery",
      [[{"$or":[{"level":{"$ne":"info"}},{"$nor":[{"subject":"x"},{"$and":[{"id":"575ec8687ae143cd83dc4a97"}]}]}]}]]))
    local ok, message = set:validate("advancedEventQuery", [[{"$or":[{"level":"info"},{"$nor":[{"subject":{"$gt":[]}}]}]}]])
    assert.is_false(ok)
    assert.truthy(message:find("^/%$or/1/%$nor/0/subject"), message)
    ok, message = set:validate("advancedEventQuery", string.format('{"$or":[%s]}', string.rep("{},", 100) .. "{}"))
    assert.are.same({ false, "/$or: must have at most 100 items, not 101" }, { ok, message })
  end)

  it("validates eventsExport's query through the document advancedEventQuery", function()
    local set = losant_set()
    assert.is_true(set:validate("eventsExport", [[{"email":"a@example.com","query":{"$and":[{"level":"error"}]}}]]))
    local ok, message = set:validate("eventsExport", [[{"query":{"$and":[{"$nor":[{"state":{"$ne":{}}}]}]}}]])
    assert.is_false(ok)
    assert.truthy(message:find("^/query/%$and/0/%$nor/0/state"), message)
  end)

  it("follows a cycle across documents", function()
    local set = losant_set({
      wrapper = [[{"type":"object","properties":{"query":{"$ref":"#/definitions/advancedEventQuery"},
        "inner":{"$ref":"#/definitions/wrapped"}}}]],
      wrapped = [[{"type":"object","required":["outer"],"properties":{"outer":{"$ref":"#/definitions/wrapper"}}}]],
    })
    assert.is_true(set:validate("wrapper", [[{"inner":{"outer":{"query":{"$or":[{"level":"info"}]}}}}]]))
    assert.are.same({ false, "/inner/outer/inner: missing required property 'outer'" },
      { set:validate("wrapper", [[{"inner":{"outer":{"inner":{}}}}]]) })
  end)

  it("refuses a dangling reference, naming the document it found missing", function()
    local set = losant_set({ mine = [[{"properties":{"query":{"$ref":"#/definitions/advancedEventQuerry"}}}]] })
    assert.are.equal('invalid schema: mine#/properties/query/$ref: "#/definitions/advancedEventQuerry" does not ' ..
      'resolve, and the set has no schema document "advancedEventQuerry"', refusal(set.validate, set, "mine", "{}"))
  end)

  local broken = { "eventsDeleted", "validateContextError", "instances" }
  local have_broken = true
  for _, name in ipairs(broken) do have_broken = have_broken and read(LOSANT .. "/" .. name .. ".json") ~= nil end
  if not have_broken then
    pending("the broken parts: " .. table.concat(broken, ", ") .. " are not all in " .. LOSANT)
    return
  end

  it("fails, as broken, only the values that reach a broken part", function()
    local set = losant_set()
    assert.is_true(set:validate("eventsDeleted", "{}"))
    assert.truthy(refusal(set.validate, set, "eventsDeleted", [[{"removed":3}]])
      :find('^/removed: the schema is broken here: eventsDeleted#/properties/removed/type: unknown type "Number"'))
    assert.truthy(refusal(set.validate, set, "validateContextError", [[{"ctx":{"k":"v"}}]])
      :find("validateContextError#/properties/ctx/patternProperties/", 1, true))
    assert.is_true(set:validate("instances", [[{"items":[],"count":0}]]))
  end)
end)
