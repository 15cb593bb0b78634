/* eventapi-sandbox: Losant's lists (docs/PROTOCOLS.md 1.7, 1.10): a
 * listing (state, filter, advanced query) turned into one WHERE clause
 * that SQLite filters, counts, sorts and pages with the indexes
 * losant_store.c creates; the matching rows written out as JSON text. */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The column of each of lq_row's fields, in its order. */
static const char *const FIELD_COLUMNS[LQ_NFIELDS] = {"id", "creation_date", "last_updated", "source_id",
                                                      "source_type", "level", "state", "subject", "device_id",
                                                      "experience_user_id", "experience_group_id"};

/* The WHERE clause of a listing over app's events or integrations. */
typedef struct where {
    sb_buf sql;
    json_t *params; /* values bound in order, after the application */
    json_t *query;  /* the advanced query, bound as a pointer at query_at */
    int query_at;
} where;

/* Builds the condition of a listing (state, filter and query as
 * read_listing left them; a query overrides state and filter). */
static int where_of(const sb_listing *l, where *w) {
    memset(w, 0, sizeof *w);
    if (!(w->params = json_array())) return -1;
    sb_buf_str(&w->sql, "app = ?");
    if (l->state && !l->overridden) {
        sb_buf_str(&w->sql, " AND state = ?");
        if (json_array_append_new(w->params, json_string(l->state)) < 0) w->sql.failed = 1;
    }
    if (l->filter && *l->filter && !l->overridden) {
        const char *col = !l->events && !strcmp(l->filter_field, "integrationType") ? "integration_type"
                          : l->events                                                ? "subject"
                                                                                     : "name";
        sb_buf_fmt(&w->sql, " AND sb_glob(?, %s)", col);
        if (json_array_append_new(w->params, json_string(l->filter)) < 0) w->sql.failed = 1;
    }
    if (l->query) { /* evaluated in C per row (losant_query.c), after the cheaper conditions */
        const char *key;
        json_t *cond;
        /* a top-level equality with a string is also stated in SQL: a necessary condition SQLite
           checks cheaply (or through an index) before calling the evaluator. Not for the dates
           (compared as instants, not as text) nor the ids other than id (their case may vary);
           an id is stored in lower case and matches without regard to case */
        json_object_foreach(l->query, key, cond) {
            json_t *eq = json_is_object(cond) && json_object_size(cond) == 1 ? json_object_get(cond, "$eq") : cond;
            int f = 0;
            while (f < LQ_NFIELDS && strcmp(LQ_FIELD_NAMES[f], key)) f++;
            if (f == LQ_NFIELDS || !json_is_string(eq) || f == 1 || f == 2 || f == 3 || f >= 8) continue;
            char lower[25];
            int id = f == 0 && sb_is_hex24(json_string_value(eq));
            sb_buf_fmt(&w->sql, " AND %s = ?", FIELD_COLUMNS[f]);
            if (json_array_append_new(w->params, id ? json_string(ls_lower_id(json_string_value(eq), lower))
                                                    : json_incref(eq)) < 0)
                w->sql.failed = 1;
        }
        unsigned mask = sb_lq_fields(l->query);
        sb_buf_fmt(&w->sql, " AND sb_match(?, %u", mask);
        for (int f = 0; f < LQ_NFIELDS; f++) {
            if (!(mask & (1u << f))) continue;
            sb_buf_fmt(&w->sql, ", %s", FIELD_COLUMNS[f]);
            if (f == 1 || f == 2) sb_buf_str(&w->sql, f == 1 ? ", creation_ms" : ", updated_ms");
        }
        sb_buf_str(&w->sql, mask & (1u << LQ_NFIELDS) ? ", tags)" : ")");
        w->query = l->query;
        w->query_at = (int)json_array_size(w->params) + 2;
        if (json_array_append_new(w->params, json_null()) < 0) w->sql.failed = 1; /* its place */
    }
    return w->sql.failed ? -1 : 0;
}

