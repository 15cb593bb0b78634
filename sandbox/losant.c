/* eventapi-sandbox: the Losant Events and Integrations API
 * (docs/PROTOCOLS.md section 1): its routes as a table, tokens and scopes,
 * the params of each call, and the handlers. Bodies are checked by
 * losant_schema.c, queries by losant_query.c; losant_store.c keeps the
 * documents. */
#include "losant.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What a handler gets: the request, the answer, the application (lower
 * case) and the item segment (an id, lower case when 24 hex). */
typedef struct call {
    sb_server *srv;
    const sb_request *req;
    sb_response *res;
    const char *app;
    const char *item;
} call;

/* ---- small helpers ---- */

/* Writes the time now as ISO 8601 with milliseconds into buf[32]. */
static void iso_now(double now, char *buf) {
    sb_ls_iso((long long)(now * 1000.0), buf);
}

/* Makes a new 24-hex id from the time and a counter (under the service lock). */
static void new_id(double now, char *buf) {
    static unsigned long long counter;
    if (!counter) counter = ((unsigned long long)rand() << 24) ^ (unsigned long long)(now * 1e6);
    snprintf(buf, 25, "%08lx%016llx", (unsigned long)now & 0xffffffffUL, ++counter & 0xffffffffffffffffULL);
}

/* Answers 500 for a storage failure or lack of memory. */
static void internal(sb_response *res) {
    sb_reply_error(res, 500, "InternalError", "cannot read or write the store, or out of memory");
}

/* Answers 200 (or status) with the JSON text of buf, which it empties; 500 when buf failed. */
static void reply_text(sb_response *res, int status, sb_buf *buf) {
    size_t len;
    char *text = sb_buf_take(buf, &len);
    if (!text) {
        internal(res);
        return;
    }
    sb_reply_empty(res, status);
    res->content_type = "application/json";
    res->body = text;
    res->body_len = len;
}

/* ---- tokens and scopes ---- */

/* 1 when the token's scopes grant the call name (read: the .read scopes do too). */
static int scope_grants(json_t *scopes, const char *name, int read) {
    size_t i;
    json_t *s;
    const char *dot = strchr(name, '.');
    json_array_foreach(scopes, i, s) {
        const char *v = json_string_value(s);
        if (!v) continue;
        if (!strcmp(v, "all.Application") || !strcmp(v, "all.Organization") || !strcmp(v, "all.User")) return 1;
        if (read && (!strcmp(v, "all.Application.read") || !strcmp(v, "all.Organization.read")
                     || !strcmp(v, "all.User.read")))
            return 1;
        if (!strcmp(v, name)) return 1;
        if (dot && strlen(v) == (size_t)(dot - name) + 2 && !strncmp(v, name, (size_t)(dot - name) + 1)
            && v[dot - name + 1] == '*')
            return 1;
    }
    return 0;
}

/* Checks the bearer token, the scope and the application (docs/PROTOCOLS.md
 * 1.8). 0 when the call may go on, else -1 with the error answered. */
