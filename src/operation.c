/* eventapi.core operations: an operation row of a service table (plain Lua
 * data, see losant.lua) compiled once into a spec userdata, and bound per
 * client into a callable operation userdata.
 *
 * core.operation(row) checks the row against the schema (fields, places,
 * kinds, enums, path placeholders, `requires`, `overridden_by`) and compiles it. core.binding(...) holds
 * what a client's calls share; core.bind(spec, binding, row) is what
 * `client.event.get` is: `__call(params [, callback])` returns a promise.
 *
 * The fast path (a plain row, a client with no hooks, retries or dry run, no
 * callback, no per-call headers) checks the params, builds the URL and body
 * and starts the transfer here; a 2xx JSON answer is decoded from curl's
 * buffer in transfer.c. Everything else (failures, service hooks, retries) goes
 * through the client's Lua functions, as the row's Lua call would. */
#include "eventapi.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTAPI_SPEC "eventapi.OperationSpec"
#define EVENTAPI_BINDING "eventapi.Binding"
#define EVENTAPI_OPERATION "eventapi.Operation"

enum place { PLACE_PATH, PLACE_QUERY, PLACE_HEADER, PLACE_BODY, PLACE_ATTRIBUTE, PLACE_NONE };
enum kind { KIND_STRING, KIND_INTEGER, KIND_NUMBER, KIND_BOOLEAN, KIND_JSON, KIND_TABLE };

static const char *const PLACES[] = {"path", "query", "header", "body", "attribute", "none", NULL};
static const char *const KINDS[] = {"string", "integer", "number", "boolean", "json", "table", NULL};
static const char *const METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

/* The fields a row and a param may have: rows are data, compiling never
 * writes into them. */
static const char *const ROW_FIELDS[] = {"name", "method", "path", "params", "returns", "scopes", "pages",
                                         "body_of", NULL};
static const char *const PARAM_FIELDS[] = {"name", "place", "kind", "required", "enum", "default", "fixed",
                                           "wire", "check", "requires", "overridden_by", NULL};
#define SPEC_CACHE "eventapi.spec_cache" /* registry: row -> its compiled spec (weak keys) */

typedef struct param {
    char *name, *wire, *query_key, *enum_text; /* query_key: the escaped wire name and "=" */
    char *constant_query; /* a query param's "key=value" for its fixed or default value, written once */
    char **enums;                              /* NULL-terminated, or NULL */
    int place, kind, required, has_default, has_fixed, has_check;
    int requires; /* the index of the param that must be given with this one, or -1 */
    int overridden_by; /* the index of the param that makes the server ignore this one, or -1 */
} param;

/* A path template: literal runs and placeholders, in order. */
typedef struct segment {
    char *text; /* a literal run, or NULL for a placeholder */
    int param;  /* index into params of a placeholder */
} segment;

typedef struct spec {
    char *name;
    const char *method; /* one of METHODS */
    param *params;      /* all_params: the row's, then the service's common ones */
    int nparams;
    segment *path;
    int nsegments;
    int plain;   /* no Lua function in the row: the fast path may build it */
    int path_fn; /* the path is a function(params, name, invalid) -> path */
    int body_of; /* the row has body_of(params, attributes) -> body table */
    int empty_object; /* a POST, PUT or PATCH that builds no body sends {} (Losant's rule) */
} spec;

typedef struct binding {
    int fast;            /* no hooks, retries, dry run; not closed */
    int decode;          /* the service has no unwrap: a 2xx answer is its JSON */
    lua_Integer head_size; /* bytes of the client's own request head */
} binding;

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
static int find(const char *const *list, const char *s) {
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

static void value_text(lua_State *L, const spec *s, const param *p, int v, eventapi_buf *b);

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

/* core.operation(row, params [, empty_object]) -> spec: checks an operation row against the
 * schema and compiles it with params (the row's own and the service's common ones, in order),
 * once: the spec is cached by row. empty_object: a POST, PUT or PATCH that builds no body
 * sends {}. The row is not written to. */
static int l_operation(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_istable(L, 2)) return eventapi_error(L, "InvalidParams", "core.operation: params must be a list");
    int empty_object = lua_toboolean(L, 3);
    lua_settop(L, 2);
    spec_cache(L); /* 3 */
    lua_pushvalue(L, 1);
    if (lua_rawget(L, 3) == LUA_TUSERDATA) return 1;
    lua_settop(L, 2);
    compile_spec(L, empty_object); /* 3 */
    spec_cache(L);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    lua_settop(L, 3);
    return 1;
}

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

/* msg without a leading "file:line: " (up to the first ":<digits>: "), as
 * Lua's error() puts it before a string. */
