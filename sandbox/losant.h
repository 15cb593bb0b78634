/* eventapi-sandbox: what the files of the Losant service (losant*.c) share
 * (docs/PROTOCOLS.md section 1). */
#ifndef EVENTAPI_SANDBOX_LOSANT_H
#define EVENTAPI_SANDBOX_LOSANT_H

#include "sandbox.h"

/* Advanced query limits (docs/PROTOCOLS.md 1.5). */
#define LQ_MAX_BYTES 65536 /* JSON text of one query */
#define LQ_MAX_VALUES 1000 /* scalars in one query: operator arguments, list items, tag keys and values */
#define LQ_MAX_DEPTH 32    /* nesting of $and, $or, $nor */
#define LQ_MAX_ITEMS 100   /* items of a logical list and of $in, $nin (the schema's maxItems) */
#define LQ_PATH_MAX 256    /* room for a path in a message */

extern const char *const SB_LEVELS[]; /* info, warning, error, critical: by severity */
extern const char *const SB_STATES[]; /* new, acknowledged, resolved */
/* Reads a creationDate in any form Event Post allows (an RFC 3339
 * date-time string, epoch milliseconds, {"$date": date-time}) into
 * out[32] as YYYY-MM-DDTHH:MM:SS.mmmZ in UTC; 0, or -1 when it is none of
 * them or outside the years 0 to 9999. */
int sb_ls_date(json_t *v, char *out);
/* Milliseconds since the epoch of an RFC 3339 date-time; 0 or -1. */
int sb_ls_date_ms(const char *s, long long *ms);
/* Writes ms since the epoch as YYYY-MM-DDTHH:MM:SS.mmmZ into out[32]. */
void sb_ls_iso(long long ms, char *out);

/* 1 when s is 24 hexadecimal characters (either case). */
int sb_is_hex24(const char *s);
/* 1 when s matches ^[0-9a-zA-Z_-]{1,255}$ (an event tag key). */
int sb_is_tag_key(const char *s);
/* Number of UTF-8 characters in s. */
long sb_utf8_length(const char *s);

/* Checks an advanced query against the Advanced Event Query schema and the
 * limits above; 0, or -1 with a message naming the problem. Nothing is
 * evaluated. */
int sb_lq_check(json_t *q, char *msg, size_t len);
/* Parses the JSON text of a query (duplicate names refused) and checks it:
 * 0 with *out a new reference, or 400 or 500 (out of memory) with msg. */
int sb_lq_parse(const char *text, size_t n, json_t **out, char *msg, size_t len);

/* One stored event as the query sees it (the SQL function sb_match fills
 * it from the row's columns): the text of each queryable field (NULL when
 * missing), dates read as epoch milliseconds once, the tags parsed once. */
#define LQ_NFIELDS 11 /* id, creationDate, lastUpdated, sourceId, sourceType, level, state, subject, deviceId,
                         experienceUserId, experienceGroupId */
extern const char *const LQ_FIELD_NAMES[LQ_NFIELDS]; /* in that order */

typedef struct lq_row {
    const char *text[LQ_NFIELDS];
    long long ms[LQ_NFIELDS];
    int ms_state[LQ_NFIELDS]; /* 0 not read, 1 a date, 2 no date */
    const char *tags_text;    /* eventTags as JSON text, or NULL */
    json_t *tags;             /* parsed from tags_text when a condition needs it; the caller frees it */
    int tags_done;
    int failed;               /* out of memory while parsing the tags */
} lq_row;

/* Evaluates a query checked by sb_lq_check against one event: 1 when it
 * matches, else 0 (docs/PROTOCOLS.md 1.5 says how values compare). Run in
 * C per row, not turned into SQL: SQLite's parser cannot nest expressions
 * as deep as a query may. */
int sb_lq_eval(json_t *q, lq_row *row);
/* The fields a checked query reads: bit f for lq_row's field f, bit
 * LQ_NFIELDS for eventTags (so only those columns are handed over). */
unsigned sb_lq_fields(json_t *q);

/* Losant's filter glob: 1 when s matches pat as a whole, '*' any run of
 * characters, '?' exactly one UTF-8 character, any other byte itself
 * (case-sensitive). */
int sb_glob_match(const char *pat, const char *s);

/* ---- lists (losant.c reads the params, losant_store.c runs them) ---- */

typedef struct sb_listing {
    int events;               /* events, else integrations */
    const char *state;        /* events only */
    const char *filter_field; /* the param's value, or its default */
    int field_given;          /* filterField was given (not blank): answers echo it only then */
    const char *filter;
    int overridden;           /* a query was given: state, filterField and filter are not applied */
    json_t *query;            /* events only; owned */
    const char *sort_field;
    int desc;
    long page, per_page;
} sb_listing;

/* ---- what every call reads (losant_params.c) ---- */

