/* schema.c: compiling the keywords of a draft-04 schema (schema.h); the
 * $refs, the loop check and schema_compile are schema_ref.c's. Each
 * subschema (an object in a keyword that holds schemas) becomes one snode,
 * the same object always the same node (the memo), so a $ref is resolved
 * once, to a node pointer. Patterns are compiled once (schema_regex.c).
 *
 * Keyword values are checked for what the keyword needs (a number for
 * minimum, a non-negative integer for minLength, ...); an empty "required"
 * is allowed. Unknown keywords are ignored, and the siblings of a $ref too
 * (draft-04: the reference stands for the whole object).
 *
 * Broken, not refused (as Python's jsonschema, which raises only when a
 * value reaches them): a subschema that is not an object (an array in anyOf,
 * a number in properties, ...) and a "type" naming an unknown type ("Number")
 * make a node that fails validation with -1 and "the schema is broken here";
 * a "type" list is read in order, as Python's is: the types listed before
 * the first unknown name admit their values, any other value is told broken. */
#include "schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef sx_compiler compiler;

/* ---- failures ---- */

sx_msg *sx_fail(compiler *c, const char *where, const char *key) {
    sx_msg_init(&c->err, c->err.buf, c->err.cap);
    sx_msg_str(&c->err, where);
    if (key) {
        sx_msg_add(&c->err, "/", 1);
        sx_msg_token(&c->err, key, strlen(key));
    }
    sx_msg_add(&c->err, ": ", 2);
    return &c->err;
}

int sx_out_of_memory(compiler *c) {
    sx_msg_init(&c->err, c->err.buf, c->err.cap);
    sx_msg_str(&c->err, SCHEMA_OUT_OF_MEMORY);
    return -1;
}

/* A keyword's value is not what it needs: "<where>/<kw>: must be <what>". */
static int bad_value(compiler *c, const char *where, const char *kw, const char *what) {
    sx_msg_str(sx_fail(c, where, kw), what);
    return -1;
}

static const char *type_name(const jv *v) {
    static const char *names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    return names[v->type];
}

/* Makes n broken: "<where>[/<kw>]: <why>[ <v as JSON>]<tail>", kept in the arena. */
static int set_broken(compiler *c, snode *n, const char *kw, const char *why, const jv *v, const char *tail) {
    char buf[512];
    sx_msg m;
    sx_msg_init(&m, buf, sizeof buf);
    sx_msg_str(&m, n->where);
    if (kw) sx_msg_add(&m, "/", 1), sx_msg_str(&m, kw);
    sx_msg_add(&m, ": ", 2);
    sx_msg_str(&m, why);
    if (v) sx_msg_add(&m, " ", 1), sx_msg_value(&m, v, 1);
    sx_msg_str(&m, tail);
    char *keep = sx_alloc(&c->u->s->arena, m.len + 1);
    if (!keep) return sx_out_of_memory(c);
    memcpy(keep, buf, m.len + 1);
    n->broken = keep;
    return 0;
}

/* ---- small helpers ---- */

/* "<base>/<token>" (the token escaped) in the arena, or NULL. */
static const char *path_join(compiler *c, const char *base, const char *tok, size_t n) {
    size_t blen = strlen(base), extra = 0;
    for (size_t i = 0; i < n; i++) extra += tok[i] == '~' || tok[i] == '/';
    char *p = sx_alloc(&c->u->s->arena, blen + 1 + n + extra + 1);
    if (!p) return NULL;
    sx_msg m;
    sx_msg_init(&m, p, blen + 1 + n + extra + 1);
    sx_msg_add(&m, base, blen);
    sx_msg_add(&m, "/", 1);
    sx_msg_token(&m, tok, n);
    return p;
}

const jv *sx_member(const jv *o, const char *name, size_t n) {
    for (size_t i = o->u.obj.n; i-- > 0;)
        if (o->u.obj.m[i].klen == n && memcmp(o->u.obj.m[i].key, name, n) == 0) return &o->u.obj.m[i].val;
    return NULL;
}

/* ---- the memo: schema object -> node ---- */