static int authorize(const call *c, const char *name, int read) {
    const char *auth = sb_header_get(c->req, "Authorization");
    sqlite3_stmt *st;
    json_t *scopes = NULL, *apps = NULL;
    int found = 0, rc = 0;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        sb_reply_error(c->res, 401, "Unauthorized", "Authorization header with a Bearer token is required");
        return -1;
    }
    if (!(st = sb_prep(c->srv->db, "SELECT scopes, apps FROM losant_tokens WHERE token = ?"))) {
        internal(c->res);
        return -1;
    }
    sqlite3_bind_text(st, 1, auth + 7, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), failed = step != SQLITE_ROW && step != SQLITE_DONE;
    if (step == SQLITE_ROW) {
        found = 1;
        scopes = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL
            && !(apps = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL)))
            failed = 1;
        if (!scopes) failed = 1; /* the seed stored a list: only memory can fail here */
    }
    sqlite3_reset(st);
    if (failed) {
        internal(c->res);
        rc = -1;
    } else if (!found) {
        sb_reply_error(c->res, 401, "Unauthorized", "Invalid access token");
        rc = -1;
    } else if (!scope_grants(scopes, name, read)) {
        sb_reply_error(c->res, 403, "Forbidden", "The access token does not grant %s", name);
        rc = -1;
    } else if (!sb_is_hex24(c->app)) {
        sb_reply_error(c->res, 400, "Validation", "applicationId must be 24 hexadecimal characters");
        rc = -1;
    } else {
        int allowed = 1, exists = 0;
        if (apps) {
            size_t i;
            json_t *a;
            allowed = 0;
            json_array_foreach(apps, i, a) if (json_is_string(a) && !strcasecmp(json_string_value(a), c->app)) allowed = 1;
        }
        int looked = 0;
        if ((st = sb_prep(c->srv->db, "SELECT 1 FROM losant_apps WHERE id = ?"))) {
            sqlite3_bind_text(st, 1, c->app, -1, SQLITE_STATIC);
            step = sqlite3_step(st);
            exists = step == SQLITE_ROW;
            looked = exists || step == SQLITE_DONE;
            sqlite3_reset(st);
        }
        if (!looked) {
            internal(c->res);
            rc = -1;
        } else if (!allowed || !exists) {
            sb_reply_error(c->res, 404, "NotFound", "Application was not found");
            rc = -1;
        }
    }
    json_decref(scopes);
    json_decref(apps);
    return rc;
}

/* ---- params ---- */

/* Which call's params a listing reads: each takes only the params Losant
 * documents for it (docs/PROTOCOLS.md 1.2, 1.4) and ignores the others. */
enum listing_call { L_EVENTS, L_INTEGRATIONS, L_PATCH, L_SEVERITY, L_DELETE };

/* Parses an integer query param into out; -1 with an error answered. */
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

/* A param's value, NULL when absent or empty. */
static const char *param_of(const sb_request *req, const char *name) {
    const char *v = sb_query_get(req, name);
    return v && *v ? v : NULL;
}

/* Reads the params of a list or bulk call; -1 with an error answered. A
 * query given as JSON text is checked whole against the schema and the
 * size limits before anything is evaluated. */
static int read_listing(const sb_request *req, sb_response *res, enum listing_call which, sb_listing *l) {
    static const char *const EV_SORT[] = {"subject", "id", "creationDate", "lastUpdated", "level", "state", "deviceId", NULL};
    static const char *const IN_SORT[] = {"name", "id", "creationDate", "integrationType", "lastUpdated", NULL};
    static const char *const EV_FILTER[] = {"subject", NULL};
    static const char *const IN_FILTER[] = {"name", "integrationType", NULL};
    static const char *const DIRS[] = {"asc", "desc", "ASC", "DESC", NULL};
    int events = which != L_INTEGRATIONS, paged = which == L_EVENTS || which == L_INTEGRATIONS;
    const char *dir = NULL, *text;
    memset(l, 0, sizeof *l);
    l->events = events;
    l->per_page = 100;
    l->filter_field = events ? "subject" : "name";
    l->sort_field = events ? "creationDate" : "name";
    if (which == L_DELETE) return 0; /* the body's query only (docs/PROTOCOLS.md 1.10) */
    l->filter = sb_query_get(req, "filter");
    if (which == L_SEVERITY) {
        l->state = "new"; /* mostRecentBySeverity looks at new events, filtered on the subject */
    } else {
        const char *state = events ? param_of(req, "state") : NULL, *field = param_of(req, "filterField");
        if (enum_param(res, "state", state, SB_STATES) < 0
            || enum_param(res, "filterField", field, events ? EV_FILTER : IN_FILTER) < 0)
            return -1;
        l->state = state;
        if (field) l->filter_field = field;
    }
    if (paged) {
        const char *sort = param_of(req, "sortField");
        dir = param_of(req, "sortDirection");
        if (enum_param(res, "sortField", sort, events ? EV_SORT : IN_SORT) < 0
            || enum_param(res, "sortDirection", dir, DIRS) < 0 || int_param(req, res, "page", 0, 1000000000, &l->page) < 0
            || int_param(req, res, "perPage", 1, 1000, &l->per_page) < 0)
            return -1;
        if (sort) l->sort_field = sort;
    }
    l->desc = dir ? (dir[0] == 'd' || dir[0] == 'D') : events;
    if (events && (text = param_of(req, "query"))) {
        char msg[512];
        int status = sb_lq_parse(text, strlen(text), &l->query, msg, sizeof msg);
        if (status) {
            sb_reply_error(res, status, status == 400 ? "Validation" : "InternalError", "%s", msg);
            return -1;
        }
        /* Losant: the query overrides filterField, filter and state (and filter on mostRecentBySeverity) */
        if (which == L_SEVERITY) l->filter = NULL; /* its state (new) still applies */
        else l->overridden = 1;
    }
    return 0;
}

