/* benchclock: a monotonic clock for the Lua benchmark client (latencies). */
#include <time.h>
#include <lua.h>
#include <lauxlib.h>

/* now() -> seconds of CLOCK_MONOTONIC as a float (nanosecond resolution). */
static int l_now(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return luaL_error(L, "clock_gettime failed");
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* Opens the module: a table with now(). */
int luaopen_benchclock(lua_State *L)
{
    static const luaL_Reg fns[] = {{"now", l_now}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
