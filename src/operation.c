/* eventapi.core operations: an operation row of a service table (plain Lua
 * data, see losant.lua) compiled once into a spec userdata, and bound per
 * client into a callable operation userdata.
 *
 * core.operation(row, params) compiles a row (compile.c). core.binding(...) holds
 * what a client's calls share; core.bind(spec, binding, row) is what
 * `client.event.get` is: `__call(params [, callback])` returns a promise.
 *
 * The fast path (a plain row, a client with no hooks, retries or dry run, no
 * callback, no per-call headers) checks the params, builds the URL and body
 * and starts the transfer here; a 2xx JSON answer is decoded from curl's
 * buffer in transfer.c. Everything else (failures, service hooks, retries) goes
 * through the client's Lua functions, as the row's Lua call would.
 *
 * This file: bindings, bound operations and their calls, the caller's
 * location; compile.c compiles rows, build.c builds requests. */
#include "operation.h"

/* ---- bindings and bound operations ---- */

/* core.binding(config, url, head_size, respond, call) -> binding: what a client's
 * operations share: respond(res) maps a raw response (res.req = {method, url,
 * location, op}) to the call's value; call(row, params, cb) is the Lua call. */
static int l_binding(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    luaL_checkstring(L, 2);
    lua_Integer head = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    luaL_checktype(L, 5, LUA_TFUNCTION);
    binding *b = lua_newuserdatauv(L, sizeof *b, 4);
    b->fast = 0;
    b->decode = 0;
    b->head_size = head;
    luaL_setmetatable(L, EVENTAPI_BINDING);
    for (int i = 1; i <= 4; i++) {
        lua_pushvalue(L, i <= 2 ? i : i + 1); /* config, url, respond, call */
        lua_setiuservalue(L, -2, i);
    }
    return 1;
}

/* core.binding_set(binding, fast, decode): whether calls may take the C path, and
 * whether a 2xx answer is decoded there (a service with no unwrap). */
static int l_binding_set(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    b->fast = lua_toboolean(L, 2);
    b->decode = lua_toboolean(L, 3);
    return 0;
}

/* core.bind(spec, binding, row) -> operation: the callable of one client's operation. */
static int l_bind(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_SPEC);
    luaL_checkudata(L, 2, EVENTAPI_BINDING);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_newuserdatauv(L, 1, 3);
    luaL_setmetatable(L, EVENTAPI_OPERATION);
    for (int i = 1; i <= 3; i++) {
        lua_pushvalue(L, i);
        lua_setiuservalue(L, -2, i);
    }
    return 1;
}

/* Calls the client's Lua call(row, params, cb [, failure]) with the operation
 * at 1, the params and callback at 2 and 3, and the failure at 4 when the
 * core's build of this call failed already (failed: the call is then
 * rejected with it, not built again); returns its promise. */
static int slow_call(lua_State *L, int failed) {
    lua_settop(L, failed ? 4 : 3);
    if (!failed) lua_pushnil(L); /* 4 */
    lua_getiuservalue(L, 1, 2); /* 5: binding */
    lua_getiuservalue(L, 5, 4); /* 6: call */
    lua_getiuservalue(L, 1, 3); /* row */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    if (failed) lua_pushvalue(L, 4);
    lua_call(L, 3 + failed, 1);
    return 1;
}

/* Writes "file:line" into out (cap bytes, cut to fit), without snprintf's
 * formatter: this runs on every call. */
static void write_location(char *out, size_t cap, const char *file, int line) {
    char digits[24], *d = digits + sizeof digits; /* written backwards */
    unsigned long v = line < 0 ? 0UL - (unsigned long)line : (unsigned long)line;
    *--d = '\0';
    do *--d = (char)('0' + v % 10); while ((v /= 10) > 0);
    if (line < 0) *--d = '-'; /* no line information: -1, as Lua writes it */
    size_t n = eventapi_copy(out, cap, file);
    if (n + 1 < cap) {
        out[n] = ':';
        eventapi_copy(out + n + 1, cap - n - 1, d);
    }
}

