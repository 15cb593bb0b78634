/* schema_set.c: sets of named schema documents (schema.h).
 *
 * Each name has one entry: its text, asked of the lookup once, and, once
 * compiled, its unit (its own schema: arena, regexes, root). A call of
 * schema_set_get is a session: the document asked for is started (parsed,
 * its root compiled), then its $refs are resolved, which starts each
 * document they name that was not compiled yet, and so on; then the loop
 * check runs over the nodes made. When all of it succeeds every document
 * started is ready for good. When anything fails, the documents started
 * are freed and back to "text known" (a later call compiles them again,
 * without asking the lookup), and the memo forgets the nodes of the session
 * (nodes it made inside ready documents stay in their arenas, unreachable). */
#include "schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DOC_UNKNOWN, DOC_MISSING, DOC_TEXT, DOC_STARTED, DOC_READY };

typedef struct sx_doc {
    struct sx_doc *next;    /* in its hash bucket */
    struct sx_doc *started; /* the next document started in the session */
    char *name;
    size_t name_len;
    const char *text;       /* the lookup's, DOC_TEXT and on */
    size_t len;
    int state;
    sx_unit unit;           /* DOC_STARTED, DOC_READY: its schema and tree */
} sx_doc;

struct schema_set {
    schema_lookup lookup;
    void *ctx;
    sx_doc **buckets;
    size_t nbuckets, ndocs;
    sx_memo memo;
    uint64_t session;       /* the number of the last session */
    sx_doc *started;        /* the documents started in the session */
};

static size_t name_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

/* The entry of name (n bytes), or NULL. */
static sx_doc *find(const schema_set *set, const char *name, size_t n) {
    size_t b = name_hash(name, n) & (set->nbuckets - 1);
    for (sx_doc *d = set->buckets[b]; d; d = d->next)
        if (d->name_len == n && memcmp(d->name, name, n) == 0) return d;
    return NULL;
}

/* The entry of name (n bytes), made when new; NULL out of memory. */
static sx_doc *entry(schema_set *set, const char *name, size_t n) {
    sx_doc *found = find(set, name, n);
    if (found) return found;
    size_t b = name_hash(name, n) & (set->nbuckets - 1);
    if (set->ndocs >= 2 * set->nbuckets) { /* grow: twice the buckets */
        size_t nb = set->nbuckets * 2;
        sx_doc **grown = calloc(nb, sizeof *grown);
        if (!grown) return NULL;
        for (size_t i = 0; i < set->nbuckets; i++) {
            for (sx_doc *d = set->buckets[i], *next; d; d = next) {
                next = d->next;
                size_t k = name_hash(d->name, d->name_len) & (nb - 1);
                d->next = grown[k];
                grown[k] = d;
            }
        }
        free(set->buckets);
        set->buckets = grown;
        set->nbuckets = nb;
        b = name_hash(name, n) & (nb - 1);
    }
    sx_doc *d = calloc(1, sizeof *d);
    char *copy = malloc(n + 1);
    if (!d || !copy) {
        free(d);
        free(copy);
        return NULL;
    }
    memcpy(copy, name, n);
    copy[n] = '\0';
    d->name = copy;
    d->name_len = n;
    d->next = set->buckets[b];
    set->buckets[b] = d;
    set->ndocs++;
    return d;
}

schema_set *schema_set_new(schema_lookup lookup, void *ctx) {
    schema_set *set = calloc(1, sizeof *set);
    if (!set) return NULL;
    set->lookup = lookup;
    set->ctx = ctx;
    set->nbuckets = 64;
    set->buckets = calloc(set->nbuckets, sizeof *set->buckets);
    if (!set->buckets) {
        free(set);
        return NULL;
    }
    return set;
}

void schema_set_free(schema_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->nbuckets; i++) {
        for (sx_doc *d = set->buckets[i], *next; d; d = next) {
            next = d->next;
            schema_free(d->unit.s);
            free(d->name);
            free(d);
        }
    }
    free(set->buckets);
    free(set->memo.e);
    free(set);
}

