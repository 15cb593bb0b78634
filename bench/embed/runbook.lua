-- Benchmark runbook for the embedding figures (bench/embed/run.sh): started
-- by a host (eventapi.run, the luv adapter or examples/embed/host.c), it
-- returns at once and its host drives it.
--   EMBED_MODE=hold     one event.get that the sandbox holds EMBED_HOLD_MS (default 2000)
--   EMBED_MODE=latency  EMBED_COUNT (default 300) event.get one after another;
--                       prints "LATENCY p50_us=.. p90_us=.." (call to callback)
local eventapi = require "eventapi"
local core = require "eventapi.core"

local url, mode = assert(os.getenv("LOSANT_URL")), os.getenv("EMBED_MODE") or "hold"
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
local losant = eventapi.losant({ url = url, token = "sandbox-all-access" })

if mode == "hold" then
  local hold = os.getenv("EMBED_HOLD_MS") or "2000"
  local headers = hold ~= "0" and { ["X-Sandbox-Fault"] = "delay=" .. hold } or nil
  losant.event.get({ applicationId = APP, eventId = EVENT, headers = headers }, function(err)
    if err then error(err, 0) end
  end)
else
  local count, latencies = tonumber(os.getenv("EMBED_COUNT") or "300"), {}
  local function one(i)
    local started = core.now()
    losant.event.get({ applicationId = APP, eventId = EVENT }, function(err)
      if err then error(err, 0) end
      latencies[#latencies + 1] = (core.now() - started) * 1e6
      if i < count then return one(i + 1) end
      table.sort(latencies)
      print(("LATENCY p50_us=%.1f p90_us=%.1f"):format(latencies[#latencies // 2 + 1],
                                                     latencies[math.floor(#latencies * 0.9) + 1]))
    end)
  end
  one(1)
end
