/* eventapi.core JSON encoder and number text: exact numbers out.
 *
 * Lua integers are written as integers, floats as the shortest text that
 * reads back to the same double (an integral float within 2^53 as an
 * integer). nil and the light userdata NULL (eventapi.null) are null; a
 * table is an array when it carries the EVENTAPI_ARRAY metatable or its keys
 * are exactly 1..n, else an object. Numbers are written with '.' whatever
 * the C locale's decimal point (a host that set LC_NUMERIC to a comma locale
 * still gets JSON). core.json_encode's options (indent, sort) take a writer
 * of their own, so the default one line stays the plain loop. Every failure
 * is an InvalidParams eventapi.Error (OutOfMemory when a copy cannot be
 * made); the decoder is json_decode.c. */
#include "eventapi.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- number text ---- */

/* Powers of ten a double holds exactly (10^22 is the last); the decoder's too. */
const double eventapi_pow10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define POW10 eventapi_pow10

/* Writes the decimal digits of u backwards, ending just before end; returns
 * where they start. */
static char *write_digits(char *end, uint64_t u) {
    do *--end = (char)('0' + u % 10); while ((u /= 10) > 0);
    return end;
}

/* Writes v as a decimal integer into out (at least 24 bytes); returns its length. */
static size_t integer_text(char *out, int64_t v) {
    char digits[24], *end = digits + sizeof digits;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char *start = write_digits(end, u);
    size_t n = (size_t)(end - start);
    if (v < 0) *out++ = '-';
    memcpy(out, start, n);
    return n + (v < 0);
}

/* Writes the finite, non-integral d as a fixed decimal of at most 15
 * significant digits that reads back to d, when one exists and %.15g would
 * write it without an exponent (1e-4 <= |d| < 1e15); returns its length, or
 * 0. The fewest fraction digits k with round(|d| * 10^k) / 10^k == |d|:
 * that division, like strtod of the text, rounds the same rational once,
 * and a double keeps any 15 digits, so the text is %.15g's. */
static size_t fixed_text(char *out, double d) {
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e15)) return 0;
    for (int k = 1; k < 20; k++) {
        double scaled = a * POW10[k];
        if (scaled >= 1e15) return 0;
        double m = floor(scaled + 0.5);
        if (m / POW10[k] != a) continue;
        uint64_t whole = (uint64_t)m, unit = 1;
        for (int i = 0; i < k; i++) unit *= 10;
        uint64_t fraction = whole % unit;
        if (fraction == 0) return 0; /* integral after all: not ours */
        while (fraction % 10 == 0) { fraction /= 10; k--; } /* as %g strips them */
        char digits[48], *end = digits + sizeof digits;
        char *start = write_digits(end, fraction);
        while (end - start < k) *--start = '0';
        *--start = '.';
        start = write_digits(start, whole / unit);
        if (d < 0) *--start = '-';
        size_t n = (size_t)(end - start);
        memcpy(out, start, n);
        return n;
    }
    return 0;
}

/* The C locale's decimal point when it is not '.', else 0. */
static char locale_point(void) {
    char c = lua_getlocaledecpoint();
    return c == '.' ? 0 : c;
}

/* strtod of the n bytes of JSON number text at s, read with '.' whatever
 * the locale; raises OutOfMemory when a long text cannot be copied. */
double eventapi_text_to_double(lua_State *L, const char *s, size_t n) {
    char small[64], *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) {
        eventapi_error(L, "OutOfMemory", "out of memory");
        return 0; /* not reached */
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    char point = locale_point();
    if (point) {
        char *dot = memchr(copy, '.', n);
        if (dot) *dot = point;
    }
    double d = strtod(copy, NULL);
    if (copy != small) free(copy);
    return d;
}

/* Writes the shortest of %.15g, %.16g and %.17g of d that reads back to d
 * into out (64 bytes), with '.' as its decimal point; returns its length. */
static size_t general_text(lua_State *L, char *out, double d) {
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 64, "%.*g", prec, d);
        char point = locale_point();
        if (point) {
            char *p = memchr(out, point, (size_t)n);
            if (p) *p = '.';
        }
        if (eventapi_text_to_double(L, out, (size_t)n) == d) break;
    }
    return (size_t)n;
}