/* ---- bodies ---- */

/* Parses the JSON body; NULL with an error answered (400/415). An empty
 * body gives NULL without an error when allow_empty; a body over max_len
 * bytes is 400 without being parsed. */
static json_t *read_body(const call *c, int allow_empty, size_t max_len, int *failed) {
    json_error_t jerr;
    const char *ct = sb_header_get(c->req, "Content-Type");
    *failed = 0;
    if (c->req->body_len == 0 && allow_empty) return NULL;
    *failed = 1;
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        sb_reply_error(c->res, 415, "UnsupportedMediaType", "Content-Type must be application/json");
        return NULL;
    }
    if (c->req->body_len > max_len) {
        sb_reply_error(c->res, 400, "Validation", "The body must be at most %zu bytes", max_len);
        return NULL;
    }
    json_t *doc = json_loadb(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc && json_error_code(&jerr) == json_error_out_of_memory) internal(c->res);
    else if (!doc) sb_reply_error(c->res, 400, "Validation", "The body is not valid JSON: %s", jerr.text);
    else *failed = 0;
    return doc;
}

/* Reads and checks a body against a schema; NULL with an error answered. */
static json_t *checked_body(const call *c, const sb_field *schema) {
    int failed;
    char msg[512];
    json_t *body = read_body(c, 0, SB_MAX_BODY, &failed);
    if (failed) return NULL;
    if (sb_ls_check(schema, body, msg, sizeof msg) < 0) {
        sb_reply_error(c->res, 400, "Validation", "%s", msg);
        json_decref(body);
        return NULL;
    }
    return body;
}

/* Applies an Event Patch to an event document; returns the update entry
 * to append (new reference), NULL when out of memory. */
static json_t *apply_event_patch(json_t *ev, json_t *patch, const char *now) {
    json_t *update = json_pack("{s:s, s:s}", "sourceType", "apiToken", "creationDate", now);
    json_t *state = json_object_get(patch, "state"), *old = json_object_get(ev, "state");
    json_t *comment = json_object_get(patch, "comment"), *data = json_object_get(patch, "data");
    json_t *tags = json_object_get(patch, "eventTags");
    int failed = !update;
    if (!failed && comment) failed = json_object_set(update, "comment", comment);
    if (!failed && data) failed = json_object_set(update, "data", data) || json_object_set(ev, "data", data);
    if (!failed && tags) failed = json_object_set(ev, "eventTags", tags);
    if (!failed && state && !json_equal(state, old)) {
        failed = json_object_set_new(update, "stateChange",
                                     json_pack("{s:O, s:O}", "old", old ? old : json_null(), "new", state))
                 || json_object_set(ev, "state", state);
    }
    if (!failed) failed = json_object_set_new(ev, "lastUpdated", json_string(now));
    if (failed) {
        json_decref(update);
        return NULL;
    }
    return update;
}

/* ---- handlers: one event or integration ---- */

/* The item of an item call when it is 24 hex; else 400 answered. */
static int item_id_ok(const call *c, const char *kind) {
    if (sb_is_hex24(c->item)) return 1;
    sb_reply_error(c->res, 400, "Validation", "%sId must be 24 hexadecimal characters", kind);
    return 0;
}

