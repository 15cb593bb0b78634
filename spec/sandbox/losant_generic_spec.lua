-- The sandbox answers every other Losant action (sandbox/losant_generic.c,
-- sandbox/losant_device_data.c) from the generated table of actions, over
-- real HTTP, through the library's client.
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local UNKNOWN = "aaaaaaaaaaaaaaaaaaaaaaaa"

describe("the Losant sandbox's other actions", function()
  local sb, client

  -- Runs a client call; returns ok and the value or the error object.
  local function try(p) return pcall(p.await, p) end
  local function new_device(name)
    return client.devices.post({ applicationId = APP, device = { name = name } }):await()
  end

  before_each(function()
    sb = sandbox.start()
    client = sb.losant()
  end)
  after_each(function()
    client:close()
    sb.stop()
  end)

  describe("devices", function()
    it("creates a device with a 24-hex id and its dates", function()
      local dev = new_device("Boiler")
      assert.truthy(dev.id:match("^%x+$") and #dev.id == 24)
      assert.are.equal(dev.id, dev.deviceId)
      assert.are.equal(APP, dev.applicationId)
      assert.truthy(dev.creationDate and dev.lastUpdated)
    end)

    it("gets a created device", function()
      local dev = new_device("Boiler")
      assert.are.equal("Boiler", client.device.get({ applicationId = APP, deviceId = dev.id }):await().name)
    end)

    it("merges a patch into the device", function()
      local dev = new_device("Boiler")
      client.device.patch({ applicationId = APP, deviceId = dev.id, device = { description = "hot" } }):await()
      local got = client.device.get({ applicationId = APP, deviceId = dev.id }):await()
      assert.are.equal("hot", got.description)
      assert.are.equal("Boiler", got.name)
    end)

    it("deletes a device, which is then not found", function()
      local dev = new_device("Boiler")
      assert.is_true(client.device.delete({ applicationId = APP, deviceId = dev.id }):await().success)
      local ok, err = try(client.device.get({ applicationId = APP, deviceId = dev.id }))
      assert.is_false(ok)
      assert.are.equal(404, err.status)
    end)

    it("lists devices a page at a time in the Losant page shape", function()
      for _, name in ipairs({ "a", "b", "c" }) do new_device(name) end
      local page = client.devices.get({ applicationId = APP, perPage = 2, page = 1 }):await()
      assert.are.equal(3, page.totalCount)
      assert.are.equal(1, page.count)
      assert.are.equal(2, page.perPage)
      assert.are.equal(1, page.page)
      assert.are.equal("c", page.items[1].name)
    end)

    it("filters the list with a glob and sorts it", function()
      for _, name in ipairs({ "pump-1", "valve", "pump-2" }) do new_device(name) end
      local page = client.devices.get({ applicationId = APP, filterField = "name", filter = "pump*",
        sortField = "name", sortDirection = "desc" }):await()
      assert.are.equal(2, page.totalCount)
      assert.are.equal("pump-2", page.items[1].name)
      assert.are.equal("pump-1", page.items[2].name)
    end)

    it("keeps only the devices holding every tag pair of a tagFilter, read in bracket form", function()
      for _, d in ipairs({ { "pump-1", "2" }, { "pump-2", "2" }, { "pump-3", "3" } }) do
        client.devices.post({ applicationId = APP, device = { name = d[1],
          tags = { { key = "floor", value = d[2] }, { key = "kind", value = "pump" } } } }):await()
      end
      local page = client.devices.get({ applicationId = APP, sortField = "name",
        tagFilter = { { key = "floor", value = "2" }, { key = "kind", value = "pump" } } }):await()
      assert.are.same({ "pump-1", "pump-2" }, { page.items[1].name, page.items[2] and page.items[2].name })
      assert.are.equal(2, page.totalCount)
    end)

    it("keeps a command sent by tag for the devices with the tag only", function()
      local tagged = client.devices.post({ applicationId = APP, device = { name = "t",
        tags = { { key = "floor", value = "2" } } } }):await()
      local other = new_device("o")
      client.devices.sendCommand({ applicationId = APP, multiDeviceCommand = { name = "restart",
        payload = { n = 1 }, deviceTags = { { key = "floor", value = "2" } } } }):await()
      local got = client.device.getCommand({ applicationId = APP, deviceId = tagged.id }):await()
      assert.are.equal("restart", got[1].name)
      assert.are.equal(1, got[1].payload.n)
      assert.are.equal(0, #client.device.getCommand({ applicationId = APP, deviceId = other.id }):await())
    end)

    it("takes the upper-case sort directions the client allows", function()
      for _, name in ipairs({ "a", "b" }) do new_device(name) end
      local page = client.devices.get({ applicationId = APP, sortField = "name", sortDirection = "DESC" }):await()
      assert.are.equal("b", page.items[1].name)
    end)

    it("answers 404 Device was not found for an unknown device id", function()
      local ok, err = try(client.device.get({ applicationId = APP, deviceId = UNKNOWN }))
      assert.is_false(ok)
      assert.are.equal(404, err.status)
      assert.are.equal("Device was not found", err.body.message)
    end)

    it("answers 404 Application was not found for an unknown application", function()
      local ok, err = try(client.devices.get({ applicationId = UNKNOWN }))
      assert.is_false(ok)
      assert.are.equal(404, err.status)
      assert.are.equal("Application was not found", err.body.message)
    end)

    it("answers 403 for a token without the action's scope", function()
      local narrow = sb.losant({ token = "sandbox-events-get" })
      local ok, err = try(narrow.devices.get({ applicationId = APP }))
      narrow:close()
      assert.is_false(ok)
      assert.are.equal(403, err.status)
    end)

    it("answers 403 when the read-only token creates a device", function()
      local ro = sb.losant({ token = "sandbox-read-only" })
      local ok, err = try(ro.devices.post({ applicationId = APP, device = { name = "x" } }))
      ro:close()
      assert.is_false(ok)
      assert.are.equal(403, err.status)
    end)

    it("lets the read-only token list devices", function()
      new_device("Boiler")
      local ro = sb.losant({ token = "sandbox-read-only" })
      local ok, page = try(ro.devices.get({ applicationId = APP }))
      ro:close()
      assert.is_true(ok)
      assert.are.equal(1, page.totalCount)
    end)

    it("answers 400 Validation for a body its schema refuses", function()
      local res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/devices",
        { token = sandbox.token, json = { name = 5 } })
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find("devicePost", 1, true))
    end)
  end)

  describe("device state", function()
    local function send_states(id)
      client.device.sendState({ applicationId = APP, deviceId = id, deviceState = {
        { time = 1700000000000, data = { temp = 20 } },
        { time = 1700000060000, data = { temp = 21, hum = 40 } },
      } }):await()
    end

    it("keeps sent states and answers the latest ones, newest last", function()
      local dev = new_device("Sensor")
      send_states(dev.id)
      local states = client.device.getState({ applicationId = APP, deviceId = dev.id, limit = 2 }):await()
      assert.are.equal(2, #states)
      assert.are.equal(21, states[2].data.temp)
    end)

    it("answers the latest states newest first when asked for sortDirection desc", function()
      local dev = new_device("Sensor")
      send_states(dev.id)
      local states = client.device.getState({ applicationId = APP, deviceId = dev.id, limit = 1,
        sortDirection = "desc" }):await()
      assert.are.equal(1, #states)
      assert.are.equal(21, states[1].data.temp)
    end)

    it("answers the composite state of the latest values", function()
      local dev = new_device("Sensor")
      send_states(dev.id)
      local comp = client.device.getCompositeState({ applicationId = APP, deviceId = dev.id }):await()
      assert.are.equal(21, comp.temp.value)
      assert.are.equal(40, comp.hum.value)
    end)

    it("answers a last value query from the kept states", function()
      local dev = new_device("Sensor")
      send_states(dev.id)
      local data = client.data.lastValueQuery({ applicationId = APP, query = { deviceIds = { dev.id } } }):await()
      assert.are.equal(21, data[dev.id].data.temp)
    end)

    it("answers a time series query with the kept points of the window", function()
      local dev = new_device("Sensor")
      send_states(dev.id)
      local data = client.data.timeSeriesQuery({ applicationId = APP, query = { deviceIds = { dev.id },
        start = 1699999999000, ["end"] = 1700000100000 } }):await()
      assert.are.equal(2, #data.devices[dev.id].points)
    end)
  end)

  it("keeps a sent command for getCommand", function()
    local dev = new_device("Valve")
    client.device.sendCommand({ applicationId = APP, deviceId = dev.id,
      deviceCommand = { name = "open", payload = { pct = 50 } } }):await()
    local cmds = client.device.getCommand({ applicationId = APP, deviceId = dev.id }):await()
    assert.are.equal("open", cmds[1].name)
  end)

  it("keeps a flow's enabled flag set by a patch", function()
    local flow = client.flows.post({ applicationId = APP, flow = { name = "Alarms", enabled = true } }):await()
    client.flow.patch({ applicationId = APP, flowId = flow.id, flow = { enabled = false } }):await()
    assert.is_false(client.flow.get({ applicationId = APP, flowId = flow.id }):await().enabled)
  end)

  it("answers every action that is not a stream or an upload, none as an unknown path or a failure", function()
    local losant = require "eventapi.losant"
    local dev = new_device("Any")
    local flow = client.flows.post({ applicationId = APP, flow = { name = "Any" } }):await()
    local ids = { applicationId = APP, deviceId = dev.id, flowId = flow.id }
    local bad = {}
    local count = 0
    for _, row in ipairs(losant.operations) do
      if not row.stream and not row.upload then
        count = count + 1
        local path = row.path:gsub("{(%w+)}", function(name) return ids[name] or UNKNOWN end)
        local query = {}
        for _, p in ipairs(row.params) do
          if p.place == "query" and p.required then query[#query + 1] = p.name .. "=" .. (p.enum and p.enum[1] or "1") end
        end
        local url = sb.url .. path .. (#query > 0 and "?" .. table.concat(query, "&") or "")
        local res = sandbox.http(row.method, url, { token = sandbox.token,
          json = (row.method ~= "GET" and row.method ~= "DELETE") and {} or nil })
        local message = res.json and res.json.message or ""
        if res.status == 0 or res.status >= 500 or res.status == 405
            or (res.status == 404 and not message:find("was not found", 1, true)) then
          bad[#bad + 1] = ("%s %s -> %d %s"):format(row.name, path, res.status, message)
        end
      end
    end
    assert.is_true(count > 200)
    assert.are.same({}, bad)
  end)
end)
