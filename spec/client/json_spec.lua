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

  it("writes integral floats beyond 2^53 of either sign in exponent form that reads back the same", function()
    assert.are.equal("[1e+300]", json.encode({ 1e300 }))
    assert.are.equal("[-1e+300]", json.encode({ -1e300 }))
    assert.are.equal(-1e300, json.decode(json.encode(-1e300)))
    assert.are.equal(-2 ^ 60, json.decode(json.encode(-2 ^ 60)))
  end)

  it("writes the integral floats within 2^53 of either sign as integers", function()
    assert.are.equal("-9007199254740991", json.encode(-9007199254740991.0))
    assert.are.equal("9007199254740991", json.encode(9007199254740991.0))
    assert.are.equal("-50", json.encode(-50.0))
  end)

  it("refuses a number with a leading zero and reads 0, -0 and 0.5", function()
    for _, text in ipairs({ "01", "-01", "[00]", '{"a":007}' }) do
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok, text)
      assert.truthy(err.message:find("leading zero", 1, true), err.message)
    end
    assert.are.equal(0, json.decode("0"))
    assert.are.equal(0, json.decode("-0"))
    assert.are.equal(0.5, json.decode("0.5"))
  end)

  it("refuses text after the value", function()
    for _, text in ipairs({ "{}x", "[1] [2]", "1 2", "null,", 'true"' }) do
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok, text)
      assert.truthy(err.message:find("trailing characters", 1, true), err.message)
    end
    assert.are.same({ a = 1 }, json.decode(' {"a":1} \n\t'))
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

  it("writes 1,000 nested tables and refuses 1,001, as it reads 1,000 and refuses 1,001", function()
    local function nested(n)
      local t = {}
      for _ = 2, n do t = { t } end
      return t
    end
    local text = json.encode(nested(1000))
    assert.are.equal(("["):rep(999) .. "{}" .. ("]"):rep(999), text)
    assert.is_true(pcall(json.decode, text))
    local ok, err = pcall(json.encode, nested(1001))
    assert.is_false(ok)
    assert.truthy(err.message:find("deeper than 1000", 1, true), err.message)
    assert.is_false(pcall(json.decode, ("["):rep(1001) .. ("]"):rep(1001)))
  end)

  it("reads objects and arrays of every size alike, as an independent decoder does", function()
    local cjson = require "cjson"
    for _, n in ipairs({ 1, 31, 32, 33, 127, 128, 129, 1000 }) do
      local members, items = {}, {}
      for i = 1, n do
        members[#members + 1] = ('"k%d":{"i":%d,"list":[%d,"x"]}'):format(i, i, i)
        items[#items + 1] = ('{"k":%d}'):format(i)
      end
      local text = ('{"object":{%s},"array":[%s]}'):format(table.concat(members, ","), table.concat(items, ","))
      local ours, theirs = json.decode(text), cjson.decode(text)
      assert.are.same(theirs.object, ours.object)
      assert.are.equal(n, #ours.array)
      for i = 1, n do assert.are.equal(theirs.array[i].k, ours.array[i].k) end
      assert.are.equal(text:len(), json.encode(ours):len()) -- every member and item is there once
    end
  end)

  it("keeps the last of a repeated key, among the first members and past them", function()
    local early = json.decode('{"a":1,"b":2,"a":3}')
    assert.are.equal(3, early.a)
    local members = {}
    for i = 1, 40 do members[i] = ('"k%d":%d'):format(i, i) end
    local late = json.decode("{" .. table.concat(members, ",") .. ',"k1":"first again","k40":"last again"}')
    assert.are.equal("first again", late.k1)
    assert.are.equal("last again", late.k40)
    assert.are.equal(20, late.k20)
  end)

  it("reads 1,000 nested objects that each hold 31 members before the nested one", function()
    local head = {}
    for i = 1, 31 do head[i] = ('"m%d":%d'):format(i, i) end
    local open = "{" .. table.concat(head, ",") .. ',"next":'
    local text = open:rep(999) .. "{}" .. ("}"):rep(999)
    local v = json.decode(text)
    local depth = 1
    while next(v.next) do v, depth = v.next, depth + 1 end
    assert.are.equal(999, depth)
    assert.are.equal(31, v.m31)
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

  describe("sorted and indented output (options of encode)", function()
    local core = require "eventapi.core"
    local Error = require "eventapi.errors"
    local PRETTY = { indent = true, sort = true }

    it("writes nested values sorted, one item or member per line, two spaces a level", function()
      local v = { z = { 3, { y = 1, x = eventapi.null } }, a = "s", m = { k = { 1.5, true } } }
      assert.are.equal(table.concat({
        "{",
        '  "a": "s",',
        '  "m": {',
        '    "k": [',
        "      1.5,",
        "      true",
        "    ]",
        "  },",
        '  "z": [',
        "    3,",
        "    {",
        '      "x": null,',
        '      "y": 1',
        "    }",
        "  ]",
        "}" }, "\n"), json.encode(v, PRETTY))
      assert.are.same(json.decode(json.encode(v)), json.decode(json.encode(v, PRETTY)))
    end)

    it("keeps empty tables as {} and [] on their line", function()
      assert.are.equal("{}", json.encode({}, PRETTY))
      assert.are.equal("[]", json.encode(json.decode("[]"), PRETTY))
      assert.are.equal('{\n  "a": {},\n  "b": [],\n  "c": [\n    [],\n    {}\n  ]\n}',
                       json.encode({ b = setmetatable({}, json.array), a = {}, c = { json.decode("[]"), {} } }, PRETTY))
    end)

    it("orders keys bytewise, integer keys by their text", function()
      local v = { b = 1, B = 2, a = 3, ["a\0"] = 4, ["é"] = 5, _ = 6, [10] = 7, [2] = 8 }
      assert.are.equal('{"10":7,"2":8,"B":2,"_":6,"a":3,"a\\u0000":4,"b":1,"\195\169":5}', json.encode(v, { sort = true }))
    end)

    it("indents by n spaces, and writes scalars as the one-line writer does", function()
      assert.are.equal('[\n    1,\n    {\n        "a": 9007199254740993\n    }\n]',
                       json.encode({ 1, { a = 9007199254740993 } }, { indent = 4 }))
      for _, v in ipairs({ "a\"b\n\1", 0.1 + 0.2, -0.0, 50.0, math.mininteger, true, eventapi.null }) do
        assert.are.equal(json.encode(v), json.encode(v, PRETTY))
        assert.are.equal(json.encode({ v }), json.encode({ v }, { sort = true }))
      end
    end)

    it("is the one-line writer when no option asks otherwise", function()
      local v = { 1, { a = "x", b = { true } } }
      for _, options in ipairs({ {}, { indent = false }, { sort = false, indent = false } }) do
        assert.are.equal(json.encode(v), json.encode(v, options))
      end
      assert.are.equal(json.encode(v), json.encode(v, nil))
    end)

    it("refuses what JSON cannot hold as the one-line writer does", function()
      local cycle = {}
      cycle.self = cycle
      for _, case in ipairs({ { { 0 / 0 }, "JSON cannot hold NaN" }, { { x = math.huge }, "JSON cannot hold infinity" },
                              { { [true] = 1 }, "JSON object keys must be strings, not boolean" },
                              { { f = print }, "JSON cannot hold a function" },
                              { cycle, "JSON nesting deeper than 1000 (a cycle?)" } }) do
        local ok, err = pcall(json.encode, case[1], PRETTY)
        assert.is_false(ok, case[2])
        assert.is_true(Error.is(err), case[2])
        assert.are.equal("InvalidParams", err.type)
        assert.are.equal("eventapi.json.encode: " .. case[2], err.message)
      end
    end)

    it("refuses an unknown or ill-typed option, naming it", function()
      local cases = {
        { "x", "options must be a table, not a string" },
        { { pretty = true }, "unknown option 'pretty' (the options are indent and sort)" },
        { { true }, "unknown option 1 (the options are indent and sort)" },
        { { indent = "yes" }, "option indent must be true, false or a whole number from 1 to 16, not a string" },
        { { indent = 0 }, "option indent must be true, false or a whole number from 1 to 16, not 0" },
        { { indent = 17 }, "option indent must be true, false or a whole number from 1 to 16, not 17" },
        { { indent = 2.5 }, "option indent must be true, false or a whole number from 1 to 16, not 2.5" },
        { { sort = 1 }, "option sort must be true or false, not 1" },
      }
      for _, case in ipairs(cases) do
        local ok, err = pcall(json.encode, { 1 }, case[1])
        assert.is_false(ok, case[2])
        assert.is_true(Error.is(err), case[2])
        assert.are.equal("InvalidParams", err.type)
        assert.are.equal("eventapi.json.encode: " .. case[2], err.message)
        local core_ok, core_err = pcall(core.json_encode, { 1 }, case[1])
        assert.is_false(core_ok)
        assert.are.equal(case[2], core_err.message)
      end
    end)
  end)

  describe("errors", function()
    local core = require "eventapi.core"
    local Error = require "eventapi.errors"

    it("the core's encoder raises InvalidParams error objects without a file:line", function()
      local nested = {}
      for _ = 1, 1000 do nested = { nested } end
      for _, case in ipairs({ { 0 / 0, "JSON cannot hold NaN" }, { -math.huge, "JSON cannot hold infinity" },
                              { { [1.5] = 1 }, "JSON object keys must be strings, not number" },
                              { io.stdout, "JSON cannot hold a userdata" },
                              { nested, "JSON nesting deeper than 1000 (a cycle?)" } }) do
        local ok, err = pcall(core.json_encode, case[1])
        assert.is_false(ok, case[2])
        assert.is_true(Error.is(err), case[2])
        assert.are.equal("InvalidParams", err.type)
        assert.are.equal(case[2], err.message)
      end
    end)

    it("eventapi.json.encode names itself before the message and keeps the type", function()
      local ok, err = pcall(json.encode, { 1, 0 / 0 })
      assert.is_false(ok)
      assert.is_true(Error.is(err))
      assert.are.equal("InvalidParams", err.type)
      assert.are.equal("eventapi.json.encode: JSON cannot hold NaN", err.message)
      assert.are.equal("InvalidParams: eventapi.json.encode: JSON cannot hold NaN", tostring(err))
    end)

    it("the decoder raises InvalidParams error objects: invalid JSON: <what> at byte <n>", function()
      for _, case in ipairs({ { "{x", "invalid JSON: expected a key at byte 2" },
                              { "[1,]", "invalid JSON: unexpected character at byte 4" },
                              { '"abc', "invalid JSON: unterminated string at byte 5" },
                              { "1e400", "invalid JSON: number out of range at byte 6" },
                              { ("["):rep(1001), "invalid JSON: nesting too deep at byte 1001" } }) do
        local ok, err = pcall(core.json_decode, case[1])
        assert.is_false(ok, case[1])
        assert.is_true(Error.is(err), case[1])
        assert.are.equal("InvalidParams", err.type)
        assert.are.equal(case[2], err.message)
        ok, err = pcall(json.decode, case[1])
        assert.is_false(ok, case[1])
        assert.are.equal("InvalidParams", err.type)
        assert.are.equal("eventapi.json.decode: " .. case[2], err.message)
      end
    end)
  end)

  describe("numbers, against Lua's own formatter and reader", function()
    teardown(function() math.randomseed() end) -- the specs below seed it for repeatable inputs
    --- The text Lua's C formatter gives: the shortest of %.15g, %.16g and %.17g that reads back.
    local function reference_text(d)
      if math.type(d) == "integer" then return ("%d"):format(d) end
      if d == math.floor(d) and math.abs(d) < 2 ^ 53 then return ("%.0f"):format(d) end
      for precision = 15, 17 do
        local text = ("%." .. precision .. "g"):format(d)
        if tonumber(text) == d then return text end
      end
    end
    --- The 8 bytes of a float (so -0.0 and 0.0 differ), or the integer as text.
    local function bits(v)
      return math.type(v) == "float" and string.pack("<d", v) or math.type(v) .. " " .. tostring(v)
    end
    --- A float from 64 random bits: any finite double, tiny, huge and subnormal ones included.
    local function any_double()
      while true do
        local d = string.unpack("<d", string.pack("<i8", math.random(math.mininteger, math.maxinteger)))
        if d == d and d ~= math.huge and d ~= -math.huge then return d end
      end
    end
    --- A decimal of up to 15 digits with up to 20 of them after the point, either sign.
    local function short_decimal()
      local text = ("%d"):format(math.random(1, 10 ^ math.random(1, 15) - 1))
      local point = math.random(0, 20)
      if point > 0 then
        text = ("0"):rep(math.max(0, point - #text + 1)) .. text -- at least one digit before the point
        text = text:sub(1, -point - 1) .. "." .. text:sub(-point)
      end
      return (math.random(2) == 1 and "-" or "") .. text
    end

    it("writes every kind of number as Lua's formatter does (50,000 of each)", function()
      math.randomseed(15)
      local makers = {
        any_double,
        function() return tonumber(short_decimal()) + 0.0 end,
        function() return math.random(-2 ^ 53, 2 ^ 53) + 0.0 end,
        function() return math.random(math.mininteger, math.maxinteger) end,
      }
      local core = require "eventapi.core"
      for _, make in ipairs(makers) do
        for _ = 1, 50000 do
          local d = make()
          local want = reference_text(d)
          if core.number_text(d) ~= want then
            assert.are.equal(want, core.number_text(d), ("%a"):format(d))
          end
        end
      end
      assert.are.equal("[-0,0.0001,1.5e-05,123456789012345.6,1000000000000000.5]",
                       json.encode({ -0.0, 1e-4, 1.5e-5, 123456789012345.6, 1e15 + 0.5 }))
    end)

    it("reads every kind of number text as Lua's reader does (50,000 of each)", function()
      math.randomseed(16)
      local makers = {
        short_decimal,
        function() return ("%.17g"):format(any_double()) end,
        function() return ("%de%d"):format(math.random(-10 ^ 18, 10 ^ 18) // math.tointeger(10 ^ math.random(0, 17)), math.random(-30, 30)) end,
        function() return short_decimal() .. "E" .. ("%+d"):format(math.random(-330, 310)) end,
        function() return ("%d"):format(math.random(math.mininteger, math.maxinteger)) .. ("%d"):format(math.random(0, 99)) end,
        function() return ("%d.%d"):format(math.random(1, 10 ^ 12), math.random(1, 10 ^ 12)) .. ("%d"):format(math.random(1, 10 ^ 6)) end,
      }
      for _, make in ipairs(makers) do
        for _ = 1, 50000 do
          local text = make()
          local want = tonumber(text)
          if want ~= math.huge and want ~= -math.huge then
            local got = json.decode(text)
            if bits(got) ~= bits(want) then assert.are.equal(bits(want), bits(got), text) end
          end
        end
      end
    end)

    it("writes and reads '.' when the host's numeric locale writes a comma", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. dir), "mkdir " .. dir)
      local made = os.execute(("localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1"):format(dir))
      assert.is_true(made, "localedef could not make de_DE.UTF-8 (Debian package locales)")
      local sandbox = require "helpers.sandbox"
      local ok, out, err = sandbox.run_lua([[
        assert(os.setlocale("de_DE.UTF-8", "numeric"), "no de_DE.UTF-8 locale")
        assert(("%g"):format(2.75) == "2,75", "the locale writes no comma")
        local json = require("eventapi").json
        local t = json.decode("[2.75,1.5e3,0.30000000000000004,1e-7,1.2345678901234567e-300,12345678901234567.5]")
        print(json.encode({ 2.75, 1e-7, 0.1 + 0.2, 123456.789, -0.5 }))
        print(t[1] == 2.75, t[2] == 1500, t[3] == 0.1 + 0.2, t[4] == 1e-7, t[5] == 1.2345678901234567e-300,
              t[6] == 12345678901234568)
      ]], { command = "LOCPATH=" .. dir .. " lua5.4" })
      os.execute("rm -rf " .. dir)
      assert.is_true(ok, err)
      assert.are.equal("[2.75,1e-07,0.30000000000000004,123456.789,-0.5]\ntrue\ttrue\ttrue\ttrue\ttrue\ttrue\n", out)
    end)
  end)
end)