/* GET .../events/{eventId}: the stored text, its updates joined, no parse. */
static void get_event(const call *c) {
    sb_buf out = {0};
    if (!item_id_ok(c, "event")) return;
    int found = ls_event_text(c->srv->db, c->app, c->item, 0, &out);
    if (found > 0) reply_text(c->res, 200, &out);
    else if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Event was not found");
    else internal(c->res);
    sb_buf_free(&out);
}

/* PATCH .../events/{eventId}: the document changes, one update row is added. */
static void patch_event(const call *c) {
    sqlite3_int64 rid;
    json_t *doc = NULL, *patch, *update = NULL;
    char now[32];
    sb_buf out = {0};
    if (!item_id_ok(c, "event")) return;
    int found = ls_event_find(c->srv->db, c->app, c->item, &rid, &doc);
    if (found <= 0) {
        if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Event was not found");
        else internal(c->res);
        return;
    }
    if ((patch = checked_body(c, SB_EVENT_PATCH))) {
        iso_now(c->req->now, now);
        if (!(update = apply_event_patch(doc, patch, now)) || ls_event_store(c->srv->db, c->app, doc, rid, &rid, 0) < 0
            || ls_event_add_update(c->srv->db, rid, update) < 0 || ls_event_text(c->srv->db, NULL, NULL, rid, &out) <= 0)
            internal(c->res);
        else
            reply_text(c->res, 200, &out);
    }
    sb_buf_free(&out);
    json_decref(update);
    json_decref(patch);
    json_decref(doc);
}

/* DELETE .../events/{eventId}. */
static void delete_event(const call *c) {
    sqlite3_int64 rid;
    if (!item_id_ok(c, "event")) return;
    int found = ls_event_find(c->srv->db, c->app, c->item, &rid, NULL);
    if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Event was not found");
    else if (found < 0 || ls_event_delete(c->srv->db, rid) < 0) internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
}

/* GET .../integrations/{integrationId}: the stored text. */
static void get_integration(const call *c) {
    sqlite3_int64 rid;
    sb_buf out = {0};
    if (!item_id_ok(c, "integration")) return;
    int found = ls_integration_find(c->srv->db, c->app, c->item, &rid, NULL, &out);
    if (found > 0) reply_text(c->res, 200, &out);
    else if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Integration was not found");
    else internal(c->res);
    sb_buf_free(&out);
}

/* PATCH .../integrations/{integrationId}: top-level members replaced. */
static void patch_integration(const call *c) {
    sqlite3_int64 rid;
    json_t *doc = NULL, *patch;
    char now[32];
    sb_buf out = {0};
    if (!item_id_ok(c, "integration")) return;
    int found = ls_integration_find(c->srv->db, c->app, c->item, &rid, &doc, NULL);
    if (found <= 0) {
        if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Integration was not found");
        else internal(c->res);
        return;
    }
    if ((patch = checked_body(c, SB_INTEGRATION_PATCH))) {
        iso_now(c->req->now, now);
        if (json_object_update(doc, patch) < 0 || json_object_set_new(doc, "lastUpdated", json_string(now)) < 0
            || ls_integration_store(c->srv->db, c->app, doc, rid, &rid) < 0
            || ls_integration_find(c->srv->db, c->app, c->item, &rid, NULL, &out) <= 0)
            internal(c->res);
        else
            reply_text(c->res, 200, &out);
    }
    sb_buf_free(&out);
    json_decref(patch);
    json_decref(doc);
}

/* DELETE .../integrations/{integrationId} (includeWorkflows is ignored). */
static void delete_integration(const call *c) {
    sqlite3_int64 rid;
    if (!item_id_ok(c, "integration")) return;
    int found = ls_integration_find(c->srv->db, c->app, c->item, &rid, NULL, NULL);
    if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Integration was not found");
    else if (found < 0 || ls_integration_delete(c->srv->db, rid) < 0) internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
}

/* ---- handlers: collections ---- */

