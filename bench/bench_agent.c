/*
 * bench_agent.c - the program side of bench_agent.sh: calls bench_fn (libcmbench_fn.so, through
 * the PLT, memoized by the shim) in ways that measure the remote tier through the cloudm agent.
 *
 * What it does: `hits N` calls bench_fn(1.5) 100 + N times and prints the p50 and p99 of the last
 * N calls in microseconds (run with CLOUDM_TIERS=remote every call is a remote hit); `one` makes
 * one call and prints its result; `stores N` makes N calls with new arguments, prints
 * "exit_at NS" (CLOCK_MONOTONIC) on stdout and returns from main; `exit CMD...` runs CMD (a
 * `stores` run), reads its exit_at and prints how long the process took from there to its end,
 * in milliseconds (what the program pays at exit for the stores it queued).
 *
 * What it does not do: assert anything (numbers only; bench/ never fails on speed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_fn(double x);

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "hits") == 0) {
        long n = atol(argv[2]);
        double *t = malloc(sizeof(*t) * (size_t)n), sum = 0;
        for (long i = -100; i < n; i++) {
            double t0 = now_us();
            sum += bench_fn(1.5);
            if (i >= 0)
                t[i] = now_us() - t0;
        }
        qsort(t, (size_t)n, sizeof(*t), cmp);
        printf("p50 %.1f p99 %.1f (sum %g)\n", t[n / 2], t[n * 99 / 100], sum);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "one") == 0) {
        printf("%.6f\n", bench_fn(1.5));
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "stores") == 0) {
        long n = atol(argv[2]);
        double sum = 0;
        for (long i = 0; i < n; i++)
            sum += bench_fn((double)i + 0.25);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        printf("exit_at %lld (sum %g)\n", (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec, sum);
        fflush(stdout);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "exit") == 0) {
        int fd[2];
        if (pipe(fd) < 0)
            return 2;
        pid_t p = fork();
        if (p == 0) {
            dup2(fd[1], 1);
            close(fd[0]);
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        close(fd[1]);
        FILE *f = fdopen(fd[0], "r");
        long long at = 0;
        char line[256];
        while (fgets(line, sizeof(line), f))
            sscanf(line, "exit_at %lld", &at);
        waitpid(p, NULL, 0);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long end = (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
        printf("exit_ms %.2f\n", at ? (double)(end - at) / 1e6 : -1.0);
        return 0;
    }
    fprintf(stderr, "usage: cmbench_agent hits N | one | stores N | exit CMD...\n");
    return 2;
}
