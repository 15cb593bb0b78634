/* eventapi.core promises: userdata with user values 1 = the settled value,
 * 2 = the first reaction waiting for it and 3 = the list of the others (most
 * promises have one reaction: no list). A reaction is a userdata whose user
 * values are on_ok, on_err and the child promise (eventapi_reaction_new;
 * p:finally's has a block of its own, see finally_reaction_new); settling a
 * promise queues one job per reaction on the loop, and jobs only run from
 * the loop (never inside the call that attached a handler). What a job does
 * is here (eventapi_run_job); the queue is src/jobs.c's.
 *
 * Promises that share one outcome form a class with one root. When a
 * promise p is resolved with a pending promise v, v's root joins p's class:
 * it follows p's root (user value 1 is then the promise it follows) and its
 * reactions move there. Whatever is asked of a member (next, state, settle)
 * goes to the root; a member's own resolve or reject counts once (`locked`).
 * The oldest promise stays the root: in the recursive chain `return next()`
 * inside a handler, each new link joins the head's class and points at the
 * head, the links already done are garbage, and the head (caught, chained
 * or awaited inside spawn) holds nothing behind it. A root counts the
 * members nobody handles, so a rejection is still reported when one of them
 * is unhandled, exactly as when each link settled the one before. */
#include "eventapi.h"

#include <limits.h>
#include <string.h>

enum { PENDING = 0, FULFILLED = 1, REJECTED = 2, FOLLOWING = 3 };

typedef struct promise {
    int state;
    int handled;   /* a reaction was attached, so a rejection is someone's business */
    int followers; /* of a root: its followers nobody handles (each counted once) */
    int counted;   /* of a follower: counted in its root's followers */
    int locked;    /* core.resolve/core.reject was called on it: later calls are ignored */
} promise;

/* The message of the ScriptError that stands for a failure without a value. */
#define NO_VALUE "no value was given (error() or reject() with nil)"

/* Returns the promise at idx or raises an InvalidParams error naming what was there. */
static promise *check_promise(lua_State *L, int idx) {
    promise *p = luaL_testudata(L, idx, EVENTAPI_PROMISE);
    if (!p) eventapi_error(L, "InvalidParams", "a promise was expected, not a %s", luaL_typename(L, idx));
    return p;
}

/* Raises InvalidParams unless the value at idx is nil or a function (what names it). */
static void check_handler(lua_State *L, int idx, const char *what) {
    if (!lua_isnoneornil(L, idx) && !lua_isfunction(L, idx))
        eventapi_error(L, "InvalidParams", "p:next: %s must be a function, not a %s", what, luaL_typename(L, idx));
}

int eventapi_is_promise(lua_State *L, int idx) {
    return luaL_testudata(L, idx, EVENTAPI_PROMISE) != NULL;
}

/* Pushes a new pending promise. */
void eventapi_promise_new(lua_State *L) {
    promise *p = lua_newuserdatauv(L, sizeof *p, 3);
    memset(p, 0, sizeof *p);
    luaL_setmetatable(L, EVENTAPI_PROMISE);
}

/* Makes room for n more values on the stack; raises when it cannot grow
 * (memory, or Lua's stack limit). */
static void reserve(lua_State *L, int n) {
    if (!lua_checkstack(L, n)) eventapi_error(L, "OutOfMemory", "out of memory (or stack overflow) in a promise operation");
}

/* Pushes the root of the promise at p (p itself unless it follows another)
 * and returns it; points p straight at the root, so a line is walked once.
 * Allocates nothing. */
static promise *push_root(lua_State *L, int p) {
    p = lua_absindex(L, p);
    promise *pr = lua_touserdata(L, p);
    lua_pushvalue(L, p);
    while (pr->state == FOLLOWING) {
        lua_getiuservalue(L, -1, 1);
        lua_remove(L, -2);
        pr = lua_touserdata(L, -1);
    }
    if (!lua_rawequal(L, p, -1)) {
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, p, 1);
    }
    return pr;
}

/* Someone handles the promise at p (attaches a reaction or reads its state):
 * a follower stops being counted among its root's unhandled followers.
 * Pushes the root and returns it. Allocates nothing. */
static promise *handle(lua_State *L, int p) {
    promise *pr = lua_touserdata(L, p);
    promise *root = push_root(L, p);
    if (pr->counted) {
        pr->counted = 0;
        if (root->followers > 0) root->followers--;
    }
    pr->handled = 1;
    return root;
}

