/* eventapi.core transfer engine and loop: one curl multi handle per Lua
 * state, reused easy handles, a shared DNS/TLS-session cache, timers in a
 * binary heap, and the queue of promise jobs. */
#include "eventapi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Per-client settings, built once per client (core.config). */
typedef struct config {
    struct curl_slist *headers;      /* every request */
    struct curl_slist *body_headers; /* requests that carry a body */
    long timeout_ms, connect_timeout_ms, idle_s; /* 0: none */
    char *ca_file, *user_agent, *userpwd;
    int insecure;
    size_t max_body;
    unsigned long serial; /* unique in its loop: marks the easy handles set up for it */
} config;

struct transfer {
    transfer *prev, *next;
    CURL *easy;
    struct curl_slist *own_headers; /* per-request list, freed with the transfer */
    int anchor_ref; /* registry ref of {promise, config}: the promise to settle and what curl reads;
                     * of a bound call, of the promise (the bound operation holds the config) */
    int op_ref;     /* a bound call's: registry ref of its bound operation */
    lua_Integer id;
    char *body;
    size_t len, cap, max_body;
    loop *lp;      /* its loop: the callbacks stamp received bytes with the round's clock */
    long idle_s;   /* the idle limit in whole seconds (0: none), see check_idle */
    double started; /* monotonic seconds when it started */
    double seen;   /* when its header or body callback last ran (or it started) */
    int sock;      /* the socket curl last waited on for it (on_socket), or -1 */
    int idle_expired; /* check_idle ended it */
    int head;      /* HEAD_*: where in the answer's head the next header line falls */
    int block_status; /* the status of the current header block */
    size_t head_bytes; /* header bytes of every block and the trailers so far */
    int head_too_large;
    unsigned long config; /* the serial of its config (what its easy handle is set up for) */
    int large_body; /* it sent a body over POOL_BODY_MAX bytes: curl holds a copy of it */
    int too_large;
    char content_type[128];
    char retry_after[64];
    char errbuf[CURL_ERROR_SIZE];
    /* a bound call (operation.c): its answer goes through the binding */
    const void *owner; /* the binding, or NULL */
    int decode;        /* a 2xx answer is decoded here */
    char *url;         /* for the respond of a failure */
    char method[8];
    char location[128];
};

loop *eventapi_loop(lua_State *L) {
    return lua_touserdata(L, lua_upvalueindex(1));
}

double eventapi_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- jobs ---- */

/* Writes job k (0-based) past the tail of the job table without queueing it:
 * eventapi_enqueue and promise settling commit with job_tail += 3 per job once
 * every write (each may fail for memory) is done, so a failure never leaves a
 * half-written triple in the queue. */
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

/* Makes the descriptor readable for a host that waits on it when work
 * appeared outside step (a handler queued, a request or timer started). */
void eventapi_wake(loop *lp) {
    if (!lp->exposed || lp->in_step || lp->signaled) return;
    uint64_t one = 1;
    if (write(lp->wakefd, &one, sizeof one) == (ssize_t)sizeof one) lp->signaled = 1;
}

/* Runs queued jobs until the queue is empty (the loop is upvalue 1); a
 * memory error raised while settling a handler's child escapes. */
static int run_jobs_body(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->jobs_ref);
    int jobs = lua_gettop(L);
    while (lp->job_head < lp->job_tail) {
        for (int k = 1; k <= 3; k++) {
            lua_rawgeti(L, jobs, lp->job_head + k);
            lua_pushnil(L);
            lua_rawseti(L, jobs, lp->job_head + k);
        }
        lp->job_head += 3;
        eventapi_run_job(L);
        lp->jobs_ran++;
    }
    lp->job_head = lp->job_tail = 0;
    return 0;
}

/* Runs queued jobs until the queue is empty; returns how many ran. An error
 * (out of memory) is raised again after running_jobs is restored, so the loop
 * is not left believing it runs handlers. */
