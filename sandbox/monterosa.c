/* eventapi-sandbox: Monterosa Control API v2 events over JSON:API
 * (CONTRACTS.md section 3). Stored documents keep the attributes plus the
 * sandbox's own fields started_at and stopped_at; the state is computed
 * from them and the time of the request. */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define JSONAPI "application/vnd.api+json"

/* ---- answers ---- */

/* Answers a JSON:API error list with one error. */
static void mr_error(sb_response *res, int status, const char *title, const char *detail) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    sb_reply_json_type(res, status,
                       json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "status", code, "title", title, "detail", detail),
                       JSONAPI);
}

/* Appends one 422 error with a JSON pointer (or a query parameter) to errors. */
static void add_error(json_t *errors, const char *where, const char *key, const char *detail) {
    json_array_append_new(errors, json_pack("{s:s, s:{s:s}, s:s}", "status", "422", "source", where, key, "detail", detail));
}

/* ---- storage ---- */

int sb_monterosa_schema(sqlite3 *db) {
    return sb_exec(db,
                          "CREATE TABLE IF NOT EXISTS mr_tokens (token TEXT PRIMARY KEY);"
                          "CREATE TABLE IF NOT EXISTS mr_projects (id TEXT PRIMARY KEY, name TEXT);"
                          "CREATE TABLE IF NOT EXISTS mr_events (id TEXT PRIMARY KEY, project TEXT, start_at INTEGER,"
                          " doc TEXT);");
}

/* Stores an event document. */
static int store_event(sqlite3 *db, json_t *ev) {
    sqlite3_stmt *st;
    char *text = json_dumps(ev, JSON_COMPACT);
    int rc = -1;
    if (!text) return -1;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO mr_events VALUES (?, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, json_string_value(json_object_get(ev, "id")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(ev, "project_id")), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(ev, "start_at")));
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    free(text);
    return rc;
}

