/* eventapi-sandbox: Monterosa Control API v2 events over JSON:API
 * (docs/PROTOCOLS.md section 3): its routes as a table, the token, and the
 * calls (create, get, update, delete, the cursor-paged list). The event
 * resource itself is monterosa_event.c's. */
#include "monterosa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends s percent-encoded (RFC 3986 unreserved kept, ',' kept) to buf; 0, or -1 when it does not fit. */
static int append_encoded(char *buf, size_t cap, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(buf);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._~,", *p);
        if (n + (plain ? 1 : 3) >= cap) return -1;
        if (plain) {
            buf[n++] = (char)*p;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*p >> 4];
            buf[n++] = hex[*p & 15];
        }
    }
    buf[n] = '\0';
    return 0;
}

/* Appends a plain string to buf; 0, or -1 when it does not fit. */
static int append(char *buf, size_t cap, const char *s) {
    size_t n = strlen(buf), m = strlen(s);
    if (n + m >= cap) return -1;
    memcpy(buf + n, s, m + 1);
    return 0;
}

/* ---- calls ---- */

/* Parses a JSON:API body; NULL with 400/415 answered. */
static json_t *read_document(const sb_request *req, sb_response *res) {
    if (!sb_media_type_is(sb_header_get(req, "Content-Type"), JSONAPI)) {
        mr_error(res, 415, "Unsupported Media Type", "Content-Type must be " JSONAPI);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    if (!doc) {
        mr_error(res, 400, "Bad Request", "The body is not valid JSON");
        return NULL;
    }
    if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "data"))) {
        json_decref(doc);
        mr_error(res, 400, "Bad Request", "The body must be a JSON:API document with a data object");
        return NULL;
    }
    return doc;
}

