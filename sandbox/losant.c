/* eventapi-sandbox: the Losant Events and Integrations API
 * (docs/PROTOCOLS.md section 1). Documents are stored as JSON text in SQLite;
 * filters, the advanced query and sorting are evaluated here. */
#include "losant.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- small helpers ---- */

/* Writes the time now as ISO 8601 with milliseconds into buf (len >= 32). */
static void iso_now(double now, char *buf, size_t len) {
    (void)len;
    sb_ls_iso((long long)(now * 1000.0), buf);
}

/* Makes a new 24-hex id from the time and a counter. */
static void new_id(double now, char *buf) {
    static unsigned long long counter;
    if (!counter) counter = ((unsigned long long)rand() << 24) ^ (unsigned long long)(now * 1e6);
    snprintf(buf, 25, "%08lx%016llx", (unsigned long)now & 0xffffffffUL, ++counter & 0xffffffffffffffffULL);
}

/* Writes the 24-hex id in lower case into buf[25] and returns buf. */
static const char *lower_id(const char *id, char *buf) {
    for (int i = 0; i < 24; i++) buf[i] = (char)tolower((unsigned char)id[i]);
    buf[24] = '\0';
    return buf;
}

/* Severity rank of a level (critical highest). */
static int level_rank(const char *level) {
    for (int i = 0; SB_LEVELS[i]; i++)
        if (level && strcmp(SB_LEVELS[i], level) == 0) return i;
    return -1;
}

/* ---- prepared statements ---- */

/* Returns a reset prepared statement for sql (a string literal), cached for
 * the life of the connection (db.c finalizes them on close); NULL on error.
 * The server lock makes the cache single-threaded. */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
    static struct { const char *sql; sqlite3 *db; sqlite3_stmt *st; } cache[16];
    for (int i = 0; i < 16; i++) {
        if (cache[i].sql == sql && cache[i].db == db) {
            sqlite3_reset(cache[i].st);
            sqlite3_clear_bindings(cache[i].st);
            return cache[i].st;
        }
        if (!cache[i].sql) {
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &cache[i].st, NULL) != SQLITE_OK) return NULL;
            cache[i].sql = sql;
            cache[i].db = db;
            return cache[i].st;
        }
    }
    return NULL;
}

/* ---- tokens and scopes ---- */

typedef struct op {
    const char *name;     /* e.g. "events.get" */
    int read;             /* the .read scopes are accepted */
} op;

/* 1 when the token's scopes grant op. */
static int scope_grants(json_t *scopes, const op *o) {
    size_t i;
    json_t *s;
    const char *dot = strchr(o->name, '.');
    json_array_foreach(scopes, i, s) {
        const char *v = json_string_value(s);
        if (!v) continue;
        if (!strcmp(v, "all.Application") || !strcmp(v, "all.Organization") || !strcmp(v, "all.User")) return 1;
        if (o->read && (!strcmp(v, "all.Application.read") || !strcmp(v, "all.Organization.read")
                        || !strcmp(v, "all.User.read")))
            return 1;
        if (!strcmp(v, o->name)) return 1;
        if (dot && strlen(v) == (size_t)(dot - o->name) + 2 && !strncmp(v, o->name, (size_t)(dot - o->name) + 1)
            && v[dot - o->name + 1] == '*')
            return 1;
    }
    return 0;
}

/* Checks the bearer token, the scope and the application. Returns 0 when
 * the call may go on, else -1 with the error answered. */
static int authorize(sb_server *srv, const sb_request *req, sb_response *res, const op *o, const char *app) {
    const char *auth = sb_header_get(req, "Authorization");
    sqlite3_stmt *st;
    json_t *scopes = NULL, *apps = NULL;
    int found = 0, rc = 0;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        sb_reply_error(res, 401, "Unauthorized", "Authorization header with a Bearer token is required");
        return -1;
    }
    if (!(st = prep(srv->db, "SELECT scopes, apps FROM losant_tokens WHERE token = ?"))) {
        sb_reply_error(res, 500, "InternalError", "database error");
        return -1;
    }
    sqlite3_bind_text(st, 1, auth + 7, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        scopes = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            apps = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    }
    sqlite3_reset(st);
    if (!found) {
        sb_reply_error(res, 401, "Unauthorized", "Invalid access token");
        rc = -1;
    } else if (!scopes || !scope_grants(scopes, o)) {
        sb_reply_error(res, 403, "Forbidden", "The access token does not grant %s", o->name);
        rc = -1;
    } else if (!sb_is_hex24(app)) {
        sb_reply_error(res, 400, "Validation", "applicationId must be 24 hexadecimal characters");
        rc = -1;
    } else {
        int allowed = 1, exists = 0;
        if (apps) {
            size_t i;
            json_t *a;
            allowed = 0;
            json_array_foreach(apps, i, a) if (json_is_string(a) && !strcasecmp(json_string_value(a), app)) allowed = 1;
        }
        if ((st = prep(srv->db, "SELECT 1 FROM losant_apps WHERE id = ?"))) {
            sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
            exists = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
        }
        if (!allowed || !exists) {
            sb_reply_error(res, 404, "NotFound", "Application was not found");
            rc = -1;
        }
    }
    json_decref(scopes);
    json_decref(apps);
    return rc;
}

/* ---- storage ---- */

