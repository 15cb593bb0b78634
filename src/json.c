/* eventapi.core JSON codec: exact numbers both ways.
 *
 * Lua integers are written as integers, floats as the shortest text that
 * reads back to the same double; integral JSON numbers that fit in 64 bits
 * come back as Lua integers. JSON null is a light userdata NULL (the value
 * of eventapi.null, the same as cjson.null); decoded arrays carry the
 * EVENTAPI_ARRAY metatable so that an empty array encodes as [] again.
 * Numbers are written and read with '.' whatever the C locale's decimal
 * point: a host that set LC_NUMERIC to a comma locale still gets JSON. */
#include "eventapi.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1000

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

/* Powers of ten a double holds exactly (10^22 is the last). */
static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

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
 * the locale; raises "out of memory" when a long text cannot be copied. */
static double text_to_double(lua_State *L, const char *s, size_t n) {
    char small[64], *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) eventapi_error(L, "OutOfMemory", "out of memory");
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
        if (text_to_double(L, out, (size_t)n) == d) break;
    }
    return (size_t)n;
}

/* Appends the exact text of the number at idx. */
void eventapi_number(lua_State *L, int idx, eventapi_buf *b) {
    char text[64];
    size_t n;
    if (lua_isinteger(L, idx)) {
        n = integer_text(text, (int64_t)lua_tointeger(L, idx));
    } else {
        double d = lua_tonumber(L, idx);
        if (isnan(d) || isinf(d)) luaL_error(L, "JSON cannot hold %s", isnan(d) ? "NaN" : "infinity");
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

/* Appends the value at idx; depth guards against cycles. Leaves the stack as found. */
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
        if (depth >= MAX_DEPTH) luaL_error(L, "JSON nesting deeper than %d (a cycle?)", MAX_DEPTH);
        luaL_checkstack(L, 6, "JSON too deep");
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
                luaL_error(L, "JSON object keys must be strings, not %s", luaL_typename(L, -2));
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
    luaL_error(L, "JSON cannot hold a %s", luaL_typename(L, idx));
}

/* Appends the JSON text of the value at idx (see encode_value). */
void eventapi_json_encode(lua_State *L, int idx, eventapi_buf *b) {
    encode_value(L, idx, b, 0);
}

/* core.json_encode(value) -> string: exact JSON text; raises on what JSON cannot hold. */
static int l_encode(lua_State *L) {
    eventapi_buf b;
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    eventapi_buf_init(L, &b);
    eventapi_json_encode(L, 1, &b);
    eventapi_buf_finish(&b);
    return 1;
}

/* ---- decoding ---- */

typedef struct reader {
    lua_State *L;
    const char *start, *p, *end;
    int depth;
} reader;

/* Raises a decode error naming the byte offset. */
static void fail(reader *r, const char *what) {
    luaL_error(r->L, "invalid JSON: %s at byte %d", what, (int)(r->p - r->start) + 1);
}

/* Skips blanks. */
static void skip(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

/* Reads 4 hex digits; -1 when malformed. */
static long hex4(const char *p, const char *end) {
    long v = 0;
    if (end - p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

/* Appends code point cp as UTF-8. */
static void add_utf8(luaL_Buffer *b, unsigned long cp) {
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (cp >> 12)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (cp >> 18)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Reads a string literal (r->p at the opening quote) and pushes it. */
static void read_string(reader *r) {
    const char *s = ++r->p;
    while (s < r->end && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20) s++;
    if (s < r->end && *s == '"') { /* fast path: no escapes */
        lua_pushlstring(r->L, r->p, (size_t)(s - r->p));
        r->p = s + 1;
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(r->L, &b);
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            luaL_pushresult(&b);
            return;
        }
        if (c < 0x20) fail(r, "control character in a string");
        if (c != '\\') {
            luaL_addchar(&b, (char)c);
            r->p++;
            continue;
        }
        if (++r->p >= r->end) break;
        switch (*r->p++) {
        case '"': luaL_addchar(&b, '"'); break;
        case '\\': luaL_addchar(&b, '\\'); break;
        case '/': luaL_addchar(&b, '/'); break;
        case 'b': luaL_addchar(&b, '\b'); break;
        case 'f': luaL_addchar(&b, '\f'); break;
        case 'n': luaL_addchar(&b, '\n'); break;
        case 'r': luaL_addchar(&b, '\r'); break;
        case 't': luaL_addchar(&b, '\t'); break;
        case 'u': {
            long cp = hex4(r->p, r->end);
            if (cp < 0) fail(r, "bad \\u escape");
            r->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
                long lo = hex4(r->p + 2, r->end);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    r->p += 6;
                }
            }
            add_utf8(&b, (unsigned long)cp);
            break;
        }
        default: fail(r, "bad escape");
        }
    }
    fail(r, "unterminated string");
}

/* Pushes the integer of the n bytes of JSON integer text at s and returns
 * 1, or returns 0 when it does not fit in 64 bits. */
static int push_integer(lua_State *L, const char *s, size_t n) {
    int negative = *s == '-';
    uint64_t u = 0;
    for (size_t i = (size_t)negative; i < n; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (u > (UINT64_MAX - digit) / 10) return 0;
        u = u * 10 + digit;
    }
    if (u > (uint64_t)INT64_MAX + (uint64_t)negative) return 0;
    lua_pushinteger(L, negative ? (lua_Integer)(0 - u) : (lua_Integer)u);
    return 1;
}

/* Reads the n bytes of a valid JSON number at s into *d exactly when its
 * digits make at most 15 significant ones and its decimal exponent is
 * within 22 (then digits and power of ten are exact doubles, and one
 * multiplication or division rounds as strtod would); returns 0 otherwise. */
static int exact_double(const char *s, size_t n, double *d) {
    const char *p = s, *end = s + n;
    int negative = *p == '-', digits = 0;
    long exponent = 0;
    uint64_t m = 0;
    if (negative) p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (m == 0 && *p == '0') continue;
        if (++digits > 15) return 0;
        m = m * 10 + (uint64_t)(*p - '0');
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            exponent--;
            if (m == 0 && *p == '0') continue;
            if (++digits > 15) return 0;
            m = m * 10 + (uint64_t)(*p - '0');
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int minus = p < end && *p == '-';
        if (p < end && (*p == '+' || *p == '-')) p++;
        long e = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (e < 10000) e = e * 10 + (*p - '0');
        exponent += minus ? -e : e;
    }
    if (exponent < -22 || exponent > 22) return 0;
    double v = (double)m;
    v = exponent < 0 ? v / POW10[-exponent] : v * POW10[exponent];
    *d = negative ? -v : v;
    return 1;
}

/* Reads a number and pushes it: an integer when it has no fraction or
 * exponent and fits in 64 bits, else a float. */
static void read_number(reader *r) {
    const char *s = r->p;
    int integral = 1;
    if (r->p < r->end && *r->p == '-') r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') fail(r, "bad number");
    if (*r->p == '0' && r->p + 1 < r->end && r->p[1] >= '0' && r->p[1] <= '9') fail(r, "leading zero");
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    if (r->p < r->end && *r->p == '.') {
        integral = 0;
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9') fail(r, "bad fraction");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        integral = 0;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9') fail(r, "bad exponent");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    }
    size_t n = (size_t)(r->p - s);
    double d;
    if (integral && push_integer(r->L, s, n)) return;
    if (!exact_double(s, n, &d)) d = text_to_double(r->L, s, n);
    if (isinf(d)) fail(r, "number out of range"); /* 1e400: no double holds it, and it could not be encoded again */
    lua_pushnumber(r->L, d);
}

