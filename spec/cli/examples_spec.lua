-- The example runbooks are copied by new users, so each must do exactly
-- what its header says: run with `bin/eventapi run` against a fresh sandbox
-- (the example seed), each spec checks the runbook's effect on the
-- sandbox's data and the requests it sent, not only its exit status.
local command = require "cli.command"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENTS = "/applications/" .. APP .. "/events"
local OLD_CRITICAL = { "575ed0de7ae143cd83dc4aa5", "575ed0de7ae143cd83dc4aa6", "575ed0de7ae143cd83dc4aa7" }
local WARNING, RESOLVED, ACKNOWLEDGED = "575ed0de7ae143cd83dc4aa8", "575ed0de7ae143cd83dc4aa9",
                                        "575ed0de7ae143cd83dc4aaa"
local MQTT, PARTICLE = "575ed78e7ae143cd83dc4aab", "575ed78e7ae143cd83dc4aac"

--- Runs an example runbook against sb with the variables of examples/demo.sh
-- (and the variables of extra, if given).
local function run(sb, runbook, extra)
  local env = command.env_for(sb)
  env.LOSANT_APPLICATION = APP
  env.MONTEROSA_PROJECT = command.PROJECT
  env.CONNECTDAILY_EVENT, env.CONNECTDAILY_DATE = "42", "2026-12-08"
  return command.eventapi({ "run", "examples/" .. runbook }, command.env_with(env, extra or {}))
end

--- The Losant document at path (GET with token, default the all-access one:
-- under a rate limit, another has a budget of its own).
local function losant_get(sb, path, token)
  local res = sandbox.http("GET", sb.url .. path, { token = token or sandbox.token })
  assert.are.equal(200, res.status, res.body)
  return res.json
end

