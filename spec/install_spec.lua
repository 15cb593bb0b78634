-- Installing eventapi and running it from a checkout: make install into a
-- temporary prefix (and staged under DESTDIR), make uninstall, the two rocks
-- (eventapi: the library and its command; eventapi-sandbox: the server) that
-- luarocks builds into temporary trees, bin/eventapi run from anywhere and
-- through symlinks, and the command each example's header shows.
--
-- The working tree is copied once into a temporary directory and built there
-- (the checkout and the builds of whoever works in it are left alone); the
-- rocks are built from a second, unbuilt copy. Every command runs with no
-- LUA_PATH, LUA_CPATH or LUA_INIT, no make variables of a calling make and
-- none of the services' variables but those it sets.

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- The checkout: busted runs from its root (where .busted is).
local CHECKOUT = (function()
  local p = assert(io.popen("pwd -P"))
  local dir = p:read("l")
  p:close()
  return dir
end)()

local CLEAN_ENV = "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4"
  .. " -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u LD_PRELOAD -u EVENTAPI_SANDBOX -u EVENTAPI_BUILD -u DRY_RUN"
  .. " -u LOSANT_URL -u LOSANT_TOKEN -u LOSANT_APPLICATION -u MONTEROSA_URL -u MONTEROSA_TOKEN -u MONTEROSA_PROJECT"
  .. " -u CONNECTDAILY_URL -u CONNECTDAILY_USER -u CONNECTDAILY_PASSWORD -u CONNECTDAILY_TOKEN"
  .. " -u CONNECTDAILY_EVENT -u CONNECTDAILY_DATE -u CONNECTDAILY_CALENDAR"

--- Runs a shell command in directory dir (default /) with the clean
-- environment; returns { code, stdout, stderr }.
local function run(command, dir)
  local err_file = os.tmpname()
  local p = assert(io.popen(("cd %s && %s sh -c %s 2>%s </dev/null"):format(
    q(dir or "/"), CLEAN_ENV, q(command), q(err_file))))
  local stdout = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(err_file, "rb"))
  local stderr = f:read("a")
  f:close()
  os.remove(err_file)
  return { code = code, stdout = stdout, stderr = stderr }
end

--- run, asserting that the command succeeded; returns its stdout.
local function ok(command, dir)
  local r = run(command, dir)
  assert(r.code == 0, ("`%s` exited %s\nstdout: %s\nstderr: %s"):format(command, tostring(r.code), r.stdout, r.stderr))
  return r.stdout
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

--- Every file and link under dir, one per line, sorted ("" when none).
local function files_under(dir)
  return ok("find . \\( -type f -o -type l \\) | sort", dir)
end

--- A copy of the checkout's working tree in dest: tracked and untracked
-- files, not ignored ones (no build output); without git, all but the build
-- directories.
local function copy_checkout(dest)
  ok(("mkdir -p %s && if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then"
      .. " git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null;"
      .. " else tar --exclude=./build --exclude=./build-asan --exclude=./build-fuzz -cf - .; fi"
      .. " | tar -xf - -C %s"):format(q(dest), q(dest)), CHECKOUT)
end

--- Starts eventapi-sandbox binary with the example seed on a free port;
-- returns its url and a function that stops it.
local function start_sandbox(binary, seed)
  local cmd = ("%s sh -c %s"):format(CLEAN_ENV, q(("echo $$; exec %s --listen 127.0.0.1:0 --seed %s 2>/dev/null")
    :format(q(binary), q(seed))))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = pipe:read("l")
  local line = pipe:read("l") or ""
  local function stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    pipe:close()
  end
  local url = line:match("^listening on (http://127%.0%.0%.1:%d+)$")
  if not url then
    stop()
    error("eventapi-sandbox did not start: first line '" .. line .. "'")
  end
  return url, stop
end

-- A script that prints the files eventapi's modules and core are loaded from.
local WHICH = [[
print(debug.getinfo(require("eventapi.cli").main, "S").source:sub(2))
print(package.searchpath("eventapi.core", package.cpath))
]]

