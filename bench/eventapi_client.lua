--- eventapi benchmark client: keeps CONCURRENCY requests of one workload in
-- flight until COUNT have completed, and prints one RESULT line.
--
-- Usage: lua5.4 bench/eventapi_client.lua URL WORKLOAD CONCURRENCY COUNT BODYFILE [STYLE] [SAMPLE_EVERY]
--   WORKLOAD      get (event.get) | page (events.get, perPage 100) | post (events.post)
--   STYLE         promise (default): p:next callbacks start the next request;
--                 spawn: CONCURRENCY coroutines, each looping on :await();
--                 chain: CONCURRENCY recursive chains (`return next()` inside
--                 :next, the common JavaScript shape: each link's promise
--                 follows the next link's, so a chain holds no link back);
--                 map: eventapi.map over COUNT items with concurrency CONCURRENCY,
--                 each item's function booking its answer and returning true;
--                 lists: the promise style holding what map holds (the
--                 COUNT-item input list and a results list filled with true),
--                 the control for map's memory
--   SAMPLE_EVERY  memory check: print RSS every that many completed requests
--                 (latencies are then not recorded, so they do not grow memory)
-- Needs LUA_PATH/LUA_CPATH for eventapi and benchclock (bench/run.sh sets them).
-- Every call builds its params table anew, as scripts do.
-- Output: RESULT ok=N errors=E elapsed_s=S rps=R p50_us=P p99_us=Q allocs_per_req=A
--         (A: Lua allocations per request over the run, this script's own
--         callbacks included) and with SAMPLE_EVERY: RSS n=REQUESTS kb=KB lines before it.

local clock = require "benchclock"
clock.count_allocations() -- before anything else allocates
local eventapi = require "eventapi"

local url, workload = arg[1], arg[2]
local concurrency, count = tonumber(arg[3]), tonumber(arg[4])
local bodyfile, style = arg[5], arg[6] or "promise"
local sample_every = tonumber(arg[7] or "0")
if not (url and workload and concurrency and count and bodyfile) then
  io.stderr:write("usage: eventapi_client.lua URL get|page|post CONCURRENCY COUNT BODYFILE [promise|spawn|chain|map|lists] [SAMPLE_EVERY]\n")
  os.exit(2)
end

local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
local TOKEN = os.getenv("BENCH_TOKEN") or "sandbox-all-access"

local losant = eventapi.losant{ token = TOKEN, url = url, max_connections = concurrency }

--- Reads a whole file.
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local post_event = eventapi.json.decode(slurp(bodyfile))

--- Starts one request of the workload; returns its promise and a check of its value.
local start_request, check
if workload == "get" then
  start_request = function() return losant.event.get({ applicationId = APP, eventId = EVENT }) end
  check = function(v) return type(v) == "table" and v.id ~= nil end
elseif workload == "page" then
  start_request = function() return losant.events.get({ applicationId = APP, perPage = 100 }) end
  check = function(v) return type(v) == "table" and type(v.items) == "table" and #v.items == 100 end
elseif workload == "post" then
  start_request = function() return losant.events.post({ applicationId = APP, event = post_event }) end
  check = function(v) return type(v) == "table" and v.id ~= nil end
else
  io.stderr:write("unknown workload " .. workload .. "\n")
  os.exit(2)
end

local record = sample_every <= 0
if record then clock.reserve_latencies(count) end -- a C array, like the raw client's
local started, done, errors = 0, 0, 0
local first_error

--- Current resident set size in KB, from /proc/self/statm.
local function rss_kb()
  local f = io.open("/proc/self/statm")
  if not f then return -1 end
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4
end

--- Books one completion: latency, error count, memory sample.
local function finished(t0, ok, value)
  done = done + 1
  if ok and check(value) then
    if record then clock.record_latency(clock.now() - t0) end
  else
    errors = errors + 1
    if not first_error then first_error = ok and "unexpected value" or tostring(value) end
  end
  if not record and done % sample_every == 0 then
    print(("RSS n=%d kb=%d"):format(done, rss_kb()))
  end
end

local t_start = clock.now()
local allocs_start = clock.allocations()
if style == "promise" or style == "lists" then
  -- lists: the same, with map's two lists live (the items, the results)
  local items, results = nil, nil
  if style == "lists" then
    items, results = {}, require("eventapi.core").new_list(count)
    for i = 1, count do items[i] = i end
  end
  --- Starts the next request while fewer than count have been started.
  local function launch()
    if started >= count then return end
    started = started + 1
    local t0 = clock.now()
    if results then -- lists: books a result where map would
      start_request():next(function(v) finished(t0, true, v); results[done] = items[done] and true; launch() end,
                           function(e) finished(t0, false, e); results[done] = items[done] and true; launch() end)
    else
      start_request():next(function(v) finished(t0, true, v); launch() end,
                           function(e) finished(t0, false, e); launch() end)
    end
  end
  for _ = 1, math.min(concurrency, count) do launch() end
  eventapi.run()
elseif style == "spawn" then
  --- One worker: awaits requests one after another until count are started.
  local function worker()
    while started < count do
      started = started + 1
      local t0 = clock.now()
      local ok, v = pcall(function() return start_request():await() end)
      finished(t0, ok, v)
    end
  end
  for _ = 1, math.min(concurrency, count) do eventapi.spawn(worker) end
  eventapi.run()
elseif style == "chain" then
  --- The next link of a chain: a request whose handlers return the next link.
  local function link()
    if started >= count then return nil end
    started = started + 1
    local t0 = clock.now()
    return start_request():next(function(v) finished(t0, true, v); return link() end,
                                function(e) finished(t0, false, e); return link() end)
  end
  for _ = 1, math.min(concurrency, count) do link() end
  eventapi.run()
elseif style == "map" then
  -- Each item books its own latency and leaves `true` as its result (a
  -- runbook keeps what it needs, not every answer).
  local items = {}
  for i = 1, count do items[i] = i end
  eventapi.map(items, function()
    started = started + 1
    local t0 = clock.now()
    return start_request():next(function(v) finished(t0, true, v); return true end,
                                function(e) finished(t0, false, e); return true end)
  end, { concurrency = concurrency })
  eventapi.run()
else
  io.stderr:write("unknown style " .. style .. "\n")
  os.exit(2)
end
local elapsed = clock.now() - t_start
local allocs = clock.allocations() - allocs_start
clock.stop_counting()

local p50, p99 = clock.latency_quantiles(0.50, 0.99)
if first_error then io.stderr:write("first error: " .. first_error .. "\n") end
print(("RESULT ok=%d errors=%d elapsed_s=%.6f rps=%.1f p50_us=%.1f p99_us=%.1f allocs_per_req=%.1f"):format(
  done - errors, errors, elapsed, done / elapsed, p50, p99, allocs / done))
