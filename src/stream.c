/* eventapi.core server-sent-event streams: a transfer whose 2xx body is read
 * by the SSE parser (sse.c) as it comes. curl's callbacks cannot call Lua, so
 * what the parser hands over is written as records into the stream; the loop
 * turns them into jobs, handler(record), after every round (drain), and
 * before the promise of the transfer settles: a stream's records always
 * reach Lua before its end. The promise of core.stream settles when the
 * stream ends, with the response table of the transfer (finish). */
#include "loop.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { STREAM_FINE = 0, STREAM_TOO_LARGE, STREAM_NO_MEMORY, STREAM_NOT_SSE };

#define RECORD_OPEN 'o'
#define RECORD_MESSAGE 'm'

/* Appends n bytes to the stream's records; 0 when out of memory. */
static int put(stream *st, const void *s, size_t n) {
    if (st->pending_len + n > st->pending_cap) {
        size_t cap = st->pending_cap ? st->pending_cap : 1024;
        while (cap < st->pending_len + n) cap *= 2;
        char *grown = realloc(st->pending, cap);
        if (!grown) return 0;
        st->pending = grown;
        st->pending_cap = cap;
    }
    memcpy(st->pending + st->pending_len, s, n);
    st->pending_len += n;
    return 1;
}

/* Appends a length-prefixed string to the records; 0 when out of memory. */
static int put_text(stream *st, const char *s, size_t n) {
    uint32_t len = (uint32_t)n; /* n <= max_message, far below 4 GiB */
    return put(st, &len, sizeof len) && put(st, s, n);
}

/* The parser's dispatch: a message becomes a record (sse.h). */
static int on_message(void *ud, const char *event, size_t event_len, const char *data, size_t data_len,
                      const char *id, size_t id_len, long retry_ms) {
    transfer *t = ud;
    stream *st = t->stream;
    char kind = RECORD_MESSAGE;
    int64_t retry = retry_ms;
    size_t mark = st->pending_len;
    if (!(put(st, &kind, 1) && put_text(st, event, event_len) && put_text(st, data, data_len)
          && put_text(st, id, id_len) && put(st, &retry, sizeof retry))) {
        st->pending_len = mark; /* no half record */
        return SSE_NO_MEMORY;
    }
    t->lp->stream_records = 1;
    return SSE_OK;
}

/* Sets up the stream of transfer t from extra x (its handler is kept in the
 * transfer's anchor, slot 3); returns 0 when out of memory. */
int stream_new(transfer *t, const eventapi_extra *x) {
    stream *st = calloc(1, sizeof *st);
    if (!st) return 0;
    st->max_message = x->max_message;
    sse_init(&st->sse, x->max_message, on_message, t);
    t->stream = st;
    return 1;
}

/* The final head of a stream's answer came: a 2xx one opens it when it is an
 * event stream (the open record), else the transfer ends; returns 0 then. */
int stream_head(transfer *t) {
    stream *st = t->stream;
    if (t->block_status < 200 || t->block_status >= 300) return 1;
    size_t n = strlen("text/event-stream");
    const char *ct = t->content_type;
    if (strncasecmp(ct, "text/event-stream", n) != 0 || (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
        st->failed = STREAM_NOT_SSE;
        return 0;
    }
    char kind = RECORD_OPEN;
    if (!put(st, &kind, 1)) {
        st->failed = STREAM_NO_MEMORY;
        return 0;
    }
    st->opened = 1;
    t->lp->stream_records = 1;
    return 1;
}

/* A 2xx stream's body bytes go through the parser; returns curl's count (less
 * ends the transfer: a message over max_message, out of memory). */
size_t stream_body(transfer *t, const char *data, size_t len) {
    stream *st = t->stream;
    if (st->failed) return 0;
    int rc = sse_feed(&st->sse, data, len);
    if (rc == SSE_OK) return len;
    st->failed = rc == SSE_TOO_LARGE ? STREAM_TOO_LARGE : STREAM_NO_MEMORY;
    return 0;
}

/* Reads a length-prefixed string of the records at *at; pushes it. */
static void push_text(lua_State *L, const char *records, size_t *at) {
    uint32_t len;
    memcpy(&len, records + *at, sizeof len);
    lua_pushlstring(L, records + *at + sizeof len, len);
    *at += sizeof len + len;
}

/* Pushes the record at *at ({kind="open"} or {kind="message", event=, data=,
 * id=, retry=}) and moves *at past it. */
static void push_record(lua_State *L, const char *records, size_t *at) {
    char kind = records[(*at)++];
    lua_createtable(L, 0, 5);
    if (kind == RECORD_OPEN) {
        lua_pushliteral(L, "open");
        lua_setfield(L, -2, "kind");
        return;
    }
    lua_pushliteral(L, "message");
    lua_setfield(L, -2, "kind");
    push_text(L, records, at);
    lua_setfield(L, -2, "event");
    push_text(L, records, at);
    lua_setfield(L, -2, "data");
    push_text(L, records, at);
    lua_setfield(L, -2, "id");
    int64_t retry;
    memcpy(&retry, records + *at, sizeof retry);
    *at += sizeof retry;
    if (retry >= 0) {
        lua_pushinteger(L, (lua_Integer)retry);
        lua_setfield(L, -2, "retry");
    }
}

/* Queues a job handler(record) for each record of t, in order. A record
 * leaves the stream only once its job is queued (a memory error midway keeps
 * the rest for the next round). Leaves the stack as it was. */
void stream_deliver(lua_State *L, loop *lp, transfer *t) {
    stream *st = t->stream;
    size_t at = 0;
    if (!st || !st->pending_len) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor_ref);
    lua_rawgeti(L, -1, 3);
    lua_remove(L, -2);
    int handler = lua_gettop(L);
    while (at < st->pending_len) {
        size_t next = at;
        push_record(L, st->pending, &next);
        eventapi_reaction_new(L, handler, handler, 0);
        eventapi_enqueue(L, lp, -1, 1, -2);
        lua_pop(L, 2);
        memmove(st->pending, st->pending + next, st->pending_len - next);
        st->pending_len -= next;
    }
    lua_pop(L, 1);
}

