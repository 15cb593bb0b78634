/* eventapi.core: p:await(), the promise method that waits (registered with
 * the others in promise.c). Inside a coroutine that eventapi.spawn started
 * it yields to the spawn driver; on the main thread it drives the loop
 * until p settles, through the driver the Lua layer registered
 * (core.on_drive: step with its unhandled-failure policy), else core.step.
 *
 * Registry: EVENTAPI_SPAWNED, a weak-keyed table whose keys are the
 * coroutines eventapi.spawn started and whose field "resuming" is the one
 * being resumed (the Lua layer writes both; it is core.spawned);
 * EVENTAPI_AWAIT_MARK, the value a waiting coroutine yields first
 * (core.await_mark); EVENTAPI_DRIVE, drive(ms) -> pending [, failures]. */
#include "eventapi.h"

#define EVENTAPI_SPAWNED "eventapi.spawned"
#define EVENTAPI_AWAIT_MARK "eventapi.await_mark"
#define EVENTAPI_DRIVE "eventapi.drive"

/* After the spawn driver resumed the coroutine with (ok, value): the value,
 * or the error raised. */
static int await_resumed(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    int top = lua_gettop(L);
    if (top >= 2 && lua_toboolean(L, top - 1)) return 1;
    return lua_error(L); /* the error is on top */
}

/* Raises InvalidUse for an await in a coroutine spawn did not start (nested:
 * one made inside a spawned coroutine). */
static int not_spawned(lua_State *L, int nested) {
    if (nested)
        return eventapi_error(L, "InvalidUse", "await was called in a coroutine created inside eventapi.spawn (by "
                              "coroutine.wrap or coroutine.create): only the spawned coroutine itself can wait; "
                              "start this one with eventapi.spawn too, or await outside it");
    return eventapi_error(L, "InvalidUse", "await was called in a coroutine that eventapi.spawn did not start: "
                          "waiting there would block the whole program; start the coroutine with eventapi.spawn(fn)");
}

/* The state name of the promise at 1 (and marks a rejection as handled:
 * from now on it is await's to raise); pushes the state and the value. */
static const char *state_of(lua_State *L) {
    lua_getfield(L, 1, "state");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 2);
    return lua_tostring(L, -2);
}

/* p:await() -> value: inside a coroutine started with eventapi.spawn it yields until p settles; outside any coroutine it drives the loop until p settles. Raises the error object when p is rejected. In a coroutine that eventapi.spawn did not start it raises InvalidUse at once. */
int eventapi_await(lua_State *L) {
    if (!eventapi_is_promise(L, 1))
        return eventapi_error(L, "InvalidParams", "p:await: a promise was expected, not a %s", luaL_typename(L, 1));
    lua_settop(L, 1);
    if (!lua_pushthread(L)) { /* 2: a coroutine */
        lua_getfield(L, LUA_REGISTRYINDEX, EVENTAPI_SPAWNED); /* 3 */
        int spawned = lua_istable(L, 3) && (lua_pushvalue(L, 2), lua_rawget(L, 3) != LUA_TNIL);
        if (!spawned) return not_spawned(L, lua_istable(L, 3) && lua_getfield(L, 3, "resuming") != LUA_TNIL);
        lua_settop(L, 1);
        lua_getfield(L, LUA_REGISTRYINDEX, EVENTAPI_AWAIT_MARK);
        lua_pushvalue(L, 1);
        return lua_yieldk(L, 2, 0, await_resumed);
    }
    lua_settop(L, 1);
    for (;;) {
        const char *state = state_of(L); /* 2: state, 3: value */
        if (state[0] == 'f') return 1;
        if (state[0] == 'r') return lua_error(L);
        lua_settop(L, 1);
        if (lua_getfield(L, LUA_REGISTRYINDEX, EVENTAPI_DRIVE) != LUA_TFUNCTION)
            return eventapi_error(L, "InvalidUse", "p:await: the loop has no driver");
        lua_pushinteger(L, -1);
        lua_call(L, 1, 2); /* 2: pending, 3: the unhandled failures (core.step alone) */
        if (lua_istable(L, 3) && lua_rawgeti(L, 3, 1) != LUA_TNIL) return lua_error(L);
        int more = lua_toboolean(L, 2);
        lua_settop(L, 1);
        if (!more && state_of(L)[0] == 'p')
            return eventapi_error(L, "Unsettled", "await: the promise is pending and nothing is left that could "
                                  "settle it (no request, timer or handler is pending)");
        lua_settop(L, 1);
    }
}

/* core.on_drive(fn): fn(ms) -> pending drives the loop for await on the main thread (the Lua layer's step). */
static int l_on_drive(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, EVENTAPI_DRIVE);
    return 0;
}

/* Registers core.on_drive, core.spawned and core.await_mark into the table on
 * top; the default driver is the module's step (registered before). */
void eventapi_open_await(lua_State *L) {
    lua_getfield(L, -1, "step");
    lua_setfield(L, LUA_REGISTRYINDEX, EVENTAPI_DRIVE);
    lua_newtable(L); /* the spawned coroutines, weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, EVENTAPI_SPAWNED);
    lua_setfield(L, -2, "spawned");
    lua_newtable(L); /* the mark a waiting coroutine yields */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, EVENTAPI_AWAIT_MARK);
    lua_setfield(L, -2, "await_mark");
    lua_pushcfunction(L, l_on_drive);
    lua_setfield(L, -2, "on_drive");
}
