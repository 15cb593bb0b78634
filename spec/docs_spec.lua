-- The API reference is generated from the code, never edited by hand, and
-- covers everything the code exports or accepts.
local gendocs = dofile("tools/gendocs.lua")

local services = require "eventapi.services"

--- The "## <title> operations" section of the reference of a service descriptor.
local function section(text, service)
  local heading = "\n## " .. service.title .. " operations\n"
  local from = assert(text:find(heading, 1, true), heading)
  local to = text:find("\n## ", from + #heading, true) or #text + 1
  return text:sub(from, to)
end

describe("docs/API.md", function()
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
  end

  it("is exactly what tools/gendocs.lua generates (run make docs after changing the code)", function()
    assert.are.equal(gendocs.generate(), read("docs/API.md"))
  end)

  it("is generated the same way every time", function()
    assert.are.equal(gendocs.generate(), gendocs.generate())
  end)

  it("lists every operation of every service of the registry", function()
    local text = read("docs/API.md")
    for _, service in ipairs(services.list) do
      local part = section(text, service)
      for _, op in ipairs(service.operations) do
        assert.truthy(part:find("| `" .. op.name .. "` | " .. op.method, 1, true), service.name .. " " .. op.name)
      end
    end
  end)

  it("documents the constructor of every service of the registry", function()
    local text = read("docs/API.md")
    for _, service in ipairs(services.list) do
      assert.truthy(text:find("\n- " .. service.doc .. "\n", 1, true), service.name)
      assert.truthy(text:find("`eventapi." .. service.name .. "{...}` gives a client", 1, true), service.name)
    end
  end)

  it("says what every operation resolves with (a non-empty returns in each row)", function()
    local text = read("docs/API.md")
    assert.truthy(text:find("| call | method | path | params | pages | resolves with |", 1, true))
    for _, service in ipairs(services.list) do
      local module = service.name
      local part = section(text, service)
      for _, op in ipairs(service.operations) do
        assert.are.equal("string", type(op.returns), module .. " " .. op.name .. ": returns")
        assert.truthy(op.returns:find("%S"), module .. " " .. op.name .. ": returns is empty")
        assert.falsy(op.returns:find("[|\r\n]"), module .. " " .. op.name .. ": returns must fit in a table cell")
        local row = part:match("\n(| `" .. op.name:gsub("%p", "%%%0") .. "` | " .. op.method .. " |[^\n]*)")
        assert.truthy(row, module .. " " .. op.name)
        assert.are.equal(" " .. op.returns .. " |", row:sub(-#op.returns - 3), module .. " " .. op.name)
      end
    end
  end)

  it("refuses to generate when an operation has no returns", function()
    local op = services.of("monterosa").operations[1]
    local saved = op.returns
    op.returns = nil
    local ok, err = pcall(gendocs.generate)
    op.returns = saved
    assert.is_false(ok)
    assert.truthy(tostring(err):find(op.name, 1, true))
  end)

  it("documents the headers param, each and all with limit and progress", function()
    local text = read("docs/API.md")
    assert.truthy(text:find("every call also takes `headers`", 1, true))
    assert.truthy(text:find("each{params..., limit =, progress =}", 1, true))
    assert.truthy(text:find("all({params..., limit =, progress =}, [callback])", 1, true))
  end)

  it("documents everything the eventapi module exports", function()
    local text = read("docs/API.md")
    local eventapi = require("eventapi")
    for name in pairs(eventapi) do
      assert.truthy(text:find("eventapi." .. name, 1, true), name)
    end
    for name in pairs(eventapi.json) do
      assert.truthy(text:find("eventapi.json." .. name, 1, true), "json." .. name)
    end
    assert.truthy(text:find("`eventapi.version`: the library's version, `\"" .. eventapi.version .. "\"`", 1, true))
  end)

  it("lists every error field and every error type", function()
    local text = read("docs/API.md")
    local Error = require("eventapi.errors")
    for _, row in ipairs(Error.FIELDS) do
      assert.truthy(text:find("| `" .. row[1] .. "` | ", 1, true), "field " .. row[1])
    end
    for _, row in ipairs(Error.TYPES) do
      for name in row[1]:gmatch("[^,%s]+") do
        assert.truthy(text:find("`" .. name .. "`", 1, true), "type " .. name)
      end
    end
  end)

  describe("client options", function()
    local Client = require("eventapi.client")

    it("has one OPTION_DOCS row, with a default and a meaning, for every key of Client.OPTIONS", function()
      local documented = {}
      for _, row in ipairs(Client.OPTION_DOCS) do
        local name, default, meaning = row[1], row[2], row[3]
        assert.truthy(Client.OPTIONS[name], "OPTION_DOCS names an option that does not exist: " .. tostring(name))
        assert.is_nil(documented[name], "documented twice: " .. name)
        documented[name] = true
        assert.truthy(type(default) == "string" and default:find("%S"), name .. ": no default")
        assert.truthy(type(meaning) == "string" and meaning:find("%S"), name .. ": no meaning")
      end
      for name in pairs(Client.OPTIONS) do assert.truthy(documented[name], "undocumented option " .. name) end
    end)

    it("appears in docs/API.md with its type, default and meaning", function()
      local text = read("docs/API.md")
      for _, row in ipairs(Client.OPTION_DOCS) do
        local line = ("| `%s` | %s | %s | %s |"):format(row[1], Client.OPTIONS[row[1]], row[2], row[3])
        assert.truthy(text:find(line, 1, true), row[1])
      end
    end)

    it("refuses to generate when an option is undocumented", function()
      Client.OPTIONS.undocumented_option = "string"
      local ok, err = pcall(gendocs.generate)
      Client.OPTIONS.undocumented_option = nil
      assert.is_false(ok)
      assert.truthy(tostring(err):find("undocumented_option", 1, true))
    end)

    it("gives the defaults a client really has", function()
      local defaults = {}
      for _, row in ipairs(Client.OPTION_DOCS) do defaults[row[1]] = row[2] end
      local client = require("eventapi").losant{}
      for name, value in pairs(client.limits) do -- the numeric options in effect: defaults only here
        assert.are.equal(tostring(value), defaults[name], name)
      end
      for _, h in ipairs(services.of("losant").headers({})) do
        local version = h:match("^Accept%-Version: (.*)$")
        if version then assert.are.equal("`" .. version .. "`", defaults.accept_version) end
      end
      client:close()
    end)
  end)
end)
