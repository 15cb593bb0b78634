--- Soak test (make soak; not part of make test or CI): SOAK_REQUESTS
-- requests (default 1,000,000) mixed across the three services, through one
-- client per service on one loop, about SOAK_CONCURRENCY (32) in flight,
-- against an eventapi-sandbox started with --faults. SOAK_FAULT_RATE (0.05)
-- of the requests carry an X-Sandbox-Fault header (status=503, garbage,
-- truncate, reset, delay=20, in turn); they must fail (delay: succeed) and
-- every other request must succeed. RSS (VmRSS of this process) is sampled
-- every 10,000 requests; the run passes when it grows no more than 5% past
-- the warm-up (the first 10% of the requests) and no other error occurred.
-- Prints the RSS curve and a summary; exits non-zero on failure.
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
local eventapi = require "eventapi"
local core = require "eventapi.core"
local sandbox = require "helpers.sandbox"

local TOTAL = math.tointeger(tonumber(os.getenv("SOAK_REQUESTS") or "1000000"))
local CONCURRENCY = math.tointeger(tonumber(os.getenv("SOAK_CONCURRENCY") or "32"))
local FAULT_RATE = tonumber(os.getenv("SOAK_FAULT_RATE") or "0.05")
local SAMPLE = 10000
assert(TOTAL and TOTAL >= SAMPLE, "SOAK_REQUESTS must be at least 10000")

local APP, EVENT, INTEGRATION = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5", "575ed78e7ae143cd83dc4aac"
local GUID = "9f1c2d3e-0000-4000-8000-000000000042"
local MR_EVENT, MR_PROJECT = "18b17c20-5e84-4086-8da0-784f21622e16", "850e644e-f1ea-444d-bae3-cf38badbe501"

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return math.tointeger(tonumber(text:match("VmRSS:%s*(%d+)")))
end

