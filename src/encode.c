/* eventapi.core encoding of request parts: percent-encoding of path
 * segments and query components, and the exact text of numbers. */
#include "eventapi.h"

#include <string.h>

/* 1 for the RFC 3986 unreserved characters, which travel as they are. */
static int unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
           || c == '_' || c == '~';
}

/* Appends s to b with every byte but the unreserved ones as %XX. */
void eventapi_escape(eventapi_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) continue;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        eventapi_buf_add(b, s + run, i - run);
        eventapi_buf_add(b, esc, 3);
        run = i + 1;
    }
    eventapi_buf_add(b, s + run, len - run);
}

/* core.escape(s) -> s with every byte but the unreserved ones as %XX (safe in a path segment or query). */
static int l_escape(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t first = 0;
    while (first < len && unreserved((unsigned char)s[first])) first++;
    if (first == len) { /* nothing to escape: the string itself, no allocation */
        lua_settop(L, 1);
        return 1;
    }
    eventapi_buf b;
    eventapi_buf_init(L, &b);
    eventapi_escape(&b, s, len);
    eventapi_buf_finish(&b);
    return 1;
}

/* core.number_text(n) -> the exact text of n: integers as integers, integral floats without ".0",
 * other floats as the shortest text that reads back to the same double. */
static int l_number_text(lua_State *L) {
    eventapi_buf b;
    luaL_checknumber(L, 1);
    eventapi_buf_init(L, &b);
    eventapi_number(L, 1, &b);
    eventapi_buf_finish(&b);
    return 1;
}

/* Registers the encoding functions into the table on top. */
int eventapi_open_encode(lua_State *L) {
    static const luaL_Reg fns[] = {{"escape", l_escape}, {"number_text", l_number_text}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    return 0;
}