static size_t memo_slot(const sx_memo *m, const jv *d) {
    uintptr_t h = (uintptr_t)d;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15u;
    return (size_t)(h ^ (h >> 29)) & (m->cap - 1);
}

/* The first empty slot of d's run (the table has room). */
static size_t memo_free_slot(const sx_memo *m, const jv *d) {
    size_t i = memo_slot(m, d);
    while (m->e[i].doc) i = (i + 1) & (m->cap - 1);
    return i;
}

/* Forgotten entries (the nodes of a session that failed) stay as
 * tombstones, their node NULL, until the table grows. */
static snode *memo_get(const sx_memo *m, const jv *d) {
    if (!m->cap) return NULL;
    for (size_t i = memo_slot(m, d);; i = (i + 1) & (m->cap - 1)) {
        if (m->e[i].doc == d && m->e[i].node) return m->e[i].node;
        if (!m->e[i].doc) return NULL;
    }
}

int sx_memo_put(compiler *c, const jv *d, snode *n) {
    sx_memo *m = c->memo;
    if (2 * (m->n + 1) > m->cap) { /* full: rehash without the tombstones, into more slots if need be */
        size_t live = 0, cap = m->cap ? m->cap : 64, old_cap = m->cap;
        for (size_t i = 0; i < old_cap; i++) live += m->e[i].node != NULL;
        while (2 * (live + 1) > cap) cap *= 2;
        sx_memo_entry *old = m->e, *tab = calloc(cap, sizeof *tab);
        if (!tab) return sx_out_of_memory(c);
        m->e = tab;
        m->cap = cap;
        m->n = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].node) m->e[memo_free_slot(m, old[i].doc)] = old[i], m->n++;
        free(old);
    }
    m->e[memo_free_slot(m, d)] = (sx_memo_entry){d, n, c->session};
    m->n++;
    return 0;
}

void sx_memo_forget(sx_memo *m, uint64_t session) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].doc && m->e[i].session == session) m->e[i].node = NULL;
}

/* Compiles the pattern v (a string), found in where/kw; its code kept for
 * schema_free. */
static const sx_re *regex(compiler *c, const jv *v, const char *where, const char *kw) {
    char why[300];
    pcre2_code *code = sx_regex_compile(c->u->s, v->u.str.s, v->u.str.len, why, sizeof why);
    sx_re *re = code ? sx_alloc(&c->u->s->arena, sizeof *re) : NULL;
    if (re) {
        size_t jit = 0;
        re->code = code;
        re->next = c->u->s->regexes;
        c->u->s->regexes = re;
        re->jit = pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit) == 0 && jit > 0;
        sx_regex_simple(v->u.str.s, v->u.str.len, re);
        return re;
    }
    if (code) pcre2_code_free(code);
    if (code || strcmp(why, SCHEMA_OUT_OF_MEMORY) == 0) return sx_out_of_memory(c), NULL;
    sx_msg *m = sx_fail(c, where, kw);
    sx_msg_str(m, "not a valid regular expression ");
    sx_msg_value(m, v, 1);
    sx_msg_str(m, ": ");
    sx_msg_str(m, why);
    return NULL;
}

/* ---- keywords ---- */


/* Compiles v, the schema at base/kw[/index or key] (key: NULL for none). */
static snode *sub(compiler *c, const jv *v, const char *base, const char *kw, const char *key, size_t klen,
                  size_t index) {
    char num[24];
    const char *where = path_join(c, base, kw, strlen(kw));
    if (where && !key && index != (size_t)-1) {
        key = num;
        klen = (size_t)snprintf(num, sizeof num, "%zu", index);
    }
    if (where && key) where = path_join(c, where, key, klen);
    if (!where) return sx_out_of_memory(c), NULL;
    return sx_compile_schema(c, v, where);
}

