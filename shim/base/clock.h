/*
 * clock.h - cheap timestamps for timing misses.
 *
 * What it does: cm_ticks() reads the invariant TSC (rdtsc, a few ns, no system call and no vDSO
 * call) when the CPU advertises one, else CLOCK_MONOTONIC nanoseconds. cm_clock_init() decides
 * which, once; cm_ticks_to_ns() converts with a rate measured between start-up and the moment of
 * the conversion (the report, at exit), so no start-up time is spent calibrating;
 * cm_clock_calibrate() measures the rate up front (about 2 ms), done only when some function
 * has a `min_time`, which must be compared against ticks while the program runs.
 *
 * What it does not do: wall-clock time, anything on the hit path.
 */
#ifndef CM_CLOCK_H
#define CM_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int cm_clock_tsc __attribute__((visibility("hidden")));

static inline uint64_t cm_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cm_ticks(void)
{
    if (cm_clock_tsc) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
    }
    return cm_clock_ns();
}

void cm_clock_init(void);
void cm_clock_calibrate(void);
uint64_t cm_ticks_to_ns(uint64_t ticks);
uint64_t cm_ns_to_ticks(uint64_t ns);

#endif
