/* eventapi-sandbox: Losant's advanced event query (docs/PROTOCOLS.md section
 * 1.5), checked against the Advanced Event Query schema and the sandbox's
 * size limits before anything is evaluated. */
#include "losant.h"
#include "losant_schemas.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The fields the schema's generic condition covers (a scalar or an object
 * of operators); experienceUserId, experienceGroupId and eventTags have
 * conditions of their own. */

/* The bytes of the first 64 of s that end on a UTF-8 character boundary:
 * names are cut there in messages, which must stay valid UTF-8 (a message
 * that is not cannot be put in a JSON answer). */
static int cut64(const char *s) {
    size_t n = strnlen(s, 64);
    if (n == 64)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return (int)n;
}
#define CUT(s) cut64(s)

/* Drops a UTF-8 sequence that a bounded write cut short at the end of s. */
static void trim_utf8(char *s) {
    size_t n = strlen(s), lead = n;
    while (lead > 0 && n - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80) lead--;
    if (lead == 0) return;
    unsigned char c = (unsigned char)s[lead - 1];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n - (lead - 1) < want) s[lead - 1] = '\0';
}

static const char *const GENERIC_FIELDS[] = {"id", "creationDate", "lastUpdated", "sourceId", "sourceType", "level",
                                             "state", "subject", "deviceId", NULL};

/* What a check walks with: the values counted so far and the message. */
typedef struct checker {
    size_t values; /* scalars seen (operator arguments, list items, tag keys and values) */
    char *msg;
    size_t len;
} checker;

/* 1 when name is in the NULL-terminated list. */
static int listed(const char *const *list, const char *name) {
    for (; *list; list++)
        if (!strcmp(*list, name)) return 1;
    return 0;
}

/* 1 when v is a string, a number, a boolean or null. */
static int is_scalar(const json_t *v) {
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

/* Counts one value; -1 with the message once the limit is passed. */
static int count_value(checker *c) {
    if (++c->values <= LQ_MAX_VALUES) return 0;
    snprintf(c->msg, c->len, "query has more than %d values", LQ_MAX_VALUES);
    return -1;
}

/* Formats a path into out[LQ_PATH_MAX], cut short when it is longer. */
static void path_of(char *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, LQ_PATH_MAX, fmt, ap);
    va_end(ap);
    trim_utf8(out);
}

/* Writes "path must ..." (or any message) and returns -1. */
static int fail(checker *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->len, fmt, ap);
    va_end(ap);
    trim_utf8(c->msg);
    return -1;
}
#define FAIL(c, ...) fail((c), __VA_ARGS__)

/* Checks a $in or $nin list; hex: items must be 24-hex ids, else strings,
 * numbers or booleans. */
static int check_list(checker *c, json_t *v, const char *path, const char *op, int hex) {
    size_t i;
    json_t *item;
    if (!json_is_array(v) || json_array_size(v) > LQ_MAX_ITEMS)
        return FAIL(c, "%s.%s must be a list of at most %d %s", path, op, LQ_MAX_ITEMS,
                    hex ? "24-hex ids" : "strings, numbers or booleans");
    json_array_foreach(v, i, item) {
        if (hex ? !(json_is_string(item) && sb_is_hex24(json_string_value(item)))
                : !(json_is_string(item) || json_is_number(item) || json_is_boolean(item)))
            return FAIL(c, "%s.%s[%zu] must be %s", path, op, i,
                        hex ? "24 hexadecimal characters" : "a string, number or boolean");
        if (count_value(c) < 0) return -1;
    }
    return 0;
}

/* ---- dates ---- */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static long long days_of(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* Reads n digits at *p into *out, moving *p past them; 0 or -1. */
static int read_digits(const char **p, int n, int *out) {
    *out = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return -1;
        *out = *out * 10 + (**p - '0');
    }
    return 0;
}

