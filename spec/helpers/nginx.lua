-- Test helper: a throwaway nginx (TLS reverse proxy, redirects, canned
-- bodies) on a free loopback port, in a temporary directory; and openssl
-- for throwaway certificates. A missing tool is an error naming the Debian
-- package, never a silent skip.
local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.quote = q

--- Path of an executable found in PATH or the sbin directories, or nil.
local function find_tool(name)
  local p = io.popen("PATH=\"$PATH:/usr/sbin:/sbin\" command -v " .. q(name) .. " 2>/dev/null")
  local path = p:read("l")
  p:close()
  return path ~= "" and path or nil
end

--- The path of tool, or an error naming the Debian package to install.
function M.need(tool, package)
  local path = find_tool(tool)
  if not path then
    error(("%s is not installed: these specs need the Debian package '%s' (apt-get install %s)")
      :format(tool, package or tool, package or tool), 2)
  end
  return path
end

--- Runs a shell command; raises with its output when it fails.
function M.sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  if not ok then error(("command failed (%s): %s\n%s"):format(tostring(code), cmd, out), 2) end
  return out
end

--- A new temporary directory (removed by M.remove).
function M.tempdir()
  local dir = M.sh("mktemp -d /tmp/eventapi-spec.XXXXXX"):match("^(%S+)")
  M.sh("chmod 755 " .. q(dir))
  return dir
end

function M.remove(dir)
  if dir and dir:match("^/tmp/eventapi%-spec%.") then os.execute("rm -rf " .. q(dir)) end
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Makes a CA (dir/<name>.crt, .key) and a server certificate signed by it
-- for 127.0.0.1 (dir/<name>-server.crt, .key). Returns the CA file path.
function M.make_ca(dir, name)
  local openssl = M.need("openssl")
  local base = dir .. "/" .. name
  M.sh(("%s req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj %s -keyout %s -out %s")
    :format(openssl, q("/CN=eventapi spec CA " .. name), q(base .. ".key"), q(base .. ".crt")))
  M.write(base .. "-ext.cnf", "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
    .. "extendedKeyUsage=serverAuth\n")
  M.sh(("%s req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 -keyout %s -out %s")
    :format(openssl, q(base .. "-server.key"), q(base .. "-server.csr")))
  M.sh(("%s x509 -req -days 2 -in %s -CA %s -CAkey %s -CAcreateserial -extfile %s -out %s")
    :format(openssl, q(base .. "-server.csr"), q(base .. ".crt"), q(base .. ".key"), q(base .. "-ext.cnf"),
            q(base .. "-server.crt")))
  return base .. ".crt"
end

--- Starts nginx in dir with the http{} body server(port) returns (one or
-- more server blocks listening on 127.0.0.1:port). scheme: "http" or
-- "https" (for the readiness probe). Returns { url, port, pid, stop() }.
function M.start(dir, server, scheme)
  local nginx = M.need("nginx")
  M.need("curl")
  scheme = scheme or "http"
  os.execute("mkdir -p " .. q(dir .. "/tmp"))
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  for _ = 1, 20 do
    local port = math.random(20000, 60999)
    local conf = dir .. "/nginx.conf"
    M.write(conf, table.concat({
      "daemon off;", "master_process off;", "worker_processes 1;",
      "pid " .. dir .. "/nginx.pid;", "error_log " .. dir .. "/error.log warn;",
      "events { worker_connections 256; }",
      "http {",
      "  access_log off; server_tokens off; types { } default_type application/json;",
      "  client_body_temp_path " .. dir .. "/tmp/body; proxy_temp_path " .. dir .. "/tmp/proxy;",
      "  fastcgi_temp_path " .. dir .. "/tmp/fastcgi; uwsgi_temp_path " .. dir .. "/tmp/uwsgi;",
      "  scgi_temp_path " .. dir .. "/tmp/scgi;",
      server(port),
      "}", "" }, "\n"))
    os.remove(dir .. "/error.log")
    local pipe = assert(io.popen("sh -c " .. q("echo $$; exec " .. q(nginx) .. " -p " .. q(dir) .. " -c " .. q(conf)
      .. " -e " .. q(dir .. "/error.log") .. " >" .. q(dir .. "/nginx.out") .. " 2>&1"), "r"))
    local pid = tonumber(pipe:read("l"))
    local handle = { port = port, pid = pid, url = scheme .. "://127.0.0.1:" .. port }
    function handle.stop()
      if handle.pipe then
        os.execute("kill -TERM " .. handle.pid .. " 2>/dev/null")
        handle.pipe:close()
        handle.pipe = nil
      end
    end
    handle.pipe = pipe
    -- Ready when it answers; gone when the port was taken (retry) or the
    -- configuration is refused (error).
    for _ = 1, 100 do
      local probe = io.popen(("curl -s -k -o /dev/null -w '%%{http_code}' --max-time 2 %s/_probe"):format(q(handle.url)))
      local code = probe:read("a")
      probe:close()
      if code ~= "000" and code ~= "" then return handle end
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
      os.execute("sleep 0.05")
    end
    handle.stop()
    local f = io.open(dir .. "/error.log")
    local log = f and f:read("a") or ""
    if f then f:close() end
    f = io.open(dir .. "/nginx.out")
    log = log .. (f and f:read("a") or "")
    if f then f:close() end
    if not log:find("in use", 1, true) then error("nginx did not start:\n" .. log, 2) end
  end
  error("nginx: no free port found in 20 tries", 2)
end

return M
