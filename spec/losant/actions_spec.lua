-- The whole Losant API from a runbook: the generated actions' kinds, the
-- bracket form of hash params, Unsupported streams, the filter
-- rule and dry-run validation carried to every action, lazy resources.
local sandbox = require "helpers.sandbox"
local internals = require "helpers.internals"
local eventapi = require "eventapi"

local APP = "575ec8687ae143cd83dc4a97"
local DEVICE = "575ecf887ae143cd83dc4aa2"

describe("a generated Losant action", function()
  local sb, losant

  setup(function()
    sb = sandbox.start()
    losant = sb.losant()
  end)
  teardown(function()
    losant:close()
    sb.stop()
  end)
  before_each(function() sandbox.clear_requests(sb) end)

  local function sent()
    local r = sandbox.requests(sb)
    return r[#r]
  end

  local function refused(p)
    local err = sandbox.rejection(p)
    assert.are.equal(0, #sandbox.requests(sb))
    return err
  end

  it("sends a list hash param in bracket form, counting from 0", function()
    local p = losant.devices.get({ applicationId = APP, deviceClass = { "gateway", "standalone" } })
    pcall(p.await, p)
    assert.are.equal("_actions=false&_links=true&_embedded=true&deviceClass%5B0%5D=gateway&deviceClass%5B1%5D=standalone",
                     sent().query)
  end)

  it("sends an object hash param with its keys in sorted order, nested", function()
    local p = losant.devices.get({ applicationId = APP, tagFilter = { { value = "v", key = "k" } } })
    pcall(p.await, p)
    assert.truthy(sent().query:find("&tagFilter%5B0%5D%5Bkey%5D=k&tagFilter%5B0%5D%5Bvalue%5D=v", 1, true),
                  sent().query)
  end)

  it("sends true, false, numbers and null inside a hash as the official client does", function()
    local p = losant.devices.get({ applicationId = APP, tagFilter = { { a = true, b = false, c = 1.5, d = eventapi.json.null } } })
    pcall(p.await, p)
    assert.truthy(sent().query:find("%5Ba%5D=true&tagFilter%5B0%5D%5Bb%5D=false&tagFilter%5B0%5D%5Bc%5D=1.5"
                                    .. "&tagFilter%5B0%5D%5Bd%5D=", 1, true), sent().query)
  end)

  it("sends nothing for an empty hash", function()
    local p = losant.devices.get({ applicationId = APP, tagFilter = {} })
    pcall(p.await, p)
    assert.are.equal("_actions=false&_links=true&_embedded=true", sent().query)
  end)

  it("refuses a hash param that is not a table, before any traffic", function()
    local err = refused(losant.devices.get({ applicationId = APP, tagFilter = "k=v" }))
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("devices.get: tagFilter must be a table, not 'k=v'", err.message)
  end)

  it("refuses a hash mixing list items and keys", function()
    local err = refused(losant.devices.get({ applicationId = APP, tagFilter = { "a", key = "k" } }))
    assert.truthy(err.message:find("tagFilter", 1, true), err.message)
  end)

  it("refuses a hash holding a function", function()
    local err = refused(losant.devices.get({ applicationId = APP, tagFilter = { key = print } }))
    assert.truthy(err.message:find("tagFilter must be a table of strings, numbers and booleans", 1, true), err.message)
  end)

  it("refuses a hash holding a number that is not finite", function()
    local err = refused(losant.devices.get({ applicationId = APP, tagFilter = { { value = 0 / 0 } } }))
    assert.truthy(err.message:find("tagFilter must be a finite number", 1, true), err.message)
  end)

  it("refuses a hash nested deeper than 32 levels", function()
    local deep = {}
    local t = deep
    for _ = 1, 40 do t.x = {}; t = t.x end
    local err = refused(losant.devices.get({ applicationId = APP, tagFilter = deep }))
    assert.are.equal("devices.get: tagFilter nests deeper than 32 levels", err.message)
  end)

  it("takes an integer param as a Lua integer or as its digits", function()
    local p = losant.device.getState({ applicationId = APP, deviceId = DEVICE, limit = "5", since = -60000 })
    pcall(p.await, p)
    assert.truthy(sent().query:find("&limit=5&since=-60000", 1, true), sent().query)
  end)

  it("refuses an integer param's text that is not digits", function()
    local err = refused(losant.device.getState({ applicationId = APP, deviceId = DEVICE, limit = "5 rows" }))
    assert.are.equal("device.getState: limit must be a whole number, not '5 rows'", err.message)
  end)

  it("refuses a filter without its filterField on any action that takes both", function()
    local err = refused(losant.devices.get({ applicationId = APP, filter = "pump*" }))
    assert.are.equal("devices.get: filter needs filterField (without it the server ignores filter)", err.message)
  end)

  it("refuses a param its query overrides on any action", function()
    local err = refused(losant.devices.get({ applicationId = APP, query = { name = "x" }, parentId = DEVICE }))
    assert.are.equal("devices.get: query overrides parentId: put parentId inside the query", err.message)
  end)

  it("checks a dry run's body against the action's schema, sending nothing", function()
    local dry = sb.losant({ dry_run = function() end })
    local err = refused(dry.devices.post({ applicationId = APP, device = { name = 5 } }))
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("^devices%.post: device"), err.message)
    dry:close()
  end)

  it("prints a valid dry-run write of any action instead of sending it", function()
    local lines = {}
    local dry = sb.losant({ dry_run = function(line) lines[#lines + 1] = line end })
    dry.flow.patch({ applicationId = APP, flowId = DEVICE, flow = { enabled = false } }):await()
    assert.are.equal(1, #lines)
    assert.truthy(lines[1]:find('^%[dry run%] PATCH .*/flows/' .. DEVICE .. '%?.* {"enabled":false}$'), lines[1])
    assert.are.equal(0, #sandbox.requests(sb))
    dry:close()
  end)

  it("builds each request once, as every other call", function()
    local before = internals.builds()
    local p = losant.webhooks.get({ applicationId = APP })
    pcall(p.await, p)
    assert.are.equal(before + 1, internals.builds())
  end)
end)
