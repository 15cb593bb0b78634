/* eventapi.core: what the parts of the loop share, private to them: loop.c
 * (the reactor and start-up), timer.c (the timer heap), config.c (configs
 * and the easy-handle pool) and transfer.c (transfers and their answers).
 * The functions declared here are hidden: not exported from core.so. */
#ifndef EVENTAPI_LOOP_H
#define EVENTAPI_LOOP_H

#include "eventapi.h"
#include "sse.h"

#define LOOP_HIDDEN __attribute__((visibility("hidden")))

#define MAX_SECONDS 86400.0 /* the longest timeout: a day (the Lua layer checks the options) */

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
    struct stream *stream; /* a server-sent-event stream's state (stream.c), or NULL */
    const void *owner; /* the binding, or NULL */
    int decode;        /* a 2xx answer is decoded here */
    char *url;         /* for the respond of a failure */
    char method[8];
    char location[128];
    void *mime;        /* an upload's curl_mime (upload.c), freed with the transfer, or NULL */
    curl_off_t uploaded; /* an upload's bytes sent when its progress callback last ran */
    int completed;       /* curl reported it done (with result): finish owes its settlement */
    CURLcode result;
};

/* What a stream or an upload adds to a transfer (eventapi_start's extra). */
struct eventapi_extra {
    int stream;         /* stack index of a stream's handler, kept in the anchor (stream.c), 0: not a stream */
    long stream_idle_s; /* a stream's stall limit in seconds (0: none) */
    size_t max_message; /* a stream's largest message in bytes */
    void *mime;         /* an upload's curl_mime (upload.c): the transfer owns it once eventapi_start
                         * returns; if it raises, the caller still does (upload.c frees it) */
};

/* A transfer that is a server-sent-event stream (stream.c): the parser
 * over its 2xx body and the records it made, waiting to reach Lua. */
typedef struct stream {
    sse_parser sse;
    char *pending;     /* records not delivered yet (stream.c writes and reads them) */
    size_t pending_len, pending_cap;
    int opened;        /* the 2xx head of an event stream came */
    int failed;        /* STREAM_* of stream.c: why the stream ended itself */
    size_t max_message;
} stream;

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

/* loop.c: the reactor */
LOOP_HIDDEN void arm(loop *lp); /* arms the timerfd at the earliest deadline */
LOOP_HIDDEN curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a);
LOOP_HIDDEN int on_close_socket(void *userp, curl_socket_t s);

/* timer.c: the timer heap */
LOOP_HIDDEN int fire_timers(lua_State *L, loop *lp); /* fulfils due timers; -> how many fired */
LOOP_HIDDEN void eventapi_open_timer(lua_State *L); /* registers core.timer, core.cancel_timer */

/* config.c: configs and the pool of idle easy handles */
LOOP_HIDDEN CURLcode set_method(CURL *e, const char *method, const char *body, size_t body_len);
LOOP_HIDDEN CURL *take_handle(loop *lp, const config *c); /* NULL when out of memory */
LOOP_HIDDEN void eventapi_open_config(lua_State *L); /* registers core.config and the config metatable */

/* transfer.c: transfers, their answers and their routing */
LOOP_HIDDEN size_t on_body(char *data, size_t size, size_t n, void *ud);   /* curl write callback */
LOOP_HIDDEN size_t on_header(char *line, size_t size, size_t n, void *ud); /* curl header callback */
LOOP_HIDDEN void transfer_free(lua_State *L, loop *lp, transfer *t);
LOOP_HIDDEN int drain(lua_State *L, loop *lp);      /* settles what curl finished; -> how many */
LOOP_HIDDEN int check_idle(lua_State *L, loop *lp); /* ends idle transfers; -> how many */
LOOP_HIDDEN void eventapi_open_transfer(lua_State *L); /* registers core.request, core.cancel, core.sent */

/* upload.c: multipart/form-data uploads */
LOOP_HIDDEN CURLcode upload_set(CURL *e, transfer *t, void *mime, const char *method); /* the MIME post on e */
LOOP_HIDDEN int upload_xferinfo(void *t, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
LOOP_HIDDEN void eventapi_open_upload(lua_State *L); /* registers core.upload, core.upload_progress */

/* stream.c: server-sent-event streams */
LOOP_HIDDEN int stream_new(transfer *t, const eventapi_extra *x); /* 0: out of memory */
LOOP_HIDDEN int stream_head(transfer *t); /* the final head came: 0 ends the transfer (not an event stream) */
LOOP_HIDDEN size_t stream_body(transfer *t, const char *data, size_t len); /* a 2xx body's bytes: curl's return */
LOOP_HIDDEN void stream_deliver(lua_State *L, loop *lp, transfer *t); /* queues its records' jobs */
LOOP_HIDDEN void stream_deliver_all(lua_State *L, loop *lp); /* the same for every stream with records */
LOOP_HIDDEN void stream_outcome(lua_State *L, transfer *t, int ok); /* sets how a stream ended on the table on top */
LOOP_HIDDEN void stream_free(transfer *t);
LOOP_HIDDEN void eventapi_open_stream(lua_State *L); /* registers core.stream, core.catch_interrupt, core.interrupted */

#endif
