/* eventapi-sandbox: the Losant Events and Integrations API
 * (docs/PROTOCOLS.md section 1): its routes as a table, tokens and scopes,
 * the params of each call, and the handlers. Bodies are checked against
 * Losant's published schemas by losant_validate.c (dates by losant_dates.c),
 * queries by losant_query.c; losant_store.c keeps the
 * documents. */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Answers 200 (or status) with the JSON text of buf, which it empties; 500 when buf failed. */
static void reply_text(sb_response *res, int status, sb_buf *buf) {
    size_t len;
    char *text = sb_buf_take(buf, &len);
    if (!text) {
        ls_internal(res);
        return;
    }
    sb_reply_empty(res, status);
    res->content_type = "application/json";
    res->body = text;
    res->body_len = len;
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
static int item_id_ok(const ls_call *c, const char *kind) {
    if (sb_is_hex24(c->item)) return 1;
    sb_reply_error(c->res, 400, "Validation", "%sId must be 24 hexadecimal characters", kind);
    return 0;
}

/* GET .../events/{eventId}: the stored text, its updates joined, no parse. */
static void get_event(const ls_call *c) {
    sb_buf out = {0};
    if (!item_id_ok(c, "event")) return;
    int found = ls_event_text(c->srv->db, c->app, c->item, 0, &out);
    if (found > 0) reply_text(c->res, 200, &out);
    else if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Event was not found");
    else ls_internal(c->res);
    sb_buf_free(&out);
}

/* PATCH .../events/{eventId}: the document changes, one update row is added. */
static void patch_event(const ls_call *c) {
    sqlite3_int64 rid;
    json_t *doc = NULL, *patch, *update = NULL;
    char now[32];
    sb_buf out = {0};
    if (!item_id_ok(c, "event")) return;
    int found = ls_event_find(c->srv->db, c->app, c->item, &rid, &doc);
    if (found <= 0) {
        if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Event was not found");
        else ls_internal(c->res);
        return;
    }
    if ((patch = ls_checked_body(c, "eventPatch"))) {
        iso_now(c->req->now, now);
        if (!(update = apply_event_patch(doc, patch, now)) || ls_event_store(c->srv->db, c->app, doc, rid, &rid, 0) < 0
            || ls_event_add_update(c->srv->db, rid, update) < 0 || ls_event_text(c->srv->db, NULL, NULL, rid, &out) <= 0)
            ls_internal(c->res);
        else
            reply_text(c->res, 200, &out);
    }
    sb_buf_free(&out);
    json_decref(update);
    json_decref(patch);
    json_decref(doc);
}

/* DELETE .../events/{eventId}. */
static void delete_event(const ls_call *c) {
    sqlite3_int64 rid;
    if (!item_id_ok(c, "event")) return;
    int found = ls_event_find(c->srv->db, c->app, c->item, &rid, NULL);
    if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Event was not found");
    else if (found < 0 || ls_event_delete(c->srv->db, rid) < 0) ls_internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
}

/* GET .../integrations/{integrationId}: the stored text. */
static void get_integration(const ls_call *c) {
    sqlite3_int64 rid;
    sb_buf out = {0};
    if (!item_id_ok(c, "integration")) return;
    int found = ls_integration_find(c->srv->db, c->app, c->item, &rid, NULL, &out);
    if (found > 0) reply_text(c->res, 200, &out);
    else if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Integration was not found");
    else ls_internal(c->res);
    sb_buf_free(&out);
}

/* PATCH .../integrations/{integrationId}: top-level members replaced. */
static void patch_integration(const ls_call *c) {
    sqlite3_int64 rid;
    json_t *doc = NULL, *patch;
    char now[32];
    sb_buf out = {0};
    if (!item_id_ok(c, "integration")) return;
    int found = ls_integration_find(c->srv->db, c->app, c->item, &rid, &doc, NULL);
    if (found <= 0) {
        if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Integration was not found");
        else ls_internal(c->res);
        return;
    }
    if ((patch = ls_checked_body(c, "integrationPatch"))) {
        iso_now(c->req->now, now);
        if (json_object_update(doc, patch) < 0 || json_object_set_new(doc, "lastUpdated", json_string(now)) < 0
            || ls_integration_store(c->srv->db, c->app, doc, rid, &rid) < 0
            || ls_integration_find(c->srv->db, c->app, c->item, &rid, NULL, &out) <= 0)
            ls_internal(c->res);
        else
            reply_text(c->res, 200, &out);
    }
    sb_buf_free(&out);
    json_decref(patch);
    json_decref(doc);
}

/* DELETE .../integrations/{integrationId} (includeWorkflows is ignored). */
static void delete_integration(const ls_call *c) {
    sqlite3_int64 rid;
    if (!item_id_ok(c, "integration")) return;
    int found = ls_integration_find(c->srv->db, c->app, c->item, &rid, NULL, NULL);
    if (found == 0) sb_reply_error(c->res, 404, "NotFound", "Integration was not found");
    else if (found < 0 || ls_integration_delete(c->srv->db, rid) < 0) ls_internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
}

/* ---- handlers: collections ---- */

/* POST .../events or .../integrations: a new document, 201. */
static void create(const ls_call *c, int events) {
    char id[25], now[32], when[32];
    sqlite3_int64 rid;
    sb_buf out = {0};
    json_t *doc = ls_checked_body(c, events ? "eventPost" : "integrationPost");
    if (!doc) return;
    new_id(c->req->now, id);
    iso_now(c->req->now, now);
    json_t *cd = events ? json_object_get(doc, "creationDate") : NULL;
    if (cd && sb_ls_date(cd, when) < 0) { /* the schema takes any string or number: it must be a date too */
        sb_reply_error(c->res, 400, "Validation", "creationDate must be an RFC 3339 date-time, epoch milliseconds "
                       "or {\"$date\": date-time}, from the year 0 to 9999");
        json_decref(doc);
        return;
    }
    /* any form Event Post allows is stored as that date, in one ISO form */
    int failed = cd && json_object_set_new(doc, "creationDate", json_string(when)) < 0;
    if (events)
        failed = failed || ls_complete_event(doc, c->app, id, now) < 0
                 || ls_event_store(c->srv->db, c->app, doc, 0, &rid, 0) < 0
                 || ls_event_text(c->srv->db, NULL, NULL, rid, &out) <= 0;
    else
        failed = failed || ls_complete_integration(doc, c->app, id, now) < 0
                 || ls_integration_store(c->srv->db, c->app, doc, 0, &rid) < 0
                 || ls_integration_find(c->srv->db, c->app, id, &rid, NULL, &out) <= 0;
    if (failed) ls_internal(c->res);
    else reply_text(c->res, 201, &out);
    sb_buf_free(&out);
    json_decref(doc);
}

/* POST .../events. */
static void create_event(const ls_call *c) {
    create(c, 1);
}

/* POST .../integrations. */
static void create_integration(const ls_call *c) {
    create(c, 0);
}

/* GET .../events or .../integrations: one page, filtered, counted and
 * sorted by SQLite, answered from the stored texts. */
static void list(const ls_call *c, int events) {
    sb_listing l;
    long long total = 0;
    long n = 0;
    sb_buf out = {0};
    if (ls_read_listing(c->req, c->res, events ? LS_EVENTS : LS_INTEGRATIONS, &l) < 0) return;
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
        /* filterField is echoed only when one was given: none given means no filtering */
        meta = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s*, s:s, s:s, s:s}", "count", (json_int_t)n, "totalCount",
                         (json_int_t)total, "perPage", (json_int_t)l.per_page, "page", shown, "filter",
                         l.filter ? l.filter : "", "filterField", l.field_given ? l.filter_field : NULL, "sortField",
                         l.sort_field, "sortDirection", l.desc ? "desc" : "asc", "applicationId", c->app);
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
    if (failed) ls_internal(c->res);
    else reply_text(c->res, 200, &out);
    sb_buf_free(&out);
    free(meta_text);
    json_decref(meta);
    free(rids);
    json_decref(l.query);
}

