-- curl's easy handles are reused from one request to the next: a handle
-- keeps the options of its client's config, and each request sets its own
-- method, body and headers again. What one request set must never reach the
-- next one on the wire (read back from the sandbox's record): its method,
-- its body, and above all another client's credentials, user agent and
-- timeout (a call's own headers: headers_spec).
-- Requests here run one after another, so each reuses the handle the one
-- before it left.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local EVENT = sandbox.event
local sb, losant

setup(function()
  sb = sandbox.start({ faults = true })
  losant = eventapi.losant({ url = sb.url, token = sandbox.token })
end)
teardown(function() sb.stop() end)
before_each(function() sandbox.clear_requests(sb) end)

--- What the sandbox recorded, as "METHOD body" lines, oldest first.
local function wire()
  local lines = {}
  for i, r in ipairs(sandbox.requests(sb)) do lines[i] = r.method .. " " .. r.body end
  return lines
end

--- The answer of p, or the error it rejects with.
local function outcome(p)
  local ok, v = pcall(p.await, p)
  return v, ok
end

describe("a reused easy handle", function()
  it("sends each request's own method and body, whatever the request before it sent", function()
    local created = losant.events.post({ applicationId = APP, event = { level = "info", subject = "handles" } }):await()
    local id = created.id
    losant.event.get({ applicationId = APP, eventId = id }):await()
    losant.event.patch({ applicationId = APP, eventId = id, event = { state = "acknowledged" } }):await()
    outcome(losant:request({ method = "HEAD", path = "/applications/" .. APP .. "/events/" .. id }))
    local after_head = losant.event.get({ applicationId = APP, eventId = id }):await()
    losant.event.delete({ applicationId = APP, eventId = id }):await()
    local lines = wire()
    assert.are.equal(6, #lines)
    assert.matches('^POST {.*"subject":"handles"', lines[1])
    assert.are.equal("GET ", lines[2])
    assert.matches('^PATCH {"state":"acknowledged"}$', lines[3])
    assert.are.equal("HEAD ", lines[4])
    assert.are.equal("GET ", lines[5])
    assert.are.equal("DELETE {}", lines[6]) -- Losant's DELETE sends {}, as the official client does
    assert.are.equal(id, after_head.id) -- the GET after a HEAD reads its body again
  end)

  it("sends a POST without a body as an empty POST after one with a body", function()
    losant.events.post({ applicationId = APP, event = { level = "info", subject = "before" } }):await()
    outcome(losant:request({ method = "POST", path = "/applications/" .. APP .. "/events" }))
    local lines = wire()
    assert.are.equal(2, #lines)
    assert.are.equal("POST ", lines[2])
  end)

  it("sends nothing of a large body with the request after it", function()
    local large = string.rep("x", 30000) -- over the 16 KiB an idle handle may keep
    local created = losant.events.post({ applicationId = APP, event = { level = "info", subject = "large",
                                                                       message = large } }):await()
    losant.event.get({ applicationId = APP, eventId = created.id }):await()
    losant.event.delete({ applicationId = APP, eventId = created.id }):await()
    local lines = wire()
    assert.are.equal(3, #lines)
    assert.is_true(#lines[1] > 30000)
    assert.are.equal("GET ", lines[2])
    assert.are.equal("DELETE {}", lines[3])
  end)
end)

describe("two clients taking turns on the handles", function()
  it("never send one client's credentials or user agent with the other's requests", function()
    local basic = eventapi.losant({ url = sb.url, token = sandbox.token, user_agent = "runbook-a/1" })
    local other = eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = "sandbox-password",
                                          user_agent = "runbook-b/1" })
    local plain = eventapi.connectdaily({ url = sb.url .. "/calendar", user_agent = "runbook-c/1" })
    for _ = 1, 2 do
      basic.event.get({ applicationId = APP, eventId = EVENT }):await()
      outcome(other.events.get({ cal_item_id = 42 }))
      outcome(plain.events.get({ cal_item_id = 42 }))
    end
    local r = sandbox.requests(sb)
    assert.are.equal(6, #r)
    for i = 1, 6, 3 do
      local a, b, c = r[i].headers, r[i + 1].headers, r[i + 2].headers
      assert.are.equal("runbook-a/1", a["user-agent"])
      assert.are.equal("Bearer " .. sandbox.token, a["authorization"])
      assert.are.equal("runbook-b/1", b["user-agent"])
      assert.are.equal("Basic " .. sandbox.base64("api:sandbox-password"), b["authorization"])
      assert.are.equal("runbook-c/1", c["user-agent"])
      assert.is_nil(c["authorization"])
    end
  end)

  it("keep each client's own timeout", function()
    local quick = eventapi.losant({ url = sb.url, token = sandbox.token, timeout = sandbox.time(0.5) })
    local patient = eventapi.losant({ url = sb.url, token = sandbox.token })
    local slow = { ["X-Sandbox-Fault"] = ("delay=%d"):format(math.floor(sandbox.time(1.5) * 1000)) }
    quick.event.get({ applicationId = APP, eventId = EVENT }):await()
    -- the handle quick left behind must not carry its limit into patient's slow answer
    local answer = patient.event.get({ applicationId = APP, eventId = EVENT, headers = slow }):await()
    assert.are.equal(EVENT, answer.id)
    -- nor patient's handle take quick's limit away
    local err, ok = outcome(quick.event.get({ applicationId = APP, eventId = EVENT, headers = slow }))
    assert.is_false(ok)
    assert.are.equal("Timeout", err.type)
  end)
end)