/* A list of schemas (allOf, anyOf, oneOf, items as a list) into *out, *n. */
static int schema_list(compiler *c, snode *node, const jv *v, const char *kw, snode ***out, size_t *n) {
    if (v->type != JV_ARRAY || (v->u.arr.n == 0 && strcmp(kw, "items") != 0))
        return bad_value(c, node->where, kw, "must be a non-empty array of schemas");
    *out = sx_alloc(&c->u->s->arena, v->u.arr.n * sizeof **out);
    if (!*out) return sx_out_of_memory(c);
    for (size_t i = 0; i < v->u.arr.n; i++)
        if (!((*out)[i] = sub(c, &v->u.arr.v[i], node->where, kw, NULL, 0, i))) return -1;
    *n = v->u.arr.n;
    return 0;
}

/* A non-negative integer count into *out (SIZE_MAX when larger). */
static int count(compiler *c, snode *node, const jv *v, const char *kw, size_t *out) {
    if (!sx_integral(v) || sx_num_d(v) < 0) return bad_value(c, node->where, kw, "must be a non-negative integer");
    *out = sx_num_d(v) >= (double)SIZE_MAX ? SIZE_MAX : (size_t)sx_num_d(v);
    if (v->isint && (uint64_t)v->u.num.i <= SIZE_MAX) *out = (size_t)v->u.num.i;
    return 0;
}

static int type_bit(const jv *v) {
    static const char *names[] = {"null", "boolean", "integer", "number", "string", "array", "object"};
    if (v->type != JV_STRING) return 0;
    for (int i = 0; i < 7; i++)
        if (strlen(names[i]) == v->u.str.len && memcmp(names[i], v->u.str.s, v->u.str.len) == 0) return 1 << i;
    return 0;
}

/* type: a name or a list of them. The first name that is no type makes the
 * node broken for the values the names before it do not admit. */
static int kw_type(compiler *c, snode *n, const jv *v) {
    const jv *one = v->type == JV_ARRAY ? v->u.arr.v : v;
    size_t ntypes = v->type == JV_ARRAY ? v->u.arr.n : 1;
    if (v->type != JV_STRING && (v->type != JV_ARRAY || ntypes == 0))
        return bad_value(c, n->where, "type", "must be a type name or a non-empty array of them");
    for (size_t i = 0; i < ntypes; i++) {
        int bit = type_bit(&one[i]);
        if (!bit) {
            n->flags |= F_BROKEN_TYPE;
            return set_broken(c, n, "type", "unknown type", &one[i],
                              " (null, boolean, integer, number, string, array, object)");
        }
        n->types |= (unsigned)bit;
    }
    return 0;
}

static int kw_properties(compiler *c, snode *n, const jv *v, int patterns) {
    const char *kw = patterns ? "patternProperties" : "properties";
    if (v->type != JV_OBJECT) return bad_value(c, n->where, kw, "must be an object of schemas");
    size_t nmembers = v->u.obj.n;
    if (patterns) n->pats = sx_alloc(&c->u->s->arena, nmembers * sizeof *n->pats);
    else n->props = sx_alloc(&c->u->s->arena, nmembers * sizeof *n->props);
    if (patterns ? !n->pats : !n->props) return sx_out_of_memory(c);
    for (size_t i = 0; i < nmembers; i++) {
        const jmember *mb = &v->u.obj.m[i];
        snode *s = sub(c, &mb->val, n->where, kw, mb->key, mb->klen, (size_t)-1);
        if (!s) return -1;
        if (!patterns) {
            n->props[i] = (sprop){mb->key, mb->klen, s};
            continue;
        }
        jv key = {.type = JV_STRING};
        key.u.str.s = mb->key;
        key.u.str.len = mb->klen;
        const sx_re *re = regex(c, &key, n->where, kw);
        if (!re) return -1;
        n->pats[i] = (spat){re, s};
    }
    if (patterns) n->npats = nmembers;
    else n->nprops = nmembers;
    return 0;
}