/* 1 when the rejected promise pr is to be reported: nobody handles it, or a
 * follower of it nobody handles. */
static int unhandled(const promise *pr) {
    return pr->state == REJECTED && (!pr->handled || pr->followers > 0);
}

/* Pushes a reaction {on_ok, on_err, child} (stack indices; 0 for none). */
void eventapi_reaction_new(lua_State *L, int on_ok, int on_err, int child) {
    int at[3] = {on_ok ? lua_absindex(L, on_ok) : 0, on_err ? lua_absindex(L, on_err) : 0,
                 child ? lua_absindex(L, child) : 0};
    lua_newuserdatauv(L, 0, 3);
    for (int i = 0; i < 3; i++) {
        if (!at[i]) continue;
        lua_pushvalue(L, at[i]);
        lua_setiuservalue(L, -2, i + 1);
    }
}

/* A finally reaction is told from the others (whose block is empty) by the
 * size of its block: its job runs fn() and passes the outcome on. */
#define FINALLY_BLOCK 1

/* Pushes a finally reaction {fn, nil, child} (stack indices). */
static void finally_reaction_new(lua_State *L, int fn, int child) {
    fn = lua_absindex(L, fn);
    child = lua_absindex(L, child);
    memset(lua_newuserdatauv(L, FINALLY_BLOCK, 3), 0, FINALLY_BLOCK);
    lua_pushvalue(L, fn);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, child);
    lua_setiuservalue(L, -2, 3);
}

/* protected part of settle_child: resolves (4 true: a promise is adopted) or
 * settles with state 2 the promise at 1 with the value at 3. */
static int settle_body(lua_State *L) {
    if (lua_toboolean(L, 4)) eventapi_promise_resolve(L, 1, 3);
    else eventapi_promise_settle(L, 1, (int)lua_tointeger(L, 2), 3);
    return 0;
}

/* Makes the loop's job queue (src/jobs.c), its list of unhandled rejections and the settle_body
 * closure (at start-up, the loop on top). */
void eventapi_promise_init(lua_State *L, loop *lp) {
    lua_newtable(L);
    lp->jobs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lp->unhandled_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1); /* the loop, on top at start-up */
    lua_pushcclosure(L, settle_body, 1);
    lp->settle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Adds the reaction at r to the promise at p (to its root when p follows
 * another): queued now when settled, kept for later when pending. */
