-- core.schema and schema:validate: the wording of each failure ("<pointer>:
-- <rule>", the root's failure the rule alone), the schemas refused and why, texts that
-- are not JSON, deep nesting, ECMA-style patterns, and a 10 KB instance.
local core = require "eventapi.core"

-- The message of an instance the schema refuses.
local function why(schema, instance)
  local valid, message = core.schema(schema):validate(instance)
  assert.is_false(valid, instance)
  return message
end

local function valid(schema, instance)
  local ok, message = core.schema(schema):validate(instance)
  assert.is_true(ok, message)
end

local refusal = require("helpers.internals").refusal

describe("schema:validate tells the first failure as '<pointer>: <rule>'", function()
  it("names a wrong type and the type found", function()
    assert.are.equal("/data/temp: must be a number, not a string",
      why([[{"properties":{"data":{"properties":{"temp":{"type":"number"}}}}}]], [[{"data":{"temp":"hot"}}]]))
    assert.are.equal("/x: must be null or a string, not an object",
      why([[{"properties":{"x":{"type":["string","null"]}}}]], [[{"x":{}}]]))
    assert.are.equal("must be an integer, a string or an array, not a boolean",
      why([[{"type":["array","integer","string"]}]], "true"))
  end)

  it("shows the number that is not an integer", function()
    assert.are.equal("must be an integer, not 1.5", why([[{"type":"integer"}]], "1.5"))
    valid([[{"type":"integer"}]], "1.0")
    valid([[{"type":"integer"}]], "1e3")
  end)

  it("tells a failure of the root as the rule alone: no pointer, no colon", function()
    assert.are.equal("missing required property 'name'", why([[{"required":["name"]}]], "{}"))
    -- so that a caller prefixing the parameter's name reads well at any depth
    local s = core.schema([[{"required":["name"],"properties":{"state":{"enum":["new","resolved"]}}}]])
    assert.are.equal("event: missing required property 'name'", "event: " .. select(2, s:validate("{}")))
    assert.are.equal("event/state: must be one of new, resolved",
      "event" .. select(2, s:validate([[{"name":"n","state":"old"}]])))
  end)

  it("lists the values of an enum", function()
    assert.are.equal("/state: must be one of new, acknowledged, resolved",
      why([[{"properties":{"state":{"enum":["new","acknowledged","resolved"]}}}]], [[{"state":"closed"}]]))
    assert.are.equal("must be one of 1, true, null, \"\", [1,\"a\"], {\"k\":\"v\"}",
      why([[{"enum":[1,true,null,"",[1,"a"],{"k":"v"}]}]], "2"))
    assert.are.equal("must be on", why([[{"enum":["on"]}]], [["off"]]))
  end)

  it("compares enum values as JSON: 1 equals 1.0, objects in any order", function()
    valid([[{"enum":[1]}]], "1.0")
    valid([[{"enum":[{"a":1,"b":[2]}]}]], [[{"b":[2.0],"a":1}]])
  end)

  it("says which bound a number misses, exclusive or not", function()
    assert.are.equal("must be >= 5", why([[{"minimum":5}]], "4.5"))
    assert.are.equal("must be > 5", why([[{"minimum":5,"exclusiveMinimum":true}]], "5"))
    assert.are.equal("must be <= 1.5", why([[{"maximum":1.5}]], "2"))
    assert.are.equal("must be < 1.5", why([[{"maximum":1.5,"exclusiveMaximum":true}]], "1.5"))
    assert.are.equal("must be a multiple of 0.01", why([[{"multipleOf":0.01}]], "19.999"))
    valid([[{"multipleOf":0.01}]], "19.99")
  end)

  it("reads the sign and the fraction of a number a bound looks at", function()
    -- (an instance's small numbers get their value only when a keyword asks: sx_num_d)
    assert.are.equal("must be >= -2", why([[{"minimum":-2}]], "-2.5"))
    valid([[{"maximum":-1}]], "-1.5")
    assert.are.equal("must be <= 1", why([[{"maximum":1}]], "1.25"))
    valid([[{"properties":{"a":{"minimum":-0.5}}}]], [[{"a":-0.25}]])
  end)

  it("compares integers beyond 2^53 exactly", function()
    assert.are.equal("must be <= 9007199254740992", why([[{"maximum":9007199254740992}]], "9007199254740993"))
    valid([[{"minimum":9223372036854775807}]], "9223372036854775807")
  end)

  it("counts string lengths in characters, not bytes", function()
    assert.are.equal("must be at most 2 characters, not 3", why([[{"maxLength":2}]], [["été"]]))
    assert.are.equal("must be at least 1 character, not 0", why([[{"minLength":1}]], [[""]]))
    valid([[{"maxLength":2}]], [["\u00e9\ud83d\ude00"]])
  end)

  it("shows the pattern a string must match", function()
    assert.are.equal("/id: must match the pattern ^[a-z]+$",
      why([[{"properties":{"id":{"pattern":"^[a-z]+$"}}}]], [[{"id":"A1"}]]))
  end)

  it("names the format a string must have", function()
    assert.are.equal("must be a date-time (RFC 3339)", why([[{"format":"date-time"}]], [["2024-02-30T10:00:00Z"]]))
    assert.are.equal("must be an email address", why([[{"format":"email"}]], [["joe"]]))
    assert.are.equal("must be a URI", why([[{"format":"uri"}]], [["/relative"]]))
    assert.are.equal("must be a URI", why([[{"format":"url"}]], [["no scheme"]]))
    valid([[{"format":"url"}]], [["https://api.losant.com/applications?page=1"]])
    valid([[{"format":"date-time"}]], [["2016-12-31T23:59:60Z"]])
    valid([[{"format":"no-such-format"}]], [["anything"]])
  end)

  -- as Python's jsonschema answers (spec/schema/agree_spec.lua)
  it("takes an email as a string with an @, as Python's jsonschema does", function()
    valid([[{"format":"email"}]], [["joe.bloggs@example.com"]])
    valid([[{"format":"email"}]], [["a b@c@d"]])
    why([[{"format":"email"}]], [["joe.example.com"]])
  end)

  it("reads a URI by RFC 3986's grammar", function()
    for _, ok in ipairs({ "https://[::1]:80/x", "https://[v1.x]/", "http:///path", "a:", "urn:isbn:1",
      "http://u:p@host:8080/a;b?c=d/e?#f/g?", "http://%41/" }) do
      valid([[{"format":"uri"}]], core.json_encode(ok))
    end
    for _, bad in ipairs({ "http://a@b@c/", "https://a:b:c/", "https://[::1/", "https://[1.2.3.4]/", "http://[::1]x/",
      "http://a/b?c=[d]", "http://a/%zz", "https://example.com/é", "https://example.com/a#b#c", "1http://x" }) do
      assert.are.equal("must be a URI", why([[{"format":"uri"}]], core.json_encode(bad)), bad)
    end
  end)

  it("refuses the year 0000 in a date-time, as Python's jsonschema does", function()
    why([[{"format":"date-time"}]], [["0000-01-01T00:00:00Z"]])
    valid([[{"format":"date-time"}]], [["0001-01-01T00:00:00Z"]])
  end)

  it("counts items and properties, one or many", function()
    assert.are.equal("must have at least 2 items, not 1", why([[{"minItems":2}]], "[1]"))
    assert.are.equal("must have at most 1 item, not 2", why([[{"maxItems":1}]], "[1,2]"))
    assert.are.equal("must have at least 2 properties, not 1", why([[{"minProperties":2}]], [[{"a":1}]]))
    assert.are.equal("must have at most 1 property, not 2", why([[{"maxProperties":1}]], [[{"a":1,"b":2}]]))
  end)

  it("names the first two equal items", function()
    assert.are.equal("must have unique items, but items 1 and 3 are equal",
      why([[{"uniqueItems":true}]], '[0, {"a":[1]}, 2, {"a":[1.0]}, 0]'))
    local many = {}
    for i = 1, 1000 do many[i] = tostring(i) end
    many[#many + 1] = "500.0"
    assert.are.equal("must have unique items, but items 499 and 1000 are equal",
      why([[{"uniqueItems":true}]], "[" .. table.concat(many, ",") .. "]"))
  end)

  it("points into arrays by index, and tells extra items apart", function()
    assert.are.equal("/list/2: must be a string, not a number",
      why([[{"properties":{"list":{"items":{"type":"string"}}}}]], [[{"list":["a","b",3]}]]))
    assert.are.equal("must have at most 1 item, not 2 (additionalItems is false)",
      why([[{"items":[{}],"additionalItems":false}]], "[1,2]"))
    assert.are.equal("/1: must be a string, not a number", why([[{"items":[{}],"additionalItems":{"type":"string"}}]], "[1,2]"))
  end)

  it("names a property that is not allowed, and the properties patterns govern", function()
    assert.are.equal("property 'color' is not allowed",
      why([[{"properties":{"id":{}},"additionalProperties":false}]], [[{"id":1,"color":"red"}]]))
    assert.are.equal("/x_2: must be a number, not a string",
      why([[{"patternProperties":{"^x_":{"type":"number"}}}]], [[{"x_1":1,"x_2":"two"}]]))
  end)

  it("says which property another one requires", function()
    assert.are.equal("missing property 'zip' (required when 'street' is present)",
      why([[{"dependencies":{"street":["zip"]}}]], [[{"street":"Main"}]]))
  end)

  it("escapes ~ and / in the pointer (RFC 6901)", function()
    assert.are.equal("/a~1b~0c: must be a string, not null",
      why([[{"properties":{"a/b~c":{"type":"string"}}}]], [[{"a/b~c":null}]]))
  end)

  it("tells a value's own keywords first, then its members in the order of the text", function()
    assert.are.equal("missing required property 'z'",
      why([[{"required":["z"],"properties":{"a":{"type":"string"}}}]], [[{"a":1}]]))
    assert.are.equal("/b: must be a string, not a number",
      why([[{"properties":{"a":{"type":"string"},"b":{"type":"string"}}}]], [[{"b":1,"a":2}]]))
  end)

  it("follows $ref to definitions, and recursive ones", function()
    local tree = [[{"definitions":{"node":{"type":"object","properties":{"value":{"type":"number"},
      "children":{"type":"array","items":{"$ref":"#/definitions/node"}}}}},"$ref":"#/definitions/node"}]]
    valid(tree, [[{"value":1,"children":[{"value":2,"children":[]}]}]])
    assert.are.equal("/children/0/children/0/value: must be a number, not a string",
      why(tree, [[{"value":1,"children":[{"value":2,"children":[{"value":"x"}]}]}]]))
  end)

  it("gives allOf's first failing branch", function()
    assert.are.equal("must be >= 3", why([[{"allOf":[{"type":"integer"},{"minimum":3}]}]], "2"))
  end)

  it("gives the closest anyOf or oneOf branch when none matches", function()
    local shapes = [[{"anyOf":[{"type":"string"},{"type":"object","properties":{"a":{"properties":{"b":{"type":"integer"}}}}}]}]]
    assert.are.equal("/a/b: must be an integer, not 1.5 (no anyOf schema matches; closest is anyOf/1)",
      why(shapes, [[{"a":{"b":1.5}}]]))
    assert.are.equal("must be a string, not a boolean (no anyOf schema matches; closest is anyOf/0)",
      why(shapes, "true"))
    assert.are.equal("must be an integer, not 1.5 (no oneOf schema matches; closest is oneOf/0)",
      why([[{"oneOf":[{"type":"integer"},{"type":"string"}]}]], "1.5"))
  end)

  it("prefers, between branches failing at the same depth, one made for the value's kind", function()
    local scalar_or_ops = [[{"oneOf":[{"type":["string","number"]},
      {"type":"object","properties":{"$eq":{"type":"string"}},"additionalProperties":false}]}]]
    assert.are.equal("property '$regex' is not allowed (no oneOf schema matches; closest is oneOf/1)",
      why(scalar_or_ops, [[{"$regex":"^F"}]]))
  end)

  it("names the closest branch once, the innermost, when oneOfs nest", function()
    local nested = [[{"properties":{"a":{"oneOf":[{"type":"string"},
      {"type":"object","properties":{"b":{"oneOf":[{"type":"integer"},{"type":"boolean"}]}}}]}}}]]
    assert.are.equal("/a/b: must be an integer, not a string (no oneOf schema matches; closest is oneOf/0)",
      why(nested, [[{"a":{"b":"x"}}]]))
  end)

  it("names the oneOf branches that both match", function()
    assert.are.equal("must match exactly one oneOf schema, but matches oneOf/0 and oneOf/2",
      why([[{"oneOf":[{"type":"integer"},{"type":"string"},{"minimum":2}]}]], "3"))
  end)

  it("says what not forbids", function()
    assert.are.equal("/x: must not match the schema in not",
      why([[{"properties":{"x":{"not":{"type":"null"}}}}]], [[{"x":null}]]))
  end)

  it("ignores keywords it does not know", function()
    valid([[{"title":"t","x-losant":{"a":1},"type":"object"}]], "{}")
  end)

  it("keeps its messages within 1023 bytes, cut between characters", function()
    local key = string.rep("é", 600)
    local message = why([[{"additionalProperties":false}]], '{"' .. key .. '":1}')
    assert.is_true(#message <= 1023, #message)
    assert.is_truthy(utf8.len(message))
    assert.are.equal("property 'éé", message:sub(1, 14))
  end)
end)

describe("core.schema refuses a schema it cannot use, naming why", function()
  it("refuses bad JSON with its byte", function()
    assert.are.equal("invalid schema: invalid JSON: expected ',' or '}' at byte 13",
      refusal(core.schema, [[{"type":"x" "y"}]]))
  end)

  it("refuses a document whose root is not an object", function()
    assert.are.equal("invalid schema: #: a schema must be an object, not an array", refusal(core.schema, "[]"))
    assert.are.equal("invalid schema: #: a schema must be an object, not a boolean", refusal(core.schema, "true"))
  end)

  it("refuses a pattern that is not a string, or that PCRE2 refuses", function()
    assert.are.equal("invalid schema: #/pattern: must be a string", refusal(core.schema, [[{"pattern":3}]]))
    assert.are.equal(
      'invalid schema: #/properties/a/pattern: not a valid regular expression "(": missing closing parenthesis at offset 1',
      refusal(core.schema, [[{"properties":{"a":{"pattern":"("}}}]]))
    assert.truthy(refusal(core.schema, [[{"patternProperties":{"[":{}}}]])
      :find("#/patternProperties: not a valid regular expression \"[\"", 1, true))
  end)

  it("refuses a $ref that does not resolve, or is not local", function()
    assert.are.equal('invalid schema: #/items/$ref: "#/definitions/nope" does not resolve',
      refusal(core.schema, [[{"items":{"$ref":"#/definitions/nope"}}]]))
    assert.truthy(refusal(core.schema, [[{"$ref":"http://json-schema.org/draft-04/schema#"}]])
      :find("is not a local reference", 1, true))
  end)

  it("resolves ~0, ~1 and %-escapes in a $ref, and the root's own id", function()
    local s = core.schema([[{"defs":{"a/b":{"type":"integer"},"c~d":{"type":"string"},"e%f":{"type":"null"}},
      "properties":{"x":{"$ref":"#/defs/a~1b"},"y":{"$ref":"#/defs/c~0d"},"z":{"$ref":"#/defs/e%25f"},
      "w":{"$ref":"http://example.com/s.json#/defs/c~0d"}},"id":"http://example.com/s.json#"}]])
    assert.is_true(s:validate([[{"x":1,"y":"s","z":null,"w":"t"}]]))
    assert.are.equal("/w: must be a string, not a number", select(2, s:validate([[{"w":1}]])))
  end)

  it("refuses $refs that loop without going into the value", function()
    assert.truthy(refusal(core.schema, [[{"$ref":"#"}]]):find("$ref loop", 1, true))
    assert.truthy(refusal(core.schema,
      [[{"definitions":{"a":{"anyOf":[{"type":"string"},{"$ref":"#/definitions/b"}]},"b":{"$ref":"#/definitions/a"}},
        "$ref":"#/definitions/a"}]]):find("$ref loop", 1, true))
    valid([[{"properties":{"next":{"$ref":"#"}}}]], [[{"next":{"next":{}}}]])
  end)

  it("refuses keyword values of the wrong kind", function()
    assert.are.equal("invalid schema: #/minLength: must be a non-negative integer", refusal(core.schema, [[{"minLength":-1}]]))
    assert.are.equal("invalid schema: #/maxItems: must be a non-negative integer", refusal(core.schema, [[{"maxItems":1.5}]]))
    assert.are.equal("invalid schema: #/multipleOf: must be greater than 0", refusal(core.schema, [[{"multipleOf":0}]]))
    assert.are.equal("invalid schema: #/minimum: must be a number", refusal(core.schema, [[{"minimum":"1"}]]))
    assert.are.equal("invalid schema: #/required: must be an array of strings", refusal(core.schema, [[{"required":"a"}]]))
    assert.are.equal("invalid schema: #/anyOf: must be a non-empty array of schemas", refusal(core.schema, [[{"anyOf":[]}]]))
    assert.are.equal("invalid schema: #/exclusiveMinimum: must be true or false",
      refusal(core.schema, [[{"minimum":1,"exclusiveMinimum":1}]]))
    assert.are.equal("invalid schema: #/type: must be a type name or a non-empty array of them",
      refusal(core.schema, [[{"type":[]}]]))
  end)

  it("makes an eventapi.Schema the collector frees", function()
    assert.matches("^eventapi.Schema: ", tostring(core.schema("{}")))
    for _ = 1, 200 do core.schema([[{"pattern":"^a","items":{"$ref":"#"}}]]) end
    collectgarbage()
  end)

  it("takes only text", function()
    assert.has_error(function() core.schema({}) end)
    assert.has_error(function() core.schema("{}").validate({}, "1") end)
  end)
end)

-- Where Losant's files are sloppy, the validator is as lenient as Python's
-- jsonschema (Draft4Validator) and no more: such a part compiles, and a value
-- that reaches it is told "the schema is broken here" (an InvalidParams error,
-- never valid); values that never reach it validate as usual.
describe("a broken part of a schema", function()
  local broken_type = 'the schema is broken here: #/items/0/type: unknown type "strin" ' ..
    "(null, boolean, integer, number, string, array, object)"

  it("compiles, and fails only the values that reach it", function()
    local s = core.schema([[{"items":[{"type":"strin"}]}]])
    assert.is_true(s:validate("[]"))
    assert.is_true(s:validate('"not an array"'))
    assert.are.equal("/0: " .. broken_type, refusal(s.validate, s, "[1]"))
  end)

  it("takes a type list in order, as Python does: the types before the unknown name still admit", function()
    local s = core.schema([[{"properties":{"n":{"type":["string","Number","null"]}}}]])
    assert.is_true(s:validate([[{"n":"x"}]]))
    assert.are.equal('/n: the schema is broken here: #/properties/n/type: unknown type "Number" ' ..
      "(null, boolean, integer, number, string, array, object)", refusal(s.validate, s, [[{"n":null}]]))
    assert.truthy(refusal(s.validate, s, [[{"n":1}]]):find("broken here", 1, true))
  end)

  it("reads an unknown type at the root without a pointer", function()
    local s = core.schema([[{"type":"#/definitions/instance"}]])
    assert.are.equal('the schema is broken here: #/type: unknown type "#/definitions/instance" ' ..
      "(null, boolean, integer, number, string, array, object)", refusal(s.validate, s, "{}"))
  end)

  it("makes a subschema that is not an object broken, wherever it is", function()
    local s = core.schema([=[{"properties":{"a/b":3,"c":{"anyOf":[{"type":"object"},[{"type":"string"}]]}}}]=])
    assert.is_true(s:validate("{}"))
    assert.is_true(s:validate([[{"c":{}}]])) -- anyOf stops at the first schema that matches
    assert.are.equal("/a~1b: the schema is broken here: #/properties/a~1b: a schema must be an object, not a number",
      refusal(s.validate, s, [[{"a/b":1}]]))
    assert.are.equal("/c: the schema is broken here: #/properties/c/anyOf/1: a schema must be an object, not an array",
      refusal(s.validate, s, [[{"c":"x"}]]))
  end)

  it("is only reached after the value's own failures, which come first", function()
    local s = core.schema([[{"required":["id"],"properties":{"n":{"type":"Number"}}}]])
    assert.are.same({ false, "missing required property 'id'" }, { s:validate([[{"n":1}]]) })
  end)
end)

describe("schema:validate on text that is not JSON", function()
  local s = core.schema("{}")

  it("raises InvalidParams naming what and where", function()
    assert.are.equal("invalid JSON: unexpected end at byte 1", refusal(s.validate, s, ""))
    assert.are.equal("invalid JSON: unexpected character at byte 4", refusal(s.validate, s, "[1,]"))
    assert.are.equal("invalid JSON: trailing characters at byte 4", refusal(s.validate, s, "{} x"))
    assert.are.equal("invalid JSON: leading zero at byte 1", refusal(s.validate, s, "01"))
    assert.are.equal("invalid JSON: number out of range at byte 1", refusal(s.validate, s, "1e400"))
  end)

  it("refuses text that is not UTF-8", function()
    assert.are.equal("invalid JSON: invalid UTF-8 at byte 2", refusal(s.validate, s, '"\xff"'))
    assert.are.equal("invalid JSON: invalid UTF-8 at byte 2", refusal(s.validate, s, '"\xed\xa0\x80"'))
  end)

  it("refuses a raw control character wherever it falls in a long string", function()
    for at = 1, 24 do -- every place within the 8-byte words the scanner reads at once
      local text = '"' .. ("a"):rep(at - 1) .. "\t" .. ("b"):rep(30 - at) .. '"'
      local message = refusal(s.validate, s, text)
      assert.are.equal("invalid JSON: control character in a string at byte " .. (at + 1), message)
    end
  end)

  it("reads a lone surrogate escape as U+FFFD", function()
    assert.is_true(core.schema([[{"enum":["\ufffd"]}]]):validate([["\ud800"]]))
  end)
end)

describe("deep nesting", function()
  it("stops at 2048 levels (the sandbox's parser's limit) with a clear error, at 100000 too", function()
    local deep = string.rep("[", 100000) .. string.rep("]", 100000)
    local s = core.schema("{}")
    assert.are.equal("invalid JSON: nesting deeper than 2048 levels at byte 2049", refusal(s.validate, s, deep))
    assert.are.equal("invalid schema: invalid JSON: nesting deeper than 2048 levels at byte 14337",
      refusal(core.schema, string.rep('{"not":', 100000) .. "{}" .. string.rep("}", 100000)))
  end)

  it("validates 1000 levels against a recursive schema", function()
    local s = core.schema([[{"type":"array","items":{"$ref":"#"}}]])
    assert.is_true(s:validate(string.rep("[", 1000) .. string.rep("]", 1000)))
    local ok, message = s:validate(string.rep("[", 300) .. "1" .. string.rep("]", 300))
    assert.is_false(ok)
    assert.are.equal(string.rep("/0", 300) .. ": must be an array, not a number", message)
    ok, message = s:validate(string.rep("[", 999) .. "1" .. string.rep("]", 999))
    assert.is_false(ok)
    assert.are.equal(string.rep("/0", 511) .. "/", message) -- a pointer of 1998 bytes, cut at 1023
  end)

  it("gives up, saying so, where schemas nest deeper than 5000 inside one another", function()
    local defs = {}
    for i = 1, 6000 do defs[i] = string.format('"d%d":{"allOf":[{"$ref":"#/definitions/d%d"}]}', i, i + 1) end
    defs[#defs + 1] = '"d6001":{"type":"string"}'
    local s = core.schema('{"definitions":{' .. table.concat(defs, ",") .. '},"$ref":"#/definitions/d1"}')
    assert.are.equal("the schemas nest deeper than 5000 levels here", refusal(s.validate, s, '"x"'))
  end)
end)

describe("patterns behave as ECMA 262's", function()
  it("run a look-ahead", function()
    local password = [[{"pattern":"^(?=.*[a-z]).{8,}$"}]]
    valid(password, [["ABCDEFGh"]])
    assert.are.equal("must match the pattern ^(?=.*[a-z]).{8,}$", why(password, [["ABCDEFGH"]]))
  end)

  it("read \\uXXXX and \\u{...} escapes as code points", function()
    valid([[{"pattern":"^\\u00e9t\\u00e9$"}]], [["été"]])
    valid([[{"pattern":"^\\u{1F600}$"}]], [["😀"]])
    why([[{"pattern":"^\\u00e9$"}]], [["e"]])
  end)

  it("search anywhere in the string: no implicit anchors", function()
    valid([[{"pattern":"b"}]], [["abc"]])
    valid([[{"patternProperties":{"^x":{"type":"number"}}}]], [[{"axe":"not governed"}]])
  end)

  it("let $ match only at the very end, and . stop at a line break", function()
    why([[{"pattern":"^a$"}]], [["a\n"]])
    why([[{"pattern":"^a.b$"}]], [["a\nb"]])
  end)

  it("count characters, not bytes", function()
    valid([[{"pattern":"^.{3}$"}]], [["été"]])
  end)

  it("answer as PCRE2 for a class under a count, which runs without it", function()
    -- ^[class]{m,n}$ and the like (Losant's ids and names) are decided
    -- without PCRE2 (sx_regex_simple): the same answers, edge by edge
    local id = [[{"pattern":"^[A-Fa-f\\d]{24}$"}]]
    valid(id, [["575ecf887ae143cd83dc4aa2"]])
    why(id, [["575ecf887ae143cd83dc4aa"]]) -- 23
    why(id, [["575ecf887ae143cd83dc4aa2f"]]) -- 25
    why(id, [["575ecf887ae143cd83dc4aa2\n"]]) -- $ only at the very end
    why(id, [["575ecf887ae143cd83dc4aa٢"]]) -- \d is ASCII only (no UCP)
    why(id, [["575ecf887ae143cd83dc4aag"]])
    local name = [[{"patternProperties":{"^[0-9a-zA-Z_-]{1,255}":{"type":"string"}},"additionalProperties":false}]]
    valid(name, [[{"a€":"x","-":"y"}]]) -- no $: the first character decides
    assert.are.equal("property '€a' is not allowed", why(name, [[{"€a":"x"}]]))
    assert.are.equal("property '' is not allowed", why(name, [[{"":"x"}]]))
    valid([[{"pattern":"^[\\w.\\]-]*$"}]], [["a_9.]-"]])
    why([[{"pattern":"^[\\w.\\]-]*$"}]], [["a b"]])
    valid([[{"pattern":"^[a-c]?$"}]], [[""]])
    why([[{"pattern":"^[a-c]?$"}]], [["ab"]])
    valid([[{"pattern":"^[a-c]{2,}$"}]], [["abcabc"]])
    why([[{"pattern":"^[a-c]{2,}$"}]], [["a"]])
    valid([[{"pattern":"^[-+]"}]], [["-1"]])
  end)

  it("give up on runaway backtracking, quickly and saying so", function()
    local s = core.schema([[{"properties":{"k":{"pattern":"^(a+)+$"}}}]])
    local started = core.now()
    assert.are.equal("/k: a pattern could not be run on this string: match limit exceeded",
      refusal(s.validate, s, '{"k":"' .. string.rep("a", 40) .. 'b"}'))
    assert.is_true(core.now() - started < 5)
    assert.is_true(s:validate('{"k":"' .. string.rep("a", 100000) .. '"}'))
  end)

  it("refuse a regex format with PCRE's own escapes", function()
    valid([[{"format":"regex"}]], [["^[a-z]+\\d$"]])
    assert.are.equal("must be a regular expression (ECMA 262)", why([[{"format":"regex"}]], [["^a\\Z"]]))
  end)
end)

describe("a 10 KB instance", function()
  local schema = [[{
    "type": "object", "required": ["applicationId", "events"], "additionalProperties": false,
    "properties": {
      "applicationId": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
      "events": {"type": "array", "maxItems": 500, "items": {"$ref": "#/definitions/event"}}
    },
    "definitions": {
      "event": {
        "type": "object", "required": ["id", "subject", "level", "state", "creationDate"],
        "properties": {
          "id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
          "subject": {"type": "string", "minLength": 1, "maxLength": 255},
          "level": {"enum": ["info", "warning", "error", "critical"]},
          "state": {"enum": ["new", "acknowledged", "resolved"]},
          "creationDate": {"type": "string", "format": "date-time"},
          "data": {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean", "null"]}},
          "url": {"type": "string", "format": "url"}
        }
      }
    }
  }]]

  local function instance()
    local events = {}
    for i = 1, 60 do
      events[i] = string.format('{"id":"%024x","subject":"Temperature above threshold on sensor %d",' ..
        '"level":"critical","state":"new","creationDate":"2024-05-%02dT10:%02d:00.000Z",' ..
        '"data":{"temp":%d.5,"ok":false},"url":"https://app.losant.com/e/%d"}', i, i, i % 28 + 1, i % 60, 20 + i, i)
    end
    return '{"applicationId":"5b9a8f1c2d3e4f5a6b7c8d9e","events":[' .. table.concat(events, ",") .. "]}"
  end

  it("validates, and tells the one bad value in it", function()
    local text = instance()
    assert.is_true(#text >= 10 * 1024, #text)
    local s = core.schema(schema)
    assert.is_true(s:validate(text))
    local bad = text:gsub('"state":"new"', '"state":"old"', 38):gsub('"state":"old"', '"state":"new"', 37)
    assert.are.same({ false, "/events/37/state: must be one of new, acknowledged, resolved" }, { s:validate(bad) })
  end)
end)
