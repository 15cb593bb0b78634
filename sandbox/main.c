/* eventapi-sandbox: command line, HTTP front on libmicrohttpd, request
 * record, fault injection, access log and dispatch to the services. */
#include "sandbox.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>

#define RECORD_MAX 1000

typedef struct options {
    const char *host;
    int port;
    const char *db;
    const char *seed;
    int record, faults, log;
} options;

typedef struct record_entry {
    char *json; /* the recorded request as one JSON object text */
} record_entry;

typedef struct fault {
    int status, delay_ms, reset, truncate, garbage, fail_first;
    int stall, stall_body, echo_headers, control_chars;
    unsigned flags;        /* SB_FAULT_* for the services */
    int has_retry_after;   /* retry_after holds a Retry-After value to send */
    char retry_after[256]; /* percent-decoded, no CR, LF or NUL */
} fault;

/* Per-connection request state, created by the URI log callback. */
typedef struct conn_state {
    char *raw_uri;
    char *body;
    size_t body_len, body_cap;
    int too_large;
    int seen;       /* the access handler has been called once */
    int decided;    /* record and faults done (a delayed request comes back) */
    int faulty;
    fault f;
    double started;
    int counted;    /* counted in in_flight */
} conn_state;

typedef struct fault_key {
    char *key;
    int seen;
    struct fault_key *next;
} fault_key;

static sb_server server;
static options opts;
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static record_entry records[RECORD_MAX];
static int record_start, record_count;
static int in_flight; /* requests received and not yet completed (under record_lock) */
static fault_key *fault_keys;
static volatile sig_atomic_t stop_requested;

/* Connections suspended by a delay fault, resumed by the resumer thread, and
 * by a stall or stall-body fault (due INFINITY), resumed when the sandbox stops. */
typedef struct delayed {
    struct MHD_Connection *con;
    double due;
    struct delayed *next;
} delayed;
static pthread_mutex_t delay_lock = PTHREAD_MUTEX_INITIALIZER;
static delayed *delays;
static int stopping; /* under delay_lock: everything resumed, nothing may be suspended any more */
static volatile int resumer_stop;

