/* benchclock: a monotonic clock for the Lua benchmark client (latencies),
 * and a count of the Lua state's allocations (objects and their parts). */
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

static lua_Alloc next_alloc;
static void *next_ud;
static unsigned long long allocations;

/* The counting allocator: a new block (ptr NULL, nsize > 0) is one allocation. */
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (!ptr && nsize > 0) allocations++;
    return next_alloc(next_ud, ptr, osize, nsize);
}

/* count_allocations(): from now on, counts the state's new blocks. */
static int l_count_allocations(lua_State *L)
{
    if (!next_alloc) {
        next_alloc = lua_getallocf(L, &next_ud);
        lua_setallocf(L, counting_alloc, NULL);
    }
    return 0;
}

/* stop_counting(): hands allocation back to the state's own allocator (call it
 * before the state closes: closing unloads this module and its allocator). */
static int l_stop_counting(lua_State *L)
{
    if (next_alloc) lua_setallocf(L, next_alloc, next_ud);
    next_alloc = NULL;
    return 0;
}

/* allocations() -> the number of new blocks since count_allocations() (an integer). */
static int l_allocations(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)allocations);
    return 1;
}

/* Opens the module: a table with now(), count_allocations(), allocations(), stop_counting(). */
int luaopen_benchclock(lua_State *L)
{
    static const luaL_Reg fns[] = {{"now", l_now}, {"count_allocations", l_count_allocations},
                                   {"allocations", l_allocations}, {"stop_counting", l_stop_counting}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
