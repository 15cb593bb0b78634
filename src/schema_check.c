/* schema_check.c: validating an instance against a compiled schema
 * (schema.h). The instance is parsed into an arena freed at the end of the
 * call; the walk stops at the first failure and only then writes the
 * message, from the chain of path segments on the C stack. anyOf, oneOf and
 * not try their branches quietly (no message); when no branch matches, the
 * closest one (deepest failure, first on a tie) runs again to say why. */
#include "schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step of the path from the root to the value being checked. */
typedef struct sx_path {
    const struct sx_path *up;
    const char *key; /* a member's name, or NULL for an item */
    size_t klen, index, depth;
} sx_path;

typedef struct vctx {
    const schema *s;
    sx_msg *msg;           /* where the failure is told; NULL: quietly */
    pcre2_match_data *md;  /* made at the first match */
    char *subject;         /* the copy a pattern runs on, with zeroed margins (match): small, or the heap's */
    size_t subject_cap;
    char small[512];       /* the subject of a short string */
    const char *text, *text_end; /* the instance's text: a string well inside it needs no copy (match) */
    int calls;             /* schemas applied inside one another */
    size_t fail_depth;     /* the path depth of the last failure */
    int fail_typed;        /* the last failure was the value's type (a branch for another kind of value) */
    int suffixed;          /* the failure told already names its closest anyOf/oneOf branch */
    sx_msg hard;           /* why it could not tell (-1) */
} vctx;

static int check(vctx *c, const snode *n, const jv *v, const sx_path *p);

/* ---- failures ---- */

static void write_path(sx_msg *m, const sx_path *p) {
    if (!p) return;
    write_path(m, p->up);
    sx_msg_add(m, "/", 1);
    if (p->key) sx_msg_token(m, p->key, p->klen);
    else sx_msg_int(m, p->index);
}

/* Starts m with "<pointer>: ", or with nothing at the root. */
static sx_msg *start_at(sx_msg *m, const sx_path *p) {
    sx_msg_init(m, m->buf, m->cap);
    if (p) {
        write_path(m, p);
        sx_msg_add(m, ": ", 2);
    }
    return m;
}

/* Starts the message of a failure at p (NULL when quiet). */
static sx_msg *at(vctx *c, const sx_path *p) {
    c->fail_depth = p ? p->depth : 0;
    c->fail_typed = c->suffixed = 0;
    return c->msg ? start_at(c->msg, p) : NULL;
}

/* Starts the message of a failure to validate at all. */
static sx_msg *hard(vctx *c, const sx_path *p) {
    return start_at(&c->hard, p);
}

/* The value reached a broken schema (schema.h): -1. */
static int broken(vctx *c, const snode *n, const sx_path *p) {
    sx_msg *m = hard(c, p);
    sx_msg_str(m, "the schema is broken here: ");
    sx_msg_str(m, n->broken);
    return -1;
}

static int out_of_memory(vctx *c) {
    sx_msg_init(&c->hard, c->hard.buf, c->hard.cap);
    sx_msg_str(&c->hard, SCHEMA_OUT_OF_MEMORY);
    return -1;
}

/* Writes "<rule><count> <noun>, not <actual>" (noun: "item", "character",
 * "property", made plural unless count is 1). */
static int fail_count(vctx *c, const sx_path *p, const char *rule, size_t count, const char *noun, size_t actual) {
    sx_msg *m = at(c, p);
    size_t n = strlen(noun);
    sx_msg_str(m, rule);
    sx_msg_int(m, count);
    sx_msg_add(m, " ", 1);
    if (count == 1) sx_msg_add(m, noun, n);
    else if (noun[n - 1] == 'y') sx_msg_add(m, noun, n - 1), sx_msg_str(m, "ies");
    else sx_msg_add(m, noun, n), sx_msg_str(m, "s");
    sx_msg_str(m, ", not ");
    sx_msg_int(m, actual);
    return 1;
}

/* ---- type and enum ---- */

static int type_ok(unsigned types, const jv *v) {
    switch (v->type) {
    case JV_NULL: return types & T_NULL;
    case JV_BOOL: return types & T_BOOL;
    case JV_NUMBER: return (types & T_NUM) || ((types & T_INT) && sx_integral(v));
    case JV_STRING: return types & T_STR;
    case JV_ARRAY: return types & T_ARR;
    default: return types & T_OBJ;
    }
}

