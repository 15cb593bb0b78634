/* eventapi-sandbox: Monterosa Control API v2 events over JSON:API
 * (docs/PROTOCOLS.md section 3). Stored documents keep the attributes plus the
 * sandbox's own fields project_id, started_at and stopped_at; the state is
 * computed from them and the time of the request. */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JSONAPI "application/vnd.api+json"
#define MAX_START_AT 253402300799LL /* 9999-12-31T23:59:59Z */
#define MAX_DURATION 2147483647LL   /* keeps start + duration far from overflow */
#define MAX_COUNT 100               /* largest page[count] */
#define DEFAULT_COUNT 25            /* page[count] when absent */

/* ---- answers ---- */

/* Answers a JSON:API error list with one error. */
static void mr_error(sb_response *res, int status, const char *title, const char *detail) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    sb_reply_json_type(res, status,
                       json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "status", code, "title", title, "detail", detail),
                       JSONAPI);
}

/* JSON:API's error shape for the server-wide answers (sandbox.h). */
void sb_monterosa_error(sb_response *res, int status, const char *title, const char *detail) {
    mr_error(res, status, title, detail);
}

/* Validation errors collected before answering; count includes errors
 * that could not be added for lack of memory. */
typedef struct mr_errors {
    json_t *list;
    size_t count;
} mr_errors;

/* Adds one 422 error whose source is a JSON pointer ("pointer") or a query parameter ("parameter"). */
static void add_error(mr_errors *e, const char *where, const char *key, const char *detail) {
    e->count++;
    if (e->list) json_array_append_new(e->list, json_pack("{s:s, s:{s:s}, s:s}", "status", "422", "source", where, key, "detail", detail));
}

