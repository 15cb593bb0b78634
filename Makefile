# eventapi: Lua 5.4 library with a C core over libcurl, and its sandbox server.
# make demo | make test | make build | make sandbox | make man | make lint | make clean
# make install [PREFIX=/usr/local] [DESTDIR=] | make uninstall

LUA        ?= lua5.4
BUSTED     ?= $(LUA) /usr/bin/busted
PKG_CONFIG ?= pkg-config
CC         ?= cc
BUILD      ?= build

WARN      = -Wall -Wextra -Werror
OPT      ?= -O2 -g
CFLAGS_LUA = $(shell $(PKG_CONFIG) --cflags lua5.4 2>/dev/null)
CFLAGS_CURL = $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
LIBS_CURL = $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null)
# PCRE2 (8-bit): the JSON Schema validator's patterns (src/schema*.c)
CFLAGS_PCRE = $(shell $(PKG_CONFIG) --cflags libpcre2-8 2>/dev/null)
LIBS_PCRE = $(shell $(PKG_CONFIG) --libs libpcre2-8 2>/dev/null)
SB_CFLAGS = -Isrc $(shell $(PKG_CONFIG) --cflags libmicrohttpd jansson sqlite3 libpcre2-8 2>/dev/null)
SB_LIBS = $(shell $(PKG_CONFIG) --libs libmicrohttpd jansson sqlite3 libpcre2-8 2>/dev/null) -lpthread -lm
SANITIZE ?=

