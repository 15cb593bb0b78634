/* eventapi.core transfers: starting one (eventapi_start, core.request) on
 * a pooled easy handle, reading its head and body, settling its promise or
 * routing a bound call's answer to its binding's respond, cancelling, and
 * the idle limit. */
#include "loop.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* curl write callback: appends to the body up to max_body. */
size_t on_body(char *data, size_t size, size_t n, void *ud) {
    transfer *t = ud;
    size_t len = size * n;
    t->seen = t->lp->now; /* a byte came: no clock read here, the round's */
    if (t->stream && t->block_status >= 200 && t->block_status < 300) return stream_body(t, data, len);
    if (t->len + len > t->max_body) {
        t->too_large = 1;
        return 0;
    }
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + len + 1) cap *= 2;
        char *body = realloc(t->body, cap);
        if (!body) return 0;
        t->body = body;
        t->cap = cap;
    }
    memcpy(t->body + t->len, data, len);
    t->len += len;
    return len;
}

/* Copies a header's value (trimmed) into dst. */
static void header_value(const char *line, size_t n, size_t name_len, char *dst, size_t cap) {
    const char *v = line + name_len, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* Where the next header line of a transfer falls: the first line of a header
 * block (only a status line there starts an answer), inside a block, or past
 * the final head (trailers: they change nothing). */
enum { HEAD_START = 0, HEAD_IN, HEAD_DONE };

/* The most header bytes (every block and the trailers) an answer may bring. */
#define MAX_RESPONSE_HEAD (100 * 1024)

/* The status of a status line ("HTTP/1.1 200 OK", "HTTP/2 204"); -1 when
 * line is not one (a trailer "HTTP/1.1: 200" is not). */
static int status_of(const char *line, size_t n) {
    size_t i = 5;
    if (n < 5 || memcmp(line, "HTTP/", 5) != 0) return -1;
    while (i < n && ((line[i] >= '0' && line[i] <= '9') || line[i] == '.')) i++;
    if (i == 5 || i + 4 > n || line[i] != ' ') return -1;
    int status = 0;
    for (size_t k = i + 1; k < i + 4; k++) {
        if (line[k] < '0' || line[k] > '9') return -1;
        status = status * 10 + (line[k] - '0');
    }
    if (i + 4 < n && line[i + 4] != ' ' && line[i + 4] != '\r' && line[i + 4] != '\n') return -1;
    return status;
}

/* The blank line ending a header block: another block may follow an
 * interim (1xx) answer, or one libcurl may follow or send again (a redirect,
 * 401, 407, 417: 3xx and up); after a 2xx head, what comes is the trailers. */
static void end_block(transfer *t) {
    int st = t->block_status;
    int more = (st >= 100 && st < 200) || st >= 300;
    t->head = more ? HEAD_START : HEAD_DONE;
}

/* curl header callback: keeps Content-Type and Retry-After of the final
 * answer's head; a status line starts a new answer only at the start of a
 * header block. More than MAX_RESPONSE_HEAD bytes end the transfer. */
size_t on_header(char *line, size_t size, size_t n, void *ud) {
    transfer *t = ud;
    size_t len = size * n;
    t->seen = t->lp->now;
    t->head_bytes += len;
    if (t->head_bytes > MAX_RESPONSE_HEAD) {
        t->head_too_large = 1;
        return 0;
    }
    if (t->head == HEAD_START) {
        int status = status_of(line, len);
        if (status >= 0) {
            t->content_type[0] = t->retry_after[0] = '\0';
            t->len = 0;
            t->block_status = status;
            t->head = HEAD_IN;
        }
    } else if (t->head == HEAD_DONE) {
        return len; /* a trailer */
    } else if (len <= 2 && len > 0 && (line[0] == '\r' || line[0] == '\n')) {
        end_block(t);
        if (t->stream && t->head == HEAD_DONE && !stream_head(t)) return 0;
    } else if (len > 13 && strncasecmp(line, "content-type:", 13) == 0) {
        header_value(line, len, 13, t->content_type, sizeof t->content_type);
    } else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        header_value(line, len, 12, t->retry_after, sizeof t->retry_after);
    }
    return len;
}