int sb_losant_schema(sqlite3 *db) {
    return sb_exec(db,
                          "CREATE TABLE IF NOT EXISTS losant_apps (id TEXT PRIMARY KEY, name TEXT);"
                          "CREATE TABLE IF NOT EXISTS losant_tokens (token TEXT PRIMARY KEY, scopes TEXT, apps TEXT);"
                          "CREATE TABLE IF NOT EXISTS losant_docs (kind TEXT, id TEXT, app TEXT, doc TEXT,"
                          " PRIMARY KEY (kind, app, id));");
}

/* Stores (insert or replace) one document of kind "event" or "integration". */
static int store_doc(sqlite3 *db, const char *kind, const char *app, const char *id, json_t *doc) {
    sqlite3_stmt *st;
    char *text = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    int rc = -1;
    if (!text) return -1;
    if ((st = prep(db, "INSERT OR REPLACE INTO losant_docs VALUES (?, ?, ?, ?)"))) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, app, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(st);
    }
    free(text);
    return rc;
}

/* Loads the stored text of one document (malloc'd) or NULL when absent. */
static char *load_text(sqlite3 *db, const char *kind, const char *app, const char *id) {
    sqlite3_stmt *st = prep(db, "SELECT doc FROM losant_docs WHERE kind = ? AND app = ? AND id = ?");
    char *text = NULL;
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) text = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return text;
}

/* Loads one document (new reference) or NULL when absent. */
static json_t *load_doc(sqlite3 *db, const char *kind, const char *app, const char *id) {
    char *text = load_text(db, kind, app, id);
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return doc;
}

/* Loads every document of a kind for an application as a JSON array. */
static json_t *load_all(sqlite3 *db, const char *kind, const char *app) {
    sqlite3_stmt *st;
    json_t *all = json_array();
    if (!all) return NULL;
    if (sqlite3_prepare_v2(db, "SELECT doc FROM losant_docs WHERE kind = ? AND app = ?", -1, &st, NULL) != SQLITE_OK) {
        json_decref(all);
        return NULL;
    }
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, app, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (doc) json_array_append_new(all, doc);
    }
    sqlite3_finalize(st);
    return all;
}

/* Deletes one document; returns the number removed. */
static int delete_doc(sqlite3 *db, const char *kind, const char *app, const char *id) {
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(db, "DELETE FROM losant_docs WHERE kind = ? AND app = ? AND id = ?", -1, &st, NULL)
        != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) n = sqlite3_changes(db);
    sqlite3_finalize(st);
    return n;
}

/* Fills the server-owned fields of a new event. */
static void complete_event(json_t *ev, const char *app, const char *id, const char *now) {
    json_object_set_new(ev, "id", json_string(id));
    json_object_set_new(ev, "eventId", json_string(id));
    json_object_set_new(ev, "applicationId", json_string(app));
    if (!json_is_string(json_object_get(ev, "creationDate"))) json_object_set_new(ev, "creationDate", json_string(now));
    if (!json_object_get(ev, "lastUpdated"))
        json_object_set(ev, "lastUpdated", json_object_get(ev, "creationDate"));
    if (!json_object_get(ev, "state")) json_object_set_new(ev, "state", json_string("new"));
    if (!json_object_get(ev, "sourceType")) json_object_set_new(ev, "sourceType", json_string("apiToken"));
    if (!json_object_get(ev, "updates")) json_object_set_new(ev, "updates", json_array());
}

/* Fills the server-owned fields of a new integration. */
static void complete_integration(json_t *in, const char *app, const char *id, const char *now) {
    json_object_set_new(in, "id", json_string(id));
    json_object_set_new(in, "integrationId", json_string(id));
    json_object_set_new(in, "applicationId", json_string(app));
    if (!json_object_get(in, "creationDate")) json_object_set_new(in, "creationDate", json_string(now));
    if (!json_object_get(in, "lastUpdated")) json_object_set_new(in, "lastUpdated", json_string(now));
    if (!json_object_get(in, "enabled")) json_object_set_new(in, "enabled", json_true());
    if (!json_object_get(in, "topics")) json_object_set_new(in, "topics", json_array());
    if (!json_object_get(in, "status"))
        json_object_set_new(in, "status", json_pack("{s:s}", "status", "connected"));
}

/* Loads one seed list (events or integrations); -1 with err on a bad item. */
static int seed_docs(sb_server *srv, json_t *list, const char *kind, char *err, size_t errlen) {
    size_t i;
    json_t *doc;
    char now[32];
    iso_now((double)time(NULL), now, sizeof now);
    json_array_foreach(list, i, doc) {
        const char *id = json_string_value(json_object_get(doc, "id"));
        const char *app = json_string_value(json_object_get(doc, "applicationId"));
        if (!json_is_object(doc) || !id || !app || !sb_is_hex24(id) || !sb_is_hex24(app)) {
            snprintf(err, errlen, "losant.%ss[%zu] needs a 24-hex id and applicationId", kind, i);
            return -1;
        }
        json_t *copy = json_deep_copy(doc);
        if (!copy) return -1;
        for (int k = 0; k < 2; k++) { /* dates as Event Post takes them, stored in one ISO form */
            const char *name = k ? "lastUpdated" : "creationDate";
            json_t *date = json_object_get(copy, name);
            char when[32];
            if (!date) continue;
            if (sb_ls_date(date, when) < 0 || json_object_set_new(copy, name, json_string(when)) < 0) {
                snprintf(err, errlen, "losant.%ss[%zu].%s must be a date-time, epoch milliseconds or {\"$date\": ...}",
                         kind, i, name);
                json_decref(copy);
                return -1;
            }
        }
        char app_id[25], own_id[25];
        app = lower_id(app, app_id); /* stored ids are lower-case */
        id = lower_id(id, own_id);
        if (!strcmp(kind, "event")) complete_event(copy, app, id, now);
        else complete_integration(copy, app, id, now);
        int rc = store_doc(srv->db, kind, app, id, copy);
        json_decref(copy);
        if (rc < 0) {
            snprintf(err, errlen, "cannot store losant.%ss[%zu]", kind, i);
            return -1;
        }
    }
    return 0;
}

