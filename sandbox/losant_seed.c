/* eventapi-sandbox: Losant's new documents and the seed: the server-owned
 * fields of a new event or integration (docs/PROTOCOLS.md 1.7) and the
 * seed's applications, tokens, events and integrations, checked and
 * normalized (sandbox/README.md, "Seed format"). */
#include "losant.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Binds a text or NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* Fills the server-owned fields of a new event (losant.h). */
int ls_complete_event(json_t *ev, const char *app, const char *id, const char *now) {
    int failed = json_object_set_new(ev, "id", json_string(id)) || json_object_set_new(ev, "eventId", json_string(id))
                 || json_object_set_new(ev, "applicationId", json_string(app));
    if (!failed && !json_is_string(json_object_get(ev, "creationDate")))
        failed = json_object_set_new(ev, "creationDate", json_string(now));
    if (!failed && !json_object_get(ev, "lastUpdated"))
        failed = json_object_set(ev, "lastUpdated", json_object_get(ev, "creationDate"));
    if (!failed && !json_object_get(ev, "state")) failed = json_object_set_new(ev, "state", json_string("new"));
    if (!failed && !json_object_get(ev, "sourceType"))
        failed = json_object_set_new(ev, "sourceType", json_string("apiToken"));
    return failed ? -1 : 0;
}

/* Fills the server-owned fields of a new integration (losant.h). */
int ls_complete_integration(json_t *in, const char *app, const char *id, const char *now) {
    int failed = json_object_set_new(in, "id", json_string(id))
                 || json_object_set_new(in, "integrationId", json_string(id))
                 || json_object_set_new(in, "applicationId", json_string(app));
    if (!failed && !json_object_get(in, "creationDate")) failed = json_object_set_new(in, "creationDate", json_string(now));
    if (!failed && !json_object_get(in, "lastUpdated")) failed = json_object_set_new(in, "lastUpdated", json_string(now));
    if (!failed && !json_object_get(in, "enabled")) failed = json_object_set_new(in, "enabled", json_true());
    if (!failed && !json_object_get(in, "topics")) failed = json_object_set_new(in, "topics", json_array());
    if (!failed && !json_object_get(in, "status"))
        failed = json_object_set_new(in, "status", json_pack("{s:s}", "status", "connected"));
    return failed ? -1 : 0;
}

/* Writes the 24-hex id in lower case into buf[25] and returns buf (losant.h). */
const char *ls_lower_id(const char *id, char *buf) {
    for (int i = 0; i < 24; i++) buf[i] = (char)tolower((unsigned char)id[i]);
    buf[24] = '\0';
    return buf;
}

/* The event fields lists filter and sort on: strings (or null) in a seed. */
static const char *const TEXT_FIELDS[] = {"level", "state", "subject", "deviceId", "sourceId", "sourceType",
                                          "experienceUserId", "experienceGroupId", NULL};

/* Checks and normalizes one seeded document (ids lower-cased, dates in ISO
 * form, the list fields strings); NULL with err on a bad item. */
static json_t *seed_item(json_t *doc, const char *kind, size_t i, char *err, size_t errlen) {
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *app = json_string_value(json_object_get(doc, "applicationId"));
    char app_id[25], own_id[25], now[32];
    if (!json_is_object(doc) || !id || !app || !sb_is_hex24(id) || !sb_is_hex24(app)) {
        snprintf(err, errlen, "losant.%ss[%zu] needs a 24-hex id and applicationId", kind, i);
        return NULL;
    }
    json_t *copy = json_deep_copy(doc);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int k = 0; k < 2; k++) { /* dates as Event Post takes them, stored in one ISO form */
        const char *name = k ? "lastUpdated" : "creationDate";
        json_t *date = json_object_get(copy, name);
        char when[32];
        if (date && (sb_ls_date(date, when) < 0 || json_object_set_new(copy, name, json_string(when)) < 0)) {
            snprintf(err, errlen, "losant.%ss[%zu].%s must be a date-time, epoch milliseconds or {\"$date\": ...}",
                     kind, i, name);
            json_decref(copy);
            return NULL;
        }
    }
    if (!strcmp(kind, "event")) {
        json_t *updates = json_object_get(copy, "updates");
        for (const char *const *f = TEXT_FIELDS; *f; f++) {
            json_t *v = json_object_get(copy, *f);
            if (v && !json_is_string(v) && !json_is_null(v)) {
                snprintf(err, errlen, "losant.events[%zu].%s must be a string", i, *f);
                json_decref(copy);
                return NULL;
            }
        }
        if (updates && !json_is_array(updates)) {
            snprintf(err, errlen, "losant.events[%zu].updates must be a list", i);
            json_decref(copy);
            return NULL;
        }
    }
    sb_ls_iso((long long)time(NULL) * 1000, now);
    app = ls_lower_id(app, app_id); /* stored ids are lower-case */
    id = ls_lower_id(id, own_id);
    if ((!strcmp(kind, "event") ? ls_complete_event : ls_complete_integration)(copy, app, id, now) < 0) {
        snprintf(err, errlen, "out of memory");
        json_decref(copy);
        return NULL;
    }
    return copy;
}

