/* eventapi.core operations, building: a call's params checked against its
 * compiled spec (unknown, missing, kinds, enums, requires, overridden_by),
 * the row's Lua functions (path, check, body_of) called on the way, and the
 * URL, query, header lines and JSON body written (core.build, and the fast
 * path of a bound call). */
#include "operation.h"

/* ---- building a request ---- */

/* Raises InvalidParams {message=, param=} for the call (message formatted). */
static int invalid(lua_State *L, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    eventapi_push_error(L, "InvalidParams", "%s", lua_tostring(L, -1));
    if (param) {
        lua_pushstring(L, param);
        lua_setfield(L, -2, "param");
    }
    return lua_error(L);
}

/* Raises InvalidParams "<op>: <param> must be <want>, not <shown>" where a
 * string value is shown quoted, a number as tostring shows it (or as the text
 * at text when given), anything else as "a <type>". */
static int wrong(lua_State *L, const spec *s, const param *p, const char *want, int v, int text) {
    v = lua_absindex(L, v);
    int t = lua_type(L, v);
    lua_pushfstring(L, "%s: %s must be %s, not ", s->name, p->name, want);
    if (text) lua_pushvalue(L, text);
    else if (t == LUA_TSTRING) {
        lua_pushliteral(L, "'");
        lua_pushvalue(L, v);
        lua_pushliteral(L, "'");
        lua_concat(L, 3);
    } else if (t == LUA_TNUMBER && lua_tonumber(L, v) != lua_tonumber(L, v)) lua_pushliteral(L, "NaN"); /* not -nan */
    else if (t == LUA_TNUMBER) luaL_tolstring(L, v, NULL);
    else lua_pushfstring(L, "a %s", luaL_typename(L, v));
    lua_concat(L, 2);
    return invalid(L, p->name, "%s", lua_tostring(L, -1));
}

/* The text of the error value at idx: an eventapi.Error's message, else
 * its tostring (pushed above it). */
static const char *error_text(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (lua_istable(L, idx) && lua_getfield(L, idx, "message") == LUA_TSTRING) return lua_tostring(L, -1);
    return luaL_tolstring(L, idx, NULL);
}

/* protected part of encode_json: returns the JSON text of the value at 1. */
static int encode_text(lua_State *L) {
    eventapi_buf b;
    eventapi_buf_init(L, &b);
    eventapi_json_encode(L, 1, &b);
    eventapi_buf_finish(&b);
    return 1;
}

/* Appends the JSON text of the value at idx to b; raises InvalidParams
 * "<what> cannot be encoded as JSON: <why>" as the Lua encoder does. */
static void encode_json(lua_State *L, int idx, eventapi_buf *b, const char *what) {
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, encode_text);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        eventapi_buf_add(b, text, len);
        lua_pop(L, 1);
        return;
    }
    invalid(L, NULL, "%s cannot be encoded as JSON: %s", what, error_text(L, -1));
}

/* 1 when the number at idx is an integer or a float with an integer's exact value. */
static int integral(lua_State *L, int idx) {
    if (lua_isinteger(L, idx)) return 1;
    lua_Number d = lua_tonumber(L, idx);
    return d >= -9.2233720368547758e18 && d < 9.2233720368547758e18 && d == (lua_Number)(lua_Integer)d;
}