static int run_jobs(lua_State *L, loop *lp) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, run_jobs_body, 1);
    lp->jobs_ran = 0;
    lp->running_jobs++;
    int status = lua_pcall(L, 0, 0, 0);
    lp->running_jobs--;
    if (status != LUA_OK) lua_error(L);
    return lp->jobs_ran;
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
static void arm(loop *lp) {
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

/* What the loop knows of a descriptor (lp->fds, indexed by descriptor):
 * FD_OURS: a connection socket opened and closed through on_open_socket and
 * on_close_socket, so its entry is always true; FD_REGISTERED: in the epoll
 * set, with FD_IN/FD_OUT as registered; FD_WANTED: curl waits on it. A
 * connection curl puts back in its pool stays registered, not wanted (no
 * epoll_ctl pair per request on a kept-alive connection): it is dropped from
 * the set when it speaks while unwanted (the server closed it) or is closed. */
enum { FD_OURS = 1, FD_REGISTERED = 2, FD_IN = 4, FD_OUT = 8, FD_WANTED = 16 };

struct fd_entry {
    unsigned char bits; /* FD_* */
    double seen;        /* the round it last had bytes to read (lp->now), 0 since it was opened */
};

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
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a) {
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
static int on_close_socket(void *userp, curl_socket_t s) {
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

/* ---- timers ---- */

/* 1 when timer a is due before b. */
static int timer_before(const timer *a, const timer *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Makes room for one more timer; raises on out of memory. */
static void timer_reserve(lua_State *L, loop *lp) {
    if (lp->ntimers == lp->timers_cap) {
        int cap = lp->timers_cap ? lp->timers_cap * 2 : 16;
        timer *ts = realloc(lp->timers, (size_t)cap * sizeof *ts);
        if (!ts) luaL_error(L, "out of memory");
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
static int fire_timers(lua_State *L, loop *lp) {
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

/* ---- config ---- */

/* Builds a curl header list from the string array at idx (field name); raises on bad input. */
static struct curl_slist *header_list(lua_State *L, int idx, const char *field) {
    struct curl_slist *list = NULL;
    if (lua_getfield(L, idx, field) == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *h = lua_tostring(L, -1);
            struct curl_slist *next = h ? curl_slist_append(list, h) : NULL;
            lua_pop(L, 1);
            if (!next) {
                curl_slist_free_all(list);
                luaL_error(L, h ? "out of memory" : "%s[%d] must be a string", field, (int)i);
            }
            list = next;
        }
    }
    lua_pop(L, 1);
    return list;
}

/* Copies an optional string field; raises on out of memory. */
static char *opt_string(lua_State *L, int idx, const char *field) {
    char *copy = NULL;
    if (lua_getfield(L, idx, field) == LUA_TSTRING) {
        copy = strdup(lua_tostring(L, -1));
        if (!copy) luaL_error(L, "out of memory");
    }
    lua_pop(L, 1);
    return copy;
}

#define MAX_SECONDS 86400.0 /* the longest timeout: a day (the Lua layer checks the options) */

/* Reads an optional number field in seconds as milliseconds: 0 (none) unless a
 * positive number; at least 1 ms, at most a day (no overflowing cast). */
static long opt_ms(lua_State *L, int idx, const char *field) {
    long ms = 0;
    if (lua_getfield(L, idx, field) == LUA_TNUMBER) {
        double s = lua_tonumber(L, -1);
        if (s > 0) ms = s >= MAX_SECONDS ? (long)(MAX_SECONDS * 1000.0) : (long)(s * 1000.0) + (s * 1000.0 < 1.0);
    }
    lua_pop(L, 1);
    return ms;
}

/* core.config{headers=, body_headers=, timeout=, connect_timeout=, idle_timeout=, ca_file=, insecure=,
 * user_agent=, userpwd=, max_body=, max_connections=} -> config userdata. */
static int l_config(lua_State *L) {
    loop *lp = eventapi_loop(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    config *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, EVENTAPI_CONFIG);
    c->serial = ++lp->config_serial;
    c->headers = header_list(L, 1, "headers");
    c->body_headers = header_list(L, 1, "body_headers");
    c->timeout_ms = opt_ms(L, 1, "timeout");
    c->connect_timeout_ms = opt_ms(L, 1, "connect_timeout");
    c->idle_s = (opt_ms(L, 1, "idle_timeout") + 999) / 1000;
    c->ca_file = opt_string(L, 1, "ca_file");
    c->user_agent = opt_string(L, 1, "user_agent");
    c->userpwd = opt_string(L, 1, "userpwd");
    lua_getfield(L, 1, "insecure");
    c->insecure = lua_toboolean(L, -1);
    lua_getfield(L, 1, "max_body");
    c->max_body = lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 ? (size_t)lua_tointeger(L, -1)
                                                                    : (size_t)64 * 1024 * 1024;
    lua_getfield(L, 1, "max_connections");
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > lp->max_connections) {
        lp->max_connections = (long)lua_tointeger(L, -1);
        curl_multi_setopt(lp->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, lp->max_connections);
    }
    lua_pop(L, 3);
    return 1;
}

/* __gc of a config: frees its lists and strings (the userpwd is wiped first),
 * and resets the idle easy handles set up for it, so curl's copies of its
 * credentials do not outlive it there. */
static int l_config_gc(lua_State *L) {
    config *c = luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    loop *lp = eventapi_loop(L);
    for (int i = 0; i < lp->npool; i++) { /* none once the loop closed */
        if (lp->pool_config[i] != c->serial) continue;
        curl_easy_reset(lp->pool[i]);
        lp->pool_config[i] = 0;
    }
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->body_headers);
    if (c->userpwd) memset(c->userpwd, 0, strlen(c->userpwd));
    free(c->ca_file);
    free(c->user_agent);
    free(c->userpwd);
    memset(c, 0, sizeof *c);
    return 0;
}

/* ---- transfers ---- */

/* curl write callback: appends to the body up to max_body. */
static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    transfer *t = ud;
    size_t len = size * n;
    t->seen = t->lp->now; /* a byte came: no clock read here, the round's */
    if (t->len + len > t->max_body) {
        t->too_large = 1;
        return 0;
    }
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + len + 1) cap *= 2;
        char *body = realloc(t->body, cap);
        if (!body) return 0;
        t->body = body;
        t->cap = cap;
    }
    memcpy(t->body + t->len, data, len);
    t->len += len;
    return len;
}

