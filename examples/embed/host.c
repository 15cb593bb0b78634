/* An application that hosts Lua and keeps its own loop: poll() on standard
 * input and on eventapi's descriptor, and a tick every 100 ms, while a Lua
 * runbook talks to an event API through eventapi. The host never hands its
 * thread to eventapi.run(): it sleeps in poll() until its tick is due, a line
 * arrives on stdin, or eventapi has work, then calls eventapi.step(0).
 *
 *   make embed        (builds build/embed-host)
 *   eval "$(bin/eventapi env)"
 *   LOSANT_URL=http://127.0.0.1:5555 LOSANT_TOKEN=sandbox-all-access \
 *     LOSANT_APPLICATION=575ec8687ae143cd83dc4a97 build/embed-host examples/embed/runbook.lua
 *
 * It prints "tick N" lines as it goes, echoes stdin lines ("quit" stops it),
 * and ends with a summary line: the ticks, the largest gap between two ticks,
 * and the runbook's outcome. Unhandled failures of the runbook reach the host
 * through eventapi.on_unhandled: printed, counted, exit status 1. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 100

/* Monotonic milliseconds. */
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Pushes eventapi[name] (the module is in the registry as "host.eventapi"). */
static void push_fn(lua_State *L, const char *name) {
    lua_getfield(L, LUA_REGISTRYINDEX, "host.eventapi");
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* Calls eventapi[name]() with no argument and keeps one result on the stack;
 * returns 0, or -1 with the error printed (nothing left on the stack). */
static int call0(lua_State *L, const char *name) {
    push_fn(L, name);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "host: eventapi.%s: %s\n", name, luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
        return -1;
    }
    return 0;
}

/* eventapi.step(0): returns 1 while eventapi has work pending, 0 when idle, -1 on error. */
static int step(lua_State *L) {
    push_fn(L, "step");
    lua_pushinteger(L, 0);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "host: eventapi.step: %s\n", luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
        return -1;
    }
    int more = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return more;
}

/* Milliseconds the host may sleep before eventapi needs a step: -1 for no deadline. */
static int eventapi_wait_ms(lua_State *L) {
    if (call0(L, "timeout") != 0) return 0;
    int ms = -1;
    if (lua_isnumber(L, -1)) {
        double s = lua_tonumber(L, -1) * 1000.0;
        ms = s <= 0 ? 0 : s > 86400000.0 ? 86400000 : (int)s + 1;
    }
    lua_pop(L, 1);
    return ms;
}

/* The Lua side of the host: requires eventapi, routes unhandled failures to
 * a counter (host.failures), runs the runbook chunk (it starts its work and
 * returns; the host's loop drives it). Leaves nothing on the stack. */
static const char *SETUP =
    "local eventapi = require 'eventapi'\n"
    "local failures = 0\n"
    "eventapi.on_unhandled(function(err)\n"
    "  failures = failures + 1\n"
    "  io.stderr:write('host: unhandled failure: ', tostring(err), '\\n')\n"
    "end)\n"
    "return eventapi, function() return failures end\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s RUNBOOK.lua [args]\n", argv[0]);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) return 1;
    luaL_openlibs(L);
    if (luaL_loadstring(L, SETUP) != LUA_OK || lua_pcall(L, 0, 2, 0) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "host.failures");
    lua_setfield(L, LUA_REGISTRYINDEX, "host.eventapi");
    if (luaL_loadfile(L, argv[1]) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
    int runbook_ok = lua_pcall(L, argc - 2, 0, 0) == LUA_OK;
    if (!runbook_ok) {
        fprintf(stderr, "host: the runbook raised: %s\n", luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
    }
    if (call0(L, "pollfd") != 0) {
        lua_close(L);
        return 1;
    }
    int efd = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);

    double start = now_ms(), next_tick = start + TICK_MS, last_tick = start, max_gap = 0;
    int ticks = 0, in_fd = 0, more = 1, quit = 0;
    char line[512];
    while (!quit && more) {
        double t = now_ms();
        if (t >= next_tick) { /* the host's own periodic work */
            ticks++;
            if (t - last_tick > max_gap) max_gap = t - last_tick;
            last_tick = t;
            printf("tick %d\n", ticks);
            fflush(stdout);
            next_tick += TICK_MS;
            if (next_tick < t) next_tick = t + TICK_MS;
        }
        int wait = (int)(next_tick - now_ms()) + 1;
        if (wait < 0) wait = 0;
        int ewait = eventapi_wait_ms(L);
        if (ewait >= 0 && ewait < wait) wait = ewait;
        struct pollfd fds[2] = {{efd, POLLIN, 0}, {in_fd, POLLIN, 0}};
        int n = poll(fds, in_fd >= 0 ? 2 : 1, wait);
        if (n > 0 && in_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            ssize_t got = read(in_fd, line, sizeof line - 1);
            if (got <= 0) {
                in_fd = -1; /* end of input: stop watching it */
            } else {
                line[got] = '\0';
                for (char *save = NULL, *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                    printf("host: stdin: %s\n", l);
                    if (strcmp(l, "quit") == 0) quit = 1;
                }
            }
        }
        more = step(L);
        if (more < 0) break;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "host.failures");
    lua_call(L, 0, 1);
    int failures = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    printf("host: %s after %.0f ms, %d ticks, largest gap between ticks %.0f ms, %d unhandled failure(s)\n",
           more < 0 ? "stopped by an error" : quit ? "quit" : "runbook done", now_ms() - start, ticks, max_gap,
           failures);
    lua_close(L);
    return (runbook_ok && more == 0 && failures == 0) || quit ? 0 : 1;
}
