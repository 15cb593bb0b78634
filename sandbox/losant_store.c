/* eventapi-sandbox: Losant's storage (docs/PROTOCOLS.md 1.7, 1.10):
 * events and integrations in SQLite, one row each with the columns lists
 * filter and sort on (indexed), the document as JSON text, and the
 * event's updates in rows of UPDATES_PER_ROW, so a patch rewrites at most
 * the few updates of the last row, never all the earlier ones, and a read
 * joins a few rows, not thousands.
 * Lists live in losant_list.c. */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UPDATES_PER_ROW 64 /* updates joined in one row of losant_event_updates */

/* ---- SQL functions (registered on the connection) ---- */

/* sb_ms(text): epoch milliseconds of an RFC 3339 date-time, else NULL. */
static void fn_ms(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    const unsigned char *s = sqlite3_value_text(argv[0]);
    long long ms;
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_TEXT && s && sb_ls_date_ms((const char *)s, &ms) == 0)
        sqlite3_result_int64(ctx, ms);
    else
        sqlite3_result_null(ctx);
}

/* sb_text(mode, ci, text, part): 1 when text starts with (mode 0), ends
 * with (1) or contains (2) part, without regard to ASCII case when ci;
 * 0 otherwise and for a missing text. */
static void fn_text(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    int mode = sqlite3_value_int(argv[0]), ci = sqlite3_value_int(argv[1]), ok = 0;
    (void)argc;
    if (sqlite3_value_type(argv[2]) == SQLITE_TEXT && sqlite3_value_type(argv[3]) == SQLITE_TEXT) {
        const char *s = (const char *)sqlite3_value_text(argv[2]), *t = (const char *)sqlite3_value_text(argv[3]);
        size_t n = s ? strlen(s) : 0, m = t ? strlen(t) : 0;
        if (s && t && m <= n) {
            if (mode == 0) ok = (ci ? strncasecmp(s, t, m) : strncmp(s, t, m)) == 0;
            else if (mode == 1) ok = (ci ? strncasecmp(s + n - m, t, m) : strncmp(s + n - m, t, m)) == 0;
            else
                for (size_t i = 0; i + m <= n && !ok; i++) ok = (ci ? strncasecmp(s + i, t, m) : strncmp(s + i, t, m)) == 0;
        }
    }
    sqlite3_result_int(ctx, ok);
}

/* sb_glob(pattern, text): Losant's filter glob (losant_query.c); 0 for a missing text. */
static void fn_glob(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const unsigned char *pat = sqlite3_value_text(argv[0]), *s = sqlite3_value_text(argv[1]);
    sqlite3_result_int(ctx, sqlite3_value_type(argv[1]) == SQLITE_TEXT && pat && s
                                && sb_glob_match((const char *)pat, (const char *)s));
}

/* sb_match(query, mask, columns...): 1 when the event of the row matches
 * the advanced query bound as a pointer ("sb_query"). mask says which
 * columns follow, in lq_row's order (sb_lq_fields): each field's text, for
 * creationDate and lastUpdated also its milliseconds, then the tags. Only
 * the columns the query reads are handed over. */
static void fn_match(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    json_t *q = argc >= 2 ? sqlite3_value_pointer(argv[0], "sb_query") : NULL;
    unsigned mask = argc >= 2 ? (unsigned)sqlite3_value_int(argv[1]) : 0;
    int at = 2;
    lq_row row;
    memset(&row, 0, sizeof row);
    if (!q) {
        sqlite3_result_error(ctx, "sb_match without a query", -1);
        return;
    }
    for (int f = 0; f <= LQ_NFIELDS && at < argc; f++) {
        if (!(mask & (1u << f))) continue;
        sqlite3_value *v = argv[at++];
        const char *text = sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
        if (sqlite3_value_type(v) == SQLITE_TEXT && !text) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (f == LQ_NFIELDS) {
            row.tags_text = text;
            continue;
        }
        row.text[f] = text;
        if ((f == 1 || f == 2) && at < argc) { /* the dates' milliseconds are columns of their own */
            sqlite3_value *ms = argv[at++];
            row.ms_state[f] = sqlite3_value_type(ms) == SQLITE_INTEGER ? 1 : 2;
            row.ms[f] = sqlite3_value_int64(ms);
        }
    }
    int r = sb_lq_eval(q, &row);
    json_decref(row.tags);
    if (row.failed) sqlite3_result_error_nomem(ctx);
    else sqlite3_result_int(ctx, r);
}

