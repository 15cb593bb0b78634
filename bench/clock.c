/* benchclock: a monotonic clock for the Lua benchmark client, its latencies
 * kept in a C array (as the raw client keeps them, so the list does not weigh
 * on the Lua heap the benchmark measures), and a count of the Lua state's
 * allocations (objects and their parts). */
#include <stdlib.h>
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

static double *latencies;
static size_t nlatencies, latencies_cap;

/* reserve_latencies(n): room for n latencies, allocated once before the run. */
static int l_reserve_latencies(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0, 1, "must be positive");
    free(latencies);
    latencies = malloc((size_t)n * sizeof *latencies);
    if (!latencies) return luaL_error(L, "out of memory");
    latencies_cap = (size_t)n;
    nlatencies = 0;
    return 0;
}

/* record_latency(seconds): keeps one latency (beyond the reserved room: dropped). */
static int l_record_latency(lua_State *L)
{
    double v = luaL_checknumber(L, 1);
    if (nlatencies < latencies_cap) latencies[nlatencies++] = v;
    return 0;
}

/* Orders two doubles for qsort. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* latency_quantiles(q...) -> the q-quantiles of the recorded latencies in
 * microseconds (-1 when none), as the raw client computes them. */
static int l_latency_quantiles(lua_State *L)
{
    int n = lua_gettop(L);
    qsort(latencies, nlatencies, sizeof *latencies, cmp_double);
    for (int k = 1; k <= n; k++) {
        double q = luaL_checknumber(L, k);
        if (nlatencies == 0) {
            lua_pushnumber(L, -1);
            continue;
        }
        size_t i = (size_t)(q * (double)nlatencies + 0.999999);
        if (i < 1) i = 1;
        if (i > nlatencies) i = nlatencies;
        lua_pushnumber(L, latencies[i - 1] * 1e6);
    }
    return n;
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

/* Opens the module: a table with now(), the latency functions and the allocation counters. */
int luaopen_benchclock(lua_State *L)
{
    static const luaL_Reg fns[] = {{"now", l_now}, {"count_allocations", l_count_allocations},
                                   {"allocations", l_allocations}, {"stop_counting", l_stop_counting},
                                   {"reserve_latencies", l_reserve_latencies}, {"record_latency", l_record_latency},
                                   {"latency_quantiles", l_latency_quantiles}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
