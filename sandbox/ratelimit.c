/* eventapi-sandbox: --rate-limit N, calls per second per credential
 * (docs/PROTOCOLS.md 1.10), kept in a fixed table under its own lock. */
#include "sandbox.h"

#include <math.h>
#include <string.h>

/* One fixed-size table, so the bookkeeping stays bounded whatever credentials
 * arrive: a slot counting an earlier second is free for another credential;
 * while every slot counts the current second, new credentials share one. */
#define RATE_SLOTS 1024
#define RATE_HEAD 64 /* bytes of a credential kept, with its length and hash */

typedef struct rate_slot {
    int used, anonymous; /* anonymous: requests without Authorization */
    uint64_t hash;
    size_t len;
    char head[RATE_HEAD];
    long long second; /* the second counted */
    int count;        /* calls allowed in it */
} rate_slot;

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static rate_slot rate_slots[RATE_SLOTS];
static rate_slot rate_overflow;

/* FNV-1a hash of s[0..n). */
static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* Counts a service call against its credential's budget for this second (sandbox.h). */
int sb_rate_limited(sb_server *srv, const sb_request *req, sb_response *res) {
    if (srv->rate_limit <= 0) return 0;
    const char *cred = sb_header_get(req, "Authorization");
    int anonymous = cred == NULL;
    size_t len = cred ? strlen(cred) : 0, head = len < RATE_HEAD ? len : RATE_HEAD;
    uint64_t hash = fnv1a(cred ? cred : "", len);
    long long second = (long long)floor(req->now);
    rate_slot *slot = NULL, *spare = NULL;
    int over;
    pthread_mutex_lock(&rate_lock);
    for (int i = 0; i < RATE_SLOTS && !slot; i++) {
        rate_slot *r = &rate_slots[i];
        if (r->used && r->anonymous == anonymous && r->hash == hash && r->len == len
            && memcmp(r->head, cred ? cred : "", head) == 0)
            slot = r;
        else if (!spare && (!r->used || r->second != second))
            spare = r;
    }
    if (!slot && spare) {
        slot = spare;
        slot->used = 1;
        slot->anonymous = anonymous;
        slot->hash = hash;
        slot->len = len;
        memcpy(slot->head, cred ? cred : "", head);
        slot->count = 0;
        slot->second = second;
    }
    if (!slot) slot = &rate_overflow;
    if (slot->second != second) {
        slot->second = second;
        slot->count = 0;
    }
    over = slot->count >= srv->rate_limit;
    if (!over) slot->count++;
    pthread_mutex_unlock(&rate_lock);
    if (over) sb_reply_header(res, "Retry-After", "1");
    return over;
}