/* Milliseconds since the epoch of an ISO 8601 date or date-time in the
 * extended form: YYYY-MM-DD (midnight UTC), optionally followed by T (or
 * t or a space) and HH:MM, HH:MM:SS or HH:MM:SS with a fraction (after .
 * or ,; milliseconds kept, finer digits dropped), then Z, +HH:MM, +HHMM,
 * +HH (or -) or nothing (UTC). Years 0000 to 9999. 0, or -1 when s is no
 * such date. */
static int iso_ms(const char *s, long long *ms) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, oh = 0, om = 0, sign = 0;
    if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) || *p++ != '-' || read_digits(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return -1;
    if (*p == 'T' || *p == 't' || (*p == ' ' && p[1])) {
        p++;
        if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi) || h > 23 || mi > 59) return -1;
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &sec) || sec > 59) return -1;
            if (*p == '.' || *p == ',') {
                int n = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, n++)
                    if (n < 3) frac = frac * 10 + (*p - '0');
                if (n == 0) return -1;
                for (; n < 3; n++) frac *= 10;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '-' ? -1 : 1;
            if (read_digits(&p, 2, &oh) || oh > 23) return -1;
            if (*p == ':' ? (p++, read_digits(&p, 2, &om) || om > 59) : *p && (read_digits(&p, 2, &om) || om > 59))
                return -1;
        }
    }
    if (*p) return -1;
    long long t = ((days_of(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    *ms = t * 1000 + frac - (long long)sign * (oh * 60 + om) * 60000;
    return 0;
}

/* 1 when field (a query member) holds a date: creationDate, lastUpdated. */
static int is_date_field(const char *field) {
    return !strcmp(field, "creationDate") || !strcmp(field, "lastUpdated");
}

/* For a date field: a string argument must be an ISO 8601 date; -1 with the message otherwise. */
static int check_date_arg(checker *c, json_t *v, const char *path, const char *op) {
    long long ms;
    if (!json_is_string(v) || iso_ms(json_string_value(v), &ms) == 0) return 0;
    return FAIL(c, "%s%s%s must be a date-time (ISO 8601, such as 2026-11-20T04:00:00Z or 2026-11-20T06:00:00+02:00) "
                   "or milliseconds since the epoch",
                path, op ? "." : "", op ? op : "");
}

/* Checks the condition of a generic field: a scalar, or an object of
 * operators each with the argument the schema gives it; the comparisons
 * of a date field take dates. */
static int check_generic(checker *c, json_t *cond, const char *path, int date) {
    const char *op;
    json_t *arg;
    if (is_scalar(cond)) return date && check_date_arg(c, cond, path, NULL) < 0 ? -1 : count_value(c);
    if (!json_is_object(cond))
        return FAIL(c, "%s must be a string, number, boolean, null or an object of operators", path);
    json_object_foreach(cond, op, arg) {
        if (!strcmp(op, "$eq") || !strcmp(op, "$ne") || !strcmp(op, "$gt") || !strcmp(op, "$lt")
            || !strcmp(op, "$gte") || !strcmp(op, "$lte")) {
            if (!is_scalar(arg)) return FAIL(c, "%s.%s must be a string, number, boolean or null", path, op);
            if (date && check_date_arg(c, arg, path, op) < 0) return -1;
        } else if (!strcmp(op, "$startsWith") || !strcmp(op, "$endsWith") || !strcmp(op, "$contains")) {
            if (!json_is_string(arg) || !*json_string_value(arg))
                return FAIL(c, "%s.%s must be a string of at least 1 character", path, op);
        } else if (!strcmp(op, "$ci")) {
            if (!json_is_boolean(arg)) return FAIL(c, "%s.$ci must be true or false", path);
        } else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            if (check_list(c, arg, path, op, 0) < 0) return -1;
            if (date) {
                size_t i;
                json_t *item;
                char at[LQ_PATH_MAX];
                json_array_foreach(arg, i, item) {
                    path_of(at, "%s[%zu]", op, i);
                    if (check_date_arg(c, item, path, at) < 0) return -1;
                }
            }
            continue;
        } else {
            return FAIL(c, "%s.%.*s is not an operator allowed here", path, CUT(op), op);
        }
        if (count_value(c) < 0) return -1;
    }
    return 0;
}

/* 1 when v is a 24-hex id or null (experienceUserId, experienceGroupId). */
static int is_id_or_null(const json_t *v) {
    return json_is_null(v) || (json_is_string(v) && sb_is_hex24(json_string_value(v)));
}

/* Checks experienceUserId or experienceGroupId: an id or null, or an object
 * with exactly one of $eq, $ne (id or null), $in, $nin (lists of ids). */
static int check_id_field(checker *c, json_t *cond, const char *path) {
    const char *op;
    json_t *arg;
    if (is_id_or_null(cond)) return count_value(c);
    if (!json_is_object(cond))
        return FAIL(c, "%s must be 24 hexadecimal characters, null or an object with one operator", path);
    if (json_object_size(cond) != 1) return FAIL(c, "%s must have exactly one operator", path);
    json_object_foreach(cond, op, arg) {
        if (!strcmp(op, "$eq") || !strcmp(op, "$ne")) {
            if (!is_id_or_null(arg)) return FAIL(c, "%s.%s must be 24 hexadecimal characters or null", path, op);
            if (count_value(c) < 0) return -1;
        } else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            if (check_list(c, arg, path, op, 1) < 0) return -1;
        } else {
            return FAIL(c, "%s.%.*s is not an operator allowed here", path, CUT(op), op);
        }
    }
    return 0;
}