#define LIBRARY_DIR "eventapi.library_dir" /* registry: the directory of the library's Lua modules */

/* Whether source names one of the library's own chunks: a file right in
 * dir (dir_len bytes, ending in '/'), not in a directory below it. */
static int own_chunk(const char *source, const char *dir, size_t dir_len) {
    return dir && source[0] == '@' && strncmp(source + 1, dir, dir_len) == 0 && !strchr(source + 1 + dir_len, '/');
}

/* Writes the script's "file:line" that made the call (the first frame from
 * level 1 that is Lua code and not one of the library's own chunks, which
 * core.library_dir names) into out (empty when there is none within 8
 * levels). Leaves the stack as it was. */
static void call_location(lua_State *L, char *out, size_t cap) {
    lua_Debug ar;
    out[0] = '\0';
    lua_getfield(L, LUA_REGISTRYINDEX, LIBRARY_DIR);
    size_t dir_len = 0;
    const char *dir = lua_tolstring(L, -1, &dir_len);
    for (int level = 1; level <= 8 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || strcmp(ar.what, "C") == 0 || own_chunk(ar.source, dir, dir_len)) continue;
        write_location(out, cap, ar.short_src, ar.currentline);
        break;
    }
    lua_pop(L, 1);
}

/* core.library_dir(source): the library's modules are the files in the directory of
 * source (a chunk's "@path" source, as debug.getinfo gives it); frames of them are
 * skipped when a call's location is found. */
static int l_library_dir(lua_State *L) {
    size_t len;
    const char *source = luaL_checklstring(L, 1, &len);
    const char *slash = strrchr(source, '/');
    if (source[0] != '@' || !slash) return eventapi_error(L, "InvalidParams", "core.library_dir: not a file's source");
    lua_pushlstring(L, source + 1, (size_t)(slash - source)); /* the directory with its '/' */
    lua_setfield(L, LUA_REGISTRYINDEX, LIBRARY_DIR);
    return 0;
}

/* core.location() -> "file:line" of the script code that made the library call running
 * now (the first Lua frame that is not one of the library's chunks), or nil. */
static int l_location(lua_State *L) {
    char location[128];
    call_location(L, location, sizeof location);
    if (location[0]) lua_pushstring(L, location);
    else lua_pushnil(L);
    return 1;
}

/* protected part of op_call: builds the request of the operation at 1 with the
 * params at 2 and starts it; returns its promise, or nothing when the call
 * needs the Lua path (header lines, too large a head). */
static int fast_call(lua_State *L) {
    lua_getiuservalue(L, 1, 1); /* 3: spec */
    lua_getiuservalue(L, 1, 2); /* 4: binding */
    spec *s = lua_touserdata(L, 3);
    binding *bd = lua_touserdata(L, 4);
    lua_getiuservalue(L, 4, 1); /* 5: config */
    lua_getiuservalue(L, 4, 2); /* 6: base url */
    eventapi_buf url, body;
    eventapi_buf_init(L, &url);  /* 7 */
    eventapi_buf_init(L, &body); /* 8 */
    build(L, s, 3, 2, 6, &url, &body); /* 9: data, 10: header lines */
    if (!lua_isnil(L, 10)) return 0;
    if ((lua_Integer)url.len + bd->head_size > EVENTAPI_MAX_HEAD) return 0;
    char location[128];
    call_location(L, location, sizeof location);
    eventapi_start(L, 5, s->method, url.data, body.len ? body.data : NULL, body.len, 0, 1, bd, bd->decode, location);
    return 1;
}