static int kw_dependencies(compiler *c, snode *n, const jv *v) {
    if (v->type != JV_OBJECT) return bad_value(c, n->where, "dependencies", "must be an object");
    n->deps = sx_alloc(&c->u->s->arena, v->u.obj.n * sizeof *n->deps);
    if (!n->deps) return sx_out_of_memory(c);
    for (size_t i = 0; i < v->u.obj.n; i++) {
        const jmember *mb = &v->u.obj.m[i];
        sdep *d = &n->deps[i];
        *d = (sdep){mb->key, mb->klen, NULL, NULL};
        if (mb->val.type == JV_ARRAY) {
            for (size_t k = 0; k < mb->val.u.arr.n; k++)
                if (mb->val.u.arr.v[k].type != JV_STRING)
                    return bad_value(c, n->where, "dependencies", "must hold schemas or arrays of property names");
            d->names = &mb->val;
        } else if (!(d->s = sub(c, &mb->val, n->where, "dependencies", mb->key, mb->klen, (size_t)-1))) {
            return -1;
        }
    }
    n->ndeps = v->u.obj.n;
    return 0;
}

/* additionalProperties, additionalItems: true, false or a schema. */
static int kw_additional(compiler *c, snode *n, const jv *v, const char *kw, snode **out, unsigned no_flag) {
    if (v->type == JV_BOOL) {
        if (!v->u.b) n->flags |= no_flag;
        return 0;
    }
    return (*out = sub(c, v, n->where, kw, NULL, 0, (size_t)-1)) ? 0 : -1;
}

/* minimum, maximum, multipleOf (positive: the last). */
static int kw_number(compiler *c, snode *n, const jv *v, const char *kw, const jv **out, int positive) {
    if (v->type != JV_NUMBER) return bad_value(c, n->where, kw, "must be a number");
    if (positive && !(v->isint ? v->u.num.i > 0 : sx_num_d(v) > 0))
        return bad_value(c, n->where, kw, "must be greater than 0");
    *out = v;
    return 0;
}

static int kw_flag(compiler *c, snode *n, const jv *v, const char *kw, unsigned flag) {
    if (v->type != JV_BOOL) return bad_value(c, n->where, kw, "must be true or false");
    if (v->u.b) n->flags |= flag;
    return 0;
}

/* Compiles keyword kw of node n. */
static int keyword(compiler *c, snode *n, const char *kw, const jv *v) {
#define IS(name) (strcmp(kw, name) == 0)
    if (IS("type")) return kw_type(c, n, v);
    if (IS("enum")) {
        if (v->type != JV_ARRAY || v->u.arr.n == 0) return bad_value(c, n->where, kw, "must be a non-empty array");
        n->enumv = v;
        return 0;
    }
    if (IS("minimum")) return kw_number(c, n, v, kw, &n->minimum, 0);
    if (IS("maximum")) return kw_number(c, n, v, kw, &n->maximum, 0);
    if (IS("multipleOf")) return kw_number(c, n, v, kw, &n->multiple_of, 1);
    if (IS("exclusiveMinimum")) return kw_flag(c, n, v, kw, F_EXCL_MIN);
    if (IS("exclusiveMaximum")) return kw_flag(c, n, v, kw, F_EXCL_MAX);
    if (IS("uniqueItems")) return kw_flag(c, n, v, kw, F_UNIQUE);
    if (IS("minLength")) return count(c, n, v, kw, &n->min_len);
    if (IS("maxLength")) return count(c, n, v, kw, &n->max_len);
    if (IS("minItems")) return count(c, n, v, kw, &n->min_items);
    if (IS("maxItems")) return count(c, n, v, kw, &n->max_items);
    if (IS("minProperties")) return count(c, n, v, kw, &n->min_props);
    if (IS("maxProperties")) return count(c, n, v, kw, &n->max_props);
    if (IS("pattern")) {
        if (v->type != JV_STRING) return bad_value(c, n->where, kw, "must be a string");
        n->pattern_src = v;
        return (n->pattern = regex(c, v, n->where, kw)) ? 0 : -1;
    }
    if (IS("format")) {
        if (v->type != JV_STRING) return bad_value(c, n->where, kw, "must be a string");
        n->format = sx_format_id(v->u.str.s, v->u.str.len);
        return 0;
    }
    if (IS("required")) {
        for (size_t i = 0; v->type == JV_ARRAY && i < v->u.arr.n; i++)
            if (v->u.arr.v[i].type != JV_STRING) return bad_value(c, n->where, kw, "must be an array of strings");
        if (v->type != JV_ARRAY) return bad_value(c, n->where, kw, "must be an array of strings");
        n->required = v;
        return 0;
    }
    if (IS("properties")) return kw_properties(c, n, v, 0);
    if (IS("patternProperties")) return kw_properties(c, n, v, 1);
    if (IS("additionalProperties")) return kw_additional(c, n, v, kw, &n->add_props, F_NO_ADD_PROPS);
    if (IS("additionalItems")) return kw_additional(c, n, v, kw, &n->add_items, F_NO_ADD_ITEMS);
    if (IS("dependencies")) return kw_dependencies(c, n, v);
    if (IS("items")) {
        if (v->type == JV_ARRAY) {
            n->flags |= F_ITEM_LIST;
            return schema_list(c, n, v, kw, &n->item_list, &n->nitem_list);
        }
        return (n->items = sub(c, v, n->where, kw, NULL, 0, (size_t)-1)) ? 0 : -1;
    }
    if (IS("allOf")) return schema_list(c, n, v, kw, &n->all_of, &n->nall);
    if (IS("anyOf")) return schema_list(c, n, v, kw, &n->any_of, &n->nany);
    if (IS("oneOf")) return schema_list(c, n, v, kw, &n->one_of, &n->none);
    if (IS("not")) return (n->not_ = sub(c, v, n->where, kw, NULL, 0, (size_t)-1)) ? 0 : -1;
    if (IS("definitions")) {
        if (v->type != JV_OBJECT) return bad_value(c, n->where, kw, "must be an object of schemas");
        for (size_t i = 0; i < v->u.obj.n; i++)
            if (!sub(c, &v->u.obj.m[i].val, n->where, kw, v->u.obj.m[i].key, v->u.obj.m[i].klen, (size_t)-1))
                return -1;
    }
    return 0; /* unknown: ignored */
#undef IS
}

