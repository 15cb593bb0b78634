/* eventapi-sandbox: the Connect Daily calendar Event CRUD API
 * (docs/PROTOCOLS.md section 2): any context path, then restapi/v1/events;
 * its routes as a table, authentication and permissions, and the calls.
 * The event document itself is connectdaily_event.c's. */
#include "connectdaily.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What a call gets: the request, the answer, the caller's calendar
 * permissions and, for an item path, the event it addresses. */
typedef struct cd_call {
    sb_server *srv;
    const sb_request *req;
    sb_response *res;
    json_t *perms;
    json_t *ev;
} cd_call;

/* ---- answers ---- */

/* Answers {"error":1,"message":...} with status, marked as an error (no commit). */
static void cd_error(sb_response *res, int status, const char *message) {
    sb_reply_json(res, status, json_pack("{s:i, s:s}", "error", 1, "message", message));
    res->error = 1;
}

/* Connect Daily's error shape for the server-wide answers (sandbox.h). */
void sb_connectdaily_error(sb_response *res, int status, const char *message) {
    cd_error(res, status, message);
}

/* ---- authentication ---- */

/* Decodes standard base64 into out (NUL-terminated); -1 when malformed,
 * too long, or when the decoded text holds a NUL byte. */
static int base64_decode(const char *in, char *out, size_t cap) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(alphabet, *in);
        if (!p || !*in) return -1;
        acc = (acc << 6) | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= cap || !((acc >> bits) & 0xff)) return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return 0;
}

/* Returns the caller's calendar permissions (new reference) or NULL when
 * the credentials are missing or wrong. */
static json_t *authenticate(sb_server *srv, const sb_request *req) {
    const char *auth = sb_header_get(req, "Authorization");
    sqlite3_stmt *st;
    json_t *perms = NULL;
    char decoded[512];
    if (!auth) return NULL;
    if (strncasecmp(auth, "Basic ", 6) == 0) {
        char *colon;
        if (base64_decode(auth + 6, decoded, sizeof decoded) < 0 || !(colon = strchr(decoded, ':'))) return NULL;
        *colon = '\0';
        if (sqlite3_prepare_v2(srv->db, "SELECT perms FROM cd_credentials WHERE kind = 'user' AND name = ? AND secret = ?",
                               -1, &st, NULL) != SQLITE_OK)
            return NULL;
        sqlite3_bind_text(st, 1, decoded, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, colon + 1, -1, SQLITE_STATIC);
    } else if (strncasecmp(auth, "Bearer ", 7) == 0) {
        if (sqlite3_prepare_v2(srv->db, "SELECT perms FROM cd_credentials WHERE kind = 'token' AND name = ?", -1, &st, NULL)
            != SQLITE_OK)
            return NULL;
        sqlite3_bind_text(st, 1, auth + 7, -1, SQLITE_STATIC);
    } else {
        return NULL;
    }
    if (sqlite3_step(st) == SQLITE_ROW) perms = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    memset(decoded, 0, sizeof decoded);
    return perms;
}

/* 1 when perms grant read (or write when write is set) on a calendar. */
static int allowed(json_t *perms, json_int_t calendar, int write) {
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)calendar);
    const char *p = json_string_value(json_object_get(perms, key));
    if (!p) return 0;
    return write ? strcmp(p, "write") == 0 : (strcmp(p, "write") == 0 || strcmp(p, "read") == 0);
}

/* A fork param from the query string, else from the form-encoded body
 * (new string); NULL when absent or out of memory (*oom set). */
static char *fork_param(const sb_request *req, const char *name, int *oom) {
    const char *q = sb_query_get(req, name);
    *oom = 0;
    if (q) {
        char *copy = strdup(q);
        if (!copy) *oom = 1;
        return copy;
    }
    return sb_form_get(req->body, req->body_len, name, oom);
}

