-- Every call of the three services against every fault the sandbox can
-- inject, plus a refused connection and a name that does not resolve: the
-- call fails with the documented error object (README "Errors") and the
-- same client keeps working. The cases are generated from the operation
-- tables, so a new operation without a row here fails the first spec.
--
-- Each fault is injected with fail-first=1 and a key unique to the case:
-- the first request of the client gets the fault, the following one (on
-- the same client) is answered normally. The cases of one fault run
-- concurrently on one loop (setup), then one `it` per operation checks
-- what happened.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local core = require "eventapi.core"

local APP = sandbox.app
local EVENT = sandbox.event
local INTEGRATION = "575ed78e7ae143cd83dc4aab"
local MR_TOKEN = "sandbox-monterosa-token"
local PROJECT = "850e644e-f1ea-444d-bae3-cf38badbe501"
local SEEDED = "18b17c20-5e84-4086-8da0-784f21622e16"
local scale = sandbox.time or function(s) return s end

local SERVICES = {
  -- Losant's events and integrations: every other action takes the same
  -- request path (the wire spec and spec/losant cover their rows)
  losant = { ops = (function()
               local list = {}
               for _, r in ipairs({ "event", "events", "integration", "integrations" }) do
                 for _, op in ipairs(require("eventapi.losant").resource_rows(r)) do list[#list + 1] = op end
               end
               return list
             end)(),
             client = function(url, extra)
               local o = { url = url, token = sandbox.token }
               for k, v in pairs(extra or {}) do o[k] = v end
               return eventapi.losant(o)
             end },
  connectdaily = { ops = require("eventapi.connectdaily").operations,
                   client = function(url, extra)
                     local o = { url = url .. "/calendar", user = "api", password = "sandbox-password" }
                     for k, v in pairs(extra or {}) do o[k] = v end
                     return eventapi.connectdaily(o)
                   end },
  monterosa = { ops = require("eventapi.monterosa").operations,
                client = function(url, extra)
                  local o = { url = url .. "/api/v2", token = MR_TOKEN }
                  for k, v in pairs(extra or {}) do o[k] = v end
                  return eventapi.monterosa(o)
                end },
}
local ORDER = { "losant", "connectdaily", "monterosa" }

local serial = 0
local function unique(prefix)
  serial = serial + 1
  return ("%s-%d-%d"):format(prefix, os.time(), serial)
end

-- The params of one call of each operation: a function of the setup
-- clients (s.losant, s.connectdaily, s.monterosa, answering normally) that
-- makes what the call needs, so every call, the faulty one and the one
-- after it, acts on something that exists. empty: the normal answer has no
-- body (a truncate fault has nothing to cut).
local ROWS = {
  losant = {
    ["event.get"] = { params = function() return { applicationId = APP, eventId = EVENT } end },
    ["event.patch"] = { params = function() return { applicationId = APP, eventId = EVENT,
                                                      event = { comment = unique("fault") } } end },
    ["event.delete"] = { params = function(s)
      local ev = s.losant.events.post({ applicationId = APP, event = { level = "info", subject = unique("doomed") } }):await()
      return { applicationId = APP, eventId = ev.id }
    end },
    ["events.get"] = { params = function() return { applicationId = APP, perPage = 3 } end },
    ["events.post"] = { params = function() return { applicationId = APP,
                                                      event = { level = "info", subject = unique("posted") } } end },
    ["events.patch"] = { params = function() return { applicationId = APP, filterField = "subject",
                                                       filter = unique("nothing"), updates = { comment = "x" } } end },
    ["events.delete"] = { params = function(s) -- one event to remove (a query that matches none is 404)
      local subject = unique("doomed")
      s.losant.events.post({ applicationId = APP, event = { level = "info", subject = subject } }):await()
      return { applicationId = APP, query = { subject = subject } }
    end },
    ["events.mostRecentBySeverity"] = { params = function() return { applicationId = APP } end },
    ["events.export"] = { params = function() return { applicationId = APP, exportData = { email = "ops@example.com" } } end },
    ["integration.get"] = { params = function() return { applicationId = APP, integrationId = INTEGRATION } end },
    ["integration.patch"] = { params = function() return { applicationId = APP, integrationId = INTEGRATION,
                                                            integration = { enabled = false } } end },
    ["integration.delete"] = { params = function(s)
      local made = s.losant.integrations.post({ applicationId = APP,
        integration = { name = unique("doomed"), integrationType = "particle" } }):await()
      return { applicationId = APP, integrationId = made.id }
    end },
    ["integrations.get"] = { params = function() return { applicationId = APP, perPage = 2 } end },
    ["integrations.post"] = { params = function() return { applicationId = APP,
      integration = { name = unique("made"), integrationType = "particle" } } end },
  },
  connectdaily = {
    ["events.get"] = { params = function() return { cal_item_id = 42 } end },
    ["events.update"] = { params = function(s)
      local ev = s.connectdaily.events.create({ event = { calendar_id = 3, description = unique("cd"),
                                                          starting_date = "2026-12-03" } }):await()
      return { cal_item_id = ev.cal_item_id, event = { calendar_id = 3, description = unique("updated"),
                                                       starting_date = "2026-12-04" } }
    end },
    ["events.create"] = { params = function() return { event = { calendar_id = 3, description = unique("made"),
                                                                 starting_date = "2026-12-03" } } end },
    ["events.fork"] = { params = function(s)
      local ev = s.connectdaily.events.create({ event = { calendar_id = 3, description = unique("series"), rec_type = 0,
                                                          starting_date = "2026-12-01", ending_date = "2026-12-31" } }):await()
      return { cal_item_id = ev.cal_item_id, starting_date = "2026-12-05" }
    end },
    ["events.delete"] = { empty = true, params = function(s)
      local ev = s.connectdaily.events.create({ event = { calendar_id = 3, description = unique("doomed"),
                                                          starting_date = "2026-12-03" } }):await()
      return { cal_item_id = ev.cal_item_id }
    end },
  },
  monterosa = {
    ["events.create"] = { params = function() return { project_id = PROJECT, name = unique("made"), duration = 60,
                                                       start_at = 1796153400, start_mode = "manual" } end },
    ["events.get"] = { params = function() return { event_id = SEEDED } end },
    ["events.list"] = { params = function() return { project_id = PROJECT, state = "future", count = 2 } end },
    ["events.update"] = { empty = true, params = function() return { event_id = SEEDED, name = unique("renamed") } end },
    ["events.delete"] = { empty = true, params = function(s)
      local ev = s.monterosa.events.create({ project_id = PROJECT, name = unique("doomed"), duration = 60,
                                             start_at = 1796153400, start_mode = "manual" }):await()
      return { event_id = ev.id }
    end },
  },
}

-- Every operation as { service, op, row, label }.
local function cases()
  local list = {}
  for _, service in ipairs(ORDER) do
    for _, op in ipairs(SERVICES[service].ops) do
      list[#list + 1] = { service = service, op = op, row = ROWS[service][op.name], label = service .. " " .. op.name }
    end
  end
  return list
end

local function call(client, op, params)
  local resource, action = op.name:match("^(%w+)%.(.+)$")
  return client[resource][action](params)
end

local function outcome(p)
  return p:next(function(v) return { ok = true, value = v } end, function(e) return { ok = false, err = e } end)
end

-- Clients that answer normally, sending Connection: close so no idle
-- connection stays in the pool: a reset on a reused connection is
-- silently re-sent by libcurl (see reset below), so every faulty request
-- must go out on a new connection.
local function setup_clients(url)
  local s = {}
  for name, svc in pairs(SERVICES) do s[name] = svc.client(url, { headers = { Connection = "close" } }) end
  return s
end

-- Runs every case against one fault on a sandbox of its own (so no
-- connection of another group is reused): the first call of each client
-- concurrently, then the following call of each client concurrently.
-- opts: fault (X-Sandbox-Fault without fail-first), url (default the
-- sandbox), client (extra client options), same_client_after (false when
-- the following call cannot succeed on that client: it goes through a
-- working client instead, and the same client is tried once more).
-- Returns label -> { first, after, again, statuses, elapsed }.
local function run_fault(opts)
  local sb = sandbox.start({ faults = true })
  local ok, results = pcall(function()
    local s = setup_clients(sb.url)
    local list, results = cases(), {}
    local firsts, clients, statuses = {}, {}, {}
    for i, c in ipairs(list) do
      assert(c.row, "no params row for " .. c.label)
      local extra = {}
      for k, v in pairs(opts.client or {}) do extra[k] = v end
      if opts.fault then
        extra.headers = { ["X-Sandbox-Fault"] = opts.fault .. ",fail-first=1",
                          ["X-Sandbox-Fault-Key"] = unique((c.label:gsub("%W", "-"))) }
      end
      clients[i] = SERVICES[c.service].client(opts.url or sb.url, extra)
      statuses[i] = {}
      clients[i]:on("response", function(info) table.insert(statuses[i], info.status or info.error) end)
      c.first_params = c.row.params(s)
    end
    local started = core.now()
    for i, c in ipairs(list) do firsts[i] = outcome(call(clients[i], c.op, c.first_params)) end
    local first = eventapi.all(firsts):await()
    local elapsed = core.now() - started
    local afters, working = {}, {}
    for name, svc in pairs(SERVICES) do working[name] = svc.client(sb.url) end
    for i, c in ipairs(list) do
      local client = opts.same_client_after == false and working[c.service] or clients[i]
      afters[i] = outcome(call(client, c.op, c.row.params(s)))
    end
    local after = eventapi.all(afters):await()
    local again = {}
    if opts.same_client_after == false then
      for i, c in ipairs(list) do again[i] = outcome(call(clients[i], c.op, c.first_params)) end
      again = eventapi.all(again):await()
    end
    for i, c in ipairs(list) do
      results[c.label] = { first = first[i], after = after[i], again = again[i], statuses = statuses[i],
                           elapsed = elapsed }
      clients[i]:close()
    end
    for _, client in pairs(working) do client:close() end
    for _, client in pairs(s) do client:close() end
    return results
  end)
  sb.stop()
  if not ok then error(results, 0) end
  return results
end

local function check_error(r, case, want)
  assert.is_false(r.ok, case.label .. " did not fail: " .. tostring(r.value))
  local e = r.err
  assert.is_true(eventapi.Error.is(e), case.label .. ": not an error object: " .. tostring(e))
  assert.are.equal(want.type, e.type, case.label .. ": " .. tostring(e))
  assert.are.equal(want.status, e.status, case.label .. ": " .. tostring(e))
  if want.transport then assert.is_true(e.transport, case.label .. ": transport not set") end
  assert.are.equal(case.op.method, e.method)
  assert.is_string(e.message)
  assert.truthy(tostring(e):find(e.type, 1, true))
end

local function check_after(r, case)
  assert.is_true(r.ok, case.label .. ": the following call failed: " .. tostring(r.err))
  assert.is_not_nil(r.value)
end

describe("the fault matrix", function()
  it("has a params row for every operation of the three services (24 calls)", function()
    local n = 0
    for _, c in ipairs(cases()) do
      assert.is_table(c.row, "no params row for " .. c.label)
      n = n + 1
    end
    for service, rows in pairs(ROWS) do
      for name in pairs(rows) do
        local found = false
        for _, op in ipairs(SERVICES[service].ops) do found = found or op.name == name end
        assert.is_true(found, "a row for an operation that does not exist: " .. service .. " " .. name)
      end
    end
    assert.are.equal(24, n)
  end)

  -- fault, expected error of the first call (status = "normal" keeps the
  -- call's own success status)
  local FAULTS = {
    { name = "a reset connection", fault = "reset", want = { type = "ConnectionFailed", transport = true } },
    { name = "a body cut short", fault = "truncate", want = { type = "InvalidResponse", transport = true, status = "normal" } },
    { name = "a body that is not JSON", fault = "garbage", want = { type = "InvalidResponse", status = 200 } },
    -- (a status fault answers in the service's own error shape: Losant's
    -- names its type, the others' errors are typed by their status)
    { name = "503", fault = "status=503", want = { type = "SandboxFault", status = 503, others = "ServerError" } },
    { name = "429 with Retry-After", fault = "status=429,retry-after=7",
      want = { type = "SandboxFault", status = 429, retry_after = "7", others = "TooManyRequests" } },
  }

  for _, f in ipairs(FAULTS) do
    describe(f.name, function()
      local results
      setup(function() results = run_fault({ fault = f.fault }) end)
      for _, c in ipairs(cases()) do
        it(c.label .. " fails as documented, then the same client works", function()
          local r = results[c.label]
          local want = f.want
          if want.others and c.service ~= "losant" then
            want = { type = want.others, status = want.status, retry_after = want.retry_after }
          end
          if want.status == "normal" then
            if c.row.empty then
              -- Nothing to cut: the sandbox sends the 204 whole.
              assert.is_true(r.first.ok, c.label .. ": " .. tostring(r.first.err))
              check_after(r.after, c)
              return
            end
            -- the status of the answer that was cut: the one the following call got
            assert.are.equal(2, #r.statuses)
            want = { type = want.type, transport = want.transport, status = r.statuses[2] }
          end
          check_error(r.first, c, want)
          if want.retry_after then assert.are.equal(want.retry_after, r.first.err.retry_after) end
          if want.status and want.status >= 400 then
            assert.are.equal("Injected fault: status " .. want.status, r.first.err.message)
          end
          check_after(r.after, c)
        end)
      end
    end)
  end

  it("does not hold other requests to a host back behind a slow answer", function()
    local sb = sandbox.start({ faults = true })
    local slow = eventapi.losant({ url = sb.url, token = sandbox.token, headers = { ["X-Sandbox-Fault"] = "delay=3000" } })
    local quick = eventapi.losant({ url = sb.url, token = sandbox.token })
    local started = core.now()
    local held = slow.event.get({ applicationId = APP, eventId = EVENT })
    local took
    local fast = quick.event.get({ applicationId = APP, eventId = EVENT }):next(function(ev)
      took = core.now() - started
      return ev
    end)
    local ok = pcall(function() return eventapi.all({ held, fast }):await() end)
    sb.stop()
    assert.is_true(ok)
    assert.is_true(took < scale(1.5), "the quick request waited " .. tostring(took) .. " s")
  end)

  describe("an answer slower than the client's timeout", function()
    local results, timeout = nil, scale(1)
    setup(function()
      results = run_fault({ fault = ("delay=%d"):format(math.floor(scale(4) * 1000)), client = { timeout = timeout } })
    end)
    it("fails every call within the timeout, not the delay", function()
      local any = next(results)
      assert.is_true(results[any].elapsed < scale(3.5), "took " .. results[any].elapsed .. " s")
    end)
    for _, c in ipairs(cases()) do
      it(c.label .. " is Timeout, then the same client works", function()
        local r = results[c.label]
        check_error(r.first, c, { type = "Timeout", transport = true })
        check_after(r.after, c)
      end)
    end
  end)

  for _, t in ipairs({ { name = "a refused connection", url = "http://127.0.0.1:1" },
                       { name = "a host name that does not resolve", url = "http://nonexistent.invalid" } }) do
    describe(t.name, function()
      local results
      setup(function()
        -- a generous connect timeout: a resolver that drops a query retries after seconds
        results = run_fault({ url = t.url, client = { connect_timeout = scale(30) }, same_client_after = false })
      end)
      for _, c in ipairs(cases()) do
        it(c.label .. " is ConnectionFailed, again on the same client, and the loop goes on", function()
          local r = results[c.label]
          check_error(r.first, c, { type = "ConnectionFailed", transport = true })
          assert.truthy(r.first.err.url:find(t.url, 1, true))
          check_error(r.again, c, { type = "ConnectionFailed", transport = true })
          check_after(r.after, c)
        end)
      end
    end)
  end
end)