int sb_losant_seed(sb_server *srv, json_t *seed, char *err, size_t errlen) {
    json_t *l = json_object_get(seed, "losant"), *item;
    size_t i;
    sqlite3_stmt *st;
    if (!l) return 0;
    json_array_foreach(json_object_get(l, "applications"), i, item) {
        const char *id = json_string_value(json_object_get(item, "id"));
        if (!id || !sb_is_hex24(id)) {
            snprintf(err, errlen, "losant.applications[%zu].id must be 24 hexadecimal characters", i);
            return -1;
        }
        char app_id[25];
        id = lower_id(id, app_id); /* stored ids are lower-case */
        if (sqlite3_prepare_v2(srv->db, "INSERT OR REPLACE INTO losant_apps VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(item, "name")), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    json_array_foreach(json_object_get(l, "tokens"), i, item) {
        const char *token = json_string_value(json_object_get(item, "token"));
        json_t *scopes = json_object_get(item, "scopes"), *apps = json_object_get(item, "applications");
        if (!token || !json_is_array(scopes) || (apps && !json_is_array(apps))) {
            snprintf(err, errlen, "losant.tokens[%zu] needs token (string) and scopes (list)", i);
            return -1;
        }
        char *s = sb_dump(scopes, JSON_COMPACT), *a = apps ? sb_dump(apps, JSON_COMPACT) : NULL;
        if (sqlite3_prepare_v2(srv->db, "INSERT OR REPLACE INTO losant_tokens VALUES (?, ?, ?)", -1, &st, NULL)
            == SQLITE_OK) {
            sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
            if (a) sqlite3_bind_text(st, 3, a, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
        free(s);
        free(a);
    }
    if (seed_docs(srv, json_object_get(l, "events"), "event", err, errlen) < 0) return -1;
    return seed_docs(srv, json_object_get(l, "integrations"), "integration", err, errlen);
}

/* ---- the advanced event query ---- */

static const char *const QUERY_FIELDS[] = {"id", "creationDate", "lastUpdated", "sourceId", "sourceType",
                                           "level", "state", "subject", "deviceId", "experienceUserId",
                                           "experienceGroupId", "eventTags", NULL};

/* Compares an event value with a query value: <0, 0, >0, or 2 when not comparable. */
static int compare(json_t *a, json_t *b, int ci) {
    if (!a) a = json_null();
    if (json_is_string(a) && json_is_string(b))
        return ci ? strcasecmp(json_string_value(a), json_string_value(b))
                  : strcmp(json_string_value(a), json_string_value(b));
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a) && json_is_number(b)) { /* a date compared with epoch milliseconds */
        long long ms;
        if (sb_ls_date_ms(json_string_value(a), &ms) < 0) return 2;
        double x = (double)ms, y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_boolean(a) && json_is_boolean(b)) return json_is_true(a) - json_is_true(b);
    if (json_is_null(a) && json_is_null(b)) return 0;
    return 2;
}

/* Substring test with optional case-insensitivity; mode 0 starts, 1 ends, 2 contains. */
static int text_test(json_t *a, json_t *b, int mode, int ci) {
    if (!json_is_string(a) || !json_is_string(b)) return 0;
    const char *s = json_string_value(a), *t = json_string_value(b);
    size_t n = strlen(s), m = strlen(t);
    if (m > n) return 0;
    if (mode == 0) return (ci ? strncasecmp(s, t, m) : strncmp(s, t, m)) == 0;
    if (mode == 1) return (ci ? strncasecmp(s + n - m, t, m) : strncmp(s + n - m, t, m)) == 0;
    for (size_t i = 0; i + m <= n; i++)
        if ((ci ? strncasecmp(s + i, t, m) : strncmp(s + i, t, m)) == 0) return 1;
    return 0;
}

/* 1 when the event's tags hold what tagq asks ({"$tagKey", "$tagValue"} or key: value). */
static int tags_match(json_t *tags, json_t *tagq) {
    json_t *k = json_object_get(tagq, "$tagKey"), *v = json_object_get(tagq, "$tagValue");
    const char *key;
    json_t *val;
    if (k || v) {
        json_object_foreach(tags, key, val) {
            if (k && (!json_is_string(k) || strcmp(json_string_value(k), key))) continue;
            if (v && (!json_is_string(v) || !json_equal(v, val))) continue;
            return 1;
        }
        return 0;
    }
    json_object_foreach(tagq, key, val) if (!json_equal(json_object_get(tags, key), val)) return 0;
    return 1;
}

/* Evaluates one field condition; -1 when the condition is invalid. */
static int field_match(json_t *ev, const char *name, json_t *cond, char *msg, size_t len) {
    json_t *value = json_object_get(ev, name);
    if (!strcmp(name, "eventTags")) {
        json_t *tags = json_is_object(value) ? value : NULL, *inner;
        json_t *empty = NULL;
        if (!tags) tags = empty = json_object();
        int r;
        if (!json_is_object(cond)) r = -1;
        else if ((inner = json_object_get(cond, "$eq"))) r = json_is_object(inner) ? tags_match(tags, inner) : -1;
        else if ((inner = json_object_get(cond, "$ne"))) r = json_is_object(inner) ? !tags_match(tags, inner) : -1;
        else r = tags_match(tags, cond);
        json_decref(empty);
        if (r < 0) snprintf(msg, len, "query.eventTags is not a valid tag condition");
        return r;
    }
    if (!json_is_object(cond)) return compare(value, cond, 0) == 0;
    int ci = json_is_true(json_object_get(cond, "$ci"));
    const char *op;
    json_t *arg;
    json_object_foreach(cond, op, arg) {
        int ok;
        if (!strcmp(op, "$ci")) continue;
        if (!strcmp(op, "$eq")) ok = compare(value, arg, ci) == 0;
        else if (!strcmp(op, "$ne")) ok = compare(value, arg, ci) != 0;
        else if (!strcmp(op, "$gt")) { int c = compare(value, arg, ci); ok = c != 2 && c > 0; }
        else if (!strcmp(op, "$lt")) { int c = compare(value, arg, ci); ok = c != 2 && c < 0; }
        else if (!strcmp(op, "$gte")) { int c = compare(value, arg, ci); ok = c != 2 && c >= 0; }
        else if (!strcmp(op, "$lte")) { int c = compare(value, arg, ci); ok = c != 2 && c <= 0; }
        else if (!strcmp(op, "$startsWith")) ok = text_test(value, arg, 0, ci);
        else if (!strcmp(op, "$endsWith")) ok = text_test(value, arg, 1, ci);
        else if (!strcmp(op, "$contains")) ok = text_test(value, arg, 2, ci);
        else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            size_t i;
            json_t *item;
            if (!json_is_array(arg)) {
                snprintf(msg, len, "query.%s.%s must be a list", name, op);
                return -1;
            }
            ok = 0;
            json_array_foreach(arg, i, item) if (compare(value, item, ci) == 0) ok = 1;
            if (op[1] == 'n') ok = !ok;
        } else {
            snprintf(msg, len, "query.%s has an unknown operator %s", name, op);
            return -1;
        }
        if (!ok) return 0;
    }
    return 1;
}

/* Evaluates an advanced query against an event: 1 match, 0 no, -1 invalid. */
static int query_match(json_t *q, json_t *ev, char *msg, size_t len, int depth) {
    const char *key;
    json_t *v;
    if (!json_is_object(q) || depth > 32) {
        snprintf(msg, len, "query must be an object (nested at most 32 deep)");
        return -1;
    }
    json_object_foreach(q, key, v) {
        int r;
        if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
            size_t i;
            json_t *sub;
            if (!json_is_array(v) || json_array_size(v) > 100) {
                snprintf(msg, len, "query.%s must be a list of at most 100 queries", key);
                return -1;
            }
            int any = 0, all = 1;
            json_array_foreach(v, i, sub) {
                int s = query_match(sub, ev, msg, len, depth + 1);
                if (s < 0) return -1;
                any |= s;
                all &= s;
            }
            r = key[1] == 'a' ? all : key[1] == 'o' ? any : !any;
        } else {
            const char *const *f = QUERY_FIELDS;
            while (*f && strcmp(*f, key)) f++;
            if (!*f) {
                snprintf(msg, len, "query.%s is not a field that can be queried", key);
                return -1;
            }
            r = field_match(ev, key, v, msg, len);
            if (r < 0) return -1;
        }
        if (!r) return 0;
    }
    return 1;
}

