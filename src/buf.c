/* eventapi.core output buffer (eventapi_buf, see eventapi.h): the JSON
 * encoder's and the operations' output. The first bytes go into the struct;
 * then the output grows in a userdata kept at a fixed stack slot (replaced
 * when it grows), so a raised error leaks nothing and the encoder can push
 * and pop freely (a luaL_Buffer would move the stack top under our feet).
 * eventapi_buf_reserve and eventapi_buf_add are inline in eventapi.h. */
#include "eventapi.h"

#include <string.h>

/* Starts a buffer: pushes its slot (nil: the first bytes go into the struct). */
void eventapi_buf_init(lua_State *L, eventapi_buf *b) {
    b->L = L;
    b->cap = sizeof b->inline_bytes;
    b->len = 0;
    b->data = b->inline_bytes;
    lua_pushnil(L);
    b->slot = lua_gettop(L);
}

/* Makes room for n more bytes (eventapi_buf_reserve's slow path: the
 * buffer is full): a userdata twice as large or more replaces the slot. */
void eventapi_buf_grow(eventapi_buf *b, size_t n) {
    if (b->len + n <= b->cap) return;
    size_t cap = b->cap * 2;
    while (cap < b->len + n) cap *= 2;
    char *data = lua_newuserdatauv(b->L, cap, 0);
    memcpy(data, b->data, b->len);
    lua_replace(b->L, b->slot);
    b->data = data;
    b->cap = cap;
}

/* Replaces the buffer's slot by the string it holds; leaves the string at that slot. */
void eventapi_buf_finish(eventapi_buf *b) {
    lua_pushlstring(b->L, b->data, b->len);
    lua_replace(b->L, b->slot);
}