static const char *without_location(const char *msg) {
    for (const char *p = msg; *p; p++) {
        if (*p != ':' || p[1] < '0' || p[1] > '9') continue;
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9') q++;
        if (q[0] == ':' && q[1] == ' ') return q + 2;
    }
    return msg;
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
    const char *why;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "message");
        why = luaL_tolstring(L, -1, NULL);
    } else {
        why = without_location(luaL_tolstring(L, -1, NULL));
    }
    invalid(L, NULL, "%s cannot be encoded as JSON: %s", what, why);
}

/* 1 when the number at idx is an integer or a float with an integer's exact value. */
static int integral(lua_State *L, int idx) {
    if (lua_isinteger(L, idx)) return 1;
    lua_Number d = lua_tonumber(L, idx);
    return d >= -9.2233720368547758e18 && d < 9.2233720368547758e18 && d == (lua_Number)(lua_Integer)d;
}

/* Appends the text of the value at v for param p (query or header) to b;
 * raises InvalidParams naming the param and the kind it wants. */
static void value_text(lua_State *L, const spec *s, const param *p, int v, eventapi_buf *b) {
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

/* Runs the check of param i (p) of the spec at sp on the value at v: what it
 * returns (when not nil) replaces the value; what it raises becomes
 * InvalidParams "<op>: <param> <its message>". */
static void run_check(lua_State *L, const spec *s, const param *p, int sp, int i, int v) {
    lua_getiuservalue(L, sp, 3); /* the params list the spec was compiled with */
    lua_rawgeti(L, -1, i + 1);
    lua_getfield(L, -1, "check");
    lua_pushvalue(L, v);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *why = luaL_tolstring(L, -1, NULL);
        invalid(L, p->name, "%s: %s %s", s->name, p->name, without_location(why));
    }
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
 * the query) into url, the JSON body (if any) into body. The params table is
 * at params, the spec userdata at sp. Leaves on the stack: the body table (or nil) and the list of
 * header lines (or nil), in that order. Raises InvalidParams. */
static unsigned long builds; /* requests built so far, in the process (core.builds, for the specs) */

static void build(lua_State *L, const spec *s, int sp, int params, int base, eventapi_buf *url, eventapi_buf *body) {
    builds++;
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
    for (int i = 0; i < s->nparams; i++) {
        const param *p = &s->params[i];
        int constant = p->has_fixed;
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
    if (!lua_isnil(L, data)) {
        lua_pushfstring(L, "%s: the body", s->name);
        encode_json(L, data, body, lua_tostring(L, -1));
        lua_pop(L, 1);
    } else if (s->empty_object && s->method != METHODS[0] && s->method != METHODS[4]) {
        eventapi_buf_add(body, "{}", 2); /* data stays nil: no table was given */
    }
    eventapi_buf_add(url, "", 1); /* NUL-terminated for curl; len counts it */
    url->len--;
}

/* core.build(spec, base_url, params) -> url, body, data, headers: the request of an
 * operation (body: the JSON text or nil; data: the body table; headers: the lines of
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

/* ---- bindings and bound operations ---- */

/* core.binding(config, url, head_size, respond, call) -> binding: what a client's
 * operations share: respond(res) maps a raw response (res.req = {method, url,
 * location, op}) to the call's value; call(row, params, cb) is the Lua call. */
static int l_binding(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_CONFIG);
    luaL_checkstring(L, 2);
    lua_Integer head = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    luaL_checktype(L, 5, LUA_TFUNCTION);
    binding *b = lua_newuserdatauv(L, sizeof *b, 4);
    b->fast = 0;
    b->decode = 0;
    b->head_size = head;
    luaL_setmetatable(L, EVENTAPI_BINDING);
    for (int i = 1; i <= 4; i++) {
        lua_pushvalue(L, i <= 2 ? i : i + 1); /* config, url, respond, call */
        lua_setiuservalue(L, -2, i);
    }
    return 1;
}

/* core.binding_set(binding, fast, decode): whether calls may take the C path, and
 * whether a 2xx answer is decoded there (a service with no unwrap). */
static int l_binding_set(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    b->fast = lua_toboolean(L, 2);
    b->decode = lua_toboolean(L, 3);
    return 0;
}

/* core.bind(spec, binding, row) -> operation: the callable of one client's operation. */
static int l_bind(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_SPEC);
    luaL_checkudata(L, 2, EVENTAPI_BINDING);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_newuserdatauv(L, 1, 3);
    luaL_setmetatable(L, EVENTAPI_OPERATION);
    for (int i = 1; i <= 3; i++) {
        lua_pushvalue(L, i);
        lua_setiuservalue(L, -2, i);
    }
    return 1;
}

/* Calls the client's Lua call(row, params, cb [, failure]) with the operation
 * at 1, the params and callback at 2 and 3, and the failure at 4 when the
 * core's build of this call failed already (failed: the call is then
 * rejected with it, not built again); returns its promise. */
