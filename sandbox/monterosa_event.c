/* eventapi-sandbox: Monterosa's event resource (docs/PROTOCOLS.md 3.3 to
 * 3.6): errors in JSON:API's shape, the checks of attributes, the state
 * computed from the stored event and the time, the resource and included
 * resources, storage and the seed. Stored documents keep the attributes
 * plus the sandbox's own project_id, started_at and stopped_at. */
#include "monterosa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- answers ---- */

/* Answers a JSON:API error list with one error. */
void mr_error(sb_response *res, int status, const char *title, const char *detail) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    sb_reply_json_type(res, status,
                       json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "status", code, "title", title, "detail", detail),
                       JSONAPI);
    res->error = 1;
}

/* JSON:API's error shape for the server-wide answers (sandbox.h). */
void sb_monterosa_error(sb_response *res, int status, const char *title, const char *detail) {
    mr_error(res, status, title, detail);
}


/* Adds one 422 error whose source is a JSON pointer ("pointer") or a query parameter ("parameter"). */
void mr_add_error(mr_errors *e, const char *where, const char *key, const char *detail) {
    e->count++;
    if (e->list) json_array_append_new(e->list, json_pack("{s:s, s:{s:s}, s:s}", "status", "422", "source", where, key, "detail", detail));
}

/* Answers 422 with the collected errors (500 when some were lost to memory) and frees the list. */
void mr_unprocessable(sb_response *res, mr_errors *e) {
    if (!e->list || json_array_size(e->list) != e->count) {
        json_decref(e->list);
        mr_error(res, 500, "Internal Server Error", "out of memory");
    } else {
        sb_reply_json_type(res, 422, json_pack("{s:o}", "errors", e->list), JSONAPI);
        res->error = 1;
    }
    e->list = NULL;
}

/* ---- storage ---- */

/* Creates the Monterosa tables. */
int sb_monterosa_schema(sqlite3 *db) {
    return sb_exec(db, "CREATE TABLE IF NOT EXISTS mr_tokens (token TEXT PRIMARY KEY);"
                       "CREATE TABLE IF NOT EXISTS mr_projects (id TEXT PRIMARY KEY, name TEXT);"
                       "CREATE TABLE IF NOT EXISTS mr_events (id TEXT PRIMARY KEY, project TEXT, start_at INTEGER,"
                       " doc TEXT);"
                       "CREATE INDEX IF NOT EXISTS mr_events_by_project ON mr_events (project, start_at, id);");
}

