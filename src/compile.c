/* eventapi.core operations, compiling: core.operation(row, params) checks an
 * operation row against the schema (fields, places, kinds, enums, path
 * placeholders, `requires`, `overridden_by`) and compiles it once into a spec
 * userdata, cached by row; the row is not written to. */
#include "operation.h"

static const char *const PLACES[] = {"path", "query", "header", "body", "attribute", "none", "form", NULL};
const char *const KINDS[] = {"string", "integer", "number", "boolean", "json", "table", "hash", "file", NULL};
const char *const METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

/* The fields a row and a param may have: rows are data, compiling never
 * writes into them. */
static const char *const ROW_FIELDS[] = {"name", "method", "path", "params", "returns", "scopes", "pages",
                                         "body_of", "answers", "errors", "stream", "upload", NULL};
static const char *const PARAM_FIELDS[] = {"name", "place", "kind", "required", "enum", "default", "fixed",
                                           "wire", "check", "requires", "overridden_by", "schema", NULL};
#define SPEC_CACHE "eventapi.spec_cache" /* registry: row -> its compiled spec (weak keys) */

/* ---- compiling a row ---- */

/* strdup that raises OutOfMemory. */
static char *copy(lua_State *L, const char *s, size_t len) {
    char *out = malloc(len + 1);
    if (!out) eventapi_error(L, "OutOfMemory", "not enough memory to compile an operation");
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* The index of s in list, or -1. */
int find(const char *const *list, const char *s) {
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0) return i;
    return -1;
}

/* Raises InvalidParams unless every string key of the table at idx is one of fields. */
static void check_fields(lua_State *L, int idx, const char *const *fields, const char *what, const char *name) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || find(fields, lua_tostring(L, -1)) < 0)
            eventapi_error(L, "InvalidParams", "operation %s: unknown %s field '%s'", name, what,
                           luaL_tolstring(L, -1, NULL));
    }
}

/* __gc of a spec: frees what compile allocated. */
static int spec_gc(lua_State *L) {
    spec *s = luaL_checkudata(L, 1, EVENTAPI_SPEC);
    for (int i = 0; i < s->nparams; i++) {
        param *p = &s->params[i];
        free(p->name);
        free(p->wire);
        free(p->query_key);
        free(p->constant_query);
        free(p->enum_text);
        for (char **e = p->enums; e && *e; e++) free(*e);
        free(p->enums);
    }
    for (int i = 0; i < s->nsegments; i++) free(s->path[i].text);
    free(s->params);
    free(s->path);
    free(s->name);
    memset(s, 0, sizeof *s);
    return 0;
}

/* The string field k of the table at idx, or NULL when absent; raises when not a string. */
static const char *string_field(lua_State *L, int idx, const char *k, const char *name, size_t *len) {
    int t = lua_getfield(L, idx, k);
    const char *s = NULL;
    if (t == LUA_TSTRING) s = lua_tolstring(L, -1, len);
    else if (t != LUA_TNIL) eventapi_error(L, "InvalidParams", "operation %s: %s must be a string", name, k);
    lua_pop(L, 1); /* the row keeps the string alive */
    return s;
}