static void add_reaction(lua_State *L, int p, int r) {
    reserve(L, 8); /* the root, its value, a job's writes */
    r = lua_absindex(L, r);
    promise *pr = handle(L, p);
    p = lua_gettop(L); /* the root */
    if (pr->state != PENDING) {
        lua_getiuservalue(L, p, 1);
        eventapi_enqueue(L, eventapi_loop(L), r, pr->state, lua_gettop(L));
        lua_settop(L, p - 1);
        return;
    }
    int first = lua_getiuservalue(L, p, 2);
    lua_pop(L, 1);
    if (first == LUA_TNIL) { /* the common case: one reaction, no list */
        lua_pushvalue(L, r);
        lua_setiuservalue(L, p, 2);
    } else {
        if (lua_getiuservalue(L, p, 3) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_createtable(L, 2, 0);
            lua_pushvalue(L, -1);
            lua_setiuservalue(L, p, 3);
        }
        lua_pushvalue(L, r);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    lua_settop(L, p - 1);
}

/* The promise at p holds the value at value (its outcome, or the root it
 * follows) and no reactions any more. Stack: as it was; allocates nothing. */
static void take_slots(lua_State *L, int p, int value) {
    lua_pushvalue(L, value);
    lua_setiuservalue(L, p, 1);
    lua_pushnil(L);
    lua_setiuservalue(L, p, 2);
    lua_pushnil(L);
    lua_setiuservalue(L, p, 3);
}

/* Settles the class of the promise at p (its root) with the value at value
 * (no adoption); nothing when the root is settled already. A rejection with
 * nil rejects with a ScriptError saying no value was given instead. Every
 * reaction's job is written before anything is committed: out of memory
 * leaves the promise pending with no job queued, never half settled.
 * Stack: as it was. */
void eventapi_promise_settle(lua_State *L, int p, int state, int value) {
    promise *pr = lua_touserdata(L, p);
    if (pr->state == FULFILLED || pr->state == REJECTED) return;
    int top = lua_gettop(L);
    p = lua_absindex(L, p);
    value = lua_absindex(L, value);
    if (pr->state == FOLLOWING) { /* a member settles its class */
        reserve(L, 3);
        pr = push_root(L, p);
        if (pr->state != PENDING) {
            lua_settop(L, top);
            return;
        }
        p = lua_gettop(L);
    }
    if (state == REJECTED && lua_isnil(L, value)) { /* the one branch a settle adds */
        reserve(L, 3);
        eventapi_push_error(L, "ScriptError", NO_VALUE);
        value = lua_gettop(L);
    }
    loop *lp = eventapi_loop(L);
    lua_Integer n = 0;
    if (lua_getiuservalue(L, p, 2) != LUA_TNIL) eventapi_job_put(L, lp, n++, lua_gettop(L), state, value);
    lua_pop(L, 1);
    if (lua_getiuservalue(L, p, 3) == LUA_TTABLE) {
        int list = lua_gettop(L);
        lua_Integer more = (lua_Integer)lua_rawlen(L, list);
        for (lua_Integer i = 1; i <= more; i++) {
            lua_rawgeti(L, list, i);
            eventapi_job_put(L, lp, n++, lua_gettop(L), state, value);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    if (state == REJECTED && (!pr->handled || pr->followers > 0)) { /* checked when the job queue drains */
        lua_rawgeti(L, LUA_REGISTRYINDEX, lp->unhandled_ref);
        lua_pushvalue(L, p);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
    }
    /* commit: nothing below allocates */
    lp->job_tail += 3 * n;
    if (n) eventapi_wake(lp);
    pr->state = state;
    take_slots(L, p, value);
    lua_settop(L, top);
}

/* The pending root at rv joins the class of the pending root at rp: rv
 * follows rp and its reactions move there, before rp's own (they would
 * have run first: rp waited on rv). The one allocation (a list, when both
 * have reactions) comes before anything changes. Stack: as it was (uses 6). */
static void join(lua_State *L, int rp, int rv) {
    int top = lua_gettop(L);
    promise *root = lua_touserdata(L, rp), *v = lua_touserdata(L, rv);
    if (lua_getiuservalue(L, rv, 2) != LUA_TNIL) {      /* top+1: rv's first reaction */
        if (lua_getiuservalue(L, rp, 2) == LUA_TNIL) {  /* top+2: rp's first reaction */
            lua_getiuservalue(L, rv, 3);                /* rv's list (or nil) becomes rp's */
            lua_setiuservalue(L, rp, 3);
        } else {
            lua_Integer nv = 0, np = 0;
            if (lua_getiuservalue(L, rv, 3) == LUA_TTABLE) nv = (lua_Integer)lua_rawlen(L, top + 3);
            if (lua_getiuservalue(L, rp, 3) == LUA_TTABLE) np = (lua_Integer)lua_rawlen(L, top + 4);
            if (nv + np >= INT_MAX) eventapi_error(L, "OutOfMemory", "out of memory (too many reactions on one promise)");
            lua_createtable(L, (int)(nv + 1 + np), 0); /* top+5: the whole array part, so no rawseti allocates */
            for (lua_Integer i = 1; i <= nv; i++) {
                lua_rawgeti(L, top + 3, i);
                lua_rawseti(L, top + 5, i);
            }
            lua_pushvalue(L, top + 2);
            lua_rawseti(L, top + 5, nv + 1);
            for (lua_Integer i = 1; i <= np; i++) {
                lua_rawgeti(L, top + 4, i);
                lua_rawseti(L, top + 5, nv + 1 + i);
            }
            lua_setiuservalue(L, rp, 3); /* pops the new list */
        }
        lua_pushvalue(L, top + 1);
        lua_setiuservalue(L, rp, 2);
    }
    lua_settop(L, top);
    root->followers += v->followers + (v->handled ? 0 : 1);
    v->counted = !v->handled;
    v->followers = 0;
    v->state = FOLLOWING;
    take_slots(L, rv, rp);
}

/* Resolves the class of the promise at p with the value at value: anything
 * but a promise fulfils it. A pending promise's class joins p's (p's root
 * stays the root, so a recursive chain keeps its head as the root and holds
 * nothing behind it); a settled one passes its outcome on through a
 * reaction; p's own class is rejected with InvalidParams. Nothing when p's
 * root is settled already. Stack: as it was. */
void eventapi_promise_resolve(lua_State *L, int p, int value) {
    promise *pr = lua_touserdata(L, p);
    if (pr->state == FULFILLED || pr->state == REJECTED) return;
    if (!eventapi_is_promise(L, value)) {
        eventapi_promise_settle(L, p, FULFILLED, value);
        return;
    }
    int top = lua_gettop(L);
    p = lua_absindex(L, p);
    value = lua_absindex(L, value);
    reserve(L, 10); /* the two roots, join's 6, a reaction */
    promise *root = push_root(L, p); /* top+1 */
    if (root->state != PENDING) {
        lua_settop(L, top);
        return;
    }
    promise *vroot = handle(L, value); /* top+2; p's class takes the interest in value */
    if (lua_rawequal(L, top + 1, top + 2)) {
        eventapi_push_error(L, "InvalidParams", "a promise cannot be resolved with itself");
        eventapi_promise_settle(L, top + 1, REJECTED, -1);
    } else if (vroot->state == PENDING) {
        join(L, top + 1, top + 2);
    } else {
        eventapi_reaction_new(L, 0, 0, top + 1); /* {nil, nil, root}: pass the outcome through */
        add_reaction(L, top + 2, -1);
    }
    lua_settop(L, top);
}

/* core.wrap(v) -> eventapi.Error: v itself when it is one, else (a value
 * script code raised) Error.wrap's ScriptError with cause = v; nil is a
 * ScriptError saying no value was given. */
static int l_wrap(lua_State *L) {
    lua_settop(L, 1);
    if (lua_isnil(L, 1)) {
        eventapi_push_error(L, "ScriptError", NO_VALUE);
        return 1;
    }
    int known = lua_getfield(L, LUA_REGISTRYINDEX, EVENTAPI_ERROR) == LUA_TTABLE; /* 2: the metatable */
    if (!known || (lua_getmetatable(L, 1) && lua_rawequal(L, -1, 2))) { /* no errors.lua yet, or an error object */
        lua_settop(L, 1);
        return 1;
    }
    lua_settop(L, 2);
    lua_getfield(L, 2, "wrap"); /* errors.lua's Error.wrap */
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* Replaces the value on top, one a handler raised, with core.wrap's error
 * object; when making it fails (out of memory) that failure's value is left. */
static void wrap_raised(lua_State *L) {
    reserve(L, 2);
    lua_pushcfunction(L, l_wrap);
    lua_insert(L, -2);
    lua_pcall(L, 1, 1, 0);
}

/* When the job queue has drained: pushes the list of the values of the
 * promises rejected since the last call that still have no reaction (or a
 * follower nobody handles), marks them handled (reported once) and returns
 * 1; returns 0 (nothing pushed) when there are none. */
int eventapi_take_unhandled(lua_State *L, loop *lp) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->unhandled_ref);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n == 0) {
        lua_pop(L, 1);
        return 0;
    }
    int list = lua_gettop(L);
    lua_newtable(L); /* the values; collected before anything is marked, so out of memory loses none */
    lua_Integer found = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        promise *pr = lua_touserdata(L, -1);
        if (unhandled(pr)) {
            lua_getiuservalue(L, -1, 1);
            lua_rawseti(L, list + 1, ++found);
        }
        lua_pop(L, 1);
    }
    for (lua_Integer i = n; i >= 1; i--) { /* mark them reported and empty the list in place */
        lua_rawgeti(L, list, i);
        promise *pr = lua_touserdata(L, -1);
        pr->handled = 1;
        pr->followers = 0;
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_rawseti(L, list, i);
    }
    lua_remove(L, list);
    if (found) return 1;
    lua_pop(L, 1);
    return 0;
}

