-- The official JSON-Schema-Test-Suite, draft 4 (Debian's json-schema-test-suite),
-- run case by case through core.schema and schema:validate.
--
-- Every schema and every instance is fed as JSON TEXT with its numbers exact:
-- the suite file is read with the core's exact decoder (core.json_decode keeps
-- integers as integers and 1.0 as a float), and each piece is written again by
-- to_text below, which uses core.json_encode for every number, string and key.
-- core.json_encode alone would not do: it writes an integral float as an
-- integer (1.0 as "1", see spec/client/json_spec.lua), so to_text puts the
-- ".0" back on those floats. A bignum the decoder could only keep as a double
-- travels in exponent form (1.2345678910111214e+52), with its double's value.
--
-- Not run, and why (each one is instead checked to be refused by core.schema,
-- naming the reference it cannot follow):
--   refRemote.json: every case needs remote references (http://localhost:1234/...);
--     only local references ("#" and a JSON pointer) are supported.
--   definitions.json: validates through {"$ref": "http://json-schema.org/draft-04/schema#"},
--     the draft-04 meta-schema as a remote reference.
--   ref.json "remote ref, containing refs itself": the same meta-schema reference.
--   ref.json "Recursive references between schemas": resolves "$ref": "node" against
--     the base URIs that "id" sets; "id" scoping is not supported.
-- Run with a deliberate difference (the case asserts our answer, the opposite
-- of the suite's):
--   optional/zeroTerminatedFloats.json "a float is not an integer even without
--     fractional part": an integer is a number whose value has no fractional
--     part, so 1.0 is an integer (the suite's later draft4 type.json says so
--     too: "a float with zero fractional part is an integer"; this optional file
--     is for languages that keep 1.0 apart).
-- Everything else runs: all of optional/format.json (date-time, email, uri,
-- ipv4, ipv6, hostname), optional/bignum.json, optional/ecmascript-regex.json.
local core = require "eventapi.core"

local DIR = "/usr/share/json-schema-test-suite/tests/draft4/"

local REMOTE = "is not a local reference"
local SKIPPED_FILES = { ["refRemote.json"] = REMOTE, ["definitions.json"] = REMOTE }
local SKIPPED_GROUPS = {
  ["ref.json"] = {
    ["remote ref, containing refs itself"] = REMOTE,
    ["Recursive references between schemas"] = REMOTE,
  },
}
local DEVIATIONS = {
  ["optional/zeroTerminatedFloats.json"] = {
    ["a float is not an integer even without fractional part"] = "1.0 is an integer by value",
  },
}

-- The JSON text of a decoded value, numbers exact (see the head of the file).
local function to_text(v)
  if type(v) ~= "table" then
    local text = core.json_encode(v)
    if math.type(v) == "float" and not text:find("[.eE]") then text = text .. ".0" end
    return text
  end
  local parts = {}
  if getmetatable(v) == core.array then -- the decoder marks its arrays
    for i = 1, #v do parts[i] = to_text(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = core.json_encode(k) .. ":" .. to_text(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

local function suite_files()
  local files = {}
  local ls = assert(io.popen("cd " .. DIR .. " && ls *.json optional/*.json"))
  for name in ls:lines() do files[#files + 1] = name end
  ls:close()
  return files
end

describe("the JSON-Schema-Test-Suite draft4", function()
  it("is installed, with its files", function()
    assert.is_true(#suite_files() >= 30, "json-schema-test-suite is missing (make deps)")
  end)

  for _, file in ipairs(suite_files()) do
    local groups = core.json_decode(read(DIR .. file))
    describe(file, function()
      for _, group in ipairs(groups) do
        local schema_text = to_text(group.schema)
        local skip = SKIPPED_FILES[file] or (SKIPPED_GROUPS[file] or {})[group.description]
        if skip then
          it(group.description .. ": the schema is refused, its reference named", function()
            local ok, err = pcall(core.schema, schema_text)
            assert.is_false(ok)
            assert.are.equal("InvalidParams", err.type)
            assert.truthy(err.message:find(skip, 1, true), err.message)
          end)
        else
          describe(group.description, function()
            for _, case in ipairs(group.tests) do
              local deviation = (DEVIATIONS[file] or {})[case.description]
              local expected = case.valid
              if deviation then expected = not expected end
              local name = case.description .. (deviation and " (deliberately the opposite: " .. deviation .. ")" or "")
              it(name, function()
                local s = core.schema(schema_text)
                local valid, why = s:validate(to_text(case.data))
                assert.are.equal(expected, valid, why)
                if not valid then assert.is_true(type(why) == "string" and #why > 0, tostring(why)) end
              end)
            end
          end)
        end
      end
    end)
  end
end)
