/* eventapi.core operations: an operation row of a service table (plain Lua
 * data, see losant.lua) compiled once into a spec userdata, and bound per
 * client into a callable operation userdata.
 *
 * core.operation(row, params) compiles a row (compile.c). core.binding(...) holds
 * what a client's calls share; core.bind(spec, binding, row) is what
 * `client.event.get` is: `__call(params [, callback])` returns a promise.
 *
 * One path: every call is checked and built once here (build.c; a row's Lua
 * path, check and body_of functions are called from there). A call with no
 * policy (the client is not closed, has no hooks, retries or dry run, read
 * from the client at the call; no callback, no per-call headers) starts at
 * once, and a 2xx JSON answer is decoded from curl's buffer in transfer.c.
 * Otherwise the built request, or the failure to build it, goes to the
 * client's one Lua function for its policy. Answers other than a bound 2xx
 * go to the binding's respond, the same mapping the Lua path uses.
 *
 * This file: bindings, bound operations and their calls, the caller's
 * location; compile.c compiles rows, build.c builds requests. */
#include "operation.h"

/* ---- bindings and bound operations ---- */

/* core.binding(config, url, head_size, respond, call, client, decode) -> binding: what a
 * client's operations share: respond(res) maps a raw response (res.req = {method, url,
 * location, op}) to the call's value; call(row, params, cb, url, body, data, lines,
 * failure) is the client's policy (Lua) for a built request; client is read at each
 * call for its policy; decode: a 2xx answer is its JSON (the service has no unwrap). */