/* Copies a header's value (trimmed) into dst. */
static void header_value(const char *line, size_t n, size_t name_len, char *dst, size_t cap) {
    const char *v = line + name_len, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* Where the next header line of a transfer falls: the first line of a header
 * block (only a status line there starts an answer), inside a block, or past
 * the final head (trailers: they change nothing). */
enum { HEAD_START = 0, HEAD_IN, HEAD_DONE };

/* The most header bytes (every block and the trailers) an answer may bring. */
#define MAX_RESPONSE_HEAD (100 * 1024)

/* The status of a status line ("HTTP/1.1 200 OK", "HTTP/2 204"); -1 when
 * line is not one (a trailer "HTTP/1.1: 200" is not). */
static int status_of(const char *line, size_t n) {
    size_t i = 5;
    if (n < 5 || memcmp(line, "HTTP/", 5) != 0) return -1;
    while (i < n && ((line[i] >= '0' && line[i] <= '9') || line[i] == '.')) i++;
    if (i == 5 || i + 4 > n || line[i] != ' ') return -1;
    int status = 0;
    for (size_t k = i + 1; k < i + 4; k++) {
        if (line[k] < '0' || line[k] > '9') return -1;
        status = status * 10 + (line[k] - '0');
    }
    if (i + 4 < n && line[i + 4] != ' ' && line[i + 4] != '\r' && line[i + 4] != '\n') return -1;
    return status;
}

/* The blank line ending a header block: another block may follow an
 * interim (1xx) answer, or one libcurl may follow or send again (a redirect,
 * 401, 407, 417: 3xx and up); after a 2xx head, what comes is the trailers. */
static void end_block(transfer *t) {
    int st = t->block_status;
    int more = (st >= 100 && st < 200) || st >= 300;
    t->head = more ? HEAD_START : HEAD_DONE;
}

/* curl header callback: keeps Content-Type and Retry-After of the final
 * answer's head; a status line starts a new answer only at the start of a
 * header block. More than MAX_RESPONSE_HEAD bytes end the transfer. */
static size_t on_header(char *line, size_t size, size_t n, void *ud) {
    transfer *t = ud;
    size_t len = size * n;
    t->seen = t->lp->now;
    t->head_bytes += len;
    if (t->head_bytes > MAX_RESPONSE_HEAD) {
        t->head_too_large = 1;
        return 0;
    }
    if (t->head == HEAD_START) {
        int status = status_of(line, len);
        if (status >= 0) {
            t->content_type[0] = t->retry_after[0] = '\0';
            t->len = 0;
            t->block_status = status;
            t->head = HEAD_IN;
        }
    } else if (t->head == HEAD_DONE) {
        return len; /* a trailer */
    } else if (len <= 2 && len > 0 && (line[0] == '\r' || line[0] == '\n')) {
        end_block(t);
    } else if (len > 13 && strncasecmp(line, "content-type:", 13) == 0) {
        header_value(line, len, 13, t->content_type, sizeof t->content_type);
    } else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        header_value(line, len, 12, t->retry_after, sizeof t->retry_after);
    }
    return len;
}

