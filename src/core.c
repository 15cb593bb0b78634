/* eventapi.core: the module table. Stack discipline of luaopen: the loop
 * userdata sits just below the module table while the parts register, so
 * they can capture it as upvalue 1. */
#include "eventapi.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* Pushes an eventapi.Error {type=, message=} with the message formatted from ap
 * (a plain table until errors.lua registered the metatable). */
static void push_errorv(lua_State *L, const char *type, const char *fmt, va_list ap) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_pushvfstring(L, fmt, ap);
    lua_setfield(L, -2, "message");
    if (lua_getfield(L, LUA_REGISTRYINDEX, EVENTAPI_ERROR) == LUA_TTABLE) lua_setmetatable(L, -2);
    else lua_pop(L, 1);
}

/* Pushes an eventapi.Error {type=, message=}. */
void eventapi_push_error(lua_State *L, const char *type, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    push_errorv(L, type, fmt, ap);
    va_end(ap);
}

/* Raises an eventapi.Error {type=, message=}; never returns. */
int eventapi_error(lua_State *L, const char *type, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    push_errorv(L, type, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

/* Copies src into dst (cap > 0 bytes), cut to fit and always ended; returns
 * the length copied (snprintf "%s" without the formatter on the request path). */
size_t eventapi_copy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

/* core.error_metatable(mt): the metatable of eventapi.Error, for the errors the core makes. */
static int l_error_metatable(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, EVENTAPI_ERROR);
    return 0;
}

/* core.now() -> monotonic seconds (a float), for durations and rates. */
static int l_now(lua_State *L) {
    lua_pushnumber(L, eventapi_now());
    return 1;
}

/* core.new_list(n) -> an empty table with room for n items and one field
 * (map's results: made at their size, never grown in steps). */
static int l_new_list(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    lua_createtable(L, n > 0 && n <= (1 << 26) ? (int)n : 0, 1);
    return 1;
}

/* core.isatty(fd) -> true when the file descriptor is a terminal (stderr is 2). */
static int l_isatty(lua_State *L) {
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)) == 1);
    return 1;
}

/* luaopen_eventapi_core: require "eventapi.core" -> the module table. */
int luaopen_eventapi_core(lua_State *L) {
    static int curl_ready;
    if (!curl_ready) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); /* fails when it cannot allocate (or set up TLS) */
        if (rc != CURLE_OK) return eventapi_error(L, "OutOfMemory", "curl_global_init failed: %s", curl_easy_strerror(rc));
        curl_ready = 1;
    }
    lua_newtable(L);
    eventapi_open_loop(L);    /* stack: loop, module */
    eventapi_open_promise(L);
    eventapi_open_await(L);
    eventapi_open_json(L);
    eventapi_open_schema(L);
    eventapi_open_encode(L);
    eventapi_open_operation(L);
    static const luaL_Reg fns[] = {{"now", l_now}, {"isatty", l_isatty}, {"new_list", l_new_list},
                                     {"error_metatable", l_error_metatable}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    lua_pushliteral(L, EVENTAPI_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    lua_remove(L, -2);        /* the loop stays referenced by the registry and the upvalues */
    return 1;
}
