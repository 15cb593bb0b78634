/* libFuzzer targets for eventapi-sandbox, built from sandbox/main.c itself
 * (included here with its main() renamed by -Dmain=sandbox_main) and the
 * other sandbox sources, whose request parser (uri.c), fault parser
 * (faults.c), record (record.c) and dispatch (http.c) this drives, over
 * an in-memory store seeded from
 * examples/seed.json. The store is restored from a pristine copy after
 * every input that may have changed it.
 *
 * FUZZ_MODE 1 (sandbox_request): the input is one request:
 *   "METHOD URI\n" then "Name: value\n" header lines, a blank line, the body.
 *   A missing Authorization header gets the seed's token for the service.
 * FUZZ_MODE 2 (sandbox_query): the input is Losant's advanced event query
 *   (JSON text); the first byte picks the route that evaluates it against
 *   the seeded events: GET events?query=, GET mostRecentBySeverity?query=,
 *   PATCH events?query=, POST events/delete and POST events/export bodies.
 *
 * Invariants: no sanitizer report (memory errors, leaks, undefined
 * behaviour); the answer has a status in 100..599, a body of body_len bytes
 * that is valid JSON when the type says JSON; an advanced query never gets
 * a 5xx. A broken invariant aborts. */
#include "../sandbox/main.c"

#include <stdint.h>

#ifndef FUZZ_MODE
#error "build with -DFUZZ_MODE=1 (requests) or 2 (advanced queries)"
#endif
#ifndef FUZZ_SEED
#error "build with -DFUZZ_SEED='\"/path/to/seed.json\"'"
#endif

#define APP "575ec8687ae143cd83dc4a97"

/* tools/sandbox_oom.c arms its failing allocator around the request handling
 * only (not the harness's own work: parsing the input, checks, restoring). */
#ifdef SANDBOX_OOM
void oom_arm(void);
void oom_disarm(void);
#define ARM_FAILURES() oom_arm()
#define DISARM_FAILURES() oom_disarm()
#else
#define ARM_FAILURES() ((void)0)
#define DISARM_FAILURES() ((void)0)
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *pristine; /* the seeded store, copied back after writes */

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    fflush(stderr);
    abort();
}

/* Copies src into dst (whole database). */
static void copy_db(sqlite3 *dst, sqlite3 *src) {
    sqlite3_stmt *st = NULL;
    while ((st = sqlite3_next_stmt(dst, st))) sqlite3_reset(st); /* no statement may hold a read lock */
    sqlite3_exec(dst, "ROLLBACK", NULL, NULL, NULL);                /* none is open unless a route left one */
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) die("backup init", sqlite3_errmsg(dst));
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) die("backup step", sqlite3_errstr(rc));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    pthread_mutex_init(&sb_srv.lock, NULL);
    sb_cfg.faults = 1;
    sb_cfg.record = 1;
    if (sb_db_open(&sb_srv, NULL, FUZZ_SEED) < 0) die("cannot open the seeded store", FUZZ_SEED);
    if (sqlite3_open(":memory:", &pristine) != SQLITE_OK) die("cannot open the pristine store", NULL);
    copy_db(pristine, sb_srv.db);
    return 0;
}

/* Checks the invariants of an answer. */
static void check_response(const sb_response *res, int query_mode) {
    if (res->status < 100 || res->status > 599) die("status out of range", NULL);
    if (res->body && strlen(res->body) != res->body_len) die("body_len differs from the body", res->body);
    if (!res->body && res->body_len) die("body_len without a body", NULL);
    if (res->body && res->content_type && strstr(res->content_type, "json")) {
        json_error_t jerr;
        json_t *doc = json_loadb(res->body, res->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!doc) die("the answer is not JSON", res->body);
        json_decref(doc);
    }
    if (query_mode && res->status >= 500) die("an advanced query got a server error", res->body);
}

#if FUZZ_MODE == 2
/* Percent-encodes n bytes of s at o (which has room for 3n+1). */
static char *append_escaped(char *o, const uint8_t *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        *o++ = '%';
        *o++ = hex[s[i] >> 4];
        *o++ = hex[s[i] & 15];
    }
    *o = '\0';
    return o;
}
#endif