/* Appends the exact text of the number at idx; raises InvalidParams for NaN and infinities. */
void eventapi_number(lua_State *L, int idx, eventapi_buf *b) {
    char text[64];
    size_t n;
    if (lua_isinteger(L, idx)) {
        n = integer_text(text, (int64_t)lua_tointeger(L, idx));
    } else {
        double d = lua_tonumber(L, idx);
        if (isnan(d) || isinf(d)) eventapi_error(L, "InvalidParams", "JSON cannot hold %s", isnan(d) ? "NaN" : "infinity");
        if (d == floor(d) && fabs(d) < 9007199254740992.0) { /* 50.0 -> 50 */
            if (d == 0 && signbit(d)) {
                memcpy(text, "-0", 2);
                n = 2;
            } else {
                n = integer_text(text, (int64_t)d);
            }
        } else if ((n = fixed_text(text, d)) == 0) {
            n = general_text(L, text, d);
        }
    }
    eventapi_buf_add(b, text, n);
}

/* ---- encoding ----
 * The output goes into an eventapi_buf (buf.c). */

/* Appends one byte. */
static void buf_char(eventapi_buf *b, char c) {
    eventapi_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

/* Appends a C string. */
static void buf_str(eventapi_buf *b, const char *s) {
    eventapi_buf_add(b, s, strlen(s));
}

/* Appends s as a JSON string literal. */
static void encode_string(eventapi_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    buf_char(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
        eventapi_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_str(b, "\\\""); break;
        case '\\': buf_str(b, "\\\\"); break;
        case '\n': buf_str(b, "\\n"); break;
        case '\r': buf_str(b, "\\r"); break;
        case '\t': buf_str(b, "\\t"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            buf_str(b, u);
        }
        }
    }
    eventapi_buf_add(b, s + run, len - run);
    buf_char(b, '"');
}

/* Returns the array length when the table at idx is a sequence 1..n with no
 * other keys (or carries the array metatable), else -1. */
static lua_Integer array_length(lua_State *L, int idx) {
    lua_Integer n = 0, max = 0;
    if (lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, EVENTAPI_ARRAY);
        int marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (marked) return (lua_Integer)lua_rawlen(L, idx);
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max) max = k;
        n++;
    }
    return (n == max && n > 0) ? n : -1;
}

/* Raises the error of a table nested deeper than EVENTAPI_JSON_MAX_DEPTH. */
static void too_deep(lua_State *L) {
    eventapi_error(L, "InvalidParams", "JSON nesting deeper than %d (a cycle?)", EVENTAPI_JSON_MAX_DEPTH);
}

/* Raises the error of an object key that is neither a string nor an integer (the key at idx). */
static void bad_key(lua_State *L, int idx) {
    eventapi_error(L, "InvalidParams", "JSON object keys must be strings, not %s", luaL_typename(L, idx));
}

/* Appends the value at idx on one line, keys in table order; depth guards
 * against cycles. Leaves the stack as found. */
static void encode_value(lua_State *L, int idx, eventapi_buf *b, int depth) {
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: buf_str(b, "null"); return;
    case LUA_TBOOLEAN: buf_str(b, lua_toboolean(L, idx) ? "true" : "false"); return;
    case LUA_TNUMBER: eventapi_number(L, idx, b); return;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        encode_string(b, s, len);
        return;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            buf_str(b, "null");
            return;
        }
        break;
    case LUA_TTABLE: {
        if (depth >= EVENTAPI_JSON_MAX_DEPTH) too_deep(L);
        eventapi_json_checkstack(L, 6);
        lua_Integer n = array_length(L, idx);
        if (n >= 0) {
            buf_char(b, '[');
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1) buf_char(b, ',');
                lua_rawgeti(L, idx, i);
                encode_value(L, -1, b, depth + 1);
                lua_pop(L, 1);
            }
            buf_char(b, ']');
            return;
        }
        int first = 1;
        buf_char(b, '{');
        lua_pushnil(L);
        while (lua_next(L, idx)) { /* stack: key value */
            size_t len;
            const char *key;
            int copied = 0;
            if (lua_type(L, -2) == LUA_TSTRING) {
                key = lua_tolstring(L, -2, &len);
            } else if (lua_isinteger(L, -2)) {
                lua_pushvalue(L, -2); /* a copy: lua_next needs the original key */
                key = lua_tolstring(L, -1, &len);
                copied = 1;
            } else {
                bad_key(L, -2);
                return;
            }
            if (!first) buf_char(b, ',');
            first = 0;
            encode_string(b, key, len);
            buf_char(b, ':');
            encode_value(L, copied ? -2 : -1, b, depth + 1);
            lua_pop(L, copied ? 2 : 1);
        }
        buf_char(b, '}');
        return;
    }
    default: break;
    }
    eventapi_error(L, "InvalidParams", "JSON cannot hold a %s", luaL_typename(L, idx));
}