/* Matches a literal word. */
static int word(reader *r, const char *w, size_t n) {
    if ((size_t)(r->end - r->p) >= n && memcmp(r->p, w, n) == 0) {
        r->p += n;
        return 1;
    }
    return 0;
}

/* Up to this many members are read onto the stack before their table is
 * made, so the table is allocated once at its size instead of growing
 * (about a third of a decoded answer's allocations); members past them are
 * set one by one. Each nesting level holds at most 2 * OBJECT_BATCH or
 * ARRAY_BATCH stack slots (MAX_DEPTH levels stay far below Lua's limit). */
#define OBJECT_BATCH 32
#define ARRAY_BATCH 128

static void read_value(reader *r);

/* Makes the table of the n key/value pairs above base (key at base + 2i + 1),
 * sets them in order (a repeated key: the last one wins) and leaves only the
 * table, at base + 1. */
static void flush_pairs(lua_State *L, int base, int n) {
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, base + 2 * i + 1);
        lua_pushvalue(L, base + 2 * i + 2);
        lua_rawset(L, -3);
    }
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
}

/* Reads an object (the reader is past '{') and pushes its table. */
static void read_object(reader *r) {
    lua_State *L = r->L;
    int base = lua_gettop(L), n = 0, made = 0; /* made: the table is at base + 1 */
    skip(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        lua_newtable(L);
        return;
    }
    for (;;) {
        luaL_checkstack(L, 4, "JSON too deep");
        skip(r);
        if (r->p >= r->end || *r->p != '"') fail(r, "expected a key");
        read_string(r);
        skip(r);
        if (r->p >= r->end || *r->p != ':') fail(r, "expected ':'");
        r->p++;
        read_value(r);
        if (made) {
            lua_rawset(L, base + 1);
        } else if (++n == OBJECT_BATCH) {
            flush_pairs(L, base, n);
            made = 1;
        }
        skip(r);
        if (r->p < r->end && *r->p == ',') { r->p++; continue; }
        if (r->p < r->end && *r->p == '}') { r->p++; break; }
        fail(r, "expected ',' or '}'");
    }
    if (!made) flush_pairs(L, base, n);
}

