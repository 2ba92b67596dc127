/*
 * dram_floor.h - the machine's floor for a cold read, measured inside a benchmark's own process:
 * a dependent read of a random line of a 64 MiB buffer (one cycle through all its lines in a
 * random order, Sattolo's shuffle), n times, in ns per read. The buffer is written first, so no
 * read takes a page fault; what remains is the cache and TLB misses of random access.
 *
 * What it does not do: pick the clock (the caller passes its own, wall or CPU time) or repeat
 * the measurement (the first pass is the row's floor, as issue 11 asks).
 */
#ifndef CM_BENCH_DRAM_FLOOR_H
#define CM_BENCH_DRAM_FLOOR_H

#include <stdint.h>
#include <stdlib.h>

static inline double cm_dram_floor(long n, double (*clock_ns)(void))
{
    const size_t lines = (64u << 20) / 64;
    uint64_t *buf = malloc(lines * 64), x = 0x2545f4914f6cdd1dULL;
    uint32_t *order = malloc(lines * sizeof(*order));
    if (buf == NULL || order == NULL) {
        free(buf);
        free(order);
        return -1;
    }
    for (size_t i = 0; i < lines; i++)
        order[i] = (uint32_t)i;
    for (size_t i = lines - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i), t = order[i];
        order[i] = order[j];
        order[j] = (uint32_t)t;
    }
    for (size_t i = 0; i < lines; i++)
        buf[(size_t)order[i] * 8] = order[(i + 1) % lines];
    free(order);
    uint64_t at = 0;
    double t0 = clock_ns();
    for (long i = 0; i < n; i++)
        at = *(volatile uint64_t *)&buf[at * 8];
    t0 = (clock_ns() - t0) / (double)n;
    free(buf);
    return at == lines ? -1 : t0; /* `at` is used: the loop cannot be dropped */
}

#endif
