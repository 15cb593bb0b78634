/* oomtest: out-of-memory torture for eventapi, in the manner of libcurl's and
 * SQLite's malloc-failure tests.
 *
 * usage: oomtest [-from N] [-to N] [-step S] [-burst B] [-timeout SEC] [-v] script.lua
 *
 * For N = from, from+S, ...: a fresh Lua state (lua_newstate with a counting
 * allocator) loads the standard libraries and require "eventapi" (warm-up,
 * no failures), then runs the script with the Nth allocation request that
 * grows a block, and the B-1 requests after it, failing (B defaults to 2 so
 * Lua's emergency-collection retry fails too and a memory error is raised).
 * The sweep stops at the first N the script never reaches.
 *
 * The script returns true when every result it checked was right, or
 * false, reason when it caught a failure (a raised error or a rejected
 * promise). Accepted outcomes of a run with a failure injected: true, a
 * caught reason naming a memory error, or an error raised out of the script
 * naming one. Anything else (another error, a wrong result reported as a
 * failure, a reason without memory in it, a run that never returns within
 * the timeout, Lua memory still held after lua_close) counts as a failure.
 * A crash ends the program. Only the Lua allocator is tortured: libcurl's
 * and the C extension's malloc calls are outside it. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct counter {
    long count;   /* grow requests since arming */
    long fail_at; /* first request to fail (1-based); 0: none */
    long burst;   /* how many requests fail from fail_at on */
    long failed;  /* requests failed in this run */
    int armed;
    size_t inuse; /* bytes held */
} counter;

/* The allocator: counts grow requests while armed and fails the chosen ones. */
static void *oom_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    counter *c = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        c->inuse -= old;
        return NULL;
    }
    if (c->armed && nsize > old) {
        c->count++;
        if (c->fail_at && c->count >= c->fail_at && c->count < c->fail_at + c->burst) {
            c->failed++;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p) c->inuse = c->inuse - old + nsize;
    return p;
}

/* Panic handler: an error outside any protected call is a bug here. */
static int on_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "oomtest: PANIC: %s\n", msg ? msg : "(not a string)");
    abort();
}

/* Warning handler: drops warnings (the script reports what matters). */
static void on_warn(void *ud, const char *msg, int tocont) {
    (void)ud;
    (void)msg;
    (void)tocont;
}

/* 1 when the text names a memory failure. */
static int is_memory_error(const char *s) {
    return s && (strstr(s, "not enough memory") || strstr(s, "out of memory"));
}

/* Text of the value at idx for reports: a string, or an error object's
 * tostring (done with failures disarmed). */
static const char *describe(lua_State *L, int idx) {
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tostring(L, idx);
    if (luaL_callmeta(L, idx, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_getfield(L, idx, "message");
        if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
    }
    return luaL_typename(L, idx);
}

/* Runs the script once with failures from fail_at on; returns 0 for an
 * accepted outcome, 1 for a failure, 2 when the script finished without
 * reaching fail_at (the sweep is over), 3 when it failed without reaching it. */
static int run_once(const char *script, long fail_at, long burst, int verbose) {
    counter c = {0, fail_at, burst, 0, 0, 0};
    lua_State *L = lua_newstate(oom_alloc, &c);
    if (!L) {
        fprintf(stderr, "oomtest: cannot create a Lua state\n");
        return 1;
    }
    lua_atpanic(L, on_panic);
    lua_setwarnf(L, on_warn, NULL);
    luaL_openlibs(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "eventapi");
    if (lua_pcall(L, 1, 0, 0) != LUA_OK || luaL_loadfile(L, script) != LUA_OK) {
        fprintf(stderr, "oomtest: warm-up failed: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    c.armed = 1;
    int status = lua_pcall(L, 0, 2, 0);
    c.armed = 0;
    int verdict;
    const char *what;
    if (status == LUA_OK && lua_toboolean(L, -2)) {
        verdict = c.failed ? 0 : 2;
        what = "completed, results right";
    } else {
        what = status == LUA_ERRMEM ? "LUA_ERRMEM" : describe(L, -1);
        verdict = c.failed && (status == LUA_ERRMEM || is_memory_error(what)) ? 0 : 1;
        if (!c.failed && fail_at) verdict = 3; /* failed on its own: the sweep cannot go on */
    }
    if (verdict == 1 || verdict == 3 || verbose)
        fprintf(stderr, "oomtest: %s N=%ld (%ld failed, %ld requests): %s %s\n", script, fail_at, c.failed,
                c.count, verdict == 1 ? "FAIL" : "ok", what);
    lua_close(L);
    if (c.inuse != 0) {
        fprintf(stderr, "oomtest: %s N=%ld: FAIL %zu bytes of Lua memory held after lua_close\n", script, fail_at,
                c.inuse);
        verdict = 1;
    }
    return verdict;
}

/* Parses a positive number option or exits. */
static long number(const char *s) {
    char *end;
    long n = strtol(s, &end, 10);
    if (*end || n < 0) {
        fprintf(stderr, "oomtest: bad number '%s'\n", s);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv) {
    long from = 1, to = 0, step = 1, burst = 2, timeout = 120;
    int verbose = 0, i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) verbose = 1;
        else if (i + 1 < argc && strcmp(argv[i], "-from") == 0) from = number(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-to") == 0) to = number(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-step") == 0) step = number(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-burst") == 0) burst = number(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-timeout") == 0) timeout = number(argv[++i]);
        else break;
    }
    if (i + 1 != argc || from < 1 || step < 1 || burst < 1) {
        fprintf(stderr, "usage: oomtest [-from N] [-to N] [-step S] [-burst B] [-timeout SEC] [-v] script.lua\n");
        return 2;
    }
    const char *script = argv[i];
    if (run_once(script, 0, burst, verbose) != 2) {
        fprintf(stderr, "oomtest: %s fails without any allocation failure\n", script);
        return 1;
    }
    long failures = 0, runs = 0, n;
    for (n = from; !to || n <= to; n += step) {
        alarm((unsigned)timeout); /* a run that hangs ends the program (SIGALRM) */
        int v = run_once(script, n, burst, verbose);
        alarm(0);
        runs++;
        if (v == 2) break;
        if (v == 3) {
            fprintf(stderr, "oomtest: %s failed at N=%ld with no allocation failed (sandbox state?)\n", script, n);
            failures++;
            break;
        }
        failures += v;
    }
    printf("oomtest: %s: %ld runs (N=%ld..%ld step %ld, burst %ld), %ld failures\n", script, runs, from, n, step,
           burst, failures);
    return failures ? 1 : 0;
}
