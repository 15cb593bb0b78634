rockspec_format = "3.0"
package = "eventapi-sandbox"
version = "scm-1"
source = { url = "git+https://example.invalid/eventapi.git" }
description = {
  summary = "eventapi-sandbox: a local server that answers like the Losant, Connect Daily and Monterosa event APIs",
  detailed = "The server eventapi runbooks are rehearsed against (sandbox/README.md). A C program:"
    .. " it needs neither Lua nor the eventapi rock at run time.",
  license = "MIT",
}
dependencies = {}
-- The server's C libraries.
external_dependencies = {
  MICROHTTPD = { header = "microhttpd.h", library = "microhttpd" },
  JANSSON = { header = "jansson.h", library = "jansson" },
  SQLITE = { header = "sqlite3.h", library = "sqlite3" },
  PCRE2 = { header = "pcre2.h", library = "pcre2-8" }, -- the JSON Schema validator's patterns
}
-- Built by the Makefile's rock-install-sandbox target, which compiles the
-- server straight into luarocks' bin directory (the checkout is left as it
-- was); the build pass is skipped, as in eventapi-scm-1.rockspec.
build = {
  type = "make",
  build_pass = false,
  install_target = "rock-install-sandbox",
  variables = {
    CFLAGS = "$(CFLAGS)",
    MICROHTTPD_INCDIR = "$(MICROHTTPD_INCDIR)", MICROHTTPD_LIBDIR = "$(MICROHTTPD_LIBDIR)",
    JANSSON_INCDIR = "$(JANSSON_INCDIR)", JANSSON_LIBDIR = "$(JANSSON_LIBDIR)",
    SQLITE_INCDIR = "$(SQLITE_INCDIR)", SQLITE_LIBDIR = "$(SQLITE_LIBDIR)",
    PCRE2_INCDIR = "$(PCRE2_INCDIR)", PCRE2_LIBDIR = "$(PCRE2_LIBDIR)",
    ROCK_BINDIR = "$(BINDIR)",
  },
}