/* Current time as Unix seconds with microseconds. */
static double now_seconds(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- response helpers (declared in sandbox.h) ---- */

char *sb_dump(const json_t *doc, size_t flags) {
    /* json_dumps is not used: jansson 2.14 ignores a failed append while it
     * writes an object key, so out of memory gave malformed JSON (found by
     * tools/sandbox_oom). Measuring first and writing into a buffer of the
     * exact size cannot fail half-way. */
    size_t n = json_dumpb(doc, NULL, 0, flags);
    if (n == 0) return NULL;
    char *text = malloc(n + 1);
    if (!text) return NULL;
    if (json_dumpb(doc, text, n, flags) != n) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

void sb_reply_json_type(sb_response *res, int status, json_t *doc, const char *content_type) {
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    res->status = status;
    res->content_type = content_type;
    if (doc) {
        res->body = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(doc);
    }
    if (!res->body) { /* out of memory or no document */
        static const char oom[] = "{\"type\":\"InternalError\",\"message\":\"out of memory\"}";
        res->status = 500;
        res->content_type = "application/json";
        res->body = strdup(oom);
    }
    res->body_len = res->body ? strlen(res->body) : 0;
}

void sb_reply_json(sb_response *res, int status, json_t *doc) {
    sb_reply_json_type(res, status, doc, "application/json");
}

void sb_reply_empty(sb_response *res, int status) {
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    res->status = status;
    res->content_type = NULL;
}

void sb_reply_header(sb_response *res, const char *name, const char *value) {
    size_t used = strlen(res->extra);
    snprintf(res->extra + used, sizeof res->extra - used, "%s: %s\r\n", name, value);
}

void sb_reply_error(sb_response *res, int status, const char *type, const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    sb_reply_json(res, status, json_pack("{s:s, s:s}", "type", type, "message", message));
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

/* ---- record ---- */

/* Stores the request as a JSON object in the ring of the last 1,000. */
static void record_request(const sb_request *req) {
    const char *q = strchr(req->raw_uri, '?');
    json_t *headers = json_object(), *doc;
    char *text;
    int flying;
    if (!headers) return;
    pthread_mutex_lock(&record_lock);
    flying = in_flight;
    pthread_mutex_unlock(&record_lock);
    for (int i = 0; i < req->nheaders; i++) {
        char name[256];
        size_t n = strlen(req->headers[i].name);
        if (n >= sizeof name) n = sizeof name - 1;
        for (size_t k = 0; k < n; k++) name[k] = (char)tolower((unsigned char)req->headers[i].name[k]);
        name[n] = '\0';
        json_object_set_new(headers, name, json_string(req->headers[i].value));
    }
    doc = json_pack("{s:s, s:s, s:s%, s:s, s:o, s:s%, s:i}", "method", req->method, "uri", req->raw_uri,
                    "path", req->raw_uri, q ? (size_t)(q - req->raw_uri) : strlen(req->raw_uri),
                    "query", q ? q + 1 : "", "headers", headers, "body", req->body ? req->body : "",
                    req->body_len, "in_flight", flying);
    if (!doc) return;
    text = sb_dump(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text) return;
    pthread_mutex_lock(&record_lock);
    if (record_count == RECORD_MAX) {
        free(records[record_start].json);
        records[record_start].json = text;
        record_start = (record_start + 1) % RECORD_MAX;
    } else {
        records[(record_start + record_count) % RECORD_MAX].json = text;
        record_count++;
    }
    pthread_mutex_unlock(&record_lock);
}

/* Answers GET and DELETE /_sandbox/requests. */
static void serve_record(const sb_request *req, sb_response *res) {
    if (strcmp(req->method, "DELETE") == 0) {
        pthread_mutex_lock(&record_lock);
        for (int i = 0; i < record_count; i++) free(records[(record_start + i) % RECORD_MAX].json);
        record_start = record_count = 0;
        pthread_mutex_unlock(&record_lock);
        sb_reply_json(res, 200, json_pack("{s:b}", "success", 1));
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        sb_reply_header(res, "Allow", "GET, HEAD, DELETE");
        sb_reply_error(res, 405, "MethodNotAllowed", "%s is not allowed on /_sandbox/requests", req->method);
        return;
    }
    size_t len = 2;
    pthread_mutex_lock(&record_lock);
    for (int i = 0; i < record_count; i++) len += strlen(records[(record_start + i) % RECORD_MAX].json) + 1;
    char *body = malloc(len + 1), *o = body;
    if (body) {
        *o++ = '[';
        for (int i = 0; i < record_count; i++) {
            const char *j = records[(record_start + i) % RECORD_MAX].json;
            size_t n = strlen(j);
            if (i) *o++ = ',';
            memcpy(o, j, n);
            o += n;
        }
        *o++ = ']';
        *o = '\0';
    }
    pthread_mutex_unlock(&record_lock);
    if (!body) {
        sb_reply_error(res, 500, "InternalError", "out of memory");
        return;
    }
    sb_reply_empty(res, 200);
    res->content_type = "application/json";
    res->body = body;
    res->body_len = (size_t)(o - body);
}

/* ---- rate limit ---- */

/* One fixed-size table, so the bookkeeping stays bounded whatever credentials
 * arrive: a slot counting an earlier second is free for another credential;
 * while every slot counts the current second, new credentials share one. */
#define RATE_SLOTS 1024
#define RATE_HEAD 64 /* bytes of a credential kept, with its length and hash */

typedef struct rate_slot {
    int used, anonymous; /* anonymous: requests without Authorization */
    uint64_t hash;
    size_t len;
    char head[RATE_HEAD];
    long long second; /* the second counted */
    int count;        /* calls allowed in it */
} rate_slot;

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static rate_slot rate_slots[RATE_SLOTS];
static rate_slot rate_overflow;

/* FNV-1a hash of s[0..n). */
static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* Counts a service call against its credential's budget for this second (sandbox.h). */
int sb_rate_limited(sb_server *srv, const sb_request *req, sb_response *res) {
    if (srv->rate_limit <= 0) return 0;
    const char *cred = sb_header_get(req, "Authorization");
    int anonymous = cred == NULL;
    size_t len = cred ? strlen(cred) : 0, head = len < RATE_HEAD ? len : RATE_HEAD;
    uint64_t hash = fnv1a(cred ? cred : "", len);
    long long second = (long long)floor(req->now);
    rate_slot *slot = NULL, *spare = NULL;
    int over;
    pthread_mutex_lock(&rate_lock);
    for (int i = 0; i < RATE_SLOTS && !slot; i++) {
        rate_slot *r = &rate_slots[i];
        if (r->used && r->anonymous == anonymous && r->hash == hash && r->len == len
            && memcmp(r->head, cred ? cred : "", head) == 0)
            slot = r;
        else if (!spare && (!r->used || r->second != second))
            spare = r;
    }
    if (!slot && spare) {
        slot = spare;
        slot->used = 1;
        slot->anonymous = anonymous;
        slot->hash = hash;
        slot->len = len;
        memcpy(slot->head, cred ? cred : "", head);
        slot->count = 0;
        slot->second = second;
    }
    if (!slot) slot = &rate_overflow;
    if (slot->second != second) {
        slot->second = second;
        slot->count = 0;
    }
    over = slot->count >= srv->rate_limit;
    if (!over) slot->count++;
    pthread_mutex_unlock(&rate_lock);
    if (over) sb_reply_header(res, "Retry-After", "1");
    return over;
}

/* ---- faults ---- */

/* Sets f's Retry-After to text percent-decoded; a value holding CR, LF or
 * NUL, empty or longer than 255 bytes is ignored. */
static void set_retry_after(fault *f, const char *text) {
    size_t n = strlen(text);
    char *out = malloc(n + 1);
    if (!out) return;
    n = sb_percent_decode(text, n, 0, out);
    /* MHD sends no header with an empty value */
    if (n > 0 && n < sizeof f->retry_after && !memchr(out, '\r', n) && !memchr(out, '\n', n) && !memchr(out, '\0', n)) {
        memcpy(f->retry_after, out, n);
        f->retry_after[n] = '\0';
        f->has_retry_after = 1;
    }
    free(out);
}

/* Applies one item of X-Sandbox-Fault (spaces around it already trimmed). */
static void parse_fault_item(fault *f, const char *tok) {
    if (sscanf(tok, "status=%d", &f->status) == 1) return;
    if (sscanf(tok, "delay=%d", &f->delay_ms) == 1) return;
    if (sscanf(tok, "fail-first=%d", &f->fail_first) == 1) return;
    if (strncmp(tok, "retry-after=", 12) == 0) set_retry_after(f, tok + 12);
    else if (strcmp(tok, "stall") == 0) f->stall = 1;
    else if (strcmp(tok, "stall-body") == 0) f->stall_body = 1;
    else if (strcmp(tok, "echo-headers") == 0) f->echo_headers = 1;
    else if (strcmp(tok, "control-chars") == 0) f->control_chars = 1;
    else if (strcmp(tok, "repeat-page") == 0) f->flags |= SB_FAULT_REPEAT_PAGE;
    else if (strcmp(tok, "stale-page") == 0) f->flags |= SB_FAULT_STALE_PAGE;
    else if (strncmp(tok, "reset", 5) == 0) f->reset = 1;
    else if (strncmp(tok, "truncate", 8) == 0) f->truncate = 1;
    else if (strncmp(tok, "garbage", 7) == 0) f->garbage = 1;
}

/* Parses X-Sandbox-Fault; returns 1 when a fault applies to this request,
 * whose fault_flags it then sets for the services. */
static int parse_fault(sb_request *req, fault *f) {
    const char *spec = sb_header_get(req, "X-Sandbox-Fault");
    memset(f, 0, sizeof *f);
    req->fault_flags = 0;
    if (!spec || !opts.faults) return 0;
    for (const char *p = spec; *p;) { /* comma-separated items; one over 1 KiB is ignored */
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
        char tok[1024];
        if (end > p && (size_t)(end - p) < sizeof tok) {
            memcpy(tok, p, (size_t)(end - p));
            tok[end - p] = '\0';
            parse_fault_item(f, tok);
        }
        if (!comma) break;
        p = comma + 1;
    }
    if (f->fail_first > 0) {
        const char *key = sb_header_get(req, "X-Sandbox-Fault-Key");
        fault_key *k;
        int seen = 0;
        if (!key) key = "";
        pthread_mutex_lock(&record_lock);
        for (k = fault_keys; k && strcmp(k->key, key) != 0; k = k->next) {}
        if (!k && (k = calloc(1, sizeof *k)) && (k->key = strdup(key))) {
            k->next = fault_keys;
            fault_keys = k;
        } else if (k && !k->key) {
            free(k);
            k = NULL;
        }
        if (k) seen = k->seen++;
        pthread_mutex_unlock(&record_lock);
        if (seen >= f->fail_first) return 0;
    }
    req->fault_flags = f->flags;
    return 1;
}

/* Suspends con until due (INFINITY: until the sandbox stops); 0 when it
 * cannot (out of memory, or the sandbox is stopping): the caller goes on. */
static int suspend_until(struct MHD_Connection *con, double due) {
    delayed *d = malloc(sizeof *d);
    if (!d) return 0;
    d->con = con;
    d->due = due;
    pthread_mutex_lock(&delay_lock);
    if (stopping) {
        pthread_mutex_unlock(&delay_lock);
        free(d);
        return 0;
    }
    d->next = delays;
    delays = d;
    MHD_suspend_connection(con);
    pthread_mutex_unlock(&delay_lock);
    return 1;
}

/* A body sent through a content reader (truncate and stall-body faults). */
typedef struct partial_body {
    char *body;
    size_t len;
    struct MHD_Connection *con; /* stall-body: the connection to suspend */
    delayed *wait;              /* stall-body: its entry for delays, until handed over */
} partial_body;

/* Content reader that sends the first half of the body then fails, so the
 * client sees fewer bytes than Content-Length promised. */
static ssize_t truncated_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    partial_body *b = cls;
    size_t half = b->len / 2;
    if (pos >= half) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = half - (size_t)pos;
    if (n > max) n = max;
    memcpy(buf, b->body + pos, n);
    return (ssize_t)n;
}

/* Content reader of stall-body: the first half of the body, then it
 * suspends the connection (returning 0 only together with that, so nothing
 * spins) until the sandbox stops, and then ends with an error. */
static ssize_t stalling_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    partial_body *b = cls;
    if (pos < b->len / 2) return truncated_reader(cls, pos, buf, max);
    pthread_mutex_lock(&delay_lock);
    if (stopping || !b->wait) {
        pthread_mutex_unlock(&delay_lock);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    b->wait->next = delays;
    delays = b->wait;
    b->wait = NULL;
    MHD_suspend_connection(b->con);
    pthread_mutex_unlock(&delay_lock);
    return 0;
}

/* Frees a body handed to a content reader. */
static void free_partial_body(void *cls) {
    partial_body *b = cls;
    free(b->body);
    free(b->wait);
    free(b);
}

/* A JSON string of s; bytes that are not UTF-8 become '?' (NULL on failure). */
static json_t *text_json(const char *s) {
    json_t *j = json_string(s);
    if (j) return j;
    char *copy = strdup(s);
    if (!copy) return NULL;
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80) *c = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* Adds one header to the echo-headers object under its lower-case name
 * (a repeated header's values joined with ", "); 0 or -1. */
static int echo_one(json_t *headers, const char *name, const char *value) {
    char *lower = strdup(name), *joined = NULL;
    int rc = -1;
    if (!lower) return -1;
    for (char *c = lower; *c; c++) *c = (char)tolower((unsigned char)*c);
    json_t *old = json_object_get(headers, lower);
    if (old) {
        const char *before = json_string_value(old);
        size_t n = strlen(before) + strlen(value) + 3;
        if ((joined = malloc(n))) snprintf(joined, n, "%s, %s", before, value);
    }
    if (!old || joined) rc = json_object_set_new(headers, lower, text_json(joined ? joined : value));
    free(joined);
    free(lower);
    return rc;
}

/* Answers the echo-headers fault: every request header, Authorization
 * included, in the message and in "headers". */
static void reply_echo_headers(const sb_request *req, sb_response *res, int status) {
    static const char intro[] = "request headers: ";
    size_t cap = sizeof intro;
    for (int i = 0; i < req->nheaders; i++) cap += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 4;
    char *message = malloc(cap), *o = message;
    json_t *headers = json_object(), *doc = json_object();
    int failed = !message || !headers || !doc;
    if (!failed) {
        o += snprintf(o, cap, "%s", intro);
        for (int i = 0; i < req->nheaders && !failed; i++) {
            o += snprintf(o, cap - (size_t)(o - message), "%s%s: %s", i ? "; " : "", req->headers[i].name,
                          req->headers[i].value);
            failed = echo_one(headers, req->headers[i].name, req->headers[i].value) < 0;
        }
    }
    failed = failed || json_object_set_new(doc, "type", json_string("SandboxFault")) < 0
             || json_object_set_new(doc, "message", text_json(message)) < 0
             || json_object_set(doc, "headers", headers) < 0;
    free(message);
    json_decref(headers);
    if (failed) {
        json_decref(doc);
        doc = NULL; /* sb_reply_json answers 500 */
    }
    sb_reply_json(res, status, doc);
}

/* Answers the control-chars fault: a type and a message full of terminal
 * escapes, CR LF, C0 and C1 controls, DEL and a NUL. */
static void reply_control_chars(sb_response *res, int status) {
    static const char type[] = "Bad\x1b[31mType\r\nX";
    static const char message[] = "line one\r\nline two \x1b[2J bell\a del\x7f c1\xc2\x85 nul\0 end";
    sb_reply_json(res, status, json_pack("{s:s%, s:s%}", "type", type, sizeof type - 1, "message", message,
                                         sizeof message - 1));
}

/* ---- dispatch ---- */

/* Routes one complete request to the sandbox endpoints or a service. */
static void dispatch(sb_request *req, sb_response *res) {
    if (req->nseg >= 2 && strcmp(req->seg[0], "_sandbox") == 0 && strcmp(req->seg[1], "requests") == 0
        && req->nseg == 2) {
        serve_record(req, res);
        return;
    }
    const char *method = req->method;
    if (!strcmp(method, "HEAD")) req->method = "GET"; /* answered as GET; MHD sends no body */
    pthread_mutex_lock(&server.lock);
    int handled = sb_losant_route(&server, req, res) || sb_connectdaily_route(&server, req, res)
                  || sb_monterosa_route(&server, req, res);
    pthread_mutex_unlock(&server.lock);
    req->method = method;
    if (!handled) sb_reply_error(res, 404, "NotFound", "Path not found");
}

/* Answers a server-wide error (413, 414, 503) in the error shape of the
 * service the raw path belongs to: JSON:API under /api/v2, Connect Daily's
 * under .../restapi/v1, else Losant's. */
static void reply_server_error(const sb_request *req, sb_response *res, int status, const char *type,
                               const char *title, const char *message) {
    const char *uri = req->raw_uri, *q = strchr(uri, '?');
    size_t n = q ? (size_t)(q - uri) : strlen(uri);
    char path[1024];
    snprintf(path, sizeof path, "%.*s/", (int)(n < sizeof path - 2 ? n : sizeof path - 2), uri);
    if (!strncmp(path, "/api/v2/", 8)) sb_monterosa_error(res, status, title, message);
    else if (strstr(path, "/restapi/v1/")) sb_connectdaily_error(res, status, message);
    else sb_reply_error(res, status, type, "%s", message);
}

enum body_mode { BODY_WHOLE, BODY_TRUNCATE, BODY_STALL };

/* Builds the MHD response for res, honouring a truncate or stall-body fault
 * (mode) on a body of at least two bytes (stall-body: one); con is the
 * connection stall-body suspends. */
static struct MHD_Response *make_response(sb_response *res, enum body_mode mode, struct MHD_Connection *con) {
    struct MHD_Response *r;
    if ((mode == BODY_TRUNCATE && res->body_len > 1) || (mode == BODY_STALL && res->body_len > 0)) {
        partial_body *b = calloc(1, sizeof *b);
        if (!b) return NULL;
        b->body = res->body;
        b->len = res->body_len;
        b->con = con;
        res->body = NULL;
        if (mode == BODY_STALL && !(b->wait = malloc(sizeof *b->wait))) {
            free_partial_body(b);
            return NULL;
        }
        if (b->wait) {
            b->wait->con = con;
            b->wait->due = INFINITY;
        }
        r = MHD_create_response_from_callback(b->len, 4096, mode == BODY_STALL ? stalling_reader : truncated_reader,
                                              b, free_partial_body);
        if (!r) free_partial_body(b);
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

/* Per-connection slot holding the request in progress, so that a request MHD
 * drops before calling the access handler (a header block over the memory
 * limit: no completion callback then) is freed when its connection closes. */
typedef struct conn_slot {
    conn_state *current;
} conn_slot;

/* The slot of a connection, or NULL. */
static conn_slot *slot_of(struct MHD_Connection *con) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Frees a request's state and takes it out of in_flight. */
static void free_state(conn_state *st) {
    if (st->counted) {
        pthread_mutex_lock(&record_lock);
        in_flight--;
        pthread_mutex_unlock(&record_lock);
    }
    free(st->raw_uri);
    free(st->body);
    free(st);
}

/* MHD connection callback: a slot per connection; at close, frees a request left without completion. */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    (void)con;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(conn_slot)); /* NULL: requests are simply not tracked */
        return;
    }
    conn_slot *slot = *socket_context;
    if (!slot) return;
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
    st->started = now_seconds();
    if (!st->raw_uri) {
        free(st);
        return NULL;
    }
    pthread_mutex_lock(&record_lock);
    in_flight++;
    pthread_mutex_unlock(&record_lock);
    st->counted = 1;
    conn_slot *slot = slot_of(con);
    if (slot) slot->current = st;
    return st;
}

/* MHD unescape callback that leaves the text untouched (we decode ourselves). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    return strlen(s);
}

/* Appends upload data to the request body; marks it too large past the limit. */
static int append_body(conn_state *st, const char *data, size_t n) {
    if (st->too_large || st->body_len + n > SB_MAX_BODY) {
        st->too_large = 1;
        return 0;
    }
    if (st->body_len + n + 1 > st->body_cap) {
        size_t cap = st->body_cap ? st->body_cap : 1024;
        while (cap < st->body_len + n + 1) cap *= 2;
        char *body = realloc(st->body, cap);
        if (!body) return -1;
        st->body = body;
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, n);
    st->body_len += n;
    st->body[st->body_len] = '\0';
    return 0;
}

/* Writes one access-log line on stderr (no headers, no bodies). */
static void log_access(const sb_request *req, int status, double started) {
    const char *q = strchr(req->raw_uri, '?');
    int path_len = q ? (int)(q - req->raw_uri) : (int)strlen(req->raw_uri);
    fprintf(stderr, "%s %.*s %d %.1fms\n", req->method, path_len, req->raw_uri, status,
            (now_seconds() - started) * 1000.0);
}

/* MHD access handler: collects the body, then answers. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls) {
    conn_state *st = *con_cls;
    sb_request req;
    sb_response res;
    fault f;
    header_list headers = {0};
    struct MHD_Response *r;
    enum MHD_Result ret;
    (void)cls;
    (void)url;
    (void)version;
    memset(&f, 0, sizeof f);
    if (!st) return MHD_NO; /* out of memory in uri_logger */
    if (!st->seen) { /* first call: headers only; answering now would close the connection */
        st->seen = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (append_body(st, upload_data, *upload_size) < 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    req.method = method;
    req.raw_uri = st->raw_uri;
    req.body = st->body ? st->body : "";
    req.body_len = st->body_len;
    req.now = now_seconds();
    MHD_get_connection_values(con, MHD_HEADER_KIND, add_header, &headers);
    req.headers = headers.items;
    req.nheaders = headers.n;
    if (sb_parse_uri(&req, st->raw_uri) < 0) {
        reply_server_error(&req, &res, 414, "URITooLong", "URI Too Long", "The request line has too many parts");
    } else if (st->too_large) {
        reply_server_error(&req, &res, 413, "PayloadTooLarge", "Payload Too Large", "The body is larger than 4194304 bytes");
    } else {
        if (!st->decided) {
            st->decided = 1;
            if (opts.record && !(req.nseg > 0 && strcmp(req.seg[0], "_sandbox") == 0)) record_request(&req);
            st->faulty = parse_fault(&req, &st->f);
            /* answer later (stall: never) without holding this thread: suspend, the resumer wakes it */
            if (st->faulty && (st->f.stall || st->f.delay_ms > 0)
                && suspend_until(con, st->f.stall ? INFINITY : now_seconds() + st->f.delay_ms / 1000.0)) {
                sb_free_request(&req);
                return MHD_YES;
            }
        }
        int faulty = st->faulty;
        f = st->f;
        req.fault_flags = faulty ? f.flags : 0;
        if (faulty && (f.reset || f.stall)) { /* a stalled request is back only when the sandbox stops */
            if (opts.log) log_access(&req, 0, st->started);
            sb_free_request(&req);
            return MHD_NO;
        }
        if (faulty && f.echo_headers) {
            reply_echo_headers(&req, &res, f.status ? f.status : 400);
        } else if (faulty && f.control_chars) {
            reply_control_chars(&res, f.status ? f.status : 400);
        } else if (faulty && f.status) {
            sb_reply_error(&res, f.status, "SandboxFault", "Injected fault: status %d", f.status);
        } else if (faulty && f.garbage) {
            sb_reply_empty(&res, 200);
            res.content_type = "application/json";
            res.body = strdup("<html>this is not JSON</html>");
            res.body_len = res.body ? strlen(res.body) : 0;
        } else {
            dispatch(&req, &res);
        }
        if (faulty && f.has_retry_after) sb_reply_header(&res, "Retry-After", f.retry_after);
        if (!faulty) memset(&f, 0, sizeof f);
    }
    if (opts.log) log_access(&req, res.status, st->started);
    enum body_mode mode = !req.seg || st->too_large ? BODY_WHOLE
                          : f.stall_body           ? BODY_STALL
                          : f.truncate             ? BODY_TRUNCATE
                                                   : BODY_WHOLE;
    r = make_response(&res, mode, con);
    free(res.body);
    if (!r) {
        sb_free_request(&req);
        return MHD_NO;
    }
    ret = MHD_queue_response(con, (unsigned)res.status, r);
    MHD_destroy_response(r);
    sb_free_request(&req);
    return ret;
}

/* MHD completion callback: frees the per-request state. */
static void completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn_state *st = *con_cls;
    (void)cls;
    (void)toe;
    if (!st) return;
    conn_slot *slot = slot_of(con);
    if (slot && slot->current == st) slot->current = NULL;
    free_state(st);
    *con_cls = NULL;
}

/* Resumes the delayed connections that are due; with all set, every
 * suspended connection, and none is suspended afterwards (stopping). */
static void resume_due(int all) {
    double now = now_seconds();
    pthread_mutex_lock(&delay_lock);
    if (all) stopping = 1;
    for (delayed **p = &delays; *p;) {
        delayed *d = *p;
        if (all || d->due <= now) {
            *p = d->next;
            MHD_resume_connection(d->con);
            free(d);
        } else {
            p = &d->next;
        }
    }
    pthread_mutex_unlock(&delay_lock);
}

/* Thread body: resumes delayed connections every 2 ms until asked to stop. */
static void *resumer(void *arg) {
    (void)arg;
    while (!resumer_stop) {
        usleep(2000);
        resume_due(0);
    }
    return NULL;
}

/* Signal handler: asks the main loop to stop. */
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* Prints usage on stderr and exits with status 2. */
static void usage(const char *why) {
    if (why) fprintf(stderr, "eventapi-sandbox: %s\n", why);
    fprintf(stderr,
            "usage: eventapi-sandbox [--listen 127.0.0.1:PORT] [--db FILE] [--seed FILE.json]\n"
            "                        [--record] [--faults] [--rate-limit N] [--log]\n");
    exit(2);
}

/* Parses the command line into opts and server. */
static void parse_args(int argc, char **argv) {
    opts.host = "127.0.0.1";
    opts.port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            static char host[64];
            const char *colon = strrchr(argv[++i], ':');
            if (!colon || (size_t)(colon - argv[i]) >= sizeof host) usage("--listen wants HOST:PORT");
            memcpy(host, argv[i], (size_t)(colon - argv[i]));
            host[colon - argv[i]] = '\0';
            opts.host = host;
            char *end;
            long port = strtol(colon + 1, &end, 10);
            if (*end || port < 0 || port > 65535) usage("--listen: bad port");
            opts.port = (int)port;
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            opts.db = argv[++i];
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            opts.seed = argv[++i];
        } else if (strcmp(a, "--rate-limit") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 0 || n > 1000000) usage("--rate-limit wants a number of requests per second");
            server.rate_limit = (int)n;
        } else if (strcmp(a, "--record") == 0) {
            opts.record = 1;
        } else if (strcmp(a, "--faults") == 0) {
            opts.faults = 1;
        } else if (strcmp(a, "--log") == 0) {
            opts.log = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(NULL);
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown or incomplete option '%s'", a);
            usage(msg);
        }
    }
}