/* Pushes the promise of a transfer (from its anchor). */
static void push_promise(lua_State *L, transfer *t) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor_ref);
    if (t->owner) return;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
}

#define POOL_BODY_MAX 16384 /* a larger request body is not kept by an idle handle */

/* Unlinks a transfer, returns its easy handle to the pool and frees it. */
void transfer_free(lua_State *L, loop *lp, transfer *t) {
    curl_multi_remove_handle(lp->multi, t->easy);
    if (t->prev) t->prev->next = t->next;
    else lp->active = t->next;
    if (t->next) t->next->prev = t->prev;
    if (--lp->nactive == 0) lp->idle_due = -1; /* no idle limit left to check */
    if (t->completed) lp->unfinished--;
    if (lp->npool < (int)(sizeof lp->pool / sizeof lp->pool[0])) {
        if (t->large_body) { /* an idle handle keeps no large copy */
            curl_easy_reset(t->easy);
            lp->pool_config[lp->npool] = 0; /* set up for no config */
        } else { /* kept set up for its config (take_handle); what pointed into
                  * the transfer or its own header list goes */
            curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
            curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
            lp->pool_config[lp->npool] = t->config;
        }
        lp->pool[lp->npool++] = t->easy;
    } else {
        curl_easy_cleanup(t->easy);
    }
    curl_mime_free(t->mime); /* an upload's, after its handle let go of it (NULL: none) */
    curl_slist_free_all(t->own_headers);
    stream_free(t);
    luaL_unref(L, LUA_REGISTRYINDEX, t->anchor_ref);
    if (t->owner) luaL_unref(L, LUA_REGISTRYINDEX, t->op_ref);
    free(t->body);
    free(t->url); /* a bound call's */
    free(t);
}

/* Names a transport failure with the error types of the library. */
static const char *failure_type(CURLcode rc) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "Timeout";
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED: case CURLE_SSL_SHUTDOWN_FAILED:
        return "TLS";
    case CURLE_PARTIAL_FILE: case CURLE_BAD_CONTENT_ENCODING: case CURLE_WEIRD_SERVER_REPLY:
        return "InvalidResponse";
    case CURLE_OUT_OF_MEMORY: return "OutOfMemory"; /* never retried */
    default: return "ConnectionFailed";
    }
}

/* Hands the response table on top to a bound call's respond: res.req =
 * {method, url, location, op}, and a job runs respond(res) with the
 * transfer's promise (at p) as its child. Pops the table. */
static void answer_bound(lua_State *L, loop *lp, transfer *t, int p) {
    p = lua_absindex(L, p);
    int res = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->op_ref); /* res+1: the bound operation */
    lua_getiuservalue(L, res + 1, 2);             /* res+2: its binding */
    lua_createtable(L, 0, 4);                     /* res+3: req */
    lua_pushstring(L, t->method);
    lua_setfield(L, res + 3, "method");
    lua_pushstring(L, t->url);
    lua_setfield(L, res + 3, "url");
    if (t->location[0]) {
        lua_pushstring(L, t->location);
        lua_setfield(L, res + 3, "location");
    }
    lua_getiuservalue(L, res + 1, 3); /* the row */
    lua_setfield(L, res + 3, "op");
    lua_setfield(L, res, "req");
    lua_getiuservalue(L, res + 2, 3); /* res+3: respond */
    eventapi_reaction_new(L, res + 3, res + 3, p); /* res+4: {respond, respond, promise} */
    eventapi_enqueue(L, lp, res + 4, 1, res);
    lua_settop(L, res - 1);
}

