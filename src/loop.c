/* eventapi.core loop: one curl multi handle per Lua state and the reactor
 * that drives it (an epoll descriptor over curl's sockets, a timerfd and an
 * eventfd; step, pollfd, timeout), the loop's creation and its __gc. The
 * timer heap is in timer.c, configs and the handle pool in config.c,
 * transfers in transfer.c, the job queue next to the promises in promise.c. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* The loop of this Lua state: upvalue 1 of the running C function. */
loop *eventapi_loop(lua_State *L) {
    loop *lp = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_type(L, lua_upvalueindex(1)) != LUA_TUSERDATA || lua_rawlen(L, lua_upvalueindex(1)) != sizeof *lp ||
        lp->magic != EVENTAPI_LOOP_MAGIC)
        eventapi_error(L, "InvalidUse", "eventapi.core: a function of the core was called without its loop");
    return lp;
}

/* Monotonic seconds (CLOCK_MONOTONIC). */
double eventapi_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Makes the descriptor readable for a host that waits on it when work
 * appeared outside step (a handler queued, a request or timer started). */
void eventapi_wake(loop *lp) {
    if (!lp->exposed || lp->in_step || lp->signaled) return;
    uint64_t one = 1;
    if (write(lp->wakefd, &one, sizeof one) == (ssize_t)sizeof one) lp->signaled = 1;
}

/* ---- the descriptor: epoll over curl's sockets, a timerfd, an eventfd ---- */

/* The earliest deadline, curl's, a timer's or an idle limit's, in monotonic seconds; < 0: none. */
static double next_due(loop *lp) {
    double due = lp->curl_due;
    if (lp->ntimers && (due < 0 || lp->timers[0].due < due)) due = lp->timers[0].due;
    if (lp->idle_due >= 0 && (due < 0 || lp->idle_due < due)) due = lp->idle_due;
    return due;
}

/* Arms the timerfd at the earliest deadline (disarms it when there is none),
 * so a host waiting on the descriptor wakes when step is due. */
void arm(loop *lp) {
    double due = next_due(lp);
    if (due == lp->armed_due) return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (due >= 0) {
        if (due <= 0.000000001) due = 0.000000001; /* an absolute time in the past fires at once; 0 would disarm */
        its.it_value.tv_sec = (time_t)due;
        its.it_value.tv_nsec = (long)((due - (double)its.it_value.tv_sec) * 1e9);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    }
    if (timerfd_settime(lp->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0) lp->armed_due = due;
}

/* The entry of descriptor fd, growing the table when grow is set; NULL when
 * fd has none (out of memory: the descriptor is then handled eagerly). */
static fd_entry *fd_entry_of(loop *lp, int fd, int grow) {
    if (fd < 0) return NULL;
    if (fd >= lp->nfds) {
        if (!grow) return NULL;
        int cap = lp->nfds ? lp->nfds : 64;
        while (cap <= fd) cap *= 2;
        fd_entry *f = realloc(lp->fds, (size_t)cap * sizeof *f);
        if (!f) return NULL;
        memset(f + lp->nfds, 0, (size_t)(cap - lp->nfds) * sizeof *f);
        lp->fds = f;
        lp->nfds = cap;
    }
    return &lp->fds[fd];
}

/* The FD_* bits of descriptor fd (see fd_entry_of). */
static unsigned char *fd_state(loop *lp, int fd, int grow) {
    fd_entry *f = fd_entry_of(lp, fd, grow);
    return f ? &f->bits : NULL;
}

/* CURLOPT_OPENSOCKETFUNCTION: opens a connection socket (close-on-exec, so a
 * runbook's child processes do not inherit it) and marks it as the loop's. */
curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a) {
    loop *lp = userp;
    (void)purpose;
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s == CURL_SOCKET_BAD) return s;
    fd_entry *f = fd_entry_of(lp, s, 1);
    if (f) {
        f->bits = FD_OURS;
        f->seen = 0; /* nothing read on this connection yet */
    }
    return s;
}