/* Pushes the promise of a transfer (from its anchor). */
static void push_promise(lua_State *L, transfer *t) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor_ref);
    if (t->owner) return;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
}

#define POOL_BODY_MAX 16384 /* a larger request body is not kept by an idle handle */

/* Unlinks a transfer, returns its easy handle to the pool and frees it. */
static void transfer_free(lua_State *L, loop *lp, transfer *t) {
    curl_multi_remove_handle(lp->multi, t->easy);
    if (t->prev) t->prev->next = t->next;
    else lp->active = t->next;
    if (t->next) t->next->prev = t->prev;
    if (--lp->nactive == 0) lp->idle_due = -1; /* no idle limit left to check */
    if (lp->npool < (int)(sizeof lp->pool / sizeof lp->pool[0])) {
        if (t->large_body) { /* an idle handle keeps no large copy */
            curl_easy_reset(t->easy);
            lp->pool_config[lp->npool] = 0; /* set up for no config */
        } else { /* kept set up for its config (take_handle); what pointed into
                  * the transfer or its own header list goes */
            curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
            curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
            lp->pool_config[lp->npool] = t->config;
        }
        lp->pool[lp->npool++] = t->easy;
    } else {
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->own_headers);
    luaL_unref(L, LUA_REGISTRYINDEX, t->anchor_ref);
    if (t->owner) luaL_unref(L, LUA_REGISTRYINDEX, t->op_ref);
    free(t->body);
    free(t->url);
    free(t);
}

/* Names a transport failure with the error types of the library. */
static const char *failure_type(CURLcode rc) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "Timeout";
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED: case CURLE_SSL_SHUTDOWN_FAILED:
        return "TLS";
    case CURLE_PARTIAL_FILE: case CURLE_BAD_CONTENT_ENCODING: case CURLE_WEIRD_SERVER_REPLY:
        return "InvalidResponse";
    case CURLE_OUT_OF_MEMORY: return "OutOfMemory"; /* never retried */
    default: return "ConnectionFailed";
    }
}

/* Hands the response table on top to a bound call's respond: res.req =
 * {method, url, location, op}, and a job runs respond(res) with the
 * transfer's promise (at p) as its child. Pops the table. */
static void answer_bound(lua_State *L, loop *lp, transfer *t, int p) {
    p = lua_absindex(L, p);
    int res = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->op_ref); /* res+1: the bound operation */
    lua_getiuservalue(L, res + 1, 2);             /* res+2: its binding */
    lua_createtable(L, 0, 4);                     /* res+3: req */
    lua_pushstring(L, t->method);
    lua_setfield(L, res + 3, "method");
    lua_pushstring(L, t->url);
    lua_setfield(L, res + 3, "url");
    if (t->location[0]) {
        lua_pushstring(L, t->location);
        lua_setfield(L, res + 3, "location");
    }
    lua_getiuservalue(L, res + 1, 3); /* the row */
    lua_setfield(L, res + 3, "op");
    lua_setfield(L, res, "req");
    lua_getiuservalue(L, res + 2, 3); /* res+3: respond */
    eventapi_reaction_new(L, res + 3, res + 3, p); /* res+4: {respond, respond, promise} */
    eventapi_enqueue(L, lp, res + 4, 1, res);
    lua_settop(L, res - 1);
}

/* protected part of decode_answer: decodes the body of the transfer at 1 (a light userdata). */
static int decode_body(lua_State *L) {
    transfer *t = lua_touserdata(L, 1);
    eventapi_json_decode(L, t->body, t->len);
    return 1;
}

/* Pushes the value of a bound call's 2xx answer (its JSON decoded straight
 * from curl's buffer; true when empty) and returns 1; returns 0 with
 * nothing pushed when the body is not JSON (respond names that). */
static int decode_answer(lua_State *L, transfer *t) {
    if (t->len == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushcfunction(L, decode_body);
    lua_pushlightuserdata(L, t);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) return 1;
    lua_pop(L, 1);
    return 0;
}

/* Settles the promise at p with the response table on top (a bound call's
 * goes to its respond); pops the table. */
