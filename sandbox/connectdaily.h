/* eventapi-sandbox: what the files of the Connect Daily service
 * (connectdaily.c: routes and calls; connectdaily_event.c: the event
 * document, dates, storage, seed) share (docs/PROTOCOLS.md section 2). */
#ifndef EVENTAPI_SANDBOX_CONNECTDAILY_H
#define EVENTAPI_SANDBOX_CONNECTDAILY_H

#include "sandbox.h"

/* Parses "yyyy-mm-dd" into a JDN; -1 when it is not a real date in 1..9999. */
long cd_parse_date(const char *s);
/* Reads a version: an integer, an integral real (1.0) or a string of
 * digits ("1"); 0 with *out set, or -1 when it is none of them (then the
 * conflict check is skipped). */
int cd_version_value(json_t *v, json_int_t *out);
/* Builds a clean event from a request body: JDN dates, checked fields.
 * Returns a new object, or NULL with msg set. */
json_t *cd_normalize(json_t *in, char *msg, size_t len);
/* 1 when the series ev occurs on day j. */
int cd_occurs_on(json_t *ev, long j);
/* Stores an event document under its cal_item_id and itemguid; 0 or -1. */
int cd_store_event(sqlite3 *db, json_t *ev);
/* Loads the event addressed by a path segment (a positive integer, or
 * itemguid=...); NULL when absent. */
json_t *cd_load_event(sqlite3 *db, const char *address);
/* Claims a new cal_item_id, never one used before (deleted ids included); -1 on failure. */
json_int_t cd_next_id(sqlite3 *db);
/* 1 when a calendar exists. */
int cd_calendar_exists(sqlite3 *db, json_int_t id);

#endif