/* GET .../events. */
static void list_events(const ls_call *c) {
    list(c, 1);
}

/* GET .../integrations. */
static void list_integrations(const ls_call *c) {
    list(c, 0);
}

/* Applies an Event Patch to every event of app matching l (an update row
 * each), at time now; 0 or -1. */
static int apply_bulk_patch(sqlite3 *db, const char *app, const sb_listing *l, json_t *body, double now) {
    char when[32];
    sqlite3_int64 *rids = NULL;
    long long n = 0;
    iso_now(now, when);
    int failed = ls_matches(db, app, l, &rids, &n) < 0;
    for (long long i = 0; i < n && !failed; i++) {
        json_t *doc = ls_event_doc(db, rids[i]), *update = doc ? apply_event_patch(doc, body, when) : NULL;
        sqlite3_int64 rid = rids[i];
        failed = !update || ls_event_store(db, app, doc, rid, &rid, 0) < 0 || ls_event_add_update(db, rid, update) < 0;
        json_decref(update);
        json_decref(doc);
    }
    free(rids);
    return failed ? -1 : 0;
}

/* A bulk patch waiting to land (--bulk-delay, the bulk-delay fault): the
 * listing's params copied, so the events it changes are those that match
 * when it lands. */
typedef struct later_patch {
    char app[25];
    char *state, *filter_field, *filter;
    int overridden;
    json_t *query, *body;
} later_patch;