/* protected part of decode_answer: decodes the body of the transfer at 1 (a light userdata). */
static int decode_body(lua_State *L) {
    transfer *t = lua_touserdata(L, 1);
    eventapi_json_decode(L, t->body, t->len);
    return 1;
}

/* Pushes the value of a bound call's 2xx answer (its JSON decoded straight
 * from curl's buffer; true when empty) and returns 1; returns 0 with
 * nothing pushed when the body is not JSON (respond names that). */
static int decode_answer(lua_State *L, transfer *t) {
    if (t->len == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushcfunction(L, decode_body);
    lua_pushlightuserdata(L, t);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) return 1;
    lua_pop(L, 1);
    return 0;
}

/* Settles the promise at p with the response table on top (a bound call's
 * goes to its respond); pops the table. */
static void answer(lua_State *L, loop *lp, transfer *t, int p) {
    if (t->owner) {
        answer_bound(L, lp, t, p);
        return;
    }
    eventapi_promise_settle(L, p, 1, -1);
    lua_pop(L, 1);
}

/* When a byte last came for t: its callbacks' stamp, or later bytes on its
 * socket (a header line or a chunk still incomplete, TLS records). */
static double last_byte(loop *lp, const transfer *t) {
    double seen = t->seen;
    if (t->sock >= 0 && t->sock < lp->nfds && lp->fds[t->sock].seen > seen) seen = lp->fds[t->sock].seen;
    return seen;
}

/* 1 when t failed because the answer's headers are too large: over
 * MAX_RESPONSE_HEAD in all, or one line over libcurl's own limit (100 KiB,
 * which libcurl 7.88 reports as out of memory: taken as that while the head
 * is read and bytes came in; 8.6 and later say CURLE_TOO_LARGE). */
static int head_too_large(loop *lp, const transfer *t, CURLcode rc) {
    if (t->head_too_large) return 1;
#if LIBCURL_VERSION_NUM >= 0x080600
    if (rc == CURLE_TOO_LARGE) return 1;
#endif
    return rc == CURLE_OUT_OF_MEMORY && t->head != HEAD_DONE && last_byte(lp, t) > t->started;
}

/* Sets the error and message of a failed transfer's response table (on top). */
static void set_failure(lua_State *L, loop *lp, transfer *t, CURLcode rc) {
    int head = head_too_large(lp, t, rc);
    lua_pushstring(L, t->too_large || head ? "InvalidResponse" : failure_type(rc));
    lua_setfield(L, -2, "error");
    if (head) {
        lua_pushfstring(L, "the response headers are too large (over %d bytes)", MAX_RESPONSE_HEAD);
        lua_setfield(L, -2, "message");
        lua_pushboolean(L, 0); /* the server answered: not a failure below HTTP, not retried as one */
        lua_setfield(L, -2, "transport");
        return;
    }
    if (t->too_large) {
        lua_pushfstring(L, "the response is larger than %I bytes (max_body)", (lua_Integer)t->max_body);
        lua_setfield(L, -2, "message");
        lua_pushboolean(L, 0); /* the whole answer would come again: not retried as a transport failure */
        lua_setfield(L, -2, "transport");
        return;
    }
    if (t->idle_expired) lua_pushfstring(L, "no data received for %d s (idle_timeout)", (int)t->idle_s);
    else lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    lua_setfield(L, -2, "message");
}

/* Settles a finished transfer's promise with its response table:
 * {status=, body=, content_type=, retry_after=} or, on failure,
 * {error=type, message=, status=} (transport=false when the failure is the
 * server's answer, not below HTTP). A bound call's 2xx JSON answer settles
 * with its decoded value. */
