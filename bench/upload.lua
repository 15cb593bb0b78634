-- A 1 GiB upload from disk: eventapi (file.upload, { path = }) against
-- `curl -F file=@path`, both to eventapi-sandbox, each run as its own
-- process under bench/build/rusage (wall time and that process's peak RSS).
-- Targets (bench/README.md): eventapi's peak RSS under 20 MB and its rate
-- at least 0.9x curl's. Usage (from the top level, after `make build
-- sandbox` and `make -C bench build/rusage`):
--   lua5.4 bench/upload.lua [BUILD_DIR] [MiB] [RUNS]
-- The file is written once with real bytes (not sparse) in $TMPDIR.
local build = arg[1] or "build"
local mib = tonumber(arg[2] or "1024")
local runs = tonumber(arg[3] or "3")
local RUSAGE = "bench/build/rusage"
local APP = "575ec8687ae143cd83dc4a97"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local file = (os.getenv("TMPDIR") or "/tmp") .. "/eventapi-bench-upload.bin"
assert(os.execute(("head -c %dM /dev/urandom > %s"):format(mib, q(file))))
local size = mib * 1048576

-- the sandbox, with room for the whole body
local sb = assert(io.popen(("sh -c 'echo $$; exec %s/eventapi-sandbox --listen 127.0.0.1:0 --seed examples/seed.json "
  .. "--upload-max %d 2>/dev/null'"):format(build, 2 * size)))
local pid = sb:read("l")
local url = sb:read("l"):match("(http://[%d.:]+)")
assert(url, "the sandbox did not start")

local path = ("/applications/%s/file/%s/upload"):format(APP, APP)
local lua_cmd = ([[lua5.4 -e 'package.path = "lua/?.lua;lua/?/init.lua;" .. package.path; package.cpath = %q .. "/?.so;" .. package.cpath
local c = require("eventapi").losant({ url = %q, token = "sandbox-all-access" })
local v = c.file.upload({ applicationId = %q, fileId = %q, file = { path = %q } }):await()
assert(type(v) == "table")']]):format(build, url, APP, APP, file)
local curl_cmd = ("curl -sS -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer sandbox-all-access' "
  .. "-H 'Accept-Version: ^1.20.1' -H 'Expect:' -F file=@%s %s%s"):format(q(file), url, path)

local function measure(name, cmd)
  local best
  for _ = 1, runs do
    local out = os.tmpname()
    local said, ok = sh(("%s %s sh -c %s"):format(RUSAGE, out, q("exec " .. cmd)))
    assert(ok and (name ~= "curl -F" or said:find("^200")), name .. " failed: " .. said)
    local f = assert(io.open(out))
    local wall, user, sys, rss = f:read("n", "n", "n", "n")
    f:close()
    os.remove(out)
    if not best or wall < best.wall then best = { wall = wall, user = user, sys = sys, rss = rss } end
  end
  best.rate = size / best.wall / 1048576
  print(("%-9s %7.2f s  %7.1f MiB/s  user %.2f s  sys %.2f s  peak RSS %.1f MB"):format(name, best.wall, best.rate,
    best.user, best.sys, best.rss / 1024))
  return best
end

print(("%d MiB from disk to eventapi-sandbox, best of %d"):format(mib, runs))
local ours = measure("eventapi", lua_cmd)
local theirs = measure("curl -F", curl_cmd)
print(("rate %.2fx curl's (target >= 0.9); peak RSS %.1f MB (target < 20)"):format(ours.rate / theirs.rate, ours.rss / 1024))
os.execute("kill " .. pid)
sb:close()
os.remove(file)