/* CURLOPT_CLOSESOCKETFUNCTION: drops the socket from the epoll set, then closes it. */
int on_close_socket(void *userp, curl_socket_t s) {
    loop *lp = userp;
    unsigned char *st = fd_state(lp, s, 0);
    if (st) {
        if (*st & FD_REGISTERED) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL);
        *st = 0;
    }
    return close(s);
}

/* CURLMOPT_SOCKETFUNCTION: keeps the epoll set in step with what curl waits
 * for on each socket, and notes the socket of the transfer it waits for
 * (check_idle reads when bytes last came in on it). Returns -1 (the transfer
 * fails) when epoll refuses. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
    loop *lp = userp;
    struct epoll_event ev;
    (void)socketp;
    unsigned char *st = fd_state(lp, s, 1);
    if (what != CURL_POLL_REMOVE) {
        transfer *t = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
        if (t) t->sock = s;
    }
    if (what == CURL_POLL_REMOVE) {
        if (st && (*st & FD_OURS)) {
            *st &= (unsigned char)~FD_WANTED; /* lingers in the set; see FD_OURS */
            return 0;
        }
        epoll_ctl(lp->epfd, EPOLL_CTL_DEL, s, NULL); /* curl may close it next; an error changes nothing */
        if (st) *st = 0;
        return 0;
    }
    unsigned char bits = (unsigned char)((what & CURL_POLL_IN ? FD_IN : 0) | (what & CURL_POLL_OUT ? FD_OUT : 0));
    if (st && (*st & FD_REGISTERED) && (*st & (FD_IN | FD_OUT)) == bits) {
        *st |= FD_WANTED;
        return 0;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = (bits & FD_IN ? EPOLLIN : 0) | (bits & FD_OUT ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (st && (*st & FD_REGISTERED)) {
        if (epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev) != 0) return -1;
    } else if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, s, &ev) != 0
               && (errno != EEXIST || epoll_ctl(lp->epfd, EPOLL_CTL_MOD, s, &ev) != 0)) {
        return -1;
    }
    if (st) *st = (unsigned char)((*st & FD_OURS) | FD_REGISTERED | FD_WANTED | bits);
    return 0;
}

/* 1 when an event on fd is for curl; an unwanted socket that speaks (an
 * idle pooled connection the server closed) leaves the set instead. */
static int wanted(loop *lp, int fd) {
    unsigned char *st = fd_state(lp, fd, 0);
    if (!st || (*st & FD_WANTED) || !(*st & FD_REGISTERED)) return 1;
    epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL);
    *st &= FD_OURS;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: remembers when curl wants to be called (-1: never). */
static int on_timer(CURLM *m, long timeout_ms, void *userp) {
    loop *lp = userp;
    (void)m;
    lp->curl_due = timeout_ms < 0 ? -1 : eventapi_now() + (double)timeout_ms / 1000.0;
    if (lp->exposed && !lp->in_step) arm(lp);
    return 0;
}

/* ---- driving the loop ---- */

/* Milliseconds until the earliest deadline, at most cap. */
static long next_wait(loop *lp, long cap) {
    double due = next_due(lp);
    if (due < 0) return cap;
    double ms = (due - eventapi_now()) * 1000.0;
    return ms <= 0 ? 0 : ms >= (double)cap ? cap : (long)ms + 1; /* compared as doubles: no overflowing cast */
}

/* Reads a counter descriptor (timerfd, eventfd) back to quiet. */
static void quiet(int fd) {
    uint64_t n;
    while (read(fd, &n, sizeof n) == (ssize_t)sizeof n) {}
}

/* One round: waits at most wait_ms on the descriptor, hands ready sockets and
 * a due deadline to curl, settles what finished, fires timers, runs jobs.
 * Returns how many things happened (completions, timers, jobs). */
