/* eventapi-sandbox: the Losant actions that keep device data (losant.h):
 * device.sendState and device.sendCommand keep each state or command as a
 * document of ".../devices/<id>/state" or ".../command" (losant_generic.c's
 * store), with its time; device.getState, device.getCommand,
 * device.getCompositeState, data.lastValueQuery and data.timeSeriesQuery
 * answer from them; devices.sendCommand keeps its command for every device
 * it names. Each kept state or command also goes to the device's event
 * streams (losant_stream.c). */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One kept state or command with its time in milliseconds. */
typedef struct timed {
    json_t *doc;
    long long ms;
    size_t idx;
} timed;

/* qsort's comparison: by time, then by the order they were kept. */
static int cmp_timed(const void *pa, const void *pb) {
    const timed *a = pa, *b = pb;
    if (a->ms != b->ms) return a->ms < b->ms ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The kept entries of coll ordered by time: *list keeps the documents
 * (the caller frees it and the returned array); NULL when out of memory. */
static timed *by_time(sqlite3 *db, const char *coll, json_t **list, size_t *n) {
    size_t i;
    json_t *doc;
    *n = 0;
    *list = lg_doc_list(db, coll);
    timed *v = *list ? malloc((json_array_size(*list) + 1) * sizeof *v) : NULL;
    if (!v) {
        json_decref(*list);
        *list = NULL;
        return NULL;
    }
    json_array_foreach(*list, i, doc) {
        v[i].doc = doc;
        v[i].idx = i;
        v[i].ms = 0;
        sb_ls_date_ms(json_string_value(json_object_get(doc, "time")), &v[i].ms);
    }
    *n = json_array_size(*list);
    qsort(v, *n, sizeof *v, cmp_timed);
    return v;
}

/* The entry kept for one state or command of a body: its members, the
 * time as an ISO date (now when absent); NULL when out of memory or the
 * time is not a date (*bad set). */
static json_t *entry_of(json_t *item, double now, int *bad) {
    char when[32];
    json_t *t = json_object_get(item, "time");
    *bad = 0;
    if (t && sb_ls_date(t, when) < 0) {
        *bad = 1;
        return NULL;
    }
    if (!t) sb_ls_iso((long long)(now * 1000.0), when);
    json_t *e = json_deep_copy(item);
    if (e && json_object_set_new(e, "time", json_string(when)) < 0) {
        json_decref(e);
        e = NULL;
    }
    return e;
}

/* POST .../state or .../command: keeps each item of the body (one object
 * or a list of them) in coll; {"success": true}. */
static void send_entries(const lg_call *g, const char *coll) {
    int failed, bad = 0;
    json_t *body = lg_checked_body(g, 1, &failed), *item;
    size_t i;
    if (failed) return;
    json_t *items = json_is_array(body) ? json_incref(body) : json_pack("[O]", body);
    failed = !items;
    json_array_foreach(items, i, item) {
        char id[25];
        json_t *e = failed ? NULL : entry_of(item, g->c.req->now, &bad);
        lg_new_id(g->c.req->now, id);
        if (!e || lg_doc_put(g->c.srv->db, coll, id, e) < 0 || lg_publish(coll, NULL, e) < 0) failed = 1;
        json_decref(e);
        if (failed) break;
    }
    if (bad) sb_reply_error(g->c.res, 400, "Validation", "time must be a date-time, epoch milliseconds or {\"$date\": date-time}");
    else lg_answer(g, g->a->status, failed ? NULL : json_pack("{s:b}", "success", 1));
    json_decref(items);
    json_decref(body);
}

/* GET .../state or .../command: the limit (default 1) latest entries at
 * or after since, oldest first (sortDirection asc, the default) or newest
 * first. */
static void get_entries(const lg_call *g, const char *coll) {
    long long limit, since;
    size_t n, first;
    json_t *list, *out = NULL;
    const char *dir = sb_query_get(g->c.req, "sortDirection");
    if (dir && *dir && strcmp(dir, "asc") && strcmp(dir, "desc")) {
        sb_reply_error(g->c.res, 400, "Validation", "sortDirection must be asc or desc");
        return;
    }
    if (lg_int_query(g, "limit", 1, 1000, 1, &limit) < 0 || lg_int_query(g, "since", 0, 1LL << 53, 0, &since) < 0) return;
    timed *v = by_time(g->c.srv->db, coll, &list, &n);
    if (v) out = json_array();
    for (first = 0; first < n && v[first].ms < since; first++) continue;
    if (n - first > (size_t)limit) first = n - (size_t)limit;
    int desc = dir && !strcmp(dir, "desc");
    for (size_t k = first; out && k < n; k++)
        if ((desc ? json_array_insert(out, 0, v[k].doc) : json_array_append(out, v[k].doc)) < 0) {
            json_decref(out);
            out = NULL;
        }
    lg_answer(g, g->a->status, out);
    free(v);
    json_decref(list);
}

/* 1 when attr is named in the comma-separated list (NULL or "" names every one). */
static int named(const char *list, const char *attr) {
    size_t n = strlen(attr);
    if (!list || !*list) return 1;
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, attr, n) && (p[n] == ',' || !p[n])) return 1;
    return 0;
}