/* Parses the text of d into a new schema and compiles its root; -1 told. */
static int start(sx_compiler *c, sx_doc *d) {
    schema *s = calloc(1, sizeof *s);
    if (!s) return sx_out_of_memory(c);
    sx_arena_init(&s->arena, d->len * 4 + 4096 < (1u << 20) ? d->len * 4 + 4096 : (1u << 20));
    d->unit = (sx_unit){s, NULL, NULL, 0, d->name};
    d->state = DOC_STARTED;
    d->started = c->set->started; /* on the list first: a failure frees it */
    c->set->started = d;
    if (sx_regex_init(s) < 0) return sx_out_of_memory(c);
    char why[256];
    jv *root;
    if (sx_parse(&s->arena, d->text, d->len, &root, why, sizeof why) < 0) {
        if (strcmp(why, SCHEMA_OUT_OF_MEMORY) == 0) return sx_out_of_memory(c);
        sx_msg_init(&c->err, c->err.buf, c->err.cap);
        sx_msg_str(&c->err, d->name);
        sx_msg_str(&c->err, ": ");
        sx_msg_str(&c->err, why);
        return -1;
    }
    d->unit.doc = root;
    return sx_start_unit(c, &d->unit);
}

sx_unit *sx_set_unit(sx_compiler *c, const char *name, size_t n, int *missing) {
    schema_set *set = c->set;
    sx_doc *d = entry(set, name, n);
    *missing = 0;
    if (!d) return sx_out_of_memory(c), NULL;
    if (d->state == DOC_UNKNOWN) {
        size_t len = 0;
        d->text = set->lookup(set->ctx, d->name, &len);
        if (!d->text && len == SCHEMA_LOOKUP_FAILED) {
            sx_msg_init(&c->err, c->err.buf, c->err.cap);
            sx_msg_str(&c->err, "the lookup of schema document \"");
            sx_msg_str(&c->err, d->name);
            sx_msg_str(&c->err, "\" failed");
            return NULL;
        }
        d->len = d->text ? len : 0;
        d->state = d->text ? DOC_TEXT : DOC_MISSING;
    }
    if (d->state == DOC_MISSING) {
        *missing = 1;
        return NULL;
    }
    if (d->state == DOC_TEXT && start(c, d) < 0) return NULL;
    return &d->unit;
}

const schema *schema_set_ready(const schema_set *set, const char *name, size_t n) {
    const sx_doc *d = find(set, name, n);
    return d && d->state == DOC_READY ? d->unit.s : NULL;
}

const schema *schema_set_get(schema_set *set, const char *name, char *err, size_t cap) {
    size_t n = strlen(name);
    int missing = 0;
    if (cap) err[0] = '\0';
    sx_doc *d = entry(set, name, n);
    if (d && d->state == DOC_READY) return d->unit.s;
    sx_compiler c = {NULL, set, &set->memo, ++set->session, NULL, NULL, {err, cap, 0, 0}};
    set->started = NULL;
    int r = -1;
    if (!d) sx_out_of_memory(&c);
    else if (sx_set_unit(&c, name, n, &missing)) r = sx_finish(&c);
    if (missing) {
        sx_msg_init(&c.err, err, cap);
        sx_msg_str(&c.err, "the set has no schema document \"");
        sx_msg_str(&c.err, name);
        sx_msg_str(&c.err, "\"");
    }
    for (sx_doc *s = set->started, *next; s; s = next) {
        next = s->started;
        s->started = NULL;
        if (r == 0) {
            s->state = DOC_READY;
            continue;
        }
        schema_free(s->unit.s);
        s->unit = (sx_unit){NULL, NULL, NULL, 0, NULL};
        s->state = DOC_TEXT;
    }
    set->started = NULL;
    if (r == 0) return d->unit.s;
    sx_memo_forget(&set->memo, c.session);
    return NULL;
}