static int fail_type(vctx *c, unsigned types, const jv *v, const sx_path *p) {
    static const char *names[] = {"null", "a boolean", "an integer", "a number", "a string", "an array", "an object"};
    sx_msg *m = at(c, p);
    int left = 0;
    c->fail_typed = 1;
    if (!m) return 1; /* quiet: a oneOf's or anyOf's branch for another type */
    for (unsigned t = types; t; t &= t - 1) left++;
    sx_msg_str(m, "must be ");
    for (int i = 0; i < 7; i++) {
        if (!(types & (1u << i))) continue;
        sx_msg_str(m, names[i]);
        left--;
        sx_msg_str(m, left > 1 ? ", " : left == 1 ? " or " : "");
    }
    sx_msg_str(m, ", not ");
    if (v->type == JV_NUMBER && (types & T_INT)) sx_msg_value(m, v, 1); /* 1.5 */
    else sx_msg_str(m, names[v->type == JV_NULL ? 0 : v->type == JV_BOOL ? 1 : v->type + 1]);
    return 1;
}

static int check_enum(vctx *c, const jv *e, const jv *v, const sx_path *p) {
    for (size_t i = 0; i < e->u.arr.n; i++)
        if (sx_equal(&e->u.arr.v[i], v)) return 0;
    sx_msg *m = at(c, p);
    sx_msg_str(m, e->u.arr.n == 1 ? "must be " : "must be one of ");
    for (size_t i = 0; i < e->u.arr.n; i++) {
        if (i) sx_msg_str(m, ", ");
        sx_msg_value(m, &e->u.arr.v[i], 0);
    }
    return 1;
}

/* ---- numbers and strings ---- */

static int check_number(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    if (n->minimum) {
        int k = sx_num_cmp(v, n->minimum), excl = n->flags & F_EXCL_MIN;
        if (k < 0 || (k == 0 && excl)) {
            sx_msg *m = at(c, p);
            sx_msg_str(m, excl ? "must be > " : "must be >= ");
            sx_msg_value(m, n->minimum, 1);
            return 1;
        }
    }
    if (n->maximum) {
        int k = sx_num_cmp(v, n->maximum), excl = n->flags & F_EXCL_MAX;
        if (k > 0 || (k == 0 && excl)) {
            sx_msg *m = at(c, p);
            sx_msg_str(m, excl ? "must be < " : "must be <= ");
            sx_msg_value(m, n->maximum, 1);
            return 1;
        }
    }
    if (n->multiple_of && !sx_multiple_of(v, n->multiple_of)) {
        sx_msg *m = at(c, p);
        sx_msg_str(m, "must be a multiple of ");
        sx_msg_value(m, n->multiple_of, 1);
        return 1;
    }
    return 0;
}

/* PCRE2's JIT reads the subject in blocks of up to 16 bytes, past its ends
 * (harmless, never across a page, but memcheck reports it): patterns run on
 * the instance's text itself when the string lies at least SUBJECT_MARGIN
 * bytes inside it (a key or a value without escapes, not at either end),
 * else on a copy with SUBJECT_MARGIN zeroed bytes on each side. */
#define SUBJECT_MARGIN 64

