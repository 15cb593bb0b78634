/* eventapi-sandbox: the command line and start-up: arguments, signals,
 * the store, the HTTP front (http.c), and the orderly stop. */
#include "front.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>

/* Prints usage on stderr and exits with status 2. */
static void usage(const char *why) {
    if (why) fprintf(stderr, "eventapi-sandbox: %s\n", why);
    fprintf(stderr,
            "usage: eventapi-sandbox [--listen 127.0.0.1:PORT] [--db FILE] [--seed FILE.json]\n"
            "                        [--record] [--record-bytes N] [--faults] [--rate-limit N] [--log]\n"
            "                        [--body-budget N] [--header-timeout S] [--body-timeout S]\n"
            "                        [--max-connections N] [--bulk-delay MS] [--upload-max N]\n");
    exit(2);
}

/* Reads a whole number from lo to hi, else exits through usage with why. */
static long long number_arg(const char *text, long long lo, long long hi, const char *why) {
    char *end;
    long long n = strtoll(text, &end, 10);
    if (end == text || *end || n < lo || n > hi) usage(why);
    return n;
}

/* Parses the command line into sb_cfg and sb_srv. */
static void parse_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--listen") == 0 && v) {
            static char host[64];
            const char *colon = strrchr(v, ':');
            if (!colon || (size_t)(colon - v) >= sizeof host) usage("--listen wants HOST:PORT");
            memcpy(host, v, (size_t)(colon - v));
            host[colon - v] = '\0';
            sb_cfg.host = host;
            sb_cfg.port = (int)number_arg(colon + 1, 0, 65535, "--listen: bad port");
            struct in_addr probe;
            if (inet_pton(AF_INET, host, &probe) != 1) usage("--listen wants an IPv4 address");
            i++;
        } else if (strcmp(a, "--db") == 0 && v) {
            sb_cfg.db = argv[++i];
        } else if (strcmp(a, "--seed") == 0 && v) {
            sb_cfg.seed = argv[++i];
        } else if (strcmp(a, "--rate-limit") == 0 && v) {
            sb_srv.rate_limit = (int)number_arg(argv[++i], 0, 1000000, "--rate-limit wants a number of requests per second");
        } else if (strcmp(a, "--bulk-delay") == 0 && v) {
            sb_srv.bulk_delay_ms = (int)number_arg(argv[++i], 0, 86400000, "--bulk-delay wants 0 to 86400000 milliseconds");
        } else if (strcmp(a, "--record-bytes") == 0 && v) {
            sb_cfg.record_bytes = (size_t)number_arg(argv[++i], 1024, 1LL << 40, "--record-bytes wants 1024 or more bytes");
        } else if (strcmp(a, "--body-budget") == 0 && v) {
            sb_cfg.body_budget = (size_t)number_arg(argv[++i], 0, 1LL << 40, "--body-budget wants a number of bytes");
        } else if (strcmp(a, "--header-timeout") == 0 && v) {
            sb_cfg.header_timeout = (double)number_arg(argv[++i], 1, 86400, "--header-timeout wants 1 to 86400 seconds");
        } else if (strcmp(a, "--body-timeout") == 0 && v) {
            sb_cfg.body_timeout = (double)number_arg(argv[++i], 1, 86400, "--body-timeout wants 1 to 86400 seconds");
        } else if (strcmp(a, "--upload-max") == 0 && v) {
            sb_cfg.upload_max = (uint64_t)number_arg(argv[++i], 0, 1LL << 50, "--upload-max wants a number of bytes");
        } else if (strcmp(a, "--max-connections") == 0 && v) {
            sb_cfg.max_connections = (unsigned)number_arg(argv[++i], 16, 1000000, "--max-connections wants 16 or more");
        } else if (strcmp(a, "--record") == 0) {
            sb_cfg.record = 1;
        } else if (strcmp(a, "--faults") == 0) {
            sb_cfg.faults = 1;
        } else if (strcmp(a, "--log") == 0) {
            sb_cfg.log = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(NULL);
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown or incomplete option '%s'", a);
            usage(msg);
        }
    }
}

/* Raises the soft limit of open files to what max_connections needs
 * (within the hard limit); a lower limit only makes MHD refuse earlier. */
static void raise_file_limit(void) {
    struct rlimit rl;
    rlim_t want = (rlim_t)sb_cfg.max_connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Starts the front, waits for SIGINT or SIGTERM, stops in order. */
int main(int argc, char **argv) {
    parse_args(argc, argv);
    pthread_mutex_init(&sb_srv.lock, NULL);
    raise_file_limit();
    signal(SIGPIPE, SIG_IGN);
    /* SIGINT and SIGTERM stay blocked in every thread (the daemon's threads
     * inherit this mask) and main takes them with sigwait: a process-directed
     * signal handled by a worker thread would leave main waiting forever. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    if (sb_db_open(&sb_srv, sb_cfg.db, sb_cfg.seed) < 0) return 2;
    if (sb_http_start() < 0) {
        sb_db_close(&sb_srv);
        return 1;
    }
    int sig;
    while (sigwait(&stop_signals, &sig) != 0) {}
    sb_http_stop();
    sb_db_close(&sb_srv);
    sb_record_free();
    sb_fault_free();
    return 0;
}