/* POST .../events or .../integrations: a new document, 201. */
static void create(const call *c, int events) {
    char id[25], now[32], when[32];
    sqlite3_int64 rid;
    sb_buf out = {0};
    json_t *doc = checked_body(c, events ? SB_EVENT_POST : SB_INTEGRATION_POST);
    if (!doc) return;
    new_id(c->req->now, id);
    iso_now(c->req->now, now);
    json_t *cd = events ? json_object_get(doc, "creationDate") : NULL;
    /* any form Event Post allows is stored as that date, in one ISO form (checked above) */
    int failed = cd && (sb_ls_date(cd, when) < 0 || json_object_set_new(doc, "creationDate", json_string(when)) < 0);
    if (events)
        failed = failed || ls_complete_event(doc, c->app, id, now) < 0
                 || ls_event_store(c->srv->db, c->app, doc, 0, &rid, 0) < 0
                 || ls_event_text(c->srv->db, NULL, NULL, rid, &out) <= 0;
    else
        failed = failed || ls_complete_integration(doc, c->app, id, now) < 0
                 || ls_integration_store(c->srv->db, c->app, doc, 0, &rid) < 0
                 || ls_integration_find(c->srv->db, c->app, id, &rid, NULL, &out) <= 0;
    if (failed) internal(c->res);
    else reply_text(c->res, 201, &out);
    sb_buf_free(&out);
    json_decref(doc);
}

/* POST .../events. */
static void create_event(const call *c) {
    create(c, 1);
}

/* POST .../integrations. */
static void create_integration(const call *c) {
    create(c, 0);
}

/* GET .../events or .../integrations: one page, filtered, counted and
 * sorted by SQLite, answered from the stored texts. */
static void list(const call *c, int events) {
    sb_listing l;
    long long total = 0;
    long n = 0;
    sb_buf out = {0};
    if (read_listing(c->req, c->res, events ? L_EVENTS : L_INTEGRATIONS, &l) < 0) return;
    /* repeat-page and stale-page faults: page 0's items, reported as page 0 or as the page asked */
    int page0 = (c->req->fault_flags & (SB_FAULT_REPEAT_PAGE | SB_FAULT_STALE_PAGE)) != 0;
    json_int_t shown = c->req->fault_flags & SB_FAULT_REPEAT_PAGE ? 0 : (json_int_t)l.page;
    sqlite3_int64 *rids = malloc((size_t)l.per_page * sizeof *rids);
    json_t *meta = NULL;
    char *meta_text = NULL;
    int failed = !rids
                 || ls_list(c->srv->db, c->app, &l, page0 ? 0 : (long long)l.page * l.per_page, l.per_page, &total, rids,
                            &n) < 0;
    if (!failed) {
        meta = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "count", (json_int_t)n, "totalCount",
                         (json_int_t)total, "perPage", (json_int_t)l.per_page, "page", shown, "filter",
                         l.filter ? l.filter : "", "filterField", l.filter_field, "sortField", l.sort_field,
                         "sortDirection", l.desc ? "desc" : "asc", "applicationId", c->app);
        failed = !meta || (l.state && json_object_set_new(meta, "state", json_string(l.state)) < 0)
                 || (l.query && json_object_set(meta, "query", l.query) < 0)
                 || !(meta_text = sb_dump(meta, JSON_COMPACT | JSON_REAL_PRECISION(17)));
    }
    if (!failed) { /* {"items":[...], then the members of meta */
        sb_buf_str(&out, "{\"items\":");
        failed = ls_items_text(c->srv->db, events, rids, n, &out) < 0;
        sb_buf_str(&out, ",");
        sb_buf_str(&out, meta_text + 1);
    }
    if (failed) internal(c->res);
    else reply_text(c->res, 200, &out);
    sb_buf_free(&out);
    free(meta_text);
    json_decref(meta);
    free(rids);
    json_decref(l.query);
}

/* GET .../events. */
static void list_events(const call *c) {
    list(c, 1);
}

/* GET .../integrations. */
static void list_integrations(const call *c) {
    list(c, 0);
}