/* What a handler gets: the request, the answer, the application (lower
 * case) and the item segment (an id, lower case when 24 hex). */
typedef struct ls_call {
    sb_server *srv;
    const sb_request *req;
    sb_response *res;
    const char *app;
    const char *item;
} ls_call;

/* Which call's params a listing reads: each takes only the params Losant
 * documents for it (docs/PROTOCOLS.md 1.2, 1.4) and ignores the others. */
enum ls_listing_call { LS_EVENTS, LS_INTEGRATIONS, LS_PATCH, LS_SEVERITY, LS_DELETE };

/* Answers 500 for a storage failure or lack of memory. */
void ls_internal(sb_response *res);
/* Checks the bearer token (401), the scope of the call name (403; read:
 * the .read scopes grant it), the applicationId (400) and that the token
 * reaches the application (404), in that order (no application is
 * checked when c->app is NULL: actions outside /applications). 0 when the call may go
 * on, else -1 with the error answered. */
int ls_authorize(const ls_call *c, const char *name, int read);
/* Checks the query params call (its name: "events.get", ...) takes, and
 * _actions, _links, _embedded, which every call takes: each given at most
 * once, booleans (those three, includeWorkflows) true or false (blank
 * counts as absent); -1 with a 400 answered naming the param. The params
 * a call does not take are not looked at. */
int ls_check_params(const sb_request *req, sb_response *res, const char *call);
/* Reads the params of a list or bulk call into l; -1 with an error
 * answered. A query given as JSON text is checked whole against the schema
 * and the size limits before anything is evaluated. */
int ls_read_listing(const sb_request *req, sb_response *res, enum ls_listing_call which, sb_listing *l);
/* Parses the JSON body; NULL with an error answered (400/415, *failed
 * set). An empty body gives NULL without an error when allow_empty; a body
 * over max_len bytes is 400 without being parsed. */
json_t *ls_read_body(const ls_call *c, int allow_empty, size_t max_len, int *failed);
/* Reads and checks a body against Losant's published schema called schema
 * (lua/eventapi/schemas/losant/<schema>.json); NULL with an error answered. */
json_t *ls_checked_body(const ls_call *c, const char *schema);
/* 1 with the error answered (400 Validation naming what, the JSON pointer
 * and the rule; 500 when it could not tell) when the JSON text is not valid
 * under Losant's published schema called schema; else 0. */
int ls_schema_refuses(sb_response *res, const char *schema, const char *what, const char *text, size_t len);

/* ---- storage (losant_store.c) ---- */

/* Stores an event document: a new row when rid is 0 (*rid_out gets it),
 * else that row's columns and text. Its "updates" member is taken out of
 * doc; with with_updates its items become update rows. 0 or -1. */
int ls_event_store(sqlite3 *db, const char *app, json_t *doc, sqlite3_int64 rid, sqlite3_int64 *rid_out, int with_updates);
/* Appends one update row to an event; 0 or -1. */
int ls_event_add_update(sqlite3 *db, sqlite3_int64 rid, json_t *update);
/* Finds the event id of app: 1 with *rid (and *doc, without its updates,
 * when doc is not NULL), 0 when absent, -1 on failure. */
int ls_event_find(sqlite3 *db, const char *app, const char *id, sqlite3_int64 *rid, json_t **doc);
/* The document of the event rid without its updates (new reference), NULL when absent or on failure. */
json_t *ls_event_doc(sqlite3 *db, sqlite3_int64 rid);
/* Appends the whole event (by rid, or by app and id when rid is 0), its
 * updates included, as JSON text to out: 1, 0 when absent, -1 on failure. */
int ls_event_text(sqlite3 *db, const char *app, const char *id, sqlite3_int64 rid, sb_buf *out);
/* Deletes an event and its updates; 0 or -1. */
int ls_event_delete(sqlite3 *db, sqlite3_int64 rid);
/* Integrations: store as ls_event_store; find gives the rid and, when not
 * NULL, the document and/or its text appended to text; delete. */
int ls_integration_store(sqlite3 *db, const char *app, json_t *doc, sqlite3_int64 rid, sqlite3_int64 *rid_out);
int ls_integration_find(sqlite3 *db, const char *app, const char *id, sqlite3_int64 *rid, json_t **doc, sb_buf *text);
int ls_integration_delete(sqlite3 *db, sqlite3_int64 rid);
/* A list: counts the matches of l into *total and puts the rids of limit
 * of them from offset, in l's order (ties by id), into rids (*n of them).
 * 0 or -1. */
int ls_list(sqlite3 *db, const char *app, const sb_listing *l, long long offset, long limit, long long *total,
            sqlite3_int64 *rids, long *n);