static void answer(lua_State *L, loop *lp, transfer *t, int p) {
    if (t->owner) {
        answer_bound(L, lp, t, p);
        return;
    }
    eventapi_promise_settle(L, p, 1, -1);
    lua_pop(L, 1);
}

/* When a byte last came for t: its callbacks' stamp, or later bytes on its
 * socket (a header line or a chunk still incomplete, TLS records). */
static double last_byte(loop *lp, const transfer *t) {
    double seen = t->seen;
    if (t->sock >= 0 && t->sock < lp->nfds && lp->fds[t->sock].seen > seen) seen = lp->fds[t->sock].seen;
    return seen;
}

/* 1 when t failed because the answer's headers are too large: over
 * MAX_RESPONSE_HEAD in all, or one line over libcurl's own limit (100 KiB,
 * which libcurl 7.88 reports as out of memory: taken as that while the head
 * is read and bytes came in; 8.6 and later say CURLE_TOO_LARGE). */
static int head_too_large(loop *lp, const transfer *t, CURLcode rc) {
    if (t->head_too_large) return 1;
#if LIBCURL_VERSION_NUM >= 0x080600
    if (rc == CURLE_TOO_LARGE) return 1;
#endif
    return rc == CURLE_OUT_OF_MEMORY && t->head != HEAD_DONE && last_byte(lp, t) > t->started;
}

/* Sets the error and message of a failed transfer's response table (on top). */
static void set_failure(lua_State *L, loop *lp, transfer *t, CURLcode rc) {
    int head = head_too_large(lp, t, rc);
    lua_pushstring(L, t->too_large || head ? "InvalidResponse" : failure_type(rc));
    lua_setfield(L, -2, "error");
    if (head) {
        lua_pushfstring(L, "the response headers are too large (over %d bytes)", MAX_RESPONSE_HEAD);
        lua_setfield(L, -2, "message");
        lua_pushboolean(L, 0); /* the server answered: not a failure below HTTP, not retried as one */
        lua_setfield(L, -2, "transport");
        return;
    }
    if (t->too_large) {
        lua_pushfstring(L, "the response is larger than %I bytes (max_body)", (lua_Integer)t->max_body);
        lua_setfield(L, -2, "message");
        lua_pushboolean(L, 0); /* the whole answer would come again: not retried as a transport failure */
        lua_setfield(L, -2, "transport");
        return;
    }
    if (t->idle_expired) lua_pushfstring(L, "no data received for %d s (idle_timeout)", (int)t->idle_s);
    else lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    lua_setfield(L, -2, "message");
}

/* Settles a finished transfer's promise with its response table:
 * {status=, body=, content_type=, retry_after=} or, on failure,
 * {error=type, message=, status=} (transport=false when the failure is the
 * server's answer, not below HTTP). A bound call's 2xx JSON answer settles
 * with its decoded value. */
static void finish(lua_State *L, loop *lp, transfer *t, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    push_promise(L, t);
    if (t->decode && rc == CURLE_OK && status >= 200 && status < 300 && decode_answer(L, t)) {
        eventapi_promise_settle(L, -2, 1, -1);
        lua_pop(L, 2);
        transfer_free(L, lp, t);
        return;
    }
    lua_createtable(L, 0, 5);
    if (status > 0) {
        lua_pushinteger(L, status);
        lua_setfield(L, -2, "status");
    }
    if (rc == CURLE_OK) {
        lua_pushlstring(L, t->body ? t->body : "", t->len);
        lua_setfield(L, -2, "body");
        if (t->content_type[0]) {
            lua_pushstring(L, t->content_type);
            lua_setfield(L, -2, "content_type");
        }
        if (t->retry_after[0]) {
            lua_pushstring(L, t->retry_after);
            lua_setfield(L, -2, "retry_after");
        }
    } else {
        set_failure(L, lp, t, rc);
    }
    answer(L, lp, t, -2);
    lua_pop(L, 1);
    transfer_free(L, lp, t);
}

/* Ends, as a Timeout, every transfer with an idle limit that got no byte for
 * that long, and sets when the next check is due (the earliest limit of
 * the others); returns how many it ended. Runs only when lp->idle_due
 * passed: the callbacks only store a stamp. */