/* POST /events/{id}?fork=1&starting_date=yyyy-mm-dd. */
static void fork_event(const cd_call *c) {
    sb_server *srv = c->srv;
    const sb_request *req = c->req;
    sb_response *res = c->res;
    json_t *ev = c->ev, *perms = c->perms;
    char guid[37];
    int oom_fork, oom_date;
    if (!allowed(perms, json_integer_value(json_object_get(ev, "calendar_id")), 1)) {
        cd_error(res, 403, "Access denied");
        return;
    }
    char *fork = fork_param(req, "fork", &oom_fork), *date = fork_param(req, "starting_date", &oom_date);
    int is_fork = fork && !strcmp(fork, "1");
    long j = date ? cd_parse_date(date) : -1;
    free(fork);
    free(date);
    if (oom_fork || oom_date) {
        cd_error(res, 500, "out of memory");
        return;
    }
    if (!is_fork) {
        cd_error(res, 400, "POST to an event needs fork=1");
        return;
    }
    if (j < 0) {
        cd_error(res, 400, "starting_date must be a real yyyy-mm-dd date");
        return;
    }
    if (json_integer_value(json_object_get(ev, "rec_type")) == 3) {
        cd_error(res, 400, "The event is not a recurring series");
        return;
    }
    if (!cd_occurs_on(ev, j)) {
        cd_error(res, 400, "The series does not occur on that date");
        return;
    }
    json_t *copy = json_deep_copy(ev);
    json_int_t id = copy ? cd_next_id(srv->db) : -1;
    sb_uuid(guid);
    json_object_del(copy, "locked");
    if (!copy || id < 0 || json_array_append_new(json_object_get(ev, "exceptions"), json_integer(j))
        || json_object_set_new(ev, "version", json_integer(json_integer_value(json_object_get(ev, "version")) + 1))
        || json_object_set_new(copy, "cal_item_id", json_integer(id)) || json_object_set_new(copy, "itemguid", json_string(guid))
        || json_object_set_new(copy, "rec_type", json_integer(3)) || json_object_set_new(copy, "starting_date", json_integer(j))
        || json_object_set_new(copy, "ending_date", json_integer(j)) || json_object_set_new(copy, "exceptions", json_array())
        || json_object_set_new(copy, "version", json_integer(1)) || cd_store_event(srv->db, ev) < 0
        || cd_store_event(srv->db, copy) < 0)
        cd_error(res, 500, "cannot store the fork");
    else sb_reply_json(res, 201, json_pack("{s:i, s:n, s:I}", "error", 0, "message", "cal_item_id", id));
    json_decref(copy);
}

/* The update failures the manual lists beside Error (error 1): Warning and
 * Conflict (of a resource or of the event, the latter a 409), asked by the
 * faults warning, resource-conflict and conflict once every check of the
 * update has passed; nothing is stored. The numbers 2 (Warning) and 3
 * (Conflict) are the sandbox's: the manual names the values, not their
 * numbers. */
static void update_fault(sb_response *res, unsigned flags) {
    if (flags & SB_FAULT_CONFLICT) {
        cd_error(res, 409, "The event was changed by someone else (X-Sandbox-Fault: conflict)");
        return;
    }
    int warning = (flags & SB_FAULT_WARNING) != 0;
    sb_reply_json(res, 200,
                  json_pack("{s:i, s:s}", "error", warning ? 2 : 3, "message",
                            warning ? "Warning: the event was not saved (X-Sandbox-Fault: warning)"
                                    : "Conflict: a resource of the event is booked at that time, the event was not "
                                      "saved (X-Sandbox-Fault: resource-conflict)"));
    res->error = 1;
}

/* PUT /events/{id}: replaces the event, checking version and permissions. */
static void update_event(const cd_call *c) {
    sb_server *srv = c->srv;
    const sb_request *req = c->req;
    sb_response *res = c->res;
    json_t *ev = c->ev, *perms = c->perms;
    char msg[256];
    json_int_t sent;
    json_t *in = json_loadb(req->body, req->body_len, 0, NULL), *clean;
    if (!allowed(perms, json_integer_value(json_object_get(ev, "calendar_id")), 1)) {
        cd_error(res, 403, "Access denied");
    } else if (!in) {
        cd_error(res, 200, "The body is not a JSON event");
    } else if (cd_version_value(json_object_get(in, "version"), &sent) == 0
               && sent < json_integer_value(json_object_get(ev, "version"))) {
        snprintf(msg, sizeof msg, "The event was changed by someone else (now version %lld)",
                 (long long)json_integer_value(json_object_get(ev, "version")));
        cd_error(res, 409, msg);
    } else if (!(clean = cd_normalize(in, msg, sizeof msg))) {
        cd_error(res, 200, msg);
    } else {
        json_int_t cal = json_integer_value(json_object_get(clean, "calendar_id"));
        if (!cd_calendar_exists(srv->db, cal)) {
            cd_error(res, 200, "calendar_id does not name a calendar");
        } else if (!allowed(perms, cal, 1)) {
            cd_error(res, 403, "Access denied");
        } else if (req->fault_flags & (SB_FAULT_WARNING | SB_FAULT_RESOURCE_CONFLICT | SB_FAULT_CONFLICT)) {
            update_fault(res, req->fault_flags);
        } else {
            if (json_object_set(clean, "cal_item_id", json_object_get(ev, "cal_item_id"))
                || json_object_set(clean, "itemguid", json_object_get(ev, "itemguid"))
                || json_object_set_new(clean, "version", json_integer(json_integer_value(json_object_get(ev, "version")) + 1))
                || (json_is_true(json_object_get(ev, "locked")) && json_object_set_new(clean, "locked", json_true()))
                || cd_store_event(srv->db, clean) < 0)
                cd_error(res, 500, "cannot store the event");
            else sb_reply_json(res, 200, json_incref(clean));
        }
        json_decref(clean);
    }
    json_decref(in);
}

