/* eventapi-sandbox: the SQLite store: opening it, loading the seed, the
 * cache of prepared statements, and the one transaction of each request
 * (docs/PROTOCOLS.md 4.3). */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Runs one SQL statement without results; returns 0 or -1 (message on stderr). */
int sb_exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "eventapi-sandbox: %s\n", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

#define PREP_SLOTS 64

/* The statement cache of sb_prep: one connection at a time. */
static struct {
    const char *sql;
    sqlite3 *db;
    sqlite3_stmt *st;
} prepared[PREP_SLOTS];

/* A cached prepared statement for a literal sql (sandbox.h). */
sqlite3_stmt *sb_prep(sqlite3 *db, const char *sql) {
    for (int i = 0; i < PREP_SLOTS; i++) {
        if (prepared[i].sql == sql && prepared[i].db == db) {
            sqlite3_reset(prepared[i].st);
            sqlite3_clear_bindings(prepared[i].st);
            return prepared[i].st;
        }
        if (!prepared[i].sql) {
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &prepared[i].st, NULL) != SQLITE_OK) {
                sqlite3_finalize(prepared[i].st);
                prepared[i].st = NULL;
                return NULL;
            }
            prepared[i].sql = sql;
            prepared[i].db = db;
            return prepared[i].st;
        }
    }
    return NULL; /* more statements than slots: a programming error the specs would show */
}

/* Returns 1 when the store was seeded before (a file database reopened). */
static int already_seeded(sqlite3 *db) {
    sqlite3_stmt *st;
    int seeded = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM sandbox_meta WHERE key = 'seeded'", -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW) seeded = 1;
    sqlite3_finalize(st);
    return seeded;
}

/* Loads the seed file into the services; -1 with a message on failure. */
static int load_seed(sb_server *srv, const char *path) {
    json_error_t jerr;
    char err[512] = "";
    json_t *seed = json_load_file(path, 0, &jerr);
    if (!seed) {
        fprintf(stderr, "eventapi-sandbox: seed %s: %s (line %d)\n", path, jerr.text, jerr.line);
        return -1;
    }
    if (!json_is_object(seed)) {
        fprintf(stderr, "eventapi-sandbox: seed %s: the top level must be an object\n", path);
        json_decref(seed);
        return -1;
    }
    int rc = sb_exec(srv->db, "BEGIN");
    if (rc == 0 && (sb_losant_seed(srv, seed, err, sizeof err) < 0 || sb_connectdaily_seed(srv, seed, err, sizeof err) < 0
                    || sb_monterosa_seed(srv, seed, err, sizeof err) < 0)) {
        fprintf(stderr, "eventapi-sandbox: seed %s: %s\n", path, err);
        rc = -1;
    }
    if (rc == 0) rc = sb_exec(srv->db, "INSERT OR REPLACE INTO sandbox_meta VALUES ('seeded', '1')");
    sb_exec(srv->db, rc == 0 ? "COMMIT" : "ROLLBACK");
    json_decref(seed);
    return rc;
}

/* Opens the store (memory when path is NULL), creates the tables and loads
 * the seed into a new store. Returns 0 or -1 with a message on stderr. */
int sb_db_open(sb_server *srv, const char *path, const char *seed_file) {
    if (sqlite3_open_v2(path ? path : ":memory:", &srv->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        fprintf(stderr, "eventapi-sandbox: cannot open database %s: %s\n", path ? path : ":memory:",
                srv->db ? sqlite3_errmsg(srv->db) : "out of memory");
        sqlite3_close(srv->db);
        srv->db = NULL;
        return -1;
    }
    if (sb_exec(srv->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                          "CREATE TABLE IF NOT EXISTS sandbox_meta (key TEXT PRIMARY KEY, value TEXT)") < 0
        || sb_losant_schema(srv->db) < 0 || sb_connectdaily_schema(srv->db) < 0 || sb_monterosa_schema(srv->db) < 0) {
        sb_db_close(srv);
        return -1;
    }
    if (seed_file && !already_seeded(srv->db) && load_seed(srv, seed_file) < 0) {
        sb_db_close(srv);
        return -1;
    }
    return 0;
}

/* Closes the store. */
void sb_db_close(sb_server *srv) {
    sqlite3_stmt *st;
    if (!srv->db) return;
    while ((st = sqlite3_next_stmt(srv->db, NULL))) sqlite3_finalize(st); /* the services' cached statements */
    for (int i = 0; i < PREP_SLOTS; i++) { /* finalized above */
        if (prepared[i].db != srv->db) continue;
        prepared[i].sql = NULL;
        prepared[i].db = NULL;
        prepared[i].st = NULL;
    }
    sqlite3_close(srv->db);
    srv->db = NULL;
}

/* Writes a new random version-4 UUID into buf[37] (sandbox.h). */
void sb_uuid(char *buf) {
    static int seeded;
    if (!seeded) { /* under the server lock, or at start before any thread */
        srand((unsigned)time(NULL) ^ ((unsigned)getpid() << 8));
        seeded = 1;
    }
    snprintf(buf, 37, "%04x%04x-%04x-4%03x-%04x-%04x%04x%04x", rand() & 0xffff, rand() & 0xffff, rand() & 0xffff,
             rand() & 0xfff, (rand() & 0x3fff) | 0x8000, rand() & 0xffff, rand() & 0xffff, rand() & 0xffff);
}

/* One request's service call as one transaction (sandbox.h). */
int sb_store_call(sb_server *srv, const sb_request *req, sb_response *res) {
    pthread_mutex_lock(&srv->lock);
    if (sqlite3_exec(srv->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&srv->lock);
        sb_reply_server_error(req, res, 500, "InternalError", "Internal Server Error", "cannot begin a transaction");
        return 1;
    }
    int handled = sb_losant_route(srv, req, res) || sb_connectdaily_route(srv, req, res)
                  || sb_monterosa_route(srv, req, res);
    /* the one commit rule of every service: a success (2xx) that is not an error body */
    int commit = handled && res->status >= 200 && res->status < 300 && !res->error;
    if (commit && sqlite3_exec(srv->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(srv->db, "ROLLBACK", NULL, NULL, NULL);
        sb_reply_server_error(req, res, 500, "InternalError", "Internal Server Error", "cannot commit the change");
    } else if (!commit) {
        sqlite3_exec(srv->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sb_sse_flush(commit && res->status < 300); /* events reach the streams only when the change is kept */
    pthread_mutex_unlock(&srv->lock);
    return handled;
}