static int check_idle(lua_State *L, loop *lp) {
    double now = eventapi_now(), next = -1;
    int ended = 0;
    for (transfer *t = lp->active, *following; t; t = following) {
        following = t->next;
        if (!t->idle_s) continue;
        double due = last_byte(lp, t) + (double)t->idle_s;
        if (due <= now) {
            t->idle_expired = 1;
            finish(L, lp, t, CURLE_OPERATION_TIMEDOUT);
            ended++;
        } else if (next < 0 || due < next) {
            next = due;
        }
    }
    lp->idle_due = next;
    return ended;
}

/* Makes sure an idle check is due by `due` at the latest. */
static void watch_idle(loop *lp, double due) {
    if (lp->idle_due >= 0 && lp->idle_due <= due) return;
    lp->idle_due = due;
    if (lp->exposed && !lp->in_step) arm(lp);
}

/* Reads curl's completion messages and settles those transfers. */
static int drain(lua_State *L, loop *lp) {
    CURLMsg *msg;
    int left, done = 0;
    while ((msg = curl_multi_info_read(lp->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t) {
            finish(L, lp, t, msg->data.result);
            done++;
        }
    }
    return done;
}

/* Applies method and body to an easy handle, whatever the request before it
 * on the same handle set: back to a plain GET first (HTTPGET also clears
 * NOBODY and UPLOAD), no custom method. -> CURLE_OK, or curl's error when it
 * could not copy the body or the method (out of memory). */
static CURLcode set_method(CURL *e, const char *method, const char *body, size_t body_len) {
    CURLcode rc;
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
        if (rc == CURLE_OK && strcmp(method, "POST") != 0) rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        return rc;
    }
    if (strcmp(method, "GET") == 0) return CURLE_OK;
    if (strcmp(method, "HEAD") == 0) return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (rc == CURLE_OK && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "");
    }
    return rc;
}

/* Sets up an easy handle for the requests of config c: what is the same for
 * every one of them (the callbacks, the loop's share and sockets, c's
 * timeouts, TLS, user agent and credentials). -> 0 when curl could not copy
 * a string (out of memory): the handle must not serve c then. */
static int set_config(CURL *e, loop *lp, const config *c) {
    CURLcode rc = CURLE_OK;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, lp->share);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, lp);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, lp);
    if (c->timeout_ms) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (c->connect_timeout_ms) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* a proxy's CONNECT answer is no header block of ours */
    if (c->user_agent) rc = curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    if (c->ca_file && rc == CURLE_OK) rc = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->userpwd && rc == CURLE_OK) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        rc = curl_easy_setopt(e, CURLOPT_USERPWD, c->userpwd);
    }
    if (c->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return rc == CURLE_OK;
}

/* An easy handle for a request of config c: an idle one last set up for c
 * (its options stand: curl_easy_reset and setting them again cost a
 * request about 2 % of its instructions and 8 % of its first-level cache
 * misses, under cachegrind),
 * else an idle one reset to curl's defaults (pool_config 0: reset as it
 * went idle) and set up for c, else a new one set up for c; NULL when out of memory. A handle of another config is
 * never reused as it is: its credentials and TLS settings are not c's. */
static CURL *take_handle(loop *lp, const config *c) {
    CURL *e;
    for (int i = lp->npool - 1; i >= 0; i--) {
        if (lp->pool_config[i] != c->serial) continue;
        e = lp->pool[i];
        lp->npool--;
        lp->pool[i] = lp->pool[lp->npool];
        lp->pool_config[i] = lp->pool_config[lp->npool];
        return e;
    }
    if (lp->npool) {
        lp->npool--;
        e = lp->pool[lp->npool];
        if (lp->pool_config[lp->npool] != 0) curl_easy_reset(e); /* 0: reset already, as it went idle */
    } else {
        e = curl_easy_init();
    }
    if (e && !set_config(e, lp, c)) {
        curl_easy_cleanup(e);
        e = NULL;
    }
    return e;
}

/* Frees a transfer that could not start (not linked, no easy handle) and
 * raises message (callers still return after it, for the compiler). */
static void start_failed(lua_State *L, transfer *t, int anchor, int op_ref, const char *message) {
    curl_slist_free_all(t->own_headers);
    free(t->url);
    free(t);
    luaL_unref(L, LUA_REGISTRYINDEX, anchor);
    luaL_unref(L, LUA_REGISTRYINDEX, op_ref);
    luaL_error(L, "%s", message);
}

