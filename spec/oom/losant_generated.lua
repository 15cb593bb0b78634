-- Generated Losant actions, their rows loaded on first use: a device made,
-- found by a tagFilter (the bracket form), its state sent and read back, a
-- command by tag, a workflow disabled; an upload (a file part from disk, a text part).
local eventapi = require "eventapi"
local APP = "575ec8687ae143cd83dc4a97"
return pcall(function()
  local c <close> = eventapi.losant({ url = os.getenv("EVENTAPI_OOM_URL"), token = "sandbox-all-access" })
  local dev = c.devices.post({ applicationId = APP, device = { name = "oom" } }):await()
  assert(type(dev.id) == "string", "wrong result: devices.post")
  -- tagged with its own id: runs an allocation failure ended leave devices behind
  local tag = { key = "oom", value = dev.id }
  c.device.patch({ applicationId = APP, deviceId = dev.id, device = { tags = { tag } } }):await()
  local page = c.devices.get({ applicationId = APP, tagFilter = { tag } }):await()
  assert(page.totalCount == 1 and page.items[1].id == dev.id, "wrong result: devices.get with tagFilter")
  c.device.sendState({ applicationId = APP, deviceId = dev.id, deviceState = { data = { level = 7 } } }):await()
  local state = c.device.getCompositeState({ applicationId = APP, deviceId = dev.id }):await()
  assert(state.level.value == 7, "wrong result: device.getCompositeState")
  c.devices.sendCommand({ applicationId = APP, multiDeviceCommand = { name = "go", deviceTags = { tag } } }):await()
  assert(c.device.getCommand({ applicationId = APP, deviceId = dev.id }):await()[1].name == "go",
         "wrong result: device.getCommand")
  local flow = c.flows.post({ applicationId = APP, flow = { name = "oom" } }):await()
  assert(c.flow.patch({ applicationId = APP, flowId = flow.id, flow = { enabled = false } }):await().enabled == false,
         "wrong result: flow.patch")
  local path = debug.getinfo(1, "S").source:sub(2) -- this script: any readable file
  local up = c.application.import({ applicationId = APP, importBundle = { path = path }, email = "oom@example.com" }):await()
  assert(type(up) == "table", "wrong result: application.import")
  assert(c.device.delete({ applicationId = APP, deviceId = dev.id }):await().success == true, "wrong result: device.delete")
  return true
end)
