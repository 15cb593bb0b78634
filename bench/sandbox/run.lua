-- Speed and abuse figures of eventapi-sandbox (sandbox/README.md, "Speed
-- and limits"). Not a spec: it prints a table of what it measured.
--
--   lua5.4 bench/sandbox/run.lua [SANDBOX_BINARY] [WORKLOAD...]
--
-- SANDBOX_BINARY defaults to build/eventapi-sandbox. WORKLOADs (all when
-- none is named): get_one, list, patch, trickle, record, uploads.
-- Needs curl, bash and wrk (Debian: apt-get install wrk). Peak memory is
-- the sandbox's VmHWM from /proc; every sandbox runs with default flags
-- (plus --record for the record workload), so an older binary can be
-- measured the same way.
local binary = arg[1] or "build/eventapi-sandbox"
local APP = "575ec8687ae143cd83dc4a97"
local EVENT = "575ed0de7ae143cd83dc4aa5"
local TOKEN = "sandbox-all-access"
local AUTH = "Authorization: Bearer " .. TOKEN

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function now() return tonumber(run("date +%s.%N")) end
local function sleep(s) os.execute("sleep " .. s) end

local TMP = run("mktemp -d"):match("%S+")

--- Runs a bash script in the background in its own process group; returns its pid.
local function background(script)
  return tonumber(run("setsid bash -c " .. q(script) .. " >/dev/null 2>&1 & echo $!"))
end

--- Ends a background script and whatever it started (its process group, by id).
local function finish(pid)
  if pid then os.execute("kill -- -" .. pid .. " 2>/dev/null") end
end

--- Starts the sandbox with extra args and a seed file; returns {pid, url, port, stop}.
local function start(seed, args)
  local cmd = "sh -c " .. q("echo $$; exec " .. q(binary) .. " --listen 127.0.0.1:0 --seed " .. q(seed) .. " "
    .. (args or "") .. " 2>/dev/null")
  local pipe = assert(io.popen(cmd))
  local pid = tonumber(pipe:read("l"))
  local line = assert(pipe:read("l"), "the sandbox did not start")
  local url = assert(line:match("listening on (http://%S+)"), line)
  local h = { pid = pid, url = url, port = url:match(":(%d+)$") }
  function h.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    pipe:close()
  end
  return h
end

--- Resident memory now and at its peak, in MB.
local function memory(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return 0, 0 end
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)")) / 1024, tonumber(text:match("VmHWM:%s*(%d+)")) / 1024
end

--- One curl exchange: status, seconds.
local function curl(method, url, extra)
  local out = run("curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 -X " .. method .. " -H "
    .. q(AUTH) .. " " .. (extra or "") .. " " .. q(url))
  local status, t = out:match("(%d+) ([%d.]+)")
  return tonumber(status), tonumber(t)
end

--- wrk's requests/s and mean latency in ms.
local function wrk(args)
  local out = run("wrk " .. args .. " 2>&1")
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  local lat, unit = out:match("Latency%s+([%d.]+)(%a+)")
  lat = tonumber(lat)
  if lat and unit == "us" then lat = lat / 1000 elseif lat and unit == "s" then lat = lat * 1000 end
  return rps, lat, out
end

--- A seed: the example seed's applications and tokens, n generated events
-- and the event EVENT with `updates` earlier updates.
local function seed(n, updates)
  local parts = {}
  for i = 1, n do
    parts[#parts + 1] = ('{"id":"6%023x","applicationId":"%s","level":"%s","state":"%s","subject":"Generated event %d",'
      .. '"creationDate":"2026-%02d-%02dT%02d:%02d:%02d.000Z","eventTags":{"line":"%d"}}')
      :format(i, APP, ({ "info", "warning", "error", "critical" })[i % 4 + 1], ({ "new", "acknowledged", "resolved" })[i % 3 + 1],
        i, 1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 10)
  end
  local ups = {}
  for i = 1, updates do
    ups[i] = ('{"sourceType":"apiToken","creationDate":"2026-11-20T04:00:00.000Z","comment":"update %d"}'):format(i)
  end
  parts[#parts + 1] = ('{"id":"%s","applicationId":"%s","level":"critical","state":"new","subject":"Power levels critical",'
    .. '"creationDate":"2026-11-20T04:00:00.000Z","updates":[%s]}'):format(EVENT, APP, table.concat(ups, ","))
  local path = TMP .. "/seed-" .. n .. "-" .. updates .. ".json"
  local f = assert(io.open(path, "w"))
  f:write('{"losant":{"applications":[{"id":"', APP, '","name":"Bench"}],"tokens":[{"token":"', TOKEN,
    '","scopes":["all.Application"]}],"events":[', table.concat(parts, ","), "]}}")
  f:close()
  return path
end

local results = {}
local function report(workload, what, value, note)
  results[#results + 1] = { workload, what, value, note or "" }
  print(("%-10s %-58s %s %s"):format(workload, what, value, note or ""))
  io.stdout:flush()
end

local workloads = {}

function workloads.get_one()
  local sb = start(seed(0, 0))
  local url = sb.url .. "/applications/" .. APP .. "/events/" .. EVENT
  wrk("-t2 -c64 -d2s -H " .. q(AUTH) .. " " .. q(url)) -- warm-up
  for i = 1, 3 do
    local rps = wrk("-t2 -c64 -d10s -H " .. q(AUTH) .. " " .. q(url))
    report("get_one", "GET of one event, wrk -t2 -c64 10 s, run " .. i, ("%.0f req/s"):format(rps or 0))
  end
  report("get_one", "resident memory after", ("%.1f MB"):format((memory(sb.pid))))
  sb.stop()
end

function workloads.list()
  local sb = start(seed(20000, 0))
  local base = sb.url .. "/applications/" .. APP .. "/events"
  local cases = {
    { "perPage=100 (default sort creationDate desc)", "?perPage=100" },
    { "perPage=100&page=150", "?perPage=100&page=150" },
    { "perPage=100, sortField=subject asc", "?perPage=100&sortField=subject&sortDirection=asc" },
    { "perPage=100, sortField=level desc", "?perPage=100&sortField=level" },
    { "perPage=100, state=new", "?perPage=100&state=new" },
    { "perPage=100, filter=*77*", "?perPage=100&filterField=subject&filter=*77*" },
    { 'perPage=100, query {"level":"critical"}', "?perPage=100&query=%7B%22level%22%3A%22critical%22%7D" },
    { 'perPage=100, query {"subject":{"$contains":"77"}}',
      "?perPage=100&query=%7B%22subject%22%3A%7B%22%24contains%22%3A%2277%22%7D%7D" },
  }
  for _, c in ipairs(cases) do
    local _, lat = wrk("-t1 -c1 -d5s -H " .. q(AUTH) .. " " .. q(base .. c[2]))
    report("list", "list of 20,000 events, " .. c[1], ("%.2f ms"):format(lat or -1), "(mean, one connection)")
  end
  sb.stop()
end

function workloads.patch()
  local sb = start(seed(0, 5000))
  local url = sb.url .. "/applications/" .. APP .. "/events/" .. EVENT
  local script = TMP .. "/patch.lua"
  local f = assert(io.open(script, "w"))
  f:write('wrk.method = "PATCH"\nwrk.body = \'{"comment":"bench"}\'\n',
    'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ', TOKEN, '"\n')
  f:close()
  local rps, lat = wrk("-t1 -c1 -d3s -s " .. q(script) .. " " .. q(url))
  local after = run("curl -s -H " .. q(AUTH) .. " " .. q(url))
  local n = select(2, after:gsub('"comment"', ""))
  report("patch", "PATCH of an event with 5,000 updates", ("%.2f ms"):format(lat or -1),
    ("(mean, one connection; %.0f req/s; %d updates at the end)"):format(rps or 0, n))
  sb.stop()
end

function workloads.trickle()
  local sb = start(seed(0, 0))
  local url = sb.url .. "/applications/" .. APP .. "/events/" .. EVENT
  -- 1,100 connections, each sending one header byte every 10 s
  local script = ([[
ulimit -n 4096
for i in $(seq 1 1100); do eval "exec $((i + 10))<>/dev/tcp/127.0.0.1/%s" || exit 9; done
for round in 1 2 3; do
  for i in $(seq 1 1100); do printf 'G' >&$((i + 10)) 2>/dev/null; done
  sleep 10
done]]):format(sb.port)
  local pid = background(script)
  local t0 = now()
  local worst = 0
  for _, at in ipairs({ 2, 5, 9, 12, 16, 22 }) do
    local wait = t0 + at - now()
    if wait > 0 then sleep(wait) end
    local status, t = curl("GET", url)
    if status ~= 200 then t = 30 end
    worst = math.max(worst, t)
    report("trickle", ("GET while 1,100 connections trickle headers (%2d s in)"):format(at), ("%.3f s"):format(t),
      "status " .. tostring(status))
  end
  report("trickle", "slowest of those GETs", ("%.3f s"):format(worst))
  finish(pid)
  sb.stop()
end

function workloads.record()
  local sb = start(seed(0, 0), "--record")
  local body = TMP .. "/control.bin"
  local f = assert(io.open(body, "wb"))
  local chunk = {}
  for i = 0, 3499 do chunk[#chunk + 1] = string.char(1 + i % 31) end
  chunk = table.concat(chunk)
  for _ = 1, 1000 do f:write(chunk) end -- 3.5 MB of control bytes
  f:close()
  for _ = 1, 20 do curl("POST", sb.url .. "/bench/record", "-H 'Content-Type: text/plain' --data-binary @" .. q(body)) end
  local rss, peak = memory(sb.pid)
  report("record", "after 20 recorded requests of 3.5 MB of control bytes", ("%.1f MB"):format(rss),
    ("(peak %.1f MB)"):format(peak))
  local status, t = curl("GET", sb.url .. "/_sandbox/requests")
  rss, peak = memory(sb.pid)
  report("record", "after GET /_sandbox/requests", ("%.1f MB"):format(rss),
    ("(peak %.1f MB; status %s in %.2f s)"):format(peak, tostring(status), t or -1))
  sb.stop()
end

function workloads.uploads()
  local sb = start(seed(0, 0))
  local url = sb.url .. "/applications/" .. APP .. "/events"
  local body = TMP .. "/upload.bin"
  os.execute("head -c 4000000 /dev/zero | tr '\\0' ' ' > " .. q(body))
  -- 100 uploads that announce 4 MiB, send 4,000,000 bytes and stall
  local script = ([[
ulimit -n 4096
for i in $(seq 1 100); do
  eval "exec $((i + 10))<>/dev/tcp/127.0.0.1/%s" || exit 9
  printf 'POST /applications/%s/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n' >&$((i + 10))
  printf 'Content-Type: application/json\r\nContent-Length: 4194304\r\n\r\n' >&$((i + 10))
  cat %s >&$((i + 10)) &
done
wait
sleep 20]]):format(sb.port, APP, TOKEN, body)
  local started = now()
  local pid = background(script)
  sleep(8)
  local rss, peak = memory(sb.pid)
  report("uploads", "100 uploads stalled inside 4 MiB bodies", ("%.1f MB"):format(rss), ("(peak %.1f MB)"):format(peak))
  local status, t = curl("GET", url .. "/" .. EVENT)
  report("uploads", "a GET meanwhile", ("%.3f s"):format(t or -1), "status " .. tostring(status))
  status = curl("POST", url, "-H 'Content-Type: application/json' --data-binary '{\"level\":\"info\",\"subject\":\"x\"}'")
  report("uploads", "a small POST meanwhile", tostring(status), "(503 when the body budget is spent)")
  sleep(math.max(0, 30 - (now() - started)))
  rss, peak = memory(sb.pid)
  report("uploads", "once the stalled uploads are gone", ("%.1f MB"):format(rss), ("(peak %.1f MB)"):format(peak))
  finish(pid)
  sb.stop()
end

local order = { "get_one", "list", "patch", "trickle", "record", "uploads" }
local chosen = {}
for i = 2, #arg do chosen[#chosen + 1] = arg[i] end
if #chosen == 0 then chosen = order end
print(("binary: %s"):format(binary))
for _, name in ipairs(chosen) do
  assert(workloads[name], "unknown workload " .. name)
  workloads[name]()
end
os.execute("rm -rf " .. q(TMP))