/* ---- list filtering, sorting, paging ---- */

/* Which call's params a listing reads: each takes only the params Losant
 * documents for it (docs/PROTOCOLS.md 1.2), and ignores the others. */
enum listing_call { L_EVENTS, L_INTEGRATIONS, L_PATCH, L_SEVERITY, L_DELETE };

typedef struct listing {
    const char *state;       /* events only */
    const char *filter_field;
    const char *filter;
    int overridden;          /* a query was given: state, filterField and filter are not applied */
    json_t *query;           /* events only; owned */
    const char *sort_field;
    int desc;
    long page, per_page;
} listing;

static const char *sort_key;
static int sort_desc;

/* qsort comparator on sort_key (level by severity), ties by id. */
static int doc_order(const void *pa, const void *pb) {
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    int c;
    if (!strcmp(sort_key, "level")) {
        c = level_rank(json_string_value(json_object_get(a, "level")))
            - level_rank(json_string_value(json_object_get(b, "level")));
    } else {
        json_t *x = json_object_get(a, sort_key), *y = json_object_get(b, sort_key);
        const char *sx = json_is_string(x) ? json_string_value(x) : "";
        const char *sy = json_is_string(y) ? json_string_value(y) : "";
        c = strcmp(sx, sy);
    }
    if (sort_desc) c = -c;
    if (!c) c = strcmp(json_string_value(json_object_get(a, "id")), json_string_value(json_object_get(b, "id")));
    return c;
}