/* Loads one seed list (events or integrations); a later item with the
 * id of an earlier one replaces it. -1 with err on a bad item. */
static int seed_docs(sqlite3 *db, json_t *list, const char *kind, char *err, size_t errlen) {
    size_t i;
    json_t *doc;
    int events = !strcmp(kind, "event");
    json_array_foreach(list, i, doc) {
        json_t *copy = seed_item(doc, kind, i, err, errlen);
        if (!copy) return -1;
        const char *app = json_string_value(json_object_get(copy, "applicationId"));
        const char *id = json_string_value(json_object_get(copy, "id"));
        sqlite3_int64 rid;
        int found = events ? ls_event_find(db, app, id, &rid, NULL) : ls_integration_find(db, app, id, &rid, NULL, NULL);
        int rc = found < 0 ? -1 : found == 0 ? 0 : events ? ls_event_delete(db, rid) : ls_integration_delete(db, rid);
        if (rc == 0) rc = events ? ls_event_store(db, app, copy, 0, &rid, 1) : ls_integration_store(db, app, copy, 0, &rid);
        json_decref(copy);
        if (rc < 0) {
            snprintf(err, errlen, "cannot store losant.%ss[%zu]", kind, i);
            return -1;
        }
    }
    return 0;
}

/* Runs an insert of two or three texts (the third may be NULL); 0 or -1. */
static int insert_row(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c) {
    sqlite3_stmt *st;
    int rc;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    bind_text(st, 1, a);
    bind_text(st, 2, b);
    if (sqlite3_bind_parameter_count(st) > 2) bind_text(st, 3, c);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* Loads applications, tokens, events and integrations of the seed (sandbox.h). */
int sb_losant_seed(sb_server *srv, json_t *seed, char *err, size_t errlen) {
    json_t *l = json_object_get(seed, "losant"), *item;
    size_t i;
    if (!l) return 0;
    json_array_foreach(json_object_get(l, "applications"), i, item) {
        const char *id = json_string_value(json_object_get(item, "id"));
        char app_id[25];
        if (!id || !sb_is_hex24(id)) {
            snprintf(err, errlen, "losant.applications[%zu].id must be 24 hexadecimal characters", i);
            return -1;
        }
        if (insert_row(srv->db, "INSERT OR REPLACE INTO losant_apps VALUES (?, ?)", ls_lower_id(id, app_id),
                       json_string_value(json_object_get(item, "name")), NULL) < 0) {
            snprintf(err, errlen, "cannot store losant.applications[%zu]", i);
            return -1;
        }
    }
    json_array_foreach(json_object_get(l, "tokens"), i, item) {
        const char *token = json_string_value(json_object_get(item, "token"));
        json_t *scopes = json_object_get(item, "scopes"), *apps = json_object_get(item, "applications");
        if (!token || !json_is_array(scopes) || (apps && !json_is_array(apps))) {
            snprintf(err, errlen, "losant.tokens[%zu] needs token (string) and scopes (list)", i);
            return -1;
        }
        char *s = sb_dump(scopes, JSON_COMPACT), *a = apps ? sb_dump(apps, JSON_COMPACT) : NULL;
        int rc = s && (a || !apps) ? insert_row(srv->db, "INSERT OR REPLACE INTO losant_tokens VALUES (?, ?, ?)", token, s, a)
                                   : -1;
        free(s);
        free(a);
        if (rc < 0) {
            snprintf(err, errlen, "cannot store losant.tokens[%zu]", i);
            return -1;
        }
    }
    if (seed_docs(srv->db, json_object_get(l, "events"), "event", err, errlen) < 0) return -1;
    return seed_docs(srv->db, json_object_get(l, "integrations"), "integration", err, errlen);
}
