/* eventapi-sandbox: every Losant action besides events and integrations,
 * routed by the generated table LS_ACTIONS (losant_actions.c). Documents
 * are kept in one table, losant_generic (coll, id, doc), coll being the
 * collection's path ("applications/<app>/devices"); a device's states and
 * commands are collections below it (".../devices/<id>/state"). What is
 * answered is described in sandbox/README.md ("Every other Losant action"). */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- path templates ---- */

/* The segment i of template path: its start and length; 0 when there is none. */
static int tmpl_seg(const char *path, int i, const char **s, size_t *n) {
    const char *p = path;
    for (int k = 0;; k++) {
        if (*p != '/') return 0;
        const char *e = strchr(p + 1, '/');
        size_t len = e ? (size_t)(e - p - 1) : strlen(p + 1);
        if (k == i) {
            *s = p + 1;
            *n = len;
            return 1;
        }
        p += 1 + len;
    }
}

/* The literal segments of path when the request's segments match it
 * (a {param} matches any non-empty segment); -1 when they do not. */
static int tmpl_match(const char *path, const sb_request *req) {
    const char *s;
    size_t n;
    int literals = 0;
    for (int i = 0; i < req->nseg; i++) {
        if (!tmpl_seg(path, i, &s, &n) || !*req->seg[i]) return -1;
        if (*s == '{') continue;
        if (strlen(req->seg[i]) != n || memcmp(s, req->seg[i], n)) return -1;
        literals++;
    }
    return tmpl_seg(path, req->nseg, &s, &n) ? -1 : literals;
}

/* 1 when action a is one losant.c answers itself (events, integrations). */
static int handled_elsewhere(const ls_action *a) {
    return !strncmp(a->name, "event.", 6) || !strncmp(a->name, "events.", 7) || !strncmp(a->name, "integration.", 12)
           || !strncmp(a->name, "integrations.", 13);
}

/* The action of method whose template is path[0..n) exactly, or NULL. */
static const ls_action *action_at(const char *method, const char *path, size_t n) {
    for (const ls_action *a = LS_ACTIONS; a->name; a++)
        if (!strcmp(a->method, method) && strlen(a->path) == n && !memcmp(a->path, path, n)) return a;
    return NULL;
}

/* 1 when the segments 0..k-1 of template path are a collection documents
 * are created in (it has a POST action). */
static int creatable(const char *path, int k) {
    const char *s;
    size_t n;
    return k > 0 && tmpl_seg(path, k, &s, &n) && action_at("POST", path, (size_t)(s - 1 - path));
}

/* The name of the id param of the items of collection template coll
 * ("deviceId"), written into out[64]; 0 when it has no item actions. */
static int item_param(const char *coll, char *out) {
    size_t n = strlen(coll);
    for (const ls_action *a = LS_ACTIONS; a->name; a++) {
        const char *p = a->path + n;
        if (strncmp(a->path, coll, n) || strncmp(p, "/{", 2) || strchr(p + 1, '/')) continue;
        snprintf(out, 64, "%.*s", (int)(strlen(p) - 3), p + 2);
        return 1;
    }
    return 0;
}

/* The name of the template's param at segment k ("deviceId") into out[64]. */
static void param_name(const char *path, int k, char *out) {
    const char *s = "";
    size_t n = 2;
    tmpl_seg(path, k, &s, &n);
    snprintf(out, 64, "%.*s", (int)(n - 2), s + 1);
}

/* The request path up to (not including) segment k, joined by '/', into
 * buf; -1 when it does not fit. */
static int coll_of(const lg_call *g, int k, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < k; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? "/" : "", g->seg[i]);
        if (w < 0 || (size_t)w >= cap - len) return -1;
        len += (size_t)w;
    }
    return 0;
}

/* ---- the store ---- */

/* The document id of collection coll: 1 with *doc (new reference), 0 when
 * absent, -1 on failure. */
