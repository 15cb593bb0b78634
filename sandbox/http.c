/* eventapi-sandbox: the HTTP front on libmicrohttpd: connections and their
 * deadlines, request bodies within a global budget, the access handler,
 * dispatch to the services, answers and the access log
 * (docs/PROTOCOLS.md section 4). */
#include "front.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>

#define MIB (1024u * 1024u)

sb_config sb_cfg = {"127.0.0.1", 0, NULL, NULL, 0, 0, 0, 64 * MIB, 64 * MIB, 10.0, 30.0, 4096, 2048ull * MIB};
sb_server sb_srv;

/* Where a connection is in its current request; the deadlines apply to the
 * first two phases only. */
enum phase { P_HEADERS, P_BODY, P_HANDLED };

struct conn_state;

/* Per connection (MHD's socket context), in the list the timer thread
 * checks: the request in progress, so that one MHD drops before calling
 * the access handler (a header block over the memory limit: no completion
 * callback then) is freed when its connection closes. */
typedef struct conn_slot {
    int fd;                      /* the socket, for shutdown() past a deadline */
    uint64_t state;              /* atomic: microseconds since the epoch when the phase began << 2 | phase */
    int cut;                     /* shut down by the timer thread */
    struct conn_state *current;  /* owned until completed() */
    struct conn_slot *prev, *next;
} conn_slot;

/* Per request, created by the URI log callback. */
typedef struct conn_state {
    char *raw_uri;
    char *body;
    size_t body_len, body_cap;
    size_t reserved;  /* bytes of the body budget held for body_cap */
    int too_large;    /* over SB_MAX_BODY: read and dropped, then 413 */
    int over_budget;  /* the budget was spent: read and dropped, then 503 */
    int seen;         /* the access handler has been called once */
    int decided;      /* record and faults done (a delayed request comes back) */
    int faulty;
    int counted;      /* in in_flight: an API request whose answer is not queued yet */
    int awaited;      /* in awaited: complete, and its answer is due (no stall or reset) */
    sb_upload *upload; /* an upload action's body, parsed as it comes instead of held */
    sb_fault f;
    double started;
    conn_slot *slot;
} conn_state;

static struct MHD_Daemon *daemon_handle;
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static conn_slot *conns;             /* every open connection, under conn_lock */
static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;
static int in_flight;                /* API requests received and not yet answered (atomic) */
static int awaited;                  /* complete requests whose answer is due and not sent (atomic) */
static size_t body_bytes;            /* body budget in use, under budget_lock */
static pthread_t timer_thread;
static int timer_started;
static volatile int timer_stop;

/* Current time as Unix seconds with microseconds (front.h). */
double sb_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Requests in flight (front.h). */
int sb_in_flight(void) {
    return __atomic_load_n(&in_flight, __ATOMIC_RELAXED);
}

/* Takes n bytes of the body budget; 0, or -1 when that would pass it. */
static int budget_take(size_t n) {
    int rc = -1;
    pthread_mutex_lock(&budget_lock);
    if (body_bytes + n <= sb_cfg.body_budget) {
        body_bytes += n;
        rc = 0;
    }
    pthread_mutex_unlock(&budget_lock);
    return rc;
}

/* Gives n bytes back to the body budget. */
static void budget_give(size_t n) {
    pthread_mutex_lock(&budget_lock);
    body_bytes -= n;
    pthread_mutex_unlock(&budget_lock);
}

/* Moves a connection's slot to a phase, timed from now: one atomic store
 * of both, so the timer thread never pairs a phase with another's start. */
static void set_phase(conn_slot *slot, enum phase phase) {
    if (!slot) return;
    uint64_t us = (uint64_t)(sb_now() * 1e6);
    __atomic_store_n(&slot->state, us << 2 | (uint64_t)phase, __ATOMIC_RELAXED);
}

/* Shuts down the connections past their header or body deadline; a
 * trickle of bytes does not move a deadline. The slot leaves the list
 * (on_connection) before MHD closes the socket, so the fd is never
 * another connection's. */
static void cut_late_connections(void) {
    double now = sb_now();
    pthread_mutex_lock(&conn_lock);
    for (conn_slot *s = conns; s; s = s->next) {
        uint64_t state = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
        enum phase phase = (enum phase)(state & 3);
        double since = (double)(state >> 2) / 1e6;
        double limit = phase == P_HEADERS ? sb_cfg.header_timeout : phase == P_BODY ? sb_cfg.body_timeout : INFINITY;
        if (!s->cut && s->fd >= 0 && now - since > limit) {
            shutdown(s->fd, SHUT_RDWR); /* MHD sees the end of the stream and closes it */
            s->cut = 1;
        }
    }
    pthread_mutex_unlock(&conn_lock);
}

