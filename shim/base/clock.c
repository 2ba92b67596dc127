/*
 * clock.c - choosing and calibrating the miss timer (see clock.h).
 *
 * The TSC is used only when CPUID says it is invariant (leaf 0x80000007, EDX bit 8): then it
 * ticks at a constant rate on every core, through frequency changes and idle states. The rate
 * is the ratio of elapsed ticks to elapsed CLOCK_MONOTONIC nanoseconds between two samples.
 */
#include "base.h"

#include <cpuid.h>

int cm_clock_tsc;
static uint64_t t0_ticks, t0_ns;
static double ns_per_tick = 1.0;
static int calibrated;

void cm_clock_init(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8)))
        cm_clock_tsc = 1;
    t0_ns = cm_clock_ns();
    t0_ticks = cm_ticks();
}

static double rate_now(void)
{
    if (!cm_clock_tsc)
        return 1.0;
    uint64_t ns = cm_clock_ns(), ticks = cm_ticks();
    if (ticks <= t0_ticks || ns <= t0_ns)
        return 1.0;
    return (double)(ns - t0_ns) / (double)(ticks - t0_ticks);
}

void cm_clock_calibrate(void)
{
    if (!cm_clock_tsc || calibrated)
        return;
    uint64_t until = cm_clock_ns() + 2000000;
    while (cm_clock_ns() < until)
        ;
    ns_per_tick = rate_now();
    calibrated = 1;
}

uint64_t cm_ticks_to_ns(uint64_t ticks)
{
    return (uint64_t)((double)ticks * (calibrated ? ns_per_tick : rate_now()));
}

uint64_t cm_ns_to_ticks(uint64_t ns)
{
    double r = calibrated ? ns_per_tick : rate_now();
    return r > 0 ? (uint64_t)((double)ns / r) : ns;
}
