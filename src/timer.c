/* eventapi.core timers: a binary min-heap on (due, seq) in the loop, each
 * timer the registry ref of the promise it fulfils (core.timer). */
#include "loop.h"

#include <stdlib.h>

/* 1 when timer a is due before b. */
static int timer_before(const timer *a, const timer *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Makes room for one more timer; raises on out of memory. */
static void timer_reserve(lua_State *L, loop *lp) {
    if (lp->ntimers == lp->timers_cap) {
        int cap = lp->timers_cap ? lp->timers_cap * 2 : 16;
        timer *ts = realloc(lp->timers, (size_t)cap * sizeof *ts);
        if (!ts) eventapi_error(L, "OutOfMemory", "out of memory");
        lp->timers = ts;
        lp->timers_cap = cap;
    }
}

/* Pushes a timer onto the heap; raises on out of memory. */
static void timer_push(lua_State *L, loop *lp, timer t) {
    timer_reserve(L, lp);
    int i = lp->ntimers++;
    while (i > 0 && timer_before(&t, &lp->timers[(i - 1) / 2])) {
        lp->timers[i] = lp->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    lp->timers[i] = t;
    if (lp->exposed && !lp->in_step) arm(lp);
}

/* Removes the timer at heap index i and returns it; the heap order is restored. */
static timer timer_remove(loop *lp, int i) {
    timer out = lp->timers[i], last = lp->timers[--lp->ntimers];
    if (i == lp->ntimers) return out;
    while (i > 0 && timer_before(&last, &lp->timers[(i - 1) / 2])) {
        lp->timers[i] = lp->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    for (;;) {
        int c = 2 * i + 1;
        if (c >= lp->ntimers) break;
        if (c + 1 < lp->ntimers && timer_before(&lp->timers[c + 1], &lp->timers[c])) c++;
        if (!timer_before(&lp->timers[c], &last)) break;
        lp->timers[i] = lp->timers[c];
        i = c;
    }
    lp->timers[i] = last;
    return out;
}

/* Fulfils the promises of due timers (with true); returns how many fired. */
int fire_timers(lua_State *L, loop *lp) {
    double now = eventapi_now();
    int fired = 0;
    while (lp->ntimers && lp->timers[0].due <= now) {
        timer t = timer_remove(lp, 0);
        lua_rawgeti(L, LUA_REGISTRYINDEX, t.ref);
        luaL_unref(L, LUA_REGISTRYINDEX, t.ref);
        lua_pushboolean(L, 1);
        eventapi_promise_settle(L, -2, 1, -1);
        lua_pop(L, 2);
        fired++;
    }
    return fired;
}

/* core.timer(seconds) -> promise fulfilled with true after that many seconds, and the
 * timer's id for core.cancel_timer. */
static int l_timer(lua_State *L) {
    loop *lp = eventapi_loop(L);
    double seconds = lua_tonumber(L, 1);
    if (lua_type(L, 1) != LUA_TNUMBER || !(seconds >= 0) || seconds > 1e15) /* NaN fails >= 0 */
        return eventapi_error(L, "InvalidParams", "sleep: seconds must be a finite number >= 0, not %s",
                              seconds != seconds ? "NaN" : luaL_tolstring(L, 1, NULL)); /* not -nan */
    eventapi_promise_new(L);
    timer t = {eventapi_now() + seconds, ++lp->timer_seq, LUA_NOREF};
    timer_reserve(L, lp); /* before the ref, so an out-of-memory error leaks nothing */
    lua_pushvalue(L, -1);
    t.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    timer_push(L, lp, t); /* cannot fail now: there is room */
    lua_pushinteger(L, (lua_Integer)t.seq);
    return 2;
}

/* core.cancel_timer(id) -> boolean: drops a timer that has not fired; its promise stays
 * pending and the loop no longer waits for it. */
static int l_cancel_timer(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    for (int i = 0; i < lp->ntimers; i++) {
        if ((lua_Integer)lp->timers[i].seq == id) {
            timer t = timer_remove(lp, i);
            luaL_unref(L, LUA_REGISTRYINDEX, t.ref);
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* Registers core.timer and core.cancel_timer into the module table on top,
 * the loop just below it as their upvalue 1; leaves the stack as it was. */
void eventapi_open_timer(lua_State *L) {
    static const luaL_Reg fns[] = {{"timer", l_timer}, {"cancel_timer", l_cancel_timer}, {NULL, NULL}};
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
}
