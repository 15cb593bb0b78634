/* rusage: runs a command and writes what it cost, from wait4() of that child
 * only: "WALL_S USER_S SYS_S MAXRSS_KB" (microsecond resolution, where
 * /usr/bin/time rounds CPU to 10 ms), then exits with the child's status.
 *
 * Usage: rusage OUTFILE COMMAND [ARG...]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Seconds of CLOCK_MONOTONIC. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A timeval in seconds. */
static double tv(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

/* Forks, execs argv[2..], waits for it and writes its figures to argv[1]. */
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rusage OUTFILE COMMAND [ARG...]\n");
        return 2;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("rusage: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("rusage: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("rusage: wait4");
            return 2;
        }
    }
    double wall = now() - t0;
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror("rusage: output file");
        return 2;
    }
    fprintf(f, "%.6f %.6f %.6f %ld\n", wall, tv(ru.ru_utime), tv(ru.ru_stime), ru.ru_maxrss);
    if (fclose(f) != 0) {
        perror("rusage: output file");
        return 2;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