/* Frees a later_patch (sb_later's drop). */
static void later_patch_free(void *arg) {
    later_patch *p = arg;
    if (!p) return;
    free(p->state);
    free(p->filter_field);
    free(p->filter);
    json_decref(p->query);
    json_decref(p->body);
    free(p);
}

/* A copy of s, or NULL for NULL; *failed set when out of memory. */
static char *copy_text(const char *s, int *failed) {
    char *c = s ? strdup(s) : NULL;
    if (s && !c) *failed = 1;
    return c;
}

/* The waiting copy of a bulk patch; NULL when out of memory. */
static later_patch *later_patch_new(const char *app, const sb_listing *l, json_t *body) {
    later_patch *p = calloc(1, sizeof *p);
    int failed = 0;
    if (!p) return NULL;
    snprintf(p->app, sizeof p->app, "%s", app);
    p->state = copy_text(l->state, &failed);
    p->filter_field = copy_text(l->filter_field, &failed);
    p->filter = copy_text(l->filter, &failed);
    p->overridden = l->overridden;
    p->query = json_incref(l->query);
    p->body = json_incref(body);
    if (failed) {
        later_patch_free(p);
        return NULL;
    }
    return p;
}

/* Lands a waiting bulk patch (sb_later's run, under the service lock). */
static int later_patch_run(sb_server *srv, void *arg, double now) {
    later_patch *p = arg;
    sb_listing l;
    memset(&l, 0, sizeof l);
    l.events = 1;
    l.state = p->state;
    l.filter_field = p->filter_field;
    l.filter = p->filter;
    l.overridden = p->overridden;
    l.query = p->query;
    return apply_bulk_patch(srv->db, p->app, &l, p->body, now);
}

/* PATCH .../events: every match gets the patch and an update row, at once
 * or, with --bulk-delay or the bulk-delay fault, that long after the
 * answer (Losant documents the bulk update as asynchronous); the answer is
 * the same. */