/* Frees a where. */
static void where_free(where *w) {
    sb_buf_free(&w->sql);
    json_decref(w->params);
}

/* Prepares "head WHERE cond tail" and binds app then the params; NULL on failure. */
static sqlite3_stmt *prepare_where(sqlite3 *db, const char *head, const char *app, where *w, const char *tail) {
    sb_buf sql = {0};
    sqlite3_stmt *st = NULL;
    size_t i;
    json_t *v;
    sb_buf_fmt(&sql, "%s WHERE %s%s", head, w->sql.data ? w->sql.data : "1", tail ? tail : "");
    if (sql.failed || sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        sb_buf_free(&sql);
        return NULL;
    }
    sb_buf_free(&sql);
    sqlite3_bind_text(st, 1, app, -1, SQLITE_STATIC);
    json_array_foreach(w->params, i, v) {
        int at = (int)i + 2;
        if (at == w->query_at) sqlite3_bind_pointer(st, at, w->query, "sb_query", NULL);
        else if (json_is_string(v)) sqlite3_bind_text(st, at, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
        else if (json_is_integer(v)) sqlite3_bind_int64(st, at, json_integer_value(v));
        else if (json_is_real(v)) sqlite3_bind_double(st, at, json_real_value(v));
        else sqlite3_bind_null(st, at);
    }
    return st;
}

/* The column a sort field names. */
static const char *sort_column(const sb_listing *l) {
    static const char *const EV[][2] = {{"subject", "subject"}, {"id", "id"}, {"creationDate", "creation_date"},
                                         {"lastUpdated", "last_updated"}, {"level", "level_rank"},
                                         {"state", "state"}, {"deviceId", "device_id"}};
    static const char *const IN[][2] = {{"name", "name"}, {"id", "id"}, {"creationDate", "creation_date"},
                                         {"integrationType", "integration_type"}, {"lastUpdated", "last_updated"}};
    size_t n = l->events ? sizeof EV / sizeof EV[0] : sizeof IN / sizeof IN[0];
    for (size_t i = 0; i < n; i++)
        if (!strcmp((l->events ? EV : IN)[i][0], l->sort_field)) return (l->events ? EV : IN)[i][1];
    return "id";
}

/* Counts the matches and collects the rids of one page of them (losant.h). */
int ls_list(sqlite3 *db, const char *app, const sb_listing *l, long long offset, long limit, long long *total,
            sqlite3_int64 *rids, long *n) {
    const char *table = l->events ? "losant_events" : "losant_integrations";
    where w;
    int rc = -1;
    char head[128], tail[160];
    *n = 0;
    if (where_of(l, &w) < 0) {
        where_free(&w);
        return -1;
    }
    snprintf(head, sizeof head, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = prepare_where(db, head, app, &w, NULL);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        *total = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc == 0 && limit > 0) {
        snprintf(head, sizeof head, "SELECT rid FROM %s", table);
        snprintf(tail, sizeof tail, " ORDER BY %s %s, id ASC LIMIT %ld OFFSET %lld", sort_column(l),
                 l->desc ? "DESC" : "ASC", limit, offset);
        st = prepare_where(db, head, app, &w, tail);
        int step = SQLITE_DONE;
        while (st && *n < limit && (step = sqlite3_step(st)) == SQLITE_ROW) rids[(*n)++] = sqlite3_column_int64(st, 0);
        rc = st && (step == SQLITE_DONE || step == SQLITE_ROW) ? 0 : -1;
        sqlite3_finalize(st);
    }
    where_free(&w);
    return rc;
}

/* Every match's rid, in no particular order, in a new array (losant.h). */
int ls_matches(sqlite3 *db, const char *app, const sb_listing *l, sqlite3_int64 **rids, long long *n) {
    where w;
    int rc = -1;
    *rids = NULL;
    *n = 0;
    if (where_of(l, &w) == 0) {
        sqlite3_stmt *st = prepare_where(db, "SELECT rid FROM losant_events", app, &w, NULL);
        long long cap = 0;
        int step = SQLITE_ROW;
        rc = st ? 0 : -1;
        while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                sqlite3_int64 *grown = realloc(*rids, (size_t)cap * sizeof **rids);
                if (!grown) {
                    rc = -1;
                    break;
                }
                *rids = grown;
            }
            (*rids)[(*n)++] = sqlite3_column_int64(st, 0);
        }
        if (rc == 0 && step != SQLITE_DONE) rc = -1;
        sqlite3_finalize(st);
    }
    where_free(&w);
    if (rc < 0) {
        free(*rids);
        *rids = NULL;
    }
    return rc;
}