/* 1 when s (len bytes) is a whole number's digits: an optional '-', then 1 to 19 digits. */
static int digits(const char *s, size_t len) {
    size_t i = len && s[0] == '-';
    if (len - i < 1 || len - i > 19) return 0;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* Appends the text of the value at v for param p (query or header) to b;
 * raises InvalidParams naming the param and the kind it wants. */
void value_text(lua_State *L, const spec *s, const param *p, int v, eventapi_buf *b) {
    int t = lua_type(L, v);
    size_t start = b->len, len;
    if (p->kind == KIND_JSON) {
        if (t == LUA_TSTRING) {
            const char *text = lua_tolstring(L, v, &len);
            eventapi_buf_add(b, text, len);
            return;
        }
        if (t != LUA_TTABLE) wrong(L, s, p, "a table or a JSON string", v, 0);
        lua_pushfstring(L, "%s: %s", s->name, p->name);
        encode_json(L, v, b, lua_tostring(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (p->kind == KIND_BOOLEAN) {
        if (t != LUA_TBOOLEAN) wrong(L, s, p, "true or false", v, 0);
        eventapi_buf_add(b, lua_toboolean(L, v) ? "true" : "false", lua_toboolean(L, v) ? 4 : 5);
        return;
    }
    if (t == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, v);
        if (!lua_isinteger(L, v) && (d != d || d == (lua_Number)HUGE_VAL || d == -(lua_Number)HUGE_VAL))
            wrong(L, s, p, "a finite number", v, 0);
        if ((p->kind == KIND_INTEGER || p->kind == KIND_STRING) && !integral(L, v)) wrong(L, s, p, "a whole number", v, 0);
        if (p->kind == KIND_TABLE) wrong(L, s, p, "a table", v, 0);
        eventapi_number(L, v, b);
    } else if (t == LUA_TSTRING && p->kind == KIND_INTEGER && digits(lua_tostring(L, v), lua_rawlen(L, v))) {
        eventapi_buf_add(b, lua_tostring(L, v), lua_rawlen(L, v)); /* its digits, as the caller wrote them */
    } else if (t != LUA_TSTRING || p->kind == KIND_INTEGER || p->kind == KIND_NUMBER) {
        wrong(L, s, p, p->kind == KIND_INTEGER ? "a whole number" : lua_pushfstring(L, "a %s", KINDS[p->kind]), v, 0);
    } else {
        const char *text = lua_tolstring(L, v, &len);
        eventapi_buf_add(b, text, len);
    }
    if (!p->enums) return;
    len = b->len - start;
    for (char **e = p->enums; *e; e++)
        if (strlen(*e) == len && memcmp(*e, b->data + start, len) == 0) return;
    int text = 0;
    if (t == LUA_TNUMBER) { /* a number is shown as the text it would have sent */
        lua_pushlstring(L, b->data + start, len);
        text = lua_gettop(L);
    }
    wrong(L, s, p, lua_pushfstring(L, "one of %s", p->enum_text), v, text);
}

#define HASH_DEPTH 32 /* nesting levels of a hash param */

typedef struct hash_key {
    const char *text;
    size_t len;
} hash_key;

/* qsort's order of an object's keys: bytewise, the shorter first on a common prefix. */
static int hash_key_order(const void *a, const void *b) {
    const hash_key *x = a, *y = b;
    int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Appends to url the query pairs of the leaf or table at v, whose key so far
 * (the param's wire name and its brackets, unescaped) is in key: the official
 * client's bracket form, `tagFilter[0][key]=k`. Arrays count from 0, the keys
 * of an object go in sorted order, an empty table writes nothing, null writes
 * `key=`. *n counts the pairs of the whole query. Raises InvalidParams. */
static void hash_pairs(lua_State *L, const spec *s, const param *p, int v, eventapi_buf *key, eventapi_buf *url,
                       int *n, int depth) {
    int t = lua_type(L, v);
    if (t != LUA_TTABLE) {
        eventapi_buf_add(url, (*n)++ ? "&" : "?", 1);
        eventapi_escape(url, key->data, key->len);
        eventapi_buf_add(url, "=", 1);
        if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, v) == NULL) return; /* eventapi.null */
        if (t == LUA_TBOOLEAN) {
            eventapi_buf_add(url, lua_toboolean(L, v) ? "true" : "false", lua_toboolean(L, v) ? 4 : 5);
            return;
        }
        if (t != LUA_TSTRING && t != LUA_TNUMBER) wrong(L, s, p, "a table of strings, numbers and booleans", v, 0);
        if (t == LUA_TNUMBER && !lua_isinteger(L, v)) {
            lua_Number d = lua_tonumber(L, v);
            if (d != d || d == (lua_Number)HUGE_VAL || d == -(lua_Number)HUGE_VAL) wrong(L, s, p, "a finite number", v, 0);
        }
        eventapi_buf text;
        eventapi_buf_init(L, &text);
        if (t == LUA_TNUMBER) eventapi_number(L, v, &text);
        else eventapi_buf_add(&text, lua_tostring(L, v), lua_rawlen(L, v));
        eventapi_escape(url, text.data, text.len);
        lua_pop(L, 1);
        return;
    }
    if (depth > HASH_DEPTH) invalid(L, p->name, "%s: %s nests deeper than %d levels", s->name, p->name, HASH_DEPTH);
    luaL_checkstack(L, 8, "a hash param");
    size_t keep = key->len;
    lua_Integer count = (lua_Integer)lua_rawlen(L, v);
    lua_Integer keys = 0;
    lua_pushnil(L);
    while (lua_next(L, v)) {
        lua_pop(L, 1);
        keys++;
        if (lua_type(L, -1) != LUA_TSTRING && !(lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
                                               lua_tointeger(L, -1) <= count)) {
            lua_pop(L, 1);
            invalid(L, p->name, "%s: %s must be a list or a table with string keys", s->name, p->name);
        }
    }
    if (keys == count) { /* a list: key[0], key[1], ... */
        for (lua_Integer i = 1; i <= count; i++) {
            lua_rawgeti(L, v, i);
            key->len = keep;
            char index[24];
            int len = snprintf(index, sizeof index, "[%lld]", (long long)(i - 1));
            eventapi_buf_add(key, index, (size_t)len);
            hash_pairs(L, s, p, lua_gettop(L), key, url, n, depth + 1);
            lua_pop(L, 1);
        }
    } else { /* an object: its string keys, sorted */
        hash_key *list = lua_newuserdatauv(L, (size_t)keys * sizeof *list, 0); /* anchors nothing: v holds the keys */
        lua_Integer m = 0;
        lua_pushnil(L);
        while (lua_next(L, v)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) {
                lua_pop(L, 1);
                invalid(L, p->name, "%s: %s mixes list items and string keys", s->name, p->name);
            }
            list[m].text = lua_tolstring(L, -1, &list[m].len); /* v keeps the key alive */
            m++;
        }
        qsort(list, (size_t)m, sizeof *list, hash_key_order);
        for (lua_Integer i = 0; i < m; i++) {
            key->len = keep;
            eventapi_buf_add(key, "[", 1);
            eventapi_buf_add(key, list[i].text, list[i].len);
            eventapi_buf_add(key, "]", 1);
            lua_pushlstring(L, list[i].text, list[i].len);
            lua_rawget(L, v);
            hash_pairs(L, s, p, lua_gettop(L), key, url, n, depth + 1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1); /* the key list */
    }
    key->len = keep;
}

/* Appends "wire: value" of header param p (value at v) to the list at list. */
static void header_param(lua_State *L, const spec *s, const param *p, int v, int list) {
    eventapi_buf b;
    eventapi_buf_init(L, &b);
    const char *wire = p->wire ? p->wire : p->name; /* a token: compile_param checked it */
    eventapi_buf_add(&b, wire, strlen(wire));
    eventapi_buf_add(&b, ": ", 2);
    size_t from = b.len;
    value_text(L, s, p, v, &b);
    for (size_t i = from; i < b.len; i++)
        if (b.data[i] == '\r' || b.data[i] == '\n' || b.data[i] == '\0')
            invalid(L, NULL, "%s: %s must not contain CR, LF or NUL", s->name, p->name);
    eventapi_buf_finish(&b);
    lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
}

/* Raises unless every key of the params table at idx names a param of s (or is "headers"). */
static void check_known(lua_State *L, const spec *s, int idx) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            known = strcmp(k, "headers") == 0;
            for (int i = 0; i < s->nparams && !known; i++)
                known = !s->params[i].has_fixed && strcmp(s->params[i].name, k) == 0;
        }
        if (!known) {
            lua_pushvalue(L, -1);
            int key = lua_gettop(L);
            lua_pushfstring(L, "%s: unknown param '%s'", s->name, luaL_tolstring(L, key, NULL));
            eventapi_push_error(L, "InvalidParams", "%s", lua_tostring(L, -1));
            lua_pushvalue(L, key);
            lua_setfield(L, -2, "param");
            lua_error(L);
        }
    }
}