describe("in a built copy of the checkout,", function()
  local tmp, src, prefix

  lazy_setup(function()
    tmp = ok("mktemp -d /tmp/eventapi-install.XXXXXX | xargs readlink -f"):gsub("\n$", "")
    src = tmp .. "/src"
    prefix = tmp .. "/prefix"
    copy_checkout(src)
    ok("make -j2 build sandbox man >/dev/null", src)
    ok(("make install PREFIX=%s >/dev/null"):format(q(prefix)), src)
    write_file(tmp .. "/which.lua", WHICH)
  end)

  lazy_teardown(function()
    if tmp then os.execute("rm -rf " .. q(tmp)) end
  end)

  describe("make install PREFIX=<dir>", function()
    it("puts the Lua modules in share/lua/5.4/eventapi and the core in lib/lua/5.4/eventapi", function()
      local modules = ok("ls lua/eventapi", src)
      assert.are.equal(modules, ok("ls share/lua/5.4/eventapi", prefix))
      assert.are.equal("core.so\n", ok("ls lib/lua/5.4/eventapi", prefix))
    end)

    it("installs the eventapi and eventapi-sandbox commands and their man pages", function()
      assert.are.equal("eventapi\neventapi-sandbox\n", ok("ls bin", prefix))
      assert.are.equal("eventapi-sandbox.1\neventapi.1\n", ok("ls share/man/man1", prefix))
    end)

    it("installs the bash completion of eventapi where bash-completion looks for it", function()
      local script = ok("cat share/bash-completion/completions/eventapi", prefix)
      assert.truthy(script:find("complete ", 1, true), script)
      assert.truthy(script:find("applicationId", 1, true), script)
    end)

    it("gives an eventapi command that prints its help with no LUA_PATH or LUA_CPATH set", function()
      local help = ok(q(prefix .. "/bin/eventapi") .. " --help")
      assert.matches("^usage: eventapi %[options%] <service>", help)
    end)

    it("gives an eventapi command that prints its version with no LUA_PATH or LUA_CPATH set", function()
      assert.matches("^eventapi %d+%.%d+%.%d+ %(libcurl ", ok(q(prefix .. "/bin/eventapi") .. " --version"))
    end)

    it("gives an eventapi command that loads the modules and the core of its own prefix", function()
      assert.are.equal(prefix .. "/share/lua/5.4/eventapi/cli.lua\n" .. prefix .. "/lib/lua/5.4/eventapi/core.so\n",
                       ok(q(prefix .. "/bin/eventapi") .. " run " .. q(tmp .. "/which.lua")))
    end)

    it("gives an eventapi command that keeps its own modules before those LUA_PATH names", function()
      ok("mkdir -p " .. q(tmp .. "/decoy/eventapi"))
      write_file(tmp .. "/decoy/eventapi/init.lua", 'error("the decoy eventapi was loaded")\n')
      local path = tmp .. "/decoy/?.lua;" .. tmp .. "/decoy/?/init.lua;;"
      assert.matches("^eventapi %d", ok(("LUA_PATH=%s %s --version"):format(q(path), q(prefix .. "/bin/eventapi"))))
    end)

    it("gives an eventapi command that works through a symlink in another directory", function()
      ok(("mkdir -p %s && ln -sf %s %s"):format(q(tmp .. "/links"), q(prefix .. "/bin/eventapi"),
                                               q(tmp .. "/links/installed-eventapi")))
      assert.are.equal(prefix .. "/share/lua/5.4/eventapi/cli.lua\n" .. prefix .. "/lib/lua/5.4/eventapi/core.so\n",
                       ok(q(tmp .. "/links/installed-eventapi") .. " run " .. q(tmp .. "/which.lua")))
    end)

    it("gives an eventapi-sandbox that the installed eventapi command can call", function()
      local url, stop = start_sandbox(prefix .. "/bin/eventapi-sandbox", src .. "/examples/seed.json")
      local r = run(("LOSANT_URL=%s LOSANT_TOKEN=sandbox-all-access %s losant event get"
                     .. " --applicationId 575ec8687ae143cd83dc4a97 --eventId 575ed0de7ae143cd83dc4aa5")
                    :format(q(url), q(prefix .. "/bin/eventapi")))
      stop()
      assert.are.equal(0, r.code, r.stderr)
      assert.matches('"id":"575ed0de7ae143cd83dc4aa5"', r.stdout, 1, true)
    end)

    it("writes an eventapi man page that names every call --help lists", function()
      local page = read_file(prefix .. "/share/man/man1/eventapi.1")
      assert.matches('^%.TH EVENTAPI 1 ', page)
      local calls = 0
      for call in ok(q(prefix .. "/bin/eventapi") .. " --help"):gmatch("\n  ((%l+) %l+ %w+)  ") do
        calls = calls + 1
        assert.truthy(page:find("\n  " .. call .. " ", 1, true), call .. " is missing from eventapi.1")
      end
      assert.is_true(calls > 20)
    end)

    it("writes an eventapi-sandbox man page with every flag of its usage line", function()
      local page = read_file(prefix .. "/share/man/man1/eventapi-sandbox.1")
      assert.matches('^%.TH EVENTAPI\\%-SANDBOX 1 ', page)
      local usage = run(q(prefix .. "/bin/eventapi-sandbox") .. " --help").stderr
      for flag in usage:gmatch("%[%-%-([%w-]+)") do
        assert.truthy(page:find("\\fB\\-\\-" .. flag:gsub("%-", "\\-"), 1, true), "--" .. flag .. " is missing")
      end
    end)
  end)

  describe("make install DESTDIR=<dir> PREFIX=/usr/local", function()
    local stage

    lazy_setup(function()
      stage = tmp .. "/stage"
      ok(("make install DESTDIR=%s PREFIX=/usr/local >/dev/null"):format(q(stage)), src)
    end)

    it("stages the files under DESTDIR/usr/local", function()
      assert.matches("^./usr/local/bin/eventapi\n./usr/local/bin/eventapi%-sandbox\n", files_under(stage))
      assert.matches("\n./usr/local/lib/lua/5.4/eventapi/core.so\n", files_under(stage))
      assert.matches("\n./usr/local/share/lua/5.4/eventapi/init.lua\n", files_under(stage))
    end)

    it("gives a staged eventapi command that runs from the staging directory", function()
      assert.matches("^eventapi %d", ok(q(stage .. "/usr/local/bin/eventapi") .. " --version"))
    end)

    it("is undone by make uninstall with the same DESTDIR and PREFIX", function()
      ok(("make uninstall DESTDIR=%s PREFIX=/usr/local >/dev/null"):format(q(stage)), src)
      assert.are.equal("", files_under(stage))
    end)
  end)

  describe("make uninstall PREFIX=<dir>", function()
    it("removes every file make install put in the prefix", function()
      local other = tmp .. "/other-prefix"
      ok(("make install PREFIX=%s >/dev/null"):format(q(other)), src)
      assert.are_not.equal("", files_under(other))
      ok(("make uninstall PREFIX=%s >/dev/null"):format(q(other)), src)
      assert.are.equal("", files_under(other))
    end)
  end)

  describe("bin/eventapi", function()
    local outside

    lazy_setup(function()
      outside = tmp .. "/elsewhere"
      ok("mkdir -p " .. q(outside))
      write_file(outside .. "/hello.lua", 'print("hello from " .. eventapi.version, ...)\n')
    end)

    local function from_checkout()
      return src .. "/lua/eventapi/cli.lua\n" .. src .. "/build/eventapi/core.so\n"
    end

    it("runs a script from a directory outside the checkout", function()
      local out = ok(q(src .. "/bin/eventapi") .. " run hello.lua a b", outside)
      assert.matches("^hello from %d+%.%d+%.%d+\ta\tb\n$", out)
    end)

    it("loads the checkout's modules and core when run from outside it", function()
      assert.are.equal(from_checkout(), ok(q(src .. "/bin/eventapi") .. " run " .. q(tmp .. "/which.lua"), outside))
    end)

    it("runs a script from a subdirectory of the checkout", function()
      assert.are.equal(from_checkout(), ok("../bin/eventapi run ../../which.lua", src .. "/sandbox"))
    end)

    it("works through a relative symlink in another directory", function()
      ok("mkdir -p links && ln -sf ../src/bin/eventapi links/checkout-eventapi", tmp)
      assert.are.equal(from_checkout(), ok(q(tmp .. "/links/checkout-eventapi") .. " run ../which.lua", outside))
    end)

    it("prints the LUA_PATH and LUA_CPATH exports with which lua5.4 finds the checkout's library", function()
      local out = ok(('eval "$(%s env)" && lua5.4 %s'):format(q(src .. "/bin/eventapi"), q(tmp .. "/which.lua")),
                     outside)
      assert.are.equal(from_checkout(), out)
    end)

    -- The block of `--   ` lines of an example's header: the sandbox's
    -- command line, then the command (with its continuation lines).
    for _, name in ipairs({ "losant_triage", "losant_reenable_mqtt", "monterosa_live", "live_when_scheduled",
                            "connectdaily_fork" }) do
      it(("runs the command of examples/%s.lua's header from the checkout root against the sandbox"):format(name),
         function()
        local lines = {}
        for line in read_file(src .. "/examples/" .. name .. ".lua"):gmatch("[^\n]*") do
          if not line:match("^%-%-") then break end
          local shell = line:match("^%-%-   (.*)$")
          if shell then lines[#lines + 1] = shell end
        end
        assert.matches("^build/eventapi%-sandbox %-%-listen 127%.0%.0%.1:5555 %-%-seed examples/seed%.json &$",
                       lines[1] or "")
        local command = table.concat(lines, "\n", 2)
        assert.matches("bin/eventapi run examples/" .. name .. ".lua$", command)
        local url, stop = start_sandbox(src .. "/build/eventapi-sandbox", src .. "/examples/seed.json")
        local r = run((command:gsub("http://127%.0%.0%.1:5555", url)), src)
        stop()
        assert.are.equal(0, r.code, ("stdout: %s\nstderr: %s"):format(r.stdout, r.stderr))
      end)
    end
  end)
end)

--- The table a rockspec file defines (its globals), read without running
-- anything else.
local function load_rockspec(path)
  local env = {}
  assert(loadfile(path, "t", env))()
  return env
end

--- The keys of t, sorted, joined with spaces ("" for none or nil).
local function keys(t)
  local list = {}
  for k in pairs(t or {}) do list[#list + 1] = k end
  table.sort(list)
  return table.concat(list, " ")
end

--- The shared libraries an ELF file names (readelf's NEEDED entries), one per line.
local function needed(file)
  return ok(("readelf -d %s | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]$/\\1/p'"):format(q(file)))
end

--- The state letter of process pid in /proc (Z: exited, not reaped), nil when it is gone.
local function process_state(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "rb")
  if not f then return nil end
  local stat = f:read("a")
  f:close()
  return stat:match("%) (%a)")
end

--- Starts binary on a free port, sends it SIGTERM once it listens and waits
-- up to 5 s for it to end (then kills it); returns its first line, whether
-- SIGTERM ended it, and how it ended (io.popen's close: "exit" or "signal", code).
local function start_and_terminate(binary, seed)
  local pipe = assert(io.popen(("%s sh -c %s"):format(CLEAN_ENV,
    q(("echo $$; exec %s --listen 127.0.0.1:0 --seed %s 2>/dev/null"):format(q(binary), q(seed)))), "r"))
  local pid = pipe:read("l")
  local line = pipe:read("l") or ""
  os.execute("kill -TERM " .. pid .. " 2>/dev/null")
  local ended = false
  for _ = 1, 50 do
    local state = process_state(pid)
    if state == nil or state == "Z" then ended = true break end
    os.execute("sleep 0.1")
  end
  if not ended then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
  local _, how, code = pipe:close()
  return line, ended, how, code
end

-- The system libraries of the sandbox that the library rock must neither
-- declare nor compile against.
local SANDBOX_LIBS = { "microhttpd", "jansson", "sqlite" }

describe("in an unbuilt copy of the checkout,", function()
  local tmp, src, lib_tree, sb_tree, both_tree, before, after, lib_build, sb_build, both_builds

  --- luarocks for Lua 5.4 with args, run in the copy.
  local function luarocks(args)
    return run("command -v luarocks >/dev/null || { echo 'luarocks is not installed (make test installs it)' >&2;"
               .. " exit 127; }; luarocks --lua-version 5.4 " .. args, src)
  end

  local function assert_built(build)
    assert.are.equal(0, build.code, ("stdout: %s\nstderr: %s"):format(build.stdout, build.stderr))
  end

  lazy_setup(function()
    tmp = ok("mktemp -d /tmp/eventapi-rock.XXXXXX | xargs readlink -f"):gsub("\n$", "")
    src, lib_tree, sb_tree, both_tree = tmp .. "/src", tmp .. "/lib-tree", tmp .. "/sandbox-tree", tmp .. "/both-tree"
    copy_checkout(src)
    write_file(tmp .. "/which.lua", WHICH)
    before = ok("find . -printf '%p %y %s %T@\\n' | sort", src)
    -- The sandbox's libraries are put out of luarocks' reach: a rockspec
    -- that declared any of them would fail to find it there.
    local missing = {}
    for _, name in ipairs({ "MICROHTTPD", "JANSSON", "SQLITE" }) do
      missing[#missing + 1] = ("%s_DIR=%s %s_INCDIR=%s %s_LIBDIR=%s"):format(name, q(tmp .. "/none"),
        name, q(tmp .. "/none/include"), name, q(tmp .. "/none/lib"))
    end
    lib_build = luarocks(("make eventapi-scm-1.rockspec --tree %s %s"):format(q(lib_tree), table.concat(missing, " ")))
    sb_build = luarocks(("make eventapi-sandbox-scm-1.rockspec --tree %s"):format(q(sb_tree)))
    both_builds = {
      luarocks(("make eventapi-scm-1.rockspec --tree %s"):format(q(both_tree))),
      luarocks(("make eventapi-sandbox-scm-1.rockspec --tree %s"):format(q(both_tree))),
    }
    after = ok("find . -printf '%p %y %s %T@\\n' | sort", src)
  end)

  lazy_teardown(function()
    if tmp then os.execute("rm -rf " .. q(tmp)) end
  end)

  it("luarocks make of both rockspecs writes nothing in the checkout it builds from", function()
    assert.are.equal(before, after)
  end)

  describe("luarocks --lua-version 5.4 make eventapi-scm-1.rockspec --tree <dir>", function()
    it("builds and installs the library rock with libmicrohttpd, jansson and SQLite out of luarocks' reach", function()
      assert_built(lib_build)
    end)

    it("has a rockspec that depends on Lua 5.4, curl and PCRE2 (the schema validator's patterns) only", function()
      local spec = load_rockspec(src .. "/eventapi-scm-1.rockspec")
      assert.are.equal("eventapi", spec.package)
      assert.are.same({ "lua >= 5.4" }, spec.dependencies)
      assert.are.equal("CURL PCRE2", keys(spec.external_dependencies))
      assert.are.equal("rock-install", spec.build.install_target)
      for name in keys(spec.build.variables):gmatch("%S+") do
        for _, lib in ipairs(SANDBOX_LIBS) do
          assert.falsy(name:lower():find(lib, 1, true), "build variable " .. name)
        end
      end
    end)

    it("compiles the core and nothing of the sandbox", function()
      local log = lib_build.stdout .. lib_build.stderr
      assert.truthy(log:find("src/core.c", 1, true), log)
      assert.truthy(log:find("/eventapi/core.so", 1, true), log)
      for _, word in ipairs({ "microhttpd", "jansson", "sqlite", "sandbox/", "eventapi-sandbox" }) do
        assert.falsy(log:lower():find(word, 1, true), word .. " in the log:\n" .. log)
      end
    end)

    it("links the core against libcurl and none of the sandbox's libraries", function()
      local libs = needed(lib_tree .. "/lib/lua/5.4/eventapi/core.so")
      assert.matches("libcurl", libs)
      for _, lib in ipairs(SANDBOX_LIBS) do
        assert.falsy(libs:find(lib, 1, true), libs)
      end
    end)

    it("installs the library and the eventapi command, and no eventapi-sandbox", function()
      local files = files_under(lib_tree)
      assert.are.equal("eventapi\n", ok("ls bin", lib_tree))
      assert.matches("\n./lib/lua/5.4/eventapi/core.so\n", files)
      assert.matches("\n./share/lua/5.4/eventapi/cli.lua\n", files)
      assert.matches("\n./share/lua/5.4/eventapi/init.lua\n", files)
      assert.matches("\n./share/lua/5.4/eventapi/schemas/losant/eventPost.json\n", files)
      assert.matches("\n./share/lua/5.4/eventapi/schemas/losant/LICENSE\n", files)
      assert.falsy(files:find("sandbox", 1, true), files)
      assert.are.equal("eventapi\tscm-1\tinstalled\t" .. lib_tree .. "/lib/luarocks/rocks-5.4\n",
                       luarocks("list --porcelain --tree " .. q(lib_tree)).stdout)
    end)

    it("gives a tree where lua5.4 scripts require eventapi with the paths luarocks path prints", function()
      write_file(tmp .. "/require.lua", 'print(require("eventapi").version)\n' .. WHICH)
      local out = ok(('eval "$(luarocks --lua-version 5.4 path --tree %s)" && lua5.4 %s')
                     :format(q(lib_tree), q(tmp .. "/require.lua")))
      assert.are.equal(lib_tree .. "/share/lua/5.4/eventapi/cli.lua\n" .. lib_tree .. "/lib/lua/5.4/eventapi/core.so\n",
                       out:match("^%d+%.%d+%.%d+\n(.*)$"))
    end)

    it("gives an eventapi command that prints its help with no LUA_PATH or LUA_CPATH set", function()
      assert.matches("^usage: eventapi ", ok(q(lib_tree .. "/bin/eventapi") .. " --help"))
    end)

    it("gives an eventapi command that prints its version with no LUA_PATH or LUA_CPATH set", function()
      assert.matches("^eventapi %d+%.%d+%.%d+ %(libcurl ", ok(q(lib_tree .. "/bin/eventapi") .. " --version"))
    end)

    it("gives an eventapi command that loads the tree's modules and core", function()
      assert.are.equal(lib_tree .. "/share/lua/5.4/eventapi/cli.lua\n" .. lib_tree .. "/lib/lua/5.4/eventapi/core.so\n",
                       ok(q(lib_tree .. "/bin/eventapi") .. " run " .. q(tmp .. "/which.lua")))
    end)
  end)

  describe("luarocks --lua-version 5.4 make eventapi-sandbox-scm-1.rockspec --tree <dir>", function()
    it("builds and installs the sandbox rock", function()
      assert_built(sb_build)
    end)

    it("has a rockspec that declares libmicrohttpd, jansson and SQLite and not the library rock", function()
      local spec = load_rockspec(src .. "/eventapi-sandbox-scm-1.rockspec")
      assert.are.equal("eventapi-sandbox", spec.package)
      assert.are.same({}, spec.dependencies or {})
      assert.are.equal("JANSSON MICROHTTPD PCRE2 SQLITE", keys(spec.external_dependencies))
      assert.are.equal("rock-install-sandbox", spec.build.install_target)
    end)

    it("installs eventapi-sandbox and nothing of the library", function()
      assert.are.equal("eventapi-sandbox\n", ok("ls bin", sb_tree))
      local files = files_under(sb_tree)
      assert.falsy(files:find("./share/lua/", 1, true), files)
      assert.falsy(files:find("./lib/lua/", 1, true), files)
      assert.falsy(files:find("core.so", 1, true), files)
    end)

    it("gives an eventapi-sandbox linked against its three libraries, not Lua or curl", function()
      local libs = needed(sb_tree .. "/bin/eventapi-sandbox")
      for _, lib in ipairs(SANDBOX_LIBS) do
        assert.truthy(libs:find(lib, 1, true), libs)
      end
      assert.falsy(libs:find("liblua", 1, true), libs)
      assert.falsy(libs:find("libcurl", 1, true), libs)
    end)

    it("gives an eventapi-sandbox that listens and stops on SIGTERM", function()
      local line, ended, how, code = start_and_terminate(sb_tree .. "/bin/eventapi-sandbox",
                                                         src .. "/examples/seed.json")
      assert.matches("^listening on http://127%.0%.0%.1:%d+$", line)
      assert.is_true(ended, "eventapi-sandbox was still running 5 s after SIGTERM")
      assert.are.same({ "exit", 0 }, { how, code })
    end)
  end)

  describe("both rocks made into one tree", function()
    it("builds and installs both", function()
      assert_built(both_builds[1])
      assert_built(both_builds[2])
      assert.are.equal("eventapi\neventapi-sandbox\n", ok("ls bin", both_tree))
      assert.are.equal("eventapi\neventapi-sandbox\n", luarocks("list --porcelain --tree " .. q(both_tree)).stdout
        :gsub("\t[^\n]*", ""))
    end)

    it("gives an eventapi-sandbox that the tree's eventapi command can call", function()
      local url, stop = start_sandbox(both_tree .. "/bin/eventapi-sandbox", src .. "/examples/seed.json")
      local r = run(("LOSANT_URL=%s LOSANT_TOKEN=sandbox-all-access %s losant event get"
                     .. " --applicationId 575ec8687ae143cd83dc4a97 --eventId 575ed0de7ae143cd83dc4aa5")
                    :format(q(url), q(both_tree .. "/bin/eventapi")))
      stop()
      assert.are.equal(0, r.code, r.stderr)
      assert.matches('"id":"575ed0de7ae143cd83dc4aa5"', r.stdout, 1, true)
    end)

    it("keeps the library working after luarocks remove eventapi-sandbox", function()
      local r = luarocks("remove --tree " .. q(both_tree) .. " eventapi-sandbox")
      assert.are.equal(0, r.code, r.stdout .. r.stderr)
      assert.are.equal("eventapi\n", ok("ls bin", both_tree))
      assert.matches("^eventapi %d", ok(q(both_tree .. "/bin/eventapi") .. " --version"))
    end)
  end)
end)
