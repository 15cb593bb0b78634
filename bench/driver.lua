--- Benchmark driver (started by bench/run.sh, which starts the servers and
-- sets the environment): runs every peer on every workload RUNS times,
-- measures each client process (bench/rusage.c: wait4 of the child), takes medians, prints one
-- table with the ratios of eventapi to each peer, checks the targets, runs
-- the memory check and writes bench/results/latest.md. The targets are judged round by round (see paired).
--
-- Environment: NGINX_URL, SANDBOX_URL, BENCH_FIXTURES, BENCH_DIR, BENCH_WORK
-- (from run.sh); QUICK, RUNS, PEERS, SERVERS, SKIP_MEMCHECK, CACHEGRIND, UPDATE_README.

local clock = require "benchclock"

local env = os.getenv
local BENCH, FIX, WORK = env("BENCH_DIR"), env("BENCH_FIXTURES"), env("BENCH_WORK")
assert(BENCH and FIX and WORK, "driver.lua is started by bench/run.sh")
local QUICK = (env("QUICK") or "") ~= "" and env("QUICK") ~= "0"
local RUNS = tonumber(env("RUNS") or "") or (QUICK and 1 or 5)
local TOKEN = env("BENCH_TOKEN") or "sandbox-all-access"
local APP, EVENT = "575ec8687ae143cd83dc4a97", "575ed0de7ae143cd83dc4aa5"
local QUERY = "_actions=false&_links=true&_embedded=true"

-- Request counts: SMALL and LARGE show how cost grows with the run's length.
local SMALL = QUICK and 2000 or 10000
local LARGE = QUICK and 10000 or 100000
local PAGES = QUICK and 300 or 2000          -- events.get of 100 items (83 KB each)
local SB_PAGES = QUICK and 200 or 1000       -- the sandbox serves about 430 pages/s
local MEM_TOTAL = QUICK and 20000 or 200000
local MEM_EVERY = QUICK and 2000 or 10000

local ALL_PEERS = { "eventapi-promise", "eventapi-spawn", "eventapi-chain", "eventapi-map", "eventapi-lists", "raw", "node", "curl" }
-- The eventapi styles: each is the same library driven the way scripts drive it.
local STYLES = { ["eventapi-promise"] = "promise", ["eventapi-spawn"] = "spawn", ["eventapi-chain"] = "chain",
                 ["eventapi-map"] = "map", ["eventapi-lists"] = "lists", ["eventapi-base"] = "promise" }
local PEER_NOTE = {
  ["eventapi-promise"] = "eventapi, promise style (p:next starts the next request)",
  ["eventapi-spawn"] = "eventapi, await inside spawned coroutines",
  ["eventapi-chain"] = "eventapi, recursive promise chains (`return next()` inside `:next`)",
  ["eventapi-map"] = "eventapi, `eventapi.map` over the requests with the concurrency as its limit",
  ["eventapi-lists"] = "eventapi, promise style holding map's two lists (input and results): map's memory control",
  raw = "raw libcurl multi in C + jansson decode (bench/raw)",
  node = "losant-rest on node (the official JavaScript client)",
  curl = "curl --parallel (no JSON decode)",
  ["eventapi-base"] = "eventapi, promise style, with the core.so of EVENTAPI_BASE (a baseline build)",
}

--- Splits a space-separated list.
local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local peers = env("PEERS") and words(env("PEERS")) or ALL_PEERS
local servers = {}
for _, s in ipairs(words(env("SERVERS") or "nginx sandbox")) do servers[s] = true end
local URL = { nginx = env("NGINX_URL"), sandbox = env("SANDBOX_URL") }

-- server, workload (get | page | post), concurrency, requests
local workloads = {}
local only = nil -- WORKLOADS="get:64 page:16": only those (workload:concurrency)
if env("WORKLOADS") then
  only = {}
  for _, w in ipairs(words(env("WORKLOADS"))) do only[w] = true end
