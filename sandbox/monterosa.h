/* eventapi-sandbox: what the files of the Monterosa service (monterosa.c:
 * routes and calls; monterosa_event.c: the event resource, checks,
 * storage, seed) share (docs/PROTOCOLS.md section 3). */
#ifndef EVENTAPI_SANDBOX_MONTEROSA_H
#define EVENTAPI_SANDBOX_MONTEROSA_H

#include "sandbox.h"

#define JSONAPI "application/vnd.api+json"
#define MAX_START_AT 253402300799LL /* 9999-12-31T23:59:59Z */
#define MAX_DURATION 2147483647LL   /* keeps start + duration far from overflow */
#define MAX_COUNT 100               /* largest page[count] */
#define DEFAULT_COUNT 25            /* page[count] when absent */

/* Validation errors collected before answering; count includes errors
 * that could not be added for lack of memory. */
typedef struct mr_errors {
    json_t *list;
    size_t count;
} mr_errors;

/* Answers a JSON:API error list with one error (an error: no commit). */
void mr_error(sb_response *res, int status, const char *title, const char *detail);
/* Adds one 422 error whose source is a JSON pointer ("pointer") or a query parameter ("parameter"). */
void mr_add_error(mr_errors *e, const char *where, const char *key, const char *detail);
/* Answers 422 with the collected errors (500 when some were lost to memory) and frees the list. */
void mr_unprocessable(sb_response *res, mr_errors *e);

/* Stores an event document; 0 or -1. */
int mr_store_event(sqlite3 *db, json_t *ev);
/* Loads an event by id (new reference) or NULL. */
json_t *mr_load_event(sqlite3 *db, const char *id);
/* 1 when a row matches sql with one text parameter. */
int mr_exists(sqlite3 *db, const char *sql, const char *value);

/* 1 when name is in the NULL-terminated list. */
int mr_listed(const char *const *list, const char *name);
/* 1 when every comma-separated item of csv is in allowed (no empty items). */
int mr_csv_valid(const char *csv, const char *const *allowed);
/* 1 when word is one of the comma-separated items of csv. */
int mr_csv_has(const char *csv, const char *word);
/* 1 when v is the string s. */
int mr_is_str(json_t *v, const char *s);

/* The writable attributes (action included). */
extern const char *const MR_WRITABLE[];
/* Checks attributes (all required ones when creating); adds 422 errors. */
void mr_check_attributes(json_t *attrs, int creating, mr_errors *errors);
/* The request's origin "http://host" for absolute links. */
void mr_origin(const sb_request *req, char *buf, size_t len);
/* The state of a stored event at time now. */
const char *mr_state_of(json_t *ev, double now);
/* Builds the JSON:API resource of a stored event (new reference; NULL on failure). */
json_t *mr_resource(const sb_request *req, json_t *ev);
/* Adds the included resources asked by include (stats, project) for events; 0, or -1 with the answer made. */
int mr_add_included(sb_server *srv, const sb_request *req, sb_response *res, json_t *doc, json_t *events);
/* 0 when include is absent or valid, else -1 with a 400 answered. */
int mr_check_include(const sb_request *req, sb_response *res);
/* Makes a stored event from attributes (already checked); NULL on failure. */
json_t *mr_new_event(json_t *attrs, const char *id, const char *project);

#endif