--- The recorded requests of method whose path is path (or starts with prefix when path ends in "*").
local function sent(sb, method, path)
  local out = {}
  for _, r in ipairs(sandbox.requests(sb)) do
    local match = path:sub(-1) == "*" and r.path:sub(1, #path - 1) == path:sub(1, -2) or r.path == path
    if r.method == method and match then out[#out + 1] = r end
  end
  return out
end

describe("examples/losant_triage.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("acknowledges each new critical event older than an hour, with one PATCH each", function()
    sb = sandbox.start()
    local r = run(sb, "losant_triage.lua")
    assert.are.equal(0, r.code, r.stderr)
    for _, id in ipairs(OLD_CRITICAL) do
      assert.are.equal("acknowledged", losant_get(sb, EVENTS .. "/" .. id).state, id)
      assert.are.equal(1, #sent(sb, "PATCH", EVENTS .. "/" .. id), id)
    end
    assert.are.equal(3, #sent(sb, "PATCH", EVENTS .. "*"))
  end)

  it("leaves a resolved critical event resolved and sends it nothing", function()
    sb = sandbox.start()
    assert.are.equal(0, run(sb, "losant_triage.lua").code)
    assert.are.equal("resolved", losant_get(sb, EVENTS .. "/" .. RESOLVED).state)
    assert.are.equal(0, #sent(sb, "PATCH", EVENTS .. "/" .. RESOLVED))
  end)

  it("leaves new events that are not critical, or newer than an hour, new", function()
    sb = sandbox.start()
    local fresh = sandbox.http("POST", sb.url .. EVENTS, { token = sandbox.token, json = {
      level = "critical", state = "new", subject = "Just now", creationDate = os.date("!%Y-%m-%dT%H:%M:%S.000Z") } })
    assert.are.equal(201, fresh.status, fresh.body)
    assert.are.equal(0, run(sb, "losant_triage.lua").code)
    assert.are.equal("new", losant_get(sb, EVENTS .. "/" .. WARNING).state)
    assert.are.equal("new", losant_get(sb, EVENTS .. "/" .. fresh.json.id).state)
    assert.are.equal("acknowledged", losant_get(sb, EVENTS .. "/" .. ACKNOWLEDGED).state)
    assert.are.equal(3, #sent(sb, "PATCH", EVENTS .. "*"))
  end)

  it("retries its acknowledgements when Losant answers 429, and acknowledges every one", function()
    sb = sandbox.start({ rate_limit = 2 })
    local r = run(sb, "losant_triage.lua")
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local states = {}
    for _, ev in ipairs(losant_get(sb, EVENTS .. "?perPage=100", "sandbox-read-only").items) do states[ev.id] = ev.state end
    for _, id in ipairs(OLD_CRITICAL) do assert.are.equal("acknowledged", states[id], id) end
  end)
end)

describe("examples/losant_reenable_mqtt.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("enables the disabled MQTT integration with one PATCH and leaves the others alone", function()
    sb = sandbox.start()
    local r = run(sb, "losant_reenable_mqtt.lua")
    assert.are.equal(0, r.code, r.stderr)
    local base = "/applications/" .. APP .. "/integrations/"
    assert.is_true(losant_get(sb, base .. MQTT).enabled)
    assert.are.equal(1, #sent(sb, "PATCH", base .. MQTT))
    assert.are.equal(0, #sent(sb, "PATCH", base .. PARTICLE))
    assert.is_true(losant_get(sb, base .. PARTICLE).enabled)
  end)

  it("retries its PATCH when Losant answers 429, and enables the integration", function()
    sb = sandbox.start({ rate_limit = 1 })
    local r = run(sb, "losant_reenable_mqtt.lua")
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.is_true(losant_get(sb, "/applications/" .. APP .. "/integrations/" .. MQTT, "sandbox-read-only").enabled)
  end)
end)

--- A fleet as examples/demo.sh makes it: pumps on floors 2, 2 and 3, each
-- with a pressure state, and a workflow; returns the device ids and the flow's.
local function fleet(sb)
  local client = sb.losant()
  local ids = {}
  for i, floor in ipairs({ "2", "2", "3" }) do
    local dev = client.devices.post({ applicationId = APP, device = { name = "pump-" .. i,
      tags = { { key = "floor", value = floor } }, attributes = { { name = "pressure", dataType = "number" } } } }):await()
    client.device.sendState({ applicationId = APP, deviceId = dev.id, deviceState = { data = { pressure = i } } }):await()
    ids[i] = dev.id
  end
  local flow = client.flows.post({ applicationId = APP, flow = { name = "pump alarms", enabled = true } }):await()
  client:close()
  sandbox.clear_requests(sb)
  return ids, flow.id
end

describe("examples/losant_command_tagged.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("sends the command once, to the devices with the tag, and prints each one's state", function()
    sb = sandbox.start()
    local ids = fleet(sb)
    local r = run(sb, "losant_command_tagged.lua")
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("2 device(s) tagged floor=2", 1, true), r.stdout)
    assert.truthy(r.stdout:find(ids[1] .. "  pump-1       pressure=1", 1, true), r.stdout)
    assert.truthy(r.stdout:find(ids[2] .. "  pump-2       pressure=2", 1, true), r.stdout)
    assert.is_nil(r.stdout:find(ids[3], 1, true))
    local commands = sent(sb, "POST", "/applications/" .. APP .. "/devices/command")
    assert.are.equal(1, #commands)
    local client = sb.losant()
    local got = client.device.getCommand({ applicationId = APP, deviceId = ids[1] }):await()
    assert.are.equal("restart", got[1].name)
    assert.are.equal(0, #client.device.getCommand({ applicationId = APP, deviceId = ids[3] }):await())
    client:close()
  end)

  it("sends no command with DRY_RUN=1, and still reads the states", function()
    sb = sandbox.start()
    fleet(sb)
    local r = run(sb, "losant_command_tagged.lua", { DRY_RUN = "1" })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find('command "restart" not sent (dry run)', 1, true), r.stdout)
    assert.are.equal(0, #sent(sb, "POST", "/applications/" .. APP .. "/devices/command"))
    assert.are.equal(2, #sent(sb, "GET", "/applications/" .. APP .. "/devices/*")) -- each tagged pump's state
  end)
end)

describe("examples/losant_command_confirmed.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("sends the command and confirms it from the state stream (the device simulated)", function()
    sb = sandbox.start()
    local ids = fleet(sb)
    local r = run(sb, "losant_command_confirmed.lua", { DEVICE = ids[1], SIMULATE_DEVICE = "1", TIMEOUT = "10" })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("confirmed: " .. ids[1] .. " reports mode eco", 1, true), r.stdout)
    assert.are.equal(1, #sent(sb, "POST", "/applications/" .. APP .. "/devices/" .. ids[1] .. "/command"))
    assert.are.equal(1, #sent(sb, "GET", "/applications/" .. APP .. "/devices/" .. ids[1] .. "/stateStream"))
  end)

  it("exits 1 with a Timeout when no state confirms the command in time", function()
    sb = sandbox.start()
    local ids = fleet(sb)
    local r = run(sb, "losant_command_confirmed.lua", { DEVICE = ids[1], TIMEOUT = "1" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("Timeout: no message within 1 s", 1, true), r.stderr)
  end)

  it("exits with 2 and sends nothing without DEVICE", function()
    sb = sandbox.start()
    local r = run(sb, "losant_command_confirmed.lua")
    assert.are.equal(2, r.code)
    assert.are.equal(0, #sandbox.requests(sb))
  end)
end)

describe("examples/losant_maintenance_window.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("disables the workflow, then enables it again, each change one PATCH", function()
    sb = sandbox.start()
    local _, flow = fleet(sb)
    local r = run(sb, "losant_maintenance_window.lua", { FLOW = flow, WINDOW = "0.1" })
    assert.are.equal(0, r.code, r.stderr)
    local patches = sent(sb, "PATCH", "/applications/" .. APP .. "/flows/" .. flow)
    assert.are.equal(2, #patches)
    assert.are.equal('{"enabled":false}', patches[1].body)
    assert.are.equal('{"enabled":true}', patches[2].body)
    assert.is_true(losant_get(sb, "/applications/" .. APP .. "/flows/" .. flow).enabled)
  end)

  it("exits with 2 and sends nothing without FLOW", function()
    sb = sandbox.start()
    local r = run(sb, "losant_maintenance_window.lua")
    assert.are.equal(2, r.code)
    assert.are.equal(0, #sandbox.requests(sb))
  end)
end)

--- The Monterosa events the runbook created (one POST each), as the sandbox
-- now has them (GET with the token).
local function monterosa_created(sb)
  local out = {}
  for _, r in ipairs(sandbox.requests(sb)) do
    if r.method == "POST" and r.path == "/api/v2/events" then
      local id = r.response_body and r.response_body:match('"id"%s*:%s*"([^"]+)"')
      out[#out + 1] = id or true
    end
  end
  return out
end

--- The Monterosa event id's attributes (GET with the token).
local function monterosa_event(sb, id)
  local res = sandbox.http("GET", sb.url .. "/api/v2/events/" .. id, { token = command.MONTEROSA_TOKEN })
  assert.are.equal(200, res.status, res.body)
  return res.json.data.attributes
end

describe("examples/monterosa_live.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("creates one event and starts it: it is current afterwards", function()
    sb = sandbox.start()
    local r = run(sb, "monterosa_live.lua")
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(1, #monterosa_created(sb))
    local patches = sent(sb, "PATCH", "/api/v2/events/*")
    assert.are.equal(1, #patches)
    local id = patches[1].path:match("/api/v2/events/(.+)$")
    local ev = monterosa_event(sb, id)
    assert.are.equal("Tonight's match", ev.name)
    assert.are.equal("current", ev.state)
  end)

  -- MONTEROSA_NOW stands in for the clock: days ahead of the real one, so
  -- the event it schedules is still ahead when the sandbox starts it.
  local DAY = 86400
  local day_ahead = (os.time() // DAY + 2) * DAY -- midnight UTC, two days from today

  --- The start (Unix time) of the one event the runbook created, run with MONTEROSA_NOW = now.
  local function scheduled_at(now)
    sb = sandbox.start()
    local r = run(sb, "monterosa_live.lua", { MONTEROSA_NOW = tostring(now) })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal(1, #monterosa_created(sb))
    local patches = sent(sb, "PATCH", "/api/v2/events/*")
    assert.are.equal(1, #patches)
    return math.tointeger(monterosa_event(sb, patches[1].path:match("/api/v2/events/(.+)$")).start_at)
  end

  it("schedules the event at today's 19:30 UTC when it is earlier in the day", function()
    assert.are.equal(day_ahead + 19 * 3600 + 30 * 60, scheduled_at(day_ahead + 8 * 3600))
  end)

  it("schedules the event at tomorrow's 19:30 UTC when today's 19:30 has passed", function()
    assert.are.equal(day_ahead + DAY + 19 * 3600 + 30 * 60, scheduled_at(day_ahead + 20 * 3600))
  end)

  it("schedules the event at tomorrow's 19:30 UTC when it is 19:30 UTC exactly", function()
    local at = day_ahead + 19 * 3600 + 30 * 60
    assert.are.equal(at + DAY, scheduled_at(at))
  end)
end)

describe("examples/live_when_scheduled.lua", function()
  local sb
  after_each(function() sb.stop() end)

  it("books one calendar event, creates one live event and starts it", function()
    sb = sandbox.start()
    local r = run(sb, "live_when_scheduled.lua")
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(1, #sent(sb, "POST", "/calendar/*"))
    assert.are.equal(1, #monterosa_created(sb))
    local patches = sent(sb, "PATCH", "/api/v2/events/*")
    assert.are.equal(1, #patches)
    local ev = monterosa_event(sb, patches[1].path:match("/api/v2/events/(.+)$"))
    assert.are.equal("Kick-off", ev.name)
    assert.are.equal("current", ev.state)
  end)
end)

--- Connect Daily's event cal_item_id as the sandbox now has it (GET with the runbook's credentials).
local function connectdaily_event(sb, cal_item_id)
  local res = sandbox.http("GET", ("%s/calendar/restapi/v1/events/%d"):format(sb.url, cal_item_id),
    { headers = { Authorization = "Basic " .. sandbox.base64("api:" .. command.CD_PASSWORD) } })
  assert.are.equal(200, res.status, res.body)
  return res.json
end

--- The requests the runbook sent that may change something (neither GET nor HEAD).
local function writes(sb)
  local out = {}
  for _, r in ipairs(sandbox.requests(sb)) do
    if r.method ~= "GET" and r.method ~= "HEAD" then out[#out + 1] = r end
  end
  return out
end

describe("examples/connectdaily_fork.lua", function()
  local SERIES = "/calendar/restapi/v1/events/42"
  local DEC_8 = 2461383 -- the Julian Day Number of CONNECTDAILY_DATE, 2026-12-08
  local sb
  after_each(function() sb.stop() end)

  --- Runs the runbook on a fresh sandbox; returns the cal_item_id of the copy
  -- its fork made (the event of its one PUT).
  local function fork()
    sb = sandbox.start()
    local r = run(sb, "connectdaily_fork.lua")
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal(1, #sent(sb, "POST", SERIES))
    local puts = sent(sb, "PUT", "/calendar/restapi/v1/events/*")
    assert.are.equal(1, #puts)
    return math.tointeger(tonumber(puts[1].path:match("/(%d+)$")))
  end

  it("adds the forked day to the series' exceptions and leaves the series' times alone", function()
    fork()
    local series = connectdaily_event(sb, 42)
    assert.are.same({ DEC_8 }, series.exceptions)
    assert.are.equal(1, series.rec_type)
    assert.are.equal("09:00", series.starting_time)
    assert.are.equal("10:00", series.ending_time)
  end)

  it("makes one one-time copy on the forked day, an hour later than the series", function()
    local copy_id = fork()
    local copy = connectdaily_event(sb, copy_id)
    assert.are.equal(3, copy.rec_type)
    assert.are.equal(DEC_8, copy.starting_date)
    assert.are.equal(DEC_8, copy.ending_date)
    assert.are.equal("10:00", copy.starting_time)
    assert.are.equal("11:00", copy.ending_time)
    assert.are.equal("Weekly board meeting", copy.description)
    assert.are.same({}, copy.exceptions)
  end)

  it("writes nothing but the fork of the series and one PUT of its copy", function()
    local copy_id = fork()
    local w = writes(sb)
    assert.are.equal(2, #w)
    assert.are.same({ "POST", SERIES }, { w[1].method, w[1].path })
    assert.are.same({ "PUT", "/calendar/restapi/v1/events/" .. copy_id }, { w[2].method, w[2].path })
  end)
end)
