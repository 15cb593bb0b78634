-- 1,000 open server-sent-event streams on one loop (issue #30): the client
-- process's CPU while they idle, and the time from a message reaching the
-- client's socket to its callback. Usage (from the top level, after `make
-- build sandbox`; `make -C bench streams` does it all):
--   lua5.4 bench/streams.lua [BUILD_DIR] [STREAMS] [MESSAGES] [IDLE_S]
-- Phase 1, idle: eventapi-sandbox (its own connection limit, 4096 by
-- default, is raised to STREAMS + 256 with --max-connections when lower),
-- STREAMS device.stateStream streams with keepAliveInterval=60 on one
-- client, all open; then the loop is driven (eventapi.sleep(IDLE_S):await())
-- and this process's user + system CPU (getrusage) over that wall time is
-- the idle CPU, as % of one core. Afterwards one device.sendState checks
-- that every stream is still alive (each gets that one message).
-- Phase 2, latency: bench/sse_server.lua (luv, a child process) holds
-- STREAMS streams from the same client and writes MESSAGES messages to them
-- in turn, one per millisecond, each data `{"t": <CLOCK_MONOTONIC ns>}`
-- stamped right before its write; each message's callback reads
-- CLOCK_MONOTONIC and keeps the difference: median, p90, p99, max.
local build = arg[1] or "build"
local N = tonumber(arg[2] or "1000")
local MESSAGES = tonumber(arg[3] or "5000")
local IDLE_S = tonumber(arg[4] or "10")
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = build .. "/?.so;bench/build/?.so;" .. package.cpath

local eventapi = require "eventapi"
local clock = require "benchclock"
local uv = require "luv" -- only for getrusage (microseconds, this process, every thread)

local APP = "575ec8687ae143cd83dc4a97"
local DEVICE = "575ecf887ae143cd83dc4aa2" -- phase 2's (the luv server takes any); phase 1 makes its own in the sandbox

local function cpu()
  local r = uv.getrusage()
  return r.utime.sec + r.utime.usec * 1e-6 + r.stime.sec + r.stime.usec * 1e-6
end

--- Voluntary and involuntary context switches of this process so far (/proc).
local function switches()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("voluntary_ctxt_switches:%s*(%d+)")), tonumber(s:match("nonvoluntary_ctxt_switches:%s*(%d+)"))
end

local function open_files_limit()
  local f = io.open("/proc/self/limits")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("Max open files%s+(%d+)"))
end

--- Starts a child with cmd (which prints "listening on URL" first); -> pid, url, the pipe.
local function start(cmd)
  local p = assert(io.popen(("sh -c 'echo $$; exec %s'"):format(cmd)))
  local pid = p:read("l")
  local line = p:read("l") or ""
  local url = line:match("(http://[%d.:]+)")
  assert(url, "did not start: " .. cmd)
  return pid, url, p
end

--- Opens n stateStream streams on client c; each message goes to on_message.
--> the list, and a promise of all of them open.
local function open_streams(c, n, on_message)
  local list, ready = {}, {}
  for i = 1, n do
    local s = c.device.stateStream({ applicationId = APP, deviceId = DEVICE, keepAliveInterval = 60 })
    s:on("message", on_message)
    s:on("error", function(e) error(("stream %d failed: %s"):format(i, tostring(e)), 0) end)
    list[i], ready[i] = s, s.ready
  end
  return list, eventapi.all(ready)
end

local function close_all(list)
  for _, s in ipairs(list) do s:close() end
  eventapi.run()
end

local limit = open_files_limit()
assert(not limit or limit >= N + 64, ("open files limit %d is below %d streams + 64: raise it (ulimit -n)"):format(limit or 0, N))

print(("%d streams on one client, one loop (%s, eventapi %s)"):format(N, _VERSION, eventapi.version))

-- Phase 1: idle CPU against the sandbox.
local max_conn = math.max(4096, N + 256)
local sb_pid, sb_url, sb_pipe = start(("%s/eventapi-sandbox --listen 127.0.0.1:0 --seed examples/seed.json "
  .. "--max-connections %d 2>/dev/null"):format(build, max_conn))
local c = eventapi.losant({ url = sb_url, token = "sandbox-all-access" })
DEVICE = c.devices.post({ applicationId = APP, device = { name = "bench-streams" } }):await().id
local got = 0
local t0 = clock.now()
local list, ready = open_streams(c, N, function() got = got + 1 end)
ready:await()
local t_open = clock.now() - t0
print(("phase 1, eventapi-sandbox (--max-connections %d): %d streams open in %.2f s"):format(max_conn, N, t_open))

eventapi.sleep(1):await() -- the openings' after-effects settle
local vol0, invol0 = switches()
local cpu0, wall0 = cpu(), clock.now()
eventapi.sleep(IDLE_S):await()
local cpu1, wall1 = cpu(), clock.now()
local vol1, invol1 = switches()
local idle_pct = (cpu1 - cpu0) / (wall1 - wall0) * 100
print(("idle: %.3f s CPU over %.2f s wall = %.3f%% of one core (target < 1%%); %d voluntary, %d involuntary "
  .. "context switches"):format(cpu1 - cpu0, wall1 - wall0, idle_pct, vol1 - vol0, invol1 - invol0))

-- every stream still alive: one state, N messages
local t1 = clock.now()
c.device.sendState({ applicationId = APP, deviceId = DEVICE, deviceState = { data = { bench = 1 } } }):await()
while got < N do eventapi.step(100) end
print(("after the idle phase, one device.sendState reached all %d streams in %.1f ms (POST to the last callback)")
  :format(N, (clock.now() - t1) * 1000))
close_all(list)
c:close()
os.execute("kill " .. sb_pid)
sb_pipe:close()

-- Phase 2: latency against bench/sse_server.lua.
DEVICE = "575ecf887ae143cd83dc4aa2"
local srv_pid, srv_url, srv_pipe = start(("lua5.4 bench/sse_server.lua %d %d 1 1"):format(N, MESSAGES))
local c2 = eventapi.losant({ url = srv_url, token = "bench" })
local lat, n = {}, 0
local function on_message(msg)
  local now_ns = clock.now() * 1e9
  n = n + 1
  lat[n] = (now_ns - msg.data.t) / 1000 -- microseconds
end
t0 = clock.now()
local list2, ready2 = open_streams(c2, N, on_message)
ready2:await()
print(("phase 2, bench/sse_server.lua (luv): %d streams open in %.2f s; %d messages, one every 1 ms, round robin")
  :format(N, clock.now() - t0, MESSAGES))
local cpu2 = cpu()
local first
while n < MESSAGES do
  eventapi.step(100)
  if n > 0 and not first then first = { cpu = cpu(), n = n } end
end
local cpu3 = cpu()
table.sort(lat)
local function q(p) return lat[math.max(1, math.ceil(p * #lat))] end
print(("latency, socket write to callback (us): median %.1f  p90 %.1f  p99 %.1f  max %.1f  min %.1f (target: "
  .. "median < 1000)"):format(q(0.5), q(0.9), q(0.99), lat[#lat], lat[1]))
print(("client CPU while they came: %.1f us per message (%.3f s over %d messages)")
  :format((cpu3 - first.cpu) / (n - first.n) * 1e6, cpu3 - cpu2, n))
close_all(list2)
c2:close()
os.execute("kill " .. srv_pid .. " 2>/dev/null")
srv_pipe:close()

print(("targets: idle CPU %.3f%% < 1%%: %s; median latency %.1f us < 1000 us: %s"):format(idle_pct,
  idle_pct < 1 and "MET" or "NOT MET", q(0.5), q(0.5) < 1000 and "MET" or "NOT MET"))
