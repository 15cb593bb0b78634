/* eventapi-sandbox: Connect Daily's event document (docs/PROTOCOLS.md
 * 2.4 to 2.6): dates and Julian Day Numbers, the checks of an event,
 * recurrence, storage and the seed. */
#include "connectdaily.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JDN_MIN 1721426L /* 0001-01-01 */
#define JDN_MAX 5373484L /* 9999-12-31 */
#define MAX_ID 9007199254740991LL /* 2^53 - 1: ids stay exact in any JSON reader */

/* ---- dates ---- */

/* Julian Day Number of a proleptic Gregorian date. */
static long to_jdn(long y, long m, long d) {
    long a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
    return d + (153 * mm + 2) / 5 + 365 * yy + yy / 4 - yy / 100 + yy / 400 - 32045;
}

/* Splits a Julian Day Number into year, month, day. */
static void from_jdn(long j, long *y, long *m, long *d) {
    long a = j + 32044, b = (4 * a + 3) / 146097, c = a - 146097 * b / 4;
    long dd = (4 * c + 3) / 1461, e = c - 1461 * dd / 4, mm = (5 * e + 2) / 153;
    *d = e - (153 * mm + 2) / 5 + 1;
    *m = mm + 3 - 12 * (mm / 10);
    *y = 100 * b + dd - 4800 + mm / 10;
}

/* Days in a month of the proleptic Gregorian calendar. */
static int month_days(long y, long m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* Parses "yyyy-mm-dd" into a JDN (connectdaily.h). */
long cd_parse_date(const char *s) {
    long y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return -1;
    if (sscanf(s, "%4ld-%2ld-%2ld%c", &y, &m, &d, &tail) != 3) return -1;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m)) return -1;
    return to_jdn(y, m, d);
}

/* Reads a JDN (an integer, or a string of digits: "2461380") or a
 * yyyy-mm-dd string; -1 when neither. */
static long date_value(json_t *v) {
    json_int_t j = -1;
    if (json_is_integer(v)) {
        j = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strspn(s, "0123456789");
        if (n == 0 || s[n] || n > 7) return cd_parse_date(s);
        j = strtol(s, NULL, 10);
    }
    return j >= JDN_MIN && j <= JDN_MAX ? (long)j : -1;
}

/* Reads a version (connectdaily.h). */
int cd_version_value(json_t *v, json_int_t *out) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x != x || x < -9e15 || x > 9e15 || x != (double)(json_int_t)x) return -1;
        *out = (json_int_t)x;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strspn(s, "0123456789");
        if (n == 0 || s[n] || n > 15) return -1;
        *out = (json_int_t)strtoll(s, NULL, 10);
        return 0;
    }
    return -1;
}

/* 1 when s is "HH:MM". */
static int is_time(const char *s) {
    return strlen(s) == 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == ':'
           && isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) && atoi(s) < 24 && atoi(s + 3) < 60;
}

/* ---- storage ---- */

/* Creates the Connect Daily tables. */
int sb_connectdaily_schema(sqlite3 *db) {
    return sb_exec(db,
                          "CREATE TABLE IF NOT EXISTS cd_calendars (id INTEGER PRIMARY KEY, name TEXT);"
                          "CREATE TABLE IF NOT EXISTS cd_credentials (kind TEXT, name TEXT, secret TEXT, perms TEXT,"
                          " PRIMARY KEY (kind, name));"
                          "CREATE TABLE IF NOT EXISTS cd_events (id INTEGER PRIMARY KEY, guid TEXT UNIQUE, doc TEXT);"
                          "CREATE TABLE IF NOT EXISTS cd_meta (key TEXT PRIMARY KEY, value INTEGER);");
}

/* Stores an event document (connectdaily.h). */
int cd_store_event(sqlite3 *db, json_t *ev) {
    sqlite3_stmt *st;
    char *text = sb_dump(ev, JSON_COMPACT);
    int rc = -1;
    if (!text) return -1;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO cd_events VALUES (?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(ev, "cal_item_id")));
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(ev, "itemguid")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    free(text);
    return rc;
}