/* Delivers the records of every stream that has some (the mark is cleared
 * only once all went: a memory error midway leaves it for the next round). */
void stream_deliver_all(lua_State *L, loop *lp) {
    for (transfer *t = lp->active; t; t = t->next)
        if (t->stream && t->stream->pending_len) stream_deliver(L, lp, t);
    lp->stream_records = 0;
}

/* 1 when t ever had a connection (curl's connect time is set once it connected). */
static int connected(transfer *t) {
    curl_off_t us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &us);
    return us > 0;
}

/* Sets error, message and transport on the response table on top for a
 * stream that ended itself, was open or stalled (finish). ok: curl ended
 * the transfer without error. */
void stream_outcome(lua_State *L, transfer *t, int ok) {
    stream *st = t->stream;
    const char *type = "InvalidResponse";
    int transport = 0;
    switch (st->failed) {
    case STREAM_TOO_LARGE:
        lua_pushfstring(L, "a message of the stream is larger than %I bytes (max_message)", (lua_Integer)st->max_message);
        break;
    case STREAM_NOT_SSE:
        lua_pushfstring(L, "the answer is not an event stream (Content-Type: %s)",
                        t->content_type[0] ? t->content_type : "none");
        break;
    case STREAM_NO_MEMORY:
        type = "OutOfMemory";
        lua_pushliteral(L, "out of memory reading the stream");
        break;
    default:
        transport = 1;
        if (t->idle_expired && !st->opened && t->lp->max_connections > 0 && !connected(t)) {
            type = "Timeout";
            lua_pushfstring(L, "the stream got no connection within %d s (stall_timeout): max_connections (%d) "
                            "were all taken, and an open stream holds its connection", (int)t->idle_s,
                            (int)t->lp->max_connections);
        } else if (t->idle_expired) {
            type = "Timeout";
            lua_pushfstring(L, "the stream sent nothing for %d s (stall_timeout)", (int)t->idle_s);
        } else if (ok) {
            type = "ConnectionFailed";
            lua_pushliteral(L, "the server ended the stream");
        } else {
            type = "ConnectionFailed";
            lua_pushfstring(L, "the stream broke: %s", t->errbuf[0] ? t->errbuf : "the connection failed");
        }
    }
    lua_setfield(L, -2, "message");
    lua_pushstring(L, type);
    lua_setfield(L, -2, "error");
    lua_pushboolean(L, transport);
    lua_setfield(L, -2, "transport");
}

/* Frees the stream of t, if any. */
void stream_free(transfer *t) {
    stream *st = t->stream;
    if (!st) return;
    sse_free(&st->sse);
    free(st->pending);
    free(st);
    t->stream = NULL;
}

/* The job of one record, record -> nothing: calls handler(record), the Lua
 * handler being upvalue 1, and calls it again when the call ran out of
 * memory, up to EVENTAPI_MEMORY_TRIES times in all. A memory error burst while Lua sets up
 * the call (a call frame, a stack) would otherwise lose the record: a job
 * has nowhere to send its error. The handler must take that retry: it runs
 * its body under its own pcall (stream.lua's _deliver), so a memory error
 * reaching here came before any of its effects. */
static int deliver_record(lua_State *L) {
    for (int tries = 1;; tries++) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, 1);
        int status = lua_pcall(L, 1, 0, 0);
        if (status == LUA_OK) return 0;
        if (status != LUA_ERRMEM || tries == EVENTAPI_MEMORY_TRIES) return lua_error(L);
        lua_pop(L, 1);
    }
}

/* core.stream(config, url, headers, handler, stall_seconds, max_message) -> promise, id: opens a
 * server-sent-event stream (GET); handler(record) gets {kind="open"} and each {kind="message", event=,
 * data=, id=, retry=}; the promise fulfils with the response table when the stream ends. */
