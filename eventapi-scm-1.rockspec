rockspec_format = "3.0"
package = "eventapi"
version = "scm-1"
source = { url = "git+https://example.invalid/eventapi.git" }
description = {
  summary = "Losant, Connect Daily and Monterosa event API clients and runbooks, with a C core over libcurl",
  detailed = "Many requests in flight on one thread, promises, callbacks and await, exact JSON numbers.",
  license = "MIT",
}
-- lua-cjson is not needed: the core has its own exact JSON codec (see README, design notes).
dependencies = { "lua >= 5.4" }
-- The C libraries: curl for the core; libmicrohttpd, jansson and SQLite for
-- eventapi-sandbox, the local server the runbooks are rehearsed against, which
-- the rock installs next to the eventapi command. Only curl's library is
-- checked: Debian keeps curl/curl.h under a multiarch include dir that the
-- compiler searches by itself but luarocks does not.
external_dependencies = {
  CURL = { library = "curl" },
  MICROHTTPD = { header = "microhttpd.h", library = "microhttpd" },
  JANSSON = { header = "jansson.h", library = "jansson" },
  SQLITE = { header = "sqlite3.h", library = "sqlite3" },
}
-- Built by the Makefile's rock-install target, which compiles the core and the
-- sandbox straight into luarocks' directories: the checkout is left as it was
-- (the builtin type compiled src/*.o and eventapi/core.so inside it). The
-- build pass is skipped; compiling is part of the install pass.
build = {
  type = "make",
  build_pass = false,
  install_target = "rock-install",
  variables = {
    CFLAGS = "$(CFLAGS)", LIBFLAG = "$(LIBFLAG)", LUA_INCDIR = "$(LUA_INCDIR)",
    CURL_INCDIR = "$(CURL_INCDIR)", CURL_LIBDIR = "$(CURL_LIBDIR)",
    MICROHTTPD_INCDIR = "$(MICROHTTPD_INCDIR)", MICROHTTPD_LIBDIR = "$(MICROHTTPD_LIBDIR)",
    JANSSON_INCDIR = "$(JANSSON_INCDIR)", JANSSON_LIBDIR = "$(JANSSON_LIBDIR)",
    SQLITE_INCDIR = "$(SQLITE_INCDIR)", SQLITE_LIBDIR = "$(SQLITE_LIBDIR)",
    ROCK_LUADIR = "$(LUADIR)", ROCK_LIBDIR = "$(LIBDIR)", ROCK_BINDIR = "$(BINDIR)",
  },
}
