/* eventapi-sandbox: what the HTTP front's files share (main.c start-up,
 * http.c the libmicrohttpd front, record.c, faults.c, ratelimit.c,
 * reply.c); the services see only sandbox.h. */
#ifndef EVENTAPI_SANDBOX_FRONT_H
#define EVENTAPI_SANDBOX_FRONT_H

#include "sandbox.h"

#include <stdint.h>
#include <sys/types.h>

struct MHD_Connection;
struct MHD_Response;

/* The command line (main.c fills it; defaults in http.c). */
typedef struct sb_config {
    const char *host;
    int port;
    const char *db, *seed;
    int record, faults, log;
    size_t record_bytes;      /* --record-bytes: the record's JSON text at most */
    size_t body_budget;       /* --body-budget: request bodies held at once at most */
    double header_timeout;    /* --header-timeout: seconds for a request's header block */
    double body_timeout;      /* --body-timeout: seconds for its body after the headers */
    unsigned max_connections; /* --max-connections: open connections at once */
    uint64_t upload_max;      /* --upload-max: an upload's body at most (bytes) */
} sb_config;

extern sb_config sb_cfg;  /* http.c */
extern sb_server sb_srv;  /* http.c: the store and the service lock */

/* Current time as Unix seconds with microseconds (http.c). */
double sb_now(void);

/* Requests received and not yet completed, this one included (http.c). */
int sb_in_flight(void);

/* Routes one complete request to /_sandbox/ or a service, under the
 * service lock (HEAD is routed as GET); 404 for other paths (http.c). */
void sb_dispatch(sb_request *req, sb_response *res);

/* Starts the daemon on sb_cfg's address and the timer thread; prints the
 * listening line. 0, or -1 with a message on stderr (http.c). */
int sb_http_start(void);
/* Releases delayed and stalled connections, stops the daemon (the
 * requests in flight finish) and the timer thread (http.c). */
void sb_http_stop(void);

/* The record (record.c): keeps req as received, cut to the byte cap. */
void sb_record_request(const sb_request *req, int in_flight);
/* Answers GET (streamed, no copy of the record) and DELETE of
 * /_sandbox/requests. */
void sb_record_serve(const sb_request *req, sb_response *res);
/* Frees every entry (at exit). */
void sb_record_free(void);

/* Faults (faults.c), from X-Sandbox-Fault with --faults. */
typedef struct sb_fault {
    int status, delay_ms, reset, truncate, garbage, fail_first;
    int stall, stall_body, echo_headers, control_chars;
    unsigned flags;        /* SB_FAULT_* for the services */
    int bulk_delay_ms;     /* bulk-delay=MS (with SB_FAULT_BULK_DELAY) */
    int has_retry_after;   /* retry_after holds a Retry-After value to send */
    char retry_after[256]; /* percent-decoded, no CR, LF or NUL */
    int stream_drop;       /* stream-drop=N: an event stream ends after N messages; -1: not asked */
    int stream_stall;      /* stream-stall: an event stream sends nothing after its head */
    int stream_retry_ms;   /* stream-retry=MS: a "retry: MS" line first; -1: not asked */
} sb_fault;

/* Parses X-Sandbox-Fault into f; 1 when a fault applies to this request
 * (req->fault_flags then set for the services), 0 otherwise. */
int sb_fault_parse(sb_request *req, sb_fault *f);
/* Answers the request as the body faults of f say (echo-headers,
 * control-chars, status=, garbage); 0 when none of them applies. */
int sb_fault_reply(const sb_request *req, sb_response *res, const sb_fault *f);
/* Suspends con until due (INFINITY: until the sandbox stops); 0 when it
 * cannot (out of memory, or stopping): the caller answers now. */
int sb_fault_suspend(struct MHD_Connection *con, double due);
/* Resumes the suspended connections that are due; with all, every one,
 * and none may be suspended afterwards (stopping). */
void sb_fault_resume_due(int all);
/* The MHD response for res with a truncate (mode 1) or stall-body (mode 2)
 * fault; takes res->body; NULL when out of memory. */
struct MHD_Response *sb_fault_response(sb_response *res, int mode, struct MHD_Connection *con);
/* Frees the fail-first keys (at exit). */
void sb_fault_free(void);

/* Event streams (sse.c): the MHD response of stream s bound to con with
 * the stream faults of f (NULL: none); takes s (freed on failure); NULL
 * when out of memory. */
struct MHD_Response *sb_sse_response(sb_sse *s, struct MHD_Connection *con, const sb_fault *f);
/* Timer thread: keep-alives that are due, and streams whose client hung up. */
void sb_sse_tick(void);
/* Stopping: every stream ends after what it has queued; none opens after. */
void sb_sse_stop(void);

/* Uploads (upload.c): a multipart/form-data body parsed as it streams in.
 * new reads the boundary from content_type (NULL or another type: the
 * body is counted and dropped, state NOT_MULTIPART) and takes declared,
 * the Content-Length (-1: none); NULL when out of memory. feed gives the
 * next bytes (-1: out of memory); finish marks the end of the body. */
sb_upload *sb_upload_new(const char *content_type, long long declared);
int sb_upload_feed(sb_upload *u, const char *data, size_t n);
void sb_upload_finish(sb_upload *u);
void sb_upload_free(sb_upload *u);
/* The parts as a JSON list for the record (new reference), NULL when out of memory. */
json_t *sb_upload_json(const sb_upload *u);

/* Changes applied after the answer (later.c, sb_later in sandbox.h): runs
 * the ones that are due, each under the service lock; with all, every one
 * still waiting, and none is accepted afterwards (stopping). */
void sb_later_run(sb_server *srv, int all);

#endif
