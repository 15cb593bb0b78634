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

/* Body validation (losant_schema.c): a table of fields per schema. */
enum sb_kind { K_STR, K_ENUM, K_HEX24, K_ANY, K_TAGS, K_BOOL, K_NUM, K_STRARRAY, K_OBJ, K_DATE };

typedef struct sb_field {
    const char *name;
    enum sb_kind kind;
    int required;
    long min, max;                /* lengths for strings, bounds for numbers */
    const char *const *values;    /* K_ENUM */
    const struct sb_field *sub;   /* K_OBJ */
} sb_field;

extern const char *const SB_LEVELS[]; /* info, warning, error, critical: by severity */
extern const char *const SB_STATES[]; /* new, acknowledged, resolved */
extern const sb_field SB_EVENT_POST[], SB_EVENT_PATCH[], SB_INTEGRATION_POST[], SB_INTEGRATION_PATCH[];

/* Checks a body object against a field table: required members, types,
 * enums, lengths, patterns, no unknown members; 0, or -1 with the first
 * failure in msg naming the member (mqttConfig.port must be ...). */
int sb_ls_check(const sb_field *fields, json_t *obj, char *msg, size_t len);
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

/* Losant's filter glob: 1 when s matches pat as a whole, '*' any run of
 * characters, '?' exactly one UTF-8 character, any other byte itself
 * (case-sensitive). */
int sb_glob_match(const char *pat, const char *s);

#endif