/* Loads an event by id (new reference) or NULL. */
static json_t *load_event(sqlite3 *db, const char *id) {
    sqlite3_stmt *st;
    json_t *doc = NULL;
    if (sqlite3_prepare_v2(db, "SELECT doc FROM mr_events WHERE id = ?", -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    return doc;
}

/* 1 when a row matches sql with one text parameter. */
static int exists(sqlite3 *db, const char *sql, const char *value) {
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    return found;
}


/* ---- attributes ---- */

static const char *const WRITABLE[] = {"name", "duration", "start_at", "start_mode", "end_mode", "repeat",
                                       "repeat_in", "settings", "action", NULL};
static const char *const READ_ONLY[] = {"state", "start_at_iso", "end_at", "end_at_iso", "original_duration",
                                        "actions", "extra_time", "feed_uuid", "live_stats_uuid", NULL};

/* 1 when name is in the NULL-terminated list. */
static int listed(const char *const *list, const char *name) {
    for (; *list; list++)
        if (!strcmp(*list, name)) return 1;
    return 0;
}

/* Checks attributes (all required ones when creating); adds 422 errors. */
static void check_attributes(json_t *attrs, int creating, json_t *errors) {
    const char *key;
    json_t *v;
    char pointer[128];
    json_object_foreach(attrs, key, v) {
        snprintf(pointer, sizeof pointer, "/data/attributes/%s", key);
        if (listed(READ_ONLY, key)) continue;
        if (!listed(WRITABLE, key)) add_error(errors, "pointer", pointer, "is not a known attribute");
    }
    v = json_object_get(attrs, "name");
    if (v ? !(json_is_string(v) && *json_string_value(v)) : creating)
        add_error(errors, "pointer", "/data/attributes/name", "can't be blank");
    v = json_object_get(attrs, "duration");
    if (!v && creating) add_error(errors, "pointer", "/data/attributes/duration", "can't be blank");
    else if (v && !json_is_integer(v)) add_error(errors, "pointer", "/data/attributes/duration", "must be an integer");
    else if (v && json_integer_value(v) <= 0)
        add_error(errors, "pointer", "/data/attributes/duration", "must be greater than 0");
    v = json_object_get(attrs, "start_at");
    if (!v && creating) add_error(errors, "pointer", "/data/attributes/start_at", "can't be blank");
    else if (v && !(json_is_integer(v) && json_integer_value(v) >= 0))
        add_error(errors, "pointer", "/data/attributes/start_at", "must be a Unix time in seconds");
    v = json_object_get(attrs, "start_mode");
    if (v ? !(json_is_string(v) && (!strcmp(json_string_value(v), "manual") || !strcmp(json_string_value(v), "clock")))
          : creating)
        add_error(errors, "pointer", "/data/attributes/start_mode", "must be manual or clock");
    v = json_object_get(attrs, "end_mode");
    if (v && !(json_is_string(v) && (!strcmp(json_string_value(v), "duration") || !strcmp(json_string_value(v), "scheduled"))))
        add_error(errors, "pointer", "/data/attributes/end_mode", "must be duration or scheduled");
    v = json_object_get(attrs, "repeat");
    if (v && !json_is_boolean(v)) add_error(errors, "pointer", "/data/attributes/repeat", "must be a boolean");
    v = json_object_get(attrs, "repeat_in");
    if (v && !json_is_null(v) && !(json_is_integer(v) && json_integer_value(v) > 0))
        add_error(errors, "pointer", "/data/attributes/repeat_in", "must be a number of minutes");
    v = json_object_get(attrs, "settings");
    if (v) {
        size_t i;
        json_t *s;
        int ok = json_is_array(v);
        if (ok) json_array_foreach(v, i, s) if (!json_is_object(s) || !json_is_string(json_object_get(s, "key"))
                                                || !json_is_object(json_object_get(s, "values"))) ok = 0;
        if (!ok) add_error(errors, "pointer", "/data/attributes/settings", "must be a list of {key, values}");
    }
    v = json_object_get(attrs, "action");
    if (v && !(json_is_string(v) && (!strcmp(json_string_value(v), "start") || (!creating && !strcmp(json_string_value(v), "stop")))))
        add_error(errors, "pointer", "/data/attributes/action", creating ? "must be start" : "must be start or stop");
}

/* The state of a stored event at time now. */
static const char *state_of(json_t *ev, double now) {
    json_int_t duration = json_integer_value(json_object_get(ev, "duration"));
    json_t *started = json_object_get(ev, "started_at");
    if (json_is_integer(json_object_get(ev, "stopped_at"))) return "past";
    if (json_is_integer(started)) return now >= (double)(json_integer_value(started) + duration) ? "past" : "current";
    if (!strcmp(json_string_value(json_object_get(ev, "start_mode")), "clock")) {
        json_int_t at = json_integer_value(json_object_get(ev, "start_at"));
        if (now < (double)at) return "future";
        return now < (double)(at + duration) ? "current" : "past";
    }
    return "future";
}

/* Formats Unix seconds as ISO 8601 UTC into buf. */
static void iso(json_int_t t, char *buf, size_t len) {
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The request's origin "http://host" for absolute links. */
static void origin(const sb_request *req, char *buf, size_t len) {
    const char *host = sb_header_get(req, "Host");
    snprintf(buf, len, "http://%s", host ? host : "localhost");
}

/* Builds the JSON:API resource of a stored event (new reference). */
static json_t *resource(const sb_request *req, json_t *ev) {
    char base[300], self[512], related[600], a[32], b[32];
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_int_t start = json_integer_value(json_object_get(ev, "start_at"));
    json_int_t duration = json_integer_value(json_object_get(ev, "duration"));
    json_t *started = json_object_get(ev, "started_at");
    json_int_t effective = json_is_integer(started) ? json_integer_value(started) : start;
    origin(req, base, sizeof base);
    snprintf(self, sizeof self, "%s/api/v2/events/%s", base, id);
    snprintf(related, sizeof related, "%s/elements", self);
    iso(start, a, sizeof a);
    iso(effective + duration, b, sizeof b);
    json_t *attrs = json_pack("{s:O, s:I, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:n, s:I, s:I, s:s, s:I, s:s, s:s, s:[]}",
                              "name", json_object_get(ev, "name"), "duration", duration, "original_duration",
                              json_object_get(ev, "original_duration"), "start_mode", json_object_get(ev, "start_mode"),
                              "end_mode", json_object_get(ev, "end_mode"), "repeat", json_object_get(ev, "repeat"),
                              "repeat_in", json_object_get(ev, "repeat_in"), "feed_uuid", json_object_get(ev, "feed_uuid"),
                              "settings", json_object_get(ev, "settings"), "live_stats_uuid", "extra_time",
                              (json_int_t)0, "start_at", start, "start_at_iso", a, "end_at", effective + duration,
                              "end_at_iso", b, "state",
                              state_of(ev, req->now), "actions");
    if (!attrs) return NULL;
    return json_pack("{s:s, s:s, s:o, s:{s:s}, s:{s:{s:{s:s}}, s:{s:{s:s, s:s}}, s:{s:{s:s, s:s}}}}", "id", id, "type",
                     "events", "attributes", attrs, "links", "self", self, "relationships", "elements", "links",
                     "related", related, "stats", "data", "id", id, "type", "stats", "project", "data", "id",
                     json_string_value(json_object_get(ev, "project_id")), "type", "projects");
}

/* Adds the included resources asked by include (stats, project); -1 on a bad value (400 answered). */
static int add_included(sb_server *srv, const sb_request *req, sb_response *res, json_t *doc, json_t *events) {
    const char *include = sb_query_get(req, "include");
    char buf[128];
    size_t i;
    json_t *ev;
    if (!include || !*include) return 0;
    json_t *included = json_array();
    snprintf(buf, sizeof buf, "%s", include);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "stats") && strcmp(tok, "project")) {
            json_decref(included);
            mr_error(res, 400, "Bad Request", "include accepts stats and project");
            return -1;
        }
        json_array_foreach(events, i, ev) {
            const char *id = json_string_value(json_object_get(ev, "id"));
            const char *project = json_string_value(json_object_get(ev, "project_id"));
            if (!strcmp(tok, "stats")) {
                json_array_append_new(included, json_pack("{s:s, s:s, s:{s:I, s:I}}", "id", id, "type", "stats",
                                                          "attributes", "votes", (json_int_t)0, "users", (json_int_t)0));
            } else {
                sqlite3_stmt *st;
                const char *name = NULL;
                if (sqlite3_prepare_v2(srv->db, "SELECT name FROM mr_projects WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
                    sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
                    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) name = (const char *)sqlite3_column_text(st, 0);
                    json_array_append_new(included, json_pack("{s:s, s:s, s:{s:s?}}", "id", project, "type", "projects",
                                                              "attributes", "name", name));
                    sqlite3_finalize(st);
                }
            }
        }
    }
    json_object_set_new(doc, "included", included);
    return 0;
}