/* POST /api/v2/events. */
static void create(sb_server *srv, const sb_request *req, sb_response *res) {
    json_t *doc = read_document(req, res);
    if (!doc) return;
    json_t *data = json_object_get(doc, "data"), *attrs = json_object_get(data, "attributes");
    json_t *project = json_object_get(json_object_get(json_object_get(json_object_get(data, "relationships"), "project"),
                                                      "data"), "id");
    mr_errors errors = {json_array(), 0};
    if (!mr_is_str(json_object_get(data, "type"), "events")) mr_add_error(&errors, "pointer", "/data/type", "must be events");
    if (!json_is_object(attrs)) mr_add_error(&errors, "pointer", "/data/attributes", "can't be blank");
    else mr_check_attributes(attrs, 1, &errors);
    if (!json_is_string(project)) mr_add_error(&errors, "pointer", "/data/relationships/project", "can't be blank");
    else if (!mr_exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", json_string_value(project)))
        mr_add_error(&errors, "pointer", "/data/relationships/project", "does not name a project");
    if (errors.count || !errors.list) {
        if (!errors.count) errors.count = 1; /* no list: out of memory */
        mr_unprocessable(res, &errors);
        json_decref(doc);
        return;
    }
    json_decref(errors.list);
    char id[37];
    sb_uuid(id);
    json_t *ev = mr_new_event(attrs, id, json_string_value(project)), *resource = NULL;
    /* created with action start: answered as the public "create and start" example shows (the state
       before the start is taken: future for a manual event, end_at = start_at + duration, extra_time
       60), then started, so the next read finds it current */
    int start = json_object_get(attrs, "action") != NULL;
    int failed = !ev || (start && json_object_set_new(ev, "extra_time", json_integer(60)) < 0)
                 || !(resource = mr_resource(req, ev))
                 || (start && json_object_set_new(ev, "started_at", json_integer((json_int_t)req->now)) < 0)
                 || mr_store_event(srv->db, ev) < 0;
    if (failed) {
        json_decref(resource);
        mr_error(res, 500, "Internal Server Error", "cannot store the event");
    } else {
        sb_reply_json_type(res, 201, json_pack("{s:o}", "data", resource), JSONAPI);
    }
    json_decref(ev);
    json_decref(doc);
}

/* PATCH /api/v2/events/{id}: attribute changes and start/stop actions. */
static void update(sb_server *srv, const sb_request *req, sb_response *res, json_t *ev) {
    json_t *doc = read_document(req, res);
    if (!doc) return;
    json_t *data = json_object_get(doc, "data"), *attrs = json_object_get(data, "attributes");
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_t *data_id = json_object_get(data, "id");
    if (data_id && !mr_is_str(data_id, id ? id : "")) { /* JSON:API: another resource's id is a conflict */
        json_decref(doc);
        mr_error(res, 409, "Conflict", "data.id must be the id of the event in the path");
        return;
    }
    mr_errors errors = {json_array(), 0};
    if (!data_id) mr_add_error(&errors, "pointer", "/data/id", "can't be blank"); /* JSON:API requires it */
    if (!mr_is_str(json_object_get(data, "type"), "events")) mr_add_error(&errors, "pointer", "/data/type", "must be events");
    if (attrs && !json_is_object(attrs)) mr_add_error(&errors, "pointer", "/data/attributes", "must be an object");
    else if (attrs) mr_check_attributes(attrs, 0, &errors);
    const char *action = json_string_value(json_object_get(attrs, "action"));
    const char *state = mr_state_of(ev, req->now);
    if (!errors.count && action && !strcmp(action, "start") && strcmp(state, "future"))
        mr_add_error(&errors, "pointer", "/data/attributes/action", "only a future event can be started");
    if (!errors.count && action && !strcmp(action, "stop") && strcmp(state, "current"))
        mr_add_error(&errors, "pointer", "/data/attributes/action", "only a current event can be stopped");
    if (errors.count || !errors.list) {
        if (!errors.count) errors.count = 1;
        mr_unprocessable(res, &errors);
        json_decref(doc);
        return;
    }
    json_decref(errors.list);
    const char *key;
    json_t *v;
    int failed = 0;
    json_object_foreach(attrs, key, v) if (mr_listed(MR_WRITABLE, key) && strcmp(key, "action")) failed |= json_object_set(ev, key, v);
    if (action && !strcmp(action, "start")) failed |= json_object_set_new(ev, "started_at", json_integer((json_int_t)req->now));
    if (action && !strcmp(action, "stop")) failed |= json_object_set_new(ev, "stopped_at", json_integer((json_int_t)req->now));
    if (failed || mr_store_event(srv->db, ev) < 0) mr_error(res, 500, "Internal Server Error", "cannot store the event");
    else sb_reply_empty(res, 204);
    json_decref(doc);
}

static const char *const STATES[] = {"future", "current", "on_demand", "past", NULL};

/* Checks the list query into errors; sets *count. */
static void check_list_query(const sb_request *req, mr_errors *errors, long *count) {
    const char *filter = sb_query_get(req, "filter[state]"), *sort = sb_query_get(req, "sort");
    const char *count_text = sb_query_get(req, "page[count]"), *listings = sb_query_get(req, "filter[only_listings]");
    if (!filter || !*filter) mr_add_error(errors, "parameter", "filter[state]", "is required");
    else if (!mr_csv_valid(filter, STATES)) mr_add_error(errors, "parameter", "filter[state]", "accepts future, current, on_demand, past");
    if (listings && strcmp(listings, "true") && strcmp(listings, "false"))
        mr_add_error(errors, "parameter", "filter[only_listings]", "must be true or false");
    if (sort && strcmp(sort, "start_time") && strcmp(sort, "-start_time"))
        mr_add_error(errors, "parameter", "sort", "must be start_time or -start_time");
    *count = DEFAULT_COUNT;
    if (count_text) {
        char *end;
        *count = strtol(count_text, &end, 10);
        if (!*count_text || *end || *count < 1 || *count > MAX_COUNT)
            mr_add_error(errors, "parameter", "page[count]", "must be from 1 to 100");
    }
}

/* Builds the absolute next-page link with page[cursor]=cursor into buf; 0 or -1 when too long. */
static int next_link(const sb_request *req, const char *project, long count, const char *cursor, char *buf, size_t cap) {
    char num[64];
    const char *sort = sb_query_get(req, "sort"), *include = sb_query_get(req, "include");
    const char *listings = sb_query_get(req, "filter[only_listings]");
    mr_origin(req, buf, cap);
    if (append(buf, cap, "/api/v2/projects/") || append_encoded(buf, cap, project)
        || append(buf, cap, "/events?filter%5Bstate%5D=") || append_encoded(buf, cap, sb_query_get(req, "filter[state]")))
        return -1;
    if (listings && (append(buf, cap, "&filter%5Bonly_listings%5D=") || append(buf, cap, listings))) return -1;
    if (sort && (append(buf, cap, "&sort=") || append(buf, cap, sort))) return -1;
    if (include && *include && (append(buf, cap, "&include=") || append_encoded(buf, cap, include))) return -1;
    snprintf(num, sizeof num, "&page%%5Bcount%%5D=%ld&page%%5Bcursor%%5D=", count);
    return append(buf, cap, num) || append_encoded(buf, cap, cursor) ? -1 : 0;
}

/* GET /api/v2/projects/{project}/events: filter, sort and cursor pages. */
static void list(sb_server *srv, const sb_request *req, sb_response *res, const char *project) {
    const char *filter = sb_query_get(req, "filter[state]"), *sort = sb_query_get(req, "sort");
    const char *cursor = sb_query_get(req, "page[cursor]");
    mr_errors errors = {json_array(), 0};
    long count;
    if (!mr_exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", project)) {
        json_decref(errors.list);
        mr_error(res, 404, "Not Found", "Project not found");
        return;
    }
    check_list_query(req, &errors, &count);
    if (errors.count || !errors.list) {
        if (!errors.count) errors.count = 1;
        mr_unprocessable(res, &errors);
        return;
    }
    json_decref(errors.list);
    if (mr_check_include(req, res) < 0) return;
    int desc = sort && sort[0] == '-';
    long long cur_at = 0;
    char *cur_id = NULL;
    if (cursor && *cursor) { /* "<start_at>_<id>" as written by next_link */
        cur_at = strtoll(cursor, &cur_id, 10);
        if (cur_id == cursor || *cur_id != '_' || !cur_id[1]) {
            mr_error(res, 400, "Bad Request", "page[cursor] is not a cursor of this list");
            return;
        }
        cur_id++;
    }
    sqlite3_stmt *st;
    const char *sql = desc ? "SELECT doc FROM mr_events WHERE project = ?1 AND (?2 IS NULL OR (start_at, id) < (?3, ?2))"
                             " ORDER BY start_at DESC, id DESC"
                           : "SELECT doc FROM mr_events WHERE project = ?1 AND (?2 IS NULL OR (start_at, id) > (?3, ?2))"
                             " ORDER BY start_at ASC, id ASC";
    if (sqlite3_prepare_v2(srv->db, sql, -1, &st, NULL) != SQLITE_OK) {
        mr_error(res, 500, "Internal Server Error", "database error");
        return;
    }
    sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
    if (cur_id) {
        sqlite3_bind_text(st, 2, cur_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, cur_at);
    }
    json_t *page = json_array(), *events = json_array();
    int more = 0, failed = !page || !events;
    json_int_t last_at = 0;
    char last_id[128] = "";
    while (!failed && sqlite3_step(st) == SQLITE_ROW) {
        json_t *ev = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (!ev) {
            failed = 1;
            break;
        }
        if (mr_csv_has(filter, mr_state_of(ev, req->now))) {
            if ((long)json_array_size(page) == count) {
                more = 1;
                json_decref(ev);
                break;
            }
            failed = json_array_append_new(page, mr_resource(req, ev)) < 0 || json_array_append(events, ev) < 0;
            last_at = json_integer_value(json_object_get(ev, "start_at"));
            snprintf(last_id, sizeof last_id, "%s", json_string_value(json_object_get(ev, "id")));
        }
        json_decref(ev);
    }
    sqlite3_finalize(st);
    /* the cursor names the last item; the repeat-page fault repeats the request's own */
    char next[2048], next_cursor[192];
    const char *next_at = NULL;
    if (more) {
        snprintf(next_cursor, sizeof next_cursor, "%lld_%s", (long long)last_at, last_id);
        next_at = next_cursor;
    }
    if ((req->fault_flags & SB_FAULT_REPEAT_PAGE) && cursor && *cursor) next_at = cursor;
    json_t *doc = failed ? NULL : json_pack("{s:O, s:{}}", "data", page, "links");
    if (doc && next_at
        && (next_link(req, project, count, next_at, next, sizeof next) < 0
            || json_object_set_new(json_object_get(doc, "links"), "next", json_string(next)) < 0)) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(page);
    if (doc && mr_add_included(srv, req, res, doc, events) < 0) {
        json_decref(doc);
        json_decref(events);
        return;
    }
    json_decref(events);
    sb_reply_json_type(res, 200, doc, JSONAPI); /* NULL doc: 500 */
}

/* GET /api/v2/events/{id}: the event, with include. */
static void get(sb_server *srv, const sb_request *req, sb_response *res, json_t *ev) {
    if (mr_check_include(req, res) < 0) return;
    json_t *doc = json_pack("{s:o}", "data", mr_resource(req, ev)), *one = json_pack("[O]", ev);
    if (doc && one && mr_add_included(srv, req, res, doc, one) < 0) {
        json_decref(doc);
        json_decref(one);
        return;
    }
    if (!one) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(one);
    sb_reply_json_type(res, 200, doc, JSONAPI); /* NULL doc: 500 */
}

/* DELETE /api/v2/events/{id}. */
static void delete_event(sb_server *srv, sb_response *res, const char *id) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(srv->db, "DELETE FROM mr_events WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
        mr_error(res, 500, "Internal Server Error", "database error");
        return;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) sb_reply_empty(res, 204);
    else mr_error(res, 500, "Internal Server Error", "database error");
    sqlite3_finalize(st);
}

