/*
 * clock.c - choosing and calibrating the miss timer (see clock.h).
 *
 * The TSC is used only when CPUID says it is invariant (leaf 0x80000007, EDX bit 8, as the
 * dynamic loader read it: <sys/platform/x86.h>, no cpuid instruction here): then it
 * ticks at a constant rate on every core, through frequency changes and idle states. The rate
 * is the ratio of elapsed ticks to elapsed CLOCK_MONOTONIC nanoseconds between two samples.
 */
#include "base.h"

#include <sys/platform/x86.h>
#include <sys/syscall.h>
#include <unistd.h>

int cm_clock_mode;
int cm_sandbox;
static uint64_t t0_ticks, t0_ns;
static double ns_per_tick = 1.0;
static int calibrated;

static double rate_now(void);

void cm_clock_init(void)
{
    /* the invariant-TSC bit (cpuid 0x80000007 edx bit 8) as the dynamic loader read it at
     * start-up: no cpuid here (a trap to the hypervisor in a virtual machine, ~3 us each) */
    if (CPU_FEATURE_PRESENT(INVARIANT_TSC))
        cm_clock_mode = CM_CLOCK_TSC;
    t0_ns = cm_clock_ns();
    t0_ticks = cm_ticks();
}

uint64_t cm_clock_ns_slow(void)
{
    struct timespec ts;
    if (cm_clock_mode == CM_CLOCK_NONE || syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ticks once the TSC is off: nanoseconds in the units ticks had so far (the rate measured at
 * the switch), so durations counted before and after add up. */
uint64_t cm_ticks_slow(void)
{
    uint64_t ns = cm_clock_ns_slow();
    return ns ? (uint64_t)((double)ns / ns_per_tick) : 0;
}

void cm_clock_sandbox(int strict)
{
    int mode = strict ? CM_CLOCK_NONE : CM_CLOCK_SYSCALL;
    if (mode <= cm_clock_mode)
        return;
    if (cm_clock_mode == CM_CLOCK_TSC && !calibrated) {
        ns_per_tick = rate_now(); /* from start-up to now: the clocks still work */
        calibrated = 1;
    } else if (cm_clock_mode != CM_CLOCK_TSC) {
        ns_per_tick = 1.0; /* ticks were nanoseconds */
        calibrated = 1;
    }
    __atomic_store_n(&cm_clock_mode, mode, __ATOMIC_RELAXED);
}

static double rate_now(void)
{
    if (cm_clock_mode != CM_CLOCK_TSC)
        return 1.0;
    uint64_t ns = cm_clock_ns(), ticks = cm_ticks();
    if (ticks <= t0_ticks || ns <= t0_ns)
        return 1.0;
    return (double)(ns - t0_ns) / (double)(ticks - t0_ticks);
}

void cm_clock_calibrate(void)
{
    if (cm_clock_mode != CM_CLOCK_TSC || calibrated)
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
