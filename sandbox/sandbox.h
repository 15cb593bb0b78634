/* eventapi-sandbox: the shared interface between the HTTP front (http.c
 * and front.h), the store (store.c), the text helpers (uri.c, reply.c) and
 * the three services (losant*.c, connectdaily*.c, monterosa*.c).
 *
 * Threading: libmicrohttpd runs a thread pool; sb_store_call (store.c)
 * holds sb_server.lock around the service routes and makes each request
 * one transaction, so services use the one SQLite connection without
 * further locking and never BEGIN or COMMIT themselves.
 */
#ifndef EVENTAPI_SANDBOX_H
#define EVENTAPI_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <sqlite3.h>
#include <jansson.h>

#define SB_MAX_BODY (4u * 1024u * 1024u) /* larger bodies get 413 */

/* Fault flags the services honour (sb_request.fault_flags, from X-Sandbox-Fault). */
#define SB_FAULT_REPEAT_PAGE 1u /* lists answer the same page whatever page is asked */
#define SB_FAULT_STALE_PAGE 2u  /* Losant lists: page 0's items under the asked page number */
#define SB_FAULT_BULK_DELAY 4u  /* Losant events.patch: the change lands bulk_delay_ms after the answer */
#define SB_FAULT_WARNING 8u     /* Connect Daily update: 200 {"error": 2} (Warning), nothing changes */
#define SB_FAULT_RESOURCE_CONFLICT 16u /* Connect Daily update: 200 {"error": 3} (resource Conflict), nothing changes */
#define SB_FAULT_CONFLICT 32u   /* Connect Daily update: 409, as if another instance had updated the event */

typedef struct sb_param {
    char *name;  /* percent-decoded, '+' read as space */
    char *value; /* percent-decoded; "" when the param had no '=' */
} sb_param;

typedef struct sb_header {
    const char *name;  /* as received */
    const char *value;
} sb_header;

/* One part of a multipart/form-data upload as it streamed in (upload.c). */
#define SB_PART_KEEP (64u * 1024u) /* a part's bytes are kept when it has at most this many */
typedef struct sb_part {
    char *name;          /* the Content-Disposition name */
    char *filename;      /* NULL when the part had none */
    char *content_type;  /* NULL when the part had none */
    uint64_t size;       /* bytes of its content */
    uint64_t fnv;        /* FNV-1a 64 of its content */
    char *bytes;         /* its content when size <= SB_PART_KEEP, else NULL */
} sb_part;

/* What an upload's body was, read as multipart/form-data without holding it. */
enum sb_upload_state { SB_UPLOAD_OK, SB_UPLOAD_NOT_MULTIPART, SB_UPLOAD_MALFORMED, SB_UPLOAD_TOO_LARGE };
typedef struct sb_upload sb_upload; /* opaque; read it through the calls below */
enum sb_upload_state sb_upload_state(const sb_upload *u, const char **why);
int sb_upload_count(const sb_upload *u);
const sb_part *sb_upload_part(const sb_upload *u, int i);
uint64_t sb_upload_bytes(const sb_upload *u); /* body bytes received */

typedef struct sb_request {
    const char *method;  /* "GET", "POST", ... */
    const char *raw_uri; /* path and query exactly as received */
    char **seg;          /* path split on '/', each segment percent-decoded;
                            a leading empty segment is dropped */
    int nseg;
    sb_param *query;     /* decoded query params, in order */
    int nquery;
    sb_header *headers;
    int nheaders;
    const char *body;    /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    double now;          /* Unix time in seconds when the request was read */
    unsigned fault_flags; /* SB_FAULT_* asked by X-Sandbox-Fault (only with --faults) */
    int bulk_delay_ms;    /* with SB_FAULT_BULK_DELAY: milliseconds (0: at once) */
    const sb_upload *upload; /* an upload action's body, parsed as it came (body is then ""), else NULL */
} sb_request;

/* A body produced piece by piece (the record): read gives up to max bytes
 * at pos (positions in order), release frees cls. */
typedef struct sb_stream {
    uint64_t size;
    ssize_t (*read)(void *cls, uint64_t pos, char *buf, size_t max);
    void (*release)(void *cls);
    void *cls;
} sb_stream;

typedef struct sb_response {
    int status;
    int error;                /* the answer reports a failure (an error body, whatever the status) */
    const char *content_type; /* static; NULL means no Content-Type */
    char *body;               /* malloc'd, owned by the response; may be NULL */
    size_t body_len;
    sb_stream *stream;        /* malloc'd, owned: the body comes from a reader instead (body is NULL) */
    char extra[512];          /* extra header lines "Name: value\r\n", NUL-terminated */
    struct sb_sse *sse;       /* owned: the answer is this event stream (sse.c), not a body */
} sb_response;