static int round_trip(lua_State *L, loop *lp, int wait_ms) {
    struct epoll_event evs[64];
    int still, progress = 0;
    int n = epoll_wait(lp->epfd, evs, 64, wait_ms);
    lp->now = eventapi_now();
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == lp->timerfd) {
            quiet(fd);
            lp->armed_due = -1; /* it fired: disarmed */
        } else if (fd == lp->wakefd) {
            quiet(fd);
            lp->signaled = 0;
        } else if (wanted(lp, fd)) {
            uint32_t e = evs[i].events;
            if ((e & EPOLLIN) && fd < lp->nfds) lp->fds[fd].seen = lp->now; /* bytes came (check_idle) */
            int mask = (e & EPOLLIN ? CURL_CSELECT_IN : 0) | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0)
                       | (e & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(lp->multi, fd, mask, &still);
        }
    }
    if (lp->curl_due >= 0 && lp->curl_due <= eventapi_now()) {
        lp->curl_due = -1; /* curl sets the next one through on_timer */
        curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    }
    if (lp->nactive) progress += drain(L, lp);
    if (lp->idle_due >= 0 && lp->idle_due <= lp->now) progress += check_idle(L, lp);
    progress += fire_timers(L, lp);
    progress += eventapi_run_jobs(L, lp);
    return progress;
}

/* 1 when anything can still happen: transfers, timers or jobs. */
static int pending(loop *lp) {
    return lp->nactive > 0 || lp->ntimers > 0 || lp->job_head < lp->job_tail;
}

/* Runs one step (the body of l_step, under pcall so in_step is always
 * restored): upvalue 1 the loop, argument 1 the milliseconds it may wait. */
static int step_body(lua_State *L) {
    loop *lp = eventapi_loop(L);
    double ms = lua_tonumber(L, 1);
    if (lp->signaled) {
        quiet(lp->wakefd);
        lp->signaled = 0;
    }
    int progress = round_trip(L, lp, 0);
    if (!progress && ms != 0 && pending(lp)) {
        long wait = next_wait(lp, ms < 0 ? 1000 : ms > MAX_SECONDS * 1000.0 ? (long)(MAX_SECONDS * 1000.0) : (long)ms);
        round_trip(L, lp, (int)wait);
    }
    return 0;
}

/* core.step([ms]) -> boolean [, failures]: does the ready work, waits at most ms
 * on the loop's descriptor (default 0: never blocks; negative: until something
 * happens); returns whether anything is still pending and, when the drained
 * job queue left rejections nobody handled, the list of their values. */
static int l_step(lua_State *L) {
    loop *lp = eventapi_loop(L);
    double ms = luaL_optnumber(L, 1, 0);
    if (ms != ms) ms = 0; /* NaN */
    if (lp->running_jobs)
        return eventapi_error(L, "InvalidUse", "eventapi.run, step and await cannot be called from inside a "
                                               "handler or callback: start the work with eventapi.spawn and "
                                               "await inside it");
    lua_pushvalue(L, lua_upvalueindex(2)); /* step_body, made once */
    lua_pushnumber(L, ms);
    lp->in_step = 1;
    int status = lua_pcall(L, 1, 0, 0);
    lp->in_step = 0;
    if (lp->exposed) arm(lp);
    if (status != LUA_OK) return lua_error(L);
    lua_pushboolean(L, pending(lp));
    return 1 + eventapi_take_unhandled(L, lp);
}

/* core.pollfd() -> integer: a descriptor that becomes readable whenever the
 * loop has work (a socket curl waits on is ready, a deadline passed, jobs
 * were queued outside step). For hosts that wait in their own loop. */
static int l_pollfd(lua_State *L) {
    loop *lp = eventapi_loop(L);
    if (!lp->exposed) {
        lp->exposed = 1;
        arm(lp);
        if (lp->job_head < lp->job_tail) eventapi_wake(lp);
    }
    lua_pushinteger(L, lp->epfd);
    return 1;
}

