-- TLS verification is on by default: a server whose certificate comes from
-- a CA the client does not know is refused with type TLS (and gets no
-- request), unless ca_file names that CA. nginx terminates TLS in front of
-- a sandbox with a throwaway CA made by openssl at test time. Needs the
-- Debian packages nginx and openssl: a missing one fails with its name.
local eventapi = require "eventapi"
local sandbox = require "helpers.sandbox"
local nginx = require "helpers.nginx"

local APP = sandbox.app
local EVENT = sandbox.event

describe("TLS", function()
  local sb, proxy, dir, ca, other_ca

  setup(function()
    nginx.need("openssl")
    nginx.need("nginx")
    dir = nginx.tempdir()
    ca = nginx.make_ca(dir, "good")
    other_ca = nginx.make_ca(dir, "other")
    sb = sandbox.start({})
    local upstream = sb.url:match("^http://(.*)$")
    proxy = nginx.start(dir, function(port)
      return table.concat({
        "  server {",
        "    listen 127.0.0.1:" .. port .. " ssl;",
        "    ssl_certificate " .. dir .. "/good-server.crt;",
        "    ssl_certificate_key " .. dir .. "/good-server.key;",
        "    location / { proxy_pass http://" .. upstream .. "; proxy_http_version 1.1;",
        "                 proxy_set_header Connection \"\"; }",
        "  }" }, "\n")
    end, "https")
  end)
  teardown(function()
    if proxy then proxy.stop() end
    if sb then sb.stop() end
    nginx.remove(dir)
  end)

  local function get(options)
    options.token = sandbox.token
    local c = eventapi.losant(options)
    local ok, v = pcall(function() return c.event.get({ applicationId = APP, eventId = EVENT }):await() end)
    c:close()
    return ok, v
  end

  it("refuses a server whose CA is not trusted, sending it no request", function()
    sandbox.clear_requests(sb)
    local ok, err = get({ url = proxy.url })
    assert.is_false(ok)
    assert.are.equal("TLS", err.type, tostring(err))
    assert.is_true(err.transport)
    assert.is_nil(err.status)
    assert.are.equal(0, #sandbox.requests(sb))
  end)

  it("accepts the server when ca_file names its CA", function()
    local ok, ev = get({ url = proxy.url, ca_file = ca })
    assert.is_true(ok, tostring(ev))
    assert.are.equal(EVENT, ev.id)
  end)

  it("refuses the server when ca_file names another CA", function()
    local ok, err = get({ url = proxy.url, ca_file = other_ca })
    assert.is_false(ok)
    assert.are.equal("TLS", err.type, tostring(err))
  end)

  it("refuses a certificate for another name, even from the trusted CA", function()
    -- the certificate names 127.0.0.1 only
    local ok, err = get({ url = proxy.url:gsub("127%.0%.0%.1", "localhost"), ca_file = ca })
    assert.is_false(ok)
    assert.are.equal("TLS", err.type, tostring(err))
  end)

  it("skips verification only with insecure = true", function()
    local ok, ev = get({ url = proxy.url, insecure = true })
    assert.is_true(ok, tostring(ev))
    assert.are.equal(EVENT, ev.id)
  end)
end)