static void finish(lua_State *L, loop *lp, transfer *t, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (t->stream) stream_deliver(L, lp, t); /* its last messages reach Lua before its end */
    push_promise(L, t);
    if (t->decode && rc == CURLE_OK && status >= 200 && status < 300 && decode_answer(L, t)) {
        eventapi_promise_settle(L, -2, 1, -1);
        lua_pop(L, 2);
        transfer_free(L, lp, t);
        return;
    }
    lua_createtable(L, 0, 5);
    if (status > 0) {
        lua_pushinteger(L, status);
        lua_setfield(L, -2, "status");
    }
    if (t->stream && (t->stream->opened || t->stream->failed || t->idle_expired)) {
        stream_outcome(L, t, rc == CURLE_OK);
    } else if (rc == CURLE_OK) {
        lua_pushlstring(L, t->body ? t->body : "", t->len);
        lua_setfield(L, -2, "body");
        if (t->content_type[0]) {
            lua_pushstring(L, t->content_type);
            lua_setfield(L, -2, "content_type");
        }
        if (t->retry_after[0]) {
            lua_pushstring(L, t->retry_after);
            lua_setfield(L, -2, "retry_after");
        }
    } else {
        set_failure(L, lp, t, rc);
    }
    answer(L, lp, t, -2);
    lua_pop(L, 1);
    transfer_free(L, lp, t);
}

/* Ends, as a Timeout, every transfer with an idle limit that got no byte for
 * that long, and sets when the next check is due (the earliest limit of
 * the others); returns how many it ended. Runs only when lp->idle_due
 * passed: the callbacks only store a stamp. */
int check_idle(lua_State *L, loop *lp) {
    double now = eventapi_now(), next = -1;
    int ended = 0;
    for (transfer *t = lp->active, *following; t; t = following) {
        following = t->next;
        if (!t->idle_s) continue;
        double due = last_byte(lp, t) + (double)t->idle_s;
        if (due <= now) {
            t->idle_expired = 1;
            finish(L, lp, t, CURLE_OPERATION_TIMEDOUT);
            ended++;
        } else if (next < 0 || due < next) {
            next = due;
        }
    }
    lp->idle_due = next;
    return ended;
}

/* Makes sure an idle check is due by `due` at the latest. */
static void watch_idle(loop *lp, double due) {
    if (lp->idle_due >= 0 && lp->idle_due <= due) return;
    lp->idle_due = due;
    if (lp->exposed && !lp->in_step) arm(lp);
}

/* Reads curl's completion messages and settles those transfers. curl tells
 * a completion once: a transfer is marked completed before its finish, so
 * that a memory error raised out of finish (out of the step, to a host that
 * may catch it and step on) leaves it for the next drain, not waiting for
 * ever. */
