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
-- Only the library is checked: Debian keeps curl/curl.h under a multiarch include dir
-- that the compiler searches by itself but luarocks does not.
external_dependencies = { CURL = { library = "curl" } }
build = {
  type = "builtin",
  modules = {
    ["eventapi.core"] = {
      sources = { "src/core.c", "src/encode.c", "src/json.c", "src/loop.c", "src/promise.c" },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      defines = { "_POSIX_C_SOURCE=200809L" },
    },
    ["eventapi"] = "lua/eventapi/init.lua",
    ["eventapi.client"] = "lua/eventapi/client.lua",
    ["eventapi.errors"] = "lua/eventapi/errors.lua",
    ["eventapi.losant"] = "lua/eventapi/losant.lua",
    ["eventapi.connectdaily"] = "lua/eventapi/connectdaily.lua",
    ["eventapi.monterosa"] = "lua/eventapi/monterosa.lua",
    ["eventapi.pages"] = "lua/eventapi/pages.lua",
    ["eventapi.progress"] = "lua/eventapi/progress.lua",
    ["eventapi.workflow"] = "lua/eventapi/workflow.lua",
    ["eventapi.cli"] = "lua/eventapi/cli.lua",
  },
  install = { bin = { eventapi = "bin/eventapi" } },
}