static int prop_cmp(const void *a, const void *b) {
    const sprop *x = a, *y = b;
    int r = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);
    return r ? r : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Compiles the schema d found at where (its node when done already); a d
 * that is not an object makes a broken node. */
snode *sx_compile_schema(compiler *c, const jv *d, const char *where) {
    snode *n = memo_get(c->memo, d);
    if (n) return n;
    n = sx_alloc(&c->u->s->arena, sizeof *n);
    if (!n) return sx_out_of_memory(c), NULL;
    memset(n, 0, sizeof *n);
    n->where = where;
    n->max_len = n->max_items = n->max_props = SIZE_MAX;
    if (sx_memo_put(c, d, n) < 0) return NULL;
    n->next_all = c->all;
    c->all = n;
    if (d->type != JV_OBJECT) {
        char why[64];
        snprintf(why, sizeof why, "a schema must be an object, not %s", type_name(d));
        return set_broken(c, n, NULL, why, NULL, "") < 0 ? NULL : n;
    }
    const jv *ref = sx_member(d, "$ref", 4);
    if (ref) {
        if (ref->type != JV_STRING) return bad_value(c, where, "$ref", "must be a string"), NULL;
        sx_pending *p = sx_alloc(&c->u->s->arena, sizeof *p);
        if (!p) return sx_out_of_memory(c), NULL;
        *p = (sx_pending){n, ref, c->u, c->todo};
        c->todo = p;
        return n;
    }
    char kw[24];
    for (size_t i = 0; i < d->u.obj.n; i++) {
        const jmember *mb = &d->u.obj.m[i];
        if (mb->klen >= sizeof kw || memchr(mb->key, 0, mb->klen)) continue; /* no keyword is that long */
        memcpy(kw, mb->key, mb->klen);
        kw[mb->klen] = '\0';
        if (keyword(c, n, kw, &mb->val) < 0) return NULL;
    }
    if (n->nprops > 1) qsort(n->props, n->nprops, sizeof *n->props, prop_cmp);
    return n;
}