/* Reads an array (the reader is past '[') and pushes its table, which
 * carries the array metatable. */
static void read_array(reader *r) {
    lua_State *L = r->L;
    int base = lua_gettop(L), n = 0, made = 0; /* made: the table is at base + 1, holding n items */
    skip(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        lua_newtable(L);
        luaL_setmetatable(L, EVENTAPI_ARRAY);
        return;
    }
    for (;;) {
        luaL_checkstack(L, 3, "JSON too deep");
        read_value(r);
        n++;
        if (made) {
            lua_rawseti(L, base + 1, n);
        } else if (n == ARRAY_BATCH) {
            lua_createtable(L, n, 0);
            lua_insert(L, base + 1);
            for (int i = n; i >= 1; i--) lua_rawseti(L, base + 1, i); /* pops from the last */
            made = 1;
        }
        skip(r);
        if (r->p < r->end && *r->p == ',') { r->p++; continue; }
        if (r->p < r->end && *r->p == ']') { r->p++; break; }
        fail(r, "expected ',' or ']'");
    }
    if (!made) {
        lua_createtable(L, n, 0);
        lua_insert(L, base + 1);
        for (int i = n; i >= 1; i--) lua_rawseti(L, base + 1, i);
    }
    luaL_setmetatable(L, EVENTAPI_ARRAY);
}

/* Reads any value and pushes it. */
static void read_value(reader *r) {
    lua_State *L = r->L;
    skip(r);
    if (r->p >= r->end) fail(r, "unexpected end");
    switch (*r->p) {
    case '"': read_string(r); return;
    case '{':
    case '[':
        if (++r->depth > MAX_DEPTH) fail(r, "nesting too deep");
        luaL_checkstack(L, 4, "JSON too deep");
        if (*r->p++ == '{') read_object(r);
        else read_array(r);
        r->depth--;
        return;
    case 't': if (word(r, "true", 4)) { lua_pushboolean(L, 1); return; } break;
    case 'f': if (word(r, "false", 5)) { lua_pushboolean(L, 0); return; } break;
    case 'n': if (word(r, "null", 4)) { lua_pushlightuserdata(L, NULL); return; } break;
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
            read_number(r);
            return;
        }
    }
    fail(r, "unexpected character");
}

/* Pushes the value of the JSON text s; raises "invalid JSON: ..." on error. */
void eventapi_json_decode(lua_State *L, const char *s, size_t len) {
    reader r = {L, s, s, s + len, 0};
    read_value(&r);
    skip(&r);
    if (r.p != r.end) fail(&r, "trailing characters");
}

/* core.array_length(t) -> n, or nil: the length t encodes with as a JSON array
 * (0 for an empty table carrying the array metatable), nil when it encodes as
 * an object; one rule for the encoder and the CLI's sorted printer. */
static int l_array_length(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = array_length(L, 1);
    if (n < 0) lua_pushnil(L);
    else lua_pushinteger(L, n);
    return 1;
}

/* core.json_decode(text) -> value: integers stay integers, null is eventapi.null. */
static int l_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    eventapi_json_decode(L, s, len);
    return 1;
}

/* Registers json_encode/json_decode and the array metatable into the table on top. */
int eventapi_open_json(lua_State *L) {
    static const luaL_Reg fns[] = {{"json_encode", l_encode}, {"json_decode", l_decode}, {"array_length", l_array_length}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    luaL_newmetatable(L, EVENTAPI_ARRAY);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_setfield(L, -2, "array");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 0;
}
