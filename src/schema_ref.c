/* schema_ref.c: the $refs of a draft-04 schema, its loop check, and
 * schema_compile (schema.h).
 *
 * A $ref is local: "#" and a JSON pointer after it (~0, ~1 and %-escapes),
 * or such a pointer after the root's "id"; "id" elsewhere is ignored. In a
 * set (schema_set.c), a "#/definitions/<Name>[/...]" that does not resolve
 * inside its own document resolves inside the set's document <Name>: to its
 * root, or to the rest of the pointer there. Schema locations in messages
 * are "#" and a JSON pointer, after the document's name in a set
 * ("eventsExport#/properties/query"). Schemas that apply to the same value
 * through $ref, allOf, anyOf, oneOf, not or dependencies and come back to
 * themselves are refused, across documents too. */
#include "schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef sx_compiler compiler;

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Reads the pointer token at p[*i] (after its '/') into tok (unescaped);
 * returns its length, or -1 for a bad ~ escape. */
static long token(const char *p, size_t n, size_t *i, char *tok) {
    size_t t = 0;
    for (; *i < n && p[*i] != '/'; (*i)++) {
        char ch = p[*i];
        if (ch == '~') {
            if (*i + 1 >= n || (p[*i + 1] != '0' && p[*i + 1] != '1')) return -1;
            ch = p[++*i] == '0' ? '~' : '/';
        }
        tok[t++] = ch;
    }
    return (long)t;
}

/* The value the JSON pointer p (n bytes, %-escapes decoded already) names
 * in v, or NULL; tok has room for n bytes. */
static const jv *walk(const jv *v, const char *p, size_t n, char *tok) {
    size_t i = 0;
    while (v && i < n) {
        if (p[i++] != '/') return NULL;
        long len = token(p, n, &i, tok);
        if (len < 0) return NULL;
        size_t t = (size_t)len;
        if (v->type == JV_OBJECT) {
            v = sx_member(v, tok, t);
            continue;
        }
        if (v->type != JV_ARRAY || t == 0 || t > 18 || (tok[0] == '0' && t > 1)) return NULL;
        size_t k = 0;
        for (size_t j = 0; j < t; j++) {
            if (tok[j] < '0' || tok[j] > '9') return NULL;
            k = k * 10 + (size_t)(tok[j] - '0');
        }
        v = k < v->u.arr.n ? &v->u.arr.v[k] : NULL;
    }
    return v;
}

/* "<prefix>#<pointer>" in the arena of u, or NULL. */
static char *location(sx_unit *u, const char *pointer, size_t n) {
    size_t plen = strlen(u->prefix);
    char *where = sx_alloc(&u->s->arena, plen + n + 2);
    if (!where) return NULL;
    memcpy(where, u->prefix, plen);
    where[plen] = '#';
    memcpy(where + plen + 1, pointer, n);
    where[plen + 1 + n] = '\0';
    return where;
}

/* In a set, a pointer p (n bytes) "/definitions/<Name>[/rest]" names the
 * set's document Name: 1 with its unit in *out and the rest in *rest,
 * *rest_n; 0 when p is not of that form or there is no set; 2 when the set
 * has no such document (its name in tok, NUL-terminated); -1 failed, told. */
static int named(compiler *c, const char *p, size_t n, char *tok, sx_unit **out, const char **rest, size_t *rest_n) {
    static const char prefix[] = "/definitions/";
    size_t i = sizeof prefix - 1;
    int missing = 0;
    if (!c->set || n < i || memcmp(p, prefix, i) != 0) return 0;
    long len = token(p, n, &i, tok);
    if (len <= 0 || memchr(tok, 0, (size_t)len)) return 0;
    tok[len] = '\0';
    *rest = p + i;
    *rest_n = n - i;
    *out = sx_set_unit(c, tok, (size_t)len, &missing);
    return *out ? 1 : missing ? 2 : -1;
}