/* Runs one request through the sandbox's own parsing and dispatch. */
static void run_request(const char *method, const char *uri, sb_header *headers, int nheaders, const char *body,
                        size_t body_len, int query_mode) {
    sb_request req;
    sb_response res;
    sb_fault f;
    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    req.method = method;
    req.raw_uri = uri;
    req.body = body;
    req.body_len = body_len;
    req.now = 1767225600.0; /* 2026-01-01: the same answer for the same input */
    req.headers = headers;
    req.nheaders = nheaders;
    ARM_FAILURES();
    if (sb_parse_uri(&req, uri) == 0) {
        if (!query_mode) {
            sb_record_request(&req, 1);
            sb_fault_parse(&req, &f);
        }
        sb_dispatch(&req, &res);
        DISARM_FAILURES();
        check_response(&res, query_mode);
    }
    DISARM_FAILURES();
    sb_reply_clear(&res); /* the body, or the record's stream */
    sb_free_request(&req); /* frees headers too */
    if (strcmp(method, "GET") != 0) copy_db(sb_srv.db, pristine);
}

#if FUZZ_MODE == 1
/* The seed's token for the service a path belongs to. */
static const char *token_for(const char *uri) {
    if (strstr(uri, "/restapi/")) return "Bearer sandbox-calendar-token";
    if (strncmp(uri, "/events", 7) == 0 || strncmp(uri, "/projects", 9) == 0) return "Bearer sandbox-monterosa-token";
    return "Bearer sandbox-all-access";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    sb_header *headers = calloc(65, sizeof *headers);
    if (!text || !headers) die("out of memory", NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *line_end = memchr(text, '\n', size);
    char *rest = line_end ? line_end + 1 : text + size;
    if (line_end) *line_end = '\0';
    char *sp = strchr(text, ' ');
    if (!sp || sp == text || !sp[1]) {
        free(text);
        free(headers);
        return 0;
    }
    *sp = '\0';
    const char *method = text, *uri = sp + 1;
    int n = 0, has_auth = 0;
    char *body = text + size;
    while (*rest) { /* header lines until a blank one */
        char *eol = strchr(rest, '\n');
        if (eol) *eol = '\0';
        if (!*rest) {
            body = eol ? eol + 1 : rest;
            break;
        }
        char *colon = strchr(rest, ':');
        if (colon && n < 64) {
            *colon = '\0';
            headers[n].name = rest;
            headers[n].value = colon[1] == ' ' ? colon + 2 : colon + 1;
            if (strcasecmp(rest, "Authorization") == 0) has_auth = 1;
            n++;
        }
        if (!eol) {
            body = rest + strlen(rest);
            break;
        }
        rest = eol + 1;
    }
    if (!has_auth) {
        headers[n].name = "Authorization";
        headers[n].value = token_for(uri);
        n++;
    }
    /* the body runs to the end of the input (it may hold NULs: body_len says how long) */
    run_request(method, uri, headers, n, body, (size_t)(text + size - body), 0);
    free(text);
    return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const routes[][2] = {
        {"GET", "/applications/" APP "/events?perPage=1000&query="},
        {"GET", "/applications/" APP "/events/mostRecentBySeverity?query="},
        {"PATCH", "/applications/" APP "/events?query="},
        {"POST", "/applications/" APP "/events/delete"},
        {"POST", "/applications/" APP "/events/export"},
    };
    if (size < 1) return 0;
    const char *const *route = routes[data[0] % 5];
    const uint8_t *q = data + 1;
    size_t n = size - 1;
    int in_body = route[1][strlen(route[1]) - 1] != '=';
    char *uri = malloc(strlen(route[1]) + 3 * n + 1);
    char *body = malloc(n + 32);
    sb_header *headers = calloc(2, sizeof *headers);
    if (!uri || !body || !headers) die("out of memory", NULL);
    strcpy(uri, route[1]);
    size_t body_len;
    if (in_body) {
        memcpy(body, "{\"query\":", 9);
        memcpy(body + 9, q, n);
        body[9 + n] = '}';
        body[10 + n] = '\0';
        body_len = 10 + n;
    } else {
        append_escaped(uri + strlen(uri), q, n);
        body_len = (size_t)snprintf(body, n + 32, "%s", strcmp(route[0], "PATCH") ? "" : "{\"state\":\"acknowledged\"}");
    }
    headers[0].name = "Authorization";
    headers[0].value = "Bearer sandbox-all-access";
    headers[1].name = "Content-Type";
    headers[1].value = "application/json";
    run_request(route[0], uri, headers, 2, body, body_len, 1);
    free(uri);
    free(body);
    return 0;
}
#endif
