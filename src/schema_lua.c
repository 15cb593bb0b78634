/* eventapi.core schemas: the Lua face of the draft-04 validator (schema.h).
 * core.schema(text) compiles a JSON Schema text into an eventapi.Schema
 * userdata holding the compiled schema (freed by its __gc); its validate
 * method checks a JSON text. core.schemas(lookup) makes an
 * eventapi.SchemaSet over named documents (schema.h's sets): lookup(name)
 * returns a document's text or nil, and is called at most once per name
 * (unless it raises); the texts are kept in the set's second user value
 * (name -> text), so the C set can read them in place for its whole life.
 * Messages are schema.h's. */
#include "eventapi.h"
#include "schema.h"

#include <string.h>

#define EVENTAPI_SCHEMA "eventapi.Schema"
#define EVENTAPI_SCHEMA_SET "eventapi.SchemaSet"
#define MESSAGE_CAP 1024 /* the longest message told, in bytes */

typedef struct schema_box {
    schema *compiled; /* NULL until schema_compile succeeded */
} schema_box;

/* Raises the error of a failed call: OutOfMemory, or InvalidParams with
 * the message (after prefix). */
static int raise_failure(lua_State *L, const char *prefix, const char *message) {
    if (strcmp(message, SCHEMA_OUT_OF_MEMORY) == 0) return eventapi_error(L, "OutOfMemory", "out of memory");
    return eventapi_error(L, "InvalidParams", "%s%s", prefix, message);
}

/* __gc of a schema: frees the compiled schema. */
static int schema_gc(lua_State *L) {
    schema_box *box = luaL_checkudata(L, 1, EVENTAPI_SCHEMA);
    schema_free(box->compiled);
    box->compiled = NULL;
    return 0;
}

/* core.schema(text) -> schema: compiles a JSON Schema draft-04 text; raises InvalidParams naming what is wrong. */
static int l_schema(lua_State *L) {
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    char err[MESSAGE_CAP];
    /* the userdata first: once compiled, the schema always has an owner to free it */
    schema_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->compiled = NULL;
    luaL_setmetatable(L, EVENTAPI_SCHEMA);
    box->compiled = schema_compile(text, len, err, sizeof err);
    if (!box->compiled) return raise_failure(L, "invalid schema: ", err);
    return 1;
}

/* schema:validate(text) -> true | false, "pointer: rule"; raises InvalidParams when text is not JSON. */
static int l_validate(lua_State *L) {
    schema_box *box = luaL_checkudata(L, 1, EVENTAPI_SCHEMA);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    char err[MESSAGE_CAP];
    if (!box->compiled) return eventapi_error(L, "InvalidParams", "schema:validate: the schema was freed");
    int r = schema_validate(box->compiled, text, len, err, sizeof err);
    if (r < 0) return raise_failure(L, "", err);
    lua_pushboolean(L, r == 0);
    if (r == 0) return 1;
    lua_pushstring(L, err);
    return 2;
}

/* ---- sets ---- */

typedef struct set_box {
    schema_set *set;  /* NULL once collected */
    lua_State *L;     /* the state of the set:validate in progress, or NULL */
    int base;         /* there: the lookup at base, the texts at base + 1, the lookup's error at base + 2 */
} set_box;

/* (lookup, texts, name as a light userdata) -> text or nil, kept in texts:
 * run protected, so that nothing raises through the C set. */
static int lookup_call(lua_State *L) {
    const char *name = lua_touserdata(L, 3);
    lua_settop(L, 2);
    lua_pushstring(L, name);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) return 1;
    if (lua_type(L, -1) != LUA_TSTRING)
        return eventapi_error(L, "InvalidParams", "schemas: lookup(\"%s\") returned %s, not a string or nil", name,
                              luaL_typename(L, -1));
    lua_pushvalue(L, 3);
    lua_pushvalue(L, -2);
    lua_rawset(L, 2);
    return 1;
}