/* Checks one tag condition: {"$tagKey": k, "$tagValue": v} (one or both,
 * strings of at most 255 characters) or {"<key>": "<value>", ...} with keys
 * matching ^[0-9a-zA-Z_-]{1,255}$ and values strings of at most 255. */
static int check_tag_form(checker *c, json_t *form, const char *path) {
    const char *key;
    json_t *v;
    int dollar = 0, plain = 0;
    if (!json_is_object(form)) return FAIL(c, "%s must be an object", path);
    json_object_foreach(form, key, v) {
        if (key[0] == '$') dollar = 1;
        else plain = 1;
    }
    json_object_foreach(form, key, v) {
        if (dollar && strcmp(key, "$tagKey") && strcmp(key, "$tagValue"))
            return FAIL(c, "%s.%.*s is not allowed%s", path, CUT(key), key, plain ? " together with $tagKey or $tagValue" : "");
        if (!dollar && !sb_is_tag_key(key))
            return FAIL(c, "%s has the key \"%.*s\", which does not match ^[0-9a-zA-Z_-]{1,255}$", path, CUT(key), key);
        if (!json_is_string(v) || sb_utf8_length(json_string_value(v)) > 255)
            return FAIL(c, "%s.%.*s must be a string of at most 255 characters", path, CUT(key), key);
        if (count_value(c) < 0 || count_value(c) < 0) return -1; /* the key and the value */
    }
    return 0;
}

/* Checks the eventTags condition: a tag form, or one wrapped in $eq or $ne. */
static int check_tags(checker *c, json_t *cond, const char *path) {
    char inner[LQ_PATH_MAX];
    json_t *eq, *ne;
    if (!json_is_object(cond)) return FAIL(c, "%s must be an object", path);
    eq = json_object_get(cond, "$eq");
    ne = json_object_get(cond, "$ne");
    if (!eq && !ne) return check_tag_form(c, cond, path);
    if (json_object_size(cond) != 1) return FAIL(c, "%s.%s must be the only member", path, eq ? "$eq" : "$ne");
    path_of(inner, "%s.%s", path, eq ? "$eq" : "$ne");
    return check_tag_form(c, eq ? eq : ne, inner);
}

