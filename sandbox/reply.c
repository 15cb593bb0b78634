/* eventapi-sandbox: building answers: JSON bodies, headers, Losant-style
 * errors, and the server-wide errors in each service's shape. */
#include "front.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compact JSON text of doc (malloc), NULL on failure (sandbox.h). */
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

/* Frees the body or the stream res holds (sandbox.h). */
void sb_reply_clear(sb_response *res) {
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
    if (res->stream) {
        if (res->stream->release) res->stream->release(res->stream->cls);
        free(res->stream);
        res->stream = NULL;
    }
    sb_sse_free(res->sse);
    res->sse = NULL;
    res->error = 0;
}

/* Answers doc as JSON with a Content-Type; 500 when it cannot be written (sandbox.h). */
void sb_reply_json_type(sb_response *res, int status, json_t *doc, const char *content_type) {
    sb_reply_clear(res);
    res->status = status;
    res->content_type = content_type;
    if (doc) {
        res->body = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(doc);
    }
    if (!res->body) { /* out of memory or no document */
        static const char oom[] = "{\"type\":\"InternalError\",\"message\":\"out of memory\"}";
        res->status = 500;
        res->error = 1;
        res->content_type = "application/json";
        res->body = strdup(oom);
    }
    res->body_len = res->body ? strlen(res->body) : 0;
}

/* Answers doc as application/json (sandbox.h). */
void sb_reply_json(sb_response *res, int status, json_t *doc) {
    sb_reply_json_type(res, status, doc, "application/json");
}

/* Answers a status without a body (sandbox.h). */
void sb_reply_empty(sb_response *res, int status) {
    sb_reply_clear(res);
    res->status = status;
    res->content_type = NULL;
}

/* Adds a header line to the answer; one that does not fit is dropped (sandbox.h). */
void sb_reply_header(sb_response *res, const char *name, const char *value) {
    size_t used = strlen(res->extra);
    int n = snprintf(res->extra + used, sizeof res->extra - used, "%s: %s\r\n", name, value);
    if (n < 0 || (size_t)n >= sizeof res->extra - used) res->extra[used] = '\0'; /* never half a line */
}

/* Answers Losant's error shape {"type", "message"} (sandbox.h). */
void sb_reply_error(sb_response *res, int status, const char *type, const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    sb_reply_json(res, status, json_pack("{s:s, s:s}", "type", type, "message", message));
    res->error = 1;
}

/* The service whose routes take the parsed path (sandbox.h): the tests
 * each route function starts with, in the order sb_store_call tries them. */
enum sb_service sb_service_of(const sb_request *req) {
    if (!req->seg) return SB_SERVICE_NONE;
    if (req->nseg >= 3 && req->nseg <= 4 && !strcmp(req->seg[0], "applications")
        && (!strcmp(req->seg[2], "events") || !strcmp(req->seg[2], "integrations")))
        return SB_SERVICE_LOSANT;
    for (int i = 0; i + 1 < req->nseg; i++)
        if (!strcmp(req->seg[i], "restapi") && !strcmp(req->seg[i + 1], "v1")) return SB_SERVICE_CONNECTDAILY;
    if (req->nseg >= 2 && !strcmp(req->seg[0], "api") && !strcmp(req->seg[1], "v2")) return SB_SERVICE_MONTEROSA;
    return SB_SERVICE_NONE;
}

/* A server-wide error in the shape of the path's service (sandbox.h). */
void sb_reply_server_error(const sb_request *req, sb_response *res, int status, const char *type, const char *title,
                           const char *message) {
    enum sb_service service = sb_service_of(req);
    if (!req->seg || req->nseg == 0) { /* not parsed (414): read the raw path */
        const char *uri = req->raw_uri, *q = strchr(uri, '?');
        size_t n = q ? (size_t)(q - uri) : strlen(uri);
        char path[1024];
        snprintf(path, sizeof path, "%.*s/", (int)(n < sizeof path - 2 ? n : sizeof path - 2), uri);
        service = strstr(path, "/restapi/v1/") ? SB_SERVICE_CONNECTDAILY
                  : !strncmp(path, "/api/v2/", 8) ? SB_SERVICE_MONTEROSA
                                                  : SB_SERVICE_NONE;
    }
    if (service == SB_SERVICE_MONTEROSA) sb_monterosa_error(res, status, title, message);
    else if (service == SB_SERVICE_CONNECTDAILY) sb_connectdaily_error(res, status, message);
    else sb_reply_error(res, status, type, "%s", message);
}

/* Jansson's parse error in words for users (sandbox.h). */
void sb_json_error_text(const json_error_t *e, char *out, size_t len) {
    const char *near = strstr(e->text, " near ");
    const char *what = NULL;
    switch (json_error_code(e)) {
    case json_error_numeric_overflow: what = "a number is out of range"; break;
    case json_error_null_character: what = "\\u0000 (a NUL character) is not allowed"; break;
    case json_error_null_byte_in_key: what = "a member name holds \\u0000 (a NUL character), which is not allowed"; break;
    default: break;
    }
    if (what) snprintf(out, len, "%s%s", what, near ? near : "");
    else snprintf(out, len, "%s", e->text);
}

/* Appends s[0..n) (sandbox.h). */
void sb_buf_add(sb_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = 1;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends a C string (sandbox.h). */
void sb_buf_str(sb_buf *b, const char *s) {
    sb_buf_add(b, s, strlen(s));
}

/* Appends formatted text (sandbox.h). */
void sb_buf_fmt(sb_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
    } else if ((size_t)n < sizeof small) {
        sb_buf_add(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big) {
            b->failed = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sb_buf_add(b, big, (size_t)n);
        free(big);
    }
}

/* Hands the text over (sandbox.h). */
char *sb_buf_take(sb_buf *b, size_t *len) {
    char *text = b->failed ? NULL : b->data ? b->data : strdup("");
    if (b->failed) free(b->data);
    if (len) *len = text ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return text;
}

/* Frees the buffer's text (sandbox.h). */
void sb_buf_free(sb_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