/* core.timeout() -> seconds or nil: how long a host may wait on the
 * descriptor before calling step anyway: 0 with jobs queued, nil when there
 * is no deadline (nothing pending, or only sockets to wait on). */
static int l_timeout(lua_State *L) {
    loop *lp = eventapi_loop(L);
    if (lp->job_head < lp->job_tail || lp->unfinished) { /* (unfinished: drain owes a settlement) */
        lua_pushnumber(L, 0);
        return 1;
    }
    double due = next_due(lp);
    if (due < 0 || !pending(lp)) {
        lua_pushnil(L);
        return 1;
    }
    double left = due - eventapi_now();
    lua_pushnumber(L, left > 0 ? left : 0);
    return 1;
}

/* core.pending() -> transfers in flight, timers, queued jobs. */
static int l_pending(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_pushinteger(L, lp->nactive);
    lua_pushinteger(L, lp->ntimers);
    lua_pushinteger(L, (lp->job_tail - lp->job_head) / 3);
    return 3;
}

/* core.on_close(fn): fn(failures, requests, timers, jobs) runs once when the
 * Lua state closes, with the rejections nobody handled and the work never done. */
static int l_on_close(lua_State *L) {
    loop *lp = eventapi_loop(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, lp->close_ref);
    lp->close_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Called protected from the loop's __gc with the loop as a light userdata:
 * calls the on_close function with what the loop never got to. */
static int report_at_close(lua_State *L) {
    loop *lp = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->close_ref);
    if (!eventapi_take_unhandled(L, lp)) lua_newtable(L);
    lua_pushinteger(L, lp->nactive);
    lua_pushinteger(L, lp->ntimers);
    lua_pushinteger(L, (lp->job_tail - lp->job_head) / 3);
    lua_call(L, 4, 0);
    return 0;
}

/* __gc of the loop (the state closes): reports the rejections nobody handled
 * and the work never done (through core.on_close's function, else with warn),
 * stops every transfer and frees curl's handles. An error in the report
 * becomes a warning; the handles are freed whatever happens. */
static int l_loop_gc(lua_State *L) {
    loop *lp = lua_touserdata(L, 1);
    if (lp->closed) return 0;
    lp->closed = 1;
    if (lp->close_ref == LUA_NOREF) {
        eventapi_warn_unhandled(L, lp);
    } else {
        lua_pushcfunction(L, report_at_close);
        lua_pushlightuserdata(L, lp);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            lua_warning(L, "eventapi: report at close failed: ", 1);
            lua_warning(L, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)", 0);
            lua_pop(L, 1);
        }
    }
    while (lp->active) transfer_free(L, lp, lp->active); /* their handles go to the pool, freed next */
    while (lp->npool) curl_easy_cleanup(lp->pool[--lp->npool]);
    curl_multi_cleanup(lp->multi);
    curl_share_cleanup(lp->share);
    free(lp->fds); /* after the multi: closing its connections reads it */
    lp->fds = NULL;
    lp->nfds = 0;
    free(lp->timers);
    lp->timers = NULL;
    if (lp->epfd >= 0) close(lp->epfd);
    if (lp->timerfd >= 0) close(lp->timerfd);
    if (lp->wakefd >= 0) close(lp->wakefd);
    lp->epfd = lp->timerfd = lp->wakefd = -1;
    return 0;
}

/* How many of the lowest free descriptors new_loop watches over curl's
 * initialisation: libcurl 7.88 opens its wake-up socketpair (2) there. */
#define CURL_INIT_FDS 4

/* Writes the n lowest descriptor numbers not open now into out. */
static void lowest_free_fds(int *out, int n) {
    int found = 0;
    for (int fd = 0; found < n && fd < 65536; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) out[found++] = fd;
    while (found < n) out[found++] = -1;
}