/* The schema_lookup of a set: lookup_call, its error kept for set:validate. */
static const char *set_lookup(void *ctx, const char *name, size_t *len) {
    set_box *box = ctx;
    lua_State *L = box->L;
    const char *text = NULL;
    lua_pushcfunction(L, lookup_call);
    lua_pushvalue(L, box->base);
    lua_pushvalue(L, box->base + 1);
    lua_pushlightuserdata(L, (void *)name);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        lua_replace(L, box->base + 2);
        *len = SCHEMA_LOOKUP_FAILED;
        return NULL;
    }
    if (!lua_isnil(L, -1)) text = lua_tolstring(L, -1, len); /* held by the texts table */
    lua_pop(L, 1);
    return text;
}

/* __gc of a set: frees it and every schema it compiled. */
static int set_gc(lua_State *L) {
    set_box *box = luaL_checkudata(L, 1, EVENTAPI_SCHEMA_SET);
    schema_set_free(box->set);
    box->set = NULL;
    return 0;
}

/* core.schemas(lookup) -> set: a set of named schema documents, lookup(name) -> JSON text or nil. */
static int l_schemas(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    set_box *box = lua_newuserdatauv(L, sizeof *box, 2);
    box->set = NULL;
    box->L = NULL;
    luaL_setmetatable(L, EVENTAPI_SCHEMA_SET);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 2);
    box->set = schema_set_new(set_lookup, box);
    if (!box->set) return eventapi_error(L, "OutOfMemory", "out of memory");
    return 1;
}

/* The schema called name, compiled on first use with the set's lookup
 * (set:validate's stack: the set, the name, the text; left with the lookup
 * and the texts above them); raises what set:validate raises when it cannot. */
static const schema *get_schema(lua_State *L, set_box *box, const char *name, char *err, size_t cap) {
    lua_settop(L, 3);
    luaL_checkstack(L, 12, "set:validate");
    lua_getiuservalue(L, 1, 1);
    lua_getiuservalue(L, 1, 2);
    lua_pushnil(L); /* the lookup's error */
    box->L = L;
    box->base = 4;
    const schema *s = schema_set_get(box->set, name, err, cap);
    box->L = NULL;
    if (s) return s;
    if (!lua_isnil(L, 6)) return lua_pushvalue(L, 6), lua_error(L), NULL; /* the lookup raised: its error, as it was */
    if (strncmp(err, "the set has no schema document", 30) == 0) return raise_failure(L, "", err), NULL;
    return raise_failure(L, "invalid schema: ", err), NULL;
}

/* set:validate(name, text) -> true | false, "pointer: rule"; raises InvalidParams for an unknown or broken schema. */
static int l_set_validate(lua_State *L) {
    set_box *box = luaL_checkudata(L, 1, EVENTAPI_SCHEMA_SET);
    size_t name_len, len;
    const char *name = luaL_checklstring(L, 2, &name_len);
    const char *text = luaL_checklstring(L, 3, &len);
    char err[MESSAGE_CAP];
    if (!box->set) return eventapi_error(L, "InvalidParams", "set:validate: the set was freed");
    if (box->L) return eventapi_error(L, "InvalidParams", "set:validate: called from the set's own lookup");
    if (strlen(name) != name_len) return eventapi_error(L, "InvalidParams", "set:validate: a name holds no NUL");
    const schema *s = schema_set_ready(box->set, name, name_len); /* compiled already: no lookup to set up */
    if (!s) s = get_schema(L, box, name, err, sizeof err);
    int r = schema_validate(s, text, len, err, sizeof err);
    if (r < 0) return raise_failure(L, "", err);
    lua_pushboolean(L, r == 0);
    if (r == 0) return 1;
    lua_pushstring(L, err);
    return 2;
}

/* Registers core.schema and core.schemas into the module table on top and
 * makes the eventapi.Schema and eventapi.SchemaSet metatables (methods
 * through __index); leaves the stack as found. */
void eventapi_open_schema(lua_State *L) {
    static const luaL_Reg fns[] = {{"schema", l_schema}, {"schemas", l_schemas}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"validate", l_validate}, {NULL, NULL}};
    static const luaL_Reg set_methods[] = {{"validate", l_set_validate}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
    if (luaL_newmetatable(L, EVENTAPI_SCHEMA)) {
        lua_pushcfunction(L, schema_gc);
        lua_setfield(L, -2, "__gc");
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, EVENTAPI_SCHEMA_SET)) {
        lua_pushcfunction(L, set_gc);
        lua_setfield(L, -2, "__gc");
        luaL_newlib(L, set_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