/* Thread body: resumes delayed connections and applies the delayed
 * changes that are due every 2 ms, checks deadlines every 100 ms, until
 * asked to stop. */
static void *timer_main(void *arg) {
    (void)arg;
    for (unsigned tick = 0; !timer_stop; tick++) {
        usleep(2000);
        sb_fault_resume_due(0);
        sb_later_run(&sb_srv, 0);
        sb_sse_tick();
        if (tick % 50 == 0) cut_late_connections();
    }
    return NULL;
}

/* Takes a request out of in_flight, once: when its answer is queued (so a
 * client that has the answer never finds it still counted) or freed. */
static void leave_in_flight(conn_state *st) {
    if (!st->counted) return;
    st->counted = 0;
    __atomic_sub_fetch(&in_flight, 1, __ATOMIC_RELAXED);
}

/* Sets whether a stop waits for this request's answer to be sent. */
static void set_awaited(conn_state *st, int on) {
    if (st->awaited == on) return;
    st->awaited = on;
    __atomic_add_fetch(&awaited, on ? 1 : -1, __ATOMIC_RELAXED);
}

/* Frees a request's state, its body budget, and takes it out of in_flight. */
static void free_state(conn_state *st) {
    leave_in_flight(st);
    set_awaited(st, 0);
    if (st->reserved) budget_give(st->reserved);
    sb_upload_free(st->upload);
    free(st->raw_uri);
    free(st->body);
    free(st);
}

/* The slot of a connection, or NULL. */
static conn_slot *slot_of(struct MHD_Connection *con) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* MHD connection callback: a slot per connection, in the checked list; at
 * close, out of the list, and a request left without completion freed. */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_slot *slot = calloc(1, sizeof *slot); /* NULL: this connection has no deadlines */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = slot;
        if (!slot) return;
        slot->fd = ci ? (int)ci->connect_fd : -1;
        set_phase(slot, P_HEADERS);
        pthread_mutex_lock(&conn_lock);
        slot->next = conns;
        if (conns) conns->prev = slot;
        conns = slot;
        pthread_mutex_unlock(&conn_lock);
        return;
    }
    conn_slot *slot = *socket_context;
    if (!slot) return;
    pthread_mutex_lock(&conn_lock);
    if (slot->prev) slot->prev->next = slot->next;
    else conns = slot->next;
    if (slot->next) slot->next->prev = slot->prev;
    pthread_mutex_unlock(&conn_lock);
    if (slot->current) free_state(slot->current);
    free(slot);
    *socket_context = NULL;
}

/* MHD URI log callback: allocates the per-request state with the raw URI. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *con) {
    conn_state *st = calloc(1, sizeof *st);
    (void)cls;
    if (!st) return NULL;
    st->raw_uri = strdup(uri ? uri : "/");
    st->started = sb_now();
    if (!st->raw_uri) {
        free(st);
        return NULL;
    }
    /* the sandbox's own /_sandbox calls (a spec polling the record) are not
     * requests of the client under test */
    st->counted = strncmp(st->raw_uri, "/_sandbox", 9) != 0 || (st->raw_uri[9] && !strchr("/?", st->raw_uri[9]));
    if (st->counted) __atomic_add_fetch(&in_flight, 1, __ATOMIC_RELAXED);
    st->slot = slot_of(con);
    if (st->slot) st->slot->current = st;
    return st;
}

/* MHD unescape callback that leaves the text untouched (uri.c decodes). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    return strlen(s);
}

/* Drops the body collected so far and its budget; the rest is read and dropped too. */
static void drop_body(conn_state *st) {
    free(st->body);
    st->body = NULL;
    st->body_len = st->body_cap = 0;
    budget_give(st->reserved);
    st->reserved = 0;
}

/* Makes room for need bytes of body (exactly, or doubling the room when
 * grow), within the budget; 0, -1 when the budget is spent (over_budget
 * set), -2 when out of memory. */
