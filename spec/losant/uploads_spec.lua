-- Losant's four upload actions (multipart/form-data) against the recording
-- sandbox, over real HTTP: the parts each sends (a file read from disk, the
-- bytes of a string, text fields, in the row's order), the checks made
-- before any traffic, a file that changes while it is sent, memory while a
-- large file goes out, dry runs, the progress hook, no total timeout, and
-- the pooled connection's next request. The byte-for-byte comparison with
-- the official client is spec/losant/wire_spec.lua's.
local sandbox = require "helpers.sandbox"
local eventapi = require "eventapi"
local core = require "eventapi.core"
local Client = require "eventapi.client"

local APP = "575ec8687ae143cd83dc4a97"
local FILE = "575ec8687ae143cd83dc4a97" -- any id: the sandbox's generic store answers

--- Writes text to a new temporary file named name in a new directory; -> its path.
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. sandbox.shell_quote(dir)))
local function file(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

--- The kB of the process's resident memory now (VmRSS).
local function rss()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) end
  end
end

describe("a Losant upload", function()
  local sb, losant

  setup(function()
    sb = sandbox.start({ faults = true })
    losant = sb.losant()
  end)
  teardown(function()
    losant:close()
    sb.stop()
    os.execute("rm -rf " .. sandbox.shell_quote(dir))
  end)
  before_each(function() sandbox.clear_requests(sb) end)

  local function sent()
    local r = sandbox.requests(sb)
    assert.are.equal(1, #r)
    return r[1]
  end

  --- The recorded parts of the last request, each {name, filename, content_type, size, data}.
  local function parts_of(req)
    local list = {}
    for i, p in ipairs(req.parts or {}) do
      list[i] = { name = p.name, filename = p.filename ~= eventapi.json.null and p.filename or nil,
                  content_type = p.content_type ~= eventapi.json.null and p.content_type or nil,
                  size = p.size, data = p.data }
    end
    return list
  end

  --- Waits for p whatever it settles with (the sandbox has no such notebook: the record is what counts).
  local function settle(p) pcall(p.await, p) end

  local function refused(p)
    local err = sandbox.rejection(p)
    assert.are.equal(0, #sandbox.requests(sb))
    return err
  end

  it("sends a file from disk as a file part: its basename, the type of its extension, its bytes", function()
    local path = file("plant.csv", "a,b\n1,2\n")
    local v = losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } }):await()
    assert.are.equal("table", type(v))
    local req = sent()
    assert.are.equal("POST", req.method)
    assert.truthy(req.headers["content-type"]:find("^multipart/form%-data; boundary=%-*%x+$"), req.headers["content-type"])
    assert.is_nil(req.headers.expect)
    assert.are.same({ { name = "file", filename = "plant.csv", content_type = "text/csv", size = 8, data = "a,b\n1,2\n" } },
                    parts_of(req))
  end)

  it("sends a string as the bytes themselves: no filename, application/octet-stream", function()
    settle(losant.notebook.upload({ applicationId = APP, notebookId = FILE, jupyterFile = "\0\1\2 raw\r\n" }))
    assert.are.same({ { name = "jupyterFile", content_type = "application/octet-stream", size = 9,
                        data = "\0\1\2 raw\r\n" } }, parts_of(sent()))
  end)

  it("sends {data=, filename=} with that name and its extension's type, or the type given", function()
    settle(losant.notebook.upload({ applicationId = APP, notebookId = FILE,
                                    jupyterFile = { data = "{}", filename = "book.json" } }))
    assert.are.same({ { name = "jupyterFile", filename = "book.json", content_type = "application/json", size = 2,
                        data = "{}" } }, parts_of(sent()))
    sandbox.clear_requests(sb)
    local path = file("n.ipynb", '{"cells":[]}')
    settle(losant.notebook.upload({ applicationId = APP, notebookId = FILE,
      jupyterFile = { path = path, filename = "other.ipynb", content_type = "application/x-ipynb+json" } }))
    assert.are.same({ { name = "jupyterFile", filename = "other.ipynb", content_type = "application/x-ipynb+json",
                        size = 12, data = '{"cells":[]}' } }, parts_of(sent()))
  end)

  it("derives the content type as the official client's form-data does, octet-stream otherwise", function()
    local want = { zip = "application/zip", json = "application/json", ipynb = "application/octet-stream",
                   csv = "text/csv", txt = "text/plain", png = "image/png", jpg = "image/jpeg", gz = "application/gzip",
                   tar = "application/x-tar", JPG = "image/jpeg", weird = "application/octet-stream" }
    for ext, type in pairs(want) do
      sandbox.clear_requests(sb)
      losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = file("f." .. ext, "x") } }):await()
      local part = parts_of(sent())[1]
      assert.are.equal(type, part.content_type, ext)
      assert.are.equal("f." .. ext, part.filename)
    end
  end)

  it("sends text fields as plain parts, in the row's order, only those given", function()
    local bundle = file("bundle.zip", "PK\3\4 a bundle")
    local v = losant.applications.import({ email = "a@b.c", includeFiles = "true", ownerType = "organization",
                                           importBundle = { path = bundle }, ownerId = APP }):await()
    assert.are.equal("table", type(v))
    assert.are.same({
      { name = "importBundle", filename = "bundle.zip", content_type = "application/zip", size = 13, data = "PK\3\4 a bundle" },
      { name = "ownerId", size = 24, data = APP },
      { name = "ownerType", size = 12, data = "organization" },
      { name = "includeFiles", size = 4, data = "true" },
      { name = "email", size = 5, data = "a@b.c" },
    }, parts_of(sent()))
    sandbox.clear_requests(sb)
    losant.application.import({ applicationId = APP, importBundle = "bytes", email = "x@y.z" }):await()
    assert.are.same({ { name = "importBundle", content_type = "application/octet-stream", size = 5, data = "bytes" },
                      { name = "email", size = 5, data = "x@y.z" } }, parts_of(sent()))
  end)

  it("refuses a missing file, a directory or an unreadable file before any traffic, naming the param", function()
    local err = refused(losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = dir .. "/none.zip" } }))
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("file", err.param)
    assert.truthy(err.message:find("file.upload: file cannot be read from '" .. dir .. "/none.zip': No such file", 1, true),
                  err.message)
    err = refused(losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = dir } }))
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("names a directory", 1, true), err.message)
    local locked = file("locked.zip", "x")
    os.execute("chmod 000 " .. sandbox.shell_quote(locked))
    local f = io.open(locked, "rb") -- (root reads it anyway)
    if f then f:close() else
      err = refused(losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = locked } }))
      assert.are.equal("InvalidParams", err.type)
      assert.truthy(err.message:find("Permission denied", 1, true), err.message)
    end
  end)

  it("goes out as a POST on a pooled handle whose last call was a PATCH", function()
    local flow = losant.flows.post({ applicationId = APP, flow = { name = "before an upload" } }):await()
    losant.flow.patch({ applicationId = APP, flowId = flow.id, flow = { enabled = false } }):await()
    sandbox.clear_requests(sb)
    local answer = losant.application.import({ applicationId = APP, importBundle = "bytes" }):await()
    assert.is_true(answer.jobQueued)
    local r = sandbox.requests(sb)
    assert.are.equal(1, #r)
    assert.are.equal("POST", r[1].method)
  end)

  it("refuses a device or a FIFO before any traffic: only a regular file is uploaded", function()
    local err = refused(losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = "/dev/null" } }))
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("must be a regular file: '/dev/null' is not", 1, true), err.message)
    local fifo = dir .. "/pipe.zip"
    assert.is_true(os.execute("mkfifo " .. sandbox.shell_quote(fifo)))
    err = refused(losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = fifo } }))
    assert.are.equal("InvalidParams", err.type)
    assert.truthy(err.message:find("must be a regular file", 1, true), err.message)
    os.remove(fifo)
  end)

  it("refuses a wrong value, an unknown key, a missing file param and an enum violation before any traffic", function()
    local cases = {
      { { applicationId = APP, fileId = FILE, file = 42 }, "file", "must be a string (its bytes), {path=} or {data=}, not a number" },
      { { applicationId = APP, fileId = FILE, file = { path = "x", data = "y" } }, "file", "either path or data" },
      { { applicationId = APP, fileId = FILE, file = {} }, "file", "either path or data" },
      { { applicationId = APP, fileId = FILE, file = { path = "x", name = "y" } }, "file", "not 'name'" },
      { { applicationId = APP, fileId = FILE, file = { data = "x", filename = 7 } }, "file", "filename must be a non-empty string" },
      { { applicationId = APP, fileId = FILE, file = { data = "x", content_type = "a\r\nb: c" } }, "file", "must not contain CR" },
      { { applicationId = APP, fileId = FILE }, "file", "missing required param 'file'" },
    }
    for _, case in ipairs(cases) do
      local err = refused(losant.file.upload(case[1]))
      assert.are.equal("InvalidParams", err.type, case[3])
      assert.are.equal(case[2], err.param, case[3])
      assert.truthy(err.message:find(case[3], 1, true), err.message)
    end
    local err = refused(losant.applications.import({ importBundle = "x", ownerType = "team" }))
    assert.are.equal("ownerType", err.param)
    assert.truthy(err.message:find("ownerType must be one of user, organization, not 'team'", 1, true), err.message)
    err = refused(losant.applications.import({ importBundle = "x", email = { "a" } }))
    assert.are.equal("email", err.param)
    err = refused(losant.file.upload({ applicationId = APP, fileId = FILE, file = "x",
                                       headers = { ["Content-Type"] = "text/plain" } }))
    assert.are.equal("InvalidParams", err.type)
  end)

  it("stops, as UploadFailed, an upload whose file is cut short or grows while it is sent", function()
    local path = file("big.bin", "")
    assert(os.execute("truncate -s 20M " .. sandbox.shell_quote(path)))
    local p = losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } })
    assert(os.execute("truncate -s 1000 " .. sandbox.shell_quote(path))) -- after the call, before the loop sends it
    local err = sandbox.rejection(p)
    assert.are.equal("UploadFailed", err.type)
    assert.are.equal("file", err.param)
    assert.truthy(err.message:find("changed while it was sent (20971520 bytes at the call, 1000 bytes now)", 1, true),
                  err.message)
    p = losant.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } })
    assert(os.execute("truncate -s 2000 " .. sandbox.shell_quote(path)))
    err = sandbox.rejection(p)
    assert.are.equal("UploadFailed", err.type)
    assert.truthy(err.message:find("(1000 bytes at the call, 2000 bytes now)", 1, true), err.message)
    for _, req in ipairs(sandbox.requests(sb)) do -- the sandbox never took either as a whole body
      assert.are_not.equal(20971520, req.parts and req.parts[1] and req.parts[1].size)
    end
  end)

  it("refuses, before any traffic, a file a request hook removed after the call's checks", function()
    local path = file("gone.zip", "x")
    local c = sb.losant()
    c:on("request", function() os.remove(path) end)
    local err = sandbox.rejection(c.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } }))
    assert.are.equal("InvalidParams", err.type)
    assert.are.equal("file", err.param)
    assert.truthy(err.message:find("file.upload: file: '" .. path .. "' cannot be sent: No such file", 1, true), err.message)
    assert.are.equal(0, #sandbox.requests(sb))
    c:close()
  end)

  it("reads a 50 MB file as it is sent: Lua memory and the resident set stay small", function()
    local path = file("sparse.bin", "")
    assert(os.execute("truncate -s 50M " .. sandbox.shell_quote(path)))
    local c = sb.losant()
    collectgarbage()
    local lua_before, rss_before = collectgarbage("count"), rss()
    local lua_peak, rss_peak, seen = 0, 0, {}
    c:on("progress", function(info)
      seen[#seen + 1] = info.sent
      lua_peak = math.max(lua_peak, collectgarbage("count"))
      rss_peak = math.max(rss_peak, rss())
    end)
    local v = c.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } }):await()
    assert.are.equal("table", type(v))
    rss_peak = math.max(rss_peak, rss())
    assert.is_true(#seen >= 1)
    assert.is_true(lua_peak - lua_before < 2048, ("Lua grew by %.0f KB"):format(lua_peak - lua_before))
    assert.is_true(rss_peak - rss_before < 8192, ("the resident set grew by %d KB"):format(rss_peak - rss_before))
    local part = sent().parts[1]
    assert.are.equal(52428800, part.size)
    c:close()
  end)

  it("calls the progress hooks with the bytes sent, ending with the whole body once a 2xx answer came", function()
    local path = file("progress.bin", "")
    assert(os.execute("truncate -s 30M " .. sandbox.shell_quote(path)))
    local c = sb.losant()
    local saved = Client.progress_interval
    Client.progress_interval = 0.001
    local calls = {}
    c:on("progress", function(info) calls[#calls + 1] = info end)
    local ok, v = pcall(function()
      return c.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } }):await()
    end)
    Client.progress_interval = saved
    assert.is_true(ok, v)
    assert.is_true(#calls >= 2, #calls)
    local last = calls[#calls]
    assert.is_true(last.total > 31457280 and last.total < 31457280 + 1024, last.total)
    assert.are.equal(last.total, last.sent)
    for i, info in ipairs(calls) do
      assert.are.equal("POST", info.method)
      assert.are.equal(1, info.attempt)
      assert.truthy(info.url:find("/file/" .. FILE .. "/upload", 1, true))
      if i > 1 then assert.is_true(info.sent >= calls[i - 1].sent) end
    end
    assert.is_true(calls[1].sent < last.total) -- one came while it was sent
    c:close()
  end)

  it("fails the upload with the error of a progress hook that raises", function()
    local path = file("raising.bin", "")
    assert(os.execute("truncate -s 30M " .. sandbox.shell_quote(path)))
    local c = sb.losant()
    local saved = Client.progress_interval
    Client.progress_interval = 0.001
    c:on("progress", function() error("stop it") end)
    local err = sandbox.rejection(c.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } }))
    Client.progress_interval = saved
    assert.are.equal("ScriptError", err.type)
    assert.truthy(err.message:find("a progress hook raised: .*stop it"), err.message)
    c:close()
  end)

  it("has no total timeout: the client's timeout does not cut an upload", function()
    local path = file("slow.bin", "")
    assert(os.execute("truncate -s 50M " .. sandbox.shell_quote(path)))
    local c = sb.losant({ timeout = 0.2 })
    local saved = Client.progress_interval
    Client.progress_interval = 0.001
    local slept = false
    c:on("progress", function()
      if not slept then slept = true; os.execute("sleep 0.5") end -- the loop held past the timeout mid-upload
    end)
    local started = core.now()
    local ok, v = pcall(function()
      return c.file.upload({ applicationId = APP, fileId = FILE, file = { path = path } }):await()
    end)
    Client.progress_interval = saved
    assert.is_true(ok, type(v) == "table" and v.message or v)
    assert.is_true(slept and core.now() - started > 0.5)
    -- a call that is not an upload still has it
    local err = sandbox.rejection(c.events.get({ applicationId = APP, headers = { ["X-Sandbox-Fault"] = "delay=1000" } }))
    assert.are.equal("Timeout", err.type)
    c:close()
  end)

  it("prints its parts in a dry run, never a file's bytes, and sends nothing", function()
    local lines = {}
    local dry = sb.losant({ dry_run = function(line) lines[#lines + 1] = line end })
    local path = file("dry.zip", "SECRET BYTES")
    local v = dry.applications.import({ importBundle = { path = path }, ownerType = "user", email = "a@b.c" }):await()
    assert.are.equal(1, #lines)
    assert.are.equal(("[dry run] POST %s/applications/import?_actions=false&_links=true&_embedded=true "
      .. 'multipart/form-data: importBundle=@%s (dry.zip, application/zip, 12 bytes) ownerType="user" email="a@b.c"')
      :format(sb.url, path), lines[1])
    assert.is_nil(lines[1]:find("SECRET", 1, true))
    assert.is_true(v.dry_run)
    assert.are.same({ name = "importBundle", path = path, filename = "dry.zip", content_type = "application/zip", size = 12 },
                    v.parts[1])
    dry.file.upload({ applicationId = APP, fileId = FILE, file = "abc" }):await()
    assert.truthy(lines[2]:find(" multipart/form%-data: file=%(application/octet%-stream, 3 bytes%)$"), lines[2])
    assert.are.equal(0, #sandbox.requests(sb))
    dry:close()
  end)

  it("shows its parts to request hooks", function()
    local c = sb.losant()
    local infos = {}
    c:on("request", function(info) infos[#infos + 1] = info end)
    c.application.import({ applicationId = APP, importBundle = { data = "xyz", filename = "b.zip" } }):await()
    assert.is_nil(infos[1].body)
    assert.are.same({ { name = "importBundle", filename = "b.zip", content_type = "application/zip", size = 3 } },
                    infos[1].parts)
    c:close()
  end)

  it("is not retried (POST), and leaves the pooled handle clean for the next request", function()
    local c = sb.losant({ retries = { max = 3, on = { 503 }, base = 0.01 } })
    local err = sandbox.rejection(c.file.upload({ applicationId = APP, fileId = FILE, file = "x",
                                                  headers = { ["X-Sandbox-Fault"] = "status=503" } }))
    assert.are.equal(503, err.status)
    assert.are.equal(1, #sandbox.requests(sb))
    sandbox.clear_requests(sb)
    c.events.post({ applicationId = APP, event = { subject = "after an upload", level = "info", state = "new" } }):await()
    c.events.get({ applicationId = APP }):await()
    local r = sandbox.requests(sb)
    assert.are.equal(2, #r)
    assert.are.equal("application/json", r[1].headers["content-type"])
    assert.truthy(r[1].body:find('"subject":"after an upload"', 1, true))
    assert.is_nil(r[1].parts)
    assert.is_nil(r[2].headers["content-type"])
    assert.are.equal("", r[2].body)
    c:close()
  end)

  it("goes through a callback too", function()
    local got, value
    losant.file.upload({ applicationId = APP, fileId = FILE, file = "cb" }, function(err, v) got, value = err, v end)
    eventapi.run()
    assert.is_nil(got)
    assert.are.equal("table", type(value))
  end)
end)
