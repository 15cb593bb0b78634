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

#endif