/* Checks a query object (nested depth levels deep) whose path is path. */
static int check_query(checker *c, json_t *q, const char *path, int depth) {
    const char *key;
    json_t *v;
    char sub[LQ_PATH_MAX];
    if (!json_is_object(q)) return FAIL(c, "%s must be an object", path);
    if (depth > LQ_MAX_DEPTH) return FAIL(c, "query is nested more than %d levels deep", LQ_MAX_DEPTH);
    json_object_foreach(q, key, v) {
        path_of(sub, "%s.%.*s", path, CUT(key), key);
        if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
            size_t i;
            json_t *item;
            if (!json_is_array(v) || json_array_size(v) > LQ_MAX_ITEMS)
                return FAIL(c, "%s must be a list of at most %d queries", sub, LQ_MAX_ITEMS);
            json_array_foreach(v, i, item) {
                char at[LQ_PATH_MAX];
                path_of(at, "%s[%zu]", sub, i);
                if (check_query(c, item, at, depth + 1) < 0) return -1;
            }
        } else if (listed(GENERIC_FIELDS, key)) {
            if (check_generic(c, v, sub, is_date_field(key)) < 0) return -1;
        } else if (!strcmp(key, "experienceUserId") || !strcmp(key, "experienceGroupId")) {
            if (check_id_field(c, v, sub) < 0) return -1;
        } else if (!strcmp(key, "eventTags")) {
            if (check_tags(c, v, sub) < 0) return -1;
        } else {
            return FAIL(c, "%s is not a field that can be queried", sub);
        }
    }
    return 0;
}

/* Checks an advanced query against the schema and the limits (losant.h). */
int sb_lq_check(json_t *q, char *msg, size_t len) {
    checker c = {0, msg, len};
    return check_query(&c, q, "query", 0);
}

/* Parses and checks the JSON text of an advanced query (losant.h). */
int sb_lq_parse(const char *text, size_t n, json_t **out, char *msg, size_t len) {
    json_error_t jerr;
    json_t *q;
    *out = NULL;
    if (n > LQ_MAX_BYTES) {
        snprintf(msg, len, "query must be at most %d bytes of JSON", LQ_MAX_BYTES);
        return 400;
    }
    q = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!q && json_error_code(&jerr) == json_error_out_of_memory) {
        snprintf(msg, len, "out of memory");
        return 500;
    }
    if (!json_is_object(q)) {
        char why[256];
        if (q) {
            snprintf(msg, len, "query must be a JSON object");
        } else {
            sb_json_error_text(&jerr, why, sizeof why);
            snprintf(msg, len, "query is not valid JSON: %s", why);
        }
        json_decref(q);
        return 400;
    }
    int refused = sb_losant_validate("advancedEventQuery", text, n, msg, len); /* Losant's schema first */
    if (refused) {
        if (refused > 0) { /* prefixed like ls_schema_refuses' messages */
            char why[512];
            snprintf(why, sizeof why, "%s", msg);
            snprintf(msg, len, "query does not match the advancedEventQuery schema: %s", why);
        }
        json_decref(q);
        return refused > 0 ? 400 : 500;
    }
    if (sb_lq_check(q, msg, len) < 0) {
        json_decref(q);
        return 400;
    }
    *out = q;
    return 0;
}

/* Length of the UTF-8 character at s (1 for a byte that starts none, or
 * fewer when the sequence is cut short). */
static size_t char_len(const char *s) {
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) return i;
    return n;
}

/* Losant's filter glob on the whole of s (losant.h). */
int sb_glob_match(const char *pat, const char *s) {
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?') {
            pat++;
            s += char_len(s);
        } else if (*pat && *pat == *s) {
            pat++;
            s++;
        } else if (star) { /* the star takes one more character */
            pat = star + 1;
            resume += char_len(resume);
            s = resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*') pat++;
    return *pat == '\0';
}

/* ---- evaluation against one stored event (the SQL function sb_match) ---- */