CORE_SRC = $(wildcard src/*.c)
CORE_HDR = $(wildcard src/*.h)
CORE_SO  = $(BUILD)/eventapi/core.so
# The sandbox links the library's JSON Schema validator (src/schema*.c, not
# its Lua face) and checks Losant bodies with it.
SCHEMA_SRC = $(filter-out src/schema_lua.c,$(wildcard src/schema*.c))
SB_SRC   = $(wildcard sandbox/*.c) $(SCHEMA_SRC)
SB_HDR   = $(wildcard sandbox/*.h) $(wildcard src/schema*.h)
SB_BIN   = $(BUILD)/eventapi-sandbox

# Debian packages the project builds, tests and demos with.
# (luarocks: spec/install_spec.lua installs the two rocks into temporary trees;
# locales: spec/client/json_spec.lua makes a comma locale with localedef)
DEB_PACKAGES = lua5.4 liblua5.4-dev lua-cjson lua-luv libcurl4-openssl-dev lua-busted \
               libmicrohttpd-dev libsqlite3-dev libjansson-dev pkg-config curl nginx openssl luarocks \
               locales libpcre2-dev json-schema-test-suite python3-jsonschema
# node and npm (the wire spec's official client) are looked for as commands:
# a node from elsewhere (nodesource's, which bundles npm) is fine as it is
DEB_COMMANDS = node:nodejs npm:npm

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(abspath $(BUILD))/?.so;;
export EVENTAPI_SANDBOX := $(abspath $(SB_BIN))
export EVENTAPI_BUILD := $(abspath $(BUILD))
# the official Losant client the wire spec replays calls through (node)
export EVENTAPI_LOSANT_REST := $(CURDIR)/build/losant-rest/node_modules

.PHONY: losant-rest losant-api schemas all build sandbox man embed test demo lint clean deps install uninstall rock-install rock-install-sandbox bench docs fuzz fuzz-regress soak mutate

all: build sandbox man embed

# The C host example (examples/embed/host.c): its own poll() loop drives eventapi.
EMBED_BIN = $(BUILD)/embed-host
embed: $(EMBED_BIN)
$(EMBED_BIN): examples/embed/host.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) -std=c99 $(SANITIZE) $(CFLAGS_LUA) -o $@ examples/embed/host.c $(LIBS_LUA) -lm

build: $(CORE_SO)

sandbox: $(SB_BIN)

$(CORE_SO): $(CORE_SRC) $(CORE_HDR) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC -shared $(SANITIZE) \
	    $(CFLAGS_LUA) $(CFLAGS_CURL) $(CFLAGS_PCRE) -o $@ $(CORE_SRC) $(LIBS_CURL) $(LIBS_PCRE) -lm

$(SB_BIN): $(SB_SRC) $(SB_HDR) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) -std=c99 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(SANITIZE) \
	    $(SB_CFLAGS) -o $@ $(SB_SRC) $(SB_LIBS)

# Fuzzing (not part of test): libFuzzer targets with ASan and UBSan, built with
# clang under FUZZ_BUILD. make fuzz runs each target FUZZ_SECONDS and prints a
# summary; make fuzz-regress replays the seed corpora and the committed crash
# inputs (fuzz/regress/<target>/) once. See fuzz/README.md.
FUZZ_CC      ?= $(shell command -v clang-14 2>/dev/null || echo clang)
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?= -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
LIBS_LUA = $(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null)
FUZZ_LUA     = path query json respond dates body schema brackets sse multipart
FUZZ_SB      = sandbox_request sandbox_query
FUZZ_TARGETS = $(FUZZ_LUA) $(FUZZ_SB)
FUZZ_BINS    = $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

$(addprefix $(FUZZ_BUILD)/,$(FUZZ_LUA)): $(FUZZ_BUILD)/%: fuzz/lua_harness.c fuzz/%.lua fuzz/fuzzlib.lua $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -std=c99 -D_POSIX_C_SOURCE=200809L -Isrc $(CFLAGS_LUA) $(CFLAGS_CURL) $(CFLAGS_PCRE) \
	    -DFUZZ_SCRIPT='"$(CURDIR)/fuzz/$*.lua"' -DFUZZ_ROOT='"$(CURDIR)"' \
	    -o $@ fuzz/lua_harness.c $(CORE_SRC) $(LIBS_LUA) $(LIBS_CURL) $(LIBS_PCRE) -lm

$(FUZZ_BUILD)/sandbox_request $(FUZZ_BUILD)/sandbox_query: fuzz/sandbox_fuzz.c $(SB_SRC) $(SB_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -std=c99 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Dmain=sandbox_main \
	    -DFUZZ_MODE=$(if $(findstring request,$@),1,2) -DFUZZ_SEED='"$(CURDIR)/examples/seed.json"' \
	    $(SB_CFLAGS) -o $@ fuzz/sandbox_fuzz.c $(filter-out sandbox/main.c,$(SB_SRC)) $(SB_LIBS)

fuzz: $(FUZZ_BINS)
	@sh fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-regress: $(FUZZ_BINS)
	@sh fuzz/run.sh regress $(FUZZ_BUILD) $(FUZZ_TARGETS)

# Soak (not part of test or CI): SOAK_REQUESTS (default 1,000,000) requests
# across the three services with 5% injected faults, RSS sampled every 10,000.
SOAK_REQUESTS ?= 1000000
soak: build sandbox
	SOAK_REQUESTS=$(SOAK_REQUESTS) $(LUA) tools/soak.lua

# Mutation testing (not part of test or CI; minutes): tools/mutate.lua plants
# each mutant of tools/mutants.lua, one at a time, in a scratch copy of the
# checkout (never in it), rebuilds what the mutant touches there, runs the
# mutant's own spec files and prints the killed, surviving, stale and broken
# mutants with the score; exit 1 below MUTATE_MIN (90) percent. MUTANTS=a,b
# runs a subset, MUTATE_FULL=1 runs the whole suite on what a mutant's specs
# miss, MUTATE_LIST=1 lists the mutants (see the head of tools/mutate.lua).
mutate:
	$(LUA) tools/mutate.lua

# Installs the Debian packages that are missing (needs root or sudo).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@missing=""; for c in $(DEB_COMMANDS); do \
	  command -v $${c%%:*} >/dev/null 2>&1 || missing="$$missing $${c##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing \
	    || echo "deps: could not install$$missing: the wire spec will be pending"; \
	fi

# deps first, then a fresh make for the build: its pkg-config flags see the
# -dev packages deps has just installed, also under make -j.
test: deps
	@$(MAKE) --no-print-directory build sandbox embed
	@$(MAKE) --no-print-directory losant-rest || echo "make test: losant-rest not installed (npm unreachable?): the wire spec is pending"
	$(BUSTED) --cpath='$(abspath $(BUILD))/?.so' spec

demo: deps
	@$(MAKE) --no-print-directory build sandbox
	@sh examples/demo.sh $(SB_BIN)

# Benchmarks (not part of test): installs nginx, node, losant-rest when missing,
# builds, runs every peer and workload, prints one table. QUICK=1 for a fast check.
bench:
	$(MAKE) deps build sandbox
	$(MAKE) -C bench EVENTAPI_BUILD=$(abspath $(BUILD))

# The API reference, generated from the doc comments and the operation tables.
docs:
	$(LUA) tools/gendocs.lua > docs/API.md.tmp && mv docs/API.md.tmp docs/API.md

lint:
	luacheck lua spec examples bench
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --suppress=missingIncludeSystem $(CFLAGS_LUA) src sandbox

# Man pages of the two commands: eventapi.1 from the tables `eventapi --help`
# prints (lua/eventapi/cli.lua), eventapi-sandbox.1 from the sandbox's usage
# line and the flag table of sandbox/README.md (tools/genman.lua).
MAN_PAGES = $(BUILD)/man/eventapi.1 $(BUILD)/man/eventapi-sandbox.1
LUA_MODULES = $(wildcard lua/eventapi/*.lua)
# The Losant rows, one module per resource (generated by make losant-api)
LOSANT_API_MODULES = $(wildcard lua/eventapi/losant_api/*.lua)
# Losant's published request schemas (with their license), read by the library's dry runs and validate
SCHEMA_FILES = $(wildcard lua/eventapi/schemas/losant/*.json) lua/eventapi/schemas/losant/LICENSE

# The Losant rows (lua/eventapi/losant_api*.lua) and the schemas they name,
# generated from the official client's definitions: losant-rest from npm,
# installed into $(LOSANT_REST_DIR) (tools/gen_losant.lua), then the
# sandbox's copy of the schemas. spec/losant/generated_spec.lua checks the
# committed files are what this writes.
LOSANT_REST_DIR ?= $(CURDIR)/build/losant-rest
LOSANT_REST = $(LOSANT_REST_DIR)/node_modules/losant-rest
losant-rest: $(LOSANT_REST)/package.json
$(LOSANT_REST)/package.json:
	@mkdir -p $(LOSANT_REST_DIR)
	cp bench/node/package.json bench/node/package-lock.json $(LOSANT_REST_DIR)/ # the versions the bench pins
	cd $(LOSANT_REST_DIR) && npm ci --no-audit --no-fund --loglevel=error
losant-api: build $(LOSANT_REST)/package.json
	rm -f lua/eventapi/losant_api/*.lua lua/eventapi/schemas/losant/*.json
	mkdir -p lua/eventapi/losant_api
	LUA_CPATH='$(abspath $(BUILD))/?.so' $(LUA) tools/gen_losant.lua $(LOSANT_REST) .
	$(MAKE) schemas
	LUA_PATH='lua/?.lua;;' LUA_CPATH='$(abspath $(BUILD))/?.so' $(LUA) tools/gen_sandbox_actions.lua > sandbox/losant_actions.c.tmp && mv sandbox/losant_actions.c.tmp sandbox/losant_actions.c

# sandbox/losant_schemas.c: the same schemas as C strings (generated, committed)
schemas:
	$(LUA) tools/embed_schemas.lua lua/eventapi/schemas/losant > sandbox/losant_schemas.c.tmp
	mv sandbox/losant_schemas.c.tmp sandbox/losant_schemas.c

man: $(MAN_PAGES)

$(BUILD)/man/eventapi.1: tools/genman.lua $(LUA_MODULES) $(CORE_SO)
	@mkdir -p $(dir $@)
	$(LUA) tools/genman.lua eventapi > $@.tmp && mv $@.tmp $@

$(BUILD)/man/eventapi-sandbox.1: tools/genman.lua sandbox/README.md $(SB_BIN) $(CORE_SO)
	@mkdir -p $(dir $@)
	$(LUA) tools/genman.lua eventapi-sandbox $(SB_BIN) sandbox/README.md > $@.tmp && mv $@.tmp $@

# Installs under PREFIX (staged under DESTDIR when set): the Lua modules in
# share/lua/5.4/eventapi and the core in lib/lua/5.4/eventapi (the directories
# Debian's lua5.4 searches by default for PREFIX=/usr/local), bin/eventapi
# (which finds the modules of its own prefix: see its header),
# bin/eventapi-sandbox, and the man pages in share/man/man1. A previous
# install's modules are replaced, not merged. make uninstall removes it all.
PREFIX ?= /usr/local
LUA_CMOD_DIR = $(DESTDIR)$(PREFIX)/lib/lua/5.4/eventapi
LUA_LMOD_DIR = $(DESTDIR)$(PREFIX)/share/lua/5.4/eventapi
BIN_DIR      = $(DESTDIR)$(PREFIX)/bin
MAN1_DIR     = $(DESTDIR)$(PREFIX)/share/man/man1
COMPLETION_DIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
INSTALLED_FILES = $(BIN_DIR)/eventapi $(BIN_DIR)/eventapi-sandbox $(MAN1_DIR)/eventapi.1 $(MAN1_DIR)/eventapi-sandbox.1 \
                  $(COMPLETION_DIR)/eventapi

install: build sandbox man
	rm -rf $(LUA_CMOD_DIR) $(LUA_LMOD_DIR)
	install -d $(LUA_CMOD_DIR) $(LUA_LMOD_DIR) $(BIN_DIR) $(MAN1_DIR)
	install -m 0755 $(CORE_SO) $(LUA_CMOD_DIR)/core.so
	install -m 0644 $(LUA_MODULES) $(LUA_LMOD_DIR)/
	install -d $(LUA_LMOD_DIR)/losant_api
	install -m 0644 $(LOSANT_API_MODULES) $(LUA_LMOD_DIR)/losant_api/
	install -d $(LUA_LMOD_DIR)/schemas/losant
	install -m 0644 $(SCHEMA_FILES) $(LUA_LMOD_DIR)/schemas/losant/
	install -m 0755 bin/eventapi $(BIN_DIR)/eventapi
	install -m 0755 $(SB_BIN) $(BIN_DIR)/eventapi-sandbox
	install -m 0644 $(MAN_PAGES) $(MAN1_DIR)/
	install -d $(COMPLETION_DIR)
	LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua' LUA_CPATH='$(abspath $(BUILD))/?.so' \
	    $(LUA) -e 'os.exit(require("eventapi.cli").main({"completion", "bash"}), true)' > $(COMPLETION_DIR)/eventapi

uninstall:
	rm -rf $(LUA_CMOD_DIR) $(LUA_LMOD_DIR)
	rm -f $(INSTALLED_FILES)

# The two rocks' builds (build type make: luarocks runs the install target with
# its directories and flags). eventapi-scm-1.rockspec runs rock-install: the
# core, the Lua modules and bin/eventapi, needing only Lua 5.4 and curl.
# eventapi-sandbox-scm-1.rockspec runs rock-install-sandbox: the server alone,
# with libmicrohttpd, jansson and SQLite. Each program is compiled straight
# into luarocks' directories in one compiler call, so a `luarocks make` in the
# checkout writes nothing in it (no objects, no eventapi/core.so). Warnings
# are not errors here: compilers vary.
ROCK_CFLAGS = $(CFLAGS) -std=c99 -D_POSIX_C_SOURCE=200809L
ROCK_ONLY = { echo "$@ is run by luarocks (luarocks --lua-version 5.4 make $(1)); use make install" >&2; exit 2; }
rock-install:
	@test -n "$(ROCK_LUADIR)" -a -n "$(ROCK_LIBDIR)" -a -n "$(ROCK_BINDIR)" || $(call ROCK_ONLY,eventapi-scm-1.rockspec)
	install -d "$(ROCK_LUADIR)/eventapi" "$(ROCK_LIBDIR)/eventapi" "$(ROCK_BINDIR)"
	$(CC) $(ROCK_CFLAGS) -I"$(LUA_INCDIR)" -I"$(CURL_INCDIR)" -I"$(PCRE2_INCDIR)" $(LIBFLAG) \
	    -o "$(ROCK_LIBDIR)/eventapi/core.so" $(CORE_SRC) -L"$(CURL_LIBDIR)" -L"$(PCRE2_LIBDIR)" -lcurl -lpcre2-8 -lm
	install -m 0644 $(LUA_MODULES) "$(ROCK_LUADIR)/eventapi/"
	install -d "$(ROCK_LUADIR)/eventapi/losant_api"
	install -m 0644 $(LOSANT_API_MODULES) "$(ROCK_LUADIR)/eventapi/losant_api/"
	install -d "$(ROCK_LUADIR)/eventapi/schemas/losant"
	install -m 0644 $(SCHEMA_FILES) "$(ROCK_LUADIR)/eventapi/schemas/losant/"
	install -m 0755 bin/eventapi "$(ROCK_BINDIR)/eventapi"

rock-install-sandbox:
	@test -n "$(ROCK_BINDIR)" || $(call ROCK_ONLY,eventapi-sandbox-scm-1.rockspec)
	install -d "$(ROCK_BINDIR)"
	$(CC) $(ROCK_CFLAGS) -D_DEFAULT_SOURCE -Isrc -I"$(MICROHTTPD_INCDIR)" -I"$(JANSSON_INCDIR)" -I"$(SQLITE_INCDIR)" \
	    -I"$(PCRE2_INCDIR)" -o "$(ROCK_BINDIR)/eventapi-sandbox" $(SB_SRC) \
	    -L"$(MICROHTTPD_LIBDIR)" -L"$(JANSSON_LIBDIR)" -L"$(SQLITE_LIBDIR)" -L"$(PCRE2_LIBDIR)" \
	    -lmicrohttpd -ljansson -lsqlite3 -lpcre2-8 -lpthread -lm

# Removes what any build left: the build directories (make, check-asan, fuzz),
# and objects, libraries and packed rocks an older or foreign build dropped
# in the checkout (luarocks' builtin build wrote src/*.o and eventapi/core.so).
clean:
	rm -rf $(sort $(BUILD) build $(ASAN_BUILD) build-asan $(FUZZ_BUILD) build-fuzz) eventapi
	rm -f src/*.o sandbox/*.o fuzz/*.o tools/*.o *.so src/*.so sandbox/*.so *.rock

# ---- reliability checks (docs/RELIABILITY.md) ----
VALGRIND   ?= valgrind
VG_FLAGS    = -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
              --show-leak-kinds=definite --suppressions=$(CURDIR)/.ci/valgrind.supp
CHECK_LOGS ?= /tmp/eventapi-check-logs
# busted re-executes itself for .busted's `lua` unless --ignore-lua, and puts
# .busted's cpath first: both are pinned so the checked build is the one loaded.
BUSTED_RUN  = $(LUA) /usr/bin/busted --ignore-lua --cpath='$(abspath $(BUILD))/?.so' spec
ASAN_BUILD ?= build-asan
ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so 2>/dev/null)

.PHONY: check-valgrind check-asan check-oom check-oom-sandbox
OOMTEST = $(BUILD)/oomtest
OOM_STEP ?= 1

$(OOMTEST): tools/oomtest.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(WARN) -std=c99 $(SANITIZE) $(CFLAGS_LUA) -o $@ tools/oomtest.c \
	    $(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null) -lm

# Out-of-memory torture: every spec/oom script with the Nth Lua allocation
# failing, N = 1, 1+OOM_STEP, ... until the script passes untouched.
check-oom: build sandbox $(OOMTEST) check-oom-sandbox
	sh tools/check-oom $(OOMTEST) $(SB_BIN) -step $(OOM_STEP)

# Out-of-memory torture of the sandbox's request handling: the fuzz harness
# built with the sandbox's allocation calls renamed to tools/sandbox_oom.c's
# failing ones (jansson's and SQLite's allocators too), under ASan/LSan.
SB_OOM      = $(BUILD)/sandbox_oom
SB_OOM_SAN  = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SB_OOM_DEFS = -Dmalloc=oom_malloc -Dcalloc=oom_calloc -Drealloc=oom_realloc -Dstrdup=oom_strdup -DSANDBOX_OOM \
              -Dmain=sandbox_main -DFUZZ_MODE=1 -DFUZZ_SEED='"$(CURDIR)/examples/seed.json"'
$(SB_OOM): tools/sandbox_oom.c fuzz/sandbox_fuzz.c $(SB_SRC) $(SB_HDR) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(SB_OOM_SAN) $(WARN) -std=c99 -D_DEFAULT_SOURCE $(SB_CFLAGS) -c -o $@.o tools/sandbox_oom.c
	$(CC) $(SB_OOM_SAN) $(WARN) -std=c99 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(SB_OOM_DEFS) $(SB_CFLAGS) \
	    -o $@ $@.o fuzz/sandbox_fuzz.c $(filter-out sandbox/main.c,$(SB_SRC)) $(SB_LIBS)

check-oom-sandbox: $(SB_OOM)
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(SB_OOM) fuzz/corpus/sandbox_request/*

# The spec suite with lua5.4 (the library: core.so, libcurl) under memcheck.
# VALGRIND_SANDBOX=1 also runs every sandbox the specs start under it (about
# four times longer: a sandbox under valgrind takes seconds to start; the
# sandbox's own memory is checked by check-asan's LeakSanitizer every run).
VALGRIND_SANDBOX ?=
SANDBOX_UNDER_VALGRIND = $(if $(VALGRIND_SANDBOX),$(VALGRIND) $(VG_FLAGS) --log-file=$(CHECK_LOGS)/valgrind/sandbox.%p.log)
check-valgrind: build sandbox embed
	@rm -rf $(CHECK_LOGS)/valgrind && mkdir -p $(CHECK_LOGS)/valgrind
	EVENTAPI_SANDBOX_WRAPPER="$(SANDBOX_UNDER_VALGRIND)" \
	EVENTAPI_TIME_SCALE=20 \
	    $(VALGRIND) $(VG_FLAGS) --log-file=$(CHECK_LOGS)/valgrind/lua.%p.log $(BUSTED_RUN); \
	    st=$$?; sh tools/check-logs $(CHECK_LOGS)/valgrind check-valgrind && exit $$st

# The C extension and the sandbox built with ASan and UBSan (in ASAN_BUILD), the
# suite run on them; the uninstrumented lua5.4 gets the ASan runtime preloaded
# (no leak detection there: the preload reaches the curl and sh processes the
# specs start; leaks in core.so are check-valgrind's); the sandbox checks leaks.
check-asan:
	$(MAKE) BUILD=$(ASAN_BUILD) OPT="-O1 -g" SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build sandbox embed
	@rm -rf $(CHECK_LOGS)/asan && mkdir -p $(CHECK_LOGS)/asan $(ASAN_BUILD)/bin
	@# the command-line tools the specs start run without the preload (curl hangs under it)
	@for tool in curl nginx openssl; do \
	  path=$$(PATH="$$PATH:/usr/sbin:/sbin" command -v $$tool) || continue; \
	  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$$@"\n' "$$path" > $(ASAN_BUILD)/bin/$$tool; \
	  chmod +x $(ASAN_BUILD)/bin/$$tool; \
	done
	PATH="$(abspath $(ASAN_BUILD))/bin:$$PATH" LD_PRELOAD=$(ASAN_LIB) \
	ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:log_path=$(CHECK_LOGS)/asan/lua \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(CHECK_LOGS)/asan/ubsan \
	EVENTAPI_SANDBOX=$(abspath $(ASAN_BUILD))/eventapi-sandbox EVENTAPI_BUILD=$(abspath $(ASAN_BUILD)) \
	LUA_CPATH='$(abspath $(ASAN_BUILD))/?.so;;' EVENTAPI_EMBED_HOST=$(abspath $(ASAN_BUILD))/embed-host \
	EVENTAPI_SANDBOX_WRAPPER="env LD_PRELOAD= ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:log_path=$(CHECK_LOGS)/asan/sandbox" \
	EVENTAPI_TIME_SCALE=4 \
	    $(LUA) /usr/bin/busted --ignore-lua --cpath='$(abspath $(ASAN_BUILD))/?.so' spec; \
	    st=$$?; sh tools/check-logs $(CHECK_LOGS)/asan check-asan && exit $$st
