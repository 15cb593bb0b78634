-- The committed Losant rows and schemas are what tools/gen_losant.lua
-- writes from the official client's definitions (run `make losant-api`
-- after changing the generator). Needs losant-rest (`make test` installs it
-- when npm is reachable; EVENTAPI_LOSANT_REST names its node_modules); pending without.
local losant = require "eventapi.losant"

local MODULES = os.getenv("EVENTAPI_LOSANT_REST")
  or ((os.getenv("EVENTAPI_BUILD") or "build") .. "/losant-rest/node_modules")
local PACKAGE = MODULES .. "/losant-rest"

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function list(dir)
  local names = {}
  for name in io.popen(("ls %q"):format(dir)):lines() do names[#names + 1] = name end
  table.sort(names)
  return names
end

describe("the generated Losant rows", function()
  local out

  setup(function()
    if not read(PACKAGE .. "/package.json") then return end
    out = os.tmpname()
    os.remove(out)
    assert(os.execute(("mkdir -p %q %q"):format(out .. "/lua/eventapi/losant_api", out .. "/lua/eventapi/schemas/losant")))
    assert(os.execute(("lua5.4 tools/gen_losant.lua %q %q 2>/dev/null"):format(PACKAGE, out)))
  end)

  teardown(function()
    if out then os.execute(("rm -rf %q"):format(out)) end
  end)

  local function need_package()
    if not out then pending("losant-rest is not here (make test installs it when npm is reachable)") end
    return out ~= nil
  end

  it("are, file by file, what the generator writes", function()
    if not need_package() then return end
    assert.are.same(list(out .. "/lua/eventapi/losant_api"), list("lua/eventapi/losant_api"))
    for _, name in ipairs(list(out .. "/lua/eventapi/losant_api")) do
      assert.are.equal(read(out .. "/lua/eventapi/losant_api/" .. name), read("lua/eventapi/losant_api/" .. name), name)
    end
    assert.are.equal(read(out .. "/lua/eventapi/losant_api.lua"), read("lua/eventapi/losant_api.lua"))
  end)

  it("carry exactly the schemas the generator writes", function()
    if not need_package() then return end
    local committed = {}
    for _, name in ipairs(list("lua/eventapi/schemas/losant")) do
      if name:match("%.json$") then committed[#committed + 1] = name end
    end
    assert.are.same(list(out .. "/lua/eventapi/schemas/losant"), committed)
    for _, name in ipairs(committed) do
      assert.are.equal(read(out .. "/lua/eventapi/schemas/losant/" .. name), read("lua/eventapi/schemas/losant/" .. name),
                       name)
    end
  end)

  it("are what the sandbox's table of actions was generated from (sandbox/losant_actions.c)", function()
    local f = io.popen("lua5.4 tools/gen_sandbox_actions.lua 2>&1")
    local text = f:read("a")
    f:close()
    assert.are.equal(read("sandbox/losant_actions.c"), text)
  end)

  it("hold the 273 actions of 74 resources of losant-rest 2.8.1", function()
    assert.are.equal("2.8.1", losant.version)
    assert.are.equal(74, #losant.resources)
    assert.are.equal(273, #losant.operations)
  end)

  it("count 111 GET, 78 POST, 47 PATCH and 37 DELETE actions", function()
    local methods = {}
    for _, row in ipairs(losant.operations) do methods[row.method] = (methods[row.method] or 0) + 1 end
    assert.are.same({ GET = 111, POST = 78, PATCH = 47, DELETE = 37 }, methods)
  end)

  it("mark four uploads and three streams", function()
    local uploads, streams = {}, {}
    for _, row in ipairs(losant.operations) do
      if row.upload then uploads[#uploads + 1] = row.name end
      if row.stream then streams[#streams + 1] = row.name end
    end
    assert.are.same({ "application.import", "applications.import", "file.upload", "notebook.upload" }, uploads)
    assert.are.same({ "application.mqttSubscriptionStream", "device.commandStream", "device.stateStream" }, streams)
  end)

  it("refuse a filter without its filterField wherever an action takes both", function()
    local n = 0
    for _, row in ipairs(losant.operations) do
      local by = {}
      for _, p in ipairs(row.params) do by[p.name] = p end
      if by.filter and by.filterField then
        assert.are.equal("filterField", by.filter.requires, row.name)
        n = n + 1
      end
    end
    assert.are.equal(33, n)
  end)

  it("page every list that takes page and perPage, or limit and offset", function()
    for _, row in ipairs(losant.operations) do
      local by = {}
      for _, p in ipairs(row.params) do by[p.name] = true end
      local style = (by.page and by.perPage) and "page" or (by.limit and by.offset) and "offset" or nil
      assert.are.equal(style, row.pages, row.name)
    end
  end)

  it("load a resource's rows only when it is first used", function()
    local code = [[
      local losant = require "eventapi.losant"
      local client = require("eventapi").losant({ url = "http://127.0.0.1:1", token = "t" })
      local before = 0
      for name in pairs(package.loaded) do if name:match("^eventapi%.losant_api%.") then before = before + 1 end end
      local _ = client.device.get
      local after = {}
      for name in pairs(package.loaded) do if name:match("^eventapi%.losant_api%.") then after[#after + 1] = name end end
      io.write(before, " ", table.concat(after, ","))
    ]]
    local path = os.tmpname()
    local file = assert(io.open(path, "w"))
    file:write(code)
    file:close()
    local f = io.popen("lua5.4 " .. path)
    local said = f:read("a")
    f:close()
    os.remove(path)
    assert.are.equal("0 eventapi.losant_api.device", said)
  end)
end)