/* Loads the event of a path segment (connectdaily.h). */
json_t *cd_load_event(sqlite3 *db, const char *address) {
    sqlite3_stmt *st;
    json_t *doc = NULL;
    int by_guid = strncmp(address, "itemguid=", 9) == 0;
    char *end;
    long long id = 0;
    if (!by_guid) {
        if (*address < '0' || *address > '9') return NULL; /* no sign, no blanks */
        id = strtoll(address, &end, 10);
        if (*end || id <= 0) return NULL;
    }
    if (sqlite3_prepare_v2(db, by_guid ? "SELECT doc FROM cd_events WHERE guid = ?" : "SELECT doc FROM cd_events WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (by_guid) sqlite3_bind_text(st, 1, address + 9, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    return doc;
}

/* Loads the event with itemguid guid; NULL when absent. */
static json_t *load_guid(sqlite3 *db, const char *guid) {
    char address[128];
    if (strlen(guid) >= sizeof address - 9) return NULL;
    snprintf(address, sizeof address, "itemguid=%s", guid);
    return cd_load_event(db, address);
}

/* Claims a new cal_item_id (connectdaily.h). */
json_int_t cd_next_id(sqlite3 *db) {
    sqlite3_stmt *st;
    json_int_t id = -1;
    if (sqlite3_prepare_v2(db, "SELECT MAX(COALESCE((SELECT MAX(id) FROM cd_events), 0),"
                               " COALESCE((SELECT value FROM cd_meta WHERE key = 'last_id'), 0))",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (id < 0 || id >= MAX_ID) return -1;
    id++;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO cd_meta VALUES ('last_id', ?)", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) id = -1;
    sqlite3_finalize(st);
    return id;
}


/* Checks a date list; returns a new array of JDNs or NULL when an item is bad (or memory ran out). */
static json_t *date_list(json_t *v) {
    size_t i;
    json_t *item, *out = json_array();
    if (!out) return NULL;
    if (!v || json_is_null(v)) return out;
    if (!json_is_array(v)) {
        json_decref(out);
        return NULL;
    }
    json_array_foreach(v, i, item) {
        long j = date_value(item);
        if (j < 0) {
            json_decref(out);
            return NULL;
        }
        if (json_array_append_new(out, json_integer(j)) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Builds a clean event from a request body (connectdaily.h). */
json_t *cd_normalize(json_t *in, char *msg, size_t len) {
    json_t *cal, *desc, *ld, *st, *et, *rec, *exc, *out;
    long start, end;
    if (!json_is_object(in)) {
        snprintf(msg, len, "The event must be a JSON object");
        return NULL;
    }
    cal = json_object_get(in, "calendar_id");
    desc = json_object_get(in, "description");
    ld = json_object_get(in, "long_description");
    st = json_object_get(in, "starting_time");
    et = json_object_get(in, "ending_time");
    rec = json_object_get(in, "rec_type");
    if (!json_is_integer(cal)) return snprintf(msg, len, "calendar_id must be an integer"), NULL;
    if (!json_is_string(desc) || !*json_string_value(desc))
        return snprintf(msg, len, "description must be a non-empty string"), NULL;
    if (ld && !json_is_null(ld) && !json_is_string(ld))
        return snprintf(msg, len, "long_description must be a string"), NULL;
    start = date_value(json_object_get(in, "starting_date"));
    if (start < 0) return snprintf(msg, len, "starting_date must be a Julian Day Number or a real yyyy-mm-dd date"), NULL;
    end = json_object_get(in, "ending_date") && !json_is_null(json_object_get(in, "ending_date"))
              ? date_value(json_object_get(in, "ending_date"))
              : start;
    if (end < 0) return snprintf(msg, len, "ending_date must be a Julian Day Number or a real yyyy-mm-dd date"), NULL;
    if (end < start) return snprintf(msg, len, "ending_date is before starting_date"), NULL;
    if (st && !json_is_null(st) && !(json_is_string(st) && is_time(json_string_value(st))))
        return snprintf(msg, len, "starting_time must be HH:MM or null"), NULL;
    if (et && !json_is_null(et) && !(json_is_string(et) && is_time(json_string_value(et))))
        return snprintf(msg, len, "ending_time must be HH:MM or null"), NULL;
    /* the manual: 3 is a one-time event and any other value, 0 included, a recurring one; the sandbox
       knows the patterns 0 to 2 and keeps any other integer as a series of unknown pattern (2.6) */
    if (rec && !(json_is_integer(rec) && json_integer_value(rec) >= INT32_MIN && json_integer_value(rec) <= INT32_MAX))
        return snprintf(msg, len, "rec_type must be an integer (3: one time; any other value: recurring)"), NULL;
    exc = date_list(json_object_get(in, "exceptions"));
    if (!exc) return snprintf(msg, len, "exceptions must be a list of dates"), NULL;
    out = json_pack("{s:O, s:O, s:O, s:I, s:I, s:O, s:O, s:I, s:o}", "calendar_id", cal, "description", desc,
                    "long_description", ld ? ld : json_null(), "starting_date", (json_int_t)start, "ending_date",
                    (json_int_t)end, "starting_time", st ? st : json_null(), "ending_time", et ? et : json_null(),
                    "rec_type", rec ? json_integer_value(rec) : (json_int_t)3, "exceptions", exc);
    if (!out) snprintf(msg, len, "out of memory");
    return out;
}

/* 1 when a calendar exists (connectdaily.h). */
int cd_calendar_exists(sqlite3 *db, json_int_t id) {
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM cd_calendars WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    return found;
}

/* 1 when the series ev occurs on day j (connectdaily.h): rec_type 0
 * daily, 1 weekly, 2 monthly, 3 never (one time); any other value is a
 * series whose pattern the sandbox does not know, taken to occur on every
 * day of its range, so a fork of any day in range is accepted. */
int cd_occurs_on(json_t *ev, long j) {
    json_int_t rec = json_integer_value(json_object_get(ev, "rec_type"));
    long start = (long)json_integer_value(json_object_get(ev, "starting_date"));
    long end = (long)json_integer_value(json_object_get(ev, "ending_date"));
    size_t i;
    json_t *x;
    if (rec == 3 || j < start || j > end) return 0;
    json_array_foreach(json_object_get(ev, "exceptions"), i, x) if (json_integer_value(x) == j) return 0;
    if (rec != 1 && rec != 2) return 1; /* daily, or a pattern not known to the sandbox */
    if (rec == 1) return (j - start) % 7 == 0;
    long y1, m1, d1, y2, m2, d2;
    from_jdn(start, &y1, &m1, &d1);
    from_jdn(j, &y2, &m2, &d2);
    return d1 == d2;
}

/* ---- seed ---- */

/* 1 when perms is absent or an object mapping calendar ids to "read" or "write". */
static int valid_perms(json_t *perms) {
    const char *key;
    json_t *v;
    if (!perms) return 1;
    if (!json_is_object(perms)) return 0;
    json_object_foreach(perms, key, v) if (!json_is_string(v) || (strcmp(json_string_value(v), "read") && strcmp(json_string_value(v), "write"))) return 0;
    return 1;
}

/* Stores one credential row (user or token) with its calendar permissions. */
static int seed_credential(sqlite3 *db, const char *kind, const char *name, const char *secret, json_t *perms) {
    sqlite3_stmt *st;
    char *p = perms ? sb_dump(perms, JSON_COMPACT) : strdup("{}");
    int rc = -1;
    if (!p) return -1;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO cd_credentials VALUES (?, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, secret, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    free(p);
    return rc;
}

/* Loads calendars, users, tokens and events of the seed's connectdaily section. */
int sb_connectdaily_seed(sb_server *srv, json_t *seed, char *err, size_t errlen) {
    json_t *cd = json_object_get(seed, "connectdaily"), *item;
    size_t i;
    char msg[256];
    if (!cd) return 0;
    json_array_foreach(json_object_get(cd, "calendars"), i, item) {
        sqlite3_stmt *st;
        if (!json_is_integer(json_object_get(item, "calendar_id"))) {
            snprintf(err, errlen, "connectdaily.calendars[%zu].calendar_id must be an integer", i);
            return -1;
        }
        if (sqlite3_prepare_v2(srv->db, "INSERT OR REPLACE INTO cd_calendars VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(item, "calendar_id")));
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(item, "name")), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    json_array_foreach(json_object_get(cd, "users"), i, item) {
        const char *user = json_string_value(json_object_get(item, "user"));
        const char *password = json_string_value(json_object_get(item, "password"));
        json_t *perms = json_object_get(item, "calendars");
        if (!user || !password || !valid_perms(perms) || seed_credential(srv->db, "user", user, password, perms) < 0) {
            snprintf(err, errlen, "connectdaily.users[%zu] needs user, password and calendars {\"<id>\": \"read\"|\"write\"}", i);
            return -1;
        }
    }
    json_array_foreach(json_object_get(cd, "tokens"), i, item) {
        const char *token = json_string_value(json_object_get(item, "token"));
        json_t *perms = json_object_get(item, "calendars");
        if (!token || !valid_perms(perms) || seed_credential(srv->db, "token", token, "", perms) < 0) {
            snprintf(err, errlen, "connectdaily.tokens[%zu] needs token and calendars {\"<id>\": \"read\"|\"write\"}", i);
            return -1;
        }
    }
    json_array_foreach(json_object_get(cd, "events"), i, item) {
        json_t *ev = cd_normalize(item, msg, sizeof msg), *id = json_object_get(item, "cal_item_id");
        if (!ev || !json_is_integer(id) || json_integer_value(id) < 1 || json_integer_value(id) > MAX_ID) {
            snprintf(err, errlen, "connectdaily.events[%zu]: %s", i, ev ? "cal_item_id must be an integer from 1 to 2^53-1" : msg);
            json_decref(ev);
            return -1;
        }
        char guid[37], address[64];
        json_t *g = json_object_get(item, "itemguid"), *old;
        if (!json_is_string(g)) sb_uuid(guid);
        snprintf(address, sizeof address, "%lld", (long long)json_integer_value(id));
        old = cd_load_event(srv->db, address);
        if (!old && json_is_string(g)) old = load_guid(srv->db, json_string_value(g));
        int rc = old || json_object_set(ev, "cal_item_id", id)
                         || json_object_set_new(ev, "itemguid", json_string(json_is_string(g) ? json_string_value(g) : guid))
                         || json_object_set_new(ev, "version", json_integer(1))
                         || (json_is_true(json_object_get(item, "locked")) && json_object_set_new(ev, "locked", json_true()))
                     ? -1 : cd_store_event(srv->db, ev);
        json_decref(ev);
        if (rc < 0) {
            snprintf(err, errlen, "connectdaily.events[%zu] %s", i, old ? "repeats the cal_item_id or itemguid of an earlier event" : "cannot be stored");
            json_decref(old);
            return -1;
        }
    }
    return 0;
}
