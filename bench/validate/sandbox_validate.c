/* The sandbox's own cost of validating a Losant body: sb_losant_validate
 * (sandbox/losant_validate.c, the library's validator over the embedded
 * schemas, what the sandbox calls for every Losant post and patch) timed in
 * a loop, with no HTTP and no Lua around it.
 *
 * usage: sandbox_validate SCHEMA BODY_FILE [RUNS]
 * prints the median, fastest and slowest of RUNS runs (default 7) in
 * nanoseconds per validation; each run lasts at least 0.2 s. */
#include "losant_schemas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Monotonic seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sandbox_validate SCHEMA BODY_FILE [RUNS]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 7;
    if (runs < 1 || runs > 101) runs = 7;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    static char body[1 << 20];
    size_t len = fread(body, 1, sizeof body, f);
    fclose(f);
    char msg[512];
    if (sb_losant_validate(argv[1], body, len, msg, sizeof msg) != 0) {
        fprintf(stderr, "the body does not validate: %s\n", msg);
        return 1;
    }
    long n = 1; /* calls per run: enough for 0.2 s */
    for (;;) {
        double t = now();
        for (long i = 0; i < n; i++) sb_losant_validate(argv[1], body, len, msg, sizeof msg);
        double took = now() - t;
        if (took >= 0.05) {
            n = (long)((double)n * 0.2 / took) + 1;
            break;
        }
        n *= 4;
    }
    double times[101];
    for (int r = 0; r < runs; r++) {
        double t = now();
        for (long i = 0; i < n; i++) sb_losant_validate(argv[1], body, len, msg, sizeof msg);
        times[r] = (now() - t) / (double)n * 1e9;
    }
    qsort(times, (size_t)runs, sizeof times[0], by_value);
    printf("%s, %zu bytes: %.0f ns per validation (median of %d; %.0f .. %.0f)\n", argv[1], len,
           times[runs / 2], runs, times[0], times[runs - 1]);
    sb_losant_schemas_free();
    return 0;
}