/* Answers 422 with the collected errors (500 when some were lost to memory) and frees the list. */
static void unprocessable(sb_response *res, mr_errors *e) {
    if (!e->list || json_array_size(e->list) != e->count) {
        json_decref(e->list);
        mr_error(res, 500, "Internal Server Error", "out of memory");
    } else {
        sb_reply_json_type(res, 422, json_pack("{s:o}", "errors", e->list), JSONAPI);
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
static int store_event(sqlite3 *db, json_t *ev) {
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

/* ---- small text helpers ---- */

/* 1 when name is in the NULL-terminated list. */
static int listed(const char *const *list, const char *name) {
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
static int csv_valid(const char *csv, const char *const *allowed) {
    for (const char *p = csv;; p++) {
        size_t n = strcspn(p, ",");
        if (!listed_n(allowed, p, n)) return 0;
        p += n;
        if (!*p) return 1;
    }
}

/* 1 when word is one of the comma-separated items of csv. */
static int csv_has(const char *csv, const char *word) {
    const char *const one[] = {word, NULL};
    for (const char *p = csv;; p++) {
        size_t n = strcspn(p, ",");
        if (listed_n(one, p, n)) return 1;
        p += n;
        if (!*p) return 0;
    }
}

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

/* ---- attributes ---- */

static const char *const WRITABLE[] = {"name", "duration", "start_at", "start_mode", "end_mode", "repeat",
                                       "repeat_in", "settings", "action", NULL};
static const char *const READ_ONLY[] = {"state", "start_at_iso", "end_at", "end_at_iso", "original_duration",
                                        "actions", "extra_time", "feed_uuid", "live_stats_uuid", NULL};

/* 1 when v is the string s. */
static int is_str(json_t *v, const char *s) {
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
static void check_attributes(json_t *attrs, int creating, mr_errors *errors) {
    const char *key;
    json_t *v;
    char pointer[128];
    json_object_foreach(attrs, key, v) {
        if (listed(READ_ONLY, key) || listed(WRITABLE, key)) continue;
        snprintf(pointer, sizeof pointer, "/data/attributes/%s", key);
        add_error(errors, "pointer", pointer, "is not a known attribute");
    }
    v = json_object_get(attrs, "name");
    if (v ? !(json_is_string(v) && *json_string_value(v)) : creating)
        add_error(errors, "pointer", "/data/attributes/name", "can't be blank");
    v = json_object_get(attrs, "duration");
    if (!v && creating) add_error(errors, "pointer", "/data/attributes/duration", "can't be blank");
    else if (v && !json_is_integer(v)) add_error(errors, "pointer", "/data/attributes/duration", "must be an integer");
    else if (v && json_integer_value(v) <= 0)
        add_error(errors, "pointer", "/data/attributes/duration", "must be greater than 0");
    else if (v && json_integer_value(v) > MAX_DURATION)
        add_error(errors, "pointer", "/data/attributes/duration", "must be at most 2147483647");
    v = json_object_get(attrs, "start_at");
    if (!v && creating) add_error(errors, "pointer", "/data/attributes/start_at", "can't be blank");
    else if (v && !(json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= MAX_START_AT))
        add_error(errors, "pointer", "/data/attributes/start_at", "must be a Unix time in seconds up to year 9999");
    v = json_object_get(attrs, "start_mode");
    if (v ? !(is_str(v, "manual") || is_str(v, "clock")) : creating)
        add_error(errors, "pointer", "/data/attributes/start_mode", "must be manual or clock");
    v = json_object_get(attrs, "end_mode");
    if (v && !(is_str(v, "duration") || is_str(v, "scheduled")))
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
        if (ok) json_array_foreach(v, i, s) if (!valid_setting(s)) ok = 0;
        if (!ok) add_error(errors, "pointer", "/data/attributes/settings", "must be a list of {key, values: {locale: value}}");
    }
    v = json_object_get(attrs, "action");
    if (v && !(is_str(v, "start") || (!creating && is_str(v, "stop"))))
        add_error(errors, "pointer", "/data/attributes/action", creating ? "must be start" : "must be start or stop");
}

/* The state of a stored event at time now. */
static const char *state_of(json_t *ev, double now) {
    json_int_t duration = json_integer_value(json_object_get(ev, "duration"));
    json_t *started = json_object_get(ev, "started_at");
    if (json_is_integer(json_object_get(ev, "stopped_at"))) return "past";
    if (json_is_integer(started)) return now >= (double)json_integer_value(started) + (double)duration ? "past" : "current";
    if (is_str(json_object_get(ev, "start_mode"), "clock")) {
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

/* The request's origin "http://host" for absolute links. */
static void origin(const sb_request *req, char *buf, size_t len) {
    const char *host = sb_header_get(req, "Host");
    snprintf(buf, len, "http://%s", host ? host : "localhost");
}

/* Builds the JSON:API resource of a stored event (new reference; NULL on failure). */
static json_t *resource(const sb_request *req, json_t *ev) {
    char base[300], self[512], related[600], a[32], b[32];
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_int_t start = json_integer_value(json_object_get(ev, "start_at"));
    json_int_t duration = json_integer_value(json_object_get(ev, "duration"));
    json_t *started = json_object_get(ev, "started_at"), *stopped = json_object_get(ev, "stopped_at");
    json_int_t effective = json_is_integer(started) ? json_integer_value(started) : start;
    /* the end: the actual (or planned) start plus duration, or the stop when stopped */
    json_int_t end = json_is_integer(stopped) ? json_integer_value(stopped) : effective + duration;
    if (!id) return NULL;
    origin(req, base, sizeof base);
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
                              (json_int_t)0, "start_at", start, "start_at_iso", a, "end_at", end,
                              "end_at_iso", b, "state", state_of(ev, req->now), "actions");
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
static int add_included(sb_server *srv, const sb_request *req, sb_response *res, json_t *doc, json_t *events) {
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
        if (csv_has(include, "stats"))
            rc |= include_once(included, json_pack("{s:s, s:s, s:{s:I, s:I}}", "id", id, "type", "stats", "attributes",
                                                   "votes", (json_int_t)0, "users", (json_int_t)0));
        if (csv_has(include, "project"))
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
static int check_include(const sb_request *req, sb_response *res) {
    const char *include = sb_query_get(req, "include");
    if (!include || !*include || csv_valid(include, INCLUDES)) return 0;
    mr_error(res, 400, "Bad Request", "include accepts stats and project");
    return -1;
}

/* ---- seed ---- */

/* Makes a stored event from attributes (already checked); NULL on failure. */
static json_t *new_event(json_t *attrs, const char *id, const char *project) {
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
            check_attributes(attrs, 1, &errors);
        }
        json_t *first = json_array_get(errors.list, 0);
        const char *detail = json_string_value(json_object_get(first, "detail"));
        const char *why = !json_is_object(attrs) ? "must be an object" : !id || !project ? "needs id and project_id"
                          : errors.count ? (detail ? detail : "is invalid")
                          : !exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", project) ? "names an unknown project"
                          : exists(srv->db, "SELECT 1 FROM mr_events WHERE id = ?", id) ? "repeats an id" : NULL;
        const char *where = json_string_value(json_object_get(json_object_get(first, "source"), "pointer"));
        json_t *ev = why ? NULL : new_event(attrs, id, project);
        int rc = ev ? store_event(srv->db, ev) : -1;
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

/* ---- calls ---- */

/* Parses a JSON:API body; NULL with 400/415 answered. */
static json_t *read_document(const sb_request *req, sb_response *res) {
    const char *ct = sb_header_get(req, "Content-Type");
    size_t n = strlen(JSONAPI);
    if (!ct || strncasecmp(ct, JSONAPI, n) != 0 || (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
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
    if (!is_str(json_object_get(data, "type"), "events")) add_error(&errors, "pointer", "/data/type", "must be events");
    if (!json_is_object(attrs)) add_error(&errors, "pointer", "/data/attributes", "can't be blank");
    else check_attributes(attrs, 1, &errors);
    if (!json_is_string(project)) add_error(&errors, "pointer", "/data/relationships/project", "can't be blank");
    else if (!exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", json_string_value(project)))
        add_error(&errors, "pointer", "/data/relationships/project", "does not name a project");
    if (errors.count || !errors.list) {
        if (!errors.count) errors.count = 1; /* no list: out of memory */
        unprocessable(res, &errors);
        json_decref(doc);
        return;
    }
    json_decref(errors.list);
    char id[37];
    sb_uuid(id);
    json_t *ev = new_event(attrs, id, json_string_value(project));
    int started = !ev || !json_object_get(attrs, "action")
                  || json_object_set_new(ev, "started_at", json_integer((json_int_t)req->now)) == 0;
    if (!ev || !started || store_event(srv->db, ev) < 0) mr_error(res, 500, "Internal Server Error", "cannot store the event");
    else sb_reply_json_type(res, 201, json_pack("{s:o}", "data", resource(req, ev)), JSONAPI);
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
    if (data_id && !is_str(data_id, id ? id : "")) { /* JSON:API: another resource's id is a conflict */
        json_decref(doc);
        mr_error(res, 409, "Conflict", "data.id must be the id of the event in the path");
        return;
    }
    mr_errors errors = {json_array(), 0};
    if (!data_id) add_error(&errors, "pointer", "/data/id", "can't be blank"); /* JSON:API requires it */
    if (!is_str(json_object_get(data, "type"), "events")) add_error(&errors, "pointer", "/data/type", "must be events");
    if (attrs && !json_is_object(attrs)) add_error(&errors, "pointer", "/data/attributes", "must be an object");
    else if (attrs) check_attributes(attrs, 0, &errors);
    const char *action = json_string_value(json_object_get(attrs, "action"));
    const char *state = state_of(ev, req->now);
    if (!errors.count && action && !strcmp(action, "start") && strcmp(state, "future"))
        add_error(&errors, "pointer", "/data/attributes/action", "only a future event can be started");
    if (!errors.count && action && !strcmp(action, "stop") && strcmp(state, "current"))
        add_error(&errors, "pointer", "/data/attributes/action", "only a current event can be stopped");
    if (errors.count || !errors.list) {
        if (!errors.count) errors.count = 1;
        unprocessable(res, &errors);
        json_decref(doc);
        return;
    }
    json_decref(errors.list);
    const char *key;
    json_t *v;
    int failed = 0;
    json_object_foreach(attrs, key, v) if (listed(WRITABLE, key) && strcmp(key, "action")) failed |= json_object_set(ev, key, v);
    if (action && !strcmp(action, "start")) failed |= json_object_set_new(ev, "started_at", json_integer((json_int_t)req->now));
    if (action && !strcmp(action, "stop")) failed |= json_object_set_new(ev, "stopped_at", json_integer((json_int_t)req->now));
    if (failed || store_event(srv->db, ev) < 0) mr_error(res, 500, "Internal Server Error", "cannot store the event");
    else sb_reply_empty(res, 204);
    json_decref(doc);
}

static const char *const STATES[] = {"future", "current", "on_demand", "past", NULL};

/* Checks the list query into errors; sets *count. */
static void check_list_query(const sb_request *req, mr_errors *errors, long *count) {
    const char *filter = sb_query_get(req, "filter[state]"), *sort = sb_query_get(req, "sort");
    const char *count_text = sb_query_get(req, "page[count]"), *listings = sb_query_get(req, "filter[only_listings]");
    if (!filter || !*filter) add_error(errors, "parameter", "filter[state]", "is required");
    else if (!csv_valid(filter, STATES)) add_error(errors, "parameter", "filter[state]", "accepts future, current, on_demand, past");
    if (listings && strcmp(listings, "true") && strcmp(listings, "false"))
        add_error(errors, "parameter", "filter[only_listings]", "must be true or false");
    if (sort && strcmp(sort, "start_time") && strcmp(sort, "-start_time"))
        add_error(errors, "parameter", "sort", "must be start_time or -start_time");
    *count = DEFAULT_COUNT;
    if (count_text) {
        char *end;
        *count = strtol(count_text, &end, 10);
        if (!*count_text || *end || *count < 1 || *count > MAX_COUNT)
            add_error(errors, "parameter", "page[count]", "must be from 1 to 100");
    }
}

/* Builds the absolute next-page link with page[cursor]=cursor into buf; 0 or -1 when too long. */
static int next_link(const sb_request *req, const char *project, long count, const char *cursor, char *buf, size_t cap) {
    char num[64];
    const char *sort = sb_query_get(req, "sort"), *include = sb_query_get(req, "include");
    const char *listings = sb_query_get(req, "filter[only_listings]");
    origin(req, buf, cap);
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
    if (!exists(srv->db, "SELECT 1 FROM mr_projects WHERE id = ?", project)) {
        json_decref(errors.list);
        mr_error(res, 404, "Not Found", "Project not found");
        return;
    }
    check_list_query(req, &errors, &count);
    if (errors.count || !errors.list) {
        if (!errors.count) errors.count = 1;
        unprocessable(res, &errors);
        return;
    }
    json_decref(errors.list);
    if (check_include(req, res) < 0) return;
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
        if (csv_has(filter, state_of(ev, req->now))) {
            if ((long)json_array_size(page) == count) {
                more = 1;
                json_decref(ev);
                break;
            }
            failed = json_array_append_new(page, resource(req, ev)) < 0 || json_array_append(events, ev) < 0;
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
    if (doc && add_included(srv, req, res, doc, events) < 0) {
        json_decref(doc);
        json_decref(events);
        return;
    }
    json_decref(events);
    sb_reply_json_type(res, 200, doc, JSONAPI); /* NULL doc: 500 */
}

/* GET /api/v2/events/{id}: the event, with include. */
static void get(sb_server *srv, const sb_request *req, sb_response *res, json_t *ev) {
    if (check_include(req, res) < 0) return;
    json_t *doc = json_pack("{s:o}", "data", resource(req, ev)), *one = json_pack("[O]", ev);
    if (doc && one && add_included(srv, req, res, doc, one) < 0) {
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

/* Answers /api/v2/events[/{id}] and /api/v2/projects/{id}/events; 0 for other paths. */
int sb_monterosa_route(sb_server *srv, const sb_request *req, sb_response *res) {
    if (req->nseg < 2 || strcmp(req->seg[0], "api") || strcmp(req->seg[1], "v2")) return 0;
    const char *m = req->method;
    int events = req->nseg >= 3 && !strcmp(req->seg[2], "events");
    int projects = req->nseg == 5 && !strcmp(req->seg[2], "projects") && !strcmp(req->seg[4], "events");
    if (!(events && req->nseg <= 4) && !projects) { /* under /api/v2 the service answers in its own shape */
        mr_error(res, 404, "Not Found", "Path not found");
        return 1;
    }
    if (sb_rate_limited(srv, req, res)) {
        char detail[64];
        snprintf(detail, sizeof detail, "More than %d requests per second", srv->rate_limit);
        mr_error(res, 429, "Too Many Requests", detail);
        return 1;
    }
    const char *allow = projects ? "GET, HEAD" : req->nseg == 3 ? "POST" : "GET, HEAD, PATCH, DELETE";
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
        if (!ev) mr_error(res, 404, "Not Found", "Event not found");
        else if (!strcmp(m, "GET")) get(srv, req, res, ev);
        else if (!strcmp(m, "PATCH")) update(srv, req, res, ev);
        else delete_event(srv, res, req->seg[3]);
        json_decref(ev);
    }
    sqlite3_exec(srv->db, res->status < 300 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return 1;
}