/* Settles a job's child (stack index) with the value at `value`, resolving
 * or with state, and tries again when that ran out of memory, up to
 * EVENTAPI_MEMORY_TRIES times in all: the job has left the queue and its handler ran, so a
 * memory error raised out of the settlement (out of the step, to a host
 * that may catch it and step on) would leave the child pending for ever.
 * A settlement is all or nothing (eventapi_promise_settle), so a retry is
 * safe. Raises the last error when every try failed. Stack: as it was. */
static void settle_child(lua_State *L, int child, int state, int resolve, int value) {
    child = lua_absindex(L, child);
    value = lua_absindex(L, value);
    for (int tries = 1;; tries++) {
        if (!lua_checkstack(L, 5)) {
            if (tries == EVENTAPI_MEMORY_TRIES) eventapi_error(L, "OutOfMemory", "out of memory settling a promise");
            continue;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, eventapi_loop(L)->settle_ref); /* settle_body, made once */
        lua_pushvalue(L, child);
        lua_pushinteger(L, state);
        lua_pushvalue(L, value);
        lua_pushboolean(L, resolve);
        if (lua_pcall(L, 4, 0, 0) == LUA_OK) return;
        if (tries == EVENTAPI_MEMORY_TRIES) lua_error(L);
        lua_pop(L, 1);
    }
}

