--- Mutation testing (make mutate; not part of make test or CI): which bugs
-- would the specs catch? Each mutant of tools/mutants.lua is one small,
-- plausible bug: a file, an exact text that must occur exactly once in it,
-- its replacement, the spec files that should catch it and a note of the
-- bug it stands for. The checkout is never touched: the tracked and
-- untracked files (git ls-files) are copied into a scratch directory, built
-- there once (build/ of the copy), and each mutant is planted in the copy in
-- turn: core.so is rebuilt for src/, the sandbox for sandbox/, nothing for
-- Lua; its spec files run one by one (stopping at the first that fails);
-- then the file and the built programs are put back.
--
-- A mutant is KILLED when a spec that passes on the unmutated copy fails,
-- errors, goes missing (the run crashed) or its spec file times out;
-- SURVIVED when every spec of its files still passes; STALE when its text
-- does not occur exactly once (the code moved on: fix the mutant); BROKEN
-- when it does not build or load (not a bug the specs could see). The
-- score is killed / (killed + survived); stale and broken mutants are
-- listed and left out of it. Exit status 0 when the score is at least
-- MUTATE_MIN, 1 otherwise, 2 for a usage error.
--
-- Environment:
--   MUTANTS=a,b         only these mutants (names; a name ending in * is a prefix)
--   MUTATE_FULL=1       a mutant its own specs miss also runs every other spec
--                       file (the whole suite): a kill there names the file to add
--   MUTATE_SAMPLE=N     the same for every Nth mutant only (1st, N+1th, ...)
--   MUTATE_MIN=90       the lowest passing score, in percent
--   MUTATE_LIST=1       list the mutants (and whether they are stale) and stop
--   MUTATE_REPORT=FILE  also write the table as Markdown to FILE
--   MUTATE_KEEP=1       keep the scratch directory (its path is printed)
--   MUTATE_TMP=DIR      where the scratch directory goes (default $TMPDIR or /tmp)
--   EVENTAPI_TIME_SCALE passed to the specs as usual
local LUA = os.getenv("LUA") or "lua5.4"
local BUSTED = os.getenv("BUSTED_SCRIPT") or "/usr/bin/busted"

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function die(fmt, ...)
  io.stderr:write("mutate: ", fmt:format(...), "\n")
  os.exit(2)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Runs a shell command; returns true when it exited 0, and its exit code.
-- Raised (as this table) when a command the tool runs was stopped by
-- SIGINT or SIGTERM (Ctrl-C): the run ends, the scratch copy is removed.
local INTERRUPTED = setmetatable({}, { __tostring = function() return "interrupted" end })

local function run(cmd)
  local ok, how, code = os.execute(cmd)
  if how == "signal" then
    if code == 2 or code == 15 then error(INTERRUPTED, 0) end
    code = 128 + code
  end
  return ok == true, code
end

--- The output of a shell command (stdout), without the trailing newline.
local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local text = p:read("a")
  p:close()
  return (text:gsub("\n$", ""))
end

local function now()
  return tonumber(capture("date +%s.%N")) or os.time()
end

--- Number of plain (not pattern) occurrences of needle in text, and the
-- line of the first one.
local function occurrences(text, needle)
  local n, at, line = 0, 1, nil
  while true do
    local i, j = text:find(needle, at, true)
    if not i then break end
    n = n + 1
    if not line then
      local _, nl = text:sub(1, i):gsub("\n", "")
      line = nl + 1
    end
    at = j + 1
  end
  return n, line
end

--- text with the single occurrence of find replaced by replace (plain text).
local function replace_once(text, find, replace)
  local i, j = text:find(find, 1, true)
  return text:sub(1, i - 1) .. replace .. text:sub(j + 1)
end

--------------------------------------------------------------------------------
-- The mutants.

local ROOT = capture("git rev-parse --show-toplevel 2>/dev/null")
if ROOT == "" then die("run me inside the eventapi checkout (make mutate)") end