/* Parses a non-negative integer query param into out; -1 with an error answered. */
static int int_param(const sb_request *req, sb_response *res, const char *name, long min, long max, long *out) {
    const char *v = sb_query_get(req, name);
    char *end;
    if (!v || !*v) return 0;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max) {
        sb_reply_error(res, 400, "Validation", "%s must be an integer from %ld to %ld", name, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

/* Checks v against a NULL-terminated list; -1 with an error answered. */
static int enum_param(sb_response *res, const char *name, const char *v, const char *const *allowed) {
    if (!v) return 0;
    for (; *allowed; allowed++)
        if (!strcmp(*allowed, v)) return 0;
    sb_reply_error(res, 400, "Validation", "%s has a value that is not allowed", name);
    return -1;
}

/* Reads the params of a list or bulk call (call says which ones it takes);
 * -1 with an error answered. A query given as JSON text is checked whole
 * against the schema and the size limits before anything is evaluated. */
static int read_listing(const sb_request *req, sb_response *res, enum listing_call call, listing *l) {
    static const char *const EV_SORT[] = {"subject", "id", "creationDate", "lastUpdated", "level", "state", "deviceId", NULL};
    static const char *const IN_SORT[] = {"name", "id", "creationDate", "integrationType", "lastUpdated", NULL};
    static const char *const EV_FILTER[] = {"subject", NULL};
    static const char *const IN_FILTER[] = {"name", "integrationType", NULL};
    static const char *const DIRS[] = {"asc", "desc", "ASC", "DESC", NULL};
    int events = call != L_INTEGRATIONS, paged = call == L_EVENTS || call == L_INTEGRATIONS;
    const char *dir = NULL, *text;
    memset(l, 0, sizeof *l);
    l->per_page = 100;
    if (call == L_DELETE) return 0; /* the body's query only (docs/PROTOCOLS.md 1.10) */
    l->filter = sb_query_get(req, "filter");
    if (call != L_SEVERITY) {
        l->state = events ? sb_query_get(req, "state") : NULL;
        l->filter_field = sb_query_get(req, "filterField");
    }
    if (paged) {
        l->sort_field = sb_query_get(req, "sortField");
        dir = sb_query_get(req, "sortDirection");
    }
    if (l->state && !*l->state) l->state = NULL;
    if (l->filter_field && !*l->filter_field) l->filter_field = NULL;
    if (l->sort_field && !*l->sort_field) l->sort_field = NULL;
    if (dir && !*dir) dir = NULL;
    if (enum_param(res, "state", l->state, SB_STATES) < 0
        || enum_param(res, "filterField", l->filter_field, events ? EV_FILTER : IN_FILTER) < 0
        || enum_param(res, "sortField", l->sort_field, events ? EV_SORT : IN_SORT) < 0
        || enum_param(res, "sortDirection", dir, DIRS) < 0
        || (paged && (int_param(req, res, "page", 0, 1000000000, &l->page) < 0
                      || int_param(req, res, "perPage", 1, 1000, &l->per_page) < 0)))
        return -1;
    if (!l->filter_field) l->filter_field = events ? "subject" : "name";
    if (!l->sort_field) l->sort_field = events ? "creationDate" : "name";
    l->desc = dir ? (dir[0] == 'd' || dir[0] == 'D') : events;
    if (events && (text = sb_query_get(req, "query")) && *text) {
        char msg[512];
        int status = sb_lq_parse(text, strlen(text), &l->query, msg, sizeof msg);
        if (status) {
            sb_reply_error(res, status, status == 400 ? "Validation" : "InternalError", "%s", msg);
            return -1;
        }
        l->overridden = 1; /* Losant: the query overrides filterField, filter and state */
    }
    return 0;
}

/* Returns a new array of the documents that pass the listing's filters, or
 * NULL with an error answered. */
static json_t *select_docs(sb_server *srv, const char *kind, const char *app, listing *l, sb_response *res) {
    json_t *all = load_all(srv->db, kind, app), *out = json_array(), *doc;
    size_t i;
    char msg[256];
    if (!all || !out) {
        json_decref(all);
        json_decref(out);
        sb_reply_error(res, 500, "InternalError", "out of memory");
        return NULL;
    }
    json_array_foreach(all, i, doc) {
        if (l->state && !l->overridden) {
            json_t *s = json_object_get(doc, "state");
            if (!json_is_string(s) || strcmp(json_string_value(s), l->state)) continue;
        }
        if (l->filter && *l->filter && !l->overridden) {
            json_t *f = json_object_get(doc, l->filter_field);
            if (!json_is_string(f) || !sb_glob_match(l->filter, json_string_value(f))) continue;
        }
        if (l->query) {
            int r = query_match(l->query, doc, msg, sizeof msg, 0);
            if (r < 0) {
                json_decref(all);
                json_decref(out);
                sb_reply_error(res, 400, "Validation", "%s", msg);
                return NULL;
            }
            if (!r) continue;
        }
        json_array_append(out, doc);
    }
    json_decref(all);
    return out;
}

/* Answers a list call (events.get or integrations.get). */
static void list_docs(sb_server *srv, const sb_request *req, sb_response *res, const char *kind, const char *app) {
    listing l;
    int events = !strcmp(kind, "event");
    if (read_listing(req, res, events ? L_EVENTS : L_INTEGRATIONS, &l) < 0) return;
    json_t *docs = select_docs(srv, kind, app, &l, res);
    if (!docs) {
        json_decref(l.query);
        return;
    }
    size_t total = json_array_size(docs);
    json_t **items = malloc((total ? total : 1) * sizeof *items);
    json_t *page = json_array();
    if (!items || !page) {
        free(items);
        json_decref(page);
        json_decref(docs);
        json_decref(l.query);
        sb_reply_error(res, 500, "InternalError", "out of memory");
        return;
    }
    for (size_t i = 0; i < total; i++) items[i] = json_array_get(docs, i);
    sort_key = l.sort_field;
    sort_desc = l.desc;
    qsort(items, total, sizeof *items, doc_order);
    /* repeat-page and stale-page faults: page 0's items, reported as page 0 or as the page asked */
    int page0 = (req->fault_flags & (SB_FAULT_REPEAT_PAGE | SB_FAULT_STALE_PAGE)) != 0;
    json_int_t shown = req->fault_flags & SB_FAULT_REPEAT_PAGE ? 0 : (json_int_t)l.page;
    size_t start = page0 ? 0 : (size_t)l.page * (size_t)l.per_page;
    for (size_t i = start; i < total && i < start + (size_t)l.per_page; i++) json_array_append(page, items[i]);
    free(items);
    json_t *out = json_pack("{s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "items", page, "count",
                            (json_int_t)json_array_size(page), "totalCount", (json_int_t)total, "perPage",
                            (json_int_t)l.per_page, "page", shown, "filter", l.filter ? l.filter : "",
                            "filterField", l.filter_field, "sortField", l.sort_field, "sortDirection",
                            l.desc ? "desc" : "asc", "applicationId", app);
    if (out && l.state) json_object_set_new(out, "state", json_string(l.state));
    if (out && l.query) json_object_set(out, "query", l.query);
    json_decref(docs);
    json_decref(l.query);
    sb_reply_json(res, 200, out);
}

/* ---- bodies ---- */

/* Parses the JSON body; NULL with an error answered (400/415). An empty
 * body gives NULL without an error when allow_empty; a body over max_len
 * bytes is 400 without being parsed. */
static json_t *read_body(const sb_request *req, sb_response *res, int allow_empty, size_t max_len, int *failed) {
    json_error_t jerr;
    const char *ct = sb_header_get(req, "Content-Type");
    *failed = 0;
    if (req->body_len == 0 && allow_empty) return NULL;
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        sb_reply_error(res, 415, "UnsupportedMediaType", "Content-Type must be application/json");
        *failed = 1;
        return NULL;
    }
    if (req->body_len > max_len) {
        sb_reply_error(res, 400, "Validation", "The body must be at most %zu bytes", max_len);
        *failed = 1;
        return NULL;
    }
    json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            sb_reply_error(res, 500, "InternalError", "out of memory");
        else
            sb_reply_error(res, 400, "Validation", "The body is not valid JSON: %s", jerr.text);
        *failed = 1;
    }
    return doc;
}

