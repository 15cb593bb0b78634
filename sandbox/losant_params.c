/* eventapi-sandbox: what every Losant call reads before its handler runs
 * (docs/PROTOCOLS.md 1.3, 1.4, 1.8): the token, its scopes and the
 * application; the list and bulk params each call takes; JSON bodies. */
#include "losant.h"
#include "losant_schemas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Answers 500 for a storage failure or lack of memory (losant.h). */
void ls_internal(sb_response *res) {
    sb_reply_error(res, 500, "InternalError", "cannot read or write the store, or out of memory");
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

/* Checks the bearer token, the scope and the application (losant.h). */
int ls_authorize(const ls_call *c, const char *name, int read) {
    const char *auth = sb_header_get(c->req, "Authorization");
    sqlite3_stmt *st;
    json_t *scopes = NULL, *apps = NULL;
    int found = 0, rc = 0;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        sb_reply_error(c->res, 401, "Unauthorized", "Authorization header with a Bearer token is required");
        return -1;
    }
    if (!(st = sb_prep(c->srv->db, "SELECT scopes, apps FROM losant_tokens WHERE token = ?"))) {
        ls_internal(c->res);
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
        ls_internal(c->res);
        rc = -1;
    } else if (!found) {
        sb_reply_error(c->res, 401, "Unauthorized", "Invalid access token");
        rc = -1;
    } else if (!scope_grants(scopes, name, read)) {
        sb_reply_error(c->res, 403, "Forbidden", "The access token does not grant %s", name);
        rc = -1;
    } else if (!c->app) { /* an action outside applications (losant_generic.c): nothing more to check */
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
            ls_internal(c->res);
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

/* Parses an integer query param into out: decimal digits only (no sign,
 * no blanks: "+5" and " 5" are refused); -1 with an error answered. */
static int int_param(const sb_request *req, sb_response *res, const char *name, long min, long max, long *out) {
    const char *v = sb_query_get(req, name);
    char *end;
    if (!v || !*v) return 0;
    long n = strtol(v, &end, 10);
    if (*end || strspn(v, "0123456789") != strlen(v) || n < min || n > max) {
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

/* Reads the params of a list or bulk call (losant.h). */
int ls_read_listing(const sb_request *req, sb_response *res, enum ls_listing_call which, sb_listing *l) {
    static const char *const EV_SORT[] = {"subject", "id", "creationDate", "lastUpdated", "level", "state", "deviceId", NULL};
    static const char *const IN_SORT[] = {"name", "id", "creationDate", "integrationType", "lastUpdated", NULL};
    static const char *const EV_FILTER[] = {"subject", NULL};
    static const char *const IN_FILTER[] = {"name", "integrationType", NULL};
    static const char *const DIRS[] = {"asc", "desc", "ASC", "DESC", NULL};
    int events = which != LS_INTEGRATIONS, paged = which == LS_EVENTS || which == LS_INTEGRATIONS;
    const char *dir = NULL, *text;
    memset(l, 0, sizeof *l);
    l->events = events;
    l->per_page = 100;
    l->filter_field = events ? "subject" : "name";
    l->sort_field = events ? "creationDate" : "name";
    if (which == LS_DELETE) return 0; /* the body's query only (docs/PROTOCOLS.md 1.10) */
    l->filter = sb_query_get(req, "filter");
    if (which == LS_SEVERITY) {
        l->state = "new"; /* mostRecentBySeverity looks at new events, filtered on the subject */
    } else {
        const char *state = events ? param_of(req, "state") : NULL, *field = param_of(req, "filterField");
        if (enum_param(res, "state", state, SB_STATES) < 0
            || enum_param(res, "filterField", field, events ? EV_FILTER : IN_FILTER) < 0)
            return -1;
        l->state = state;
        l->field_given = field != NULL;
        if (field) l->filter_field = field;
        else l->filter = NULL; /* as Losant: without filterField the filter is ignored (docs/PROTOCOLS.md 1.4) */
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
        if (which == LS_SEVERITY) l->filter = NULL; /* its state (new) still applies */
        else l->overridden = 1;
    }
    return 0;
}

/* Checks the query params a call takes (losant.h). */
int ls_check_params(const sb_request *req, sb_response *res, const char *call) {
    /* what each call reads from the query string (docs/PROTOCOLS.md 1.2), after the three every call takes */
    static const struct {
        const char *call, *params[9];
    } TAKES[] = {
        {"events.get", {"sortField", "sortDirection", "page", "perPage", "filterField", "filter", "state", "query", NULL}},
        {"events.patch", {"filterField", "filter", "state", "query", NULL}},
        {"events.mostRecentBySeverity", {"filter", "query", NULL}},
        {"integrations.get", {"sortField", "sortDirection", "page", "perPage", "filterField", "filter", NULL}},
        {"integration.delete", {"includeWorkflows", NULL}},
    };
    static const char *const COMMON[] = {"_actions", "_links", "_embedded", NULL};
    static const char *const BOOLEANS[] = {"_actions", "_links", "_embedded", "includeWorkflows", NULL};
    const char *const *own = NULL;
    for (size_t i = 0; i < sizeof TAKES / sizeof TAKES[0]; i++)
        if (!strcmp(TAKES[i].call, call)) own = TAKES[i].params;
    for (int pass = 0; pass < 2; pass++) {
        for (const char *const *p = pass ? own : COMMON; p && *p; p++) {
            if (sb_query_count(req, *p) > 1) {
                sb_reply_error(res, 400, "Validation", "%s must be given once, not %d times", *p, sb_query_count(req, *p));
                return -1;
            }
        }
    }
    for (const char *const *b = BOOLEANS; *b; b++) {
        const char *v = sb_query_get(req, *b);
        int taken = 0;
        for (const char *const *p = COMMON; *p; p++) taken |= !strcmp(*p, *b);
        for (const char *const *p = own; p && *p; p++) taken |= !strcmp(*p, *b);
        if (taken && v && *v && strcmp(v, "true") && strcmp(v, "false")) {
            sb_reply_error(res, 400, "Validation", "%s must be true or false", *b);
            return -1;
        }
    }
    return 0;
}

/* ---- bodies ---- */

/* Parses the JSON body (losant.h). */
json_t *ls_read_body(const ls_call *c, int allow_empty, size_t max_len, int *failed) {
    json_error_t jerr;
    const char *ct = sb_header_get(c->req, "Content-Type");
    *failed = 0;
    if (c->req->body_len == 0 && allow_empty) return NULL;
    *failed = 1;
    if (!sb_media_type_is(ct, "application/json")) { /* exactly that type; parameters allowed */
        sb_reply_error(c->res, 415, "UnsupportedMediaType", "Content-Type must be application/json");
        return NULL;
    }
    if (c->req->body_len > max_len) {
        sb_reply_error(c->res, 400, "Validation", "The body must be at most %zu bytes", max_len);
        return NULL;
    }
    json_t *doc = json_loadb(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc && json_error_code(&jerr) == json_error_out_of_memory) {
        ls_internal(c->res);
    } else if (!doc) {
        char why[256];
        sb_json_error_text(&jerr, why, sizeof why);
        sb_reply_error(c->res, 400, "Validation", "The body is not valid JSON: %s", why);
    } else {
        *failed = 0;
    }
    return doc;
}

/* Checks JSON text against Losant's published schema (losant.h). */
int ls_schema_refuses(sb_response *res, const char *schema, const char *what, const char *text, size_t len) {
    char msg[512];
    int rc = sb_losant_validate(schema, text, len, msg, sizeof msg);
    if (rc > 0) sb_reply_error(res, 400, "Validation", "%s does not match the %s schema: %s", what, schema, msg);
    else if (rc < 0) sb_reply_error(res, 500, "InternalError", "%s", msg); /* no memory left for it */
    return rc != 0;
}

/* Reads a body and checks it against Losant's published schema called
 * schema (losant.h). */
json_t *ls_checked_body(const ls_call *c, const char *schema) {
    int failed;
    json_t *body = ls_read_body(c, 0, SB_MAX_BODY, &failed);
    if (failed) return NULL;
    if (ls_schema_refuses(c->res, schema, "The body", c->req->body, c->req->body_len)) {
        json_decref(body);
        return NULL;
    }
    return body;
}
