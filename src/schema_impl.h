/* schema_impl.h: what the validator's files share (not part of its API).
 * schema_parse.c: the arena, the JSON tree and its parser, the message
 * builder; schema_value.c: number comparison, deep equality, hashing, the
 * formats; schema_regex.c: PCRE2; schema.c: compiling a schema's keywords;
 * schema_ref.c: $refs, the loop check, schema_compile; schema_set.c: sets
 * of named documents; schema_check.c: validating. */
#ifndef SCHEMA_IMPL_H
#define SCHEMA_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/* ---- arena: blocks freed all at once ---- */
typedef struct sx_block sx_block;
typedef struct sx_arena {
    sx_block *head;   /* the block being filled; each links the previous one */
    size_t next_size; /* the size of the next block */
    sx_block *local;  /* the caller's block (sx_arena_local), never freed, or NULL */
} sx_arena;

void sx_arena_init(sx_arena *a, size_t first); /* first: the first block's size */
/* Starts a with the caller's buffer of size bytes (aligned for any value)
 * as its first block, then blocks of next bytes from the heap. */
void sx_arena_local(sx_arena *a, void *buf, size_t size, size_t next);
void *sx_alloc(sx_arena *a, size_t n);         /* aligned for any value; NULL: out of memory */
void sx_arena_free(sx_arena *a);

