/* eventapi.core JSON decoder: exact numbers in.
 *
 * Integral JSON numbers that fit in 64 bits come back as Lua integers, the
 * others as the double strtod reads (with '.' whatever the C locale's
 * decimal point; a number of at most 15 digits and an exponent within 22, without a
 * trip through strtod). JSON null is a light userdata NULL (the value of
 * eventapi.null, the same as cjson.null); decoded arrays carry the
 * EVENTAPI_ARRAY metatable so that an empty array encodes as [] again.
 * Straight from the text into Lua tables, no tree between. A failure raises
 * an InvalidParams eventapi.Error "invalid JSON: <what> at byte <n>"
 * (transfer.c decodes a 2xx answer under its own protection and leaves a
 * failure to the response mapping). The encoder is json_encode.c. */
#include "eventapi.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct reader {
    lua_State *L;
    const char *start, *p, *end;
    int depth;
} reader;

/* Raises the decode error (InvalidParams) naming the byte offset. */
static void fail(reader *r, const char *what) {
    eventapi_error(r->L, "InvalidParams", "invalid JSON: %s at byte %d", what, (int)(r->p - r->start) + 1);
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
    v = exponent < 0 ? v / eventapi_pow10[-exponent] : v * eventapi_pow10[exponent];
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
    if (!exact_double(s, n, &d)) d = eventapi_text_to_double(r->L, s, n);
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
 * ARRAY_BATCH stack slots (EVENTAPI_JSON_MAX_DEPTH levels stay far below Lua's limit). */
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
        eventapi_json_checkstack(L, 4);
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
        eventapi_json_checkstack(L, 3);
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
        if (++r->depth > EVENTAPI_JSON_MAX_DEPTH) fail(r, "nesting too deep");
        eventapi_json_checkstack(L, 4);
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

/* Pushes the value of the JSON text s; raises InvalidParams "invalid JSON: <what> at byte <n>". */
void eventapi_json_decode(lua_State *L, const char *s, size_t len) {
    reader r = {L, s, s, s + len, 0};
    read_value(&r);
    skip(&r);
    if (r.p != r.end) fail(&r, "trailing characters");
}

/* core.json_decode(text) -> value: integers stay integers, null is eventapi.null; raises InvalidParams. */
int eventapi_json_decode_fn(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    eventapi_json_decode(L, s, len);
    return 1;
}