/* operation(params [, callback]) -> promise: checks the params, sends the request. */
static int op_call(lua_State *L) {
    lua_settop(L, 3); /* the operation, params, callback */
    lua_getiuservalue(L, 1, 1);
    lua_getiuservalue(L, 1, 2);
    spec *s = lua_touserdata(L, -2);
    binding *bd = lua_touserdata(L, -1);
    lua_pop(L, 2);
    int table = lua_istable(L, 2);
    if (!bd->fast || !s->plain || !lua_isnil(L, 3) || !(table || lua_isnil(L, 2))) return slow_call(L, 0);
    if (table) {
        if (lua_getfield(L, 2, "headers") != LUA_TNIL) return slow_call(L, 0);
        lua_pop(L, 1);
    } else {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(2)); /* fast_call, made once */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    int rc = lua_pcall(L, 2, 1, 0);
    if (rc == LUA_OK && !lua_isnil(L, -1)) return 1;
    if (rc != LUA_OK) { /* invalid params (or out of memory): the Lua path rejects the call with it */
        lua_settop(L, 4); /* the error is at 4 */
        return slow_call(L, 1);
    }
    lua_settop(L, 3); /* header lines or too long a head: the Lua path sends it */
    return slow_call(L, 0);
}

/* operation.<field>: the row's name, method, path, params, returns, pages or scopes. */
static int op_index(lua_State *L) {
    static const char *const FIELDS[] = {"name", "method", "path", "params", "returns", "pages", "scopes", NULL};
    luaL_checkudata(L, 1, EVENTAPI_OPERATION);
    const char *k = lua_tostring(L, 2);
    if (!k || find(FIELDS, k) < 0) return 0;
    lua_getiuservalue(L, 1, 3);
    lua_getfield(L, -1, k);
    return 1;
}

/* tostring(operation) -> "eventapi.Operation: event.get". */
static int op_tostring(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_OPERATION);
    lua_getiuservalue(L, 1, 1);
    spec *s = lua_touserdata(L, -1);
    lua_pushfstring(L, "%s: %s", EVENTAPI_OPERATION, s->name);
    return 1;
}

/* core.cancel_binding(binding [, message]) -> n: ends the binding's transfers in flight
 * (each answers {error="Closed"} through the binding's respond). */
static int l_cancel_binding(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    const char *message = luaL_optstring(L, 2, "the client was closed with this request in flight");
    lua_pushinteger(L, eventapi_cancel_owner(L, eventapi_loop(L), b, message));
    return 1;
}

/* core.in_flight(binding) -> the number of the binding's transfers in flight. */
static int l_in_flight(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    lua_pushinteger(L, eventapi_count_owner(eventapi_loop(L), b));
    return 1;
}

/* core.is_operation(v) -> true for a bound operation (what client.event.get is). */
static int l_is_operation(lua_State *L) {
    lua_pushboolean(L, luaL_testudata(L, 1, EVENTAPI_OPERATION) != NULL);
    return 1;
}

/* Registers the operation functions into the table on top (the loop is below it). */
int eventapi_open_operation(lua_State *L) {
    static const luaL_Reg op_meta[] = {{"__call", op_call}, {"__index", op_index}, {"__tostring", op_tostring},
                                       {NULL, NULL}};
    static const luaL_Reg fns[] = {{"binding", l_binding},
                                   {"binding_set", l_binding_set}, {"bind", l_bind},
                                   {"cancel_binding", l_cancel_binding}, {"in_flight", l_in_flight},
                                   {"is_operation", l_is_operation}, {"location", l_location},
                                   {"library_dir", l_library_dir},
                                   {NULL, NULL}};
    luaL_newmetatable(L, EVENTAPI_BINDING);
    lua_pop(L, 1);
    luaL_newmetatable(L, EVENTAPI_OPERATION);
    lua_pushvalue(L, -3); /* upvalues: the loop, and fast_call (which needs the loop too) */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, fast_call, 1);
    luaL_setfuncs(L, op_meta, 2);
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
    eventapi_open_compile(L);
    eventapi_open_build(L);
    return 0;
}
