-- The core's JSON codec keeps numbers exact both ways.
local eventapi = require "eventapi"
local json = eventapi.json

describe("the JSON codec", function()
  it("writes Lua integers exactly", function()
    assert.are.equal("9223372036854775807", json.encode(math.maxinteger))
    assert.are.equal("1700000000123456", json.encode(1700000000123456))
  end)

  it("writes floats as the shortest text that reads back the same", function()
    assert.are.equal("0.30000000000000004", json.encode(0.1 + 0.2))
    assert.are.equal("0.1", json.encode(0.1))
    assert.are.equal(0.1 + 0.2, json.decode(json.encode(0.1 + 0.2)))
  end)

  it("writes an integral float without a fraction", function()
    assert.are.equal("50", json.encode(50.0))
  end)

  it("reads integral numbers as Lua integers", function()
    local v = json.decode('{"a":50,"b":1700000000123456,"c":-9223372036854775808}')
    assert.are.equal("integer", math.type(v.a))
    assert.are.equal(1700000000123456, v.b)
    assert.are.equal(math.mininteger, v.c)
  end)

  it("reads numbers beyond 64 bits as floats", function()
    assert.are.equal("float", math.type(json.decode("12345678901234567890")))
  end)

  it("keeps null as eventapi.null", function()
    local v = json.decode('{"a":null}')
    assert.are.equal(eventapi.null, v.a)
    assert.are.equal('{"a":null}', json.encode(v))
  end)

  it("round-trips an empty array as an array", function()
    assert.are.equal("[]", json.encode(json.decode("[]")))
    assert.are.equal("{}", json.encode({}))
  end)

  it("decodes escapes and surrogate pairs to UTF-8", function()
    assert.are.equal("é😀\n", json.decode('"\\u00e9\\ud83d\\ude00\\n"'))
  end)

  it("escapes control characters and quotes", function()
    assert.are.equal('"a\\"b\\\\c\\n\\u0001"', json.encode('a"b\\c\n\1'))
  end)

  it("rejects malformed text with the byte offset", function()
    local ok, err = pcall(json.decode, '{"a":')
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("eventapi.json.decode: invalid JSON: [^\n]* at byte 6"), err.message)
  end)

  it("rejects nesting deeper than the limit", function()
    local ok, err = pcall(json.decode, string.rep("[", 2000) .. string.rep("]", 2000))
    assert.is_false(ok)
    assert.truthy(err.message:find("deep"))
  end)

  it("refuses NaN and cycles", function()
    assert.is_false(pcall(json.encode, 0 / 0))
    local t = {}; t.self = t
    assert.is_false(pcall(json.encode, t))
  end)

  it("refuses functions", function()
    local ok, err = pcall(json.encode, { f = print })
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("function"))
  end)
end)