/* POST /events: creates an event on a calendar the caller may write. */
static void create_event(const cd_call *c) {
    sb_server *srv = c->srv;
    const sb_request *req = c->req;
    sb_response *res = c->res;
    json_t *perms = c->perms;
    char msg[256], guid[37];
    json_t *in = json_loadb(req->body, req->body_len, 0, NULL);
    json_t *clean = in ? cd_normalize(in, msg, sizeof msg) : NULL;
    if (!in) {
        cd_error(res, 500, "The body is not a JSON event");
    } else if (!clean) {
        cd_error(res, 500, msg);
    } else if (!cd_calendar_exists(srv->db, json_integer_value(json_object_get(clean, "calendar_id")))) {
        cd_error(res, 500, "calendar_id does not name a calendar");
    } else if (!allowed(perms, json_integer_value(json_object_get(clean, "calendar_id")), 1)) {
        cd_error(res, 403, "Access denied");
    } else {
        json_int_t id = cd_next_id(srv->db);
        sb_uuid(guid);
        if (id < 0 || json_object_set_new(clean, "cal_item_id", json_integer(id))
            || json_object_set_new(clean, "itemguid", json_string(guid)) || json_object_set_new(clean, "version", json_integer(1))
            || cd_store_event(srv->db, clean) < 0)
            cd_error(res, 500, "cannot store the event");
        else sb_reply_json(res, 201, json_incref(clean));
    }
    json_decref(clean);
    json_decref(in);
}

/* DELETE /events/{id}: 204, or 200 {"error":1} for a locked event. */
static void delete_event(const cd_call *c) {
    sb_server *srv = c->srv;
    sb_response *res = c->res;
    json_t *ev = c->ev, *perms = c->perms;
    sqlite3_stmt *st;
    if (!allowed(perms, json_integer_value(json_object_get(ev, "calendar_id")), 1)) {
        cd_error(res, 403, "Access denied");
        return;
    }
    if (json_is_true(json_object_get(ev, "locked"))) {
        cd_error(res, 200, "The event is locked and cannot be deleted");
        return;
    }
    if (sqlite3_prepare_v2(srv->db, "DELETE FROM cd_events WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
        cd_error(res, 500, "database error");
        return;
    }
    sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(ev, "cal_item_id")));
    if (sqlite3_step(st) == SQLITE_DONE) sb_reply_empty(res, 204);
    else cd_error(res, 500, "database error");
    sqlite3_finalize(st);
}

/* GET /events/{id}: the event, with read permission on its calendar. */
static void get_event(const cd_call *c) {
    if (allowed(c->perms, json_integer_value(json_object_get(c->ev, "calendar_id")), 0))
        sb_reply_json(c->res, 200, json_incref(c->ev));
    else
        cd_error(c->res, 403, "Access denied");
}

/* ---- routes ---- */

/* The calls: on the collection (item 0) or on one event (item 1). */
static const struct {
    int item;
    const char *method;
    void (*handler)(const cd_call *c);
} ROUTES[] = {
    {0, "POST", create_event}, {1, "GET", get_event}, {1, "PUT", update_event},
    {1, "POST", fork_event},   {1, "DELETE", delete_event},
};
#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* Answers every path with the segments restapi/v1 (sandbox.h): the calls
 * on restapi/v1/events[/{id}], 404 in its own shape for the others. */
int sb_connectdaily_route(sb_server *srv, const sb_request *req, sb_response *res) {
    int i = 0;
    while (i + 1 < req->nseg && !(strcmp(req->seg[i], "restapi") == 0 && strcmp(req->seg[i + 1], "v1") == 0)) i++;
    if (i + 1 >= req->nseg) return 0;
    if (i + 2 >= req->nseg || strcmp(req->seg[i + 2], "events") != 0 || req->nseg > i + 4) {
        cd_error(res, 404, "Path not found"); /* under restapi/v1 the service answers in its own shape */
        return 1;
    }
    if (sb_rate_limited(srv, req, res)) {
        char message[64];
        snprintf(message, sizeof message, "More than %d requests per second", srv->rate_limit);
        cd_error(res, 429, message);
        return 1;
    }
    const char *address = req->nseg == i + 4 ? req->seg[i + 3] : NULL;
    char allow[64] = "";
    void (*handler)(const cd_call *c) = NULL;
    for (size_t k = 0; k < NROUTES; k++) {
        if (ROUTES[k].item != (address != NULL)) continue;
        if (!strcmp(ROUTES[k].method, req->method)) handler = ROUTES[k].handler;
        snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s%s", *allow ? ", " : "", ROUTES[k].method,
                 !strcmp(ROUTES[k].method, "GET") ? ", HEAD" : "");
    }
    if (!handler) { /* before authentication */
        sb_reply_header(res, "Allow", allow);
        cd_error(res, 405, "Method not allowed");
        return 1;
    }
    cd_call c = {srv, req, res, authenticate(srv, req), NULL};
    if (!c.perms) {
        sb_reply_header(res, "WWW-Authenticate", "Basic realm=\"connectDaily\"");
        cd_error(res, 401, "Authentication required");
        return 1;
    }
    if (address && !(c.ev = cd_load_event(srv->db, address))) cd_error(res, 404, "Event not found");
    else handler(&c); /* inside the request's transaction (store.c) */
    json_decref(c.ev);
    json_decref(c.perms);
    return 1;
}