int drain(lua_State *L, loop *lp) {
    CURLMsg *msg;
    int left, done = 0;
    if (lp->stream_records) stream_deliver_all(L, lp);
    for (transfer *t = lp->active, *next; lp->unfinished && t; t = next) {
        next = t->next;
        if (t->completed) {
            finish(L, lp, t, t->result);
            done++;
        }
    }
    while ((msg = curl_multi_info_read(lp->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t) {
            t->completed = 1;
            t->result = msg->data.result;
            lp->unfinished++;
            finish(L, lp, t, t->result);
            done++;
        }
    }
    return done;
}


/* Frees a transfer that could not start (not linked, no easy handle) and
 * raises an eventapi.Error of that type and message (callers still return
 * after it, for the compiler). */
static void start_failed(lua_State *L, transfer *t, int anchor, int op_ref, const char *type, const char *message) {
    curl_slist_free_all(t->own_headers);
    stream_free(t);
    free(t->url);
    free(t);
    luaL_unref(L, LUA_REGISTRYINDEX, anchor);
    luaL_unref(L, LUA_REGISTRYINDEX, op_ref);
    eventapi_error(L, type, "%s", message);
}

/* Starts a transfer (eventapi.h). Stack discipline: pushes the promise only. */
void eventapi_start(lua_State *L, int cfg, const char *method, const char *url, const char *body,
                    size_t body_len, int headers, int bound, const void *owner, int decode, const char *location,
                    const eventapi_extra *extra) {
    loop *lp = eventapi_loop(L);
    cfg = lua_absindex(L, cfg);
    if (headers) headers = lua_absindex(L, headers);
    if (bound) bound = lua_absindex(L, bound);
    config *c = lua_touserdata(L, cfg);
    if (lp->closed) {
        eventapi_error(L, "Closed", "the eventapi loop is closed");
        return;
    }
    /* The Lua side first (it may raise for memory while no C resource is held):
     * the anchor {promise, config} keeps the promise and the config (whose
     * header lists and strings curl reads during the transfer) alive; a bound
     * call anchors its promise and its bound operation, which holds the
     * config through its binding, with no table. */
    int anchor, op_ref = LUA_NOREF;
    if (bound) {
        lua_pushvalue(L, bound);
        op_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        eventapi_promise_new(L);
        lua_pushvalue(L, -1);
        anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_createtable(L, 3, 0); /* the anchor */
        int at = lua_gettop(L);
        eventapi_promise_new(L);
        lua_pushvalue(L, -1);
        lua_rawseti(L, at, 1);
        lua_pushvalue(L, cfg);
        lua_rawseti(L, at, 2);
        if (extra && extra->stream) { /* a stream's handler: anchor[3] (stream.c) */
            lua_pushvalue(L, extra->stream);
            lua_rawseti(L, at, 3);
        }
        lua_pushvalue(L, at);
        anchor = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_remove(L, at); /* the promise on top */
    }
    transfer *t = calloc(1, sizeof *t);
    if (!t || (owner && !(t->url = strdup(url)))) {
        free(t);
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        luaL_unref(L, LUA_REGISTRYINDEX, op_ref);
        eventapi_error(L, "OutOfMemory", "out of memory");
        return;
    }
    t->anchor_ref = anchor;
    t->op_ref = op_ref;
    if (extra && extra->stream && !stream_new(t, extra)) {
        start_failed(L, t, anchor, op_ref, "OutOfMemory", "out of memory");
        return;
    }
    if (owner) {
        t->owner = owner;
        t->decode = decode;
        eventapi_copy(t->method, sizeof t->method, method);
        eventapi_copy(t->location, sizeof t->location, location ? location : "");
    }
    if (headers) {
        int ok = 1;
        lua_Integer n = (lua_Integer)lua_rawlen(L, headers);
        for (lua_Integer i = 1; i <= n && ok; i++) {
            lua_rawgeti(L, headers, i);
            const char *h = lua_tostring(L, -1);
            struct curl_slist *next = h ? curl_slist_append(t->own_headers, h) : NULL;
            if (next) t->own_headers = next;
            else ok = 0;
            lua_pop(L, 1);
        }
        if (!ok) {
            start_failed(L, t, anchor, op_ref, "InvalidParams", "request headers must be strings (or out of memory)");
            return;
        }
    }
    t->easy = take_handle(lp, c);
    if (!t->easy) {
        start_failed(L, t, anchor, op_ref, "OutOfMemory", "out of memory");
        return;
    }
    CURL *e = t->easy;
    t->max_body = c->max_body;
    t->id = ++lp->next_id;
    t->config = c->serial;
    void *mime = extra ? extra->mime : NULL; /* an upload: the handle goes back to the pool reset, like a large body */
    t->large_body = (body && body_len > POOL_BODY_MAX) || mime;
    t->lp = lp;
    t->idle_s = c->idle_s; /* checked by check_idle, not libcurl's low-speed check (an average rate) */
    if (t->stream) { /* open for as long as it speaks: no total timeout, the stall limit as the idle one */
        t->idle_s = extra->stream_idle_s;
        t->large_body = 1; /* back to the pool reset: no timeout setting carried over */
    }
    t->sock = -1;
    t->started = t->seen = eventapi_now();
    /* a reused handle still holds the last request's URL and body: one that
     * cannot take this request's (out of memory) is dropped, never sent */
    CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, url);
    if (rc == CURLE_OK) rc = mime ? upload_set(e, t, mime, method) : set_method(e, method, body, body_len);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(e);
        start_failed(L, t, anchor, op_ref, "OutOfMemory", "out of memory");
        return;
    }
    if (t->stream) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    /* Wait to multiplex only where HTTP/2 can be known at the handshake (ALPN):
     * over http:// curl learns it from the first answer, so a slow first answer
     * would hold back every other request to that host. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncasecmp(url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     t->own_headers ? t->own_headers : (body && c->body_headers ? c->body_headers : c->headers));
    t->next = lp->active;
    if (lp->active) lp->active->prev = t;
    lp->active = t;
    lp->nactive++;
    CURLMcode mrc = curl_multi_add_handle(lp->multi, e);
    if (mrc != CURLM_OK) {
        transfer_free(L, lp, t);
        eventapi_error(L, mrc == CURLM_OUT_OF_MEMORY ? "OutOfMemory" : "InvalidUse", "cannot start the transfer");
    }
    t->mime = mime; /* started: the transfer owns it (before, a raise left it to the caller) */
    lp->sent++;
    if (t->idle_s) watch_idle(lp, t->started + (double)t->idle_s);
}

