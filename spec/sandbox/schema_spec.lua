-- The sandbox checks every Losant body, and the advanced query, against
-- Losant's published schemas (lua/eventapi/schemas/losant, embedded by
-- tools/embed_schemas.lua) with the library's own validator, and refuses
-- what they refuse in Losant's 400 shape (issue 28). Over real HTTP.
local sandbox = require "helpers.sandbox"

local APP, EVENT = sandbox.app, sandbox.event
local INTEGRATION = "575ed78e7ae143cd83dc4aab"

describe("the Losant sandbox's schemas", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() sb.stop() end)

  local function url(path) return sb.url .. "/applications/" .. APP .. path end
  local function send(method, path, body)
    return sandbox.http(method, url(path), { token = sandbox.token, json = body })
  end
  --- The message of a 400 Validation answer (it must be one).
  local function refused(res)
    assert.are.equal(400, res.status, res.body)
    assert.are.equal("Validation", res.json.type)
    return res.json.message
  end

  it("refuses an event whose level is not one of the schema's, naming the pointer and the rule", function()
    local msg = refused(send("POST", "/events", { level = "fatal", subject = "s" }))
    assert.are.equal("The body does not match the eventPost schema: /level: must be one of info, warning, error, critical",
                     msg)
  end)

  it("refuses an event without a subject, naming the missing property", function()
    assert.matches("subject", refused(send("POST", "/events", { level = "info" })))
  end)

  it("refuses a property Event Post does not have", function()
    assert.matches("colour", refused(send("POST", "/events", { level = "info", subject = "s", colour = "red" })))
  end)

  it("refuses a deviceId that is not 24 hexadecimal digits, by the schema's pattern", function()
    assert.matches("/deviceId: must match the pattern",
                   refused(send("POST", "/events", { level = "info", subject = "s", deviceId = "xyz" })))
  end)

  it("refuses a creationDate string that is no date, which the schema alone takes", function()
    assert.matches("creationDate must be", refused(send("POST", "/events",
      { level = "info", subject = "s", creationDate = "yesterday" })))
  end)

  it("takes an event the schema takes, tags and data included", function()
    local res = send("POST", "/events", { level = "info", subject = "fine", eventTags = { site = "north" },
                                          data = { temp = 21.5 } })
    assert.are.equal(201, res.status, res.body)
    assert.are.equal("north", res.json.eventTags.site)
  end)

  it("refuses an event patch whose state is not new, acknowledged or resolved", function()
    assert.matches("/state: must be one of new, acknowledged, resolved",
                   refused(send("PATCH", "/events/" .. EVENT, { state = "closed" })))
  end)

  it("refuses a bulk patch's updates the Event Patch schema refuses", function()
    assert.matches("^The body does not match the eventPatch schema: ",
                   refused(send("PATCH", "/events?filterField=subject&filter=x", { comment = 5 })))
  end)

  it("refuses an integration whose nested MQTT config has a port that is not a number", function()
    local msg = refused(send("POST", "/integrations", { name = "broker", integrationType = "mqtt",
      mqttConfig = { host = "mqtt.example.com", port = "1883", protocol = "mqtt" } }))
    assert.matches("^The body does not match the integrationPost schema: /mqttConfig/port: ", msg)
  end)

  it("refuses an integration patch the Integration Patch schema refuses", function()
    assert.matches("integrationPatch", refused(send("PATCH", "/integrations/" .. INTEGRATION, { enabled = "yes" })))
  end)

  it("refuses an advanced query in the query string the Advanced Event Query schema refuses", function()
    local res = sandbox.http("GET", url("/events?query=" .. (('{"$or":5}'):gsub("[^%w]", function(c) return ("%%%02X"):format(c:byte()) end))), { token = sandbox.token })
    assert.matches("^query does not match the advancedEventQuery schema: /%$or: ", refused(res))
  end)

  it("refuses an events.delete body the Advanced Event Query schema refuses", function()
    assert.matches("advancedEventQuery", refused(send("POST", "/events/delete", { ["$nor"] = "x" })))
  end)

  it("refuses an events.export body the Event Export Options schema refuses", function()
    assert.matches("eventsExport", refused(send("POST", "/events/export", { email = 5 })))
  end)
end)