static int slow_call(lua_State *L, int failed) {
    lua_settop(L, failed ? 4 : 3);
    if (!failed) lua_pushnil(L); /* 4 */
    lua_getiuservalue(L, 1, 2); /* 5: binding */
    lua_getiuservalue(L, 5, 4); /* 6: call */
    lua_getiuservalue(L, 1, 3); /* row */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    if (failed) lua_pushvalue(L, 4);
    lua_call(L, 3 + failed, 1);
    return 1;
}

/* Writes "file:line" into out (cap bytes, cut to fit), without snprintf's
 * formatter: this runs on every call. */
static void write_location(char *out, size_t cap, const char *file, int line) {
    char digits[24], *d = digits + sizeof digits; /* written backwards */
    unsigned long v = line < 0 ? 0UL - (unsigned long)line : (unsigned long)line;
    *--d = '\0';
    do *--d = (char)('0' + v % 10); while ((v /= 10) > 0);
    if (line < 0) *--d = '-'; /* no line information: -1, as Lua writes it */
    size_t n = eventapi_copy(out, cap, file);
    if (n + 1 < cap) {
        out[n] = ':';
        eventapi_copy(out + n + 1, cap - n - 1, d);
    }
}

#define LIBRARY_DIR "eventapi.library_dir" /* registry: the directory of the library's Lua modules */

/* Whether source names one of the library's own chunks: a file right in
 * dir (dir_len bytes, ending in '/'), not in a directory below it. */
static int own_chunk(const char *source, const char *dir, size_t dir_len) {
    return dir && source[0] == '@' && strncmp(source + 1, dir, dir_len) == 0 && !strchr(source + 1 + dir_len, '/');
}

/* Writes the script's "file:line" that made the call (the first frame from
 * level 1 that is Lua code and not one of the library's own chunks, which
 * core.library_dir names) into out (empty when there is none within 8
 * levels). Leaves the stack as it was. */
static void call_location(lua_State *L, char *out, size_t cap) {
    lua_Debug ar;
    out[0] = '\0';
    lua_getfield(L, LUA_REGISTRYINDEX, LIBRARY_DIR);
    size_t dir_len = 0;
    const char *dir = lua_tolstring(L, -1, &dir_len);
    for (int level = 1; level <= 8 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || strcmp(ar.what, "C") == 0 || own_chunk(ar.source, dir, dir_len)) continue;
        write_location(out, cap, ar.short_src, ar.currentline);
        break;
    }
    lua_pop(L, 1);
}

/* core.library_dir(source): the library's modules are the files in the directory of
 * source (a chunk's "@path" source, as debug.getinfo gives it); frames of them are
 * skipped when a call's location is found. */
static int l_library_dir(lua_State *L) {
    size_t len;
    const char *source = luaL_checklstring(L, 1, &len);
    const char *slash = strrchr(source, '/');
    if (source[0] != '@' || !slash) return eventapi_error(L, "InvalidParams", "core.library_dir: not a file's source");
    lua_pushlstring(L, source + 1, (size_t)(slash - source)); /* the directory with its '/' */
    lua_setfield(L, LUA_REGISTRYINDEX, LIBRARY_DIR);
    return 0;
}

/* core.builds() -> how many requests the core has built in this process (for the specs:
 * a call is built once, whatever path it takes). */
static int l_builds(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)builds);
    return 1;
}

/* core.location() -> "file:line" of the script code that made the library call running
 * now (the first Lua frame that is not one of the library's chunks), or nil. */
static int l_location(lua_State *L) {
    char location[128];
    call_location(L, location, sizeof location);
    if (location[0]) lua_pushstring(L, location);
    else lua_pushnil(L);
    return 1;
}

/* protected part of op_call: builds the request of the operation at 1 with the
 * params at 2 and starts it; returns its promise, or nothing when the call
 * needs the Lua path (header lines, too large a head). */
static int fast_call(lua_State *L) {
    lua_getiuservalue(L, 1, 1); /* 3: spec */
    lua_getiuservalue(L, 1, 2); /* 4: binding */
    spec *s = lua_touserdata(L, 3);
    binding *bd = lua_touserdata(L, 4);
    lua_getiuservalue(L, 4, 1); /* 5: config */
    lua_getiuservalue(L, 4, 2); /* 6: base url */
    eventapi_buf url, body;
    eventapi_buf_init(L, &url);  /* 7 */
    eventapi_buf_init(L, &body); /* 8 */
    build(L, s, 3, 2, 6, &url, &body); /* 9: data, 10: header lines */
    if (!lua_isnil(L, 10)) return 0;
    if ((lua_Integer)url.len + bd->head_size > EVENTAPI_MAX_HEAD) return 0;
    char location[128];
    call_location(L, location, sizeof location);
    eventapi_start(L, 5, s->method, url.data, body.len ? body.data : NULL, body.len, 0, 1, bd, bd->decode, location);
    return 1;
}