/* Applies an Event Patch to an event, appending to updates. */
static void apply_event_patch(json_t *ev, json_t *patch, const char *now) {
    json_t *update = json_pack("{s:s, s:s}", "sourceType", "apiToken", "creationDate", now);
    json_t *state = json_object_get(patch, "state"), *old = json_object_get(ev, "state");
    if (!update) return;
    if (json_object_get(patch, "comment")) json_object_set(update, "comment", json_object_get(patch, "comment"));
    if (json_object_get(patch, "data")) {
        json_object_set(update, "data", json_object_get(patch, "data"));
        json_object_set(ev, "data", json_object_get(patch, "data"));
    }
    if (json_object_get(patch, "eventTags")) json_object_set(ev, "eventTags", json_object_get(patch, "eventTags"));
    if (state && !json_equal(state, old)) {
        json_object_set_new(update, "stateChange", json_pack("{s:O, s:O}", "old", old ? old : json_null(), "new", state));
        json_object_set(ev, "state", state);
    }
    json_t *updates = json_object_get(ev, "updates");
    if (!json_is_array(updates)) json_object_set_new(ev, "updates", updates = json_array());
    json_array_append_new(updates, update);
    json_object_set_new(ev, "lastUpdated", json_string(now));
}

/* ---- handlers ---- */

/* GET/PATCH/DELETE of one event or integration. */
static void one_doc(sb_server *srv, const sb_request *req, sb_response *res, const char *kind, const char *app,
                    const char *id) {
    const char *label = !strcmp(kind, "event") ? "Event" : "Integration";
    char now[32];
    if (!sb_is_hex24(id)) {
        sb_reply_error(res, 400, "Validation", "%sId must be 24 hexadecimal characters", kind);
        return;
    }
    if (!strcmp(req->method, "GET")) { /* the stored text as it is: no parse, no dump */
        char *text = load_text(srv->db, kind, app, id);
        if (!text) {
            sb_reply_error(res, 404, "NotFound", "%s was not found", label);
            return;
        }
        sb_reply_empty(res, 200);
        res->content_type = "application/json";
        res->body = text;
        res->body_len = strlen(text);
        return;
    }
    json_t *doc = load_doc(srv->db, kind, app, id);
    if (!doc) {
        sb_reply_error(res, 404, "NotFound", "%s was not found", label);
        return;
    }
    iso_now(req->now, now, sizeof now);
    if (!strcmp(req->method, "DELETE")) {
        delete_doc(srv->db, kind, app, id);
        json_decref(doc);
        sb_reply_json(res, 200, json_pack("{s:b}", "success", 1));
        return;
    }
    int failed;
    char msg[512];
    json_t *patch = read_body(req, res, 0, SB_MAX_BODY, &failed);
    if (failed) {
        json_decref(doc);
        return;
    }
    if (sb_ls_check(!strcmp(kind, "event") ? SB_EVENT_PATCH : SB_INTEGRATION_PATCH, patch, msg, sizeof msg) < 0) {
        sb_reply_error(res, 400, "Validation", "%s", msg);
    } else {
        if (!strcmp(kind, "event")) {
            apply_event_patch(doc, patch, now);
        } else {
            json_object_update(doc, patch);
            json_object_set_new(doc, "lastUpdated", json_string(now));
        }
        if (store_doc(srv->db, kind, app, id, doc) < 0) sb_reply_error(res, 500, "InternalError", "cannot store");
        else sb_reply_json(res, 200, json_incref(doc));
    }
    json_decref(patch);
    json_decref(doc);
}

