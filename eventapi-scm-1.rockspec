rockspec_format = "3.0"
package = "eventapi"
version = "scm-1"
source = { url = "git+https://example.invalid/eventapi.git" }
description = {
  summary = "Losant, Connect Daily and Monterosa event API clients and runbooks, with a C core over libcurl",
  detailed = "Many requests in flight on one thread, promises, callbacks and await, exact JSON numbers."
    .. " The library and the eventapi command; the sandbox server is the eventapi-sandbox rock.",
  license = "MIT",
}
-- lua-cjson is not needed: the core has its own exact JSON codec (see README, design notes).
dependencies = { "lua >= 5.4" }
-- The core's one C library. Only the library is checked: Debian keeps
-- curl/curl.h under a multiarch include dir that the compiler searches by
-- itself but luarocks does not.
external_dependencies = {
  CURL = { library = "curl" },
  PCRE2 = { header = "pcre2.h", library = "pcre2-8" }, -- the JSON Schema validator's patterns (ECMA-262 look-aheads)
}
-- Built by the Makefile's rock-install target, which compiles the core
-- straight into luarocks' directories: the checkout is left as it was (the
-- builtin type compiled src/*.o and eventapi/core.so inside it). The build
-- pass is skipped; compiling is part of the install pass.
build = {
  type = "make",
  build_pass = false,
  install_target = "rock-install",
  variables = {
    CFLAGS = "$(CFLAGS)", LIBFLAG = "$(LIBFLAG)", LUA_INCDIR = "$(LUA_INCDIR)",
    CURL_INCDIR = "$(CURL_INCDIR)", CURL_LIBDIR = "$(CURL_LIBDIR)",
    PCRE2_INCDIR = "$(PCRE2_INCDIR)", PCRE2_LIBDIR = "$(PCRE2_LIBDIR)",
    ROCK_LUADIR = "$(LUADIR)", ROCK_LIBDIR = "$(LIBDIR)", ROCK_BINDIR = "$(BINDIR)",
  },
}
