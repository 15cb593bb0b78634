/* eventapi.core: the module table. Stack discipline of luaopen: the loop
 * userdata sits just below the module table while the parts register, so
 * they can capture it as upvalue 1. */
#include "eventapi.h"

/* luaopen_eventapi_core: require "eventapi.core" -> the module table. */
int luaopen_eventapi_core(lua_State *L) {
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return luaL_error(L, "curl_global_init failed");
        curl_ready = 1;
    }
    lua_newtable(L);
    eventapi_open_loop(L);    /* stack: loop, module */
    eventapi_open_promise(L);
    eventapi_open_json(L);
    eventapi_open_encode(L);
    lua_pushliteral(L, EVENTAPI_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    lua_remove(L, -2);        /* the loop stays referenced by the registry and the upvalues */
    return 1;
}