static int reserve_body(conn_state *st, size_t need, int grow) {
    if (need <= st->body_cap) return 0;
    size_t cap = need;
    if (grow) {
        cap = st->body_cap ? st->body_cap : 1024;
        while (cap < need) cap *= 2;
    }
    if (cap > SB_MAX_BODY + 1) cap = SB_MAX_BODY + 1;
    if (budget_take(cap - st->body_cap) < 0) {
        st->over_budget = 1;
        drop_body(st);
        return -1;
    }
    char *body = realloc(st->body, cap);
    if (!body) {
        budget_give(cap - st->body_cap);
        return -2;
    }
    st->reserved += cap - st->body_cap;
    st->body = body;
    st->body_cap = cap;
    return 0;
}

/* Called once the headers are in: a declared Content-Length over the
 * limit marks the body too large, else its room is reserved at once. */
static void begin_body(conn_state *st, struct MHD_Connection *con) {
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
    char *end;
    if (!cl) return;
    unsigned long long n = strtoull(cl, &end, 10);
    if (*end || end == cl || n == 0) return;
    if (n > SB_MAX_BODY) st->too_large = 1;
    else reserve_body(st, (size_t)n + 1, 0); /* out of memory: the body grows as it comes */
}

/* Called once the headers are in: a POST to a Losant upload action is
 * read as multipart/form-data as it comes, never held. 1 when it is one,
 * 0 when not, -1 when out of memory. */
