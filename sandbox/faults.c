/* eventapi-sandbox: fault injection (--faults, the X-Sandbox-Fault header;
 * sandbox/README.md): parsing, the fail-first keys, delayed and stalled
 * connections (suspended, resumed by the timer thread of http.c), the
 * truncate and stall-body readers, echo-headers and control-chars. The
 * event-stream faults (stream-drop, stream-stall, stream-retry) are
 * applied by sse.c. */
#include "front.h"

#include <ctype.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fault_key {
    char *key;
    int seen;
    struct fault_key *next;
} fault_key;

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static fault_key *fault_keys; /* fail-first counters, under key_lock */

/* Connections suspended by a delay fault, resumed by the timer thread, and
 * by a stall or stall-body fault (due INFINITY), resumed when the sandbox stops. */
typedef struct delayed {
    struct MHD_Connection *con;
    double due;
    struct delayed *next;
} delayed;
static pthread_mutex_t delay_lock = PTHREAD_MUTEX_INITIALIZER;
static delayed *delays;
static int stopping; /* under delay_lock: everything resumed, nothing may be suspended any more */

/* Sets f's Retry-After to text percent-decoded; a value holding CR, LF or
 * NUL, empty or longer than 255 bytes is ignored. */
static void set_retry_after(sb_fault *f, const char *text) {
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
static void parse_fault_item(sb_fault *f, const char *tok) {
    if (sscanf(tok, "status=%d", &f->status) == 1) return;
    if (sscanf(tok, "delay=%d", &f->delay_ms) == 1) return;
    if (sscanf(tok, "fail-first=%d", &f->fail_first) == 1) return;
    if (sscanf(tok, "stream-drop=%d", &f->stream_drop) == 1) {
        if (f->stream_drop < 0) f->stream_drop = -1;
        return;
    }
    if (sscanf(tok, "stream-retry=%d", &f->stream_retry_ms) == 1) {
        if (f->stream_retry_ms < 0) f->stream_retry_ms = -1;
        if (f->stream_retry_ms > 86400000) f->stream_retry_ms = 86400000; /* a day at most */
        return;
    }
    if (sscanf(tok, "bulk-delay=%d", &f->bulk_delay_ms) == 1) {
        if (f->bulk_delay_ms < 0) f->bulk_delay_ms = 0;
        if (f->bulk_delay_ms > 86400000) f->bulk_delay_ms = 86400000; /* a day at most */
        f->flags |= SB_FAULT_BULK_DELAY;
        return;
    }
    if (strncmp(tok, "retry-after=", 12) == 0) set_retry_after(f, tok + 12);
    else if (strcmp(tok, "stall") == 0) f->stall = 1;
    else if (strcmp(tok, "stall-body") == 0) f->stall_body = 1;
    else if (strcmp(tok, "stream-stall") == 0) f->stream_stall = 1;
    else if (strcmp(tok, "echo-headers") == 0) f->echo_headers = 1;
    else if (strcmp(tok, "control-chars") == 0) f->control_chars = 1;
    else if (strcmp(tok, "repeat-page") == 0) f->flags |= SB_FAULT_REPEAT_PAGE;
    else if (strcmp(tok, "stale-page") == 0) f->flags |= SB_FAULT_STALE_PAGE;
    else if (strcmp(tok, "warning") == 0) f->flags |= SB_FAULT_WARNING;
    else if (strcmp(tok, "resource-conflict") == 0) f->flags |= SB_FAULT_RESOURCE_CONFLICT;
    else if (strcmp(tok, "conflict") == 0) f->flags |= SB_FAULT_CONFLICT;
    else if (strncmp(tok, "reset", 5) == 0) f->reset = 1;
    else if (strncmp(tok, "truncate", 8) == 0) f->truncate = 1;
    else if (strncmp(tok, "garbage", 7) == 0) f->garbage = 1;
}

/* Parses X-Sandbox-Fault (front.h). */
int sb_fault_parse(sb_request *req, sb_fault *f) {
    const char *spec = sb_header_get(req, "X-Sandbox-Fault");
    memset(f, 0, sizeof *f);
    f->stream_drop = f->stream_retry_ms = -1;
    req->fault_flags = 0;
    req->bulk_delay_ms = 0;
    if (!spec || !sb_cfg.faults) return 0;
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
        pthread_mutex_lock(&key_lock);
        for (k = fault_keys; k && strcmp(k->key, key) != 0; k = k->next) {}
        if (!k && (k = calloc(1, sizeof *k)) && (k->key = strdup(key))) {
            k->next = fault_keys;
            fault_keys = k;
        } else if (k && !k->key) {
            free(k);
            k = NULL;
        }
        if (k) seen = k->seen++;
        pthread_mutex_unlock(&key_lock);
        if (seen >= f->fail_first) return 0;
    }
    req->fault_flags = f->flags;
    req->bulk_delay_ms = f->bulk_delay_ms;
    return 1;
}