/* 1 when the request carries a known bearer token. */
static int authorized(sb_server *srv, const sb_request *req) {
    const char *auth = sb_header_get(req, "Authorization");
    return auth && strncasecmp(auth, "Bearer ", 7) == 0
           && mr_exists(srv->db, "SELECT 1 FROM mr_tokens WHERE token = ?", auth + 7);
}

/* ---- routes ---- */

/* What a call gets: the request, the answer, the id of the path (event or
 * project) and, for an event path, the stored event. */
typedef struct mr_call {
    sb_server *srv;
    const sb_request *req;
    sb_response *res;
    const char *id;
    json_t *ev;
} mr_call;

/* POST /events. */
static void create_call(const mr_call *c) {
    create(c->srv, c->req, c->res);
}

/* GET /events/{id}. */
static void get_call(const mr_call *c) {
    get(c->srv, c->req, c->res, c->ev);
}

/* PATCH /events/{id}. */
static void update_call(const mr_call *c) {
    update(c->srv, c->req, c->res, c->ev);
}

/* DELETE /events/{id}. */
static void delete_call(const mr_call *c) {
    delete_event(c->srv, c->res, c->id);
}

/* GET /projects/{id}/events. */
static void list_call(const mr_call *c) {
    list(c->srv, c->req, c->res, c->id);
}