static int l_binding(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    luaL_checkstring(L, 2);
    lua_Integer head = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    luaL_checktype(L, 5, LUA_TFUNCTION);
    luaL_checktype(L, 6, LUA_TTABLE);
    binding *b = lua_newuserdatauv(L, sizeof *b, 5);
    b->decode = lua_toboolean(L, 7);
    b->head_size = head;
    luaL_setmetatable(L, EVENTAPI_BINDING);
    for (int i = 1; i <= 5; i++) {
        lua_pushvalue(L, i <= 2 ? i : i + 1); /* config, url, respond, call, client */
        lua_setiuservalue(L, -2, i);
    }
    return 1;
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

/* Whether the client at idx has a policy a call must go through (Lua): it is
 * closed, a dry run, validates, has retries or any hook. Read from the client's own
 * fields at every call: nothing is mirrored, so nothing can drift. */
static int has_policy(lua_State *L, int idx) {
    static const char *const FIELDS[] = {"closed", "_dry_run", "_retries", "_validate"};
    static const char *const HOOKS[] = {"request", "response", "retry"};
    int policy = 0;
    for (int i = 0; i < 4 && !policy; i++) {
        lua_pushstring(L, FIELDS[i]);
        policy = lua_toboolean(L, (lua_rawget(L, idx), -1));
        lua_pop(L, 1);
    }
    lua_pushliteral(L, "hooks");
    if (!policy && lua_rawget(L, idx) == LUA_TTABLE)
        for (int i = 0; i < 3 && !policy; i++) {
            lua_pushstring(L, HOOKS[i]);
            lua_rawget(L, -2);
            policy = lua_istable(L, -1) && lua_rawlen(L, -1) > 0;
            lua_pop(L, 1);
        }
    lua_pop(L, 1);
    return policy;
}

/* protected part of op_call: build_call(operation, params, direct) builds the
 * request of the operation once. direct (no policy, no callback, no per-call
 * headers): it starts here when it has no header lines and its head fits, and
 * the promise is returned. Otherwise returns nil, url, body, data, lines: the
 * built request, for the client's policy. Raises InvalidParams. */
static int build_call(lua_State *L) {
    lua_getiuservalue(L, 1, 1); /* 4: spec */
    lua_getiuservalue(L, 1, 2); /* 5: binding */
    spec *s = lua_touserdata(L, 4);
    binding *bd = lua_touserdata(L, 5);
    if (!lua_istable(L, 2))
        return eventapi_error(L, "InvalidParams", "%s: params must be a table, not a %s", s->name, luaL_typename(L, 2));
    lua_getiuservalue(L, 5, 1); /* 6: config */
    lua_getiuservalue(L, 5, 2); /* 7: base url */
    eventapi_buf url, body;
    eventapi_buf_init(L, &url);  /* 8 */
    eventapi_buf_init(L, &body); /* 9 */
    build(L, s, 4, 2, 7, &url, &body); /* 10: data, 11: header lines */
    int parts = lua_istable(L, 10) && body.len == 0; /* an upload's parts list: only the policy sends it */
    if (lua_toboolean(L, 3) && !parts && lua_isnil(L, 11) && (lua_Integer)url.len + bd->head_size <= EVENTAPI_MAX_HEAD) {
        char location[128];
        call_location(L, location, sizeof location);
        eventapi_start(L, 6, s->method, url.data, body.len ? body.data : NULL, body.len, 0, 1, bd, bd->decode, location, NULL);
        return 1;
    }
    eventapi_buf_finish(&url);
    if (body.len) eventapi_buf_finish(&body);
    else {
        lua_pushnil(L);
        lua_replace(L, 9);
    }
    lua_pushnil(L);
    lua_replace(L, 7);
    return 5; /* nil, url, body, data, lines */
}

/* Hands the call to the client's Lua call(row, params, cb, url, body, data,
 * lines, failure); the built request (or the failure) is the n values on top,
 * above the operation, params and callback at 1..3. Returns its promise. */
static int to_policy(lua_State *L, int n) {
    int top = lua_gettop(L);
    lua_getiuservalue(L, 1, 2);
    lua_getiuservalue(L, -1, 4); /* call */
    lua_getiuservalue(L, 1, 3);  /* row */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    for (int i = top - n + 1; i <= top; i++) lua_pushvalue(L, i);
    lua_call(L, 3 + n, 1);
    return 1;
}

/* operation(params [, callback]) -> promise: checks the params, builds the request
 * once, and starts it, or hands it to the client's policy (hooks, retries, dry run,
 * a callback, per-call headers); a call that fails to build is rejected there. */
static int op_call(lua_State *L) {
    lua_settop(L, 3); /* the operation, params, callback */
    if (lua_isfunction(L, 2) && lua_isnil(L, 3)) { /* operation(callback) */
        lua_pushvalue(L, 2);
        lua_replace(L, 3);
        lua_pushnil(L);
        lua_replace(L, 2);
    }
    if (lua_isnil(L, 2)) {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    int direct = lua_isnil(L, 3);
    if (direct && lua_istable(L, 2)) {
        direct = lua_getfield(L, 2, "headers") == LUA_TNIL;
        lua_pop(L, 1);
    }
    if (direct) {
        lua_getiuservalue(L, 1, 2);
        lua_getiuservalue(L, -1, 5); /* the client */
        direct = !has_policy(L, lua_gettop(L));
        lua_pop(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(2)); /* build_call, made once */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushboolean(L, direct);
    if (lua_pcall(L, 3, LUA_MULTRET, 0) != LUA_OK) { /* the failure is at 4 */
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
        lua_rotate(L, 4, 4); /* nil x4, failure */
        return to_policy(L, 5);
    }
    if (lua_gettop(L) == 4) return 1; /* started: its promise */
    lua_remove(L, 4);                 /* the nil that says "not started" */
    lua_pushnil(L);                   /* no failure */
    return to_policy(L, 5);
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

/* testing.in_flight(binding) -> the number of the binding's transfers in flight. */
static int l_in_flight(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    lua_pushinteger(L, eventapi_count_owner(eventapi_loop(L), b));
    return 1;
}

/* testing.builds() -> how many requests the core has built in this process (a call
 * is built once, whatever path it takes). */
static int l_builds(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)eventapi_builds);
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
    static const luaL_Reg fns[] = {{"binding", l_binding}, {"bind", l_bind},
                                   {"cancel_binding", l_cancel_binding},
                                   {"is_operation", l_is_operation}, {"location", l_location},
                                   {"library_dir", l_library_dir},
                                   {NULL, NULL}};
    luaL_newmetatable(L, EVENTAPI_BINDING);
    lua_pop(L, 1);
    luaL_newmetatable(L, EVENTAPI_OPERATION);
    lua_pushvalue(L, -3); /* upvalues: the loop, and build_call (which needs the loop too) */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, build_call, 1);
    luaL_setfuncs(L, op_meta, 2);
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
    static const luaL_Reg testing[] = {{"in_flight", l_in_flight}, {"builds", l_builds}, {NULL, NULL}};
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -3);
    luaL_setfuncs(L, testing, 1);
    eventapi_stream_testing(L);
    lua_setfield(L, LUA_REGISTRYINDEX, EVENTAPI_TESTING);
    eventapi_open_compile(L);
    eventapi_open_build(L);
    return 0;
}