/* Suspends con until due (front.h). */
int sb_fault_suspend(struct MHD_Connection *con, double due) {
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

/* Resumes the suspended connections that are due (front.h). */
void sb_fault_resume_due(int all) {
    double now = sb_now();
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

/* The MHD response for a truncate (1) or stall-body (2) fault (front.h). */
struct MHD_Response *sb_fault_response(sb_response *res, int mode, struct MHD_Connection *con) {
    struct MHD_Response *r;
    partial_body *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->body = res->body;
    b->len = res->body_len;
    b->con = con;
    res->body = NULL;
    if (mode == 2 && !(b->wait = malloc(sizeof *b->wait))) {
        free_partial_body(b);
        return NULL;
    }
    if (b->wait) {
        b->wait->con = con;
        b->wait->due = INFINITY;
    }
    r = MHD_create_response_from_callback(b->len, 4096, mode == 2 ? stalling_reader : truncated_reader, b,
                                          free_partial_body);
    if (!r) free_partial_body(b);
    return r;
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

/* Answers the status= fault in the error shape of the service the path
 * belongs to (the one its routes would have answered): Losant's
 * {"type": "SandboxFault", "message"} (also for paths of no service),
 * Connect Daily's {"error": 1, "message"}, Monterosa's JSON:API errors
 * (a 422 with a source pointer, as its validation errors have). */
static void reply_status(const sb_request *req, sb_response *res, int status) {
    char message[64];
    snprintf(message, sizeof message, "Injected fault: status %d", status);
    switch (sb_service_of(req)) {
    case SB_SERVICE_CONNECTDAILY:
        sb_connectdaily_error(res, status, message);
        break;
    case SB_SERVICE_MONTEROSA: {
        const char *title = MHD_get_reason_phrase_for((unsigned)status);
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        if (status == 422) {
            sb_reply_json_type(res, status,
                               json_pack("{s:[{s:s, s:s, s:{s:s}, s:s}]}", "errors", "status", code, "title",
                                         "Unprocessable Entity", "source", "pointer", "/data", "detail", message),
                               "application/vnd.api+json");
            res->error = 1;
        } else {
            sb_monterosa_error(res, status, title && *title ? title : "Error", message);
        }
        break;
    }
    default:
        sb_reply_error(res, status, "SandboxFault", "%s", message);
    }
}

/* Answers the body faults of f (front.h). */
int sb_fault_reply(const sb_request *req, sb_response *res, const sb_fault *f) {
    if (f->echo_headers) {
        reply_echo_headers(req, res, f->status ? f->status : 400);
    } else if (f->control_chars) {
        reply_control_chars(res, f->status ? f->status : 400);
    } else if (f->status) {
        reply_status(req, res, f->status);
    } else if (f->garbage) {
        sb_reply_empty(res, 200);
        res->content_type = "application/json";
        res->body = strdup("<html>this is not JSON</html>");
        res->body_len = res->body ? strlen(res->body) : 0;
    } else {
        return 0;
    }
    return 1;
}

/* Frees the fail-first keys (front.h). */
void sb_fault_free(void) {
    pthread_mutex_lock(&key_lock);
    while (fault_keys) {
        fault_key *next = fault_keys->next;
        free(fault_keys->key);
        free(fault_keys);
        fault_keys = next;
    }
    pthread_mutex_unlock(&key_lock);
}