/* Appends the expanded path of s to url: each placeholder's param a non-empty
 * string (or an integer), not a dot segment, percent-encoded. */
static void build_path(lua_State *L, const spec *s, int params, eventapi_buf *url) {
    for (int i = 0; i < s->nsegments; i++) {
        const segment *g = &s->path[i];
        if (g->text) {
            eventapi_buf_add(url, g->text, strlen(g->text));
            continue;
        }
        const char *key = s->params[g->param].name;
        int t = lua_getfield(L, params, key);
        if (t == LUA_TNIL) invalid(L, key, "%s: missing required param '%s'", s->name, key);
        if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
        } else if (t != LUA_TSTRING) {
            invalid(L, key, "%s: %s must be a string, not a %s", s->name, key, luaL_typename(L, -1));
        }
        size_t len;
        const char *v = lua_tolstring(L, -1, &len);
        if (len == 0) invalid(L, key, "%s: %s must not be empty", s->name, key);
        if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) /* a dot segment would be squashed, climbing the path */
            invalid(L, key, "%s: %s must not be '%s'", s->name, key, v);
        eventapi_escape(url, v, len);
        lua_pop(L, 1);
    }
}

/* invalid(message [, extra]): the function a row's path function gets to
 * raise InvalidParams with; the fields of extra (such as param) are copied. */
