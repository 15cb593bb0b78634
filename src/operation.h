/* eventapi.core operations, private to compile.c, build.c and operation.c:
 * the compiled spec of a row, its params and path, a client's binding, and
 * what the three files call of one another (hidden: not exported from core.so). */
#ifndef EVENTAPI_OPERATION_H
#define EVENTAPI_OPERATION_H

#include "eventapi.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_HIDDEN __attribute__((visibility("hidden")))

#define EVENTAPI_SPEC "eventapi.OperationSpec"
#define EVENTAPI_BINDING "eventapi.Binding"
#define EVENTAPI_OPERATION "eventapi.Operation"

enum place { PLACE_PATH, PLACE_QUERY, PLACE_HEADER, PLACE_BODY, PLACE_ATTRIBUTE, PLACE_NONE, PLACE_FORM };
enum kind { KIND_STRING, KIND_INTEGER, KIND_NUMBER, KIND_BOOLEAN, KIND_JSON, KIND_TABLE, KIND_HASH, KIND_FILE };

OP_HIDDEN extern const char *const KINDS[];   /* the kind names, by enum kind */
OP_HIDDEN extern const char *const METHODS[]; /* GET, POST, PUT, PATCH, DELETE */

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
    int plain;   /* no Lua function in the row */
    int path_fn; /* the path is a function(params, name, invalid) -> path */
    int body_of; /* the row has body_of(params, attributes) -> body table */
    int empty_object; /* a POST, PUT or PATCH that builds no body sends {} (Losant's rule) */
} spec;

typedef struct binding {
    int decode;          /* the service has no unwrap: a 2xx answer is its JSON */
    lua_Integer head_size; /* bytes of the client's own request head */
} binding;

/* compile.c */
OP_HIDDEN int find(const char *const *list, const char *s); /* the index of s in list, or -1 */
OP_HIDDEN void eventapi_open_compile(lua_State *L); /* the spec metatable; core.operation into the table on top */

/* build.c */
OP_HIDDEN void value_text(lua_State *L, const spec *s, const param *p, int v, eventapi_buf *b);
OP_HIDDEN void build(lua_State *L, const spec *s, int sp, int params, int base, eventapi_buf *url, eventapi_buf *body);
OP_HIDDEN void eventapi_open_build(lua_State *L); /* core.build, core.value_text into the table on top */
OP_HIDDEN extern unsigned long eventapi_builds; /* requests built so far in the process */

/* upload.c: a form param of an upload, checked and described at the call */
OP_HIDDEN void upload_form_part(lua_State *L, const spec *s, const param *p, int v, int parts);

/* registry[EVENTAPI_TESTING]: what the specs read of the core and nothing
 * else does (builds, in_flight); not in the module table. */
#define EVENTAPI_TESTING "eventapi.testing"

#endif