/* Deletes every matching event with its updates (losant.h). */
int ls_delete_matches(sqlite3 *db, const char *app, const sb_listing *l, long long *removed) {
    where w;
    int rc = -1;
    if (where_of(l, &w) == 0) {
        sqlite3_stmt *a = prepare_where(db, "DELETE FROM losant_event_updates WHERE rid IN (SELECT rid FROM losant_events",
                                        app, &w, ")");
        rc = a && sqlite3_step(a) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(a);
        sqlite3_stmt *b = rc == 0 ? prepare_where(db, "DELETE FROM losant_events", app, &w, NULL) : NULL;
        rc = b && sqlite3_step(b) == SQLITE_DONE ? 0 : -1;
        if (rc == 0) *removed = sqlite3_changes(db);
        sqlite3_finalize(b);
    }
    where_free(&w);
    return rc;
}

/* The most severe, then latest, match and the number of matches (losant.h). */
int ls_most_severe(sqlite3 *db, const char *app, const sb_listing *l, sqlite3_int64 *rid, long long *count) {
    where w;
    int rc = -1;
    *rid = 0;
    if (where_of(l, &w) == 0) {
        sqlite3_stmt *st = prepare_where(db, "SELECT count(*) FROM losant_events", app, &w, NULL);
        if (st && sqlite3_step(st) == SQLITE_ROW) {
            *count = sqlite3_column_int64(st, 0);
            rc = 0;
        }
        sqlite3_finalize(st);
        st = rc == 0 ? prepare_where(db, "SELECT rid FROM losant_events", app, &w,
                                     " ORDER BY level_rank DESC, creation_date DESC, id ASC LIMIT 1")
                     : NULL;
        if (rc == 0 && !st) rc = -1;
        if (st) {
            int step = sqlite3_step(st);
            if (step == SQLITE_ROW) *rid = sqlite3_column_int64(st, 0);
            else if (step != SQLITE_DONE) rc = -1;
        }
        sqlite3_finalize(st);
    }
    where_free(&w);
    return rc;
}

/* Appends the documents of rids (events with their updates) as a JSON list to out (losant.h). */
int ls_items_text(sqlite3 *db, int events, const sqlite3_int64 *rids, long n, sb_buf *out) {
    sb_buf_str(out, "[");
    for (long i = 0; i < n && !out->failed; i++) {
        if (i) sb_buf_str(out, ",");
        if (events) {
            if (ls_event_text(db, NULL, NULL, rids[i], out) <= 0) out->failed = 1; /* a listed rid must be there */
            continue;
        }
        sqlite3_stmt *st = sb_prep(db, "SELECT doc FROM losant_integrations WHERE rid = ?");
        if (!st) {
            out->failed = 1;
            break;
        }
        sqlite3_bind_int64(st, 1, rids[i]);
        const char *text = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (text) sb_buf_add(out, text, (size_t)sqlite3_column_bytes(st, 0));
        else out->failed = 1;
        sqlite3_reset(st);
    }
    sb_buf_str(out, "]");
    return out->failed ? -1 : 0;
}
