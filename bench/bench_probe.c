/*
 * bench_probe.c - the probe benchmark's program (bench/run_probe.sh): links 30 libraries (the
 * start-up benchmark's) and calls bench_work() on a 64 KiB buffer N times, changing one byte
 * before each call so that every call has new arguments (under `cloudm probe --calls N`, every
 * call is then checked in full, rerun included). Prints "work NS_PER_CALL WALL_NS_PER_CALL":
 * the CPU time of the process (user + system) over the N calls, which other jobs on a shared
 * machine disturb less than the wall-clock time that follows it.
 *
 * Usage: cmbench_probe N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long bench_work(const unsigned char *buf, unsigned long n);
#define X(i) int start_fn##i(int);
X(0)
X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18)
    X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29)
#undef X

#define WORK (64 * 1024)

        int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200, sink = 0;
#define X(i) sink += start_fn##i(i);
    X(0)
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17)
        X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29)
#undef X
            unsigned char *buf = malloc(WORK);
    if (!buf)
        return 1;
    memset(buf, 7, WORK);
    struct timespec a, b, ca, cb;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
    for (long i = 0; i < n; i++) {
        buf[i % WORK] = (unsigned char)(i * 13 + 1);
        sink += bench_work(buf, WORK);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n;
    double cpu = ((cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec)) / (double)n;
    printf("work %.1f %.1f\n", cpu, ns);
    fprintf(stderr, "(sink %ld)\n", sink);
    free(buf);
    return 0;
}