/* The latest value and time of each attribute (of attrs) in the entries
 * v[0..n) between start and end ms (0: no bound) as {attr: {value,
 * time}} into out; *latest gets the latest time. 0 or -1 (out of memory). */
static int latest_values(timed *v, size_t n, long long start, long long end, const char *attrs, json_t *out,
                         long long *latest) {
    *latest = -1;
    for (size_t k = 0; k < n; k++) {
        const char *key;
        json_t *value, *data = json_object_get(v[k].doc, "data"), *time = json_object_get(v[k].doc, "time");
        if ((start && v[k].ms < start) || (end && v[k].ms > end)) continue;
        json_object_foreach(data, key, value) {
            if (!named(attrs, key)) continue;
            if (json_object_set_new(out, key, json_pack("{s:O, s:O}", "value", value, "time", time)) < 0) return -1;
            *latest = v[k].ms;
        }
    }
    return 0;
}

/* GET .../compositeState: {attr: {value, time}} of the latest values. */
static void composite(const lg_call *g, const char *coll) {
    long long start, end, latest;
    size_t n;
    json_t *list, *out = NULL;
    if (lg_int_query(g, "start", 0, 1LL << 53, 0, &start) < 0 || lg_int_query(g, "end", 0, 1LL << 53, 0, &end) < 0) return;
    timed *v = by_time(g->c.srv->db, coll, &list, &n);
    if (v && (out = json_object()) && latest_values(v, n, start, end, sb_query_get(g->c.req, "attributes"), out, &latest) < 0) {
        json_decref(out);
        out = NULL;
    }
    lg_answer(g, g->a->status, out);
    free(v);
    json_decref(list);
}

/* The device actions that keep data (losant.h). */
int lg_device_action(const lg_call *g, const char *base) {
    char coll[600];
    const char *name = g->a->name;
    int state = !strcmp(name, "device.sendState") || !strcmp(name, "device.getState")
                || !strcmp(name, "device.getCompositeState");
    if (!state && strcmp(name, "device.sendCommand") && strcmp(name, "device.getCommand")) return 0;
    snprintf(coll, sizeof coll, "%s/%s", base, state ? "state" : "command");
    if (!strncmp(name, "device.send", 11)) send_entries(g, coll);
    else if (!strcmp(name, "device.getCompositeState")) composite(g, coll);
    else get_entries(g, coll);
    return 1;
}

/* ---- data queries ---- */

/* 1 when the device doc is one the query's deviceIds names (all when none). */
static int query_takes(json_t *query, json_t *device) {
    json_t *ids = json_object_get(query, "deviceIds"), *id;
    size_t i;
    const char *mine = json_string_value(json_object_get(device, "id"));
    if (!json_is_array(ids) || !json_array_size(ids)) return 1;
    json_array_foreach(ids, i, id) if (json_is_string(id) && mine && !strcasecmp(json_string_value(id), mine)) return 1;
    return 0;
}

/* One device's answer of a data query into out; 0 or -1 (out of memory). */
typedef int (*device_answer)(json_t *query, json_t *device, timed *v, size_t n, double now, json_t *out);

