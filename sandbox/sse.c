/* eventapi-sandbox: server-sent event streams (docs/PROTOCOLS.md 1.12).
 * A stream's answer is a content reader that hands out the text queued
 * for it and, when there is none, suspends its connection (holding no
 * thread); a published event, a keep-alive (timer thread) or the stop
 * resumes it. Events published by a request are queued until its
 * transaction commits. */
#include "front.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SSE_MAX_UNSENT (1024u * 1024u) /* a stream whose client reads slower is cut */

struct sb_sse {
    char *channel, *event, *topic; /* topic: an MQTT filter, or NULL for every event */
    int keepalive_ms;
    struct MHD_Connection *con;
    int fd;
    int drop;                      /* messages still sent before the end; -1: no limit */
    int stall;                     /* nothing at all after the head */
    sb_buf out;                    /* text queued; sent: how much of it the reader gave */
    size_t sent;
    int suspended, closed, gone;   /* closed: ends after out; gone: cut without an end */
    int linked;
    double next_keepalive;
    struct sb_sse *prev, *next;
};

/* One event published by the request running, until its transaction ends. */
typedef struct pending {
    char *channel, *topic, *data;
    struct pending *next;
} pending;

static pthread_mutex_t hub_lock = PTHREAD_MUTEX_INITIALIZER;
static sb_sse *streams;              /* bound streams, under hub_lock */
static int stopping;                 /* under hub_lock */
static unsigned long long last_id;   /* the id of the last event, under hub_lock */
static pending *queued;              /* under the service lock */
static pending **queued_tail = &queued;

/* A new stream (sandbox.h). */
sb_sse *sb_sse_new(const char *channel, const char *event, const char *topic, int keepalive_s) {
    sb_sse *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->channel = strdup(channel);
    s->event = strdup(event);
    s->topic = topic ? strdup(topic) : NULL;
    s->keepalive_ms = keepalive_s * 1000;
    s->drop = -1;
    s->fd = -1;
    if (!s->channel || !s->event || (topic && !s->topic)) {
        sb_sse_free(s);
        return NULL;
    }
    return s;
}

/* Frees a stream (sandbox.h). */
void sb_sse_free(sb_sse *s) {
    if (!s) return;
    free(s->channel);
    free(s->event);
    free(s->topic);
    sb_buf_free(&s->out);
    free(s);
}

/* 1 when the MQTT topic filter f ('+' one level, '#' the rest) takes topic t. */
static int topic_matches(const char *f, const char *t) {
    for (;;) {
        if (f[0] == '#' && !f[1]) return 1;
        size_t fl = strcspn(f, "/"), tl = strcspn(t, "/");
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl))) return 0;
        f += fl;
        t += tl;
        if (!*f && !*t) return 1;
        if (*f == '/' && f[1] == '#' && !f[2] && !*t) return 1; /* "a/#" takes "a" */
        if (!*f || !*t) return 0;
        f++;
        t++;
    }
}

/* Resumes a suspended stream so its reader runs (hub_lock held). */
static void wake(sb_sse *s) {
    if (!s->suspended) return;
    s->suspended = 0;
    MHD_resume_connection(s->con);
}

/* Queues text for the stream and wakes it; a stream over SSE_MAX_UNSENT
 * unsent bytes (or out of memory) is cut (hub_lock held). */
static void append(sb_sse *s, const char *text) {
    if (s->closed || s->gone || s->stall) return;
    sb_buf_str(&s->out, text);
    if (s->out.failed || s->out.len - s->sent > SSE_MAX_UNSENT) s->gone = 1;
    wake(s);
}

/* Queues one event message (hub_lock held); the drop fault ends the stream after it. */
static void message(sb_sse *s, unsigned long long id, const char *data) {
    if (s->closed || s->gone || s->stall) return;
    sb_buf b = {0};
    sb_buf_fmt(&b, "id: %llu\nevent: %s\ndata: %s\n\n", id, s->event, data);
    if (b.failed) s->gone = 1;
    else append(s, b.data);
    sb_buf_free(&b);
    if (s->drop > 0 && --s->drop == 0) s->closed = 1;
}

/* Content reader: the queued text, else the end (closed, stopping), else
 * the connection is suspended until something is queued. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    sb_sse *s = cls;
    ssize_t n;
    (void)pos;
    pthread_mutex_lock(&hub_lock);
    if (s->gone) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (s->out.len > s->sent) {
        size_t k = s->out.len - s->sent < max ? s->out.len - s->sent : max;
        memcpy(buf, s->out.data + s->sent, k);
        s->sent += k;
        if (s->sent == s->out.len) s->sent = s->out.len = 0;
        n = (ssize_t)k;
    } else if (s->closed || stopping) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        s->suspended = 1;
        MHD_suspend_connection(s->con);
        n = 0;
    }
    pthread_mutex_unlock(&hub_lock);
    return n;
}

/* MHD's release of the response: the stream leaves the hub and is freed. */
static void sse_release(void *cls) {
    sb_sse *s = cls;
    pthread_mutex_lock(&hub_lock);
    if (s->linked) {
        if (s->prev) s->prev->next = s->next;
        else streams = s->next;
        if (s->next) s->next->prev = s->prev;
    }
    pthread_mutex_unlock(&hub_lock);
    sb_sse_free(s);
}

