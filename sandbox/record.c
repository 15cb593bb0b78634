/* eventapi-sandbox: the request record (--record, GET and DELETE
 * /_sandbox/requests): the last 1,000 requests as received, within a cap
 * on bytes (--record-bytes), bodies cut past a limit with a marker; the
 * record is served as a stream of its entries, never copied whole. */
#include "front.h"

#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_MAX 1000              /* requests kept at most */
#define RECORD_BODY_MAX (1024 * 1024) /* body bytes kept per request at most */

/* One recorded request: immutable JSON text shared by the ring and the
 * answers being streamed; freed when the last reference goes. */
typedef struct rec_entry {
    int refs;    /* under record_lock */
    size_t len;  /* of text */
    char text[]; /* one JSON object, NUL-terminated */
} rec_entry;

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static rec_entry *ring[RECORD_MAX]; /* oldest at ring_start */
static int ring_start, ring_count;
static size_t ring_bytes;           /* sum of the entries' len */

/* Drops one reference to e (record_lock held). */
static void entry_unref(rec_entry *e) {
    if (--e->refs == 0) free(e);
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* A JSON string of s[0..n); bytes that are not UTF-8 become '?' (NULL
 * when out of memory). */
static json_t *text_json(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *copy = malloc(n ? n : 1);
    if (!copy) return NULL;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq((const unsigned char *)s + i, n - i);
        if (len == 0) {
            copy[i++] = '?';
        } else {
            memcpy(copy + i, s + i, len);
            i += len;
        }
    }
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

/* The body bytes kept: at most RECORD_BODY_MAX and an eighth of the cap,
 * cut back to the start of a UTF-8 character. */
static size_t body_kept(const char *body, size_t len) {
    size_t limit = sb_cfg.record_bytes / 8;
    if (limit > RECORD_BODY_MAX) limit = RECORD_BODY_MAX;
    if (len <= limit) return len;
    for (int back = 0; back < 3 && limit > 0 && ((unsigned char)body[limit] & 0xC0) == 0x80; back++) limit--;
    return limit;
}

/* Sets name to a JSON string of s[0..n) in obj; 0 or -1. */
static int set_text(json_t *obj, const char *name, const char *s, size_t n) {
    json_t *j = text_json(s, n);
    return j ? json_object_set_new(obj, name, j) : -1;
}

/* The request as one JSON object (new reference), NULL when out of memory. */
static json_t *request_json(const sb_request *req, int in_flight) {
    const char *uri = req->raw_uri, *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri), kept = body_kept(req->body, req->body_len);
    json_t *doc = json_object(), *headers = json_object();
    int failed = !doc || !headers;
    for (int i = 0; i < req->nheaders && !failed; i++) {
        char name[256]; /* lower-case; bytes that are not ASCII become '?' (a key must be UTF-8) */
        size_t n = strlen(req->headers[i].name);
        if (n >= sizeof name) n = sizeof name - 1;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)req->headers[i].name[k];
            name[k] = c < 0x80 ? (char)tolower(c) : '?';
        }
        name[n] = '\0';
        failed = set_text(headers, name, req->headers[i].value, strlen(req->headers[i].value)) < 0;
    }
    failed = failed || set_text(doc, "method", req->method, strlen(req->method)) < 0
             || set_text(doc, "uri", uri, strlen(uri)) < 0 || set_text(doc, "path", uri, path_len) < 0
             || set_text(doc, "query", q ? q + 1 : "", q ? strlen(q + 1) : 0) < 0
             || json_object_set(doc, "headers", headers) < 0 || set_text(doc, "body", req->body, kept) < 0
             || json_object_set_new(doc, "in_flight", json_integer(in_flight)) < 0;
    if (!failed && req->upload) /* an upload's body is not held: its parts are */
        failed = json_object_set_new(doc, "parts", sb_upload_json(req->upload)) < 0
                 || json_object_set_new(doc, "body_length", json_integer((json_int_t)sb_upload_bytes(req->upload))) < 0;
    if (!failed && kept < req->body_len) /* the marker of a cut body */
        failed = json_object_set_new(doc, "body_truncated", json_true()) < 0
                 || json_object_set_new(doc, "body_length", json_integer((json_int_t)req->body_len)) < 0;
    json_decref(headers);
    if (failed) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Keeps req in the record, dropping the oldest entries first while the
 * count or the byte cap would be passed (front.h). */