static void patch_events(const ls_call *c) {
    sb_listing l;
    json_t *body = ls_checked_body(c, "eventPatch");
    if (!body) return;
    if (ls_read_listing(c->req, c->res, LS_PATCH, &l) < 0) {
        json_decref(body);
        return;
    }
    int delay = c->req->fault_flags & SB_FAULT_BULK_DELAY ? c->req->bulk_delay_ms : c->srv->bulk_delay_ms;
    int queued = 1, failed = 0; /* 1: not queued, applied at once */
    if (delay > 0) {
        later_patch *p = later_patch_new(c->app, &l, body);
        queued = p ? sb_later(c->req->now + delay / 1000.0, later_patch_run, later_patch_free, p) : -1;
        if (queued != 0) later_patch_free(p); /* full or stopping (1): at once; out of memory (-1): 500 */
        failed = queued < 0;
    }
    if (queued == 1) failed = apply_bulk_patch(c->srv->db, c->app, &l, body, c->req->now) < 0;
    if (failed) ls_internal(c->res);
    else sb_reply_json(c->res, 200, json_pack("{s:b}", "success", 1));
    json_decref(l.query);
    json_decref(body);
}

/* POST .../events/delete: the body is the query, checked whole first;
 * nothing is taken from the query string. */
static void delete_events(const ls_call *c) {
    sb_listing l;
    int failed;
    char msg[512];
    long long removed = 0;
    json_t *body = ls_read_body(c, 1, LQ_MAX_BYTES, &failed);
    if (failed) return;
    if (body && ls_schema_refuses(c->res, "advancedEventQuery", "The body", c->req->body, c->req->body_len)) {
        json_decref(body);
        return;
    }
    if (body && sb_lq_check(body, msg, sizeof msg) < 0) {
        sb_reply_error(c->res, 400, "Validation", "%s", msg);
        json_decref(body);
        return;
    }
    ls_read_listing(c->req, c->res, LS_DELETE, &l);
    l.query = body; /* owned by l now; an empty body removes every event */
    if (ls_delete_matches(c->srv->db, c->app, &l, &removed) < 0) ls_internal(c->res);
    else if (removed == 0) sb_reply_error(c->res, 404, "NotFound", "Events were not found"); /* as Losant documents */
    else sb_reply_json(c->res, 200, json_pack("{s:I}", "removed", (json_int_t)removed));
    json_decref(l.query);
}

/* GET .../events/mostRecentBySeverity: {"newCount": n, "event": ...}. */
static void most_recent(const ls_call *c) {
    sb_listing l;
    sqlite3_int64 rid;
    long long count = 0;
    sb_buf out = {0};
    if (ls_read_listing(c->req, c->res, LS_SEVERITY, &l) < 0) return;
    int failed = ls_most_severe(c->srv->db, c->app, &l, &rid, &count) < 0;
    if (!failed) {
        sb_buf_fmt(&out, "{\"newCount\":%lld", count);
        if (rid) {
            sb_buf_str(&out, ",\"event\":");
            failed = ls_event_text(c->srv->db, NULL, NULL, rid, &out) <= 0;
        }
        sb_buf_str(&out, "}");
    }
    if (failed) ls_internal(c->res);
    else reply_text(c->res, 200, &out);
    sb_buf_free(&out);
    json_decref(l.query);
}

/* POST .../events/export: checks {email, query} and answers success. */
static void export_events(const ls_call *c) {
    int failed;
    char msg[512];
    json_t *body = ls_read_body(c, 1, LQ_MAX_BYTES + 2048, &failed), *email, *q;
    const char *key;
    json_t *v;
    if (failed) return;
    if (body && ls_schema_refuses(c->res, "eventsExport", "The body", c->req->body, c->req->body_len)) {
        json_decref(body);
        return;
    }
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
    void (*handler)(const ls_call *c);
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
    if (req->nseg < 3 || req->nseg > 4 || strcmp(req->seg[0], "applications") != 0)
        return ls_generic_route(srv, req, res); /* every other action (losant_generic.c) */
    const char *coll = req->seg[2], *item = req->nseg == 4 ? req->seg[3] : NULL;
    if (strcmp(coll, "events") && strcmp(coll, "integrations")) return ls_generic_route(srv, req, res);
    char app_id[25], item_id[25], allow[64] = "";
    ls_call c = {srv, req, res, req->seg[1], item};
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
    if (ls_authorize(&c, found->name, found->read) < 0 || ls_check_params(req, res, found->name) < 0) return 1;
    found->handler(&c); /* inside the request's transaction (store.c) */
    return 1;
}