/* operation(params [, callback]) -> promise: checks the params, sends the request. */
static int op_call(lua_State *L) {
    lua_settop(L, 3); /* the operation, params, callback */
    lua_getiuservalue(L, 1, 1);
    lua_getiuservalue(L, 1, 2);
    spec *s = lua_touserdata(L, -2);
    binding *bd = lua_touserdata(L, -1);
    lua_pop(L, 2);
    int table = lua_istable(L, 2);
    if (!bd->fast || !s->plain || !lua_isnil(L, 3) || !(table || lua_isnil(L, 2))) return slow_call(L, 0);
    if (table) {
        if (lua_getfield(L, 2, "headers") != LUA_TNIL) return slow_call(L, 0);
        lua_pop(L, 1);
    } else {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(2)); /* fast_call, made once */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    int rc = lua_pcall(L, 2, 1, 0);
    if (rc == LUA_OK && !lua_isnil(L, -1)) return 1;
    if (rc != LUA_OK) { /* invalid params (or out of memory): the Lua path rejects the call with it */
        lua_settop(L, 4); /* the error is at 4 */
        return slow_call(L, 1);
    }
    lua_settop(L, 3); /* header lines or too long a head: the Lua path sends it */
    return slow_call(L, 0);
}

/* operation.<field>: the row's name, method, path, params, returns, pages or scopes. */
static int op_index(lua_State *L) {
    static const char *const FIELDS[] = {"name", "method", "path", "params", "returns", "pages", "scopes", NULL};
    luaL_checkudata(L, 1, EVENTAPI_OPERATION);
    const char *k = lua_tostring(L, 2);
    if (!k || find(FIELDS, k) < 0) return 0;
    lua_getiuservalue(L, 1, 3);
    lua_getfield(L, -1, k);
    return 1;
}

/* tostring(operation) -> "eventapi.Operation: event.get". */
static int op_tostring(lua_State *L) {
    luaL_checkudata(L, 1, EVENTAPI_OPERATION);
    lua_getiuservalue(L, 1, 1);
    spec *s = lua_touserdata(L, -1);
    lua_pushfstring(L, "%s: %s", EVENTAPI_OPERATION, s->name);
    return 1;
}

/* core.cancel_binding(binding [, message]) -> n: ends the binding's transfers in flight
 * (each answers {error="Closed"} through the binding's respond). */
static int l_cancel_binding(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    const char *message = luaL_optstring(L, 2, "the client was closed with this request in flight");
    lua_pushinteger(L, eventapi_cancel_owner(L, eventapi_loop(L), b, message));
    return 1;
}

/* core.in_flight(binding) -> the number of the binding's transfers in flight. */
static int l_in_flight(lua_State *L) {
    binding *b = luaL_checkudata(L, 1, EVENTAPI_BINDING);
    lua_pushinteger(L, eventapi_count_owner(eventapi_loop(L), b));
    return 1;
}

/* core.is_operation(v) -> true for a bound operation (what client.event.get is). */
static int l_is_operation(lua_State *L) {
    lua_pushboolean(L, luaL_testudata(L, 1, EVENTAPI_OPERATION) != NULL);
    return 1;
}

/* Registers the operation functions into the table on top (the loop is below it). */
int eventapi_open_operation(lua_State *L) {
    static const luaL_Reg spec_meta[] = {{"__gc", spec_gc}, {NULL, NULL}};
    static const luaL_Reg op_meta[] = {{"__call", op_call}, {"__index", op_index}, {"__tostring", op_tostring},
                                       {NULL, NULL}};
    static const luaL_Reg fns[] = {{"operation", l_operation}, {"build", l_build}, {"binding", l_binding},
                                   {"binding_set", l_binding_set}, {"bind", l_bind},
                                   {"cancel_binding", l_cancel_binding}, {"in_flight", l_in_flight},
                                   {"is_operation", l_is_operation}, {"location", l_location},
                                   {"library_dir", l_library_dir}, {"builds", l_builds},
                                   {"value_text", l_value_text},
                                   {NULL, NULL}};
    luaL_newmetatable(L, EVENTAPI_SPEC);
    luaL_setfuncs(L, spec_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, EVENTAPI_BINDING);
    lua_pop(L, 1);
    luaL_newmetatable(L, EVENTAPI_OPERATION);
    lua_pushvalue(L, -3); /* upvalues: the loop, and fast_call (which needs the loop too) */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, fast_call, 1);
    luaL_setfuncs(L, op_meta, 2);
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, fns, 1);
    return 0;
}