/* Links a stream into the hub with its faults (hub_lock held). Every
 * stream opens with the comment ":ok": libmicrohttpd sends the head only
 * together with the first bytes of the body, so without them a client
 * would not see the stream open until the first keep-alive. */
static void link_stream(sb_sse *s, const sb_fault *f) {
    sb_buf_str(&s->out, ":ok\n\n");
    if (f && f->stream_retry_ms >= 0) sb_buf_fmt(&s->out, "retry: %d\n\n", f->stream_retry_ms);
    if (f && f->stream_drop >= 0) s->drop = f->stream_drop;
    if (f && f->stream_stall) s->stall = 1;
    if (s->drop == 0 || stopping || s->out.failed) s->closed = 1;
    s->next_keepalive = sb_now() + s->keepalive_ms / 1000.0;
    s->next = streams;
    if (streams) streams->prev = s;
    streams = s;
    s->linked = 1;
}

/* The MHD response of a stream (front.h). */
struct MHD_Response *sb_sse_response(sb_sse *s, struct MHD_Connection *con, const sb_fault *f) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_release);
    if (!r) {
        sb_sse_free(s);
        return NULL;
    }
    s->con = con;
    s->fd = ci ? (int)ci->connect_fd : -1;
    if (MHD_add_response_header(r, "Content-Type", "text/event-stream") == MHD_NO
        || MHD_add_response_header(r, "Cache-Control", "no-cache") == MHD_NO) {
        MHD_destroy_response(r); /* releases s, not linked yet */
        return NULL;
    }
    pthread_mutex_lock(&hub_lock);
    link_stream(s, f);
    pthread_mutex_unlock(&hub_lock);
    return r;
}

/* Queues an event until the transaction ends (sandbox.h). */
int sb_sse_publish(const char *channel, const char *topic, const char *data) {
    pending *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->channel = strdup(channel);
    p->topic = topic ? strdup(topic) : NULL;
    p->data = strdup(data);
    if (!p->channel || !p->data || (topic && !p->topic)) {
        free(p->channel);
        free(p->topic);
        free(p->data);
        free(p);
        return -1;
    }
    *queued_tail = p;
    queued_tail = &p->next;
    return 0;
}

/* Sends one event to every stream of its channel that takes its topic (hub_lock held). */
static void deliver(const pending *p) {
    unsigned long long id = ++last_id;
    for (sb_sse *s = streams; s; s = s->next)
        if (!strcmp(s->channel, p->channel) && (!s->topic || (p->topic && topic_matches(s->topic, p->topic))))
            message(s, id, p->data);
}

/* Sends or drops this transaction's events (sandbox.h). */
void sb_sse_flush(int commit) {
    if (!queued) return;
    if (commit) pthread_mutex_lock(&hub_lock);
    while (queued) {
        pending *p = queued;
        queued = p->next;
        if (commit) deliver(p);
        free(p->channel);
        free(p->topic);
        free(p->data);
        free(p);
    }
    queued_tail = &queued;
    if (commit) pthread_mutex_unlock(&hub_lock);
}

/* Queues the keep-alives that are due (hub_lock held). */
static void keep_alive(double now) {
    for (sb_sse *s = streams; s; s = s->next) {
        if (now < s->next_keepalive) continue;
        append(s, ":keepalive\n\n");
        s->next_keepalive += s->keepalive_ms / 1000.0;
        if (s->next_keepalive < now) s->next_keepalive = now + s->keepalive_ms / 1000.0;
    }
}

/* 1 when the peer of a readable socket has closed or reset it. */
static int hung_up(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Cuts the suspended streams whose client hung up, so MHD closes and frees
 * them (hub_lock held; a suspended connection's socket stays open). */
static void reap(void) {
    size_t n = 0, k = 0;
    for (sb_sse *s = streams; s; s = s->next) n += s->suspended && s->fd >= 0;
    struct pollfd *fds = n ? malloc(n * sizeof *fds) : NULL;
    if (!fds) return;
    for (sb_sse *s = streams; s; s = s->next)
        if (s->suspended && s->fd >= 0) fds[k++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
    if (poll(fds, (nfds_t)n, 0) > 0) {
        k = 0;
        for (sb_sse *s = streams; s && k < n; s = s->next) {
            if (!(s->suspended && s->fd >= 0)) continue;
            short ev = fds[k++].revents;
            if ((ev & (POLLHUP | POLLERR)) || ((ev & POLLIN) && hung_up(s->fd))) {
                s->gone = 1;
                wake(s);
            }
        }
    }
    free(fds);
}

/* Keep-alives every 10 ms at most, hang-ups every 100 ms (front.h). */
void sb_sse_tick(void) {
    static unsigned ticks;
    ticks++;
    if (ticks % 5) return;
    pthread_mutex_lock(&hub_lock);
    if (!stopping) {
        keep_alive(sb_now());
        if (ticks % 50 == 0) reap();
    }
    pthread_mutex_unlock(&hub_lock);
}

/* Ends every stream after what it has queued (front.h). */
void sb_sse_stop(void) {
    pthread_mutex_lock(&hub_lock);
    stopping = 1;
    for (sb_sse *s = streams; s; s = s->next) {
        s->closed = 1;
        wake(s);
    }
    pthread_mutex_unlock(&hub_lock);
}