/* Resolves the $ref of p to a node (compiling its target when new). */
static int resolve(compiler *c, const sx_pending *p) {
    sx_unit *u = p->unit;
    const char *s = p->ref->u.str.s;
    size_t n = p->ref->u.str.len;
    if (u->base && n >= u->base_len && memcmp(s, u->base, u->base_len) == 0 &&
        (n == u->base_len || s[u->base_len] == '#')) {
        s += u->base_len;
        n -= u->base_len;
    }
    if (n > 0 && s[0] != '#') {
        sx_msg *m = sx_fail(c, p->node->where, "$ref");
        sx_msg_value(m, p->ref, 1);
        sx_msg_str(m, " is not a local reference (only \"#\" and a JSON pointer after it are supported)");
        return -1;
    }
    char *ptr = sx_alloc(&u->s->arena, 2 * n + 2), *o = ptr; /* the pointer, then room for a token */
    if (!ptr) return sx_out_of_memory(c);
    for (size_t i = 1; i < n; i++) { /* %-escapes decoded */
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    size_t plen = (size_t)(o - ptr);
    char *tok = ptr + n + 1;
    const jv *target = walk(u->doc, ptr, plen, tok);
    sx_unit *in = u;
    const char *at = ptr;
    size_t at_n = plen;
    int found = 0;
    if (!target) {
        if ((found = named(c, ptr, plen, tok, &in, &at, &at_n)) < 0) return -1;
        target = found == 1 ? walk(in->doc, at, at_n, tok) : NULL;
    }
    if (!target) {
        sx_msg *m = sx_fail(c, p->node->where, "$ref");
        sx_msg_value(m, p->ref, 1);
        sx_msg_str(m, " does not resolve");
        if (found == 1) sx_msg_str(m, " in the schema document \""), sx_msg_str(m, in->prefix), sx_msg_str(m, "\"");
        if (found == 2) sx_msg_str(m, ", and the set has no schema document \""), sx_msg_str(m, tok), sx_msg_str(m, "\"");
        return -1;
    }
    const char *where = location(in, at, at_n);
    if (!where) return sx_out_of_memory(c);
    sx_unit *was = c->u;
    c->u = in;
    p->node->ref = sx_compile_schema(c, target, where);
    c->u = was;
    return p->node->ref ? 0 : -1;
}

/* The k-th schema applied to the same value as n, or NULL. */
static snode *edge(const snode *n, size_t k) {
    if (n->ref) return k == 0 ? n->ref : NULL;
    if (k < n->nall) return n->all_of[k];
    k -= n->nall;
    if (k < n->nany) return n->any_of[k];
    k -= n->nany;
    if (k < n->none) return n->one_of[k];
    k -= n->none;
    if (n->not_ && k-- == 0) return n->not_;
    for (size_t i = 0; i < n->ndeps; i++)
        if (n->deps[i].s && k-- == 0) return n->deps[i].s;
    return NULL;
}

typedef struct frame { snode *n; size_t k; } frame;

/* Pushes n on the loop check's stack (grown as needed); -1 out of memory. */
static int push_frame(frame **stack, size_t *top, size_t *cap, snode *n) {
    if (*top == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 64;
        frame *grown = realloc(*stack, grown_cap * sizeof *grown);
        if (!grown) return -1;
        *stack = grown;
        *cap = grown_cap;
    }
    n->mark = 1; /* on the stack */
    (*stack)[(*top)++] = (frame){n, 0};
    return 0;
}

/* Refuses a schema that reaches itself through edges (depth first, with an
 * explicit stack: no recursion however long the chains). Nodes checked
 * before (mark 2) reach no new node: they are not walked again. */
static int check_loops(compiler *c) {
    frame *stack = NULL;
    size_t top = 0, cap = 0;
    int r = 0;
    for (snode *start = c->all; start && r == 0; start = start->next_all) {
        if (start->mark) continue;
        if (push_frame(&stack, &top, &cap, start) < 0) r = sx_out_of_memory(c);
        while (top > 0 && r == 0) {
            frame *f = &stack[top - 1];
            snode *next = edge(f->n, f->k++);
            if (!next) {
                f->n->mark = 2; /* done */
                top--;
            } else if (next->mark == 1) {
                sx_msg *m = sx_fail(c, next->where, NULL);
                sx_msg_str(m, "$ref loop: this schema applies to the same value again through ");
                sx_msg_str(m, f->n->where);
                sx_msg_str(m, ", without end");
                r = -1;
            } else if (next->mark == 0 && push_frame(&stack, &top, &cap, next) < 0) {
                r = sx_out_of_memory(c);
            }
        }
    }
    while (top > 0) stack[--top].n->mark = 0; /* a failed check leaves no node on the stack */
    free(stack);
    return r;
}

/* Sets the base of u from its root's "id". */
static void unit_base(sx_unit *u) {
    const jv *id = u->doc->type == JV_OBJECT ? sx_member(u->doc, "id", 2) : NULL;
    u->base = NULL;
    u->base_len = 0;
    if (id && id->type == JV_STRING) {
        u->base = id->u.str.s;
        u->base_len = id->u.str.len;
        if (u->base_len && u->base[u->base_len - 1] == '#') u->base_len--;
        if (u->base_len == 0) u->base = NULL;
    }
}

/* Compiles the root of u (an object), refusing any other root. */
static snode *compile_root(compiler *c, sx_unit *u) {
    const char *where = location(u, "", 0);
    if (!where) return sx_out_of_memory(c), NULL;
    if (u->doc->type != JV_OBJECT) {
        static const char *names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
        sx_msg_str(sx_fail(c, where, NULL), "a schema must be an object, not ");
        sx_msg_str(&c->err, names[u->doc->type]);
        return NULL;
    }
    sx_unit *was = c->u;
    c->u = u;
    snode *root = sx_compile_schema(c, u->doc, where);
    c->u = was;
    return root;
}

int sx_start_unit(compiler *c, sx_unit *u) {
    unit_base(u);
    return (u->s->root = compile_root(c, u)) ? 0 : -1;
}

int sx_finish(compiler *c) {
    while (c->todo) {
        sx_pending *p = c->todo;
        c->todo = p->next;
        if (resolve(c, p) < 0) return -1;
    }
    return check_loops(c);
}

/* ---- one document alone ---- */

schema *schema_compile(const char *text, size_t len, char *err, size_t cap) {
    schema *s = calloc(1, sizeof *s);
    char *copy;
    int r = -1;
    if (cap) err[0] = '\0';
    if (!s || len > SIZE_MAX / 8) {
        if (cap) snprintf(err, cap, "%s", SCHEMA_OUT_OF_MEMORY);
        free(s);
        return NULL;
    }
    sx_arena_init(&s->arena, len * 4 + 4096 < (1u << 20) ? len * 4 + 4096 : (1u << 20));
    copy = sx_alloc(&s->arena, len + 1);
    if (!copy || sx_regex_init(s) < 0) {
        if (cap) snprintf(err, cap, "%s", SCHEMA_OUT_OF_MEMORY);
        schema_free(s);
        return NULL;
    }
    if (len) memcpy(copy, text, len);
    copy[len] = '\0';
    sx_memo memo = {NULL, 0, 0};
    sx_unit unit = {s, NULL, NULL, 0, ""};
    compiler c = {NULL, NULL, &memo, 1, NULL, NULL, {err, cap, 0, 0}};
    jv *doc;
    if (sx_parse(&s->arena, copy, len, &doc, err, cap) == 0) {
        unit.doc = doc;
        r = sx_start_unit(&c, &unit) < 0 ? -1 : sx_finish(&c);
    }
    free(memo.e);
    if (r == 0) return s;
    schema_free(s);
    return NULL;
}

void schema_free(schema *s) {
    if (!s) return;
    sx_regex_release(s);
    sx_arena_free(&s->arena);
    free(s);
}