local sb = sandbox.start({ faults = true, record = false })
local ok, failure = pcall(function()
  local losant = eventapi.losant({ url = sb.url, token = sandbox.token, timeout = 30 })
  local cd = eventapi.connectdaily({ url = sb.url .. "/calendar", user = "api", password = "sandbox-password",
                                    timeout = 30 })
  local mr = eventapi.monterosa({ url = sb.url .. "/api/v2", token = "sandbox-monterosa-token", timeout = 30 })

  -- the normal mix: mostly reads, one idempotent write per service
  local CALLS = {
    function() return losant.event.get({ applicationId = APP, eventId = EVENT }) end,
    function() return losant.events.get({ applicationId = APP, perPage = 5, query = { level = "critical" } }) end,
    function() return losant.integration.get({ applicationId = APP, integrationId = INTEGRATION }) end,
    -- (not event.patch: each patch appends to the event's updates, so the event and every
    -- answer carrying it would grow through the soak and look like a leak)
    function() return losant.integration.patch({ applicationId = APP, integrationId = INTEGRATION,
                                                 integration = { enabled = true } }) end,
    function() return cd.events.get({ cal_item_id = 42 }) end,
    function() return cd.events.get({ itemguid = GUID }) end,
    function() return mr.events.get({ event_id = MR_EVENT }) end,
    function() return mr.events.list({ project_id = MR_PROJECT, state = "future,current,on_demand,past", count = 5 }) end,
  }
  -- injected faults through the same clients (client:request reaches the same endpoints)
  local FAULTS = { "status=503", "garbage", "truncate", "reset", "delay=20" }
  local FAULT_PATHS = {
    { losant, "/applications/" .. APP .. "/events/" .. EVENT },
    { cd, "/restapi/v1/events/42" },
    { mr, "/events/" .. MR_EVENT },
  }

  local started, done, inflight = 0, 0, 0
  local injected, survived, succeeded = 0, 0, 0
  local fault_types, unexpected, nunexpected = {}, {}, 0
  local curve = {}
  local t0 = core.now()
  local clock = os.clock()
  local every = math.max(1, math.floor(1 / FAULT_RATE + 0.5))
  local launch

  local function settle()
    inflight = inflight - 1
    done = done + 1
    if done % SAMPLE == 0 then
      curve[#curve + 1] = { done, rss_kib() }
      if #curve % 10 == 0 or done == TOTAL then
        io.stderr:write(("soak: %d/%d requests, RSS %d KiB\n"):format(done, TOTAL, curve[#curve][2]))
      end
    end
    while inflight < CONCURRENCY and started < TOTAL do launch() end
  end

  function launch()
    started = started + 1
    inflight = inflight + 1
    local n = started
    if n % every == 0 then
      local kind = FAULTS[(n // every) % #FAULTS + 1]
      local target = FAULT_PATHS[(n // every // #FAULTS) % #FAULT_PATHS + 1]
      injected = injected + 1
      target[1]:request({ method = "GET", path = target[2], headers = { ["X-Sandbox-Fault"] = kind } })
        :next(function()
          if kind == "delay=20" then survived = survived + 1 else
            nunexpected = nunexpected + 1
            unexpected[#unexpected + 1] = "fault " .. kind .. " did not fail"
          end
          settle()
        end, function(err)
          if kind == "delay=20" then
            nunexpected = nunexpected + 1
            unexpected[#unexpected + 1] = "delay fault failed: " .. tostring(err)
          else
            survived = survived + 1
            local key = kind .. " -> " .. tostring(type(err) == "table" and err.type or err)
            fault_types[key] = (fault_types[key] or 0) + 1
          end
          settle()
        end)
    else
      CALLS[n % #CALLS + 1]():next(function() succeeded = succeeded + 1; settle() end, function(err)
        nunexpected = nunexpected + 1
        if #unexpected < 20 then unexpected[#unexpected + 1] = tostring(err) end
        settle()
      end)
    end
  end

  while inflight < CONCURRENCY and started < TOTAL do launch() end
  eventapi.run()
  local wall = core.now() - t0
  losant:close(); cd:close(); mr:close()

  -- RSS after warm-up: the first sample at or past 10% of the requests is the baseline
  local warm = math.max(SAMPLE, TOTAL // 10)
  local base, peak
  print(("RSS curve (KiB), every %d requests:"):format(SAMPLE))
  local row = {}
  for _, s in ipairs(curve) do
    row[#row + 1] = ("%7d:%6d"):format(s[1], s[2])
    if #row == 6 then print("  " .. table.concat(row, "  ")) row = {} end
    if s[1] >= warm then
      base = base or s[2]
      peak = math.max(peak or 0, s[2])
    end
  end
  if #row > 0 then print("  " .. table.concat(row, "  ")) end
  local growth = base and (peak - base) / base * 100 or 0
  print(("requests %d in %.0f s (%.0f req/s, %.0f s CPU), concurrency %d"):format(done, wall, done / wall,
    os.clock() - clock, CONCURRENCY))
  print(("succeeded %d; injected faults %d, survived as expected %d"):format(succeeded, injected, survived))
  local keys = {}
  for k in pairs(fault_types) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do print(("  %-40s %d"):format(k, fault_types[k])) end
  print(("RSS after warm-up (%d requests) %d KiB, peak %d KiB, growth %.2f%% (limit 5%%)"):format(warm, base or 0,
    peak or 0, growth))
  if #unexpected > 0 then
    print(("unexpected errors: %d (first ones below)"):format(nunexpected))
    for i = 1, math.min(#unexpected, 10) do print("  " .. unexpected[i]) end
  end
  local pass = #unexpected == 0 and growth <= 5 and done == TOTAL
  print(pass and "soak: PASS" or "soak: FAIL")
  return pass
end)
sb.stop()
if not ok then io.stderr:write("soak: ", tostring(failure), "\n") os.exit(2) end
os.exit(failure and 0 or 1)
