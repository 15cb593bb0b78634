-- The sandbox's Losant uploads (sandbox/upload.c, sandbox/losant_upload.c;
-- docs/PROTOCOLS.md 1.12): multipart/form-data bodies sent with curl -F,
-- read as they stream in, each part recorded in /_sandbox/requests.
local sandbox = require "helpers.sandbox"

local APP = sandbox.app
local TOKEN = sandbox.token
local UNKNOWN = "aaaaaaaaaaaaaaaaaaaaaaaa"
local q = sandbox.shell_quote

-- FNV-1a 64 of s as 16 hex digits (Lua integers wrap as the C code's do).
local function fnv1a64(s)
  local h = -3750763034362895579 -- 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 0x100000001b3 end
  return ("%016x"):format(h)
end

-- Writes s to a new temporary file; returns its path.
local function temp_file(s)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

describe("the sandbox's Losant uploads", function()
  local sb, temps

  -- POSTs a form with curl -F (each item one -F argument); returns status and decoded body.
  local function upload(path, form, opts)
    opts = opts or {}
    local out = os.tmpname()
    temps[#temps + 1] = out
    local args = { "curl", "-s", "-o", out, "-w", "%{http_code}", "--max-time", "30" }
    if opts.token ~= false then args[#args + 1] = "-H"; args[#args + 1] = "Authorization: Bearer " .. TOKEN end
    for _, item in ipairs(form) do args[#args + 1] = "-F"; args[#args + 1] = item end
    args[#args + 1] = sb.url .. path
    for i, a in ipairs(args) do args[i] = q(a) end
    local prefix = os.getenv("LD_PRELOAD") and "env -u LD_PRELOAD " or ""
    local p = assert(io.popen(prefix .. table.concat(args, " ") .. " 2>/dev/null"))
    local status = tonumber(p:read("a"))
    p:close()
    local f = assert(io.open(out, "rb"))
    local body = f:read("a")
    f:close()
    local ok, doc = pcall(require("cjson").decode, body)
    return status, ok and doc or body
  end

  -- The parts the record holds for the last request to path.
  local function recorded_parts(path)
    local last
    for _, r in ipairs(sandbox.requests(sb)) do
      if r.path == path then last = r end
    end
    assert(last, "no request to " .. path .. " was recorded")
    return last.parts, last
  end

  local function file_path(id) return "/applications/" .. APP .. "/file/" .. (id or UNKNOWN) .. "/upload" end

  -- A file holding s, removed after the test.
  local function content(s)
    local path = temp_file(s)
    temps[#temps + 1] = path
    return path
  end

  before_each(function()
    temps = {}
    sb = sandbox.start({ args = { "--upload-max", "300000" } })
  end)
  after_each(function()
    sb.stop()
    for _, t in ipairs(temps) do os.remove(t) end
  end)

  describe("the record", function()
    it("records a file part with its filename, Content-Type, size, digest and bytes", function()
      local data = "PK\3\4 a small bundle"
      local status = upload("/applications/" .. APP .. "/import",
        { "importBundle=@" .. content(data) .. ";filename=bundle.zip;type=application/zip", "email=ops@example.com" })
      assert.are.equal(202, status)
      local parts, entry = recorded_parts("/applications/" .. APP .. "/import")
      assert.are.equal(2, #parts)
      assert.are.same({ name = "importBundle", filename = "bundle.zip", content_type = "application/zip",
        size = #data, fnv1a64 = fnv1a64(data), data = data }, parts[1])
      assert.are.equal("", entry.body)
      assert.truthy(entry.body_length > #data)
    end)

    it("records a text part without filename or Content-Type as nulls", function()
      upload("/applications/" .. APP .. "/import", { "importBundle=@" .. content("x"), "email=ops@example.com" })
      local parts = recorded_parts("/applications/" .. APP .. "/import")
      local email = parts[2]
      assert.are.equal("email", email.name)
      assert.are.equal(require("cjson").null, email.filename)
      assert.are.equal(require("cjson").null, email.content_type)
      assert.are.equal("ops@example.com", email.data)
      assert.are.equal(fnv1a64("ops@example.com"), email.fnv1a64)
    end)

    it("records bytes that are not UTF-8 as data_base64", function()
      upload(file_path(), { "file=@" .. content("a\0\255b") })
      local parts = recorded_parts(file_path())
      assert.are.equal("YQD/Yg==", parts[1].data_base64)
      assert.is_nil(parts[1].data)
      assert.are.equal(fnv1a64("a\0\255b"), parts[1].fnv1a64)
    end)

    it("records a part over 64 KiB by size and digest only", function()
      local big = ("0123456789abcdef"):rep(8192) -- 128 KiB
      upload(file_path(), { "file=@" .. content(big) })
      local part = recorded_parts(file_path())[1]
      assert.are.equal(#big, part.size)
      assert.are.equal(fnv1a64(big), part.fnv1a64)
      assert.is_nil(part.data)
      assert.is_nil(part.data_base64)
    end)

    it("keeps a boundary-like text inside a part's bytes", function()
      local tricky = "line\r\n--not-the-boundary\r\n--\r\nend\r"
      upload(file_path(), { "file=@" .. content(tricky) })
      assert.are.equal(tricky, recorded_parts(file_path())[1].data)
    end)
  end)

  describe("answers", function()
    it("answers file.upload with the file, its size and status set", function()
      local status, doc = upload(file_path(), { "file=@" .. content("hello") .. ";filename=h.txt;type=text/plain" })
      assert.are.equal(200, status)
      assert.are.equal(UNKNOWN, doc.id)
      assert.are.equal(5, doc.fileSize)
      assert.are.equal("completed", doc.status)
      assert.are.equal("text/plain", doc.contentType)
    end)

    it("answers notebook.upload with the notebook, and 404 for an unknown one", function()
      local res = sandbox.http("POST", sb.url .. "/applications/" .. APP .. "/notebooks", { token = TOKEN, json = { name = "nb" } })
      assert.are.equal(201, res.status)
      local path = "/applications/" .. APP .. "/notebooks/" .. res.json.id .. "/upload"
      local status, doc = upload(path, { "jupyterFile=@" .. content("{}") .. ";filename=a.ipynb" })
      assert.are.equal(200, status)
      assert.are.equal("nb", doc.name)
      assert.are.equal("a.ipynb", doc.jupyterFileName)
      status, doc = upload("/applications/" .. APP .. "/notebooks/" .. UNKNOWN .. "/upload", { "jupyterFile=@" .. content("{}") })
      assert.are.equal(404, status)
      assert.are.equal("Notebook was not found", doc.message)
    end)

    it("answers both imports 202 with a queued job", function()
      local status, doc = upload("/applications/import", { "importBundle=@" .. content("zip"), "ownerType=organization",
        "ownerId=575ed6e87ae143cd83dc4aa8", "includeDevices=true", "includeDataTableRows=false", "includeFiles=true", "email=a@b.c" })
      assert.are.equal(202, status)
      assert.is_true(doc.jobQueued)
      assert.is_true(doc.success)
      assert.are.equal("string", type(doc.jobId))
      status, doc = upload("/applications/" .. APP .. "/import", { "importBundle=@" .. content("zip") })
      assert.are.equal(202, status)
      assert.is_true(doc.jobQueued)
    end)
  end)

  describe("refusals", function()
    it("answers 400 in Losant's shape for a missing required part", function()
      local status, doc = upload(file_path(), { "notfile=1" })
      assert.are.equal(400, status)
      assert.are.equal("Validation", doc.type)
      status, doc = upload("/applications/import", { "email=a@b.c" })
      assert.are.equal(400, status)
      assert.are.equal("importBundle is required", doc.message)
    end)

    it("answers 400 for an unknown part name", function()
      local status, doc = upload(file_path(), { "file=@" .. content("x"), "extra=1" })
      assert.are.equal(400, status)
      assert.are.equal("Unknown part 'extra'", doc.message)
    end)

    it("answers 400 for an ownerType other than user or organization", function()
      local status, doc = upload("/applications/import", { "importBundle=@" .. content("x"), "ownerType=team" })
      assert.are.equal(400, status)
      assert.truthy(doc.message:find("ownerType", 1, true))
    end)

    it("answers 400 for a body that is not multipart/form-data", function()
      local res = sandbox.http("POST", sb.url .. file_path(), { token = TOKEN, json = { file = "x" } })
      assert.are.equal(400, res.status)
      assert.are.equal("Validation", res.json.type)
      assert.truthy(res.json.message:find("multipart/form-data", 1, true))
    end)

    it("answers 413 in Losant's shape for a body over --upload-max, still recording its length", function()
      local status, doc = upload(file_path(), { "file=@" .. content(("x"):rep(400000)) })
      assert.are.equal(413, status)
      assert.are.equal("PayloadTooLarge", doc.type)
      local _, entry = recorded_parts(file_path())
      assert.truthy(entry.body_length > 400000)
    end)

    it("checks the token before the body: 401 without one", function()
      local status, doc = upload(file_path(), { "file=@" .. content("x") }, { token = false })
      assert.are.equal(401, status)
      assert.are.equal("Unauthorized", doc.type)
    end)
  end)
end)