/* Marks close-on-exec each of fds (the lowest free ones before curl's
 * initialisation) that is now an AF_UNIX socket without the flag: libcurl
 * 7.88 opens its wake-up socketpair without SOCK_CLOEXEC, and a command a
 * runbook starts would inherit it. A host thread that opened such a socket
 * in between would find it close-on-exec too. */
static void close_curl_fds_on_exec(const int *fds, int n) {
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int flags = fds[i] < 0 ? -1 : fcntl(fds[i], F_GETFD);
        if (flags == -1 || (flags & FD_CLOEXEC)) continue;
        memset(&sa, 0, sizeof sa);
        if (getsockname(fds[i], (struct sockaddr *)&sa, &len) == 0 && sa.ss_family == AF_UNIX)
            fcntl(fds[i], F_SETFD, flags | FD_CLOEXEC);
    }
}

/* Creates the loop userdata (left on the stack) with its multi and share handles. */
static loop *new_loop(lua_State *L) {
    loop *lp = lua_newuserdatauv(L, sizeof *lp, 0);
    memset(lp, 0, sizeof *lp);
    lp->magic = EVENTAPI_LOOP_MAGIC;
    if (luaL_newmetatable(L, EVENTAPI_LOOP)) {
        lua_pushcfunction(L, l_loop_gc);
        lua_setfield(L, -2, "__gc");
    }
    lp->epfd = lp->timerfd = lp->wakefd = -1;
    lp->curl_due = lp->armed_due = lp->idle_due = -1;
    lp->close_ref = LUA_NOREF;
    lua_setmetatable(L, -2);
    int curl_fds[CURL_INIT_FDS];
    lowest_free_fds(curl_fds, CURL_INIT_FDS);
    lp->multi = curl_multi_init();
    lp->share = curl_share_init();
    close_curl_fds_on_exec(curl_fds, CURL_INIT_FDS);
    if (!lp->multi || !lp->share) eventapi_error(L, "OutOfMemory", "cannot create the curl handles (out of memory?)");
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    lp->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    lp->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lp->epfd < 0 || lp->timerfd < 0 || lp->wakefd < 0)
        eventapi_error(L, "InvalidUse", "cannot create the loop's descriptors: %s", strerror(errno));
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = lp->timerfd;
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->timerfd, &ev) != 0) eventapi_error(L, "InvalidUse", "epoll: %s", strerror(errno));
    ev.data.fd = lp->wakefd;
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->wakefd, &ev) != 0) eventapi_error(L, "InvalidUse", "epoll: %s", strerror(errno));
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
    curl_share_setopt(lp->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(lp->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_multi_setopt(lp->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    eventapi_promise_init(L, lp);
    return lp;
}

/* Pushes the loop: the one of this Lua state, created on first use. */
static void push_loop(lua_State *L) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, "eventapi.loop") == LUA_TUSERDATA) return;
    lua_pop(L, 1);
    new_loop(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "eventapi.loop");
}

/* Registers the loop functions (and those of timer.c, config.c,
 * transfer.c and stream.c) into the table on top; leaves the loop just below it (the
 * upvalue the other open functions use). */
int eventapi_open_loop(lua_State *L) {
    static const luaL_Reg fns[] = {{"pending", l_pending}, {"on_close", l_on_close},
                                   {"pollfd", l_pollfd}, {"timeout", l_timeout}, {NULL, NULL}};
    int module = lua_gettop(L);
    push_loop(L);
    lua_insert(L, module); /* loop below the module table */
    eventapi_open_config(L);
    eventapi_open_transfer(L);
    eventapi_open_stream(L);
    eventapi_open_timer(L);
    eventapi_open_upload(L);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, fns, 1);
    lua_pushvalue(L, module); /* step: upvalues the loop and its body's closure */
    lua_pushvalue(L, module);
    lua_pushcclosure(L, step_body, 1);
    lua_pushcclosure(L, l_step, 2);
    lua_setfield(L, -2, "step");
    return 0;
}