/* The job of a finally reaction (stack: reaction, state, value, child at
 * those indices): fn() runs with no argument, what it returns is dropped; the outcome
 * passes on to the child as it was (a rejection stays the same value), or the
 * error fn raised rejects the child (core.wrap's). */
static void run_finally(lua_State *L, int reaction, int state, int value, int child) {
    lua_getiuservalue(L, reaction, 1); /* fn */
    if (lua_pcall(L, 0, 0, 0) == LUA_OK) {
        settle_child(L, child, state, 0, value);
        return;
    }
    wrap_raised(L);
    settle_child(L, child, REJECTED, 0, -1);
}

/* Runs one job: the stack top holds reaction, state, value; pops them. A
 * handler's error rejects the child as an eventapi.Error (core.wrap's); it
 * never escapes. */
void eventapi_run_job(lua_State *L) {
    int value = lua_gettop(L), reaction = value - 2;
    int state = (int)lua_tointeger(L, value - 1);
    lua_getiuservalue(L, reaction, 3); /* child, may be nil */
    int child = lua_gettop(L);
    if (lua_rawlen(L, reaction) == FINALLY_BLOCK) {
        run_finally(L, reaction, state, value, child);
        lua_settop(L, reaction - 1);
        return;
    }
    lua_getiuservalue(L, reaction, state == FULFILLED ? 1 : 2);
    if (lua_isnil(L, -1)) { /* no handler: the outcome passes through */
        lua_pop(L, 1);
        if (!lua_isnil(L, child)) settle_child(L, child, state, 0, value);
    } else {
        lua_pushvalue(L, value);
        int ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
        if (!ok) wrap_raised(L); /* only when it raised: no cost otherwise */
        if (!lua_isnil(L, child)) {
            settle_child(L, child, ok ? FULFILLED : REJECTED, ok, -1);
        } else if (!ok) {
            lua_warning(L, "eventapi: a handler raised: ", 1);
            lua_warning(L, lua_isstring(L, -1) ? lua_tostring(L, -1) : luaL_typename(L, -1), 0);
        }
        lua_pop(L, 1);
    }
    lua_settop(L, reaction - 1);
}

/* p:next(on_ok, on_err) -> promise: the child settles with what the handler returns or raises. */
static int l_next(lua_State *L) {
    check_promise(L, 1);
    check_handler(L, 2, "on_ok");
    check_handler(L, 3, "on_err");
    lua_settop(L, 3);
    eventapi_promise_new(L); /* 4: child */
    eventapi_reaction_new(L, lua_isnil(L, 2) ? 0 : 2, lua_isnil(L, 3) ? 0 : 3, 4);
    add_reaction(L, 1, -1);
    lua_pop(L, 1);
    return 1;
}

/* p:finally(fn) -> promise: runs fn() on either outcome, then passes the value or error on as it was (fn's error: a ScriptError). */
static int l_finally(lua_State *L) {
    check_promise(L, 1);
    lua_settop(L, 2);
    if (!lua_isfunction(L, 2)) /* now, not when the job runs: a mistake shows where it was made */
        eventapi_error(L, "InvalidParams", "p:finally: fn must be a function, not a %s", luaL_typename(L, 2));
    eventapi_promise_new(L);       /* 3: child */
    finally_reaction_new(L, 2, 3); /* 4: {fn, nil, child} */
    add_reaction(L, 1, 4);
    lua_pop(L, 1);
    return 1;
}