/* The queryable fields in the order of lq_row's arrays (losant.h). */
const char *const LQ_FIELD_NAMES[LQ_NFIELDS] = {"id", "creationDate", "lastUpdated", "sourceId", "sourceType",
                                                   "level", "state", "subject", "deviceId", "experienceUserId",
                                                   "experienceGroupId"};

/* The index of a queryable field in lq_row, -1 for eventTags or others. */
static int field_index(const char *name) {
    for (int i = 0; i < LQ_NFIELDS; i++)
        if (!strcmp(LQ_FIELD_NAMES[i], name)) return i;
    return -1;
}

/* The field read as a date in epoch milliseconds: 1 with *ms, 0 when it is no date. */
static int row_ms(lq_row *row, int f, long long *ms) {
    if (row->ms_state[f] == 0) { /* not yet read: parse once per row */
        row->ms_state[f] = row->text[f] && sb_ls_date_ms(row->text[f], &row->ms[f]) == 0 ? 1 : 2;
    }
    *ms = row->ms[f];
    return row->ms_state[f] == 1;
}

/* ---- $ci: case folding ---- */

/* The simple case folding of one code point (Unicode's CaseFolding.txt,
 * mappings C and S) for ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic: capitals to small letters, final sigma to sigma, long s to s,
 * micro sign to mu. No multi-character folds (ß stays ß, not ss) and none
 * for other scripts; İ and ı stay as they are. */
static unsigned fold_cp(unsigned c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0xB5) return c;
    if (c == 0xB5) return 0x3BC;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149) return c;
        if (c == 0x178) return 0xFF;
        if (c == 0x17F) return 's';
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1 ? c + 1 : c; /* odd capitals */
        return c & 1 ? c : c + 1;                                                                /* even capitals */
    }
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if ((c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3AB)) return c + 32;
    if (c == 0x3C2) return 0x3C3;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    return c;
}

#define FOLD_ROOM 256 /* folded texts up to this size stay on the stack */

/* s case-folded (fold_cp on every two-byte UTF-8 character, ASCII
 * letters; other bytes kept) into buf[FOLD_ROOM] when it fits, else into
 * new memory (free it when it is not buf); NULL when out of memory. The
 * folded text is never longer than s. */
static char *fold_text(const char *s, char *buf) {
    size_t n = strlen(s);
    char *out = n < FOLD_ROOM ? buf : malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        if (c < 0x80) {
            *o++ = (char)fold_cp(c);
            p++;
        } else if (c >= 0xC2 && c <= 0xDF && (p[1] & 0xC0) == 0x80) {
            unsigned f = fold_cp((c & 0x1F) << 6 | (p[1] & 0x3F));
            if (f < 0x80) {
                *o++ = (char)f;
            } else {
                *o++ = (char)(0xC0 | f >> 6);
                *o++ = (char)(0x80 | (f & 0x3F));
            }
            p += 2;
        } else {
            *o++ = (char)*p++;
        }
    }
    *o = '\0';
    return out;
}

/* Frees a folded text unless it is the stack buffer. */
static void fold_free(char *folded, char *buf) {
    if (folded != buf) free(folded);
}

/* The fields whose values are ids (id, sourceId, deviceId,
 * experienceUserId, experienceGroupId, in lq_row's order): a 24-hex value
 * matches them without regard to case, as ids in paths do. */
static int is_id_field(int f) {
    return f == 0 || f == 3 || f == 8 || f == 9 || f == 10;
}

/* Compares the field with one value; op is '=', '>', '<', 'g' (>=), 'l'
 * (<=). Strings compare as text (with ci, case-folded: fold_cp), but as
 * instants on the date fields and without regard to ASCII case when a
 * 24-hex id meets an id field; numbers compare with the field read as a
 * date in epoch milliseconds; null equals a missing field; booleans never
 * match a field of text. */