/* PATCH .../events: every match gets the patch and an update row. */
static void patch_events(const call *c) {
    sb_listing l;
    char now[32];
    sqlite3_int64 *rids = NULL;
    long long n = 0;
    json_t *body = checked_body(c, SB_EVENT_PATCH);
    if (!body) return;
    if (read_listing(c->req, c->res, L_PATCH, &l) < 0) {
        json_decref(body);
        return;
    }
    iso_now(c->req->now, now);
    int failed = ls_matches(c->srv->db, c->app, &l, &rids, &n) < 0;
    for (long long i = 0; i < n && !failed; i++) {
        json_t *doc = ls_event_doc(c->srv->db, rids[i]), *update = doc ? apply_event_patch(doc, body, now) : NULL;
        sqlite3_int64 rid = rids[i];
        failed = !update || ls_event_store(c->srv->db, c->app, doc, rid, &rid, 0) < 0
                 || ls_event_add_update(c->srv->db, rid, update) < 0;
        json_decref(update);
        json_decref(doc);
    }
    if (failed) internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
    free(rids);
    json_decref(l.query);
    json_decref(body);
}

/* POST .../events/delete: the body is the query, checked whole first;
 * nothing is taken from the query string. */
static void delete_events(const call *c) {
    sb_listing l;
    int failed;
    char msg[512];
    long long removed = 0;
    json_t *body = read_body(c, 1, LQ_MAX_BYTES, &failed);
    if (failed) return;
    if (body && sb_lq_check(body, msg, sizeof msg) < 0) {
        sb_reply_error(c->res, 400, "Validation", "%s", msg);
        json_decref(body);
        return;
    }
    read_listing(c->req, c->res, L_DELETE, &l);
    l.query = body; /* owned by l now; an empty body removes every event */
    if (ls_delete_matches(c->srv->db, c->app, &l, &removed) < 0) internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:I}", "removed", (json_int_t)removed));
    json_decref(l.query);
}

/* GET .../events/mostRecentBySeverity: {"newCount": n, "event": ...}. */
static void most_recent(const call *c) {
    sb_listing l;
    sqlite3_int64 rid;
    long long count = 0;
    sb_buf out = {0};
    if (read_listing(c->req, c->res, L_SEVERITY, &l) < 0) return;
    int failed = ls_most_severe(c->srv->db, c->app, &l, &rid, &count) < 0;
    if (!failed) {
        sb_buf_fmt(&out, "{\"newCount\":%lld", count);
        if (rid) {
            sb_buf_str(&out, ",\"event\":");
            failed = ls_event_text(c->srv->db, NULL, NULL, rid, &out) <= 0;
        }
        sb_buf_str(&out, "}");
    }
    if (failed) internal(c->res);
    else reply_text(c->res, 200, &out);
    sb_buf_free(&out);
    json_decref(l.query);
}

/* POST .../events/export: checks {email, query} and answers success. */
static void export_events(const call *c) {
    int failed;
    char msg[512];
    json_t *body = read_body(c, 1, LQ_MAX_BYTES + 2048, &failed), *email, *q;
    const char *key;
    json_t *v;
    if (failed) return;
    if (body && !json_is_object(body)) {
        sb_reply_error(c->res, 400, "Validation", "the body must be an object");
        json_decref(body);
        return;
    }
    json_object_foreach(body, key, v) if (strcmp(key, "email") && strcmp(key, "query")) {
        sb_reply_error(c->res, 400, "Validation", "%s is not allowed", key);
        json_decref(body);
        return;
    }
    email = json_object_get(body, "email");
    q = json_object_get(body, "query");
    if (email && (!json_is_string(email) || !strchr(json_string_value(email), '@')
                  || strlen(json_string_value(email)) > 1024))
        sb_reply_error(c->res, 400, "Validation", "email must be an email address");
    else if (q && sb_lq_check(q, msg, sizeof msg) < 0)
        sb_reply_error(c->res, 400, "Validation", "%s", msg);
    else
        sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
    json_decref(body);
}

/* ---- routes ---- */