/* Appends the JSON text of the value at idx (see encode_value). */
void eventapi_json_encode(lua_State *L, int idx, eventapi_buf *b) {
    encode_value(L, idx, b, 0);
}

/* ---- the styled writer: core.json_encode's options ----
 * Output as the one-line writer's, but with the object keys in bytewise
 * order when sort is set, and, when indent is, every item and member on a
 * line of its own indented by indent spaces a level, `"key": value`, the
 * closing bracket on a line at its opener's level; empty tables stay `{}`
 * and `[]`. Scalars are encode_value's. */

typedef struct json_style {
    int indent; /* spaces per level; 0: all on one line */
    int sort;   /* object keys in bytewise order */
} json_style;

/* An object's key as written: its text (anchored in the keys table) and
 * where the key itself is in that table (at 2 * slot - 1). */
typedef struct json_key {
    const char *s;
    size_t len;
    int slot;
} json_key;

/* qsort's order of keys: bytewise, the shorter first on a common prefix;
 * keys of the same text (1 and "1") in table order. */
static int key_order(const void *x, const void *y) {
    const json_key *a = x, *b = y;
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    if (c != 0) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (a->slot > b->slot) - (a->slot < b->slot);
}

/* The keys of the object at idx (n > 0 of them, all strings or integers):
 * pushes a table holding key i at 2i - 1 and its text at 2i, then a
 * userdata of n json_key (stack: +2), sorted when sort is set; returns the
 * json_key array and sets *count to the keys it holds (n, unless a
 * finalizer run by an allocation here changed the table). */
static json_key *object_keys(lua_State *L, int idx, lua_Integer n, int sort, lua_Integer *count) {
    if (n > (lua_Integer)(INT32_MAX / 2) || (size_t)n > SIZE_MAX / sizeof(json_key))
        eventapi_error(L, "InvalidParams", "JSON object too large (%I keys)", n);
    lua_createtable(L, (int)(2 * n), 0);
    int keys = lua_gettop(L);
    json_key *list = lua_newuserdatauv(L, (size_t)n * sizeof(json_key), 0);
    int i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) && i < n) { /* stack: key value */
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, 2 * i + 1);
        lua_pushvalue(L, -1); /* the text: a copy, lua_next needs the original key */
        list[i].s = lua_tolstring(L, -1, &list[i].len);
        list[i].slot = i + 1;
        lua_rawseti(L, keys, 2 * i + 2);
        i++;
    }
    lua_settop(L, keys + 1);
    if (sort) qsort(list, (size_t)i, sizeof *list, key_order);
    *count = i;
    return list;
}

/* Appends a line break and the indent of level (nothing on one line). */
static void new_line(eventapi_buf *b, const json_style *st, int level) {
    if (!st->indent) return;
    size_t n = (size_t)st->indent * (size_t)level;
    eventapi_buf_reserve(b, n + 1);
    b->data[b->len++] = '\n';
    memset(b->data + b->len, ' ', n);
    b->len += n;
}