static int begin_upload(conn_state *st, struct MHD_Connection *con, const char *method) {
    sb_request probe;
    memset(&probe, 0, sizeof probe);
    probe.method = method;
    int up = strcmp(method, "POST") == 0 && sb_parse_uri(&probe, st->raw_uri) == 0 && sb_losant_is_upload(&probe);
    sb_free_request(&probe);
    if (!up) return 0;
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
    char *end = NULL;
    long long declared = cl ? strtoll(cl, &end, 10) : -1;
    if (cl && (*end || end == cl)) declared = -1;
    st->upload = sb_upload_new(MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type"), declared);
    return st->upload ? 1 : -1;
}

/* Appends upload data to the request body; -1 when out of memory. */
static int append_body(conn_state *st, const char *data, size_t n) {
    if (st->too_large || st->over_budget) return 0; /* read and dropped */
    if (st->body_len + n > SB_MAX_BODY) {
        st->too_large = 1;
        drop_body(st);
        return 0;
    }
    int rc = reserve_body(st, st->body_len + n + 1, 1);
    if (rc == -1) return 0;
    if (rc < 0) return -1;
    memcpy(st->body + st->body_len, data, n);
    st->body_len += n;
    st->body[st->body_len] = '\0';
    return 0;
}

/* Writes one access-log line on stderr (no headers, no bodies). */
static void log_access(const sb_request *req, int status, double started) {
    const char *q = strchr(req->raw_uri, '?');
    int path_len = q ? (int)(q - req->raw_uri) : (int)strlen(req->raw_uri);
    fprintf(stderr, "%s %.*s %d %.1fms\n", req->method, path_len, req->raw_uri, status, (sb_now() - started) * 1000.0);
}

/* Routes one complete request (front.h). */
void sb_dispatch(sb_request *req, sb_response *res) {
    if (req->nseg == 2 && strcmp(req->seg[0], "_sandbox") == 0 && strcmp(req->seg[1], "requests") == 0) {
        sb_record_serve(req, res);
        return;
    }
    const char *method = req->method;
    if (!strcmp(method, "HEAD")) req->method = "GET"; /* answered as GET; MHD sends no body */
    int handled = sb_store_call(&sb_srv, req, res);
    req->method = method;
    if (!handled) sb_reply_error(res, 404, "NotFound", "Path not found");
}

/* Builds the MHD response for res: an event stream (with the stream
 * faults of f, NULL for none), a stream, a truncate (mode 1) or stall-body
 * (mode 2) fault on a body of at least two bytes (stall-body: one), or the
 * whole body; takes res's body or stream. */
static struct MHD_Response *make_response(sb_response *res, int mode, struct MHD_Connection *con, const sb_fault *f) {
    struct MHD_Response *r;
    if (res->sse) {
        r = sb_sse_response(res->sse, con, f); /* takes it */
        res->sse = NULL;
    } else if (res->stream) {
        sb_stream *s = res->stream;
        r = MHD_create_response_from_callback(s->size, 64 * 1024, s->read, s->cls, s->release);
        if (!r) return NULL; /* sb_reply_clear releases it */
        free(s);
        res->stream = NULL;
    } else if ((mode == 1 && res->body_len > 1) || (mode == 2 && res->body_len > 0)) {
        r = sb_fault_response(res, mode, con);
    } else {
        r = MHD_create_response_from_buffer(res->body_len, res->body ? res->body : (char *)"",
                                            res->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (r) res->body = NULL;
    }
    if (!r) return NULL;
    if (res->content_type) MHD_add_response_header(r, "Content-Type", res->content_type);
    for (char *line = res->extra, *next; *line; line = next) {
        char *colon = strchr(line, ':'), *crlf = strstr(line, "\r\n");
        if (!colon || !crlf) break;
        *colon = '\0';
        *crlf = '\0';
        MHD_add_response_header(r, line, colon + 2);
        next = crlf + 2;
    }
    return r;
}

typedef struct header_list {
    sb_header *items;
    int n, cap;
} header_list;

/* MHD iterator: appends one header to a header_list. */
static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    header_list *list = cls;
    (void)kind;
    if (list->n == list->cap) {
        int cap = list->cap ? list->cap * 2 : 16;
        sb_header *items = realloc(list->items, (size_t)cap * sizeof *items);
        if (!items) return MHD_NO;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n].name = key;
    list->items[list->n].value = value ? value : "";
    list->n++;
    return MHD_YES;
}

/* Answers a request whose body is in: 414, 413, 503 over the budget, or
 * record, faults and dispatch. Returns 1 when the connection was suspended
 * (a delay or stall fault: no answer now), -1 to close it without one. */
static int answer(conn_state *st, struct MHD_Connection *con, sb_request *req, sb_response *res, sb_fault *f) {
    if (sb_parse_uri(req, st->raw_uri) < 0) {
        sb_reply_server_error(req, res, 414, "URITooLong", "URI Too Long", "The request line has too many parts");
        return 0;
    }
    if (st->too_large) {
        sb_reply_server_error(req, res, 413, "PayloadTooLarge", "Payload Too Large",
                              "The body is larger than 4194304 bytes");
        return 0;
    }
    if (st->over_budget) {
        sb_reply_server_error(req, res, 503, "ServiceUnavailable", "Service Unavailable",
                              "The sandbox holds too many request bodies at once; try again");
        sb_reply_header(res, "Retry-After", "1");
        return 0;
    }
    if (!st->decided) {
        st->decided = 1;
        if (sb_cfg.record && !(req->nseg > 0 && strcmp(req->seg[0], "_sandbox") == 0))
            sb_record_request(req, sb_in_flight());
        st->faulty = sb_fault_parse(req, &st->f);
        if (st->faulty && (st->f.stall || st->f.stall_body || st->f.reset)) set_awaited(st, 0);
        /* answer later (stall: never) without holding this thread: suspend, the timer thread wakes it */
        if (st->faulty && (st->f.stall || st->f.delay_ms > 0)
            && sb_fault_suspend(con, st->f.stall ? INFINITY : sb_now() + st->f.delay_ms / 1000.0))
            return 1;
    }
    if (!st->faulty) {
        sb_dispatch(req, res);
        return 0;
    }
    *f = st->f;
    req->fault_flags = f->flags;
    req->bulk_delay_ms = f->bulk_delay_ms;
    if (f->reset || f->stall) return -1; /* a stalled request is back only when the sandbox stops */
    if (!sb_fault_reply(req, res, f)) sb_dispatch(req, res);
    if (f->has_retry_after) sb_reply_header(res, "Retry-After", f->retry_after);
    return 0;
}

/* MHD access handler: collects the body, then answers. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    conn_state *st = *con_cls;
    sb_request req;
    sb_response res;
    sb_fault f;
    header_list headers = {0};
    (void)cls;
    (void)url;
    (void)version;
    if (!st) return MHD_NO; /* out of memory in uri_logger */
    if (!st->seen) { /* first call: headers only; answering now would close the connection */
        st->seen = 1;
        set_phase(st->slot, P_BODY);
        int up = begin_upload(st, con, method);
        if (up < 0) return MHD_NO;
        if (!up) begin_body(st, con);
        return MHD_YES;
    }
    if (*upload_size) {
        if (st->upload ? sb_upload_feed(st->upload, upload_data, *upload_size) < 0
                       : append_body(st, upload_data, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->upload && !st->decided) sb_upload_finish(st->upload);
    set_phase(st->slot, P_HANDLED);
    if (!st->decided) set_awaited(st, 1);
    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    memset(&f, 0, sizeof f);
    req.method = method;
    req.raw_uri = st->raw_uri;
    req.body = st->body ? st->body : "";
    req.body_len = st->body_len;
    req.upload = st->upload;
    req.now = sb_now();
    MHD_get_connection_values(con, MHD_HEADER_KIND, add_header, &headers);
    req.headers = headers.items;
    req.nheaders = headers.n;
    int how = answer(st, con, &req, &res, &f);
    if (how != 0) {
        if (how < 0 && sb_cfg.log) log_access(&req, 0, st->started);
        sb_reply_clear(&res);
        sb_free_request(&req);
        return how > 0 ? MHD_YES : MHD_NO;
    }
    if (sb_cfg.log) log_access(&req, res.status, st->started);
    int mode = !req.seg || st->too_large || st->over_budget ? 0 : f.stall_body ? 2 : f.truncate ? 1 : 0;
    struct MHD_Response *r = make_response(&res, mode, con, st->faulty ? &f : NULL);
    sb_reply_clear(&res);
    enum MHD_Result ret = MHD_NO;
    if (r) {
        leave_in_flight(st);
        ret = MHD_queue_response(con, (unsigned)res.status, r);
        MHD_destroy_response(r);
    }
    sb_free_request(&req);
    return ret;
}

/* MHD completion callback: frees the per-request state; the connection
 * waits for its next request's headers from now. */
static void completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn_state *st = *con_cls;
    (void)cls;
    (void)toe;
    if (!st) return;
    conn_slot *slot = slot_of(con);
    if (slot && slot->current == st) slot->current = NULL;
    set_phase(slot, P_HEADERS);
    free_state(st);
    *con_cls = NULL;
}

#define CONNECTION_MEMORY ((size_t)128 * 1024) /* request line and headers of one connection */

/* Starts the daemon and the timer thread (front.h). */
int sb_http_start(void) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)sb_cfg.port);
    if (inet_pton(AF_INET, sb_cfg.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "eventapi-sandbox: --listen wants an IPv4 address\n");
        return -1;
    }
    /* CONNECTION_MEMORY: each connection's pool holds its request line and
     * headers (a 100 KB query value fits). libmicrohttpd zeroes the whole
     * pool after every request, so its size is paid per request: 512 KiB
     * cost half the CPU of a GET; 128 KiB is about a sixth of that.
     * poll, not epoll: with epoll (edge-triggered), libmicrohttpd 0.9.75
     * now and then never reads the requests of a burst of new connections
     * (500 at once: about 1 run in 30 left a hundred requests unread until
     * the header deadline cut them); level-triggered poll misses none. */
    daemon_handle = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC, 0,
        NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, 8u,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_LIMIT, sb_cfg.max_connections, MHD_OPTION_END);
    if (!daemon_handle) {
        fprintf(stderr, "eventapi-sandbox: cannot listen on %s:%d\n", sb_cfg.host, sb_cfg.port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_handle, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://%s:%u\n", sb_cfg.host, info ? (unsigned)info->port : (unsigned)sb_cfg.port);
    fflush(stdout);
    timer_started = pthread_create(&timer_thread, NULL, timer_main, NULL) == 0;
    if (!timer_started) fprintf(stderr, "eventapi-sandbox: no timer thread: delay faults and deadlines do not work\n");
    return 0;
}

#define STOP_GRACE 10.0 /* seconds a stop waits for the answers due */

/* Stops the timer thread and the daemon (front.h): no new connection is
 * accepted, delayed requests are answered at once, stalled ones closed, and
 * the answers of complete requests are sent (for at most STOP_GRACE seconds)
 * before the connections close; requests still arriving are cut. Then the
 * delayed changes still waiting (--bulk-delay) are applied. */
void sb_http_stop(void) {
    MHD_socket listener = MHD_quiesce_daemon(daemon_handle);
    if (listener != MHD_INVALID_SOCKET) close(listener);
    timer_stop = 1;
    if (timer_started) pthread_join(timer_thread, NULL);
    sb_fault_resume_due(1);
    sb_sse_stop(); /* event streams end after what they have queued */
    double deadline = sb_now() + STOP_GRACE;
    while (__atomic_load_n(&awaited, __ATOMIC_RELAXED) > 0 && sb_now() < deadline) usleep(1000);
    MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    sb_later_run(&sb_srv, 1); /* no request runs any more: what was answered as done is done */
}