/* ---- the JSON tree ---- */
enum { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

typedef struct jv jv;
typedef struct jmember jmember;
struct jv {
    unsigned char type;
    unsigned char isint; /* number: written as an integer that fits in 64 bits (u.num.i holds it) */
    unsigned char lazy;  /* number of an instance: d not computed, i * 10^e10 (2: negated); see sx_num_d */
    signed char e10;
    uint32_t tlen;       /* number: the length of its text */
    union {
        int b;                                              /* JV_BOOL */
        struct { double d; int64_t i; const char *text; } num; /* JV_NUMBER: d set unless lazy */
        struct { const char *s; size_t len; } str;          /* JV_STRING: UTF-8, may hold NULs */
        struct { jv *v; size_t n; } arr;                    /* JV_ARRAY */
        struct { jmember *m; size_t n; } obj;               /* JV_OBJECT: members in text order */
    } u;
};
struct jmember {
    const char *key;
    size_t klen;
    jv val;
};

/* Parses the JSON text into a tree allocated in a (strings without escapes
 * and number texts point into text, which must outlive the tree). Returns 0,
 * or -1 with "invalid JSON: <what> at byte <n>" or "out of memory" in err. */
int sx_parse(sx_arena *a, const char *text, size_t len, jv **out, char *err, size_t cap);
/* The same for an instance, read once by one thread: a number with at most
 * 15 significant digits and a small exponent keeps its decimal parts and
 * gets its double from sx_num_d when a keyword asks (most never do). */
int sx_parse_instance(sx_arena *a, const char *text, size_t len, jv **out, char *err, size_t cap);
double sx_num_d(const jv *v); /* a number's double (of a lazy one, as read_number computes it) */
#define SX_MAX_DEPTH 2048 /* as jansson (the sandbox's parser): what it takes, the validator reads */

/* ---- messages: written into a caller's buffer, cut on a UTF-8 boundary ---- */
typedef struct sx_msg {
    char *buf;
    size_t cap, len;
    int cut; /* something did not fit: nothing more is written */
} sx_msg;

void sx_msg_init(sx_msg *m, char *buf, size_t cap);
/* The writers accept m == NULL (a quiet validation) and do nothing then. */
void sx_msg_add(sx_msg *m, const char *s, size_t n);
void sx_msg_str(sx_msg *m, const char *s);
void sx_msg_int(sx_msg *m, uint64_t u);
void sx_msg_token(sx_msg *m, const char *s, size_t n); /* a JSON pointer token: ~ and / escaped */
void sx_msg_value(sx_msg *m, const jv *v, int quote); /* compact JSON; quote 0: a top string bare */

/* ---- values (schema_value.c) ---- */
int sx_num_cmp(const jv *a, const jv *b);   /* -1, 0, 1: exact, across int64 and double */
int sx_equal(const jv *a, const jv *b);     /* deep JSON equality (1 == 1.0) */
uint64_t sx_hash(const jv *v);              /* equal values hash alike */
int sx_integral(const jv *v);               /* a number with no fractional part */
int sx_multiple_of(const jv *v, const jv *m); /* v is an integral multiple of m (> 0) */
size_t sx_utf8_len(const char *s, size_t n); /* code points */

enum { FMT_NONE, FMT_DATE_TIME, FMT_EMAIL, FMT_URI, FMT_IPV4, FMT_IPV6, FMT_HOSTNAME, FMT_REGEX };
int sx_format_id(const char *name, size_t n);        /* FMT_NONE: not one we check */
const char *sx_format_rule(int fmt);                  /* "must be a URI" ... */
int sx_format_ok(int fmt, const char *s, size_t n);   /* not FMT_REGEX */

/* ---- compiled schemas ---- */
enum { T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16, T_ARR = 32, T_OBJ = 64 };
enum {
    F_EXCL_MIN = 1, F_EXCL_MAX = 2, F_UNIQUE = 4, F_NO_ADD_PROPS = 8, F_ITEM_LIST = 16,
    F_NO_ADD_ITEMS = 32, F_BROKEN_TYPE = 64
};

/* A compiled pattern: PCRE2's code and, for the simplest patterns (a
 * character class of ASCII bytes under a count, anchored at the start:
 * ^[A-Fa-f\d]{24}$, ^[0-9a-zA-Z_-]{1,255}), what decides a match
 * without PCRE2 (sx_regex_simple). */
typedef struct sx_re {
    pcre2_code *code;
    struct sx_re *next;   /* the schema's list of its patterns (their code freed with it) */
    unsigned char jit;    /* code has JIT code: run through pcre2_jit_match */
    unsigned char simple; /* the fields below decide a match */
    unsigned char to_end; /* simple: the pattern ends with $ (the whole string is the run) */
    size_t min, max;      /* simple: the run's length in characters (max SIZE_MAX: no bound) */
    uint64_t set[2];      /* simple: the class, a bit per ASCII byte */
} sx_re;

typedef struct snode snode;
typedef struct sprop { const char *key; size_t klen; snode *s; } sprop;
typedef struct spat { const sx_re *re; snode *s; } spat;
typedef struct sdep { const char *key; size_t klen; snode *s; const jv *names; } sdep;

struct snode {
    snode *ref;          /* $ref: the value is validated by that node alone */
    const char *broken;  /* "<where>: <why>": the schema cannot be applied (-1 when a value reaches it;
                          * with F_BROKEN_TYPE only a value none of types admits) */
    snode *next_all;     /* every node of the schema, for the loop check */
    const char *where;   /* the schema pointer of this node, for messages */
    unsigned types;      /* T_* bits; 0 any */
    unsigned flags;      /* F_* bits */
    int format;          /* FMT_* */
    int mark;            /* the loop check's colour */
    const jv *minimum, *maximum, *multiple_of, *enumv, *required;
    size_t min_len, max_len, min_items, max_items, min_props, max_props;
    const sx_re *pattern;
    const jv *pattern_src;
    sprop *props;        /* sorted by key bytes */
    spat *pats;
    sdep *deps;
    snode *add_props;    /* NULL: any (unless F_NO_ADD_PROPS) */
    snode *items;        /* items as one schema, or NULL */
    snode **item_list;   /* items as a list (F_ITEM_LIST) */
    snode *add_items;    /* NULL: any (unless F_NO_ADD_ITEMS) */
    snode **all_of, **any_of, **one_of;
    snode *not_;
    size_t nprops, npats, ndeps, nitem_list, nall, nany, none;
};


struct schema {
    sx_arena arena;                 /* the schema text and tree, the nodes, their strings */
    snode *root;
    sx_re *regexes;                 /* every compiled pattern, its code freed with the schema */
    pcre2_general_context *gctx;    /* PCRE2's allocations through ours */
    pcre2_compile_context *cctx;    /* the ECMA-like options */
    pcre2_match_context *mctx;      /* the match limit */
};

/* ---- compiling (schema.c, schema_ref.c, schema_set.c) ---- */
typedef struct sx_unit {  /* one document being compiled, or compiled */
    schema *s;            /* its compiled schema: the arena its nodes go to, its regexes */
    const jv *doc;        /* its parsed root */
    const char *base;     /* the root's id without a trailing '#', or NULL */
    size_t base_len;
    const char *prefix;   /* what its locations start with before '#': "" alone, its name in a set */
} sx_unit;

typedef struct sx_pending { snode *node; const jv *ref; sx_unit *unit; struct sx_pending *next; } sx_pending;
typedef struct sx_memo_entry { const jv *doc; snode *node; uint64_t session; } sx_memo_entry;
typedef struct sx_memo {  /* schema object -> its node, open addressing */
    sx_memo_entry *e;
    size_t cap, n;
} sx_memo;

typedef struct sx_compiler {
    sx_unit *u;           /* the document whose nodes are being made */
    schema_set *set;      /* NULL: one document alone */
    sx_memo *memo;
    uint64_t session;     /* the tag of the memo entries made now */
    sx_pending *todo;     /* $refs to resolve */
    snode *all;           /* the nodes made now, for the loop check */
    sx_msg err;
} sx_compiler;

/* schema.c */
snode *sx_compile_schema(sx_compiler *c, const jv *d, const char *where); /* NULL: failed, told in c->err */
sx_msg *sx_fail(sx_compiler *c, const char *where, const char *key);      /* starts "<where>[/<key>]: " */
int sx_out_of_memory(sx_compiler *c);                                     /* -1 */
int sx_memo_put(sx_compiler *c, const jv *d, snode *n);                   /* -1 out of memory */
void sx_memo_forget(sx_memo *m, uint64_t session);                        /* drops the entries of a session */
const jv *sx_member(const jv *o, const char *name, size_t n);             /* the last member so named, or NULL */
/* schema_ref.c */
int sx_start_unit(sx_compiler *c, sx_unit *u); /* its base (the root's "id") and its root node; -1 told */
/* Resolves every pending $ref (which in a set may start other units), then
 * checks the loops of the nodes made; -1 told. */
int sx_finish(sx_compiler *c);
/* schema_set.c: the unit of the set's document called name (n bytes),
 * loaded and its root compiled when new; NULL with *missing set when the
 * set has no such document, NULL with c->err told when it failed. */
sx_unit *sx_set_unit(sx_compiler *c, const char *name, size_t n, int *missing);

/* ---- schema_regex.c ---- */
int sx_regex_init(schema *s);        /* the PCRE2 contexts; -1 out of memory */
void sx_regex_release(schema *s);    /* frees the compiled patterns and the contexts */
/* Compiles an ECMA 262 pattern with the schema's options; NULL with PCRE2's
 * reason in err, or SCHEMA_OUT_OF_MEMORY. */
pcre2_code *sx_regex_compile(const schema *s, const char *src, size_t n, char *err, size_t cap);
/* Reads the pattern src (n bytes) as one sx_re.simple decides: '^', a
 * class of ASCII characters, ranges, \d and \w (PCRE2's, without UCP: ASCII
 * only) and escaped punctuation, not negated, then *, +, ?, {n}, {n,} or
 * {n,m} or nothing, then '$' or nothing. Fills re's simple fields and
 * returns 1 when it is one; 0 when not (PCRE2 decides). */
int sx_regex_simple(const char *src, size_t n, sx_re *re);
/* The "regex" format: 1 when s compiles as an ECMA 262 pattern would (no
 * PCRE-only escape such as \A \Z \z \G), 0 when not, -1 out of memory. */
int sx_regex_format_ok(const schema *s, const char *src, size_t n);
#define SX_MATCH_LIMIT 1000000

#endif