/* Server-sent event streams (sse.c; docs/PROTOCOLS.md 1.12). A stream
 * answers 200 text/event-stream and then sends every event published on
 * its channel (whose topic matches its filter) as "event: <event>" with an
 * id, and ":keepalive" comments every keepalive_s seconds. */
typedef struct sb_sse sb_sse;
/* A new stream (copies of the texts; topic NULL: every topic); NULL when
 * out of memory. Put it in res->sse: the front binds it to the connection. */
sb_sse *sb_sse_new(const char *channel, const char *event, const char *topic, int keepalive_s);
/* Frees a stream never handed to the front. */
void sb_sse_free(sb_sse *s);
/* Queues data (one line of JSON) for the streams of channel whose topic
 * filter takes topic (a stream without a filter takes every event); sent when the request's transaction commits. Under the service lock;
 * 0, or -1 when out of memory. */
int sb_sse_publish(const char *channel, const char *topic, const char *data);
/* Sends (commit) or drops the events queued by this transaction (store.c). */
void sb_sse_flush(int commit);

typedef struct sb_server {
    sqlite3 *db;
    pthread_mutex_t lock;
    int rate_limit;       /* service calls per second per credential; 0 = unlimited */
    int bulk_delay_ms;    /* --bulk-delay: Losant's bulk changes land this long after the answer; 0 = at once */
} sb_server;

/* Store (store.c): opens the database (memory when path is NULL), creates the
 * tables and loads the seed into a new store; 0 or -1 with a message on stderr. */
int sb_db_open(sb_server *srv, const char *path, const char *seed_file);
void sb_db_close(sb_server *srv);
/* A prepared statement for sql, a string literal (cached by its address
 * for the life of the connection, reset, bindings cleared); NULL on
 * failure. Under the service lock only. */
sqlite3_stmt *sb_prep(sqlite3 *db, const char *sql);
/* Runs SQL without results; 0, or -1 with the message on stderr. */
int sb_exec(sqlite3 *db, const char *sql);
/* Runs the services' routes for one request (Losant, Connect Daily,
 * Monterosa, in order) under the service lock as ONE transaction: BEGIN,
 * the route, then COMMIT when the answer is a 2xx without an error body
 * (res->error unset), else ROLLBACK; a failed BEGIN or COMMIT is 500.
 * Services open no transactions of their own. 1 when a service took the
 * path, 0 otherwise (nothing answered). */
int sb_store_call(sb_server *srv, const sb_request *req, sb_response *res);
/* Writes a new random UUID (version 4 form) into buf[37]. */
void sb_uuid(char *buf);

/* Changes applied after the answer (later.c): run(srv, arg, now) is
 * called at due (Unix seconds) or later, under the service lock, as one
 * transaction of its own (committed when it returns 0, else rolled back);
 * drop(arg) frees arg after it ran or when it is dropped. 0 when queued
 * (arg is the queue's now), 1 when it cannot wait (the queue is full or
 * the sandbox is stopping: the caller applies the change at once and
 * keeps arg), -1 out of memory (the caller keeps arg). Called from a
 * service under the service lock. */
int sb_later(double due, int (*run)(sb_server *srv, void *arg, double now), void (*drop)(void *arg), void *arg);

/* Request text (uri.c). The one percent-decoder of the sandbox: decodes
 * s[0..n) into out (room for n bytes), %XX as that byte (NUL included),
 * '+' as a space when plus, a '%' without two hex digits kept; returns the
 * decoded length. */
size_t sb_percent_decode(const char *s, size_t n, int plus, char *out);
/* s[0..n) decoded into a new string (NULL when out of memory); a decoding
 * that holds a NUL byte would be cut by it, so that text is kept as
 * received, undecoded: "42%00abc" stays "42%00abc" and names nothing. */
char *sb_decode_text(const char *s, size_t n, int plus);
/* Splits a raw URI into decoded segments and params; -1 when out of memory
 * or over 64 segments or 256 params. */
int sb_parse_uri(sb_request *req, const char *uri);
/* Frees the segments, params and header list of a request. */
void sb_free_request(sb_request *req);
/* The decoded value of form field name in body[0..len) (new string), or
 * NULL when absent or out of memory (then *oom is set). */
char *sb_form_get(const char *body, size_t len, const char *name, int *oom);
/* Lookups: case-insensitive for headers, exact for query names; NULL when
 * absent. */
