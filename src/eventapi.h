/* eventapi.core: the shared header of the C extension.
 *
 * One loop per Lua state: a `loop` userdata created by luaopen_eventapi_core
 * and passed to every module function as upvalue 1. It owns the curl multi
 * handle, the timers and the queue of promise jobs. */
#ifndef EVENTAPI_H
#define EVENTAPI_H

#include <lua.h>
#include <lauxlib.h>
#include <curl/curl.h>
#include <string.h>

#define EVENTAPI_VERSION "0.1.0"
#define EVENTAPI_PROMISE "eventapi.Promise"
#define EVENTAPI_CONFIG "eventapi.Config"
#define EVENTAPI_LOOP "eventapi.Loop"
#define EVENTAPI_ARRAY "eventapi.array" /* registry: metatable marking JSON arrays */

typedef struct timer {
    double due;    /* monotonic seconds */
    unsigned long seq; /* insertion order, for ties */
    int ref;       /* registry ref of the promise to fulfil */
} timer;

typedef struct transfer transfer;
typedef struct fd_entry fd_entry; /* loop.h: what the loop knows of a descriptor */

#define EVENTAPI_LOOP_MAGIC 0x4c6f6f70u /* "Loop": eventapi_loop checks it */

/* How many times a step that must not be lost (a stream record's handler,
 * a job's settlement) is tried when it runs out of memory: Lua's own retry
 * after an emergency collection fails with the first, the next usually
 * succeeds; more is a lasting shortage, raised. */
#define EVENTAPI_MEMORY_TRIES 4

typedef struct loop {
    unsigned magic;    /* EVENTAPI_LOOP_MAGIC */
    CURLM *multi;
    CURLSH *share;
    transfer *active;  /* doubly linked list of transfers in flight */
    int nactive;
    CURL *pool[64];    /* idle easy handles, reused */
    unsigned long pool_config[64]; /* the serial of the config each was last set up for */
    int npool;
    unsigned long config_serial; /* the last config's serial (0: none) */
    timer *timers;     /* binary min-heap on (due, seq) */
    int ntimers, timers_cap;
    unsigned long timer_seq;
    lua_Integer next_id; /* transfer ids */
    int jobs_ref;      /* registry ref: the job queue table (flat triples); the queue is jobs.c's */
    int unhandled_ref; /* registry ref: promises rejected with no reaction, checked when the queue drains */
    int settle_ref;    /* registry ref: promise.c's settle_body closure (the loop its upvalue), made once */
    int close_ref;     /* registry ref: the Lua layer's report at close (core.on_close), or LUA_NOREF */
    lua_Integer job_head, job_tail;
    int running_jobs;  /* >0 while handlers run: run/step/await must not re-enter */
    int jobs_ran;      /* jobs run by the current run_jobs */
    long max_connections;
    int closed;
    int epfd;          /* the descriptor hosts wait on: curl's sockets, timerfd, wakefd */
    int timerfd;       /* armed at the earliest deadline while exposed */
    int wakefd;        /* eventfd: work appeared outside step */
    double curl_due;   /* when curl wants socket_action(TIMEOUT), monotonic seconds; < 0 none */
    double armed_due;  /* what timerfd is armed at; < 0 none */
    double idle_due;   /* when the earliest idle_timeout may run out, monotonic seconds; < 0 none */
    double now;        /* monotonic seconds when the current round's wait ended (stamps of received bytes) */
    int exposed;       /* pollfd was asked for: keep timerfd and wakefd up to date */
    int in_step;       /* inside step: it re-arms at its end, no wake needed */
    int signaled;      /* wakefd holds a count not read yet */
    lua_Integer sent;  /* transfers started (core.sent) */
    int stream_records; /* a stream holds records not delivered yet (stream.c) */
    int unfinished;     /* transfers curl completed whose finish raised (memory): drain finishes them */
    fd_entry *fds;     /* per descriptor: FD_* bits and when it last had bytes to read (loop.h) */
    int nfds;
} loop;

/* loop.c (the reactor and start-up; timer.c, config.c and transfer.c share loop.h with it) */
loop *eventapi_loop(lua_State *L);          /* the loop (upvalue 1, checked) */
double eventapi_now(void);                  /* monotonic seconds */
size_t eventapi_copy(char *dst, size_t cap, const char *src); /* core.c, strlcpy: copies what fits, ends it; -> its length */
void eventapi_wake(loop *lp);               /* the descriptor turns readable for a waiting host */
int eventapi_open_loop(lua_State *L);       /* registers the loop functions into the table on top */

/* errors: eventapi.Error objects made in C (the metatable is the one errors.lua
 * registers under the registry key EVENTAPI_ERROR). */
#define EVENTAPI_ERROR "eventapi.Error"
void eventapi_push_error(lua_State *L, const char *type, const char *fmt, ...); /* pushes {type=, message=} */
int eventapi_error(lua_State *L, const char *type, const char *fmt, ...);       /* raises it; never returns */

/* promise.c */
void eventapi_promise_new(lua_State *L);    /* pushes a new pending promise */
void eventapi_reaction_new(lua_State *L, int on_ok, int on_err, int child); /* pushes a reaction (0: none) */
int eventapi_is_promise(lua_State *L, int idx);
void eventapi_promise_settle(lua_State *L, int p, int state, int value); /* state 1 fulfilled, 2 rejected */
void eventapi_promise_resolve(lua_State *L, int p, int value);           /* adopts promises */
void eventapi_warn_unhandled(lua_State *L, loop *lp); /* warns for each rejection never reported (the state closes) */
int eventapi_take_unhandled(lua_State *L, loop *lp); /* pushes the list of unhandled rejection values and returns 1, or returns 0 */
void eventapi_promise_init(lua_State *L, loop *lp); /* makes the job queue and the unhandled list (new loop) */
void eventapi_run_job(lua_State *L);        /* runs the job (reaction, state, value) on top of the stack; pops it */
int eventapi_open_promise(lua_State *L);    /* registers promise functions into the table on top */

