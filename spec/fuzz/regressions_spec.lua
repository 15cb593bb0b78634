-- Regressions found by the fuzz targets (fuzz/, make fuzz). Each case is the
-- smallest input that broke an invariant, replayed here without HTTP; the
-- raw inputs are also under fuzz/regress/ for make fuzz-regress.
local eventapi = require "eventapi"
local Client = require "eventapi.client"
local Error = require "eventapi.errors"
local internals = require "helpers.internals"
local json = eventapi.json

describe("fuzz regressions", function()
  it("json: a number beyond the double range is a decode error, not an infinity that cannot be encoded", function()
    for _, text in ipairs({ "1e400", "-1e400", "[1,2.5,1e400]", ("9"):rep(400) .. ".0" }) do
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok, text)
      assert.truthy(tostring(err):find("invalid JSON: number out of range", 1, true), text)
    end
    assert.are.equal(1e300, json.decode("1e300"))
    -- a decoded 1e300 is written as a text that reads back the same (compared
    -- with a literal and a decoded value, never with the encoder's own output)
    assert.are.equal("[1e+300]", json.encode(json.decode("[1e300]")))
    assert.are.equal(-1e300, json.decode(json.encode(json.decode("-1e300"))))
  end)

  it("respond: a Connect Daily fork answer that is not an object is InvalidResponse, not a Lua error", function()
    local service = require("eventapi.connectdaily").service
    local client = Client.new(service, { url = "http://fuzz.example/calendar" })
    local fork
    for _, op in ipairs(service.operations) do if op.name == "events.fork" then fork = op end end
    local req = { method = "POST", url = client.url .. "/restapi/v1/events/42?fork=1", op = fork }
    for _, body in ipairs({ "5", '"x"', "[]", "{}", '{"cal_item_id":"43"}' }) do
      local ok, err = pcall(internals.respond, client, req, { status = 200, body = body })
      assert.is_false(ok, body)
      assert.is_true(Error.is(err), body)
      assert.are.equal("InvalidResponse", err.type, body)
    end
    assert.are.equal(43, internals.respond(client, req, { status = 200, body = '{"cal_item_id":43}' }))
  end)
end)