/* ---- tables ---- */

/* Moves the documents of a store written by an older sandbox (one
 * losant_docs table) into the tables of this one; 0 or -1. */
static int migrate_docs(sqlite3 *db) {
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(db, "SELECT kind, app, doc FROM losant_docs", -1, &st, NULL) != SQLITE_OK)
        return 0; /* no such table: nothing to move */
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0), *app = (const char *)sqlite3_column_text(st, 1);
        json_t *doc = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        sqlite3_int64 rid;
        if (!doc || !kind || !app) rc = -1;
        else if (!strcmp(kind, "event")) rc = ls_event_store(db, app, doc, 0, &rid, 1);
        else rc = ls_integration_store(db, app, doc, 0, &rid);
        json_decref(doc);
    }
    sqlite3_finalize(st);
    return rc == 0 ? sb_exec(db, "DROP TABLE losant_docs") : -1;
}

/* Creates the tables and indexes, registers the SQL functions and moves an
 * older store's documents (sandbox.h). */
int sb_losant_schema(sqlite3 *db) {
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    if (sqlite3_create_function_v2(db, "sb_ms", 1, flags, NULL, fn_ms, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_create_function_v2(db, "sb_text", 4, flags, NULL, fn_text, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_create_function_v2(db, "sb_glob", 2, flags, NULL, fn_glob, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_create_function_v2(db, "sb_match", -1, flags, NULL, fn_match, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sb_exec(db,
                "CREATE TABLE IF NOT EXISTS losant_apps (id TEXT PRIMARY KEY, name TEXT);"
                "CREATE TABLE IF NOT EXISTS losant_tokens (token TEXT PRIMARY KEY, scopes TEXT, apps TEXT);"
                "CREATE TABLE IF NOT EXISTS losant_events (rid INTEGER PRIMARY KEY, app TEXT NOT NULL, id TEXT NOT NULL,"
                " creation_date TEXT, last_updated TEXT, creation_ms INTEGER, updated_ms INTEGER, level TEXT,"
                " level_rank INTEGER, state TEXT, subject TEXT, device_id TEXT, source_id TEXT, source_type TEXT,"
                " experience_user_id TEXT, experience_group_id TEXT, tags TEXT, doc TEXT NOT NULL,"
                " nupdates INTEGER NOT NULL DEFAULT 0, UNIQUE (app, id));"
                "CREATE TABLE IF NOT EXISTS losant_event_updates (rid INTEGER NOT NULL, chunk INTEGER NOT NULL,"
                " doc TEXT NOT NULL, PRIMARY KEY (rid, chunk)) WITHOUT ROWID;"
                "CREATE INDEX IF NOT EXISTS le_created ON losant_events (app, creation_date, id);"
                "CREATE INDEX IF NOT EXISTS le_created_desc ON losant_events (app, creation_date DESC, id);"
                "CREATE INDEX IF NOT EXISTS le_updated ON losant_events (app, last_updated, id);"
                "CREATE INDEX IF NOT EXISTS le_level ON losant_events (app, level_rank, id);"
                "CREATE INDEX IF NOT EXISTS le_state ON losant_events (app, state, id);"
                "CREATE INDEX IF NOT EXISTS le_subject ON losant_events (app, subject, id);"
                "CREATE INDEX IF NOT EXISTS le_device ON losant_events (app, device_id, id);"
                "CREATE TABLE IF NOT EXISTS losant_integrations (rid INTEGER PRIMARY KEY, app TEXT NOT NULL,"
                " id TEXT NOT NULL, name TEXT, integration_type TEXT, creation_date TEXT, last_updated TEXT,"
                " doc TEXT NOT NULL, UNIQUE (app, id));"
                /* every other resource (losant_generic.c): coll is the collection's path ("applications/<id>/devices") */
                "CREATE TABLE IF NOT EXISTS losant_generic (seq INTEGER PRIMARY KEY, coll TEXT NOT NULL,"
                " id TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (coll, id));")
        < 0)
        return -1;
    return migrate_docs(db);
}

/* ---- events ---- */

/* A member's string, or NULL. */
static const char *text_of(json_t *doc, const char *name) {
    return json_string_value(json_object_get(doc, name));
}

/* Binds a text or NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* Binds the epoch milliseconds of a date, or NULL. */
static void bind_ms(sqlite3_stmt *st, int i, const char *date) {
    long long ms;
    if (date && sb_ls_date_ms(date, &ms) == 0) sqlite3_bind_int64(st, i, ms);
    else sqlite3_bind_null(st, i);
}

/* Severity rank of a level (critical highest), -1 for another or none. */
static int level_rank(const char *level) {
    for (int i = 0; level && SB_LEVELS[i]; i++)
        if (!strcmp(SB_LEVELS[i], level)) return i;
    return -1;
}

/* Stores an event document, without its updates (losant.h). */
int ls_event_store(sqlite3 *db, const char *app, json_t *doc, sqlite3_int64 rid, sqlite3_int64 *rid_out, int with_updates) {
    json_t *updates = json_incref(json_object_get(doc, "updates")), *tags = json_object_get(doc, "eventTags");
    json_object_del(doc, "updates"); /* kept in rows of their own */
    char *text = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *tags_text = json_is_object(tags) ? sb_dump(tags, JSON_COMPACT) : NULL;
    sqlite3_stmt *st = rid ? sb_prep(db, "UPDATE losant_events SET creation_date = ?3, last_updated = ?4,"
                                         " creation_ms = ?5, updated_ms = ?6, level = ?7, level_rank = ?8,"
                                         " state = ?9, subject = ?10, device_id = ?11, source_id = ?12,"
                                         " source_type = ?13, experience_user_id = ?14, experience_group_id = ?15,"
                                         " tags = ?16, doc = ?17 WHERE rid = ?18")
                           : sb_prep(db, "INSERT INTO losant_events (app, id, creation_date, last_updated,"
                                         " creation_ms, updated_ms, level, level_rank, state, subject, device_id,"
                                         " source_id, source_type, experience_user_id, experience_group_id, tags,"
                                         " doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                                         " ?14, ?15, ?16, ?17)");
    int rc = -1;
    if (st && text && (tags_text || !json_is_object(tags))) {
        const char *created = text_of(doc, "creationDate"), *updated = text_of(doc, "lastUpdated");
        if (!rid) {
            bind_text(st, 1, app);
            bind_text(st, 2, text_of(doc, "id"));
        }
        bind_text(st, 3, created);
        bind_text(st, 4, updated);
        bind_ms(st, 5, created);
        bind_ms(st, 6, updated);
        bind_text(st, 7, text_of(doc, "level"));
        sqlite3_bind_int(st, 8, level_rank(text_of(doc, "level")));
        bind_text(st, 9, text_of(doc, "state"));
        bind_text(st, 10, text_of(doc, "subject"));
        bind_text(st, 11, text_of(doc, "deviceId"));
        bind_text(st, 12, text_of(doc, "sourceId"));
        bind_text(st, 13, text_of(doc, "sourceType"));
        bind_text(st, 14, text_of(doc, "experienceUserId"));
        bind_text(st, 15, text_of(doc, "experienceGroupId"));
        bind_text(st, 16, tags_text);
        bind_text(st, 17, text);
        if (rid) sqlite3_bind_int64(st, 18, rid);
        if (sqlite3_step(st) == SQLITE_DONE) {
            rc = 0;
            *rid_out = rid ? rid : sqlite3_last_insert_rowid(db);
        }
        sqlite3_reset(st);
    }
    free(text);
    free(tags_text);
    if (rc == 0 && with_updates && json_is_array(updates)) {
        size_t i;
        json_t *u;
        json_array_foreach(updates, i, u) if (rc == 0) rc = ls_event_add_update(db, *rid_out, u);
    }
    json_decref(updates);
    return rc;
}

/* Appends one update to an event (losant.h): to the last row of its
 * updates while it holds fewer than UPDATES_PER_ROW, else in a new row. */
int ls_event_add_update(sqlite3 *db, sqlite3_int64 rid, json_t *update) {
    char *text = sb_dump(update, JSON_COMPACT | JSON_REAL_PRECISION(17));
    sqlite3_stmt *st = sb_prep(db, "SELECT nupdates FROM losant_events WHERE rid = ?");
    sqlite3_int64 n = -1;
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, rid);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (text && n >= 0) {
        st = n % UPDATES_PER_ROW == 0
                 ? sb_prep(db, "INSERT INTO losant_event_updates (rid, chunk, doc) VALUES (?1, ?2, ?3)")
                 : sb_prep(db, "UPDATE losant_event_updates SET doc = doc || ',' || ?3 WHERE rid = ?1 AND chunk = ?2");
        if (st) {
            sqlite3_bind_int64(st, 1, rid);
            sqlite3_bind_int64(st, 2, n / UPDATES_PER_ROW);
            sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
            rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
            sqlite3_reset(st);
        }
    }
    free(text);
    if (rc == 0 && (st = sb_prep(db, "UPDATE losant_events SET nupdates = nupdates + 1 WHERE rid = ?"))) {
        sqlite3_bind_int64(st, 1, rid);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(st);
    }
    return rc;
}

/* Appends "doc" with "updates":[...] before its closing brace to out. */
static void event_text(sqlite3 *db, sqlite3_int64 rid, const char *doc, sqlite3_int64 nupdates, sb_buf *out) {
    size_t n = strlen(doc);
    sb_buf_add(out, doc, n > 0 ? n - 1 : 0);
    sb_buf_str(out, n > 2 ? ",\"updates\":[" : "\"updates\":[");
    if (nupdates > 0) {
        sqlite3_stmt *st = sb_prep(db, "SELECT doc FROM losant_event_updates WHERE rid = ? ORDER BY chunk");
        if (!st) {
            out->failed = 1;
            return;
        }
        sqlite3_bind_int64(st, 1, rid);
        int rc, first = 1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *text = (const char *)sqlite3_column_text(st, 0);
            if (!text) break; /* out of memory */
            if (!first) sb_buf_str(out, ",");
            sb_buf_add(out, text, (size_t)sqlite3_column_bytes(st, 0));
            first = 0;
        }
        if (rc != SQLITE_DONE) out->failed = 1; /* never half the updates */
        sqlite3_reset(st);
    }
    sb_buf_str(out, "]}");
}

/* Finds an event (losant.h). */
int ls_event_find(sqlite3 *db, const char *app, const char *id, sqlite3_int64 *rid, json_t **doc) {
    sqlite3_stmt *st = sb_prep(db, "SELECT rid, doc FROM losant_events WHERE app = ? AND id = ?");
    int found = 0;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        found = 1;
        *rid = sqlite3_column_int64(st, 0);
        if (doc && !(*doc = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL))) found = -1;
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

/* The document of an event by rid, without its updates (losant.h). */
json_t *ls_event_doc(sqlite3 *db, sqlite3_int64 rid) {
    sqlite3_stmt *st = sb_prep(db, "SELECT doc FROM losant_events WHERE rid = ?");
    json_t *doc = NULL;
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, rid);
    if (sqlite3_step(st) == SQLITE_ROW) doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    return doc;
}

/* The whole event, updates included, as JSON text (losant.h). */
int ls_event_text(sqlite3 *db, const char *app, const char *id, sqlite3_int64 rid, sb_buf *out) {
    sqlite3_stmt *st = rid ? sb_prep(db, "SELECT rid, doc, nupdates FROM losant_events WHERE rid = ?3")
                           : sb_prep(db, "SELECT rid, doc, nupdates FROM losant_events WHERE app = ?1 AND id = ?2");
    int found = 0;
    if (!st) return -1;
    if (rid) {
        sqlite3_bind_int64(st, 3, rid);
    } else {
        sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        found = 1;
        /* copy the document before the update rows are read with another statement */
        const char *text = (const char *)sqlite3_column_text(st, 1);
        char *doc = text ? strdup(text) : NULL;
        sqlite3_int64 row = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 2);
        sqlite3_reset(st);
        if (!doc) return -1;
        event_text(db, row, doc, n, out);
        free(doc);
    } else {
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -1;
    }
    return out->failed ? -1 : found;
}

