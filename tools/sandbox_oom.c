/* Out-of-memory torture of eventapi-sandbox's request handling, as
 * tools/oomtest does for the library: each request of fuzz/corpus/
 * sandbox_request (every service: Losant list/post/patch, Connect Daily
 * get/put/fork, Monterosa create/list, the record) is run through the
 * sandbox's own parsing and dispatch (fuzz/sandbox_fuzz.c, built with its
 * allocation calls renamed to the ones below), with the Nth allocation of
 * the request's handling failing, for N = 1, 2, ... until a run allocates
 * fewer than N times. The sandbox's own malloc/calloc/realloc/strdup,
 * jansson's and SQLite's allocators all count. Each failing run must still
 * give a well-formed answer (the harness aborts otherwise); leaks are
 * LeakSanitizer's (build with -fsanitize=address).
 *
 *   sandbox_oom FILE...   -> one summary line per file; exit 1 on a failure */
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int armed;          /* counting allocations of the request's handling */
static long counted;       /* allocations counted in this run */
static long fail_at;       /* the one that fails (0: none) */
static int failed;         /* whether it did */
static const char *current; /* for the abort report */

void oom_arm(void) { armed = 1; }
void oom_disarm(void) { armed = 0; }

/* 1 when this allocation is the one to fail. */
static int fail_now(void) {
    if (!armed) return 0;
    if (++counted == fail_at) {
        failed = 1;
        return 1;
    }
    return 0;
}

void *oom_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }
void *oom_calloc(size_t n, size_t size) { return fail_now() ? NULL : calloc(n, size); }
void *oom_realloc(void *p, size_t n) { return fail_now() ? NULL : realloc(p, n); }
char *oom_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = oom_malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

/* SQLite's allocator: a size header in front of each block (xSize needs it). */
static void *sq_malloc(int n) {
    if (fail_now()) return NULL;
    int64_t *p = malloc(sizeof(int64_t) + (size_t)n);
    if (!p) return NULL;
    p[0] = n;
    return p + 1;
}
static void sq_free(void *p) {
    if (p) free((int64_t *)p - 1);
}
static void *sq_realloc(void *p, int n) {
    if (fail_now()) return NULL;
    int64_t *q = realloc(p ? (int64_t *)p - 1 : NULL, sizeof(int64_t) + (size_t)n);
    if (!q) return NULL;
    q[0] = n;
    return q + 1;
}
static int sq_size(void *p) { return p ? (int)((int64_t *)p)[-1] : 0; }
static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *data) { (void)data; return SQLITE_OK; }
static void sq_shutdown(void *data) { (void)data; }

/* Names the request and N when the harness aborts on a malformed answer. */
static void on_abort(int sig) {
    (void)sig;
    fprintf(stderr, "sandbox_oom: %s failed with allocation %ld failing\n", current ? current : "?", fail_at);
    signal(SIGABRT, SIG_DFL);
}

/* Reads a whole file; NULL on failure. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            char *more = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (!more) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = more;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    static const sqlite3_mem_methods methods = {sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup,
                                                sq_init,   sq_shutdown, NULL};
    if (argc < 2) {
        fprintf(stderr, "usage: sandbox_oom FILE...\n");
        return 2;
    }
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) {
        fprintf(stderr, "sandbox_oom: cannot install the SQLite allocator\n");
        return 2;
    }
    json_set_alloc_funcs(oom_malloc, free);
    signal(SIGABRT, on_abort);
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        size_t len;
        char *data = slurp(argv[i], &len);
        if (!data) {
            fprintf(stderr, "sandbox_oom: cannot read %s\n", argv[i]);
            return 2;
        }
        current = argv[i];
        long runs = 0;
        for (fail_at = 1;; fail_at++) {
            counted = 0;
            failed = 0;
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
            runs++;
            if (!failed) break; /* the request ran with fewer allocations than fail_at: done */
        }
        printf("sandbox_oom: %s: %ld runs (every allocation of its handling failed once), well-formed answers\n",
               argv[i], runs);
        free(data);
    }
    return 0;
}