static int compare_row(lq_row *row, int f, char op, json_t *v, int ci) {
    const char *text = row->text[f];
    int c;
    if (json_is_string(v) && (f == 1 || f == 2)) { /* creationDate, lastUpdated: instants */
        long long ms, at;
        if (iso_ms(json_string_value(v), &at) < 0 || !row_ms(row, f, &ms)) return 0;
        c = ms < at ? -1 : ms > at;
    } else if (json_is_string(v)) {
        if (!text) return 0;
        if (ci) {
            char a[FOLD_ROOM], b[FOLD_ROOM];
            char *x = fold_text(text, a), *y = fold_text(json_string_value(v), b);
            if (!x || !y) row->failed = 1;
            c = x && y ? strcmp(x, y) : 1;
            if (x) fold_free(x, a);
            if (y) fold_free(y, b);
            if (row->failed) return 0;
        } else if (is_id_field(f) && sb_is_hex24(json_string_value(v)) && sb_is_hex24(text)) {
            c = strcasecmp(text, json_string_value(v));
        } else {
            c = strcmp(text, json_string_value(v));
        }
    } else if (json_is_number(v)) {
        long long ms;
        if (!row_ms(row, f, &ms)) return 0;
        if (json_is_integer(v)) {
            json_int_t n = json_integer_value(v);
            c = ms < n ? -1 : ms > n;
        } else {
            double x = (double)ms, y = json_real_value(v);
            c = x < y ? -1 : x > y ? 1 : x == y ? 0 : 2; /* 2: never true (no NaN in JSON, but be safe) */
            if (c == 2) return 0;
        }
    } else if (json_is_null(v)) {
        return (op == '=' || op == 'g' || op == 'l') && !text;
    } else {
        return 0;
    }
    switch (op) {
    case '=': return c == 0;
    case '>': return c > 0;
    case '<': return c < 0;
    case 'g': return c >= 0;
    default: return c <= 0;
    }
}

/* $startsWith (mode 0), $endsWith (1), $contains (2) of t in s, byte by byte. */
static int text_test(const char *s, const char *t, int mode) {
    size_t n = strlen(s), m = strlen(t);
    if (m > n) return 0;
    if (mode == 0) return strncmp(s, t, m) == 0;
    if (mode == 1) return strncmp(s + n - m, t, m) == 0;
    return strstr(s, t) != NULL;
}

/* $startsWith (mode 0), $endsWith (1), $contains (2) on the field's text
 * (with ci, both texts case-folded first). */
static int text_row(lq_row *row, const char *s, const char *t, int mode, int ci) {
    if (!s) return 0;
    if (!ci) return text_test(s, t, mode);
    char a[FOLD_ROOM], b[FOLD_ROOM];
    char *x = fold_text(s, a), *y = fold_text(t, b);
    int ok = x && y && text_test(x, y, mode);
    if (!x || !y) row->failed = 1;
    if (x) fold_free(x, a);
    if (y) fold_free(y, b);
    return ok;
}

/* A field condition: a scalar (equality) or every operator of an object. */
static int field_row(lq_row *row, int f, json_t *cond) {
    const char *op;
    json_t *arg;
    if (!json_is_object(cond)) return compare_row(row, f, '=', cond, 0);
    int ci = json_is_true(json_object_get(cond, "$ci"));
    json_object_foreach(cond, op, arg) {
        int ok = 1;
        /* the operators were checked (sb_lq_check): their second and last letters tell them apart */
        size_t len = strlen(op);
        char second = op[1], last = op[len - 1];
        if (second == 'e' && len == 3) ok = compare_row(row, f, '=', arg, ci);                  /* $eq */
        else if (second == 'n' && last == 'e') ok = !compare_row(row, f, '=', arg, ci);         /* $ne */
        else if (second == 'g' || (second == 'l' && len <= 4))                                 /* $gt $gte $lt $lte */
            ok = compare_row(row, f, len == 3 ? (second == 'g' ? '>' : '<') : (second == 'g' ? 'g' : 'l'), arg, ci);
        else if (second == 's') ok = text_row(row, row->text[f], json_string_value(arg), 0, ci);     /* $startsWith */
        else if (second == 'e') ok = text_row(row, row->text[f], json_string_value(arg), 1, ci);     /* $endsWith */
        else if (second == 'c' && len > 3) ok = text_row(row, row->text[f], json_string_value(arg), 2, ci); /* $contains */
        else if (last == 'n' && (second == 'i' || second == 'n')) {                            /* $in $nin */
            size_t i;
            json_t *item;
            int found = 0;
            json_array_foreach(arg, i, item) if (!found && (json_is_string(item) || json_is_number(item)))
                found = compare_row(row, f, '=', item, ci);
            ok = op[1] == 'n' ? !found : found;
        } /* $ci only changes the others */
        if (!ok) return 0;
    }
    return 1;
}

