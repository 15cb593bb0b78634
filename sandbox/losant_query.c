/* eventapi-sandbox: Losant's advanced event query (docs/PROTOCOLS.md section
 * 1.5), checked against the Advanced Event Query schema and the sandbox's
 * size limits before anything is evaluated. */
#include "losant.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The fields the schema's generic condition covers (a scalar or an object
 * of operators); experienceUserId, experienceGroupId and eventTags have
 * conditions of their own. */
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
}

/* Writes "path must ..." (or any message) and returns -1. */
#define FAIL(c, ...) (snprintf((c)->msg, (c)->len, __VA_ARGS__), -1)

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

/* Checks the condition of a generic field: a scalar, or an object of
 * operators each with the argument the schema gives it. */
static int check_generic(checker *c, json_t *cond, const char *path) {
    const char *op;
    json_t *arg;
    if (is_scalar(cond)) return count_value(c);
    if (!json_is_object(cond))
        return FAIL(c, "%s must be a string, number, boolean, null or an object of operators", path);
    json_object_foreach(cond, op, arg) {
        if (!strcmp(op, "$eq") || !strcmp(op, "$ne") || !strcmp(op, "$gt") || !strcmp(op, "$lt")
            || !strcmp(op, "$gte") || !strcmp(op, "$lte")) {
            if (!is_scalar(arg)) return FAIL(c, "%s.%s must be a string, number, boolean or null", path, op);
        } else if (!strcmp(op, "$startsWith") || !strcmp(op, "$endsWith") || !strcmp(op, "$contains")) {
            if (!json_is_string(arg) || !*json_string_value(arg))
                return FAIL(c, "%s.%s must be a string of at least 1 character", path, op);
        } else if (!strcmp(op, "$ci")) {
            if (!json_is_boolean(arg)) return FAIL(c, "%s.$ci must be true or false", path);
        } else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            if (check_list(c, arg, path, op, 0) < 0) return -1;
            continue;
        } else {
            return FAIL(c, "%s.%.64s is not an operator allowed here", path, op);
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
            return FAIL(c, "%s.%.64s is not an operator allowed here", path, op);
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
            return FAIL(c, "%s.%.64s is not allowed%s", path, key, plain ? " together with $tagKey or $tagValue" : "");
        if (!dollar && !sb_is_tag_key(key))
            return FAIL(c, "%s has the key \"%.64s\", which does not match ^[0-9a-zA-Z_-]{1,255}$", path, key);
        if (!json_is_string(v) || sb_utf8_length(json_string_value(v)) > 255)
            return FAIL(c, "%s.%.64s must be a string of at most 255 characters", path, key);
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
        path_of(sub, "%s.%.64s", path, key);
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
            if (check_generic(c, v, sub) < 0) return -1;
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
        if (q) snprintf(msg, len, "query must be a JSON object");
        else snprintf(msg, len, "query must be a JSON object (%s)", jerr.text);
        json_decref(q);
        return 400;
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

/* ---- the query as SQL over losant_events (losant_store.c) ---- */

/* The column of a queryable field and, for the dates, the column of its
 * epoch milliseconds (NULL: sb_ms(column) is used). */
typedef struct column {
    const char *field, *name, *ms;
} column;

static const column COLUMNS[] = {
    {"id", "id", NULL},
    {"creationDate", "creation_date", "creation_ms"},
    {"lastUpdated", "last_updated", "updated_ms"},
    {"sourceId", "source_id", NULL},
    {"sourceType", "source_type", NULL},
    {"level", "level", NULL},
    {"state", "state", NULL},
    {"subject", "subject", NULL},
    {"deviceId", "device_id", NULL},
    {"experienceUserId", "experience_user_id", NULL},
    {"experienceGroupId", "experience_group_id", NULL},
    {NULL, NULL, NULL}};

/* A bound value: '?' in sql, v appended to params (borrowed from the query). */
static void param(sb_buf *sql, json_t *params, json_t *v) {
    sb_buf_str(sql, "?");
    if (json_array_append(params, v) < 0) sql->failed = 1;
}

/* The ms expression of a column. */
static void ms_of(sb_buf *sql, const column *c) {
    if (c->ms) sb_buf_str(sql, c->ms);
    else sb_buf_fmt(sql, "sb_ms(%s)", c->name);
}

/* A comparison of the column with one value: op is = > < >= <=; every
 * result is 0 or 1 (never NULL). Strings compare as text (without regard
 * to ASCII case with ci), numbers with the column read as a date in epoch
 * milliseconds, null matches a missing field (=, >=, <=), booleans never
 * match a field of text. */
static void compare_sql(sb_buf *sql, json_t *params, const column *c, const char *op, json_t *v, int ci) {
    int equal_ok = !strcmp(op, "=") || !strcmp(op, ">=") || !strcmp(op, "<=");
    if (json_is_string(v)) {
        sb_buf_fmt(sql, "IFNULL(%s %s ", c->name, op);
        param(sql, params, v);
        sb_buf_str(sql, ci ? " COLLATE NOCASE, 0)" : ", 0)");
    } else if (json_is_number(v)) {
        sb_buf_str(sql, "IFNULL(");
        ms_of(sql, c);
        sb_buf_fmt(sql, " %s ", op);
        param(sql, params, v);
        sb_buf_str(sql, ", 0)");
    } else if (json_is_null(v) && equal_ok) {
        sb_buf_fmt(sql, "(%s IS NULL)", c->name);
    } else {
        sb_buf_str(sql, "0");
    }
}

/* $in: the column equals one of the list's strings, or as a date one of
 * its numbers; 0 or 1. */
static void in_sql(sb_buf *sql, json_t *params, const column *c, json_t *list, int ci) {
    size_t i, strings = 0, numbers = 0;
    json_t *item;
    json_array_foreach(list, i, item) {
        strings += json_is_string(item);
        numbers += json_is_number(item);
    }
    sb_buf_str(sql, "(0");
    if (strings) {
        sb_buf_fmt(sql, " OR IFNULL(%s%s IN (", c->name, ci ? " COLLATE NOCASE" : "");
        int first = 1;
        json_array_foreach(list, i, item) if (json_is_string(item)) {
            if (!first) sb_buf_str(sql, ", ");
            param(sql, params, item);
            first = 0;
        }
        sb_buf_str(sql, "), 0)");
    }
    if (numbers) {
        sb_buf_str(sql, " OR IFNULL(");
        ms_of(sql, c);
        sb_buf_str(sql, " IN (");
        int first = 1;
        json_array_foreach(list, i, item) if (json_is_number(item)) {
            if (!first) sb_buf_str(sql, ", ");
            param(sql, params, item);
            first = 0;
        }
        sb_buf_str(sql, "), 0)");
    }
    sb_buf_str(sql, ")");
}

/* A field condition: a scalar (equality) or every operator of an object. */
static void field_sql(sb_buf *sql, json_t *params, const column *c, json_t *cond) {
    static const struct { const char *op, *sql; int negate; } CMP[] = {
        {"$eq", "=", 0}, {"$ne", "=", 1}, {"$gt", ">", 0}, {"$lt", "<", 0}, {"$gte", ">=", 0}, {"$lte", "<=", 0}};
    const char *op;
    json_t *arg;
    if (!json_is_object(cond)) {
        compare_sql(sql, params, c, "=", cond, 0);
        return;
    }
    int ci = json_is_true(json_object_get(cond, "$ci"));
    sb_buf_str(sql, "(1");
    json_object_foreach(cond, op, arg) {
        size_t k;
        for (k = 0; k < sizeof CMP / sizeof CMP[0] && strcmp(CMP[k].op, op); k++) {}
        if (k < sizeof CMP / sizeof CMP[0]) {
            sb_buf_str(sql, CMP[k].negate ? " AND NOT " : " AND ");
            compare_sql(sql, params, c, CMP[k].sql, arg, ci);
        } else if (!strcmp(op, "$startsWith") || !strcmp(op, "$endsWith") || !strcmp(op, "$contains")) {
            sb_buf_fmt(sql, " AND sb_text(%d, %d, %s, ", op[1] == 's' ? 0 : op[1] == 'e' ? 1 : 2, ci, c->name);
            param(sql, params, arg);
            sb_buf_str(sql, ")");
        } else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            sb_buf_str(sql, op[1] == 'n' ? " AND NOT " : " AND ");
            in_sql(sql, params, c, arg, ci);
        } /* $ci only changes the others */
    }
    sb_buf_str(sql, ")");
}

/* One tag condition: {"$tagKey", "$tagValue"} (a tag with that key and/or
 * value) or {"<key>": "<value>", ...} (every pair present). */
static void tag_form_sql(sb_buf *sql, json_t *params, json_t *form) {
    json_t *k = json_object_get(form, "$tagKey"), *v = json_object_get(form, "$tagValue");
    const char *key;
    json_t *value;
    if (k || v) {
        sb_buf_str(sql, "EXISTS (SELECT 1 FROM json_each(tags) WHERE 1");
        if (k) {
            sb_buf_str(sql, " AND key = ");
            param(sql, params, k);
        }
        if (v) {
            sb_buf_str(sql, " AND type = 'text' AND value = ");
            param(sql, params, v);
        }
        sb_buf_str(sql, ")");
        return;
    }
    sb_buf_str(sql, "(1");
    json_object_foreach(form, key, value) {
        json_t *name = json_string(key);
        sb_buf_str(sql, " AND EXISTS (SELECT 1 FROM json_each(tags) WHERE key = ");
        if (!name || json_array_append_new(params, name) < 0) sql->failed = 1;
        sb_buf_str(sql, "? AND type = 'text' AND value = ");
        param(sql, params, value);
        sb_buf_str(sql, ")");
    }
    sb_buf_str(sql, ")");
}

/* A query object: every member holds. */
static void query_sql(sb_buf *sql, json_t *params, json_t *q) {
    const char *key;
    json_t *v;
    sb_buf_str(sql, "(1");
    json_object_foreach(q, key, v) {
        if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
            size_t i;
            json_t *item;
            int any = strcmp(key, "$and") != 0;
            sb_buf_str(sql, key[1] == 'n' ? " AND NOT (0" : any ? " AND (0" : " AND (1");
            json_array_foreach(v, i, item) {
                sb_buf_str(sql, any ? " OR " : " AND ");
                query_sql(sql, params, item);
            }
            sb_buf_str(sql, ")");
        } else if (!strcmp(key, "eventTags")) {
            json_t *eq = json_object_get(v, "$eq"), *ne = json_object_get(v, "$ne");
            sb_buf_str(sql, ne ? " AND NOT " : " AND ");
            tag_form_sql(sql, params, eq ? eq : ne ? ne : v);
        } else {
            const column *c = COLUMNS;
            while (c->field && strcmp(c->field, key)) c++;
            if (!c->field) { /* sb_lq_check lets no other member through */
                sql->failed = 1;
                return;
            }
            sb_buf_str(sql, " AND ");
            field_sql(sql, params, c, v);
        }
    }
    sb_buf_str(sql, ")");
}

/* The SQL condition of a checked query (losant.h). */
int sb_lq_sql(json_t *q, sb_buf *sql, json_t *params) {
    query_sql(sql, params, q);
    return sql->failed ? -1 : 0;
}