/* POST of a new event or integration. */
static void create_doc(sb_server *srv, const sb_request *req, sb_response *res, const char *kind, const char *app) {
    int failed;
    char msg[512], id[25], now[32];
    json_t *doc = read_body(req, res, 0, SB_MAX_BODY, &failed);
    if (failed) return;
    if (sb_ls_check(!strcmp(kind, "event") ? SB_EVENT_POST : SB_INTEGRATION_POST, doc, msg, sizeof msg) < 0) {
        sb_reply_error(res, 400, "Validation", "%s", msg);
        json_decref(doc);
        return;
    }
    new_id(req->now, id);
    iso_now(req->now, now, sizeof now);
    if (!strcmp(kind, "event")) {
        json_t *cd = json_object_get(doc, "creationDate");
        char when[32];
        /* any form Event Post allows is stored as that date, in one ISO form (checked above) */
        if (cd && (sb_ls_date(cd, when) < 0 || json_object_set_new(doc, "creationDate", json_string(when)) < 0)) {
            sb_reply_error(res, 500, "InternalError", "out of memory");
            json_decref(doc);
            return;
        }
        complete_event(doc, app, id, now);
    } else {
        complete_integration(doc, app, id, now);
    }
    if (store_doc(srv->db, kind, app, id, doc) < 0) sb_reply_error(res, 500, "InternalError", "cannot store");
    else sb_reply_json(res, 201, json_incref(doc));
    json_decref(doc);
}

/* Bulk PATCH /events, POST /events/delete, GET mostRecentBySeverity. */
static void bulk_events(sb_server *srv, const sb_request *req, sb_response *res, const char *app, const char *what) {
    int failed = 0;
    char msg[512], now[32];
    json_t *body = NULL;
    listing l;
    enum listing_call call = !strcmp(what, "patch") ? L_PATCH : !strcmp(what, "delete") ? L_DELETE : L_SEVERITY;
    iso_now(req->now, now, sizeof now);
    if (call == L_PATCH) {
        body = read_body(req, res, 0, SB_MAX_BODY, &failed);
        if (failed) return;
        if (sb_ls_check(SB_EVENT_PATCH, body, msg, sizeof msg) < 0) {
            sb_reply_error(res, 400, "Validation", "%s", msg);
            json_decref(body);
            return;
        }
    } else if (call == L_DELETE) { /* the body is the query, checked whole before anything is evaluated */
        body = read_body(req, res, 1, LQ_MAX_BYTES, &failed);
        if (failed) return;
        if (body && sb_lq_check(body, msg, sizeof msg) < 0) {
            sb_reply_error(res, 400, "Validation", "%s", msg);
            json_decref(body);
            return;
        }
    }
    if (read_listing(req, res, call, &l) < 0) {
        json_decref(body);
        return;
    }
    if (call == L_DELETE) l.query = json_incref(body);
    if (call == L_SEVERITY) {
        l.state = "new";
        l.filter_field = "subject";
    }
    json_t *docs = select_docs(srv, "event", app, &l, res), *doc;
    size_t i;
    if (docs) {
        if (call == L_PATCH) {
            json_array_foreach(docs, i, doc) {
                apply_event_patch(doc, body, now);
                store_doc(srv->db, "event", app, json_string_value(json_object_get(doc, "id")), doc);
            }
            sb_reply_json(res, 200, json_pack("{s:b}", "success", 1));
        } else if (call == L_DELETE) {
            json_int_t removed = 0;
            json_array_foreach(docs, i, doc) removed += delete_doc(srv->db, "event", app,
                                                                   json_string_value(json_object_get(doc, "id")));
            sb_reply_json(res, 200, json_pack("{s:I}", "removed", removed));
        } else {
            json_t *best = NULL;
            json_array_foreach(docs, i, doc) {
                if (!best) { best = doc; continue; }
                int a = level_rank(json_string_value(json_object_get(doc, "level")));
                int b = level_rank(json_string_value(json_object_get(best, "level")));
                const char *da = json_string_value(json_object_get(doc, "creationDate"));
                const char *db = json_string_value(json_object_get(best, "creationDate"));
                if (a > b || (a == b && da && db && strcmp(da, db) > 0)) best = doc;
            }
            json_t *out = json_pack("{s:I}", "newCount", (json_int_t)json_array_size(docs));
            if (out && best) json_object_set(out, "event", best);
            sb_reply_json(res, 200, out);
        }
        json_decref(docs);
    }
    json_decref(l.query);
    json_decref(body);
}

