/* Losant bodies checked against Losant's published schemas: one set of the
 * embedded documents (losant_schemas.c), compiled once at start-up by the
 * library's own validator (src/schema*.c), then read by every thread. */
#include "losant_schemas.h"
#include "schema.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static schema_set *set;      /* made on first use (then read by every thread) */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards making it: a failure is tried again */

/* The set's lookup: the embedded text of the document called name, or NULL. */
static const char *lookup(void *ctx, const char *name, size_t *len) {
    (void)ctx;
    for (const sb_schema_text *t = SB_LOSANT_SCHEMAS; t->name; t++)
        if (strcmp(t->name, name) == 0) {
            *len = t->len;
            return t->text;
        }
    return NULL;
}

int sb_losant_schemas_init(char *err, size_t cap) {
    set = schema_set_new(lookup, NULL);
    if (!set) {
        snprintf(err, cap, "%s", SCHEMA_OUT_OF_MEMORY);
        return -1;
    }
    for (const sb_schema_text *t = SB_LOSANT_SCHEMAS; t->name; t++) {
        char why[512];
        if (!schema_set_get(set, t->name, why, sizeof why)) {
            snprintf(err, cap, "the Losant schema %s: %s", t->name, why);
            sb_losant_schemas_free();
            return -1;
        }
    }
    return 0;
}

void sb_losant_schemas_free(void) {
    schema_set_free(set);
    set = NULL;
}

int sb_losant_validate(const char *name, const char *text, size_t len, char *msg, size_t cap) {
    pthread_mutex_lock(&lock);
    int ready = set || sb_losant_schemas_init(msg, cap) == 0;
    const schema *s = ready ? schema_set_get(set, name, msg, cap) : NULL; /* compiled already: read only */
    pthread_mutex_unlock(&lock);
    if (!s) return -1;
    return schema_validate(s, text, len, msg, cap);
}