end
local function add(server, w, c, n)
  if servers[server] and (not only or only[w .. ":" .. c]) then
    workloads[#workloads + 1] = { server = server, w = w, c = c, n = n }
  end
end
add("nginx", "get", 1, SMALL)
add("nginx", "get", 16, SMALL)
add("nginx", "get", 64, SMALL)
add("nginx", "get", 64, LARGE)
add("nginx", "page", 16, PAGES)
add("nginx", "post", 16, SMALL)
add("sandbox", "get", 1, SMALL)
add("sandbox", "get", 64, SMALL)
add("sandbox", "page", 16, SB_PAGES)
add("sandbox", "post", 16, SMALL)

local OPNAME = { get = "event.get", page = "events.get (100 items)", post = "events.post (1 KB)" }

--- Quotes a string for sh.
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Reads a whole file (nil when missing).
local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- The first line a shell command prints.
local function sh1(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p and p:read("l") or ""
  if p then p:close() end
  return s or ""
end

--- The path under a server of one request of a workload.
local function path_of(w)
  if w == "get" then return ("/applications/%s/events/%s?%s"):format(APP, EVENT, QUERY) end
  if w == "page" then return ("/applications/%s/events?perPage=100&%s"):format(APP, QUERY) end
  return ("/applications/%s/events?%s"):format(APP, QUERY)
end

--- The shell command of one peer run; its stdout goes to out.
local function command(peer, url, w, c, n, extra)
  local body = FIX .. "/post_body.json"
  if STYLES[peer] then
    local style = STYLES[peer]
    local prefix = ""
    if peer == "eventapi-base" then -- the same Lua layer over a baseline core
      local base = assert(env("EVENTAPI_BASE"), "the eventapi-base peer needs EVENTAPI_BASE=dir (with eventapi/core.so)")
      prefix = ("env LUA_CPATH=%s "):format(q(base .. "/?.so;" .. BENCH .. "/build/?.so;;"))
    end
    return ("%slua5.4 %s %s %s %d %d %s %s %s"):format(prefix, q(BENCH .. "/eventapi_client.lua"), q(url), w, c, n,
      q(body), style, extra or "")
  elseif peer == "raw" then
    return ("%s %s %s %d %d %s"):format(q(BENCH .. "/build/raw_client"), q(url), w, c, n, q(body))
  elseif peer == "node" then
    return ("node %s %s %s %d %d %s"):format(q(BENCH .. "/node/client.js"), q(url), w, c, n, q(body))
  elseif peer == "curl" then
    -- One URL glob of n transfers: the fragment differs and is never sent.
    local args = {
      "curl", "-s", "--no-progress-meter", "--parallel", "--parallel-immediate", "--parallel-max", tostring(c),
      "-H", q("Accept: application/json"), "-H", q("Accept-Version: ^1.20.1"),
      "-H", q("Authorization: Bearer " .. TOKEN), "-H", "Expect:",
      "-o", "/dev/null", "-w", q("%{http_code} %{time_total}\\n"),
    }
    if w == "post" then
      for _, a in ipairs({ "-H", q("Content-Type: application/json"), "--data-binary", q("@" .. body) }) do
        args[#args + 1] = a
      end
    end
    args[#args + 1] = q(url .. path_of(w) .. "#[1-" .. n .. "]")
    return table.concat(args, " ")
  end
  error("unknown peer " .. peer)
end

--- The q-quantile of a sorted list (nil when empty).
local function quantile(sorted, p)
  if #sorted == 0 then return nil end
  return sorted[math.max(1, math.min(#sorted, math.ceil(p * #sorted)))]
end

--- Runs one peer once; returns a record {rps, cpu, us, rss_kb, p50, p99} or nil, why.
local function run_once(peer, server, wl, extra)
  local out, err, tim = WORK .. "/out.txt", WORK .. "/err.txt", WORK .. "/time.txt"
  os.remove(tim)
  local cmd = command(peer, URL[server], wl.w, wl.c, wl.n, extra)
  local full = ("%s %s timeout -k 5 1200 %s >%s 2>%s </dev/null"):format(
    q(BENCH .. "/build/rusage"), q(tim), cmd, q(out), q(err))
  os.execute(full)
  local tl = slurp(tim) or ""
  local last
  for line in tl:gmatch("[^\n]+") do last = line end
  local e, u, s, m = (last or ""):match("^(%S+) (%S+) (%S+) (%d+)$")
  if not m then return nil, "no rusage figures: " .. tl .. (slurp(err) or "") end
  local r = { cpu = tonumber(u) + tonumber(s), rss_kb = tonumber(m), wall = tonumber(e) }
  local text = slurp(out) or ""
  if peer == "curl" then
    local want = wl.w == "post" and "201" or "200"
    local lat, ok, bad = {}, 0, 0
    for code, t in text:gmatch("(%d+) ([%d.]+)\n") do
      if code == want then ok = ok + 1; lat[#lat + 1] = tonumber(t) * 1e6 else bad = bad + 1 end
    end
    if ok ~= wl.n then return nil, ("curl: %d of %d answered %s, %d other"):format(ok, wl.n, want, bad) end
    table.sort(lat)
    r.rps, r.p50, r.p99 = wl.n / r.wall, quantile(lat, 0.5), quantile(lat, 0.99)
  else
    local okn, errs, rps, p50, p99 = text:match("RESULT ok=(%d+) errors=(%d+) elapsed_s=%S+ rps=(%S+) p50_us=(%S+) p99_us=(%S+)")
    if not okn then return nil, "no RESULT line: " .. (slurp(err) or "") end
    if tonumber(errs) > 0 then return nil, ("%s errors: %s"):format(errs, slurp(err) or "") end
    r.rps, r.p50, r.p99 = tonumber(rps), tonumber(p50), tonumber(p99)
    r.allocs = tonumber(text:match("allocs_per_req=(%S+)")) -- eventapi peers only
  end
  r.us = r.cpu / wl.n * 1e6
  r.out = text
  return r
end

--- The median of a list of numbers.
local function median(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) // 2] end
  return (t[n // 2] + t[n // 2 + 1]) / 2
end

-- Formatting.
local function f0(x) return x and ("%.0f"):format(x) or "-" end
local function f1(x) return x and ("%.1f"):format(x) or "-" end
local function f2(x) return x and ("%.2f"):format(x) or "-" end
local function thousands(n)
  local s = ("%d"):format(math.floor(n + 0.5))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

io.stdout:setvbuf("line")
print(("runs per figure: %d (median)%s; peers: %s"):format(RUNS, QUICK and "; QUICK" or "", table.concat(peers, " ")))

-- results[workload index][peer] = median record
local results = {}
for wi, wl in ipairs(workloads) do
  local samples = {}
  for _, p in ipairs(peers) do samples[p] = {} end
  io.stderr:write(("%s %s c%d n=%d:"):format(wl.server, wl.w, wl.c, wl.n))
  for round = 1, RUNS do
    -- interleaved, so drift hits every peer alike; the order turns each
    -- round, so no peer always runs right after the same one
    for k = 0, #peers - 1 do
      local p = peers[(k + round - 1) % #peers + 1]
      local r, why = run_once(p, wl.server, wl)
      if r then
        r.round = round
        table.insert(samples[p], r)
        io.stderr:write(" ", p, "=", f0(r.rps))
      else
        samples[p].failed = why
        io.stderr:write(" ", p, "=FAILED")
        io.stderr:write("\n  ", p, ": ", (why or ""):sub(1, 400), "\n")
      end
    end
  end
  io.stderr:write("\n")
  results[wi] = {}
  for _, p in ipairs(peers) do
    local s = samples[p]
    if #s > 0 and not s.failed then
      local m = {}
      for _, k in ipairs({ "rps", "cpu", "us", "rss_kb", "p50", "p99", "allocs" }) do
        local list = {}
        for i, r in ipairs(s) do list[i] = r[k] end
        m[k] = median(list)
      end
      m.rounds = {}
      for _, r in ipairs(s) do m.rounds[r.round] = r end
      results[wi][p] = m
    else
      results[wi][p] = { failed = s.failed or "no run" }
    end
  end
end

-- The table.
local lines = {}
local function out(s) lines[#lines + 1] = s end
out("| server | workload | conc | requests | peer | req/s | CPU s | CPU µs/req | peak RSS MB | p50 µs | p99 µs"
  .. " | eventapi ÷ peer: req/s | eventapi ÷ peer: CPU/req |")
out("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for wi, wl in ipairs(workloads) do
  local ref = results[wi]["eventapi-promise"]
  for _, p in ipairs(peers) do
    local m = results[wi][p]
    local head = ("| %s | %s | %d | %s | %s "):format(wl.server, OPNAME[wl.w], wl.c, thousands(wl.n), p)
    if m.failed then
      out(head .. "| FAILED | | | | | | | |")
    else
      local rr, cr = "", ""
      if p ~= "eventapi-promise" and ref and not ref.failed then
        rr, cr = f2(ref.rps / m.rps), f2(ref.us / m.us)
      end
      out(head .. ("| %s | %s | %s | %s | %s | %s | %s | %s |"):format(
        thousands(m.rps), f2(m.cpu), f1(m.us), f1(m.rss_kb / 1024), f0(m.p50), f0(m.p99), rr, cr))
    end
  end
end

-- The targets of issue #6, against raw libcurl on nginx.
local function find(server, w, c, n)
  for wi, wl in ipairs(workloads) do
    if wl.server == server and wl.w == w and wl.c == c and wl.n == n then return results[wi] end
  end
end
local checks = {}
--- A ratio judged round by round (ratio_of(round) gives one round's, or nil): each
-- round runs every peer back to back, so a round's ratio is free of the
-- drift between rounds, which on a shared machine is larger than the
-- margins the targets set. Returns the median of the rounds' ratios and a
-- text listing them ("rounds 0.91 0.95 0.97: median 0.950").
local function paired_by(ratio_of)
  local list = {}
  for round = 1, RUNS do
    list[#list + 1] = ratio_of(round)
  end
  local m = median(list)
  table.sort(list)
  for i, v in ipairs(list) do list[i] = f2(v) end
  return m, ("rounds %s: median %.3f"):format(table.concat(list, " "), m)
end
--- paired_by for field k of peer a over peer b (rounds either peer missed left out).
local function paired(a, b, k)
  return paired_by(function(round)
    local x, y = a.rounds[round], b.rounds[round]
    return x and y and x[k] / y[k] or nil
  end)
end
local function check(name, ok, detail) checks[#checks + 1] = ("- %s %s: %s"):format(ok and "MET " or "MISS", name, detail) end
-- The targets of issue #15 for every style: throughput >= 0.92 x raw, CPU per
-- request <= 1.2 x raw, peak RSS <= 1.5 x raw (the issue set chains aside,
-- whose promises were live by construction; since a promise that adopts a
-- pending one follows it, they are not, and the harness checks them too).
-- map's RSS is judged with its two lists aside when eventapi-lists runs.
for _, style in ipairs({ "eventapi-promise", "eventapi-spawn", "eventapi-chain", "eventapi-map" }) do
  for _, n in ipairs({ SMALL, LARGE }) do
    local r = find("nginx", "get", 64, n)
    local ea, raw = r and r[style], r and r.raw
    if ea and raw and not ea.failed and not raw.failed then
      local tag = ("%s, event.get c64, %s requests"):format(style, thousands(n))
      local rps, rps_each = paired(ea, raw, "rps")
      check("throughput >= 0.92 x raw (" .. tag .. ")", rps >= 0.92,
        ("%s vs %s req/s; %s"):format(thousands(ea.rps), thousands(raw.rps), rps_each))
      local us, us_each = paired(ea, raw, "us")
      check("CPU/request <= 1.2 x raw (" .. tag .. ")", us <= 1.2,
        ("%.1f vs %.1f µs; %s"):format(ea.us, raw.us, us_each))
      local rss, rss_each = paired(ea, raw, "rss_kb")
      local lists, promise = r["eventapi-lists"], r["eventapi-promise"]
      if style == "eventapi-map" and lists and promise and not lists.failed and not promise.failed then
        -- map's two lists are live by construction, as the issue said of
        -- chains: what they cost is measured (the lists control over the
        -- promise style, same round) and taken off before the 1.5 line.
        local own, own_each = paired_by(function(round)
          local m, l, p, w = ea.rounds[round], lists.rounds[round], promise.rounds[round], raw.rounds[round]
          return m and l and p and w and (m.rss_kb - (l.rss_kb - p.rss_kb)) / w.rss_kb or nil
        end)
        check("peak RSS <= 1.5 x raw, map's two lists aside (" .. tag .. ")", own <= 1.5,
          ("%.1f MB less the lists' %.1f MB (eventapi-lists %.1f less eventapi-promise %.1f) vs %.1f MB; %s;"
            .. " with the lists %s"):format(ea.rss_kb / 1024, (lists.rss_kb - promise.rss_kb) / 1024,
            lists.rss_kb / 1024, promise.rss_kb / 1024, raw.rss_kb / 1024, own_each, rss_each))
      else
        check("peak RSS <= 1.5 x raw (" .. tag .. ")", rss <= 1.5,
          ("%.1f vs %.1f MB; %s"):format(ea.rss_kb / 1024, raw.rss_kb / 1024, rss_each))
      end
    end
  end
  local r = find("nginx", "get", 1, SMALL)
  local ea, raw = r and r[style], r and r.raw
  if ea and raw and not ea.failed and not raw.failed then
    check(("p50 latency within 10 µs of raw (%s, event.get c1)"):format(style), ea.p50 - raw.p50 <= 10,
      ("%.0f vs %.0f µs = %+.0f µs"):format(ea.p50, raw.p50, ea.p50 - raw.p50))
  end
end

-- map's memory against its control (the promise style holding the same two
-- lists): what map itself adds, the lists aside.
for _, n in ipairs({ SMALL, LARGE }) do
  local r = find("nginx", "get", 64, n)
  local map, lists = r and r["eventapi-map"], r and r["eventapi-lists"]
  if map and lists and not map.failed and not lists.failed then
    local _, each = paired(map, lists, "rss_kb")
    checks[#checks + 1] = ("- note: peak RSS of eventapi-map over eventapi-lists (event.get c64, %s requests):"
      .. " %.1f vs %.1f MB; %s"):format(thousands(n), map.rss_kb / 1024, lists.rss_kb / 1024, each)
  end
end

-- Lua allocations per request (the Lua state's new blocks over the run,
-- the bench script's own callbacks and the decoded answers included).
local alloc_lines = {}
for wi, wl in ipairs(workloads) do
  for _, p in ipairs(peers) do
    local m = results[wi][p]
    if STYLES[p] and m and not m.failed and m.allocs then
      alloc_lines[#alloc_lines + 1] = ("- %s %s c%d: %s %.1f"):format(wl.server, OPNAME[wl.w], wl.c, p, m.allocs)
    end
  end
end

-- The memory check: one client, MEM_TOTAL requests, RSS every MEM_EVERY.
local mem_line
if (env("SKIP_MEMCHECK") or "") == "" and servers.nginx then
  local wl = { server = "nginx", w = "get", c = 64, n = MEM_TOTAL }
  io.stderr:write(("memory check: eventapi-promise event.get c64, %s requests\n"):format(thousands(MEM_TOTAL)))
  local r, why = run_once("eventapi-promise", "nginx", wl, tostring(MEM_EVERY))
  if r then
    local kb = {}
    for n, k in r.out:gmatch("RSS n=(%d+) kb=(%d+)") do kb[#kb + 1] = { tonumber(n), tonumber(k) } end
    -- flat: after the second sample (connections and caches warm) RSS grows by at most 1 MB
    local base = kb[math.min(2, #kb)][2]
    local top = base
    for i = 2, #kb do top = math.max(top, kb[i][2]) end
    local shown = {}
    for _, s in ipairs(kb) do shown[#shown + 1] = ("%.1f"):format(s[2] / 1024) end
    mem_line = ("RSS MB every %s requests: %s"):format(thousands(MEM_EVERY), table.concat(shown, " "))
    check(("memory flat over %s requests (eventapi-promise)"):format(thousands(MEM_TOTAL)), top - base <= 1024,
      ("%.1f MB after %s, at most %.1f MB later (+%d kB); %s req/s"):format(base / 1024, thousands(kb[math.min(2, #kb)][1]),
        top / 1024, top - base, thousands(r.rps)))
  else
    mem_line = "memory check FAILED: " .. tostring(why)
    check("memory check ran", false, tostring(why))
  end
end

-- Counts per request under cachegrind (CACHEGRIND=1): instructions and
-- first-level cache misses, which move by a few per cent between runs (how many answers
-- one wake-up brings), where times swing by tens.
local count_lines = {}
if (env("CACHEGRIND") or "") ~= "" and env("CACHEGRIND") ~= "0" and servers.nginx then
  local n = QUICK and 1000 or 5000
  local counted = {}
  for _, p in ipairs(peers) do
    if STYLES[p] or p == "raw" then
      io.stderr:write(("cachegrind: %s event.get c64, %s requests\n"):format(p, thousands(n)))
      local out, err = WORK .. "/cachegrind.out", WORK .. "/cachegrind.txt"
      local cmd, vg = command(p, URL.nginx, "get", 64, n), "valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file=/dev/null "
      local setting, rest = cmd:match("^(env %S+ )(.*)$") -- eventapi-base: valgrind runs lua5.4, not env
      cmd = setting and (setting .. vg .. rest) or (vg .. cmd)
      os.execute(("%s >%s 2>%s </dev/null"):format(cmd, q(out), q(err)))
      local text = slurp(err) or ""
      local answered = (slurp(out) or ""):match("RESULT ok=(%d+) errors=0 ")
      local function figure(label)
        local v = text:match("==%d+== " .. label .. ":%s+([%d,]+)")
        return v and tonumber((v:gsub(",", ""))) / n
      end
      local c = { ir = figure("I%s+refs"), i1 = figure("I1%s+misses"), d1 = figure("D1%s+misses"), ll = figure("LL misses") }
      if c.ir and c.i1 and c.d1 and c.ll and tonumber(answered) == n then counted[p] = c end
      if not counted[p] then io.stderr:write(("  %s: no cachegrind figures: %s\n"):format(p, text:sub(-400))) end
    end
  end
  local raw = counted.raw
  count_lines[1] = "| peer | instructions | I1 misses | D1 misses | LL misses | instructions ÷ raw | L1 misses ÷ raw |"
  count_lines[2] = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for _, p in ipairs(peers) do
    local c = counted[p]
    if c then
      local ri, rl = "", ""
      if raw then ri, rl = f2(c.ir / raw.ir), f2((c.i1 + c.d1) / (raw.i1 + raw.d1)) end
      count_lines[#count_lines + 1] = ("| %s | %s | %s | %s | %s | %s | %s |"):format(p, thousands(c.ir), thousands(c.i1),
        thousands(c.d1), f1(c.ll), ri, rl)
    end
  end
  count_lines.n = n
end

-- Machine and versions.
local machine = {
  ("- %s, %s cores, %s"):format(sh1("lscpu | sed -n 's/^Model name: *//p'"), sh1("nproc"), sh1("uname -sr")),
  ("- %s; lua5.4 %s; libcurl %s; nginx %s; node %s; losant-rest %s; curl %s"):format(
    sh1(". /etc/os-release && echo \"$PRETTY_NAME\""), sh1("lua5.4 -v | cut -d' ' -f2"),
    sh1("curl-config --version | cut -d' ' -f2"), sh1("nginx -v 2>&1 | sed 's/.*\\///'"),
    sh1("node --version"), sh1("node -p \"require('" .. BENCH .. "/node/node_modules/losant-rest/package.json').version\""),
    sh1("curl --version | head -n1 | cut -d' ' -f2")),
  ("- %s run(s) per figure, median of each figure; the targets judge the median of the rounds' ratios"
    .. " (each round runs every peer back to back, in a turning order); %s; %s"):format(RUNS, os.date("!%Y-%m-%d %H:%M UTC"),
    QUICK and "QUICK mode" or "full mode"),
}

local report = {}
for _, l in ipairs(machine) do report[#report + 1] = l end
report[#report + 1] = ""
for _, l in ipairs(lines) do report[#report + 1] = l end
report[#report + 1] = ""
report[#report + 1] = "Peers:"
report[#report + 1] = ""
for _, p in ipairs(peers) do report[#report + 1] = ("- %s: %s"):format(p, PEER_NOTE[p] or p) end
report[#report + 1] = ""
report[#report + 1] = "Targets (eventapi against raw libcurl, nginx server):"
report[#report + 1] = ""
for _, l in ipairs(checks) do report[#report + 1] = l end
if mem_line then report[#report + 1] = "- " .. mem_line end
if #alloc_lines > 0 then
  report[#report + 1] = ""
  report[#report + 1] = "Lua allocations per request (new blocks of the Lua state over the run, the decoded"
    .. " answer and the bench script's own callbacks included; an event decodes into about 13):"
  report[#report + 1] = ""
  for _, l in ipairs(alloc_lines) do report[#report + 1] = l end
end
if #count_lines > 2 then
  report[#report + 1] = ""
  report[#report + 1] = ("Per request under cachegrind (event.get c64, %s requests, one run each, start-up included;"
    .. " figures that move by a few per cent between runs, where times swing by tens):"):format(thousands(count_lines.n))
  report[#report + 1] = ""
  for _, l in ipairs(count_lines) do report[#report + 1] = l end
end
local text = table.concat(report, "\n") .. "\n"

print("")
io.write(text)

os.execute("mkdir -p " .. q(BENCH .. "/results"))
local f = assert(io.open(BENCH .. "/results/latest.md", "w"))
f:write(text)
f:close()
print("\n(written to bench/results/latest.md)")

if (env("UPDATE_README") or "") ~= "" and env("UPDATE_README") ~= "0" then
  local readme = BENCH .. "/README.md"
  local old = assert(slurp(readme), "no bench/README.md")
  local b, e = old:find("<!%-%- latest:begin %-%->\n.-<!%-%- latest:end %-%->")
  assert(b, "bench/README.md has no <!-- latest:begin --> ... <!-- latest:end --> block")
  local new = old:sub(1, b - 1) .. "<!-- latest:begin -->\n" .. text .. "<!-- latest:end -->" .. old:sub(e + 1)
  f = assert(io.open(readme, "w"))
  f:write(new)
  f:close()
  print("(bench/README.md updated)")
end