const char *sb_header_get(const sb_request *req, const char *name);
const char *sb_query_get(const sb_request *req, const char *name);
/* How many times the query param name was given. */
int sb_query_count(const sb_request *req, const char *name);
/* 1 when the Content-Type value ct names exactly the media type type
 * (without regard to case), alone or followed by parameters
 * ("application/json; charset=utf-8"); 0 for another type, including one
 * that only starts like it ("application/jsonx"). */
int sb_media_type_is(const char *ct, const char *type);

/* The service whose routes take the request's (parsed) path, tried in
 * the routing order: Losant, Connect Daily, Monterosa; NONE for others. */
enum sb_service { SB_SERVICE_NONE, SB_SERVICE_LOSANT, SB_SERVICE_CONNECTDAILY, SB_SERVICE_MONTEROSA };
enum sb_service sb_service_of(const sb_request *req);

/* Rate limit (ratelimit.c, thread-safe): counts the request against the budget
 * of its credential (the Authorization value; none is one shared credential)
 * for the current second. 1 when that is over srv->rate_limit, with
 * Retry-After: 1 added to res: the caller answers 429 in its own error
 * shape. 0 otherwise, and always when there is no limit. */
int sb_rate_limited(sb_server *srv, const sb_request *req, sb_response *res);

/* A growing text buffer (reply.c); after a failed allocation it keeps
 * failed set and takes nothing more. */
typedef struct sb_buf {
    char *data; /* NUL-terminated once anything was added */
    size_t len, cap;
    int failed;
} sb_buf;
void sb_buf_add(sb_buf *b, const char *s, size_t n);
void sb_buf_str(sb_buf *b, const char *s);
void sb_buf_fmt(sb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text over (NULL when an allocation failed; "" when empty);
 * the buffer is empty afterwards. */
char *sb_buf_take(sb_buf *b, size_t *len);
void sb_buf_free(sb_buf *b);

/* Response helpers (reply.c). sb_reply_json steals doc; each replaces
 * what res held before. sb_reply_error and the services' error helpers set
 * res->error. sb_reply_clear frees the body or stream. */
void sb_reply_clear(sb_response *res);
char *sb_dump(const json_t *doc, size_t flags); /* compact JSON text (malloc), NULL on failure */
void sb_reply_json(sb_response *res, int status, json_t *doc);
void sb_reply_json_type(sb_response *res, int status, json_t *doc, const char *content_type);
void sb_reply_empty(sb_response *res, int status);
void sb_reply_header(sb_response *res, const char *name, const char *value);
/* Losant-style error body {"type": type, "message": message}. */
void sb_reply_error(sb_response *res, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A server-wide error (413, 414, 500, 503) in the error shape of the
 * service the path belongs to (sb_service_of; from the raw path when it
 * could not be parsed: JSON:API under /api/v2, Connect Daily's under
 * .../restapi/v1, else Losant's {"type", "message"}). */
void sb_reply_server_error(const sb_request *req, sb_response *res, int status, const char *type, const char *title,
                           const char *message);
/* Words jansson's parse error e for users into out[len]: "a number is
 * out of range near '1e999'", "\\u0000 (a NUL character) is not
 * allowed near ...", else jansson's own text. */
void sb_json_error_text(const json_error_t *e, char *out, size_t len);

/* Services. route() answers and returns 1 when the path belongs to the
 * service (405 for a known path with a wrong method), 0 otherwise.
 * schema() creates the service's tables; seed() loads its part of the seed
 * file (the whole seed object is passed), writing a message to err on
 * failure and returning -1. */
int sb_losant_schema(sqlite3 *db);
int sb_losant_seed(sb_server *srv, json_t *seed, char *err, size_t errlen);
int sb_losant_route(sb_server *srv, const sb_request *req, sb_response *res);
/* 1 when the request (method and parsed path) is one of Losant's upload
 * actions, whose body the front parses as it comes (sb_request.upload);
 * reads only the constant table, so it needs no lock. */
int sb_losant_is_upload(const sb_request *req);

/* Each service's error shape, for the server-wide answers (413, 414, 503). */
void sb_connectdaily_error(sb_response *res, int status, const char *message);
void sb_monterosa_error(sb_response *res, int status, const char *title, const char *detail);

int sb_connectdaily_schema(sqlite3 *db);
int sb_connectdaily_seed(sb_server *srv, json_t *seed, char *err, size_t errlen);
int sb_connectdaily_route(sb_server *srv, const sb_request *req, sb_response *res);

int sb_monterosa_schema(sqlite3 *db);
int sb_monterosa_seed(sb_server *srv, json_t *seed, char *err, size_t errlen);
int sb_monterosa_route(sb_server *srv, const sb_request *req, sb_response *res);

#endif
