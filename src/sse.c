/* eventapi.core: the server-sent-event parser (sse.h). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};

/* Sets up an empty parser. */
void sse_init(sse_parser *p, size_t max_message, sse_dispatch dispatch, void *ud) {
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
    p->retry_ms = -1;
    p->dispatch = dispatch;
    p->ud = ud;
}

/* Frees what the parser holds. */
void sse_free(sse_parser *p) {
    free(p->line.s);
    free(p->data.s);
    free(p->event.s);
    free(p->id.s);
    memset(&p->line, 0, sizeof p->line);
    memset(&p->data, 0, sizeof p->data);
    memset(&p->event, 0, sizeof p->event);
    memset(&p->id, 0, sizeof p->id);
}

/* The bytes the parser holds toward the message being read. */
static size_t held(const sse_parser *p) {
    return p->line.len + p->data.len + p->event.len;
}

/* Appends n bytes to t; counted against max_message unless t is the id. */
static int add(sse_parser *p, sse_text *t, const char *s, size_t n) {
    if (t != &p->id && held(p) + n > p->max_message) return SSE_TOO_LARGE;
    if (t == &p->id && t->len + n > p->max_message) return SSE_TOO_LARGE;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + n + 1) cap *= 2;
        char *grown = realloc(t->s, cap);
        if (!grown) return SSE_NO_MEMORY;
        t->s = grown;
        t->cap = cap;
    }
    if (n) memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return SSE_OK;
}

/* A blank line: hands the message over when it has data, and starts the next. */
static int dispatch(sse_parser *p) {
    int rc = SSE_OK;
    if (p->data.len) {
        size_t len = p->data.len - 1; /* the last LF goes */
        const char *event = p->event.len ? p->event.s : "message";
        size_t event_len = p->event.len ? p->event.len : 7;
        rc = p->dispatch(p->ud, event, event_len, p->data.s, len, p->id.len ? p->id.s : "", p->id.len, p->retry_ms);
    }
    p->data.len = p->event.len = 0;
    return rc;
}

/* 1 when n bytes at s equal the field name f. */
static int is_field(const char *s, size_t n, const char *f) {
    return strlen(f) == n && memcmp(s, f, n) == 0;
}

/* The retry field: digits only, else ignored. */
static void set_retry(sse_parser *p, const char *v, size_t n) {
    long ms = 0;
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return;
        if (ms < 100000000L) ms = ms * 10 + (v[i] - '0'); /* past a day: capped */
    }
    p->retry_ms = ms > 86400000L ? 86400000L : ms;
}

/* One complete line (without its end). */
static int read_line(sse_parser *p, const char *s, size_t n) {
    if (n == 0) return dispatch(p);
    if (s[0] == ':') {
        p->comments++;
        return SSE_OK;
    }
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vn = (size_t)(s + n - v);
    if (vn && *v == ' ') v++, vn--;
    if (is_field(s, name_len, "data")) {
        int rc = add(p, &p->data, v, vn);
        return rc ? rc : add(p, &p->data, "\n", 1);
    }
    if (is_field(s, name_len, "event")) {
        p->event.len = 0;
        return add(p, &p->event, v, vn);
    }
    if (is_field(s, name_len, "id")) {
        if (memchr(v, '\0', vn)) return SSE_OK;
        p->id.len = 0;
        return add(p, &p->id, v, vn);
    }
    if (is_field(s, name_len, "retry")) set_retry(p, v, vn);
    return SSE_OK; /* another field: ignored */
}

/* Consumes what a leading byte order mark may still be at the start of the
 * stream; -> bytes consumed of s. Bytes that began like one and were not are
 * put back in front, into the held line. */
static size_t skip_bom(sse_parser *p, const char *s, size_t n, int *rc) {
    size_t i = 0;
    while (p->bom < 3 && i < n) {
        if (s[i] != BOM[p->bom]) {
            *rc = add(p, &p->line, BOM, (size_t)p->bom);
            p->bom = 3;
            return i;
        }
        p->bom++;
        i++;
    }
    return i;
}

/* Feeds n more bytes of the stream; complete lines are read in place, only
 * the unfinished last one is held. */
int sse_feed(sse_parser *p, const char *s, size_t n) {
    int rc = SSE_OK;
    size_t i = 0;
    if (p->bom < 3) {
        i = skip_bom(p, s, n, &rc);
        if (rc) return rc;
    }
    if (p->skip_lf && i < n) {
        if (s[i] == '\n') i++;
        p->skip_lf = 0;
    }
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\n' && s[j] != '\r') j++;
        if (j == n) return add(p, &p->line, s + i, n - i);
        if (p->line.len) {
            if ((rc = add(p, &p->line, s + i, j - i))) return rc;
            size_t len = p->line.len;
            p->line.len = 0; /* what the line holds no longer counts toward the message */
            rc = read_line(p, p->line.s, len);
        } else {
            rc = read_line(p, s + i, j - i);
        }
        if (rc) return rc;
        if (s[j] == '\r') {
            if (j + 1 < n) {
                if (s[j + 1] == '\n') j++;
            } else {
                p->skip_lf = 1;
            }
        }
        i = j + 1;
    }
    return SSE_OK;
}
