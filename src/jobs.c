/* eventapi.core's job queue: a table of flat triples (reaction, state,
 * value) in the registry (lp->jobs_ref, made by eventapi_promise_init)
 * between lp->job_head and lp->job_tail. promise.c writes jobs when a
 * promise settles or gets a reaction and says what one job does
 * (eventapi_run_job); this file queues them and runs the queue for the loop
 * (eventapi_run_jobs), which only reads the bounds. */
#include "eventapi.h"

/* Writes job k (0-based) past the tail of the job table without queueing it:
 * eventapi_enqueue and eventapi_promise_settle commit with job_tail += 3 per job once
 * every write (each may fail for memory) is done, so a failure never leaves a
 * half-written triple in the queue. Stack: as it was (uses 2). */
void eventapi_job_put(lua_State *L, loop *lp, lua_Integer k, int reaction, int state, int value) {
    lua_Integer at = lp->job_tail + 3 * k;
    reaction = lua_absindex(L, reaction);
    value = lua_absindex(L, value);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->jobs_ref);
    lua_pushvalue(L, reaction);
    lua_rawseti(L, -2, at + 1);
    lua_pushinteger(L, state);
    lua_rawseti(L, -2, at + 2);
    lua_pushvalue(L, value);
    lua_rawseti(L, -2, at + 3);
    lua_pop(L, 1);
}

/* Queues the job (reaction, state, value) at the tail of the job table. */
void eventapi_enqueue(lua_State *L, loop *lp, int reaction, int state, int value) {
    eventapi_job_put(L, lp, 0, reaction, state, value);
    lp->job_tail += 3;
    eventapi_wake(lp);
}

/* Runs queued jobs until the queue is empty (the loop is upvalue 1); a
 * memory error raised while settling a handler's child escapes. */
static int run_jobs_body(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->jobs_ref);
    int jobs = lua_gettop(L);
    while (lp->job_head < lp->job_tail) {
        for (int k = 1; k <= 3; k++) { /* pushes the job's triple, taken out of the queue */
            lua_rawgeti(L, jobs, lp->job_head + k);
            lua_pushnil(L);
            lua_rawseti(L, jobs, lp->job_head + k);
        }
        lp->job_head += 3;
        eventapi_run_job(L); /* pops the triple */
        lp->jobs_ran++;
    }
    lp->job_head = lp->job_tail = 0;
    return 0;
}

/* Runs queued jobs until the queue is empty; returns how many ran. The
 * loop must be upvalue 1 of the running C function (step's body). An error
 * (out of memory) is raised again after running_jobs is restored, so the loop
 * is not left believing it runs handlers. */
int eventapi_run_jobs(lua_State *L, loop *lp) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, run_jobs_body, 1);
    lp->jobs_ran = 0;
    lp->running_jobs++;
    int status = lua_pcall(L, 0, 0, 0);
    lp->running_jobs--;
    if (status != LUA_OK) lua_error(L);
    return lp->jobs_ran;
}