/* Appends the value at idx as st says; depth guards against cycles. Leaves the stack as found. */
static void encode_styled(lua_State *L, int idx, eventapi_buf *b, int depth, const json_style *st) {
    if (lua_type(L, idx) != LUA_TTABLE) {
        encode_value(L, idx, b, depth);
        return;
    }
    idx = lua_absindex(L, idx);
    if (depth >= EVENTAPI_JSON_MAX_DEPTH) too_deep(L);
    eventapi_json_checkstack(L, 8);
    lua_Integer n = array_length(L, idx);
    if (n >= 0) {
        if (n == 0) {
            buf_str(b, "[]");
            return;
        }
        buf_char(b, '[');
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1) buf_char(b, ',');
            new_line(b, st, depth + 1);
            lua_rawgeti(L, idx, i);
            encode_styled(L, -1, b, depth + 1, st);
            lua_pop(L, 1);
        }
        new_line(b, st, depth);
        buf_char(b, ']');
        return;
    }
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* stack: key value; counts the keys, checks them */
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING && !lua_isinteger(L, -1)) bad_key(L, -1);
        n++;
    }
    if (n == 0) {
        buf_str(b, "{}");
        return;
    }
    json_key *list = object_keys(L, idx, n, st->sort, &n); /* stack: keys list */
    int keys = lua_gettop(L) - 1;
    buf_char(b, '{');
    for (lua_Integer i = 0; i < n; i++) {
        if (i > 0) buf_char(b, ',');
        new_line(b, st, depth + 1);
        encode_string(b, list[i].s, list[i].len);
        if (st->indent) buf_str(b, ": ");
        else buf_char(b, ':');
        lua_rawgeti(L, keys, 2 * (lua_Integer)list[i].slot - 1);
        lua_rawget(L, idx);
        encode_styled(L, -1, b, depth + 1, st);
        lua_pop(L, 1);
    }
    new_line(b, st, depth);
    buf_char(b, '}');
    lua_pop(L, 2);
}

#define MAX_INDENT 16

/* Raises InvalidParams for the option named name whose value (at -1) is not what it wants. */
static void bad_option(lua_State *L, const char *name, const char *wants) {
    const char *got = lua_type(L, -1) == LUA_TNUMBER ? luaL_tolstring(L, -1, NULL)
                                                      : lua_pushfstring(L, "a %s", luaL_typename(L, -1));
    eventapi_error(L, "InvalidParams", "option %s must be %s, not %s", name, wants, got);
}

/* Reads core.json_encode's options, the table at idx, into st: indent =
 * true (2 spaces a level), false or 1..16; sort = true or false. Returns 1
 * when they ask for the styled writer; raises InvalidParams naming an
 * unknown or bad option. Leaves the stack as found. */
static int read_style(lua_State *L, int idx, json_style *st) {
    if (!lua_istable(L, idx)) eventapi_error(L, "InvalidParams", "options must be a table, not a %s", luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* stack: key value */
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (name && strcmp(name, "indent") == 0) {
            if (lua_isboolean(L, -1)) {
                st->indent = lua_toboolean(L, -1) ? 2 : 0;
            } else {
                lua_Integer w = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
                if (w < 1 || w > MAX_INDENT) bad_option(L, "indent", "true, false or a whole number from 1 to 16");
                st->indent = (int)w;
            }
        } else if (name && strcmp(name, "sort") == 0) {
            if (!lua_isboolean(L, -1)) bad_option(L, "sort", "true or false");
            st->sort = lua_toboolean(L, -1);
        } else {
            lua_pop(L, 1);
            eventapi_error(L, "InvalidParams", "unknown option %s (the options are indent and sort)",
                           name ? lua_pushfstring(L, "'%s'", name) : luaL_tolstring(L, -1, NULL));
        }
        lua_pop(L, 1);
    }
    return st->indent || st->sort;
}

/* core.json_encode(value [, options]) -> string: exact JSON text; raises InvalidParams (options: read_style). */
static int l_encode(lua_State *L) {
    eventapi_buf b;
    json_style st = {0, 0};
    luaL_checkany(L, 1);
    int styled = !lua_isnoneornil(L, 2) && read_style(L, 2, &st);
    lua_settop(L, 1);
    eventapi_buf_init(L, &b);
    if (styled) encode_styled(L, 1, &b, 0, &st);
    else eventapi_json_encode(L, 1, &b);
    eventapi_buf_finish(&b);
    return 1;
}

/* Registers json_encode/json_decode, the array metatable (core.array) and
 * null into the table on top. */
int eventapi_open_json(lua_State *L) {
    static const luaL_Reg fns[] = {{"json_encode", l_encode}, {"json_decode", eventapi_json_decode_fn}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    luaL_newmetatable(L, EVENTAPI_ARRAY);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "array");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 0;
}