/* The event's tags, parsed once per row; NULL when it has none (or out of memory: -1 in *failed). */
static json_t *row_tags(lq_row *row) {
    if (!row->tags_done) {
        row->tags_done = 1;
        row->tags = row->tags_text ? json_loads(row->tags_text, 0, NULL) : NULL;
        if (row->tags_text && !row->tags) row->failed = 1;
    }
    return row->tags;
}

/* One tag condition: {"$tagKey", "$tagValue"} (one tag with that key
 * and/or string value) or {"<key>": "<value>", ...} (every pair a tag). */
static int tag_form_row(lq_row *row, json_t *form) {
    json_t *tags = row_tags(row), *k = json_object_get(form, "$tagKey"), *v = json_object_get(form, "$tagValue");
    const char *key;
    json_t *value;
    if (k || v) {
        json_object_foreach(tags, key, value) {
            if (k && strcmp(json_string_value(k), key)) continue;
            if (v && !(json_is_string(value) && !strcmp(json_string_value(value), json_string_value(v)))) continue;
            return 1;
        }
        return 0;
    }
    json_object_foreach(form, key, value) {
        json_t *tag = json_object_get(tags, key);
        if (!json_is_string(tag) || strcmp(json_string_value(tag), json_string_value(value))) return 0;
    }
    return 1;
}

/* The fields a checked query reads, as bits in lq_row's order, bit
 * LQ_NFIELDS for eventTags (losant.h). */
unsigned sb_lq_fields(json_t *q) {
    const char *key;
    json_t *v;
    unsigned mask = 0;
    json_object_foreach(q, key, v) {
        if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) mask |= sb_lq_fields(item);
        } else if (!strcmp(key, "eventTags")) {
            mask |= 1u << LQ_NFIELDS;
        } else if (field_index(key) >= 0) {
            mask |= 1u << field_index(key);
        }
    }
    return mask;
}

/* Evaluates a checked query against one event (losant.h). */
int sb_lq_eval(json_t *q, lq_row *row) {
    const char *key;
    json_t *v;
    json_object_foreach(q, key, v) {
        int ok;
        if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
            size_t i;
            json_t *item;
            int any = 0, all = 1;
            json_array_foreach(v, i, item) {
                int r = sb_lq_eval(item, row);
                any |= r;
                all &= r;
                if (key[1] == 'a' ? !all : any) break; /* the answer is known */
            }
            /* Losant's advanced query reference: an empty list of $and or $or matches every event,
               an empty $nor none */
            if (json_array_size(v) == 0) ok = key[1] != 'n';
            else ok = key[1] == 'a' ? all : key[1] == 'o' ? any : !any;
        } else if (!strcmp(key, "eventTags")) {
            json_t *eq = json_object_get(v, "$eq"), *ne = json_object_get(v, "$ne");
            ok = ne ? !tag_form_row(row, ne) : tag_form_row(row, eq ? eq : v);
        } else {
            int f = field_index(key);
            ok = f >= 0 && field_row(row, f, v);
        }
        if (!ok) return 0;
    }
    return 1;
}