/* 1 for the bytes RFC 7230 allows in a header name. */
static int token_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+.^_`|~-", c);
}

/* Writes once the "key=value" text of query param p's fixed value (or its
 * default), which every call that leaves it out sends as it is; a value its
 * kind refuses is an error of the row. (Not for a param with a check: that
 * runs per call.) */
static void compile_constant_query(lua_State *L, spec *s, param *p, int i, int values) {
    if (p->place != PLACE_QUERY || p->has_check || !(p->has_fixed || p->has_default)) return;
    lua_rawgeti(L, values, p->has_fixed ? 2 * i + 2 : 2 * i + 1);
    int v = lua_gettop(L);
    eventapi_buf text, query;
    eventapi_buf_init(L, &text);
    value_text(L, s, p, v, &text);
    eventapi_buf_init(L, &query);
    eventapi_buf_add(&query, p->query_key, strlen(p->query_key));
    eventapi_escape(&query, text.data, text.len);
    p->constant_query = copy(L, query.data, query.len);
    lua_settop(L, v - 1);
}

/* Compiles the param table at idx into p (the spec's uservalue table at values
 * gets its default and fixed values under 2i-1 and 2i). */
static void compile_param(lua_State *L, spec *s, int idx, int i, int values) {
    param *p = &s->params[i];
    check_fields(L, idx, PARAM_FIELDS, "param", s->name);
    size_t len;
    const char *name = string_field(L, idx, "name", s->name, &len);
    if (!name) eventapi_error(L, "InvalidParams", "operation %s: a param has no name", s->name);
    p->name = copy(L, name, len);
    const char *wire = string_field(L, idx, "wire", s->name, &len);
    p->wire = wire ? copy(L, wire, len) : NULL;
    const char *place = string_field(L, idx, "place", s->name, NULL);
    p->place = place ? find(PLACES, place) : -1;
    if (p->place < 0) eventapi_error(L, "InvalidParams", "operation %s: %s has no known place", s->name, p->name);
    const char *kind = string_field(L, idx, "kind", s->name, NULL);
    p->kind = kind ? find(KINDS, kind) : KIND_STRING;
    if (p->kind < 0) eventapi_error(L, "InvalidParams", "operation %s: %s has an unknown kind", s->name, p->name);
    if (p->kind == KIND_HASH && p->place != PLACE_QUERY)
        eventapi_error(L, "InvalidParams", "operation %s: %s: the hash kind is for query params", s->name, p->name);
    lua_getfield(L, idx, "required");
    p->required = lua_toboolean(L, -1);
    lua_pop(L, 1);
    p->requires = p->overridden_by = -1; /* resolved by resolve_links once every param is compiled */
    if (lua_getfield(L, idx, "check") != LUA_TNIL) p->has_check = 1;
    if (p->has_check || p->place == PLACE_ATTRIBUTE) s->plain = 0;
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "default") != LUA_TNIL) p->has_default = 1;
    lua_rawseti(L, values, 2 * i + 1);
    if (lua_getfield(L, idx, "fixed") != LUA_TNIL) p->has_fixed = 1;
    lua_rawseti(L, values, 2 * i + 2);
    if (p->kind == KIND_HASH && (p->has_fixed || p->has_default))
        eventapi_error(L, "InvalidParams", "operation %s: %s: a hash param has no default or fixed value", s->name, p->name);
    if (p->place == PLACE_HEADER) {
        for (const char *c = p->wire ? p->wire : p->name; *c; c++)
            if (!token_char((unsigned char)*c))
                eventapi_error(L, "InvalidParams", "operation %s: %s is not a header name", s->name, p->name);
    }
    if (p->place == PLACE_QUERY) { /* "name=" with the wire name escaped, written once */
        eventapi_buf key;
        const char *wire_name = p->wire ? p->wire : p->name;
        eventapi_buf_init(L, &key);
        eventapi_escape(&key, wire_name, strlen(wire_name));
        eventapi_buf_add(&key, "=", 1);
        p->query_key = copy(L, key.data, key.len);
        lua_pop(L, 1); /* the buffer's slot */
    }
    if (lua_getfield(L, idx, "enum") == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        p->enums = calloc((size_t)n + 1, sizeof *p->enums);
        if (!p->enums) eventapi_error(L, "OutOfMemory", "not enough memory to compile an operation");
        for (lua_Integer k = 1; k <= n; k++) {
            if (lua_rawgeti(L, -1, k) != LUA_TSTRING)
                eventapi_error(L, "InvalidParams", "operation %s: the enum of %s must list strings", s->name, p->name);
            const char *e = lua_tolstring(L, -1, &len);
            p->enums[k - 1] = copy(L, e, len);
            lua_pop(L, 1);
        }
        eventapi_buf text; /* the list as given, for messages */
        eventapi_buf_init(L, &text);
        for (lua_Integer k = 0; k < n; k++) {
            if (k) eventapi_buf_add(&text, ", ", 2);
            eventapi_buf_add(&text, p->enums[k], strlen(p->enums[k]));
        }
        p->enum_text = copy(L, text.len ? text.data : "", text.len);
        lua_pop(L, 1); /* the buffer's slot */
    } else if (!lua_isnil(L, -1)) {
        eventapi_error(L, "InvalidParams", "operation %s: the enum of %s must be a list", s->name, p->name);
    }
    lua_pop(L, 1);
    compile_constant_query(L, s, p, i, values);
}

/* The index of the other param that field (of param i, its table at idx)
 * names, or -1 when the field is absent; raises InvalidParams when the row
 * does not declare that param. */
static int linked_param(lua_State *L, const spec *s, int idx, int i, const char *field) {
    const char *other = string_field(L, idx, field, s->name, NULL);
    if (!other) return -1;
    for (int j = 0; j < s->nparams; j++)
        if (j != i && strcmp(s->params[j].name, other) == 0) return j;
    return eventapi_error(L, "InvalidParams", "operation %s: %s %s '%s', which it does not declare", s->name,
                          s->params[i].name, field, other);
}

/* Resolves the fields of each param that name another (the table at list
 * holds the all_params), rules across params checked per call by build:
 * `requires`, a param that must be given whenever this one is, and
 * `overridden_by`, a param that makes the server ignore this one. */
static void resolve_links(lua_State *L, spec *s, int list) {
    for (int i = 0; i < s->nparams; i++) {
        lua_rawgeti(L, list, i + 1);
        s->params[i].requires = linked_param(L, s, lua_gettop(L), i, "requires");
        s->params[i].overridden_by = linked_param(L, s, lua_gettop(L), i, "overridden_by");
        lua_pop(L, 1);
    }
}

/* The index of the path param named name (len bytes), or -1. */
static int path_param(const spec *s, const char *name, size_t len) {
    for (int i = 0; i < s->nparams; i++)
        if (s->params[i].place == PLACE_PATH && strlen(s->params[i].name) == len
            && memcmp(s->params[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Splits the path template into literal runs and {name} placeholders. */
static void compile_path(lua_State *L, spec *s, const char *t) {
    size_t n = strlen(t);
    s->path = calloc(n + 1, sizeof *s->path); /* at most one segment per byte */
    if (!s->path) eventapi_error(L, "OutOfMemory", "not enough memory to compile an operation");
    const char *run = t;
    while (*t) {
        if (*t != '{') {
            t++;
            continue;
        }
        const char *close = strchr(t, '}');
        if (!close) eventapi_error(L, "InvalidParams", "operation %s: unclosed { in its path", s->name);
        int i = path_param(s, t + 1, (size_t)(close - t - 1));
        if (i < 0) eventapi_error(L, "InvalidParams", "operation %s: its path names a param it does not declare", s->name);
        if (t > run) s->path[s->nsegments++].text = copy(L, run, (size_t)(t - run));
        s->path[s->nsegments].text = NULL;
        s->path[s->nsegments++].param = i;
        run = t = close + 1;
    }
    if (t > run) s->path[s->nsegments++].text = copy(L, run, (size_t)(t - run));
}

/* Pushes the registry's cache of compiled specs (row -> spec, weak keys). */
static void spec_cache(lua_State *L) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, SPEC_CACHE) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SPEC_CACHE);
}

/* Compiles the row at 1 with the params list at 2; pushes the spec (at 3). */
static void compile_spec(lua_State *L, int empty_object) {
    spec *s = lua_newuserdatauv(L, sizeof *s, 3); /* 3; uservalues: default and fixed values, the row, params */
    memset(s, 0, sizeof *s);
    s->empty_object = empty_object;
    luaL_setmetatable(L, EVENTAPI_SPEC);
    lua_pushvalue(L, 2); /* the params list: their check functions are called from build */
    lua_setiuservalue(L, 3, 3);
    lua_newtable(L); /* 4 */
    lua_pushvalue(L, 4);
    lua_setiuservalue(L, 3, 1);
    lua_pushvalue(L, 1); /* the row: its Lua functions (path, check, body_of) are called from build */
    lua_setiuservalue(L, 3, 2);
    size_t len = 0;
    const char *name = lua_getfield(L, 1, "name") == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!name) eventapi_error(L, "InvalidParams", "an operation needs a name");
    s->name = copy(L, name, len);
    lua_pop(L, 1);
    check_fields(L, 1, ROW_FIELDS, "row", s->name);
    const char *method = string_field(L, 1, "method", s->name, NULL);
    int m = method ? find(METHODS, method) : -1;
    if (m < 0) eventapi_error(L, "InvalidParams", "operation %s: unknown method", s->name);
    s->method = METHODS[m];
    s->plain = 1;
    int t = lua_getfield(L, 1, "body_of");
    if (t == LUA_TFUNCTION) s->plain = 0, s->body_of = 1;
    else if (t != LUA_TNIL) eventapi_error(L, "InvalidParams", "operation %s: body_of must be a function", s->name);
    lua_pop(L, 1);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    s->params = calloc((size_t)n + 1, sizeof *s->params);
    if (!s->params) eventapi_error(L, "OutOfMemory", "not enough memory to compile an operation");
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, 2, i) != LUA_TTABLE)
            eventapi_error(L, "InvalidParams", "operation %s: params must be tables", s->name);
        s->nparams = (int)i; /* spec_gc frees what is there */
        compile_param(L, s, lua_gettop(L), (int)i - 1, 4);
        lua_pop(L, 1);
    }
    resolve_links(L, s, 2);
    t = lua_getfield(L, 1, "path");
    if (t == LUA_TSTRING) compile_path(L, s, lua_tostring(L, -1));
    else if (t == LUA_TFUNCTION) s->plain = 0, s->path_fn = 1;
    else eventapi_error(L, "InvalidParams", "operation %s: path must be a string or a function", s->name);
    lua_settop(L, 3);
}

/* core.operation(row [, params [, empty_object]]) -> spec: checks an operation row against the
 * schema and compiles it with params (the row's own and the service's common ones, in order),
 * once: the spec is cached by row. empty_object: a POST, PUT or PATCH that builds no body
 * sends {}. The row is not written to. Without params: the cached spec, or nothing. */
static int l_operation(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int empty_object = lua_toboolean(L, 3);
    lua_settop(L, 2);
    spec_cache(L); /* 3 */
    lua_pushvalue(L, 1);
    if (lua_rawget(L, 3) == LUA_TUSERDATA) return 1;
    if (lua_isnil(L, 2)) return 0; /* not compiled yet, and no params to compile it with */
    if (!lua_istable(L, 2)) return eventapi_error(L, "InvalidParams", "core.operation: params must be a list");
    lua_settop(L, 2);
    compile_spec(L, empty_object); /* 3 */
    spec_cache(L);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    lua_settop(L, 3);
    return 1;
}


/* Registers the spec metatable, and core.operation into the table on top. */
void eventapi_open_compile(lua_State *L) {
    static const luaL_Reg spec_meta[] = {{"__gc", spec_gc}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"operation", l_operation}, {NULL, NULL}};
    luaL_newmetatable(L, EVENTAPI_SPEC);
    luaL_setfuncs(L, spec_meta, 0);
    lua_pop(L, 1);
    luaL_setfuncs(L, fns, 0);
}