/* The paths: /events, /events/{id}, /projects/{id}/events. */
enum path { P_EVENTS, P_EVENT, P_PROJECT_EVENTS };

static const struct {
    enum path path;
    const char *method;
    void (*handler)(const mr_call *c);
} ROUTES[] = {
    {P_EVENTS, "POST", create_call},          {P_EVENT, "GET", get_call},
    {P_EVENT, "PATCH", update_call},          {P_EVENT, "DELETE", delete_call},
    {P_PROJECT_EVENTS, "GET", list_call},
};
#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* Answers every path under /api/v2 (sandbox.h): the calls on its paths,
 * a JSON:API 404 for the others. */
int sb_monterosa_route(sb_server *srv, const sb_request *req, sb_response *res) {
    if (req->nseg < 2 || strcmp(req->seg[0], "api") || strcmp(req->seg[1], "v2")) return 0;
    int events = req->nseg >= 3 && req->nseg <= 4 && !strcmp(req->seg[2], "events");
    int projects = req->nseg == 5 && !strcmp(req->seg[2], "projects") && !strcmp(req->seg[4], "events");
    if (!events && !projects) { /* under /api/v2 the service answers in its own shape */
        mr_error(res, 404, "Not Found", "Path not found");
        return 1;
    }
    if (sb_rate_limited(srv, req, res)) {
        char detail[64];
        snprintf(detail, sizeof detail, "More than %d requests per second", srv->rate_limit);
        mr_error(res, 429, "Too Many Requests", detail);
        return 1;
    }
    enum path path = projects ? P_PROJECT_EVENTS : req->nseg == 3 ? P_EVENTS : P_EVENT;
    char allow[64] = "";
    void (*handler)(const mr_call *c) = NULL;
    for (size_t k = 0; k < NROUTES; k++) {
        if (ROUTES[k].path != path) continue;
        if (!strcmp(ROUTES[k].method, req->method)) handler = ROUTES[k].handler;
        snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s%s", *allow ? ", " : "", ROUTES[k].method,
                 !strcmp(ROUTES[k].method, "GET") ? ", HEAD" : "");
    }
    if (!handler) { /* before authentication */
        sb_reply_header(res, "Allow", allow);
        mr_error(res, 405, "Method Not Allowed", "This method is not allowed here");
        return 1;
    }
    if (!authorized(srv, req)) {
        mr_error(res, 401, "Unauthorized", "A valid bearer token is required");
        return 1;
    }
    mr_call c = {srv, req, res, path == P_EVENTS ? NULL : req->seg[3], NULL};
    if (path == P_EVENT && !(c.ev = mr_load_event(srv->db, c.id))) mr_error(res, 404, "Not Found", "Event not found");
    else handler(&c); /* inside the request's transaction (store.c) */
    json_decref(c.ev);
    return 1;
}