static int l_invalid(lua_State *L) {
    eventapi_push_error(L, "InvalidParams", "%s", luaL_checkstring(L, 1));
    if (lua_istable(L, 2)) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    return lua_error(L);
}

/* Appends what the row's path function (row at row) gives for the params at
 * params to url; raises what it raises, InvalidParams for a non-string. */
static void path_of(lua_State *L, const spec *s, int row, int params, eventapi_buf *url) {
    lua_getfield(L, row, "path");
    lua_pushvalue(L, params);
    lua_pushstring(L, s->name);
    lua_pushcfunction(L, l_invalid);
    lua_call(L, 3, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
        eventapi_error(L, "InvalidParams", "%s: the path function gave a %s, not a string", s->name, luaL_typename(L, -1));
    size_t len;
    const char *path = lua_tolstring(L, -1, &len);
    eventapi_buf_add(url, path, len);
    lua_pop(L, 1);
}

/* Runs the check of param i (p) of the spec at sp on the value at v: check(v)
 * returns the value to send (nil: v as given), or nil and a message, which
 * becomes InvalidParams "<op>: <param> <message>". An error the check raises
 * (a bug in it) becomes InvalidParams with that error's text. */
static void run_check(lua_State *L, const spec *s, const param *p, int sp, int i, int v) {
    lua_getiuservalue(L, sp, 3); /* the params list the spec was compiled with */
    lua_rawgeti(L, -1, i + 1);
    lua_getfield(L, -1, "check");
    lua_pushvalue(L, v);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        invalid(L, p->name, "%s: %s check failed: %s", s->name, p->name, error_text(L, -1));
    if (lua_isnil(L, -2) && !lua_isnil(L, -1))
        invalid(L, p->name, "%s: %s %s", s->name, p->name, luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1); /* the message: nil */
    if (!lua_isnil(L, -1)) lua_replace(L, v);
    lua_settop(L, v);
}

/* 1 when param p is given: in the params table at params, or fixed, or defaulted. */
static int given(lua_State *L, const param *p, int params) {
    if (p->has_fixed || p->has_default) return 1;
    int t = lua_getfield(L, params, p->name);
    lua_pop(L, 1);
    return t != LUA_TNIL;
}

/* Raises InvalidParams when p is given without the param it requires (every
 * value already checked, so a wrong value is reported first). */
static void check_requires(lua_State *L, const spec *s, const param *p, int params) {
    if (p->requires < 0 || !given(L, p, params)) return;
    const param *q = &s->params[p->requires];
    if (!given(L, q, params))
        invalid(L, p->name, "%s: %s needs %s (without it the server ignores %s)", s->name, p->name, q->name, p->name);
}

/* Raises InvalidParams when p is given with the param that overrides it (the
 * server would ignore p: the caller means it to apply). */
static void check_overridden(lua_State *L, const spec *s, const param *p, int params) {
    if (p->overridden_by < 0 || !given(L, p, params)) return;
    const param *q = &s->params[p->overridden_by];
    if (given(L, q, params))
        invalid(L, p->name, "%s: %s overrides %s: put %s inside the %s", s->name, q->name, p->name, p->name, q->name);
}

/* Builds the request of an operation: the URL (base at base, then the path and
 * the query) into url, the JSON body (if any) into body; an upload's form
 * params become its parts list (upload.c) in place of the body table. The params table is
 * at params, the spec userdata at sp. Leaves on the stack: the body table (or nil) and the list of
 * header lines (or nil), in that order. Raises InvalidParams. */
unsigned long eventapi_builds; /* requests built so far, in the process (the specs' builds()) */

void build(lua_State *L, const spec *s, int sp, int params, int base, eventapi_buf *url, eventapi_buf *body) {
    eventapi_builds++;
    luaL_checkstack(L, 24, "building a request"); /* its slots, a check's call, an error's message */
    check_known(L, s, params);
    size_t len;
    const char *b = lua_tolstring(L, base, &len);
    eventapi_buf_add(url, b, len);
    int row = 0;
    if (!s->plain) {
        lua_getiuservalue(L, sp, 2);
        row = lua_gettop(L);
    }
    if (s->path_fn) path_of(L, s, row, params, url);
    else build_path(L, s, params, url);
    lua_pushnil(L); /* the body table */
    lua_pushnil(L); /* the header lines */
    int data = lua_gettop(L) - 1, lines = data + 1, nquery = 0;
    if (s->body_of) lua_newtable(L); /* the attributes body_of gets */
    else lua_pushnil(L);
    int attributes = lines + 1;
    lua_getiuservalue(L, sp, 1); /* the spec's default and fixed values */
    int values = lua_gettop(L);
    int form = 0; /* an upload: data is its parts list, no JSON body */
    for (int i = 0; i < s->nparams; i++) {
        const param *p = &s->params[i];
        int constant = p->has_fixed;
        form |= p->place == PLACE_FORM;
        if (p->has_fixed) lua_rawgeti(L, values, 2 * i + 2);
        else lua_getfield(L, params, p->name);
        if (lua_isnil(L, -1) && p->has_default) {
            lua_pop(L, 1);
            lua_rawgeti(L, values, 2 * i + 1);
            constant = 1;
        }
        int v = lua_gettop(L);
        if (constant && p->constant_query) {
            eventapi_buf_add(url, nquery++ ? "&" : "?", 1);
            eventapi_buf_add(url, p->constant_query, strlen(p->constant_query));
            lua_settop(L, values);
            continue;
        }
        if (p->has_check && !lua_isnil(L, v)) run_check(L, s, p, sp, i, v);
        if (lua_isnil(L, v)) {
            if (p->required) invalid(L, p->name, "%s: missing required param '%s'", s->name, p->name);
        } else if (p->place == PLACE_QUERY && p->kind == KIND_HASH) {
            if (!lua_istable(L, v)) wrong(L, s, p, "a table", v, 0);
            eventapi_buf key;
            eventapi_buf_init(L, &key);
            const char *wire = p->wire ? p->wire : p->name;
            eventapi_buf_add(&key, wire, strlen(wire));
            hash_pairs(L, s, p, v, &key, url, &nquery, 1);
            lua_pop(L, 1);
        } else if (p->place == PLACE_QUERY) {
            eventapi_buf_add(url, nquery++ ? "&" : "?", 1);
            eventapi_buf_add(url, p->query_key, strlen(p->query_key));
            eventapi_buf text;
            eventapi_buf_init(L, &text);
            value_text(L, s, p, v, &text);
            eventapi_escape(url, text.data, text.len);
            lua_pop(L, 1);
        } else if (p->place == PLACE_HEADER) {
            if (lua_isnil(L, lines)) {
                lua_newtable(L);
                lua_replace(L, lines);
            }
            header_param(L, s, p, v, lines);
        } else if (p->place == PLACE_FORM) { /* a multipart part: described in the parts list (data) */
            if (lua_isnil(L, data)) {
                lua_newtable(L);
                lua_replace(L, data);
            }
            upload_form_part(L, s, p, v, data);
        } else if (p->place == PLACE_BODY) {
            if (!lua_istable(L, v))
                invalid(L, p->name, "%s: %s must be a table, not a %s", s->name, p->name, luaL_typename(L, v));
            lua_pushvalue(L, v);
            lua_replace(L, data);
        } else if (p->place == PLACE_ATTRIBUTE && s->body_of) {
            lua_pushvalue(L, v);
            lua_setfield(L, attributes, p->wire ? p->wire : p->name);
        }
        lua_settop(L, values);
    }
    for (int i = 0; i < s->nparams; i++) check_overridden(L, s, &s->params[i], params);
    for (int i = 0; i < s->nparams; i++) check_requires(L, s, &s->params[i], params);
    if (s->body_of) { /* the body is what body_of(params, attributes) gives */
        lua_getfield(L, row, "body_of");
        lua_pushvalue(L, params);
        lua_pushvalue(L, attributes);
        lua_call(L, 2, 1);
        lua_replace(L, data);
    }
    lua_settop(L, lines);
    if (row) {
        lua_remove(L, row); /* data and lines move down one */
        data--;
    }
    if (!form && !lua_isnil(L, data)) { /* (an upload's parts list stays as data: no body) */
        lua_pushfstring(L, "%s: the body", s->name);
        encode_json(L, data, body, lua_tostring(L, -1));
        lua_pop(L, 1);
    } else if (!form && s->empty_object && s->method != METHODS[0]) { /* DELETE too, as the official client sends it */
        eventapi_buf_add(body, "{}", 2); /* data stays nil: no table was given */
    }
    eventapi_buf_add(url, "", 1); /* NUL-terminated for curl; len counts it */
    url->len--;
}

/* core.build(spec, base_url, params) -> url, body, data, headers: the request of an
 * operation (body: the JSON text or nil; data: the body table, an upload's parts list; headers: the lines of
 * header params or nil), the row's path, check and body_of functions called on the
 * way; raises InvalidParams as a call would reject. */
static int l_build(lua_State *L) {
    spec *s = luaL_checkudata(L, 1, EVENTAPI_SPEC);
    luaL_checkstring(L, 2);
    if (!lua_istable(L, 3)) return invalid(L, NULL, "%s: params must be a table", s->name);
    lua_settop(L, 3);
    eventapi_buf url, body;
    eventapi_buf_init(L, &url);  /* 4 */
    eventapi_buf_init(L, &body); /* 5 */
    build(L, s, 1, 3, 2, &url, &body); /* 6: data, 7: header lines */
    eventapi_buf_finish(&url);
    if (body.len) eventapi_buf_finish(&body);
    else {
        lua_pushnil(L);
        lua_replace(L, 5);
    }
    return 4;
}

/* core.value_text(value, opname, name) -> text: a query value of client:request
 * as an operation's param writes it, its kind taken from its type (a table is
 * JSON, a boolean true/false, a number a number, anything else a string);
 * raises InvalidParams "<opname>: <name> must be ..." as a param would. */
static int l_value_text(lua_State *L) {
    lua_settop(L, 3);
    spec s;
    param p;
    memset(&s, 0, sizeof s);
    memset(&p, 0, sizeof p);
    s.name = (char *)luaL_checkstring(L, 2);
    p.name = (char *)luaL_checkstring(L, 3);
    int t = lua_type(L, 1);
    p.kind = t == LUA_TTABLE ? KIND_JSON : t == LUA_TBOOLEAN ? KIND_BOOLEAN : t == LUA_TNUMBER ? KIND_NUMBER : KIND_STRING;
    eventapi_buf b;
    eventapi_buf_init(L, &b); /* 4 */
    value_text(L, &s, &p, 1, &b);
    eventapi_buf_finish(&b);
    return 1;
}

/* Registers core.build and core.value_text into the table on top. */
void eventapi_open_build(lua_State *L) {
    static const luaL_Reg fns[] = {{"build", l_build}, {"value_text", l_value_text}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