/* 1 when re matches s somewhere, 0 when not, -1 when PCRE2 could not tell. */
static int match(vctx *c, const sx_re *re, const char *s, size_t len, const sx_path *p) {
    if (re->simple) { /* a run of the class from the start: its bytes are ASCII, so characters */
        if (len < re->min || (re->to_end && len > re->max)) return 0;
        for (size_t i = 0, run = re->to_end ? len : re->min; i < run; i++) {
            unsigned char b = (unsigned char)s[i];
            if (b >= 128 || !((re->set[b >> 6] >> (b & 63)) & 1)) return 0;
        }
        return 1;
    }
    if (!c->md && !(c->md = pcre2_match_data_create(1, c->s->gctx))) return out_of_memory(c);
    if (len > SIZE_MAX - 2 * SUBJECT_MARGIN) return out_of_memory(c);
    char *at = c->small;
    if (c->text && s >= c->text + SUBJECT_MARGIN && s <= c->text_end && (size_t)(c->text_end - s) >= len
        && (size_t)(c->text_end - s) - len >= SUBJECT_MARGIN) {
        at = NULL; /* inside the text: run there */
    } else if (len + 2 * SUBJECT_MARGIN > sizeof c->small) {
        if (len + 2 * SUBJECT_MARGIN > c->subject_cap) {
            size_t cap = len + 2 * SUBJECT_MARGIN < 4096 ? 4096 : len + 2 * SUBJECT_MARGIN;
            char *grown = realloc(c->subject, cap);
            if (!grown) return out_of_memory(c);
            c->subject = grown;
            c->subject_cap = cap;
        }
        at = c->subject;
    }
    if (at) {
        memset(at, 0, SUBJECT_MARGIN);
        if (len) memcpy(at + SUBJECT_MARGIN, s, len);
        memset(at + SUBJECT_MARGIN + len, 0, SUBJECT_MARGIN);
        s = at + SUBJECT_MARGIN;
    }
    /* JIT code: its own entry, without pcre2_match's checks (the text is UTF-8 already) */
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, c->md, c->s->mctx)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, c->md, c->s->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its backtracking on the heap */
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, c->md, c->s->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc == PCRE2_ERROR_NOMEMORY || rc == PCRE2_ERROR_HEAP_FAILED) return out_of_memory(c);
    char why[160];
    if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)why, sizeof why) < 0) snprintf(why, sizeof why, "error %d", rc);
    sx_msg *m = hard(c, p);
    sx_msg_str(m, "a pattern could not be run on this string: ");
    sx_msg_str(m, why);
    return -1;
}

static int check_string(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    const char *s = v->u.str.s;
    size_t len = v->u.str.len;
    /* characters: from len / 4 (all 4-byte sequences) to len (all ASCII); counted only when that decides */
    if ((n->min_len > 0 && len / 4 < n->min_len) || (n->max_len != SIZE_MAX && len > n->max_len)) {
        size_t chars = sx_utf8_len(s, len);
        if (chars < n->min_len) return fail_count(c, p, "must be at least ", n->min_len, "character", chars);
        if (chars > n->max_len) return fail_count(c, p, "must be at most ", n->max_len, "character", chars);
    }
    if (n->pattern) {
        int r = match(c, n->pattern, s, len, p);
        if (r <= 0) {
            if (r < 0) return -1;
            sx_msg *m = at(c, p);
            sx_msg_str(m, "must match the pattern ");
            sx_msg_value(m, n->pattern_src, 0);
            return 1;
        }
    }
    if (n->format) {
        int r = n->format == FMT_REGEX ? sx_regex_format_ok(c->s, s, len) : sx_format_ok(n->format, s, len);
        if (r < 0) return out_of_memory(c);
        if (r == 0) {
            sx_msg_str(at(c, p), sx_format_rule(n->format));
            return 1;
        }
    }
    return 0;
}

/* ---- arrays ---- */

typedef struct hashed { uint64_t h; size_t i; } hashed;

