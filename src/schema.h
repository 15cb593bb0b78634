/* schema: a JSON Schema draft-04 validator in plain C99 (no Lua, no
 * jansson), shared by the library's core (schema_lua.c) and the sandbox.
 * PCRE2 (8-bit) runs `pattern` and `patternProperties`.
 *
 * Both the schema and the instance are JSON TEXT, read by the validator's
 * own parser (schema_parse.c): UTF-8 only, at most 2048 levels of nesting (jansson's
 * limit: the sandbox checks what its parser took; the core's decoder stops at 1000),
 * integers kept exactly in 64 bits, a number out of the range of a double
 * (1e400) refused as the core's decoder refuses it.
 *
 * Messages. A failed validation names the first failure as
 * "<pointer>: <rule>", the pointer an RFC 6901 JSON pointer into the
 * instance (~ written ~0, / written ~1); a failure of the root itself is
 * the rule alone, with no pointer and no colon, so that a caller that puts
 * a parameter's name before the message writes "event: missing required
 * property 'name'" for the root and "event/state: must be one of ..." below:
 * "/state: must be one of new, acknowledged, resolved",
 * "/data/temp: must be a number, not a string",
 * "missing required property 'name'" (the root).
 * "First" is: a value's own keywords (type, enum, bounds, length, pattern,
 * format, counts, required, dependencies) before its members or items, which
 * go in the order of the instance text, then allOf, anyOf, oneOf and not.
 * When no anyOf or oneOf branch matches, the message is the one of the
 * closest branch (the one that failed deepest in the instance, the first on
 * a tie) followed by "(no anyOf schema matches; closest is anyOf/1)".
 * A refused schema gets "<schema location>: <why>", the location "#" and a
 * JSON pointer into the schema ("#" its root, "<name>#/..." in a set), or
 * "invalid JSON: <what> at byte <n>" (n from 1; "<name>: invalid JSON: ..."
 * in a set).
 *
 * Broken schemas. Where Losant's published schemas are sloppy, the
 * validator is lenient exactly where Python's jsonschema (Draft4Validator)
 * is, which raises only when a value reaches the sloppy part: a subschema
 * that is not an object (an array among anyOf's schemas, a number in
 * properties; not the document's root) and a "type" naming an unknown type
 * ("Number", "#/definitions/instance"). Such a schema compiles, and a value
 * that reaches it makes schema_validate return -1 with "<pointer>: the
 * schema is broken here: <schema location>: <why>" -- never "valid". A
 * "type" list is read in order, as Python reads it: a value that a type
 * listed before the unknown name admits passes; any other is told broken.
 * "Reaches" follows this validator's order (the first failure stops the
 * walk, anyOf stops at the first match), so a value that fails before
 * reaching a broken part is just invalid. Everything else a keyword cannot
 * use is refused at compile time, as before.
 * Every message fits in cap bytes, cut on a UTF-8 character boundary.
 *
 * A compiled schema is never written again after schema_compile: several
 * threads may validate with one at the same time. */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <stddef.h>

typedef struct schema schema; /* a compiled schema document */

/* The message of an allocation that failed, exactly. */
#define SCHEMA_OUT_OF_MEMORY "out of memory"

/* Compiles the schema text; NULL on failure with the message in err (cap
 * bytes): bad JSON, a keyword value it cannot use (a non-string pattern, a
 * pattern PCRE2 refuses, a negative minLength, ...; not the broken schemas
 * above), a $ref that does not resolve or that loops without reaching into
 * the value (a schema applied to the same value without end), or "out of
 * memory". */
schema *schema_compile(const char *text, size_t len, char *err, size_t cap);

/* Frees a compiled schema (NULL is fine). */
void schema_free(schema *s);

/* Validates the instance text. Returns 0 when valid (err ""), 1 when invalid
 * with "<pointer>: <rule>" in err, -1 when it could not tell: the text is
 * not JSON ("invalid JSON: ..."), memory ran out (SCHEMA_OUT_OF_MEMORY), the
 * schemas nest deeper than SCHEMA_MAX_CALLS on the way, PCRE2 gave up on a
 * pattern (its match limit, against runaway backtracking), or the value
 * reached a broken schema (see Broken schemas above). */
int schema_validate(const schema *s, const char *text, size_t len, char *err, size_t cap);

/* ---- sets of named schema documents ----
 * Losant's schemas refer to each other: "#/definitions/<Name>" in one
 * document names the document <Name>. In a set, a $ref of the form
 * "#/definitions/<Name>" or "#/definitions/<Name>/<more pointer>" that does
 * NOT resolve inside its own document resolves to the root of the set's
 * document <Name> (or to <more pointer> inside it); it may be the same
 * document (a recursive query). A $ref that resolves inside its own
 * document does so, as draft-04 says. Documents may refer to each other in
 * cycles (A to B to A); validation through them is bounded as any other
 * (SCHEMA_MAX_CALLS), and a cycle that never goes into the value is refused
 * as a loop. A $ref that resolves nowhere is refused with "<name>#<schema
 * pointer>/$ref: \"#/definitions/x\" does not resolve, and the set has no
 * schema document \"x\"" (or "... does not resolve in the schema document
 * \"x\"" when x exists but not the rest of the pointer). */
typedef struct schema_set schema_set;

/* lookup(ctx, name, &len) -> the JSON text (len bytes) of the schema
 * document called name, or NULL when there is none. The set reads the text
 * in place: it must stay valid and unchanged as long as the set. The set
 * asks at most once per name, except when lookup fails: NULL with *len set
 * to SCHEMA_LOOKUP_FAILED fails the schema_set_get in progress ("the lookup
 * of schema document \"x\" failed") and leaves the name to be asked again. */
typedef const char *(*schema_lookup)(void *ctx, const char *name, size_t *len);
#define SCHEMA_LOOKUP_FAILED ((size_t)-1)

/* A new, empty set; NULL out of memory. */
schema_set *schema_set_new(schema_lookup lookup, void *ctx);

/* Frees the set and every schema it compiled (NULL is fine). */
void schema_set_free(schema_set *set);

/* The compiled schema called name (owned by the set), compiled on first use
 * with every document it references (each compiled once and shared); NULL
 * with the message in err: "the set has no schema document \"x\"", a
 * refused document, or SCHEMA_OUT_OF_MEMORY. A failure leaves the set as it
 * was (a later call tries again, without asking lookup again). Not
 * thread-safe: a threaded caller gets every name it needs first, then
 * validates from any thread (validation never writes; nor does getting a
 * name compiled already, but getting any other name does). */
const schema *schema_set_get(schema_set *set, const char *name, char *err, size_t cap);

/* The compiled schema called name (n bytes) when schema_set_get compiled it
 * already, else NULL: never asks lookup nor compiles, never writes (any
 * thread may call it while no schema_set_get runs). */
const schema *schema_set_ready(const schema_set *set, const char *name, size_t n);

/* The most schemas one validation applies inside one another (the C stack). */
#define SCHEMA_MAX_CALLS 5000

#endif