static int l_stream(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    const char *url = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_Number stall = luaL_checknumber(L, 5);
    lua_Integer max_message = luaL_checkinteger(L, 6);
    luaL_argcheck(L, stall >= 0 && stall <= MAX_SECONDS, 5, "stall seconds out of range");
    luaL_argcheck(L, max_message > 0 && max_message <= 1024 * 1024 * 1024, 6, "max_message out of range");
    lua_settop(L, 6);
    lua_pushvalue(L, 4);
    lua_pushcclosure(L, deliver_record, 1);
    lua_replace(L, 4); /* the handler the records' jobs call */
    eventapi_extra x = {4, (long)stall, (size_t)max_message, NULL};
    eventapi_start(L, 1, "GET", url, NULL, 0, 3, 0, NULL, 0, NULL, &x);
    lua_pushinteger(L, eventapi_loop(L)->next_id);
    return 2;
}

/* What testing.sse_parse collects: the list at the stack slot `list`. */
typedef struct parse_run {
    lua_State *L;
    int list;
} parse_run;

/* The dispatch of testing.sse_parse: appends {event, data, id, retry} to the list. */
static int collect(void *ud, const char *event, size_t event_len, const char *data, size_t data_len,
                   const char *id, size_t id_len, long retry_ms) {
    parse_run *run = ud;
    lua_State *L = run->L;
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, event, event_len);
    lua_setfield(L, -2, "event");
    lua_pushlstring(L, data, data_len);
    lua_setfield(L, -2, "data");
    lua_pushlstring(L, id, id_len);
    lua_setfield(L, -2, "id");
    if (retry_ms >= 0) {
        lua_pushinteger(L, retry_ms);
        lua_setfield(L, -2, "retry");
    }
    lua_rawseti(L, run->list, (lua_Integer)lua_rawlen(L, run->list) + 1);
    return SSE_OK;
}

/* protected part of l_sse_parse: feeds the chunks at 1 to the parser at 3 (light userdata); the list at 4. */
static int parse_chunks(lua_State *L) {
    sse_parser *p = lua_touserdata(L, 3);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    int rc = SSE_OK;
    for (lua_Integer i = 1; i <= n && rc == SSE_OK; i++) {
        size_t len;
        lua_rawgeti(L, 1, i);
        const char *chunk = luaL_checklstring(L, -1, &len);
        rc = sse_feed(p, chunk, len);
        lua_pop(L, 1);
    }
    lua_pushinteger(L, rc);
    return 1;
}

/* testing.sse_parse(chunks, max_message) -> messages, failure ("too large", "no memory") or nil, comments:
 * the parser alone, fed the strings of chunks in turn (specs and the fuzz target). */
static int l_sse_parse(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, max > 0, 2, "max_message must be positive");
    lua_settop(L, 2);
    lua_newtable(L); /* 3: the list */
    parse_run run = {L, 4}; /* the list's slot in parse_chunks' frame, where collect runs */
    sse_parser p;
    sse_init(&p, (size_t)max, collect, &run);
    lua_pushcfunction(L, parse_chunks);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushlightuserdata(L, &p);
    lua_pushvalue(L, 3);
    int status = lua_pcall(L, 4, 1, 0);
    unsigned long comments = p.comments;
    sse_free(&p);
    if (status != LUA_OK) return lua_error(L);
    lua_Integer rc = lua_tointeger(L, -1);
    lua_settop(L, 3); /* the list on top */
    if (rc == SSE_OK) lua_pushnil(L);
    else lua_pushstring(L, rc == SSE_TOO_LARGE ? "too large" : "no memory");
    lua_pushinteger(L, (lua_Integer)comments);
    return 3;
}

/* Adds testing.sse_parse to the table on top. */
void eventapi_stream_testing(lua_State *L) {
    lua_pushcfunction(L, l_sse_parse);
    lua_setfield(L, -2, "sse_parse");
}

static volatile sig_atomic_t interrupted;

/* SIGINT while caught: noted, and the loop's wait ends (epoll_wait is never restarted). */
static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

/* core.catch_interrupt(on): while on, SIGINT is noted (core.interrupted) instead of ending the process. */
static int l_catch_interrupt(lua_State *L) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = lua_toboolean(L, 1) ? on_interrupt : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, NULL);
    return 0;
}

/* core.interrupted() -> boolean: SIGINT came since core.catch_interrupt(true). */
static int l_interrupted(lua_State *L) {
    lua_pushboolean(L, interrupted);
    return 1;
}

/* Registers core.stream, core.catch_interrupt and core.interrupted into the
 * module table on top, the loop just below it as their upvalue 1. */
void eventapi_open_stream(lua_State *L) {
    static const luaL_Reg fns[] = {{"stream", l_stream}, {"catch_interrupt", l_catch_interrupt},
                                   {"interrupted", l_interrupted}, {NULL, NULL}};
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
}