/* await.c */
int eventapi_await(lua_State *L);           /* p:await(), a method of every promise */
void eventapi_open_await(lua_State *L);     /* core.on_drive, core.spawned, core.await_mark (after step) */

/* jobs.c: the job queue (jobs promise.c writes and runs, the loop drains) */
/* writes job k (0-based) past the tail, not yet queued: the caller adds 3 per job to job_tail once all are written */
void eventapi_job_put(lua_State *L, loop *lp, lua_Integer k, int reaction, int state, int value);
void eventapi_enqueue(lua_State *L, loop *lp, int reaction, int state, int value); /* queue a job */
int eventapi_run_jobs(lua_State *L, loop *lp); /* runs jobs until none is left (loop: upvalue 1); -> how many ran */

/* buf.c: a growable output buffer: its first bytes in the struct itself,
 * then in a userdata kept at a fixed stack slot (safe across errors and free
 * stack use, unlike luaL_Buffer). The struct must stay where it was
 * initialised (data may point into it). */
#define EVENTAPI_BUF_INLINE 256
typedef struct eventapi_buf {
    lua_State *L;
    int slot;
    char *data;
    size_t len, cap;
    char inline_bytes[EVENTAPI_BUF_INLINE];
} eventapi_buf;
void eventapi_buf_init(lua_State *L, eventapi_buf *b); /* pushes the buffer's slot (nil until it outgrows the struct) */
void eventapi_buf_grow(eventapi_buf *b, size_t n); /* room for n more bytes, in a larger userdata at the slot */
void eventapi_buf_finish(eventapi_buf *b); /* the slot now holds the string */

/* Makes room for n more bytes (inline: the encoders reserve at every write). */
static inline void eventapi_buf_reserve(eventapi_buf *b, size_t n) {
    if (b->len + n > b->cap) eventapi_buf_grow(b, n);
}

/* Appends n bytes. */
static inline void eventapi_buf_add(eventapi_buf *b, const char *s, size_t n) {
    eventapi_buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* The JSON codec: every failure raises an InvalidParams eventapi.Error (an
 * OutOfMemory one when a copy cannot be made). */
#define EVENTAPI_JSON_MAX_DEPTH 1000 /* nesting levels, both ways */

/* Makes room for n more stack slots. Nesting is capped far below Lua's stack
 * limit, so a stack that cannot grow means memory ran out: OutOfMemory. */
static inline void eventapi_json_checkstack(lua_State *L, int n) {
    if (!lua_checkstack(L, n)) eventapi_error(L, "OutOfMemory", "out of memory (the Lua stack cannot grow)");
}

/* json_encode.c: the encoder and number text */
void eventapi_json_encode(lua_State *L, int idx, eventapi_buf *b); /* one line; raises on values JSON cannot hold */
void eventapi_number(lua_State *L, int idx, eventapi_buf *b); /* exact text of the number at idx */
double eventapi_text_to_double(lua_State *L, const char *s, size_t n); /* strtod of JSON number text, '.' whatever the locale */
extern const double eventapi_pow10[23];     /* 10^0 .. 10^22, each exact */
int eventapi_open_json(lua_State *L);       /* registers json_encode, json_decode, array and null into the table on top */

/* json_decode.c: the decoder */
void eventapi_json_decode(lua_State *L, const char *s, size_t len); /* pushes the value; raises "invalid JSON: ..." */
int eventapi_json_decode_fn(lua_State *L);  /* core.json_decode(text) -> value */

/* schema_lua.c */
void eventapi_open_schema(lua_State *L);    /* registers core.schema (JSON Schema draft-04) into the table on top */

/* encode.c */
void eventapi_escape(eventapi_buf *b, const char *s, size_t len); /* appends s percent-encoded */
int eventapi_open_encode(lua_State *L);

/* The largest request head (request line and headers) libcurl sends: 1 MiB,
 * less room for what curl adds itself. A larger request is InvalidParams. */
#define EVENTAPI_MAX_HEAD (1024 * 1024 - 16 * 1024)

/* transfer.c: starting a transfer from C. config is the stack index of its
 * config, headers of a list of header lines replacing the config's (0 for
 * none). bound (0 for none) is the index of the bound operation it answers
 * (operation.c): then owner is its binding, decode says a 2xx answer is
 * decoded into the value here, and any other outcome goes, as
 * {status=, body=, ..., req={method, url, location, op}}, to the binding's
 * respond. Pushes the promise; raises on failure with nothing started. */
typedef struct eventapi_extra eventapi_extra; /* loop.h: what a stream or an upload adds (NULL: nothing) */
void eventapi_start(lua_State *L, int config, const char *method, const char *url, const char *body,
                    size_t body_len, int headers, int bound, const void *owner, int decode, const char *location,
                    const eventapi_extra *extra);
int eventapi_cancel_owner(lua_State *L, loop *lp, const void *owner, const char *message); /* ends owner's transfers */
int eventapi_count_owner(loop *lp, const void *owner); /* owner's transfers in flight */

/* stream.c: the SSE parser's test hook into the table on top (registry[EVENTAPI_TESTING]) */
void eventapi_stream_testing(lua_State *L);

/* operation.c */
int eventapi_open_operation(lua_State *L);

#endif