/* lastValueQuery: {deviceId: {time, data: {attr: value}}} for devices with values. */
static int last_value(json_t *query, json_t *device, timed *v, size_t n, double now, json_t *out) {
    long long latest;
    char when[32];
    const char *key;
    json_t *values = json_object(), *data = json_object(), *val;
    (void)now;
    int rc = values && data ? latest_values(v, n, 0, 0, json_string_value(json_object_get(query, "attribute")), values, &latest) : -1;
    json_object_foreach(values, key, val) if (rc == 0 && json_object_set(data, key, json_object_get(val, "value")) < 0) rc = -1;
    if (rc == 0 && latest >= 0) {
        sb_ls_iso(latest, when);
        rc = json_object_set_new(out, json_string_value(json_object_get(device, "id")),
                                 json_pack("{s:s, s:O}", "time", when, "data", data));
    }
    json_decref(values);
    json_decref(data);
    return rc < 0 ? -1 : 0;
}

/* A query member as milliseconds (def when absent or not a number). */
static long long ms_of(json_t *query, const char *name, long long def) {
    json_t *v = json_object_get(query, name);
    return json_is_number(v) ? (long long)json_number_value(v) : def;
}

/* The window of a time series query: end (0: now), start (negative:
 * before end; 0: end - duration, a day by default). */
static void window(json_t *query, double now, long long *start, long long *end) {
    *end = ms_of(query, "end", 0);
    if (*end <= 0) *end = (long long)(now * 1000.0) + *end;
    *start = ms_of(query, "start", 0);
    if (*start < 0) *start = *end + *start;
    else if (*start == 0) *start = *end - ms_of(query, "duration", 86400000);
}

/* timeSeriesQuery: out.devices[id] = {name, points: [{time, data}]} of the
 * kept states in the window, raw (not aggregated). */
static int time_series(json_t *query, json_t *device, timed *v, size_t n, double now, json_t *out) {
    long long start, end;
    const char *key;
    json_t *names = json_object_get(query, "attributes"), *points = json_array(), *val;
    window(query, now, &start, &end);
    int rc = points ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        json_t *data = json_object();
        if (v[k].ms < start || v[k].ms > end) {
            json_decref(data);
            continue;
        }
        json_object_foreach(json_object_get(v[k].doc, "data"), key, val) {
            int keep = !json_is_array(names) || !json_array_size(names);
            size_t i;
            json_t *a;
            json_array_foreach(names, i, a) keep |= json_is_string(a) && !strcmp(json_string_value(a), key);
            if (keep && data && json_object_set(data, key, val) < 0) rc = -1;
        }
        if (!data || json_array_append_new(points, json_pack("{s:O, s:o}", "time", json_object_get(v[k].doc, "time"), "data", data)) < 0)
            rc = -1;
    }
    const char *id = json_string_value(json_object_get(device, "id")), *name = json_string_value(json_object_get(device, "name"));
    if (rc == 0 && json_object_set_new(json_object_get(out, "devices"), id, json_pack("{s:s, s:O}", "name", name ? name : id, "points", points)) < 0)
        rc = -1;
    json_decref(points);
    return rc;
}

/* Runs answer over every device of the application the query takes; 0 or -1. */
static int each_device(const lg_call *g, json_t *query, device_answer answer, json_t *out) {
    char coll[64], states[128];
    size_t i, n;
    json_t *device, *list;
    snprintf(coll, sizeof coll, "applications/%s/devices", g->c.app);
    json_t *devices = lg_doc_list(g->c.srv->db, coll);
    int rc = devices ? 0 : -1;
    json_array_foreach(devices, i, device) {
        const char *id = json_string_value(json_object_get(device, "id"));
        if (rc < 0 || !id || !query_takes(query, device)) continue;
        snprintf(states, sizeof states, "%s/%s/state", coll, id);
        timed *v = by_time(g->c.srv->db, states, &list, &n);
        rc = v ? answer(query, device, v, n, g->c.req->now, out) : -1;
        free(v);
        json_decref(list);
    }
    json_decref(devices);
    return rc;
}