/* Starts the daemon, prints the listening line, waits for a signal. */
int main(int argc, char **argv) {
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct sigaction sa;

    parse_args(argc, argv);
    pthread_mutex_init(&server.lock, NULL);
    if (sb_db_open(&server, opts.db, opts.seed) < 0) return 2;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opts.port);
    if (inet_pton(AF_INET, opts.host, &addr.sin_addr) != 1) usage("--listen wants an IPv4 address");

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* SIGINT and SIGTERM stay blocked in every thread (the daemon's threads
     * inherit this mask) and main takes them with sigwait: a process-directed
     * signal handled by a worker thread would leave main in pause() forever. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG
                             | MHD_ALLOW_SUSPEND_RESUME,
                         0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_THREAD_POOL_SIZE, 8u, MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL,
                         MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                         completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(512 * 1024),
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "eventapi-sandbox: cannot listen on %s:%d: %s\n", opts.host, opts.port, strerror(errno));
        sb_db_close(&server);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://%s:%u\n", opts.host, info ? (unsigned)info->port : (unsigned)opts.port);
    fflush(stdout);

    pthread_t resumer_thread;
    int resumer_started = pthread_create(&resumer_thread, NULL, resumer, NULL) == 0;
    if (!resumer_started) fprintf(stderr, "eventapi-sandbox: no resumer thread: delay faults answer late\n");

    while (!stop_requested) {
        int sig;
        if (sigwait(&stop_signals, &sig) == 0) stop_requested = 1;
    }

    resumer_stop = 1;
    if (resumer_started) pthread_join(resumer_thread, NULL);
    resume_due(1);      /* delayed requests are answered, not dropped; stalled ones are closed */
    MHD_stop_daemon(d); /* waits for the requests in flight */
    sb_db_close(&server);
    pthread_mutex_lock(&record_lock);
    for (int i = 0; i < record_count; i++) free(records[(record_start + i) % RECORD_MAX].json);
    while (fault_keys) {
        fault_key *next = fault_keys->next;
        free(fault_keys->key);
        free(fault_keys);
        fault_keys = next;
    }
    pthread_mutex_unlock(&record_lock);
    return 0;
}