/* Deletes an event and its updates (losant.h). */
int ls_event_delete(sqlite3 *db, sqlite3_int64 rid) {
    sqlite3_stmt *a = sb_prep(db, "DELETE FROM losant_event_updates WHERE rid = ?");
    int rc = -1;
    if (!a) return -1;
    sqlite3_bind_int64(a, 1, rid);
    rc = sqlite3_step(a) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(a);
    sqlite3_stmt *b = rc == 0 ? sb_prep(db, "DELETE FROM losant_events WHERE rid = ?") : NULL;
    if (!b) return -1;
    sqlite3_bind_int64(b, 1, rid);
    rc = sqlite3_step(b) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(b);
    return rc;
}

/* ---- integrations ---- */

/* Stores an integration document (losant.h). */
int ls_integration_store(sqlite3 *db, const char *app, json_t *doc, sqlite3_int64 rid, sqlite3_int64 *rid_out) {
    char *text = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    sqlite3_stmt *st = rid ? sb_prep(db, "UPDATE losant_integrations SET name = ?3, integration_type = ?4,"
                                         " creation_date = ?5, last_updated = ?6, doc = ?7 WHERE rid = ?8")
                           : sb_prep(db, "INSERT INTO losant_integrations (app, id, name, integration_type,"
                                         " creation_date, last_updated, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    int rc = -1;
    if (st && text) {
        if (!rid) {
            bind_text(st, 1, app);
            bind_text(st, 2, text_of(doc, "id"));
        }
        bind_text(st, 3, text_of(doc, "name"));
        bind_text(st, 4, text_of(doc, "integrationType"));
        bind_text(st, 5, text_of(doc, "creationDate"));
        bind_text(st, 6, text_of(doc, "lastUpdated"));
        bind_text(st, 7, text);
        if (rid) sqlite3_bind_int64(st, 8, rid);
        if (sqlite3_step(st) == SQLITE_DONE) {
            rc = 0;
            *rid_out = rid ? rid : sqlite3_last_insert_rowid(db);
        }
        sqlite3_reset(st);
    }
    free(text);
    return rc;
}

/* Finds an integration (losant.h): its rid, and its document or text. */
int ls_integration_find(sqlite3 *db, const char *app, const char *id, sqlite3_int64 *rid, json_t **doc, sb_buf *text) {
    sqlite3_stmt *st = sb_prep(db, "SELECT rid, doc FROM losant_integrations WHERE app = ? AND id = ?");
    int found = 0;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *stored = (const char *)sqlite3_column_text(st, 1);
        found = stored ? 1 : -1;
        *rid = sqlite3_column_int64(st, 0);
        if (stored && doc && !(*doc = json_loads(stored, 0, NULL))) found = -1;
        if (stored && text) sb_buf_add(text, stored, (size_t)sqlite3_column_bytes(st, 1));
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_reset(st);
    return text && text->failed ? -1 : found;
}

/* Deletes an integration (losant.h). */
int ls_integration_delete(sqlite3 *db, sqlite3_int64 rid) {
    sqlite3_stmt *st = sb_prep(db, "DELETE FROM losant_integrations WHERE rid = ?");
    int rc;
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, rid);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