/* The answer frame of a time series query (with its window); NULL when out of memory. */
static json_t *series_frame(json_t *query, double now) {
    long long start, end;
    char s[32], e[32];
    json_t *agg = json_object_get(query, "aggregation"), *res = json_object_get(query, "resolution");
    window(query, now, &start, &end);
    sb_ls_iso(start, s);
    sb_ls_iso(end, e);
    json_t *f = json_pack("{s:s, s:s, s:{}}", "start", s, "end", e, "devices");
    if (f && (json_object_set_new(f, "resolution", json_is_number(res) ? json_incref(res) : json_integer(300000)) < 0
              || json_object_set_new(f, "aggregation", agg ? json_incref(agg) : json_string("MEAN")) < 0)) {
        json_decref(f);
        f = NULL;
    }
    return f;
}

/* 1 when device holds every key/value pair of the list tags (all when it is not a list). */
static int tags_take(json_t *tags, json_t *device) {
    size_t i, j;
    json_t *want, *tag;
    json_array_foreach(tags, i, want) {
        int found = 0;
        json_array_foreach(json_object_get(device, "tags"), j, tag) {
            json_t *k = json_object_get(want, "key"), *v = json_object_get(want, "value");
            found = found || ((!k || json_equal(k, json_object_get(tag, "key")))
                              && (!v || json_equal(v, json_object_get(tag, "value"))));
        }
        if (!found) return 0;
    }
    return 1;
}

/* devices.sendCommand: the command (name, payload, time) kept for every
 * device of the application that deviceIds names and that holds every pair
 * of deviceTags; {"success": true}. */
static void send_to_devices(const lg_call *g) {
    int failed, bad = 0;
    char coll[64], commands[128], id[25];
    size_t i;
    json_t *body = lg_checked_body(g, 1, &failed), *device, *devices = NULL, *e = NULL;
    if (failed) return;
    snprintf(coll, sizeof coll, "applications/%s/devices", g->c.app);
    static const char *const KEPT[] = {"name", "payload", "time"};
    json_t *command = json_object();
    for (int k = 0; k < 3 && command; k++) {
        json_t *v = json_object_get(body, KEPT[k]);
        if (v && json_object_set(command, KEPT[k], v) < 0) {
            json_decref(command);
            command = NULL;
        }
    }
    failed = !command || !(devices = lg_doc_list(g->c.srv->db, coll));
    json_array_foreach(devices, i, device) {
        const char *did = json_string_value(json_object_get(device, "id"));
        if (failed || !did || !query_takes(body, device) || !tags_take(json_object_get(body, "deviceTags"), device))
            continue;
        e = entry_of(command, g->c.req->now, &bad);
        snprintf(commands, sizeof commands, "%s/%s/command", coll, did);
        lg_new_id(g->c.req->now, id);
        if (!e || lg_doc_put(g->c.srv->db, commands, id, e) < 0 || lg_publish(commands, NULL, e) < 0) failed = 1;
        json_decref(e);
        if (bad) break;
    }
    if (bad) sb_reply_error(g->c.res, 400, "Validation", "time must be a date-time, epoch milliseconds or {\"$date\": date-time}");
    else lg_answer(g, g->a->status, failed ? NULL : json_pack("{s:b}", "success", 1));
    json_decref(devices);
    json_decref(command);
    json_decref(body);
}

/* data.lastValueQuery, data.timeSeriesQuery and devices.sendCommand (losant.h). */
int lg_data_action(const lg_call *g) {
    if (!strcmp(g->a->name, "devices.sendCommand")) {
        send_to_devices(g);
        return 1;
    }
    int last = !strcmp(g->a->name, "data.lastValueQuery"), failed;
    if (!last && strcmp(g->a->name, "data.timeSeriesQuery")) return 0;
    json_t *query = lg_checked_body(g, 1, &failed);
    if (failed) return 1;
    json_t *out = last ? json_object() : series_frame(query, g->c.req->now);
    if (out && each_device(g, query, last ? last_value : time_series, out) < 0) {
        json_decref(out);
        out = NULL;
    }
    lg_answer(g, g->a->status, out);
    json_decref(query);
    return 1;
}
