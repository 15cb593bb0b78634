/* eventapi-sandbox: changes a service applies some time after its answer
 * (--bulk-delay and the bulk-delay fault: Losant's bulk update of
 * events.patch, documented as asynchronous; sandbox/README.md). A change
 * waits in a list ordered by due time; the timer thread of http.c runs the
 * due ones, each under the service lock as one transaction of its own, and
 * a stop runs every one still waiting before the database closes. */
#include "front.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_WAITING 4096 /* changes waiting at once; beyond, the next one is applied at once */

typedef struct later {
    double due;
    int (*run)(sb_server *srv, void *arg, double now);
    void (*drop)(void *arg);
    void *arg;
    struct later *next;
} later;

static pthread_mutex_t later_lock = PTHREAD_MUTEX_INITIALIZER;
static later *waiting; /* by due time, then in the order queued; under later_lock */
static size_t nwaiting;
static int closed;     /* stopping: nothing more is queued */

/* Queues a change (sandbox.h). */
int sb_later(double due, int (*run)(sb_server *srv, void *arg, double now), void (*drop)(void *arg), void *arg) {
    later *l = malloc(sizeof *l);
    if (!l) return -1;
    l->due = due;
    l->run = run;
    l->drop = drop;
    l->arg = arg;
    pthread_mutex_lock(&later_lock);
    if (closed || nwaiting >= MAX_WAITING) {
        pthread_mutex_unlock(&later_lock);
        free(l);
        return 1;
    }
    later **p = &waiting;
    while (*p && (*p)->due <= due) p = &(*p)->next;
    l->next = *p;
    *p = l;
    nwaiting++;
    pthread_mutex_unlock(&later_lock);
    return 0;
}

/* Takes the first change when it is due (or any with all); NULL when none. */
static later *take_due(double now, int all) {
    later *l = NULL;
    pthread_mutex_lock(&later_lock);
    if (all) closed = 1;
    if (waiting && (all || waiting->due <= now)) {
        l = waiting;
        waiting = l->next;
        nwaiting--;
    }
    pthread_mutex_unlock(&later_lock);
    return l;
}

/* Runs the due changes (front.h). */
void sb_later_run(sb_server *srv, int all) {
    later *l;
    while ((l = take_due(sb_now(), all))) {
        int ok = 0;
        pthread_mutex_lock(&srv->lock);
        if (srv->db && sqlite3_exec(srv->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
            ok = l->run(srv, l->arg, sb_now()) == 0 && sqlite3_exec(srv->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
            if (!ok) sqlite3_exec(srv->db, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_unlock(&srv->lock);
        if (!ok) fprintf(stderr, "eventapi-sandbox: a delayed change could not be applied (storage failure or out of memory)\n");
        if (l->drop) l->drop(l->arg);
        free(l);
    }
}
