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

  -- Open findings of the multipart target (issue 30), pending until src/upload.c
  -- is fixed; fuzz/multipart.lua tolerates them by name (KNOWN) meanwhile.
  local function upload_row(name)
    local service = require("eventapi.services").by_name.losant
    for _, op in ipairs(service.operations) do
      if op.name == name then return Client.new(service, { url = "http://fuzz.example" }), op end
    end
  end

  it("multipart: a file table key with a NUL ('filename\\0x') is refused like any unknown key", function()
    local client, op = upload_row("file.upload")
    local ok, err = pcall(Client.build, client, op, { applicationId = "a", fileId = "f",
                                                      file = { data = "x", ["filename\0x"] = 1 } })
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
  end)

  it("multipart: a {path=} file whose name holds CR or LF is refused, as such an explicit filename is", function()
    local client, op = upload_row("file.upload")
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir '" .. dir .. "'"))
    local path = dir .. "/a\r\nX: y.txt"
    local f = assert(io.open(path, "wb"))
    f:write("x")
    f:close()
    local ok, err = pcall(Client.build, client, op, { applicationId = "a", fileId = "f", file = { path = path } })
    os.remove(path)
    os.remove(dir)
    assert.is_false(ok)
    assert.are.equal("InvalidParams", err.type)
  end)

  it("multipart: a filename ending in '/' gets the type of its extension, as mime-types gives it", function()
    local client, op = upload_row("file.upload")
    local req = Client.build(client, op, { applicationId = "a", fileId = "f", file = { data = "x", filename = "a.png/" } })
    assert.are.equal("image/png", req.data[1].content_type)
  end)
end)
