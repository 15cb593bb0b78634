/* eventapi.core configs (core.config: per-client settings) and the pool of
 * idle easy handles, each kept set up for the config it last served. */
#include "loop.h"

#include <stdlib.h>
#include <string.h>

/* Builds a curl header list from the string array at idx (field name); raises on bad input. */
static struct curl_slist *header_list(lua_State *L, int idx, const char *field) {
    struct curl_slist *list = NULL;
    if (lua_getfield(L, idx, field) == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *h = lua_tostring(L, -1);
            struct curl_slist *next = h ? curl_slist_append(list, h) : NULL;
            lua_pop(L, 1);
            if (!next) {
                curl_slist_free_all(list);
                if (h) eventapi_error(L, "OutOfMemory", "out of memory");
                eventapi_error(L, "InvalidParams", "%s[%d] must be a string", field, (int)i);
            }
            list = next;
        }
    }
    lua_pop(L, 1);
    return list;
}

/* Copies an optional string field; raises on out of memory. */
static char *opt_string(lua_State *L, int idx, const char *field) {
    char *copy = NULL;
    if (lua_getfield(L, idx, field) == LUA_TSTRING) {
        copy = strdup(lua_tostring(L, -1));
        if (!copy) eventapi_error(L, "OutOfMemory", "out of memory");
    }
    lua_pop(L, 1);
    return copy;
}


/* Reads an optional number field in seconds as milliseconds: 0 (none) unless a
 * positive number; at least 1 ms, at most a day (no overflowing cast). */
static long opt_ms(lua_State *L, int idx, const char *field) {
    long ms = 0;
    if (lua_getfield(L, idx, field) == LUA_TNUMBER) {
        double s = lua_tonumber(L, -1);
        if (s > 0) ms = s >= MAX_SECONDS ? (long)(MAX_SECONDS * 1000.0) : (long)(s * 1000.0) + (s * 1000.0 < 1.0);
    }
    lua_pop(L, 1);
    return ms;
}

/* core.config{headers=, body_headers=, timeout=, connect_timeout=, idle_timeout=, ca_file=, insecure=,
 * user_agent=, userpwd=, max_body=, max_connections=} -> config userdata. */
static int l_config(lua_State *L) {
    loop *lp = eventapi_loop(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    config *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, EVENTAPI_CONFIG);
    c->serial = ++lp->config_serial;
    c->headers = header_list(L, 1, "headers");
    c->body_headers = header_list(L, 1, "body_headers");
    c->timeout_ms = opt_ms(L, 1, "timeout");
    c->connect_timeout_ms = opt_ms(L, 1, "connect_timeout");
    c->idle_s = (opt_ms(L, 1, "idle_timeout") + 999) / 1000;
    c->ca_file = opt_string(L, 1, "ca_file");
    c->user_agent = opt_string(L, 1, "user_agent");
    c->userpwd = opt_string(L, 1, "userpwd");
    lua_getfield(L, 1, "insecure");
    c->insecure = lua_toboolean(L, -1);
    lua_getfield(L, 1, "max_body");
    c->max_body = lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 ? (size_t)lua_tointeger(L, -1)
                                                                    : (size_t)64 * 1024 * 1024;
    lua_getfield(L, 1, "max_connections");
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > lp->max_connections) {
        lp->max_connections = (long)lua_tointeger(L, -1);
        curl_multi_setopt(lp->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, lp->max_connections);
    }
    lua_pop(L, 3);
    return 1;
}

/* __gc of a config: frees its lists and strings (the userpwd is wiped first),
 * and resets the idle easy handles set up for it, so curl's copies of its
 * credentials do not outlive it there. */
static int l_config_gc(lua_State *L) {
    config *c = luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    loop *lp = eventapi_loop(L);
    for (int i = 0; i < lp->npool; i++) { /* none once the loop closed */
        if (lp->pool_config[i] != c->serial) continue;
        curl_easy_reset(lp->pool[i]);
        lp->pool_config[i] = 0;
    }
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->body_headers);
    if (c->userpwd) memset(c->userpwd, 0, strlen(c->userpwd));
    free(c->ca_file);
    free(c->user_agent);
    free(c->userpwd);
    memset(c, 0, sizeof *c);
    return 0;
}

/* Applies method and body to an easy handle, whatever the request before it
 * on the same handle set: back to a plain GET first (HTTPGET also clears
 * NOBODY and UPLOAD), no custom method. -> CURLE_OK, or curl's error when it
 * could not copy the body or the method (out of memory). */
CURLcode set_method(CURL *e, const char *method, const char *body, size_t body_len) {
    CURLcode rc;
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
        if (rc == CURLE_OK && strcmp(method, "POST") != 0) rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        return rc;
    }
    if (strcmp(method, "GET") == 0) return CURLE_OK;
    if (strcmp(method, "HEAD") == 0) return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (rc == CURLE_OK && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "");
    }
    return rc;
}

/* Sets up an easy handle for the requests of config c: what is the same for
 * every one of them (the callbacks, the loop's share and sockets, c's
 * timeouts, TLS, user agent and credentials). -> 0 when curl could not copy
 * a string (out of memory): the handle must not serve c then. */
static int set_config(CURL *e, loop *lp, const config *c) {
    CURLcode rc = CURLE_OK;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, lp->share);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, lp);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, lp);
    if (c->timeout_ms) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (c->connect_timeout_ms) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* a proxy's CONNECT answer is no header block of ours */
    if (c->user_agent) rc = curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    if (c->ca_file && rc == CURLE_OK) rc = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->userpwd && rc == CURLE_OK) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        rc = curl_easy_setopt(e, CURLOPT_USERPWD, c->userpwd);
    }
    if (c->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return rc == CURLE_OK;
}

/* An easy handle for a request of config c: an idle one last set up for c
 * (its options stand: curl_easy_reset and setting them again cost a
 * request about 2 % of its instructions and 8 % of its first-level cache
 * misses, under cachegrind),
 * else an idle one reset to curl's defaults (pool_config 0: reset as it
 * went idle) and set up for c, else a new one set up for c; NULL when out of memory. A handle of another config is
 * never reused as it is: its credentials and TLS settings are not c's. */
CURL *take_handle(loop *lp, const config *c) {
    CURL *e;
    for (int i = lp->npool - 1; i >= 0; i--) {
        if (lp->pool_config[i] != c->serial) continue;
        e = lp->pool[i];
        lp->npool--;
        lp->pool[i] = lp->pool[lp->npool];
        lp->pool_config[i] = lp->pool_config[lp->npool];
        return e;
    }
    if (lp->npool) {
        lp->npool--;
        e = lp->pool[lp->npool];
        if (lp->pool_config[lp->npool] != 0) curl_easy_reset(e); /* 0: reset already, as it went idle */
    } else {
        e = curl_easy_init();
    }
    if (e && !set_config(e, lp, c)) {
        curl_easy_cleanup(e);
        e = NULL;
    }
    return e;
}

/* Registers core.config into the module table on top, the loop just below
 * it as its upvalue 1, and makes the config metatable; leaves the stack as it was. */
void eventapi_open_config(lua_State *L) {
    static const luaL_Reg fns[] = {{"config", l_config}, {NULL, NULL}};
    if (luaL_newmetatable(L, EVENTAPI_CONFIG)) {
        lua_pushvalue(L, -3); /* the loop: its idle handles hold copies of a config's strings */
        lua_pushcclosure(L, l_config_gc, 1);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
}
