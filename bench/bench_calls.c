/*
 * bench_calls.c - times one kind of call in a loop and prints "NAME ns_per_call".
 *
 * Usage: cmbench_calls plain|repeat|unique|lgamma|lgamma_wide N
 *   plain/repeat: bench_fn over 64 repeating arguments (run plain, with mode = off, or
 *                 memoized: then every call after the first 64 is a memory-tier hit)
 *   unique:       bench_fn on arguments that never repeat (memoized: every call a miss)
 *   lgamma:       lgamma over 1000 repeating arguments in [1.5, 1000.5] (glibc's cheap range)
 *   lgamma_wide:  lgamma over 1000 repeating arguments in [-49.95, 49.95] (negative arguments
 *                 take glibc's reflection path: ~3x the cost)
 * The result is consumed so the compiler cannot drop the calls. Timing is the best of 5 runs;
 * prints "NAME BEST FIRST": FIRST is the first run alone (with `unique` through the shared tier
 * in a fresh process, the run that also pays the first touch of every page). `unique` adds
 * three fields, "FLOOR FLOOR_2M SEG_2M": the machine's DRAM floor measured in this process
 * after the runs (a dependent read of a random line of a 64 MiB buffer, N reads, as cmbench_seg
 * --cold) in 4 KiB pages, the same in 2 MiB pages (-1 where the kernel gives none), and the kB
 * of the shared segment's mapping in 2 MiB pages (0: 4 KiB pages; the segment is found by the
 * directory of CLOUDM_SHARED_PATH), so that the first pass is compared with the floor of the
 * same page size. Before the first run, `unique` flushes the shared segment's resident pages from
 * the CPU caches (cm_flush_file, dram_floor.h), as the floor's buffer is: both are then read
 * from DRAM, whatever an earlier process left in a large last-level cache.
 * CM_BENCH_CPUTIME=1 times with the thread's CPU clock instead of CLOCK_MONOTONIC.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dram_floor.h"

double bench_fn(double x);

static clockid_t clk = CLOCK_MONOTONIC; /* CM_BENCH_CPUTIME=1: this thread's CPU time (a busy
                                          machine's preemptions left out) */

static double now(void)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The machine's floor for a cold read (dram_floor.h), timed with this program's clock. */
static double dram_floor(long n)
{
    return cm_dram_floor(n, now);
}

/* The shared segment (CLOUDM_SHARED_PATH, %u the uid) out of the CPU caches. */
static void flush_segment(void)
{
    const char *sp = getenv("CLOUDM_SHARED_PATH"), *u = sp ? strstr(sp, "%u") : NULL;
    char path[512];
    if (!sp)
        snprintf(path, sizeof(path), "/dev/shm/cloudm-%u", (unsigned)getuid());
    else if (u)
        snprintf(path, sizeof(path), "%.*s%u%s", (int)(u - sp), sp, (unsigned)getuid(), u + 2);
    else
        snprintf(path, sizeof(path), "%s", sp);
    (void)cm_flush_file(path);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *what = argv[1];
    const char *cpu = getenv("CM_BENCH_CPUTIME");
    if (cpu && cpu[0] == '1')
        clk = CLOCK_THREAD_CPUTIME_ID;
    long n = atol(argv[2]);
    double best = 1e30, first = 0, sink = 0;
    static double uniq = 1.0;
    if (!strcmp(what, "unique"))
        flush_segment();
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        if (!strcmp(what, "unique")) {
            for (long i = 0; i < n; i++)
                sink += bench_fn(uniq++);
        } else if (!strcmp(what, "lgamma")) {
            for (long i = 0; i < n; i++)
                sink += lgamma(1.5 + (double)(i % 1000));
        } else if (!strcmp(what, "lgamma_wide")) {
            for (long i = 0; i < n; i++)
                sink += lgamma(-49.95 + 0.1 * (double)(i % 1000));
        } else {
            for (long i = 0; i < n; i++)
                sink += bench_fn((double)(i & 63));
        }
        double dt = (now() - t0) / (double)n;
        if (rep == 0)
            first = dt;
        if (dt < best)
            best = dt;
    }
    if (!strcmp(what, "unique")) {
        char dir[512] = "";
        const char *sp = getenv("CLOUDM_SHARED_PATH"), *slash = sp ? strrchr(sp, '/') : NULL;
        if (slash && (size_t)(slash - sp) < sizeof(dir))
            memcpy(dir, sp, (size_t)(slash - sp)), dir[slash - sp] = 0;
        long seg2m = dir[0] ? cm_smaps_kb(NULL, dir, "ShmemPmdMapped") : -1;
        double floor4k = dram_floor(n), floor2m = cm_dram_floor_huge(n, now);
        printf("%s %.2f %.2f %.2f %.2f %ld\n", what, best, first, floor4k, floor2m, seg2m);
    } else
        printf("%s %.2f %.2f\n", what, best, first);
    fprintf(stderr, "(sink %g)\n", sink);
    return 0;
}