/* Stores an event document; 0 or -1. */
int mr_store_event(sqlite3 *db, json_t *ev) {
    sqlite3_stmt *st;
    char *text = sb_dump(ev, JSON_COMPACT);
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
json_t *mr_load_event(sqlite3 *db, const char *id) {
    sqlite3_stmt *st;
    json_t *doc = NULL;
    if (sqlite3_prepare_v2(db, "SELECT doc FROM mr_events WHERE id = ?", -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    return doc;
}

/* 1 when a row matches sql with one text parameter. */
int mr_exists(sqlite3 *db, const char *sql, const char *value) {
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    return found;
}

/* ---- small text helpers ---- */

/* 1 when name is in the NULL-terminated list. */
int mr_listed(const char *const *list, const char *name) {
    for (; *list; list++)
        if (!strcmp(*list, name)) return 1;
    return 0;
}

/* 1 when the first n bytes of s are a word of the NULL-terminated list. */
static int listed_n(const char *const *list, const char *s, size_t n) {
    for (; *list; list++)
        if (strlen(*list) == n && !strncmp(*list, s, n)) return 1;
    return 0;
}

/* 1 when every comma-separated item of csv is in allowed (no empty items). */
int mr_csv_valid(const char *csv, const char *const *allowed) {
    for (const char *p = csv;; p++) {
        size_t n = strcspn(p, ",");
        if (!listed_n(allowed, p, n)) return 0;
        p += n;
        if (!*p) return 1;
    }
}

/* 1 when word is one of the comma-separated items of csv. */
int mr_csv_has(const char *csv, const char *word) {
    const char *const one[] = {word, NULL};
    for (const char *p = csv;; p++) {
        size_t n = strcspn(p, ",");
        if (listed_n(one, p, n)) return 1;
        p += n;
        if (!*p) return 0;
    }
}

/* ---- attributes ---- */

const char *const MR_WRITABLE[] = {"name", "duration", "start_at", "start_mode", "end_mode", "repeat",
                                       "repeat_in", "settings", "action", NULL};
static const char *const READ_ONLY[] = {"state", "start_at_iso", "end_at", "end_at_iso", "original_duration",
                                        "actions", "extra_time", "feed_uuid", "live_stats_uuid", NULL};

/* 1 when v is the string s. */
int mr_is_str(json_t *v, const char *s) {
    return json_is_string(v) && !strcmp(json_string_value(v), s);
}

/* 1 when a setting is {"key": string, "values": {locale: scalar, ...}}. */
static int valid_setting(json_t *s) {
    const char *locale;
    json_t *v, *values = json_object_get(s, "values");
    if (!json_is_object(s) || !json_is_string(json_object_get(s, "key")) || !json_is_object(values)) return 0;
    json_object_foreach(values, locale, v) if (json_is_object(v) || json_is_array(v)) return 0;
    return 1;
}

/* Checks attributes (all required ones when creating); adds 422 errors. */
void mr_check_attributes(json_t *attrs, int creating, mr_errors *errors) {
    const char *key;
    json_t *v;
    char pointer[128];
    json_object_foreach(attrs, key, v) {
        if (mr_listed(READ_ONLY, key) || mr_listed(MR_WRITABLE, key)) continue;
        snprintf(pointer, sizeof pointer, "/data/attributes/%s", key);
        mr_add_error(errors, "pointer", pointer, "is not a known attribute");
    }
    v = json_object_get(attrs, "name");
    if (v ? !(json_is_string(v) && *json_string_value(v)) : creating)
        mr_add_error(errors, "pointer", "/data/attributes/name", "can't be blank");
    v = json_object_get(attrs, "duration");
    if (!v && creating) mr_add_error(errors, "pointer", "/data/attributes/duration", "can't be blank");
    else if (v && !json_is_integer(v)) mr_add_error(errors, "pointer", "/data/attributes/duration", "must be an integer");
    else if (v && json_integer_value(v) <= 0)
        mr_add_error(errors, "pointer", "/data/attributes/duration", "must be greater than 0");
    else if (v && json_integer_value(v) > MAX_DURATION)
        mr_add_error(errors, "pointer", "/data/attributes/duration", "must be at most 2147483647");
    v = json_object_get(attrs, "start_at");
    if (!v && creating) mr_add_error(errors, "pointer", "/data/attributes/start_at", "can't be blank");
    else if (v && !(json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= MAX_START_AT))
        mr_add_error(errors, "pointer", "/data/attributes/start_at", "must be a Unix time in seconds up to year 9999");
    v = json_object_get(attrs, "start_mode");
    if (v ? !(mr_is_str(v, "manual") || mr_is_str(v, "clock")) : creating)
        mr_add_error(errors, "pointer", "/data/attributes/start_mode", "must be manual or clock");
    v = json_object_get(attrs, "end_mode");
    if (v && !(mr_is_str(v, "duration") || mr_is_str(v, "scheduled")))
        mr_add_error(errors, "pointer", "/data/attributes/end_mode", "must be duration or scheduled");
    v = json_object_get(attrs, "repeat");
    if (v && !json_is_boolean(v)) mr_add_error(errors, "pointer", "/data/attributes/repeat", "must be a boolean");
    v = json_object_get(attrs, "repeat_in");
    if (v && !json_is_null(v) && !(json_is_integer(v) && json_integer_value(v) > 0))
        mr_add_error(errors, "pointer", "/data/attributes/repeat_in", "must be a number of minutes");
    v = json_object_get(attrs, "settings");
    if (v) {
        size_t i;
        json_t *s;
        int ok = json_is_array(v);
        if (ok) json_array_foreach(v, i, s) if (!valid_setting(s)) ok = 0;
        if (!ok) mr_add_error(errors, "pointer", "/data/attributes/settings", "must be a list of {key, values: {locale: value}}");
    }
    v = json_object_get(attrs, "action");
    if (v && !(mr_is_str(v, "start") || (!creating && mr_is_str(v, "stop"))))
        mr_add_error(errors, "pointer", "/data/attributes/action", creating ? "must be start" : "must be start or stop");
}

/* The state of a stored event at time now. */
const char *mr_state_of(json_t *ev, double now) {
    json_int_t duration = json_integer_value(json_object_get(ev, "duration"));
    json_t *started = json_object_get(ev, "started_at");
    if (json_is_integer(json_object_get(ev, "stopped_at"))) return "past";
    if (json_is_integer(started)) return now >= (double)json_integer_value(started) + (double)duration ? "past" : "current";
    if (mr_is_str(json_object_get(ev, "start_mode"), "clock")) {
        double at = (double)json_integer_value(json_object_get(ev, "start_at"));
        if (now < at) return "future";
        return now < at + (double)duration ? "current" : "past";
    }
    return "future";
}

/* Formats Unix seconds as ISO 8601 UTC into buf ("" when out of range). */
static void iso(json_int_t t, char *buf, size_t len) {
    time_t secs = (time_t)t;
    struct tm tm;
    buf[0] = '\0';
    if (gmtime_r(&secs, &tm)) strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The request's origin "http://host" for absolute links (monterosa.h). */
void mr_origin(const sb_request *req, char *buf, size_t len) {
    const char *host = sb_header_get(req, "Host");
    snprintf(buf, len, "http://%s", host ? host : "localhost");
}

/* Builds the JSON:API resource of a stored event (new reference; NULL on failure). */
json_t *mr_resource(const sb_request *req, json_t *ev) {
    char base[300], self[512], related[600], a[32], b[32];
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_int_t start = json_integer_value(json_object_get(ev, "start_at"));
    json_int_t duration = json_integer_value(json_object_get(ev, "duration"));
    json_t *started = json_object_get(ev, "started_at"), *stopped = json_object_get(ev, "stopped_at");
    json_int_t effective = json_is_integer(started) ? json_integer_value(started) : start;
    /* the end: the actual (or planned) start plus duration, or the stop when stopped */
    json_int_t end = json_is_integer(stopped) ? json_integer_value(stopped) : effective + duration;
    if (!id) return NULL;
    mr_origin(req, base, sizeof base);
    snprintf(self, sizeof self, "%s/api/v2/events/%s", base, id);
    snprintf(related, sizeof related, "%s/elements", self);
    iso(start, a, sizeof a);
    iso(end, b, sizeof b);
    json_t *attrs = json_pack("{s:O, s:I, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:n, s:I, s:I, s:s, s:I, s:s, s:s, s:[]}",
                              "name", json_object_get(ev, "name"), "duration", duration, "original_duration",
                              json_object_get(ev, "original_duration"), "start_mode", json_object_get(ev, "start_mode"),
                              "end_mode", json_object_get(ev, "end_mode"), "repeat", json_object_get(ev, "repeat"),
                              "repeat_in", json_object_get(ev, "repeat_in"), "feed_uuid", json_object_get(ev, "feed_uuid"),
                              "settings", json_object_get(ev, "settings"), "live_stats_uuid", "extra_time",
                              json_integer_value(json_object_get(ev, "extra_time")), "start_at", start, "start_at_iso", a, "end_at", end,
                              "end_at_iso", b, "state", mr_state_of(ev, req->now), "actions");
    if (!attrs) return NULL;
    return json_pack("{s:s, s:s, s:o, s:{s:s}, s:{s:{s:{s:s}}, s:{s:{s:s, s:s}}, s:{s:{s:s?, s:s}}}}", "id", id, "type",
                     "events", "attributes", attrs, "links", "self", self, "relationships", "elements", "links",
                     "related", related, "stats", "data", "id", id, "type", "stats", "project", "data", "id",
                     json_string_value(json_object_get(ev, "project_id")), "type", "projects");
}

/* Appends resource r to included unless its (type, id) is already there; steals r; 0 or -1. */
static int include_once(json_t *included, json_t *r) {
    size_t i;
    json_t *x;
    if (!r) return -1;
    json_array_foreach(included, i, x) {
        if (json_equal(json_object_get(x, "type"), json_object_get(r, "type"))
            && json_equal(json_object_get(x, "id"), json_object_get(r, "id"))) {
            json_decref(r);
            return 0;
        }
    }
    return json_array_append_new(included, r);
}

/* The included resource of a project (new reference; NULL on failure). */
static json_t *project_resource(sqlite3 *db, const char *project) {
    sqlite3_stmt *st;
    json_t *r = NULL;
    if (!project || sqlite3_prepare_v2(db, "SELECT name FROM mr_projects WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
    const char *name = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    r = json_pack("{s:s, s:s, s:{s:s?}}", "id", project, "type", "projects", "attributes", "name", name);
    sqlite3_finalize(st);
    return r;
}

static const char *const INCLUDES[] = {"stats", "project", NULL};

/* Adds the included resources asked by include (stats, project) for events; 0, or -1 with the answer made. */
int mr_add_included(sb_server *srv, const sb_request *req, sb_response *res, json_t *doc, json_t *events) {
    const char *include = sb_query_get(req, "include");
    size_t i;
    json_t *ev;
    if (!include || !*include) return 0;
    json_t *included = json_array();
    if (!included) {
        mr_error(res, 500, "Internal Server Error", "out of memory");
        return -1;
    }
    json_array_foreach(events, i, ev) {
        const char *id = json_string_value(json_object_get(ev, "id"));
        int rc = 0;
        if (mr_csv_has(include, "stats"))
            rc |= include_once(included, json_pack("{s:s, s:s, s:{s:I, s:I}}", "id", id, "type", "stats", "attributes",
                                                   "votes", (json_int_t)0, "users", (json_int_t)0));
        if (mr_csv_has(include, "project"))
            rc |= include_once(included, project_resource(srv->db, json_string_value(json_object_get(ev, "project_id"))));
        if (rc) {
            json_decref(included);
            mr_error(res, 500, "Internal Server Error", "out of memory");
            return -1;
        }
    }
    if (json_object_set_new(doc, "included", included) < 0) {
        mr_error(res, 500, "Internal Server Error", "out of memory");
        return -1;
    }
    return 0;
}

/* 0 when include is absent or valid, else -1 with a 400 answered (JSON:API: unsupported include). */
int mr_check_include(const sb_request *req, sb_response *res) {
    const char *include = sb_query_get(req, "include");
    if (!include || !*include || mr_csv_valid(include, INCLUDES)) return 0;
    mr_error(res, 400, "Bad Request", "include accepts stats and project");
    return -1;
}

/* ---- seed ---- */

/* Makes a stored event from attributes (already checked); NULL on failure. */
json_t *mr_new_event(json_t *attrs, const char *id, const char *project) {
    char feed[37];
    json_t *end_mode = json_object_get(attrs, "end_mode"), *repeat = json_object_get(attrs, "repeat");
    json_t *repeat_in = json_object_get(attrs, "repeat_in"), *settings = json_object_get(attrs, "settings");
    sb_uuid(feed);
    return json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:s, s:O, s:O, s:o, s:s}", "id", id, "project_id", project,
                     "name", json_object_get(attrs, "name"), "duration", json_object_get(attrs, "duration"),
                     "original_duration", json_object_get(attrs, "duration"), "start_at", json_object_get(attrs, "start_at"),
                     "start_mode", json_object_get(attrs, "start_mode"), "end_mode",
                     end_mode ? json_string_value(end_mode) : "duration", "repeat", repeat ? repeat : json_false(),
                     "repeat_in", repeat_in ? repeat_in : json_null(), "settings",
                     settings ? json_incref(settings) : json_array(), "feed_uuid", feed);
}

/* Runs an insert with one or two text parameters; 0 or -1. */
static int insert(sqlite3 *db, const char *sql, const char *a, const char *b) {
    sqlite3_stmt *st;
    int rc;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) > 1) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* Loads tokens, projects and events of the seed's monterosa section; events are validated as on create. */
int sb_monterosa_seed(sb_server *srv, json_t *seed, char *err, size_t errlen) {
    json_t *mr = json_object_get(seed, "monterosa"), *item;
    size_t i;
    if (!mr) return 0;
    json_array_foreach(json_object_get(mr, "tokens"), i, item) {
        if (!json_is_string(item) || insert(srv->db, "INSERT OR REPLACE INTO mr_tokens VALUES (?)", json_string_value(item), NULL) < 0) {
            snprintf(err, errlen, "monterosa.tokens[%zu] must be a string", i);
            return -1;
        }
    }
    json_array_foreach(json_object_get(mr, "projects"), i, item) {
        const char *id = json_string_value(json_object_get(item, "id"));
        if (!id || insert(srv->db, "INSERT OR REPLACE INTO mr_projects VALUES (?, ?)", id,
                          json_string_value(json_object_get(item, "name"))) < 0) {
            snprintf(err, errlen, "monterosa.projects[%zu].id must be a string", i);
            return -1;
        }
    }
    json_array_foreach(json_object_get(mr, "events"), i, item) {
        mr_errors errors = {json_array(), 0};
        json_t *attrs = json_deep_copy(item);
        const char *id = json_string_value(json_object_get(item, "id"));
        const char *project = json_string_value(json_object_get(item, "project_id"));
        if (json_is_object(attrs)) {
            json_object_del(attrs, "id");
            json_object_del(attrs, "project_id");
            mr_check_attributes(attrs, 1, &errors);
        }
        json_t *first = json_array_get(errors.list, 0);
        const char *detail = json_string_value(json_object_get(first, "detail"));
        const char *why = !json_is_object(attrs) ? "must be an object" : !id || !project ? "needs id and project_id"
                          : errors.count ? (detail ? detail : "is invalid")
                          : !mr_exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", project) ? "names an unknown project"
                          : mr_exists(srv->db, "SELECT 1 FROM mr_events WHERE id = ?", id) ? "repeats an id" : NULL;
        const char *where = json_string_value(json_object_get(json_object_get(first, "source"), "pointer"));
        json_t *ev = why ? NULL : mr_new_event(attrs, id, project);
        int rc = ev ? mr_store_event(srv->db, ev) : -1;
        if (rc < 0)
            snprintf(err, errlen, "monterosa.events[%zu] %s%s%s", i, where ? where : "", where ? " " : "",
                     why ? why : "cannot be stored");
        json_decref(ev);
        json_decref(attrs);
        json_decref(errors.list);
        if (rc < 0) return -1;
    }
    return 0;
}