int lg_doc_get(sqlite3 *db, const char *coll, const char *id, json_t **doc) {
    sqlite3_stmt *st = sb_prep(db, "SELECT doc FROM losant_generic WHERE coll = ? AND id = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = step == SQLITE_DONE ? 0 : -1;
    if (step == SQLITE_ROW) {
        *doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        rc = *doc ? 1 : -1;
    }
    sqlite3_reset(st);
    return rc;
}

/* Stores doc as id of coll (replacing its text, keeping its place); 0 or -1. */
int lg_doc_put(sqlite3 *db, const char *coll, const char *id, json_t *doc) {
    char *text = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    sqlite3_stmt *st = text ? sb_prep(db, "INSERT INTO losant_generic (coll, id, doc) VALUES (?, ?, ?)"
                                          " ON CONFLICT (coll, id) DO UPDATE SET doc = excluded.doc")
                            : NULL;
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(st);
    }
    free(text);
    return rc;
}

/* Deletes id of coll and every collection below it; 0 or -1. */
static int lg_doc_delete(sqlite3 *db, const char *coll, const char *id) {
    char lo[600], hi[600];
    snprintf(lo, sizeof lo, "%s/%s/", coll, id);
    snprintf(hi, sizeof hi, "%s/%s0", coll, id); /* '0' follows '/' */
    sqlite3_stmt *st = sb_prep(db, "DELETE FROM losant_generic WHERE (coll = ? AND id = ?) OR (coll >= ? AND coll < ?)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, hi, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

/* Every document of coll in the order they were made (a new list), NULL on failure. */
json_t *lg_doc_list(sqlite3 *db, const char *coll) {
    sqlite3_stmt *st = sb_prep(db, "SELECT doc FROM losant_generic WHERE coll = ? ORDER BY seq");
    json_t *list = st ? json_array() : NULL;
    int step = SQLITE_DONE;
    if (!list) return NULL;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(list, json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL)) < 0) break;
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* ---- small helpers ---- */

/* Makes a new 24-hex id from the time and a counter (under the service lock). */
void lg_new_id(double now, char *buf) {
    static unsigned long long counter;
    if (!counter) counter = ((unsigned long long)rand() << 20) ^ (unsigned long long)(now * 1e3);
    snprintf(buf, 25, "%08lx%016llx", (unsigned long)now & 0xffffffffUL, ++counter);
}

/* Answers doc (stolen) with status; 500 when it is NULL. */
void lg_answer(const lg_call *g, int status, json_t *doc) {
    if (doc) sb_reply_json(g->c.res, status, doc);
    else ls_internal(g->c.res);
}

/* "deviceId" -> "Device was not found", answered 404. */
void lg_not_found(const lg_call *g, const char *param) {
    size_t n = strlen(param);
    if (n > 2 && !strcmp(param + n - 2, "Id")) n -= 2;
    sb_reply_error(g->c.res, 404, "NotFound", "%c%.*s was not found", param[0] >= 'a' && param[0] <= 'z' ? param[0] - 32 : param[0],
                   (int)n - 1, param + 1);
}

/* An integer query param from min to max, else def; -1 with 400 answered. */
int lg_int_query(const lg_call *g, const char *name, long long min, long long max, long long def, long long *out) {
    const char *v = sb_query_get(g->c.req, name);
    char *end;
    *out = def;
    if (!v || !*v) return 0;
    long long n = strtoll(v, &end, 10);
    if (*end || n < min || n > max) {
        sb_reply_error(g->c.res, 400, "Validation", "%s must be an integer from %lld to %lld", name, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

/* The body checked against the action's schema: a new reference, NULL
 * with an error answered (*failed set), or NULL without error when the
 * body is empty and need is 0. */
json_t *lg_checked_body(const lg_call *g, int need, int *failed) {
    *failed = 0;
    if (!need && g->c.req->body_len == 0) return NULL;
    if (!g->a->body_schema) return ls_read_body(&g->c, !need, SB_MAX_BODY, failed);
    json_t *body = ls_checked_body(&g->c, g->a->body_schema); /* NULL: an error answered */
    *failed = !body;
    return body;
}

/* ---- lists ---- */

typedef struct lg_sorted {
    json_t *doc;
    size_t idx; /* its place in the store: ties keep it */
} lg_sorted;

static const char *sort_key; /* for cmp_sorted (under the service lock) */
static int sort_desc;

/* Orders two members: missing first, numbers by value, strings by bytes, else by type. */
static int cmp_values(json_t *a, json_t *b) {
    if (!a || !b) return a ? 1 : b ? -1 : 0;
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return (x > y) - (x < y);
    }
    if (json_is_string(a) && json_is_string(b)) return strcmp(json_string_value(a), json_string_value(b));
    return (int)json_typeof(a) - (int)json_typeof(b);
}

/* qsort's comparison: by sort_key (sort_desc), then by place. */
static int cmp_sorted(const void *pa, const void *pb) {
    const lg_sorted *a = pa, *b = pb;
    int r = cmp_values(json_object_get(a->doc, sort_key), json_object_get(b->doc, sort_key));
    if (sort_desc) r = -r;
    return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

/* 1 when member field of doc matches the glob filter (strings as they are,
 * numbers and booleans as their JSON text). */
static int filter_keeps(json_t *doc, const char *field, const char *filter) {
    json_t *v = json_object_get(doc, field);
    char buf[64];
    if (json_is_string(v)) return sb_glob_match(filter, json_string_value(v));
    if (json_is_integer(v)) snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else return 0;
    return sb_glob_match(filter, buf);
}

/* 1 when doc's tags hold a tag with key k and value v (either NULL: any). */
static int tag_present(json_t *doc, const char *k, const char *v) {
    size_t i;
    json_t *tag;
    json_array_foreach(json_object_get(doc, "tags"), i, tag) {
        const char *tk = json_string_value(json_object_get(tag, "key")), *tv = json_string_value(json_object_get(tag, "value"));
        if ((!k || (tk && !strcmp(k, tk))) && (!v || (tv && !strcmp(v, tv)))) return 1;
    }
    return 0;
}

/* 1 when doc holds every pair of the request's tagFilter, read in the
 * bracket form the clients send (tagFilter[0][key]=floor&tagFilter[0][value]=2). */
static int tags_keep(const sb_request *req, json_t *doc) {
    for (int i = 0; i < 100; i++) {
        char kname[48], vname[48];
        snprintf(kname, sizeof kname, "tagFilter[%d][key]", i);
        snprintf(vname, sizeof vname, "tagFilter[%d][value]", i);
        const char *k = sb_query_get(req, kname), *v = sb_query_get(req, vname);
        if (!k && !v) return 1;
        if (!tag_present(doc, k, v)) return 0;
    }
    return 1;
}

/* The page of the sorted docs v[0..n) from..from+count as a Losant page
 * (or limit/offset) object; NULL when out of memory. */
static json_t *page_of(const lg_call *g, lg_sorted *v, size_t n, long long from, long long count) {
    json_t *items = json_array(), *page;
    for (long long i = from; items && i < from + count && i < (long long)n; i++)
        if (json_array_append(items, v[i].doc) < 0) {
            json_decref(items);
            items = NULL;
        }
    if (!items) return NULL;
    json_int_t shown = (json_int_t)json_array_size(items);
    if (g->a->paging == LS_OFFSET)
        return json_pack("{s:o, s:I, s:I, s:I, s:I}", "items", items, "count", shown, "totalCount", (json_int_t)n,
                         "limit", (json_int_t)count, "offset", (json_int_t)from);
    page = json_pack("{s:o, s:I, s:I, s:I, s:I, s:s, s:s}", "items", items, "count", shown, "totalCount", (json_int_t)n,
                     "perPage", (json_int_t)count, "page", (json_int_t)(count ? from / count : 0), "sortField",
                     sort_key, "sortDirection", sort_desc ? "desc" : "asc");
    const char *ff = sb_query_get(g->c.req, "filterField"), *f = sb_query_get(g->c.req, "filter");
    if (page && f && *f
        && (json_object_set_new(page, "filter", json_string(f)) < 0
            || json_object_set_new(page, "filterField", json_string(ff && *ff ? ff : "name")) < 0)) {
        json_decref(page);
        return NULL;
    }
    return page;
}

/* Reads the page (or limit and offset) params into *from and *count; -1 with 400 answered. */
static int read_window(const lg_call *g, long long *from, long long *count) {
    long long page, per;
    if (g->a->paging == LS_OFFSET)
        return lg_int_query(g, "limit", 0, 10000, 100, count) < 0 || lg_int_query(g, "offset", 0, 1000000000, 0, from) < 0
                   ? -1 : 0;
    if (lg_int_query(g, "page", 0, 1000000000, 0, &page) < 0 || lg_int_query(g, "perPage", 1, 1000, 100, &per) < 0)
        return -1;
    *from = page * per;
    *count = per;
    return 0;
}

/* GET on a collection: its documents filtered, sorted and paged. */
static void list_docs(const lg_call *g, const char *coll) {
    long long from, count;
    const char *sd = sb_query_get(g->c.req, "sortDirection"), *ff = sb_query_get(g->c.req, "filterField"),
               *f = sb_query_get(g->c.req, "filter");
    sort_key = sb_query_get(g->c.req, "sortField");
    if (!sort_key || !*sort_key) sort_key = "name";
    if (sd && *sd && strcasecmp(sd, "asc") && strcasecmp(sd, "desc")) {
        sb_reply_error(g->c.res, 400, "Validation", "sortDirection must be asc or desc");
        return;
    }
    sort_desc = sd && !strcasecmp(sd, "desc");
    if (read_window(g, &from, &count) < 0) return;
    json_t *all = lg_doc_list(g->c.srv->db, coll);
    lg_sorted *v = all ? malloc((json_array_size(all) + 1) * sizeof *v) : NULL;
    size_t n = 0, i;
    json_t *doc;
    if (v) {
        json_array_foreach(all, i, doc) if ((!f || !*f || filter_keeps(doc, ff && *ff ? ff : "name", f))
                                            && tags_keep(g->c.req, doc)) {
            v[n].doc = doc;
            v[n].idx = n;
            n++;
        }
        qsort(v, n, sizeof *v, cmp_sorted);
    }
    lg_answer(g, 200, v ? page_of(g, v, n, from, count) : NULL);
    free(v);
    json_decref(all);
}

/* ---- items ---- */

/* The application id as a document from the seed's applications (new
 * reference); NULL when out of memory or not found. */
static json_t *app_doc(sqlite3 *db, const char *id) {
    sqlite3_stmt *st = sb_prep(db, "SELECT name FROM losant_apps WHERE id = ?");
    json_t *doc = NULL;
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        doc = json_pack("{s:s, s:s, s:s?}", "id", id, "applicationId", id, "name",
                        (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return doc;
}

/* Adds or removes a made application in the table the token checks read; 0 or -1. */
static int app_row(sqlite3 *db, const char *id, const char *name, int add) {
    sqlite3_stmt *st = add ? sb_prep(db, "INSERT OR REPLACE INTO losant_apps (id, name) VALUES (?, ?)")
                           : sb_prep(db, "DELETE FROM losant_apps WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (add) sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

/* Checks every id in the path that names a document (404 when absent);
 * *item gets the last one's document when the path ends in it. 0, or -1
 * with an error answered. */
static int check_ids(const lg_call *g, json_t **item) {
    char coll[512], name[64];
    const char *s;
    size_t n;
    *item = NULL;
    for (int k = 1; k < g->nseg; k++) {
        if (!tmpl_seg(g->a->path, k, &s, &n) || *s != '{' || !creatable(g->a->path, k)) continue;
        json_t *doc = NULL;
        int found = coll_of(g, k, coll, sizeof coll) < 0 ? 0 : lg_doc_get(g->c.srv->db, coll, g->seg[k], &doc);
        if (found == 0 && k == 1 && !strcmp(g->seg[0], "applications")) { /* the seed's: ls_authorize found it */
            doc = app_doc(g->c.srv->db, g->seg[1]);
            found = doc ? 1 : -1;
        }
        if (found <= 0) {
            param_name(g->a->path, k, name);
            if (found == 0) lg_not_found(g, name);
            else ls_internal(g->c.res);
            json_decref(*item);
            *item = NULL;
            return -1;
        }
        json_decref(*item);
        *item = k == g->nseg - 1 ? doc : NULL;
        if (k != g->nseg - 1) json_decref(doc);
    }
    return 0;
}

/* The answer of a change or a removal: {"success": true} when the action
 * documents that schema, else doc (stolen). */
static void answer_doc(const lg_call *g, json_t *doc) {
    if (g->a->answer && !strcmp(g->a->answer, "success")) {
        json_decref(doc);
        doc = json_pack("{s:b}", "success", 1);
    }
    lg_answer(g, g->a->status, doc);
}

/* GET, PATCH (or PUT), DELETE of the document doc (stolen), id of coll. */
static void item_call(const lg_call *g, const char *coll, const char *id, json_t *doc) {
    sqlite3 *db = g->c.srv->db;
    int failed = 0;
    char now[32];
    if (!strcmp(g->a->method, "GET")) {
        lg_answer(g, g->a->status, doc);
        return;
    }
    if (!strcmp(g->a->method, "DELETE")) {
        if (lg_doc_delete(db, coll, id) < 0 || (!strcmp(coll, "applications") && app_row(db, id, NULL, 0) < 0)) {
            json_decref(doc);
            ls_internal(g->c.res);
        } else {
            answer_doc(g, doc);
        }
        return;
    }
    json_t *body = lg_checked_body(g, 1, &failed);
    sb_ls_iso((long long)(g->c.req->now * 1000.0), now);
    if (!failed && json_is_object(body)
        && (json_object_update(doc, body) < 0 || json_object_set_new(doc, "lastUpdated", json_string(now)) < 0
            || lg_doc_put(db, coll, id, doc) < 0))
        failed = -1;
    if (failed < 0) ls_internal(g->c.res);
    if (failed) json_decref(doc);
    else answer_doc(g, doc);
    json_decref(body);
}

/* POST on a collection: a new document with the body's members, 201. */
static void create_doc(const lg_call *g, const char *coll) {
    char id[25], now[32], param[64] = "id";
    int failed;
    json_t *body = lg_checked_body(g, 1, &failed), *doc;
    if (failed) return;
    doc = json_is_object(body) ? json_deep_copy(body) : json_object();
    lg_new_id(g->c.req->now, id);
    sb_ls_iso((long long)(g->c.req->now * 1000.0), now);
    item_param(g->a->path, param);
    failed = !doc || json_object_set_new(doc, "id", json_string(id)) < 0
             || json_object_set_new(doc, param, json_string(id)) < 0
             || (g->c.app && json_object_set_new(doc, "applicationId", json_string(g->c.app)) < 0)
             || json_object_set_new(doc, "creationDate", json_string(now)) < 0
             || json_object_set_new(doc, "lastUpdated", json_string(now)) < 0
             || lg_doc_put(g->c.srv->db, coll, id, doc) < 0
             || (!strcmp(coll, "applications") && app_row(g->c.srv->db, id, json_string_value(json_object_get(doc, "name")), 1) < 0);
    lg_answer(g, g->a->status, failed ? NULL : json_incref(doc));
    json_decref(doc);
    json_decref(body);
}

/* Any other action: its documented status with a minimal shape of its
 * schema ({"success": true}, [], an empty page, or the body's members and
 * the path's last id). */
static void generic_answer(const lg_call *g) {
    int failed = 0;
    const char *s;
    size_t n;
    json_t *body = g->a->upload ? NULL : lg_checked_body(g, 0, &failed), *doc;
    if (failed) return;
    if (g->a->answer && !strcmp(g->a->answer, "success")) doc = json_pack("{s:b}", "success", 1);
    else if (g->a->answer_array) doc = json_array();
    else if (g->a->paging != LS_NOPAGES) doc = json_pack("{s:[], s:i, s:i}", "items", "count", 0, "totalCount", 0);
    else doc = json_is_object(body) ? json_deep_copy(body) : json_object();
    if (doc && json_is_object(doc) && !json_object_get(doc, "id") && !json_object_get(doc, "success") && g->nseg > 1
        && tmpl_seg(g->a->path, g->nseg - 1, &s, &n) && *s == '{' && json_object_set_new(doc, "id", json_string(g->seg[g->nseg - 1])) < 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (g->a->status == 204 && doc) {
        json_decref(doc);
        sb_reply_empty(g->c.res, 204);
    } else {
        lg_answer(g, g->a->status, doc);
    }
    json_decref(body);
}

/* ---- routing ---- */

/* Runs the matched, authorized action. */
static void run_action(const lg_call *g) {
    char coll[512], here[512], param[64];
    json_t *item;
    if (check_ids(g, &item) < 0) return;
    if (coll_of(g, g->nseg - 1, coll, sizeof coll) < 0 || coll_of(g, g->nseg, here, sizeof here) < 0) {
        json_decref(item);
        lg_not_found(g, "path");
        return;
    }
    if (item) { /* the path ends in the id of a document (check_ids) */
        item_call(g, coll, g->seg[g->nseg - 1], item);
        return;
    }
    if (lg_stream_action(g, coll) || lg_upload_action(g) || lg_device_action(g, coll) || lg_data_action(g)) return;
    if (!strcmp(g->a->method, "POST") && item_param(g->a->path, param)) create_doc(g, here);
    else if (!strcmp(g->a->method, "GET") && (g->a->paging != LS_NOPAGES || item_param(g->a->path, param)))
        list_docs(g, here);
    else generic_answer(g);
}

/* 1 when one of the action's scopes is a .read one (the read scopes grant it). */
static int read_action(const ls_action *a) {
    for (const char *const *s = a->scopes; *s; s++)
        if (strlen(*s) > 5 && !strcmp(*s + strlen(*s) - 5, ".read")) return 1;
    return 0;
}

/* The action for the request (the most literal segments win) or NULL;
 * allow gets the methods of every matching path; *matched is set when one matched. */
static const ls_action *find_action(const sb_request *req, char *allow, size_t cap, int *matched) {
    const ls_action *best = NULL;
    int best_score = -1;
    *matched = 0;
    allow[0] = 0;
    for (const ls_action *a = LS_ACTIONS; a->name; a++) {
        if (handled_elsewhere(a)) continue;
        int score = tmpl_match(a->path, req);
        if (score < 0) continue;
        *matched = 1;
        if (!strstr(allow, a->method)) {
            size_t len = strlen(allow);
            snprintf(allow + len, cap - len, "%s%s%s", len ? ", " : "", a->method, !strcmp(a->method, "GET") ? ", HEAD" : "");
        }
        if (!strcmp(a->method, req->method) && score > best_score) {
            best = a;
            best_score = score;
        }
    }
    return best;
}

/* 1 when the request is an upload action (sandbox.h). */
int sb_losant_is_upload(const sb_request *req) {
    char allow[128];
    int matched;
    if (!req->seg || req->nseg < 1 || req->nseg > LG_MAX_SEG) return 0;
    const ls_action *a = find_action(req, allow, sizeof allow, &matched);
    return a && a->upload;
}

/* Answers any Losant action from LS_ACTIONS (losant.h). */
int ls_generic_route(sb_server *srv, const sb_request *req, sb_response *res) {
    char allow[128];
    int matched;
    enum sb_service svc = sb_service_of(req);
    if (!req->seg || req->nseg < 1 || req->nseg > LG_MAX_SEG || svc == SB_SERVICE_CONNECTDAILY || svc == SB_SERVICE_MONTEROSA)
        return 0;
    const ls_action *a = find_action(req, allow, sizeof allow, &matched);
    if (!matched) return 0;
    if (sb_rate_limited(srv, req, res)) {
        sb_reply_error(res, 429, "TooManyRequests", "More than %d requests per second", srv->rate_limit);
        return 1;
    }
    if (!a) {
        sb_reply_header(res, "Allow", allow);
        sb_reply_error(res, 405, "MethodNotAllowed", "%s is not allowed here", req->method);
        return 1;
    }
    lg_call g;
    memset(&g, 0, sizeof g);
    g.c.srv = srv;
    g.c.req = req;
    g.c.res = res;
    g.a = a;
    g.nseg = req->nseg;
    for (int i = 0; i < req->nseg; i++) /* ids match stored ones without regard to case */
        g.seg[i] = sb_is_hex24(req->seg[i]) ? ls_lower_id(req->seg[i], g.low[i]) : req->seg[i];
    if (req->nseg >= 2 && !strncmp(a->path, "/applications/{applicationId}", 29)) g.c.app = g.seg[1];
    if (*a->scopes && ls_authorize(&g.c, a->name, read_action(a)) < 0) return 1;
    run_action(&g);
    return 1;
}
