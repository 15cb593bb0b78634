-- The sandbox answers the Connect Daily event CRUD API (CONTRACTS.md
-- section 2) under any context path.
local sandbox = require "helpers.sandbox"

local function b64(s)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(c)
    local bits = ""
    local byte = c:byte()
    for i = 8, 1, -1 do bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local n = 0
    for i = 1, 6 do n = n + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(n + 1, n + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local API = { Authorization = "Basic " .. b64("api:sandbox-password") }
local VIEWER = { Authorization = "Basic " .. b64("viewer:viewer-password") }
local TOKEN = { Authorization = "Bearer sandbox-calendar-token" }

describe("the Connect Daily sandbox", function()
  local sb, base
  -- cjson reads [] as {}: a whole event sent back drops its empty exceptions list.
  local function event(path)
    local ev = sandbox.http("GET", base .. path, { headers = API }).json
    if next(ev.exceptions) == nil then ev.exceptions = nil end
    return ev
  end
  local function call(method, path, opts)
    opts = opts or {}
    return sandbox.http(method, base .. path, { headers = opts.headers or API, json = opts.json, body = opts.body })
  end

  before_each(function()
    sb = sandbox.start()
    base = sb.url .. "/calendar/restapi/v1/events"
  end)
  after_each(function() sb.stop() end)

  it("gets an event by cal_item_id with dates as Julian Day Numbers", function()
    local res = call("GET", "/42")
    assert.are.equal(200, res.status)
    assert.are.equal("Weekly board meeting", res.json.description)
    assert.are.equal(2461376, res.json.starting_date) -- 2026-12-01
  end)

  it("gets an event by itemguid", function()
    local res = call("GET", "/itemguid=9f1c2d3e-0000-4000-8000-000000000042")
    assert.are.equal(42, res.json.cal_item_id)
  end)

  it("answers under any context path", function()
    local res = sandbox.http("GET", sb.url .. "/a/b/restapi/v1/events/42", { headers = API })
    assert.are.equal(200, res.status)
  end)

  it("answers 404 for an unknown event", function()
    assert.are.equal(404, call("GET", "/999").status)
    assert.are.equal(404, call("GET", "/itemguid=nope").status)
  end)

  it("answers 401 with WWW-Authenticate without credentials", function()
    local res = sandbox.http("GET", base .. "/42")
    assert.are.equal(401, res.status)
    assert.truthy(res.headers["www-authenticate"]:find("Basic", 1, true))
  end)

  it("answers 401 for a wrong password", function()
    local res = call("GET", "/42", { headers = { Authorization = "Basic " .. b64("api:wrong") } })
    assert.are.equal(401, res.status)
  end)

  it("accepts a bearer token", function()
    assert.are.equal(200, call("GET", "/42", { headers = TOKEN }).status)
  end)

  it("answers 403 when the user may not read the calendar", function()
    assert.are.equal(403, call("GET", "/43", { headers = VIEWER }).status)
  end)

  it("answers 403 when a reader deletes", function()
    assert.are.equal(403, call("DELETE", "/42", { headers = VIEWER }).status)
  end)

  it("creates an event with 201, accepting yyyy-mm-dd dates", function()
    local res = call("POST", "", { json = { calendar_id = 3, description = "Board meeting",
                                            starting_date = "2026-12-01", rec_type = 3 } })
    assert.are.equal(201, res.status)
    assert.are.equal(2461376, res.json.starting_date)
    assert.are.equal(2461376, res.json.ending_date)
    assert.is_number(res.json.cal_item_id)
    assert.are.equal(200, call("GET", "/" .. math.tointeger(res.json.cal_item_id)).status)
  end)

  it("answers 500 with error 1 for a bad date on create", function()
    local res = call("POST", "", { json = { calendar_id = 3, description = "x", starting_date = "2026-02-30" } })
    assert.are.equal(500, res.status)
    assert.are.equal(1, res.json.error)
    assert.truthy(res.json.message:find("starting_date"))
  end)

  it("answers 403 on create in a calendar the token may only read", function()
    local res = call("POST", "", { headers = TOKEN, json = { calendar_id = 4, description = "x", starting_date = 2461376 } })
    assert.are.equal(403, res.status)
  end)

  it("updates with PUT and bumps the version", function()
    local ev = event("/42")
    ev.description = "Renamed"
    local res = call("PUT", "/42", { json = ev })
    assert.are.equal(200, res.status)
    assert.are.equal("Renamed", res.json.description)
    assert.are.equal(ev.version + 1, res.json.version)
  end)

  it("answers 409 for a PUT carrying an older version", function()
    local ev = event("/42")
    call("PUT", "/42", { json = ev })
    local res = call("PUT", "/42", { json = ev })
    assert.are.equal(409, res.status)
    assert.are.equal(1, res.json.error)
  end)

  it("answers 200 with error 1 for an invalid update", function()
    local ev = event("/42")
    ev.starting_time = "25:99"
    local res = call("PUT", "/42", { json = ev })
    assert.are.equal(200, res.status)
    assert.are.equal(1, res.json.error)
    assert.truthy(res.json.message:find("starting_time"))
  end)

  it("forks an occurrence of a weekly series", function()
    local res = call("POST", "/42?fork=1&starting_date=2026-12-08")
    assert.are.equal(201, res.status)
    assert.are.equal(0, res.json.error)
    local copy = call("GET", "/" .. math.tointeger(res.json.cal_item_id)).json
    assert.are.equal(3, copy.rec_type)
    assert.are.equal(2461383, copy.starting_date)
    assert.are.same({ 2461383 }, call("GET", "/42").json.exceptions)
  end)

  it("accepts the fork params form-encoded", function()
    local res = sandbox.http("POST", base .. "/42", { headers = { Authorization = API.Authorization,
      ["Content-Type"] = "application/x-www-form-urlencoded" }, body = "fork=1&starting_date=2026-12-15" })
    assert.are.equal(201, res.status)
  end)

  it("answers 400 when the series does not occur on that date", function()
    local res = call("POST", "/42?fork=1&starting_date=2026-12-09")
    assert.are.equal(400, res.status)
    assert.are.equal(1, res.json.error)
  end)

  it("answers 400 when forking the same day twice", function()
    call("POST", "/42?fork=1&starting_date=2026-12-08")
    assert.are.equal(400, call("POST", "/42?fork=1&starting_date=2026-12-08").status)
  end)

  it("answers 400 when forking a one-time event", function()
    assert.are.equal(400, call("POST", "/43?fork=1&starting_date=2026-12-03").status)
  end)

  it("deletes with 204 and no body", function()
    local res = call("DELETE", "/43")
    assert.are.equal(204, res.status)
    assert.are.equal("", res.body)
    assert.are.equal(404, call("GET", "/43").status)
  end)

  it("answers 200 with error 1 when deleting a locked event", function()
    local seed = os.tmpname()
    local f = io.open(seed, "w")
    f:write([[{"connectdaily":{"calendars":[{"calendar_id":1}],
      "users":[{"user":"u","password":"p","calendars":{"1":"write"}}],
      "events":[{"cal_item_id":7,"calendar_id":1,"description":"Locked","starting_date":"2026-01-01","locked":true}]}}]])
    f:close()
    local locked = sandbox.start({ seed = seed })
    local res = sandbox.http("DELETE", locked.url .. "/c/restapi/v1/events/7", { headers = { Authorization = "Basic " .. b64("u:p") } })
    locked.stop()
    os.remove(seed)
    assert.are.equal(200, res.status)
    assert.are.equal(1, res.json.error)
  end)
end)
