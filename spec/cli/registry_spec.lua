-- The registry of the services (eventapi.services) is the one list of them:
-- every service module returns the same shape, and the constructors, the
-- command's help, completion and messages all come from the registry.
local services = require "eventapi.services"
local eventapi = require "eventapi"
local cli = require "eventapi.cli"

--- Runs cli.main in this process with the given variables only; returns
-- { code, stdout, stderr }.
local function run(argv, vars)
  local out, err = {}, {}
  local function sink(list)
    return { write = function(self, ...)
      for _, s in ipairs({ ... }) do list[#list + 1] = s end
      return self
    end }
  end
  local code = cli.main(argv, { getenv = function(name) return (vars or {})[name] end, stdout = sink(out),
                                stderr = sink(err), isatty = function() return false end })
  return { code = code, stdout = table.concat(out), stderr = table.concat(err) }
end

describe("the registry of the services", function()
  it("lists each service once, by name and in order", function()
    assert.are.equal(#services.names, #services.list)
    for i, service in ipairs(services.list) do
      assert.are.equal(service.name, services.names[i])
      assert.are.equal(service, services.by_name[service.name])
      assert.are.equal(service, services.of(service.name))
    end
    local ok, err = pcall(services.of, "nope")
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("no service named nope (services: " .. table.concat(services.names, ", ") .. ")", err.message)
    assert.are.equal(table.concat(services.names, ", "), services.names_text())
  end)

  it("has service modules that all return { service = <descriptor>, operations = <its rows> }", function()
    for _, service in ipairs(services.list) do
      local module = require("eventapi." .. service.name)
      assert.are.equal(service, module.service, service.name)
      assert.are.equal(service.operations, module.operations, service.name)
    end
  end)

  it("gives every descriptor the one shape", function()
    for _, s in ipairs(services.list) do
      for _, key in ipairs({ "name", "title", "summary", "doc", "content_type", "accept" }) do
        assert.are.equal("string", type(s[key]), s.name .. "." .. key)
      end
      assert.truthy(s.doc:find("^eventapi%." .. s.name .. "{"), s.name .. ".doc")
      assert.are.equal("function", type(s.headers), s.name .. ".headers")
      assert.truthy(#s.operations > 0, s.name .. ".operations")
      local options = {}
      for _, e in ipairs(s.env) do
        assert.are.equal("string", type(e.option), s.name)
        assert.truthy(e.variable:find("^" .. s.name:upper() .. "_"), e.variable)
        options[e.option] = true
      end
      assert.truthy(options.url, s.name .. ": url has a variable")
      assert.truthy(#s.credentials > 0, s.name .. ".credentials")
      for _, k in ipairs(s.credentials) do assert.truthy(options[k], s.name .. ": credential " .. k) end
      assert.is_true(s.default_url == nil or type(s.default_url) == "string", s.name .. ".default_url")
    end
  end)

  it("makes the constructors of the eventapi module, with each service's functions", function()
    for _, s in ipairs(services.list) do
      local make = eventapi[s.name]
      assert.truthy(type(make) == "function" or getmetatable(make).__call, s.name)
      for name in pairs(s.functions or {}) do assert.are.equal("function", type(make[name]), s.name .. "." .. name) end
      local client = make({ url = "http://127.0.0.1:1", token = "t" })
      assert.are.equal(s, client.service)
      client:close()
    end
  end)

  it("is what the command's help, completion and messages list", function()
    local help = run({ "--help" })
    assert.are.equal(0, help.code)
    for _, s in ipairs(services.list) do
      local variables = {}
      for _, e in ipairs(s.env) do variables[#variables + 1] = e.variable end
      assert.truthy(help.stdout:find(("  %-13s %s (%s)\n"):format(s.name, s.summary, table.concat(variables, ", ")),
                                     1, true), s.name)
    end
    local completion = run({ "completion", "bash" })
    assert.truthy(completion.stdout:find(('"") reply="%s run completion env help" ;;'):format(
      table.concat(services.names, " ")), 1, true))
    local unknown = run({ "nope" })
    assert.are.equal(2, unknown.code)
    assert.are.equal(("eventapi: unknown service 'nope' (services: %s; run 'eventapi --help')\n"):format(
      services.names_text()), unknown.stderr)
  end)

  it("names each service's variable that is missing (its URL, else its token)", function()
    for _, s in ipairs(services.list) do
      local var = {}
      for _, e in ipairs(s.env) do var[e.option] = e.variable end
      local missing = run({ s.name, s.operations[1].name:match("^(%w+)%.(.+)$") }, {})
      assert.are.equal(2, missing.code, s.name)
      assert.truthy(missing.stderr:find("^eventapi: " .. s.name), missing.stderr)
      assert.truthy(missing.stderr:find(s.default_url and var.token or var.url, 1, true), missing.stderr)
    end
  end)
end)
