/*
 * bench_spawn.c - runs a command N times (stdout to /dev/null) and prints the median wall time
 * in microseconds and the median CPU time (user + system, from wait4; a busy machine's other
 * processes do not count): "median_us X cpu_median_us Y". The environment is inherited, so the
 * caller decides whether libcloudm.so is preloaded.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int n = atoi(argv[1]);
    if (n < 1 || n > 10000)
        return 2;
    double *t = calloc((size_t)n, sizeof(double));
    double *cpu = calloc((size_t)n, sizeof(double));
    if (!t || !cpu)
        return 2;
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t p = fork();
        if (p == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (wait4(p, &st, 0, &ru) < 0)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 1;
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
        cpu[i] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    }
    qsort(t, (size_t)n, sizeof(double), cmp);
    qsort(cpu, (size_t)n, sizeof(double), cmp);
    printf("median_us %.1f cpu_median_us %.1f\n", t[n / 2], cpu[n / 2]);
    return 0;
}