/* p:catch(on_err) -> promise: next(nil, on_err). */
static int l_catch(lua_State *L) {
    lua_settop(L, 2);
    lua_pushnil(L);
    lua_insert(L, 2);
    return l_next(L);
}

/* p:state() -> "pending" | "fulfilled" | "rejected", value. Whoever reads the state
 * handles a rejection (await does, before it drives the loop). */
static int l_state(lua_State *L) {
    static const char *const names[] = {"pending", "fulfilled", "rejected"};
    check_promise(L, 1);
    promise *root = handle(L, 1);
    lua_pushstring(L, names[root->state]);
    if (root->state == PENDING) return 1;
    lua_getiuservalue(L, -2, 1);
    return 2;
}

/* core.is_promise(v) -> true when v is an eventapi promise. */
static int l_is_promise(lua_State *L) {
    lua_pushboolean(L, eventapi_is_promise(L, 1));
    return 1;
}

/* core.promise() -> a new pending promise, settled with core.resolve/core.reject. */
static int l_new(lua_State *L) {
    eventapi_promise_new(L);
    return 1;
}

/* core.resolve(p, value): resolves p (adopting a promise); no-op once p was resolved or rejected. */
static int l_resolve(lua_State *L) {
    promise *p = check_promise(L, 1);
    lua_settop(L, 2);
    if (p->locked) return 0;
    eventapi_promise_resolve(L, 1, 2);
    p->locked = 1; /* after: out of memory leaves it as it was */
    return 0;
}

/* core.reject(p, reason): rejects p (nil: a ScriptError saying no value was given); no-op once p was resolved or rejected. */
static int l_reject(lua_State *L) {
    promise *p = check_promise(L, 1);
    lua_settop(L, 2);
    if (p->locked) return 0;
    eventapi_promise_settle(L, 1, REJECTED, 2);
    p->locked = 1;
    return 0;
}

/* When the Lua state closes (from the loop's __gc): reports with warn every
 * rejection still waiting in the unhandled list, the ones the loop never
 * drained (a script that rejected a promise and never ran the loop). No
 * promise has a __gc of its own: a finalizer would keep every settled value
 * alive one more collection cycle. Leaves the stack as it was. */
void eventapi_warn_unhandled(lua_State *L, loop *lp) {
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, lp->unhandled_ref) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        promise *p = lua_touserdata(L, -1);
        if (p && unhandled(p)) {
            int top = lua_gettop(L);
            p->handled = 1;
            p->followers = 0;
            lua_getiuservalue(L, -1, 1);
            const char *msg = NULL;
            if (lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
            else if (lua_type(L, -1) == LUA_TTABLE && lua_getfield(L, -1, "message") == LUA_TSTRING)
                msg = lua_tostring(L, -1);
            lua_warning(L, "eventapi: unhandled rejection: ", 1);
            lua_warning(L, msg ? msg : "(no message)", 0);
            lua_settop(L, top);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* __tostring: "eventapi.Promise (pending)". */
static int l_tostring(lua_State *L) {
    static const char *const names[] = {"pending", "fulfilled", "rejected"};
    check_promise(L, 1);
    promise *root = push_root(L, 1);
    lua_pushfstring(L, "eventapi.Promise (%s)", names[root->state]);
    return 1;
}

/* Creates the promise metatable and registers the functions into the table on top. */
int eventapi_open_promise(lua_State *L) {
    static const luaL_Reg methods[] = {{"next", l_next}, {"catch", l_catch}, {"finally", l_finally},
                                        {"state", l_state}, {"await", eventapi_await}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__tostring", l_tostring}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"promise", l_new}, {"resolve", l_resolve}, {"reject", l_reject},
                                   {"is_promise", l_is_promise}, {"wrap", l_wrap}, {NULL, NULL}};
    int module = lua_gettop(L);
    luaL_newmetatable(L, EVENTAPI_PROMISE);
    lua_pushvalue(L, module - 1); /* the loop upvalue, see core.c */
    luaL_setfuncs(L, meta, 1);
    lua_newtable(L); /* methods */
    lua_pushvalue(L, module - 1);
    luaL_setfuncs(L, methods, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, module, "promise_methods");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushvalue(L, module - 1);
    luaL_setfuncs(L, fns, 1);
    return 0;
}