local list_chunk, err = loadfile(ROOT .. "/tools/mutants.lua", "t")
if not list_chunk then die("%s", err) end
local ALL = list_chunk()
do
  local names = {}
  for i, m in ipairs(ALL) do
    local where = ("mutant %d (%s)"):format(i, tostring(m.name))
    for _, k in ipairs({ "name", "file", "find", "replace", "note" }) do
      if type(m[k]) ~= "string" then die("%s: %s must be a string", where, k) end
    end
    if type(m.specs) ~= "table" or #m.specs == 0 then die("%s: specs must list spec files", where) end
    if m.find == m.replace then die("%s: find and replace are the same text", where) end
    if names[m.name] then die("%s: the name is used twice", where) end
    names[m.name] = true
    for _, s in ipairs(m.specs) do
      if not read_file(ROOT .. "/" .. s) then die("%s: no spec file %s", where, s) end
    end
  end
end

local selected = {}
do
  local wanted = env("MUTANTS", nil)
  if wanted then
    local patterns, used = {}, {}
    for w in wanted:gmatch("[^,%s]+") do patterns[#patterns + 1] = w end
    for _, m in ipairs(ALL) do
      for _, w in ipairs(patterns) do
        local hit = w:sub(-1) == "*" and m.name:sub(1, #w - 1) == w:sub(1, -2) or m.name == w
        if hit then used[w] = true; selected[#selected + 1] = m; break end
      end
    end
    for _, w in ipairs(patterns) do
      if not used[w] then die("no mutant named %s (MUTATE_LIST=1 lists them)", w) end
    end
  else
    selected = ALL
  end
end

--- Whether a path is compiled: "core" for src/, "sandbox" for sandbox/, nil for the rest.
local function build_of(file)
  if file:match("^src/") then return "core" end
  if file:match("^sandbox/") then return "sandbox" end
  return nil
end

--- STALE check of a mutant against a tree: nil when it applies, else why not.
local function stale_reason(root, m)
  local text = read_file(root .. "/" .. m.file)
  if not text then return "no file " .. m.file end
  local n = occurrences(text, m.find)
  if n ~= 1 then return ("the text occurs %d times in %s"):format(n, m.file) end
  return nil
end

if env("MUTATE_LIST", nil) then
  for i, m in ipairs(selected) do
    local why = stale_reason(ROOT, m)
    local _, line = occurrences(read_file(ROOT .. "/" .. m.file) or "", m.find)
    print(("%3d  %-34s %-36s %s"):format(i, m.name, m.file .. (line and (":" .. line) or ""),
      why and ("STALE: " .. why) or m.note))
  end
  os.exit(0)
end

--------------------------------------------------------------------------------
-- The scratch copy.

local TMP = env("MUTATE_TMP", env("TMPDIR", "/tmp"))
local SCRATCH = capture("mktemp -d " .. sh_quote(TMP .. "/eventapi-mutate.XXXXXX"))
if SCRATCH == "" then die("cannot make a scratch directory under %s", TMP) end
local KEEP = env("MUTATE_KEEP", nil) ~= nil
local LOGS = SCRATCH .. "/.mutate"

local function cleanup()
  if KEEP then
    print("scratch directory kept: " .. SCRATCH)
  else
    run("rm -rf " .. sh_quote(SCRATCH))
  end
end

local function fail(fmt, ...)
  io.stderr:write("mutate: ", fmt:format(...), "\n")
  KEEP = true
  cleanup()
  os.exit(2)
end

local function main()
  print(("mutate: copying the checkout to %s"):format(SCRATCH))
  do
    -- every tracked file still there and every untracked one not ignored
    local files = capture("cd " .. sh_quote(ROOT) .. " && git ls-files --cached --others --exclude-standard")
    local present = {}
    for path in files:gmatch("[^\n]+") do
      local f = io.open(ROOT .. "/" .. path, "rb")
      if f then f:close(); present[#present + 1] = path end
    end
    local listing = SCRATCH .. "/.mutate-files"
    write_file(listing, table.concat(present, "\n") .. "\n")
    local ok = run(("cd %s && tar -cf - -T %s | tar -xf - -C %s"):format(sh_quote(ROOT), sh_quote(listing),
      sh_quote(SCRATCH)))
    os.remove(listing)
    if not ok then fail("copying the files failed") end
    run("mkdir -p " .. sh_quote(LOGS))
  end

  local MAKE = "make -s --no-print-directory -C " .. sh_quote(SCRATCH) .. " BUILD=build"
  local CORE_SO = SCRATCH .. "/build/eventapi/core.so"
  local SB_BIN = SCRATCH .. "/build/eventapi-sandbox"
  local PRISTINE = LOGS .. "/pristine"

  print("mutate: building the copy (core, sandbox, embed host)")
  do
    local ok = run(MAKE .. " build sandbox embed > " .. sh_quote(LOGS .. "/build.log") .. " 2>&1")
    if not ok then fail("the unmutated copy does not build: see %s/build.log", LOGS) end
    run(("mkdir -p %s && cp -p %s %s %s/"):format(sh_quote(PRISTINE), sh_quote(CORE_SO), sh_quote(SB_BIN),
      sh_quote(PRISTINE)))
  end

  --- Puts the unmutated build of a part back.
  local function restore_build(part)
    if part == "core" then run(("cp -p %s/core.so %s"):format(sh_quote(PRISTINE), sh_quote(CORE_SO))) end
    if part == "sandbox" then run(("cp -p %s/eventapi-sandbox %s"):format(sh_quote(PRISTINE), sh_quote(SB_BIN))) end
  end

  --------------------------------------------------------------------------------
  -- Running spec files.

  local SPEC_ENV = table.concat({
    "env -u EVENTAPI_DEBUG -u EVENTAPI_SANDBOX_WRAPPER -u LUA_INIT -u LUA_INIT_5_4",
    "LUA_PATH=" .. sh_quote(SCRATCH .. "/lua/?.lua;" .. SCRATCH .. "/lua/?/init.lua;" .. SCRATCH .. "/spec/?.lua;;"),
    "LUA_CPATH=" .. sh_quote(SCRATCH .. "/build/?.so;;"),
    "EVENTAPI_SANDBOX=" .. sh_quote(SB_BIN),
    "EVENTAPI_EMBED_HOST=" .. sh_quote(SCRATCH .. "/build/embed-host"),
    "EVENTAPI_BUILD=" .. sh_quote(SCRATCH .. "/build"), -- bin/eventapi's core (make exports the checkout's)
  }, " ")

  --- Reads busted's TAP output: the list of {key, ok, name} in order. The key
  -- is the "# file @ line: name" comment before each result, so that two
  -- specs of one name stay apart.
  local function parse_tap(text)
    local results, comment, seen = {}, nil, {}
    for line in text:gmatch("[^\n]*") do
      local c = line:match("^# (.+ @ %d+: .*)$")
      if c then
        comment = c
      else
        local status, name = line:match("^(n?o?t? ?ok) %d+ %- (.*)$")
        if status == "ok" or status == "not ok" then
          local key = comment or name
          seen[key] = (seen[key] or 0) + 1
          if seen[key] > 1 then key = key .. " #" .. seen[key] end
          results[#results + 1] = { key = key, ok = status == "ok", name = name }
          comment = nil
        end
      end
    end
    return results
  end

  local run_count = 0
  --- Runs one spec file in the copy; returns {ok = exit 0, code, timed_out,
  -- results (parse_tap), seconds, log}.
  local function run_spec(file, timeout)
    run_count = run_count + 1
    local log = ("%s/run-%04d.tap"):format(LOGS, run_count)
    -- timeout runs busted in a process group of its own (so that a hang ends
    -- with every sandbox the specs started); its pid is kept to end that
    -- group when the tool is interrupted (Ctrl-C does not reach it)
    local pidfile = log .. ".pid"
    local cmd = ("cd %s && { %s timeout -k 5 %d %s %s --ignore-lua --cpath=%s -o TAP %s > %s 2>&1 & "
      .. "echo $! > %s; wait $!; }"):format(sh_quote(SCRATCH), SPEC_ENV, timeout, LUA, BUSTED,
      sh_quote(SCRATCH .. "/build/?.so"), sh_quote(file), sh_quote(log), sh_quote(pidfile))
    local started = now()
    local done, ok, code = pcall(run, cmd)
    if not done then
      local pid = math.tointeger(tonumber(read_file(pidfile) or ""))
      if pid then os.execute(("kill -TERM -- -%d 2>/dev/null"):format(pid)) end
      error(ok, 0)
    end
    os.remove(pidfile)
    local out = { ok = ok, code = code, seconds = now() - started, log = log }
    out.timed_out = code == 124 or code == 137
    out.results = parse_tap(read_file(log) or "")
    return out
  end

  local BASELINE = {} -- spec file -> {passed = set of keys, seconds, failing = list of names}

  --- The unmutated run of a spec file (before any mutant is planted).
  local function baseline(file)
    if BASELINE[file] then return BASELINE[file] end
    local r = run_spec(file, 1800)
    local b = { passed = {}, seconds = r.seconds, failing = {}, count = 0 }
    for _, t in ipairs(r.results) do
      if t.ok then b.passed[t.key] = true; b.count = b.count + 1 else b.failing[#b.failing + 1] = t.name end
    end
    if r.timed_out then b.failing[#b.failing + 1] = "(the file timed out)" end
    if #b.failing > 0 or not r.ok then
      io.stderr:write(("mutate: warning: %s fails unmutated (%d failing: %s); its failures do not count\n"):format(
        file, #b.failing, table.concat(b.failing, "; "):sub(1, 300)))
    end
    BASELINE[file] = b
    return b
  end

  --- Whether a mutant's run of file kills it: returns nil, or the reason.
  local function verdict(file, b, r)
    if r.timed_out then return ("%s timed out (%.0f s)"):format(file, r.seconds) end
    local ran = {}
    for _, t in ipairs(r.results) do
      ran[t.key] = true
      if not t.ok and b.passed[t.key] then return ("%s: \"%s\""):format(file, t.name) end
    end
    if not r.ok then
      for key in pairs(b.passed) do
        if not ran[key] then return ("%s: crashed (exit %d) before \"%s\""):format(file, r.code, key) end
      end
    end
    return nil
  end

  local function all_spec_files()
    local list = {}
    for f in capture("cd " .. sh_quote(SCRATCH) .. " && find spec -name '*_spec.lua' | sort"):gmatch("[^\n]+") do
      list[#list + 1] = f
    end
    return list
  end

  --------------------------------------------------------------------------------
  -- The run.

  local FULL = env("MUTATE_FULL", nil) ~= nil
  local SAMPLE = math.tointeger(tonumber(env("MUTATE_SAMPLE", "0"))) or 0
  local MIN = tonumber(env("MUTATE_MIN", "90")) or 90
  local SUITE = nil

  local results = {}
  local started_all = now()

  -- The unmutated runs first: every spec file a mutant will run.
  do
    local needed, seen = {}, {}
    local function need(f) if not seen[f] then seen[f] = true; needed[#needed + 1] = f end end
    for _, m in ipairs(selected) do
      if not stale_reason(SCRATCH, m) then for _, f in ipairs(m.specs) do need(f) end end
    end
    if FULL or SAMPLE > 0 then
      SUITE = all_spec_files()
      for _, f in ipairs(SUITE) do need(f) end
    end
    print(("mutate: running %d spec file%s unmutated"):format(#needed, #needed == 1 and "" or "s"))
    for _, f in ipairs(needed) do baseline(f) end
  end
  print(("mutate: %d mutant%s%s"):format(#selected, #selected == 1 and "" or "s",
    FULL and ", the whole suite for those their specs miss" or SAMPLE > 0 and
    (", the whole suite for every %dth one their specs miss"):format(SAMPLE) or ""))

  for index, m in ipairs(selected) do
    local path = SCRATCH .. "/" .. m.file
    local res = { m = m, index = index }
    results[#results + 1] = res
    local t0 = now()
    local original = read_file(path)
    local why = stale_reason(SCRATCH, m)
    if why then
      res.status, res.detail = "STALE", why
    else
      local _, line = occurrences(original, m.find)
      res.line = line
      local mutated = replace_once(original, m.find, m.replace)
      write_file(path, mutated)
      local part = build_of(m.file)
      local broken
      if m.file:match("%.lua$") then
        local chunk, lerr = load(mutated, "=" .. m.file, "t")
        if not chunk then broken = "does not load: " .. tostring(lerr) end
      end
      if not broken and part then
        local log = ("%s/build-%s.log"):format(LOGS, m.name)
        local ok = run(("%s -B %s > %s 2>&1"):format(MAKE, part == "core" and "build" or "sandbox", sh_quote(log)))
        if not ok then
          local first = (read_file(log) or ""):match("error: ([^\n]*)") or "see " .. log
          broken = "does not build: " .. first
        end
      end
      if broken then
        res.status, res.detail = "BROKEN", broken
      else
        local files = { table.unpack(m.specs) }
        local own = #files
        local full = FULL or (SAMPLE > 0 and (index - 1) % SAMPLE == 0)
        local k = 1
        while k <= #files do
          local file = files[k]
          local b = BASELINE[file]
          local r = run_spec(file, math.floor(3 * b.seconds + 30))
          local reason = verdict(file, b, r)
          if reason then
            res.status, res.detail = "KILLED", reason
            if k > own then res.detail = reason .. " (not in its specs: add it)" end
            break
          end
          if k == own and full then
            local mine = {}
            for _, f in ipairs(m.specs) do mine[f] = true end
            for _, f in ipairs(SUITE) do if not mine[f] then files[#files + 1] = f end end
          end
          k = k + 1
        end
        if not res.status then
          res.status = "SURVIVED"
          res.detail = m.note .. (#files > own and " (whole suite run)" or "")
        end
      end
      write_file(path, original)
      if part then restore_build(part) end
    end
    res.seconds = now() - t0
    print(("[%d/%d] %-8s %-34s %5.1f s  %s"):format(index, #selected, res.status, m.name, res.seconds, res.detail))
    io.stdout:flush()
  end

  --------------------------------------------------------------------------------
  -- The table.

  local count = { KILLED = 0, SURVIVED = 0, STALE = 0, BROKEN = 0 }
  for _, r in ipairs(results) do count[r.status] = count[r.status] + 1 end
  local scored = count.KILLED + count.SURVIVED
  local score = scored > 0 and 100 * count.KILLED / scored or 0
  local minutes = (now() - started_all) / 60

  local function where(r)
    return r.m.file .. (r.line and (":" .. r.line) or "")
  end

  print("")
  print(("%-3s %-8s %-34s %-34s %s"):format("#", "status", "mutant", "where", "detail"))
  for _, r in ipairs(results) do
    print(("%-3d %-8s %-34s %-34s %s"):format(r.index, r.status, r.m.name, where(r), r.detail))
  end
  print("")
  for _, kind in ipairs({ "SURVIVED", "STALE", "BROKEN" }) do
    if count[kind] > 0 then
      print(kind:lower() .. ":")
      for _, r in ipairs(results) do
        if r.status == kind then print(("  %s (%s): %s"):format(r.m.name, where(r), r.detail)) end
      end
    end
  end
  local summary = ("score: %.1f%% (%d killed of %d scored; %d survived, %d stale, %d broken; %d mutants, %.1f min)")
    :format(score, count.KILLED, scored, count.SURVIVED, count.STALE, count.BROKEN, #results, minutes)
  print(summary)

  local report = env("MUTATE_REPORT", nil)
  if report then
    local lines = { "| # | mutant | where | result | detail |", "| ---: | --- | --- | --- | --- |" }
    for _, r in ipairs(results) do
      local detail = tostring(r.detail):gsub("|", "\\|")
      lines[#lines + 1] = ("| %d | `%s` | `%s` | %s | %s |"):format(r.index, r.m.name, where(r), r.status, detail)
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = summary
    write_file(report, table.concat(lines, "\n") .. "\n")
    print("mutate: wrote " .. report)
  end

  return scored > 0 and score >= MIN and 0 or 1
end

local ok, status = pcall(main)
if not ok then
  if status == INTERRUPTED or tostring(status):find("interrupted!", 1, true) then
    io.stderr:write("mutate: interrupted\n")
    status = 130
  else
    io.stderr:write("mutate: ", tostring(status), "\n")
    KEEP, status = true, 2
  end
end
cleanup()
os.exit(status)