/* One route: the collection, the item segment (NULL: none; "*": an id;
 * else that word), the method, the call's name for scopes, whether the
 * .read scopes grant it, and its handler. */
typedef struct route {
    const char *coll, *item, *method, *name;
    int read;
    void (*handler)(const call *c);
} route;

static const route ROUTES[] = {
    {"events", NULL, "GET", "events.get", 1, list_events},
    {"events", NULL, "POST", "events.post", 0, create_event},
    {"events", NULL, "PATCH", "events.patch", 0, patch_events},
    {"events", "delete", "POST", "events.delete", 1, delete_events},
    {"events", "export", "POST", "events.export", 1, export_events},
    {"events", "mostRecentBySeverity", "GET", "events.mostRecentBySeverity", 1, most_recent},
    {"events", "*", "GET", "event.get", 1, get_event},
    {"events", "*", "PATCH", "event.patch", 0, patch_event},
    {"events", "*", "DELETE", "event.delete", 0, delete_event},
    {"integrations", NULL, "GET", "integrations.get", 1, list_integrations},
    {"integrations", NULL, "POST", "integrations.post", 0, create_integration},
    {"integrations", "*", "GET", "integration.get", 1, get_integration},
    {"integrations", "*", "PATCH", "integration.patch", 0, patch_integration},
    {"integrations", "*", "DELETE", "integration.delete", 0, delete_integration},
};
#define NROUTES (sizeof ROUTES / sizeof ROUTES[0])

/* 1 when the item segment is one of the collection's fixed words. */
static int fixed_word(const char *coll, const char *item) {
    for (size_t i = 0; i < NROUTES; i++)
        if (ROUTES[i].item && strcmp(ROUTES[i].item, "*") && !strcmp(ROUTES[i].coll, coll) && !strcmp(ROUTES[i].item, item))
            return 1;
    return 0;
}

/* 1 when route r serves the path coll[/item]. */
static int path_matches(const route *r, const char *coll, const char *item) {
    if (strcmp(r->coll, coll)) return 0;
    if (!item || !r->item) return !item && !r->item;
    return !strcmp(r->item, "*") ? !fixed_word(coll, item) : !strcmp(r->item, item);
}

/* Answers /applications/{id}/events... and .../integrations... (sandbox.h). */
int sb_losant_route(sb_server *srv, const sb_request *req, sb_response *res) {
    if (req->nseg < 3 || req->nseg > 4 || strcmp(req->seg[0], "applications") != 0) return 0;
    const char *coll = req->seg[2], *item = req->nseg == 4 ? req->seg[3] : NULL;
    if (strcmp(coll, "events") && strcmp(coll, "integrations")) return 0;
    char app_id[25], item_id[25], allow[64] = "";
    call c = {srv, req, res, req->seg[1], item};
    /* ids match stored ones without regard to case (the schema's pattern allows A-F; stored ids are lower-case) */
    if (sb_is_hex24(c.app)) c.app = ls_lower_id(c.app, app_id);
    if (item && sb_is_hex24(item)) c.item = ls_lower_id(item, item_id);
    if (sb_rate_limited(srv, req, res)) {
        sb_reply_error(res, 429, "TooManyRequests", "More than %d requests per second", srv->rate_limit);
        return 1;
    }
    const route *found = NULL;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!path_matches(&ROUTES[i], coll, item)) continue;
        if (!strcmp(ROUTES[i].method, req->method)) found = &ROUTES[i];
        snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s%s", *allow ? ", " : "", ROUTES[i].method,
                 !strcmp(ROUTES[i].method, "GET") ? ", HEAD" : "");
    }
    if (!found) {
        sb_reply_header(res, "Allow", allow);
        sb_reply_error(res, 405, "MethodNotAllowed", "%s is not allowed here", req->method);
        return 1;
    }
    if (authorize(&c, found->name, found->read) < 0) return 1;
    sqlite3_exec(srv->db, "BEGIN", NULL, NULL, NULL);
    found->handler(&c);
    sqlite3_exec(srv->db, res->status < 400 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return 1;
}