/* Every matching event's rid in a new array (free it); 0 or -1. */
int ls_matches(sqlite3 *db, const char *app, const sb_listing *l, sqlite3_int64 **rids, long long *n);
/* Deletes every matching event and its updates, counting them; 0 or -1. */
int ls_delete_matches(sqlite3 *db, const char *app, const sb_listing *l, long long *removed);
/* The matching event first by severity, then latest creationDate, then
 * id (*rid 0 when none) and the number of matches; 0 or -1. */
int ls_most_severe(sqlite3 *db, const char *app, const sb_listing *l, sqlite3_int64 *rid, long long *count);
/* Appends the documents of rids as a JSON list to out; 0 or -1. */
int ls_items_text(sqlite3 *db, int events, const sqlite3_int64 *rids, long n, sb_buf *out);
/* Fill the server-owned fields of a new event or integration; 0 or -1. */
int ls_complete_event(json_t *ev, const char *app, const char *id, const char *now);
int ls_complete_integration(json_t *in, const char *app, const char *id, const char *now);
/* Writes the 24-hex id in lower case into buf[25] and returns buf. */
const char *ls_lower_id(const char *id, char *buf);

/* ---- every other Losant action (losant_actions.c, generated; losant_generic.c) ---- */

enum ls_paging { LS_NOPAGES, LS_PAGES, LS_OFFSET };

/* One action of the Losant API, as the library's rows name it. */
typedef struct ls_action {
    const char *name;               /* "device.get" */
    const char *method;             /* "GET", ... */
    const char *path;               /* "/applications/{applicationId}/devices/{deviceId}" */
    const char *const *scopes;      /* a token needs one of them; none (an empty list): no token needed */
    const char *body_schema;        /* the body's schema name, or NULL */
    int status;                     /* the success status */
    const char *answer;             /* its schema name, or NULL */
    int answer_array;               /* that schema is a list */
    enum ls_paging paging;
    int stream, upload;
} ls_action;

extern const ls_action LS_ACTIONS[]; /* ends with a NULL name */

/* Answers a Losant path that the events and integrations routes do not
 * take, from LS_ACTIONS: 1 when an action's path template matches (405
 * for a matching path with another method), 0 when none does. */
int ls_generic_route(sb_server *srv, const sb_request *req, sb_response *res);

/* What losant_generic.c and losant_device_data.c share. */
#define LG_MAX_SEG 16

/* A request matched to an action: its segments (24-hex ids in lower case). */
typedef struct lg_call {
    ls_call c;
    const ls_action *a;
    const char *seg[LG_MAX_SEG];
    char low[LG_MAX_SEG][25];
    int nseg;
} lg_call;

/* The store of every other resource: get gives 1 with *doc (new
 * reference), 0 when absent, -1 on failure; put stores doc as id of coll
 * (0 or -1); list gives every document of coll in the order they were
 * made (new list; NULL on failure). */
int lg_doc_get(sqlite3 *db, const char *coll, const char *id, json_t **doc);
int lg_doc_put(sqlite3 *db, const char *coll, const char *id, json_t *doc);
json_t *lg_doc_list(sqlite3 *db, const char *coll);
/* A new 24-hex id into buf[25] (under the service lock). */
void lg_new_id(double now, char *buf);
/* Answers doc (stolen) with status; 500 when doc is NULL. */
void lg_answer(const lg_call *g, int status, json_t *doc);
/* Answers 404 "<Name> was not found" for the id param ("deviceId"). */
void lg_not_found(const lg_call *g, const char *param);
/* An integer query param from min to max (def when absent); -1 with 400 answered. */
int lg_int_query(const lg_call *g, const char *name, long long min, long long max, long long def, long long *out);
/* The body checked against the action's schema: a new reference; NULL
 * with an error answered and *failed set; NULL without an error when the
 * body is empty and need is 0. */
json_t *lg_checked_body(const lg_call *g, int need, int *failed);
/* The device actions that keep data (losant_device_data.c): 1 when
 * g's action is one of them (answered), else 0. base is the request's
 * path without its last segment ("applications/<app>/devices/<id>"). */
int lg_device_action(const lg_call *g, const char *base);
/* data.lastValueQuery and data.timeSeriesQuery: 1 when answered, else 0. */
int lg_data_action(const lg_call *g);
/* The event streams (device.stateStream, device.commandStream,
 * application.mqttSubscriptionStream) and application.mqttPublishMessage
 * (losant_stream.c): 1 when g's action is one of them (answered), else 0;
 * base as for lg_device_action. */
int lg_stream_action(const lg_call *g, const char *base);
/* Sends doc (compact JSON) to the streams of channel (a device's state or
 * command collection, "applications/<app>/mqtt") whose filter takes topic
 * once the transaction commits; 0, or -1 when out of memory. */
int lg_publish(const char *channel, const char *topic, json_t *doc);
/* The upload actions (losant_upload.c): 1 when g's action is one (answered), else 0. */
int lg_upload_action(const lg_call *g);

#endif