/* Starts a transfer (eventapi.h). Stack discipline: pushes the promise only. */
void eventapi_start(lua_State *L, int cfg, const char *method, const char *url, const char *body,
                    size_t body_len, int headers, int bound, const void *owner, int decode, const char *location) {
    loop *lp = eventapi_loop(L);
    cfg = lua_absindex(L, cfg);
    if (headers) headers = lua_absindex(L, headers);
    if (bound) bound = lua_absindex(L, bound);
    config *c = lua_touserdata(L, cfg);
    if (lp->closed) {
        eventapi_error(L, "Closed", "the eventapi loop is closed");
        return;
    }
    /* The Lua side first (it may raise for memory while no C resource is held):
     * the anchor {promise, config} keeps the promise and the config (whose
     * header lists and strings curl reads during the transfer) alive; a bound
     * call anchors its promise and its bound operation, which holds the
     * config through its binding, with no table. */
    int anchor, op_ref = LUA_NOREF;
    if (bound) {
        lua_pushvalue(L, bound);
        op_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        eventapi_promise_new(L);
        lua_pushvalue(L, -1);
        anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_createtable(L, 2, 0); /* the anchor */
        int at = lua_gettop(L);
        eventapi_promise_new(L);
        lua_pushvalue(L, -1);
        lua_rawseti(L, at, 1);
        lua_pushvalue(L, cfg);
        lua_rawseti(L, at, 2);
        lua_pushvalue(L, at);
        anchor = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_remove(L, at); /* the promise on top */
    }
    transfer *t = calloc(1, sizeof *t);
    if (!t || (owner && !(t->url = strdup(url)))) {
        free(t);
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        luaL_unref(L, LUA_REGISTRYINDEX, op_ref);
        luaL_error(L, "out of memory");
        return;
    }
    t->anchor_ref = anchor;
    t->op_ref = op_ref;
    if (owner) {
        t->owner = owner;
        t->decode = decode;
        eventapi_copy(t->method, sizeof t->method, method);
        eventapi_copy(t->location, sizeof t->location, location ? location : "");
    }
    if (headers) {
        int ok = 1;
        lua_Integer n = (lua_Integer)lua_rawlen(L, headers);
        for (lua_Integer i = 1; i <= n && ok; i++) {
            lua_rawgeti(L, headers, i);
            const char *h = lua_tostring(L, -1);
            struct curl_slist *next = h ? curl_slist_append(t->own_headers, h) : NULL;
            if (next) t->own_headers = next;
            else ok = 0;
            lua_pop(L, 1);
        }
        if (!ok) {
            start_failed(L, t, anchor, op_ref, "request headers must be strings (or out of memory)");
            return;
        }
    }
    t->easy = take_handle(lp, c);
    if (!t->easy) {
        start_failed(L, t, anchor, op_ref, "out of memory");
        return;
    }
    CURL *e = t->easy;
    t->max_body = c->max_body;
    t->id = ++lp->next_id;
    t->config = c->serial;
    t->large_body = body && body_len > POOL_BODY_MAX;
    t->lp = lp;
    t->idle_s = c->idle_s; /* checked by check_idle, not libcurl's low-speed check (an average rate) */
    t->sock = -1;
    t->started = t->seen = eventapi_now();
    /* a reused handle still holds the last request's URL and body: one that
     * cannot take this request's (out of memory) is dropped, never sent */
    CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, url);
    if (rc == CURLE_OK) rc = set_method(e, method, body, body_len);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(e);
        start_failed(L, t, anchor, op_ref, "out of memory");
        return;
    }
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    /* Wait to multiplex only where HTTP/2 can be known at the handshake (ALPN):
     * over http:// curl learns it from the first answer, so a slow first answer
     * would hold back every other request to that host. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncasecmp(url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     t->own_headers ? t->own_headers : (body && c->body_headers ? c->body_headers : c->headers));
    t->next = lp->active;
    if (lp->active) lp->active->prev = t;
    lp->active = t;
    lp->nactive++;
    if (curl_multi_add_handle(lp->multi, e) != CURLM_OK) {
        transfer_free(L, lp, t);
        luaL_error(L, "cannot start the transfer");
    }
    lp->sent++;
    if (t->idle_s) watch_idle(lp, t->started + (double)t->idle_s);
}

/* core.request(config, method, url [, body [, headers]]) -> promise, id: starts a transfer.
 * headers (a list of "Name: value") replaces the config's lists for this request.
 * The promise always fulfils, with the response table of finish(). */