static int hashed_cmp(const void *a, const void *b) {
    const hashed *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Finds the equal items i < j with the smallest j (then i): 1 when found, 0
 * when the items are unique, -1 out of memory. Hashes past 16 items. */
static int duplicate(vctx *c, const jv *a, size_t *fi, size_t *fj) {
    size_t n = a->u.arr.n;
    if (n <= 16) {
        for (size_t j = 1; j < n; j++)
            for (size_t i = 0; i < j; i++)
                if (sx_equal(&a->u.arr.v[i], &a->u.arr.v[j])) return *fi = i, *fj = j, 1;
        return 0;
    }
    hashed *t = n < SIZE_MAX / sizeof *t ? malloc(n * sizeof *t) : NULL;
    if (!t) return out_of_memory(c);
    for (size_t k = 0; k < n; k++) t[k] = (hashed){sx_hash(&a->u.arr.v[k]), k};
    qsort(t, n, sizeof *t, hashed_cmp);
    int found = 0;
    for (size_t g = 0; g < n;) { /* each run of one hash, its items in order */
        size_t end = g + 1;
        while (end < n && t[end].h == t[g].h) end++;
        for (size_t y = g + 1; y < end; y++) {
            if (found && t[y].i >= *fj) break;
            for (size_t x = g; x < y; x++) {
                if (!sx_equal(&a->u.arr.v[t[x].i], &a->u.arr.v[t[y].i])) continue;
                *fi = t[x].i, *fj = t[y].i, found = 1;
                break;
            }
            if (found && t[y].i == *fj) break;
        }
        g = end;
    }
    free(t);
    return found;
}

static int check_array(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    size_t count = v->u.arr.n, i = 0, j = 0;
    if (count < n->min_items) return fail_count(c, p, "must have at least ", n->min_items, "item", count);
    if (count > n->max_items) return fail_count(c, p, "must have at most ", n->max_items, "item", count);
    if (n->flags & F_UNIQUE) {
        int r = duplicate(c, v, &i, &j);
        if (r != 0) {
            if (r < 0) return -1;
            sx_msg *m = at(c, p);
            sx_msg_str(m, "must have unique items, but items ");
            sx_msg_int(m, i);
            sx_msg_str(m, " and ");
            sx_msg_int(m, j);
            sx_msg_str(m, " are equal");
            return 1;
        }
    }
    for (i = 0; i < count; i++) {
        const snode *s = n->items;
        if (n->flags & F_ITEM_LIST) {
            s = i < n->nitem_list ? n->item_list[i] : n->add_items;
            if (i >= n->nitem_list && (n->flags & F_NO_ADD_ITEMS)) {
                fail_count(c, p, "must have at most ", n->nitem_list, "item", count);
                sx_msg_str(c->msg, " (additionalItems is false)");
                return 1;
            }
        }
        if (!s) break;
        sx_path item = {p, NULL, 0, i, (p ? p->depth : 0) + 1};
        int r = check(c, s, &v->u.arr.v[i], &item);
        if (r) return r;
    }
    return 0;
}

/* ---- objects ---- */

static int has(const jv *o, const char *key, size_t klen) {
    for (size_t i = 0; i < o->u.obj.n; i++)
        if (o->u.obj.m[i].klen == klen && memcmp(o->u.obj.m[i].key, key, klen) == 0) return 1;
    return 0;
}

static const sprop *find_prop(const snode *n, const char *key, size_t klen) {
    size_t lo = 0, hi = n->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const sprop *pr = &n->props[mid];
        size_t shorter = klen < pr->klen ? klen : pr->klen;
        int r = shorter ? (unsigned char)key[0] - (unsigned char)pr->key[0] : 0; /* most differ there */
        if (r == 0) r = memcmp(key, pr->key, shorter);
        if (r == 0) r = (klen > pr->klen) - (klen < pr->klen);
        if (r == 0) return pr;
        if (r < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* "missing ... property 'name'" */
static int fail_missing(vctx *c, const sx_path *p, const char *what, const jv *name, const jmember *by) {
    sx_msg *m = at(c, p);
    sx_msg_str(m, what);
    sx_msg_str(m, " property '");
    sx_msg_add(m, name->u.str.s, name->u.str.len);
    sx_msg_str(m, "'");
    if (by) {
        sx_msg_str(m, " (required when '");
        sx_msg_add(m, by->key, by->klen);
        sx_msg_str(m, "' is present)");
    }
    return 1;
}

/* dependencies of the member mb of object v. */
static int check_deps(vctx *c, const snode *n, const jv *v, const jmember *mb, const sx_path *p) {
    for (size_t d = 0; d < n->ndeps; d++) {
        const sdep *dep = &n->deps[d];
        if (dep->klen != mb->klen || memcmp(dep->key, mb->key, mb->klen) != 0) continue;
        if (dep->s) {
            int r = check(c, dep->s, v, p);
            if (r) return r;
            continue;
        }
        for (size_t k = 0; k < dep->names->u.arr.n; k++) {
            const jv *name = &dep->names->u.arr.v[k];
            if (!has(v, name->u.str.s, name->u.str.len)) return fail_missing(c, p, "missing", name, mb);
        }
    }
    return 0;
}

/* The member mb: properties, patternProperties, additionalProperties. */
static int check_member(vctx *c, const snode *n, const jmember *mb, const sx_path *p) {
    sx_path child = {p, mb->key, mb->klen, 0, (p ? p->depth : 0) + 1};
    const sprop *pr = n->nprops ? find_prop(n, mb->key, mb->klen) : NULL;
    int matched = pr != NULL, r;
    if (pr && (r = check(c, pr->s, &mb->val, &child)) != 0) return r;
    for (size_t k = 0; k < n->npats; k++) {
        if ((r = match(c, n->pats[k].re, mb->key, mb->klen, &child)) == 0) continue;
        if (r < 0) return -1;
        matched = 1;
        if ((r = check(c, n->pats[k].s, &mb->val, &child)) != 0) return r;
    }
    if (matched) return 0;
    if (n->flags & F_NO_ADD_PROPS) {
        sx_msg *m = at(c, p);
        sx_msg_str(m, "property '");
        sx_msg_add(m, mb->key, mb->klen);
        sx_msg_str(m, "' is not allowed");
        return 1;
    }
    return n->add_props ? check(c, n->add_props, &mb->val, &child) : 0;
}

static int check_object(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    size_t count = v->u.obj.n;
    int r;
    if (count < n->min_props) return fail_count(c, p, "must have at least ", n->min_props, "property", count);
    if (count > n->max_props) return fail_count(c, p, "must have at most ", n->max_props, "property", count);
    for (size_t k = 0; n->required && k < n->required->u.arr.n; k++) {
        const jv *name = &n->required->u.arr.v[k];
        if (!has(v, name->u.str.s, name->u.str.len)) return fail_missing(c, p, "missing required", name, NULL);
    }
    for (size_t i = 0; n->ndeps && i < count; i++)
        if ((r = check_deps(c, n, v, &v->u.obj.m[i], p)) != 0) return r;
    if (!n->nprops && !n->npats && !n->add_props && !(n->flags & F_NO_ADD_PROPS)) return 0;
    for (size_t i = 0; i < count; i++)
        if ((r = check_member(c, n, &v->u.obj.m[i], p)) != 0) return r;
    return 0;
}

/* ---- allOf, anyOf, oneOf, not ---- */

/* Tries the branches quietly: returns the index of the first that matches
 * (-1 none, -2 could not tell); for oneOf (one) also the second in *second.
 * With no match, *best is the closest branch and c->fail_depth its depth:
 * the one that failed deepest in the value; on a tie, one that took the
 * value's type before one made for another kind of value; then the first. */
static long try_branches(vctx *c, snode *const *list, size_t count, int one, const jv *v, const sx_path *p,
                         long *second, size_t *best) {
    sx_msg *told = c->msg;
    size_t best_depth = 0;
    long first = -1;
    int failed = 0, best_typed = 0;
    c->msg = NULL;
    *second = -1;
    *best = 0;
    for (size_t k = 0; k < count; k++) {
        int r = check(c, list[k], v, p);
        if (r < 0) {
            first = -2;
            break;
        }
        if (r == 0) {
            if (first >= 0) {
                *second = (long)k;
                break;
            }
            first = (long)k;
            if (!one) break;
        } else if (!failed || c->fail_depth > best_depth
                   || (c->fail_depth == best_depth && best_typed && !c->fail_typed)) {
            failed = 1;
            best_depth = c->fail_depth;
            best_typed = c->fail_typed;
            *best = k;
        }
    }
    c->msg = told;
    c->fail_depth = best_depth;
    c->fail_typed = best_typed;
    return first;
}

/* No branch of kw matched: the closest one runs again to tell its failure,
 * followed by " (no anyOf schema matches; closest is anyOf/1)" unless the
 * failure told names a closest branch already (the innermost says it). */
static int fail_branches(vctx *c, snode *const *list, size_t best, const char *kw, const jv *v, const sx_path *p) {
    size_t depth = c->fail_depth;
    if (!c->msg) return 1;
    int r = check(c, list[best], v, p);
    if (r < 0) return -1;
    if (r == 0) at(c, p); /* cannot happen: the same check failed quietly */
    c->fail_depth = depth;
    if (c->suffixed) return 1;
    c->suffixed = 1;
    sx_msg_str(c->msg, " (no ");
    sx_msg_str(c->msg, kw);
    sx_msg_str(c->msg, " schema matches; closest is ");
    sx_msg_str(c->msg, kw);
    sx_msg_str(c->msg, "/");
    sx_msg_int(c->msg, best);
    sx_msg_str(c->msg, ")");
    c->fail_depth = depth;
    return 1;
}

static int check_combinators(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    long first, second;
    size_t best;
    int r;
    for (size_t k = 0; k < n->nall; k++)
        if ((r = check(c, n->all_of[k], v, p)) != 0) return r;
    if (n->nany) {
        if ((first = try_branches(c, n->any_of, n->nany, 0, v, p, &second, &best)) == -2) return -1;
        if (first < 0) return fail_branches(c, n->any_of, best, "anyOf", v, p);
    }
    if (n->none) {
        if ((first = try_branches(c, n->one_of, n->none, 1, v, p, &second, &best)) == -2) return -1;
        if (first < 0) return fail_branches(c, n->one_of, best, "oneOf", v, p);
        if (second >= 0) {
            sx_msg *m = at(c, p);
            sx_msg_str(m, "must match exactly one oneOf schema, but matches oneOf/");
            sx_msg_int(m, (uint64_t)first);
            sx_msg_str(m, " and oneOf/");
            sx_msg_int(m, (uint64_t)second);
            return 1;
        }
    }
    if (n->not_) {
        sx_msg *told = c->msg;
        c->msg = NULL;
        r = check(c, n->not_, v, p);
        c->msg = told;
        if (r <= 0) {
            if (r < 0) return -1;
            sx_msg_str(at(c, p), "must not match the schema in not");
            return 1;
        }
    }
    return 0;
}

/* ---- the walk ---- */

static int check_value(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    int r = 0;
    if (n->broken) {
        if (!(n->flags & F_BROKEN_TYPE) || !type_ok(n->types, v)) return broken(c, n, p);
    } else if (n->types && !type_ok(n->types, v)) {
        return fail_type(c, n->types, v, p);
    }
    if (n->enumv && check_enum(c, n->enumv, v, p)) return 1;
    switch (v->type) {
    case JV_NUMBER: r = check_number(c, n, v, p); break;
    case JV_STRING: r = check_string(c, n, v, p); break;
    case JV_ARRAY: r = check_array(c, n, v, p); break;
    case JV_OBJECT: r = check_object(c, n, v, p); break;
    default: break;
    }
    if (r || !(n->nall || n->nany || n->none || n->not_)) return r;
    return check_combinators(c, n, v, p);
}

/* Validates v (at p) against n: 0 valid, 1 invalid (told), -1 could not tell. */
static int check(vctx *c, const snode *n, const jv *v, const sx_path *p) {
    while (n->ref) n = n->ref; /* no loop: the compiler refused those */
    if (c->calls >= SCHEMA_MAX_CALLS) {
        sx_msg *m = hard(c, p);
        sx_msg_str(m, "the schemas nest deeper than ");
        sx_msg_int(m, SCHEMA_MAX_CALLS);
        sx_msg_str(m, " levels here");
        return -1;
    }
    c->calls++;
    int r = check_value(c, n, v, p);
    c->calls--;
    return r;
}

int schema_validate(const schema *s, const char *text, size_t len, char *err, size_t cap) {
    sx_arena a;
    union { double d; int64_t i; void *p; } local[1024]; /* the arena's first 8 KiB: no heap for a small body */
    jv *root;
    char why[512];
    sx_msg msg;
    sx_arena_local(&a, local, sizeof local, len < (1u << 18) ? 4 * len + 1024 : (1u << 20));
    if (cap) err[0] = '\0';
    if (sx_parse_instance(&a, text, len, &root, err, cap) < 0) {
        sx_arena_free(&a);
        return -1;
    }
    sx_msg_init(&msg, err, cap);
    vctx c; /* set field by field: its small buffer needs no zeroing */
    c.s = s;
    c.msg = cap ? &msg : NULL;
    c.md = NULL;
    c.subject = NULL;
    c.subject_cap = 0;
    c.text = text;
    c.text_end = text + len;
    c.calls = 0;
    c.fail_depth = 0;
    c.fail_typed = c.suffixed = 0;
    sx_msg_init(&c.hard, why, sizeof why);
    why[0] = '\0';
    int r = check(&c, s->root, root, NULL);
    if (r < 0) {
        sx_msg_init(&msg, err, cap);
        sx_msg_str(&msg, why);
    } else if (r == 0 && cap) {
        err[0] = '\0';
    }
    pcre2_match_data_free(c.md);
    free(c.subject);
    sx_arena_free(&a);
    return r;
}