/* POST /events/export: validates {email, query} and answers success. */
static void export_events(sb_server *srv, const sb_request *req, sb_response *res, const char *app) {
    int failed;
    char msg[512];
    json_t *body = read_body(req, res, 1, LQ_MAX_BYTES + 2048, &failed), *email, *q;
    const char *key;
    json_t *v;
    (void)srv;
    (void)app;
    if (failed) return;
    if (body && !json_is_object(body)) {
        sb_reply_error(res, 400, "Validation", "the body must be an object");
        json_decref(body);
        return;
    }
    json_object_foreach(body, key, v) if (strcmp(key, "email") && strcmp(key, "query")) {
        sb_reply_error(res, 400, "Validation", "%s is not allowed", key);
        json_decref(body);
        return;
    }
    email = json_object_get(body, "email");
    q = json_object_get(body, "query");
    if (email && (!json_is_string(email) || !strchr(json_string_value(email), '@')
                  || strlen(json_string_value(email)) > 1024)) {
        sb_reply_error(res, 400, "Validation", "email must be an email address");
    } else if (q && sb_lq_check(q, msg, sizeof msg) < 0) {
        sb_reply_error(res, 400, "Validation", "%s", msg);
    } else {
        sb_reply_json(res, 200, json_pack("{s:b}", "success", 1));
    }
    json_decref(body);
}

/* Answers 405 naming the allowed methods. */
static void not_allowed(sb_response *res, const char *allow, const char *method) {
    sb_reply_header(res, "Allow", allow);
    sb_reply_error(res, 405, "MethodNotAllowed", "%s is not allowed here", method);
}

int sb_losant_route(sb_server *srv, const sb_request *req, sb_response *res) {
    if (req->nseg < 3 || req->nseg > 4 || strcmp(req->seg[0], "applications") != 0) return 0;
    const char *app = req->seg[1], *coll = req->seg[2], *m = req->method;
    const char *item = req->nseg == 4 ? req->seg[3] : NULL;
    char app_id[25], item_id[25];
    /* ids match stored ones without regard to case (the schema's pattern allows A-F; stored ids are lower-case) */
    if (sb_is_hex24(app)) app = lower_id(app, app_id);
    if (item && sb_is_hex24(item)) item = lower_id(item, item_id);
    int events = !strcmp(coll, "events");
    op o = {NULL, 0};
    if (!events && strcmp(coll, "integrations") != 0) return 0;
    if (sb_rate_limited(srv, req, res)) {
        sb_reply_error(res, 429, "TooManyRequests", "More than %d requests per second", srv->rate_limit);
        return 1;
    }
    if (!item) {
        if (!strcmp(m, "GET")) o = (op){events ? "events.get" : "integrations.get", 1};
        else if (!strcmp(m, "POST")) o = (op){events ? "events.post" : "integrations.post", 0};
        else if (events && !strcmp(m, "PATCH")) o = (op){"events.patch", 0};
        else {
            not_allowed(res, events ? "GET, HEAD, POST, PATCH" : "GET, HEAD, POST", m);
            return 1;
        }
    } else if (events && !strcmp(item, "delete")) {
        if (strcmp(m, "POST")) { not_allowed(res, "POST", m); return 1; }
        o = (op){"events.delete", 1};
    } else if (events && !strcmp(item, "export")) {
        if (strcmp(m, "POST")) { not_allowed(res, "POST", m); return 1; }
        o = (op){"events.export", 1};
    } else if (events && !strcmp(item, "mostRecentBySeverity")) {
        if (strcmp(m, "GET")) { not_allowed(res, "GET, HEAD", m); return 1; }
        o = (op){"events.mostRecentBySeverity", 1};
    } else {
        if (!strcmp(m, "GET")) o = (op){events ? "event.get" : "integration.get", 1};
        else if (!strcmp(m, "PATCH")) o = (op){events ? "event.patch" : "integration.patch", 0};
        else if (!strcmp(m, "DELETE")) o = (op){events ? "event.delete" : "integration.delete", 0};
        else { not_allowed(res, "GET, HEAD, PATCH, DELETE", m); return 1; }
    }
    if (authorize(srv, req, res, &o, app) < 0) return 1;
    const char *kind = events ? "event" : "integration";
    sqlite3_exec(srv->db, "BEGIN", NULL, NULL, NULL);
    if (!strcmp(o.name, "events.get") || !strcmp(o.name, "integrations.get")) list_docs(srv, req, res, kind, app);
    else if (!strcmp(o.name, "events.post") || !strcmp(o.name, "integrations.post")) create_doc(srv, req, res, kind, app);
    else if (!strcmp(o.name, "events.patch")) bulk_events(srv, req, res, app, "patch");
    else if (!strcmp(o.name, "events.delete")) bulk_events(srv, req, res, app, "delete");
    else if (!strcmp(o.name, "events.mostRecentBySeverity")) bulk_events(srv, req, res, app, "severity");
    else if (!strcmp(o.name, "events.export")) export_events(srv, req, res, app);
    else one_doc(srv, req, res, kind, app, item);
    sqlite3_exec(srv->db, res->status < 400 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return 1;
}