static int l_request(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    const char *method = luaL_checkstring(L, 2), *url = luaL_checkstring(L, 3);
    size_t body_len = 0;
    const char *body = luaL_optlstring(L, 4, NULL, &body_len);
    lua_settop(L, 5);
    eventapi_start(L, 1, method, url, body, body_len, lua_istable(L, 5) ? 5 : 0, 0, NULL, 0, NULL);
    lua_pushinteger(L, eventapi_loop(L)->next_id);
    return 2;
}

/* Ends a transfer in flight: its promise gets {error="Closed", message=}. */
static void cancel(lua_State *L, loop *lp, transfer *t, const char *message) {
    push_promise(L, t);
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "Closed");
    lua_setfield(L, -2, "error");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    answer(L, lp, t, -2);
    lua_pop(L, 1);
    transfer_free(L, lp, t);
}

/* core.cancel(id [, message]) -> boolean: stops a transfer in flight; its promise fulfils with
 * {error="Closed"}. */
static int l_cancel(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    const char *message = luaL_optstring(L, 2, "the client was closed with this request in flight");
    for (transfer *t = lp->active; t; t = t->next) {
        if (t->id != id) continue;
        cancel(L, lp, t, message);
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* Ends every transfer in flight that owner started (eventapi.h); returns how many. */
int eventapi_cancel_owner(lua_State *L, loop *lp, const void *owner, const char *message) {
    int n = 0;
    for (transfer *t = lp->active, *next; t; t = next) {
        next = t->next;
        if (t->owner != owner) continue;
        cancel(L, lp, t, message);
        n++;
    }
    return n;
}

/* The number of transfers in flight that owner started (eventapi.h). */
int eventapi_count_owner(loop *lp, const void *owner) {
    int n = 0;
    for (transfer *t = lp->active; t; t = t->next) n += t->owner == owner;
    return n;
}

/* core.sent() -> the number of transfers this Lua state started (retries included). */
static int l_sent(lua_State *L) {
    lua_pushinteger(L, eventapi_loop(L)->sent);
    return 1;
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
    progress += run_jobs(L, lp);
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
    if (lp->job_head < lp->job_tail) {
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
    while (lp->active) {
        transfer *t = lp->active;
        curl_multi_remove_handle(lp->multi, t->easy);
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->own_headers);
        lp->active = t->next;
        free(t->body);
        free(t->url); /* a bound call's */
        free(t);
    }
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
    if (!lp->multi || !lp->share) luaL_error(L, "cannot create the curl handles (out of memory?)");
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    lp->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    lp->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lp->epfd < 0 || lp->timerfd < 0 || lp->wakefd < 0)
        luaL_error(L, "cannot create the loop's descriptors: %s", strerror(errno));
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = lp->timerfd;
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->timerfd, &ev) != 0) luaL_error(L, "epoll: %s", strerror(errno));
    ev.data.fd = lp->wakefd;
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->wakefd, &ev) != 0) luaL_error(L, "epoll: %s", strerror(errno));
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
    curl_share_setopt(lp->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(lp->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_multi_setopt(lp->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    lua_newtable(L);
    lp->jobs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lp->unhandled_ref = luaL_ref(L, LUA_REGISTRYINDEX);
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

/* Registers the loop functions into the table on top; leaves the loop just below it
 * (the upvalue the other open functions use). */
int eventapi_open_loop(lua_State *L) {
    static const luaL_Reg fns[] = {{"config", l_config}, {"request", l_request}, {"cancel", l_cancel}, {"sent", l_sent},
                                   {"timer", l_timer}, {"cancel_timer", l_cancel_timer},
                                   {"pending", l_pending}, {"on_close", l_on_close},
                                   {"pollfd", l_pollfd}, {"timeout", l_timeout}, {NULL, NULL}};
    int module = lua_gettop(L);
    push_loop(L);
    lua_insert(L, module); /* loop below the module table */
    if (luaL_newmetatable(L, EVENTAPI_CONFIG)) {
        lua_pushvalue(L, module); /* the loop: its idle handles hold copies of a config's strings */
        lua_pushcclosure(L, l_config_gc, 1);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, module);
    luaL_setfuncs(L, fns, 1);
    lua_pushvalue(L, module); /* step: upvalues the loop and its body's closure */
    lua_pushvalue(L, module);
    lua_pushcclosure(L, step_body, 1);
    lua_pushcclosure(L, l_step, 2);
    lua_setfield(L, -2, "step");
    return 0;
}