/* ---- seed ---- */

/* Makes a stored event from attributes (already checked). */
static json_t *new_event(json_t *attrs, const char *id, const char *project) {
    char feed[37];
    sb_uuid(feed);
    json_t *ev = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:s, s:O, s:O, s:O, s:s}", "id", id, "project_id", project,
                           "name", json_object_get(attrs, "name"), "duration", json_object_get(attrs, "duration"),
                           "original_duration", json_object_get(attrs, "duration"), "start_at",
                           json_object_get(attrs, "start_at"), "start_mode", json_object_get(attrs, "start_mode"),
                           "end_mode", json_is_string(json_object_get(attrs, "end_mode"))
                                           ? json_string_value(json_object_get(attrs, "end_mode")) : "duration",
                           "repeat", json_object_get(attrs, "repeat") ? json_object_get(attrs, "repeat") : json_false(),
                           "repeat_in", json_object_get(attrs, "repeat_in") ? json_object_get(attrs, "repeat_in") : json_null(),
                           "settings", json_object_get(attrs, "settings") ? json_object_get(attrs, "settings") : json_array(),
                           "feed_uuid", feed);
    return ev;
}

int sb_monterosa_seed(sb_server *srv, json_t *seed, char *err, size_t errlen) {
    json_t *mr = json_object_get(seed, "monterosa"), *item;
    size_t i;
    sqlite3_stmt *st;
    if (!mr) return 0;
    json_array_foreach(json_object_get(mr, "tokens"), i, item) {
        if (!json_is_string(item)) {
            snprintf(err, errlen, "monterosa.tokens[%zu] must be a string", i);
            return -1;
        }
        if (sqlite3_prepare_v2(srv->db, "INSERT OR REPLACE INTO mr_tokens VALUES (?)", -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_text(st, 1, json_string_value(item), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    json_array_foreach(json_object_get(mr, "projects"), i, item) {
        if (!json_is_string(json_object_get(item, "id"))) {
            snprintf(err, errlen, "monterosa.projects[%zu].id must be a string", i);
            return -1;
        }
        if (sqlite3_prepare_v2(srv->db, "INSERT OR REPLACE INTO mr_projects VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_text(st, 1, json_string_value(json_object_get(item, "id")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(item, "name")), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    json_array_foreach(json_object_get(mr, "events"), i, item) {
        json_t *errors = json_array(), *attrs = json_deep_copy(item);
        const char *id = json_string_value(json_object_get(item, "id"));
        const char *project = json_string_value(json_object_get(item, "project_id"));
        if (attrs) {
            json_object_del(attrs, "id");
            json_object_del(attrs, "project_id");
            check_attributes(attrs, 1, errors);
        }
        int bad = !attrs || !errors || json_array_size(errors) || !id || !project;
        json_t *ev = bad ? NULL : new_event(attrs, id, project);
        int rc = ev ? store_event(srv->db, ev) : -1;
        json_decref(ev);
        json_decref(attrs);
        json_decref(errors);
        if (rc < 0) {
            snprintf(err, errlen, "monterosa.events[%zu] needs id, project_id and valid attributes", i);
            return -1;
        }
    }
    return 0;
}

/* ---- calls ---- */

/* Parses a JSON:API body; NULL with 400/415 answered. */
static json_t *read_document(const sb_request *req, sb_response *res) {
    const char *ct = sb_header_get(req, "Content-Type");
    if (!ct || strncasecmp(ct, JSONAPI, strlen(JSONAPI)) != 0) {
        mr_error(res, 415, "Unsupported Media Type", "Content-Type must be " JSONAPI);
        return NULL;
    }
    json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "data"))) {
        json_decref(doc);
        mr_error(res, 400, "Bad Request", "The body must be a JSON:API document with a data object");
        return NULL;
    }
    return doc;
}

/* Answers 422 with the collected errors. */
static void unprocessable(sb_response *res, json_t *errors) {
    sb_reply_json_type(res, 422, json_pack("{s:o}", "errors", errors), JSONAPI);
}

/* POST /api/v2/events. */
static void create(sb_server *srv, const sb_request *req, sb_response *res) {
    json_t *doc = read_document(req, res);
    if (!doc) return;
    json_t *data = json_object_get(doc, "data"), *attrs = json_object_get(data, "attributes");
    json_t *project = json_object_get(json_object_get(json_object_get(json_object_get(data, "relationships"), "project"),
                                                      "data"), "id");
    json_t *errors = json_array();
    if (!json_is_string(json_object_get(data, "type")) || strcmp(json_string_value(json_object_get(data, "type")), "events"))
        add_error(errors, "pointer", "/data/type", "must be events");
    if (!json_is_object(attrs)) add_error(errors, "pointer", "/data/attributes", "can't be blank");
    else check_attributes(attrs, 1, errors);
    if (!json_is_string(project)) add_error(errors, "pointer", "/data/relationships/project", "can't be blank");
    else if (!exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", json_string_value(project)))
        add_error(errors, "pointer", "/data/relationships/project", "does not name a project");
    if (json_array_size(errors)) {
        unprocessable(res, errors);
        json_decref(doc);
        return;
    }
    json_decref(errors);
    char id[37];
    sb_uuid(id);
    json_t *ev = new_event(attrs, id, json_string_value(project));
    if (ev && json_is_string(json_object_get(attrs, "action")))
        json_object_set_new(ev, "started_at", json_integer((json_int_t)req->now));
    if (!ev || store_event(srv->db, ev) < 0) mr_error(res, 500, "Internal Server Error", "cannot store the event");
    else sb_reply_json_type(res, 201, json_pack("{s:o}", "data", resource(req, ev)), JSONAPI);
    json_decref(ev);
    json_decref(doc);
}

/* PATCH /api/v2/events/{id}: attribute changes and start/stop actions. */
static void update(sb_server *srv, const sb_request *req, sb_response *res, json_t *ev) {
    json_t *doc = read_document(req, res);
    if (!doc) return;
    json_t *data = json_object_get(doc, "data"), *attrs = json_object_get(data, "attributes");
    json_t *errors = json_array();
    const char *id = json_string_value(json_object_get(ev, "id"));
    if (!json_is_string(json_object_get(data, "id")) || strcmp(json_string_value(json_object_get(data, "id")), id)) {
        json_decref(errors);
        json_decref(doc);
        mr_error(res, 409, "Conflict", "data.id must be the id of the event in the path");
        return;
    }
    if (!json_is_string(json_object_get(data, "type")) || strcmp(json_string_value(json_object_get(data, "type")), "events"))
        add_error(errors, "pointer", "/data/type", "must be events");
    if (attrs && !json_is_object(attrs)) add_error(errors, "pointer", "/data/attributes", "must be an object");
    else if (attrs) check_attributes(attrs, 0, errors);
    const char *action = json_string_value(json_object_get(attrs, "action"));
    const char *state = state_of(ev, req->now);
    if (!json_array_size(errors) && action && !strcmp(action, "start") && strcmp(state, "future"))
        add_error(errors, "pointer", "/data/attributes/action", "only a future event can be started");
    if (!json_array_size(errors) && action && !strcmp(action, "stop") && strcmp(state, "current"))
        add_error(errors, "pointer", "/data/attributes/action", "only a current event can be stopped");
    if (json_array_size(errors)) {
        unprocessable(res, errors);
        json_decref(doc);
        return;
    }
    json_decref(errors);
    const char *key;
    json_t *v;
    json_object_foreach(attrs, key, v) if (listed(WRITABLE, key) && strcmp(key, "action")) json_object_set(ev, key, v);
    if (action && !strcmp(action, "start")) json_object_set_new(ev, "started_at", json_integer((json_int_t)req->now));
    if (action && !strcmp(action, "stop")) json_object_set_new(ev, "stopped_at", json_integer((json_int_t)req->now));
    if (store_event(srv->db, ev) < 0) mr_error(res, 500, "Internal Server Error", "cannot store the event");
    else sb_reply_empty(res, 204);
    json_decref(doc);
}

/* GET /api/v2/projects/{project}/events: filter, sort and cursor pages. */
static void list(sb_server *srv, const sb_request *req, sb_response *res, const char *project) {
    static const char *const STATES[] = {"future", "current", "on_demand", "past", NULL};
    const char *filter = sb_query_get(req, "filter[state]"), *sort = sb_query_get(req, "sort");
    const char *cursor = sb_query_get(req, "page[cursor]"), *count_text = sb_query_get(req, "page[count]");
    json_t *errors = json_array();
    char wanted[128] = "";
    long count = 25;
    if (!filter || !*filter) {
        add_error(errors, "parameter", "filter[state]", "is required");
    } else {
        snprintf(wanted, sizeof wanted, ",%s,", filter);
        char buf[128];
        snprintf(buf, sizeof buf, "%s", filter);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (!listed(STATES, tok)) add_error(errors, "parameter", "filter[state]", "accepts future, current, on_demand, past");
    }
    if (sort && strcmp(sort, "start_time") && strcmp(sort, "-start_time"))
        add_error(errors, "parameter", "sort", "must be start_time or -start_time");
    if (count_text) {
        char *end;
        count = strtol(count_text, &end, 10);
        if (*end || count < 1 || count > 100) add_error(errors, "parameter", "page[count]", "must be from 1 to 100");
    }
    if (!exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", project)) {
        json_decref(errors);
        mr_error(res, 404, "Not Found", "Project not found");
        return;
    }
    if (json_array_size(errors)) {
        unprocessable(res, errors);
        return;
    }
    json_decref(errors);
    int desc = sort && sort[0] == '-';
    long long cur_at = 0;
    char cur_id[64] = "";
    if (cursor && *cursor && sscanf(cursor, "%lld_%63s", &cur_at, cur_id) != 2) {
        mr_error(res, 400, "Bad Request", "page[cursor] is not a cursor of this list");
        return;
    }
    sqlite3_stmt *st;
    const char *sql = desc ? "SELECT doc FROM mr_events WHERE project = ? ORDER BY start_at DESC, id DESC"
                           : "SELECT doc FROM mr_events WHERE project = ? ORDER BY start_at ASC, id ASC";
    if (sqlite3_prepare_v2(srv->db, sql, -1, &st, NULL) != SQLITE_OK) {
        mr_error(res, 500, "Internal Server Error", "database error");
        return;
    }
    sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
    json_t *page = json_array(), *events = json_array();
    int more = 0;
    json_int_t last_at = 0;
    char last_id[64] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *ev = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (!ev) continue;
        json_int_t at = json_integer_value(json_object_get(ev, "start_at"));
        const char *id = json_string_value(json_object_get(ev, "id"));
        char key[32];
        snprintf(key, sizeof key, ",%s,", state_of(ev, req->now));
        int after = !cursor || !*cursor
                    || (desc ? (at < cur_at || (at == cur_at && strcmp(id, cur_id) < 0))
                             : (at > cur_at || (at == cur_at && strcmp(id, cur_id) > 0)));
        if (after && strstr(wanted, key)) {
            if ((long)json_array_size(page) == count) {
                more = 1;
                json_decref(ev);
                break;
            }
            json_array_append_new(page, resource(req, ev));
            json_array_append(events, ev);
            last_at = at;
            snprintf(last_id, sizeof last_id, "%s", id);
        }
        json_decref(ev);
    }
    sqlite3_finalize(st);
    json_t *doc = json_pack("{s:o, s:{}}", "data", page, "links");
    if (more && doc) {
        char base[300], next[1024];
        origin(req, base, sizeof base);
        snprintf(next, sizeof next, "%s/api/v2/projects/%s/events?filter%%5Bstate%%5D=%s&sort=%s&page%%5Bcount%%5D=%ld"
                 "&page%%5Bcursor%%5D=%lld_%s%s%s", base, project, filter, desc ? "-start_time" : "start_time", count,
                 (long long)last_at, last_id, sb_query_get(req, "include") ? "&include=" : "",
                 sb_query_get(req, "include") ? sb_query_get(req, "include") : "");
        json_object_set_new(json_object_get(doc, "links"), "next", json_string(next));
    }
    if (doc && add_included(srv, req, res, doc, events) < 0) {
        json_decref(doc);
        json_decref(events);
        return;
    }
    json_decref(events);
    sb_reply_json_type(res, 200, doc, JSONAPI);
}

/* 1 when method is one of the comma-separated tokens of allow. */
static int method_allowed(const char *allow, const char *method) {
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

/* 1 when the request carries a known bearer token. */
static int authorized(sb_server *srv, const sb_request *req) {
    const char *auth = sb_header_get(req, "Authorization");
    return auth && strncasecmp(auth, "Bearer ", 7) == 0 && exists(srv->db, "SELECT 1 FROM mr_tokens WHERE token = ?", auth + 7);
}

int sb_monterosa_route(sb_server *srv, const sb_request *req, sb_response *res) {
    if (req->nseg < 3 || strcmp(req->seg[0], "api") || strcmp(req->seg[1], "v2")) return 0;
    const char *m = req->method;
    int events = !strcmp(req->seg[2], "events");
    int projects = !strcmp(req->seg[2], "projects") && req->nseg == 5 && !strcmp(req->seg[4], "events");
    if (!(events && req->nseg <= 4) && !projects) return 0;
    const char *allow = projects ? "GET" : req->nseg == 3 ? "POST" : "GET, PATCH, DELETE";
    if (!method_allowed(allow, m)) {
        sb_reply_header(res, "Allow", allow);
        mr_error(res, 405, "Method Not Allowed", "This method is not allowed here");
        return 1;
    }
    if (!authorized(srv, req)) {
        mr_error(res, 401, "Unauthorized", "A valid bearer token is required");
        return 1;
    }
    sqlite3_exec(srv->db, "BEGIN", NULL, NULL, NULL);
    if (projects) {
        list(srv, req, res, req->seg[3]);
    } else if (req->nseg == 3) {
        create(srv, req, res);
    } else {
        json_t *ev = load_event(srv->db, req->seg[3]);
        if (!ev) {
            mr_error(res, 404, "Not Found", "Event not found");
        } else if (!strcmp(m, "GET")) {
            json_t *doc = json_pack("{s:o}", "data", resource(req, ev)), *one = json_pack("[O]", ev);
            if (doc && add_included(srv, req, res, doc, one) == 0) sb_reply_json_type(res, 200, doc, JSONAPI);
            else json_decref(doc);
            json_decref(one);
        } else if (!strcmp(m, "PATCH")) {
            update(srv, req, res, ev);
        } else {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(srv->db, "DELETE FROM mr_events WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, req->seg[3], -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_finalize(st);
                sb_reply_empty(res, 204);
            } else {
                mr_error(res, 500, "Internal Server Error", "database error");
            }
        }
        json_decref(ev);
    }
    sqlite3_exec(srv->db, res->status < 300 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return 1;
}