void sb_record_request(const sb_request *req, int in_flight) {
    json_t *doc = request_json(req, in_flight);
    char *text = doc ? sb_dump(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) return; /* out of memory: this request is not recorded */
    size_t len = strlen(text);
    rec_entry *e = malloc(sizeof *e + len + 1);
    if (e) {
        e->refs = 1;
        e->len = len;
        memcpy(e->text, text, len + 1);
    }
    free(text);
    if (!e) return;
    pthread_mutex_lock(&record_lock);
    /* the newest request is always kept, alone when it is larger than the cap */
    while (ring_count > 0 && (ring_count == RECORD_MAX || ring_bytes + len > sb_cfg.record_bytes)) {
        rec_entry *old = ring[ring_start];
        ring_bytes -= old->len;
        entry_unref(old);
        ring_start = (ring_start + 1) % RECORD_MAX;
        ring_count--;
    }
    ring[(ring_start + ring_count) % RECORD_MAX] = e;
    ring_count++;
    ring_bytes += len;
    pthread_mutex_unlock(&record_lock);
}

/* Empties the record (record_lock held). */
static void clear_locked(void) {
    for (int i = 0; i < ring_count; i++) entry_unref(ring[(ring_start + i) % RECORD_MAX]);
    ring_start = ring_count = 0;
    ring_bytes = 0;
}

/* Frees every entry (front.h). */
void sb_record_free(void) {
    pthread_mutex_lock(&record_lock);
    clear_locked();
    pthread_mutex_unlock(&record_lock);
}

/* The entries an answer streams: references taken when it was made. */
typedef struct snapshot {
    rec_entry **items;
    int n;
    int next;      /* the item being written */
    size_t off;    /* bytes of it written */
    int comma;     /* the comma before it written */
    int opened;    /* '[' written */
    int closed;    /* ']' written */
    uint64_t sent; /* bytes given so far */
} snapshot;

/* Stream reader: '[', the entries joined by ',', ']' (sandbox.h sb_stream). */
static ssize_t snapshot_read(void *cls, uint64_t pos, char *buf, size_t max) {
    snapshot *s = cls;
    size_t n = 0;
    if (pos != s->sent) return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD reads in order */
    while (n < max) {
        if (!s->opened) {
            buf[n++] = '[';
            s->opened = 1;
        } else if (s->next < s->n && s->next > 0 && !s->comma) {
            buf[n++] = ',';
            s->comma = 1;
        } else if (s->next < s->n) {
            rec_entry *e = s->items[s->next];
            size_t chunk = e->len - s->off;
            if (chunk > max - n) chunk = max - n;
            memcpy(buf + n, e->text + s->off, chunk);
            n += chunk;
            s->off += chunk;
            if (s->off == e->len) {
                s->next++;
                s->off = 0;
                s->comma = 0;
            }
        } else if (!s->closed) {
            buf[n++] = ']';
            s->closed = 1;
        } else {
            break;
        }
    }
    if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    s->sent += n;
    return (ssize_t)n;
}

/* Releases a snapshot's references. */
static void snapshot_release(void *cls) {
    snapshot *s = cls;
    pthread_mutex_lock(&record_lock);
    for (int i = 0; i < s->n; i++) entry_unref(s->items[i]);
    pthread_mutex_unlock(&record_lock);
    free(s->items);
    free(s);
}

/* Answers GET and DELETE /_sandbox/requests (front.h). */
void sb_record_serve(const sb_request *req, sb_response *res) {
    if (strcmp(req->method, "DELETE") == 0) {
        pthread_mutex_lock(&record_lock);
        clear_locked();
        pthread_mutex_unlock(&record_lock);
        sb_reply_json(res, 200, json_pack("{s:b}", "success", 1));
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        sb_reply_header(res, "Allow", "GET, HEAD, DELETE");
        sb_reply_error(res, 405, "MethodNotAllowed", "%s is not allowed on /_sandbox/requests", req->method);
        return;
    }
    snapshot *s = calloc(1, sizeof *s);
    sb_stream *stream = malloc(sizeof *stream);
    if (s) s->items = malloc(RECORD_MAX * sizeof *s->items);
    if (!s || !s->items || !stream) {
        if (s) free(s->items);
        free(s);
        free(stream);
        sb_reply_error(res, 500, "InternalError", "out of memory");
        return;
    }
    uint64_t size = 2;
    pthread_mutex_lock(&record_lock);
    for (int i = 0; i < ring_count; i++) {
        rec_entry *e = ring[(ring_start + i) % RECORD_MAX];
        e->refs++;
        s->items[s->n++] = e;
        size += e->len + (i > 0);
    }
    pthread_mutex_unlock(&record_lock);
    sb_reply_empty(res, 200);
    res->content_type = "application/json";
    stream->size = size;
    stream->read = snapshot_read;
    stream->release = snapshot_release;
    stream->cls = s;
    res->stream = stream;
}
