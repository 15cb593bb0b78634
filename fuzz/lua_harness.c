/* libFuzzer harness shared by the Lua-driven targets: one embedded Lua 5.4
 * state with eventapi.core linked in (the instrumented sources of src/) and the Lua
 * layer from lua/. The target's script (FUZZ_SCRIPT, a path given at build
 * time) returns a function; every input is passed to it as one string. The
 * function raises only when an invariant is broken: the harness then prints
 * the message and aborts, which libFuzzer reports as a crash. */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_SCRIPT
#error "build with -DFUZZ_SCRIPT='\"/path/to/target.lua\"'"
#endif
#ifndef FUZZ_ROOT
#error "build with -DFUZZ_ROOT='\"/path/to/checkout\"'"
#endif

int luaopen_eventapi_core(lua_State *L);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *state;
static int target_ref = LUA_NOREF;

/* Message handler: the error with a traceback (strings) or as it is (error objects via tostring). */
static int traceback(lua_State *L) {
    const char *msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Prints why and aborts: a broken invariant or a harness failure. */
static void die(const char *what, const char *why) {
    fprintf(stderr, "fuzz: %s: %s\n", what, why ? why : "(no message)");
    fflush(stderr);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    state = luaL_newstate();
    if (!state) die("init", "luaL_newstate failed (out of memory)");
    luaL_openlibs(state);
    lua_pushcfunction(state, traceback);
    /* package.path: the library and the fuzz scripts; eventapi.core is preloaded (linked in). */
    if (luaL_dostring(state, "package.path = '" FUZZ_ROOT "/lua/?.lua;" FUZZ_ROOT "/lua/?/init.lua;" FUZZ_ROOT
                             "/fuzz/?.lua;' .. package.path")
        != LUA_OK)
        die("init", lua_tostring(state, -1));
    luaL_getsubtable(state, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(state, luaopen_eventapi_core);
    lua_setfield(state, -2, "eventapi.core");
    lua_pop(state, 1);
    if (luaL_loadfile(state, FUZZ_SCRIPT) != LUA_OK) die("load " FUZZ_SCRIPT, lua_tostring(state, -1));
    if (lua_pcall(state, 0, 1, 1) != LUA_OK) die("run " FUZZ_SCRIPT, lua_tostring(state, -1));
    if (!lua_isfunction(state, -1)) die(FUZZ_SCRIPT, "the script must return a function");
    target_ref = luaL_ref(state, LUA_REGISTRYINDEX);
    lua_settop(state, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = state;
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, target_ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 1) != LUA_OK) die("invariant broken", lua_tostring(L, -1));
    lua_settop(L, 0);
    /* A full collection after every input: what the input allocated is freed now, so libFuzzer's
     * malloc/free balance (its cue for a leak check) points at real leaks, not at pending garbage. */
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