/* core.request(config, method, url [, body [, headers]]) -> promise, id: starts a transfer.
 * headers (a list of "Name: value") replaces the config's lists for this request.
 * The promise always fulfils, with the response table of finish(). */
static int l_request(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    const char *method = luaL_checkstring(L, 2), *url = luaL_checkstring(L, 3);
    size_t body_len = 0;
    const char *body = luaL_optlstring(L, 4, NULL, &body_len);
    lua_settop(L, 5);
    eventapi_start(L, 1, method, url, body, body_len, lua_istable(L, 5) ? 5 : 0, 0, NULL, 0, NULL, NULL);
    lua_pushinteger(L, eventapi_loop(L)->next_id);
    return 2;
}

/* Ends a transfer in flight: its promise gets {error="Closed", message=}. */
static void cancel(lua_State *L, loop *lp, transfer *t, const char *message) {
    push_promise(L, t);
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "Closed");
    lua_setfield(L, -2, "error");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    answer(L, lp, t, -2);
    lua_pop(L, 1);
    transfer_free(L, lp, t);
}

/* core.cancel(id [, message]) -> boolean: stops a transfer in flight; its promise fulfils with
 * {error="Closed"}. */
static int l_cancel(lua_State *L) {
    loop *lp = eventapi_loop(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    const char *message = luaL_optstring(L, 2, "the client was closed with this request in flight");
    for (transfer *t = lp->active; t; t = t->next) {
        if (t->id != id) continue;
        cancel(L, lp, t, message);
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* Ends every transfer in flight that owner started (eventapi.h); returns how many. */
int eventapi_cancel_owner(lua_State *L, loop *lp, const void *owner, const char *message) {
    int n = 0;
    for (transfer *t = lp->active, *next; t; t = next) {
        next = t->next;
        if (t->owner != owner) continue;
        cancel(L, lp, t, message);
        n++;
    }
    return n;
}

/* The number of transfers in flight that owner started (eventapi.h). */
int eventapi_count_owner(loop *lp, const void *owner) {
    int n = 0;
    for (transfer *t = lp->active; t; t = t->next) n += t->owner == owner;
    return n;
}

/* core.sent() -> the number of transfers this Lua state started (retries included). */
static int l_sent(lua_State *L) {
    lua_pushinteger(L, eventapi_loop(L)->sent);
    return 1;
}


/* Registers core.request, core.cancel and core.sent into the module table on
 * top, the loop just below it as their upvalue 1; leaves the stack as it was. */
void eventapi_open_transfer(lua_State *L) {
    static const luaL_Reg fns[] = {{"request", l_request}, {"cancel", l_cancel}, {"sent", l_sent}, {NULL, NULL}};
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
}
